/* Unit tests of how the kubernetes provider compares and shows objects: server fields left out, Secrets masked, YAML. */
#include "util/common.h"
#include "providers/kubernetes/compare.h"
#include "source/source.h"
#include "test.h"

#include <jansson.h>
#include <libfyaml.h>

static const unsigned char key_one[PLUMB_KUBE_HASH_KEY_SIZE] = { 1 };
static const unsigned char key_two[PLUMB_KUBE_HASH_KEY_SIZE] = { 2 };

static json_t *parse(const char *json)
{
	json_error_t error;
	json_t *value = json_loads(json, 0, &error);
	if (!value) {
		fprintf(stderr, "  bad fixture: %s\n", error.text);
		test_failed = 1;
	}
	return value;
}

static char *yaml_of(const json_t *value)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_kube_yaml(&out, value, 0);
	return plumb_buf_detach(&out, NULL);
}

/* YAML read back by libfyaml, as JSON: what any YAML reader makes of plumb's YAML. */
static json_t *read_back(const char *yaml)
{
	struct fy_document *doc = fy_document_build_from_string(NULL, yaml, FY_NT);
	char *json = doc ? fy_emit_document_to_string(doc, FYECF_MODE_JSON_ONELINE) : NULL;
	json_t *value = json ? json_loads(json, 0, NULL) : NULL;
	free(json);
	fy_document_destroy(doc);
	return value;
}

static void test_server_fields_left_out(void)
{
	json_t *live = parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
			     "\"namespace\":\"shop\",\"uid\":\"1-2-3\",\"resourceVersion\":\"42\",\"generation\":3,"
			     "\"creationTimestamp\":\"2026-12-07T00:00:00Z\",\"labels\":{\"app\":\"web\"},"
			     "\"annotations\":{\"kubectl.kubernetes.io/last-applied-configuration\":\"{}\"},"
			     "\"managedFields\":[{\"manager\":\"plumb\"}]},\"spec\":{\"replicas\":2},"
			     "\"status\":{\"replicas\":2}}");
	json_t *shown = plumb_kube_comparable(live, key_one);
	json_t *want = parse("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
			     "\"namespace\":\"shop\",\"labels\":{\"app\":\"web\"}},\"spec\":{\"replicas\":2}}");
	CHECK(json_equal(shown, want));
	/* The object it was made from is left as it was. */
	CHECK(json_object_get(live, "status") != NULL);
	json_decref(shown);
	json_decref(want);
	json_decref(live);
	CHECK(plumb_kube_comparable(NULL, key_one) == NULL);
}

static void test_secret_values_masked(void)
{
	/* "cGFzc3dvcmQ=" is "password" in base64: the same value as data and as stringData. */
	json_t *live = parse("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"db\"},"
			     "\"data\":{\"password\":\"cGFzc3dvcmQ=\",\"user\":\"YWRtaW4=\"}}");
	json_t *desired = parse("{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"db\"},"
				"\"stringData\":{\"password\":\"password\"},\"data\":{\"user\":\"cm9vdA==\"}}");
	json_t *a = plumb_kube_comparable(live, key_one);
	json_t *b = plumb_kube_comparable(desired, key_one);
	const char *live_password = json_string_value(json_object_get(json_object_get(a, "data"), "password"));
	const char *desired_password = json_string_value(json_object_get(json_object_get(b, "data"), "password"));
	CHECK(live_password && !strncmp(live_password, "(sensitive ", 11) && strlen(live_password) == 11 + 16 + 1);
	CHECK_STR(desired_password, live_password ? live_password : "");
	CHECK(json_object_get(b, "stringData") == NULL);
	/* A different value, a different hash; another state directory's key, another hash. */
	const char *live_user = json_string_value(json_object_get(json_object_get(a, "data"), "user"));
	const char *desired_user = json_string_value(json_object_get(json_object_get(b, "data"), "user"));
	CHECK(live_user && desired_user && strcmp(live_user, desired_user) != 0);
	json_t *other = plumb_kube_comparable(live, key_two);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(other, "data"), "password")),
		     live_password ? live_password : "") != 0);

	plumb_buf diff = PLUMB_BUF_INIT;
	CHECK_INT(plumb_kube_diff(&diff, "v1/Secret/db", live, desired, key_one), 1);
	/* The changed key shows as changed, the unchanged one not at all, and no value anywhere. */
	CHECK(strstr(diff.ptr, "-  user: (sensitive ") != NULL);
	CHECK(strstr(diff.ptr, "+  user: (sensitive ") != NULL);
	CHECK(strstr(diff.ptr, "-  password") == NULL);
	CHECK(strstr(diff.ptr, "password\n") == NULL && strstr(diff.ptr, "cGFzc3dvcmQ") == NULL);
	CHECK(strstr(diff.ptr, "admin") == NULL && strstr(diff.ptr, "YWRtaW4") == NULL && strstr(diff.ptr, "root") == NULL);
	plumb_buf_release(&diff);
	json_decref(other);
	json_decref(a);
	json_decref(b);
	json_decref(live);
	json_decref(desired);
}

