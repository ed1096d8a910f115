/*
 * The kubernetes provider at work: objects observed with GET, compared by
 * a server-side dry-run apply, applied by server-side apply, pruned by
 * DELETE (object.c expands documents, destination.c opens the cluster and
 * places objects in it).
 */
#include "util/common.h"
#include "providers/kubernetes/provider.h"
#include "providers/kubernetes/destination.h"
#include "util/hash.h"

#include <stdlib.h>

#define HOST_API_VERSION "host/v1"
#define ENGINE_API_VERSION "plumb/v1"

/* --- observe ---------------------------------------------------------------------------- */

/*
 * "object " and the blob id of the comparable YAML: it changes when what
 * plumb manages does, not when the status or the resourceVersion does.
 */
static char *live_fingerprint(const plumb_destination *dest, const json_t *live)
{
	plumb_buf yaml = PLUMB_BUF_INIT;
	char id[PLUMB_OID_HEXSZ + 1];
	json_t *comparable = plumb_kube_comparable(live, dest->hash_key);
	plumb_kube_yaml(&yaml, comparable, 0);
	plumb_hash_blob_buf(id, yaml.ptr, yaml.len);
	plumb_buf_release(&yaml);
	json_decref(comparable);
	return plumb_xprintf("object %s", id);
}

/* What observe makes of a live object (taken) or of none (live NULL). */
static void observed_from(plumb_observed *out, const plumb_destination *dest, json_t *live)
{
	memset(out, 0, sizeof(*out));
	out->exists = live != NULL;
	out->detail = live;
	out->fingerprint = live ? live_fingerprint(dest, live) : plumb_xstrdup("absent");
}

static void free_observed(plumb_observed *observed)
{
	plumb_kube_json_free(observed->detail);
	observed->detail = NULL;
}

/* GET path into *live (a new reference), NULL when there is no such object. */
static int get_object(json_t **live, plumb_destination *dest, const char *path, const char *display)
{
	plumb_kube_answer answer = PLUMB_KUBE_ANSWER_INIT;
	plumb_kube_call call = { "GET", path, NULL, NULL, NULL, 0, NULL };
	int error = plumb_kube_send(&answer, dest->client, &call);
	*live = NULL;
	if (error == PLUMB_ENOTFOUND) {
		plumb_error_clear();
		error = 0;
	} else if (error < 0) {
		error = plumb_error_wrap(error, "%s", display);
	} else if (!(*live = json_loadb(answer.body.ptr, answer.body.len, 0, NULL)) || !json_is_object(*live)) {
		plumb_kube_json_free(*live);
		*live = NULL;
		error = plumb_error_set(PLUMB_ERROR, "%s: the server answered something that is not an object", display);
	}
	plumb_kube_answer_release(&answer);
	return error;
}

/* The URL path of the object key names, NULL when its kind is not served (then it cannot exist). */
static char *path_of_key(const plumb_destination *dest, const char *key)
{
	plumb_kube_identity identity;
	char *path = NULL;
	if (plumb_kube_identity_parse(&identity, key) < 0)
		return NULL;
	const plumb_kube_resource *resource = plumb_kube_find_kind(dest, identity.group, identity.kind);
	if (resource)
		path = plumb_kube_resource_path(resource, identity.namespace, identity.name);
	plumb_kube_identity_release(&identity);
	return path;
}

/* The URL path of a declared object, NULL when its kind is not served yet (a definition of the sync defines it). */
static int path_of_object(char **path, plumb_kube_place *place, plumb_destination *dest, const plumb_object *object)
{
	const plumb_kube_desired *d = object->desired;
	int error = plumb_kube_locate(place, dest, d);
	*path = NULL;
	if (error < 0)
		return plumb_error_wrap(error, "%s %s", object->kind, object->display);
	if (place->resource)
		*path = plumb_kube_resource_path(place->resource, place->namespace, d->name);
	return 0;
}

static int observe_one(plumb_observed *out, plumb_destination *dest, const plumb_observation *item)
{
	char *path = NULL;
	json_t *live = NULL;
	int error = 0;
	plumb_kube_place place;

	char *display = NULL;
	if (item->object) {
		const plumb_kube_desired *d = item->object->desired;
		if ((error = path_of_object(&path, &place, dest, item->object)) == 0)
			display = plumb_kube_display(d->kind, place.namespace, d->name);
	} else {
		path = path_of_key(dest, item->key);
	}
	if (error == 0 && path)
		error = get_object(&live, dest, path, display ? display : item->key);
	free(path);
	free(display);
	observed_from(out, dest, live);
	return error;
}

