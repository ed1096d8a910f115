/*
 * provider.h - the contract between the engine and a family of live objects.
 *
 * A provider owns the objects of one kind of destination: the host
 * provider files, directories and symlinks beneath a root; a cluster
 * provider every kind a Kubernetes API server serves. The engine never
 * touches live state itself. It asks the provider to:
 *
 *   claim    say which documents are its own (apiVersion and kind),
 *   expand   turn a resource's spec into live objects (at load; bad input
 *            becomes diagnostics with positions),
 *   open     connect to a destination (a host root, a cluster) and hold
 *            what the provider keeps for it while a plan or an apply runs,
 *   observe  read many live objects in one pass, each with a fingerprint,
 *   compare  decide what would make one match what is desired (an action,
 *            a one-line reason, a human diff),
 *   apply    make one planned change true, atomically (or stage it, to
 *            make a batch of them true together: commit),
 *   wait     start a wave once the objects of the one before it are
 *            healthy (a cluster's; a host has no waves),
 *   remove   delete an object plumb created and git no longer declares,
 *   close    let the destination go.
 *
 * Adding a provider is adding a folder with one of these tables and listing
 * it in providers/registry.c. provider.c holds what the engine does with
 * any provider's results (releasing them) and destinations.
 */
#ifndef PLUMB_PROVIDER_H
#define PLUMB_PROVIDER_H

#include "resource/resource.h"
#include "resource/spec.h"
#include "source/source.h"
#include "store/store.h"
#include "util/buf.h"

typedef enum {
	PLUMB_ACTION_NONE,
	PLUMB_ACTION_CREATE,
	PLUMB_ACTION_UPDATE,
	PLUMB_ACTION_DELETE,
} plumb_action_type;

/*
 * A destination a provider opened: what it holds for it is its own (the
 * host: the root's descriptor, the stat cache of the files beneath it, a
 * cursor on the folder it last looked in, the writes an apply staged).
 * The engine only hands it back.
 */
typedef struct plumb_destination plumb_destination;

/* What the engine tells a provider about the destination it opens; every string borrowed. */
typedef struct {
	const char *location; /* the host: the root's absolute path (it need not exist yet) */
	plumb_source *source; /* to read the blobs desired state names */
	plumb_store *store;   /* where the provider keeps what it learns between runs */
	const char *state_dir; /* where it may cache what it learns of a destination (a cluster's discovery) */
	const char *application; /* whose objects it takes (a cluster marks each with its application's name) */
	/* A cluster: */
	const char *kubeconfig; /* --kubeconfig; NULL: $KUBECONFIG, ~/.kube/config, else in-cluster */
	const char *context;    /* the kubeconfig context; NULL: its current one */
	const char *namespace;  /* what a namespaced object without one goes to; NULL: the context's, else "default" */
	int allow_exec;         /* a kubeconfig's exec credential plugin may run */
	int create_namespace;   /* namespace is made when it does not exist (syncPolicy.createNamespace) */
	int force_conflicts;    /* fields other managers own are taken over (ServerSideApply.ForceConflicts) */
	int replace;            /* an object whose immutable fields change is deleted and created (Replace=true) */
	const char *ignore;     /* fields no diff shows and no apply takes back, as JSON (resource.h, plumb_application) */
	const char *namespaces; /* the only namespaces objects may go to, comma-separated; NULL: any */
	int namespaced_only;    /* a cluster-scoped object is refused where it is declared */
	/*
	 * The destination is kept open from run to run (plumb serve): it keeps
	 * what it observes up to date itself (a cluster watches what plumb
	 * manages), and calls changed(changed_payload), from a thread of its
	 * own, when a live object it keeps changed.
	 */
	int watch;
	void (*changed)(void *payload);
	void *changed_payload;
} plumb_destination_options;

/* An observed live object; providers put their own state in detail. */
typedef struct {
	int exists;
	char *fingerprint; /* "absent", or type, mode, owner and content id: changes when the object does */
	void *detail;      /* provider-owned, freed by free_observed */
} plumb_observed;

/* One object to observe in a pass, and what was observed of it. */
typedef struct {
	const plumb_object *object; /* the declared object; NULL when only the inventory knows it (a prune) */
	const char *key;            /* the provider's identity of the live object */
	const char *kind;
	int sensitive;              /* what it holds is shown and kept nowhere in plain: no cache sees its content id */
	plumb_observed observed;    /* filled by observe */
} plumb_observation;

