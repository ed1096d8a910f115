#include "util/common.h"
#include "render/render.h"
#include "render/cache.h"
#include "render/helm.h"
#include "render/job.h"
#include "render/kustomize_edit.h"
#include "render/kustomize_scan.h"
#include "render/versions.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/path.h"
#include "util/process.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <libfyaml.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest Chart.yaml read to find what it reaches. */
#define CHART_YAML_MAX (1u << 20)

int plumb_render_is_chart(const char *name)
{
	return !strcmp(name, "Chart.yaml");
}

static int has_file(plumb_source *source, const char *commit, const char *path, const char *name)
{
	char *file = plumb_path_join(path, name);
	plumb_source_entry entry;
	int found = plumb_source_stat(&entry, source, commit, file) == 0 &&
		    (entry.type == PLUMB_ENTRY_FILE || entry.type == PLUMB_ENTRY_EXECUTABLE);
	free(file);
	return found;
}

const char *plumb_render_kind(plumb_source *source, const char *commit, const char *path)
{
	for (size_t i = 0; i < PLUMB_KUSTOMIZATION_NAME_COUNT; i++)
		if (has_file(source, commit, path, plumb_kustomization_names[i]))
			return "kustomize";
	if (has_file(source, commit, path, "Chart.yaml"))
		return "helm";
	return NULL;
}

/* What `PROGRAM version` (kustomize) or `PROGRAM version --short` (helm) prints, trimmed. */
static int program_version(char **out, const char *program, const char *option)
{
	plumb_process_result result;
	plumb_buf version = PLUMB_BUF_INIT;
	char *const argv[] = { (char *)program, "version", (char *)option, NULL };
	char *const envp[] = { "PATH=/nonexistent", "HOME=/nonexistent", NULL };
	int error = plumb_process_run_env(&result, &version, argv, envp, 10000, 4096);
	if (error < 0)
		goto done;
	if (!result.exited || result.status != 0 || !version.len) {
		error = plumb_error_set(PLUMB_ERROR, "'%s version%s%s' failed: %s", program, option ? " " : "",
					option ? option : "",
					result.error.len ? result.error.ptr : "no version printed");
		goto done;
	}
	while (version.len && (version.ptr[version.len - 1] == '\n' || version.ptr[version.len - 1] == ' '))
		plumb_buf_truncate(&version, version.len - 1);
	*out = plumb_buf_detach(&version, NULL);
done:
	plumb_process_result_release(&result);
	plumb_buf_release(&version);
	return error;
}

