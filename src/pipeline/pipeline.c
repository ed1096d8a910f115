#include "util/common.h"
#include "pipeline/pipeline.h"
#include "providers/registry.h"
#include "load/application.h"
#include "secrets/secret.h"
#include "store/key.h"

#include <jansson.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

void plumb_pipeline_init(plumb_pipeline *p, const plumb_pipeline_options *options)
{
	memset(p, 0, sizeof(*p));
	p->options = *options;
	plumb_buf_init(&p->errors);
}

void plumb_pipeline_use_source(plumb_pipeline *p, plumb_source *source, const char *commit)
{
	p->source = source;
	p->source_borrowed = 1;
	memcpy(p->commit, commit, sizeof(p->commit));
	if (!p->state_dir)
		p->state_dir = p->options.state ? plumb_xstrdup(p->options.state) : plumb_default_state_dir();
}

void plumb_pipeline_options_cluster(plumb_pipeline_options *options, const plumb_application *a)
{
	options->kubernetes = a->kubernetes;
	if (a->context)
		options->context = a->context;
	if (a->namespace)
		options->namespace = a->namespace;
	options->create_namespace |= a->create_namespace;
	options->force_conflicts |= a->force_conflicts;
	options->replace |= a->replace;
	options->ignore = a->ignore;
	options->namespaces = a->namespaces;
	options->namespaced_only = a->namespaced_only;
	if (!options->health_timeout_ms)
		options->health_timeout_ms = a->health_timeout_ms;
}

void plumb_pipeline_release(plumb_pipeline *p)
{
	plumb_plan_release(&p->plan);
	plumb_inventory_release(&p->inventory);
	plumb_destinations_release(&p->own_destinations);
	plumb_store_free(p->store);
	plumb_manifest_set_release(&p->set);
	if (!p->source_borrowed)
		plumb_source_free(p->source);
	plumb_buf_release(&p->errors);
	free(p->application);
	free(p->destination);
	free(p->actor);
	free(p->state_dir);
	memset(p, 0, sizeof(*p));
	plumb_buf_init(&p->errors);
}

char *plumb_actor(void)
{
	char host[256] = "localhost";
	struct passwd pw, *found = NULL;
	char scratch[4096];
	const char *user = NULL;

	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if (getpwuid_r(geteuid(), &pw, scratch, sizeof(scratch), &found) == 0 && found)
		user = found->pw_name;
	if (user)
		return plumb_xprintf("%s@%s", user, host);
	return plumb_xprintf("uid%u@%s", (unsigned)geteuid(), host);
}

char *plumb_default_state_dir(void)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	if (geteuid() == 0)
		return plumb_xstrdup("/var/lib/plumb");
	if (xdg && *xdg == '/')
		return plumb_xprintf("%s/plumb", xdg);
	return plumb_xprintf("%s/.local/state/plumb", home && *home ? home : ".");
}

static void error_line(const char *what)
{
	fprintf(stderr, "plumb: %s%s%s\n", what ? what : "", what ? ": " : "", plumb_error_last());
}

int plumb_pipeline_resolve(plumb_pipeline *p, FILE *info)
{
	int error;
	if (!p->options.repo || !*p->options.repo) {
		fprintf(stderr, "plumb: --repo is required\n");
		return PLUMB_EINVALID;
	}
	p->state_dir = p->options.state ? plumb_xstrdup(p->options.state) : plumb_default_state_dir();
	error = p->options.every_ref ? plumb_source_open_with(&p->source, p->options.repo, p->state_dir,
							      p->options.credentials)
				     : plumb_source_open_for(&p->source, p->options.repo, p->state_dir,
							     p->options.credentials, p->options.revision);
	if (error < 0) {
		error_line(NULL);
		return error;
	}
	plumb_render_options render = plumb_pipeline_render_options(&p->options, p->state_dir);
	plumb_load_set_render(p->source, &render);
	if ((error = plumb_source_resolve(p->commit, p->source, p->options.revision)) < 0) {
		error_line(NULL);
		if (p->options.operation) {
			json_t *detail = json_pack("{s:s, s:s, s:s}", "operation", p->options.operation, "revision",
						   p->options.revision ? p->options.revision : "HEAD", "problem",
						   plumb_error_last());
			char *text = json_dumps(detail, JSON_COMPACT);
			plumb_pipeline_record(p, "error", text);
			free(text);
			json_decref(detail);
		}
		return error;
	}
	if (info)
		fprintf(info, "commit %s (%s)\n", p->commit,
			p->options.revision && *p->options.revision ? p->options.revision : "HEAD");
	/* Before anything reads the commit: Applications are discovered in it. */
	if (p->options.submodules && (error = plumb_source_fetch_submodules(p->source, p->commit)) < 0) {
		error_line(NULL);
		return error;
	}
	return 0;
}

