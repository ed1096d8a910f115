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
 */
#ifndef PLUMB_SERVER_H
#define PLUMB_SERVER_H

#include <stddef.h>

#include "util/buf.h"
#include "util/common.h"

#define PLUMB_SERVER_BODY_MAX (1u << 20)

typedef enum {
	PLUMB_ROLE_NONE = 0, /* an open route: no token needed (healthz, metrics, webhooks, the dashboard) */
	PLUMB_ROLE_VIEWER = 1,
	PLUMB_ROLE_OPERATOR = 2,
	PLUMB_ROLE_ADMIN = 3,
} plumb_role;

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
	void *connection;     /* for plumb_server_header */
} plumb_request;

typedef struct {
	unsigned status;
	const char *content_type; /* static; "application/json" unless set */
	plumb_buf body;
} plumb_response;

/* A request header by name (case-insensitive), or NULL. */
const char *plumb_server_header(const plumb_request *request, const char *name);

/* A query string argument by name, or NULL. */
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

/* Re-read the tokens file (SIGHUP); on error the old tokens stay. */
int plumb_server_reload_tokens(plumb_server *server);

/* Stop serving, wait for handlers in flight, free. NULL-safe. */
void plumb_server_stop(plumb_server *server);

/* Helpers for handlers: a JSON body, or {"error": message} with a status. */
void plumb_response_json(plumb_response *response, unsigned status, const char *json);
void plumb_response_error(plumb_response *response, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
