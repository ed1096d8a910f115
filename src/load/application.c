#include "util/common.h"
#include "load/application.h"
#include "providers/kubernetes/jqpath.h"
#include "load/render_options.h"
#include "util/buf.h"
#include "util/duration.h"
#include "util/path.h"

#include <jansson.h>
#include <stdlib.h>

static const plumb_field application_fields[] = {
	{ "source", PLUMB_FIELD_MAP, PLUMB_FIELD_REQUIRED },
	{ "destination", PLUMB_FIELD_MAP, 0 },
	{ "syncPolicy", PLUMB_FIELD_MAP, 0 },
	{ "dependsOn", PLUMB_FIELD_LIST, 0 },
	{ "wave", PLUMB_FIELD_INT, 0 },
	{ "ignoreDifferences", PLUMB_FIELD_MAPS, 0 },
};
/* One rule of ignoreDifferences, as Argo CD writes it. */
static const plumb_field ignore_fields[] = {
	{ "group", PLUMB_FIELD_STRING, 0 },
	{ "kind", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "name", PLUMB_FIELD_STRING, 0 },
	{ "namespace", PLUMB_FIELD_STRING, 0 },
	{ "jsonPointers", PLUMB_FIELD_LIST, 0 },
	{ "managedFieldsManagers", PLUMB_FIELD_LIST, 0 },
	{ "jqPathExpressions", PLUMB_FIELD_LIST, 0 },
};
static const plumb_field source_fields[] = {
	{ "path", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "repo", PLUMB_FIELD_STRING, 0 },
	{ "revision", PLUMB_FIELD_STRING, 0 },
	{ "helm", PLUMB_FIELD_MAP, 0 },
	{ "kustomize", PLUMB_FIELD_MAP, 0 },
	{ "directory", PLUMB_FIELD_MAP, 0 },
	{ "submodules", PLUMB_FIELD_BOOL, 0 },
};
static const plumb_field destination_fields[] = {
	{ "host", PLUMB_FIELD_MAP, 0 },
	{ "kubernetes", PLUMB_FIELD_MAP, 0 },
};
static const plumb_field host_fields[] = {
	{ "root", PLUMB_FIELD_STRING, 0 },
};
static const plumb_field kubernetes_fields[] = {
	{ "context", PLUMB_FIELD_STRING, 0 },
	{ "namespace", PLUMB_FIELD_STRING, 0 },
	{ "namespaces", PLUMB_FIELD_LIST, 0 },
	{ "clusterResources", PLUMB_FIELD_BOOL, 0 },
};
static const plumb_field policy_fields[] = {
	{ "automated", PLUMB_FIELD_BOOL, 0 },
	{ "prune", PLUMB_FIELD_BOOL, 0 },
	{ "selfHeal", PLUMB_FIELD_BOOL, 0 },
	{ "approval", PLUMB_FIELD_STRING, 0 },
	{ "createNamespace", PLUMB_FIELD_BOOL, 0 },
	{ "syncOptions", PLUMB_FIELD_LIST, 0 },
	{ "healthTimeout", PLUMB_FIELD_STRING, 0 },
};

void plumb_application_release(plumb_application *a)
{
	free(a->name);
	free(a->repo);
	free(a->revision);
	free(a->path);
	free(a->render);
	free(a->root);
	free(a->context);
	free(a->cluster);
	free(a->namespace);
	free(a->ignore);
	free(a->namespaces);
	free(a->file);
	for (size_t i = 0; i < a->depends_on_count; i++)
		free(a->depends_on[i]);
	free(a->depends_on);
	memset(a, 0, sizeof(*a));
}

const char *plumb_application_provider(int kubernetes)
{
	return kubernetes ? "kubernetes" : "host";
}

static char *normalized(const plumb_value *value, int live, const char *field, plumb_diags *diags)
{
	char *out = NULL;
	if (plumb_path_normalize(&out, value->string, live) < 0)
		plumb_diags_add(diags, value->position, "%s: %s", field, plumb_error_last());
	return out;
}

