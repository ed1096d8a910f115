/*
 * migrate.c - the schema: the migrations that build it, step by step, and
 * the version a store is at (migrate_internal.h).
 */
#include "util/common.h"
#include "store/store.h"
#include "store/internal.h"
#include "store/migrate_internal.h"

#include <sqlite3.h>
#include <stdlib.h>

/*
 * The migrations: step N takes a store from schema version N-1 to N, and
 * PRAGMA user_version holds the last step run. A released step never
 * changes, so that every store at version N has the same schema whichever
 * plumb wrote it; a change to the schema is a new step at the end.
 *
 * The primary key columns are NOT NULL because SQLite, for historical
 * reasons, lets NULL into a non-INTEGER primary key; every other NULL is
 * read back as "".
 */
static const char migration_1[] =
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
	"CREATE INDEX syncs_by_destination ON syncs (destination, application, id);";

/*
 * Who ran each sync and how; the action and drift logs; the audit log.
 *
 * actions and drift take AUTOINCREMENT as syncs do, so that an id is never
 * given twice and one named in an audit entry always means one row. The
 * audit log must not: its ids are the chain's positions, assigned by the
 * store as the last id + 1, and a gap is how a removed entry shows. Drift
 * found outside a sync has sync_id NULL (read back as 0).
 */
static const char migration_2[] =
	"ALTER TABLE syncs ADD COLUMN operation TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE syncs ADD COLUMN trigger TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE syncs ADD COLUMN actor TEXT NOT NULL DEFAULT '';"
	"CREATE TABLE actions ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" sync_id INTEGER NOT NULL REFERENCES syncs (id),"
	" key TEXT,"
	" kind TEXT,"
	" resource TEXT,"
	" action TEXT,"
	" reason TEXT,"
	" fingerprint_before TEXT,"
	" fingerprint_after TEXT,"
	" outcome TEXT CHECK (outcome IN ('noop', 'changed', 'failed', 'skipped', 'denied')),"
	" error TEXT,"
	" at INTEGER);"
	"CREATE INDEX actions_by_sync ON actions (sync_id, id);"
	"CREATE TABLE drift ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" sync_id INTEGER REFERENCES syncs (id),"
	" destination TEXT,"
	" application TEXT,"
	" key TEXT,"
	" kind TEXT,"
	" commit_id TEXT,"
	" expected TEXT,"
	" observed TEXT,"
	" capture TEXT,"
	" capture_size INTEGER,"
	" sensitive INTEGER,"
	" note TEXT,"
	" at INTEGER);"
	"CREATE INDEX drift_by_destination ON drift (destination, application, id);"
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY,"
	" at INTEGER NOT NULL,"
	" actor TEXT NOT NULL,"
	" event TEXT NOT NULL,"
	" subject TEXT NOT NULL,"
	" detail TEXT NOT NULL,"
	" previous_hash TEXT NOT NULL,"
	" hash TEXT NOT NULL);"
	/* Through SQL the log only grows; the hash chain is what catches an edit made around these. */
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;";

/*
 * Plans that wait for a person (syncPolicy approval: prompted). The plan
 * document itself lives here, not in the audit log: the log names a plan
 * by id and summary, and a plan of sensitive objects or large diffs stays
 * out of the chain that is exported to be kept elsewhere.
 */
static const char migration_3[] =
	"CREATE TABLE approvals ("
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" destination TEXT,"
	" application TEXT,"
	" commit_id TEXT,"
	" plan TEXT,"
	" summary TEXT,"
	" state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'applied', 'superseded')),"
	" requested_by TEXT,"
	" decided_by TEXT,"
	" note TEXT,"
	" created_at INTEGER,"
	" decided_at INTEGER);"
	"CREATE INDEX approvals_by_destination ON approvals (destination, application, id);";

/* The stat cache (statcache.h): a cache, not a record; rows may go at any time. */
static const char migration_4[] =
	"CREATE TABLE stat_cache ("
	" destination TEXT NOT NULL,"
	" key TEXT NOT NULL,"
	" device INTEGER, inode INTEGER, size INTEGER, mtime_ns INTEGER, ctime_ns INTEGER,"
	" mode INTEGER, uid INTEGER, gid INTEGER,"
	" blob TEXT NOT NULL,"
	" PRIMARY KEY (destination, key)) WITHOUT ROWID;";

static const char *const migrations[] = { migration_1, migration_2, migration_3, migration_4 };

/* The schema this code reads and writes, kept in PRAGMA user_version: every migration run. */
enum { SCHEMA_VERSION = 4 };
_Static_assert(PLUMB_ARRAY_SIZE(migrations) == SCHEMA_VERSION, "one migration per schema version");

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
			error = plumb_store_sqlite_error(store, rc, "reading the schema version");
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

int plumb_store_schema_read(int *out, plumb_store *store)
{
	int error = read_schema_version(out, store);
	return error < 0 ? error : check_schema_version(store, *out);
}

/* Schema version 0 with tables in it is some other program's database: leave it alone. */
static int check_empty(plumb_store *store)
{
	sqlite3_stmt *stmt = NULL;
	int error;
	int rc;

	error = plumb_store_prepare(&stmt, store, "SELECT 1 FROM sqlite_schema LIMIT 1", "reading the schema");
	if (error < 0)
		return error;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		error = plumb_error_set(PLUMB_ERROR, "%s is not a plumb store (it holds tables but no schema version)",
					store->path);
	else if (rc != SQLITE_DONE)
		error = plumb_store_sqlite_error(store, rc, "reading the schema");
	sqlite3_finalize(stmt);
	return error;
}

/*
 * Run one migration step, from the version found to the next, in a
 * transaction of its own, so that a store is always at some version and
 * never half-way between two. The version is read again under the write
 * lock, so that two plumbs opening an old store at once run each step once.
 * *done is set when there is nothing left to run.
 */
static int migrate_one_step(plumb_store *store, int *done)
{
	int version = 0;
	char *what = NULL, *set_version = NULL;
	int error;

	*done = 0;
	if ((error = plumb_store_exec(store, "BEGIN IMMEDIATE", "starting a schema migration")) < 0)
		return error;
	if ((error = plumb_store_schema_read(&version, store)) < 0)
		goto done;
	if (version == SCHEMA_VERSION) {
		*done = 1;
		goto done;
	}
	if (version == 0 && (error = check_empty(store)) < 0)
		goto done;

	what = plumb_xprintf("migrating the schema from version %d to %d", version, version + 1);
	set_version = plumb_xprintf("PRAGMA user_version = %d", version + 1);
	if ((error = plumb_store_exec(store, migrations[version], what)) < 0 ||
	    (error = plumb_store_exec(store, set_version, what)) < 0)
		goto done;
	error = plumb_store_exec(store, "COMMIT", what);

done:
	/* Still open only when nothing was written or something failed: either way there is nothing to keep. */
	if (!sqlite3_get_autocommit(store->db))
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	free(set_version);
	free(what);
	return error;
}

int plumb_store_schema_migrate(plumb_store *store, int version)
{
	int done = version >= SCHEMA_VERSION;
	int error = 0;

	while (!done && error == 0)
		error = migrate_one_step(store, &done);
	return error;
}
