/*
 * options.h - what plumb serve is told: where to look (repository,
 * revision, path), where to act (root, state directory), where to listen,
 * how often to look, and the policy of the implicit application. The
 * flags and the config file set them (cmd/serve.c); SIGHUP reads them
 * again (daemon.h).
 *
 * The strings (and a reference to the credentials) are owned by the
 * options and freed by plumb_daemon_options_release.
 */
#ifndef PLUMB_SERVE_OPTIONS_H
#define PLUMB_SERVE_OPTIONS_H

#include <stddef.h>

#include "load/discover.h"
#include "secrets/credentials.h"

typedef enum {
	PLUMB_APPROVAL_AUTO,
	PLUMB_APPROVAL_PROMPTED,
	PLUMB_APPROVAL_MANUAL,
} plumb_approval_mode;

typedef struct {
	char *repo;
	char *revision; /* NULL: the default branch */
	char *path;
	char *root;
	char *state;
	char *listen;              /* default "127.0.0.1:8080" */
	unsigned interval_ms;      /* poll; default 3 minutes */
	unsigned self_heal_interval_ms; /* periodic drift check; default 1 minute */
	char *tokens_file;         /* NULL: every API call that needs a role is refused */
	char *webhook_secret_file; /* NULL: webhooks are refused */
	char *identity;            /* the age identity file for Secrets; NULL: STATE/identity */
	int prune;
	int self_heal;
	plumb_approval_mode approval;
	size_t capture_max;
	char *kubeconfig; /* for Applications bound for a cluster; NULL: $KUBECONFIG, ~/.kube/config, else in-cluster */
	int allow_exec;   /* a kubeconfig's exec credential plugin may run */
	char *kustomize;  /* the program that renders a kustomization; NULL: $PLUMB_KUSTOMIZE, else kustomize on PATH */
	char *helm;       /* the program that renders a chart; NULL: $PLUMB_HELM, else helm on PATH */
	unsigned render_timeout_ms; /* how long a renderer may run; 0: $PLUMB_RENDER_TIMEOUT_MS, else 60 s */
	size_t render_output_max;   /* how much it may print; 0: $PLUMB_RENDER_OUTPUT_MAX, else 64 MiB */
	int allow_chart_fetch;      /* a chart's dependencies not vendored are fetched (helm dependency build) */
	const char *render_self;    /* this program, for a jsonnet file's child (render.h's self); borrowed, static */
	plumb_discover_names names; /* clusters: and repoAliases:, each string and both arrays owned */
	plumb_credentials *credentials; /* how to reach private repositories (one reference); NULL: none */
	int submodules;   /* fetch and read the repository's submodules, for every application */
} plumb_daemon_options;

/* Append to the owned array *items (of *count) a copy of text. */
void plumb_daemon_options_add_name(const char *const **items, size_t *count, const char *text);

/* Fill in the defaults (strings NULL, prune and selfHeal on, approval auto). */
void plumb_daemon_options_init(plumb_daemon_options *options);

/* Make to a copy of from with strings of its own; to holds nothing that needs freeing. */
void plumb_daemon_options_copy(plumb_daemon_options *to, const plumb_daemon_options *from);

void plumb_daemon_options_release(plumb_daemon_options *options);

#endif
