#include "util/common.h"
#include "cmd/cmd.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/*
 * The applications whose last sync was an emergency rollback that the
 * branch does not hold: git is behind the host for them. Appended to out,
 * one name per entry.
 */
static int applications_ahead_of_git(json_t *out, plumb_store *store, const char *destination,
				     const plumb_inventory *inventory)
{
	for (size_t i = 0; i < inventory->count; i++) {
		const char *application = inventory->items[i].application;
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(inventory->items[j].application, application);
		if (seen)
			continue;
		plumb_sync_record last = { 0 };
		int error = plumb_store_sync_last(&last, store, destination, application);
		if (error == 0 && !strcmp(last.operation, "rollback-no-commit") && last.result == PLUMB_SYNC_SUCCEEDED) {
			json_t *entry = json_pack("{s:s, s:s}", "application", application, "commit", last.commit);
			json_array_append_new(out, entry);
		}
		plumb_sync_record_release(&last);
		if (error < 0 && error != PLUMB_ENOTFOUND)
			return error;
	}
	return 0;
}

static void print_json(const char *destination, const plumb_sync_record *last, const plumb_inventory *inventory,
		       json_t *ahead)
{
	json_t *doc = json_object();
	json_t *objects = json_array();
	char when[32];

	json_object_set_new(doc, "destination", json_string(destination));
	if (last) {
		json_t *sync = json_object();
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
		json_object_set_new(doc, "last_sync", sync);

	} else {
		json_object_set_new(doc, "last_sync", json_null());

	}
	for (size_t i = 0; i < inventory->count; i++) {
		const plumb_inventory_entry *e = &inventory->items[i];
		json_t *o = json_object();
		char *display = plumb_xprintf("/%s", e->key);
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
	json_object_set_new(doc, "ahead_of_git_applications", json_incref(ahead));
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(doc);
}

/* status: what plumb manages under a root, and the last sync there; reads only the store. */
int plumb_cmd_status(int argc, char **argv)
{
	plumb_cli cli;
	plumb_store *store = NULL;
	plumb_inventory inventory = { 0 };
	plumb_sync_record last = { 0 };
	char *destination = NULL, *state = NULL;
	char when[32];
	json_t *ahead = json_array();
	int code = PLUMB_EXIT_ERROR;
	int error;

	if (plumb_cli_parse(&cli, argc, argv, OPT_ROOT | OPT_STATE | OPT_OUTPUT) < 0) {
		json_decref(ahead);
		return PLUMB_EXIT_ERROR;
	}
	destination = plumb_destination_path(cli.pipeline.root);
	state = cli.pipeline.state ? plumb_xstrdup(cli.pipeline.state) : plumb_default_state_dir();
	if ((error = plumb_store_open(&store, state)) < 0 ||
	    (error = plumb_store_inventory_list(&inventory, store, destination, NULL)) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	if (applications_ahead_of_git(ahead, store, destination, &inventory) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	error = plumb_store_sync_last(&last, store, destination, NULL);
	if (error < 0 && error != PLUMB_ENOTFOUND) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	if (plumb_cli_json(&cli)) {
		print_json(destination, error == 0 ? &last : NULL, &inventory, ahead);
		code = PLUMB_EXIT_OK;
		goto done;
	}
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
	for (size_t i = 0; i < json_array_size(ahead); i++) {
		json_t *entry = json_array_get(ahead, i);
		printf("Ahead of git: application %s runs commit %.12s, synced by 'plumb rollback --no-commit'; the "
		       "branch does not hold it until it catches up\n",
		       json_string_value(json_object_get(entry, "application")),
		       json_string_value(json_object_get(entry, "commit")));
	}
	printf("Managed:     %zu object%s\n", inventory.count, inventory.count == 1 ? "" : "s");
	for (size_t i = 0; i < inventory.count; i++) {
		const plumb_inventory_entry *e = &inventory.items[i];
		printf("  %-9s /%s  %s  %s  %s\n", e->kind, e->key, e->application, e->resource,
		       e->created ? "created" : "adopted");
	}
	code = PLUMB_EXIT_OK;
done:
	json_decref(ahead);
	plumb_sync_record_release(&last);
	plumb_inventory_release(&inventory);
	plumb_store_free(store);
	free(destination);
	free(state);
	return code;
}
