/*
 * internal.h - what the daemon's files share: its state, the state of each
 * application it keeps in sync, and the helpers around them. Nothing
 * outside src/serve/ includes it.
 *
 * Two kinds of thread touch the state. The loop (daemon.c, reconcile.c,
 * watch.c) changes it; the HTTP threads (api_*.c) read it, and ask the
 * loop for work through plumb_serve_request_sync and plumb_serve_wake.
 * What both kinds touch is read and written under daemon_state.mutex; the
 * loop's own fields need no lock. An app_state is allocated once and kept
 * until the daemon stops, so a handler may keep a pointer to one after it
 * unlocks.
 */
#ifndef PLUMB_SERVE_INTERNAL_H
#define PLUMB_SERVE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "providers/provider.h"
#include "resource/resource.h"
#include "render/render.h"
#include "serve/options.h"
#include "source/source.h"
#include "store/store.h"
#include "util/clock.h"

/* One object of an application's last plan, as the API lists it: what and why, never any content. */
typedef struct {
	char *path;
	char *kind;
	char *resource;
	char *reason;
	const char *status; /* static: Synced, OutOfSync, Missing, Prune */
	const char *action; /* static: none, create, update, delete */
	int sensitive;
	const char *health;   /* static: Healthy, Progressing, ... as observed; "" when its provider does not say */
	char *health_message; /* why it is not Healthy, "" when nothing is to be said */
} app_object;

/* One application the daemon keeps in sync; shared with the HTTP threads under the daemon's mutex. */
typedef struct {
	char *name;
	char *path;        /* its manifests in the repository */
	char *destination; /* its root */
	int prune;
	int self_heal;
	plumb_approval_mode approval;
	int present;       /* declared by the last revision looked at */
	char *repo;        /* an Application's own repository, or NULL: the daemon's */
	char *revision;    /* an Application's own revision, or NULL: the daemon's commit */
	plumb_source *source; /* open on repo while it is one of its own */
	char synced_commit[PLUMB_OID_HEXSZ + 1];
	char invalid_commit[PLUMB_OID_HEXSZ + 1]; /* the last commit found invalid, logged once */
	char revision_commit[PLUMB_OID_HEXSZ + 1]; /* what its revision resolved to at the last fetch ("": none yet) */
	char *commit_subject; /* the subject of revision_commit: read from git once a commit, not once a request */
	const char *sync_status; /* static: Synced, OutOfSync, Unknown */
	const char *health;      /* static: Healthy, Degraded, Unknown; a cluster's: its worst object's */
	char *message;           /* the last problem, "" when none */
	char *errors;            /* the diagnostics of an invalid revision, "" when none */
	char *diff;              /* the plan of the last reconcile, as plumb plan prints it */
	app_object *objects;     /* the objects of that plan, in its order */
	size_t object_count;
	unsigned to_create, to_update, to_delete;
	int64_t last_sync_at;
	int64_t last_success_at;
	char *last_result;
	char *last_trigger;
	int64_t pending_approval;
	int failed; /* the last reconcile failed: what depends on it waits */
	int asked;  /* a plan of an application that does not ask for approval waits (a mass prune): the loop's own */
	int refusal_logged; /* its repository refused the credentials, and the log said so: the loop's own */
	/* Metrics. */
	unsigned long syncs_succeeded, syncs_failed, drift_events;
	unsigned long manifest_loads; /* times the manifests were read and parsed */
	/* The manifests of loaded_commit, kept between reconciles: an unchanged commit is not parsed again. */
	plumb_manifest_set loaded;
	char loaded_commit[PLUMB_OID_HEXSZ + 1];
	double sync_seconds_sum;
	unsigned long sync_seconds_count;
	/*
	 * An Application bound for a cluster (its destination is "kubernetes
	 * https://SERVER" once a plan opened it): the loop's own. The cluster is
	 * kept open from reconcile to reconcile, watching what plumb manages
	 * there, and opened again when what it was opened with changes.
	 */
	plumb_application declared; /* what the Application says of itself (a copy): declared.kubernetes, a cluster */
	plumb_destinations cluster;
	char *cluster_opened_with; /* the kubeconfig, context and namespace the cluster was opened with */
} app_state;

typedef struct {
	/* Shared with the HTTP threads: everything below, under mutex. */
	pthread_mutex_t mutex;
	plumb_daemon_options options;
	app_state **apps; /* each allocated once and kept to the end: handlers hold pointers to them */
	size_t app_count;
	size_t app_capacity;
	char *branch; /* the tracked branch, for webhooks naming another */
	char revision_commit[PLUMB_OID_HEXSZ + 1];
	char synced_commit[PLUMB_OID_HEXSZ + 1]; /* the last commit whose applications were all looked at */
	/* Triggers, set by any thread, taken by the loop. */
	int sync_requested;
	int64_t request_first_ms; /* when the gathered requests began */
	int64_t request_due_ms;   /* when they are acted on */
	char *requested_by; /* trigger and actor of the request, "api token-name", "webhook github" */
	char *secret;
	size_t secret_len;
	unsigned long fetch_failures;
	int cluster_changed; /* a watched object of a cluster changed (a watch's thread says so) */
	/* The loop's own (no lock needed). */
	app_state *app; /* the application being reconciled */
	int wake_pipe[2];
	plumb_source *source;
	plumb_store *store;
	struct plumb_watch *watch; /* inotify on the managed directories (watch.h) */
	unsigned backoff_ms;
	int refusal_logged; /* the repository refused the credentials, and the log said so */
	char *root; /* the destination root the applications' roots lie below */
} daemon_state;


/* Replace the string in *slot (freed) with a copy of text; NULL is "". */
void plumb_serve_set_text(char **slot, const char *text);

/* The state directory the options name, or the default one: a new string. */
char *plumb_serve_state_dir(const daemon_state *d);

/* How d's sources render (render.h): the programs, limits and fetching serve was given, the cache in state_dir. */
plumb_render_options plumb_serve_render_options(const daemon_state *d, const char *state_dir);

/* Wake the loop, which then looks at the store and the requests at once. Any thread. */
void plumb_serve_wake(daemon_state *d);

/*
 * Ask the loop for a fetch and a sync, gathered with the other requests of
 * a burst into one (see daemon.h). trigger is "api" or "webhook"; actor
 * (the token's name, the forge) may be NULL. Any thread.
 */
void plumb_serve_request_sync(daemon_state *d, const char *trigger, const char *actor);

/*
 * The state of the application called name, made (empty, Unknown, and
 * kept in d->apps, in order) when there is none yet. Borrowed: it lives
 * as long as d. The loop's thread.
 */
app_state *plumb_serve_app_named(daemon_state *d, const char *name);

/* Free a, and everything it holds. */
void plumb_serve_app_free(app_state *a);

/*
 * Fetch source with the credentials of the options from now on (none when
 * there are none): their warnings are logged, and a host key accepted on
 * first use is logged and recorded in the audit log. The loop's thread.
 */
void plumb_serve_use_credentials(daemon_state *d, plumb_source *source);

/* Free the strings of object, and objects with count such objects. */
void plumb_serve_object_release(app_object *object);
void plumb_serve_objects_free(app_object *objects, size_t count);

#endif
