/*
 * watch.h - inotify on the directories of managed objects: a manual edit
 * there wakes the daemon's loop, which checks for drift a moment later
 * instead of at the next periodic check.
 */
#ifndef PLUMB_SERVE_WATCH_H
#define PLUMB_SERVE_WATCH_H

#include "serve/internal.h"

/*
 * Watch the directories that hold what the store's inventory lists for
 * each of d's applications (and the managed directories themselves), on
 * d->inotify_fd, which is made anew: that also drops the events plumb's
 * own writes caused. d->inotify_fd is -1 when inotify cannot be had; the
 * watches are best effort, up to a limit, and the periodic check covers
 * what they miss. The loop's thread.
 */
void plumb_watch_managed(daemon_state *d);

#endif
