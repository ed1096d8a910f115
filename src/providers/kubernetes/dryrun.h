/*
 * dryrun.h - the dry runs a plan will need, made ahead, many at once.
 *
 * A plan compares each object with the server's dry run of its apply, one
 * object after the other. Right after a batch is observed, the dry runs
 * compare is sure to need (an object that does not exist yet, or that
 * carries the hash of another body than plumb would apply now) are sent
 * together, as streams of one connection (client.h, plumb_kube_send_all),
 * and kept for compare to take. What is not made ahead (an object whose
 * namespace the apply makes, one the application's ignore rules touch),
 * and what the server refused, compare asks itself, on its own, so that a
 * refusal is reported as it always is.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_DRYRUN_H
#define PLUMB_PROVIDERS_KUBERNETES_DRYRUN_H

#include "providers/kubernetes/destination.h"

/* Make ahead the dry runs of items (just observed) that compare will need; the ones kept before are dropped. */
void plumb_kube_dry_run_ahead(plumb_destination *destination, const plumb_observation *items, size_t count);

/* The dry run made ahead at path of the body whose applied hash is hash, handed over; NULL: none. */
json_t *plumb_kube_dry_run_take(plumb_destination *destination, const char *path, const char *hash);

#endif
