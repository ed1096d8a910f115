/*
 * What a Flux application names, resolved in the folder that declares it:
 * its GitRepository, HelmRepository or OCIRepository, and the ConfigMaps
 * and Secrets its variables and values come from (flux.h).
 */
#include "util/common.h"
#include "load/flux.h"
#include "load/flux_internal.h"
#include "load/located.h"
#include "load/substitute.h"
#include "render/helm.h"
#include "resource/spec_internal.h"
#include "secrets/secret.h"
#include "util/buf.h"

#include <jansson.h>
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

/* The name Flux's bootstrap gives the GitRepository of the repository it is bootstrapped from. */
#define BOOTSTRAP_SOURCE "flux-system"

/* The resource of kind and name among set's resources, or NULL. */
static const plumb_resource *find_resource(const plumb_manifest_set *set, const char *api_prefix, const char *kind,
					   const char *name)
{
	for (size_t i = 0; i < set->resource_count; i++) {
		const plumb_resource *r = &set->resources[i];
		if (!strcmp(r->kind, kind) && !strcmp(r->name, name) && !strncmp(r->api_version, api_prefix, strlen(api_prefix)))
			return r;
	}
	return NULL;
}

/* The document of kind and name among set's resources, as JSON (a new reference), or NULL. */
static json_t *find_document(const plumb_manifest_set *set, const char *api_prefix, const char *kind, const char *name)
{
	const plumb_resource *r = find_resource(set, api_prefix, kind, name);
	return r ? json_loads(r->json, 0, NULL) : NULL;
}

static void resolve_source(plumb_application *a, json_t *flux, const plumb_manifest_set *set,
			   int (*own)(const char *url, void *payload), void *payload, plumb_diags *diags)
{
	json_t *ref = json_object_get(flux, "sourceRef");
	const char *name = json_string_value(json_object_get(ref, "name"));
	json_t *repository = name ? find_document(set, PLUMB_FLUX_SOURCE_GROUP, "GitRepository", name) : NULL;
	if (!repository) {
		if (name && strcmp(name, BOOTSTRAP_SOURCE) != 0)
			plumb_diags_warn(diags, plumb_flux_placed(ref),
					 "GitRepository %s is not in the path read: taken as the repository being read", name);
		return;
	}
	json_t *spec = json_object_get(repository, "spec");
	const char *url = json_string_value(json_object_get(spec, "url"));
	if (!url) {
		plumb_diags_add(diags, plumb_flux_placed(ref), "GitRepository %s has no spec.url", name);
	} else if (!own(url, payload)) {
		json_t *git_ref = json_object_get(spec, "ref");
		const char *revision = json_string_value(json_object_get(git_ref, "commit"));
		if (!revision)
			revision = json_string_value(json_object_get(git_ref, "tag"));
		if (!revision)
			revision = json_string_value(json_object_get(git_ref, "branch"));
		if (!revision && json_object_get(git_ref, "semver"))
			plumb_diags_add(diags, plumb_flux_placed(ref), "GitRepository %s: ref.semver is not read by plumb: give a tag",
					name);
		a->repo = plumb_xstrdup(url);
		a->revision = revision ? plumb_xstrdup(revision) : NULL;
	}
	json_decref(repository);
}

/* The media type of a Helm chart's layer in an OCI artifact: the one helm pulls. */
#define HELM_CHART_LAYER "application/vnd.cncf.helm.chart.content.v1.tar+gzip"

/*
 * The spec fields of a chart source (HelmRepository, OCIRepository) that
 * say how helm fetches, and what plumb does with each: helm fetches as
 * plumb runs (with the credentials plumb is given, not a cloud identity or
 * the cluster's Secrets; plumb's proxies and CA store), so those are
 * warnings; a chart's signature plumb does not check is refused, not
 * rendered unchecked.
 */
