#include "util/common.h"
#include "load/load.h"
#include "providers/registry.h"
#include "load/application.h"
#include "secrets/secret.h"
#include "providers/provider.h"
#include "resource/spec_internal.h"
#include "util/buf.h"
#include "util/path.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Manifests nest a few levels; anything deeper is hostile or a mistake. */
#define MAX_YAML_DEPTH 64

/*
 * One manifest file as parsed: what it declares, and the paths its
 * resources looked up in the commit (a Tree's folder, a File's source).
 * Loaded sets are views of parts; the cache of a source keeps parts by path
 * and blob id, so that a file is parsed again only when its blob or
 * something it looked up changed. A part in the cache is never changed.
 */
struct plumb_manifest_part {
	atomic_uint references;
	char *path;
	char blob[PLUMB_OID_HEXSZ + 1];
	plumb_manifest_set set; /* owns what the file declares */
	plumb_diags diags;
	plumb_source_lookups lookups;
	int used;                         /* by a load since the last sweep */
	struct plumb_manifest_part *next; /* in its bucket of the cache */
};
typedef struct plumb_manifest_part manifest_part;

typedef struct {
	manifest_part *part;
	int is_content; /* read as content by some resource, so not a manifest */
} manifest_file;

typedef struct {
	manifest_file *items;
	size_t count;
	size_t capacity;
	const char *base; /* the folder being walked */
} manifest_files;

static void resource_release(plumb_resource *r)
{
	free(r->api_version);
	free(r->kind);
	free(r->name);
	free(r->identity);
	free(r->file);
	free(r->json);
	free(r->yaml);
}

static void part_unref(struct plumb_manifest_part *part);

void plumb_manifest_set_release(plumb_manifest_set *set)
{
	if (set->part_count) {
		/* A view: the parts own what it lists. */
		for (size_t i = 0; i < set->part_count; i++)
			part_unref(set->parts[i]);
		set->resource_count = set->object_count = set->content_path_count = 0;
		set->application_count = set->secret_count = 0;
	}
	for (size_t i = 0; i < set->resource_count; i++)
		resource_release(&set->resources[i]);
	for (size_t i = 0; i < set->object_count; i++) {
		plumb_object *o = &set->objects[i];
		if (o->desired && o->provider && o->provider->free_desired)
			o->provider->free_desired(o->desired);
		free(o->display);
		if (o->secret)
			free(o->secret->name);
		free(o->secret);
	}
	for (size_t i = 0; i < set->content_path_count; i++)
		free(set->content_paths[i]);
	for (size_t i = 0; i < set->application_count; i++)
		plumb_application_release(&set->applications[i]);
	for (size_t i = 0; i < set->secret_count; i++)
		plumb_secret_release(&set->secrets[i]);
	free(set->applications);
	free(set->secrets);
	free(set->resources);
	free(set->objects);
	free(set->content_paths);
	free(set->parts);
	free(set->commit);
	free(set->path);
	memset(set, 0, sizeof(*set));
}

static int has_manifest_extension(const char *path)
{
	size_t n = strlen(path);
	return (n > 5 && !strcmp(path + n - 5, ".yaml")) || (n > 4 && !strcmp(path + n - 4, ".yml"));
}

static int is_hidden(const char *path)
{
	return path[0] == '.' || strstr(path, "/.") != NULL;
}

static manifest_part *part_new(const char *path, const char *blob)
{
	manifest_part *part = plumb_xcalloc(1, sizeof(*part));
	atomic_init(&part->references, 1);
	part->path = plumb_xstrdup(path);
	memcpy(part->blob, blob, sizeof(part->blob));
	part->diags = (plumb_diags)PLUMB_DIAGS_INIT;
	return part;
}

static manifest_part *part_ref(manifest_part *part)
{
	atomic_fetch_add(&part->references, 1);
	return part;
}

static void part_unref(manifest_part *part)
{
	if (!part || atomic_fetch_sub(&part->references, 1) != 1)
		return;
	plumb_manifest_set_release(&part->set);
	plumb_diags_release(&part->diags);
	plumb_source_lookups_release(&part->lookups);
	free(part->path);
	free(part);
}

/* --- the parse cache ------------------------------------------------------------------------- */

#define CACHE_BUCKETS 1024u

typedef struct {
	manifest_part *buckets[CACHE_BUCKETS];
} manifest_cache;

