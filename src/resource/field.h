/*
 * field.h - where a field of a manifest document is written, asked after
 * loading: a destination that refuses an object names the fields at fault
 * by path (a Kubernetes API server's validation), and each problem is
 * reported where its field is in the manifest.
 *
 * Loading keeps no position but each document's: keeping every field's
 * would cost every load what only a refusal needs. The document is parsed
 * again from the manifest's text instead, on that path alone; so is a
 * document whose values load masked (a Secret's) when one must be read.
 */
#ifndef PLUMB_RESOURCE_FIELD_H
#define PLUMB_RESOURCE_FIELD_H

#include <stddef.h>

#include "util/diag.h"

/*
 * Where path is written in the document of text (a whole manifest file,
 * as it was loaded) that load placed at document (the position of its
 * root: a mapping is placed at its first key). *out names document.file.
 *
 * path names a field from the document's root: names joined by "." (a
 * leading "." is allowed), a list item or a mapping's key in brackets:
 * "spec.template.spec.containers[0].image", "data[my.key]", and a list
 * item by the values of its fields, as server-side apply names them,
 * "spec.containers[name=\"web\"].ports[containerPort=80,protocol=\"TCP\"]"
 * (the first item whose fields hold those values, a field it does not
 * write, which the server defaults, left out of the comparison) or, in a
 * list of scalars, "finalizers[=\"example.com/keep\"]". A mapping's member
 * is where its key is written; a list item where its first scalar is (as
 * load places collections).
 *
 * Returns 0 with *out, or PLUMB_ENOTFOUND when the document does not
 * write the field (one the server requires) or text no longer holds the
 * document: *out is then document.
 */
int plumb_field_locate(plumb_position *out, const char *text, size_t length, plumb_position document,
		       const char *path);

/*
 * The scalar at path (as plumb_field_locate reads one) in the document of
 * text that load placed at document, as the manifest writes it (a
 * Secret's value too, which load keeps masked): a new string, or NULL
 * when the document writes none there.
 */
char *plumb_field_scalar(const char *text, size_t length, plumb_position document, const char *path);

#endif
