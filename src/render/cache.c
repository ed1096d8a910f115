#include "util/common.h"
#include "render/cache.h"
#include "util/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY_SECONDS 86400
/* A read entry is touched when it was last touched longer ago than this: one metadata write an hour at most. */
#define TOUCH_AFTER_SECONDS 3600
#define SWEPT_NAME ".swept"
/* More days than this read as the most: an entry is then kept for centuries. */
#define DAYS_MAX 100000u

int plumb_render_cache_read(plumb_buf *out, const char *state_dir, const char *key, size_t max)
{
	char *path = plumb_xprintf("%s/render/%s.yaml", state_dir, key);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return PLUMB_ENOTFOUND;
	size_t before = out->len;
	int error = plumb_buf_read_fd(out, fd, max);
	struct stat st;
	/* Failing to touch it costs one render, after a sweep a week away at the soonest. */
	if (error == 0 && fstat(fd, &st) == 0 && st.st_mtime < time(NULL) - TOUCH_AFTER_SECONDS)
		futimens(fd, NULL);
	close(fd);
	if (error < 0) {
		plumb_buf_truncate(out, before);
		return PLUMB_ENOTFOUND;
	}
	return 0;
}

void plumb_render_cache_write(const char *state_dir, const char *key, const plumb_buf *data)
{
	char *dir = plumb_xprintf("%s/render", state_dir);
	char *path = plumb_xprintf("%s/%s.yaml", dir, key);
	if (plumb_fs_make_directories(dir, 0700) == 0 && plumb_fs_write_path(path, data->ptr, data->len, 0600) == 0)
		plumb_render_cache_sweep(state_dir);
	free(path);
	free(dir);
}

/* $PLUMB_RENDER_CACHE_DAYS when it is a whole number, else the default; 0 keeps every entry. */
static unsigned cache_days(void)
{
	const char *text = getenv("PLUMB_RENDER_CACHE_DAYS");
	char *end;
	if (!text || *text < '0' || *text > '9')
		return PLUMB_RENDER_CACHE_DAYS;
	unsigned long days = strtoul(text, &end, 10);
	if (*end)
		return PLUMB_RENDER_CACHE_DAYS;
	return days > DAYS_MAX ? DAYS_MAX : (unsigned)days;
}

/* KEY.yaml, KEY the 64 hex digits of a sha256. */
static int is_entry(const char *name)
{
	for (int i = 0; i < 64; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return !strcmp(name + 64, ".yaml");
}

unsigned plumb_render_cache_sweep(const char *state_dir)
{
	unsigned days = cache_days(), removed = 0;
	char *dir = plumb_xprintf("%s/render", state_dir);
	char *swept = plumb_xprintf("%s/" SWEPT_NAME, dir);
	time_t now = time(NULL);
	struct stat st;
	DIR *d = NULL;

	if (!days || (stat(swept, &st) == 0 && st.st_mtime > now - DAY_SECONDS))
		goto done;
	/* Claimed first: the other processes sharing the state directory do not sweep it too. */
	int fd = open(swept, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		goto done;
	futimens(fd, NULL);
	close(fd);
	if (!(d = opendir(dir)))
		goto done;
	time_t oldest = now - (time_t)days * DAY_SECONDS;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!is_entry(e->d_name) && strncmp(e->d_name, PLUMB_FS_TEMP_PREFIX, strlen(PLUMB_FS_TEMP_PREFIX)) != 0)
			continue;
		/* An entry read since the listing was made is touched, and kept. */
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
		    st.st_mtime > oldest)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			removed++;
	}
done:
	if (d)
		closedir(d);
	free(swept);
	free(dir);
	return removed;
}
