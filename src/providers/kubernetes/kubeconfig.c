#include "util/common.h"
#include "providers/kubernetes/kubeconfig.h"
#include "providers/kubernetes/exec.h"
#include "providers/kubernetes/kubefile.h"
#include "resource/spec_internal.h"
#include "util/buf.h"

#include <sys/stat.h>
#include <time.h>

/* An exec credential is asked for again this many seconds before it expires. */
#define EXPIRY_MARGIN_S 10

/* A named cluster, user or context: the first file that names it wins. */
typedef struct {
	const char *name;
	struct fy_node *item; /* the list item {name: ..., cluster: {...}}, for positions */
	struct fy_node *body; /* its cluster, user or context mapping; NULL when it has none */
	const plumb_kubefile *file;
} named;

typedef struct {
	named *items;
	size_t count;
	size_t capacity;
} named_list;

typedef struct {
	plumb_kubefile **files; /* each allocated apart: entries point at their file */
	size_t file_count;
	named_list clusters, users, contexts;
	const char *current_context;
	struct fy_node *current_node;
	const plumb_kubefile *current_file;
} merged_config;

/* --- the files, merged ------------------------------------------------------------------ */

/* Add what list (clusters, users or contexts) of file names to into, where no earlier file named it. */
static int merge_list(named_list *into, const plumb_kubefile *file, struct fy_node *root, const char *list,
		      const char *body_key)
{
	struct fy_node *node = plumb_kubefile_lookup(root, list), *item;
	void *iter = NULL;

	if (plumb_kubefile_is_null(node))
		return 0;
	if (fy_node_get_type(node) != FYNT_SEQUENCE)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, node, "%s: expected a list", list);
	for (size_t index = 0; (item = fy_node_sequence_iterate(node, &iter)) != NULL; index++) {
		char what[64];
		const char *name;
		int error;
		snprintf(what, sizeof(what), "%s[%zu]", list, index);
		if (fy_node_get_type(item) != FYNT_MAPPING)
			return plumb_kubefile_fail(PLUMB_EINVALID, file, item, "%s: expected a mapping", what);
		if ((error = plumb_kubefile_string(&name, file, item, what, "name")) < 0)
			return error;
		if (!name)
			return plumb_kubefile_fail(PLUMB_EINVALID, file, item, "%s: has no name", what);
		struct fy_node *body = plumb_kubefile_lookup(item, body_key);
		if (!plumb_kubefile_is_null(body) && fy_node_get_type(body) != FYNT_MAPPING)
			return plumb_kubefile_fail(PLUMB_EINVALID, file, body,
						   "%s \"%s\": %s: expected a mapping", list, name,
						   body_key);
		size_t i;
		for (i = 0; i < into->count && strcmp(into->items[i].name, name) != 0; i++)
			;
		if (i < into->count)
			continue;
		PLUMB_GROW(into->items, into->count, into->capacity);
		into->items[into->count++] = (named){ name, item, plumb_kubefile_is_null(body) ? NULL : body, file };
	}
	return 0;
}

static int merge_file(merged_config *merged, const plumb_kubefile *file)
{
	struct fy_node *root = fy_document_root(file->doc);
	int error;

	if (plumb_kubefile_is_null(root))
		return 0; /* an empty file adds nothing */
	if (fy_node_get_type(root) != FYNT_MAPPING)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, root, "expected a kubeconfig (a mapping)");
	if ((error = merge_list(&merged->clusters, file, root, "clusters", "cluster")) < 0 ||
	    (error = merge_list(&merged->users, file, root, "users", "user")) < 0 ||
	    (error = merge_list(&merged->contexts, file, root, "contexts", "context")) < 0)
		return error;
	if (!merged->current_context) {
		if ((error = plumb_kubefile_string(&merged->current_context, file, root, "kubeconfig", "current-context")) < 0)
			return error;
		merged->current_node = plumb_kubefile_lookup(root, "current-context");
		merged->current_file = file;
	}
	return 0;
}

/* Read and merge path; a missing file is skipped unless required. */
static int add_file(merged_config *merged, const char *path, int required)
{
	for (size_t i = 0; i < merged->file_count; i++)
		if (!strcmp(merged->files[i]->path, path))
			return 0; /* listed twice in KUBECONFIG: read once */
	plumb_kubefile *file = NULL;
	int error = plumb_kubefile_open(&file, path, required);
	if (error < 0 || !file)
		return error;
	merged->files = plumb_xrealloc(merged->files, (merged->file_count + 1) * sizeof(*merged->files));
	merged->files[merged->file_count++] = file;
	return merge_file(merged, file);
}

