/*
 * The host provider at work: a destination root, observed through a
 * cursor and a stat cache, compared by blob id, and written through a
 * batch of staged writes (expand.c decodes the specs).
 */
#include "util/common.h"
#include "providers/host/host.h"
#include "providers/host/internal.h"
#include "store/statcache.h"
#include "util/diff.h"
#include "util/fs.h"
#include "util/fs_batch.h"
#include "util/fs_cursor.h"
#include "util/hash.h"
#include "util/path.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Desired file content is read whole into memory one object at a time; beyond this it is refused. */
#define MAX_CONTENT (256u << 20)
/* Live content larger than this is not diffed, only reported as changed. */
#define MAX_DIFF_INPUT (1u << 20)

static const char *const type_kind[] = { "File", "Directory", "Symlink", "Absent", "other" };

typedef struct {
	host_type type;
	struct stat st;
	char blob[PLUMB_OID_HEXSZ + 1];
	char *target;
} host_live;

struct plumb_destination {
	char *root;    /* absolute, for messages and the store */
	int root_fd;   /* -1 while the root does not exist */
	plumb_source *source; /* borrowed */
	plumb_store *store;   /* borrowed; NULL keeps no stat cache between runs */
	/* What live files' stat data said their content was. */
	plumb_stat_cache *stat_cache;
	/* On the folders last looked in; let go whenever the tree changes (tree_changed). */
	plumb_fs_cursor cursor;
	/* The writes an apply staged, made durable together; NULL until an apply begins. */
	plumb_fs_batch *batch;
	/* While planning: the declared directories the plan makes or changes, in the order observed. */
	char **made;
	size_t made_count;
	size_t made_capacity;
};

static void close_destination(plumb_destination *dest);

static host_type type_of_kind(const char *kind)
{
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(type_kind); i++)
		if (!strcmp(type_kind[i], kind))
			return (host_type)i;
	return HOST_OTHER;
}

/* --- observe ---------------------------------------------------------------------------- */

static void free_observed(plumb_observed *observed)
{
	host_live *live = observed->detail;
	if (live) {
		free(live->target);
		free(live);
	}
	observed->detail = NULL;
}

/* The blob id of a regular file: from the stat cache while its stat data is unchanged, else hashed (and cached). */
static int file_blob(host_live *live, plumb_destination *dest, plumb_stat_cache *cache, const char *key,
		     int64_t looked_at)
{
	const char *cached = cache ? plumb_stat_cache_lookup(cache, key, &live->st) : NULL;
	if (cached) {
		memcpy(live->blob, cached, sizeof(live->blob));
		return 0;
	}
	int error = plumb_fs_cursor_hash(&dest->cursor, live->blob, &live->st, key);
	if (error == 0 && cache)
		plumb_stat_cache_remember(cache, key, &live->st, live->blob, looked_at);
	return error;
}

/* Append n in decimal at p; returns the end. */
static char *put_decimal(char *p, unsigned long n)
{
	char digits[24];
	size_t count = 0;
	do
		digits[count++] = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	while (count)
		*p++ = digits[--count];
	return p;
}

/*
 * "TYPE MODE UID:GID" and, given, " BLOB": the fingerprint of a file or a
 * directory, as printf("%s %04o %u:%u %s") would write it, without printf:
 * a plan makes one an object.
 */
static char *stat_fingerprint(const char *type, const struct stat *st, const char *blob)
{
	char text[128];
	char *p = text;
	size_t n = strlen(type);
	unsigned mode = (unsigned)(st->st_mode & 07777);

	memcpy(p, type, n);
	p += n;
	*p++ = ' ';
	for (int shift = 9; shift >= 0; shift -= 3)
		*p++ = (char)('0' + ((mode >> shift) & 7));
	*p++ = ' ';
	p = put_decimal(p, (unsigned long)st->st_uid);
	*p++ = ':';
	p = put_decimal(p, (unsigned long)st->st_gid);
	if (blob) {
		*p++ = ' ';
		memcpy(p, blob, PLUMB_OID_HEXSZ);
		p += PLUMB_OID_HEXSZ;
	}
	return plumb_xstrndup(text, (size_t)(p - text));
}

/* A regular file's fingerprint, from its stat data and its content's blob id. */
static char *file_fingerprint(const struct stat *st, const char *blob)
{
	return stat_fingerprint("file", st, blob);
}

