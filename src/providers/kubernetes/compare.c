#include "util/common.h"
#include "providers/kubernetes/compare.h"
#include "util/diff.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <strings.h>

/* What the server writes into metadata and git never declares. */
static const char *const server_metadata[] = {
	"managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink",
};

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

/* The hex digits of the keyed hash shown for a sensitive value. */
#define SHOWN_HASH_HEX 16

int plumb_kube_is_secret(const json_t *object)
{
	const char *api_version = json_string_value(json_object_get(object, "apiVersion"));
	const char *kind = json_string_value(json_object_get(object, "kind"));
	return api_version && kind && !strcmp(api_version, "v1") && !strcmp(kind, "Secret");
}

/* "(sensitive HASH)" for the len bytes at value. */
static json_t *masked(const unsigned char *value, size_t len, const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char shown[sizeof("(sensitive )") + SHOWN_HASH_HEX];
	HMAC(EVP_sha256(), key, PLUMB_KUBE_HASH_KEY_SIZE, value, len, mac, &mac_len);
	memcpy(shown, "(sensitive ", 11);
	for (unsigned i = 0; i < SHOWN_HASH_HEX / 2; i++)
		snprintf(shown + 11 + 2 * i, 3, "%02x", mac[i]);
	memcpy(shown + 11 + SHOWN_HASH_HEX, ")", 2);
	OPENSSL_cleanse(mac, sizeof(mac));
	return json_string(shown);
}

/*
 * The bytes base64 text stands for, into a new buffer (*len its length),
 * or NULL when it is not base64: then the text itself is what is hashed.
 */
static unsigned char *base64_decoded(const char *text, size_t *len)
{
	size_t n = strlen(text);
	if (n % 4)
		return NULL;
	unsigned char *out = plumb_xmalloc(n / 4 * 3 + 1);
	int decoded = EVP_DecodeBlock(out, (const unsigned char *)text, (int)n);
	if (decoded < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	size_t padding = (n && text[n - 1] == '=') + (n > 1 && text[n - 2] == '=');
	*len = (size_t)decoded - padding;
	return out;
}

/* Replace the string node (at where, in parent) by its mask. */
static void mask_string(json_t *parent, const json_t *where, json_t *node, const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE])
{
	json_t *mask = masked((const unsigned char *)json_string_value(node), json_string_length(node), key);
	OPENSSL_cleanse((char *)json_string_value(node), json_string_length(node));
	if (json_is_integer(where))
		json_array_set_new(parent, (size_t)json_integer_value(where), mask);
	else
		json_object_set_new(parent, json_string_value(where), mask);
}

/* Whether len bytes at text hold one of the values. */
static int holds_value(const char *text, size_t len, const plumb_buf *values, size_t value_count)
{
	for (size_t i = 0; i < value_count; i++)
		if (values[i].len && memmem(text, len, values[i].ptr, values[i].len))
			return 1;
	return 0;
}

/* Mask each string below node that holds one of the values. */
static void mask_values(json_t *node, const plumb_buf *values, size_t value_count,
			const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE], unsigned depth)
{
	const char *name;
	json_t *value;
	size_t i;
	if (depth > 100)
		return;
	if (json_is_object(node)) {
		json_object_foreach(node, name, value) {
			if (json_is_string(value) &&
			    holds_value(json_string_value(value), json_string_length(value), values, value_count)) {
				json_t *where = json_string(name);
				mask_string(node, where, value, key);
				json_decref(where);
			} else {
				mask_values(value, values, value_count, key, depth + 1);
			}
		}
	} else if (json_is_array(node)) {
		json_array_foreach(node, i, value) {
			if (json_is_string(value) &&
			    holds_value(json_string_value(value), json_string_length(value), values, value_count)) {
				json_t *where = json_integer((json_int_t)i);
				mask_string(node, where, value, key);
				json_decref(where);
			} else {
				mask_values(value, values, value_count, key, depth + 1);
			}
		}
	}
}

json_t *plumb_kube_masked(json_t *object, const json_t *fields, const plumb_buf *values, size_t value_count,
			  const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE])
{
	if (!object || (!json_array_size(fields) && !value_count))
		return json_incref(object);
	json_t *copy = json_deep_copy(object), *path;
	size_t i;
	json_array_foreach(fields, i, path) {
		json_t *parent = NULL, *node = copy, *part;
		size_t k;
		json_array_foreach(path, k, part) {
			parent = node;
			node = json_is_integer(part) ? json_array_get(parent, (size_t)json_integer_value(part))
						     : json_object_get(parent, json_string_value(part));
		}
		if (json_is_string(node) && parent)
			mask_string(parent, json_array_get(path, json_array_size(path) - 1), node, key);
	}
	mask_values(copy, values, value_count, key, 0);
	return copy;
}

