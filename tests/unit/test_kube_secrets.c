/*
 * Unit tests of a Kubernetes Secret whose values come from plumb Secrets:
 * the references read at load with their positions, every malformed one an
 * error at its position, and each value bound into data, base64-encoded.
 */
#include "util/common.h"
#include "load/load.h"
#include "providers/kubernetes/object.h"
#include "providers/provider.h"
#include "source/source.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "test.h"
#include "fixture.h"

static plumb_source *source;
static char *repo;

/* Commit the work tree and load it; the diagnostics come back sorted. */
static int load_head(plumb_manifest_set *set, plumb_diags *diags)
{
	char commit[PLUMB_OID_HEXSZ + 1];
	if (fixture_commit("test") != 0 || plumb_source_resolve(commit, source, "main") < 0)
		return -100;
	memset(set, 0, sizeof(*set));
	int error = plumb_load(set, source, commit, "", NULL, diags);
	plumb_diags_sort(diags);
	return error;
}

static plumb_object *find_object(plumb_manifest_set *set, const char *key)
{
	for (size_t i = 0; i < set->object_count; i++)
		if (!strcmp(set->objects[i].key, key))
			return &set->objects[i];
	return NULL;
}

static const plumb_resource *find_resource(const plumb_manifest_set *set, const char *name)
{
	for (size_t i = 0; i < set->resource_count; i++)
		if (!strcmp(set->resources[i].name, name))
			return &set->resources[i];
	return NULL;
}

/* The string at data.KEY (or stringData.KEY) of the object's desired document, or NULL. */
static const char *desired_value(const plumb_object *o, const char *map, const char *key)
{
	const plumb_kube_desired *d = o->desired;
	/* A copy the test keeps: the document is parsed again from its text at each call. */
	static char value[4096];
	json_t *document = plumb_kube_document(d);
	const char *found = json_string_value(json_object_get(json_object_get(document, map), key));
	snprintf(value, sizeof(value), "%s", found ? found : "");
	plumb_kube_json_free(document);
	return found ? value : NULL;
}

#define SECRETS                                                                                                   \
	"apiVersion: plumb/v1\n"                                                                                  \
	"kind: Secret\n"                                                                                          \
	"metadata: {name: db-password}\n"                                                                         \
	"spec: {env: PLUMB_UNIT_DB}\n"                                                                            \
	"---\n"                                                                                                   \
	"apiVersion: plumb/v1\n"                                                                                  \
	"kind: Secret\n"                                                                                          \
	"metadata: {name: tls-key}\n"                                                                             \
	"spec: {file: /etc/plumb/tls.key}\n"

