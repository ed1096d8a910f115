#include "util/common.h"
#include "load/render_options.h"
#include "util/path.h"

#include <jansson.h>
#include <stdlib.h>

static const plumb_field helm_fields[] = {
	{ "releaseName", PLUMB_FIELD_STRING, 0 },
	{ "namespace", PLUMB_FIELD_STRING, 0 },
	{ "valueFiles", PLUMB_FIELD_LIST, 0 },
	{ "ignoreMissingValueFiles", PLUMB_FIELD_BOOL, 0 },
	{ "values", PLUMB_FIELD_STRING, 0 },
	{ "valuesObject", PLUMB_FIELD_MAP, 0 },
	{ "parameters", PLUMB_FIELD_MAPS, 0 },
	{ "fileParameters", PLUMB_FIELD_MAPS, 0 },
	{ "skipCrds", PLUMB_FIELD_BOOL, 0 },
	{ "skipSchemaValidation", PLUMB_FIELD_BOOL, 0 },
	{ "skipTests", PLUMB_FIELD_BOOL, 0 },
	{ "kubeVersion", PLUMB_FIELD_STRING, 0 },
	{ "apiVersions", PLUMB_FIELD_LIST, 0 },
	{ "passCredentials", PLUMB_FIELD_BOOL, 0 },
	{ "version", PLUMB_FIELD_STRING, 0 },
};
enum { H_RELEASE, H_NAMESPACE, H_VALUE_FILES, H_IGNORE_MISSING, H_VALUES, H_VALUES_OBJECT, H_PARAMETERS,
       H_FILE_PARAMETERS, H_SKIP_CRDS, H_SKIP_SCHEMA, H_SKIP_TESTS, H_KUBE_VERSION, H_API_VERSIONS,
       H_PASS_CREDENTIALS, H_VERSION, H_COUNT };

