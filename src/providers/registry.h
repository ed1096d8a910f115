/*
 * registry.h - the providers plumb knows, and which one a document or an
 * inventory row belongs to.
 */
#ifndef PLUMB_PROVIDERS_REGISTRY_H
#define PLUMB_PROVIDERS_REGISTRY_H

#include "providers/provider.h"

/* Every provider plumb knows, NULL-terminated, in the order they are asked to claim a document. */
const plumb_provider *const *plumb_providers(void);

/* The first provider that claims documents of api_version and kind, or NULL. */
const plumb_provider *plumb_provider_find(const char *api_version, const char *kind);

/* The provider called name ("host"), or NULL. */
const plumb_provider *plumb_provider_by_name(const char *name);

/*
 * The provider whose destinations are called like name (destination_name):
 * "kubernetes https://SERVER" the kubernetes provider's (a provider's name
 * and a space), an absolute path the host's. NULL for none.
 */
const plumb_provider *plumb_provider_of_destination(const char *name);

#endif
