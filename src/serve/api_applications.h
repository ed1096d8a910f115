/*
 * api_applications.h - the applications the daemon keeps in sync, as the
 * API shows them (the APPLICATION and OBJECT shapes of docs/api.md), and
 * the request to sync one now. Each handler's payload is the daemon_state
 * (internal.h); each is a plumb_handler (server.h).
 */
#ifndef PLUMB_SERVE_API_APPLICATIONS_H
#define PLUMB_SERVE_API_APPLICATIONS_H

#include "serve/server.h"

/* GET /api/v1/applications: {"applications": [APPLICATION]}, those the last revision declared. */
void plumb_api_applications_list(plumb_response *response, const plumb_request *request, void *payload);

/* GET /api/v1/applications/{name}: APPLICATION with its plan's diff and an invalid revision's errors; 404. */
void plumb_api_application_show(plumb_response *response, const plumb_request *request, void *payload);

/* GET /api/v1/applications/{name}/objects: {"objects": [OBJECT]}, the last plan's, never their content. */
void plumb_api_application_objects(plumb_response *response, const plumb_request *request, void *payload);

/* POST /api/v1/applications/{name}/sync: 202, a fetch and a sync gathered with the other requests. */
void plumb_api_application_sync(plumb_response *response, const plumb_request *request, void *payload);

#endif
