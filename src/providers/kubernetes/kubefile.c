#include "util/common.h"
#include "providers/kubernetes/kubefile.h"
#include "resource/spec_internal.h"
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <unistd.h>

/* Set an error "FILE:LINE:COL: message" (the position of node, where known). */
int plumb_kubefile_fail(int code, const plumb_kubefile *file, struct fy_node *node, const char *fmt, ...)
{
	plumb_position pos = plumb_spec_node_position(node, file->path);
	va_list ap;
	va_start(ap, fmt);
	char *message = NULL;
	if (vasprintf(&message, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (pos.line)
		plumb_error_set(code, "%s:%u:%u: %s", file->path, pos.line, pos.column, message);
	else
		plumb_error_set(code, "%s: %s", file->path, message);
	free(message);
	return code;
}

struct fy_node *plumb_kubefile_lookup(struct fy_node *map, const char *key)
{
	if (!map || fy_node_get_type(map) != FYNT_MAPPING)
		return NULL;
	return fy_node_mapping_lookup_value_by_simple_key(map, key, FY_NT);
}

/* A plain null (null, ~, nothing) counts as absent, as it does for kubectl. */
int plumb_kubefile_is_null(struct fy_node *node)
{
	if (!node)
		return 1;
	if (fy_node_get_type(node) != FYNT_SCALAR || fy_node_get_style(node) != FYNS_PLAIN)
		return 0;
	const char *text = fy_node_get_scalar0(node);
	return !text || !*text || !strcmp(text, "null") || !strcmp(text, "~") || !strcmp(text, "Null") ||
	       !strcmp(text, "NULL");
}

/*
 * The string at key of map (what names the mapping, for messages): *out is
 * NULL when absent, null or empty, as Go reads an unset string. An alias or
 * a collection there is an error.
 */
int plumb_kubefile_string(const char **out, const plumb_kubefile *file, struct fy_node *map, const char *what,
			  const char *key)
{
	struct fy_node *node = plumb_kubefile_lookup(map, key);
	*out = NULL;
	if (plumb_kubefile_is_null(node))
		return 0;
	if (fy_node_get_type(node) != FYNT_SCALAR || fy_node_is_alias(node))
		return plumb_kubefile_fail(PLUMB_EINVALID, file, node, "%s: %s: expected a string", what, key);
	const char *text = fy_node_get_scalar0(node);
	*out = text && *text ? text : NULL;
	return 0;
}

/* A bool at key: 0 when absent. */
int plumb_kubefile_bool(int *out, const plumb_kubefile *file, struct fy_node *map, const char *what, const char *key)
{
	const char *text;
	int error = plumb_kubefile_string(&text, file, map, what, key);
	*out = 0;
	if (error < 0 || !text)
		return error;
	if (!strcmp(text, "true"))
		*out = 1;
	else if (strcmp(text, "false") != 0)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, plumb_kubefile_lookup(map, key),
					   "%s: %s: expected true or false, got \"%.40s\"",
					   what, key, text);
	return 0;
}

/* --- reading files --------------------------------------------------------------------- */

/*
 * Read path (what it is, for messages) into out, which is grown to the
 * file's size first so that no reallocation leaves a copy of a key behind.
 * st gets the file's identity (to notice a rotated token).
 */
int plumb_kube_read_file(plumb_buf *out, struct stat *st, const char *path, const char *what)
{
	struct stat own;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (!st)
		st = &own;
	if (fd < 0)
		return plumb_error_set(errno == ENOENT ? PLUMB_ENOTFOUND : PLUMB_ERROR, "cannot read %s %s: %s", what,
				       path, strerror(errno));
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return plumb_error_set(PLUMB_ERROR, "cannot read %s %s: not a regular file", what, path);
	}
	if ((size_t)st->st_size <= PLUMB_KUBE_FILE_MAX)
		plumb_buf_grow(out, (size_t)st->st_size + 8192);
	int error = plumb_buf_read_fd(out, fd, PLUMB_KUBE_FILE_MAX);
	close(fd);
	if (error == PLUMB_EINVALID)
		return plumb_error_set(error, "%s %s is larger than %u bytes", what, path, PLUMB_KUBE_FILE_MAX);
	return error < 0 ? plumb_error_wrap(error, "cannot read %s %s", what, path) : 0;
}

/* A path a file names, relative to its folder unless absolute. A new string. */
char *plumb_kubefile_resolve(const plumb_kubefile *file, const char *path)
{
	return path[0] == '/' ? plumb_xstrdup(path) : plumb_xprintf("%s/%s", file->dir, path);
}

