#include "util/common.h"
#include "cmd/cmd.h"
#include "plan/planfile.h"

#include <stdio.h>
#include <stdlib.h>

/* show: a saved plan, for people (as plan prints it) or for machines (-o json, the verified file). */
int plumb_cmd_show(int argc, char **argv)
{
	plumb_cli cli;
	plumb_plan plan;

	if (plumb_cli_parse(&cli, argc, argv, OPT_OUTPUT | OPT_NO_COLOR) < 0)
		return PLUMB_EXIT_ERROR;
	if (cli.arg_count != 1) {
		fprintf(stderr, "usage: plumb show PLAN_FILE [-o text|json]\n");
		return PLUMB_EXIT_ERROR;
	}
	if (plumb_planfile_read(&plan, cli.args[0]) < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		plumb_plan_release(&plan);
		return PLUMB_EXIT_ERROR;
	}
	if (plumb_cli_json(&cli)) {
		char *text = plumb_planfile_format(&plan);
		fputs(text, stdout);
		free(text);
	} else {
		printf("Plan of commit %s (%s) of %s\n", plan.commit, *plan.revision ? plan.revision : "HEAD", plan.repo);
		printf("Application %s, path %s, into %s\n", plan.application, *plan.path ? plan.path : ".",
		       plan.destination);
		if (plan.cluster)
			printf("Context %s of %s, namespace %s\n", plan.cluster->context,
			       plan.cluster->kubeconfig ? plan.cluster->kubeconfig : "the default kubeconfig",
			       plan.cluster->namespace ? plan.cluster->namespace : "of the context");
		plumb_plan_print(&plan, stdout, cli.color);
	}
	plumb_plan_release(&plan);
	return PLUMB_EXIT_OK;
}
