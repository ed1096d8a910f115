#include "util/common.h"
#include "serve/api_history.h"
#include "serve/api_common.h"
#include "util/json.h"


static json_t *sync_json(const plumb_sync_record *s)
{
	return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:i, s:i, s:i, s:o}", "id", (json_int_t)s->id,
			 "started_at", plumb_json_time(s->started_at), "finished_at", plumb_json_time(s->finished_at),
			 "operation", plumb_json_string(s->operation), "trigger", plumb_json_string(s->trigger), "actor",
			 plumb_json_string(s->actor), "commit", plumb_json_string(s->commit), "result",
			 plumb_sync_result_name(s->result), "created", (int)s->created, "updated", (int)s->updated,
			 "deleted", (int)s->deleted, "error", plumb_json_string(s->error));
}

void plumb_api_history_list(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	plumb_sync_records syncs = { 0 };
	plumb_store *store = NULL;
	char *name = NULL, *destination = NULL;
	app_state *a = plumb_api_application(response, request, d);

	if (!a || !(store = plumb_api_open_store(response, d)))
		goto done;
	plumb_api_app_identity(d, a, &name, &destination);
	if (plumb_store_sync_list(&syncs, store, destination, name, PLUMB_API_LIST_MAX) < 0) {
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
		goto done;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < syncs.count; i++)
		json_array_append_new(list, sync_json(&syncs.items[i]));
	plumb_api_respond(response, 200, json_pack("{s:o}", "syncs", list));
done:
	free(name);
	free(destination);
	plumb_sync_records_release(&syncs);
	plumb_store_free(store);
}

/* One sync of the application, with what became of each of its actions. */
void plumb_api_history_show(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	plumb_sync_record sync = { 0 };
	plumb_action_records actions = { 0 };
	plumb_store *store = NULL;
	char *name = NULL, *destination = NULL;
	int64_t id = request->param_count > 1 ? plumb_api_parse_id(request->params[1]) : 0;
	int error;
	app_state *a = plumb_api_application(response, request, d);

	if (!a || !(store = plumb_api_open_store(response, d)))
		goto done;
	plumb_api_app_identity(d, a, &name, &destination);
	error = id ? plumb_store_sync_get(&sync, store, id) : PLUMB_ENOTFOUND;
	if (error == PLUMB_ENOTFOUND ||
	    (error == 0 && (strcmp(sync.application, name) != 0 || strcmp(sync.destination, destination) != 0))) {
		plumb_response_error(response, 404, "no sync %s of '%s'", request->params[1], name);
		goto done;
	}
	if (error < 0 || plumb_store_action_list(&actions, store, id) < 0) {
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
		goto done;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < actions.count; i++) {
		const plumb_action_record *r = &actions.items[i];
		json_array_append_new(
			list, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o}", "id", (json_int_t)r->id,
					"at", plumb_json_time(r->at), "key", plumb_json_string(r->key), "kind",
					plumb_json_string(r->kind), "resource", plumb_json_string(r->resource), "action",
					plumb_json_string(r->action), "reason", plumb_json_string(r->reason), "outcome",
					plumb_outcome_name(r->outcome), "error", plumb_json_string(r->error), "before",
					plumb_json_string(r->before), "after", plumb_json_string(r->after)));
	}
	json_t *doc = sync_json(&sync);
	json_object_set_new(doc, "actions", list);
	plumb_api_respond(response, 200, doc);
done:
	free(name);
	free(destination);
	plumb_action_records_release(&actions);
	plumb_sync_record_release(&sync);
	plumb_store_free(store);
}
