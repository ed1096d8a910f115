/*
 * config.h - configuration files: one YAML mapping of settings.
 *
 * The fields are described as for a manifest's spec (spec.h), so a
 * configuration file gets the same checks and the same "FILE:LINE:COL:
 * message" diagnostics: unknown keys, mistyped values, missing ones.
 */
#ifndef PLUMB_CONFIG_H
#define PLUMB_CONFIG_H

#include "resource/spec.h"
#include "util/diag.h"

/* The largest configuration file plumb reads. */
#define PLUMB_CONFIG_MAX (1u << 20)

/*
 * Read path and decode its top-level mapping against fields into values
 * (release with plumb_values_release); a mapping's value is its JSON text,
 * in string. Returns 0, PLUMB_EINVALID with
 * diagnostics added, or another error (message in the error slot) when the
 * file cannot be read.
 */
int plumb_config_load(plumb_value *values, const plumb_field *fields, size_t count, const char *path,
		      plumb_diags *diags);

/*
 * plumb_config_load, then nested(values, diags, payload) while the
 * document lives: the mappings of MAP and MAPS values are only valid
 * during that call (decode them there). Not called when decoding failed.
 */
int plumb_config_load_with(plumb_value *values, const plumb_field *fields, size_t count, const char *path,
			   plumb_diags *diags, void (*nested)(const plumb_value *values, plumb_diags *diags, void *payload),
			   void *payload);

#endif
