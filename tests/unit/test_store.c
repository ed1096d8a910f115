#include "util/common.h"
#include "store/store.h"
#include "test.h"
#include "util/hash.h"

#include <ftw.h>
#include <jansson.h>
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

	CHECK_INT(query_int(db, "PRAGMA user_version"), 4);
	CHECK_INT(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
				" ('inventory', 'syncs', 'actions', 'drift', 'audit', 'approvals', 'stat_cache')"),
		  7);
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

/* The inventory of a destination and of the roots nested in it or around it, keys seen from it. */
static void test_inventory_related(void)
{
	char *state = state_path("related");
	plumb_store *store = NULL;
	plumb_inventory inventory = { 0 };
	static const char *const rows[][2] = {
		{ "/", "srv/a/x" },   { "/", "srv/a/b/r" }, { "/", "srv/ab/q" },   { "/", "etc/motd" },
		{ "/srv", "a" },      { "/srv", "a/y" },    { "/srv", "ab/z" },	   { "/srv/a", "own1" },
		{ "/srv/a", "own2" }, { "/srv/a", "b/s" },  { "/srv/a/b", "k" },   { "/srv/a/b/c", "m" },
		{ "/srv/ab", "no" },  { "/srv/a-x", "no" }, { "/srv/a0", "no" },   { "/other", "srv/a/x" },
	};
	/* By destination, then key; each key relative to /srv/a. */
	static const char *const expected[][2] = {
		{ "/", "b/r" },	      { "/", "x" },	   { "/srv", "y" },	       { "/srv/a", "b/s" },
		{ "/srv/a", "own1" }, { "/srv/a", "own2" }, { "/srv/a/b", "b/k" }, { "/srv/a/b/c", "b/c/m" },
	};

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(rows); i++) {
		plumb_inventory_entry e = entry(rows[i][0], rows[i][1], "app", "f");
		CHECK_INT(plumb_store_inventory_put(store, &e), 0);
	}
	CHECK_INT(plumb_store_inventory_related(&inventory, store, "/srv/a"), 0);
	CHECK_INT(inventory.count, PLUMB_ARRAY_SIZE(expected));
	for (size_t i = 0; i < inventory.count && i < PLUMB_ARRAY_SIZE(expected); i++) {
		CHECK_STR(inventory.items[i].destination, expected[i][0]);
		CHECK_STR(inventory.items[i].key, expected[i][1]);
		CHECK_STR(inventory.items[i].application, "app");
		CHECK_STR(inventory.items[i].resource, "plumb.dev/v1/File/motd");
	}
	/* What repeats from row to row is held once. */
	if (inventory.count == PLUMB_ARRAY_SIZE(expected)) {
		CHECK(inventory.items[3].destination == inventory.items[4].destination);
		CHECK(inventory.items[0].application == inventory.items[7].application);
		CHECK(inventory.items[0].kind == inventory.items[7].kind);
	}
	/* It appends to what out holds. */
	size_t before = inventory.count;
	CHECK_INT(plumb_store_inventory_related(&inventory, store, "/srv/a/b"), 0);
	CHECK_INT(inventory.count, before + 4);
	if (inventory.count == before + 4) {
		CHECK_STR(inventory.items[before].key, "r");
		CHECK_STR(inventory.items[before + 1].key, "s");
		CHECK_STR(inventory.items[before + 2].key, "k");
		CHECK_STR(inventory.items[before + 3].key, "c/m");
	}
	plumb_inventory_release(&inventory);
	CHECK(inventory.items == NULL && inventory.count == 0 && inventory.strings == NULL);

	/* From the root: every destination, keys below the root. */
	CHECK_INT(plumb_store_inventory_related(&inventory, store, "/"), 0);
	CHECK_INT(inventory.count, PLUMB_ARRAY_SIZE(rows));
	if (inventory.count == PLUMB_ARRAY_SIZE(rows)) {
		CHECK_STR(inventory.items[0].key, "etc/motd");
		CHECK_STR(inventory.items[4].destination, "/other");
		CHECK_STR(inventory.items[4].key, "other/srv/a/x");
		CHECK_STR(inventory.items[5].key, "srv/a");
		CHECK_STR(inventory.items[PLUMB_ARRAY_SIZE(rows) - 1].key, "srv/ab/no");
	}
	plumb_inventory_release(&inventory);

	/* A destination nothing is managed in or around. */
	CHECK_INT(plumb_store_inventory_related(&inventory, store, "/nowhere/deep"), 0);
	CHECK_INT(inventory.count, 0);
	plumb_inventory_release(&inventory);

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
	CHECK(strstr(plumb_error_last(), "newer plumb (schema 99, this plumb knows 4)") != NULL);
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

	/* Waiting out the busy timeout, the list would fail; it must not even come near it (5 s). */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(plumb_store_inventory_list(&inventory, reader, "/d", NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 4500);
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

/* The schema of version 1, as plumb 0.1 created it: the starting point of the upgrade tests. */
static const char v1_schema[] =
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

static const char v1_rows[] =
	"INSERT INTO inventory VALUES ('/d', 'etc/motd', 'web', 'host', 'File', 'host/v1/File/motd', 1, 'file 0644',"
	" 'c1', 1700000000);"
	"INSERT INTO syncs (application, destination, repo, revision, commit_id, path, started_at, finished_at, result,"
	" created, updated, deleted, error) VALUES ('web', '/d', '/repo', 'main', 'c1', '', 1700000000, 1700000005,"
	" 'succeeded', 1, 0, 0, '');"
	"INSERT INTO syncs (application, destination, repo, revision, commit_id, path, started_at, finished_at, result,"
	" created, updated, deleted, error) VALUES ('web', '/d', '/repo', 'main', 'c2', '', 1700000100, 1700000101,"
	" 'failed', 0, 0, 0, 'apply failed');";

/* A store at version 1 in a new state directory name, holding v1_rows; the path of its database. */
static char *make_v1_store(const char *name)
{
	char *state = state_path(name);
	char *db = plumb_xprintf("%s/plumb.db", state);
	char *sql = plumb_xprintf("%s%s", v1_schema, v1_rows);

	CHECK_INT(mkdir(state, 0700), 0);
	CHECK_INT(run_sql(db, sql), SQLITE_OK);
	CHECK_INT(query_int(db, "PRAGMA user_version"), 1);
	free(sql);
	free(state);
	return db;
}

static void test_v1_store_is_upgraded_in_place(void)
{
	char *state = state_path("v1");
	char *db = make_v1_store("v1");
	plumb_store *store = NULL;
	plumb_inventory inventory = { 0 };
	plumb_sync_record sync = { 0 };
	plumb_sync_records syncs = { 0 };
	plumb_audit_verification verification = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;
	CHECK_INT(query_int(db, "PRAGMA user_version"), 4);
	CHECK_INT(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
				" ('actions', 'drift', 'audit', 'approvals', 'stat_cache')"),
		  5);
	CHECK_INT(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'audit'"),
		  2);

	/* What version 1 held is all there, and the new columns of old syncs read "". */
	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d", NULL), 0);
	CHECK_INT(inventory.count, 1);
	if (inventory.count == 1) {
		CHECK_STR(inventory.items[0].key, "etc/motd");
		CHECK_STR(inventory.items[0].fingerprint, "file 0644");
		CHECK_INT(inventory.items[0].updated_at, 1700000000);
	}
	CHECK_INT(plumb_store_sync_get(&sync, store, 1), 0);
	CHECK_INT(sync.id, 1);
	CHECK_STR(sync.operation, "");
	CHECK_STR(sync.trigger, "");
	CHECK_STR(sync.actor, "");
	CHECK_STR(sync.application, "web");
	CHECK_STR(sync.commit, "c1");
	CHECK_INT(sync.result, PLUMB_SYNC_SUCCEEDED);
	CHECK_INT(sync.created, 1);
	CHECK_INT(sync.finished_at, 1700000005);
	plumb_sync_record_release(&sync);
	CHECK_INT(plumb_store_sync_list(&syncs, store, NULL, NULL, 0), 0);
	CHECK_INT(syncs.count, 2);
	if (syncs.count == 2) {
		CHECK_INT(syncs.items[0].id, 2);
		CHECK_STR(syncs.items[0].error, "apply failed");
		CHECK_INT(syncs.items[0].result, PLUMB_SYNC_FAILED);
		CHECK_INT(syncs.items[1].id, 1);
	}
	plumb_sync_records_release(&syncs);

	/* Nothing was audited before version 2: the log starts empty, and intact. */
	CHECK_INT(plumb_store_audit_verify(&verification, store), 0);
	CHECK_INT(verification.entries, 0);
	CHECK_INT(verification.first_bad_id, 0);
	CHECK_STR(verification.problem, "");
	plumb_audit_verification_release(&verification);

	/* An old sync takes actions; a new one gets the next id. */
	plumb_action_record action = { .sync_id = 2, .key = "etc/motd", .action = "update" };
	CHECK_INT(plumb_store_action_add(store, &action), 0);
	plumb_sync_record next = { .destination = "/d", .application = "web", .operation = "sync" };
	CHECK_INT(plumb_store_sync_begin(store, &next), 0);
	CHECK_INT(next.id, 3);
	CHECK_INT(plumb_store_audit_verify(&verification, store), 0);
	CHECK_INT(verification.entries, 2);
	CHECK_INT(verification.first_bad_id, 0);
	plumb_audit_verification_release(&verification);
	plumb_store_free(store);
	store = NULL;

	/* The upgraded store is a WAL store like any other. */
	sqlite3 *check = NULL;
	sqlite3_stmt *stmt = NULL;
	CHECK_INT(sqlite3_open_v2(db, &check, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	CHECK_INT(sqlite3_prepare_v2(check, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
	CHECK_INT(sqlite3_step(stmt), SQLITE_ROW);
	CHECK_STR((const char *)sqlite3_column_text(stmt, 0), "wal");
	sqlite3_finalize(stmt);
	sqlite3_close(check);

done:
	plumb_inventory_release(&inventory);
	plumb_store_free(store);
	free(db);
	free(state);
}

static void test_failed_migration_step_is_rolled_back(void)
{
	char *state = state_path("v1-blocked");
	char *db = make_v1_store("v1-blocked");
	plumb_store *store = NULL;

	/* A table in the way of step 2 makes it fail half-way, after the ALTER TABLEs. */
	CHECK_INT(run_sql(db, "CREATE TABLE audit (x);"), SQLITE_OK);
	CHECK_INT(plumb_store_open(&store, state), PLUMB_ERROR);
	CHECK(store == NULL);
	CHECK(strstr(plumb_error_last(), db) != NULL);
	CHECK(strstr(plumb_error_last(), "migrating the schema from version 1 to 2") != NULL);
	/* Step 2 left nothing behind: the store is the version 1 store it was. */
	CHECK_INT(query_int(db, "PRAGMA user_version"), 1);
	CHECK_INT(query_int(db, "SELECT count(*) FROM pragma_table_info('syncs') WHERE name = 'operation'"), 0);
	CHECK_INT(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('actions', 'drift')"), 0);
	CHECK_INT(query_int(db, "SELECT count(*) FROM syncs"), 2);

	/* With the obstacle gone, the next open upgrades it. */
	CHECK_INT(run_sql(db, "DROP TABLE audit;"), SQLITE_OK);
	CHECK_INT(plumb_store_open(&store, state), 0);
	CHECK_INT(query_int(db, "PRAGMA user_version"), 4);
	CHECK_INT(query_int(db, "SELECT count(*) FROM syncs WHERE operation = '' AND trigger = '' AND actor = ''"), 2);

	plumb_store_free(store);
	free(db);
	free(state);
}

static void test_reopening_a_current_store_changes_nothing(void)
{
	char *state = state_path("reopen");
	char *db = plumb_xprintf("%s/plumb.db", state);
	plumb_store *store = NULL;

	CHECK_INT(plumb_store_open(&store, state), 0);
	plumb_store_free(store);
	store = NULL;
	/* schema_version counts every change to the schema; data_version is per connection, so not of use here. */
	long long schema_version = query_int(db, "PRAGMA schema_version");
	long long objects = query_int(db, "SELECT count(*) FROM sqlite_schema");
	CHECK(schema_version > 0);
	CHECK_INT(plumb_store_open(&store, state), 0);
	plumb_store_free(store);
	store = NULL;
	CHECK_INT(query_int(db, "PRAGMA schema_version"), schema_version);
	CHECK_INT(query_int(db, "SELECT count(*) FROM sqlite_schema"), objects);
	CHECK_INT(query_int(db, "PRAGMA user_version"), 4);

	free(db);
	free(state);
}

static void test_sync_get_and_list(void)
{
	char *state = state_path("sync-list");
	plumb_store *store = NULL;
	plumb_sync_record sync = { 0 };
	plumb_sync_records syncs = { 0 };
	int64_t ids[5] = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;

	CHECK_INT(plumb_store_sync_list(&syncs, store, NULL, NULL, 0), 0);
	CHECK_INT(syncs.count, 0);

	static const struct {
		const char *destination, *application, *operation, *trigger, *actor;
	} specs[] = {
		{ "/a", "web", "sync", "cli", "alice@h" },
		{ "/a", "db", "apply", "cli", "bob@h" },
		{ "/b", "web", "apply-plan", "cli", NULL },
		{ "/a", "web", "sync", "poll", "serve" },
		{ "/b", "db", "sync", "webhook", "ci-token" },
	};
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(specs); i++) {
		plumb_sync_record r = {
			.destination = (char *)specs[i].destination,
			.application = (char *)specs[i].application,
			.operation = (char *)specs[i].operation,
			.trigger = (char *)specs[i].trigger,
			.actor = (char *)specs[i].actor,
			.commit = "c",
			.started_at = 1700000000 + (int64_t)i,
		};
		CHECK_INT(plumb_store_sync_begin(store, &r), 0);
		ids[i] = r.id;
	}

	CHECK_INT(plumb_store_sync_get(&sync, store, ids[1]), 0);
	CHECK_INT(sync.id, ids[1]);
	CHECK_STR(sync.operation, "apply");
	CHECK_STR(sync.trigger, "cli");
	CHECK_STR(sync.actor, "bob@h");
	CHECK_STR(sync.application, "db");
	CHECK_STR(sync.destination, "/a");
	CHECK_INT(sync.started_at, 1700000001);
	CHECK_INT(sync.result, PLUMB_SYNC_RUNNING);
	plumb_sync_record_release(&sync);
	CHECK_INT(plumb_store_sync_get(&sync, store, ids[2]), 0);
	CHECK_STR(sync.actor, "");
	plumb_sync_record_release(&sync);
	CHECK_INT(plumb_store_sync_get(&sync, store, 4242), PLUMB_ENOTFOUND);
	CHECK(strstr(plumb_error_last(), "no sync 4242") != NULL);
	plumb_sync_record_release(&sync);

	/* Newest first. */
	CHECK_INT(plumb_store_sync_list(&syncs, store, NULL, NULL, 0), 0);
	CHECK_INT(syncs.count, 5);
	for (size_t i = 0; i < syncs.count && i < 5; i++)
		CHECK_INT(syncs.items[i].id, ids[4 - i]);
	if (syncs.count == 5) {
		CHECK_STR(syncs.items[0].trigger, "webhook");
		CHECK_STR(syncs.items[0].actor, "ci-token");
	}
	plumb_sync_records_release(&syncs);

	/* A limit keeps the newest. */
	CHECK_INT(plumb_store_sync_list(&syncs, store, NULL, NULL, 2), 0);
	CHECK_INT(syncs.count, 2);
	if (syncs.count == 2) {
		CHECK_INT(syncs.items[0].id, ids[4]);
		CHECK_INT(syncs.items[1].id, ids[3]);
	}
	plumb_sync_records_release(&syncs);

	/* Filters, alone and together; list appends to what out holds. */
	CHECK_INT(plumb_store_sync_list(&syncs, store, NULL, "web", 0), 0);
	CHECK_INT(syncs.count, 3);
	if (syncs.count == 3) {
		CHECK_INT(syncs.items[0].id, ids[3]);
		CHECK_INT(syncs.items[1].id, ids[2]);
		CHECK_INT(syncs.items[2].id, ids[0]);
	}
	CHECK_INT(plumb_store_sync_list(&syncs, store, "/a", "web", 0), 0);
	CHECK_INT(syncs.count, 5);
	if (syncs.count == 5) {
		CHECK_INT(syncs.items[3].id, ids[3]);
		CHECK_INT(syncs.items[4].id, ids[0]);
	}
	plumb_sync_records_release(&syncs);
	CHECK_INT(plumb_store_sync_list(&syncs, store, "/b", NULL, 1), 0);
	CHECK_INT(syncs.count, 1);
	if (syncs.count == 1)
		CHECK_INT(syncs.items[0].id, ids[4]);
	plumb_sync_records_release(&syncs);
	CHECK_INT(plumb_store_sync_list(&syncs, store, "/nowhere", NULL, 0), 0);
	CHECK_INT(syncs.count, 0);
	plumb_sync_records_release(&syncs);

done:
	plumb_store_free(store);
	free(state);
}

static void test_action_log(void)
{
	char *state = state_path("actions");
	plumb_store *store = NULL;
	plumb_action_records actions = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;

	plumb_sync_record s1 = { .destination = "/d", .application = "web" };
	plumb_sync_record s2 = { .destination = "/d", .application = "web" };
	CHECK_INT(plumb_store_sync_begin(store, &s1), 0);
	CHECK_INT(plumb_store_sync_begin(store, &s2), 0);

	plumb_action_record a = {
		.sync_id = s1.id,
		.key = "etc/motd",
		.kind = "File",
		.resource = "host/v1/File/motd",
		.action = "update",
		.reason = "content differs",
		.before = "file 0644 0:0 aaaa",
		.after = "file 0644 0:0 bbbb",
		.outcome = PLUMB_OUTCOME_CHANGED,
		.at = 1700000000,
	};
	plumb_action_record b = {
		.sync_id = s1.id,
		.key = "srv/app",
		.kind = "Directory",
		.action = "delete",
		.outcome = PLUMB_OUTCOME_SKIPPED,
		.error = "not empty",
	};
	plumb_action_record other = {
		.sync_id = s2.id, .key = "x", .action = "create", .outcome = PLUMB_OUTCOME_DENIED
	};
	int64_t before = (int64_t)time(NULL);
	CHECK_INT(plumb_store_action_add(store, &a), 0);
	CHECK_INT(plumb_store_action_add(store, &other), 0);
	CHECK_INT(plumb_store_action_add(store, &b), 0);
	int64_t after = (int64_t)time(NULL);
	CHECK(a.id > 0 && other.id > a.id && b.id > other.id);
	CHECK_INT(a.at, 1700000000);
	CHECK(b.at >= before && b.at <= after);

	CHECK_INT(plumb_store_action_list(&actions, store, s1.id), 0);
	CHECK_INT(actions.count, 2);
	if (actions.count == 2) {
		plumb_action_record *r = &actions.items[0];
		CHECK_INT(r->id, a.id);
		CHECK_INT(r->sync_id, s1.id);
		CHECK_STR(r->key, "etc/motd");
		CHECK_STR(r->kind, "File");
		CHECK_STR(r->resource, "host/v1/File/motd");
		CHECK_STR(r->action, "update");
		CHECK_STR(r->reason, "content differs");
		CHECK_STR(r->before, "file 0644 0:0 aaaa");
		CHECK_STR(r->after, "file 0644 0:0 bbbb");
		CHECK_INT(r->outcome, PLUMB_OUTCOME_CHANGED);
		CHECK_STR(r->error, "");
		CHECK_INT(r->at, 1700000000);
		r = &actions.items[1];
		CHECK_INT(r->id, b.id);
		CHECK_INT(r->outcome, PLUMB_OUTCOME_SKIPPED);
		CHECK_STR(r->error, "not empty");
		CHECK_STR(r->resource, "");
		CHECK_STR(r->before, "");
	}
	/* Appends. */
	CHECK_INT(plumb_store_action_list(&actions, store, s2.id), 0);
	CHECK_INT(actions.count, 3);
	if (actions.count == 3)
		CHECK_INT(actions.items[2].outcome, PLUMB_OUTCOME_DENIED);
	plumb_action_records_release(&actions);
	CHECK_INT(plumb_store_action_list(&actions, store, 999), 0);
	CHECK_INT(actions.count, 0);
	plumb_action_records_release(&actions);

	/* An action needs its sync, and an outcome plumb knows. */
	plumb_action_record orphan = { .sync_id = 999, .key = "k", .outcome = PLUMB_OUTCOME_NOOP };
	CHECK_INT(plumb_store_action_add(store, &orphan), PLUMB_ENOTFOUND);
	CHECK(strstr(plumb_error_last(), "no sync 999") != NULL);
	CHECK_INT(orphan.id, 0);
	plumb_action_record strange = { .sync_id = s1.id, .key = "k", .outcome = (plumb_outcome)17 };
	CHECK_INT(plumb_store_action_add(store, &strange), PLUMB_EINVALID);
	CHECK_INT(plumb_store_action_list(&actions, store, s1.id), 0);
	CHECK_INT(actions.count, 2);
	plumb_action_records_release(&actions);

done:
	plumb_store_free(store);
	free(state);
}

static void test_drift_log(void)
{
	char *state = state_path("drift");
	plumb_store *store = NULL;
	plumb_drift_record drift = { 0 };
	plumb_drift_records list = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;

	plumb_sync_record sync = { .destination = "/d", .application = "web", .actor = "alice@h" };
	CHECK_INT(plumb_store_sync_begin(store, &sync), 0);

	plumb_drift_record found = {
		.sync_id = sync.id,
		.destination = "/d",
		.application = "web",
		.key = "etc/motd",
		.kind = "File",
		.commit = "c1",
		.expected = "file 0644 0:0 aaaa",
		.observed = "file 0644 0:0 cccc",
		.capture = "drift/1/etc/motd",
		.capture_size = 42,
		.sensitive = 0,
		.note = "content changed",
		.at = 1700000000,
	};
	plumb_drift_record outside = {
		.destination = "/d",
		.application = "db",
		.key = "etc/db.conf",
		.kind = "File",
		.sensitive = 1,
		.note = "sensitive: not captured",
	};
	plumb_drift_record elsewhere = { .destination = "/e", .application = "web", .key = "k" };
	CHECK_INT(plumb_store_drift_add(store, &found), 0);
	CHECK_INT(plumb_store_drift_add(store, &outside), 0);
	CHECK_INT(plumb_store_drift_add(store, &elsewhere), 0);
	CHECK(found.id > 0 && outside.id > found.id && elsewhere.id > outside.id);
	CHECK(outside.at > 0);

	CHECK_INT(plumb_store_drift_get(&drift, store, found.id), 0);
	CHECK_INT(drift.id, found.id);
	CHECK_INT(drift.sync_id, sync.id);
	CHECK_STR(drift.destination, "/d");
	CHECK_STR(drift.application, "web");
	CHECK_STR(drift.key, "etc/motd");
	CHECK_STR(drift.kind, "File");
	CHECK_STR(drift.commit, "c1");
	CHECK_STR(drift.expected, "file 0644 0:0 aaaa");
	CHECK_STR(drift.observed, "file 0644 0:0 cccc");
	CHECK_STR(drift.capture, "drift/1/etc/motd");
	CHECK_INT(drift.capture_size, 42);
	CHECK_INT(drift.sensitive, 0);
	CHECK_STR(drift.note, "content changed");
	CHECK_INT(drift.at, 1700000000);
	plumb_drift_record_release(&drift);
	CHECK_INT(plumb_store_drift_get(&drift, store, outside.id), 0);
	CHECK_INT(drift.sync_id, 0);
	CHECK_INT(drift.sensitive, 1);
	CHECK_STR(drift.capture, "");
	CHECK_STR(drift.commit, "");
	plumb_drift_record_release(&drift);
	CHECK_INT(plumb_store_drift_get(&drift, store, 777), PLUMB_ENOTFOUND);
	plumb_drift_record_release(&drift);

	CHECK_INT(plumb_store_drift_list(&list, store, NULL, NULL, 0), 0);
	CHECK_INT(list.count, 3);
	if (list.count == 3) {
		CHECK_INT(list.items[0].id, elsewhere.id);
		CHECK_INT(list.items[2].id, found.id);
	}
	plumb_drift_records_release(&list);
	CHECK_INT(plumb_store_drift_list(&list, store, "/d", NULL, 0), 0);
	CHECK_INT(list.count, 2);
	plumb_drift_records_release(&list);
	CHECK_INT(plumb_store_drift_list(&list, store, "/d", "web", 0), 0);
	CHECK_INT(list.count, 1);
	if (list.count == 1)
		CHECK_INT(list.items[0].id, found.id);
	plumb_drift_records_release(&list);
	CHECK_INT(plumb_store_drift_list(&list, store, NULL, "web", 1), 0);
	CHECK_INT(list.count, 1);
	if (list.count == 1)
		CHECK_INT(list.items[0].id, elsewhere.id);
	plumb_drift_records_release(&list);

	/* Drift said to be found by a sync needs that sync. */
	plumb_drift_record orphan = { .sync_id = 999, .destination = "/d", .key = "k" };
	CHECK_INT(plumb_store_drift_add(store, &orphan), PLUMB_ENOTFOUND);

done:
	plumb_store_free(store);
	free(state);
}

typedef struct {
	plumb_audit_entry items[32];
	size_t count;
} collected;

static int collect(const plumb_audit_entry *entry, void *payload)
{
	collected *c = payload;
	if (c->count == PLUMB_ARRAY_SIZE(c->items))
		return 1;
	plumb_audit_entry *copy = &c->items[c->count++];
	*copy = *entry;
	copy->actor = plumb_xstrdup(entry->actor);
	copy->event = plumb_xstrdup(entry->event);
	copy->subject = plumb_xstrdup(entry->subject);
	copy->detail = plumb_xstrdup(entry->detail);
	copy->previous_hash = plumb_xstrdup(entry->previous_hash);
	copy->hash = plumb_xstrdup(entry->hash);
	return 0;
}

static void collected_release(collected *c)
{
	for (size_t i = 0; i < c->count; i++) {
		free(c->items[i].actor);
		free(c->items[i].event);
		free(c->items[i].subject);
		free(c->items[i].detail);
		free(c->items[i].previous_hash);
		free(c->items[i].hash);
	}
	c->count = 0;
}

static int stop_at_second(const plumb_audit_entry *entry, void *payload)
{
	int *seen = payload;
	return ++*seen == 2 ? 7 : 0;
}

/* The hash of an entry computed here, from the form audit.c documents, not from its code. */
static void expected_hash(char out[65], const plumb_audit_entry *e)
{
	char *text = plumb_xprintf("%s\n%lld\n%lld\n%s\n%s\n%s\n%s", e->previous_hash, (long long)e->id,
				   (long long)e->at, e->actor, e->event, e->subject, e->detail);
	plumb_hash_sha256_hex(out, text, strlen(text));
	free(text);
}

/* A JSON member of detail, as text ("" when absent); the caller frees. */
static char *detail_member(const char *detail, const char *key)
{
	json_t *doc = json_loads(detail, 0, NULL);
	json_t *value = json_object_get(doc, key);
	char *text = value ? json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	char *copy = plumb_xstrdup(text ? text : "");
	free(text);
	json_decref(doc);
	return copy;
}

static void check_member(const char *detail, const char *key, const char *expected)
{
	char *value = detail_member(detail, key);
	CHECK_STR(value, expected);
	free(value);
}

static void test_audit_chain(void)
{
	char *state = state_path("audit");
	plumb_store *store = NULL;
	collected log = { .count = 0 };
	plumb_audit_verification verification = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;

	CHECK_INT(plumb_store_audit_verify(&verification, store), 0);
	CHECK_INT(verification.entries, 0);
	CHECK_INT(verification.first_bad_id, 0);
	plumb_audit_verification_release(&verification);

	/* Every entry is stamped between now and when they are read, however long writing them takes. */
	int64_t before = (int64_t)time(NULL);

	/* A sync with an action and a drift event, each recorded with its audit entry. */
	plumb_sync_record sync = {
		.operation = "sync",
		.trigger = "cli",
		.actor = "alice@host",
		.application = "web",
		.destination = "/d",
		.repo = "/repo",
		.revision = "main",
		.commit = "c1",
		.started_at = 1700000000,
	};
	CHECK_INT(plumb_store_sync_begin(store, &sync), 0);
	plumb_action_record action = { .sync_id = sync.id,
				       .key = "etc/motd",
				       .kind = "File",
				       .action = "update",
				       .before = "b",
				       .after = "a",
				       .outcome = PLUMB_OUTCOME_CHANGED };
	CHECK_INT(plumb_store_action_add(store, &action), 0);
	plumb_drift_record drift = { .sync_id = sync.id, .destination = "/d", .key = "etc/motd", .note = "edited" };
	CHECK_INT(plumb_store_drift_add(store, &drift), 0);
	/* The finishing record carries only what finish reads; the entry takes application and actor from the row. */
	plumb_sync_record finish = { .id = sync.id, .result = PLUMB_SYNC_SUCCEEDED, .updated = 1 };
	CHECK_INT(plumb_store_sync_finish(store, &finish), 0);
	/* Other events; a detail in any layout is stored compact, and text is cleaned of line breaks. */
	CHECK_INT(plumb_store_audit_append(store, "bob", "plan", "plans/x.json",
					   "{ \"actions\" : 3,\n \"a\": [1, 2] }"),
		  0);
	CHECK_INT(plumb_store_audit_append(store, NULL, "refusal", "line\none", NULL), 0);
	CHECK_INT(plumb_store_audit_append(store, "bob", "plan", "x", "[1]"), PLUMB_EINVALID);
	CHECK_INT(plumb_store_audit_append(store, "bob", "plan", "x", "{not json"), PLUMB_EINVALID);
	CHECK_INT(plumb_store_audit_append(store, "bob", "", "x", NULL), PLUMB_EINVALID);

	CHECK_INT(plumb_store_audit_each(store, collect, &log), 0);
	CHECK_INT(log.count, 6);
	if (log.count == 6) {
		static const char *const events[] = { "sync.begin", "action", "drift",
						      "sync.finish", "plan", "refusal" };
		static const char *const subjects[] = { "web", "etc/motd", "etc/motd", "web", "plans/x.json",
							"line\xef\xbf\xbdone" };
		static const char *const actors[] = { "alice@host", "alice@host", "alice@host",
						      "alice@host", "bob", "" };
		const char *previous = "0000000000000000000000000000000000000000000000000000000000000000";
		for (size_t i = 0; i < log.count; i++) {
			plumb_audit_entry *e = &log.items[i];
			char hash[65];
			CHECK_INT(e->id, (int64_t)i + 1);
			CHECK_STR(e->event, events[i]);
			CHECK_STR(e->subject, subjects[i]);
			CHECK_STR(e->actor, actors[i]);
			CHECK_STR(e->previous_hash, previous);
			CHECK(e->at >= before && e->at <= (int64_t)time(NULL));
			expected_hash(hash, e);
			CHECK_STR(e->hash, hash);
			CHECK(strchr(e->detail, '\n') == NULL);
			previous = e->hash;
		}
		/* Details are the records' fields, and nothing else. */
		const char *d = log.items[0].detail;
		char *id = plumb_xprintf("%lld", (long long)sync.id);
		check_member(d, "id", id);
		free(id);
		check_member(d, "operation", "\"sync\"");
		check_member(d, "trigger", "\"cli\"");
		check_member(d, "commit", "\"c1\"");
		check_member(d, "started_at", "1700000000");
		check_member(log.items[1].detail, "before", "\"b\"");
		check_member(log.items[1].detail, "outcome", "\"changed\"");
		check_member(log.items[2].detail, "note", "\"edited\"");
		check_member(log.items[2].detail, "sensitive", "false");
		check_member(log.items[3].detail, "result", "\"succeeded\"");
		check_member(log.items[3].detail, "updated", "1");
		CHECK_STR(log.items[4].detail, "{\"actions\":3,\"a\":[1,2]}");
		CHECK_STR(log.items[5].detail, "{}");
	}
	collected_release(&log);

	/* A non-zero answer from the callback stops the walk and is returned. */
	int seen = 0;
	CHECK_INT(plumb_store_audit_each(store, stop_at_second, &seen), 7);
	CHECK_INT(seen, 2);

	CHECK_INT(plumb_store_audit_verify(&verification, store), 0);
	CHECK_INT(verification.entries, 6);
	CHECK_INT(verification.first_bad_id, 0);
	CHECK_STR(verification.problem, "");
	plumb_audit_verification_release(&verification);

	/* Text that is not UTF-8 is repaired, so that the entry exports as JSON, and it still verifies. */
	CHECK_INT(plumb_store_audit_append(store, "a\xff", "plan", "p\xc3", "{\"k\":\"\\u00e9\"}"), 0);
	CHECK_INT(plumb_store_audit_each(store, collect, &log), 0);
	CHECK_INT(log.count, 7);
	if (log.count == 7) {
		CHECK_STR(log.items[6].actor, "a\xef\xbf\xbd");
		CHECK_STR(log.items[6].subject, "p\xef\xbf\xbd");
		CHECK_STR(log.items[6].detail, "{\"k\":\"\xc3\xa9\"}");
	}
	collected_release(&log);
	CHECK_INT(plumb_store_audit_verify(&verification, store), 0);
	CHECK_INT(verification.entries, 7);
	CHECK_INT(verification.first_bad_id, 0);
	plumb_audit_verification_release(&verification);

done:
	plumb_store_free(store);
	free(state);
}

static void test_audit_entries_share_the_callers_transaction(void)
{
	char *state = state_path("audit-transaction");
	plumb_store *store = NULL;
	collected log = { .count = 0 };
	plumb_action_records actions = { 0 };
	plumb_inventory inventory = { 0 };
	plumb_audit_verification verification = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;
	plumb_sync_record sync = { .destination = "/d", .application = "web" };
	CHECK_INT(plumb_store_sync_begin(store, &sync), 0);

	/* Rolled back with the caller's transaction: the action and its entry both go. */
	CHECK_INT(plumb_store_begin(store), 0);
	plumb_action_record gone = { .sync_id = sync.id, .key = "gone", .outcome = PLUMB_OUTCOME_CHANGED };
	CHECK_INT(plumb_store_action_add(store, &gone), 0);
	CHECK_INT(plumb_store_audit_append(store, "x", "plan", "gone", NULL), 0);
	plumb_store_rollback(store);
	CHECK_INT(plumb_store_action_list(&actions, store, sync.id), 0);
	CHECK_INT(actions.count, 0);
	plumb_action_records_release(&actions);

	/*
	 * A write that fails inside the caller's transaction takes back only
	 * its own rows: what the caller wrote before it is committed.
	 */
	CHECK_INT(plumb_store_begin(store), 0);
	plumb_inventory_entry kept = entry("/d", "kept", "web", "f");
	CHECK_INT(plumb_store_inventory_put(store, &kept), 0);
	plumb_action_record orphan = { .sync_id = 999, .key = "orphan", .outcome = PLUMB_OUTCOME_CHANGED };
	CHECK_INT(plumb_store_action_add(store, &orphan), PLUMB_ENOTFOUND);
	plumb_action_record kept_action = { .sync_id = sync.id, .key = "kept", .outcome = PLUMB_OUTCOME_CHANGED };
	CHECK_INT(plumb_store_action_add(store, &kept_action), 0);
	CHECK_INT(plumb_store_commit(store), 0);
	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d", NULL), 0);
	CHECK_INT(inventory.count, 1);
	plumb_inventory_release(&inventory);

	/* The ids of the entries rolled back are given again: the chain has no gap. */
	CHECK_INT(plumb_store_audit_each(store, collect, &log), 0);
	CHECK_INT(log.count, 2);
	if (log.count == 2) {
		CHECK_INT(log.items[1].id, 2);
		CHECK_STR(log.items[1].subject, "kept");
	}
	collected_release(&log);
	CHECK_INT(plumb_store_audit_verify(&verification, store), 0);
	CHECK_INT(verification.first_bad_id, 0);
	CHECK_INT(verification.entries, 2);
	plumb_audit_verification_release(&verification);

done:
	plumb_store_free(store);
	free(state);
}

static void test_audit_chain_across_connections(void)
{
	char *state = state_path("audit-two");
	plumb_store *a = NULL, *b = NULL;
	plumb_audit_verification verification = { 0 };

	CHECK_INT(plumb_store_open(&a, state), 0);
	CHECK_INT(plumb_store_open(&b, state), 0);
	if (!a || !b)
		goto done;
	/* Two plumbs appending in turn each read the other's last entry under the write lock. */
	for (int i = 0; i < 10; i++)
		CHECK_INT(plumb_store_audit_append(i % 2 ? a : b, i % 2 ? "a" : "b", "plan", "p", NULL), 0);
	CHECK_INT(plumb_store_audit_verify(&verification, a), 0);
	CHECK_INT(verification.entries, 10);
	CHECK_INT(verification.first_bad_id, 0);
	plumb_audit_verification_release(&verification);

done:
	plumb_store_free(b);
	plumb_store_free(a);
	free(state);
}

/* Pages of the log, newest first: what the dashboard reads, without walking the whole chain. */
static void test_audit_list(void)
{
	char *state = state_path("audit-list");
	plumb_store *store = NULL;
	plumb_audit_entries page = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;
	CHECK_INT(plumb_store_audit_list(&page, store, 0, 10), 0);
	CHECK_INT(page.count, 0);
	for (int i = 1; i <= 7; i++) {
		char *detail = plumb_xprintf("{\"n\":%d}", i);
		CHECK_INT(plumb_store_audit_append(store, "alice", "plan", "p.json", detail), 0);
		free(detail);
	}
	CHECK_INT(plumb_store_audit_list(&page, store, 0, 3), 0);
	CHECK_INT(page.count, 3);
	if (page.count == 3) {
		CHECK_INT(page.items[0].id, 7);
		CHECK_INT(page.items[2].id, 5);
		CHECK_STR(page.items[0].actor, "alice");
		CHECK_STR(page.items[0].event, "plan");
		CHECK_STR(page.items[0].subject, "p.json");
		CHECK_STR(page.items[0].detail, "{\"n\":7}");
		CHECK_INT(strlen(page.items[0].hash), 64);
		CHECK_STR(page.items[0].previous_hash, page.items[1].hash);
	}
	/* The next page starts below the last id of this one, appended to what out holds. */
	CHECK_INT(plumb_store_audit_list(&page, store, page.items[page.count - 1].id, 3), 0);
	CHECK_INT(page.count, 6);
	if (page.count == 6)
		CHECK_INT(page.items[5].id, 2);
	plumb_audit_entries_release(&page);
	CHECK_INT(plumb_store_audit_list(&page, store, 2, 0), 0);
	CHECK_INT(page.count, 1);
	plumb_audit_entries_release(&page);
	CHECK_INT(plumb_store_audit_list(&page, store, 0, 0), 0);
	CHECK_INT(page.count, 7);
	plumb_audit_entries_release(&page);
	CHECK_INT(page.count, 0);
done:
	plumb_store_free(store);
	free(state);
}

/* A store of state name whose audit log holds five entries (a sync, two actions, a plan, its end). */
static char *make_audited_store(const char *name)
{
	char *state = state_path(name);
	plumb_store *store = NULL;

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (store) {
		plumb_sync_record sync = { .destination = "/d", .application = "web", .actor = "alice" };
		CHECK_INT(plumb_store_sync_begin(store, &sync), 0);
		plumb_action_record a1 = { .sync_id = sync.id, .key = "a", .outcome = PLUMB_OUTCOME_CHANGED };
		plumb_action_record a2 = { .sync_id = sync.id, .key = "b", .outcome = PLUMB_OUTCOME_NOOP };
		CHECK_INT(plumb_store_action_add(store, &a1), 0);
		CHECK_INT(plumb_store_action_add(store, &a2), 0);
		CHECK_INT(plumb_store_audit_append(store, "alice", "plan", "p.json", "{\"n\":1}"), 0);
		sync.result = PLUMB_SYNC_SUCCEEDED;
		CHECK_INT(plumb_store_sync_finish(store, &sync), 0);
	}
	plumb_store_free(store);
	char *db = plumb_xprintf("%s/plumb.db", state);
	free(state);
	return db;
}

static const char drop_triggers[] = "DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;";

/* Verify the store of state name; expect it broken at bad_id with problem containing needle. */
static void check_broken(const char *name, int64_t bad_id, int64_t entries, const char *needle)
{
	char *state = state_path(name);
	plumb_store *store = NULL;
	plumb_audit_verification verification = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (store) {
		CHECK_INT(plumb_store_audit_verify(&verification, store), 0);
		CHECK_INT(verification.first_bad_id, bad_id);
		CHECK_INT(verification.entries, entries);
		CHECK(verification.problem != NULL && strstr(verification.problem, needle) != NULL);
		if (verification.problem && !strstr(verification.problem, needle))
			fprintf(stderr, "  problem: %s\n", verification.problem);
		plumb_audit_verification_release(&verification);
	}
	plumb_store_free(store);
	free(state);
}

static void test_audit_log_is_append_only(void)
{
	char *db = make_audited_store("append-only");
	char *state = state_path("append-only");
	plumb_store *store = NULL;
	sqlite3 *other = NULL;
	char *message = NULL;

	/* While plumb has the store open, another connection can neither change nor remove an entry. */
	CHECK_INT(plumb_store_open(&store, state), 0);
	CHECK_INT(sqlite3_open(db, &other), SQLITE_OK);
	CHECK_INT(sqlite3_exec(other, "UPDATE audit SET detail = '{}' WHERE id = 3", NULL, NULL, &message),
		  SQLITE_CONSTRAINT);
	CHECK(message && strstr(message, "the audit log is append-only"));
	sqlite3_free(message);
	message = NULL;
	CHECK_INT(sqlite3_exec(other, "DELETE FROM audit WHERE id = 3", NULL, NULL, &message), SQLITE_CONSTRAINT);
	CHECK(message && strstr(message, "the audit log is append-only"));
	sqlite3_free(message);
	message = NULL;
	CHECK_INT(sqlite3_exec(other, "DELETE FROM audit", NULL, NULL, NULL), SQLITE_CONSTRAINT);
	sqlite3_close(other);
	CHECK_INT(query_int(db, "SELECT count(*) FROM audit"), 5);
	plumb_store_free(store);
	check_broken("append-only", 0, 5, "");

	free(state);
	free(db);
}

static void test_audit_verify_finds_tampering(void)
{
	/* An edited field. */
	char *db = make_audited_store("tamper-detail");
	CHECK_INT(run_sql(db, drop_triggers), SQLITE_OK);
	CHECK_INT(run_sql(db, "UPDATE audit SET detail = '{\"key\":\"innocent\"}' WHERE id = 3"), SQLITE_OK);
	check_broken("tamper-detail", 3, 5, "entry 3's hash does not match its fields");
	free(db);

	db = make_audited_store("tamper-actor");
	CHECK_INT(run_sql(db, drop_triggers), SQLITE_OK);
	CHECK_INT(run_sql(db, "UPDATE audit SET actor = 'mallory' WHERE id = 1"), SQLITE_OK);
	check_broken("tamper-actor", 1, 5, "entry 1's hash does not match its fields");
	free(db);

	/* A middle entry removed. */
	db = make_audited_store("tamper-delete");
	CHECK_INT(run_sql(db, drop_triggers), SQLITE_OK);
	CHECK_INT(run_sql(db, "DELETE FROM audit WHERE id = 3"), SQLITE_OK);
	check_broken("tamper-delete", 3, 4, "entry 3 is missing: the chain jumps from 2 to 4");
	free(db);

	db = make_audited_store("tamper-delete-two");
	CHECK_INT(run_sql(db, drop_triggers), SQLITE_OK);
	CHECK_INT(run_sql(db, "DELETE FROM audit WHERE id IN (2, 3)"), SQLITE_OK);
	check_broken("tamper-delete-two", 2, 3, "entries 2 to 3 are missing: the chain jumps from 1 to 4");
	free(db);

	db = make_audited_store("tamper-delete-first");
	CHECK_INT(run_sql(db, drop_triggers), SQLITE_OK);
	CHECK_INT(run_sql(db, "DELETE FROM audit WHERE id = 1"), SQLITE_OK);
	check_broken("tamper-delete-first", 1, 4, "entry 1 is missing: the chain starts at entry 2");
	free(db);

	/* Entries renumbered to close the gap: the chain of hashes still breaks there. */
	db = make_audited_store("tamper-renumber");
	CHECK_INT(run_sql(db, drop_triggers), SQLITE_OK);
	CHECK_INT(run_sql(db, "DELETE FROM audit WHERE id = 3; UPDATE audit SET id = id - 1 WHERE id > 3"),
		  SQLITE_OK);
	check_broken("tamper-renumber", 3, 4, "entry 3's previous_hash is not the hash of entry 2");
	free(db);

	/* Nothing removed, only a hash edited. */
	db = make_audited_store("tamper-hash");
	CHECK_INT(run_sql(db, drop_triggers), SQLITE_OK);
	CHECK_INT(run_sql(db, "UPDATE audit SET hash ="
			      " '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'"
			      " WHERE id = 3"),
		  SQLITE_OK);
	check_broken("tamper-hash", 3, 5, "entry 3's hash does not match its fields");
	free(db);

	/* An edit made with the entry's hash computed again: the next entry no longer chains to it. */
	db = make_audited_store("tamper-rehash");
	CHECK_INT(run_sql(db, drop_triggers), SQLITE_OK);
	{
		plumb_audit_entry e = { .id = 3, .actor = "alice", .event = "action", .subject = "b", .detail = "{}" };
		char *previous = NULL;
		sqlite3 *conn = NULL;
		sqlite3_stmt *stmt = NULL;
		CHECK_INT(sqlite3_open(db, &conn), SQLITE_OK);
		CHECK_INT(sqlite3_prepare_v2(conn, "SELECT at, previous_hash FROM audit WHERE id = 3", -1, &stmt, NULL),
			  SQLITE_OK);
		CHECK_INT(sqlite3_step(stmt), SQLITE_ROW);
		e.at = sqlite3_column_int64(stmt, 0);
		previous = plumb_xstrdup((const char *)sqlite3_column_text(stmt, 1));
		sqlite3_finalize(stmt);
		e.previous_hash = previous;
		char hash[65];
		expected_hash(hash, &e);
		char *sql = plumb_xprintf("UPDATE audit SET detail = '{}', hash = '%s' WHERE id = 3", hash);
		CHECK_INT(sqlite3_exec(conn, sql, NULL, NULL, NULL), SQLITE_OK);
		free(sql);
		free(previous);
		sqlite3_close(conn);
	}
	check_broken("tamper-rehash", 4, 5, "entry 4's previous_hash is not the hash of entry 3");
	free(db);

	/* The first entry must start from the zero hash. */
	db = make_audited_store("tamper-genesis");
	CHECK_INT(run_sql(db, drop_triggers), SQLITE_OK);
	CHECK_INT(run_sql(db, "UPDATE audit SET previous_hash = 'x' WHERE id = 1"), SQLITE_OK);
	check_broken("tamper-genesis", 1, 5, "entry 1's previous_hash is not the 64 zeros");
	free(db);
}

/*
 * A store at version 2 in a new state directory name: what plumb 0.2 left,
 * a sync with an action and their audit entries. Made by dropping what step
 * 3 adds, which is exactly version 2's schema since released steps never
 * change. The path of its database.
 */
static char *make_v2_store(const char *name)
{
	char *state = state_path(name);
	char *db = plumb_xprintf("%s/plumb.db", state);
	plumb_store *store = NULL;

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (store) {
		plumb_inventory_entry e = entry("/d", "etc/motd", "web", "f1");
		CHECK_INT(plumb_store_inventory_put(store, &e), 0);
		plumb_sync_record sync = { .destination = "/d", .application = "web", .actor = "alice", .commit = "c1" };
		CHECK_INT(plumb_store_sync_begin(store, &sync), 0);
		plumb_action_record action = { .sync_id = sync.id, .key = "etc/motd", .outcome = PLUMB_OUTCOME_CHANGED };
		CHECK_INT(plumb_store_action_add(store, &action), 0);
		sync.result = PLUMB_SYNC_SUCCEEDED;
		CHECK_INT(plumb_store_sync_finish(store, &sync), 0);
	}
	plumb_store_free(store);
	CHECK_INT(run_sql(db, "DROP TABLE approvals; DROP TABLE stat_cache; PRAGMA user_version = 2;"), SQLITE_OK);
	CHECK_INT(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'approvals%'"), 0);
	free(state);
	return db;
}

/* A pending plan of destination and application, as the daemon would record it. */
static plumb_approval_record approval(const char *destination, const char *application, const char *commit)
{
	plumb_approval_record a = {
		.destination = (char *)destination,
		.application = (char *)application,
		.commit = (char *)commit,
		.plan = "{\"format\":\"plumb-plan\",\"actions\":[{\"diff\":\"+PLAN-BODY-MARKER\\n\"}]}",
		.summary = "Plan: 1 to create, 0 to update, 0 to delete.",
		.requested_by = "plumbd@host",
	};
	return a;
}

static void test_v2_store_is_upgraded_in_place(void)
{
	char *state = state_path("v2");
	char *db = make_v2_store("v2");
	plumb_store *store = NULL;
	plumb_inventory inventory = { 0 };
	plumb_sync_record sync = { 0 };
	plumb_action_records actions = { 0 };
	plumb_approval_records approvals = { 0 };
	plumb_audit_verification verification = { 0 };

	/* A table in the way of step 3 makes it fail, and leaves the store at version 2. */
	CHECK_INT(run_sql(db, "CREATE TABLE approvals (x);"), SQLITE_OK);
	CHECK_INT(plumb_store_open(&store, state), PLUMB_ERROR);
	CHECK(strstr(plumb_error_last(), "migrating the schema from version 2 to 3") != NULL);
	CHECK_INT(query_int(db, "PRAGMA user_version"), 2);
	CHECK_INT(run_sql(db, "DROP TABLE approvals;"), SQLITE_OK);

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;
	CHECK_INT(query_int(db, "PRAGMA user_version"), 4);
	CHECK_INT(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'approvals'"), 1);
	CHECK_INT(query_int(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'approvals'"
				" AND sql LIKE '%(destination, application, id)%'"),
		  1);

	/* What version 2 held is all there. */
	CHECK_INT(plumb_store_inventory_list(&inventory, store, "/d", NULL), 0);
	CHECK_INT(inventory.count, 1);
	CHECK_INT(plumb_store_sync_get(&sync, store, 1), 0);
	CHECK_STR(sync.actor, "alice");
	CHECK_INT(sync.result, PLUMB_SYNC_SUCCEEDED);
	CHECK_INT(plumb_store_action_list(&actions, store, 1), 0);
	CHECK_INT(actions.count, 1);
	CHECK_INT(plumb_store_approval_list(&approvals, store, NULL, NULL, 0), 0);
	CHECK_INT(approvals.count, 0);

	/* The old chain goes on: its three entries, then the first approval's. */
	plumb_approval_record a = approval("/d", "web", "c2");
	CHECK_INT(plumb_store_approval_add(store, &a), 0);
	CHECK_INT(a.id, 1);
	CHECK_INT(plumb_store_audit_verify(&verification, store), 0);
	CHECK_INT(verification.entries, 4);
	CHECK_INT(verification.first_bad_id, 0);

done:
	plumb_audit_verification_release(&verification);
	plumb_approval_records_release(&approvals);
	plumb_action_records_release(&actions);
	plumb_sync_record_release(&sync);
	plumb_inventory_release(&inventory);
	plumb_store_free(store);
	free(db);
	free(state);
}

static void test_approval_states(void)
{
	char *state = state_path("approval-states");
	plumb_store *store = NULL;
	plumb_approval_record got = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;

	/* A plan needs somewhere to go and something to do. */
	plumb_approval_record empty = approval("/d", "web", "c0");
	empty.plan = "";
	CHECK_INT(plumb_store_approval_add(store, &empty), PLUMB_EINVALID);
	plumb_approval_record nowhere = approval(NULL, "web", "c0");
	CHECK_INT(plumb_store_approval_add(store, &nowhere), PLUMB_EINVALID);

	plumb_approval_record a = approval("/d", "web", "c1");
	a.state = PLUMB_APPROVAL_REJECTED; /* ignored: a new plan waits */
	a.created_at = 1700000000;
	CHECK_INT(plumb_store_approval_add(store, &a), 0);
	CHECK_INT(a.id, 1);
	CHECK_INT(a.state, PLUMB_APPROVAL_PENDING);
	CHECK_INT(plumb_store_approval_get(&got, store, a.id), 0);
	CHECK_INT(got.id, 1);
	CHECK_STR(got.destination, "/d");
	CHECK_STR(got.application, "web");
	CHECK_STR(got.commit, "c1");
	CHECK_STR(got.plan, a.plan);
	CHECK_STR(got.summary, "Plan: 1 to create, 0 to update, 0 to delete.");
	CHECK_INT(got.state, PLUMB_APPROVAL_PENDING);
	CHECK_STR(got.requested_by, "plumbd@host");
	CHECK_STR(got.decided_by, "");
	CHECK_STR(got.note, "");
	CHECK_INT(got.created_at, 1700000000);
	CHECK_INT(got.decided_at, 0);
	plumb_approval_record_release(&got);

	CHECK_INT(plumb_store_approval_get(&got, store, 99), PLUMB_ENOTFOUND);
	CHECK(strstr(plumb_error_last(), "no approval 99") != NULL);
	CHECK_INT(plumb_store_approval_decide(store, 99, 1, "alice", NULL), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_store_approval_finish(store, 99, PLUMB_APPROVAL_APPLIED, NULL), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_store_approval_decide(store, a.id, 1, "", NULL), PLUMB_EINVALID);
	CHECK_INT(plumb_store_approval_decide(store, a.id, 1, NULL, NULL), PLUMB_EINVALID);

	/* Approved once; a second decision, either way, is refused and names the state. */
	time_t before = time(NULL);
	CHECK_INT(plumb_store_approval_decide(store, a.id, 1, "alice", "ticket 42"), 0);
	CHECK_INT(plumb_store_approval_decide(store, a.id, 1, "bob", NULL), PLUMB_ECONFLICT);
	CHECK(strstr(plumb_error_last(), "approval 1 is approved, not pending") != NULL);
	CHECK_INT(plumb_store_approval_decide(store, a.id, 0, "bob", NULL), PLUMB_ECONFLICT);
	CHECK_INT(plumb_store_approval_get(&got, store, a.id), 0);
	CHECK_INT(got.state, PLUMB_APPROVAL_APPROVED);
	CHECK_STR(got.decided_by, "alice");
	CHECK_STR(got.note, "ticket 42");
	CHECK(got.decided_at >= before && got.decided_at <= time(NULL));
	int64_t decided_at = got.decided_at;
	plumb_approval_record_release(&got);

	/* Applied: the decision (who, when, why) stays. Only APPLIED and SUPERSEDED end a plan. */
	CHECK_INT(plumb_store_approval_finish(store, a.id, PLUMB_APPROVAL_REJECTED, NULL), PLUMB_EINVALID);
	CHECK_INT(plumb_store_approval_finish(store, a.id, PLUMB_APPROVAL_PENDING, NULL), PLUMB_EINVALID);
	CHECK_INT(plumb_store_approval_finish(store, a.id, PLUMB_APPROVAL_APPLIED, NULL), 0);
	CHECK_INT(plumb_store_approval_get(&got, store, a.id), 0);
	CHECK_INT(got.state, PLUMB_APPROVAL_APPLIED);
	CHECK_STR(got.decided_by, "alice");
	CHECK_STR(got.note, "ticket 42");
	CHECK_INT(got.decided_at, decided_at);
	plumb_approval_record_release(&got);
	CHECK_INT(plumb_store_approval_finish(store, a.id, PLUMB_APPROVAL_SUPERSEDED, "stale"), PLUMB_ECONFLICT);
	CHECK(strstr(plumb_error_last(), "approval 1 is applied") != NULL);
	CHECK_INT(plumb_store_approval_decide(store, a.id, 0, "bob", NULL), PLUMB_ECONFLICT);

	/* Rejected: final. */
	plumb_approval_record b = approval("/d", "web", "c2");
	CHECK_INT(plumb_store_approval_add(store, &b), 0);
	CHECK_INT(b.id, 2);
	CHECK_INT(plumb_store_approval_decide(store, b.id, 0, "bob", "not on a Friday"), 0);
	CHECK_INT(plumb_store_approval_get(&got, store, b.id), 0);
	CHECK_INT(got.state, PLUMB_APPROVAL_REJECTED);
	CHECK_STR(got.decided_by, "bob");
	CHECK_STR(got.note, "not on a Friday");
	CHECK(got.decided_at > 0);
	plumb_approval_record_release(&got);
	CHECK_INT(plumb_store_approval_finish(store, b.id, PLUMB_APPROVAL_APPLIED, NULL), PLUMB_ECONFLICT);
	CHECK(strstr(plumb_error_last(), "approval 2 is rejected") != NULL);
	CHECK_INT(plumb_store_approval_finish(store, b.id, PLUMB_APPROVAL_SUPERSEDED, NULL), PLUMB_ECONFLICT);
	CHECK_INT(plumb_store_approval_decide(store, b.id, 1, "alice", NULL), PLUMB_ECONFLICT);

	/* A pending plan can go stale without anyone deciding: it ends, with no decider. */
	plumb_approval_record c = approval("/d", "web", "c3");
	CHECK_INT(plumb_store_approval_add(store, &c), 0);
	CHECK_INT(plumb_store_approval_finish(store, c.id, PLUMB_APPROVAL_SUPERSEDED, "stale"), 0);
	CHECK_INT(plumb_store_approval_get(&got, store, c.id), 0);
	CHECK_INT(got.state, PLUMB_APPROVAL_SUPERSEDED);
	CHECK_STR(got.decided_by, "");
	CHECK_STR(got.note, "stale");
	CHECK(got.decided_at > 0);
	plumb_approval_record_release(&got);
	CHECK_INT(plumb_store_approval_decide(store, c.id, 1, "alice", NULL), PLUMB_ECONFLICT);
	CHECK(strstr(plumb_error_last(), "approval 3 is superseded, not pending") != NULL);

	CHECK_STR(plumb_approval_state_name(PLUMB_APPROVAL_PENDING), "pending");
	CHECK_STR(plumb_approval_state_name(PLUMB_APPROVAL_APPROVED), "approved");
	CHECK_STR(plumb_approval_state_name(PLUMB_APPROVAL_REJECTED), "rejected");
	CHECK_STR(plumb_approval_state_name(PLUMB_APPROVAL_APPLIED), "applied");
	CHECK_STR(plumb_approval_state_name(PLUMB_APPROVAL_SUPERSEDED), "superseded");

done:
	plumb_store_free(store);
	free(state);
}

/* The state of plan id, or -1. */
static int state_of(plumb_store *store, int64_t id)
{
	plumb_approval_record got = { 0 };
	int state = plumb_store_approval_get(&got, store, id) == 0 ? (int)got.state : -1;
	plumb_approval_record_release(&got);
	return state;
}

static void test_approval_add_supersedes(void)
{
	char *state = state_path("approval-supersede");
	plumb_store *store = NULL;
	plumb_approval_record got = { 0 };
	collected log = { .count = 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;

	plumb_approval_record p1 = approval("/d", "web", "c1");
	plumb_approval_record p2 = approval("/d", "web", "c2");
	plumb_approval_record other_app = approval("/d", "db", "c3");
	plumb_approval_record other_root = approval("/e", "web", "c4");
	CHECK_INT(plumb_store_approval_add(store, &p1), 0);
	CHECK_INT(plumb_store_approval_add(store, &p2), 0);
	CHECK_INT(plumb_store_approval_decide(store, p2.id, 1, "alice", "ok"), 0);
	CHECK_INT(plumb_store_approval_add(store, &other_app), 0);
	CHECK_INT(plumb_store_approval_add(store, &other_root), 0);
	/* p1 went when p2 came; p2 is approved and waits to be applied. */
	CHECK_INT(state_of(store, p1.id), PLUMB_APPROVAL_SUPERSEDED);
	CHECK_INT(state_of(store, p2.id), PLUMB_APPROVAL_APPROVED);

	/* Rejected and applied plans stay as they were; pending and approved ones of (/d, web) only go. */
	plumb_approval_record rejected = approval("/d", "web", "c5");
	CHECK_INT(plumb_store_approval_add(store, &rejected), 0);
	CHECK_INT(state_of(store, p2.id), PLUMB_APPROVAL_SUPERSEDED);
	CHECK_INT(plumb_store_approval_decide(store, rejected.id, 0, "bob", "no"), 0);
	int64_t entries_before = 0;
	CHECK_INT(plumb_store_audit_each(store, collect, &log), 0);
	entries_before = (int64_t)log.count;
	collected_release(&log);

	plumb_approval_record p3 = approval("/d", "web", "c6");
	CHECK_INT(plumb_store_approval_add(store, &p3), 0);
	CHECK_INT(state_of(store, p1.id), PLUMB_APPROVAL_SUPERSEDED);
	CHECK_INT(state_of(store, p2.id), PLUMB_APPROVAL_SUPERSEDED);
	CHECK_INT(state_of(store, rejected.id), PLUMB_APPROVAL_REJECTED);
	CHECK_INT(state_of(store, other_app.id), PLUMB_APPROVAL_PENDING);
	CHECK_INT(state_of(store, other_root.id), PLUMB_APPROVAL_PENDING);
	CHECK_INT(state_of(store, p3.id), PLUMB_APPROVAL_PENDING);
	/* Nothing was left to supersede: the new plan's request is the only entry. */
	CHECK_INT(plumb_store_audit_each(store, collect, &log), 0);
	CHECK_INT(log.count, entries_before + 1);
	collected_release(&log);

	/* The superseded plan says by which, and keeps its approver. */
	CHECK_INT(plumb_store_approval_get(&got, store, p2.id), 0);
	char *expected = plumb_xprintf("superseded by plan %lld", (long long)rejected.id);
	CHECK_STR(got.note, expected);
	free(expected);
	CHECK_STR(got.decided_by, "alice");
	plumb_approval_record_release(&got);

	/* Each superseded plan has its own entry, after the request that replaced it. */
	CHECK_INT(plumb_store_audit_each(store, collect, &log), 0);
	const char *events[] = { "approval.request", "approval.request", "approval.superseded", "approval.approve",
				 "approval.request", "approval.request", "approval.request", "approval.superseded",
				 "approval.reject", "approval.request" };
	CHECK_INT(log.count, PLUMB_ARRAY_SIZE(events));
	for (size_t i = 0; i < log.count && i < PLUMB_ARRAY_SIZE(events); i++)
		CHECK_STR(log.items[i].event, events[i]);
	if (log.count == PLUMB_ARRAY_SIZE(events)) {
		check_member(log.items[2].detail, "id", "1");
		check_member(log.items[2].detail, "note", "\"superseded by plan 2\"");
		CHECK_STR(log.items[2].actor, "plumbd@host");
		CHECK_STR(log.items[2].subject, "web");
		check_member(log.items[7].detail, "id", "2");
	}
	collected_release(&log);

done:
	plumb_store_free(store);
	free(state);
}

static void test_approval_list(void)
{
	char *state = state_path("approval-list");
	plumb_store *store = NULL;
	plumb_approval_records list = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;
	CHECK_INT(plumb_store_approval_list(&list, store, NULL, NULL, 0), 0);
	CHECK_INT(list.count, 0);

	const char *rows[][2] = { { "/d", "web" }, { "/d", "db" }, { "/e", "web" }, { "/d", "web" }, { "/e", "db" } };
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(rows); i++) {
		plumb_approval_record a = approval(rows[i][0], rows[i][1], "c");
		CHECK_INT(plumb_store_approval_add(store, &a), 0);
		CHECK_INT(a.id, (int64_t)i + 1);
	}

	/* Newest first, every state. */
	CHECK_INT(plumb_store_approval_list(&list, store, NULL, NULL, 0), 0);
	CHECK_INT(list.count, 5);
	for (size_t i = 0; i < list.count; i++)
		CHECK_INT(list.items[i].id, 5 - (int64_t)i);
	if (list.count == 5) {
		CHECK_INT(list.items[1].state, PLUMB_APPROVAL_PENDING);
		CHECK_INT(list.items[4].state, PLUMB_APPROVAL_SUPERSEDED);
		CHECK_STR(list.items[0].destination, "/e");
		CHECK_STR(list.items[0].application, "db");
	}
	plumb_approval_records_release(&list);

	CHECK_INT(plumb_store_approval_list(&list, store, "/d", NULL, 0), 0);
	CHECK_INT(list.count, 3);
	if (list.count == 3) {
		CHECK_INT(list.items[0].id, 4);
		CHECK_INT(list.items[1].id, 2);
		CHECK_INT(list.items[2].id, 1);
	}
	plumb_approval_records_release(&list);

	CHECK_INT(plumb_store_approval_list(&list, store, NULL, "web", 0), 0);
	CHECK_INT(list.count, 3);
	plumb_approval_records_release(&list);

	CHECK_INT(plumb_store_approval_list(&list, store, "/e", "web", 0), 0);
	CHECK_INT(list.count, 1);
	if (list.count == 1)
		CHECK_INT(list.items[0].id, 3);
	plumb_approval_records_release(&list);

	CHECK_INT(plumb_store_approval_list(&list, store, "/nowhere", NULL, 0), 0);
	CHECK_INT(list.count, 0);
	plumb_approval_records_release(&list);

	/* A limit keeps the newest; list appends to what out holds. */
	CHECK_INT(plumb_store_approval_list(&list, store, NULL, NULL, 2), 0);
	CHECK_INT(list.count, 2);
	CHECK_INT(plumb_store_approval_list(&list, store, "/d", "web", 1), 0);
	CHECK_INT(list.count, 3);
	if (list.count == 3) {
		CHECK_INT(list.items[0].id, 5);
		CHECK_INT(list.items[1].id, 4);
		CHECK_INT(list.items[2].id, 4);
	}
	plumb_approval_records_release(&list);

done:
	plumb_store_free(store);
	free(state);
}

static void test_approval_audit(void)
{
	char *state = state_path("approval-audit");
	plumb_store *store = NULL;
	collected log = { .count = 0 };
	plumb_approval_records list = { 0 };
	plumb_audit_verification verification = { 0 };

	CHECK_INT(plumb_store_open(&store, state), 0);
	if (!store)
		goto done;

	plumb_approval_record a = approval("/d", "web", "c1");
	CHECK_INT(plumb_store_approval_add(store, &a), 0);
	CHECK_INT(plumb_store_approval_decide(store, a.id, 1, "alice@laptop", "ticket 42"), 0);
	CHECK_INT(plumb_store_approval_finish(store, a.id, PLUMB_APPROVAL_APPLIED, "sync 7"), 0);
	plumb_approval_record b = approval("/d", "web", "c2");
	CHECK_INT(plumb_store_approval_add(store, &b), 0);
	CHECK_INT(plumb_store_approval_decide(store, b.id, 0, "bob@desk", NULL), 0);

	/* Rolled back with the caller's transaction: the plan and its entries both go. */
	CHECK_INT(plumb_store_begin(store), 0);
	plumb_approval_record gone = approval("/d", "web", "c3");
	CHECK_INT(plumb_store_approval_add(store, &gone), 0);
	CHECK_INT(plumb_store_approval_decide(store, gone.id, 1, "carol", NULL), 0);
	plumb_store_rollback(store);
	CHECK_INT(plumb_store_approval_list(&list, store, NULL, NULL, 0), 0);
	CHECK_INT(list.count, 2);
	plumb_approval_records_release(&list);

	/* A refused change writes nothing. */
	CHECK_INT(plumb_store_approval_decide(store, b.id, 1, "alice@laptop", NULL), PLUMB_ECONFLICT);

	CHECK_INT(plumb_store_audit_each(store, collect, &log), 0);
	CHECK_INT(log.count, 5);
	if (log.count == 5) {
		CHECK_STR(log.items[0].event, "approval.request");
		CHECK_STR(log.items[0].actor, "plumbd@host");
		CHECK_STR(log.items[0].subject, "web");
		CHECK_STR(log.items[0].detail, "{\"id\":1,\"commit\":\"c1\",\"summary\":\"Plan: 1 to create, 0 to update,"
					       " 0 to delete.\",\"requested_by\":\"plumbd@host\"}");
		CHECK_STR(log.items[1].event, "approval.approve");
		CHECK_STR(log.items[1].actor, "alice@laptop");
		CHECK_STR(log.items[1].detail, "{\"id\":1,\"actor\":\"alice@laptop\",\"note\":\"ticket 42\"}");
		CHECK_STR(log.items[2].event, "approval.applied");
		CHECK_STR(log.items[2].actor, "plumbd@host");
		CHECK_STR(log.items[2].detail, "{\"id\":1,\"note\":\"sync 7\"}");
		CHECK_STR(log.items[3].event, "approval.request");
		check_member(log.items[3].detail, "id", "2");
		CHECK_STR(log.items[4].event, "approval.reject");
		CHECK_STR(log.items[4].detail, "{\"id\":2,\"actor\":\"bob@desk\",\"note\":\"\"}");
	}
	/* The plan body is in the row, never in the log. */
	for (size_t i = 0; i < log.count; i++) {
		CHECK(strstr(log.items[i].detail, "PLAN-BODY-MARKER") == NULL);
		CHECK(strstr(log.items[i].detail, "plumb-plan") == NULL);
	}
	collected_release(&log);

	CHECK_INT(plumb_store_audit_verify(&verification, store), 0);
	CHECK_INT(verification.entries, 5);
	CHECK_INT(verification.first_bad_id, 0);
	CHECK_STR(verification.problem, "");
	plumb_audit_verification_release(&verification);

done:
	plumb_store_free(store);
	free(state);
}

/* Each result by its name, and one no plumb writes named as unknown rather than taken for another. */
static void test_sync_result_names(void)
{
	CHECK_STR(plumb_sync_result_name(PLUMB_SYNC_RUNNING), "running");
	CHECK_STR(plumb_sync_result_name(PLUMB_SYNC_SUCCEEDED), "succeeded");
	CHECK_STR(plumb_sync_result_name(PLUMB_SYNC_FAILED), "failed");
	CHECK_STR(plumb_sync_result_name((plumb_sync_result)42), "unknown");
}

int main(void)
{
	/* The usual umask, under which SQLite alone would create a world-readable database. */
	umask(022);
	if (!mkdtemp(temp_root)) {
		perror("mkdtemp");
		return 1;
	}

	RUN(test_sync_result_names);
	RUN(test_open_creates_private_directory_and_file);
	RUN(test_inventory_put_list_replace_delete);
	RUN(test_inventory_related);
	RUN(test_transactions);
	RUN(test_sync_log);
	RUN(test_newer_schema_is_refused);
	RUN(test_foreign_database_is_refused);
	RUN(test_garbage_file_is_refused);
	RUN(test_state_dir_that_is_a_file_is_refused);
	RUN(test_reader_does_not_wait_for_writer);
	RUN(test_v1_store_is_upgraded_in_place);
	RUN(test_failed_migration_step_is_rolled_back);
	RUN(test_reopening_a_current_store_changes_nothing);
	RUN(test_sync_get_and_list);
	RUN(test_action_log);
	RUN(test_drift_log);
	RUN(test_audit_chain);
	RUN(test_audit_entries_share_the_callers_transaction);
	RUN(test_audit_chain_across_connections);
	RUN(test_audit_list);
	RUN(test_audit_log_is_append_only);
	RUN(test_audit_verify_finds_tampering);
	RUN(test_v2_store_is_upgraded_in_place);
	RUN(test_approval_states);
	RUN(test_approval_add_supersedes);
	RUN(test_approval_list);
	RUN(test_approval_audit);

	nftw(temp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	TEST_EXIT();
}
