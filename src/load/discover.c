#include "util/common.h"
#include "load/discover.h"
#include "load/argocd_repository.h"
#include "load/flux.h"
#include "load/load.h"
#include "render/helm.h"
#include "providers/host/host.h"
#include "providers/provider.h"
#include "util/path.h"
#include "util/url.h"

#include <stdlib.h>

/* App of apps nest at most this deep. */
#define MAX_NESTING 16

typedef struct {
	plumb_source *source;
	const char *commit;
	plumb_diags *diags;
	plumb_applications *out;
	int implicit_kubernetes; /* the implicit application goes to a cluster */
	const char *implicit_namespace; /* where the implicit application's chart is rendered */
	const plumb_discover_names *names;
	const char *stack[MAX_NESTING + 1]; /* the paths being expanded, outermost first */
	size_t depth;
} discovery;

/* Whether an Application's repository is the one being read. */
static int is_own_repository(const discovery *d, const char *repo)
{
	if (!repo)
		return 1;
	if (plumb_url_same(repo, plumb_source_name(d->source)))
		return 1;
	for (size_t i = 0; d->names && i < d->names->repo_alias_count; i++)
		if (plumb_url_same(repo, d->names->repo_aliases[i]))
			return 1;
	return 0;
}

static int own_url(const char *url, void *payload)
{
	return is_own_repository(payload, url);
}

/* The context a cluster named another tool's way maps to, or NULL. */
static const char *context_of(const discovery *d, const char *cluster)
{
	size_t n = strlen(cluster);
	for (size_t i = 0; d->names && i < d->names->cluster_count; i++) {
		const char *entry = d->names->clusters[i];
		if (!strncmp(entry, cluster, n) && entry[n] == '=')
			return entry + n + 1;
	}
	return NULL;
}

static void add_leaf(discovery *d, const plumb_application *application)
{
	plumb_application leaf = plumb_application_copy(application);
	if (leaf.repo && is_own_repository(d, leaf.repo)) {
		free(leaf.repo);
		leaf.repo = NULL;
	}
	if (leaf.cluster) {
		const char *context = context_of(d, leaf.cluster);
		if (!context) {
			plumb_diags_add(d->diags, leaf.cluster_position,
					"spec.destination: cluster '%s' is not one plumb knows: map it to a kubeconfig "
					"context (clusters: in serve.yaml, --cluster '%s=CONTEXT')",
					leaf.cluster, leaf.cluster);
			plumb_application_release(&leaf);
			return;
		}
		free(leaf.context);
		leaf.context = plumb_xstrdup(context);
	}
	PLUMB_GROW(d->out->items, d->out->count, d->out->capacity);
	d->out->items[d->out->count++] = leaf;
}

/*
 * Every object goes to its application's destination: a host object in an
 * application bound for a cluster, or a Kubernetes object in one bound for a
 * host root, is a diagnostic at its document (one a document: a Tree's many
 * objects are one mistake).
 */
static void check_destination(const plumb_manifest_set *set, int kubernetes, plumb_diags *diags)
{
	const char *kind = plumb_application_provider(kubernetes);
	for (size_t i = 0; i < set->object_count; i++) {
		const plumb_object *o = &set->objects[i];
		if (!strcmp(o->provider->name, kind))
			continue;
		const plumb_resource *r = &set->resources[o->resource];
		plumb_position at = { r->file, r->line, r->column };
		if (kubernetes)
			plumb_diags_add(diags, at, "%s %s is a host object; its application's destination is a cluster",
					r->kind, r->name);
		else
			plumb_diags_add(diags, at,
					"unknown apiVersion \"%s\" for a host destination (known: %s, plumb/v1); other "
					"apiVersions are Kubernetes objects, for an application whose destination is kubernetes",
					r->api_version, PLUMB_HOST_API_VERSION);
		while (i + 1 < set->object_count && set->objects[i + 1].resource == o->resource)
			i++;
	}
}

