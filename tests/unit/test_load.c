/* Unit tests of load: manifests of a real git commit into resources, objects and diagnostics. */
#include "util/common.h"
#include "load/load.h"
#include "providers/provider.h"
#include "source/source.h"

#include <stdio.h>
#include <stdlib.h>

#include "test.h"
#include "fixture.h"

static plumb_source *source;
static char *repo;

/* Commit the work tree and load path from it; the diagnostics come back sorted. */
static int load_head(plumb_manifest_set *set, const char *path, plumb_diags *diags)
{
	char commit[PLUMB_OID_HEXSZ + 1];
	if (fixture_commit("test") != 0 || plumb_source_resolve(commit, source, "main") < 0)
		return -100;
	memset(set, 0, sizeof(*set));
	int error = plumb_load(set, source, commit, path, NULL, diags);
	plumb_diags_sort(diags);
	return error;
}

static const plumb_object *find_object(const plumb_manifest_set *set, const char *key)
{
	for (size_t i = 0; i < set->object_count; i++)
		if (!strcmp(set->objects[i].key, key))
			return &set->objects[i];
	return NULL;
}

static void loads_every_host_kind(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("manifests/all.yaml", "apiVersion: host/v1\n"
					    "kind: File\n"
					    "metadata: {name: motd}\n"
					    "spec: {path: /etc/motd, content: hi, mode: 644}\n"
					    "---\n"
					    "apiVersion: host/v1\n"
					    "kind: Tree\n"
					    "metadata: {name: sites}\n"
					    "spec: {source: files/nginx, path: /etc/nginx/sites-enabled}\n"
					    "---\n"
					    "apiVersion: host/v1\n"
					    "kind: Absent\n"
					    "metadata: {name: default}\n"
					    "spec: {path: /etc/nginx/sites-enabled/default}\n");
	fixture_write("files/nginx/a.conf", "a\n");
	fixture_write("files/nginx/sub/b.conf", "b\n");
	/* A broken manifest-looking file inside the Tree's source is content, not a manifest. */
	fixture_write("files/nginx/broken.yaml", "{ not yaml: [\n");
	CHECK_INT(load_head(&set, "", &diags), 0);
	CHECK_INT(diags.count, 0);
	CHECK_INT(set.resource_count, 3);
	CHECK_STR(set.resources[0].identity, "host/v1/File/motd");
	CHECK_STR(set.resources[0].file, "manifests/all.yaml");
	CHECK_INT(set.resources[0].line, 1);
	CHECK_STR(set.resources[2].identity, "host/v1/Absent/default");
	CHECK_INT(set.resources[2].line, 11);
	/* Each resource names its manifest's blob, to read it again (resource/field.h). */
	CHECK_INT(strlen(set.resources[0].blob), PLUMB_OID_HEXSZ);
	CHECK_STR(set.resources[2].blob, set.resources[0].blob);
	/* motd, the Tree's directory, a.conf, broken.yaml, sub, sub/b.conf, the Absent. */
	CHECK_INT(set.object_count, 7);
	const plumb_object *o = find_object(&set, "etc/nginx/sites-enabled/sub/b.conf");
	CHECK(o && !strcmp(o->kind, "File"));
	CHECK(o && o->resource == 1);
	o = find_object(&set, "etc/nginx/sites-enabled/sub");
	CHECK(o && !strcmp(o->kind, "Directory"));
	o = find_object(&set, "etc/nginx/sites-enabled/default");
	CHECK(o && !o->inventoried);
	/* The document as JSON: the mode stays a number only when written as one. */
	CHECK(strstr(set.resources[0].json, "\"mode\":644") != NULL);
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

static void reports_every_error_with_its_position(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("a.yaml", "apiVersion: host/v1\n"           /* 1 */
				"kind: File\n"                    /* 2 */
				"metadata: {name: one}\n"         /* 3 */
				"spec:\n"                         /* 4 */
				"  path: /etc/one\n"              /* 5 */
				"  content: x\n"                  /* 6 */
				"  mode: abc\n"                   /* 7 */
				"  colour: blue\n"                /* 8 */
				"---\n"                           /* 9 */
				"apiVersion: host/v1\n"           /* 10 */
				"kind: Gadget\n"                  /* 11 */
				"metadata: {name: two}\n"         /* 12 */
				"---\n"                           /* 13 */
				"apiVersion: example.com/v9\n"    /* 14 */
				"kind: File\n"                    /* 15 */
				"metadata: {name: three}\n"       /* 16 */
				"---\n"                           /* 17 */
				"apiVersion: host/v1\n"           /* 18 */
				"kind: Directory\n"               /* 19 */
				"metadata: {name: four}\n"        /* 20 */
				"spec: {mode: \"0755\"}\n"        /* 21 */
				"---\n"                           /* 22 */
				"apiVersion: host/v1\n"           /* 23 */
				"kind: File\n"                    /* 24 */
				"metadata: {name: five}\n"        /* 25 */
				"spec: {path: ../../etc/shadow, content: x}\n");
	fixture_write("b.yaml", "apiVersion: host/v1\n"
				"kind: File\n"
				"metadata: {name: one}\n"
				"spec: {path: /etc/one, content: y}\n"
				"---\n"
				"apiVersion: host/v1\n"
				"kind: Directory\n"
				"metadata: {name: six}\n"
				"spec: {path: /etc/one/sub}\n");
	fixture_write("c.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: [oops\n");
	CHECK_INT(load_head(&set, "", &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "a.yaml", 7, 9, "spec.mode: expected an octal mode"));
	CHECK(has_diag(&diags, "a.yaml", 8, 3, "unknown field \"colour\""));
	CHECK(has_diag(&diags, "a.yaml", 11, 7, "unknown kind \"Gadget\" for apiVersion host/v1 (known: File"));
	/* Any other apiVersion is a Kubernetes object: whether its application goes to a cluster is the pipeline's to check. */
	for (size_t i = 0; i < diags.count; i++)
		CHECK(!strstr(diags.items[i].message, "example.com/v9"));
	CHECK(has_diag(&diags, "a.yaml", 21, 1, "missing required field \"path\""));
	CHECK(has_diag(&diags, "a.yaml", 26, 14, "'..'"));
	CHECK(has_diag(&diags, "b.yaml", 1, 1, "duplicate resource host/v1/File/one (first declared at a.yaml:1:1)"));
	CHECK(has_diag(&diags, "b.yaml", 9, 14, "/etc/one/sub lies below, which is not a directory: /etc/one"));
	CHECK(has_diag(&diags, "c.yaml", 4, 1, "YAML syntax error: flow sequence without a closing bracket"));
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

static void two_resources_one_path(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: a}\nspec: {path: /x, content: a}\n"
				"---\n"
				"apiVersion: host/v1\nkind: Symlink\nmetadata: {name: b}\nspec: {path: x, target: /y}\n");
	CHECK_INT(load_head(&set, "", &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "m.yaml", 9, 14, "/x is also claimed as /x (declared by host/v1/File/a at m.yaml:4:14)"));
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

/* "---" at the end of a file, or twice in a row, makes an empty document: nothing, not an error. */
static void skips_empty_documents(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("m.yaml", "---\n"
				"apiVersion: host/v1\nkind: File\nmetadata: {name: a}\nspec: {path: /a, content: a}\n"
				"---\n"
				"---\n"
				"apiVersion: host/v1\nkind: File\nmetadata: {name: b}\nspec: {path: /b, content: b}\n"
				"---\n");
	CHECK_INT(load_head(&set, "", &diags), 0);
	CHECK_INT(diags.count, 0);
	CHECK_INT(set.resource_count, 2);
	if (set.resource_count == 2)
		CHECK_INT(set.resources[1].line, 8);
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);

	/* A document that says nothing but an empty string is not empty: it is not a manifest. */
	fixture_write("m.yaml", "\"\"\n");
	CHECK_INT(load_head(&set, "", &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "m.yaml", 1, 2, "a manifest must be a mapping with apiVersion, kind, metadata and spec"));
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

static void source_rules(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: a}\n"
				"spec: {path: /a, source: files/missing}\n"
				"---\n"
				"apiVersion: host/v1\nkind: File\nmetadata: {name: b}\n"
				"spec: {path: /b, source: files/passwd}\n"
				"---\n"
				"apiVersion: host/v1\nkind: File\nmetadata: {name: c}\n"
				"spec: {path: /c, source: files/ok, content: both}\n"
				"---\n"
				"apiVersion: host/v1\nkind: Tree\nmetadata: {name: d}\n"
				"spec: {path: /d, source: files/ok}\n");
	fixture_write("files/ok", "ok\n");
	fixture_sh("ln -s /etc/passwd repo/files/passwd");
	CHECK_INT(load_head(&set, "", &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "m.yaml", 4, 26, "'files/missing' does not exist"));
	CHECK(has_diag(&diags, "m.yaml", 9, 26, "is a symlink in the repository; plumb does not follow it"));
	CHECK(has_diag(&diags, "m.yaml", 14, 1, "exactly one of \"content\", \"source\" and \"contentFrom\""));
	CHECK(has_diag(&diags, "m.yaml", 19, 26, "'files/ok' is not a folder"));
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

