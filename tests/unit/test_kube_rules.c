/*
 * Unit tests of the kubernetes provider's rules: the health of an object, the order a sync applies objects in,
 * and its waves.
 */
#include "util/common.h"
#include "providers/kubernetes/health.h"
#include "providers/kubernetes/order.h"
#include "providers/kubernetes/provider.h"
#include "providers/kubernetes/wait.h"
#include "util/buf.h"
#include "test.h"

#include <jansson.h>

/* The health of the object in json (which must parse); *message freed, its text compared when want_message. */
static plumb_kube_health health(const char *json, const char *want_message)
{
	json_error_t error;
	json_t *object = json_loads(json, 0, &error);
	char *message = NULL;
	if (!object) {
		fprintf(stderr, "  bad fixture: %s: %s\n", error.text, json);
		test_failed = 1;
		return PLUMB_KUBE_UNKNOWN;
	}
	plumb_kube_health h = plumb_kube_health_of(object, &message);
	if (want_message)
		CHECK_STR(message, want_message);
	free(message);
	json_decref(object);
	return h;
}

#define DEPLOYMENT(spec, status)                                                                                  \
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\",\"generation\":2}," \
	"\"spec\":{" spec "},\"status\":{" status "}}"

static void test_deployment(void)
{
	CHECK_INT(health(DEPLOYMENT("\"replicas\":3", "\"observedGeneration\":2,\"replicas\":3,\"updatedReplicas\":3,"
						     "\"availableReplicas\":3"),
			 NULL),
		  PLUMB_KUBE_HEALTHY);
	CHECK_INT(health(DEPLOYMENT("\"replicas\":3", "\"observedGeneration\":1,\"replicas\":3,\"updatedReplicas\":3,"
						     "\"availableReplicas\":3"),
			 "waiting for the rollout to be observed"),
		  PLUMB_KUBE_PROGRESSING);
	CHECK_INT(health(DEPLOYMENT("\"replicas\":3", "\"observedGeneration\":2,\"replicas\":3,\"updatedReplicas\":3,"
						     "\"availableReplicas\":1"),
			 "1 of 3 updated replicas are available"),
		  PLUMB_KUBE_PROGRESSING);
	CHECK_INT(health(DEPLOYMENT("\"replicas\":3", "\"observedGeneration\":2,\"replicas\":4,\"updatedReplicas\":3,"
						     "\"availableReplicas\":3"),
			 "1 old replicas are pending termination"),
		  PLUMB_KUBE_PROGRESSING);
	CHECK_INT(health(DEPLOYMENT("\"replicas\":3", "\"observedGeneration\":2,\"updatedReplicas\":1,"
						     "\"conditions\":[{\"type\":\"Progressing\",\"status\":\"False\","
						     "\"reason\":\"ProgressDeadlineExceeded\"}]"),
			 "the rollout exceeded its progress deadline"),
		  PLUMB_KUBE_DEGRADED);
	CHECK_INT(health(DEPLOYMENT("\"replicas\":3,\"paused\":true", "\"observedGeneration\":2"), "the rollout is paused"),
		  PLUMB_KUBE_SUSPENDED);
	/* Without spec.replicas the server's default, 1, is what is wanted. */
	CHECK_INT(health(DEPLOYMENT("", "\"observedGeneration\":2"), "0 of 1 replicas are updated"), PLUMB_KUBE_PROGRESSING);
	/* Being deleted comes first, whatever else the status says. */
	CHECK_INT(health("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\","
			 "\"deletionTimestamp\":\"2026-12-07T00:00:00Z\"},\"spec\":{\"replicas\":0}}",
			 "being deleted"),
		  PLUMB_KUBE_PROGRESSING);
}

