#include "util/common.h"
#include "util/buf.h"
#include "resource/spec_internal.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

/*
 * libfyaml 0.7 keeps marks on tokens only, so a collection is placed where
 * its first scalar is: a mapping at its first key, a list at its first
 * item. An empty collection has no position (0:0).
 */
plumb_position plumb_spec_node_position(struct fy_node *node, const char *file)
{
	plumb_position pos = { file, 0, 0 };
	for (unsigned depth = 0; node && depth < 64; depth++) {
		void *iter = NULL;
		if (fy_node_get_type(node) == FYNT_SCALAR) {
			struct fy_token *token = fy_node_get_scalar_token(node);
			const struct fy_mark *mark = token ? fy_token_start_mark(token) : NULL;
			if (mark) {
				pos.line = (unsigned)mark->line + 1;
				pos.column = (unsigned)mark->column + 1;
			}
			break;
		}
		if (fy_node_get_type(node) == FYNT_MAPPING) {
			struct fy_node_pair *pair = fy_node_mapping_iterate(node, &iter);
			node = pair ? fy_node_pair_key(pair) : NULL;
		} else {
			node = fy_node_sequence_iterate(node, &iter);
		}
	}
	return pos;
}

plumb_position plumb_spec_position(const plumb_spec *spec)
{
	return spec->position;
}

const char *plumb_spec_name(const plumb_spec *spec)
{
	return spec->name;
}

static const char *node_type_name(struct fy_node *node)
{
	switch (fy_node_get_type(node)) {
	case FYNT_MAPPING:
		return "a mapping";
	case FYNT_SEQUENCE:
		return "a list";
	default:
		return "a scalar";
	}
}

/* Parse an octal mode: digits 0-7 only (an optional 0o prefix), at most 07777. */
static int parse_mode(unsigned *out, const char *text)
{
	const char *p = text;
	unsigned mode = 0;
	if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
		p += 2;
	if (!*p || strlen(p) > 5)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '7')
			return -1;
		mode = mode * 8 + (unsigned)(*p - '0');
	}
	if (mode > 07777)
		return -1;
	*out = mode;
	return 0;
}

