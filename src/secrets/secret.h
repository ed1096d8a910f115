/*
 * secret.h - Secrets: references to values that never live in git in plain
 * text, and the reading of those values when a command plans.
 *
 * A Secret (apiVersion plumb/v1) names exactly one source in its spec:
 *
 *   age: secrets/db.age           a file of the repository, encrypted with age
 *                                 to X25519 recipients, opened with the
 *                                 identity file of the host (--identity)
 *   env: DB_PASSWORD              an environment variable of plumb
 *   file: /etc/plumb/db-password  a file on the host
 *   command: [pass, show, db]     what the command prints (timeout: 10s)
 *
 * and optionally trimNewline (default: true for command, false otherwise).
 * A File takes its content from one with contentFrom: {secret: NAME}, and is
 * then sensitive; a Kubernetes Secret the value of a key with
 * KEY: {secretFrom: NAME} (object->secrets lists what an object takes).
 * Loading (check, render) reads no value; planning binds each value to the
 * objects that use it, and nothing else ever holds it:
 * errors name the Secret and its source, never the value.
 */
#ifndef PLUMB_SECRET_H
#define PLUMB_SECRET_H

#include <jansson.h>

#include "resource/resource.h"
#include "source/source.h"
#include "resource/spec.h"

/* The largest secret value plumb reads. */
#define PLUMB_SECRET_MAX (1u << 20)
/* A command source is killed after this long unless its Secret says otherwise. */
#define PLUMB_SECRET_TIMEOUT_MS 10000u

/* Decode the spec of set->resources[resource], a Secret, into set->secrets; problems become diagnostics. */
void plumb_secret_decode(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
			 plumb_diags *diags);

/* The Secret of set called name, or NULL. */
const plumb_secret *plumb_secret_find(const plumb_manifest_set *set, const char *name);

/* A diagnostic for every Secret an object of set takes a value from that names no Secret of set. */
void plumb_secret_check_references(const plumb_manifest_set *set, plumb_diags *diags);

typedef struct {
	plumb_source *source;      /* the repository the set was loaded from (age files); NULL: age files are host files */
	const char *identity_file; /* the age identity file */
} plumb_secret_context;

/*
 * Read the value of secret, appending it to out (wipe it with
 * plumb_buf_wipe). Fails with a message that names the Secret and what went
 * wrong (no such variable, unreadable file, command failed or timed out,
 * wrong identity, corrupted ciphertext), never the value.
 */
int plumb_secret_read(plumb_buf *out, const plumb_secret *secret, const plumb_secret_context *ctx);

/*
 * Read every Secret that an object of set uses and bind its value to those
 * objects (each Secret read once). Every failure becomes a diagnostic at
 * the Secret; returns PLUMB_EINVALID when there was any, and then no object
 * is bound.
 */
int plumb_secret_bind(plumb_manifest_set *set, const plumb_secret_context *ctx, plumb_diags *diags);

void plumb_secret_release(plumb_secret *secret);

/*
 * A Secret as a reference only (its source, never a value), as JSON: how a
 * Flux application carries the Secrets its variables take values from out
 * of the folder that declares them (load/flux.h). A new reference.
 */
json_t *plumb_secret_to_json(const plumb_secret *secret);

/*
 * The Secret json describes (plumb_secret_to_json's), into *out; its
 * position's file is *file (a new string the caller keeps as long as out).
 * PLUMB_EINVALID when json is not one.
 */
int plumb_secret_from_json(plumb_secret *out, char **file, const json_t *json);

#endif
