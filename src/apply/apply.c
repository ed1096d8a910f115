#include "util/common.h"
#include "apply/apply.h"
#include "util/duration.h"
#include "util/fs.h"
#include "util/fs_batch.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void fill_entry(plumb_inventory_entry *entry, const plumb_plan *plan, const plumb_action *action,
		       const char *fingerprint)
{
	memset(entry, 0, sizeof(*entry));
	entry->destination = plan->destination;
	entry->key = action->key;
	entry->application = plan->application;
	entry->provider = (char *)action->provider->name;
	entry->kind = action->kind;
	entry->resource = action->resource;
	entry->created = action->created;
	entry->fingerprint = (char *)fingerprint;
	entry->commit = plan->commit;
	entry->updated_at = (int64_t)time(NULL);
}

/* Record intent: every object the plan declares gets its row before anything live changes. */
static int record_intent(const plumb_plan *plan, plumb_store *store)
{
	int error = plumb_store_begin(store);
	if (error < 0)
		return error;
	for (size_t i = 0; i < plan->count && error == 0; i++) {
		const plumb_action *action = &plan->actions[i];
		plumb_inventory_entry entry;
		if (action->forget || action->in_inventory)
			continue;
		fill_entry(&entry, plan, action, action->type == PLUMB_ACTION_NONE ? action->fingerprint : "");
		error = plumb_store_inventory_put(store, &entry);
	}
	if (error < 0) {
		plumb_store_rollback(store);
		return error;
	}
	return plumb_store_commit(store);
}

/* How an object just written is doing, when it is not healthy yet: "Progressing: 0 of 2 replicas are updated". */
static char *health_note(const plumb_provider *provider, const plumb_observed *observed)
{
	char *message = NULL, *note = NULL;
	plumb_health health = provider->health(observed, &message);
	if (health != PLUMB_HEALTH_NONE && health != PLUMB_HEALTH_HEALTHY)
		note = message && *message ? plumb_xprintf("%s: %s", plumb_health_name(health), message)
					   : plumb_xstrdup(plumb_health_name(health));
	free(message);
	return note;
}

/*
 * After an action: what plumb left there (its fingerprint into *after, a
 * new string), or no inventory row at all. What a create or update wrote
 * is known without reading it back (observe_applied); how it is doing goes
 * to *health (a new string, NULL when it is healthy or has no health).
 */
static int record_result(char **after, char **health, const plumb_plan *plan, const plumb_action *action,
			 plumb_destination *destination, plumb_store *store)
{
	int sensitive = action->object ? action->object->sensitive : action->sensitive;
	plumb_observation item = { action->object, action->key, action->kind, sensitive || action->sensitive, { 0 } };
	plumb_inventory_entry entry;
	int error;

	int wrote = (action->type == PLUMB_ACTION_CREATE || action->type == PLUMB_ACTION_UPDATE) && action->object;
	if (wrote && action->provider->observe_applied)
		error = action->provider->observe_applied(&item.observed, destination, action->object);
	else
		error = action->provider->observe(destination, &item, 1);
	if (error < 0) {
		plumb_observed_release(action->provider, &item.observed);
		return error;
	}
	/* Stored keyed as the object is now: one that stopped being sensitive is shown again from here on. */
	*after = plumb_plan_fingerprint(plan, item.observed.fingerprint, sensitive);
	if (wrote && action->provider->health)
		*health = health_note(action->provider, &item.observed);
	plumb_observed_release(action->provider, &item.observed);
	/*
	 * A deleted object that is still there (a Kubernetes object waiting for
	 * its finalizers) keeps its row until it is gone: plumb still answers
	 * for it, and the next plan deletes it again.
	 */
	int lingers = action->type == PLUMB_ACTION_DELETE && action->provider->removals_linger &&
		      strcmp(*after, "absent") != 0;
	if (action->forget && !lingers)
		return plumb_store_inventory_delete(store, plan->destination, action->key);
	fill_entry(&entry, plan, action, *after);
	return plumb_store_inventory_put(store, &entry);
}

