#include "util/common.h"
#include "providers/kubernetes/ignore.h"
#include "providers/kubernetes/jqpath.h"

#include <stdlib.h>

struct plumb_kube_ignore {
	json_t *rules; /* [{"group", "kind", "name", "namespace", "jsonPointers": [], "jqPaths": [], "managers": []}] */
};

int plumb_kube_ignore_parse(plumb_kube_ignore **out, const char *text)
{
	*out = NULL;
	if (!text)
		return 0;
	json_t *rules = json_loads(text, 0, NULL);
	if (!json_is_array(rules)) {
		json_decref(rules);
		return plumb_error_set(PLUMB_EINVALID, "ignoreDifferences: not a list of rules");
	}
	*out = plumb_xcalloc(1, sizeof(**out));
	(*out)->rules = rules;
	return 0;
}

void plumb_kube_ignore_free(plumb_kube_ignore *ignore)
{
	if (!ignore)
		return;
	json_decref(ignore->rules);
	free(ignore);
}

/* Whether a rule's field (member name) says nothing ("") or exactly value. */
static int field_matches(const json_t *rule, const char *name, const char *value)
{
	const char *wanted = json_string_value(json_object_get(rule, name));
	return !wanted || !*wanted || !strcmp(wanted, value ? value : "");
}

static int rule_matches(const json_t *rule, const plumb_kube_target *target)
{
	const char *kind = json_string_value(json_object_get(rule, "kind"));
	const char *group = json_string_value(json_object_get(rule, "group"));
	return kind && !strcmp(kind, target->kind) && !strcmp(group ? group : "", target->group) &&
	       field_matches(rule, "name", target->name) && field_matches(rule, "namespace", target->namespace);
}

int plumb_kube_ignore_matches(const plumb_kube_ignore *ignore, const plumb_kube_target *target)
{
	size_t i;
	json_t *rule;
	if (!ignore)
		return 0;
	json_array_foreach(ignore->rules, i, rule) {
		if (rule_matches(rule, target))
			return 1;
	}
	return 0;
}

/* --- JSON pointers (RFC 6901) ------------------------------------------------------------ */

/* The next reference token of *pointer, unescaped (~1 is /, ~0 is ~): a new string; *pointer moves past it. */
static char *next_token(const char **pointer)
{
	const char *start = *pointer + 1; /* past the '/' */
	size_t length = strcspn(start, "/");
	char *token = plumb_xcalloc(1, length + 1);
	size_t n = 0;
	for (size_t i = 0; i < length; i++) {
		if (start[i] == '~' && i + 1 < length && (start[i + 1] == '0' || start[i + 1] == '1')) {
			token[n++] = start[i + 1] == '1' ? '/' : '~';
			i++;
		} else {
			token[n++] = start[i];
		}
	}
	*pointer = start + length;
	return token;
}

/* The index a token names in array, or -1 ("-" and anything not a whole number in range name none). */
static long array_index(const json_t *array, const char *token)
{
	char *end;
	long index = strtol(token, &end, 10);
	if (!*token || *end || index < 0 || (size_t)index >= json_array_size(array))
		return -1;
	return index;
}

/* The value pointer names in document, or NULL. Borrowed. */
static json_t *pointer_get(json_t *document, const char *pointer)
{
	json_t *node = document;
	while (node && *pointer == '/') {
		char *token = next_token(&pointer);
		if (json_is_object(node)) {
			node = json_object_get(node, token);
		} else if (json_is_array(node)) {
			long index = array_index(node, token);
			node = index < 0 ? NULL : json_array_get(node, (size_t)index);
		} else {
			node = NULL;
		}
		free(token);
	}
	return *pointer ? NULL : node;
}

/* The container of what pointer names, and the last token (a new string) in *last; NULL when there is none. */
static json_t *pointer_parent(json_t *document, const char *pointer, char **last)
{
	const char *slash = strrchr(pointer, '/');
	*last = NULL;
	if (!slash)
		return NULL;
	char *head = plumb_xstrndup(pointer, (size_t)(slash - pointer));
	json_t *parent = *head ? pointer_get(document, head) : document;
	free(head);
	if (parent) {
		const char *rest = slash;
		*last = next_token(&rest);
	}
	return parent;
}

static void pointer_remove(json_t *document, const char *pointer)
{
	char *last;
	json_t *parent = pointer_parent(document, pointer, &last);
	if (json_is_object(parent)) {
		json_object_del(parent, last);
	} else if (json_is_array(parent)) {
		long index = array_index(parent, last);
		if (index >= 0)
			json_array_remove(parent, (size_t)index);
	}
	free(last);
}

/* Put value (borrowed) where pointer names in document, when its container is there. */
static void pointer_set(json_t *document, const char *pointer, json_t *value)
{
	char *last;
	json_t *parent = pointer_parent(document, pointer, &last);
	if (json_is_object(parent)) {
		json_object_set(parent, last, value);
	} else if (json_is_array(parent)) {
		long index = array_index(parent, last);
		if (index >= 0)
			json_array_set(parent, (size_t)index, value);
	}
	free(last);
}

/* --- the fields a manager owns (managedFields, fieldsV1) --------------------------------- */

/* Whether a fieldsV1 entry owns its whole field: it has no members, or owns the field itself ("."). */
static int owns_whole(const json_t *entry)
{
	return !json_object_size(entry) || json_object_get(entry, ".") != NULL;
}

