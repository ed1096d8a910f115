/*
 * The kubernetes provider (src/providers/kubernetes/provider.h) driven
 * through its table, as the engine drives it, against a real
 * kube-apiserver: tests/e2e/kube_provider.sh starts one
 * (tests/kube/start), exports what its env file says, and runs this
 * program. Nothing is mocked.
 *
 * Documents are made into resources by hand (the registry does not list
 * the provider yet) and expanded with the provider's expand.
 */
#include "util/common.h"
#include "providers/kubernetes/client.h"
#include "providers/kubernetes/provider.h"
#include "util/buf.h"

#include <git2.h>
#include <jansson.h>

#include "../unit/test.h"

static const char *admin_kubeconfig, *restricted_kubeconfig, *namespace, *dir;
static const plumb_provider *const provider = &plumb_kubernetes_provider;
static plumb_kube_client *admin; /* for what another field manager does */

static const char *need_env(const char *name)
{
	const char *value = getenv(name);
	if (!value || !*value) {
		fprintf(stderr, "%s is not set: run tests/e2e/kube_provider.sh\n", name);
		exit(2);
	}
	return value;
}

/* --- a manifest set made by hand ---------------------------------------------------------- */

/* Append the document json (one line, as the loader keeps it) as a resource at manifests.yaml:line, and expand it. */
static void add_document(plumb_manifest_set *set, plumb_diags *diags, unsigned line, const char *json)
{
	json_t *document = json_loads(json, 0, NULL);
	if (!document) {
		fprintf(stderr, "bad test document: %s\n", json);
		abort();
	}
	const char *name = json_string_value(json_object_get(json_object_get(document, "metadata"), "name"));
	plumb_resource r = { 0 };
	r.api_version = plumb_xstrdup(json_string_value(json_object_get(document, "apiVersion")));
	r.kind = plumb_xstrdup(json_string_value(json_object_get(document, "kind")));
	r.name = plumb_xstrdup(name ? name : "");
	r.identity = plumb_xprintf("%s/%s/%s", r.api_version, r.kind, r.name);
	r.file = plumb_xstrdup("manifests.yaml");
	r.line = line;
	r.column = 1;
	r.json = plumb_xstrdup(json);
	r.provider = provider;
	json_decref(document);
	CHECK(provider->claims(r.api_version, r.kind));
	PLUMB_GROW(set->resources, set->resource_count, set->resource_capacity);
	set->resources[set->resource_count++] = r;
	provider->expand(set, set->resource_count - 1, NULL, NULL, diags);
}

static void set_release(plumb_manifest_set *set)
{
	for (size_t i = 0; i < set->object_count; i++) {
		provider->free_desired(set->objects[i].desired);
		free(set->objects[i].display);
	}
	for (size_t i = 0; i < set->resource_count; i++)
		plumb_resource_release(&set->resources[i]);
	free(set->objects);
	free(set->resources);
	memset(set, 0, sizeof(*set));
}

/* The one object a set of one document expanded into. */
static const plumb_object *only(const plumb_manifest_set *set)
{
	if (set->object_count != 1) {
		fprintf(stderr, "  expected one object, got %zu\n", set->object_count);
		abort();
	}
	return &set->objects[0];
}

static plumb_destination *open_as(const char *kubeconfig, const char *default_namespace)
{
	plumb_destination_options options = { 0 };
	options.state_dir = dir;
	options.kubeconfig = kubeconfig;
	options.namespace = default_namespace;
	options.application = "provider-test";
	plumb_destination *dest = NULL;
	if (provider->open(&dest, &options) < 0) {
		fprintf(stderr, "  open: %s\n", plumb_error_last());
		return NULL;
	}
	return dest;
}

/* --- the contract, step by step ------------------------------------------------------------ */

/* Observe object at its resolved key, as the engine does. */
static int observe(plumb_observed *out, plumb_destination *dest, const plumb_object *object)
{
	char *key = NULL, *display = NULL;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	int error = provider->resolve(&key, &display, dest, object, &diags);
	if (error == 0) {
		plumb_observation item = { object, key ? key : object->key, object->kind, object->sensitive, { 0 } };
		error = provider->observe(dest, &item, 1);
		*out = item.observed;
	} else {
		memset(out, 0, sizeof(*out));
	}
	plumb_diags_release(&diags);
	free(key);
	free(display);
	return error;
}

