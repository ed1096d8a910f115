/*
 * One manifest file parsed: YAML documents checked and turned into
 * resources (with their JSON and YAML renderings), each handed to the
 * provider that claims it, or decoded here when it is plumb's own
 * (Application, Secret).
 */
#include "util/common.h"
#include "load/internal.h"
#include "load/application.h"
#include "load/argocd.h"
#include "load/flux.h"
#include "load/substitute.h"
#include "render/kustomize_edit.h"
#include "providers/registry.h"
#include "resource/spec_internal.h"
#include "secrets/secret.h"
#include "util/buf.h"
#include "util/path.h"

#include <jansson.h>
#include <stdlib.h>


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
/*
 * kustomize's namespace (a kustomization's, an overlay's, targetNamespace)
 * lands on every document: plumb's ignore it.
 */
static const char *const rendered_metadata_fields[] = { "name", "namespace", "labels", "annotations", NULL };
/* Another tool's kinds are Kubernetes objects: their metadata is a Kubernetes object's. */
static const char *const object_metadata_fields[] = { "name",	     "namespace",  "labels",
						      "annotations", "finalizers", NULL };

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

/*
 * Replace every value of the top-level map field (a Kubernetes Secret's data
 * or stringData) in both renderings of a sensitive document. A mapping there
 * is no value but a reference to a Secret ({secretFrom: NAME}; expand
 * refused anything else), and is shown as written.
 */
static void mask_values(struct fy_document *doc, struct fy_node *root, json_t *json, const char *field)
{
	struct fy_node *map = fy_node_mapping_lookup_by_string(root, field, FY_NT);
	if (map && fy_node_get_type(map) == FYNT_MAPPING) {
		void *iter = NULL;
		struct fy_node_pair *pair;
		while ((pair = fy_node_mapping_iterate(map, &iter)) != NULL) {
			struct fy_node *value = fy_node_pair_value(pair);
			if (!value || fy_node_get_type(value) != FYNT_MAPPING)
				fy_node_pair_set_value(pair, fy_node_create_scalar(doc, SENSITIVE_MASK, FY_NT));
		}
	}
	json_t *values = json_object_get(json, field);
	const char *key;
	json_t *value;
	json_object_foreach(values, key, value) {
		if (!json_is_object(value))
			json_object_set_new(values, key, json_string(SENSITIVE_MASK));
	}
}

/* A string, double-quoted (as JSON writes it): whatever its text ("true", "1"), it reads back as that string. */
static struct fy_node *quoted(struct fy_document *doc, const char *text)
{
	json_t *string = json_string(text);
	char *json = json_dumps(string, JSON_ENCODE_ANY);
	json_decref(string);
	/* The node reads its text where it was built from: the document frees it. */
	struct fy_node *node = fy_node_build_from_malloc_string(doc, json, FY_NT);
	if (!node)
		free(json);
	return node;
}

/*
 * A Flux Kustomization's commonMetadata (common, JSON): each of its labels
 * and annotations set in metadata, over what the document says.
 */
