/*
 * kubefile.h - one kubeconfig file: read, parsed with libfyaml, and its
 * fields read as kubectl reads them (a null or empty string is unset),
 * every error placed at the file, line and column it concerns.
 *
 * kubeconfig.c merges files and chooses a context with these; nothing
 * outside src/providers/kubernetes/ includes this. The file's text is
 * wiped when it is freed: it may hold keys and tokens, and no message made
 * here quotes a value that may be one.
 */
#ifndef PLUMB_KUBE_KUBEFILE_H
#define PLUMB_KUBE_KUBEFILE_H

#include <libfyaml.h>
#include <sys/stat.h>

#include "util/buf.h"

/* The largest kubeconfig, certificate, key or token file plumb reads. */
#define PLUMB_KUBE_FILE_MAX (16u << 20)

typedef struct {
	char *path;
	char *dir;      /* what its relative paths are relative to */
	plumb_buf text; /* kept while doc lives: the document points into it */
	struct fy_document *doc;
} plumb_kubefile;

/*
 * Read and parse path. A missing file is *out NULL and 0 unless required
 * (PLUMB_ENOTFOUND). PLUMB_EINVALID for YAML that does not parse, at the
 * line and column libfyaml gives.
 */
int plumb_kubefile_open(plumb_kubefile **out, const char *path, int required);

/* NULL-safe. */
void plumb_kubefile_free(plumb_kubefile *file);

/* Set "FILE:LINE:COL: message" (node's position; "FILE: message" without one) and return code. */
int plumb_kubefile_fail(int code, const plumb_kubefile *file, struct fy_node *node, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The value at key of a mapping; NULL when map is not one or has no such key. */
struct fy_node *plumb_kubefile_lookup(struct fy_node *map, const char *key);

/* A plain null (null, ~, nothing) or no node at all: absent, as for kubectl. */
int plumb_kubefile_is_null(struct fy_node *node);

/*
 * The string at key of map (what names the mapping in messages): *out is
 * NULL when absent, null or empty; borrowed from the document. An alias
 * or a collection there is PLUMB_EINVALID.
 */
int plumb_kubefile_string(const char **out, const plumb_kubefile *file, struct fy_node *map, const char *what,
			  const char *key);

/* true or false at key; *out 0 when absent. */
int plumb_kubefile_bool(int *out, const plumb_kubefile *file, struct fy_node *map, const char *what, const char *key);

/* A path file names, relative to its folder unless absolute. A new string. */
char *plumb_kubefile_resolve(const plumb_kubefile *file, const char *path);

/*
 * A certificate, key or CA given as a file (file_key, read) or inline
 * base64 (data_key, decoded) of map, appended to out; *given says whether
 * either was there. Both at once is PLUMB_EINVALID.
 */
int plumb_kubefile_material(plumb_buf *out, int *given, const plumb_kubefile *file, struct fy_node *map,
			    const char *what, const char *file_key, const char *data_key);

/*
 * Append the regular file at path (what it is, for messages) to out, at
 * most PLUMB_KUBE_FILE_MAX bytes; out is grown to its size first, so that
 * no reallocation leaves a copy of a key behind. st (may be NULL) gets the
 * file's identity. PLUMB_ENOTFOUND when it does not exist.
 */
int plumb_kube_read_file(plumb_buf *out, struct stat *st, const char *path, const char *what);

#endif
