#include "util/common.h"
#include "serve/reconcile.h"
#include "load/discover.h"
#include "pipeline/pipeline.h"
#include "plan/planfile.h"
#include "serve/log.h"
#include "serve/watch.h"
#include "store/lock.h"
#include "util/path.h"

#include <stdio.h>
#include <time.h>

static void set_status(daemon_state *d, const char *sync_status, const char *health, const char *message)
{
	pthread_mutex_lock(&d->mutex);
	d->app->sync_status = sync_status;
	if (health)
		d->app->health = health;
	plumb_serve_set_text(&d->app->message, message);
	pthread_mutex_unlock(&d->mutex);
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
	plumb_health worst = PLUMB_HEALTH_NONE;
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	plumb_plan_print(plan, out, 0);
	fclose(out);
	for (size_t i = 0; i < plan->count; i++) {
		const plumb_action *a = &plan->actions[i];
		objects[i] = (app_object){ plumb_xstrdup(a->display), plumb_xstrdup(a->kind), plumb_xstrdup(a->resource),
					   plumb_xstrdup(a->change.reason ? a->change.reason : ""), object_status(a),
					   action_names[a->type], a->sensitive, plumb_health_name(a->health),
					   plumb_xstrdup(a->health_message ? a->health_message : "") };
		/* An application is as healthy as its worst declared object; what leaves does not count. */
		if (a->object && a->health > worst)
			worst = a->health;
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
	if (worst != PLUMB_HEALTH_NONE)
		d->app->health = plumb_health_name(worst);
	pthread_mutex_unlock(&d->mutex);
	plumb_serve_objects_free(old, old_count);
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
			plumb_serve_object_release(o);
			continue;
		}
		o->status = "Synced";
		o->action = "none";
		plumb_serve_set_text(&o->reason, "");
		a->objects[kept++] = *o;
	}
	a->object_count = kept;
}

/* A watch's thread: an object of a cluster changed; the loop looks soon. */
static void cluster_changed(void *payload)
{
	daemon_state *d = payload;
	pthread_mutex_lock(&d->mutex);
	d->cluster_changed = 1;
	pthread_mutex_unlock(&d->mutex);
	plumb_serve_wake(d);
}

/*
 * The cluster of an application bound for one, kept open between
 * reconciles; closed first when what it is opened with changed (another
 * context or namespace in git, a new kubeconfig).
 */
static plumb_destinations *kept_cluster(daemon_state *d, app_state *a)
{
	char *with = plumb_xprintf("%s|%s|%s|%d", d->options.kubeconfig ? d->options.kubeconfig : "",
				   a->declared.context ? a->declared.context : "",
				   a->declared.namespace ? a->declared.namespace : "", d->options.allow_exec);
	if (!a->cluster_opened_with || strcmp(a->cluster_opened_with, with) != 0) {
		plumb_destinations_release(&a->cluster);
		free(a->cluster_opened_with);
		a->cluster_opened_with = with;
	} else {
		free(with);
	}
	return &a->cluster;
}

