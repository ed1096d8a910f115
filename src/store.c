#include "util/common.h"
#include "util/fs.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The schema this code reads and writes, kept in PRAGMA user_version. */
#define SCHEMA_VERSION 1

/* How long a statement waits for another connection's write lock before giving up. */
#define BUSY_TIMEOUT_MS 5000

struct plumb_store {
	sqlite3 *db;
	char *path; /* STATE/plumb.db, for messages */
};

/*
 * The primary key columns are NOT NULL because SQLite, for historical
 * reasons, lets NULL into a non-INTEGER primary key; every other NULL is
 * read back as "".
 */
static const char schema_sql[] =
	"CREATE TABLE inventory ("
	" destination TEXT NOT NULL,"
	" key TEXT NOT NULL,"
	" application TEXT,"
	" provider TEXT,"
	" kind TEXT,"
	" resource TEXT,"
	" created INTEGER,"
	" fingerprint TEXT,"
	" commit_id TEXT,"
	" updated_at INTEGER,"
	" PRIMARY KEY (destination, key));"
	"CREATE TABLE syncs ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" application TEXT,"
	" destination TEXT,"
	" repo TEXT,"
	" revision TEXT,"
	" commit_id TEXT,"
	" path TEXT,"
	" started_at INTEGER,"
	" finished_at INTEGER,"
	" result TEXT CHECK (result IN ('running', 'succeeded', 'failed')),"
	" created INTEGER,"
	" updated INTEGER,"
	" deleted INTEGER,"
	" error TEXT);"
	"CREATE INDEX syncs_by_destination ON syncs (destination, application, id);"
	"PRAGMA user_version = 1;";

static const char *const result_names[] = {
	[PLUMB_SYNC_RUNNING] = "running",
	[PLUMB_SYNC_SUCCEEDED] = "succeeded",
	[PLUMB_SYNC_FAILED] = "failed",
};

/*
 * Turn the SQLite error rc into ours, with a message naming the file and
 * what was being done. Call it right after the failing call: that is the
 * only moment sqlite3_errmsg describes this failure.
 */
static int sqlite_error(plumb_store *store, int rc, const char *what)
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

static int prepare(sqlite3_stmt **out, plumb_store *store, const char *sql, const char *what)
{
	int rc = sqlite3_prepare_v2(store->db, sql, -1, out, NULL);
	if (rc != SQLITE_OK)
		return sqlite_error(store, rc, what);
	return 0;
}

/* Bind a string; NULL is stored as "" so that readers need not tell the two apart. */
static int bind_text(plumb_store *store, sqlite3_stmt *stmt, int index, const char *value, const char *what)
{
	/* SQLITE_STATIC: every caller steps the statement before value can go away. */
	int rc = sqlite3_bind_text(stmt, index, value ? value : "", -1, SQLITE_STATIC);
	if (rc != SQLITE_OK)
		return sqlite_error(store, rc, what);
	return 0;
}

static int bind_int64(plumb_store *store, sqlite3_stmt *stmt, int index, int64_t value, const char *what)
{
	int rc = sqlite3_bind_int64(stmt, index, value);
	if (rc != SQLITE_OK)
		return sqlite_error(store, rc, what);
	return 0;
}

/* Run a statement that returns no rows. */
static int step_done(plumb_store *store, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE)
		return sqlite_error(store, rc, what);
	return 0;
}

/* Run SQL that has no values in it (pragmas, transaction control, the schema). */
static int exec(plumb_store *store, const char *sql, const char *what)
{
	int rc = sqlite3_exec(store->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sqlite_error(store, rc, what);
	return 0;
}

/* A text column as a new string; NULL reads as "". */
static char *column_string(sqlite3_stmt *stmt, int column)
{
	const unsigned char *text = sqlite3_column_text(stmt, column);
	return plumb_xstrdup(text ? (const char *)text : "");
}

static int64_t now(void)
{
	return (int64_t)time(NULL);
}

/*
 * Create the database file ourselves, 0600, before SQLite opens it: SQLite
 * would create it 0644, and gives its -wal and -shm files the mode of the
 * database file. An existing file that others can read is tightened.
 */
static int create_private_file(const char *path)
{
	struct stat st;
	int error = 0;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return plumb_error_set(PLUMB_ERROR, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "cannot stat %s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		error = plumb_error_set(PLUMB_ERROR, "%s is not a regular file", path);
		goto done;
	}
	if ((st.st_mode & 0777) != 0600 && fchmod(fd, 0600) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "cannot make %s private (mode 0600): %s", path, strerror(errno));
		goto done;
	}

done:
	close(fd);
	return error;
}