static int decode_value(plumb_value *value, const plumb_spec *spec, const plumb_field *field, struct fy_node *node,
			plumb_diags *diags)
{
	size_t len = 0;
	const char *text;

	if (field->type == PLUMB_FIELD_MAP || field->type == PLUMB_FIELD_ANY) {
		if (field->type == PLUMB_FIELD_MAP && fy_node_get_type(node) != FYNT_MAPPING) {
			plumb_diags_add(diags, value->position, "%s.%s: expected a mapping, got %s", spec->name,
					field->name, node_type_name(node));
			return -1;
		}
		value->map = plumb_xcalloc(1, sizeof(*value->map));
		value->map->node = node;
		value->map->file = spec->file;
		value->map->owned_name = *spec->name ? plumb_xprintf("%s.%s", spec->name, field->name)
						      : plumb_xstrdup(field->name);
		value->map->name = value->map->owned_name;
		value->map->position = value->position;
		return 0;
	}
	if (field->type == PLUMB_FIELD_MAPS) {
		void *iter = NULL;
		struct fy_node *item;
		if (fy_node_get_type(node) != FYNT_SEQUENCE) {
			plumb_diags_add(diags, value->position, "%s.%s: expected a list, got %s", spec->name, field->name,
					node_type_name(node));
			return -1;
		}
		while ((item = fy_node_sequence_iterate(node, &iter)) != NULL) {
			plumb_position position = plumb_spec_node_position(item, spec->file);
			if (fy_node_get_type(item) != FYNT_MAPPING) {
				plumb_diags_add(diags, position, "%s.%s[%zu]: expected a mapping, got %s", spec->name,
						field->name, value->map_count, node_type_name(item));
				return -1;
			}
			plumb_spec *map = plumb_xcalloc(1, sizeof(*map));
			map->node = item;
			map->file = spec->file;
			map->owned_name = *spec->name ? plumb_xprintf("%s.%s[%zu]", spec->name, field->name, value->map_count)
						      : plumb_xprintf("%s[%zu]", field->name, value->map_count);
			map->name = map->owned_name;
			map->position = position;
			value->maps = plumb_xrealloc(value->maps, (value->map_count + 1) * sizeof(*value->maps));
			value->maps[value->map_count++] = map;
		}
		return 0;
	}
	if (field->type == PLUMB_FIELD_LIST) {
		void *iter = NULL;
		struct fy_node *item;
		if (fy_node_get_type(node) != FYNT_SEQUENCE) {
			plumb_diags_add(diags, value->position, "%s.%s: expected a list, got %s", spec->name, field->name,
					node_type_name(node));
			return -1;
		}
		while ((item = fy_node_sequence_iterate(node, &iter)) != NULL) {
			if (fy_node_get_type(item) != FYNT_SCALAR) {
				plumb_diags_add(diags, plumb_spec_node_position(item, spec->file),
						"%s.%s: every item must be a string", spec->name, field->name);
				return -1;
			}
			text = fy_node_get_scalar(item, &len);
			value->list = plumb_xrealloc(value->list, (value->list_count + 1) * sizeof(*value->list));
			value->list_positions = plumb_xrealloc(value->list_positions,
							       (value->list_count + 1) * sizeof(*value->list_positions));
			value->list_positions[value->list_count] = plumb_spec_node_position(item, spec->file);
			value->list[value->list_count++] = plumb_xstrndup(text ? text : "", text ? len : 0);
		}
		return 0;
	}
	if (fy_node_get_type(node) != FYNT_SCALAR) {
		plumb_diags_add(diags, value->position, "%s.%s: expected %s, got %s", spec->name, field->name,
				field->type == PLUMB_FIELD_BOOL	  ? "true or false"
				: field->type == PLUMB_FIELD_MODE ? "an octal mode such as \"0644\""
				: field->type == PLUMB_FIELD_INT  ? "a whole number"
								  : "a string",
				node_type_name(node));
		return -1;
	}
	text = fy_node_get_scalar(node, &len);
	value->string = plumb_xstrndup(text ? text : "", text ? len : 0);
	value->length = text ? len : 0;

	switch (field->type) {
	case PLUMB_FIELD_STRING:
	case PLUMB_FIELD_LIST:
	case PLUMB_FIELD_MAP:
	case PLUMB_FIELD_MAPS:
	case PLUMB_FIELD_ANY:
		break;
	case PLUMB_FIELD_INT: {
		char *end;
		errno = 0;
		value->integer = strtoll(value->string, &end, 10);
		if (errno || !*value->string || *end) {
			plumb_diags_add(diags, value->position, "%s.%s: expected a whole number, got \"%s\"", spec->name,
					field->name, value->string);
			return -1;
		}
		break;
	}
	case PLUMB_FIELD_MODE:
		if (parse_mode(&value->mode, value->string) < 0) {
			plumb_diags_add(diags, value->position, "%s.%s: expected an octal mode such as \"0644\", got \"%s\"",
					spec->name, field->name, value->string);
			return -1;
		}
		break;
	case PLUMB_FIELD_BOOL:
		if (!strcmp(value->string, "true")) {
			value->boolean = 1;
		} else if (!strcmp(value->string, "false")) {
			value->boolean = 0;
		} else {
			plumb_diags_add(diags, value->position, "%s.%s: expected true or false, got \"%s\"", spec->name,
					field->name, value->string);
			return -1;
		}
		break;
	}
	return 0;
}

