#include "util/common.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/strpool.h"
#include "util/utf8.h"
#include "store/store.h"
#include "store/internal.h"

#include <jansson.h>
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

/* The previous_hash of the first audit entry: there is no entry before it. */
static const char audit_genesis_hash[] = "0000000000000000000000000000000000000000000000000000000000000000";

static const char *const result_names[] = {
	[PLUMB_SYNC_RUNNING] = "running",
	[PLUMB_SYNC_SUCCEEDED] = "succeeded",
	[PLUMB_SYNC_FAILED] = "failed",
};

#define INVENTORY_COLUMNS                                                                                  \
	"SELECT destination, key, application, provider, kind, resource, created, fingerprint, commit_id,"  \
	" updated_at FROM inventory"
#define INVENTORY_COLUMN_COUNT 10

/*
 * The strings of the row read last, per column: a column that repeats
 * (most rows of an inventory share destination, application, kind, ...)
 * is then found without hashing it.
 */
typedef struct {
	const char *text[INVENTORY_COLUMN_COUNT];
	size_t len[INVENTORY_COLUMN_COUNT];
} inventory_memo;

/* A text column ("" for NULL) as the pool's copy; interned ones are shared with the rows before. */
static char *column_pooled(plumb_strpool *pool, inventory_memo *memo, sqlite3_stmt *stmt, int column, int intern)
{
	const char *text = (const char *)sqlite3_column_text(stmt, column);
	size_t len = text ? (size_t)sqlite3_column_bytes(stmt, column) : 0;
	if (!text)
		text = "";
	if (!intern)
		return plumb_strpool_add(pool, text, len);
	if (memo->text[column] && memo->len[column] == len && !memcmp(memo->text[column], text, len))
		return (char *)memo->text[column]; /* the pool's, shared */
	char *shared = plumb_strpool_intern(pool, text, len);
	memo->text[column] = shared;
	memo->len[column] = len;
	return shared;
}

/*
 * One row of INVENTORY_COLUMNS, its strings in pool: the key and the
 * fingerprint are the row's own, the other columns repeat from row to row
 * (one destination, a few applications, kinds and resources) and are shared.
 */
static void read_inventory_row(plumb_inventory_entry *entry, plumb_strpool *pool, inventory_memo *memo,
			       sqlite3_stmt *stmt)
{
	entry->destination = column_pooled(pool, memo, stmt, 0, 1);
	entry->key = column_pooled(pool, memo, stmt, 1, 0);
	entry->application = column_pooled(pool, memo, stmt, 2, 1);
	entry->provider = column_pooled(pool, memo, stmt, 3, 1);
	entry->kind = column_pooled(pool, memo, stmt, 4, 1);
	entry->resource = column_pooled(pool, memo, stmt, 5, 1);
	entry->created = sqlite3_column_int64(stmt, 6) != 0;
	entry->fingerprint = column_pooled(pool, memo, stmt, 7, 0);
	entry->commit = column_pooled(pool, memo, stmt, 8, 1);
	entry->updated_at = sqlite3_column_int64(stmt, 9);
}

/* Whether to keep a row just read into entry; it may point entry's strings at others in pool. */
typedef int (*inventory_filter)(plumb_inventory_entry *entry, plumb_strpool *pool, const void *payload);

/*
 * Append the rows stmt selects (INVENTORY_COLUMNS) that keep keeps (NULL:
 * every one) to out; on failure out holds the rows it held. Not through
 * plumb_store_collect_rows: the strings belong to the inventory, not to each row.
 */
static int read_inventory(plumb_inventory *out, plumb_store *store, sqlite3_stmt *stmt, const char *what,
			  inventory_filter keep, const void *payload)
{
	inventory_memo memo = { { NULL }, { 0 } };
	size_t first = out->count;
	int rc;

	if (!out->strings)
		out->strings = plumb_strpool_new();
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		PLUMB_GROW(out->items, out->count, out->capacity);
		plumb_inventory_entry *entry = &out->items[out->count];
		read_inventory_row(entry, out->strings, &memo, stmt);
		if (!keep || keep(entry, out->strings, payload))
			out->count++;
	}
	if (rc != SQLITE_DONE) {
		out->count = first;
		return plumb_store_sqlite_error(store, rc, what);
	}
	return 0;
}