/* The element of array a fieldsV1 key names ("k:{...}" by its keys, "v:VALUE", "i:INDEX"), or -1. */
static long element_of(const json_t *array, const char *key)
{
	json_t *wanted = key[0] == 'k' || key[0] == 'v' ? json_loads(key + 2, JSON_DECODE_ANY, NULL) : NULL;
	long found = -1;
	size_t i;
	json_t *item;
	if (key[0] == 'i')
		found = array_index(array, key + 2);
	json_array_foreach(array, i, item) {
		if (found >= 0 || !wanted)
			break;
		int match = 1;
		if (key[0] == 'v') {
			match = json_equal(item, wanted);
		} else {
			const char *name;
			json_t *value;
			json_object_foreach(wanted, name, value) {
				if (!json_equal(json_object_get(item, name), value))
					match = 0;
			}
		}
		if (match)
			found = (long)i;
	}
	json_decref(wanted);
	return found;
}

/* Remove from node what fields (a fieldsV1 set) owns. */
static void remove_owned(json_t *node, const json_t *fields, unsigned depth)
{
	const char *key;
	json_t *entry;
	if (depth > 64)
		return;
	json_object_foreach((json_t *)fields, key, entry) {
		if (!strncmp(key, "f:", 2) && json_is_object(node)) {
			json_t *child = json_object_get(node, key + 2);
			if (owns_whole(entry))
				json_object_del(node, key + 2);
			else if (child)
				remove_owned(child, entry, depth + 1);
		} else if ((key[0] == 'k' || key[0] == 'v' || key[0] == 'i') && key[1] == ':' && json_is_array(node)) {
			long index = element_of(node, key);
			if (index < 0)
				continue;
			if (owns_whole(entry))
				json_array_remove(node, (size_t)index);
			else
				remove_owned(json_array_get(node, (size_t)index), entry, depth + 1);
		}
	}
}

/* Whether manager is one of rule's. */
static int lists_manager(const json_t *rule, const char *manager)
{
	size_t i;
	json_t *name;
	json_array_foreach(json_object_get(rule, "managers"), i, name) {
		if (manager && json_is_string(name) && !strcmp(json_string_value(name), manager))
			return 1;
	}
	return 0;
}

/* Remove from object what rule's managers own in live. */
static void remove_managed(const json_t *rule, json_t *object, const json_t *live)
{
	size_t i;
	json_t *managed;
	json_array_foreach(json_object_get(json_object_get(live, "metadata"), "managedFields"), i, managed) {
		if (lists_manager(rule, json_string_value(json_object_get(managed, "manager"))))
			remove_owned(object, json_object_get(managed, "fieldsV1"), 0);
	}
}

/*
 * The JSON pointers the rule's jq paths reach in object, the last first:
 * removed in that order, a list's earlier items keep their indexes. A new
 * reference.
 */
static json_t *jq_pointers(const json_t *rule, const json_t *object)
{
	json_t *found = json_array(), *reversed = json_array(), *expression;
	size_t i;
	json_array_foreach(json_object_get(rule, "jqPaths"), i, expression)
		plumb_jqpath_pointers(found, json_string_value(expression), object);
	for (size_t k = json_array_size(found); k > 0; k--)
		json_array_append(reversed, json_array_get(found, k - 1));
	json_decref(found);
	return reversed;
}

void plumb_kube_ignore_strip(const plumb_kube_ignore *ignore, const plumb_kube_target *target, json_t *object,
			     const json_t *live)
{
	size_t i, k;
	json_t *rule, *pointer;
	if (!ignore || !object)
		return;
	json_array_foreach(ignore->rules, i, rule) {
		if (!rule_matches(rule, target))
			continue;
		if (live)
			remove_managed(rule, object, live);
		json_array_foreach(json_object_get(rule, "jsonPointers"), k, pointer)
			pointer_remove(object, json_string_value(pointer));
		json_t *reached = jq_pointers(rule, object);
		json_array_foreach(reached, k, pointer)
			pointer_remove(object, json_string_value(pointer));
		json_decref(reached);
	}
}

void plumb_kube_ignore_body(const plumb_kube_ignore *ignore, const plumb_kube_target *target, json_t *body,
			    const json_t *live)
{
	size_t i, k;
	json_t *rule, *pointer;
	if (!ignore)
		return;
	/* An object not yet there is created as git declares it, ignored fields and all. */
	if (!live)
		return;
	json_array_foreach(ignore->rules, i, rule) {
		if (!rule_matches(rule, target))
			continue;
		remove_managed(rule, body, live);
		json_array_foreach(json_object_get(rule, "jsonPointers"), k, pointer) {
			const char *path = json_string_value(pointer);
			json_t *kept = pointer_get((json_t *)live, path);
			if (kept)
				pointer_set(body, path, kept);
			else
				pointer_remove(body, path);
		}
		/* What the jq paths reach live is sent as it is live; what they reach only in git is not sent. */
		json_t *reached = jq_pointers(rule, live);
		json_array_foreach(reached, k, pointer)
			pointer_set(body, json_string_value(pointer), pointer_get((json_t *)live, json_string_value(pointer)));
		json_decref(reached);
		reached = jq_pointers(rule, body);
		json_array_foreach(reached, k, pointer) {
			if (!pointer_get((json_t *)live, json_string_value(pointer)))
				pointer_remove(body, json_string_value(pointer));
		}
		json_decref(reached);
	}
}
