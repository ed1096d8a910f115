#include "util/common.h"
#include "cmd/cmd.h"
#include "serve/config.h"
#include "serve/daemon.h"
#include "secrets/credentials.h"
#include "util/duration.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

/* Every setting: a key of the config file, and a flag of the same name. */
enum { K_REPO, K_REVISION, K_PATH, K_ROOT, K_STATE, K_LISTEN, K_INTERVAL, K_SELF_HEAL_INTERVAL, K_TOKENS,
       K_WEBHOOK_SECRET, K_PRUNE, K_SELF_HEAL, K_APPROVAL, K_CAPTURE_MAX, K_IDENTITY, K_KUBECONFIG,
       K_ALLOW_EXEC_CREDENTIALS, K_KUSTOMIZE, K_HELM, K_CLUSTERS, K_REPO_ALIASES, K_RENDER_TIMEOUT,
       K_RENDER_OUTPUT_MAX, K_CREDENTIALS, K_SUBMODULES, K_ALLOW_CHART_FETCH, K_COUNT };

static const plumb_field settings[K_COUNT] = {
	{ "repo", PLUMB_FIELD_STRING, 0 },     { "revision", PLUMB_FIELD_STRING, 0 },
	{ "path", PLUMB_FIELD_STRING, 0 },     { "root", PLUMB_FIELD_STRING, 0 },
	{ "state", PLUMB_FIELD_STRING, 0 },    { "listen", PLUMB_FIELD_STRING, 0 },
	{ "interval", PLUMB_FIELD_STRING, 0 }, { "self-heal-interval", PLUMB_FIELD_STRING, 0 },
	{ "tokens", PLUMB_FIELD_STRING, 0 },   { "webhook-secret", PLUMB_FIELD_STRING, 0 },
	{ "prune", PLUMB_FIELD_BOOL, 0 },      { "self-heal", PLUMB_FIELD_BOOL, 0 },
	{ "approval", PLUMB_FIELD_STRING, 0 }, { "capture-max", PLUMB_FIELD_STRING, 0 },
	{ "identity", PLUMB_FIELD_STRING, 0 }, { "kubeconfig", PLUMB_FIELD_STRING, 0 },
	{ "allow-exec-credentials", PLUMB_FIELD_BOOL, 0 }, { "kustomize", PLUMB_FIELD_STRING, 0 },
	{ "helm", PLUMB_FIELD_STRING, 0 },
	/* A mapping in the file (NAME: CONTEXT), NAME=CONTEXT,... as a flag. */
	{ "clusters", PLUMB_FIELD_MAP, 0 },
	/* A list in the file, URL,... as a flag. */
	{ "repo-aliases", PLUMB_FIELD_LIST, 0 },
	{ "render-timeout", PLUMB_FIELD_STRING, 0 },
	{ "render-output-max", PLUMB_FIELD_STRING, 0 },
	{ PLUMB_CREDENTIALS_FIELD, PLUMB_FIELD_MAPS, 0 },
	{ "submodules", PLUMB_FIELD_BOOL, 0 },
	{ "allow-chart-fetch", PLUMB_FIELD_BOOL, 0 },
};

typedef struct {
	const char *config;
	const char *flag[K_COUNT]; /* a flag's value, NULL when not given: the config file's stands */
} serve_args;

static void set_string(char **slot, const char *value)
{
	free(*slot);
	*slot = value ? plumb_xstrdup(value) : NULL;
}