/* The program's version, from options' versions when it was asked less than a minute ago. */
static int version_of(char **out, const plumb_render_options *options, const char *program, const char *option)
{
	const char *known = plumb_render_versions_find(options->versions, program, option);
	if (known) {
		*out = plumb_xstrdup(known);
		return 0;
	}
	int error = program_version(out, program, option);
	if (error == 0)
		plumb_render_versions_put(options->versions, program, option, *out);
	return error;
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* --- a chart ---------------------------------------------------------------------------------- */

typedef struct {
	const char *name;
	int found;
} archive_search;

/* An archive charts/NAME-VERSION.tgz, as `helm dependency update` leaves it. */
static int find_archive(const plumb_source_entry *entry, void *payload)
{
	archive_search *search = payload;
	size_t n = strlen(search->name), len = strlen(entry->path);
	if (entry->type != PLUMB_ENTRY_TREE && !strchr(entry->path, '/') && len > n + 5 &&
	    !strncmp(entry->path, search->name, n) && entry->path[n] == '-' && !strcmp(entry->path + len - 4, ".tgz"))
		search->found = 1;
	return 0;
}

/* True when charts/ of the chart holds dependency name: a folder charts/NAME or an archive charts/NAME-*.tgz. */
static int is_vendored(plumb_source *source, const char *commit, const char *chart, const char *name)
{
	char *charts = plumb_path_join(chart, "charts");
	char *folder = plumb_path_join(charts, name);
	archive_search search = { name, 0 };
	plumb_source_entry entry;
	if (plumb_source_stat(&entry, source, commit, folder) == 0 && entry.type == PLUMB_ENTRY_TREE)
		search.found = 1;
	else if (plumb_source_stat(&entry, source, commit, charts) == 0 && entry.type == PLUMB_ENTRY_TREE)
		plumb_source_walk(source, commit, charts, find_archive, &search);
	free(folder);
	free(charts);
	return search.found;
}

/*
 * Chart.yaml's dependencies: each must be vendored under charts/, since
 * helm runs without the network, unless fetching is allowed: then the job
 * runs `helm dependency build` on the copy first (a file:// dependency in
 * the repository joins the copy, one outside it is refused).
 */
static int check_dependencies(plumb_render_job *job, plumb_source *source, const char *commit, int allow_fetch,
			      plumb_diags *diags)
{
	char *file = plumb_path_join(job->path, "Chart.yaml");
	plumb_source_entry entry;
	plumb_buf text = PLUMB_BUF_INIT;
	struct fy_document *doc = NULL;
	int error;

	if ((error = plumb_source_stat(&entry, source, commit, file)) < 0 ||
	    (error = plumb_source_read_blob(&text, source, entry.id, CHART_YAML_MAX)) < 0) {
		if (error == PLUMB_EINVALID) {
			plumb_position pos = { file, 0, 0 };
			plumb_diags_add(diags, pos, "Chart.yaml is larger than %u bytes", CHART_YAML_MAX);
		}
		goto done;
	}
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 };
	/* A Chart.yaml that does not parse is helm's to report. */
	doc = fy_document_build_from_string(&cfg, text.ptr, text.len);
	struct fy_node *deps = doc ? fy_node_by_path(fy_document_root(doc), "/dependencies", FY_NT, FYNWF_DONT_FOLLOW)
				   : NULL;
	if (!deps || !fy_node_is_sequence(deps))
		goto done;
	void *iter = NULL;
	struct fy_node *dep;
	while ((dep = fy_node_sequence_iterate(deps, &iter)) != NULL) {
		struct fy_node *name_node = fy_node_mapping_lookup_by_string(dep, "name", FY_NT);
		const char *name = name_node ? fy_node_get_scalar0(name_node) : NULL;
		if (!name || !*name || strchr(name, '/') || is_vendored(source, commit, job->path, name))
			continue;
		struct fy_node *repo_node = fy_node_mapping_lookup_by_string(dep, "repository", FY_NT);
		const char *repo = repo_node ? fy_node_get_scalar0(repo_node) : NULL;
		struct fy_token *token = fy_node_get_scalar_token(name_node);
		const struct fy_mark *mark = token ? fy_token_start_mark(token) : NULL;
		plumb_position pos = { file, mark ? (unsigned)mark->line + 1 : 0,
				       mark ? (unsigned)mark->column + 1 : 0 };
		if (allow_fetch && repo && !strncmp(repo, "file://", 7)) {
			char *local = plumb_path_resolve(job->path, repo + 7);
			if (local)
				plumb_render_add_input(job, local);
			else
				plumb_diags_add(diags, pos, "chart dependency '%s' (%s) leaves the repository", name, repo);
			free(local);
			job->fetch_dependencies = 1;
			continue;
		}
		if (allow_fetch) {
			job->fetch_dependencies = 1;
			/* Where helm fetches it from, for the access the credentials give (render/helm.h). */
			if (repo && *repo) {
				size_t n = job->dependency_source_count;
				job->dependency_sources = plumb_xrealloc(job->dependency_sources, (n + 1) * sizeof(char *));
				job->dependency_sources[n] = plumb_helm_is_oci(repo) ? plumb_xprintf("%s/%s", repo, name)
										     : plumb_xstrdup(repo);
				job->dependency_source_count = n + 1;
			}
			continue;
		}
		plumb_diags_add(diags, pos,
				"chart dependency '%s'%s%s%s is not vendored under charts/: helm runs without the network "
				"(vendor it with helm dependency build, or let plumb fetch it: --allow-chart-fetch)",
				name, repo && *repo ? " (" : "", repo && *repo ? repo : "", repo && *repo ? ")" : "");
	}
done:
	fy_document_destroy(doc);
	plumb_buf_release(&text);
	free(file);
	return error;
}

