#include "util/common.h"
#include "cmd/cmd.h"
#include "secrets/credentials.h"
#include "serve/config.h"
#include "util/duration.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const struct {
	struct option option;
	unsigned mask;
} known_options[] = {
	{ { "repo", required_argument, NULL, 'r' }, OPT_REPO },
	{ { "credentials", required_argument, NULL, 'a' }, OPT_REPO },
	{ { "submodules", no_argument, NULL, 'u' }, OPT_REPO },
	{ { "revision", required_argument, NULL, 'R' }, OPT_REVISION },
	{ { "path", required_argument, NULL, 'p' }, OPT_PATH },
	{ { "root", required_argument, NULL, 'd' }, OPT_ROOT },
	{ { "state", required_argument, NULL, 's' }, OPT_STATE },
	{ { "kustomize", required_argument, NULL, 'k' }, OPT_PATH },
	{ { "helm", required_argument, NULL, 'H' }, OPT_PATH },
	{ { "cluster", required_argument, NULL, 'j' }, OPT_PATH },
	{ { "repo-alias", required_argument, NULL, 'A' }, OPT_PATH },
	{ { "render-timeout", required_argument, NULL, 'e' }, OPT_PATH },
	{ { "render-output-max", required_argument, NULL, 'U' }, OPT_PATH },
	{ { "allow-chart-fetch", no_argument, NULL, 'G' }, OPT_PATH },
	{ { "output", required_argument, NULL, 'o' }, OPT_OUTPUT },
	{ { "auto-approve", no_argument, NULL, 'y' }, OPT_AUTO_APPROVE },
	{ { "detailed-exitcode", no_argument, NULL, 'x' }, OPT_DETAILED_EXITCODE },
	{ { "no-color", no_argument, NULL, 'n' }, OPT_NO_COLOR },
	{ { "out", required_argument, NULL, 'O' }, OPT_OUT },
	{ { "allow-moved-revision", no_argument, NULL, 'm' }, OPT_ALLOW_MOVED_REVISION },
	{ { "lock-timeout", required_argument, NULL, 'l' }, OPT_LOCK_TIMEOUT },
	{ { "capture-max", required_argument, NULL, 'c' }, OPT_CAPTURE_MAX },
	{ { "limit", required_argument, NULL, 'L' }, OPT_LIMIT },
	{ { "identity", required_argument, NULL, 'i' }, OPT_IDENTITY },
	{ { "staged", no_argument, NULL, 'S' }, OPT_STAGED },
	{ { "kubeconfig", required_argument, NULL, 'K' }, OPT_CLUSTER | OPT_CLUSTER_NAME },
	{ { "context", required_argument, NULL, 'C' }, OPT_CLUSTER | OPT_CLUSTER_NAME },
	{ { "namespace", required_argument, NULL, 'N' }, OPT_CLUSTER },
	{ { "create-namespace", no_argument, NULL, 'Z' }, OPT_CLUSTER },
	{ { "force-conflicts", no_argument, NULL, 'F' }, OPT_CLUSTER },
	{ { "allow-mass-prune", no_argument, NULL, 'M' }, OPT_CLUSTER },
	{ { "allow-exec-credentials", no_argument, NULL, 'E' }, OPT_CLUSTER },
	{ { "health-timeout", required_argument, NULL, 'T' }, OPT_CLUSTER },
};

/* A size in bytes: digits and an optional K, M or G (powers of 1024). */
static int parse_size(size_t *out, const char *text)
{
	char *end;
	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	unsigned long long n = strtoull(text, &end, 10);
	unsigned shift = 0;
	if (*end == 'K' || *end == 'k')
		shift = 10, end++;
	else if (*end == 'M' || *end == 'm')
		shift = 20, end++;
	else if (*end == 'G' || *end == 'g')
		shift = 30, end++;
	if (*end || errno || n > (SIZE_MAX >> shift))
		return -1;
	*out = (size_t)(n << shift);
	return 0;
}

/*
 * The credentials --credentials names, for the one command a process runs:
 * kept until it exits, when they are freed (their table is borrowed by
 * every source the command opens).
 */
static plumb_credentials *cli_credentials;
static char *cli_state; /* where a host key accepted on first use is recorded in the audit log */

static void free_cli_credentials(void)
{
	plumb_credentials_free(cli_credentials);
	cli_credentials = NULL;
	free(cli_state);
	cli_state = NULL;
}

