/*
 * Unit tests of plumb_applications_discover: Applications (app of apps) read
 * from real git commits, expanded into their leaves, ordered, and every
 * problem reported as a diagnostic with its position.
 */
#include "util/common.h"
#include "load/discover.h"
#include "source/source.h"

#include <stdio.h>
#include <stdlib.h>

#include "test.h"
#include "fixture.h"

static plumb_source *source;
static char *repo;

/* Commit the work tree and discover the applications of path; the diagnostics come back sorted. */
static int discover_head(plumb_applications *apps, const char *path, const char *implicit, plumb_diags *diags)
{
	char commit[PLUMB_OID_HEXSZ + 1];
	if (fixture_commit("test") != 0 || plumb_source_resolve(commit, source, "main") < 0)
		return -100;
	memset(apps, 0, sizeof(*apps));
	int error = plumb_applications_discover(apps, source, commit, path, implicit, NULL, 0, NULL, diags);
	plumb_diags_sort(diags);
	return error;
}

/* Some diagnostic in FILE whose message holds text (and, if not NULL, not_text nowhere in it). */
static int has_diag_in(const plumb_diags *d, const char *file, const char *text, const char *not_text)
{
	for (size_t i = 0; i < d->count; i++)
		if (!strcmp(d->items[i].file ? d->items[i].file : "", file) && strstr(d->items[i].message, text) &&
		    (!not_text || !strstr(d->items[i].message, not_text)))
			return 1;
	fprintf(stderr, "  missing %s:*: ...%s...%s%s among:\n", file, text, not_text ? " without " : "",
		not_text ? not_text : "");
	plumb_diags_print(d, stderr);
	return 0;
}

/* The names of the leaves in order, joined by spaces. */
static char *names(const plumb_applications *apps)
{
	plumb_buf b = PLUMB_BUF_INIT;
	for (size_t i = 0; i < apps->count; i++)
		plumb_buf_printf(&b, "%s%s", i ? " " : "", apps->items[i].name);
	return b.ptr ? plumb_buf_detach(&b, NULL) : plumb_xstrdup("");
}

#define CHECK_NAMES(apps, expected)                  \
	do {                                         \
		char *got_ = names(apps);            \
		CHECK_STR(got_, expected);           \
		free(got_);                          \
	} while (0)

static void write_host(const char *file, const char *name, const char *live)
{
	char *text = plumb_xprintf("apiVersion: host/v1\nkind: File\nmetadata: {name: %s}\n"
				   "spec: {path: %s, content: x}\n",
				   name, live);
	fixture_write(file, text);
	free(text);
}

/* Application NAME with path PATH and extra spec lines (each "  key: value\n"). */
static char *app(const char *name, const char *path, const char *extra)
{
	return plumb_xprintf("apiVersion: plumb/v1\nkind: Application\nmetadata: {name: %s}\nspec:\n"
			     "  source: {path: %s}\n%s",
			     name, path, extra ? extra : "");
}

/* Write the Applications (NULL-terminated list of documents, each owned) as one file. */
static void write_apps(const char *file, ...)
{
	plumb_buf b = PLUMB_BUF_INIT;
	va_list ap;
	va_start(ap, file);
	char *doc;
	int first = 1;
	while ((doc = va_arg(ap, char *)) != NULL) {
		plumb_buf_printf(&b, "%s%s", first ? "" : "---\n", doc);
		free(doc);
		first = 0;
	}
	va_end(ap);
	fixture_write(file, b.ptr);
	plumb_buf_release(&b);
}

/* --- implicit applications ---------------------------------------------------------------- */

