#include "util/common.h"
#include "util/clock.h"
#include "providers/kubernetes/wait.h"
#include "providers/kubernetes/destination.h"
#include "providers/kubernetes/observe.h"
#include "util/duration.h"

#include <errno.h>
#include <time.h>

char *plumb_kube_wave_name(const plumb_kube_order *order)
{
	if (!order->after_definitions)
		return plumb_xstrdup("the wave of Namespaces and CustomResourceDefinitions");
	return plumb_xprintf("wave %lld", order->wave);
}

char *plumb_kube_wave_of(const plumb_object *object)
{
	return plumb_kube_wave_name(&((const plumb_kube_desired *)object->desired)->order);
}

plumb_kube_health plumb_kube_wave_state(plumb_buf *out, const plumb_kube_waited *objects, size_t count)
{
	plumb_kube_health state = PLUMB_KUBE_HEALTHY;
	size_t empty = out->len;
	for (size_t i = 0; i < count; i++) {
		const plumb_kube_waited *o = &objects[i];
		if (o->health == PLUMB_KUBE_HEALTHY)
			continue;
		if (state != PLUMB_KUBE_DEGRADED)
			state = o->health == PLUMB_KUBE_DEGRADED ? PLUMB_KUBE_DEGRADED : PLUMB_KUBE_PROGRESSING;
		plumb_buf_printf(out, "%s%s is %s", out->len > empty ? "; " : "", o->display,
				 plumb_kube_health_name(o->health));
		if (o->message && *o->message)
			plumb_buf_printf(out, " (%s)", o->message);
	}
	return state;
}

unsigned plumb_kube_wait_interval(unsigned attempt)
{
	return attempt >= 3 ? 2000 : 250u << attempt;
}

/* --- waiting ------------------------------------------------------------------------------ */

/* One object of a wait: where it is, and how it was last read. */
typedef struct {
	char *path; /* NULL when its kind is not served (then it is Missing) */
	char *display;
	plumb_kube_health health;
	char *message;
} waited_object;

static void sleep_ms(long long ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * o's health as a destination kept open knows it from its watches (live.h),
 * without a request: 1 when it does.
 */
static int look_watched(plumb_destination *dest, waited_object *o)
{
	plumb_kube_summary summary;
	const char *name;
	int filtered;
	if (!dest->watches)
		return 0;
	char *collection = plumb_kube_collection_of(o->path, &name);
	plumb_kube_live_state state = plumb_kube_live_lookup(&summary, &filtered, dest->live, collection, name);
	free(collection);
	if (state != PLUMB_KUBE_LIVE_PRESENT)
		return 0; /* not seen yet, or gone: read it */
	o->health = summary.health;
	o->message = summary.health_message;
	summary.health_message = NULL;
	plumb_kube_summary_release(&summary);
	return 1;
}

/* Read o's live object and assess it (health.h); Missing when there is none. */
static int look(plumb_destination *dest, waited_object *o)
{
	json_t *live = NULL;
	int error = 0;

	free(o->message);
	o->message = NULL;
	o->health = PLUMB_KUBE_MISSING;
	if (o->path && look_watched(dest, o))
		return 0;
	if (o->path && (error = plumb_kube_get_object(&live, dest, o->path, o->display)) == 0 && live)
		o->health = plumb_kube_health_of(live, &o->message);
	plumb_kube_json_free(live);
	return error;
}

/* Where the object is: its path and how it is named. */
static int place(waited_object *o, plumb_destination *dest, const plumb_object *object)
{
	const plumb_kube_desired *d = object->desired;
	plumb_kube_place at;
	int error = plumb_kube_locate(&at, dest, d);
	if (error < 0)
		return plumb_error_wrap(error, "%s %s", object->kind, object->display);
	o->display = plumb_kube_display(d->kind, at.namespace, d->name);
	if (at.resource)
		o->path = plumb_kube_resource_path(at.resource, at.namespace, d->name);
	o->health = PLUMB_KUBE_UNKNOWN;
	return 0;
}

/* Where the wave stands; its objects not healthy go to out. */
static plumb_kube_health wave_state(plumb_buf *out, const waited_object *objects, size_t count)
{
	plumb_kube_waited *states = plumb_xcalloc(count ? count : 1, sizeof(*states));
	for (size_t i = 0; i < count; i++)
		states[i] = (plumb_kube_waited){ objects[i].display, objects[i].health, objects[i].message };
	plumb_kube_health state = plumb_kube_wave_state(out, states, count);
	free(states);
	return state;
}

int plumb_kube_wait_healthy(plumb_destination *dest, const plumb_object *const *objects, size_t count,
			    unsigned timeout_ms)
{
	waited_object *waited = plumb_xcalloc(count ? count : 1, sizeof(*waited));
	plumb_buf unhealthy = PLUMB_BUF_INIT;
	long long deadline = plumb_monotonic_ms() + timeout_ms;
	int error = 0;

	for (size_t i = 0; i < count && error == 0; i++)
		error = place(&waited[i], dest, objects[i]);
	for (unsigned attempt = 0; error == 0; attempt++) {
		/* What was found healthy stays so for this wait, as Argo CD counts a wave's objects done. */
		for (size_t i = 0; i < count && error == 0; i++) {
			if (waited[i].health != PLUMB_KUBE_HEALTHY)
				error = look(dest, &waited[i]);
		}
		if (error < 0)
			break;
		plumb_buf_clear(&unhealthy);
		plumb_kube_health state = wave_state(&unhealthy, waited, count);
		if (state == PLUMB_KUBE_HEALTHY)
			break;
		if (state == PLUMB_KUBE_DEGRADED) {
			error = plumb_error_set(PLUMB_ERROR, "%s", unhealthy.ptr);
			break;
		}
		long long left = deadline - plumb_monotonic_ms();
		if (left <= 0) {
			char limit[32];
			plumb_duration_format(limit, timeout_ms);
			error = plumb_error_set(PLUMB_ERROR, "after %s, %s", limit, unhealthy.ptr);
			break;
		}
		long long interval = plumb_kube_wait_interval(attempt);
		sleep_ms(interval < left ? interval : left);
	}
	for (size_t i = 0; i < count; i++) {
		free(waited[i].path);
		free(waited[i].display);
		free(waited[i].message);
	}
	free(waited);
	plumb_buf_release(&unhealthy);
	return error;
}
