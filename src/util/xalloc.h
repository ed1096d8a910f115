/*
 * xalloc.h - allocation that never returns NULL.
 *
 * plumb is an application: when memory runs out there is nothing sensible
 * to do but stop, so every allocation aborts with a message on failure and
 * callers never check for NULL.
 */
#ifndef PLUMB_UTIL_XALLOC_H
#define PLUMB_UTIL_XALLOC_H

#include <stddef.h>

void *plumb_xmalloc(size_t size);
void *plumb_xcalloc(size_t count, size_t size);
void *plumb_xrealloc(void *ptr, size_t size);
char *plumb_xstrdup(const char *s);
char *plumb_xstrndup(const char *s, size_t len);
/* A newly allocated string formatted as by printf. */
char *plumb_xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Grow the array *items (of *count used, *capacity allocated elements) so
 * that one more element fits; items may start NULL with capacity 0.
 */
/* Make room for more items at once when their number is known: no doubling past what is needed. */
#define PLUMB_RESERVE(items, count, capacity, more)                                   \
	do {                                                                        \
		if ((count) + (more) > (capacity)) {                                \
			(capacity) = (count) + (more);                              \
			(items) = plumb_xrealloc((items), (capacity) * sizeof(*(items))); \
		}                                                                   \
	} while (0)

#define PLUMB_GROW(items, count, capacity)                                          \
	do {                                                                        \
		if ((count) >= (capacity)) {                                        \
			(capacity) = (capacity) ? (capacity) * 2 : 8;               \
			(items) = plumb_xrealloc((items), (capacity) * sizeof(*(items))); \
		}                                                                   \
	} while (0)

#endif
