/*
 * spec_internal.h - how the loader hands a YAML mapping to spec decoding.
 * Only the loader and resource/ include this; providers see plumb_spec as opaque.
 */
#ifndef PLUMB_SPEC_INTERNAL_H
#define PLUMB_SPEC_INTERNAL_H

#include <jansson.h>
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

/* Manifests nest a few levels; anything deeper is hostile or a mistake. */
#define PLUMB_SPEC_DEPTH_MAX 64

/*
 * A node as JSON: a plain scalar that reads as a boolean, null or whole
 * number is one; any other scalar is a string. NULL when it nests deeper
 * than PLUMB_SPEC_DEPTH_MAX. A new reference.
 */
json_t *plumb_spec_node_json(struct fy_node *node);

#endif
