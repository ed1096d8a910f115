#include "util/common.h"
#include "util/fs_batch.h"
#include "util/fs.h"
#include "util/fs_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
	size_t dir; /* index into the batch's directories */
	char temporary[NAME_MAX + 1];
	char *base;
	char *rel; /* for messages */
} staged_write;

struct plumb_fs_batch {
	int root_fd;
	struct {
		char *path;
		int fd;
		dev_t device; /* the file system it is on */
	} *dirs;
	size_t dir_count;
	size_t dir_capacity;
	staged_write *writes;
	size_t count;
	size_t capacity;
	int made; /* directories were made (plumb_fs_batch_make_directory) since the last commit */
};

plumb_fs_batch *plumb_fs_batch_new(int root_fd)
{
	plumb_fs_batch *batch = plumb_xcalloc(1, sizeof(*batch));
	batch->root_fd = root_fd;
	return batch;
}

int plumb_fs_batch_root(const plumb_fs_batch *batch)
{
	return batch->root_fd;
}

size_t plumb_fs_batch_count(const plumb_fs_batch *batch)
{
	return batch->count;
}

int plumb_fs_batch_full(const plumb_fs_batch *batch)
{
	return batch->count >= PLUMB_FS_BATCH_MAX_WRITES || batch->dir_count >= PLUMB_FS_BATCH_MAX_DIRS;
}

/* The open directory of rel's parent, shared by the writes into one folder. */
static int batch_dir(size_t *index, const char **base, plumb_fs_batch *batch, const char *rel)
{
	const char *slash = strrchr(rel, '/');
	size_t len = slash ? (size_t)(slash - rel) : 0;
	for (size_t i = batch->dir_count; i-- > 0;) {
		if (strlen(batch->dirs[i].path) == len && !strncmp(batch->dirs[i].path, rel, len)) {
			*index = i;
			*base = slash ? slash + 1 : rel;
			return 0;
		}
	}
	int fd;
	struct stat st;
	int error = plumb_fs_open_parent(&fd, base, batch->root_fd, rel, 1);
	if (error < 0)
		return error;
	if (fstat(fd, &st) < 0) {
		error = plumb_fs_errno_error(errno, "cannot stat the directory of", rel);
		close(fd);
		return error;
	}
	PLUMB_GROW(batch->dirs, batch->dir_count, batch->dir_capacity);
	batch->dirs[batch->dir_count].path = plumb_xstrndup(rel, len);
	batch->dirs[batch->dir_count].fd = fd;
	batch->dirs[batch->dir_count].device = st.st_dev;
	*index = batch->dir_count++;
	return 0;
}

int plumb_fs_batch_write(plumb_fs_batch *batch, const char *rel, const void *data, size_t len, mode_t mode,
			 uid_t uid, gid_t gid)
{
	staged_write write;
	const char *base;
	int error = batch_dir(&write.dir, &base, batch, rel);
	if (error < 0 || (error = plumb_fs_write_temporary(write.temporary, batch->dirs[write.dir].fd, base, rel, data,
							    len, mode, uid, gid, 0)) < 0)
		return error;
	write.base = plumb_xstrdup(base);
	write.rel = plumb_xstrdup(rel);
	PLUMB_GROW(batch->writes, batch->count, batch->capacity);
	batch->writes[batch->count++] = write;
	return 0;
}

int plumb_fs_batch_make_directory(plumb_fs_batch *batch, const char *rel, mode_t mode, uid_t uid, gid_t gid)
{
	size_t index;
	const char *base;
	int error = batch_dir(&index, &base, batch, rel);
	if (error < 0 || (error = plumb_fs_make_directory_in(batch->dirs[index].fd, base, rel, mode, uid, gid)) < 0)
		return error;
	batch->made = 1;
	return 0;
}

/*
 * Flush every file system the batch's directories are on, one syncfs each:
 * 0, or the errno of the first that fails (its directory's index in *failed).
 */
static int batch_flush(const plumb_fs_batch *batch, size_t *failed)
{
	for (size_t i = 0; i < batch->dir_count; i++) {
		size_t j = 0;
		while (j < i && batch->dirs[j].device != batch->dirs[i].device)
			j++;
		if (j < i)
			continue; /* flushed with directory j */
		if (syncfs(batch->dirs[i].fd) < 0) {
			*failed = i;
			return errno;
		}
	}
	return 0;
}

/* Forget every write and directory (removing the temporary files of writes from first on). */
static void batch_clear(plumb_fs_batch *batch, size_t first)
{
	for (size_t i = 0; i < batch->count; i++) {
		staged_write *w = &batch->writes[i];
		if (i >= first)
			unlinkat(batch->dirs[w->dir].fd, w->temporary, 0);
		free(w->base);
		free(w->rel);
	}
	for (size_t i = 0; i < batch->dir_count; i++) {
		close(batch->dirs[i].fd);
		free(batch->dirs[i].path);
	}
	batch->count = batch->dir_count = 0;
	batch->made = 0;
}

int plumb_fs_batch_commit(plumb_fs_batch *batch, size_t *done)
{
	int error = 0, err;
	size_t failed = 0;
	*done = 0;
	if (!batch->count && !batch->made) {
		batch_clear(batch, 0);
		return 0;
	}
	/*
	 * One flush (of each file system written to) makes every temporary file
	 * durable before any of them replaces what is there.
	 */
	if (batch->count && (err = batch_flush(batch, &failed)) != 0) {
		error = plumb_error_set(PLUMB_ERROR, "cannot flush the files written in /%s: %s",
					batch->dirs[failed].path, strerror(err));
		batch_clear(batch, 0);
		return error;
	}
	for (; *done < batch->count; (*done)++) {
		staged_write *w = &batch->writes[*done];
		int dir_fd = batch->dirs[w->dir].fd;
		if (renameat(dir_fd, w->temporary, dir_fd, w->base) < 0) {
			error = plumb_fs_errno_error(errno, "cannot rename into place", w->rel);
			break;
		}
	}
	/*
	 * The renames, and the directories made, are durable once their
	 * directories are: a second flush, not an fsync of each directory
	 * (each of which would flush the device on its own).
	 */
	batch_flush(batch, &failed);
	batch_clear(batch, *done);
	return error;
}

void plumb_fs_batch_discard(plumb_fs_batch *batch)
{
	batch_clear(batch, 0);
}

void plumb_fs_batch_free(plumb_fs_batch *batch)
{
	if (!batch)
		return;
	batch_clear(batch, 0);
	free(batch->dirs);
	free(batch->writes);
	free(batch);
}
