/*
 * ignore.h - the fields an application tells plumb to leave alone
 * (spec.ignoreDifferences, as Argo CD's): by JSON pointer (RFC 6901), by
 * jq path (jqpath.h), or every field a named field manager owns (read from the live object's
 * managedFields), for the objects of a group and kind, and optionally a
 * name and namespace.
 *
 * The rules hold for the diff and for the apply alike, so that a plan
 * never promises what an apply will not do: what they match shows in no
 * diff, and an apply never takes it back. A pointed field (by JSON pointer,
 * or by a jq path: jqpath.h) is sent with the live object's value (or not
 * at all when the live object has none), so plumb keeps the value someone
 * else set; a field a listed manager owns is not sent, so that manager keeps
 * it alone. An object that is not there yet is created as git declares it.
 */
#ifndef PLUMB_PROVIDERS_KUBERNETES_IGNORE_H
#define PLUMB_PROVIDERS_KUBERNETES_IGNORE_H

#include <jansson.h>

typedef struct plumb_kube_ignore plumb_kube_ignore;

/* Which object a rule is asked about. */
typedef struct {
	const char *group;
	const char *kind;
	const char *namespace;
	const char *name;
} plumb_kube_target;

/*
 * The rules text holds (plumb_application.ignore's JSON); *out NULL when
 * text is NULL. PLUMB_EINVALID when it is not such JSON.
 */
int plumb_kube_ignore_parse(plumb_kube_ignore **out, const char *text);
void plumb_kube_ignore_free(plumb_kube_ignore *ignore);

/* Whether a rule holds for target. NULL-safe (no rules: none). */
int plumb_kube_ignore_matches(const plumb_kube_ignore *ignore, const plumb_kube_target *target);

/*
 * Remove from object (the live object, or the server's dry run) what the
 * rules for target ignore; live (may be NULL) says which fields the listed
 * managers own.
 */
void plumb_kube_ignore_strip(const plumb_kube_ignore *ignore, const plumb_kube_target *target, json_t *object,
			     const json_t *live);

/* Make body, about to be applied, leave alone what the rules for target ignore (see above). */
void plumb_kube_ignore_body(const plumb_kube_ignore *ignore, const plumb_kube_target *target, json_t *body,
			    const json_t *live);

#endif
