#include "util/common.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/hash.h"
#include "source/source.h"
#include "source/internal.h"
#include "source/remote.h"
#include "source/transport.h"

#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <git2.h>

#define REMOTE_NAME "origin"
#define FETCH_BRANCHES "+refs/heads/*:refs/remotes/origin/*"
#define FETCH_TAGS "+refs/tags/*:refs/tags/*"
#define REMOTE_HEAD "refs/remotes/origin/HEAD"

/* The length of the "scheme://" that starts repo, 0 if none. */
static size_t scheme_length(const char *repo)
{
	const char *p = repo;
	if (!isalpha((unsigned char)*p))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.')
		p++;
	return strncmp(p, "://", 3) == 0 ? (size_t)(p + 3 - repo) : 0;
}

/*
 * A URL is "scheme://..." or scp-like "user@host:path" (an '@' and then a
 * ':' before any '/'), as git itself tells them from local paths.
 */
static bool looks_like_url(const char *repo)
{
	if (scheme_length(repo))
		return true;
	const char *at = strchr(repo, '@');
	const char *colon = strchr(repo, ':');
	const char *slash = strchr(repo, '/');
	return at && at > repo && colon && at < colon && (!slash || colon < slash);
}

static char *percent_decode(const char *s, size_t len)
{
	plumb_buf out = PLUMB_BUF_INIT;
	for (size_t i = 0; i < len; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < len && (hi = plumb_hex_value(s[i + 1])) >= 0 && (lo = plumb_hex_value(s[i + 2])) >= 0) {
			plumb_buf_putc(&out, (char)(hi * 16 + lo));
			i += 2;
		} else {
			plumb_buf_putc(&out, s[i]);
		}
	}
	return plumb_buf_detach(&out, NULL);
}

/*
 * Split the user and password out of "scheme://user:password@host/...".
 * The URL kept in the cache's config and the one shown in messages never
 * hold the password: it stays in memory and reaches libgit2 only through
 * the credentials callback.
 */
static void split_url_credentials(plumb_source *source)
{
	const char *repo = source->name;
	size_t prefix_len = scheme_length(repo);
	const char *authority = repo + prefix_len;

	if (!prefix_len) {
		source->url = plumb_xstrdup(repo);
		source->display = plumb_xstrdup(repo);
		return;
	}
	size_t authority_len = strcspn(authority, "/?#");
	const char *at = NULL;
	for (const char *p = authority; p < authority + authority_len; p++)
		if (*p == '@')
			at = p; /* the last '@': an unencoded one may sit in the password */
	if (!at) {
		source->url = plumb_xstrdup(repo);
		source->display = plumb_xstrdup(repo);
		return;
	}
	size_t userinfo_len = (size_t)(at - authority);
	const char *colon = memchr(authority, ':', userinfo_len);
	size_t user_len = colon ? (size_t)(colon - authority) : userinfo_len;

	source->user = percent_decode(authority, user_len);
	if (!colon) {
		source->url = plumb_xstrdup(repo);
		source->display = plumb_xstrdup(repo);
		return;
	}
	source->password = percent_decode(colon + 1, (size_t)(at - colon - 1));
	source->url = plumb_xprintf("%.*s%.*s%s", (int)prefix_len, repo, (int)user_len, authority, at);
	source->display = plumb_xprintf("%.*s%.*s:***%s", (int)prefix_len, repo, (int)user_len, authority, at);
}

/* Point refs/remotes/origin/HEAD at the remote's default branch, or remove it when there is none. */
static int record_default_branch(plumb_source *source, const char *branch)
{
	git_reference *ref = NULL;
	char *target = NULL;
	int error = 0;

	if (!branch) {
		error = git_reference_lookup(&ref, source->repo, REMOTE_HEAD);
		if (error == GIT_ENOTFOUND) {
			error = 0;
			goto done;
		}
		if (error < 0 || (error = git_reference_delete(ref)) < 0)
			error = plumb_source_git_fail(PLUMB_ERROR, "cannot update %s in the cache of %s", REMOTE_HEAD,
					 source->display);
		goto done;
	}
	if (strncmp(branch, "refs/heads/", 11) != 0) {
		error = plumb_error_set(PLUMB_ERROR, "%s names '%s' as its default branch, which is not a branch",
					source->display, branch);
		goto done;
	}
	target = plumb_xprintf("%s%s", REMOTE_BRANCHES, branch + 11);
	if (git_reference_symbolic_create(&ref, source->repo, REMOTE_HEAD, target, 1, "plumb: default branch") < 0)
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot update %s in the cache of %s", REMOTE_HEAD, source->display);
done:
	git_reference_free(ref);
	free(target);
	return error;
}

