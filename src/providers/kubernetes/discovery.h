/*
 * discovery.h - what an API server serves: for each group, version and
 * kind, its resource (the plural in URLs), whether it lives in a namespace,
 * and its verbs.
 *
 * It is read through aggregated discovery (apidiscovery.k8s.io/v2, GA in
 * Kubernetes 1.30): two requests, /api and /apis, describe every group,
 * version and resource. Each answer carries an ETag; the table is kept in a
 * cache file and asked for again with If-None-Match, so that a run where
 * nothing changed costs two small 304 answers. A server too old to serve
 * aggregated discovery is refused with a message that says so.
 *
 * The cache is one file a server in the directory the caller names (the
 * state directory), kube-discovery-SHA256(SERVER URL).json, mode 0600,
 * written atomically; one that cannot be read is ignored, never trusted.
 */
#ifndef PLUMB_KUBE_DISCOVERY_H
#define PLUMB_KUBE_DISCOVERY_H

#include <stddef.h>

#include "providers/kubernetes/client.h"

/* The verbs a resource serves, as bits. */
enum {
	PLUMB_KUBE_VERB_GET = 1u << 0,
	PLUMB_KUBE_VERB_LIST = 1u << 1,
	PLUMB_KUBE_VERB_WATCH = 1u << 2,
	PLUMB_KUBE_VERB_CREATE = 1u << 3,
	PLUMB_KUBE_VERB_UPDATE = 1u << 4,
	PLUMB_KUBE_VERB_PATCH = 1u << 5,
	PLUMB_KUBE_VERB_DELETE = 1u << 6,
	PLUMB_KUBE_VERB_DELETECOLLECTION = 1u << 7,
};

/* One resource a server serves (subresources are left out). Strings belong to the table. */
typedef struct {
	const char *group;       /* "" for the core group */
	const char *version;     /* "v1" */
	const char *api_version; /* "apps/v1", or "v1" in the core group */
	const char *kind;        /* "Deployment" */
	const char *resource;    /* "deployments" */
	int namespaced;
	int preferred;           /* version is its group's preferred version */
	unsigned verbs;          /* PLUMB_KUBE_VERB_* */
} plumb_kube_resource;

typedef struct plumb_kube_discovery plumb_kube_discovery;

/*
 * Read what client's server serves, starting from the cache in cache_dir
 * (NULL: no cache; the directory is made when missing). Errors: the
 * server's (see plumb_kube_send), PLUMB_ERROR when it does not serve
 * aggregated discovery or answers something unreadable. A cache that
 * cannot be written only costs the next run its requests.
 */
int plumb_kube_discover(plumb_kube_discovery **out, plumb_kube_client *client, const char *cache_dir);

/* Ask the server again (two conditional requests); the table changes only when the server's did. */
int plumb_kube_discovery_refresh(plumb_kube_discovery *discovery, plumb_kube_client *client);

/* The table, in the server's order (groups, then versions in preference order). Borrowed. */
const plumb_kube_resource *plumb_kube_discovery_resources(const plumb_kube_discovery *discovery, size_t *count);

/*
 * The resource of kind in api_version ("apps/v1"). PLUMB_ENOTFOUND when
 * the server does not serve it, with a message naming what it serves
 * instead: the same kind in another group or version, else the nearest
 * apiVersion and kind by spelling.
 */
int plumb_kube_discovery_find(const plumb_kube_resource **out, const plumb_kube_discovery *discovery,
			      const char *api_version, const char *kind);

/*
 * The URL path of an object (name) or of a collection (name NULL) of
 * resource: /api/v1/namespaces/NS/configmaps/NAME, /apis/rbac.authorization.k8s.io/v1/clusterroles.
 * namespace is left out for a cluster-scoped resource, and for a namespaced
 * one when NULL (every namespace). A new string.
 */
char *plumb_kube_resource_path(const plumb_kube_resource *resource, const char *namespace, const char *name);

/* NULL-safe. */
void plumb_kube_discovery_free(plumb_kube_discovery *discovery);

#endif