/* What a fetch reports: warnings on stderr; a host key accepted on first use there and in the audit log. */
static void cli_notice(plumb_source_notice kind, const char *url, const char *message, void *payload)
{
	plumb_store *store = NULL;
	if (kind == PLUMB_SOURCE_NOTICE_WARNING) {
		fprintf(stderr, "plumb: warning: %s\n", message);
		return;
	}
	fprintf(stderr, "plumb: added the host key of %s to known_hosts: %s\n", url, message);
	json_t *detail = json_pack("{s:s, s:s}", "repo", url, "known_hosts", message);
	char *text = json_dumps(detail, JSON_COMPACT);
	char *actor = plumb_actor();
	if (plumb_store_open(&store, cli_state) < 0 ||
	    plumb_store_audit_append(store, actor, "known_hosts.add", url, text) < 0)
		fprintf(stderr, "plumb: cannot record the accepted host key in the audit log: %s\n", plumb_error_last());
	plumb_store_free(store);
	free(actor);
	free(text);
	json_decref(detail);
}

static void decode_credentials(const plumb_value *values, plumb_diags *diags, void *payload)
{
	plumb_credentials **out = payload;
	plumb_credentials_decode(out, values[0].maps, values[0].map_count, diags);
}

int plumb_cli_load_credentials(plumb_credentials **out, const char *path)
{
	static const plumb_field fields[] = { { PLUMB_CREDENTIALS_FIELD, PLUMB_FIELD_MAPS, PLUMB_FIELD_REQUIRED } };
	plumb_value values[1];
	plumb_diags diags = PLUMB_DIAGS_INIT;
	plumb_credentials *loaded = NULL;
	int error = plumb_config_load_with(values, fields, 1, path, &diags, decode_credentials, &loaded);

	if (diags.count)
		plumb_diags_set_error(&diags);
	plumb_values_release(values, 1);
	plumb_diags_release(&diags);
	if (error < 0) {
		plumb_credentials_free(loaded);
		return error;
	}
	plumb_credentials_free(*out);
	*out = loaded;
	return 0;
}

/* Read the file --credentials names: a credentials: list, as in serve.yaml. */
static int load_credentials(const char *command, const char *path)
{
	plumb_credentials *loaded = NULL;
	if (plumb_cli_load_credentials(&loaded, path) < 0) {
		fprintf(stderr, "plumb %s: --credentials: %s\n", command, plumb_error_last());
		return -1;
	}
	free_cli_credentials();
	if (!cli_credentials)
		atexit(free_cli_credentials);
	cli_credentials = loaded;
	return 0;
}

/* What the options say of the repository: its credentials, and a warning for a password in its URL. */
static int finish_repository(plumb_cli *cli, const char *command, const char *credentials_file)
{
	char *bare = NULL;
	if (cli->pipeline.repo && plumb_source_url_has_password(&bare, cli->pipeline.repo)) {
		fprintf(stderr,
			"plumb %s: warning: --repo holds a password, which shows in the process list and shell history; "
			"give %s with a credentials file instead (--credentials FILE, see docs/repositories.md)\n",
			command, bare);
		free(bare);
	}
	if (!credentials_file)
		return 0;
	if (load_credentials(command, credentials_file) < 0)
		return -1;
	char *state = cli->pipeline.state ? plumb_xstrdup(cli->pipeline.state) : plumb_default_state_dir();
	char *identity = cli->pipeline.identity ? plumb_xstrdup(cli->pipeline.identity)
						: plumb_xprintf("%s/identity", state);
	plumb_credentials_set_context(cli_credentials, identity, cli_notice, NULL);
	cli->pipeline.credentials = plumb_credentials_table(cli_credentials);
	free(identity);
	free(cli_state);
	cli_state = state;
	return 0;
}