int plumb_apply_settle(const plumb_plan *plan, plumb_store *store)
{
	int error = 0, begun = 0;
	for (size_t i = 0; i < plan->count && error == 0; i++) {
		const plumb_action *action = &plan->actions[i];
		plumb_inventory_entry entry;
		if (action->type != PLUMB_ACTION_NONE || !action->object || !action->in_inventory || action->forget ||
		    !action->expected || !action->fingerprint || !strcmp(action->expected, action->fingerprint) ||
		    !strcmp(action->fingerprint, "absent"))
			continue;
		if (!begun && (error = plumb_store_begin(store)) < 0)
			return error;
		begun = 1;
		fill_entry(&entry, plan, action, action->fingerprint);
		error = plumb_store_inventory_put(store, &entry);
	}
	if (!begun)
		return error;
	if (error < 0) {
		plumb_store_rollback(store);
		return error;
	}
	return plumb_store_commit(store);
}

static const char *const action_names[] = { "none", "create", "update", "delete" };

/* One row of the action log; its failure is the apply's failure (an unrecorded change is not allowed). */
static int log_action(plumb_store *store, int64_t sync_id, const plumb_action *action, plumb_outcome outcome,
		      const char *after, const char *error_text)
{
	plumb_action_record record = { 0 };
	record.sync_id = sync_id;
	record.key = action->key;
	record.kind = action->kind;
	record.resource = action->resource;
	record.action = (char *)action_names[action->type];
	record.reason = action->change.reason ? action->change.reason : "";
	record.before = action->fingerprint ? action->fingerprint : "";
	record.after = (char *)(after ? after : "");
	record.outcome = outcome;
	record.error = (char *)(error_text ? error_text : "");
	return plumb_store_action_add(store, &record);
}

static const char *verb(plumb_action_type type)
{
	switch (type) {
	case PLUMB_ACTION_CREATE:
		return "created";
	case PLUMB_ACTION_UPDATE:
		return "updated";
	case PLUMB_ACTION_DELETE:
		return "deleted";
	default:
		return "unchanged";
	}
}

static int run_action(const plumb_action *action, plumb_destination *destination)
{
	switch (action->type) {
	case PLUMB_ACTION_CREATE:
	case PLUMB_ACTION_UPDATE:
		return action->provider->apply(destination, action->object, &action->change);
	case PLUMB_ACTION_DELETE:
		/* A declared object that must be absent, or a prune of what plumb created. */
		if (action->object)
			return action->provider->apply(destination, action->object, &action->change);
		return action->provider->remove(destination, action->key, action->kind);
	default:
		return 0;
	}
}

/*
 * Stage a captured object's content as STATE/drift/NAME (0600) in captures,
 * the batch of STATE/drift, opened (and made) on first use: it is made
 * durable (commit_captures) before the object is overwritten or removed.
 */
static int stage_capture(plumb_fs_batch **captures, const char *state_dir, const char *name, const plumb_buf *content)
{
	if (!*captures) {
		char *dir = plumb_xprintf("%s/drift", state_dir);
		int dir_fd = -1;
		int error = plumb_fs_make_directories(dir, 0700);
		if (error == 0 && (error = plumb_fs_open_root(&dir_fd, dir, 0)) == 0) {
			/* Left by an apply that was killed before its captures were committed. */
			plumb_fs_remove_stale_temporaries(dir_fd, "");
			*captures = plumb_fs_batch_new(dir_fd);
		}
		free(dir);
		if (error < 0)
			return error;
	}
	return plumb_fs_batch_write(*captures, name, content->ptr, content->len, 0600, (uid_t)-1, (gid_t)-1);
}

/* Drift found since the captures were last committed, to be recorded once they are (record_drift). */
typedef struct {
	struct {
		plumb_drift_record record; /* capture and note owned; the other strings borrowed from the plan */
		const char *display;       /* the object, for messages */
	} *items;
	size_t count;
	size_t capacity;
} drift_found;

static void drift_found_clear(drift_found *found)
{
	for (size_t i = 0; i < found->count; i++) {
		free(found->items[i].record.capture);
		free(found->items[i].record.note);
	}
	found->count = 0;
}

/*
 * Record the drift found, in one transaction: a thousand drifted files
 * cost one commit of the store, not a thousand. Nothing is overwritten
 * unless this succeeds.
 */