static void test_stateful_and_daemon_sets(void)
{
	const char *ready = "{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"generation\":1},"
			    "\"spec\":{\"replicas\":2},\"status\":{\"observedGeneration\":1,\"readyReplicas\":2,"
			    "\"updatedReplicas\":2,\"currentRevision\":\"r1\",\"updateRevision\":\"r1\"}}";
	CHECK_INT(health(ready, NULL), PLUMB_KUBE_HEALTHY);
	CHECK_INT(health("{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"metadata\":{\"generation\":1},"
			 "\"spec\":{\"replicas\":2},\"status\":{\"observedGeneration\":1,\"readyReplicas\":2,"
			 "\"currentRevision\":\"r1\",\"updateRevision\":\"r2\"}}",
			 "waiting for the pods of revision r2"),
		  PLUMB_KUBE_PROGRESSING);
	CHECK_INT(health("{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"spec\":{\"replicas\":3,"
			 "\"updateStrategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":{\"partition\":2}}},"
			 "\"status\":{\"readyReplicas\":3,\"updatedReplicas\":1}}",
			 NULL),
		  PLUMB_KUBE_HEALTHY);
	CHECK_INT(health("{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"spec\":{\"replicas\":3,"
			 "\"updateStrategy\":{\"type\":\"OnDelete\"}},\"status\":{\"readyReplicas\":3}}",
			 NULL),
		  PLUMB_KUBE_HEALTHY);
	CHECK_INT(health("{\"apiVersion\":\"apps/v1\",\"kind\":\"StatefulSet\",\"spec\":{\"replicas\":3},"
			 "\"status\":{\"readyReplicas\":1}}",
			 "1 of 3 pods are ready"),
		  PLUMB_KUBE_PROGRESSING);
	CHECK_INT(health("{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"status\":{\"desiredNumberScheduled\":4,"
			 "\"updatedNumberScheduled\":4,\"numberAvailable\":3}}",
			 "3 of 4 updated pods are available"),
		  PLUMB_KUBE_PROGRESSING);
	CHECK_INT(health("{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"status\":{\"desiredNumberScheduled\":4,"
			 "\"updatedNumberScheduled\":4,\"numberAvailable\":4}}",
			 NULL),
		  PLUMB_KUBE_HEALTHY);
	CHECK_INT(health("{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"spec\":{\"replicas\":2},"
			 "\"status\":{\"conditions\":[{\"type\":\"ReplicaFailure\",\"status\":\"True\","
			 "\"message\":\"pods \\\"web-1\\\" is forbidden: exceeded quota\"}]}}",
			 "pods \"web-1\" is forbidden: exceeded quota"),
		  PLUMB_KUBE_DEGRADED);
}

static void test_pods_and_jobs(void)
{
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"phase\":\"Running\","
			 "\"containerStatuses\":[{\"ready\":true},{\"ready\":true}]}}",
			 NULL),
		  PLUMB_KUBE_HEALTHY);
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"phase\":\"Running\","
			 "\"containerStatuses\":[{\"ready\":true},{\"ready\":false}]}}",
			 "not every container is ready"),
		  PLUMB_KUBE_PROGRESSING);
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"phase\":\"Running\","
			 "\"containerStatuses\":[{\"ready\":false,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}}]}}",
			 "a container waits: CrashLoopBackOff"),
		  PLUMB_KUBE_DEGRADED);
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"phase\":\"Pending\","
			 "\"initContainerStatuses\":[{\"state\":{\"waiting\":{\"reason\":\"ErrImagePull\"}}}]}}",
			 "a container waits: ErrImagePull"),
		  PLUMB_KUBE_DEGRADED);
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"phase\":\"Pending\"}}", "the pod is pending"),
		  PLUMB_KUBE_PROGRESSING);
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"phase\":\"Succeeded\"}}", NULL),
		  PLUMB_KUBE_HEALTHY);
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"status\":{\"phase\":\"Failed\",\"message\":\"OOMKilled\"}}",
			 "OOMKilled"),
		  PLUMB_KUBE_DEGRADED);
	CHECK_INT(health("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"status\":{\"conditions\":"
			 "[{\"type\":\"Complete\",\"status\":\"True\"}]}}",
			 NULL),
		  PLUMB_KUBE_HEALTHY);
	CHECK_INT(health("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"status\":{\"conditions\":[{\"type\":\"Failed\","
			 "\"status\":\"True\",\"reason\":\"BackoffLimitExceeded\"}]}}",
			 "BackoffLimitExceeded"),
		  PLUMB_KUBE_DEGRADED);
	CHECK_INT(health("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"spec\":{\"suspend\":true}}", "the job is suspended"),
		  PLUMB_KUBE_SUSPENDED);
	CHECK_INT(health("{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"status\":{\"active\":1}}", "the job is running"),
		  PLUMB_KUBE_PROGRESSING);
	/* A Job of another group is not a batch Job: conditions only. */
	CHECK_INT(health("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Job\",\"status\":{\"active\":1}}", NULL),
		  PLUMB_KUBE_HEALTHY);
}