plumb_application plumb_application_copy(const plumb_application *from)
{
	plumb_application to = *from;
	to.name = plumb_xstrdup(from->name);
	to.repo = from->repo ? plumb_xstrdup(from->repo) : NULL;
	to.revision = from->revision ? plumb_xstrdup(from->revision) : NULL;
	to.path = plumb_xstrdup(from->path);
	to.render = from->render ? plumb_xstrdup(from->render) : NULL;
	to.root = plumb_xstrdup(from->root);
	to.context = from->context ? plumb_xstrdup(from->context) : NULL;
	to.cluster = from->cluster ? plumb_xstrdup(from->cluster) : NULL;
	to.namespace = from->namespace ? plumb_xstrdup(from->namespace) : NULL;
	to.ignore = from->ignore ? plumb_xstrdup(from->ignore) : NULL;
	to.namespaces = from->namespaces ? plumb_xstrdup(from->namespaces) : NULL;
	to.file = plumb_xstrdup(from->file ? from->file : "");
	to.position.file = to.file;
	to.cluster_position.file = to.file;
	to.depends_on = plumb_xcalloc(from->depends_on_count ? from->depends_on_count : 1, sizeof(char *));
	for (size_t i = 0; i < from->depends_on_count; i++)
		to.depends_on[i] = plumb_xstrdup(from->depends_on[i]);
	return to;
}

/* destination.kubernetes.namespaces, comma-separated; each must be a namespace's name (a DNS label). */
static char *allowed_namespaces(const plumb_value *list, plumb_diags *diags)
{
	plumb_buf joined = PLUMB_BUF_INIT;
	for (size_t i = 0; i < list->list_count; i++) {
		const char *name = list->list[i];
		size_t length = strlen(name);
		int valid = length > 0 && length <= 63 && name[0] != '-' && name[length - 1] != '-';
		for (size_t k = 0; valid && k < length; k++)
			valid = (name[k] >= 'a' && name[k] <= 'z') || (name[k] >= '0' && name[k] <= '9') || name[k] == '-';
		if (!valid)
			plumb_diags_add(diags, list->list_positions[i],
					"spec.destination.kubernetes.namespaces: \"%s\" is not a namespace's name", name);
		plumb_buf_printf(&joined, "%s%s", i ? "," : "", name);
	}
	return plumb_buf_detach(&joined, NULL);
}

/* A list of strings as JSON. A new reference. */
static json_t *string_array(const plumb_value *value)
{
	json_t *array = json_array();
	for (size_t i = 0; i < value->list_count; i++)
		json_array_append_new(array, json_string(value->list[i]));
	return array;
}

void plumb_application_decode_ignore(plumb_application *a, const plumb_value *rules, int lenient, plumb_diags *diags)
{
	json_t *out = json_array();
	for (size_t i = 0; i < rules->map_count; i++) {
		plumb_value r[PLUMB_ARRAY_SIZE(ignore_fields)];
		const char *where = plumb_spec_name(rules->maps[i]);
		if ((lenient ? plumb_spec_decode_known : plumb_spec_decode)(r, rules->maps[i], ignore_fields,
									  PLUMB_ARRAY_SIZE(ignore_fields), diags)) {
			plumb_values_release(r, PLUMB_ARRAY_SIZE(ignore_fields));
			continue;
		}
		/* The jq paths plumb reads (jqpath.h); another is an error, or for Argo CD's a warning and left out. */
		json_t *jq = json_array();
		for (size_t k = 0; k < r[6].list_count; k++) {
			if (plumb_jqpath_check(r[6].list[k]) == 0) {
				json_array_append_new(jq, json_string(r[6].list[k]));
				continue;
			}
			(lenient ? plumb_diags_warn : plumb_diags_add)(diags, r[6].list_positions[k],
								     "%s.jqPathExpressions: %s", where, plumb_error_last());
			plumb_error_clear();
		}
		for (size_t k = 0; k < r[4].list_count; k++)
			if (r[4].list[k][0] != '/')
				plumb_diags_add(diags, r[4].list_positions[k],
						"%s.jsonPointers: \"%s\" is not a JSON pointer (it starts with /)", where,
						r[4].list[k]);
		if (!r[4].list_count && !r[5].list_count && !r[6].list_count && !lenient)
			plumb_diags_add(diags, plumb_spec_position(rules->maps[i]),
					"%s: says no field to ignore (jsonPointers, jqPathExpressions, managedFieldsManagers)",
					where);
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "group",
						     r[0].present ? r[0].string : "", "kind", r[1].string ? r[1].string : "",
						     "name", r[2].present ? r[2].string : "", "namespace",
						     r[3].present ? r[3].string : "", "jsonPointers", string_array(&r[4]),
						     "jqPaths", jq, "managers", string_array(&r[5])));
		plumb_values_release(r, PLUMB_ARRAY_SIZE(ignore_fields));
	}
	if (json_array_size(out))
		a->ignore = json_dumps(out, JSON_COMPACT);
	json_decref(out);
}

