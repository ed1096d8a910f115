/*
 * Unit tests of Argo CD Applications read as plumb applications (load/argocd.c),
 * the render options they carry (load/render_options.c), the files a
 * directory's options choose (load/directory.c) and warnings (util/diag.c):
 * from real git commits, each problem at its position.
 */
#include "util/common.h"
#include "load/directory.h"
#include "load/discover.h"
#include "source/source.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "test.h"
#include "fixture.h"

static plumb_source *source;
static char *repo;

#define URL "https://git.example.com/homelab/gitops.git"

static int discover_head(plumb_applications *apps, const char *path, const plumb_discover_names *names,
			 plumb_diags *diags)
{
	char commit[PLUMB_OID_HEXSZ + 1];
	if (fixture_commit("test") != 0 || plumb_source_resolve(commit, source, "main") < 0)
		return -100;
	memset(apps, 0, sizeof(*apps));
	int error = plumb_applications_discover(apps, source, commit, path, "top", NULL, 0, names, diags);
	plumb_diags_sort(diags);
	return error;
}

static int has_warning(const plumb_diags *d, const char *file, unsigned line, const char *text)
{
	for (size_t i = 0; i < d->warning_count; i++)
		if (!strcmp(d->warnings[i].file ? d->warnings[i].file : "", file) && d->warnings[i].line == line &&
		    strstr(d->warnings[i].message, text))
			return 1;
	fprintf(stderr, "  missing warning %s:%u: ...%s... among:\n", file, line, text);
	plumb_diags_print(d, stderr);
	return 0;
}

static const char *const alias[] = { URL };
static const char *const homelab[] = { "homelab=homelab-admin" };

