/*
 * The cluster connection (src/providers/kubernetes/) against a real
 * kube-apiserver: tests/e2e/kube_client.sh starts one (tests/kube/start),
 * exports what its env file says, and runs this program. Nothing is mocked.
 *
 * The kubeconfigs, token files, CA files and exec plugins each test needs
 * are written under KUBE_TEST_DIR (the script's temporary directory).
 */
#include "util/common.h"
#include "providers/kubernetes/client.h"
#include "providers/kubernetes/discovery.h"
#include "providers/kubernetes/kubeconfig.h"
#include "util/buf.h"

#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../unit/test.h"

static const char *server, *ca_file, *admin_cert, *admin_key, *admin_kubeconfig, *restricted_kubeconfig,
	*restricted_token, *namespace, *dir;
static plumb_kube_client *admin; /* for what the tests set up */

/* --- helpers ---------------------------------------------------------------------------- */

static const char *need_env(const char *name)
{
	const char *value = getenv(name);
	if (!value || !*value) {
		fprintf(stderr, "%s is not set: run tests/e2e/kube_client.sh\n", name);
		exit(2);
	}
	return value;
}

/* A path under the test directory; a static buffer of four that rotate. */
static const char *at(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *at(const char *fmt, ...)
{
	static char paths[4][512];
	static int next;
	char *out = paths[next++ % 4];
	int n = snprintf(out, 512, "%s/", dir);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out + n, 512 - (size_t)n, fmt, ap);
	va_end(ap);
	return out;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
	char *parent = plumb_xstrdup(path);
	*strrchr(parent, '/') = '\0';
	char *cmd = plumb_xprintf("mkdir -p '%s'", parent);
	if (system(cmd) != 0)
		abort();
	free(cmd);
	free(parent);
	/* Through a new file renamed into place, as kubelet swaps a projected token. */
	char *temporary = plumb_xprintf("%s.new", path);
	FILE *f = fopen(temporary, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0 || chmod(temporary, mode) != 0 || rename(temporary, path) != 0)
		abort();
	free(temporary);
}

static char *read_text(const char *path)
{
	plumb_buf out = PLUMB_BUF_INIT;
	int fd = open(path, O_RDONLY);
	if (fd < 0 || plumb_buf_read_fd(&out, fd, 1 << 20) < 0)
		abort();
	close(fd);
	return plumb_buf_detach(&out, NULL);
}

