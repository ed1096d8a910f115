#include "util/common.h"
#include "render/yaml.h"

#include <strings.h>

/* Deeper than this, a value is written in flow style on one line (libfyaml's emitter). */
#define BLOCK_DEPTH_MAX 200

static int is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Whether text can be written plain and still read back as this string. */
static int plain_is_safe(const char *text, size_t len)
{
	static const char *const words[] = { "true", "false", "null", "yes", "no", "on", "off", "y", "n" };
	if (!len || !(is_letter(text[0]) || text[0] == '_' || text[0] == '/'))
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (!is_letter(c) && !(c >= '0' && c <= '9') && !strchr("_.-/", c))
			return 0;
	}
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(words); i++)
		if (strlen(words[i]) == len && !strncasecmp(text, words[i], len))
			return 0;
	return 1;
}

/* text double-quoted, with what YAML may not show as it is (controls, C1 controls, BOM, U+FFFE/F) escaped. */
static void put_quoted(plumb_buf *out, const char *text, size_t len)
{
	plumb_buf_putc(out, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		unsigned char next = i + 1 < len ? (unsigned char)text[i + 1] : 0;
		unsigned char after = i + 2 < len ? (unsigned char)text[i + 2] : 0;
		switch (c) {
		case '"':
			plumb_buf_puts(out, "\\\"");
			continue;
		case '\\':
			plumb_buf_puts(out, "\\\\");
			continue;
		case '\n':
			plumb_buf_puts(out, "\\n");
			continue;
		case '\t':
			plumb_buf_puts(out, "\\t");
			continue;
		case '\r':
			plumb_buf_puts(out, "\\r");
			continue;
		}
		if (c < 0x20 || c == 0x7f) {
			plumb_buf_printf(out, "\\u%04x", c);
		} else if (c == 0xc2 && next >= 0x80 && next <= 0x9f) {
			plumb_buf_printf(out, "\\u%04x", next);
			i++;
		} else if (c == 0xef && ((next == 0xbb && after == 0xbf) || (next == 0xbf && (after == 0xbe || after == 0xbf)))) {
			plumb_buf_printf(out, "\\u%04x", 0xf000u | ((next & 0x3fu) << 6) | (after & 0x3fu));
			i += 2;
		} else {
			plumb_buf_putc(out, (char)c);
		}
	}
	plumb_buf_putc(out, '"');
}

static void put_scalar(plumb_buf *out, struct fy_node *node)
{
	size_t len = 0;
	const char *text = fy_node_get_scalar(node, &len);
	enum fy_node_style style = fy_node_get_style(node);
	if (!text)
		text = "";
	if (style != FYNS_DOUBLE_QUOTED && style != FYNS_SINGLE_QUOTED)
		plumb_buf_add(out, text, len); /* a number, true, false or null, as the JSON text had it */
	else if (plain_is_safe(text, len))
		plumb_buf_add(out, text, len);
	else
		put_quoted(out, text, len);
}

static int is_empty(struct fy_node *node)
{
	if (fy_node_is_mapping(node))
		return fy_node_mapping_item_count(node) == 0;
	if (fy_node_is_sequence(node))
		return fy_node_sequence_item_count(node) == 0;
	return 0;
}

/* The indentation of a line; none for the line that follows a "- " already written. */
static void indent_line(plumb_buf *out, unsigned indent, int *inline_first)
{
	if (*inline_first) {
		*inline_first = 0;
		return;
	}
	for (unsigned i = 0; i < indent; i++)
		plumb_buf_putc(out, ' ');
}

static void write_node(plumb_buf *out, struct fy_node *node, unsigned indent, unsigned depth, int inline_first);

/* What follows "key:" or "-": a scalar or an empty collection on the line, else the collection below it. */
static void write_after(plumb_buf *out, struct fy_node *value, unsigned indent, unsigned depth, int in_sequence)
{
	if (!fy_node_is_mapping(value) && !fy_node_is_sequence(value)) {
		plumb_buf_putc(out, ' ');
		put_scalar(out, value);
		plumb_buf_putc(out, '\n');
	} else if (is_empty(value)) {
		plumb_buf_puts(out, fy_node_is_mapping(value) ? " {}\n" : " []\n");
	} else if (in_sequence) {
		/* "- key: value" and "- - item": the collection starts on the item's line. */
		plumb_buf_putc(out, ' ');
		write_node(out, value, indent + 2, depth + 1, 1);
	} else {
		plumb_buf_putc(out, '\n');
		/* A list under a key sits at the key's indentation, as kubectl and kustomize write it. */
		write_node(out, value, fy_node_is_mapping(value) ? indent + 2 : indent, depth + 1, 0);
	}
}

static void write_node(plumb_buf *out, struct fy_node *node, unsigned indent, unsigned depth, int inline_first)
{
	if (depth > BLOCK_DEPTH_MAX || (!fy_node_is_mapping(node) && !fy_node_is_sequence(node))) {
		indent_line(out, indent, &inline_first);
		if (depth > BLOCK_DEPTH_MAX) {
			char *text = fy_emit_node_to_string(node, FYECF_MODE_FLOW_ONELINE | FYECF_WIDTH_INF);
			if (!text)
				abort(); /* the emitter fails only when out of memory */
			plumb_buf_puts(out, text);
			free(text);
		} else {
			put_scalar(out, node);
		}
		plumb_buf_putc(out, '\n');
		return;
	}
	void *iter = NULL;
	if (fy_node_is_mapping(node)) {
		struct fy_node_pair *pair;
		while ((pair = fy_node_mapping_iterate(node, &iter)) != NULL) {
			indent_line(out, indent, &inline_first);
			put_scalar(out, fy_node_pair_key(pair));
			plumb_buf_putc(out, ':');
			write_after(out, fy_node_pair_value(pair), indent, depth, 0);
		}
		return;
	}
	struct fy_node *item;
	while ((item = fy_node_sequence_iterate(node, &iter)) != NULL) {
		indent_line(out, indent, &inline_first);
		plumb_buf_putc(out, '-');
		write_after(out, item, indent, depth, 1);
	}
}

void plumb_render_yaml_write(plumb_buf *out, struct fy_node *node)
{
	if (is_empty(node))
		plumb_buf_puts(out, fy_node_is_mapping(node) ? "{}\n" : "[]\n");
	else
		write_node(out, node, 0, 0, 0);
}
