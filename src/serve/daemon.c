#include "util/common.h"
#include "serve/daemon.h"
#include "load/discover.h"
#include "store/lock.h"
#include "pipeline/pipeline.h"
#include "plan/planfile.h"
#include "serve/server.h"
#include "serve/web.h"
#include "serve/webhook.h"
#include "util/clock.h"
#include "util/fs.h"
#include "util/json.h"
#include "util/path.h"
#include "util/utf8.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

/* The loop looks at the store (approvals decided from the command line) at least this often. */
#define TICK_MS 1000
/* A manual edit is repaired this long after the last change event, so one edit is one repair. */
#define DEBOUNCE_MS 300
/* Watches on directories of managed objects, at most. */
#define MAX_WATCHES 8192
/*
 * Requests (webhooks, the API) are gathered this long after the last one,
 * and at most REQUEST_GATHER_MAX_MS after the first, so that a burst of
 * pushes is one fetch.
 */
#define REQUEST_GATHER_MS 200
#define REQUEST_GATHER_MAX_MS 600
/* A webhook secret file is read up to this size. */
#define MAX_SECRET 4096
/* The API lists at most this many syncs and drift events of an application. */
#define LIST_MAX 100
/* The kept content of a drift event is shown up to this size. */
#define CAPTURE_SHOWN_MAX (64u << 10)
/* Audit entries in one answer: by default, and at most. */
#define AUDIT_PAGE 100
#define AUDIT_PAGE_MAX 1000

/* One object of an application's last plan, as the API lists it: what and why, never any content. */
typedef struct {
	char *path;
	char *kind;
	char *resource;
	char *reason;
	const char *status; /* static: Synced, OutOfSync, Missing, Prune */
	const char *action; /* static: none, create, update, delete */
	int sensitive;
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
	const char *health;      /* static: Healthy, Degraded, Unknown */
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
	/* Metrics. */
	unsigned long syncs_succeeded, syncs_failed, drift_events;
	unsigned long manifest_loads; /* times the manifests were read and parsed */
	/* The manifests of loaded_commit, kept between reconciles: an unchanged commit is not parsed again. */
	plumb_manifest_set loaded;
	char loaded_commit[PLUMB_OID_HEXSZ + 1];
	double sync_seconds_sum;
	unsigned long sync_seconds_count;
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
	/* The loop's own (no lock needed). */
	app_state *app; /* the application being reconciled */
	int wake_pipe[2];
	plumb_source *source;
	plumb_store *store;
	int inotify_fd;
	unsigned backoff_ms;
	char *root; /* the destination root the applications' roots lie below */
} daemon_state;


/* --- logs: one logfmt line per event ------------------------------------------------------- */

static void log_value(plumb_buf *line, const char *key, const char *value)
{
	int quote = !*value || strpbrk(value, " \t\"=\\\n") != NULL;
	plumb_buf_printf(line, " %s=", key);
	if (!quote) {
		plumb_buf_puts(line, value);
		return;
	}
	plumb_buf_putc(line, '"');
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			plumb_buf_putc(line, '\\');
		plumb_buf_putc(line, *p == '\n' ? ' ' : *p);
	}
	plumb_buf_putc(line, '"');
}

/* log_event(level, msg, key, value, ..., NULL) */
static void log_event(const char *level, const char *msg, ...)
{
	plumb_buf line = PLUMB_BUF_INIT;
	char when[32];
	va_list ap;

	plumb_format_time(when, (int64_t)time(NULL));
	plumb_buf_printf(&line, "time=%s level=%s", when, level);
	log_value(&line, "msg", msg);
	va_start(ap, msg);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (!key)
			break;
		const char *value = va_arg(ap, const char *);
		log_value(&line, key, value ? value : "");
	}
	va_end(ap);
	plumb_buf_putc(&line, '\n');
	fputs(line.ptr, stderr);
	fflush(stderr);
	plumb_buf_release(&line);
}

/* --- small helpers ------------------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_text(char **slot, const char *text)
{
	free(*slot);
	*slot = plumb_xstrdup(text ? text : "");
}

static void wake(daemon_state *d)
{
	char byte = 1;
	/* A full pipe already holds a wake-up: nothing is lost. */
	if (write(d->wake_pipe[1], &byte, 1) < 0 && errno != EAGAIN)
		log_event("error", "cannot wake the loop", "error", strerror(errno), NULL);
}

static void request_sync(daemon_state *d, const char *trigger, const char *actor)
{
	int64_t now = now_ms();
	pthread_mutex_lock(&d->mutex);
	if (!d->sync_requested)
		d->request_first_ms = now;
	d->sync_requested = 1;
	d->request_due_ms = now + REQUEST_GATHER_MS < d->request_first_ms + REQUEST_GATHER_MAX_MS
				    ? now + REQUEST_GATHER_MS
				    : d->request_first_ms + REQUEST_GATHER_MAX_MS;
	free(d->requested_by);
	d->requested_by = plumb_xprintf("%s %s", trigger, actor ? actor : "");
	pthread_mutex_unlock(&d->mutex);
	wake(d);
}

static int read_secret(daemon_state *d, const char *path)
{
	plumb_buf text = PLUMB_BUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return plumb_error_set(PLUMB_ERROR, "cannot read the webhook secret %s: %s", path, strerror(errno));
	int error = plumb_buf_read_fd(&text, fd, MAX_SECRET);
	close(fd);
	if (error < 0)
		return plumb_error_wrap(error, "webhook secret %s", path);
	while (text.len && (text.ptr[text.len - 1] == '\n' || text.ptr[text.len - 1] == '\r'))
		plumb_buf_truncate(&text, text.len - 1);
	if (!text.len) {
		plumb_buf_release(&text);
		return plumb_error_set(PLUMB_EINVALID, "the webhook secret %s is empty", path);
	}
	pthread_mutex_lock(&d->mutex);
	if (d->secret) {
		OPENSSL_cleanse(d->secret, d->secret_len);
		free(d->secret);
	}
	d->secret_len = text.len;
	d->secret = plumb_buf_detach(&text, NULL);
	pthread_mutex_unlock(&d->mutex);
	return 0;
}

/* --- inotify: a manual edit under a managed directory wakes the loop ------------------------ */

static void add_watch(int fd, const char *destination, const char *dir, unsigned *count)
{
	if (*count >= MAX_WATCHES)
		return;
	char *path = *dir ? plumb_xprintf("%s/%s", destination, dir) : plumb_xstrdup(destination);
	uint32_t mask = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
			IN_DELETE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW;
	if (inotify_add_watch(fd, path, mask) >= 0)
		(*count)++;
	free(path);
}

/*
 * Watch the directories that hold managed objects (and managed
 * directories). Made anew after each apply, which also drops the events
 * plumb's own writes caused.
 */
static void watch_managed(daemon_state *d)
{
	unsigned count = 0;

	if (d->inotify_fd >= 0)
		close(d->inotify_fd);
	d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	for (size_t a = 0; d->inotify_fd >= 0 && a < d->app_count; a++) {
		const app_state *app = d->apps[a];
		plumb_inventory inventory = { 0 };
		if (plumb_store_inventory_list(&inventory, d->store, app->destination, app->name) == 0) {
			for (size_t i = 0; i < inventory.count; i++) {
				char *dir = plumb_path_dirname(inventory.items[i].key);
				add_watch(d->inotify_fd, app->destination, dir, &count);
				if (!strcmp(inventory.items[i].kind, "Directory"))
					add_watch(d->inotify_fd, app->destination, inventory.items[i].key, &count);
				free(dir);
			}
		}
		plumb_inventory_release(&inventory);
	}
}

/* --- status -------------------------------------------------------------------------------- */

static void set_status(daemon_state *d, const char *sync_status, const char *health, const char *message)
{
	pthread_mutex_lock(&d->mutex);
	d->app->sync_status = sync_status;
	if (health)
		d->app->health = health;
	set_text(&d->app->message, message);
	pthread_mutex_unlock(&d->mutex);
}

static void release_object(app_object *object)
{
	free(object->path);
	free(object->kind);
	free(object->resource);
	free(object->reason);
}

static void release_objects(app_object *objects, size_t count)
{
	for (size_t i = 0; i < count; i++)
		release_object(&objects[i]);
	free(objects);
}

/* What the API says of an object: what a sync would do to it, in the words of Argo CD's resource status. */
static const char *object_status(const plumb_action *a)
{
	if (!a->object)
		return "Prune"; /* no longer declared: it leaves (deleted, or only forgotten) */
	switch (a->type) {
	case PLUMB_ACTION_NONE:
		return "Synced";
	case PLUMB_ACTION_CREATE:
		return "Missing";
	default:
		return "OutOfSync";
	}
}

