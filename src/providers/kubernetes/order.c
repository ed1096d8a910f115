#include "util/common.h"
#include "providers/kubernetes/order.h"

#include <errno.h>

/* Helm's install order, which Argo CD applies within a wave. */
static const char *const kind_order[] = {
	"Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PodSecurityPolicy", "PodDisruptionBudget",
	"ServiceAccount", "Secret", "SecretList", "ConfigMap", "StorageClass", "PersistentVolume",
	"PersistentVolumeClaim", "CustomResourceDefinition", "ClusterRole", "ClusterRoleList", "ClusterRoleBinding",
	"ClusterRoleBindingList", "Role", "RoleList", "RoleBinding", "RoleBindingList", "Service", "DaemonSet", "Pod",
	"ReplicationController", "ReplicaSet", "Deployment", "HorizontalPodAutoscaler", "StatefulSet", "Job",
	"CronJob", "IngressClass", "Ingress", "APIService",
};

static const char *metadata_text(const json_t *object, const char *name)
{
	const char *value = json_string_value(json_object_get(json_object_get(object, "metadata"), name));
	return value ? value : "";
}

/* The wave an annotation gives, into *wave; 0 when absent, PLUMB_EINVALID when not a whole number. */
static int read_wave(long long *wave, int *found, const json_t *annotations, const char *name)
{
	const json_t *value = json_object_get(annotations, name);
	*found = value != NULL;
	if (!value)
		return 0;
	const char *text = json_string_value(value);
	char *end = NULL;
	errno = 0;
	long long n = text ? strtoll(text, &end, 10) : 0;
	if (!text || !*text || *end || errno == ERANGE)
		return plumb_error_set(PLUMB_EINVALID, "metadata.annotations.%s: \"%s\" is not a whole number", name,
				       text ? text : "(not a string)");
	*wave = n;
	return 0;
}

void plumb_kube_order_of_kind(plumb_kube_order *out, const char *kind, const char *namespace, const char *name)
{
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->namespace = namespace;
	out->name = name;
	out->after_definitions = strcmp(kind, "Namespace") != 0 && strcmp(kind, "CustomResourceDefinition") != 0;
	out->kind_rank = PLUMB_ARRAY_SIZE(kind_order);
	for (unsigned i = 0; i < PLUMB_ARRAY_SIZE(kind_order); i++) {
		if (!strcmp(kind_order[i], kind)) {
			out->kind_rank = i;
			break;
		}
	}
}

int plumb_kube_order_of(plumb_kube_order *out, const json_t *object)
{
	const json_t *annotations = json_object_get(json_object_get(object, "metadata"), "annotations");
	const char *kind = json_string_value(json_object_get(object, "kind"));
	int found = 0, error;

	plumb_kube_order_of_kind(out, kind ? kind : "", metadata_text(object, "namespace"), metadata_text(object, "name"));
	if ((error = read_wave(&out->wave, &found, annotations, PLUMB_KUBE_WAVE_ANNOTATION)) < 0)
		return error;
	if (!found && (error = read_wave(&out->wave, &found, annotations, PLUMB_KUBE_ARGOCD_WAVE_ANNOTATION)) < 0)
		return error;
	return 0;
}

int plumb_kube_order_compare(const plumb_kube_order *a, const plumb_kube_order *b)
{
	if (a->after_definitions != b->after_definitions)
		return a->after_definitions - b->after_definitions;
	if (a->wave != b->wave)
		return a->wave < b->wave ? -1 : 1;
	if (a->kind_rank != b->kind_rank)
		return a->kind_rank < b->kind_rank ? -1 : 1;
	int c = strcmp(a->kind, b->kind);
	if (!c)
		c = strcmp(a->namespace, b->namespace);
	return c ? c : strcmp(a->name, b->name);
}
