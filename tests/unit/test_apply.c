/* Unit tests of plan and apply with the host provider: actions, prune rules, inventory and failures. */
#include "util/common.h"
#include "apply/apply.h"
#include "load/load.h"
#include "plan/plan.h"
#include "providers/provider.h"
#include "providers/host/host.h"
#include "source/source.h"
#include "store/store.h"
#include "util/fs.h"
#include "util/hash.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "fixture.h"

static plumb_source *source;
static plumb_store *store;
static char *state_dir;
static char *root;
static int root_fd = -1;

typedef struct {
	plumb_manifest_set set;
	plumb_inventory inventory;
	plumb_plan plan;
	plumb_destinations destinations; /* the plan's, used by its apply */
} run;

/* The destinations of the test root: no stat cache is kept between runs (no store). */
static void destinations_init(plumb_destinations *destinations)
{
	plumb_destination_options options = { .location = root, .source = source };
	plumb_destinations_init(destinations, &options);
}

/* Commit the work tree, load it and plan against the root for application "app". */
static int plan_head(run *r)
{
	char commit[PLUMB_OID_HEXSZ + 1];
	plumb_diags diags = PLUMB_DIAGS_INIT;
	memset(r, 0, sizeof(*r));
	if (fixture_commit("test") != 0 || plumb_source_resolve(commit, source, "main") < 0)
		return -100;
	int error = plumb_load(&r->set, source, commit, "", NULL, &diags);
	plumb_diags_print(&diags, stderr);
	plumb_diags_release(&diags);
	if (error < 0)
		return error;
	if ((error = plumb_store_inventory_list(&r->inventory, store, root, NULL)) < 0)
		return error;
	plumb_plan_init(&r->plan, "repo", "main", commit, "", "app", root);
	destinations_init(&r->destinations);
	plumb_diags placed = PLUMB_DIAGS_INIT;
	error = plumb_plan_build(&r->plan, &r->set, &r->inventory, &r->destinations, &placed);
	plumb_diags_release(&placed);
	return error;
}

static int apply_run(run *r, plumb_apply_report *report)
{
	plumb_sync_record record = { 0 };
	record.destination = root;
	record.application = "app";
	if (plumb_store_sync_begin(store, &record) < 0)
		return -100;
	plumb_apply_options options = { record.id, 0, NULL, state_dir, PLUMB_CAPTURE_MAX, 0 };
	return plumb_apply(report, &r->plan, &r->destinations, store, &options);
}

static void run_release(run *r)
{
	plumb_plan_release(&r->plan);
	plumb_destinations_release(&r->destinations);
	plumb_inventory_release(&r->inventory);
	plumb_manifest_set_release(&r->set);
}

static const plumb_action *find_action(const run *r, const char *key)
{
	for (size_t i = 0; i < r->plan.count; i++)
		if (!strcmp(r->plan.actions[i].key, key))
			return &r->plan.actions[i];
	return NULL;
}

static char *read_live(const char *key)
{
	plumb_buf b = PLUMB_BUF_INIT;
	if (plumb_fs_read(&b, root_fd, key, 1 << 20) < 0)
		return NULL;
	return plumb_buf_detach(&b, NULL);
}

