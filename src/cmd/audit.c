#include "util/common.h"
#include "cmd/cmd.h"
#include "store/json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

/* One entry a line, compact: a copy to keep off the host, in the shape the API gives it. */
static int export_entry(const plumb_audit_entry *entry, void *payload)
{
	json_t *o = plumb_audit_entry_json(entry);
	json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(o);
	return 0;
}

static int verify(plumb_store *store)
{
	plumb_audit_verification verification = { 0 };

	if (plumb_store_audit_verify(&verification, store) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		return PLUMB_EXIT_ERROR;
	}
	int intact = verification.first_bad_id == 0;
	if (intact)
		printf("audit log intact: %lld entr%s\n", (long long)verification.entries,
		       verification.entries == 1 ? "y" : "ies");
	else
		printf("audit log broken at entry %lld: %s\n", (long long)verification.first_bad_id,
		       verification.problem);
	plumb_audit_verification_release(&verification);
	return intact ? PLUMB_EXIT_OK : PLUMB_EXIT_ERROR;
}

/* audit: check the audit log's hash chain, or print the log for keeping elsewhere; reads only the store. */
int plumb_cmd_audit(int argc, char **argv)
{
	plumb_cli cli;
	plumb_store *store = NULL;
	char *state = NULL;
	int code = PLUMB_EXIT_ERROR;

	if (plumb_cli_parse(&cli, argc, argv, OPT_STATE) < 0)
		return PLUMB_EXIT_ERROR;
	if (cli.arg_count != 1 || (strcmp(cli.args[0], "verify") != 0 && strcmp(cli.args[0], "export") != 0)) {
		fprintf(stderr, "usage: plumb audit verify|export [--state DIR] (see 'plumb help audit')\n");
		return PLUMB_EXIT_ERROR;
	}
	state = cli.pipeline.state ? plumb_xstrdup(cli.pipeline.state) : plumb_default_state_dir();
	if (plumb_store_open(&store, state) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	if (!strcmp(cli.args[0], "verify")) {
		code = verify(store);
	} else if (plumb_store_audit_each(store, export_entry, NULL) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
	} else {
		code = PLUMB_EXIT_OK;
	}

done:
	plumb_store_free(store);
	free(state);
	return code;
}
