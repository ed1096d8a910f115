#include "util/common.h"
#include "providers/provider.h"
#include "providers/host/host.h"

#include <stdlib.h>

const plumb_provider *const *plumb_providers(void)
{
	static const plumb_provider *const providers[] = { &plumb_host_provider, NULL };
	return providers;
}

const plumb_provider *plumb_provider_find(const char *api_version, const char *kind)
{
	for (const plumb_provider *const *p = plumb_providers(); *p; p++) {
		if (strcmp((*p)->api_version, api_version) != 0)
			continue;
		for (const char *const *k = (*p)->kinds; *k; k++)
			if (!strcmp(*k, kind))
				return *p;
	}
	return NULL;
}

const plumb_provider *plumb_provider_by_name(const char *name)
{
	for (const plumb_provider *const *p = plumb_providers(); *p; p++)
		if (!strcmp((*p)->name, name))
			return *p;
	return NULL;
}

void plumb_observed_release(const plumb_provider *provider, plumb_observed *observed)
{
	if (provider && provider->free_observed)
		provider->free_observed(observed);
	free(observed->fingerprint);
	memset(observed, 0, sizeof(*observed));
}

void plumb_change_release(plumb_change *change)
{
	free(change->reason);
	change->reason = NULL;
	plumb_buf_release(&change->diff);
}
