/*
 * auth.h - who sends a request to plumb serve: the API tokens (tokens.h),
 * read from the tokens file and again on reload, and the browser sessions
 * made of them (session.h), with their CSRF tokens; and the routes of
 * /api/v1/session that sign in and out (server.h describes them).
 *
 * Tokens are looked up, and swapped on reload, under one lock, which making
 * a session holds too, so that no session outlives the reload that ends
 * them all. Once the tokens are loaded, every function but plumb_auth_free
 * may be called from many threads at once. Only server.c includes this.
 */
#ifndef PLUMB_AUTH_H
#define PLUMB_AUTH_H

#include <microhttpd.h>

#include "util/common.h"
#include "serve/http.h"
#include "serve/session.h"
#include "serve/tokens.h"

typedef struct plumb_auth plumb_auth;

/* Who sent a request, as plumb_auth_request found; release with plumb_auth_identity_release. */
typedef struct {
	char *token_name;      /* the token's NAME, a new string; NULL when no known token was shown */
	plumb_role role;       /* PLUMB_ROLE_NONE until authenticated */
	plumb_session session; /* a copy of the session that authenticated it, when has_session */
	int has_session;
} plumb_auth_identity;

/* Authentication without tokens (every route that needs a role answers 401) and without sessions. */
plumb_auth *plumb_auth_new(void);

/*
 * Read the tokens file at path (tokens.h), once, before any request is
 * authenticated, and remember path to read again on reload.
 * PLUMB_EINVALID naming the file and line of what is wrong.
 */
int plumb_auth_load_tokens(plumb_auth *auth, const char *path);

/*
 * Read the tokens file again and end every session (a session carries the
 * name and role its token had: either may have changed). On error the old
 * tokens and sessions stay. Without a tokens file: nothing to do, 0.
 */
int plumb_auth_reload_tokens(plumb_auth *auth);

/* NULL-safe. */
void plumb_auth_free(plumb_auth *auth);

/*
 * Authenticate a request to a route that needs the role needed: by its
 * "Authorization: Bearer" token, else by its session cookie, which for a
 * method other than GET and HEAD needs the session's CSRF token in
 * "X-CSRF-Token" too. 0 with *identity filled in; or -1, with the refusal
 * (401 for no known token or session, 403 for a missing CSRF token or too
 * small a role) queued and what libmicrohttpd said of it in *refusal.
 * Either way identity is the caller's to release.
 */
int plumb_auth_request(plumb_auth_identity *identity, enum MHD_Result *refusal, plumb_auth *auth,
		       struct MHD_Connection *connection, const char *method, plumb_role needed);

/* Free what identity holds and wipe its session's secrets. */
void plumb_auth_identity_release(plumb_auth_identity *identity);

/* The routes of /api/v1/session (sign in, who is signed in, sign out), with auth as their payload. */
#define PLUMB_AUTH_ROUTE_COUNT 3
void plumb_auth_routes(plumb_route routes[PLUMB_AUTH_ROUTE_COUNT], plumb_auth *auth);

#endif
