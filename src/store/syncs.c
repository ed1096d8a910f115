/*
 * syncs.c - the sync log (one row per sync: who ran it, on what, how it
 * ended) and the action log (one row per action of a sync), each write
 * with its audit entry.
 */
#include "util/common.h"
#include "store/store.h"
#include "store/internal.h"
#include "store/audit_internal.h"
#include "store/syncs_internal.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>

static const char *const result_names[] = {
	[PLUMB_SYNC_RUNNING] = "running",
	[PLUMB_SYNC_SUCCEEDED] = "succeeded",
	[PLUMB_SYNC_FAILED] = "failed",
};

#define SYNC_COLUMNS                                                                                           \
	"id, operation, trigger, actor, application, destination, repo, revision, commit_id, path, started_at," \
	" finished_at, result, created, updated, deleted, error"

const char *plumb_sync_result_name(plumb_sync_result result)
{
	switch (result) {
	case PLUMB_SYNC_SUCCEEDED:
		return "succeeded";
	case PLUMB_SYNC_FAILED:
		return "failed";
	case PLUMB_SYNC_RUNNING:
		return "running";
	}
	return "unknown"; /* a value no plumb writes: a store edited by hand, or by a later plumb */
}

/* Fill out (which the caller has not filled) from a row of SYNC_COLUMNS. */
static int read_sync(plumb_sync_record *out, plumb_store *store, sqlite3_stmt *stmt)
{
	char *result = plumb_store_column_string(stmt, 12);
	int index = plumb_store_name_index(result_names, PLUMB_ARRAY_SIZE(result_names), result);
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (index < 0) {
		error = plumb_error_set(PLUMB_ERROR, "%s: sync %lld has an unknown result '%s'", store->path,
					(long long)sqlite3_column_int64(stmt, 0), result);
		free(result);
		return error;
	}
	free(result);
	out->result = (plumb_sync_result)index;
	out->id = sqlite3_column_int64(stmt, 0);
	out->operation = plumb_store_column_string(stmt, 1);
	out->trigger = plumb_store_column_string(stmt, 2);
	out->actor = plumb_store_column_string(stmt, 3);
	out->application = plumb_store_column_string(stmt, 4);
	out->destination = plumb_store_column_string(stmt, 5);
	out->repo = plumb_store_column_string(stmt, 6);
	out->revision = plumb_store_column_string(stmt, 7);
	out->commit = plumb_store_column_string(stmt, 8);
	out->path = plumb_store_column_string(stmt, 9);
	out->started_at = sqlite3_column_int64(stmt, 10);
	out->finished_at = sqlite3_column_int64(stmt, 11);
	out->created = (unsigned)sqlite3_column_int64(stmt, 13);
	out->updated = (unsigned)sqlite3_column_int64(stmt, 14);
	out->deleted = (unsigned)sqlite3_column_int64(stmt, 15);
	out->error = plumb_store_column_string(stmt, 16);
	return 0;
}

int plumb_store_sync_begin(plumb_store *store, plumb_sync_record *record)
{
	static const char sql[] = "INSERT INTO syncs (operation, trigger, actor, application, destination, repo,"
				  " revision, commit_id, path, started_at, finished_at, result, created, updated,"
				  " deleted, error)"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 'running', 0, 0, 0, '')";
	static const char what[] = "recording the start of a sync";
	sqlite3_stmt *stmt = NULL;
	int64_t started_at = record->started_at ? record->started_at : plumb_store_now();
	int64_t total_before = sqlite3_total_changes64(store->db);
	int64_t id = 0;
	char *detail = NULL;
	int own = 0;
	int error;

	if (!record->destination || !*record->destination)
		return plumb_error_set(PLUMB_EINVALID, "%s: a sync needs a destination", store->path);

	if ((error = plumb_store_write_begin(store, &own)) < 0)
		return error;
	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 1, record->operation, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 2, record->trigger, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 3, record->actor, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 4, record->application, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 5, record->destination, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 6, record->repo, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 7, record->revision, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 8, record->commit, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 9, record->path, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 10, started_at, what)) < 0 ||
	    (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;
	id = sqlite3_last_insert_rowid(store->db);

	json_t *fields = json_object();
	plumb_audit_detail_int(fields, "id", id);
	plumb_audit_detail_text(fields, "operation", record->operation);
	plumb_audit_detail_text(fields, "trigger", record->trigger);
	plumb_audit_detail_text(fields, "actor", record->actor);
	plumb_audit_detail_text(fields, "application", record->application);
	plumb_audit_detail_text(fields, "destination", record->destination);
	plumb_audit_detail_text(fields, "repo", record->repo);
	plumb_audit_detail_text(fields, "revision", record->revision);
	plumb_audit_detail_text(fields, "commit", record->commit);
	plumb_audit_detail_text(fields, "path", record->path);
	plumb_audit_detail_int(fields, "started_at", started_at);
	detail = plumb_audit_detail_dump(fields);
	error = plumb_store_audit_write(store, record->actor, "sync.begin", record->application, detail);

done:
	sqlite3_finalize(stmt);
	free(detail);
	/* Made durable with what the sync changes, if it changes anything: see plumb_store_sync_finish. */
	plumb_store_defer_changes(store, total_before);
	if ((error = plumb_store_write_end(store, own, error)) < 0)
		return error;
	/* The caller's record now says what the row says. */
	record->id = id;
	record->started_at = started_at;
	return 0;
}

