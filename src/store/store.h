/*
 * store.h - the state that plumb keeps between runs, in one SQLite file
 * (STATE/plumb.db).
 *
 * The inventory holds one row per live object plumb manages, per
 * destination: which application and resource own it, whether plumb
 * created it (only those are ever pruned), and what plumb last wrote there.
 * The sync log holds one row per sync, the action log one row per action
 * of a sync, the drift log one row per drifted object plumb found (with
 * where its captured content lies). Readers never block a writer: the
 * database runs in WAL mode.
 *
 * What is recorded is on disk (synced) once the sync that wrote it has
 * finished (plumb_store_sync_finish) or the store is closed: a power loss
 * cannot take it. Only the stat cache and the records of a sync that
 * succeeded and changed nothing are left for a later write to carry to the
 * disk, so that such a run costs no fsync; a power loss may lose those,
 * never the store's integrity.
 *
 * The audit log is append-only and hash-chained: every entry carries the
 * SHA-256 of the previous entry's hash and its own fields, so that editing
 * or removing an entry breaks the chain at that entry. Recording a sync
 * (begin and finish), an action or a drift event appends its audit entry in
 * the same transaction; other events (plans, refusals, errors) are
 * appended with plumb_store_audit_append.
 *
 * The schema is versioned (PRAGMA user_version) and migrated forward on
 * open, one step at a time in a transaction each; a store written by a
 * newer plumb is refused.
 *
 * A store (one connection) is for one thread at a time: a thread that
 * runs beside others opens its own.
 *
 * Strings in the structs below are owned by the struct (an inventory
 * entry's by the inventory) and freed by its release function; strings
 * passed in are copied by the store.
 */
#ifndef PLUMB_STORE_H
#define PLUMB_STORE_H

#include <stdint.h>

#include "store/statcache.h"
#include "util/common.h"
#include "util/strpool.h"

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
	/*
	 * Every string of the entries: an inventory read from the store owns
	 * them (released with it, never one by one), and entries share those
	 * that repeat (destination, application, kind, ...): treat them as
	 * read-only.
	 */
	plumb_strpool *strings;
} plumb_inventory;

typedef enum {
	PLUMB_SYNC_RUNNING,
	PLUMB_SYNC_SUCCEEDED,
	PLUMB_SYNC_FAILED,
} plumb_sync_result;

