#include "util/common.h"
#include "load/flux.h"
#include "load/flux_internal.h"
#include "load/substitute.h"
#include "load/application.h"
#include "resource/spec_internal.h"
#include "util/duration.h"
#include "util/path.h"

#include <jansson.h>
#include <limits.h>
#include <stdlib.h>

#define KUSTOMIZE_GROUP "kustomize.toolkit.fluxcd.io/"
#define HELM_GROUP "helm.toolkit.fluxcd.io/"

static const plumb_field document_fields[] = {
	{ "apiVersion", PLUMB_FIELD_STRING, 0 }, { "kind", PLUMB_FIELD_STRING, 0 },
	{ "metadata", PLUMB_FIELD_MAP, 0 },	 { "spec", PLUMB_FIELD_MAP, PLUMB_FIELD_REQUIRED },
	{ "status", PLUMB_FIELD_ANY, 0 },
};
static const plumb_field metadata_fields[] = {
	{ "name", PLUMB_FIELD_STRING, 0 },   { "namespace", PLUMB_FIELD_STRING, 0 },
	{ "labels", PLUMB_FIELD_ANY, 0 },    { "annotations", PLUMB_FIELD_ANY, 0 },
};
static const plumb_field kustomization_fields[] = {
	{ "path", PLUMB_FIELD_STRING, 0 },	      { "sourceRef", PLUMB_FIELD_MAP, PLUMB_FIELD_REQUIRED },
	{ "prune", PLUMB_FIELD_BOOL, 0 },	      { "suspend", PLUMB_FIELD_BOOL, 0 },
	{ "dependsOn", PLUMB_FIELD_MAPS, 0 },	      { "targetNamespace", PLUMB_FIELD_STRING, 0 },
	{ "postBuild", PLUMB_FIELD_MAP, 0 },	      { "force", PLUMB_FIELD_BOOL, 0 },
	{ "timeout", PLUMB_FIELD_STRING, 0 },	      { "kubeConfig", PLUMB_FIELD_MAP, 0 },
	{ "namePrefix", PLUMB_FIELD_STRING, 0 },      { "nameSuffix", PLUMB_FIELD_STRING, 0 },
	{ "images", PLUMB_FIELD_MAPS, 0 },	      { "patches", PLUMB_FIELD_ANY, 0 },
	{ "components", PLUMB_FIELD_LIST, 0 },	      { "interval", PLUMB_FIELD_STRING, 0 },
	{ "retryInterval", PLUMB_FIELD_STRING, 0 },   { "wait", PLUMB_FIELD_BOOL, 0 },
	{ "decryption", PLUMB_FIELD_ANY, 0 },	      { "commonMetadata", PLUMB_FIELD_MAP, 0 },
	{ "healthChecks", PLUMB_FIELD_ANY, 0 },	      { "healthCheckExprs", PLUMB_FIELD_ANY, 0 },
};
enum { K_PATH, K_SOURCE, K_PRUNE, K_SUSPEND, K_DEPENDS, K_TARGET, K_POST_BUILD, K_FORCE, K_TIMEOUT, K_KUBECONFIG,
       K_PREFIX, K_SUFFIX, K_IMAGES, K_PATCHES, K_COMPONENTS, K_INTERVAL, K_RETRY, K_WAIT, K_DECRYPTION, K_COMMON,
       K_HEALTH_CHECKS, K_HEALTH_EXPRS, K_COUNT };
static const plumb_field release_fields[] = {
	{ "chart", PLUMB_FIELD_MAP, 0 },	       { "chartRef", PLUMB_FIELD_MAP, 0 },
	{ "releaseName", PLUMB_FIELD_STRING, 0 },      { "targetNamespace", PLUMB_FIELD_STRING, 0 },
	{ "values", PLUMB_FIELD_MAP, 0 },	       { "valuesFrom", PLUMB_FIELD_MAPS, 0 },
	{ "install", PLUMB_FIELD_MAP, 0 },	       { "dependsOn", PLUMB_FIELD_MAPS, 0 },
	{ "suspend", PLUMB_FIELD_BOOL, 0 },	       { "timeout", PLUMB_FIELD_STRING, 0 },
	{ "kubeConfig", PLUMB_FIELD_MAP, 0 },	       { "interval", PLUMB_FIELD_STRING, 0 },
	{ "postRenderers", PLUMB_FIELD_ANY, 0 },
};
enum { H_CHART, H_CHART_REF, H_RELEASE, H_TARGET, H_VALUES, H_VALUES_FROM, H_INSTALL, H_DEPENDS, H_SUSPEND, H_TIMEOUT,
       H_KUBECONFIG, H_INTERVAL, H_POST_RENDERERS, H_COUNT };
