/*
 * resource.h - what the loader produces: resources and the live objects
 * they expand into.
 *
 * A resource is one manifest document (apiVersion, kind, metadata.name,
 * spec) with the place it was read from. Its provider expands it into one
 * or more live objects: a File into one file, a Tree into a directory and
 * everything below it. Objects are what plans, applies and the inventory
 * deal in; each names the resource that declared it.
 */
#ifndef PLUMB_RESOURCE_H
#define PLUMB_RESOURCE_H

#include <stddef.h>

#include "util/common.h"
#include "util/diag.h"

typedef struct plumb_provider plumb_provider;

typedef struct {
	char *api_version;
	char *kind;
	char *name;
	char *identity; /* "apiVersion/kind/name", unique within a revision */
	char *file;     /* manifest path in the repository */
	char blob[PLUMB_OID_HEXSZ + 1]; /* the manifest's blob id, to read it again (resource/field.h) */
	unsigned line;  /* where the document starts */
	unsigned column;
	char *json; /* the whole document, compact JSON on one line */
	char *yaml; /* the whole document as YAML */
	const plumb_provider *provider;
} plumb_resource;

/*
 * A Secret an object takes a value from: a File its content
 * (contentFrom.secret), a Kubernetes Secret the value of one key.
 */
typedef struct {
	char *name;
	char *field;                    /* the field that names it, for messages: "contentFrom.secret" */
	char blob[PLUMB_OID_HEXSZ + 1]; /* the blob id of the value bound to the object; in memory only */
	plumb_position position;        /* where the name is written */
} plumb_object_secret;

/*
 * A field's text may hold "${secret:NAME}": the value of plumb Secret NAME
 * goes there, put in when the object is bound (bind_secret). It is what a
 * Flux application's variable from a Secret is substituted by (load/flux.h);
 * until the values are read (check, render), it is what shows.
 */
#define PLUMB_SECRET_PLACEHOLDER_OPEN "${secret:"
#define PLUMB_SECRET_PLACEHOLDER_CLOSE '}'

typedef struct {
	const plumb_provider *provider;
	char *key;          /* the provider's identity of the live object, e.g. "etc/motd": points into display */
	char *display;      /* how people name it, "/" and the key, e.g. "/etc/motd"; owns key's memory */
	const char *kind;   /* static: "File", "Directory", "Symlink", "Absent" */
	size_t resource;    /* index of the declaring resource in the set */
	plumb_position position; /* where in the manifest it was declared; file lives as long as the set */
	int inventoried;    /* 0 for objects that only assert absence: never in the inventory */
	int sensitive;      /* its content is shown nowhere: not in diffs, plans, renderings or the store */
	/*
	 * The Secrets its values come from, in the order its provider binds
	 * them (bind_secret: a File one, a Kubernetes Secret one a key); NULL
	 * when none does.
	 */
	plumb_object_secret *secrets;
	size_t secret_count;
	void *desired;      /* provider-owned description of the wanted state */
} plumb_object;

/* Where a Secret's value comes from: exactly one source. */
typedef enum {
	PLUMB_SECRET_AGE,     /* an age-encrypted file in the repository */
	PLUMB_SECRET_ENV,     /* an environment variable of the plumb process */
	PLUMB_SECRET_FILE,    /* a file on the host, outside the repository */
	PLUMB_SECRET_COMMAND, /* what a command prints on its standard output */
} plumb_secret_source;

/*
 * A Secret (apiVersion plumb/v1): a reference to a value that never lives
 * in git in plain text. Only the reference is loaded; the value is read
 * when a command plans (see secret.h).
 */
typedef struct {
	char *name;
	plumb_secret_source source;
	char *reference; /* AGE: the repository path; ENV: the variable; FILE: the absolute host path */
	char blob[PLUMB_OID_HEXSZ + 1]; /* AGE: the encrypted file's blob id */
	char **argv;     /* COMMAND: the program and its arguments, NULL-terminated */
	size_t argc;
	unsigned timeout_ms; /* COMMAND: killed after this long */
	int trim_newline;    /* drop the trailing line break of the value (COMMAND: by default) */
	size_t resource;     /* the declaring resource in the set */
	plumb_position position; /* its source field's value; file lives as long as the set */
} plumb_secret;

/* The approval an Application asks for (syncPolicy.approval). */
typedef enum {
	PLUMB_APPLICATION_AUTO,
	PLUMB_APPLICATION_PROMPTED,
	PLUMB_APPLICATION_MANUAL,
} plumb_application_approval;

/*
 * An Application (apiVersion plumb/v1): where its manifests come from,
 * where they go, and how it is synced.
 */