static void create_then_nothing_then_update(void)
{
	run r;
	plumb_apply_report report;
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: motd}\n"
				"spec: {path: /etc/motd, content: \"one\\ntwo\\n\", mode: \"0640\"}\n"
				"---\n"
				"apiVersion: host/v1\nkind: Directory\nmetadata: {name: app}\nspec: {path: /srv/app}\n");
	CHECK_INT(plan_head(&r), 0);
	CHECK_INT(r.plan.to_create, 2);
	const plumb_action *a = find_action(&r, "etc/motd");
	CHECK(a && a->type == PLUMB_ACTION_CREATE);
	CHECK(a && strstr(a->change.diff.ptr, "+one\n+two\n") != NULL);
	CHECK(a && !strcmp(a->fingerprint, "absent"));
	CHECK_INT(apply_run(&r, &report), 0);
	CHECK_INT(report.created, 2);
	run_release(&r);

	char *content = read_live("etc/motd");
	CHECK_STR(content, "one\ntwo\n");
	free(content);

	CHECK_INT(plan_head(&r), 0);
	CHECK(!plumb_plan_has_changes(&r.plan));
	run_release(&r);

	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: motd}\n"
				"spec: {path: /etc/motd, content: \"one\\nTWO\\n\", mode: \"0600\"}\n"
				"---\n"
				"apiVersion: host/v1\nkind: Directory\nmetadata: {name: app}\nspec: {path: /srv/app}\n");
	CHECK_INT(plan_head(&r), 0);
	a = find_action(&r, "etc/motd");
	CHECK(a && a->type == PLUMB_ACTION_UPDATE);
	CHECK(a && a->change.reason && strstr(a->change.reason, "content changed, mode 0640 -> 0600"));
	CHECK(a && strstr(a->change.diff.ptr, "-two\n+TWO\n") != NULL);
	CHECK_INT(r.plan.to_update, 1);
	CHECK_INT(r.plan.to_create, 0);
	CHECK_INT(apply_run(&r, &report), 0);
	run_release(&r);
	struct stat st;
	CHECK_INT(plumb_fs_lstat(&st, root_fd, "etc/motd"), 0);
	CHECK_INT(st.st_mode & 07777, 0600);
}

static void prune_only_what_plumb_created(void)
{
	run r;
	plumb_apply_report report;
	/* /etc/adopted exists before plumb manages it, with the same content. */
	CHECK_INT(plumb_fs_write_file(root_fd, "etc/adopted", "same\n", 5, 0644, (uid_t)-1, (gid_t)-1), 0);
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: made}\n"
				"spec: {path: /etc/made, content: made}\n"
				"---\n"
				"apiVersion: host/v1\nkind: File\nmetadata: {name: adopted}\n"
				"spec: {path: /etc/adopted, content: \"same\\n\"}\n"
				"---\n"
				"apiVersion: host/v1\nkind: Tree\nmetadata: {name: t}\n"
				"spec: {path: /etc/tree, source: files/tree}\n");
	fixture_write("files/tree/a", "a\n");
	fixture_write("files/tree/sub/b", "b\n");
	CHECK_INT(plan_head(&r), 0);
	CHECK_INT(apply_run(&r, &report), 0);
	run_release(&r);
	/* An unmanaged file inside the Tree's sub directory. */
	CHECK_INT(plumb_fs_write_file(root_fd, "etc/tree/sub/mine", "mine", 4, 0644, (uid_t)-1, (gid_t)-1), 0);

	fixture_sh("rm -rf repo/*");
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: Directory\nmetadata: {name: keep}\nspec: {path: /keep}\n");
	CHECK_INT(plan_head(&r), 0);
	const plumb_action *a = find_action(&r, "etc/made");
	CHECK(a && a->type == PLUMB_ACTION_DELETE && a->forget);
	a = find_action(&r, "etc/adopted");
	CHECK(a && a->type == PLUMB_ACTION_NONE && a->forget);
	/* Children are pruned before their directory. */
	size_t b_index = 0, sub_index = 0;
	for (size_t i = 0; i < r.plan.count; i++) {
		if (!strcmp(r.plan.actions[i].key, "etc/tree/sub/b"))
			b_index = i;
		if (!strcmp(r.plan.actions[i].key, "etc/tree/sub"))
			sub_index = i;
	}
	CHECK(b_index < sub_index);
	CHECK_INT(apply_run(&r, &report), 0);
	run_release(&r);

	struct stat st;
	CHECK_INT(plumb_fs_lstat(&st, root_fd, "etc/made"), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_fs_lstat(&st, root_fd, "etc/adopted"), 0);
	CHECK_INT(plumb_fs_lstat(&st, root_fd, "etc/tree/a"), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_fs_lstat(&st, root_fd, "etc/tree/sub/b"), PLUMB_ENOTFOUND);
	/* The directory that still holds an unmanaged file stays, with the file. */
	CHECK_INT(plumb_fs_lstat(&st, root_fd, "etc/tree/sub/mine"), 0);

	/* Everything left the inventory but /keep. */
	plumb_inventory inventory = { 0 };
	CHECK_INT(plumb_store_inventory_list(&inventory, store, root, NULL), 0);
	CHECK_INT(inventory.count, 1);
	CHECK(inventory.count == 1 && !strcmp(inventory.items[0].key, "keep"));
	plumb_inventory_release(&inventory);
}

