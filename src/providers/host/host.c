#include "util/common.h"
#include "providers/host/host.h"
#include "util/diff.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/path.h"
#include "util/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Desired file content is read whole into memory one object at a time; beyond this it is refused. */
#define MAX_CONTENT (256u << 20)
/* Live content larger than this is not diffed, only reported as changed. */
#define MAX_DIFF_INPUT (1u << 20)

typedef enum { HOST_FILE, HOST_DIRECTORY, HOST_SYMLINK, HOST_ABSENT, HOST_OTHER } host_type;

static const char *const type_kind[] = { "File", "Directory", "Symlink", "Absent", "other" };

typedef struct {
	host_type type;
	mode_t mode; /* PLUMB_FS_KEEP when not given */
	mode_t create_mode;
	char *owner; /* as written; NULL leaves the owner as it is */
	char *group;
	char *content; /* inline content, or NULL when it comes from the blob */
	size_t content_length;
	char blob[PLUMB_OID_HEXSZ + 1]; /* the id of the desired content */
	char *target;
	char *source_path; /* the repository file the content comes from; NULL for inline content */
	int sensitive;
} host_desired;

typedef struct {
	host_type type;
	struct stat st;
	char blob[PLUMB_OID_HEXSZ + 1];
	char *target;
} host_live;

static host_type type_of_kind(const char *kind)
{
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(type_kind); i++)
		if (!strcmp(type_kind[i], kind))
			return (host_type)i;
	return HOST_OTHER;
}

static void free_desired(void *p)
{
	host_desired *d = p;
	if (!d)
		return;
	free(d->owner);
	free(d->group);
	if (d->content && d->sensitive)
		explicit_bzero(d->content, d->content_length);
	free(d->content);
	free(d->target);
	free(d->source_path);
	free(d);
}

static host_desired *new_desired(host_type type)
{
	host_desired *d = plumb_xcalloc(1, sizeof(*d));
	d->type = type;
	d->mode = PLUMB_FS_KEEP;
	d->create_mode = type == HOST_DIRECTORY ? 0755 : 0644;
	return d;
}

/* --- expand: specs into objects --------------------------------------------------------- */

enum { F_PATH, F_CONTENT, F_SOURCE, F_CONTENT_FROM, F_MODE, F_OWNER, F_GROUP, F_SENSITIVE, F_COUNT };

static const plumb_field file_fields[] = {
	{ "path", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "content", PLUMB_FIELD_STRING, 0 },
	{ "source", PLUMB_FIELD_STRING, 0 },
	{ "contentFrom", PLUMB_FIELD_MAP, 0 },
	{ "mode", PLUMB_FIELD_MODE, 0 },
	{ "owner", PLUMB_FIELD_STRING, 0 },
	{ "group", PLUMB_FIELD_STRING, 0 },
	{ "sensitive", PLUMB_FIELD_BOOL, 0 },
};

