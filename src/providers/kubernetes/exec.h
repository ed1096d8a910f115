/*
 * exec.h - a kubeconfig's exec credential plugin, run as client-go runs it.
 *
 * The plugin is a program the kubeconfig names (aws eks get-token,
 * gke-gcloud-auth-plugin, kubelogin...). It is run from argv, with no
 * shell, with standard input from /dev/null, plumb's environment plus the
 * kubeconfig's env entries and KUBERNETES_EXEC_INFO (an ExecCredential
 * whose spec says the session is not interactive, and holds the cluster
 * when provideClusterInfo asks for it), and it must print an
 * ExecCredential of the same apiVersion whose status holds a token, or a
 * client certificate and key (PEM), with an optional expirationTimestamp.
 *
 * Whether to run it at all is kubeconfig.c's decision (allow_exec): this
 * module only runs it.
 */
#ifndef PLUMB_KUBE_EXEC_H
#define PLUMB_KUBE_EXEC_H

#include <stddef.h>

#include "util/buf.h"

/* How long a plugin may take, and how much it may print. */
#define PLUMB_KUBE_EXEC_TIMEOUT_MS 60000u
#define PLUMB_KUBE_EXEC_OUTPUT_MAX (1u << 20)

/* What a kubeconfig's user.exec says; every string owned. */
typedef struct plumb_kube_exec plumb_kube_exec;
struct plumb_kube_exec {
	char *where;       /* "FILE:LINE:COL: user \"NAME\"": how messages name it */
	char *api_version; /* client.authentication.k8s.io/v1 or v1beta1 */
	char *command;     /* looked up in PATH unless it holds a "/" (then resolved against the kubeconfig's folder) */
	char **args;       /* NULL-terminated, argv[0] (command) first */
	char **env;        /* "NAME=value", NULL-terminated */
	char *install_hint;
	int provide_cluster_info;
	/* The cluster, for KUBERNETES_EXEC_INFO when provide_cluster_info. */
	char *server;
	char *tls_server_name;
	plumb_buf certificate_authority;
};

/* What a run of the plugin gave: buffers to be wiped by plumb_kube_exec_credential_release. */
typedef struct {
	plumb_buf token;
	plumb_buf client_certificate;
	plumb_buf client_key;
	long long expiry; /* Unix seconds; 0: the plugin gave none */
} plumb_kube_exec_credential;

/*
 * Run the plugin and read its ExecCredential into out (initialised here;
 * released by the caller either way). PLUMB_ERROR when it cannot be run,
 * fails, times out, or prints something that is not an ExecCredential of
 * its apiVersion; the message names exec->where and the command, and
 * holds the start of what the plugin wrote on standard error and its
 * install hint, never what it printed on standard output.
 */
int plumb_kube_exec_run(plumb_kube_exec_credential *out, const plumb_kube_exec *exec);

void plumb_kube_exec_credential_release(plumb_kube_exec_credential *credential);

/* NULL-safe. */
void plumb_kube_exec_free(plumb_kube_exec *exec);

#endif
