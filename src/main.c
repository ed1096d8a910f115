#include "util/common.h"
#include "cmd/cmd.h"

#include <stdio.h>

/* Every command, by the name it is called by; help.c holds what each is for. */
typedef struct {
	const char *name;
	int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
	{ "check", plumb_cmd_check },
	{ "render", plumb_cmd_render },
	{ "plan", plumb_cmd_plan },
	{ "show", plumb_cmd_show },
	{ "apply", plumb_cmd_apply },
	{ "sync", plumb_cmd_sync },
	{ "status", plumb_cmd_status },
	{ "history", plumb_cmd_history },
	{ "audit", plumb_cmd_audit },
	{ "serve", plumb_cmd_serve },
	{ "drift", plumb_cmd_drift },
	{ "rollback", plumb_cmd_rollback },
	{ "approvals", plumb_cmd_approvals },
	{ "approve", plumb_cmd_approve },
	{ "reject", plumb_cmd_reject },
	{ "secret", plumb_cmd_secret },
	{ "hook", plumb_cmd_hook },
	{ "version", plumb_cmd_version },
	{ "help", plumb_cmd_help },
	/* Run by plumb itself, never by people: help does not list it. */
	{ "__jsonnet-evaluate", plumb_cmd_jsonnet_evaluate },
	{ NULL, NULL },
};

static const command *command_find(const char *name)
{
	for (const command *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

int main(int argc, char **argv)
{
	const command *found;
	int code;

	if (argc < 2) {
		plumb_cmd_help(1, argv);
		return PLUMB_EXIT_ERROR;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return plumb_cmd_help(1, argv);
	if (!strcmp(argv[1], "--version"))
		return plumb_cmd_version(1, argv);
	found = command_find(argv[1]);
	if (!found) {
		fprintf(stderr, "plumb: unknown command '%s' (see 'plumb help')\n", argv[1]);
		return PLUMB_EXIT_ERROR;
	}
	if (plumb_source_global_init() < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		return PLUMB_EXIT_ERROR;
	}
	code = found->run(argc - 1, argv + 1);
	plumb_source_global_shutdown();
	fflush(stdout);
	return code;
}