static void merged_release(merged_config *merged)
{
	for (size_t i = 0; i < merged->file_count; i++)
		plumb_kubefile_free(merged->files[i]);
	free(merged->files);
	free(merged->clusters.items);
	free(merged->users.items);
	free(merged->contexts.items);
}

/* Read and merge the files kubectl would read, in its order. */
static int read_files(merged_config *merged, const plumb_kubeconfig_options *options)
{
	const char *list = getenv("KUBECONFIG");
	int error = 0;

	if (options->path)
		return add_file(merged, options->path, 1);
	if (list && *list) {
		char *copy = plumb_xstrdup(list);
		for (char *start = copy, *end; start && error == 0; start = end ? end + 1 : NULL) {
			end = strchr(start, ':');
			if (end)
				*end = '\0';
			if (*start)
				error = add_file(merged, start, 0);
		}
		free(copy);
		return error;
	}
	const char *home = getenv("HOME");
	if (home && *home) {
		char *path = plumb_xprintf("%s/.kube/config", home);
		error = add_file(merged, path, 0);
		free(path);
	}
	return error;
}

static const named *find(const named_list *list, const char *name)
{
	for (size_t i = 0; i < list->count; i++)
		if (!strcmp(list->items[i].name, name))
			return &list->items[i];
	return NULL;
}

/* "a, b" of the files read, for a message. A new string. */
static char *file_names(const merged_config *merged)
{
	plumb_buf out = PLUMB_BUF_INIT;
	for (size_t i = 0; i < merged->file_count; i++)
		plumb_buf_printf(&out, "%s%s", i ? ", " : "", merged->files[i]->path);
	return plumb_buf_detach(&out, NULL);
}

/* --- the context ------------------------------------------------------------------------- */

static int read_cluster(plumb_kubeconfig *config, const named *cluster, int names_only)
{
	const plumb_kubefile *file = cluster->file;
	struct fy_node *map = cluster->body;
	char what[320];
	const char *server, *tls_server_name, *proxy;
	int insecure, given, error;

	snprintf(what, sizeof(what), "cluster \"%.256s\"", cluster->name);
	if (!map)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, cluster->item, "%s: has no cluster mapping", what);
	if ((error = plumb_kubefile_bool(&insecure, file, map, what, "insecure-skip-tls-verify")) < 0)
		return error;
	if (insecure)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, plumb_kubefile_lookup(map, "insecure-skip-tls-verify"),
					   "%s: insecure-skip-tls-verify: true is refused: plumb always verifies the server's "
					   "certificate (give its CA as certificate-authority or certificate-authority-data)",
					   what);
	if ((error = plumb_kubefile_string(&proxy, file, map, what, "proxy-url")) < 0)
		return error;
	if (proxy)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, plumb_kubefile_lookup(map, "proxy-url"),
					   "%s: proxy-url is not supported: set HTTPS_PROXY (and NO_PROXY) in plumb's "
					   "environment instead",
					   what);
	if ((error = plumb_kubefile_string(&server, file, map, what, "server")) < 0 ||
	    (error = plumb_kubefile_string(&tls_server_name, file, map, what, "tls-server-name")) < 0)
		return error;
	if (!server)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, map, "%s: has no server", what);
	if (strncmp(server, "https://", 8) != 0 || !server[8])
		return plumb_kubefile_fail(PLUMB_EINVALID, file, plumb_kubefile_lookup(map, "server"),
					   "%s: server \"%.200s\" is refused: plumb only talks to a cluster over https://", what,
					   server);
	size_t length = strlen(server);
	while (length > 8 && server[length - 1] == '/')
		length--;
	config->server = plumb_xstrndup(server, length);
	config->tls_server_name = tls_server_name ? plumb_xstrdup(tls_server_name) : NULL;
	if (names_only)
		return 0;
	return plumb_kubefile_material(&config->certificate_authority, &given, file, map, what, "certificate-authority",
				       "certificate-authority-data");
}