typedef enum { FIELD_READ, FIELD_WARN, FIELD_REFUSE } fetch_field_use;
#define CREDENTIALS_WHY "helm fetches the chart with the credentials plumb is given: --credentials"
static const struct {
	const char *name;
	fetch_field_use use;
	const char *why;
} fetch_fields[] = {
	{ "url", FIELD_READ, NULL },
	{ "type", FIELD_READ, NULL },
	{ "ref", FIELD_READ, NULL },
	{ "insecure", FIELD_READ, NULL },
	{ "layerSelector", FIELD_READ, NULL },
	{ "provider", FIELD_READ, NULL },
	/* How often Flux looks for a new chart: plumb resolves a version range again each minute. */
	{ "interval", FIELD_READ, NULL },
	{ "timeout", FIELD_READ, NULL },
	{ "secretRef", FIELD_WARN, CREDENTIALS_WHY },
	{ "certSecretRef", FIELD_WARN, "helm trusts the CA store plumb runs with, or its credentials' caFile" },
	{ "proxySecretRef", FIELD_WARN, "helm goes through the proxies plumb runs with (HTTPS_PROXY)" },
	{ "serviceAccountName", FIELD_WARN, CREDENTIALS_WHY },
	{ "passCredentials", FIELD_WARN, CREDENTIALS_WHY },
	{ "accessFrom", FIELD_WARN, "plumb reads the source in the folder of the application that names it" },
	{ "suspend", FIELD_WARN, "the chart is fetched whenever the application renders" },
	{ "ignore", FIELD_WARN, "a chart is rendered whole" },
	{ "verify", FIELD_REFUSE, "plumb does not verify a chart's signature; a chart in git is as trusted as its commit" },
};

/* A chart source of the folder (HelmRepository, OCIRepository) as it is resolved: its spec, and its fields' places. */
typedef struct {
	const plumb_resource *resource;
	json_t *spec;
	plumb_located fields;
} chart_source;

/*
 * Check the fields of a chart source, each where it is written: one plumb
 * does not read is a warning, one it refuses an error. Sets remote's
 * plainHttp for a registry without TLS.
 */
static void read_fetch_fields(json_t *remote, chart_source *source, int oci, plumb_diags *diags)
{
	const char *kind = source->resource->kind, *name = source->resource->name;
	const char *key;
	json_t *value;
	json_object_foreach(source->spec, key, value) {
		size_t i = 0;
		while (i < PLUMB_ARRAY_SIZE(fetch_fields) && strcmp(fetch_fields[i].name, key) != 0)
			i++;
		if (i < PLUMB_ARRAY_SIZE(fetch_fields) && fetch_fields[i].use == FIELD_READ)
			continue;
		char *field = plumb_xprintf("spec.%s", key);
		plumb_position at = plumb_located_field(&source->fields, field);
		if (i == PLUMB_ARRAY_SIZE(fetch_fields))
			plumb_diags_warn(diags, at, "%s %s: %s: not read by plumb", kind, name, field);
		else if (fetch_fields[i].use == FIELD_WARN)
			plumb_diags_warn(diags, at, "%s %s: %s: not read by plumb (%s)", kind, name, field, fetch_fields[i].why);
		else
			plumb_diags_add(diags, at, "%s %s: %s: %s", kind, name, field, fetch_fields[i].why);
		free(field);
	}
	const char *provider = json_string_value(json_object_get(source->spec, "provider"));
	if (provider && strcmp(provider, "generic") != 0)
		plumb_diags_warn(diags, plumb_located_field(&source->fields, "spec.provider"),
				 "%s %s: spec.provider: %s: not read by plumb (" CREDENTIALS_WHY ")", kind, name, provider);
	json_t *selector = json_object_get(source->spec, "layerSelector");
	const char *media_type = json_string_value(json_object_get(selector, "mediaType"));
	if (media_type && strcmp(media_type, HELM_CHART_LAYER) != 0)
		plumb_diags_warn(diags, plumb_located_field(&source->fields, "spec.layerSelector.mediaType"),
				 "%s %s: spec.layerSelector.mediaType: not read by plumb (helm pulls the layer %s)", kind, name,
				 HELM_CHART_LAYER);
	/* Flux reads insecure as plain HTTP for a registry only. */
	if (oci && json_is_true(json_object_get(source->spec, "insecure")))
		json_object_set_new(remote, "plainHttp", json_true());
}

/*
 * Find the chart source of kind that ref names in set, with a url: 0, or
 * -1 with a diagnostic where ref is written. Release with
 * chart_source_release either way.
 */
static int chart_source_find(chart_source *out, const plumb_manifest_set *set, plumb_source *source, const char *kind,
			     json_t *ref, plumb_diags *diags)
{
	const char *name = json_string_value(json_object_get(ref, "name"));
	out->resource = find_resource(set, PLUMB_FLUX_SOURCE_GROUP, kind, name);
	plumb_located_init(&out->fields, out->resource, source);
	json_t *document = out->resource ? json_loads(out->resource->json, 0, NULL) : NULL;
	out->spec = json_incref(json_object_get(document, "spec"));
	json_decref(document);
	if (json_string_value(json_object_get(out->spec, "url")))
		return 0;
	plumb_diags_add(diags, plumb_flux_placed(ref), "%s %s %s", kind, name,
			out->resource ? "has no spec.url" : "is not in the folder that declares this application");
	return -1;
}

