#include "util/common.h"
#include "serve/watch.h"
#include "util/path.h"

#include <sys/inotify.h>
#include <unistd.h>

#define WATCH_MASK                                                                                                 \
	(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | \
	 IN_ONLYDIR | IN_DONT_FOLLOW)

/* One watched directory. */
typedef struct {
	char *path; /* absolute */
	int wd;     /* its watch descriptor */
} watched;

struct plumb_watch {
	int fd; /* -1 while inotify cannot be had */
	watched *items; /* sorted by path */
	size_t count;
	int changed; /* a change was queued before plumb's own writes */
};

plumb_watch *plumb_watch_new(void)
{
	plumb_watch *watch = plumb_xcalloc(1, sizeof(*watch));
	watch->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	return watch;
}

void plumb_watch_free(plumb_watch *watch)
{
	if (!watch)
		return;
	for (size_t i = 0; i < watch->count; i++)
		free(watch->items[i].path);
	free(watch->items);
	if (watch->fd >= 0)
		close(watch->fd);
	free(watch);
}

int plumb_watch_fd(const plumb_watch *watch)
{
	return watch->fd;
}

static int compare_paths(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int compare_watched(const void *a, const void *b)
{
	return strcmp(((const watched *)a)->path, ((const watched *)b)->path);
}

static int compare_wds(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

/* Append the directories of the objects the inventory lists for a, as absolute paths, to *paths. */
static void add_directories(char ***paths, size_t *count, size_t *capacity, plumb_store *store, const app_state *a)
{
	plumb_inventory inventory = { 0 };
	if (plumb_store_inventory_list(&inventory, store, a->destination, a->name) == 0) {
		for (size_t i = 0; i < inventory.count; i++) {
			const plumb_inventory_entry *entry = &inventory.items[i];
			char *dir = plumb_path_dirname(entry->key);
			const char *dirs[2] = { dir, !strcmp(entry->kind, "Directory") ? entry->key : NULL };
			for (size_t k = 0; k < 2 && dirs[k]; k++) {
				PLUMB_GROW(*paths, *count, *capacity);
				(*paths)[(*count)++] = *dirs[k] ? plumb_xprintf("%s/%s", a->destination, dirs[k])
								: plumb_xstrdup(a->destination);
			}
			free(dir);
		}
	}
	plumb_inventory_release(&inventory);
}

/*
 * The directories of what d's applications manage, each once (many
 * objects share one), sorted: *out gets a new array of new strings.
 * Returns how many.
 */
static size_t managed_directories(char ***out, daemon_state *d)
{
	char **paths = NULL;
	size_t count = 0, capacity = 0, unique = 0;

	/* A cluster's objects are watched by its own destination (kept open): no directory holds them. */
	for (size_t a = 0; a < d->app_count; a++)
		if (!d->apps[a]->declared.kubernetes)
			add_directories(&paths, &count, &capacity, d->store, d->apps[a]);
	if (count)
		qsort(paths, count, sizeof(*paths), compare_paths);
	for (size_t i = 0; i < count; i++) {
		if (unique && !strcmp(paths[i], paths[unique - 1]))
			free(paths[i]);
		else
			paths[unique++] = paths[i];
	}
	*out = paths;
	return unique;
}

unsigned plumb_watch_update(plumb_watch *watch, daemon_state *d)
{
	char **paths = NULL;
	unsigned added = 0;

	if (watch->fd < 0 && (watch->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		return 0;
	size_t unique = managed_directories(&paths, d);

	/* inotify_add_watch answers a directory already watched with its watch, queued events and all. */
	watched *next = plumb_xcalloc(unique ? unique : 1, sizeof(*next));
	int *kept_wds = plumb_xcalloc(unique ? unique : 1, sizeof(*kept_wds));
	size_t next_count = 0;
	for (size_t i = 0; i < unique; i++) {
		int wd = next_count < PLUMB_WATCH_MAX ? inotify_add_watch(watch->fd, paths[i], WATCH_MASK) : -1;
		if (wd < 0) {
			free(paths[i]); /* gone, not a directory, or past the limit: the periodic check sees to it */
			continue;
		}
		watched key = { paths[i], wd };
		const watched *before = watch->count ? bsearch(&key, watch->items, watch->count, sizeof(*watch->items),
							       compare_watched)
						     : NULL;
		if (!before || before->wd != wd)
			added++;
		kept_wds[next_count] = wd;
		next[next_count++] = key;
	}
	free(paths);

	/* A watch that no wanted directory holds any more goes (one path may reach another's directory). */
	if (next_count)
		qsort(kept_wds, next_count, sizeof(*kept_wds), compare_wds);
	for (size_t i = 0; i < watch->count; i++) {
		int wd = watch->items[i].wd;
		if (!next_count || !bsearch(&wd, kept_wds, next_count, sizeof(*kept_wds), compare_wds))
			inotify_rm_watch(watch->fd, wd);
		free(watch->items[i].path);
	}
	free(watch->items);
	free(kept_wds);
	watch->items = next;
	watch->count = next_count;
	return added;
}

/*
 * Read every queued event; 1 when one shows a change. IN_IGNORED only
 * says that a watch went (removed here, or its directory deleted, which
 * IN_DELETE_SELF has said already).
 */
static int read_events(plumb_watch *watch)
{
	_Alignas(struct inotify_event) char buffer[4096];
	int changed = 0;
	ssize_t len;

	if (watch->fd < 0)
		return 0;
	while ((len = read(watch->fd, buffer, sizeof(buffer))) > 0) {
		for (ssize_t at = 0; at + (ssize_t)sizeof(struct inotify_event) <= len;) {
			const struct inotify_event *event = (const struct inotify_event *)(buffer + at);
			if (!(event->mask & IN_IGNORED))
				changed = 1;
			at += (ssize_t)(sizeof(*event) + event->len);
		}
	}
	return changed;
}

void plumb_watch_before_writes(plumb_watch *watch)
{
	if (read_events(watch))
		watch->changed = 1;
}

void plumb_watch_after_writes(plumb_watch *watch)
{
	read_events(watch);
}

int plumb_watch_changed(plumb_watch *watch)
{
	int changed = read_events(watch) || watch->changed;
	watch->changed = 0;
	return changed;
}
