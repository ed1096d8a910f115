#include "util/common.h"
#include "render/helm.h"

#include "util/fs.h"
#include "util/process.h"

#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The "helm" object of job's options, or NULL. A new reference. */
static json_t *helm_options(const plumb_render_job *job)
{
	json_t *options = job->options ? json_loads(job->options, 0, NULL) : NULL;
	json_t *helm = json_incref(json_object_get(options, "helm"));
	json_decref(options);
	return helm;
}

static const char *text_of(json_t *object, const char *name)
{
	const char *text = json_string_value(json_object_get(object, name));
	return text && *text ? text : NULL;
}

/* A repository file an option reads: it exists in commit, or is a diagnostic where it was written. */
static int check_file(plumb_render_job *job, json_t *file, const char *what, int missing_ok, plumb_source *source,
		      const char *commit, plumb_diags *diags)
{
	const char *path = text_of(file, "path");
	plumb_source_entry entry;
	int error = path ? plumb_source_stat(&entry, source, commit, path) : PLUMB_ENOTFOUND;
	if (error == 0 && entry.type != PLUMB_ENTRY_TREE && entry.type != PLUMB_ENTRY_SUBMODULE) {
		plumb_render_add_input(job, path);
		return 1;
	}
	if (error < 0 && error != PLUMB_ENOTFOUND)
		return error;
	if (!missing_ok) {
		plumb_position at = { text_of(file, "file"), (unsigned)json_integer_value(json_object_get(file, "line")),
				      (unsigned)json_integer_value(json_object_get(file, "column")) };
		plumb_diags_add(diags, at, "%s '%s' is not a file in commit %.12s", what, path ? path : "", commit);
	}
	return 0;
}

int plumb_helm_prepare(plumb_render_job *job, plumb_source *source, const char *commit, plumb_diags *diags)
{
	json_t *helm = helm_options(job);
	size_t before = diags->count;
	int error = 0;
	if (!helm)
		return 0;
	if (text_of(helm, "releaseName")) {
		free(job->release);
		job->release = plumb_xstrdup(text_of(helm, "releaseName"));
	}
	if (text_of(helm, "namespace")) {
		free(job->namespace);
		job->namespace = plumb_xstrdup(text_of(helm, "namespace"));
	}
	if (json_string_value(json_object_get(helm, "values")))
		job->values = plumb_xstrdup(json_string_value(json_object_get(helm, "values")));
	int missing_ok = json_is_true(json_object_get(helm, "ignoreMissingValueFiles"));
	json_t *files = json_object_get(helm, "valueFiles"), *kept = json_array(), *file;
	size_t i;
	json_array_foreach(files, i, file) {
		int found = check_file(job, file, "value file", missing_ok, source, commit, diags);
		if (found < 0) {
			error = found;
			break;
		}
		/* A missing value file that may be missing is left out, as Argo CD leaves it out. */
		if (found)
			json_array_append(kept, file);
	}
	json_object_set_new(helm, "valueFiles", kept);
	json_array_foreach(json_object_get(helm, "fileParameters"), i, file) {
		int found = check_file(job, file, "file parameter", 0, source, commit, diags);
		if (found < 0) {
			error = found;
			break;
		}
	}
	/* What the arguments are built from: the value files that exist. */
	json_t *options = json_loads(job->options, 0, NULL);
	json_object_set(options, "helm", helm);
	free(job->options);
	job->options = json_dumps(options, JSON_COMPACT);
	json_decref(options);
	json_decref(helm);
	if (error == 0 && diags->count > before)
		error = PLUMB_EINVALID;
	return error;
}

/*
 * A --set value as Argo CD passes it: commas that are not escaped are, so
 * that one parameter stays one value ("a,b" is not two); a helm list
 * ("{a,b}") is passed as written.
 */
static char *escaped_commas(const char *value)
{
	size_t n = strlen(value);
	if (n >= 2 && value[0] == '{' && value[n - 1] == '}')
		return plumb_xstrdup(value);
	plumb_buf out = PLUMB_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (value[i] == ',' && (i == 0 || value[i - 1] != '\\'))
			plumb_buf_putc(&out, '\\');
		plumb_buf_putc(&out, value[i]);
	}
	return plumb_buf_detach(&out, NULL);
}

/*
 * A chart of a Helm repository, as helm fetches it: from an OCI registry by
 * reference (at a digest, REPO/CHART@sha256:..., when one is given), else
 * from the repository's index; over plain HTTP when the source says so.
 */