/*
 * One GET an object. (One LIST a kind and namespace, selected by plumb's
 * label, would cost fewer requests for many objects of one kind; the
 * connection is kept alive, so a GET costs one round trip.)
 */
static int observe(plumb_destination *dest, plumb_observation *items, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		int error = observe_one(&items[i].observed, dest, &items[i]);
		if (error < 0)
			return error;
	}
	return 0;
}

/* --- the apply body --------------------------------------------------------------------- */

static char *tracking_id(const char *group, const char *kind, const char *namespace, const char *name)
{
	return plumb_xprintf("%s/%s:%s/%s", group, kind, namespace, name);
}

/* The object of metadata's member name, made when missing. Borrowed. */
static json_t *member_object(json_t *metadata, const char *name)
{
	json_t *member = json_object_get(metadata, name);
	if (!json_is_object(member)) {
		member = json_object();
		json_object_set_new(metadata, name, member);
	}
	return member;
}

/* The document, in its namespace, labelled and annotated as plumb's. A new reference. */
static json_t *apply_body(const plumb_kube_desired *d, const char *namespace)
{
	json_t *body = json_deep_copy(d->document);
	json_t *metadata = json_object_get(body, "metadata");
	char *id = tracking_id(d->group, d->kind, namespace, d->name);
	if (*namespace)
		json_object_set_new(metadata, "namespace", json_string(namespace));
	json_object_set_new(member_object(metadata, "labels"), PLUMB_KUBE_MANAGED_BY_LABEL,
			    json_string(PLUMB_KUBE_MANAGED_BY));
	json_object_set_new(member_object(metadata, "annotations"), PLUMB_KUBE_TRACKING_ANNOTATION, json_string(id));
	free(id);
	return body;
}

/*
 * Server-side apply of body at path, for real or as a dry run: *answer the
 * object the server made of it (a new reference). Unless the destination
 * forces conflicts (and then the dry run too, so that the plan shows what the
 * apply will do), a field another manager owns is a conflict, and the
 * server's message names the field and the manager.
 */
static int server_side_apply(json_t **answer, plumb_destination *dest, const char *path, const json_t *body,
			     int dry_run, const char *display)
{
	char *text = plumb_kube_json_text(body);
	char *target = plumb_xprintf("%s?%sfieldManager=%s%s", path, dry_run ? "dryRun=All&" : "",
				     PLUMB_KUBE_FIELD_MANAGER, dest->force_conflicts ? "&force=true" : "");
	plumb_kube_answer out = PLUMB_KUBE_ANSWER_INIT;
	/* A JSON document is YAML: the server takes it as an apply patch. */
	plumb_kube_call call = { "PATCH", target, NULL, "application/apply-patch+yaml", text, strlen(text), NULL };
	int error = plumb_kube_send(&out, dest->client, &call);
	*answer = NULL;
	if (error < 0)
		error = plumb_error_wrap(error, "%s%s", dry_run ? "dry run of " : "", display);
	else if (!(*answer = json_loadb(out.body.ptr, out.body.len, 0, NULL)) || !json_is_object(*answer))
		error = plumb_error_set(PLUMB_ERROR, "%s: the server answered something that is not an object", display);
	if (error < 0 && *answer) {
		plumb_kube_json_free(*answer);
		*answer = NULL;
	}
	plumb_kube_answer_release(&out);
	plumb_kube_text_free(text);
	free(target);
	return error;
}

/* --- compare ---------------------------------------------------------------------------- */

