/*
 * pipeline.h - the stages every command runs a prefix of:
 *
 *   source (resolve the revision) → load (manifests → objects)
 *   → plan (observe and compare against the destination) → apply → record
 *
 * A pipeline owns what each stage produced and releases it all at once.
 * The stage functions print diagnostics and errors to stderr themselves, in
 * plumb's one format, so that every command reports them alike.
 */
#ifndef PLUMB_PIPELINE_H
#define PLUMB_PIPELINE_H

#include <stdio.h>

#include "apply/apply.h"
#include "load/discover.h"
#include "load/load.h"
#include "plan/plan.h"
#include "source/source.h"
#include "store/store.h"

typedef struct {
	const char *repo;     /* path or URL */
	const char *revision; /* NULL: the default branch */
	const char *path;     /* in the repository; NULL: the top */
	const char *root;     /* destination root; NULL: "/" */
	const char *state;    /* state directory; NULL: the default */
	const char *kustomize; /* the program that renders a kustomization; NULL: $PLUMB_KUSTOMIZE, else kustomize */
	const char *helm;      /* the program that renders a chart; NULL: $PLUMB_HELM, else helm */
	unsigned render_timeout_ms; /* how long a renderer may run; 0: $PLUMB_RENDER_TIMEOUT_MS, else 60 s */
	size_t render_output_max;   /* how much it may print; 0: $PLUMB_RENDER_OUTPUT_MAX, else 64 MiB */
	int allow_chart_fetch;      /* --allow-chart-fetch: a chart's dependencies not vendored are fetched */
	const char *render_self;    /* this program, for a jsonnet file's child (render.h's self); NULL: in-process */
	const char *operation; /* what is recorded for an apply: "sync", "apply", "apply-plan", "rollback", ... */
	const char *trigger;   /* what started it: "cli" unless said otherwise */
	size_t capture_max;    /* drifted content kept up to this size; 0: PLUMB_CAPTURE_MAX */
	const char *application; /* its name; NULL: the implicit application of path */
	const char *render;      /* what the application asks of the renderer of path (render.h's target options); NULL: nothing */
	plumb_discover_names names; /* --cluster NAME=CONTEXT, --repo-alias URL: what Applications' clusters and repositories mean */
	int keep_unlisted;       /* do not prune (an Application's syncPolicy.prune: false) */
	const char *identity;    /* the age identity file for Secrets; NULL: STATE/identity */
	const plumb_source_credentials *credentials; /* how to reach private repositories; NULL: none */
	int submodules;          /* fetch and read the commit's submodules (--submodules, spec.source.submodules) */
	int every_ref;           /* fetch every branch and tag, not only what revision names (another is resolved) */
	/* A cluster instead of a host root (an Application whose destination is kubernetes): */
	int kubernetes;
	const char *kubeconfig;  /* --kubeconfig; NULL: $KUBECONFIG, ~/.kube/config, else in-cluster */
	const char *context;     /* NULL: the kubeconfig's current context */
	const char *namespace;   /* where namespaced objects without one go; NULL: the context's, else "default" */
	int allow_exec;          /* --allow-exec-credentials: a kubeconfig's exec plugin may run */
	int create_namespace;    /* make namespace when it does not exist (syncPolicy.createNamespace, --create-namespace) */
	int force_conflicts;     /* take over fields other managers own (ServerSideApply.ForceConflicts, --force-conflicts) */
	int replace;             /* an immutable field's change deletes and creates the object (syncOptions Replace=true) */
	const char *ignore;      /* what no diff shows and no apply takes back: an Application's ignoreDifferences as JSON */
	const char *namespaces;  /* the only namespaces objects may go to, comma-separated; NULL: any */
	int namespaced_only;     /* no cluster-scoped object may be declared (clusterResources: false) */
	int allow_mass_prune;    /* --allow-mass-prune: a sync may delete more than half of a cluster application's objects */
	unsigned health_timeout_ms; /* how long a wave waits for the one before it to be healthy; 0: 5 minutes */
	/*
	 * Destinations kept open from run to run by the caller (plumb serve: a
	 * cluster's connection, discovery and watches), or NULL: the run opens
	 * its own and closes them. Empty ones are opened by the plan, with
	 * watch and changed as they say; open ones begin another run (renew).
	 */
	plumb_destinations *kept;
	int watch;
	void (*changed)(void *payload);
	void *changed_payload;
} plumb_pipeline_options;

typedef struct {
	plumb_pipeline_options options;
	char *state_dir;
	plumb_source *source;
	int source_borrowed; /* the daemon keeps one source open across runs */
	int quiet;           /* diagnostics go to errors only, not to stderr */
	plumb_buf errors;    /* every diagnostic and error line of this run */
	char commit[PLUMB_OID_HEXSZ + 1];
	plumb_manifest_set set;
	char *application;
	char *destination; /* absolute */
	char *actor;       /* who runs it: "user@host" */
	plumb_store *store;
	plumb_destinations own_destinations; /* opened by the plan, used by its apply, unless options.kept */
	plumb_destinations *destinations;    /* own_destinations, or options.kept */
	plumb_inventory inventory;
	plumb_plan plan;
} plumb_pipeline;

