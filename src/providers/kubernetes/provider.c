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
#include "providers/kubernetes/observe.h"
#include "providers/kubernetes/wait.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <time.h>

#define HOST_API_VERSION "host/v1"
#define ENGINE_API_VERSION "plumb/v1"

/* --- the apply body --------------------------------------------------------------------- */

/* "APPLICATION:GROUP/KIND:NAMESPACE/NAME", as Argo CD's annotation tracking writes it. */
static char *tracking_id(const plumb_destination *dest, const char *group, const char *kind, const char *namespace,
			 const char *name)
{
	return plumb_xprintf("%s:%s/%s:%s/%s", dest->application, group, kind, namespace, name);
}

/*
 * The application another tracking id of this very object names (a new
 * string), or NULL when tracking is this application's, or no plumb
 * application's.
 */
static char *other_application(const plumb_destination *dest, const char *tracking, const char *own)
{
	const char *colon = tracking ? strchr(tracking, ':') : NULL;
	const char *own_object = strchr(own, ':');
	if (!colon || !strcmp(tracking, own) || strcmp(colon, own_object) != 0)
		return NULL;
	return plumb_xstrndup(tracking, (size_t)(colon - tracking));
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

/*
 * What plumb applies, in short: a hash of the body (keyed, since a
 * Secret's holds its values), carried by the object, so that a later run
 * knows it would apply the same again.
 */
static char *applied_hash(const plumb_destination *dest, const json_t *body)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned mac_length = 0;
	char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	HMAC(EVP_sha256(), dest->hash_key, PLUMB_KUBE_HASH_KEY_SIZE, (const unsigned char *)text, strlen(text), mac,
	     &mac_length);
	plumb_kube_text_free(text);
	char hex[2 * 16 + 1];
	for (unsigned i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return plumb_xstrdup(hex);
}

/* The document, in its namespace, labelled and annotated as plumb's. A new reference. */
static json_t *apply_body(const plumb_destination *dest, const plumb_kube_desired *d, const char *namespace)
{
	json_t *body = json_deep_copy(d->document);
	json_t *metadata = json_object_get(body, "metadata");
	char *id = tracking_id(dest, d->group, d->kind, namespace, d->name);
	if (*namespace)
		json_object_set_new(metadata, "namespace", json_string(namespace));
	json_object_set_new(member_object(metadata, "labels"), PLUMB_KUBE_MANAGED_BY_LABEL,
			    json_string(PLUMB_KUBE_MANAGED_BY));
	json_t *annotations = member_object(metadata, "annotations");
	json_object_set_new(annotations, PLUMB_KUBE_TRACKING_ANNOTATION, json_string(id));
	char *hash = applied_hash(dest, body);
	json_object_set_new(annotations, PLUMB_KUBE_APPLIED_ANNOTATION, json_string(hash));
	free(hash);
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
	plumb_kube_call call = { "PATCH", target, NULL, "application/apply-patch+yaml", text, strlen(text), NULL, NULL };
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

/* --- what the application tells plumb to leave alone (ignore.h) -------------------------- */

static plumb_kube_target target_of(const plumb_kube_desired *d, const char *namespace)
{
	return (plumb_kube_target){ d->group, d->kind, namespace, d->name };
}

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

/* --- replacing what cannot be changed ---------------------------------------------------- */

/* Whether options (a sync-options annotation) holds option, as one of its comma-separated words. */
static int has_option(const char *options, const char *option)
{
	size_t length = strlen(option);
	for (const char *p = options; p && *p;) {
		p += strspn(p, " ,");
		size_t word = strcspn(p, ",");
		size_t end = word;
		while (end && p[end - 1] == ' ')
			end--;
		if (end == length && !strncmp(p, option, length))
			return 1;
		p += word;
	}
	return 0;
}

/* Whether d may be deleted and created when a change to it cannot be made in place (Replace=true). */
static int may_replace(const plumb_destination *dest, const plumb_kube_desired *d)
{
	json_t *annotations = json_object_get(json_object_get(d->document, "metadata"), "annotations");
	return dest->replace ||
	       has_option(json_string_value(json_object_get(annotations, PLUMB_KUBE_SYNC_OPTIONS_ANNOTATION)),
			  "Replace=true") ||
	       has_option(json_string_value(json_object_get(annotations, PLUMB_KUBE_ARGOCD_SYNC_OPTIONS_ANNOTATION)),
			  "Replace=true");
}

/* Whether the server refused a change because a field it names cannot change once set. */
static int refused_as_immutable(int error)
{
	return error == PLUMB_EINVALID && strstr(plumb_error_last(), "immutable") != NULL;
}

/* The refusal of an immutable field, with what would let the change through. */
static int immutable_hint(int error)
{
	char *message = plumb_xstrdup(plumb_error_last());
	plumb_error_set(error,
			"%s\n  (Replace=true, in the object's " PLUMB_KUBE_SYNC_OPTIONS_ANNOTATION
			" annotation or the Application's syncOptions, deletes and creates it)",
			message);
	free(message);
	return error;
}

static int remove_at(plumb_destination *dest, const char *path, const char *display);

/* How long a replacement waits for the object it deleted to be gone. */
#define REPLACE_WAIT_TRIES 600
#define REPLACE_WAIT_MS 100

/* Delete the object at path and wait until it is gone, so that it can be created anew. */
static int delete_and_wait(plumb_destination *dest, const char *path, const char *display)
{
	int error = remove_at(dest, path, display);
	for (int tries = 0; error == 0; tries++) {
		json_t *live = NULL;
		if ((error = plumb_kube_get_object(&live, dest, path, display)) < 0 || !live)
			break;
		plumb_kube_json_free(live);
		if (tries == REPLACE_WAIT_TRIES)
			return plumb_error_set(PLUMB_ERROR, "%s: still there %d s after it was deleted to be replaced",
					       display, REPLACE_WAIT_TRIES * REPLACE_WAIT_MS / 1000);
		struct timespec pause = { 0, REPLACE_WAIT_MS * 1000000L };
		nanosleep(&pause, NULL);
	}
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
static int compare_prune(plumb_change *out, const plumb_destination *dest, const plumb_observed *observed,
			 const char *key, const char *inventory_kind)
{
	const plumb_kube_seen *s = observed->detail;
	plumb_kube_identity identity;
	if (!observed->exists || !s || !key || plumb_kube_identity_parse(&identity, key) < 0) {
		plumb_error_clear();
		return 0;
	}
	char *id = tracking_id(dest, identity.group, identity.kind, identity.namespace, identity.name);
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

static int compare(plumb_change *out, plumb_destination *dest, const plumb_object *object,
		   const plumb_observed *observed, const char *inventory_kind, int untouched)
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
	if ((error = plumb_kube_path_of_object(&path, &place, dest, object)) < 0)
		goto done;
	body = apply_body(dest, d, place.namespace);
	json_t *annotations = json_object_get(json_object_get(body, "metadata"), "annotations");
	const char *hash = json_string_value(json_object_get(annotations, PLUMB_KUBE_APPLIED_ANNOTATION));
	if (unchanged_since_applied(observed, untouched, hash))
		goto done;
	display = plumb_kube_display(d->kind, place.namespace, d->name);
	const plumb_kube_seen *seen = observed->detail;
	char *other = observed->exists && seen ? other_application(dest, seen->summary.tracking,
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
	plumb_kube_target target = target_of(d, place.namespace);
	plumb_kube_ignore_body(dest->ignore, &target, body, live);
	/*
	 * A kind a definition of this sync defines cannot be dry-run before the
	 * definition exists, nor an object before its namespace: shown as sent.
	 */
	if (!path || made)
		result = json_incref(body);
	else if ((error = server_side_apply(&result, dest, path, body, 1, display)) < 0) {
		if (!live || !refused_as_immutable(error))
			goto done;
		if (!may_replace(dest, d)) {
			error = immutable_hint(error);
			goto done;
		}
		/* Replaced: the server cannot dry-run a create over the live object, so it is shown as sent. */
		plumb_error_clear();
		error = 0;
		replaced = 1;
		result = json_incref(body);
	}
	/* What the application leaves alone shows in no diff. */
	json_t *shown_live = without_ignored(dest, &target, live, live);
	json_t *shown_result = without_ignored(dest, &target, result, live);
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
	plumb_kube_call call = { "POST", target, NULL, "application/json", text, strlen(text), NULL, NULL };
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

/* The collection and name of an object's URL path: a new string, and a pointer into path. */
static char *collection_of(const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	*name = slash + 1;
	return plumb_xstrndup(path, (size_t)(slash - path));
}

/* What an apply answered is what the collection holds now (a watch would say so a moment later). */
static void note_live(plumb_destination *dest, const char *path, const json_t *live)
{
	const char *name;
	char *collection = collection_of(path, &name);
	if (live)
		plumb_kube_live_put(dest->live, collection, name, live, dest->hash_key);
	else
		plumb_kube_live_doubt(dest->live, collection, name);
	free(collection);
}

/* A deleted object may linger (finalizers): it is read again before it is taken for gone. */
static int remove_at(plumb_destination *dest, const char *path, const char *display)
{
	char *target = plumb_xprintf("%s?propagationPolicy=Background", path);
	plumb_kube_answer answer = PLUMB_KUBE_ANSWER_INIT;
	plumb_kube_call call = { "DELETE", target, NULL, NULL, NULL, 0, NULL, NULL };
	note_live(dest, path, NULL);
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
	body = apply_body(dest, d, place.namespace);
	plumb_kube_target target = target_of(d, place.namespace);
	if (plumb_kube_ignore_matches(dest->ignore, &target)) {
		/* What the application leaves alone is sent as it is live now. */
		json_t *now = NULL;
		if ((error = plumb_kube_get_object(&now, dest, path, display)) < 0)
			goto done;
		plumb_kube_ignore_body(dest->ignore, &target, body, now);
		plumb_kube_json_free(now);
	}
	error = server_side_apply(&live, dest, path, body, 0, display);
	if (error < 0 && refused_as_immutable(error) && may_replace(dest, d)) {
		plumb_error_clear();
		if ((error = delete_and_wait(dest, path, display)) == 0)
			error = server_side_apply(&live, dest, path, body, 0, display);
	} else if (error < 0 && refused_as_immutable(error)) {
		error = immutable_hint(error);
	}
	if (error < 0) {
		note_live(dest, path, NULL); /* whatever the server did of it is read again */
		goto done;
	}
	note_live(dest, path, live);
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
		plumb_kube_observed_from(out, dest, NULL, NULL, NULL);
		return plumb_error_wrap(error, "%s %s", object->kind, object->display);
	}
	char *key = plumb_kube_key(d->group, d->kind, place.namespace, d->name);
	json_t *live = take_applied(dest, key);
	if (live) {
		plumb_kube_observed_from(out, dest, live, NULL, NULL);
		((plumb_kube_seen *)out->detail)->key = key;
		return 0;
	}
	free(key);
	plumb_observation item = { object, object->key, object->kind, object->sensitive, { 0 } };
	error = plumb_kube_observe(dest, &item, 1);
	*out = item.observed;
	return error;
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
	char *path = plumb_kube_path_of_key(dest, key);
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
	.observe = plumb_kube_observe,
	.free_observed = plumb_kube_free_observed,
	.health = health,
	.compare = compare,
	.begin_apply = begin_apply,
	.apply = apply,
	.stages = stages,
	.staged = staged,
	.commit = commit,
	.discard = discard,
	.observe_applied = observe_applied,
	.remove = remove_object,
	.removals_linger = 1,
	.capture = capture,
	.desired_content = desired_content,
	.content_path = content_path,
	.content_is_document = 1,
	.bind_secret = NULL,
};
