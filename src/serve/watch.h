/*
 * watch.h - inotify on the directories of managed objects: a manual edit
 * there wakes the daemon's loop, which checks for drift a moment later
 * instead of at the next periodic check.
 *
 * The watches follow what is managed: after every round the loop hands
 * the set the applications and the store's inventory, and it is updated
 * in place. A directory that stays managed keeps its watch, and the events
 * it queued meanwhile, so an edit made while a round ran is seen; plumb's
 * own writes are dropped around each apply (plumb_watch_before_writes and
 * plumb_watch_after_writes). Watches are best effort, up to
 * PLUMB_WATCH_MAX directories: the periodic check covers what they miss.
 *
 * Everything here runs on the loop's thread.
 */
#ifndef PLUMB_SERVE_WATCH_H
#define PLUMB_SERVE_WATCH_H

#include "serve/internal.h"

/* Directories watched, at most. */
#define PLUMB_WATCH_MAX 8192

typedef struct plumb_watch plumb_watch;

/* A set watching nothing yet (never NULL; free with plumb_watch_free). */
plumb_watch *plumb_watch_new(void);

void plumb_watch_free(plumb_watch *watch);

/* The descriptor to poll for events, or -1 while inotify cannot be had. */
int plumb_watch_fd(const plumb_watch *watch);

/*
 * Watch exactly the directories that hold what the store's inventory
 * lists for each of d's applications, and the managed directories
 * themselves: the watches of directories no longer managed go. Costs one
 * inotify_add_watch per distinct directory. Returns how many directories
 * are watched now that were not before: what changed in them before their
 * watch was set went unseen, so the caller should look at them soon.
 */
unsigned plumb_watch_update(plumb_watch *watch, daemon_state *d);

/*
 * Around plumb's own writes (an apply): before, keep whether the events
 * queued so far show a change (someone else's); after, drop the events
 * queued since (plumb's).
 */
void plumb_watch_before_writes(plumb_watch *watch);
void plumb_watch_after_writes(plumb_watch *watch);

/*
 * Read the events queued: 1 when one shows a change under a watched
 * directory, or one kept by plumb_watch_before_writes did; then 0 until
 * the next.
 */
int plumb_watch_changed(plumb_watch *watch);

#endif
