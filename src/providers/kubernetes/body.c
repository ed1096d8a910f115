/*
 * What plumb sends for an object: its document in its namespace, labelled
 * and annotated as plumb's (tracking id, applied hash), leaving alone what
 * the application's ignore rules name; and the server-side apply that
 * sends it, for real or as a dry run.
 */
#include "util/common.h"
#include "providers/kubernetes/body.h"
#include "providers/kubernetes/refusal.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>

/* "APPLICATION:GROUP/KIND:NAMESPACE/NAME", as Argo CD's annotation tracking writes it. */
char *plumb_kube_tracking_id(const plumb_destination *dest, const char *group, const char *kind, const char *namespace,
			 const char *name)
{
	return plumb_xprintf("%s:%s/%s:%s/%s", dest->application, group, kind, namespace, name);
}

/*
 * The application another tracking id of this very object names (a new
 * string), or NULL when tracking is this application's, or no plumb
 * application's.
 */
char *plumb_kube_other_application(const plumb_destination *dest, const char *tracking, const char *own)
{
	const char *colon = tracking ? strchr(tracking, ':') : NULL;
	const char *own_object = strchr(own, ':');
	if (!colon || !strcmp(tracking, own) || strcmp(colon, own_object) != 0)
		return NULL;
	return plumb_xstrndup(tracking, (size_t)(colon - tracking));
}

/* The object of metadata's member name, made when missing. Borrowed. */
static json_t *member_object(json_t *metadata, const char *name)
{
	json_t *member = json_object_get(metadata, name);
	if (!json_is_object(member)) {
		member = json_object();
		json_object_set_new(metadata, name, member);
	}
	return member;
}

/*
 * What plumb applies, in short: a hash of the body (keyed, since a
 * Secret's holds its values), carried by the object, so that a later run
 * knows it would apply the same again.
 */
static char *applied_hash(const plumb_destination *dest, const json_t *body)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned mac_length = 0;
	char *text = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
	HMAC(EVP_sha256(), dest->hash_key, PLUMB_KUBE_HASH_KEY_SIZE, (const unsigned char *)text, strlen(text), mac,
	     &mac_length);
	plumb_kube_text_free(text);
	char hex[2 * 16 + 1];
	for (unsigned i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return plumb_xstrdup(hex);
}

/* The document, in its namespace, labelled and annotated as plumb's. A new reference. */
json_t *plumb_kube_apply_body(const plumb_destination *dest, const plumb_kube_desired *d, const char *namespace)
{
	json_t *body = plumb_kube_document(d);
	json_t *metadata = json_object_get(body, "metadata");
	char *id = plumb_kube_tracking_id(dest, d->group, d->kind, namespace, d->name);
	if (*namespace)
		json_object_set_new(metadata, "namespace", json_string(namespace));
	json_object_set_new(member_object(metadata, "labels"), PLUMB_KUBE_MANAGED_BY_LABEL,
			    json_string(PLUMB_KUBE_MANAGED_BY));
	json_t *annotations = member_object(metadata, "annotations");
	json_object_set_new(annotations, PLUMB_KUBE_TRACKING_ANNOTATION, json_string(id));
	char *hash = applied_hash(dest, body);
	json_object_set_new(annotations, PLUMB_KUBE_APPLIED_ANNOTATION, json_string(hash));
	free(hash);
	free(id);
	return body;
}

/*
 * Server-side apply of body at path, for real or as a dry run: *answer the
 * object the server made of it (a new reference). Unless the destination
 * forces conflicts (and then the dry run too, so that the plan shows what the
 * apply will do), a field another manager owns is a conflict, and the
 * server's message names the field and the manager.
 */
plumb_kube_call plumb_kube_apply_call(char **target, const plumb_destination *dest, const char *path,
				      const char *text, int dry_run)
{
	*target = plumb_xprintf("%s?%sfieldManager=%s%s", path, dry_run ? "dryRun=All&" : "", PLUMB_KUBE_FIELD_MANAGER,
				dest->force_conflicts ? "&force=true" : "");
	/* A JSON document is YAML: the server takes it as an apply patch. */
	return (plumb_kube_call){ "PATCH", *target, NULL, "application/apply-patch+yaml", text, strlen(text), NULL, NULL };
}

