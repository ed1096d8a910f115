/*
 * source_internal.h - what the source modules share: the repository
 * handle and the helpers that turn libgit2's errors and credentials into
 * plumb's. source.c reads; source_commit.c writes (rollback commits).
 * Nothing outside src/source*.c includes this.
 */
#ifndef PLUMB_SOURCE_INTERNAL_H
#define PLUMB_SOURCE_INTERNAL_H

#include <git2.h>
#include <stdbool.h>

#include "source/source.h"

#define REMOTE_NAME "origin"
#define REMOTE_BRANCHES "refs/remotes/origin/"

struct plumb_source {
	char *name;    /* as given to plumb_source_open */
	char *display; /* name with any password replaced by "***": what messages show */
	bool is_url;
	char *url;      /* the URL without its password (as stored in the cache's config), or the absolute local path */
	char *user;     /* for a URL: the user and password it carries, percent-decoded; NULL if none */
	char *password; /* kept in memory only, handed to libgit2 through the credentials callback */
	git_repository *repo;
	/* The tree of the commit looked up last: stat and walk on one commit look it up once. */
	git_oid tree_commit;
	git_tree *tree;
	void *attached; /* see plumb_source_attach */
	void (*release_attached)(void *data);
};

/* Credentials offered to libgit2, one method per call until none is left. */
struct credential_state {
	const plumb_source *source;
	int ssh_attempt;     /* the next of: agent, id_ed25519, id_rsa */
	bool password_tried; /* the URL's password is offered once; a refusal is final */
	char **rejection;    /* for a push: where the first refused reference is reported */
};

/* Our code for a libgit2 error code. */
int plumb_source_code_from_git(int git_code);

/*
 * Record "<prefix>: <libgit2's message>" with code and return code. Call it
 * right after the libgit2 call that failed: libgit2's message slot is
 * overwritten by the next call.
 */
int plumb_source_git_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* libgit2's credentials callback; payload is a struct credential_state. */
int plumb_source_acquire_credential(git_credential **out, const char *url, const char *username_from_url,
				    unsigned int allowed_types, void *payload);

/* A remote for the source's URL (name NULL: in memory), without url.*.insteadOf rewrites. */
int plumb_source_create_remote(git_remote **out, plumb_source *source, const char *name, const char *fetchspec);

/* Parse a full object id; what ("commit", "blob") goes into the message. */
int plumb_source_parse_id(git_oid *out, const char *id, const char *what);

#endif
