/*
 * health.h - whether a Kubernetes object is doing what it was applied for.
 *
 * Applied is not done: a Deployment is healthy once its new pods are
 * available, a Job once it completes, a CustomResourceDefinition once it
 * is Established. The provider assesses every object it manages, a wave of
 * a sync starts when the one before it is Healthy, and an application is as
 * healthy as its worst object.
 *
 * The rules, in order (those of Argo CD's built-in checks, with kstatus's
 * generic ones for the kinds Argo CD leaves without a health):
 *
 *   1. metadata.deletionTimestamp set: Progressing (being deleted).
 *   2. The kind's own rule: Deployment, StatefulSet, DaemonSet, ReplicaSet,
 *      Pod, Job, PersistentVolumeClaim, Service of type LoadBalancer,
 *      Ingress, CustomResourceDefinition, APIService (health.c says how).
 *   3. Any other kind, from its status: observedGeneration behind
 *      metadata.generation, or a Reconciling condition True: Progressing;
 *      a Stalled condition True: Degraded; a Ready (else Available)
 *      condition: True Healthy, False Degraded, Unknown Progressing.
 *   4. Else Healthy: it exists.
 *
 * An object that does not exist is Missing; the provider says so, since
 * there is no object to assess.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_HEALTH_H
#define PLUMB_PROVIDERS_KUBERNETES_HEALTH_H

#include <jansson.h>

/* From the best to the worst: an application is as healthy as its worst object. */
typedef enum {
	PLUMB_KUBE_HEALTHY,
	PLUMB_KUBE_SUSPENDED,
	PLUMB_KUBE_PROGRESSING,
	PLUMB_KUBE_MISSING,
	PLUMB_KUBE_DEGRADED,
	PLUMB_KUBE_UNKNOWN,
} plumb_kube_health;

/*
 * The health of a live object (as the API server returns it), and in
 * *message (a new string, or NULL when there is nothing to add) why, e.g.
 * "1 of 3 updated replicas are available". An object that is not a JSON
 * object is Unknown.
 */
plumb_kube_health plumb_kube_health_of(const json_t *object, char **message);

/* "Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown". */
const char *plumb_kube_health_name(plumb_kube_health health);

/* The worse of a and b. */
plumb_kube_health plumb_kube_health_worst(plumb_kube_health a, plumb_kube_health b);

#endif