/*
 * Names whose path order ("a", "a/b", "a-b") is not their byte order ("a",
 * "a-b", "a/b"): the plan still comes parents first, every object finds its
 * inventory row, and a second plan has nothing to do.
 */
static void path_order_and_byte_order(void)
{
	run r;
	plumb_apply_report report;
	fixture_sh("rm -rf repo/*");
	/* Declared in neither order. */
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: dash}\n"
				"spec: {path: /o/a-b, content: dash}\n"
				"---\n"
				"apiVersion: host/v1\nkind: File\nmetadata: {name: inner}\n"
				"spec: {path: /o/a/b, content: inner}\n"
				"---\n"
				"apiVersion: host/v1\nkind: Directory\nmetadata: {name: dir}\nspec: {path: /o/a}\n"
				"---\n"
				"apiVersion: host/v1\nkind: File\nmetadata: {name: dot}\n"
				"spec: {path: /o/a.txt, content: dot}\n");
	CHECK_INT(plan_head(&r), 0);
	/* Then the prunes of what earlier tests left. */
	CHECK(r.plan.count >= 4);
	static const char *const order[] = { "o/a", "o/a/b", "o/a-b", "o/a.txt" };
	for (size_t i = 0; i < r.plan.count && i < PLUMB_ARRAY_SIZE(order); i++) {
		const plumb_action *a = &r.plan.actions[i];
		CHECK_STR(a->key, order[i]);
		/* A declared object's names are its own, not copies. */
		CHECK(a->object && a->key == a->object->key && a->display == a->object->display);
	}
	CHECK_INT(apply_run(&r, &report), 0);
	CHECK_INT(report.created, 4);
	run_release(&r);

	CHECK_INT(plan_head(&r), 0);
	CHECK(!plumb_plan_has_changes(&r.plan));
	for (size_t i = 0; i < r.plan.count; i++) {
		const plumb_action *a = &r.plan.actions[i];
		CHECK(a->in_inventory && a->created && a->expected && !strcmp(a->expected, a->fingerprint));
	}
	run_release(&r);

	/* Pruned, with names of their own that outlive the inventory they came from. */
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: Directory\nmetadata: {name: keep}\nspec: {path: /keep}\n");
	CHECK_INT(plan_head(&r), 0);
	plumb_inventory_release(&r.inventory);
	const plumb_action *a = find_action(&r, "o/a-b");
	CHECK(a && !a->object && a->type == PLUMB_ACTION_DELETE && !strcmp(a->display, "/o/a-b") &&
	      !strcmp(a->kind, "File") && !strcmp(a->resource, "host/v1/File/dash"));
	CHECK_INT(apply_run(&r, &report), 0);
	CHECK_INT(report.deleted, 4);
	run_release(&r);
}

/* What observe reports of a file and a directory: type, mode (four octal digits), owner:group, content id. */
static void fingerprints_as_observed(void)
{
	run r;
	plumb_apply_report report;
	char blob[PLUMB_OID_HEXSZ + 1], expected[160];
	fixture_sh("rm -rf repo/*");
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: f}\n"
				"spec: {path: /fp/f, content: \"x\\n\"}\n"
				"---\n"
				"apiVersion: host/v1\nkind: Directory\nmetadata: {name: d}\nspec: {path: /fp}\n");
	CHECK_INT(plan_head(&r), 0);
	CHECK_INT(apply_run(&r, &report), 0);
	run_release(&r);
	/* Owners and modes plumb leaves as they are, with every digit of each in use. */
	CHECK_INT(fchownat(root_fd, "fp/f", 1234567, 89, AT_SYMLINK_NOFOLLOW), 0);
	CHECK_INT(fchmodat(root_fd, "fp/f", 04751, 0), 0);
	CHECK_INT(fchownat(root_fd, "fp", 0, 7, AT_SYMLINK_NOFOLLOW), 0);
	CHECK_INT(fchmodat(root_fd, "fp", 01707, 0), 0);

	CHECK_INT(plan_head(&r), 0);
	const plumb_action *f = find_action(&r, "fp/f"), *d = find_action(&r, "fp");
	plumb_hash_blob_buf(blob, "x\n", 2);
	snprintf(expected, sizeof(expected), "file %04o %u:%u %s", 04751u, 1234567u, 89u, blob);
	CHECK(f && f->fingerprint);
	if (f && f->fingerprint)
		CHECK_STR(f->fingerprint, expected);
	CHECK(d && d->fingerprint);
	if (d && d->fingerprint)
		CHECK_STR(d->fingerprint, "directory 1707 0:7");
	run_release(&r);

	/* Leave only /keep, as the tests before. */
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: Directory\nmetadata: {name: keep}\nspec: {path: /keep}\n");
	CHECK_INT(plan_head(&r), 0);
	CHECK_INT(apply_run(&r, &report), 0);
	CHECK_INT(report.deleted, 2);
	run_release(&r);
}

