#include "util/common.h"
#include "cmd/cmd.h"
#include "load/application.h"
#include "plan/planfile.h"
#include "providers/registry.h"

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

/* How a refusal names a destination: a cluster with its context, a host root by its path. A new string. */
static char *describe_destination(const char *name, const char *context)
{
	return context ? plumb_xprintf("context \"%s\" (%s)", context, name) : plumb_xstrdup(name);
}

/*
 * A cluster's plan goes to the cluster it was made for: with the kubeconfig
 * file, context and namespace it names unless the command line names
 * others, and only when they are the same server and context. 0, or -1
 * after saying why not (and recording the refusal).
 */
static int choose_cluster(plumb_pipeline *p, const plumb_cli *cli, const char *file, const plumb_plan *saved)
{
	const plumb_plan_cluster *c = saved->cluster;
	plumb_pipeline_options *options = &p->options;
	char *name = NULL, *context = NULL, *planned = NULL, *now = NULL;
	int error = -1;

	options->kubernetes = 1;
	if (c) {
		if (!options->kubeconfig)
			options->kubeconfig = c->kubeconfig;
		if (options->namespace && strcmp(options->namespace, c->namespace ? c->namespace : "") != 0) {
			if (c->namespace)
				fprintf(stderr, "plumb: the plan was made for namespace %s, not %s; nothing was applied\n",
					c->namespace, options->namespace);
			else
				fprintf(stderr, "plumb: the plan was made for the namespace of context \"%s\", not %s; "
						"nothing was applied\n", c->context, options->namespace);
			record_refusal(p, file, saved, "another namespace");
			goto done;
		}
		options->namespace = c->namespace;
		options->create_namespace |= c->create_namespace;
		options->force_conflicts |= c->force_conflicts;
		/* What the Application said of its objects when the plan was made holds for its apply. */
		options->replace |= c->replace;
		options->ignore = c->ignore;
	}
	int named = plumb_pipeline_destination_name(&name, &context, options);
	/* The current context may have changed since: the plan's own is the one it goes to. */
	if (c && !cli->pipeline.context && (named < 0 || strcmp(context, c->context) != 0)) {
		free(name);
		free(context);
		options->context = c->context;
		named = plumb_pipeline_destination_name(&name, &context, options);
	}
	if (named < 0) {
		fprintf(stderr, "plumb: %s; nothing was applied\n", plumb_error_last());
		goto done;
	}
	if (strcmp(name, saved->destination) != 0 || (c && strcmp(context, c->context) != 0)) {
		planned = describe_destination(saved->destination, c ? c->context : NULL);
		now = describe_destination(name, context);
		fprintf(stderr, "plumb: the plan was made for %s, not %s; nothing was applied (make a plan for %s, or "
				"apply this one to %s)\n",
			planned, now, now, planned);
		record_refusal(p, file, saved, "another cluster");
		goto done;
	}
	error = 0;
done:
	free(name);
	free(context);
	free(planned);
	free(now);
	return error;
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
	const plumb_provider *provider = plumb_provider_of_destination(saved.destination);
	int cluster = provider && !strcmp(provider->name, plumb_application_provider(1));
	if (!cluster && options.kubernetes) {
		fprintf(stderr, "plumb: %s is a plan for host root %s: --kubeconfig, --context and --namespace name a "
				"cluster; nothing was applied\n",
			file, saved.destination);
		plumb_plan_release(&saved);
		return PLUMB_EXIT_ERROR;
	}
	if (!cluster)
		options.root = saved.destination;
	options.application = saved.application;
	options.render = saved.render;
	options.operation = "apply-plan";
	plumb_pipeline_init(&p, &options);
	if (plumb_pipeline_resolve(&p, stdout) < 0 || (cluster && choose_cluster(&p, cli, file, &saved) < 0))
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
				"[--lock-timeout D] [--kubeconfig FILE] [--context NAME]\n(the plan names its repository, "
				"revision, path and root or cluster)\n");
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