static void test_claims_services_ingresses(void)
{
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"status\":{\"phase\":\"Bound\"}}", NULL),
		  PLUMB_KUBE_HEALTHY);
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"status\":{\"phase\":\"Pending\"}}",
			 "the claim is not bound yet"),
		  PLUMB_KUBE_PROGRESSING);
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"PersistentVolumeClaim\",\"status\":{\"phase\":\"Lost\"}}",
			 "the claim lost its volume"),
		  PLUMB_KUBE_DEGRADED);
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"spec\":{\"type\":\"ClusterIP\"}}", NULL),
		  PLUMB_KUBE_HEALTHY);
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"spec\":{\"type\":\"LoadBalancer\"},\"status\":{}}",
			 "waiting for a load balancer address"),
		  PLUMB_KUBE_PROGRESSING);
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"spec\":{\"type\":\"LoadBalancer\"},"
			 "\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.10\"}]}}}",
			 NULL),
		  PLUMB_KUBE_HEALTHY);
	CHECK_INT(health("{\"apiVersion\":\"networking.k8s.io/v1\",\"kind\":\"Ingress\",\"status\":{\"loadBalancer\":{}}}",
			 "waiting for a load balancer address"),
		  PLUMB_KUBE_PROGRESSING);
}

static void test_definitions_and_api_services(void)
{
	const char *crd = "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
			  "\"status\":{\"conditions\":[%s]}}";
	char json[512];
	snprintf(json, sizeof(json), crd,
		 "{\"type\":\"NamesAccepted\",\"status\":\"True\"},{\"type\":\"Established\",\"status\":\"True\"}");
	CHECK_INT(health(json, NULL), PLUMB_KUBE_HEALTHY);
	snprintf(json, sizeof(json), crd, "{\"type\":\"NamesAccepted\",\"status\":\"True\"}");
	CHECK_INT(health(json, "waiting for the definition to be established"), PLUMB_KUBE_PROGRESSING);
	snprintf(json, sizeof(json), crd,
		 "{\"type\":\"NamesAccepted\",\"status\":\"False\",\"message\":\"\\\"widgets\\\" is already in use\"}");
	CHECK_INT(health(json, "\"widgets\" is already in use"), PLUMB_KUBE_DEGRADED);
	snprintf(json, sizeof(json), crd,
		 "{\"type\":\"Established\",\"status\":\"True\"},{\"type\":\"NonStructuralSchema\",\"status\":\"True\"}");
	CHECK_INT(health(json, "the schema is not structural"), PLUMB_KUBE_DEGRADED);
	CHECK_INT(health("{\"apiVersion\":\"apiregistration.k8s.io/v1\",\"kind\":\"APIService\",\"status\":{\"conditions\":"
			 "[{\"type\":\"Available\",\"status\":\"False\",\"reason\":\"MissingEndpoints\"}]}}",
			 "MissingEndpoints"),
		  PLUMB_KUBE_DEGRADED);
	CHECK_INT(health("{\"apiVersion\":\"apiregistration.k8s.io/v1\",\"kind\":\"APIService\",\"status\":{\"conditions\":"
			 "[{\"type\":\"Available\",\"status\":\"True\"}]}}",
			 NULL),
		  PLUMB_KUBE_HEALTHY);
}

