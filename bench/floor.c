/*
 * floor.c - the least work a tool must do to mirror a tree: the benchmark's floor.
 *
 *   floor stat LISTFILE ROOT             lstat every listed path below ROOT (the no-change floor)
 *   floor write LISTFILE SRC DST         copy every listed file from SRC to DST (the converge floor)
 *   floor write-syncfs LISTFILE SRC DST  the same, then one syncfs() of DST's file system
 *
 * LISTFILE holds one relative path a line ("d0001/f00050.txt"). write reads
 * each source file and writes it with open/write/close (O_TRUNC, 0644),
 * making missing parent directories; it does not fsync each file, and
 * write-syncfs makes it all durable with a single syncfs at the end. Paths
 * are opened relative to directory descriptors of ROOT, SRC and DST, so the
 * kernel walks two components per file, not the whole scratch path.
 *
 * Exit 0 when every path was handled, 1 (with a message) on the first error.
 */
#define _GNU_SOURCE /* syncfs */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "floor: %s %s: %s\n", what, path, strerror(errno));
	return 1;
}

/* The whole list file, with each newline turned into a NUL; *size gets its length. */
static char *read_list(const char *file, size_t *size)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		fail("cannot read", file);
		exit(1);
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		fprintf(stderr, "floor: out of memory\n");
		exit(1);
	}
	size_t got = 0;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fail("cannot read", file);
			exit(1);
		}
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	for (size_t i = 0; i < got; i++)
		if (buf[i] == '\n')
			buf[i] = '\0';
	*size = got;
	return buf;
}

static int open_dir(const char *path, int create)
{
	if (create) {
		/* mkdir -p */
		char tmp[4096];
		size_t len = strlen(path);
		if (len >= sizeof(tmp)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(tmp, path, len + 1);
		for (char *p = tmp + 1; *p; p++) {
			if (*p != '/')
				continue;
			*p = '\0';
			if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
				return -1;
			*p = '/';
		}
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
	}
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* Make every directory of rel's parent below dst_fd; last remembers the parent made last time. */
static int make_parents(int dst_fd, const char *rel, char *last, size_t last_size)
{
	const char *slash = strrchr(rel, '/');
	if (!slash)
		return 0;
	size_t len = (size_t)(slash - rel);
	if (len >= last_size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (strlen(last) == len && !memcmp(last, rel, len))
		return 0;
	char dir[4096];
	memcpy(dir, rel, len);
	dir[len] = '\0';
	for (size_t i = 1; i <= len; i++) {
		if (i < len && dir[i] != '/')
			continue;
		char saved = dir[i];
		dir[i] = '\0';
		if (mkdirat(dst_fd, dir, 0755) < 0 && errno != EEXIST)
			return -1;
		dir[i] = saved;
	}
	memcpy(last, rel, len);
	last[len] = '\0';
	return 0;
}

static int copy_one(int src_fd, int dst_fd, const char *rel, char *buf, size_t buf_size)
{
	int in = openat(src_fd, rel, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return fail("cannot open", rel);
	size_t got = 0;
	for (;;) {
		if (got == buf_size) {
			errno = EFBIG;
			close(in);
			return fail("too large for the floor's buffer:", rel);
		}
		ssize_t n = read(in, buf + got, buf_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(in);
			return fail("cannot read", rel);
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(in);
	int out = openat(dst_fd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		return fail("cannot create", rel);
	size_t put = 0;
	while (put < got) {
		ssize_t n = write(out, buf + put, got - put);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(out);
			return fail("cannot write", rel);
		}
		put += (size_t)n;
	}
	if (close(out) < 0)
		return fail("cannot close", rel);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: floor stat LISTFILE ROOT\n"
			"       floor write LISTFILE SRC DST\n"
			"       floor write-syncfs LISTFILE SRC DST\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *mode = argv[1];
	int do_stat = !strcmp(mode, "stat");
	int do_sync = !strcmp(mode, "write-syncfs");
	int do_write = do_sync || !strcmp(mode, "write");
	if (!(do_stat && argc == 4) && !(do_write && argc == 5))
		return usage();

	size_t size;
	char *list = read_list(argv[2], &size);

	if (do_stat) {
		int root = open_dir(argv[3], 0);
		if (root < 0)
			return fail("cannot open", argv[3]);
		struct stat st;
		for (char *p = list; p < list + size; p += strlen(p) + 1)
			if (*p && fstatat(root, p, &st, AT_SYMLINK_NOFOLLOW) < 0)
				return fail("cannot lstat", p);
		return 0;
	}

	int src = open_dir(argv[3], 0);
	if (src < 0)
		return fail("cannot open", argv[3]);
	int dst = open_dir(argv[4], 1);
	if (dst < 0)
		return fail("cannot make", argv[4]);
	static char buf[1 << 20];
	char last[4096] = "";
	for (char *p = list; p < list + size; p += strlen(p) + 1) {
		if (!*p)
			continue;
		if (make_parents(dst, p, last, sizeof(last)) < 0)
			return fail("cannot make the parents of", p);
		if (copy_one(src, dst, p, buf, sizeof(buf)))
			return 1;
	}
	if (do_sync && syncfs(dst) < 0)
		return fail("cannot syncfs", argv[4]);
	return 0;
}
