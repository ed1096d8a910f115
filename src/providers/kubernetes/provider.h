/*
 * provider.h - the kubernetes provider: every kind a Kubernetes API server
 * serves, at a cluster reached through a kubeconfig.
 *
 * It claims every apiVersion but plumb's own (host/v1, plumb/v1): the
 * registry lists it after the host provider. A document is one object
 * whose desired state is the whole document (object.h: its key and
 * display). The destination is one connection (kubeconfig.h, client.h),
 * what the server serves (discovery.h, cached in the state directory), the
 * namespace objects without one go to, and the key Secret values are
 * hashed with (compare.h). A v1 Secret's values may come from plumb
 * Secrets (secretfrom.h; object.h: bind_secret).
 *
 * Plans compare the live object with the server's answer to a server-side
 * dry-run apply (field manager "plumb", never forced: a field another
 * manager owns is a conflict that names it), so that defaults the server
 * fills never show as changes; applies are the same server-side apply for
 * real. Every object plumb applies carries the label
 * app.kubernetes.io/managed-by=plumb and the annotation
 * plumb.dev/tracking-id=GROUP/KIND:NAMESPACE/NAME; a prune deletes only an
 * object that still carries that annotation. A wave starts once every
 * object of the wave before it is Healthy (wait.h).
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_PROVIDER_H
#define PLUMB_PROVIDERS_KUBERNETES_PROVIDER_H

#include "providers/kubernetes/health.h"
#include "providers/kubernetes/labels.h"
#include "providers/provider.h"

extern const plumb_provider plumb_kubernetes_provider;

/*
 * The health of an object the provider observed (health.h); Missing when
 * it does not exist. *message as for plumb_kube_health_of.
 */
plumb_kube_health plumb_kube_object_health(const plumb_observed *observed, char **message);

#endif