/*
 * Read PRAGMA user_version. This is the first read of the file, so it is
 * where a file that is not a database shows itself.
 */
static int read_schema_version(int *out, plumb_store *store)
{
	sqlite3_stmt *stmt = NULL;
	int error = 0;
	int rc = sqlite3_prepare_v2(store->db, "PRAGMA user_version", -1, &stmt, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		if ((rc & 0xff) == SQLITE_NOTADB)
			error = plumb_error_set(PLUMB_ERROR, "%s is not a SQLite database, so not a plumb store",
						store->path);
		else
			error = sqlite_error(store, rc, "reading the schema version");
		goto done;
	}
	*out = sqlite3_column_int(stmt, 0);

done:
	sqlite3_finalize(stmt);
	return error;
}

static int check_schema_version(plumb_store *store, int version)
{
	if (version > SCHEMA_VERSION)
		return plumb_error_set(PLUMB_ERROR, "%s was written by a newer plumb (schema %d, this plumb knows %d)",
				       store->path, version, SCHEMA_VERSION);
	if (version < 0)
		return plumb_error_set(PLUMB_ERROR, "%s is not a plumb store (schema version %d)", store->path,
				       version);
	return 0;
}

static int set_journal_mode_wal(plumb_store *store)
{
	sqlite3_stmt *stmt = NULL;
	int error;
	int rc;

	if ((error = prepare(&stmt, store, "PRAGMA journal_mode = WAL", "switching to WAL mode")) < 0)
		goto done;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		error = sqlite_error(store, rc, "switching to WAL mode");
		goto done;
	}
	/* SQLite answers with the mode now in force, which is the old one when WAL is not possible here. */
	const unsigned char *mode = sqlite3_column_text(stmt, 0);
	if (!mode || sqlite3_stricmp((const char *)mode, "wal") != 0)
		error = plumb_error_set(PLUMB_ERROR, "%s: cannot switch to WAL mode (journal mode stays %s)",
					store->path, mode ? (const char *)mode : "unknown");

done:
	sqlite3_finalize(stmt);
	return error;
}

/*
 * Give a fresh database the schema. The version is read again under the
 * write lock, so two plumbs opening a new store at once create it once.
 */
static int create_schema(plumb_store *store)
{
	sqlite3_stmt *stmt = NULL;
	int version = 0;
	int error;

	if ((error = exec(store, "BEGIN IMMEDIATE", "starting to create the schema")) < 0)
		return error;
	if ((error = read_schema_version(&version, store)) < 0 || (error = check_schema_version(store, version)) < 0)
		goto done;
	if (version == SCHEMA_VERSION)
		goto done;

	/* Schema version 0 with tables in it is some other program's database: leave it alone. */
	if ((error = prepare(&stmt, store, "SELECT 1 FROM sqlite_schema LIMIT 1", "reading the schema")) < 0)
		goto done;
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		error = plumb_error_set(PLUMB_ERROR, "%s is not a plumb store (it holds tables but no schema version)",
					store->path);
		goto done;
	}
	if (rc != SQLITE_DONE) {
		error = sqlite_error(store, rc, "reading the schema");
		goto done;
	}
	if ((error = exec(store, schema_sql, "creating the schema")) < 0)
		goto done;
	error = exec(store, "COMMIT", "committing the schema");

done:
	sqlite3_finalize(stmt);
	/* Still open only when nothing was written or something failed: either way there is nothing to keep. */
	if (!sqlite3_get_autocommit(store->db))
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	return error;
}