static int record_drift(plumb_store *store, drift_found *found)
{
	int error = 0;
	if (!found->count)
		return 0;
	if ((error = plumb_store_begin(store)) < 0)
		return plumb_error_wrap(error, "cannot record the drift of %s; it was left as it is",
					found->items[0].display);
	for (size_t i = 0; i < found->count && error == 0; i++) {
		if ((error = plumb_store_drift_add(store, &found->items[i].record)) < 0)
			error = plumb_error_wrap(error, "cannot record the drift of %s; it was left as it is",
						 found->items[i].display);
	}
	if (error == 0 && (error = plumb_store_commit(store)) < 0)
		error = plumb_error_wrap(error, "cannot record the drift of %s; it was left as it is",
					 found->items[0].display);
	if (error < 0)
		plumb_store_rollback(store);
	return error;
}

/*
 * plumb is about to overwrite or remove what it did not leave there: keep
 * it first (staged in *captures) and note the drift in found. Both are
 * committed before the object changes (commit_captures): the content made
 * durable, then the drift recorded. index makes the capture's name unique
 * within the sync. Should plumb be killed in between, a capture stays that
 * no record names, but the object was not changed either: the next sync
 * keeps it again.
 */
static int keep_drift(plumb_fs_batch **captures, drift_found *found, const plumb_plan *plan,
		      const plumb_action *action, size_t index, plumb_destination *destination,
		      const plumb_apply_options *options)
{
	plumb_drift_record record = { 0 };
	plumb_buf content = PLUMB_BUF_INIT, note = PLUMB_BUF_INIT;
	char *name = NULL;
	int has_content = 0, error = 0;

	if (action->type != PLUMB_ACTION_UPDATE && action->type != PLUMB_ACTION_DELETE)
		return 0;
	if (!action->fingerprint || !strcmp(action->fingerprint, "absent"))
		return 0;
	if (action->expected && !strcmp(action->expected, action->fingerprint))
		return 0;

	plumb_buf_puts(&note, action->expected && *action->expected ? "changed since plumb last applied it"
								     : "plumb never wrote it");
	if (action->change.reason)
		plumb_buf_printf(&note, " (%s)", action->change.reason);
	if (action->sensitive) {
		plumb_buf_puts(&note, "; sensitive: content not kept");
	} else {
		error = action->provider->capture(&content, &has_content, destination, action->key, action->kind,
						  options->capture_max);
		if (error == PLUMB_EINVALID) {
			plumb_buf_printf(&note, "; larger than %zu bytes: content not kept", options->capture_max);
			has_content = 0;
			error = 0;
		} else if (error < 0) {
			error = plumb_error_wrap(error, "cannot keep the drifted content of %s", action->display);
			goto done;
		}
	}
	if (has_content) {
		name = plumb_xprintf("%lld-%zu", (long long)options->sync_id, index);
		if ((error = stage_capture(captures, options->state_dir, name, &content)) < 0) {
			error = plumb_error_wrap(error, "cannot keep the drifted content of %s; it was left as it is",
						 action->display);
			goto done;
		}
	}
	record.sync_id = options->sync_id;
	record.destination = plan->destination;
	record.application = plan->application;
	record.key = action->key;
	record.kind = action->kind;
	record.commit = plan->commit;
	record.expected = action->expected ? action->expected : "";
	record.observed = action->fingerprint;
	record.capture = name ? plumb_xprintf("drift/%s", name) : plumb_xstrdup("");
	record.capture_size = has_content ? (int64_t)content.len : 0;
	record.sensitive = action->sensitive;
	record.note = plumb_buf_detach(&note, NULL);
	PLUMB_GROW(found->items, found->count, found->capacity);
	found->items[found->count].record = record;
	found->items[found->count++].display = action->display;
done:
	free(name);
	plumb_buf_release(&content);
	plumb_buf_release(&note);
	return error;
}

/*
 * Every destination the plan goes to begins its apply: made when it does
 * not exist yet, and cleared of what an interrupted apply may have left
 * beside the objects this plan writes (after a crash: beside every object
 * it touches).
 */
