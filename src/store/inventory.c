/*
 * inventory.c - the inventory: one row per live object plumb manages, per
 * destination, read in one pass with its repeating strings shared.
 */
#include "util/common.h"
#include "util/strpool.h"
#include "store/store.h"
#include "store/internal.h"

#include <sqlite3.h>
#include <stdlib.h>

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
 * plumb_store_collect_rows: the strings belong to the inventory, not to
 * each row.
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

int plumb_store_inventory_list(plumb_inventory *out, plumb_store *store, const char *destination,
			       const char *application)
{
	static const char sql[] = INVENTORY_COLUMNS " WHERE (?1 IS NULL OR destination = ?1) AND (?2 IS NULL OR application = ?2)"
				  " ORDER BY destination, key";
	static const char what[] = "listing the inventory";
	sqlite3_stmt *stmt = NULL;
	int error;

	if ((error = plumb_store_prepare(&stmt, store, sql, what)) == 0 &&
	    (error = plumb_store_bind_filter(store, stmt, 1, destination, what)) == 0 &&
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
	    (error = plumb_store_bind_text(store, stmt, 1, low, what)) == 0 &&
	    (error = plumb_store_bind_text(store, stmt, 2, high, what)) == 0)
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
	    (error = plumb_store_bind_int64(store, stmt, 10, entry->updated_at ? entry->updated_at : plumb_store_now(),
					    what)) < 0)
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
