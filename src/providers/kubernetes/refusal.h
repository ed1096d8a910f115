/*
 * refusal.h - the API server's refusal of an object as git declares it,
 * reported at the fields of the manifest it names.
 *
 * The server names the fields at fault two ways. Its validation answers
 * 422 Invalid (400 BadRequest for some checks) with a Status whose causes
 * each give a field path ("spec.template.spec.containers[0].name",
 * "data[bad key]") and a message. Server-side apply's schema check answers
 * 500 "failed to create typed patch object (...): .spec.replicas: expected
 * numeric (int or float), got string", one path a line when there are
 * several, a list item named by its keys ("containers[name=\"web\"]").
 *
 * Each field becomes a diagnostic "KIND NAMESPACE/NAME: FIELD: MESSAGE"
 * at the position of that field in the manifest (resource/field.h: the
 * manifest is read again from its blob for it, so only a refusal pays for
 * that), or at the document's when the manifest does not write the field
 * (one the server requires). A Status that names no field is one
 * diagnostic at the document, with the server's message.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_REFUSAL_H
#define PLUMB_PROVIDERS_KUBERNETES_REFUSAL_H

#include "providers/kubernetes/client.h"
#include "providers/provider.h"
#include "util/buf.h"

/*
 * Whether answer (to the apply, or dry run, of object, shown as display)
 * refuses the object as declared: then each problem it names is added to
 * diags, and the error slot holds them all, one "FILE:LINE:COL: ..." a
 * line; returns PLUMB_EINVALID. Else 0, nothing added. source reads the
 * manifest again (NULL: every problem at the document).
 */
int plumb_kube_refusal(plumb_diags *diags, plumb_source *source, const plumb_object *object, const char *display,
		       const plumb_kube_answer *answer);

/*
 * message as shown for object (into out): a value its placeholders were
 * filled with (placeholder.h), which the server may quote ("Invalid value:
 * ..."), becomes "(sensitive)".
 */
void plumb_kube_masked_message(plumb_buf *out, const plumb_object *object, const char *message, size_t length);

#endif
