#include "util/common.h"
#include "util/fs.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/path.h"
#include "source/source.h"
#include "source/internal.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>

/* Trees nest at most this deep below the directory a walk starts from: input is never recursed without bound. */
#define MAX_TREE_DEPTH 256

#define FETCH_BRANCHES "+refs/heads/*:refs/remotes/origin/*"
#define FETCH_TAGS "+refs/tags/*:refs/tags/*"
#define REMOTE_HEAD "refs/remotes/origin/HEAD"

/* Our code for a libgit2 error code. */
int plumb_source_code_from_git(int git_code)
{
	switch (git_code) {
	case GIT_ENOTFOUND:
		return PLUMB_ENOTFOUND;
	case GIT_EINVALIDSPEC:
	case GIT_EAMBIGUOUS:
	case GIT_EINVALID:
		return PLUMB_EINVALID;
	case GIT_ELOCKED:
		return PLUMB_ELOCKED;
	default:
		return PLUMB_ERROR;
	}
}

/*
 * Record "<prefix>: <libgit2's message>" with code and return code. Call it
 * right after the libgit2 call that failed: libgit2's message slot is
 * overwritten by the next call. The message is folded onto one line (remote
 * servers send multi-line text).
 */
int plumb_source_git_fail(int code, const char *fmt, ...)
{
	plumb_buf msg = PLUMB_BUF_INIT;
	const git_error *last = git_error_last();
	va_list ap;

	va_start(ap, fmt);
	plumb_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (last && last->message && *last->message) {
		plumb_buf_puts(&msg, ": ");
		size_t start = msg.len;
		plumb_buf_puts(&msg, last->message);
		for (size_t i = start; i < msg.len; i++)
			if (msg.ptr[i] == '\n' || msg.ptr[i] == '\r')
				msg.ptr[i] = ' ';
		while (msg.len > start && msg.ptr[msg.len - 1] == ' ')
			plumb_buf_truncate(&msg, msg.len - 1);
	}
	plumb_error_set(code, "%s", msg.ptr);
	plumb_buf_release(&msg);
	return code;
}

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

const char *plumb_source_name(const plumb_source *source)
{
	return source->url;
}

/*
 * The object the reference prefix + revision points to, tags peeled; *out
 * stays NULL when there is no such reference (or it dangles).
 */
static int lookup_reference(git_object **out, plumb_source *source, const char *prefix, const char *revision)
{
	git_reference *ref = NULL;
	char *name = plumb_xprintf("%s%s", prefix, revision);
	int error;

	*out = NULL;
	error = git_reference_lookup(&ref, source->repo, name);
	if (error == 0)
		error = git_reference_peel(out, ref, GIT_OBJECT_ANY);
	if (error == GIT_ENOTFOUND || error == GIT_EINVALIDSPEC)
		error = 0;
	else if (error < 0)
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot read reference %s in %s", name, source->display);
	git_reference_free(ref);
	free(name);
	return error;
}