/* Manifest files parsed by this process: what the cache could not serve. */
static atomic_ulong files_parsed;

unsigned long plumb_load_files_parsed(void)
{
	return atomic_load(&files_parsed);
}

static unsigned bucket_of(const char *path, const char *blob)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const char *c = blob; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	for (const char *c = path; *c; c++)
		h = (h ^ (unsigned char)*c) * 16777619u;
	return h % CACHE_BUCKETS;
}

static void cache_release(void *data)
{
	manifest_cache *cache = data;
	for (unsigned i = 0; i < CACHE_BUCKETS; i++)
		for (manifest_part *part = cache->buckets[i], *next; part; part = next) {
			next = part->next;
			part_unref(part);
		}
	free(cache);
}

static manifest_cache *cache_of(plumb_source *source)
{
	manifest_cache *cache = plumb_source_attached(source);
	if (!cache) {
		cache = plumb_xcalloc(1, sizeof(*cache));
		plumb_source_attach(source, cache, cache_release);
	}
	return cache;
}

/*
 * The part parsed from path at blob whose lookups still hold in commit (a
 * new reference), or NULL. A part whose lookups no longer hold is dropped.
 */
static manifest_part *cache_take(manifest_cache *cache, plumb_source *source, const char *commit, const char *path,
				 const char *blob)
{
	manifest_part **link = &cache->buckets[bucket_of(path, blob)];
	for (; *link; link = &(*link)->next) {
		manifest_part *part = *link;
		if (strcmp(part->blob, blob) != 0 || strcmp(part->path, path) != 0)
			continue;
		if (!plumb_source_lookups_hold(source, commit, &part->lookups)) {
			*link = part->next;
			part_unref(part);
			return NULL;
		}
		part->used = 1;
		return part_ref(part);
	}
	return NULL;
}

/*
 * Keep part for later loads, unless it holds diagnostics (they are rare and
 * cheap to find again) or objects whose content a Secret gives: those are
 * bound to the value in place, so each load keeps its own.
 */
static void cache_put(manifest_cache *cache, manifest_part *part)
{
	if (part->diags.count)
		return;
	for (size_t i = 0; i < part->set.object_count; i++)
		if (part->set.objects[i].secret)
			return;
	manifest_part **bucket = &cache->buckets[bucket_of(part->path, part->blob)];
	part->used = 1;
	part->next = *bucket;
	*bucket = part_ref(part);
}

void plumb_load_sweep(plumb_source *source)
{
	manifest_cache *cache = plumb_source_attached(source);
	if (!cache)
		return;
	for (unsigned i = 0; i < CACHE_BUCKETS; i++)
		for (manifest_part **link = &cache->buckets[i]; *link;) {
			manifest_part *part = *link;
			/* A set still viewing it keeps it worth keeping. */
			if (!part->used && atomic_load(&part->references) == 1) {
				*link = part->next;
				part_unref(part);
				continue;
			}
			part->used = 0;
			link = &part->next;
		}
}

/* --- finding the manifest files ---------------------------------------------------------------- */

static int collect_file(const plumb_source_entry *entry, void *payload)
{
	manifest_files *files = payload;
	if (entry->type != PLUMB_ENTRY_FILE && entry->type != PLUMB_ENTRY_EXECUTABLE)
		return 0;
	if (is_hidden(entry->path) || !has_manifest_extension(entry->path))
		return 0;
	PLUMB_GROW(files->items, files->count, files->capacity);
	manifest_file *file = &files->items[files->count++];
	memset(file, 0, sizeof(*file));
	char *path = plumb_path_join(files->base, entry->path);
	file->part = part_new(path, entry->id);
	free(path);
	return 0;
}

/* --- YAML to JSON, for render and for plan files ------------------------------------------ */

static json_t *scalar_to_json(struct fy_node *node)
{
	size_t len = 0;
	const char *text = fy_node_get_scalar(node, &len);
	char *s = plumb_xstrndup(text ? text : "", len);
	json_t *value = NULL;

	if (fy_node_get_style(node) == FYNS_PLAIN) {
		char *end;
		if (!strcmp(s, "true") || !strcmp(s, "false")) {
			value = json_boolean(s[0] == 't');
		} else if (!strcmp(s, "null") || !strcmp(s, "~") || !*s) {
			value = json_null();
		} else if ((s[0] >= '0' && s[0] <= '9') || s[0] == '-') {
			long long n = strtoll(s, &end, 10);
			/* Leading zeros stay strings: 0644 is a mode, not the number 644. */
			if (!*end && !(s[0] == '0' && s[1]) && !(s[0] == '-' && s[1] == '0'))
				value = json_integer(n);
		}
	}
	if (!value)
		value = json_stringn(s, len);
	free(s);
	return value;
}

