/*
 * Unit tests of render/jsonnet: .jsonnet files of a real git commit
 * evaluated by libjsonnet, imports read from the commit, and what plumb_load
 * makes of them.
 */
#include "util/common.h"
#include "load/load.h"
#include "render/jsonnet.h"
#include "source/source.h"

#include <jansson.h>
#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>

#include "test.h"
#include "fixture.h"

static plumb_source *source;
static char *repo;
static char head[PLUMB_OID_HEXSZ + 1];

/* Commit the work tree; head is the new commit. */
static int commit(void)
{
	return fixture_commit("test") == 0 && plumb_source_resolve(head, source, "main") == 0 ? 0 : -100;
}

/* Evaluate file of head into out (released first) with diagnostics sorted into diags (released first). */
static int evaluate(plumb_buf *out, const char *file, const char *app_path, const char *options, size_t max,
		    plumb_diags *diags)
{
	plumb_buf_release(out);
	plumb_diags_release(diags);
	*diags = (plumb_diags)PLUMB_DIAGS_INIT;
	plumb_render_options render = { .output_max = max };
	int error = plumb_jsonnet_evaluate(out, source, head, file, app_path, options, &render, diags);
	plumb_diags_sort(diags);
	return error;
}

/* One YAML document as a JSON value, read by libfyaml (NULL when it does not parse). */
static json_t *yaml_as_json(const char *text)
{
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 };
	struct fy_document *doc = fy_document_build_from_string(&cfg, text, strlen(text));
	char *json = doc ? fy_emit_document_to_string(doc, FYECF_MODE_JSON | FYECF_WIDTH_INF) : NULL;
	json_t *value = json ? json_loads(json, 0, NULL) : NULL;
	free(json);
	fy_document_destroy(doc);
	return value;
}

/* How many "---" separated documents text holds. */
static int documents(const char *text)
{
	int n = *text ? 1 : 0;
	for (const char *c = text; (c = strstr(c, "\n---\n")) != NULL; c++)
		n++;
	return n;
}

static void an_object_an_array_and_a_list(void)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("one/main.jsonnet", "{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, "
					  "data: { n: std.toString(1 + 2), f: 0.5 } }\n");
	fixture_write("many/main.jsonnet", "[{ kind: 'A', n: i } for i in std.range(1, 3)]\n");
	fixture_write("list/main.jsonnet", "{ apiVersion: 'v1', kind: 'List', items: [{ kind: 'A' }, "
					   "{ kind: 'B' }] }\n");
	fixture_write("nested/main.jsonnet", "[{ kind: 'A' }, { kind: 'ConfigMapList', items: [{ kind: 'B' }, "
					     "{ kind: 'C' }] }, []]\n");
	CHECK_INT(commit(), 0);

	CHECK_INT(evaluate(&out, "one/main.jsonnet", "one", NULL, 0, &diags), 0);
	CHECK_INT(documents(out.ptr), 1);
	CHECK_CONTAINS(out.ptr, "\n  \"n\": \"3\"\n");
	CHECK_CONTAINS(out.ptr, "\n  f: 0.5\n");
	CHECK(!strncmp(out.ptr, "apiVersion: v1\n", 15));

	CHECK_INT(evaluate(&out, "many/main.jsonnet", "many", NULL, 0, &diags), 0);
	CHECK_INT(documents(out.ptr), 3);
	CHECK_CONTAINS(out.ptr, "\n\"n\": 3\n");

	/* A Kubernetes List is its items. */
	CHECK_INT(evaluate(&out, "list/main.jsonnet", "list", NULL, 0, &diags), 0);
	CHECK_INT(documents(out.ptr), 2);
	CHECK_LACKS(out.ptr, "List");

	/* A list in an array too; an element that is an array is not a manifest. */
	CHECK_INT(evaluate(&out, "nested/main.jsonnet", "nested", NULL, 0, &diags), PLUMB_EINVALID);
	CHECK_INT(out.len, 0);
	CHECK_INT(diags.count, 1);
	CHECK(has_diag(&diags, "nested/main.jsonnet", 0, 0, "jsonnet output[2] is an array, not an object"));
	fixture_write("nested/main.jsonnet", "[{ kind: 'A' }, { kind: 'ConfigMapList', items: [{ kind: 'B' }, "
					     "{ kind: 'C' }] }]\n");
	CHECK_INT(commit(), 0);
	CHECK_INT(evaluate(&out, "nested/main.jsonnet", "nested", NULL, 0, &diags), 0);
	CHECK_INT(documents(out.ptr), 3);
	CHECK_CONTAINS(out.ptr, "kind: C\n");
	plumb_buf_release(&out);
	plumb_diags_release(&diags);
}

