#include "util/common.h"
#include "statcache.h"

#include <time.h>

typedef struct {
	char *key; /* NULL: an empty slot */
	plumb_stat_entry entry;
	unsigned char present; /* 0: dropped (kept so that saving deletes it) */
	unsigned char changed; /* to be saved */
} slot;

/* Open addressing with linear probing; at most half full, so probes stay short. */
struct plumb_stat_cache {
	slot *slots;
	size_t capacity; /* a power of two */
	size_t used;
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
	cache->slots = plumb_xcalloc(cache->capacity, sizeof(slot));
	return cache;
}

void plumb_stat_cache_free(plumb_stat_cache *cache)
{
	if (!cache)
		return;
	for (size_t i = 0; i < cache->capacity; i++)
		free(cache->slots[i].key);
	free(cache->slots);
	free(cache);
}

static slot *find(const plumb_stat_cache *cache, const char *key)
{
	size_t mask = cache->capacity - 1;
	for (size_t i = hash_key(key) & mask;; i = (i + 1) & mask) {
		slot *s = &cache->slots[i];
		if (!s->key || !strcmp(s->key, key))
			return s;
	}
}

static void grow(plumb_stat_cache *cache)
{
	slot *old = cache->slots;
	size_t old_capacity = cache->capacity;
	cache->capacity *= 2;
	cache->slots = plumb_xcalloc(cache->capacity, sizeof(slot));
	for (size_t i = 0; i < old_capacity; i++)
		if (old[i].key)
			*find(cache, old[i].key) = old[i];
	free(old);
}

/* The slot of key, made (empty, not present) when missing. */
static slot *slot_of(plumb_stat_cache *cache, const char *key)
{
	slot *s = find(cache, key);
	if (s->key)
		return s;
	if (2 * (cache->used + 1) > cache->capacity) {
		grow(cache);
		s = find(cache, key);
	}
	s->key = plumb_xstrdup(key);
	cache->used++;
	return s;
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
	slot *s = find(cache, key);
	if (!s->key || !s->present)
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
	slot *s = settled ? slot_of(cache, key) : find(cache, key);
	if (!s->key)
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
	slot *s = find(cache, key);
	if (s->key && s->present) {
		s->present = 0;
		s->changed = 1;
	}
}

void plumb_stat_cache_put(plumb_stat_cache *cache, const char *key, const plumb_stat_entry *entry)
{
	slot *s = slot_of(cache, key);
	s->entry = *entry;
	s->present = 1;
	s->changed = 0;
}

int plumb_stat_cache_each_changed(plumb_stat_cache *cache, plumb_stat_cache_cb cb, void *payload)
{
	for (size_t i = 0; i < cache->capacity; i++) {
		slot *s = &cache->slots[i];
		if (!s->key || !s->changed)
			continue;
		int rc = cb(s->key, s->present ? &s->entry : NULL, payload);
		if (rc)
			return rc;
		s->changed = 0;
	}
	return 0;
}
