#include "util/common.h"
#include "util/buf.h"
#include "util/diag.h"

#include <stdarg.h>
#include <stdlib.h>

void plumb_diags_add(plumb_diags *diags, plumb_position pos, const char *fmt, ...)
{
	plumb_buf message = PLUMB_BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	plumb_buf_vprintf(&message, fmt, ap);
	va_end(ap);

	PLUMB_GROW(diags->items, diags->count, diags->capacity);
	plumb_diag *d = &diags->items[diags->count++];
	d->file = pos.file ? plumb_xstrdup(pos.file) : NULL;
	d->line = pos.line;
	d->column = pos.column;
	d->message = plumb_buf_detach(&message, NULL);
}

static int compare_diag(const plumb_diag *a, const plumb_diag *b)
{
	int c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
	if (c)
		return c;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->column != b->column)
		return a->column < b->column ? -1 : 1;
	return 0;
}

void plumb_diags_sort(plumb_diags *diags)
{
	/* Insertion sort: stable, and diagnostic lists are short. */
	for (size_t i = 1; i < diags->count; i++) {
		plumb_diag item = diags->items[i];
		size_t j = i;
		while (j > 0 && compare_diag(&diags->items[j - 1], &item) > 0) {
			diags->items[j] = diags->items[j - 1];
			j--;
		}
		diags->items[j] = item;
	}
}

void plumb_diags_print(const plumb_diags *diags, FILE *out)
{
	for (size_t i = 0; i < diags->count; i++) {
		const plumb_diag *d = &diags->items[i];
		if (d->file && d->line)
			fprintf(out, "%s:%u:%u: %s\n", d->file, d->line, d->column, d->message);
		else if (d->file)
			fprintf(out, "%s: %s\n", d->file, d->message);
		else
			fprintf(out, "%s\n", d->message);
	}
}

void plumb_diags_release(plumb_diags *diags)
{
	for (size_t i = 0; i < diags->count; i++) {
		free(diags->items[i].file);
		free(diags->items[i].message);
	}
	free(diags->items);
	diags->items = NULL;
	diags->count = diags->capacity = 0;
}
