/*
 * object.h - a Kubernetes object as the kubernetes provider holds it: the
 * document git declares (expand), its identity (the key), and the body a
 * server-side apply sends.
 *
 * The key is "GROUP/KIND/NAMESPACE/NAME": GROUP "" for the core group,
 * NAMESPACE "" for a cluster-scoped object (or, before resolve, for one
 * that does not say). The version is not part of it: one object is served
 * in every version of its group. The display is "KIND NAMESPACE/NAME", or
 * "KIND NAME" without a namespace. (What plumb applies for it, labelled
 * and annotated, provider.c makes.)
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_OBJECT_H
#define PLUMB_PROVIDERS_KUBERNETES_OBJECT_H

#include <jansson.h>

#include "providers/kubernetes/order.h"
#include "providers/kubernetes/placeholder.h"
#include "resource/resource.h"
#include "resource/spec.h"
#include "source/source.h"
#include "util/buf.h"

/* A key of a v1 Secret's data whose value a plumb Secret gives (secretfrom.h). */
typedef struct {
	char *key;
	int bound; /* its value is in the document */
} plumb_kube_secret_key;

/*
 * What expand makes of a document: the object's desired (object->desired).
 * The document is kept as compact JSON text, parsed when it is sent or
 * shown (plumb_kube_document): a daemon keeps the desired objects of the
 * revision in force, and ten thousand parsed documents would cost ten
 * times the memory their text does.
 */
typedef struct {
	char *text;              /* the whole manifest (apiVersion, kind, metadata, spec, data, ...) as JSON */
	char *group;             /* of api_version; "" in the core group */
	char *api_version;
	char *kind;
	char *name;
	char *namespace;         /* metadata.namespace; "" when not given */
	int secret;              /* a v1 Secret: its values are shown nowhere */
	plumb_kube_secret_key *secret_keys; /* a v1 Secret's keys plumb Secrets give, as object->secrets */
	size_t secret_key_count;
	/*
	 * The placeholders of values of plumb Secrets in its fields
	 * (placeholder.h), object->secrets after the keys above; their values
	 * as read (wiped when it is freed), kept to mask them wherever the
	 * object is shown; the fields filled once every value is read.
	 */
	plumb_kube_placeholders placeholders;
	plumb_buf *placeholder_values;
	size_t placeholders_read;
	char *placeholder_problem; /* why they could not be filled, or NULL */
	/* A CustomResourceDefinition: the kind it defines, and where its objects live. */
	char *defines_group;
	char *defines_kind;
	int defines_namespaced;
	plumb_kube_order order;  /* where a sync applies it (order.h); its strings are kind, namespace and name */
	char blob[PLUMB_OID_HEXSZ + 1]; /* its manifest's, read again to place what the server refuses (refusal.h) */
} plumb_kube_desired;

/* One identity, split out of a key; the strings are a copy the struct owns (release). */
typedef struct {
	char *copy;
	const char *group;
	const char *kind;
	const char *namespace;
	const char *name;
} plumb_kube_identity;

/* d's document, parsed: a new reference (plumb_kube_json_free: a Secret's values are wiped). */
json_t *plumb_kube_document(const plumb_kube_desired *d);

/* The provider's expand hook: see provider.h. */
void plumb_kube_expand(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
		       plumb_diags *diags);

/* The provider's free_desired hook: a Secret's values are wiped first. */
void plumb_kube_free_desired(void *desired);

/*
 * The provider's bind_secret hook: the value of object->secrets[index]
 * into data, base64-encoded (secretfrom.h), or where its placeholders are
 * (placeholder.h), all of them at once when the last value is read.
 */
void plumb_kube_bind_secret(plumb_object *object, size_t index, const char *value, size_t length);

/*
 * 0 when every value object takes from a plumb Secret is bound;
 * PLUMB_ERROR naming the first that is not (it was not read: nothing of
 * the object may be sent without it).
 */
int plumb_kube_secret_values_bound(const plumb_object *object);

/* "GROUP/KIND/NAMESPACE/NAME" and "KIND NAMESPACE/NAME" (or "KIND NAME"): new strings. */
char *plumb_kube_key(const char *group, const char *kind, const char *namespace, const char *name);
char *plumb_kube_display(const char *kind, const char *namespace, const char *name);

/*
 * What the engine shows an object as, beside its kind: "NAMESPACE/NAME", or
 * "NAME" for a cluster-scoped one (the plan prints "+ ConfigMap shop/conf").
 * A new string.
 */
char *plumb_kube_object_display(const char *namespace, const char *name);

/* Split key; PLUMB_EINVALID when it is not four parts. */
int plumb_kube_identity_parse(plumb_kube_identity *out, const char *key);
void plumb_kube_identity_release(plumb_kube_identity *identity);

/* The group of an apiVersion ("apps/v1" -> "apps", "v1" -> ""): a new string. */
char *plumb_kube_group_of(const char *api_version);

/*
 * Drop a reference to object, wiping first, when it is the last one, the
 * values of a v1 Secret, of the Secrets of a list, and of a watch event's.
 * NULL-safe.
 */
void plumb_kube_json_free(json_t *object);

/* Text for a JSON value, wiped when a Secret's (plumb_kube_text_free). */
char *plumb_kube_json_text(const json_t *object);
void plumb_kube_text_free(char *text);

#endif