static json_t *node_to_json(struct fy_node *node, unsigned depth)
{
	if (!node)
		return json_null();
	if (depth > MAX_YAML_DEPTH)
		return NULL;
	switch (fy_node_get_type(node)) {
	case FYNT_SCALAR:
		return scalar_to_json(node);
	case FYNT_SEQUENCE: {
		json_t *array = json_array();
		void *iter = NULL;
		struct fy_node *item;
		while ((item = fy_node_sequence_iterate(node, &iter)) != NULL) {
			json_t *v = node_to_json(item, depth + 1);
			if (!v) {
				json_decref(array);
				return NULL;
			}
			json_array_append_new(array, v);
		}
		return array;
	}
	case FYNT_MAPPING: {
		json_t *object = json_object();
		void *iter = NULL;
		struct fy_node_pair *pair;
		while ((pair = fy_node_mapping_iterate(node, &iter)) != NULL) {
			struct fy_node *key = fy_node_pair_key(pair);
			size_t len = 0;
			const char *k = key && fy_node_get_type(key) == FYNT_SCALAR ? fy_node_get_scalar(key, &len) : "";
			char *name = plumb_xstrndup(k ? k : "", len);
			json_t *v = node_to_json(fy_node_pair_value(pair), depth + 1);
			if (!v) {
				free(name);
				json_decref(object);
				return NULL;
			}
			json_object_set_new(object, name, v);
			free(name);
		}
		return object;
	}
	}
	return NULL;
}

/* --- documents to resources ---------------------------------------------------------------- */

/* A scalar field of a mapping as a new string; NULL (with a diagnostic if required) otherwise. */
static char *string_field(struct fy_node *map, const char *name, const char *where, const char *file,
			  plumb_position map_pos, plumb_diags *diags)
{
	struct fy_node *node = map ? fy_node_mapping_lookup_by_string(map, name, FY_NT) : NULL;
	size_t len = 0;
	const char *text;

	if (!node) {
		plumb_diags_add(diags, map_pos, "missing required field \"%s%s\"", where, name);
		return NULL;
	}
	if (fy_node_get_type(node) != FYNT_SCALAR || !(text = fy_node_get_scalar(node, &len)) || !len) {
		plumb_diags_add(diags, plumb_spec_node_position(node, file), "%s%s: expected a non-empty string", where,
				name);
		return NULL;
	}
	return plumb_xstrndup(text, len);
}

/* Report every key of map not in allowed; returns how many. */
static unsigned unknown_keys(struct fy_node *map, const char *const *allowed, const char *where, const char *file,
			     plumb_diags *diags)
{
	unsigned n = 0;
	void *iter = NULL;
	struct fy_node_pair *pair;
	while ((pair = fy_node_mapping_iterate(map, &iter)) != NULL) {
		struct fy_node *key = fy_node_pair_key(pair);
		size_t len = 0;
		const char *k = key && fy_node_get_type(key) == FYNT_SCALAR ? fy_node_get_scalar(key, &len) : NULL;
		const char *const *a;
		for (a = allowed; k && *a; a++)
			if (strlen(*a) == len && !memcmp(*a, k, len))
				break;
		if (!k || !*a) {
			plumb_diags_add(diags, plumb_spec_node_position(key, file), "%sunknown field \"%.*s\"", where,
					(int)len, k ? k : "?");
			n++;
		}
	}
	return n;
}

static void check_string_map(struct fy_node *map, const char *where, const char *file, plumb_diags *diags)
{
	if (!map)
		return;
	if (fy_node_get_type(map) != FYNT_MAPPING) {
		plumb_diags_add(diags, plumb_spec_node_position(map, file), "%s: expected a mapping of strings", where);
		return;
	}
	void *iter = NULL;
	struct fy_node_pair *pair;
	while ((pair = fy_node_mapping_iterate(map, &iter)) != NULL) {
		struct fy_node *value = fy_node_pair_value(pair);
		if (value && fy_node_get_type(value) != FYNT_SCALAR)
			plumb_diags_add(diags, plumb_spec_node_position(value, file), "%s: values must be strings", where);
	}
}