int plumb_store_open(plumb_store **out, const char *state_dir)
{
	plumb_store *store = plumb_xcalloc(1, sizeof(*store));
	int version = 0;
	int error = 0;
	int rc;

	*out = NULL;
	size_t len = strlen(state_dir);
	while (len > 1 && state_dir[len - 1] == '/')
		len--;
	if (len == 0) {
		store->path = plumb_xstrdup("plumb.db");
		error = plumb_error_set(PLUMB_ERROR, "no state directory given for %s", store->path);
		goto done;
	}
	store->path = plumb_xprintf("%.*s%splumb.db", (int)len, state_dir, state_dir[len - 1] == '/' ? "" : "/");

	if ((error = plumb_fs_make_directories(state_dir, 0700)) < 0 || (error = create_private_file(store->path)) < 0)
		goto done;

	rc = sqlite3_open_v2(store->path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		error = sqlite_error(store, rc, "opening the database");
		goto done;
	}
	sqlite3_extended_result_codes(store->db, 1);
	rc = sqlite3_busy_timeout(store->db, BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK) {
		error = sqlite_error(store, rc, "setting the busy timeout");
		goto done;
	}

	/* Check the version before anything writes to the file: a newer plumb's store stays untouched. */
	if ((error = read_schema_version(&version, store)) < 0 || (error = check_schema_version(store, version)) < 0)
		goto done;
	if ((error = set_journal_mode_wal(store)) < 0)
		goto done;
	/* In WAL mode NORMAL loses no integrity on a crash, only the last commits before a power loss. */
	if ((error = exec(store, "PRAGMA synchronous = NORMAL", "setting synchronous mode")) < 0 ||
	    (error = exec(store, "PRAGMA foreign_keys = ON", "enabling foreign keys")) < 0)
		goto done;
	if (version < SCHEMA_VERSION && (error = create_schema(store)) < 0)
		goto done;

	*out = store;
	store = NULL;

done:
	plumb_store_free(store);
	/* The contract gives one code for every way open fails; the message says which. */
	return error < 0 ? PLUMB_ERROR : 0;
}

void plumb_store_free(plumb_store *store)
{
	if (!store)
		return;
	/* Every statement is finalized where it was prepared, so close cannot find one left over. */
	sqlite3_close(store->db);
	free(store->path);
	free(store);
}

int plumb_store_begin(plumb_store *store)
{
	if (!sqlite3_get_autocommit(store->db))
		return plumb_error_set(PLUMB_EINVALID, "%s: a transaction is already open; they do not nest",
				       store->path);
	/* IMMEDIATE takes the write lock now, so a later write cannot fail for want of it. */
	return exec(store, "BEGIN IMMEDIATE", "starting a transaction");
}

int plumb_store_commit(plumb_store *store)
{
	return exec(store, "COMMIT", "committing a transaction");
}

void plumb_store_rollback(plumb_store *store)
{
	/* SQLite may already have rolled back on an error such as SQLITE_FULL. */
	if (sqlite3_get_autocommit(store->db))
		return;
	/* A failed rollback leaves nothing to do: SQLite rolls back the transaction when the connection closes. */
	sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
}

int plumb_store_inventory_list(plumb_inventory *out, plumb_store *store, const char *destination,
			       const char *application)
{
	static const char sql[] = "SELECT destination, key, application, provider, kind, resource, created,"
				  " fingerprint, commit_id, updated_at FROM inventory"
				  " WHERE destination = ?1 AND (?2 IS NULL OR application = ?2) ORDER BY key";
	static const char what[] = "listing the inventory";
	sqlite3_stmt *stmt = NULL;
	size_t first = out->count;
	int error;
	int rc;

	if ((error = prepare(&stmt, store, sql, what)) < 0 ||
	    (error = bind_text(store, stmt, 1, destination, what)) < 0)
		goto done;
	/* Bound as NULL (not "") when absent: NULL means every application. */
	if (application && (error = bind_text(store, stmt, 2, application, what)) < 0)
		goto done;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		PLUMB_GROW(out->items, out->count, out->capacity);
		plumb_inventory_entry *entry = &out->items[out->count++];
		entry->destination = column_string(stmt, 0);
		entry->key = column_string(stmt, 1);
		entry->application = column_string(stmt, 2);
		entry->provider = column_string(stmt, 3);
		entry->kind = column_string(stmt, 4);
		entry->resource = column_string(stmt, 5);
		entry->created = sqlite3_column_int64(stmt, 6) != 0;
		entry->fingerprint = column_string(stmt, 7);
		entry->commit = column_string(stmt, 8);
		entry->updated_at = sqlite3_column_int64(stmt, 9);
	}
	if (rc != SQLITE_DONE)
		error = sqlite_error(store, rc, what);

done:
	sqlite3_finalize(stmt);
	/* On failure out is as the caller gave it, not half-appended. */
	if (error < 0) {
		while (out->count > first)
			plumb_inventory_entry_release(&out->items[--out->count]);
	}
	return error;
}

