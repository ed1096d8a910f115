#include "util/common.h"
#include "load/argocd.h"
#include "load/application.h"
#include "load/render_options.h"
#include "render/helm.h"
#include "util/path.h"
#include "util/url.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

#define WAVE_ANNOTATION "argocd.argoproj.io/sync-wave"
/* What Argo CD calls the cluster it runs in: here, the one plumb is given. */
#define IN_CLUSTER_SERVER "https://kubernetes.default.svc"
#define IN_CLUSTER_NAME "in-cluster"

static const plumb_field document_fields[] = {
	{ "apiVersion", PLUMB_FIELD_STRING, 0 },
	{ "kind", PLUMB_FIELD_STRING, 0 },
	{ "metadata", PLUMB_FIELD_MAP, 0 },
	{ "spec", PLUMB_FIELD_MAP, PLUMB_FIELD_REQUIRED },
	{ "status", PLUMB_FIELD_ANY, 0 },    /* what a cluster said: not the repository's to say */
	{ "operation", PLUMB_FIELD_ANY, 0 }, /* a sync someone started by hand */
};
static const plumb_field metadata_fields[] = {
	{ "name", PLUMB_FIELD_STRING, 0 },	  { "namespace", PLUMB_FIELD_STRING, 0 },
	{ "labels", PLUMB_FIELD_ANY, 0 },	  { "annotations", PLUMB_FIELD_MAP, 0 },
	{ "finalizers", PLUMB_FIELD_LIST, 0 },
};
static const plumb_field spec_fields[] = {
	{ "project", PLUMB_FIELD_STRING, 0 },	     { "source", PLUMB_FIELD_MAP, 0 },
	{ "sources", PLUMB_FIELD_MAPS, 0 },	     { "destination", PLUMB_FIELD_MAP, PLUMB_FIELD_REQUIRED },
	{ "syncPolicy", PLUMB_FIELD_MAP, 0 },	     { "ignoreDifferences", PLUMB_FIELD_MAPS, 0 },
	{ "info", PLUMB_FIELD_ANY, 0 },		     { "revisionHistoryLimit", PLUMB_FIELD_INT, 0 },
};
enum { S_PROJECT, S_SOURCE, S_SOURCES, S_DESTINATION, S_POLICY, S_IGNORE, S_INFO, S_HISTORY, S_COUNT };
static const plumb_field source_fields[] = {
	{ "repoURL", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "path", PLUMB_FIELD_STRING, 0 },
	{ "targetRevision", PLUMB_FIELD_STRING, 0 },
	{ "helm", PLUMB_FIELD_MAP, 0 },
	{ "kustomize", PLUMB_FIELD_MAP, 0 },
	{ "directory", PLUMB_FIELD_MAP, 0 },
	{ "chart", PLUMB_FIELD_STRING, 0 },
	{ "plugin", PLUMB_FIELD_ANY, 0 },
	{ "ref", PLUMB_FIELD_STRING, 0 },
	{ "name", PLUMB_FIELD_STRING, 0 },
};
enum { R_REPO, R_PATH, R_REVISION, R_HELM, R_KUSTOMIZE, R_DIRECTORY, R_CHART, R_PLUGIN, R_REF, R_NAME, R_COUNT };
static const plumb_field destination_fields[] = {
	{ "server", PLUMB_FIELD_STRING, 0 },
	{ "name", PLUMB_FIELD_STRING, 0 },
	{ "namespace", PLUMB_FIELD_STRING, 0 },
};
static const plumb_field policy_fields[] = {
	{ "automated", PLUMB_FIELD_MAP, 0 },
	{ "syncOptions", PLUMB_FIELD_LIST, 0 },
	{ "retry", PLUMB_FIELD_ANY, 0 },
	{ "managedNamespaceMetadata", PLUMB_FIELD_ANY, 0 },
};
static const plumb_field automated_fields[] = {
	{ "prune", PLUMB_FIELD_BOOL, 0 },
	{ "selfHeal", PLUMB_FIELD_BOOL, 0 },
	{ "allowEmpty", PLUMB_FIELD_BOOL, 0 },
	{ "enabled", PLUMB_FIELD_BOOL, 0 },
};