static unsigned decode(plumb_value *values, const plumb_spec *spec, const plumb_field *fields, size_t count,
		       plumb_diags *diags, int lenient)
{
	size_t before = diags->count;
	void *iter = NULL;
	struct fy_node_pair *pair;

	memset(values, 0, count * sizeof(*values));
	if (spec->node && fy_node_get_type(spec->node) != FYNT_MAPPING) {
		plumb_diags_add(diags, spec->position, "%s: expected a mapping, got %s", spec->name,
				node_type_name(spec->node));
		return (unsigned)(diags->count - before);
	}
	while (spec->node && (pair = fy_node_mapping_iterate(spec->node, &iter)) != NULL) {
		struct fy_node *key = fy_node_pair_key(pair);
		struct fy_node *node = fy_node_pair_value(pair);
		plumb_position pos = plumb_spec_node_position(key, spec->file);
		size_t len = 0;
		const char *name = key && fy_node_get_type(key) == FYNT_SCALAR ? fy_node_get_scalar(key, &len) : NULL;
		size_t i;

		for (i = 0; name && i < count; i++)
			if (strlen(fields[i].name) == len && !memcmp(fields[i].name, name, len))
				break;
		if (name && i == count && lenient) {
			plumb_diags_warn(diags, pos, "%s.%.*s: not read by plumb (ignored)", spec->name, (int)len, name);
			continue;
		}
		if (!name || i == count) {
			plumb_diags_add(diags, pos, "%s: unknown field \"%.*s\"", spec->name, (int)len, name ? name : "?");
			continue;
		}
		values[i].present = 1;
		values[i].position = plumb_spec_node_position(node ? node : key, spec->file);
		if (!node) {
			plumb_diags_add(diags, pos, "%s.%s: has no value", spec->name, fields[i].name);
			values[i].present = 0;
			continue;
		}
		if (decode_value(&values[i], spec, &fields[i], node, diags) < 0)
			values[i].present = 0;
	}
	for (size_t i = 0; i < count; i++) {
		if ((fields[i].flags & PLUMB_FIELD_REQUIRED) && !values[i].present && !values[i].string)
			plumb_diags_add(diags, spec->position, "%s: missing required field \"%s\"", spec->name,
					fields[i].name);
	}
	return (unsigned)(diags->count - before);
}

unsigned plumb_spec_decode(plumb_value *values, const plumb_spec *spec, const plumb_field *fields, size_t count,
			   plumb_diags *diags)
{
	return decode(values, spec, fields, count, diags, 0);
}

unsigned plumb_spec_decode_known(plumb_value *values, const plumb_spec *spec, const plumb_field *fields, size_t count,
				 plumb_diags *diags)
{
	return decode(values, spec, fields, count, diags, 1);
}

void plumb_values_release(plumb_value *values, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(values[i].string);
		values[i].string = NULL;
		for (size_t j = 0; j < values[i].list_count; j++)
			free(values[i].list[j]);
		free(values[i].list);
		free(values[i].list_positions);
		values[i].list = NULL;
		values[i].list_positions = NULL;
		values[i].list_count = 0;
		if (values[i].map) {
			free(values[i].map->owned_name);
			free(values[i].map);
			values[i].map = NULL;
		}
		for (size_t j = 0; j < values[i].map_count; j++) {
			free(values[i].maps[j]->owned_name);
			free(values[i].maps[j]);
		}
		free(values[i].maps);
		values[i].maps = NULL;
		values[i].map_count = 0;
	}
}

/* A nested mapping's name: "PARENT.KEY", or "KEY" below a whole document (named ""). */
static plumb_spec *nested_spec(const plumb_spec *parent, struct fy_node *node, const char *key,
			       plumb_position position)
{
	plumb_spec *nested = plumb_xcalloc(1, sizeof(*nested));
	nested->node = node;
	nested->file = parent->file;
	nested->owned_name = *parent->name ? plumb_xprintf("%s.%s", parent->name, key) : plumb_xstrdup(key);
	nested->name = nested->owned_name;
	nested->position = position;
	return nested;
}

