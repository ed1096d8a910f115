/*
 * store.c - a store's connection once it is open (open.c opens it): SQLite's
 * errors turned into ours, statements and the ones kept prepared, the
 * caller's transactions and the writes inside or outside them, what is made
 * durable when, closing, and the collector of rows (internal.h).
 */
#include "util/common.h"
#include "store/store.h"
#include "store/internal.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

/* How many bytes of WAL a closing store leaves for the next one to read back, at most: then it checkpoints. */
#define WAL_CHECKPOINT_BYTES (256 * 1024)

static const char sql_begin[] = "BEGIN IMMEDIATE";
static const char sql_commit[] = "COMMIT";
static const char sql_savepoint[] = "SAVEPOINT plumb_write";
static const char sql_release[] = "RELEASE plumb_write";

int plumb_store_sqlite_error(plumb_store *store, int rc, const char *what)
{
	int code = PLUMB_ERROR;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		code = PLUMB_ELOCKED;
		break;
	case SQLITE_CONSTRAINT:
		code = PLUMB_ECONFLICT;
		break;
	}
	/* A connection that failed to allocate itself has no message of its own. */
	const char *message = store->db ? sqlite3_errmsg(store->db) : sqlite3_errstr(rc);
	return plumb_error_set(code, "%s: %s: %s", store->path, what, message);
}

int plumb_store_prepare(sqlite3_stmt **out, plumb_store *store, const char *sql, const char *what)
{
	int rc = sqlite3_prepare_v2(store->db, sql, -1, out, NULL);
	if (rc != SQLITE_OK)
		return plumb_store_sqlite_error(store, rc, what);
	return 0;
}