static void add_remote_chart(plumb_render_args *args, json_t *remote)
{
	const char *repo = text_of(remote, "repo"), *chart = text_of(remote, "chart");
	const char *digest = text_of(remote, "digest");
	int oci = plumb_helm_is_oci(repo);
	char *reference = !oci	 ? plumb_xstrdup(chart)
			  : digest ? plumb_xprintf("%s/%s@%s", repo, chart, digest)
				   : plumb_xprintf("%s/%s", repo, chart);
	plumb_render_args_add(args, reference);
	free(reference);
	if (!oci) {
		plumb_render_args_add(args, "--repo");
		plumb_render_args_add(args, repo);
	}
	if (text_of(remote, "version") && !digest) {
		plumb_render_args_add(args, "--version");
		plumb_render_args_add(args, text_of(remote, "version"));
	}
	if (json_is_true(json_object_get(remote, "plainHttp")))
		plumb_render_args_add(args, "--plain-http");
}

int plumb_helm_is_oci(const char *repo)
{
	return !strncmp(repo, "oci://", 6);
}

void plumb_helm_arguments(plumb_render_args *args, const plumb_render_job *job, const char *root,
			  const char *values_file)
{
	json_t *helm = helm_options(job), *item;
	json_t *remote = json_object_get(helm, "remote");
	size_t i;
	plumb_render_args_add(args, "template");
	plumb_render_args_add(args, job->release);
	if (job->remote) {
		add_remote_chart(args, remote);
	} else {
		char *folder = *job->path ? plumb_xprintf("%s/%s", root, job->path) : plumb_xstrdup(root);
		plumb_render_args_add(args, folder);
		free(folder);
	}
	plumb_render_args_add(args, "--namespace");
	plumb_render_args_add(args, job->namespace);
	/* Value files in the order given, then the inline values over them, then parameters over all. */
	json_array_foreach(json_object_get(helm, "valueFiles"), i, item) {
		char *path = plumb_xprintf("%s/%s", root, text_of(item, "path"));
		plumb_render_args_add(args, "--values");
		plumb_render_args_add(args, path);
		free(path);
	}
	if (values_file) {
		plumb_render_args_add(args, "--values");
		plumb_render_args_add(args, values_file);
	}
	json_array_foreach(json_object_get(helm, "parameters"), i, item) {
		const char *value = json_string_value(json_object_get(item, "value"));
		char *escaped = escaped_commas(value ? value : "");
		char *set = plumb_xprintf("%s=%s", text_of(item, "name"), escaped);
		plumb_render_args_add(args, json_is_true(json_object_get(item, "forceString")) ? "--set-string" : "--set");
		plumb_render_args_add(args, set);
		free(set);
		free(escaped);
	}
	json_array_foreach(json_object_get(helm, "fileParameters"), i, item) {
		char *set = plumb_xprintf("%s=%s/%s", text_of(item, "name"), root, text_of(item, "path"));
		plumb_render_args_add(args, "--set-file");
		plumb_render_args_add(args, set);
		free(set);
	}
	if (json_is_true(json_object_get(helm, "skipCrds")))
		plumb_render_args_add(args, "--skip-crds");
	if (json_is_true(json_object_get(helm, "skipSchemaValidation")))
		plumb_render_args_add(args, "--skip-schema-validation");
	if (json_is_true(json_object_get(helm, "skipTests")))
		plumb_render_args_add(args, "--skip-tests");
	if (text_of(helm, "kubeVersion")) {
		plumb_render_args_add(args, "--kube-version");
		plumb_render_args_add(args, text_of(helm, "kubeVersion"));
	}
	json_array_foreach(json_object_get(helm, "apiVersions"), i, item) {
		plumb_render_args_add(args, "--api-versions");
		plumb_render_args_add(args, json_string_value(item) ? json_string_value(item) : "");
	}
	json_decref(helm);
}

/*
 * The proxy and CA store variables plumb itself runs with: a fetch goes
 * where plumb's own traffic goes, and trusts what plumb trusts (helm, in
 * Go, reads SSL_CERT_FILE and SSL_CERT_DIR as OpenSSL does).
 */
static const char *const network_variables[] = { "HTTPS_PROXY", "https_proxy",	 "HTTP_PROXY",	"http_proxy",
						 "NO_PROXY",	"no_proxy",	 "SSL_CERT_FILE", "SSL_CERT_DIR" };
#define NETWORK_VARIABLE_COUNT (sizeof(network_variables) / sizeof(network_variables[0]))