static void set_common_metadata(struct fy_document *doc, struct fy_node *metadata, const char *common)
{
	static const char *const fields[] = { "labels", "annotations" };
	json_t *json = json_loads(common, 0, NULL);
	for (size_t i = 0; i < 2; i++) {
		json_t *values = json_object_get(json, fields[i]), *value;
		const char *key;
		if (!json_object_size(values))
			continue;
		struct fy_node_pair *pair = fy_node_mapping_lookup_pair_by_string(metadata, fields[i], FY_NT);
		struct fy_node *map = pair ? fy_node_pair_value(pair) : NULL;
		if (!map || fy_node_get_type(map) != FYNT_MAPPING) {
			map = fy_node_create_mapping(doc);
			if (pair)
				fy_node_pair_set_value(pair, map);
			else
				fy_node_mapping_append(metadata, fy_node_create_scalar_copy(doc, fields[i], strlen(fields[i])),
						       map);
		}
		json_object_foreach(values, key, value) {
			struct fy_node_pair *entry = fy_node_mapping_lookup_pair_by_string(map, key, FY_NT);
			struct fy_node *text = quoted(doc, json_string_value(value) ? json_string_value(value) : "");
			if (entry)
				fy_node_pair_set_value(entry, text);
			else
				fy_node_mapping_append(map, fy_node_create_scalar_copy(doc, key, strlen(key)), text);
		}
	}
	json_decref(json);
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

/*
 * Whether a document holds nothing: no root, or (as libfyaml reads "---" at
 * the end of a file, or two in a row) a plain scalar without text.
 */
static int is_empty(struct fy_node *root)
{
	size_t len = 0;
	if (!root)
		return 1;
	return fy_node_get_type(root) == FYNT_SCALAR && fy_node_get_style(root) == FYNS_PLAIN &&
	       fy_node_get_scalar(root, &len) && len == 0;
}

static void load_document(manifest_part *file, struct fy_document *doc, plumb_source *source)
{
	plumb_diags *diags = &file->diags;
	struct fy_node *root = fy_document_root(doc);
	plumb_position pos = plumb_spec_node_position(root, file->path);
	size_t errors = diags->count;
	plumb_resource resource;

	memset(&resource, 0, sizeof(resource));
	if (is_empty(root))
		return; /* an empty document, e.g. after a trailing "---" */
	if (fy_node_get_type(root) != FYNT_MAPPING) {
		plumb_diags_add(diags, pos, "a manifest must be a mapping with apiVersion, kind, metadata and spec");
		return;
	}
	resource.api_version = string_field(root, "apiVersion", "", file->path, pos, diags);
	resource.kind = string_field(root, "kind", "", file->path, pos, diags);
	/* Argo CD's Application and Flux's kinds are read as applications, not applied as objects. */
	int argocd = resource.api_version && resource.kind && plumb_argocd_claims(resource.api_version, resource.kind);
	int flux = resource.api_version && resource.kind && plumb_flux_claims(resource.api_version, resource.kind);
	int foreign = argocd || flux;
	if (resource.api_version && resource.kind && !foreign)
		resource.provider = plumb_provider_find(resource.api_version, resource.kind);
	/*
	 * plumb's own kinds have the host's shape; a provider may take any
	 * top-level field; another tool's kinds are read leniently.
	 */
	const char *const *top_fields = foreign		    ? NULL
					: resource.provider ? resource.provider->document_fields
							    : document_fields;
	const char *const *meta_fields = foreign ? object_metadata_fields
					 : resource.provider && resource.provider->metadata_fields
						 ? resource.provider->metadata_fields
					 : file->renderer ? rendered_metadata_fields
							  : metadata_fields;
	if (top_fields)
		unknown_keys(root, top_fields, "", file->path, diags);

	struct fy_node *metadata = fy_node_mapping_lookup_by_string(root, "metadata", FY_NT);
	if (!metadata) {
		plumb_diags_add(diags, pos, "missing required field \"metadata\"");
	} else if (fy_node_get_type(metadata) != FYNT_MAPPING) {
		plumb_diags_add(diags, plumb_spec_node_position(metadata, file->path), "metadata: expected a mapping");
	} else {
		unknown_keys(metadata, meta_fields, "metadata: ", file->path, diags);
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
		int engine_kind = !strcmp(resource.api_version, PLUMB_ENGINE_API_VERSION) &&
				  (!strcmp(resource.kind, "Application") || !strcmp(resource.kind, "Secret"));
		if (!resource.provider && !engine_kind && !foreign)
			report_unknown_kind(diags, &resource, api_node, kind_node, file->path);
	}

	/* What a Flux Kustomization sets on every object it applies, before anything reads the document. */
	if (file->common_metadata && metadata && fy_node_get_type(metadata) == FYNT_MAPPING && resource.provider &&
	    !strcmp(resource.provider->name, "kubernetes"))
		set_common_metadata(doc, metadata, file->common_metadata);
	json_t *json = plumb_spec_node_json(root);
	if (!json)
		plumb_diags_add(diags, pos, "the document nests deeper than %d levels", PLUMB_SPEC_DEPTH_MAX);

	if (diags->count > errors) {
		json_decref(json);
		plumb_resource_release(&resource);
		return;
	}
	/*
	 * Unique within a revision: a document that names its namespace (a Kubernetes object) has it
	 * in its identity, so one name in two namespaces is two resources.
	 */
	struct fy_node *namespace = metadata ? fy_node_mapping_lookup_by_string(metadata, "namespace", FY_NT) : NULL;
	size_t namespace_len = 0;
	const char *namespace_text = namespace && fy_node_get_type(namespace) == FYNT_SCALAR
					     ? fy_node_get_scalar(namespace, &namespace_len)
					     : NULL;
	if (namespace_text && namespace_len)
		resource.identity = plumb_xprintf("%s/%s/%.*s/%s", resource.api_version, resource.kind, (int)namespace_len,
						  namespace_text, resource.name);
	else
		resource.identity = plumb_xprintf("%s/%s/%s", resource.api_version, resource.kind, resource.name);
	resource.file = plumb_xstrdup(file->path);
	memcpy(resource.blob, file->blob, sizeof(resource.blob));
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
	/* A provider whose documents' fields are their kinds' (a Kubernetes object's) decodes all of it. */
	plumb_spec whole = { root, file->path, "", pos, NULL };
	/* The whole document, for a provider that takes it as the desired state. */
	file->set.resources[index].json = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER);
	size_t objects_before = file->set.object_count;
	if (file->set.resources[index].provider)
		file->set.resources[index].provider->expand(&file->set, index, top_fields ? &spec : &whole, source,
							    diags);
	else if (flux)
		plumb_flux_decode(&file->set, index, &whole, diags);
	else if (argocd)
		plumb_argocd_decode(&file->set, index, &whole, diags);
	else if (!strcmp(resource.kind, "Secret"))
		plumb_secret_decode(&file->set, index, &spec, source, diags);
	else
		plumb_application_decode(&file->set, index, &spec, diags);

	/* Renderings are made after expansion, which still needed the content that masking hides. */
	int masked = 0;
	if (is_sensitive(spec_node)) {
		mask_content(doc, spec_node, json);
		masked = 1;
	}
	/* A Secret's values git holds; another kind's placeholders of Secrets hold no value, and show. */
	int secret = !strcmp(resource.api_version, "v1") && !strcmp(resource.kind, "Secret");
	for (size_t i = objects_before; i < file->set.object_count && !masked && secret; i++) {
		if (file->set.objects[i].sensitive) {
			mask_values(doc, root, json, "data");
			mask_values(doc, root, json, "stringData");
			masked = 1;
		}
	}
	if (masked) {
		free(file->set.resources[index].json);
		file->set.resources[index].json = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER);
	}
	json_decref(json);
	file->set.resources[index].yaml = fy_emit_document_to_string(
		doc, FYECF_MODE_BLOCK | FYECF_WIDTH_INF | FYECF_DOC_START_MARK_OFF);
	if (!file->set.resources[index].yaml)
		file->set.resources[index].yaml = plumb_xstrdup("");
}

