#include "util/common.h"
#include "cmd/cmd.h"
#include "plan/planfile.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
	const plumb_cli *cli;
	int changes;
} plan_run;

static int plan_one(plumb_pipeline *p, void *payload)
{
	plan_run *run = payload;
	const plumb_cli *cli = run->cli;
	int json = plumb_cli_json(cli);

	if (plumb_pipeline_plan(p) < 0)
		return -1;
	json_t *detail = json_pack("{s:s, s:s, s:i, s:i, s:i, s:s}", "commit", p->commit, "destination", p->destination,
				   "create", (int)p->plan.to_create, "update", (int)p->plan.to_update, "delete",
				   (int)p->plan.to_delete, "saved_to", cli->out ? cli->out : "");
	char *detail_text = json_dumps(detail, JSON_COMPACT);
	plumb_pipeline_record(p, "plan", detail_text);
	free(detail_text);
	json_decref(detail);
	if (json) {
		char *text = plumb_planfile_format(&p->plan);
		fputs(text, stdout);
		free(text);
	} else {
		plumb_plan_print(&p->plan, stdout, cli->color);
	}
	if (cli->out) {
		if (plumb_planfile_write(&p->plan, cli->out) < 0) {
			fprintf(stderr, "plumb: %s\n", plumb_error_last());
			return -1;
		}
		fprintf(json ? stderr : stdout, "Saved the plan to %s. Apply exactly this plan with: plumb apply %s\n",
			cli->out, cli->out);
	}
	run->changes |= plumb_plan_has_changes(&p->plan);
	return 0;
}

/* plan = source + load + observe and compare: what would change; optionally saved for review. */
int plumb_cmd_plan(int argc, char **argv)
{
	plumb_cli cli;
	unsigned mask = OPT_SOURCE | OPT_ROOT | OPT_CLUSTER | OPT_IDENTITY | OPT_DETAILED_EXITCODE | OPT_NO_COLOR | OPT_OUTPUT |
			OPT_OUT;

	if (plumb_cli_parse(&cli, argc, argv, mask) < 0)
		return PLUMB_EXIT_ERROR;
	plan_run run = { &cli, 0 };
	/* With -o json, stdout carries the plan alone. A plan file holds one application's plan. */
	int error = plumb_cli_each_application(&cli, cli.arg_count ? cli.args[0] : NULL,
					       plumb_cli_json(&cli) ? stderr : stdout, plan_one, &run);
	if (error < 0)
		return PLUMB_EXIT_ERROR;
	return cli.detailed_exitcode && run.changes ? PLUMB_EXIT_CHANGES : PLUMB_EXIT_OK;
}