char *plumb_application_name(const char *repo, const char *path)
{
	if (path && *path)
		return plumb_xstrdup(path);
	size_t len = strlen(repo);
	while (len > 1 && repo[len - 1] == '/')
		len--;
	const char *start = repo + len;
	while (start > repo && start[-1] != '/' && start[-1] != ':')
		start--;
	size_t n = (size_t)(repo + len - start);
	if (n > 4 && !strncmp(start + n - 4, ".git", 4))
		n -= 4;
	return n ? plumb_xstrndup(start, n) : plumb_xstrdup("default");
}

/* Print diagnostics in order and a closing line (unless quiet), and keep them all in p->errors. */
static void report_diags(plumb_pipeline *p, plumb_diags *diags, const char *closing)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	plumb_diags_sort(diags);
	plumb_diags_print(diags, out);
	size_t errors = plumb_diags_distinct(diags);
	fprintf(out, "plumb: commit %.12s %s: %zu error%s; nothing was applied\n", p->commit, closing, errors,
		errors == 1 ? "" : "s");
	fclose(out);
	plumb_buf_add(&p->errors, text, size);
	if (!p->quiet)
		fputs(text, stderr);
	free(text);
}

/* A revision that a run meant to apply and could not is part of the record. */
static void record_refusal(plumb_pipeline *p, const char *problem, size_t errors)
{
	if (!p->options.operation)
		return;
	json_t *detail = json_pack("{s:s, s:s, s:s, s:i}", "operation", p->options.operation, "commit", p->commit,
				   "problem", problem, "errors", (int)errors);
	char *text = json_dumps(detail, JSON_COMPACT);
	plumb_pipeline_record(p, "error", text);
	free(text);
	json_decref(detail);
}

plumb_render_options plumb_pipeline_render_options(const plumb_pipeline_options *options, const char *state_dir)
{
	plumb_render_options render = { .kustomize = options->kustomize,
					.helm = options->helm,
					.state_dir = state_dir,
					.timeout_ms = options->render_timeout_ms,
					.output_max = options->render_output_max,
					.self = options->render_self,
					.allow_chart_fetch = options->allow_chart_fetch,
					.credentials = options->credentials };
	return render;
}

int plumb_pipeline_load(plumb_pipeline *p)
{
	plumb_diags diags = PLUMB_DIAGS_INIT;
	plumb_render_target target = { p->options.application, p->options.namespace, p->options.render };
	int error = p->options.submodules ? plumb_source_fetch_submodules(p->source, p->commit) : 0;
	if (error == 0)
		error = plumb_load(&p->set, p->source, p->commit, p->options.path, &target, &diags);
	if (error == PLUMB_EINVALID && diags.count) {
		report_diags(p, &diags, "is invalid");
	} else if (error < 0) {
		plumb_buf_printf(&p->errors, "plumb: %s\n", plumb_error_last());
		if (!p->quiet)
			error_line(NULL);
	}
	if (error < 0)
		record_refusal(p, error == PLUMB_EINVALID ? "invalid revision" : "cannot load",
			       plumb_diags_distinct(&diags));
	plumb_diags_release(&diags);
	if (error == 0)
		p->application = p->options.application ? plumb_xstrdup(p->options.application)
							: plumb_application_name(p->options.repo, p->set.path);
	return error;
}

