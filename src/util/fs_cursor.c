#include "util/common.h"
#include "util/fs_cursor.h"
#include "util/fs.h"
#include "util/fs_internal.h"
#include "util/hash.h"

#include <stdlib.h>
#include <unistd.h>

void plumb_fs_cursor_init(plumb_fs_cursor *cursor, int root_fd)
{
	cursor->root_fd = root_fd;
	for (size_t i = 0; i < PLUMB_FS_CURSOR_DIRS; i++) {
		cursor->dirs[i] = NULL;
		cursor->dir_fds[i] = -1;
	}
	cursor->last = 0;
}

void plumb_fs_cursor_release(plumb_fs_cursor *cursor)
{
	for (size_t i = 0; i < PLUMB_FS_CURSOR_DIRS; i++) {
		if (cursor->dir_fds[i] >= 0)
			close(cursor->dir_fds[i]);
		free(cursor->dirs[i]);
	}
	plumb_fs_cursor_init(cursor, -1);
}

/*
 * The parent directory of rel, open and borrowed from the cursor: one it
 * holds when it has one, else opened (from the deepest directory it holds
 * above it, or from the root) and held in place of the one used less
 * recently.
 */
static int parent_of(int *dir_fd, const char **base, plumb_fs_cursor *cursor, const char *rel)
{
	const char *slash = strrchr(rel, '/');
	size_t len = slash ? (size_t)(slash - rel) : 0;
	size_t from_len = 0;
	int from = -1;
	for (unsigned i = 0; i < PLUMB_FS_CURSOR_DIRS; i++) {
		if (cursor->dir_fds[i] < 0)
			continue;
		size_t n = strlen(cursor->dirs[i]);
		if (n == len && !strncmp(cursor->dirs[i], rel, len)) {
			cursor->last = i;
			*dir_fd = cursor->dir_fds[i];
			*base = slash ? slash + 1 : rel;
			return 0;
		}
		if (n && n < len && rel[n] == '/' && !strncmp(cursor->dirs[i], rel, n) && n > from_len) {
			from = (int)i;
			from_len = n;
		}
	}
	int fd;
	int error = from >= 0 ? plumb_fs_open_parent(&fd, base, cursor->dir_fds[from], rel + from_len + 1, 0) : -1;
	/* From the root otherwise, and after a failure, whose message then names the whole path. */
	if (error < 0 && (error = plumb_fs_open_parent(&fd, base, cursor->root_fd, rel, 0)) < 0)
		return error;
	_Static_assert(PLUMB_FS_CURSOR_DIRS == 2, "the one used less recently is the other one");
	unsigned slot = cursor->dir_fds[0] < 0 ? 0 : cursor->dir_fds[1] < 0 ? 1 : 1 - cursor->last;
	if (cursor->dir_fds[slot] >= 0)
		close(cursor->dir_fds[slot]);
	free(cursor->dirs[slot]);
	cursor->dirs[slot] = plumb_xstrndup(rel, len);
	cursor->dir_fds[slot] = *dir_fd = fd;
	cursor->last = slot;
	return 0;
}

int plumb_fs_cursor_lstat(plumb_fs_cursor *cursor, struct stat *st, const char *rel)
{
	int dir_fd;
	const char *base;
	int error = parent_of(&dir_fd, &base, cursor, rel);
	return error < 0 ? error : plumb_fs_lstat_in(st, dir_fd, base, rel);
}

int plumb_fs_cursor_read(plumb_fs_cursor *cursor, plumb_buf *out, const char *rel, size_t max)
{
	int dir_fd;
	const char *base;
	int error = parent_of(&dir_fd, &base, cursor, rel);
	return error < 0 ? error : plumb_fs_read_in(out, dir_fd, base, rel, max);
}

int plumb_fs_cursor_readlink(plumb_fs_cursor *cursor, char **out, const char *rel)
{
	int dir_fd;
	const char *base;
	int error = parent_of(&dir_fd, &base, cursor, rel);
	return error < 0 ? error : plumb_fs_readlink_in(out, dir_fd, base, rel);
}

int plumb_fs_cursor_hash(plumb_fs_cursor *cursor, char out[PLUMB_OID_HEXSZ + 1], struct stat *st_out, const char *rel)
{
	int dir_fd, fd;
	const char *base;
	int error = parent_of(&dir_fd, &base, cursor, rel);
	if (error < 0 || (error = plumb_fs_open_regular_in(&fd, st_out, dir_fd, base, rel)) < 0)
		return error;
	error = plumb_hash_blob_fd(out, fd, (size_t)st_out->st_size);
	close(fd);
	if (error < 0)
		return plumb_error_wrap(error, "cannot read /%s", rel);
	return 0;
}