static void output_that_is_no_manifest(void)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("s.jsonnet", "'hello'\n");
	fixture_write("a.jsonnet", "[{ kind: 'A' }, 3, null, 'x', true]\n");
	fixture_write("l.jsonnet", "{ kind: 'List', items: [1] }\n");
	CHECK_INT(commit(), 0);
	CHECK_INT(evaluate(&out, "s.jsonnet", "", NULL, 0, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "s.jsonnet", 0, 0, "jsonnet output is a string, not an object or an array of objects"));
	CHECK_INT(evaluate(&out, "a.jsonnet", "", NULL, 0, &diags), PLUMB_EINVALID);
	CHECK_INT(diags.count, 4);
	CHECK(has_diag(&diags, "a.jsonnet", 0, 0, "jsonnet output[1] is a number, not an object"));
	CHECK(has_diag(&diags, "a.jsonnet", 0, 0, "jsonnet output[2] is null, not an object"));
	CHECK(has_diag(&diags, "a.jsonnet", 0, 0, "jsonnet output[3] is a string, not an object"));
	CHECK(has_diag(&diags, "a.jsonnet", 0, 0, "jsonnet output[4] is a boolean, not an object"));
	CHECK_INT(out.len, 0);
	CHECK_INT(evaluate(&out, "l.jsonnet", "", NULL, 0, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "l.jsonnet", 0, 0, "jsonnet output.items[0] is a number, not an object"));
	plumb_buf_release(&out);
	plumb_diags_release(&diags);
}

static void imports_come_from_the_commit(void)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("apps/web/main.jsonnet", "local k = import '../../lib/k.libsonnet';\n"
					       "local s = import 'shared.libsonnet';\n"
					       "[k.cm('a', importstr 'motd.txt'), s]\n");
	fixture_write("apps/web/motd.txt", "committed\n");
	/* Found through the library folder's own relative import. */
	fixture_write("lib/k.libsonnet", "local base = import 'inner/base.libsonnet';\n"
					 "{ cm(name, text):: base { metadata: { name: name }, data: { motd: text } } }\n");
	fixture_write("lib/inner/base.libsonnet", "{ apiVersion: 'v1', kind: 'ConfigMap' }\n");
	/* Not beside the file: in the application's folder, searched last. */
	fixture_write("apps/shared.libsonnet", "{ kind: 'Shared' }\n");
	CHECK_INT(commit(), 0);
	fixture_write("apps/web/motd.txt", "only on disk\n");

	CHECK_INT(evaluate(&out, "apps/web/main.jsonnet", "apps", NULL, 0, &diags), 0);
	CHECK_INT(diags.count, 0);
	CHECK_INT(documents(out.ptr), 2);
	CHECK_CONTAINS(out.ptr, "  motd: \"committed\\n\"\n");
	CHECK_CONTAINS(out.ptr, "kind: Shared\n");
	CHECK_LACKS(out.ptr, "only on disk");

	/* Without the application's folder to fall back on, the import is not found, at its place. */
	CHECK_INT(evaluate(&out, "apps/web/main.jsonnet", "apps/web", NULL, 0, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "apps/web/main.jsonnet", 2, 11,
		       "couldn't open import \"shared.libsonnet\": no such file in the commit (looked in apps/web)"));

	/* A library folder of the options is searched before the application's folder. */
	fixture_write("vendor/shared.libsonnet", "{ kind: 'Vendored' }\n");
	CHECK_INT(commit(), 0);
	CHECK_INT(evaluate(&out, "apps/web/main.jsonnet", "apps", "{\"libs\": [\"/vendor\"]}", 0, &diags), 0);
	CHECK_CONTAINS(out.ptr, "kind: Vendored\n");
	CHECK_LACKS(out.ptr, "kind: Shared\n");

	/* A symlink inside the repository is followed. */
	fixture_sh("cd repo && mkdir -p apps/linked && ln -s ../../lib/k.libsonnet apps/linked/k.libsonnet");
	fixture_write("apps/linked/main.jsonnet", "(import 'k.libsonnet').cm('l', 'x')\n");
	CHECK_INT(commit(), 0);
	CHECK_INT(evaluate(&out, "apps/linked/main.jsonnet", "apps/linked", NULL, 0, &diags), 0);
	CHECK_CONTAINS(out.ptr, "  name: l\n");
	plumb_buf_release(&out);
	plumb_diags_release(&diags);
}

static void imports_out_of_the_repository_are_refused(void)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("bad/up.jsonnet", "{\n  a: import '../../../etc/hostname',\n}\n");
	fixture_write("bad/abs.jsonnet", "{ a: importstr '/etc/hostname' }\n");
	fixture_write("bad/sym.jsonnet", "{ kind: 'A', a: importstr 'link.txt' }\n");
	fixture_sh("cd repo && ln -s ../../../../etc/hostname bad/link.txt");
	CHECK_INT(commit(), 0);
	CHECK_INT(evaluate(&out, "bad/up.jsonnet", "bad", NULL, 0, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "bad/up.jsonnet", 2, 6,
		       "couldn't open import \"../../../etc/hostname\": it leaves the repository"));
	CHECK_INT(evaluate(&out, "bad/abs.jsonnet", "bad", NULL, 0, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "bad/abs.jsonnet", 1, 6, "an absolute path is refused"));
	CHECK_INT(evaluate(&out, "bad/sym.jsonnet", "bad", NULL, 0, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "bad/sym.jsonnet", 1, 17,
		       "symlink bad/link.txt to '../../../../etc/hostname' leaves the repository"));
	/* A library folder out of the repository is refused before anything runs. */
	CHECK_INT(evaluate(&out, "bad/abs.jsonnet", "bad", "{\"libs\": [\"../outside\"]}", 0, &diags),
		  PLUMB_EINVALID);
	CHECK(has_diag(&diags, "bad/abs.jsonnet", 0, 0, "directory.jsonnet.libs[0]: '../outside' leaves the repository"));
	CHECK_INT(diags.count, 1);
	CHECK_INT(out.len, 0);
	plumb_buf_release(&out);
	plumb_diags_release(&diags);
}