static void another_application_owns_it(void)
{
	run r;
	plumb_inventory_entry entry = { 0 };
	entry.destination = root;
	entry.key = "etc/theirs";
	entry.application = "other";
	entry.provider = "host";
	entry.kind = "File";
	entry.resource = "host/v1/File/theirs";
	entry.created = 1;
	CHECK_INT(plumb_store_inventory_put(store, &entry), 0);
	fixture_sh("rm -rf repo/*");
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: mine}\n"
				"spec: {path: /etc/theirs, content: x}\n");
	CHECK_INT(plan_head(&r), PLUMB_ECONFLICT);
	CHECK(strstr(plumb_error_last(), "/etc/theirs is managed by application 'other'") != NULL);
	run_release(&r);
	CHECK_INT(plumb_store_inventory_delete(store, root, "etc/theirs"), 0);
}

static void stops_at_the_first_failure(void)
{
	run r;
	plumb_apply_report report;
	fixture_sh("rm -rf repo/*");
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: a}\nspec: {path: /f/a, content: a}\n"
				"---\n"
				"apiVersion: host/v1\nkind: File\nmetadata: {name: b}\nspec: {path: /g/b, content: b}\n"
				"---\n"
				"apiVersion: host/v1\nkind: File\nmetadata: {name: c}\nspec: {path: /h/c, content: c}\n");
	CHECK_INT(plan_head(&r), 0);
	CHECK_INT(r.plan.to_create, 3);
	/* Reality moves between plan and apply: /g becomes a file, so /g/b cannot be written. */
	CHECK_INT(plumb_fs_write_file(root_fd, "g", "in the way", 10, 0644, (uid_t)-1, (gid_t)-1), 0);
	CHECK_INT(apply_run(&r, &report), PLUMB_ECONFLICT);
	CHECK(strstr(plumb_error_last(), "/g is not a directory") != NULL);
	CHECK_INT(report.created, 1);
	/* Not done: /g/b, /h/c, and the prune of /keep from the test before. */
	CHECK_INT(report.not_done, 3);
	CHECK(report.failed && !strcmp(report.failed->key, "g/b"));
	struct stat st;
	CHECK_INT(plumb_fs_lstat(&st, root_fd, "f/a"), 0);
	CHECK_INT(plumb_fs_lstat(&st, root_fd, "h/c"), PLUMB_ENOTFOUND);
	run_release(&r);
	/* The objects not yet created are in the inventory as plumb's: a later prune may remove them. */
	plumb_inventory inventory = { 0 };
	CHECK_INT(plumb_store_inventory_list(&inventory, store, root, "app"), 0);
	int h_recorded = 0;
	for (size_t i = 0; i < inventory.count; i++)
		h_recorded |= !strcmp(inventory.items[i].key, "h/c") && inventory.items[i].created;
	CHECK(h_recorded);
	plumb_inventory_release(&inventory);
}

static void binary_and_directory_conflicts(void)
{
	run r;
	CHECK_INT(plumb_fs_make_directory(root_fd, "etc/isdir", PLUMB_FS_KEEP, (uid_t)-1, (gid_t)-1), 0);
	fixture_sh("rm -rf repo/*");
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: a}\nspec: {path: /etc/isdir, content: a}\n");
	CHECK_INT(plan_head(&r), PLUMB_ECONFLICT);
	CHECK(strstr(plumb_error_last(), "/etc/isdir is a directory on the host") != NULL);
	run_release(&r);

	fixture_sh("rm -rf repo/* && printf 'a\\000b' > repo/bin.dat");
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: a}\nspec: {path: /bin.dat, source: bin.dat}\n");
	CHECK_INT(plan_head(&r), 0);
	const plumb_action *a = find_action(&r, "bin.dat");
	CHECK(a && strstr(a->change.diff.ptr, "Binary content of /bin.dat (3 bytes)") != NULL);
	run_release(&r);
}

