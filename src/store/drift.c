/*
 * drift.c - the drift log: one row per drifted object plumb found, with
 * where the content it overwrote was captured, each with its audit entry.
 */
#include "util/common.h"
#include "store/store.h"
#include "store/internal.h"
#include "store/audit_internal.h"
#include "store/syncs_internal.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>

int plumb_store_drift_add(plumb_store *store, plumb_drift_record *record)
{
	static const char sql[] = "INSERT INTO drift (sync_id, destination, application, key, kind, commit_id,"
				  " expected, observed, capture, capture_size, sensitive, note, at)"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
	static const char what[] = "recording a drift event";
	sqlite3_stmt *stmt = NULL;
	char *application = NULL, *actor = NULL, *detail = NULL;
	int64_t at = record->at ? record->at : plumb_store_now();
	int64_t id = 0;
	int own = 0;
	int error;

	if ((error = plumb_store_write_begin(store, &own)) < 0)
		return error;
	/* Drift repaired by a sync is on behalf of whoever ran it; drift found outside one has no actor. */
	if (record->sync_id && (error = plumb_store_sync_owner(&application, &actor, store, record->sync_id, what)) < 0)
		goto done;
	if ((error = plumb_store_prepare_kept(&stmt, store, sql, what)) < 0)
		goto done;
	/* sync_id 0 is stored as NULL: no sync, which the foreign key allows. */
	if (record->sync_id && (error = plumb_store_bind_int64(store, stmt, 1, record->sync_id, what)) < 0)
		goto done;
	if ((error = plumb_store_bind_text(store, stmt, 2, record->destination, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 3, record->application, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 4, record->key, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 5, record->kind, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 6, record->commit, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 7, record->expected, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 8, record->observed, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 9, record->capture, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 10, record->capture_size, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 11, record->sensitive != 0, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 12, record->note, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 13, at, what)) < 0 ||
	    (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;
	id = sqlite3_last_insert_rowid(store->db);

	json_t *fields = json_object();
	plumb_audit_detail_int(fields, "id", id);
	plumb_audit_detail_int(fields, "sync_id", record->sync_id);
	plumb_audit_detail_text(fields, "destination", record->destination);
	plumb_audit_detail_text(fields, "application", record->application);
	plumb_audit_detail_text(fields, "key", record->key);
	plumb_audit_detail_text(fields, "kind", record->kind);
	plumb_audit_detail_text(fields, "commit", record->commit);
	plumb_audit_detail_text(fields, "expected", record->expected);
	plumb_audit_detail_text(fields, "observed", record->observed);
	plumb_audit_detail_text(fields, "capture", record->capture);
	plumb_audit_detail_int(fields, "capture_size", record->capture_size);
	json_object_set_new(fields, "sensitive", json_boolean(record->sensitive));
	plumb_audit_detail_text(fields, "note", record->note);
	plumb_audit_detail_int(fields, "at", at);
	detail = plumb_audit_detail_dump(fields);
	error = plumb_store_audit_write(store, actor, "drift", record->key, detail);

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

#define DRIFT_COLUMNS                                                                                        \
	"id, sync_id, destination, application, key, kind, commit_id, expected, observed, capture, capture_size," \
	" sensitive, note, at"

/* Fill out from a row of DRIFT_COLUMNS. */
static void read_drift(plumb_drift_record *out, sqlite3_stmt *stmt)
{
	memset(out, 0, sizeof(*out));
	out->id = sqlite3_column_int64(stmt, 0);
	out->sync_id = sqlite3_column_int64(stmt, 1);
	out->destination = plumb_store_column_string(stmt, 2);
	out->application = plumb_store_column_string(stmt, 3);
	out->key = plumb_store_column_string(stmt, 4);
	out->kind = plumb_store_column_string(stmt, 5);
	out->commit = plumb_store_column_string(stmt, 6);
	out->expected = plumb_store_column_string(stmt, 7);
	out->observed = plumb_store_column_string(stmt, 8);
	out->capture = plumb_store_column_string(stmt, 9);
	out->capture_size = sqlite3_column_int64(stmt, 10);
	out->sensitive = sqlite3_column_int64(stmt, 11) != 0;
	out->note = plumb_store_column_string(stmt, 12);
	out->at = sqlite3_column_int64(stmt, 13);
}

int plumb_store_drift_get(plumb_drift_record *out, plumb_store *store, int64_t id)
{
	static const char sql[] = "SELECT " DRIFT_COLUMNS " FROM drift WHERE id = ?1";
	static const char what[] = "reading a drift event";
	sqlite3_stmt *stmt = NULL;
	int error;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 1, id, what)) < 0)
		goto done;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		read_drift(out, stmt);
	else if (rc == SQLITE_DONE)
		error = plumb_error_set(PLUMB_ENOTFOUND, "%s: no drift event %lld", store->path, (long long)id);
	else
		error = plumb_store_sqlite_error(store, rc, what);

done:
	sqlite3_finalize(stmt);
	return error;
}

static int read_drift_row(void *item, plumb_store *store, sqlite3_stmt *stmt)
{
	read_drift(item, stmt);
	return 0;
}

static void release_drift_row(void *item)
{
	plumb_drift_record_release(item);
}

int plumb_store_drift_list(plumb_drift_records *out, plumb_store *store, const char *destination,
			   const char *application, unsigned limit)
{
	static const char sql[] = "SELECT " DRIFT_COLUMNS " FROM drift" PLUMB_STORE_NEWEST_MATCHING;
	/* Through a void pointer of its own: a plumb_X_record ** is not a void **. */
	void *items = out->items;
	int error = plumb_store_list_rows(&items, &out->count, &out->capacity, sizeof(*out->items), store, sql,
					  "listing the drift events", destination, application, limit, read_drift_row,
					  release_drift_row);
	out->items = items;
	return error;
}

void plumb_drift_record_release(plumb_drift_record *record)
{
	free(record->destination);
	free(record->application);
	free(record->key);
	free(record->kind);
	free(record->commit);
	free(record->expected);
	free(record->observed);
	free(record->capture);
	free(record->note);
	memset(record, 0, sizeof(*record));
}

void plumb_drift_records_release(plumb_drift_records *records)
{
	for (size_t i = 0; i < records->count; i++)
		plumb_drift_record_release(&records->items[i]);
	free(records->items);
	memset(records, 0, sizeof(*records));
}
