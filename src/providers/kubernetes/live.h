/*
 * live.h - what a cluster destination knows of whole collections of live
 * objects (one kind in one namespace, or one cluster-scoped kind): a
 * summary of each object, enough to tell whether it changed since plumb
 * applied it, whether plumb may prune it and how healthy it is, without
 * holding the objects themselves (10,000 summaries are a few megabytes).
 *
 * A collection becomes known by one LIST (plumb_kube_live_list), read in
 * pages, instead of one GET an object; a destination kept open between
 * runs (plumb serve) keeps it known with a watch (watch.h). A filtered
 * collection holds only the objects that carry plumb's managed-by label:
 * an object missing from it may still exist without the label. An object
 * whose state is in doubt (one an apply just deleted: it may linger while
 * finalizers run) is unknown until it is read again.
 *
 * Watches update it from their own threads: every function here may be
 * called from any thread.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_LIVE_H
#define PLUMB_PROVIDERS_KUBERNETES_LIVE_H

#include <jansson.h>

#include "providers/kubernetes/client.h"
#include "providers/kubernetes/compare.h"
#include "providers/kubernetes/health.h"

/* What plumb needs to know of a live object without reading it again. */
typedef struct {
	char *fingerprint;    /* as observe gives it: "object ID", ID the blob id of its comparable form, keys sorted */
	char *kind;
	char *tracking;       /* its plumb.dev/tracking-id annotation, or NULL */
	char *applied;        /* its plumb.dev/applied-hash annotation, or NULL */
	int keep;             /* annotated plumb.dev/prune: "false" */
	int deleting;         /* deleted, and waiting for its finalizers */
	plumb_kube_health health;
	char *health_message; /* why it is not Healthy, or NULL */
} plumb_kube_summary;

/* What the live objects of object summarize to; key hashes Secret values (compare.h). */
void plumb_kube_summarize(plumb_kube_summary *out, const json_t *object,
			  const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE]);
void plumb_kube_summary_copy(plumb_kube_summary *out, const plumb_kube_summary *summary);
void plumb_kube_summary_release(plumb_kube_summary *summary);

typedef struct plumb_kube_live plumb_kube_live;

plumb_kube_live *plumb_kube_live_new(void);
void plumb_kube_live_free(plumb_kube_live *live);

typedef enum {
	PLUMB_KUBE_LIVE_UNKNOWN, /* the collection, or this object of it, is not known: read it */
	PLUMB_KUBE_LIVE_ABSENT,  /* no such object (in a filtered collection: none with plumb's label) */
	PLUMB_KUBE_LIVE_PRESENT, /* *out filled (a copy, released by the caller) */
} plumb_kube_live_state;

/*
 * What is known of the object name in collection (its URL path:
 * /api/v1/namespaces/NS/configmaps). *filtered says whether the collection
 * is known only by plumb's label.
 */
plumb_kube_live_state plumb_kube_live_lookup(plumb_kube_summary *out, int *filtered, plumb_kube_live *live,
					     const char *collection, const char *name);

/* The collection of an object's URL path (a new string) and, in *name, its name (a pointer into path). */
char *plumb_kube_collection_of(const char *path, const char **name);

/* Whether collection is known (listed, or watched and not interrupted). */
int plumb_kube_live_known(plumb_kube_live *live, const char *collection);

/*
 * Read collection with one LIST in pages (filtered: by plumb's label) and
 * make it known as exactly what the server answered; *resource_version
 * (may be NULL) gets the list's, a new string, to watch from. Errors: the
 * server's.
 */
int plumb_kube_live_list(plumb_kube_live *live, plumb_kube_client *client, const char *collection, int filtered,
			 const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE], char **resource_version);

/*
 * An object of collection as it is now (object NULL: deleted), from an
 * apply's answer or a watch's event. Returns 1 when that changes what was
 * known of it (its fingerprint or health, or whether it exists), else 0.
 * Nothing happens in a collection that is not known.
 */
int plumb_kube_live_put(plumb_kube_live *live, const char *collection, const char *name, const json_t *object,
			const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE]);

/* The object name of collection is unknown until read again (it was just deleted, and may linger). */
void plumb_kube_live_doubt(plumb_kube_live *live, const char *collection, const char *name);

/* collection is no longer known (its watch stopped): its objects are read again until it is. */
void plumb_kube_live_forget(plumb_kube_live *live, const char *collection);

#endif
