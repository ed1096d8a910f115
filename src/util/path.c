#include "util/common.h"
#include "util/buf.h"
#include "util/path.h"

#include <limits.h>
#include <stdlib.h>

int plumb_path_normalize(char **out, const char *path, int allow_absolute)
{
	plumb_buf norm = PLUMB_BUF_INIT;
	const char *p = path;

	*out = NULL;
	if (!*path)
		return plumb_error_set(PLUMB_EINVALID, "path is empty");
	if (strlen(path) >= PATH_MAX)
		return plumb_error_set(PLUMB_EINVALID, "path is longer than %d bytes", PATH_MAX);
	if (*path == '/' && !allow_absolute)
		return plumb_error_set(PLUMB_EINVALID, "path '%s' is absolute; it must be relative to the repository", path);

	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			plumb_buf_release(&norm);
			return plumb_error_set(PLUMB_EUNSAFE, "path '%s' has a '..' component", path);
		}
		if (len && !(len == 1 && p[0] == '.')) {
			if (norm.len)
				plumb_buf_putc(&norm, '/');
			plumb_buf_add(&norm, p, len);
		}
		p = end;
	}
	*out = plumb_buf_detach(&norm, NULL);
	return 0;
}

int plumb_path_is_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (n == 0)
		return 1;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

char *plumb_path_join(const char *a, const char *b)
{
	if (!*a)
		return plumb_xstrdup(b);
	if (!*b)
		return plumb_xstrdup(a);
	return plumb_xprintf("%s/%s", a, b);
}

char *plumb_path_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? plumb_xstrndup(path, (size_t)(slash - path)) : plumb_xstrdup("");
}

unsigned plumb_path_depth(const char *path)
{
	unsigned depth = *path ? 1 : 0;
	for (; *path; path++)
		if (*path == '/')
			depth++;
	return depth;
}

int plumb_path_compare(const char *a, const char *b)
{
	for (;; a++, b++) {
		unsigned char ca = (unsigned char)(*a == '/' ? 1 : *a), cb = (unsigned char)(*b == '/' ? 1 : *b);
		if (ca != cb || !ca)
			return ca - cb;
	}
}

char *plumb_path_resolve(const char *dir, const char *rel)
{
	if (rel[0] == '/')
		return NULL;
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_buf_puts(&out, dir);
	const char *c = rel;
	while (*c) {
		const char *end = strchr(c, '/');
		size_t n = end ? (size_t)(end - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.')) {
			/* nothing */
		} else if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (!out.len) {
				plumb_buf_release(&out);
				return NULL;
			}
			char *slash = strrchr(out.ptr, '/');
			plumb_buf_truncate(&out, slash ? (size_t)(slash - out.ptr) : 0);
		} else {
			if (out.len)
				plumb_buf_putc(&out, '/');
			plumb_buf_add(&out, c, n);
		}
		c += n;
		if (*c == '/')
			c++;
	}
	return plumb_buf_detach(&out, NULL);
}
