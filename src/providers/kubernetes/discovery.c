#include "util/common.h"
#include "providers/kubernetes/discovery.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/hash.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <unistd.h>

/* Aggregated discovery, or (from an older server) the legacy lists, which plumb then refuses by kind. */
#define AGGREGATED_ACCEPT "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
#define AGGREGATED_KIND "APIGroupDiscoveryList"

/* The largest cache file read back; a server's discovery is a few hundred kilobytes. */
#define CACHE_MAX ((size_t)64 << 20)

/* One of the two discovery documents, as last answered. */
typedef struct {
	const char *path; /* "/api" or "/apis" */
	char *etag;       /* NULL: the server gave none, or nothing is known yet */
	json_t *body;     /* an APIGroupDiscoveryList; NULL before the first answer */
} discovery_document;

struct plumb_kube_discovery {
	char *server;
	char *cache_path; /* NULL: no cache */
	discovery_document core, groups;
	/* Strings point into the documents' bodies, but for api_version, owned here. */
	plumb_kube_resource *resources;
	size_t count;
	size_t capacity;
};

static const char *const verb_names[] = { "get", "list", "watch", "create", "update", "patch", "delete",
					  "deletecollection" };

/* --- the table ---------------------------------------------------------------------------- */

static void clear_table(plumb_kube_discovery *discovery)
{
	for (size_t i = 0; i < discovery->count; i++)
		free((char *)discovery->resources[i].api_version);
	discovery->count = 0;
}

static void add_resources(plumb_kube_discovery *discovery, json_t *list)
{
	json_t *item, *version, *resource, *verb;
	size_t i, j, k, v;

	json_array_foreach(json_object_get(list, "items"), i, item) {
		const char *group = json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
		group = group ? group : "";
		/* The versions come in the group's order of preference: the first is its preferred one. */
		json_array_foreach(json_object_get(item, "versions"), j, version) {
			const char *name = json_string_value(json_object_get(version, "version"));
			if (!name)
				continue;
			json_array_foreach(json_object_get(version, "resources"), k, resource) {
				const char *plural = json_string_value(json_object_get(resource, "resource"));
				const char *kind = json_string_value(
					json_object_get(json_object_get(resource, "responseKind"), "kind"));
				const char *scope = json_string_value(json_object_get(resource, "scope"));
				if (!plural || !kind || !*kind || !scope)
					continue;
				unsigned verbs = 0;
				json_array_foreach(json_object_get(resource, "verbs"), v, verb) {
					for (size_t n = 0; n < PLUMB_ARRAY_SIZE(verb_names); n++)
						if (json_is_string(verb) && !strcmp(json_string_value(verb), verb_names[n]))
							verbs |= 1u << n;
				}
				PLUMB_GROW(discovery->resources, discovery->count, discovery->capacity);
				discovery->resources[discovery->count++] = (plumb_kube_resource){
					.group = group,
					.version = name,
					.api_version = *group ? plumb_xprintf("%s/%s", group, name) : plumb_xstrdup(name),
					.kind = kind,
					.resource = plural,
					.namespaced = !strcmp(scope, "Namespaced"),
					.preferred = j == 0,
					.verbs = verbs,
				};
			}
		}
	}
}

static void build_table(plumb_kube_discovery *discovery)
{
	clear_table(discovery);
	add_resources(discovery, discovery->core.body);
	add_resources(discovery, discovery->groups.body);
}

/* --- the cache ---------------------------------------------------------------------------- */

static json_t *document_json(const discovery_document *document)
{
	return json_pack("{s:s?, s:O}", "etag", document->etag, "body", document->body);
}

static void save_cache(const plumb_kube_discovery *discovery)
{
	if (!discovery->cache_path)
		return;
	json_t *cache = json_pack("{s:s, s:o, s:o}", "server", discovery->server, "api",
				  document_json(&discovery->core), "apis", document_json(&discovery->groups));
	char *text = json_dumps(cache, JSON_COMPACT);
	json_decref(cache);
	if (!text)
		abort(); /* jansson only fails to encode when memory runs out */
	/* A failure only costs the next run two full answers: it is not an error of this one. */
	char *dir = plumb_xstrndup(discovery->cache_path, (size_t)(strrchr(discovery->cache_path, '/') -
								  discovery->cache_path));
	if (plumb_fs_make_directories(dir, 0700) == 0)
		plumb_fs_write_path(discovery->cache_path, text, strlen(text), 0600);
	free(dir);
	free(text);
}