/* Overwrite the text of every string value of a mapping, before it is dropped. */
static void wipe_values(json_t *mapping)
{
	const char *name;
	json_t *value;
	json_object_foreach(mapping, name, value) {
		if (json_is_string(value))
			OPENSSL_cleanse((char *)json_string_value(value), json_string_length(value));
	}
}

/*
 * Replace a Secret's data and stringData by one data object of masked
 * values; the copies of the values it held are wiped as they go.
 */
static void mask_secret(json_t *secret, const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE])
{
	json_t *data = json_object_get(secret, "data");
	json_t *string_data = json_object_get(secret, "stringData");
	json_t *shown = json_object();
	const char *name;
	json_t *value;

	json_object_foreach(data, name, value) {
		const char *text = json_string_value(value);
		size_t len = 0;
		unsigned char *bytes = text ? base64_decoded(text, &len) : NULL;
		if (bytes) {
			json_object_set_new(shown, name, masked(bytes, len, key));
			OPENSSL_cleanse(bytes, len);
			free(bytes);
		} else {
			json_object_set_new(shown, name, masked((const unsigned char *)(text ? text : ""), text ? strlen(text) : 0,
								key));
		}
	}
	/* The server moves stringData into data, where it wins over a value of the same name. */
	json_object_foreach(string_data, name, value) {
		const char *text = json_string_value(value);
		json_object_set_new(shown, name,
				    masked((const unsigned char *)(text ? text : ""), text ? strlen(text) : 0, key));
	}
	wipe_values(data);
	wipe_values(string_data);
	json_object_del(secret, "stringData");
	if (json_object_size(shown))
		json_object_set_new(secret, "data", shown);
	else
		json_decref(shown);
}

json_t *plumb_kube_comparable(const json_t *object, const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE])
{
	if (!json_is_object(object))
		return NULL;
	json_t *copy = json_deep_copy(object);
	json_t *metadata = json_object_get(copy, "metadata");
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(server_metadata); i++)
		json_object_del(metadata, server_metadata[i]);
	json_t *annotations = json_object_get(metadata, "annotations");
	json_object_del(annotations, LAST_APPLIED);
	json_object_del(annotations, PLUMB_KUBE_APPLIED_ANNOTATION);
	if (annotations && !json_object_size(annotations))
		json_object_del(metadata, "annotations");
	json_object_del(copy, "status");
	if (plumb_kube_is_secret(copy))
		mask_secret(copy, key);
	return copy;
}

/* --- YAML ------------------------------------------------------------------------------------ */

static int looks_like_number(const char *s)
{
	char *end = NULL;
	if (!*s)
		return 0;
	strtod(s, &end);
	if (!*end)
		return 1;
	/* YAML 1.1 readers take these as numbers too. */
	return !strncmp(s, "0x", 2) || !strncmp(s, "0o", 2) || !strcasecmp(s, ".inf") || !strcasecmp(s, "-.inf") ||
	       !strcasecmp(s, ".nan");
}

/* Whether s reads back as the same string when written without quotes. */
static int plain_safe(const char *s)
{
	static const char *const words[] = { "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~" };
	size_t len = strlen(s);
	if (!len || isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1]) || looks_like_number(s))
		return 0;
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(words); i++)
		if (!strcasecmp(s, words[i]))
			return 0;
	if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]) && !(s[0] == '-' && s[1] && s[1] != ' ' && s[1] != '-'))
		return 0;
	if (s[len - 1] == ':' || strstr(s, ": ") || strstr(s, " #"))
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* A string as a double-quoted scalar: JSON's escapes are YAML's. */
static void quoted(plumb_buf *out, const char *s)
{
	json_t *string = json_string(s);
	char *text = string ? json_dumps(string, JSON_ENCODE_ANY) : NULL;
	plumb_buf_puts(out, text ? text : "\"\"");
	free(text);
	json_decref(string);
}

static void indent_by(plumb_buf *out, unsigned indent)
{
	for (unsigned i = 0; i < indent; i++)
		plumb_buf_add(out, " ", 1);
}

