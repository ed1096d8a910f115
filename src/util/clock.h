/*
 * clock.h - time as plumb shows and records it.
 */
#ifndef PLUMB_UTIL_CLOCK_H
#define PLUMB_UTIL_CLOCK_H

#include <stdint.h>

/* Unix seconds as people and JSON read them: "2026-11-21T22:24:41Z" (UTC). */
void plumb_format_time(char out[32], int64_t when);

/* Milliseconds of the monotonic clock: deadlines and intervals, untouched by changes to the time of day. */
int64_t plumb_monotonic_ms(void);

#endif
