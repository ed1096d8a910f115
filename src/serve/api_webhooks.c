#include "util/common.h"
#include "serve/api_webhooks.h"
#include "serve/internal.h"
#include "serve/log.h"
#include "serve/webhook.h"

void plumb_api_webhook(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	int kind = request->param_count ? plumb_webhook_kind_from_name(request->params[0]) : -1;
	if (kind < 0) {
		plumb_response_error(response, 404, "no webhook '%s' (github, gitea, gitlab, generic)",
				     request->param_count ? request->params[0] : "");
		return;
	}
	const char *proof = plumb_server_header(request, plumb_webhook_header((plumb_webhook_kind)kind));
	pthread_mutex_lock(&d->mutex);
	int valid = d->secret && plumb_webhook_verify((plumb_webhook_kind)kind, d->secret, d->secret_len, proof,
						     request->body, request->body_len);
	pthread_mutex_unlock(&d->mutex);
	if (!valid) {
		plumb_log_event("warn", "webhook refused: bad or missing signature", "kind", request->params[0], NULL);
		plumb_response_error(response, 401, "the signature does not match");
		return;
	}
	char *branch = plumb_webhook_pushed_branch(request->body, request->body_len);
	pthread_mutex_lock(&d->mutex);
	int other_branch = branch && d->branch && strcmp(branch, d->branch) != 0;
	pthread_mutex_unlock(&d->mutex);
	if (other_branch) {
		plumb_response_json(response, 202, "{\"queued\":false,\"reason\":\"another branch\"}");
	} else {
		plumb_serve_request_sync(d, "webhook", request->params[0]);
		plumb_response_json(response, 202, "{\"queued\":true}");
	}
	free(branch);
}
