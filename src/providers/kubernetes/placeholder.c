#include "util/common.h"
#include "providers/kubernetes/placeholder.h"
#include "providers/kubernetes/compare.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>

/* The shortest base64 text a placeholder can be in: "${secret:x}", 11 bytes, encoded. */
#define SHORTEST_ENCODED 16

static int is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_';
}

/*
 * The next placeholder in text[0, len) from *at: its start (*start), its
 * name (*name, *name_len) and the offset past it (*at). 0 when there is no
 * more.
 */
static int next_placeholder(const char *text, size_t len, size_t *at, size_t *start, const char **name,
			    size_t *name_len)
{
	static const char open[] = PLUMB_SECRET_PLACEHOLDER_OPEN;
	const size_t open_len = sizeof(open) - 1;
	for (size_t i = *at; i + open_len < len; i++) {
		if (memcmp(text + i, open, open_len) != 0)
			continue;
		size_t end = i + open_len;
		while (end < len && is_name_char(text[end]))
			end++;
		if (end == i + open_len || end >= len || text[end] != PLUMB_SECRET_PLACEHOLDER_CLOSE)
			continue;
		*start = i;
		*name = text + i + open_len;
		*name_len = end - (i + open_len);
		*at = end + 1;
		return 1;
	}
	return 0;
}

static int is_base64_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/*
 * The bytes of text when it is base64 whose bytes hold a placeholder (a
 * new buffer, *len bytes), else NULL.
 */
static unsigned char *encoded_placeholders(const char *text, size_t text_len, size_t *len)
{
	if (text_len < SHORTEST_ENCODED || text_len % 4)
		return NULL;
	for (size_t i = 0; i < text_len; i++)
		if (!is_base64_char(text[i]) && !(text[i] == '=' && i + 2 >= text_len))
			return NULL;
	unsigned char *bytes = plumb_xmalloc(text_len / 4 * 3 + 1);
	int decoded = EVP_DecodeBlock(bytes, (const unsigned char *)text, (int)text_len);
	size_t padding = (text[text_len - 1] == '=') + (text[text_len - 2] == '=');
	size_t at = 0, start, name_len;
	const char *name;
	if (decoded < 0 || !next_placeholder((const char *)bytes, (size_t)decoded - padding, &at, &start, &name,
					     &name_len)) {
		free(bytes);
		return NULL;
	}
	*len = (size_t)decoded - padding;
	return bytes;
}

/* --- find ------------------------------------------------------------------------------- */

typedef struct {
	plumb_kube_placeholders *out;
	const char *display;
	plumb_position at;
	plumb_diags *diags;
	int secret; /* a v1 Secret: its data and stringData are masked whole */
} finding;

/* Note each placeholder of text[0, len): its name once. Returns whether there was one. */
static int note_names(finding *f, const char *text, size_t len)
{
	size_t at = 0, start, name_len;
	const char *name;
	int found = 0;
	while (next_placeholder(text, len, &at, &start, &name, &name_len)) {
		found = 1;
		size_t i;
		for (i = 0; i < f->out->name_count; i++)
			if (strlen(f->out->names[i]) == name_len && !memcmp(f->out->names[i], name, name_len))
				break;
		if (i == f->out->name_count) {
			f->out->names = plumb_xrealloc(f->out->names, (f->out->name_count + 1) * sizeof(char *));
			f->out->names[f->out->name_count++] = plumb_xstrndup(name, name_len);
		}
	}
	return found;
}

/* "spec.template.spec.containers[0].env[1].value", for a diagnostic. */
static char *path_text(const json_t *path)
{
	plumb_buf out = PLUMB_BUF_INIT;
	size_t i;
	json_t *part;
	json_array_foreach(path, i, part) {
		if (json_is_integer(part))
			plumb_buf_printf(&out, "[%lld]", (long long)json_integer_value(part));
		else
			plumb_buf_printf(&out, "%s%s", i ? "." : "", json_string_value(part));
	}
	return plumb_buf_detach(&out, NULL);
}