static void test_any_other_kind(void)
{
	/* Nothing to go by: it exists, so it is healthy. */
	CHECK_INT(health("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"data\":{\"a\":\"b\"}}", NULL), PLUMB_KUBE_HEALTHY);
	CHECK_INT(health("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"generation\":3},"
			 "\"status\":{\"observedGeneration\":2}}",
			 "waiting for the change to be observed"),
		  PLUMB_KUBE_PROGRESSING);
	CHECK_INT(health("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"status\":{\"conditions\":["
			 "{\"type\":\"Ready\",\"status\":\"False\",\"message\":\"certificate expired\"}]}}",
			 "certificate expired"),
		  PLUMB_KUBE_DEGRADED);
	CHECK_INT(health("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"status\":{\"conditions\":["
			 "{\"type\":\"Ready\",\"status\":\"Unknown\",\"reason\":\"Progressing\"}]}}",
			 "Progressing"),
		  PLUMB_KUBE_PROGRESSING);
	CHECK_INT(health("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"status\":{\"conditions\":["
			 "{\"type\":\"Ready\",\"status\":\"False\"},{\"type\":\"Reconciling\",\"status\":\"True\","
			 "\"message\":\"fetching the source\"}]}}",
			 "fetching the source"),
		  PLUMB_KUBE_PROGRESSING);
	CHECK_INT(health("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"status\":{\"conditions\":["
			 "{\"type\":\"Reconciling\",\"status\":\"True\"},{\"type\":\"Stalled\",\"status\":\"True\","
			 "\"message\":\"invalid spec\"}]}}",
			 "invalid spec"),
		  PLUMB_KUBE_DEGRADED);
	CHECK_INT(health("{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"status\":{\"conditions\":["
			 "{\"type\":\"Available\",\"status\":\"True\"}]}}",
			 NULL),
		  PLUMB_KUBE_HEALTHY);
	CHECK_INT(health("[1,2]", NULL), PLUMB_KUBE_UNKNOWN);
}

static void test_worst_and_names(void)
{
	CHECK_INT(plumb_kube_health_worst(PLUMB_KUBE_HEALTHY, PLUMB_KUBE_PROGRESSING), PLUMB_KUBE_PROGRESSING);
	CHECK_INT(plumb_kube_health_worst(PLUMB_KUBE_DEGRADED, PLUMB_KUBE_MISSING), PLUMB_KUBE_DEGRADED);
	CHECK_INT(plumb_kube_health_worst(PLUMB_KUBE_SUSPENDED, PLUMB_KUBE_HEALTHY), PLUMB_KUBE_SUSPENDED);
	CHECK_STR(plumb_kube_health_name(PLUMB_KUBE_HEALTHY), "Healthy");
	CHECK_STR(plumb_kube_health_name(PLUMB_KUBE_SUSPENDED), "Suspended");
	CHECK_STR(plumb_kube_health_name(PLUMB_KUBE_PROGRESSING), "Progressing");
	CHECK_STR(plumb_kube_health_name(PLUMB_KUBE_MISSING), "Missing");
	CHECK_STR(plumb_kube_health_name(PLUMB_KUBE_DEGRADED), "Degraded");
	CHECK_STR(plumb_kube_health_name(PLUMB_KUBE_UNKNOWN), "Unknown");
}

/* Objects as "KIND NAMESPACE/NAME [WAVE-ANNOTATION=VALUE]" lines, sorted as a sync applies them. */
static char *sorted(const char *const *objects, size_t count)
{
	json_t **docs = plumb_xcalloc(count, sizeof(*docs));
	plumb_kube_order *order = plumb_xcalloc(count, sizeof(*order));
	size_t *index = plumb_xcalloc(count, sizeof(*index));
	plumb_buf out = PLUMB_BUF_INIT;

	for (size_t i = 0; i < count; i++) {
		docs[i] = json_loads(objects[i], 0, NULL);
		CHECK(docs[i] != NULL);
		CHECK_INT(plumb_kube_order_of(&order[i], docs[i]), 0);
		index[i] = i;
	}
	/* Insertion sort through the comparison under test. */
	for (size_t i = 1; i < count; i++)
		for (size_t j = i; j > 0 && plumb_kube_order_compare(&order[index[j - 1]], &order[index[j]]) > 0; j--) {
			size_t t = index[j];
			index[j] = index[j - 1];
			index[j - 1] = t;
		}
	for (size_t i = 0; i < count; i++)
		plumb_buf_printf(&out, "%s%s/%s", i ? " " : "", order[index[i]].kind, order[index[i]].name);
	for (size_t i = 0; i < count; i++)
		json_decref(docs[i]);
	free(docs);
	free(order);
	free(index);
	return plumb_buf_detach(&out, NULL);
}

