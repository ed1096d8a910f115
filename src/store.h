/*
 * store.h - the state that plumb keeps between runs, in one SQLite file
 * (STATE/plumb.db).
 *
 * The inventory holds one row per live object plumb manages, per
 * destination: which application and resource own it, whether plumb
 * created it (only those are ever pruned), and what plumb last wrote there.
 * The sync log holds one row per sync. Readers never block a writer: the
 * database runs in WAL mode.
 *
 * Strings in the structs below are owned by the struct and freed by its
 * release function; strings passed in are copied by the store.
 */
#ifndef PLUMB_STORE_H
#define PLUMB_STORE_H

#include <stdint.h>

#include "util/common.h"

typedef struct plumb_store plumb_store;

typedef struct {
	char *destination; /* the destination root, an absolute path */
	char *key;         /* the provider's identity of the object, e.g. "etc/motd" */
	char *application; /* the application that manages it */
	char *provider;    /* e.g. "host" */
	char *kind;        /* e.g. "File", as the object's kind, not the resource's */
	char *resource;    /* apiVersion/kind/name of the declaring resource */
	int created;       /* 1 when plumb created the object, 0 when it adopted an existing one */
	char *fingerprint; /* what plumb left there after its last action ("" if unknown) */
	char *commit;      /* the commit of the last sync that touched it */
	int64_t updated_at; /* unix seconds */
} plumb_inventory_entry;

typedef struct {
	plumb_inventory_entry *items;
	size_t count;
	size_t capacity;
} plumb_inventory;

typedef enum {
	PLUMB_SYNC_RUNNING,
	PLUMB_SYNC_SUCCEEDED,
	PLUMB_SYNC_FAILED,
} plumb_sync_result;

typedef struct {
	int64_t id;
	char *application;
	char *destination;
	char *repo;
	char *revision;
	char *commit;
	char *path;
	int64_t started_at;
	int64_t finished_at; /* 0 while running */
	plumb_sync_result result;
	unsigned created, updated, deleted;
	char *error; /* "" when none */
} plumb_sync_record;

/*
 * Open (creating the directory 0700 and the file as needed) the store in
 * state_dir. PLUMB_ERROR with a message naming the file if it cannot be
 * opened or is not a plumb store.
 */
int plumb_store_open(plumb_store **out, const char *state_dir);
void plumb_store_free(plumb_store *store);

/* Transactions group writes; they do not nest. */
int plumb_store_begin(plumb_store *store);
int plumb_store_commit(plumb_store *store);
void plumb_store_rollback(plumb_store *store);

/*
 * Append to out the inventory of one destination, ordered by key;
 * application NULL means every application.
 */
int plumb_store_inventory_list(plumb_inventory *out, plumb_store *store, const char *destination,
			       const char *application);

/* Insert or replace the row of (entry->destination, entry->key). */
int plumb_store_inventory_put(plumb_store *store, const plumb_inventory_entry *entry);

/* Delete the row of (destination, key); deleting a missing row is not an error. */
int plumb_store_inventory_delete(plumb_store *store, const char *destination, const char *key);

void plumb_inventory_entry_release(plumb_inventory_entry *entry);
void plumb_inventory_release(plumb_inventory *inventory);

/*
 * Record the start of a sync (record->result, finished_at and counts are
 * ignored); sets record->id.
 */
int plumb_store_sync_begin(plumb_store *store, plumb_sync_record *record);

/* Record the end of sync record->id: result, counts, error and finished_at (now). */
int plumb_store_sync_finish(plumb_store *store, const plumb_sync_record *record);

/*
 * The most recent sync into destination (any application when application
 * is NULL). PLUMB_ENOTFOUND when there has been none.
 */
int plumb_store_sync_last(plumb_sync_record *out, plumb_store *store, const char *destination,
			  const char *application);

void plumb_sync_record_release(plumb_sync_record *record);

#endif