static void start_pipeline(plumb_pipeline *p, daemon_state *d, const char *commit, const char *trigger)
{
	plumb_pipeline_options options = { 0 };
	options.repo = d->app->repo ? d->app->repo : d->options.repo;
	options.revision = d->app->repo || d->app->revision ? d->app->revision : d->options.revision;
	options.path = d->app->path;
	options.root = d->app->destination;
	options.application = d->app->name;
	options.render = d->app->declared.render;
	options.keep_unlisted = !d->app->prune;
	options.state = d->options.state;
	options.identity = d->options.identity;
	options.operation = "sync";
	options.trigger = trigger;
	options.capture_max = d->options.capture_max;
	options.kustomize = d->options.kustomize;
	options.helm = d->options.helm;
	options.render_timeout_ms = d->options.render_timeout_ms;
	options.render_output_max = d->options.render_output_max;
	options.allow_chart_fetch = d->options.allow_chart_fetch;
	options.credentials = d->options.credentials ? plumb_credentials_table(d->options.credentials) : NULL;
	options.submodules = d->app->declared.submodules || d->options.submodules;
	options.render_self = d->options.render_self;
	if (d->app->declared.kubernetes) {
		options.kubeconfig = d->options.kubeconfig;
		options.allow_exec = d->options.allow_exec;
		plumb_pipeline_options_cluster(&options, &d->app->declared);
		/*
		 * A look at the commit in force is a drift check: a field someone
		 * changed by hand (kubectl edit takes it over) is taken back, as a
		 * repair must; a new commit's conflicts are reported, not forced.
		 */
		if (*d->app->synced_commit && !strcmp(d->app->synced_commit, commit))
			options.force_conflicts = 1;
		options.kept = kept_cluster(d, d->app);
		options.watch = 1;
		options.changed = cluster_changed;
		options.changed_payload = d;
	}
	plumb_pipeline_init(p, &options);
	p->quiet = 1;
	plumb_pipeline_use_source(p, d->app->source ? d->app->source : d->source, commit);
}

/* Apply p's plan under the state lock and record the outcome in the status and the metrics. */
static int apply_plan(daemon_state *d, plumb_pipeline *p, const char *trigger)
{
	char *progress = NULL;
	size_t size = 0;
	int64_t started = plumb_monotonic_ms();
	FILE *out = open_memstream(&progress, &size);
	plumb_watch_before_writes(d->watch);
	int error = plumb_pipeline_apply(p, out);
	plumb_watch_after_writes(d->watch);
	fclose(out);
	double seconds = (double)(plumb_monotonic_ms() - started) / 1000.0;
	char counts[64];
	snprintf(counts, sizeof(counts), "%u/%u/%u", p->plan.to_create, p->plan.to_update, p->plan.to_delete);

	pthread_mutex_lock(&d->mutex);
	d->app->last_sync_at = (int64_t)time(NULL);
	d->app->sync_seconds_sum += seconds;
	d->app->sync_seconds_count++;
	plumb_serve_set_text(&d->app->last_trigger, trigger);
	if (error == 0) {
		d->app->syncs_succeeded++;
		d->app->last_success_at = d->app->last_sync_at;
		settle_objects(d->app, p->commit);
		memcpy(d->app->synced_commit, p->commit, sizeof(d->app->synced_commit));
		plumb_serve_set_text(&d->app->last_result, "succeeded");
	} else {
		d->app->syncs_failed++;
		plumb_serve_set_text(&d->app->last_result, "failed");
	}
	pthread_mutex_unlock(&d->mutex);
	if (error == 0) {
		/* A cluster's health is its objects': assessed again in a moment, from what the apply left. */
		set_status(d, "Synced", d->app->declared.kubernetes ? NULL : "Healthy", "");
		if (d->app->declared.kubernetes) {
			pthread_mutex_lock(&d->mutex);
			d->cluster_changed = 1;
			pthread_mutex_unlock(&d->mutex);
		}
		plumb_log_event("info", "synced", "app", d->app->name, "commit", p->commit, "trigger", trigger,
				"create/update/delete", counts, NULL);
	} else {
		set_status(d, "OutOfSync", "Degraded", plumb_error_last());
		plumb_log_event("error", "sync failed", "app", d->app->name, "commit", p->commit, "trigger", trigger, "error",
				plumb_error_last(), NULL);
	}
	free(progress);
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
		plumb_log_event("error", "cannot record the plan for approval", "app", d->app->name, "error", plumb_error_last(),
				NULL);
	} else {
		char id[32];
		snprintf(id, sizeof(id), "%lld", (long long)record.id);
		pthread_mutex_lock(&d->mutex);
		d->app->pending_approval = record.id;
		pthread_mutex_unlock(&d->mutex);
		plumb_log_event("info", "plan waits for approval", "app", d->app->name, "commit", p->commit, "approval", id,
				"summary", summary, NULL);
	}
	free(record.plan);
	free(actor);
}

