/*
 * Summaries of live objects, by collection. Each collection is a JSON
 * object (jansson's hash table) from an object's name to its summary as a
 * small JSON object: the table needs no map of its own, and a summary
 * costs a few hundred bytes.
 */
#include "util/common.h"
#include "providers/kubernetes/live.h"
#include "providers/kubernetes/object.h"
#include "providers/kubernetes/labels.h"
#include "util/hash.h"

#include <pthread.h>
#include <stdlib.h>

/* Objects a LIST page holds at most: a few megabytes of answer. */
#define LIST_PAGE 500

struct plumb_kube_live {
	pthread_mutex_t mutex;
	/* collection path -> {"filtered": bool, "objects": {name -> packed summary (summary_json), or null: unknown}} */
	json_t *collections;
};

static char *copy_or_null(const char *s)
{
	return s ? plumb_xstrdup(s) : NULL;
}

void plumb_kube_summarize(plumb_kube_summary *out, const json_t *object,
			  const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE])
{
	char id[PLUMB_OID_HEXSZ + 1];
	/*
	 * Of the comparable form with its keys sorted: a GET, a list's item and
	 * a watch's event give one object's members in orders of their own.
	 */
	json_t *comparable = plumb_kube_comparable(object, key);
	char *text = json_dumps(comparable, JSON_COMPACT | JSON_SORT_KEYS);
	plumb_hash_blob_buf(id, text, strlen(text));
	plumb_kube_text_free(text);
	json_decref(comparable);

	json_t *annotations = json_object_get(json_object_get(object, "metadata"), "annotations");
	const char *prune = json_string_value(json_object_get(annotations, PLUMB_KUBE_PRUNE_ANNOTATION));
	memset(out, 0, sizeof(*out));
	out->fingerprint = plumb_xprintf("object %s", id);
	out->kind = copy_or_null(json_string_value(json_object_get(object, "kind")));
	out->tracking = copy_or_null(json_string_value(json_object_get(annotations, PLUMB_KUBE_TRACKING_ANNOTATION)));
	out->applied = copy_or_null(json_string_value(json_object_get(annotations, PLUMB_KUBE_APPLIED_ANNOTATION)));
	out->keep = prune && !strcmp(prune, "false");
	out->deleting = json_object_get(json_object_get(object, "metadata"), "deletionTimestamp") != NULL;
	out->health = plumb_kube_health_of(object, &out->health_message);
}

void plumb_kube_summary_copy(plumb_kube_summary *out, const plumb_kube_summary *summary)
{
	*out = *summary;
	out->fingerprint = copy_or_null(summary->fingerprint);
	out->kind = copy_or_null(summary->kind);
	out->tracking = copy_or_null(summary->tracking);
	out->applied = copy_or_null(summary->applied);
	out->health_message = copy_or_null(summary->health_message);
}

void plumb_kube_summary_release(plumb_kube_summary *summary)
{
	free(summary->fingerprint);
	free(summary->kind);
	free(summary->tracking);
	free(summary->applied);
	free(summary->health_message);
	memset(summary, 0, sizeof(*summary));
}

/*
 * A summary as the table keeps it: one string, so that 10,000 of them cost
 * a few megabytes. Three bytes (health, flags, which of the texts are
 * given), then fingerprint, kind, tracking id, applied hash and health
 * message, each ended by a NUL. A new reference.
 */
enum { KEEP = 1, DELETING = 2 };
#define TEXTS 5

static json_t *summary_json(const plumb_kube_summary *s)
{
	const char *texts[TEXTS] = { s->fingerprint, s->kind, s->tracking, s->applied, s->health_message };
	plumb_buf packed = PLUMB_BUF_INIT;
	unsigned given = 0;
	for (unsigned i = 0; i < TEXTS; i++)
		given |= texts[i] ? 1u << i : 0;
	plumb_buf_putc(&packed, (char)(s->health + 1));
	plumb_buf_putc(&packed, (char)((s->keep ? KEEP : 0) | (s->deleting ? DELETING : 0) | 0x40));
	plumb_buf_putc(&packed, (char)(given | 0x40));
	for (unsigned i = 0; i < TEXTS; i++) {
		if (texts[i])
			plumb_buf_puts(&packed, texts[i]);
		plumb_buf_add(&packed, "", 1);
	}
	json_t *j = json_stringn(packed.ptr, packed.len);
	plumb_buf_release(&packed);
	return j;
}

