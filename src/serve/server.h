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
 */
#ifndef PLUMB_SERVER_H
#define PLUMB_SERVER_H

#include <stddef.h>

#include "util/buf.h"
#include "util/common.h"
#include "serve/tokens.h"

#define PLUMB_SERVER_BODY_MAX (1u << 20)

struct plumb_session;

/* What a handler sees of a request; everything is borrowed for the call. */
typedef struct {
	const char *method;   /* "GET", "POST", ... */
	const char *path;     /* without the query string */
	const char *const *params; /* the route's "{name}" segments, in order */
	size_t param_count;
	const char *body;     /* NUL-terminated; may hold NULs before body_len */
	size_t body_len;
	const char *token_name; /* the authenticated token's NAME, or NULL on an open route */
	plumb_role role;
	/* The session (session.h) that authenticated it; NULL for a bearer token or an open route. */
	const struct plumb_session *session;
	void *connection;     /* for plumb_server_header */
} plumb_request;

typedef struct {
	char *name;
	char *value;
} plumb_header;

/*
 * What a handler answers. Every response also says not to cache it
 * (Cache-Control: no-store) and not to guess its type
 * (X-Content-Type-Options: nosniff).
 */
typedef struct {
	unsigned status;
	const char *content_type; /* static; "application/json" unless set */
	plumb_buf body;
	plumb_header *headers; /* more header fields, added with plumb_response_header; freed by the server */
	size_t header_count;
} plumb_response;

/* A request header by name (case-insensitive), or NULL. */
const char *plumb_server_header(const plumb_request *request, const char *name);

/*
 * A query string argument by name, or NULL. Decoded, except that "%2F",
 * "%25" and "%00" stay as they are (the path's decoder, see server.c):
 * none of plumb's query arguments holds them.
 */
const char *plumb_server_query(const plumb_request *request, const char *name);

typedef void (*plumb_handler)(plumb_response *response, const plumb_request *request, void *payload);

typedef struct {
	const char *method;
	const char *pattern; /* "/api/v1/applications/{name}/sync": "{...}" matches one segment */
	plumb_role role;     /* the least role it needs */
	plumb_handler handler;
	void *payload;
} plumb_route;

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

/* Add a header field to the response (name and value are copied). */
void plumb_response_header(plumb_response *response, const char *name, const char *value);

/* Helpers for handlers: a JSON body, or {"error": message} with a status. */
void plumb_response_json(plumb_response *response, unsigned status, const char *json);
void plumb_response_error(plumb_response *response, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