static void an_application_maps_onto_a_plumb_application(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	plumb_discover_names names = { homelab, 1, alias, 1 };
	fixture_sh("rm -rf repo/*");
	fixture_write("apps/web.yaml", "apiVersion: argoproj.io/v1alpha1\n"
					    "kind: Application\n"
					    "metadata:\n"
					    "  name: web\n"
					    "  namespace: argocd\n"
					    "  annotations: {argocd.argoproj.io/sync-wave: \"-2\"}\n"
					    "spec:\n"
					    "  project: default\n"
					    "  source:\n"
					    "    repoURL: " URL "\n"
					    "    path: plain\n"
					    "    targetRevision: HEAD\n"
					    "    helm:\n"
					    "      valueFiles: [values-prod.yaml, /envs/prod.yaml]\n"
					    "      parameters: [{name: a, value: 'x,y', forceString: true}]\n"
					    "  destination: {name: homelab, namespace: web}\n"
					    "  syncPolicy:\n"
					    "    automated: {selfHeal: true}\n"
					    "    syncOptions: [CreateNamespace=true, Replace=true, Validate=false]\n"
					    "  ignoreDifferences:\n"
					    "    - {group: apps, kind: Deployment, jsonPointers: [/spec/replicas],\n"
					    "       jqPathExpressions: ['.spec.x', '.spec | keys']}\n");
	fixture_write("apps/manual.yaml", "apiVersion: argoproj.io/v1alpha1\n"
					       "kind: Application\n"
					       "metadata: {name: manual}\n"
					       "spec:\n"
					       "  source: {repoURL: " URL ", path: plain}\n"
					       "  destination: {server: https://kubernetes.default.svc}\n");
	fixture_write("plain/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
	CHECK_INT(discover_head(&apps, "apps", &names, &diags), 0);
	CHECK_INT(apps.count, 2);
	const plumb_application *web = plumb_applications_find(&apps, "web");
	const plumb_application *manual = plumb_applications_find(&apps, "manual");
	CHECK(web && manual);
	if (web && manual) {
		CHECK(web == &apps.items[0]); /* wave -2 first */
		CHECK_INT((int)web->wave, -2);
		CHECK(web->kubernetes && web->repo == NULL && web->revision == NULL);
		CHECK_STR(web->context, "homelab-admin");
		CHECK_STR(web->namespace, "web");
		CHECK_STR(web->path, "plain");
		CHECK(web->automated && web->self_heal && !web->prune);
		CHECK(web->create_namespace && web->replace);
		CHECK_CONTAINS(web->ignore, "\"/spec/replicas\"");
		/* A jq path plumb reads is kept; one it does not is left out, with a warning. */
		CHECK_CONTAINS(web->ignore, "\"jqPaths\":[\".spec.x\"]");
		CHECK_CONTAINS(web->render, "\"path\":\"plain/values-prod.yaml\"");
		CHECK_CONTAINS(web->render, "\"path\":\"envs/prod.yaml\"");
		CHECK_CONTAINS(web->render, "\"value\":\"x,y\",\"forceString\":true");
		/* Without automated, Argo CD syncs only when asked; a directory is read without its subfolders. */
		CHECK(!manual->automated && !manual->prune && !manual->self_heal);
		CHECK(manual->context == NULL);
		CHECK_CONTAINS(manual->render, "\"recurse\":false");
	}
	CHECK(has_warning(&diags, "apps/web.yaml", 19, "\"Validate=false\" is not read by plumb"));
	CHECK(has_warning(&diags, "apps/web.yaml", 22, "jqPathExpressions: \".spec | keys\": at column 9"));
	CHECK_INT((int)diags.count, 0);
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

static void another_repository_stays_a_leaf_of_its_own(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("apps/other.yaml", "apiVersion: argoproj.io/v1alpha1\n"
					      "kind: Application\n"
					      "metadata: {name: other}\n"
					      "spec:\n"
					      "  source: {repoURL: https://git.example.com/other.git, path: x, targetRevision: v1}\n"
					      "  destination: {server: https://kubernetes.default.svc}\n");
	/* Without the alias, this repository's URL is another repository too. */
	CHECK_INT(discover_head(&apps, "apps", NULL, &diags), 0);
	CHECK_INT(apps.count, 1);
	if (apps.count == 1) {
		CHECK_STR(apps.items[0].repo, "https://git.example.com/other.git");
		CHECK_STR(apps.items[0].revision, "v1");
	}
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

static void what_cannot_be_honoured_is_an_error_at_its_position(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	plumb_discover_names names = { NULL, 0, alias, 1 };
	fixture_sh("rm -rf repo/*");
	fixture_write("apps/bad.yaml", "apiVersion: argoproj.io/v1alpha1\n"
					    "kind: Application\n"
					    "metadata:\n"
					    "  name: bad\n"
					    "  annotations: {argocd.argoproj.io/sync-wave: soon}\n"
					    "spec:\n"
					    "  source:\n"
					    "    repoURL: " URL "\n"
					    "    path: charts/web\n"
					    "    helm: {valueFiles: [../../../x.yaml], fileParameters: [{name: f, path: ../../..}]}\n"
					    "  destination: {server: https://10.0.0.5:6443}\n");
	CHECK_INT(discover_head(&apps, "apps", &names, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "apps/bad.yaml", 5, 47, "sync-wave: expected a whole number"));
	CHECK(has_diag(&diags, "apps/bad.yaml", 10, 25, "'../../../x.yaml' leaves the repository"));
	CHECK(has_diag(&diags, "apps/bad.yaml", 10, 76, "'../../..' leaves the repository"));
	plumb_diags_release(&diags);
	plumb_applications_release(&apps);

	/* The cluster is checked once the application is otherwise sound. */
	diags = (plumb_diags)PLUMB_DIAGS_INIT;
	fixture_write("apps/bad.yaml", "apiVersion: argoproj.io/v1alpha1\n"
					    "kind: Application\n"
					    "metadata: {name: bad}\n"
					    "spec:\n"
					    "  source: {repoURL: " URL ", path: plain}\n"
					    "  destination: {server: https://10.0.0.5:6443}\n");
	fixture_write("plain/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
	CHECK_INT(discover_head(&apps, "apps", &names, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "apps/bad.yaml", 6, 25, "cluster 'https://10.0.0.5:6443' is not one plumb knows"));
	plumb_diags_release(&diags);
	plumb_applications_release(&apps);
}

static void directory_options_choose_files_by_glob(void)
{
	plumb_directory_filter none, flat, globbed;
	plumb_directory_filter_init(&none, NULL);
	plumb_directory_filter_init(&flat, "{\"directory\":{\"recurse\":false}}");
	plumb_directory_filter_init(&globbed,
				    "{\"directory\":{\"recurse\":true,\"include\":\"{*.yaml,prod/*}\",\"exclude\":\"*secret*\"}}");
	/* Without options: every YAML file, below too; no JSON. */
	CHECK(plumb_directory_filter_keeps(&none, "a/b/c.yaml") && plumb_directory_filter_keeps(&none, "c.yml"));
	CHECK(!plumb_directory_filter_keeps(&none, "c.json") && !plumb_directory_filter_keeps(&none, "README.md"));
	/* Argo CD's defaults: the folder alone, JSON too. */
	CHECK(plumb_directory_filter_keeps(&flat, "c.json") && !plumb_directory_filter_keeps(&flat, "a/c.yaml"));
	/* "*" matches across "/", as Argo CD's globs do; alternatives; exclude wins. */
	CHECK(plumb_directory_filter_keeps(&globbed, "a/b/c.yaml"));
	CHECK(plumb_directory_filter_keeps(&globbed, "prod/x.json"));
	CHECK(!plumb_directory_filter_keeps(&globbed, "dev/x.json"));
	CHECK(!plumb_directory_filter_keeps(&globbed, "a/my-secret.yaml"));
	plumb_directory_filter_release(&none);
	plumb_directory_filter_release(&flat);
	plumb_directory_filter_release(&globbed);
}

static void warnings_are_kept_apart_from_errors(void)
{
	plumb_diags diags = PLUMB_DIAGS_INIT, copy = PLUMB_DIAGS_INIT;
	plumb_position at = { "a.yaml", 3, 5 };
	plumb_diags_warn(&diags, at, "read past");
	plumb_diags_warn(&diags, at, "read past");
	CHECK_INT((int)diags.count, 0);
	CHECK_INT((int)diags.warning_count, 2);
	plumb_diags_add(&diags, at, "wrong");
	plumb_diags_append(&copy, &diags);
	CHECK_INT((int)copy.count, 1);
	CHECK_INT((int)copy.warning_count, 2);
	/* One source two Flux releases name: its error is added twice, and told once. */
	plumb_diags_add(&copy, at, "also wrong");
	plumb_diags_add(&copy, at, "wrong");
	CHECK_INT((int)copy.count, 3);
	CHECK_INT((int)plumb_diags_distinct(&copy), 2);
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	plumb_diags_print(&copy, out);
	fclose(out);
	/* Each error once, then the warning once however often it was added. */
	CHECK_STR(text, "a.yaml:3:5: wrong\na.yaml:3:5: also wrong\na.yaml:3:5: warning: read past\n");
	free(text);
	CHECK_INT(plumb_diags_set_error(&copy), PLUMB_EINVALID);
	CHECK_STR(plumb_error_last(), "a.yaml:3:5: wrong; a.yaml:3:5: also wrong");
	plumb_error_clear();
	plumb_diags_release(&copy);
	plumb_diags_release(&diags);
}

int main(void)
{
	fixture_init("argocd");
	repo = fixture_path("repo");
	if (plumb_source_global_init() < 0 || fixture_commit("empty") != 0 ||
	    plumb_source_open(&source, repo, fixture_dir) < 0)
		return 2;
	RUN(an_application_maps_onto_a_plumb_application);
	RUN(another_repository_stays_a_leaf_of_its_own);
	RUN(what_cannot_be_honoured_is_an_error_at_its_position);
	RUN(directory_options_choose_files_by_glob);
	RUN(warnings_are_kept_apart_from_errors);
	plumb_source_free(source);
	plumb_source_global_shutdown();
	free(repo);
	fixture_cleanup();
	TEST_EXIT();
}
