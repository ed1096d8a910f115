#include "util/common.h"
#include "store/json.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/utf8.h"

json_t *plumb_sync_record_json(const plumb_sync_record *sync, const plumb_action_records *actions)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(sync->id));
	json_object_set_new(o, "started_at", plumb_json_time(sync->started_at));
	json_object_set_new(o, "finished_at", plumb_json_time(sync->finished_at));
	json_object_set_new(o, "application", plumb_json_string(sync->application));
	json_object_set_new(o, "destination", plumb_json_string(sync->destination));
	json_object_set_new(o, "operation", plumb_json_string(sync->operation));
	json_object_set_new(o, "trigger", plumb_json_string(sync->trigger));
	json_object_set_new(o, "actor", plumb_json_string(sync->actor));
	json_object_set_new(o, "repo", plumb_json_string(sync->repo));
	json_object_set_new(o, "revision", plumb_json_string(sync->revision));
	json_object_set_new(o, "commit", plumb_json_string(sync->commit));
	json_object_set_new(o, "path", plumb_json_string(sync->path));
	json_object_set_new(o, "result", json_string(plumb_sync_result_name(sync->result)));
	json_object_set_new(o, "created", json_integer(sync->created));
	json_object_set_new(o, "updated", json_integer(sync->updated));
	json_object_set_new(o, "deleted", json_integer(sync->deleted));
	json_object_set_new(o, "error", plumb_json_string(sync->error));
	if (actions) {
		json_t *list = json_array();
		for (size_t i = 0; i < actions->count; i++)
			json_array_append_new(list, plumb_action_record_json(&actions->items[i]));
		json_object_set_new(o, "actions", list);
	}
	return o;
}

json_t *plumb_sync_records_json(const plumb_sync_records *syncs)
{
	json_t *list = json_array();
	for (size_t i = 0; i < syncs->count; i++)
		json_array_append_new(list, plumb_sync_record_json(&syncs->items[i], NULL));
	return list;
}

json_t *plumb_action_record_json(const plumb_action_record *action)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(action->id));
	json_object_set_new(o, "at", plumb_json_time(action->at));
	json_object_set_new(o, "key", plumb_json_string(action->key));
	json_object_set_new(o, "kind", plumb_json_string(action->kind));
	json_object_set_new(o, "resource", plumb_json_string(action->resource));
	json_object_set_new(o, "action", plumb_json_string(action->action));
	json_object_set_new(o, "reason", plumb_json_string(action->reason));
	json_object_set_new(o, "outcome", json_string(plumb_outcome_name(action->outcome)));
	json_object_set_new(o, "error", plumb_json_string(action->error));
	json_object_set_new(o, "before", plumb_json_string(action->before));
	json_object_set_new(o, "after", plumb_json_string(action->after));
	return o;
}

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

json_t *plumb_drift_record_json(const plumb_drift_record *event, int state_fd)
{
	plumb_buf kept = PLUMB_BUF_INIT;
	int truncated = 0, binary = 0;
	json_t *content = NULL;

	if (!event->sensitive && *event->capture && state_fd >= 0 &&
	    plumb_fs_read_head(&kept, &truncated, state_fd, event->capture, PLUMB_DRIFT_CONTENT_SHOWN_MAX) == 0) {
		size_t len = truncated ? whole_sequences(kept.ptr, kept.len) : kept.len;
		binary = !plumb_utf8_valid(kept.ptr, len);
		if (!binary)
			content = plumb_json_text(kept.ptr, len);
	}
	json_t *o = json_object();
	char *path = plumb_xprintf("/%s", event->key);
	json_object_set_new(o, "id", json_integer(event->id));
	json_object_set_new(o, "at", plumb_json_time(event->at));
	json_object_set_new(o, "sync", json_integer(event->sync_id));
	json_object_set_new(o, "destination", plumb_json_string(event->destination));
	json_object_set_new(o, "application", plumb_json_string(event->application));
	json_object_set_new(o, "path", plumb_json_string(path));
	json_object_set_new(o, "key", plumb_json_string(event->key));
	json_object_set_new(o, "kind", plumb_json_string(event->kind));
	json_object_set_new(o, "commit", plumb_json_string(event->commit));
	json_object_set_new(o, "note", plumb_json_string(event->note));
	json_object_set_new(o, "expected", plumb_json_string(event->expected));
	json_object_set_new(o, "observed", plumb_json_string(event->observed));
	json_object_set_new(o, "sensitive", json_boolean(event->sensitive));
	json_object_set_new(o, "kept", json_boolean(*event->capture != '\0'));
	json_object_set_new(o, "size", json_integer(event->capture_size));
	json_object_set_new(o, "content", content ? content : json_string(""));
	json_object_set_new(o, "content_binary", json_boolean(binary));
	json_object_set_new(o, "content_truncated", json_boolean(truncated && !binary));
	free(path);
	plumb_buf_release(&kept);
	return o;
}

json_t *plumb_drift_records_json(const plumb_drift_records *events, int state_fd)
{
	json_t *list = json_array();
	for (size_t i = 0; i < events->count; i++)
		json_array_append_new(list, plumb_drift_record_json(&events->items[i], state_fd));
	return list;
}

/* A stored JSON document as the value it is, or as a string if an edit broke it. */
static json_t *embedded(const char *text)
{
	json_t *value = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	return value ? value : plumb_json_string(text);
}

json_t *plumb_approval_record_json(const plumb_approval_record *approval, int with_plan)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(approval->id));
	json_object_set_new(o, "created_at", plumb_json_time(approval->created_at));
	json_object_set_new(o, "application", plumb_json_string(approval->application));
	json_object_set_new(o, "destination", plumb_json_string(approval->destination));
	json_object_set_new(o, "commit", plumb_json_string(approval->commit));
	json_object_set_new(o, "state", json_string(plumb_approval_state_name(approval->state)));
	json_object_set_new(o, "summary", plumb_json_string(approval->summary));
	json_object_set_new(o, "requested_by", plumb_json_string(approval->requested_by));
	json_object_set_new(o, "decided_by", plumb_json_string(approval->decided_by));
	json_object_set_new(o, "decided_at", plumb_json_time(approval->decided_at));
	json_object_set_new(o, "note", plumb_json_string(approval->note));
	if (with_plan)
		json_object_set_new(o, "plan", embedded(approval->plan));
	return o;
}

json_t *plumb_approval_records_json(const plumb_approval_records *approvals)
{
	json_t *list = json_array();
	for (size_t i = 0; i < approvals->count; i++)
		json_array_append_new(list, plumb_approval_record_json(&approvals->items[i], 0));
	return list;
}

json_t *plumb_audit_entry_json(const plumb_audit_entry *entry)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(entry->id));
	json_object_set_new(o, "at", plumb_json_time(entry->at));
	json_object_set_new(o, "actor", plumb_json_string(entry->actor));
	json_object_set_new(o, "event", plumb_json_string(entry->event));
	json_object_set_new(o, "subject", plumb_json_string(entry->subject));
	json_object_set_new(o, "detail", embedded(entry->detail));
	json_object_set_new(o, "previous_hash", plumb_json_string(entry->previous_hash));
	json_object_set_new(o, "hash", plumb_json_string(entry->hash));
	return o;
}

json_t *plumb_audit_entries_json(const plumb_audit_entries *entries)
{
	json_t *list = json_array();
	for (size_t i = 0; i < entries->count; i++)
		json_array_append_new(list, plumb_audit_entry_json(&entries->items[i]));
	return list;
}