/* Whether path is where no value of a Secret may go: the object's identity. */
static int is_identity(const json_t *path)
{
	static const char *const identity[][2] = {
		{ "apiVersion", NULL }, { "kind", NULL }, { "metadata", "name" }, { "metadata", "namespace" },
		{ "metadata", "generateName" },
	};
	size_t depth = json_array_size(path);
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(identity); i++) {
		size_t want = identity[i][1] ? 2 : 1;
		if (depth != want)
			continue;
		int same = 1;
		for (size_t k = 0; k < want; k++)
			same &= json_is_string(json_array_get(path, k)) &&
				!strcmp(json_string_value(json_array_get(path, k)), identity[i][k]);
		if (same)
			return 1;
	}
	return 0;
}

/* Whether path lies in a v1 Secret's data or stringData. */
static int in_secret_values(const finding *f, const json_t *path)
{
	const char *top = json_string_value(json_array_get(path, 0));
	return f->secret && top && (!strcmp(top, "data") || !strcmp(top, "stringData"));
}

static void find_in(finding *f, const json_t *node, json_t *path, unsigned depth)
{
	if (depth > 100)
		return; /* deeper than any manifest: its parser stopped long before */
	if (json_is_string(node)) {
		size_t encoded_len = 0;
		unsigned char *encoded = NULL;
		const char *text = json_string_value(node);
		size_t len = json_string_length(node);
		int found = note_names(f, text, len);
		if (!found && (encoded = encoded_placeholders(text, len, &encoded_len)) != NULL)
			found = note_names(f, (const char *)encoded, encoded_len);
		free(encoded);
		if (found && is_identity(path)) {
			char *field = path_text(path);
			plumb_diags_add(f->diags, f->at, "%s: %s: the value of a Secret cannot name an object", f->display,
					field);
			free(field);
		} else if (found && !in_secret_values(f, path)) {
			json_array_append_new(f->out->fields, json_deep_copy(path));
		}
		return;
	}
	const char *key;
	json_t *value;
	size_t i;
	if (json_is_object(node)) {
		json_object_foreach((json_t *)node, key, value) {
			size_t at = 0, start, name_len;
			const char *name;
			if (next_placeholder(key, strlen(key), &at, &start, &name, &name_len)) {
				char *field = path_text(path);
				plumb_diags_add(f->diags, f->at, "%s: %s%s%s: the value of a Secret cannot be a key",
						f->display, field, *field ? "." : "", key);
				free(field);
				continue;
			}
			json_array_append_new(path, json_string(key));
			find_in(f, value, path, depth + 1);
			json_array_remove(path, json_array_size(path) - 1);
		}
	} else if (json_is_array(node)) {
		json_array_foreach(node, i, value) {
			json_array_append_new(path, json_integer((json_int_t)i));
			find_in(f, value, path, depth + 1);
			json_array_remove(path, json_array_size(path) - 1);
		}
	}
}

size_t plumb_kube_placeholders_find(plumb_kube_placeholders *out, const json_t *document, const char *display,
				    plumb_position at, plumb_diags *diags)
{
	finding f = { out, display, at, diags, plumb_kube_is_secret(document) };
	json_t *path = json_array();
	out->fields = json_array();
	find_in(&f, document, path, 0);
	json_decref(path);
	return out->name_count;
}

void plumb_kube_placeholders_release(plumb_kube_placeholders *placeholders)
{
	for (size_t i = 0; i < placeholders->name_count; i++)
		free(placeholders->names[i]);
	free(placeholders->names);
	json_decref(placeholders->fields);
	memset(placeholders, 0, sizeof(*placeholders));
}

/* --- fill ------------------------------------------------------------------------------- */

typedef struct {
	char *const *names;
	const plumb_buf *values;
	size_t count;
	char *const *skip;
	size_t skip_count;
	int secret;
	const char *failed; /* a Secret whose value is not text, where text is wanted */
} filling;