static const plumb_field chart_template_fields[] = { { "spec", PLUMB_FIELD_MAP, PLUMB_FIELD_REQUIRED } };
static const plumb_field chart_fields[] = {
	{ "chart", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "sourceRef", PLUMB_FIELD_MAP, PLUMB_FIELD_REQUIRED },
	{ "valuesFiles", PLUMB_FIELD_LIST, 0 },
	{ "version", PLUMB_FIELD_STRING, 0 },
	{ "reconcileStrategy", PLUMB_FIELD_STRING, 0 },
	{ "verify", PLUMB_FIELD_ANY, 0 },
};
enum { C_CHART, C_SOURCE, C_VALUES_FILES, C_VERSION, C_STRATEGY, C_VERIFY, C_COUNT };
static const plumb_field source_ref_fields[] = {
	{ "kind", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "name", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "namespace", PLUMB_FIELD_STRING, 0 },
	{ "apiVersion", PLUMB_FIELD_STRING, 0 },
};
static const plumb_field depends_fields[] = {
	{ "name", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "namespace", PLUMB_FIELD_STRING, 0 },
};
static const plumb_field post_build_fields[] = {
	{ "substitute", PLUMB_FIELD_MAP, 0 },
	{ "substituteFrom", PLUMB_FIELD_MAPS, 0 },
};
static const plumb_field from_fields[] = {
	{ "kind", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED }, { "name", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "optional", PLUMB_FIELD_BOOL, 0 },		      { "valuesKey", PLUMB_FIELD_STRING, 0 },
	{ "targetPath", PLUMB_FIELD_STRING, 0 },
};
static const plumb_field common_metadata_fields[] = {
	{ "labels", PLUMB_FIELD_MAP, 0 },
	{ "annotations", PLUMB_FIELD_MAP, 0 },
};
static const plumb_field kubeconfig_fields[] = {
	{ "secretRef", PLUMB_FIELD_MAP, 0 },
	{ "configMapRef", PLUMB_FIELD_MAP, 0 },
};
static const plumb_field ref_name_fields[] = {
	{ "name", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "key", PLUMB_FIELD_STRING, 0 },
};
static const plumb_field install_fields[] = {
	{ "createNamespace", PLUMB_FIELD_BOOL, 0 },
	{ "crds", PLUMB_FIELD_STRING, 0 },
};
static const plumb_field image_fields[] = {
	{ "name", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "newName", PLUMB_FIELD_STRING, 0 },
	{ "newTag", PLUMB_FIELD_STRING, 0 },
	{ "digest", PLUMB_FIELD_STRING, 0 },
};

int plumb_flux_claims(const char *api_version, const char *kind)
{
	if (!strncmp(api_version, KUSTOMIZE_GROUP, strlen(KUSTOMIZE_GROUP)))
		return !strcmp(kind, "Kustomization");
	if (!strncmp(api_version, HELM_GROUP, strlen(HELM_GROUP)))
		return !strcmp(kind, "HelmRelease");
	return !strncmp(api_version, PLUMB_FLUX_SOURCE_GROUP, strlen(PLUMB_FLUX_SOURCE_GROUP));
}

json_t *plumb_flux_place(json_t *object, plumb_position at)
{
	json_object_set_new(object, "file", json_string(at.file ? at.file : ""));
	json_object_set_new(object, "line", json_integer(at.line));
	json_object_set_new(object, "column", json_integer(at.column));
	return object;
}

plumb_position plumb_flux_placed(const json_t *object)
{
	plumb_position at = { json_string_value(json_object_get(object, "file")),
			      (unsigned)json_integer_value(json_object_get(object, "line")),
			      (unsigned)json_integer_value(json_object_get(object, "column")) };
	return at;
}

static void read_past(plumb_diags *diags, const plumb_value *value, const char *field, const char *why)
{
	if (value->present)
		plumb_diags_warn(diags, value->position, "%s: not read by plumb (%s)", field, why);
}

