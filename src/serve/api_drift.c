#include "util/common.h"
#include "serve/api_drift.h"
#include "serve/api_common.h"
#include "store/json.h"
#include "util/fs.h"

#include <unistd.h>

/* The application's drift events, newest first, with what each repair overwrote. */
void plumb_api_drift_list(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	plumb_drift_records events = { 0 };
	plumb_store *store = NULL;
	char *name = NULL, *destination = NULL;
	char *state = plumb_serve_state_dir(d);
	int state_fd = -1;

	if (!(store = plumb_api_application_store(response, request, d, &name, &destination)))
		goto done;
	if (plumb_store_drift_list(&events, store, destination, name, PLUMB_API_LIST_MAX) < 0) {
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
		goto done;
	}
	/* Captures are read beneath the state directory, never through a symlink: the store names them, not the request. */
	if (events.count && plumb_fs_open_root(&state_fd, state, 0) < 0)
		state_fd = -1;
	plumb_api_respond(response, 200, json_pack("{s:o}", "events", plumb_drift_records_json(&events, state_fd)));
done:
	if (state_fd >= 0)
		close(state_fd);
	free(state);
	free(name);
	free(destination);
	plumb_drift_records_release(&events);
	plumb_store_free(store);
}
