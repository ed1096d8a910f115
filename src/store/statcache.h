/*
 * statcache.h - what a live file's stat data said its content was.
 *
 * Comparing a managed file with git needs its blob id; hashing every file
 * on every sync costs a read of everything. The stat cache remembers, per
 * object key, the stat data a file had when it was hashed (device, inode,
 * size, mtime and ctime in nanoseconds, mode, owner, group) and the blob id
 * found. While the stat data is the same the content is taken to be the
 * same, as git's index does: an unchanged file then costs one lstat.
 *
 * A change within the clock's granularity of the hashing could leave the
 * stat data as it was, so an entry is only kept for a file whose ctime lies
 * clearly before the moment plumb looked at it (PLUMB_STAT_CACHE_SETTLE_NS);
 * a file that changed just then is hashed again next time. Any change to
 * the content moves ctime, which no program can set back.
 *
 * The cache is a map in memory, filled from the store at the start of a
 * plan and written back (only what changed) at its end.
 */
#ifndef PLUMB_STATCACHE_H
#define PLUMB_STATCACHE_H

#include <stdint.h>
#include <sys/stat.h>

#include "util/common.h"

/* How long before the look a file's last change must lie for its entry to be kept: coarse clocks and 2-second file systems. */
#define PLUMB_STAT_CACHE_SETTLE_NS (2000000000LL)

typedef struct {
	uint64_t device;
	uint64_t inode;
	uint64_t size;
	int64_t mtime_ns;
	int64_t ctime_ns;
	uint32_t mode; /* st_mode: type and permissions */
	uint32_t uid;
	uint32_t gid;
	char blob[PLUMB_OID_HEXSZ + 1];
} plumb_stat_entry;

typedef struct plumb_stat_cache plumb_stat_cache;

plumb_stat_cache *plumb_stat_cache_new(void);
void plumb_stat_cache_free(plumb_stat_cache *cache);

/* The stat data of st as an entry (blob left empty). */
void plumb_stat_entry_from(plumb_stat_entry *out, const struct stat *st);

/* The time to pass to plumb_stat_cache_remember: take it before the lstat of the file. */
int64_t plumb_stat_cache_now(void);

/* The blob id recorded for key when st is the stat data recorded with it, else NULL. Borrowed from the cache. */
const char *plumb_stat_cache_lookup(plumb_stat_cache *cache, const char *key, const struct stat *st);

/*
 * Record that key, with stat data st, holds blob — unless st's ctime is
 * within PLUMB_STAT_CACHE_SETTLE_NS of looked_at (then an entry for key is
 * dropped instead). Marks the entry to be saved.
 */
void plumb_stat_cache_remember(plumb_stat_cache *cache, const char *key, const struct stat *st, const char *blob,
			       int64_t looked_at);

/* Drop what is cached for key (saved as a removal). */
void plumb_stat_cache_forget(plumb_stat_cache *cache, const char *key);

/* Put an entry as the store holds it (not marked to be saved); key and entry are copied. */
void plumb_stat_cache_put(plumb_stat_cache *cache, const char *key, const plumb_stat_entry *entry);

/*
 * Call cb for every entry recorded or dropped since the cache was filled
 * (entry NULL for one dropped), then unmark them. Stops at and returns
 * cb's first non-zero value.
 */
typedef int (*plumb_stat_cache_cb)(const char *key, const plumb_stat_entry *entry, void *payload);
int plumb_stat_cache_each_changed(plumb_stat_cache *cache, plumb_stat_cache_cb cb, void *payload);

#endif
