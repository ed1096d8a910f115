/*
 * internal.h - what the files of src/source share: the repository handle,
 * the layout of a URL's cache, and the helpers that turn libgit2's errors
 * into plumb's. source.c reads, remote.c opens and fetches, commit.c
 * writes (rollback commits). Nothing outside src/source/ includes this.
 */
#ifndef PLUMB_SOURCE_INTERNAL_H
#define PLUMB_SOURCE_INTERNAL_H

#include <git2.h>
#include <stdbool.h>

#include "source/source.h"

/* Where the cache of a URL keeps the remote's branches: it has no local ones. */
#define REMOTE_BRANCHES "refs/remotes/origin/"

struct plumb_source {
	char *name;    /* as given to plumb_source_open */
	char *display; /* name with any password replaced by "***": what messages show */
	bool is_url;
	char *url;      /* the URL without its password (as stored in the cache's config), or the absolute local path */
	char *user;     /* for a URL: the user and password it carries, percent-decoded; NULL if none */
	char *password; /* kept in memory only, handed to libgit2 through the credentials callback */
	char *state_dir; /* for a URL: where its cache and STATE/known_hosts are; NULL for a local path */
	const plumb_source_credentials *credentials; /* borrowed; NULL: none */
	bool refused;    /* the last transfer failed on refused credentials */
	bool narrow;     /* fetch only what revision names (plumb_source_set_revision) */
	char *revision;  /* NULL: the default branch */
	/* Submodules fetched (plumb_source_fetch_submodules): their objects are alternates of repo's. */
	plumb_source **submodules;
	size_t submodule_count;
	size_t submodule_capacity;
	git_repository *repo;
	/* The tree of the commit looked up last: stat and walk on one commit look it up once. */
	git_oid tree_commit;
	git_tree *tree;
	void *attached; /* see plumb_source_attach */
	void (*release_attached)(void *data);
};

/* Our code for a libgit2 error code. */
int plumb_source_code_from_git(int git_code);

/*
 * Record "<prefix>: <libgit2's message>" with code and return code. Call it
 * right after the libgit2 call that failed: libgit2's message slot is
 * overwritten by the next call.
 */
int plumb_source_git_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parse a full object id; what ("commit", "blob") goes into the message. */
int plumb_source_parse_id(git_oid *out, const char *id, const char *what);

#endif
