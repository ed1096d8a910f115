#include "util/common.h"
#include "util/clock.h"

#include <time.h>

void plumb_format_time(char out[32], int64_t when)
{
	time_t t = (time_t)when;
	struct tm tm;
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
}

int64_t plumb_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