/* Decode base64 (line breaks allowed, as Go's decoder allows) onto out; -1 when it is not base64. */
static int decode_base64(plumb_buf *out, const char *text)
{
	size_t len = strlen(text);
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	int n = 0, total = 0, rc = -1;

	if (!ctx)
		abort();
	plumb_buf_grow(out, len + 4);
	EVP_DecodeInit(ctx);
	unsigned char *to = (unsigned char *)out->ptr + out->len;
	if (len <= INT32_MAX && EVP_DecodeUpdate(ctx, to, &n, (const unsigned char *)text, (int)len) >= 0) {
		total = n;
		if (EVP_DecodeFinal(ctx, to + total, &n) == 1) {
			total += n;
			rc = 0;
		}
	}
	EVP_ENCODE_CTX_free(ctx);
	if (rc < 0) {
		OPENSSL_cleanse(to, len);
		out->ptr[out->len] = '\0';
		return -1;
	}
	out->len += (size_t)total;
	out->ptr[out->len] = '\0';
	return 0;
}

/*
 * A certificate, key or CA given as a file (file_key) or inline base64
 * (data_key) of map: onto out. *given says whether either was there.
 */
int plumb_kubefile_material(plumb_buf *out, int *given, const plumb_kubefile *file, struct fy_node *map, const char *what,
			    const char *file_key, const char *data_key)
{
	const char *path, *data;
	int error;

	*given = 0;
	if ((error = plumb_kubefile_string(&path, file, map, what, file_key)) < 0 ||
	    (error = plumb_kubefile_string(&data, file, map, what, data_key)) < 0)
		return error;
	if (path && data)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, plumb_kubefile_lookup(map, data_key),
					   "%s: both %s and %s are set: keep one",
					   what, file_key, data_key);
	if (data) {
		*given = 1;
		if (decode_base64(out, data) < 0)
			return plumb_kubefile_fail(PLUMB_EINVALID, file, plumb_kubefile_lookup(map, data_key),
						   "%s: %s is not base64", what,
						   data_key);
	} else if (path) {
		*given = 1;
		char *full = plumb_kubefile_resolve(file, path);
		error = plumb_kube_read_file(out, NULL, full, file_key);
		free(full);
		if (error < 0)
			return plumb_kubefile_fail(error, file, plumb_kubefile_lookup(map, file_key),
						   "%s: %s", what, plumb_error_last());
	}
	return 0;
}

/* --- parsing ------------------------------------------------------------------------------ */

/* Parse file->text; a syntax error is reported at its line and column, as libfyaml found them. */
static void keep_diag_text(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	plumb_buf *out = user;
	(void)diag;
	if (out->len < 4096)
		plumb_buf_add(out, buf, len);
}

static int parse_file(plumb_kubefile *file)
{
	struct fy_diag_cfg diag_cfg;
	plumb_buf said = PLUMB_BUF_INIT;
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG | FYPCF_DEFAULT_VERSION_1_2 };
	int error = 0;

	fy_diag_cfg_default(&diag_cfg);
	diag_cfg.fp = NULL;
	diag_cfg.output_fn = keep_diag_text;
	diag_cfg.user = &said;
	diag_cfg.colorize = false;
	diag_cfg.show_source = false; /* the source line may hold a key */
	cfg.diag = fy_diag_create(&diag_cfg);
	if (!cfg.diag)
		abort();
	file->doc = fy_document_build_from_string(&cfg, file->text.ptr, file->text.len);
	if (!file->doc) {
		/* "INPUT:LINE:COL: error: MESSAGE": keep the position and the message. */
		const char *marker = strstr(said.ptr, ": error: "), *start = marker;
		unsigned line = 0, column = 0;
		for (int group = 0; start && group < 2; group++) {
			const char *digits = start;
			while (digits > said.ptr && digits[-1] >= '0' && digits[-1] <= '9')
				digits--;
			start = digits < start && digits > said.ptr && digits[-1] == ':' ? digits - 1 : NULL;
		}
		if (start && sscanf(start, ":%u:%u", &line, &column) != 2)
			line = 0;
		if (marker && line)
			error = plumb_error_set(PLUMB_EINVALID, "%s:%u:%u: not valid YAML: %.*s", file->path, line, column,
						(int)strcspn(marker + 9, "\n"), marker + 9);
		else
			error = plumb_error_set(PLUMB_EINVALID, "%s: not valid YAML", file->path);
	}
	fy_diag_destroy(cfg.diag);
	plumb_buf_release(&said);
	return error;
}

int plumb_kubefile_open(plumb_kubefile **out, const char *path, int required)
{
	plumb_kubefile *file = plumb_xcalloc(1, sizeof(*file));
	int error;

	*out = NULL;
	plumb_buf_init(&file->text);
	file->path = plumb_xstrdup(path);
	const char *slash = strrchr(path, '/');
	file->dir = slash ? plumb_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : plumb_xstrdup(".");
	error = plumb_kube_read_file(&file->text, NULL, path, "kubeconfig");
	if (error == PLUMB_ENOTFOUND && !required) {
		plumb_error_clear();
		plumb_kubefile_free(file);
		return 0;
	}
	if (error == 0)
		error = parse_file(file);
	if (error < 0) {
		plumb_kubefile_free(file);
		return error;
	}
	*out = file;
	return 0;
}

void plumb_kubefile_free(plumb_kubefile *file)
{
	if (!file)
		return;
	if (file->doc)
		fy_document_destroy(file->doc);
	plumb_buf_wipe(&file->text);
	free(file->path);
	free(file->dir);
	free(file);
}