void plumb_pipeline_adopt_set(plumb_pipeline *p, plumb_manifest_set *set)
{
	plumb_manifest_set_release(&p->set);
	p->set = *set;
	memset(set, 0, sizeof(*set));
	p->application = p->options.application ? plumb_xstrdup(p->options.application)
						: plumb_application_name(p->options.repo, p->set.path);
}

void plumb_pipeline_detach_set(plumb_pipeline *p, plumb_manifest_set *out)
{
	plumb_manifest_set_release(out);
	*out = p->set;
	memset(&p->set, 0, sizeof(p->set));
}

int plumb_pipeline_record(plumb_pipeline *p, const char *event, const char *detail)
{
	int error = 0;
	if (!p->store && (error = plumb_store_open(&p->store, p->state_dir)) < 0)
		goto done;
	if (!p->actor)
		p->actor = plumb_actor();
	const char *subject = p->application ? p->application : p->source ? plumb_source_name(p->source) : "";
	error = plumb_store_audit_append(p->store, p->actor, event, subject, detail);
done:
	if (error < 0)
		fprintf(stderr, "plumb: cannot record the %s in the audit log: %s\n", event, plumb_error_last());
	return error;
}

char *plumb_destination_path(const char *root)
{
	char resolved[PATH_MAX];
	char cwd[PATH_MAX];
	char *joined, *out;

	if (!root || !*root)
		root = "/";
	if (realpath(root, resolved))
		return plumb_xstrdup(resolved);
	if (*root == '/' || !getcwd(cwd, sizeof(cwd)))
		joined = plumb_xstrdup(root);
	else
		joined = plumb_xprintf("%s/%s", cwd, root);
	/* Not there yet: drop empty and "." components and trailing slashes. */
	out = plumb_xcalloc(strlen(joined) + 2, 1);
	size_t n = 0;
	for (const char *s = joined; *s;) {
		while (*s == '/')
			s++;
		const char *end = strchrnul(s, '/');
		if (end > s && !(end - s == 1 && *s == '.')) {
			out[n++] = '/';
			memcpy(out + n, s, (size_t)(end - s));
			n += (size_t)(end - s);
		}
		s = end;
	}
	if (!n)
		out[n++] = '/';
	out[n] = '\0';
	free(joined);
	return out;
}

char *plumb_pipeline_identity(const plumb_pipeline *p)
{
	return p->options.identity ? plumb_xstrdup(p->options.identity) : plumb_xprintf("%s/identity", p->state_dir);
}

/* Read the Secrets the objects use; every one that cannot be read is reported, and nothing is planned. */
static int bind_secrets(plumb_pipeline *p)
{
	plumb_diags diags = PLUMB_DIAGS_INIT;
	char *identity = plumb_pipeline_identity(p);
	plumb_secret_context ctx = { p->source, identity };
	int error = plumb_secret_bind(&p->set, &ctx, &diags);
	if (error < 0) {
		report_diags(p, &diags, "needs secrets that cannot be read");
		record_refusal(p, "secret unreadable", plumb_diags_distinct(&diags));
	}
	plumb_diags_release(&diags);
	free(identity);
	return error;
}

/* What the destination options choose, for its provider; location borrowed. */
static void destination_options(plumb_destination_options *out, const plumb_pipeline_options *options,
				const char *location)
{
	*out = (plumb_destination_options){ .location = location,
					    .kubeconfig = options->kubeconfig,
					    .context = options->context,
					    .namespace = options->namespace,
					    .allow_exec = options->allow_exec,
					    .create_namespace = options->create_namespace,
					    .force_conflicts = options->force_conflicts,
					    .replace = options->replace,
					    .ignore = options->ignore,
					    .namespaces = options->namespaces,
					    .namespaced_only = options->namespaced_only,
					    .watch = options->watch,
					    .changed = options->changed,
					    .changed_payload = options->changed_payload };
}

/* The provider of the application's destination (a host root's, a cluster's), or NULL after an error. */
static const plumb_provider *destination_provider(const plumb_pipeline_options *options)
{
	const char *kind = plumb_application_provider(options->kubernetes);
	const plumb_provider *provider = plumb_provider_by_name(kind);
	if (!provider)
		plumb_error_set(PLUMB_EINVALID, "this plumb has no %s provider", kind);
	return provider;
}