int plumb_argocd_claims(const char *api_version, const char *kind)
{
	return !strcmp(api_version, PLUMB_ARGOCD_API_VERSION) &&
	       (!strcmp(kind, "Application") || !strcmp(kind, "AppProject"));
}

static void read_past(plumb_diags *diags, const plumb_value *value, const char *field, const char *why)
{
	if (value->present)
		plumb_diags_warn(diags, value->position, "%s: not read by plumb (%s)", field, why);
}

/* The wave an annotation gives, as Argo CD reads it: a whole number, else an error at it. */
static void decode_wave(plumb_application *a, const plumb_spec *annotations, plumb_diags *diags)
{
	plumb_spec_entry *entries;
	size_t count;
	plumb_spec_entries(&entries, &count, annotations, diags);
	char *text = plumb_spec_json(annotations);
	json_t *json = text ? json_loads(text, 0, NULL) : NULL;
	json_t *value = json_object_get(json, WAVE_ANNOTATION);
	for (size_t i = 0; value && i < count; i++) {
		if (strcmp(entries[i].key, WAVE_ANNOTATION) != 0)
			continue;
		const char *wave = json_string_value(value);
		char *end = NULL;
		errno = 0;
		long long number = json_is_integer(value) ? json_integer_value(value) : wave ? strtoll(wave, &end, 10) : 0;
		if ((!json_is_integer(value) && (!wave || !*wave || *end)) || errno)
			plumb_diags_add(diags, entries[i].value.position,
					"metadata.annotations." WAVE_ANNOTATION ": expected a whole number");
		else
			a->wave = number;
	}
	json_decref(json);
	free(text);
	plumb_spec_entries_release(entries, count);
}

/*
 * An application of a chart helm fetches (when allowed): CHART of the
 * repository or registry REPO, written at at, at targetRevision (its
 * version, a range, or a registry's digest "sha256:..."), as helm.remote
 * in its render options (render/helm.h) with the source's helm options.
 */
static void decode_remote_chart(plumb_application *a, const plumb_value *r, const char *repo, const char *chart,
				plumb_position at, const char *const *refs, size_t ref_count, plumb_diags *diags)
{
	a->path = plumb_xstrdup("");
	a->render = plumb_render_options_decode(&r[R_HELM], &r[R_KUSTOMIZE], &r[R_DIRECTORY], NULL, 1, refs, ref_count,
						diags);
	json_t *json = a->render ? json_loads(a->render, 0, NULL) : json_object();
	json_t *helm = json_object_get(json, "helm");
	if (!helm) {
		helm = json_object();
		json_object_set_new(json, "helm", helm);
	}
	json_t *remote = json_pack("{s:s, s:s, s:s, s:I, s:I}", "repo", repo, "chart", chart, "file", a->file, "line",
				   (json_int_t)at.line, "column", (json_int_t)at.column);
	const char *revision = r[R_REVISION].present && *r[R_REVISION].string ? r[R_REVISION].string : NULL;
	if (revision)
		json_object_set_new(remote, plumb_helm_is_oci(repo) && !strncmp(revision, "sha256:", 7) ? "digest" : "version",
				    json_string(revision));
	json_object_set_new(helm, "remote", remote);
	free(a->render);
	a->render = json_dumps(json, JSON_COMPACT);
	json_decref(json);
}