static void path_selects_a_folder_or_a_file(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("hosts/web/m.yaml", "apiVersion: host/v1\nkind: Directory\nmetadata: {name: w}\nspec: {path: /w}\n");
	fixture_write("hosts/db/m.yml", "apiVersion: host/v1\nkind: Directory\nmetadata: {name: d}\nspec: {path: /d}\n");
	fixture_write("hosts/db/.hidden/x.yaml", "not: [valid\n");
	fixture_write("hosts/db/notes.txt", "not a manifest\n");
	CHECK_INT(load_head(&set, "hosts/db", &diags), 0);
	CHECK_INT(set.resource_count, 1);
	CHECK(set.resource_count == 1 && !strcmp(set.resources[0].name, "d"));
	plumb_manifest_set_release(&set);
	CHECK_INT(load_head(&set, "hosts/web/m.yaml", &diags), 0);
	CHECK(set.resource_count == 1 && !strcmp(set.resources[0].name, "w"));
	plumb_manifest_set_release(&set);
	CHECK_INT(load_head(&set, "hosts/none", &diags), PLUMB_ENOTFOUND);
	CHECK(strstr(plumb_error_last(), "hosts/none") != NULL);
	plumb_manifest_set_release(&set);
	CHECK_INT(load_head(&set, "../x", &diags), PLUMB_EUNSAFE);
	plumb_manifest_set_release(&set);
	CHECK_INT(diags.count, 0);
	plumb_diags_release(&diags);
}