/* Expand path; parent is the Application that names it (NULL for the top). */
static int expand(discovery *d, const char *path, const plumb_application *parent, const char *implicit_name)
{
	plumb_manifest_set set;
	size_t before = d->diags->count;
	int error;

	memset(&set, 0, sizeof(set));
	plumb_render_target target = { parent ? parent->name : implicit_name,
				       parent ? parent->namespace : d->implicit_namespace, parent ? parent->render : NULL };
	error = plumb_load(&set, d->source, d->commit, path, &target, d->diags);
	if (error == PLUMB_ENOTFOUND && parent) {
		plumb_diags_add(d->diags, parent->position, "spec.source.path: '%s' does not exist in commit %.12s", path,
				d->commit);
		error = PLUMB_EINVALID;
	}
	/* Even a path that does not load cleanly is told what of it cannot go where its application goes. */
	if ((error == 0 || error == PLUMB_EINVALID) && !set.application_count)
		check_destination(&set, parent ? parent->kubernetes : d->implicit_kubernetes, d->diags);
	if (error < 0)
		goto done;
	if (!set.application_count) {
		if (parent) {
			add_leaf(d, parent);
		} else {
			plumb_application implicit;
			memset(&implicit, 0, sizeof(implicit));
			implicit.name = (char *)implicit_name;
			implicit.path = set.path;
			implicit.root = "";
			implicit.kubernetes = d->implicit_kubernetes;
			implicit.automated = implicit.prune = implicit.self_heal = 1;
			add_leaf(d, &implicit);
		}
		goto done;
	}
	for (size_t i = 0; i < set.object_count; i++) {
		const plumb_object *o = &set.objects[i];
		/*
		 * A ConfigMap a Flux application reads its variables or values from, and
		 * Argo CD's repository Secrets, are read, not applied.
		 */
		if (plumb_flux_consumed(&set, o->resource) || plumb_argocd_repository_secret(&set.resources[o->resource]))
			continue;
		plumb_diags_add(d->diags, o->position,
				"'%s' holds Applications, so it holds nothing else: move %s to an application's path",
				*set.path ? set.path : ".", set.resources[o->resource].identity);
		error = PLUMB_EINVALID;
		goto done;
	}
	for (size_t i = 0; i < set.application_count; i++) {
		plumb_application resolved = plumb_application_copy(&set.applications[i]);
		const plumb_application *a = &resolved;
		size_t diags_before = d->diags->count;
		plumb_flux_resolve(&resolved, &set, d->source, own_url, d, d->diags);
		plumb_argocd_repository_resolve(&resolved, &set, d->source, d->diags);
		if (d->diags->count > diags_before) {
			plumb_application_release(&resolved);
			error = PLUMB_EINVALID;
			continue;
		}
		if (!is_own_repository(d, a->repo) || a->revision || plumb_helm_is_remote(a->render)) {
			/* Another repository or revision, or a chart of a Helm repository, is synced as it is: a leaf here. */
			add_leaf(d, a);
			plumb_application_release(&resolved);
			continue;
		}
		size_t k;
		for (k = 0; k < d->depth && strcmp(d->stack[k], a->path) != 0; k++)
			;
		if (k < d->depth || !strcmp(a->path, set.path)) {
			plumb_buf cycle = PLUMB_BUF_INIT;
			for (size_t j = k; j < d->depth; j++)
				plumb_buf_printf(&cycle, "%s -> ", *d->stack[j] ? d->stack[j] : ".");
			plumb_buf_printf(&cycle, "%s -> %s", *set.path ? set.path : ".", *a->path ? a->path : ".");
			plumb_diags_add(d->diags, a->position, "Applications form a cycle: %s (Application %s)", cycle.ptr,
					a->name);
			plumb_buf_release(&cycle);
			plumb_application_release(&resolved);
			error = PLUMB_EINVALID;
			continue;
		}
		if (d->depth >= MAX_NESTING) {
			plumb_diags_add(d->diags, a->position, "Applications nest more than %d deep", MAX_NESTING);
			plumb_application_release(&resolved);
			error = PLUMB_EINVALID;
			continue;
		}
		/* Its path may lie in a submodule, or name one: fetched before it is read. */
		if (a->submodules && plumb_source_fetch_submodules(d->source, d->commit) < 0) {
			plumb_diags_add(d->diags, a->position, "spec.source.submodules: %s", plumb_error_last());
			error = PLUMB_EINVALID;
			continue;
		}
		d->stack[d->depth] = set.path;
		d->depth++;
		int nested = expand(d, a->path, a, NULL);
		d->depth--;
		plumb_application_release(&resolved);
		if (nested < 0 && (error == 0 || nested != PLUMB_EINVALID))
			error = nested;
	}
done:
	if (error == 0 && d->diags->count > before)
		error = PLUMB_EINVALID;
	plumb_manifest_set_release(&set);
	return error;
}

static int same_declaration(const plumb_application *a, const plumb_application *b)
{
	return !strcmp(a->file, b->file) && a->position.line == b->position.line &&
	       a->position.column == b->position.column;
}

/* One declaration reached through two app-of-apps paths is one application. */
static void drop_repeats(plumb_applications *apps)
{
	size_t kept = 0;
	for (size_t i = 0; i < apps->count; i++) {
		size_t j;
		for (j = 0; j < kept && !same_declaration(&apps->items[i], &apps->items[j]); j++)
			;
		if (j < kept)
			plumb_application_release(&apps->items[i]);
		else
			apps->items[kept++] = apps->items[i];
	}
	apps->count = kept;
}

/*
 * Name the applications of one dependency cycle among those not placed:
 * follow unplaced dependencies from any of them until one repeats.
 */
