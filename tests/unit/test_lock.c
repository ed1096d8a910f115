#include "util/common.h"
#include "store/lock.h"
#include "util/duration.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The other processes in these tests are this program run again (fork, then
 * exec of /proc/self/exe with "--child"), as another plumb would be: they
 * share nothing with the parent but what survives exec, so a lock descriptor
 * that were not close-on-exec would show up as a lock that is never released.
 */

static char temp_root[] = "/tmp/plumb-test-lock-XXXXXX";

/*
 * How long the parent waits for a line from a child before calling it hung: only a child that
 * hangs waits this long, however slow or busy the machine. The upper bounds on how long an
 * acquire took are below it, and only tell a wait that ends from one that does not; what the
 * lock promises is checked by the lower bounds.
 */
#define CHILD_REPLY_MS 60000
/* How long a holding child waits to be told to let go, so that a failed test cannot leave it behind. */
#define CHILD_HOLD_MS 120000

static char *state_path(const char *name)
{
	return plumb_xprintf("%s/%s", temp_root, name);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

/* The content of a small file ("(unreadable)" if it cannot be read), as a new string. */
static char *read_text(const char *path)
{
	char data[1024];
	FILE *f = fopen(path, "r");
	if (!f)
		return plumb_xstrdup("(unreadable)");
	size_t n = fread(data, 1, sizeof(data) - 1, f);
	fclose(f);
	data[n] = '\0';
	return plumb_xstrdup(data);
}

static int write_text(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(content, f);
	return fclose(f);
}

static int contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle)) {
		fprintf(stderr, "  \"%s\" does not contain \"%s\"\n", haystack, needle);
		return 0;
	}
	return 1;
}

/* ---- the child side ---- */

/* One result line: "RC ELAPSED_MS MESSAGE". */
static void report(int rc, long long elapsed)
{
	dprintf(STDOUT_FILENO, "%d %lld %s\n", rc, elapsed, rc ? plumb_error_last() : "");
}

/*
 * --child acquire STATE PURPOSE TIMEOUT_MS: say "started", try to take the
 * lock, report, release.
 * --child hold STATE PURPOSE: take the lock at once, report, and hold it
 * until stdin closes (or CHILD_HOLD_MS pass), then release.
 */
static int child_main(int argc, char **argv)
{
	plumb_lock *lock = NULL;
	long long start = now_ms();

	if (argc == 6 && strcmp(argv[2], "acquire") == 0) {
		dprintf(STDOUT_FILENO, "started\n");
		int rc = plumb_lock_acquire(&lock, argv[3], argv[4], (unsigned)strtoul(argv[5], NULL, 10));
		report(rc, now_ms() - start);
		plumb_lock_release(lock);
		return 0;
	}
	if (argc == 5 && strcmp(argv[2], "hold") == 0) {
		int rc = plumb_lock_acquire(&lock, argv[3], argv[4], 0);
		report(rc, now_ms() - start);
		if (rc == 0) {
			char c;
			struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
			if (poll(&pfd, 1, CHILD_HOLD_MS) > 0 && read(STDIN_FILENO, &c, 1) < 0)
				perror("read");
		}
		plumb_lock_release(lock);
		return 0;
	}
	fprintf(stderr, "usage: test_lock --child acquire STATE PURPOSE TIMEOUT_MS | hold STATE PURPOSE\n");
	return 2;
}

/* ---- the parent side ---- */

typedef struct {
	pid_t pid;
	int to_child;   /* the child's stdin; closing it tells a holder to let go */
	int from_child; /* the child's stdout */
} child_process;

static int child_start(child_process *child, const char *mode, const char *state, const char *purpose,
		       const char *timeout /* NULL for hold */)
{
	int in[2], out[2];

	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		char *argv[] = { "test_lock", "--child", (char *)mode, (char *)state, (char *)purpose, (char *)timeout,
				 NULL };
		/* dup2 clears close-on-exec on the copies, and only on them. */
		if (dup2(in[0], STDIN_FILENO) < 0 || dup2(out[1], STDOUT_FILENO) < 0)
			_exit(126);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return -1;
	}
	child->pid = pid;
	child->to_child = in[1];
	child->from_child = out[0];
	return 0;
}

