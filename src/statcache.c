#include "util/common.h"
#include "statcache.h"

#include <time.h>

typedef struct {
	char *key;
	plumb_stat_entry entry;
	unsigned char present; /* 0: dropped (kept so that saving deletes it) */
	unsigned char changed; /* to be saved */
} record;

/*
 * Open addressing with linear probing over small slots that index the
 * records (0: empty, else the record's index + 1); at most half full, so
 * probes stay short, and the table costs 4 bytes a slot, not a record.
 */
struct plumb_stat_cache {
	uint32_t *slots;
	size_t capacity; /* a power of two */
	record *records;
	size_t count;
	size_t records_capacity;
};

static uint64_t hash_key(const char *key)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return h;
}

plumb_stat_cache *plumb_stat_cache_new(void)
{
	plumb_stat_cache *cache = plumb_xcalloc(1, sizeof(*cache));
	cache->capacity = 1024;
	cache->slots = plumb_xcalloc(cache->capacity, sizeof(*cache->slots));
	return cache;
}

void plumb_stat_cache_free(plumb_stat_cache *cache)
{
	if (!cache)
		return;
	for (size_t i = 0; i < cache->count; i++)
		free(cache->records[i].key);
	free(cache->records);
	free(cache->slots);
	free(cache);
}

/* The slot that holds key, or the empty slot where it would go. */
static uint32_t *find_slot(const plumb_stat_cache *cache, const char *key)
{
	size_t mask = cache->capacity - 1;
	for (size_t i = hash_key(key) & mask;; i = (i + 1) & mask) {
		uint32_t *s = &cache->slots[i];
		if (!*s || !strcmp(cache->records[*s - 1].key, key))
			return s;
	}
}

static record *find(const plumb_stat_cache *cache, const char *key)
{
	uint32_t *s = find_slot(cache, key);
	return *s ? &cache->records[*s - 1] : NULL;
}

static void grow(plumb_stat_cache *cache)
{
	free(cache->slots);
	cache->capacity *= 2;
	cache->slots = plumb_xcalloc(cache->capacity, sizeof(*cache->slots));
	for (size_t i = 0; i < cache->count; i++)
		*find_slot(cache, cache->records[i].key) = (uint32_t)(i + 1);
}

void plumb_stat_cache_reserve(plumb_stat_cache *cache, size_t count)
{
	PLUMB_RESERVE(cache->records, cache->count, cache->records_capacity, count);
	while (2 * (cache->count + count) > cache->capacity)
		grow(cache);
}

/* The record of key, made (not present) when missing. */
static record *record_of(plumb_stat_cache *cache, const char *key)
{
	record *r = find(cache, key);
	if (r)
		return r;
	if (2 * (cache->count + 1) > cache->capacity)
		grow(cache);
	PLUMB_GROW(cache->records, cache->count, cache->records_capacity);
	r = &cache->records[cache->count];
	memset(r, 0, sizeof(*r));
	r->key = plumb_xstrdup(key);
	*find_slot(cache, key) = (uint32_t)++cache->count;
	return r;
}

void plumb_stat_entry_from(plumb_stat_entry *out, const struct stat *st)
{
	memset(out, 0, sizeof(*out));
	out->device = (uint64_t)st->st_dev;
	out->inode = (uint64_t)st->st_ino;
	out->size = (uint64_t)st->st_size;
	out->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
	out->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
	out->mode = (uint32_t)st->st_mode;
	out->uid = (uint32_t)st->st_uid;
	out->gid = (uint32_t)st->st_gid;
}

int64_t plumb_stat_cache_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int same_stat(const plumb_stat_entry *a, const plumb_stat_entry *b)
{
	return a->device == b->device && a->inode == b->inode && a->size == b->size && a->mtime_ns == b->mtime_ns &&
	       a->ctime_ns == b->ctime_ns && a->mode == b->mode && a->uid == b->uid && a->gid == b->gid;
}

const char *plumb_stat_cache_lookup(plumb_stat_cache *cache, const char *key, const struct stat *st)
{
	plumb_stat_entry now;
	record *s = find(cache, key);
	if (!s || !s->present)
		return NULL;
	plumb_stat_entry_from(&now, st);
	return same_stat(&now, &s->entry) ? s->entry.blob : NULL;
}

void plumb_stat_cache_remember(plumb_stat_cache *cache, const char *key, const struct stat *st, const char *blob,
			       int64_t looked_at)
{
	plumb_stat_entry entry;
	plumb_stat_entry_from(&entry, st);
	int settled = entry.ctime_ns < looked_at - PLUMB_STAT_CACHE_SETTLE_NS &&
		      entry.mtime_ns < looked_at - PLUMB_STAT_CACHE_SETTLE_NS;
	record *s = settled ? record_of(cache, key) : find(cache, key);
	if (!s)
		return; /* not settled, and nothing to drop */
	if (settled) {
		memcpy(entry.blob, blob, sizeof(entry.blob));
		if (s->present && same_stat(&s->entry, &entry) && !strcmp(s->entry.blob, entry.blob))
			return;
		s->entry = entry;
		s->present = 1;
	} else {
		if (!s->present)
			return;
		s->present = 0;
	}
	s->changed = 1;
}

void plumb_stat_cache_forget(plumb_stat_cache *cache, const char *key)
{
	record *s = find(cache, key);
	if (s && s->present) {
		s->present = 0;
		s->changed = 1;
	}
}

void plumb_stat_cache_put(plumb_stat_cache *cache, const char *key, const plumb_stat_entry *entry)
{
	record *s = record_of(cache, key);
	s->entry = *entry;
	s->present = 1;
	s->changed = 0;
}

int plumb_stat_cache_each_changed(plumb_stat_cache *cache, plumb_stat_cache_cb cb, void *payload)
{
	for (size_t i = 0; i < cache->count; i++) {
		record *s = &cache->records[i];
		if (!s->changed)
			continue;
		int rc = cb(s->key, s->present ? &s->entry : NULL, payload);
		if (rc)
			return rc;
		s->changed = 0;
	}
	return 0;
}
