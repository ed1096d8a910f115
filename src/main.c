#include "util/common.h"
#include "cmd/cmd.h"

#include <stdio.h>

int main(int argc, char **argv)
{
	const plumb_command *command;
	int code;

	if (argc < 2) {
		plumb_cmd_help(1, argv);
		return PLUMB_EXIT_ERROR;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return plumb_cmd_help(1, argv);
	if (!strcmp(argv[1], "--version"))
		return plumb_cmd_version(1, argv);
	command = plumb_command_find(argv[1]);
	if (!command) {
		fprintf(stderr, "plumb: unknown command '%s' (see 'plumb help')\n", argv[1]);
		return PLUMB_EXIT_ERROR;
	}
	if (plumb_source_global_init() < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		return PLUMB_EXIT_ERROR;
	}
	code = command->run(argc - 1, argv + 1);
	plumb_source_global_shutdown();
	fflush(stdout);
	return code;
}