/*
 * The cache is named after the URL, so it fetches that URL and no
 * url.*.insteadOf rewrite of it. Skipping the rewrite also avoids a leak in
 * libgit2 1.5, whose regex matching of config names loses a pcre2 match
 * block per entry that does not match (libgit2 #6382). git_remote_lookup
 * applies insteadOf unconditionally, so it is not used either.
 */
int plumb_source_create_remote(git_remote **out, plumb_source *source, const char *name, const char *fetchspec)
{
	git_remote_create_options options;

	/* The _INIT macros leave fields out, which -Wmissing-field-initializers refuses. */
	git_remote_create_options_init(&options, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	options.repository = source->repo;
	options.name = name;
	options.fetchspec = fetchspec;
	options.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	return git_remote_create_with_opts(out, source->url, &options);
}

/*
 * Make sure the cache's config names the URL as remote "origin", so that
 * the cache stays an ordinary repository that git can fetch into too.
 */
static int record_origin(plumb_source *source)
{
	git_config *config = NULL;
	git_remote *origin = NULL;
	const char *url = NULL;
	int error;

	if (git_repository_config_snapshot(&config, source->repo) < 0)
		return plumb_source_git_fail(PLUMB_ERROR, "cannot read the config of the cache of %s", source->display);
	error = git_config_get_string(&url, config, "remote." REMOTE_NAME ".url");
	if (error == GIT_ENOTFOUND) {
		error = plumb_source_create_remote(&origin, source, REMOTE_NAME, FETCH_BRANCHES);
	} else if (error == 0 && strcmp(url, source->url) != 0) {
		/* Only a cache whose config was edited by hand gets here: its directory is named after the URL. */
		error = git_remote_set_url(source->repo, REMOTE_NAME, source->url);
	}
	if (error < 0)
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot set up the cache of %s", source->display);
	git_remote_free(origin);
	git_config_free(config);
	return error;
}

static int fetch_fail(plumb_transport *transport, plumb_source *source)
{
	char *what = plumb_xprintf("cannot fetch %s", source->display);
	int error = plumb_transport_fail(transport, PLUMB_ERROR, what);
	free(what);
	return error;
}

/* Whether the remote advertises ref. */
static bool advertised(const git_remote_head **heads, size_t count, const char *ref)
{
	for (size_t i = 0; i < count; i++)
		if (!strcmp(heads[i]->name, ref))
			return true;
	return false;
}

/*
 * The one refspec that fetches what the source's revision names, when it
 * names a branch or a tag of the remote (or is the default branch); NULL:
 * fetch everything. A new string.
 */
static char *narrow_refspec(plumb_source *source, git_remote *remote, const char *default_branch)
{
	const git_remote_head **heads = NULL;
	size_t count = 0;
	const char *revision = source->revision;
	char *ref = NULL;

	if (!source->narrow || git_remote_ls(&heads, &count, remote) < 0) {
		git_error_clear();
		return NULL;
	}
	if (!revision || !*revision || !strcmp(revision, "HEAD"))
		ref = default_branch ? plumb_xstrdup(default_branch) : NULL;
	else if (!strncmp(revision, "refs/heads/", 11) || !strncmp(revision, "refs/tags/", 10))
		ref = plumb_xstrdup(revision);
	else if (!strchr(revision, '~') && !strchr(revision, '^') && !strchr(revision, ':')) {
		char *branch = plumb_xprintf("refs/heads/%s", revision);
		char *tag = plumb_xprintf("refs/tags/%s", revision);
		ref = advertised(heads, count, branch) ? branch : advertised(heads, count, tag) ? tag : NULL;
		if (ref != branch)
			free(branch);
		if (ref != tag)
			free(tag);
	}
	if (!ref || !advertised(heads, count, ref)) {
		free(ref);
		return NULL;
	}
	char *refspec = !strncmp(ref, "refs/heads/", 11) ? plumb_xprintf("+%s:%s%s", ref, REMOTE_BRANCHES, ref + 11)
							 : plumb_xprintf("+%s:%s", ref, ref);
	free(ref);
	return refspec;
}

/*
 * Fetch every branch and tag of the remote into the cache, dropping those
 * the remote no longer has; or, when the source follows one branch or tag
 * (narrow), that one only.
 */
static int fetch(plumb_source *source)
{
	git_remote *remote = NULL;
	git_buf default_branch = GIT_BUF_INIT;
	plumb_transport transport;
	git_remote_callbacks callbacks;
	git_proxy_options proxy;
	git_fetch_options options;
	char *refspec_list[] = { FETCH_BRANCHES, FETCH_TAGS };
	git_strarray refspecs = { refspec_list, PLUMB_ARRAY_SIZE(refspec_list) };
	bool have_default = false;
	int error;

	git_remote_init_callbacks(&callbacks, GIT_REMOTE_CALLBACKS_VERSION);
	git_proxy_options_init(&proxy, GIT_PROXY_OPTIONS_VERSION);
	git_fetch_options_init(&options, GIT_FETCH_OPTIONS_VERSION);

	if ((error = plumb_transport_begin(&transport, source, &callbacks)) < 0 ||
	    (error = record_origin(source)) < 0)
		goto done;
	/* An in-memory remote for the URL: the refspecs passed to the fetch below are all it follows. */
	if (plumb_source_create_remote(&remote, source, NULL, NULL) < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot set up the cache of %s", source->display);
		goto done;
	}

	/* Honour http.proxy and the *_proxy environment variables, as git does. */
	proxy.type = GIT_PROXY_AUTO;
	if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &callbacks, &proxy, NULL) < 0) {
		error = fetch_fail(&transport, source);
		goto done;
	}
	/* Only a connected remote knows its HEAD; an empty remote has none. */
	error = git_remote_default_branch(&default_branch, remote);
	if (error == 0) {
		have_default = true;
	} else if (error != GIT_ENOTFOUND) {
		error = fetch_fail(&transport, source);
		goto done;
	}

	char *narrow = narrow_refspec(source, remote, have_default ? default_branch.ptr : NULL);
	if (narrow) {
		refspec_list[0] = narrow;
		refspecs.count = 1;
	}
	options.callbacks = callbacks;
	options.proxy_opts = proxy;
	options.prune = GIT_FETCH_PRUNE;
	options.update_fetchhead = 0;
	/* The tags refspec fetches every tag already; no automatic tag following on top. */
	options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	error = git_remote_fetch(remote, &refspecs, &options, "plumb: fetch");
	free(narrow);
	if (error < 0) {
		error = fetch_fail(&transport, source);
		goto done;
	}
	error = record_default_branch(source, have_default ? default_branch.ptr : NULL);