static char *base64_of_file(const char *path)
{
	char *text = read_text(path);
	size_t length = strlen(text);
	char *out = plumb_xmalloc(4 * ((length + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, (unsigned char *)text, (int)length);
	free(text);
	return out;
}

/* The string at a dotted path of a JSON text ("status.userInfo.username"); a new string or NULL. */
static char *json_at(const char *text, const char *path)
{
	json_t *root = json_loads(text, 0, NULL), *node = root;
	char *copy = plumb_xstrdup(path), *save = NULL, *out = NULL;
	for (char *key = strtok_r(copy, ".", &save); key && node; key = strtok_r(NULL, ".", &save))
		node = json_is_array(node) ? json_array_get(node, strtoul(key, NULL, 10)) : json_object_get(node, key);
	if (json_is_string(node))
		out = plumb_xstrdup(json_string_value(node));
	else if (json_is_integer(node))
		out = plumb_xprintf("%lld", (long long)json_integer_value(node));
	free(copy);
	json_decref(root);
	return out;
}

static plumb_kube_client *connect_with(const plumb_kubeconfig_options *options, const plumb_kube_client_options *limits)
{
	plumb_kubeconfig *config = NULL;
	plumb_kube_client *client = NULL;
	if (plumb_kubeconfig_load(&config, options) < 0) {
		fprintf(stderr, "  kubeconfig: %s\n", plumb_error_last());
		return NULL;
	}
	if (plumb_kube_client_open(&client, config, limits) < 0) {
		fprintf(stderr, "  open: %s\n", plumb_error_last());
		return NULL;
	}
	return client;
}

static plumb_kube_client *connect_to(const char *kubeconfig)
{
	plumb_kubeconfig_options options = { .path = kubeconfig };
	return connect_with(&options, NULL);
}

/* Who the server says the client is (a SelfSubjectReview); a new string, or NULL with the error shown. */
static char *whoami(plumb_kube_client *client)
{
	static const char review[] = "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}";
	plumb_buf body = PLUMB_BUF_INIT;
	long status = 0;
	char *name = NULL;
	if (!client)
		return NULL;
	if (plumb_kube_request(&status, &body, client, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
			       "application/json", review, strlen(review)) < 0)
		fprintf(stderr, "  whoami: %s\n", plumb_error_last());
	else
		name = json_at(body.ptr, "status.userInfo.username");
	plumb_buf_release(&body);
	return name;
}

#define CHECK_WHO(client, expected)            \
	do {                                   \
		char *who_ = whoami(client);   \
		CHECK_STR(who_, expected);     \
		free(who_);                    \
	} while (0)

/* Connect with the kubeconfig at path: the server must take it for expected. */
#define CHECK_CONNECTS_AS(path, expected)                          \
	do {                                                       \
		plumb_kube_client *client_ = connect_to(path);     \
		CHECK(client_ != NULL);                            \
		CHECK_WHO(client_, expected);                      \
		plumb_kube_client_close(client_);                  \
	} while (0)

/* A kubeconfig with one context "test" of cluster "test" and user "test"; the three bodies as YAML lines. */
static const char *write_kubeconfig(const char *name, const char *cluster, const char *user, const char *context_extra)
{
	const char *path = at("%s", name);
	char *text = plumb_xprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n%s"
				   "users:\n- name: test\n  user:\n%s"
				   "contexts:\n- name: test\n  context:\n    cluster: test\n    user: test\n%s"
				   "current-context: test\n",
				   cluster, user, context_extra ? context_extra : "");
	write_text(path, text, 0600);
	free(text);
	return path;
}

/* "    server: URL\n    certificate-authority-data: CA\n": the real server, trusted. */
static char *trusted_cluster(void)
{
	char *ca = base64_of_file(ca_file);
	char *out = plumb_xprintf("    server: %s\n    certificate-authority-data: %s\n", server, ca);
	free(ca);
	return out;
}

/* Mint a token for ServiceAccount name in the test namespace (made first when missing). A new string. */
static char *mint_token(const char *account)
{
	plumb_buf body = PLUMB_BUF_INIT;
	long status;
	char *path = plumb_xprintf("/api/v1/namespaces/%s/serviceaccounts", namespace);
	char *account_json = plumb_xprintf("{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{\"name\":\"%s\"}}",
					   account);
	plumb_kube_request(&status, &body, admin, "POST", path, "application/json", account_json, strlen(account_json));
	free(path);
	free(account_json);
	plumb_buf_clear(&body);
	static const char request[] = "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\","
				      "\"spec\":{\"expirationSeconds\":3600}}";
	path = plumb_xprintf("/api/v1/namespaces/%s/serviceaccounts/%s/token", namespace, account);
	char *token = NULL;
	if (plumb_kube_request(&status, &body, admin, "POST", path, "application/json", request, strlen(request)) == 0)
		token = json_at(body.ptr, "status.token");
	else
		fprintf(stderr, "  TokenRequest: %s\n", plumb_error_last());
	free(path);
	plumb_buf_release(&body);
	return token;
}

/* Whether libcurl is mapped into this process. */
static int curl_loaded(void)
{
	char *maps = read_text("/proc/self/maps");
	int loaded = strstr(maps, "/libcurl.so.4") != NULL;
	free(maps);
	return loaded;
}

/* --- kubeconfig: files, merging, contexts ---------------------------------------------------- */

/* plumb does not link libcurl: the first connection loads it (tests/e2e/startup.sh: a host sync never does). */
static void curl_loaded_on_open(void)
{
	CHECK(!curl_loaded());
	plumb_kube_client *client = connect_to(admin_kubeconfig);
	CHECK(client != NULL);
	CHECK(curl_loaded());
	plumb_kube_client_close(client);
}

static void client_certificate_data(void)
{
	plumb_kube_client *client = connect_to(admin_kubeconfig);
	CHECK(client != NULL);
	if (!client)
		return;
	const plumb_kubeconfig *config = plumb_kube_client_config(client);
	CHECK_STR(config->server, server);
	CHECK_STR(config->context, "plumb-admin");
	CHECK_STR(config->namespace, namespace);
	CHECK(config->client_key.len > 0 && config->token.len == 0);
	CHECK_WHO(client, "plumb-admin");
	plumb_kube_client_close(client);
}

static void client_certificate_files(void)
{
	/* Relative paths, resolved against the kubeconfig's own folder, not the working directory. */
	char *copy = plumb_xprintf("mkdir -p %s/files/pki && cp %s %s %s %s/files/pki/", dir, ca_file, admin_cert,
				   admin_key, dir);
	CHECK_INT(system(copy), 0);
	free(copy);
	char *cluster = plumb_xprintf("    server: %s\n    certificate-authority: pki/ca.crt\n", server);
	const char *path = write_kubeconfig("files/kubeconfig", cluster,
					    "    client-certificate: pki/admin.crt\n    client-key: pki/admin.key\n", NULL);
	free(cluster);
	CHECK_CONNECTS_AS(path, "plumb-admin");
}

static void bearer_token_file(void)
{
	char *token = read_text(restricted_token);
	write_text(at("token/restricted"), token, 0600);
	free(token);
	char *cluster = trusted_cluster();
	const char *path = write_kubeconfig("token/kubeconfig", cluster, "    tokenFile: restricted\n",
					    "    namespace: plumb-test\n");
	free(cluster);
	CHECK_CONNECTS_AS(path, "system:serviceaccount:plumb-test:plumb-restricted");
}

static void token_file_rotation(void)
{
	char *second = mint_token("plumb-rotated");
	CHECK(second != NULL);
	char *token = read_text(restricted_token);
	write_text(at("rotate/token"), token, 0600);
	char *cluster = trusted_cluster();
	const char *path = write_kubeconfig("rotate/kubeconfig", cluster, "    tokenFile: token\n", NULL);
	free(cluster);
	plumb_kube_client *client = connect_to(path);
	CHECK_WHO(client, "system:serviceaccount:plumb-test:plumb-restricted");
	/* Rotated: the next request carries the new token, on the same connection. */
	if (second)
		write_text(at("rotate/token"), second, 0600);
	CHECK_WHO(client, "system:serviceaccount:plumb-test:plumb-rotated");
	if (client)
		CHECK_INT(plumb_kube_client_stats(client).connections, 1);
	/* A token the server refuses: 401 (and kube-apiserver closes the connection with a GOAWAY). */
	write_text(at("rotate/token"), "not-a-token\n", 0600);
	CHECK(whoami(client) == NULL);
	CHECK_CONTAINS(plumb_error_last(), "authentication failed");
	write_text(at("rotate/token"), token, 0600);
	CHECK_WHO(client, "system:serviceaccount:plumb-test:plumb-restricted");
	plumb_kube_client_close(client);
	free(token);
	free(second);
}

/*
 * KUBECONFIG=A:missing:B. A sets current-context "merged" and cluster
 * "shared"; B defines "shared" again (pointing nowhere: A's wins), the
 * admin user (a relative certificate path, against B's folder), a context
 * "merged" of its own (A's wins) and "restricted", and a current-context
 * of its own (A's wins).
 */
static void write_merged_files(void)
{
	char *ca = base64_of_file(ca_file);
	char *token = read_text(restricted_token);
	char *a = plumb_xprintf("apiVersion: v1\nkind: Config\ncurrent-context: merged\n"
				"clusters:\n- name: shared\n  cluster:\n    server: %s\n    certificate-authority-data: %s\n"
				"contexts:\n- name: merged\n  context: {cluster: shared, user: admin, namespace: from-a}\n",
				server, ca);
	char *copy = plumb_xprintf("mkdir -p %s/merge/b && cp %s %s %s/merge/b/", dir, admin_cert, admin_key, dir);
	CHECK_INT(system(copy), 0);
	char *b = plumb_xprintf("apiVersion: v1\nkind: Config\ncurrent-context: restricted\n"
				"clusters:\n- name: shared\n  cluster:\n    server: https://127.0.0.1:1\n"
				"users:\n- name: admin\n  user:\n    client-certificate: admin.crt\n    client-key: admin.key\n"
				"- name: restricted\n  user:\n    token: %s\n"
				"contexts:\n- name: merged\n  context: {cluster: nowhere, user: restricted}\n"
				"- name: restricted\n  context: {cluster: shared, user: restricted, namespace: from-b}\n",
				token);
	write_text(at("merge/a/config"), a, 0600);
	write_text(at("merge/b/config"), b, 0600);
	char *list = plumb_xprintf("%s/merge/a/config:%s/merge/missing:%s/merge/b/config", dir, dir, dir);
	setenv("KUBECONFIG", list, 1);
	free(list);
	free(a);
	free(b);
	free(copy);
	free(ca);
	free(token);
}

static void kubeconfig_merge(void)
{
	plumb_kubeconfig_options options = { 0 };
	write_merged_files();
	plumb_kube_client *client = connect_with(&options, NULL);
	CHECK(client != NULL);
	if (client) {
		const plumb_kubeconfig *config = plumb_kube_client_config(client);
		CHECK_STR(config->context, "merged");
		CHECK_STR(config->server, server);
		CHECK_STR(config->user, "admin");
		CHECK_STR(config->namespace, "from-a");
		CHECK_CONTAINS(config->origin, "merge/a/config");
	}
	CHECK_WHO(client, "plumb-admin");
	plumb_kube_client_close(client);
	unsetenv("KUBECONFIG");
}

static void context_selection(void)
{
	plumb_kubeconfig_options options = { .context = "restricted" };
	plumb_kubeconfig *config = NULL;
	write_merged_files();
	plumb_kube_client *client = connect_with(&options, NULL);
	CHECK(client != NULL);
	if (client)
		CHECK_STR(plumb_kube_client_config(client)->namespace, "from-b");
	CHECK_WHO(client, "system:serviceaccount:plumb-test:plumb-restricted");
	plumb_kube_client_close(client);

	options.context = "absent";
	CHECK_INT(plumb_kubeconfig_load(&config, &options), PLUMB_ENOTFOUND);
	CHECK(config == NULL);
	CHECK_CONTAINS(plumb_error_last(), "context \"absent\" is not in");
	CHECK_CONTAINS(plumb_error_last(), "merge/b/config");
	unsetenv("KUBECONFIG");
}

static void in_cluster(void)
{
	char *serviceaccount = plumb_xstrdup(at("serviceaccount"));
	plumb_kubeconfig_options options = { .serviceaccount_dir = serviceaccount };
	plumb_kubeconfig *config = NULL;
	char *token = read_text(restricted_token), *ca = read_text(ca_file);
	char *old_home = plumb_xstrdup(getenv("HOME"));
	const char *port = strrchr(server, ':') + 1;

	write_text(at("serviceaccount/token"), token, 0600);
	write_text(at("serviceaccount/ca.crt"), ca, 0644);
	write_text(at("serviceaccount/namespace"), "plumb-test", 0644);
	setenv("HOME", at("empty-home"), 1);
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	CHECK_INT(plumb_kubeconfig_load(&config, &options), PLUMB_ENOTFOUND);
	CHECK_CONTAINS(plumb_error_last(), "KUBERNETES_SERVICE_HOST");

	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	plumb_kube_client *client = connect_with(&options, NULL);
	CHECK(client != NULL);
	if (client) {
		const plumb_kubeconfig *c = plumb_kube_client_config(client);
		CHECK(c->in_cluster);
		CHECK_STR(c->server, server);
		CHECK_STR(c->namespace, "plumb-test");
	}
	CHECK_WHO(client, "system:serviceaccount:plumb-test:plumb-restricted");
	plumb_kube_client_close(client);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	setenv("HOME", old_home, 1);
	free(old_home);
	free(serviceaccount);
	free(token);
	free(ca);
}

/* --- kubeconfig: what is refused ---------------------------------------------------------- */

/* Load path; expect code, and return the message (borrowed from the error slot). */
static const char *refusal(const char *path, const plumb_kubeconfig_options *given, int code)
{
	plumb_kubeconfig_options options = given ? *given : (plumb_kubeconfig_options){ 0 };
	plumb_kubeconfig *config = NULL;
	options.path = path;
	int error = plumb_kubeconfig_load(&config, &options);
	CHECK_INT(error, code);
	CHECK(config == NULL);
	plumb_kubeconfig_free(config);
	return plumb_error_last();
}

static void insecure_skip_tls_verify_refused(void)
{
	char *cluster = plumb_xprintf("    server: %s\n    insecure-skip-tls-verify: true\n", server);
	const char *path = write_kubeconfig("insecure/kubeconfig", cluster, "    token: abc\n", NULL);
	free(cluster);
	const char *message = refusal(path, NULL, PLUMB_EINVALID);
	CHECK_CONTAINS(message, path);
	CHECK_CONTAINS(message, ":7:"); /* the line of insecure-skip-tls-verify */
	CHECK_CONTAINS(message, "cluster \"test\"");
	CHECK_CONTAINS(message, "insecure-skip-tls-verify");
}

static void other_refusals(void)
{
	char *cluster = trusted_cluster();
	const char *path = write_kubeconfig("refused/basic", cluster, "    username: admin\n    password: hunter2\n", NULL);
	const char *message = refusal(path, NULL, PLUMB_EINVALID);
	CHECK_CONTAINS(message, "user \"test\": username");
	CHECK_LACKS(message, "hunter2");

	path = write_kubeconfig("refused/key", cluster,
				"    client-certificate-data: bm90LWEtY2VydA==\n    client-key-data: c2VjcmV0!!\n", NULL);
	message = refusal(path, NULL, PLUMB_EINVALID);
	CHECK_CONTAINS(message, "client-key-data is not base64");
	CHECK_CONTAINS(message, ":12:");
	CHECK_LACKS(message, "c2VjcmV0");

	path = write_kubeconfig("refused/http", "    server: http://127.0.0.1:8080\n", "    token: abc\n", NULL);
	CHECK_CONTAINS(refusal(path, NULL, PLUMB_EINVALID), "only talks to a cluster over https://");

	write_text(at("refused/syntax"), "apiVersion: v1\nclusters:\n- name: [unclosed\n", 0600);
	message = refusal(at("refused/syntax"), NULL, PLUMB_EINVALID);
	CHECK_CONTAINS(message, "refused/syntax:");
	CHECK_CONTAINS(message, "not valid YAML");

	CHECK_CONTAINS(refusal(at("refused/none"), NULL, PLUMB_ENOTFOUND), "refused/none");
	free(cluster);
}

/* A plugin that notes each run, and prints the token of the file it is given (or the certificate). */
static const char *write_plugin(const char *name, const char *status_json)
{
	const char *path = at("exec/%s", name);
	char *script = plumb_xprintf("#!/bin/sh\n"
				     "echo run >> \"$0.runs\"\n"
				     "printf '%%s\\n' \"$KUBERNETES_EXEC_INFO\" > \"$0.info\"\n"
				     "printf '%%s\\n' \"$PLUMB_PLUGIN_SETTING\" > \"$0.setting\"\n"
				     "printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
				     "\"status\":%%s}\\n' \"%s\"\n",
				     status_json);
	write_text(path, script, 0755);
	free(script);
	return path;
}

static int plugin_runs(const char *plugin)
{
	char *path = plumb_xprintf("%s.runs", plugin);
	int runs = 0;
	FILE *f = fopen(path, "r");
	for (int c; f && (c = fgetc(f)) != EOF;)
		runs += c == '\n';
	if (f)
		fclose(f);
	free(path);
	return runs;
}

static const char *exec_kubeconfig(const char *name, const char *plugin_name)
{
	char *cluster = trusted_cluster();
	char *user = plumb_xprintf("    exec:\n      apiVersion: client.authentication.k8s.io/v1\n"
				   "      command: ./%s\n      interactiveMode: Never\n      provideClusterInfo: true\n"
				   "      env:\n      - {name: PLUMB_PLUGIN_SETTING, value: from-kubeconfig}\n",
				   plugin_name);
	const char *path = write_kubeconfig(name, cluster, user, NULL);
	free(cluster);
	free(user);
	return path;
}

static void exec_refused_without_flag(void)
{
	const char *plugin = write_plugin("token-plugin", "{\\\"token\\\":\\\"x\\\"}");
	const char *path = exec_kubeconfig("exec/kubeconfig", "token-plugin");
	const char *message = refusal(path, NULL, PLUMB_EINVALID);
	CHECK_CONTAINS(message, "context \"test\"");
	CHECK_CONTAINS(message, "--allow-exec");
	CHECK_CONTAINS(message, "token-plugin");
	CHECK_INT(plugin_runs(plugin), 0);
	plumb_kubeconfig_options options = { .exec_flag = "--kube-allow-exec" };
	CHECK_CONTAINS(refusal(path, &options, PLUMB_EINVALID), "--kube-allow-exec");
}

static void exec_token_with_flag(void)
{
	char *token = read_text(restricted_token);
	token[strcspn(token, "\n")] = '\0';
	char *status = plumb_xprintf("{\\\"token\\\":\\\"%s\\\"}", token);
	const char *plugin = write_plugin("token-plugin", status);
	free(status);
	plumb_kubeconfig_options options = { .path = exec_kubeconfig("exec/kubeconfig", "token-plugin"), .allow_exec = 1 };
	plumb_kube_client *client = connect_with(&options, NULL);
	CHECK(client != NULL);
	CHECK_WHO(client, "system:serviceaccount:plumb-test:plumb-restricted");
	CHECK_INT(plugin_runs(plugin), 1);
	char *info_path = plumb_xprintf("%s.info", plugin), *info = read_text(info_path);
	CHECK_CONTAINS(info, "\"apiVersion\":\"client.authentication.k8s.io/v1\"");
	CHECK_CONTAINS(info, "\"interactive\":false");
	CHECK_CONTAINS(info, server); /* provideClusterInfo */
	char *setting_path = plumb_xprintf("%s.setting", plugin), *setting = read_text(setting_path);
	CHECK_STR(setting, "from-kubeconfig\n");
	plumb_kube_client_close(client);
	free(info_path);
	free(info);
	free(setting_path);
	free(setting);
	free(token);
}

static void exec_certificate_and_refresh(void)
{
	/* PEM in JSON: the plugin prints what python would; here sed turns the files' lines into \n. */
	char *script = plumb_xprintf("#!/bin/sh\n"
				     "echo run >> \"$0.runs\"\n"
				     "pem() { sed ':a;N;$!ba;s/\\n/\\\\n/g' \"$1\"; }\n"
				     "if [ \"$(wc -l < \"$0.runs\")\" -eq 1 ]; then\n"
				     "  echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
				     "\"status\":{\"token\":\"revoked\"}}'\n"
				     "else\n"
				     "  printf '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
				     "\"status\":{\"clientCertificateData\":\"%%s\",\"clientKeyData\":\"%%s\","
				     "\"expirationTimestamp\":\"2999-01-01T00:00:00Z\"}}\\n' \"$(pem %s)\" \"$(pem %s)\"\n"
				     "fi\n",
				     admin_cert, admin_key);
	const char *plugin = at("exec/cert-plugin");
	write_text(plugin, script, 0755);
	free(script);
	plumb_kubeconfig_options options = { .path = exec_kubeconfig("exec/cert-kubeconfig", "cert-plugin"),
					     .allow_exec = 1 };
	plumb_kube_client *client = connect_with(&options, NULL);
	/* The first credential is refused (401): the plugin is asked again and its certificate is used. */
	CHECK_WHO(client, "plumb-admin");
	CHECK_INT(plugin_runs(plugin), 2);
	if (client)
		CHECK(plumb_kube_client_config(client)->exec_expiry > time(NULL));
	plumb_kube_client_close(client);
}

/* --- TLS and the server's refusals ------------------------------------------------------------ */

static void wrong_ca_refused(void)
{
	/* The client CA (it signs client certificates) did not sign the server's certificate. */
	char *wrong = plumb_xprintf("%.*s/client-ca.crt", (int)(strrchr(ca_file, '/') - ca_file), ca_file);
	char *cluster = plumb_xprintf("    server: %s\n    certificate-authority: %s\n", server, wrong);
	const char *path = write_kubeconfig("tls/wrong-ca", cluster, "    token: abc\n", NULL);
	plumb_kube_client *client = connect_to(path);
	plumb_buf body = PLUMB_BUF_INIT;
	long status = -1;
	CHECK(client != NULL);
	if (client) {
		CHECK_INT(plumb_kube_request(&status, &body, client, "GET", "/version", NULL, NULL, 0), PLUMB_ERROR);
		CHECK_INT(status, 0);
		CHECK_CONTAINS(plumb_error_last(), "cannot reach");
		CHECK_CONTAINS(plumb_error_last(), "certificate");
	}
	plumb_kube_client_close(client);
	plumb_buf_release(&body);
	free(cluster);
	free(wrong);
}

static void tls_server_name(void)
{
	char *ca = base64_of_file(ca_file);
	/* The server's certificate names kubernetes.default.svc, not 127.0.0.1's other names. */
	char *cluster = plumb_xprintf("    server: %s\n    certificate-authority-data: %s\n"
				      "    tls-server-name: kubernetes.default.svc\n",
				      server, ca);
	char *user = plumb_xprintf("    client-certificate: %s\n    client-key: %s\n", admin_cert, admin_key);
	CHECK_CONNECTS_AS(write_kubeconfig("tls/name", cluster, user, NULL), "plumb-admin");
	free(cluster);

	cluster = plumb_xprintf("    server: %s\n    certificate-authority-data: %s\n    tls-server-name: other.example\n",
				server, ca);
	plumb_kube_client *client = connect_to(write_kubeconfig("tls/other-name", cluster, user, NULL));
	CHECK(client != NULL && whoami(client) == NULL);
	CHECK_CONTAINS(plumb_error_last(), "cannot reach");
	plumb_kube_client_close(client);
	free(cluster);
	free(user);
	free(ca);
}

static void bad_token_401(void)
{
	char *cluster = trusted_cluster();
	plumb_kube_client *client = connect_to(write_kubeconfig("auth/bad-token", cluster, "    token: sesame-0123\n", NULL));
	plumb_buf body = PLUMB_BUF_INIT;
	long status = 0;
	CHECK(client != NULL);
	if (client) {
		CHECK_INT(plumb_kube_request(&status, &body, client, "GET", "/api/v1/namespaces", NULL, NULL, 0),
			  PLUMB_ERROR);
		CHECK_INT(status, 401);
		char *expected = plumb_xprintf("authentication failed for %s (user test from context test)", server);
		CHECK_CONTAINS(plumb_error_last(), expected);
		CHECK_LACKS(plumb_error_last(), "sesame");
		free(expected);
	}
	plumb_kube_client_close(client);
	plumb_buf_release(&body);
	free(cluster);
}

static void forbidden_403(void)
{
	plumb_kube_client *client = connect_to(restricted_kubeconfig);
	plumb_buf body = PLUMB_BUF_INIT;
	long status = 0;
	static const char configmap[] = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"denied\"}}";
	CHECK(client != NULL);
	if (!client)
		return;
	CHECK_INT(plumb_kube_request(&status, &body, client, "GET", "/api/v1/namespaces/plumb-test/secrets", NULL,
				     NULL, 0),
		  PLUMB_ERROR);
	CHECK_INT(status, 403);
	CHECK_CONTAINS(plumb_error_last(), "user plumb-restricted (context plumb-restricted) may not list secrets in "
					   "namespace plumb-test");
	CHECK_INT(plumb_kube_request(&status, &body, client, "POST", "/api/v1/namespaces/default/configmaps",
				     "application/json", configmap, strlen(configmap)),
		  PLUMB_ERROR);
	CHECK_CONTAINS(plumb_error_last(), "may not create configmaps in namespace default");
	CHECK_LACKS(plumb_error_last(), "denied\\\"");
	plumb_kube_request(&status, &body, client, "GET", "/apis/apps/v1/namespaces/plumb-test/deployments/web", NULL,
			   NULL, 0);
	CHECK_CONTAINS(plumb_error_last(), "may not get deployments.apps in namespace plumb-test");
	plumb_kube_request(&status, &body, client, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles", NULL,
			   NULL, 0);
	CHECK_CONTAINS(plumb_error_last(), "may not list clusterroles.rbac.authorization.k8s.io cluster-wide");
	plumb_kube_client_close(client);
	plumb_buf_release(&body);
}

/* --- requests ------------------------------------------------------------------------------ */

static void server_side_apply(void)
{
	static const char manifest[] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n"
				       "data:\n  greeting: hello\n";
	plumb_buf body = PLUMB_BUF_INIT;
	long status = 0;
	char *path = plumb_xprintf("/api/v1/namespaces/%s/configmaps/applied?fieldManager=plumb", namespace);
	CHECK_INT(plumb_kube_request(&status, &body, admin, "PATCH", path, "application/apply-patch+yaml", manifest,
				     strlen(manifest)),
		  0);
	CHECK_INT(status, 201);
	char *manager = json_at(body.ptr, "metadata.managedFields.0.manager");
	CHECK_STR(manager, "plumb");
	free(manager);
	char *version = json_at(body.ptr, "metadata.resourceVersion");
	plumb_buf_clear(&body);
	CHECK_INT(plumb_kube_request(&status, &body, admin, "PATCH", path, "application/apply-patch+yaml", manifest,
				     strlen(manifest)),
		  0);
	CHECK_INT(status, 200);
	char *again = json_at(body.ptr, "metadata.resourceVersion");
	CHECK(version && again && !strcmp(version, again)); /* nothing changed */
	plumb_buf_clear(&body);
	*strchr(path, '?') = '\0';
	CHECK_INT(plumb_kube_request(&status, &body, admin, "GET", path, NULL, NULL, 0), 0);
	char *greeting = json_at(body.ptr, "data.greeting");
	CHECK_STR(greeting, "hello");
	free(greeting);
	free(version);
	free(again);
	free(path);
	plumb_buf_release(&body);
}

static void dry_run(void)
{
	static const char manifest[] = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dry\nspec:\n"
				       "  selector: {matchLabels: {app: dry}}\n  template:\n    metadata: {labels: {app: dry}}\n"
				       "    spec:\n      containers: [{name: web, image: registry.invalid/web:1}]\n";
	plumb_buf body = PLUMB_BUF_INIT;
	long status = 0;
	char *path = plumb_xprintf("/apis/apps/v1/namespaces/%s/deployments/dry", namespace);
	char *apply = plumb_xprintf("%s?fieldManager=plumb&dryRun=All", path);
	CHECK_INT(plumb_kube_request(&status, &body, admin, "PATCH", apply, "application/apply-patch+yaml", manifest,
				     strlen(manifest)),
		  0);
	CHECK_INT(status, 201);
	char *replicas = json_at(body.ptr, "spec.replicas"), *strategy = json_at(body.ptr, "spec.strategy.type");
	CHECK_STR(replicas, "1");
	CHECK_STR(strategy, "RollingUpdate");
	plumb_buf_clear(&body);
	CHECK_INT(plumb_kube_request(&status, &body, admin, "GET", path, NULL, NULL, 0), PLUMB_ENOTFOUND);
	CHECK_INT(status, 404);
	CHECK_CONTAINS(plumb_error_last(), "deployments.apps \"dry\" not found");
	free(replicas);
	free(strategy);
	free(apply);
	free(path);
	plumb_buf_release(&body);
}

static void invalid_422_and_conflict_409(void)
{
	static const char bad[] = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"Not_Valid\"},"
				  "\"data\":{\"password\":\"s3cr3t-value\"}}";
	static const char good[] = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"twice\"}}";
	plumb_buf body = PLUMB_BUF_INIT;
	long status = 0;
	char *path = plumb_xprintf("/api/v1/namespaces/%s/configmaps", namespace);
	CHECK_INT(plumb_kube_request(&status, &body, admin, "POST", path, "application/json", bad, strlen(bad)),
		  PLUMB_EINVALID);
	CHECK_INT(status, 422);
	CHECK_CONTAINS(plumb_error_last(), "POST /api/v1/namespaces/plumb-test/configmaps: 422 Invalid: ");
	CHECK_CONTAINS(plumb_error_last(), "\n  metadata.name: Invalid value: \"Not_Valid\"");
	CHECK_LACKS(plumb_error_last(), "s3cr3t");
	plumb_kube_request(&status, &body, admin, "POST", path, "application/json", good, strlen(good));
	CHECK_INT(plumb_kube_request(&status, &body, admin, "POST", path, "application/json", good, strlen(good)),
		  PLUMB_ECONFLICT);
	CHECK_INT(status, 409);
	CHECK_CONTAINS(plumb_error_last(), "configmaps \"twice\" already exists");
	free(path);
	plumb_buf_release(&body);
}

static void http2_and_one_connection(void)
{
	plumb_kube_client *client = connect_to(admin_kubeconfig);
	plumb_buf body = PLUMB_BUF_INIT;
	long status = 0;
	CHECK(client != NULL);
	if (!client)
		return;
	CHECK_INT(plumb_kube_client_stats(client).connections, 0); /* nothing is sent at open */
	for (int i = 0; i < 5; i++)
		CHECK_INT(plumb_kube_request(&status, &body, client, "GET", "/version", NULL, NULL, 0), 0);
	plumb_kube_stats stats = plumb_kube_client_stats(client);
	CHECK_INT(stats.requests, 5);
	CHECK_INT(stats.connections, 1);
	CHECK_INT(stats.http_version, 2);
	plumb_kube_client_close(client);
	plumb_buf_release(&body);
}

static void response_cap(void)
{
	plumb_kubeconfig_options options = { .path = admin_kubeconfig };
	plumb_kube_client_options limits = { .response_max = 1024 };
	plumb_kube_client *client = connect_with(&options, &limits);
	plumb_buf body = PLUMB_BUF_INIT;
	long status = -1;
	CHECK(client != NULL);
	if (!client)
		return;
	CHECK_INT(plumb_kube_request(&status, &body, client, "GET", "/openapi/v2", NULL, NULL, 0), PLUMB_ERROR);
	CHECK_CONTAINS(plumb_error_last(), "GET /openapi/v2: the answer from");
	CHECK_CONTAINS(plumb_error_last(), "is larger than 1024 bytes");
	CHECK_INT(body.len, 0);
	/* A small answer still comes through on the same client. */
	CHECK_INT(plumb_kube_request(&status, &body, client, "GET", "/version", NULL, NULL, 0), 0);
	CHECK_INT(status, 200);
	plumb_kube_client_close(client);
	plumb_buf_release(&body);
}

/* --- discovery ---------------------------------------------------------------------------- */

static void check_resource(const plumb_kube_discovery *discovery, const char *api_version, const char *kind,
			   const char *plural, int namespaced, const char *collection)
{
	const plumb_kube_resource *resource = NULL;
	CHECK_INT(plumb_kube_discovery_find(&resource, discovery, api_version, kind), 0);
	if (!resource) {
		fprintf(stderr, "  %s %s: %s\n", api_version, kind, plumb_error_last());
		return;
	}
	CHECK_STR(resource->resource, plural);
	CHECK_INT(resource->namespaced, namespaced);
	CHECK(resource->verbs & PLUMB_KUBE_VERB_PATCH);
	CHECK(resource->verbs & PLUMB_KUBE_VERB_LIST);
	char *path = plumb_kube_resource_path(resource, "ns", NULL);
	CHECK_STR(path, collection);
	free(path);
}

static void discovery_table(void)
{
	plumb_kube_discovery *discovery = NULL;
	CHECK_INT(plumb_kube_discover(&discovery, admin, NULL), 0);
	if (!discovery)
		return;
	check_resource(discovery, "v1", "ConfigMap", "configmaps", 1, "/api/v1/namespaces/ns/configmaps");
	check_resource(discovery, "v1", "Namespace", "namespaces", 0, "/api/v1/namespaces");
	check_resource(discovery, "rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", 0,
		       "/apis/rbac.authorization.k8s.io/v1/clusterroles");
	check_resource(discovery, "apps/v1", "Deployment", "deployments", 1, "/apis/apps/v1/namespaces/ns/deployments");
	const plumb_kube_resource *resource = NULL;
	plumb_kube_discovery_find(&resource, discovery, "apps/v1", "Deployment");
	if (resource) {
		char *path = plumb_kube_resource_path(resource, "plumb-test", "web");
		CHECK_STR(path, "/apis/apps/v1/namespaces/plumb-test/deployments/web");
		free(path);
		CHECK(resource->preferred);
	}
	/* Subresources are not kinds of their own: nothing is named "deployments/status". */
	size_t count = 0;
	const plumb_kube_resource *all = plumb_kube_discovery_resources(discovery, &count);
	CHECK(count > 50);
	for (size_t i = 0; i < count; i++)
		CHECK(strchr(all[i].resource, '/') == NULL);
	plumb_kube_discovery_free(discovery);
}

static void discovery_unknown_kinds(void)
{
	plumb_kube_discovery *discovery = NULL;
	const plumb_kube_resource *resource = (const plumb_kube_resource *)1;
	CHECK_INT(plumb_kube_discover(&discovery, admin, NULL), 0);
	if (!discovery)
		return;
	CHECK_INT(plumb_kube_discovery_find(&resource, discovery, "apps/v1", "Deploymnet"), PLUMB_ENOTFOUND);
	CHECK(resource == NULL);
	CHECK_CONTAINS(plumb_error_last(), "does not serve apps/v1 Deploymnet; did you mean apps/v1 Deployment?");
	CHECK_INT(plumb_kube_discovery_find(&resource, discovery, "extensions/v1beta1", "Deployment"), PLUMB_ENOTFOUND);
	CHECK_CONTAINS(plumb_error_last(), "it serves Deployment as apps/v1");
	CHECK_INT(plumb_kube_discovery_find(&resource, discovery, "v1", "Configmap"), PLUMB_ENOTFOUND);
	CHECK_CONTAINS(plumb_error_last(), "did you mean v1 ConfigMap?");
	CHECK_INT(plumb_kube_discovery_find(&resource, discovery, "example.com/v9", "Zyxwvutsrq"), PLUMB_ENOTFOUND);
	CHECK_CONTAINS(plumb_error_last(), "(nor anything in that apiVersion)");
	CHECK_LACKS(plumb_error_last(), "did you mean");
	plumb_kube_discovery_free(discovery);
}

static const char crd[] =
	"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
	"\"metadata\":{\"name\":\"widgets.plumb.test\"},\"spec\":{\"group\":\"plumb.test\",\"scope\":\"Namespaced\","
	"\"names\":{\"plural\":\"widgets\",\"singular\":\"widget\",\"kind\":\"Widget\"},"
	"\"versions\":[{\"name\":\"v1alpha1\",\"served\":true,\"storage\":true,"
	"\"schema\":{\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]}}";

/* Requests and answer bytes a discovery costs a fresh connection (as a new run would). */
static plumb_kube_discovery *discover_fresh(plumb_kube_stats *cost, const char *cache)
{
	plumb_kube_client *client = connect_to(admin_kubeconfig);
	plumb_kube_discovery *discovery = NULL;
	if (!client)
		return NULL;
	if (plumb_kube_discover(&discovery, client, cache) < 0)
		fprintf(stderr, "  discover: %s\n", plumb_error_last());
	*cost = plumb_kube_client_stats(client);
	plumb_kube_client_close(client);
	return discovery;
}

static void discovery_cache_and_crd(void)
{
	const char *cache = at("state/cache");
	plumb_kube_stats cost;
	plumb_kube_discovery *discovery = discover_fresh(&cost, cache);
	const plumb_kube_resource *resource = NULL;
	char digest_glob[600];
	CHECK(discovery != NULL);
	CHECK_INT(cost.requests, 2);
	CHECK(cost.received > 10000);
	snprintf(digest_glob, sizeof(digest_glob), "test \"$(stat -c %%a %s/kube-discovery-*.json)\" = 600", cache);
	CHECK_INT(system(digest_glob), 0);
	CHECK_INT(plumb_kube_discovery_find(&resource, discovery, "plumb.test/v1alpha1", "Widget"), PLUMB_ENOTFOUND);
	plumb_kube_discovery_free(discovery);

	/* Nothing changed: two requests, answered 304 with no body. */
	discovery = discover_fresh(&cost, cache);
	CHECK_INT(cost.requests, 2);
	CHECK_INT(cost.received, 0);
	CHECK_INT(plumb_kube_discovery_find(&resource, discovery, "v1", "ConfigMap"), 0);
	plumb_kube_discovery_free(discovery);

	/* A CRD adds a group: a refresh sees it once the server serves it (it is Established asynchronously). */
	discovery = discover_fresh(&cost, cache);
	plumb_buf body = PLUMB_BUF_INIT;
	long status = 0;
	CHECK_INT(plumb_kube_request(&status, &body, admin, "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
				     "application/json", crd, strlen(crd)),
		  0);
	int found = 0;
	for (int attempt = 0; attempt < 300 && discovery && !found; attempt++) {
		CHECK_INT(plumb_kube_discovery_refresh(discovery, admin), 0);
		found = plumb_kube_discovery_find(&resource, discovery, "plumb.test/v1alpha1", "Widget") == 0;
		if (!found)
			usleep(100000);
	}
	CHECK(found);
	if (found) {
		CHECK_STR(resource->resource, "widgets");
		CHECK_INT(resource->namespaced, 1);
	}
	plumb_kube_discovery_free(discovery);

	/* The next run finds the CRD in the cache it refreshed, again for two empty 304s. */
	discovery = discover_fresh(&cost, cache);
	CHECK_INT(cost.requests, 2);
	CHECK_INT(cost.received, 0);
	CHECK_INT(plumb_kube_discovery_find(&resource, discovery, "plumb.test/v1alpha1", "Widget"), 0);
	plumb_kube_discovery_free(discovery);
	plumb_buf_release(&body);
}

int main(void)
{
	server = need_env("KUBE_SERVER");
	ca_file = need_env("KUBE_CA");
	admin_cert = need_env("KUBE_ADMIN_CERT");
	admin_key = need_env("KUBE_ADMIN_KEY");
	admin_kubeconfig = need_env("KUBECONFIG_ADMIN");
	restricted_kubeconfig = need_env("KUBECONFIG_RESTRICTED");
	restricted_token = need_env("KUBE_RESTRICTED_TOKEN");
	namespace = need_env("KUBE_NAMESPACE");
	dir = need_env("KUBE_TEST_DIR");
	unsetenv("KUBECONFIG");

	RUN(curl_loaded_on_open);
	admin = connect_to(admin_kubeconfig);
	if (!admin)
		return 1;
	RUN(client_certificate_data);
	RUN(client_certificate_files);
	RUN(bearer_token_file);
	RUN(token_file_rotation);
	RUN(kubeconfig_merge);
	RUN(context_selection);
	RUN(in_cluster);
	RUN(insecure_skip_tls_verify_refused);
	RUN(other_refusals);
	RUN(exec_refused_without_flag);
	RUN(exec_token_with_flag);
	RUN(exec_certificate_and_refresh);
	RUN(wrong_ca_refused);
	RUN(tls_server_name);
	RUN(bad_token_401);
	RUN(forbidden_403);
	RUN(server_side_apply);
	RUN(dry_run);
	RUN(invalid_422_and_conflict_409);
	RUN(http2_and_one_connection);
	RUN(response_cap);
	RUN(discovery_table);
	RUN(discovery_unknown_kinds);
	RUN(discovery_cache_and_crd);

	plumb_kube_client_close(admin);
	TEST_EXIT();
}