#define OBJECT(kind, name, annotations)                                                                             \
	"{\"apiVersion\":\"v1\",\"kind\":\"" kind "\",\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ns\"," \
	"\"annotations\":{" annotations "}}}"

static void test_order(void)
{
	const char *const objects[] = {
		OBJECT("Deployment", "web", ""),
		OBJECT("Widget", "w", ""),
		OBJECT("Service", "web", ""),
		OBJECT("ConfigMap", "late", "\"plumb.dev/sync-wave\":\"2\""),
		OBJECT("ConfigMap", "early", "\"argocd.argoproj.io/sync-wave\":\"-1\""),
		OBJECT("Job", "migrate", "\"plumb.dev/sync-wave\":\"1\",\"argocd.argoproj.io/sync-wave\":\"-5\""),
		OBJECT("CustomResourceDefinition", "widgets.example.com", "\"plumb.dev/sync-wave\":\"9\""),
		OBJECT("Namespace", "ns", "\"plumb.dev/sync-wave\":\"3\""),
		OBJECT("Secret", "db", ""),
		OBJECT("ConfigMap", "a", ""),
		OBJECT("Gadget", "g", ""),
	};
	char *got = sorted(objects, PLUMB_ARRAY_SIZE(objects));
	/*
	 * Namespaces and definitions first (in their waves, whatever the others'), then waves
	 * (plumb.dev's wins over Argo CD's), then Helm's kind order, custom kinds last by name.
	 */
	CHECK_STR(got, "Namespace/ns CustomResourceDefinition/widgets.example.com ConfigMap/early Secret/db ConfigMap/a "
		       "Service/web Deployment/web Gadget/g Widget/w Job/migrate ConfigMap/late");
	free(got);

	json_t *bad = json_loads(OBJECT("ConfigMap", "x", "\"argocd.argoproj.io/sync-wave\":\"soon\""), 0, NULL);
	plumb_kube_order order;
	CHECK_INT(plumb_kube_order_of(&order, bad), PLUMB_EINVALID);
	CHECK_STR(plumb_error_last(), "metadata.annotations.argocd.argoproj.io/sync-wave: \"soon\" is not a whole number");
	json_decref(bad);
	bad = json_loads(OBJECT("ConfigMap", "x", "\"plumb.dev/sync-wave\":\"1.5\""), 0, NULL);
	CHECK_INT(plumb_kube_order_of(&order, bad), PLUMB_EINVALID);
	json_decref(bad);
}