int plumb_store_stat_cache_load(plumb_stat_cache *cache, plumb_store *store, const char *destination)
{
	static const char sql[] = "SELECT key, device, inode, size, mtime_ns, ctime_ns, mode, uid, gid, blob"
				  " FROM stat_cache WHERE destination = ?1";
	static const char what[] = "reading the stat cache";
	sqlite3_stmt *stmt = NULL;
	int error, rc;

	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 || (error = plumb_store_bind_text(store, stmt, 1, destination, what)) < 0)
		goto done;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		plumb_stat_entry entry;
		const unsigned char *key = sqlite3_column_text(stmt, 0);
		const unsigned char *blob = sqlite3_column_text(stmt, 9);
		if (!key || !blob || strlen((const char *)blob) != PLUMB_OID_HEXSZ)
			continue; /* not a row this code wrote: a cache may drop what it cannot read */
		entry.device = (uint64_t)sqlite3_column_int64(stmt, 1);
		entry.inode = (uint64_t)sqlite3_column_int64(stmt, 2);
		entry.size = (uint64_t)sqlite3_column_int64(stmt, 3);
		entry.mtime_ns = sqlite3_column_int64(stmt, 4);
		entry.ctime_ns = sqlite3_column_int64(stmt, 5);
		entry.mode = (uint32_t)sqlite3_column_int64(stmt, 6);
		entry.uid = (uint32_t)sqlite3_column_int64(stmt, 7);
		entry.gid = (uint32_t)sqlite3_column_int64(stmt, 8);
		memcpy(entry.blob, blob, sizeof(entry.blob));
		plumb_stat_cache_put(cache, (const char *)key, &entry);
	}
	if (rc != SQLITE_DONE)
		error = plumb_store_sqlite_error(store, rc, what);
done:
	sqlite3_finalize(stmt);
	return error;
}

struct stat_cache_save {
	plumb_store *store;
	const char *destination;
	sqlite3_stmt *put;
	sqlite3_stmt *drop;
};

static int save_stat_entry(const char *key, const plumb_stat_entry *entry, void *payload)
{
	static const char what[] = "writing the stat cache";
	struct stat_cache_save *save = payload;
	sqlite3_stmt *stmt = entry ? save->put : save->drop;
	int error;

	sqlite3_reset(stmt);
	if ((error = plumb_store_bind_text(save->store, stmt, 1, save->destination, what)) < 0 ||
	    (error = plumb_store_bind_text(save->store, stmt, 2, key, what)) < 0)
		return error;
	if (entry) {
		const int64_t values[] = { (int64_t)entry->device, (int64_t)entry->inode, (int64_t)entry->size,
					   entry->mtime_ns,	  entry->ctime_ns,	 entry->mode,
					   entry->uid,		  entry->gid };
		for (int i = 0; i < (int)PLUMB_ARRAY_SIZE(values); i++)
			if ((error = plumb_store_bind_int64(save->store, stmt, 3 + i, values[i], what)) < 0)
				return error;
		if ((error = plumb_store_bind_text(save->store, stmt, 11, entry->blob, what)) < 0)
			return error;
	}
	return plumb_store_step_done(save->store, stmt, what);
}

int plumb_store_stat_cache_save(plumb_store *store, const char *destination, plumb_stat_cache *cache)
{
	static const char what[] = "writing the stat cache";
	struct stat_cache_save save = { store, destination, NULL, NULL };
	int64_t total_before = sqlite3_total_changes64(store->db);
	int own, error;

	if ((error = plumb_store_write_begin(store, &own)) < 0)
		return error;
	if ((error = plumb_store_prepare(&save.put, store,
			     "INSERT OR REPLACE INTO stat_cache (destination, key, device, inode, size, mtime_ns,"
			     " ctime_ns, mode, uid, gid, blob) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
			     what)) == 0 &&
	    (error = plumb_store_prepare(&save.drop, store, "DELETE FROM stat_cache WHERE destination = ?1 AND key = ?2", what)) ==
		    0)
		error = plumb_stat_cache_each_changed(cache, save_stat_entry, &save);
	sqlite3_finalize(save.put);
	sqlite3_finalize(save.drop);
	/* A cache: what a power loss takes from it costs the next run some hashing. */
	plumb_store_defer_changes(store, total_before);
	return plumb_store_write_end(store, own, error);
}

int plumb_store_inventory_list(plumb_inventory *out, plumb_store *store, const char *destination,
			       const char *application)
{
	static const char sql[] = INVENTORY_COLUMNS " WHERE (?1 IS NULL OR destination = ?1) AND (?2 IS NULL OR application = ?2)"
				  " ORDER BY destination, key";
	static const char what[] = "listing the inventory";
	sqlite3_stmt *stmt = NULL;
	int error;

	if ((error = plumb_store_prepare(&stmt, store, sql, what)) == 0 && (error = plumb_store_bind_filter(store, stmt, 1, destination, what)) == 0 &&
	    /* Bound as NULL (not "") when absent: NULL means every application. */
	    (!application || (error = plumb_store_bind_text(store, stmt, 2, application, what)) == 0))
		error = read_inventory(out, store, stmt, what, NULL, NULL);
	sqlite3_finalize(stmt);
	return error;
}

