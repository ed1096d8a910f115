/*
 * strpool.h - strings that live and die together.
 *
 * A pool hands out copies of strings carved from large blocks, so that
 * thousands of short strings (the keys and fingerprints of an inventory)
 * cost their bytes, not an allocation each, and all go at once when the
 * pool is freed. An interned string is shared: asking again for the same
 * text gives the same copy, which suits values that repeat from row to row.
 *
 * Strings from a pool belong to it: never free them, and never write to an
 * interned one. Its blocks do not move, so a string stays where it is until
 * the pool is freed.
 */
#ifndef PLUMB_UTIL_STRPOOL_H
#define PLUMB_UTIL_STRPOOL_H

#include <stddef.h>

typedef struct plumb_strpool plumb_strpool;

plumb_strpool *plumb_strpool_new(void);
void plumb_strpool_free(plumb_strpool *pool);

/* size bytes of the pool's, for a string the caller writes there (NUL included). */
char *plumb_strpool_alloc(plumb_strpool *pool, size_t size);

/* A copy of the len bytes at s, with a NUL after them. */
char *plumb_strpool_add(plumb_strpool *pool, const char *s, size_t len);

/* The pool's one copy of the len bytes at s (made on first use), with a NUL after them. */
char *plumb_strpool_intern(plumb_strpool *pool, const char *s, size_t len);

#endif
