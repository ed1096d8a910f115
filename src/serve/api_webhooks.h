/*
 * api_webhooks.h - push webhooks from git forges (webhook.h verifies
 * them): a delivery signed with the webhook secret asks for a fetch and a
 * sync, gathered with the other requests of a burst. The handler's
 * payload is the daemon_state (internal.h); it is a plumb_handler
 * (server.h).
 */
#ifndef PLUMB_SERVE_API_WEBHOOKS_H
#define PLUMB_SERVE_API_WEBHOOKS_H

#include "serve/server.h"

/*
 * POST /api/v1/webhooks/{kind} (github, gitea, gitlab, generic): 202
 * {"queued": true}, or {"queued": false} for a push to another branch;
 * 401 for a bad or missing signature, 404 for an unknown kind.
 */
void plumb_api_webhook(plumb_response *response, const plumb_request *request, void *payload);

#endif