/*
 * A row of a destination nested in (or around) destination (the payload),
 * with its key made relative to destination; rows outside it are dropped.
 */
static int relative_to(plumb_inventory_entry *e, plumb_strpool *pool, const void *payload)
{
	const char *destination = payload;

	if (!strcmp(e->destination, destination))
		return 1;
	size_t ours = strlen(destination), theirs = strlen(e->destination);
	if (theirs > ours && !strncmp(e->destination, destination, ours) &&
	    (e->destination[ours] == '/' || !strcmp(destination, "/"))) {
		/* Their root lies below ours: their key, seen from ours. */
		const char *below = e->destination + ours + (e->destination[ours] == '/');
		size_t n = strlen(below), k = strlen(e->key);
		char *key = plumb_strpool_alloc(pool, n + 1 + k + 1);
		memcpy(key, below, n);
		key[n] = '/';
		memcpy(key + n + 1, e->key, k + 1);
		e->key = key;
		return 1;
	}
	if (ours > theirs && !strncmp(destination, e->destination, theirs) &&
	    (destination[theirs] == '/' || !strcmp(e->destination, "/"))) {
		/* Our root lies below theirs: only what they manage inside ours. */
		const char *below = destination + theirs + (destination[theirs] == '/');
		size_t n = strlen(below);
		if (!strncmp(e->key, below, n) && e->key[n] == '/') {
			e->key += n + 1;
			return 1;
		}
	}
	return 0;
}

/* Append the rows of the destination that is the first len bytes of name, relative to destination. */
static int read_related(plumb_inventory *out, plumb_store *store, sqlite3_stmt *stmt, const char *name, size_t len,
			const char *destination, const char *what)
{
	int rc;
	sqlite3_reset(stmt);
	/* SQLITE_STATIC: the rows are read before name can go away. */
	if ((rc = sqlite3_bind_text(stmt, 1, name, (int)len, SQLITE_STATIC)) != SQLITE_OK)
		return plumb_store_sqlite_error(store, rc, what);
	return read_inventory(out, store, stmt, what, relative_to, destination);
}

int plumb_store_inventory_related(plumb_inventory *out, plumb_store *store, const char *destination)
{
	/*
	 * The roots above destination ("/" first), destination, then the roots
	 * below it (a key range): each read in the primary key's order, so that
	 * together they come by destination and key with nothing to sort.
	 */
	static const char one[] = INVENTORY_COLUMNS " WHERE destination = ?1 ORDER BY key";
	static const char below[] = INVENTORY_COLUMNS " WHERE destination > ?1 AND destination < ?2 ORDER BY destination, key";
	static const char what[] = "listing the inventory";
	sqlite3_stmt *stmt = NULL;
	size_t len = strlen(destination);
	int root = len == 1 && destination[0] == '/';
	char *low = root ? plumb_xstrdup("/") : plumb_xprintf("%s/", destination);
	char *high = root ? plumb_xstrdup("0") : plumb_xprintf("%s0", destination); /* '0' follows '/' */
	size_t first = out->count;
	int error;

	if ((error = plumb_store_prepare(&stmt, store, one, what)) < 0)
		goto done;
	/* "/", each ancestor below it ("/srv", "/srv/a" for "/srv/a/b"), destination itself. */
	error = read_related(out, store, stmt, "/", 1, destination, what);
	for (size_t i = 1; error == 0 && i < len; i++)
		if (destination[i] == '/')
			error = read_related(out, store, stmt, destination, i, destination, what);
	if (error == 0 && !root)
		error = read_related(out, store, stmt, destination, len, destination, what);
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (error == 0 && (error = plumb_store_prepare(&stmt, store, below, what)) == 0 &&
	    (error = plumb_store_bind_text(store, stmt, 1, low, what)) == 0 && (error = plumb_store_bind_text(store, stmt, 2, high, what)) == 0)
		error = read_inventory(out, store, stmt, what, relative_to, destination);
done:
	if (error < 0)
		out->count = first;
	sqlite3_finalize(stmt);
	free(low);
	free(high);
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

	if ((error = plumb_store_prepare_kept(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 1, entry->destination, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 2, entry->key, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 3, entry->application, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 4, entry->provider, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 5, entry->kind, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 6, entry->resource, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 7, entry->created != 0, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 8, entry->fingerprint, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 9, entry->commit, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 10, entry->updated_at ? entry->updated_at : plumb_store_now(), what)) < 0)
		goto done;
	error = plumb_store_step_done(store, stmt, what);

done:
	plumb_store_statement_done(store, stmt);
	return error;
}

