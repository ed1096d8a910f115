#include "util/common.h"
#include "util/diff.h"

#include <git2.h>

int plumb_diff_is_binary(const char *data, size_t len)
{
	return memchr(data, '\0', len < 8000 ? len : 8000) != NULL;
}

static int print_line(const git_diff_delta *delta, const git_diff_hunk *hunk, const git_diff_line *line,
		      void *payload)
{
	plumb_buf *out = payload;
	(void)delta;
	(void)hunk;
	switch (line->origin) {
	case GIT_DIFF_LINE_CONTEXT:
	case GIT_DIFF_LINE_ADDITION:
	case GIT_DIFF_LINE_DELETION:
		plumb_buf_putc(out, line->origin);
		plumb_buf_add(out, line->content, line->content_len);
		if (!line->content_len || line->content[line->content_len - 1] != '\n')
			plumb_buf_putc(out, '\n');
		break;
	case GIT_DIFF_LINE_CONTEXT_EOFNL:
	case GIT_DIFF_LINE_ADD_EOFNL:
	case GIT_DIFF_LINE_DEL_EOFNL:
		plumb_buf_puts(out, "\\ No newline at end of file\n");
		break;
	case GIT_DIFF_LINE_HUNK_HDR:
		plumb_buf_add(out, line->content, line->content_len);
		break;
	default:
		break; /* file headers: written by plumb_diff itself */
	}
	return 0;
}

int plumb_diff(plumb_buf *out, const char *path, const char *old, size_t old_len, const char *new, size_t new_len)
{
	git_patch *patch = NULL;
	git_diff_options options;

	if ((old && plumb_diff_is_binary(old, old_len)) || plumb_diff_is_binary(new, new_len)) {
		if (old)
			plumb_buf_printf(out, "Binary content of /%s changes (%zu bytes -> %zu bytes)\n", path, old_len,
					 new_len);
		else
			plumb_buf_printf(out, "Binary content of /%s (%zu bytes)\n", path, new_len);
		return 0;
	}
	git_diff_options_init(&options, GIT_DIFF_OPTIONS_VERSION);
	options.context_lines = 3;
	/* Treat everything as text: binary content was handled above. */
	options.flags |= GIT_DIFF_FORCE_TEXT;
	if (git_patch_from_buffers(&patch, old, old ? old_len : 0, path, new, new_len, path, &options) < 0) {
		const git_error *e = git_error_last();
		return plumb_error_set(PLUMB_ERROR, "cannot diff /%s: %s", path, e ? e->message : "unknown error");
	}
	if (old)
		plumb_buf_printf(out, "--- a/%s\n+++ b/%s\n", path, path);
	else
		plumb_buf_printf(out, "--- /dev/null\n+++ b/%s\n", path);
	git_patch_print(patch, print_line, out);
	git_patch_free(patch);
	return 0;
}
