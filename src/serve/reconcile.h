/*
 * reconcile.h - one round of the daemon: make the live state follow git.
 *
 * A round fetches (unless it only checks drift) and resolves the
 * revision, finds the applications the path declares, and reconciles
 * each in order: load (an unchanged commit is not parsed again), plan,
 * and act as its syncPolicy says: apply, record the plan for approval, or
 * only report. One whose dependency is not synced waits. It logs what
 * happens, and keeps each application's status, plan and metrics in the
 * daemon's state for the API. Both functions run on the loop's thread and
 * report through the state and the log. Around each apply, the watches
 * (watch.h) are told that plumb writes.
 */
#ifndef PLUMB_SERVE_RECONCILE_H
#define PLUMB_SERVE_RECONCILE_H

#include "serve/internal.h"

/*
 * One round. trigger ("poll", "api", "webhook", "drift", ...) is recorded
 * with what it applies; fetch 0 re-applies the commit in force (a drift
 * check) instead of looking at what the revision names now.
 */
void plumb_reconcile(daemon_state *d, const char *trigger, int fetch);

/*
 * Act on the decisions made on the plans that wait (approval: prompted),
 * through the API or the command line: apply an approved plan exactly, or
 * plan again when it went stale; note a rejection. Returns 1 when it
 * applied or planned (the live state may have changed), 0 when there was
 * nothing to do.
 */
int plumb_reconcile_approved(daemon_state *d);

#endif