/* The program named by option, else by the environment's variable, else fallback. */
static void remove_tree(const char *dir);

/*
 * A chart of a Helm repository whose version is a range (or none) pinned
 * to the release it resolves to now, as `helm show chart` says (believed
 * for a minute, as a program's version): the key and the run name that
 * release, so that one published since renders anew, as Flux would apply
 * it.
 */
static int pin_remote_version(plumb_render_job *job, const plumb_render_options *options, plumb_diags *diags)
{
	if (!plumb_helm_remote_unpinned(job))
		return 0;
	const char *known = plumb_render_versions_find(options->versions, job->program, job->remote);
	if (known) {
		plumb_helm_pin_remote(job, known);
		return 0;
	}
	const char *tmpdir = getenv("TMPDIR");
	char *home = plumb_xprintf("%s/plumb-render-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(home)) {
		int error = plumb_error_set(PLUMB_ERROR, "cannot make a temporary directory %s: %s", home, strerror(errno));
		free(home);
		return error;
	}
	char **envp = plumb_helm_network_environment(home);
	plumb_render_args args = { 0 };
	plumb_render_args_add(&args, job->program);
	plumb_helm_show_arguments(&args, job);
	plumb_process_result result = { 0 };
	plumb_buf printed = PLUMB_BUF_INIT;
	unsigned timeout_ms = plumb_render_timeout(options);
	char *version = NULL, *file = NULL;
	plumb_position at = plumb_helm_remote_position(job, &file);
	char *command = plumb_xprintf("helm show chart %s", job->remote);
	char *url = plumb_helm_remote_url(job);
	const char *urls[] = { url };
	plumb_helm_fetch fetch = { urls, url ? 1 : 0, home, options->credentials, at, job->remote };
	int error = plumb_helm_run(&result, &printed, &args, envp, timeout_ms, 1u << 20, &fetch, diags);
	free(url);
	if (error == 0) {
		if (plumb_render_program_failed(diags, at, command, &result, timeout_ms, 0))
			; /* a diagnostic says how */
		else if (plumb_helm_shown_version(&version, printed.ptr) < 0) {
			plumb_diags_add(diags, at, "%s: %s", job->remote, plumb_error_last());
			plumb_error_clear();
		} else {
			plumb_render_versions_put(options->versions, job->program, job->remote, version);
			plumb_helm_pin_remote(job, version);
		}
		plumb_process_result_release(&result);
		error = version ? 0 : PLUMB_EINVALID;
	}
	free(command);
	free(version);
	free(file);
	plumb_buf_release(&printed);
	plumb_render_args_release(&args);
	plumb_helm_environment_release(envp);
	remove_tree(home);
	free(home);
	return error;
}

static char *program_of(const char *option, const char *variable, const char *fallback)
{
	const char *program = option && *option ? option : getenv(variable);
	return plumb_xstrdup(program && *program ? program : fallback);
}

/*
 * The helm a kustomization's helmCharts are inflated with, as Argo CD's
 * --enable-helm runs it: kustomize runs it without PATH, so by its absolute
 * path (job->helm_command); it and its version join the key. No helm is a
 * diagnostic naming the folder.
 */
