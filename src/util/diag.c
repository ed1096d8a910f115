#include "util/common.h"
#include "util/buf.h"
#include "util/diag.h"

#include <stdarg.h>
#include <stdlib.h>

static void fill(plumb_diag *d, plumb_position pos, char *message)
{
	d->file = pos.file ? plumb_xstrdup(pos.file) : NULL;
	d->line = pos.line;
	d->column = pos.column;
	d->message = message;
}

static void __attribute__((format(printf, 5, 0)))
vadd(plumb_diag **items, size_t *count, size_t *capacity, plumb_position pos, const char *fmt,
		 va_list ap)
{
	plumb_buf message = PLUMB_BUF_INIT;
	plumb_buf_vprintf(&message, fmt, ap);
	PLUMB_GROW(*items, *count, *capacity);
	fill(&(*items)[(*count)++], pos, plumb_buf_detach(&message, NULL));
}

void plumb_diags_add(plumb_diags *diags, plumb_position pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(&diags->items, &diags->count, &diags->capacity, pos, fmt, ap);
	va_end(ap);
}

void plumb_diags_warn(plumb_diags *diags, plumb_position pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vadd(&diags->warnings, &diags->warning_count, &diags->warning_capacity, pos, fmt, ap);
	va_end(ap);
}

static void append(plumb_diag **items, size_t *count, size_t *capacity, const plumb_diag *from, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		plumb_position pos = { from[i].file, from[i].line, from[i].column };
		PLUMB_GROW(*items, *count, *capacity);
		fill(&(*items)[(*count)++], pos, plumb_xstrdup(from[i].message));
	}
}

void plumb_diags_append(plumb_diags *into, const plumb_diags *from)
{
	append(&into->items, &into->count, &into->capacity, from->items, from->count);
	append(&into->warnings, &into->warning_count, &into->warning_capacity, from->warnings, from->warning_count);
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

/* Insertion sort: stable, and diagnostic lists are short. */
static void sort(plumb_diag *items, size_t count)
{
	for (size_t i = 1; i < count; i++) {
		plumb_diag item = items[i];
		size_t j = i;
		while (j > 0 && compare_diag(&items[j - 1], &item) > 0) {
			items[j] = items[j - 1];
			j--;
		}
		items[j] = item;
	}
}

void plumb_diags_sort(plumb_diags *diags)
{
	sort(diags->items, diags->count);
	sort(diags->warnings, diags->warning_count);
}

static void print(const plumb_diag *d, const char *label, FILE *out)
{
	if (d->file && d->line)
		fprintf(out, "%s:%u:%u: %s%s\n", d->file, d->line, d->column, label, d->message);
	else if (d->file)
		fprintf(out, "%s: %s%s\n", d->file, label, d->message);
	else
		fprintf(out, "%s%s\n", label, d->message);
}

/*
 * Whether items[i] says what an earlier one said, at the same place: one
 * declaration read twice (an app of apps reaches it by two paths, two Flux
 * releases name one source) is told once.
 */
static int repeated(const plumb_diag *items, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (!compare_diag(&items[k], &items[i]) && !strcmp(items[k].message, items[i].message))
			return 1;
	return 0;
}

void plumb_diags_print_warnings(const plumb_diags *diags, FILE *out)
{
	for (size_t i = 0; i < diags->warning_count; i++)
		if (!repeated(diags->warnings, i))
			print(&diags->warnings[i], "warning: ", out);
}

void plumb_diags_print(const plumb_diags *diags, FILE *out)
{
	for (size_t i = 0; i < diags->count; i++)
		if (!repeated(diags->items, i))
			print(&diags->items[i], "", out);
	plumb_diags_print_warnings(diags, out);
}

size_t plumb_diags_distinct(const plumb_diags *diags)
{
	size_t n = 0;
	for (size_t i = 0; i < diags->count; i++)
		n += !repeated(diags->items, i);
	return n;
}

int plumb_diags_set_error(const plumb_diags *diags)
{
	plumb_buf text = PLUMB_BUF_INIT;
	for (size_t i = 0; i < diags->count; i++)
		if (!repeated(diags->items, i))
			plumb_buf_printf(&text, "%s%s:%u:%u: %s", text.len ? "; " : "",
					 diags->items[i].file ? diags->items[i].file : "", diags->items[i].line,
					 diags->items[i].column, diags->items[i].message);
	int error = plumb_error_set(PLUMB_EINVALID, "%s", text.ptr ? text.ptr : "");
	plumb_buf_release(&text);
	return error;
}

static void release(plumb_diag *items, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(items[i].file);
		free(items[i].message);
	}
	free(items);
}

void plumb_diags_release(plumb_diags *diags)
{
	release(diags->items, diags->count);
	release(diags->warnings, diags->warning_count);
	memset(diags, 0, sizeof(*diags));
}