typedef struct {
	char *name;
	char *repo;     /* spec.source.repo; NULL: the repository that declares it */
	char *revision; /* spec.source.revision; NULL: the commit that declares it */
	char *path;     /* spec.source.path, normalised */
	char *render;   /* what spec.source asks of the program that renders path (load/render_options.h), JSON; NULL: nothing */
	int submodules; /* spec.source.submodules: the repository's submodules are fetched and read */
	char *root;     /* spec.destination.host.root, normalised, below the destination root ("" = it) */
	int kubernetes;   /* spec.destination.kubernetes: a cluster, not a host root */
	char *context;    /* spec.destination.kubernetes.context; NULL: the command line's, else the current one */
	char *cluster;    /* a cluster named another tool's way (an Argo CD destination's name or server), which discover maps to a context; NULL: none */
	plumb_position cluster_position; /* where cluster is written */
	char *namespace;  /* spec.destination.kubernetes.namespace; NULL: the context's, else "default" */
	char *namespaces; /* spec.destination.kubernetes.namespaces, comma-separated: the only ones it may write to; NULL: any */
	int namespaced_only; /* spec.destination.kubernetes.clusterResources: false */
	int create_namespace; /* spec.syncPolicy.createNamespace, or syncOptions CreateNamespace=true */
	int force_conflicts;  /* spec.syncPolicy.syncOptions ServerSideApply.ForceConflicts */
	int replace;          /* spec.syncPolicy.syncOptions Replace=true: an immutable field's change recreates the object */
	/*
	 * spec.ignoreDifferences, as JSON: [{"group", "kind", "name", "namespace",
	 * "jsonPointers": [...], "managers": [...]}] (name and namespace "" for
	 * any); NULL without rules.
	 */
	char *ignore;
	unsigned health_timeout_ms; /* spec.syncPolicy.healthTimeout; 0 when not given */
	unsigned interval_ms;       /* how often plumb serve looks at its source (a Flux interval); 0: serve's own */
	int automated;
	int prune;
	int self_heal;
	plumb_application_approval approval;
	char **depends_on;
	size_t depends_on_count;
	long long wave;
	size_t resource; /* the declaring resource in the set */
	char *file;      /* the manifest that declares it (position.file points here) */
	plumb_position position;
} plumb_application;
typedef struct {
	char *commit;
	char *path; /* the path in the repository that was loaded ("" = top) */
	plumb_resource *resources;
	size_t resource_count;
	size_t resource_capacity;
	plumb_object *objects;
	size_t object_count;
	size_t object_capacity;
	plumb_application *applications;
	size_t application_count;
	size_t application_capacity;
	plumb_secret *secrets;
	size_t secret_count;
	size_t secret_capacity;
	/*
	 * Its documents may take values of Secrets through placeholders
	 * (PLUMB_SECRET_PLACEHOLDER_OPEN): set while a Flux application whose
	 * variables or values come from Secrets is loaded.
	 */
	int secret_placeholders;
	/*
	 * The options its renderer ran with, when they pin what the
	 * application's leave open (a chart version range pinned to a
	 * release); NULL: the application's. A plan keeps these, so that its
	 * apply renders the same. Owned by the set, a view or not.
	 */
	char *render_options;
	/* Repository paths whose content resources read (Tree and File sources); never read as manifests. */
	char **content_paths;
	size_t content_path_count;
	size_t content_path_capacity;
	/*
	 * A set that plumb_load made is a view of the manifest files it parsed
	 * (load.c), which own every resource, object, application, secret and
	 * content path above; the set owns its arrays, commit and path, and
	 * holds a reference to each file. Empty in a set that owns everything
	 * (one a provider expands into).
	 */
	struct plumb_manifest_part **parts;
	size_t part_count;
	size_t part_capacity;
} plumb_manifest_set;

/* Free what a resource owns. */
void plumb_resource_release(plumb_resource *resource);

/*
 * Append an object for resource index, of the provider that expands it
 * (the resource's); key is copied (into display), desired is taken over
 * (freed with the provider's free_desired).
 */
plumb_object *plumb_manifest_add_object(plumb_manifest_set *set, size_t resource, const char *kind, const char *key,
					void *desired, plumb_position position);

/*
 * The same for an object whose display is not "/" and its key (a cluster's
 * "ConfigMap shop/conf" for "/ConfigMap/shop/conf"): both are copied, into
 * one allocation that display owns.
 */
plumb_object *plumb_manifest_add_object_named(plumb_manifest_set *set, size_t resource, const char *kind,
					      const char *key, const char *display, void *desired,
					      plumb_position position);

/*
 * Note that object takes a value from the Secret name, written in field at
 * position (name and field copied): the next of object->secrets.
 */
plumb_object_secret *plumb_object_add_secret(plumb_object *object, const char *name, const char *field,
					     plumb_position position);

/* Free what the object's Secrets hold (a set's release does it). */
void plumb_object_release_secrets(plumb_object *object);

/* Note that a repository path is content, not manifests (copied). */
void plumb_manifest_add_content_path(plumb_manifest_set *set, const char *path);

#endif