int plumb_pipeline_destination_name(char **name, char **context, const plumb_pipeline_options *options)
{
	const plumb_provider *provider = destination_provider(options);
	plumb_destination_options destination;
	*name = *context = NULL;
	if (!provider)
		return PLUMB_EINVALID;
	char *location = plumb_destination_path(options->root);
	destination_options(&destination, options, location);
	int error = provider->name_destination(name, context, &destination);
	free(location);
	return error;
}

/* A cluster's plan notes how the cluster was chosen, for applying its plan file the same way. */
static int note_cluster(plumb_pipeline *p, const plumb_provider *provider, const plumb_destination_options *options)
{
	char *name = NULL, *context = NULL, *kubeconfig = NULL;
	int error = provider->name_destination(&name, &context, options);
	if (error == 0 && strcmp(name, p->destination) != 0)
		error = plumb_error_set(PLUMB_ESTALE, "the kubeconfig names %s now, not %s: it changed while plumb read it",
					name, p->destination);
	if (error == 0 && context) {
		kubeconfig = p->options.kubeconfig ? plumb_destination_path(p->options.kubeconfig) : NULL;
		plumb_plan_cluster cluster = { context,
					       kubeconfig,
					       (char *)p->options.namespace,
					       p->options.create_namespace,
					       p->options.force_conflicts,
					       p->options.replace,
					       (char *)p->options.ignore };
		plumb_plan_set_cluster(&p->plan, &cluster);
	}
	free(name);
	free(context);
	free(kubeconfig);
	return error;
}

int plumb_pipeline_plan(plumb_pipeline *p)
{
	int error;

	if ((error = bind_secrets(p)) < 0)
		return error;

	char *location = plumb_destination_path(p->options.root);
	if (!p->store && (error = plumb_store_open(&p->store, p->state_dir)) < 0) {
		free(location);
		error_line("store");
		return error;
	}
	/*
	 * An application's destination (a host root or a cluster) is opened before anything is
	 * observed, and says what the plan, the inventory and the audit log call it.
	 */
	plumb_destination_options destination;
	destination_options(&destination, &p->options, location);
	destination.source = p->source;
	destination.store = p->store;
	destination.state_dir = p->state_dir;
	destination.application = p->application;
	const plumb_provider *provider = destination_provider(&p->options);
	plumb_destination *opened = NULL;
	if (p->options.kept && p->options.kept->count) {
		p->destinations = p->options.kept;
		plumb_destinations_renew(p->destinations, &destination);
	} else {
		p->destinations = p->options.kept ? p->options.kept : &p->own_destinations;
		plumb_destinations_release(p->destinations);
		plumb_destinations_init(p->destinations, &destination);
		p->destinations->only = provider;
	}
	error = provider ? plumb_destinations_get(&opened, p->destinations, provider) : PLUMB_EINVALID;
	/* The destinations keep their own copy of what they need of the location. */
	p->destinations->options.location = NULL;
	free(location);
	if (error < 0) {
		error_line(NULL);
		return error;
	}
	p->destination = plumb_xstrdup(provider->destination_name(opened));
	if ((error = plumb_store_inventory_related(&p->inventory, p->store, p->destination)) < 0) {
		error_line("store");
		return error;
	}
	plumb_plan_init(&p->plan, plumb_source_name(p->source), p->options.revision, p->commit, p->set.path,
			p->application, p->destination);
	/* What the renderer ran with: a chart version range the application gives, as the release it pinned. */
	const char *render = p->set.render_options ? p->set.render_options : p->options.render;
	p->plan.render = render ? plumb_xstrdup(render) : NULL;
	destination.location = NULL;
	if (p->options.kubernetes && (error = note_cluster(p, provider, &destination)) < 0) {
		error_line(NULL);
		return error;
	}
	if ((error = plumb_state_key_load(p->plan.fingerprint_key, p->state_dir)) < 0) {
		error_line("state");
		return error;
	}
	plumb_diags diags = PLUMB_DIAGS_INIT;
	error = plumb_plan_build(&p->plan, &p->set, &p->inventory, p->destinations, &diags);
	if (diags.count) {
		/* Where the destination cannot place them, or what its validation refuses. */
		report_diags(p, &diags, "declares objects the destination cannot take");
		record_refusal(p, "refused by the destination", plumb_diags_distinct(&diags));
	} else if (error < 0)
		error_line("plan");
	plumb_diags_release(&diags);
	if (error < 0)
		return error;
	/* What observing learnt (the stat cache): a store that cannot take it now costs the next run some speed. */
	plumb_destinations_save(p->destinations);
	if (p->options.keep_unlisted)
		plumb_plan_drop_prunes(&p->plan);
	return 0;
}

