/*
 * server.h - the HTTP server of plumb serve: routing, authentication,
 * bounded requests. It knows nothing of GitOps: handlers do.
 *
 * Built on libmicrohttpd with its own thread pool; handlers run on those
 * threads and must do their own locking. Every request body is capped
 * (PLUMB_SERVER_BODY_MAX, 1 MiB): a longer one is answered 413 without
 * reaching a handler. Unless a route is open, a request needs
 * "Authorization: Bearer TOKEN" with a token from the tokens file whose
 * role is at least the route's: 401 without a known token, 403 with too
 * small a role. Tokens are compared by their SHA-256, in constant time.
 *
 * A browser signs in instead (session.h): the server itself answers
 *
 *   POST   /api/v1/session  open; body {"token": "..."} (Content-Type:
 *                           application/json): 201 {"name", "role",
 *                           "csrf"} and the cookie plumb_session
 *                           (HttpOnly, SameSite=Strict, Path=/, 12 hours);
 *                           401 for an unknown token
 *   GET    /api/v1/session  viewer: who is signed in, {"name", "role",
 *                           "csrf"} ("csrf" is "" for a bearer token)
 *   DELETE /api/v1/session  viewer: end the session and clear the cookie
 *
 * A request without "Authorization: Bearer" is then authenticated by that
 * cookie, as the token it was made from, and one that is not GET or HEAD
 * must also carry the session's CSRF token in "X-CSRF-Token", or it is
 * refused (403) before reaching its handler. Reloading the tokens ends
 * every session. Session ids appear in no message.
 *
 * What a handler sees of a request and how it answers: http.h.
 */
#ifndef PLUMB_SERVER_H
#define PLUMB_SERVER_H

#include <stddef.h>

#include "util/common.h"
#include "serve/http.h"

#define PLUMB_SERVER_BODY_MAX (1u << 20)

typedef struct plumb_server plumb_server;

/*
 * Listen on listen ("127.0.0.1:8080", "[::1]:8080", ":8080" for every
 * address) and serve routes (copied; handlers and payloads borrowed).
 * tokens_file may be NULL: then every route that needs a role answers 401.
 * Errors: PLUMB_EINVALID for a bad address or tokens file (the message
 * names the file and line), PLUMB_ERROR when the port cannot be bound.
 */
int plumb_server_start(plumb_server **out, const char *listen, const char *tokens_file, const plumb_route *routes,
		       size_t route_count);

/* The port actually bound (useful with port 0). */
unsigned plumb_server_port(const plumb_server *server);

/* Re-read the tokens file (SIGHUP) and end every session; on error the old tokens and sessions stay. */
int plumb_server_reload_tokens(plumb_server *server);

/* Stop serving, wait for handlers in flight, free. NULL-safe. */
void plumb_server_stop(plumb_server *server);

#endif