/* Read one line (without its newline) from the child, waiting at most CHILD_REPLY_MS; -1 on EOF or timeout. */
static int child_read_line(child_process *child, char *line, size_t size)
{
	size_t len = 0;
	long long deadline = now_ms() + CHILD_REPLY_MS;

	while (len + 1 < size) {
		struct pollfd pfd = { .fd = child->from_child, .events = POLLIN };
		long long left = deadline - now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		char c;
		if (read(child->from_child, &c, 1) != 1)
			break;
		if (c == '\n') {
			line[len] = '\0';
			return 0;
		}
		line[len++] = c;
	}
	line[len] = '\0';
	fprintf(stderr, "  no line from child %ld (got \"%s\")\n", (long)child->pid, line);
	return -1;
}

/* Read a result line: 0 when one came, with rc, elapsed and message filled in. */
static int child_read_result(child_process *child, int *rc, long long *elapsed, char *message, size_t size)
{
	char line[4096];
	int offset = 0;

	*rc = 1;
	*elapsed = -1;
	message[0] = '\0';
	if (child_read_line(child, line, sizeof(line)) < 0)
		return -1;
	if (sscanf(line, "%d %lld %n", rc, elapsed, &offset) != 2)
		return -1;
	snprintf(message, size, "%s", line + offset);
	return 0;
}

