#include "util/common.h"
#include "cmd/cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static const char *result_name(plumb_sync_result result)
{
	switch (result) {
	case PLUMB_SYNC_SUCCEEDED:
		return "succeeded";
	case PLUMB_SYNC_FAILED:
		return "failed";
	default:
		return "running";
	}
}

static void format_time(char *out, size_t size, int64_t when)
{
	time_t t = (time_t)when;
	struct tm tm;
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
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
	int code = PLUMB_EXIT_ERROR;
	int error;

	if (plumb_cli_parse(&cli, argc, argv, OPT_ROOT | OPT_STATE) < 0)
		return PLUMB_EXIT_ERROR;
	destination = plumb_destination_path(cli.pipeline.root);
	state = cli.pipeline.state ? plumb_xstrdup(cli.pipeline.state) : plumb_default_state_dir();
	if ((error = plumb_store_open(&store, state)) < 0 ||
	    (error = plumb_store_inventory_list(&inventory, store, destination, NULL)) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	printf("Destination: %s\n", destination);
	error = plumb_store_sync_last(&last, store, destination, NULL);
	if (error == PLUMB_ENOTFOUND) {
		printf("Last sync:   never\n");
	} else if (error < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	} else {
		format_time(when, sizeof(when), last.started_at);
		printf("Last sync:   %s %s, application %s, commit %s (%s)\n", when, result_name(last.result),
		       last.application, last.commit, *last.revision ? last.revision : "HEAD");
		printf("             %u created, %u updated, %u deleted%s%s\n", last.created, last.updated, last.deleted,
		       *last.error ? "; error: " : "", last.error);
	}
	printf("Managed:     %zu object%s\n", inventory.count, inventory.count == 1 ? "" : "s");
	for (size_t i = 0; i < inventory.count; i++) {
		const plumb_inventory_entry *e = &inventory.items[i];
		printf("  %-9s /%s  %s  %s  %s\n", e->kind, e->key, e->application, e->resource,
		       e->created ? "created" : "adopted");
	}
	code = PLUMB_EXIT_OK;
done:
	plumb_sync_record_release(&last);
	plumb_inventory_release(&inventory);
	plumb_store_free(store);
	free(destination);
	free(state);
	return code;
}
