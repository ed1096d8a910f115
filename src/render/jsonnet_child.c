#include "util/common.h"
#include "render/jsonnet_child.h"
#include "render/job.h"
#include "util/process.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

/* The report's room beyond the output: lookups and diagnostics. */
#define REPORT_EXTRA (16u << 20)

/* --- the child ------------------------------------------------------------------------------ */

/*
 * Cap the address space at what is mapped now plus PLUMB_JSONNET_MEMORY_MAX:
 * counted from now, since a sanitizer's shadow memory is mapped before main.
 */
static void limit_memory(void)
{
	unsigned long long pages = 0;
	FILE *statm = fopen("/proc/self/statm", "re");
	if (!statm)
		return;
	int read = fscanf(statm, "%llu", &pages);
	fclose(statm);
	long page_size = sysconf(_SC_PAGESIZE);
	if (read != 1 || page_size <= 0)
		return;
	struct rlimit limit;
	limit.rlim_cur = limit.rlim_max = (rlim_t)(pages * (unsigned long long)page_size + PLUMB_JSONNET_MEMORY_MAX);
	setrlimit(RLIMIT_AS, &limit);
}

void plumb_jsonnet_child_limit(void)
{
	limit_memory();
	/* A plumb that dies while it waits leaves no evaluation running on its own. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

void plumb_jsonnet_child_report(plumb_buf *out, int error, const plumb_buf *yaml, const plumb_source_lookups *lookups,
				const plumb_diags *diags)
{
	for (size_t i = 0; i < lookups->count; i++)
		plumb_buf_printf(out, "lookup %zu\n%s", strlen(lookups->items[i].path), lookups->items[i].path);
	for (size_t i = 0; i < diags->count; i++) {
		const plumb_diag *d = &diags->items[i];
		const char *file = d->file ? d->file : "";
		plumb_buf_printf(out, "diag %u %u %zu %zu\n%s%s", d->line, d->column, strlen(file), strlen(d->message),
				 file, d->message);
	}
	if (error < 0 && error != PLUMB_EINVALID) {
		const char *message = plumb_error_last();
		plumb_buf_printf(out, "error %d %zu\n%s", -error, strlen(message), message);
	}
	if (error == 0) {
		plumb_buf_printf(out, "output %zu\n", yaml->len);
		plumb_buf_add(out, yaml->ptr, yaml->len);
	}
}

/* --- the parent ----------------------------------------------------------------------------- */

/* A path the child looked up, looked up here again: recorded, and kept in lookups for the cache. */
static int look_up(plumb_source_lookups *lookups, plumb_source *source, const char *commit, const char *path)
{
	plumb_source_entry entry;
	int error = plumb_source_stat(&entry, source, commit, path);
	if (error < 0 && error != PLUMB_ENOTFOUND && error != PLUMB_EINVALID)
		return error;
	PLUMB_GROW(lookups->items, lookups->count, lookups->capacity);
	plumb_source_lookup *lookup = &lookups->items[lookups->count++];
	memset(lookup, 0, sizeof(*lookup));
	lookup->path = plumb_xstrdup(path);
	lookup->found = error == 0;
	lookup->type = error == 0 ? entry.type : PLUMB_ENTRY_FILE;
	if (error == 0)
		memcpy(lookup->id, entry.id, sizeof(lookup->id));
	return 0;
}

/* The records of a report, and how many numbers each one's header holds. */
static const struct {
	const char *name;
	int numbers;
} record_kinds[] = { { "lookup", 1 }, { "diag", 4 }, { "error", 2 }, { "output", 1 } };

/* A header's numbers after its kind: 1 when there are exactly count of them. */
static int header_numbers(const char *text, unsigned long long *numbers, int count)
{
	for (int i = 0; i < count; i++) {
		char *end;
		if (*text != ' ' || text[1] < '0' || text[1] > '9')
			return 0;
		errno = 0;
		numbers[i] = strtoull(text + 1, &end, 10);
		if (errno)
			return 0;
		text = end;
	}
	return *text == '\0';
}

/*
 * The child's report read: the output appended to out, each path looked up
 * again, each diagnostic added. Returns 0, PLUMB_EINVALID (diagnostics, or
 * a report that does not read: then *malformed), or the code the child or
 * a lookup here failed with.
 */
static int read_report(plumb_buf *out, plumb_source_lookups *lookups, const plumb_buf *report,
		       plumb_source *source, const char *commit, plumb_diags *diags, int *malformed)
{
	size_t at = 0, diags_before = diags->count;
	int error = 0, child_error = 0, has_output = 0;
	char *child_message = NULL;

	*malformed = 0;
	while (at < report->len && error == 0) {
		const char *line = report->ptr + at;
		const char *newline = memchr(line, '\n', report->len - at);
		if (!newline || has_output)
			goto bad;
		char *header = plumb_xstrndup(line, (size_t)(newline - line));
		const char *kind_end = strchr(header, ' ');
		size_t kind_len = kind_end ? (size_t)(kind_end - header) : strlen(header);
		unsigned long long n[4] = { 0, 0, 0, 0 };
		int numbers = 0;
		for (size_t k = 0; k < PLUMB_ARRAY_SIZE(record_kinds); k++)
			if (strlen(record_kinds[k].name) == kind_len && !strncmp(header, record_kinds[k].name, kind_len))
				numbers = record_kinds[k].numbers;
		int fits = numbers && header_numbers(header + kind_len, n, numbers);
		char kind = header[0];
		free(header);
		at = (size_t)(newline - report->ptr) + 1;
		size_t left = report->len - at;
		unsigned long long size = kind == 'd' ? n[2] + n[3] : kind == 'e' ? n[1] : n[0];
		if (!fits || n[2] > left || n[3] > left || size > left)
			goto bad;
		const char *body = report->ptr + at;
		at += (size_t)size;
		if (kind == 'l') {
			char *path = plumb_xstrndup(body, (size_t)n[0]);
			error = look_up(lookups, source, commit, path);
			free(path);
		} else if (kind == 'd') {
			char *file = plumb_xstrndup(body, (size_t)n[2]);
			plumb_position pos = { *file ? file : NULL, n[0] > UINT_MAX ? 0 : (unsigned)n[0],
					       n[1] > UINT_MAX ? 0 : (unsigned)n[1] };
			char *message = plumb_xstrndup(body + n[2], (size_t)n[3]);
			plumb_diags_add(diags, pos, "%s", message);
			free(message);
			free(file);
		} else if (kind == 'e') {
			free(child_message);
			child_message = plumb_xstrndup(body, (size_t)n[1]);
			/* The report carries one of our codes, negated; EINVALID is what diagnostics say. */
			child_error = n[0] >= 1 && n[0] <= 7 && n[0] != 3 ? -(int)n[0] : PLUMB_ERROR;
		} else {
			plumb_buf_add(out, body, (size_t)n[0]);
			has_output = 1;
		}
	}
	if (error < 0)
		goto done;
	if (child_message) {
		error = plumb_error_set(child_error, "%s", child_message);
		goto done;
	}
	if (diags->count > diags_before) {
		error = PLUMB_EINVALID;
		goto done;
	}
	if (has_output)
		goto done;
bad:
	*malformed = 1;
	error = PLUMB_EINVALID;
done:
	free(child_message);
	return error;
}

/*
 * The environment of the child: nothing of plumb's (no credentials), but
 * how its own sanitizers report when it was built with them.
 */
static char **child_environment(void)
{
	static const char *const kept[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
	char **envp = plumb_xcalloc(PLUMB_ARRAY_SIZE(kept) + 3, sizeof(*envp));
	size_t n = 0;
	envp[n++] = plumb_xstrdup("PATH=/nonexistent");
	envp[n++] = plumb_xstrdup("HOME=/nonexistent");
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(kept); i++) {
		const char *value = getenv(kept[i]);
		if (value)
			envp[n++] = plumb_xprintf("%s=%s", kept[i], value);
	}
	return envp;
}

int plumb_jsonnet_child_run(plumb_buf *out, plumb_source_lookups *lookups, plumb_source *source, const char *commit,
			    const char *file, const char *app_path, const char *jsonnet_options,
			    const plumb_render_options *options, plumb_diags *diags)
{
	char *where = plumb_xprintf("%s (jsonnet)", file);
	plumb_position pos = { where, 0, 0 };
	unsigned timeout_ms = plumb_render_timeout(options);
	size_t output_max = plumb_render_output_max(options);
	/* YAML may be longer than the JSON that was capped, and lookups come with it. */
	size_t report_max = output_max > (SIZE_MAX - REPORT_EXTRA) / 2 ? SIZE_MAX : output_max * 2 + REPORT_EXTRA;
	char *max_text = plumb_xprintf("%zu", output_max);
	char *const argv[] = { (char *)options->self,
			       PLUMB_JSONNET_CHILD_COMMAND,
			       (char *)plumb_source_git_dir(source),
			       (char *)commit,
			       (char *)file,
			       (char *)(app_path ? app_path : ""),
			       (char *)(jsonnet_options ? jsonnet_options : ""),
			       max_text,
			       NULL };
	char **envp = child_environment();
	plumb_process_result result;
	plumb_buf report = PLUMB_BUF_INIT;
	size_t diags_before = diags->count;
	int malformed = 0, error;

	error = plumb_process_run_env(&result, &report, argv, envp, timeout_ms, report_max);
	for (char **e = envp; *e; e++)
		free(*e);
	free(envp);
	free(max_text);
	if (error < 0)
		goto done;
	if (!plumb_render_program_failed(diags, pos, "jsonnet evaluation", &result, timeout_ms, report_max)) {
		error = read_report(out, lookups, &report, source, commit, diags, &malformed);
		if (malformed)
			plumb_diags_add(diags, pos, "jsonnet evaluation's report could not be read");
	}
	if (diags->count > diags_before && (result.timed_out || result.overflowed || malformed ||
					   !result.exited || result.status != 0)) {
		/*
		 * What it looked up is not known: the whole tree stands for it,
		 * so that any other commit evaluates the file again.
		 */
		plumb_source_entry top;
		plumb_source_stat(&top, source, commit, "");
	}
	if (error == 0 && diags->count > diags_before)
		error = PLUMB_EINVALID;
	plumb_process_result_release(&result);
done:
	plumb_buf_release(&report);
	free(where);
	return error;
}
