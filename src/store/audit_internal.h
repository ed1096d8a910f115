/*
 * audit_internal.h - how the store's other writes append their audit
 * entry: the detail of an entry made as a JSON object, and the entry
 * chained onto the log in the same write as the rows it speaks of. audit.c
 * implements it; nothing outside src/store/ includes this.
 */
#ifndef PLUMB_STORE_AUDIT_INTERNAL_H
#define PLUMB_STORE_AUDIT_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "store/internal.h"

/* Set key of detail to value (NULL: "") made valid UTF-8, each stray byte U+FFFD. */
void plumb_audit_detail_text(json_t *detail, const char *key, const char *value);

void plumb_audit_detail_int(json_t *detail, const char *key, int64_t value);

/* detail as the compact JSON an audit entry holds, a new string; detail is released. */
char *plumb_audit_detail_dump(json_t *detail);

/*
 * Append an audit entry, detail already compact JSON (plumb_audit_detail_dump),
 * inside a write the caller has begun (plumb_store_write_begin): the last
 * id and hash are read under its write lock, so that two plumbs never give
 * out one id twice. Control characters in actor, event and subject are
 * stored as U+FFFD (see audit.c's audit_hash).
 */
int plumb_store_audit_write(plumb_store *store, const char *actor, const char *event, const char *subject,
			    const char *detail);

#endif