done:
	git_buf_dispose(&default_branch);
	git_remote_free(remote);
	plumb_transport_end(&transport);
	return error;
}

/* Open or create the bare cache of a URL in STATE/repos/ and fetch into it. */
static int open_cache(plumb_source *source, const char *state_dir, int fetch_now)
{
	git_reference *head = NULL;
	char *repos_dir = NULL;
	char *cache_dir = NULL;
	char digest[65];
	int error;

	if (!state_dir || !*state_dir) {
		error = plumb_error_set(PLUMB_EINVALID, "cannot fetch %s: no state directory for the cache",
					source->display);
		goto done;
	}
	repos_dir = plumb_xprintf("%s/repos", state_dir);
	if ((error = plumb_fs_make_directories(repos_dir, 0700)) < 0)
		goto done;
	/* Keyed by the URL without its password: the same repository whatever the credentials. */
	plumb_hash_sha256_hex(digest, source->url, strlen(source->url));
	cache_dir = plumb_xprintf("%s/%s.git", repos_dir, digest);

	error = git_repository_open_bare(&source->repo, cache_dir);
	if (error == GIT_ENOTFOUND) {
		if (git_repository_init(&source->repo, cache_dir, 1) < 0) {
			error = plumb_source_git_fail(PLUMB_ERROR, "cannot create the cache of %s in %s", source->display,
					 cache_dir);
			goto done;
		}
		/*
		 * HEAD follows the remote's default branch, so that revisions
		 * like "HEAD~1" mean in the cache what they mean upstream.
		 */
		if (git_reference_symbolic_create(&head, source->repo, "HEAD", REMOTE_HEAD, 1, NULL) < 0) {
			error = plumb_source_git_fail(PLUMB_ERROR, "cannot create the cache of %s in %s", source->display,
					 cache_dir);
			goto done;
		}
	} else if (error < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot open the cache of %s in %s", source->display, cache_dir);
		goto done;
	}
	error = fetch_now ? fetch(source) : 0;
done:
	git_reference_free(head);
	free(repos_dir);
	free(cache_dir);
	return error;
}

