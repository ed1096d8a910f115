#include "util/common.h"
#include "serve/options.h"

#include <stdlib.h>

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

void plumb_daemon_options_add_name(const char *const **items, size_t *count, const char *text)
{
	const char **grown = plumb_xrealloc((void *)*items, (*count + 1) * sizeof(*grown));
	grown[(*count)++] = plumb_xstrdup(text);
	*items = grown;
}

static void copy_names(const char *const **to, size_t *to_count, const char *const *from, size_t count)
{
	*to = NULL;
	*to_count = 0;
	for (size_t i = 0; i < count; i++)
		plumb_daemon_options_add_name(to, to_count, from[i]);
}

static void release_names(const char *const *items, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free((void *)items[i]);
	free((void *)items);
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
	copy_names(&to->names.clusters, &to->names.cluster_count, from->names.clusters, from->names.cluster_count);
	copy_names(&to->names.repo_aliases, &to->names.repo_alias_count, from->names.repo_aliases,
		   from->names.repo_alias_count);
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
	release_names(options->names.clusters, options->names.cluster_count);
	release_names(options->names.repo_aliases, options->names.repo_alias_count);
	plumb_credentials_free(options->credentials);
	memset(options, 0, sizeof(*options));
}
