/*
 * api_history.h - the syncs recorded of an application, and what became
 * of each action of one. Each handler's payload is the daemon_state
 * (internal.h); each is a plumb_handler (server.h).
 */
#ifndef PLUMB_SERVE_API_HISTORY_H
#define PLUMB_SERVE_API_HISTORY_H

#include "serve/server.h"

/* GET /api/v1/applications/{name}/history: {"syncs": [SYNC]}, newest first, at most PLUMB_API_LIST_MAX. */
void plumb_api_history_list(plumb_response *response, const plumb_request *request, void *payload);

/* GET /api/v1/applications/{name}/history/{id}: SYNC with "actions"; 404 when id is not a sync of name. */
void plumb_api_history_show(plumb_response *response, const plumb_request *request, void *payload);

#endif
