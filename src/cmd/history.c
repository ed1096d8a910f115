#include "util/common.h"
#include "cmd/cmd.h"
#include "providers/registry.h"
#include "store/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* How many characters of a commit id the list shows, as git's short ids. */
#define SHORT_COMMIT 7

static void print_list(const plumb_sync_records *syncs)
{
	size_t application = strlen("APPLICATION"), operation = strlen("OPERATION"), trigger = strlen("TRIGGER");
	size_t actor = strlen("ACTOR");
	char when[32];

	for (size_t i = 0; i < syncs->count; i++) {
		const plumb_sync_record *s = &syncs->items[i];
		application = plumb_cli_widest(application, s->application);
		operation = plumb_cli_widest(operation, s->operation);
		trigger = plumb_cli_widest(trigger, s->trigger);
		actor = plumb_cli_widest(actor, s->actor);
	}
	printf("%6s  %-20s  %-*s  %-*s  %-*s  %-*s  %-7s  %7s  %7s  %7s  %s\n", "ID", "STARTED (UTC)",
	       (int)application, "APPLICATION", (int)operation, "OPERATION", (int)trigger, "TRIGGER", (int)actor,
	       "ACTOR", "COMMIT", "CREATED", "UPDATED", "DELETED", "RESULT");
	for (size_t i = 0; i < syncs->count; i++) {
		const plumb_sync_record *s = &syncs->items[i];
		plumb_format_time(when, s->started_at);
		printf("%6lld  %-20s  %-*s  %-*s  %-*s  %-*s  %-7.*s  %7u  %7u  %7u  %s\n", (long long)s->id, when,
		       (int)application, plumb_cli_cell(s->application), (int)operation, plumb_cli_cell(s->operation), (int)trigger,
		       plumb_cli_cell(s->trigger), (int)actor, plumb_cli_cell(s->actor), SHORT_COMMIT, plumb_cli_cell(s->commit), s->created,
		       s->updated, s->deleted, plumb_sync_result_name(s->result));
		if (*s->error)
			printf("%6s  error: %s\n", "", s->error);
	}
}

