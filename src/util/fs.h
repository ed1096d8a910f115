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
 * A cursor keeps the directories of the last paths looked up open, so that
 * a run of lookups in one folder (paths in sorted order) walks to it once
 * instead of once a path. It holds two, as a walk in path order goes back
 * and forth between a folder (for its subfolders) and one of those (for
 * what they hold), and opens a folder beneath one it holds from there. It
 * is for reading only: a directory removed or replaced after the cursor
 * opened it is still the one it reads, so a cursor lives for one pass of
 * observation, never across changes.
 */
#define PLUMB_FS_CURSOR_DIRS 2
typedef struct {
	int root_fd; /* borrowed */
	char *dirs[PLUMB_FS_CURSOR_DIRS]; /* the relative paths of the directories held open, or NULL */
	int dir_fds[PLUMB_FS_CURSOR_DIRS];
	unsigned last; /* the one used last */
} plumb_fs_cursor;

void plumb_fs_cursor_init(plumb_fs_cursor *cursor, int root_fd);
void plumb_fs_cursor_release(plumb_fs_cursor *cursor);

/* plumb_fs_lstat, plumb_fs_read and plumb_fs_readlink through a cursor. */
int plumb_fs_cursor_lstat(plumb_fs_cursor *cursor, struct stat *st, const char *rel);
int plumb_fs_cursor_read(plumb_fs_cursor *cursor, plumb_buf *out, const char *rel, size_t max);
int plumb_fs_cursor_readlink(plumb_fs_cursor *cursor, char **out, const char *rel);

/* The git blob id of a regular file's content, and the stat of the file it opened. */
int plumb_fs_cursor_hash(plumb_fs_cursor *cursor, char out[PLUMB_OID_HEXSZ + 1], struct stat *st_out,
			 const char *rel);

/*
 * Atomically create or replace the file rel with data. mode PLUMB_FS_KEEP
 * keeps the mode of the file replaced, or 0644 for a new one. Missing parent
 * directories are created. Refuses (PLUMB_ECONFLICT) to replace a directory.
 */
int plumb_fs_write_file(int root_fd, const char *rel, const void *data, size_t len, mode_t mode, uid_t uid,
			gid_t gid);

/*
 * A batch of file writes made durable together, so that a thousand files
 * cost one flush instead of a thousand. plumb_fs_batch_write does what
 * plumb_fs_write_file does up to the rename: content, mode and owner in a
 * temporary file beside the target, not yet flushed. plumb_fs_batch_commit
 * then flushes each file system the batch writes to once (syncfs), renames
 * each temporary file into place in the order written, and flushes them
 * again: after a crash every file is old or new, as with
 * plumb_fs_write_file. Directories made with plumb_fs_batch_make_directory
 * are made durable by that second flush too.
 */
typedef struct plumb_fs_batch plumb_fs_batch;

/* Writes and open directories a batch should hold at most before it is committed. */
#define PLUMB_FS_BATCH_MAX_WRITES 4096
#define PLUMB_FS_BATCH_MAX_DIRS 256

/* A batch beneath root_fd (borrowed: the caller closes it after plumb_fs_batch_free). */
plumb_fs_batch *plumb_fs_batch_new(int root_fd);
int plumb_fs_batch_root(const plumb_fs_batch *batch);
size_t plumb_fs_batch_count(const plumb_fs_batch *batch);
/* Whether it holds as much as it should (see the maxima above). */
int plumb_fs_batch_full(const plumb_fs_batch *batch);
int plumb_fs_batch_write(plumb_fs_batch *batch, const char *rel, const void *data, size_t len, mode_t mode,
			 uid_t uid, gid_t gid);
/*
 * Commit every write; *done counts those now in place, in order. On a
 * failure (the error names the file) the writes after it are taken back.
 * The batch is empty afterwards either way, ready for more.
 */
int plumb_fs_batch_commit(plumb_fs_batch *batch, size_t *done);
/*
 * plumb_fs_make_directory, made durable by the batch's next commit instead
 * of at once; the directory is there (to write into) when this returns.
 */
int plumb_fs_batch_make_directory(plumb_fs_batch *batch, const char *rel, mode_t mode, uid_t uid, gid_t gid);
/* Take back every write not committed (their temporary files removed); the batch stays, empty. */
void plumb_fs_batch_discard(plumb_fs_batch *batch);

/* Free a batch; writes not committed are taken back (their temporary files removed). */
void plumb_fs_batch_free(plumb_fs_batch *batch);

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