static void set_plan_status(daemon_state *d, const plumb_plan *plan)
{
	static const char *const action_names[] = { "none", "create", "update", "delete" };
	app_object *objects = plumb_xcalloc(plan->count, sizeof(*objects));
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	plumb_plan_print(plan, out, 0);
	fclose(out);
	for (size_t i = 0; i < plan->count; i++) {
		const plumb_action *a = &plan->actions[i];
		objects[i] = (app_object){ plumb_xstrdup(a->display), plumb_xstrdup(a->kind), plumb_xstrdup(a->resource),
					   plumb_xstrdup(a->change.reason ? a->change.reason : ""), object_status(a),
					   action_names[a->type], a->sensitive };
	}
	pthread_mutex_lock(&d->mutex);
	free(d->app->diff);
	d->app->diff = text;
	d->app->to_create = plan->to_create;
	d->app->to_update = plan->to_update;
	d->app->to_delete = plan->to_delete;
	app_object *old = d->app->objects;
	size_t old_count = d->app->object_count;
	d->app->objects = objects;
	d->app->object_count = plan->count;
	pthread_mutex_unlock(&d->mutex);
	release_objects(old, old_count);
}

/*
 * After a successful apply of commit every object is as the plan wanted
 * it: the pruned ones are gone, the rest are in sync and nothing is left
 * to change, without waiting for the next plan to say so. The caller holds
 * the mutex.
 */
static void settle_objects(app_state *a, const char *commit)
{
	size_t kept = 0;
	free(a->diff);
	a->diff = plumb_xprintf("No changes. The live state matches commit %.12s.\n", commit);
	a->to_create = a->to_update = a->to_delete = 0;
	for (size_t i = 0; i < a->object_count; i++) {
		app_object *o = &a->objects[i];
		if (!strcmp(o->status, "Prune")) {
			release_object(o);
			continue;
		}
		o->status = "Synced";
		o->action = "none";
		set_text(&o->reason, "");
		a->objects[kept++] = *o;
	}
	a->object_count = kept;
}

/* --- reconcile ----------------------------------------------------------------------------- */

