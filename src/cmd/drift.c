#include "util/common.h"
#include "cmd/cmd.h"
#include "store/json.h"
#include "util/diff.h"
#include "util/fs.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Captured content shown or exported is read back with this cap (what apply keeps is capped lower). */
#define MAX_CAPTURE_READ (64u << 20)

/*
 * Load, at commit, the repository and path that a sync into its
 * destination used. With plan, also observe the destination (opening
 * Secrets with identity, NULL for the default).
 */
static int load_in_force(plumb_pipeline *p, const plumb_sync_record *sync, const char *commit, const char *state,
			 int plan, const char *identity)
{
	plumb_pipeline_options options = { 0 };
	options.identity = identity;
	options.repo = sync->repo;
	options.revision = commit;
	options.path = sync->path;
	options.root = sync->destination;
	options.state = state;
	plumb_pipeline_init(p, &options);
	if (plumb_pipeline_resolve(p, NULL) < 0 || plumb_pipeline_load(p) < 0)
		return -1;
	return plan ? plumb_pipeline_plan(p) : 0;
}

static const plumb_object *find_object(const plumb_manifest_set *set, const char *key)
{
	for (size_t i = 0; i < set->object_count; i++)
		if (!strcmp(set->objects[i].key, key))
			return &set->objects[i];
	return NULL;
}

/*
 * An object drifted when it is not what plumb last left there in a way
 * plumb manages: a sync would change it back. (A mode that no manifest
 * declares may change freely.)
 */
static int drifted(const plumb_action *a)
{
	return a->in_inventory && a->expected && a->fingerprint && a->type != PLUMB_ACTION_NONE &&
	       strcmp(a->expected, a->fingerprint) != 0;
}

static void print_drifted(const plumb_action *a, const char *commit)
{
	int removed = !strcmp(a->fingerprint, "absent");
	printf("%s %s %s: %s  (%s)\n", removed ? "-" : "~", a->kind, a->display,
	       removed ? "removed" : a->change.reason ? a->change.reason : "changed", a->resource);
	if (a->change.diff.len && !removed) {
		printf("    a sync to %.12s would change it back:\n", commit);
		for (const char *line = a->change.diff.ptr; *line;) {
			const char *end = strchrnul(line, '\n');
			printf("    %.*s\n", (int)(end - line), line);
			line = *end ? end + 1 : end;
		}
	}
}

