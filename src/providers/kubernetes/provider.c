/*
 * The kubernetes provider at work: objects observed with one LIST a
 * collection (live.c), kept up to date by watches in a destination kept
 * open (watch.c), or one GET an object where a list would cost more;
 * compared by a server-side dry-run apply, spared when the object is as
 * plumb applied it; applied by server-side apply, pruned by DELETE
 * (object.c expands documents, destination.c opens the cluster and places
 * objects in it).
 */
#include "util/common.h"
#include "providers/kubernetes/provider.h"
#include "providers/kubernetes/destination.h"
#include "providers/kubernetes/apply.h"
#include "providers/kubernetes/body.h"
#include "providers/kubernetes/dryrun.h"
#include "providers/kubernetes/observe.h"
#include "providers/kubernetes/wait.h"

#include <stdlib.h>

#define HOST_API_VERSION "host/v1"
#define ENGINE_API_VERSION "plumb/v1"

/* --- compare ---------------------------------------------------------------------------- */

/* The comparable copy of object (live, or a dry run) without what the rules ignore. A new reference. */
static json_t *without_ignored(const plumb_destination *dest, const plumb_kube_target *target, const json_t *object,
			       const json_t *live)
{
	if (!object || !plumb_kube_ignore_matches(dest->ignore, target))
		return object ? json_incref((json_t *)object) : NULL;
	json_t *copy = json_deep_copy(object);
	plumb_kube_ignore_strip(dest->ignore, target, copy, live);
	return copy;
}

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
static int compare_prune(plumb_change *out, const plumb_destination *dest, const plumb_observed *observed,
			 const char *key, const char *inventory_kind)
{
	const plumb_kube_seen *s = observed->detail;
	plumb_kube_identity identity;
	if (!observed->exists || !s || !key || plumb_kube_identity_parse(&identity, key) < 0) {
		plumb_error_clear();
		return 0;
	}
	char *id = plumb_kube_tracking_id(dest, identity.group, identity.kind, identity.namespace, identity.name);
	const plumb_kube_summary *live = &s->summary;
	if (live->tracking && !strcmp(live->tracking, id) && live->kind && !strcmp(live->kind, inventory_kind)) {
		if (live->deleting) {
			/* Deleted already, and still there: asked again (it costs nothing) until it is gone. */
			out->type = PLUMB_ACTION_DELETE;
			out->reason = plumb_xstrdup("being deleted: waiting for its finalizers");
		} else if (live->keep) {
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
 * Whether a dry run can be spared: the live object is as plumb's last
 * apply left it (untouched: the engine found its fingerprint unchanged)
 * and carries the hash of the very body plumb would apply now. Then the
 * server would make of it what it made before: nothing changes.
 */
static int unchanged_since_applied(const plumb_observed *observed, int untouched, const char *hash)
{
	const plumb_kube_seen *s = observed->detail;
	return untouched && observed->exists && s && s->summary.applied && hash && !strcmp(s->summary.applied, hash);
}

/* object (taken) with the values of plumb Secrets its placeholders were filled with masked (compare.h). */
static json_t *masked_values(const plumb_kube_desired *d, json_t *object, const plumb_destination *dest)
{
	if (!d->placeholders.name_count)
		return object;
	json_t *masked = plumb_kube_masked(object, d->placeholders.fields, d->placeholder_values,
					   d->placeholders.name_count, dest->hash_key);
	plumb_kube_json_free(object);
	return masked;
}

static int compare(plumb_change *out, plumb_destination *dest, const plumb_object *object,
		   const plumb_observed *observed, const char *inventory_kind, int untouched, plumb_diags *diags)
{
	const json_t *live = NULL;
	json_t *body = NULL, *result = NULL;
	char *path = NULL, *display = NULL;
	plumb_kube_place place;
	int error;

	memset(out, 0, sizeof(*out));
	plumb_buf_init(&out->diff);
	if (!object) {
		const plumb_kube_seen *s = observed->detail;
		return compare_prune(out, dest, observed, s ? s->key : NULL, inventory_kind);
	}

	const plumb_kube_desired *d = object->desired;
	if ((error = plumb_kube_secret_values_bound(object)) < 0)
		goto done;
	if ((error = plumb_kube_path_of_object(&path, &place, dest, object)) < 0)
		goto done;
	body = plumb_kube_apply_body(dest, d, place.namespace);
	json_t *annotations = json_object_get(json_object_get(body, "metadata"), "annotations");
	const char *hash = plumb_kube_body_hash(body);
	if (unchanged_since_applied(observed, untouched, hash))
		goto done;
	display = plumb_kube_display(d->kind, place.namespace, d->name);
	const plumb_kube_seen *seen = observed->detail;
	char *other = observed->exists && seen ? plumb_kube_other_application(dest, seen->summary.tracking,
								   json_string_value(json_object_get(
									   annotations, PLUMB_KUBE_TRACKING_ANNOTATION)))
					       : NULL;
	if (other) {
		/* One object, one owner: two applications applying it would undo each other at every sync. */
		error = plumb_error_set(PLUMB_ECONFLICT,
					"%s is managed by application %s (" PLUMB_KUBE_TRACKING_ANNOTATION
					"); application %s cannot manage it too",
					display, other, dest->application);
		free(other);
		goto done;
	}
	int made = 0;     /* its namespace is one the apply makes */
	int replaced = 0; /* an immutable field changes: deleted, then created */
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
	if ((error = plumb_kube_live_object(&live, dest, observed, display)) < 0)
		goto done;
	/* What the application leaves alone is sent as it is live: the dry run shows what the apply will do. */
	plumb_kube_target target = plumb_kube_target_of(d, place.namespace);
	plumb_kube_ignore_body(dest->ignore, &target, body, live);
	/*
	 * A kind a definition of this sync defines cannot be dry-run before the
	 * definition exists, nor an object before its namespace: shown as sent.
	 */
	if (!path || made)
		result = json_incref(body);
	else if ((result = plumb_kube_dry_run_take(dest, path, hash)) != NULL)
		; /* made ahead, with the other dry runs of its batch */
	else if ((error = plumb_kube_server_side_apply(&result, dest, object, path, body, 1, display, diags)) < 0) {
		if (!live || !plumb_kube_refused_as_immutable(error))
			goto done;
		if (!plumb_kube_may_replace(dest, d)) {
			error = plumb_kube_immutable_hint(error);
			goto done;
		}
		/* Replaced: the server cannot dry-run a create over the live object, so it is shown as sent. */
		plumb_error_clear();
		error = 0;
		replaced = 1;
		result = json_incref(body);
	}
	/* What the application leaves alone shows in no diff; values of plumb Secrets in its fields, masked. */
	json_t *shown_live = masked_values(d, without_ignored(dest, &target, live, live), dest);
	json_t *shown_result = masked_values(d, without_ignored(dest, &target, result, live), dest);
	int changed = plumb_kube_diff(&out->diff, display, shown_live, shown_result, dest->hash_key);
	if (changed < 0) {
		error = plumb_error_wrap(changed, "%s", display);
	} else if (changed && !live) {
		out->type = PLUMB_ACTION_CREATE;
		if (made && !dest->namespace_declared)
			out->reason = plumb_xprintf("namespace %s will be created", dest->namespace);
	} else if (changed) {
		out->type = PLUMB_ACTION_UPDATE;
		char *fields = changed_fields(dest, shown_live, shown_result);
		out->reason = replaced ? plumb_xprintf("replaced (deleted, then created: an immutable field changes); %s",
						       fields)
				       : plumb_xstrdup(fields);
		free(fields);
		/* Who set what the apply changes: the field managers of each changed field. */
		plumb_kube_owners(&out->diff, shown_live, shown_result, dest->hash_key);
	}
	plumb_kube_json_free(shown_live);
	plumb_kube_json_free(shown_result);
done:
	plumb_kube_json_free(body);
	plumb_kube_json_free(result);
	free(path);
	free(display);
	return error;
}

/* Observe items, then make ahead the dry runs their comparisons will need (dryrun.h). */
static int observe(plumb_destination *dest, plumb_observation *items, size_t count)
{
	int error = plumb_kube_observe(dest, items, count);
	if (error == 0)
		plumb_kube_dry_run_ahead(dest, items, count);
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
	char *path = plumb_kube_path_of_key(dest, key);
	int error = path ? plumb_kube_get_object(&live, dest, path, key) : 0;
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
	 * A Secret's values, and those its placeholders were filled with, would
	 * be masked with the destination's key, which this hook is not given:
	 * its content goes nowhere, as a sensitive file's does not.
	 */
	if (d->secret || d->placeholders.name_count)
		return 0;
	*has_content = 1;
	json_t *document = plumb_kube_document(d);
	int error = comparable_yaml(out, document, unkeyed, (size_t)-1);
	plumb_kube_json_free(document);
	return error;
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
	/* The plan is done comparing: what was made ahead and not taken is of no use. */
	plumb_kube_dry_runs_clear(dest);
	return 0; /* discovery keeps its own cache; nothing else outlives a run */
}

plumb_kube_health plumb_kube_object_health(const plumb_observed *observed, char **message)
{
	*message = NULL;
	const plumb_kube_seen *s = observed->detail;
	if (!observed->exists || !s)
		return PLUMB_KUBE_MISSING;
	*message = s->summary.health_message ? plumb_xstrdup(s->summary.health_message) : NULL;
	return s->summary.health;
}

static plumb_health health(const plumb_observed *observed, char **message)
{
	_Static_assert(PLUMB_KUBE_HEALTHY + 1 == PLUMB_HEALTH_HEALTHY && PLUMB_KUBE_UNKNOWN + 1 == PLUMB_HEALTH_UNKNOWN,
		       "the engine's health is the provider's, one up");
	return (plumb_health)(plumb_kube_object_health(observed, message) + 1);
}

/* A Kubernetes object's metadata as git may give it; generateName is not: plumb needs the name it will have. */
static const char *const metadata_fields[] = { "name", "namespace", "labels", "annotations", "finalizers", NULL };

/* Namespaces and definitions, then waves, then Helm's kind order (order.h). */
static int order(const plumb_object *a, const plumb_object *b)
{
	return plumb_kube_order_compare(&((const plumb_kube_desired *)a->desired)->order,
					&((const plumb_kube_desired *)b->desired)->order);
}

/* Prunes go the other way of a sync: what lives in a namespace or is a custom resource before them. */
static int order_removal(const char *a, const char *b)
{
	plumb_kube_identity ia, ib;
	int parsed_a = plumb_kube_identity_parse(&ia, a) == 0, parsed_b = plumb_kube_identity_parse(&ib, b) == 0;
	int c;
	plumb_error_clear();
	if (parsed_a && parsed_b) {
		plumb_kube_order oa, ob;
		plumb_kube_order_of_kind(&oa, ia.kind, ia.namespace, ia.name);
		plumb_kube_order_of_kind(&ob, ib.kind, ib.namespace, ib.name);
		c = plumb_kube_order_compare(&ob, &oa);
	} else {
		c = strcmp(b, a);
	}
	plumb_kube_identity_release(&ia);
	plumb_kube_identity_release(&ib);
	return c;
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
	.order_removal = order_removal,
	.order = order,
	.wave_of = plumb_kube_wave_of,
	.wait_healthy = plumb_kube_wait_healthy,
	.expand = plumb_kube_expand,
	.free_desired = plumb_kube_free_desired,
	.open = plumb_kube_open,
	.renew = plumb_kube_renew,
	.destination_name = plumb_kube_destination_name,
	.name_destination = plumb_kube_name_destination,
	.resolve = plumb_kube_resolve,
	.save = save,
	.close = plumb_kube_close,
	.observe = observe,
	.free_observed = plumb_kube_free_observed,
	.health = health,
	.compare = compare,
	.begin_apply = plumb_kube_begin_apply,
	.apply = plumb_kube_apply,
	.stages = plumb_kube_stages,
	.staged = plumb_kube_staged,
	.commit = plumb_kube_commit,
	.discard = plumb_kube_discard,
	.observe_applied = plumb_kube_observe_applied,
	.remove = plumb_kube_remove,
	.removals_linger = 1,
	.capture = capture,
	.desired_content = desired_content,
	.content_path = content_path,
	.content_is_document = 1,
	.bind_secret = plumb_kube_bind_secret,
};
