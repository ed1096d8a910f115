#include "util/common.h"
#include "apply.h"
#include "util/fs.h"
#include "util/path.h"

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

/*
 * After an action: what plumb left there (its fingerprint into *after, a
 * new string), or no inventory row at all.
 */
static int record_result(char **after, const plumb_plan *plan, const plumb_action *action,
			 const plumb_provider_context *ctx, plumb_store *store)
{
	plumb_observed observed = { 0 };
	plumb_inventory_entry entry;
	int error;

	if ((error = action->provider->observe(&observed, ctx, action->key, action->kind)) < 0)
		return error;
	/* Stored keyed as the object is now: one that stopped being sensitive is shown again from here on. */
	*after = plumb_plan_fingerprint(plan, observed.fingerprint,
					action->object ? action->object->sensitive : action->sensitive);
	plumb_observed_release(action->provider, &observed);
	if (action->forget)
		return plumb_store_inventory_delete(store, plan->destination, action->key);
	fill_entry(&entry, plan, action, *after);
	return plumb_store_inventory_put(store, &entry);
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

static int run_action(const plumb_action *action, const plumb_provider_context *ctx)
{
	switch (action->type) {
	case PLUMB_ACTION_CREATE:
	case PLUMB_ACTION_UPDATE:
		return action->provider->apply(ctx, action->object, &action->change);
	case PLUMB_ACTION_DELETE:
		/* A declared object that must be absent, or a prune of what plumb created. */
		if (action->object)
			return action->provider->apply(ctx, action->object, &action->change);
		return action->provider->remove(ctx, action->key, action->kind);
	default:
		return 0;
	}
}

/* Write a captured object's content to STATE/drift/NAME, 0600, durably. */
static int write_capture(const char *state_dir, const char *name, const plumb_buf *content)
{
	char *dir = plumb_xprintf("%s/drift", state_dir);
	int dir_fd = -1;
	int error = plumb_fs_make_directories(dir, 0700);
	if (error == 0)
		error = plumb_fs_open_root(&dir_fd, dir, 0);
	if (error == 0)
		error = plumb_fs_write_file(dir_fd, name, content->ptr, content->len, 0600, (uid_t)-1, (gid_t)-1);
	if (dir_fd >= 0)
		close(dir_fd);
	free(dir);
	return error;
}

/*
 * plumb is about to overwrite or remove what it did not leave there: keep
 * it first, and record the drift. index makes the capture's name unique
 * within the sync.
 */
static int keep_drift(const plumb_plan *plan, const plumb_action *action, size_t index,
		      const plumb_provider_context *ctx, plumb_store *store, const plumb_apply_options *options)
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
		error = action->provider->capture(&content, &has_content, ctx, action->key, action->kind,
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
		if ((error = write_capture(options->state_dir, name, &content)) < 0) {
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
	record.note = note.ptr;
	error = plumb_store_drift_add(store, &record);
	free(record.capture);
	if (error < 0)
		error = plumb_error_wrap(error, "cannot record the drift of %s; it was left as it is", action->display);
done:
	free(name);
	plumb_buf_release(&content);
	plumb_buf_release(&note);
	return error;
}

/*
 * An interrupted apply can leave a temporary file next to a file it was
 * writing. Clear them from every directory this plan writes into, and,
 * after a crash (everywhere), from every directory the plan touches.
 */
static void remove_stale_temporaries(const plumb_plan *plan, const plumb_provider_context *ctx, int after_crash)
{
	char *previous = NULL;
	for (size_t i = 0; i < plan->count; i++) {
		const plumb_action *action = &plan->actions[i];
		int writes = action->type == PLUMB_ACTION_CREATE || action->type == PLUMB_ACTION_UPDATE;
		if (!writes && !after_crash)
			continue;
		char *dir = plumb_path_dirname(action->key);
		/* Actions come parents first, so one directory's objects are mostly adjacent. */
		if (!previous || strcmp(previous, dir) != 0)
			plumb_fs_remove_stale_temporaries(ctx->root_fd, dir);
		free(previous);
		previous = dir;
	}
	free(previous);
}

int plumb_apply(plumb_apply_report *report, const plumb_plan *plan, const plumb_provider_context *ctx,
		plumb_store *store, const plumb_apply_options *options)
{
	FILE *progress = options->progress;
	int error;

	memset(report, 0, sizeof(*report));
	if ((error = record_intent(plan, store)) < 0)
		return plumb_error_wrap(error, "cannot record the inventory before applying");
	remove_stale_temporaries(plan, ctx, options->after_crash);

	for (size_t i = 0; i < plan->count; i++) {
		const plumb_action *action = &plan->actions[i];
		char *after = NULL;
		int kept = 0;
		if (action->type == PLUMB_ACTION_NONE && !action->forget)
			continue;
		error = keep_drift(plan, action, i, ctx, store, options);
		if (error == 0)
			error = run_action(action, ctx);
		if (error == PLUMB_ECONFLICT && action->type == PLUMB_ACTION_DELETE && !action->object) {
			/* A pruned directory that still holds what plumb did not create stays, unmanaged. */
			if (progress)
				fprintf(progress, "kept %s %s: %s\n", action->kind, action->display, plumb_error_last());
			kept = 1;
			error = 0;
		} else if (error == 0 && progress && action->type != PLUMB_ACTION_NONE) {
			fprintf(progress, "%s %s %s\n", verb(action->type), action->kind, action->display);
		}
		if (error == 0)
			error = record_result(&after, plan, action, ctx, store);
		if (error < 0) {
			/* Keep the message: recording the failure must not replace it. */
			char *message = plumb_xstrdup(plumb_error_last());
			report->failed = action;
			log_action(store, options->sync_id, action, PLUMB_OUTCOME_FAILED, after, message);
			for (size_t j = i; j < plan->count; j++) {
				const plumb_action *undone = &plan->actions[j];
				if (undone->type == PLUMB_ACTION_NONE && !undone->forget)
					continue;
				report->not_done += undone->type != PLUMB_ACTION_NONE;
				if (j > i)
					log_action(store, options->sync_id, undone, PLUMB_OUTCOME_SKIPPED, NULL,
						   "not done: an earlier action failed");
			}
			plumb_error_set(error, "%s", message);
			free(message);
			free(after);
			return error;
		}
		plumb_outcome outcome = kept ? PLUMB_OUTCOME_SKIPPED
				       : action->type == PLUMB_ACTION_NONE ? PLUMB_OUTCOME_NOOP
									   : PLUMB_OUTCOME_CHANGED;
		error = log_action(store, options->sync_id, action, outcome, after, kept ? "kept: not empty" : NULL);
		free(after);
		if (error < 0)
			return plumb_error_wrap(error, "cannot record the action on %s", action->display);
		report->created += action->type == PLUMB_ACTION_CREATE;
		report->updated += action->type == PLUMB_ACTION_UPDATE;
		report->deleted += action->type == PLUMB_ACTION_DELETE && !kept;
	}
	return 0;
}
