/*
 * Unit tests of values of plumb Secrets in any field of a Kubernetes object
 * (providers/kubernetes/placeholder.c, and their masking in compare.c):
 * placeholders found in text and in base64, refused where a value cannot
 * be, filled in one pass (a value is never searched for a placeholder), and
 * masked in what a diff shows even where a field moved.
 */
#include "util/common.h"
#include "providers/kubernetes/compare.h"
#include "providers/kubernetes/placeholder.h"

#include <stdlib.h>

#include "test.h"

static const plumb_position at = { "apps (kustomize) ConfigMap/web", 1, 1 };

static json_t *parse(const char *text)
{
	json_t *json = json_loads(text, 0, NULL);
	CHECK(json != NULL);
	return json;
}

static char *b64(const char *text)
{
	plumb_buf out = PLUMB_BUF_INIT;
	size_t len = strlen(text);
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned char)text[i] << 16 | (i + 1 < len ? (unsigned char)text[i + 1] << 8 : 0) |
			     (i + 2 < len ? (unsigned char)text[i + 2] : 0);
		plumb_buf_putc(&out, alphabet[v >> 18 & 63]);
		plumb_buf_putc(&out, alphabet[v >> 12 & 63]);
		plumb_buf_putc(&out, i + 1 < len ? alphabet[v >> 6 & 63] : '=');
		plumb_buf_putc(&out, i + 2 < len ? alphabet[v & 63] : '=');
	}
	return plumb_buf_detach(&out, NULL);
}

static void placeholders_are_found_in_text_and_in_base64(void)
{
	char *encoded = b64("token=${secret:api-token}");
	char *text = plumb_xprintf("{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"web\"},"
				   " \"data\": {\"url\": \"postgres://app:${secret:db}@db/${secret:db}\","
				   " \"plain\": \"${secret:}\", \"open\": \"${secret:db\", \"list\": [\"a\", \"%s\"]}}",
				   encoded);
	json_t *doc = parse(text);
	plumb_kube_placeholders found = { 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	CHECK_INT(plumb_kube_placeholders_find(&found, doc, "ConfigMap web", at, &diags), 2);
	CHECK_INT(diags.count, 0);
	CHECK_STR(found.names[0], "db");
	CHECK_STR(found.names[1], "api-token");
	char *fields = json_dumps(found.fields, JSON_COMPACT);
	CHECK_STR(fields, "[[\"data\",\"url\"],[\"data\",\"list\",1]]");
	free(fields);
	plumb_kube_placeholders_release(&found);
	plumb_diags_release(&diags);
	json_decref(doc);
	free(text);
	free(encoded);
}

static void a_secrets_values_are_not_listed_and_identities_refuse_them(void)
{
	json_t *doc = parse("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"x-${secret:a}\","
			    " \"labels\": {\"${secret:b}\": \"v\"}}, \"stringData\": {\"token\": \"${secret:c}\"}}");
	plumb_kube_placeholders found = { 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	plumb_kube_placeholders_find(&found, doc, "Secret x", at, &diags);
	CHECK_INT(diags.count, 2);
	if (diags.count == 2) {
		CHECK(strstr(diags.items[0].message, "metadata.name: the value of a Secret cannot name an object") != NULL);
		CHECK(strstr(diags.items[1].message, "metadata.labels.${secret:b}: the value of a Secret cannot be a key") !=
		      NULL);
	}
	/* stringData is masked whole: no field is listed for it, but its Secret is one the object takes. */
	CHECK_INT(json_array_size(found.fields), 0);
	CHECK_INT(found.name_count, 2);
	plumb_kube_placeholders_release(&found);
	plumb_diags_release(&diags);
	json_decref(doc);
}

static void values_fill_every_placeholder_in_one_pass(void)
{
	char *encoded = b64("pw=${secret:db}!");
	char *text = plumb_xprintf("{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"s\"},"
				   " \"data\": {\"pw\": \"%s\", \"bound\": \"%s\"},"
				   " \"stringData\": {\"url\": \"a:${secret:db}:${secret:tls}:${secret:other}\"}}",
				   encoded, encoded);
	json_t *doc = parse(text);
	char *names[] = { "db", "tls" };
	plumb_buf values[2] = { PLUMB_BUF_INIT, PLUMB_BUF_INIT };
	/* A value that reads as a placeholder is put as it is, never filled in turn. */
	plumb_buf_puts(&values[0], "${secret:tls}");
	plumb_buf_puts(&values[1], "T");
	char *skip[] = { "bound" };
	CHECK_INT(plumb_kube_placeholders_fill(doc, names, values, 2, skip, 1), 0);
	json_t *string_data = json_object_get(doc, "stringData"), *data = json_object_get(doc, "data");
	CHECK_STR(json_string_value(json_object_get(string_data, "url")), "a:${secret:tls}:T:${secret:other}");
	char *expected = b64("pw=${secret:tls}!");
	CHECK_STR(json_string_value(json_object_get(data, "pw")), expected);
	/* A key whose value was put from a reference already is left alone. */
	CHECK_STR(json_string_value(json_object_get(data, "bound")), encoded);
	free(expected);
	plumb_buf_release(&values[0]);
	plumb_buf_release(&values[1]);
	json_decref(doc);
	free(text);
	free(encoded);
}

static void a_value_that_is_no_text_goes_only_into_base64(void)
{
	char *encoded = b64("${secret:key}");
	char *text = plumb_xprintf("{\"kind\": \"ConfigMap\", \"binaryData\": {\"k\": \"%s\"}, \"data\": {\"t\": \"%s\"}}",
				   encoded, "${secret:key}");
	json_t *doc = parse(text);
	char *names[] = { "key" };
	plumb_buf value = PLUMB_BUF_INIT;
	plumb_buf_add(&value, "\xff\xfe", 2);
	CHECK_INT(plumb_kube_placeholders_fill(doc, names, &value, 1, NULL, 0), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "Secret key is not UTF-8 text") != NULL);
	plumb_error_clear();
	CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "binaryData"), "k")), "//4=");
	CHECK_STR(json_string_value(json_object_get(json_object_get(doc, "data"), "t")), "${secret:key}");
	plumb_buf_release(&value);
	json_decref(doc);
	free(text);
	free(encoded);
}

