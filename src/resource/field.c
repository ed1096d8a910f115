/*
 * A field of a manifest document found again by its path: the document is
 * parsed once more, from the line load placed it at, and walked.
 */
#include "util/common.h"
#include "resource/field.h"
#include "resource/spec_internal.h"
#include "util/buf.h"

#include <stdlib.h>

/* No manifest nests deeper; a longer path is not followed. */
#define MAX_STEPS 64

/* Whether node is a scalar whose text is text[0..length). */
static int scalar_is(struct fy_node *node, const char *text, size_t length)
{
	size_t n = 0;
	const char *s = node && fy_node_get_type(node) == FYNT_SCALAR ? fy_node_get_scalar(node, &n) : NULL;
	return s && n == length && !memcmp(s, text, length);
}

/* The member of map whose key is name[0..length), compared as text (a lookup by string would parse it as YAML). */
static struct fy_node_pair *member(struct fy_node *map, const char *name, size_t length)
{
	void *iter = NULL;
	struct fy_node_pair *pair;
	while ((pair = fy_node_mapping_iterate(map, &iter)) != NULL)
		if (scalar_is(fy_node_pair_key(pair), name, length))
			return pair;
	return NULL;
}

/* The end of a quoted value starting at s (after its closing quote), or NULL. */
static const char *skip_quoted(const char *s, const char *end)
{
	for (s++; s < end; s++) {
		if (*s == '\\' && s + 1 < end)
			s++;
		else if (*s == '"')
			return s + 1;
	}
	return NULL;
}

/* The "]" that closes the bracket at open: the first, outside quotes, followed by the end, "." or "[". */
static const char *bracket_end(const char *open)
{
	const char *s = open + 1, *end = open + strlen(open);
	while (s < end) {
		if (*s == '"') {
			const char *after = skip_quoted(s, end);
			if (!after)
				return NULL;
			s = after;
			continue;
		}
		if (*s == ']' && (s[1] == '\0' || s[1] == '.' || s[1] == '['))
			return s;
		s++;
	}
	return NULL;
}

/* A value of a selector as text: a JSON string unquoted ("web" -> web), anything else as written. */
static void selector_value(plumb_buf *out, const char *s, const char *end)
{
	plumb_buf_clear(out);
	if (s == end || *s != '"') {
		plumb_buf_add(out, s, (size_t)(end - s));
		return;
	}
	for (s++; s < end - 1; s++) {
		char c = *s;
		if (c == '\\' && s + 1 < end - 1) {
			c = *++s;
			c = c == 'n' ? '\n' : c == 't' ? '\t' : c;
		}
		plumb_buf_add(out, &c, 1);
	}
}

/*
 * Whether item matches the selector s..end ("name=\"web\"", "port=80,protocol=\"TCP\"",
 * "=\"value\""): every field it names that item writes holds its value, and
 * item writes at least one. -1: s..end is not a selector.
 */
static int item_matches(struct fy_node *item, const char *s, const char *end)
{
	plumb_buf value = PLUMB_BUF_INIT;
	int compared = 0, matches = 1;
	while (s < end && matches) {
		const char *equals = memchr(s, '=', (size_t)(end - s));
		if (!equals) {
			matches = -1;
			break;
		}
		const char *next = equals + 1;
		if (next < end && *next == '"' && !(next = skip_quoted(next, end))) {
			matches = -1;
			break;
		}
		while (next < end && *next != ',')
			next++;
		selector_value(&value, equals + 1, next);
		if (equals == s) {
			/* A list of scalars: the item itself. */
			matches = scalar_is(item, value.ptr, value.len);
			compared = 1;
		} else if (item && fy_node_get_type(item) == FYNT_MAPPING) {
			struct fy_node_pair *field = member(item, s, (size_t)(equals - s));
			if (field) {
				matches = scalar_is(fy_node_pair_value(field), value.ptr, value.len);
				compared = 1;
			}
		} else {
			matches = 0;
		}
		s = next < end ? next + 1 : end;
	}
	plumb_buf_release(&value);
	return matches < 0 ? -1 : matches && compared;
}

/* The item of list that s..end names: an index, or the first item its selector matches. */
static struct fy_node *list_item(struct fy_node *list, const char *s, const char *end)
{
	size_t digits = 0;
	while (s + digits < end && s[digits] >= '0' && s[digits] <= '9')
		digits++;
	if (digits && s + digits == end) {
		long index = digits < 10 ? strtol(s, NULL, 10) : -1;
		return index >= 0 && index < fy_node_sequence_item_count(list)
			       ? fy_node_sequence_get_by_index(list, (int)index)
			       : NULL;
	}
	void *iter = NULL;
	struct fy_node *item;
	while ((item = fy_node_sequence_iterate(list, &iter)) != NULL) {
		int matches = item_matches(item, s, end);
		if (matches < 0)
			return NULL;
		if (matches)
			return item;
	}
	return NULL;
}

