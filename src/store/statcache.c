#include "util/common.h"
#include "store/statcache.h"
#include "util/strpool.h"

#include <time.h>

typedef struct {
	const char *key; /* in the cache's pool */
	plumb_stat_entry entry;
	unsigned char present; /* 0: dropped (kept so that saving deletes it) */
	unsigned char changed; /* to be saved */
} record;

/*
 * A slot indexes a record (0: empty, else the record's index + 1) and holds
 * part of its key's hash, so that a probe past other keys compares two
 * numbers and does not touch their records.
 */
typedef struct {
	uint32_t index;
	uint32_t hash;
} slot;

/*
 * The records in the order they came. The store gives them in key order,
 * and a plan asks for them in much the same order, so while they are in
 * order (sorted) a lookup tries the record after the last one found, then
 * a binary search; no table is built. A record added out of order makes
 * the table: open addressing with linear probing over slots, at most half
 * full, 8 bytes a slot. Keys live in a pool: thousands of them, freed at once.
 */
struct plumb_stat_cache {
	record *records;
	size_t count;
	size_t records_capacity;
	int sorted;  /* the records are in strictly ascending key order, and there is no table */
	size_t next; /* the record after the one found last */
	slot *slots; /* the table, once the records are not sorted */
	size_t capacity; /* a power of two */
	plumb_strpool *keys;
};

static uint32_t hash_key(const char *key)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (uint32_t)(h ^ (h >> 32));
}

plumb_stat_cache *plumb_stat_cache_new(void)
{
	plumb_stat_cache *cache = plumb_xcalloc(1, sizeof(*cache));
	cache->sorted = 1;
	cache->keys = plumb_strpool_new();
	return cache;
}

void plumb_stat_cache_free(plumb_stat_cache *cache)
{
	if (!cache)
		return;
	plumb_strpool_free(cache->keys);
	free(cache->records);
	free(cache->slots);
	free(cache);
}

/* The slot that holds key (of hash h), or the empty slot where it would go. */
static slot *find_slot(const plumb_stat_cache *cache, const char *key, uint32_t h)
{
	size_t mask = cache->capacity - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		slot *s = &cache->slots[i];
		if (!s->index || (s->hash == h && !strcmp(cache->records[s->index - 1].key, key)))
			return s;
	}
}

/* Put records[i] in the table (which has room). */
static void index_record(plumb_stat_cache *cache, size_t i)
{
	uint32_t h = hash_key(cache->records[i].key);
	slot *s = find_slot(cache, cache->records[i].key, h);
	s->index = (uint32_t)(i + 1);
	s->hash = h;
}

/* A table with room for one more record: made from the records the first time, doubled when half full. */
static void make_room(plumb_stat_cache *cache)
{
	if (cache->slots && 2 * (cache->count + 1) <= cache->capacity)
		return;
	size_t capacity = cache->capacity ? cache->capacity : 1024;
	while (2 * (cache->count + 1) > capacity)
		capacity *= 2;
	free(cache->slots);
	cache->capacity = capacity;
	cache->slots = plumb_xcalloc(cache->capacity, sizeof(*cache->slots));
	for (size_t i = 0; i < cache->count; i++)
		index_record(cache, i);
	cache->sorted = 0;
}

static record *find(plumb_stat_cache *cache, const char *key)
{
	size_t found;
	if (cache->next < cache->count && !strcmp(cache->records[cache->next].key, key)) {
		found = cache->next;
	} else if (cache->sorted) {
		size_t lo = 0, hi = cache->count;
		for (;;) {
			if (lo >= hi)
				return NULL;
			size_t mid = lo + (hi - lo) / 2;
			int c = strcmp(cache->records[mid].key, key);
			if (c == 0) {
				found = mid;
				break;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
	} else {
		slot *s = find_slot(cache, key, hash_key(key));
		if (!s->index)
			return NULL;
		found = s->index - 1;
	}
	cache->next = found + 1;
	return &cache->records[found];
}

/* Whether key sorts after every record: then, while they are sorted, it is not among them. */
static int after_last(const plumb_stat_cache *cache, const char *key)
{
	return !cache->count || strcmp(cache->records[cache->count - 1].key, key) < 0;
}

/* Append a record for key, which the cache does not hold. */
static record *add(plumb_stat_cache *cache, const char *key)
{
	if (!cache->sorted || !after_last(cache, key))
		make_room(cache); /* out of order: from now on, the table */
	PLUMB_GROW(cache->records, cache->count, cache->records_capacity);
	record *r = &cache->records[cache->count];
	memset(r, 0, sizeof(*r));
	r->key = plumb_strpool_add(cache->keys, key, strlen(key));
	if (!cache->sorted)
		index_record(cache, cache->count);
	cache->count++;
	return r;
}

/* The record of key, made (not present) when missing. */
static record *record_of(plumb_stat_cache *cache, const char *key)
{
	if (cache->sorted && after_last(cache, key))
		return add(cache, key);
	record *r = find(cache, key);
	return r ? r : add(cache, key);
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