/*
 * How well a live object does what it was applied for (a Deployment whose
 * pods are available), from the best to the worst: an application is as
 * healthy as its worst object. NONE: its provider does not say (a file).
 */
typedef enum {
	PLUMB_HEALTH_NONE,
	PLUMB_HEALTH_HEALTHY,
	PLUMB_HEALTH_SUSPENDED,
	PLUMB_HEALTH_PROGRESSING,
	PLUMB_HEALTH_MISSING,
	PLUMB_HEALTH_DEGRADED,
	PLUMB_HEALTH_UNKNOWN,
} plumb_health;

/* "Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown"; "" for none. */
const char *plumb_health_name(plumb_health health);

/* The outcome of compare: what to do and why. */
typedef struct {
	plumb_action_type type;
	char *reason;   /* one line, e.g. "content changed", "mode 0600 -> 0644"; NULL for NONE */
	plumb_buf diff; /* unified diff for text content, a one-line note otherwise; may be empty */
} plumb_change;

struct plumb_provider {
	const char *name; /* "host": how the inventory names it */

	/* Whether documents of api_version and kind are this provider's to expand. */
	int (*claims)(const char *api_version, const char *kind);

	/*
	 * What it claims, for a message about an unknown apiVersion or kind:
	 * with api_version NULL its apiVersions ("host/v1"), else the kinds it
	 * claims of api_version ("File, Directory, ..."), or NULL when it claims
	 * none of it. Static.
	 */
	const char *(*describe)(const char *api_version);

	/*
	 * The fields its documents may have at their top and in their metadata,
	 * NULL-terminated; NULL: any at the top (a Kubernetes object's fields
	 * are its kind's). Any other field is an error at its position.
	 */
	const char *const *document_fields;
	const char *const *metadata_fields;

	/*
	 * The order a sync applies two of its objects in (<0: a first); a prune
	 * goes the other way. NULL: by key, which puts a host's parents first.
	 */
	int (*order)(const plumb_object *a, const plumb_object *b);

	/*
	 * The order prunes go in, known only by their keys (<0: a first).
	 * NULL: the deepest key first, which empties a host's folders before it
	 * removes them.
	 */
	int (*order_removal)(const char *a, const char *b);

	/* How people name the live object key (a prune's, which no manifest names): a new string. NULL: "/" and the key. */
	char *(*display_of)(const char *key);

	/*
	 * The wave a declared object is applied in, as people name it ("wave
	 * 0"): a new string. Two objects next to each other in order with
	 * different names are in two waves, and a wave that changes anything
	 * starts only once every declared object of the wave before it is
	 * healthy (wait_healthy). NULL, the hook or its answer: no waves.
	 */
	char *(*wave_of)(const plumb_object *object);

	/*
	 * Wait until every one of objects (the declared objects of one wave,
	 * just applied or unchanged) is healthy, for up to timeout_ms. 0 when
	 * they are; PLUMB_ERROR as soon as one is degraded, or once the time
	 * is up, with a message that names each object not healthy and why.
	 */
	int (*wait_healthy)(plumb_destination *destination, const plumb_object *const *objects, size_t count,
			    unsigned timeout_ms);


	/*
	 * Decode spec of set->resources[resource] (whose json, the whole
	 * document, is there to read while expand runs; later renderings of a
	 * sensitive document mask what expand read) and append its objects (and
	 * content paths) to set. spec is the document's spec, or, for a
	 * provider whose documents may have any top-level field
	 * (document_fields NULL), the whole document, named "" (its fields are
	 * named as they are: "data.password"). Problems become diagnostics;
	 * nothing is added for a resource that has any.
	 */
	void (*expand)(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
		       plumb_diags *diags);
	void (*free_desired)(void *desired);

	/*
	 * Open the destination options name, for a plan and the apply that may
	 * follow. A destination that does not exist yet opens as empty (every
	 * object absent); apply makes it (begin_apply). Errors: the
	 * destination cannot be reached or read.
	 */
	int (*open)(plumb_destination **out, const plumb_destination_options *options);

	/*
	 * What the destination is called wherever plans, the inventory and the
	 * audit log name it: the host root's absolute path; "kubernetes
	 * https://SERVER" for a cluster. Borrowed: it lives as long as the
	 * destination.
	 */
	const char *(*destination_name)(plumb_destination *destination);

