/* Unit tests of resource/field.h: a field of a manifest document found again by its path, and its scalar read. */
#include "util/common.h"
#include "resource/field.h"
#include "test.h"

/* Two documents in one file; the second's root is at 6:1. */
static const char manifest[] = "apiVersion: v1\n"                      /* 1 */
			       "kind: ConfigMap\n"                     /* 2 */
			       "metadata: {name: first}\n"             /* 3 */
			       "---\n"                                 /* 4 */
			       "# the web tier\n"                      /* 5 */
			       "apiVersion: apps/v1\n"                 /* 6 */
			       "kind: Deployment\n"                    /* 7 */
			       "metadata:\n"                           /* 8 */
			       "  name: web\n"                         /* 9 */
			       "  labels: {app: web, \"a.b/c\": x}\n"  /* 10 */
			       "spec:\n"                               /* 11 */
			       "  replicas: -1\n"                      /* 12 */
			       "  template:\n"                         /* 13 */
			       "    spec:\n"                           /* 14 */
			       "      containers:\n"                   /* 15 */
			       "        - name: web\n"                 /* 16 */
			       "          image: nginx\n"              /* 17 */
			       "        - name: side\n"                /* 18 */
			       "          ports:\n"                    /* 19 */
			       "            - containerPort: 80\n"     /* 20 */
			       "              bar: 1\n"                /* 21 */
			       "      finalizers: [one, two]\n"        /* 22 */
			       "data:\n"                               /* 23 */
			       "  bad key!: value\n"                   /* 24 */
			       "  empty: {}\n";                        /* 25 */

static const plumb_position second = { "apps/web.yaml", 6, 1 };

/* Where path is in the second document, as "LINE:COL", or "missing" (then at the document). */
static const char *where(const char *path)
{
	static char text[64];
	plumb_position at;
	int error = plumb_field_locate(&at, manifest, strlen(manifest), second, path);
	if (error == PLUMB_ENOTFOUND) {
		CHECK(at.line == second.line && at.column == second.column);
		return "missing";
	}
	CHECK_INT(error, 0);
	CHECK_STR(at.file, "apps/web.yaml");
	snprintf(text, sizeof(text), "%u:%u", at.line, at.column);
	return text;
}

static void test_names_and_indexes(void)
{
	CHECK_STR(where("spec.replicas"), "12:3");
	CHECK_STR(where(".spec.replicas"), "12:3");
	CHECK_STR(where("metadata.name"), "9:3");
	CHECK_STR(where("spec.template.spec.containers[0].image"), "17:11");
	CHECK_STR(where("spec.template.spec.containers[1]"), "18:11");
	CHECK_STR(where("spec.template.spec.containers[1].ports[0].bar"), "21:15");
	CHECK_STR(where("kind"), "7:1");
}

static void test_keys(void)
{
	CHECK_STR(where("data[bad key!]"), "24:3");
	CHECK_STR(where("metadata.labels[app]"), "10:12");
	CHECK_STR(where("metadata.labels[a.b/c]"), "10:23");
}

static void test_selectors(void)
{
	CHECK_STR(where(".spec.template.spec.containers[name=\"side\"].ports"), "19:11");
	/* protocol is the server's default: the manifest does not write it. */
	CHECK_STR(where(".spec.template.spec.containers[name=\"side\"].ports[containerPort=80,protocol=\"TCP\"].bar"),
		  "21:15");
	CHECK_STR(where(".spec.template.spec.finalizers[=\"two\"]"), "22:25");
	CHECK_STR(where(".spec.template.spec.containers[name=\"none\"]"), "missing");
}

static void test_missing(void)
{
	CHECK_STR(where("spec.template.spec.containers[0].ports"), "missing");
	CHECK_STR(where("spec.template.spec.containers[7]"), "missing");
	CHECK_STR(where("spec.replicas.deeper"), "missing");
	CHECK_STR(where("data[other]"), "missing");
	CHECK_STR(where("data[empty]"), "25:3");
	CHECK_STR(where("data[empty].x"), "missing");
	CHECK_STR(where("data[unclosed"), "missing");
	CHECK_STR(where(""), "6:1");

	/* A document that is no longer where it was: its own position. */
	plumb_position moved = { "apps/web.yaml", 5, 1 }, at;
	CHECK_INT(plumb_field_locate(&at, manifest, strlen(manifest), moved, "spec.replicas"), PLUMB_ENOTFOUND);
	CHECK_INT(at.line, 5);
	plumb_position beyond = { "apps/web.yaml", 99, 1 };
	CHECK_INT(plumb_field_locate(&at, manifest, strlen(manifest), beyond, "spec"), PLUMB_ENOTFOUND);
	CHECK_INT(at.line, 99);
}

static void test_first_document(void)
{
	plumb_position first = { "apps/web.yaml", 1, 1 }, at;
	CHECK_INT(plumb_field_locate(&at, manifest, strlen(manifest), first, "metadata.name"), 0);
	CHECK_INT(at.line, 3);
	CHECK_INT(at.column, 12);
	/* Only the first document is read: the second's fields are not its. */
	CHECK_INT(plumb_field_locate(&at, manifest, strlen(manifest), first, "spec"), PLUMB_ENOTFOUND);
}

/* A scalar read again as written: a key's value, an item, by a key in brackets; nothing else is one. */
static void test_scalars(void)
{
	char *value = plumb_field_scalar(manifest, strlen(manifest), second, "spec.template.spec.containers[0].image");
	CHECK_STR(value, "nginx");
	free(value);
	value = plumb_field_scalar(manifest, strlen(manifest), second, "data[bad key!]");
	CHECK_STR(value, "value");
	free(value);
	value = plumb_field_scalar(manifest, strlen(manifest), second, "spec.replicas");
	CHECK_STR(value, "-1");
	free(value);
	/* A collection is no scalar; a field not written is none. */
	CHECK(plumb_field_scalar(manifest, strlen(manifest), second, "data.empty") == NULL);
	CHECK(plumb_field_scalar(manifest, strlen(manifest), second, "metadata.labels") == NULL);
	CHECK(plumb_field_scalar(manifest, strlen(manifest), second, "data[nothing]") == NULL);
	/* Only the document placed there is read. */
	plumb_position first = { "apps/web.yaml", 1, 1 };
	CHECK(plumb_field_scalar(manifest, strlen(manifest), first, "metadata.labels.app") == NULL);
	value = plumb_field_scalar(manifest, strlen(manifest), first, "metadata.name");
	CHECK_STR(value, "first");
	free(value);
}

int main(void)
{
	RUN(test_names_and_indexes);
	RUN(test_keys);
	RUN(test_selectors);
	RUN(test_missing);
	RUN(test_first_document);
	RUN(test_scalars);
	TEST_EXIT();
}