/*
 * The source the application comes from, resolved against the folder
 * later: a GitRepository, or for a chart (helm_ok) a HelmRepository, whose
 * charts helm fetches when plumb may fetch. Returns 1 for a HelmRepository.
 */
static int decode_source_ref(json_t *flux, const plumb_value *ref, const char *field, int helm_ok, plumb_diags *diags)
{
	plumb_value r[4];
	int helm = 0;
	if (plumb_spec_decode_known(r, ref->map, source_ref_fields, 4, diags) == 0) {
		helm = helm_ok && !strcmp(r[0].string, "HelmRepository");
		if (helm)
			json_object_set_new(flux, "helmRepository",
					    plumb_flux_place(json_pack("{s:s}", "name", r[1].string), r[1].position));
		else if (strcmp(r[0].string, "GitRepository") != 0)
			plumb_diags_add(diags, r[0].position,
					"%s.kind: %s is not read by plumb: %s",
					field, r[0].string,
					helm_ok ? "a chart comes from a GitRepository or a HelmRepository here (or from an "
						  "OCIRepository through spec.chartRef)"
						: "manifests come from a GitRepository (plumb fetches no artifact of "
						  "manifests from a registry or a bucket)");
		else
			json_object_set_new(flux, "sourceRef",
					    plumb_flux_place(json_pack("{s:s}", "name", r[1].string), r[1].position));
	}
	plumb_values_release(r, 4);
	return helm;
}

static void decode_depends(plumb_application *a, const plumb_value *depends, plumb_diags *diags)
{
	a->depends_on = plumb_xcalloc(depends->map_count ? depends->map_count : 1, sizeof(char *));
	for (size_t i = 0; i < depends->map_count; i++) {
		plumb_value d[2];
		if (plumb_spec_decode_known(d, depends->maps[i], depends_fields, 2, diags) == 0)
			a->depends_on[a->depends_on_count++] = plumb_xstrdup(d[0].string);
		plumb_values_release(d, 2);
	}
}

/* The ConfigMaps and Secrets a list names, kept to be read from the folder. */
static json_t *decode_from(const plumb_value *list, plumb_diags *diags)
{
	json_t *out = json_array();
	for (size_t i = 0; i < list->map_count; i++) {
		plumb_value f[5];
		if (plumb_spec_decode_known(f, list->maps[i], from_fields, 5, diags) == 0) {
			if (strcmp(f[0].string, "ConfigMap") != 0 && strcmp(f[0].string, "Secret") != 0) {
				plumb_diags_add(diags, f[0].position, "%s.kind: %s: a ConfigMap or a Secret is named here",
						plumb_spec_name(list->maps[i]), f[0].string);
				plumb_values_release(f, 5);
				continue;
			}
			json_t *from = json_pack("{s:s, s:s, s:b, s:s, s:s}", "kind", f[0].string, "name", f[1].string,
						 "optional", f[2].present && f[2].boolean, "valuesKey",
						 f[3].present ? f[3].string : "values.yaml", "targetPath",
						 f[4].present ? f[4].string : "");
			json_array_append_new(out, plumb_flux_place(from, f[1].position));
		}
		plumb_values_release(f, 5);
	}
	return out;
}

static void decode_kubeconfig(plumb_application *a, const plumb_value *kubeconfig, plumb_diags *diags)
{
	plumb_value k[2], ref[2];
	memset(ref, 0, sizeof(ref));
	if (plumb_spec_decode_known(k, kubeconfig->map, kubeconfig_fields, 2, diags) == 0) {
		const plumb_value *named = k[0].present ? &k[0] : &k[1];
		if (named->present && plumb_spec_decode_known(ref, named->map, ref_name_fields, 2, diags) == 0) {
			a->cluster = plumb_xstrdup(ref[0].string);
			a->cluster_position = ref[0].position;
			a->cluster_position.file = a->file;
		}
	}
	plumb_values_release(ref, 2);
	plumb_values_release(k, 2);
}

static void decode_timeout(plumb_application *a, const plumb_value *timeout, const char *field, plumb_diags *diags)
{
	if (timeout->present && plumb_duration_parse(&a->health_timeout_ms, timeout->string) < 0)
		plumb_diags_add(diags, timeout->position, "%s: %s", field, plumb_error_last());
}