char **plumb_helm_network_environment(const char *home)
{
	char **envp = plumb_xcalloc(NETWORK_VARIABLE_COUNT + 4, sizeof(*envp));
	size_t n = 0;
	envp[n++] = plumb_xstrdup("PATH=/nonexistent");
	envp[n++] = plumb_xprintf("HOME=%s", home);
	envp[n++] = plumb_xstrdup("KUBECONFIG=/nonexistent");
	for (size_t i = 0; i < NETWORK_VARIABLE_COUNT; i++) {
		const char *value = getenv(network_variables[i]);
		if (value)
			envp[n++] = plumb_xprintf("%s=%s", network_variables[i], value);
	}
	return envp;
}

void plumb_helm_environment_release(char **envp)
{
	for (size_t i = 0; envp && envp[i]; i++)
		free(envp[i]);
	free(envp);
}

char *plumb_helm_remote(const char *options)
{
	json_t *json = options ? json_loads(options, 0, NULL) : NULL;
	json_t *remote = json_object_get(json_object_get(json, "helm"), "remote");
	char *out = NULL;
	const char *at = text_of(remote, "digest") ? text_of(remote, "digest") : text_of(remote, "version");
	if (text_of(remote, "repo") && text_of(remote, "chart"))
		out = plumb_xprintf("%s %s@%s", text_of(remote, "repo"), text_of(remote, "chart"), at ? at : "latest");
	json_decref(json);
	return out;
}

plumb_position plumb_helm_remote_position(const plumb_render_job *job, char **file)
{
	json_t *json = job->options ? json_loads(job->options, 0, NULL) : NULL;
	json_t *remote = json_object_get(json_object_get(json, "helm"), "remote");
	*file = plumb_xstrdup(text_of(remote, "file") ? text_of(remote, "file") : "");
	plumb_position at = { *file, (unsigned)json_integer_value(json_object_get(remote, "line")),
			      (unsigned)json_integer_value(json_object_get(remote, "column")) };
	json_decref(json);
	return at;
}

int plumb_helm_is_release(const char *version)
{
	const char *c = version + (*version == 'v');
	for (int part = 0; part < 3; part++) {
		if (part && *c++ != '.')
			return 0;
		if (*c < '0' || *c > '9')
			return 0;
		while (*c >= '0' && *c <= '9')
			c++;
	}
	if (*c != '-' && *c != '+' && *c)
		return 0;
	for (; *c; c++)
		if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '.' ||
		      *c == '-' || *c == '+'))
			return 0;
	return 1;
}

int plumb_helm_remote_unpinned(const plumb_render_job *job)
{
	json_t *helm = helm_options(job);
	json_t *remote = json_object_get(helm, "remote");
	const char *version = text_of(remote, "version");
	/* A digest names one content for good. */
	int unpinned = job->remote && !text_of(remote, "digest") && (!version || !plumb_helm_is_release(version));
	json_decref(helm);
	return unpinned;
}

void plumb_helm_show_arguments(plumb_render_args *args, const plumb_render_job *job)
{
	json_t *helm = helm_options(job);
	plumb_render_args_add(args, "show");
	plumb_render_args_add(args, "chart");
	add_remote_chart(args, json_object_get(helm, "remote"));
	json_decref(helm);
}

int plumb_helm_shown_version(char **out, const char *chart_yaml)
{
	/* Chart.yaml as helm prints it: one top-level "version:" line. */
	for (const char *line = chart_yaml; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, "version:", 8) != 0)
			continue;
		const char *value = line + 8;
		value += strspn(value, " \t\"'");
		size_t length = strcspn(value, " \t\"'\r\n");
		*out = plumb_xstrndup(value, length);
		if (plumb_helm_is_release(*out))
			return 0;
		free(*out);
		*out = NULL;
		break;
	}
	return plumb_error_set(PLUMB_EINVALID, "helm show chart printed no version");
}

char *plumb_helm_options_pinned(const char *options, const char *version)
{
	json_t *json = json_loads(options, 0, NULL);
	json_t *remote = json_object_get(json_object_get(json, "helm"), "remote");
	json_object_set_new(remote, "version", json_string(version));
	char *pinned = json_dumps(json, JSON_COMPACT);
	json_decref(json);
	return pinned;
}

void plumb_helm_pin_remote(plumb_render_job *job, const char *version)
{
	char *options = plumb_helm_options_pinned(job->options, version);
	free(job->options);
	job->options = options;
	free(job->remote);
	job->remote = plumb_helm_remote(job->options);
	free(job->pinned);
	job->pinned = plumb_xstrdup(version);
}

