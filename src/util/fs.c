#include "util/common.h"
#include "util/fs.h"
#include "util/fs_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Directory trees below a root are bounded; deeper removal stops here. */
#define MAX_REMOVE_DEPTH 256

int plumb_fs_errno_error(int err, const char *what, const char *rel)
{
	int code = PLUMB_ERROR;
	if (err == ENOENT)
		code = PLUMB_ENOTFOUND;
	return plumb_error_set(code, "%s /%s: %s", what, rel, strerror(err));
}

int plumb_fs_make_directories(const char *dir, mode_t mode)
{
	char *path;
	struct stat st;
	int error = 0;

	if (!*dir)
		return plumb_error_set(PLUMB_EINVALID, "cannot create a directory with an empty name");
	path = plumb_xstrdup(dir);
	for (char *p = path + 1;; p++) {
		char c = *p;
		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(path, mode) < 0) {
			int err = errno;
			/* An existing directory is fine, whatever mkdir says (EEXIST, EACCES, EROFS). */
			if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
				error = plumb_error_set(PLUMB_ERROR, "cannot create directory %s: %s", path,
							err == EEXIST ? strerror(ENOTDIR) : strerror(err));
				break;
			}
		}
		*p = c;
		if (!c)
			break;
	}
	free(path);
	return error;
}

int plumb_fs_open_root(int *fd_out, const char *root, int create)
{
	int error;
	*fd_out = -1;
	if (create && *root && (error = plumb_fs_make_directories(root, 0755)) < 0)
		return error;
	int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return plumb_error_set(errno == ENOENT ? PLUMB_ENOTFOUND : PLUMB_ERROR, "cannot open root %s: %s", root,
				       strerror(errno));
	*fd_out = fd;
	return 0;
}

int plumb_fs_write_path(const char *path, const void *data, size_t len, mode_t mode)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char *dir = !slash ? plumb_xstrdup(".") : slash == path ? plumb_xstrdup("/")
								 : plumb_xstrndup(path, (size_t)(slash - path));
	int dir_fd = -1, error;

	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		error = plumb_error_set(PLUMB_EINVALID, "%s: not a file name", path);
	} else if ((error = plumb_fs_open_root(&dir_fd, dir, 0)) < 0) {
		error = plumb_error_set(error, "cannot write %s: no directory %s", path, dir);
	} else if ((error = plumb_fs_write_file(dir_fd, base, data, len, mode, (uid_t)-1, (gid_t)-1)) < 0) {
		error = plumb_error_set(error, "cannot write %s: %s", path, plumb_error_last());
	}
	if (dir_fd >= 0)
		close(dir_fd);
	free(dir);
	return error;
}

/* Open one component beneath dir_fd as a directory, never following a symlink. */
static int open_component(int *out, int dir_fd, const char *name, const char *rel, size_t rel_len, int create)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			*out = fd;
			return 0;
		}
		int err = errno;
		if (err == ENOENT && create && attempt == 0) {
			if (mkdirat(dir_fd, name, 0755) < 0 && errno != EEXIST)
				return plumb_error_set(PLUMB_ERROR, "cannot create directory /%.*s: %s", (int)rel_len, rel,
						       strerror(errno));
			continue;
		}
		if (err == ENOENT)
			return plumb_error_set(PLUMB_ENOTFOUND, "/%.*s does not exist", (int)rel_len, rel);
		if (err == ELOOP || err == ENOTDIR) {
			struct stat st;
			if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				return plumb_error_set(PLUMB_EUNSAFE,
						       "/%.*s is a symlink; plumb never follows a symlink in a path it manages",
						       (int)rel_len, rel);
			return plumb_error_set(PLUMB_ECONFLICT, "/%.*s is not a directory", (int)rel_len, rel);
		}
		return plumb_error_set(PLUMB_ERROR, "cannot open /%.*s: %s", (int)rel_len, rel, strerror(err));
	}
	return plumb_error_set(PLUMB_ERROR, "cannot open /%.*s", (int)rel_len, rel);
}

