#include "util/common.h"
#include "load/discover.h"
#include "cmd/cmd.h"
#include "util/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* At most this many reverted commits are named in a rollback commit's message. */
#define MAX_LISTED_COMMITS 50

/* "Name <email>" into its parts; the default is plumb at this host. */
static int parse_author(char **name, char **email, const char *author)
{
	char host[256] = "localhost";
	if (!author) {
		gethostname(host, sizeof(host) - 1);
		host[sizeof(host) - 1] = '\0';
		*name = plumb_xstrdup("plumb");
		*email = plumb_xprintf("plumb@%s", host);
		return 0;
	}
	const char *open = strchr(author, '<'), *close = open ? strchr(open, '>') : NULL;
	if (!open || !close || close[1] || open == author || close == open + 1) {
		fprintf(stderr, "plumb rollback: --author must look like 'Name <email>', not '%s'\n", author);
		return -1;
	}
	const char *end = open;
	while (end > author && end[-1] == ' ')
		end--;
	*name = plumb_xstrndup(author, (size_t)(end - author));
	*email = plumb_xstrndup(open + 1, (size_t)(close - open - 1));
	return 0;
}

/* Take --to, --author and --no-commit out of argv (the shared parser does not know them). */
static int take_options(int *argc, char **argv, const char **to, const char **author, int *no_commit)
{
	int kept = 1;
	for (int i = 1; i < *argc; i++) {
		const char *arg = argv[i];
		const char **slot = !strcmp(arg, "--to") ? to : !strcmp(arg, "--author") ? author : NULL;
		if (slot) {
			if (i + 1 >= *argc) {
				fprintf(stderr, "plumb rollback: option %s needs a value\n", arg);
				return -1;
			}
			*slot = argv[++i];
		} else if (!strncmp(arg, "--to=", 5)) {
			*to = arg + 5;
		} else if (!strncmp(arg, "--author=", 9)) {
			*author = arg + 9;
		} else if (!strcmp(arg, "--no-commit")) {
			*no_commit = 1;
		} else {
			argv[kept++] = argv[i];
		}
	}
	*argc = kept;
	argv[kept] = NULL;
	return 0;
}

/*
 * Point p at the application called name: an Application of the path (its
 * path, where it goes and its sync policy: plumb_cli_application_options;
 * apps holds it and must outlive p, *root is the caller's to free), or,
 * when none is called so, the path name.
 */
static void name_application(plumb_pipeline *p, plumb_applications *apps, const plumb_cli *cli, const char *name,
			     char **root)
{
	plumb_diags diags = PLUMB_DIAGS_INIT;
	int error = plumb_applications_discover(apps, p->source, p->commit, cli->pipeline.path, name,
						cli->pipeline.namespace, cli->pipeline.kubernetes, &cli->pipeline.names,
						&diags);
	const plumb_application *a = error == 0 ? plumb_applications_find(apps, name) : NULL;
	if (a && *a->file) {
		char *base = plumb_destination_path(cli->pipeline.root);
		plumb_cli_application_options(&p->options, root, a, base);
		free(base);
	} else {
		p->options.path = name;
	}
	plumb_diags_release(&diags);
}

/*
 * rollback: restore the application's path to what it was at a revision by
 * a new commit on the tracked branch (pushed when the repository is
 * remote), then sync it. Git stays the source of truth. With --no-commit,
 * sync the old revision directly: an emergency that leaves the application
 * ahead of git until the branch catches up.
 */