/* Commit, load path and say how many manifest files the load parsed (-1 when it did not load). */
static long parsed_by(plumb_manifest_set *set, const char *path, int expected_error)
{
	plumb_diags diags = PLUMB_DIAGS_INIT;
	unsigned long before = plumb_load_files_parsed();
	int error = load_head(set, path, &diags);
	if (error != expected_error) {
		fprintf(stderr, "  load of %s: expected %d, got %d (%s)\n", path, expected_error, error,
			diags.count ? diags.items[0].message : plumb_error_last());
		test_failed = 1;
	}
	plumb_diags_release(&diags);
	return (long)(plumb_load_files_parsed() - before);
}

/* The content object declares, as a new string. */
static char *desired_text(const plumb_object *object)
{
	plumb_buf out = PLUMB_BUF_INIT;
	int has_content = 0;
	if (!object || object->provider->desired_content(&out, &has_content, source, object) < 0 || !has_content)
		plumb_buf_puts(&out, "(none)");
	return plumb_buf_detach(&out, NULL);
}

static const char *const cache_manifests[][2] = {
	{ "app/dir.yaml", "apiVersion: host/v1\nkind: Directory\nmetadata: {name: d}\nspec: {path: /d}\n" },
	{ "app/inline.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: i}\nspec: {path: /i, content: one}\n" },
	{ "app/tree.yaml", "apiVersion: host/v1\nkind: Tree\nmetadata: {name: t}\nspec: {source: files/t, path: /t}\n" },
	{ "app/sourced.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: s}\nspec: {source: files/s.txt, path: /s}\n" },
};

static void parses_only_what_changed(void)
{
	plumb_manifest_set set;
	fixture_sh("rm -rf repo/*");
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(cache_manifests); i++)
		fixture_write(cache_manifests[i][0], cache_manifests[i][1]);
	fixture_write("files/t/x", "x\n");
	fixture_write("files/s.txt", "first\n");
	fixture_write("app/sub/more.yml", "apiVersion: host/v1\nkind: Directory\nmetadata: {name: m}\nspec: {path: /m}\n");

	CHECK_INT(parsed_by(&set, "app", 0), 5);
	CHECK_INT(set.object_count, 6); /* /d, /i, /t, /t/x, /s, /m */
	plumb_manifest_set_release(&set);

	/* The same commit, and a new commit that changes nothing the manifests read: nothing is parsed. */
	CHECK_INT(parsed_by(&set, "app", 0), 0);
	CHECK_INT(set.object_count, 6);
	CHECK(find_object(&set, "t/x") != NULL);
	CHECK_STR(set.resources[set.objects[0].resource].file, set.objects[0].position.file);
	plumb_manifest_set_release(&set);
	fixture_write("unrelated.txt", "elsewhere\n");
	CHECK_INT(parsed_by(&set, "app", 0), 0);
	plumb_manifest_set_release(&set);

	/* One manifest changed: that one only. */
	fixture_write("app/inline.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: i}\nspec: {path: /i, content: two}\n");
	CHECK_INT(parsed_by(&set, "app", 0), 1);
	char *text = desired_text(find_object(&set, "i"));
	CHECK_STR(text, "two");
	free(text);
	plumb_manifest_set_release(&set);

	/* The Tree's folder changed (its manifest did not): the Tree is expanded again. */
	fixture_write("files/t/y", "y\n");
	CHECK_INT(parsed_by(&set, "app", 0), 1);
	CHECK(find_object(&set, "t/y") != NULL);
	CHECK_INT(set.object_count, 7);
	plumb_manifest_set_release(&set);

	/* A File's source changed: its manifest is read again, and it declares the new content. */
	fixture_write("files/s.txt", "second\n");
	CHECK_INT(parsed_by(&set, "app", 0), 1);
	text = desired_text(find_object(&set, "s"));
	CHECK_STR(text, "second\n");
	free(text);
	plumb_manifest_set_release(&set);

	/* A folder that disappears is a problem found again at every load, until it is back. */
	fixture_sh("rm -rf repo/files/t");
	CHECK_INT(parsed_by(&set, "app", PLUMB_EINVALID), 1);
	plumb_manifest_set_release(&set);
	CHECK_INT(parsed_by(&set, "app", PLUMB_EINVALID), 1);
	plumb_manifest_set_release(&set);
	fixture_write("files/t/x", "x\n");
	CHECK_INT(parsed_by(&set, "app", 0), 1);
	CHECK(find_object(&set, "t/x") && !find_object(&set, "t/y"));
	plumb_manifest_set_release(&set);

	/* The same file at another path is another file (positions name the path). */
	fixture_write("other/dir.yaml", cache_manifests[0][1]);
	CHECK_INT(parsed_by(&set, "other", 0), 1);
	CHECK_STR(set.resources[0].file, "other/dir.yaml");
	plumb_manifest_set_release(&set);
}

