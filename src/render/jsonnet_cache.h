/*
 * jsonnet_cache.h - a jsonnet file's evaluation kept in STATE/render/
 * (render/cache.h) with every path it looked up in the commit. Internal to
 * render/.
 *
 * An entry is KEY.yaml: a first line "# plumb jsonnet evaluation", a line
 * "# lookup FOUND TYPE ID PATH" for each path the evaluation looked up (the
 * file, each place an import was looked for, each symlink followed; found
 * or not), then the output. It serves a commit only when every one of those
 * paths, looked up again, finds the same entry (or again nothing): a commit
 * that touches neither the file nor anything it imported evaluates nothing.
 */
#ifndef PLUMB_RENDER_JSONNET_CACHE_H
#define PLUMB_RENDER_JSONNET_CACHE_H

#include "source/source.h"
#include "util/buf.h"

/*
 * Append the output kept as key to out when it holds in commit. Each path is
 * looked up again with plumb_source_stat, so a caller recording lookups
 * records them. Returns 0, or PLUMB_ENOTFOUND (no entry, one that does not
 * hold, or one that could not be read within max bytes): out is then
 * unchanged.
 */
int plumb_jsonnet_cache_read(plumb_buf *out, const char *state_dir, const char *key, plumb_source *source,
			     const char *commit, size_t max);

/* Keep output as key with the lookups that determined it. The cache only saves time: nothing here fails. */
void plumb_jsonnet_cache_write(const char *state_dir, const char *key, const plumb_source_lookups *lookups,
			       const plumb_buf *output);

#endif