/*
 * A Go duration as Flux writes one ("10m", "1m30s", "1h0m0s", "500ms") in
 * milliseconds; -1 when it is not one.
 */
static long long go_duration(const char *text)
{
	static const struct {
		const char *unit;
		long long ms;
	} units[] = { { "ms", 1 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };
	long long total = 0;
	const char *c = text;
	if (!*c)
		return -1;
	while (*c) {
		long long n = 0;
		if (*c < '0' || *c > '9')
			return -1;
		while (*c >= '0' && *c <= '9' && n < 100000000)
			n = n * 10 + (*c++ - '0');
		size_t u;
		for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
			if (!strncmp(c, units[u].unit, strlen(units[u].unit)))
				break;
		if (u == sizeof(units) / sizeof(units[0]))
			return -1;
		c += strlen(units[u].unit);
		total += n * units[u].ms;
		if (total > UINT_MAX)
			return -1;
	}
	return total;
}

/* spec.interval: how often plumb serve looks at the application's source. */
static void decode_interval(plumb_application *a, const plumb_value *interval, plumb_diags *diags)
{
	long long ms = interval->present ? go_duration(interval->string) : 0;
	if (ms < 0 || (interval->present && ms == 0))
		plumb_diags_add(diags, interval->position, "spec.interval: '%s' is not a duration such as 10m or 1m30s",
				interval->string);
	else
		a->interval_ms = (unsigned)ms;
}

/* Flux's path is from the repository's root, "./" or not. */
static char *repository_path(const plumb_value *value, const char *field, plumb_diags *diags)
{
	char *out = NULL;
	const char *text = value && value->present ? value->string : "./";
	if (plumb_path_normalize(&out, text[0] == '/' ? text + 1 : text, 0) < 0)
		plumb_diags_add(diags, value->position, "%s: %s", field, plumb_error_last());
	return out;
}

/*
 * spec.commonMetadata: the labels and annotations set on every object the
 * Kustomization applies, over those written (render's "commonMetadata",
 * which the loader sets: load.h).
 */
static void decode_common_metadata(json_t *render, const plumb_value *common, plumb_diags *diags)
{
	plumb_value m[2];
	if (plumb_spec_decode_known(m, common->map, common_metadata_fields, 2, diags) == 0) {
		json_t *out = json_object();
		static const char *const names[] = { "labels", "annotations" };
		for (size_t i = 0; i < 2; i++) {
			char *text = m[i].present ? plumb_spec_json(m[i].map) : NULL;
			json_t *map = text ? json_loads(text, 0, NULL) : NULL;
			const char *key;
			json_t *value;
			json_object_foreach(map, key, value) {
				if (!json_is_string(value))
					plumb_diags_add(diags, m[i].position, "spec.commonMetadata.%s.%s: must be a string",
							names[i], key);
			}
			if (json_object_size(map))
				json_object_set(out, names[i], map);
			json_decref(map);
			free(text);
		}
		json_object_set_new(render, "commonMetadata", out);
	}
	plumb_values_release(m, 2);
}

static void decode_kustomization(plumb_application *a, json_t *render, json_t *flux, const plumb_spec *spec,
				 plumb_diags *diags)
{
	plumb_value k[K_COUNT], post[2];
	memset(post, 0, sizeof(post));
	if (plumb_spec_decode_known(k, spec, kustomization_fields, K_COUNT, diags))
		goto done;
	a->path = repository_path(&k[K_PATH], "spec.path", diags);
	decode_source_ref(flux, &k[K_SOURCE], "spec.sourceRef", 0, diags);
	a->prune = k[K_PRUNE].present && k[K_PRUNE].boolean;
	a->automated = !(k[K_SUSPEND].present && k[K_SUSPEND].boolean);
	decode_depends(a, &k[K_DEPENDS], diags);
	json_t *kustomize = json_object();
	if (k[K_TARGET].present) {
		a->namespace = plumb_xstrdup(k[K_TARGET].string);
		json_object_set_new(kustomize, "namespace", json_string(k[K_TARGET].string));
	}
	if (k[K_PREFIX].present)
		json_object_set_new(kustomize, "namePrefix", json_string(k[K_PREFIX].string));
	if (k[K_SUFFIX].present)
		json_object_set_new(kustomize, "nameSuffix", json_string(k[K_SUFFIX].string));
	json_t *images = json_array();
	for (size_t i = 0; i < k[K_IMAGES].map_count; i++) {
		plumb_value m[4];
		if (plumb_spec_decode_known(m, k[K_IMAGES].maps[i], image_fields, 4, diags) == 0)
			json_array_append_new(images, json_sprintf("%s%s%s%s%s%s%s", m[0].string, m[1].present ? "=" : "",
								   m[1].present ? m[1].string : "", m[2].present ? ":" : "",
								   m[2].present ? m[2].string : "", m[3].present ? "@" : "",
								   m[3].present ? m[3].string : ""));
		plumb_values_release(m, 4);
	}
	json_object_set_new(kustomize, "images", images);
	if (k[K_PATCHES].present) {
		char *patches = plumb_spec_json(k[K_PATCHES].map);
		json_object_set_new(kustomize, "patches", patches ? json_loads(patches, 0, NULL) : json_array());
		free(patches);
	}
	json_t *components = json_array();
	for (size_t i = 0; i < k[K_COMPONENTS].list_count; i++)
		json_array_append_new(components, json_string(k[K_COMPONENTS].list[i]));
	json_object_set_new(kustomize, "components", components);
	json_object_set_new(render, "kustomize", kustomize);
	if (k[K_POST_BUILD].present && plumb_spec_decode_known(post, k[K_POST_BUILD].map, post_build_fields, 2, diags) == 0) {
		json_t *substitute = json_object();
		if (post[0].present) {
			char *vars = plumb_spec_json(post[0].map);
			json_t *json = vars ? json_loads(vars, 0, NULL) : NULL;
			const char *name;
			json_t *value;
			json_object_foreach(json, name, value) {
				if (!plumb_substitute_valid_name(name))
					plumb_diags_add(diags, post[0].position,
							"spec.postBuild.substitute.%s: not a variable name (letters, digits "
							"and _, not first a digit), as Flux requires",
							name);
				/* Flux's variables are strings; a number or a boolean is the text it was written as. */
				char *text = json_is_string(value) ? plumb_xstrdup(json_string_value(value))
								   : json_dumps(value, JSON_ENCODE_ANY);
				json_object_set_new(substitute, name, json_string(text ? text : ""));
				free(text);
			}
			json_decref(json);
			free(vars);
		}
		json_object_set_new(flux, "substitute", substitute);
		json_object_set_new(flux, "substituteFrom", decode_from(&post[1], diags));
	}
	a->replace = k[K_FORCE].present && k[K_FORCE].boolean;
	decode_timeout(a, &k[K_TIMEOUT], "spec.timeout", diags);
	if (k[K_KUBECONFIG].present)
		decode_kubeconfig(a, &k[K_KUBECONFIG], diags);
	decode_interval(a, &k[K_INTERVAL], diags);
	read_past(diags, &k[K_RETRY], "spec.retryInterval", "a failed sync is retried at the next reconcile");
	read_past(diags, &k[K_WAIT], "spec.wait", "plumb waits for each wave's health before the next");
	read_past(diags, &k[K_HEALTH_CHECKS], "spec.healthChecks",
		  "plumb waits for the health of every object it applies, wave by wave, and of none it does not");
	read_past(diags, &k[K_HEALTH_EXPRS], "spec.healthCheckExprs",
		  "an object's health is what plumb knows of its kind, else its Ready, Stalled and Reconciling "
		  "conditions");
	if (k[K_DECRYPTION].present)
		plumb_diags_add(diags, k[K_DECRYPTION].position,
				"spec.decryption: SOPS is not read by plumb: seal secrets with plumb secret seal");
	if (k[K_COMMON].present)
		decode_common_metadata(render, &k[K_COMMON], diags);
done:
	plumb_values_release(post, 2);
	plumb_values_release(k, K_COUNT);
}

/*
 * A HelmRelease's chartRef: an OCIRepository of the folder, whose chart
 * helm pulls when plumb may fetch (resolved with the folder, flux_resolve.c).
 * A HelmChart or an ExternalArtifact is made by a Flux controller: an error.
 */
static void decode_chart_ref(plumb_application *a, json_t *flux, const plumb_value *ref, plumb_diags *diags)
{
	plumb_value r[4];
	if (plumb_spec_decode_known(r, ref->map, source_ref_fields, 4, diags) == 0) {
		if (strcmp(r[0].string, "OCIRepository") != 0) {
			plumb_diags_add(diags, r[0].position,
					"spec.chartRef.kind: a %s is made by a Flux controller, which plumb does not run: a "
					"chart comes from an OCIRepository here, or from spec.chart (a HelmRepository's "
					"chart, or a chart folder of a GitRepository)",
					r[0].string);
		} else {
			a->path = plumb_xstrdup("");
			json_object_set_new(flux, "ociRepository",
					    plumb_flux_place(json_pack("{s:s}", "name", r[1].string), r[1].position));
		}
	}
	plumb_values_release(r, 4);
}

static void decode_release(plumb_application *a, json_t *render, json_t *flux, const plumb_spec *spec,
			   const char *release_namespace, plumb_diags *diags)
{
	plumb_value h[H_COUNT], template[1], chart[C_COUNT], install[2];
	memset(template, 0, sizeof(template));
	memset(chart, 0, sizeof(chart));
	memset(install, 0, sizeof(install));
	if (plumb_spec_decode_known(h, spec, release_fields, H_COUNT, diags))
		goto done;
	json_t *helm = json_object();
	json_object_set_new(render, "helm", helm);
	if (h[H_CHART_REF].present && h[H_CHART].present)
		plumb_diags_add(diags, h[H_CHART_REF].position, "spec.chartRef: spec.chart is given too; give one");
	else if (h[H_CHART_REF].present)
		decode_chart_ref(a, flux, &h[H_CHART_REF], diags);
	if (h[H_CHART].present && plumb_spec_decode_known(template, h[H_CHART].map, chart_template_fields, 1, diags) == 0 &&
	    plumb_spec_decode_known(chart, template[0].map, chart_fields, C_COUNT, diags) == 0) {
		if (decode_source_ref(flux, &chart[C_SOURCE], "spec.chart.spec.sourceRef", 1, diags)) {
			/* A chart of a Helm repository: its name and version, fetched by helm when allowed. */
			a->path = plumb_xstrdup("");
			json_object_set_new(flux, "chart", json_string(chart[C_CHART].string));
			if (chart[C_VERSION].present)
				json_object_set_new(flux, "version", json_string(chart[C_VERSION].string));
			if (chart[C_VALUES_FILES].present)
				plumb_diags_add(diags, chart[C_VALUES_FILES].position,
						"spec.chart.spec.valuesFiles: files inside a chart of a Helm repository, which "
						"plumb does not open: give values, or valuesFrom");
		} else {
			a->path = repository_path(&chart[C_CHART], "spec.chart.spec.chart", diags);
		}
		/* A chart's signature that plumb does not check: refused rather than rendered unchecked. */
		if (chart[C_VERIFY].present)
			plumb_diags_add(diags, chart[C_VERIFY].position,
					"spec.chart.spec.verify: plumb does not verify a chart's signature; a chart in git "
					"is as trusted as its commit: vendor it there, or drop verify");
		/* Value files are from the repository's root, as the chart is. */
		json_t *files = json_array();
		const plumb_value *value_files = &chart[C_VALUES_FILES];
		for (size_t i = 0; i < value_files->list_count; i++) {
			char *path = NULL;
			const char *text = value_files->list[i];
			if (plumb_path_normalize(&path, text[0] == '/' ? text + 1 : text, 0) < 0)
				plumb_diags_add(diags, value_files->list_positions[i], "spec.chart.spec.valuesFiles: '%s': %s",
						text, plumb_error_last());
			else
				json_array_append_new(files, plumb_flux_place(json_pack("{s:s}", "path", path),
									      value_files->list_positions[i]));
			free(path);
		}
		json_object_set_new(helm, "valueFiles", files);
		if (!json_object_get(flux, "helmRepository"))
			read_past(diags, &chart[C_VERSION], "spec.chart.spec.version", "the chart is the commit's");
	} else if (!h[H_CHART_REF].present && !h[H_CHART].present) {
		plumb_diags_add(diags, plumb_spec_position(spec), "spec: missing required field \"chart\"");
	}
	const char *target = h[H_TARGET].present ? h[H_TARGET].string : NULL;
	a->namespace = plumb_xstrdup(target ? target : release_namespace ? release_namespace : "default");
	json_object_set_new(helm, "namespace", json_string(a->namespace));
	char *release = h[H_RELEASE].present ? plumb_xstrdup(h[H_RELEASE].string)
		      : target		     ? plumb_xprintf("%s-%s", target, a->name)
					     : plumb_xstrdup(a->name);
	json_object_set_new(helm, "releaseName", json_string(release));
	free(release);
	if (h[H_VALUES].present) {
		char *values = plumb_spec_json(h[H_VALUES].map);
		json_object_set_new(flux, "values", values ? json_loads(values, 0, NULL) : json_object());
		free(values);
	}
	json_object_set_new(flux, "valuesFrom", decode_from(&h[H_VALUES_FROM], diags));
	if (h[H_INSTALL].present && plumb_spec_decode_known(install, h[H_INSTALL].map, install_fields, 2, diags) == 0)
		a->create_namespace = install[0].present && install[0].boolean;
	decode_depends(a, &h[H_DEPENDS], diags);
	a->automated = !(h[H_SUSPEND].present && h[H_SUSPEND].boolean);
	a->prune = 1; /* what the chart no longer renders is uninstalled, as helm upgrade does */
	decode_timeout(a, &h[H_TIMEOUT], "spec.timeout", diags);
	if (h[H_KUBECONFIG].present)
		decode_kubeconfig(a, &h[H_KUBECONFIG], diags);
	decode_interval(a, &h[H_INTERVAL], diags);
	if (h[H_POST_RENDERERS].present)
		plumb_diags_add(diags, h[H_POST_RENDERERS].position,
				"spec.postRenderers: not run by plumb: render the chart from a kustomization that "
				"patches it");
done:
	plumb_values_release(install, 2);
	plumb_values_release(chart, C_COUNT);
	plumb_values_release(template, 1);
	plumb_values_release(h, H_COUNT);
}

void plumb_flux_decode(plumb_manifest_set *set, size_t resource, const plumb_spec *document, plumb_diags *diags)
{
	const plumb_resource *r = &set->resources[resource];
	plumb_value d[PLUMB_ARRAY_SIZE(document_fields)], meta[PLUMB_ARRAY_SIZE(metadata_fields)];
	plumb_application a;
	size_t before = diags->count;
	memset(meta, 0, sizeof(meta));
	/* A source is what an application names: read when it does, never applied. */
	if (!strncmp(r->api_version, PLUMB_FLUX_SOURCE_GROUP, strlen(PLUMB_FLUX_SOURCE_GROUP)))
		return;
	plumb_spec_decode_known(d, document, document_fields, PLUMB_ARRAY_SIZE(document_fields), diags);
	if (d[2].map)
		plumb_spec_decode_known(meta, d[2].map, metadata_fields, PLUMB_ARRAY_SIZE(metadata_fields), diags);

	memset(&a, 0, sizeof(a));
	a.name = plumb_xstrdup(r->name);
	a.resource = resource;
	a.file = plumb_xstrdup(r->file);
	a.position = d[3].map ? plumb_spec_position(d[3].map) : plumb_spec_position(document);
	a.position.file = a.file;
	a.root = plumb_xstrdup("");
	a.kubernetes = 1;
	a.self_heal = 1; /* Flux corrects drift at every interval */
	json_t *render = json_object(), *flux = json_object();
	if (d[3].map && !strcmp(r->kind, "Kustomization"))
		decode_kustomization(&a, render, flux, d[3].map, diags);
	else if (d[3].map)
		decode_release(&a, render, flux, d[3].map, meta[1].present ? meta[1].string : NULL, diags);
	json_object_set_new(render, "flux", flux);
	a.render = json_dumps(render, JSON_COMPACT);
	json_decref(render);
	if (!a.path && diags->count == before)
		plumb_diags_add(diags, a.position, "spec: no path to read the application from");
	/* Its path is its own: the folder that declares it does not read it (a source elsewhere is a leaf). */
	if (diags->count == before && *a.path)
		plumb_manifest_add_content_path(set, a.path);
	plumb_application_keep(set, &a, before, diags);
	plumb_values_release(meta, PLUMB_ARRAY_SIZE(metadata_fields));
	plumb_values_release(d, PLUMB_ARRAY_SIZE(document_fields));
}
