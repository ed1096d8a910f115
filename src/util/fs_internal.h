/*
 * fs_internal.h - what fs.c lends the directory cursor (fs_cursor.c) and
 * the write batch (fs_batch.c): the operations on one entry of a directory
 * already open, which each of them reaches in its own way, and the error
 * they all report. Nothing outside src/util/fs*.c includes this.
 *
 * dir_fd is the open directory that holds base, rel the whole path beneath
 * the root, for messages only. Every function here returns 0 or a negative
 * code with the message set, as fs.h's do.
 */
#ifndef PLUMB_UTIL_FS_INTERNAL_H
#define PLUMB_UTIL_FS_INTERNAL_H

#include <limits.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/common.h"

/* "WHAT /REL: strerror(err)": PLUMB_ENOTFOUND when err is ENOENT, else PLUMB_ERROR. */
int plumb_fs_errno_error(int err, const char *what, const char *rel);

/* lstat of base. */
int plumb_fs_lstat_in(struct stat *st, int dir_fd, const char *base, const char *rel);

/* Open the regular file base read-only, never through a symlink; the caller closes *fd_out. */
int plumb_fs_open_regular_in(int *fd_out, struct stat *st, int dir_fd, const char *base, const char *rel);

/* Append the regular file base (never through a symlink), at most max bytes, to out. */
int plumb_fs_read_in(plumb_buf *out, int dir_fd, const char *base, const char *rel, size_t max);

/* The target of the symlink base, as a new string. */
int plumb_fs_readlink_in(char **out, int dir_fd, const char *base, const char *rel);

/*
 * Put data in a new temporary file beside base, with its mode and owner
 * (the file is never visible with the wrong ones), fsynced when durable;
 * its name goes to tmp. Removed again on failure. PLUMB_ECONFLICT when base
 * is a directory.
 */
int plumb_fs_write_temporary(char tmp[NAME_MAX + 1], int dir_fd, const char *base, const char *rel, const void *data,
			     size_t len, mode_t mode, uid_t uid, gid_t gid, int durable);

/* plumb_fs_make_directory of base, short of making it durable (no fsync of dir_fd). */
int plumb_fs_make_directory_in(int dir_fd, const char *base, const char *rel, mode_t mode, uid_t uid, gid_t gid);

#endif
