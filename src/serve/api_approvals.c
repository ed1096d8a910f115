#include "util/common.h"
#include "serve/api_approvals.h"
#include "serve/api_common.h"
#include "serve/log.h"
#include "store/json.h"

/* The plan that waits for approval, exactly as it would be applied. */
void plumb_api_approval_show(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	plumb_approval_record record = { 0 };
	plumb_store *store = NULL;
	app_state *a = plumb_api_application(response, request, d);
	int error;

	if (!a)
		goto done;
	pthread_mutex_lock(&d->mutex);
	int64_t pending = a->pending_approval;
	pthread_mutex_unlock(&d->mutex);
	if (!pending) {
		plumb_response_error(response, 404, "no plan waits");
		goto done;
	}
	if (!(store = plumb_api_open_store(response, d)))
		goto done;
	error = plumb_store_approval_get(&record, store, pending);
	/* Decided (from the command line, say) since the loop last looked: it no longer waits. */
	if (error == PLUMB_ENOTFOUND || (error == 0 && record.state != PLUMB_APPROVAL_PENDING)) {
		plumb_response_error(response, 404, "no plan waits");
		goto done;
	}
	if (error < 0) {
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
		goto done;
	}
	plumb_api_respond(response, 200, plumb_approval_record_json(&record, 1));
done:
	plumb_approval_record_release(&record);
	plumb_store_free(store);
}

/* Approve or reject: exactly the pending plan, named by its id when the body gives one. */
static void decide(plumb_response *response, const plumb_request *request, daemon_state *d, int approve)
{
	json_error_t json_error;
	json_t *body = request->body_len ? json_loadb(request->body, request->body_len, 0, &json_error) : NULL;
	plumb_store *store = NULL;
	int64_t wanted = 0;
	app_state *a = plumb_api_application(response, request, d);

	if (!a)
		goto done;
	if (request->body_len && !json_is_object(body)) {
		plumb_response_error(response, 400, "the body must be a JSON object such as {\"id\": 12}");
		goto done;
	}
	json_t *id = json_object_get(body, "id");
	if (id && !json_is_integer(id)) {
		plumb_response_error(response, 400, "id must be a number");
		goto done;
	}
	wanted = id ? (int64_t)json_integer_value(id) : 0;
	pthread_mutex_lock(&d->mutex);
	int64_t pending = a->pending_approval;
	pthread_mutex_unlock(&d->mutex);
	if (!pending) {
		plumb_response_error(response, 409, "no plan of '%s' waits for approval", a->name);
		goto done;
	}
	if (wanted && wanted != pending) {
		plumb_response_error(response, 409, "plan %lld is not the one that waits (%lld is)", (long long)wanted,
				     (long long)pending);
		goto done;
	}
	if (!(store = plumb_api_open_store(response, d)))
		goto done;
	json_t *note = json_object_get(body, "note");
	if (plumb_store_approval_decide(store, pending, approve, request->token_name,
					json_is_string(note) ? json_string_value(note) : "") < 0) {
		plumb_response_error(response, 409, "%s", plumb_error_last());
		goto done;
	}
	plumb_log_event("info", approve ? "plan approved" : "plan rejected", "app", a->name, "by", request->token_name, NULL);
	/* Decided: it no longer waits, though the loop applies (or drops) it a moment later. */
	pthread_mutex_lock(&d->mutex);
	if (a->pending_approval == pending) {
		a->pending_approval = 0;
		plumb_serve_set_text(&a->message, approve ? "the plan was approved; applying it" : "the plan was rejected");
	}
	pthread_mutex_unlock(&d->mutex);
	plumb_serve_wake(d);
	plumb_api_respond(response, 200,
			  json_pack("{s:I, s:s}", "id", (json_int_t)pending, "state", approve ? "approved" : "rejected"));
done:
	plumb_store_free(store);
	json_decref(body);
}

void plumb_api_approval_approve(plumb_response *response, const plumb_request *request, void *payload)
{
	decide(response, request, payload, 1);
}

void plumb_api_approval_reject(plumb_response *response, const plumb_request *request, void *payload)
{
	decide(response, request, payload, 0);
}