static unsigned jittered(unsigned interval_ms)
{
	unsigned spread = interval_ms / 10, r = 0;
	if (!spread || getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return interval_ms;
	return interval_ms - spread + r % (2 * spread + 1);
}

static void start_pipeline(plumb_pipeline *p, daemon_state *d, const char *commit, const char *trigger)
{
	plumb_pipeline_options options = { 0 };
	options.repo = d->app->repo ? d->app->repo : d->options.repo;
	options.revision = d->app->repo || d->app->revision ? d->app->revision : d->options.revision;
	options.path = d->app->path;
	options.root = d->app->destination;
	options.application = d->app->name;
	options.keep_unlisted = !d->app->prune;
	options.state = d->options.state;
	options.identity = d->options.identity;
	options.operation = "sync";
	options.trigger = trigger;
	options.capture_max = d->options.capture_max;
	plumb_pipeline_init(p, &options);
	p->quiet = 1;
	plumb_pipeline_use_source(p, d->app->source ? d->app->source : d->source, commit);
}

/* Apply p's plan under the state lock and record the outcome in the status and the metrics. */
static int apply_plan(daemon_state *d, plumb_pipeline *p, const char *trigger)
{
	char *progress = NULL;
	size_t size = 0;
	int64_t started = now_ms();
	FILE *out = open_memstream(&progress, &size);
	int error = plumb_pipeline_apply(p, out);
	fclose(out);
	double seconds = (double)(now_ms() - started) / 1000.0;
	char counts[64];
	snprintf(counts, sizeof(counts), "%u/%u/%u", p->plan.to_create, p->plan.to_update, p->plan.to_delete);

	pthread_mutex_lock(&d->mutex);
	d->app->last_sync_at = (int64_t)time(NULL);
	d->app->sync_seconds_sum += seconds;
	d->app->sync_seconds_count++;
	set_text(&d->app->last_trigger, trigger);
	if (error == 0) {
		d->app->syncs_succeeded++;
		d->app->last_success_at = d->app->last_sync_at;
		settle_objects(d->app, p->commit);
		memcpy(d->app->synced_commit, p->commit, sizeof(d->app->synced_commit));
		set_text(&d->app->last_result, "succeeded");
	} else {
		d->app->syncs_failed++;
		set_text(&d->app->last_result, "failed");
	}
	pthread_mutex_unlock(&d->mutex);
	if (error == 0) {
		set_status(d, "Synced", "Healthy", "");
		log_event("info", "synced", "app", d->app->name, "commit", p->commit, "trigger", trigger, "create/update/delete",
			  counts, NULL);
	} else {
		set_status(d, "OutOfSync", "Degraded", plumb_error_last());
		log_event("error", "sync failed", "app", d->app->name, "commit", p->commit, "trigger", trigger, "error",
			  plumb_error_last(), NULL);
	}
	free(progress);
	watch_managed(d);
	return error;
}

/* Record a plan that waits for approval, unless the same plan already waits. */
static void ask_approval(daemon_state *d, plumb_pipeline *p)
{
	plumb_approval_records pending = { 0 };
	char summary[128];
	snprintf(summary, sizeof(summary), "Plan: %u to create, %u to update, %u to delete.", p->plan.to_create,
		 p->plan.to_update, p->plan.to_delete);
	if (plumb_store_approval_list(&pending, d->store, d->app->destination, d->app->name, 1) == 0 && pending.count &&
	    pending.items[0].state == PLUMB_APPROVAL_PENDING && !strcmp(pending.items[0].commit, p->commit) &&
	    !strcmp(pending.items[0].summary, summary)) {
		pthread_mutex_lock(&d->mutex);
		d->app->pending_approval = pending.items[0].id;
		pthread_mutex_unlock(&d->mutex);
		plumb_approval_records_release(&pending);
		return;
	}
	plumb_approval_records_release(&pending);

	plumb_approval_record record = { 0 };
	record.destination = d->app->destination;
	record.application = d->app->name;
	record.commit = p->commit;
	record.plan = plumb_planfile_format(&p->plan);
	record.summary = summary;
	char *actor = plumb_actor();
	record.requested_by = actor;
	if (plumb_store_approval_add(d->store, &record) < 0) {
		log_event("error", "cannot record the plan for approval", "app", d->app->name, "error", plumb_error_last(),
			  NULL);
	} else {
		char id[32];
		snprintf(id, sizeof(id), "%lld", (long long)record.id);
		pthread_mutex_lock(&d->mutex);
		d->app->pending_approval = record.id;
		pthread_mutex_unlock(&d->mutex);
		log_event("info", "plan waits for approval", "app", d->app->name, "commit", p->commit, "approval", id,
			  "summary", summary, NULL);
	}
	free(record.plan);
	free(actor);
}

/* The state of the application called name, made (and kept, in order) when new. */
static app_state *app_named(daemon_state *d, const char *name)
{
	for (size_t i = 0; i < d->app_count; i++)
		if (!strcmp(d->apps[i]->name, name))
			return d->apps[i];
	app_state *a = plumb_xcalloc(1, sizeof(*a));
	a->name = plumb_xstrdup(name);
	a->path = plumb_xstrdup("");
	a->destination = plumb_xstrdup(d->root);
	a->sync_status = "Unknown";
	a->health = "Unknown";
	a->message = plumb_xstrdup("");
	a->errors = plumb_xstrdup("");
	a->diff = plumb_xstrdup("");
	a->commit_subject = plumb_xstrdup("");
	a->last_result = plumb_xstrdup("");
	a->last_trigger = plumb_xstrdup("");
	pthread_mutex_lock(&d->mutex);
	PLUMB_GROW(d->apps, d->app_count, d->app_capacity);
	d->apps[d->app_count++] = a;
	pthread_mutex_unlock(&d->mutex);
	return a;
}

/* Set every application's message (the repository could not be fetched or resolved). */
static void set_all_messages(daemon_state *d, const char *message)
{
	pthread_mutex_lock(&d->mutex);
	for (size_t i = 0; i < d->app_count; i++)
		set_text(&d->apps[i]->message, message);
	pthread_mutex_unlock(&d->mutex);
}

/* Fetch (or not, for a drift check) and resolve the revision; 0 and commit, or -1 after logging why. */
static int fetch_and_resolve(daemon_state *d, char commit[PLUMB_OID_HEXSZ + 1], int fetch)
{
	if (fetch) {
		if (plumb_source_refresh(d->source) < 0) {
			unsigned cap = d->options.interval_ms * 4 > 1800000 ? 1800000 : d->options.interval_ms * 4;
			d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : 1000;
			if (d->backoff_ms > cap)
				d->backoff_ms = cap < 1000 ? 1000 : cap;
			pthread_mutex_lock(&d->mutex);
			d->fetch_failures++;
			pthread_mutex_unlock(&d->mutex);
			set_all_messages(d, plumb_error_last());
			char backoff[32];
			snprintf(backoff, sizeof(backoff), "%ums", d->backoff_ms);
			log_event("warn", "fetch failed; keeping the last good revision", "repo",
				  plumb_source_name(d->source), "error", plumb_error_last(), "retry_in", backoff, NULL);
			return -1;
		}
		d->backoff_ms = 0;
		/* A new cache knows the remote's default branch only after its first fetch. */
		if (!d->branch && !d->options.revision) {
			char *branch = NULL;
			if (plumb_source_branch(&branch, d->source, NULL) == 0) {
				pthread_mutex_lock(&d->mutex);
				d->branch = branch;
				pthread_mutex_unlock(&d->mutex);
			}
		}
	}
	/* A drift check re-applies the commit in force; a fetch looks at what the revision names now. */
	if (!fetch && *d->synced_commit) {
		memcpy(commit, d->synced_commit, PLUMB_OID_HEXSZ + 1);
		return 0;
	}
	if (plumb_source_resolve(commit, d->source, d->options.revision) < 0) {
		set_all_messages(d, plumb_error_last());
		log_event("error", "cannot resolve the revision", "error", plumb_error_last(), NULL);
		return -1;
	}
	if (fetch) {
		pthread_mutex_lock(&d->mutex);
		memcpy(d->revision_commit, commit, PLUMB_OID_HEXSZ + 1);
		pthread_mutex_unlock(&d->mutex);
	}
	return 0;
}

/*
 * Remember the commit a's revision resolved to at a fetch, and its
 * subject. Read here, once a commit, on the loop's thread: a list of a
 * thousand applications costs no git reads, and the HTTP threads never
 * touch a repository.
 */
static void note_revision(daemon_state *d, app_state *a, plumb_source *source, const char *commit)
{
	char *subject = NULL;
	if (!strcmp(a->revision_commit, commit))
		return;
	if (plumb_source_commit_subject(&subject, source, commit) < 0)
		log_event("warn", "cannot read the commit's subject", "app", a->name, "commit", commit, "error",
			  plumb_error_last(), NULL);
	pthread_mutex_lock(&d->mutex);
	memcpy(a->revision_commit, commit, sizeof(a->revision_commit));
	set_text(&a->commit_subject, subject);
	pthread_mutex_unlock(&d->mutex);
	free(subject);
}

/* Make one application (d->app) follow commit: load, plan, and act as its policy says. */
static void reconcile_app(daemon_state *d, const char *commit, const char *trigger)
{
	plumb_pipeline p;
	plumb_lock *lock = NULL;
	int started = 0;

	d->app->failed = 1;
	start_pipeline(&p, d, commit, trigger);
	started = 1;
	if (d->app->loaded.commit && !strcmp(d->app->loaded_commit, commit)) {
		plumb_pipeline_adopt_set(&p, &d->app->loaded);
	} else {
		plumb_manifest_set_release(&d->app->loaded);
		pthread_mutex_lock(&d->mutex);
		d->app->manifest_loads++;
		pthread_mutex_unlock(&d->mutex);
	}
	if (!p.set.commit && plumb_pipeline_load(&p) < 0) {
		pthread_mutex_lock(&d->mutex);
		set_text(&d->app->errors, p.errors.ptr);
		pthread_mutex_unlock(&d->mutex);
		set_status(d, "Unknown", NULL, "the revision is invalid; nothing was applied");
		/* Once per invalid commit: every poll finds it again. */
		if (strcmp(d->app->invalid_commit, commit) != 0)
			log_event("error", "invalid revision; keeping the last good one", "app", d->app->name, "commit", commit,
				  "errors", p.errors.ptr, NULL);
		memcpy(d->app->invalid_commit, commit, sizeof(d->app->invalid_commit));
		goto done;
	}
	pthread_mutex_lock(&d->mutex);
	set_text(&d->app->errors, "");
	pthread_mutex_unlock(&d->mutex);
	if (plumb_lock_acquire(&lock, p.state_dir, "plumb serve", 0) < 0) {
		log_event("warn", "state directory busy; trying again soon", "app", d->app->name, "error", plumb_error_last(),
			  NULL);
		goto done;
	}
	if (plumb_pipeline_plan(&p) < 0) {
		set_status(d, "Unknown", "Degraded", p.errors.len ? p.errors.ptr : plumb_error_last());
		log_event("error", "cannot plan", "app", d->app->name, "error", plumb_error_last(), NULL);
		goto done;
	}
	set_plan_status(d, &p.plan);
	if (!plumb_plan_has_changes(&p.plan)) {
		pthread_mutex_lock(&d->mutex);
		int first = !*d->app->synced_commit || strcmp(d->app->synced_commit, commit) != 0;
		memcpy(d->app->synced_commit, commit, sizeof(d->app->synced_commit));
		d->app->pending_approval = 0;
		pthread_mutex_unlock(&d->mutex);
		set_status(d, "Synced", "Healthy", "");
		d->app->failed = 0;
		if (first)
			log_event("info", "in sync", "app", d->app->name, "commit", commit, "trigger", trigger, NULL);
		goto done;
	}
	int drift = *d->app->synced_commit && !strcmp(d->app->synced_commit, commit);
	if (drift) {
		pthread_mutex_lock(&d->mutex);
		d->app->drift_events++;
		pthread_mutex_unlock(&d->mutex);
		log_event("warn", "drift", "app", d->app->name, "commit", commit, "self_heal", d->app->self_heal ? "on" : "off",
			  NULL);
		if (!d->app->self_heal) {
			set_status(d, "OutOfSync", NULL, "the live state drifted from git; selfHeal is off");
			goto done;
		}
	}
	switch (d->app->approval) {
	case PLUMB_APPROVAL_AUTO:
		d->app->failed = apply_plan(d, &p, drift ? "drift" : trigger) < 0;
		break;
	case PLUMB_APPROVAL_PROMPTED:
		set_status(d, "OutOfSync", NULL, "a plan waits for approval");
		ask_approval(d, &p);
		break;
	case PLUMB_APPROVAL_MANUAL:
		set_status(d, "OutOfSync", NULL, "approval is manual: run plumb sync");
		break;
	}
done:
	plumb_lock_release(lock);
	if (started && p.application) {
		/* Loaded (or adopted) and valid: kept for the next reconcile of this commit. */
		plumb_pipeline_detach_set(&p, &d->app->loaded);
		memcpy(d->app->loaded_commit, commit, sizeof(d->app->loaded_commit));
	}
	if (started)
		plumb_pipeline_release(&p);
}

/* Keep what a leaf Application says of itself; the implicit application follows the daemon's options. */
static void adopt_leaf(daemon_state *d, app_state *a, const plumb_application *leaf, int implicit)
{
	pthread_mutex_lock(&d->mutex);
	a->present = 1;
	set_text(&a->path, leaf->path);
	free(a->destination);
	a->destination = !*leaf->root		? plumb_xstrdup(d->root)
			 : !strcmp(d->root, "/") ? plumb_xprintf("/%s", leaf->root)
						 : plumb_path_join(d->root, leaf->root);
	a->prune = implicit ? d->options.prune : leaf->prune;
	a->self_heal = implicit ? d->options.self_heal : leaf->self_heal;
	a->approval = implicit					      ? d->options.approval
		      : leaf->approval == PLUMB_APPLICATION_PROMPTED ? PLUMB_APPROVAL_PROMPTED
		      : leaf->approval == PLUMB_APPLICATION_MANUAL   ? PLUMB_APPROVAL_MANUAL
		      : leaf->automated				     ? PLUMB_APPROVAL_AUTO
								     : PLUMB_APPROVAL_MANUAL;
	pthread_mutex_unlock(&d->mutex);
}

/*
 * A revision whose applications cannot even be told apart: every one keeps
 * its last good revision. fetched: commit is what the revision names now.
 */
static void mark_invalid(daemon_state *d, const char *commit, plumb_diags *diags, const char *implicit, int fetched)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	plumb_diags_sort(diags);
	plumb_diags_print(diags, out);
	if (!diags->count)
		fprintf(out, "%s\n", plumb_error_last());
	fclose(out);
	app_state *first = app_named(d, implicit);
	int logged = !strcmp(first->invalid_commit, commit);
	for (size_t i = 0; fetched && i < d->app_count; i++)
		note_revision(d, d->apps[i], d->source, commit);
	pthread_mutex_lock(&d->mutex);
	for (size_t i = 0; i < d->app_count; i++) {
		app_state *a = d->apps[i];
		set_text(&a->errors, text);
		set_text(&a->message, "the revision is invalid; nothing was applied");
		a->sync_status = "Unknown";
		memcpy(a->invalid_commit, commit, PLUMB_OID_HEXSZ + 1);
	}
	pthread_mutex_unlock(&d->mutex);
	if (!logged)
		log_event("error", "invalid revision; keeping the last good one", "commit", commit, "errors", text, NULL);
	free(text);
}

/*
 * An Application with its own repository or revision: fetch it (its own
 * cache) unless only checking drift, and resolve its revision.
 */
