#include "util/common.h"
#include "cmd/cmd.h"

#include <stdio.h>

static int report(plumb_pipeline *p, void *payload)
{
	printf("OK: %s: %zu resources, %zu objects in %s\n", p->application, p->set.resource_count, p->set.object_count,
	       *p->set.path ? p->set.path : ".");
	return 0;
}

/* check = source + load, for every application: is this revision something plumb would apply? */
int plumb_cmd_check(int argc, char **argv)
{
	plumb_cli cli;
	if (plumb_cli_parse(&cli, argc, argv, OPT_SOURCE) < 0)
		return PLUMB_EXIT_ERROR;
	if (cli.arg_count > 1) {
		fprintf(stderr, "plumb check: one application at most\n");
		return PLUMB_EXIT_ERROR;
	}
	int error = plumb_cli_each_application(&cli, cli.arg_count ? cli.args[0] : NULL, stdout, report, NULL);
	return error < 0 ? PLUMB_EXIT_ERROR : PLUMB_EXIT_OK;
}
