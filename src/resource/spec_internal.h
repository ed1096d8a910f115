/*
 * spec_internal.h - how the loader hands a YAML mapping to spec decoding.
 * Only the loader and resource/ include this; providers see plumb_spec as opaque.
 */
#ifndef PLUMB_SPEC_INTERNAL_H
#define PLUMB_SPEC_INTERNAL_H

#include <libfyaml.h>

#include "resource/spec.h"

struct plumb_spec {
	struct fy_node *node; /* a mapping, or NULL when the manifest has no such field */
	const char *file;     /* the manifest's path in the repository */
	const char *name;     /* dotted field name, e.g. "spec" */
	plumb_position position;
	char *owned_name;     /* for a nested mapping: its name ("spec.source"), freed with it */
};

/* The position of a node (line and column from 1). */
plumb_position plumb_spec_node_position(struct fy_node *node, const char *file);

#endif
