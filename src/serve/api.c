#include "util/common.h"
#include "serve/api.h"
#include "serve/api_applications.h"
#include "serve/api_approvals.h"
#include "serve/api_audit.h"
#include "serve/api_dashboard.h"
#include "serve/api_drift.h"
#include "serve/api_history.h"
#include "serve/api_metrics.h"
#include "serve/api_webhooks.h"

void plumb_api_routes(plumb_route out[PLUMB_API_ROUTE_COUNT], daemon_state *d)
{
	const plumb_route list[] = {
		{ "GET", "/", PLUMB_ROLE_NONE, plumb_api_dashboard, NULL },
		{ "GET", "/index.html", PLUMB_ROLE_NONE, plumb_api_dashboard, NULL },
		{ "GET", "/app.js", PLUMB_ROLE_NONE, plumb_api_dashboard, NULL },
		{ "GET", "/style.css", PLUMB_ROLE_NONE, plumb_api_dashboard, NULL },
		{ "GET", "/healthz", PLUMB_ROLE_NONE, plumb_api_healthz, d },
		{ "GET", "/metrics", PLUMB_ROLE_NONE, plumb_api_metrics, d },
		{ "POST", "/api/v1/webhooks/{kind}", PLUMB_ROLE_NONE, plumb_api_webhook, d },
		{ "GET", "/api/v1/applications", PLUMB_ROLE_VIEWER, plumb_api_applications_list, d },
		{ "GET", "/api/v1/applications/{name}", PLUMB_ROLE_VIEWER, plumb_api_application_show, d },
		{ "GET", "/api/v1/applications/{name}/objects", PLUMB_ROLE_VIEWER, plumb_api_application_objects, d },
		{ "GET", "/api/v1/applications/{name}/history", PLUMB_ROLE_VIEWER, plumb_api_history_list, d },
		{ "GET", "/api/v1/applications/{name}/history/{id}", PLUMB_ROLE_VIEWER, plumb_api_history_show, d },
		{ "GET", "/api/v1/applications/{name}/drift", PLUMB_ROLE_VIEWER, plumb_api_drift_list, d },
		{ "GET", "/api/v1/applications/{name}/approval", PLUMB_ROLE_VIEWER, plumb_api_approval_show, d },
		{ "POST", "/api/v1/applications/{name}/sync", PLUMB_ROLE_OPERATOR, plumb_api_application_sync, d },
		{ "POST", "/api/v1/applications/{name}/approve", PLUMB_ROLE_OPERATOR, plumb_api_approval_approve, d },
		{ "POST", "/api/v1/applications/{name}/reject", PLUMB_ROLE_OPERATOR, plumb_api_approval_reject, d },
		{ "GET", "/api/v1/audit", PLUMB_ROLE_VIEWER, plumb_api_audit_list, d },
		{ "GET", "/api/v1/audit/verify", PLUMB_ROLE_VIEWER, plumb_api_audit_verify, d },
	};
	_Static_assert(sizeof(list) == PLUMB_API_ROUTE_COUNT * sizeof(plumb_route), "PLUMB_API_ROUTE_COUNT counts the routes");
	memcpy(out, list, sizeof(list));
}
