#include "util/common.h"
#include "cmd/cmd.h"
#include "providers/registry.h"
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
 * Load, at commit, the repository, path and application of a sync into its
 * destination. With plan (the command line's options), also plan it against
 * the destination as it is now: a host root by its path; a cluster through
 * the kubeconfig, context and namespace the command line names, as the
 * sync did.
 */
static int load_in_force(plumb_pipeline *p, const plumb_sync_record *sync, const char *commit, const char *state,
			 const plumb_pipeline_options *plan)
{
	plumb_pipeline_options options = { 0 };
	if (plan) {
		options.identity = plan->identity;
		if (plan->kubernetes) {
			options.kubernetes = 1;
			options.kubeconfig = plan->kubeconfig;
			options.context = plan->context;
			options.namespace = plan->namespace;
			options.allow_exec = plan->allow_exec;
			/* A field another manager took is drift a forced sync takes back, not a conflict to stop at. */
			options.force_conflicts = 1;
		}
	}
	options.repo = sync->repo;
	options.revision = commit;
	options.path = sync->path;
	options.root = options.kubernetes ? NULL : sync->destination;
	options.state = state;
	options.application = sync->application;
	plumb_pipeline_init(p, &options);
	if (plumb_pipeline_resolve(p, NULL) < 0 || plumb_pipeline_load(p) < 0)
		return -1;
	return plan ? plumb_pipeline_plan(p) : 0;
}

/*
 * The object of set a drift event is about: the one of its key, else (a
 * key its destination chose: a Kubernetes object that takes the
 * destination's namespace) the one object of the resource that the sync's
 * action on that key names. NULL when the commit declares none.
 */
static const plumb_object *find_object(const plumb_manifest_set *set, plumb_store *store,
				       const plumb_drift_record *event)
{
	plumb_action_records actions = { 0 };
	const plumb_object *found = NULL;
	const char *resource = NULL;

	for (size_t i = 0; i < set->object_count; i++)
		if (!strcmp(set->objects[i].key, event->key))
			return &set->objects[i];
	if (!event->sync_id || plumb_store_action_list(&actions, store, event->sync_id) < 0) {
		plumb_error_clear();
		goto done;
	}
	for (size_t i = 0; i < actions.count && !resource; i++)
		if (!strcmp(actions.items[i].key, event->key))
			resource = actions.items[i].resource;
	for (size_t i = 0; resource && i < set->object_count; i++) {
		if (strcmp(set->resources[set->objects[i].resource].identity, resource) != 0)
			continue;
		if (found) { /* a resource of many objects: the key alone could tell them apart */
			found = NULL;
			break;
		}
		found = &set->objects[i];
	}
done:
	plumb_action_records_release(&actions);
	return found;
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

/*
 * A plan of the last synced commit that declares objects the sync did not
 * leave where it places them, and leaves out objects the sync left: the
 * command line names another place than the sync's (a cluster's namespace
 * or context). Said on stderr, as the drift found then means little.
 */
static void warn_misplaced(const plumb_plan *plan, const char *application, const char *commit)
{
	unsigned unknown = 0, left = 0;
	for (size_t i = 0; i < plan->count; i++) {
		const plumb_action *a = &plan->actions[i];
		if (a->object && a->object->inventoried && !a->in_inventory)
			unknown++;
		else if (!a->object && a->in_inventory)
			left++;
	}
	if (unknown && left)
		fprintf(stderr,
			"plumb: commit %.12s places %u object%s of application %s where its last sync left none, and "
			"does not declare %u the sync left: is this the destination (--namespace, --context) the sync "
			"used?\n",
			commit, unknown, unknown == 1 ? "" : "s", application, left);
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
	char *destination = NULL, *context = NULL;
	json_t *doc = json_object(), *list = json_array();
	unsigned count = 0;
	int code = PLUMB_EXIT_ERROR;

	if (plumb_cli_destination(&destination, &context, cli, 0) < 0)
		goto done;
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
		int failed = load_in_force(&p, &last, last.commit, state, &cli->pipeline) < 0;
		if (!failed)
			warn_misplaced(&p.plan, application, last.commit);
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
	/* A root holds its objects; a cluster is where they are. */
	const char *where = context ? "in" : "under";
	if (plumb_cli_json(cli)) {
		json_object_set_new(doc, "destination", json_string(destination));
		json_object_set_new(doc, "drifted", list);
		list = NULL;
		json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
	} else if (count) {
		printf("Drift: %u object%s %s %s differ%s from what plumb last applied. 'plumb sync' repairs them, "
		       "keeping what it overwrites%s.\n",
		       count, count == 1 ? "" : "s", where, destination, count == 1 ? "s" : "",
		       context ? " (with --force-conflicts for fields another field manager took)" : "");
	} else {
		printf("No drift: every object %s %s is as plumb last applied it.\n", where, destination);
	}
	code = count ? PLUMB_EXIT_CHANGES : PLUMB_EXIT_OK;
done:
	json_decref(list);
	json_decref(doc);
	plumb_inventory_release(&inventory);
	free(destination);
	free(context);
	return code;
}

/* How people name the object a drift event is about: a cluster's "NAMESPACE/NAME", a host's path. A new string. */
static char *event_display(const plumb_drift_record *e)
{
	return plumb_provider_display(plumb_provider_of_destination(e->destination), e->key);
}

static int list_events(const plumb_cli *cli, plumb_store *store, const char *state)
{
	plumb_drift_records events = { 0 };
	char *destination = NULL, *context = NULL;
	char when[32];
	int state_fd = -1, code = PLUMB_EXIT_ERROR;

	if (plumb_cli_destination(&destination, &context, cli, 1) < 0)
		goto done;
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
			char *display = event_display(e);
			plumb_format_time(when, e->at);
			printf("%-5lld %s  %s  %s %s  %s%s\n", (long long)e->id, when, e->application, e->kind, display,
			       e->note, *e->capture ? "; content kept" : "");
			free(display);
		}
	}
	code = PLUMB_EXIT_OK;
done:
	if (state_fd >= 0)
		close(state_fd);
	plumb_drift_records_release(&events);
	free(destination);
	free(context);
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

/*
 * What git declared of the event's object at the commit then in force:
 * content (*found 0 when it declares none), and what a patch that carries
 * the kept content into git changes: *repository_path (NULL when no
 * repository file holds the content: inline in a manifest), its content at
 * that commit in *file, and with the kept content in *changed.
 */
typedef struct {
	plumb_buf content;
	int found;
	char *repository_path;
	plumb_buf file;
	plumb_buf changed;
} git_side;

static void git_side_release(git_side *g)
{
	plumb_buf_release(&g->content);
	free(g->repository_path);
	plumb_buf_release(&g->file);
	plumb_buf_release(&g->changed);
}

/* Whether line starts a YAML document marker ("---", "...") that ends the document before it. */
static int document_marker(const char *line, const char *end)
{
	return end - line >= 3 && (!strncmp(line, "---", 3) || !strncmp(line, "...", 3)) &&
	       (end - line == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
}

/*
 * text (a manifest) with the document that starts at line replaced by
 * document: it runs to the next document marker or the end of the file. A
 * document that starts on its marker's line keeps a marker.
 */
static void replace_document(plumb_buf *out, const char *text, size_t len, unsigned line, const char *document,
			     size_t document_len)
{
	const char *p = text, *end = text + len;
	unsigned number = 1;
	for (; p < end && number < line; number++) {
		const char *next = memchr(p, '\n', (size_t)(end - p));
		next = next ? next + 1 : end;
		plumb_buf_add(out, p, (size_t)(next - p));
		p = next;
	}
	int first = 1;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *next = eol ? eol + 1 : end;
		if (document_marker(p, eol ? eol : end)) {
			if (!first)
				break;
			plumb_buf_puts(out, "---\n");
		}
		first = 0;
		p = next;
	}
	plumb_buf_add(out, document, document_len);
	if (document_len && document[document_len - 1] != '\n')
		plumb_buf_puts(out, "\n");
	plumb_buf_add(out, p, (size_t)(end - p));
}

static int git_side_of(git_side *out, const drift_event *e, plumb_store *store, const char *state)
{
	plumb_pipeline p;
	plumb_source_entry entry;
	int error = -1;

	memset(out, 0, sizeof(*out));
	plumb_buf_init(&out->content);
	plumb_buf_init(&out->file);
	plumb_buf_init(&out->changed);
	if (load_in_force(&p, &e->sync, e->event.commit, state, NULL) < 0)
		goto done;
	const plumb_object *object = find_object(&p.set, store, &e->event);
	error = 0;
	if (!object)
		goto done;
	if ((error = object->provider->desired_content(&out->content, &out->found, p.source, object)) < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		goto done;
	}
	if (!e->has_kept)
		goto done;
	if (!object->provider->content_is_document) {
		/* A file's content is the repository file's. */
		const char *path = object->provider->content_path(object);
		if (path) {
			out->repository_path = plumb_xstrdup(path);
			plumb_buf_add(&out->file, out->content.ptr, out->content.len);
			plumb_buf_add(&out->changed, e->kept.ptr, e->kept.len);
		}
		goto done;
	}
	/* A document's is its place in its manifest. */
	const plumb_resource *resource = &p.set.resources[object->resource];
	if ((error = plumb_source_stat(&entry, p.source, e->event.commit, resource->file)) < 0 ||
	    (error = plumb_source_read_blob(&out->file, p.source, entry.id, MAX_CAPTURE_READ)) < 0) {
		fprintf(stderr, "plumb: %s at commit %.12s: %s\n", resource->file, e->event.commit, plumb_error_last());
		goto done;
	}
	out->repository_path = plumb_xstrdup(resource->file);
	replace_document(&out->changed, out->file.ptr, out->file.len, resource->line, e->kept.ptr, e->kept.len);
done:
	plumb_pipeline_release(&p);
	return error;
}

static int show_event(plumb_store *store, const char *state, const char *id_text)
{
	drift_event e;
	git_side git;
	plumb_buf diff = PLUMB_BUF_INIT;
	char when[32];
	char *display = NULL;
	int code = PLUMB_EXIT_ERROR;

	memset(&git, 0, sizeof(git));
	if (read_event(&e, store, state, id_text) < 0)
		goto done;
	display = event_display(&e.event);
	plumb_format_time(when, e.event.at);
	printf("Drift %lld: %s %s, application %s, found %s by sync %lld at commit %.12s\n", (long long)e.event.id,
	       e.event.kind, display, e.event.application, when, (long long)e.event.sync_id, e.event.commit);
	printf("Destination: %s\n", e.event.destination);
	printf("What: %s\n", e.event.note);
	printf("plumb last left: %s\nplumb found:     %s\n", *e.event.expected ? e.event.expected : "(nothing: never written)",
	       e.event.observed);
	if (!e.has_kept) {
		printf("No content was kept.\n");
		code = PLUMB_EXIT_OK;
		goto done;
	}
	printf("Kept: %s (%zu bytes)\n", e.event.capture, e.kept.len);
	if (git_side_of(&git, &e, store, state) < 0)
		goto done;
	if (plumb_diff_is_binary(e.kept.ptr, e.kept.len)) {
		printf("The kept content is binary.\n");
	} else {
		printf("--- kept content ---\n%s%s", e.kept.ptr,
		       e.kept.len && e.kept.ptr[e.kept.len - 1] != '\n' ? "\n\\ No newline at end of file\n" : "");
	}
	if (git.found && plumb_diff(&diff, display + (display[0] == '/'), git.content.ptr, git.content.len, e.kept.ptr,
				    e.kept.len) == 0)
		printf("--- from git (commit %.12s) to the kept content ---\n%s", e.event.commit, diff.ptr);
	code = PLUMB_EXIT_OK;
done:
	free(display);
	git_side_release(&git);
	plumb_buf_release(&diff);
	event_release(&e);
	return code;
}

/* A patch against the repository at the commit in force: committing it makes git hold the manual change. */
static int export_event(const plumb_cli *cli, plumb_store *store, const char *state, const char *id_text)
{
	drift_event e;
	git_side git;
	plumb_buf patch = PLUMB_BUF_INIT;
	char *display = NULL;
	int code = PLUMB_EXIT_ERROR;

	memset(&git, 0, sizeof(git));
	if (read_event(&e, store, state, id_text) < 0)
		goto done;
	if (!e.has_kept) {
		fprintf(stderr, "plumb drift export: drift %s kept no content (%s)\n", id_text, e.event.note);
		goto done;
	}
	if (git_side_of(&git, &e, store, state) < 0)
		goto done;
	if (!git.repository_path) {
		display = event_display(&e.event);
		fprintf(stderr,
			"plumb drift export: the content of %s is inline in a manifest (or gone from commit %.12s): "
			"no patch of a repository file can carry it; 'plumb drift show %s' prints it\n",
			display, e.event.commit, id_text);
		goto done;
	}
	if (plumb_diff_is_binary(e.kept.ptr, e.kept.len) || plumb_diff_is_binary(git.file.ptr, git.file.len)) {
		fprintf(stderr, "plumb drift export: binary content cannot be exported as a patch\n");
		goto done;
	}
	if (plumb_diff(&patch, git.repository_path, git.file.ptr, git.file.len, git.changed.ptr, git.changed.len) < 0) {
		fprintf(stderr, "plumb: %s\n", plumb_error_last());
		goto done;
	}
	if (cli->out) {
		if (plumb_fs_write_path(cli->out, patch.ptr, patch.len, 0644) < 0) {
			fprintf(stderr, "plumb: %s\n", plumb_error_last());
			goto done;
		}
		fprintf(stderr, "Wrote a patch of %s against commit %.12s to %s: apply it with 'git apply %s'.\n",
			git.repository_path, e.event.commit, cli->out, cli->out);
	} else {
		fputs(patch.ptr, stdout);
	}
	code = PLUMB_EXIT_OK;
done:
	free(display);
	git_side_release(&git);
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

	if (plumb_cli_parse(&cli, argc, argv,
			    OPT_ROOT | OPT_STATE | OPT_IDENTITY | OPT_OUTPUT | OPT_OUT | OPT_LIMIT | OPT_CLUSTER) < 0)
		return PLUMB_EXIT_ERROR;
	const char *verb = cli.arg_count ? cli.args[0] : "check";
	int needs_id = !strcmp(verb, "show") || !strcmp(verb, "export");
	if ((needs_id && cli.arg_count != 2) || (!needs_id && strcmp(verb, "check") != 0 && strcmp(verb, "log") != 0) ||
	    (!needs_id && cli.arg_count > 1)) {
		fprintf(stderr, "usage: plumb drift [check] [--root DIR | --kubeconfig FILE --context NAME --namespace NS] "
				"[--identity FILE] | drift log | drift show ID | drift export ID [--out FILE]\n");
		return PLUMB_EXIT_ERROR;
	}
	state = cli.pipeline.state ? plumb_xstrdup(cli.pipeline.state) : plumb_default_state_dir();
	if (plumb_store_open(&store, state) < 0) {
		fprintf(stderr, "plumb: store: %s\n", plumb_error_last());
		goto done;
	}
	if (!strcmp(verb, "check"))
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
