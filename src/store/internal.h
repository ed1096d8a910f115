/*
 * internal.h - what the store's files share: the connection (struct
 * plumb_store), SQLite's errors turned into ours, statements and the ones
 * kept prepared, writes of several rows that stand or fall together, what
 * is made durable when, and the collector that reads rows into a caller's
 * array. store.c implements it; nothing outside src/store/ includes it.
 *
 * An argument what names, for error messages, what was being done
 * ("listing the inventory"). Every function here that returns an int
 * returns 0 or one of our negative codes, with the message set
 * (util/error.h).
 */
#ifndef PLUMB_STORE_INTERNAL_H
#define PLUMB_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>

#include "store/store.h"

/* At most this many statements are kept prepared (plumb_store_prepare_kept); there are fewer than that. */
#define KEPT_STATEMENTS 16

struct plumb_store {
	sqlite3 *db;
	char *path; /* STATE/plumb.db, for messages */
	/*
	 * plumb_store_begin was called and neither commit nor rollback since.
	 * SQLite may end a transaction on its own after some errors (a full
	 * disk); a write then finds this set while SQLite is back in autocommit
	 * mode, and refuses rather than write outside the caller's transaction.
	 */
	int transaction_open;
	/*
	 * Rows written since the WAL was last made durable
	 * (plumb_store_make_durable): sqlite3_total_changes64 at that moment,
	 * and how many rows since were written by deferred writes, which need
	 * not reach the disk at once.
	 */
	int64_t changes_durable;
	int64_t changes_deferred;
	/* Statements prepared once and run many times (plumb_store_prepare_kept), finalized by plumb_store_free. */
	struct {
		const char *sql;
		sqlite3_stmt *stmt;
	} kept[KEPT_STATEMENTS];
	size_t kept_count;
};

/*
 * Turn the SQLite error rc into ours (BUSY and LOCKED: PLUMB_ELOCKED, a
 * constraint: PLUMB_ECONFLICT, the rest PLUMB_ERROR), with a message naming
 * the file and what was being done; returns our code. Call it right after
 * the failing call: that is the only moment sqlite3_errmsg describes this
 * failure.
 */
int plumb_store_sqlite_error(plumb_store *store, int rc, const char *what);

/* Prepare sql into *out, which the caller finalizes. */
int plumb_store_prepare(sqlite3_stmt **out, plumb_store *store, const char *sql, const char *what);

/*
 * Prepare a statement that runs once an action or an object (thousands of
 * times a sync) only once a connection, and keep it: parsing the SQL costs
 * more than running it. sql is a static string, known by its address.
 * The statement comes back reset, with nothing bound; the caller runs it
 * to its end before it asks for the same one again, and hands it back
 * with plumb_store_statement_done, never sqlite3_finalize.
 */
int plumb_store_prepare_kept(sqlite3_stmt **out, plumb_store *store, const char *sql, const char *what);

/*
 * Done with stmt (NULL is fine): a kept statement is reset and unbound,
 * which also lets go of what its bound strings point to; any other is
 * finalized.
 */
void plumb_store_statement_done(plumb_store *store, sqlite3_stmt *stmt);

/*
 * Bind a string, not copied: the caller steps the statement before value
 * can go away. NULL is stored as "" so that readers need not tell the two
 * apart.
 */
int plumb_store_bind_text(plumb_store *store, sqlite3_stmt *stmt, int index, const char *value, const char *what);

int plumb_store_bind_int64(plumb_store *store, sqlite3_stmt *stmt, int index, int64_t value, const char *what);

/* Bind an optional filter: NULL (not "") when absent, which the query reads as "any". */
int plumb_store_bind_filter(plumb_store *store, sqlite3_stmt *stmt, int index, const char *value, const char *what);

/* Run a statement that returns no rows. */
int plumb_store_step_done(plumb_store *store, sqlite3_stmt *stmt, const char *what);

/* Run SQL that has no values in it (pragmas, transaction control, the schema). */
int plumb_store_exec(plumb_store *store, const char *sql, const char *what);

/*
 * The index of name among the count names (an enum's names, indexed by its
 * values), or -1 when it is none of them: an enum stored by name, read back.
 */
int plumb_store_name_index(const char *const *names, size_t count, const char *name);

/* A text column as a new string, the caller's to free; NULL reads as "". */
char *plumb_store_column_string(sqlite3_stmt *stmt, int column);

/* The time a record gets when the caller gives none: unix seconds. */
int64_t plumb_store_now(void);

/*
 * Writes of several rows that stand or fall together (a sync and its audit
 * entry) go between plumb_store_write_begin and plumb_store_write_end.
 * Inside the caller's transaction they take a savepoint, so that a failure
 * takes back only their own rows and leaves the caller's transaction as it
 * was; otherwise they run in a transaction of their own (*own set),
 * committed by plumb_store_write_end.
 */
int plumb_store_write_begin(plumb_store *store, int *own);

/* Keep the writes when error is 0 and return 0, or take them back and return error (or the commit's). */
int plumb_store_write_end(plumb_store *store, int own, int error);

/*
 * Make what was committed so far survive a power loss by syncing the WAL
 * (a commit does not: synchronous = NORMAL), unless every row written since
 * the last time came from deferred writes (plumb_store_defer_changes).
 * PLUMB_ERROR when the WAL cannot be synced.
 */
int plumb_store_make_durable(plumb_store *store);

/*
 * Count the rows written since total_before (sqlite3_total_changes64 then)
 * as deferred: rows a power loss may take (the stat cache, the record of a
 * sync that changed nothing), left for the next sync or checkpoint to carry
 * to the disk.
 */
void plumb_store_defer_changes(plumb_store *store, int64_t total_before);

/* Read the row stmt is at into item (which the caller has not filled). */
typedef int (*plumb_store_row_reader)(void *item, plumb_store *store, sqlite3_stmt *stmt);
/* Release what a reader put into item. */
typedef void (*plumb_store_row_release)(void *item);

/*
 * Append the rows stmt (prepared and bound) yields to a caller's array of
 * item_size records (*items, *count, *capacity), each read with read; on
 * failure the array is as it was given, what was appended released with
 * release.
 */
int plumb_store_collect_rows(void **items, size_t *count, size_t *capacity, size_t item_size, plumb_store *store,
			     sqlite3_stmt *stmt, const char *what, plumb_store_row_reader read,
			     plumb_store_row_release release);

/*
 * How the queries of plumb_store_list_rows end: the rows of destination ?1
 * and application ?2 (NULL: any), newest first, at most ?3.
 */
#define PLUMB_STORE_NEWEST_MATCHING \
	" WHERE (?1 IS NULL OR destination = ?1) AND (?2 IS NULL OR application = ?2) ORDER BY id DESC LIMIT ?3"

/*
 * Append with plumb_store_collect_rows the rows that sql ("SELECT ... FROM
 * table" PLUMB_STORE_NEWEST_MATCHING) selects: those of destination and
 * application (NULL: any), newest first, at most limit (0: all).
 */
int plumb_store_list_rows(void **items, size_t *count, size_t *capacity, size_t item_size, plumb_store *store,
			  const char *sql, const char *what, const char *destination, const char *application,
			  unsigned limit, plumb_store_row_reader read, plumb_store_row_release release);

/* limit (0: all) as a LIMIT to bind: SQLite reads a negative LIMIT as no limit. */
int64_t plumb_store_sql_limit(unsigned limit);

#endif
