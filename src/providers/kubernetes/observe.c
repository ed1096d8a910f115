/*
 * Reading live objects: one LIST a collection where a batch looks for
 * several of its objects (or a watch keeps it known, live.h and watch.h),
 * else one GET an object. What observe finds is a summary; the whole
 * object is read only when compare needs it.
 */
#include "util/common.h"
#include "providers/kubernetes/observe.h"

#include <stdlib.h>


/* What observe makes of a live object (live taken; NULL: none), or of a summary (taken) alone. */
void plumb_kube_observed_from(plumb_observed *out, const plumb_destination *dest, json_t *live,
			      plumb_kube_summary *summary, char *path)
{
	plumb_kube_seen *s = plumb_xcalloc(1, sizeof(*s));
	memset(out, 0, sizeof(*out));
	s->live = live;
	s->path = path;
	if (summary) {
		s->summary = *summary;
		memset(summary, 0, sizeof(*summary));
	} else if (live) {
		plumb_kube_summarize(&s->summary, live, dest->hash_key);
	}
	out->exists = live != NULL || summary != NULL;
	out->fingerprint = plumb_xstrdup(out->exists ? s->summary.fingerprint : "absent");
	out->detail = s;
}

void plumb_kube_free_observed(plumb_observed *observed)
{
	plumb_kube_seen *s = observed->detail;
	if (s) {
		plumb_kube_json_free(s->live);
		plumb_kube_summary_release(&s->summary);
		free(s->path);
		free(s->key);
		free(s);
	}
	observed->detail = NULL;
}

