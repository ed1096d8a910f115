/*
 * Unit tests of Flux's post-build variable substitution (load/substitute.c):
 * the forms drone's envsubst (which Flux runs) replaces, its escapes, what it
 * leaves, what fails, and documents that opt out.
 */
#include "util/common.h"
#include "load/substitute.h"

#include <stdlib.h>

#include "test.h"

static char *substituted(const char *text, const char *vars)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_substitute_failure failure;
	if (plumb_substitute(&out, text, strlen(text), vars, &failure) < 0) {
		plumb_buf_release(&out);
		return plumb_xprintf("(bad at line %u: %s)", failure.line, failure.near);
	}
	return out.ptr ? plumb_buf_detach(&out, NULL) : plumb_xstrdup("");
}

#define CHECK_SUBSTITUTED(text, vars, expected)           \
	do {                                              \
		char *got_ = substituted(text, vars);     \
		CHECK_STR(got_, expected);                \
		free(got_);                               \
	} while (0)

static void variables_and_defaults_are_replaced(void)
{
	const char *vars = "{\"env\": \"prod\", \"empty\": \"\", \"fallback\": \"eu\"}";
	CHECK_SUBSTITUTED("a: ${env}\n", vars, "a: prod\n");
	CHECK_SUBSTITUTED("a: ${env}-${env}\n", vars, "a: prod-prod\n");
	CHECK_SUBSTITUTED("a: ${missing:=eu-west}\n", vars, "a: eu-west\n");
	CHECK_SUBSTITUTED("a: ${empty:-fallback}\n", vars, "a: fallback\n");
	CHECK_SUBSTITUTED("a: ${env:=other}\n", vars, "a: prod\n");
	CHECK_SUBSTITUTED("a: ${missing=x}\n", vars, "a: x\n");
	/* envsubst reads :? and :+ as it reads :=, the arguments when the value is empty. */
	CHECK_SUBSTITUTED("a: ${env:?x} ${missing:+y}\n", vars, "a: prod y\n");
	/* A default may hold variables, and text around them. */
	CHECK_SUBSTITUTED("a: ${missing:=${fallback}-west}\n", vars, "a: eu-west\n");
	CHECK_SUBSTITUTED("a: ${missing=x${fallback}y}\n", vars, "a: xeuy\n");
	/* Without a value and without a default: nothing, as Flux does. */
	CHECK_SUBSTITUTED("a: x${missing}y\n", vars, "a: xy\n");
	CHECK_SUBSTITUTED("a: ${my-var}\n", vars, "a: \n");
}

static void the_bash_functions_of_envsubst(void)
{
	const char *vars = "{\"v\": \"abcdEFGH28ij\", \"file\": \"bash.string.txt\", \"path\": \"/home/bozo/ideas\","
			   " \"z\": \"abcABC123ABCabc\", \"slashed\": \"foo/bar/baz\"}";
	CHECK_SUBSTITUTED("${#v}", vars, "12");
	CHECK_SUBSTITUTED("${v^} ${v^^} ${v,} ${v,,}", vars, "AbcdEFGH28ij ABCDEFGH28IJ abcdEFGH28ij abcdefgh28ij");
	CHECK_SUBSTITUTED("${path:11} ${path:6:4} ${path:-5} ${path:100} ${path:x}", vars,
			  "ideas bozo /home/bozo/ideas  /home/bozo/ideas");
	CHECK_SUBSTITUTED("${path: -5}", vars, "/home/bozo/ideas");
	CHECK_SUBSTITUTED("${file#*.} ${file##*.} ${file%.*} ${file%%.*}", vars, "string.txt txt bash.string bash");
	CHECK_SUBSTITUTED("${path#*/} ${path##*/} ${file#[a-c]?} ${file#[^b]*}", vars,
			  "home/bozo/ideas ideas sh.string.txt bash.string.txt");
	CHECK_SUBSTITUTED("${z/abc/xyz} ${z//abc/xyz} ${z/#abc/XYZ} ${z/%abc/XYZ} ${z/123/}", vars,
			  "xyzABC123ABCabc xyzABC123ABCxyz XYZABC123ABCabc abcABC123ABCXYZ abcABCABCabc");
	CHECK_SUBSTITUTED("${slashed/\\//-} ${slashed//\\//-}", vars, "foo-bar/baz foo-bar-baz");
	CHECK_SUBSTITUTED("${missing:=${v^^}}", vars, "ABCDEFGH28IJ");
	/* A malformed pattern leaves the value as it is. */
	CHECK_SUBSTITUTED("${file#[}", vars, "bash.string.txt");
}

static void escapes_and_what_is_no_variable(void)
{
	const char *vars = "{\"env\": \"prod\"}";
	CHECK_SUBSTITUTED("a: $${env}\n", vars, "a: ${env}\n");
	CHECK_SUBSTITUTED("a: $env and cost $5\n", vars, "a: $env and cost $5\n");
	CHECK_SUBSTITUTED("a: $$5 and $$$${env}\n", vars, "a: $5 and $${env}\n");
	CHECK_SUBSTITUTED("a: \"C:\\\\dir\\/x \\n\"\n", vars, "a: \"C:\\dir/x \\n\"\n");
	CHECK_SUBSTITUTED("some ${env}$${var$${env}$env${env}", vars, "some prod${var${env}$envprod");
	/* A "${" that is no function fails the document, as it fails Flux's build. */
	CHECK_SUBSTITUTED("a: 1\nb: ${ env}\n", vars, "(bad at line 2: ${ env})");
	CHECK_SUBSTITUTED("a: ${env\nb: }\n", vars, "(bad at line 1: ${env)");
	CHECK_SUBSTITUTED("a: ${env+x}\n", vars, "(bad at line 1: ${env+x})");
	CHECK_SUBSTITUTED("a: ${@}\n", vars, "(bad at line 1: ${@})");
	CHECK_SUBSTITUTED("a: ${env:=x\n", vars, "(bad at line 1: ${env:=x)");
}

static void variable_names_as_flux_takes_them(void)
{
	CHECK(plumb_substitute_valid_name("cluster_name"));
	CHECK(plumb_substitute_valid_name("_x9"));
	CHECK(!plumb_substitute_valid_name("9x"));
	CHECK(!plumb_substitute_valid_name("my-var"));
	CHECK(!plumb_substitute_valid_name("my.var"));
	CHECK(!plumb_substitute_valid_name(""));
}

static void a_document_may_opt_out(void)
{
	const char *vars = "{\"env\": \"prod\"}";
	CHECK_SUBSTITUTED("metadata:\n  annotations:\n    " PLUMB_SUBSTITUTE_DISABLED "\na: ${env}\n---\nb: ${env}\n", vars,
			  "metadata:\n  annotations:\n    " PLUMB_SUBSTITUTE_DISABLED "\na: ${env}\n---\nb: prod\n");
	/* Its ${...} may be anything: it is not read. */
	CHECK_SUBSTITUTED("metadata:\n  labels:\n    " PLUMB_SUBSTITUTE_DISABLED "\nrun: echo ${@}\n", vars,
			  "metadata:\n  labels:\n    " PLUMB_SUBSTITUTE_DISABLED "\nrun: echo ${@}\n");
}

int main(void)
{
	RUN(variables_and_defaults_are_replaced);
	RUN(the_bash_functions_of_envsubst);
	RUN(escapes_and_what_is_no_variable);
	RUN(variable_names_as_flux_takes_them);
	RUN(a_document_may_opt_out);
	TEST_EXIT();
}