/* Tell the child to finish, wait for it, and return its wait status. */
static int child_finish(child_process *child)
{
	int status = -1;

	close(child->to_child);
	close(child->from_child);
	while (waitpid(child->pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

static int exited_cleanly(int status)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ---- tests ---- */

static void test_acquire_release_reacquire(void)
{
	char *state = state_path("basic/state");
	char *parent = state_path("basic");
	char *lock_path = plumb_xprintf("%s/lock", state);
	char *expected = NULL;
	char *content = NULL;
	plumb_lock *lock = NULL, *again = NULL;

	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb test", 0), 0);
	CHECK(lock != NULL);
	CHECK_INT(mode_of(parent), 0700);
	CHECK_INT(mode_of(state), 0700);
	expected = plumb_xprintf("pid %ld: plumb test\n", (long)getpid());
	content = read_text(lock_path);
	CHECK_STR(content, expected);
	free(content);
	free(expected);

	/* Not reentrant: a second acquire in this process is turned away, naming this process. */
	again = (plumb_lock *)1;
	CHECK_INT(plumb_lock_acquire(&again, state, "plumb other", 0), PLUMB_ELOCKED);
	CHECK(again == NULL);
	expected = plumb_xprintf("pid %ld (plumb test)", (long)getpid());
	CHECK(contains(plumb_error_last(), expected));
	free(expected);

	plumb_lock_release(lock);
	lock = NULL;
	content = read_text(lock_path);
	CHECK_STR(content, "");
	free(content);

	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb apply", 0), 0);
	CHECK(lock != NULL);
	expected = plumb_xprintf("pid %ld: plumb apply\n", (long)getpid());
	content = read_text(lock_path);
	CHECK_STR(content, expected);
	free(content);
	free(expected);
	plumb_lock_release(lock);

	plumb_lock_release(NULL);
	free(lock_path);
	free(parent);
	free(state);
}

static void test_lock_file_is_private(void)
{
	char *state = state_path("private");
	char *lock_path = plumb_xprintf("%s/lock", state);
	plumb_lock *lock = NULL;

	/* Under umask 022 (set in main) a file created 0644 would show here. */
	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb test", 0), 0);
	CHECK_INT(mode_of(lock_path), 0600);
	plumb_lock_release(lock);
	lock = NULL;

	/* An existing lock file that others can read is tightened. */
	CHECK_INT(chmod(lock_path, 0644), 0);
	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb test", 0), 0);
	CHECK_INT(mode_of(lock_path), 0600);
	plumb_lock_release(lock);

	free(lock_path);
	free(state);
}

static void test_purpose_is_one_line(void)
{
	char *state = state_path("purpose");
	char *lock_path = plumb_xprintf("%s/lock", state);
	char *expected = plumb_xprintf("pid %ld: plumb sync\tnow\n", (long)getpid());
	plumb_lock *lock = NULL;

	expected[strlen(expected) - 5] = ' ';
	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb sync\nnow", 0), 0);
	char *content = read_text(lock_path);
	CHECK_STR(content, expected);
	free(content);
	plumb_lock_release(lock);

	free(expected);
	free(lock_path);
	free(state);
}

static void test_busy_fails_at_once(void)
{
	char *state = state_path("busy");
	char *expected = NULL;
	char line[64], message[4096];
	plumb_lock *lock = NULL;
	child_process child;
	long long elapsed = -1;
	int rc = 1;

	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb sync", 0), 0);
	CHECK_INT(child_start(&child, "acquire", state, "plumb apply", "0"), 0);
	CHECK_INT(child_read_line(&child, line, sizeof(line)), 0);
	CHECK_STR(line, "started");
	CHECK_INT(child_read_result(&child, &rc, &elapsed, message, sizeof(message)), 0);
	CHECK_INT(rc, PLUMB_ELOCKED);
	expected = plumb_xprintf("state directory %s is locked by pid %ld (plumb sync); try again later or pass "
				 "--lock-timeout",
				 state, (long)getpid());
	CHECK_STR(message, expected);
	/* At once: it did not wait for the lock (that would last until the parent lets go, after this). */
	CHECK(elapsed >= 0 && elapsed < 20000);
	CHECK(exited_cleanly(child_finish(&child)));

	plumb_lock_release(lock);
	free(expected);
	free(state);
}

static void test_waits_until_released(void)
{
	char *state = state_path("wait");
	char line[64], message[4096];
	plumb_lock *lock = NULL;
	child_process child;
	long long elapsed = -1;
	int rc = 1;

	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb sync", 0), 0);
	CHECK_INT(child_start(&child, "acquire", state, "plumb apply", "50000"), 0);
	CHECK_INT(child_read_line(&child, line, sizeof(line)), 0);
	CHECK_STR(line, "started");
	/* The child took its start time before it said "started": it waits at least this long. */
	sleep_ms(300);
	plumb_lock_release(lock);
	CHECK_INT(child_read_result(&child, &rc, &elapsed, message, sizeof(message)), 0);
	CHECK_INT(rc, 0);
	CHECK_STR(message, "");
	CHECK(elapsed >= 300);
	CHECK(elapsed < 30000); /* well before its own timeout: it saw the release */
	CHECK(exited_cleanly(child_finish(&child)));

	free(state);
}

static void test_times_out(void)
{
	char *state = state_path("timeout");
	char *expected = NULL;
	char line[64], message[4096];
	plumb_lock *lock = NULL;
	child_process child;
	long long elapsed = -1;
	int rc = 1;

	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb sync", 0), 0);
	CHECK_INT(child_start(&child, "acquire", state, "plumb apply", "300"), 0);
	CHECK_INT(child_read_line(&child, line, sizeof(line)), 0);
	CHECK_STR(line, "started");
	CHECK_INT(child_read_result(&child, &rc, &elapsed, message, sizeof(message)), 0);
	CHECK_INT(rc, PLUMB_ELOCKED);
	expected = plumb_xprintf("state directory %s is still locked by pid %ld (plumb sync) after 300ms", state,
				 (long)getpid());
	CHECK(contains(message, expected));
	/* It waited the timeout (the clock counts whole milliseconds), and then gave up. */
	CHECK(elapsed >= 299);
	CHECK(elapsed < 30000);
	CHECK(exited_cleanly(child_finish(&child)));

	plumb_lock_release(lock);
	free(expected);
	free(state);
}

static void test_killed_holder_releases(void)
{
	char *state = state_path("killed");
	char *expected = NULL;
	char message[4096];
	plumb_lock *lock = NULL;
	child_process child;
	long long elapsed = -1;
	int rc = 1;

	CHECK_INT(child_start(&child, "hold", state, "plumb hold", NULL), 0);
	CHECK_INT(child_read_result(&child, &rc, &elapsed, message, sizeof(message)), 0);
	CHECK_INT(rc, 0);

	/* The child holds it: this process is turned away, and told who holds it. */
	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb sync", 0), PLUMB_ELOCKED);
	expected = plumb_xprintf("pid %ld (plumb hold)", (long)child.pid);
	CHECK(contains(plumb_error_last(), expected));
	plumb_lock_release(lock);
	lock = NULL;

	CHECK_INT(kill(child.pid, SIGKILL), 0);
	int status = child_finish(&child);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	/* No release ran, no file was removed: the kernel dropped the lock with the process. */
	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb sync", 0), 0);
	CHECK(lock != NULL);
	plumb_lock_release(lock);

	free(expected);
	free(state);
}

static void test_unreadable_holder_line(void)
{
	char *state = state_path("unreadable");
	char *lock_path = plumb_xprintf("%s/lock", state);
	char message[4096];
	plumb_lock *lock = NULL;
	child_process child;
	long long elapsed = -1;
	int rc = 1;

	CHECK_INT(child_start(&child, "hold", state, "plumb hold", NULL), 0);
	CHECK_INT(child_read_result(&child, &rc, &elapsed, message, sizeof(message)), 0);
	CHECK_INT(rc, 0);

	/* As a reader sees it between the new holder's truncate and its write. */
	CHECK_INT(write_text(lock_path, ""), 0);
	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb sync", 0), PLUMB_ELOCKED);
	CHECK(contains(plumb_error_last(), "is locked by another process;"));
	plumb_lock_release(lock);
	lock = NULL;

	/* Half-written: no newline yet. */
	CHECK_INT(write_text(lock_path, "pid 12: plumb sy"), 0);
	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb sync", 0), PLUMB_ELOCKED);
	CHECK(contains(plumb_error_last(), "is locked by another process;"));
	CHECK(lock == NULL);
	plumb_lock_release(lock);
	lock = NULL;

	CHECK(exited_cleanly(child_finish(&child)));
	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb sync", 0), 0);
	plumb_lock_release(lock);

	free(lock_path);
	free(state);
}

static void test_cannot_create_lock_file(void)
{
	char *file = state_path("not-a-directory");
	char *below = plumb_xprintf("%s/state", file);
	char *state = state_path("lock-is-a-directory");
	char *lock_dir = plumb_xprintf("%s/lock", state);
	plumb_lock *lock = (plumb_lock *)1;

	CHECK_INT(write_text(file, "x"), 0);
	CHECK_INT(plumb_lock_acquire(&lock, file, "plumb sync", 0), PLUMB_ERROR);
	CHECK(lock == NULL);
	CHECK(contains(plumb_error_last(), file));
	lock = (plumb_lock *)1;
	CHECK_INT(plumb_lock_acquire(&lock, below, "plumb sync", 0), PLUMB_ERROR);
	CHECK(lock == NULL);
	CHECK(contains(plumb_error_last(), file));

	CHECK_INT(mkdir(state, 0700), 0);
	CHECK_INT(mkdir(lock_dir, 0700), 0);
	lock = (plumb_lock *)1;
	CHECK_INT(plumb_lock_acquire(&lock, state, "plumb sync", 0), PLUMB_ERROR);
	CHECK(lock == NULL);
	CHECK(contains(plumb_error_last(), lock_dir));

	free(lock_dir);
	free(state);
	free(below);
	free(file);
}

static void test_durations(void)
{
	static const struct {
		const char *text;
		unsigned ms;
	} valid[] = {
		{ "0", 0 },	      { "250ms", 250 },		{ "30s", 30000 }, { "5m", 300000 },
		{ "1h", 3600000 },    { "7", 7000 },		{ "0ms", 0 },	  { "007s", 7000 },
		{ "1500ms", 1500 },   { "4294967s", 4294967000u },
	};
	static const char *const invalid[] = {
		"abc", "5x", "-1", "", "+5", " 5", "5 ", "5 s", "1.5s", "0x10",
		"s",   "ms", "5M", "5ms5", "1h30m", "5sec",
	};

	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(valid); i++) {
		unsigned ms = 12345;
		CHECK_INT(plumb_duration_parse(&ms, valid[i].text), 0);
		CHECK_INT(ms, valid[i].ms);
	}
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(invalid); i++) {
		unsigned ms = 12345;
		char *quoted = plumb_xprintf("\"%s\"", invalid[i]);
		plumb_error_clear();
		CHECK_INT(plumb_duration_parse(&ms, invalid[i]), PLUMB_EINVALID);
		CHECK_INT(ms, 12345);
		CHECK(contains(plumb_error_last(), quoted));
		free(quoted);
	}
}

static void test_duration_overflow(void)
{
	static const char *const too_long[] = {
		"4294967296ms", "4294968s", "71583m", "1194h", "4294967296", "99999999999999999999999999999999ms",
		"18446744073709551621ms", /* 2^64 + 5: 5 to a parser that wraps around */
	};
	unsigned ms = 0;

	/* The largest of each unit that fits. */
	CHECK_INT(plumb_duration_parse(&ms, "4294967295ms"), 0);
	CHECK_INT(ms, UINT_MAX);
	CHECK_INT(plumb_duration_parse(&ms, "71582m"), 0);
	CHECK_INT(ms, 71582u * 60000u);
	CHECK_INT(plumb_duration_parse(&ms, "1193h"), 0);
	CHECK_INT(ms, 1193u * 3600000u);

	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(too_long); i++) {
		char *quoted = plumb_xprintf("\"%s\"", too_long[i]);
		ms = 12345;
		plumb_error_clear();
		CHECK_INT(plumb_duration_parse(&ms, too_long[i]), PLUMB_EINVALID);
		CHECK_INT(ms, 12345);
		CHECK(contains(plumb_error_last(), quoted));
		CHECK(contains(plumb_error_last(), "too long"));
		free(quoted);
	}
}

