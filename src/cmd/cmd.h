/*
 * cmd.h - the command-line commands, one file each, and what they share:
 * the option parser and the table that main and help read.
 *
 * A command returns its exit code: 0 success, 1 error, 2 (plan with
 * --detailed-exitcode) changes found.
 */
#ifndef PLUMB_CMD_H
#define PLUMB_CMD_H

#include <jansson.h>

#include "store/lock.h"
#include "util/clock.h"
#include "pipeline/pipeline.h"
#include "secrets/credentials.h"

enum {
	PLUMB_EXIT_OK = 0,
	PLUMB_EXIT_ERROR = 1,
	PLUMB_EXIT_CHANGES = 2,
};

/* Options a command may accept; each command names its own in a mask. */
enum {
	OPT_REPO = 1u << 0,
	OPT_REVISION = 1u << 1,
	OPT_PATH = 1u << 2,
	OPT_ROOT = 1u << 3,
	OPT_STATE = 1u << 4,
	OPT_OUTPUT = 1u << 5,
	OPT_AUTO_APPROVE = 1u << 6,
	OPT_DETAILED_EXITCODE = 1u << 7,
	OPT_NO_COLOR = 1u << 8,
	OPT_OUT = 1u << 9,
	OPT_ALLOW_MOVED_REVISION = 1u << 10,
	OPT_LOCK_TIMEOUT = 1u << 11,
	OPT_OUTPUT_YAML = 1u << 12, /* -o yaml is a format too (render) */
	OPT_CAPTURE_MAX = 1u << 13,
	OPT_LIMIT = 1u << 14,
	OPT_IDENTITY = 1u << 15,
	OPT_STAGED = 1u << 16,
	OPT_CLUSTER = 1u << 17, /* --kubeconfig, --context, --namespace, --allow-exec-credentials, --health-timeout, ... */
	OPT_CLUSTER_NAME = 1u << 18, /* --kubeconfig and --context only: a cluster named, never reached */
};
#define OPT_SOURCE (OPT_REPO | OPT_REVISION | OPT_PATH | OPT_STATE)

/* How many --cluster and --repo-alias options a command takes. */
#define PLUMB_CLI_NAMES_MAX 64

typedef struct {
	plumb_pipeline_options pipeline;
	const char *output; /* -o: "text" unless given */
	const char *out;    /* --out FILE, or -o FILE when FILE is not a format name */
	int allow_moved_revision;
	unsigned lock_timeout_ms;
	unsigned limit; /* --limit N: at most N entries (0: all) */
	int auto_approve;
	int detailed_exitcode;
	int staged; /* --staged: the index of a work tree, not a revision */
	int color; /* stdout is a terminal, NO_COLOR is unset and --no-color was not given */
	char **args; /* operands after the options */
	int arg_count;
	const char *clusters[PLUMB_CLI_NAMES_MAX];     /* --cluster NAME=CONTEXT, pipeline.names' */
	const char *repo_aliases[PLUMB_CLI_NAMES_MAX]; /* --repo-alias URL, pipeline.names' */
} plumb_cli;

/*
 * Parse argv (argv[0] is the command name) accepting the options in mask.
 * Returns 0, or prints a message naming the bad option and returns -1.
 * With OPT_OUT, "-o FILE" for anything but "text" and "json" means --out FILE.
 */
int plumb_cli_parse(plumb_cli *cli, int argc, char **argv, unsigned mask);

/*
 * Read a credentials file (a credentials: list, as in serve.yaml) into
 * *out, replacing (freeing) what it held. PLUMB_EINVALID with every
 * problem, "FILE:LINE:COL: message", in one message.
 */
int plumb_cli_load_credentials(plumb_credentials **out, const char *path);

/*
 * Run step for every application the command names: the applications that
 * --path (default: the top) declares, in order (waves, then dependsOn), or
 * the one named by operand (NULL: all). A path without Applications is one
 * implicit application. Each step gets a pipeline resolved and loaded for
 * its application (its repository, revision, path, destination below
 * --root, name). An application whose dependency failed is not run: it
 * says so. Returns 0 when every step returned 0, else the first error.
 */
typedef int (*plumb_application_step)(plumb_pipeline *p, void *payload);
int plumb_cli_each_application(const plumb_cli *cli, const char *operand, FILE *info, plumb_application_step step,
			       void *payload);

/*
 * The destination the command line names, as plans and the store name it:
 * --root's absolute path, or with --kubeconfig, --context or --namespace a
 * cluster's "kubernetes https://SERVER", read from the kubeconfig alone
 * (nothing is connected to), and *context the kubeconfig context (NULL for
 * a root). With neither: "/", or NULL (every destination) when any. 0, or
 * -1 after printing why not.
 */
int plumb_cli_destination(char **out, char **context, const plumb_cli *cli, int any);

/*
 * Point options at application a: its path and name, where it goes (its
 * root below root, a new string in *app_root that options->root points at;
 * or a cluster, its context and namespace over the command line's) and its
 * sync policy (prune, createNamespace, ForceConflicts; healthTimeout unless
 * the command line gives one). Strings borrowed from a, which must outlive
 * options.
 */
void plumb_cli_application_options(plumb_pipeline_options *options, char **app_root, const plumb_application *a,
				   const char *root);

/* A record id as given on the command line: a positive whole number. 0 or -1 (not one). */
int plumb_cli_parse_id(int64_t *out, const char *text);

/* What a table cell shows for a value: "-" for none, since a blank cell reads as a misaligned column. */
const char *plumb_cli_cell(const char *value);

/* The wider of width and value's cell (for aligning table columns). */
size_t plumb_cli_widest(size_t width, const char *value);

/* Print a JSON document for -o json, indented, and release it. */
void plumb_cli_print_json(json_t *doc);

/* "json" asked for with -o. */
int plumb_cli_json(const plumb_cli *cli);

/* Take the state directory's lock for purpose, printing why not; NULL on failure. */
plumb_lock *plumb_cli_lock(const plumb_cli *cli, const char *state_dir, const char *purpose);

int plumb_cmd_check(int argc, char **argv);
int plumb_cmd_render(int argc, char **argv);
int plumb_cmd_plan(int argc, char **argv);
int plumb_cmd_apply(int argc, char **argv);
int plumb_cmd_sync(int argc, char **argv);
int plumb_cmd_status(int argc, char **argv);
int plumb_cmd_history(int argc, char **argv);
int plumb_cmd_audit(int argc, char **argv);
int plumb_cmd_rollback(int argc, char **argv);
int plumb_cmd_drift(int argc, char **argv);
int plumb_cmd_serve(int argc, char **argv);
int plumb_cmd_show(int argc, char **argv);
int plumb_cmd_approvals(int argc, char **argv);
int plumb_cmd_approve(int argc, char **argv);
int plumb_cmd_reject(int argc, char **argv);
int plumb_cmd_secret(int argc, char **argv);
int plumb_cmd_hook(int argc, char **argv);
int plumb_cmd_version(int argc, char **argv);
/* "plumb help [COMMAND]": every command with its summary, or COMMAND's options; 1 for an unknown one. */
int plumb_cmd_help(int argc, char **argv);

/*
 * This program, as the renderers run it again: the jsonnet child
 * (render/jsonnet_child.h) is started from the file this process was
 * started from, whatever name or PATH it was called by.
 */
#define PLUMB_CMD_SELF "/proc/self/exe"

/* `plumb __jsonnet-evaluate ...`: the child that evaluates one jsonnet file (render/jsonnet_child.h); not in help. */
int plumb_cmd_jsonnet_evaluate(int argc, char **argv);

#endif
