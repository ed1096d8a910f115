#include "util/common.h"
#include "cmd/cmd.h"

#include <stdio.h>

typedef struct {
	int json;
	/* -o json: one entry per application, printed as one document once every application rendered. */
	json_t *applications;
} render_run;

static json_t *string_or_null(const char *value)
{
	return value && *value ? json_string(value) : json_null();
}

/* Where the application goes, in the shape of an Application's spec.destination. */
static json_t *destination_json(const plumb_pipeline_options *options)
{
	if (options->kubernetes)
		return json_pack("{s:{s:o, s:o}}", "kubernetes", "context", string_or_null(options->context),
				 "namespace", string_or_null(options->namespace));
	return json_pack("{s:{s:s}}", "host", "root", options->root ? options->root : "/");
}

/*
 * An application and its objects, each the resource as loaded (a Secret's
 * values masked) with the application it belongs to and where it was read.
 */
static int add_application(json_t *applications, plumb_pipeline *p)
{
	const char *path = *p->set.path ? p->set.path : ".";
	const char *renderer = plumb_render_kind(p->source, p->commit, p->set.path);
	json_t *objects = json_array();
	for (size_t i = 0; i < p->set.resource_count; i++) {
		const plumb_resource *r = &p->set.resources[i];
		json_error_t problem;
		json_t *object = json_loads(r->json, JSON_ALLOW_NUL, &problem);
		if (!object) {
			json_decref(objects);
			fprintf(stderr, "plumb: %s:%u: %s\n", r->file, r->line, problem.text);
			return PLUMB_ERROR;
		}
		char *source = plumb_xprintf("%s:%u", r->file, r->line);
		json_array_append_new(objects, json_pack("{s:s, s:s, s:o}", "application", p->application, "source",
							 source, "object", object));
		free(source);
	}
	json_array_append_new(applications,
			      json_pack("{s:s, s:s, s:s, s:o, s:o, s:o}", "name", p->application, "commit", p->commit,
					"path", path, "destination", destination_json(&p->options), "renderer",
					string_or_null(renderer), "objects", objects));
	return 0;
}

static int print_resources(plumb_pipeline *p, void *payload)
{
	render_run *run = payload;
	if (run->json)
		return add_application(run->applications, p);
	printf("# Application: %s\n", p->application);
	for (size_t i = 0; i < p->set.resource_count; i++) {
		const plumb_resource *r = &p->set.resources[i];
		size_t len = strlen(r->yaml);
		/* The next heading must start a line of its own. */
		printf("---\n# Source: %s:%u\n%s%s", r->file, r->line, r->yaml,
		       len && r->yaml[len - 1] != '\n' ? "\n" : "");
	}
	return 0;
}

/* render = source + load: the resources as plumb read them, every application's. */
int plumb_cmd_render(int argc, char **argv)
{
	plumb_cli cli;
	if (plumb_cli_parse(&cli, argc, argv, OPT_SOURCE | OPT_OUTPUT | OPT_OUTPUT_YAML | OPT_CLUSTER) < 0)
		return PLUMB_EXIT_ERROR;
	render_run run = { plumb_cli_json(&cli), json_array() };
	/* stdout carries the documents, so the commit line goes to stderr. */
	int error = plumb_cli_each_application(&cli, cli.arg_count ? cli.args[0] : NULL, stderr, print_resources, &run);
	/* A document cut short by an application that failed would read as complete: print none. */
	if (run.json && error == 0)
		plumb_cli_print_json(json_pack("{s:O}", "applications", run.applications));
	json_decref(run.applications);
	return error < 0 ? PLUMB_EXIT_ERROR : PLUMB_EXIT_OK;
}
