/*
 * process.h - run a program and read what it prints, with a deadline.
 *
 * The program is started from argv directly (no shell, so nothing in an
 * argument is ever interpreted), with standard input from /dev/null, in a
 * process group of its own so that a deadline kills it and everything it
 * started.
 */
#ifndef PLUMB_UTIL_PROCESS_H
#define PLUMB_UTIL_PROCESS_H

#include <stddef.h>

#include "util/buf.h"

typedef struct {
	int exited;      /* it exited (else it was killed by a signal) */
	int status;      /* its exit code, or the signal that killed it */
	int timed_out;   /* plumb killed it at the deadline */
	int overflowed;  /* it printed more than the cap on standard output; killed */
	plumb_buf error; /* the start of what it printed on standard error, at most PLUMB_PROCESS_ERROR_MAX bytes */
} plumb_process_result;

#define PLUMB_PROCESS_ERROR_MAX 4096

/*
 * Run argv (argv[0] looked up in PATH; NULL-terminated) and append its
 * standard output to out, at most output_max bytes. Waits at most
 * timeout_ms for it to exit. Returns 0 once it has ended (however it ended:
 * see result, initialised by this call, released by the caller), or
 * PLUMB_ERROR when it could not be started, with a message naming argv[0].
 */
int plumb_process_run(plumb_process_result *result, plumb_buf *out, char *const argv[], unsigned timeout_ms,
		      size_t output_max);

/*
 * The same, with envp ("NAME=value" strings, NULL-terminated) as the
 * program's whole environment; NULL is plumb's own. argv[0] is still looked
 * up in plumb's PATH.
 */
int plumb_process_run_env(plumb_process_result *result, plumb_buf *out, char *const argv[], char *const envp[],
			  unsigned timeout_ms, size_t output_max);

void plumb_process_result_release(plumb_process_result *result);

/*
 * The path program runs from: itself when it names a path (holds a "/"),
 * else the first executable file of that name in plumb's PATH, as
 * posix_spawnp finds it. A new string, or NULL when there is none: for a
 * program handed to another that runs without PATH.
 */
char *plumb_process_find(const char *program);

#endif
