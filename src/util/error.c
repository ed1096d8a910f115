#include "util/common.h"

#include <stdarg.h>
#include <stdio.h>

/* Large enough for any message plumb builds; longer ones are truncated. */
static _Thread_local char error_message[2048];

int plumb_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(error_message, sizeof(error_message), fmt, ap);
	va_end(ap);
	return code;
}

int plumb_error_wrap(int code, const char *fmt, ...)
{
	char prefix[1024];
	char previous[sizeof(error_message)];
	va_list ap;

	memcpy(previous, error_message, sizeof(previous));
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	/* Truncation is acceptable: the slot holds the first 2 KiB of the message. */
	size_t len = strnlen(prefix, sizeof(prefix));
	memcpy(error_message, prefix, len);
	if (previous[0]) {
		size_t rest = strnlen(previous, sizeof(previous));
		if (len + 2 + rest >= sizeof(error_message))
			rest = sizeof(error_message) - len - 3;
		memcpy(error_message + len, ": ", 2);
		memcpy(error_message + len + 2, previous, rest);
		len += 2 + rest;
	}
	error_message[len] = '\0';
	return code;
}

const char *plumb_error_last(void)
{
	return error_message;
}

void plumb_error_clear(void)
{
	error_message[0] = '\0';
}
