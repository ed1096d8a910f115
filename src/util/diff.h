/*
 * diff.h - human-readable differences between two versions of content.
 *
 * Text gets a unified diff with three lines of context, as git and
 * Terraform users read every day; content with a NUL byte in its first
 * 8000 bytes is binary and gets a one-line note with the sizes instead.
 */
#ifndef PLUMB_DIFF_H
#define PLUMB_DIFF_H

#include <stddef.h>

#include "util/buf.h"

/*
 * Append to out the difference from old to new for the live path (shown as
 * "--- a/PATH" / "+++ b/PATH"; old NULL means the object is new and is shown
 * against /dev/null). Returns 0 or PLUMB_ERROR.
 */
int plumb_diff(plumb_buf *out, const char *path, const char *old, size_t old_len, const char *new, size_t new_len);

/* True when content looks binary (git's heuristic: a NUL in the first 8000 bytes). */
int plumb_diff_is_binary(const char *data, size_t len);

#endif