static void chart_source_release(chart_source *source)
{
	json_decref(source->spec);
	plumb_located_release(&source->fields);
}

/* The chart of a HelmRepository of the folder (a HelmRelease's chart.spec), as helm.remote (render/helm.h). */
static json_t *helm_repository_chart(chart_source *repository, json_t *flux, int *oci, plumb_diags *diags)
{
	const char *url = json_string_value(json_object_get(repository->spec, "url"));
	const char *type = json_string_value(json_object_get(repository->spec, "type"));
	*oci = type && !strcmp(type, "oci");
	if (*oci != plumb_helm_is_oci(url))
		plumb_diags_add(diags, plumb_located_field(&repository->fields, "spec.url"),
				"HelmRepository %s: spec.url '%s' %s", repository->resource->name, url,
				*oci ? "is not oci://HOST/PATH, as type oci requires" : "is an OCI registry's: say type: oci");
	json_t *remote = json_pack("{s:s, s:O}", "repo", url, "chart", json_object_get(flux, "chart"));
	if (json_object_get(flux, "version"))
		json_object_set(remote, "version", json_object_get(flux, "version"));
	return remote;
}

/*
 * The version an OCIRepository's ref names (a new string; NULL with a
 * diagnostic when none can be pulled): a range in semver, else the
 * version its tag spells (OCI tags spell a version's "+" as "_", as helm
 * pushes it). Flux pulls the tag "latest" when ref is none: no chart's.
 */
static char *oci_version(chart_source *repository, json_t *ref, plumb_diags *diags)
{
	const char *name = repository->resource->name;
	const char *semver = json_string_value(json_object_get(ref, "semver"));
	const char *tag = json_string_value(json_object_get(ref, "tag"));
	if (semver)
		return plumb_xstrdup(semver);
	if (!tag) {
		plumb_diags_add(diags, plumb_located_field(&repository->fields, "spec"),
				"OCIRepository %s: no spec.ref: Flux pulls the tag latest, which is no chart's version: give "
				"ref.tag, ref.semver or ref.digest",
				name);
		return NULL;
	}
	char *version = plumb_xstrdup(tag);
	for (char *c = version; *c; c++)
		if (*c == '_')
			*c = '+';
	if (plumb_helm_is_release(version))
		return version;
	plumb_diags_add(diags, plumb_located_field(&repository->fields, "spec.ref.tag"),
			"OCIRepository %s: spec.ref.tag '%s' is not a chart's version, which helm pulls a chart by: give "
			"ref.semver, or ref.digest",
			name, tag);
	free(version);
	return NULL;
}

/*
 * The chart of an OCIRepository of the folder (a HelmRelease's chartRef),
 * as helm.remote, or NULL: its url is the chart's (oci://HOST/PATH/CHART),
 * pulled at ref.digest, else the release ref.semver resolves to (pinned as
 * a range is), else the version ref.tag names, as Flux takes them.
 */
static json_t *oci_repository_chart(chart_source *repository, plumb_diags *diags)
{
	const char *name = repository->resource->name;
	const char *url = json_string_value(json_object_get(repository->spec, "url"));
	const char *chart = plumb_helm_is_oci(url) ? strrchr(url + 6, '/') : NULL;
	json_t *ref = json_object_get(repository->spec, "ref");
	const char *digest = json_string_value(json_object_get(ref, "digest"));
	if (!chart || !chart[1]) {
		plumb_diags_add(diags, plumb_located_field(&repository->fields, "spec.url"),
				"OCIRepository %s: spec.url '%s' is not a chart's: oci://HOST/PATH/CHART", name, url);
		return NULL;
	}
	if (json_object_get(ref, "semverFilter"))
		plumb_diags_add(diags, plumb_located_field(&repository->fields, "spec.ref.semverFilter"),
				"OCIRepository %s: spec.ref.semverFilter: not read by plumb, and it chooses the release: "
				"give the range in ref.semver alone",
				name);
	char *version = digest ? NULL : oci_version(repository, ref, diags);
	char *repo = plumb_xstrndup(url, (size_t)(chart - url));
	json_t *remote = json_pack("{s:s, s:s}", "repo", repo, "chart", chart + 1);
	free(repo);
	if (digest)
		json_object_set_new(remote, "digest", json_string(digest));
	else if (version)
		json_object_set_new(remote, "version", json_string(version));
	free(version);
	return remote;
}

