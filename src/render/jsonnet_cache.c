#include "util/common.h"
#include "render/jsonnet_cache.h"
#include "render/cache.h"

#define HEADER "# plumb jsonnet evaluation\n"
#define LOOKUP "# lookup "

/* Whether the lookup written on line (without its prefix) finds the same entry in commit now. */
static int still_holds(const char *line, size_t len, plumb_source *source, const char *commit)
{
	char *text = plumb_xstrndup(line, len);
	char id[PLUMB_OID_HEXSZ + 1];
	int found, type, offset = 0, holds = 0;
	/* FOUND TYPE ID PATH: the path is the rest of the line, spaces and all. */
	if (sscanf(text, "%d %d %40s %n", &found, &type, id, &offset) == 3 && offset > 0 && text[offset]) {
		plumb_source_entry entry;
		int error = plumb_source_stat(&entry, source, commit, text + offset);
		if (!found)
			holds = error == PLUMB_ENOTFOUND || error == PLUMB_EINVALID;
		else
			holds = error == 0 && (int)entry.type == type && !strcmp(entry.id, id);
	}
	free(text);
	return holds;
}

int plumb_jsonnet_cache_read(plumb_buf *out, const char *state_dir, const char *key, plumb_source *source,
			     const char *commit, size_t max)
{
	plumb_buf entry = PLUMB_BUF_INIT;
	int error = plumb_render_cache_read(&entry, state_dir, key, max + (1u << 20));
	if (error < 0 || strncmp(entry.ptr, HEADER, strlen(HEADER)) != 0) {
		plumb_buf_release(&entry);
		return PLUMB_ENOTFOUND;
	}
	const char *line = entry.ptr + strlen(HEADER), *end = entry.ptr + entry.len;
	while (line < end && !strncmp(line, LOOKUP, strlen(LOOKUP))) {
		const char *stop = memchr(line, '\n', (size_t)(end - line));
		if (!stop || !still_holds(line + strlen(LOOKUP), (size_t)(stop - line) - strlen(LOOKUP), source, commit)) {
			plumb_buf_release(&entry);
			return PLUMB_ENOTFOUND;
		}
		line = stop + 1;
	}
	if ((size_t)(end - line) > max) {
		plumb_buf_release(&entry);
		return PLUMB_ENOTFOUND;
	}
	plumb_buf_add(out, line, (size_t)(end - line));
	plumb_buf_release(&entry);
	return 0;
}

void plumb_jsonnet_cache_write(const char *state_dir, const char *key, const plumb_source_lookups *lookups,
			       const plumb_buf *output)
{
	plumb_buf entry = PLUMB_BUF_INIT;
	plumb_buf_puts(&entry, HEADER);
	for (size_t i = 0; i < lookups->count; i++) {
		const plumb_source_lookup *lookup = &lookups->items[i];
		/* A path that a line cannot hold is not kept: the next command evaluates again. */
		if (strchr(lookup->path, '\n') || !*lookup->path || lookup->path[0] == ' ') {
			plumb_buf_release(&entry);
			return;
		}
		plumb_buf_printf(&entry, LOOKUP "%d %d %s %s\n", lookup->found, (int)lookup->type,
				 lookup->found ? lookup->id : "-", lookup->path);
	}
	plumb_buf_add(&entry, output->ptr, output->len);
	plumb_render_cache_write(state_dir, key, &entry);
	plumb_buf_release(&entry);
}