/* "fields changed: data, spec": the top-level fields whose comparable forms differ. */
static char *changed_fields(const plumb_destination *dest, const json_t *live, const json_t *desired)
{
	json_t *before = plumb_kube_comparable(live, dest->hash_key);
	json_t *after = plumb_kube_comparable(desired, dest->hash_key);
	plumb_buf reason = PLUMB_BUF_INIT;
	const char *name;
	json_t *value;

	plumb_buf_puts(&reason, "fields changed:");
	size_t empty = reason.len;
	json_object_foreach(after, name, value) {
		if (!json_equal(value, json_object_get(before, name)))
			plumb_buf_printf(&reason, "%s %s", reason.len > empty ? "," : "", name);
	}
	json_object_foreach(before, name, value) {
		if (!json_object_get(after, name))
			plumb_buf_printf(&reason, "%s %s", reason.len > empty ? "," : "", name);
	}
	if (reason.len == empty)
		plumb_buf_puts(&reason, " (order)");
	json_decref(before);
	json_decref(after);
	return plumb_buf_detach(&reason, NULL);
}

/* A prune: only what still carries plumb's tracking id for this very object, of the kind plumb made, goes. */
static int compare_prune(plumb_change *out, const plumb_observed *observed, const char *key, const char *inventory_kind)
{
	const json_t *live = observed->detail;
	plumb_kube_identity identity;
	if (!observed->exists || !live || !key || plumb_kube_identity_parse(&identity, key) < 0)
		return 0;
	char *id = tracking_id(identity.group, identity.kind, identity.namespace, identity.name);
	json_t *annotations = json_object_get(json_object_get(live, "metadata"), "annotations");
	const char *carried = json_string_value(json_object_get(annotations, PLUMB_KUBE_TRACKING_ANNOTATION));
	const char *kind = json_string_value(json_object_get(live, "kind"));
	const char *prune = json_string_value(json_object_get(annotations, PLUMB_KUBE_PRUNE_ANNOTATION));
	if (carried && !strcmp(carried, id) && kind && !strcmp(kind, inventory_kind)) {
		if (prune && !strcmp(prune, "false")) {
			/* Kept where it is, and no longer managed: what Argo CD's Prune=false does. */
			out->reason = plumb_xstrdup("no longer declared in git; kept (" PLUMB_KUBE_PRUNE_ANNOTATION
						    ": \"false\")");
		} else {
			out->type = PLUMB_ACTION_DELETE;
			out->reason = plumb_xstrdup("no longer declared in git");
		}
	}
	free(id);
	plumb_kube_identity_release(&identity);
	return 0;
}

/*
 * The key a prune's observation was made for: compare is not given it, so
 * it is read back from the live object (what observe found at the key).
 */
static char *key_of_live(const json_t *live)
{
	const char *api_version = json_string_value(json_object_get(live, "apiVersion"));
	const char *kind = json_string_value(json_object_get(live, "kind"));
	json_t *metadata = json_object_get(live, "metadata");
	const char *namespace = json_string_value(json_object_get(metadata, "namespace"));
	const char *name = json_string_value(json_object_get(metadata, "name"));
	if (!api_version || !kind || !name)
		return NULL;
	char *group = plumb_kube_group_of(api_version);
	char *key = plumb_kube_key(group, kind, namespace ? namespace : "", name);
	free(group);
	return key;
}

static int compare(plumb_change *out, plumb_destination *dest, const plumb_object *object,
		   const plumb_observed *observed, const char *inventory_kind)
{
	const json_t *live = observed->exists ? observed->detail : NULL;
	json_t *body = NULL, *result = NULL;
	char *path = NULL, *display = NULL;
	plumb_kube_place place;
	int error;

	memset(out, 0, sizeof(*out));
	plumb_buf_init(&out->diff);
	if (!object) {
		char *key = key_of_live(live);
		error = compare_prune(out, observed, key, inventory_kind);
		free(key);
		return error;
	}

	const plumb_kube_desired *d = object->desired;
	if ((error = path_of_object(&path, &place, dest, object)) < 0)
		goto done;
	int made = 0; /* its namespace is one the apply makes */
	if (*place.namespace && !strcmp(place.namespace, dest->namespace)) {
		if ((error = plumb_kube_namespace_missing(&made, dest)) < 0)
			goto done;
		if (made && !dest->create_namespace && !dest->namespace_declared) {
			/* The first object in it stops the plan: one error, not one an object. */
			error = plumb_error_set(PLUMB_ENOTFOUND,
						"namespace %s does not exist; syncPolicy.createNamespace: true (or "
						"--create-namespace) creates it",
						dest->namespace);
			goto done;
		}
	}
	display = plumb_kube_display(d->kind, place.namespace, d->name);
	body = apply_body(d, place.namespace);
	/*
	 * A kind a definition of this sync defines cannot be dry-run before the
	 * definition exists, nor an object before its namespace: shown as sent.
	 */
	if (!path || made)
		result = json_incref(body);
	else if ((error = server_side_apply(&result, dest, path, body, 1, display)) < 0)
		goto done;
	int changed = plumb_kube_diff(&out->diff, display, live, result, dest->hash_key);
	if (changed < 0) {
		error = plumb_error_wrap(changed, "%s", display);
		goto done;
	}
	if (!changed)
		goto done;
	if (!live) {
		out->type = PLUMB_ACTION_CREATE;
		if (made && !dest->namespace_declared)
			out->reason = plumb_xprintf("namespace %s will be created", dest->namespace);
	} else {
		out->type = PLUMB_ACTION_UPDATE;
		out->reason = changed_fields(dest, live, result);
	}
done:
	plumb_kube_json_free(body);
	plumb_kube_json_free(result);
	free(path);
	free(display);
	return error;
}