/*
 * The chart a HelmRelease names through a source of the folder (a
 * HelmRepository's, an OCIRepository's): its helm.remote, for helm to
 * fetch when plumb may (render/helm.h).
 */
static void resolve_chart_source(json_t *render, json_t *flux, const plumb_manifest_set *set, plumb_source *source,
				 plumb_diags *diags)
{
	json_t *ref = json_object_get(flux, "helmRepository");
	int helm_repository = ref != NULL, oci = 1;
	chart_source found;
	if (!ref && !(ref = json_object_get(flux, "ociRepository")))
		return;
	if (chart_source_find(&found, set, source, helm_repository ? "HelmRepository" : "OCIRepository", ref, diags) == 0) {
		json_t *remote = helm_repository ? helm_repository_chart(&found, flux, &oci, diags)
						 : oci_repository_chart(&found, diags);
		if (remote) {
			read_fetch_fields(remote, &found, oci, diags);
			json_object_set_new(json_object_get(render, "helm"), "remote",
					    plumb_flux_place(remote, plumb_flux_placed(ref)));
		}
	}
	chart_source_release(&found);
}

/* data[key] of the ConfigMap from names, or NULL (a diagnostic unless optional). A new reference. */
static json_t *config_map_data(const plumb_manifest_set *set, json_t *from, plumb_diags *diags)
{
	const char *name = json_string_value(json_object_get(from, "name"));
	json_t *config_map = find_document(set, "v1", "ConfigMap", name);
	json_t *data = json_incref(json_object_get(config_map, "data"));
	json_decref(config_map);
	if (!data && !json_is_true(json_object_get(from, "optional")))
		plumb_diags_add(diags, plumb_flux_placed(from),
				"ConfigMap %s is not in the folder that declares this application (plumb reads it from "
				"there, not from a cluster); add it, or say optional: true",
				name);
	return data;
}

/*
 * The keys of the v1 Secret from names, each as the placeholder of the
 * plumb Secret its {secretFrom: NAME} names (PLUMB_SECRET_PLACEHOLDER_OPEN):
 * a new object, or NULL (a diagnostic unless optional). Each plumb Secret
 * named is put in carried (by name), for the application to read when it
 * plans. A value written in the Secret itself is plain text in git, and
 * refused.
 */
static json_t *secret_data(const plumb_manifest_set *set, const plumb_application *a, json_t *from, json_t *carried,
			   plumb_diags *diags)
{
	const char *name = json_string_value(json_object_get(from, "name"));
	const plumb_resource *r = find_resource(set, "v1", "Secret", name);
	if (!r) {
		if (!json_is_true(json_object_get(from, "optional")))
			plumb_diags_add(diags, plumb_flux_placed(from),
					"Secret %s is not in the folder that declares this application (plumb reads it from "
					"there, not from a cluster); add it, with KEY: {secretFrom: NAME} for each value, or "
					"say optional: true",
					name);
		return NULL;
	}
	plumb_position at = { r->file, r->line, r->column };
	json_t *document = json_loads(r->json, 0, NULL);
	json_t *vars = json_object();
	if (json_object_get(document, "sops")) {
		plumb_diags_add(diags, at,
				"Secret %s is encrypted with SOPS, which plumb does not read: seal each value with plumb "
				"secret seal, and write KEY: {secretFrom: NAME}",
				name);
		goto done;
	}
	static const char *const fields[] = { "data", "stringData" };
	for (size_t f = 0; f < 2; f++) {
		const char *key;
		json_t *value;
		json_object_foreach(json_object_get(document, fields[f]), key, value) {
			const char *secret = json_string_value(json_object_get(value, "secretFrom"));
			const plumb_secret *declared = secret ? plumb_secret_find(set, secret) : NULL;
			if (!secret) {
				plumb_diags_add(diags, at,
						"Secret %s: %s.%s is written in git, in plain text: a Flux application takes "
						"the values of plumb Secrets here (%s: {secretFrom: NAME})",
						name, fields[f], key, key);
			} else if (!declared) {
				continue; /* the Secret's own check names it */
			} else if (declared->source == PLUMB_SECRET_AGE && a->repo) {
				plumb_diags_add(diags, plumb_flux_placed(from),
						"Secret %s: %s takes the value of Secret %s, sealed in this repository, and "
						"the application reads %s",
						name, key, secret, a->repo);
			} else {
				json_object_set_new(vars, key,
						    json_sprintf("%s%s%c", PLUMB_SECRET_PLACEHOLDER_OPEN, secret,
								 PLUMB_SECRET_PLACEHOLDER_CLOSE));
				json_object_set_new(carried, secret, plumb_secret_to_json(declared));
			}
		}
	}
done:
	json_decref(document);
	return vars;
}

