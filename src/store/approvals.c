/*
 * approvals.c - plans that wait for a person (syncPolicy approval:
 * prompted), one waiting at a time per destination and application, and
 * what became of each: approved, rejected, applied or superseded, each
 * change with its audit entry.
 */
#include "util/common.h"
#include "store/store.h"
#include "store/internal.h"
#include "store/audit_internal.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>

static const char *const approval_state_names[] = {
	[PLUMB_APPROVAL_PENDING] = "pending",
	[PLUMB_APPROVAL_APPROVED] = "approved",
	[PLUMB_APPROVAL_REJECTED] = "rejected",
	[PLUMB_APPROVAL_APPLIED] = "applied",
	[PLUMB_APPROVAL_SUPERSEDED] = "superseded",
};

const char *plumb_approval_state_name(plumb_approval_state state)
{
	if ((unsigned)state >= PLUMB_ARRAY_SIZE(approval_state_names))
		return "unknown";
	return approval_state_names[state];
}

/* The state named name, or -1 when it names none. */
static int approval_state_index(const char *name)
{
	return plumb_store_name_index(approval_state_names, PLUMB_ARRAY_SIZE(approval_state_names), name);
}

#define APPROVAL_COLUMNS                                                                                \
	"id, destination, application, commit_id, plan, summary, state, requested_by, decided_by, note," \
	" created_at, decided_at"

/* Fill out (which the caller has not filled) from a row of APPROVAL_COLUMNS. */
static int read_approval(plumb_approval_record *out, plumb_store *store, sqlite3_stmt *stmt)
{
	char *state = plumb_store_column_string(stmt, 6);
	int index = approval_state_index(state);
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (index < 0) {
		error = plumb_error_set(PLUMB_ERROR, "%s: approval %lld has an unknown state '%s'", store->path,
					(long long)sqlite3_column_int64(stmt, 0), state);
		free(state);
		return error;
	}
	free(state);
	out->state = (plumb_approval_state)index;
	out->id = sqlite3_column_int64(stmt, 0);
	out->destination = plumb_store_column_string(stmt, 1);
	out->application = plumb_store_column_string(stmt, 2);
	out->commit = plumb_store_column_string(stmt, 3);
	out->plan = plumb_store_column_string(stmt, 4);
	out->summary = plumb_store_column_string(stmt, 5);
	out->requested_by = plumb_store_column_string(stmt, 7);
	out->decided_by = plumb_store_column_string(stmt, 8);
	out->note = plumb_store_column_string(stmt, 9);
	out->created_at = sqlite3_column_int64(stmt, 10);
	out->decided_at = sqlite3_column_int64(stmt, 11);
	return 0;
}

/*
 * What a change of plan id's state needs to know: the state it is in, its
 * application (the audit entry's subject) and who requested it.
 * PLUMB_ENOTFOUND when there is no such plan.
 */
static int read_approval_owner(plumb_approval_state *state, char **application, char **requested_by,
			       plumb_store *store, int64_t id, const char *what)
{
	static const char sql[] = "SELECT state, application, requested_by FROM approvals WHERE id = ?1";
	sqlite3_stmt *stmt = NULL;
	char *name = NULL;
	int error;
	int rc;

	*application = *requested_by = NULL;
	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 1, id, what)) < 0)
		goto done;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		error = plumb_error_set(PLUMB_ENOTFOUND, "%s: no approval %lld", store->path, (long long)id);
		goto done;
	}
	if (rc != SQLITE_ROW) {
		error = plumb_store_sqlite_error(store, rc, what);
		goto done;
	}
	name = plumb_store_column_string(stmt, 0);
	int index = approval_state_index(name);
	if (index < 0) {
		error = plumb_error_set(PLUMB_ERROR, "%s: approval %lld has an unknown state '%s'", store->path,
					(long long)id, name);
		goto done;
	}
	*state = (plumb_approval_state)index;
	*application = plumb_store_column_string(stmt, 1);
	*requested_by = plumb_store_column_string(stmt, 2);

done:
	free(name);
	sqlite3_finalize(stmt);
	return error;
}

/*
 * End plan id as state (APPLIED or SUPERSEDED), inside a write the caller
 * has begun, and audit it as actor (NULL: the plan's requester, the daemon
 * that applies or drops its plans). A NULL note leaves the plan's note (an
 * approval's reason) as it is. decided_at keeps the time of a person's
 * decision when there was one, and is otherwise the time the plan ended.
 */