int plumb_helm_is_remote(const char *options)
{
	char *remote = plumb_helm_remote(options);
	int is_remote = remote != NULL;
	free(remote);
	return is_remote;
}

/* Where helm reads the registries' logins, in the HOME of one run. */
static char *registry_config(const char *home)
{
	return plumb_xprintf("%s/.config/helm/registry/config.json", home);
}

/* host[:port] of an oci:// URL, a new string. */
static char *registry_host(const char *url)
{
	const char *host = url + strlen("oci://");
	return plumb_xstrndup(host, strcspn(host, "/"));
}

/* A login for host, as helm's registry configuration holds one, appended to auths (members of "auths"). */
static void add_login(plumb_buf *auths, const char *host, const char *username, const plumb_buf *password)
{
	plumb_buf pair = PLUMB_BUF_INIT;
	plumb_buf_printf(&pair, "%s:", username);
	plumb_buf_add(&pair, password->ptr, password->len);
	size_t encoded_size = 4 * ((pair.len + 2) / 3) + 1;
	char *encoded = plumb_xmalloc(encoded_size);
	EVP_EncodeBlock((unsigned char *)encoded, (const unsigned char *)pair.ptr, (int)pair.len);
	plumb_buf_wipe(&pair);
	/* Written by hand, not through jansson: its copies of the login would be freed unwiped. */
	json_t *name = json_string(host);
	char *quoted = json_dumps(name, JSON_ENCODE_ANY);
	json_decref(name);
	plumb_buf_printf(auths, "%s%s:{\"auth\":\"%s\"}", auths->len ? "," : "", quoted ? quoted : "\"\"", encoded);
	free(quoted);
	explicit_bzero(encoded, encoded_size);
	free(encoded);
}

/* Write the logins of auths into home's registry configuration, readable by its owner alone. */
static int write_logins(const char *home, const plumb_buf *auths)
{
	plumb_buf config = PLUMB_BUF_INIT;
	plumb_buf_add(&config, "{\"auths\":{", 10);
	plumb_buf_add(&config, auths->ptr, auths->len);
	plumb_buf_add(&config, "}}", 2);
	char *dir = plumb_xprintf("%s/.config/helm/registry", home), *path = registry_config(home);
	int error = plumb_fs_make_directories(dir, 0700);
	if (error == 0)
		error = plumb_fs_write_path(path, config.ptr, config.len, 0600);
	plumb_buf_wipe(&config);
	free(dir);
	free(path);
	return error;
}

/*
 * The access to each of urls (a registry's chart, oci://HOST/PATH/CHART,
 * or a Helm repository's URL) from credentials, for one run of helm:
 * logins into home's registry configuration, and the flags that say them.
 * One CA file serves a run: entries that name different ones are refused,
 * and so is insecureSkipVerify that would reach a URL whose entry does
 * not say it.
 */
static int add_access(plumb_render_args *args, const char *const *urls, size_t count, const char *home,
		      const plumb_source_credentials *credentials)
{
	plumb_buf auths = PLUMB_BUF_INIT;
	char *ca_file = NULL;
	size_t insecure = 0;
	int error = 0;
	for (size_t i = 0; i < count && error == 0; i++) {
		plumb_source_access access;
		memset(&access, 0, sizeof(access));
		int oci = plumb_helm_is_oci(urls[i]);
		error = credentials->resolve(&access, urls[i], credentials->payload);
		if (error == 0 && access.password.len && !oci)
			error = plumb_error_set(PLUMB_EINVALID,
						"credentials for %s: helm takes a Helm repository's password only on its "
						"command line, which every user of the machine can read: serve the chart "
						"from an OCI registry, or vendor it in git",
						urls[i]);
		else if (error == 0 && access.password.len && !access.username)
			error = plumb_error_set(PLUMB_EINVALID, "credentials for %s: a registry's login needs a username",
						access.entry);
		else if (error == 0 && access.password.len) {
			char *host = registry_host(urls[i]);
			add_login(&auths, host, access.username, &access.password);
			free(host);
		}
		if (error == 0 && access.ca_file && ca_file && strcmp(ca_file, access.ca_file) != 0)
			error = plumb_error_set(PLUMB_EINVALID,
						"credentials for %s: its caFile is not the one of the chart's other "
						"sources, and one run of helm takes one: put the CAs in one file",
						urls[i]);
		else if (error == 0 && access.ca_file && !ca_file)
			ca_file = plumb_xstrdup(access.ca_file);
		if (error == 0 && access.insecure_skip_verify) {
			insecure++;
			if (credentials->notice) {
				char *message = plumb_xprintf("the certificate of %s is not verified (insecureSkipVerify)",
							      urls[i]);
				credentials->notice(PLUMB_SOURCE_NOTICE_WARNING, urls[i], message, credentials->payload);
				free(message);
			}
		}
		plumb_source_access_release(&access);
	}
	if (error == 0 && insecure && insecure < count)
		error = plumb_error_set(PLUMB_EINVALID,
					"credentials: insecureSkipVerify would reach every source of the chart, and the "
					"entries of some do not say it");
	if (error == 0 && auths.len && (error = write_logins(home, &auths)) == 0) {
		char *path = registry_config(home);
		plumb_render_args_add(args, "--registry-config");
		plumb_render_args_add(args, path);
		free(path);
	}
	if (error == 0 && ca_file) {
		plumb_render_args_add(args, "--ca-file");
		plumb_render_args_add(args, ca_file);
	}
	if (error == 0 && insecure)
		plumb_render_args_add(args, "--insecure-skip-tls-verify");
	plumb_buf_wipe(&auths);
	free(ca_file);
	return error;
}