/*
 * Observe the object at key. A sensitive object's content id is kept
 * nowhere in plain: it bypasses the stat cache (and is dropped from it).
 */
static int observe_one(plumb_observed *out, plumb_destination *dest, const char *key, int sensitive)
{
	plumb_stat_cache *cache = dest->stat_cache;
	if (sensitive && cache) {
		plumb_stat_cache_forget(cache, key);
		cache = NULL;
	}
	host_live *live = plumb_xcalloc(1, sizeof(*live));
	int64_t looked_at = plumb_stat_cache_now();
	int error = plumb_fs_cursor_lstat(&dest->cursor, &live->st, key);

	memset(out, 0, sizeof(*out));
	out->detail = live;
	/* A parent that is not a directory means the object cannot be there either. */
	if (error == PLUMB_ENOTFOUND || error == PLUMB_ECONFLICT) {
		live->type = HOST_ABSENT;
		out->fingerprint = plumb_xstrdup("absent");
		return 0;
	}
	if (error < 0)
		return error;
	out->exists = 1;
	if (S_ISREG(live->st.st_mode)) {
		live->type = HOST_FILE;
		if ((error = file_blob(live, dest, cache, key, looked_at)) < 0)
			return error;
		out->fingerprint = stat_fingerprint("file", &live->st, live->blob);
	} else if (S_ISDIR(live->st.st_mode)) {
		live->type = HOST_DIRECTORY;
		out->fingerprint = stat_fingerprint("directory", &live->st, NULL);
	} else if (S_ISLNK(live->st.st_mode)) {
		live->type = HOST_SYMLINK;
		if ((error = plumb_fs_cursor_readlink(&dest->cursor, &live->target, key)) < 0)
			return error;
		char id[PLUMB_OID_HEXSZ + 1];
		plumb_hash_blob_buf(id, live->target, strlen(live->target));
		out->fingerprint = plumb_xprintf("symlink %s", id);
	} else {
		live->type = HOST_OTHER;
		out->fingerprint = plumb_xprintf("other %o", (unsigned)live->st.st_mode);
	}
	return 0;
}

/* What observe_one makes of an object that cannot be there (nothing is below a root that does not exist). */
static void observe_absent(plumb_observed *out)
{
	host_live *live = plumb_xcalloc(1, sizeof(*live));
	live->type = HOST_ABSENT;
	memset(out, 0, sizeof(*out));
	out->detail = live;
	out->fingerprint = plumb_xstrdup("absent");
}

static int compare(plumb_change *out, plumb_destination *dest, const plumb_object *object,
		   const plumb_observed *observed, const char *inventory_kind, int untouched, plumb_diags *diags);

/*
 * Whether key lies below a directory observed before it that this plan
 * makes (or turns from a symlink into a directory) first: then what is on
 * the way now is not what key will be below.
 */
static int made_on_the_way(const plumb_destination *dest, const char *key)
{
	for (size_t i = 0; i < dest->made_count; i++)
		if (strcmp(dest->made[i], key) != 0 && plumb_path_is_within(key, dest->made[i]))
			return 1;
	return 0;
}

/* Note a declared directory that the plan will make or change (remembered for made_on_the_way). */
static void note_directory(plumb_destination *dest, const plumb_observation *item)
{
	plumb_change change;
	int made = compare(&change, dest, item->object, &item->observed, item->kind, 0, NULL) == 0 &&
		   (change.type == PLUMB_ACTION_CREATE || change.type == PLUMB_ACTION_UPDATE);
	plumb_change_release(&change);
	plumb_error_clear();
	if (made) {
		PLUMB_GROW(dest->made, dest->made_count, dest->made_capacity);
		dest->made[dest->made_count++] = plumb_xstrdup(item->key);
	}
}

static void forget_directories(plumb_destination *dest)
{
	for (size_t i = 0; i < dest->made_count; i++)
		free(dest->made[i]);
	dest->made_count = 0;
}

/*
 * Through the cursor: the folder of one object is opened once for all of
 * its neighbours, and for the batches that follow while they are in it.
 */
static int observe(plumb_destination *dest, plumb_observation *items, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		plumb_observation *item = &items[i];
		int error = observe_one(&item->observed, dest, item->key, item->sensitive);
		if (error == PLUMB_EUNSAFE && item->object && made_on_the_way(dest, item->key)) {
			free_observed(&item->observed);
			free(item->observed.fingerprint);
			observe_absent(&item->observed);
			error = 0;
		}
		if (error < 0)
			return error;
		if (item->object && !strcmp(item->kind, "Directory"))
			note_directory(dest, item);
	}
	return 0;
}