static void summary_from_json(plumb_kube_summary *out, const json_t *j)
{
	const char *p = json_string_value(j), *end = p + json_string_length(j);
	char *texts[TEXTS] = { NULL };
	memset(out, 0, sizeof(*out));
	if (end - p < 3)
		return;
	out->health = (plumb_kube_health)(p[0] - 1);
	out->keep = (p[1] & KEEP) != 0;
	out->deleting = (p[1] & DELETING) != 0;
	unsigned given = (unsigned)p[2];
	p += 3;
	for (unsigned i = 0; i < TEXTS && p < end; i++) {
		if (given & (1u << i))
			texts[i] = plumb_xstrdup(p);
		p += strlen(p) + 1;
	}
	out->fingerprint = texts[0];
	out->kind = texts[1];
	out->tracking = texts[2];
	out->applied = texts[3];
	out->health_message = texts[4];
}

plumb_kube_live *plumb_kube_live_new(void)
{
	plumb_kube_live *live = plumb_xcalloc(1, sizeof(*live));
	pthread_mutex_init(&live->mutex, NULL);
	live->collections = json_object();
	return live;
}

void plumb_kube_live_free(plumb_kube_live *live)
{
	if (!live)
		return;
	json_decref(live->collections);
	pthread_mutex_destroy(&live->mutex);
	free(live);
}

plumb_kube_live_state plumb_kube_live_lookup(plumb_kube_summary *out, int *filtered, plumb_kube_live *live,
					     const char *collection, const char *name)
{
	plumb_kube_live_state state = PLUMB_KUBE_LIVE_UNKNOWN;
	memset(out, 0, sizeof(*out));
	*filtered = 0;
	pthread_mutex_lock(&live->mutex);
	json_t *known = json_object_get(live->collections, collection);
	if (known) {
		json_t *entry = json_object_get(json_object_get(known, "objects"), name);
		*filtered = json_is_true(json_object_get(known, "filtered"));
		if (!entry) {
			state = PLUMB_KUBE_LIVE_ABSENT;
		} else if (json_is_string(entry)) {
			summary_from_json(out, entry);
			state = PLUMB_KUBE_LIVE_PRESENT;
		}
	}
	pthread_mutex_unlock(&live->mutex);
	return state;
}

char *plumb_kube_collection_of(const char *path, const char **name)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		slash = path;
	*name = slash + (*slash == '/');
	return plumb_xstrndup(path, (size_t)(slash - path));
}

int plumb_kube_live_known(plumb_kube_live *live, const char *collection)
{
	pthread_mutex_lock(&live->mutex);
	int known = json_object_get(live->collections, collection) != NULL;
	pthread_mutex_unlock(&live->mutex);
	return known;
}

/* The summaries of a LIST page's items into objects; *next its continue token (NULL at the last page). */
static int read_page(json_t *objects, char **next, char **resource_version, const plumb_buf *body,
		     const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE], const char *collection)
{
	json_t *list = json_loadb(body->ptr, body->len, 0, NULL);
	json_t *items = json_object_get(list, "items");
	json_t *metadata = json_object_get(list, "metadata");
	*next = NULL;
	if (!json_is_array(items)) {
		plumb_kube_json_free(list);
		return plumb_error_set(PLUMB_ERROR, "LIST %s: the server answered something that is not a list",
				       collection);
	}
	size_t i;
	json_t *item;
	json_array_foreach(items, i, item) {
		const char *name = json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
		plumb_kube_summary summary;
		if (!name)
			continue;
		/* A list's items carry no apiVersion and kind: the list says them. */
		if (!json_object_get(item, "kind")) {
			const char *list_kind = json_string_value(json_object_get(list, "kind"));
			size_t length = list_kind ? strlen(list_kind) : 0;
			if (length > 4 && !strcmp(list_kind + length - 4, "List"))
				json_object_set_new(item, "kind", json_stringn(list_kind, length - 4));
			json_object_set(item, "apiVersion", json_object_get(list, "apiVersion"));
		}
		plumb_kube_summarize(&summary, item, key);
		json_object_set_new(objects, name, summary_json(&summary));
		plumb_kube_summary_release(&summary);
	}
	const char *token = json_string_value(json_object_get(metadata, "continue"));
	if (token && *token)
		*next = plumb_xstrdup(token);
	const char *version = json_string_value(json_object_get(metadata, "resourceVersion"));
	if (resource_version && version) {
		free(*resource_version);
		*resource_version = plumb_xstrdup(version);
	}
	plumb_kube_json_free(list);
	return 0;
}