static void errors_name_file_line_and_column(void)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("e/syntax.jsonnet", "{\n  a: 1\n  b: 2,\n}\n");
	fixture_write("e/runtime.jsonnet", "local lib = import 'lib.libsonnet';\n{ a: lib.check(3) }\n");
	fixture_write("e/lib.libsonnet", "{\n  check(x):: if x > 2 then error 'too big: ' + x else x,\n}\n");
	fixture_write("e/deep.jsonnet", "local f(x) = f(x + 1) + 1;\nf(0)\n");
	fixture_write("e/native.jsonnet", "std.native('exec')('ls')\n");
	fixture_write("e/multi.jsonnet", "error 'first line\\nsecond line'\n");
	CHECK_INT(commit(), 0);
	CHECK_INT(evaluate(&out, "e/syntax.jsonnet", "e", NULL, 0, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "e/syntax.jsonnet", 3, 3, "jsonnet static error: expected a comma before next field"));
	/* A runtime error is at its place, in the imported file where it is raised. */
	CHECK_INT(evaluate(&out, "e/runtime.jsonnet", "e", NULL, 0, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "e/lib.libsonnet", 2, 28, "jsonnet error: too big: 3"));
	CHECK_LACKS(diags.count ? diags.items[0].message : NULL, "\t");
	/* Unbounded recursion stops at the stack's bound. */
	CHECK_INT(evaluate(&out, "e/deep.jsonnet", "e", NULL, 0, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "e/deep.jsonnet", 1, 14, "max stack frames exceeded"));
	/* No native function is registered. */
	CHECK_INT(evaluate(&out, "e/native.jsonnet", "e", NULL, 0, &diags), PLUMB_EINVALID);
	CHECK_INT(diags.count, 1);
	CHECK(diags.count && !strncmp(diags.items[0].message, "jsonnet error: ", 15));
	/* A message of several lines is one line. */
	CHECK_INT(evaluate(&out, "e/multi.jsonnet", "e", NULL, 0, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "e/multi.jsonnet", 1, 1, "jsonnet error: first line second line"));
	plumb_buf_release(&out);
	plumb_diags_release(&diags);
}

static void top_level_arguments_and_external_variables(void)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("t/main.jsonnet", "function(name, replicas=1) { kind: 'A', name: name, replicas: replicas, "
					"env: std.extVar('env'), debug: std.extVar('debug') }\n");
	CHECK_INT(commit(), 0);
	const char *options = "{\"tlas\": [{\"name\": \"name\", \"value\": \"web\"}, "
			      "{\"name\": \"replicas\", \"value\": \"2 + 1\", \"code\": true}], "
			      "\"extVars\": [{\"name\": \"env\", \"value\": \"prod\", \"code\": false}, "
			      "{\"name\": \"debug\", \"value\": \"{a: true}\", \"code\": true}]}";
	CHECK_INT(evaluate(&out, "t/main.jsonnet", "t", options, 0, &diags), 0);
	CHECK_CONTAINS(out.ptr, "name: web\n");
	CHECK_CONTAINS(out.ptr, "replicas: 3\n");
	CHECK_CONTAINS(out.ptr, "env: prod\n");
	CHECK_CONTAINS(out.ptr, "debug:\n  a: true\n");
	/* What Debian's jsonnet command prints with the same arguments. */
	CHECK_INT(fixture_sh("cd repo && jsonnet --tla-str name=web --tla-code 'replicas=2 + 1' --ext-str env=prod "
			     "--ext-code 'debug={a: true}' t/main.jsonnet >../by-hand.json"),
		  0);
	char *by_hand_path = fixture_path("by-hand.json");
	json_t *by_hand = json_load_file(by_hand_path, 0, NULL);
	json_t *ours = yaml_as_json(out.ptr);
	CHECK(by_hand && ours && json_equal(by_hand, ours));
	json_decref(by_hand);
	json_decref(ours);
	free(by_hand_path);

	/* A variable not given is libjsonnet's error. */
	CHECK_INT(evaluate(&out, "t/main.jsonnet", "t", "{\"tlas\": [{\"name\": \"name\", \"value\": \"w\"}]}", 0,
			   &diags),
		  PLUMB_EINVALID);
	CHECK_CONTAINS(diags.count ? diags.items[0].message : NULL, "jsonnet error: undefined external variable:");

	/* Malformed options: each problem, at the file. */
	CHECK_INT(evaluate(&out, "t/main.jsonnet", "t",
			   "{\"tlas\": [{\"value\": \"x\"}, {\"name\": \"n\", \"code\": \"yes\"}], \"extVars\": {}, "
			   "\"libs\": [3], \"jpath\": []}",
			   0, &diags),
		  PLUMB_EINVALID);
	CHECK_INT(diags.count, 5);
	CHECK(has_diag(&diags, "t/main.jsonnet", 0, 0, "directory.jsonnet.tlas[0]: expected a name"));
	CHECK(has_diag(&diags, "t/main.jsonnet", 0, 0, "directory.jsonnet.tlas[1].code: expected true or false"));
	CHECK(has_diag(&diags, "t/main.jsonnet", 0, 0, "directory.jsonnet.extVars: expected a list"));
	CHECK(has_diag(&diags, "t/main.jsonnet", 0, 0, "directory.jsonnet.libs[0]: expected a string"));
	CHECK(has_diag(&diags, "t/main.jsonnet", 0, 0, "directory.jsonnet.jpath: unknown field"));
	CHECK_INT(evaluate(&out, "t/main.jsonnet", "t", "[]", 0, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "t/main.jsonnet", 0, 0, "directory.jsonnet: expected an object"));
	plumb_buf_release(&out);
	plumb_diags_release(&diags);
}