/*
 * A multi-line string as a literal block, each line at indent: what people
 * diff in a ConfigMap reads as the file it is. Only when the block gives
 * the string back exactly: no line starts with a space or ends with one, no
 * control character but the line breaks.
 */
static int literal_block(plumb_buf *out, const char *s, unsigned indent)
{
	size_t len = strlen(s);
	if (!strchr(s, '\n') || s[0] == ' ' || (len >= 2 && s[len - 1] == '\n' && s[len - 2] == '\n'))
		return 0;
	for (const char *p = s; *p; p++) {
		if (((unsigned char)*p < 0x20 && *p != '\n') || *p == 0x7f)
			return 0;
		if (*p == '\n' && ((p > s && p[-1] == ' ') || p[1] == ' '))
			return 0;
	}
	if (s[len - 1] == ' ')
		return 0;
	plumb_buf_puts(out, s[len - 1] == '\n' ? "|\n" : "|-\n");
	for (const char *line = s; *line;) {
		const char *end = strchrnul(line, '\n');
		if (end > line)
			indent_by(out, indent);
		plumb_buf_add(out, line, (size_t)(end - line));
		plumb_buf_add(out, "\n", 1);
		line = *end ? end + 1 : end;
	}
	return 1;
}

/* A scalar (a string, number, true, false, null) on the current line, then a line break. */
static void scalar(plumb_buf *out, const json_t *value, unsigned indent)
{
	if (json_is_string(value)) {
		const char *s = json_string_value(value);
		if (literal_block(out, s, indent))
			return;
		if (plain_safe(s))
			plumb_buf_puts(out, s);
		else
			quoted(out, s);
	} else {
		char *text = json_dumps(value, JSON_ENCODE_ANY);
		plumb_buf_puts(out, text ? text : "null");
		free(text);
	}
	plumb_buf_add(out, "\n", 1);
}

static int is_collection(const json_t *value)
{
	return (json_is_object(value) && json_object_size(value)) || (json_is_array(value) && json_array_size(value));
}

static void value_after_key(plumb_buf *out, const json_t *value, unsigned indent);

static void mapping(plumb_buf *out, const json_t *object, unsigned indent)
{
	const char *name;
	json_t *value;
	json_object_foreach((json_t *)object, name, value) {
		indent_by(out, indent);
		if (plain_safe(name))
			plumb_buf_puts(out, name);
		else
			quoted(out, name);
		plumb_buf_add(out, ":", 1);
		value_after_key(out, value, indent);
	}
}

static void sequence(plumb_buf *out, const json_t *array, unsigned indent)
{
	size_t i;
	json_t *item;
	json_array_foreach((json_t *)array, i, item) {
		if (!is_collection(item)) {
			indent_by(out, indent);
			plumb_buf_puts(out, "- ");
			if (json_is_object(item) || json_is_array(item))
				plumb_buf_puts(out, json_is_object(item) ? "{}\n" : "[]\n");
			else
				scalar(out, item, indent + 2);
			continue;
		}
		/* The item's first line goes after "- ", the rest two spaces further in. */
		plumb_buf nested = PLUMB_BUF_INIT;
		plumb_kube_yaml(&nested, item, indent + 2);
		indent_by(out, indent);
		plumb_buf_puts(out, "- ");
		plumb_buf_add(out, nested.ptr + indent + 2, nested.len - indent - 2);
		plumb_buf_release(&nested);
	}
}

static void value_after_key(plumb_buf *out, const json_t *value, unsigned indent)
{
	if (json_is_object(value) && json_object_size(value)) {
		plumb_buf_add(out, "\n", 1);
		mapping(out, value, indent + 2);
	} else if (json_is_array(value) && json_array_size(value)) {
		plumb_buf_add(out, "\n", 1);
		sequence(out, value, indent);
	} else if (json_is_object(value) || json_is_array(value)) {
		plumb_buf_puts(out, json_is_object(value) ? " {}\n" : " []\n");
	} else {
		plumb_buf_add(out, " ", 1);
		scalar(out, value, indent + 2);
	}
}

void plumb_kube_yaml(plumb_buf *out, const json_t *value, unsigned indent)
{
	if (json_is_object(value) && json_object_size(value)) {
		mapping(out, value, indent);
	} else if (json_is_array(value) && json_array_size(value)) {
		sequence(out, value, indent);
	} else {
		indent_by(out, indent);
		if (json_is_object(value) || json_is_array(value))
			plumb_buf_puts(out, json_is_object(value) ? "{}\n" : "[]\n");
		else
			scalar(out, value, indent + 2);
	}
}

