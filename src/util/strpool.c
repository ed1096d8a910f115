#include "util/common.h"
#include "util/strpool.h"

/*
 * Blocks start small, for pools of a few strings, and double up to a size
 * that keeps what a full block wastes at its end small; a string too long
 * to share a block gets one of its own.
 */
#define FIRST_BLOCK 4096
#define LAST_BLOCK (64 * 1024)
#define OWN_BLOCK_FROM 4096

typedef struct block {
	struct block *next;
	size_t size;
	size_t used;
	char data[];
} block;

typedef struct {
	const char *s; /* NULL: empty */
	size_t len;
	uint64_t hash;
} slot;

struct plumb_strpool {
	block *blocks; /* strings are carved from the first; the others are full, or a string's own */
	slot *slots;   /* the interned strings: open addressing, at most half full */
	size_t capacity;
	size_t interned;
};

plumb_strpool *plumb_strpool_new(void)
{
	return plumb_xcalloc(1, sizeof(plumb_strpool));
}

void plumb_strpool_free(plumb_strpool *pool)
{
	if (!pool)
		return;
	for (block *b = pool->blocks, *next; b; b = next) {
		next = b->next;
		free(b);
	}
	free(pool->slots);
	free(pool);
}

static block *new_block(size_t size)
{
	block *b = plumb_xmalloc(sizeof(*b) + size);
	b->next = NULL;
	b->size = size;
	b->used = 0;
	return b;
}

/* size bytes of the pool's. */
static char *carve(plumb_strpool *pool, size_t size)
{
	block *b = pool->blocks;
	if (size >= OWN_BLOCK_FROM) {
		/* Behind the block being carved from, which stays first. */
		block *own = new_block(size);
		own->used = size;
		if (b) {
			own->next = b->next;
			b->next = own;
		} else {
			pool->blocks = own;
		}
		return own->data;
	}
	if (!b || b->size - b->used < size) {
		size_t next_size = b ? b->size * 2 : FIRST_BLOCK;
		block *fresh = new_block(next_size > LAST_BLOCK ? LAST_BLOCK : next_size);
		fresh->next = b;
		pool->blocks = fresh;
		b = fresh;
	}
	char *p = b->data + b->used;
	b->used += size;
	return p;
}

char *plumb_strpool_alloc(plumb_strpool *pool, size_t size)
{
	return carve(pool, size);
}

char *plumb_strpool_add(plumb_strpool *pool, const char *s, size_t len)
{
	char *copy = carve(pool, len + 1);
	memcpy(copy, s, len);
	copy[len] = '\0';
	return copy;
}

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* The slot that holds the text, or the empty one where it would go. */
static slot *find(const plumb_strpool *pool, const char *s, size_t len, uint64_t hash)
{
	size_t mask = pool->capacity - 1;
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		slot *t = &pool->slots[i];
		if (!t->s || (t->hash == hash && t->len == len && !memcmp(t->s, s, len)))
			return t;
	}
}

static void grow(plumb_strpool *pool)
{
	slot *old = pool->slots;
	size_t old_capacity = pool->capacity;
	pool->capacity = old_capacity ? old_capacity * 2 : 64;
	pool->slots = plumb_xcalloc(pool->capacity, sizeof(*pool->slots));
	for (size_t i = 0; i < old_capacity; i++)
		if (old[i].s)
			*find(pool, old[i].s, old[i].len, old[i].hash) = old[i];
	free(old);
}

char *plumb_strpool_intern(plumb_strpool *pool, const char *s, size_t len)
{
	uint64_t hash = hash_bytes(s, len);
	if (2 * (pool->interned + 1) > pool->capacity)
		grow(pool);
	slot *t = find(pool, s, len, hash);
	if (!t->s) {
		t->s = plumb_strpool_add(pool, s, len);
		t->len = len;
		t->hash = hash;
		pool->interned++;
	}
	/* Shared: the header says never to write to it. */
	return (char *)t->s;
}
