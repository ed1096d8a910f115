/*
 * Unit tests of Flux's post-build variable substitution (load/substitute.c):
 * the forms Flux replaces, what it leaves, and documents that opt out.
 */
#include "util/common.h"
#include "load/substitute.h"

#include <stdlib.h>

#include "test.h"

static char *substituted(const char *text, const char *vars)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_substitute(&out, text, strlen(text), vars);
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
	const char *vars = "{\"env\": \"prod\", \"empty\": \"\"}";
	CHECK_SUBSTITUTED("a: ${env}\n", vars, "a: prod\n");
	CHECK_SUBSTITUTED("a: ${env}-${env}\n", vars, "a: prod-prod\n");
	CHECK_SUBSTITUTED("a: ${missing:=eu-west}\n", vars, "a: eu-west\n");
	CHECK_SUBSTITUTED("a: ${empty:-fallback}\n", vars, "a: fallback\n");
	CHECK_SUBSTITUTED("a: ${env:=other}\n", vars, "a: prod\n");
	/* Without a value and without a default: nothing, as Flux does. */
	CHECK_SUBSTITUTED("a: x${missing}y\n", vars, "a: xy\n");
}

static void what_is_no_variable_stays_as_written(void)
{
	const char *vars = "{\"env\": \"prod\"}";
	CHECK_SUBSTITUTED("a: $${env}\n", vars, "a: ${env}\n");
	CHECK_SUBSTITUTED("a: $env\n", vars, "a: $env\n");
	CHECK_SUBSTITUTED("a: ${ env}\n", vars, "a: ${ env}\n");
	CHECK_SUBSTITUTED("a: ${env\nb: }\n", vars, "a: ${env\nb: }\n");
	CHECK_SUBSTITUTED("a: ${env:?x}\n", vars, "a: ${env:?x}\n");
	CHECK_SUBSTITUTED("a: cost $5\n", vars, "a: cost $5\n");
}

static void a_document_may_opt_out(void)
{
	const char *vars = "{\"env\": \"prod\"}";
	CHECK_SUBSTITUTED("metadata:\n  annotations:\n    " PLUMB_SUBSTITUTE_DISABLED "\na: ${env}\n---\nb: ${env}\n", vars,
			  "metadata:\n  annotations:\n    " PLUMB_SUBSTITUTE_DISABLED "\na: ${env}\n---\nb: prod\n");
}

int main(void)
{
	RUN(variables_and_defaults_are_replaced);
	RUN(what_is_no_variable_stays_as_written);
	RUN(a_document_may_opt_out);
	TEST_EXIT();
}