static const char *const document_fields[] = { "apiVersion", "kind", "metadata", "spec", NULL };
static const char *const metadata_fields[] = { "name", "labels", "annotations", NULL };

/* What providers claim: their apiVersions (api_version NULL), or their kinds of api_version. */
static void describe_known_kinds(plumb_buf *out, const char *api_version)
{
	const char *sep = "";
	for (const plumb_provider *const *p = plumb_providers(); *p; p++) {
		const char *claimed = (*p)->describe(api_version);
		if (claimed) {
			plumb_buf_printf(out, "%s%s", sep, claimed);
			sep = ", ";
		}
	}
}

/* spec.sensitive: true marks a resource whose content is shown nowhere. */
static int is_sensitive(struct fy_node *spec)
{
	struct fy_node *flag = spec && fy_node_get_type(spec) == FYNT_MAPPING
				       ? fy_node_mapping_lookup_by_string(spec, "sensitive", FY_NT)
				       : NULL;
	size_t len = 0;
	const char *text = flag && fy_node_get_type(flag) == FYNT_SCALAR ? fy_node_get_scalar(flag, &len) : NULL;
	return text && len == 4 && !memcmp(text, "true", 4);
}

#define SENSITIVE_MASK "(sensitive)"

/* Replace spec.content in both renderings of a sensitive resource. */
static void mask_content(struct fy_document *doc, struct fy_node *spec, json_t *json)
{
	struct fy_node_pair *pair = fy_node_mapping_lookup_pair_by_string(spec, "content", FY_NT);
	if (pair)
		fy_node_pair_set_value(pair, fy_node_create_scalar(doc, SENSITIVE_MASK, FY_NT));
	json_t *json_spec = json_object_get(json, "spec");
	if (json_object_get(json_spec, "content"))
		json_object_set_new(json_spec, "content", json_string(SENSITIVE_MASK));
}

/* Name the field at fault: kind when the apiVersion is known, else the apiVersion; list what is known. */
static void report_unknown_kind(plumb_diags *diags, const plumb_resource *resource, struct fy_node *api_node,
				struct fy_node *kind_node, const char *file)
{
	plumb_buf known = PLUMB_BUF_INIT;
	int api_known = !strcmp(resource->api_version, PLUMB_ENGINE_API_VERSION);
	for (const plumb_provider *const *p = plumb_providers(); *p; p++)
		api_known |= (*p)->describe(resource->api_version) != NULL;
	if (!strcmp(resource->api_version, PLUMB_ENGINE_API_VERSION)) {
		plumb_buf_puts(&known, "Application, Secret");
	} else {
		describe_known_kinds(&known, api_known ? resource->api_version : NULL);
		if (!api_known)
			plumb_buf_puts(&known, ", " PLUMB_ENGINE_API_VERSION);
	}
	if (api_known)
		plumb_diags_add(diags, plumb_spec_node_position(kind_node, file),
				"unknown kind \"%s\" for apiVersion %s (known: %s)", resource->kind, resource->api_version,
				known.ptr);
	else
		plumb_diags_add(diags, plumb_spec_node_position(api_node, file), "unknown apiVersion \"%s\" (known: %s)",
				resource->api_version, known.ptr);
	plumb_buf_release(&known);
}