static int find_chart_inflater(plumb_render_job *job, plumb_buf *key, const plumb_render_options *options,
			       const char *path, plumb_diags *diags)
{
	char *program = program_of(options->helm, "PLUMB_HELM", "helm"), *version = NULL;
	char *found = plumb_process_find(program);
	int error = 0;
	if (!found) {
		plumb_position at = { *path ? path : ".", 0, 0 };
		plumb_diags_add(diags, at,
				"the kustomization inflates helmCharts, with helm, and there is no helm '%s' (--helm, "
				"PLUMB_HELM, else helm on PATH)",
				program);
	} else if ((error = version_of(&version, options, found, "--short")) == 0) {
		plumb_buf_printf(key, "enable-helm %s %s\n", found, version);
		job->helm_command = found;
		found = NULL;
	}
	free(version);
	free(found);
	free(program);
	return error;
}

int plumb_render_prepare(plumb_render_job *out, plumb_source *source, const char *commit, const char *path,
			 const plumb_render_target *target, const plumb_render_options *options, plumb_diags *diags)
{
	size_t diags_before = diags->count;
	plumb_buf key = PLUMB_BUF_INIT;
	int error;

	out->path = plumb_xstrdup(path);
	out->options = target && target->options ? plumb_xstrdup(target->options) : NULL;
	out->remote = plumb_helm_remote(out->options);
	out->renderer = out->remote ? "helm" : plumb_render_kind(source, commit, path);
	if (out->renderer && !strcmp(out->renderer, "helm")) {
		/* An implicit application is named by its path: the release, by the path's last component. */
		const char *name = target && target->name && *target->name ? target->name : path;
		if (strrchr(name, '/'))
			name = strrchr(name, '/') + 1;
		if (!*name)
			name = "release";
		out->program = program_of(options->helm, "PLUMB_HELM", "helm");
		out->release = plumb_xstrdup(name);
		out->namespace = plumb_xstrdup(target && target->namespace && *target->namespace ? target->namespace
												 : "default");
		if ((error = version_of(&out->version, options, out->program, "--short")) < 0)
			goto done;
		if (out->remote && !options->allow_chart_fetch) {
			char *file;
			plumb_position at = plumb_helm_remote_position(out, &file);
			plumb_diags_add(diags, at,
					"the chart %s is fetched from %s over the network: plumb renders charts kept in "
					"git (vendor it there and give its path), or let it fetch: --allow-chart-fetch "
					"(allow-chart-fetch: in serve.yaml)",
					out->remote, plumb_helm_is_oci(out->remote) ? "an OCI registry" : "a Helm repository");
			free(file);
		} else if (!out->remote) {
			if ((error = check_dependencies(out, source, commit, options->allow_chart_fetch, diags)) < 0)
				goto done;
			plumb_render_add_input(out, path);
		} else if ((error = pin_remote_version(out, options, diags)) < 0 && error != PLUMB_EINVALID) {
			goto done;
		}
		if ((error = plumb_helm_prepare(out, source, commit, diags)) < 0 && error != PLUMB_EINVALID)
			goto done;
		/* The arguments the run passes, the copy's root as ".", and the inline values themselves. */
		plumb_render_args args = { 0 };
		plumb_helm_arguments(&args, out, ".", out->values ? "values" : NULL);
		plumb_buf_printf(&key, "helm\n%s\n%s\n%s", out->program, out->version,
				 out->fetch_dependencies ? "dependency build\n" : "");
		for (size_t i = 0; i < args.count; i++)
			plumb_buf_printf(&key, "%s\n", args.items[i]);
		plumb_render_args_release(&args);
		if (out->values)
			plumb_buf_printf(&key, "values %zu\n%s\n", strlen(out->values), out->values);
		goto keyed;
	}
	out->renderer = "kustomize";
	out->program = program_of(options->kustomize, "PLUMB_KUSTOMIZE", "kustomize");
	if ((error = version_of(&out->version, options, out->program, NULL)) < 0)
		goto done;

	int helm_charts = 0;
	if ((error = plumb_kustomize_scan(out, source, commit, path, options->allow_chart_fetch, &helm_charts, diags)) < 0)
		goto done;
	qsort(out->inputs, out->input_count, sizeof(*out->inputs), compare_strings);

	/* The origin annotations the copy asks for (kustomize_edit.h) are part of what is printed. */
	plumb_buf_printf(&key, "kustomize\n%s\n%s\nbuild\n%s\norigin\n", out->program, out->version, path);
	if (helm_charts && (error = find_chart_inflater(out, &key, options, path, diags)) < 0)
		goto done;
	if (out->options)
		plumb_buf_printf(&key, "options %s\n", out->options);
keyed:
	for (size_t i = 0; i < out->input_count; i++) {
		plumb_source_entry entry;
		if ((error = plumb_source_stat(&entry, source, commit, out->inputs[i])) < 0)
			goto done;
		plumb_buf_printf(&key, "%s %d %s\n", out->inputs[i], (int)entry.type, entry.id);
	}
	plumb_hash_sha256_hex(out->key, key.ptr, key.len);
	if (diags->count > diags_before)
		error = PLUMB_EINVALID;
done:
	plumb_buf_release(&key);
	return error;
}

