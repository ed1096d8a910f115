#include "util/common.h"
#include "util/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

char plumb_buf_empty[1];

void plumb_buf_init(plumb_buf *buf)
{
	buf->ptr = plumb_buf_empty;
	buf->len = 0;
	buf->capacity = 0;
}

void plumb_buf_release(plumb_buf *buf)
{
	if (buf->capacity)
		free(buf->ptr);
	plumb_buf_init(buf);
}

void plumb_buf_wipe(plumb_buf *buf)
{
	if (buf->capacity)
		explicit_bzero(buf->ptr, buf->capacity);
	plumb_buf_release(buf);
}

char *plumb_buf_detach(plumb_buf *buf, size_t *len_out)
{
	char *p = buf->capacity ? buf->ptr : plumb_xstrdup("");
	if (len_out)
		*len_out = buf->len;
	plumb_buf_init(buf);
	return p;
}

void plumb_buf_clear(plumb_buf *buf)
{
	plumb_buf_truncate(buf, 0);
}

void plumb_buf_grow(plumb_buf *buf, size_t extra)
{
	size_t need = buf->len + extra + 1;
	if (need <= buf->capacity)
		return;
	size_t capacity = buf->capacity ? buf->capacity : 64;
	while (capacity < need)
		capacity *= 2;
	if (buf->capacity) {
		buf->ptr = plumb_xrealloc(buf->ptr, capacity);
	} else {
		buf->ptr = plumb_xmalloc(capacity);
		buf->ptr[0] = '\0';
	}
	buf->capacity = capacity;
}

void plumb_buf_add(plumb_buf *buf, const void *data, size_t len)
{
	if (!len)
		return;
	plumb_buf_grow(buf, len);
	memcpy(buf->ptr + buf->len, data, len);
	buf->len += len;
	buf->ptr[buf->len] = '\0';
}

void plumb_buf_puts(plumb_buf *buf, const char *s)
{
	plumb_buf_add(buf, s, strlen(s));
}

void plumb_buf_putc(plumb_buf *buf, char c)
{
	plumb_buf_add(buf, &c, 1);
}

void plumb_buf_vprintf(plumb_buf *buf, const char *fmt, va_list ap)
{
	va_list copy;
	va_copy(copy, ap);
	int n = vsnprintf(NULL, 0, fmt, copy);
	va_end(copy);
	if (n <= 0)
		return;
	plumb_buf_grow(buf, (size_t)n);
	vsnprintf(buf->ptr + buf->len, (size_t)n + 1, fmt, ap);
	buf->len += (size_t)n;
}

void plumb_buf_printf(plumb_buf *buf, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	plumb_buf_vprintf(buf, fmt, ap);
	va_end(ap);
}

void plumb_buf_truncate(plumb_buf *buf, size_t len)
{
	if (len >= buf->len)
		return;
	buf->len = len;
	buf->ptr[len] = '\0';
}

int plumb_buf_read_fd(plumb_buf *buf, int fd, size_t max)
{
	size_t start = buf->len;
	for (;;) {
		plumb_buf_grow(buf, 8192);
		ssize_t n = read(fd, buf->ptr + buf->len, buf->capacity - buf->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			plumb_buf_truncate(buf, start);
			return plumb_error_set(PLUMB_ERROR, "read failed: %s", strerror(errno));
		}
		if (n == 0)
			break;
		buf->len += (size_t)n;
		buf->ptr[buf->len] = '\0';
		if (buf->len - start > max) {
			plumb_buf_truncate(buf, start);
			return plumb_error_set(PLUMB_EINVALID, "input larger than %zu bytes", max);
		}
	}
	return 0;
}
