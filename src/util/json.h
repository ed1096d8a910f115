/*
 * json.h - values for JSON documents (jansson) that cannot fail.
 *
 * jansson refuses strings that are not UTF-8; what plumb shows comes from
 * git, manifests, the file system and people, so text is repaired (U+FFFD
 * for each byte that cannot be carried) rather than dropped.
 */
#ifndef PLUMB_UTIL_JSON_H
#define PLUMB_UTIL_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A JSON string of the len bytes at text, repaired to UTF-8. */
json_t *plumb_json_text(const char *text, size_t len);

/* The same for a C string; NULL is "". */
json_t *plumb_json_string(const char *text);

/* Unix seconds as "2026-11-21T22:24:41Z", or null for 0 (never). */
json_t *plumb_json_time(int64_t when);

#endif
