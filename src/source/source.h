/*
 * source.h - the git side of the pipeline: resolve a revision, read trees
 * and blobs straight from the object database.
 *
 * A repository is named by a local path (a work tree or a bare repository,
 * opened in place) or by a URL (file://, git://, http://, https://, ssh://
 * or scp-like user@host:path). A URL is fetched into a bare cache under
 * STATE/repos/ (one directory per URL, named after its SHA-256), refreshing
 * every branch and tag or only the one a revision names, and read from
 * there: there is no work tree and git is never run as a program.
 *
 * Commits and blobs are named by 40-hex-digit ids (SHA-1 repositories).
 * Paths inside the repository are normalised relative paths ("" is the top).
 */
#ifndef PLUMB_SOURCE_H
#define PLUMB_SOURCE_H

#include "util/buf.h"
#include "util/common.h"

typedef struct plumb_source plumb_source;

typedef enum {
	PLUMB_ENTRY_FILE,       /* a blob, mode 100644 */
	PLUMB_ENTRY_EXECUTABLE, /* a blob, mode 100755 */
	PLUMB_ENTRY_SYMLINK,    /* a blob holding the link target, mode 120000 */
	PLUMB_ENTRY_TREE,       /* a directory */
	PLUMB_ENTRY_SUBMODULE,  /* a gitlink: a commit of another repository */
} plumb_entry_type;

typedef struct {
	plumb_entry_type type;
	char id[PLUMB_OID_HEXSZ + 1]; /* blob, tree or commit id */
	const char *path;             /* borrowed, valid during the call that hands it out */
} plumb_source_entry;

/* --- credentials (transport.c) ------------------------------------------------------------- */

/*
 * How to reach one URL: what the caller's credentials say for it. Every
 * field may be empty. The values are read for each fetch and wiped after
 * it; none is written anywhere (not the cache's config, not a message).
 */
typedef struct {
	char *username;           /* NULL: the URL's user, else (SSH) the local user */
	plumb_buf password;       /* HTTPS: a password or token */
	plumb_buf ssh_key;        /* SSH: a private key (PEM or OpenSSH); empty: the agent, then ~/.ssh */
	plumb_buf passphrase;     /* SSH: of ssh_key, if it has one */
	char *ca_file;            /* HTTPS: trust the CAs of this file instead of the system's */
	int insecure_skip_verify; /* HTTPS: accept any certificate (a warning on every fetch) */
	int accept_new_host_keys; /* SSH: record an unknown host's key in known_hosts (trust on first use) */
	char *entry;              /* how messages name the entry these came from (its URL prefix) */
} plumb_source_access;

/* Wipe the secret values and free everything; the access is empty again. */
void plumb_source_access_release(plumb_source_access *access);

typedef enum {
	PLUMB_SOURCE_NOTICE_WARNING,        /* message: a warning (e.g. a certificate not verified) */
	PLUMB_SOURCE_NOTICE_HOST_KEY_ADDED, /* message: the known_hosts line accepted on first use */
} plumb_source_notice;

/*
 * Where a source gets the access for its URL: resolve fills *out (zeroed
 * before the call; left empty when nothing applies to url, which is then
 * fetched with no credentials) and returns 0, or a negative code with a
 * message (a Secret that cannot be read), which fails the fetch. notice (may be
 * NULL) hears what a fetch reports besides errors. The table and its
 * payload outlive every source they are given to.
 */
typedef struct {
	int (*resolve)(plumb_source_access *out, const char *url, void *payload);
	void (*notice)(plumb_source_notice kind, const char *url, const char *message, void *payload);
	void *payload;
} plumb_source_credentials;

/*
 * Fetch the source's URL with credentials (NULL: none) from now on. A host
 * key is always checked against STATE/known_hosts, then
 * ~/.ssh/known_hosts; an unknown host is refused unless the access accepts
 * new host keys, a changed key always.
 */
void plumb_source_set_credentials(plumb_source *source, const plumb_source_credentials *credentials);

/*
 * Whether the last fetch failed because the server refused the
 * credentials (its message: "authentication failed for URL (user NAME)").
 */
int plumb_source_refused(const plumb_source *source);

/* --- opening (remote.c) -------------------------------------------------------------------- */

/*
 * Open a repository. A URL is cloned (bare, no checkout) into the cache in
 * state_dir on first use and fetched on every open; a local path is opened
 * as it is and state_dir is not used. Fails with a one-line message that
 * names the repository: PLUMB_ENOTFOUND when a local path is not a
 * repository, PLUMB_ERROR when a fetch fails (unreachable, refused, ...).
 */
