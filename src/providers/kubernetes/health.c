#include "util/common.h"
#include "providers/kubernetes/health.h"
#include "util/buf.h"

#include <stdarg.h>

static const char *const health_names[] = { "Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown" };

const char *plumb_kube_health_name(plumb_kube_health health)
{
	return (size_t)health < PLUMB_ARRAY_SIZE(health_names) ? health_names[health] : "Unknown";
}

plumb_kube_health plumb_kube_health_worst(plumb_kube_health a, plumb_kube_health b)
{
	return a > b ? a : b;
}

/* --- reading the object ------------------------------------------------------------------ */

/* object[a][b] (b may be NULL), or NULL when any step is missing. */
static const json_t *field(const json_t *object, const char *a, const char *b)
{
	const json_t *value = json_object_get(object, a);
	return b ? json_object_get(value, b) : value;
}

static const char *text(const json_t *object, const char *a, const char *b)
{
	return json_string_value(field(object, a, b));
}

/* A whole number at object[a][b], or fallback when it is missing or not a number. */
static long long number(const json_t *object, const char *a, const char *b, long long fallback)
{
	const json_t *value = field(object, a, b);
	return json_is_integer(value) ? (long long)json_integer_value(value) : fallback;
}

static int is_true(const json_t *object, const char *a, const char *b)
{
	return json_is_true(field(object, a, b));
}