static int read_strings(char ***out, const plumb_kubefile *file, struct fy_node *node, const char *what, const char *first)
{
	struct fy_node *item;
	void *iter = NULL;
	size_t count = first ? 1 : 0;

	size_t items = node && fy_node_get_type(node) == FYNT_SEQUENCE ? (size_t)fy_node_sequence_item_count(node) : 0;
	*out = plumb_xcalloc(2 + items, sizeof(**out));
	if (first)
		(*out)[0] = plumb_xstrdup(first);
	if (plumb_kubefile_is_null(node))
		return 0;
	if (fy_node_get_type(node) != FYNT_SEQUENCE)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, node, "%s: expected a list", what);
	while ((item = fy_node_sequence_iterate(node, &iter)) != NULL) {
		if (fy_node_get_type(item) != FYNT_SCALAR || fy_node_is_alias(item))
			return plumb_kubefile_fail(PLUMB_EINVALID, file, item, "%s: every item must be a string", what);
		(*out)[count++] = plumb_xstrdup(fy_node_get_scalar0(item));
	}
	return 0;
}

/* user.exec of a user: what to run (whether to is the caller's decision). */
static int read_exec(plumb_kube_exec **out, const plumb_kubefile *file, struct fy_node *map, const char *what)
{
	plumb_kube_exec *exec = plumb_xcalloc(1, sizeof(*exec));
	const char *command, *api_version, *hint, *mode;
	struct fy_node *env = plumb_kubefile_lookup(map, "env"), *item;
	void *iter = NULL;
	size_t count = 0;
	int error;

	plumb_buf_init(&exec->certificate_authority);
	*out = exec;
	if ((error = plumb_kubefile_string(&command, file, map, what, "command")) < 0 ||
	    (error = plumb_kubefile_string(&api_version, file, map, what, "apiVersion")) < 0 ||
	    (error = plumb_kubefile_string(&hint, file, map, what, "installHint")) < 0 ||
	    (error = plumb_kubefile_string(&mode, file, map, what, "interactiveMode")) < 0 ||
	    (error = plumb_kubefile_bool(&exec->provide_cluster_info, file, map, what, "provideClusterInfo")) < 0)
		return error;
	if (!command)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, map, "%s: exec: has no command", what);
	if (!api_version || (strcmp(api_version, "client.authentication.k8s.io/v1") != 0 &&
			     strcmp(api_version, "client.authentication.k8s.io/v1beta1") != 0))
		return plumb_kubefile_fail(PLUMB_EINVALID, file, api_version ? plumb_kubefile_lookup(map,
					   "apiVersion") : map,
					   "%s: exec: apiVersion must be client.authentication.k8s.io/v1 (or v1beta1)", what);
	if (mode && !strcmp(mode, "Always"))
		return plumb_kubefile_fail(PLUMB_EINVALID, file, plumb_kubefile_lookup(map, "interactiveMode"),
					   "%s: exec: interactiveMode Always needs a terminal, and plumb never has one for a "
					   "plugin",
					   what);
	/* As client-go: a command with a "/" in it is a path, relative to the kubeconfig's folder. */
	exec->command = strchr(command, '/') ? plumb_kubefile_resolve(file, command) : plumb_xstrdup(command);
	exec->api_version = plumb_xstrdup(api_version);
	exec->install_hint = hint ? plumb_xstrdup(hint) : NULL;
	if ((error = read_strings(&exec->args, file, plumb_kubefile_lookup(map, "args"), "exec.args", exec->command)) < 0)
		return error;
	size_t entries = env && fy_node_get_type(env) == FYNT_SEQUENCE ? (size_t)fy_node_sequence_item_count(env) : 0;
	exec->env = plumb_xcalloc(1 + entries, sizeof(*exec->env));
	if (plumb_kubefile_is_null(env))
		return 0;
	if (fy_node_get_type(env) != FYNT_SEQUENCE)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, env, "%s: exec.env: expected a list", what);
	while ((item = fy_node_sequence_iterate(env, &iter)) != NULL) {
		const char *name, *value;
		if ((error = plumb_kubefile_string(&name, file, item, "exec.env", "name")) < 0 ||
		    (error = plumb_kubefile_string(&value, file, item, "exec.env", "value")) < 0)
			return error;
		if (!name || strchr(name, '='))
			return plumb_kubefile_fail(PLUMB_EINVALID, file, item,
						   "%s: exec.env: every entry needs a name (without =)",
						   what);
		exec->env[count++] = plumb_xprintf("%s=%s", name, value ? value : "");
	}
	return 0;
}

