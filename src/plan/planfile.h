/*
 * planfile.h - plans as reviewable artifacts.
 *
 * A plan file is one JSON document (docs/plan-format.md): the format name
 * and version, what the plan is bound to (repository, revision, commit,
 * path, application, destination root), the summary, every action that
 * changes something with the fingerprint of the live object it observed,
 * and a SHA-256 checksum over all of that. A file that was edited,
 * truncated or written by another format version is refused.
 *
 * Applying a saved plan re-plans the same commit and requires the result
 * to be exactly the saved plan: the same actions on the same objects, each
 * object still as it was observed. Anything else is stale.
 */
#ifndef PLUMB_PLANFILE_H
#define PLUMB_PLANFILE_H

#include "plan/plan.h"
#include "util/buf.h"

#define PLUMB_PLAN_FORMAT "plumb-plan"
#define PLUMB_PLAN_FORMAT_VERSION 1
/* The largest plan file plumb reads. */
#define PLUMB_PLAN_FILE_MAX (256u << 20)

/* The plan file document, indented JSON ending in a newline; a new string. */
char *plumb_planfile_format(const plumb_plan *plan);

/* Write the plan file atomically to path, mode 0600. */
int plumb_planfile_write(const plumb_plan *plan, const char *path);

/*
 * Read and verify the plan file at path into out (zeroed by the caller;
 * release with plumb_plan_release). Actions come back without objects: for
 * showing and comparing. PLUMB_EINVALID with a message naming the file and
 * what is wrong (not JSON, not a plan, other version, checksum mismatch, a
 * missing or mistyped field).
 */
int plumb_planfile_read(plumb_plan *out, const char *path);

/* The same, from a plan document held in memory; name stands for it in messages. */
int plumb_planfile_parse(plumb_plan *out, const char *text, size_t len, const char *name);

/*
 * Compare a saved plan with a fresh plan of the same commit. Every
 * difference is appended to stale as one line naming the object; returns
 * how many there were (0: the saved plan is exactly what would be done).
 */
unsigned plumb_planfile_compare(const plumb_plan *saved, const plumb_plan *fresh, plumb_buf *stale);

#endif