static void load_document(manifest_part *file, struct fy_document *doc, plumb_source *source)
{
	plumb_diags *diags = &file->diags;
	struct fy_node *root = fy_document_root(doc);
	plumb_position pos = plumb_spec_node_position(root, file->path);
	size_t errors = diags->count;
	plumb_resource resource;

	memset(&resource, 0, sizeof(resource));
	if (!root)
		return; /* an empty document, e.g. after a trailing "---" */
	if (fy_node_get_type(root) != FYNT_MAPPING) {
		plumb_diags_add(diags, pos, "a manifest must be a mapping with apiVersion, kind, metadata and spec");
		return;
	}
	unknown_keys(root, document_fields, "", file->path, diags);
	resource.api_version = string_field(root, "apiVersion", "", file->path, pos, diags);
	resource.kind = string_field(root, "kind", "", file->path, pos, diags);

	struct fy_node *metadata = fy_node_mapping_lookup_by_string(root, "metadata", FY_NT);
	if (!metadata) {
		plumb_diags_add(diags, pos, "missing required field \"metadata\"");
	} else if (fy_node_get_type(metadata) != FYNT_MAPPING) {
		plumb_diags_add(diags, plumb_spec_node_position(metadata, file->path), "metadata: expected a mapping");
	} else {
		unknown_keys(metadata, metadata_fields, "metadata: ", file->path, diags);
		resource.name = string_field(metadata, "name", "metadata.", file->path,
					     plumb_spec_node_position(metadata, file->path), diags);
		check_string_map(fy_node_mapping_lookup_by_string(metadata, "labels", FY_NT), "metadata.labels",
				 file->path, diags);
		check_string_map(fy_node_mapping_lookup_by_string(metadata, "annotations", FY_NT),
				 "metadata.annotations", file->path, diags);
	}

	if (resource.api_version && resource.kind) {
		struct fy_node *api_node = fy_node_mapping_lookup_by_string(root, "apiVersion", FY_NT);
		struct fy_node *kind_node = fy_node_mapping_lookup_by_string(root, "kind", FY_NT);
		resource.provider = plumb_provider_find(resource.api_version, resource.kind);
		int engine_kind = !strcmp(resource.api_version, PLUMB_ENGINE_API_VERSION) &&
				  (!strcmp(resource.kind, "Application") || !strcmp(resource.kind, "Secret"));
		if (!resource.provider && !engine_kind)
			report_unknown_kind(diags, &resource, api_node, kind_node, file->path);
	}

	json_t *json = node_to_json(root, 0);
	if (!json)
		plumb_diags_add(diags, pos, "the document nests deeper than %d levels", MAX_YAML_DEPTH);

	if (diags->count > errors) {
		json_decref(json);
		resource_release(&resource);
		return;
	}
	resource.identity = plumb_xprintf("%s/%s/%s", resource.api_version, resource.kind, resource.name);
	resource.file = plumb_xstrdup(file->path);
	resource.line = pos.line;
	resource.column = pos.column;

	PLUMB_GROW(file->set.resources, file->set.resource_count, file->set.resource_capacity);
	size_t index = file->set.resource_count++;
	file->set.resources[index] = resource;

	/* Problems with the spec as a whole are reported at its "spec:" key. */
	struct fy_node_pair *spec_pair = fy_node_mapping_lookup_pair_by_string(root, "spec", FY_NT);
	struct fy_node *spec_node = spec_pair ? fy_node_pair_value(spec_pair) : NULL;
	plumb_spec spec = { spec_node, file->path, "spec",
			    spec_pair ? plumb_spec_node_position(fy_node_pair_key(spec_pair), file->path) : pos, NULL };
	if (file->set.resources[index].provider)
		file->set.resources[index].provider->expand(&file->set, index, &spec, source, diags);
	else if (!strcmp(resource.kind, "Secret"))
		plumb_secret_decode(&file->set, index, &spec, source, diags);
	else
		plumb_application_decode(&file->set, index, &spec, diags);

	/* Renderings are made after expansion, which still needed the content that masking hides. */
	if (is_sensitive(spec_node))
		mask_content(doc, spec_node, json);
	file->set.resources[index].json = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(json);
	file->set.resources[index].yaml = fy_emit_document_to_string(
		doc, FYECF_MODE_BLOCK | FYECF_WIDTH_INF | FYECF_DOC_START_MARK_OFF);
	if (!file->set.resources[index].yaml)
		file->set.resources[index].yaml = plumb_xstrdup("");
}

/* Find an alias anywhere below node: plumb does not expand them (they can multiply a small file enormously). */
static struct fy_node *find_alias(struct fy_node *node, unsigned depth)
{
	if (!node || depth > MAX_YAML_DEPTH)
		return NULL;
	if (fy_node_is_alias(node))
		return node;
	void *iter = NULL;
	if (fy_node_get_type(node) == FYNT_SEQUENCE) {
		struct fy_node *item, *found;
		while ((item = fy_node_sequence_iterate(node, &iter)) != NULL)
			if ((found = find_alias(item, depth + 1)) != NULL)
				return found;
	} else if (fy_node_get_type(node) == FYNT_MAPPING) {
		struct fy_node_pair *pair;
		struct fy_node *found;
		while ((pair = fy_node_mapping_iterate(node, &iter)) != NULL) {
			if ((found = find_alias(fy_node_pair_key(pair), depth + 1)) != NULL ||
			    (found = find_alias(fy_node_pair_value(pair), depth + 1)) != NULL)
				return found;
		}
	}
	return NULL;
}