int plumb_store_sync_owner(char **application, char **actor, plumb_store *store, int64_t id, const char *what)
{
	static const char sql[] = "SELECT application, actor FROM syncs WHERE id = ?1";
	sqlite3_stmt *stmt = NULL;
	int error;
	int rc;

	*application = *actor = NULL;
	if ((error = plumb_store_prepare_kept(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 1, id, what)) < 0)
		goto done;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*application = plumb_store_column_string(stmt, 0);
		*actor = plumb_store_column_string(stmt, 1);
	} else if (rc == SQLITE_DONE) {
		error = plumb_error_set(PLUMB_ENOTFOUND, "%s: %s: there is no sync %lld", store->path, what,
					(long long)id);
	} else {
		error = plumb_store_sqlite_error(store, rc, what);
	}

done:
	plumb_store_statement_done(store, stmt);
	return error;
}

int plumb_store_sync_finish(plumb_store *store, const plumb_sync_record *record)
{
	static const char sql[] = "UPDATE syncs SET finished_at = ?1, result = ?2, created = ?3, updated = ?4,"
				  " deleted = ?5, error = ?6 WHERE id = ?7";
	static const char what[] = "recording the end of a sync";
	sqlite3_stmt *stmt = NULL;
	char *application = NULL, *actor = NULL, *detail = NULL;
	int64_t finished_at = plumb_store_now();
	int64_t total_before = sqlite3_total_changes64(store->db);
	int own = 0;
	int error;

	if (record->result != PLUMB_SYNC_SUCCEEDED && record->result != PLUMB_SYNC_FAILED)
		return plumb_error_set(PLUMB_EINVALID, "%s: sync %lld must finish as succeeded or failed", store->path,
				       (long long)record->id);

	/*
	 * The detail is made first: record->error may be the error slot itself
	 * (plumb_error_last()), which a failure below would overwrite.
	 */
	json_t *fields = json_object();
	plumb_audit_detail_int(fields, "id", record->id);
	plumb_audit_detail_text(fields, "result", result_names[record->result]);
	plumb_audit_detail_int(fields, "created", record->created);
	plumb_audit_detail_int(fields, "updated", record->updated);
	plumb_audit_detail_int(fields, "deleted", record->deleted);
	plumb_audit_detail_text(fields, "error", record->error);
	plumb_audit_detail_int(fields, "finished_at", finished_at);
	detail = plumb_audit_detail_dump(fields);

	if ((error = plumb_store_write_begin(store, &own)) < 0) {
		free(detail);
		return error;
	}
	/* The sync's own row names who ran it and for which application: the caller may have only the id. */
	if ((error = plumb_store_sync_owner(&application, &actor, store, record->id, what)) < 0) {
		if (error == PLUMB_ENOTFOUND)
			error = plumb_error_set(PLUMB_ENOTFOUND, "%s: there is no sync %lld to finish", store->path,
						(long long)record->id);
		goto done;
	}
	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 1, finished_at, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 2, result_names[record->result], what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 3, record->created, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 4, record->updated, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 5, record->deleted, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 6, record->error, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 7, record->id, what)) < 0 ||
	    (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;
	error = plumb_store_audit_write(store, actor, "sync.finish", application, detail);

done:
	sqlite3_finalize(stmt);
	/* A sync that succeeded and changed nothing has nothing a power loss could cost. */
	if (record->result == PLUMB_SYNC_SUCCEEDED && !record->created && !record->updated && !record->deleted)
		plumb_store_defer_changes(store, total_before);
	error = plumb_store_write_end(store, own, error);
	/* The end of a sync is where what it did must be on disk: its actions, its inventory, this record. */
	if (error == 0 && own)
		error = plumb_store_make_durable(store);
	free(detail);
	free(actor);
	free(application);
	return error;
}

/*
 * Run a query of SYNC_COLUMNS that yields at most one row into out;
 * PLUMB_ENOTFOUND (with no message: the caller sets its own) when none.
 */