int plumb_store_inventory_put(plumb_store *store, const plumb_inventory_entry *entry)
{
	static const char sql[] = "INSERT OR REPLACE INTO inventory (destination, key, application, provider, kind,"
				  " resource, created, fingerprint, commit_id, updated_at)"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
	static const char what[] = "recording an inventory entry";
	sqlite3_stmt *stmt = NULL;
	int error;

	if (!entry->destination || !*entry->destination || !entry->key || !*entry->key)
		return plumb_error_set(PLUMB_EINVALID, "%s: an inventory entry needs a destination and a key",
				       store->path);

	if ((error = prepare(&stmt, store, sql, what)) < 0 ||
	    (error = bind_text(store, stmt, 1, entry->destination, what)) < 0 ||
	    (error = bind_text(store, stmt, 2, entry->key, what)) < 0 ||
	    (error = bind_text(store, stmt, 3, entry->application, what)) < 0 ||
	    (error = bind_text(store, stmt, 4, entry->provider, what)) < 0 ||
	    (error = bind_text(store, stmt, 5, entry->kind, what)) < 0 ||
	    (error = bind_text(store, stmt, 6, entry->resource, what)) < 0 ||
	    (error = bind_int64(store, stmt, 7, entry->created != 0, what)) < 0 ||
	    (error = bind_text(store, stmt, 8, entry->fingerprint, what)) < 0 ||
	    (error = bind_text(store, stmt, 9, entry->commit, what)) < 0 ||
	    (error = bind_int64(store, stmt, 10, entry->updated_at ? entry->updated_at : now(), what)) < 0)
		goto done;
	error = step_done(store, stmt, what);

done:
	sqlite3_finalize(stmt);
	return error;
}

int plumb_store_inventory_delete(plumb_store *store, const char *destination, const char *key)
{
	static const char what[] = "deleting an inventory entry";
	sqlite3_stmt *stmt = NULL;
	int error;

	if ((error = prepare(&stmt, store, "DELETE FROM inventory WHERE destination = ?1 AND key = ?2", what)) < 0 ||
	    (error = bind_text(store, stmt, 1, destination, what)) < 0 ||
	    (error = bind_text(store, stmt, 2, key, what)) < 0)
		goto done;
	error = step_done(store, stmt, what);

done:
	sqlite3_finalize(stmt);
	return error;
}

void plumb_inventory_entry_release(plumb_inventory_entry *entry)
{
	free(entry->destination);
	free(entry->key);
	free(entry->application);
	free(entry->provider);
	free(entry->kind);
	free(entry->resource);
	free(entry->fingerprint);
	free(entry->commit);
	memset(entry, 0, sizeof(*entry));
}

void plumb_inventory_release(plumb_inventory *inventory)
{
	for (size_t i = 0; i < inventory->count; i++)
		plumb_inventory_entry_release(&inventory->items[i]);
	free(inventory->items);
	memset(inventory, 0, sizeof(*inventory));
}

int plumb_store_sync_begin(plumb_store *store, plumb_sync_record *record)
{
	static const char sql[] = "INSERT INTO syncs (application, destination, repo, revision, commit_id, path,"
				  " started_at, finished_at, result, created, updated, deleted, error)"
				  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 'running', 0, 0, 0, '')";
	static const char what[] = "recording the start of a sync";
	sqlite3_stmt *stmt = NULL;
	int64_t started_at = record->started_at ? record->started_at : now();
	int error;

	if (!record->destination || !*record->destination)
		return plumb_error_set(PLUMB_EINVALID, "%s: a sync needs a destination", store->path);

	if ((error = prepare(&stmt, store, sql, what)) < 0 ||
	    (error = bind_text(store, stmt, 1, record->application, what)) < 0 ||
	    (error = bind_text(store, stmt, 2, record->destination, what)) < 0 ||
	    (error = bind_text(store, stmt, 3, record->repo, what)) < 0 ||
	    (error = bind_text(store, stmt, 4, record->revision, what)) < 0 ||
	    (error = bind_text(store, stmt, 5, record->commit, what)) < 0 ||
	    (error = bind_text(store, stmt, 6, record->path, what)) < 0 ||
	    (error = bind_int64(store, stmt, 7, started_at, what)) < 0 || (error = step_done(store, stmt, what)) < 0)
		goto done;
	/* The caller's record now says what the row says. */
	record->id = sqlite3_last_insert_rowid(store->db);
	record->started_at = started_at;

done:
	sqlite3_finalize(stmt);
	return error;
}