/* Apply one setting (from the file or a flag); where names it for messages. */
static int apply_setting(plumb_daemon_options *o, int key, const char *value, const char *where)
{
	unsigned ms;
	switch (key) {
	case K_REPO:
		set_string(&o->repo, value);
		return 0;
	case K_REVISION:
		set_string(&o->revision, value);
		return 0;
	case K_PATH:
		set_string(&o->path, value);
		return 0;
	case K_ROOT:
		set_string(&o->root, value);
		return 0;
	case K_STATE:
		set_string(&o->state, value);
		return 0;
	case K_LISTEN:
		set_string(&o->listen, value);
		return 0;
	case K_TOKENS:
		set_string(&o->tokens_file, value);
		return 0;
	case K_WEBHOOK_SECRET:
		set_string(&o->webhook_secret_file, value);
		return 0;
	case K_IDENTITY:
		set_string(&o->identity, value);
		return 0;
	case K_KUBECONFIG:
		set_string(&o->kubeconfig, value);
		return 0;
	case K_KUSTOMIZE:
		set_string(&o->kustomize, value);
		return 0;
	case K_HELM:
		set_string(&o->helm, value);
		return 0;
	case K_RENDER_TIMEOUT:
		if (plumb_duration_parse(&o->render_timeout_ms, value) < 0 || !o->render_timeout_ms)
			return plumb_error_set(PLUMB_EINVALID, "%s: '%s' is not a duration longer than 0 (e.g. 60s, 2m)",
					       where, value);
		return 0;
	case K_RENDER_OUTPUT_MAX: {
		char *end;
		unsigned long long n = strtoull(value, &end, 10);
		if (*value < '0' || *value > '9' || *end || !n || n > SIZE_MAX)
			return plumb_error_set(PLUMB_EINVALID, "%s: '%s' is not a size in bytes", where, value);
		o->render_output_max = (size_t)n;
		return 0;
	}
	case K_INTERVAL:
	case K_SELF_HEAL_INTERVAL:
		if (plumb_duration_parse(&ms, value) < 0 || ms < 100)
			return plumb_error_set(PLUMB_EINVALID, "%s: '%s' is not a duration of 100ms or more (e.g. 30s, 3m)",
					       where, value);
		*(key == K_INTERVAL ? &o->interval_ms : &o->self_heal_interval_ms) = ms;
		return 0;
	case K_PRUNE:
	case K_SELF_HEAL:
	case K_ALLOW_EXEC_CREDENTIALS:
	case K_SUBMODULES:
	case K_ALLOW_CHART_FETCH:
		if (strcmp(value, "true") != 0 && strcmp(value, "false") != 0)
			return plumb_error_set(PLUMB_EINVALID, "%s: expected true or false, got '%s'", where, value);
		*(key == K_PRUNE		      ? &o->prune
		  : key == K_SELF_HEAL		      ? &o->self_heal
		  : key == K_ALLOW_EXEC_CREDENTIALS ? &o->allow_exec
		  : key == K_SUBMODULES		      ? &o->submodules
						      : &o->allow_chart_fetch) = value[0] == 't';
		return 0;
	case K_APPROVAL:
		if (!strcmp(value, "auto"))
			o->approval = PLUMB_APPROVAL_AUTO;
		else if (!strcmp(value, "prompted"))
			o->approval = PLUMB_APPROVAL_PROMPTED;
		else if (!strcmp(value, "manual"))
			o->approval = PLUMB_APPROVAL_MANUAL;
		else
			return plumb_error_set(PLUMB_EINVALID, "%s: approval is auto, prompted or manual, not '%s'", where,
					       value);
		return 0;
	case K_CLUSTERS:
	case K_REPO_ALIASES: {
		char *list = plumb_xstrdup(value), *saved = NULL;
		int error = 0;
		for (char *item = strtok_r(list, ",", &saved); item && !error; item = strtok_r(NULL, ",", &saved)) {
			char *equals = strchr(item, '=');
			if (key == K_CLUSTERS && (!equals || equals == item || !equals[1]))
				error = plumb_error_set(PLUMB_EINVALID,
							"%s: '%s' is not NAME=CONTEXT (an Argo CD destination's name or "
							"server, and the kubeconfig context it means)",
							where, item);
			else if (key == K_CLUSTERS)
				plumb_daemon_options_add_name(&o->names.clusters, &o->names.cluster_count, item);
			else
				plumb_daemon_options_add_name(&o->names.repo_aliases, &o->names.repo_alias_count, item);
		}
		free(list);
		return error;
	}
	case K_CREDENTIALS:
		/* The flag names a file of them; the config file lists them (decode_credentials). */
		if (plumb_cli_load_credentials(&o->credentials, value) < 0)
			return plumb_error_wrap(PLUMB_EINVALID, "%s", where);
		return 0;
	case K_CAPTURE_MAX: {
		char *end;
		unsigned long long n = strtoull(value, &end, 10);
		if (*value < '0' || *value > '9' || *end || !n)
			return plumb_error_set(PLUMB_EINVALID, "%s: '%s' is not a size in bytes", where, value);
		o->capture_max = (size_t)n;
		return 0;
	}
	}
	return 0;
}

/* clusters: in the file, a mapping of an Argo CD destination's name or server to a kubeconfig context. */
static int config_clusters(plumb_daemon_options *o, const plumb_value *value, const char *where)
{
	json_t *map = value->string ? json_loads(value->string, 0, NULL) : NULL;
	const char *name;
	json_t *context;
	int error = 0;
	json_object_foreach(map, name, context) {
		if (!json_is_string(context) || !*json_string_value(context)) {
			error = plumb_error_set(PLUMB_EINVALID, "%s: %s: expected the name of a kubeconfig context", where,
						name);
			break;
		}
		char *entry = plumb_xprintf("%s=%s", name, json_string_value(context));
		plumb_daemon_options_add_name(&o->names.clusters, &o->names.cluster_count, entry);
		free(entry);
	}
	json_decref(map);
	return error;
}

/* credentials: in the config file, decoded while its document lives. */
static void decode_credentials(const plumb_value *values, plumb_diags *diags, void *payload)
{
	plumb_daemon_options *out = payload;
	if (values[K_CREDENTIALS].present)
		plumb_credentials_decode(&out->credentials, values[K_CREDENTIALS].maps, values[K_CREDENTIALS].map_count,
					 diags);
}

