/*
 * A cluster as a destination: opened through the kubeconfig, described by
 * discovery, and where each declared object goes in it.
 */
#include "util/common.h"
#include "providers/kubernetes/destination.h"
#include "store/key.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <sys/random.h>
#include <unistd.h>

/* How long an apply waits for the server to serve a kind a definition it applied defines. */
#define DEFINITION_WAIT_TRIES 20
#define DEFINITION_WAIT_MS 250

_Static_assert(PLUMB_KUBE_HASH_KEY_SIZE == PLUMB_STATE_KEY_SIZE, "Secret values are hashed with the state's key");

/* The key Secret values are hashed with: the state directory's, or one of its own for a run without one. */
static int load_hash_key(unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE], const char *state_dir)
{
	if (state_dir)
		return plumb_state_key_load(key, state_dir);
	if (getrandom(key, PLUMB_KUBE_HASH_KEY_SIZE, 0) != PLUMB_KUBE_HASH_KEY_SIZE)
		return plumb_error_set(PLUMB_ERROR, "cannot get random bytes: %s", strerror(errno));
	return 0;
}

/* What a cluster is called: "kubernetes https://SERVER". A new string. */
static char *name_of(const plumb_kubeconfig *config)
{
	return plumb_xprintf("kubernetes %s", config->server);
}

int plumb_kube_open(plumb_destination **out, const plumb_destination_options *options)
{
	plumb_kubeconfig_options config_options = { .path = options->kubeconfig, .context = options->context,
						    .allow_exec = options->allow_exec };
	plumb_kubeconfig *config = NULL;
	plumb_destination *dest = plumb_xcalloc(1, sizeof(*dest));
	int error;

	*out = NULL;
	if ((error = plumb_kubeconfig_load(&config, &config_options)) < 0)
		goto fail;
	dest->name = name_of(config);
	dest->namespace = plumb_xstrdup(options->namespace     ? options->namespace
					: config->namespace ? config->namespace
							    : "default");
	dest->create_namespace = options->create_namespace;
	dest->force_conflicts = options->force_conflicts;
	dest->replace = options->replace;
	dest->namespaces = options->namespaces ? plumb_xstrdup(options->namespaces) : NULL;
	dest->namespaced_only = options->namespaced_only;
	dest->application = plumb_xstrdup(options->application ? options->application : "");
	dest->source = options->source;
	/* The client takes config, opened or not. */
	if ((error = plumb_kube_client_open(&dest->client, config, NULL)) < 0)
		goto fail;
	if ((error = plumb_kube_discover(&dest->discovery, dest->client, options->state_dir)) < 0)
		goto fail;
	if ((error = load_hash_key(dest->hash_key, options->state_dir)) < 0)
		goto fail;
	if ((error = plumb_kube_ignore_parse(&dest->ignore, options->ignore)) < 0)
		goto fail;
	dest->live = plumb_kube_live_new();
	if (options->watch)
		dest->watches = plumb_kube_watches_new(dest->live, &config_options, dest->hash_key, options->changed,
						       options->changed_payload);
	*out = dest;
	return 0;
fail:
	plumb_kube_close(dest);
	return error;
}

const char *plumb_kube_destination_name(plumb_destination *dest)
{
	return dest->name;
}

void plumb_kube_renew(plumb_destination *dest, const plumb_destination_options *options)
{
	dest->create_namespace = options->create_namespace;
	dest->force_conflicts = options->force_conflicts;
	dest->replace = options->replace;
	free(dest->namespaces);
	dest->namespaces = options->namespaces ? plumb_xstrdup(options->namespaces) : NULL;
	dest->namespaced_only = options->namespaced_only;
	/* The application's rules, as this run's revision says them (already checked when it was loaded). */
	plumb_kube_ignore_free(dest->ignore);
	if (plumb_kube_ignore_parse(&dest->ignore, options->ignore) < 0)
		plumb_error_clear();
	dest->source = options->source;
	/* A namespace may have come or gone since; what is watched is up to date. */
	dest->namespace_state = PLUMB_KUBE_NAMESPACE_UNKNOWN;
	dest->namespace_declared = 0;
	dest->discovery_asked = 0;
	for (size_t i = 0; i < dest->applied_count; i++) {
		free(dest->applied[i].key);
		plumb_kube_json_free(dest->applied[i].live);
	}
	dest->applied_count = 0;
}