static void a_repository_that_cannot_be_read_is_no_diagnostic(void)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("r/main.jsonnet", "import 'lost.libsonnet'\n");
	fixture_write("r/lost.libsonnet", "{ kind: 'never read before', unique: 'a3f9c1' }\n");
	CHECK_INT(commit(), 0);
	/* The import's blob leaves the object database: the commit cannot be read, which is no error of the program. */
	CHECK_INT(fixture_sh("cd repo && id=$(git rev-parse HEAD:r/lost.libsonnet) && "
			     "rm -f .git/objects/$(echo $id | cut -c1-2)/$(echo $id | cut -c3-)"),
		  0);
	int error = evaluate(&out, "r/main.jsonnet", "r", NULL, 0, &diags);
	CHECK(error < 0 && error != PLUMB_EINVALID);
	CHECK_INT(diags.count, 0);
	CHECK_INT(out.len, 0);
	fixture_sh("rm -rf repo/*");
	plumb_buf_release(&out);
	plumb_diags_release(&diags);
}

/* Evaluate file of head with STATE/render/ in the fixture's state folder. */
static int evaluate_kept(plumb_buf *out, const char *file, const char *options, plumb_diags *diags)
{
	char *state = fixture_path("state");
	plumb_render_options render = { .state_dir = state };
	plumb_buf_clear(out);
	plumb_diags_release(diags);
	*diags = (plumb_diags)PLUMB_DIAGS_INIT;
	int error = plumb_jsonnet_evaluate(out, source, head, file, "k", options, &render, diags);
	free(state);
	return error;
}

/* Change what the kept evaluations say, so that reading one shows. */
static int tamper(const char *from, const char *to)
{
	return fixture_sh("grep -l '^# plumb jsonnet evaluation' state/render/*.yaml | xargs sed -i 's/%s/%s/'", from,
			  to);
}