/*
 * A file apply just wrote holds exactly the content whose blob id is
 * d->blob (the content it wrote is that blob's, or hashed into it): only
 * its stat data is read, for the mode and owner it ended up with. A
 * directory or symlink costs observe no content read, so it is observed.
 */
static int observe_applied(plumb_observed *out, plumb_destination *dest, const plumb_object *object)
{
	const host_desired *d = object->desired;
	struct stat st;
	int error;

	if (d->type != HOST_FILE)
		return observe_one(out, dest, object->key, object->sensitive);
	error = plumb_fs_cursor_lstat(&dest->cursor, &st, object->key);
	/* Gone or replaced by something else since: what is there now is what plumb left. */
	if (error < 0 || !S_ISREG(st.st_mode))
		return observe_one(out, dest, object->key, object->sensitive);
	host_live *live = plumb_xcalloc(1, sizeof(*live));
	live->type = HOST_FILE;
	live->st = st;
	memcpy(live->blob, d->blob, sizeof(live->blob));
	memset(out, 0, sizeof(*out));
	out->exists = 1;
	out->detail = live;
	out->fingerprint = file_fingerprint(&live->st, live->blob);
	return 0;
}

/* --- compare ---------------------------------------------------------------------------- */

static int resolve_owner(uid_t *uid, gid_t *gid, const host_desired *d, const char *display)
{
	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (d->owner && plumb_fs_lookup_user(uid, d->owner) < 0)
		return plumb_error_wrap(PLUMB_ENOTFOUND, "%s", display);
	if (d->group && plumb_fs_lookup_group(gid, d->group) < 0)
		return plumb_error_wrap(PLUMB_ENOTFOUND, "%s", display);
	return 0;
}