	/*
	 * What destination_name will call the destination options choose,
	 * found without opening it: nothing is connected to, no credential is
	 * read and no plugin runs, so that what the store recorded of a
	 * destination is found while it is out of reach. *context: what chose
	 * it beside its name (a cluster's kubeconfig context; NULL for a host
	 * root). New strings. Errors: the options name no destination (a
	 * kubeconfig without the context).
	 */
	int (*name_destination)(char **name, char **context, const plumb_destination_options *options);

	/*
	 * Where object is at this destination, when that depends on the
	 * destination (a namespaced Kubernetes object without a namespace goes
	 * to the destination's; whether a kind is namespaced is the server's to
	 * say): *key and *display new strings. 0 with both NULL: object->key and
	 * object->display are where it is. PLUMB_EINVALID after a diagnostic at
	 * the object's position (a cluster-scoped kind given a namespace, a kind
	 * the server does not serve). NULL: every object is where it says.
	 */
	int (*resolve)(char **key, char **display, plumb_destination *destination, const plumb_object *object,
		       plumb_diags *diags);

	/*
	 * A destination kept open (options.watch) begins another run, with
	 * options (what is the run's own: whether it forces conflicts, makes
	 * the namespace): forget what one run learnt that may not hold for the
	 * next (whether a namespace exists). NULL: nothing to forget.
	 */
	void (*renew)(plumb_destination *destination, const plumb_destination_options *options);

	/* Keep what observing taught the provider for the next run (the host: its stat cache); failure only costs speed. */
	int (*save)(plumb_destination *destination);

	/* Let the destination go. NULL-safe. */
	void (*close)(plumb_destination *destination);

	/*
	 * Observe items in one pass, filling each one's observed: absence is a
	 * fingerprint ("absent"), not an error. Items come in the plan's order
	 * (the host's parents first); a provider reads them as suits its
	 * destination (the host one folder at a time, a cluster one list a
	 * kind). Errors are real trouble reading, with the message naming the
	 * object; items then hold what was observed so far (released with
	 * plumb_observed_release either way).
	 */
	int (*observe)(plumb_destination *destination, plumb_observation *items, size_t count);
	void (*free_observed)(plumb_observed *observed);

	/*
	 * The health of what was observed, and why when it is not Healthy
	 * (*message a new string, or NULL). NULL: the provider does not say.
	 */
	plumb_health (*health)(const plumb_observed *observed, char **message);

	/*
	 * What would make observed match object; object NULL means the object
	 * is no longer declared and plumb created it (a prune): DELETE if it is
	 * still there and still the kind plumb made (inventory_kind), else NONE.
	 * untouched: the object is as plumb's last action left it (its
	 * fingerprint is the one the inventory kept), which may spare the
	 * provider work (a cluster's dry run).
	 * A destination that refuses object as declared (a cluster's
	 * validation) is not trouble reading: each problem becomes a
	 * diagnostic in diags, at the position of what it concerns in the
	 * manifest, and compare returns PLUMB_EINVALID (the message says the
	 * same), so that the plan goes on and reports every refusal at once.
	 * diags is NULL for a prune, which nothing refuses.
	 */
	int (*compare)(plumb_change *out, plumb_destination *destination, const plumb_object *object,
		       const plumb_observed *observed, const char *inventory_kind, int untouched, plumb_diags *diags);

	/*
	 * Before an apply's first action: make the destination exist, and clear
	 * what an apply that was interrupted may have left beside the objects
	 * named in keys (the host: temporary files in their folders).
	 */
	int (*begin_apply)(plumb_destination *destination, const char *const *keys, size_t count);

	/*
	 * Carry out a CREATE or UPDATE of object, atomically, or (stages)
	 * stage it to be carried out with the others at commit; a DELETE of a
	 * declared object that must be absent. Never staged: a DELETE.
	 */
	int (*apply)(plumb_destination *destination, const plumb_object *object, const plumb_change *change);

	/*
	 * Whether apply stages object's CREATE or UPDATE rather than changing
	 * the live object at once: the engine makes what it kept of the object
	 * durable before either happens.
	 */
	int (*stages)(const plumb_object *object);

	/* How many writes are staged, and whether that is as many as should wait for one commit. */
	size_t (*staged)(plumb_destination *destination, int *full);

