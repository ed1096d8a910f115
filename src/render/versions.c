#include "util/common.h"
#include "render/versions.h"
#include "util/clock.h"

#include <stdlib.h>

/* How long a version is believed: a daemon notices an upgraded program within this. */
#define VERSION_KEPT_SECONDS 60

typedef struct {
	char *program;
	char *option; /* "" for none */
	char *version;
	int64_t asked; /* plumb_monotonic_ms */
} known_version;

struct plumb_render_versions {
	known_version *items;
	size_t count;
	size_t capacity;
};

plumb_render_versions *plumb_render_versions_new(void)
{
	return plumb_xcalloc(1, sizeof(plumb_render_versions));
}

void plumb_render_versions_free(plumb_render_versions *versions)
{
	if (!versions)
		return;
	for (size_t i = 0; i < versions->count; i++) {
		free(versions->items[i].program);
		free(versions->items[i].option);
		free(versions->items[i].version);
	}
	free(versions->items);
	free(versions);
}

static known_version *find_version(plumb_render_versions *versions, const char *program, const char *option)
{
	for (size_t i = 0; versions && i < versions->count; i++) {
		known_version *known = &versions->items[i];
		if (!strcmp(known->program, program) && !strcmp(known->option, option ? option : ""))
			return known;
	}
	return NULL;
}

const char *plumb_render_versions_find(plumb_render_versions *versions, const char *program, const char *option)
{
	known_version *known = find_version(versions, program, option);
	return known && plumb_monotonic_ms() - known->asked < VERSION_KEPT_SECONDS * 1000 ? known->version : NULL;
}

void plumb_render_versions_put(plumb_render_versions *versions, const char *program, const char *option,
			       const char *version)
{
	if (!versions)
		return;
	known_version *known = find_version(versions, program, option);
	if (!known) {
		PLUMB_GROW(versions->items, versions->count, versions->capacity);
		known = &versions->items[versions->count++];
		known->program = plumb_xstrdup(program);
		known->option = plumb_xstrdup(option ? option : "");
		known->version = NULL;
	}
	free(known->version);
	known->version = plumb_xstrdup(version);
	known->asked = plumb_monotonic_ms();
}
