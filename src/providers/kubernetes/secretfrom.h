/*
 * secretfrom.h - a v1 Secret whose values come from plumb Secrets
 * (docs/secrets.md, "Kubernetes Secrets").
 *
 * In git, a key of data or stringData names a plumb Secret of the same
 * application instead of holding a value:
 *
 *   stringData:
 *     username: app                          a value, as Kubernetes takes it
 *     password: {secretFrom: db-password}    the value of plumb Secret db-password
 *
 * Expand reads the references (never a value): each becomes one of the
 * object's Secrets (object->secrets, in the order written), with the
 * position of its name, so that check reports one that names no Secret of
 * the application. Planning binds each value (bind_secret): it is put in
 * data, base64-encoded, whichever of data and stringData the reference was
 * written in (a value is bytes, and stringData takes only text), and the
 * reference leaves the document. Until then the document still holds the
 * reference, which no API server takes for a value, and compare refuses
 * the object. Values are wiped wherever the provider held them (object.h).
 * object.c holds the hooks; this file reads and places.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_SECRETFROM_H
#define PLUMB_PROVIDERS_KUBERNETES_SECRETFROM_H

#include <jansson.h>

#include "resource/resource.h"
#include "resource/spec.h"

/* The field of a reference: "password: {secretFrom: db-password}". */
#define PLUMB_KUBE_SECRET_FROM "secretFrom"

/* A reference, as written: the key it gives the value of, and the plumb Secret it names. */
typedef struct {
	char *key;
	char *name;
	char *field;             /* where name is written: "stringData.password.secretFrom" */
	plumb_position position; /* of name */
} plumb_kube_secret_reference;

/*
 * Read the references in the data and stringData of a v1 Secret, whose
 * whole document is spec (expand's; NULL: none), into *out (*count of
 * them, in the order written). A reference that is not {secretFrom: NAME},
 * and a key given in both data and stringData when either names a Secret,
 * are diagnostics at their positions; returns how many were added. No
 * value is read or kept.
 */
unsigned plumb_kube_secret_references_read(plumb_kube_secret_reference **out, size_t *count, const plumb_spec *spec,
					   plumb_diags *diags);

void plumb_kube_secret_references_free(plumb_kube_secret_reference *references, size_t count);

/*
 * Put value, base64-encoded, as data.KEY of the v1 Secret document (data
 * made when missing); what was at data.KEY and stringData.KEY (the
 * reference) is wiped and dropped, and stringData too when that empties it.
 */
void plumb_kube_secret_value_put(json_t *document, const char *key, const char *value, size_t length);

#endif