/* --- apply and remove ------------------------------------------------------------------- */

/*
 * Make the destination's namespace, labelled as plumb's. A create, not an
 * apply: a namespace someone made meanwhile is left as it is (409), never
 * patched. It is not an action and not in the inventory, so no prune ever
 * deletes it (as Argo CD's CreateNamespace).
 */
static int create_namespace(plumb_destination *dest)
{
	json_t *body = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}}", "apiVersion", "v1", "kind", "Namespace", "metadata",
				 "name", dest->namespace, "labels", PLUMB_KUBE_MANAGED_BY_LABEL, PLUMB_KUBE_MANAGED_BY);
	char *text = json_dumps(body, JSON_COMPACT);
	char *target = plumb_xprintf("/api/v1/namespaces?fieldManager=%s", PLUMB_KUBE_FIELD_MANAGER);
	plumb_kube_answer answer = PLUMB_KUBE_ANSWER_INIT;
	plumb_kube_call call = { "POST", target, NULL, "application/json", text, strlen(text), NULL };
	int error = plumb_kube_send(&answer, dest->client, &call);
	if (error == PLUMB_ECONFLICT) {
		plumb_error_clear();
		error = 0; /* made by someone else since it was looked for */
	} else if (error < 0) {
		error = plumb_error_wrap(error, "namespace %s", dest->namespace);
	}
	if (error == 0)
		dest->namespace_state = PLUMB_KUBE_NAMESPACE_EXISTS;
	plumb_kube_answer_release(&answer);
	free(target);
	free(text);
	json_decref(body);
	return error;
}

/*
 * A cluster exists before it is applied to, and nothing is left over
 * between applies; the destination's namespace is made first when the
 * apply writes into it and it is missing (create_namespace), unless git
 * declares it.
 */
static int begin_apply(plumb_destination *dest, const char *const *keys, size_t count)
{
	if (!dest->create_namespace || dest->namespace_declared)
		return 0;
	int into = 0;
	for (size_t i = 0; i < count && !into; i++) {
		plumb_kube_identity identity;
		if (plumb_kube_identity_parse(&identity, keys[i]) < 0) {
			plumb_error_clear();
			continue;
		}
		into = !strcmp(identity.namespace, dest->namespace);
		plumb_kube_identity_release(&identity);
	}
	if (!into)
		return 0;
	int missing = 0;
	int error = plumb_kube_namespace_missing(&missing, dest);
	if (error < 0 || !missing)
		return error;
	return create_namespace(dest);
}

/* Keep the server's answer to the apply of key: it is the live object, for observe_applied. */
static void remember_applied(plumb_destination *dest, const char *key, json_t *live)
{
	for (size_t i = 0; i < dest->applied_count; i++) {
		if (!strcmp(dest->applied[i].key, key)) {
			plumb_kube_json_free(dest->applied[i].live);
			dest->applied[i].live = live;
			return;
		}
	}
	PLUMB_GROW(dest->applied, dest->applied_count, dest->applied_capacity);
	dest->applied[dest->applied_count++] = (plumb_kube_applied){ plumb_xstrdup(key), live };
}