static void decode_source(plumb_application *a, const plumb_spec *source, const char *const *refs, size_t ref_count,
			  plumb_diags *diags)
{
	plumb_value r[R_COUNT];
	const char *name = plumb_spec_name(source);
	if (plumb_spec_decode_known(r, source, source_fields, R_COUNT, diags)) {
		plumb_values_release(r, R_COUNT);
		return;
	}
	if (r[R_PLUGIN].present)
		plumb_diags_add(diags, r[R_PLUGIN].position,
				"%s.plugin: config management plugins are not run by plumb; commit what the plugin "
				"renders, or render it with kustomize or helm",
				name);
	read_past(diags, &r[R_REF], "source.ref", "a reference for another source's value files");
	read_past(diags, &r[R_NAME], "source.name", "a source's display name");
	if (r[R_CHART].present) {
		if (r[R_PATH].present)
			plumb_diags_add(diags, r[R_PATH].position, "%s: chart and path both given; give one", name);
		/* A Helm repository without a scheme is an OCI registry's, as Argo CD's enableOCI repositories are written. */
		const char *url = r[R_REPO].string;
		char *repo = strstr(url, "://") ? plumb_xstrdup(url) : plumb_xprintf("oci://%s", url);
		decode_remote_chart(a, r, repo, r[R_CHART].string, r[R_CHART].position, refs, ref_count, diags);
		free(repo);
		plumb_values_release(r, R_COUNT);
		return;
	}
	if (plumb_helm_is_oci(r[R_REPO].string)) {
		/* An OCI artifact (Argo CD's oci:// source): a chart helm pushed, pulled whole. */
		const char *url = r[R_REPO].string, *chart = strrchr(url + 6, '/');
		char *path = NULL;
		if (r[R_PATH].present && (plumb_path_normalize(&path, r[R_PATH].string, 0) < 0 || *path))
			plumb_diags_add(diags, r[R_PATH].position,
					"%s.path: '%s': plumb reads an OCI artifact as a Helm chart, whole: give path: .",
					name, r[R_PATH].string);
		else if (!chart || !chart[1])
			plumb_diags_add(diags, r[R_REPO].position,
					"%s.repoURL: '%s' names no artifact: oci://HOST/PATH/CHART", name, url);
		else {
			char *repo = plumb_xstrndup(url, (size_t)(chart - url));
			decode_remote_chart(a, r, repo, chart + 1, r[R_REPO].position, refs, ref_count, diags);
			free(repo);
		}
		free(path);
		plumb_values_release(r, R_COUNT);
		return;
	}
	a->repo = plumb_xstrdup(r[R_REPO].string);
	/* HEAD is the commit the repository is read at: no revision of its own. */
	if (r[R_REVISION].present && *r[R_REVISION].string && strcmp(r[R_REVISION].string, "HEAD") != 0)
		a->revision = plumb_xstrdup(r[R_REVISION].string);
	if (r[R_PATH].present) {
		if (plumb_path_normalize(&a->path, r[R_PATH].string, 0) < 0)
			plumb_diags_add(diags, r[R_PATH].position, "%s.path: %s", name, plumb_error_last());
	} else {
		plumb_diags_add(diags, plumb_spec_position(source), "%s: missing required field \"path\"", name);
	}
	if (a->path) {
		a->render = plumb_render_options_decode(&r[R_HELM], &r[R_KUSTOMIZE], &r[R_DIRECTORY], a->path, 1, refs,
							ref_count, diags);
		/* Argo CD reads a directory without its subfolders unless it says recurse. */
		if (!r[R_DIRECTORY].present) {
			char *options = a->render;
			json_t *json = options ? json_loads(options, 0, NULL) : json_object();
			json_object_set_new(json, "directory", json_pack("{s:b}", "recurse", 0));
			a->render = json_dumps(json, JSON_COMPACT);
			json_decref(json);
			free(options);
		}
	}
	plumb_values_release(r, R_COUNT);
}

/* A revision as Argo CD's targetRevision says it: "" and HEAD are the one read. */
static const char *revision_of(const plumb_value *value)
{
	return value->present && *value->string && strcmp(value->string, "HEAD") != 0 ? value->string : "";
}

/*
 * spec.sources, as a multi-source Application writes them: one source to
 * render (a path), and sources that only lend their files to its value
 * files (ref). A ref of the same repository and revision maps cleanly:
 * "$NAME/x" is x in this repository. Two sources to render, or a value
 * file from another repository, are errors.
 */