int plumb_source_resolve(char out[PLUMB_OID_HEXSZ + 1], plumb_source *source, const char *revision)
{
	static const char *const url_prefixes[] = { REMOTE_BRANCHES, "refs/tags/" };
	git_object *object = NULL;
	git_object *commit = NULL;
	int error;

	out[0] = '\0';
	if (!revision || !*revision)
		revision = "HEAD";
	/* A cache has no local branches: refs/heads/NAME is the remote's branch NAME. */
	if (source->is_url && !strncmp(revision, "refs/heads/", 11))
		revision += 11;
	/* A cache has no local branches: a branch name means the remote's branch, a tag name the fetched tag. */
	for (size_t i = 0; source->is_url && !object && i < PLUMB_ARRAY_SIZE(url_prefixes); i++)
		if ((error = lookup_reference(&object, source, url_prefixes[i], revision)) < 0)
			goto done;
	if (!object) {
		error = git_revparse_single(&object, source->repo, revision);
		if (error == GIT_ENOTFOUND || error == GIT_EINVALIDSPEC) {
			error = plumb_error_set(PLUMB_ENOTFOUND, "revision '%s' not found in %s", revision,
						source->display);
			goto done;
		}
		if (error == GIT_EAMBIGUOUS) {
			error = plumb_source_git_fail(PLUMB_EINVALID, "revision '%s' is ambiguous in %s", revision, source->display);
			goto done;
		}
		if (error < 0) {
			error = plumb_source_git_fail(PLUMB_ERROR, "cannot resolve revision '%s' in %s", revision, source->display);
			goto done;
		}
	}
	error = git_object_peel(&commit, object, GIT_OBJECT_COMMIT);
	if (error == GIT_EINVALIDSPEC || error == GIT_EPEEL || error == GIT_ENOTFOUND) {
		error = plumb_error_set(PLUMB_EINVALID, "revision '%s' in %s is a %s, not a commit", revision,
					source->display, git_object_type2string(git_object_type(object)));
		goto done;
	}
	if (error < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot resolve revision '%s' in %s", revision, source->display);
		goto done;
	}
	git_oid_tostr(out, PLUMB_OID_HEXSZ + 1, git_object_id(commit));
done:
	git_object_free(commit);
	git_object_free(object);
	return error;
}

/* Parse a full object id; what ("commit", "blob") goes into the message. */
int plumb_source_parse_id(git_oid *out, const char *id, const char *what)
{
	size_t len = strlen(id);
	bool hex = len == PLUMB_OID_HEXSZ;
	for (size_t i = 0; hex && i < len; i++)
		hex = isxdigit((unsigned char)id[i]) != 0;
	if (!hex || git_oid_fromstr(out, id) < 0)
		return plumb_error_set(PLUMB_EINVALID, "'%s' is not a %s id (40 hex digits)", id, what);
	return 0;
}

int plumb_source_commit_subject(char **out, plumb_source *source, const char *commit)
{
	git_commit *object = NULL;
	git_oid oid;
	int error;

	*out = NULL;
	if ((error = plumb_source_parse_id(&oid, commit, "commit")) < 0)
		return error;
	if ((error = git_commit_lookup(&object, source->repo, &oid)) < 0) {
		error = plumb_source_git_fail(plumb_source_code_from_git(error), "commit %s not found in %s", commit, source->display);
		goto done;
	}
	const char *summary = git_commit_summary(object);
	if (!summary) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot read the message of commit %s in %s", commit, source->display);
		goto done;
	}
	*out = plumb_xstrdup(summary);
done:
	git_commit_free(object);
	return error;
}

/* The tree of commit, borrowed from source: valid until the next lookup of another commit. */
static int commit_tree(git_tree **out, plumb_source *source, const char *commit)
{
	git_commit *object = NULL;
	git_tree *tree = NULL;
	git_oid oid;
	int error;

	*out = NULL;
	if ((error = plumb_source_parse_id(&oid, commit, "commit")) < 0)
		return error;
	if (source->tree && git_oid_equal(&oid, &source->tree_commit)) {
		*out = source->tree;
		return 0;
	}
	if ((error = git_commit_lookup(&object, source->repo, &oid)) < 0) {
		error = plumb_source_git_fail(plumb_source_code_from_git(error), "commit %s not found in %s", commit, source->display);
		goto done;
	}
	if ((error = git_commit_tree(&tree, object)) < 0) {
		error = plumb_source_git_fail(plumb_source_code_from_git(error), "cannot read the tree of commit %s in %s", commit,
				 source->display);
		goto done;
	}
	git_tree_free(source->tree);
	source->tree = tree;
	git_oid_cpy(&source->tree_commit, &oid);
	*out = tree;
done:
	git_commit_free(object);
	return error;
}

static bool entry_type_from_mode(plumb_entry_type *out, git_filemode_t mode)
{
	switch (mode) {
	case GIT_FILEMODE_BLOB: /* libgit2 reads the 100664 of old trees as this */
		*out = PLUMB_ENTRY_FILE;
		return true;
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		*out = PLUMB_ENTRY_EXECUTABLE;
		return true;
	case GIT_FILEMODE_LINK:
		*out = PLUMB_ENTRY_SYMLINK;
		return true;
	case GIT_FILEMODE_TREE:
		*out = PLUMB_ENTRY_TREE;
		return true;
	case GIT_FILEMODE_COMMIT:
		*out = PLUMB_ENTRY_SUBMODULE;
		return true;
	default:
		return false;
	}
}