static int resolve_own(daemon_state *d, app_state *a, const plumb_application *leaf, char commit[PLUMB_OID_HEXSZ + 1],
		       int fetch)
{
	const char *repo = leaf->repo ? leaf->repo : d->options.repo;
	if (!a->source || strcmp(a->repo ? a->repo : "", repo) != 0) {
		plumb_source_free(a->source);
		a->source = NULL;
		pthread_mutex_lock(&d->mutex);
		set_text(&a->repo, repo);
		set_text(&a->revision, leaf->revision);
		pthread_mutex_unlock(&d->mutex);
		char *state = d->options.state ? plumb_xstrdup(d->options.state) : plumb_default_state_dir();
		int error = plumb_source_open_cached(&a->source, repo, state);
		free(state);
		if (error < 0)
			goto fail;
		fetch = 1;
	}
	if (!fetch && *a->synced_commit) {
		memcpy(commit, a->synced_commit, PLUMB_OID_HEXSZ + 1);
		return 0;
	}
	if ((fetch && plumb_source_refresh(a->source) < 0) || plumb_source_resolve(commit, a->source, leaf->revision) < 0)
		goto fail;
	return 0;
fail:
	d->app = a;
	set_status(d, "Unknown", NULL, plumb_error_last());
	log_event("warn", "cannot fetch the application's own repository; keeping its last good revision", "app",
		  a->name, "repo", repo, "error", plumb_error_last(), NULL);
	return -1;
}

/*
 * Make the live state follow git: fetch (unless only checking drift),
 * resolve, find the applications the path declares, and reconcile each in
 * order; one whose dependency is not synced waits.
 */
static void reconcile(daemon_state *d, const char *trigger, int fetch)
{
	char commit[PLUMB_OID_HEXSZ + 1];
	plumb_applications found = { 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	char *implicit = NULL;

	if (fetch_and_resolve(d, commit, fetch) < 0)
		return;
	implicit = plumb_application_name(plumb_source_name(d->source), d->options.path);
	if (plumb_applications_discover(&found, d->source, commit, d->options.path, implicit, &diags) < 0) {
		mark_invalid(d, commit, &diags, implicit, fetch);
		goto done;
	}
	for (size_t i = 0; i < d->app_count; i++)
		d->apps[i]->present = 0;
	for (size_t i = 0; i < found.count; i++) {
		const plumb_application *leaf = &found.items[i];
		app_state *a = app_named(d, leaf->name);
		adopt_leaf(d, a, leaf, found.count == 1 && !*leaf->file);
		d->app = a;
		char own_commit[PLUMB_OID_HEXSZ + 1];
		int own = leaf->repo || leaf->revision;
		if (own && resolve_own(d, a, leaf, own_commit, fetch) < 0) {
			a->failed = 1;
			continue;
		}
		if (fetch)
			note_revision(d, a, own ? a->source : d->source, own ? own_commit : commit);
		const char *blocked = NULL;
		for (size_t k = 0; k < leaf->depends_on_count && !blocked; k++) {
			app_state *dependency = app_named(d, leaf->depends_on[k]);
			if (dependency->failed)
				blocked = dependency->name;
		}
		if (blocked) {
			char *why = plumb_xprintf("waits: it depends on %s, which is not synced", blocked);
			set_status(d, "OutOfSync", NULL, why);
			free(why);
			a->failed = 1;
			continue;
		}
		reconcile_app(d, own ? own_commit : commit, trigger);
	}
	memcpy(d->synced_commit, commit, sizeof(commit));
done:
	/* What this round did not load is no longer declared: let it go. */
	plumb_load_sweep(d->source);
	for (size_t i = 0; i < d->app_count; i++)
		if (d->apps[i]->source)
			plumb_load_sweep(d->apps[i]->source);
	d->app = NULL;
	free(implicit);
	plumb_diags_release(&diags);
	plumb_applications_release(&found);
}

/* An approved plan is applied exactly, or superseded as stale and asked for again. */
static void apply_approved(daemon_state *d)
{
	plumb_approval_records latest = { 0 };
	plumb_plan saved;
	plumb_pipeline p;
	plumb_lock *lock = NULL;
	plumb_buf stale = PLUMB_BUF_INIT;
	char note[64];

	memset(&saved, 0, sizeof(saved));
	if (plumb_store_approval_list(&latest, d->store, d->app->destination, d->app->name, 1) < 0 || !latest.count ||
	    latest.items[0].state != PLUMB_APPROVAL_APPROVED) {
		/* A rejection through the API was settled when it was made; one made with plumb reject is seen here. */
		if (latest.count && latest.items[0].state == PLUMB_APPROVAL_REJECTED) {
			pthread_mutex_lock(&d->mutex);
			int was_pending = d->app->pending_approval == latest.items[0].id;
			d->app->pending_approval = 0;
			pthread_mutex_unlock(&d->mutex);
			if (was_pending) {
				set_status(d, "OutOfSync", NULL, "the plan was rejected");
				log_event("info", "plan rejected", "app", d->app->name, "by", latest.items[0].decided_by, NULL);
			}
		}
		plumb_approval_records_release(&latest);
		return;
	}
	const plumb_approval_record *approval = &latest.items[0];
	snprintf(note, sizeof(note), "%lld", (long long)approval->id);
	if (plumb_planfile_parse(&saved, approval->plan, strlen(approval->plan), "the approved plan") < 0) {
		plumb_store_approval_finish(d->store, approval->id, PLUMB_APPROVAL_SUPERSEDED, plumb_error_last());
		goto out;
	}
	start_pipeline(&p, d, saved.commit, "approval");
	if (plumb_pipeline_load(&p) < 0 || plumb_lock_acquire(&lock, p.state_dir, "plumb serve", 0) < 0 ||
	    plumb_pipeline_plan(&p) < 0) {
		log_event("warn", "cannot apply the approved plan yet", "app", d->app->name, "approval", note, "error",
			  plumb_error_last(), NULL);
		goto release;
	}
	if (plumb_planfile_compare(&saved, &p.plan, &stale) > 0) {
		plumb_store_approval_finish(d->store, approval->id, PLUMB_APPROVAL_SUPERSEDED, "stale: the live state moved");
		log_event("warn", "approved plan went stale; planning again", "app", d->app->name, "approval", note, "why",
			  stale.ptr, NULL);
		plumb_lock_release(lock);
		lock = NULL;
		plumb_pipeline_release(&p);
		plumb_buf_release(&stale);
		plumb_plan_release(&saved);
		plumb_approval_records_release(&latest);
		reconcile(d, "approval", 0);
		return;
	}
	int error = apply_plan(d, &p, "approval");
	plumb_store_approval_finish(d->store, approval->id,
				    error == 0 ? PLUMB_APPROVAL_APPLIED : PLUMB_APPROVAL_SUPERSEDED,
				    error == 0 ? "applied by plumb serve" : plumb_error_last());
	pthread_mutex_lock(&d->mutex);
	d->app->pending_approval = 0;
	pthread_mutex_unlock(&d->mutex);
release:
	plumb_lock_release(lock);
	plumb_pipeline_release(&p);
out:
	plumb_buf_release(&stale);
	plumb_plan_release(&saved);
	plumb_approval_records_release(&latest);
}

/* --- HTTP API ------------------------------------------------------------------------------ */

static const char *const approval_names[] = { "auto", "prompted", "manual" };

/* The application as the API shows it; with_detail adds the plan's diff and an invalid revision's errors. */
static json_t *application_json(daemon_state *d, const app_state *a, int with_detail)
{
	json_t *o = json_object();
	pthread_mutex_lock(&d->mutex);
	json_object_set_new(o, "name", json_string(a->name));
	json_object_set_new(o, "repo", json_string(a->source ? plumb_source_name(a->source) : plumb_source_name(d->source)));
	json_object_set_new(o, "revision", json_string(d->options.revision ? d->options.revision : ""));
	json_object_set_new(o, "path", json_string(a->path));
	json_object_set_new(o, "destination", json_string(a->destination));
	json_object_set_new(o, "revision_commit", json_string(*a->revision_commit ? a->revision_commit : d->revision_commit));
	json_object_set_new(o, "commit_subject", plumb_json_string(a->commit_subject));
	json_object_set_new(o, "synced_commit", json_string(a->synced_commit));
	json_object_set_new(o, "sync_status", json_string(a->sync_status));
	json_object_set_new(o, "health", json_string(a->health));
	json_object_set_new(o, "message", json_string(a->message));
	json_object_set_new(o, "last_sync", plumb_json_time(a->last_sync_at));
	json_object_set_new(o, "last_result", json_string(a->last_result));
	json_object_set_new(o, "last_trigger", json_string(a->last_trigger));
	json_object_set_new(o, "last_success", plumb_json_time(a->last_success_at));
	json_object_set_new(o, "pending_approval", a->pending_approval ? json_integer(a->pending_approval) : json_null());
	json_object_set_new(o, "changes", json_pack("{s:i, s:i, s:i}", "create", (int)a->to_create, "update",
						      (int)a->to_update, "delete", (int)a->to_delete));
	json_object_set_new(o, "policy",
			    json_pack("{s:b, s:b, s:s}", "prune", a->prune, "selfHeal", a->self_heal,
				      "approval", approval_names[a->approval]));
	json_object_set_new(o, "drift_events", json_integer((json_int_t)a->drift_events));
	if (with_detail) {
		json_object_set_new(o, "errors", json_string(a->errors));
		json_object_set_new(o, "diff", json_string(a->diff));
	}
	pthread_mutex_unlock(&d->mutex);
	return o;
}

static void respond(plumb_response *response, unsigned status, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	plumb_response_json(response, status, text);
	free(text);
	json_decref(doc);
}

/* The application the route's {name} names, or NULL after a 404. */
static app_state *known_application(plumb_response *response, const plumb_request *request, daemon_state *d)
{
	app_state *found = NULL;
	pthread_mutex_lock(&d->mutex);
	for (size_t i = 0; request->param_count && i < d->app_count && !found; i++)
		if (!strcmp(request->params[0], d->apps[i]->name))
			found = d->apps[i];
	pthread_mutex_unlock(&d->mutex);
	if (!found)
		plumb_response_error(response, 404, "no application '%s'", request->param_count ? request->params[0] : "");
	return found;
}

static void handle_healthz(plumb_response *response, const plumb_request *request, void *payload)
{
	plumb_response_json(response, 200, "{\"status\":\"ok\"}");
}

static void handle_applications(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	json_t *list = json_array();
	pthread_mutex_lock(&d->mutex);
	size_t count = d->app_count;
	pthread_mutex_unlock(&d->mutex);
	/* The applications the last revision declared (or, before any, what is known). */
	for (size_t i = 0; i < count; i++)
		if (d->apps[i]->present || !*d->synced_commit)
			json_array_append_new(list, application_json(d, d->apps[i], 0));
	respond(response, 200, json_pack("{s:o}", "applications", list));
}

static void handle_application(plumb_response *response, const plumb_request *request, void *payload)
{
	app_state *a = known_application(response, request, payload);
	if (a)
		respond(response, 200, application_json(payload, a, 1));
}

static void handle_sync(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	app_state *a = known_application(response, request, d);
	if (!a)
		return;
	request_sync(d, "api", request->token_name);
	log_event("info", "sync requested", "app", a->name, "trigger", "api", "actor", request->token_name, NULL);
	plumb_response_json(response, 202, "{\"queued\":true}");
}

/* Another connection to the store, for a handler thread: SQLite connections are not shared across threads. */
static plumb_store *open_store(plumb_response *response, daemon_state *d)
{
	plumb_store *store = NULL;
	char *state = d->options.state ? plumb_xstrdup(d->options.state) : plumb_default_state_dir();
	if (plumb_store_open(&store, state) < 0)
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
	free(state);
	return store;
}

/*
 * The name and destination of a (new strings): copied under the mutex,
 * since the loop may rewrite them (an Application that moved its root)
 * while a handler uses them.
 */
static void app_identity(daemon_state *d, const app_state *a, char **name, char **destination)
{
	pthread_mutex_lock(&d->mutex);
	*name = plumb_xstrdup(a->name);
	*destination = plumb_xstrdup(a->destination);
	pthread_mutex_unlock(&d->mutex);
}

/* A positive id in decimal, as a route's {id} or a query gives it; 0 for anything else. */
static int64_t parse_id(const char *text)
{
	char *end = NULL;
	if (!text || text[0] < '0' || text[0] > '9')
		return 0;
	errno = 0;
	long long id = strtoll(text, &end, 10);
	return errno || *end || id < 1 ? 0 : (int64_t)id;
}

static json_t *sync_json(const plumb_sync_record *s)
{
	return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:i, s:i, s:i, s:o}", "id", (json_int_t)s->id,
			 "started_at", plumb_json_time(s->started_at), "finished_at", plumb_json_time(s->finished_at),
			 "operation", plumb_json_string(s->operation), "trigger", plumb_json_string(s->trigger), "actor",
			 plumb_json_string(s->actor), "commit", plumb_json_string(s->commit), "result",
			 plumb_sync_result_name(s->result), "created", (int)s->created, "updated", (int)s->updated,
			 "deleted", (int)s->deleted, "error", plumb_json_string(s->error));
}