/* libfyaml 0.7 reports errors only as text ("INPUT:LINE:COL: error: message"); keep it to parse. */
static void keep_diag_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	plumb_buf *out = user;
	(void)diag;
	if (out->len + len < 65536)
		plumb_buf_add(out, buf, len);
}

/* Turn the library's "INPUT:LINE:COL: error: message" lines into diagnostics of file. */
static void add_syntax_errors(manifest_part *file, const char *text)
{
	for (const char *line = text; *line;) {
		const char *end = strchrnul(line, '\n');
		const char *marker = memmem(line, (size_t)(end - line), ": error: ", 9);
		if (marker) {
			/* Walk back over ":COL" and ":LINE". */
			const char *p = marker;
			unsigned numbers[2] = { 0, 0 };
			int ok = 1;
			for (int i = 1; i >= 0 && ok; i--) {
				const char *digits = p;
				while (digits > line && digits[-1] >= '0' && digits[-1] <= '9')
					digits--;
				ok = digits < p && digits > line && digits[-1] == ':';
				if (ok)
					numbers[i] = (unsigned)strtoul(digits, NULL, 10);
				p = digits - 1;
			}
			plumb_position pos = { file->path, ok ? numbers[0] : 0, ok ? numbers[1] : 0 };
			plumb_diags_add(&file->diags, pos, "YAML syntax error: %.*s", (int)(end - marker - 9), marker + 9);
		}
		line = *end ? end + 1 : end;
	}
}

static int load_file(manifest_part *file, plumb_source *source)
{
	plumb_buf text = PLUMB_BUF_INIT;
	struct fy_diag_cfg diag_cfg;
	struct fy_diag *diag = NULL;
	plumb_buf diag_text = PLUMB_BUF_INIT;
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_1_2 };
	struct fy_parser *parser = NULL;
	struct fy_document *doc;
	plumb_position file_pos = { file->path, 0, 0 };
	int error = plumb_source_read_blob(&text, source, file->blob, PLUMB_MANIFEST_MAX);

	if (error == PLUMB_EINVALID) {
		plumb_diags_add(&file->diags, file_pos, "manifest is larger than %u bytes", PLUMB_MANIFEST_MAX);
		return 0;
	}
	if (error < 0)
		return plumb_error_wrap(error, "%s", file->path);

	/* Errors are collected with their positions, never printed by the library. */
	fy_diag_cfg_default(&diag_cfg);
	diag_cfg.fp = NULL;
	diag_cfg.output_fn = keep_diag_output;
	diag_cfg.user = &diag_text;
	diag_cfg.colorize = false;
	diag_cfg.show_source = false;
	diag = fy_diag_create(&diag_cfg);
	cfg.diag = diag;
	parser = diag ? fy_parser_create(&cfg) : NULL;
	if (!parser || fy_parser_set_string(parser, text.ptr, text.len) != 0) {
		error = plumb_error_set(PLUMB_ERROR, "%s: cannot set up the YAML parser", file->path);
		goto done;
	}
	while ((doc = fy_parse_load_document(parser)) != NULL) {
		struct fy_node *alias = find_alias(fy_document_root(doc), 0);
		if (alias)
			plumb_diags_add(&file->diags, plumb_spec_node_position(alias, file->path),
					"YAML aliases are not supported in manifests");
		else
			load_document(file, doc, source);
		fy_parse_document_destroy(parser, doc);
	}
	if (fy_parser_get_stream_error(parser)) {
		size_t before = file->diags.count;
		add_syntax_errors(file, diag_text.ptr);
		if (file->diags.count == before)
			plumb_diags_add(&file->diags, file_pos, "YAML syntax error");
	}
done:
	if (parser)
		fy_parser_destroy(parser);
	if (diag)
		fy_diag_destroy(diag);
	plumb_buf_release(&diag_text);
	plumb_buf_release(&text);
	return error;
}

/* --- merging, identities and claims -------------------------------------------------------- */

/* A manifest file is content when it lies in a path some resource reads as content. */
static int lies_in_content(const char *file, const char *load_path, manifest_files *files)
{
	for (size_t i = 0; i < files->count; i++) {
		plumb_manifest_set *set = &files->items[i].part->set;
		for (size_t j = 0; j < set->content_path_count; j++) {
			const char *content = set->content_paths[j];
			if (!strcmp(file, content))
				return 1;
			/* A Tree folder that holds the manifests themselves is not excluded wholesale. */
			if (plumb_path_is_within(file, content) && !plumb_path_is_within(load_path, content))
				return 1;
		}
	}
	return 0;
}

