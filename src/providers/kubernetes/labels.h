/*
 * labels.h - the names plumb writes on the objects it applies, and reads
 * back: its field manager, label and annotations.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_LABELS_H
#define PLUMB_PROVIDERS_KUBERNETES_LABELS_H

#define PLUMB_KUBE_FIELD_MANAGER "plumb"
#define PLUMB_KUBE_MANAGED_BY_LABEL "app.kubernetes.io/managed-by"
#define PLUMB_KUBE_MANAGED_BY "plumb"
/* GROUP/KIND:NAMESPACE/NAME of the object: a prune deletes only what still carries its own. */
#define PLUMB_KUBE_TRACKING_ANNOTATION "plumb.dev/tracking-id"
/* "false" on a live object keeps it when git no longer declares it (it leaves the inventory). */
#define PLUMB_KUBE_PRUNE_ANNOTATION "plumb.dev/prune"
/*
 * A hash of the body plumb last applied (keyed: a Secret's body holds its
 * values): an object that still carries the hash of what plumb would apply
 * now, and that nobody changed since, needs no dry run to know that
 * nothing would change. Never compared (compare.h): it changes with every
 * change, and says nothing a diff should show.
 */
#define PLUMB_KUBE_APPLIED_ANNOTATION "plumb.dev/applied-hash"

/*
 * Sync options of one object, comma-separated: plumb's, or Argo CD's as its
 * users write them; Replace=true is the one plumb reads there.
 */
#define PLUMB_KUBE_SYNC_OPTIONS_ANNOTATION "plumb.dev/sync-options"
#define PLUMB_KUBE_ARGOCD_SYNC_OPTIONS_ANNOTATION "argocd.argoproj.io/sync-options"

#endif