static void handle_history(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	plumb_sync_records syncs = { 0 };
	plumb_store *store = NULL;
	char *name = NULL, *destination = NULL;
	app_state *a = known_application(response, request, d);

	if (!a || !(store = open_store(response, d)))
		goto done;
	app_identity(d, a, &name, &destination);
	if (plumb_store_sync_list(&syncs, store, destination, name, LIST_MAX) < 0) {
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
		goto done;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < syncs.count; i++)
		json_array_append_new(list, sync_json(&syncs.items[i]));
	respond(response, 200, json_pack("{s:o}", "syncs", list));
done:
	free(name);
	free(destination);
	plumb_sync_records_release(&syncs);
	plumb_store_free(store);
}

/* One sync of the application, with what became of each of its actions. */
static void handle_sync_detail(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	plumb_sync_record sync = { 0 };
	plumb_action_records actions = { 0 };
	plumb_store *store = NULL;
	char *name = NULL, *destination = NULL;
	int64_t id = request->param_count > 1 ? parse_id(request->params[1]) : 0;
	int error;
	app_state *a = known_application(response, request, d);

	if (!a || !(store = open_store(response, d)))
		goto done;
	app_identity(d, a, &name, &destination);
	error = id ? plumb_store_sync_get(&sync, store, id) : PLUMB_ENOTFOUND;
	if (error == PLUMB_ENOTFOUND ||
	    (error == 0 && (strcmp(sync.application, name) != 0 || strcmp(sync.destination, destination) != 0))) {
		plumb_response_error(response, 404, "no sync %s of '%s'", request->params[1], name);
		goto done;
	}
	if (error < 0 || plumb_store_action_list(&actions, store, id) < 0) {
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
		goto done;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < actions.count; i++) {
		const plumb_action_record *r = &actions.items[i];
		json_array_append_new(
			list, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o}", "id", (json_int_t)r->id,
					"at", plumb_json_time(r->at), "key", plumb_json_string(r->key), "kind",
					plumb_json_string(r->kind), "resource", plumb_json_string(r->resource), "action",
					plumb_json_string(r->action), "reason", plumb_json_string(r->reason), "outcome",
					plumb_outcome_name(r->outcome), "error", plumb_json_string(r->error), "before",
					plumb_json_string(r->before), "after", plumb_json_string(r->after)));
	}
	json_t *doc = sync_json(&sync);
	json_object_set_new(doc, "actions", list);
	respond(response, 200, doc);
done:
	free(name);
	free(destination);
	plumb_action_records_release(&actions);
	plumb_sync_record_release(&sync);
	plumb_store_free(store);
}

/* The objects of the application's last plan: each one's status and what a sync would do, never content. */
static void handle_objects(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	app_state *a = known_application(response, request, d);
	if (!a)
		return;
	json_t *list = json_array();
	pthread_mutex_lock(&d->mutex);
	for (size_t i = 0; i < a->object_count; i++) {
		const app_object *o = &a->objects[i];
		json_array_append_new(list, json_pack("{s:o, s:o, s:o, s:s, s:s, s:o, s:b}", "path",
						      plumb_json_string(o->path), "kind", plumb_json_string(o->kind),
						      "resource", plumb_json_string(o->resource), "status", o->status,
						      "action", o->action, "reason", plumb_json_string(o->reason),
						      "sensitive", o->sensitive));
	}
	pthread_mutex_unlock(&d->mutex);
	respond(response, 200, json_pack("{s:o}", "objects", list));
}

/* len, less the end of a UTF-8 sequence that a cut at len left incomplete. */
static size_t whole_sequences(const char *text, size_t len)
{
	for (size_t back = 1; back <= 3 && back <= len; back++) {
		unsigned char c = (unsigned char)text[len - back];
		if ((c & 0xc0) == 0x80)
			continue;
		size_t need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
		return need > back ? len - back : len;
	}
	return len;
}

/*
 * The drift event as the API shows it, with the content that was kept
 * (the start of it, when long) if the object is not sensitive and the
 * content is text.
 */