int plumb_kube_name_destination(char **name, char **context, const plumb_destination_options *options)
{
	plumb_kubeconfig_options config_options = { .path = options->kubeconfig, .context = options->context,
						    .names_only = 1 };
	plumb_kubeconfig *config = NULL;
	int error = plumb_kubeconfig_load(&config, &config_options);
	*name = *context = NULL;
	if (error < 0)
		return error;
	*name = name_of(config);
	*context = plumb_xstrdup(config->context);
	plumb_kubeconfig_free(config);
	return 0;
}

void plumb_kube_dry_runs_clear(plumb_destination *dest)
{
	for (size_t i = 0; i < dest->dry_run_count; i++) {
		free(dest->dry_runs[i].path);
		free(dest->dry_runs[i].hash);
		plumb_kube_json_free(dest->dry_runs[i].result);
	}
	dest->dry_run_count = 0;
}

void plumb_kube_close(plumb_destination *dest)
{
	if (!dest)
		return;
	/* The watches first: they write into live. */
	plumb_kube_watches_free(dest->watches);
	plumb_kube_live_free(dest->live);
	plumb_kube_ignore_free(dest->ignore);
	plumb_kube_discovery_free(dest->discovery);
	plumb_kube_client_close(dest->client);
	for (size_t i = 0; i < dest->defined_count; i++) {
		free(dest->defined[i].group);
		free(dest->defined[i].kind);
	}
	free(dest->defined);
	for (size_t i = 0; i < dest->applied_count; i++) {
		free(dest->applied[i].key);
		plumb_kube_json_free(dest->applied[i].live);
	}
	free(dest->applied);
	plumb_kube_dry_runs_clear(dest);
	free(dest->dry_runs);
	free(dest->writes); /* empty: an apply's writes are committed or discarded before it ends */
	free(dest->namespace);
	free(dest->name);
	free(dest->application);
	free(dest->namespaces);
	explicit_bzero(dest->hash_key, sizeof(dest->hash_key));
	free(dest);
}

/* --- where objects are ------------------------------------------------------------------ */

const plumb_kube_resource *plumb_kube_find_kind(const plumb_destination *dest, const char *group, const char *kind)
{
	size_t count;
	const plumb_kube_resource *resources = plumb_kube_discovery_resources(dest->discovery, &count);
	const plumb_kube_resource *found = NULL;
	for (size_t i = 0; i < count; i++) {
		const plumb_kube_resource *r = &resources[i];
		if (!strcmp(r->group, group) && !strcmp(r->kind, kind) && (!found || (r->preferred && !found->preferred)))
			found = r;
	}
	return found;
}

static const plumb_kube_defined_kind *find_defined(const plumb_destination *dest, const char *group,
						   const char *kind)
{
	for (size_t i = 0; i < dest->defined_count; i++)
		if (!strcmp(dest->defined[i].group, group) && !strcmp(dest->defined[i].kind, kind))
			return &dest->defined[i];
	return NULL;
}

/* Remember the kind a definition of the sync defines, for its objects resolved after it. */
static void note_defined(plumb_destination *dest, const plumb_kube_desired *d)
{
	if (!d->defines_kind || find_defined(dest, d->defines_group, d->defines_kind))
		return;
	PLUMB_GROW(dest->defined, dest->defined_count, dest->defined_capacity);
	dest->defined[dest->defined_count++] = (plumb_kube_defined_kind){ plumb_xstrdup(d->defines_group),
									  plumb_xstrdup(d->defines_kind),
									  d->defines_namespaced };
}

int plumb_kube_namespace_missing(int *missing, plumb_destination *dest)
{
	if (dest->namespace_state == PLUMB_KUBE_NAMESPACE_UNKNOWN) {
		char *path = plumb_xprintf("/api/v1/namespaces/%s", dest->namespace);
		plumb_kube_answer answer = PLUMB_KUBE_ANSWER_INIT;
		plumb_kube_call call = { "GET", path, NULL, NULL, NULL, 0, NULL, NULL };
		int error = plumb_kube_send(&answer, dest->client, &call);
		long status = answer.status;
		plumb_kube_answer_release(&answer);
		free(path);
		*missing = 0;
		if (error < 0 && !status) /* no answer at all */
			return plumb_error_wrap(error, "namespace %s", dest->namespace);
		if (error < 0)
			plumb_error_clear();
		dest->namespace_state = status == 404 ? PLUMB_KUBE_NAMESPACE_MISSING : PLUMB_KUBE_NAMESPACE_EXISTS;
	}
	*missing = dest->namespace_state == PLUMB_KUBE_NAMESPACE_MISSING;
	return 0;
}

