#include "util/common.h"
#include "load/load.h"
#include "load/internal.h"
#include "load/application.h"
#include "providers/provider.h"
#include "load/directory.h"
#include "render/jsonnet.h"
#include "render/helm.h"
#include "render/kustomize_scan.h"
#include "render/render.h"
#include "secrets/secret.h"
#include "util/path.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>


/* A *.jsonnet file: what its evaluation needs (its part is "PATH (jsonnet)", keyed by plumb_jsonnet_key). */
typedef struct {
	char *path;
	char *app_path; /* the folder loaded: imports are looked for there last */
	char *options;  /* Argo CD's directory.jsonnet, as JSON; NULL: none */
} jsonnet_file;

typedef struct {
	manifest_part *part;
	int is_content; /* read as content by some resource, so not a manifest */
	int parsed;     /* rendered and parsed already */
	int rendered;   /* a renderer's output, keyed by what determines it (variables included) */
	jsonnet_file *jsonnet;
} manifest_file;

typedef struct {
	manifest_file *items;
	size_t count;
	size_t capacity;
	const char *base; /* the folder being walked */
	plumb_directory_filter filter; /* which of its files are manifests */
	char *substitute; /* the variables a Flux Kustomization substitutes (JSON), or NULL; its parts are its own */
	char *common_metadata; /* the labels and annotations it sets on every object (JSON), or NULL */
	int secret_placeholders; /* its documents may take values of the Secrets a Flux application carries */
	char *render_options; /* what the renderer ran with, when it pinned what the target's options left open */
	char **rendered; /* folders below it that hold a kustomization: kustomize's input, not manifests */
	size_t rendered_count;
	size_t rendered_capacity;
} manifest_files;

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
		plumb_resource_release(&set->resources[i]);
	for (size_t i = 0; i < set->object_count; i++) {
		plumb_object *o = &set->objects[i];
		if (o->desired && o->provider && o->provider->free_desired)
			o->provider->free_desired(o->desired);
		free(o->display);
		plumb_object_release_secrets(o);
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
	free(set->render_options);
	memset(set, 0, sizeof(*set));
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
	for (size_t i = 0; i < part->name_count; i++)
		free(part->names[i]);
	free(part->names);
	free(part->path);
	free(part);
}

/* --- the parse cache ------------------------------------------------------------------------- */

#define CACHE_BUCKETS 1024u

typedef struct {
	manifest_part *buckets[CACHE_BUCKETS];
	plumb_render_options render;
	char *kustomize;
	char *helm;
	char *state_dir;
	char *self;
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
	free(cache->kustomize);
	free(cache->helm);
	free(cache->state_dir);
	free(cache->self);
	plumb_render_versions_free(cache->render.versions);
	free(cache);
}

static manifest_cache *cache_of(plumb_source *source)
{
	manifest_cache *cache = plumb_source_attached(source);
	if (!cache) {
		cache = plumb_xcalloc(1, sizeof(*cache));
		cache->render.versions = plumb_render_versions_new();
		plumb_source_attach(source, cache, cache_release);
	}
	return cache;
}