int plumb_kube_diff(plumb_buf *out, const char *name, const json_t *live, const json_t *desired,
		    const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE])
{
	plumb_buf before = PLUMB_BUF_INIT, after = PLUMB_BUF_INIT;
	json_t *live_shown = live ? plumb_kube_comparable(live, key) : NULL;
	json_t *desired_shown = plumb_kube_comparable(desired, key);
	int changed = 0;

	if (live_shown)
		plumb_kube_yaml(&before, live_shown, 0);
	if (desired_shown)
		plumb_kube_yaml(&after, desired_shown, 0);
	if (!live_shown || before.len != after.len || memcmp(before.ptr, after.ptr, before.len) != 0) {
		changed = 1;
		if (plumb_diff(out, name, live_shown ? before.ptr : NULL, before.len, after.ptr, after.len) < 0)
			changed = PLUMB_ERROR;
	}
	json_decref(live_shown);
	json_decref(desired_shown);
	plumb_buf_release(&before);
	plumb_buf_release(&after);
	return changed;
}

/* --- who owns what changes ---------------------------------------------------------------- */

/* Changed fields named at most in a plan: the diff shows the rest. */
#define OWNED_SHOWN 20

/* A path of member names from an object's root. */
typedef struct {
	const char *names[16];
	size_t depth;
} field_path;

/* The managers of live whose fields (managedFields, fieldsV1) hold path, appended to out as ", NAME". */
static void append_managers(plumb_buf *out, const json_t *live, const field_path *path)
{
	size_t i;
	json_t *managed;
	size_t before = out->len;
	json_array_foreach(json_object_get(json_object_get(live, "metadata"), "managedFields"), i, managed) {
		const json_t *node = json_object_get(managed, "fieldsV1");
		int owns = 0;
		for (size_t k = 0; node && !owns && k < path->depth; k++) {
			char member[256];
			snprintf(member, sizeof(member), "f:%s", path->names[k]);
			node = json_object_get(node, member);
			/* The field itself, or one above it owned whole ("." or no members below). */
			owns = node && (k + 1 == path->depth || !json_object_size(node) || json_object_get(node, "."));
		}
		const char *manager = json_string_value(json_object_get(managed, "manager"));
		if (owns && manager)
			plumb_buf_printf(out, "%s%s", out->len > before ? ", " : " ", manager);
	}
	if (out->len == before)
		plumb_buf_puts(out, " (none)");
}

/* Append a line for each field whose value differs between before and after (comparable forms). */
static void owned_changes(plumb_buf *out, unsigned *shown, const json_t *live, const json_t *before,
			  const json_t *after, field_path *path)
{
	if (*shown >= OWNED_SHOWN || path->depth == PLUMB_ARRAY_SIZE(path->names))
		return;
	if (json_is_object(before) && json_is_object(after)) {
		const char *name;
		json_t *value;
		json_object_foreach((json_t *)after, name, value) {
			path->names[path->depth++] = name;
			owned_changes(out, shown, live, json_object_get(before, name), value, path);
			path->depth--;
		}
		json_object_foreach((json_t *)before, name, value) {
			if (json_object_get(after, name))
				continue;
			path->names[path->depth++] = name;
			owned_changes(out, shown, live, value, NULL, path);
			path->depth--;
		}
		return;
	}
	if (json_equal(before, after) || !path->depth)
		return;
	plumb_buf_puts(out, "# .");
	for (size_t k = 0; k < path->depth; k++)
		plumb_buf_printf(out, "%s%s", k ? "." : "", path->names[k]);
	plumb_buf_puts(out, ": managed by");
	append_managers(out, live, path);
	plumb_buf_putc(out, '\n');
	(*shown)++;
}

void plumb_kube_owners(plumb_buf *out, const json_t *live, const json_t *desired,
		       const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE])
{
	json_t *before = plumb_kube_comparable(live, key);
	json_t *after = plumb_kube_comparable(desired, key);
	field_path path = { { NULL }, 0 };
	unsigned shown = 0;
	if (before && after)
		owned_changes(out, &shown, live, before, after, &path);
	json_decref(before);
	json_decref(after);
}