static void kept_in_the_state_directory(void)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	const char *libs = "{\"libs\": [\"shared\"]}";
	fixture_sh("rm -rf repo/* state");
	fixture_write("k/main.jsonnet", "local l = import 'lib.libsonnet';\n[{ kind: 'A', v: l.v }]\n");
	fixture_write("shared/lib.libsonnet", "{ v: 1 }\n");
	CHECK_INT(commit(), 0);
	CHECK_INT(evaluate_kept(&out, "k/main.jsonnet", libs, &diags), 0);
	CHECK_STR(out.ptr, "kind: A\nv: 1\n");
	/* The entry is read, not the program evaluated: what it says is what comes out. */
	CHECK_INT(tamper("^v: 1$", "v: 99"), 0);
	CHECK_INT(evaluate_kept(&out, "k/main.jsonnet", libs, &diags), 0);
	CHECK_STR(out.ptr, "kind: A\nv: 99\n");
	/* Other options are another entry. */
	CHECK_INT(evaluate_kept(&out, "k/main.jsonnet", "{\"libs\": [\"shared\"], \"tlas\": []}", &diags), 0);
	CHECK_STR(out.ptr, "kind: A\nv: 1\n");
	/* A commit that touches nothing it looked up is served from it. */
	fixture_write("elsewhere.txt", "x\n");
	fixture_write("shared/other.libsonnet", "{}\n");
	CHECK_INT(commit(), 0);
	CHECK_INT(evaluate_kept(&out, "k/main.jsonnet", libs, &diags), 0);
	CHECK_STR(out.ptr, "kind: A\nv: 99\n");
	/* A path looked up and not found that now is: evaluated again. */
	fixture_write("k/lib.libsonnet", "{ v: 2 }\n");
	CHECK_INT(commit(), 0);
	CHECK_INT(evaluate_kept(&out, "k/main.jsonnet", libs, &diags), 0);
	CHECK_STR(out.ptr, "kind: A\nv: 2\n");
	/* An import that changed, and the file itself. */
	CHECK_INT(tamper("^v: 2$", "v: 98"), 0);
	CHECK_INT(evaluate_kept(&out, "k/main.jsonnet", libs, &diags), 0);
	CHECK_STR(out.ptr, "kind: A\nv: 98\n");
	fixture_write("k/lib.libsonnet", "{ v: 3 }\n");
	CHECK_INT(commit(), 0);
	CHECK_INT(evaluate_kept(&out, "k/main.jsonnet", libs, &diags), 0);
	CHECK_STR(out.ptr, "kind: A\nv: 3\n");
	fixture_write("k/main.jsonnet", "local l = import 'lib.libsonnet';\n[{ kind: 'B', v: l.v }]\n");
	CHECK_INT(commit(), 0);
	CHECK_INT(evaluate_kept(&out, "k/main.jsonnet", libs, &diags), 0);
	CHECK_STR(out.ptr, "kind: B\nv: 3\n");
	/* An evaluation that failed is not kept. */
	fixture_write("k/main.jsonnet", "error 'not kept'\n");
	CHECK_INT(commit(), 0);
	CHECK_INT(evaluate_kept(&out, "k/main.jsonnet", libs, &diags), PLUMB_EINVALID);
	CHECK_INT(fixture_sh("! grep -l 'not kept' state/render/*.yaml"), 0);
	fixture_sh("rm -rf state");
	plumb_buf_release(&out);
	plumb_diags_release(&diags);
}

static void output_is_capped(void)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("big.jsonnet", "{ kind: 'A', data: std.join('', ['x' for i in std.range(1, 5000)]) }\n");
	CHECK_INT(commit(), 0);
	CHECK_INT(evaluate(&out, "big.jsonnet", "", NULL, 1000, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "big.jsonnet", 0, 0, "jsonnet output is larger than 1000 bytes"));
	CHECK_INT(evaluate(&out, "big.jsonnet", "", NULL, 0, &diags), 0);
	CHECK(out.len > 5000);
	plumb_buf_release(&out);
	plumb_diags_release(&diags);
}

static void options_and_keys(void)
{
	char *options = NULL;
	CHECK_INT(plumb_jsonnet_options_of(&options, NULL, NULL), 0);
	CHECK(options == NULL);
	CHECK_INT(plumb_jsonnet_options_of(&options, "{\"directory\": {\"recurse\": true}}", NULL), 0);
	CHECK(options == NULL);
	CHECK_INT(plumb_jsonnet_options_of(&options, "{\"directory\": {\"jsonnet\": {\"libs\": [\"v\"], "
						     "\"tlas\": []}}, \"path\": \"x\"}",
					   NULL),
		  0);
	CHECK_STR(options, "{\"libs\":[\"v\"],\"tlas\":[]}");
	free(options);
	CHECK_INT(plumb_jsonnet_options_of(&options, "{\"directory\": \"jsonnet\"}", NULL), PLUMB_EINVALID);
	CHECK_CONTAINS(plumb_error_last(), "directory: expected an object");
	CHECK(options == NULL);
	CHECK_INT(plumb_jsonnet_options_of(&options, "{\"directory\": ", NULL), PLUMB_EINVALID);
	CHECK_CONTAINS(plumb_error_last(), "not a JSON object");
	CHECK(options == NULL);

	/* Argo CD's build environment in the values of tlas and extVars, as Go's os.Expand reads them. */
	plumb_jsonnet_env env = { "web", "shop", "0123456789abcdef0123456789abcdef01234567", "https://git.example/r.git",
				  "apps/web" };
	CHECK_INT(plumb_jsonnet_options_of(
			  &options,
			  "{\"directory\": {\"jsonnet\": {"
			  "\"tlas\": [{\"name\": \"a\", \"value\": \"$ARGOCD_APP_NAME-${ARGOCD_APP_NAMESPACE}\"}, "
			  "{\"name\": \"b\", \"value\": \"$ARGOCD_APP_REVISION_SHORT/${ARGOCD_APP_REVISION_SHORT_8}\"}, "
			  "{\"name\": \"c\", \"value\": \"$$ARGOCD_APP_NAME $UNKNOWN $ $.x ${} $1\", \"code\": true}], "
			  "\"extVars\": [{\"name\": \"d\", \"value\": \"$ARGOCD_APP_SOURCE_PATH@$ARGOCD_APP_SOURCE_REPO_URL "
			  "$ARGOCD_APP_REVISION\"}], \"libs\": [\"$ARGOCD_APP_NAME\"]}}}",
			  &env),
		  0);
	CHECK_CONTAINS(options, "\"value\":\"web-shop\"");
	CHECK_CONTAINS(options, "\"value\":\"0123456/01234567\"");
	CHECK_CONTAINS(options, "\"value\":\"$ARGOCD_APP_NAME  $ $.x  \"");
	CHECK_CONTAINS(options,
		       "\"value\":\"apps/web@https://git.example/r.git 0123456789abcdef0123456789abcdef01234567\"");
	/* Only values: a library folder is a path. */
	CHECK_CONTAINS(options, "\"libs\":[\"$ARGOCD_APP_NAME\"]");
	free(options);

	char a[PLUMB_OID_HEXSZ + 1], b[PLUMB_OID_HEXSZ + 1];
	const char *blob = "0123456789012345678901234567890123456789";
	plumb_jsonnet_key(a, blob, "apps", NULL);
	CHECK_INT(strlen(a), PLUMB_OID_HEXSZ);
	plumb_jsonnet_key(b, blob, "apps", NULL);
	CHECK_STR(a, b);
	plumb_jsonnet_key(b, blob, "apps", "{\"tlas\":[]}");
	CHECK(strcmp(a, b) != 0);
	plumb_jsonnet_key(b, blob, "", NULL);
	CHECK(strcmp(a, b) != 0);
	plumb_jsonnet_key(b, "1123456789012345678901234567890123456789", "apps", NULL);
	CHECK(strcmp(a, b) != 0);

	CHECK(plumb_jsonnet_is_program("a/main.jsonnet"));
	CHECK(!plumb_jsonnet_is_program("a/lib.libsonnet"));
	CHECK(!plumb_jsonnet_is_program("a/.jsonnet"));
	CHECK(!plumb_jsonnet_is_program("main.jsonnet.txt"));
}

