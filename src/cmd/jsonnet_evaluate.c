/*
 * `plumb __jsonnet-evaluate GIT_DIR COMMIT FILE APP_PATH OPTIONS OUTPUT_MAX`:
 * the child that evaluates one jsonnet file for a plumb that runs it under
 * the render limits (render/jsonnet_child.h). It opens the repository the
 * parent reads, in place and only to read, evaluates in its own thread
 * with no cache, and prints the report on standard output. Not listed in
 * help: plumb runs it, people do not.
 */
#include "util/common.h"
#include "cmd/cmd.h"
#include "render/jsonnet.h"
#include "render/jsonnet_child.h"

#include <errno.h>
#include <stdio.h>

int plumb_cmd_jsonnet_evaluate(int argc, char **argv)
{
	plumb_source *source = NULL;
	plumb_source_lookups lookups = { NULL, 0, 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	plumb_buf yaml = PLUMB_BUF_INIT, report = PLUMB_BUF_INIT;
	unsigned long long output_max = 0;
	char *end = NULL;
	int code = PLUMB_EXIT_ERROR, error;

	if (argc != 7) {
		fprintf(stderr, "usage: plumb %s GIT_DIR COMMIT FILE APP_PATH OPTIONS OUTPUT_MAX\n",
			PLUMB_JSONNET_CHILD_COMMAND);
		return PLUMB_EXIT_ERROR;
	}
	errno = 0;
	output_max = strtoull(argv[6], &end, 10);
	if (errno || *end || !output_max || output_max > SIZE_MAX) {
		fprintf(stderr, "plumb %s: OUTPUT_MAX: expected a number of bytes, not '%s'\n",
			PLUMB_JSONNET_CHILD_COMMAND, argv[6]);
		return PLUMB_EXIT_ERROR;
	}
	/* A local path: opened as it is, no state directory, nothing fetched. */
	if (plumb_source_open(&source, argv[1], NULL) < 0) {
		fprintf(stderr, "plumb %s: %s\n", PLUMB_JSONNET_CHILD_COMMAND, plumb_error_last());
		return PLUMB_EXIT_ERROR;
	}
	plumb_render_options options = { .output_max = (size_t)output_max };
	plumb_jsonnet_child_limit();
	plumb_source_record_lookups(&lookups);
	error = plumb_jsonnet_evaluate(&yaml, source, argv[2], argv[3], argv[4], *argv[5] ? argv[5] : NULL, &options,
				       &diags);
	plumb_source_record_lookups(NULL);
	plumb_jsonnet_child_report(&report, error, &yaml, &lookups, &diags);
	if (fwrite(report.ptr, 1, report.len, stdout) == report.len && fflush(stdout) == 0)
		code = PLUMB_EXIT_OK;
	else
		fprintf(stderr, "plumb %s: cannot write the report: %s\n", PLUMB_JSONNET_CHILD_COMMAND,
			strerror(errno));
	plumb_source_free(source);
	plumb_source_lookups_release(&lookups);
	plumb_diags_release(&diags);
	plumb_buf_release(&yaml);
	plumb_buf_release(&report);
	return code;
}
