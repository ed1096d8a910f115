/*
 * apply.h - carry out a plan, one atomic action at a time, and record it.
 *
 * Before plumb overwrites or removes a live object that is not what it last
 * left there (changed by hand, or never written by plumb), it keeps what is
 * there: the content goes to STATE/drift/ (0600; sensitive content and
 * content over the cap only as a note) and a drift event is recorded. If
 * that cannot be done, the object is not touched and the apply fails.
 *
 * Before anything changes, every object the plan will create is written to
 * the inventory as created by plumb (and every existing object it starts
 * managing as adopted), so that a crash part-way still leaves plumb knowing
 * what it may prune. Then each action runs in the plan's order; the first
 * failure stops the apply, and the report says what was done and what was
 * not. After each action its inventory row is updated (or removed, for a
 * prune) with the fingerprint of what plumb left there.
 *
 * Waves (plumb_provider.wave_of): a wave that changes anything starts only
 * once every declared object of the wave before it, applied or unchanged,
 * is healthy (wait_healthy). Should one be degraded, or the wait time out,
 * the apply stops there, as at a failed action: what was applied stays
 * recorded, and the later waves are recorded SKIPPED. Prunes come after
 * every wave and wait for none; nothing waits for the last wave.
 */
#ifndef PLUMB_APPLY_H
#define PLUMB_APPLY_H

#include <stdio.h>

#include "plan/plan.h"
#include "store/store.h"

typedef struct {
	unsigned created;
	unsigned updated;
	unsigned deleted;
	unsigned not_done; /* actions left undone after a failure (the failed one included) */
	const plumb_action *failed; /* the action that failed, or NULL */
} plumb_apply_report;

typedef struct {
	int64_t sync_id;       /* the sync each action is recorded under */
	int after_crash;       /* the last apply to this destination never finished: look for its
				* temporary files beside every object, not only those written now */
	FILE *progress;        /* one line per action done; NULL for none */
	const char *state_dir; /* drifted content is kept in STATE/drift/ */
	size_t capture_max;    /* content larger than this is noted, not kept */
	unsigned health_timeout_ms; /* how long a wave waits for the one before it; 0: PLUMB_HEALTH_TIMEOUT_MS */
} plumb_apply_options;

/* Content plumb keeps by default before it overwrites a manual change. */
#define PLUMB_CAPTURE_MAX (1u << 20)

/* How long a wave waits by default for the one before it to be healthy: 5 minutes. */
#define PLUMB_HEALTH_TIMEOUT_MS (5u * 60 * 1000)

/*
 * Apply plan to the live state through destinations (the ones it was
 * planned against; each begins its apply first, made if it does not exist
 * yet), recording every action (with its outcome and the fingerprints
 * before and after) and the inventory in store. Progress says each action
 * done, with the object's health when it is not healthy yet, and each wait
 * for a wave. Returns 0, or the failing action's error, or the failed
 * wait's (message in the error slot, naming the objects); the actions left
 * undone are recorded SKIPPED.
 */
int plumb_apply(plumb_apply_report *report, const plumb_plan *plan, plumb_destinations *destinations,
		plumb_store *store, const plumb_apply_options *options);

/*
 * Keep, for each object the plan leaves as it is although it changed since
 * plumb's last action (a controller wrote what plumb does not manage),
 * what the plan observed as what plumb last found there: the next plan
 * then finds it untouched (provider.h, compare). Called by plumb_apply
 * once it succeeded, and after a plan without changes.
 */
int plumb_apply_settle(const plumb_plan *plan, plumb_store *store);

#endif