static int approval_end(plumb_store *store, int64_t id, plumb_approval_state state, const char *note,
			const char *actor)
{
	static const char sql[] = "UPDATE approvals SET state = ?1, note = coalesce(?2, note),"
				  " decided_at = CASE WHEN decided_at > 0 THEN decided_at ELSE ?3 END WHERE id = ?4";
	static const char what[] = "ending a plan awaiting approval";
	sqlite3_stmt *stmt = NULL;
	char *application = NULL, *requested_by = NULL, *detail = NULL;
	plumb_approval_state from;
	int error;

	if ((error = read_approval_owner(&from, &application, &requested_by, store, id, what)) < 0)
		goto done;
	if (from != PLUMB_APPROVAL_PENDING && from != PLUMB_APPROVAL_APPROVED) {
		error = plumb_error_set(PLUMB_ECONFLICT, "%s: approval %lld is %s: only a pending or approved plan can be %s",
					store->path, (long long)id, plumb_approval_state_name(from),
					plumb_approval_state_name(state));
		goto done;
	}
	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 1, approval_state_names[state], what)) < 0 ||
	    (error = plumb_store_bind_filter(store, stmt, 2, note, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 3, plumb_store_now(), what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 4, id, what)) < 0 ||
	    (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;

	json_t *fields = json_object();
	plumb_audit_detail_int(fields, "id", id);
	plumb_audit_detail_text(fields, "note", note);
	detail = plumb_audit_detail_dump(fields);
	error = plumb_store_audit_write(store, actor ? actor : requested_by,
					state == PLUMB_APPROVAL_APPLIED ? "approval.applied" : "approval.superseded",
					application, detail);

done:
	sqlite3_finalize(stmt);
	free(detail);
	free(requested_by);
	free(application);
	return error;
}

/* The ids of the plans of destination and application, but except, that still wait or are approved. */
static int approval_open_ids(int64_t **out, size_t *count, plumb_store *store, const char *destination,
			     const char *application, int64_t except, const char *what)
{
	static const char sql[] = "SELECT id FROM approvals WHERE destination = ?1 AND application = ?2 AND id != ?3"
				  " AND state IN ('pending', 'approved') ORDER BY id";
	sqlite3_stmt *stmt = NULL;
	size_t capacity = 0;
	int error;
	int rc;

	*out = NULL;
	*count = 0;
	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 1, destination, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 2, application, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 3, except, what)) < 0)
		goto done;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		PLUMB_GROW(*out, *count, capacity);
		(*out)[(*count)++] = sqlite3_column_int64(stmt, 0);
	}
	if (rc != SQLITE_DONE)
		error = plumb_store_sqlite_error(store, rc, what);

done:
	sqlite3_finalize(stmt);
	return error;
}

int plumb_store_approval_add(plumb_store *store, plumb_approval_record *record)
{
	static const char sql[] = "INSERT INTO approvals (destination, application, commit_id, plan, summary, state,"
				  " requested_by, decided_by, note, created_at, decided_at)"
				  " VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, '', '', ?7, 0)";
	static const char what[] = "recording a plan awaiting approval";
	sqlite3_stmt *stmt = NULL;
	int64_t created_at = record->created_at ? record->created_at : plumb_store_now();
	int64_t id = 0;
	int64_t *superseded = NULL;
	size_t superseded_count = 0;
	char *detail = NULL;
	int own = 0;
	int error;

	if (!record->destination || !*record->destination || !record->plan || !*record->plan)
		return plumb_error_set(PLUMB_EINVALID, "%s: a plan awaiting approval needs a destination and a plan",
				       store->path);

	if ((error = plumb_store_write_begin(store, &own)) < 0)
		return error;
	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 1, record->destination, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 2, record->application, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 3, record->commit, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 4, record->plan, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 5, record->summary, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 6, record->requested_by, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 7, created_at, what)) < 0 ||
	    (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;
	id = sqlite3_last_insert_rowid(store->db);

	/* The plan body stays out of the log: it is in the row, which the id names. */
	json_t *fields = json_object();
	plumb_audit_detail_int(fields, "id", id);
	plumb_audit_detail_text(fields, "commit", record->commit);
	plumb_audit_detail_text(fields, "summary", record->summary);
	plumb_audit_detail_text(fields, "requested_by", record->requested_by);
	detail = plumb_audit_detail_dump(fields);
	if ((error = plumb_store_audit_write(store, record->requested_by, "approval.request", record->application,
					     detail)) < 0)
		goto done;

	/* One plan waits at a time: the new one replaces every earlier one not yet decided against or done. */
	if ((error = approval_open_ids(&superseded, &superseded_count, store, record->destination,
				       record->application, id, what)) < 0)
		goto done;
	for (size_t i = 0; i < superseded_count && error == 0; i++) {
		char *note = plumb_xprintf("superseded by plan %lld", (long long)id);
		error = approval_end(store, superseded[i], PLUMB_APPROVAL_SUPERSEDED, note, record->requested_by);
		free(note);
	}

done:
	sqlite3_finalize(stmt);
	free(superseded);
	free(detail);
	if ((error = plumb_store_write_end(store, own, error)) < 0)
		return error;
	record->id = id;
	record->created_at = created_at;
	record->state = PLUMB_APPROVAL_PENDING;
	record->decided_at = 0;
	return 0;
}