int plumb_store_inventory_delete(plumb_store *store, const char *destination, const char *key)
{
	static const char sql[] = "DELETE FROM inventory WHERE destination = ?1 AND key = ?2";
	static const char what[] = "deleting an inventory entry";
	sqlite3_stmt *stmt = NULL;
	int error;

	if ((error = plumb_store_prepare_kept(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 1, destination, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 2, key, what)) < 0)
		goto done;
	error = plumb_store_step_done(store, stmt, what);

done:
	plumb_store_statement_done(store, stmt);
	return error;
}

void plumb_inventory_release(plumb_inventory *inventory)
{
	free(inventory->items);
	plumb_strpool_free(inventory->strings);
	memset(inventory, 0, sizeof(*inventory));
}

/*
 * s (NULL: "") as valid UTF-8, a new string: each byte that starts no valid
 * sequence becomes U+FFFD, and with no_controls so does each control
 * character. JSON holds only UTF-8, and the audit log's hash form needs
 * actor, event and subject free of line breaks (see audit_hash). Object
 * paths are the only such text from outside, and one with a stray byte or a
 * line break in its name is still recorded exactly in the action and drift
 * logs.
 */
static char *clean_text(const char *s, int no_controls)
{
	plumb_buf buf = PLUMB_BUF_INIT;

	s = s ? s : "";
	plumb_utf8_repair(&buf, s, strlen(s));
	if (no_controls) {
		plumb_buf clean = PLUMB_BUF_INIT;
		for (size_t i = 0; i < buf.len; i++) {
			unsigned char c = (unsigned char)buf.ptr[i];
			if (c < 0x20 || c == 0x7f)
				plumb_buf_puts(&clean, "\xef\xbf\xbd");
			else
				plumb_buf_putc(&clean, (char)c);
		}
		plumb_buf_release(&buf);
		buf = clean;
	}
	return plumb_buf_detach(&buf, NULL);
}

static void detail_text(json_t *detail, const char *key, const char *value)
{
	char *clean = clean_text(value, 0);
	json_object_set_new(detail, key, json_string(clean));
	free(clean);
}

static void detail_int(json_t *detail, const char *key, int64_t value)
{
	json_object_set_new(detail, key, json_integer((json_int_t)value));
}

/* detail as the compact JSON an audit entry holds, a new string; detail is released. */
static char *detail_dump(json_t *detail)
{
	char *dumped = json_dumps(detail, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(detail);
	if (!dumped) {
		fputs("plumb: out of memory writing JSON\n", stderr);
		abort();
	}
	/* Ours to free with free(), not jansson's. */
	char *text = plumb_xstrdup(dumped);
	free(dumped);
	return text;
}

/*
 * The hash of an audit entry: the hex SHA-256 of the text
 *
 *     previous_hash "\n" id "\n" at "\n" actor "\n" event "\n" subject "\n" detail
 *
 * id and at (unix seconds) in decimal, previous_hash the entry before's
 * hash (64 lowercase hex digits; 64 zeros for entry 1), detail the compact
 * JSON as stored, no newline at the end. No field holds a line break:
 * actor, event and subject are cleaned of control characters on append and
 * compact JSON escapes them. So the text holds exactly six, and splits back
 * into its fields one way only: moving bytes from one field into the next
 * changes the hash too.
 */
static void audit_hash(char out[65], const char *previous_hash, int64_t id, int64_t at, const char *actor,
		       const char *event, const char *subject, const char *detail)
{
	char *text = plumb_xprintf("%s\n%lld\n%lld\n%s\n%s\n%s\n%s", previous_hash, (long long)id, (long long)at,
				   actor, event, subject, detail);
	plumb_hash_sha256_hex(out, text, strlen(text));
	free(text);
}

/*
 * Append an audit entry, detail already compact JSON, inside a write the
 * caller has begun (plumb_store_write_begin): the last id and hash are read under its
 * write lock, so that two plumbs never give out one id twice.
 */
static int append_audit(plumb_store *store, const char *actor, const char *event, const char *subject,
			const char *detail)
{
	static const char last_sql[] = "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1";
	static const char insert_sql[] = "INSERT INTO audit (id, at, actor, event, subject, detail, previous_hash, hash)"
					 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
	static const char what[] = "appending to the audit log";
	sqlite3_stmt *stmt = NULL;
	char *clean_actor = clean_text(actor, 1), *clean_event = clean_text(event, 1);
	char *clean_subject = clean_text(subject, 1);
	char *previous_hash = NULL;
	char hash[65];
	int64_t id = 1, at = plumb_store_now();
	int error;
	int rc;

	if ((error = plumb_store_prepare_kept(&stmt, store, last_sql, what)) < 0)
		goto done;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(stmt, 0) + 1;
		previous_hash = plumb_store_column_string(stmt, 1);
	} else if (rc == SQLITE_DONE) {
		previous_hash = plumb_xstrdup(audit_genesis_hash);
	} else {
		error = plumb_store_sqlite_error(store, rc, what);
		goto done;
	}
	plumb_store_statement_done(store, stmt);
	stmt = NULL;

	audit_hash(hash, previous_hash, id, at, clean_actor, clean_event, clean_subject, detail);
	if ((error = plumb_store_prepare_kept(&stmt, store, insert_sql, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 1, id, what)) < 0 || (error = plumb_store_bind_int64(store, stmt, 2, at, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 3, clean_actor, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 4, clean_event, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 5, clean_subject, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 6, detail, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 7, previous_hash, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 8, hash, what)) < 0)
		goto done;
	error = plumb_store_step_done(store, stmt, what);

done:
	plumb_store_statement_done(store, stmt);
	free(previous_hash);
	free(clean_subject);
	free(clean_event);
	free(clean_actor);
	return error;
}