static const plumb_inventory_entry *find_entry(const plumb_inventory *inventory, const char *key)
{
	for (size_t i = 0; i < inventory->count; i++)
		if (!strcmp(inventory->items[i].key, key))
			return &inventory->items[i];
	return NULL;
}

/*
 * What apply records for an object it wrote (observe_applied) is what
 * observing it gives: for every kind, mode (given, kept from the file
 * replaced, or from git's executable bit), owner, and sensitive content.
 */
static void applied_fingerprints_are_observed_ones(void)
{
	run r;
	plumb_apply_report report;
	char manifests[2048];

	fixture_sh("rm -rf repo/*");
	/* An existing file whose mode plumb keeps: the manifest gives none. */
	CHECK_INT(plumb_fs_write_file(root_fd, "obs/kept", "old\n", 4, 0600, (uid_t)-1, (gid_t)-1), 0);
	snprintf(manifests, sizeof(manifests),
		 "apiVersion: host/v1\nkind: File\nmetadata: {name: inline}\n"
		 "spec: {path: /obs/inline, content: \"inline\\n\", mode: \"0640\"}\n"
		 "---\napiVersion: host/v1\nkind: File\nmetadata: {name: kept}\n"
		 "spec: {path: /obs/kept, content: \"new\\n\"}\n"
		 "---\napiVersion: host/v1\nkind: File\nmetadata: {name: owned}\n"
		 "spec: {path: /obs/owned, content: owned, owner: \"%u\", group: \"%u\", mode: \"2750\"}\n"
		 "---\napiVersion: host/v1\nkind: File\nmetadata: {name: secret}\n"
		 "spec: {path: /obs/secret, content: \"s3cret\\n\", sensitive: true}\n"
		 "---\napiVersion: host/v1\nkind: Directory\nmetadata: {name: dir}\nspec: {path: /obs/dir, mode: \"0700\"}\n"
		 "---\napiVersion: host/v1\nkind: Symlink\nmetadata: {name: link}\n"
		 "spec: {path: /obs/link, target: inline}\n"
		 "---\napiVersion: host/v1\nkind: Tree\nmetadata: {name: tree}\nspec: {path: /obs/tree, source: files/obs}\n",
		 (unsigned)getuid(), (unsigned)getgid());
	fixture_write("m.yaml", manifests);
	fixture_write("files/obs/plain", "plain\n");
	fixture_write("files/obs/sub/tool", "#!/bin/sh\n");
	fixture_sh("chmod 0755 repo/files/obs/sub/tool");
	CHECK_INT(plan_head(&r), 0);
	const plumb_action *kept = find_action(&r, "obs/kept");
	CHECK(kept && kept->type == PLUMB_ACTION_UPDATE);
	CHECK_INT(apply_run(&r, &report), 0);

	plumb_inventory inventory = { 0 };
	CHECK_INT(plumb_store_inventory_list(&inventory, store, root, "app"), 0);
	plumb_destinations looking;
	plumb_destination *destination = NULL;
	destinations_init(&looking);
	CHECK_INT(plumb_destinations_get(&destination, &looking, &plumb_host_provider), 0);
	size_t compared = 0;
	for (size_t i = 0; i < r.plan.count; i++) {
		const plumb_action *a = &r.plan.actions[i];
		if (!a->object || (a->type != PLUMB_ACTION_CREATE && a->type != PLUMB_ACTION_UPDATE))
			continue;
		plumb_observed applied = { 0 };
		plumb_observation item = { a->object, a->key, a->kind, a->object->sensitive, { 0 } };
		plumb_observed *observed = &item.observed;
		CHECK_INT(a->provider->observe_applied(&applied, destination, a->object), 0);
		CHECK_INT(a->provider->observe(destination, &item, 1), 0);
		if (applied.fingerprint && observed->fingerprint) {
			CHECK_STR(applied.fingerprint, observed->fingerprint);
			CHECK_INT(applied.exists, observed->exists);
			/* And that is what the inventory holds, keyed for the sensitive file. */
			const plumb_inventory_entry *entry = find_entry(&inventory, a->key);
			char *recorded = plumb_plan_fingerprint(&r.plan, observed->fingerprint, a->sensitive);
			CHECK(entry != NULL);
			if (entry)
				CHECK_STR(entry->fingerprint, recorded);
			free(recorded);
			compared++;
		}
		plumb_observed_release(a->provider, &applied);
		plumb_observed_release(a->provider, observed);
	}
	/* obs, its five objects, the Tree's folder, sub, and its two files. */
	CHECK_INT(compared, 10);

	/* The modes that were not given in full by the manifest are the live ones. */
	const plumb_inventory_entry *entry = find_entry(&inventory, "obs/kept");
	CHECK(entry && !strncmp(entry->fingerprint, "file 0600 ", 10));
	entry = find_entry(&inventory, "obs/tree/sub/tool");
	CHECK(entry && !strncmp(entry->fingerprint, "file 0755 ", 10));
	entry = find_entry(&inventory, "obs/secret");
	CHECK(entry && !strncmp(entry->fingerprint, "sensitive ", 10));
	plumb_inventory_release(&inventory);

	/* Replaced behind plumb's back right after the write: what is there is observed. */
	const plumb_action *inline_file = find_action(&r, "obs/inline");
	CHECK_INT(plumb_fs_remove(root_fd, "obs/inline", 0), 0);
	CHECK_INT(plumb_fs_write_symlink(root_fd, "obs/inline", "elsewhere"), 0);
	/* A destination opened afresh: the folders it looks in are the ones there now. */
	plumb_destinations_release(&looking);
	CHECK_INT(plumb_destinations_get(&destination, &looking, &plumb_host_provider), 0);
	if (inline_file) {
		plumb_observed applied = { 0 };
		plumb_observation item = { NULL, "obs/inline", "File", 0, { 0 } };
		CHECK_INT(inline_file->provider->observe_applied(&applied, destination, inline_file->object), 0);
		CHECK_INT(inline_file->provider->observe(destination, &item, 1), 0);
		CHECK(applied.fingerprint && !strncmp(applied.fingerprint, "symlink ", 8));
		CHECK_STR(applied.fingerprint, item.observed.fingerprint ? item.observed.fingerprint : "");
		plumb_observed_release(inline_file->provider, &applied);
		plumb_observed_release(inline_file->provider, &item.observed);
	}
	plumb_destinations_release(&looking);
	run_release(&r);
	CHECK_INT(plumb_fs_remove(root_fd, "obs/inline", 0), 0);

	/* A plan of what was applied finds nothing to do but the file just replaced. */
	CHECK_INT(plan_head(&r), 0);
	CHECK_INT(r.plan.to_create + r.plan.to_update + r.plan.to_delete, 1);
	const plumb_action *again = find_action(&r, "obs/inline");
	CHECK(again && again->type == PLUMB_ACTION_CREATE);
	run_release(&r);
}