int plumb_cli_parse(plumb_cli *cli, int argc, char **argv, unsigned mask)
{
	const char *credentials_file = NULL;
	struct option options[PLUMB_ARRAY_SIZE(known_options) + 2];
	size_t n = 0;
	int no_color = 0;

	memset(cli, 0, sizeof(*cli));
	cli->output = "text";
	cli->pipeline.render_self = PLUMB_CMD_SELF;
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(known_options); i++)
		if (known_options[i].mask & mask)
			options[n++] = known_options[i].option;
	options[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	memset(&options[n], 0, sizeof(options[n]));

	optind = 1;
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, (mask & OPT_OUTPUT) ? ":o:h" : ":h", options, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'r':
			cli->pipeline.repo = optarg;
			break;
		case 'a':
			credentials_file = optarg;
			break;
		case 'u':
			cli->pipeline.submodules = 1;
			break;
		case 'R':
			cli->pipeline.revision = optarg;
			break;
		case 'p':
			cli->pipeline.path = optarg;
			break;
		case 'd':
			cli->pipeline.root = optarg;
			break;
		case 's':
			cli->pipeline.state = optarg;
			break;
		case 'k':
			cli->pipeline.kustomize = optarg;
			break;
		case 'H':
			cli->pipeline.helm = optarg;
			break;
		case 'j':
			if (!strchr(optarg, '=') || optarg[0] == '=' || !strchr(optarg, '=')[1]) {
				fprintf(stderr, "plumb %s: --cluster takes NAME=CONTEXT (an Argo CD destination's name or "
						"server, and the kubeconfig context it means), not '%s'\n",
					argv[0], optarg);
				return -1;
			}
			if (cli->pipeline.names.cluster_count == PLUMB_CLI_NAMES_MAX) {
				fprintf(stderr, "plumb %s: at most %d --cluster options\n", argv[0], PLUMB_CLI_NAMES_MAX);
				return -1;
			}
			cli->clusters[cli->pipeline.names.cluster_count++] = optarg;
			cli->pipeline.names.clusters = cli->clusters;
			break;
		case 'e':
			if (plumb_duration_parse(&cli->pipeline.render_timeout_ms, optarg) < 0 ||
			    !cli->pipeline.render_timeout_ms) {
				fprintf(stderr, "plumb %s: --render-timeout: '%s' is not a duration longer than 0 (e.g. 60s, 2m)\n",
					argv[0], optarg);
				return -1;
			}
			break;
		case 'G':
			cli->pipeline.allow_chart_fetch = 1;
			break;
		case 'U':
			if (parse_size(&cli->pipeline.render_output_max, optarg) < 0 || !cli->pipeline.render_output_max) {
				fprintf(stderr, "plumb %s: --render-output-max: '%s' is not a size such as 64M\n", argv[0],
					optarg);
				return -1;
			}
			break;
		case 'A':
			if (cli->pipeline.names.repo_alias_count == PLUMB_CLI_NAMES_MAX) {
				fprintf(stderr, "plumb %s: at most %d --repo-alias options\n", argv[0], PLUMB_CLI_NAMES_MAX);
				return -1;
			}
			cli->repo_aliases[cli->pipeline.names.repo_alias_count++] = optarg;
			cli->pipeline.names.repo_aliases = cli->repo_aliases;
			break;
		case 'o':
			cli->output = optarg;
			break;
		case 'y':
			cli->auto_approve = 1;
			break;
		case 'x':
			cli->detailed_exitcode = 1;
			break;
		case 'n':
			no_color = 1;
			break;
		case 'O':
			cli->out = optarg;
			break;
		case 'i':
			cli->pipeline.identity = optarg;
			break;
		case 'S':
			cli->staged = 1;
			break;
		/* Naming a cluster makes the implicit application a Kubernetes one. */
		case 'K':
			cli->pipeline.kubeconfig = optarg;
			cli->pipeline.kubernetes = 1;
			break;
		case 'C':
			cli->pipeline.context = optarg;
			cli->pipeline.kubernetes = 1;
			break;
		case 'N':
			cli->pipeline.namespace = optarg;
			cli->pipeline.kubernetes = 1;
			break;
		case 'Z':
			cli->pipeline.create_namespace = 1;
			cli->pipeline.kubernetes = 1;
			break;
		case 'E':
			cli->pipeline.allow_exec = 1;
			break;
		case 'F':
			cli->pipeline.force_conflicts = 1;
			break;
		case 'M':
			cli->pipeline.allow_mass_prune = 1;
			break;
		case 'm':
			cli->allow_moved_revision = 1;
			break;
		case 'L': {
			char *end;
			errno = 0;
			unsigned long count = optarg[0] >= '0' && optarg[0] <= '9' ? strtoul(optarg, &end, 10) : 0;
			if (!count || errno || *end || count > UINT_MAX) {
				fprintf(stderr, "plumb %s: --limit must be a positive whole number, not '%s'\n", argv[0],
					optarg);
				return -1;
			}
			cli->limit = (unsigned)count;
			break;
		}
		case 'c':
			if (parse_size(&cli->pipeline.capture_max, optarg) < 0 || !cli->pipeline.capture_max) {
				fprintf(stderr, "plumb %s: --capture-max: '%s' is not a size such as 65536, 512K or 4M\n",
					argv[0], optarg);
				return -1;
			}
			break;
		case 'T':
			if (plumb_duration_parse(&cli->pipeline.health_timeout_ms, optarg) < 0) {
				fprintf(stderr, "plumb %s: --health-timeout: %s\n", argv[0], plumb_error_last());
				return -1;
			}
			if (!cli->pipeline.health_timeout_ms) {
				fprintf(stderr, "plumb %s: --health-timeout must be longer than 0\n", argv[0]);
				return -1;
			}
			break;
		case 'l':
			if (plumb_duration_parse(&cli->lock_timeout_ms, optarg) < 0) {
				fprintf(stderr, "plumb %s: --lock-timeout: %s\n", argv[0], plumb_error_last());
				return -1;
			}
			break;
		case 'h':
			plumb_cmd_help(2, (char *[]){ "help", argv[0], NULL });
			exit(PLUMB_EXIT_OK);
		case ':':
			fprintf(stderr, "plumb %s: option %s needs a value\n", argv[0], argv[optind - 1]);
			return -1;
		default:
			fprintf(stderr, "plumb %s: unknown option %s (see 'plumb help %s')\n", argv[0], argv[optind - 1],
				argv[0]);
			return -1;
		}
	}
	if ((mask & OPT_OUT) && strcmp(cli->output, "text") != 0 && strcmp(cli->output, "json") != 0) {
		cli->out = cli->output;
		cli->output = "text";
	}
	if (strcmp(cli->output, "text") != 0 && strcmp(cli->output, "json") != 0 &&
	    !((mask & OPT_OUTPUT_YAML) && !strcmp(cli->output, "yaml"))) {
		fprintf(stderr, "plumb %s: -o must be %s, not '%s'\n", argv[0],
			(mask & OPT_OUTPUT_YAML) ? "yaml or json" : "text or json", cli->output);
		return -1;
	}
	cli->args = argv + optind;
	cli->arg_count = argc - optind;
	if (finish_repository(cli, argv[0], credentials_file) < 0)
		return -1;
	const char *env = getenv("NO_COLOR");
	cli->color = !no_color && !(env && *env) && isatty(STDOUT_FILENO);
	return 0;
}