static int list_syncs(const plumb_cli *cli, plumb_store *store, const char *application, unsigned limit)
{
	plumb_sync_records syncs = { 0 };
	char *destination = NULL, *context = NULL;
	int code = PLUMB_EXIT_ERROR;

	if (plumb_cli_destination(&destination, &context, cli, 1) < 0)
		goto done;
	if (plumb_store_sync_list(&syncs, store, destination, application, limit) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	if (plumb_cli_json(cli)) {
		plumb_cli_print_json(json_pack("{s:o}", "syncs", plumb_sync_records_json(&syncs)));
	} else if (syncs.count == 0) {
		printf("No syncs recorded%s%s%s%s.\n", application ? " of application " : "",
		       application ? application : "", destination ? " into " : "", destination ? destination : "");
	} else {
		print_list(&syncs);
	}
	code = PLUMB_EXIT_OK;

done:
	plumb_sync_records_release(&syncs);
	free(destination);
	free(context);
	return code;
}

static void print_sync(const plumb_sync_record *s, const plumb_action_records *actions)
{
	char when[32];

	printf("Sync %lld: %s\n", (long long)s->id, plumb_sync_result_name(s->result));
	printf("  Application: %s\n", plumb_cli_cell(s->application));
	printf("  Destination: %s\n", plumb_cli_cell(s->destination));
	printf("  Operation:   %s\n", plumb_cli_cell(s->operation));
	printf("  Trigger:     %s\n", plumb_cli_cell(s->trigger));
	printf("  Actor:       %s\n", plumb_cli_cell(s->actor));
	printf("  Repository:  %s\n", plumb_cli_cell(s->repo));
	printf("  Revision:    %s\n", *s->revision ? s->revision : "HEAD");
	printf("  Commit:      %s\n", plumb_cli_cell(s->commit));
	printf("  Path:        %s\n", *s->path ? s->path : "(the top of the repository)");
	plumb_format_time(when, s->started_at);
	printf("  Started:     %s\n", when);
	plumb_format_time(when, s->finished_at);
	printf("  Finished:    %s\n", s->finished_at ? when : "not yet");
	printf("  Changes:     %u created, %u updated, %u deleted\n", s->created, s->updated, s->deleted);
	if (*s->error)
		printf("  Error:       %s\n", s->error);

	printf("\nActions: %zu\n", actions->count);
	const plumb_provider *provider = plumb_provider_of_destination(s->destination);
	for (size_t i = 0; i < actions->count; i++) {
		const plumb_action_record *a = &actions->items[i];
		/* A host's key as it is (etc/motd), a cluster's as its provider shows it (NAMESPACE/NAME). */
		char *display = provider && provider->display_of ? provider->display_of(a->key) : plumb_xstrdup(a->key);
		printf("  %-7s %-10s %s  %s\n", plumb_cli_cell(a->action), plumb_cli_cell(a->kind), display,
		       plumb_outcome_name(a->outcome));
		free(display);
		if (*a->reason)
			printf("          reason: %s\n", a->reason);
		if (*a->before || *a->after)
			printf("          %s -> %s\n", *a->before ? a->before : "(none)",
			       *a->after ? a->after : "(not observed)");
		if (*a->error)
			printf("          error: %s\n", a->error);
	}
}

static int show_sync(const plumb_cli *cli, plumb_store *store, const char *id_text)
{
	plumb_sync_record sync = { 0 };
	plumb_action_records actions = { 0 };
	int64_t id;
	int code = PLUMB_EXIT_ERROR;
	int error;

	if (plumb_cli_parse_id(&id, id_text) < 0) {
		fprintf(stderr, "plumb history show: '%s' is not a sync id (see 'plumb history')\n", id_text);
		return PLUMB_EXIT_ERROR;
	}
	error = plumb_store_sync_get(&sync, store, id);
	if (error == PLUMB_ENOTFOUND) {
		fprintf(stderr, "plumb history show: no sync %lld\n", (long long)id);
		goto done;
	}
	if (error < 0 || plumb_store_action_list(&actions, store, sync.id) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	if (plumb_cli_json(cli)) {
		plumb_cli_print_json(plumb_sync_record_json(&sync, &actions));
	} else {
		print_sync(&sync, &actions);
	}
	code = PLUMB_EXIT_OK;

done:
	plumb_action_records_release(&actions);
	plumb_sync_record_release(&sync);
	return code;
}

/* history: the syncs recorded in the store, or one of them with its actions; reads only the store. */
int plumb_cmd_history(int argc, char **argv)
{
	plumb_cli cli;
	plumb_store *store = NULL;
	char *state = NULL;
	int code = PLUMB_EXIT_ERROR;

	if (plumb_cli_parse(&cli, argc, argv, OPT_ROOT | OPT_STATE | OPT_OUTPUT | OPT_LIMIT | OPT_CLUSTER_NAME) < 0)
		return PLUMB_EXIT_ERROR;
	if (strcmp(cli.output, "text") != 0 && !plumb_cli_json(&cli)) {
		fprintf(stderr, "plumb history: -o must be text or json, not '%s'\n", cli.output);
		return PLUMB_EXIT_ERROR;
	}
	int show = cli.arg_count > 0 && !strcmp(cli.args[0], "show");
	if (show && cli.arg_count != 2) {
		fprintf(stderr, "plumb history show: give one sync id (usage: plumb history show ID)\n");
		return PLUMB_EXIT_ERROR;
	}
	if (show && (cli.limit || cli.pipeline.root || cli.pipeline.kubernetes)) {
		fprintf(stderr, "plumb history show: --limit, --root and a cluster choose syncs to list, not one to show\n");
		return PLUMB_EXIT_ERROR;
	}
	if (!show && cli.arg_count > 1) {
		fprintf(stderr, "plumb history: one application at most, not '%s' and '%s'\n", cli.args[0],
			cli.args[1]);
		return PLUMB_EXIT_ERROR;
	}

	state = cli.pipeline.state ? plumb_xstrdup(cli.pipeline.state) : plumb_default_state_dir();
	if (plumb_store_open(&store, state) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	code = show ? show_sync(&cli, store, cli.args[1]) :
		      list_syncs(&cli, store, cli.arg_count ? cli.args[0] : NULL, cli.limit);

done:
	plumb_store_free(store);
	free(state);
	return code;
}
