/*
 * located.h - where a field of a document the loader read is written,
 * found when a diagnostic needs it: loading keeps each document's
 * position, not every field's (resource/field.h), so the manifest is read
 * again from the source by its blob, once per document asked about; so
 * is a value load masks (a Secret's) when one is needed.
 */
#ifndef PLUMB_LOAD_LOCATED_H
#define PLUMB_LOAD_LOCATED_H

#include "resource/resource.h"
#include "source/source.h"
#include "util/buf.h"
#include "util/diag.h"

typedef struct {
	const plumb_resource *resource;
	plumb_source *source; /* NULL: every field is placed at the document */
	plumb_buf text;
	int read; /* 0 not yet, 1 read, -1 not readable (a rendered document has no blob) */
} plumb_located;

/* Fields of resource, its manifest read from source (NULL: none) when first asked. */
void plumb_located_init(plumb_located *located, const plumb_resource *resource, plumb_source *source);

/* Where field (a path from the document's root, as resource/field.h names one) is written, else the document. */
plumb_position plumb_located_field(plumb_located *located, const char *field);

/* Whether the manifest can be read again (a rendered document cannot: it has no blob). */
int plumb_located_readable(plumb_located *located);

/*
 * The scalar at field as the manifest writes it, unmasked (a Secret's
 * value, which load masks): a new string, or NULL when there is none or
 * the manifest cannot be read.
 */
char *plumb_located_scalar(plumb_located *located, const char *field);

/* Free the manifest's text, wiped: it may hold a Secret's values. */
void plumb_located_release(plumb_located *located);

#endif