static int begin_destinations(const plumb_plan *plan, plumb_destinations *destinations, int after_crash)
{
	const char **keys = plumb_xcalloc(plan->count ? plan->count : 1, sizeof(*keys));
	int error = 0;
	for (size_t d = 0; d < destinations->count && error == 0; d++) {
		const plumb_provider *provider = destinations->opened[d].provider;
		size_t count = 0;
		for (size_t i = 0; i < plan->count; i++) {
			const plumb_action *action = &plan->actions[i];
			int writes = action->type == PLUMB_ACTION_CREATE || action->type == PLUMB_ACTION_UPDATE;
			if (action->provider == provider && (writes || after_crash))
				keys[count++] = action->key;
		}
		error = provider->begin_apply(destinations->opened[d].destination, keys, count);
	}
	free(keys);
	return error;
}

/* An action run since the staged writes were last committed: recorded in the plan's order once they are. */
typedef struct {
	size_t index;
	int staged; /* its write waits among its destination's staged writes */
} pending_action;

/* What an apply has in hand: the plan, where it goes, and the actions run but not yet recorded. */
typedef struct {
	plumb_apply_report *report;
	const plumb_plan *plan;
	plumb_destinations *destinations;
	plumb_store *store;
	const plumb_apply_options *options;
	plumb_fs_batch *captures; /* drifted content kept, beneath STATE/drift; NULL until needed */
	drift_found found;        /* the drift those captures were taken for */
	pending_action *pending;
	size_t pending_count;
	size_t pending_capacity;
	size_t next; /* the first action not run yet */
	size_t wave_first; /* the first action of the wave being applied */
	size_t writes_end; /* one past the last declared object's action that changes something */
} apply_run;

static void log_undone(apply_run *run, size_t index, plumb_outcome outcome, const char *after, const char *text)
{
	const plumb_action *action = &run->plan->actions[index];
	run->report->not_done += action->type != PLUMB_ACTION_NONE;
	log_action(run->store, run->options->sync_id, action, outcome, after, text);
}

/*
 * Action failed (its error in the slot): log it FAILED, and SKIPPED every
 * action from run->next on (never run). Returns error, its message kept.
 */
static int fail_at(apply_run *run, size_t failed, const char *after, int error)
{
	/* Keep the message: recording the failure must not replace it. */
	char *message = plumb_xstrdup(plumb_error_last());
	run->report->failed = &run->plan->actions[failed];
	log_undone(run, failed, PLUMB_OUTCOME_FAILED, after, message);
	for (size_t j = run->next; j < run->plan->count; j++) {
		const plumb_action *undone = &run->plan->actions[j];
		if (j != failed && (undone->type != PLUMB_ACTION_NONE || undone->forget))
			log_undone(run, j, PLUMB_OUTCOME_SKIPPED, NULL, "not done: an earlier action failed");
	}
	run->next = run->plan->count;
	plumb_error_set(error, "%s", message);
	free(message);
	return error;
}

/* An action carried out (kept: a pruned directory that stays): record what plumb left, log it, count it. */
static int finish(apply_run *run, size_t index, int kept)
{
	const plumb_action *action = &run->plan->actions[index];
	FILE *progress = run->options->progress;
	char *after = NULL, *health = NULL, *kept_why = NULL;
	int error;

	if (kept)
		kept_why = plumb_xstrdup(plumb_error_last());
	plumb_destination *destination;
	if ((error = plumb_destinations_get(&destination, run->destinations, action->provider)) == 0)
		error = record_result(&after, &health, run->plan, action, destination, run->store);
	/* Said even when it cannot be recorded: it was done. */
	if (kept && progress)
		fprintf(progress, "kept %s %s: %s\n", action->kind, action->display, kept_why);
	else if (progress && action->type != PLUMB_ACTION_NONE)
		fprintf(progress, "%s %s %s%s%s%s\n", verb(action->type), action->kind, action->display,
			health ? " (" : "", health ? health : "", health ? ")" : "");
	free(kept_why);
	free(health);
	if (error < 0) {
		error = fail_at(run, index, after, error);
		free(after);
		return error;
	}
	plumb_outcome outcome = kept ? PLUMB_OUTCOME_SKIPPED
			       : action->type == PLUMB_ACTION_NONE ? PLUMB_OUTCOME_NOOP
								   : PLUMB_OUTCOME_CHANGED;
	error = log_action(run->store, run->options->sync_id, action, outcome, after, kept ? "kept: not empty" : NULL);
	free(after);
	if (error < 0)
		return plumb_error_wrap(error, "cannot record the action on %s", action->display);
	run->report->created += action->type == PLUMB_ACTION_CREATE;
	run->report->updated += action->type == PLUMB_ACTION_UPDATE;
	run->report->deleted += action->type == PLUMB_ACTION_DELETE && !kept;
	return 0;
}