int plumb_source_open(plumb_source **out, const char *repo, const char *state_dir);

/* plumb_source_open, fetching with credentials (NULL: none; see plumb_source_set_credentials). */
int plumb_source_open_with(plumb_source **out, const char *repo, const char *state_dir,
			   const plumb_source_credentials *credentials);

/*
 * plumb_source_open_with for a caller that resolves one revision: when
 * revision (NULL or "": the remote's default branch) names a branch or a
 * tag of the remote, only that reference is fetched, now and on every
 * refresh; any other revision (a commit id, "main~2") fetches every branch
 * and tag. A branch the remote no longer has is dropped from the cache.
 */
int plumb_source_open_for(plumb_source **out, const char *repo, const char *state_dir,
			  const plumb_source_credentials *credentials, const char *revision);

/* Fetch only what revision names from now on, as plumb_source_open_for does. */
void plumb_source_set_revision(plumb_source *source, const char *revision);

/*
 * Whether repo is a URL that carries a password ("https://user:secret@host/"),
 * which belongs in credentials instead. When it is, *out (if out is not
 * NULL) is the URL without the password, a new string.
 */
int plumb_source_url_has_password(char **out, const char *repo);

/*
 * Open a repository without fetching: a URL's cache is opened (made empty
 * if missing) as it is, so that a daemon can keep serving the last good
 * revision while the remote is unreachable. Fetch with plumb_source_refresh.
 */
int plumb_source_open_cached(plumb_source **out, const char *repo, const char *state_dir);

/* Fetch a URL's branches and tags again, or what its revision names (a local repository: nothing to do). */
int plumb_source_refresh(plumb_source *source);

/*
 * Fetch the submodules commit names (its .gitmodules and gitlinks) into
 * caches of their own in the same state directory, with the source's
 * credentials (a relative URL is taken against the source's), and read
 * them from now on: a gitlink whose commit was fetched is a directory that
 * stat, walk and read_blob go into. PLUMB_ERROR naming the submodule when
 * it cannot be fetched or lacks the commit; nothing to do for a commit
 * without submodules. (submodule.c)
 */
int plumb_source_fetch_submodules(plumb_source *source, const char *commit);

/* --- reading (source.c) -------------------------------------------------------------------- */

/*
 * The repository as plumb records it (in plans and the store): a local path
 * made absolute, or the URL without any password.
 */
const char *plumb_source_name(const plumb_source *source);

/*
 * The git directory this source reads, absolute: a local repository's
 * (its .git, or itself when bare), or a URL's cache. Another process opens
 * it with plumb_source_open to read the same objects; borrowed, valid while
 * the source is open.
 */
const char *plumb_source_git_dir(const plumb_source *source);

/*
 * Resolve a revision to a commit id. revision is a branch, a tag (annotated
 * tags are peeled), a full or abbreviated commit id, or any expression git
 * rev-parse accepts; NULL or "" means HEAD (for a URL: the remote's default
 * branch). For a URL, branch names are looked up among the remote's
 * branches. PLUMB_ENOTFOUND with a message naming the revision and the
 * repository when it does not resolve to a commit.
 */
int plumb_source_resolve(char out[PLUMB_OID_HEXSZ + 1], plumb_source *source, const char *revision);

/*
 * The submodule (its gitlink's path) that path lies in, in commit, when
 * the source does not read it: for a message that says so. A new string,
 * or NULL.
 */
char *plumb_source_submodule_of(plumb_source *source, const char *commit, const char *path);

/* One line: the subject of a commit's message, as a new string. */
int plumb_source_commit_subject(char **out, plumb_source *source, const char *commit);

/*
 * Look up path in the tree of commit. entry->path is the path given.
 * PLUMB_ENOTFOUND when the path does not exist in that commit. The path ""
 * is the top tree.
 */
int plumb_source_stat(plumb_source_entry *entry, plumb_source *source, const char *commit, const char *path);

/*
 * Call cb for every entry below the directory dir of commit, depth first,
 * a directory before its contents, entries of one directory in git's
 * order (by name). entry->path is relative to dir. Stops and returns cb's
 * value when cb returns non-zero. PLUMB_ENOTFOUND when dir does not exist,
 * PLUMB_EINVALID when it is not a directory.
 */
typedef int (*plumb_source_walk_cb)(const plumb_source_entry *entry, void *payload);
int plumb_source_walk(plumb_source *source, const char *commit, const char *dir, plumb_source_walk_cb cb,
		      void *payload);

