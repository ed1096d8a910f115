/*
 * log.h - the daemon's log: one logfmt line per event on stderr, as
 * journald and log shippers read it:
 *
 *   time=2026-11-21T23:21:53Z level=info msg=synced app=web commit=2ceb6fd9...
 *
 * A value with a space, a quote, an equals sign, a backslash or a newline
 * (or an empty one) is quoted, its quotes and backslashes escaped and its
 * newlines made spaces, so that one event is always one line.
 */
#ifndef PLUMB_SERVE_LOG_H
#define PLUMB_SERVE_LOG_H

/*
 * plumb_log_event(level, msg, key, value, ..., NULL): level is "info",
 * "warn" or "error"; a NULL value is logged as "". Safe from any thread:
 * the line goes out in one call, which holds the stream's lock.
 */
void plumb_log_event(const char *level, const char *msg, ...) __attribute__((sentinel));

#endif
