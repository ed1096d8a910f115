/*
 * The kubernetes provider's apply side: server-side apply of what a plan
 * changes (the destination's namespace made first when it must be), an
 * object replaced when a change cannot be made in place, prunes by DELETE,
 * and what each apply answered kept as the live object (observe_applied,
 * and the collections known whole).
 */
#include "util/common.h"
#include "providers/kubernetes/apply.h"
#include "providers/kubernetes/body.h"
#include "providers/kubernetes/observe.h"

#include <stdlib.h>
#include <time.h>

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
int plumb_kube_begin_apply(plumb_destination *dest, const char *const *keys, size_t count)
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

/* What an apply answered is what the collection holds now (a watch would say so a moment later). */
static void note_live(plumb_destination *dest, const char *path, const json_t *live)
{
	const char *name;
	char *collection = plumb_kube_collection_of(path, &name);
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


static void write_release(plumb_kube_write *w)
{
	plumb_kube_json_free(w->body);
	free(w->path);
	free(w->display);
	free(w->key);
	memset(w, 0, sizeof(*w));
}

/* What the server answered for w: the live object, kept for observe_applied and in the collection. */
static void applied(plumb_destination *dest, plumb_kube_write *w, json_t *live)
{
	note_live(dest, w->path, live);
	remember_applied(dest, w->key, live);
}

/*
 * Apply w now, on its own: the server's refusal reported at its fields,
 * and an object that cannot be changed in place replaced when it may be.
 */
static int apply_now(plumb_destination *dest, plumb_kube_write *w)
{
	const plumb_kube_desired *d = w->object->desired;
	plumb_diags refused = PLUMB_DIAGS_INIT; /* the message says it all: "FILE:LINE:COL: ..." a line */
	json_t *live = NULL;
	int error = plumb_kube_server_side_apply(&live, dest, w->object, w->path, w->body, 0, w->display, &refused);
	if (error < 0 && plumb_kube_refused_as_immutable(error) && plumb_kube_may_replace(dest, d)) {
		plumb_error_clear();
		if ((error = delete_and_wait(dest, w->path, w->display)) == 0)
			error = plumb_kube_server_side_apply(&live, dest, w->object, w->path, w->body, 0, w->display,
							     &refused);
	} else if (error < 0 && plumb_kube_refused_as_immutable(error)) {
		error = plumb_kube_immutable_hint(error);
	}
	if (error < 0)
		note_live(dest, w->path, NULL); /* whatever the server did of it is read again */
	else
		applied(dest, w, live);
	plumb_diags_release(&refused);
	return error;
}

int plumb_kube_apply(plumb_destination *dest, const plumb_object *object, const plumb_change *change)
{
	const plumb_kube_desired *d = object->desired;
	plumb_kube_place place;
	plumb_kube_write w = { object, NULL, NULL, NULL, NULL };
	/* The kind may be served only since a definition this apply made. */
	int error = plumb_kube_locate_served(&place, dest, d);
	if (error < 0)
		return plumb_error_wrap(error, "%s %s", object->kind, object->display);
	w.path = plumb_kube_resource_path(place.resource, place.namespace, d->name);
	w.display = plumb_kube_display(d->kind, place.namespace, d->name);
	if (change->type == PLUMB_ACTION_DELETE) {
		error = remove_at(dest, w.path, w.display);
		write_release(&w);
		return error;
	}
	w.key = plumb_kube_key(d->group, d->kind, place.namespace, d->name);
	w.body = plumb_kube_apply_body(dest, d, place.namespace);
	plumb_kube_target target = plumb_kube_target_of(d, place.namespace);
	if (plumb_kube_ignore_matches(dest->ignore, &target)) {
		/* What the application leaves alone is sent as it is live now. */
		json_t *now = NULL;
		if ((error = plumb_kube_get_object(&now, dest, w.path, w.display)) < 0) {
			write_release(&w);
			return error;
		}
		plumb_kube_ignore_body(dest->ignore, &target, w.body, now);
		plumb_kube_json_free(now);
	}
	/* Staged: the commit sends the writes of one kind and wave at once. */
	PLUMB_GROW(dest->writes, dest->write_count, dest->write_capacity);
	dest->writes[dest->write_count++] = w;
	return 0;
}

int plumb_kube_observe_applied(plumb_observed *out, plumb_destination *dest, const plumb_object *object)
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

int plumb_kube_stages(const plumb_object *object)
{
	return 1; /* each object is applied on its own, but many are sent at once: they wait for the commit */
}

/* Staged writes at most before a commit. */
#define WRITES_MAX 512

size_t plumb_kube_staged(plumb_destination *dest, int *full)
{
	*full = dest->write_count >= WRITES_MAX;
	return dest->write_count;
}

/* Whether a and b go at once: the same place in the order of a sync, but for their names. */
static int same_group(const plumb_kube_write *a, const plumb_kube_write *b)
{
	const plumb_kube_order *x = &((const plumb_kube_desired *)a->object->desired)->order;
	const plumb_kube_order *y = &((const plumb_kube_desired *)b->object->desired)->order;
	return x->after_definitions == y->after_definitions && x->wave == y->wave && x->kind_rank == y->kind_rank &&
	       !strcmp(x->kind, y->kind);
}

/*
 * Send writes[first..end) at once. A write the server refused is applied
 * again on its own, for its message (at the manifest's fields) or its
 * replacement; *done counts the writes carried out before the first that
 * could not be, and the error names that one.
 */
static int commit_group(plumb_destination *dest, size_t first, size_t end, size_t *done)
{
	size_t count = end - first;
	plumb_kube_call *calls = plumb_xcalloc(count, sizeof(*calls));
	plumb_kube_answer *answers = plumb_xcalloc(count, sizeof(*answers));
	int *errors = plumb_xcalloc(count, sizeof(*errors));
	char **messages = plumb_xcalloc(count, sizeof(*messages));
	char **texts = plumb_xcalloc(count, sizeof(*texts));
	char **targets = plumb_xcalloc(count, sizeof(*targets));
	int error, failed = 0;

	for (size_t k = 0; k < count; k++) {
		plumb_kube_write *w = &dest->writes[first + k];
		texts[k] = plumb_kube_json_text(w->body);
		calls[k] = plumb_kube_apply_call(&targets[k], dest, w->path, texts[k], 0);
	}
	error = plumb_kube_send_all(dest->client, calls, answers, errors, messages, count);
	for (size_t k = 0; k < count && error == 0; k++) {
		plumb_kube_write *w = &dest->writes[first + k];
		json_t *live = errors[k] < 0 ? NULL : json_loadb(answers[k].body.ptr, answers[k].body.len, 0, NULL);
		if (json_is_object(live)) {
			applied(dest, w, live);
		} else if (!failed) {
			plumb_kube_json_free(live);
			/* Once more on its own: its message, at its fields, or its replacement. */
			failed = apply_now(dest, w);
		} else {
			plumb_kube_json_free(live);
			note_live(dest, w->path, NULL);
		}
		if (!failed)
			(*done)++;
	}
	if (error == 0 && failed)
		error = failed;
	for (size_t k = 0; k < count; k++) {
		plumb_kube_answer_release(&answers[k]);
		plumb_kube_text_free(texts[k]);
		free(targets[k]);
		free(messages[k]);
	}
	free(calls);
	free(answers);
	free(errors);
	free(messages);
	free(texts);
	free(targets);
	return error;
}

int plumb_kube_commit(plumb_destination *dest, size_t *done)
{
	int error = 0;
	*done = 0;
	for (size_t first = 0, end; first < dest->write_count && error == 0; first = end) {
		for (end = first + 1; end < dest->write_count && same_group(&dest->writes[first], &dest->writes[end]);
		     end++)
			;
		error = commit_group(dest, first, end, done);
	}
	plumb_kube_discard(dest);
	return error;
}

void plumb_kube_discard(plumb_destination *dest)
{
	for (size_t i = 0; i < dest->write_count; i++)
		write_release(&dest->writes[i]);
	dest->write_count = 0;
}

int plumb_kube_remove(plumb_destination *dest, const char *key, const char *kind)
{
	char *path = plumb_kube_path_of_key(dest, key);
	int error = path ? remove_at(dest, path, key) : 0; /* a kind no longer served: nothing of it is left */
	free(path);
	return error;
}