/*
 * The host provider with waves, to see what the engine does with them: a
 * file's wave is its folder ("w0/a" is in wave w0), and wait_healthy notes
 * the objects it is asked about ("w0/a w0/b|") and answers waves_refuse.
 */
static plumb_provider waved;
static plumb_buf waves_asked = PLUMB_BUF_INIT;
static const char *waves_refuse; /* a wave whose wait fails */
static unsigned waves_timeout;

static char *waved_wave_of(const plumb_object *object)
{
	const char *slash = strchr(object->key, '/');
	return slash ? plumb_xprintf("wave %.*s", (int)(slash - object->key), object->key) : NULL;
}

static int waved_wait_healthy(plumb_destination *destination, const plumb_object *const *objects, size_t count,
			      unsigned timeout_ms)
{
	char *wave = waved_wave_of(objects[0]);
	for (size_t i = 0; i < count; i++)
		plumb_buf_printf(&waves_asked, "%s%s", i ? " " : "", objects[i]->key);
	plumb_buf_puts(&waves_asked, "|");
	waves_timeout = timeout_ms;
	int refused = waves_refuse && !strcmp(wave + 5, waves_refuse);
	free(wave);
	if (refused)
		return plumb_error_set(PLUMB_ERROR, "File %s is Progressing (not yet)", objects[0]->display);
	return 0;
}