/*
 * Look up a normalised path in the tree of commit. For "" the top tree
 * itself is described and *tree_entry stays NULL; otherwise the caller
 * frees *tree_entry.
 */
static int find_path(plumb_source_entry *entry, git_tree_entry **tree_entry, plumb_source *source,
		     const char *commit, const char *path)
{
	git_tree *tree = NULL;
	int error;

	*tree_entry = NULL;
	if ((error = commit_tree(&tree, source, commit)) < 0)
		return error;
	if (!*path) {
		entry->type = PLUMB_ENTRY_TREE;
		git_oid_tostr(entry->id, sizeof(entry->id), git_tree_id(tree));
		return 0;
	}
	error = git_tree_entry_bypath(tree_entry, tree, path);
	if (error == GIT_ENOTFOUND)
		return plumb_error_set(PLUMB_ENOTFOUND, "'%s' does not exist in commit %.12s of %s", path, commit,
				       source->display);
	if (error < 0)
		return plumb_source_git_fail(plumb_source_code_from_git(error), "cannot look up '%s' in commit %.12s of %s", path, commit,
				source->display);
	if (!entry_type_from_mode(&entry->type, git_tree_entry_filemode(*tree_entry)))
		return plumb_error_set(PLUMB_EINVALID, "'%s' in commit %.12s of %s has unknown mode %06o", path, commit,
				       source->display, (unsigned)git_tree_entry_filemode_raw(*tree_entry));
	git_oid_tostr(entry->id, sizeof(entry->id), git_tree_entry_id(*tree_entry));
	return 0;
}

/* Where this thread records the paths it looks up (plumb_source_record_lookups), or NULL. */
static _Thread_local plumb_source_lookups *recording;

void plumb_source_record_lookups(plumb_source_lookups *lookups)
{
	recording = lookups;
}

void plumb_source_lookups_release(plumb_source_lookups *lookups)
{
	for (size_t i = 0; i < lookups->count; i++)
		free(lookups->items[i].path);
	free(lookups->items);
	memset(lookups, 0, sizeof(*lookups));
}

/* find_path, recorded when this thread records: a missing path is as much a fact as a found one. */
static int lookup_path(plumb_source_entry *entry, git_tree_entry **tree_entry, plumb_source *source,
		       const char *commit, const char *path)
{
	int error = find_path(entry, tree_entry, source, commit, path);
	if (recording && (error == 0 || error == PLUMB_ENOTFOUND)) {
		PLUMB_GROW(recording->items, recording->count, recording->capacity);
		plumb_source_lookup *lookup = &recording->items[recording->count++];
		memset(lookup, 0, sizeof(*lookup));
		lookup->path = plumb_xstrdup(path);
		lookup->found = error == 0;
		lookup->type = entry->type;
		if (lookup->found)
			memcpy(lookup->id, entry->id, sizeof(lookup->id));
	}
	return error;
}

int plumb_source_lookups_hold(plumb_source *source, const char *commit, const plumb_source_lookups *lookups)
{
	for (size_t i = 0; i < lookups->count; i++) {
		const plumb_source_lookup *lookup = &lookups->items[i];
		plumb_source_entry entry;
		git_tree_entry *tree_entry = NULL;
		memset(&entry, 0, sizeof(entry));
		int error = find_path(&entry, &tree_entry, source, commit, lookup->path);
		git_tree_entry_free(tree_entry);
		if (error == PLUMB_ENOTFOUND ? lookup->found
					     : error < 0 || !lookup->found || entry.type != lookup->type ||
						       strcmp(entry.id, lookup->id) != 0)
			return 0;
	}
	return 1;
}