int plumb_store_audit_append(plumb_store *store, const char *actor, const char *event, const char *subject,
			     const char *detail)
{
	json_error_t json_error;
	json_t *parsed = NULL;
	int own = 0;
	int error;

	if (!event || !*event)
		return plumb_error_set(PLUMB_EINVALID, "%s: an audit entry needs an event", store->path);
	/* Stored as compact JSON whatever the caller's layout, so that it holds no line break (see audit_hash). */
	parsed = json_loads(detail ? detail : "{}", JSON_REJECT_DUPLICATES, &json_error);
	if (!parsed || !json_is_object(parsed)) {
		error = plumb_error_set(PLUMB_EINVALID, "%s: the detail of audit event %s is not a JSON object%s%s",
					store->path, event, parsed ? "" : ": ", parsed ? "" : json_error.text);
		json_decref(parsed);
		return error;
	}
	char *compact = detail_dump(parsed);

	if ((error = plumb_store_write_begin(store, &own)) < 0)
		goto done;
	error = append_audit(store, actor, event, subject, compact);
	error = plumb_store_write_end(store, own, error);

done:
	free(compact);
	return error;
}

#define SYNC_COLUMNS                                                                                           \
	"id, operation, trigger, actor, application, destination, repo, revision, commit_id, path, started_at," \
	" finished_at, result, created, updated, deleted, error"

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