/*
 * Make the drifted content kept so far durable, then record the drift it
 * was kept for: both must be done before what it was taken from changes.
 * When either fails, what was found is dropped (the objects stay as they
 * are, and the next sync finds them again).
 */
static int commit_captures(apply_run *run)
{
	size_t done;
	int error = 0;
	if (run->captures && plumb_fs_batch_count(run->captures) &&
	    (error = plumb_fs_batch_commit(run->captures, &done)) < 0)
		error = plumb_error_wrap(error, "cannot keep the drifted content; nothing was overwritten");
	if (error == 0)
		error = record_drift(run->store, &run->found);
	drift_found_clear(&run->found);
	return error;
}

/*
 * Commit each destination's staged writes, in order; *done[d] says how
 * many of destination d's were carried out. At the first that fails, the
 * destinations after it drop theirs. Returns that failure.
 */
static int commit_destinations(plumb_destinations *destinations, size_t *done)
{
	int error = 0;
	for (size_t d = 0; d < destinations->count; d++) {
		const plumb_provider *provider = destinations->opened[d].provider;
		plumb_destination *destination = destinations->opened[d].destination;
		done[d] = 0;
		if (error < 0)
			provider->discard(destination);
		else
			error = provider->commit(destination, &done[d]);
	}
	return error;
}

static size_t destination_index(const plumb_destinations *destinations, const plumb_provider *provider)
{
	size_t d = 0;
	while (d < destinations->count && destinations->opened[d].provider != provider)
		d++;
	return d;
}

/*
 * Commit the staged writes (one flush for all of them), then record every
 * pending action in the plan's order, in one transaction of the store. A
 * write that cannot be put in place fails its action; the staged writes
 * after it were taken back and are skipped, as is everything not run yet.
 */
static int commit_pending(apply_run *run)
{
	plumb_destinations *destinations = run->destinations;
	size_t *done = plumb_xcalloc(destinations->count + 1, sizeof(*done));
	size_t *staged = plumb_xcalloc(destinations->count + 1, sizeof(*staged));
	int error = 0, commit_error, failed_write = 0;
	char *message = NULL;

	if (!run->pending_count)
		goto done;
	if ((commit_error = commit_captures(run)) < 0) {
		for (size_t d = 0; d < destinations->count; d++)
			destinations->opened[d].provider->discard(destinations->opened[d].destination);
	} else {
		commit_error = commit_destinations(destinations, done);
	}
	if (commit_error < 0)
		message = plumb_xstrdup(plumb_error_last());
	/*
	 * Recording thousands of actions in one transaction costs one commit, not
	 * thousands. Nothing changes the live objects while they are recorded.
	 */
	int in_transaction = plumb_store_begin(run->store) == 0;
	for (size_t i = 0; i < run->pending_count; i++) {
		const pending_action *p = &run->pending[i];
		size_t d = destination_index(destinations, run->plan->actions[p->index].provider);
		if (error < 0) {
			log_undone(run, p->index, PLUMB_OUTCOME_SKIPPED, NULL, "not recorded: an earlier action failed");
		} else if (!p->staged || staged[d]++ < done[d]) {
			error = finish(run, p->index, 0);
		} else if (!failed_write) {
			failed_write = 1; /* the write that could not be put in place */
			run->report->failed = &run->plan->actions[p->index];
			log_undone(run, p->index, PLUMB_OUTCOME_FAILED, NULL, message);
		} else {
			log_undone(run, p->index, PLUMB_OUTCOME_SKIPPED, NULL, "not done: an earlier write failed");
		}
	}
	run->pending_count = 0;
	if (error == 0 && commit_error < 0) {
		for (size_t j = run->next; j < run->plan->count; j++) {
			const plumb_action *undone = &run->plan->actions[j];
			if (undone->type != PLUMB_ACTION_NONE || undone->forget)
				log_undone(run, j, PLUMB_OUTCOME_SKIPPED, NULL, "not done: an earlier action failed");
		}
		run->next = run->plan->count;
		error = plumb_error_set(commit_error, "%s", message);
	}
	/* Kept even after a failure: what was applied, and the failure itself, are true. */
	if (in_transaction && plumb_store_commit(run->store) < 0) {
		plumb_store_rollback(run->store);
		error = plumb_error_wrap(PLUMB_ERROR, "cannot record the actions applied");
	}
done:
	free(message);
	free(done);
	free(staged);
	return error;
}

