/*
 * compare.h - a Kubernetes object as plumb compares and shows it.
 *
 * A plan compares the live object with what the API server would make of
 * the manifest (a server-side dry run): both carry what the server writes
 * and git never declares. Left out of both, so that a defaulted or
 * bookkept field never shows as a change: metadata.managedFields,
 * resourceVersion, generation, uid, creationTimestamp, selfLink and the
 * last-applied annotation of kubectl, plumb's applied-hash annotation, and
 * the whole status.
 *
 * A Secret's values are shown nowhere: each value of data and stringData
 * becomes "(sensitive HASH)", HASH a keyed hash of the decoded value, so
 * that a changed value shows as changed and an unchanged one as unchanged,
 * and neither can be guessed from a plan (the key is the state
 * directory's, as for sensitive files). stringData is what data will hold
 * (the server moves it there), so both are compared as data.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_COMPARE_H
#define PLUMB_PROVIDERS_KUBERNETES_COMPARE_H

#include <jansson.h>

#include "providers/kubernetes/labels.h"
#include "util/buf.h"

/* Whether object is a v1 Secret: its data and stringData are values shown nowhere. */
int plumb_kube_is_secret(const json_t *object);

/* The key sensitive values are hashed with: 32 bytes. */
#define PLUMB_KUBE_HASH_KEY_SIZE 32

/* The comparable form of object (a new reference): see above. NULL when object is not a JSON object. */
json_t *plumb_kube_comparable(const json_t *object, const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE]);

/*
 * object (a new reference) with each string that fields names (a list of
 * paths, each an array of keys and indexes: placeholder.h's), and each
 * that holds one of the value_count values (should a field have moved
 * since), replaced by "(sensitive HASH)", as a Secret's values are: a copy
 * when there is anything to mask, else object itself. NULL-safe.
 */
json_t *plumb_kube_masked(json_t *object, const json_t *fields, const plumb_buf *values, size_t value_count,
			  const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE]);

/*
 * Append value to out as YAML (block style, two spaces an indent, keys in
 * the order the object has them; strings quoted wherever a plain scalar
 * would read as something else), starting at indent.
 */
void plumb_kube_yaml(plumb_buf *out, const json_t *value, unsigned indent);

/*
 * Compare the comparable forms of live (NULL: the object does not exist)
 * and desired, and append their unified diff as YAML, headed by name, to
 * out. Returns 1 when they differ, 0 when they do not (out unchanged), or
 * PLUMB_ERROR.
 */
int plumb_kube_diff(plumb_buf *out, const char *name, const json_t *live, const json_t *desired,
		    const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE]);

/*
 * Append, for each field whose value differs between live and desired
 * (their comparable forms), the field managers of live that own it (its
 * metadata.managedFields): "# .data.size: managed by kubectl-patch, plumb",
 * a line each, at most 20. What a plan shows beside a diff: who set what
 * the apply changes.
 */
void plumb_kube_owners(plumb_buf *out, const json_t *live, const json_t *desired,
		       const unsigned char key[PLUMB_KUBE_HASH_KEY_SIZE]);

#endif