/* plumb drift: what differs now from what plumb last applied, per application; exit 2 when anything does. */
static int detect(const plumb_cli *cli, plumb_store *store, const char *state)
{
	plumb_inventory inventory = { 0 };
	char *destination = plumb_destination_path(cli->pipeline.root);
	json_t *doc = json_object(), *list = json_array();
	unsigned count = 0;
	int code = PLUMB_EXIT_ERROR;

	if (plumb_store_inventory_list(&inventory, store, destination, NULL) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	for (size_t i = 0; i < inventory.count; i++) {
		const char *application = inventory.items[i].application;
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(inventory.items[j].application, application);
		if (seen)
			continue;
		plumb_sync_record last = { 0 };
		plumb_pipeline p;
		if (plumb_store_sync_last(&last, store, destination, application) < 0) {
			fprintf(stderr, "plumb: no sync of application %s into %s is recorded\n", application, destination);
			goto done;
		}
		int failed = load_in_force(&p, &last, last.commit, state, 1, cli->pipeline.identity) < 0;
		for (size_t k = 0; !failed && k < p.plan.count; k++) {
			const plumb_action *a = &p.plan.actions[k];
			if (!drifted(a))
				continue;
			count++;
			if (plumb_cli_json(cli)) {
				json_t *o = json_object();
				json_object_set_new(o, "application", json_string(application));
				json_object_set_new(o, "commit", json_string(last.commit));
				json_object_set_new(o, "path", json_string(a->display));
				json_object_set_new(o, "kind", json_string(a->kind));
				json_object_set_new(o, "resource", json_string(a->resource));
				json_object_set_new(o, "expected", json_string(a->expected));
				json_object_set_new(o, "observed", json_string(a->fingerprint));
				json_object_set_new(o, "reason", json_string(a->change.reason ? a->change.reason : ""));
				json_array_append_new(list, o);
			} else {
				print_drifted(a, last.commit);
			}
		}
		plumb_pipeline_release(&p);
		plumb_sync_record_release(&last);
		if (failed)
			goto done;
	}
	if (plumb_cli_json(cli)) {
		json_object_set_new(doc, "destination", json_string(destination));
		json_object_set_new(doc, "drifted", list);
		list = NULL;
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else if (count) {
		printf("Drift: %u object%s under %s differ%s from what plumb last applied. 'plumb sync' repairs them, "
		       "keeping what it overwrites.\n",
		       count, count == 1 ? "" : "s", destination, count == 1 ? "s" : "");
	} else {
		printf("No drift: every object under %s is as plumb last applied it.\n", destination);
	}
	code = count ? PLUMB_EXIT_CHANGES : PLUMB_EXIT_OK;
done:
	json_decref(list);
	json_decref(doc);
	plumb_inventory_release(&inventory);
	free(destination);
	return code;
}

static int list_events(const plumb_cli *cli, plumb_store *store, const char *state)
{
	plumb_drift_records events = { 0 };
	char *destination = cli->pipeline.root ? plumb_destination_path(cli->pipeline.root) : NULL;
	char when[32];
	int state_fd = -1, code = PLUMB_EXIT_ERROR;

	if (plumb_store_drift_list(&events, store, destination, NULL, cli->limit) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	if (plumb_cli_json(cli)) {
		/* The kept content is read beneath the state directory, as the API reads it. */
		if (events.count && plumb_fs_open_root(&state_fd, state, 0) < 0)
			state_fd = -1;
		plumb_cli_print_json(json_pack("{s:o}", "events", plumb_drift_records_json(&events, state_fd)));
	} else if (!events.count) {
		printf("No drift has been recorded.\n");
	} else {
		for (size_t i = 0; i < events.count; i++) {
			const plumb_drift_record *e = &events.items[i];
			plumb_format_time(when, e->at);
			printf("%-5lld %s  %s  /%s  %s%s\n", (long long)e->id, when, e->application, e->key, e->note,
			       *e->capture ? "; content kept" : "");
		}
	}
	code = PLUMB_EXIT_OK;
done:
	if (state_fd >= 0)
		close(state_fd);
	plumb_drift_records_release(&events);
	free(destination);
	return code;
}

/* One drift event, its kept content, and the sync that found it. */
typedef struct {
	plumb_drift_record event;
	plumb_sync_record sync;
	plumb_buf kept;
	int has_kept;
} drift_event;

static void event_release(drift_event *e)
{
	plumb_drift_record_release(&e->event);
	plumb_sync_record_release(&e->sync);
	plumb_buf_release(&e->kept);
}

static int read_event(drift_event *out, plumb_store *store, const char *state, const char *id_text)
{
	int64_t id;
	int state_fd = -1, error;

	memset(out, 0, sizeof(*out));
	plumb_buf_init(&out->kept);
	if (plumb_cli_parse_id(&id, id_text) < 0) {
		fprintf(stderr, "plumb drift: '%s' is not a drift id (see 'plumb drift log')\n", id_text);
		return -1;
	}
	if ((error = plumb_store_drift_get(&out->event, store, id)) == PLUMB_ENOTFOUND) {
		fprintf(stderr, "plumb drift: no drift event %lld\n", (long long)id);
		return -1;
	}
	if (error < 0 || (error = plumb_store_sync_get(&out->sync, store, out->event.sync_id)) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		return -1;
	}
	if (!*out->event.capture)
		return 0;
	if ((error = plumb_fs_open_root(&state_fd, state, 0)) == 0)
		error = plumb_fs_read(&out->kept, state_fd, out->event.capture, MAX_CAPTURE_READ);
	if (state_fd >= 0)
		close(state_fd);
	if (error < 0) {
		fprintf(stderr, "plumb: the kept content of drift %lld: %s\n", (long long)id, plumb_error_last());
		return -1;
	}
	out->has_kept = 1;
	return 0;
}

/* The content git declares for the event's object at the commit then in force; *found 0 if it has none. */
static int git_content(plumb_buf *out, int *found, const char **repository_path, const drift_event *e,
		       const char *state)
{
	plumb_pipeline p;
	int error = -1;
	*found = 0;
	if (load_in_force(&p, &e->sync, e->event.commit, state, 0, NULL) == 0) {
		const plumb_object *object = find_object(&p.set, e->event.key);
		error = 0;
		if (object && object->provider->desired_content(out, found, p.source, object) < 0) {
			fprintf(stderr, "plumb: %s\n", plumb_error_last());
			error = -1;
		}
		if (object && repository_path && object->provider->content_path(object))
			*repository_path = plumb_xstrdup(object->provider->content_path(object));
	}
	plumb_pipeline_release(&p);
	return error;
}

static int show_event(plumb_store *store, const char *state, const char *id_text)
{
	drift_event e;
	plumb_buf git = PLUMB_BUF_INIT, diff = PLUMB_BUF_INIT;
	char when[32];
	int found = 0, code = PLUMB_EXIT_ERROR;

	if (read_event(&e, store, state, id_text) < 0)
		goto done;
	plumb_format_time(when, e.event.at);
	printf("Drift %lld: %s /%s, application %s, found %s by sync %lld at commit %.12s\n", (long long)e.event.id,
	       e.event.kind, e.event.key, e.event.application, when, (long long)e.event.sync_id, e.event.commit);
	printf("What: %s\n", e.event.note);
	printf("plumb last left: %s\nplumb found:     %s\n", *e.event.expected ? e.event.expected : "(nothing: never written)",
	       e.event.observed);
	if (!e.has_kept) {
		printf("No content was kept.\n");
		code = PLUMB_EXIT_OK;
		goto done;
	}
	printf("Kept: %s (%zu bytes)\n", e.event.capture, e.kept.len);
	if (git_content(&git, &found, NULL, &e, state) < 0)
		goto done;
	if (plumb_diff_is_binary(e.kept.ptr, e.kept.len)) {
		printf("The kept content is binary.\n");
	} else {
		printf("--- kept content ---\n%s%s", e.kept.ptr,
		       e.kept.len && e.kept.ptr[e.kept.len - 1] != '\n' ? "\n\\ No newline at end of file\n" : "");
	}
	if (found && plumb_diff(&diff, e.event.key, git.ptr, git.len, e.kept.ptr, e.kept.len) == 0)
		printf("--- from git (commit %.12s) to the kept content ---\n%s", e.event.commit, diff.ptr);
	code = PLUMB_EXIT_OK;
done:
	plumb_buf_release(&git);
	plumb_buf_release(&diff);
	event_release(&e);
	return code;
}

/* A patch against the repository at the commit in force: committing it makes git hold the manual change. */
static int export_event(const plumb_cli *cli, plumb_store *store, const char *state, const char *id_text)
{
	drift_event e;
	plumb_buf git = PLUMB_BUF_INIT, patch = PLUMB_BUF_INIT;
	char *repository_path = NULL;
	int found = 0, code = PLUMB_EXIT_ERROR;

	if (read_event(&e, store, state, id_text) < 0)
		goto done;
	if (!e.has_kept) {
		fprintf(stderr, "plumb drift export: drift %s kept no content (%s)\n", id_text, e.event.note);
		goto done;
	}
	if (git_content(&git, &found, (const char **)&repository_path, &e, state) < 0)
		goto done;
	if (!repository_path) {
		fprintf(stderr,
			"plumb drift export: the content of /%s is inline in a manifest (or gone from commit %.12s): "
			"no patch of a repository file can carry it; 'plumb drift show %s' prints it\n",
			e.event.key, e.event.commit, id_text);
		goto done;
	}
	if (plumb_diff_is_binary(e.kept.ptr, e.kept.len) || plumb_diff_is_binary(git.ptr, git.len)) {
		fprintf(stderr, "plumb drift export: binary content cannot be exported as a patch\n");
		goto done;
	}
	if (plumb_diff(&patch, repository_path, git.ptr, git.len, e.kept.ptr, e.kept.len) < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		goto done;
	}
	if (cli->out) {
		if (plumb_fs_write_path(cli->out, patch.ptr, patch.len, 0644) < 0) {
			fprintf(stderr, "plumb: %s\n", plumb_error_last());
			goto done;
		}
		fprintf(stderr, "Wrote a patch of %s against commit %.12s to %s: apply it with 'git apply %s'.\n",
			repository_path, e.event.commit, cli->out, cli->out);
	} else {
		fputs(patch.ptr, stdout);
	}
	code = PLUMB_EXIT_OK;
done:
	free(repository_path);
	plumb_buf_release(&git);
	plumb_buf_release(&patch);
	event_release(&e);
	return code;
}

int plumb_cmd_drift(int argc, char **argv)
{
	plumb_cli cli;
	plumb_store *store = NULL;
	char *state = NULL;
	int code = PLUMB_EXIT_ERROR;

	if (plumb_cli_parse(&cli, argc, argv, OPT_ROOT | OPT_STATE | OPT_IDENTITY | OPT_OUTPUT | OPT_OUT | OPT_LIMIT) < 0)
		return PLUMB_EXIT_ERROR;
	const char *verb = cli.arg_count ? cli.args[0] : "";
	int needs_id = !strcmp(verb, "show") || !strcmp(verb, "export");
	if ((needs_id && cli.arg_count != 2) || (!needs_id && *verb && strcmp(verb, "log") != 0) ||
	    (!needs_id && cli.arg_count > 1)) {
		fprintf(stderr, "usage: plumb drift [--root DIR] [--identity FILE] | drift log | drift show ID | drift export ID [--out FILE]\n");
		return PLUMB_EXIT_ERROR;
	}
	state = cli.pipeline.state ? plumb_xstrdup(cli.pipeline.state) : plumb_default_state_dir();
	if (plumb_store_open(&store, state) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	if (!*verb)
		code = detect(&cli, store, state);
	else if (!strcmp(verb, "log"))
		code = list_events(&cli, store, state);
	else if (!strcmp(verb, "show"))
		code = show_event(store, state, cli.args[1]);
	else
		code = export_event(&cli, store, state, cli.args[1]);
done:
	plumb_store_free(store);
	free(state);
	return code;
}