static void add_pending(apply_run *run, size_t index, int staged)
{
	PLUMB_GROW(run->pending, run->pending_count, run->pending_capacity);
	run->pending[run->pending_count].index = index;
	run->pending[run->pending_count++].staged = staged;
}

/* Whether action b, right after a in the plan, starts a later wave of their provider's (wave_of). */
static int starts_wave(const plumb_action *a, const plumb_action *b)
{
	if (!a->object || !b->object || a->provider != b->provider || !b->provider->wave_of)
		return 0;
	char *wave_a = b->provider->wave_of(a->object), *wave_b = b->provider->wave_of(b->object);
	int starts = wave_a && wave_b && strcmp(wave_a, wave_b) != 0;
	free(wave_a);
	free(wave_b);
	return starts;
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/*
 * The wave of actions [first, end) is done, and the one of end is next:
 * wait for every declared object of the former to be healthy. What ran
 * is recorded first. When the wait fails, the apply stops at end: that
 * action and every one after it are recorded SKIPPED.
 */
static int wait_for_wave(apply_run *run, size_t first, size_t end)
{
	const plumb_action *next = &run->plan->actions[end];
	const plumb_provider *provider = next->provider;
	unsigned timeout_ms = run->options->health_timeout_ms ? run->options->health_timeout_ms : PLUMB_HEALTH_TIMEOUT_MS;
	FILE *progress = run->options->progress;
	const plumb_object **objects = plumb_xcalloc(end - first, sizeof(*objects));
	char *wave = provider->wave_of(run->plan->actions[end - 1].object), *next_wave = provider->wave_of(next->object);
	plumb_destination *destination;
	size_t count = 0;
	char limit[32];
	struct timespec start;
	int error;

	if ((error = commit_pending(run)) < 0)
		goto done;
	for (size_t i = first; i < end; i++) {
		const plumb_action *action = &run->plan->actions[i];
		if (action->object && action->provider == provider && action->type != PLUMB_ACTION_DELETE)
			objects[count++] = action->object;
	}
	if (!count || !provider->wait_healthy)
		goto done;
	if ((error = plumb_destinations_get(&destination, run->destinations, provider)) < 0)
		goto done;
	plumb_duration_format(limit, timeout_ms);
	if (progress) {
		fprintf(progress, "waiting for %s to be healthy (%zu object%s, up to %s)\n", wave, count,
			count == 1 ? "" : "s", limit);
		fflush(progress);
	}
	clock_gettime(CLOCK_MONOTONIC, &start);
	if ((error = provider->wait_healthy(destination, objects, count, timeout_ms)) < 0) {
		plumb_error_wrap(error, "%s did not become healthy, so %s and what follows were not applied", wave,
				 next_wave);
		char *message = plumb_xstrdup(plumb_error_last());
		for (size_t j = end; j < run->plan->count; j++) {
			const plumb_action *undone = &run->plan->actions[j];
			if (undone->type != PLUMB_ACTION_NONE || undone->forget)
				log_undone(run, j, PLUMB_OUTCOME_SKIPPED, NULL,
					   "not done: an earlier wave did not become healthy");
		}
		run->next = run->plan->count;
		plumb_error_set(error, "%s", message);
		free(message);
		goto done;
	}
	if (progress)
		fprintf(progress, "%s is healthy (%.1fs)\n", wave, seconds_since(&start));
done:
	free(objects);
	free(wave);
	free(next_wave);
	return error;
}

/* How many writes destination holds staged, and whether as many as should wait for one commit. */
static size_t staged_writes(plumb_destination *destination, const plumb_provider *provider, int *full)
{
	*full = 0;
	return provider->staged ? provider->staged(destination, full) : 0;
}

int plumb_apply(plumb_apply_report *report, const plumb_plan *plan, plumb_destinations *destinations,
		plumb_store *store, const plumb_apply_options *options)
{
	apply_run run = { report, plan, destinations, store, options, NULL, { NULL, 0, 0 }, NULL, 0, 0, 0, 0, 0 };
	int error;

	memset(report, 0, sizeof(*report));
	if ((error = record_intent(plan, store)) < 0)
		return plumb_error_wrap(error, "cannot record the inventory before applying");
	for (size_t i = 0; i < plan->count && error == 0; i++) {
		plumb_destination *destination;
		error = plumb_destinations_get(&destination, destinations, plan->actions[i].provider);
	}
	if (error == 0)
		error = begin_destinations(plan, destinations, options->after_crash);
	for (size_t i = 0; i < plan->count; i++) {
		if (plan->actions[i].object && plan->actions[i].type != PLUMB_ACTION_NONE)
			run.writes_end = i + 1;
	}

	while (error == 0 && run.next < plan->count) {
		size_t i = run.next++;
		const plumb_action *action = &plan->actions[i];
		int writes = action->type == PLUMB_ACTION_CREATE || action->type == PLUMB_ACTION_UPDATE;
		/* A wave that changes something waits for the one before it; nothing waits for the last. */
		if (i > 0 && starts_wave(&plan->actions[i - 1], action)) {
			size_t first = run.wave_first;
			run.wave_first = i;
			if (i < run.writes_end && (error = wait_for_wave(&run, first, i)) < 0)
				break;
		}
		if (action->type == PLUMB_ACTION_NONE && !action->forget)
			continue;
		plumb_destination *destination;
		if ((error = plumb_destinations_get(&destination, destinations, action->provider)) < 0)
			break;
		/* A removal may concern what a staged write goes into: those are committed first. */
		if (!writes && (error = commit_pending(&run)) < 0)
			break;
		int full;
		size_t staged_before = staged_writes(destination, action->provider, &full);
		error = keep_drift(&run.captures, &run.found, plan, action, i, destination, options);
		/* What changes the live object at once needs what was kept of it durable first. */
		int staged = writes && action->object && action->provider->stages && action->provider->stages(action->object);
		if (error == 0 && !staged)
			error = commit_captures(&run);
		if (error == 0)
			error = run_action(action, destination);
		if (error < 0) {
			int kept = error == PLUMB_ECONFLICT && action->type == PLUMB_ACTION_DELETE && !action->object;
			/* What ran before this action is done: it is recorded before the failure is. */
			char *message = plumb_xstrdup(plumb_error_last());
			run.next = i; /* should the commit fail, this action is among those skipped */
			int commit_error = commit_pending(&run);
			plumb_error_set(error, "%s", message);
			free(message);
			if (commit_error < 0) {
				error = commit_error;
			} else if (kept) {
				/* A pruned directory that still holds what plumb did not create stays, unmanaged. */
				run.next = i + 1;
				error = finish(&run, i, 1);
			} else {
				run.next = i + 1;
				error = fail_at(&run, i, NULL, error);
			}
			continue;
		}
		add_pending(&run, i, staged_writes(destination, action->provider, &full) > staged_before);
		if (!writes || full)
			error = commit_pending(&run);
	}
	if (error == 0)
		error = commit_pending(&run);
	if (error == 0)
		error = plumb_apply_settle(plan, store);
	/* Whatever is still staged (an apply that failed) is taken back. */
	for (size_t d = 0; d < destinations->count; d++)
		destinations->opened[d].provider->discard(destinations->opened[d].destination);
	if (run.captures) {
		int drift_fd = plumb_fs_batch_root(run.captures);
		plumb_fs_batch_free(run.captures);
		close(drift_fd);
	}
	/* Drift found for an action that failed before its captures were committed: that object was not changed. */
	drift_found_clear(&run.found);
	free(run.found.items);
	free(run.pending);
	return error;
}
