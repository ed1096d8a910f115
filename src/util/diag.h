/*
 * diag.h - diagnostics collected during validation.
 *
 * Validation never stops at the first problem: every error is added here
 * with the position it concerns, and the caller fails once at the end,
 * printing them all as "FILE:LINE:COL: message" in file and line order.
 */
#ifndef PLUMB_UTIL_DIAG_H
#define PLUMB_UTIL_DIAG_H

#include <stddef.h>
#include <stdio.h>

/* A place in an input file; line and column count from 1, 0 means unknown. */
typedef struct {
	const char *file; /* borrowed: lives as long as the thing it describes */
	unsigned line;
	unsigned column;
} plumb_position;

typedef struct {
	char *file;
	unsigned line;
	unsigned column;
	char *message;
} plumb_diag;

typedef struct {
	plumb_diag *items;
	size_t count;
	size_t capacity;
} plumb_diags;

#define PLUMB_DIAGS_INIT { NULL, 0, 0 }

/* Add one diagnostic; the file name and message are copied. */
void plumb_diags_add(plumb_diags *diags, plumb_position pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Sort by file, line, column, keeping insertion order for ties. */
void plumb_diags_sort(plumb_diags *diags);

/* Print every diagnostic as "FILE:LINE:COL: message" (parts that are unknown are left out). */
void plumb_diags_print(const plumb_diags *diags, FILE *out);

void plumb_diags_release(plumb_diags *diags);

#endif
