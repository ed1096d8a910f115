/*
 * placeholder.h - values of plumb Secrets in any field of a Kubernetes
 * object: where a Flux application's variable from a Secret put
 * "${secret:NAME}" (resource.h, load/flux.h).
 *
 * A field holds a placeholder in its text ("postgres://app:${secret:db}@db"),
 * or in its text base64-encoded, as a chart's b64enc writes a value into a
 * Secret's data. Expand finds both: the names (each one of the object's
 * Secrets) and the fields that hold them, which every diff masks as a
 * Secret's values are masked (compare.h). Planning fills them all in one
 * pass, once every value is read: the text replaced, or decoded, filled
 * and encoded again. A value is never searched for a placeholder.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_PLACEHOLDER_H
#define PLUMB_PROVIDERS_KUBERNETES_PLACEHOLDER_H

#include <jansson.h>

#include "resource/resource.h"
#include "util/buf.h"
#include "util/diag.h"

typedef struct {
	char **names;   /* the plumb Secrets named, each once, in the order found */
	size_t name_count;
	json_t *fields; /* the fields that hold one: each a path, an array of keys and indexes */
} plumb_kube_placeholders;

/*
 * Find the placeholders of document (an object shown as display, declared
 * at at) into out (zeroed by the caller). A placeholder where a value
 * cannot be (a key, apiVersion, kind, metadata.name, metadata.namespace)
 * is a diagnostic. A v1 Secret's data and stringData are not listed among
 * the fields: its values are masked whole. Returns how many names.
 */
size_t plumb_kube_placeholders_find(plumb_kube_placeholders *out, const json_t *document, const char *display,
				    plumb_position at, plumb_diags *diags);

void plumb_kube_placeholders_release(plumb_kube_placeholders *placeholders);

/*
 * Put values[i] where document holds the placeholder of names[i], for
 * every i < count, in one pass; a v1 Secret's data keys listed in skip
 * (skip_count of them, values put there already) are left alone. Returns 0,
 * or PLUMB_EINVALID when a value that is not UTF-8 text would go into a
 * field's text (the Secret named in the error slot; document unchanged
 * there).
 */
int plumb_kube_placeholders_fill(json_t *document, char *const *names, const plumb_buf *values, size_t count,
				 char *const *skip, size_t skip_count);

#endif
