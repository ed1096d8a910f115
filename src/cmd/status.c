#include "util/common.h"
#include "cmd/cmd.h"
#include "providers/registry.h"
#include "store/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* One application at the destination and its last sync there. */
typedef struct {
	const char *name; /* borrowed from the inventory or the destination's last sync */
	plumb_sync_record last;
	int synced; /* a sync of it is recorded */
} application_status;

typedef struct {
	application_status *items;
	size_t count;
	size_t capacity;
} application_list;

static void applications_release(application_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		plumb_sync_record_release(&list->items[i].last);
	free(list->items);
}

/*
 * What people read as an application's sync state, from its last sync:
 * synced, failed, running (or cut short), or ahead of git (an emergency
 * rollback the branch does not hold).
 */
static const char *sync_state(const application_status *a)
{
	if (!a->synced)
		return "never synced";
	if (a->last.result == PLUMB_SYNC_SUCCEEDED)
		return !strcmp(a->last.operation, "rollback-no-commit") ? "ahead of git" : "synced";
	return plumb_sync_result_name(a->last.result);
}

static int add_application(application_list *list, plumb_store *store, const char *destination, const char *name)
{
	for (size_t i = 0; i < list->count; i++)
		if (!strcmp(list->items[i].name, name))
			return 0;
	PLUMB_GROW(list->items, list->count, list->capacity);
	application_status *a = &list->items[list->count++];
	memset(a, 0, sizeof(*a));
	a->name = name;
	int error = plumb_store_sync_last(&a->last, store, destination, name);
	a->synced = error == 0;
	return error == PLUMB_ENOTFOUND ? 0 : error;
}

/* The applications that manage objects at the destination, and the one synced last there (it may manage none). */
static int list_applications(application_list *out, plumb_store *store, const char *destination,
			     const plumb_inventory *inventory, const plumb_sync_record *last)
{
	int error = 0;
	if (last)
		error = add_application(out, store, destination, last->application);
	for (size_t i = 0; error == 0 && i < inventory->count; i++)
		error = add_application(out, store, destination, inventory->items[i].application);
	return error;
}

static json_t *sync_json(const plumb_sync_record *last)
{
	json_t *sync = json_object();
	char when[32];
	json_object_set_new(sync, "id", json_integer(last->id));
	plumb_format_time(when, last->started_at);
	json_object_set_new(sync, "started_at", json_string(when));
	plumb_format_time(when, last->finished_at);
	json_object_set_new(sync, "finished_at", last->finished_at ? json_string(when) : json_null());
	json_object_set_new(sync, "result", json_string(plumb_sync_result_name(last->result)));
	json_object_set_new(sync, "application", json_string(last->application));
	json_object_set_new(sync, "repo", json_string(last->repo));
	json_object_set_new(sync, "revision", json_string(last->revision));
	json_object_set_new(sync, "commit", json_string(last->commit));
	json_object_set_new(sync, "path", json_string(last->path));
	json_object_set_new(sync, "created", json_integer(last->created));
	json_object_set_new(sync, "updated", json_integer(last->updated));
	json_object_set_new(sync, "deleted", json_integer(last->deleted));
	json_object_set_new(sync, "error", json_string(last->error));
	json_object_set_new(sync, "operation", json_string(last->operation));
	json_object_set_new(sync, "trigger", json_string(last->trigger));
	json_object_set_new(sync, "actor", json_string(last->actor));
	return sync;
}

/* How people name an inventory row's object: a cluster's "NAMESPACE/NAME", a host's path. A new string. */
static char *display_of(const plumb_inventory_entry *e)
{
	return plumb_provider_display(plumb_provider_by_name(e->provider), e->key);
}

static void print_json(const char *destination, const char *context, const plumb_sync_record *last,
		       const application_list *applications, const plumb_inventory *inventory)
{
	json_t *doc = json_object();
	json_t *objects = json_array(), *apps = json_array(), *ahead = json_array();

	json_object_set_new(doc, "destination", json_string(destination));
	json_object_set_new(doc, "context", context ? json_string(context) : json_null());
	json_object_set_new(doc, "last_sync", last ? sync_json(last) : json_null());
	for (size_t i = 0; i < applications->count; i++) {
		const application_status *a = &applications->items[i];
		json_t *o = json_pack("{s:s, s:s}", "application", a->name, "state", sync_state(a));
		json_object_set_new(o, "last_sync", a->synced ? plumb_sync_record_json(&a->last, NULL) : json_null());
		json_array_append_new(apps, o);
		if (a->synced && !strcmp(sync_state(a), "ahead of git"))
			json_array_append_new(ahead, json_pack("{s:s, s:s}", "application", a->name, "commit", a->last.commit));
	}
	json_object_set_new(doc, "applications", apps);
	for (size_t i = 0; i < inventory->count; i++) {
		const plumb_inventory_entry *e = &inventory->items[i];
		json_t *o = json_object();
		char *display = display_of(e);
		json_object_set_new(o, "path", json_string(display));
		free(display);
		json_object_set_new(o, "kind", json_string(e->kind));
		json_object_set_new(o, "provider", json_string(e->provider));
		json_object_set_new(o, "application", json_string(e->application));
		json_object_set_new(o, "resource", json_string(e->resource));
		json_object_set_new(o, "created", json_boolean(e->created));
		json_object_set_new(o, "commit", json_string(e->commit));
		json_array_append_new(objects, o);
	}
	json_object_set_new(doc, "objects", objects);
	json_object_set_new(doc, "ahead_of_git", json_boolean(json_array_size(ahead) > 0));
	json_object_set_new(doc, "ahead_of_git_applications", ahead);
	plumb_cli_print_json(doc);
}

