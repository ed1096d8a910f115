/*
 * utf8.h - checking and repairing UTF-8.
 *
 * JSON (plan files, the API, the audit log) carries text as UTF-8 only.
 * Names plumb manages must be UTF-8; content shown in a diff may be
 * anything, and is repaired for JSON by replacing each invalid byte with
 * U+FFFD.
 */
#ifndef PLUMB_UTIL_UTF8_H
#define PLUMB_UTIL_UTF8_H

#include <stddef.h>

#include "util/buf.h"

/* True when the len bytes at text are well-formed UTF-8 (no overlongs, surrogates, or NUL). */
int plumb_utf8_valid(const char *text, size_t len);

/* Append text to out, each byte that is not part of a well-formed sequence replaced by U+FFFD. */
void plumb_utf8_repair(plumb_buf *out, const char *text, size_t len);

#endif
