/*
 * A Kubernetes document expanded into one object: its identity, checked
 * names, and the wiping of a Secret's values wherever plumb held them.
 */
#include "util/common.h"
#include "providers/kubernetes/object.h"
#include "providers/kubernetes/compare.h"
#include "providers/kubernetes/secretfrom.h"

#include <stdlib.h>

/* The longest names the API server takes: a DNS subdomain, a DNS label. */
#define MAX_SUBDOMAIN 253
#define MAX_LABEL 63

/* --- names ------------------------------------------------------------------------------ */

static int is_lower_alphanumeric(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* Why name is not a DNS subdomain (RFC 1123, as the API server checks most names), or NULL when it is. */
static const char *subdomain_problem(const char *name)
{
	size_t length = strlen(name);
	if (length == 0)
		return "must not be empty";
	if (length > MAX_SUBDOMAIN)
		return "must be at most 253 characters";
	for (size_t i = 0; i < length; i++)
		if (!is_lower_alphanumeric(name[i]) && name[i] != '-' && name[i] != '.')
			return "must consist of lower case letters, digits, '-' and '.'";
	if (!is_lower_alphanumeric(name[0]) || !is_lower_alphanumeric(name[length - 1]))
		return "must start and end with a lower case letter or a digit";
	return NULL;
}

/* Why namespace is not a DNS label (as the API server checks namespaces), or NULL when it is. */
static const char *label_problem(const char *name)
{
	size_t length = strlen(name);
	if (length > MAX_LABEL)
		return "must be at most 63 characters";
	for (size_t i = 0; i < length; i++)
		if (!is_lower_alphanumeric(name[i]) && name[i] != '-')
			return "must consist of lower case letters, digits and '-'";
	if (!is_lower_alphanumeric(name[0]) || !is_lower_alphanumeric(name[length - 1]))
		return "must start and end with a lower case letter or a digit";
	return NULL;
}

/*
 * Why name is not a path segment name, the rule of the kinds the server
 * does not hold to DNS names (RBAC's roles and bindings: "system:viewer"),
 * or NULL when it is one.
 */
static const char *segment_problem(const char *name)
{
	if (!*name)
		return "must not be empty";
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return "must not be '.' or '..'";
	if (strchr(name, '/') || strchr(name, '%'))
		return "must not contain '/' or '%'";
	return NULL;
}

static const char *name_problem(const char *group, const char *name)
{
	return !strcmp(group, "rbac.authorization.k8s.io") ? segment_problem(name) : subdomain_problem(name);
}

/* --- keys ------------------------------------------------------------------------------- */

char *plumb_kube_group_of(const char *api_version)
{
	const char *slash = strchr(api_version, '/');
	return slash ? plumb_xstrndup(api_version, (size_t)(slash - api_version)) : plumb_xstrdup("");
}

char *plumb_kube_key(const char *group, const char *kind, const char *namespace, const char *name)
{
	return plumb_xprintf("%s/%s/%s/%s", group, kind, namespace, name);
}

char *plumb_kube_display(const char *kind, const char *namespace, const char *name)
{
	return *namespace ? plumb_xprintf("%s %s/%s", kind, namespace, name) : plumb_xprintf("%s %s", kind, name);
}

char *plumb_kube_object_display(const char *namespace, const char *name)
{
	return *namespace ? plumb_xprintf("%s/%s", namespace, name) : plumb_xstrdup(name);
}

int plumb_kube_identity_parse(plumb_kube_identity *out, const char *key)
{
	char *parts[4];
	memset(out, 0, sizeof(*out));
	out->copy = plumb_xstrdup(key);
	parts[0] = out->copy;
	for (int i = 1; i < 4; i++) {
		char *slash = strchr(parts[i - 1], '/');
		if (!slash) {
			plumb_kube_identity_release(out);
			return plumb_error_set(PLUMB_EINVALID, "'%s' is not a Kubernetes object's key", key);
		}
		*slash = '\0';
		parts[i] = slash + 1;
	}
	out->group = parts[0];
	out->kind = parts[1];
	out->namespace = parts[2];
	out->name = parts[3];
	return 0;
}

void plumb_kube_identity_release(plumb_kube_identity *identity)
{
	free(identity->copy);
	memset(identity, 0, sizeof(*identity));
}

/* --- Secret values: wiped wherever plumb held them --------------------------------------- */

/* Overwrite the text of every string value of a mapping (jansson keeps each in a buffer of its own). */
static void wipe_values(json_t *mapping)
{
	const char *name;
	json_t *value;
	json_object_foreach(mapping, name, value) {
		if (json_is_string(value))
			explicit_bzero((char *)json_string_value(value), json_string_length(value));
	}
}

static void wipe_secret(json_t *secret)
{
	wipe_values(json_object_get(secret, "data"));
	wipe_values(json_object_get(secret, "stringData"));
}

/* Wipe the values of node when it is a Secret, of the Secrets a list of them holds, or of a watch event's. */
static void wipe_secrets(json_t *node, unsigned depth)
{
	size_t i;
	json_t *item;
	if (!json_is_object(node) || depth > 2)
		return;
	if (plumb_kube_is_secret(node)) {
		wipe_secret(node);
		return;
	}
	/* A list's items carry no apiVersion and kind: the list's kind says them. */
	const char *kind = json_string_value(json_object_get(node, "kind"));
	int secrets = kind && !strcmp(kind, "SecretList");
	json_array_foreach(json_object_get(node, "items"), i, item) {
		if (secrets)
			wipe_secret(item);
		else
			wipe_secrets(item, depth + 1);
	}
	wipe_secrets(json_object_get(node, "object"), depth + 1);
}

void plumb_kube_json_free(json_t *object)
{
	if (object && object->refcount == 1)
		wipe_secrets(object, 0);
	json_decref(object);
}

char *plumb_kube_json_text(const json_t *object)
{
	return json_dumps(object, JSON_COMPACT);
}

void plumb_kube_text_free(char *text)
{
	if (text)
		explicit_bzero(text, strlen(text));
	free(text);
}

/* --- values from plumb Secrets (secretfrom.h) --------------------------------------------- */

/* Put every placeholder's value where it goes, once all are read (placeholder.h). */
static void fill_placeholders(plumb_kube_desired *d)
{
	char **skip = plumb_xcalloc(d->secret_key_count + 1, sizeof(char *));
	for (size_t i = 0; i < d->secret_key_count; i++)
		skip[i] = d->secret_keys[i].key;
	json_t *document = plumb_kube_document(d);
	if (plumb_kube_placeholders_fill(document, d->placeholders.names, d->placeholder_values,
					 d->placeholders.name_count, skip, d->secret_key_count) < 0) {
		d->placeholder_problem = plumb_xstrdup(plumb_error_last());
		plumb_error_clear();
	} else {
		plumb_kube_text_free(d->text);
		d->text = plumb_kube_json_text(document);
	}
	plumb_kube_json_free(document);
	free(skip);
}

void plumb_kube_bind_secret(plumb_object *object, size_t index, const char *value, size_t length)
{
	plumb_kube_desired *d = object->desired;
	if (index >= d->secret_key_count) {
		size_t placeholder = index - d->secret_key_count;
		if (placeholder >= d->placeholders.name_count || d->placeholder_values[placeholder].ptr)
			return;
		plumb_buf_grow(&d->placeholder_values[placeholder], length); /* read, even when empty: ptr is set */
		plumb_buf_add(&d->placeholder_values[placeholder], value, length);
		if (++d->placeholders_read == d->placeholders.name_count)
			fill_placeholders(d);
		return;
	}
	/* The value goes into the text the document is kept as; the text it replaces is wiped. */
	json_t *document = plumb_kube_document(d);
	plumb_kube_secret_value_put(document, d->secret_keys[index].key, value, length);
	plumb_kube_text_free(d->text);
	d->text = plumb_kube_json_text(document);
	plumb_kube_json_free(document);
	d->secret_keys[index].bound = 1;
}

int plumb_kube_secret_values_bound(const plumb_object *object)
{
	const plumb_kube_desired *d = object->desired;
	for (size_t i = 0; i < d->secret_key_count && i < object->secret_count; i++)
		if (!d->secret_keys[i].bound)
			return plumb_error_set(PLUMB_ERROR, "%s %s: the value of Secret %s (%s) was not read",
					       object->kind, object->display, object->secrets[i].name,
					       object->secrets[i].field);
	if (d->placeholder_problem)
		return plumb_error_set(PLUMB_EINVALID, "%s %s: %s", object->kind, object->display,
				       d->placeholder_problem);
	for (size_t i = 0; i < d->placeholders.name_count; i++)
		if (!d->placeholder_values[i].ptr)
			return plumb_error_set(PLUMB_ERROR, "%s %s: the value of Secret %s was not read", object->kind,
					       object->display, d->placeholders.names[i]);
	return 0;
}

/* --- expand ----------------------------------------------------------------------------- */

void plumb_kube_free_desired(void *p)
{
	plumb_kube_desired *d = p;
	if (!d)
		return;
	plumb_kube_text_free(d->text);
	free(d->group);
	free(d->api_version);
	free(d->kind);
	free(d->name);
	free(d->namespace);
	free(d->defines_group);
	free(d->defines_kind);
	for (size_t i = 0; i < d->secret_key_count; i++)
		free(d->secret_keys[i].key);
	free(d->secret_keys);
	for (size_t i = 0; i < d->placeholders.name_count; i++)
		plumb_buf_wipe(&d->placeholder_values[i]);
	free(d->placeholder_values);
	plumb_kube_placeholders_release(&d->placeholders);
	free(d->placeholder_problem);
	free(d);
}

json_t *plumb_kube_document(const plumb_kube_desired *d)
{
	json_t *document = json_loads(d->text, 0, NULL);
	if (!document)
		abort(); /* the text was written from a parsed document: only memory running out stops it */
	return document;
}

/* A CustomResourceDefinition: note the group, kind and scope it defines, for its objects in the same sync. */
static void note_definition(plumb_kube_desired *d, const json_t *document)
{
	json_t *spec = json_object_get(document, "spec");
	const char *group = json_string_value(json_object_get(spec, "group"));
	const char *kind = json_string_value(json_object_get(json_object_get(spec, "names"), "kind"));
	const char *scope = json_string_value(json_object_get(spec, "scope"));
	if (!group || !kind)
		return; /* the server's dry run says what is missing */
	d->defines_group = plumb_xstrdup(group);
	d->defines_kind = plumb_xstrdup(kind);
	d->defines_namespaced = !scope || strcmp(scope, "Cluster") != 0;
}

void plumb_kube_expand(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
		       plumb_diags *diags)
{
	const plumb_resource *r = &set->resources[resource];
	plumb_position position = { r->file, r->line, r->column };
	json_t *document = json_loads(r->json, 0, NULL);
	json_t *metadata = json_object_get(document, "metadata");
	json_t *namespace_value = json_object_get(metadata, "namespace");
	const char *name = json_string_value(json_object_get(metadata, "name"));
	const char *namespace = json_string_value(namespace_value);
	char *group = plumb_kube_group_of(r->api_version);
	const char *problem;
	size_t before = diags->count;

	if (!json_is_object(metadata) || !name) {
		plumb_diags_add(diags, position, "%s %s: metadata.name must be given", r->kind, r->name);
	} else if ((problem = name_problem(group, name))) {
		plumb_diags_add(diags, position, "%s %s: metadata.name %s", r->kind, name, problem);
	}
	if (namespace_value && !namespace)
		plumb_diags_add(diags, position, "%s %s: metadata.namespace must be a string", r->kind, r->name);
	else if (namespace && *namespace && (problem = label_problem(namespace)))
		plumb_diags_add(diags, position, "%s %s: metadata.namespace %s", r->kind, r->name, problem);
	plumb_kube_order order;
	if (plumb_kube_order_of(&order, document) < 0) {
		plumb_diags_add(diags, position, "%s %s: %s", r->kind, r->name, plumb_error_last());
		plumb_error_clear();
	}
	/* A Secret's values may come from plumb Secrets: only their names are read here. */
	plumb_kube_secret_reference *references = NULL;
	size_t reference_count = 0;
	if (plumb_kube_is_secret(document))
		plumb_kube_secret_references_read(&references, &reference_count, spec, diags);
	/* And any field may hold a placeholder of a Flux application's variable from a Secret. */
	plumb_kube_placeholders placeholders = { 0 };
	if (set->secret_placeholders) {
		char *display = plumb_kube_display(r->kind, namespace ? namespace : "", name ? name : "");
		plumb_kube_placeholders_find(&placeholders, document, display, position, diags);
		free(display);
	}
	if (diags->count > before) {
		plumb_kube_placeholders_release(&placeholders);
		plumb_kube_secret_references_free(references, reference_count);
		plumb_kube_json_free(document);
		free(group);
		return;
	}

	plumb_kube_desired *d = plumb_xcalloc(1, sizeof(*d));
	d->text = plumb_kube_json_text(document);
	d->group = group;
	d->api_version = plumb_xstrdup(json_string_value(json_object_get(document, "apiVersion")));
	d->kind = plumb_xstrdup(json_string_value(json_object_get(document, "kind")));
	d->name = plumb_xstrdup(name);
	d->namespace = plumb_xstrdup(namespace ? namespace : "");
	d->secret = plumb_kube_is_secret(document);
	d->order = order;
	/* The order's names, as the desired keeps them once the document is let go. */
	d->order.kind = d->kind;
	d->order.namespace = d->namespace;
	d->order.name = d->name;
	memcpy(d->blob, r->blob, sizeof(d->blob));
	if (!strcmp(group, "apiextensions.k8s.io") && !strcmp(d->kind, "CustomResourceDefinition"))
		note_definition(d, document);

	char *key = plumb_kube_key(group, d->kind, d->namespace, name);
	char *display = plumb_kube_object_display(d->namespace, name);
	plumb_object *object = plumb_manifest_add_object_named(set, resource, d->kind, key, display, d, position);
	object->sensitive = d->secret || placeholders.name_count;
	if (reference_count) {
		/* object->secrets[i] gives the value of d->secret_keys[i]. */
		d->secret_keys = plumb_xcalloc(reference_count, sizeof(*d->secret_keys));
		for (size_t i = 0; i < reference_count; i++) {
			plumb_object_add_secret(object, references[i].name, references[i].field,
						references[i].position);
			d->secret_keys[i].key = plumb_xstrdup(references[i].key);
		}
		d->secret_key_count = reference_count;
	}
	for (size_t i = 0; i < placeholders.name_count; i++) {
		char *field = plumb_xprintf("%s%s%c", PLUMB_SECRET_PLACEHOLDER_OPEN, placeholders.names[i],
					    PLUMB_SECRET_PLACEHOLDER_CLOSE);
		plumb_object_add_secret(object, placeholders.names[i], field, position);
		free(field);
	}
	d->placeholders = placeholders;
	if (placeholders.name_count)
		d->placeholder_values = plumb_xcalloc(placeholders.name_count, sizeof(plumb_buf));
	else
		plumb_kube_placeholders_release(&d->placeholders);
	plumb_kube_secret_references_free(references, reference_count);
	plumb_kube_json_free(document);
	free(key);
	free(display);
}
