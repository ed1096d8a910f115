#include "util/common.h"
#include "cmd/cmd.h"
#include "store/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

/* How many characters of a commit id the list shows, as git's short ids. */
#define SHORT_COMMIT 7

static void print_list(const plumb_approval_records *approvals)
{
	size_t application = strlen("APPLICATION"), summary = strlen("SUMMARY");
	char when[32];

	for (size_t i = 0; i < approvals->count; i++) {
		application = plumb_cli_widest(application, approvals->items[i].application);
		summary = plumb_cli_widest(summary, approvals->items[i].summary);
	}
	printf("%6s  %-20s  %-*s  %-7s  %-10s  %-*s  %s\n", "ID", "CREATED (UTC)", (int)application, "APPLICATION",
	       "COMMIT", "STATE", (int)summary, "SUMMARY", "DECIDED BY");
	for (size_t i = 0; i < approvals->count; i++) {
		const plumb_approval_record *a = &approvals->items[i];
		plumb_format_time(when, a->created_at);
		printf("%6lld  %-20s  %-*s  %-7.*s  %-10s  %-*s  %s\n", (long long)a->id, when, (int)application,
		       plumb_cli_cell(a->application), SHORT_COMMIT, plumb_cli_cell(a->commit), plumb_approval_state_name(a->state),
		       (int)summary, plumb_cli_cell(a->summary), plumb_cli_cell(a->decided_by));
		if (*a->note)
			printf("%6s  note: %s\n", "", a->note);
	}
}