/* Add what part declares to the view into (taking a reference to part). */
static void view_part(plumb_manifest_set *into, manifest_part *part)
{
	const plumb_manifest_set *from = &part->set;
	size_t offset = into->resource_count;
	PLUMB_GROW(into->parts, into->part_count, into->part_capacity);
	into->parts[into->part_count++] = part_ref(part);
	PLUMB_RESERVE(into->objects, into->object_count, into->object_capacity, from->object_count);
	for (size_t i = 0; i < from->resource_count; i++) {
		PLUMB_GROW(into->resources, into->resource_count, into->resource_capacity);
		into->resources[into->resource_count++] = from->resources[i];
	}
	for (size_t i = 0; i < from->object_count; i++) {
		plumb_object *o = &into->objects[into->object_count++];
		*o = from->objects[i];
		o->resource += offset;
	}
	for (size_t i = 0; i < from->application_count; i++) {
		PLUMB_GROW(into->applications, into->application_count, into->application_capacity);
		into->applications[into->application_count] = from->applications[i];
		into->applications[into->application_count++].resource += offset;
	}
	for (size_t i = 0; i < from->secret_count; i++) {
		PLUMB_GROW(into->secrets, into->secret_count, into->secret_capacity);
		plumb_secret *secret = &into->secrets[into->secret_count++];
		*secret = from->secrets[i];
		secret->resource += offset;
	}
	for (size_t i = 0; i < from->content_path_count; i++) {
		PLUMB_GROW(into->content_paths, into->content_path_count, into->content_path_capacity);
		into->content_paths[into->content_path_count++] = from->content_paths[i];
	}
}

static void copy_diags(plumb_diags *into, const plumb_diags *from)
{
	for (size_t i = 0; i < from->count; i++) {
		const plumb_diag *d = &from->items[i];
		plumb_position pos = { d->file, d->line, d->column };
		plumb_diags_add(into, pos, "%s", d->message);
	}
}

static int compare_identity(const void *a, const void *b)
{
	const plumb_resource *ra = *(const plumb_resource *const *)a, *rb = *(const plumb_resource *const *)b;
	int c = strcmp(ra->identity, rb->identity);
	return c ? c : (ra < rb ? -1 : ra > rb);
}

static void check_identities(plumb_manifest_set *set, plumb_diags *diags)
{
	const plumb_resource **sorted = plumb_xcalloc(set->resource_count, sizeof(*sorted));
	for (size_t i = 0; i < set->resource_count; i++)
		sorted[i] = &set->resources[i];
	qsort(sorted, set->resource_count, sizeof(*sorted), compare_identity);
	for (size_t i = 1; i < set->resource_count; i++) {
		const plumb_resource *first = sorted[i - 1], *second = sorted[i];
		if (strcmp(first->identity, second->identity) != 0)
			continue;
		plumb_position pos = { second->file, second->line, second->column };
		plumb_diags_add(diags, pos, "duplicate resource %s (first declared at %s:%u:%u)", second->identity,
				first->file, first->line, first->column);
	}
	free(sorted);
}

static int compare_object(const void *a, const void *b)
{
	const plumb_object *oa = *(const plumb_object *const *)a, *ob = *(const plumb_object *const *)b;
	int c = strcmp(oa->provider->name, ob->provider->name);
	if (!c)
		c = plumb_path_compare(oa->key, ob->key);
	return c ? c : (oa < ob ? -1 : oa > ob);
}

static void report_claim(plumb_manifest_set *set, const plumb_object *a, const plumb_object *b, const char *what,
			 plumb_diags *diags)
{
	const plumb_resource *ra = &set->resources[a->resource], *rb = &set->resources[b->resource];
	plumb_diags_add(diags, b->position, "%s %s %s (declared by %s at %s:%u:%u)", b->display, what, a->display,
			ra->identity, a->position.file, a->position.line, a->position.column);
	(void)rb;
}

