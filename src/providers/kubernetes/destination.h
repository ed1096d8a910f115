/*
 * destination.h - a cluster the kubernetes provider opened: the
 * connection, what the server serves, the namespace objects without one go
 * to, and where each object is (resolve).
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_DESTINATION_H
#define PLUMB_PROVIDERS_KUBERNETES_DESTINATION_H

#include <jansson.h>

#include "providers/kubernetes/client.h"
#include "providers/kubernetes/compare.h"
#include "providers/kubernetes/discovery.h"
#include "providers/kubernetes/ignore.h"
#include "providers/kubernetes/live.h"
#include "providers/kubernetes/object.h"
#include "providers/kubernetes/watch.h"
#include "providers/provider.h"

/* A kind a CustomResourceDefinition of the sync defines (resolve noted it). */
typedef struct {
	char *group;
	char *kind;
	int namespaced;
} plumb_kube_defined_kind;

/* A write an apply staged for the commit (apply.c): what to send where. */
typedef struct {
	const plumb_object *object;
	json_t *body;
	char *path;
	char *display;
	char *key;
} plumb_kube_write;

/* A dry run made ahead of the comparison that needs it (dryrun.h). */
typedef struct {
	char *path;     /* the object's URL path */
	char *hash;     /* the applied hash of the body it was made of */
	json_t *result; /* what the server made of it */
} plumb_kube_dry_run;

/* What an apply answered for an object: the live object it left (observe_applied). */
typedef struct {
	char *key;
	json_t *live;
} plumb_kube_applied;

struct plumb_destination {
	plumb_kube_client *client;
	plumb_kube_discovery *discovery;
	char *namespace; /* for namespaced objects that name none */
	char *name;      /* "kubernetes https://SERVER" */
	char *application; /* whose objects it applies: their tracking ids name it */
	plumb_source *source; /* the run's (open, renew), to read a manifest again (refusal.h); borrowed */
	/*
	 * Whether namespace exists (plumb_kube_namespace_missing asks once):
	 * with create_namespace an apply makes it when missing, unless git
	 * declares it (namespace_declared: resolve saw its Namespace), which
	 * the apply then applies first.
	 */
	int create_namespace;
	int force_conflicts; /* applies take over fields other managers own */
	int replace;         /* every object may be replaced (Replace=true), not only those annotated so */
	char *namespaces;    /* the only namespaces objects may go to, comma-separated; NULL: any */
	int namespaced_only; /* a cluster-scoped object is refused (clusterResources: false) */
	int namespace_declared;
	int discovery_asked; /* a kept destination asked discovery again this run (resolve, a kind not served) */
	enum { PLUMB_KUBE_NAMESPACE_UNKNOWN, PLUMB_KUBE_NAMESPACE_EXISTS, PLUMB_KUBE_NAMESPACE_MISSING } namespace_state;
	unsigned char hash_key[PLUMB_KUBE_HASH_KEY_SIZE];
	plumb_kube_defined_kind *defined;
	size_t defined_count;
	size_t defined_capacity;
	plumb_kube_applied *applied;
	size_t applied_count;
	size_t applied_capacity;
	plumb_kube_dry_run *dry_runs; /* made ahead by observe, taken by compare */
	size_t dry_run_count;
	size_t dry_run_capacity;
	plumb_kube_write *writes; /* staged by apply, sent by commit */
	size_t write_count;
	size_t write_capacity;
	plumb_kube_live *live;        /* the collections known whole (live.h) */
	plumb_kube_ignore *ignore;    /* what the application leaves alone (ignore.h); NULL: nothing */
	plumb_kube_watches *watches;  /* keeping them known while the destination is kept open; NULL for one run */
};

/* Where a declared object is at the destination. */
typedef struct {
	const plumb_kube_resource *resource; /* NULL: a kind a definition of this sync defines, not served yet */
	int namespaced;
	const char *namespace;               /* "" when cluster-scoped; borrowed from the object or destination */
} plumb_kube_place;

/* The provider's open, renew, destination_name, name_destination, resolve and close hooks (provider.h). */
int plumb_kube_open(plumb_destination **out, const plumb_destination_options *options);
void plumb_kube_renew(plumb_destination *destination, const plumb_destination_options *options);
const char *plumb_kube_destination_name(plumb_destination *destination);
int plumb_kube_name_destination(char **name, char **context, const plumb_destination_options *options);
int plumb_kube_resolve(char **key, char **display, plumb_destination *destination, const plumb_object *object,
		       plumb_diags *diags);
void plumb_kube_close(plumb_destination *destination);

/*
 * Where d is. PLUMB_ENOTFOUND when the server does not serve its kind and
 * no definition of the sync defines it, PLUMB_EINVALID for a
 * cluster-scoped kind given a namespace; the message says why.
 */
int plumb_kube_locate(plumb_kube_place *out, plumb_destination *destination, const plumb_kube_desired *d);

/*
 * Where d is, asking the server again what it serves when its kind is not
 * served yet (a definition applied moments ago), for a few seconds.
 */
int plumb_kube_locate_served(plumb_kube_place *out, plumb_destination *destination, const plumb_kube_desired *d);

/*
 * *missing 1 when the destination's namespace does not exist, asked of the
 * server once. A server that will not say (a ServiceAccount that may not
 * read Namespaces) counts as it existing: its objects' requests then say
 * what is wrong.
 */
int plumb_kube_namespace_missing(int *missing, plumb_destination *destination);

/* Drop the dry runs made ahead and not taken (dryrun.h). */
void plumb_kube_dry_runs_clear(plumb_destination *destination);

/* The served resource of group and kind (its preferred version), or NULL. */
const plumb_kube_resource *plumb_kube_find_kind(const plumb_destination *destination, const char *group,
						const char *kind);

#endif
