#include "util/common.h"
#include "cmd/cmd.h"

#include <stdio.h>

/* plan = source + load + observe and compare: what would change. */
int plumb_cmd_plan(int argc, char **argv)
{
	plumb_cli cli;
	plumb_pipeline p;
	int code = PLUMB_EXIT_ERROR;

	if (plumb_cli_parse(&cli, argc, argv, OPT_SOURCE | OPT_ROOT | OPT_DETAILED_EXITCODE | OPT_NO_COLOR) < 0)
		return PLUMB_EXIT_ERROR;
	plumb_pipeline_init(&p, &cli.pipeline);
	if (plumb_pipeline_resolve(&p, stdout) == 0 && plumb_pipeline_load(&p) == 0 &&
	    plumb_pipeline_plan(&p, 0) == 0) {
		plumb_plan_print(&p.plan, stdout, cli.color);
		code = cli.detailed_exitcode && plumb_plan_has_changes(&p.plan) ? PLUMB_EXIT_CHANGES : PLUMB_EXIT_OK;
	}
	plumb_pipeline_release(&p);
	return code;
}
