#include "util/common.h"
#include "cmd/cmd.h"

#include <stdio.h>

/* render = source + load: the resources as plumb read them. */
int plumb_cmd_render(int argc, char **argv)
{
	plumb_cli cli;
	plumb_pipeline p;
	int code = PLUMB_EXIT_ERROR;

	if (plumb_cli_parse(&cli, argc, argv, OPT_SOURCE | OPT_OUTPUT | OPT_OUTPUT_YAML) < 0)
		return PLUMB_EXIT_ERROR;
	int json = plumb_cli_json(&cli);
	plumb_pipeline_init(&p, &cli.pipeline);
	/* stdout carries the documents, so the commit line goes to stderr. */
	if (plumb_pipeline_resolve(&p, stderr) == 0 && plumb_pipeline_load(&p) == 0) {
		for (size_t i = 0; i < p.set.resource_count; i++) {
			const plumb_resource *r = &p.set.resources[i];
			if (json)
				printf("%s\n", r->json);
			else
				printf("---\n# Source: %s:%u\n%s", r->file, r->line, r->yaml);
		}
		code = PLUMB_EXIT_OK;
	}
	plumb_pipeline_release(&p);
	return code;
}