static json_t *drift_json(const plumb_drift_record *e, int state_fd)
{
	plumb_buf kept = PLUMB_BUF_INIT;
	int truncated = 0, binary = 0;
	json_t *content = NULL;

	if (!e->sensitive && *e->capture && state_fd >= 0 &&
	    plumb_fs_read_head(&kept, &truncated, state_fd, e->capture, CAPTURE_SHOWN_MAX) == 0) {
		size_t len = truncated ? whole_sequences(kept.ptr, kept.len) : kept.len;
		binary = !plumb_utf8_valid(kept.ptr, len);
		if (!binary)
			content = plumb_json_text(kept.ptr, len);
	}
	char *path = plumb_xprintf("/%s", e->key);
	json_t *o = json_pack("{s:I, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, s:I, s:o, s:b, s:b}", "id",
			      (json_int_t)e->id, "at", plumb_json_time(e->at), "sync", (json_int_t)e->sync_id, "path",
			      plumb_json_string(path), "key", plumb_json_string(e->key), "kind", plumb_json_string(e->kind),
			      "commit", plumb_json_string(e->commit), "note", plumb_json_string(e->note), "expected",
			      plumb_json_string(e->expected), "observed", plumb_json_string(e->observed), "sensitive",
			      e->sensitive, "kept", *e->capture != '\0', "size", (json_int_t)e->capture_size, "content",
			      content ? content : json_string(""), "content_binary", binary, "content_truncated",
			      truncated && !binary);
	free(path);
	plumb_buf_release(&kept);
	return o;
}

/* The application's drift events, newest first, with what each repair overwrote. */
static void handle_drift(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	plumb_drift_records events = { 0 };
	plumb_store *store = NULL;
	char *name = NULL, *destination = NULL;
	char *state = d->options.state ? plumb_xstrdup(d->options.state) : plumb_default_state_dir();
	int state_fd = -1;
	app_state *a = known_application(response, request, d);

	if (!a || !(store = open_store(response, d)))
		goto done;
	app_identity(d, a, &name, &destination);
	if (plumb_store_drift_list(&events, store, destination, name, LIST_MAX) < 0) {
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
		goto done;
	}
	/* Captures are read beneath the state directory, never through a symlink: the store names them, not the request. */
	if (events.count && plumb_fs_open_root(&state_fd, state, 0) < 0)
		state_fd = -1;
	json_t *list = json_array();
	for (size_t i = 0; i < events.count; i++)
		json_array_append_new(list, drift_json(&events.items[i], state_fd));
	respond(response, 200, json_pack("{s:o}", "events", list));
done:
	if (state_fd >= 0)
		close(state_fd);
	free(state);
	free(name);
	free(destination);
	plumb_drift_records_release(&events);
	plumb_store_free(store);
}

/* The plan that waits for approval, exactly as it would be applied. */
static void handle_approval(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	plumb_approval_record record = { 0 };
	plumb_store *store = NULL;
	app_state *a = known_application(response, request, d);
	int error;

	if (!a)
		goto done;
	pthread_mutex_lock(&d->mutex);
	int64_t pending = a->pending_approval;
	pthread_mutex_unlock(&d->mutex);
	if (!pending) {
		plumb_response_error(response, 404, "no plan waits");
		goto done;
	}
	if (!(store = open_store(response, d)))
		goto done;
	error = plumb_store_approval_get(&record, store, pending);
	/* Decided (from the command line, say) since the loop last looked: it no longer waits. */
	if (error == PLUMB_ENOTFOUND || (error == 0 && record.state != PLUMB_APPROVAL_PENDING)) {
		plumb_response_error(response, 404, "no plan waits");
		goto done;
	}
	if (error < 0) {
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
		goto done;
	}
	json_t *plan = json_loads(record.plan, 0, NULL);
	if (!plan) {
		plumb_response_error(response, 500, "the plan of approval %lld is not JSON", (long long)record.id);
		goto done;
	}
	respond(response, 200,
		json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)record.id, "summary",
			  plumb_json_string(record.summary), "created_at", plumb_json_time(record.created_at),
			  "requested_by", plumb_json_string(record.requested_by), "commit",
			  plumb_json_string(record.commit), "plan", plan));
done:
	plumb_approval_record_release(&record);
	plumb_store_free(store);
}

/* A page of the audit log, newest first, and whether its hash chain holds. */
static void handle_audit(plumb_response *response, const plumb_request *request, void *payload)
{
	plumb_audit_entries entries = { 0 };
	plumb_audit_verification verification = { 0 };
	plumb_store *store = NULL;
	const char *limit_text = plumb_server_query(request, "limit");
	const char *before_text = plumb_server_query(request, "before");
	int64_t limit = limit_text ? parse_id(limit_text) : AUDIT_PAGE;
	int64_t before = before_text ? parse_id(before_text) : 0;

	if (!limit || (before_text && !before)) {
		plumb_response_error(response, 400, "limit and before must be positive numbers");
		goto done;
	}
	if (!(store = open_store(response, payload)))
		goto done;
	if (plumb_store_audit_list(&entries, store, before, limit > AUDIT_PAGE_MAX ? AUDIT_PAGE_MAX : (unsigned)limit) < 0 ||
	    plumb_store_audit_verify(&verification, store) < 0) {
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
		goto done;
	}
	json_t *list = json_array();
	for (size_t i = 0; i < entries.count; i++) {
		const plumb_audit_entry *e = &entries.items[i];
		/* The detail is JSON already: embedded as the object it is, or as a string if an edit broke it. */
		json_t *detail = json_loads(e->detail, JSON_REJECT_DUPLICATES, NULL);
		json_array_append_new(list, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}", "id", (json_int_t)e->id, "at",
						      plumb_json_time(e->at), "actor", plumb_json_string(e->actor),
						      "event", plumb_json_string(e->event), "subject",
						      plumb_json_string(e->subject), "detail",
						      detail ? detail : plumb_json_string(e->detail)));
	}
	respond(response, 200,
		json_pack("{s:o, s:b, s:I, s:s}", "entries", list, "intact", verification.first_bad_id == 0,
			  "first_bad_id", (json_int_t)verification.first_bad_id, "problem",
			  verification.problem ? verification.problem : ""));
done:
	plumb_audit_verification_release(&verification);
	plumb_audit_entries_release(&entries);
	plumb_store_free(store);
}

/*
 * The dashboard's files. Besides the policy that keeps the page to its
 * own scripts and styles, it may not be framed (clickjacking its buttons)
 * nor tell other sites where it was.
 */
static void handle_dashboard(plumb_response *response, const plumb_request *request, void *payload)
{
	const plumb_web_asset *asset = plumb_web_asset_find(request->path);
	if (!asset) {
		plumb_response_error(response, 404, "not found");
		return;
	}
	response->status = 200;
	response->content_type = asset->content_type;
	plumb_buf_add(&response->body, asset->data, asset->size);
	plumb_response_header(response, "Content-Security-Policy", PLUMB_WEB_CSP);
	plumb_response_header(response, "Referrer-Policy", "no-referrer");
	plumb_response_header(response, "X-Frame-Options", "DENY");
}

/* Approve or reject: exactly the pending plan, named by its id when the body gives one. */
static void decide(plumb_response *response, const plumb_request *request, daemon_state *d, int approve)
{
	json_error_t json_error;
	json_t *body = request->body_len ? json_loadb(request->body, request->body_len, 0, &json_error) : NULL;
	plumb_store *store = NULL;
	int64_t wanted = 0;
	app_state *a = known_application(response, request, d);

	if (!a)
		goto done;
	if (request->body_len && !json_is_object(body)) {
		plumb_response_error(response, 400, "the body must be a JSON object such as {\"id\": 12}");
		goto done;
	}
	json_t *id = json_object_get(body, "id");
	if (id && !json_is_integer(id)) {
		plumb_response_error(response, 400, "id must be a number");
		goto done;
	}
	wanted = id ? (int64_t)json_integer_value(id) : 0;
	pthread_mutex_lock(&d->mutex);
	int64_t pending = a->pending_approval;
	pthread_mutex_unlock(&d->mutex);
	if (!pending) {
		plumb_response_error(response, 409, "no plan of '%s' waits for approval", a->name);
		goto done;
	}
	if (wanted && wanted != pending) {
		plumb_response_error(response, 409, "plan %lld is not the one that waits (%lld is)", (long long)wanted,
				     (long long)pending);
		goto done;
	}
	if (!(store = open_store(response, d)))
		goto done;
	json_t *note = json_object_get(body, "note");
	if (plumb_store_approval_decide(store, pending, approve, request->token_name,
					json_is_string(note) ? json_string_value(note) : "") < 0) {
		plumb_response_error(response, 409, "%s", plumb_error_last());
		goto done;
	}
	log_event("info", approve ? "plan approved" : "plan rejected", "app", a->name, "by", request->token_name, NULL);
	/* Decided: it no longer waits, though the loop applies (or drops) it a moment later. */
	pthread_mutex_lock(&d->mutex);
	if (a->pending_approval == pending) {
		a->pending_approval = 0;
		set_text(&a->message, approve ? "the plan was approved; applying it" : "the plan was rejected");
	}
	pthread_mutex_unlock(&d->mutex);
	wake(d);
	respond(response, 200, json_pack("{s:I, s:s}", "id", (json_int_t)pending, "state", approve ? "approved" : "rejected"));
done:
	plumb_store_free(store);
	json_decref(body);
}

