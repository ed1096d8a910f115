#include "util/common.h"
#include "providers/registry.h"
#include "providers/host/host.h"
#include "providers/kubernetes/provider.h"

#include <stdlib.h>

const plumb_provider *const *plumb_providers(void)
{
	/* The host first: the kubernetes provider claims every apiVersion that is not plumb's own. */
	static const plumb_provider *const providers[] = { &plumb_host_provider, &plumb_kubernetes_provider, NULL };
	return providers;
}

const plumb_provider *plumb_provider_find(const char *api_version, const char *kind)
{
	for (const plumb_provider *const *p = plumb_providers(); *p; p++)
		if ((*p)->claims(api_version, kind))
			return *p;
	return NULL;
}

const plumb_provider *plumb_provider_by_name(const char *name)
{
	for (const plumb_provider *const *p = plumb_providers(); *p; p++)
		if (!strcmp((*p)->name, name))
			return *p;
	return NULL;
}

const plumb_provider *plumb_provider_of_destination(const char *name)
{
	for (const plumb_provider *const *p = plumb_providers(); *p; p++) {
		size_t len = strlen((*p)->name);
		if (!strncmp(name, (*p)->name, len) && name[len] == ' ')
			return *p;
	}
	return name[0] == '/' ? plumb_provider_by_name("host") : NULL;
}
