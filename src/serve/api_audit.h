/*
 * api_audit.h - the audit log, a page at a time, and whether its hash
 * chain holds. Each handler's payload is the daemon_state (internal.h);
 * each is a plumb_handler (server.h).
 */
#ifndef PLUMB_SERVE_API_AUDIT_H
#define PLUMB_SERVE_API_AUDIT_H

#include "serve/server.h"

/*
 * GET /api/v1/audit?limit=N&before=ID: {"entries": [AUDIT], "intact",
 * "first_bad_id", "problem"}, newest first; 400 for a limit or ID that is
 * not a positive number.
 */
void plumb_api_audit_list(plumb_response *response, const plumb_request *request, void *payload);

/* GET /api/v1/audit/verify: {"intact", "entries", "first_bad_id", "problem"}. */
void plumb_api_audit_verify(plumb_response *response, const plumb_request *request, void *payload);

#endif