/*
 * A password in the URL would show in the API, the logs and the process
 * list: the daemon refuses it and says how to give it instead.
 */
static int refuse_url_password(const char *repo)
{
	char *bare = NULL;
	if (!plumb_source_url_has_password(&bare, repo))
		return 0;
	plumb_error_set(PLUMB_EINVALID,
			"the repository URL holds a password; plumb serve takes none there (it would show in logs, "
			"the API and the process list). Give the URL without it, %s, and the password in "
			"serve.yaml:\n"
			"  credentials:\n"
			"    - url: %s\n"
			"      username: USER\n"
			"      password: {file: /etc/plumb/git-token}   # or {env: VAR}, {command: [...]}, {age: FILE}\n"
			"(see docs/repositories.md)",
			bare, bare);
	free(bare);
	return PLUMB_EINVALID;
}

/* The options: defaults, then the config file, then the flags. */
static int build_options(plumb_daemon_options *out, const serve_args *args)
{
	plumb_daemon_options_init(out);
	out->render_self = PLUMB_CMD_SELF;
	if (args->config) {
		plumb_value values[K_COUNT];
		plumb_diags diags = PLUMB_DIAGS_INIT;
		int error = plumb_config_load_with(values, settings, K_COUNT, args->config, &diags, decode_credentials,
						   out);
		for (int k = 0; error == 0 && k < K_COUNT; k++) {
			if (!values[k].present || k == K_CREDENTIALS)
				continue;
			char *where = plumb_xprintf("%s:%u:%u: %s", args->config, values[k].position.line,
						    values[k].position.column, settings[k].name);
			if (k == K_CLUSTERS)
				error = config_clusters(out, &values[k], where);
			else if (k == K_REPO_ALIASES)
				for (size_t i = 0; i < values[k].list_count; i++)
					plumb_daemon_options_add_name(&out->names.repo_aliases, &out->names.repo_alias_count,
								      values[k].list[i]);
			else
				error = apply_setting(out, k, values[k].string, where);
			free(where);
		}
		if (diags.count)
			plumb_diags_set_error(&diags);
		plumb_values_release(values, K_COUNT);
		plumb_diags_release(&diags);
		if (error < 0)
			return error;
	}
	for (int k = 0; k < K_COUNT; k++) {
		if (!args->flag[k])
			continue;
		char *where = plumb_xprintf("--%s", settings[k].name);
		int error = apply_setting(out, k, args->flag[k], where);
		free(where);
		if (error < 0)
			return error;
	}
	if (!out->repo)
		return plumb_error_set(PLUMB_EINVALID, "a repository is required (--repo, or repo: in the config file)");
	return refuse_url_password(out->repo);
}

static int reload(plumb_daemon_options *out, void *payload)
{
	plumb_daemon_options_release(out);
	return build_options(out, payload);
}

int plumb_cmd_serve(int argc, char **argv)
{
	serve_args args;
	plumb_daemon_options options;
	struct option long_options[K_COUNT + 5];
	int n = 0;

	memset(&args, 0, sizeof(args));
	for (int k = 0; k < K_COUNT; k++)
		long_options[n++] = (struct option){ settings[k].name, required_argument, NULL, 1000 + k };
	long_options[n++] = (struct option){ "config", required_argument, NULL, 'C' };
	long_options[n++] = (struct option){ "no-prune", no_argument, NULL, 'P' };
	long_options[n++] = (struct option){ "no-self-heal", no_argument, NULL, 'H' };
	long_options[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	memset(&long_options[n], 0, sizeof(long_options[n]));

	optind = 1;
	opterr = 0;
	for (int c; (c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1;) {
		if (c >= 1000)
			args.flag[c - 1000] = optarg;
		else if (c == 'C')
			args.config = optarg;
		else if (c == 'P')
			args.flag[K_PRUNE] = "false";
		else if (c == 'H')
			args.flag[K_SELF_HEAL] = "false";
		else if (c == 'h')
			return plumb_cmd_help(2, (char *[]){ "help", "serve", NULL });
		else {
			fprintf(stderr, "plumb serve: %s %s (see 'plumb help serve')\n",
				c == ':' ? "option needs a value:" : "unknown option", argv[optind - 1]);
			return PLUMB_EXIT_ERROR;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "plumb serve: unexpected argument '%s'\n", argv[optind]);
		return PLUMB_EXIT_ERROR;
	}
	if (build_options(&options, &args) < 0) {
		fprintf(stderr, "plumb serve: %s\n", plumb_error_last());
		plumb_daemon_options_release(&options);
		return PLUMB_EXIT_ERROR;
	}
	int error = plumb_daemon_run(&options, reload, &args);
	plumb_daemon_options_release(&options);
	return error < 0 ? PLUMB_EXIT_ERROR : PLUMB_EXIT_OK;
}
