/*
 * fs.h - file operations confined beneath a root directory.
 *
 * Every live path plumb touches is a normalised relative path (util/path.h)
 * resolved beneath an open root directory one component at a time with
 * O_NOFOLLOW, so neither a ".." nor a symlink planted in the live tree can
 * lead a read or a write outside the root. Writes are atomic: content goes
 * to a temporary file in the same directory, gets its mode and owner, is
 * fsynced, and is renamed over the target; the directory is then fsynced.
 * A reader therefore sees the old object or the new one, never a mix.
 *
 * Temporary files are named ".plumb-tmp.*" so that they can be recognised.
 * A root_fd of -1 stands for a root that does not exist yet: every path
 * beneath it is absent (PLUMB_ENOTFOUND), so plans can be made before it is.
 *
 * uid or gid (uid_t)-1 / (gid_t)-1 means "leave as is"; mode (mode_t)-1
 * means "leave as is", or the given default on create.
 *
 * Reading many paths in one pass: fs_cursor.h. Writing many files made
 * durable at once: fs_batch.h.
 */
#ifndef PLUMB_UTIL_FS_H
#define PLUMB_UTIL_FS_H

#include <sys/stat.h>
#include <sys/types.h>

#include "util/buf.h"
#include "util/common.h"

#define PLUMB_FS_TEMP_PREFIX ".plumb-tmp."
#define PLUMB_FS_KEEP ((mode_t)-1)

/*
 * mkdir -p of an absolute or relative path (not beneath a root: for roots,
 * the state directory and the cache): directories it makes get mode; ones
 * that exist are fine. PLUMB_ERROR naming the first that cannot be made.
 */
int plumb_fs_make_directories(const char *dir, mode_t mode);

/*
 * Atomically write a file at an ordinary path given by the user (a plan
 * file, a patch), not beneath a root: its directory must exist.
 */
int plumb_fs_write_path(const char *path, const void *data, size_t len, mode_t mode);

/* Open root as a directory; with create, make it and its parents (0755). */
int plumb_fs_open_root(int *fd_out, const char *root, int create);

/*
 * Open the directory that holds rel beneath root_fd. *base_out points into
 * rel at its last component. With create, missing directories are made
 * (0755, owned by the caller). Errors: PLUMB_ENOTFOUND (a component is
 * missing), PLUMB_EUNSAFE (a component is a symlink: never followed),
 * PLUMB_ECONFLICT (a component is not a directory).
 */
int plumb_fs_open_parent(int *dir_fd_out, const char **base_out, int root_fd, const char *rel, int create);

/* lstat of rel beneath root_fd: PLUMB_ENOTFOUND when it (or a parent) does not exist. */
int plumb_fs_lstat(struct stat *st, int root_fd, const char *rel);

/* Read a regular file (never through a symlink), at most max bytes. */
int plumb_fs_read(plumb_buf *out, int root_fd, const char *rel, size_t max);

/*
 * Read the first max bytes of a regular file (never through a symlink),
 * however large it is; *truncated says whether it holds more. For showing
 * the start of what may be too large to show whole.
 */
int plumb_fs_read_head(plumb_buf *out, int *truncated, int root_fd, const char *rel, size_t max);

/* The target of a symlink, as a new string. */
int plumb_fs_readlink(char **out, int root_fd, const char *rel);

/*
 * Atomically create or replace the file rel with data. mode PLUMB_FS_KEEP
 * keeps the mode of the file replaced, or 0644 for a new one. Missing parent
 * directories are created. Refuses (PLUMB_ECONFLICT) to replace a directory.
 */
int plumb_fs_write_file(int root_fd, const char *rel, const void *data, size_t len, mode_t mode, uid_t uid,
			gid_t gid);

/* Atomically create or replace rel with a symlink to target (written as is). */
int plumb_fs_write_symlink(int root_fd, const char *rel, const char *target);

/*
 * Make sure rel is a directory (mode PLUMB_FS_KEEP: 0755 on create) and set
 * its mode and owner. A symlink there is replaced (its target is untouched);
 * anything else that is not a directory is PLUMB_ECONFLICT.
 */
int plumb_fs_make_directory(int root_fd, const char *rel, mode_t mode, uid_t uid, gid_t gid);

/*
 * Remove rel: a file or symlink is unlinked; a directory is removed when
 * empty, or with everything below it when recursive. A missing rel is not
 * an error. Never follows a symlink.
 */
int plumb_fs_remove(int root_fd, const char *rel, int recursive);

/*
 * Remove the temporary files an interrupted write left in the directory
 * dir (beneath root_fd; "" is the root): ".plumb-tmp.PID.*" entries whose
 * process is gone. Returns how many were removed; a missing directory has none.
 */
int plumb_fs_remove_stale_temporaries(int root_fd, const char *dir);

/* Resolve an owner or group given by name or number; PLUMB_ENOTFOUND if unknown. */
int plumb_fs_lookup_user(uid_t *out, const char *name);
int plumb_fs_lookup_group(gid_t *out, const char *name);

#endif
