/*
 * jqpath.h - the jq path expressions an application's ignoreDifferences
 * names fields with (Argo CD's jqPathExpressions), the part of jq they are
 * written in:
 *
 *   .a.b  .["a-b"]  .a[0]  .a[]  .a[]?  .a?     paths, iterations
 *   EXPR | EXPR                                  a pipe
 *   select(PATH == LITERAL)  select(PATH != LITERAL)  select(PATH)
 *   ... and / or between conditions               (and binds tighter)
 *
 * LITERAL is a "string", a number, true, false or null. What an expression
 * reaches in an object is a list of JSON pointers, which ignore.c treats as
 * it treats the jsonPointers written: a field that is not there is reached
 * by nothing, and a list or mapping met where the other is wanted too.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_JQPATH_H
#define PLUMB_PROVIDERS_KUBERNETES_JQPATH_H

#include <jansson.h>

/*
 * 0 when expression is one jqpath.h reads; else PLUMB_EINVALID with what
 * is not, and where, in the error slot.
 */
int plumb_jqpath_check(const char *expression);

/* The JSON pointers (strings) of what expression reaches in object, appended to pointers. */
void plumb_jqpath_pointers(json_t *pointers, const char *expression, const json_t *object);

#endif