/* "" stays the top; anything else is normalised, so "./a//b/" finds "a/b". */
static int normalize_path(char **out, const char *path)
{
	if (!*path) {
		*out = plumb_xstrdup("");
		return 0;
	}
	return plumb_path_normalize(out, path, 0);
}

int plumb_source_stat(plumb_source_entry *entry, plumb_source *source, const char *commit, const char *path)
{
	git_tree_entry *tree_entry = NULL;
	char *normalized = NULL;
	int error;

	memset(entry, 0, sizeof(*entry));
	entry->path = path;
	if ((error = normalize_path(&normalized, path)) < 0)
		goto done;
	error = lookup_path(entry, &tree_entry, source, commit, normalized);
done:
	git_tree_entry_free(tree_entry);
	free(normalized);
	return error;
}

struct walk {
	plumb_source *source;
	const char *commit;
	const char *dir;
	plumb_buf path; /* relative to dir */
	plumb_source_walk_cb cb;
	void *payload;
};

/* Entries of tree lie depth levels below the walk's directory. */
static int walk_tree(struct walk *walk, const git_tree *tree, unsigned depth)
{
	if (depth > MAX_TREE_DEPTH)
		return plumb_error_set(PLUMB_EINVALID,
				       "directories below '%s' in commit %.12s of %s nest more than %d deep",
				       *walk->dir ? walk->dir : ".", walk->commit, walk->source->display,
				       MAX_TREE_DEPTH);

	size_t count = git_tree_entrycount(tree);
	for (size_t i = 0; i < count; i++) {
		const git_tree_entry *tree_entry = git_tree_entry_byindex(tree, i);
		size_t mark = walk->path.len;
		plumb_source_entry entry;
		int error;

		const char *name = git_tree_entry_name(tree_entry);
		/* git never writes such names, but a crafted tree can hold them: a path must not climb out. */
		if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
			return plumb_error_set(PLUMB_EINVALID,
					       "a tree below '%s%s%s' in commit %.12s of %s has an entry named '%s', "
					       "which is not a valid file name",
					       *walk->dir ? walk->dir : ".", mark ? "/" : "", mark ? walk->path.ptr : "",
					       walk->commit, walk->source->display, name);
		if (mark)
			plumb_buf_putc(&walk->path, '/');
		plumb_buf_puts(&walk->path, name);
		if (!entry_type_from_mode(&entry.type, git_tree_entry_filemode(tree_entry)))
			return plumb_error_set(PLUMB_EINVALID,
					       "'%s' below '%s' in commit %.12s of %s has unknown mode %06o",
					       walk->path.ptr, *walk->dir ? walk->dir : ".", walk->commit,
					       walk->source->display,
					       (unsigned)git_tree_entry_filemode_raw(tree_entry));
		git_oid_tostr(entry.id, sizeof(entry.id), git_tree_entry_id(tree_entry));
		entry.path = walk->path.ptr;
		if ((error = walk->cb(&entry, walk->payload)) != 0)
			return error;

		if (entry.type == PLUMB_ENTRY_TREE) {
			git_tree *subtree = NULL;
			if (git_tree_lookup(&subtree, walk->source->repo, git_tree_entry_id(tree_entry)) < 0)
				return plumb_source_git_fail(PLUMB_ERROR, "cannot read tree '%s' below '%s' in commit %.12s of %s",
						walk->path.ptr, *walk->dir ? walk->dir : ".", walk->commit,
						walk->source->display);
			error = walk_tree(walk, subtree, depth + 1);
			git_tree_free(subtree);
			if (error != 0)
				return error;
		}
		plumb_buf_truncate(&walk->path, mark);
	}
	return 0;
}

