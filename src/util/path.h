/*
 * path.h - paths that cannot escape their root.
 *
 * Manifests name live paths relative to the destination root ("/etc/motd"
 * means ROOT/etc/motd) and content by repository path ("files/motd"). Both
 * are normalised here into a canonical relative form: no leading or
 * trailing slash, no empty or "." components, and never a ".." component,
 * so that joining one to its root can only land beneath it.
 */
#ifndef PLUMB_UTIL_PATH_H
#define PLUMB_UTIL_PATH_H

/*
 * Normalise a path under a root. A leading "/" is allowed (it means the
 * root) when allow_absolute is true. On success *out is a new string ("" for
 * the root itself). Fails with PLUMB_EINVALID and a message saying why for
 * "..", an absolute path where none is allowed, NUL-free but empty input, or
 * a path longer than PATH_MAX.
 */
int plumb_path_normalize(char **out, const char *path, int allow_absolute);

/* True when path equals dir or lies below it (both normalised; "" is the root). */
int plumb_path_is_within(const char *path, const char *dir);

/* "a/b" + "c" = "a/b/c"; either may be "". Returns a new string. */
char *plumb_path_join(const char *a, const char *b);

/*
 * rel (a relative path as a file of folder dir writes it: "../base")
 * resolved against dir, ".." popping a component. Returns a new string (""
 * for the root), or NULL when it climbs above the root or is absolute.
 */
char *plumb_path_resolve(const char *dir, const char *rel);

/* The parent of a normalised path ("" for a top-level name); a new string. */
char *plumb_path_dirname(const char *path);

/* Number of components of a normalised path (0 for ""). */
unsigned plumb_path_depth(const char *path);

/*
 * Order paths so that everything below a path follows it directly ("a",
 * "a/b", "a-c"): like strcmp, but "/" sorts before every other byte.
 */
int plumb_path_compare(const char *a, const char *b);

#endif
