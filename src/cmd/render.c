#include "util/common.h"
#include "cmd/cmd.h"

#include <stdio.h>

static int print_resources(plumb_pipeline *p, void *payload)
{
	int json = *(int *)payload;
	for (size_t i = 0; i < p->set.resource_count; i++) {
		const plumb_resource *r = &p->set.resources[i];
		if (json)
			printf("%s\n", r->json);
		else
			printf("---\n# Source: %s:%u\n%s", r->file, r->line, r->yaml);
	}
	return 0;
}

/* render = source + load: the resources as plumb read them, every application's. */
int plumb_cmd_render(int argc, char **argv)
{
	plumb_cli cli;
	if (plumb_cli_parse(&cli, argc, argv, OPT_SOURCE | OPT_OUTPUT | OPT_OUTPUT_YAML | OPT_CLUSTER) < 0)
		return PLUMB_EXIT_ERROR;
	int json = plumb_cli_json(&cli);
	/* stdout carries the documents, so the commit line goes to stderr. */
	int error = plumb_cli_each_application(&cli, cli.arg_count ? cli.args[0] : NULL, stderr, print_resources, &json);
	return error < 0 ? PLUMB_EXIT_ERROR : PLUMB_EXIT_OK;
}
