#include "util/common.h"
#include "providers/kubernetes/dryrun.h"
#include "providers/kubernetes/body.h"
#include "providers/kubernetes/observe.h"

#include <stdlib.h>

json_t *plumb_kube_dry_run_take(plumb_destination *dest, const char *path, const char *hash)
{
	for (size_t i = 0; i < dest->dry_run_count; i++) {
		plumb_kube_dry_run *r = &dest->dry_runs[i];
		if (strcmp(r->path, path) != 0)
			continue;
		json_t *result = hash && !strcmp(r->hash, hash) ? r->result : NULL;
		if (!result)
			plumb_kube_json_free(r->result);
		free(r->path);
		free(r->hash);
		*r = dest->dry_runs[--dest->dry_run_count];
		return result;
	}
	return NULL;
}

/* One dry run to make ahead. */
typedef struct {
	char *path;
	char *hash;
	char *target;
	char *text;
} ahead;

/*
 * Whether compare will dry-run item, and what: *out filled. Not an object
 * that no dry run can be made of (a kind not served yet, a namespace the
 * apply makes), nor one the ignore rules touch (its body needs the live
 * object), nor one that carries the hash of the body it would get (as
 * plumb applied it, most likely: compare sees whether it is).
 */
static int needs_dry_run(ahead *out, plumb_destination *dest, const plumb_observation *item)
{
	const plumb_kube_desired *d = item->object->desired;
	const plumb_kube_seen *seen = item->observed.detail;
	plumb_kube_place place;
	int missing = 0;
	if (plumb_kube_locate(&place, dest, d) < 0) {
		plumb_error_clear();
		return 0;
	}
	plumb_kube_target target = plumb_kube_target_of(d, place.namespace);
	if (!place.resource || plumb_kube_ignore_matches(dest->ignore, &target))
		return 0;
	json_t *body = plumb_kube_apply_body(dest, d, place.namespace);
	const char *hash = plumb_kube_body_hash(body);
	int needed = hash && (!item->observed.exists || !seen || !seen->summary.applied ||
			      strcmp(seen->summary.applied, hash) != 0);
	/* Asked of the server (once a run) only for an object that needs a dry run. */
	if (needed && *place.namespace && !strcmp(place.namespace, dest->namespace) &&
	    (plumb_kube_namespace_missing(&missing, dest) < 0 || missing)) {
		plumb_error_clear();
		needed = 0;
	}
	if (needed) {
		out->path = plumb_kube_resource_path(place.resource, place.namespace, d->name);
		out->hash = plumb_xstrdup(hash);
		out->text = plumb_kube_json_text(body);
	}
	plumb_kube_json_free(body);
	return needed;
}

void plumb_kube_dry_run_ahead(plumb_destination *dest, const plumb_observation *items, size_t count)
{
	ahead *wanted = plumb_xcalloc(count ? count : 1, sizeof(*wanted));
	size_t n = 0;

	plumb_kube_dry_runs_clear(dest);
	for (size_t i = 0; i < count; i++)
		if (items[i].object && needs_dry_run(&wanted[n], dest, &items[i]))
			n++;
	/* One on its own gains nothing from going ahead. */
	if (n > 1) {
		plumb_kube_call *calls = plumb_xcalloc(n, sizeof(*calls));
		plumb_kube_answer *answers = plumb_xcalloc(n, sizeof(*answers));
		int *errors = plumb_xcalloc(n, sizeof(*errors));
		char **messages = plumb_xcalloc(n, sizeof(*messages));
		for (size_t k = 0; k < n; k++)
			calls[k] = plumb_kube_apply_call(&wanted[k].target, dest, wanted[k].path, wanted[k].text, 1);
		if (plumb_kube_send_all(dest->client, calls, answers, errors, messages, n) < 0)
			plumb_error_clear(); /* compare asks on its own */
		for (size_t k = 0; k < n; k++) {
			json_t *result = errors[k] < 0 ? NULL
							: json_loadb(answers[k].body.ptr, answers[k].body.len, 0, NULL);
			if (json_is_object(result)) {
				PLUMB_GROW(dest->dry_runs, dest->dry_run_count, dest->dry_run_capacity);
				dest->dry_runs[dest->dry_run_count++] = (plumb_kube_dry_run){ wanted[k].path, wanted[k].hash,
											      result };
				wanted[k].path = wanted[k].hash = NULL;
			} else {
				plumb_kube_json_free(result);
			}
			plumb_kube_answer_release(&answers[k]);
			free(messages[k]);
		}
		free(calls);
		free(answers);
		free(errors);
		free(messages);
	}
	for (size_t k = 0; k < n; k++) {
		free(wanted[k].path);
		free(wanted[k].hash);
		free(wanted[k].target);
		plumb_kube_text_free(wanted[k].text);
	}
	free(wanted);
}