/* Take a cached document when it is what the cache should hold; anything else is ignored. */
static void take_cached(discovery_document *document, json_t *cached)
{
	json_t *body = json_object_get(cached, "body");
	const char *etag = json_string_value(json_object_get(cached, "etag"));
	const char *kind = json_string_value(json_object_get(body, "kind"));
	if (!etag || !kind || strcmp(kind, AGGREGATED_KIND) != 0)
		return;
	document->etag = plumb_xstrdup(etag);
	document->body = json_incref(body);
}

static void load_cache(plumb_kube_discovery *discovery)
{
	plumb_buf text = PLUMB_BUF_INIT;
	int fd = open(discovery->cache_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	int error = plumb_buf_read_fd(&text, fd, CACHE_MAX);
	close(fd);
	json_t *cache = error < 0 ? NULL : json_loadb(text.ptr, text.len, 0, NULL);
	const char *server = json_string_value(json_object_get(cache, "server"));
	if (server && !strcmp(server, discovery->server)) {
		take_cached(&discovery->core, json_object_get(cache, "api"));
		take_cached(&discovery->groups, json_object_get(cache, "apis"));
	}
	json_decref(cache);
	plumb_buf_release(&text);
	plumb_error_clear();
}

/* --- asking the server -------------------------------------------------------------------- */

/*
 * Ask for document again, conditionally when its ETag is known: *body is
 * the new answer (owned), or NULL when the server said 304.
 */
static int fetch(json_t **body, char **etag, plumb_kube_client *client, const discovery_document *document)
{
	plumb_kube_call call = { "GET", document->path, AGGREGATED_ACCEPT, NULL, NULL, 0,
				 document->body ? document->etag : NULL, NULL };
	plumb_kube_answer answer = PLUMB_KUBE_ANSWER_INIT;
	const char *server = plumb_kube_client_config(client)->server;
	int error = plumb_kube_send(&answer, client, &call);

	*body = NULL;
	*etag = NULL;
	if (error < 0 || answer.status == 304)
		goto done;
	json_t *list = json_loadb(answer.body.ptr, answer.body.len, 0, NULL);
	const char *kind = json_string_value(json_object_get(list, "kind"));
	if (!kind || strcmp(kind, AGGREGATED_KIND) != 0 || !json_is_array(json_object_get(list, "items"))) {
		error = plumb_error_set(PLUMB_ERROR,
					"%s: GET %s answered %s (%s), not an " AGGREGATED_KIND
					": plumb reads aggregated discovery (apidiscovery.k8s.io/v2), which Kubernetes "
					"serves from 1.30 on",
					server, document->path, kind ? kind : "no kind",
					answer.content_type ? answer.content_type : "no content type");
		json_decref(list);
		goto done;
	}
	*body = list;
	*etag = answer.etag;
	answer.etag = NULL;
done:
	plumb_kube_answer_release(&answer);
	return error;
}

int plumb_kube_discovery_refresh(plumb_kube_discovery *discovery, plumb_kube_client *client)
{
	json_t *core = NULL, *groups = NULL;
	char *core_etag = NULL, *groups_etag = NULL;
	int error;

	/* Both answers first: the table changes whole or not at all. */
	if ((error = fetch(&core, &core_etag, client, &discovery->core)) < 0 ||
	    (error = fetch(&groups, &groups_etag, client, &discovery->groups)) < 0) {
		json_decref(core);
		free(core_etag);
		return error;
	}
	if (!core && !groups)
		return 0;
	/* The table points into the old bodies: it is rebuilt before they go. */
	json_t *old_core = discovery->core.body, *old_groups = discovery->groups.body;
	if (core) {
		discovery->core.body = core;
		free(discovery->core.etag);
		discovery->core.etag = core_etag;
	}
	if (groups) {
		discovery->groups.body = groups;
		free(discovery->groups.etag);
		discovery->groups.etag = groups_etag;
	}
	build_table(discovery);
	if (core)
		json_decref(old_core);
	if (groups)
		json_decref(old_groups);
	save_cache(discovery);
	return 0;
}

int plumb_kube_discover(plumb_kube_discovery **out, plumb_kube_client *client, const char *cache_dir)
{
	plumb_kube_discovery *discovery = plumb_xcalloc(1, sizeof(*discovery));
	const char *server = plumb_kube_client_config(client)->server;
	char digest[65];

	*out = NULL;
	discovery->server = plumb_xstrdup(server);
	discovery->core.path = "/api";
	discovery->groups.path = "/apis";
	if (cache_dir) {
		plumb_hash_sha256_hex(digest, server, strlen(server));
		discovery->cache_path = plumb_xprintf("%s/kube-discovery-%s.json", cache_dir, digest);
		load_cache(discovery);
		if (discovery->core.body && discovery->groups.body)
			build_table(discovery);
	}
	int error = plumb_kube_discovery_refresh(discovery, client);
	if (error < 0) {
		plumb_kube_discovery_free(discovery);
		return error;
	}
	*out = discovery;
	return 0;
}

const plumb_kube_resource *plumb_kube_discovery_resources(const plumb_kube_discovery *discovery, size_t *count)
{
	*count = discovery->count;
	return discovery->resources;
}

/* --- lookups ------------------------------------------------------------------------------ */

/* Levenshtein distance, ignoring case; long names are simply far from everything. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[65];
	if (la > 64 || lb > 64)
		return la > lb ? la : lb;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diagonal = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t above = row[j];
			size_t cost = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]) ? 0 : 1;
			size_t best = diagonal + cost;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (above + 1 < best)
				best = above + 1;
			row[j] = best;
			diagonal = above;
		}
	}
	return row[lb];
}

int plumb_kube_discovery_find(const plumb_kube_resource **out, const plumb_kube_discovery *discovery,
			      const char *api_version, const char *kind)
{
	const plumb_kube_resource *same_kind = NULL, *nearest = NULL;
	size_t nearest_distance = (size_t)-1;
	int version_served = 0;

	*out = NULL;
	for (size_t i = 0; i < discovery->count; i++) {
		const plumb_kube_resource *r = &discovery->resources[i];
		int same_version = !strcmp(r->api_version, api_version);
		if (same_version && !strcmp(r->kind, kind)) {
			*out = r;
			return 0;
		}
		version_served |= same_version;
		/* The same kind elsewhere: its preferred version first. */
		if (!strcmp(r->kind, kind) && (!same_kind || (r->preferred && !same_kind->preferred)))
			same_kind = r;
		size_t distance = edit_distance(kind, r->kind) * 2 +
				  (same_version ? 0 : edit_distance(api_version, r->api_version));
		if (distance < nearest_distance) {
			nearest_distance = distance;
			nearest = r;
		}
	}
	if (same_kind)
		return plumb_error_set(PLUMB_ENOTFOUND, "%s does not serve %s %s; it serves %s as %s", discovery->server,
				       api_version, kind, kind, same_kind->api_version);
	/* A suggestion only when it is close: a third of the name may be wrong, and a version besides. */
	if (nearest && nearest_distance <= 2 * (strlen(kind) / 3 + 1) + 4)
		return plumb_error_set(PLUMB_ENOTFOUND, "%s does not serve %s %s%s; did you mean %s %s?",
				       discovery->server, api_version, kind,
				       version_served ? "" : " (nor anything in that apiVersion)", nearest->api_version,
				       nearest->kind);
	return plumb_error_set(PLUMB_ENOTFOUND, "%s does not serve %s %s%s", discovery->server, api_version, kind,
			       version_served ? "" : " (nor anything in that apiVersion)");
}

char *plumb_kube_resource_path(const plumb_kube_resource *resource, const char *namespace, const char *name)
{
	plumb_buf path = PLUMB_BUF_INIT;
	if (*resource->group)
		plumb_buf_printf(&path, "/apis/%s/%s", resource->group, resource->version);
	else
		plumb_buf_printf(&path, "/api/%s", resource->version);
	if (resource->namespaced && namespace)
		plumb_buf_printf(&path, "/namespaces/%s", namespace);
	plumb_buf_printf(&path, "/%s", resource->resource);
	if (name)
		plumb_buf_printf(&path, "/%s", name);
	return plumb_buf_detach(&path, NULL);
}

static void release_document(discovery_document *document)
{
	free(document->etag);
	json_decref(document->body);
}

void plumb_kube_discovery_free(plumb_kube_discovery *discovery)
{
	if (!discovery)
		return;
	clear_table(discovery);
	free(discovery->resources);
	release_document(&discovery->core);
	release_document(&discovery->groups);
	free(discovery->server);
	free(discovery->cache_path);
	free(discovery);
}
