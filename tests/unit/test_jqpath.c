/*
 * Unit tests of the jq paths of ignoreDifferences (providers/kubernetes/
 * jqpath.c): what each form reaches in an object, as JSON pointers, and
 * what is refused, with its column.
 */
#include "util/common.h"
#include "providers/kubernetes/jqpath.h"
#include "util/buf.h"

#include <stdlib.h>

#include "test.h"

static const char object_text[] =
	"{\"metadata\": {\"annotations\": {\"a/b\": \"1\", \"c~d\": \"2\"}},"
	" \"spec\": {\"replicas\": 3, \"template\": {\"spec\": {\"containers\": ["
	"  {\"name\": \"web\", \"image\": \"nginx\", \"env\": [{\"name\": \"A\", \"value\": \"x\"}]},"
	"  {\"name\": \"side\", \"image\": \"envoy\", \"ready\": true}]}}},"
	" \"webhooks\": [{\"clientConfig\": {\"caBundle\": \"x\"}}, {\"name\": \"none\"},"
	"              {\"clientConfig\": {\"caBundle\": \"y\"}}]}";

/* The pointers expression reaches in the object, joined by spaces: a new string. */
static char *reached(const char *expression)
{
	json_t *object = json_loads(object_text, 0, NULL), *pointers = json_array(), *pointer;
	plumb_buf out = PLUMB_BUF_INIT;
	size_t i;
	CHECK(object != NULL);
	plumb_jqpath_pointers(pointers, expression, object);
	json_array_foreach(pointers, i, pointer)
		plumb_buf_printf(&out, "%s%s", i ? " " : "", json_string_value(pointer));
	json_decref(pointers);
	json_decref(object);
	return plumb_buf_detach(&out, NULL);
}

#define CHECK_REACHED(expression, expected)           \
	do {                                          \
		char *got_ = reached(expression);     \
		CHECK_STR(got_, expected);            \
		free(got_);                           \
	} while (0)

static void paths_reach_fields_and_items(void)
{
	CHECK_REACHED(".spec.replicas", "/spec/replicas");
	CHECK_REACHED(".spec.missing", "");
	CHECK_REACHED(".spec.template.spec.containers[1].image", "/spec/template/spec/containers/1/image");
	CHECK_REACHED(".spec.template.spec.containers[-1].name", "/spec/template/spec/containers/1/name");
	CHECK_REACHED(".spec.template.spec.containers[].image",
		      "/spec/template/spec/containers/0/image /spec/template/spec/containers/1/image");
	/* A key is escaped as a JSON pointer escapes it. */
	CHECK_REACHED(".metadata.annotations[\"a/b\"]", "/metadata/annotations/a~1b");
	CHECK_REACHED(".metadata.annotations.\"c~d\"", "/metadata/annotations/c~0d");
	CHECK_REACHED(".metadata.annotations[]", "/metadata/annotations/a~1b /metadata/annotations/c~0d");
	/* Argo CD's most written rule: what a webhook's injector sets, where there is one. */
	CHECK_REACHED(".webhooks[]?.clientConfig.caBundle", "/webhooks/0/clientConfig/caBundle /webhooks/2/clientConfig/caBundle");
	/* The whole object is no field to leave alone. */
	CHECK_REACHED(".", "");
}

static void select_filters_what_reaches(void)
{
	CHECK_REACHED(".spec.template.spec.containers[] | select(.name == \"web\") | .image",
		      "/spec/template/spec/containers/0/image");
	CHECK_REACHED(".spec.template.spec.containers[] | select(.name != \"web\") | .image",
		      "/spec/template/spec/containers/1/image");
	CHECK_REACHED(".spec.template.spec.containers[] | select(.ready) | .name", "/spec/template/spec/containers/1/name");
	CHECK_REACHED(".spec.template.spec.containers[] | select(.ready == true or .name == \"web\") | .name",
		      "/spec/template/spec/containers/0/name /spec/template/spec/containers/1/name");
	CHECK_REACHED(".spec.template.spec.containers[] | select(.name == \"web\" and (.ready or .image == \"nginx\")) "
		      "| .env[] | select(.name == \"A\") | .value",
		      "/spec/template/spec/containers/0/env/0/value");
	/* A field that is not there is null, as jq has it. */
	CHECK_REACHED(".webhooks[] | select(.clientConfig == null)", "/webhooks/1");
	CHECK_REACHED(".spec | select(.replicas == 3) | .replicas", "/spec/replicas");
}

static void what_is_not_read_is_refused_with_its_column(void)
{
	CHECK_INT(plumb_jqpath_check(".a.b[] | select(.x == \"y\") | .z"), 0);
	CHECK_INT(plumb_jqpath_check(".data | keys"), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "at column 9: a path starts with .") != NULL);
	plumb_error_clear();
	CHECK_INT(plumb_jqpath_check(".a[1"), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "[ is not closed") != NULL);
	plumb_error_clear();
	CHECK_INT(plumb_jqpath_check("select(.a == )"), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "a comparison is with") != NULL);
	plumb_error_clear();
	CHECK_INT(plumb_jqpath_check(".a + 1"), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "at column 4: not read") != NULL);
	plumb_error_clear();
	/* What is refused reaches nothing. */
	CHECK_REACHED(".spec | keys", "");
}

int main(void)
{
	RUN(paths_reach_fields_and_items);
	RUN(select_filters_what_reaches);
	RUN(what_is_not_read_is_refused_with_its_column);
	TEST_EXIT();
}