static void print_applications(const application_list *applications)
{
	size_t name = strlen("APPLICATION"), state = strlen("STATE"), operation = strlen("OPERATION");
	char when[32];

	printf("Applications: %zu\n", applications->count);
	if (!applications->count)
		return;
	for (size_t i = 0; i < applications->count; i++) {
		const application_status *a = &applications->items[i];
		name = plumb_cli_widest(name, a->name);
		state = plumb_cli_widest(state, sync_state(a));
		operation = plumb_cli_widest(operation, a->synced ? a->last.operation : NULL);
	}
	printf("  %-*s  %-*s  %-20s  %-*s  %-12s  %s\n", (int)name, "APPLICATION", (int)state, "STATE", "LAST SYNC (UTC)",
	       (int)operation, "OPERATION", "COMMIT", "CHANGES");
	for (size_t i = 0; i < applications->count; i++) {
		const application_status *a = &applications->items[i];
		if (!a->synced) {
			printf("  %-*s  %-*s  %-20s  %-*s  %-12s  %s\n", (int)name, a->name, (int)state, sync_state(a), "-",
			       (int)operation, "-", "-", "-");
			continue;
		}
		plumb_format_time(when, a->last.started_at);
		printf("  %-*s  %-*s  %-20s  %-*s  %-12.12s  %u created, %u updated, %u deleted\n", (int)name, a->name,
		       (int)state, sync_state(a), when, (int)operation, a->last.operation, a->last.commit, a->last.created,
		       a->last.updated, a->last.deleted);
	}
}

/* status: what plumb manages at a destination (a root, a cluster), its applications and their last syncs; reads only the store. */
int plumb_cmd_status(int argc, char **argv)
{
	plumb_cli cli;
	plumb_store *store = NULL;
	plumb_inventory inventory = { 0 };
	plumb_sync_record last = { 0 };
	application_list applications = { 0 };
	char *destination = NULL, *context = NULL, *state = NULL;
	char when[32];
	int code = PLUMB_EXIT_ERROR;
	int error;

	if (plumb_cli_parse(&cli, argc, argv, OPT_ROOT | OPT_STATE | OPT_OUTPUT | OPT_CLUSTER_NAME) < 0)
		return PLUMB_EXIT_ERROR;
	if (cli.arg_count) {
		fprintf(stderr, "usage: plumb status [--root DIR | --kubeconfig FILE --context NAME] [--state DIR] [-o text|json]\n");
		return PLUMB_EXIT_ERROR;
	}
	if (plumb_cli_destination(&destination, &context, &cli, 0) < 0)
		goto done;
	state = cli.pipeline.state ? plumb_xstrdup(cli.pipeline.state) : plumb_default_state_dir();
	if ((error = plumb_store_open(&store, state)) < 0 ||
	    (error = plumb_store_inventory_list(&inventory, store, destination, NULL)) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	error = plumb_store_sync_last(&last, store, destination, NULL);
	if ((error < 0 && error != PLUMB_ENOTFOUND) ||
	    list_applications(&applications, store, destination, &inventory, error == 0 ? &last : NULL) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	if (plumb_cli_json(&cli)) {
		print_json(destination, context, error == 0 ? &last : NULL, &applications, &inventory);
		code = PLUMB_EXIT_OK;
		goto done;
	}
	if (context)
		printf("Destination: %s (context %s)\n", destination, context);
	else
		printf("Destination: %s\n", destination);
	if (error == PLUMB_ENOTFOUND) {
		printf("Last sync:   never\n");
	} else {
		plumb_format_time(when, last.started_at);
		printf("Last sync:   %s %s, application %s, commit %s (%s)\n", when, plumb_sync_result_name(last.result),
		       last.application, last.commit, *last.revision ? last.revision : "HEAD");
		printf("             %u created, %u updated, %u deleted%s%s\n", last.created, last.updated, last.deleted,
		       *last.error ? "; error: " : "", last.error);
	}
	for (size_t i = 0; i < applications.count; i++) {
		const application_status *a = &applications.items[i];
		if (a->synced && !strcmp(sync_state(a), "ahead of git"))
			printf("Ahead of git: application %s runs commit %.12s, synced by 'plumb rollback --no-commit'; "
			       "the branch does not hold it until it catches up\n",
			       a->name, a->last.commit);
	}
	print_applications(&applications);
	printf("Managed:     %zu object%s\n", inventory.count, inventory.count == 1 ? "" : "s");
	for (size_t i = 0; i < inventory.count; i++) {
		const plumb_inventory_entry *e = &inventory.items[i];
		char *display = display_of(e);
		printf("  %-9s %s  %s  %s  %s\n", e->kind, display, e->application, e->resource,
		       e->created ? "created" : "adopted");
		free(display);
	}
	code = PLUMB_EXIT_OK;
done:
	applications_release(&applications);
	plumb_sync_record_release(&last);
	plumb_inventory_release(&inventory);
	plumb_store_free(store);
	free(destination);
	free(context);
	free(state);
	return code;
}