/* Set every application's message (the repository could not be fetched or resolved). */
static void set_all_messages(daemon_state *d, const char *message)
{
	pthread_mutex_lock(&d->mutex);
	for (size_t i = 0; i < d->app_count; i++)
		plumb_serve_set_text(&d->apps[i]->message, message);
	pthread_mutex_unlock(&d->mutex);
}

/* Fetch (or not, for a drift check) and resolve the revision; 0 and commit, or -1 after logging why. */
static int fetch_and_resolve(daemon_state *d, char commit[PLUMB_OID_HEXSZ + 1], int fetch)
{
	if (fetch) {
		plumb_serve_use_credentials(d, d->source);
		plumb_source_set_revision(d->source, d->options.revision);
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
			/* Refused credentials are said once: retrying them changes nothing until they are changed. */
			int refused = plumb_source_refused(d->source);
			if (!refused || !d->refusal_logged)
				plumb_log_event("warn", "fetch failed; keeping the last good revision", "repo",
						plumb_source_name(d->source), "error", plumb_error_last(), "retry_in",
						backoff, NULL);
			d->refusal_logged = refused;
			return -1;
		}
		d->backoff_ms = 0;
		d->refusal_logged = 0;
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
		plumb_log_event("error", "cannot resolve the revision", "error", plumb_error_last(), NULL);
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
		plumb_log_event("warn", "cannot read the commit's subject", "app", a->name, "commit", commit, "error",
				plumb_error_last(), NULL);
	pthread_mutex_lock(&d->mutex);
	memcpy(a->revision_commit, commit, sizeof(a->revision_commit));
	plumb_serve_set_text(&a->commit_subject, subject);
	pthread_mutex_unlock(&d->mutex);
	free(subject);
}