static int open_source(plumb_source **out, const char *repo, const char *state_dir, int fetch_now,
		       const plumb_source_credentials *credentials);

int plumb_source_open(plumb_source **out, const char *repo, const char *state_dir)
{
	return open_source(out, repo, state_dir, 1, NULL);
}

int plumb_source_open_with(plumb_source **out, const char *repo, const char *state_dir,
			   const plumb_source_credentials *credentials)
{
	return open_source(out, repo, state_dir, 1, credentials);
}

int plumb_source_open_for(plumb_source **out, const char *repo, const char *state_dir,
			  const plumb_source_credentials *credentials, const char *revision)
{
	plumb_source *source = NULL;
	int error = open_source(&source, repo, state_dir, 0, credentials);
	if (error == 0) {
		plumb_source_set_revision(source, revision);
		if (source->is_url && (error = fetch(source)) < 0) {
			plumb_source_free(source);
			source = NULL;
		}
	}
	*out = source;
	return error;
}

void plumb_source_set_revision(plumb_source *source, const char *revision)
{
	free(source->revision);
	source->revision = revision && *revision ? plumb_xstrdup(revision) : NULL;
	source->narrow = true;
}

int plumb_source_open_cached(plumb_source **out, const char *repo, const char *state_dir)
{
	return open_source(out, repo, state_dir, 0, NULL);
}

int plumb_source_url_has_password(char **out, const char *repo)
{
	plumb_source probe;
	int has = 0;

	if (out)
		*out = NULL;
	if (!scheme_length(repo))
		return 0;
	memset(&probe, 0, sizeof(probe));
	probe.name = (char *)repo;
	split_url_credentials(&probe);
	has = probe.password != NULL;
	if (has && out)
		*out = plumb_xstrdup(probe.url);
	if (probe.password)
		explicit_bzero(probe.password, strlen(probe.password));
	free(probe.password);
	free(probe.user);
	free(probe.url);
	free(probe.display);
	return has;
}

int plumb_source_refresh(plumb_source *source)
{
	/* The tree looked up last may be of a commit the fetch pruned: look it up again. */
	git_tree_free(source->tree);
	source->tree = NULL;
	return source->is_url ? fetch(source) : 0;
}

static int open_source(plumb_source **out, const char *repo, const char *state_dir, int fetch_now,
		       const plumb_source_credentials *credentials)
{
	plumb_source *source = plumb_xcalloc(1, sizeof(*source));
	int error = 0;

	*out = NULL;
	source->name = plumb_xstrdup(repo);
	source->is_url = looks_like_url(repo);
	source->credentials = credentials;
	if (source->is_url) {
		split_url_credentials(source);
		source->state_dir = state_dir && *state_dir ? plumb_xstrdup(state_dir) : NULL;
		if ((error = open_cache(source, state_dir, fetch_now)) < 0)
			goto done;
	} else {
		/* Absolute, so that what is recorded (plans, the store) means the same from any directory. */
		char *absolute = realpath(repo, NULL);
		source->url = absolute ? absolute : plumb_xstrdup(repo);
		source->display = plumb_xstrdup(repo);
		/* Opened as it is: a directory inside a work tree does not stand for the repository around it. */
		error = git_repository_open_ext(&source->repo, repo, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
		if (error == GIT_ENOTFOUND) {
			error = plumb_error_set(PLUMB_ENOTFOUND, "%s is not a git repository", repo);
			goto done;
		}
		if (error < 0) {
			error = plumb_source_git_fail(PLUMB_ERROR, "cannot open repository %s", repo);
			goto done;
		}
	}
	*out = source;
	source = NULL;
done:
	plumb_source_free(source);
	return error;
}