/* GET path into *live (a new reference), NULL when there is no such object. */
int plumb_kube_get_object(json_t **live, plumb_destination *dest, const char *path, const char *display)
{
	plumb_kube_answer answer = PLUMB_KUBE_ANSWER_INIT;
	plumb_kube_call call = { "GET", path, NULL, NULL, NULL, 0, NULL, NULL };
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
char *plumb_kube_path_of_key(const plumb_destination *dest, const char *key)
{
	plumb_kube_identity identity;
	char *path = NULL;
	if (plumb_kube_identity_parse(&identity, key) < 0) {
		plumb_error_clear();
		return NULL;
	}
	const plumb_kube_resource *resource = plumb_kube_find_kind(dest, identity.group, identity.kind);
	if (resource)
		path = plumb_kube_resource_path(resource, identity.namespace, identity.name);
	plumb_kube_identity_release(&identity);
	return path;
}

/* The URL path of a declared object, NULL when its kind is not served yet (a definition of the sync defines it). */
int plumb_kube_path_of_object(char **path, plumb_kube_place *place, plumb_destination *dest, const plumb_object *object)
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

/* Where an observed object is: its collection's URL path and its name, or NULL when its kind is not served. */
typedef struct {
	char *collection;
	const char *name;
	char *display;
	plumb_kube_identity identity; /* of a prune's key */
} located;

static void located_release(located *t)
{
	free(t->collection);
	free(t->display);
	plumb_kube_identity_release(&t->identity);
	memset(t, 0, sizeof(*t));
}

/* Where item is (t->collection NULL: nowhere yet, a kind a definition of this sync defines). */
static int locate_item(located *t, plumb_destination *dest, const plumb_observation *item)
{
	memset(t, 0, sizeof(*t));
	if (item->object) {
		const plumb_kube_desired *d = item->object->desired;
		plumb_kube_place place;
		int error = plumb_kube_locate(&place, dest, d);
		if (error < 0)
			return plumb_error_wrap(error, "%s %s", item->object->kind, item->object->display);
		t->name = d->name;
		t->display = plumb_kube_display(d->kind, place.namespace, d->name);
		if (place.resource)
			t->collection = plumb_kube_resource_path(place.resource, place.namespace, NULL);
		return 0;
	}
	if (plumb_kube_identity_parse(&t->identity, item->key) < 0) {
		plumb_error_clear();
		return 0; /* not a key plumb made: nothing there */
	}
	const plumb_kube_resource *resource = plumb_kube_find_kind(dest, t->identity.group, t->identity.kind);
	t->name = t->identity.name;
	t->display = plumb_xstrdup(item->key);
	if (resource)
		t->collection = plumb_kube_resource_path(resource, t->identity.namespace, NULL);
	return 0;
}

/* A collection is listed once, rather than read one GET an object, when a batch looks for this many of it. */
#define LIST_AT 4

/*
 * Make collection known, when that is cheaper than reading its objects
 * one by one: a destination kept open watches every collection it
 * observes (filtered by plumb's label); a run lists one where it looks for
 * several objects (all of them: an object missing from the list is
 * absent, labelled or not). A list that fails only costs speed.
 */
static void know(plumb_destination *dest, const char *collection, size_t wanted)
{
	int error = 0;
	if (plumb_kube_live_known(dest->live, collection))
		return;
	if (dest->watches) {
		if (plumb_kube_watches_has(dest->watches, collection))
			return; /* down for a moment: read object by object meanwhile */
		char *version = NULL;
		error = plumb_kube_live_list(dest->live, dest->client, collection, 1, dest->hash_key, &version);
		if (error == 0)
			error = plumb_kube_watches_add(dest->watches, collection, version);
		free(version);
	} else if (wanted >= LIST_AT) {
		error = plumb_kube_live_list(dest->live, dest->client, collection, 0, dest->hash_key, NULL);
	}
	/*
	 * Credentials that may get objects but not list them, a server that
	 * failed the list: the objects are read one by one, and what that
	 * meets is reported for the object that meets it.
	 */
	if (error < 0) {
		plumb_error_clear();
		plumb_kube_live_forget(dest->live, collection);
	}
}

/* How many of items[from..count) are in collection. */
static size_t count_in(const located *where, size_t from, size_t count, const char *collection)
{
	size_t n = 0;
	for (size_t i = from; i < count; i++)
		n += where[i].collection && !strcmp(where[i].collection, collection);
	return n;
}

static int observe_located(plumb_observed *out, plumb_destination *dest, const located *t)
{
	plumb_kube_summary summary;
	json_t *live = NULL;
	int filtered = 0;
	if (!t->collection) {
		plumb_kube_observed_from(out, dest, NULL, NULL, NULL);
		return 0;
	}
	char *path = plumb_xprintf("%s/%s", t->collection, t->name);
	switch (plumb_kube_live_lookup(&summary, &filtered, dest->live, t->collection, t->name)) {
	case PLUMB_KUBE_LIVE_PRESENT:
		plumb_kube_observed_from(out, dest, NULL, &summary, path);
		return 0;
	case PLUMB_KUBE_LIVE_ABSENT:
		if (!filtered) {
			plumb_kube_observed_from(out, dest, NULL, NULL, path);
			return 0;
		}
		break; /* it may be there without plumb's label */
	case PLUMB_KUBE_LIVE_UNKNOWN:
		break;
	}
	int error = plumb_kube_get_object(&live, dest, path, t->display);
	plumb_kube_observed_from(out, dest, live, NULL, path);
	return error;
}

int plumb_kube_observe(plumb_destination *dest, plumb_observation *items, size_t count)
{
	located *where = plumb_xcalloc(count ? count : 1, sizeof(*where));
	int error = 0;
	for (size_t i = 0; i < count && error == 0; i++)
		error = locate_item(&where[i], dest, &items[i]);
	for (size_t i = 0; i < count && error == 0; i++) {
		const char *collection = where[i].collection;
		if (collection && !plumb_kube_live_known(dest->live, collection))
			know(dest, collection, count_in(where, i, count, collection));
		error = observe_located(&items[i].observed, dest, &where[i]);
		if (items[i].observed.detail)
			((plumb_kube_seen *)items[i].observed.detail)->key = plumb_xstrdup(items[i].key);
	}
	for (size_t i = 0; i < count; i++)
		located_release(&where[i]);
	free(where);
	return error;
}

/* The whole live object observed (read now when only its summary was known); NULL when it is gone. Borrowed. */
int plumb_kube_live_object(const json_t **out, plumb_destination *dest, const plumb_observed *observed, const char *display)
{
	plumb_kube_seen *s = observed->detail;
	*out = NULL;
	if (!observed->exists || !s)
		return 0;
	if (!s->live && s->path) {
		int error = plumb_kube_get_object(&s->live, dest, s->path, display);
		if (error < 0)
			return error;
	}
	*out = s->live;
	return 0;
}

