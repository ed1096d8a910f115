#include "util/common.h"
#include "load/located.h"
#include "load/internal.h"
#include "resource/field.h"

void plumb_located_init(plumb_located *located, const plumb_resource *resource, plumb_source *source)
{
	memset(located, 0, sizeof(*located));
	located->resource = resource;
	located->source = source;
}

/* Read the manifest once: whether its text is there. */
static int read_text(plumb_located *located)
{
	const plumb_resource *r = located->resource;
	if (!located->read) {
		located->read = located->source && r->blob[0] &&
					plumb_source_read_blob(&located->text, located->source, r->blob, PLUMB_MANIFEST_MAX) == 0
				? 1
				: -1;
		plumb_error_clear();
	}
	return located->read > 0;
}

plumb_position plumb_located_field(plumb_located *located, const char *field)
{
	const plumb_resource *r = located->resource;
	plumb_position document = { r->file, r->line, r->column }, at = document;
	if (read_text(located))
		plumb_field_locate(&at, located->text.ptr, located->text.len, document, field);
	return at;
}

int plumb_located_readable(plumb_located *located)
{
	return read_text(located);
}

char *plumb_located_scalar(plumb_located *located, const char *field)
{
	const plumb_resource *r = located->resource;
	plumb_position document = { r->file, r->line, r->column };
	return read_text(located) ? plumb_field_scalar(located->text.ptr, located->text.len, document, field) : NULL;
}

void plumb_located_release(plumb_located *located)
{
	plumb_buf_wipe(&located->text);
}