/* The data of what from names (a ConfigMap's, or a Secret's placeholders), or NULL. A new reference. */
static json_t *from_data(const plumb_manifest_set *set, const plumb_application *a, json_t *from, json_t *carried,
			 plumb_diags *diags)
{
	if (!strcmp(json_string_value(json_object_get(from, "kind")), "Secret"))
		return secret_data(set, a, from, carried, diags);
	return config_map_data(set, from, diags);
}

/* A values document's text (YAML or JSON) as JSON, or NULL. A new reference. */
static json_t *yaml_json(const char *text)
{
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 };
	struct fy_document *doc = fy_document_build_from_string(&cfg, text, strlen(text));
	json_t *json = doc ? plumb_spec_node_json(fy_document_root(doc)) : NULL;
	fy_document_destroy(doc);
	return json;
}

/*
 * A valuesFrom value as helm-controller sets it at a targetPath: quoted
 * ('...' or "..."), the text inside as a string; else typed as helm's --set
 * types it (true, false, null, an integer without a leading zero), else a
 * string. A new reference.
 */
static json_t *target_value(const char *text)
{
	size_t len = strlen(text);
	if (len >= 2 && ((text[0] == '"' && text[len - 1] == '"') || (text[0] == '\'' && text[len - 1] == '\'')))
		return json_stringn(text + 1, len - 2);
	if (!strcasecmp(text, "true") || !strcasecmp(text, "false"))
		return json_boolean(!strcasecmp(text, "true"));
	if (!strcasecmp(text, "null"))
		return json_null();
	char *end;
	errno = 0;
	long long number = strtoll(text, &end, 10);
	/* As Go's ParseInt takes it, tried only when it does not start with a zero (but "0"). */
	if (*text && !*end && !errno && (text[0] != '0' || !text[1]) && text[0] != ' ' && text[0] != '\t')
		return json_integer(number);
	return json_string(text);
}

/* The container at at[key] (an object, or with index >= 0 an array's item there), made when missing. */
static json_t *step_into(json_t *at, const char *key, long index, int last, json_t *value)
{
	json_t *child = json_object_get(at, key);
	if (index < 0) {
		if (last) {
			json_object_set(at, key, value);
			return NULL;
		}
		if (!json_is_object(child)) {
			child = json_object();
			json_object_set_new(at, key, child);
		}
		return child;
	}
	if (!json_is_array(child)) {
		child = json_array();
		json_object_set_new(at, key, child);
	}
	while ((long)json_array_size(child) <= index)
		json_array_append_new(child, json_null());
	if (last) {
		json_array_set(child, (size_t)index, value);
		return NULL;
	}
	json_t *item = json_array_get(child, (size_t)index);
	if (!json_is_object(item)) {
		item = json_object();
		json_array_set_new(child, (size_t)index, item);
	}
	return item;
}

/*
 * values[path] = value, as a valuesFrom targetPath sets one: path dotted
 * ("a.b.c"), "\." a dot within a key, and "key[N]" an item of a list
 * (filled with nulls up to it).
 */
static void set_at_path(json_t *values, const char *path, json_t *value)
{
	json_t *at = values;
	plumb_buf key = PLUMB_BUF_INIT;
	const char *c = path;
	while (at) {
		plumb_buf_clear(&key);
		long index = -1;
		while (*c && *c != '.' && *c != '[') {
			if (*c == '\\' && c[1])
				c++;
			plumb_buf_putc(&key, *c++);
		}
		if (*c == '[') {
			char *end;
			index = strtol(c + 1, &end, 10);
			c = end + (*end == ']');
		}
		int last = !*c;
		at = step_into(at, key.ptr, index, last, value);
		if (*c == '.')
			c++;
	}
	plumb_buf_release(&key);
}

