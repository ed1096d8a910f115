#include "util/common.h"
#include "serve/internal.h"
#include "load/application.h"
#include "load/load.h"
#include "pipeline/pipeline.h"
#include "serve/log.h"

#include <jansson.h>

#include <errno.h>
#include <time.h>
#include <unistd.h>

/*
 * Requests (webhooks, the API) are gathered this long after the last one,
 * and at most REQUEST_GATHER_MAX_MS after the first, so that a burst of
 * pushes is one fetch.
 */
#define REQUEST_GATHER_MS 200
#define REQUEST_GATHER_MAX_MS 600

void plumb_serve_set_text(char **slot, const char *text)
{
	free(*slot);
	*slot = plumb_xstrdup(text ? text : "");
}

char *plumb_serve_state_dir(const daemon_state *d)
{
	return d->options.state ? plumb_xstrdup(d->options.state) : plumb_default_state_dir();
}

plumb_render_options plumb_serve_render_options(const daemon_state *d, const char *state_dir)
{
	plumb_render_options render = { .kustomize = d->options.kustomize,
					.helm = d->options.helm,
					.state_dir = state_dir,
					.timeout_ms = d->options.render_timeout_ms,
					.output_max = d->options.render_output_max,
					.self = d->options.render_self,
					.allow_chart_fetch = d->options.allow_chart_fetch,
					.credentials = d->options.credentials ? plumb_credentials_table(d->options.credentials)
									      : NULL };
	return render;
}

void plumb_serve_wake(daemon_state *d)
{
	char byte = 1;
	/* A full pipe already holds a wake-up: nothing is lost. */
	if (write(d->wake_pipe[1], &byte, 1) < 0 && errno != EAGAIN)
		plumb_log_event("error", "cannot wake the loop", "error", strerror(errno), NULL);
}

void plumb_serve_request_sync(daemon_state *d, const char *trigger, const char *actor)
{
	int64_t now = plumb_monotonic_ms();
	pthread_mutex_lock(&d->mutex);
	if (!d->sync_requested)
		d->request_first_ms = now;
	d->sync_requested = 1;
	d->request_due_ms = now + REQUEST_GATHER_MS < d->request_first_ms + REQUEST_GATHER_MAX_MS
				    ? now + REQUEST_GATHER_MS
				    : d->request_first_ms + REQUEST_GATHER_MAX_MS;
	free(d->requested_by);
	d->requested_by = plumb_xprintf("%s %s", trigger, actor ? actor : "");
	pthread_mutex_unlock(&d->mutex);
	plumb_serve_wake(d);
}

app_state *plumb_serve_app_named(daemon_state *d, const char *name)
{
	for (size_t i = 0; i < d->app_count; i++)
		if (!strcmp(d->apps[i]->name, name))
			return d->apps[i];
	app_state *a = plumb_xcalloc(1, sizeof(*a));
	a->name = plumb_xstrdup(name);
	a->path = plumb_xstrdup("");
	a->destination = plumb_xstrdup(d->root);
	a->sync_status = "Unknown";
	a->health = "Unknown";
	a->message = plumb_xstrdup("");
	a->errors = plumb_xstrdup("");
	a->diff = plumb_xstrdup("");
	a->commit_subject = plumb_xstrdup("");
	a->last_result = plumb_xstrdup("");
	a->last_trigger = plumb_xstrdup("");
	pthread_mutex_lock(&d->mutex);
	PLUMB_GROW(d->apps, d->app_count, d->app_capacity);
	d->apps[d->app_count++] = a;
	pthread_mutex_unlock(&d->mutex);
	return a;
}

void plumb_serve_app_free(app_state *a)
{
	free(a->name);
	free(a->path);
	free(a->destination);
	free(a->message);
	free(a->errors);
	free(a->diff);
	free(a->commit_subject);
	plumb_serve_objects_free(a->objects, a->object_count);
	free(a->last_result);
	free(a->last_trigger);
	free(a->repo);
	free(a->revision);
	plumb_source_free(a->source);
	plumb_manifest_set_release(&a->loaded);
	plumb_destinations_release(&a->cluster);
	free(a->cluster_opened_with);
	plumb_application_release(&a->declared);
	free(a);
}

void plumb_serve_object_release(app_object *object)
{
	free(object->path);
	free(object->kind);
	free(object->resource);
	free(object->reason);
	free(object->health_message);
}

void plumb_serve_objects_free(app_object *objects, size_t count)
{
	for (size_t i = 0; i < count; i++)
		plumb_serve_object_release(&objects[i]);
	free(objects);
}

static void credential_notice(plumb_source_notice kind, const char *url, const char *message, void *payload)
{
	daemon_state *d = payload;
	if (kind == PLUMB_SOURCE_NOTICE_WARNING) {
		plumb_log_event("warn", message, "repo", url, NULL);
		return;
	}
	plumb_log_event("warn", "host key accepted on first use and added to known_hosts", "repo", url, "line", message,
			NULL);
	json_t *detail = json_pack("{s:s, s:s}", "repo", url, "known_hosts", message);
	char *text = json_dumps(detail, JSON_COMPACT);
	if (d->store && plumb_store_audit_append(d->store, "plumb", "known_hosts.add", url, text) < 0)
		plumb_log_event("error", "cannot record the accepted host key in the audit log", "error",
				plumb_error_last(), NULL);
	free(text);
	json_decref(detail);
}

void plumb_serve_use_credentials(daemon_state *d, plumb_source *source)
{
	if (!d->options.credentials) {
		plumb_source_set_credentials(source, NULL);
		return;
	}
	char *state = plumb_serve_state_dir(d);
	char *identity = d->options.identity ? plumb_xstrdup(d->options.identity) : plumb_xprintf("%s/identity", state);
	plumb_credentials_set_context(d->options.credentials, identity, credential_notice, d);
	plumb_source_set_credentials(source, plumb_credentials_table(d->options.credentials));
	free(identity);
	free(state);
}
