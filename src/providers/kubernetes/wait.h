/*
 * wait.h - the kubernetes provider's waves: the wave each object is
 * applied in, and a wave held back until the objects of the one before it
 * are healthy (health.h), as Argo CD does.
 *
 * The Namespaces and CustomResourceDefinitions, applied first (order.h),
 * are a wave of their own: the objects after them wait for the definitions
 * to be Established. Then each sync-wave is a wave ("wave -1", "wave 0").
 *
 * A wait reads each object (a GET; in a destination kept open, its health
 * as the watches know it, without a request), at first after 250 ms, then
 * doubling to every 2 s, until every one is Healthy: an object found Healthy is not
 * read again. It fails as soon as one is Degraded, and when the time is
 * up; Suspended, Progressing, Missing and Unknown objects are waited for.
 * The message names each object not Healthy, its health and why.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_WAIT_H
#define PLUMB_PROVIDERS_KUBERNETES_WAIT_H

#include "providers/kubernetes/health.h"
#include "providers/kubernetes/order.h"
#include "providers/provider.h"
#include "util/buf.h"

/* How people name the wave of an object placed at order: "wave 0", or the wave of the definitions. A new string. */
char *plumb_kube_wave_name(const plumb_kube_order *order);

/* An object waited for, as it was last read. */
typedef struct {
	const char *display;      /* "KIND NAMESPACE/NAME" */
	plumb_kube_health health;
	const char *message;      /* why, or NULL */
} plumb_kube_waited;

/*
 * Where a wave stands: PLUMB_KUBE_HEALTHY when all of objects are,
 * PLUMB_KUBE_DEGRADED when one is (waiting longer will not help), else
 * PLUMB_KUBE_PROGRESSING. Appends to out each object not healthy, in
 * order, "; " between them: "Deployment shop/web is Progressing (0 of 2
 * replicas are updated)".
 */
plumb_kube_health plumb_kube_wave_state(plumb_buf *out, const plumb_kube_waited *objects, size_t count);

/* How long a wait sleeps after its attempt-th look (0: the first): 250 ms, doubling to 2 s. */
unsigned plumb_kube_wait_interval(unsigned attempt);

/* The provider's wave_of and wait_healthy hooks (provider.h). */
char *plumb_kube_wave_of(const plumb_object *object);
int plumb_kube_wait_healthy(plumb_destination *destination, const plumb_object *const *objects, size_t count,
			    unsigned timeout_ms);

#endif
