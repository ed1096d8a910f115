/*
 * job.h - a render job's inputs and a program's arguments: what render.c
 * and the modules that know one renderer's options (helm.c,
 * kustomize_edit.c) build a job with.
 */
#ifndef PLUMB_RENDER_JOB_H
#define PLUMB_RENDER_JOB_H

#include <stddef.h>

#include "util/buf.h"
#include "util/diag.h"
#include "util/process.h"

/* One folder to render: what it reaches, and the key of its output. */
typedef struct {
	const char *renderer; /* "kustomize" or "helm" */
	char *path;           /* the folder, normalised */
	char *program;
	char *version;
	char *release;   /* helm: the release name */
	char *namespace; /* helm: the release's namespace */
	char *options;   /* the target's options (helm: the value files that exist), or NULL */
	char *values;    /* helm: the inline values the options give, or NULL */
	int fetch_dependencies; /* helm: dependencies not vendored are fetched into the copy first */
	char **dependency_sources; /* helm: where they come from: REPO/NAME of a registry, a repository's URL */
	size_t dependency_source_count;
	char *remote;           /* helm: a chart of a Helm repository, "REPO CHART@VERSION", fetched by helm; NULL: a folder */
	char *pinned;           /* helm: the release the remote chart's version range was pinned to, or NULL */
	char *helm_command;     /* kustomize: the helm (absolute) that inflates its helmCharts, or NULL: none has any */
	char **chart_homes;     /* kustomize: folders of the copy its helmCharts are pulled into, when fetching is allowed */
	size_t chart_home_count;
	char **inputs; /* repository paths the copy holds, sorted */
	size_t input_count;
	size_t input_capacity;
	char key[65]; /* sha256 hex of what determines the output */
} plumb_render_job;

void plumb_render_job_release(plumb_render_job *job);

/* Whether job's copy holds path already (it, or a folder above it, is an input). */
int plumb_render_has_input(const plumb_render_job *job, const char *path);

/* Add path (a repository file or folder) to what job's copy holds, unless a folder it holds already has it. */
void plumb_render_add_input(plumb_render_job *job, const char *path);

/* A list of strings, each owned. */
typedef struct {
	char **items;
	size_t count;
	size_t capacity;
} plumb_render_args;

void plumb_render_args_add(plumb_render_args *args, const char *text);

/* The first PLUMB_RENDER_STDERR_SHOWN bytes of what a renderer printed on standard error, for a diagnostic; a new string. */
#define PLUMB_RENDER_STDERR_SHOWN 1500
char *plumb_render_trimmed_stderr(const plumb_buf *error);
void plumb_render_args_release(plumb_render_args *args);

/*
 * Whether result, of command run with timeout_ms (and output_max, when its
 * cap is to be reported: 0 else), says it failed: then a diagnostic at pos
 * says how, as every renderer reports it (not finished in time, printed
 * more than it may, or its exit status and the start of its stderr).
 */
int plumb_render_program_failed(plumb_diags *diags, plumb_position pos, const char *command,
				const plumb_process_result *result, unsigned timeout_ms, size_t output_max);

#endif