/* --- through plumb_load ------------------------------------------------------------------------ */

static int load(plumb_manifest_set *set, const char *path, const char *options, plumb_diags *diags)
{
	plumb_render_target target = { NULL, NULL, options };
	memset(set, 0, sizeof(*set));
	plumb_diags_release(diags);
	*diags = (plumb_diags)PLUMB_DIAGS_INIT;
	int error = commit() < 0 ? -100 : plumb_load(set, source, head, path, &target, diags);
	plumb_diags_sort(diags);
	return error;
}

/* How many manifest files a load of path parsed (evaluated, for a .jsonnet file). */
static long parsed_by(plumb_manifest_set *set, const char *path, const char *options)
{
	plumb_diags diags = PLUMB_DIAGS_INIT;
	unsigned long before = plumb_load_files_parsed();
	int error = load(set, path, options, &diags);
	if (error != 0) {
		fprintf(stderr, "  load of %s: %d (%s)\n", path, error,
			diags.count ? diags.items[0].message : plumb_error_last());
		test_failed = 1;
	}
	plumb_diags_release(&diags);
	return (long)(plumb_load_files_parsed() - before);
}

static const char *const directory_program =
	"local lib = import '../lib/dirs.libsonnet';\n"
	"function(prefix='d') [lib.dir(prefix + '-' + n) for n in ['a', 'b']]\n";