static void handle_approve(plumb_response *response, const plumb_request *request, void *payload)
{
	decide(response, request, payload, 1);
}

static void handle_reject(plumb_response *response, const plumb_request *request, void *payload)
{
	decide(response, request, payload, 0);
}

static void handle_audit_verify(plumb_response *response, const plumb_request *request, void *payload)
{
	plumb_audit_verification verification = { 0 };
	plumb_store *store = open_store(response, payload);
	if (!store)
		return;
	if (plumb_store_audit_verify(&verification, store) < 0)
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
	else
		respond(response, 200,
			json_pack("{s:b, s:I, s:I, s:s}", "intact", verification.first_bad_id == 0, "entries",
				  (json_int_t)verification.entries, "first_bad_id", (json_int_t)verification.first_bad_id,
				  "problem", verification.problem ? verification.problem : ""));
	plumb_audit_verification_release(&verification);
	plumb_store_free(store);
}

static void handle_webhook(plumb_response *response, const plumb_request *request, void *payload)
{
	daemon_state *d = payload;
	int kind = request->param_count ? plumb_webhook_kind_from_name(request->params[0]) : -1;
	if (kind < 0) {
		plumb_response_error(response, 404, "no webhook '%s' (github, gitea, gitlab, generic)",
				     request->param_count ? request->params[0] : "");
		return;
	}
	const char *proof = plumb_server_header(request, plumb_webhook_header((plumb_webhook_kind)kind));
	pthread_mutex_lock(&d->mutex);
	int valid = d->secret && plumb_webhook_verify((plumb_webhook_kind)kind, d->secret, d->secret_len, proof,
						     request->body, request->body_len);
	pthread_mutex_unlock(&d->mutex);
	if (!valid) {
		log_event("warn", "webhook refused: bad or missing signature", "kind", request->params[0], NULL);
		plumb_response_error(response, 401, "the signature does not match");
		return;
	}
	char *branch = plumb_webhook_pushed_branch(request->body, request->body_len);
	pthread_mutex_lock(&d->mutex);
	int other_branch = branch && d->branch && strcmp(branch, d->branch) != 0;
	pthread_mutex_unlock(&d->mutex);
	if (other_branch) {
		plumb_response_json(response, 202, "{\"queued\":false,\"reason\":\"another branch\"}");
	} else {
		request_sync(d, "webhook", request->params[0]);
		plumb_response_json(response, 202, "{\"queued\":true}");
	}
	free(branch);
}