static void masking_hides_the_fields_and_any_string_holding_a_value(void)
{
	static const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE] = { 1 };
	json_t *live = parse("{\"data\": {\"url\": \"postgres://app:hunter2@db\", \"moved\": [\"x\", \"pw hunter2\"],"
			     " \"plain\": \"prod\"}}");
	json_t *fields = parse("[[\"data\", \"url\"], [\"data\", \"nowhere\", 3]]");
	plumb_buf value = PLUMB_BUF_INIT;
	plumb_buf_puts(&value, "hunter2");
	json_t *shown = plumb_kube_masked(live, fields, &value, 1, key);
	char *text = json_dumps(shown, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK(strstr(text, "hunter2") == NULL);
	CHECK(strstr(text, "\"url\":\"(sensitive ") != NULL);
	CHECK(strstr(text, "[\"x\",\"(sensitive ") != NULL);
	CHECK(strstr(text, "\"plain\":\"prod\"") != NULL);
	/* The object itself is left as it was: a copy is masked. */
	CHECK_STR(json_string_value(json_object_get(json_object_get(live, "data"), "url")), "postgres://app:hunter2@db");
	/* The same value masks the same: a diff shows what changed, not what. */
	json_t *again = plumb_kube_masked(live, fields, &value, 1, key);
	CHECK(json_equal(again, shown));
	json_t *none = plumb_kube_masked(live, NULL, NULL, 0, key);
	CHECK(none == live);
	free(text);
	json_decref(none);
	json_decref(again);
	json_decref(shown);
	plumb_buf_release(&value);
	json_decref(fields);
	json_decref(live);
}

int main(void)
{
	RUN(placeholders_are_found_in_text_and_in_base64);
	RUN(a_secrets_values_are_not_listed_and_identities_refuse_them);
	RUN(values_fill_every_placeholder_in_one_pass);
	RUN(a_value_that_is_no_text_goes_only_into_base64);
	RUN(masking_hides_the_fields_and_any_string_holding_a_value);
	TEST_EXIT();
}