void plumb_load_set_render(plumb_source *source, const plumb_render_options *options)
{
	manifest_cache *cache = cache_of(source);
	free(cache->kustomize);
	free(cache->helm);
	free(cache->state_dir);
	free(cache->self);
	plumb_render_versions *versions = cache->render.versions;
	cache->render = *options;
	cache->render.versions = versions;
	cache->kustomize = options->kustomize ? plumb_xstrdup(options->kustomize) : NULL;
	cache->helm = options->helm ? plumb_xstrdup(options->helm) : NULL;
	cache->render.helm = cache->helm;
	cache->state_dir = options->state_dir ? plumb_xstrdup(options->state_dir) : NULL;
	cache->render.kustomize = cache->kustomize;
	cache->render.state_dir = cache->state_dir;
	cache->self = options->self ? plumb_xstrdup(options->self) : NULL;
	cache->render.self = cache->self;
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

static int cache_has(manifest_cache *cache, const char *path, const char *blob)
{
	for (manifest_part *part = cache->buckets[bucket_of(path, blob)]; part; part = part->next)
		if (!strcmp(part->blob, blob) && !strcmp(part->path, path))
			return 1;
	return 0;
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
		if (part->set.objects[i].secret_count)
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
	const char *slash = strrchr(entry->path, '/');
	const char *name = slash ? slash + 1 : entry->path;
	if (!is_hidden(entry->path) && (plumb_render_is_kustomization(name) || plumb_render_is_chart(name))) {
		PLUMB_GROW(files->rendered, files->rendered_count, files->rendered_capacity);
		char *dir = plumb_path_dirname(entry->path);
		files->rendered[files->rendered_count++] = plumb_path_join(files->base, dir);
		free(dir);
		return 0;
	}
	if (is_hidden(entry->path) || !plumb_directory_filter_keeps(&files->filter, entry->path))
		return 0;
	PLUMB_GROW(files->items, files->count, files->capacity);
	manifest_file *file = &files->items[files->count++];
	memset(file, 0, sizeof(*file));
	char *path = plumb_path_join(files->base, entry->path);
	file->part = part_new(path, entry->id);
	free(path);
	return 0;
}

/*
 * A folder below a plain folder that holds a kustomization or a chart is
 * kustomize's or helm's input (a base, an overlay, a component, a chart):
 * it is rendered when an Application or --path names it, and its files are
 * no manifests of the folder around it.
 */
static void drop_rendered_input(manifest_files *files)
{
	size_t kept = 0;
	for (size_t i = 0; i < files->count; i++) {
		int input = 0;
		for (size_t j = 0; j < files->rendered_count && !input; j++)
			input = plumb_path_is_within(files->items[i].part->path, files->rendered[j]);
		if (input)
			part_unref(files->items[i].part);
		else
			files->items[kept++] = files->items[i];
	}
	files->count = kept;
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

/*
 * A folder a renderer renders: one part, "FOLDER (RENDERER)", keyed by what
 * determines the output, parsed from what the renderer printed.
 */
static int load_rendered(manifest_files *files, plumb_source *source, const char *commit, const char *path,
			 const plumb_render_target *target, plumb_diags *diags)
{
	manifest_cache *cache = cache_of(source);
	plumb_render_job job = { 0 };
	plumb_buf text = PLUMB_BUF_INIT;
	char blob[PLUMB_OID_HEXSZ + 1];
	int error = plumb_render_prepare(&job, source, commit, path, target, &cache->render, diags);
	if (error < 0) {
		if (error != PLUMB_EINVALID)
			error = plumb_error_wrap(error, "%s (%s)", *path ? path : ".",
						 job.renderer ? job.renderer : "render");
		goto done;
	}
	/* A chart version range pinned to a release: what a plan keeps, so that its apply renders that release. */
	if (job.pinned && target && target->options)
		files->render_options = plumb_helm_options_pinned(target->options, job.pinned);
	char *name = plumb_xprintf("%s (%s)", job.remote ? job.remote : *path ? path : ".", job.renderer);
	memcpy(blob, job.key, PLUMB_OID_HEXSZ);
	blob[PLUMB_OID_HEXSZ] = '\0';
	manifest_part *part = part_new(name, blob);
	free(name);
	files->base = path;
	PLUMB_GROW(files->items, files->count, files->capacity);
	memset(&files->items[files->count], 0, sizeof(files->items[0]));
	files->items[files->count].rendered = 1;
	files->items[files->count++].part = part;
	if (cache_has(cache, part->path, part->blob))
		goto done;
	if ((error = plumb_render_output(&text, &job, source, commit, &cache->render, diags)) < 0)
		goto done;
	part->rendered = &text;
	part->render_folder = job.remote ? NULL : path; /* a chart of a Helm repository has no folder here */
	part->renderer = job.renderer;
	part->substitute = files->substitute;
	part->common_metadata = files->common_metadata;
	part->set.commit = plumb_xstrdup(commit);
	part->set.secret_placeholders = files->secret_placeholders;
	error = plumb_load_file(part, source);
	part->rendered = NULL;
	part->render_folder = part->renderer = NULL;
	part->substitute = part->common_metadata = NULL;
	atomic_fetch_add(&files_parsed, 1);
	files->items[files->count - 1].parsed = 1;
	if (error == 0)
		cache_put(cache, part);
done:
	plumb_buf_release(&text);
	plumb_render_job_release(&job);
	return error;
}

/*
 * The object the target's options hold at name, as JSON, or NULL when there is
 * none or it is empty: a Flux Kustomization's variables ("substitute":
 * without any, Flux substitutes nothing, and ${var} stays as written) and
 * common metadata ("commonMetadata").
 */
static char *option_json(const json_t *options, const char *name)
{
	json_t *value = json_object_get(options, name);
	return json_is_object(value) && json_object_size(value) ? json_dumps(value, JSON_COMPACT) : NULL;
}

/*
 * The plumb Secrets a Flux application carries from the folder that
 * declares it (the target's options, "secrets": load/flux.h), as a part of
 * their own, or NULL when it carries none. The part's names own the files
 * their positions name.
 */
static manifest_part *carried_secrets(const json_t *options)
{
	json_t *secrets = json_object_get(options, "secrets"), *item;
	manifest_part *part = NULL;
	size_t i;
	char none[PLUMB_OID_HEXSZ + 1] = { 0 };
	json_array_foreach(secrets, i, item) {
		plumb_secret secret;
		char *file;
		if (plumb_secret_from_json(&secret, &file, item) < 0) {
			plumb_error_clear();
			continue;
		}
		if (!part)
			part = part_new("(secrets of its Flux application)", none);
		PLUMB_GROW(part->names, part->name_count, part->name_capacity);
		part->names[part->name_count++] = file;
		PLUMB_GROW(part->set.secrets, part->set.secret_count, part->set.secret_capacity);
		part->set.secrets[part->set.secret_count++] = secret;
	}
	return part;
}

/*
 * A Secret the folder (set, before the carried ones join it) declares under
 * the name of one its Flux application carries: which is meant is unclear.
 */
static void check_carried(const plumb_manifest_set *set, const manifest_part *carried, plumb_diags *diags)
{
	for (size_t i = 0; i < carried->set.secret_count; i++) {
		const plumb_secret *from = &carried->set.secrets[i];
		for (size_t k = 0; k < set->secret_count; k++) {
			const plumb_secret *own = &set->secrets[k];
			if (!strcmp(own->name, from->name))
				plumb_diags_add(diags, own->position,
						"Secret %s: the Flux application reading this folder takes a Secret of this "
						"name from %s:%u: give one of them another name",
						own->name, from->position.file, from->position.line);
		}
	}
}

/*
 * A *.jsonnet file's part renamed "PATH (jsonnet)" and keyed by its blob and
 * the application's jsonnet options, which target's options hold.
 */
static void key_jsonnet(manifest_file *file, plumb_source *source, const char *commit, const char *load_path,
			int is_folder, const plumb_render_target *target)
{
	manifest_part *part = file->part;
	jsonnet_file *jsonnet = plumb_xcalloc(1, sizeof(*jsonnet));
	jsonnet->path = plumb_xstrdup(part->path);
	jsonnet->app_path = is_folder ? plumb_xstrdup(load_path) : plumb_path_dirname(load_path);
	/* An implicit application is named by its folder's last component, as a Helm release is. */
	const char *app = target && target->name && *target->name ? target->name : jsonnet->app_path;
	plumb_jsonnet_env env = { strrchr(app, '/') ? strrchr(app, '/') + 1 : app, target ? target->namespace : NULL,
				  commit, plumb_source_name(source), jsonnet->app_path };
	int error = plumb_jsonnet_options_of(&jsonnet->options, target ? target->options : NULL, &env);
	char key[PLUMB_OID_HEXSZ + 1];
	plumb_jsonnet_key(key, part->blob, jsonnet->app_path, jsonnet->options);
	char *name = plumb_xprintf("%s (jsonnet)", part->path);
	file->part = part_new(name, key);
	file->jsonnet = jsonnet;
	free(name);
	part_unref(part);
	if (error < 0) {
		plumb_position pos = { jsonnet->path, 0, 0 };
		plumb_diags_add(&file->part->diags, pos, "%s", plumb_error_last());
		file->parsed = 1;
	}
}

/* A *.jsonnet file evaluated (render/jsonnet.h), its objects parsed as a renderer's; its imports are lookups. */
static int load_jsonnet(manifest_file *file, plumb_source *source, const char *commit)
{
	manifest_cache *cache = cache_of(source);
	plumb_buf text = PLUMB_BUF_INIT;
	int error = plumb_jsonnet_evaluate(&text, source, commit, file->jsonnet->path, file->jsonnet->app_path,
					   file->jsonnet->options, &cache->render, &file->part->diags);
	if (error == 0) {
		file->part->rendered = &text;
		error = plumb_load_file(file->part, source);
		file->part->rendered = NULL;
	} else if (error == PLUMB_EINVALID) {
		error = 0;
	} else {
		error = plumb_error_wrap(error, "%s", file->jsonnet->path);
	}
	plumb_buf_release(&text);
	return error;
}

static void jsonnet_file_free(jsonnet_file *jsonnet)
{
	if (!jsonnet)
		return;
	free(jsonnet->path);
	free(jsonnet->app_path);
	free(jsonnet->options);
	free(jsonnet);
}

int plumb_load(plumb_manifest_set *out, plumb_source *source, const char *commit, const char *path,
	       const plumb_render_target *target, plumb_diags *diags)
{
	manifest_files files = { .base = "" };
	plumb_source_entry top;
	char *load_path = NULL;
	size_t diags_before = diags->count;
	int error;

	out->commit = plumb_xstrdup(commit);
	if ((error = plumb_path_normalize(&load_path, path && *path ? path : ".", 0)) < 0)
		return plumb_error_wrap(error, "--path");
	out->path = plumb_xstrdup(load_path);
	/* What a Flux application asks of its load, read from its options once. */
	json_t *options = target && target->options ? json_loads(target->options, 0, NULL) : NULL;
	files.substitute = option_json(options, "substitute");
	files.common_metadata = option_json(options, "commonMetadata");
	manifest_part *carried = carried_secrets(options);
	json_decref(options);
	files.secret_placeholders = carried != NULL;

	if ((error = plumb_source_stat(&top, source, commit, load_path)) < 0) {
		if (error == PLUMB_ENOTFOUND)
			error = plumb_error_set(PLUMB_ENOTFOUND, "path '%s' does not exist in commit %.12s",
						*load_path ? load_path : ".", commit);
		goto done;
	}
	/* A chart of a Helm repository is rendered whatever the path holds: it names none here. */
	if (plumb_helm_is_remote(target ? target->options : NULL) ||
	    (top.type == PLUMB_ENTRY_TREE && plumb_render_kind(source, commit, load_path))) {
		if ((error = load_rendered(&files, source, commit, load_path, target, diags)) < 0)
			goto done;
	} else if (top.type == PLUMB_ENTRY_TREE) {
		files.base = load_path;
		plumb_directory_filter_init(&files.filter, target ? target->options : NULL);
		if ((error = plumb_source_walk(source, commit, load_path, collect_file, &files)) < 0)
			goto done;
		drop_rendered_input(&files);
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
		if (plumb_jsonnet_is_program(files.items[i].part->path))
			key_jsonnet(&files.items[i], source, commit, load_path, top.type == PLUMB_ENTRY_TREE, target);
		if (files.items[i].parsed)
			continue;
		/* A file read with variables or common metadata is parsed each time: the cache keeps files as written. */
		int uncached = (files.substitute || files.common_metadata) && !files.items[i].rendered;
		manifest_part *found = uncached ? NULL
						: cache_take(cache, source, commit, files.items[i].part->path,
							     files.items[i].part->blob);
		if (found) {
			part_unref(files.items[i].part);
			files.items[i].part = found;
			continue;
		}
		manifest_part *part = files.items[i].part;
		/* Providers read content from the commit of the set they expand into. */
		part->set.commit = plumb_xstrdup(commit);
		part->set.secret_placeholders = files.secret_placeholders;
		plumb_source_record_lookups(&part->lookups);
		part->substitute = files.substitute;
		part->common_metadata = files.common_metadata;
		error = files.items[i].jsonnet ? load_jsonnet(&files.items[i], source, commit)
					       : plumb_load_file(part, source);
		part->substitute = part->common_metadata = NULL;
		plumb_source_record_lookups(NULL);
		atomic_fetch_add(&files_parsed, 1);
		if (error < 0)
			goto done;
		/* Kept for as long as the commit is served: without the room left for growth. */
		if (part->set.object_capacity > part->set.object_count && part->set.object_count) {
			part->set.objects = plumb_xrealloc(part->set.objects, part->set.object_count * sizeof(plumb_object));
			part->set.object_capacity = part->set.object_count;
		}
		if (!uncached)
			cache_put(cache, part);
	}

	for (size_t i = 0; i < files.count; i++)
		files.items[i].is_content =
			files.count > 1 && lies_in_content(files.items[i].jsonnet ? files.items[i].jsonnet->path
										  : files.items[i].part->path,
							   load_path, &files);
	for (size_t i = 0; i < files.count; i++) {
		manifest_file *file = &files.items[i];
		if (file->is_content)
			continue;
		plumb_diags_append(diags, &file->part->diags);
		view_part(out, file->part);
	}
	if (carried) {
		check_carried(out, carried, diags);
		view_part(out, carried);
	}
	out->render_options = files.render_options;
	files.render_options = NULL;
	check_identities(out, diags);
	check_claims(out, diags);
	plumb_secret_check_references(out, diags);
	if (diags->count > diags_before)
		error = PLUMB_EINVALID;

done:
	part_unref(carried);
	for (size_t i = 0; i < files.count; i++) {
		part_unref(files.items[i].part);
		jsonnet_file_free(files.items[i].jsonnet);
	}
	for (size_t i = 0; i < files.rendered_count; i++)
		free(files.rendered[i]);
	free(files.rendered);
	free(files.items);
	plumb_directory_filter_release(&files.filter);
	free(files.substitute);
	free(files.common_metadata);
	free(files.render_options);
	free(load_path);
	return error;
}
