/*
 * error.h - error codes and the one error slot.
 *
 * Functions that can fail return 0 on success or one of the negative codes
 * below, and leave a human-readable message in a thread-local slot that the
 * caller reads with plumb_error_last() right after the failing call. The
 * message names the object concerned (file, revision, path), never a secret.
 */
#ifndef PLUMB_UTIL_ERROR_H
#define PLUMB_UTIL_ERROR_H

typedef enum {
	PLUMB_OK = 0,
	PLUMB_ERROR = -1,     /* generic failure: I/O, library error */
	PLUMB_ENOTFOUND = -2, /* the named thing does not exist */
	PLUMB_EINVALID = -3,  /* input is malformed or out of bounds */
	PLUMB_ECONFLICT = -4, /* two claims on one thing */
	PLUMB_ELOCKED = -5,   /* someone else holds the lock */
	PLUMB_ESTALE = -6,    /* reality moved since it was observed */
	PLUMB_EUNSAFE = -7,   /* the operation would escape the destination root */
} plumb_error_code;

/* Record a message (printf-style) in the error slot and return code. */
int plumb_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the current message with "prefix: " (printf-style); returns code. */
int plumb_error_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message set on this thread; never NULL ("" if none). */
const char *plumb_error_last(void);

void plumb_error_clear(void);

#endif