int plumb_fs_open_parent(int *dir_fd_out, const char **base_out, int root_fd, const char *rel, int create)
{
	char name[NAME_MAX + 1];
	const char *p = rel;

	*dir_fd_out = -1;
	if (root_fd < 0)
		return plumb_error_set(PLUMB_ENOTFOUND, "/%s does not exist (the root does not exist yet)", rel);
	int dir_fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
	if (dir_fd < 0)
		return plumb_error_set(PLUMB_ERROR, "dup: %s", strerror(errno));
	if (!*rel) {
		close(dir_fd);
		return plumb_error_set(PLUMB_EINVALID, "the destination root itself cannot be managed");
	}
	for (;;) {
		const char *slash = strchr(p, '/');
		if (!slash)
			break;
		size_t len = (size_t)(slash - p);
		/* rel is normalised by contract; a "..", "." or empty component here is refused, never resolved. */
		if (!len || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
			close(dir_fd);
			return plumb_error_set(PLUMB_EUNSAFE, "/%s: a path component is empty, '.' or '..'", rel);
		}
		if (len > NAME_MAX) {
			close(dir_fd);
			return plumb_error_set(PLUMB_EINVALID, "/%s: a component is longer than %d bytes", rel, NAME_MAX);
		}
		memcpy(name, p, len);
		name[len] = '\0';
		int next = -1;
		int error = open_component(&next, dir_fd, name, rel, (size_t)(slash - rel), create);
		close(dir_fd);
		if (error < 0)
			return error;
		dir_fd = next;
		p = slash + 1;
	}
	if (!*p || !strcmp(p, ".") || !strcmp(p, "..")) {
		close(dir_fd);
		return plumb_error_set(PLUMB_EUNSAFE, "/%s: a path component is empty, '.' or '..'", rel);
	}
	if (strlen(p) > NAME_MAX) {
		close(dir_fd);
		return plumb_error_set(PLUMB_EINVALID, "/%s: a component is longer than %d bytes", rel, NAME_MAX);
	}
	*dir_fd_out = dir_fd;
	*base_out = p;
	return 0;
}

int plumb_fs_lstat_in(struct stat *st, int dir_fd, const char *base, const char *rel)
{
	if (fstatat(dir_fd, base, st, AT_SYMLINK_NOFOLLOW) < 0)
		return plumb_fs_errno_error(errno, "cannot stat", rel);
	return 0;
}

int plumb_fs_lstat(struct stat *st, int root_fd, const char *rel)
{
	int dir_fd;
	const char *base;
	int error = plumb_fs_open_parent(&dir_fd, &base, root_fd, rel, 0);
	if (error < 0)
		return error;
	error = plumb_fs_lstat_in(st, dir_fd, base, rel);
	close(dir_fd);
	return error;
}

int plumb_fs_open_regular_in(int *fd_out, struct stat *st, int dir_fd, const char *base, const char *rel)
{
	int fd = openat(dir_fd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			return plumb_error_set(PLUMB_ECONFLICT, "/%s is a symlink, not a file", rel);
		return plumb_fs_errno_error(errno, "cannot open", rel);
	}
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return plumb_error_set(PLUMB_ECONFLICT, "/%s is not a regular file", rel);
	}
	*fd_out = fd;
	return 0;
}

int plumb_fs_read_in(plumb_buf *out, int dir_fd, const char *base, const char *rel, size_t max)
{
	int fd;
	struct stat st;
	int error = plumb_fs_open_regular_in(&fd, &st, dir_fd, base, rel);
	if (error < 0)
		return error;
	error = plumb_buf_read_fd(out, fd, max);
	close(fd);
	if (error < 0)
		return plumb_error_wrap(error, "/%s", rel);
	return 0;
}

int plumb_fs_read(plumb_buf *out, int root_fd, const char *rel, size_t max)
{
	int dir_fd;
	const char *base;
	int error = plumb_fs_open_parent(&dir_fd, &base, root_fd, rel, 0);
	if (error < 0)
		return error;
	error = plumb_fs_read_in(out, dir_fd, base, rel, max);
	close(dir_fd);
	return error;
}