/* Find an alias anywhere below node: plumb does not expand them (they can multiply a small file enormously). */
static struct fy_node *find_alias(struct fy_node *node, unsigned depth)
{
	if (!node || depth > PLUMB_SPEC_DEPTH_MAX)
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

/* The value of "KEY: VALUE" on a line of text, trimmed (a new string), or NULL. */
static char *line_value(const char *text, size_t len, const char *key)
{
	size_t n = strlen(key);
	for (const char *line = text; line && line < text + len;) {
		const char *end = memchr(line, '\n', (size_t)(text + len - line));
		size_t length = end ? (size_t)(end - line) : (size_t)(text + len - line);
		while (length && line[0] == ' ')
			line++, length--;
		if (length > n && !memcmp(line, key, n)) {
			const char *value = line + n;
			size_t value_length = length - n;
			while (value_length && (value[value_length - 1] == ' ' || value[value_length - 1] == '\r'))
				value_length--;
			return value_length ? plumb_xstrndup(value, value_length) : NULL;
		}
		line = end ? end + 1 : NULL;
	}
	return NULL;
}

/*
 * The repository file a rendered object was written in, when the renderer
 * says: helm heads each document with "# Source: CHART/templates/x.yaml"
 * (the chart's name, then the path in its folder); kustomize, asked for
 * origin annotations on the copy (kustomize_edit.h), gives the path from
 * the kustomization, or the kustomization that generated it. The
 * annotation is taken out of the object: it tells where the object was
 * written, not what to apply. NULL when the renderer does not say.
 */
static char *rendered_origin(const manifest_part *file, struct fy_node *root, const char *text, size_t len)
{
	char *written = NULL, *origin = NULL;
	if (!file->render_folder)
		return NULL;
	if (!strcmp(file->renderer, "helm")) {
		char *source = line_value(text, len, "# Source: ");
		const char *slash = source ? strchr(source, '/') : NULL;
		if (slash)
			written = plumb_xstrdup(slash + 1);
		free(source);
		origin = written ? plumb_path_resolve(file->render_folder, written) : NULL;
		free(written);
		return origin;
	}
	struct fy_node *annotations = fy_node_by_path(root, "metadata/annotations", -1, FYNWF_DONT_FOLLOW);
	struct fy_node_pair *pair = annotations && fy_node_is_mapping(annotations)
					    ? fy_node_mapping_lookup_pair_by_string(annotations, PLUMB_KUSTOMIZE_ORIGIN, FY_NT)
					    : NULL;
	if (!pair)
		return NULL;
	size_t length = 0;
	const char *value = fy_node_get_scalar(fy_node_pair_value(pair), &length);
	if (value) {
		written = line_value(value, length, "path: ");
		if (!written)
			written = line_value(value, length, "configuredIn: ");
	}
	if (written && !strstr(written, "://"))
		origin = plumb_path_resolve(file->render_folder, written);
	free(written);
	fy_node_free(fy_node_mapping_remove_by_key(annotations, fy_node_pair_key(pair)));
	if (fy_node_mapping_is_empty(annotations)) {
		struct fy_node *metadata = fy_node_by_path(root, "metadata", -1, FYNWF_DONT_FOLLOW);
		struct fy_node_pair *holder = fy_node_mapping_lookup_pair_by_string(metadata, "annotations", FY_NT);
		fy_node_free(fy_node_mapping_remove_by_key(metadata, fy_node_pair_key(holder)));
	}
	return origin;
}

/* What a rendered document is called: "FOLDER (RENDERER from FILE) Kind/name", or "PATH Kind/name". A new string. */
static char *document_name(manifest_part *file, struct fy_node *root, const char *text, size_t len)
{
	const char *kind = root ? fy_node_get_scalar0(fy_node_by_path(root, "kind", -1, FYNWF_DONT_FOLLOW)) : NULL;
	const char *name = root ? fy_node_get_scalar0(fy_node_by_path(root, "metadata/name", -1, FYNWF_DONT_FOLLOW))
				: NULL;
	/* A jsonnet file's objects are written in it: no renderer to ask. */
	char *origin = root && file->renderer ? rendered_origin(file, root, text, len) : NULL;
	char *out = origin ? plumb_xprintf("%s (%s from %s) %s/%s", *file->render_folder ? file->render_folder : ".",
					   file->renderer, origin, kind ? kind : "?", name ? name : "?")
			   : plumb_xprintf("%s %s/%s", file->path, kind ? kind : "?", name ? name : "?");
	free(origin);
	return out;
}

/*
 * Parse the documents of text (from a blob, or one document a renderer
 * printed) into file. A rendered document's positions are its own lines,
 * under the name "FOLDER (RENDERER) Kind/name".
 */
static int parse_text(manifest_part *file, plumb_source *source, const char *text, size_t len)
{
	struct fy_diag_cfg diag_cfg;
	struct fy_diag *diag = NULL;
	plumb_buf diag_text = PLUMB_BUF_INIT;
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_1_2 };
	struct fy_parser *parser = NULL;
	struct fy_document *doc;
	plumb_position file_pos = { file->path, 0, 0 };
	char *path = file->path;
	int error = 0;

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
	if (!parser || fy_parser_set_string(parser, text, len) != 0) {
		error = plumb_error_set(PLUMB_ERROR, "%s: cannot set up the YAML parser", file->path);
		goto done;
	}
	while ((doc = fy_parse_load_document(parser)) != NULL) {
		struct fy_node *root = fy_document_root(doc);
		if (file->rendered) {
			PLUMB_GROW(file->names, file->name_count, file->name_capacity);
			file->names[file->name_count++] = document_name(file, root, text, len);
			file->path = file->names[file->name_count - 1];
		}
		struct fy_node *alias = find_alias(root, 0);
		if (alias)
			plumb_diags_add(&file->diags, plumb_spec_node_position(alias, file->path),
					"YAML aliases are not supported in manifests");
		else
			load_document(file, doc, source);
		file->path = path;
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
	return error;
}

/*
 * text with file's variables substituted, in place of what it was
 * (substitute.h). A bad substitution is a diagnostic at where (NULL: named
 * as the rendered document text is), its line counted from text's start,
 * as it fails Flux's build: returns -1 then.
 */
static int substitute_text(manifest_part *file, plumb_buf *text, const char *where)
{
	plumb_buf substituted = PLUMB_BUF_INIT;
	plumb_substitute_failure failure;
	int error = plumb_substitute(&substituted, text->ptr ? text->ptr : "", text->len, file->substitute, &failure);
	if (error < 0) {
		if (!where) {
			/* Named as written: what fails to substitute is shown before any variable is. */
			struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 };
			struct fy_document *doc = fy_document_build_from_string(&cfg, text->ptr, text->len);
			PLUMB_GROW(file->names, file->name_count, file->name_capacity);
			file->names[file->name_count++] =
				document_name(file, doc ? fy_document_root(doc) : NULL, text->ptr, text->len);
			where = file->names[file->name_count - 1];
			fy_document_destroy(doc);
		}
		plumb_position at = { where, failure.line, 1 };
		plumb_diags_add(&file->diags, at,
				"variable substitution failed: bad substitution at '%s' (a literal ${ is written $${; "
				"or annotate the object kustomize.toolkit.fluxcd.io/substitute: disabled)",
				failure.near);
	}
	plumb_buf_release(text);
	*text = substituted;
	return error < 0 ? -1 : 0;
}

