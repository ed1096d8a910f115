/*
 * The host kinds' specs, decoded into objects: one for a File, Directory,
 * Symlink or Absent, a directory and everything below it for a Tree.
 */
#include "util/common.h"
#include "providers/host/internal.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/path.h"
#include "util/utf8.h"

#include <limits.h>
#include <stdlib.h>

void plumb_host_free_desired(void *p)
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

/* A source path the commit lacks: said so, and which submodule it lies in when that is why. */
static void missing_source(plumb_diags *diags, plumb_position position, plumb_source *source, const char *commit,
			   const char *src)
{
	char *submodule = plumb_source_submodule_of(source, commit, src);
	if (submodule)
		plumb_diags_add(diags, position,
				"spec.source: '%s' lies in the submodule %s, which is read only when asked "
				"(--submodules, or source.submodules: true in its Application)",
				src, submodule);
	else
		plumb_diags_add(diags, position, "spec.source: '%s' does not exist in the repository", src);
	free(submodule);
}

static host_desired *new_desired(host_type type)
{
	host_desired *d = plumb_xcalloc(1, sizeof(*d));
	d->type = type;
	d->mode = PLUMB_FS_KEEP;
	d->create_mode = type == HOST_DIRECTORY ? 0755 : 0644;
	return d;
}

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
			missing_source(diags, v[F_SOURCE].position, source, set->commit, src);
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
		plumb_object *o = plumb_manifest_add_object(set, resource, "File", path, d,
							    v[F_PATH].position);
		o->sensitive = d->sensitive;
		if (from[0].present)
			plumb_object_add_secret(o, from[0].string, "contentFrom.secret", from[0].position);
		d = NULL;
	}
	plumb_host_free_desired(d);
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
		plumb_manifest_add_object(set, resource, "Directory", path, d, v[0].position);
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
		plumb_manifest_add_object(set, resource, "Symlink", path, d, v[0].position);
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
		plumb_object *o = plumb_manifest_add_object(set, resource, "Absent", path,
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
		plumb_object *o = plumb_manifest_add_object(w->set, w->resource, kind, key, d,
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
			missing_source(diags, v[0].position, source, set->commit, src);
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
		plumb_manifest_add_object(set, resource, "Directory", path, top, w.position);
		if (plumb_source_walk(source, set->commit, src, tree_entry, &w) < 0) {
			plumb_diags_add(diags, v[0].position, "spec.source: %s", plumb_error_last());
			w.failed = 1;
		}
		if (w.failed) {
			/* All or nothing: drop the objects this Tree added. */
			for (size_t i = first_object; i < set->object_count; i++) {
				plumb_host_free_desired(set->objects[i].desired);
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

void plumb_host_expand(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
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