static const plumb_field parameter_fields[] = {
	{ "name", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "value", PLUMB_FIELD_STRING, 0 },
	{ "forceString", PLUMB_FIELD_BOOL, 0 },
};
static const plumb_field file_parameter_fields[] = {
	{ "name", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "path", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
};

static const plumb_field kustomize_fields[] = {
	{ "namePrefix", PLUMB_FIELD_STRING, 0 },
	{ "nameSuffix", PLUMB_FIELD_STRING, 0 },
	{ "namespace", PLUMB_FIELD_STRING, 0 },
	{ "images", PLUMB_FIELD_LIST, 0 },
	{ "commonLabels", PLUMB_FIELD_MAP, 0 },
	{ "commonAnnotations", PLUMB_FIELD_MAP, 0 },
	{ "replicas", PLUMB_FIELD_MAPS, 0 },
	{ "components", PLUMB_FIELD_LIST, 0 },
	{ "patches", PLUMB_FIELD_ANY, 0 },
	{ "forceCommonLabels", PLUMB_FIELD_BOOL, 0 },
	{ "forceCommonAnnotations", PLUMB_FIELD_BOOL, 0 },
	{ "version", PLUMB_FIELD_STRING, 0 },
};
enum { K_PREFIX, K_SUFFIX, K_NAMESPACE, K_IMAGES, K_LABELS, K_ANNOTATIONS, K_REPLICAS, K_COMPONENTS, K_PATCHES,
       K_FORCE_LABELS, K_FORCE_ANNOTATIONS, K_VERSION, K_COUNT };

static const plumb_field replica_fields[] = {
	{ "name", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "count", PLUMB_FIELD_INT, PLUMB_FIELD_REQUIRED },
};

static const plumb_field directory_fields[] = {
	{ "recurse", PLUMB_FIELD_BOOL, 0 },
	{ "include", PLUMB_FIELD_STRING, 0 },
	{ "exclude", PLUMB_FIELD_STRING, 0 },
	{ "jsonnet", PLUMB_FIELD_MAP, 0 },
};

typedef struct {
	const char *path; /* the application's path: relative paths start here */
	int lenient;
	const char *const *refs; /* other sources that are this repository: "$NAME/..." is from its root */
	size_t ref_count;
	plumb_diags *diags;
} decoder;

/* The rest of "$NAME/REST" when NAME is one of d's refs, else NULL. */
static const char *from_ref(const decoder *d, const char *value)
{
	const char *slash = strchr(value, '/');
	for (size_t i = 0; slash && i < d->ref_count; i++)
		if ((size_t)(slash - value - 1) == strlen(d->refs[i]) && !strncmp(value + 1, d->refs[i], strlen(d->refs[i])))
			return slash + 1;
	return NULL;
}

static unsigned decode(const decoder *d, plumb_value *values, const plumb_spec *spec, const plumb_field *fields,
		       size_t count)
{
	return d->lenient ? plumb_spec_decode_known(values, spec, fields, count, d->diags)
			  : plumb_spec_decode(values, spec, fields, count, d->diags);
}

/* A field that means nothing where helm runs without the network: said, not dropped. */
static void no_effect(const decoder *d, const plumb_value *value, const char *field, const char *why)
{
	if (value->present)
		plumb_diags_warn(d->diags, value->position, "%s: has no effect in plumb (%s)", field, why);
}

/*
 * A file the renderer reads, named relative to the application's path (or
 * from the repository's root with a leading "/", as Argo CD does): a
 * repository path with where it was written, or NULL with a diagnostic.
 */
static json_t *repository_file(const decoder *d, const char *value, plumb_position at, const char *field)
{
	if (strstr(value, "://")) {
		plumb_diags_add(d->diags, at, "%s: '%s' is a URL; helm runs without the network, so a file it reads "
				"must be in the repository", field, value);
		return NULL;
	}
	const char *rest = value[0] == '$' ? from_ref(d, value) : NULL;
	if (value[0] == '$' && !rest) {
		plumb_diags_add(d->diags, at, "%s: '%s' names a source that is not this repository: plumb reads "
				"value files from the application's own repository", field, value);
		return NULL;
	}
	if (!rest && !d->path) {
		plumb_diags_add(d->diags, at, "%s: '%s' would be read from inside a chart of a Helm repository, which "
				"plumb does not open: give value files from this repository ($NAME/... of a ref source) "
				"or values", field, value);
		return NULL;
	}
	char *resolved = rest		   ? plumb_path_resolve("", rest)
			 : value[0] == '/' ? plumb_path_resolve("", value + 1)
					   : plumb_path_resolve(d->path, value);
	if (!resolved || !*resolved) {
		plumb_diags_add(d->diags, at, "%s: '%s' leaves the repository", field, value);
		free(resolved);
		return NULL;
	}
	json_t *file = json_pack("{s:s, s:s, s:I, s:I}", "path", resolved, "file", at.file ? at.file : "", "line",
				 (json_int_t)at.line, "column", (json_int_t)at.column);
	free(resolved);
	return file;
}

static json_t *strings(const plumb_value *value)
{
	json_t *array = json_array();
	for (size_t i = 0; i < value->list_count; i++)
		json_array_append_new(array, json_string(value->list[i]));
	return array;
}

/* A map of strings (commonLabels), as written. */
static json_t *string_map(const decoder *d, const plumb_spec *spec)
{
	plumb_spec_entry *entries;
	size_t count;
	json_t *map = json_object();
	plumb_spec_entries(&entries, &count, spec, d->diags);
	char *json = plumb_spec_json(spec);
	json_t *values = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
	for (size_t i = 0; i < count; i++) {
		json_t *value = json_object_get(values, entries[i].key);
		if (entries[i].type != PLUMB_FIELD_STRING || json_is_object(value) || json_is_array(value)) {
			plumb_diags_add(d->diags, entries[i].value.position, "%s.%s: expected a string", plumb_spec_name(spec),
					entries[i].key);
			continue;
		}
		/* Labels are strings: "true" and 3 as the text they were written as. */
		json_object_set_new(map, entries[i].key,
				    json_is_string(value) ? json_copy(value)
				    : json_is_true(value) ? json_string("true")
				    : json_is_false(value) ? json_string("false")
				    : json_is_integer(value) ? json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(value))
							     : json_string(""));
	}
	json_decref(values);
	free(json);
	plumb_spec_entries_release(entries, count);
	return map;
}