/*
 * What the server refused of the last object planned, each problem a
 * diagnostic at its field (here at the document: the hand-made manifests
 * have no text to read again).
 */
static plumb_diags refused = PLUMB_DIAGS_INIT;

/* Observe and compare object: the change (released by the caller); the error is returned. */
static int plan(plumb_change *change, plumb_destination *dest, const plumb_object *object)
{
	plumb_observed observed;
	plumb_diags_release(&refused);
	int error = observe(&observed, dest, object);
	memset(change, 0, sizeof(*change));
	plumb_buf_init(&change->diff);
	if (error == 0)
		error = provider->compare(change, dest, object, &observed, object->kind, 0, &refused);
	plumb_observed_release(provider, &observed);
	return error;
}

/* Plan and apply object; then observe_applied and observe must agree to the byte. */
static int plan_and_apply(plumb_destination *dest, const plumb_object *object)
{
	plumb_change change;
	int error = plan(&change, dest, object);
	if (error == 0 && change.type != PLUMB_ACTION_NONE) {
		if ((error = provider->begin_apply(dest, (const char *const *)&object->key, 1)) == 0)
			error = provider->apply(dest, object, &change);
		/* A write the provider stages is carried out by its commit, as the engine does. */
		if (error == 0 && provider->stages(object)) {
			int full;
			size_t done = 0;
			CHECK_INT(provider->staged(dest, &full), 1);
			error = provider->commit(dest, &done);
			if (error == 0)
				CHECK_INT(done, 1);
		}
		if (error == 0) {
			plumb_observed applied, observed;
			error = provider->observe_applied(&applied, dest, object);
			CHECK_INT(error, 0);
			CHECK_INT(observe(&observed, dest, object), 0);
			CHECK_STR(applied.fingerprint, observed.fingerprint);
			CHECK_INT(applied.exists, 1);
			plumb_observed_release(provider, &applied);
			plumb_observed_release(provider, &observed);
		}
	}
	plumb_change_release(&change);
	return error;
}

/* A PATCH by another field manager, as `kubectl patch` sends it. */
static void patch_as_kubectl(const char *path, const char *merge_patch)
{
	plumb_buf body = PLUMB_BUF_INIT;
	long status = 0;
	char *target = plumb_xprintf("%s?fieldManager=kubectl", path);
	int error = plumb_kube_request(&status, &body, admin, "PATCH", target, "application/merge-patch+json",
				       merge_patch, strlen(merge_patch));
	if (error < 0)
		fprintf(stderr, "  kubectl patch: %s\n", plumb_error_last());
	CHECK_INT(error, 0);
	plumb_buf_release(&body);
	free(target);
}

static char *expanded_json(const char *fmt, const char *value)
{
	return plumb_xprintf(fmt, value);
}

/* --- tests ------------------------------------------------------------------------------- */

static void claims_and_describe(void)
{
	CHECK(provider->claims("v1", "ConfigMap"));
	CHECK(provider->claims("example.com/v1", "Widget"));
	CHECK(!provider->claims("host/v1", "File"));
	CHECK(!provider->claims("plumb/v1", "Application"));
	CHECK(provider->describe("host/v1") == NULL);
	CHECK(provider->describe("plumb/v1") == NULL);
	CHECK_CONTAINS(provider->describe("apps/v1"), "any kind the cluster serves");
}