/* Fill out (which the caller has not filled) from a row of SYNC_COLUMNS. */
static int read_sync(plumb_sync_record *out, plumb_store *store, sqlite3_stmt *stmt)
{
	char *result = plumb_store_column_string(stmt, 12);
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (parse_result(&out->result, result) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "%s: sync %lld has an unknown result '%s'", store->path,
					(long long)sqlite3_column_int64(stmt, 0), result);
		free(result);
		return error;
	}
	free(result);
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
	    (error = plumb_store_bind_int64(store, stmt, 10, started_at, what)) < 0 || (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;
	id = sqlite3_last_insert_rowid(store->db);

	json_t *fields = json_object();
	detail_int(fields, "id", id);
	detail_text(fields, "operation", record->operation);
	detail_text(fields, "trigger", record->trigger);
	detail_text(fields, "actor", record->actor);
	detail_text(fields, "application", record->application);
	detail_text(fields, "destination", record->destination);
	detail_text(fields, "repo", record->repo);
	detail_text(fields, "revision", record->revision);
	detail_text(fields, "commit", record->commit);
	detail_text(fields, "path", record->path);
	detail_int(fields, "started_at", started_at);
	detail = detail_dump(fields);
	error = append_audit(store, record->actor, "sync.begin", record->application, detail);

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

/* The application and actor of sync id, for the audit entries of what follows it. */
static int read_sync_owner(char **application, char **actor, plumb_store *store, int64_t id, const char *what)
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
	detail_int(fields, "id", record->id);
	detail_text(fields, "result", result_names[record->result]);
	detail_int(fields, "created", record->created);
	detail_int(fields, "updated", record->updated);
	detail_int(fields, "deleted", record->deleted);
	detail_text(fields, "error", record->error);
	detail_int(fields, "finished_at", finished_at);
	detail = detail_dump(fields);

	if ((error = plumb_store_write_begin(store, &own)) < 0) {
		free(detail);
		return error;
	}
	/* The sync's own row names who ran it and for which application: the caller may have only the id. */
	if ((error = read_sync_owner(&application, &actor, store, record->id, what)) < 0) {
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
	    (error = plumb_store_bind_int64(store, stmt, 7, record->id, what)) < 0 || (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;
	error = append_audit(store, actor, "sync.finish", application, detail);

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
	static const char sql[] = "SELECT " SYNC_COLUMNS " FROM syncs"
				  " WHERE (?1 IS NULL OR destination = ?1) AND (?2 IS NULL OR application = ?2)"
				  " ORDER BY id DESC LIMIT ?3";
	/* Through a void pointer of its own: a plumb_X_record ** is not a void **. */
	void *items = out->items;
	int error = plumb_store_list_rows(&items, &out->count, &out->capacity, sizeof(*out->items), store, sql,
			 "listing the syncs", destination, application, limit, read_sync_row, release_sync_row);
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

static int parse_outcome(plumb_outcome *out, const char *name)
{
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(outcome_names); i++) {
		if (strcmp(name, outcome_names[i]) == 0) {
			*out = (plumb_outcome)i;
			return 0;
		}
	}
	return -1;
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
	if ((error = read_sync_owner(&application, &actor, store, record->sync_id, what)) < 0 ||
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
	    (error = plumb_store_bind_int64(store, stmt, 11, at, what)) < 0 || (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;
	id = sqlite3_last_insert_rowid(store->db);

	json_t *fields = json_object();
	detail_int(fields, "id", id);
	detail_int(fields, "sync_id", record->sync_id);
	detail_text(fields, "key", record->key);
	detail_text(fields, "kind", record->kind);
	detail_text(fields, "resource", record->resource);
	detail_text(fields, "action", record->action);
	detail_text(fields, "reason", record->reason);
	detail_text(fields, "before", record->before);
	detail_text(fields, "after", record->after);
	detail_text(fields, "outcome", outcome_names[record->outcome]);
	detail_text(fields, "error", record->error);
	detail_int(fields, "at", at);
	detail = detail_dump(fields);
	/* Done on behalf of whoever ran the sync. */
	error = append_audit(store, actor, "action", record->key, detail);

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

	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 || (error = plumb_store_bind_int64(store, stmt, 1, sync_id, what)) < 0)
		goto done;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		plumb_outcome outcome;
		char *name = plumb_store_column_string(stmt, 9);
		if (parse_outcome(&outcome, name) < 0) {
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
		record->outcome = outcome;
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
	if (record->sync_id && (error = read_sync_owner(&application, &actor, store, record->sync_id, what)) < 0)
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
	    (error = plumb_store_bind_int64(store, stmt, 13, at, what)) < 0 || (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;
	id = sqlite3_last_insert_rowid(store->db);

	json_t *fields = json_object();
	detail_int(fields, "id", id);
	detail_int(fields, "sync_id", record->sync_id);
	detail_text(fields, "destination", record->destination);
	detail_text(fields, "application", record->application);
	detail_text(fields, "key", record->key);
	detail_text(fields, "kind", record->kind);
	detail_text(fields, "commit", record->commit);
	detail_text(fields, "expected", record->expected);
	detail_text(fields, "observed", record->observed);
	detail_text(fields, "capture", record->capture);
	detail_int(fields, "capture_size", record->capture_size);
	json_object_set_new(fields, "sensitive", json_boolean(record->sensitive));
	detail_text(fields, "note", record->note);
	detail_int(fields, "at", at);
	detail = detail_dump(fields);
	error = append_audit(store, actor, "drift", record->key, detail);

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
	static const char what[] = "reading a drift event";
	sqlite3_stmt *stmt = NULL;
	int error;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((error = plumb_store_prepare(&stmt, store, "SELECT " DRIFT_COLUMNS " FROM drift WHERE id = ?1", what)) < 0 ||
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
	static const char sql[] = "SELECT " DRIFT_COLUMNS " FROM drift"
				  " WHERE (?1 IS NULL OR destination = ?1) AND (?2 IS NULL OR application = ?2)"
				  " ORDER BY id DESC LIMIT ?3";
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

static int parse_approval_state(plumb_approval_state *out, const char *name)
{
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(approval_state_names); i++) {
		if (strcmp(name, approval_state_names[i]) == 0) {
			*out = (plumb_approval_state)i;
			return 0;
		}
	}
	return -1;
}

#define APPROVAL_COLUMNS                                                                                \
	"id, destination, application, commit_id, plan, summary, state, requested_by, decided_by, note," \
	" created_at, decided_at"

/* Fill out (which the caller has not filled) from a row of APPROVAL_COLUMNS. */
static int read_approval(plumb_approval_record *out, plumb_store *store, sqlite3_stmt *stmt)
{
	char *state = plumb_store_column_string(stmt, 6);
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (parse_approval_state(&out->state, state) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "%s: approval %lld has an unknown state '%s'", store->path,
					(long long)sqlite3_column_int64(stmt, 0), state);
		free(state);
		return error;
	}
	free(state);
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
	sqlite3_stmt *stmt = NULL;
	char *name = NULL;
	int error;
	int rc;

	*application = *requested_by = NULL;
	if ((error = plumb_store_prepare(&stmt, store, "SELECT state, application, requested_by FROM approvals WHERE id = ?1",
			     what)) < 0 ||
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
	if (parse_approval_state(state, name) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "%s: approval %lld has an unknown state '%s'", store->path,
					(long long)id, name);
		goto done;
	}
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
	    (error = plumb_store_bind_int64(store, stmt, 3, plumb_store_now(), what)) < 0 || (error = plumb_store_bind_int64(store, stmt, 4, id, what)) < 0 ||
	    (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;

	json_t *fields = json_object();
	detail_int(fields, "id", id);
	detail_text(fields, "note", note);
	detail = detail_dump(fields);
	error = append_audit(store, actor ? actor : requested_by,
			     state == PLUMB_APPROVAL_APPLIED ? "approval.applied" : "approval.superseded", application,
			     detail);

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
	    (error = plumb_store_bind_int64(store, stmt, 7, created_at, what)) < 0 || (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;
	id = sqlite3_last_insert_rowid(store->db);

	/* The plan body stays out of the log: it is in the row, which the id names. */
	json_t *fields = json_object();
	detail_int(fields, "id", id);
	detail_text(fields, "commit", record->commit);
	detail_text(fields, "summary", record->summary);
	detail_text(fields, "requested_by", record->requested_by);
	detail = detail_dump(fields);
	if ((error = append_audit(store, record->requested_by, "approval.request", record->application, detail)) < 0)
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
	detail_int(fields, "id", id);
	detail_text(fields, "actor", actor);
	detail_text(fields, "note", note);
	detail = detail_dump(fields);

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
	    (error = plumb_store_bind_text(store, stmt, 2, actor, what)) < 0 || (error = plumb_store_bind_text(store, stmt, 3, note, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 4, plumb_store_now(), what)) < 0 || (error = plumb_store_bind_int64(store, stmt, 5, id, what)) < 0 ||
	    (error = plumb_store_step_done(store, stmt, what)) < 0)
		goto done;
	error = append_audit(store, actor, approve ? "approval.approve" : "approval.reject", application, detail);

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
	static const char what[] = "reading a plan awaiting approval";
	sqlite3_stmt *stmt = NULL;
	int error;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((error = plumb_store_prepare(&stmt, store, "SELECT " APPROVAL_COLUMNS " FROM approvals WHERE id = ?1", what)) < 0 ||
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
	static const char sql[] = "SELECT " APPROVAL_COLUMNS " FROM approvals"
				  " WHERE (?1 IS NULL OR destination = ?1) AND (?2 IS NULL OR application = ?2)"
				  " ORDER BY id DESC LIMIT ?3";
	/* Through a void pointer of its own: a plumb_X_record ** is not a void **. */
	void *items = out->items;
	int error = plumb_store_list_rows(&items, &out->count, &out->capacity, sizeof(*out->items), store, sql,
			 "listing the plans awaiting approval", destination, application, limit, read_approval_row,
			 release_approval_row);
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

static void audit_entry_release(plumb_audit_entry *entry)
{
	free(entry->actor);
	free(entry->event);
	free(entry->subject);
	free(entry->detail);
	free(entry->previous_hash);
	free(entry->hash);
	memset(entry, 0, sizeof(*entry));
}

#define AUDIT_COLUMNS "id, at, actor, event, subject, detail, previous_hash, hash"

/* Fill out from a row of AUDIT_COLUMNS. */
static void read_audit(plumb_audit_entry *out, sqlite3_stmt *stmt)
{
	out->id = sqlite3_column_int64(stmt, 0);
	out->at = sqlite3_column_int64(stmt, 1);
	out->actor = plumb_store_column_string(stmt, 2);
	out->event = plumb_store_column_string(stmt, 3);
	out->subject = plumb_store_column_string(stmt, 4);
	out->detail = plumb_store_column_string(stmt, 5);
	out->previous_hash = plumb_store_column_string(stmt, 6);
	out->hash = plumb_store_column_string(stmt, 7);
}

static int read_audit_row(void *item, plumb_store *store, sqlite3_stmt *stmt)
{
	read_audit(item, stmt);
	return 0;
}

static void release_audit_row(void *item)
{
	audit_entry_release(item);
}

int plumb_store_audit_list(plumb_audit_entries *out, plumb_store *store, int64_t before, unsigned limit)
{
	static const char what[] = "listing the audit log";
	sqlite3_stmt *stmt = NULL;
	void *items = out->items;
	int error;

	/* A range of the primary key, read from its end: a page costs the same however long the log is. */
	if ((error = plumb_store_prepare(&stmt, store, "SELECT " AUDIT_COLUMNS " FROM audit WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
			     what)) == 0 &&
	    (error = plumb_store_bind_int64(store, stmt, 1, before > 0 ? before : INT64_MAX, what)) == 0 &&
	    (error = plumb_store_bind_int64(store, stmt, 2, plumb_store_sql_limit(limit), what)) == 0)
		error = plumb_store_collect_rows(&items, &out->count, &out->capacity, sizeof(*out->items), store, stmt, what,
				     read_audit_row, release_audit_row);
	out->items = items;
	sqlite3_finalize(stmt);
	return error;
}

void plumb_audit_entries_release(plumb_audit_entries *entries)
{
	for (size_t i = 0; i < entries->count; i++)
		audit_entry_release(&entries->items[i]);
	free(entries->items);
	memset(entries, 0, sizeof(*entries));
}

int plumb_store_audit_each(plumb_store *store, plumb_audit_cb cb, void *payload)
{
	static const char what[] = "reading the audit log";
	sqlite3_stmt *stmt = NULL;
	int error;
	int rc;

	/* One statement reads one snapshot: an entry appended meanwhile is not half-seen. */
	if ((error = plumb_store_prepare(&stmt, store, "SELECT " AUDIT_COLUMNS " FROM audit ORDER BY id", what)) < 0)
		return error;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		plumb_audit_entry entry;
		read_audit(&entry, stmt);
		error = cb(&entry, payload);
		audit_entry_release(&entry);
		if (error)
			break;
	}
	if (!error && rc != SQLITE_DONE)
		error = plumb_store_sqlite_error(store, rc, what);
	sqlite3_finalize(stmt);
	return error;
}

typedef struct {
	plumb_audit_verification *out;
	int64_t previous_id;
	char *previous_hash;
} audit_walk;

/* What is wrong with entry, coming after walk's previous entry: a new string, or NULL when nothing is. */
static char *audit_problem(int64_t *bad_id, const plumb_audit_entry *entry, const audit_walk *walk)
{
	long long id = entry->id, previous = walk->previous_id;
	char hash[65];

	*bad_id = entry->id;
	if (entry->id < 1)
		return plumb_xprintf("entry %lld has an id below 1, where the chain starts", id);
	if (entry->id != walk->previous_id + 1) {
		/* The first id missing is where the chain broke. */
		*bad_id = walk->previous_id + 1;
		if (previous == 0 && id == 2)
			return plumb_xprintf("entry 1 is missing: the chain starts at entry 2");
		if (previous == 0)
			return plumb_xprintf("entries 1 to %lld are missing: the chain starts at entry %lld", id - 1,
					     id);
		if (id == previous + 2)
			return plumb_xprintf("entry %lld is missing: the chain jumps from %lld to %lld", previous + 1,
					     previous, id);
		return plumb_xprintf("entries %lld to %lld are missing: the chain jumps from %lld to %lld",
				     previous + 1, id - 1, previous, id);
	}
	if (strcmp(entry->previous_hash, walk->previous_hash) != 0)
		return previous == 0 ?
			       plumb_xprintf("entry 1's previous_hash is not the 64 zeros that start the chain") :
			       plumb_xprintf("entry %lld's previous_hash is not the hash of entry %lld: one of the two "
					     "was changed after it was written",
					     id, previous);
	audit_hash(hash, entry->previous_hash, entry->id, entry->at, entry->actor, entry->event, entry->subject,
		   entry->detail);
	if (strcmp(hash, entry->hash) != 0)
		return plumb_xprintf("entry %lld's hash does not match its fields: it was changed after it was written",
				     id);
	return NULL;
}

static int audit_verify_entry(const plumb_audit_entry *entry, void *payload)
{
	audit_walk *walk = payload;

	/* Every entry is counted; only the first problem is reported, since the rest follow from it. */
	walk->out->entries++;
	if (walk->out->first_bad_id)
		return 0;
	char *problem = audit_problem(&walk->out->first_bad_id, entry, walk);
	if (problem) {
		free(walk->out->problem);
		walk->out->problem = problem;
		return 0;
	}
	walk->out->first_bad_id = 0;
	walk->previous_id = entry->id;
	free(walk->previous_hash);
	walk->previous_hash = plumb_xstrdup(entry->hash);
	return 0;
}

int plumb_store_audit_verify(plumb_audit_verification *out, plumb_store *store)
{
	audit_walk walk = { .out = out, .previous_id = 0, .previous_hash = plumb_xstrdup(audit_genesis_hash) };
	int error;

	memset(out, 0, sizeof(*out));
	out->problem = plumb_xstrdup("");
	error = plumb_store_audit_each(store, audit_verify_entry, &walk);
	free(walk.previous_hash);
	if (error < 0) {
		plumb_audit_verification_release(out);
		return error;
	}
	return 0;
}

void plumb_audit_verification_release(plumb_audit_verification *verification)
{
	free(verification->problem);
	memset(verification, 0, sizeof(*verification));
}

const char *plumb_sync_result_name(plumb_sync_result result)
{
	switch (result) {
	case PLUMB_SYNC_SUCCEEDED:
		return "succeeded";
	case PLUMB_SYNC_FAILED:
		return "failed";
	default:
		return "running";
	}
}
