#include "util/common.h"
#include "store.h"
#include "test.h"

#include <ftw.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char temp_root[] = "/tmp/plumb-test-store-XXXXXX";

/* A fresh path under the temporary root, one per test, so that tests do not see each other's stores. */
static char *state_path(const char *name)
{
	return plumb_xprintf("%s/%s", temp_root, name);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return (mode_t)-1;
	return st.st_mode;
}

static int write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(content, f);
	return fclose(f);
}

/* Run SQL on path through a connection of the test's own, outside the store. */
static int run_sql(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/* The integer (or -1) the one-row, one-column query sql yields on path. */
static long long query_int(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *stmt = NULL;
	long long value = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK && sqlite3_step(stmt) == SQLITE_ROW)
		value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return value;
}

static plumb_inventory_entry entry(const char *destination, const char *key, const char *application,
				   const char *fingerprint)
{
	plumb_inventory_entry e = {
		.destination = (char *)destination,
		.key = (char *)key,
		.application = (char *)application,
		.provider = "host",
		.kind = "File",
		.resource = "plumb.dev/v1/File/motd",
		.created = 1,
		.fingerprint = (char *)fingerprint,
		.commit = "0123456789abcdef0123456789abcdef01234567",
		.updated_at = 1700000000,
	};
	return e;
}

