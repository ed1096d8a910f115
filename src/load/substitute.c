#include "util/common.h"
#include "load/substitute.h"

#include <jansson.h>
#include <stdlib.h>

/* One document of text: from start to the next line that is "---", or the end. */
static size_t document_length(const char *text, size_t len)
{
	size_t at = 0;
	while (at < len) {
		const char *line_end = memchr(text + at, '\n', len - at);
		size_t next = line_end ? (size_t)(line_end - text) + 1 : len;
		if (at && next - at >= 3 && !memcmp(text + at, "---", 3) &&
		    (next - at == 3 || text[at + 3] == '\n' || text[at + 3] == ' ' || text[at + 3] == '\r'))
			return at;
		at = next;
	}
	return len;
}

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static void substitute_document(plumb_buf *out, const char *text, size_t len, json_t *vars)
{
	size_t i = 0;
	while (i < len) {
		if (text[i] == '$' && i + 2 < len && text[i + 1] == '$' && text[i + 2] == '{') {
			plumb_buf_puts(out, "${");
			i += 3;
			continue;
		}
		if (text[i] != '$' || i + 1 >= len || text[i + 1] != '{') {
			plumb_buf_putc(out, text[i++]);
			continue;
		}
		size_t name_start = i + 2, name_end = name_start;
		while (name_end < len && is_name_char(text[name_end]))
			name_end++;
		const char *close = memchr(text + name_end, '}', len - name_end);
		const char *line_end = memchr(text + name_end, '\n', len - name_end);
		int has_default = name_end + 1 < len && text[name_end] == ':' &&
				  (text[name_end + 1] == '=' || text[name_end + 1] == '-');
		if (name_end == name_start || !close || (line_end && line_end < close) ||
		    (!has_default && close != text + name_end)) {
			plumb_buf_putc(out, text[i++]); /* not a variable: as written */
			continue;
		}
		char *name = plumb_xstrndup(text + name_start, name_end - name_start);
		const char *value = json_string_value(json_object_get(vars, name));
		free(name);
		if (value && *value)
			plumb_buf_puts(out, value);
		else if (has_default)
			plumb_buf_add(out, text + name_end + 2, (size_t)(close - (text + name_end + 2)));
		else if (value)
			plumb_buf_puts(out, value);
		i = (size_t)(close - text) + 1;
	}
}

void plumb_substitute(plumb_buf *out, const char *text, size_t len, const char *vars)
{
	json_t *json = vars ? json_loads(vars, 0, NULL) : NULL;
	size_t at = 0;
	while (at < len) {
		size_t n = document_length(text + at, len - at);
		char *document = plumb_xstrndup(text + at, n);
		if (strstr(document, PLUMB_SUBSTITUTE_DISABLED))
			plumb_buf_add(out, text + at, n);
		else
			substitute_document(out, text + at, n, json);
		free(document);
		at += n;
	}
	json_decref(json);
}
