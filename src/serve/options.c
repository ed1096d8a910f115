#include "util/common.h"
#include "serve/options.h"

void plumb_daemon_options_init(plumb_daemon_options *options)
{
	memset(options, 0, sizeof(*options));
	options->interval_ms = 180000;
	options->self_heal_interval_ms = 60000;
	options->prune = 1;
	options->self_heal = 1;
	options->approval = PLUMB_APPROVAL_AUTO;
}

static char *xstrdup_or_null(const char *s)
{
	return s ? plumb_xstrdup(s) : NULL;
}

void plumb_daemon_options_copy(plumb_daemon_options *to, const plumb_daemon_options *from)
{
	*to = *from;
	to->repo = xstrdup_or_null(from->repo);
	to->revision = xstrdup_or_null(from->revision);
	to->path = xstrdup_or_null(from->path);
	to->root = xstrdup_or_null(from->root);
	to->state = xstrdup_or_null(from->state);
	to->listen = xstrdup_or_null(from->listen);
	to->tokens_file = xstrdup_or_null(from->tokens_file);
	to->webhook_secret_file = xstrdup_or_null(from->webhook_secret_file);
	to->identity = xstrdup_or_null(from->identity);
	to->kubeconfig = xstrdup_or_null(from->kubeconfig);
	to->kustomize = xstrdup_or_null(from->kustomize);
	to->helm = xstrdup_or_null(from->helm);
	to->credentials = plumb_credentials_ref(from->credentials);
}

void plumb_daemon_options_release(plumb_daemon_options *options)
{
	free(options->repo);
	free(options->revision);
	free(options->path);
	free(options->root);
	free(options->state);
	free(options->listen);
	free(options->tokens_file);
	free(options->webhook_secret_file);
	free(options->identity);
	free(options->kubeconfig);
	free(options->kustomize);
	free(options->helm);
	plumb_credentials_free(options->credentials);
	memset(options, 0, sizeof(*options));
}