int plumb_store_sync_finish(plumb_store *store, const plumb_sync_record *record)
{
	static const char sql[] = "UPDATE syncs SET finished_at = ?1, result = ?2, created = ?3, updated = ?4,"
				  " deleted = ?5, error = ?6 WHERE id = ?7";
	static const char what[] = "recording the end of a sync";
	sqlite3_stmt *stmt = NULL;
	int error;

	if (record->result != PLUMB_SYNC_SUCCEEDED && record->result != PLUMB_SYNC_FAILED)
		return plumb_error_set(PLUMB_EINVALID, "%s: sync %lld must finish as succeeded or failed", store->path,
				       (long long)record->id);

	if ((error = prepare(&stmt, store, sql, what)) < 0 || (error = bind_int64(store, stmt, 1, now(), what)) < 0 ||
	    (error = bind_text(store, stmt, 2, result_names[record->result], what)) < 0 ||
	    (error = bind_int64(store, stmt, 3, record->created, what)) < 0 ||
	    (error = bind_int64(store, stmt, 4, record->updated, what)) < 0 ||
	    (error = bind_int64(store, stmt, 5, record->deleted, what)) < 0 ||
	    (error = bind_text(store, stmt, 6, record->error, what)) < 0 ||
	    (error = bind_int64(store, stmt, 7, record->id, what)) < 0 || (error = step_done(store, stmt, what)) < 0)
		goto done;
	if (sqlite3_changes(store->db) == 0)
		error = plumb_error_set(PLUMB_ENOTFOUND, "%s: there is no sync %lld to finish", store->path,
					(long long)record->id);

done:
	sqlite3_finalize(stmt);
	return error;
}

static int parse_result(plumb_sync_result *out, const char *name)
{
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(result_names); i++) {
		if (strcmp(name, result_names[i]) == 0) {
			*out = (plumb_sync_result)i;
			return 0;
		}
	}
	return -1;
}

int plumb_store_sync_last(plumb_sync_record *out, plumb_store *store, const char *destination,
			  const char *application)
{
	static const char sql[] = "SELECT id, application, destination, repo, revision, commit_id, path, started_at,"
				  " finished_at, result, created, updated, deleted, error FROM syncs"
				  " WHERE destination = ?1 AND (?2 IS NULL OR application = ?2)"
				  " ORDER BY id DESC LIMIT 1";
	static const char what[] = "reading the last sync";
	sqlite3_stmt *stmt = NULL;
	int error;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((error = prepare(&stmt, store, sql, what)) < 0 ||
	    (error = bind_text(store, stmt, 1, destination, what)) < 0)
		goto done;
	if (application && (error = bind_text(store, stmt, 2, application, what)) < 0)
		goto done;

	rc = sqlite3_step(stmt);
	if (rc == SQLITE_DONE) {
		error = plumb_error_set(PLUMB_ENOTFOUND, "%s: no sync into %s%s%s yet", store->path,
					destination ? destination : "", application ? " of " : "",
					application ? application : "");
		goto done;
	}
	if (rc != SQLITE_ROW) {
		error = sqlite_error(store, rc, what);
		goto done;
	}
	char *result = column_string(stmt, 9);
	if (parse_result(&out->result, result) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "%s: sync %lld has an unknown result '%s'", store->path,
					(long long)sqlite3_column_int64(stmt, 0), result);
		free(result);
		goto done;
	}
	free(result);
	out->id = sqlite3_column_int64(stmt, 0);
	out->application = column_string(stmt, 1);
	out->destination = column_string(stmt, 2);
	out->repo = column_string(stmt, 3);
	out->revision = column_string(stmt, 4);
	out->commit = column_string(stmt, 5);
	out->path = column_string(stmt, 6);
	out->started_at = sqlite3_column_int64(stmt, 7);
	out->finished_at = sqlite3_column_int64(stmt, 8);
	out->created = (unsigned)sqlite3_column_int64(stmt, 10);
	out->updated = (unsigned)sqlite3_column_int64(stmt, 11);
	out->deleted = (unsigned)sqlite3_column_int64(stmt, 12);
	out->error = column_string(stmt, 13);

done:
	sqlite3_finalize(stmt);
	return error;
}

void plumb_sync_record_release(plumb_sync_record *record)
{
	free(record->application);
	free(record->destination);
	free(record->repo);
	free(record->revision);
	free(record->commit);
	free(record->path);
	free(record->error);
	memset(record, 0, sizeof(*record));
}
