#include "util/common.h"
#include "cmd/cmd.h"

#include <stdio.h>

/* check = source + load: is this revision something plumb would apply? */
int plumb_cmd_check(int argc, char **argv)
{
	plumb_cli cli;
	plumb_pipeline p;
	int code = PLUMB_EXIT_ERROR;

	if (plumb_cli_parse(&cli, argc, argv, OPT_SOURCE) < 0)
		return PLUMB_EXIT_ERROR;
	plumb_pipeline_init(&p, &cli.pipeline);
	if (plumb_pipeline_resolve(&p, stdout) == 0 && plumb_pipeline_load(&p) == 0) {
		printf("OK: %zu resources, %zu objects in %s\n", p.set.resource_count, p.set.object_count,
		       *p.set.path ? p.set.path : ".");
		code = PLUMB_EXIT_OK;
	}
	plumb_pipeline_release(&p);
	return code;
}
