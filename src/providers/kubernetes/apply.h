/*
 * apply.h - the kubernetes provider's apply side (provider.h's
 * begin_apply, apply, stages, staged, commit, discard, observe_applied and
 * remove hooks).
 *
 * An apply is a server-side apply of the object's body (body.h); the
 * destination's namespace is made first when the apply writes into it, it
 * is missing and git does not declare it. A change the server refuses
 * because a field cannot change once set is refused naming the field,
 * unless the object may be replaced (Replace=true): then it is deleted,
 * waited for until it is gone, and created. What each apply answered is
 * the live object: kept for observe_applied, and in the collections known
 * whole (live.h). A prune is a DELETE (background propagation); a deleted
 * object is read again before it is taken for gone (finalizers).
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_APPLY_H
#define PLUMB_PROVIDERS_KUBERNETES_APPLY_H

#include "providers/kubernetes/destination.h"

int plumb_kube_begin_apply(plumb_destination *destination, const char *const *keys, size_t count);
int plumb_kube_apply(plumb_destination *destination, const plumb_object *object, const plumb_change *change);
int plumb_kube_stages(const plumb_object *object);
size_t plumb_kube_staged(plumb_destination *destination, int *full);
int plumb_kube_commit(plumb_destination *destination, size_t *done);
void plumb_kube_discard(plumb_destination *destination);
int plumb_kube_observe_applied(plumb_observed *out, plumb_destination *destination, const plumb_object *object);
int plumb_kube_remove(plumb_destination *destination, const char *key, const char *kind);

#endif
