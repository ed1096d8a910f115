/*
 * jsonnet_child.h - a jsonnet file evaluated in a process of its own, so
 * that a program that never ends, or grows without bound, is stopped as
 * kustomize and helm are: at the render time limit, at the output cap, and
 * at a memory limit. Internal to render/, and to the hidden command that is
 * the child (cmd/jsonnet_evaluate.c), which evaluates with jsonnet.h.
 *
 * The parent runs this program again (plumb_render_options.self) as
 *
 *   SELF __jsonnet-evaluate GIT_DIR COMMIT FILE APP_PATH OPTIONS OUTPUT_MAX
 *
 * GIT_DIR the repository the parent reads (source.h's plumb_source_git_dir),
 * OPTIONS Argo CD's directory.jsonnet as JSON ("" for none: it comes from
 * git, nothing in it is secret), in a process group of its own with no
 * environment but PATH and HOME that lead nowhere (and the sanitizers'
 * options of a test build). The child evaluates in its own thread (jsonnet.h,
 * no cache) under an address space limit, then prints a report on its
 * standard output and exits 0. Each record of the report is a header line,
 * then as many bytes as it says:
 *
 *   lookup N\n PATH                                  a path it looked up
 *   diag LINE COLUMN NFILE NMESSAGE\n FILE MESSAGE   a diagnostic
 *   error CODE N\n MESSAGE                           the repository could not be read
 *   output N\n YAML                                  the manifests, last
 *
 * The parent looks each path up again with plumb_source_stat, so that a
 * caller recording lookups (source.h) records what the child read.
 */
#ifndef PLUMB_RENDER_JSONNET_CHILD_H
#define PLUMB_RENDER_JSONNET_CHILD_H

#include "render/render.h"
#include "source/source.h"
#include "util/buf.h"
#include "util/diag.h"

/* The hidden command the child runs as; help does not list it. */
#define PLUMB_JSONNET_CHILD_COMMAND "__jsonnet-evaluate"

/* Address space the child may map beyond what it has mapped when it starts. */
#define PLUMB_JSONNET_MEMORY_MAX (2ull << 30)

/*
 * Evaluate file in a child (options->self), as plumb_jsonnet_evaluate
 * does: its manifests appended to out and every path it looked up to
 * lookups (each looked up again here). Returns 0; PLUMB_EINVALID with
 * diagnostics added (the program's errors, or "FILE (jsonnet): jsonnet
 * evaluation did not finish within N ms", printed too much, failed); or
 * another code with the message in the error slot (the child could not be
 * started, the repository could not be read).
 */
int plumb_jsonnet_child_run(plumb_buf *out, plumb_source_lookups *lookups, plumb_source *source, const char *commit,
			    const char *file, const char *app_path, const char *jsonnet_options,
			    const plumb_render_options *options, plumb_diags *diags);

/*
 * The child's limits, set before it evaluates: its address space capped at
 * what it maps now plus PLUMB_JSONNET_MEMORY_MAX, and killed when plumb
 * dies.
 */
void plumb_jsonnet_child_limit(void);

/*
 * The child's report appended to out: every lookup, every diagnostic, and
 * what plumb_jsonnet_evaluate returned (error): the message in the error
 * slot for a code other than PLUMB_EINVALID, yaml for 0.
 */
void plumb_jsonnet_child_report(plumb_buf *out, int error, const plumb_buf *yaml, const plumb_source_lookups *lookups,
				const plumb_diags *diags);

#endif
