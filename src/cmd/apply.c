#include "util/common.h"
#include "cmd/cmd.h"
#include "plan/planfile.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Ask as Terraform does: only "yes" goes ahead. */
static int confirmed(void)
{
	char answer[16];
	if (!isatty(STDIN_FILENO)) {
		fprintf(stderr, "plumb apply: standard input is not a terminal; pass --auto-approve to apply "
				"without a prompt\n");
		return 0;
	}
	printf("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
	fflush(stdout);
	if (!fgets(answer, sizeof(answer), stdin) || strcmp(answer, "yes\n") != 0) {
		printf("Apply cancelled.\n");
		return 0;
	}
	return 1;
}

typedef struct {
	const plumb_cli *cli;
	int always_approve;
} apply_run;

/* Plan, show, confirm, apply and record one application. */
static int apply_one(plumb_pipeline *p, void *payload)
{
	apply_run *run = payload;
	if (plumb_pipeline_plan(p) < 0)
		return -1;
	plumb_plan_print(&p->plan, stdout, run->cli->color);
	if (plumb_plan_has_changes(&p->plan) && !run->always_approve && !run->cli->auto_approve && !confirmed())
		return -1;
	return plumb_pipeline_apply(p, stdout);
}

/* Every application in order under one lock; sync is apply without the question. */
static int plan_and_apply(const plumb_cli *cli, const char *command, int always_approve)
{
	apply_run run = { cli, always_approve };
	plumb_lock *lock = NULL;
	char *state;

	if (cli->arg_count > 1) {
		fprintf(stderr, "plumb %s: one application at most, not '%s' and '%s'\n", command, cli->args[0],
			cli->args[1]);
		return PLUMB_EXIT_ERROR;
	}
	state = cli->pipeline.state ? plumb_xstrdup(cli->pipeline.state) : plumb_default_state_dir();
	lock = plumb_cli_lock(cli, state, command);
	free(state);
	if (!lock)
		return PLUMB_EXIT_ERROR;
	int error = plumb_cli_each_application(cli, cli->arg_count ? cli->args[0] : NULL, stdout, apply_one, &run);
	plumb_lock_release(lock);
	return error < 0 ? PLUMB_EXIT_ERROR : PLUMB_EXIT_OK;
}

/* A refused plan is part of the record: which file, which commit, and why. */
static void record_refusal(plumb_pipeline *p, const char *file, const plumb_plan *saved, const char *why)
{
	json_t *detail = json_pack("{s:s, s:s, s:s, s:s}", "plan", file, "planned_commit", saved->commit,
				   "commit_now", p->commit, "why", why);
	char *text = json_dumps(detail, JSON_COMPACT);
	plumb_pipeline_record(p, "refusal", text);
	free(text);
	json_decref(detail);
}

/*
 * Apply a saved plan: exactly its actions, or nothing. The plan's commit is
 * planned again against the live state and must come out the same.
 */
static int apply_saved(const plumb_cli *cli, const char *file)
{
	plumb_plan saved;
	plumb_pipeline p;
	plumb_pipeline_options options = cli->pipeline;
	plumb_lock *lock = NULL;
	plumb_buf stale = PLUMB_BUF_INIT;
	int code = PLUMB_EXIT_ERROR;

	if (plumb_planfile_read(&saved, file) < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		plumb_plan_release(&saved);
		return PLUMB_EXIT_ERROR;
	}
	options.repo = saved.repo;
	options.revision = *saved.revision ? saved.revision : NULL;
	options.path = saved.path;
	/* A cluster's plan goes to the cluster that --kubeconfig and --context (or their defaults) name. */
	if (!strncmp(saved.destination, "kubernetes ", 11))
		options.kubernetes = 1;
	else
		options.root = saved.destination;
	options.application = saved.application;
	options.operation = "apply-plan";
	plumb_pipeline_init(&p, &options);
	if (plumb_pipeline_resolve(&p, stdout) < 0)
		goto done;
	if (strcmp(p.commit, saved.commit) != 0) {
		if (!cli->allow_moved_revision) {
			fprintf(stderr,
				"plumb: the plan is stale: revision '%s' now resolves to %s, the plan was made for %s; "
				"nothing was applied (make a new plan, or pass --allow-moved-revision to apply the "
				"planned commit anyway)\n",
				*saved.revision ? saved.revision : "HEAD", p.commit, saved.commit);
			record_refusal(&p, file, &saved, "the revision moved");
			goto done;
		}
		printf("Revision '%s' has moved to %.12s; applying the planned commit %.12s as allowed.\n",
		       *saved.revision ? saved.revision : "HEAD", p.commit, saved.commit);
		memcpy(p.commit, saved.commit, sizeof(p.commit));
	}
	if (plumb_pipeline_load(&p) < 0 || !(lock = plumb_cli_lock(cli, p.state_dir, "apply")) ||
	    plumb_pipeline_plan(&p) < 0)
		goto done;
	if (strcmp(p.destination, saved.destination) != 0) {
		fprintf(stderr, "plumb: the plan was made for %s, not %s; nothing was applied\n", saved.destination,
			p.destination);
		goto done;
	}
	if (plumb_planfile_compare(&saved, &p.plan, &stale) > 0) {
		fprintf(stderr, "plumb: the plan is stale; nothing was applied:\n%s", stale.ptr);
		record_refusal(&p, file, &saved, stale.ptr);
		fprintf(stderr, "plumb: make a new plan and review it\n");
		goto done;
	}
	plumb_plan_print(&p.plan, stdout, cli->color);
	if (plumb_pipeline_apply(&p, stdout) == 0)
		code = PLUMB_EXIT_OK;
done:
	plumb_buf_release(&stale);
	plumb_pipeline_release(&p);
	plumb_lock_release(lock);
	plumb_plan_release(&saved);
	return code;
}

int plumb_cmd_apply(int argc, char **argv)
{
	plumb_cli cli;
	unsigned mask = OPT_SOURCE | OPT_ROOT | OPT_CLUSTER | OPT_IDENTITY | OPT_NO_COLOR | OPT_LOCK_TIMEOUT | OPT_AUTO_APPROVE |
			OPT_ALLOW_MOVED_REVISION | OPT_CAPTURE_MAX;

	if (plumb_cli_parse(&cli, argc, argv, mask) < 0)
		return PLUMB_EXIT_ERROR;
	/* With --repo the operand names an application; without, a plan file. */
	if (cli.arg_count == 0 || cli.pipeline.repo) {
		if (cli.allow_moved_revision) {
			fprintf(stderr, "plumb apply: --allow-moved-revision goes with a plan file\n");
			return PLUMB_EXIT_ERROR;
		}
		cli.pipeline.operation = "apply";
		return plan_and_apply(&cli, "apply", 0);
	}
	/* A plan file names its repository, revision, path and root: nothing may override them. */
	if (cli.arg_count > 1 || cli.pipeline.repo || cli.pipeline.revision || cli.pipeline.path || cli.pipeline.root) {
		fprintf(stderr, "usage: plumb apply PLAN_FILE [--state DIR] [--identity FILE] [--allow-moved-revision] "
				"[--lock-timeout D]\n(the plan names its repository, revision, path and root)\n");
		return PLUMB_EXIT_ERROR;
	}
	return apply_saved(&cli, cli.args[0]);
}

int plumb_cmd_sync(int argc, char **argv)
{
	plumb_cli cli;
	unsigned mask = OPT_SOURCE | OPT_ROOT | OPT_CLUSTER | OPT_IDENTITY | OPT_NO_COLOR | OPT_LOCK_TIMEOUT | OPT_CAPTURE_MAX;
	if (plumb_cli_parse(&cli, argc, argv, mask) < 0)
		return PLUMB_EXIT_ERROR;
	cli.pipeline.operation = "sync";
	return plan_and_apply(&cli, "sync", 1);
}
