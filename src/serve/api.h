/*
 * api.h - every route plumb serve answers besides the sessions (which the
 * server adds, server.h): the dashboard, /healthz and /metrics, webhooks,
 * and the JSON API under /api/v1 (docs/api.md), each with the least role
 * it needs. The handlers live in api_*.c, one file per resource.
 */
#ifndef PLUMB_SERVE_API_H
#define PLUMB_SERVE_API_H

#include "serve/internal.h"
#include "serve/server.h"

#define PLUMB_API_ROUTE_COUNT 19

/* Fill out with the routes; the handlers' payload is d, which must outlive the server. */
void plumb_api_routes(plumb_route out[PLUMB_API_ROUTE_COUNT], daemon_state *d);

#endif