static void report_cycle(const plumb_applications *apps, const char *placed, plumb_diags *diags)
{
	size_t n = apps->count;
	size_t *path = plumb_xcalloc(n + 1, sizeof(*path));
	size_t length = 0, current = 0;
	while (placed[current])
		current++;
	for (;;) {
		size_t seen;
		for (seen = 0; seen < length && path[seen] != current; seen++)
			;
		if (seen < length) {
			plumb_buf names = PLUMB_BUF_INIT;
			for (size_t i = seen; i < length; i++)
				plumb_buf_printf(&names, "%s -> ", apps->items[path[i]].name);
			plumb_buf_puts(&names, apps->items[current].name);
			plumb_diags_add(diags, apps->items[current].position, "dependsOn forms a cycle: %s", names.ptr);
			plumb_buf_release(&names);
			break;
		}
		path[length++] = current;
		const plumb_application *a = &apps->items[current];
		size_t next = n;
		for (size_t k = 0; k < a->depends_on_count && next == n; k++) {
			const plumb_application *d = plumb_applications_find(apps, a->depends_on[k]);
			if (d && !placed[d - apps->items])
				next = (size_t)(d - apps->items);
		}
		if (next == n || length > n)
			break; /* cannot happen: an unplaced application waits on an unplaced dependency */
		current = next;
	}
	free(path);
}

/* Order the leaves: waves ascending, each after what it depends on (Kahn's algorithm, stable). */
static int order(plumb_applications *apps, plumb_diags *diags)
{
	size_t n = apps->count;
	int error = 0;
	size_t *missing = plumb_xcalloc(n ? n : 1, sizeof(*missing)); /* dependencies not yet placed */
	char *placed = plumb_xcalloc(n ? n : 1, 1);
	plumb_application *sorted = plumb_xcalloc(n ? n : 1, sizeof(*sorted));

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < i; j++)
			if (!strcmp(apps->items[i].name, apps->items[j].name) &&
			    !same_declaration(&apps->items[i], &apps->items[j])) {
				plumb_diags_add(diags, apps->items[i].position,
						"two Applications are called '%s' (the other is at %s:%u:%u)",
						apps->items[i].name, apps->items[j].position.file,
						apps->items[j].position.line, apps->items[j].position.column);
				error = PLUMB_EINVALID;
			}
		for (size_t k = 0; k < apps->items[i].depends_on_count; k++) {
			const char *dependency = apps->items[i].depends_on[k];
			if (!plumb_applications_find(apps, dependency)) {
				plumb_diags_add(diags, apps->items[i].position,
						"Application '%s' depends on '%s', which no Application is called",
						apps->items[i].name, dependency);
				error = PLUMB_EINVALID;
			}
			missing[i]++;
		}
	}
	if (error < 0)
		goto done;
	for (size_t placed_count = 0; placed_count < n; placed_count++) {
		size_t best = n;
		for (size_t i = 0; i < n; i++)
			if (!placed[i] && !missing[i] && (best == n || apps->items[i].wave < apps->items[best].wave))
				best = i;
		if (best == n) {
			report_cycle(apps, placed, diags);
			error = PLUMB_EINVALID;
			goto done;
		}
		placed[best] = 1;
		sorted[placed_count] = apps->items[best];
		for (size_t i = 0; i < n; i++)
			for (size_t k = 0; k < apps->items[i].depends_on_count; k++)
				if (!strcmp(apps->items[i].depends_on[k], apps->items[best].name))
					missing[i]--;
	}
	memcpy(apps->items, sorted, n * sizeof(*sorted));
done:
	free(missing);
	free(placed);
	free(sorted);
	return error;
}

int plumb_applications_discover(plumb_applications *out, plumb_source *source, const char *commit, const char *path,
				const char *implicit_name, const char *implicit_namespace, int implicit_kubernetes,
				const plumb_discover_names *names, plumb_diags *diags)
{
	discovery d;
	memset(&d, 0, sizeof(d));
	d.source = source;
	d.commit = commit;
	d.diags = diags;
	d.out = out;
	d.implicit_kubernetes = implicit_kubernetes;
	d.implicit_namespace = implicit_namespace;
	d.names = names;
	int error = expand(&d, path ? path : "", NULL, implicit_name);
	if (error == 0) {
		drop_repeats(out);
		error = order(out, diags);
	}
	return error;
}

const plumb_application *plumb_applications_find(const plumb_applications *applications, const char *name)
{
	for (size_t i = 0; i < applications->count; i++)
		if (!strcmp(applications->items[i].name, name))
			return &applications->items[i];
	return NULL;
}

void plumb_applications_release(plumb_applications *applications)
{
	for (size_t i = 0; i < applications->count; i++)
		plumb_application_release(&applications->items[i]);
	free(applications->items);
	memset(applications, 0, sizeof(*applications));
}
