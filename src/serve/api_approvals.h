/*
 * api_approvals.h - the plan that waits for a person (approval: prompted)
 * and the decision on it. A decision names the plan it means (its id),
 * is recorded as the token's name, and wakes the loop, which applies or
 * drops the plan. Each handler's payload is the daemon_state
 * (internal.h); each is a plumb_handler (server.h).
 */
#ifndef PLUMB_SERVE_API_APPROVALS_H
#define PLUMB_SERVE_API_APPROVALS_H

#include "serve/server.h"

/* GET /api/v1/applications/{name}/approval: APPROVAL, exactly the plan that would be applied; 404 when none waits. */
void plumb_api_approval_show(plumb_response *response, const plumb_request *request, void *payload);

/*
 * POST /api/v1/applications/{name}/approve and .../reject, body {"id": N,
 * "note": "..."} (both optional): 200 {"id", "state"}; 409 when no plan
 * waits or N is not the one that does; 400 for a body that is not such an
 * object.
 */
void plumb_api_approval_approve(plumb_response *response, const plumb_request *request, void *payload);
void plumb_api_approval_reject(plumb_response *response, const plumb_request *request, void *payload);

#endif