/* The node path names below root (*at: where it is written), or NULL. */
static int walk(struct fy_node **at, struct fy_node **value, struct fy_node *root, const char *path)
{
	struct fy_node *node = root;
	const char *p = path[0] == '.' ? path + 1 : path;

	*at = root;
	for (unsigned steps = 0; *p; steps++) {
		if (steps == MAX_STEPS || !node)
			return PLUMB_ENOTFOUND;
		enum fy_node_type type = fy_node_get_type(node);
		if (*p == '[') {
			const char *close = bracket_end(p);
			if (!close)
				return PLUMB_ENOTFOUND;
			if (type == FYNT_SEQUENCE) {
				node = *at = list_item(node, p + 1, close);
			} else if (type == FYNT_MAPPING) {
				struct fy_node_pair *pair = member(node, p + 1, (size_t)(close - p - 1));
				if (!pair)
					return PLUMB_ENOTFOUND;
				*at = fy_node_pair_key(pair);
				node = fy_node_pair_value(pair);
			} else {
				return PLUMB_ENOTFOUND;
			}
			if (!*at)
				return PLUMB_ENOTFOUND;
			p = close + 1;
		} else {
			size_t length = strcspn(p, ".[");
			struct fy_node_pair *pair = length && type == FYNT_MAPPING ? member(node, p, length) : NULL;
			if (!pair)
				return PLUMB_ENOTFOUND;
			*at = fy_node_pair_key(pair);
			node = fy_node_pair_value(pair);
			p += length;
		}
		if (*p == '.')
			p++;
	}
	if (value)
		*value = node;
	return 0;
}

/* The library's messages are not ours to print: the text parsed when it was loaded. */
static void discard_output(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
}

/* A parse of the document placed at document in text (a whole manifest file). */
typedef struct {
	struct fy_diag *diag;
	struct fy_parser *parser;
	struct fy_document *doc;
	struct fy_node *root;
} document_parse;

static void parse_release(document_parse *p)
{
	if (p->doc)
		fy_parse_document_destroy(p->parser, p->doc);
	if (p->parser)
		fy_parser_destroy(p->parser);
	if (p->diag)
		fy_diag_destroy(p->diag);
}

/*
 * Parse the document of text that load placed at document: 0 with p->root,
 * else PLUMB_ENOTFOUND. Release p either way.
 */
static int parse_document(document_parse *p, const char *text, size_t length, plumb_position document)
{
	struct fy_diag_cfg diag_cfg;
	size_t offset = 0;
	memset(p, 0, sizeof(*p));
	/* From the start of the document's line: the lines before are other documents. */
	for (unsigned line = 1; line < document.line && offset < length; line++) {
		const char *newline = memchr(text + offset, '\n', length - offset);
		if (!newline)
			return PLUMB_ENOTFOUND;
		offset = (size_t)(newline - text) + 1;
	}
	if (!document.line || offset >= length)
		return PLUMB_ENOTFOUND;

	fy_diag_cfg_default(&diag_cfg);
	diag_cfg.fp = NULL;
	diag_cfg.output_fn = discard_output;
	diag_cfg.colorize = false;
	diag_cfg.show_source = false;
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 };
	cfg.diag = p->diag = fy_diag_create(&diag_cfg);
	p->parser = p->diag ? fy_parser_create(&cfg) : NULL;
	if (!p->parser || fy_parser_set_string(p->parser, text + offset, length - offset) != 0 ||
	    !(p->doc = fy_parse_load_document(p->parser)))
		return PLUMB_ENOTFOUND;
	p->root = fy_document_root(p->doc);
	plumb_position start = plumb_spec_node_position(p->root, document.file);
	/* Lines count from where parsing began: the document's root is on its first. */
	if (start.line != 1 || start.column != document.column)
		return PLUMB_ENOTFOUND;
	return 0;
}

int plumb_field_locate(plumb_position *out, const char *text, size_t length, plumb_position document,
		       const char *path)
{
	document_parse p;
	struct fy_node *at = NULL;
	*out = document;
	int error = parse_document(&p, text, length, document);
	if (error == 0 && (error = walk(&at, NULL, p.root, path)) == 0) {
		plumb_position found = plumb_spec_node_position(at, document.file);
		if (found.line) {
			*out = found;
			out->line += document.line - 1;
		} else {
			error = PLUMB_ENOTFOUND; /* an empty collection: no position of its own */
		}
	}
	parse_release(&p);
	return error;
}

char *plumb_field_scalar(const char *text, size_t length, plumb_position document, const char *path)
{
	document_parse p;
	struct fy_node *at = NULL, *value = NULL;
	char *out = NULL;
	if (parse_document(&p, text, length, document) == 0 && walk(&at, &value, p.root, path) == 0 && value &&
	    fy_node_get_type(value) == FYNT_SCALAR) {
		size_t n;
		const char *scalar = fy_node_get_scalar(value, &n);
		if (scalar)
			out = plumb_xstrndup(scalar, n);
	}
	parse_release(&p);
	return out;
}