int plumb_fs_read_head(plumb_buf *out, int *truncated, int root_fd, const char *rel, size_t max)
{
	int dir_fd, fd;
	const char *base;
	struct stat st;
	size_t start = out->len;
	int error = plumb_fs_open_parent(&dir_fd, &base, root_fd, rel, 0);

	*truncated = 0;
	if (error < 0)
		return error;
	error = plumb_fs_open_regular_in(&fd, &st, dir_fd, base, rel);
	close(dir_fd);
	if (error < 0)
		return error;
	/* One byte past max is enough to know there is more. */
	plumb_buf_grow(out, max + 1);
	while (out->len - start <= max) {
		ssize_t n = read(fd, out->ptr + out->len, max + 1 - (out->len - start));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			error = plumb_fs_errno_error(errno, "cannot read", rel);
			plumb_buf_truncate(out, start);
			goto done;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->ptr[out->len] = '\0';
	}
	if (out->len - start > max) {
		*truncated = 1;
		plumb_buf_truncate(out, start + max);
	}
done:
	close(fd);
	return error;
}

int plumb_fs_readlink_in(char **out, int dir_fd, const char *base, const char *rel)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(dir_fd, base, target, sizeof(target) - 1);
	if (n < 0)
		return plumb_fs_errno_error(errno, "cannot read link", rel);
	*out = plumb_xstrndup(target, (size_t)n);
	return 0;
}

int plumb_fs_readlink(char **out, int root_fd, const char *rel)
{
	int dir_fd;
	const char *base;
	int error = plumb_fs_open_parent(&dir_fd, &base, root_fd, rel, 0);
	if (error < 0)
		return error;
	error = plumb_fs_readlink_in(out, dir_fd, base, rel);
	close(dir_fd);
	return error;
}

/* A temporary name next to base, unique within this process and host. */
static void temp_name(char *out, size_t size, const char *base)
{
	static unsigned counter;
	snprintf(out, size, PLUMB_FS_TEMP_PREFIX "%ld.%u.%.*s", (long)getpid(), counter++, 100, base);
}

static int set_fd_attributes(int fd, mode_t mode, uid_t uid, gid_t gid, const char *rel)
{
	/* Owner first: chown clears setuid/setgid bits, chmod then restores them. */
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0)
		return plumb_error_set(PLUMB_ERROR, "cannot set owner of /%s: %s", rel, strerror(errno));
	if (mode != PLUMB_FS_KEEP && fchmod(fd, mode & 07777) < 0)
		return plumb_error_set(PLUMB_ERROR, "cannot set mode of /%s: %s", rel, strerror(errno));
	return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int plumb_fs_write_temporary(char tmp[NAME_MAX + 1], int dir_fd, const char *base, const char *rel, const void *data,
			     size_t len, mode_t mode, uid_t uid, gid_t gid, int durable)
{
	struct stat old;
	int fd, error = 0;

	if (fstatat(dir_fd, base, &old, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(old.st_mode))
			return plumb_error_set(PLUMB_ECONFLICT, "/%s is a directory; refusing to replace it with a file",
					       rel);
		if (mode == PLUMB_FS_KEEP && S_ISREG(old.st_mode))
			mode = old.st_mode & 07777;
	}
	if (mode == PLUMB_FS_KEEP)
		mode = 0644;
	temp_name(tmp, NAME_MAX + 1, base);
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return plumb_fs_errno_error(errno, "cannot create a temporary file for", rel);
	if (write_all(fd, data, len) < 0)
		error = plumb_fs_errno_error(errno, "cannot write", rel);
	else if ((error = set_fd_attributes(fd, mode, uid, gid, rel)) < 0)
		;
	else if (durable && fsync(fd) < 0)
		error = plumb_fs_errno_error(errno, "cannot fsync", rel);
	close(fd);
	if (error < 0)
		unlinkat(dir_fd, tmp, 0);
	return error;
}

int plumb_fs_write_file(int root_fd, const char *rel, const void *data, size_t len, mode_t mode, uid_t uid,
			gid_t gid)
{
	char tmp[NAME_MAX + 1];
	int dir_fd;
	const char *base;
	int error = plumb_fs_open_parent(&dir_fd, &base, root_fd, rel, 1);
	if (error < 0)
		return error;
	if ((error = plumb_fs_write_temporary(tmp, dir_fd, base, rel, data, len, mode, uid, gid, 1)) == 0) {
		if (renameat(dir_fd, tmp, dir_fd, base) < 0) {
			error = plumb_fs_errno_error(errno, "cannot rename into place", rel);
			unlinkat(dir_fd, tmp, 0);
		} else {
			fsync(dir_fd);
		}
	}
	close(dir_fd);
	return error;
}

