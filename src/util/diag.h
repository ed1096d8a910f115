/*
 * diag.h - diagnostics collected during validation.
 *
 * Validation never stops at the first problem: every error is added here
 * with the position it concerns, and the caller fails once at the end,
 * printing them all as "FILE:LINE:COL: message" in file and line order.
 *
 * A warning is a problem that does not stop anything (a field plumb reads
 * past, never silently): kept apart, so that count is the errors alone,
 * and printed after them as "FILE:LINE:COL: warning: message".
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
	plumb_diag *items; /* the errors */
	size_t count;
	size_t capacity;
	plumb_diag *warnings;
	size_t warning_count;
	size_t warning_capacity;
} plumb_diags;

#define PLUMB_DIAGS_INIT { 0 }

/* Add one diagnostic; the file name and message are copied. */
void plumb_diags_add(plumb_diags *diags, plumb_position pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Add one warning; the file name and message are copied. */
void plumb_diags_warn(plumb_diags *diags, plumb_position pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Append a copy of every error and warning of from to into. */
void plumb_diags_append(plumb_diags *into, const plumb_diags *from);

/* Sort by file, line, column, keeping insertion order for ties. */
void plumb_diags_sort(plumb_diags *diags);

/*
 * Print every error as "FILE:LINE:COL: message" (parts that are unknown
 * are left out), then every warning as "FILE:LINE:COL: warning: message";
 * each once however often it was added (one declaration read twice).
 */
void plumb_diags_print(const plumb_diags *diags, FILE *out);

/* Print the warnings alone, each once however often it was added (a command that succeeds still shows them). */
void plumb_diags_print_warnings(const plumb_diags *diags, FILE *out);

/* How many errors plumb_diags_print prints: each once, however often it was added. */
size_t plumb_diags_distinct(const plumb_diags *diags);

/* Put the errors, "FILE:LINE:COL: message" joined by "; ", each once, in the error slot; returns PLUMB_EINVALID. */
int plumb_diags_set_error(const plumb_diags *diags);

void plumb_diags_release(plumb_diags *diags);

#endif