/* --- the private copy ------------------------------------------------------------------------ */

typedef struct {
	plumb_source *source;
	const char *root; /* the copy's repository root, absolute */
	const char *base; /* the repository folder being written */
	plumb_diags *diags;
} copy;

static int write_entry(copy *c, const char *path, const plumb_source_entry *entry)
{
	char *target = plumb_xprintf("%s/%s", c->root, path);
	plumb_buf blob = PLUMB_BUF_INIT;
	int error = 0;

	switch (entry->type) {
	case PLUMB_ENTRY_TREE:
		error = plumb_fs_make_directories(target, 0755);
		break;
	case PLUMB_ENTRY_FILE:
	case PLUMB_ENTRY_EXECUTABLE:
	case PLUMB_ENTRY_SYMLINK: {
		char *dir = plumb_path_dirname(target);
		if ((error = plumb_fs_make_directories(dir, 0755)) < 0 ||
		    (error = plumb_source_read_blob(&blob, c->source, entry->id, PLUMB_RENDER_OUTPUT_MAX)) < 0) {
			free(dir);
			break;
		}
		free(dir);
		if (entry->type == PLUMB_ENTRY_SYMLINK) {
			char *link_dir = plumb_path_dirname(path);
			char *resolved = memchr(blob.ptr, '\0', blob.len) ? NULL : plumb_path_resolve(link_dir, blob.ptr);
			free(link_dir);
			if (!resolved) {
				plumb_position pos = { path, 0, 0 };
				plumb_diags_add(c->diags, pos, "symlink to '%s' leaves the repository", blob.ptr);
				break;
			}
			free(resolved);
			if (symlink(blob.ptr, target) < 0)
				error = plumb_error_set(PLUMB_ERROR, "symlink %s: %s", target, strerror(errno));
			break;
		}
		int fd = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
		if (fd < 0 || write(fd, blob.ptr, blob.len) != (ssize_t)blob.len)
			error = plumb_error_set(PLUMB_ERROR, "writing %s: %s", target, strerror(errno));
		if (fd >= 0)
			close(fd);
		break;
	}
	case PLUMB_ENTRY_SUBMODULE:
		break;
	}
	plumb_buf_release(&blob);
	free(target);
	return error;
}

static int copy_entry(const plumb_source_entry *entry, void *payload)
{
	copy *c = payload;
	char *path = plumb_path_join(c->base, entry->path);
	int error = write_entry(c, path, entry);
	free(path);
	return error;
}

static int make_writable(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_D || flag == FTW_DP)
		chmod(path, 0700);
	return 0;
}

