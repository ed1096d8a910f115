/*
 * apply.h - carry out a plan, one atomic action at a time, and record it.
 *
 * Before anything changes, every object the plan will create is written to
 * the inventory as created by plumb (and every existing object it starts
 * managing as adopted), so that a crash part-way still leaves plumb knowing
 * what it may prune. Then each action runs in the plan's order; the first
 * failure stops the apply, and the report says what was done and what was
 * not. After each action its inventory row is updated (or removed, for a
 * prune) with the fingerprint of what plumb left there.
 */
#ifndef PLUMB_APPLY_H
#define PLUMB_APPLY_H

#include <stdio.h>

#include "plan.h"
#include "store.h"

typedef struct {
	unsigned created;
	unsigned updated;
	unsigned deleted;
	unsigned not_done; /* actions left undone after a failure (the failed one included) */
	const plumb_action *failed; /* the action that failed, or NULL */
} plumb_apply_report;

/*
 * Apply plan to the live state through ctx, recording in store. progress
 * gets one line per action done (NULL for none). after_crash says the last
 * apply to this destination never finished: temporary files it may have
 * left are looked for beside every object, not only those written now.
 * Returns 0, or the failing action's error (message in the error slot,
 * naming the object).
 */
int plumb_apply(plumb_apply_report *report, const plumb_plan *plan, const plumb_provider_context *ctx,
		plumb_store *store, int after_crash, FILE *progress);

#endif
