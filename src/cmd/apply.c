#include "util/common.h"
#include "cmd/cmd.h"

#include <stdio.h>
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

/* Plan, show, confirm, apply and record; sync is the same without the question. */
static int plan_and_apply(int argc, char **argv, int always_approve)
{
	plumb_cli cli;
	plumb_pipeline p;
	int code = PLUMB_EXIT_ERROR;
	unsigned mask = OPT_SOURCE | OPT_ROOT | OPT_NO_COLOR | (always_approve ? 0 : OPT_AUTO_APPROVE);

	if (plumb_cli_parse(&cli, argc, argv, mask) < 0)
		return PLUMB_EXIT_ERROR;
	plumb_pipeline_init(&p, &cli.pipeline);
	if (plumb_pipeline_resolve(&p, stdout) < 0 || plumb_pipeline_load(&p) < 0 || plumb_pipeline_plan(&p, 1) < 0)
		goto done;
	plumb_plan_print(&p.plan, stdout, cli.color);
	if (plumb_plan_has_changes(&p.plan) && !always_approve && !cli.auto_approve && !confirmed())
		goto done;
	if (plumb_pipeline_apply(&p, stdout) == 0)
		code = PLUMB_EXIT_OK;
done:
	plumb_pipeline_release(&p);
	return code;
}

int plumb_cmd_apply(int argc, char **argv)
{
	return plan_and_apply(argc, argv, 0);
}

int plumb_cmd_sync(int argc, char **argv)
{
	return plan_and_apply(argc, argv, 1);
}
