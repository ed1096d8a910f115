/* Unit tests of plan files: round trip, verification, and the stale comparison. */
#include "util/common.h"
#include "plan/planfile.h"
#include "providers/host/host.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static char dir[64];

static void add(plumb_plan *plan, plumb_action_type type, const char *key, const char *fingerprint, int sensitive)
{
	PLUMB_GROW(plan->actions, plan->count, plan->capacity);
	plumb_action *a = &plan->actions[plan->count++];
	memset(a, 0, sizeof(*a));
	plumb_buf_init(&a->change.diff);
	a->type = a->change.type = type;
	a->provider = &plumb_host_provider;
	a->key = plumb_xstrdup(key);
	a->display = plumb_xprintf("/%s", key);
	a->kind = plumb_xstrdup("File");
	a->resource = plumb_xstrdup("host/v1/File/x");
	a->fingerprint = plumb_xstrdup(fingerprint);
	a->sensitive = sensitive;
	a->created = type == PLUMB_ACTION_CREATE;
	a->change.reason = plumb_xstrdup("content changed");
	plumb_buf_puts(&a->change.diff, "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-\"old\"\n+new\\t\n");
	plan->to_create += type == PLUMB_ACTION_CREATE;
	plan->to_update += type == PLUMB_ACTION_UPDATE;
}

static void sample(plumb_plan *plan)
{
	plumb_plan_init(plan, "/srv/git/homelab", "main", "0123456789abcdef0123456789abcdef01234567", "hosts/web",
			"hosts/web", "/");
	add(plan, PLUMB_ACTION_CREATE, "etc/motd", "absent", 0);
	add(plan, PLUMB_ACTION_UPDATE, "etc/app.conf", "file 0644 0:0 ce013625030ba8dba906f756967f9e9ca394464a", 0);
	/* Unchanged objects are not part of the file. */
	add(plan, PLUMB_ACTION_NONE, "etc/same", "file 0644 0:0 aa", 0);
}

static char *write_sample(const char *name, plumb_plan *plan)
{
	char *path = plumb_xprintf("%s/%s", dir, name);
	CHECK_INT(plumb_planfile_write(plan, path), 0);
	return path;
}

static void round_trip(void)
{
	plumb_plan plan, back;
	sample(&plan);
	char *path = write_sample("plan.json", &plan);
	struct stat st;
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	CHECK_INT(plumb_planfile_read(&back, path), 0);
	CHECK_STR(back.repo, "/srv/git/homelab");
	CHECK_STR(back.revision, "main");
	CHECK_STR(back.commit, plan.commit);
	CHECK_STR(back.path, "hosts/web");
	CHECK_STR(back.destination, "/");
	CHECK_STR(back.created_at, plan.created_at);
	CHECK_INT(back.count, 2);
	CHECK_INT(back.to_create, 1);
	CHECK_INT(back.to_update, 1);
	CHECK(back.count == 2 && back.actions[1].type == PLUMB_ACTION_UPDATE);
	CHECK(back.count == 2 && !strcmp(back.actions[1].change.diff.ptr, plan.actions[1].change.diff.ptr));
	CHECK(back.count == 2 && back.actions[0].provider == &plumb_host_provider);
	/* The saved plan is exactly the plan it came from. */
	plumb_buf stale = PLUMB_BUF_INIT;
	CHECK_INT(plumb_planfile_compare(&back, &plan, &stale), 0);
	CHECK_STR(stale.ptr, "");
	/* Formatting what was read gives the same document back. */
	char *again = plumb_planfile_format(&back), *first = plumb_planfile_format(&plan);
	CHECK_STR(again, first);
	free(again);
	free(first);
	plumb_buf_release(&stale);
	plumb_plan_release(&back);
	plumb_plan_release(&plan);
	free(path);
}

/* Replace the first occurrence of from with to in the file at path. */
static void edit(const char *path, const char *from, const char *to)
{
	char *cmd = plumb_xprintf("sed -i '0,/%s/s//%s/' %s", from, to, path);
	CHECK(system(cmd) == 0);
	free(cmd);
}

static void refuses_what_was_changed(void)
{
	plumb_plan plan, back;
	sample(&plan);
	char *path = write_sample("tampered.json", &plan);
	edit(path, "etc\\/motd", "etc\\/mo7d");
	CHECK_INT(plumb_planfile_read(&back, path), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "checksum mismatch") != NULL);
	CHECK(strstr(plumb_error_last(), "tampered.json") != NULL);
	plumb_plan_release(&back);

	free(path);
	path = write_sample("version.json", &plan);
	edit(path, "\"version\": 1", "\"version\": 2");
	CHECK_INT(plumb_planfile_read(&back, path), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "version 2 is not supported") != NULL);
	plumb_plan_release(&back);

	free(path);
	path = write_sample("truncated.json", &plan);
	CHECK(truncate(path, 200) == 0);
	CHECK_INT(plumb_planfile_read(&back, path), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "truncated.json:") != NULL);
	plumb_plan_release(&back);

	free(path);
	path = plumb_xprintf("%s/other.json", dir);
	FILE *f = fopen(path, "w");
	fputs("{\"format\": \"something-else\"}", f);
	fclose(f);
	CHECK_INT(plumb_planfile_read(&back, path), PLUMB_EINVALID);
	CHECK(strstr(plumb_error_last(), "not a plumb plan") != NULL);
	plumb_plan_release(&back);

	CHECK_INT(plumb_planfile_read(&back, "/nonexistent/plan.json"), PLUMB_ENOTFOUND);
	CHECK(strstr(plumb_error_last(), "/nonexistent/plan.json") != NULL);
	plumb_plan_release(&back);
	plumb_plan_release(&plan);
	free(path);
}

