#include "util/common.h"
#include "load/directory.h"
#include "render/jsonnet.h"

#include <fnmatch.h>
#include <jansson.h>
#include <stdlib.h>

/* Alternatives nest at most this deep in one pattern. */
#define BRACE_DEPTH_MAX 8

void plumb_directory_filter_init(plumb_directory_filter *filter, const char *options)
{
	memset(filter, 0, sizeof(*filter));
	json_t *json = options ? json_loads(options, 0, NULL) : NULL;
	json_t *directory = json_object_get(json, "directory");
	if (json_is_object(directory)) {
		filter->given = 1;
		filter->recurse = json_is_true(json_object_get(directory, "recurse"));
		const char *include = json_string_value(json_object_get(directory, "include"));
		const char *exclude = json_string_value(json_object_get(directory, "exclude"));
		filter->include = include && *include ? plumb_xstrdup(include) : NULL;
		filter->exclude = exclude && *exclude ? plumb_xstrdup(exclude) : NULL;
	}
	json_decref(json);
}

void plumb_directory_filter_release(plumb_directory_filter *filter)
{
	free(filter->include);
	free(filter->exclude);
	memset(filter, 0, sizeof(*filter));
}

/* A glob with "{a,b}" alternatives: each alternative spelled out, then fnmatch without FNM_PATHNAME. */
static int glob_matches(const char *pattern, const char *path, int depth)
{
	const char *open = strchr(pattern, '{');
	if (!open || depth > BRACE_DEPTH_MAX)
		return fnmatch(pattern, path, 0) == 0;
	int level = 0;
	const char *close = NULL;
	for (const char *c = open; *c && !close; c++) {
		if (*c == '{')
			level++;
		else if (*c == '}' && --level == 0)
			close = c;
	}
	if (!close)
		return fnmatch(pattern, path, 0) == 0;
	const char *start = open + 1;
	level = 0;
	for (const char *c = start; c <= close; c++) {
		if (*c == '{')
			level++;
		else if (*c == '}' && level)
			level--;
		if ((*c == ',' && !level) || c == close) {
			char *spelled = plumb_xprintf("%.*s%.*s%s", (int)(open - pattern), pattern, (int)(c - start), start,
						      close + 1);
			int matched = glob_matches(spelled, path, depth + 1);
			free(spelled);
			if (matched)
				return 1;
			start = c + 1;
		}
	}
	return 0;
}

static int ends_with(const char *path, const char *suffix)
{
	size_t n = strlen(path), k = strlen(suffix);
	return n > k && !strcmp(path + n - k, suffix);
}

int plumb_directory_filter_keeps(const plumb_directory_filter *filter, const char *path)
{
	int manifest = ends_with(path, ".yaml") || ends_with(path, ".yml") || plumb_jsonnet_is_program(path) ||
		       (filter->given && ends_with(path, ".json"));
	if (!manifest || !filter->given)
		return manifest;
	if (!filter->recurse && strchr(path, '/'))
		return 0;
	if (filter->include && !glob_matches(filter->include, path, 0))
		return 0;
	return !filter->exclude || !glob_matches(filter->exclude, path, 0);
}
