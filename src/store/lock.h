/*
 * lock.h - one apply at a time per state directory.
 *
 * Every command that changes a destination or the store holds the exclusive
 * lock of its state directory (STATE/lock) while it runs. The lock is a
 * flock(2) on that file, which the kernel drops when the holder closes it
 * or dies, SIGKILL included: a crashed plumb never leaves a stale lock, and
 * there is nothing to clean up by hand. The file itself is never removed:
 * removing it would let two processes lock two different files of one name.
 *
 * While held, the file holds one line naming the holder, "pid 1234: plumb
 * sync", so that a process turned away can say who is in its way. The line
 * is informational: the lock is the flock, never the content.
 *
 * The lock is not reentrant: a second acquire in the same process fails as
 * it would in another. The descriptor is close-on-exec, so a command plumb
 * runs never inherits it; a child that plumb forks without exec shares it
 * until the child exits.
 */
#ifndef PLUMB_LOCK_H
#define PLUMB_LOCK_H

#include "util/common.h"

typedef struct plumb_lock plumb_lock;

/*
 * Take the exclusive lock of state_dir (the file STATE/lock, created 0600,
 * the directory and its missing parents 0700 if missing; an existing lock
 * file others can read is made 0600). purpose says what the holder is doing,
 * e.g. "plumb sync"; control characters in it are written as spaces.
 *
 * timeout_ms 0: fail at once if another process holds the lock; otherwise
 * wait up to timeout_ms, polling (never blocking in the kernel, so never
 * longer than asked).
 *
 * On success *out is the held lock, which the caller releases with
 * plumb_lock_release, and the file holds "pid PID: PURPOSE", one line.
 * Fails with PLUMB_ELOCKED and a message naming the state directory and the
 * holder's pid and purpose ("another process" when the line cannot be read,
 * as while a new holder is writing it), e.g. "state directory /var/lib/plumb
 * is locked by pid 1234 (plumb sync); try again later or pass --lock-timeout",
 * or PLUMB_ERROR when the directory or the lock file cannot be created,
 * locked or written. *out is NULL on failure.
 */
int plumb_lock_acquire(plumb_lock **out, const char *state_dir, const char *purpose, unsigned timeout_ms);

/* Empty the holder line, release the lock and free lock. NULL-safe. */
void plumb_lock_release(plumb_lock *lock);

#endif
