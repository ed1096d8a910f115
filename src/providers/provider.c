#include "util/common.h"
#include "providers/provider.h"

#include <stdlib.h>

const char *plumb_health_name(plumb_health health)
{
	static const char *const names[] = { "", "Healthy", "Suspended", "Progressing", "Missing", "Degraded", "Unknown" };
	return (unsigned)health < PLUMB_ARRAY_SIZE(names) ? names[health] : "";
}

void plumb_observed_release(const plumb_provider *provider, plumb_observed *observed)
{
	if (provider && provider->free_observed)
		provider->free_observed(observed);
	free(observed->fingerprint);
	memset(observed, 0, sizeof(*observed));
}

char *plumb_provider_display(const plumb_provider *provider, const char *key)
{
	return provider && provider->display_of ? provider->display_of(key) : plumb_xprintf("/%s", key);
}

void plumb_change_release(plumb_change *change)
{
	free(change->reason);
	change->reason = NULL;
	plumb_buf_release(&change->diff);
}

void plumb_destinations_init(plumb_destinations *destinations, const plumb_destination_options *options)
{
	memset(destinations, 0, sizeof(*destinations));
	destinations->options = *options;
}

int plumb_destinations_get(plumb_destination **out, plumb_destinations *destinations, const plumb_provider *provider)
{
	for (size_t i = 0; i < destinations->count; i++) {
		if (destinations->opened[i].provider == provider) {
			*out = destinations->opened[i].destination;
			return 0;
		}
	}
	if (destinations->only && provider != destinations->only)
		return plumb_error_set(PLUMB_EINVALID, "a %s object has no place in an application whose destination is %s",
				       provider->name, destinations->only->name);
	plumb_destination *destination = NULL;
	int error = provider->open(&destination, &destinations->options);
	if (error < 0)
		return error;
	PLUMB_GROW(destinations->opened, destinations->count, destinations->capacity);
	destinations->opened[destinations->count].provider = provider;
	destinations->opened[destinations->count++].destination = destination;
	*out = destination;
	return 0;
}

void plumb_destinations_renew(plumb_destinations *destinations, const plumb_destination_options *options)
{
	destinations->options = *options;
	for (size_t i = 0; i < destinations->count; i++)
		if (destinations->opened[i].provider->renew)
			destinations->opened[i].provider->renew(destinations->opened[i].destination, options);
}

void plumb_destinations_save(plumb_destinations *destinations)
{
	for (size_t i = 0; i < destinations->count; i++)
		if (destinations->opened[i].provider->save(destinations->opened[i].destination) < 0)
			plumb_error_clear();
}

void plumb_destinations_release(plumb_destinations *destinations)
{
	for (size_t i = 0; i < destinations->count; i++)
		destinations->opened[i].provider->close(destinations->opened[i].destination);
	free(destinations->opened);
	destinations->opened = NULL;
	destinations->count = destinations->capacity = 0;
}
