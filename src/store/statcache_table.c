/*
 * statcache_table.c - the stat cache (statcache.h) kept between runs: one
 * row per destination and key, loaded whole and saved as what changed.
 */
#include "util/common.h"
#include "store/store.h"
#include "store/statcache.h"
#include "store/internal.h"

#include <sqlite3.h>
#include <stdlib.h>

int plumb_store_stat_cache_load(plumb_stat_cache *cache, plumb_store *store, const char *destination)
{
	static const char sql[] = "SELECT key, device, inode, size, mtime_ns, ctime_ns, mode, uid, gid, blob"
				  " FROM stat_cache WHERE destination = ?1";
	static const char what[] = "reading the stat cache";
	sqlite3_stmt *stmt = NULL;
	int error, rc;

	if ((error = plumb_store_prepare(&stmt, store, sql, what)) < 0 ||
	    (error = plumb_store_bind_text(store, stmt, 1, destination, what)) < 0)
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
	static const char put_sql[] = "INSERT OR REPLACE INTO stat_cache (destination, key, device, inode, size,"
				      " mtime_ns, ctime_ns, mode, uid, gid, blob)"
				      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
	static const char drop_sql[] = "DELETE FROM stat_cache WHERE destination = ?1 AND key = ?2";
	static const char what[] = "writing the stat cache";
	struct stat_cache_save save = { store, destination, NULL, NULL };
	int64_t total_before = sqlite3_total_changes64(store->db);
	int own, error;

	if ((error = plumb_store_write_begin(store, &own)) < 0)
		return error;
	if ((error = plumb_store_prepare(&save.put, store, put_sql, what)) == 0 &&
	    (error = plumb_store_prepare(&save.drop, store, drop_sql, what)) == 0)
		error = plumb_stat_cache_each_changed(cache, save_stat_entry, &save);
	sqlite3_finalize(save.put);
	sqlite3_finalize(save.drop);
	/* A cache: what a power loss takes from it costs the next run some hashing. */
	plumb_store_defer_changes(store, total_before);
	return plumb_store_write_end(store, own, error);
}
