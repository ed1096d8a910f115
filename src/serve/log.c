#include "util/common.h"
#include "serve/log.h"
#include "util/buf.h"
#include "util/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static void log_value(plumb_buf *line, const char *key, const char *value)
{
	int quote = !*value || strpbrk(value, " \t\"=\\\n") != NULL;
	plumb_buf_printf(line, " %s=", key);
	if (!quote) {
		plumb_buf_puts(line, value);
		return;
	}
	plumb_buf_putc(line, '"');
	for (const char *p = value; *p; p++) {
		if (*p == '"' || *p == '\\')
			plumb_buf_putc(line, '\\');
		plumb_buf_putc(line, *p == '\n' ? ' ' : *p);
	}
	plumb_buf_putc(line, '"');
}

void plumb_log_event(const char *level, const char *msg, ...)
{
	plumb_buf line = PLUMB_BUF_INIT;
	char when[32];
	va_list ap;

	plumb_format_time(when, (int64_t)time(NULL));
	plumb_buf_printf(&line, "time=%s level=%s", when, level);
	log_value(&line, "msg", msg);
	va_start(ap, msg);
	for (;;) {
		const char *key = va_arg(ap, const char *);
		if (!key)
			break;
		const char *value = va_arg(ap, const char *);
		log_value(&line, key, value ? value : "");
	}
	va_end(ap);
	plumb_buf_putc(&line, '\n');
	fputs(line.ptr, stderr);
	fflush(stderr);
	plumb_buf_release(&line);
}