int plumb_load_file(manifest_part *file, plumb_source *source)
{
	if (file->rendered) {
		const plumb_buf *rendered = file->rendered;
		/* One document at a time, so that each object's lines count from its own start. */
		const char *text = rendered->ptr ? rendered->ptr : "", *end = text + rendered->len;
		int error = 0;
		while (text < end && error == 0) {
			const char *next = text;
			const char *separator = NULL;
			while (next < end) {
				const char *line_end = memchr(next, '\n', (size_t)(end - next));
				line_end = line_end ? line_end + 1 : end;
				if (next != text && line_end - next >= 3 && !memcmp(next, "---", 3) &&
				    (line_end - next == 3 || next[3] == '\n' || next[3] == ' ')) {
					separator = next;
					break;
				}
				next = line_end;
			}
			const char *stop = separator ? separator : end;
			if (file->substitute) {
				plumb_buf document = PLUMB_BUF_INIT;
				plumb_buf_add(&document, text, (size_t)(stop - text));
				if (substitute_text(file, &document, NULL) == 0)
					error = parse_text(file, source, document.ptr, document.len);
				plumb_buf_release(&document);
			} else {
				error = parse_text(file, source, text, (size_t)(stop - text));
			}
			if (!separator)
				break;
			const char *after = memchr(separator, '\n', (size_t)(end - separator));
			text = after ? after + 1 : end;
		}
		return error;
	}

	plumb_buf text = PLUMB_BUF_INIT;
	plumb_position file_pos = { file->path, 0, 0 };
	int error = plumb_source_read_blob(&text, source, file->blob, PLUMB_MANIFEST_MAX);
	if (error == PLUMB_EINVALID) {
		plumb_diags_add(&file->diags, file_pos, "manifest is larger than %u bytes", PLUMB_MANIFEST_MAX);
		return 0;
	}
	if (error < 0)
		return plumb_error_wrap(error, "%s", file->path);
	if (file->substitute && substitute_text(file, &text, file->path) < 0) {
		plumb_buf_release(&text);
		return 0;
	}
	error = parse_text(file, source, text.ptr ? text.ptr : "", text.len);
	plumb_buf_release(&text);
	return error;
}