const char *plumb_kube_body_hash(const json_t *body)
{
	json_t *annotations = json_object_get(json_object_get(body, "metadata"), "annotations");
	return json_string_value(json_object_get(annotations, PLUMB_KUBE_APPLIED_ANNOTATION));
}

int plumb_kube_server_side_apply(json_t **answer, plumb_destination *dest, const plumb_object *object,
				 const char *path, const json_t *body, int dry_run, const char *display, plumb_diags *diags)
{
	char *text = plumb_kube_json_text(body), *target;
	plumb_kube_answer out = PLUMB_KUBE_ANSWER_INIT;
	plumb_kube_call call = plumb_kube_apply_call(&target, dest, path, text, dry_run);
	int error = plumb_kube_send(&out, dest->client, &call);
	*answer = NULL;
	/*
	 * A field that cannot change once set is not the manifest's fault: it is
	 * named as the server says it, with what lets it through (replacement).
	 */
	int immutable = error == PLUMB_EINVALID && strstr(plumb_error_last(), "immutable") != NULL;
	if (error < 0 && !immutable && plumb_kube_refusal(diags, dest->source, object, display, &out) < 0)
		error = PLUMB_EINVALID;
	else if (error < 0) {
		/* What the server said may quote a value of a plumb Secret: shown masked. */
		plumb_buf said = PLUMB_BUF_INIT;
		plumb_kube_masked_message(&said, object, plumb_error_last(), strlen(plumb_error_last()));
		error = plumb_error_set(error, "%s%s: %s", dry_run ? "dry run of " : "", display, said.ptr);
		plumb_buf_wipe(&said);
	}
	else if (!(*answer = json_loadb(out.body.ptr, out.body.len, 0, NULL)) || !json_is_object(*answer))
		error = plumb_error_set(PLUMB_ERROR, "%s: the server answered something that is not an object", display);
	if (error < 0 && *answer) {
		plumb_kube_json_free(*answer);
		*answer = NULL;
	}
	plumb_kube_answer_release(&out);
	plumb_kube_text_free(text);
	free(target);
	return error;
}

/* --- replacing what cannot be changed ---------------------------------------------------- */

/* Whether options (a sync-options annotation) holds option, as one of its comma-separated words. */
static int has_option(const char *options, const char *option)
{
	size_t length = strlen(option);
	for (const char *p = options; p && *p;) {
		p += strspn(p, " ,");
		size_t word = strcspn(p, ",");
		size_t end = word;
		while (end && p[end - 1] == ' ')
			end--;
		if (end == length && !strncmp(p, option, length))
			return 1;
		p += word;
	}
	return 0;
}

/* Whether d may be deleted and created when a change to it cannot be made in place (Replace=true). */
int plumb_kube_may_replace(const plumb_destination *dest, const plumb_kube_desired *d)
{
	if (dest->replace)
		return 1;
	json_t *document = plumb_kube_document(d);
	json_t *annotations = json_object_get(json_object_get(document, "metadata"), "annotations");
	int replace =
		has_option(json_string_value(json_object_get(annotations, PLUMB_KUBE_SYNC_OPTIONS_ANNOTATION)),
			   "Replace=true") ||
		has_option(json_string_value(json_object_get(annotations, PLUMB_KUBE_ARGOCD_SYNC_OPTIONS_ANNOTATION)),
			   "Replace=true");
	plumb_kube_json_free(document);
	return replace;
}

/* Whether the server refused a change because a field it names cannot change once set. */
int plumb_kube_refused_as_immutable(int error)
{
	return error == PLUMB_EINVALID && strstr(plumb_error_last(), "immutable") != NULL;
}

/* The refusal of an immutable field, with what would let the change through. */
int plumb_kube_immutable_hint(int error)
{
	char *message = plumb_xstrdup(plumb_error_last());
	plumb_error_set(error,
			"%s\n  (Replace=true, in the object's " PLUMB_KUBE_SYNC_OPTIONS_ANNOTATION
			" annotation or the Application's syncOptions, deletes and creates it)",
			message);
	free(message);
	return error;
}

/* --- what the application tells plumb to leave alone (ignore.h) -------------------------- */

plumb_kube_target plumb_kube_target_of(const plumb_kube_desired *d, const char *namespace)
{
	return (plumb_kube_target){ d->group, d->kind, namespace, d->name };
}