/* Whether len bytes at text are UTF-8, as a field's text must be. */
static int is_text(const char *text, size_t len)
{
	json_t *string = json_stringn(text, len);
	json_decref(string);
	return string != NULL;
}

/* text[0, len) with each placeholder of names replaced by its value, appended to out; whether any was. */
static int fill_text(filling *f, plumb_buf *out, const char *text, size_t len, int as_text)
{
	size_t at = 0, copied = 0, start, name_len;
	const char *name;
	int filled = 0;
	while (next_placeholder(text, len, &at, &start, &name, &name_len)) {
		size_t i;
		for (i = 0; i < f->count; i++)
			if (strlen(f->names[i]) == name_len && !memcmp(f->names[i], name, name_len))
				break;
		if (i == f->count)
			continue;
		if (as_text && !is_text(f->values[i].ptr, f->values[i].len)) {
			f->failed = f->names[i];
			continue;
		}
		plumb_buf_add(out, text + copied, start - copied);
		plumb_buf_add(out, f->values[i].ptr, f->values[i].len);
		copied = at;
		filled = 1;
	}
	plumb_buf_add(out, text + copied, len - copied);
	return filled;
}

/* The new string for node's text with its placeholders filled, or NULL when it has none to fill. */
static json_t *filled_string(filling *f, const json_t *node)
{
	const char *text = json_string_value(node);
	size_t len = json_string_length(node), encoded_len = 0;
	plumb_buf out = PLUMB_BUF_INIT;
	json_t *result = NULL;
	unsigned char *encoded = NULL;
	if (fill_text(f, &out, text, len, 1)) {
		result = json_stringn(out.ptr, out.len);
	} else if ((encoded = encoded_placeholders(text, len, &encoded_len)) != NULL) {
		/* Base64 holds bytes: a value need not be text there. */
		plumb_buf_clear(&out);
		if (fill_text(f, &out, (const char *)encoded, encoded_len, 0)) {
			char *again = plumb_xmalloc(out.len / 3 * 4 + 5);
			int n = EVP_EncodeBlock((unsigned char *)again, (const unsigned char *)out.ptr, (int)out.len);
			result = json_stringn(again, (size_t)n);
			OPENSSL_cleanse(again, (size_t)n);
			free(again);
		}
		OPENSSL_cleanse(encoded, encoded_len);
		free(encoded);
	}
	plumb_buf_wipe(&out);
	return result;
}

/* Whether key, of a v1 Secret's data, holds a value put there already. */
static int skipped(const filling *f, const char *key)
{
	for (size_t i = 0; f->secret && i < f->skip_count; i++)
		if (!strcmp(f->skip[i], key))
			return 1;
	return 0;
}

static void fill_in(filling *f, json_t *node, int in_data, unsigned depth)
{
	const char *key;
	json_t *value, *filled;
	size_t i;
	if (depth > 100)
		return;
	if (json_is_object(node)) {
		json_object_foreach(node, key, value) {
			if (in_data && skipped(f, key))
				continue;
			if (json_is_string(value) && (filled = filled_string(f, value)) != NULL)
				json_object_set_new(node, key, filled);
			else
				fill_in(f, value, depth == 0 && !strcmp(key, "data"), depth + 1);
		}
	} else if (json_is_array(node)) {
		json_array_foreach(node, i, value) {
			if (json_is_string(value) && (filled = filled_string(f, value)) != NULL)
				json_array_set_new(node, i, filled);
			else
				fill_in(f, value, 0, depth + 1);
		}
	}
}

int plumb_kube_placeholders_fill(json_t *document, char *const *names, const plumb_buf *values, size_t count,
				 char *const *skip, size_t skip_count)
{
	filling f = { names, values, count, skip, skip_count, plumb_kube_is_secret(document), NULL };
	fill_in(&f, document, 0, 0);
	if (f.failed)
		return plumb_error_set(PLUMB_EINVALID,
				       "the value of Secret %s is not UTF-8 text, and goes into the text of a field",
				       f.failed);
	return 0;
}
