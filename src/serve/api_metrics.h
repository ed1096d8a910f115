/*
 * api_metrics.h - what monitoring reads, without a token: whether the
 * daemon answers, and its counters in the Prometheus text format. The
 * payload of plumb_api_metrics is the daemon_state (internal.h); both are
 * plumb_handlers (server.h).
 */
#ifndef PLUMB_SERVE_API_METRICS_H
#define PLUMB_SERVE_API_METRICS_H

#include "serve/server.h"

/* GET /healthz: {"status":"ok"}. */
void plumb_api_healthz(plumb_response *response, const plumb_request *request, void *payload);

/* GET /metrics: syncs, failures, fetches, drift, durations and manifest loads, per application. */
void plumb_api_metrics(plumb_response *response, const plumb_request *request, void *payload);

#endif