int plumb_store_prepare_kept(sqlite3_stmt **out, plumb_store *store, const char *sql, const char *what)
{
	for (size_t i = 0; i < store->kept_count; i++) {
		if (store->kept[i].sql == sql) {
			*out = store->kept[i].stmt;
			return 0;
		}
	}
	if (store->kept_count == KEPT_STATEMENTS)
		return plumb_store_prepare(out, store, sql, what); /* plumb_store_statement_done finalizes it */
	int rc = sqlite3_prepare_v3(store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	if (rc != SQLITE_OK)
		return plumb_store_sqlite_error(store, rc, what);
	store->kept[store->kept_count].sql = sql;
	store->kept[store->kept_count++].stmt = *out;
	return 0;
}

void plumb_store_statement_done(plumb_store *store, sqlite3_stmt *stmt)
{
	for (size_t i = 0; stmt && i < store->kept_count; i++) {
		if (store->kept[i].stmt == stmt) {
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			return;
		}
	}
	sqlite3_finalize(stmt);
}

int plumb_store_bind_text(plumb_store *store, sqlite3_stmt *stmt, int index, const char *value, const char *what)
{
	/* SQLITE_STATIC: every caller steps the statement before value can go away. */
	int rc = sqlite3_bind_text(stmt, index, value ? value : "", -1, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		return plumb_store_sqlite_error(store, rc, what);
	return 0;
}

int plumb_store_bind_int64(plumb_store *store, sqlite3_stmt *stmt, int index, int64_t value, const char *what)
{
	int rc = sqlite3_bind_int64(stmt, index, value);
	if (rc != SQLITE_OK)
		return plumb_store_sqlite_error(store, rc, what);
	return 0;
}

int plumb_store_bind_filter(plumb_store *store, sqlite3_stmt *stmt, int index, const char *value, const char *what)
{
	return value ? plumb_store_bind_text(store, stmt, index, value, what) : 0;
}

int plumb_store_step_done(plumb_store *store, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		return plumb_store_sqlite_error(store, rc, what);
	return 0;
}

int plumb_store_exec(plumb_store *store, const char *sql, const char *what)
{
	int rc = sqlite3_exec(store->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return plumb_store_sqlite_error(store, rc, what);
	return 0;
}

/* plumb_store_exec for one statement that runs once an action (transaction control): kept prepared. */
static int exec_kept(plumb_store *store, const char *sql, const char *what)
{
	sqlite3_stmt *stmt = NULL;
	int error = plumb_store_prepare_kept(&stmt, store, sql, what);
	if (error == 0)
		error = plumb_store_step_done(store, stmt, what);
	plumb_store_statement_done(store, stmt);
	return error;
}

int plumb_store_name_index(const char *const *names, size_t count, const char *name)
{
	for (size_t i = 0; i < count; i++) {
		if (strcmp(name, names[i]) == 0)
			return (int)i;
	}
	return -1;
}

char *plumb_store_column_string(sqlite3_stmt *stmt, int column)
{
	const unsigned char *text = sqlite3_column_text(stmt, column);
	return plumb_xstrdup(text ? (const char *)text : "");
}

int64_t plumb_store_now(void)
{
	return (int64_t)time(NULL);
}

/*
 * Commits do not sync the WAL (synchronous = NORMAL) and closing does not
 * checkpoint it, so a run that changes nothing costs no fsync. What must
 * survive a power loss is made durable here, by syncing the WAL, which
 * holds every commit since the last checkpoint: at the end of a sync that
 * changed something, and when the store closes after any other write.
 * Rows of deferred writes alone (the stat cache, the record of a sync that
 * changed nothing) are left for the next sync or checkpoint to carry.
 * Returns an SQLite result code; sets no error.
 */
static int sync_wal(plumb_store *store)
{
	int64_t total = sqlite3_total_changes64(store->db);
	sqlite3_file *wal = NULL;
	int rc;

	if (total - store->changes_durable <= store->changes_deferred)
		return SQLITE_OK;
	rc = sqlite3_file_control(store->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal);
	if (rc == SQLITE_OK && wal && wal->pMethods)
		rc = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
	if (rc == SQLITE_OK) {
		store->changes_durable = total;
		store->changes_deferred = 0;
	}
	return rc;
}

int plumb_store_make_durable(plumb_store *store)
{
	int rc = sync_wal(store);
	if (rc != SQLITE_OK)
		return plumb_error_set(PLUMB_ERROR, "%s: cannot make the records durable: %s", store->path,
				       sqlite3_errstr(rc));
	return 0;
}

void plumb_store_defer_changes(plumb_store *store, int64_t total_before)
{
	store->changes_deferred += sqlite3_total_changes64(store->db) - total_before;
}

void plumb_store_free(plumb_store *store)
{
	struct stat st;

	if (!store)
		return;
	if (store->db) {
		char *wal = plumb_xprintf("%s-wal", store->path);
		/*
		 * Each open reads the WAL back, so once it has grown the last one out
		 * checkpoints it into the database and empties it; so does one that
		 * could not sync it, which is the other way to make it durable.
		 */
		if (sync_wal(store) != SQLITE_OK || (stat(wal, &st) == 0 && st.st_size > WAL_CHECKPOINT_BYTES))
			sqlite3_db_config(store->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
		free(wal);
	}
	/* The kept statements go here; every other is finalized where it was prepared. */
	for (size_t i = 0; i < store->kept_count; i++)
		sqlite3_finalize(store->kept[i].stmt);
	sqlite3_close(store->db);
	free(store->path);
	free(store);
}

int plumb_store_begin(plumb_store *store)
{
	if (store->transaction_open || !sqlite3_get_autocommit(store->db))
		return plumb_error_set(PLUMB_EINVALID, "%s: a transaction is already open; they do not nest",
				       store->path);
	/* IMMEDIATE takes the write lock now, so a later write cannot fail for want of it. */
	int error = exec_kept(store, sql_begin, "starting a transaction");
	store->transaction_open = error == 0;
	return error;
}

int plumb_store_commit(plumb_store *store)
{
	int error = exec_kept(store, sql_commit, "committing a transaction");
	/* A COMMIT that fails may leave the transaction open (SQLITE_BUSY), for the caller to roll back. */
	store->transaction_open = !sqlite3_get_autocommit(store->db);
	return error;
}

void plumb_store_rollback(plumb_store *store)
{
	store->transaction_open = 0;
	/* SQLite may already have rolled back on an error such as SQLITE_FULL. */
	if (sqlite3_get_autocommit(store->db))
		return;
	/* A failed rollback leaves nothing to do: SQLite rolls back the transaction when the connection closes. */
	sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
}

int plumb_store_write_begin(plumb_store *store, int *own)
{
	*own = 0;
	if (!sqlite3_get_autocommit(store->db))
		return exec_kept(store, sql_savepoint, "starting a write");
	if (store->transaction_open)
		return plumb_error_set(PLUMB_ERROR,
				       "%s: the open transaction was rolled back by SQLite after an earlier error",
				       store->path);
	*own = 1;
	return exec_kept(store, sql_begin, "starting a write");
}

int plumb_store_write_end(plumb_store *store, int own, int error)
{
	if (error == 0)
		error = own ? exec_kept(store, sql_commit, "committing a write") :
			      exec_kept(store, sql_release, "committing a write");
	if (error == 0)
		return 0;
	/* These fail harmlessly when SQLite has rolled back already. */
	if (own) {
		if (!sqlite3_get_autocommit(store->db))
			sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	} else {
		sqlite3_exec(store->db, "ROLLBACK TO plumb_write; RELEASE plumb_write", NULL, NULL, NULL);
	}
	return error;
}

int plumb_store_collect_rows(void **items, size_t *count, size_t *capacity, size_t item_size, plumb_store *store,
			     sqlite3_stmt *stmt, const char *what, plumb_store_row_reader read,
			     plumb_store_row_release release)
{
	size_t first = *count;
	int error = 0, rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (*count >= *capacity) {
			*capacity = *capacity ? *capacity * 2 : 8;
			*items = plumb_xrealloc(*items, *capacity * item_size);
		}
		if ((error = read((char *)*items + *count * item_size, store, stmt)) < 0)
			break;
		(*count)++;
	}
	if (error == 0 && rc != SQLITE_DONE)
		error = plumb_store_sqlite_error(store, rc, what);
	if (error < 0) {
		while (*count > first)
			release((char *)*items + --(*count) * item_size);
	}
	return error;
}

int64_t plumb_store_sql_limit(unsigned limit)
{
	return limit ? (int64_t)limit : -1;
}

int plumb_store_list_rows(void **items, size_t *count, size_t *capacity, size_t item_size, plumb_store *store,
			  const char *sql, const char *what, const char *destination, const char *application,
			  unsigned limit, plumb_store_row_reader read, plumb_store_row_release release)
{
	sqlite3_stmt *stmt = NULL;
	int error;

	if ((error = plumb_store_prepare(&stmt, store, sql, what)) == 0 &&
	    (error = plumb_store_bind_filter(store, stmt, 1, destination, what)) == 0 &&
	    (error = plumb_store_bind_filter(store, stmt, 2, application, what)) == 0 &&
	    (error = plumb_store_bind_int64(store, stmt, 3, plumb_store_sql_limit(limit), what)) == 0)
		error = plumb_store_collect_rows(items, count, capacity, item_size, store, stmt, what, read, release);
	sqlite3_finalize(stmt);
	return error;
}
