#include "util/common.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/hash.h"
#include "source/source.h"
#include "source/internal.h"
#include "source/remote.h"

#include <ctype.h>
#include <limits.h>
#include <pwd.h>
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

static const char *local_user(void)
{
	const struct passwd *pw = getpwuid(geteuid());
	return pw && pw->pw_name ? pw->pw_name : "git";
}

static const char *home_directory(void)
{
	const char *home = getenv("HOME");
	if (home && *home)
		return home;
	const struct passwd *pw = getpwuid(geteuid());
	return pw && pw->pw_dir ? pw->pw_dir : NULL;
}

/*
 * libgit2 calls this again after each refused credential, so the state
 * moves on to the next method every call and ends with an error instead
 * of offering the same key forever.
 */
int plumb_source_acquire_credential(git_credential **out, const char *url, const char *username_from_url,
			      unsigned int allowed_types, void *payload)
{
	struct credential_state *state = payload;
	const char *user = username_from_url && *username_from_url ? username_from_url : state->source->user;
	if (!user || !*user)
		user = local_user();

	if (allowed_types & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user);

	if (allowed_types & GIT_CREDENTIAL_SSH_KEY) {
		static const char *const keys[] = { "id_ed25519", "id_rsa" };
		const char *home = home_directory();
		while (state->ssh_attempt < 1 + (int)PLUMB_ARRAY_SIZE(keys)) {
			int attempt = state->ssh_attempt++;
			if (attempt == 0) {
				if (getenv("SSH_AUTH_SOCK"))
					return git_credential_ssh_key_from_agent(out, user);
				continue;
			}
			if (!home)
				continue;
			char private_key[PATH_MAX], public_key[PATH_MAX];
			int n = snprintf(private_key, sizeof(private_key), "%s/.ssh/%s", home, keys[attempt - 1]);
			if (n < 0 || n >= (int)sizeof(private_key) || access(private_key, R_OK) != 0)
				continue;
			n = snprintf(public_key, sizeof(public_key), "%s.pub", private_key);
			bool have_public = n > 0 && n < (int)sizeof(public_key) && access(public_key, R_OK) == 0;
			return git_credential_ssh_key_new(out, user, have_public ? public_key : NULL, private_key,
							  NULL);
		}
		git_error_set_str(GIT_ERROR_SSH,
				  "no ssh key was accepted (tried the ssh agent, ~/.ssh/id_ed25519 and ~/.ssh/id_rsa)");
		return GIT_EAUTH;
	}

	if ((allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && state->source->password && !state->password_tried) {
		state->password_tried = true;
		return git_credential_userpass_plaintext_new(out, user, state->source->password);
	}
	git_error_set_str(GIT_ERROR_NET, state->source->password
						 ? "the server refused the credentials in the URL"
						 : "the server asks for credentials and the URL has none");
	return GIT_EAUTH;
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

/* Fetch every branch and tag of the remote into the cache, dropping those the remote no longer has. */
static int fetch(plumb_source *source)
{
	git_remote *remote = NULL;
	git_buf default_branch = GIT_BUF_INIT;
	struct credential_state credentials = { .source = source };
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

	if ((error = record_origin(source)) < 0)
		goto done;
	/* An in-memory remote for the URL: the refspecs passed to the fetch below are all it follows. */
	if (plumb_source_create_remote(&remote, source, NULL, NULL) < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot set up the cache of %s", source->display);
		goto done;
	}

	callbacks.credentials = plumb_source_acquire_credential;
	callbacks.payload = &credentials;
	/* Honour http.proxy and the *_proxy environment variables, as git does. */
	proxy.type = GIT_PROXY_AUTO;
	if (git_remote_connect(remote, GIT_DIRECTION_FETCH, &callbacks, &proxy, NULL) < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot fetch %s", source->display);
		goto done;
	}
	/* Only a connected remote knows its HEAD; an empty remote has none. */
	error = git_remote_default_branch(&default_branch, remote);
	if (error == 0) {
		have_default = true;
	} else if (error != GIT_ENOTFOUND) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot fetch %s", source->display);
		goto done;
	}

	options.callbacks = callbacks;
	options.proxy_opts = proxy;
	options.prune = GIT_FETCH_PRUNE;
	options.update_fetchhead = 0;
	/* The tags refspec fetches every tag already; no automatic tag following on top. */
	options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	if (git_remote_fetch(remote, &refspecs, &options, "plumb: fetch") < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot fetch %s", source->display);
		goto done;
	}
	error = record_default_branch(source, have_default ? default_branch.ptr : NULL);
done:
	git_buf_dispose(&default_branch);
	git_remote_free(remote);
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

static int open_source(plumb_source **out, const char *repo, const char *state_dir, int fetch_now);

int plumb_source_open(plumb_source **out, const char *repo, const char *state_dir)
{
	return open_source(out, repo, state_dir, 1);
}

int plumb_source_open_cached(plumb_source **out, const char *repo, const char *state_dir)
{
	return open_source(out, repo, state_dir, 0);
}

int plumb_source_refresh(plumb_source *source)
{
	/* The tree looked up last may be of a commit the fetch pruned: look it up again. */
	git_tree_free(source->tree);
	source->tree = NULL;
	return source->is_url ? fetch(source) : 0;
}

static int open_source(plumb_source **out, const char *repo, const char *state_dir, int fetch_now)
{
	plumb_source *source = plumb_xcalloc(1, sizeof(*source));
	int error = 0;

	*out = NULL;
	source->name = plumb_xstrdup(repo);
	source->is_url = looks_like_url(repo);
	if (source->is_url) {
		split_url_credentials(source);
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
