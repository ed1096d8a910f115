#include "util/common.h"
#include "source/source.h"
#include "source/internal.h"
#include "util/buf.h"

#include <ctype.h>
#include <stdbool.h>
#include <strings.h>
#include <stdio.h>

#include <git2.h>

/* A .gitmodules of thousands of submodules is still far below this. */
#define GITMODULES_MAX (1u << 20)

typedef struct {
	char *name;
	char *path;
	char *url;
} submodule;

static void submodules_release(submodule *items, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(items[i].name);
		free(items[i].path);
		free(items[i].url);
	}
	free(items);
}

static char *trimmed(const char *start, const char *end)
{
	while (start < end && isspace((unsigned char)*start))
		start++;
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	if (end - start >= 2 && *start == '"' && end[-1] == '"') {
		start++;
		end--;
	}
	return plumb_xprintf("%.*s", (int)(end - start), start);
}

/* The [submodule "NAME"] sections of a .gitmodules: their path and url (git's config syntax, simply). */
static void parse_gitmodules(submodule **out, size_t *count, char *text)
{
	size_t capacity = 0;
	submodule *current = NULL;

	*out = NULL;
	*count = 0;
	for (char *line = text; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *p = line;
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '[') {
			current = NULL;
			char *quote = strchr(p, '"');
			char *close = quote ? strchr(quote + 1, '"') : NULL;
			if (!strncmp(p, "[submodule", 10) && quote && close) {
				PLUMB_GROW(*out, *count, capacity);
				current = &(*out)[(*count)++];
				memset(current, 0, sizeof(*current));
				current->name = plumb_xprintf("%.*s", (int)(close - quote - 1), quote + 1);
			}
		} else if (current && *p && *p != '#' && *p != ';') {
			char *equals = strchr(p, '=');
			if (equals) {
				char *key = trimmed(p, equals);
				char *value = trimmed(equals + 1, equals + strlen(equals));
				char **slot = !strcasecmp(key, "path") ? &current->path
					      : !strcasecmp(key, "url") ? &current->url
									: NULL;
				if (slot) {
					free(*slot);
					*slot = value;
					value = NULL;
				}
				free(key);
				free(value);
			}
		}
		line = next;
	}
}

/*
 * A submodule's URL: an absolute one as it is, "./x" or "../x" taken
 * against the parent's URL as git takes them (each "../" drops one
 * component of it).
 */
static char *resolve_url(const char *parent, const char *url)
{
	if (strncmp(url, "./", 2) != 0 && strncmp(url, "../", 3) != 0)
		return plumb_xstrdup(url);
	char *base = plumb_xstrdup(parent);
	size_t len = strlen(base);
	while (len && base[len - 1] == '/')
		base[--len] = '\0';
	/* Where the path starts: after "scheme://host", or after "host:" of an scp-like URL. */
	const char *scheme = strstr(base, "://");
	const char *authority = scheme ? scheme + 3 : base;
	const char *path_start = scheme ? authority + strcspn(authority, "/") : strchr(base, ':');
	size_t floor = path_start ? (size_t)(path_start - base) + (scheme ? 0 : 1) : len;
	const char *rest = url;
	for (;;) {
		if (!strncmp(rest, "./", 2)) {
			rest += 2;
		} else if (!strncmp(rest, "../", 3)) {
			char *slash = strrchr(base + floor, '/');
			base[slash ? (size_t)(slash - base) : floor] = '\0';
			rest += 3;
		} else {
			break;
		}
	}
	len = strlen(base);
	bool at_floor = !scheme && len == floor;
	char *out = plumb_xprintf("%s%s%s", base, at_floor ? "" : "/", rest);
	free(base);
	return out;
}

/* The source open on url among those already fetched, or NULL. */
static plumb_source *fetched(plumb_source *source, const char *url)
{
	for (size_t i = 0; i < source->submodule_count; i++)
		if (!strcmp(source->submodules[i]->name, url))
			return source->submodules[i];
	return NULL;
}

/* Fetch one submodule whose gitlink names commit_id, and make its objects readable through source. */
static int fetch_one(plumb_source *source, const submodule *sub, const char *commit_id)
{
	char *url = resolve_url(source->name, sub->url);
	plumb_source *module = fetched(source, url);
	git_odb *odb = NULL;
	git_oid oid;
	int error;

	if (module) {
		error = plumb_source_refresh(module);
	} else {
		error = plumb_source_open_with(&module, url, source->state_dir, source->credentials);
		if (error == 0) {
			char *objects = plumb_xprintf("%sobjects", git_repository_path(module->repo));
			if (git_repository_odb(&odb, source->repo) < 0 || git_odb_add_disk_alternate(odb, objects) < 0)
				error = plumb_source_git_fail(PLUMB_ERROR, "cannot read the objects of %s", url);
			free(objects);
			PLUMB_GROW(source->submodules, source->submodule_count, source->submodule_capacity);
			source->submodules[source->submodule_count++] = module;
		}
	}
	if (error < 0) {
		error = plumb_error_wrap(error, "submodule %s", sub->path);
		goto done;
	}
	git_oid_fromstr(&oid, commit_id);
	git_commit *commit = NULL;
	if (git_commit_lookup(&commit, module->repo, &oid) < 0) {
		git_error_clear();
		error = plumb_error_set(PLUMB_ERROR,
					"submodule %s: commit %.12s is on no branch or tag of %s, so it cannot be fetched",
					sub->path, commit_id, module->display);
	}
	git_commit_free(commit);
done:
	git_odb_free(odb);
	free(url);
	return error;
}

int plumb_source_fetch_submodules(plumb_source *source, const char *commit)
{
	plumb_source_entry entry;
	plumb_buf text = PLUMB_BUF_INIT;
	submodule *items = NULL;
	size_t count = 0;
	int error = plumb_source_stat(&entry, source, commit, ".gitmodules");

	if (error == PLUMB_ENOTFOUND)
		return 0;
	if (error < 0 || (error = plumb_source_read_blob(&text, source, entry.id, GITMODULES_MAX)) < 0)
		goto done;
	if (!source->is_url) {
		error = plumb_error_set(PLUMB_EINVALID,
					"submodules are fetched for a repository named by a URL only, not %s",
					source->display);
		goto done;
	}
	parse_gitmodules(&items, &count, text.ptr);
	for (size_t i = 0; i < count && error == 0; i++) {
		if (!items[i].path || !items[i].url)
			continue;
		plumb_source_entry link;
		int found = plumb_source_stat(&link, source, commit, items[i].path);
		if (found == PLUMB_ENOTFOUND || (found == 0 && link.type != PLUMB_ENTRY_SUBMODULE &&
						 link.type != PLUMB_ENTRY_TREE))
			continue; /* listed, but no gitlink there in this commit */
		if (found < 0) {
			error = found;
			break;
		}
		if (link.type == PLUMB_ENTRY_TREE)
			continue; /* fetched already: read as the directory it holds */
		error = fetch_one(source, &items[i], link.id);
	}
done:
	submodules_release(items, count);
	plumb_buf_release(&text);
	return error;
}
