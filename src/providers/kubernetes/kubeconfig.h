/*
 * kubeconfig.h - which cluster to reach, and as whom, chosen as kubectl
 * chooses.
 *
 * The files: an explicit path (--kubeconfig), else $KUBECONFIG (a
 * ":"-separated list, merged as kubectl merges: each named cluster, user
 * and context comes from the first file that defines it, current-context
 * from the first file that sets one; files that do not exist are skipped),
 * else ~/.kube/config. When none of them holds anything (and no explicit
 * path was given), the in-cluster configuration: KUBERNETES_SERVICE_HOST
 * and KUBERNETES_SERVICE_PORT and the ServiceAccount directory's token,
 * ca.crt and namespace.
 *
 * Of the chosen context (--context, else current-context) plumb takes the
 * cluster's server (https only), certificate-authority(-data) and
 * tls-server-name, the user's client-certificate(-data) and
 * client-key(-data), token or tokenFile, or an exec credential plugin, and
 * the namespace. What plumb will not do is refused, never silently
 * ignored: insecure-skip-tls-verify, proxy-url, username/password,
 * auth-provider, impersonation, and an exec plugin unless the caller
 * allows it (running a program a kubeconfig names is how Flux's
 * CVE-2022-24817 ran code; see exec.h).
 *
 * Every error names the file and the field, with line:col, and never holds
 * a key or a token. Relative paths in a file are relative to its folder.
 */
#ifndef PLUMB_KUBE_KUBECONFIG_H
#define PLUMB_KUBE_KUBECONFIG_H

#include <sys/stat.h>

#include "util/buf.h"

/* Where a pod finds its ServiceAccount credentials. */
#define PLUMB_KUBE_SERVICEACCOUNT_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

typedef struct {
	const char *path;             /* --kubeconfig; NULL: $KUBECONFIG, else ~/.kube/config */
	const char *context;          /* --context; NULL: the current-context */
	int allow_exec;               /* run an exec credential plugin the context's user names */
	const char *exec_flag;        /* how a user allows it, for the refusal ("--allow-exec"); NULL: that */
	const char *serviceaccount_dir; /* in-cluster credentials; NULL: PLUMB_KUBE_SERVICEACCOUNT_DIR */
	/*
	 * Only which context, cluster, server and namespace: no CA, credential
	 * or token is read and no plugin runs (naming a cluster to find what
	 * the store recorded of it needs no way in).
	 */
	int names_only;
} plumb_kubeconfig_options;

typedef struct plumb_kube_exec plumb_kube_exec;

/*
 * The connection settings of one context. Key material is held in wiping
 * buffers: plumb_kubeconfig_free overwrites it before it frees it.
 */
typedef struct {
	char *origin;          /* the file the context came from, or the ServiceAccount directory in-cluster */
	char *context;         /* its name ("in-cluster" in a pod) */
	char *cluster;         /* the cluster's name */
	char *user;            /* the user's name (a ServiceAccount's in-cluster): for messages */
	char *server;          /* "https://host:port", no trailing slash */
	char *tls_server_name; /* the name the server's certificate is checked against; NULL: the server's host */
	char *namespace;       /* the context's, else "default" */
	int in_cluster;

	plumb_buf certificate_authority; /* PEM; empty: the system's trust store */
	plumb_buf client_certificate;    /* PEM; empty: none */
	plumb_buf client_key;            /* PEM, with client_certificate */
	plumb_buf token;                 /* a bearer token (from the file, the exec plugin or tokenFile's last read) */
	char *token_file;                /* read again whenever it changes (rotated ServiceAccount tokens); NULL: none */
	struct stat token_seen;          /* which token file was read last (private to kubeconfig.c) */
	plumb_kube_exec *exec;           /* the exec plugin that gave the credentials; NULL: none */
	long long exec_expiry;           /* when its credentials expire (Unix seconds); 0: never said */
	unsigned credentials_changed;    /* counts the exec plugin's answers: a client sets its certificate again */
} plumb_kubeconfig;

/*
 * Choose the context options names and read what it needs (certificate
 * files, a token file, the exec plugin's answer). *out is freed with
 * plumb_kubeconfig_free. Errors: PLUMB_ENOTFOUND (no kubeconfig and not
 * in a cluster, an explicit file missing, no such context), PLUMB_EINVALID
 * (a field plumb cannot read or will not honour), PLUMB_ERROR (a file
 * cannot be read, an exec plugin failed).
 */
int plumb_kubeconfig_load(plumb_kubeconfig **out, const plumb_kubeconfig_options *options);

/*
 * Bring the credentials up to date before a request: read the token file
 * again when it is no longer the one last read (one stat when it is), ask
 * the exec plugin again when what it gave expires within seconds. Errors
 * as for plumb_kubeconfig_load; the credentials are then the last good ones.
 */
int plumb_kubeconfig_renew(plumb_kubeconfig *config);

/*
 * Ask the exec plugin again (the server refused what it gave): replaces
 * token, client_certificate and client_key. PLUMB_ENOTFOUND when the
 * credentials do not come from one.
 */
int plumb_kubeconfig_refresh(plumb_kubeconfig *config);

/* Wipe the key material and free everything. NULL-safe. */
void plumb_kubeconfig_free(plumb_kubeconfig *config);

#endif