unsigned plumb_spec_entries(plumb_spec_entry **out, size_t *count, const plumb_spec *spec, plumb_diags *diags)
{
	size_t before = diags->count, capacity = 0;
	void *iter = NULL;
	struct fy_node_pair *pair;

	*out = NULL;
	*count = 0;
	if (spec->node && fy_node_get_type(spec->node) != FYNT_MAPPING) {
		plumb_diags_add(diags, spec->position, "%s: expected a mapping, got %s", spec->name,
				node_type_name(spec->node));
		return (unsigned)(diags->count - before);
	}
	while (spec->node && (pair = fy_node_mapping_iterate(spec->node, &iter)) != NULL) {
		struct fy_node *key = fy_node_pair_key(pair);
		struct fy_node *node = fy_node_pair_value(pair);
		size_t len = 0;
		const char *name = key && fy_node_get_type(key) == FYNT_SCALAR ? fy_node_get_scalar(key, &len) : NULL;
		if (!name) {
			plumb_diags_add(diags, plumb_spec_node_position(key, spec->file), "%s: a key must be a string",
					spec->name);
			continue;
		}
		PLUMB_GROW(*out, *count, capacity);
		plumb_spec_entry *entry = &(*out)[(*count)++];
		memset(entry, 0, sizeof(*entry));
		entry->key = plumb_xstrndup(name, len);
		entry->value.present = node != NULL;
		entry->value.position = plumb_spec_node_position(node ? node : key, spec->file);
		if (!entry->value.position.line) /* an empty mapping or list has no position of its own */
			entry->value.position = plumb_spec_node_position(key, spec->file);
		if (node && fy_node_get_type(node) == FYNT_MAPPING) {
			entry->type = PLUMB_FIELD_MAP;
			entry->value.map = nested_spec(spec, node, entry->key, entry->value.position);
		} else {
			entry->type = node && fy_node_get_type(node) == FYNT_SEQUENCE ? PLUMB_FIELD_LIST : PLUMB_FIELD_STRING;
		}
	}
	return (unsigned)(diags->count - before);
}

void plumb_spec_entries_release(plumb_spec_entry *entries, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(entries[i].key);
		plumb_values_release(&entries[i].value, 1);
	}
	free(entries);
}

/* --- YAML to JSON --------------------------------------------------------------------------- */

static json_t *scalar_to_json(struct fy_node *node)
{
	size_t len = 0;
	const char *text = fy_node_get_scalar(node, &len);
	char *s = plumb_xstrndup(text ? text : "", len);
	json_t *value = NULL;

	if (fy_node_get_style(node) == FYNS_PLAIN) {
		char *end;
		if (!strcmp(s, "true") || !strcmp(s, "false")) {
			value = json_boolean(s[0] == 't');
		} else if (!strcmp(s, "null") || !strcmp(s, "~") || !*s) {
			value = json_null();
		} else if ((s[0] >= '0' && s[0] <= '9') || s[0] == '-') {
			long long n = strtoll(s, &end, 10);
			/* Leading zeros stay strings: 0644 is a mode, not the number 644. */
			if (!*end && !(s[0] == '0' && s[1]) && !(s[0] == '-' && s[1] == '0'))
				value = json_integer(n);
		}
	}
	if (!value)
		value = json_stringn(s, len);
	free(s);
	return value;
}

static json_t *node_to_json(struct fy_node *node, unsigned depth)
{
	if (!node)
		return json_null();
	if (depth > PLUMB_SPEC_DEPTH_MAX)
		return NULL;
	switch (fy_node_get_type(node)) {
	case FYNT_SCALAR:
		return scalar_to_json(node);
	case FYNT_SEQUENCE: {
		json_t *array = json_array();
		void *iter = NULL;
		struct fy_node *item;
		while ((item = fy_node_sequence_iterate(node, &iter)) != NULL) {
			json_t *v = node_to_json(item, depth + 1);
			if (!v) {
				json_decref(array);
				return NULL;
			}
			json_array_append_new(array, v);
		}
		return array;
	}
	case FYNT_MAPPING: {
		json_t *object = json_object();
		void *iter = NULL;
		struct fy_node_pair *pair;
		while ((pair = fy_node_mapping_iterate(node, &iter)) != NULL) {
			struct fy_node *key = fy_node_pair_key(pair);
			size_t len = 0;
			const char *k = key && fy_node_get_type(key) == FYNT_SCALAR ? fy_node_get_scalar(key, &len) : "";
			char *name = plumb_xstrndup(k ? k : "", len);
			json_t *v = node_to_json(fy_node_pair_value(pair), depth + 1);
			if (!v) {
				free(name);
				json_decref(object);
				return NULL;
			}
			json_object_set_new(object, name, v);
			free(name);
		}
		return object;
	}
	}
	return NULL;
}

json_t *plumb_spec_node_json(struct fy_node *node)
{
	return node_to_json(node, 0);
}

char *plumb_spec_json(const plumb_spec *spec)
{
	json_t *json = node_to_json(spec->node, 0);
	char *text = json ? json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY) : NULL;
	json_decref(json);
	return text;
}