static const plumb_field content_from_fields[] = {
	{ "secret", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
};

/* A normalised live path from a spec value, or NULL after a diagnostic. */
static char *live_path(const plumb_value *value, const plumb_spec *spec, const char *field, plumb_diags *diags)
{
	char *path = NULL;
	if (!plumb_utf8_valid(value->string, value->length)) {
		plumb_diags_add(diags, value->position, "%s.%s: must be UTF-8 text", plumb_spec_name(spec), field);
		return NULL;
	}
	if (plumb_path_normalize(&path, value->string, 1) < 0) {
		plumb_diags_add(diags, value->position, "%s.%s: %s", plumb_spec_name(spec), field, plumb_error_last());
		return NULL;
	}
	if (!*path) {
		plumb_diags_add(diags, value->position, "%s.%s: the destination root itself cannot be managed",
				plumb_spec_name(spec), field);
		free(path);
		return NULL;
	}
	return path;
}

/* A normalised repository path from a spec value, or NULL after a diagnostic. */
static char *repo_path(const plumb_value *value, const plumb_spec *spec, plumb_diags *diags)
{
	char *path = NULL;
	if (plumb_path_normalize(&path, value->string, 0) < 0) {
		plumb_diags_add(diags, value->position, "%s.source: %s", plumb_spec_name(spec), plumb_error_last());
		return NULL;
	}
	return path;
}

static void set_owner(host_desired *d, const plumb_value *owner, const plumb_value *group)
{
	if (owner->present)
		d->owner = plumb_xstrdup(owner->string);
	if (group->present)
		d->group = plumb_xstrdup(group->string);
}

static void expand_file(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
			plumb_diags *diags)
{
	plumb_value v[F_COUNT], from[1];
	char *path = NULL, *src = NULL;
	host_desired *d = NULL;
	size_t before = diags->count;

	memset(from, 0, sizeof(from));
	plumb_spec_decode(v, spec, file_fields, PLUMB_ARRAY_SIZE(file_fields), diags);
	if (v[F_PATH].present)
		path = live_path(&v[F_PATH], spec, "path", diags);
	if (v[F_CONTENT].present + v[F_SOURCE].present + v[F_CONTENT_FROM].present != 1)
		plumb_diags_add(diags, plumb_spec_position(spec),
				"%s: exactly one of \"content\", \"source\" and \"contentFrom\" is required",
				plumb_spec_name(spec));
	if (v[F_CONTENT_FROM].map)
		plumb_spec_decode(from, v[F_CONTENT_FROM].map, content_from_fields, PLUMB_ARRAY_SIZE(from), diags);
	if (v[F_CONTENT_FROM].present && v[F_SENSITIVE].present && !v[F_SENSITIVE].boolean)
		plumb_diags_add(diags, v[F_SENSITIVE].position,
				"%s.sensitive: content from a Secret is always sensitive", plumb_spec_name(spec));

	d = new_desired(HOST_FILE);
	/* A secret's value is bound later (plumb_secret_bind), only by the commands that plan. */
	d->sensitive = (v[F_SENSITIVE].present && v[F_SENSITIVE].boolean) || v[F_CONTENT_FROM].present;
	if (v[F_MODE].present)
		d->mode = v[F_MODE].mode;
	set_owner(d, &v[F_OWNER], &v[F_GROUP]);
	if (v[F_CONTENT].present) {
		d->content = plumb_xstrndup(v[F_CONTENT].string, v[F_CONTENT].length);
		d->content_length = v[F_CONTENT].length;
		plumb_hash_blob_buf(d->blob, d->content, d->content_length);
	} else if (v[F_SOURCE].present && (src = repo_path(&v[F_SOURCE], spec, diags)) != NULL) {
		plumb_source_entry entry;
		int error = plumb_source_stat(&entry, source, set->commit, src);
		if (error == PLUMB_ENOTFOUND) {
			plumb_diags_add(diags, v[F_SOURCE].position, "spec.source: '%s' does not exist in the repository",
					src);
		} else if (error < 0) {
			plumb_diags_add(diags, v[F_SOURCE].position, "spec.source: %s", plumb_error_last());
		} else if (entry.type == PLUMB_ENTRY_SYMLINK) {
			plumb_diags_add(diags, v[F_SOURCE].position,
					"spec.source: '%s' is a symlink in the repository; plumb does not follow it", src);
		} else if (entry.type != PLUMB_ENTRY_FILE && entry.type != PLUMB_ENTRY_EXECUTABLE) {
			plumb_diags_add(diags, v[F_SOURCE].position, "spec.source: '%s' is not a file", src);
		} else {
			memcpy(d->blob, entry.id, sizeof(d->blob));
			d->source_path = plumb_xstrdup(src);
			if (entry.type == PLUMB_ENTRY_EXECUTABLE)
				d->create_mode = 0755;
			/* Only the file: its folder may hold the manifest that names it. */
			plumb_manifest_add_content_path(set, src);
		}
	}
	if (diags->count == before) {
		plumb_object *o = plumb_manifest_add_object(set, resource, &plumb_host_provider, "File", path, d,
							    v[F_PATH].position);
		o->sensitive = d->sensitive;
		if (from[0].present) {
			o->secret = plumb_xcalloc(1, sizeof(*o->secret));
			o->secret->name = plumb_xstrdup(from[0].string);
			o->secret->position = from[0].position;
		}
		d = NULL;
	}
	free_desired(d);
	free(path);
	free(src);
	plumb_values_release(from, PLUMB_ARRAY_SIZE(from));
	plumb_values_release(v, PLUMB_ARRAY_SIZE(file_fields));
}

static const plumb_field directory_fields[] = {
	{ "path", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "mode", PLUMB_FIELD_MODE, 0 },
	{ "owner", PLUMB_FIELD_STRING, 0 },
	{ "group", PLUMB_FIELD_STRING, 0 },
};

static void expand_directory(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
			     plumb_diags *diags)
{
	plumb_value v[4];
	size_t before = diags->count;
	char *path = NULL;

	plumb_spec_decode(v, spec, directory_fields, 4, diags);
	if (v[0].present)
		path = live_path(&v[0], spec, "path", diags);
	if (diags->count == before) {
		host_desired *d = new_desired(HOST_DIRECTORY);
		if (v[1].present)
			d->mode = v[1].mode;
		set_owner(d, &v[2], &v[3]);
		plumb_manifest_add_object(set, resource, &plumb_host_provider, "Directory", path, d, v[0].position);
	}
	free(path);
	plumb_values_release(v, 4);
}

static const plumb_field symlink_fields[] = {
	{ "path", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "target", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
};

static void expand_symlink(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
			   plumb_diags *diags)
{
	plumb_value v[2];
	size_t before = diags->count;
	char *path = NULL;

	plumb_spec_decode(v, spec, symlink_fields, 2, diags);
	if (v[0].present)
		path = live_path(&v[0], spec, "path", diags);
	if (v[1].present && (!v[1].length || v[1].length >= PATH_MAX || memchr(v[1].string, '\0', v[1].length)))
		plumb_diags_add(diags, v[1].position, "spec.target: must be a non-empty path shorter than %d bytes",
				PATH_MAX);
	if (diags->count == before) {
		host_desired *d = new_desired(HOST_SYMLINK);
		d->target = plumb_xstrdup(v[1].string);
		plumb_manifest_add_object(set, resource, &plumb_host_provider, "Symlink", path, d, v[0].position);
	}
	free(path);
	plumb_values_release(v, 2);
}

static const plumb_field absent_fields[] = {
	{ "path", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
};

static void expand_absent(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
			  plumb_diags *diags)
{
	plumb_value v[1];
	size_t before = diags->count;
	char *path = NULL;

	plumb_spec_decode(v, spec, absent_fields, 1, diags);
	if (v[0].present)
		path = live_path(&v[0], spec, "path", diags);
	if (diags->count == before) {
		plumb_object *o = plumb_manifest_add_object(set, resource, &plumb_host_provider, "Absent", path,
							    new_desired(HOST_ABSENT), v[0].position);
		o->inventoried = 0;
	}
	free(path);
	plumb_values_release(v, 1);
}

static const plumb_field tree_fields[] = {
	{ "source", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "path", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "owner", PLUMB_FIELD_STRING, 0 },
	{ "group", PLUMB_FIELD_STRING, 0 },
	{ "sensitive", PLUMB_FIELD_BOOL, 0 },
};

typedef struct {
	plumb_manifest_set *set;
	size_t resource;
	const char *path; /* the live directory */
	const plumb_value *owner, *group;
	plumb_position position;
	plumb_source *source;
	const char *source_path;
	plumb_diags *diags;
	int sensitive;
	int failed;
} tree_walk;

static int tree_entry(const plumb_source_entry *entry, void *payload)
{
	tree_walk *w = payload;
	if (!plumb_utf8_valid(entry->path, strlen(entry->path))) {
		plumb_buf name = PLUMB_BUF_INIT;
		plumb_utf8_repair(&name, entry->path, strlen(entry->path));
		plumb_diags_add(w->diags, w->position, "spec.source: %s/%s: file names must be UTF-8", w->source_path,
				name.ptr);
		plumb_buf_release(&name);
		w->failed = 1;
		return 0;
	}
	char *key = plumb_path_join(w->path, entry->path);
	host_desired *d = NULL;
	const char *kind = NULL;

	switch (entry->type) {
	case PLUMB_ENTRY_TREE:
		d = new_desired(HOST_DIRECTORY);
		kind = "Directory";
		break;
	case PLUMB_ENTRY_FILE:
	case PLUMB_ENTRY_EXECUTABLE:
		d = new_desired(HOST_FILE);
		kind = "File";
		d->mode = entry->type == PLUMB_ENTRY_EXECUTABLE ? 0755 : 0644;
		memcpy(d->blob, entry->id, sizeof(d->blob));
		d->source_path = plumb_path_join(w->source_path, entry->path);
		break;
	case PLUMB_ENTRY_SYMLINK: {
		plumb_buf target = PLUMB_BUF_INIT;
		if (plumb_source_read_blob(&target, w->source, entry->id, PATH_MAX - 1) < 0 || !target.len ||
		    memchr(target.ptr, '\0', target.len)) {
			plumb_diags_add(w->diags, w->position, "spec.source: %s/%s is a symlink with an unusable target",
					w->source_path, entry->path);
			w->failed = 1;
			plumb_buf_release(&target);
			break;
		}
		d = new_desired(HOST_SYMLINK);
		kind = "Symlink";
		d->target = plumb_buf_detach(&target, NULL);
		break;
	}
	case PLUMB_ENTRY_SUBMODULE:
		plumb_diags_add(w->diags, w->position, "spec.source: %s/%s is a git submodule, which a Tree cannot mirror",
				w->source_path, entry->path);
		w->failed = 1;
		break;
	}
	if (d) {
		if (d->type != HOST_SYMLINK)
			set_owner(d, w->owner, w->group);
		d->sensitive = w->sensitive && d->type == HOST_FILE;
		plumb_object *o = plumb_manifest_add_object(w->set, w->resource, &plumb_host_provider, kind, key, d,
							    w->position);
		o->sensitive = d->sensitive;
	}
	free(key);
	return 0;
}

static void expand_tree(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
			plumb_diags *diags)
{
	plumb_value v[5];
	size_t before = diags->count;
	char *path = NULL, *src = NULL;
	plumb_source_entry entry;

	plumb_spec_decode(v, spec, tree_fields, 5, diags);
	if (v[1].present)
		path = live_path(&v[1], spec, "path", diags);
	if (v[0].present && (src = repo_path(&v[0], spec, diags)) != NULL) {
		int error = plumb_source_stat(&entry, source, set->commit, src);
		if (error == PLUMB_ENOTFOUND)
			plumb_diags_add(diags, v[0].position, "spec.source: '%s' does not exist in the repository", src);
		else if (error < 0)
			plumb_diags_add(diags, v[0].position, "spec.source: %s", plumb_error_last());
		else if (entry.type == PLUMB_ENTRY_SYMLINK)
			plumb_diags_add(diags, v[0].position,
					"spec.source: '%s' is a symlink in the repository; plumb does not follow it", src);
		else if (entry.type != PLUMB_ENTRY_TREE)
			plumb_diags_add(diags, v[0].position, "spec.source: '%s' is not a folder", src);
	}
	if (diags->count == before) {
		size_t first_object = set->object_count;
		tree_walk w = { set, resource, path, &v[2], &v[3], v[1].position, source, src, diags,
				v[4].present && v[4].boolean, 0 };
		host_desired *top = new_desired(HOST_DIRECTORY);
		set_owner(top, &v[2], &v[3]);
		plumb_manifest_add_object(set, resource, &plumb_host_provider, "Directory", path, top, w.position);
		if (plumb_source_walk(source, set->commit, src, tree_entry, &w) < 0) {
			plumb_diags_add(diags, v[0].position, "spec.source: %s", plumb_error_last());
			w.failed = 1;
		}
		if (w.failed) {
			/* All or nothing: drop the objects this Tree added. */
			for (size_t i = first_object; i < set->object_count; i++) {
				free_desired(set->objects[i].desired);
				free(set->objects[i].display);
			}
			set->object_count = first_object;
		} else {
			plumb_manifest_add_content_path(set, src);
		}
	}
	free(path);
	free(src);
	plumb_values_release(v, 5);
}

static void expand(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
		   plumb_diags *diags)
{
	const char *kind = set->resources[resource].kind;
	if (!strcmp(kind, "File"))
		expand_file(set, resource, spec, source, diags);
	else if (!strcmp(kind, "Directory"))
		expand_directory(set, resource, spec, source, diags);
	else if (!strcmp(kind, "Symlink"))
		expand_symlink(set, resource, spec, source, diags);
	else if (!strcmp(kind, "Absent"))
		expand_absent(set, resource, spec, source, diags);
	else
		expand_tree(set, resource, spec, source, diags);
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
static int file_blob(host_live *live, const plumb_provider_context *ctx, const char *key, int64_t looked_at)
{
	const char *cached = ctx->stat_cache ? plumb_stat_cache_lookup(ctx->stat_cache, key, &live->st) : NULL;
	if (cached) {
		memcpy(live->blob, cached, sizeof(live->blob));
		return 0;
	}
	plumb_fs_cursor own;
	plumb_fs_cursor_init(&own, ctx->root_fd);
	int error = plumb_fs_cursor_hash(ctx->cursor ? ctx->cursor : &own, live->blob, &live->st, key);
	plumb_fs_cursor_release(&own);
	if (error == 0 && ctx->stat_cache)
		plumb_stat_cache_remember(ctx->stat_cache, key, &live->st, live->blob, looked_at);
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

static int observe(plumb_observed *out, const plumb_provider_context *ctx, const char *key, const char *kind)
{
	host_live *live = plumb_xcalloc(1, sizeof(*live));
	int64_t looked_at = plumb_stat_cache_now();
	int error = ctx->cursor ? plumb_fs_cursor_lstat(ctx->cursor, &live->st, key)
				: plumb_fs_lstat(&live->st, ctx->root_fd, key);

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
		if ((error = file_blob(live, ctx, key, looked_at)) < 0)
			return error;
		out->fingerprint = stat_fingerprint("file", &live->st, live->blob);
	} else if (S_ISDIR(live->st.st_mode)) {
		live->type = HOST_DIRECTORY;
		out->fingerprint = stat_fingerprint("directory", &live->st, NULL);
	} else if (S_ISLNK(live->st.st_mode)) {
		live->type = HOST_SYMLINK;
		if ((error = ctx->cursor ? plumb_fs_cursor_readlink(ctx->cursor, &live->target, key)
					 : plumb_fs_readlink(&live->target, ctx->root_fd, key)) < 0)
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

/*
 * A file apply just wrote holds exactly the content whose blob id is
 * d->blob (the content it wrote is that blob's, or hashed into it): only
 * its stat data is read, for the mode and owner it ended up with. A
 * directory or symlink costs observe no content read, so it is observed.
 */
static int observe_applied(plumb_observed *out, const plumb_provider_context *ctx, const plumb_object *object)
{
	const host_desired *d = object->desired;
	struct stat st;
	int error;

	if (d->type != HOST_FILE)
		return observe(out, ctx, object->key, object->kind);
	error = ctx->cursor ? plumb_fs_cursor_lstat(ctx->cursor, &st, object->key)
			    : plumb_fs_lstat(&st, ctx->root_fd, object->key);
	/* Gone or replaced by something else since: what is there now is what plumb left. */
	if (error < 0 || !S_ISREG(st.st_mode))
		return observe(out, ctx, object->key, object->kind);
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
static int desired_content(plumb_buf *out, const plumb_provider_context *ctx, const host_desired *d,
			   const char *display)
{
	if (d->content) {
		plumb_buf_add(out, d->content, d->content_length);
		return 0;
	}
	int error = plumb_source_read_blob(out, ctx->source, d->blob, MAX_CONTENT);
	return error < 0 ? plumb_error_wrap(error, "%s", display) : 0;
}

static int file_diff(plumb_change *out, const plumb_provider_context *ctx, const plumb_object *object,
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
	if (!d->content && (error = plumb_source_blob_size(&desired_size, ctx->source, d->blob)) < 0)
		return error;
	if (desired_size > MAX_DIFF_INPUT || (live->type == HOST_FILE && (size_t)live->st.st_size > MAX_DIFF_INPUT)) {
		plumb_buf_printf(&out->diff, "Content of %s is too large to diff (%zu bytes)\n", object->display,
				 desired_size);
		return 0;
	}
	if ((error = desired_content(&desired, ctx, d, object->display)) < 0)
		goto done;
	if (live->type == HOST_FILE) {
		if ((error = ctx->cursor ? plumb_fs_cursor_read(ctx->cursor, &current, object->key, MAX_DIFF_INPUT)
					 : plumb_fs_read(&current, ctx->root_fd, object->key, MAX_DIFF_INPUT)) < 0)
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

static int compare(plumb_change *out, const plumb_provider_context *ctx, const plumb_object *object,
		   const plumb_observed *observed, const char *inventory_kind)
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
	if (object->secret && !*d->blob)
		return plumb_error_set(PLUMB_ERROR, "%s: the value of Secret %s was not read", object->display,
				       object->secret->name);
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
			error = file_diff(out, ctx, object, live);
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
		if (reason.len && (error = file_diff(out, ctx, object, live)) < 0)
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

static int apply(const plumb_provider_context *ctx, const plumb_object *object, const plumb_change *change)
{
	const host_desired *d = object->desired;
	uid_t uid;
	gid_t gid;
	int error = resolve_owner(&uid, &gid, d, object->display);
	if (error < 0)
		return error;

	switch (d->type) {
	case HOST_FILE: {
		plumb_buf content = PLUMB_BUF_INIT;
		mode_t mode = d->mode;
		if (mode == PLUMB_FS_KEEP && change->type == PLUMB_ACTION_CREATE)
			mode = d->create_mode;
		if ((error = desired_content(&content, ctx, d, object->display)) == 0)
			error = ctx->batch ? plumb_fs_batch_write(ctx->batch, object->key, content.ptr, content.len, mode,
								  uid, gid)
					   : plumb_fs_write_file(ctx->root_fd, object->key, content.ptr, content.len, mode,
								 uid, gid);
		plumb_buf_wipe(&content);
		return error;
	}
	case HOST_DIRECTORY:
		return ctx->batch ? plumb_fs_batch_make_directory(ctx->batch, object->key, d->mode, uid, gid)
				  : plumb_fs_make_directory(ctx->root_fd, object->key, d->mode, uid, gid);
	case HOST_SYMLINK:
		return plumb_fs_write_symlink(ctx->root_fd, object->key, d->target);
	case HOST_ABSENT:
		return plumb_fs_remove(ctx->root_fd, object->key, 1);
	default:
		return plumb_error_set(PLUMB_ERROR, "%s: nothing to apply", object->display);
	}
}

static int remove_object(const plumb_provider_context *ctx, const char *key, const char *kind)
{
	/* A pruned directory goes only when empty: what is left in it, plumb did not create. */
	return plumb_fs_remove(ctx->root_fd, key, 0);
}

/* --- drift: capture and compare ------------------------------------------------------- */

static int capture(plumb_buf *out, int *has_content, const plumb_provider_context *ctx, const char *key,
		   const char *kind, size_t max)
{
	struct stat st;
	int error = plumb_fs_lstat(&st, ctx->root_fd, key);
	*has_content = 0;
	if (error == PLUMB_ENOTFOUND)
		return 0;
	if (error < 0)
		return error;
	if (S_ISREG(st.st_mode)) {
		*has_content = 1;
		return plumb_fs_read(out, ctx->root_fd, key, max);
	}
	if (S_ISLNK(st.st_mode)) {
		char *target = NULL;
		if ((error = plumb_fs_readlink(&target, ctx->root_fd, key)) < 0)
			return error;
		*has_content = 1;
		plumb_buf_puts(out, target);
		free(target);
	}
	return 0;
}

static int desired_content_of(plumb_buf *out, int *has_content, const plumb_provider_context *ctx,
			      const plumb_object *object)
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
	return desired_content(out, ctx, d, object->display);
}

static int stages(const plumb_object *object)
{
	return ((const host_desired *)object->desired)->type == HOST_FILE;
}

static void bind_secret(plumb_object *object, const char *value, size_t length)
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

static const char *const host_kinds[] = { "File", "Directory", "Symlink", "Absent", "Tree", NULL };

const plumb_provider plumb_host_provider = {
	.name = "host",
	.api_version = "host/v1",
	.kinds = host_kinds,
	.expand = expand,
	.free_desired = free_desired,
	.observe = observe,
	.free_observed = free_observed,
	.compare = compare,
	.apply = apply,
	.observe_applied = observe_applied,
	.stages = stages,
	.remove = remove_object,
	.capture = capture,
	.desired_content = desired_content_of,
	.content_path = content_path,
	.bind_secret = bind_secret,
};