/* Prunes, known by their keys alone, go the other way of a sync: custom resources and workloads first. */
static void test_removal_order(void)
{
	const char *keys[] = {
		"/Namespace//shop",   "apiextensions.k8s.io/CustomResourceDefinition//widgets.x",
		"/ConfigMap/shop/conf", "x/Widget/shop/w",
		"apps/Deployment/shop/web", "/ConfigMap/shop/another",
	};
	size_t count = PLUMB_ARRAY_SIZE(keys);
	for (size_t i = 1; i < count; i++)
		for (size_t j = i; j > 0 && plumb_kubernetes_provider.order_removal(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	CHECK_STR(keys[0], "x/Widget/shop/w");
	CHECK_STR(keys[1], "apps/Deployment/shop/web");
	CHECK_STR(keys[2], "/ConfigMap/shop/conf");
	CHECK_STR(keys[3], "/ConfigMap/shop/another");
	CHECK_STR(keys[5], "/Namespace//shop");
}

/* The wave of the object in json, as people read it. */
static char *wave_of(const char *json)
{
	json_t *doc = json_loads(json, 0, NULL);
	plumb_kube_order order;
	CHECK(doc != NULL);
	CHECK_INT(plumb_kube_order_of(&order, doc), 0);
	char *name = plumb_kube_wave_name(&order);
	json_decref(doc);
	return name;
}

static void test_waves(void)
{
	static const struct {
		const char *json;
		const char *wave;
	} cases[] = {
		{ OBJECT("ConfigMap", "a", ""), "wave 0" },
		{ OBJECT("ConfigMap", "a", "\"argocd.argoproj.io/sync-wave\":\"-2\""), "wave -2" },
		{ OBJECT("Job", "a", "\"plumb.dev/sync-wave\":\"1\",\"argocd.argoproj.io/sync-wave\":\"5\""), "wave 1" },
		/* Whatever their annotations say, they are applied first, as a wave of their own. */
		{ OBJECT("Namespace", "ns", "\"plumb.dev/sync-wave\":\"3\""),
		  "the wave of Namespaces and CustomResourceDefinitions" },
		{ OBJECT("CustomResourceDefinition", "w.example.com", ""),
		  "the wave of Namespaces and CustomResourceDefinitions" },
	};
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(cases); i++) {
		char *wave = wave_of(cases[i].json);
		CHECK_STR(wave, cases[i].wave);
		free(wave);
	}
}

static void test_wave_state(void)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_kube_waited healthy[] = {
		{ "ConfigMap ns/a", PLUMB_KUBE_HEALTHY, NULL },
		{ "Deployment ns/db", PLUMB_KUBE_HEALTHY, NULL },
	};
	CHECK_INT(plumb_kube_wave_state(&out, healthy, 2), PLUMB_KUBE_HEALTHY);
	CHECK_STR(out.ptr, "");
	CHECK_INT(plumb_kube_wave_state(&out, NULL, 0), PLUMB_KUBE_HEALTHY);

	/* Waited for: each one not healthy is named with its health and why. */
	plumb_kube_waited waiting[] = {
		{ "ConfigMap ns/a", PLUMB_KUBE_HEALTHY, NULL },
		{ "Deployment ns/db", PLUMB_KUBE_PROGRESSING, "0 of 2 replicas are updated" },
		{ "Deployment ns/cache", PLUMB_KUBE_SUSPENDED, "the rollout is paused" },
		{ "Service ns/lb", PLUMB_KUBE_MISSING, NULL },
		{ "Widget ns/w", PLUMB_KUBE_UNKNOWN, "" },
	};
	CHECK_INT(plumb_kube_wave_state(&out, waiting, PLUMB_ARRAY_SIZE(waiting)), PLUMB_KUBE_PROGRESSING);
	CHECK_STR(out.ptr, "Deployment ns/db is Progressing (0 of 2 replicas are updated); Deployment ns/cache is "
			   "Suspended (the rollout is paused); Service ns/lb is Missing; Widget ns/w is Unknown");

	/* One degraded object ends the wait, whatever comes after it; the others are still named. */
	plumb_kube_waited degraded[] = {
		{ "Deployment ns/db", PLUMB_KUBE_PROGRESSING, "0 of 2 replicas are updated" },
		{ "Job ns/migrate", PLUMB_KUBE_DEGRADED, "BackoffLimitExceeded" },
		{ "Deployment ns/web", PLUMB_KUBE_UNKNOWN, NULL },
	};
	plumb_buf_clear(&out);
	plumb_buf_puts(&out, "before: ");
	CHECK_INT(plumb_kube_wave_state(&out, degraded, PLUMB_ARRAY_SIZE(degraded)), PLUMB_KUBE_DEGRADED);
	CHECK_STR(out.ptr, "before: Deployment ns/db is Progressing (0 of 2 replicas are updated); Job ns/migrate is "
			   "Degraded (BackoffLimitExceeded); Deployment ns/web is Unknown");
	plumb_buf_release(&out);

	/* Looked at quickly at first, then every two seconds. */
	CHECK_INT(plumb_kube_wait_interval(0), 250);
	CHECK_INT(plumb_kube_wait_interval(1), 500);
	CHECK_INT(plumb_kube_wait_interval(2), 1000);
	CHECK_INT(plumb_kube_wait_interval(3), 2000);
	CHECK_INT(plumb_kube_wait_interval(1000), 2000);
}

int main(void)
{
	RUN(test_deployment);
	RUN(test_stateful_and_daemon_sets);
	RUN(test_pods_and_jobs);
	RUN(test_claims_services_ingresses);
	RUN(test_definitions_and_api_services);
	RUN(test_any_other_kind);
	RUN(test_worst_and_names);
	RUN(test_order);
	RUN(test_removal_order);
	RUN(test_waves);
	RUN(test_wave_state);
	TEST_EXIT();
}