/* The answer kept for key, handed over (NULL when none is). */
static json_t *take_applied(plumb_destination *dest, const char *key)
{
	for (size_t i = 0; i < dest->applied_count; i++) {
		if (!strcmp(dest->applied[i].key, key)) {
			json_t *live = dest->applied[i].live;
			free(dest->applied[i].key);
			dest->applied[i] = dest->applied[--dest->applied_count];
			return live;
		}
	}
	return NULL;
}

static int remove_at(plumb_destination *dest, const char *path, const char *display)
{
	char *target = plumb_xprintf("%s?propagationPolicy=Background", path);
	plumb_kube_answer answer = PLUMB_KUBE_ANSWER_INIT;
	plumb_kube_call call = { "DELETE", target, NULL, NULL, NULL, 0, NULL };
	int error = plumb_kube_send(&answer, dest->client, &call);
	if (error == PLUMB_ENOTFOUND) {
		plumb_error_clear();
		error = 0; /* already gone */
	} else if (error < 0) {
		error = plumb_error_wrap(error, "%s", display);
	}
	plumb_kube_answer_release(&answer);
	free(target);
	return error;
}

static int apply(plumb_destination *dest, const plumb_object *object, const plumb_change *change)
{
	const plumb_kube_desired *d = object->desired;
	plumb_kube_place place;
	json_t *body = NULL, *live = NULL;
	char *path = NULL, *display = NULL, *key = NULL;
	/* The kind may be served only since a definition this apply made. */
	int error = plumb_kube_locate_served(&place, dest, d);
	if (error < 0)
		return plumb_error_wrap(error, "%s %s", object->kind, object->display);
	path = plumb_kube_resource_path(place.resource, place.namespace, d->name);
	display = plumb_kube_display(d->kind, place.namespace, d->name);
	if (change->type == PLUMB_ACTION_DELETE) {
		error = remove_at(dest, path, display);
		goto done;
	}
	body = apply_body(d, place.namespace);
	if ((error = server_side_apply(&live, dest, path, body, 0, display)) < 0)
		goto done;
	key = plumb_kube_key(d->group, d->kind, place.namespace, d->name);
	remember_applied(dest, key, live);
done:
	plumb_kube_json_free(body);
	free(path);
	free(display);
	free(key);
	return error;
}

static int observe_applied(plumb_observed *out, plumb_destination *dest, const plumb_object *object)
{
	const plumb_kube_desired *d = object->desired;
	plumb_kube_place place;
	int error = plumb_kube_locate(&place, dest, d);
	if (error < 0) {
		observed_from(out, dest, NULL);
		return plumb_error_wrap(error, "%s %s", object->kind, object->display);
	}
	char *key = plumb_kube_key(d->group, d->kind, place.namespace, d->name);
	json_t *live = take_applied(dest, key);
	free(key);
	if (live) {
		observed_from(out, dest, live);
		return 0;
	}
	plumb_observation item = { object, object->key, object->kind, object->sensitive, { 0 } };
	return observe_one(out, dest, &item);
}

static int stages(const plumb_object *object)
{
	return 0; /* each server-side apply is atomic on its own; the server has no batch to stage into */
}

static size_t staged(plumb_destination *dest, int *full)
{
	*full = 0;
	return 0;
}

static int commit(plumb_destination *dest, size_t *done)
{
	*done = 0;
	return 0;
}

static void discard(plumb_destination *dest)
{
}

static int remove_object(plumb_destination *dest, const char *key, const char *kind)
{
	char *path = path_of_key(dest, key);
	int error = path ? remove_at(dest, path, key) : 0; /* a kind no longer served: nothing of it is left */
	free(path);
	return error;
}

/* --- content: captures and desired YAML --------------------------------------------------- */

/* The comparable YAML of object, into out; PLUMB_EINVALID beyond max bytes (out unchanged). */
static int comparable_yaml(plumb_buf *out, const json_t *object, const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE],
			   size_t max)
{
	plumb_buf yaml = PLUMB_BUF_INIT;
	json_t *comparable = plumb_kube_comparable(object, key);
	plumb_kube_yaml(&yaml, comparable, 0);
	json_decref(comparable);
	int error = 0;
	if (yaml.len > max)
		error = plumb_error_set(PLUMB_EINVALID, "the object is larger than %zu bytes as YAML", max);
	else
		plumb_buf_add(out, yaml.ptr, yaml.len);
	plumb_buf_release(&yaml);
	return error;
}