static void check_claims(plumb_manifest_set *set, plumb_diags *diags)
{
	const plumb_object **sorted = plumb_xcalloc(set->object_count, sizeof(*sorted));
	int in_order = 1;
	for (size_t i = 0; i < set->object_count; i++) {
		sorted[i] = &set->objects[i];
		in_order = in_order && (i == 0 || compare_object(&sorted[i - 1], &sorted[i]) < 0);
	}
	/* A Tree declares its objects in git's order, which is mostly this order already. */
	if (!in_order)
		qsort(sorted, set->object_count, sizeof(*sorted), compare_object);
	for (size_t i = 0; i + 1 < set->object_count; i++) {
		const plumb_object *a = sorted[i];
		for (size_t j = i + 1; j < set->object_count; j++) {
			const plumb_object *b = sorted[j];
			if (a->provider != b->provider)
				break;
			if (!strcmp(a->key, b->key)) {
				report_claim(set, a, b, "is also claimed as", diags);
				continue;
			}
			if (!plumb_path_is_within(b->key, a->key))
				break;
			if (strcmp(a->kind, "Directory") != 0)
				report_claim(set, a, b, "lies below, which is not a directory:", diags);
			break;
		}
	}
	free(sorted);
}

int plumb_load(plumb_manifest_set *out, plumb_source *source, const char *commit, const char *path,
	       plumb_diags *diags)
{
	manifest_files files = { NULL, 0, 0, "" };
	plumb_source_entry top;
	char *load_path = NULL;
	size_t diags_before = diags->count;
	int error;

	out->commit = plumb_xstrdup(commit);
	if ((error = plumb_path_normalize(&load_path, path && *path ? path : ".", 0)) < 0)
		return plumb_error_wrap(error, "--path");
	out->path = plumb_xstrdup(load_path);

	if ((error = plumb_source_stat(&top, source, commit, load_path)) < 0) {
		if (error == PLUMB_ENOTFOUND)
			error = plumb_error_set(PLUMB_ENOTFOUND, "path '%s' does not exist in commit %.12s",
						*load_path ? load_path : ".", commit);
		goto done;
	}
	if (top.type == PLUMB_ENTRY_TREE) {
		files.base = load_path;
		if ((error = plumb_source_walk(source, commit, load_path, collect_file, &files)) < 0)
			goto done;
	} else if (top.type == PLUMB_ENTRY_FILE || top.type == PLUMB_ENTRY_EXECUTABLE) {
		plumb_source_entry entry = top;
		entry.path = "";
		files.base = load_path;
		PLUMB_GROW(files.items, files.count, files.capacity);
		memset(&files.items[0], 0, sizeof(files.items[0]));
		files.items[0].part = part_new(load_path, entry.id);
		files.count = 1;
	} else {
		error = plumb_error_set(PLUMB_EINVALID, "path '%s' is neither a folder nor a file", load_path);
		goto done;
	}

	manifest_cache *cache = cache_of(source);
	for (size_t i = 0; i < files.count; i++) {
		manifest_part *found = cache_take(cache, source, commit, files.items[i].part->path,
						  files.items[i].part->blob);
		if (found) {
			part_unref(files.items[i].part);
			files.items[i].part = found;
			continue;
		}
		manifest_part *part = files.items[i].part;
		/* Providers read content from the commit of the set they expand into. */
		part->set.commit = plumb_xstrdup(commit);
		plumb_source_record_lookups(&part->lookups);
		error = load_file(part, source);
		plumb_source_record_lookups(NULL);
		atomic_fetch_add(&files_parsed, 1);
		if (error < 0)
			goto done;
		/* Kept for as long as the commit is served: without the room left for growth. */
		if (part->set.object_capacity > part->set.object_count && part->set.object_count) {
			part->set.objects = plumb_xrealloc(part->set.objects, part->set.object_count * sizeof(plumb_object));
			part->set.object_capacity = part->set.object_count;
		}
		cache_put(cache, part);
	}

	for (size_t i = 0; i < files.count; i++)
		files.items[i].is_content = files.count > 1 &&
					    lies_in_content(files.items[i].part->path, load_path, &files);
	for (size_t i = 0; i < files.count; i++) {
		manifest_file *file = &files.items[i];
		if (file->is_content)
			continue;
		copy_diags(diags, &file->part->diags);
		view_part(out, file->part);
	}
	check_identities(out, diags);
	check_claims(out, diags);
	plumb_secret_check_references(out, diags);
	if (diags->count > diags_before)
		error = PLUMB_EINVALID;

done:
	for (size_t i = 0; i < files.count; i++)
		part_unref(files.items[i].part);
	free(files.items);
	free(load_path);
	return error;
}