static void metric(plumb_buf *out, const char *name, const char *type, const char *help)
{
	plumb_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void handle_metrics(plumb_response *response, const plumb_request *request, void *payload)
{
	static const struct {
		const char *name, *type, *help;
	} families[] = {
		{ "plumb_syncs_total", "counter", "Syncs that applied changes, by result." },
		{ "plumb_sync_failures_total", "counter", "Syncs that failed." },
		{ "plumb_fetch_failures_total", "counter", "Fetches of the repository that failed." },
		{ "plumb_drift_events_total", "counter", "Times the live state was found drifted from git." },
		{ "plumb_sync_duration_seconds", "summary", "Time spent applying syncs." },
		{ "plumb_last_successful_sync_timestamp_seconds", "gauge", "When the last sync succeeded." },
		{ "plumb_application_synced", "gauge", "1 when the application is Synced." },
		{ "plumb_manifest_loads_total", "counter",
		  "Times the application's manifests were loaded (once a commit; unchanged files are not parsed again)." },
	};
	daemon_state *d = payload;
	plumb_buf *out = &response->body;
	pthread_mutex_lock(&d->mutex);
	for (size_t f = 0; f < PLUMB_ARRAY_SIZE(families); f++) {
		const char *family = families[f].name;
		metric(out, family, families[f].type, families[f].help);
		for (size_t i = 0; i < d->app_count; i++) {
			const app_state *a = d->apps[i];
			const char *n = a->name;
			switch (f) {
			case 0:
				plumb_buf_printf(out, "%s{application=\"%s\",result=\"succeeded\"} %lu\n", family, n,
						 a->syncs_succeeded);
				plumb_buf_printf(out, "%s{application=\"%s\",result=\"failed\"} %lu\n", family, n,
						 a->syncs_failed);
				break;
			case 1:
				plumb_buf_printf(out, "%s{application=\"%s\"} %lu\n", family, n, a->syncs_failed);
				break;
			case 2:
				plumb_buf_printf(out, "%s{application=\"%s\"} %lu\n", family, n, d->fetch_failures);
				break;
			case 3:
				plumb_buf_printf(out, "%s{application=\"%s\"} %lu\n", family, n, a->drift_events);
				break;
			case 4:
				plumb_buf_printf(out, "%s_sum{application=\"%s\"} %.6f\n", family, n, a->sync_seconds_sum);
				plumb_buf_printf(out, "%s_count{application=\"%s\"} %lu\n", family, n, a->sync_seconds_count);
				break;
			case 5:
				plumb_buf_printf(out, "%s{application=\"%s\"} %lld\n", family, n, (long long)a->last_success_at);
				break;
			case 6:
				plumb_buf_printf(out, "%s{application=\"%s\"} %d\n", family, n, !strcmp(a->sync_status, "Synced"));
				break;
			default:
				plumb_buf_printf(out, "%s{application=\"%s\"} %lu\n", family, n, a->manifest_loads);
				break;
			}
		}
	}
	pthread_mutex_unlock(&d->mutex);
	metric(out, "plumb_manifest_files_parsed_total", "counter",
	       "Manifest files parsed; a file whose blob and looked-up paths are unchanged is not parsed again.");
	plumb_buf_printf(out, "plumb_manifest_files_parsed_total %lu\n", plumb_load_files_parsed());
	response->status = 200;
	response->content_type = "text/plain; version=0.0.4";
}

/* --- the loop ------------------------------------------------------------------------------ */

/* Take the gathered requests once they are due; *due_ms says when otherwise (0: none waits). */
static int take_request(daemon_state *d, char **trigger_out, int64_t *due_ms)
{
	pthread_mutex_lock(&d->mutex);
	int requested = d->sync_requested && now_ms() >= d->request_due_ms;
	*due_ms = d->sync_requested ? d->request_due_ms : 0;
	*trigger_out = NULL;
	if (requested) {
		d->sync_requested = 0;
		*trigger_out = d->requested_by;
		d->requested_by = NULL;
	}
	pthread_mutex_unlock(&d->mutex);
	return requested;
}

static void drain(int fd)
{
	char buffer[4096];
	while (read(fd, buffer, sizeof(buffer)) > 0)
		;
}

void plumb_daemon_options_init(plumb_daemon_options *options)
{
	memset(options, 0, sizeof(*options));
	options->interval_ms = 180000;
	options->self_heal_interval_ms = 60000;
	options->prune = 1;
	options->self_heal = 1;
	options->approval = PLUMB_APPROVAL_AUTO;
}

void plumb_daemon_options_release(plumb_daemon_options *options)
{
	free(options->repo);
	free(options->revision);
	free(options->path);
	free(options->root);
	free(options->state);
	free(options->listen);
	free(options->tokens_file);
	free(options->webhook_secret_file);
	free(options->identity);
	memset(options, 0, sizeof(*options));
}

static char *xstrdup_or_null(const char *s)
{
	return s ? plumb_xstrdup(s) : NULL;
}

static void copy_options(plumb_daemon_options *to, const plumb_daemon_options *from)
{
	*to = *from;
	to->repo = xstrdup_or_null(from->repo);
	to->revision = xstrdup_or_null(from->revision);
	to->path = xstrdup_or_null(from->path);
	to->root = xstrdup_or_null(from->root);
	to->state = xstrdup_or_null(from->state);
	to->listen = xstrdup_or_null(from->listen);
	to->tokens_file = xstrdup_or_null(from->tokens_file);
	to->webhook_secret_file = xstrdup_or_null(from->webhook_secret_file);
	to->identity = xstrdup_or_null(from->identity);
}

/* The routes of the API and the dashboard (the server adds /api/v1/session); the server copies them. */
#define ROUTE_COUNT 19
static void routes(plumb_route out[ROUTE_COUNT], daemon_state *d)
{
	const plumb_route list[] = {
		{ "GET", "/", PLUMB_ROLE_NONE, handle_dashboard, NULL },
		{ "GET", "/index.html", PLUMB_ROLE_NONE, handle_dashboard, NULL },
		{ "GET", "/app.js", PLUMB_ROLE_NONE, handle_dashboard, NULL },
		{ "GET", "/style.css", PLUMB_ROLE_NONE, handle_dashboard, NULL },
		{ "GET", "/healthz", PLUMB_ROLE_NONE, handle_healthz, d },
		{ "GET", "/metrics", PLUMB_ROLE_NONE, handle_metrics, d },
		{ "POST", "/api/v1/webhooks/{kind}", PLUMB_ROLE_NONE, handle_webhook, d },
		{ "GET", "/api/v1/applications", PLUMB_ROLE_VIEWER, handle_applications, d },
		{ "GET", "/api/v1/applications/{name}", PLUMB_ROLE_VIEWER, handle_application, d },
		{ "GET", "/api/v1/applications/{name}/objects", PLUMB_ROLE_VIEWER, handle_objects, d },
		{ "GET", "/api/v1/applications/{name}/history", PLUMB_ROLE_VIEWER, handle_history, d },
		{ "GET", "/api/v1/applications/{name}/history/{id}", PLUMB_ROLE_VIEWER, handle_sync_detail, d },
		{ "GET", "/api/v1/applications/{name}/drift", PLUMB_ROLE_VIEWER, handle_drift, d },
		{ "GET", "/api/v1/applications/{name}/approval", PLUMB_ROLE_VIEWER, handle_approval, d },
		{ "POST", "/api/v1/applications/{name}/sync", PLUMB_ROLE_OPERATOR, handle_sync, d },
		{ "POST", "/api/v1/applications/{name}/approve", PLUMB_ROLE_OPERATOR, handle_approve, d },
		{ "POST", "/api/v1/applications/{name}/reject", PLUMB_ROLE_OPERATOR, handle_reject, d },
		{ "GET", "/api/v1/audit", PLUMB_ROLE_VIEWER, handle_audit, d },
		{ "GET", "/api/v1/audit/verify", PLUMB_ROLE_VIEWER, handle_audit_verify, d },
	};
	_Static_assert(sizeof(list) == ROUTE_COUNT * sizeof(plumb_route), "ROUTE_COUNT counts the routes");
	memcpy(out, list, sizeof(list));
}

/* Read SIGHUP's new options: policy, intervals, tokens, the webhook secret. Where they point stays. */
static void reload_options(daemon_state *d, plumb_server *server, plumb_daemon_reload reload, void *payload)
{
	plumb_daemon_options fresh;
	plumb_daemon_options_init(&fresh);
	if (!reload || reload(&fresh, payload) < 0) {
		log_event("error", "reload failed; keeping the configuration", "error", plumb_error_last(), NULL);
		plumb_daemon_options_release(&fresh);
		return;
	}
	pthread_mutex_lock(&d->mutex);
	d->options.interval_ms = fresh.interval_ms;
	d->options.self_heal_interval_ms = fresh.self_heal_interval_ms;
	/* The implicit application takes them at the next reconcile; Applications keep their own. */
	d->options.prune = fresh.prune;
	d->options.self_heal = fresh.self_heal;
	d->options.approval = fresh.approval;
	d->options.capture_max = fresh.capture_max;
	pthread_mutex_unlock(&d->mutex);
	if (plumb_server_reload_tokens(server) < 0)
		log_event("error", "cannot reload the tokens", "error", plumb_error_last(), NULL);
	if (fresh.webhook_secret_file && read_secret(d, fresh.webhook_secret_file) < 0)
		log_event("error", "cannot reload the webhook secret", "error", plumb_error_last(), NULL);
	log_event("info", "configuration reloaded", NULL);
	plumb_daemon_options_release(&fresh);
}

int plumb_daemon_run(const plumb_daemon_options *options, plumb_daemon_reload reload, void *payload)
{
	daemon_state state, *d = &state;
	plumb_server *server = NULL;
	sigset_t signals;
	int signal_fd = -1, error = 0;
	plumb_route table[ROUTE_COUNT];

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->mutex, NULL);
	copy_options(&d->options, options);
	d->inotify_fd = -1;
	d->wake_pipe[0] = d->wake_pipe[1] = -1;
	d->root = plumb_destination_path(d->options.root);

	/* Signals arrive through a descriptor, so a sync in flight is never interrupted. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal_fd = signalfd(-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
	if (signal_fd < 0 || pipe2(d->wake_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "cannot set up signals: %s", strerror(errno));
		goto done;
	}
	char *state_dir = d->options.state ? plumb_xstrdup(d->options.state) : plumb_default_state_dir();
	error = plumb_store_open(&d->store, state_dir);
	if (error == 0)
		error = plumb_source_open_cached(&d->source, d->options.repo, state_dir);
	free(state_dir);
	if (error < 0)
		goto done;
	/* The implicit application is named after its path, or its repository for the top. */
	if (plumb_source_branch(&d->branch, d->source, d->options.revision) < 0)
		d->branch = NULL; /* a tag, a commit, or a cache not fetched yet: every push wakes a fetch */
	if (d->options.webhook_secret_file && (error = read_secret(d, d->options.webhook_secret_file)) < 0)
		goto done;
	routes(table, d);
	if ((error = plumb_server_start(&server, d->options.listen ? d->options.listen : "127.0.0.1:8080",
					d->options.tokens_file, table, ROUTE_COUNT)) < 0)
		goto done;
	{
		char port[16];
		snprintf(port, sizeof(port), "%u", plumb_server_port(server));
		log_event("info", "serving", "repo", plumb_source_name(d->source), "path",
			  d->options.path ? d->options.path : "", "destination", d->root, "port", port, NULL);
	}
	watch_managed(d);

	int64_t next_poll = now_ms(), next_heal = now_ms() + d->options.self_heal_interval_ms, request_due = 0;
	for (;;) {
		int64_t now = now_ms();
		int64_t due = next_poll < next_heal ? next_poll : next_heal;
		if (request_due && request_due < due)
			due = request_due;
		int timeout = due <= now ? 0 : (int)(due - now > TICK_MS ? TICK_MS : due - now);
		struct pollfd fds[3] = { { signal_fd, POLLIN, 0 }, { d->wake_pipe[0], POLLIN, 0 }, { d->inotify_fd, POLLIN, 0 } };
		poll(fds, d->inotify_fd >= 0 ? 3 : 2, timeout);

		struct signalfd_siginfo info;
		int stop = 0;
		while (read(signal_fd, &info, sizeof(info)) == (ssize_t)sizeof(info)) {
			if (info.ssi_signo == SIGHUP)
				reload_options(d, server, reload, payload);
			else
				stop = 1;
		}
		if (stop) {
			log_event("info", "stopping", NULL);
			break;
		}
		drain(d->wake_pipe[0]);
		if (d->inotify_fd >= 0 && (fds[2].revents & POLLIN)) {
			/* Look soon: to repair with selfHeal, to report without. */
			drain(d->inotify_fd);
			next_heal = now_ms() + DEBOUNCE_MS;
		}
		char *requested = NULL;
		now = now_ms();
		if (take_request(d, &requested, &request_due)) {
			request_due = 0;
			char trigger[32];
			snprintf(trigger, sizeof(trigger), "%s", requested ? requested : "api");
			*strchrnul(trigger, ' ') = '\0';
			reconcile(d, trigger, 1);
			next_poll = now_ms() + (d->backoff_ms ? d->backoff_ms : jittered(d->options.interval_ms));
		} else if (now >= next_poll) {
			reconcile(d, "poll", 1);
			next_poll = now_ms() + (d->backoff_ms ? d->backoff_ms : jittered(d->options.interval_ms));
		} else if (now >= next_heal) {
			reconcile(d, "drift", 0);
			next_heal = now_ms() + d->options.self_heal_interval_ms;
		}
		free(requested);
		for (size_t i = 0; i < d->app_count; i++) {
			d->app = d->apps[i];
			if (d->app->present && d->app->approval == PLUMB_APPROVAL_PROMPTED)
				apply_approved(d);
			d->app = NULL;
		}
	}
done:
	if (error < 0)
		log_event("error", "cannot start", "error", plumb_error_last(), NULL);
	plumb_server_stop(server);
	if (signal_fd >= 0)
		close(signal_fd);
	if (d->wake_pipe[0] >= 0) {
		close(d->wake_pipe[0]);
		close(d->wake_pipe[1]);
	}
	if (d->inotify_fd >= 0)
		close(d->inotify_fd);
	plumb_source_free(d->source);
	plumb_store_free(d->store);
	if (d->secret) {
		OPENSSL_cleanse(d->secret, d->secret_len);
		free(d->secret);
	}
	for (size_t i = 0; i < d->app_count; i++) {
		app_state *a = d->apps[i];
		free(a->name);
		free(a->path);
		free(a->destination);
		free(a->message);
		free(a->errors);
		free(a->diff);
		free(a->commit_subject);
		release_objects(a->objects, a->object_count);
		free(a->last_result);
		free(a->last_trigger);
		free(a->repo);
		free(a->revision);
		plumb_source_free(a->source);
		plumb_manifest_set_release(&a->loaded);
		free(a);
	}
	free(d->apps);
	free(d->root);
	free(d->branch);
	free(d->requested_by);
	plumb_daemon_options_release(&d->options);
	pthread_mutex_destroy(&d->mutex);
	return error;
}
