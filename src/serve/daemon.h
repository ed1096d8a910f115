/*
 * daemon.h - plumb serve: the reconciler.
 *
 * The applications that a path declares (its Applications, in order, or
 * the path's implicit application) are kept in sync with git, without
 * anyone at a keyboard; an Application with its own repository or revision
 * is fetched and followed from there:
 *
 *   triggers  the poll timer (interval, jittered by up to a tenth), push
 *             webhooks (verified, coalesced: a burst yields one fetch and
 *             at most one more sync), the API, and drift (a periodic check
 *             and inotify on the directories of managed objects);
 *   policy    each Application's syncPolicy (the implicit application's
 *             comes from the options): prune (delete what git no longer
 *             declares), selfHeal (repair drift; without it drift is only
 *             reported), approval: auto applies, prompted stores the plan
 *             and waits for plumb approve (CLI or API), manual only plans;
 *   failure   git unreachable: the last good revision stays, fetches back
 *             off exponentially (capped), the error shows in status; an
 *             invalid revision: its errors show with positions and nothing
 *             is applied.
 *
 * It serves the JSON API under /api/v1, /healthz, Prometheus /metrics
 * (server.h) and the dashboard at / (web.h), logs one logfmt line per
 * event to stderr, finishes the sync in flight on SIGTERM or SIGINT and
 * exits, and reloads on SIGHUP.
 */
#ifndef PLUMB_DAEMON_H
#define PLUMB_DAEMON_H

#include "serve/options.h"

/*
 * Called on SIGHUP to read the options again (the config file); on error
 * the daemon keeps the options it has and logs why.
 */
typedef int (*plumb_daemon_reload)(plumb_daemon_options *out, void *payload);

/* Run until SIGTERM or SIGINT. Returns 0 after a clean stop, or an error that kept it from starting. */
int plumb_daemon_run(const plumb_daemon_options *options, plumb_daemon_reload reload, void *payload);

#endif