static void test_open_creates_private_directory_and_file(void)
{
	char *parent = state_path("open/nested");
	char *state = state_path("open/nested/state");
	char *db = plumb_xprintf("%s/plumb.db", state);
	char *wal = plumb_xprintf("%s/plumb.db-wal", state);
	plumb_store *store = NULL;

	CHECK(mode_of(state) == (mode_t)-1);
	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;
	CHECK_INT(mode_of(parent) & 07777, 0700);
	CHECK_INT(mode_of(state) & 07777, 0700);
	CHECK(S_ISDIR(mode_of(state)));
	CHECK(S_ISREG(mode_of(db)));
	CHECK_INT(mode_of(db) & 07777, 0600);

	/* A write makes SQLite create the WAL file, which must be as private as the database. */
	plumb_inventory_entry e = entry("/d", "etc/motd", "app", "f1");
	CHECK_INT(plumb_store_inventory_put(store, &e), 0);
	CHECK(S_ISREG(mode_of(wal)));
	CHECK_INT(mode_of(wal) & 07777, 0600);

	CHECK_INT(query_int(db, "PRAGMA user_version"), 1);
	CHECK_INT(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('inventory', 'syncs')"), 2);
	plumb_store_free(store);
	store = NULL;

	/* The journal mode is a property of the file, so it outlives the connection. */
	sqlite3 *check = NULL;
	sqlite3_stmt *stmt = NULL;
	CHECK_INT(sqlite3_open_v2(db, &check, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	CHECK_INT(sqlite3_prepare_v2(check, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
	CHECK_INT(sqlite3_step(stmt), SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(stmt, 0), "wal");
	sqlite3_finalize(stmt);
	sqlite3_close(check);

	/* Reopening an existing store keeps what it holds; a trailing slash names the same store. */
	char *slashed = plumb_xprintf("%s/", state);
	plumb_inventory inventory = { 0 };
	CHECK_INT(plumb_store_open(&store, slashed), 0);
	if (store) {
		CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d", NULL), 0);
		CHECK_INT(inventory.count, 1);
	}
	plumb_inventory_release(&inventory);
	plumb_store_free(store);
	store = NULL;

	/* A database file that others could read is made private on open. */
	CHECK_INT(chmod(db, 0644), 0);
	CHECK_INT(plumb_store_open(&store, state), 0);
	CHECK_INT(mode_of(db) & 07777, 0600);
	free(slashed);

done:
	plumb_store_free(store);
	free(wal);
	free(db);
	free(state);
	free(parent);
}

static void test_inventory_put_list_replace_delete(void)
{
	char *state = state_path("inventory");
	plumb_store *store = NULL;
	plumb_inventory inventory = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;

	/* Put out of key order, in two destinations, under two applications. */
	plumb_inventory_entry b = entry("/d1", "b", "x", "fb");
	plumb_inventory_entry a = entry("/d1", "a", "y", "fa");
	plumb_inventory_entry c = entry("/d1", "c", "x", NULL);
	plumb_inventory_entry other = entry("/d2", "a", "z", "other");
	c.commit = NULL;
	c.created = 0;
	c.updated_at = 0;
	int64_t before = (int64_t)time(NULL);
	CHECK_INT(plumb_store_inventory_put(store, &b), 0);
	CHECK_INT(plumb_store_inventory_put(store, &a), 0);
	CHECK_INT(plumb_store_inventory_put(store, &c), 0);
	CHECK_INT(plumb_store_inventory_put(store, &other), 0);
	int64_t after = (int64_t)time(NULL);

	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d1", NULL), 0);
	CHECK_INT(inventory.count, 3);
	if (inventory.count == 3) {
		CHECK_STR(inventory.items[0].key, "a");
		CHECK_STR(inventory.items[1].key, "b");
		CHECK_STR(inventory.items[2].key, "c");
		plumb_inventory_entry *e = &inventory.items[0];
		CHECK_STR(e->destination, "/d1");
		CHECK_STR(e->application, "y");
		CHECK_STR(e->provider, "host");
		CHECK_STR(e->kind, "File");
		CHECK_STR(e->resource, "plumb.dev/v1/File/motd");
		CHECK_INT(e->created, 1);
		CHECK_STR(e->fingerprint, "fa");
		CHECK_STR(e->commit, "0123456789abcdef0123456789abcdef01234567");
		CHECK_INT(e->updated_at, 1700000000);
		/* NULL strings come back as "", and updated_at 0 means now. */
		e = &inventory.items[2];
		CHECK_STR(e->fingerprint, "");
		CHECK_STR(e->commit, "");
		CHECK_INT(e->created, 0);
		CHECK(e->updated_at >= before && e->updated_at <= after);
	}
	plumb_inventory_release(&inventory);

	/* Filtered by application; the other destination's "a" never shows up. */
	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d1", "x"), 0);
	CHECK_INT(inventory.count, 2);
	if (inventory.count == 2) {
		CHECK_STR(inventory.items[0].key, "b");
		CHECK_STR(inventory.items[1].key, "c");
	}
	/* list appends to what out already holds. */
	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d2", NULL), 0);
	CHECK_INT(inventory.count, 3);
	if (inventory.count == 3) {
		CHECK_STR(inventory.items[2].destination, "/d2");
		CHECK_STR(inventory.items[2].application, "z");
		CHECK_STR(inventory.items[2].fingerprint, "other");
	}
	plumb_inventory_release(&inventory);
	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d1", "nobody"), 0);
	CHECK_INT(inventory.count, 0);
	plumb_inventory_release(&inventory);

	/* Putting the same (destination, key) replaces the row. */
	plumb_inventory_entry b2 = entry("/d1", "b", "y", "fb2");
	b2.created = 0;
	CHECK_INT(plumb_store_inventory_put(store, &b2), 0);
	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d1", NULL), 0);
	CHECK_INT(inventory.count, 3);
	if (inventory.count == 3) {
		CHECK_STR(inventory.items[1].key, "b");
		CHECK_STR(inventory.items[1].application, "y");
		CHECK_STR(inventory.items[1].fingerprint, "fb2");
		CHECK_INT(inventory.items[1].created, 0);
	}
	plumb_inventory_release(&inventory);

	/* Delete removes one row of one destination; a missing row is not an error. */
	CHECK_INT(plumb_store_inventory_delete(store, "/d1", "a"), 0);
	CHECK_INT(plumb_store_inventory_delete(store, "/d1", "a"), 0);
	CHECK_INT(plumb_store_inventory_delete(store, "/d3", "nothing"), 0);
	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d1", NULL), 0);
	CHECK_INT(inventory.count, 2);
	if (inventory.count == 2) {
		CHECK_STR(inventory.items[0].key, "b");
		CHECK_STR(inventory.items[1].key, "c");
	}
	plumb_inventory_release(&inventory);
	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d2", NULL), 0);
	CHECK_INT(inventory.count, 1);
	if (inventory.count == 1)
		CHECK_STR(inventory.items[0].key, "a");
	plumb_inventory_release(&inventory);

	/* An entry without an identity is refused, with the store named. */
	plumb_inventory_entry nokey = entry("/d1", NULL, "x", "f");
	CHECK_INT(plumb_store_inventory_put(store, &nokey), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "plumb.db") != NULL);

done:
	plumb_store_free(store);
	free(state);
}

static void test_transactions(void)
{
	char *state = state_path("transactions");
	plumb_store *store = NULL;
	plumb_inventory inventory = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;

	plumb_inventory_entry discarded = entry("/d", "discarded", "app", "f");
	plumb_inventory_entry kept = entry("/d", "kept", "app", "f");

	CHECK_INT(plumb_store_begin(store), 0);
	CHECK_INT(plumb_store_inventory_put(store, &discarded), 0);
	/* Inside the transaction the connection sees its own write. */
	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d", NULL), 0);
	CHECK_INT(inventory.count, 1);
	plumb_inventory_release(&inventory);
	/* Transactions do not nest. */
	CHECK_INT(plumb_store_begin(store), PLUMB_EINVALID);
	plumb_store_rollback(store);
	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d", NULL), 0);
	CHECK_INT(inventory.count, 0);
	plumb_inventory_release(&inventory);
	/* A rollback without a transaction does nothing. */
	plumb_store_rollback(store);

	CHECK_INT(plumb_store_begin(store), 0);
	CHECK_INT(plumb_store_inventory_put(store, &kept), 0);
	CHECK_INT(plumb_store_commit(store), 0);
	/* Committing with no transaction open is an error, not a silent success. */
	CHECK(plumb_store_commit(store) < 0);

	plumb_store_free(store);
	store = NULL;
	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;
	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d", NULL), 0);
	CHECK_INT(inventory.count, 1);
	if (inventory.count == 1)
		CHECK_STR(inventory.items[0].key, "kept");
	plumb_inventory_release(&inventory);

	/* A transaction left open when the store is freed is discarded too. */
	CHECK_INT(plumb_store_begin(store), 0);
	CHECK_INT(plumb_store_inventory_delete(store, "/d", "kept"), 0);
	plumb_store_free(store);
	store = NULL;
	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;
	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d", NULL), 0);
	CHECK_INT(inventory.count, 1);
	plumb_inventory_release(&inventory);

done:
	plumb_store_free(store);
	free(state);
}

static void test_sync_log(void)
{
	char *state = state_path("syncs");
	plumb_store *store = NULL;
	plumb_sync_record last = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;

	CHECK_INT(plumb_store_sync_last(&last, store, "/d", NULL), PLUMB_ENOTFOUND);
	CHECK(strstr(plumb_error_last(), "/d") != NULL);
	plumb_sync_record_release(&last);

	plumb_sync_record first = {
		.application = "web",
		.destination = "/d",
		.repo = "https://example.com/config.git",
		.revision = "main",
		.commit = "0123456789abcdef0123456789abcdef01234567",
		.path = NULL,
		.result = PLUMB_SYNC_FAILED, /* ignored by begin */
		.created = 9,                /* ignored by begin */
	};
	int64_t before = (int64_t)time(NULL);
	CHECK_INT(plumb_store_sync_begin(store, &first), 0);
	int64_t after = (int64_t)time(NULL);
	CHECK(first.id > 0);
	CHECK(first.started_at >= before && first.started_at <= after);

	CHECK_INT(plumb_store_sync_last(&last, store, "/d", NULL), 0);
	CHECK_INT(last.id, first.id);
	CHECK_INT(last.result, PLUMB_SYNC_RUNNING);
	CHECK_INT(last.finished_at, 0);
	CHECK_INT(last.created, 0);
	CHECK_STR(last.application, "web");
	CHECK_STR(last.destination, "/d");
	CHECK_STR(last.repo, "https://example.com/config.git");
	CHECK_STR(last.revision, "main");
	CHECK_STR(last.commit, "0123456789abcdef0123456789abcdef01234567");
	CHECK_STR(last.path, "");
	CHECK_STR(last.error, "");
	CHECK_INT(last.started_at, first.started_at);
	plumb_sync_record_release(&last);

	first.result = PLUMB_SYNC_SUCCEEDED;
	first.created = 1;
	first.updated = 2;
	first.deleted = 3;
	first.error = NULL;
	CHECK_INT(plumb_store_sync_finish(store, &first), 0);
	CHECK_INT(plumb_store_sync_last(&last, store, "/d", "web"), 0);
	CHECK_INT(last.id, first.id);
	CHECK_INT(last.result, PLUMB_SYNC_SUCCEEDED);
	CHECK(last.finished_at >= last.started_at && last.finished_at <= (int64_t)time(NULL));
	CHECK_INT(last.created, 1);
	CHECK_INT(last.updated, 2);
	CHECK_INT(last.deleted, 3);
	CHECK_STR(last.error, "");
	plumb_sync_record_release(&last);

	/* A later sync of another application, with an explicit start time, that fails. */
	plumb_sync_record second = {
		.application = "db",
		.destination = "/d",
		.path = "apps/db",
		.started_at = 1234,
	};
	CHECK_INT(plumb_store_sync_begin(store, &second), 0);
	CHECK(second.id > first.id);
	CHECK_INT(second.started_at, 1234);
	second.result = PLUMB_SYNC_FAILED;
	second.error = "apply failed: /etc/motd moved";
	CHECK_INT(plumb_store_sync_finish(store, &second), 0);

	CHECK_INT(plumb_store_sync_last(&last, store, "/d", NULL), 0);
	CHECK_INT(last.id, second.id);
	CHECK_INT(last.result, PLUMB_SYNC_FAILED);
	CHECK_STR(last.error, "apply failed: /etc/motd moved");
	CHECK_STR(last.path, "apps/db");
	CHECK_STR(last.repo, "");
	CHECK_INT(last.started_at, 1234);
	plumb_sync_record_release(&last);

	/* Filtered by application, the older sync of "web" is still the last one of "web". */
	CHECK_INT(plumb_store_sync_last(&last, store, "/d", "web"), 0);
	CHECK_INT(last.id, first.id);
	CHECK_STR(last.application, "web");
	plumb_sync_record_release(&last);

	CHECK_INT(plumb_store_sync_last(&last, store, "/d", "cache"), PLUMB_ENOTFOUND);
	plumb_sync_record_release(&last);
	CHECK_INT(plumb_store_sync_last(&last, store, "/elsewhere", NULL), PLUMB_ENOTFOUND);
	plumb_sync_record_release(&last);

	/* Finishing a sync that was never begun, or finishing as running, is refused. */
	plumb_sync_record ghost = { .id = 999999, .result = PLUMB_SYNC_SUCCEEDED };
	CHECK_INT(plumb_store_sync_finish(store, &ghost), PLUMB_ENOTFOUND);
	ghost.id = first.id;
	ghost.result = PLUMB_SYNC_RUNNING;
	CHECK_INT(plumb_store_sync_finish(store, &ghost), PLUMB_EINVALID);

	/* The log survives a reopen. */
	plumb_store_free(store);
	store = NULL;
	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;
	CHECK_INT(plumb_store_sync_last(&last, store, "/d", NULL), 0);
	CHECK_INT(last.id, second.id);
	plumb_sync_record_release(&last);

done:
	plumb_store_free(store);
	free(state);
}

static void test_newer_schema_is_refused(void)
{
	char *state = state_path("newer");
	char *db = plumb_xprintf("%s/plumb.db", state);
	plumb_store *store = (plumb_store *)&store; /* not NULL, so that the test sees open clear it */

	CHECK_INT(mkdir(state, 0700), 0);
	CHECK_INT(run_sql(db, "CREATE TABLE future (x); PRAGMA user_version = 99;"), SQLITE_OK);
	CHECK_INT(plumb_store_open(&store, state), PLUMB_ERROR);
	CHECK(store == NULL);
	CHECK(strstr(plumb_error_last(), db) != NULL);
	CHECK(strstr(plumb_error_last(), "newer plumb (schema 99, this plumb knows 1)") != NULL);
	/* The newer store is left as it was: no tables of ours, and not switched to WAL. */
	CHECK_INT(query_int(db, "PRAGMA user_version"), 99);
	CHECK_INT(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'inventory'"), 0);
	plumb_store_free(store);

	free(db);
	free(state);
}

static void test_foreign_database_is_refused(void)
{
	char *state = state_path("foreign");
	char *db = plumb_xprintf("%s/plumb.db", state);
	plumb_store *store = NULL;

	CHECK_INT(mkdir(state, 0700), 0);
	CHECK_INT(run_sql(db, "CREATE TABLE inventory (name TEXT);"), SQLITE_OK);
	CHECK_INT(plumb_store_open(&store, state), PLUMB_ERROR);
	CHECK(store == NULL);
	CHECK(strstr(plumb_error_last(), db) != NULL);
	CHECK(strstr(plumb_error_last(), "not a plumb store") != NULL);
	CHECK_INT(query_int(db, "PRAGMA user_version"), 0);
	plumb_store_free(store);

	free(db);
	free(state);
}

static void test_garbage_file_is_refused(void)
{
	static const char garbage[] = "this is not a database, just some text that happens to be named plumb.db\n"
				      "and is long enough to hold what SQLite would take for a header.\n";
	char *state = state_path("garbage");
	char *db = plumb_xprintf("%s/plumb.db", state);
	plumb_store *store = NULL;
	char content[sizeof(garbage) + 16] = { 0 };

	CHECK_INT(mkdir(state, 0700), 0);
	CHECK_INT(write_file(db, garbage), 0);
	CHECK_INT(plumb_store_open(&store, state), PLUMB_ERROR);
	CHECK(store == NULL);
	CHECK(strstr(plumb_error_last(), db) != NULL);
	CHECK(strstr(plumb_error_last(), "not a SQLite database") != NULL);

	/* The file is left as it was. */
	FILE *f = fopen(db, "r");
	CHECK(f != NULL);
	if (f) {
		size_t n = fread(content, 1, sizeof(content) - 1, f);
		fclose(f);
		CHECK_INT(n, strlen(garbage));
		CHECK_STR(content, garbage);
	}
	plumb_store_free(store);

	free(db);
	free(state);
}

static void test_state_dir_that_is_a_file_is_refused(void)
{
	char *state = state_path("a-file");
	plumb_store *store = NULL;

	CHECK_INT(write_file(state, "x"), 0);
	CHECK_INT(plumb_store_open(&store, state), PLUMB_ERROR);
	CHECK(store == NULL);
	CHECK(strstr(plumb_error_last(), state) != NULL);
	plumb_store_free(store);
	free(state);
}

static void test_reader_does_not_wait_for_writer(void)
{
	char *state = state_path("wal");
	plumb_store *writer = NULL, *reader = NULL;
	plumb_inventory inventory = { 0 };

	CHECK_INT(plumb_store_open(&writer, state), 0);
	CHECK_INT(plumb_store_open(&reader, state), 0);
	if (!writer || !reader)
		goto done;

	plumb_inventory_entry a = entry("/d", "a", "app", "fa");
	CHECK_INT(plumb_store_inventory_put(writer, &a), 0);

	/*
	 * Write more than SQLite's page cache holds (2 MiB by default), so that
	 * the transaction spills to disk. With a rollback journal that takes the
	 * exclusive lock, and the reader would wait out the 5 s busy timeout and
	 * fail; in WAL mode the spill goes to the WAL and the reader reads the
	 * last commit at once.
	 */
	char fingerprint[1024];
	memset(fingerprint, 'f', sizeof(fingerprint) - 1);
	fingerprint[sizeof(fingerprint) - 1] = '\0';
	CHECK_INT(plumb_store_begin(writer), 0);
	for (int i = 0; i < 4000; i++) {
		char key[32];
		snprintf(key, sizeof(key), "b%05d", i);
		plumb_inventory_entry b = entry("/d", key, "app", fingerprint);
		if (plumb_store_inventory_put(writer, &b) < 0) {
			CHECK(!"put failed");
			break;
		}
	}

	time_t start = time(NULL);
	CHECK_INT(plumb_store_inventory_list(&inventory, reader, "/d", NULL), 0);
	CHECK(time(NULL) - start < 2);
	CHECK_INT(inventory.count, 1);
	if (inventory.count == 1)
		CHECK_STR(inventory.items[0].key, "a");
	plumb_inventory_release(&inventory);

	CHECK_INT(plumb_store_commit(writer), 0);
	CHECK_INT(plumb_store_inventory_list(&inventory, reader, "/d", NULL), 0);
	CHECK_INT(inventory.count, 4001);
	plumb_inventory_release(&inventory);

done:
	plumb_store_free(reader);
	plumb_store_free(writer);
	free(state);
}

int main(void)
{
	/* The usual umask, under which SQLite alone would create a world-readable database. */
	umask(022);
	if (!mkdtemp(temp_root)) {
		perror("mkdtemp");
		return 1;
	}

	RUN(test_open_creates_private_directory_and_file);
	RUN(test_inventory_put_list_replace_delete);
	RUN(test_transactions);
	RUN(test_sync_log);
	RUN(test_newer_schema_is_refused);
	RUN(test_foreign_database_is_refused);
	RUN(test_garbage_file_is_refused);
	RUN(test_state_dir_that_is_a_file_is_refused);
	RUN(test_reader_does_not_wait_for_writer);

	nftw(temp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	TEST_EXIT();
}
