#include "util/common.h"
#include "cmd/cmd.h"
#include "secrets/leak.h"

#include <stdio.h>

static int report(plumb_pipeline *p, void *payload)
{
	printf("OK: %s: %zu resources, %zu objects in %s\n", p->application, p->set.resource_count, p->set.object_count,
	       *p->set.path ? p->set.path : ".");
	return 0;
}

/* The leak gate: every blob of the commit, not only the manifests. Returns the findings' count, or -1. */
static long scan_leaks(plumb_source *source, const char *commit)
{
	plumb_leaks leaks = PLUMB_LEAKS_INIT;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	long found = -1;

	if (plumb_leak_scan_commit(&leaks, source, commit, &diags) < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		goto done;
	}
	plumb_diags_print(&diags, stderr);
	plumb_leaks_print(&leaks, stderr);
	if (leaks.count)
		fprintf(stderr,
			"plumb: %zu plaintext secret%s in commit %.12s: seal %s with 'plumb secret seal' and refer to "
			"%s with a Secret (a reviewed false positive: add \"" PLUMB_LEAK_ANNOTATION
			"\" to the line, or list it in " PLUMB_LEAK_ALLOW_FILE ")\n",
			leaks.count, leaks.count == 1 ? "" : "s", commit, leaks.count == 1 ? "it" : "them",
			leaks.count == 1 ? "it" : "them");
	found = (long)(leaks.count + diags.count);
done:
	plumb_leaks_release(&leaks);
	plumb_diags_release(&diags);
	return found;
}

/*
 * check = source + load for every application, and the leak gate over the
 * whole revision: is this something plumb would apply, and may it sit in git?
 */
int plumb_cmd_check(int argc, char **argv)
{
	plumb_cli cli;
	plumb_source *source = NULL;
	char *state = NULL;
	char commit[PLUMB_OID_HEXSZ + 1];
	int code = PLUMB_EXIT_ERROR;

	if (plumb_cli_parse(&cli, argc, argv, OPT_SOURCE | OPT_STAGED | OPT_CLUSTER) < 0)
		return PLUMB_EXIT_ERROR;
	if (cli.arg_count > 1) {
		fprintf(stderr, "plumb check: one application at most\n");
		return PLUMB_EXIT_ERROR;
	}
	if (cli.staged && cli.pipeline.revision) {
		fprintf(stderr, "plumb check: --staged checks the index, not a revision: give one or the other\n");
		return PLUMB_EXIT_ERROR;
	}
	if (!cli.pipeline.repo)
		cli.pipeline.repo = ".";
	state = cli.pipeline.state ? plumb_xstrdup(cli.pipeline.state) : plumb_default_state_dir();
	if ((cli.staged ? plumb_source_open_with(&source, cli.pipeline.repo, state, cli.pipeline.credentials)
			: plumb_source_open_for(&source, cli.pipeline.repo, state, cli.pipeline.credentials,
						cli.pipeline.revision)) < 0 ||
	    (cli.staged ? plumb_source_index_commit(commit, source)
			: plumb_source_resolve(commit, source, cli.pipeline.revision)) < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		goto done;
	}
	plumb_render_options render = plumb_pipeline_render_options(&cli.pipeline, state);
	plumb_load_set_render(source, &render);
	if (cli.staged) {
		printf("checking the staged changes\n");
		cli.pipeline.revision = commit;
	}
	int invalid = plumb_cli_each_application(&cli, cli.arg_count ? cli.args[0] : NULL, cli.staged ? NULL : stdout,
						 report, NULL) < 0;
	long leaks = scan_leaks(source, commit);
	if (leaks == 0)
		printf("OK: no plaintext secrets in %s\n", cli.staged ? "the staged changes" : "the revision");
	if (!invalid && leaks == 0)
		code = PLUMB_EXIT_OK;
done:
	plumb_source_free(source);
	free(state);
	return code;
}