static json_t *decode_helm(const decoder *d, const plumb_spec *spec)
{
	plumb_value h[H_COUNT];
	json_t *out = json_object();
	const char *name = plumb_spec_name(spec);
	if (decode(d, h, spec, helm_fields, H_COUNT)) {
		plumb_values_release(h, H_COUNT);
		return out;
	}
	if (h[H_RELEASE].present)
		json_object_set_new(out, "releaseName", json_string(h[H_RELEASE].string));
	if (h[H_NAMESPACE].present)
		json_object_set_new(out, "namespace", json_string(h[H_NAMESPACE].string));
	json_t *files = json_array();
	for (size_t i = 0; i < h[H_VALUE_FILES].list_count; i++) {
		char *field = plumb_xprintf("%s.valueFiles", name);
		json_t *file = repository_file(d, h[H_VALUE_FILES].list[i], h[H_VALUE_FILES].list_positions[i], field);
		if (file)
			json_array_append_new(files, file);
		free(field);
	}
	json_object_set_new(out, "valueFiles", files);
	json_object_set_new(out, "ignoreMissingValueFiles", json_boolean(h[H_IGNORE_MISSING].boolean));
	/* valuesObject wins over values, as in Argo CD; JSON is YAML, so both are one values file. */
	if (h[H_VALUES_OBJECT].present) {
		char *json = plumb_spec_json(h[H_VALUES_OBJECT].map);
		json_object_set_new(out, "values", json_string(json ? json : "{}"));
		free(json);
	} else if (h[H_VALUES].present) {
		json_object_set_new(out, "values", json_string(h[H_VALUES].string));
	}
	json_t *parameters = json_array();
	for (size_t i = 0; i < h[H_PARAMETERS].map_count; i++) {
		plumb_value p[3];
		if (!decode(d, p, h[H_PARAMETERS].maps[i], parameter_fields, 3))
			json_array_append_new(parameters, json_pack("{s:s, s:s, s:b}", "name", p[0].string, "value",
								    p[1].present ? p[1].string : "", "forceString",
								    p[2].present && p[2].boolean));
		plumb_values_release(p, 3);
	}
	json_object_set_new(out, "parameters", parameters);
	json_t *file_parameters = json_array();
	for (size_t i = 0; i < h[H_FILE_PARAMETERS].map_count; i++) {
		plumb_value p[2];
		if (!decode(d, p, h[H_FILE_PARAMETERS].maps[i], file_parameter_fields, 2)) {
			char *field = plumb_xprintf("%s.path", plumb_spec_name(h[H_FILE_PARAMETERS].maps[i]));
			json_t *file = repository_file(d, p[1].string, p[1].position, field);
			if (file) {
				json_object_set_new(file, "name", json_string(p[0].string));
				json_array_append_new(file_parameters, file);
			}
			free(field);
		}
		plumb_values_release(p, 2);
	}
	json_object_set_new(out, "fileParameters", file_parameters);
	json_object_set_new(out, "skipCrds", json_boolean(h[H_SKIP_CRDS].boolean));
	json_object_set_new(out, "skipSchemaValidation", json_boolean(h[H_SKIP_SCHEMA].boolean));
	json_object_set_new(out, "skipTests", json_boolean(h[H_SKIP_TESTS].boolean));
	if (h[H_KUBE_VERSION].present)
		json_object_set_new(out, "kubeVersion", json_string(h[H_KUBE_VERSION].string));
	json_object_set_new(out, "apiVersions", strings(&h[H_API_VERSIONS]));
	char *field = plumb_xprintf("%s.passCredentials", name);
	no_effect(d, &h[H_PASS_CREDENTIALS], field, "charts are never fetched");
	free(field);
	field = plumb_xprintf("%s.version", name);
	no_effect(d, &h[H_VERSION], field, "the helm program is the one configured");
	free(field);
	plumb_values_release(h, H_COUNT);
	return out;
}

/* An image override as `kustomize edit set image` takes it: NAME[=NEWNAME][:TAG][@DIGEST]. */
static int valid_image(const char *image)
{
	return *image && *image != '=' && *image != ':' && *image != '@' && !strpbrk(image, " \t\n");
}