/*
 * What a path resolved to in a commit: what was derived from looking it up
 * (a Tree's objects, a File's blob id) still holds at another commit where
 * it resolves to the same entry.
 */
typedef struct {
	char *path;
	int found; /* 0: the path did not exist */
	plumb_entry_type type;
	char id[PLUMB_OID_HEXSZ + 1];
} plumb_source_lookup;

typedef struct {
	plumb_source_lookup *items;
	size_t count;
	size_t capacity;
} plumb_source_lookups;

/*
 * Record every path this thread looks up (plumb_source_stat, and the
 * folder of plumb_source_walk) into lookups, until called with NULL.
 */
void plumb_source_record_lookups(plumb_source_lookups *lookups);

/* Whether every lookup recorded finds the same entry (or again nothing) in commit. */
int plumb_source_lookups_hold(plumb_source *source, const char *commit, const plumb_source_lookups *lookups);

void plumb_source_lookups_release(plumb_source_lookups *lookups);

/*
 * Append the content of blob id to out. PLUMB_EINVALID if it is larger
 * than max bytes (out unchanged), PLUMB_ENOTFOUND if there is no such blob.
 */
int plumb_source_read_blob(plumb_buf *out, plumb_source *source, const char *id, size_t max);

/* The size of blob id in bytes, without reading it. */
int plumb_source_blob_size(size_t *out, plumb_source *source, const char *id);

/* --- writing: rollback commits (commit.c) -------------------------------------------------- */

/*
 * The branch that revision names, as a new string ("main"): revision is a
 * branch name, "refs/heads/NAME", or NULL/"" for the default branch (the
 * remote's for a URL, HEAD's for a local repository). PLUMB_EINVALID when
 * it names a tag or a commit: only a branch can take a new commit.
 */
int plumb_source_branch(char **out, plumb_source *source, const char *revision);

/*
 * Append one line per commit reachable from to and not from from that
 * changed path ("" for any change), newest first, at most max:
 * "SHORT_ID subject".
 */
int plumb_source_log(plumb_buf *out, plumb_source *source, const char *from, const char *to, const char *path,
		     unsigned max);

typedef struct {
	const char *branch;  /* the branch to commit on */
	const char *path;    /* what to restore ("" for the whole tree) */
	const char *target;  /* the commit whose content at path is restored */
	const char *message; /* the commit message */
	const char *author_name;
	const char *author_email;
} plumb_restore_options;

/*
 * Make (but do not publish) a commit whose tree is the branch tip's tree
 * with path as it was in target; the tip is its only parent. Sets out to
 * its id. PLUMB_EINVALID when path is already as in target. The commit can
 * be loaded and planned before plumb_source_publish makes it the branch.
 */
int plumb_source_restore_commit(char out[PLUMB_OID_HEXSZ + 1], plumb_source *source,
				const plumb_restore_options *options);

/*
 * Make commit the branch, which must still be at tip: a local repository's
 * branch moves only if it still points at tip (else PLUMB_ECONFLICT) and
 * never when it is checked out in a work tree (PLUMB_EINVALID); for a URL
 * the commit is pushed to the remote branch, which must fast-forward
 * (PLUMB_ECONFLICT when the remote moved or refused it), and the cache
 * follows.
 */
int plumb_source_publish(plumb_source *source, const char *branch, const char *commit, const char *tip);

/* The folder git runs the hooks of a work tree's repository from (core.hooksPath honoured); a new string. */
int plumb_source_hooks_dir(char **out, plumb_source *source);

/*
 * Make (but reference nowhere) a commit of what is staged in the index of a
 * work tree: the index GIT_INDEX_FILE names when set (as in a pre-commit
 * hook), else the repository's; HEAD is its parent. What is about to be
 * committed can then be checked like any commit. PLUMB_EINVALID for a
 * repository without a work tree or an index with conflicts.
 */
int plumb_source_index_commit(char out[PLUMB_OID_HEXSZ + 1], plumb_source *source);

/* --- the handle (source.c) ----------------------------------------------------------------- */

/*
 * Keep data for as long as the source is open (the loader keeps the
 * manifests it parsed from this repository): one slot, whose data is
 * released with the source by release. Replaces (releasing) what was kept.
 */
void plumb_source_attach(plumb_source *source, void *data, void (*release)(void *data));

/* What plumb_source_attach kept, or NULL. */
void *plumb_source_attached(const plumb_source *source);

void plumb_source_free(plumb_source *source);

/*
 * Set up and tear down the git library; call once per process, before and
 * after everything else in this module.
 */
int plumb_source_global_init(void);
void plumb_source_global_shutdown(void);

#endif
