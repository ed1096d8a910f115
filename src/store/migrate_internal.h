/*
 * migrate_internal.h - the schema's version, and bringing a store to the
 * one this plumb reads and writes. The schema is versioned (PRAGMA
 * user_version) and migrated forward, one step at a time in a transaction
 * each. open.c calls it; nothing outside src/store/ includes this.
 */
#ifndef PLUMB_STORE_MIGRATE_INTERNAL_H
#define PLUMB_STORE_MIGRATE_INTERNAL_H

#include "store/internal.h"

/*
 * Read the schema version of store into *out. PLUMB_ERROR with a message
 * when the file is not a SQLite database, or holds a version this plumb
 * cannot open (a newer plumb's, or a negative one).
 */
int plumb_store_schema_read(int *out, plumb_store *store);

/*
 * Bring store, found at version (plumb_store_schema_read; a fresh store is
 * at 0), to this plumb's schema; nothing is written when it is there
 * already. Each step reads the version again under the write lock, so that
 * two plumbs opening an old store at once run each step once. PLUMB_ERROR
 * (or PLUMB_ELOCKED) with a message when a step fails, which leaves the
 * store at the version before it; PLUMB_ERROR for a version 0 store that
 * holds tables: some other program's database, left alone.
 */
int plumb_store_schema_migrate(plumb_store *store, int version);

#endif