static void decode_sources(plumb_application *a, const plumb_value *sources, plumb_diags *diags)
{
	plumb_diags scratch = PLUMB_DIAGS_INIT;
	plumb_value main_values[R_COUNT];
	const plumb_spec *main_source = NULL;
	const char **refs = plumb_xcalloc(sources->map_count + 1, sizeof(*refs));
	size_t ref_count = 0, renderable = 0;
	plumb_value *values = plumb_xcalloc(sources->map_count + 1, sizeof(*values) * R_COUNT);
	memset(main_values, 0, sizeof(main_values));
	/* What each source is, read quietly: the one rendered is read again, out loud, below. */
	for (size_t i = 0; i < sources->map_count; i++) {
		plumb_value *r = &values[i * R_COUNT];
		plumb_spec_decode_known(r, sources->maps[i], source_fields, R_COUNT, &scratch);
		if (r[R_PATH].present || r[R_CHART].present) {
			renderable++;
			if (!main_source) {
				main_source = sources->maps[i];
				memcpy(main_values, r, sizeof(main_values));
			}
		}
	}
	if (renderable != 1) {
		plumb_diags_add(diags, sources->position,
				"spec.sources: %zu sources to render; plumb reads an application from one (a source "
				"with only ref lends its files to that one's value files)",
				renderable);
		goto done;
	}
	for (size_t i = 0; i < sources->map_count; i++) {
		plumb_value *r = &values[i * R_COUNT];
		if (sources->maps[i] == main_source || !r[R_REF].present || !r[R_REPO].present || !main_values[R_REPO].present)
			continue;
		if (plumb_url_same(r[R_REPO].string, main_values[R_REPO].string) &&
		    !strcmp(revision_of(&r[R_REVISION]), revision_of(&main_values[R_REVISION])))
			refs[ref_count++] = r[R_REF].string;
	}
	decode_source(a, main_source, refs, ref_count, diags);
done:
	for (size_t i = 0; i < sources->map_count; i++)
		plumb_values_release(&values[i * R_COUNT], R_COUNT);
	free(values);
	free(refs);
	plumb_diags_release(&scratch);
}

static void decode_destination(plumb_application *a, const plumb_spec *destination, plumb_diags *diags)
{
	plumb_value v[3];
	a->kubernetes = 1;
	if (plumb_spec_decode_known(v, destination, destination_fields, 3, diags)) {
		plumb_values_release(v, 3);
		return;
	}
	if (v[0].present && v[1].present)
		plumb_diags_add(diags, v[1].position,
				"spec.destination: server and name both name the cluster; give one");
	const plumb_value *cluster = v[0].present ? &v[0] : v[1].present ? &v[1] : NULL;
	if (cluster && strcmp(cluster->string, IN_CLUSTER_SERVER) != 0 && strcmp(cluster->string, IN_CLUSTER_NAME) != 0) {
		a->cluster = plumb_xstrdup(cluster->string);
		a->cluster_position = cluster->position;
		a->cluster_position.file = a->file;
	}
	if (v[2].present && *v[2].string)
		a->namespace = plumb_xstrdup(v[2].string);
	plumb_values_release(v, 3);
}

static void decode_policy(plumb_application *a, const plumb_spec *policy, plumb_diags *diags)
{
	plumb_value p[4], automated[4];
	memset(automated, 0, sizeof(automated));
	if (plumb_spec_decode_known(p, policy, policy_fields, 4, diags))
		goto done;
	if (p[0].present && !plumb_spec_decode_known(automated, p[0].map, automated_fields, 4, diags)) {
		a->automated = !automated[3].present || automated[3].boolean;
		a->prune = a->automated && automated[0].boolean;
		a->self_heal = a->automated && automated[1].boolean;
	}
	for (size_t i = 0; i < p[1].list_count; i++) {
		const char *option = p[1].list[i];
		if (!strcmp(option, "CreateNamespace=true"))
			a->create_namespace = 1;
		else if (!strcmp(option, "Replace=true"))
			a->replace = 1;
		else if (!strcmp(option, "ServerSideApply.ForceConflicts") ||
			 !strcmp(option, "ServerSideApply.ForceConflicts=true"))
			a->force_conflicts = 1;
		/*
		 * What plumb does whatever is said: apply server-side, only what
		 * changed, honour its ignore rules, refuse an object another
		 * application manages.
		 */
		else if (strcmp(option, "ServerSideApply=true") != 0 && strcmp(option, "ApplyOutOfSyncOnly=true") != 0 &&
			 strcmp(option, "RespectIgnoreDifferences=true") != 0 &&
			 strcmp(option, "FailOnSharedResource=true") != 0 && strcmp(option, "CreateNamespace=false") != 0)
			plumb_diags_warn(diags, p[1].list_positions[i],
					 "spec.syncPolicy.syncOptions: \"%s\" is not read by plumb (it reads CreateNamespace, "
					 "Replace, ServerSideApply.ForceConflicts)",
					 option);
	}
	read_past(diags, &p[2], "spec.syncPolicy.retry", "a failed sync is retried at the next reconcile");
	read_past(diags, &p[3], "spec.syncPolicy.managedNamespaceMetadata", "declare the Namespace in the repository");
	read_past(diags, &automated[2], "spec.syncPolicy.automated.allowEmpty", "an empty application prunes what it had, "
		  "as a mass prune: it waits for approval");
done:
	plumb_values_release(automated, 4);
	plumb_values_release(p, 4);
}

