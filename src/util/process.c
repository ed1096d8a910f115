#include "util/common.h"
#include "util/clock.h"
#include "util/process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void close_pipe(int fds[2])
{
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	fds[0] = fds[1] = -1;
}

static int start(pid_t *pid, char *const argv[], char *const envp[], int out_pipe[2], int err_pipe[2])
{
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	int rc;

	posix_spawn_file_actions_init(&actions);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
	posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
	/* A group of its own: the deadline kills whatever the program started too. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	rc = posix_spawnp(pid, argv[0], &actions, &attr, argv, envp ? envp : environ);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	if (rc != 0)
		return plumb_error_set(PLUMB_ERROR, "cannot run %s: %s", argv[0], strerror(rc));
	return 0;
}

/* Read what is there on fd into to (at most room more bytes kept); 0 at end of file. */
static int drain(int fd, plumb_buf *to, size_t room, int *overflow)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	if (n == 0)
		return 0;
	if ((size_t)n > room) {
		if (overflow)
			*overflow = 1;
		n = (ssize_t)room;
	}
	plumb_buf_add(to, chunk, (size_t)n);
	explicit_bzero(chunk, sizeof(chunk));
	return 1;
}

int plumb_process_run(plumb_process_result *result, plumb_buf *out, char *const argv[], unsigned timeout_ms,
		      size_t output_max)
{
	return plumb_process_run_env(result, out, argv, NULL, timeout_ms, output_max);
}

int plumb_process_run_env(plumb_process_result *result, plumb_buf *out, char *const argv[], char *const envp[],
			  unsigned timeout_ms, size_t output_max)
{
	int out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
	size_t start_len = out->len;
	long long deadline = plumb_monotonic_ms() + timeout_ms;
	pid_t pid;
	int status = 0, error;

	memset(result, 0, sizeof(*result));
	plumb_buf_init(&result->error);
	if (pipe2(out_pipe, O_CLOEXEC) < 0 || pipe2(err_pipe, O_CLOEXEC) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "cannot run %s: %s", argv[0], strerror(errno));
		goto done;
	}
	if ((error = start(&pid, argv, envp, out_pipe, err_pipe)) < 0)
		goto done;
	close(out_pipe[1]);
	close(err_pipe[1]);
	out_pipe[1] = err_pipe[1] = -1;

	struct pollfd fds[2] = { { out_pipe[0], POLLIN, 0 }, { err_pipe[0], POLLIN, 0 } };
	int open_count = 2;
	while (open_count > 0 && !result->overflowed) {
		long long left = deadline - plumb_monotonic_ms();
		if (left <= 0) {
			result->timed_out = 1;
			break;
		}
		int ready = poll(fds, 2, (int)(left > 1000 ? 1000 : left));
		if (ready < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2 && ready > 0; i++) {
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			int more = i == 0 ? drain(fds[i].fd, out, output_max - (out->len - start_len), &result->overflowed)
					  : drain(fds[i].fd, &result->error,
						  PLUMB_PROCESS_ERROR_MAX - result->error.len, NULL);
			if (!more) {
				fds[i].fd = -1;
				open_count--;
			}
		}
	}
	/* It closed its output but may still be running: wait for it up to the deadline. */
	while (!result->timed_out && !result->overflowed && waitpid(pid, &status, WNOHANG) == 0) {
		if (plumb_monotonic_ms() >= deadline) {
			result->timed_out = 1;
			break;
		}
		usleep(10000);
	}
	if (result->timed_out || result->overflowed) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	result->exited = WIFEXITED(status);
	result->status = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	if (result->overflowed || result->timed_out) {
		/* Nothing partial is handed out: what arrived is wiped. */
		explicit_bzero(out->ptr + start_len, out->len - start_len);
		plumb_buf_truncate(out, start_len);
	}
	error = 0;
done:
	close_pipe(out_pipe);
	close_pipe(err_pipe);
	return error;
}

void plumb_process_result_release(plumb_process_result *result)
{
	plumb_buf_release(&result->error);
}

char *plumb_process_find(const char *program)
{
	if (strchr(program, '/'))
		return plumb_xstrdup(program);
	const char *path = getenv("PATH");
	for (const char *dir = path && *path ? path : "/usr/local/bin:/usr/bin:/bin"; *dir;) {
		size_t len = strcspn(dir, ":");
		char *candidate = len ? plumb_xprintf("%.*s/%s", (int)len, dir, program) : plumb_xprintf("./%s", program);
		struct stat st;
		if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode) && access(candidate, X_OK) == 0)
			return candidate;
		free(candidate);
		dir += len + (dir[len] == ':');
	}
	return NULL;
}
