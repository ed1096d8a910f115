#include "util/common.h"
#include "render/job.h"
#include "util/path.h"

#include <stdlib.h>

void plumb_render_job_release(plumb_render_job *job)
{
	for (size_t i = 0; i < job->input_count; i++)
		free(job->inputs[i]);
	free(job->inputs);
	free(job->path);
	free(job->program);
	free(job->version);
	free(job->release);
	free(job->namespace);
	free(job->options);
	free(job->values);
	free(job->remote);
	free(job->pinned);
	free(job->helm_command);
	for (size_t i = 0; i < job->chart_home_count; i++)
		free(job->chart_homes[i]);
	free(job->chart_homes);
	for (size_t i = 0; i < job->dependency_source_count; i++)
		free(job->dependency_sources[i]);
	free(job->dependency_sources);
	memset(job, 0, sizeof(*job));
}

void plumb_render_args_add(plumb_render_args *args, const char *text)
{
	PLUMB_GROW(args->items, args->count, args->capacity);
	args->items[args->count++] = plumb_xstrdup(text ? text : "");
}

void plumb_render_args_release(plumb_render_args *args)
{
	for (size_t i = 0; i < args->count; i++)
		free(args->items[i]);
	free(args->items);
	memset(args, 0, sizeof(*args));
}

int plumb_render_has_input(const plumb_render_job *job, const char *path)
{
	for (size_t i = 0; i < job->input_count; i++)
		if (plumb_path_is_within(path, job->inputs[i]))
			return 1;
	return 0;
}

void plumb_render_add_input(plumb_render_job *job, const char *path)
{
	if (plumb_render_has_input(job, path))
		return;
	/* A folder holds what was taken from inside it before: the copy writes each path once. */
	for (size_t i = 0; i < job->input_count;) {
		if (plumb_path_is_within(job->inputs[i], path)) {
			free(job->inputs[i]);
			job->inputs[i] = job->inputs[--job->input_count];
		} else {
			i++;
		}
	}
	PLUMB_GROW(job->inputs, job->input_count, job->input_capacity);
	job->inputs[job->input_count++] = plumb_xstrdup(path);
}

char *plumb_render_trimmed_stderr(const plumb_buf *error)
{
	size_t n = error->len;
	while (n && (error->ptr[n - 1] == '\n' || error->ptr[n - 1] == ' '))
		n--;
	if (n > PLUMB_RENDER_STDERR_SHOWN)
		return plumb_xprintf("%.*s ...", PLUMB_RENDER_STDERR_SHOWN, error->ptr);
	return n ? plumb_xstrndup(error->ptr, n) : plumb_xstrdup("(nothing on standard error)");
}

int plumb_render_program_failed(plumb_diags *diags, plumb_position pos, const char *command,
				const plumb_process_result *result, unsigned timeout_ms, size_t output_max)
{
	if (result->timed_out) {
		plumb_diags_add(diags, pos, "%s did not finish within %u ms", command, timeout_ms);
	} else if (output_max && result->overflowed) {
		plumb_diags_add(diags, pos, "%s printed more than %zu bytes", command, output_max);
	} else if (!result->exited || result->status != 0) {
		char *shown = plumb_render_trimmed_stderr(&result->error);
		plumb_diags_add(diags, pos, "%s failed (%s %d): %s", command, result->exited ? "exit" : "signal",
				result->status, shown);
		free(shown);
	} else {
		return 0;
	}
	return 1;
}
