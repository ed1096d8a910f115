/*
 * body.h - what plumb sends for a Kubernetes object, and how.
 *
 * The body is the document git declares, in the namespace the
 * destination places it in, labelled app.kubernetes.io/managed-by=plumb
 * and annotated with its tracking id (APPLICATION:GROUP/KIND:NAMESPACE/NAME,
 * as Argo CD's annotation tracking writes it) and the keyed hash of all
 * that (labels.h); what the application's ignore rules name is then left
 * alone (ignore.h). It is sent as a server-side apply, field manager
 * "plumb", for real or as a dry run.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_BODY_H
#define PLUMB_PROVIDERS_KUBERNETES_BODY_H

#include <jansson.h>

#include "providers/kubernetes/destination.h"

/* The tracking id of an object of the destination's application. A new string. */
char *plumb_kube_tracking_id(const plumb_destination *destination, const char *group, const char *kind,
			     const char *namespace, const char *name);

/*
 * The application another tracking id of this very object names (a new
 * string), or NULL when tracking is own (the destination's application's),
 * or no plumb application's.
 */
char *plumb_kube_other_application(const plumb_destination *destination, const char *tracking, const char *own);

/* The body of d in namespace, labelled and annotated (applied hash included). A new reference. */
json_t *plumb_kube_apply_body(const plumb_destination *destination, const plumb_kube_desired *d,
			      const char *namespace);

/*
 * Server-side apply of object's body at path, for real or as a dry run:
 * *answer the object the server made of it (a new reference). Unless the
 * destination forces conflicts (and then the dry run too, so that the plan
 * shows what the apply will do), a field another manager owns is a
 * conflict, and the server's message names the field and the manager.
 * When the server refuses the object as declared, its problems go to diags
 * at their fields (refusal.h), and PLUMB_EINVALID; a field that cannot
 * change once set is an error naming it instead (plumb_kube_immutable_hint).
 * Other errors name display.
 */
int plumb_kube_server_side_apply(json_t **answer, plumb_destination *destination, const plumb_object *object,
				 const char *path, const json_t *body, int dry_run, const char *display,
				 plumb_diags *diags);

/*
 * The request of a server-side apply of body text (plumb_kube_json_text) at
 * path, for real or as a dry run: its URL path and query into *target (a
 * new string, which the call borrows, as it borrows text). Field manager
 * plumb, forced when the destination forces conflicts.
 */
plumb_kube_call plumb_kube_apply_call(char **target, const plumb_destination *destination, const char *path,
				      const char *text, int dry_run);

/* The applied hash a body carries (plumb_kube_apply_body), or NULL. Borrowed from body. */
const char *plumb_kube_body_hash(const json_t *body);

/* Which object the ignore rules are asked about: d in namespace. */
plumb_kube_target plumb_kube_target_of(const plumb_kube_desired *d, const char *namespace);

/*
 * Whether d may be deleted and created when a change to it cannot be made
 * in place: Replace=true in its plumb.dev/sync-options (or Argo CD's
 * argocd.argoproj.io/sync-options) annotation, or the application's.
 */
int plumb_kube_may_replace(const plumb_destination *destination, const plumb_kube_desired *d);

/* Whether error (the last one) is the server refusing a change to a field that cannot change once set. */
int plumb_kube_refused_as_immutable(int error);

/* error, its message added to with what would let the change through (Replace=true). */
int plumb_kube_immutable_hint(int error);

#endif
