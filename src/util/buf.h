/*
 * buf.h - the one growable string buffer.
 *
 * A plumb_buf is never NULL-pointed and always NUL-terminated, so ptr can
 * be handed to any C string function at any time; it may also hold binary
 * data (len counts the bytes, the NUL is extra). Initialise with
 * PLUMB_BUF_INIT; release with plumb_buf_release; take ownership of the
 * bytes with plumb_buf_detach.
 */
#ifndef PLUMB_UTIL_BUF_H
#define PLUMB_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
	char *ptr;
	size_t len;
	size_t capacity; /* 0 while ptr points at the shared empty string */
} plumb_buf;

extern char plumb_buf_empty[];
#define PLUMB_BUF_INIT { plumb_buf_empty, 0, 0 }

void plumb_buf_init(plumb_buf *buf);
void plumb_buf_release(plumb_buf *buf);
/* Overwrite every byte buf ever held with zeros, then release it: for secret values. */
void plumb_buf_wipe(plumb_buf *buf);
/* Hand the bytes to the caller (free() them); buf is left empty. */
char *plumb_buf_detach(plumb_buf *buf, size_t *len_out);
void plumb_buf_clear(plumb_buf *buf);
void plumb_buf_grow(plumb_buf *buf, size_t extra);
void plumb_buf_add(plumb_buf *buf, const void *data, size_t len);
void plumb_buf_puts(plumb_buf *buf, const char *s);
void plumb_buf_putc(plumb_buf *buf, char c);
void plumb_buf_printf(plumb_buf *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void plumb_buf_vprintf(plumb_buf *buf, const char *fmt, va_list ap);
void plumb_buf_truncate(plumb_buf *buf, size_t len);

/*
 * Read fd to its end, appending to buf. Fails with PLUMB_EINVALID, buf
 * unchanged in length, when more than max bytes arrive: input from outside
 * is always capped.
 */
int plumb_buf_read_fd(plumb_buf *buf, int fd, size_t max);

#endif