static int capture(plumb_buf *out, int *has_content, plumb_destination *dest, const char *key, const char *kind,
		   size_t max)
{
	json_t *live = NULL;
	char *path = path_of_key(dest, key);
	int error = path ? get_object(&live, dest, path, key) : 0;
	*has_content = 0;
	if (error == 0 && live) {
		/* A Secret's values are masked (compare.h): a capture never holds them. */
		if ((error = comparable_yaml(out, live, dest->hash_key, max)) == 0)
			*has_content = 1;
	}
	plumb_kube_json_free(live);
	free(path);
	return error;
}

static int desired_content(plumb_buf *out, int *has_content, plumb_source *source, const plumb_object *object)
{
	const plumb_kube_desired *d = object->desired;
	static const unsigned char unkeyed[PLUMB_KUBE_HASH_KEY_SIZE];
	*has_content = 0;
	/*
	 * A Secret's values would be masked with the destination's key, which
	 * this hook is not given: its content goes nowhere, as a sensitive
	 * file's does not.
	 */
	if (d->secret)
		return 0;
	*has_content = 1;
	return comparable_yaml(out, d->document, unkeyed, (size_t)-1);
}

static const char *content_path(const plumb_object *object)
{
	return NULL;
}

/* --- the table -------------------------------------------------------------------------- */

static int claims(const char *api_version, const char *kind)
{
	return strcmp(api_version, HOST_API_VERSION) != 0 && strcmp(api_version, ENGINE_API_VERSION) != 0;
}

static const char *describe(const char *api_version)
{
	if (!api_version)
		return "any apiVersion the cluster serves";
	if (!strcmp(api_version, HOST_API_VERSION) || !strcmp(api_version, ENGINE_API_VERSION))
		return NULL;
	return "any kind the cluster serves";
}

static int save(plumb_destination *dest)
{
	return 0; /* discovery keeps its own cache; nothing else outlives a run */
}

plumb_kube_health plumb_kube_object_health(const plumb_observed *observed, char **message)
{
	*message = NULL;
	if (!observed->exists || !observed->detail)
		return PLUMB_KUBE_MISSING;
	return plumb_kube_health_of(observed->detail, message);
}

/* A Kubernetes object's metadata as git may give it; generateName is not: plumb needs the name it will have. */
static const char *const metadata_fields[] = { "name", "namespace", "labels", "annotations", "finalizers", NULL };

/* Namespaces and definitions, then waves, then Helm's kind order (order.h). */
static int order(const plumb_object *a, const plumb_object *b)
{
	return plumb_kube_order_compare(&((const plumb_kube_desired *)a->desired)->order,
					&((const plumb_kube_desired *)b->desired)->order);
}

/* How people name the live object of an inventory key: "NAMESPACE/NAME". */
static char *display_of(const char *key)
{
	plumb_kube_identity id;
	if (plumb_kube_identity_parse(&id, key) < 0) {
		plumb_kube_identity_release(&id);
		plumb_error_clear();
		return plumb_xstrdup(key);
	}
	char *display = plumb_kube_object_display(id.namespace, id.name);
	plumb_kube_identity_release(&id);
	return display;
}

const plumb_provider plumb_kubernetes_provider = {
	.name = "kubernetes",
	.claims = claims,
	.describe = describe,
	.metadata_fields = metadata_fields,
	.display_of = display_of,
	.order = order,
	.expand = plumb_kube_expand,
	.free_desired = plumb_kube_free_desired,
	.open = plumb_kube_open,
	.destination_name = plumb_kube_destination_name,
	.resolve = plumb_kube_resolve,
	.save = save,
	.close = plumb_kube_close,
	.observe = observe,
	.free_observed = free_observed,
	.compare = compare,
	.begin_apply = begin_apply,
	.apply = apply,
	.stages = stages,
	.staged = staged,
	.commit = commit,
	.discard = discard,
	.observe_applied = observe_applied,
	.remove = remove_object,
	.capture = capture,
	.desired_content = desired_content,
	.content_path = content_path,
	.bind_secret = NULL,
};