static void test_yaml(void)
{
	json_t *value = parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"conf\","
			      "\"labels\":{}},\"data\":{\"app.conf\":\"listen 80\\nroot /srv\\n\",\"flag\":\"true\","
			      "\"port\":\"8080\",\"empty\":\"\",\"colon\":\"a: b\",\"hash\":\"#1\",\"plain\":\"hello world\","
			      "\"no-newline\":\"one\\ntwo\"},\"list\":[{\"name\":\"a\",\"ports\":[80,443]},\"x\",[],{},"
			      "[1,[2]]],\"n\":1.5,\"t\":true,\"z\":null}");
	char *yaml = yaml_of(value);
	CHECK_STR(yaml, "apiVersion: v1\n"
			"kind: ConfigMap\n"
			"metadata:\n"
			"  name: conf\n"
			"  labels: {}\n"
			"data:\n"
			"  app.conf: |\n"
			"    listen 80\n"
			"    root /srv\n"
			"  flag: \"true\"\n"
			"  port: \"8080\"\n"
			"  empty: \"\"\n"
			"  colon: \"a: b\"\n"
			"  hash: \"#1\"\n"
			"  plain: hello world\n"
			"  no-newline: |-\n"
			"    one\n"
			"    two\n"
			"list:\n"
			"- name: a\n"
			"  ports:\n"
			"  - 80\n"
			"  - 443\n"
			"- x\n"
			"- []\n"
			"- {}\n"
			"- - 1\n"
			"  - - 2\n"
			"\"n\": 1.5\n"
			"t: true\n"
			"z: null\n");
	/* And a YAML reader makes the same document of it. */
	json_t *back = read_back(yaml ? yaml : "");
	CHECK(back != NULL && json_equal(back, value));
	json_decref(back);
	free(yaml);
	json_decref(value);
}

static void test_diff(void)
{
	json_t *live = parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
			     "\"resourceVersion\":\"7\",\"managedFields\":[]},\"data\":{\"a\":\"1\",\"b\":\"2\"}}");
	json_t *same = parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
			     "\"resourceVersion\":\"8\"},\"data\":{\"a\":\"1\",\"b\":\"2\"}}");
	json_t *changed = parse("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},"
				"\"data\":{\"a\":\"1\",\"b\":\"3\"}}");
	plumb_buf diff = PLUMB_BUF_INIT;

	/* Only what the server bookkeeps differs: no change, nothing written. */
	CHECK_INT(plumb_kube_diff(&diff, "v1/ConfigMap/c", live, same, key_one), 0);
	CHECK_INT(diff.len, 0);
	CHECK_INT(plumb_kube_diff(&diff, "v1/ConfigMap/c", live, changed, key_one), 1);
	CHECK(strstr(diff.ptr, "--- a/v1/ConfigMap/c\n+++ b/v1/ConfigMap/c\n") != NULL);
	CHECK(strstr(diff.ptr, "-  b: \"2\"\n+  b: \"3\"\n") != NULL);
	CHECK(strstr(diff.ptr, "resourceVersion") == NULL);
	plumb_buf_clear(&diff);
	/* An object that does not exist yet: all of it is new. */
	CHECK_INT(plumb_kube_diff(&diff, "v1/ConfigMap/c", NULL, changed, key_one), 1);
	CHECK(strstr(diff.ptr, "+data:\n") != NULL);
	plumb_buf_release(&diff);
	json_decref(live);
	json_decref(same);
	json_decref(changed);
}

int main(void)
{
	/* Diffs are libgit2's. */
	if (plumb_source_global_init() < 0)
		return 1;
	RUN(test_server_fields_left_out);
	RUN(test_secret_values_masked);
	RUN(test_yaml);
	RUN(test_diff);
	plumb_source_global_shutdown();
	TEST_EXIT();
}