static void test_duration_format(void)
{
	static const struct {
		unsigned ms;
		const char *text;
	} cases[] = {
		{ 300000, "5m" }, { 90000, "90s" }, { 1500, "1500ms" }, { 7200000, "2h" }, { 3000, "3s" },
		{ 0, "0s" },	  { 1, "1ms" },	    { 5400000, "90m" }, { UINT_MAX, "4294967295ms" },
	};
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(cases); i++) {
		char text[32];
		unsigned back = 12345;
		plumb_duration_format(text, cases[i].ms);
		CHECK_STR(text, cases[i].text);
		/* What it writes reads back as the same duration. */
		CHECK_INT(plumb_duration_parse(&back, text), 0);
		CHECK_INT(back, cases[i].ms);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child_main(argc, argv);

	umask(022);
	if (!mkdtemp(temp_root)) {
		perror("mkdtemp");
		return 1;
	}

	RUN(test_acquire_release_reacquire);
	RUN(test_lock_file_is_private);
	RUN(test_purpose_is_one_line);
	RUN(test_busy_fails_at_once);
	RUN(test_waits_until_released);
	RUN(test_times_out);
	RUN(test_killed_holder_releases);
	RUN(test_unreadable_holder_line);
	RUN(test_cannot_create_lock_file);
	RUN(test_durations);
	RUN(test_duration_overflow);
	RUN(test_duration_format);

	nftw(temp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	TEST_EXIT();
}
