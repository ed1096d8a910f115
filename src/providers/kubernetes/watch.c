#include "util/common.h"
#include "providers/kubernetes/watch.h"
#include "providers/kubernetes/client.h"
#include "providers/kubernetes/object.h"
#include "providers/kubernetes/labels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

/* The server ends a watch after this long (a little spread, as client-go does); it is then resumed. */
#define WATCH_SECONDS 300
/* A watch that failed is tried again after 1 s, doubling up to this. */
#define BACKOFF_MAX_MS 30000

/* One collection's watch. */
typedef struct {
	struct plumb_kube_watches *owner;
	char *collection;
	char *resource_version; /* where the next watch starts; NULL: list first */
	pthread_t thread;
	int started;
} collection_watch;

struct plumb_kube_watches {
	plumb_kube_live *live;
	char *kubeconfig;
	char *context;
	int allow_exec;
	unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE];
	void (*changed)(void *payload);
	void *payload;
	atomic_int stopping;
	pthread_mutex_t mutex; /* the list of watches */
	collection_watch **items;
	size_t count;
	size_t capacity;
};

static int stopped(void *payload)
{
	collection_watch *w = payload;
	return atomic_load(&w->owner->stopping);
}

/* Sleep ms, or less when the watches stop. */
static void pause_ms(collection_watch *w, unsigned ms)
{
	for (unsigned slept = 0; slept < ms && !stopped(w); slept += 100) {
		struct timespec step = { 0, 100 * 1000000L };
		nanosleep(&step, NULL);
	}
}

/* One event of a watch: the live summaries follow it; 1 stops the stream (a 410: list again). */
static int on_event(void *payload, const char *text, size_t length)
{
	collection_watch *w = payload;
	json_t *event = json_loadb(text, length, 0, NULL);
	const char *type = json_string_value(json_object_get(event, "type"));
	json_t *object = json_object_get(event, "object");
	const char *version = json_string_value(json_object_get(json_object_get(object, "metadata"), "resourceVersion"));
	const char *name = json_string_value(json_object_get(json_object_get(object, "metadata"), "name"));
	int stop = 0;

	if (!type || !json_is_object(object)) {
		stop = 1; /* not a watch event: start over */
		free(w->resource_version);
		w->resource_version = NULL;
	} else if (!strcmp(type, "ERROR")) {
		/* 410 Gone, or any other trouble the server reports in the stream: list again. */
		stop = 1;
		free(w->resource_version);
		w->resource_version = NULL;
	} else {
		if (version) {
			free(w->resource_version);
			w->resource_version = plumb_xstrdup(version);
		}
		int changed = 0;
		if (name && (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED")))
			changed = plumb_kube_live_put(w->owner->live, w->collection, name, object, w->owner->key);
		else if (name && !strcmp(type, "DELETED"))
			changed = plumb_kube_live_put(w->owner->live, w->collection, name, NULL, w->owner->key);
		if (changed)
			w->owner->changed(w->owner->payload);
	}
	plumb_kube_json_free(event);
	return stop;
}

/* Watch from w->resource_version until the server ends it, the watches stop, or it must be listed again. */
static int watch_once(collection_watch *w, plumb_kube_client *client)
{
	char *target = plumb_xprintf("%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%d&labelSelector="
				     PLUMB_KUBE_MANAGED_BY_LABEL "%%3D" PLUMB_KUBE_MANAGED_BY "&resourceVersion=%s",
				     w->collection, WATCH_SECONDS - (int)(rand() % 30), w->resource_version);
	plumb_kube_stream stream = { on_event, stopped, w };
	plumb_kube_call call = { "GET", target, NULL, NULL, NULL, 0, NULL, &stream };
	plumb_kube_answer answer = PLUMB_KUBE_ANSWER_INIT;
	int error = plumb_kube_send(&answer, client, &call);
	if (answer.status == 410) {
		plumb_error_clear();
		error = 0;
		free(w->resource_version);
		w->resource_version = NULL;
	}
	plumb_kube_answer_release(&answer);
	free(target);
	return error;
}

static void *run(void *payload)
{
	collection_watch *w = payload;
	plumb_kube_watches *owner = w->owner;
	plumb_kubeconfig_options options = { .path = owner->kubeconfig, .context = owner->context, .allow_exec = owner->allow_exec };
	plumb_kube_client *client = NULL;
	unsigned backoff = 0;

	while (!stopped(w)) {
		int error = 0;
		if (!client) {
			plumb_kubeconfig *config = NULL;
			if ((error = plumb_kubeconfig_load(&config, &options)) == 0)
				error = plumb_kube_client_open(&client, config, NULL);
		}
		if (error == 0 && !w->resource_version) {
			error = plumb_kube_live_list(owner->live, client, w->collection, 1, owner->key, &w->resource_version);
			/*
			 * Every list here is a list again (the first was the caller's): the
			 * watch broke or fell behind (410), and what changed meanwhile has
			 * no event of its own. Look.
			 */
			if (error == 0)
				owner->changed(owner->payload);
		}
		if (error == 0 && w->resource_version)
			error = watch_once(w, client);
		if (error == 0) {
			backoff = 0;
			continue;
		}
		/* Down: the collection is read object by object until it is listed again. */
		plumb_error_clear();
		plumb_kube_live_forget(owner->live, w->collection);
		free(w->resource_version);
		w->resource_version = NULL;
		plumb_kube_client_close(client);
		client = NULL;
		backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2) : 1000;
		pause_ms(w, backoff);
	}
	plumb_kube_client_close(client);
	return NULL;
}

plumb_kube_watches *plumb_kube_watches_new(plumb_kube_live *live, const plumb_kubeconfig_options *config,
					   const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE],
					   void (*changed)(void *payload), void *payload)
{
	plumb_kube_watches *watches = plumb_xcalloc(1, sizeof(*watches));
	watches->live = live;
	watches->kubeconfig = config->path ? plumb_xstrdup(config->path) : NULL;
	watches->context = config->context ? plumb_xstrdup(config->context) : NULL;
	watches->allow_exec = config->allow_exec;
	memcpy(watches->key, key, sizeof(watches->key));
	watches->changed = changed;
	watches->payload = payload;
	atomic_init(&watches->stopping, 0);
	pthread_mutex_init(&watches->mutex, NULL);
	return watches;
}

