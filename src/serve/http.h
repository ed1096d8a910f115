/*
 * http.h - what a handler of plumb serve sees of a request, and how it
 * answers: the request, the response and the route that ties a handler to
 * a method and a path (server.h serves them).
 *
 * plumb_server_header and plumb_server_query read the request through
 * libmicrohttpd, which is loaded when the first server starts: they are
 * for handlers, called while their server runs.
 */
#ifndef PLUMB_HTTP_H
#define PLUMB_HTTP_H

#include <stddef.h>

#include "util/buf.h"
#include "util/common.h"
#include "serve/tokens.h"

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

/* Add a header field to the response (name and value are copied). */
void plumb_response_header(plumb_response *response, const char *name, const char *value);

/* Helpers for handlers: a JSON body, or {"error": message} with a status. */
void plumb_response_json(plumb_response *response, unsigned status, const char *json);
void plumb_response_error(plumb_response *response, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