/* The status condition of type, or NULL. */
static const json_t *condition(const json_t *object, const char *type)
{
	const json_t *conditions = field(object, "status", "conditions");
	size_t i;
	const json_t *c;
	json_array_foreach(conditions, i, c) {
		const char *t = text(c, "type", NULL);
		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

/* Whether the condition of type has status ("True", "False", "Unknown"). */
static int condition_is(const json_t *object, const char *type, const char *status)
{
	const char *s = text(condition(object, type), "status", NULL);
	return s && !strcmp(s, status);
}

/* The condition's message, else its reason, else fallback. */
static const char *condition_says(const json_t *object, const char *type, const char *fallback)
{
	const json_t *c = condition(object, type);
	const char *message = text(c, "message", NULL);
	if (message && *message)
		return message;
	const char *reason = text(c, "reason", NULL);
	return reason && *reason ? reason : fallback;
}

/* The controller has not yet seen the latest spec. */
static int generation_behind(const json_t *object)
{
	long long generation = number(object, "metadata", "generation", 0);
	long long observed = number(object, "status", "observedGeneration", -1);
	return observed >= 0 && observed < generation;
}

/* The API group of the object's apiVersion: "apps" for "apps/v1", "" for "v1". */
static int in_group(const json_t *object, const char *group)
{
	const char *api_version = text(object, "apiVersion", NULL);
	if (!api_version)
		return 0;
	const char *slash = strchr(api_version, '/');
	size_t len = slash ? (size_t)(slash - api_version) : 0;
	return strlen(group) == len && !strncmp(api_version, group, len);
}

static int is_kind(const json_t *object, const char *group, const char *kind)
{
	const char *k = text(object, "kind", NULL);
	return k && !strcmp(k, kind) && in_group(object, group);
}

/* Set *message (printf-style) and return health. */
static plumb_kube_health say(char **message, plumb_kube_health health, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static plumb_kube_health say(char **message, plumb_kube_health health, const char *fmt, ...)
{
	plumb_buf out = PLUMB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	plumb_buf_vprintf(&out, fmt, ap);
	va_end(ap);
	free(*message);
	*message = plumb_buf_detach(&out, NULL);
	return health;
}

/* --- the kinds' own rules ------------------------------------------------------------------ */

static plumb_kube_health deployment(const json_t *d, char **message)
{
	long long wanted = number(d, "spec", "replicas", 1);
	long long updated = number(d, "status", "updatedReplicas", 0);
	long long replicas = number(d, "status", "replicas", 0);
	long long available = number(d, "status", "availableReplicas", 0);

	if (is_true(d, "spec", "paused"))
		return say(message, PLUMB_KUBE_SUSPENDED, "the rollout is paused");
	if (generation_behind(d))
		return say(message, PLUMB_KUBE_PROGRESSING, "waiting for the rollout to be observed");
	const char *reason = text(condition(d, "Progressing"), "reason", NULL);
	if (reason && !strcmp(reason, "ProgressDeadlineExceeded"))
		return say(message, PLUMB_KUBE_DEGRADED, "the rollout exceeded its progress deadline");
	if (updated < wanted)
		return say(message, PLUMB_KUBE_PROGRESSING, "%lld of %lld replicas are updated", updated, wanted);
	if (replicas > updated)
		return say(message, PLUMB_KUBE_PROGRESSING, "%lld old replicas are pending termination",
			   replicas - updated);
	if (available < updated)
		return say(message, PLUMB_KUBE_PROGRESSING, "%lld of %lld updated replicas are available", available,
			   updated);
	return PLUMB_KUBE_HEALTHY;
}

static int on_delete(const json_t *object)
{
	const char *strategy = text(field(object, "spec", "updateStrategy"), "type", NULL);
	return strategy && !strcmp(strategy, "OnDelete");
}

static plumb_kube_health stateful_set(const json_t *s, char **message)
{
	long long wanted = number(s, "spec", "replicas", 1);
	long long ready = number(s, "status", "readyReplicas", 0);
	long long updated = number(s, "status", "updatedReplicas", 0);
	long long partition = number(field(s, "spec", "updateStrategy"), "rollingUpdate", "partition", 0);
	const char *current = text(s, "status", "currentRevision");
	const char *update = text(s, "status", "updateRevision");

	if (generation_behind(s))
		return say(message, PLUMB_KUBE_PROGRESSING, "waiting for the update to be observed");
	if (on_delete(s))
		return PLUMB_KUBE_HEALTHY; /* pods are replaced only when someone deletes them */
	if (ready < wanted)
		return say(message, PLUMB_KUBE_PROGRESSING, "%lld of %lld pods are ready", ready, wanted);
	if (partition > 0) {
		if (updated < wanted - partition)
			return say(message, PLUMB_KUBE_PROGRESSING, "%lld of %lld pods beyond the partition are updated",
				   updated, wanted - partition);
		return PLUMB_KUBE_HEALTHY;
	}
	if (current && update && strcmp(current, update) != 0)
		return say(message, PLUMB_KUBE_PROGRESSING, "waiting for the pods of revision %s", update);
	return PLUMB_KUBE_HEALTHY;
}

static plumb_kube_health daemon_set(const json_t *s, char **message)
{
	long long desired = number(s, "status", "desiredNumberScheduled", 0);
	long long updated = number(s, "status", "updatedNumberScheduled", 0);
	long long available = number(s, "status", "numberAvailable", 0);

	if (generation_behind(s))
		return say(message, PLUMB_KUBE_PROGRESSING, "waiting for the rollout to be observed");
	if (on_delete(s))
		return PLUMB_KUBE_HEALTHY;
	if (updated < desired)
		return say(message, PLUMB_KUBE_PROGRESSING, "%lld of %lld pods are updated", updated, desired);
	if (available < desired)
		return say(message, PLUMB_KUBE_PROGRESSING, "%lld of %lld updated pods are available", available,
			   desired);
	return PLUMB_KUBE_HEALTHY;
}

static plumb_kube_health replica_set(const json_t *r, char **message)
{
	long long wanted = number(r, "spec", "replicas", 1);
	long long available = number(r, "status", "availableReplicas", 0);

	if (generation_behind(r))
		return say(message, PLUMB_KUBE_PROGRESSING, "waiting for the change to be observed");
	if (condition_is(r, "ReplicaFailure", "True"))
		return say(message, PLUMB_KUBE_DEGRADED, "%s", condition_says(r, "ReplicaFailure", "replica failure"));
	if (available < wanted)
		return say(message, PLUMB_KUBE_PROGRESSING, "%lld of %lld replicas are available", available, wanted);
	return PLUMB_KUBE_HEALTHY;
}

/* A container that waits for a reason that will not pass by itself (CrashLoopBackOff, ErrImagePull). */
static const char *stuck_container(const json_t *pod)
{
	static const char *const lists[] = { "initContainerStatuses", "containerStatuses" };
	for (size_t l = 0; l < PLUMB_ARRAY_SIZE(lists); l++) {
		size_t i;
		const json_t *c;
		json_array_foreach(field(pod, "status", lists[l]), i, c) {
			const char *reason = text(field(c, "state", "waiting"), "reason", NULL);
			size_t len = reason ? strlen(reason) : 0;
			if (reason && ((len >= 7 && !strcmp(reason + len - 7, "BackOff")) || !strncmp(reason, "Err", 3)))
				return reason;
		}
	}
	return NULL;
}

static int containers_ready(const json_t *pod)
{
	const json_t *statuses = field(pod, "status", "containerStatuses");
	size_t i;
	const json_t *c;
	if (!json_array_size(statuses))
		return 0;
	json_array_foreach(statuses, i, c) {
		if (!is_true(c, "ready", NULL))
			return 0;
	}
	return 1;
}

static plumb_kube_health pod(const json_t *p, char **message)
{
	const char *phase = text(p, "status", "phase");
	const char *stuck = stuck_container(p);

	if (phase && !strcmp(phase, "Succeeded"))
		return PLUMB_KUBE_HEALTHY;
	if (phase && !strcmp(phase, "Failed"))
		return say(message, PLUMB_KUBE_DEGRADED, "%s", text(p, "status", "message") ? text(p, "status", "message")
											 : "the pod failed");
	if (stuck)
		return say(message, PLUMB_KUBE_DEGRADED, "a container waits: %s", stuck);
	if (phase && !strcmp(phase, "Running"))
		return containers_ready(p) ? PLUMB_KUBE_HEALTHY
					   : say(message, PLUMB_KUBE_PROGRESSING, "not every container is ready");
	if (phase && !strcmp(phase, "Unknown"))
		return say(message, PLUMB_KUBE_UNKNOWN, "the pod's node does not report it");
	return say(message, PLUMB_KUBE_PROGRESSING, "the pod is pending");
}

static plumb_kube_health job(const json_t *j, char **message)
{
	if (condition_is(j, "Failed", "True"))
		return say(message, PLUMB_KUBE_DEGRADED, "%s", condition_says(j, "Failed", "the job failed"));
	if (condition_is(j, "Complete", "True"))
		return PLUMB_KUBE_HEALTHY;
	if (is_true(j, "spec", "suspend"))
		return say(message, PLUMB_KUBE_SUSPENDED, "the job is suspended");
	return say(message, PLUMB_KUBE_PROGRESSING, "the job is running");
}

static plumb_kube_health claim(const json_t *c, char **message)
{
	const char *phase = text(c, "status", "phase");
	if (phase && !strcmp(phase, "Bound"))
		return PLUMB_KUBE_HEALTHY;
	if (phase && !strcmp(phase, "Lost"))
		return say(message, PLUMB_KUBE_DEGRADED, "the claim lost its volume");
	return say(message, PLUMB_KUBE_PROGRESSING, "the claim is not bound yet");
}

static int has_load_balancer(const json_t *object)
{
	return json_array_size(field(field(object, "status", "loadBalancer"), "ingress", NULL)) > 0;
}

static plumb_kube_health load_balanced(const json_t *object, char **message)
{
	return has_load_balancer(object) ? PLUMB_KUBE_HEALTHY
					 : say(message, PLUMB_KUBE_PROGRESSING, "waiting for a load balancer address");
}

static plumb_kube_health custom_resource_definition(const json_t *c, char **message)
{
	if (condition_is(c, "NonStructuralSchema", "True"))
		return say(message, PLUMB_KUBE_DEGRADED, "%s",
			   condition_says(c, "NonStructuralSchema", "the schema is not structural"));
	if (condition_is(c, "NamesAccepted", "False"))
		return say(message, PLUMB_KUBE_DEGRADED, "%s", condition_says(c, "NamesAccepted", "names not accepted"));
	if (condition_is(c, "Established", "True"))
		return PLUMB_KUBE_HEALTHY;
	return say(message, PLUMB_KUBE_PROGRESSING, "waiting for the definition to be established");
}

static plumb_kube_health api_service(const json_t *a, char **message)
{
	if (condition_is(a, "Available", "True"))
		return PLUMB_KUBE_HEALTHY;
	if (condition_is(a, "Available", "False"))
		return say(message, PLUMB_KUBE_DEGRADED, "%s", condition_says(a, "Available", "not available"));
	return say(message, PLUMB_KUBE_PROGRESSING, "waiting for the service to be available");
}

/* Any other kind: what its status says in the conventions most controllers follow. */
static plumb_kube_health by_conditions(const json_t *object, char **message)
{
	if (generation_behind(object))
		return say(message, PLUMB_KUBE_PROGRESSING, "waiting for the change to be observed");
	if (condition_is(object, "Stalled", "True"))
		return say(message, PLUMB_KUBE_DEGRADED, "%s", condition_says(object, "Stalled", "stalled"));
	if (condition_is(object, "Reconciling", "True"))
		return say(message, PLUMB_KUBE_PROGRESSING, "%s", condition_says(object, "Reconciling", "reconciling"));
	const char *type = condition(object, "Ready") ? "Ready" : condition(object, "Available") ? "Available" : NULL;
	if (!type || condition_is(object, type, "True"))
		return PLUMB_KUBE_HEALTHY;
	if (condition_is(object, type, "False"))
		return say(message, PLUMB_KUBE_DEGRADED, "%s", condition_says(object, type, "not ready"));
	return say(message, PLUMB_KUBE_PROGRESSING, "%s", condition_says(object, type, "not ready yet"));
}

plumb_kube_health plumb_kube_health_of(const json_t *object, char **message)
{
	*message = NULL;
	if (!json_is_object(object))
		return PLUMB_KUBE_UNKNOWN;
	if (field(object, "metadata", "deletionTimestamp"))
		return say(message, PLUMB_KUBE_PROGRESSING, "being deleted");
	if (is_kind(object, "apps", "Deployment"))
		return deployment(object, message);
	if (is_kind(object, "apps", "StatefulSet"))
		return stateful_set(object, message);
	if (is_kind(object, "apps", "DaemonSet"))
		return daemon_set(object, message);
	if (is_kind(object, "apps", "ReplicaSet"))
		return replica_set(object, message);
	if (is_kind(object, "", "Pod"))
		return pod(object, message);
	if (is_kind(object, "batch", "Job"))
		return job(object, message);
	if (is_kind(object, "", "PersistentVolumeClaim"))
		return claim(object, message);
	if (is_kind(object, "", "Service")) {
		const char *type = text(object, "spec", "type");
		return type && !strcmp(type, "LoadBalancer") ? load_balanced(object, message) : PLUMB_KUBE_HEALTHY;
	}
	if (is_kind(object, "networking.k8s.io", "Ingress"))
		return load_balanced(object, message);
	if (is_kind(object, "apiextensions.k8s.io", "CustomResourceDefinition"))
		return custom_resource_definition(object, message);
	if (is_kind(object, "apiregistration.k8s.io", "APIService"))
		return api_service(object, message);
	return by_conditions(object, message);
}
