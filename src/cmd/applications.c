#include "util/common.h"
#include "load/discover.h"
#include "cmd/cmd.h"
#include "util/path.h"

#include <stdio.h>
#include <stdlib.h>

/* Did one of the applications this one depends on fail (or was it skipped)? */
static const char *failed_dependency(const plumb_application *a, const plumb_applications *all, const char *failed)
{
	for (size_t i = 0; i < a->depends_on_count; i++) {
		const plumb_application *d = plumb_applications_find(all, a->depends_on[i]);
		if (d && failed[d - all->items])
			return d->name;
	}
	return NULL;
}

void plumb_cli_application_options(plumb_pipeline_options *options, char **app_root, const plumb_application *a,
				   const char *root)
{
	*app_root = !*a->root		   ? plumb_xstrdup(root)
		    : !strcmp(root, "/") ? plumb_xprintf("/%s", a->root)
					 : plumb_path_join(root, a->root);
	/*
	 * An Application says where it goes; the implicit one goes where the command line
	 * says (a cluster when one is named: discovery was told). The command line's
	 * context and namespace are the defaults of an Application that names none.
	 */
	plumb_pipeline_options_cluster(options, a);
	options->path = a->path;
	options->root = *app_root;
	options->application = a->name;
	options->render = a->render;
	options->keep_unlisted = !a->prune;
	options->submodules = options->submodules || a->submodules;
}

int plumb_cli_each_application(const plumb_cli *cli, const char *operand, FILE *info, plumb_application_step step,
			       void *payload)
{
	plumb_pipeline top;
	plumb_applications apps = { 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	char *implicit = NULL, *root = NULL;
	char *failed = NULL;
	int error;

	plumb_pipeline_init(&top, &cli->pipeline);
	if ((error = plumb_pipeline_resolve(&top, info)) < 0)
		goto done;
	implicit = plumb_application_name(plumb_source_name(top.source), cli->pipeline.path);
	error = plumb_applications_discover(&apps, top.source, top.commit, cli->pipeline.path, implicit,
					    cli->pipeline.namespace, cli->pipeline.kubernetes, &cli->pipeline.names, &diags);
	if (error == PLUMB_EINVALID && diags.count) {
		plumb_diags_sort(&diags);
		plumb_diags_print(&diags, stderr);
		size_t errors = plumb_diags_distinct(&diags);
		fprintf(stderr, "plumb: commit %.12s is invalid: %zu error%s; nothing was applied\n", top.commit, errors,
			errors == 1 ? "" : "s");
		goto done;
	}
	if (error < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		goto done;
	}
	plumb_diags_sort(&diags);
	plumb_diags_print_warnings(&diags, stderr);
	if (operand && !plumb_applications_find(&apps, operand)) {
		fprintf(stderr, "plumb: no application '%s' in %s at commit %.12s (there are:", operand,
			cli->pipeline.path && *cli->pipeline.path ? cli->pipeline.path : ".", top.commit);
		for (size_t i = 0; i < apps.count; i++)
			fprintf(stderr, " %s", apps.items[i].name);
		fprintf(stderr, ")\n");
		error = PLUMB_ENOTFOUND;
		goto done;
	}

	if (!operand && apps.count > 1 && cli->out) {
		fprintf(stderr, "plumb: a plan file holds one application's plan; name one: plumb plan APP -o %s\n",
			cli->out);
		error = PLUMB_EINVALID;
		goto done;
	}
	root = plumb_destination_path(cli->pipeline.root);
	failed = plumb_xcalloc(apps.count ? apps.count : 1, 1);
	for (size_t i = 0; i < apps.count; i++) {
		const plumb_application *a = &apps.items[i];
		if (operand && strcmp(a->name, operand) != 0)
			continue;
		const char *blocked = failed_dependency(a, &apps, failed);
		if (blocked) {
			fprintf(stderr, "plumb: application %s not synced: it depends on %s, which failed\n", a->name,
				blocked);
			failed[i] = 1;
			continue;
		}
		plumb_pipeline_options options = cli->pipeline;
		char *app_root;
		plumb_cli_application_options(&options, &app_root, a, root);
		plumb_pipeline p;
		if (a->repo)
			options.repo = a->repo;
		if (a->revision)
			options.revision = a->revision;
		if (apps.count > 1 && info)
			fprintf(info, "== Application %s: %s -> %s\n", a->name, *a->path ? a->path : ".",
				options.kubernetes ? "kubernetes" : app_root);
		plumb_pipeline_init(&p, &options);
		int step_error = 0;
		if (a->repo || a->revision)
			step_error = plumb_pipeline_resolve(&p, info);
		else
			plumb_pipeline_use_source(&p, top.source, top.commit);
		if (step_error == 0)
			step_error = plumb_pipeline_load(&p);
		if (step_error == 0)
			step_error = step(&p, payload);
		plumb_pipeline_release(&p);
		free(app_root);
		if (step_error < 0) {
			failed[i] = 1;
			if (error == 0)
				error = step_error;
		}
	}
done:
	free(failed);
	free(root);
	free(implicit);
	plumb_diags_release(&diags);
	plumb_applications_release(&apps);
	plumb_pipeline_release(&top);
	return error;
}
