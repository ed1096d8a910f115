/*
 * api_drift.h - the drift events of an application: what was found
 * changed by hand, and the content its repair overwrote when it was kept
 * (never a sensitive object's). The handler's payload is the daemon_state
 * (internal.h); it is a plumb_handler (server.h).
 */
#ifndef PLUMB_SERVE_API_DRIFT_H
#define PLUMB_SERVE_API_DRIFT_H

#include "serve/server.h"

/* GET /api/v1/applications/{name}/drift: {"events": [DRIFT]}, newest first, at most PLUMB_API_LIST_MAX. */
void plumb_api_drift_list(plumb_response *response, const plumb_request *request, void *payload);

#endif
