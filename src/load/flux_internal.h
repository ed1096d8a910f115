/*
 * load/flux_internal.h - what flux.c (reading Flux's objects) and
 * flux_resolve.c (resolving what they name in their folder) share.
 */
#ifndef PLUMB_LOAD_FLUX_INTERNAL_H
#define PLUMB_LOAD_FLUX_INTERNAL_H

#include <jansson.h>

#include "util/diag.h"

#define PLUMB_FLUX_SOURCE_GROUP "source.toolkit.fluxcd.io/"

/* object (returned) with where a value is written, for a diagnostic made once the folder is read. */
json_t *plumb_flux_place(json_t *object, plumb_position at);

/* Where plumb_flux_place said the value of object is written. */
plumb_position plumb_flux_placed(const json_t *object);

#endif
