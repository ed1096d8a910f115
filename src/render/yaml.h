/*
 * yaml.h - a JSON value, as libfyaml parsed it, written as block YAML that
 * reads back to the same value: what a renderer that prints JSON
 * (render/jsonnet.h) hands the loader, so that its objects read and are
 * placed as a YAML manifest's are.
 *
 * A key or a string is written plain only when nothing could read it as
 * another value or as YAML syntax (it starts with a letter, "_" or "/",
 * holds only letters, digits and "_.-/", and is no word YAML 1.1 or 1.2
 * reads as a boolean or null); otherwise double-quoted, escaped as JSON
 * escapes it. Numbers, booleans and null are written as the JSON text had
 * them, so a number keeps its digits.
 */
#ifndef PLUMB_RENDER_YAML_H
#define PLUMB_RENDER_YAML_H

#include <libfyaml.h>

#include "util/buf.h"

/* node (a mapping, a sequence or a scalar of a JSON document) appended to out as block YAML, ending in a newline. */
void plumb_render_yaml_write(plumb_buf *out, struct fy_node *node);

#endif