int plumb_store_approval_decide(plumb_store *store, int64_t id, int approve, const char *actor, const char *note)
{
	static const char sql[] = "UPDATE approvals SET state = ?1, decided_by = ?2, note = ?3, decided_at = ?4"
				  " WHERE id = ?5";
	static const char what[] = "recording a decision on a plan";
	sqlite3_stmt *stmt = NULL;
	plumb_approval_state state = approve ? PLUMB_APPROVAL_APPROVED : PLUMB_APPROVAL_REJECTED;
	plumb_approval_state from;
	char *application = NULL, *requested_by = NULL, *detail = NULL;
	int own = 0;
	int error;

	if (!actor || !*actor)
		return plumb_error_set(PLUMB_EINVALID, "%s: a decision on approval %lld needs an actor", store->path,
				       (long long)id);
	/* Made first: actor or note may be the error slot, which a failure below would overwrite. */
	json_t *fields = json_object();
	plumb_audit_detail_int(fields, "id", id);
	plumb_audit_detail_text(fields, "actor", actor);
	plumb_audit_detail_text(fields, "note", note);
	detail = plumb_audit_detail_dump(fields);

	if ((error = plumb_store_write_begin(store, &own)) < 0) {
		free(detail);
		return error;
	}
	/* Read under the write lock: two people deciding at once cannot both find it pending. */
	if ((error = read_approval_owner(&from, &application, &requested_by, store, id, what)) < 0)
		goto done;
	if (from != PLUMB_APPROVAL_PENDING) {
		error = plumb_error_set(PLUMB_ECONFLICT, "%s: approval %lld is %s, not pending: it cannot be %s",
					store->path, (long long)id, plumb_approval_state_name(from),
					approve ? "approved" : "rejected");
		goto done;
	}
	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 1, approval_state_names[state], what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 2, actor, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 3, note, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 4, plumb_store_now(), what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 5, id, what)) < 0 ||
	    (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;
	error = plumb_store_audit_write(store, actor, approve ? "approval.approve" : "approval.reject", application,
					detail);

done:
	sqlite3_finalize(stmt);
	error = plumb_store_write_end(store, own, error);
	free(detail);
	free(requested_by);
	free(application);
	return error;
}

int plumb_store_approval_finish(plumb_store *store, int64_t id, plumb_approval_state state, const char *note)
{
	char *note_copy = NULL;
	int own = 0;
	int error;

	if (state != PLUMB_APPROVAL_APPLIED && state != PLUMB_APPROVAL_SUPERSEDED)
		return plumb_error_set(PLUMB_EINVALID, "%s: approval %lld can only finish as applied or superseded, not %s",
				       store->path, (long long)id, plumb_approval_state_name(state));
	/* A copy: note may be the error slot, which a failure below would overwrite. */
	note_copy = note ? plumb_xstrdup(note) : NULL;
	if ((error = plumb_store_write_begin(store, &own)) < 0)
		goto done;
	error = approval_end(store, id, state, note_copy, NULL);
	error = plumb_store_write_end(store, own, error);

done:
	free(note_copy);
	return error;
}

int plumb_store_approval_get(plumb_approval_record *out, plumb_store *store, int64_t id)
{
	static const char sql[] = "SELECT " APPROVAL_COLUMNS " FROM approvals WHERE id = ?1";
	static const char what[] = "reading a plan awaiting approval";
	sqlite3_stmt *stmt = NULL;
	int error;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 1, id, what)) < 0)
		goto done;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		error = read_approval(out, store, stmt);
	else if (rc == SQLITE_DONE)
		error = plumb_error_set(PLUMB_ENOTFOUND, "%s: no approval %lld", store->path, (long long)id);
	else
		error = plumb_store_sqlite_error(store, rc, what);

done:
	sqlite3_finalize(stmt);
	return error;
}

static int read_approval_row(void *item, plumb_store *store, sqlite3_stmt *stmt)
{
	return read_approval(item, store, stmt);
}

static void release_approval_row(void *item)
{
	plumb_approval_record_release(item);
}

int plumb_store_approval_list(plumb_approval_records *out, plumb_store *store, const char *destination,
			      const char *application, unsigned limit)
{
	static const char sql[] = "SELECT " APPROVAL_COLUMNS " FROM approvals" PLUMB_STORE_NEWEST_MATCHING;
	/* Through a void pointer of its own: a plumb_X_record ** is not a void **. */
	void *items = out->items;
	int error = plumb_store_list_rows(&items, &out->count, &out->capacity, sizeof(*out->items), store, sql,
					  "listing the plans awaiting approval", destination, application, limit,
					  read_approval_row, release_approval_row);
	out->items = items;
	return error;
}

void plumb_approval_record_release(plumb_approval_record *record)
{
	free(record->destination);
	free(record->application);
	free(record->commit);
	free(record->plan);
	free(record->summary);
	free(record->requested_by);
	free(record->decided_by);
	free(record->note);
	memset(record, 0, sizeof(*record));
}

void plumb_approval_records_release(plumb_approval_records *records)
{
	for (size_t i = 0; i < records->count; i++)
		plumb_approval_record_release(&records->items[i]);
	free(records->items);
	memset(records, 0, sizeof(*records));
}