void plumb_application_keep(plumb_manifest_set *set, plumb_application *a, size_t before, plumb_diags *diags)
{
	if (diags->count != before) {
		plumb_application_release(a);
		return;
	}
	if (!a->repo && !a->revision && *a->path)
		plumb_manifest_add_content_path(set, a->path);
	PLUMB_GROW(set->applications, set->application_count, set->application_capacity);
	set->applications[set->application_count++] = *a;
}

void plumb_application_decode(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_diags *diags)
{
	plumb_value v[PLUMB_ARRAY_SIZE(application_fields)], source[PLUMB_ARRAY_SIZE(source_fields)], destination[2],
		host[1],
		kubernetes[PLUMB_ARRAY_SIZE(kubernetes_fields)],
		policy[PLUMB_ARRAY_SIZE(policy_fields)];
	plumb_application a;
	size_t before = diags->count;

	memset(&a, 0, sizeof(a));
	memset(destination, 0, sizeof(destination));
	memset(host, 0, sizeof(host));
	memset(kubernetes, 0, sizeof(kubernetes));
	memset(policy, 0, sizeof(policy));
	memset(source, 0, sizeof(source));
	a.name = plumb_xstrdup(set->resources[resource].name);
	a.automated = a.prune = a.self_heal = 1;
	a.resource = resource;
	a.file = plumb_xstrdup(set->resources[resource].file);
	a.position = plumb_spec_position(spec);
	a.position.file = a.file;
	a.root = plumb_xstrdup("");

	plumb_spec_decode(v, spec, application_fields, PLUMB_ARRAY_SIZE(application_fields), diags);
	if (v[0].map && !plumb_spec_decode(source, v[0].map, source_fields, PLUMB_ARRAY_SIZE(source_fields), diags)) {
		if (source[0].present)
			a.path = normalized(&source[0], 0, "spec.source.path", diags);
		if (source[1].present)
			a.repo = plumb_xstrdup(source[1].string);
		if (source[2].present)
			a.revision = plumb_xstrdup(source[2].string);
		if (a.path)
			a.render = plumb_render_options_decode(&source[3], &source[4], &source[5], a.path, 0, NULL, 0, diags);
		a.submodules = source[6].present && source[6].boolean;
	}
	if (v[1].map && !plumb_spec_decode(destination, v[1].map, destination_fields, 2, diags)) {
		if (destination[0].map && !plumb_spec_decode(host, destination[0].map, host_fields, 1, diags) &&
		    host[0].present) {
			free(a.root);
			a.root = normalized(&host[0], 1, "spec.destination.host.root", diags);
		}
		if (destination[0].map && destination[1].map)
			plumb_diags_add(diags, destination[1].position,
					"spec.destination: host and kubernetes are two destinations; give one");
		if (destination[1].map && !plumb_spec_decode(kubernetes, destination[1].map, kubernetes_fields,
							     PLUMB_ARRAY_SIZE(kubernetes_fields), diags)) {
			a.kubernetes = 1;
			if (kubernetes[0].present)
				a.context = plumb_xstrdup(kubernetes[0].string);
			if (kubernetes[1].present)
				a.namespace = plumb_xstrdup(kubernetes[1].string);
			/* Where it may write, as Argo CD's AppProject destinations and clusterResourceWhitelist say. */
			if (kubernetes[2].present)
				a.namespaces = allowed_namespaces(&kubernetes[2], diags);
			a.namespaced_only = kubernetes[3].present && !kubernetes[3].boolean;
		}
	}
	if (v[2].map && !plumb_spec_decode(policy, v[2].map, policy_fields, PLUMB_ARRAY_SIZE(policy_fields), diags)) {
		if (policy[0].present)
			a.automated = policy[0].boolean;
		if (policy[1].present)
			a.prune = policy[1].boolean;
		if (policy[2].present)
			a.self_heal = policy[2].boolean;
		if (policy[3].present) {
			if (!strcmp(policy[3].string, "auto"))
				a.approval = PLUMB_APPLICATION_AUTO;
			else if (!strcmp(policy[3].string, "prompted"))
				a.approval = PLUMB_APPLICATION_PROMPTED;
			else if (!strcmp(policy[3].string, "manual"))
				a.approval = PLUMB_APPLICATION_MANUAL;
			else
				plumb_diags_add(diags, policy[3].position,
						"spec.syncPolicy.approval: expected auto, prompted or manual, got \"%s\"",
						policy[3].string);
		}
		if (policy[4].present)
			a.create_namespace = policy[4].boolean;
		/* Argo CD's sync options that mean something here; any other is named, not ignored. */
		for (size_t i = 0; policy[5].present && i < policy[5].list_count; i++) {
			const char *option = policy[5].list[i];
			if (!strcmp(option, "ServerSideApply.ForceConflicts"))
				a.force_conflicts = 1;
			else if (!strcmp(option, "CreateNamespace=true"))
				a.create_namespace = 1;
			else if (!strcmp(option, "Replace=true"))
				a.replace = 1;
			else
				plumb_diags_add(diags, policy[5].list_positions[i],
						"spec.syncPolicy.syncOptions: \"%s\" is not one plumb knows "
						"(ServerSideApply.ForceConflicts, CreateNamespace=true, Replace=true)",
						option);
		}
		if (policy[6].present) {
			if (plumb_duration_parse(&a.health_timeout_ms, policy[6].string) < 0)
				plumb_diags_add(diags, policy[6].position, "spec.syncPolicy.healthTimeout: %s",
						plumb_error_last());
			else if (!a.health_timeout_ms)
				plumb_diags_add(diags, policy[6].position,
						"spec.syncPolicy.healthTimeout: must be longer than 0");
		}
	}
	if (v[3].present) {
		a.depends_on = v[3].list;
		a.depends_on_count = v[3].list_count;
		v[3].list = NULL;
		v[3].list_count = 0;
	}
	a.wave = v[4].present ? v[4].integer : 0;
	if (v[5].present) {
		plumb_application_decode_ignore(&a, &v[5], 0, diags);
		if (!a.kubernetes)
			plumb_diags_add(diags, v[5].position,
					"spec.ignoreDifferences: only an Application bound for a cluster has fields to ignore");
	}

	plumb_application_keep(set, &a, before, diags);
	plumb_values_release(host, 1);
	plumb_values_release(kubernetes, PLUMB_ARRAY_SIZE(kubernetes_fields));
	plumb_values_release(destination, 2);
	plumb_values_release(policy, PLUMB_ARRAY_SIZE(policy_fields));
	plumb_values_release(source, PLUMB_ARRAY_SIZE(source_fields));
	plumb_values_release(v, PLUMB_ARRAY_SIZE(application_fields));
}