/* Take what a run of the exec plugin gave, wiping what it replaces. */
static void take_exec_credential(plumb_kubeconfig *config, plumb_kube_exec_credential *credential)
{
	plumb_buf_wipe(&config->token);
	plumb_buf_wipe(&config->client_certificate);
	plumb_buf_wipe(&config->client_key);
	config->token = credential->token;
	config->client_certificate = credential->client_certificate;
	config->client_key = credential->client_key;
	config->exec_expiry = credential->expiry;
	config->credentials_changed++;
	plumb_buf_init(&credential->token);
	plumb_buf_init(&credential->client_certificate);
	plumb_buf_init(&credential->client_key);
}

static int read_user(plumb_kubeconfig *config, const named *user, const plumb_kubeconfig_options *options)
{
	static const char *const refused[][2] = {
		{ "username", "basic authentication (username and password) is refused: use a token or a client "
			      "certificate" },
		{ "password", "basic authentication (username and password) is refused: use a token or a client "
			      "certificate" },
		{ "auth-provider", "auth-provider plugins are gone from kubectl (1.26): use an exec plugin" },
		{ "as", "impersonation is not supported" },
		{ "as-uid", "impersonation is not supported" },
		{ "as-groups", "impersonation is not supported" },
		{ "as-user-extra", "impersonation is not supported" },
	};
	const plumb_kubefile *file = user->file;
	struct fy_node *map = user->body;
	char what[320];
	const char *token, *token_file;
	int has_certificate, has_key, error;

	snprintf(what, sizeof(what), "user \"%.256s\"", user->name);
	if (!map)
		return 0; /* a user with nothing: anonymous */
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(refused); i++)
		if (!plumb_kubefile_is_null(plumb_kubefile_lookup(map, refused[i][0])))
			return plumb_kubefile_fail(PLUMB_EINVALID, file, plumb_kubefile_lookup(map, refused[i][0]),
						   "%s: %s: %s", what,
						   refused[i][0], refused[i][1]);
	if ((error = plumb_kubefile_material(&config->client_certificate, &has_certificate, file, map, what,
					     "client-certificate", "client-certificate-data")) < 0 ||
	    (error = plumb_kubefile_material(&config->client_key, &has_key, file, map, what, "client-key", "client-key-data")) <
		    0)
		return error;
	if (has_certificate != has_key)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, map,
					   "%s: a client certificate needs its key, and a key its "
					   "certificate (client-certificate and client-key, or their -data)", what);
	if ((error = plumb_kubefile_string(&token, file, map, what, "token")) < 0 ||
	    (error = plumb_kubefile_string(&token_file, file, map, what, "tokenFile")) < 0)
		return error;
	if (token_file) {
		/* The file wins over an inline token, and is read again when it changes (as client-go does). */
		config->token_file = plumb_kubefile_resolve(file, token_file);
		if ((error = plumb_kubeconfig_renew(config)) < 0)
			return plumb_kubefile_fail(error, file, plumb_kubefile_lookup(map,
						   "tokenFile"), "%s: %s", what, plumb_error_last());
	} else if (token) {
		plumb_buf_puts(&config->token, token);
	}

	struct fy_node *exec = plumb_kubefile_lookup(map, "exec");
	if (plumb_kubefile_is_null(exec))
		return 0;
	if (fy_node_get_type(exec) != FYNT_MAPPING)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, exec, "%s: exec: expected a mapping", what);
	if (token || token_file || has_certificate)
		return plumb_kubefile_fail(PLUMB_EINVALID, file, exec,
					   "%s: exec and a token or client certificate are both set: "
					   "keep one", what);
	if ((error = read_exec(&config->exec, file, exec, what)) < 0)
		return error;
	plumb_position pos = plumb_spec_node_position(exec, file->path);
	free(config->exec->where);
	config->exec->where = plumb_xprintf("%s:%u:%u: context \"%s\": %s", file->path, pos.line, pos.column,
					    config->context, what);
	if (!options->allow_exec)
		return plumb_error_set(PLUMB_EINVALID,
				       "%s: runs the exec credential plugin %s, and plumb runs no program a kubeconfig "
				       "names unless %s is given",
				       config->exec->where, config->exec->command,
				       options->exec_flag ? options->exec_flag : "--allow-exec");
	config->exec->server = plumb_xstrdup(config->server);
	config->exec->tls_server_name = config->tls_server_name ? plumb_xstrdup(config->tls_server_name) : NULL;
	plumb_buf_add(&config->exec->certificate_authority, config->certificate_authority.ptr,
		      config->certificate_authority.len);
	return plumb_kubeconfig_refresh(config);
}

