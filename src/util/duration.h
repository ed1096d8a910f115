/*
 * duration.h - durations given on the command line or in configuration.
 *
 * A duration is a whole number with an optional unit: "500ms", "30s", "5m",
 * "1h"; a bare number means seconds, as in "--lock-timeout 30". Nothing else
 * is accepted: no sign, no spaces, no fractions, no combined units ("1h30m").
 */
#ifndef PLUMB_UTIL_DURATION_H
#define PLUMB_UTIL_DURATION_H

/*
 * Parse text into milliseconds. PLUMB_EINVALID, with a message naming the
 * text, when it is not a duration or exceeds UINT_MAX milliseconds (about
 * 49 days); *out_ms is left untouched then.
 */
int plumb_duration_parse(unsigned *out_ms, const char *text);

/*
 * ms as it would be written, in the largest unit that holds it whole:
 * "5m", "90s", "1500ms", "2h", "0s". Parsing it gives ms back.
 */
void plumb_duration_format(char out[32], unsigned ms);

#endif