int plumb_pipeline_settle(plumb_pipeline *p)
{
	return plumb_apply_settle(&p->plan, p->store);
}

int plumb_pipeline_mass_prune(const plumb_pipeline *p, size_t *managed)
{
	*managed = 0;
	if (!p->options.kubernetes || !p->plan.to_delete)
		return 0;
	for (size_t i = 0; i < p->inventory.count; i++)
		*managed += !strcmp(p->inventory.items[i].application, p->application) &&
			    !strcmp(p->inventory.items[i].destination, p->destination);
	return *managed && (p->plan.to_delete >= *managed || 2 * (size_t)p->plan.to_delete > *managed);
}

int plumb_pipeline_apply(plumb_pipeline *p, FILE *out)
{
	plumb_sync_record record = { 0 };
	plumb_apply_report report;
	size_t managed;
	int error;

	if (!p->options.allow_mass_prune && plumb_pipeline_mass_prune(p, &managed)) {
		fprintf(stderr,
			"plumb: this sync would delete %u of the %zu objects application %s manages; nothing was applied "
			"(a broken render or a wrong --path looks like this: pass --allow-mass-prune if it is meant)\n",
			p->plan.to_delete, managed, p->application);
		plumb_buf_printf(&p->errors, "mass prune refused: %u of %zu objects\n", p->plan.to_delete, managed);
		record_refusal(p, "mass prune", 0);
		return PLUMB_EINVALID;
	}

	plumb_sync_record last = { 0 };
	int after_crash = plumb_store_sync_last(&last, p->store, p->destination, p->application) == 0 &&
			  last.result == PLUMB_SYNC_RUNNING;
	plumb_sync_record_release(&last);

	if (!p->actor)
		p->actor = plumb_actor();
	record.operation = (char *)(p->options.operation ? p->options.operation : "sync");
	record.trigger = (char *)(p->options.trigger ? p->options.trigger : "cli");
	record.actor = p->actor;
	record.application = p->application;
	record.destination = p->destination;
	record.repo = (char *)plumb_source_name(p->source);
	record.revision = p->plan.revision;
	record.commit = p->commit;
	record.path = p->set.path;
	if ((error = plumb_store_sync_begin(p->store, &record)) < 0) {
		error_line("store");
		return error;
	}
	plumb_apply_options options = { record.id, after_crash, out, p->state_dir,
					p->options.capture_max ? p->options.capture_max : PLUMB_CAPTURE_MAX,
					p->options.health_timeout_ms };
	error = plumb_apply(&report, &p->plan, p->destinations, p->store, &options);
	record.created = report.created;
	record.updated = report.updated;
	record.deleted = report.deleted;
	record.result = error < 0 ? PLUMB_SYNC_FAILED : PLUMB_SYNC_SUCCEEDED;
	record.error = error < 0 ? (char *)plumb_error_last() : "";
	if (error < 0) {
		fprintf(stderr, "plumb: apply failed: %s\n", plumb_error_last());
		fprintf(stderr, "plumb: done before the failure: %u created, %u updated, %u deleted; not done: %u\n",
			report.created, report.updated, report.deleted, report.not_done);
	}
	int store_error = plumb_store_sync_finish(p->store, &record);
	if (store_error < 0 && error == 0) {
		error_line("store");
		error = store_error;
	}
	if (error == 0)
		fprintf(out, "Apply complete: %u created, %u updated, %u deleted. Commit %s.\n", report.created,
			report.updated, report.deleted, p->commit);
	return error;
}
