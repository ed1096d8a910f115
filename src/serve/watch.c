#include "util/common.h"
#include "serve/watch.h"
#include "util/path.h"

#include <sys/inotify.h>
#include <unistd.h>

/* Watches on directories of managed objects, at most. */
#define MAX_WATCHES 8192

static void add_watch(int fd, const char *destination, const char *dir, unsigned *count)
{
	if (*count >= MAX_WATCHES)
		return;
	char *path = *dir ? plumb_xprintf("%s/%s", destination, dir) : plumb_xstrdup(destination);
	uint32_t mask = IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
			IN_DELETE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW;
	if (inotify_add_watch(fd, path, mask) >= 0)
		(*count)++;
	free(path);
}

void plumb_watch_managed(daemon_state *d)
{
	unsigned count = 0;

	if (d->inotify_fd >= 0)
		close(d->inotify_fd);
	d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	for (size_t a = 0; d->inotify_fd >= 0 && a < d->app_count; a++) {
		const app_state *app = d->apps[a];
		plumb_inventory inventory = { 0 };
		if (plumb_store_inventory_list(&inventory, d->store, app->destination, app->name) == 0) {
			for (size_t i = 0; i < inventory.count; i++) {
				char *dir = plumb_path_dirname(inventory.items[i].key);
				add_watch(d->inotify_fd, app->destination, dir, &count);
				if (!strcmp(inventory.items[i].kind, "Directory"))
					add_watch(d->inotify_fd, app->destination, inventory.items[i].key, &count);
				free(dir);
			}
		}
		plumb_inventory_release(&inventory);
	}
}
