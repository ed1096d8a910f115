/*
 * fs_cursor.h - reading many paths beneath one root, walking to each folder once.
 *
 * A cursor keeps the directories of the last paths looked up open, so that
 * a run of lookups in one folder (paths in sorted order) walks to it once
 * instead of once a path. It holds two, as a walk in path order goes back
 * and forth between a folder (for its subfolders) and one of those (for
 * what they hold), and opens a folder beneath one it holds from there. It
 * is for reading only: a directory removed or replaced after the cursor
 * opened it is still the one it reads, so a cursor lives for one pass of
 * observation, never across changes.
 *
 * Paths are resolved as fs.h resolves them (never through a symlink, never
 * out of the root), and each function answers as its fs.h namesake does,
 * with the same errors.
 */
#ifndef PLUMB_UTIL_FS_CURSOR_H
#define PLUMB_UTIL_FS_CURSOR_H

#include <sys/stat.h>

#include "util/buf.h"
#include "util/common.h"

#define PLUMB_FS_CURSOR_DIRS 2
typedef struct {
	int root_fd; /* borrowed */
	char *dirs[PLUMB_FS_CURSOR_DIRS]; /* the relative paths of the directories held open, or NULL */
	int dir_fds[PLUMB_FS_CURSOR_DIRS];
	unsigned last; /* the one used last */
} plumb_fs_cursor;

/* A cursor beneath root_fd (borrowed: the caller closes it after plumb_fs_cursor_release). */
void plumb_fs_cursor_init(plumb_fs_cursor *cursor, int root_fd);
/* Close the directories it holds; it is then as if initialised beneath no root (-1). */
void plumb_fs_cursor_release(plumb_fs_cursor *cursor);

/* plumb_fs_lstat, plumb_fs_read and plumb_fs_readlink through a cursor. */
int plumb_fs_cursor_lstat(plumb_fs_cursor *cursor, struct stat *st, const char *rel);
int plumb_fs_cursor_read(plumb_fs_cursor *cursor, plumb_buf *out, const char *rel, size_t max);
int plumb_fs_cursor_readlink(plumb_fs_cursor *cursor, char **out, const char *rel);

/* The git blob id of a regular file's content, and the stat of the file it opened. */
int plumb_fs_cursor_hash(plumb_fs_cursor *cursor, char out[PLUMB_OID_HEXSZ + 1], struct stat *st_out,
			 const char *rel);

#endif
