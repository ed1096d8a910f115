/*
 * tokens.h - the API tokens of plumb serve.
 *
 * The tokens file holds one token a line, "NAME ROLE SHA256HEX": NAME says
 * whose token it is (audit records and the 403 message use it), ROLE is
 * viewer, operator or admin, and SHA256HEX is the SHA-256 of the token
 * itself in 64 hex digits, so that the file never holds a usable secret
 * (make one with: printf %s "$TOKEN" | sha256sum). Fields are separated by
 * spaces or tabs; blank lines and lines starting with "#" are ignored.
 * Names and hashes must each be unique.
 */
#ifndef PLUMB_TOKENS_H
#define PLUMB_TOKENS_H

#include <stddef.h>

#include "util/common.h"

/* What a token may do; each role may do what the ones below it may. */
typedef enum {
	PLUMB_ROLE_NONE = 0, /* an open route: no token needed (healthz, metrics, webhooks, the dashboard) */
	PLUMB_ROLE_VIEWER = 1,
	PLUMB_ROLE_OPERATOR = 2,
	PLUMB_ROLE_ADMIN = 3,
} plumb_role;

typedef struct plumb_tokens plumb_tokens;

/*
 * Read and check the tokens file at path (at most 1 MiB). Every bad line is
 * reported, not only the first: PLUMB_EINVALID with a message of
 * "FILE:LINE: problem" parts joined by "; ". PLUMB_ERROR when the file
 * cannot be read. An empty file is valid: no token then authenticates.
 */
int plumb_tokens_load(plumb_tokens **out, const char *path);

/*
 * The role of the presented token (PLUMB_ROLE_NONE when it is unknown) and
 * in *name_out its NAME, borrowed from tokens (NULL when unknown). The
 * token's SHA-256 is compared with every entry in constant time, all of
 * them every time, so the answer's timing says nothing of which entry, or
 * how much of one, matched. tokens may be NULL (no token is known).
 * Read-only: safe to call from many threads at once.
 */
plumb_role plumb_tokens_lookup(const plumb_tokens *tokens, const char *token, size_t token_len,
			       const char **name_out);

/* How many tokens were loaded. */
size_t plumb_tokens_count(const plumb_tokens *tokens);

/* "viewer", "operator", "admin", or "none". */
const char *plumb_role_name(plumb_role role);

/* NULL-safe. */
void plumb_tokens_free(plumb_tokens *tokens);

#endif