static void references_are_read_with_their_positions(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("secrets.yaml", SECRETS);
	fixture_write("app.yaml", "apiVersion: v1\n"
				  "kind: Secret\n"
				  "metadata: {name: db}\n"
				  "type: Opaque\n"
				  "stringData:\n"
				  "  username: app\n"
				  "  password: {secretFrom: db-password}\n"
				  "data:\n"
				  "  tls.key:\n"
				  "    secretFrom: tls-key\n"
				  "  plain: aGVsbG8=\n"
				  "---\n"
				  "apiVersion: v1\n"
				  "kind: Secret\n"
				  "metadata: {name: plain}\n"
				  "stringData: {password: written-in-git}\n"
				  "---\n"
				  "apiVersion: v1\n"
				  "kind: ConfigMap\n"
				  "metadata: {name: conf}\n"
				  "data: {greeting: hello}\n");
	CHECK_INT(load_head(&set, &diags), 0);
	CHECK_INT(diags.count, 0);
	plumb_object *db = find_object(&set, "/Secret//db");
	CHECK(db != NULL);
	if (db) {
		CHECK(db->sensitive);
		/* stringData before data: the order the document reads them in. */
		CHECK_INT(db->secret_count, 2);
		CHECK_STR(db->secrets[0].name, "db-password");
		CHECK_STR(db->secrets[0].field, "stringData.password.secretFrom");
		CHECK_INT(db->secrets[0].position.line, 7);
		CHECK_INT(db->secrets[0].position.column, 26);
		CHECK_STR(db->secrets[1].name, "tls-key");
		CHECK_STR(db->secrets[1].field, "data.tls.key.secretFrom");
		CHECK_INT(db->secrets[1].position.line, 10);
		CHECK_INT(db->secrets[1].position.column, 17);
	}
	plumb_object *plain = find_object(&set, "/Secret//plain");
	CHECK(plain && plain->secret_count == 0 && plain->sensitive);
	plumb_object *conf = find_object(&set, "/ConfigMap//conf");
	CHECK(conf && conf->secret_count == 0 && !conf->sensitive);
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

static void references_in_order(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("secrets.yaml", SECRETS);
	fixture_write("app.yaml", "apiVersion: v1\n"
				  "kind: Secret\n"
				  "metadata: {name: db}\n"
				  "data:\n"
				  "  tls.key: {secretFrom: tls-key}\n"
				  "stringData:\n"
				  "  password: {secretFrom: db-password}\n");
	CHECK_INT(load_head(&set, &diags), 0);
	CHECK_INT(diags.count, 0);
	plumb_object *db = find_object(&set, "/Secret//db");
	CHECK(db && db->secret_count == 2);
	if (db && db->secret_count == 2) {
		CHECK_STR(db->secrets[0].name, "tls-key");
		CHECK_STR(db->secrets[0].field, "data.tls.key.secretFrom");
		CHECK_INT(db->secrets[0].position.line, 5);
		CHECK_INT(db->secrets[0].position.column, 25);
		CHECK_STR(db->secrets[1].name, "db-password");
		CHECK_STR(db->secrets[1].field, "stringData.password.secretFrom");
		CHECK_INT(db->secrets[1].position.line, 7);
		CHECK_INT(db->secrets[1].position.column, 26);
	}
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

static void malformed_references_are_errors_at_their_positions(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("secrets.yaml", SECRETS);
	fixture_write("app.yaml", "apiVersion: v1\n"                            /* 1 */
				  "kind: Secret\n"                              /* 2 */
				  "metadata: {name: db}\n"                      /* 3 */
				  "stringData:\n"                               /* 4 */
				  "  a: {secretFrom: db-password, extra: 1}\n"  /* 5 */
				  "  b: {secretFrom: \"\"}\n"                   /* 6 */
				  "  c: {secretFrom: [db-password]}\n"          /* 7 */
				  "  d: {}\n"                                   /* 8 */
				  "  twin: {secretFrom: db-password}\n"         /* 9 */
				  "data:\n"                                     /* 10 */
				  "  twin: aGVsbG8=\n"                          /* 11 */
				  "---\n"                                       /* 12 */
				  "apiVersion: v1\n"                            /* 13 */
				  "kind: Secret\n"                              /* 14 */
				  "metadata: {name: missing}\n"                 /* 15 */
				  "stringData:\n"                               /* 16 */
				  "  password: {secretFrom: no-such-secret}\n"); /* 17 */
	CHECK_INT(load_head(&set, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "app.yaml", 5, 32, "stringData.a: unknown field \"extra\""));
	CHECK(has_diag(&diags, "app.yaml", 6, 20, "stringData.b.secretFrom: must name a Secret"));
	CHECK(has_diag(&diags, "app.yaml", 7, 20, "stringData.c.secretFrom: expected a string, got a list"));
	/* An empty mapping has no position: the key's is given. */
	CHECK(has_diag(&diags, "app.yaml", 8, 3, "stringData.d: missing required field \"secretFrom\""));
	CHECK(has_diag(&diags, "app.yaml", 9, 10, "stringData.twin: data.twin is given too"));
	/* A reference to no Secret of the set: check's error, at the name, the known ones listed. */
	CHECK(has_diag(&diags, "app.yaml", 17, 26,
		       "stringData.password.secretFrom: no Secret named \"no-such-secret\" here (known: db-password, "
		       "tls-key)"));
	/* Nothing of what a malformed Secret holds is quoted. */
	for (size_t i = 0; i < diags.count; i++)
		CHECK_LACKS(diags.items[i].message, "aGVsbG8=");
	CHECK(find_object(&set, "/Secret//db") == NULL);
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

static void renderings_show_references_and_mask_values(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("secrets.yaml", SECRETS);
	fixture_write("app.yaml", "apiVersion: v1\n"
				  "kind: Secret\n"
				  "metadata: {name: db}\n"
				  "stringData:\n"
				  "  username: app-user-in-git\n"
				  "  password: {secretFrom: db-password}\n");
	CHECK_INT(load_head(&set, &diags), 0);
	const plumb_resource *r = find_resource(&set, "db");
	CHECK(r != NULL);
	if (r) {
		CHECK_CONTAINS(r->json, "\"password\":{\"secretFrom\":\"db-password\"}");
		CHECK_CONTAINS(r->json, "\"username\":\"(sensitive)\"");
		CHECK_CONTAINS(r->yaml, "secretFrom: db-password");
		CHECK_LACKS(r->yaml, "app-user-in-git");
		CHECK_LACKS(r->json, "app-user-in-git");
	}
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

static void values_are_bound_into_data(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("secrets.yaml", SECRETS);
	fixture_write("app.yaml", "apiVersion: v1\n"
				  "kind: Secret\n"
				  "metadata: {name: db}\n"
				  "stringData:\n"
				  "  username: app\n"
				  "  password: {secretFrom: db-password}\n"
				  "data:\n"
				  "  tls.key: {secretFrom: tls-key}\n"
				  "---\n"
				  "apiVersion: v1\n"
				  "kind: Secret\n"
				  "metadata: {name: only}\n"
				  "stringData:\n"
				  "  password: {secretFrom: db-password}\n");
	CHECK_INT(load_head(&set, &diags), 0);
	plumb_object *db = find_object(&set, "/Secret//db");
	plumb_object *only = find_object(&set, "/Secret//only");
	CHECK(db && db->secret_count == 2 && only && only->secret_count == 1);
	if (!db || db->secret_count != 2 || !only || only->secret_count != 1)
		goto done;
	/* Until each value is bound nothing of the object may be sent, and the message names the one missing. */
	CHECK_INT(plumb_kube_secret_values_bound(db), PLUMB_ERROR);
	CHECK_CONTAINS(plumb_error_last(),
		       "Secret db: the value of Secret db-password (stringData.password.secretFrom) was not read");
	plumb_error_clear();
	db->provider->bind_secret(db, 0, "s3cret", 6);
	CHECK_INT(plumb_kube_secret_values_bound(db), PLUMB_ERROR);
	CHECK_CONTAINS(plumb_error_last(), "tls-key (data.tls.key.secretFrom)");
	plumb_error_clear();
	db->provider->bind_secret(db, 1, "k\0\377\n", 4);
	CHECK_INT(plumb_kube_secret_values_bound(db), 0);
	/* Base64 in data, whatever the bytes, and the reference gone from stringData. */
	CHECK_STR(desired_value(db, "data", "tls.key"), "awD/Cg==");
	CHECK_STR(desired_value(db, "data", "password"), "czNjcmV0");
	CHECK(desired_value(db, "stringData", "password") == NULL);
	CHECK_STR(desired_value(db, "stringData", "username"), "app");
	/* Bound again (a value that changed): replaced. */
	db->provider->bind_secret(db, 0, "", 0);
	CHECK_STR(desired_value(db, "data", "password"), "");
	/* stringData left empty goes, and data is made. */
	only->provider->bind_secret(only, 0, "abcd", 4);
	const plumb_kube_desired *d = only->desired;
	json_t *document = plumb_kube_document(d);
	CHECK(json_object_get(document, "stringData") == NULL);
	plumb_kube_json_free(document);
	CHECK_STR(desired_value(only, "data", "password"), "YWJjZA==");
	CHECK_INT(plumb_kube_secret_values_bound(only), 0);
done:
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

int main(void)
{
	fixture_init("kube-secrets");
	repo = fixture_path("repo");
	if (plumb_source_global_init() < 0 || fixture_commit("empty") != 0 ||
	    plumb_source_open(&source, repo, fixture_dir) < 0)
		return 2;
	RUN(references_are_read_with_their_positions);
	RUN(references_in_order);
	RUN(malformed_references_are_errors_at_their_positions);
	RUN(renderings_show_references_and_mask_values);
	RUN(values_are_bound_into_data);
	plumb_source_free(source);
	plumb_source_global_shutdown();
	free(repo);
	fixture_cleanup();
	TEST_EXIT();
}
