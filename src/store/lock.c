#include "util/common.h"
#include "util/clock.h"
#include "util/fs.h"
#include "store/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define LOCK_FILE_NAME "lock"

/* The longest purpose recorded: the holder line must fit in the buffer a waiter reads it into. */
#define PURPOSE_MAX 200
#define HOLDER_LINE_MAX 256

/*
 * While waiting, poll often at first (the holder may be about to finish),
 * then every POLL_MAX_MS: a release is noticed within a tenth of a second
 * without a waiter spinning for the minutes a sync can take.
 */
#define POLL_FIRST_MS 10
#define POLL_MAX_MS 100

struct plumb_lock {
	int fd; /* open on STATE/lock, holding the flock; closing it releases the lock */
};

/* Open (creating it 0600) the lock file; an existing one that others can read is tightened. */
static int open_lock_file(int *fd_out, const char *path)
{
	struct stat st;
	int error = 0;
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return plumb_error_set(PLUMB_ERROR, "cannot open lock file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "cannot stat lock file %s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		error = plumb_error_set(PLUMB_ERROR, "lock file %s is not a regular file", path);
		goto done;
	}
	if ((st.st_mode & 0777) != 0600 && fchmod(fd, 0600) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "cannot make lock file %s private (mode 0600): %s", path,
					strerror(errno));
		goto done;
	}
	*fd_out = fd;
	fd = -1;

done:
	if (fd >= 0)
		close(fd);
	return error;
}

/* Sleep about ms milliseconds; a signal may cut it short, which only means an early poll. */
static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { .tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

/* Try once, never blocking: *busy is set when another open file holds the lock. */
static int try_lock(int *busy, int fd, const char *path)
{
	*busy = 0;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK || errno == EINTR) {
		*busy = 1;
		return 0;
	}
	return plumb_error_set(PLUMB_ERROR, "cannot lock %s: %s", path, strerror(errno));
}

/*
 * Find "pid PID: PURPOSE\n" in line. Returns 0 and points *purpose at the
 * purpose (of *purpose_len bytes) inside line, or -1 for anything else: an
 * empty or half-written line (the holder truncates, then writes) included.
 */
static int parse_holder(long *pid, const char **purpose, int *purpose_len, const char *line)
{
	const char *p = line;
	char *end = NULL;

	if (strncmp(p, "pid ", 4) != 0)
		return -1;
	p += 4;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	*pid = strtol(p, &end, 10);
	if (errno || *pid <= 0 || strncmp(end, ": ", 2) != 0)
		return -1;
	*purpose = end + 2;
	const char *newline = strchr(*purpose, '\n');
	if (!newline)
		return -1;
	*purpose_len = (int)(newline - *purpose);
	return 0;
}

/* The PLUMB_ELOCKED error, naming the holder as its line in the lock file (read through fd) says. */
static int locked_error(int fd, const char *state_dir, unsigned timeout_ms)
{
	char line[HOLDER_LINE_MAX + 1];
	char holder[HOLDER_LINE_MAX + 32];
	const char *purpose = NULL;
	int purpose_len = 0;
	long pid = 0;

	ssize_t n = pread(fd, line, HOLDER_LINE_MAX, 0);
	line[n > 0 ? n : 0] = '\0';
	if (parse_holder(&pid, &purpose, &purpose_len, line) < 0)
		snprintf(holder, sizeof(holder), "another process");
	else if (purpose_len == 0)
		snprintf(holder, sizeof(holder), "pid %ld", pid);
	else
		snprintf(holder, sizeof(holder), "pid %ld (%.*s)", pid, purpose_len, purpose);

	if (timeout_ms == 0)
		return plumb_error_set(PLUMB_ELOCKED,
				       "state directory %s is locked by %s; try again later or pass --lock-timeout",
				       state_dir, holder);
	return plumb_error_set(PLUMB_ELOCKED,
			       "state directory %s is still locked by %s after %ums; try again later or pass a longer "
			       "--lock-timeout",
			       state_dir, holder, timeout_ms);
}

/* Take the lock on fd, polling until timeout_ms have passed. */
static int wait_for_lock(int fd, const char *path, const char *state_dir, unsigned timeout_ms)
{
	uint64_t deadline = (uint64_t)plumb_monotonic_ms() + timeout_ms;
	uint64_t interval = POLL_FIRST_MS;
	int busy = 0;
	int error = 0;

	for (;;) {
		if ((error = try_lock(&busy, fd, path)) < 0 || !busy)
			return error;
		uint64_t now = (uint64_t)plumb_monotonic_ms();
		if (now >= deadline)
			break;
		sleep_ms(deadline - now < interval ? deadline - now : interval);
		interval = interval * 2 < POLL_MAX_MS ? interval * 2 : POLL_MAX_MS;
	}
	return locked_error(fd, state_dir, timeout_ms);
}

static int write_all_at(int fd, const char *data, size_t len, off_t offset)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, data, len, offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			errno = EIO;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
		offset += n;
	}
	return 0;
}

/* Replace the content of the (held) lock file with the holder line. */
static int record_holder(int fd, const char *path, const char *purpose)
{
	char clean[PURPOSE_MAX + 1];
	char line[HOLDER_LINE_MAX];
	size_t len = 0;

	/* One line whatever the caller passed: a newline would cut the record a waiter parses. */
	for (; purpose[len] && len < PURPOSE_MAX; len++) {
		unsigned char c = (unsigned char)purpose[len];
		clean[len] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	clean[len] = '\0';
	int line_len = snprintf(line, sizeof(line), "pid %ld: %s\n", (long)getpid(), clean);

	if (ftruncate(fd, 0) < 0 || write_all_at(fd, line, (size_t)line_len, 0) < 0)
		return plumb_error_set(PLUMB_ERROR, "cannot write lock file %s: %s", path, strerror(errno));
	return 0;
}

int plumb_lock_acquire(plumb_lock **out, const char *state_dir, const char *purpose, unsigned timeout_ms)
{
	plumb_lock *lock = NULL;
	char *path = NULL;
	int fd = -1;
	int error = 0;

	*out = NULL;
	if ((error = plumb_fs_make_directories(state_dir, 0700)) < 0)
		goto done;
	path = plumb_xprintf("%s/%s", state_dir, LOCK_FILE_NAME);
	if ((error = open_lock_file(&fd, path)) < 0)
		goto done;
	if ((error = wait_for_lock(fd, path, state_dir, timeout_ms)) < 0)
		goto done;
	/* Only now, holding the lock: before, the line belongs to the holder. On failure, closing fd releases. */
	if ((error = record_holder(fd, path, purpose ? purpose : "")) < 0)
		goto done;

	lock = plumb_xmalloc(sizeof(*lock));
	lock->fd = fd;
	fd = -1;
	*out = lock;

done:
	if (fd >= 0)
		close(fd);
	free(path);
	return error;
}

void plumb_lock_release(plumb_lock *lock)
{
	if (!lock)
		return;
	/*
	 * Empty the line before letting go, so that a waiter turned away later
	 * never names a process that is gone. A failure only leaves a stale
	 * line, which the next holder replaces.
	 */
	if (ftruncate(lock->fd, 0) < 0) {
		/* Nothing to do: see above. */
	}
	close(lock->fd);
	free(lock);
}