void plumb_flux_resolve(plumb_application *a, const plumb_manifest_set *set, plumb_source *source,
			int (*own)(const char *url, void *payload), void *payload, plumb_diags *diags)
{
	json_t *render = a->render ? json_loads(a->render, 0, NULL) : NULL;
	json_t *flux = json_object_get(render, "flux");
	if (!flux) {
		json_decref(render);
		return;
	}
	resolve_source(a, flux, set, own, payload, diags);
	resolve_chart_source(render, flux, set, source, diags);
	size_t i;
	json_t *from, *carried = json_object();
	/* Variables: substituteFrom in order, then substitute over them, as Flux takes them. */
	if (json_object_get(flux, "substitute")) {
		json_t *vars = json_object();
		json_array_foreach(json_object_get(flux, "substituteFrom"), i, from) {
			json_t *data = from_data(set, a, from, carried, diags);
			const char *key;
			json_t *value;
			json_object_foreach(data, key, value) {
				if (!plumb_substitute_valid_name(key))
					plumb_diags_add(diags, plumb_flux_placed(from),
							"%s %s: its key '%s' is not a variable name (letters, digits and _, "
							"not first a digit), as Flux requires of substituteFrom",
							json_string_value(json_object_get(from, "kind")),
							json_string_value(json_object_get(from, "name")), key);
			}
			json_object_update(vars, data);
			json_decref(data);
		}
		json_object_update(vars, json_object_get(flux, "substitute"));
		json_object_set_new(render, "substitute", vars);
	}
	/* Values: valuesFrom in order, then values over them, each merged deep, as Flux merges them. */
	json_t *helm = json_object_get(render, "helm");
	if (helm) {
		json_t *values = json_object();
		json_array_foreach(json_object_get(flux, "valuesFrom"), i, from) {
			json_t *data = from_data(set, a, from, carried, diags);
			const char *text = json_string_value(json_object_get(data, json_string_value(json_object_get(from, "valuesKey"))));
			const char *target = json_string_value(json_object_get(from, "targetPath"));
			int secret = !strcmp(json_string_value(json_object_get(from, "kind")), "Secret");
			if (text && secret && !*target) {
				/* A values document would be read before plumb plans, when no value is. */
				plumb_diags_add(diags, plumb_flux_placed(from),
						"Secret %s: its %s would be a whole document of values, which plumb does not "
						"read until it plans: give targetPath, to set one value from it",
						json_string_value(json_object_get(from, "name")),
						json_string_value(json_object_get(from, "valuesKey")));
			} else if (text && target && *target) {
				json_t *value = target_value(text);
				set_at_path(values, target, value);
				json_decref(value);
			} else if (text) {
				json_t *document = yaml_json(text);
				if (json_is_object(document))
					json_object_update_recursive(values, document);
				else
					plumb_diags_add(diags, plumb_flux_placed(from), "ConfigMap %s: its %s is not a mapping of values",
							json_string_value(json_object_get(from, "name")),
							json_string_value(json_object_get(from, "valuesKey")));
				json_decref(document);
			}
			json_decref(data);
		}
		if (json_object_get(flux, "values"))
			json_object_update_recursive(values, json_object_get(flux, "values"));
		if (json_object_size(values)) {
			char *text = json_dumps(values, JSON_COMPACT);
			json_object_set_new(helm, "values", json_string(text));
			free(text);
		}
		json_decref(values);
	}
	/* The plumb Secrets its placeholders name, read when the application plans. */
	if (json_object_size(carried)) {
		json_t *secrets = json_array();
		const char *name;
		json_t *secret;
		json_object_foreach(carried, name, secret)
			json_array_append(secrets, secret);
		json_object_set_new(render, "secrets", secrets);
	}
	json_decref(carried);
	json_object_del(render, "flux");
	free(a->render);
	a->render = json_dumps(render, JSON_COMPACT);
	json_decref(render);
}

int plumb_flux_consumed(const plumb_manifest_set *set, size_t resource)
{
	const plumb_resource *r = &set->resources[resource];
	if ((strcmp(r->kind, "ConfigMap") != 0 && strcmp(r->kind, "Secret") != 0) || strcmp(r->api_version, "v1") != 0)
		return 0;
	for (size_t k = 0; k < set->application_count; k++) {
		const char *render = set->applications[k].render;
		json_t *json = render ? json_loads(render, 0, NULL) : NULL;
		json_t *flux = json_object_get(json, "flux"), *from;
		size_t i;
		int found = 0;
		static const char *const lists[] = { "substituteFrom", "valuesFrom" };
		for (size_t l = 0; l < 2 && !found; l++)
			json_array_foreach(json_object_get(flux, lists[l]), i, from)
				found |= !strcmp(json_string_value(json_object_get(from, "name")), r->name) &&
					 !strcmp(json_string_value(json_object_get(from, "kind")), r->kind);
		json_decref(json);
		if (found)
			return 1;
	}
	return 0;
}