static void a_path_without_applications_is_one_implicit_application(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	write_host("hosts/db/m.yaml", "db", "/db");
	write_host("hosts/web/m.yaml", "web", "/web");

	CHECK_INT(discover_head(&apps, "hosts/db", "hosts/db", &diags), 0);
	CHECK_INT(diags.count, 0);
	CHECK_INT(apps.count, 1);
	if (apps.count == 1) {
		const plumb_application *a = &apps.items[0];
		CHECK_STR(a->name, "hosts/db");
		CHECK_STR(a->path, "hosts/db");
		CHECK_STR(a->root, "");
		CHECK(a->repo == NULL);
		CHECK(a->revision == NULL);
		CHECK_INT(a->automated, 1);
		CHECK_INT(a->prune, 1);
		CHECK_INT(a->self_heal, 1);
		CHECK_INT(a->approval, PLUMB_APPLICATION_AUTO);
		CHECK_INT(a->wave, 0);
		CHECK_INT(a->depends_on_count, 0);
	}
	CHECK(plumb_applications_find(&apps, "hosts/db") == &apps.items[0]);
	CHECK(plumb_applications_find(&apps, "db") == NULL);
	plumb_applications_release(&apps);

	/* The name is whatever the caller gives; the path is the one loaded, normalised. */
	CHECK_INT(discover_head(&apps, "./hosts//web/", "the-web", &diags), 0);
	CHECK_INT(apps.count, 1);
	if (apps.count == 1) {
		CHECK_STR(apps.items[0].name, "the-web");
		CHECK_STR(apps.items[0].path, "hosts/web");
	}
	plumb_applications_release(&apps);

	/* A single file. */
	CHECK_INT(discover_head(&apps, "hosts/web/m.yaml", "web-file", &diags), 0);
	CHECK(apps.count == 1 && !strcmp(apps.items[0].path, "hosts/web/m.yaml") &&
	      !strcmp(apps.items[0].name, "web-file"));
	plumb_applications_release(&apps);

	/* The top of the repository: path "" (NULL means the same). */
	CHECK_INT(discover_head(&apps, "", "repo", &diags), 0);
	CHECK(apps.count == 1 && !strcmp(apps.items[0].path, "") && !strcmp(apps.items[0].name, "repo"));
	plumb_applications_release(&apps);
	CHECK_INT(discover_head(&apps, NULL, "repo", &diags), 0);
	CHECK(apps.count == 1 && !strcmp(apps.items[0].path, ""));
	plumb_applications_release(&apps);

	CHECK_INT(diags.count, 0);
	/* A path that is not there is not an application. */
	CHECK_INT(discover_head(&apps, "hosts/none", "none", &diags), PLUMB_ENOTFOUND);
	CHECK_INT(apps.count, 0);
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

/* --- decoding ------------------------------------------------------------------------------- */

static void every_field_is_decoded_and_defaults_apply(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("root/apps.yaml", "apiVersion: plumb/v1\n"
					"kind: Application\n"
					"metadata: {name: full}\n"
					"spec:\n"
					"  source:\n"
					"    path: ./apps//full/\n"
					"    repo: https://example.invalid/other.git\n"
					"    revision: v1.2\n"
					"  destination: {host: {root: /srv//full/./}}\n"
					"  syncPolicy: {automated: false, prune: false, selfHeal: false, approval: manual}\n"
					"  dependsOn: [plain, prompted]\n"
					"  wave: 3\n"
					"---\n"
					"apiVersion: plumb/v1\n"
					"kind: Application\n"
					"metadata: {name: plain}\n"
					"spec:\n"
					"  source: {path: apps/plain}\n"
					"---\n"
					"apiVersion: plumb/v1\n"
					"kind: Application\n"
					"metadata: {name: prompted}\n"
					"spec:\n"
					"  source: {path: apps/prompted/m.yaml, revision: main}\n"
					"  destination: {host: {root: srv/prompted}}\n"
					"  syncPolicy: {approval: prompted}\n"
					"  wave: -2\n"
					"---\n"
					"apiVersion: plumb/v1\n"
					"kind: Application\n"
					"metadata: {name: slash}\n"
					"spec:\n"
					"  source: {path: apps/plain}\n"
					"  destination: {host: {root: /}}\n"
					"  syncPolicy: {automated: true, prune: false, approval: auto}\n");
	write_host("apps/plain/m.yaml", "plain", "/plain");
	write_host("apps/prompted/m.yaml", "prompted", "/prompted");

	CHECK_INT(discover_head(&apps, "root", "root", &diags), 0);
	CHECK_INT(diags.count, 0);
	CHECK_INT(apps.count, 4);

	const plumb_application *a = plumb_applications_find(&apps, "full");
	CHECK(a != NULL);
	if (a) {
		CHECK_STR(a->path, "apps/full");
		CHECK_STR(a->repo, "https://example.invalid/other.git");
		CHECK_STR(a->revision, "v1.2");
		CHECK_STR(a->root, "srv/full");
		CHECK_INT(a->automated, 0);
		CHECK_INT(a->prune, 0);
		CHECK_INT(a->self_heal, 0);
		CHECK_INT(a->approval, PLUMB_APPLICATION_MANUAL);
		CHECK_INT(a->depends_on_count, 2);
		if (a->depends_on_count == 2) {
			CHECK_STR(a->depends_on[0], "plain");
			CHECK_STR(a->depends_on[1], "prompted");
		}
		CHECK_INT(a->wave, 3);
		/* Where it is declared: the file, and its "spec:" key. */
		CHECK_STR(a->file, "root/apps.yaml");
		CHECK_STR(a->position.file, "root/apps.yaml");
		CHECK_INT(a->position.line, 4);
		CHECK_INT(a->position.column, 1);
	}
	a = plumb_applications_find(&apps, "plain");
	CHECK(a != NULL);
	if (a) {
		/* Every default. */
		CHECK_STR(a->path, "apps/plain");
		CHECK(a->repo == NULL);
		CHECK(a->revision == NULL);
		CHECK_STR(a->root, "");
		CHECK_INT(a->automated, 1);
		CHECK_INT(a->prune, 1);
		CHECK_INT(a->self_heal, 1);
		CHECK_INT(a->approval, PLUMB_APPLICATION_AUTO);
		CHECK_INT(a->depends_on_count, 0);
		CHECK_INT(a->wave, 0);
		CHECK_STR(a->file, "root/apps.yaml");
		CHECK_INT(a->position.line, 17);
	}
	a = plumb_applications_find(&apps, "prompted");
	CHECK(a != NULL);
	if (a) {
		CHECK_STR(a->path, "apps/prompted/m.yaml");
		CHECK(a->repo == NULL);
		CHECK_STR(a->revision, "main");
		CHECK_STR(a->root, "srv/prompted");
		CHECK_INT(a->automated, 1);
		CHECK_INT(a->prune, 1);
		CHECK_INT(a->self_heal, 1);
		CHECK_INT(a->approval, PLUMB_APPLICATION_PROMPTED);
		CHECK_INT(a->wave, -2);
	}
	a = plumb_applications_find(&apps, "slash");
	CHECK(a != NULL);
	if (a) {
		CHECK_STR(a->root, ""); /* "/" is the destination root itself */
		CHECK_INT(a->automated, 1);
		CHECK_INT(a->prune, 0);
		CHECK_INT(a->self_heal, 1);
		CHECK_INT(a->approval, PLUMB_APPLICATION_AUTO);
	}
	/* prompted (wave -2), plain and slash (wave 0, as declared), full (wave 3). */
	CHECK_NAMES(&apps, "prompted plain slash full");
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

/* --- nesting -------------------------------------------------------------------------------- */

static void an_app_of_apps_expands_to_its_leaves(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	/* root -> {platform -> {db, data -> {cache, queue}}, web} */
	write_apps("root/apps.yaml", app("platform", "platform", NULL), app("web", "apps/web", "  dependsOn: [db]\n"),
		   NULL);
	write_apps("platform/apps.yaml", app("db", "apps/db", NULL), app("data", "data", NULL), NULL);
	write_apps("data/apps.yaml", app("cache", "apps/cache", "  wave: 1\n"), app("queue", "apps/queue", NULL),
		   NULL);
	write_host("apps/web/m.yaml", "web", "/web");
	write_host("apps/db/m.yaml", "db", "/db");
	write_host("apps/cache/m.yaml", "cache", "/cache");
	write_host("apps/queue/m.yaml", "queue", "/queue");

	CHECK_INT(discover_head(&apps, "root", "root", &diags), 0);
	CHECK_INT(diags.count, 0);
	/* Only leaves: neither platform nor data (they hold Applications). */
	CHECK(plumb_applications_find(&apps, "platform") == NULL);
	CHECK(plumb_applications_find(&apps, "data") == NULL);
	const plumb_application *a = plumb_applications_find(&apps, "queue");
	CHECK(a && !strcmp(a->path, "apps/queue") && !strcmp(a->file, "data/apps.yaml"));
	a = plumb_applications_find(&apps, "db");
	CHECK(a && !strcmp(a->path, "apps/db") && !strcmp(a->file, "platform/apps.yaml"));
	a = plumb_applications_find(&apps, "web");
	CHECK(a && !strcmp(a->file, "root/apps.yaml"));
	/*
	 * Depth first, in declaration order, then ordered: db, queue and web
	 * (wave 0; web depends on db, two levels down), cache (wave 1).
	 */
	CHECK_NAMES(&apps, "db queue web cache");
	plumb_applications_release(&apps);

	/* Discovering the inner app of apps directly gives its own leaves only. */
	CHECK_INT(discover_head(&apps, "data", "data", &diags), 0);
	CHECK_NAMES(&apps, "queue cache");
	plumb_applications_release(&apps);
	CHECK_INT(diags.count, 0);
	plumb_diags_release(&diags);
}

static void an_application_with_a_repo_or_revision_is_a_leaf(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	/* Their paths are not read here (they may not even exist in this commit). */
	fixture_write("root/apps.yaml", "apiVersion: plumb/v1\nkind: Application\nmetadata: {name: elsewhere}\n"
					"spec:\n  source: {path: not/here, repo: /nowhere.git}\n"
					"---\n"
					"apiVersion: plumb/v1\nkind: Application\nmetadata: {name: older}\n"
					"spec:\n  source: {path: nested, revision: v0}\n");
	write_apps("nested/apps.yaml", app("inner", "apps/inner", NULL), NULL);
	CHECK_INT(discover_head(&apps, "root", "root", &diags), 0);
	CHECK_INT(diags.count, 0);
	CHECK_NAMES(&apps, "elsewhere older");
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

/* --- ordering ------------------------------------------------------------------------------- */

/*
 * What is asserted (application.h: "ordered by wave, then so that each
 * comes after what it depends on"):
 *   - with no dependency on a later wave, the order is by wave ascending;
 *     applications of one wave keep the order they were declared in;
 *   - an application always comes after everything it depends on, even
 *     when it was declared before it;
 *   - a dependency on a later wave wins over the waves: the dependent comes
 *     right after its dependency, i.e. after applications of lower waves
 *     than its own (e after a below).
 */
static void leaves_are_ordered_by_wave_then_dependencies(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml", app("a", "apps/x", "  wave: 1\n"),
		   app("b", "apps/x", "  dependsOn: [c]\n"),              /* wave 0, declared before c */
		   app("c", "apps/x", "  wave: 0\n"),
		   app("d", "apps/x", "  wave: -1\n"),
		   app("e", "apps/x", "  dependsOn: [a]\n"),              /* wave 0, depends on wave 1 */
		   app("f", "apps/x", "  wave: 2\n"),
		   app("g", "apps/x", "  wave: 2\n  dependsOn: [f, c]\n"), /* same wave as f */
		   app("h", "apps/x", "  wave: 1\n"), NULL);
	write_host("apps/x/m.yaml", "x", "/x");
	CHECK_INT(discover_head(&apps, "root", "root", &diags), 0);
	CHECK_INT(diags.count, 0);
	CHECK_NAMES(&apps, "d c b a e h f g");
	/* Whatever the order, no application comes before one it depends on. */
	for (size_t i = 0; i < apps.count; i++)
		for (size_t k = 0; k < apps.items[i].depends_on_count; k++) {
			const plumb_application *dep = plumb_applications_find(&apps, apps.items[i].depends_on[k]);
			CHECK(dep && dep < &apps.items[i]);
		}
	plumb_applications_release(&apps);

	/* Without any dependency: waves ascending, declaration order within one. */
	fixture_sh("rm -rf repo/root");
	write_apps("root/apps.yaml", app("w2", "apps/x", "  wave: 2\n"), app("w0a", "apps/x", NULL),
		   app("w1", "apps/x", "  wave: 1\n"), app("w0b", "apps/x", "  wave: 0\n"), NULL);
	CHECK_INT(discover_head(&apps, "root", "root", &diags), 0);
	CHECK_NAMES(&apps, "w0a w0b w1 w2");
	plumb_applications_release(&apps);
	CHECK_INT(diags.count, 0);
	plumb_diags_release(&diags);
}

/* --- errors --------------------------------------------------------------------------------- */

static void an_unknown_dependency_is_an_error(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml", app("db", "apps/x", NULL), app("web", "apps/x", "  dependsOn: [db, dbb]\n"), NULL);
	write_host("apps/x/m.yaml", "x", "/x");
	CHECK_INT(discover_head(&apps, "root", "root", &diags), PLUMB_EINVALID);
	CHECK_INT(diags.count, 1);
	/* At web's "spec:" key (line 4 of the second document). */
	CHECK(has_diag(&diags, "root/apps.yaml", 10, 1, "Application 'web' depends on 'dbb', which no Application is called"));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

static void a_dependency_cycle_is_an_error_naming_its_applications(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml", app("free", "apps/x", NULL), app("a", "apps/x", "  dependsOn: [b]\n"),
		   app("b", "apps/x", "  dependsOn: [c]\n"), app("c", "apps/x", "  dependsOn: [a]\n"), NULL);
	write_host("apps/x/m.yaml", "x", "/x");
	CHECK_INT(discover_head(&apps, "root", "root", &diags), PLUMB_EINVALID);
	CHECK_INT(diags.count, 1);
	CHECK(has_diag(&diags, "root/apps.yaml", 10, 1, "dependsOn forms a cycle: a -> b -> c -> a"));
	plumb_applications_release(&apps);

	/* An application that depends on itself. */
	fixture_sh("rm -rf repo/root");
	write_apps("root/apps.yaml", app("self", "apps/x", "  dependsOn: [self]\n"), NULL);
	CHECK_INT(discover_head(&apps, "root", "root", &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "root/apps.yaml", 4, 1, "dependsOn forms a cycle: self -> self"));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

/*
 * An application that merely depends on a member of a cycle (d below) is
 * not part of it and must not be named as if it were.
 */
static void a_dependency_cycle_names_only_its_members(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml", app("a", "apps/x", "  dependsOn: [b]\n"), app("b", "apps/x", "  dependsOn: [a]\n"),
		   app("d", "apps/x", "  dependsOn: [a]\n"), NULL);
	write_host("apps/x/m.yaml", "x", "/x");
	CHECK_INT(discover_head(&apps, "root", "root", &diags), PLUMB_EINVALID);
	CHECK(has_diag_in(&diags, "root/apps.yaml", "dependsOn forms a cycle: a -> b -> a", "-> d"));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

static void a_path_cycle_is_an_error(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	/* top -> mid -> low -> mid (an ancestor). */
	write_apps("top/apps.yaml", app("to-mid", "mid", NULL), NULL);
	write_apps("mid/apps.yaml", app("to-low", "low", NULL), NULL);
	write_apps("low/apps.yaml", app("back", "mid/", NULL), NULL);
	CHECK_INT(discover_head(&apps, "top", "top", &diags), PLUMB_EINVALID);
	CHECK_INT(diags.count, 1);
	CHECK(has_diag(&diags, "low/apps.yaml", 4, 1, "Applications form a cycle: mid -> low -> mid (Application back)"));
	plumb_applications_release(&apps);

	/* Back to the path being discovered. */
	CHECK_INT(discover_head(&apps, "mid", "mid", &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "low/apps.yaml", 4, 1, "Applications form a cycle: mid -> low -> mid (Application back)"));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);

	/* An Application naming the path that holds it. */
	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml", app("ok", "apps/x", NULL), app("me", "./root", NULL), NULL);
	write_host("apps/x/m.yaml", "x", "/x");
	CHECK_INT(discover_head(&apps, "root", "root", &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "root/apps.yaml", 10, 1, "Applications form a cycle: root -> root (Application me)"));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);

	/* The top of the repository holds the Application that names it: path "." is "". */
	fixture_sh("rm -rf repo/*");
	write_apps("apps.yaml", app("top", ".", NULL), NULL);
	CHECK_INT(discover_head(&apps, "", "repo", &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "apps.yaml", 4, 1, "Applications form a cycle: . -> . (Application top)"));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

static void two_applications_with_one_name_in_different_paths(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml", app("one", "one", NULL), app("two", "two", NULL), NULL);
	write_apps("one/apps.yaml", app("api", "apps/x", NULL), NULL);
	write_apps("two/apps.yaml", app("other", "apps/x", NULL), app("api", "apps/y", NULL), NULL);
	write_host("apps/x/m.yaml", "x", "/x");
	write_host("apps/y/m.yaml", "y", "/y");
	CHECK_INT(discover_head(&apps, "root", "root", &diags), PLUMB_EINVALID);
	CHECK_INT(diags.count, 1);
	CHECK(has_diag(&diags, "two/apps.yaml", 10, 1, "two Applications are called 'api' (the other is at one/apps.yaml:4:1)"));
	plumb_applications_release(&apps);

	/* A leaf named like an application of another level. */
	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml", app("one", "one", NULL), app("api", "apps/x", NULL), NULL);
	write_apps("one/apps.yaml", app("api", "apps/y", NULL), NULL);
	write_host("apps/x/m.yaml", "x", "/x");
	write_host("apps/y/m.yaml", "y", "/y");
	CHECK_INT(discover_head(&apps, "root", "root", &diags), PLUMB_EINVALID);
	CHECK(has_diag_in(&diags, "root/apps.yaml", "two Applications are called 'api' (the other is at one/apps.yaml:4:1)",
			  NULL) ||
	      has_diag_in(&diags, "one/apps.yaml", "two Applications are called 'api' (the other is at root/apps.yaml:10:1)",
			  NULL));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

/* No diagnostic says an Application collides with itself ("the other is at" its own position). */
static int no_self_collision(const plumb_diags *d)
{
	int ok = 1;
	for (size_t i = 0; i < d->count; i++) {
		char *self = plumb_xprintf("the other is at %s:%u:%u", d->items[i].file ? d->items[i].file : "",
					   d->items[i].line, d->items[i].column);
		if (strstr(d->items[i].message, self)) {
			fprintf(stderr, "  an Application collides with itself: %s:%u:%u: %s\n", d->items[i].file,
				d->items[i].line, d->items[i].column, d->items[i].message);
			ok = 0;
		}
		free(self);
	}
	return ok;
}

/*
 * One Application declaration reached twice is not two Applications:
 *   - an app of apps kept in a folder below its parent's folder (loading the
 *     parent's folder reads the child's manifests too, then the child's path
 *     is expanded again);
 *   - two Applications naming the same app-of-apps path.
 * Either it is one leaf, or the error must explain; "two Applications are
 * called 'db' (the other is at F:L:C)" with F:L:C its own position does not.
 */
static void one_declaration_reached_twice_is_not_a_duplicate(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml", app("platform", "root/platform", NULL), NULL);
	write_apps("root/platform/apps.yaml", app("db", "apps/x", NULL), NULL);
	write_host("apps/x/m.yaml", "x", "/x");
	int error = discover_head(&apps, "root", "root", &diags);
	if (error == 0)
		CHECK_NAMES(&apps, "db");
	else
		CHECK(no_self_collision(&diags));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);

	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml", app("a", "shared", NULL), app("b", "shared", NULL), NULL);
	write_apps("shared/apps.yaml", app("db", "apps/x", NULL), NULL);
	write_host("apps/x/m.yaml", "x", "/x");
	error = discover_head(&apps, "root", "root", &diags);
	if (error == 0)
		CHECK_NAMES(&apps, "db");
	else
		CHECK(no_self_collision(&diags));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

static void applications_and_host_resources_do_not_mix(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml", app("db", "apps/x", NULL), NULL);
	fixture_write("root/motd.yaml", "apiVersion: host/v1\n"
					"kind: File\n"
					"metadata: {name: motd}\n"
					"spec:\n"
					"  path: /etc/motd\n"
					"  content: hi\n");
	write_host("apps/x/m.yaml", "x", "/x");
	CHECK_INT(discover_head(&apps, "root", "root", &diags), PLUMB_EINVALID);
	CHECK_INT(diags.count, 1);
	CHECK(has_diag_in(&diags, "root/motd.yaml",
			  "'root' holds Applications, so it holds nothing else: move host/v1/File/motd to an application's path",
			  NULL));
	CHECK(diags.count == 1 && diags.items[0].line >= 1 && diags.items[0].line <= 6 && diags.items[0].column >= 1);
	plumb_applications_release(&apps);

	/* The same one level down: an Application's path mixing both. */
	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml", app("platform", "platform", NULL), NULL);
	write_apps("platform/apps.yaml", app("db", "apps/x", NULL), NULL);
	write_host("platform/extra.yaml", "extra", "/extra");
	write_host("apps/x/m.yaml", "x", "/x");
	CHECK_INT(discover_head(&apps, "root", "root", &diags), PLUMB_EINVALID);
	CHECK(has_diag_in(&diags, "platform/extra.yaml", "'platform' holds Applications, so it holds nothing else", NULL));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

/* Each broken Application in its own document; every problem is reported at once. */
static void invalid_application_fields(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("root/apps.yaml", "apiVersion: plumb/v1\n"                          /* 1 */
					"kind: Application\n"                             /* 2 */
					"metadata: {name: approval}\n"                    /* 3 */
					"spec:\n"                                         /* 4 */
					"  source: {path: apps/x}\n"                      /* 5 */
					"  syncPolicy: {approval: sometimes}\n"           /* 6 */
					"---\n"                                           /* 7 */
					"apiVersion: plumb/v1\n"                          /* 8 */
					"kind: Application\n"                             /* 9 */
					"metadata: {name: nopath}\n"                      /* 10 */
					"spec:\n"                                         /* 11 */
					"  source:\n"                                     /* 12 */
					"    revision: main\n"                            /* 13 */
					"---\n"                                           /* 14 */
					"apiVersion: plumb/v1\n"                          /* 15 */
					"kind: Application\n"                             /* 16 */
					"metadata: {name: dotdot}\n"                      /* 17 */
					"spec:\n"                                         /* 18 */
					"  source: {path: apps/../../etc}\n"              /* 19 */
					"---\n"                                           /* 20 */
					"apiVersion: plumb/v1\n"                          /* 21 */
					"kind: Application\n"                             /* 22 */
					"metadata: {name: rootdotdot}\n"                  /* 23 */
					"spec:\n"                                         /* 24 */
					"  source: {path: apps/x}\n"                      /* 25 */
					"  destination: {host: {root: /srv/../etc}}\n"    /* 26 */
					"---\n"                                           /* 27 */
					"apiVersion: plumb/v1\n"                          /* 28 */
					"kind: Application\n"                             /* 29 */
					"metadata: {name: policy}\n"                      /* 30 */
					"spec:\n"                                         /* 31 */
					"  source: {path: apps/x}\n"                      /* 32 */
					"  syncPolicy:\n"                                 /* 33 */
					"    automated: true\n"                           /* 34 */
					"    selfheal: true\n"                            /* 35 */
					"---\n"                                           /* 36 */
					"apiVersion: plumb/v1\n"                          /* 37 */
					"kind: Application\n"                             /* 38 */
					"metadata: {name: absolute}\n"                    /* 39 */
					"spec:\n"                                         /* 40 */
					"  source: {path: /apps/x}\n"                     /* 41 */
					"  wave: soon\n"                                  /* 42 */
					"  dependsOn: db\n");                             /* 43 */
	write_host("apps/x/m.yaml", "x", "/x");
	CHECK_INT(discover_head(&apps, "root", "root", &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "root/apps.yaml", 6, 26,
		       "spec.syncPolicy.approval: expected auto, prompted or manual, got \"sometimes\""));
	CHECK(has_diag_in(&diags, "root/apps.yaml", "missing required field \"path\"", NULL));
	CHECK(has_diag(&diags, "root/apps.yaml", 19, 18, "spec.source.path: path 'apps/../../etc' has a '..' component"));
	CHECK(has_diag(&diags, "root/apps.yaml", 26, 30,
		       "spec.destination.host.root: path '/srv/../etc' has a '..' component"));
	CHECK(has_diag(&diags, "root/apps.yaml", 35, 5, "unknown field \"selfheal\""));
	CHECK(has_diag(&diags, "root/apps.yaml", 41, 18, "spec.source.path: path '/apps/x' is absolute"));
	CHECK(has_diag_in(&diags, "root/apps.yaml", "wave", NULL));
	CHECK(has_diag_in(&diags, "root/apps.yaml", "dependsOn", NULL));
	/* The missing path is reported where source is. */
	int at_source = 0;
	for (size_t i = 0; i < diags.count; i++)
		if (strstr(diags.items[i].message, "missing required field \"path\""))
			at_source = diags.items[i].line == 12 || diags.items[i].line == 13;
	CHECK(at_source);
	CHECK_INT(apps.count, 0);
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

/* destination.kubernetes names a cluster; host and kubernetes together are refused where kubernetes is. */
static void a_kubernetes_destination_is_decoded(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml",
		   app("shop", "apps/shop",
		       "  destination: {kubernetes: {context: homelab, namespace: shop, namespaces: [shop, shop-jobs],\n"
		       "                             clusterResources: false}}\n"
		       "  syncPolicy: {createNamespace: true, healthTimeout: 90s}\n"),
		   app("plain", "apps/plain",
		       "  destination: {kubernetes: {}}\n"
		       "  syncPolicy: {syncOptions: [ServerSideApply.ForceConflicts, CreateNamespace=true, Replace=true]}\n"
		       "  ignoreDifferences:\n"
		       "  - {group: apps, kind: Deployment, jsonPointers: [/spec/replicas]}\n"
		       "  - {kind: ConfigMap, name: p, managedFieldsManagers: [tuner]}\n"),
		   app("web", "apps/web", NULL), NULL);
	fixture_write("apps/shop/m.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: s}\ndata: {a: b}\n");
	fixture_write("apps/plain/m.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: p}\n");
	write_host("apps/web/m.yaml", "w", "/w");
	CHECK_INT(discover_head(&apps, "root", "root", &diags), 0);
	const plumb_application *shop = plumb_applications_find(&apps, "shop");
	const plumb_application *plain = plumb_applications_find(&apps, "plain");
	const plumb_application *web = plumb_applications_find(&apps, "web");
	CHECK(shop && shop->kubernetes && shop->create_namespace);
	CHECK_STR(shop ? shop->context : NULL, "homelab");
	CHECK_STR(shop ? shop->namespace : NULL, "shop");
	/* Where it may write: the provider refuses the rest where it is declared. */
	CHECK_STR(shop ? shop->namespaces : NULL, "shop,shop-jobs");
	CHECK(shop && shop->namespaced_only);
	CHECK(plain && plain->kubernetes && !plain->context && !plain->namespace);
	CHECK(plain && !plain->namespaces && !plain->namespaced_only);
	/* Argo CD's sync options, as its users write them. */
	CHECK(plain && plain->create_namespace && plain->force_conflicts && plain->replace);
	CHECK(shop && !shop->force_conflicts && !shop->replace && !shop->ignore);
	/* ignoreDifferences, as the provider reads it: every field said, "" where the rule says none. */
	CHECK_STR(plain ? plain->ignore : NULL,
		  "[{\"group\":\"apps\",\"kind\":\"Deployment\",\"name\":\"\",\"namespace\":\"\","
		  "\"jsonPointers\":[\"/spec/replicas\"],\"jqPaths\":[],\"managers\":[]},"
		  "{\"group\":\"\",\"kind\":\"ConfigMap\",\"name\":\"p\",\"namespace\":\"\",\"jsonPointers\":[],"
		  "\"jqPaths\":[],\"managers\":[\"tuner\"]}]");
	CHECK_INT(shop ? shop->health_timeout_ms : 0, 90000);
	CHECK_INT(plain ? plain->health_timeout_ms : 1, 0);
	CHECK(web && !web->kubernetes);
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);

	/* Objects go where their application goes: a host File bound for a cluster, a ConfigMap for a root. */
	write_host("apps/shop/host.yaml", "f", "/f");
	fixture_write("apps/web/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
	CHECK_INT(discover_head(&apps, "root", "root", &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "apps/shop/host.yaml", 1, 1, "File f is a host object; its application's destination is a cluster"));
	CHECK(has_diag(&diags, "apps/web/cm.yaml", 1, 1, "unknown apiVersion \"v1\" for a host destination"));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
	fixture_sh("rm repo/apps/shop/host.yaml repo/apps/web/cm.yaml");

	fixture_write("root/apps.yaml", "apiVersion: plumb/v1\n"                                        /* 1 */
					"kind: Application\n"                                           /* 2 */
					"metadata: {name: both}\n"                                      /* 3 */
					"spec:\n"                                                       /* 4 */
					"  source: {path: apps/web}\n"                                  /* 5 */
					"  destination: {host: {root: /srv}, kubernetes: {context: c}}\n" /* 6 */
					"  syncPolicy: {syncOptions: [PruneLast=true]}\n"                /* 7 */
					"---\n"                                                         /* 8 */
					"apiVersion: plumb/v1\n"                                        /* 9 */
					"kind: Application\n"                                           /* 10 */
					"metadata: {name: slow}\n"                                      /* 11 */
					"spec:\n"                                                       /* 12 */
					"  source: {path: apps/plain}\n"                                /* 13 */
					"  syncPolicy: {healthTimeout: 1.5m}\n"                         /* 14 */
					"---\n"                                                         /* 15 */
					"apiVersion: plumb/v1\n"                                        /* 16 */
					"kind: Application\n"                                           /* 17 */
					"metadata: {name: never}\n"                                     /* 18 */
					"spec:\n"                                                       /* 19 */
					"  source: {path: apps/plain}\n"                                /* 20 */
					"  syncPolicy:\n"                                               /* 21 */
					"    healthTimeout: 0s\n"                                       /* 22 */);
	CHECK_INT(discover_head(&apps, "root", "root", &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "root/apps.yaml", 6, 50,
		       "spec.destination: host and kubernetes are two destinations; give one"));
	CHECK(has_diag(&diags, "root/apps.yaml", 7, 30,
		       "spec.syncPolicy.syncOptions: \"PruneLast=true\" is not one plumb knows"));
	CHECK(has_diag(&diags, "root/apps.yaml", 14, 31,
		       "spec.syncPolicy.healthTimeout: invalid duration \"1.5m\": expected a whole number"));
	CHECK(has_diag(&diags, "root/apps.yaml", 22, 20, "spec.syncPolicy.healthTimeout: must be longer than 0"));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

/* A problem in a nested path is reported with its own file. */
static void errors_deep_in_the_nesting_keep_their_position(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml", app("platform", "platform", NULL), NULL);
	write_apps("platform/apps.yaml", app("db", "apps/x", "  syncPolicy: {prune: maybe}\n"), NULL);
	write_host("apps/x/m.yaml", "x", "/x");
	CHECK_INT(discover_head(&apps, "root", "root", &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "platform/apps.yaml", 6, 23, "spec.syncPolicy.prune: expected true or false, got \"maybe\""));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

/*
 * An Application whose source.path does not exist in the commit is a
 * problem of that manifest: a diagnostic in the file that declares it,
 * naming the path (not a bare "path does not exist" with no position).
 */
static void a_missing_source_path_is_reported_at_its_application(void)
{
	plumb_applications apps;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	write_apps("root/apps.yaml", app("db", "apps/x", NULL), app("typo", "apps/nope", NULL), NULL);
	write_host("apps/x/m.yaml", "x", "/x");
	int error = discover_head(&apps, "root", "root", &diags);
	CHECK_INT(error, PLUMB_EINVALID);
	CHECK(has_diag_in(&diags, "root/apps.yaml", "apps/nope", NULL));
	plumb_applications_release(&apps);
	plumb_diags_release(&diags);
}

int main(void)
{
	fixture_init("applications");
	repo = fixture_path("repo");
	if (plumb_source_global_init() < 0 || fixture_commit("empty") != 0 ||
	    plumb_source_open(&source, repo, fixture_dir) < 0)
		return 2;
	RUN(a_path_without_applications_is_one_implicit_application);
	RUN(every_field_is_decoded_and_defaults_apply);
	RUN(an_app_of_apps_expands_to_its_leaves);
	RUN(an_application_with_a_repo_or_revision_is_a_leaf);
	RUN(leaves_are_ordered_by_wave_then_dependencies);
	RUN(an_unknown_dependency_is_an_error);
	RUN(a_dependency_cycle_is_an_error_naming_its_applications);
	RUN(a_dependency_cycle_names_only_its_members);
	RUN(a_path_cycle_is_an_error);
	RUN(two_applications_with_one_name_in_different_paths);
	RUN(one_declaration_reached_twice_is_not_a_duplicate);
	RUN(applications_and_host_resources_do_not_mix);
	RUN(invalid_application_fields);
	RUN(a_kubernetes_destination_is_decoded);
	RUN(errors_deep_in_the_nesting_keep_their_position);
	RUN(a_missing_source_path_is_reported_at_its_application);
	plumb_source_free(source);
	plumb_source_global_shutdown();
	free(repo);
	fixture_cleanup();
	TEST_EXIT();
}
