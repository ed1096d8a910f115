/*
 * watch.h - keeping collections of live objects known (live.h) while a
 * destination stays open (plumb serve), as client-go's informers do: list
 * once, then watch from the list's resourceVersion, with bookmarks so that
 * a resumed watch starts where the last one ended; a 410 Gone (the server
 * no longer has that version) lists again.
 *
 * Only the objects that carry plumb's managed-by label are watched, so
 * what plumb holds follows what it manages, not the size of the cluster.
 * Each collection is watched by a thread of its own, on a connection of
 * its own (a watch holds its answer open). While a watch is down the
 * collection is unknown, so that observing it reads the objects instead
 * of trusting what the watch last said; it is listed again once the
 * server answers. After any list again (a watch down, or fallen behind:
 * 410) changed is called, since what happened meanwhile had no event.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_WATCH_H
#define PLUMB_PROVIDERS_KUBERNETES_WATCH_H

#include "providers/kubernetes/compare.h"
#include "providers/kubernetes/kubeconfig.h"
#include "providers/kubernetes/live.h"

typedef struct plumb_kube_watches plumb_kube_watches;

/*
 * Watches that keep live's collections known, connecting as config says
 * (its strings copied). changed(payload) is called, from a watch's
 * thread, whenever a watched object changes what live says of it.
 */
plumb_kube_watches *plumb_kube_watches_new(plumb_kube_live *live, const plumb_kubeconfig_options *config,
					   const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE],
					   void (*changed)(void *payload), void *payload);

/*
 * Watch collection from resource_version, the version of the list that
 * made it known. Nothing when it is watched already. Errors: a thread that
 * cannot be started.
 */
int plumb_kube_watches_add(plumb_kube_watches *watches, const char *collection, const char *resource_version);

/* Whether collection is watched (its watch may be down for a moment). */
int plumb_kube_watches_has(plumb_kube_watches *watches, const char *collection);

/* Stop every watch (within a second) and wait for their threads. NULL-safe. */
void plumb_kube_watches_free(plumb_kube_watches *watches);

#endif
