/*
 * api_common.h - what the API's handlers (api_*.c) share: a JSON answer,
 * the application a route names, a store connection of the handler's own,
 * and ids from a route or a query. They run on the HTTP server's threads
 * (server.h), beside the loop: they read the daemon's state under its
 * mutex and never write to the store but through a store.h call.
 */
#ifndef PLUMB_SERVE_API_COMMON_H
#define PLUMB_SERVE_API_COMMON_H

#include <jansson.h>

#include "serve/internal.h"
#include "serve/server.h"

/* The API lists at most this many syncs and drift events of an application. */
#define PLUMB_API_LIST_MAX 100

/* Answer status with doc as compact JSON, its keys in order; takes doc's reference. */
void plumb_api_respond(plumb_response *response, unsigned status, json_t *doc);

/* The application the route's {name} names (borrowed, see internal.h), or NULL after answering 404. */
app_state *plumb_api_application(plumb_response *response, const plumb_request *request, daemon_state *d);

/*
 * A connection to the store of the handler's own (SQLite connections are
 * not shared across threads; free it with plumb_store_free), or NULL
 * after answering 500.
 */
plumb_store *plumb_api_open_store(plumb_response *response, daemon_state *d);

/*
 * For a handler that reads what the store recorded of the application the
 * route names: a store connection of its own (as plumb_api_open_store),
 * and in *name and *destination the application's, as new strings copied
 * under the mutex (the loop may rewrite them: an Application that moved
 * its root). NULL after answering 404 or 500; the strings are then NULL.
 */
plumb_store *plumb_api_application_store(plumb_response *response, const plumb_request *request, daemon_state *d,
					 char **name, char **destination);

/* A positive id in decimal, as a route's {id} or a query gives it; 0 for anything else. */
int64_t plumb_api_parse_id(const char *text);

#endif
