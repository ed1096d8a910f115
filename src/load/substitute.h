/*
 * substitute.h - Flux's post-build variable substitution on the text of a
 * manifest: ${var}, ${var:=default} and ${var:-default} are replaced by the
 * variable's value (an undefined one without a default by nothing, as
 * Flux does); $${ is a literal ${. A document whose annotations say
 * kustomize.toolkit.fluxcd.io/substitute: disabled is left as written.
 * $var without braces is left as written.
 */
#ifndef PLUMB_LOAD_SUBSTITUTE_H
#define PLUMB_LOAD_SUBSTITUTE_H

#include <stddef.h>

#include "util/buf.h"

#define PLUMB_SUBSTITUTE_DISABLED "kustomize.toolkit.fluxcd.io/substitute: disabled"

/* text (len bytes, one YAML document or many) with vars (a JSON object of strings) substituted, appended to out. */
void plumb_substitute(plumb_buf *out, const char *text, size_t len, const char *vars);

#endif