static void a_set_outlives_its_source(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	plumb_source *own = NULL;
	char commit[PLUMB_OID_HEXSZ + 1];
	fixture_sh("rm -rf repo/*");
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: Directory\nmetadata: {name: keep}\nspec: {path: /keep}\n");
	CHECK_INT(fixture_commit("own"), 0);
	CHECK_INT(plumb_source_open(&own, repo, fixture_dir), 0);
	CHECK_INT(plumb_source_resolve(commit, own, "main"), 0);
	memset(&set, 0, sizeof(set));
	CHECK_INT(plumb_load(&set, own, commit, "", NULL, &diags), 0);
	plumb_source_free(own);
	CHECK(set.object_count == 1 && !strcmp(set.objects[0].key, "keep"));
	CHECK(set.resource_count == 1 && !strcmp(set.resources[0].identity, "host/v1/Directory/keep"));
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

static void sweep_forgets_what_no_load_used(void)
{
	plumb_manifest_set set, held;
	fixture_sh("rm -rf repo/*");
	fixture_write("a.yaml", "apiVersion: host/v1\nkind: Directory\nmetadata: {name: a}\nspec: {path: /swept-a}\n");
	fixture_write("b.yaml", "apiVersion: host/v1\nkind: Directory\nmetadata: {name: b}\nspec: {path: /swept-b}\n");
	CHECK_INT(parsed_by(&set, "", 0), 2);
	plumb_manifest_set_release(&set);
	plumb_load_sweep(source); /* used since the last sweep: kept */
	CHECK_INT(parsed_by(&set, "", 0), 0);
	plumb_manifest_set_release(&set);
	plumb_load_sweep(source);
	plumb_load_sweep(source); /* a round without a load: forgotten */
	CHECK_INT(parsed_by(&set, "", 0), 2);
	plumb_manifest_set_release(&set);

	/* A set that still views the files keeps them through rounds without loads. */
	CHECK_INT(parsed_by(&held, "", 0), 0);
	plumb_load_sweep(source);
	plumb_load_sweep(source);
	plumb_load_sweep(source);
	CHECK_INT(parsed_by(&set, "", 0), 0);
	CHECK_INT(held.object_count, 2);
	plumb_manifest_set_release(&set);
	plumb_manifest_set_release(&held);
}

int main(void)
{
	fixture_init("load");
	repo = fixture_path("repo");
	if (plumb_source_global_init() < 0 || fixture_commit("empty") != 0 ||
	    plumb_source_open(&source, repo, fixture_dir) < 0)
		return 2;
	RUN(loads_every_host_kind);
	RUN(reports_every_error_with_its_position);
	RUN(two_resources_one_path);
	RUN(skips_empty_documents);
	RUN(source_rules);
	RUN(path_selects_a_folder_or_a_file);
	RUN(parses_only_what_changed);
	RUN(a_set_outlives_its_source);
	RUN(sweep_forgets_what_no_load_used);
	plumb_source_free(source);
	plumb_source_global_shutdown();
	free(repo);
	fixture_cleanup();
	TEST_EXIT();
}
