/*
 * substitute.h - Flux's post-build variable substitution on the text of a
 * manifest, as Flux runs it (drone's envsubst over each document):
 *
 *   ${var}                         the value (an undefined variable's: nothing)
 *   ${var:=w} ${var:-w} ${var=w}   w when the value is empty (also :? and :+,
 *                                  which envsubst reads the same way)
 *   ${#var}                        the value's length
 *   ${var^} ${var^^} ${var,} ${var,,}   the first (or every) letter upper or lower case
 *   ${var:pos} ${var:pos:len}      a part of the value
 *   ${var#p} ${var##p} ${var%p} ${var%%p}   the shortest or longest prefix or
 *                                  suffix that matches the pattern p removed
 *   ${var/a/b} ${var//a/b} ${var/#a/b} ${var/%a/b}   the first, every, a
 *                                  leading or a trailing a replaced by b
 *
 * An argument may itself be a ${...}. $$ is a $ (so $${var} is the text
 * ${var}), and \\ and \/ are \ and /; $var without braces is text. A "${"
 * that is none of these is a bad substitution, which fails the document, as
 * it fails Flux's build. A document whose annotations or labels say
 * kustomize.toolkit.fluxcd.io/substitute: disabled is left as written.
 */
#ifndef PLUMB_LOAD_SUBSTITUTE_H
#define PLUMB_LOAD_SUBSTITUTE_H

#include <stddef.h>

#include "util/buf.h"

#define PLUMB_SUBSTITUTE_DISABLED "kustomize.toolkit.fluxcd.io/substitute: disabled"

/* Whether name may be a variable, as Flux requires of every one: letters, digits and _, not first a digit. */
int plumb_substitute_valid_name(const char *name);

/* Where a substitution failed: the line of its "${" in the text, and the text from there (to the line's end, cut). */
typedef struct {
	unsigned line;
	char near[48];
} plumb_substitute_failure;

/*
 * text (len bytes, one YAML document or many) with vars (a JSON object of
 * strings) substituted, appended to out. Returns 0, or PLUMB_EINVALID at
 * the first bad substitution (*failure says where; out holds part).
 */
int plumb_substitute(plumb_buf *out, const char *text, size_t len, const char *vars, plumb_substitute_failure *failure);

#endif