static void add_reason(plumb_buf *reason, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_reason(plumb_buf *reason, const char *fmt, ...)
{
	va_list ap;
	if (reason->len)
		plumb_buf_puts(reason, ", ");
	va_start(ap, fmt);
	plumb_buf_vprintf(reason, fmt, ap);
	va_end(ap);
}

/* The desired content of a file, read from the repository when not inline. */
static int desired_content(plumb_buf *out, plumb_source *source, const host_desired *d, const char *display)
{
	if (d->content) {
		plumb_buf_add(out, d->content, d->content_length);
		return 0;
	}
	int error = plumb_source_read_blob(out, source, d->blob, MAX_CONTENT);
	return error < 0 ? plumb_error_wrap(error, "%s", display) : 0;
}

static int file_diff(plumb_change *out, plumb_destination *dest, const plumb_object *object,
		     const host_live *live)
{
	const host_desired *d = object->desired;
	plumb_buf desired = PLUMB_BUF_INIT, current = PLUMB_BUF_INIT;
	int error;
	size_t desired_size = d->content_length;

	if (d->sensitive) {
		plumb_buf_printf(&out->diff, "Sensitive content of %s %s (not shown)\n", object->display,
				 live->type == HOST_FILE ? "changes" : "is written");
		return 0;
	}
	if (!d->content && (error = plumb_source_blob_size(&desired_size, dest->source, d->blob)) < 0)
		return error;
	if (desired_size > MAX_DIFF_INPUT || (live->type == HOST_FILE && (size_t)live->st.st_size > MAX_DIFF_INPUT)) {
		plumb_buf_printf(&out->diff, "Content of %s is too large to diff (%zu bytes)\n", object->display,
				 desired_size);
		return 0;
	}
	if ((error = desired_content(&desired, dest->source, d, object->display)) < 0)
		goto done;
	if (live->type == HOST_FILE) {
		if ((error = plumb_fs_cursor_read(&dest->cursor, &current, object->key, MAX_DIFF_INPUT)) < 0)
			goto done;
		error = plumb_diff(&out->diff, object->key, current.ptr, current.len, desired.ptr, desired.len);
	} else {
		error = plumb_diff(&out->diff, object->key, NULL, 0, desired.ptr, desired.len);
	}
done:
	plumb_buf_release(&desired);
	plumb_buf_release(&current);
	return error;
}

static int conflict(const plumb_object *object, const host_live *live)
{
	return plumb_error_set(PLUMB_ECONFLICT, "%s is a %s on the host; plumb will not replace it with a %s",
			       object->display, live->type == HOST_DIRECTORY ? "directory" : "special file",
			       object->kind);
}

/*
 * untouched spares nothing here: comparing a file is reading what observe
 * already read. A host takes any object as declared: nothing goes to diags.
 */
static int compare(plumb_change *out, plumb_destination *dest, const plumb_object *object,
		   const plumb_observed *observed, const char *inventory_kind, int untouched, plumb_diags *diags)
{
	const host_live *live = observed->detail;
	plumb_buf reason = PLUMB_BUF_INIT;
	uid_t uid;
	gid_t gid;
	int error = 0;

	memset(out, 0, sizeof(*out));
	plumb_buf_init(&out->diff);
	if (!object) {
		/* A prune: only the kind of thing plumb made goes. */
		if (observed->exists && live->type == type_of_kind(inventory_kind)) {
			out->type = PLUMB_ACTION_DELETE;
			out->reason = plumb_xstrdup("no longer declared in git");
		}
		return 0;
	}

	const host_desired *d = object->desired;
	if (object->secret_count && !*d->blob)
		return plumb_error_set(PLUMB_ERROR, "%s: the value of Secret %s was not read", object->display,
				       object->secrets[0].name);
	if (d->type == HOST_ABSENT) {
		if (observed->exists) {
			out->type = PLUMB_ACTION_DELETE;
			out->reason = plumb_xprintf("must be absent (a %s is there)", type_kind[live->type]);
		}
		return 0;
	}
	if ((error = resolve_owner(&uid, &gid, d, object->display)) < 0)
		return error;

	if (!observed->exists) {
		out->type = PLUMB_ACTION_CREATE;
		if (d->type == HOST_FILE)
			error = file_diff(out, dest, object, live);
		else if (d->type == HOST_SYMLINK)
			out->reason = plumb_xprintf("-> %s", d->target);
		goto done;
	}

	switch (d->type) {
	case HOST_FILE:
		if (live->type == HOST_DIRECTORY || live->type == HOST_OTHER)
			return conflict(object, live);
		if (live->type == HOST_SYMLINK) {
			add_reason(&reason, "replace a symlink with a file");
		} else if (strcmp(live->blob, d->blob) != 0) {
			add_reason(&reason, "content changed");
		}
		if (reason.len && (error = file_diff(out, dest, object, live)) < 0)
			goto done;
		break;
	case HOST_DIRECTORY:
		if (live->type == HOST_SYMLINK)
			add_reason(&reason, "replace a symlink with a directory");
		else if (live->type != HOST_DIRECTORY)
			return plumb_error_set(PLUMB_ECONFLICT,
					       "%s is a %s on the host; plumb will not replace it with a directory",
					       object->display, type_kind[live->type]);
		break;
	case HOST_SYMLINK:
		if (live->type == HOST_DIRECTORY || live->type == HOST_OTHER)
			return conflict(object, live);
		if (live->type != HOST_SYMLINK)
			add_reason(&reason, "replace a %s with a symlink -> %s", type_kind[live->type], d->target);
		else if (strcmp(live->target, d->target) != 0)
			add_reason(&reason, "target %s -> %s", live->target, d->target);
		break;
	default:
		break;
	}
	if (live->type == d->type && d->type != HOST_SYMLINK) {
		mode_t mode = live->st.st_mode & 07777;
		if (d->mode != PLUMB_FS_KEEP && mode != d->mode)
			add_reason(&reason, "mode %04o -> %04o", (unsigned)mode, (unsigned)d->mode);
		if (uid != (uid_t)-1 && live->st.st_uid != uid)
			add_reason(&reason, "owner %u -> %s", (unsigned)live->st.st_uid, d->owner);
		if (gid != (gid_t)-1 && live->st.st_gid != gid)
			add_reason(&reason, "group %u -> %s", (unsigned)live->st.st_gid, d->group);
	}
	if (reason.len)
		out->type = PLUMB_ACTION_UPDATE;
done:
	if (reason.len)
		out->reason = plumb_buf_detach(&reason, NULL);
	plumb_buf_release(&reason);
	return error;
}

/* --- apply and remove ------------------------------------------------------------------- */

/*
 * What apply changes, a cursor opened before may no longer see as it is (a
 * folder removed, a symlink made a directory): it is let go, and opens
 * afresh when next asked.
 */
static void tree_changed(plumb_destination *dest)
{
	plumb_fs_cursor_release(&dest->cursor);
	plumb_fs_cursor_init(&dest->cursor, dest->root_fd);
}

static int begin_apply(plumb_destination *dest, const char *const *keys, size_t count)
{
	int error;
	if (dest->root_fd < 0 && (error = plumb_fs_open_root(&dest->root_fd, dest->root, 1)) < 0)
		return error;
	tree_changed(dest);
	forget_directories(dest);
	char *previous = NULL;
	for (size_t i = 0; i < count; i++) {
		char *dir = plumb_path_dirname(keys[i]);
		/* Keys come parents first, so one folder's objects are mostly adjacent. */
		if (!previous || strcmp(previous, dir) != 0)
			plumb_fs_remove_stale_temporaries(dest->root_fd, dir);
		free(previous);
		previous = dir;
	}
	free(previous);
	if (!dest->batch)
		dest->batch = plumb_fs_batch_new(dest->root_fd);
	return 0;
}

static int apply(plumb_destination *dest, const plumb_object *object, const plumb_change *change)
{
	const host_desired *d = object->desired;
	uid_t uid;
	gid_t gid;
	int error = resolve_owner(&uid, &gid, d, object->display);
	if (error < 0)
		return error;
	if (!dest->batch)
		return plumb_error_set(PLUMB_ERROR, "%s: applied before the apply began", object->display);

	switch (d->type) {
	case HOST_FILE: {
		plumb_buf content = PLUMB_BUF_INIT;
		mode_t mode = d->mode;
		if (mode == PLUMB_FS_KEEP && change->type == PLUMB_ACTION_CREATE)
			mode = d->create_mode;
		if ((error = desired_content(&content, dest->source, d, object->display)) == 0)
			error = plumb_fs_batch_write(dest->batch, object->key, content.ptr, content.len, mode, uid, gid);
		plumb_buf_wipe(&content);
		return error;
	}
	case HOST_DIRECTORY:
		return plumb_fs_batch_make_directory(dest->batch, object->key, d->mode, uid, gid);
	case HOST_SYMLINK:
		tree_changed(dest);
		return plumb_fs_write_symlink(dest->root_fd, object->key, d->target);
	case HOST_ABSENT:
		tree_changed(dest);
		return plumb_fs_remove(dest->root_fd, object->key, 1);
	default:
		return plumb_error_set(PLUMB_ERROR, "%s: nothing to apply", object->display);
	}
}

static int stages(const plumb_object *object)
{
	return ((const host_desired *)object->desired)->type == HOST_FILE;
}

static size_t staged(plumb_destination *dest, int *full)
{
	*full = dest->batch && plumb_fs_batch_full(dest->batch);
	return dest->batch ? plumb_fs_batch_count(dest->batch) : 0;
}

static int commit(plumb_destination *dest, size_t *done)
{
	*done = 0;
	if (!dest->batch)
		return 0;
	tree_changed(dest);
	return plumb_fs_batch_commit(dest->batch, done);
}

static void discard(plumb_destination *dest)
{
	if (dest->batch)
		plumb_fs_batch_discard(dest->batch);
}

static int remove_object(plumb_destination *dest, const char *key, const char *kind)
{
	tree_changed(dest);
	/* A pruned directory goes only when empty: what is left in it, plumb did not create. */
	return plumb_fs_remove(dest->root_fd, key, 0);
}

/* --- drift: capture and compare ------------------------------------------------------- */

static int capture(plumb_buf *out, int *has_content, plumb_destination *dest, const char *key,
		   const char *kind, size_t max)
{
	struct stat st;
	int error = plumb_fs_lstat(&st, dest->root_fd, key);
	*has_content = 0;
	if (error == PLUMB_ENOTFOUND)
		return 0;
	if (error < 0)
		return error;
	if (S_ISREG(st.st_mode)) {
		*has_content = 1;
		return plumb_fs_read(out, dest->root_fd, key, max);
	}
	if (S_ISLNK(st.st_mode)) {
		char *target = NULL;
		if ((error = plumb_fs_readlink(&target, dest->root_fd, key)) < 0)
			return error;
		*has_content = 1;
		plumb_buf_puts(out, target);
		free(target);
	}
	return 0;
}

static int desired_content_of(plumb_buf *out, int *has_content, plumb_source *source, const plumb_object *object)
{
	const host_desired *d = object->desired;
	*has_content = 0;
	if (d->type == HOST_SYMLINK) {
		*has_content = 1;
		plumb_buf_puts(out, d->target);
		return 0;
	}
	/* Sensitive content goes nowhere but into the live file. */
	if (d->type != HOST_FILE || d->sensitive)
		return 0;
	*has_content = 1;
	return desired_content(out, source, d, object->display);
}

/* A File takes one Secret, its content (index 0). */
static void bind_secret(plumb_object *object, size_t index, const char *value, size_t length)
{
	host_desired *d = object->desired;
	if (d->content)
		explicit_bzero(d->content, d->content_length);
	free(d->content);
	d->content = plumb_xmalloc(length + 1);
	memcpy(d->content, value, length);
	d->content[length] = '\0';
	d->content_length = length;
	plumb_hash_blob_buf(d->blob, d->content, d->content_length);
}

static const char *content_path(const plumb_object *object)
{
	return ((const host_desired *)object->desired)->source_path;
}

/* --- the destination: a root and what the provider keeps for it ------------------------ */

static const char *const host_kinds[] = { "File", "Directory", "Symlink", "Absent", "Tree", NULL };
static const char *const host_document_fields[] = { "apiVersion", "kind", "metadata", "spec", NULL };
static const char *const host_metadata_fields[] = { "name", "labels", "annotations", NULL };

static int claims(const char *api_version, const char *kind)
{
	if (strcmp(api_version, PLUMB_HOST_API_VERSION) != 0)
		return 0;
	for (const char *const *k = host_kinds; *k; k++)
		if (!strcmp(*k, kind))
			return 1;
	return 0;
}

static const char *describe(const char *api_version)
{
	if (!api_version)
		return PLUMB_HOST_API_VERSION;
	return !strcmp(api_version, PLUMB_HOST_API_VERSION) ? "File, Directory, Symlink, Absent, Tree" : NULL;
}

static int open_destination(plumb_destination **out, const plumb_destination_options *options)
{
	plumb_destination *dest = plumb_xcalloc(1, sizeof(*dest));
	int error = plumb_fs_open_root(&dest->root_fd, options->location, 0);
	if (error == PLUMB_ENOTFOUND) {
		dest->root_fd = -1; /* nothing there yet: every object is absent */
		error = 0;
	}
	dest->root = plumb_xstrdup(options->location);
	dest->source = options->source;
	dest->store = options->store;
	plumb_fs_cursor_init(&dest->cursor, dest->root_fd);
	dest->stat_cache = plumb_stat_cache_new();
	if (error == 0 && dest->store && (error = plumb_store_stat_cache_load(dest->stat_cache, dest->store, dest->root)) < 0)
		error = plumb_error_wrap(error, "store");
	if (error < 0) {
		close_destination(dest);
		return error;
	}
	*out = dest;
	return 0;
}

static const char *destination_name(plumb_destination *dest)
{
	return dest->root;
}

static int name_destination(char **name, char **context, const plumb_destination_options *options)
{
	*name = plumb_xstrdup(options->location);
	*context = NULL;
	return 0;
}

static int save(plumb_destination *dest)
{
	return dest->store ? plumb_store_stat_cache_save(dest->store, dest->root, dest->stat_cache) : 0;
}

static void close_destination(plumb_destination *dest)
{
	if (!dest)
		return;
	plumb_fs_batch_free(dest->batch);
	plumb_fs_cursor_release(&dest->cursor);
	forget_directories(dest);
	free(dest->made);
	plumb_stat_cache_free(dest->stat_cache);
	if (dest->root_fd >= 0)
		close(dest->root_fd);
	free(dest->root);
	free(dest);
}

const plumb_provider plumb_host_provider = {
	.name = "host",
	.claims = claims,
	.describe = describe,
	.document_fields = host_document_fields,
	.metadata_fields = host_metadata_fields,
	.expand = plumb_host_expand,
	.free_desired = plumb_host_free_desired,
	.open = open_destination,
	.destination_name = destination_name,
	.name_destination = name_destination,
	.save = save,
	.close = close_destination,
	.observe = observe,
	.free_observed = free_observed,
	.compare = compare,
	.begin_apply = begin_apply,
	.apply = apply,
	.stages = stages,
	.staged = staged,
	.commit = commit,
	.discard = discard,
	.observe_applied = observe_applied,
	.remove = remove_object,
	.capture = capture,
	.desired_content = desired_content_of,
	.content_path = content_path,
	.bind_secret = bind_secret,
};
