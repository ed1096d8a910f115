#include "util/common.h"
#include "serve/api_common.h"

#include <errno.h>

void plumb_api_respond(plumb_response *response, unsigned status, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	plumb_response_json(response, status, text);
	free(text);
	json_decref(doc);
}

app_state *plumb_api_application(plumb_response *response, const plumb_request *request, daemon_state *d)
{
	app_state *found = NULL;
	pthread_mutex_lock(&d->mutex);
	for (size_t i = 0; request->param_count && i < d->app_count && !found; i++)
		if (!strcmp(request->params[0], d->apps[i]->name))
			found = d->apps[i];
	pthread_mutex_unlock(&d->mutex);
	if (!found)
		plumb_response_error(response, 404, "no application '%s'", request->param_count ? request->params[0] : "");
	return found;
}

plumb_store *plumb_api_open_store(plumb_response *response, daemon_state *d)
{
	plumb_store *store = NULL;
	char *state = plumb_serve_state_dir(d);
	if (plumb_store_open(&store, state) < 0)
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
	free(state);
	return store;
}

plumb_store *plumb_api_application_store(plumb_response *response, const plumb_request *request, daemon_state *d,
					 char **name, char **destination)
{
	app_state *a = plumb_api_application(response, request, d);
	plumb_store *store = a ? plumb_api_open_store(response, d) : NULL;

	*name = *destination = NULL;
	if (!store)
		return NULL;
	pthread_mutex_lock(&d->mutex);
	*name = plumb_xstrdup(a->name);
	*destination = plumb_xstrdup(a->destination);
	pthread_mutex_unlock(&d->mutex);
	return store;
}

int64_t plumb_api_parse_id(const char *text)
{
	char *end = NULL;
	if (!text || text[0] < '0' || text[0] > '9')
		return 0;
	errno = 0;
	long long id = strtoll(text, &end, 10);
	return errno || *end || id < 1 ? 0 : (int64_t)id;
}