static void names_every_stale_object(void)
{
	plumb_plan saved, fresh;
	sample(&saved);
	sample(&fresh);
	plumb_buf stale = PLUMB_BUF_INIT;

	/* /etc/motd appeared since: now an update of what was observed absent. */
	fresh.actions[0].type = PLUMB_ACTION_UPDATE;
	/* /etc/app.conf was edited by hand: another fingerprint. */
	free(fresh.actions[1].fingerprint);
	fresh.actions[1].fingerprint = plumb_xstrdup("file 0644 0:0 bb");
	/* /etc/same drifted: it now needs an update the plan does not have. */
	fresh.actions[2].type = PLUMB_ACTION_UPDATE;

	CHECK_INT(plumb_planfile_compare(&saved, &fresh, &stale), 3);
	CHECK(strstr(stale.ptr, "/etc/motd: the plan would create it, but now plumb would update it") != NULL);
	CHECK(strstr(stale.ptr, "/etc/app.conf: changed since the plan was made") != NULL);
	CHECK(strstr(stale.ptr, "/etc/same: not in the plan, but plumb would now update it") != NULL);

	/* An action the plan has that is no longer needed at all. */
	plumb_buf_clear(&stale);
	fresh.actions[0].type = PLUMB_ACTION_NONE;
	fresh.actions[2].type = PLUMB_ACTION_NONE;
	free(fresh.actions[1].fingerprint);
	fresh.actions[1].fingerprint = plumb_xstrdup(saved.actions[1].fingerprint);
	CHECK_INT(plumb_planfile_compare(&saved, &fresh, &stale), 1);
	CHECK(strstr(stale.ptr, "/etc/motd: the plan would create it, but it changed since and needs nothing now") !=
	      NULL);
	plumb_buf_release(&stale);
	plumb_plan_release(&saved);
	plumb_plan_release(&fresh);
}

static void sensitive_fingerprints_are_keyed(void)
{
	plumb_plan a, b;
	sample(&a);
	sample(&b);
	memset(b.fingerprint_key, 7, sizeof(b.fingerprint_key));
	const char *raw = "file 0600 0:0 ce013625030ba8dba906f756967f9e9ca394464a";
	char *plain = plumb_plan_fingerprint(&a, raw, 0);
	char *keyed_a = plumb_plan_fingerprint(&a, raw, 1);
	char *keyed_b = plumb_plan_fingerprint(&b, raw, 1);
	char *absent = plumb_plan_fingerprint(&a, "absent", 1);
	CHECK_STR(plain, raw);
	CHECK(!strncmp(keyed_a, "sensitive ", 10));
	CHECK(strstr(keyed_a, "ce0136") == NULL);
	CHECK(strcmp(keyed_a, keyed_b) != 0);
	CHECK_STR(absent, "absent");
	free(plain);
	free(keyed_a);
	free(keyed_b);
	free(absent);
	plumb_plan_release(&a);
	plumb_plan_release(&b);
}

/* A cluster's plan names how its cluster was chosen; a host root's says nothing of clusters. */
static void names_its_cluster(void)
{
	plumb_plan plan, back;
	sample(&plan);
	free(plan.destination);
	plan.destination = plumb_xstrdup("kubernetes https://10.0.0.1:6443");
	char *host_text = plumb_planfile_format(&plan);
	CHECK_LACKS(host_text, "\"kubernetes\":");
	plumb_plan_cluster cluster = { "homelab", "/home/me/.kube/config", NULL, 1, 0, 1,
				       "[{\"kind\":\"Deployment\",\"jsonPointers\":[\"/spec/replicas\"]}]" };
	plumb_plan_set_cluster(&plan, &cluster);
	char *path = write_sample("cluster.json", &plan);
	CHECK_INT(plumb_planfile_read(&back, path), 0);
	CHECK(back.cluster != NULL);
	if (back.cluster) {
		CHECK_STR(back.cluster->context, "homelab");
		CHECK_STR(back.cluster->kubeconfig, "/home/me/.kube/config");
		CHECK(back.cluster->namespace == NULL);
		CHECK_INT(back.cluster->create_namespace, 1);
		CHECK_INT(back.cluster->force_conflicts, 0);
		/* What the Application said of its objects holds for the apply of its plan. */
		CHECK_INT(back.cluster->replace, 1);
		CHECK_STR(back.cluster->ignore, "[{\"kind\":\"Deployment\",\"jsonPointers\":[\"/spec/replicas\"]}]");
	}
	/* The checksum covers it: another context is an edited plan. */
	edit(path, "\"homelab\"", "\"elsewhere\"");
	plumb_plan edited;
	CHECK_INT(plumb_planfile_read(&edited, path), PLUMB_EINVALID);
	CHECK_CONTAINS(plumb_error_last(), "checksum mismatch");
	plumb_plan_release(&edited);
	free(host_text);
	free(path);
	plumb_plan_release(&back);
	plumb_plan_release(&plan);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/plumb-test-planfile.XXXXXX");
	if (!mkdtemp(dir))
		return 2;
	RUN(round_trip);
	RUN(refuses_what_was_changed);
	RUN(names_every_stale_object);
	RUN(sensitive_fingerprints_are_keyed);
	RUN(names_its_cluster);
	char *cmd = plumb_xprintf("rm -rf %s", dir);
	if (system(cmd) != 0)
		return 2;
	free(cmd);
	TEST_EXIT();
}