static int make_read_only(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (flag == FTW_DP)
		chmod(path, 0555);
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void remove_tree(const char *dir)
{
	nftw(dir, make_writable, 16, FTW_PHYS);
	nftw(dir, remove_entry, 16, FTW_PHYS | FTW_DEPTH);
}

/* --- running it ----------------------------------------------------------------------------- */

/* A limit: the option, else the environment's variable name, else the default. */
static size_t limit(size_t option, const char *name, size_t fallback)
{
	const char *text = getenv(name);
	char *end;
	if (option)
		return option;
	if (text && *text) {
		unsigned long long value = strtoull(text, &end, 10);
		if (!*end && value > 0 && value <= SIZE_MAX)
			return (size_t)value;
	}
	return fallback;
}

unsigned plumb_render_timeout(const plumb_render_options *options)
{
	size_t ms = limit(options ? options->timeout_ms : 0, "PLUMB_RENDER_TIMEOUT_MS", PLUMB_RENDER_TIMEOUT_MS);
	return ms > UINT_MAX ? UINT_MAX : (unsigned)ms;
}

size_t plumb_render_output_max(const plumb_render_options *options)
{
	return limit(options ? options->output_max : 0, "PLUMB_RENDER_OUTPUT_MAX", PLUMB_RENDER_OUTPUT_MAX);
}

static int run_program(plumb_buf *out, const plumb_render_job *job, plumb_source *source, const char *commit,
		       const plumb_render_options *options, plumb_diags *diags)
{
	const char *tmpdir = getenv("TMPDIR");
	char *temporary = plumb_xprintf("%s/plumb-render-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
	char *root = NULL, *folder = NULL, *home = NULL, *values = NULL;
	char *where = plumb_xprintf("%s (%s)", job->remote ? job->remote : *job->path ? job->path : ".", job->renderer);
	int helm = !strcmp(job->renderer, "helm");
	const char *command = helm ? "helm template" : "kustomize build";
	plumb_position pos = { where, 0, 0 };
	plumb_process_result result = { 0 };
	size_t diags_before = diags->count;
	int error = 0, ran = 0;

	if (!mkdtemp(temporary)) {
		error = plumb_error_set(PLUMB_ERROR, "cannot make a temporary directory %s: %s", temporary,
					strerror(errno));
		free(temporary);
		temporary = NULL;
		goto done;
	}
	root = plumb_xprintf("%s/repo", temporary);
	home = plumb_xprintf("%s/home", temporary);
	if ((error = plumb_fs_make_directories(root, 0755)) < 0 || (error = plumb_fs_make_directories(home, 0700)) < 0)
		goto done;
	for (size_t i = 0; i < job->input_count; i++) {
		copy c = { source, root, job->inputs[i], diags };
		plumb_source_entry entry;
		if ((error = plumb_source_stat(&entry, source, commit, job->inputs[i])) < 0)
			goto done;
		if ((error = write_entry(&c, job->inputs[i], &entry)) < 0)
			goto done;
		if (entry.type == PLUMB_ENTRY_TREE &&
		    (error = plumb_source_walk(source, commit, job->inputs[i], copy_entry, &c)) < 0)
			goto done;
	}
	if (diags->count > diags_before) {
		error = PLUMB_EINVALID;
		goto done;
	}
	folder = *job->path ? plumb_xprintf("%s/%s", root, job->path) : plumb_xstrdup(root);
	if (!helm && (error = plumb_kustomize_edit(job, folder, pos, diags)) < 0)
		goto done;
	if (helm && job->values) {
		values = plumb_xprintf("%s/values.yaml", temporary);
		if ((error = plumb_fs_write_path(values, job->values, strlen(job->values), 0400)) < 0)
			goto done;
	}
	/* Dependencies fetched, when allowed, into the copy's charts/ before it turns read-only. */
	if (helm && (error = plumb_helm_fetch_dependencies(job, folder, home, options->credentials,
							   plumb_render_timeout(options), pos, diags)) < 0)
		goto done;
	/* Where kustomize pulls the charts of a repository, when it may: made before the copy turns read-only. */
	char **homes = plumb_xcalloc(job->chart_home_count + 1, sizeof(char *));
	for (size_t i = 0; i < job->chart_home_count && error == 0; i++) {
		homes[i] = plumb_xprintf("%s/%s", root, job->chart_homes[i]);
		error = plumb_fs_make_directories(homes[i], 0755);
	}
	nftw(root, make_read_only, 16, FTW_PHYS | FTW_DEPTH);
	for (size_t i = 0; i < job->chart_home_count; i++) {
		if (homes[i])
			chmod(homes[i], 0755);
		free(homes[i]);
	}
	free(homes);
	if (error < 0)
		goto done;

	char *home_env = plumb_xprintf("HOME=%s", home);
	/*
	 * No git to fetch a remote base with, proxies that refuse every
	 * connection, and no kubeconfig: helm template asks no cluster. A chart
	 * of a Helm repository, fetched as allowed (by helm template, or by the
	 * helm kustomize inflates helmCharts with), is the one renderer let out.
	 */
	char *closed[] = { "PATH=/nonexistent", home_env, "HTTP_PROXY=http://127.0.0.1:9",
			   "HTTPS_PROXY=http://127.0.0.1:9", "http_proxy=http://127.0.0.1:9",
			   "https_proxy=http://127.0.0.1:9", "NO_PROXY=", "GIT_TERMINAL_PROMPT=0",
			   "KUBECONFIG=/nonexistent", NULL };
	char **network = job->remote || job->chart_home_count ? plumb_helm_network_environment(home) : NULL;
	char *const *envp = network ? network : closed;
	plumb_render_args args = { 0 };
	plumb_render_args_add(&args, job->program);
	if (helm) {
		plumb_helm_arguments(&args, job, root, values);
	} else {
		plumb_render_args_add(&args, "build");
		if (job->helm_command) {
			plumb_render_args_add(&args, "--enable-helm");
			plumb_render_args_add(&args, "--helm-command");
			plumb_render_args_add(&args, job->helm_command);
		}
		plumb_render_args_add(&args, folder);
	}
	unsigned timeout_ms = plumb_render_timeout(options);
	size_t output_max = plumb_render_output_max(options);
	/* A remote chart's helm logs in, as the credentials say, for this run alone. */
	char *file = NULL, *url = plumb_helm_remote_url(job);
	const char *urls[] = { url };
	plumb_helm_fetch fetch = { urls, url ? 1 : 0, home, options->credentials, pos, where };
	if (url)
		fetch.at = plumb_helm_remote_position(job, &file);
	error = plumb_helm_run(&result, out, &args, envp, timeout_ms, output_max, &fetch, diags);
	free(url);
	free(file);
	plumb_render_args_release(&args);
	plumb_helm_environment_release(network);
	free(home_env);
	ran = 1;
	if (error < 0)
		goto done;
	plumb_render_program_failed(diags, pos, command, &result, timeout_ms, output_max);
	if (diags->count > diags_before)
		error = PLUMB_EINVALID;
done:
	if (ran)
		plumb_process_result_release(&result);
	if (temporary)
		remove_tree(temporary);
	free(temporary);
	free(root);
	free(home);
	free(folder);
	free(values);
	free(where);
	return error;
}

int plumb_render_output(plumb_buf *out, const plumb_render_job *job, plumb_source *source, const char *commit,
			const plumb_render_options *options, plumb_diags *diags)
{
	size_t output_max = plumb_render_output_max(options);
	if (options->state_dir && plumb_render_cache_read(out, options->state_dir, job->key, output_max) == 0)
		return 0;
	plumb_buf rendered = PLUMB_BUF_INIT;
	int error = run_program(&rendered, job, source, commit, options, diags);
	if (error == 0) {
		plumb_buf_add(out, rendered.ptr, rendered.len);
		if (options->state_dir)
			plumb_render_cache_write(options->state_dir, job->key, &rendered);
	}
	plumb_buf_release(&rendered);
	return error;
}