int plumb_source_walk(plumb_source *source, const char *commit, const char *dir, plumb_source_walk_cb cb,
		      void *payload)
{
	struct walk walk = { .source = source, .commit = commit, .dir = dir, .path = PLUMB_BUF_INIT, .cb = cb,
			     .payload = payload };
	plumb_source_entry entry = { 0 };
	git_tree_entry *tree_entry = NULL;
	git_tree *tree = NULL;
	char *normalized = NULL;
	git_oid oid;
	int error;

	if ((error = normalize_path(&normalized, dir)) < 0)
		goto done;
	if ((error = lookup_path(&entry, &tree_entry, source, commit, normalized)) < 0)
		goto done;
	if (entry.type != PLUMB_ENTRY_TREE) {
		error = plumb_error_set(PLUMB_EINVALID, "'%s' in commit %.12s of %s is not a directory", dir, commit,
					source->display);
		goto done;
	}
	/*
	 * A tree of our own rather than the cached one: cb may stat another
	 * commit, which replaces the cache while this walk still reads it.
	 */
	git_oid_fromstr(&oid, entry.id);
	if (git_tree_lookup(&tree, source->repo, &oid) < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot read tree '%s' in commit %.12s of %s", dir, commit,
				 source->display);
		goto done;
	}
	error = walk_tree(&walk, tree, 1);
done:
	git_tree_free(tree);
	git_tree_entry_free(tree_entry);
	free(normalized);
	plumb_buf_release(&walk.path);
	return error;
}

/* The size of blob id from the object header alone: a huge blob is refused before it is loaded. */
static int blob_header(size_t *size, git_oid *oid, plumb_source *source, const char *id)
{
	git_odb *odb = NULL;
	git_object_t type;
	int error;

	if ((error = plumb_source_parse_id(oid, id, "blob")) < 0)
		return error;
	if (git_repository_odb(&odb, source->repo) < 0)
		return plumb_source_git_fail(PLUMB_ERROR, "cannot open the object database of %s", source->display);
	error = git_odb_read_header(size, &type, odb, oid);
	if (error == GIT_ENOTFOUND) {
		error = plumb_error_set(PLUMB_ENOTFOUND, "blob %s not found in %s", id, source->display);
		goto done;
	}
	if (error < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot read blob %s in %s", id, source->display);
		goto done;
	}
	if (type != GIT_OBJECT_BLOB)
		error = plumb_error_set(PLUMB_ENOTFOUND, "%s in %s is a %s, not a blob", id, source->display,
					git_object_type2string(type));
done:
	git_odb_free(odb);
	return error;
}

int plumb_source_read_blob(plumb_buf *out, plumb_source *source, const char *id, size_t max)
{
	git_blob *blob = NULL;
	git_oid oid;
	size_t size;
	int error;

	if ((error = blob_header(&size, &oid, source, id)) < 0)
		return error;
	if (size > max)
		return plumb_error_set(PLUMB_EINVALID, "blob %s in %s is %zu bytes, more than the limit of %zu", id,
				       source->display, size, max);
	if (git_blob_lookup(&blob, source->repo, &oid) < 0)
		return plumb_source_git_fail(PLUMB_ERROR, "cannot read blob %s in %s", id, source->display);
	if (size)
		plumb_buf_add(out, git_blob_rawcontent(blob), size);
	git_blob_free(blob);
	return 0;
}

int plumb_source_blob_size(size_t *out, plumb_source *source, const char *id)
{
	git_oid oid;
	size_t size = 0;
	int error = blob_header(&size, &oid, source, id);
	*out = error < 0 ? 0 : size;
	return error;
}

void plumb_source_attach(plumb_source *source, void *data, void (*release)(void *data))
{
	if (source->attached && source->release_attached)
		source->release_attached(source->attached);
	source->attached = data;
	source->release_attached = release;
}

void *plumb_source_attached(const plumb_source *source)
{
	return source->attached;
}

void plumb_source_free(plumb_source *source)
{
	if (!source)
		return;
	plumb_source_attach(source, NULL, NULL);
	git_tree_free(source->tree);
	git_repository_free(source->repo);
	if (source->password)
		explicit_bzero(source->password, strlen(source->password));
	free(source->password);
	free(source->user);
	free(source->url);
	free(source->display);
	free(source->name);
	free(source);
}

int plumb_source_global_init(void)
{
	if (git_libgit2_init() < 0)
		return plumb_source_git_fail(PLUMB_ERROR, "cannot initialise libgit2");
	return 0;
}

void plumb_source_global_shutdown(void)
{
	git_libgit2_shutdown();
}