static void a_folder_loads_its_jsonnet_files(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("app/main.jsonnet", directory_program);
	fixture_write("lib/dirs.libsonnet",
		      "{ dir(name):: { apiVersion: 'host/v1', kind: 'Directory', metadata: { name: name }, "
		      "spec: { path: '/' + name } } }\n");
	/* A .libsonnet beside them is only ever imported: its output is no manifest. */
	fixture_write("app/broken.libsonnet", "this is not jsonnet\n");
	fixture_write("app/plain.yaml", "apiVersion: host/v1\nkind: Directory\nmetadata: {name: y}\nspec: {path: /y}\n");
	CHECK_INT(load(&set, "app", NULL, &diags), 0);
	CHECK_INT(diags.count, 0);
	CHECK_INT(set.resource_count, 3);
	CHECK_INT(set.object_count, 3);
	int found = 0;
	for (size_t i = 0; i < set.resource_count; i++) {
		const plumb_resource *r = &set.resources[i];
		if (!strcmp(r->identity, "host/v1/Directory/d-b")) {
			found = 1;
			CHECK_STR(r->file, "app/main.jsonnet (jsonnet) Directory/d-b");
			/* Its apiVersion, on the first line of the object as plumb writes it. */
			CHECK_INT(r->line, 1);
			CHECK_INT(r->column, 1);
		}
	}
	CHECK(found);
	plumb_manifest_set_release(&set);

	/* The application's options reach the program; an error in an object is at its place in the object. */
	CHECK_INT(load(&set, "app",
		       "{\"directory\": {\"jsonnet\": {\"tlas\": [{\"name\": \"prefix\", \"value\": \"x\"}]}}}",
		       &diags),
		  0);
	CHECK_INT(set.resource_count, 3);
	CHECK(set.resource_count == 3 && (!strcmp(set.resources[0].name, "x-a") || !strcmp(set.resources[1].name, "x-a")));
	plumb_manifest_set_release(&set);
	/* Argo CD's build environment: an implicit application is named by its folder. */
	CHECK_INT(load(&set, "app",
		       "{\"directory\": {\"jsonnet\": {\"tlas\": [{\"name\": \"prefix\", "
		       "\"value\": \"$ARGOCD_APP_NAME\"}]}}}",
		       &diags),
		  0);
	CHECK(set.resource_count == 3 && (!strcmp(set.resources[0].name, "app-a") || !strcmp(set.resources[1].name, "app-a")));
	plumb_manifest_set_release(&set);

	fixture_write("lib/dirs.libsonnet", "{ dir(name):: { apiVersion: 'host/v1', kind: 'Directory', "
					    "metadata: { name: name }, spec: { path: '/' + name, colour: 'red' } } }\n");
	CHECK_INT(load(&set, "app", NULL, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "app/main.jsonnet (jsonnet) Directory/d-a", 6, 3, "spec: unknown field \"colour\""));
	plumb_manifest_set_release(&set);

	/* Malformed render options are a problem of each .jsonnet file. */
	CHECK_INT(load(&set, "app", "{\"directory\": ", &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "app/main.jsonnet", 0, 0, "render options are not a JSON object"));
	plumb_manifest_set_release(&set);

	/* A file path names one program; its imports fall back on its folder. */
	fixture_write("lib/dirs.libsonnet",
		      "{ dir(name):: { apiVersion: 'host/v1', kind: 'Directory', metadata: { name: name }, "
		      "spec: { path: '/' + name } } }\n");
	CHECK_INT(load(&set, "app/main.jsonnet", NULL, &diags), 0);
	CHECK_INT(set.resource_count, 2);
	plumb_manifest_set_release(&set);

	/* A .jsonnet file in a kustomization's folder is kustomize's input. */
	fixture_write("app/k/kustomization.yaml", "resources: []\n");
	fixture_write("app/k/other.jsonnet", "error 'never evaluated'\n");
	CHECK_INT(load(&set, "app", NULL, &diags), 0);
	CHECK_INT(set.resource_count, 3);
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

/* Keys and strings YAML could read as something else, or not show as they are. */
static const char *const tricky_program =
	"local words = ['yes', 'n', 'N', 'True', 'null', '~', '123', '0x1F', '1e3', '.inf', '-', '', ' lead', 'trail ',\n"
	"  'a: b', '#x', 'key with space', '*alias', '&anchor', '!tag', '%', '@', '`', '[', '{', ',', '?', '|', '>',\n"
	"  \"'single'\", '\"double\"', 'back\\\\slash', 'line\\nbreak', 'tab\\t', 'bell\\u0007', 'del\\u007f',\n"
	"  'c1\\u0085', 'bom\\ufeff', 'nonchar\\uffff', 'caf\\u00e9', '/etc/x', 'a/b.c-d_e', '---', '...', '- x'];\n"
	"{\n"
	"  apiVersion: 'host/v1',\n"
	"  kind: 'File',\n"
	"  metadata: { name: 'tricky', annotations: { [w + '.k']: w for w in words } + { [w]: w for w in words if w != '' } },\n"
	"  spec: { path: '/tricky', content: std.join('\\n', words), mode: '0644' },\n"
	"}\n";

static void what_plumb_writes_reads_back_the_same(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("tricky/main.jsonnet", tricky_program);
	CHECK_INT(load(&set, "tricky", NULL, &diags), 0);
	plumb_diags_print(&diags, stderr);
	CHECK_INT(set.resource_count, 1);
	CHECK_INT(fixture_sh("cd repo && jsonnet tricky/main.jsonnet >../tricky.json"), 0);
	char *by_hand_path = fixture_path("tricky.json");
	json_t *by_hand = json_load_file(by_hand_path, 0, NULL);
	json_t *ours = set.resource_count ? json_loads(set.resources[0].json, 0, NULL) : NULL;
	CHECK(by_hand && json_object_size(json_object_get(json_object_get(by_hand, "metadata"), "annotations")) > 80);
	CHECK(by_hand && ours && json_equal(by_hand, ours));
	if (ours && by_hand && !json_equal(by_hand, ours)) {
		char *a = json_dumps(by_hand, JSON_SORT_KEYS), *b = json_dumps(ours, JSON_SORT_KEYS);
		fprintf(stderr, "  jsonnet: %s\n  plumb:   %s\n", a, b);
		free(a);
		free(b);
	}
	json_decref(by_hand);
	json_decref(ours);
	free(by_hand_path);
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

static void a_jsonnet_file_read_as_content_is_not_evaluated(void)
{
	plumb_manifest_set set;
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_sh("rm -rf repo/*");
	fixture_write("app/file.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: f}\n"
				       "spec: {source: app/dashboard.jsonnet, path: /etc/dashboard.jsonnet}\n");
	fixture_write("app/dashboard.jsonnet", "error 'content, not a program'\n");
	fixture_write("app/tree.yaml", "apiVersion: host/v1\nkind: Tree\nmetadata: {name: t}\n"
				       "spec: {source: app/dashboards, path: /etc/dashboards}\n");
	fixture_write("app/dashboards/one.jsonnet", "error 'content too'\n");
	CHECK_INT(load(&set, "app", NULL, &diags), 0);
	CHECK_INT(diags.count, 0);
	CHECK_INT(set.resource_count, 2);
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

static void evaluated_again_only_when_it_or_an_import_changes(void)
{
	plumb_manifest_set set;
	fixture_sh("rm -rf repo/*");
	fixture_write("app/main.jsonnet", directory_program);
	fixture_write("lib/dirs.libsonnet",
		      "{ dir(name):: { apiVersion: 'host/v1', kind: 'Directory', metadata: { name: name }, "
		      "spec: { path: '/c/' + name } } }\n");
	fixture_write("lib/unused.libsonnet", "{}\n");
	CHECK_INT(parsed_by(&set, "app", NULL), 1);
	plumb_manifest_set_release(&set);
	CHECK_INT(parsed_by(&set, "app", NULL), 0);
	plumb_manifest_set_release(&set);
	/* A commit that touches neither the file nor what it imports. */
	fixture_write("lib/unused.libsonnet", "{ a: 1 }\n");
	fixture_write("elsewhere.txt", "x\n");
	CHECK_INT(parsed_by(&set, "app", NULL), 0);
	CHECK_INT(set.resource_count, 2);
	plumb_manifest_set_release(&set);
	/* An import changed: evaluated again, with the new library. */
	fixture_write("lib/dirs.libsonnet",
		      "{ dir(name):: { apiVersion: 'host/v1', kind: 'Directory', metadata: { name: name }, "
		      "spec: { path: '/changed/' + name } } }\n");
	CHECK_INT(parsed_by(&set, "app", NULL), 1);
	CHECK(set.object_count == 2 && !strncmp(set.objects[0].key, "changed/", 8));
	plumb_manifest_set_release(&set);
	CHECK_INT(parsed_by(&set, "app", NULL), 0);
	plumb_manifest_set_release(&set);
	/* Other options are another evaluation; the first is still kept. */
	const char *options = "{\"directory\": {\"jsonnet\": {\"tlas\": [{\"name\": \"prefix\", \"value\": \"o\"}]}}}";
	CHECK_INT(parsed_by(&set, "app", options), 1);
	plumb_manifest_set_release(&set);
	CHECK_INT(parsed_by(&set, "app", options), 0);
	plumb_manifest_set_release(&set);
	CHECK_INT(parsed_by(&set, "app", NULL), 0);
	plumb_manifest_set_release(&set);
	/* An import that was not found beside the file, and now is, changes what the program reads. */
	const char *libs = "{\"directory\": {\"jsonnet\": {\"libs\": [\"lib\"]}}}";
	fixture_write("app/main.jsonnet", "local lib = import 'dirs.libsonnet';\n"
					  "[lib.dir('m')]\n");
	CHECK_INT(parsed_by(&set, "app", libs), 1);
	CHECK_INT(set.resource_count, 1);
	plumb_manifest_set_release(&set);
	CHECK_INT(parsed_by(&set, "app", libs), 0);
	plumb_manifest_set_release(&set);
	plumb_diags diags = PLUMB_DIAGS_INIT;
	fixture_write("app/dirs.libsonnet", "error 'beside it now'\n");
	CHECK_INT(load(&set, "app", libs, &diags), PLUMB_EINVALID);
	CHECK(has_diag(&diags, "app/dirs.libsonnet", 1, 1, "jsonnet error: beside it now"));
	plumb_manifest_set_release(&set);
	plumb_diags_release(&diags);
}

int main(void)
{
	fixture_init("jsonnet");
	repo = fixture_path("repo");
	if (plumb_source_global_init() < 0 || fixture_commit("empty") != 0 ||
	    plumb_source_open(&source, repo, fixture_dir) < 0)
		return 2;
	RUN(an_object_an_array_and_a_list);
	RUN(output_that_is_no_manifest);
	RUN(imports_come_from_the_commit);
	RUN(imports_out_of_the_repository_are_refused);
	RUN(errors_name_file_line_and_column);
	RUN(top_level_arguments_and_external_variables);
	RUN(a_repository_that_cannot_be_read_is_no_diagnostic);
	RUN(kept_in_the_state_directory);
	RUN(output_is_capped);
	RUN(options_and_keys);
	RUN(a_folder_loads_its_jsonnet_files);
	RUN(what_plumb_writes_reads_back_the_same);
	RUN(a_jsonnet_file_read_as_content_is_not_evaluated);
	RUN(evaluated_again_only_when_it_or_an_import_changes);
	plumb_source_free(source);
	plumb_source_global_shutdown();
	free(repo);
	fixture_cleanup();
	TEST_EXIT();
}