static int read_context(plumb_kubeconfig *config, merged_config *merged, const plumb_kubeconfig_options *options)
{
	const char *name = options->context ? options->context : merged->current_context;
	char *files = file_names(merged);
	const char *cluster_name, *user_name, *namespace;
	int error;

	if (!name) {
		error = plumb_error_set(PLUMB_ENOTFOUND, "%s: no current-context is set: choose a context (--context)",
					files);
		goto done;
	}
	const named *context = find(&merged->contexts, name);
	if (!context) {
		if (!merged->file_count)
			error = plumb_error_set(PLUMB_ENOTFOUND,
						"context \"%s\": no kubeconfig file found (--kubeconfig, KUBECONFIG, "
						"~/.kube/config)",
						name);
		else if (options->context)
			error = plumb_error_set(PLUMB_ENOTFOUND, "context \"%s\" is not in %s", name, files);
		else
			error = plumb_kubefile_fail(PLUMB_ENOTFOUND, merged->current_file, merged->current_node,
						    "current-context \"%s\" is not in %s", name, files);
		goto done;
	}
	char what[320];
	snprintf(what, sizeof(what), "context \"%.256s\"", name);
	if ((error = plumb_kubefile_string(&cluster_name, context->file, context->body, what, "cluster")) < 0 ||
	    (error = plumb_kubefile_string(&user_name, context->file, context->body, what, "user")) < 0 ||
	    (error = plumb_kubefile_string(&namespace, context->file, context->body, what, "namespace")) < 0)
		goto done;
	config->origin = plumb_xstrdup(context->file->path);
	config->context = plumb_xstrdup(name);
	config->namespace = plumb_xstrdup(namespace ? namespace : "default");
	if (!cluster_name) {
		error = plumb_kubefile_fail(PLUMB_EINVALID, context->file, context->body ? context->body : context->item,
					    "%s: names no cluster", what);
		goto done;
	}
	const named *cluster = find(&merged->clusters, cluster_name);
	if (!cluster) {
		error = plumb_kubefile_fail(PLUMB_ENOTFOUND, context->file, plumb_kubefile_lookup(context->body,
					    "cluster"),
					    "%s: cluster \"%s\" is not in %s", what, cluster_name, files);
		goto done;
	}
	config->cluster = plumb_xstrdup(cluster_name);
	if ((error = read_cluster(config, cluster, options->names_only)) < 0)
		goto done;
	config->user = plumb_xstrdup(user_name ? user_name : "(anonymous)");
	if (user_name && !options->names_only) {
		const named *user = find(&merged->users, user_name);
		if (!user) {
			error = plumb_kubefile_fail(PLUMB_ENOTFOUND, context->file, plumb_kubefile_lookup(context->body,
						    "user"),
						    "%s: user \"%s\" is not in %s", what, user_name, files);
			goto done;
		}
		error = read_user(config, user, options);
	}
done:
	free(files);
	return error;
}

/* --- in a cluster ------------------------------------------------------------------------- */

static int read_in_cluster(plumb_kubeconfig *config, const char *dir, int names_only)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
	plumb_buf namespace = PLUMB_BUF_INIT;
	int error;

	if (!host || !*host || !port || !*port)
		return plumb_error_set(PLUMB_ENOTFOUND,
				       "no kubeconfig (--kubeconfig, KUBECONFIG, ~/.kube/config) and not in a cluster "
				       "(KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set)");
	config->in_cluster = 1;
	config->origin = plumb_xstrdup(dir);
	config->context = plumb_xstrdup("in-cluster");
	config->cluster = plumb_xstrdup("in-cluster");
	config->user = plumb_xstrdup("the pod's ServiceAccount");
	config->server = strchr(host, ':') ? plumb_xprintf("https://[%s]:%s", host, port)
					   : plumb_xprintf("https://%s:%s", host, port);
	char *path;
	if (!names_only) {
		path = plumb_xprintf("%s/ca.crt", dir);
		error = plumb_kube_read_file(&config->certificate_authority, NULL, path, "the ServiceAccount's CA");
		free(path);
		if (error < 0)
			return error;
		config->token_file = plumb_xprintf("%s/token", dir);
		if ((error = plumb_kubeconfig_renew(config)) < 0)
			return error;
	}
	path = plumb_xprintf("%s/namespace", dir);
	error = plumb_kube_read_file(&namespace, NULL, path, "the ServiceAccount's namespace");
	free(path);
	if (error == PLUMB_ENOTFOUND) {
		plumb_error_clear();
		plumb_buf_puts(&namespace, "default");
	} else if (error < 0) {
		return error;
	}
	config->namespace = plumb_xstrndup(namespace.ptr, strcspn(namespace.ptr, " \t\r\n"));
	plumb_buf_release(&namespace);
	return 0;
}