/* A cluster's name ("kubernetes https://SERVER") is known once a plan opened it. */
static void learn_destination(daemon_state *d, const plumb_pipeline *p)
{
	if (!d->app->declared.kubernetes || !strcmp(d->app->destination, p->destination))
		return;
	pthread_mutex_lock(&d->mutex);
	plumb_serve_set_text(&d->app->destination, p->destination);
	pthread_mutex_unlock(&d->mutex);
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
		plumb_serve_set_text(&d->app->errors, p.errors.ptr);
		pthread_mutex_unlock(&d->mutex);
		set_status(d, "Unknown", NULL, "the revision is invalid; nothing was applied");
		/* Once per invalid commit: every poll finds it again. */
		if (strcmp(d->app->invalid_commit, commit) != 0)
			plumb_log_event("error", "invalid revision; keeping the last good one", "app", d->app->name,
					"commit", commit, "errors", p.errors.ptr, NULL);
		memcpy(d->app->invalid_commit, commit, sizeof(d->app->invalid_commit));
		goto done;
	}
	pthread_mutex_lock(&d->mutex);
	plumb_serve_set_text(&d->app->errors, "");
	pthread_mutex_unlock(&d->mutex);
	if (plumb_lock_acquire(&lock, p.state_dir, "plumb serve", 0) < 0) {
		plumb_log_event("warn", "state directory busy; trying again soon", "app", d->app->name, "error",
				plumb_error_last(), NULL);
		goto done;
	}
	if (plumb_pipeline_plan(&p) < 0) {
		set_status(d, "Unknown", "Degraded", p.errors.len ? p.errors.ptr : plumb_error_last());
		plumb_log_event("error", "cannot plan", "app", d->app->name, "error", plumb_error_last(), NULL);
		goto done;
	}
	learn_destination(d, &p);
	set_plan_status(d, &p.plan);
	if (!plumb_plan_has_changes(&p.plan)) {
		/* What changed without needing a change (a controller's write) is taken as plumb's last sight of it. */
		if (plumb_pipeline_settle(&p) < 0)
			plumb_log_event("warn", "cannot record what the plan found", "app", d->app->name, "error",
					plumb_error_last(), NULL);
		pthread_mutex_lock(&d->mutex);
		int first = !*d->app->synced_commit || strcmp(d->app->synced_commit, commit) != 0;
		memcpy(d->app->synced_commit, commit, sizeof(d->app->synced_commit));
		d->app->pending_approval = 0;
		pthread_mutex_unlock(&d->mutex);
		set_status(d, "Synced", d->app->declared.kubernetes ? NULL : "Healthy", "");
		d->app->failed = 0;
		if (first)
			plumb_log_event("info", "in sync", "app", d->app->name, "commit", commit, "trigger", trigger, NULL);
		goto done;
	}
	int drift = *d->app->synced_commit && !strcmp(d->app->synced_commit, commit);
	if (drift) {
		pthread_mutex_lock(&d->mutex);
		d->app->drift_events++;
		pthread_mutex_unlock(&d->mutex);
		plumb_log_event("warn", "drift", "app", d->app->name, "commit", commit, "self_heal",
				d->app->self_heal ? "on" : "off", NULL);
		if (!d->app->self_heal) {
			set_status(d, "OutOfSync", NULL, "the live state drifted from git; selfHeal is off");
			goto done;
		}
	}
	size_t managed = 0;
	if (plumb_pipeline_mass_prune(&p, &managed)) {
		/* What a broken render or a wrong path looks like: a person decides, whatever the autonomy level. */
		char *why = plumb_xprintf("the plan deletes %u of the %zu objects it manages: it waits for approval",
					  p.plan.to_delete, managed);
		ask_approval(d, &p);
		d->app->asked = 1;
		set_status(d, "OutOfSync", NULL, why);
		free(why);
		goto done;
	}
	switch (d->app->approval) {
	case PLUMB_APPROVAL_AUTO:
		d->app->failed = apply_plan(d, &p, drift ? "drift" : trigger) < 0;
		break;
	case PLUMB_APPROVAL_PROMPTED:
		/* The plan is recorded first, so that whoever reads OutOfSync finds the plan waiting. */
		ask_approval(d, &p);
		set_status(d, "OutOfSync", NULL, "a plan waits for approval");
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
	plumb_serve_set_text(&a->path, leaf->path);
	plumb_application_release(&a->declared);
	a->declared = plumb_application_copy(leaf);
	if (leaf->kubernetes) {
		/* Named as the store names it once a plan opened the cluster (learn_destination). */
		if (!a->destination || strncmp(a->destination, "kubernetes ", 11) != 0)
			plumb_serve_set_text(&a->destination, "kubernetes");
	} else {
		free(a->destination);
		a->destination = !*leaf->root		? plumb_xstrdup(d->root)
				 : !strcmp(d->root, "/") ? plumb_xprintf("/%s", leaf->root)
							 : plumb_path_join(d->root, leaf->root);
	}
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
	app_state *first = plumb_serve_app_named(d, implicit);
	int logged = !strcmp(first->invalid_commit, commit);
	for (size_t i = 0; fetched && i < d->app_count; i++)
		note_revision(d, d->apps[i], d->source, commit);
	pthread_mutex_lock(&d->mutex);
	for (size_t i = 0; i < d->app_count; i++) {
		app_state *a = d->apps[i];
		plumb_serve_set_text(&a->errors, text);
		plumb_serve_set_text(&a->message, "the revision is invalid; nothing was applied");
		a->sync_status = "Unknown";
		memcpy(a->invalid_commit, commit, PLUMB_OID_HEXSZ + 1);
	}
	pthread_mutex_unlock(&d->mutex);
	if (!logged)
		plumb_log_event("error", "invalid revision; keeping the last good one", "commit", commit, "errors", text, NULL);
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
	char *bare = NULL;
	if (plumb_source_url_has_password(&bare, repo)) {
		/* Refused before it is kept anywhere: the API and the log show the URL without it. */
		plumb_error_set(PLUMB_EINVALID,
				"the repository %s holds a password in its URL; give it in credentials: in serve.yaml "
				"instead (see docs/repositories.md)",
				bare);
		d->app = a;
		/* Said once: every poll finds it again until the Application changes. */
		pthread_mutex_lock(&d->mutex);
		int said = a->message && !strcmp(a->message, plumb_error_last());
		pthread_mutex_unlock(&d->mutex);
		set_status(d, "Unknown", NULL, plumb_error_last());
		if (!said)
			plumb_log_event("warn", "cannot fetch the application's own repository", "app", a->name, "repo",
					bare, "error", plumb_error_last(), NULL);
		free(bare);
		return -1;
	}
	if (!a->source || strcmp(a->repo ? a->repo : "", repo) != 0) {
		plumb_source_free(a->source);
		a->source = NULL;
		pthread_mutex_lock(&d->mutex);
		plumb_serve_set_text(&a->repo, repo);
		plumb_serve_set_text(&a->revision, leaf->revision);
		pthread_mutex_unlock(&d->mutex);
		char *state = plumb_serve_state_dir(d);
		int error = plumb_source_open_cached(&a->source, repo, state);
		if (error == 0) {
			plumb_render_options render = plumb_serve_render_options(d, state);
			plumb_load_set_render(a->source, &render);
		}
		free(state);
		if (error < 0)
			goto fail;
		fetch = 1;
	}
	if (!fetch && *a->synced_commit) {
		memcpy(commit, a->synced_commit, PLUMB_OID_HEXSZ + 1);
		return 0;
	}
	if (fetch) {
		plumb_serve_use_credentials(d, a->source);
		plumb_source_set_revision(a->source, a->revision);
	}
	if ((fetch && plumb_source_refresh(a->source) < 0) || plumb_source_resolve(commit, a->source, leaf->revision) < 0)
		goto fail;
	a->refusal_logged = 0;
	return 0;
fail:
	d->app = a;
	set_status(d, "Unknown", NULL, plumb_error_last());
	int refused = a->source && plumb_source_refused(a->source);
	if (!refused || !a->refusal_logged)
		plumb_log_event("warn", "cannot fetch the application's own repository; keeping its last good revision",
				"app", a->name, "repo", repo, "error", plumb_error_last(), NULL);
	a->refusal_logged = refused;
	return -1;
}

