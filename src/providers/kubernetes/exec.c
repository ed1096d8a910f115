#include "util/common.h"
#include "providers/kubernetes/exec.h"
#include "util/process.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <time.h>

extern char **environ;

/* KUBERNETES_EXEC_INFO: what client-go tells a plugin (spec.cluster only when the kubeconfig asks). */
static char *exec_info(const plumb_kube_exec *exec)
{
	json_t *spec = json_pack("{s:b}", "interactive", 0);
	if (exec->provide_cluster_info) {
		json_t *cluster = json_pack("{s:s}", "server", exec->server);
		if (exec->tls_server_name)
			json_object_set_new(cluster, "tls-server-name", json_string(exec->tls_server_name));
		if (exec->certificate_authority.len) {
			size_t room = 4 * ((exec->certificate_authority.len + 2) / 3) + 1;
			unsigned char *encoded = plumb_xmalloc(room);
			EVP_EncodeBlock(encoded, (const unsigned char *)exec->certificate_authority.ptr,
					(int)exec->certificate_authority.len);
			json_object_set_new(cluster, "certificate-authority-data", json_string((char *)encoded));
			free(encoded);
		}
		json_object_set_new(spec, "cluster", cluster);
	}
	json_t *info = json_pack("{s:s, s:s, s:o}", "apiVersion", exec->api_version, "kind", "ExecCredential", "spec",
				 spec);
	char *text = json_dumps(info, JSON_COMPACT);
	json_decref(info);
	if (!text)
		abort(); /* jansson only fails to encode when memory runs out */
	return text;
}

/* plumb's environment without the names exec sets, then exec's env entries, then KUBERNETES_EXEC_INFO. */
static char **plugin_environment(const plumb_kube_exec *exec, char *info)
{
	size_t count = 0, extra = 1, n = 0;
	for (char **e = environ; *e; e++)
		count++;
	for (char **e = exec->env; e && *e; e++)
		extra++;
	char **envp = plumb_xcalloc(count + extra + 1, sizeof(*envp));
	for (char **e = environ; *e; e++) {
		size_t name = strcspn(*e, "=");
		int replaced = name == strlen("KUBERNETES_EXEC_INFO") && !strncmp(*e, "KUBERNETES_EXEC_INFO", name);
		for (char **x = exec->env; !replaced && x && *x; x++)
			replaced = strcspn(*x, "=") == name && !strncmp(*x, *e, name);
		if (!replaced)
			envp[n++] = *e;
	}
	for (char **e = exec->env; e && *e; e++)
		envp[n++] = *e;
	envp[n++] = info;
	return envp;
}

/* "2026-03-05T17:30:20Z", "...20.123Z" or "...20-08:00" as Unix seconds; -1 when it is none of these. */
static long long parse_time(const char *text)
{
	struct tm tm = { 0 };
	int used = 0;
	if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, &used) != 6)
		return -1;
	const char *p = text + used;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	long offset = 0;
	if (*p == '+' || *p == '-') {
		int hours, minutes, n = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &hours, &minutes, &n) != 2 || p[1 + n])
			return -1;
		offset = (*p == '-' ? -1 : 1) * (hours * 3600L + minutes * 60L);
	} else if (strcmp(p, "Z") != 0) {
		return -1;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) - offset;
}

/* Copy a status field (PEM text or a token) into a wiping buffer and wipe jansson's copy of it. */
static void take_secret(plumb_buf *out, json_t *value)
{
	if (!json_is_string(value))
		return;
	plumb_buf_add(out, json_string_value(value), json_string_length(value));
	/* jansson frees its strings without wiping them: wipe this one in place first. */
	OPENSSL_cleanse((char *)json_string_value(value), json_string_length(value));
}

static int read_credential(plumb_kube_exec_credential *out, const plumb_kube_exec *exec, plumb_buf *printed)
{
	json_error_t parse_error;
	json_t *answer = json_loadb(printed->ptr, printed->len, 0, &parse_error);
	int error = 0;

	if (!json_is_object(answer)) {
		/* Neither the text nor jansson's message (which may quote it) is shown: it may hold a token. */
		error = plumb_error_set(PLUMB_ERROR, "%s: exec plugin %s did not print an ExecCredential (JSON object)",
					exec->where, exec->command);
		goto done;
	}
	const char *api_version = json_string_value(json_object_get(answer, "apiVersion"));
	const char *kind = json_string_value(json_object_get(answer, "kind"));
	json_t *status = json_object_get(answer, "status");
	if (!kind || strcmp(kind, "ExecCredential") != 0 || !api_version || strcmp(api_version, exec->api_version)) {
		error = plumb_error_set(PLUMB_ERROR, "%s: exec plugin %s printed %s %s, not an ExecCredential of %s",
					exec->where, exec->command, api_version ? api_version : "(no apiVersion)",
					kind ? kind : "(no kind)", exec->api_version);
		goto done;
	}
	take_secret(&out->token, json_object_get(status, "token"));
	take_secret(&out->client_certificate, json_object_get(status, "clientCertificateData"));
	take_secret(&out->client_key, json_object_get(status, "clientKeyData"));
	if (!out->token.len && !out->client_certificate.len) {
		error = plumb_error_set(PLUMB_ERROR,
					"%s: exec plugin %s gave neither status.token nor status.clientCertificateData",
					exec->where, exec->command);
		goto done;
	}
	if (!out->client_certificate.len != !out->client_key.len) {
		error = plumb_error_set(PLUMB_ERROR,
					"%s: exec plugin %s gave only one of status.clientCertificateData and "
					"status.clientKeyData",
					exec->where, exec->command);
		goto done;
	}
	const char *expiry = json_string_value(json_object_get(status, "expirationTimestamp"));
	if (expiry && (out->expiry = parse_time(expiry)) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "%s: exec plugin %s gave status.expirationTimestamp \"%.40s\", "
					"not an RFC 3339 time", exec->where, exec->command, expiry);
		goto done;
	}