/* --- the contract ------------------------------------------------------------------------- */

int plumb_kubeconfig_load(plumb_kubeconfig **out, const plumb_kubeconfig_options *options)
{
	plumb_kubeconfig *config = plumb_xcalloc(1, sizeof(*config));
	merged_config merged = { 0 };
	int error;

	plumb_buf_init(&config->certificate_authority);
	plumb_buf_init(&config->client_certificate);
	plumb_buf_init(&config->client_key);
	plumb_buf_init(&config->token);
	*out = NULL;
	if ((error = read_files(&merged, options)) < 0)
		goto done;
	if (!options->path && !merged.clusters.count && !merged.contexts.count && !merged.users.count &&
	    !options->context)
		error = read_in_cluster(config, options->serviceaccount_dir ? options->serviceaccount_dir
									  : PLUMB_KUBE_SERVICEACCOUNT_DIR,
					options->names_only);
	else
		error = read_context(config, &merged, options);
done:
	merged_release(&merged);
	if (error < 0) {
		plumb_kubeconfig_free(config);
		return error;
	}
	*out = config;
	return 0;
}

/* Read the token file again when it is not the one last read (a projected token is swapped, not edited). */
static int read_token_file(plumb_kubeconfig *config)
{
	struct stat st;
	if (stat(config->token_file, &st) == 0 && config->token.len && st.st_ino == config->token_seen.st_ino &&
	    st.st_dev == config->token_seen.st_dev && st.st_size == config->token_seen.st_size &&
	    st.st_mtim.tv_sec == config->token_seen.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == config->token_seen.st_mtim.tv_nsec &&
	    st.st_ctim.tv_sec == config->token_seen.st_ctim.tv_sec &&
	    st.st_ctim.tv_nsec == config->token_seen.st_ctim.tv_nsec)
		return 0;
	plumb_buf fresh = PLUMB_BUF_INIT;
	int error = plumb_kube_read_file(&fresh, &st, config->token_file, "token file");
	size_t length = fresh.len;
	while (length && strchr(" \t\r\n", fresh.ptr[length - 1]))
		length--;
	if (error == 0 && length == 0)
		error = plumb_error_set(PLUMB_EINVALID, "token file %s is empty", config->token_file);
	if (error < 0) {
		plumb_buf_wipe(&fresh);
		return error;
	}
	plumb_buf_truncate(&fresh, length);
	plumb_buf_wipe(&config->token);
	config->token = fresh;
	config->token_seen = st;
	return 0;
}

int plumb_kubeconfig_renew(plumb_kubeconfig *config)
{
	if (config->token_file)
		return read_token_file(config);
	if (config->exec && config->exec_expiry && time(NULL) + EXPIRY_MARGIN_S >= config->exec_expiry)
		return plumb_kubeconfig_refresh(config);
	return 0;
}

int plumb_kubeconfig_refresh(plumb_kubeconfig *config)
{
	plumb_kube_exec_credential credential;
	if (!config->exec)
		return plumb_error_set(PLUMB_ENOTFOUND, "context \"%s\" has no exec credential plugin", config->context);
	int error = plumb_kube_exec_run(&credential, config->exec);
	if (error == 0)
		take_exec_credential(config, &credential);
	plumb_kube_exec_credential_release(&credential);
	return error;
}

void plumb_kubeconfig_free(plumb_kubeconfig *config)
{
	if (!config)
		return;
	free(config->origin);
	free(config->context);
	free(config->cluster);
	free(config->user);
	free(config->server);
	free(config->tls_server_name);
	free(config->namespace);
	plumb_buf_release(&config->certificate_authority);
	plumb_buf_wipe(&config->client_certificate);
	plumb_buf_wipe(&config->client_key);
	plumb_buf_wipe(&config->token);
	free(config->token_file);
	plumb_kube_exec_free(config->exec);
	free(config);
}