/* Percent-encoding of a continue token: it is base64, whose '+', '/' and '=' a query must escape. */
static void add_escaped(plumb_buf *out, const char *s)
{
	for (; *s; s++) {
		if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' ||
		    *s == '_' || *s == '.' || *s == '~')
			plumb_buf_putc(out, *s);
		else
			plumb_buf_printf(out, "%%%02X", (unsigned char)*s);
	}
}

int plumb_kube_live_list(plumb_kube_live *live, plumb_kube_client *client, const char *collection, int filtered,
			 const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE], char **resource_version)
{
	json_t *objects = json_object();
	char *next = NULL;
	int error = 0;

	if (resource_version)
		*resource_version = NULL;
	do {
		plumb_buf target = PLUMB_BUF_INIT;
		plumb_buf_printf(&target, "%s?limit=%d", collection, LIST_PAGE);
		if (filtered)
			plumb_buf_puts(&target, "&labelSelector=" PLUMB_KUBE_MANAGED_BY_LABEL "%3D" PLUMB_KUBE_MANAGED_BY);
		if (next) {
			plumb_buf_puts(&target, "&continue=");
			add_escaped(&target, next);
			free(next);
			next = NULL;
		}
		plumb_kube_answer answer = PLUMB_KUBE_ANSWER_INIT;
		plumb_kube_call call = { "GET", target.ptr, NULL, NULL, NULL, 0, NULL, NULL };
		error = plumb_kube_send(&answer, client, &call);
		if (error == 0)
			error = read_page(objects, &next, resource_version, &answer.body, key, collection);
		plumb_kube_answer_release(&answer);
		plumb_buf_release(&target);
	} while (error == 0 && next);
	free(next);
	if (error == 0) {
		json_t *known = json_pack("{s:b, s:o}", "filtered", filtered, "objects", objects);
		pthread_mutex_lock(&live->mutex);
		json_object_set_new(live->collections, collection, known);
		pthread_mutex_unlock(&live->mutex);
	} else {
		json_decref(objects);
		if (resource_version) {
			free(*resource_version);
			*resource_version = NULL;
		}
	}
	return error;
}

int plumb_kube_live_put(plumb_kube_live *live, const char *collection, const char *name, const json_t *object,
			const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE])
{
	plumb_kube_summary summary;
	json_t *fresh = NULL;
	int changed = 0;
	if (object) {
		plumb_kube_summarize(&summary, object, key);
		fresh = summary_json(&summary);
		plumb_kube_summary_release(&summary);
	}
	pthread_mutex_lock(&live->mutex);
	json_t *objects = json_object_get(json_object_get(live->collections, collection), "objects");
	if (objects) {
		json_t *before = json_object_get(objects, name);
		if (!fresh) {
			changed = before != NULL;
			json_object_del(objects, name);
		} else {
			changed = !json_is_string(before) || !json_equal(before, fresh);
			json_object_set(objects, name, fresh);
		}
	}
	pthread_mutex_unlock(&live->mutex);
	json_decref(fresh);
	return changed;
}

void plumb_kube_live_doubt(plumb_kube_live *live, const char *collection, const char *name)
{
	pthread_mutex_lock(&live->mutex);
	json_t *objects = json_object_get(json_object_get(live->collections, collection), "objects");
	if (objects)
		json_object_set_new(objects, name, json_null());
	pthread_mutex_unlock(&live->mutex);
}

void plumb_kube_live_forget(plumb_kube_live *live, const char *collection)
{
	pthread_mutex_lock(&live->mutex);
	json_object_del(live->collections, collection);
	pthread_mutex_unlock(&live->mutex);
}