done:
	json_decref(answer);
	return error;
}

/* The start of the first line of what the plugin said on standard error, made printable. */
static void first_line(plumb_buf *out, const plumb_buf *text)
{
	for (size_t i = 0; i < text->len && i < 300 && text->ptr[i] != '\n'; i++) {
		unsigned char c = (unsigned char)text->ptr[i];
		plumb_buf_putc(out, c >= 0x20 && c != 0x7f ? (char)c : '?');
	}
}

int plumb_kube_exec_run(plumb_kube_exec_credential *out, const plumb_kube_exec *exec)
{
	plumb_process_result result;
	plumb_buf printed = PLUMB_BUF_INIT, said = PLUMB_BUF_INIT;
	char *info = NULL, **envp = NULL;
	int error;

	memset(out, 0, sizeof(*out));
	plumb_buf_init(&out->token);
	plumb_buf_init(&out->client_certificate);
	plumb_buf_init(&out->client_key);
	char *text = exec_info(exec);
	info = plumb_xprintf("KUBERNETES_EXEC_INFO=%s", text);
	free(text);
	envp = plugin_environment(exec, info);
	error = plumb_process_run_env(&result, &printed, exec->args, envp, PLUMB_KUBE_EXEC_TIMEOUT_MS,
				      PLUMB_KUBE_EXEC_OUTPUT_MAX);
	if (error < 0) {
		/* Not found, most likely: the kubeconfig's install hint says where to get it. */
		char *why = plumb_xstrdup(plumb_error_last());
		error = plumb_error_set(PLUMB_ERROR, "%s: exec plugin: %s%s%s", exec->where, why,
					exec->install_hint ? "; " : "", exec->install_hint ? exec->install_hint : "");
		free(why);
		goto done;
	}
	first_line(&said, &result.error);
	if (result.timed_out)
		error = plumb_error_set(PLUMB_ERROR, "%s: exec plugin %s did not finish within %u s and was killed",
					exec->where, exec->command, PLUMB_KUBE_EXEC_TIMEOUT_MS / 1000);
	else if (result.overflowed)
		error = plumb_error_set(PLUMB_ERROR, "%s: exec plugin %s printed more than %u bytes", exec->where,
					exec->command, PLUMB_KUBE_EXEC_OUTPUT_MAX);
	else if (!result.exited || result.status != 0)
		error = plumb_error_set(PLUMB_ERROR, "%s: exec plugin %s %s %d%s%s", exec->where, exec->command,
					result.exited ? "exited with status" : "was killed by signal", result.status,
					said.len ? ": " : "", said.ptr);
	else
		error = read_credential(out, exec, &printed);
	plumb_process_result_release(&result);
done:
	plumb_buf_wipe(&printed);
	plumb_buf_release(&said);
	free(envp);
	free(info);
	return error;
}

void plumb_kube_exec_credential_release(plumb_kube_exec_credential *credential)
{
	plumb_buf_wipe(&credential->token);
	plumb_buf_wipe(&credential->client_certificate);
	plumb_buf_wipe(&credential->client_key);
}

static void free_strings(char **strings)
{
	for (char **s = strings; s && *s; s++)
		free(*s);
	free(strings);
}

void plumb_kube_exec_free(plumb_kube_exec *exec)
{
	if (!exec)
		return;
	free(exec->where);
	free(exec->api_version);
	free(exec->command);
	free_strings(exec->args);
	/* An env entry may carry a secret a plugin needs (an API key): wiped, not only freed. */
	for (char **e = exec->env; e && *e; e++)
		OPENSSL_cleanse(*e, strlen(*e));
	free_strings(exec->env);
	free(exec->install_hint);
	free(exec->server);
	free(exec->tls_server_name);
	plumb_buf_release(&exec->certificate_authority);
	free(exec);
}
