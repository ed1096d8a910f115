/*
 * audit.c - the audit log: a hash chain that only grows. Appending an entry
 * (for every other write of the store, through audit_internal.h), reading
 * the log a page at a time or whole, and verifying the chain.
 */
#include "util/common.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/utf8.h"
#include "store/store.h"
#include "store/internal.h"
#include "store/audit_internal.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>

/* The previous_hash of the first audit entry: there is no entry before it. */
static const char audit_genesis_hash[] = "0000000000000000000000000000000000000000000000000000000000000000";

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

void plumb_audit_detail_text(json_t *detail, const char *key, const char *value)
{
	char *clean = clean_text(value, 0);
	json_object_set_new(detail, key, json_string(clean));
	free(clean);
}

void plumb_audit_detail_int(json_t *detail, const char *key, int64_t value)
{
	json_object_set_new(detail, key, json_integer((json_int_t)value));
}

char *plumb_audit_detail_dump(json_t *detail)
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

int plumb_store_audit_write(plumb_store *store, const char *actor, const char *event, const char *subject,
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
	    (error = plumb_store_bind_int64(store, stmt, 1, id, what)) < 0 ||
	    (error = plumb_store_bind_int64(store, stmt, 2, at, what)) < 0 ||
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
	char *compact = plumb_audit_detail_dump(parsed);

	if ((error = plumb_store_write_begin(store, &own)) < 0)
		goto done;
	error = plumb_store_audit_write(store, actor, event, subject, compact);
	error = plumb_store_write_end(store, own, error);

done:
	free(compact);
	return error;
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
	/* A range of the primary key, read from its end: a page costs the same however long the log is. */
	static const char sql[] = "SELECT " AUDIT_COLUMNS " FROM audit WHERE id < ?1 ORDER BY id DESC LIMIT ?2";
	static const char what[] = "listing the audit log";
	sqlite3_stmt *stmt = NULL;
	void *items = out->items;
	int error;

	if ((error = plumb_store_prepare(&stmt, store, sql, what)) == 0 &&
	    (error = plumb_store_bind_int64(store, stmt, 1, before > 0 ? before : INT64_MAX, what)) == 0 &&
	    (error = plumb_store_bind_int64(store, stmt, 2, plumb_store_sql_limit(limit), what)) == 0)
		error = plumb_store_collect_rows(&items, &out->count, &out->capacity, sizeof(*out->items), store, stmt,
						 what, read_audit_row, release_audit_row);
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
