/*
 * The API server's refusal of an object, read from its Status and placed
 * at the fields it names in the manifest.
 */
#include "util/common.h"
#include "providers/kubernetes/refusal.h"
#include "providers/kubernetes/object.h"
#include "resource/field.h"
#include "util/buf.h"

#include <jansson.h>

/* What server-side apply's schema check says before its field paths. */
#define SCHEMA_PREFIX "failed to create typed patch object ("

/* The largest manifest read again, as the loader reads them. */
#define MANIFEST_MAX (16u << 20)

/* A Status lists a handful of causes; more would only bury the first. */
#define MAX_PROBLEMS 50

/* One refusal being reported: the manifest is read once, when a field is first looked for. */
typedef struct {
	plumb_diags *diags;
	size_t first; /* the first of diags this refusal added */
	plumb_source *source;
	const plumb_object *object;
	const char *display;
	plumb_buf text; /* the manifest */
	int read;       /* 0 not yet, 1 read, -1 cannot be */
} refusal;

void plumb_kube_masked_message(plumb_buf *out, const plumb_object *object, const char *message, size_t length)
{
	const plumb_kube_desired *d = object->desired;
	size_t at = 0;
	while (at < length) {
		size_t longest = 0;
		for (size_t i = 0; i < d->placeholders.name_count; i++) {
			const plumb_buf *value = &d->placeholder_values[i];
			if (value->len > longest && value->len <= length - at && !memcmp(message + at, value->ptr, value->len))
				longest = value->len;
		}
		if (longest) {
			plumb_buf_puts(out, "(sensitive)");
			at += longest;
		} else {
			plumb_buf_putc(out, message[at++]);
		}
	}
}

/* Add the problem message of field (length 0: of the object) at the field's position, else the document's. */
static void add_problem(refusal *r, const char *field, size_t field_length, const char *raw_message,
			size_t raw_length)
{
	const plumb_kube_desired *d = r->object->desired;
	plumb_position at = r->object->position;
	if (r->diags->count - r->first >= MAX_PROBLEMS)
		return;
	plumb_buf masked = PLUMB_BUF_INIT;
	plumb_kube_masked_message(&masked, r->object, raw_message, raw_length);
	const char *message = masked.ptr;
	int message_length = (int)masked.len;
	if (!field_length) {
		plumb_diags_add(r->diags, at, "%s: %.*s", r->display, message_length, message);
		plumb_buf_wipe(&masked);
		return;
	}
	if (!r->read) {
		r->read = r->source && d->blob[0] &&
					  plumb_source_read_blob(&r->text, r->source, d->blob, MANIFEST_MAX) == 0
				  ? 1
				  : -1;
		plumb_error_clear();
	}
	char *path = plumb_xstrndup(field, field_length);
	if (r->read > 0)
		plumb_field_locate(&at, r->text.ptr, r->text.len, r->object->position, path);
	/* Shown as the server's validation names fields, without server-side apply's leading ".". */
	plumb_diags_add(r->diags, at, "%s: %s: %.*s", r->display, path[0] == '.' ? path + 1 : path, message_length,
			message);
	free(path);
	plumb_buf_wipe(&masked);
}

/* The validation's causes: each field, or the object as a whole. Returns how many there were. */
static size_t add_causes(refusal *r, const json_t *causes)
{
	size_t i;
	for (i = 0; i < json_array_size(causes); i++) {
		const json_t *cause = json_array_get(causes, i);
		const char *field = json_string_value(json_object_get(cause, "field"));
		const char *message = json_string_value(json_object_get(cause, "message"));
		message = message ? message : "invalid";
		add_problem(r, field ? field : "", field ? strlen(field) : 0, message, strlen(message));
	}
	return i;
}

/* Where the field path at the start of line ends: at ": " outside brackets and quotes. */
static const char *path_end(const char *line, const char *end)
{
	int depth = 0, quoted = 0;
	for (const char *s = line; s + 1 < end; s++) {
		if (quoted) {
			if (*s == '\\')
				s++;
			else if (*s == '"')
				quoted = 0;
		} else if (*s == '"') {
			quoted = 1;
		} else if (*s == '[') {
			depth++;
		} else if (*s == ']') {
			depth--;
		} else if (!depth && s[0] == ':' && s[1] == ' ') {
			return s;
		}
	}
	return NULL;
}

/*
 * Server-side apply's schema errors: after SCHEMA_PREFIX and the object,
 * ".PATH: MESSAGE", or "errors:" and one such line each. Returns how many
 * fields they named.
 */
static size_t add_schema_errors(refusal *r, const char *message)
{
	const char *rest = strstr(message, "): ");
	size_t count = 0;
	if (!rest)
		return 0;
	for (const char *line = rest + 3; *line;) {
		const char *end = strchrnul(line, '\n');
		while (line < end && *line == ' ')
			line++;
		const char *colon = *line == '.' ? path_end(line, end) : NULL;
		if (colon) {
			add_problem(r, line, (size_t)(colon - line), colon + 2, (size_t)(end - colon - 2));
			count++;
		}
		line = *end ? end + 1 : end;
	}
	return count;
}

/* The diagnostics this refusal added, one "FILE:LINE:COL: message" a line, into the error slot. */
static int set_error(const refusal *r)
{
	plumb_buf text = PLUMB_BUF_INIT;
	for (size_t i = r->first; i < r->diags->count; i++) {
		const plumb_diag *d = &r->diags->items[i];
		if (text.len)
			plumb_buf_puts(&text, "\n");
		if (d->file && d->line)
			plumb_buf_printf(&text, "%s:%u:%u: ", d->file, d->line, d->column);
		else if (d->file)
			plumb_buf_printf(&text, "%s: ", d->file);
		plumb_buf_puts(&text, d->message);
	}
	plumb_error_set(PLUMB_EINVALID, "%s", text.ptr);
	plumb_buf_release(&text);
	return PLUMB_EINVALID;
}

int plumb_kube_refusal(plumb_diags *diags, plumb_source *source, const plumb_object *object, const char *display,
		       const plumb_kube_answer *answer)
{
	refusal r = { diags, diags->count, source, object, display, PLUMB_BUF_INIT, 0 };
	json_t *status = NULL;
	int error = 0;

	if (answer->status != 400 && answer->status != 422 && answer->status != 500)
		return 0;
	status = json_loadb(answer->body.ptr, answer->body.len, 0, NULL);
	const char *kind = json_string_value(json_object_get(status, "kind"));
	const char *message = json_string_value(json_object_get(status, "message"));
	if (!kind || strcmp(kind, "Status") != 0)
		goto done;
	message = message ? message : "the server refused it without saying why";
	if (answer->status == 500) {
		/* Only a schema error is the manifest's doing; any other is the server's trouble. */
		if (strncmp(message, SCHEMA_PREFIX, strlen(SCHEMA_PREFIX)) != 0 || !add_schema_errors(&r, message))
			goto done;
	} else if (!add_causes(&r, json_object_get(json_object_get(status, "details"), "causes"))) {
		add_problem(&r, "", 0, message, strlen(message));
	}
	error = set_error(&r);
done:
	json_decref(status);
	plumb_buf_wipe(&r.text); /* a Secret's manifest holds its values */
	return error;
}