static collection_watch *find(plumb_kube_watches *watches, const char *collection)
{
	for (size_t i = 0; i < watches->count; i++)
		if (!strcmp(watches->items[i]->collection, collection))
			return watches->items[i];
	return NULL;
}

int plumb_kube_watches_has(plumb_kube_watches *watches, const char *collection)
{
	pthread_mutex_lock(&watches->mutex);
	int has = find(watches, collection) != NULL;
	pthread_mutex_unlock(&watches->mutex);
	return has;
}

int plumb_kube_watches_add(plumb_kube_watches *watches, const char *collection, const char *resource_version)
{
	int error = 0;
	pthread_mutex_lock(&watches->mutex);
	if (!find(watches, collection)) {
		collection_watch *w = plumb_xcalloc(1, sizeof(*w));
		w->owner = watches;
		w->collection = plumb_xstrdup(collection);
		w->resource_version = resource_version ? plumb_xstrdup(resource_version) : NULL;
		int rc = pthread_create(&w->thread, NULL, run, w);
		if (rc != 0) {
			error = plumb_error_set(PLUMB_ERROR, "cannot watch %s: %s", collection, strerror(rc));
			free(w->collection);
			free(w->resource_version);
			free(w);
		} else {
			w->started = 1;
			PLUMB_GROW(watches->items, watches->count, watches->capacity);
			watches->items[watches->count++] = w;
		}
	}
	pthread_mutex_unlock(&watches->mutex);
	return error;
}

void plumb_kube_watches_free(plumb_kube_watches *watches)
{
	if (!watches)
		return;
	atomic_store(&watches->stopping, 1);
	for (size_t i = 0; i < watches->count; i++) {
		collection_watch *w = watches->items[i];
		if (w->started)
			pthread_join(w->thread, NULL);
		free(w->collection);
		free(w->resource_version);
		free(w);
	}
	free(watches->items);
	free(watches->kubeconfig);
	free(watches->context);
	explicit_bzero(watches->key, sizeof(watches->key));
	pthread_mutex_destroy(&watches->mutex);
	free(watches);
}
