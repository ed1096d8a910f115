#include "util/common.h"
#include "serve/config.h"
#include "resource/spec_internal.h"
#include "util/buf.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int plumb_config_load(plumb_value *values, const plumb_field *fields, size_t count, const char *path,
		      plumb_diags *diags)
{
	return plumb_config_load_with(values, fields, count, path, diags, NULL, NULL);
}

int plumb_config_load_with(plumb_value *values, const plumb_field *fields, size_t count, const char *path,
			   plumb_diags *diags, void (*nested)(const plumb_value *values, plumb_diags *diags, void *payload),
			   void *payload)
{
	plumb_buf text = PLUMB_BUF_INIT;
	struct fy_document *doc = NULL;
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 };
	plumb_position top = { path, 0, 0 };
	size_t before = diags->count;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int error = 0;

	memset(values, 0, count * sizeof(*values));
	if (fd < 0)
		return plumb_error_set(PLUMB_ENOTFOUND, "cannot read %s: %s", path, strerror(errno));
	error = plumb_buf_read_fd(&text, fd, PLUMB_CONFIG_MAX);
	close(fd);
	if (error < 0) {
		error = plumb_error_wrap(error, "%s", path);
		goto done;
	}
	doc = fy_document_build_from_string(&cfg, text.ptr, text.len);
	if (!doc) {
		plumb_diags_add(diags, top, "not valid YAML");
		error = PLUMB_EINVALID;
		goto done;
	}
	struct fy_node *root = fy_document_root(doc);
	plumb_spec spec = { root, path, "config", root ? plumb_spec_node_position(root, path) : top, NULL };
	if (root)
		plumb_spec_decode(values, &spec, fields, count, diags);
	if (nested && diags->count == before)
		nested(values, diags, payload);
	/* A mapping outlives the document only as its JSON. */
	for (size_t i = 0; i < count; i++)
		if (values[i].map) {
			values[i].string = plumb_spec_json(values[i].map);
			plumb_values_release(&(plumb_value){ .map = values[i].map }, 1);
			values[i].map = NULL;
		}
	if (diags->count > before)
		error = PLUMB_EINVALID;
done:
	if (doc)
		fy_document_destroy(doc);
	plumb_buf_release(&text);
	return error;
}
