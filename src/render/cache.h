/*
 * cache.h - STATE/render/: rendered outputs kept by key, as KEY.yaml, and
 * pruned by use. Internal to render/.
 *
 * An entry is written under a temporary name and renamed into place, so a
 * reader sees a whole entry or none. Reading an entry touches it (its
 * mtime, at most once an hour), and a sweep removes the entries not read
 * or written for PLUMB_RENDER_CACHE_DAYS days (default 7; 0: never), and
 * temporary files as old, which only a process that died mid-write leaves.
 * A file being written is younger than that, so it is never removed. The
 * sweep runs after an entry is written, at most once a day for every
 * process sharing the state directory (STATE/render/.swept records when):
 * the cache grows only when something is rendered.
 */
#ifndef PLUMB_RENDER_CACHE_H
#define PLUMB_RENDER_CACHE_H

#include "util/buf.h"

#define PLUMB_RENDER_CACHE_DAYS 7u

/*
 * Append the entry key of STATE/render/ to out and touch it. Returns 0, or
 * PLUMB_ENOTFOUND when there is none (or it could not be read whole
 * within max bytes: out is then unchanged).
 */
int plumb_render_cache_read(plumb_buf *out, const char *state_dir, const char *key, size_t max);

/*
 * Keep data as the entry key, then sweep if no sweep ran for a day. The
 * cache only saves time: nothing here fails.
 */
void plumb_render_cache_write(const char *state_dir, const char *key, const plumb_buf *data);

/*
 * Remove the entries of STATE/render/ not used for the days
 * PLUMB_RENDER_CACHE_DAYS says, unless a sweep ran less than a day ago.
 * Returns how many files were removed.
 */
unsigned plumb_render_cache_sweep(const char *state_dir);

#endif