static void expand_keys_and_displays(void)
{
	plumb_manifest_set set = { 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	add_document(&set, &diags, 1,
		     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"conf\",\"namespace\":\"shop\"},"
		     "\"data\":{\"a\":\"b\"}}");
	add_document(&set, &diags, 5,
		     "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"namespace\":\"shop\"}}");
	add_document(&set, &diags, 9, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\"}}");
	add_document(&set, &diags, 12,
		     "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"db\"},\"stringData\":{\"p\":\"x\"}}");
	CHECK_INT(diags.count, 0);
	CHECK_INT(set.object_count, 4);
	if (set.object_count == 4) {
		CHECK_STR(set.objects[0].key, "/ConfigMap/shop/conf");
		CHECK_STR(set.objects[0].display, "shop/conf");
		CHECK_STR(set.objects[0].kind, "ConfigMap");
		CHECK_INT(set.objects[0].position.line, 1);
		CHECK_STR(set.objects[1].key, "apps/Deployment/shop/web");
		CHECK_STR(set.objects[1].display, "shop/web");
		CHECK_STR(set.objects[2].key, "/Namespace//shop");
		CHECK_STR(set.objects[2].display, "shop");
		CHECK_STR(set.objects[3].key, "/Secret//db");
		CHECK_INT(set.objects[0].sensitive, 0);
		CHECK_INT(set.objects[3].sensitive, 1);
	}
	plumb_diags_release(&diags);
	set_release(&set);
}

static void expand_bad_names(void)
{
	plumb_manifest_set set = { 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	add_document(&set, &diags, 3, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"Bad_Name\"}}");
	add_document(&set, &diags, 7,
		     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"ok\",\"namespace\":\"a.b\"}}");
	/* RBAC's names are path segments: a colon is fine there. */
	add_document(&set, &diags, 11,
		     "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"ClusterRole\",\"metadata\":{\"name\":\"system:x\"}}");
	CHECK_INT(diags.count, 2);
	CHECK_INT(set.object_count, 1);
	if (diags.count == 2) {
		CHECK_STR(diags.items[0].file, "manifests.yaml");
		CHECK_INT(diags.items[0].line, 3);
		CHECK_CONTAINS(diags.items[0].message, "metadata.name");
		CHECK_CONTAINS(diags.items[0].message, "lower case");
		CHECK_INT(diags.items[1].line, 7);
		CHECK_CONTAINS(diags.items[1].message, "metadata.namespace");
	}
	plumb_diags_release(&diags);
	set_release(&set);
}

static void resolve_places_objects(void)
{
	plumb_manifest_set set = { 0 };
	plumb_diags expand_diags = PLUMB_DIAGS_INIT, diags = PLUMB_DIAGS_INIT;
	plumb_destination *dest = open_as(admin_kubeconfig, NULL);
	plumb_destination *elsewhere = open_as(admin_kubeconfig, "other");
	CHECK(dest && elsewhere);
	if (!dest || !elsewhere)
		goto done;
	CHECK_CONTAINS(provider->destination_name(dest), "kubernetes https://127.0.0.1:");

	add_document(&set, &expand_diags, 1, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"conf\"}}");
	add_document(&set, &expand_diags, 4,
		     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\",\"namespace\":\"x\"}}");
	add_document(&set, &expand_diags, 8, "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deploymnt\",\"metadata\":{\"name\":\"w\"}}");
	add_document(&set, &expand_diags, 12,
		     "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
		     "\"metadata\":{\"name\":\"gadgets.resolve.plumb.dev\"},\"spec\":{\"group\":\"resolve.plumb.dev\","
		     "\"scope\":\"Cluster\",\"names\":{\"plural\":\"gadgets\",\"singular\":\"gadget\",\"kind\":\"Gadget\"},"
		     "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true,"
		     "\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\"}}}]}}");
	add_document(&set, &expand_diags, 20,
		     "{\"apiVersion\":\"resolve.plumb.dev/v1\",\"kind\":\"Gadget\",\"metadata\":{\"name\":\"g\"}}");
	add_document(&set, &expand_diags, 24,
		     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"shop\"}}");
	CHECK_INT(expand_diags.count, 0);
	CHECK_INT(set.object_count, 6);
	if (set.object_count != 6)
		goto done;

	char *key = NULL, *display = NULL;
	/* A namespaced kind without a namespace: the context's. */
	CHECK_INT(provider->resolve(&key, &display, dest, &set.objects[0], &diags), 0);
	CHECK_STR(key, "/ConfigMap/plumb-test/conf");
	CHECK_STR(display, "plumb-test/conf");
	free(key);
	free(display);
	/* ... or the one the destination was opened with. */
	CHECK_INT(provider->resolve(&key, &display, elsewhere, &set.objects[0], &diags), 0);
	CHECK_STR(key, "/ConfigMap/other/conf");
	free(key);
	free(display);
	CHECK_INT(diags.count, 0);

	/* A cluster-scoped kind given a namespace. */
	CHECK_INT(provider->resolve(&key, &display, dest, &set.objects[1], &diags), PLUMB_EINVALID);
	CHECK(key == NULL && display == NULL);
	CHECK_INT(diags.count, 1);
	if (diags.count == 1) {
		CHECK_INT(diags.items[0].line, 4);
		CHECK_CONTAINS(diags.items[0].message, "Namespace is cluster-scoped: metadata.namespace must not be set");
	}
	/* A kind the server does not serve: the nearest it does. */
	CHECK_INT(provider->resolve(&key, &display, dest, &set.objects[2], &diags), PLUMB_EINVALID);
	CHECK_INT(diags.count, 2);
	if (diags.count == 2) {
		CHECK_INT(diags.items[1].line, 8);
		CHECK_CONTAINS(diags.items[1].message, "Deploymnt");
		CHECK_CONTAINS(diags.items[1].message, "did you mean apps/v1 Deployment");
	}
	/* A definition of the same set defines a kind the server does not serve yet: cluster-scoped, as it says. */
	CHECK_INT(provider->resolve(&key, &display, dest, &set.objects[3], &diags), 0);
	CHECK(key == NULL);
	CHECK_INT(provider->resolve(&key, &display, dest, &set.objects[4], &diags), 0);
	CHECK(key == NULL);
	free(key); /* only when the check above failed */
	free(display);
	CHECK_STR(set.objects[4].key, "resolve.plumb.dev/Gadget//g");
	/* A cluster-scoped kind without one stays where it is. */
	CHECK_INT(provider->resolve(&key, &display, dest, &set.objects[5], &diags), 0);
	CHECK(key == NULL && display == NULL);
	CHECK_INT(diags.count, 2);

	/* Its object is absent until the definition is applied, and planned as a creation. */
	plumb_change change;
	CHECK_INT(plan(&change, dest, &set.objects[4]), 0);
	CHECK_INT(change.type, PLUMB_ACTION_CREATE);
	CHECK_CONTAINS(change.diff.ptr, "+kind: Gadget");
	plumb_change_release(&change);
	/* Applied after the definition, it is served by then. */
	CHECK_INT(plan_and_apply(dest, &set.objects[3]), 0);
	int error = plan_and_apply(dest, &set.objects[4]);
	if (error < 0)
		fprintf(stderr, "  %s\n", plumb_error_last());
	CHECK_INT(error, 0);
	CHECK_INT(plan(&change, dest, &set.objects[4]), 0);
	CHECK_INT(change.type, PLUMB_ACTION_NONE);
	plumb_change_release(&change);
done:
	plumb_diags_release(&expand_diags);
	plumb_diags_release(&diags);
	provider->close(dest);
	provider->close(elsewhere);
	set_release(&set);
}

#define CONFIGMAP "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"life\"},\"data\":{\"key\":\"%s\"}}"

static void configmap_lifecycle(void)
{
	plumb_manifest_set one = { 0 }, two = { 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	plumb_change change;
	plumb_observed observed;
	plumb_destination *dest = open_as(admin_kubeconfig, NULL);
	CHECK(dest != NULL);
	if (!dest)
		return;
	char *first = expanded_json(CONFIGMAP, "one"), *second = expanded_json(CONFIGMAP, "two");
	add_document(&one, &diags, 1, first);
	add_document(&two, &diags, 1, second);

	/* Absent: a creation, the whole object as the diff. */
	CHECK_INT(observe(&observed, dest, only(&one)), 0);
	CHECK_STR(observed.fingerprint, "absent");
	CHECK_INT(observed.exists, 0);
	plumb_observed_release(provider, &observed);
	CHECK_INT(plan(&change, dest, only(&one)), 0);
	CHECK_INT(change.type, PLUMB_ACTION_CREATE);
	CHECK_CONTAINS(change.diff.ptr, "+  key: one");
	CHECK_CONTAINS(change.diff.ptr, "+    plumb.dev/tracking-id: provider-test:/ConfigMap:plumb-test/life");
	CHECK_CONTAINS(change.diff.ptr, "+    app.kubernetes.io/managed-by: plumb");
	plumb_change_release(&change);

	CHECK_INT(plan_and_apply(dest, only(&one)), 0);
	CHECK_INT(observe(&observed, dest, only(&one)), 0);
	CHECK_INT(observed.exists, 1);
	CHECK(!strncmp(observed.fingerprint, "object ", 7) && strlen(observed.fingerprint) == 7 + PLUMB_OID_HEXSZ);
	plumb_observed_release(provider, &observed);

	/* Applied: nothing to do. */
	CHECK_INT(plan(&change, dest, only(&one)), 0);
	CHECK_INT(change.type, PLUMB_ACTION_NONE);
	CHECK_INT(change.diff.len, 0);
	plumb_change_release(&change);

	/* A value changed in git: an update naming the field. */
	CHECK_INT(plan(&change, dest, only(&two)), 0);
	CHECK_INT(change.type, PLUMB_ACTION_UPDATE);
	CHECK_STR(change.reason, "fields changed: data");
	CHECK_CONTAINS(change.diff.ptr, "-  key: one");
	CHECK_CONTAINS(change.diff.ptr, "+  key: two");
	plumb_change_release(&change);

	/* Another field manager changes a field plumb manages: plumb does not take it back unasked. */
	patch_as_kubectl("/api/v1/namespaces/plumb-test/configmaps/life", "{\"data\":{\"key\":\"edited\"}}");
	int error = plan(&change, dest, only(&two));
	CHECK_INT(error, PLUMB_ECONFLICT);
	CHECK_CONTAINS(plumb_error_last(), "ConfigMap plumb-test/life");
	CHECK_CONTAINS(plumb_error_last(), "kubectl");
	CHECK_CONTAINS(plumb_error_last(), ".data.key");
	plumb_change_release(&change);

	/* Capture: what is there now, as YAML. */
	plumb_buf captured = PLUMB_BUF_INIT;
	int has_content = 0;
	CHECK_INT(provider->capture(&captured, &has_content, dest, "/ConfigMap/plumb-test/life", "ConfigMap", 1 << 20), 0);
	CHECK_INT(has_content, 1);
	CHECK_CONTAINS(captured.ptr, "key: edited");
	CHECK_LACKS(captured.ptr, "managedFields");
	plumb_buf_release(&captured);

	/* A prune: it carries plumb's tracking id, so it goes; then it is gone. */
	plumb_observation item = { NULL, "/ConfigMap/plumb-test/life", "ConfigMap", 0, { 0 } };
	CHECK_INT(provider->observe(dest, &item, 1), 0);
	CHECK_INT(provider->compare(&change, dest, NULL, &item.observed, "ConfigMap", 0, NULL), 0);
	CHECK_INT(change.type, PLUMB_ACTION_DELETE);
	plumb_change_release(&change);
	CHECK_INT(provider->compare(&change, dest, NULL, &item.observed, "Secret", 0, NULL), 0);
	CHECK_INT(change.type, PLUMB_ACTION_NONE);
	plumb_change_release(&change);
	plumb_observed_release(provider, &item.observed);
	CHECK_INT(provider->remove(dest, "/ConfigMap/plumb-test/life", "ConfigMap"), 0);
	CHECK_INT(observe(&observed, dest, only(&one)), 0);
	CHECK_STR(observed.fingerprint, "absent");
	plumb_observed_release(provider, &observed);
	/* Removing what is gone is no error. */
	CHECK_INT(provider->remove(dest, "/ConfigMap/plumb-test/life", "ConfigMap"), 0);

	plumb_diags_release(&diags);
	provider->close(dest);
	set_release(&one);
	set_release(&two);
	free(first);
	free(second);
}

/* A prune never deletes what plumb did not make: an object without its tracking id. */
static void prune_spares_foreign_objects(void)
{
	plumb_destination *dest = open_as(admin_kubeconfig, NULL);
	plumb_change change;
	CHECK(dest != NULL);
	if (!dest)
		return;
	static const char foreign[] = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"foreign\"}}";
	plumb_buf body = PLUMB_BUF_INIT;
	long status = 0;
	CHECK_INT(plumb_kube_request(&status, &body, admin, "POST", "/api/v1/namespaces/plumb-test/configmaps",
				     "application/json", foreign, strlen(foreign)),
		  0);
	plumb_buf_release(&body);
	plumb_observation item = { NULL, "/ConfigMap/plumb-test/foreign", "ConfigMap", 0, { 0 } };
	CHECK_INT(provider->observe(dest, &item, 1), 0);
	CHECK_INT(item.observed.exists, 1);
	CHECK_INT(provider->compare(&change, dest, NULL, &item.observed, "ConfigMap", 0, NULL), 0);
	CHECK_INT(change.type, PLUMB_ACTION_NONE);
	plumb_change_release(&change);
	plumb_observed_release(provider, &item.observed);
	provider->close(dest);
}

/* The server fills a Deployment's defaults: none of them is a change once applied. */
static void deployment_defaults_are_no_change(void)
{
	plumb_manifest_set set = { 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	plumb_change change;
	plumb_destination *dest = open_as(admin_kubeconfig, NULL);
	CHECK(dest != NULL);
	if (!dest)
		return;
	add_document(&set, &diags, 1,
		     "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
		     "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":"
		     "{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1.27\","
		     "\"resources\":{\"limits\":{\"cpu\":\"1000m\"}}}]}}}}");
	CHECK_INT(plan(&change, dest, only(&set)), 0);
	CHECK_INT(change.type, PLUMB_ACTION_CREATE);
	/* The dry run's defaults are shown on creation. */
	CHECK_CONTAINS(change.diff.ptr, "+    type: RollingUpdate");
	plumb_change_release(&change);
	CHECK_INT(plan_and_apply(dest, only(&set)), 0);
	CHECK_INT(plan(&change, dest, only(&set)), 0);
	CHECK_INT(change.type, PLUMB_ACTION_NONE);
	CHECK_INT(change.diff.len, 0);
	if (change.diff.len)
		fprintf(stderr, "%s", change.diff.ptr);
	plumb_change_release(&change);
	plumb_diags_release(&diags);
	set_release(&set);
	provider->close(dest);
}

/* What the server refuses is an error naming the object and the field. */
static void refusals_name_the_field(void)
{
	plumb_manifest_set first = { 0 }, moved = { 0 }, invalid = { 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	plumb_change change;
	plumb_destination *dest = open_as(admin_kubeconfig, NULL);
	CHECK(dest != NULL);
	if (!dest)
		return;
	static const char service[] = "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"svc\"},"
				      "\"spec\":{\"clusterIP\":\"%s\",\"ports\":[{\"port\":80}]}}";
	char *at_50 = expanded_json(service, "10.0.0.50"), *at_51 = expanded_json(service, "10.0.0.51");
	add_document(&first, &diags, 1, at_50);
	add_document(&moved, &diags, 1, at_51);
	add_document(&invalid, &diags, 1,
		     "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"bad\"},"
		     "\"spec\":{\"replicas\":-1,\"selector\":{\"matchLabels\":{\"app\":\"bad\"}},\"template\":{\"metadata\":"
		     "{\"labels\":{\"app\":\"bad\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\"}]}}}}");
	CHECK_INT(plan_and_apply(dest, only(&first)), 0);

	/* An immutable field: a diagnostic at the manifest, and the message says the same. */
	CHECK_INT(plan(&change, dest, only(&moved)), PLUMB_EINVALID);
	CHECK_INT(refused.count, 1);
	if (refused.count) {
		CHECK_STR(refused.items[0].file, "manifests.yaml");
		CHECK_INT(refused.items[0].line, 1);
		CHECK_CONTAINS(refused.items[0].message, "Service plumb-test/svc: spec.clusterIP");
		CHECK_CONTAINS(refused.items[0].message, "may not change once set");
	}
	CHECK_CONTAINS(plumb_error_last(), "manifests.yaml:1:1: Service plumb-test/svc: spec.clusterIP");
	plumb_change_release(&change);

	/* An invalid object. */
	CHECK_INT(plan(&change, dest, only(&invalid)), PLUMB_EINVALID);
	CHECK_INT(refused.count, 1);
	if (refused.count)
		CHECK_CONTAINS(refused.items[0].message,
			       "Deployment plumb-test/bad: spec.replicas: Invalid value: -1: must be greater than or equal to 0");
	plumb_change_release(&change);
	plumb_diags_release(&refused);

	CHECK_INT(provider->remove(dest, "/Service/plumb-test/svc", "Service"), 0);
	plumb_diags_release(&diags);
	set_release(&first);
	set_release(&moved);
	set_release(&invalid);
	free(at_50);
	free(at_51);
	provider->close(dest);
}

#define SECRET "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"db\"},\"stringData\":{\"password\":\"%s\"}}"
#define SECRET_VALUE "hunter2-sekret-value"
#define SECRET_VALUE_BASE64 "aHVudGVyMi1zZWtyZXQtdmFsdWU=" /* base64 of SECRET_VALUE */
#define NEW_SECRET_VALUE "correct-horse-battery"

/* A Secret's values are in no diff, capture, fingerprint or message; a changed value shows as changed. */
static void secret_values_shown_nowhere(void)
{
	plumb_manifest_set set = { 0 }, changed = { 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	plumb_change change;
	plumb_observed observed;
	plumb_destination *dest = open_as(admin_kubeconfig, NULL);
	CHECK(dest != NULL);
	if (!dest)
		return;
	char *first = expanded_json(SECRET, SECRET_VALUE), *second = expanded_json(SECRET, NEW_SECRET_VALUE);
	add_document(&set, &diags, 1, first);
	add_document(&changed, &diags, 1, second);
	CHECK_INT(only(&set)->sensitive, 1);

	CHECK_INT(plan(&change, dest, only(&set)), 0);
	CHECK_INT(change.type, PLUMB_ACTION_CREATE);
	CHECK_CONTAINS(change.diff.ptr, "+  password: (sensitive ");
	CHECK_LACKS(change.diff.ptr, SECRET_VALUE);
	CHECK_LACKS(change.diff.ptr, SECRET_VALUE_BASE64);
	plumb_change_release(&change);
	CHECK_INT(plan_and_apply(dest, only(&set)), 0);

	CHECK_INT(observe(&observed, dest, only(&set)), 0);
	CHECK_LACKS(observed.fingerprint, SECRET_VALUE);
	plumb_observed_release(provider, &observed);
	CHECK_INT(plan(&change, dest, only(&set)), 0);
	CHECK_INT(change.type, PLUMB_ACTION_NONE);
	plumb_change_release(&change);

	CHECK_INT(plan(&change, dest, only(&changed)), 0);
	CHECK_INT(change.type, PLUMB_ACTION_UPDATE);
	CHECK_CONTAINS(change.diff.ptr, "-  password: (sensitive ");
	CHECK_CONTAINS(change.diff.ptr, "+  password: (sensitive ");
	CHECK_LACKS(change.diff.ptr, SECRET_VALUE);
	CHECK_LACKS(change.diff.ptr, SECRET_VALUE_BASE64);
	CHECK_LACKS(change.diff.ptr, NEW_SECRET_VALUE);
	CHECK_LACKS(change.reason, NEW_SECRET_VALUE);
	plumb_change_release(&change);

	plumb_buf captured = PLUMB_BUF_INIT;
	int has_content = 0;
	CHECK_INT(provider->capture(&captured, &has_content, dest, "/Secret/plumb-test/db", "Secret", 1 << 20), 0);
	CHECK_INT(has_content, 1);
	CHECK_CONTAINS(captured.ptr, "password: (sensitive ");
	CHECK_LACKS(captured.ptr, SECRET_VALUE);
	CHECK_LACKS(captured.ptr, SECRET_VALUE_BASE64);
	plumb_buf_release(&captured);

	CHECK_INT(provider->desired_content(&captured, &has_content, NULL, only(&set)), 0);
	CHECK_INT(has_content, 0);
	CHECK_INT(captured.len, 0);
	plumb_buf_release(&captured);

	CHECK_INT(provider->remove(dest, "/Secret/plumb-test/db", "Secret"), 0);
	plumb_diags_release(&diags);
	set_release(&set);
	set_release(&changed);
	free(first);
	free(second);
	provider->close(dest);
}

/* The restricted ServiceAccount may touch ConfigMaps in plumb-test only: a Secret is refused, and says why. */
static void forbidden_names_verb_resource_namespace(void)
{
	plumb_manifest_set set = { 0 }, configmap = { 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	plumb_change change;
	plumb_destination *dest = open_as(restricted_kubeconfig, NULL);
	CHECK(dest != NULL);
	if (!dest)
		return;
	char *secret = expanded_json(SECRET, SECRET_VALUE);
	add_document(&set, &diags, 1, secret);
	add_document(&configmap, &diags, 1,
		     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"restricted\"},\"data\":{\"a\":\"b\"}}");

	int error = plan(&change, dest, only(&set));
	CHECK(error < 0);
	CHECK_CONTAINS(plumb_error_last(), "Secret plumb-test/db");
	CHECK_CONTAINS(plumb_error_last(), "may not get secrets in namespace plumb-test");
	CHECK_LACKS(plumb_error_last(), SECRET_VALUE);
	plumb_change_release(&change);

	/* What it may do, it does. */
	CHECK_INT(plan_and_apply(dest, only(&configmap)), 0);
	CHECK_INT(provider->remove(dest, "/ConfigMap/plumb-test/restricted", "ConfigMap"), 0);

	plumb_diags_release(&diags);
	set_release(&set);
	set_release(&configmap);
	free(secret);
	provider->close(dest);
}

/* desired_content: the declared object as YAML; content_path: none. */
static void desired_content_is_yaml(void)
{
	plumb_manifest_set set = { 0 };
	plumb_diags diags = PLUMB_DIAGS_INIT;
	char *document = expanded_json(CONFIGMAP, "one");
	add_document(&set, &diags, 1, document);
	plumb_buf out = PLUMB_BUF_INIT;
	int has_content = 0;
	CHECK_INT(provider->desired_content(&out, &has_content, NULL, only(&set)), 0);
	CHECK_INT(has_content, 1);
	CHECK_CONTAINS(out.ptr, "kind: ConfigMap\n");
	CHECK_CONTAINS(out.ptr, "  key: one\n");
	CHECK(provider->content_path(only(&set)) == NULL);
	/* Writes wait for the commit, which sends many at once. */
	CHECK_INT(provider->stages(only(&set)), 1);
	plumb_buf_release(&out);
	plumb_diags_release(&diags);
	set_release(&set);
	free(document);
}

int main(void)
{
	admin_kubeconfig = need_env("KUBECONFIG_ADMIN");
	restricted_kubeconfig = need_env("KUBECONFIG_RESTRICTED");
	namespace = need_env("KUBE_NAMESPACE");
	dir = need_env("KUBE_TEST_DIR");
	unsetenv("KUBECONFIG");
	git_libgit2_init(); /* the diffs are libgit2's, as the engine's are */
	if (strcmp(namespace, "plumb-test") != 0) {
		fprintf(stderr, "the tests expect KUBE_NAMESPACE plumb-test, not %s\n", namespace);
		return 2;
	}

	plumb_kubeconfig_options options = { .path = admin_kubeconfig };
	plumb_kubeconfig *config = NULL;
	if (plumb_kubeconfig_load(&config, &options) < 0 || plumb_kube_client_open(&admin, config, NULL) < 0) {
		fprintf(stderr, "admin: %s\n", plumb_error_last());
		return 1;
	}

	RUN(claims_and_describe);
	RUN(expand_keys_and_displays);
	RUN(expand_bad_names);
	RUN(desired_content_is_yaml);
	RUN(resolve_places_objects);
	RUN(configmap_lifecycle);
	RUN(prune_spares_foreign_objects);
	RUN(deployment_defaults_are_no_change);
	RUN(refusals_name_the_field);
	RUN(secret_values_shown_nowhere);
	RUN(forbidden_names_verb_resource_namespace);

	plumb_kube_client_close(admin);
	TEST_EXIT();
}
