#include "util/common.h"
#include "serve/api_applications.h"
#include "serve/api_common.h"
#include "serve/log.h"
#include "util/json.h"

static const char *const approval_names[] = { "auto", "prompted", "manual" };

/* The application as the API shows it; with_detail adds the plan's diff and an invalid revision's errors. */
static json_t *application_json(daemon_state *d, const app_state *a, int with_detail)
{
	json_t *o = json_object();
	pthread_mutex_lock(&d->mutex);
	json_object_set_new(o, "name", json_string(a->name));
	json_object_set_new(o, "repo", json_string(a->source ? plumb_source_name(a->source) : plumb_source_name(d->source)));
	json_object_set_new(o, "revision", json_string(d->options.revision ? d->options.revision : ""));
	json_object_set_new(o, "path", json_string(a->path));
	json_object_set_new(o, "destination", json_string(a->destination));
	json_object_set_new(o, "revision_commit", json_string(*a->revision_commit ? a->revision_commit : d->revision_commit));
	json_object_set_new(o, "commit_subject", plumb_json_string(a->commit_subject));
	json_object_set_new(o, "synced_commit", json_string(a->synced_commit));
	json_object_set_new(o, "sync_status", json_string(a->sync_status));
	json_object_set_new(o, "health", json_string(a->health));
	json_object_set_new(o, "message", json_string(a->message));
	json_object_set_new(o, "last_sync", plumb_json_time(a->last_sync_at));
	json_object_set_new(o, "last_result", json_string(a->last_result));
	json_object_set_new(o, "last_trigger", json_string(a->last_trigger));
	json_object_set_new(o, "last_success", plumb_json_time(a->last_success_at));
	json_object_set_new(o, "pending_approval", a->pending_approval ? json_integer(a->pending_approval) : json_null());
	json_object_set_new(o, "changes", json_pack("{s:i, s:i, s:i}", "create", (int)a->to_create, "update",
						      (int)a->to_update, "delete", (int)a->to_delete));
	json_object_set_new(o, "policy",
			    json_pack("{s:b, s:b, s:s}", "prune", a->prune, "selfHeal", a->self_heal,
				      "approval", approval_names[a->approval]));
	json_object_set_new(o, "drift_events", json_integer((json_int_t)a->drift_events));
	if (with_detail) {
		json_object_set_new(o, "errors", json_string(a->errors));
		json_object_set_new(o, "diff", json_string(a->diff));
	}
	pthread_mutex_unlock(&d->mutex);
	return o;
}

void plumb_api_applications_list(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	json_t *list = json_array();
	/*
	 * The applications the last revision declared (or, before any, what is
	 * known), chosen under the lock: the loop grows d->apps (a new array)
	 * and marks what each revision declares. Each app_state stays where it
	 * is until the daemon stops.
	 */
	pthread_mutex_lock(&d->mutex);
	app_state **shown = plumb_xcalloc(d->app_count ? d->app_count : 1, sizeof(*shown));
	size_t count = 0;
	for (size_t i = 0; i < d->app_count; i++)
		if (d->apps[i]->present || !*d->synced_commit)
			shown[count++] = d->apps[i];
	pthread_mutex_unlock(&d->mutex);
	for (size_t i = 0; i < count; i++)
		json_array_append_new(list, application_json(d, shown[i], 0));
	free(shown);
	plumb_api_respond(response, 200, json_pack("{s:o}", "applications", list));
}

void plumb_api_application_show(plumb_response *response, const plumb_request *request, void *payload)
{
	app_state *a = plumb_api_application(response, request, payload);
	if (a)
		plumb_api_respond(response, 200, application_json(payload, a, 1));
}

void plumb_api_application_sync(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	app_state *a = plumb_api_application(response, request, d);
	if (!a)
		return;
	plumb_serve_request_sync(d, "api", request->token_name);
	plumb_log_event("info", "sync requested", "app", a->name, "trigger", "api", "actor", request->token_name, NULL);
	plumb_response_json(response, 202, "{\"queued\":true}");
}

/* The objects of the application's last plan: each one's status and what a sync would do, never content. */
void plumb_api_application_objects(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	app_state *a = plumb_api_application(response, request, d);
	if (!a)
		return;
	json_t *list = json_array();
	pthread_mutex_lock(&d->mutex);
	for (size_t i = 0; i < a->object_count; i++) {
		const app_object *o = &a->objects[i];
		json_t *object = json_pack("{s:o, s:o, s:o, s:s, s:s, s:o, s:b}", "path", plumb_json_string(o->path),
					   "kind", plumb_json_string(o->kind), "resource", plumb_json_string(o->resource),
					   "status", o->status, "action", o->action, "reason", plumb_json_string(o->reason),
					   "sensitive", o->sensitive);
		/* Only where its provider says (a cluster's objects): a file has no health to show. */
		if (*o->health) {
			json_object_set_new(object, "health", json_string(o->health));
			json_object_set_new(object, "health_message", plumb_json_string(o->health_message));
		}
		json_array_append_new(list, object);
	}
	pthread_mutex_unlock(&d->mutex);
	plumb_api_respond(response, 200, json_pack("{s:o}", "objects", list));
}