	/*
	 * Carry out the staged writes, in the order they were staged. *done
	 * says how many were; on an error the rest were dropped, and the
	 * message names the first that could not be carried out.
	 */
	int (*commit)(plumb_destination *destination, size_t *done);

	/* Drop the staged writes: none of them happens. */
	void (*discard)(plumb_destination *destination);

	/*
	 * Observe object right after apply carried out a CREATE or UPDATE of
	 * it (committed): the same result, to the byte of its fingerprint, as
	 * observing it, derived from what apply wrote instead of read back.
	 * What apply does not decide alone (a file's mode kept from the file
	 * it replaced, its owner when left as is) is still looked at. When the
	 * object is no longer the kind apply made, it is observed. Never
	 * consults or fills a cache: what was just written has not settled.
	 * NULL: the engine observes.
	 */
	int (*observe_applied)(plumb_observed *out, plumb_destination *destination, const plumb_object *object);

	/*
	 * Whether a deleted object may stay a while (a Kubernetes object waiting
	 * for its finalizers): the engine then keeps it in the inventory while
	 * observing it after the delete finds it there.
	 */
	int removals_linger;

	/* Delete the live object key of kind (a prune). */
	int (*remove)(plumb_destination *destination, const char *key, const char *kind);

	/*
	 * Append what the live object holds, to keep it before plumb overwrites
	 * or removes it: a file's bytes, a symlink's target. *has_content is 0
	 * for an object that holds none (a directory). PLUMB_EINVALID when it
	 * holds more than max bytes (out unchanged).
	 */
	int (*capture)(plumb_buf *out, int *has_content, plumb_destination *destination, const char *key,
		       const char *kind, size_t max);

	/* Append the content object declares (for diffs against a capture); *has_content as for capture. */
	int (*desired_content)(plumb_buf *out, int *has_content, plumb_source *source, const plumb_object *object);

	/* The repository file object's content comes from, or NULL (inline content, none). Borrowed. */
	const char *(*content_path)(const plumb_object *object);

	/*
	 * What capture keeps and desired_content gives is the object's whole
	 * manifest document, as YAML (a Kubernetes object), not a file's
	 * content: carrying a kept object into git replaces its document.
	 */
	int content_is_document;

	/*
	 * Take value as the value object->secrets[index] gives (a File's
	 * content, a Kubernetes Secret's key): copied, and wiped when the
	 * object is freed. Called for each of its Secrets before the object is
	 * observed or compared; NULL for a provider whose objects take none.
	 */
	void (*bind_secret)(plumb_object *object, size_t index, const char *value, size_t length);
};

void plumb_observed_release(const plumb_provider *provider, plumb_observed *observed);

/* How people name the live object key of provider (display_of, else "/" and the key; NULL provider: the latter). A new string. */
char *plumb_provider_display(const plumb_provider *provider, const char *key);
void plumb_change_release(plumb_change *change);

/*
 * The destinations one plan and its apply use: each provider's, opened on
 * first use with the same options, closed together; or kept open from run
 * to run by whoever holds them (plumb serve), each run beginning with
 * plumb_destinations_renew.
 */
typedef struct {
	plumb_destination_options options; /* strings borrowed: they outlive the destinations */
	/*
	 * The provider of the application's destination, when set: an object of
	 * another provider has no destination here (a Kubernetes object in an
	 * application bound for a host root opens no cluster).
	 */
	const plumb_provider *only;
	struct {
		const plumb_provider *provider;
		plumb_destination *destination;
	} *opened;
	size_t count;
	size_t capacity;
} plumb_destinations;

void plumb_destinations_init(plumb_destinations *destinations, const plumb_destination_options *options);

/*
 * provider's destination, opened now if it is not yet. Borrowed: it lives
 * until release. PLUMB_EINVALID for a provider other than only.
 */
int plumb_destinations_get(plumb_destination **out, plumb_destinations *destinations, const plumb_provider *provider);

/*
 * Another run begins with destinations kept open, with options (borrowed,
 * as plumb_destinations_init's): each forgets what may no longer hold (renew).
 */
void plumb_destinations_renew(plumb_destinations *destinations, const plumb_destination_options *options);

/* Each opened destination saves what it learnt (save); a failure only costs the next run speed. */
void plumb_destinations_save(plumb_destinations *destinations);

/* Close every destination. */
void plumb_destinations_release(plumb_destinations *destinations);

#endif