static int read_one_sync(plumb_sync_record *out, plumb_store *store, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);

	if (rc == SQLITE_DONE)
		return PLUMB_ENOTFOUND;
	if (rc != SQLITE_ROW)
		return plumb_store_sqlite_error(store, rc, what);
	return read_sync(out, store, stmt);
}

int plumb_store_sync_last(plumb_sync_record *out, plumb_store *store, const char *destination,
			  const char *application)
{
	static const char sql[] = "SELECT " SYNC_COLUMNS " FROM syncs"
				  " WHERE destination = ?1 AND (?2 IS NULL OR application = ?2)"
				  " ORDER BY id DESC LIMIT 1";
	static const char what[] = "reading the last sync";
	sqlite3_stmt *stmt = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 1, destination, what)) < 0)
		goto done;
	if (application && (error = plumb_store_bind_text(store, stmt, 2, application, what)) < 0)
		goto done;
	error = read_one_sync(out, store, stmt, what);
	if (error == PLUMB_ENOTFOUND)
		error = plumb_error_set(PLUMB_ENOTFOUND, "%s: no sync into %s%s%s yet", store->path,
					destination ? destination : "", application ? " of " : "",
					application ? application : "");

done:
	sqlite3_finalize(stmt);
	return error;
}

int plumb_store_sync_get(plumb_sync_record *out, plumb_store *store, int64_t id)
{
	static const char what[] = "reading a sync";
	sqlite3_stmt *stmt = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	if ((error = plumb_store_prepare(&stmt, store, "SELECT " SYNC_COLUMNS " FROM syncs WHERE id = ?1", what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 1, id, what)) < 0)
		goto done;
	error = read_one_sync(out, store, stmt, what);
	if (error == PLUMB_ENOTFOUND)
		error = plumb_error_set(PLUMB_ENOTFOUND, "%s: no sync %lld", store->path, (long long)id);

done:
	sqlite3_finalize(stmt);
	return error;
}

static int read_sync_row(void *item, plumb_store *store, sqlite3_stmt *stmt)
{
	return read_sync(item, store, stmt);
}

static void release_sync_row(void *item)
{
	plumb_sync_record_release(item);
}

int plumb_store_sync_list(plumb_sync_records *out, plumb_store *store, const char *destination,
			  const char *application, unsigned limit)
{
	static const char sql[] = "SELECT " SYNC_COLUMNS " FROM syncs" PLUMB_STORE_NEWEST_MATCHING;
	/* Through a void pointer of its own: a plumb_X_record ** is not a void **. */
	void *items = out->items;
	int error = plumb_store_list_rows(&items, &out->count, &out->capacity, sizeof(*out->items), store, sql,
					  "listing the syncs", destination, application, limit, read_sync_row,
					  release_sync_row);
	out->items = items;
	return error;
}

void plumb_sync_record_release(plumb_sync_record *record)
{
	free(record->operation);
	free(record->trigger);
	free(record->actor);
	free(record->application);
	free(record->destination);
	free(record->repo);
	free(record->revision);
	free(record->commit);
	free(record->path);
	free(record->error);
	memset(record, 0, sizeof(*record));
}

void plumb_sync_records_release(plumb_sync_records *records)
{
	for (size_t i = 0; i < records->count; i++)
		plumb_sync_record_release(&records->items[i]);
	free(records->items);
	memset(records, 0, sizeof(*records));
}

static const char *const outcome_names[] = {
	[PLUMB_OUTCOME_NOOP] = "noop",
	[PLUMB_OUTCOME_CHANGED] = "changed",
	[PLUMB_OUTCOME_FAILED] = "failed",
	[PLUMB_OUTCOME_SKIPPED] = "skipped",
	[PLUMB_OUTCOME_DENIED] = "denied",
};

const char *plumb_outcome_name(plumb_outcome outcome)
{
	if ((unsigned)outcome >= PLUMB_ARRAY_SIZE(outcome_names))
		return "unknown";
	return outcome_names[outcome];
}

