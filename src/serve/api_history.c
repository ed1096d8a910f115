#include "util/common.h"
#include "serve/api_history.h"
#include "serve/api_common.h"
#include "store/json.h"

void plumb_api_history_list(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	plumb_sync_records syncs = { 0 };
	plumb_store *store = NULL;
	char *name = NULL, *destination = NULL;

	if (!(store = plumb_api_application_store(response, request, d, &name, &destination)))
		goto done;
	if (plumb_store_sync_list(&syncs, store, destination, name, PLUMB_API_LIST_MAX) < 0) {
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
		goto done;
	}
	plumb_api_respond(response, 200, json_pack("{s:o}", "syncs", plumb_sync_records_json(&syncs)));
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

	if (!(store = plumb_api_application_store(response, request, d, &name, &destination)))
		goto done;
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
	plumb_api_respond(response, 200, plumb_sync_record_json(&sync, &actions));
done:
	free(name);
	free(destination);
	plumb_action_records_release(&actions);
	plumb_sync_record_release(&sync);
	plumb_store_free(store);
}