void plumb_reconcile(daemon_state *d, const char *trigger, int fetch)
{
	char commit[PLUMB_OID_HEXSZ + 1];
	plumb_applications found = { 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	char *implicit = NULL;

	if (fetch_and_resolve(d, commit, fetch) < 0)
		return;
	/* Applications are discovered in the commit, which may name them in a submodule. */
	if (d->options.submodules && plumb_source_fetch_submodules(d->source, commit) < 0) {
		set_all_messages(d, plumb_error_last());
		plumb_log_event("warn", "cannot fetch the submodules; keeping the last good revision", "repo",
				plumb_source_name(d->source), "error", plumb_error_last(), NULL);
		return;
	}
	implicit = plumb_application_name(plumb_source_name(d->source), d->options.path);
	if (plumb_applications_discover(&found, d->source, commit, d->options.path, implicit, NULL, 0,
					&d->options.names, &diags) < 0) {
		mark_invalid(d, commit, &diags, implicit, fetch);
		goto done;
	}
	/* What plumb reads past (an Argo CD field it does not follow) is said once a commit. */
	if (diags.warning_count && strcmp(d->synced_commit, commit) != 0) {
		char *text = NULL;
		size_t size = 0;
		FILE *out = open_memstream(&text, &size);
		plumb_diags_sort(&diags);
		plumb_diags_print_warnings(&diags, out);
		fclose(out);
		plumb_log_event("warn", "the revision has warnings", "commit", commit, "warnings", text, NULL);
		free(text);
	}
	/* What the API lists: marked under the lock it reads them with. */
	pthread_mutex_lock(&d->mutex);
	for (size_t i = 0; i < d->app_count; i++)
		d->apps[i]->present = 0;
	pthread_mutex_unlock(&d->mutex);
	for (size_t i = 0; i < found.count; i++) {
		const plumb_application *leaf = &found.items[i];
		app_state *a = plumb_serve_app_named(d, leaf->name);
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
			app_state *dependency = plumb_serve_app_named(d, leaf->depends_on[k]);
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
	pthread_mutex_lock(&d->mutex);
	memcpy(d->synced_commit, commit, sizeof(commit));
	pthread_mutex_unlock(&d->mutex);
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

/*
 * An approved plan is applied exactly, or superseded as stale and asked
 * for again. Returns 1 when it applied or planned, 0 when there was
 * nothing to do.
 */
static int apply_approved(daemon_state *d)
{
	plumb_approval_records latest = { 0 };
	plumb_plan saved;
	plumb_pipeline p;
	plumb_lock *lock = NULL;
	plumb_buf stale = PLUMB_BUF_INIT;
	char note[64];
	int worked = 0;

	memset(&saved, 0, sizeof(saved));
	if (plumb_store_approval_list(&latest, d->store, d->app->destination, d->app->name, 1) < 0 || !latest.count ||
	    latest.items[0].state != PLUMB_APPROVAL_APPROVED) {
		if (!latest.count || latest.items[0].state != PLUMB_APPROVAL_PENDING)
			d->app->asked = 0; /* decided, or gone: nothing waits */
		/* A rejection through the API was settled when it was made; one made with plumb reject is seen here. */
		if (latest.count && latest.items[0].state == PLUMB_APPROVAL_REJECTED) {
			pthread_mutex_lock(&d->mutex);
			int was_pending = d->app->pending_approval == latest.items[0].id;
			d->app->pending_approval = 0;
			pthread_mutex_unlock(&d->mutex);
			if (was_pending) {
				set_status(d, "OutOfSync", NULL, "the plan was rejected");
				plumb_log_event("info", "plan rejected", "app", d->app->name, "by", latest.items[0].decided_by,
						NULL);
			}
		}
		plumb_approval_records_release(&latest);
		return 0;
	}
	const plumb_approval_record *approval = &latest.items[0];
	snprintf(note, sizeof(note), "%lld", (long long)approval->id);
	if (plumb_planfile_parse(&saved, approval->plan, strlen(approval->plan), "the approved plan") < 0) {
		plumb_store_approval_finish(d->store, approval->id, PLUMB_APPROVAL_SUPERSEDED, plumb_error_last());
		goto out;
	}
	start_pipeline(&p, d, saved.commit, "approval");
	p.options.allow_mass_prune = 1; /* a person approved this very plan */
	if (plumb_pipeline_load(&p) < 0 || plumb_lock_acquire(&lock, p.state_dir, "plumb serve", 0) < 0 ||
	    plumb_pipeline_plan(&p) < 0) {
		plumb_log_event("warn", "cannot apply the approved plan yet", "app", d->app->name, "approval", note, "error",
				plumb_error_last(), NULL);
		goto release;
	}
	if (plumb_planfile_compare(&saved, &p.plan, &stale) > 0) {
		plumb_store_approval_finish(d->store, approval->id, PLUMB_APPROVAL_SUPERSEDED, "stale: the live state moved");
		plumb_log_event("warn", "approved plan went stale; planning again", "app", d->app->name, "approval", note, "why",
				stale.ptr, NULL);
		plumb_lock_release(lock);
		lock = NULL;
		plumb_pipeline_release(&p);
		plumb_buf_release(&stale);
		plumb_plan_release(&saved);
		plumb_approval_records_release(&latest);
		plumb_reconcile(d, "approval", 0);
		return 1;
	}
	int error = apply_plan(d, &p, "approval");
	worked = 1;
	d->app->asked = 0;
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
	return worked;
}

int plumb_reconcile_approved(daemon_state *d)
{
	int worked = 0;
	for (size_t i = 0; i < d->app_count; i++) {
		d->app = d->apps[i];
		/* Prompted applications, and any with a plan waiting (a mass prune waits whatever the level). */
		if (d->app->present && (d->app->approval == PLUMB_APPROVAL_PROMPTED || d->app->asked) &&
		    apply_approved(d))
			worked = 1;
		d->app = NULL;
	}
	return worked;
}