int plumb_fs_write_symlink(int root_fd, const char *rel, const char *target)
{
	char tmp[NAME_MAX + 1];
	int dir_fd;
	const char *base;
	struct stat old;
	int error = plumb_fs_open_parent(&dir_fd, &base, root_fd, rel, 1);
	if (error < 0)
		return error;
	if (fstatat(dir_fd, base, &old, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(old.st_mode)) {
		error = plumb_error_set(PLUMB_ECONFLICT, "/%s is a directory; refusing to replace it with a symlink",
					rel);
		goto done;
	}
	temp_name(tmp, sizeof(tmp), base);
	if (symlinkat(target, dir_fd, tmp) < 0) {
		error = plumb_fs_errno_error(errno, "cannot create symlink", rel);
		goto done;
	}
	if (renameat(dir_fd, tmp, dir_fd, base) < 0) {
		error = plumb_fs_errno_error(errno, "cannot rename into place", rel);
		unlinkat(dir_fd, tmp, 0);
		goto done;
	}
	fsync(dir_fd);
done:
	close(dir_fd);
	return error;
}

/* Open an existing file or directory for fchmod/fchown, never through a symlink. */
static int open_for_attributes(int *fd_out, int dir_fd, const char *base, const char *rel)
{
	int fd = openat(dir_fd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			return plumb_error_set(PLUMB_ECONFLICT, "/%s is a symlink", rel);
		return plumb_fs_errno_error(errno, "cannot open", rel);
	}
	*fd_out = fd;
	return 0;
}

int plumb_fs_make_directory_in(int dir_fd, const char *base, const char *rel, mode_t mode, uid_t uid, gid_t gid)
{
	int fd = -1, error = 0;
	struct stat st;
	/* A symlink holds no data of its own: it gives way to the directory (its target is left alone). */
	if (fstatat(dir_fd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) && unlinkat(dir_fd, base, 0) < 0)
		return plumb_fs_errno_error(errno, "cannot replace the symlink", rel);
	if (mkdirat(dir_fd, base, mode == PLUMB_FS_KEEP ? 0755 : (mode & 0777)) < 0 && errno != EEXIST)
		return plumb_fs_errno_error(errno, "cannot create directory", rel);
	if (fstatat(dir_fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return plumb_error_set(PLUMB_ECONFLICT, "/%s exists and is not a directory", rel);
	if ((error = open_for_attributes(&fd, dir_fd, base, rel)) < 0)
		return error;
	error = set_fd_attributes(fd, mode, uid, gid, rel);
	close(fd);
	return error;
}

int plumb_fs_make_directory(int root_fd, const char *rel, mode_t mode, uid_t uid, gid_t gid)
{
	int dir_fd;
	const char *base;
	int error = plumb_fs_open_parent(&dir_fd, &base, root_fd, rel, 1);
	if (error < 0)
		return error;
	if ((error = plumb_fs_make_directory_in(dir_fd, base, rel, mode, uid, gid)) == 0)
		fsync(dir_fd);
	close(dir_fd);
	return error;
}


/* Remove everything inside the directory open as fd; takes ownership of fd. */
static int remove_contents(int fd, const char *rel, unsigned depth)
{
	if (depth > MAX_REMOVE_DEPTH) {
		close(fd);
		return plumb_error_set(PLUMB_EINVALID, "/%s: directory tree deeper than %d levels", rel,
				       MAX_REMOVE_DEPTH);
	}
	DIR *dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return plumb_fs_errno_error(errno, "cannot read directory", rel);
	}
	int error = 0;
	struct dirent *entry;
	while (error == 0 && (entry = readdir(dir)) != NULL) {
		const char *name = entry->d_name;
		struct stat st;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		if (fstatat(dirfd(dir), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			int child = openat(dirfd(dir), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (child < 0) {
				error = plumb_fs_errno_error(errno, "cannot open", rel);
				break;
			}
			if ((error = remove_contents(child, rel, depth + 1)) < 0)
				break;
			if (unlinkat(dirfd(dir), name, AT_REMOVEDIR) < 0)
				error = plumb_fs_errno_error(errno, "cannot remove a directory below", rel);
		} else if (unlinkat(dirfd(dir), name, 0) < 0) {
			error = plumb_fs_errno_error(errno, "cannot remove a file below", rel);
		}
	}
	closedir(dir);
	return error;
}

int plumb_fs_remove(int root_fd, const char *rel, int recursive)
{
	int dir_fd;
	const char *base;
	struct stat st;
	int error = plumb_fs_open_parent(&dir_fd, &base, root_fd, rel, 0);
	if (error == PLUMB_ENOTFOUND)
		return 0;
	if (error < 0)
		return error;
	if (fstatat(dir_fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		error = errno == ENOENT ? 0 : plumb_fs_errno_error(errno, "cannot stat", rel);
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		if (recursive) {
			int fd = openat(dir_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				error = plumb_fs_errno_error(errno, "cannot open", rel);
				goto done;
			}
			if ((error = remove_contents(fd, rel, 0)) < 0)
				goto done;
		}
		if (unlinkat(dir_fd, base, AT_REMOVEDIR) < 0) {
			error = (errno == ENOTEMPTY || errno == EEXIST)
					? plumb_error_set(PLUMB_ECONFLICT, "/%s is not empty", rel)
					: plumb_fs_errno_error(errno, "cannot remove", rel);
			goto done;
		}
	} else if (unlinkat(dir_fd, base, 0) < 0) {
		error = plumb_fs_errno_error(errno, "cannot remove", rel);
		goto done;
	}
	fsync(dir_fd);
done:
	close(dir_fd);
	return error;
}

/* A temporary file's writer, from its name: PLUMB_FS_TEMP_PREFIX "PID." ... */
static long temp_owner(const char *name)
{
	size_t prefix = strlen(PLUMB_FS_TEMP_PREFIX);
	if (strncmp(name, PLUMB_FS_TEMP_PREFIX, prefix) != 0)
		return -1;
	char *end;
	long pid = strtol(name + prefix, &end, 10);
	return (*end == '.' && pid > 0) ? pid : -1;
}

int plumb_fs_remove_stale_temporaries(int root_fd, const char *dir)
{
	int fd;
	int removed = 0;

	if (!*dir) {
		fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
	} else {
		int parent_fd;
		const char *base;
		if (plumb_fs_open_parent(&parent_fd, &base, root_fd, dir, 0) < 0)
			return 0;
		fd = openat(parent_fd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(parent_fd);
	}
	if (fd < 0)
		return 0;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	struct dirent *entry;
	while ((entry = readdir(d)) != NULL) {
		long pid = temp_owner(entry->d_name);
		if (pid < 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (unlinkat(dirfd(d), entry->d_name, 0) == 0)
			removed++;
	}
	closedir(d);
	return removed;
}

static int parse_id(unsigned long *out, const char *s)
{
	char *end;
	if (!*s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return (*end || errno) ? -1 : 0;
}

int plumb_fs_lookup_user(uid_t *out, const char *name)
{
	unsigned long id;
	if (parse_id(&id, name) == 0) {
		*out = (uid_t)id;
		return 0;
	}
	struct passwd pw, *result = NULL;
	char scratch[4096];
	if (getpwnam_r(name, &pw, scratch, sizeof(scratch), &result) != 0 || !result)
		return plumb_error_set(PLUMB_ENOTFOUND, "unknown user '%s'", name);
	*out = result->pw_uid;
	return 0;
}

int plumb_fs_lookup_group(gid_t *out, const char *name)
{
	unsigned long id;
	if (parse_id(&id, name) == 0) {
		*out = (gid_t)id;
		return 0;
	}
	struct group gr, *result = NULL;
	char scratch[4096];
	if (getgrnam_r(name, &gr, scratch, sizeof(scratch), &result) != 0 || !result)
		return plumb_error_set(PLUMB_ENOTFOUND, "unknown group '%s'", name);
	*out = result->gr_gid;
	return 0;
}