int plumb_kube_locate(plumb_kube_place *out, plumb_destination *dest, const plumb_kube_desired *d)
{
	const plumb_kube_resource *resource = NULL;
	memset(out, 0, sizeof(*out));
	note_defined(dest, d);
	int error = plumb_kube_discovery_find(&resource, dest->discovery, d->api_version, d->kind);
	if (error == 0) {
		out->resource = resource;
		out->namespaced = resource->namespaced;
	} else {
		const plumb_kube_defined_kind *defined = find_defined(dest, d->group, d->kind);
		if (!defined)
			return error;
		plumb_error_clear();
		out->namespaced = defined->namespaced;
	}
	if (!out->namespaced && *d->namespace)
		return plumb_error_set(PLUMB_EINVALID, "%s is cluster-scoped: metadata.namespace must not be set",
				       d->kind);
	out->namespace = !out->namespaced ? "" : *d->namespace ? d->namespace : dest->namespace;
	return 0;
}

int plumb_kube_locate_served(plumb_kube_place *out, plumb_destination *dest, const plumb_kube_desired *d)
{
	int error = plumb_kube_locate(out, dest, d);
	for (int tries = 0; error == 0 && !out->resource && tries < DEFINITION_WAIT_TRIES; tries++) {
		if (tries) {
			struct timespec pause = { 0, DEFINITION_WAIT_MS * 1000000L };
			nanosleep(&pause, NULL);
		}
		if ((error = plumb_kube_discovery_refresh(dest->discovery, dest->client)) < 0)
			return error;
		error = plumb_kube_locate(out, dest, d);
	}
	if (error == 0 && !out->resource)
		return plumb_error_set(PLUMB_ENOTFOUND, "%s does not serve %s %s yet", dest->name + strlen("kubernetes "),
				       d->api_version, d->kind);
	return error;
}

/* Whether the application may write to namespace (destination.kubernetes.namespaces). */
static int namespace_allowed(const plumb_destination *dest, const char *namespace)
{
	size_t length = strlen(namespace);
	for (const char *p = dest->namespaces; p && *p;) {
		size_t word = strcspn(p, ",");
		if (word == length && !strncmp(p, namespace, length))
			return 1;
		p += word + (p[word] == ',');
	}
	return !dest->namespaces;
}

int plumb_kube_resolve(char **key, char **display, plumb_destination *dest, const plumb_object *object,
		       plumb_diags *diags)
{
	const plumb_kube_desired *d = object->desired;
	plumb_kube_place place;
	*key = *display = NULL;
	int error = plumb_kube_locate(&place, dest, d);
	/*
	 * A destination kept open (plumb serve) read discovery when it opened:
	 * a kind installed since is asked for again, once a run.
	 */
	if (error == PLUMB_ENOTFOUND && dest->watches && !dest->discovery_asked) {
		dest->discovery_asked = 1;
		plumb_error_clear();
		if ((error = plumb_kube_discovery_refresh(dest->discovery, dest->client)) == 0)
			error = plumb_kube_locate(&place, dest, d);
	}
	if (!*d->group && !strcmp(d->kind, "Namespace") && !strcmp(d->name, dest->namespace))
		dest->namespace_declared = 1;
	if (error < 0) {
		plumb_diags_add(diags, object->position, "%s %s: %s", object->kind, object->display, plumb_error_last());
		plumb_error_clear();
		return PLUMB_EINVALID;
	}
	/* Where the application may write, as its destination says: checked before anything is observed. */
	if (!place.namespaced && dest->namespaced_only) {
		plumb_diags_add(diags, object->position,
				"%s %s is cluster-scoped; application %s may not write cluster-scoped objects "
				"(destination.kubernetes.clusterResources: false)",
				object->kind, object->display, dest->application);
		return PLUMB_EINVALID;
	}
	if (place.namespaced && !namespace_allowed(dest, place.namespace)) {
		plumb_diags_add(diags, object->position,
				"%s %s/%s: namespace %s is not one application %s may write to "
				"(destination.kubernetes.namespaces: %s)",
				object->kind, place.namespace, d->name, place.namespace, dest->application, dest->namespaces);
		return PLUMB_EINVALID;
	}
	if (!strcmp(place.namespace, d->namespace))
		return 0;
	*key = plumb_kube_key(d->group, d->kind, place.namespace, d->name);
	*display = plumb_kube_object_display(place.namespace, d->name);
	return 0;
}