int plumb_store_action_add(plumb_store *store, plumb_action_record *record)
{
	static const char sql[] = "INSERT INTO actions (sync_id, key, kind, resource, action, reason,"
				  " fingerprint_before, fingerprint_after, outcome, error, at)"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
	static const char what[] = "recording an action";
	sqlite3_stmt *stmt = NULL;
	char *application = NULL, *actor = NULL, *detail = NULL;
	int64_t at = record->at ? record->at : plumb_store_now();
	int64_t id = 0;
	int own = 0;
	int error;

	if ((unsigned)record->outcome >= PLUMB_ARRAY_SIZE(outcome_names))
		return plumb_error_set(PLUMB_EINVALID, "%s: an action of sync %lld has an unknown outcome %d",
				       store->path, (long long)record->sync_id, (int)record->outcome);
	if ((error = plumb_store_write_begin(store, &own)) < 0)
		return error;
	if ((error = plumb_store_sync_owner(&application, &actor, store, record->sync_id, what)) < 0 ||
	    (error = plumb_store_prepare_kept(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 1, record->sync_id, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 2, record->key, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 3, record->kind, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 4, record->resource, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 5, record->action, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 6, record->reason, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 7, record->before, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 8, record->after, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 9, outcome_names[record->outcome], what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 10, record->error, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 11, at, what)) < 0 ||
	    (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;
	id = sqlite3_last_insert_rowid(store->db);

	json_t *fields = json_object();
	plumb_audit_detail_int(fields, "id", id);
	plumb_audit_detail_int(fields, "sync_id", record->sync_id);
	plumb_audit_detail_text(fields, "key", record->key);
	plumb_audit_detail_text(fields, "kind", record->kind);
	plumb_audit_detail_text(fields, "resource", record->resource);
	plumb_audit_detail_text(fields, "action", record->action);
	plumb_audit_detail_text(fields, "reason", record->reason);
	plumb_audit_detail_text(fields, "before", record->before);
	plumb_audit_detail_text(fields, "after", record->after);
	plumb_audit_detail_text(fields, "outcome", outcome_names[record->outcome]);
	plumb_audit_detail_text(fields, "error", record->error);
	plumb_audit_detail_int(fields, "at", at);
	detail = plumb_audit_detail_dump(fields);
	/* Done on behalf of whoever ran the sync. */
	error = plumb_store_audit_write(store, actor, "action", record->key, detail);

done:
	plumb_store_statement_done(store, stmt);
	free(detail);
	free(actor);
	free(application);
	if ((error = plumb_store_write_end(store, own, error)) < 0)
		return error;
	record->id = id;
	record->at = at;
	return 0;
}

int plumb_store_action_list(plumb_action_records *out, plumb_store *store, int64_t sync_id)
{
	static const char sql[] = "SELECT id, sync_id, key, kind, resource, action, reason, fingerprint_before,"
				  " fingerprint_after, outcome, error, at FROM actions WHERE sync_id = ?1 ORDER BY id";
	static const char what[] = "listing the actions of a sync";
	sqlite3_stmt *stmt = NULL;
	size_t first = out->count;
	int error;
	int rc;

	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 1, sync_id, what)) < 0)
		goto done;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		char *name = plumb_store_column_string(stmt, 9);
		int outcome = plumb_store_name_index(outcome_names, PLUMB_ARRAY_SIZE(outcome_names), name);
		if (outcome < 0) {
			error = plumb_error_set(PLUMB_ERROR, "%s: action %lld has an unknown outcome '%s'", store->path,
						(long long)sqlite3_column_int64(stmt, 0), name);
			free(name);
			goto done;
		}
		free(name);
		PLUMB_GROW(out->items, out->count, out->capacity);
		plumb_action_record *record = &out->items[out->count++];
		record->id = sqlite3_column_int64(stmt, 0);
		record->sync_id = sqlite3_column_int64(stmt, 1);
		record->key = plumb_store_column_string(stmt, 2);
		record->kind = plumb_store_column_string(stmt, 3);
		record->resource = plumb_store_column_string(stmt, 4);
		record->action = plumb_store_column_string(stmt, 5);
		record->reason = plumb_store_column_string(stmt, 6);
		record->before = plumb_store_column_string(stmt, 7);
		record->after = plumb_store_column_string(stmt, 8);
		record->outcome = (plumb_outcome)outcome;
		record->error = plumb_store_column_string(stmt, 10);
		record->at = sqlite3_column_int64(stmt, 11);
	}
	if (rc != SQLITE_DONE)
		error = plumb_store_sqlite_error(store, rc, what);

done:
	sqlite3_finalize(stmt);
	if (error < 0) {
		while (out->count > first)
			plumb_action_record_release(&out->items[--out->count]);
	}
	return error;
}

void plumb_action_record_release(plumb_action_record *record)
{
	free(record->key);
	free(record->kind);
	free(record->resource);
	free(record->action);
	free(record->reason);
	free(record->before);
	free(record->after);
	free(record->error);
	memset(record, 0, sizeof(*record));
}

void plumb_action_records_release(plumb_action_records *records)
{
	for (size_t i = 0; i < records->count; i++)
		plumb_action_record_release(&records->items[i]);
	free(records->items);
	memset(records, 0, sizeof(*records));
}