static plumb_health waved_health(const plumb_observed *observed, char **message)
{
	*message = observed->exists ? plumb_xstrdup("just written") : NULL;
	return observed->exists ? PLUMB_HEALTH_PROGRESSING : PLUMB_HEALTH_MISSING;
}

/* Plan the work tree with the waved provider, apply it with timeout_ms; progress into *progress (a new string). */
static int apply_waves(run *r, plumb_apply_report *report, char **progress, unsigned timeout_ms, int64_t *sync_id)
{
	size_t size = 0;
	int error = plan_head(r);
	*progress = NULL;
	if (error < 0)
		return error;
	for (size_t i = 0; i < r->plan.count; i++)
		r->plan.actions[i].provider = &waved;
	plumb_sync_record record = { 0 };
	record.destination = root;
	record.application = "app";
	if (plumb_store_sync_begin(store, &record) < 0)
		return -100;
	*sync_id = record.id;
	FILE *out = open_memstream(progress, &size);
	plumb_apply_options options = { record.id, 0, out, state_dir, PLUMB_CAPTURE_MAX, timeout_ms };
	plumb_buf_clear(&waves_asked);
	error = plumb_apply(report, &r->plan, &r->destinations, store, &options);
	fclose(out);
	return error;
}

static void waves_wait_for_the_wave_before(void)
{
	run r;
	plumb_apply_report report;
	char *progress;
	int64_t sync_id;

	waved = plumb_host_provider;
	waved.wave_of = waved_wave_of;
	waved.wait_healthy = waved_wait_healthy;
	waved.health = waved_health;
	fixture_sh("rm -rf repo/*");
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: a}\nspec: {path: /w0/a, content: a}\n"
				"---\napiVersion: host/v1\nkind: File\nmetadata: {name: b}\nspec: {path: /w0/b, content: b}\n"
				"---\napiVersion: host/v1\nkind: File\nmetadata: {name: c}\nspec: {path: /w1/c, content: c}\n"
				"---\napiVersion: host/v1\nkind: File\nmetadata: {name: d}\nspec: {path: /w2/d, content: d}\n");

	/* Each wave waits for the one before it, the last for none; 0 is the default timeout. */
	CHECK_INT(apply_waves(&r, &report, &progress, 0, &sync_id), 0);
	CHECK_STR(waves_asked.ptr, "w0/a w0/b|w1/c|");
	CHECK_INT(waves_timeout, PLUMB_HEALTH_TIMEOUT_MS);
	CHECK_INT(report.created, 4);
	CHECK_CONTAINS(progress, "created File /w0/a (Progressing: just written)\n"
				 "created File /w0/b (Progressing: just written)\n"
				 "waiting for wave w0 to be healthy (2 objects, up to 5m)\n"
				 "wave w0 is healthy (");
	CHECK_CONTAINS(progress, "waiting for wave w1 to be healthy (1 object, up to 5m)\n");
	CHECK_LACKS(progress, "waiting for wave w2");
	free(progress);
	run_release(&r);

	/* Only the last wave changes: the waves before it, unchanged, are still waited for. */
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: a}\nspec: {path: /w0/a, content: a}\n"
				"---\napiVersion: host/v1\nkind: File\nmetadata: {name: b}\nspec: {path: /w0/b, content: b}\n"
				"---\napiVersion: host/v1\nkind: File\nmetadata: {name: c}\nspec: {path: /w1/c, content: c}\n"
				"---\napiVersion: host/v1\nkind: File\nmetadata: {name: d}\nspec: {path: /w2/d, content: D}\n");
	CHECK_INT(apply_waves(&r, &report, &progress, 90000, &sync_id), 0);
	CHECK_STR(waves_asked.ptr, "w0/a w0/b|w1/c|");
	CHECK_INT(waves_timeout, 90000);
	CHECK_CONTAINS(progress, "up to 90s");
	CHECK_INT(report.updated, 1);
	free(progress);
	run_release(&r);

	/* Only the first wave changes: nothing after it waits. */
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: a}\nspec: {path: /w0/a, content: A}\n"
				"---\napiVersion: host/v1\nkind: File\nmetadata: {name: b}\nspec: {path: /w0/b, content: b}\n"
				"---\napiVersion: host/v1\nkind: File\nmetadata: {name: c}\nspec: {path: /w1/c, content: c}\n"
				"---\napiVersion: host/v1\nkind: File\nmetadata: {name: d}\nspec: {path: /w2/d, content: D}\n");
	CHECK_INT(apply_waves(&r, &report, &progress, 0, &sync_id), 0);
	CHECK_STR(waves_asked.ptr, "");
	free(progress);
	run_release(&r);

	/* Wave w1 does not become healthy: w2 is not applied, and is recorded so. */
	fixture_write("m.yaml", "apiVersion: host/v1\nkind: File\nmetadata: {name: a}\nspec: {path: /w0/a, content: A}\n"
				"---\napiVersion: host/v1\nkind: File\nmetadata: {name: b}\nspec: {path: /w0/b, content: b}\n"
				"---\napiVersion: host/v1\nkind: File\nmetadata: {name: c}\nspec: {path: /w1/c, content: C}\n"
				"---\napiVersion: host/v1\nkind: File\nmetadata: {name: d}\nspec: {path: /w2/d, content: dd}\n"
				"---\napiVersion: host/v1\nkind: File\nmetadata: {name: e}\nspec: {path: /w2/e, content: e}\n");
	waves_refuse = "w1";
	CHECK_INT(apply_waves(&r, &report, &progress, 3000, &sync_id), PLUMB_ERROR);
	CHECK_STR(plumb_error_last(), "wave w1 did not become healthy, so wave w2 and what follows were not applied: "
				      "File /w1/c is Progressing (not yet)");
	CHECK_STR(waves_asked.ptr, "w0/a w0/b|w1/c|");
	CHECK_INT(report.updated, 1);
	CHECK_INT(report.not_done, 2);
	CHECK(report.failed == NULL);
	CHECK_CONTAINS(progress, "waiting for wave w1 to be healthy (1 object, up to 3s)\n");
	CHECK_LACKS(progress, "w2/");
	free(progress);
	run_release(&r);
	char *content = read_live("w2/d");
	CHECK_STR(content, "D");
	free(content);
	struct stat st;
	CHECK_INT(plumb_fs_lstat(&st, root_fd, "w2/e"), PLUMB_ENOTFOUND);
	plumb_action_records actions = { 0 };
	CHECK_INT(plumb_store_action_list(&actions, store, sync_id), 0);
	CHECK_INT(actions.count, 3);
	for (size_t i = 0; i < actions.count; i++) {
		const plumb_action_record *a = &actions.items[i];
		if (!strcmp(a->key, "w1/c"))
			CHECK_INT(a->outcome, PLUMB_OUTCOME_CHANGED);
		else
			CHECK(a->outcome == PLUMB_OUTCOME_SKIPPED &&
			      !strcmp(a->error, "not done: an earlier wave did not become healthy"));
	}
	plumb_action_records_release(&actions);

	/* The next sync goes on from there once the wave is healthy. */
	waves_refuse = NULL;
	CHECK_INT(apply_waves(&r, &report, &progress, 0, &sync_id), 0);
	CHECK_INT(report.updated + report.created, 2);
	free(progress);
	run_release(&r);
	plumb_buf_release(&waves_asked);
}

int main(void)
{
	fixture_init("apply");
	char *repo = fixture_path("repo");
	char *state = fixture_path("state");
	state_dir = state;
	root = fixture_path("root");
	if (plumb_source_global_init() < 0 || fixture_commit("empty") != 0 ||
	    plumb_source_open(&source, repo, state) < 0 || plumb_store_open(&store, state) < 0 ||
	    plumb_fs_open_root(&root_fd, root, 1) < 0)
		return 2;
	RUN(create_then_nothing_then_update);
	RUN(prune_only_what_plumb_created);
	RUN(path_order_and_byte_order);
	RUN(fingerprints_as_observed);
	RUN(another_application_owns_it);
	RUN(stops_at_the_first_failure);
	RUN(binary_and_directory_conflicts);
	RUN(applied_fingerprints_are_observed_ones);
	RUN(waves_wait_for_the_wave_before);
	close(root_fd);
	plumb_store_free(store);
	plumb_source_free(source);
	plumb_source_global_shutdown();
	free(repo);
	free(state);
	free(root);
	fixture_cleanup();
	TEST_EXIT();
}
