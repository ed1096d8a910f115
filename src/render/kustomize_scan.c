/*
 * What a kustomization reaches (kustomize_scan.h): its files read with
 * libfyaml, every scalar a path or a reference to judge.
 */
#include "util/common.h"
#include "render/kustomize_scan.h"
#include "render/helm.h"
#include "render/kustomize_edit.h"
#include "util/path.h"

#include <libfyaml.h>
#include <stdlib.h>

const char *const plumb_kustomization_names[PLUMB_KUSTOMIZATION_NAME_COUNT] = { "kustomization.yaml",
										  "kustomization.yml", "Kustomization" };

int plumb_render_is_kustomization(const char *name)
{
	for (size_t i = 0; i < PLUMB_KUSTOMIZATION_NAME_COUNT; i++)
		if (!strcmp(name, plumb_kustomization_names[i]))
			return 1;
	return 0;
}

/* The largest kustomization read to find what it reaches. */
#define KUSTOMIZATION_MAX (1u << 20)
/* How deep a kustomization's document is walked for paths. */
#define SCAN_DEPTH_MAX 32

static int looks_remote(const char *value)
{
	static const char *const prefixes[] = { "github.com/", "gitlab.com/", "bitbucket.org/", "git@", "git::", "ssh:",
						"oci:" };
	if (strstr(value, "://"))
		return 1;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (!strncmp(value, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

typedef struct {
	plumb_render_job *job;
	plumb_source *source;
	const char *commit;
	plumb_diags *diags;
	char **queue; /* folders whose kustomizations are still to be read */
	size_t queue_count;
	size_t queue_capacity;
	const char *walk_base;
	int helm_charts; /* a kustomization inflates charts (helmCharts): kustomize runs helm */
	int allow_fetch; /* charts of a repository may be pulled */
} scan;

/*
 * What a kustomization's values say: where they are read from, or from where
 * charts are inflated (and whether a repository may be named there).
 */
enum { PLAIN_VALUE, SOURCE_VALUE, CHART_VALUE, FETCHED_CHART_VALUE };

static void add_input(scan *s, const char *path, int is_tree)
{
	if (plumb_render_has_input(s->job, path))
		return;
	plumb_render_add_input(s->job, path);
	if (is_tree) {
		PLUMB_GROW(s->queue, s->queue_count, s->queue_capacity);
		s->queue[s->queue_count++] = plumb_xstrdup(path);
	}
}

/* Where node (a scalar) is written in file. */
static plumb_position position_of(const char *file, struct fy_node *node)
{
	struct fy_token *token = node ? fy_node_get_scalar_token(node) : NULL;
	const struct fy_mark *mark = token ? fy_token_start_mark(token) : NULL;
	plumb_position pos = { file, mark ? (unsigned)mark->line + 1 : 0, mark ? (unsigned)mark->column + 1 : 0 };
	return pos;
}

/*
 * A scalar of a kustomization: a remote base is refused, a path out of the
 * repository too, and one outside the inputs joins them.
 */
static void scan_value(scan *s, const char *file, const char *dir, struct fy_node *node, int in_sources)
{
	size_t len;
	const char *text = fy_node_get_scalar(node, &len);
	if (!text || !len || len > 4096)
		return;
	char *value = plumb_xstrndup(text, len);
	plumb_position pos = position_of(file, node);
	if (in_sources == CHART_VALUE && looks_remote(value)) {
		plumb_diags_add(s->diags, pos,
				"chart repository '%s' refused: kustomize runs without the network; vendor the chart in "
				"the kustomization's charts/ folder (helm pull --untar) and leave out repo, or let it "
				"fetch: --allow-chart-fetch (allow-chart-fetch: in serve.yaml)",
				value);
		goto done;
	}
	if (in_sources && in_sources != FETCHED_CHART_VALUE && looks_remote(value)) {
		plumb_diags_add(s->diags, pos, "remote base '%s' refused: kustomize runs without the network", value);
		goto done;
	}
	if (in_sources && value[0] == '/') {
		plumb_diags_add(s->diags, pos, "absolute path '%s' refused: kustomize reads only the repository",
				value);
		goto done;
	}
	if (strncmp(value, "../", 3) != 0 && strcmp(value, "..") != 0 && !strstr(value, "/../"))
		goto done;
	char *resolved = plumb_path_resolve(dir, value);
	if (!resolved) {
		plumb_diags_add(s->diags, pos, "path '%s' leaves the repository", value);
		goto done;
	}
	plumb_source_entry entry;
	if (plumb_source_stat(&entry, s->source, s->commit, resolved) == 0)
		add_input(s, resolved, entry.type == PLUMB_ENTRY_TREE);
	free(resolved);
done:
	free(value);
}

/*
 * The helmCharts of a kustomization (root its document, in dir) that name a
 * repository, when they may be fetched: each must name one release (the
 * chart is cached by it), and the kustomization's chart home
 * (helmGlobals.chartHome, else charts) is where kustomize pulls them.
 */
static void note_fetched_charts(scan *s, const char *file, const char *dir, struct fy_node *root,
				struct fy_node *charts)
{
	void *iter = NULL;
	struct fy_node *item;
	int fetched = 0;
	while ((item = fy_node_sequence_iterate(charts, &iter)) != NULL) {
		const char *repo = fy_node_get_scalar0(fy_node_by_path(item, "repo", -1, FYNWF_DONT_FOLLOW));
		struct fy_node *version_node = fy_node_by_path(item, "version", -1, FYNWF_DONT_FOLLOW);
		const char *version = fy_node_get_scalar0(version_node);
		if (!repo || !*repo)
			continue;
		fetched = 1;
		if (!version || !plumb_helm_is_release(version))
			plumb_diags_add(s->diags, position_of(file, version_node ? version_node : item),
					"helmCharts: the chart of %s is fetched and cached by its version: give one "
					"release (1.2.3)%s%s",
					repo, version ? ", not " : "", version ? version : "");
	}
	if (!fetched)
		return;
	const char *home = fy_node_get_scalar0(fy_node_by_path(root, "helmGlobals/chartHome", -1, FYNWF_DONT_FOLLOW));
	char *resolved = plumb_path_resolve(dir, home && *home ? home : "charts");
	if (!resolved)
		return; /* a chart home out of the repository is refused as any path is */
	plumb_render_job *job = s->job;
	for (size_t i = 0; i < job->chart_home_count; i++)
		if (!strcmp(job->chart_homes[i], resolved)) {
			free(resolved);
			return;
		}
	job->chart_homes = plumb_xrealloc(job->chart_homes, (job->chart_home_count + 1) * sizeof(char *));
	job->chart_homes[job->chart_home_count++] = resolved;
}

static void scan_node(scan *s, const char *file, const char *dir, struct fy_node *node, int in_sources, int depth)
{
	if (!node || depth > SCAN_DEPTH_MAX)
		return;
	switch (fy_node_get_type(node)) {
	case FYNT_SCALAR:
		scan_value(s, file, dir, node, in_sources);
		break;
	case FYNT_SEQUENCE: {
		void *iter = NULL;
		struct fy_node *item;
		while ((item = fy_node_sequence_iterate(node, &iter)) != NULL)
			scan_node(s, file, dir, item, in_sources, depth + 1);
		break;
	}
	case FYNT_MAPPING: {
		void *iter = NULL;
		struct fy_node_pair *pair;
		while ((pair = fy_node_mapping_iterate(node, &iter)) != NULL) {
			const char *key = fy_node_get_scalar0(fy_node_pair_key(pair));
			int charts = key && depth == 0 && !strcmp(key, "helmCharts");
			if (charts && s->allow_fetch && fy_node_get_type(fy_node_pair_value(pair)) == FYNT_SEQUENCE)
				note_fetched_charts(s, file, dir, node, fy_node_pair_value(pair));
			int sources = charts && s->allow_fetch ? FETCHED_CHART_VALUE
				    : charts		      ? CHART_VALUE
				    : key && (!strcmp(key, "resources") || !strcmp(key, "bases") ||
					      !strcmp(key, "components"))
					    ? SOURCE_VALUE
					    : PLAIN_VALUE;
			s->helm_charts |= charts;
			scan_node(s, file, dir, fy_node_pair_value(pair), in_sources ? in_sources : sources, depth + 1);
		}
		break;
	}
	}
}

static int scan_kustomization(scan *s, const char *file, const char *id)
{
	plumb_buf text = PLUMB_BUF_INIT;
	int error = plumb_source_read_blob(&text, s->source, id, KUSTOMIZATION_MAX);
	if (error < 0) {
		plumb_position pos = { file, 0, 0 };
		if (error == PLUMB_EINVALID) {
			plumb_diags_add(s->diags, pos, "kustomization is larger than %u bytes", KUSTOMIZATION_MAX);
			error = 0;
		}
		plumb_buf_release(&text);
		return error;
	}
	char *dir = plumb_path_dirname(file);
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 };
	struct fy_document *doc = fy_document_build_from_string(&cfg, text.ptr, text.len);
	/* A kustomization that does not parse is kustomize's to report. */
	if (doc)
		scan_node(s, file, dir, fy_document_root(doc), 0, 0);
	fy_document_destroy(doc);
	free(dir);
	plumb_buf_release(&text);
	return 0;
}

static int find_kustomizations(const plumb_source_entry *entry, void *payload)
{
	scan *s = payload;
	if (entry->type != PLUMB_ENTRY_FILE && entry->type != PLUMB_ENTRY_EXECUTABLE)
		return 0;
	const char *slash = strrchr(entry->path, '/');
	if (!plumb_render_is_kustomization(slash ? slash + 1 : entry->path))
		return 0;
	char *file = plumb_path_join(s->walk_base, entry->path);
	int error = scan_kustomization(s, file, entry->id);
	free(file);
	return error;
}

int plumb_kustomize_scan(plumb_render_job *job, plumb_source *source, const char *commit, const char *path,
			 int allow_fetch, int *helm_charts, plumb_diags *diags)
{
	scan s = { job, source, commit, diags, NULL, 0, 0, NULL, 0, allow_fetch };
	int error = 0;
	add_input(&s, path, 1);
	/* A component the application adds is read from the folder, as one the kustomization names. */
	plumb_render_args components = { 0 };
	plumb_kustomize_components(&components, job);
	for (size_t i = 0; i < components.count; i++) {
		char *resolved = plumb_path_resolve(path, components.items[i]);
		plumb_source_entry entry;
		if (resolved && plumb_source_stat(&entry, source, commit, resolved) == 0)
			add_input(&s, resolved, entry.type == PLUMB_ENTRY_TREE);
		free(resolved);
	}
	plumb_render_args_release(&components);
	while (s.queue_count && error == 0) {
		char *dir = s.queue[--s.queue_count];
		s.walk_base = dir;
		error = plumb_source_walk(source, commit, dir, find_kustomizations, &s);
		free(dir);
	}
	for (size_t i = 0; i < s.queue_count; i++)
		free(s.queue[i]);
	free(s.queue);
	*helm_charts = s.helm_charts;
	return error;
}