int plumb_cli_json(const plumb_cli *cli)
{
	return !strcmp(cli->output, "json");
}

plumb_lock *plumb_cli_lock(const plumb_cli *cli, const char *state_dir, const char *purpose)
{
	plumb_lock *lock = NULL;
	if (plumb_lock_acquire(&lock, state_dir, purpose, cli->lock_timeout_ms) < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		return NULL;
	}
	return lock;
}

int plumb_cli_destination(char **out, char **context, const plumb_cli *cli, int any)
{
	*out = *context = NULL;
	if (cli->pipeline.root && cli->pipeline.kubernetes) {
		fprintf(stderr, "plumb: --root names a host root and --kubeconfig, --context or --namespace a cluster: "
				"give one of them\n");
		return -1;
	}
	if (!cli->pipeline.root && !cli->pipeline.kubernetes && any)
		return 0;
	if (plumb_pipeline_destination_name(out, context, &cli->pipeline) < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		return -1;
	}
	return 0;
}

int plumb_cli_parse_id(int64_t *out, const char *text)
{
	char *end = NULL;
	errno = 0;
	long long id = text[0] >= '0' && text[0] <= '9' ? strtoll(text, &end, 10) : 0;
	if (errno || id < 1 || *end)
		return -1;
	*out = (int64_t)id;
	return 0;
}

const char *plumb_cli_cell(const char *value)
{
	return value && *value ? value : "-";
}

size_t plumb_cli_widest(size_t width, const char *value)
{
	size_t len = strlen(plumb_cli_cell(value));
	return len > width ? len : width;
}

void plumb_cli_print_json(json_t *doc)
{
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(doc);
}