static int list_approvals(const plumb_cli *cli, plumb_store *store)
{
	plumb_approval_records approvals = { 0 };
	char *destination = cli->pipeline.root ? plumb_destination_path(cli->pipeline.root) : NULL;
	int code = PLUMB_EXIT_ERROR;

	if (plumb_store_approval_list(&approvals, store, destination, NULL, cli->limit) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	if (plumb_cli_json(cli)) {
		plumb_cli_print_json(json_pack("{s:o}", "approvals", plumb_approval_records_json(&approvals)));
	} else if (approvals.count == 0) {
		printf("No plans awaiting approval recorded%s%s.\n", destination ? " for " : "",
		       destination ? destination : "");
	} else {
		print_list(&approvals);
	}
	code = PLUMB_EXIT_OK;

done:
	plumb_approval_records_release(&approvals);
	free(destination);
	return code;
}

/* A string member of an action, "" when absent or not a string. */
static const char *member(json_t *object, const char *key)
{
	const char *value = json_string_value(json_object_get(object, key));
	return value ? value : "";
}

/* A diff indented under its action, as 'plumb plan' prints it. */
static void print_diff(const char *diff)
{
	const char *line = diff;
	while (*line) {
		const char *end = strchrnul(line, '\n');
		printf("    %.*s\n", (int)(end - line), line);
		line = *end ? end + 1 : end;
	}
}

/*
 * The actions of a stored plan document in the form 'plumb plan' prints
 * them. The document is not read through planfile.h, which reads files:
 * the store holds what plumb wrote, and its checksum was verified when the
 * plan was applied, not here.
 */
static int print_plan_actions(const plumb_approval_record *a)
{
	json_error_t json_error;
	json_t *doc = json_loads(a->plan, JSON_REJECT_DUPLICATES, &json_error);
	json_t *actions = json_object_get(doc, "actions");
	size_t i;
	json_t *action;

	if (!json_is_object(doc) || !json_is_array(actions)) {
		fprintf(stderr, "plumb approvals show: plan %lld's document is not a plan%s%s\n", (long long)a->id,
			doc ? "" : ": ", doc ? "" : json_error.text);
		json_decref(doc);
		return PLUMB_EXIT_ERROR;
	}
	json_array_foreach(actions, i, action) {
		const char *type = member(action, "action"), *kind = member(action, "kind"), *path = member(action, "path");
		const char *reason = member(action, "reason"), *resource = member(action, "resource");
		const char *marker = !strcmp(type, "create") ? "+" : !strcmp(type, "update") ? "~" :
				     !strcmp(type, "delete") ? "-" : NULL;
		if (!marker) {
			/* An object that leaves the inventory but stays. */
			printf("  %s %s%s%s\n", kind, path, *reason ? ": " : "", reason);
			continue;
		}
		printf("%s %s %s%s%s", marker, kind, path, *reason ? ": " : "", reason);
		if (*resource)
			printf("  (%s)", resource);
		putchar('\n');
		print_diff(member(action, "diff"));
	}
	json_decref(doc);
	return PLUMB_EXIT_OK;
}

static void print_approval(const plumb_approval_record *a)
{
	char when[32];

	printf("Plan %lld: %s\n", (long long)a->id, plumb_approval_state_name(a->state));
	printf("  Application:  %s\n", plumb_cli_cell(a->application));
	printf("  Destination:  %s\n", plumb_cli_cell(a->destination));
	printf("  Commit:       %s\n", plumb_cli_cell(a->commit));
	printf("  Requested by: %s\n", plumb_cli_cell(a->requested_by));
	plumb_format_time(when, a->created_at);
	printf("  Requested:    %s\n", when);
	printf("  Decided by:   %s\n", plumb_cli_cell(a->decided_by));
	plumb_format_time(when, a->decided_at);
	printf("  Decided:      %s\n", a->decided_at ? when : "not yet");
	if (*a->note)
		printf("  Note:         %s\n", a->note);
	putchar('\n');
}

static int show_approval(const plumb_cli *cli, plumb_store *store, const char *id_text)
{
	plumb_approval_record approval = { 0 };
	int64_t id;
	int code = PLUMB_EXIT_ERROR;
	int error;

	if (plumb_cli_parse_id(&id, id_text) < 0) {
		fprintf(stderr, "plumb approvals show: '%s' is not a plan id (see 'plumb approvals')\n", id_text);
		return PLUMB_EXIT_ERROR;
	}
	error = plumb_store_approval_get(&approval, store, id);
	if (error == PLUMB_ENOTFOUND) {
		fprintf(stderr, "plumb approvals show: no plan %lld\n", (long long)id);
		goto done;
	}
	if (error < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	if (plumb_cli_json(cli)) {
		plumb_cli_print_json(plumb_approval_record_json(&approval, 1));
		code = PLUMB_EXIT_OK;
	} else {
		print_approval(&approval);
		code = print_plan_actions(&approval);
		if (code == PLUMB_EXIT_OK)
			printf("%s\n", *approval.summary ? approval.summary : "Plan: no summary recorded.");
	}

done:
	plumb_approval_record_release(&approval);
	return code;
}

/* approvals: the plans that waited for a person and what became of them, or one of them; reads only the store. */
int plumb_cmd_approvals(int argc, char **argv)
{
	plumb_cli cli;
	plumb_store *store = NULL;
	char *state = NULL;
	int code = PLUMB_EXIT_ERROR;

	if (plumb_cli_parse(&cli, argc, argv, OPT_ROOT | OPT_STATE | OPT_OUTPUT | OPT_LIMIT) < 0)
		return PLUMB_EXIT_ERROR;
	int show = cli.arg_count > 0 && !strcmp(cli.args[0], "show");
	if (show && cli.arg_count != 2) {
		fprintf(stderr, "plumb approvals show: give one plan id (usage: plumb approvals show ID)\n");
		return PLUMB_EXIT_ERROR;
	}
	if (show && (cli.limit || cli.pipeline.root)) {
		fprintf(stderr, "plumb approvals show: --limit and --root choose plans to list, not one to show\n");
		return PLUMB_EXIT_ERROR;
	}
	if (!show && cli.arg_count > 0) {
		fprintf(stderr, "plumb approvals: unexpected '%s' (usage: plumb approvals [show ID])\n", cli.args[0]);
		return PLUMB_EXIT_ERROR;
	}

	state = cli.pipeline.state ? plumb_xstrdup(cli.pipeline.state) : plumb_default_state_dir();
	if (plumb_store_open(&store, state) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	code = show ? show_approval(&cli, store, cli.args[1]) : list_approvals(&cli, store);

done:
	plumb_store_free(store);
	free(state);
	return code;
}

/*
 * Take --note TEXT (or --note=TEXT) out of argv, which plumb_cli_parse does
 * not know, into *note; *rest gets the other arguments (a new array of
 * argv's strings, NULL-terminated) and *rest_count their number. Only
 * options before "--" count, and the value of --state is not mistaken for
 * one. Returns 0, or prints why not and returns -1.
 */
static int take_note(const char **note, char ***rest, int *rest_count, int argc, char **argv)
{
	char **kept = plumb_xcalloc((size_t)argc + 1, sizeof(*kept));
	int count = 0, options_end = 0;

	*note = NULL;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i];
		if (i > 0 && !options_end && !strcmp(arg, "--")) {
			options_end = 1;
		} else if (i > 0 && !options_end && !strcmp(arg, "--note")) {
			if (i + 1 >= argc) {
				fprintf(stderr, "plumb %s: option --note needs a value\n", argv[0]);
				free(kept);
				return -1;
			}
			*note = argv[++i];
			continue;
		} else if (i > 0 && !options_end && !strncmp(arg, "--note=", 7)) {
			*note = arg + 7;
			continue;
		} else if (i > 0 && !options_end && !strcmp(arg, "--state") && i + 1 < argc) {
			kept[count++] = argv[i++];
			arg = argv[i];
		}
		kept[count++] = (char *)arg;
	}
	*rest = kept;
	*rest_count = count;
	return 0;
}

/* approve and reject: a person's decision on a pending plan, recorded as plumb_actor(). */
static int decide(int argc, char **argv, int approve)
{
	const char *verb = approve ? "approve" : "reject";
	plumb_approval_record approval = { 0 };
	plumb_cli cli;
	plumb_store *store = NULL;
	char **args = NULL;
	char *state = NULL, *actor = NULL;
	const char *note = NULL;
	int64_t id;
	int count = 0;
	int code = PLUMB_EXIT_ERROR;
	int error;

	if (take_note(&note, &args, &count, argc, argv) < 0)
		return PLUMB_EXIT_ERROR;
	if (plumb_cli_parse(&cli, count, args, OPT_STATE) < 0)
		goto done;
	if (cli.arg_count != 1) {
		fprintf(stderr, "usage: plumb %s ID [--state DIR] [--note TEXT] (see 'plumb approvals')\n", verb);
		goto done;
	}
	if (plumb_cli_parse_id(&id, cli.args[0]) < 0) {
		fprintf(stderr, "plumb %s: '%s' is not a plan id (see 'plumb approvals')\n", verb, cli.args[0]);
		goto done;
	}

	state = cli.pipeline.state ? plumb_xstrdup(cli.pipeline.state) : plumb_default_state_dir();
	if (plumb_store_open(&store, state) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	/* Read first for the messages; the decision itself checks the state again under the store's lock. */
	error = plumb_store_approval_get(&approval, store, id);
	if (error == PLUMB_ENOTFOUND) {
		fprintf(stderr, "plumb %s: no plan %lld (see 'plumb approvals')\n", verb, (long long)id);
		goto done;
	}
	if (error < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	if (approval.state != PLUMB_APPROVAL_PENDING) {
		fprintf(stderr, "plumb %s: plan %lld is %s, not pending: only a pending plan can be %s\n", verb,
			(long long)id, plumb_approval_state_name(approval.state), approve ? "approved" : "rejected");
		goto done;
	}
	actor = plumb_actor();
	error = plumb_store_approval_decide(store, id, approve, actor, note);
	if (error == PLUMB_ECONFLICT) {
		fprintf(stderr, "plumb %s: plan %lld is no longer pending: %s\n", verb, (long long)id,
			plumb_error_last());
		goto done;
	}
	if (error < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	printf("Plan %lld of %s (commit %.*s) %s by %s.\n", (long long)id, plumb_cli_cell(approval.application), SHORT_COMMIT,
	       plumb_cli_cell(approval.commit), approve ? "approved" : "rejected", actor);
	code = PLUMB_EXIT_OK;

done:
	plumb_approval_record_release(&approval);
	plumb_store_free(store);
	free(actor);
	free(state);
	free(args);
	return code;
}

int plumb_cmd_approve(int argc, char **argv)
{
	return decide(argc, argv, 1);
}

int plumb_cmd_reject(int argc, char **argv)
{
	return decide(argc, argv, 0);
}