void plumb_pipeline_init(plumb_pipeline *p, const plumb_pipeline_options *options);

/*
 * What application a says of the cluster it goes to, over options: a
 * cluster or not; its context and namespace, when it names them; its
 * namespace made, conflicts forced, objects replaced, when it says so (or
 * options did already); its ignore rules, the namespaces it may write to
 * and whether cluster-scoped kinds are refused; its healthTimeout unless
 * options has one (a --health-timeout for this run wins). Strings
 * borrowed from a.
 */
void plumb_pipeline_options_cluster(plumb_pipeline_options *options, const plumb_application *a);
void plumb_pipeline_release(plumb_pipeline *p);

/* The state directory: /var/lib/plumb for root, else $XDG_STATE_HOME/plumb (~/.local/state/plumb). */
char *plumb_default_state_dir(void);

/*
 * Open the repository and resolve the revision; prints "commit ID (REV)" to
 * info (NULL for none). Returns 0 or an error already printed.
 */
int plumb_pipeline_resolve(plumb_pipeline *p, FILE *info);

/*
 * Use an open source (borrowed: not freed) and a commit already resolved,
 * instead of plumb_pipeline_resolve.
 */
void plumb_pipeline_use_source(plumb_pipeline *p, plumb_source *source, const char *commit);

/* What options ask of the renderers, with their cache in state_dir: how every command that loads renders. */
plumb_render_options plumb_pipeline_render_options(const plumb_pipeline_options *options, const char *state_dir);

/* Load the manifests; every diagnostic is printed (unless quiet) and kept in errors. */
int plumb_pipeline_load(plumb_pipeline *p);

/* The age identity file this run opens Secrets with (--identity, else STATE/identity). A new string. */
char *plumb_pipeline_identity(const plumb_pipeline *p);

/*
 * Instead of plumb_pipeline_load: take over set, loaded earlier from this
 * pipeline's commit and path (set is left empty). A daemon keeps the set of
 * a commit between runs, so that an unchanged commit is not parsed again.
 */
void plumb_pipeline_adopt_set(plumb_pipeline *p, plumb_manifest_set *set);

/*
 * Hand the loaded set over to out (released first), leaving p without one.
 * Call it after the plan and apply are done with: their actions point into
 * the set.
 */
void plumb_pipeline_detach_set(plumb_pipeline *p, plumb_manifest_set *out);

/*
 * Read the Secrets that objects take content from (every one that cannot
 * be read is a diagnostic naming it, and nothing is planned), open the
 * store and the destination (a host root, or with options.kubernetes a
 * cluster), and build the plan. A destination root that does not exist
 * plans as empty: planning creates nothing. A cluster's plan notes how
 * the cluster was chosen (plumb_plan_cluster), for its plan file. Every
 * object the destination cannot take (where it goes, what its validation
 * refuses) is a diagnostic, all printed at once, and a run meant to apply
 * records the refusal.
 */
int plumb_pipeline_plan(plumb_pipeline *p);

/*
 * Whether the plan deletes more than half of what the application manages
 * on a cluster, or all of it (*managed: how many it manages there).
 */
int plumb_pipeline_mass_prune(const plumb_pipeline *p, size_t *managed);

/*
 * Apply the plan (creating the destination root if needed) and record the
 * sync; progress lines go to out. A plan that deletes more than half of
 * what a cluster's application manages, or all of it, is refused (that is
 * what a broken render or a wrong path looks like) unless allow_mass_prune.
 */
int plumb_pipeline_apply(plumb_pipeline *p, FILE *out);

/*
 * After a plan without changes, instead of an apply: what changed of the
 * objects without needing a change is kept as their last seen state
 * (plumb_apply_settle), so that the next plan finds them untouched.
 */
int plumb_pipeline_settle(plumb_pipeline *p);

/*
 * Append an event to the audit log (opening the store if it is not yet
 * open): "plan", "refusal", "error". subject defaults to the application
 * (or the repository before one is known); detail is a compact JSON
 * object. A failure to record is reported on stderr and returned.
 */
int plumb_pipeline_record(plumb_pipeline *p, const char *event, const char *detail);

/*
 * What the destination options choose is called where plans and the store
 * name it (a host root's absolute path, a cluster's "kubernetes
 * https://SERVER"), and *context, for a cluster, the kubeconfig context
 * that chose it (NULL for a host root): found without opening the
 * destination, so nothing is connected to and no credential is read. New
 * strings. An error (a kubeconfig without the context) is left in the
 * error slot for the caller to print.
 */
int plumb_pipeline_destination_name(char **name, char **context, const plumb_pipeline_options *options);

/* The implicit application of a path: the path itself, or the repository's name for the top. A new string. */
char *plumb_application_name(const char *repo, const char *path);

/* Who is running plumb, as recorded: "user@host". A new string. */
char *plumb_actor(void);

/* An absolute, normalised form of a destination root (resolving symlinks when it exists). */
char *plumb_destination_path(const char *root);

#endif