char *plumb_helm_remote_url(const plumb_render_job *job)
{
	json_t *helm = helm_options(job);
	json_t *remote = json_object_get(helm, "remote");
	const char *repo = text_of(remote, "repo"), *chart = text_of(remote, "chart");
	char *url = NULL;
	/* A registry's entry may be for the chart's own path; a repository's is for its URL. */
	if (job->remote && repo && chart)
		url = plumb_helm_is_oci(repo) ? plumb_xprintf("%s/%s", repo, chart) : plumb_xstrdup(repo);
	json_decref(helm);
	return url;
}

/* Overwrite and remove the registry logins add_access wrote in home, if any. */
static void wipe_logins(const char *home)
{
	char *path = registry_config(home);
	int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
		char zeros[4096] = { 0 };
		for (off_t left = st.st_size; left > 0;) {
			ssize_t n = write(fd, zeros, left < (off_t)sizeof(zeros) ? (size_t)left : sizeof(zeros));
			if (n <= 0)
				break;
			left -= n;
		}
		fsync(fd);
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	free(path);
}

int plumb_helm_run(plumb_process_result *result, plumb_buf *out, plumb_render_args *args, char *const *envp,
		   unsigned timeout_ms, size_t max, const plumb_helm_fetch *fetch, plumb_diags *diags)
{
	int error = fetch->credentials && fetch->count
			    ? add_access(args, fetch->urls, fetch->count, fetch->home, fetch->credentials)
			    : 0;
	if (error < 0) {
		plumb_diags_add(diags, fetch->at, "%s: %s", fetch->what, plumb_error_last());
		plumb_error_clear();
		error = PLUMB_EINVALID;
	} else {
		PLUMB_GROW(args->items, args->count, args->capacity);
		args->items[args->count] = NULL;
		error = plumb_process_run_env(result, out, args->items, envp, timeout_ms, max);
	}
	wipe_logins(fetch->home);
	return error;
}

int plumb_helm_fetch_dependencies(const plumb_render_job *job, const char *folder, const char *home,
				  const plumb_source_credentials *credentials, unsigned timeout_ms, plumb_position pos,
				  plumb_diags *diags)
{
	if (!job->fetch_dependencies)
		return 0;
	char **envp = plumb_helm_network_environment(home);
	plumb_render_args args = { 0 };
	plumb_render_args_add(&args, job->program);
	plumb_render_args_add(&args, "dependency");
	plumb_render_args_add(&args, "build");
	plumb_render_args_add(&args, folder);
	plumb_process_result result = { 0 };
	plumb_buf printed = PLUMB_BUF_INIT;
	plumb_helm_fetch fetch = { (const char *const *)job->dependency_sources, job->dependency_source_count, home,
				   credentials, pos, "helm dependency build" };
	int error = plumb_helm_run(&result, &printed, &args, envp, timeout_ms, 1u << 20, &fetch, diags);
	if (error == 0) {
		if (plumb_render_program_failed(diags, pos, "helm dependency build", &result, timeout_ms, 0))
			error = PLUMB_EINVALID;
		plumb_process_result_release(&result);
	}
	plumb_buf_release(&printed);
	plumb_render_args_release(&args);
	plumb_helm_environment_release(envp);
	return error;
}
