/*
 * open.c - opening a store: its private file in the state directory, the
 * connection's settings (WAL, busy timeout, page cache), and the schema
 * brought to this plumb's version (migrate.c).
 */
#include "util/common.h"
#include "util/fs.h"
#include "store/store.h"
#include "store/internal.h"
#include "store/migrate_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long a statement waits for another connection's write lock before giving up. */
#define BUSY_TIMEOUT_MS 5000

/*
 * Create the database file ourselves, 0600, before SQLite opens it: SQLite
 * would create it 0644, and gives its -wal and -shm files the mode of the
 * database file. An existing file that others can read is tightened.
 */
static int create_private_file(const char *path)
{
	struct stat st;

	/*
	 * Never open and close an existing database here: closing any descriptor
	 * of the file drops every POSIX lock this process holds on it, including
	 * those of another connection (the daemon's), which SQLite then finds
	 * gone ("disk I/O error").
	 */
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return plumb_error_set(PLUMB_ERROR, "cannot stat %s: %s", path, strerror(errno));
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return plumb_error_set(PLUMB_ERROR, "cannot create %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		if (lstat(path, &st) < 0)
			return plumb_error_set(PLUMB_ERROR, "cannot stat %s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return plumb_error_set(PLUMB_ERROR, "%s is not a regular file", path);
	if ((st.st_mode & 0777) != 0600 && chmod(path, 0600) < 0)
		return plumb_error_set(PLUMB_ERROR, "cannot make %s private (mode 0600): %s", path, strerror(errno));
	return 0;
}

static int set_journal_mode_wal(plumb_store *store)
{
	sqlite3_stmt *stmt = NULL;
	int error;
	int rc;

	if ((error = plumb_store_prepare(&stmt, store, "PRAGMA journal_mode = WAL", "switching to WAL mode")) < 0)
		goto done;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		error = plumb_store_sqlite_error(store, rc, "switching to WAL mode");
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

	/*
	 * A connection is used by one thread at a time (a daemon's handler
	 * threads open their own), so SQLite need not lock it around every call:
	 * reading thousands of rows makes a dozen calls a row.
	 */
	rc = sqlite3_open_v2(store->path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		error = plumb_store_sqlite_error(store, rc, "opening the database");
		goto done;
	}
	sqlite3_extended_result_codes(store->db, 1);
	rc = sqlite3_busy_timeout(store->db, BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK) {
		error = plumb_store_sqlite_error(store, rc, "setting the busy timeout");
		goto done;
	}

	/* Check the version before anything writes to the file: a newer plumb's store stays untouched. */
	if ((error = plumb_store_schema_read(&version, store)) < 0)
		goto done;
	if ((error = set_journal_mode_wal(store)) < 0)
		goto done;
	/*
	 * In WAL mode NORMAL loses no integrity on a crash, only the last commits
	 * before a power loss: what must outlive one is synced by
	 * plumb_store_make_durable. Reads are mostly one pass over a table (the
	 * inventory, the stat cache): a page cache of 512 KiB, not SQLite's
	 * 2 MiB, keeps memory growing with the rows plumb holds, not with the
	 * cache. A WAL that a checkpoint has emptied is cut back to 1 MiB (to
	 * nothing by one at close).
	 */
	if ((error = plumb_store_exec(store, "PRAGMA synchronous = NORMAL", "setting synchronous mode")) < 0 ||
	    (error = plumb_store_exec(store, "PRAGMA cache_size = -512", "sizing the page cache")) < 0 ||
	    (error = plumb_store_exec(store, "PRAGMA foreign_keys = ON", "enabling foreign keys")) < 0 ||
	    (error = plumb_store_exec(store, "PRAGMA journal_size_limit = 1048576", "limiting the WAL")) < 0)
		goto done;
	if ((error = plumb_store_schema_migrate(store, version)) < 0)
		goto done;
	/*
	 * Keep the WAL file between runs, and do not checkpoint on every close
	 * (see plumb_store_free): creating, syncing and deleting it each time
	 * costs a run that has nothing to do more than the rest of its store work.
	 */
	int persist = 1;
	if ((rc = sqlite3_file_control(store->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)) != SQLITE_OK ||
	    (rc = sqlite3_db_config(store->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL)) != SQLITE_OK) {
		error = plumb_store_sqlite_error(store, rc, "configuring the WAL");
		goto done;
	}

	*out = store;
	store = NULL;

done:
	plumb_store_free(store);
	/* The contract gives one code for every way open fails; the message says which. */
	return error < 0 ? PLUMB_ERROR : 0;
}
