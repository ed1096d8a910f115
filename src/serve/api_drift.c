#include "util/common.h"
#include "serve/api_drift.h"
#include "serve/api_common.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/utf8.h"

#include <unistd.h>

/* The kept content of a drift event is shown up to this size. */
#define CAPTURE_SHOWN_MAX (64u << 10)

/* len, less the end of a UTF-8 sequence that a cut at len left incomplete. */
static size_t whole_sequences(const char *text, size_t len)
{
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = (unsigned char)text[len - back];
		if ((c & 0xc0) == 0x80)
			continue;
		size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return need > back ? len - back : len;
	}
	return len;
}

/*
 * The drift event as the API shows it, with the content that was kept
 * (the start of it, when long) if the object is not sensitive and the
 * content is text.
 */
static json_t *drift_json(const plumb_drift_record *e, int state_fd)
{
	plumb_buf kept = PLUMB_BUF_INIT;
	int truncated = 0, binary = 0;
	json_t *content = NULL;

	if (!e->sensitive && *e->capture && state_fd >= 0 &&
	    plumb_fs_read_head(&kept, &truncated, state_fd, e->capture, CAPTURE_SHOWN_MAX) == 0) {
		size_t len = truncated ? whole_sequences(kept.ptr, kept.len) : kept.len;
		binary = !plumb_utf8_valid(kept.ptr, len);
		if (!binary)
			content = plumb_json_text(kept.ptr, len);
	}
	char *path = plumb_xprintf("/%s", e->key);
	json_t *o = json_pack("{s:I, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:I, s:o, s:b, s:b}", "id",
			      (json_int_t)e->id, "at", plumb_json_time(e->at), "sync", (json_int_t)e->sync_id, "path",
			      plumb_json_string(path), "key", plumb_json_string(e->key), "kind", plumb_json_string(e->kind),
			      "commit", plumb_json_string(e->commit), "note", plumb_json_string(e->note), "expected",
			      plumb_json_string(e->expected), "observed", plumb_json_string(e->observed), "sensitive",
			      e->sensitive, "kept", *e->capture != '\0', "size", (json_int_t)e->capture_size, "content",
			      content ? content : json_string(""), "content_binary", binary, "content_truncated",
			      truncated && !binary);
	free(path);
	plumb_buf_release(&kept);
	return o;
}

/* The application's drift events, newest first, with what each repair overwrote. */
void plumb_api_drift_list(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	plumb_drift_records events = { 0 };
	plumb_store *store = NULL;
	char *name = NULL, *destination = NULL;
	char *state = plumb_serve_state_dir(d);
	int state_fd = -1;
	app_state *a = plumb_api_application(response, request, d);

	if (!a || !(store = plumb_api_open_store(response, d)))
		goto done;
	plumb_api_app_identity(d, a, &name, &destination);
	if (plumb_store_drift_list(&events, store, destination, name, PLUMB_API_LIST_MAX) < 0) {
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
		goto done;
	}
	/* Captures are read beneath the state directory, never through a symlink: the store names them, not the request. */
	if (events.count && plumb_fs_open_root(&state_fd, state, 0) < 0)
		state_fd = -1;
	json_t *list = json_array();
	for (size_t i = 0; i < events.count; i++)
		json_array_append_new(list, drift_json(&events.items[i], state_fd));
	plumb_api_respond(response, 200, json_pack("{s:o}", "events", list));
done:
	if (state_fd >= 0)
		close(state_fd);
	free(state);
	free(name);
	free(destination);
	plumb_drift_records_release(&events);
	plumb_store_free(store);
}
