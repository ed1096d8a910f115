#include "util/common.h"
#include "util/duration.h"

#include <limits.h>
#include <stdio.h>

static const struct {
	const char *suffix;
	uint64_t ms;
} units[] = {
	{ "", 1000 }, /* a bare number means seconds */
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60 * 1000 },
	{ "h", 60 * 60 * 1000 },
};

int plumb_duration_parse(unsigned *out_ms, const char *text)
{
	const char *p = text;
	uint64_t value = 0;

	/* Digits by hand: strtoul would take leading spaces, a sign and "0x". */
	if (*p < '0' || *p > '9')
		goto invalid;
	for (; *p >= '0' && *p <= '9'; p++) {
		/* Saturate just above the limit, so that a long run of digits cannot wrap around. */
		if (value <= UINT_MAX)
			value = value * 10 + (uint64_t)(*p - '0');
	}
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(units); i++) {
		if (strcmp(p, units[i].suffix) != 0)
			continue;
		if (value > UINT_MAX / units[i].ms)
			return plumb_error_set(PLUMB_EINVALID, "duration \"%s\" is too long: at most %ums (49 days)",
					       text, UINT_MAX);
		*out_ms = (unsigned)(value * units[i].ms);
		return 0;
	}

invalid:
	return plumb_error_set(PLUMB_EINVALID,
			       "invalid duration \"%s\": expected a whole number with an optional unit ms, s, m or h "
			       "(e.g. 500ms, 30s, 5m; a bare number means seconds)",
			       text);
}

void plumb_duration_format(char out[32], unsigned ms)
{
	/* From the largest unit down; the bare number (seconds) is never written. */
	for (size_t i = PLUMB_ARRAY_SIZE(units); i-- > 1;) {
		if (ms % units[i].ms == 0) {
			snprintf(out, 32, "%llu%s", (unsigned long long)(ms / units[i].ms), ms ? units[i].suffix : "s");
			return;
		}
	}
}