void plumb_argocd_decode(plumb_manifest_set *set, size_t resource, const plumb_spec *document, plumb_diags *diags)
{
	plumb_value d[PLUMB_ARRAY_SIZE(document_fields)], meta[PLUMB_ARRAY_SIZE(metadata_fields)], s[S_COUNT];
	plumb_application a;
	size_t before = diags->count;
	memset(meta, 0, sizeof(meta));
	memset(s, 0, sizeof(s));
	plumb_spec_decode_known(d, document, document_fields, PLUMB_ARRAY_SIZE(document_fields), diags);
	if (!strcmp(set->resources[resource].kind, "AppProject")) {
		plumb_diags_warn(diags, plumb_spec_position(document),
				 "AppProject %s is not read by plumb: its restrictions do not bind the Applications that "
				 "name it (say where an application may write with destination.kubernetes.namespaces "
				 "and clusterResources on a plumb/v1 Application)",
				 set->resources[resource].name);
		plumb_values_release(d, PLUMB_ARRAY_SIZE(document_fields));
		return;
	}

	memset(&a, 0, sizeof(a));
	a.name = plumb_xstrdup(set->resources[resource].name);
	a.resource = resource;
	a.file = plumb_xstrdup(set->resources[resource].file);
	a.position = d[3].map ? plumb_spec_position(d[3].map) : plumb_spec_position(document);
	a.position.file = a.file;
	a.root = plumb_xstrdup("");
	a.kubernetes = 1;
	if (d[2].map && !plumb_spec_decode_known(meta, d[2].map, metadata_fields, PLUMB_ARRAY_SIZE(metadata_fields), diags) &&
	    meta[3].map)
		decode_wave(&a, meta[3].map, diags);
	if (d[3].map && !plumb_spec_decode_known(s, d[3].map, spec_fields, S_COUNT, diags)) {
		if (s[S_SOURCE].present && s[S_SOURCES].present)
			plumb_diags_add(diags, s[S_SOURCES].position, "spec: source and sources both given; give one");
		else if (s[S_SOURCE].present)
			decode_source(&a, s[S_SOURCE].map, NULL, 0, diags);
		else if (s[S_SOURCES].present)
			decode_sources(&a, &s[S_SOURCES], diags);
		else
			plumb_diags_add(diags, plumb_spec_position(d[3].map), "spec: no source to read the application from");
		if (s[S_PROJECT].present && strcmp(s[S_PROJECT].string, "default") != 0)
			plumb_diags_warn(diags, s[S_PROJECT].position,
					 "spec.project: \"%s\" is not read by plumb: an AppProject's restrictions do not "
					 "bind this application",
					 s[S_PROJECT].string);
		if (s[S_DESTINATION].map)
			decode_destination(&a, s[S_DESTINATION].map, diags);
		if (s[S_POLICY].map)
			decode_policy(&a, s[S_POLICY].map, diags);
		if (s[S_IGNORE].present)
			plumb_application_decode_ignore(&a, &s[S_IGNORE], 1, diags);
	}
	if (!a.path && diags->count == before)
		plumb_diags_add(diags, a.position, "spec: no source to read the application from");
	/* Its path is its own when it names this repository: the folder that declares it does not read it. */
	if (diags->count == before && *a.path && !a.revision)
		plumb_manifest_add_content_path(set, a.path);
	plumb_application_keep(set, &a, before, diags);
	plumb_values_release(s, S_COUNT);
	plumb_values_release(meta, PLUMB_ARRAY_SIZE(metadata_fields));
	plumb_values_release(d, PLUMB_ARRAY_SIZE(document_fields));
}
