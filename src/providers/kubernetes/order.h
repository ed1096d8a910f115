/*
 * order.h - the order a sync applies Kubernetes objects in, as Argo CD
 * users expect it.
 *
 * Namespaces and CustomResourceDefinitions first, so that what lives in a
 * namespace, or is a custom resource, has somewhere to go; then by wave
 * (the annotation plumb.dev/sync-wave, or argocd.argoproj.io/sync-wave as
 * Argo CD users write it; 0 when neither is given; negative waves come
 * first); within a wave by kind in Helm's install order (Namespace,
 * NetworkPolicy, ..., ServiceAccount, Secret, ConfigMap, ..., Service,
 * ..., Deployment, ..., Ingress, APIService), custom resources after every
 * known kind, by kind name; then by namespace and name. A prune deletes in
 * the reverse order.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_ORDER_H
#define PLUMB_PROVIDERS_KUBERNETES_ORDER_H

#include <jansson.h>

#define PLUMB_KUBE_WAVE_ANNOTATION "plumb.dev/sync-wave"
#define PLUMB_KUBE_ARGOCD_WAVE_ANNOTATION "argocd.argoproj.io/sync-wave"

/* Where an object goes in a sync; the strings are borrowed from the object it was read from. */
typedef struct {
	int after_definitions;   /* 0 for a Namespace or a CustomResourceDefinition: they go first */
	long long wave;
	unsigned kind_rank;      /* the kind's place in Helm's order; past the list for any other kind */
	const char *kind;
	const char *namespace;   /* "" when cluster-scoped or not given */
	const char *name;
} plumb_kube_order;

/*
 * Read object's place. PLUMB_EINVALID when a wave annotation is not a whole
 * number: the message (error slot) names the annotation and its value.
 */
int plumb_kube_order_of(plumb_kube_order *out, const json_t *object);

/*
 * The place of an object known by its kind, namespace and name alone (a
 * prune's: no manifest says its wave, taken as 0). Strings borrowed.
 */
void plumb_kube_order_of_kind(plumb_kube_order *out, const char *kind, const char *namespace, const char *name);

/* <0, 0, >0 as a goes before, with, or after b in a sync (a prune: the other way). */
int plumb_kube_order_compare(const plumb_kube_order *a, const plumb_kube_order *b);

#endif
