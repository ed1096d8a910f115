/*
 * fs_batch.h - file writes beneath a root made durable together.
 *
 * A batch of file writes made durable together, so that a thousand files
 * cost one flush instead of a thousand. plumb_fs_batch_write does what
 * plumb_fs_write_file (fs.h) does up to the rename: content, mode and owner
 * in a temporary file beside the target, not yet flushed.
 * plumb_fs_batch_commit then flushes each file system the batch writes to
 * once (syncfs), renames each temporary file into place in the order
 * written, and flushes them again: after a crash every file is old or new,
 * as with plumb_fs_write_file. Directories made with
 * plumb_fs_batch_make_directory are made durable by that second flush too.
 *
 * Paths, modes, owners and errors are as in fs.h.
 */
#ifndef PLUMB_UTIL_FS_BATCH_H
#define PLUMB_UTIL_FS_BATCH_H

#include <sys/types.h>

#include "util/common.h"

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

#endif
