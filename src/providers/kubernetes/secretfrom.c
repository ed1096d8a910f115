/*
 * A v1 Secret's values from plumb Secrets: the references read at expand,
 * and each value put in data when it is bound.
 */
#include "util/common.h"
#include "providers/kubernetes/secretfrom.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>

static const plumb_field reference_fields[] = {
	{ PLUMB_KUBE_SECRET_FROM, PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
};

/* The two maps a reference may be written in. */
enum { DATA, STRING_DATA, MAPS };
static const char *const map_names[MAPS] = { "data", "stringData" };

static const plumb_spec_entry *find_entry(const plumb_spec_entry *entries, size_t count, const char *key)
{
	for (size_t i = 0; i < count; i++)
		if (!strcmp(entries[i].key, key))
			return &entries[i];
	return NULL;
}

static void add_reference(plumb_kube_secret_reference **out, size_t *count, size_t *capacity, const char *key,
			  const plumb_value *name, const char *map)
{
	PLUMB_GROW(*out, *count, *capacity);
	plumb_kube_secret_reference *reference = &(*out)[(*count)++];
	reference->key = plumb_xstrdup(key);
	reference->name = plumb_xstrdup(name->string);
	reference->field = plumb_xprintf("%s.%s.%s", map, key, PLUMB_KUBE_SECRET_FROM);
	reference->position = name->position;
}

unsigned plumb_kube_secret_references_read(plumb_kube_secret_reference **out, size_t *count, const plumb_spec *spec,
					   plumb_diags *diags)
{
	const plumb_spec *document = spec;
	plumb_spec_entry *top = NULL, *maps[MAPS] = { NULL, NULL };
	size_t top_count = 0, map_counts[MAPS] = { 0, 0 }, capacity = 0, before = diags->count;
	const plumb_spec_entry *data = NULL;

	*out = NULL;
	*count = 0;
	if (!document)
		return 0;
	plumb_spec_entries(&top, &top_count, document, diags);
	int order[MAPS], ordered = 0; /* the maps in the order written */
	for (size_t i = 0; i < top_count; i++) {
		for (int m = 0; m < MAPS; m++) {
			if (strcmp(top[i].key, map_names[m]) != 0)
				continue;
			if (m == DATA)
				data = &top[i];
			/* Anything else there is not a map of values: the server says what is wrong with it. */
			if (top[i].type == PLUMB_FIELD_MAP && !maps[m]) {
				plumb_spec_entries(&maps[m], &map_counts[m], top[i].value.map, diags);
				order[ordered++] = m;
			}
		}
	}
	for (int o = 0; o < ordered; o++) {
		int m = order[o];
		for (size_t i = 0; i < map_counts[m]; i++) {
			const plumb_spec_entry *entry = &maps[m][i];
			if (entry->type != PLUMB_FIELD_MAP)
				continue; /* a value, as Kubernetes takes it */
			const plumb_spec_entry *twin = find_entry(maps[!m], map_counts[!m], entry->key);
			plumb_value name[PLUMB_ARRAY_SIZE(reference_fields)];
			size_t fields = PLUMB_ARRAY_SIZE(reference_fields);
			if (plumb_spec_decode(name, entry->value.map, reference_fields, fields, diags) == 0) {
				if (!*name[0].string)
					plumb_diags_add(diags, name[0].position, "%s.%s.%s: must name a Secret",
							map_names[m], entry->key, PLUMB_KUBE_SECRET_FROM);
				else
					add_reference(out, count, &capacity, entry->key, &name[0], map_names[m]);
			}
			plumb_values_release(name, PLUMB_ARRAY_SIZE(name));
			/* A key in both would leave the value to the server's choice (stringData's): say it once. */
			if (twin && (m == DATA || twin->type != PLUMB_FIELD_MAP))
				plumb_diags_add(diags, entry->value.position,
						"%s.%s: %s.%s is given too; a key whose value a Secret gives is "
						"written once",
						map_names[m], entry->key, map_names[!m], entry->key);
		}
	}
	/* The values go in data: data must be a map to take them. */
	if (*count && data && data->type != PLUMB_FIELD_MAP)
		plumb_diags_add(diags, data->value.position, "data: expected a mapping (values from Secrets go there)");
	for (int m = 0; m < MAPS; m++)
		plumb_spec_entries_release(maps[m], map_counts[m]);
	plumb_spec_entries_release(top, top_count);
	if (diags->count > before) {
		plumb_kube_secret_references_free(*out, *count);
		*out = NULL;
		*count = 0;
	}
	return (unsigned)(diags->count - before);
}

void plumb_kube_secret_references_free(plumb_kube_secret_reference *references, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(references[i].key);
		free(references[i].name);
		free(references[i].field);
	}
	free(references);
}

/* --- values ----------------------------------------------------------------------------- */

/* Overwrite the text of mapping's member key when it is a string (a value about to be dropped). */
static void wipe_member(json_t *mapping, const char *key)
{
	json_t *member = json_object_get(mapping, key);
	if (json_is_string(member))
		explicit_bzero((char *)json_string_value(member), json_string_length(member));
}

void plumb_kube_secret_value_put(json_t *document, const char *key, const char *value, size_t length)
{
	json_t *data = json_object_get(document, "data");
	json_t *string_data = json_object_get(document, "stringData");
	if (!data) {
		data = json_object();
		json_object_set_new(document, "data", data);
	}
	/* Base64 without line breaks, as data holds it; a value is at most PLUMB_SECRET_MAX bytes. */
	size_t encoded_length = 4 * ((length + 2) / 3);
	unsigned char *encoded = plumb_xmalloc(encoded_length + 1);
	EVP_EncodeBlock(encoded, (const unsigned char *)value, (int)length);
	wipe_member(data, key);
	json_object_set_new(data, key, json_stringn((const char *)encoded, encoded_length));
	OPENSSL_cleanse(encoded, encoded_length + 1);
	free(encoded);
	/* The reference, when it was written there: the value is in data now. */
	if (json_object_get(string_data, key)) {
		wipe_member(string_data, key);
		json_object_del(string_data, key);
		if (!json_object_size(string_data))
			json_object_del(document, "stringData");
	}
}