int plumb_cmd_rollback(int argc, char **argv)
{
	plumb_cli cli;
	plumb_pipeline p;
	plumb_lock *lock = NULL;
	plumb_buf reverted = PLUMB_BUF_INIT, message = PLUMB_BUF_INIT;
	const char *to = NULL, *author = NULL;
	plumb_applications apps = { 0 };
	char *branch = NULL, *author_name = NULL, *author_email = NULL, *app_root = NULL;
	char target[PLUMB_OID_HEXSZ + 1], tip[PLUMB_OID_HEXSZ + 1], made[PLUMB_OID_HEXSZ + 1];
	int no_commit = 0, code = PLUMB_EXIT_ERROR;

	if (take_options(&argc, argv, &to, &author, &no_commit) < 0 ||
	    plumb_cli_parse(&cli, argc, argv, OPT_SOURCE | OPT_ROOT | OPT_CLUSTER | OPT_IDENTITY | OPT_NO_COLOR | OPT_LOCK_TIMEOUT |
					     OPT_CAPTURE_MAX) < 0)
		return PLUMB_EXIT_ERROR;
	if (!to || cli.arg_count > 1) {
		fprintf(stderr, "usage: plumb rollback [APP] --to REV --repo PATH|URL [--root DIR | --kubeconfig FILE "
				"--context NAME --namespace NS] [--no-commit]\n");
		return PLUMB_EXIT_ERROR;
	}
	if (parse_author(&author_name, &author_email, author) < 0)
		return PLUMB_EXIT_ERROR;
	cli.pipeline.operation = no_commit ? "rollback-no-commit" : "rollback";
	/* --to names another revision than the branch: everything is fetched. */
	cli.pipeline.every_ref = 1;

	plumb_pipeline_init(&p, &cli.pipeline);
	if (plumb_pipeline_resolve(&p, stdout) < 0)
		goto done;
	/* APP names an Application the path declares (its path and root), or is itself a path. */
	if (cli.arg_count == 1)
		name_application(&p, &apps, &cli, cli.args[0], &app_root);
	memcpy(tip, p.commit, sizeof(tip));
	if (plumb_source_resolve(target, p.source, to) < 0 || plumb_source_branch(&branch, p.source, cli.pipeline.revision) < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		goto done;
	}
	const char *path = p.options.path ? p.options.path : "";
	if (plumb_source_log(&reverted, p.source, target, tip, path, MAX_LISTED_COMMITS) < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		goto done;
	}

	if (no_commit) {
		memcpy(p.commit, target, sizeof(p.commit));
		/* The branch already holds it: an ordinary sync, nothing ahead of git. */
		if (!strcmp(target, tip))
			p.options.operation = "sync";
		else
			printf("Syncing %s at %.12s (%s) without a commit: the application will be ahead of git until "
			       "branch %s catches up.\n",
			       *path ? path : ".", target, to, branch);
	} else {
		plumb_buf_printf(&message, "Roll back %s to %s\n\nRestores %s as it was in commit %s.\n",
				 *path ? path : "the repository", to, *path ? path : "the repository", target);
		if (reverted.len)
			plumb_buf_printf(&message, "\nReverts:\n%s", reverted.ptr);
		if (!p.actor)
			p.actor = plumb_actor();
		plumb_buf_printf(&message, "\nMade by plumb rollback, run by %s.\n", p.actor);
		plumb_restore_options options = { branch, path, target, message.ptr, author_name, author_email };
		if (plumb_source_restore_commit(made, p.source, &options) < 0) {
			fprintf(stderr, "plumb: %s\n", plumb_error_last());
			goto done;
		}
		memcpy(p.commit, made, sizeof(p.commit));
	}
	/* Everything that can refuse the sync comes before the branch moves: git never runs ahead of a failure. */
	if (plumb_pipeline_load(&p) < 0 || !(lock = plumb_cli_lock(&cli, p.state_dir, "rollback")) ||
	    plumb_pipeline_plan(&p) < 0)
		goto done;
	if (!no_commit) {
		if (plumb_source_publish(p.source, branch, made, tip) < 0) {
			fprintf(stderr, "plumb: %s; nothing was synced\n", plumb_error_last());
			goto done;
		}
		printf("Committed %s on branch %s of %s: %s as in %.12s\n", made, branch, plumb_source_name(p.source),
		       *path ? path : "the repository", target);
	}
	plumb_plan_print(&p.plan, stdout, cli.color);
	if (plumb_pipeline_apply(&p, stdout) == 0)
		code = PLUMB_EXIT_OK;
done:
	plumb_buf_release(&reverted);
	plumb_buf_release(&message);
	plumb_pipeline_release(&p);
	plumb_lock_release(lock);
	plumb_applications_release(&apps);
	free(branch);
	free(app_root);
	free(author_name);
	free(author_email);
	return code;
}