static json_t *decode_kustomize(const decoder *d, const plumb_spec *spec)
{
	plumb_value k[K_COUNT];
	json_t *out = json_object();
	const char *name = plumb_spec_name(spec);
	if (decode(d, k, spec, kustomize_fields, K_COUNT)) {
		plumb_values_release(k, K_COUNT);
		return out;
	}
	static const char *const texts[] = { "namePrefix", "nameSuffix", "namespace" };
	for (size_t i = 0; i < 3; i++)
		if (k[i].present)
			json_object_set_new(out, texts[i], json_string(k[i].string));
	for (size_t i = 0; i < k[K_IMAGES].list_count; i++)
		if (!valid_image(k[K_IMAGES].list[i]))
			plumb_diags_add(d->diags, k[K_IMAGES].list_positions[i],
					"%s.images: '%s' is not an image override (NAME[=NEWNAME][:TAG][@DIGEST])", name,
					k[K_IMAGES].list[i]);
	json_object_set_new(out, "images", strings(&k[K_IMAGES]));
	json_object_set_new(out, "commonLabels", k[K_LABELS].present ? string_map(d, k[K_LABELS].map) : json_object());
	json_object_set_new(out, "commonAnnotations",
			    k[K_ANNOTATIONS].present ? string_map(d, k[K_ANNOTATIONS].map) : json_object());
	json_t *replicas = json_array();
	for (size_t i = 0; i < k[K_REPLICAS].map_count; i++) {
		plumb_value r[2];
		if (!decode(d, r, k[K_REPLICAS].maps[i], replica_fields, 2))
			json_array_append_new(replicas, json_pack("{s:s, s:I}", "name", r[0].string, "count",
								  (json_int_t)r[1].integer));
		plumb_values_release(r, 2);
	}
	json_object_set_new(out, "replicas", replicas);
	/* A component is a folder kustomize reads from the kustomization's: it stays in the repository. */
	for (size_t i = 0; i < k[K_COMPONENTS].list_count; i++) {
		char *resolved = plumb_path_resolve(d->path ? d->path : "", k[K_COMPONENTS].list[i]);
		if (!resolved || strstr(k[K_COMPONENTS].list[i], "://"))
			plumb_diags_add(d->diags, k[K_COMPONENTS].list_positions[i], "%s.components: '%s' leaves the repository",
					name, k[K_COMPONENTS].list[i]);
		free(resolved);
	}
	json_object_set_new(out, "components", strings(&k[K_COMPONENTS]));
	if (k[K_PATCHES].present) {
		char *json = plumb_spec_json(k[K_PATCHES].map);
		json_t *patches = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL;
		if (!json_is_array(patches))
			plumb_diags_add(d->diags, k[K_PATCHES].position, "%s.patches: expected a list of patches", name);
		else
			json_object_set(out, "patches", patches);
		json_decref(patches);
		free(json);
	}
	char *field = plumb_xprintf("%s.version", name);
	no_effect(d, &k[K_VERSION], field, "the kustomize program is the one configured");
	free(field);
	plumb_values_release(k, K_COUNT);
	return out;
}

static json_t *decode_directory(const decoder *d, const plumb_spec *spec)
{
	plumb_value v[4];
	json_t *out = json_object();
	if (decode(d, v, spec, directory_fields, 4)) {
		plumb_values_release(v, 4);
		return out;
	}
	json_object_set_new(out, "recurse", json_boolean(v[0].present && v[0].boolean));
	if (v[1].present)
		json_object_set_new(out, "include", json_string(v[1].string));
	if (v[2].present)
		json_object_set_new(out, "exclude", json_string(v[2].string));
	if (v[3].present) {
		char *json = plumb_spec_json(v[3].map);
		json_object_set_new(out, "jsonnet", json ? json_loads(json, 0, NULL) : json_object());
		free(json);
	}
	plumb_values_release(v, 4);
	return out;
}

char *plumb_render_options_decode(const plumb_value *helm, const plumb_value *kustomize, const plumb_value *directory,
				  const char *path, int lenient, const char *const *refs, size_t ref_count,
				  plumb_diags *diags)
{
	decoder d = { path, lenient, refs, ref_count, diags };
	json_t *out = json_object();
	if (helm && helm->present && helm->map)
		json_object_set_new(out, "helm", decode_helm(&d, helm->map));
	if (kustomize && kustomize->present && kustomize->map)
		json_object_set_new(out, "kustomize", decode_kustomize(&d, kustomize->map));
	if (directory && directory->present && directory->map)
		json_object_set_new(out, "directory", decode_directory(&d, directory->map));
	char *text = json_object_size(out) ? json_dumps(out, JSON_COMPACT) : NULL;
	json_decref(out);
	return text;
}
