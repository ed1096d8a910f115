/*
 * observe.h - reading live objects for the kubernetes provider: what
 * observe found of each (a summary, live.h), and the whole object when a
 * comparison needs it.
 *
 * A collection (one kind in one namespace) is read with one LIST when a
 * batch looks for several of its objects, or kept known by a watch in a
 * destination kept open (watch.h); any other object with one GET.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_OBSERVE_H
#define PLUMB_PROVIDERS_KUBERNETES_OBSERVE_H

#include "providers/kubernetes/destination.h"

/*
 * What observe found of one object (plumb_observed.detail): its summary,
 * and the object itself when it was read whole (a GET, an apply's
 * answer); one known only from a collection is read whole only when
 * compare needs it (plumb_kube_live_object).
 */
typedef struct {
	json_t *live;
	plumb_kube_summary summary;
	char *path; /* its URL path, to read it whole */
	char *key;  /* its identity (a prune's compare reads it) */
} plumb_kube_seen;

/* The provider's observe and free_observed hooks (provider.h). */
int plumb_kube_observe(plumb_destination *destination, plumb_observation *items, size_t count);
void plumb_kube_free_observed(plumb_observed *observed);

/*
 * Fill out from a live object (live taken; NULL and summary NULL: there is
 * none), or from its summary alone (taken: *summary is left empty); path
 * (taken, may be NULL) is where to read it whole.
 */
void plumb_kube_observed_from(plumb_observed *out, const plumb_destination *destination, json_t *live,
			      plumb_kube_summary *summary, char *path);

/*
 * The whole live object observed, read now when only its summary was
 * known; NULL when it does not exist (or no longer does). Borrowed: it
 * lives as long as observed.
 */
int plumb_kube_live_object(const json_t **out, plumb_destination *destination, const plumb_observed *observed,
			   const char *display);

/* GET path into *live (a new reference), NULL when there is no such object; errors name display. */
int plumb_kube_get_object(json_t **live, plumb_destination *destination, const char *path, const char *display);

/* The URL path of the object key names, NULL when its kind is not served (then it cannot exist). */
char *plumb_kube_path_of_key(const plumb_destination *destination, const char *key);

/* The URL path of a declared object, *path NULL when its kind is not served yet (a definition of the sync defines it). */
int plumb_kube_path_of_object(char **path, plumb_kube_place *place, plumb_destination *destination,
			      const plumb_object *object);

#endif