typedef struct {
	int64_t id;
	char *operation; /* "sync", "apply" or "apply-plan" */
	char *trigger;   /* what started it: "cli", later "poll", "webhook", "api", "drift" */
	char *actor;     /* who: "user@host" for the command line, a token's name for the API */
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

/* Close the store, making what was written durable first (see above). */
void plumb_store_free(plumb_store *store);

/* Transactions group writes; they do not nest. */
int plumb_store_begin(plumb_store *store);
int plumb_store_commit(plumb_store *store);
void plumb_store_rollback(plumb_store *store);

/*
 * Append to out the inventory of one destination (NULL: every one),
 * ordered by destination and key; application NULL means every application.
 */
int plumb_store_inventory_list(plumb_inventory *out, plumb_store *store, const char *destination,
			       const char *application);

/*
 * Append to out the inventory of destination and what plumb manages under
 * roots nested in it or around it (applications whose roots nest), by
 * destination and key, with keys made relative to destination: a row of a
 * root below keeps its destination, its key seen from destination; of a
 * root above, only the rows inside destination, their keys seen from it.
 * Two applications whose roots nest must not claim one live file.
 */
int plumb_store_inventory_related(plumb_inventory *out, plumb_store *store, const char *destination);

/* Fill cache with the stat cache of destination. */
int plumb_store_stat_cache_load(plumb_stat_cache *cache, plumb_store *store, const char *destination);

/* Write what changed in cache since it was loaded (in one write, or the caller's transaction). */
int plumb_store_stat_cache_save(plumb_store *store, const char *destination, plumb_stat_cache *cache);

/* Insert or replace the row of (entry->destination, entry->key). */
int plumb_store_inventory_put(plumb_store *store, const plumb_inventory_entry *entry);

/* Delete the row of (destination, key); deleting a missing row is not an error. */
int plumb_store_inventory_delete(plumb_store *store, const char *destination, const char *key);

void plumb_inventory_release(plumb_inventory *inventory);

/*
 * Record the start of a sync (record->result, finished_at and counts are
 * ignored); sets record->id.
 */
int plumb_store_sync_begin(plumb_store *store, plumb_sync_record *record);

/*
 * Record the end of sync record->id: result, counts, error and finished_at
 * (now); then everything recorded so far is on disk (outside a caller's
 * transaction), unless the sync succeeded and changed nothing.
 */
int plumb_store_sync_finish(plumb_store *store, const plumb_sync_record *record);

/*
 * The most recent sync into destination (any application when application
 * is NULL). PLUMB_ENOTFOUND when there has been none.
 */
int plumb_store_sync_last(plumb_sync_record *out, plumb_store *store, const char *destination,
			  const char *application);

/* One sync by id; PLUMB_ENOTFOUND when there is none. */
int plumb_store_sync_get(plumb_sync_record *out, plumb_store *store, int64_t id);

typedef struct {
	plumb_sync_record *items;
	size_t count;
	size_t capacity;
} plumb_sync_records;

/*
 * Append to out the syncs, newest first, at most limit (0: all); NULL
 * destination or application means any.
 */
int plumb_store_sync_list(plumb_sync_records *out, plumb_store *store, const char *destination,
			  const char *application, unsigned limit);

/* "succeeded", "failed" or "running"; "unknown" for a value none of those (a store edited by hand). */
const char *plumb_sync_result_name(plumb_sync_result result);

void plumb_sync_record_release(plumb_sync_record *record);
void plumb_sync_records_release(plumb_sync_records *records);

/* What became of one action: outcomes are not errors. */
typedef enum {
	PLUMB_OUTCOME_NOOP,    /* nothing needed doing */
	PLUMB_OUTCOME_CHANGED, /* done */
	PLUMB_OUTCOME_FAILED,  /* tried and failed: error says why */
	PLUMB_OUTCOME_SKIPPED, /* not tried: an earlier action failed, or a directory kept because it was not empty */
	PLUMB_OUTCOME_DENIED,  /* not allowed: a refused plan, a policy */
} plumb_outcome;

typedef struct {
	int64_t id;
	int64_t sync_id;
	char *key;
	char *kind;
	char *resource;
	char *action; /* "create", "update", "delete", "none" */
	char *reason;
	char *before; /* fingerprint observed before the action */
	char *after;  /* fingerprint after it ("" when not observed) */
	plumb_outcome outcome;
	char *error; /* "" when none */
	int64_t at;
} plumb_action_record;

typedef struct {
	plumb_action_record *items;
	size_t count;
	size_t capacity;
} plumb_action_records;

/* "noop", "changed", "failed", "skipped" or "denied". */
const char *plumb_outcome_name(plumb_outcome outcome);

/* Record one action of sync record->sync_id (at: now if 0); sets record->id. */
int plumb_store_action_add(plumb_store *store, plumb_action_record *record);

/* Append to out the actions of one sync, in the order they were recorded. */
int plumb_store_action_list(plumb_action_records *out, plumb_store *store, int64_t sync_id);

void plumb_action_record_release(plumb_action_record *record);
void plumb_action_records_release(plumb_action_records *records);

typedef struct {
	int64_t id;
	int64_t sync_id; /* the sync that found and repaired it; 0 when found outside a sync */
	char *destination;
	char *application;
	char *key;
	char *kind;
	char *commit;   /* the commit in force when it was found */
	char *expected; /* fingerprint of what plumb last left there ("" when plumb never wrote it) */
	char *observed; /* fingerprint of what was found */
	char *capture;  /* the captured content's file, relative to the state directory; "" when none */
	int64_t capture_size;
	int sensitive;
	char *note; /* one line: what drifted, or why nothing was captured */
	int64_t at;
} plumb_drift_record;

typedef struct {
	plumb_drift_record *items;
	size_t count;
	size_t capacity;
} plumb_drift_records;

/* Record a drift event (at: now if 0); sets record->id. */
int plumb_store_drift_add(plumb_store *store, plumb_drift_record *record);

/* One drift event by id; PLUMB_ENOTFOUND when there is none. */
int plumb_store_drift_get(plumb_drift_record *out, plumb_store *store, int64_t id);

/* Append to out the drift events, newest first, at most limit (0: all); NULL filters mean any. */
int plumb_store_drift_list(plumb_drift_records *out, plumb_store *store, const char *destination,
			   const char *application, unsigned limit);

void plumb_drift_record_release(plumb_drift_record *record);
void plumb_drift_records_release(plumb_drift_records *records);

/* A plan waiting for a person (syncPolicy approval: prompted), and what became of it. */
typedef enum {
	PLUMB_APPROVAL_PENDING,
	PLUMB_APPROVAL_APPROVED,   /* approved, not yet applied */
	PLUMB_APPROVAL_REJECTED,
	PLUMB_APPROVAL_APPLIED,
	PLUMB_APPROVAL_SUPERSEDED, /* a newer plan replaced it, or it went stale */
} plumb_approval_state;

typedef struct {
	int64_t id;
	char *destination;
	char *application;
	char *commit;
	char *plan;         /* the plan file document (planfile.h) */
	char *summary;      /* one line: "Plan: 1 to create, 0 to update, 0 to delete." */
	plumb_approval_state state;
	char *requested_by; /* who made the plan: the daemon's actor */
	char *decided_by;   /* who approved or rejected it; "" while pending */
	char *note;         /* why: a rejection's reason, "stale", ... */
	int64_t created_at;
	int64_t decided_at; /* 0 while pending */
} plumb_approval_record;

typedef struct {
	plumb_approval_record *items;
	size_t count;
	size_t capacity;
} plumb_approval_records;

/*
 * Record a pending plan (created_at: now if 0; state is set PENDING); sets
 * record->id. Every other pending or approved plan of the same destination
 * and application becomes SUPERSEDED in the same transaction: one plan
 * waits at a time.
 */
int plumb_store_approval_add(plumb_store *store, plumb_approval_record *record);

/*
 * Approve or reject pending plan id as actor (with an optional note).
 * PLUMB_ENOTFOUND when there is no such plan, PLUMB_ECONFLICT (with a
 * message saying its state) when it is not pending.
 */
int plumb_store_approval_decide(plumb_store *store, int64_t id, int approve, const char *actor, const char *note);

/* Mark plan id APPLIED or SUPERSEDED (with a note), from PENDING or APPROVED; PLUMB_ECONFLICT otherwise. */
int plumb_store_approval_finish(plumb_store *store, int64_t id, plumb_approval_state state, const char *note);

int plumb_store_approval_get(plumb_approval_record *out, plumb_store *store, int64_t id);

/* Append to out the plans of a destination (NULL: all) and application (NULL: all), newest first, at most limit (0: all). */
int plumb_store_approval_list(plumb_approval_records *out, plumb_store *store, const char *destination,
			      const char *application, unsigned limit);

const char *plumb_approval_state_name(plumb_approval_state state);
void plumb_approval_record_release(plumb_approval_record *record);
void plumb_approval_records_release(plumb_approval_records *records);

typedef struct {
	int64_t id;
	int64_t at;
	char *actor;
	char *event;   /* "sync.begin", "sync.finish", "action", "drift", "plan", "refusal", "error", ... */
	char *subject; /* what it concerns: an application, an object path, a plan file */
	char *detail;  /* a JSON object, compact */
	char *previous_hash;
	char *hash;
} plumb_audit_entry;

/*
 * Append an audit entry (detail: a compact JSON object, or NULL for {}),
 * inside the open transaction if there is one.
 */
int plumb_store_audit_append(plumb_store *store, const char *actor, const char *event, const char *subject,
			     const char *detail);

typedef struct {
	plumb_audit_entry *items;
	size_t count;
	size_t capacity;
} plumb_audit_entries;

/*
 * Append to out the audit entries whose id is below before (0: any),
 * newest first, at most limit (0: all): a page of the log, and the next
 * one starts before the last id of this one.
 */
int plumb_store_audit_list(plumb_audit_entries *out, plumb_store *store, int64_t before, unsigned limit);
void plumb_audit_entries_release(plumb_audit_entries *entries);

/* Call cb for every audit entry in order; stops and returns cb's value when it is non-zero. */
typedef int (*plumb_audit_cb)(const plumb_audit_entry *entry, void *payload);
int plumb_store_audit_each(plumb_store *store, plumb_audit_cb cb, void *payload);

typedef struct {
	int64_t entries;      /* how many entries were checked */
	int64_t first_bad_id; /* 0 when the chain is intact */
	char *problem;        /* what is wrong at first_bad_id ("" when intact) */
} plumb_audit_verification;

/*
 * Walk the chain: every entry's previous_hash must be the hash of the
 * entry before it, its hash must match its fields, and ids must follow
 * each other without a gap (a removed entry). Returns 0 whether or not
 * the chain is intact (see out); an error only when it cannot be read.
 */
int plumb_store_audit_verify(plumb_audit_verification *out, plumb_store *store);
void plumb_audit_verification_release(plumb_audit_verification *verification);

#endif
