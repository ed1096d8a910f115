#include "util/common.h"
#include "plan/planfile.h"
#include "providers/registry.h"
#include "util/fs.h"
#include "util/hash.h"
#include "util/path.h"
#include "util/json.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *const action_names[] = { "none", "create", "update", "delete" };

/* Actions that belong in a plan file: they change something, or the inventory. */
static int is_recorded(const plumb_action *action)
{
	return action->type != PLUMB_ACTION_NONE || action->forget;
}

static json_t *action_to_json(const plumb_action *a)
{
	json_t *o = json_object();
	json_object_set_new(o, "action", json_string(action_names[a->type]));
	json_object_set_new(o, "provider", json_string(a->provider ? a->provider->name : ""));
	json_object_set_new(o, "kind", json_string(a->kind));
	json_object_set_new(o, "key", json_string(a->key));
	json_object_set_new(o, "path", json_string(a->display));
	json_object_set_new(o, "resource", json_string(a->resource));
	json_object_set_new(o, "reason", plumb_json_text(a->change.reason ? a->change.reason : "",
						       a->change.reason ? strlen(a->change.reason) : 0));
	json_object_set_new(o, "observed", json_string(a->fingerprint ? a->fingerprint : ""));
	json_object_set_new(o, "created", json_boolean(a->created));
	json_object_set_new(o, "in_inventory", json_boolean(a->in_inventory));
	json_object_set_new(o, "forget", json_boolean(a->forget));
	json_object_set_new(o, "sensitive", json_boolean(a->sensitive));
	if (a->content)
		json_object_set_new(o, "content", json_string(a->content));
	json_object_set_new(o, "diff", plumb_json_text(a->change.diff.ptr, a->change.diff.len));
	return o;
}

static json_t *cluster_to_json(const plumb_plan_cluster *c)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:b, s:b}", "context", c->context ? c->context : "", "kubeconfig",
			      c->kubeconfig ? c->kubeconfig : "", "namespace", c->namespace ? c->namespace : "",
			      "create_namespace", c->create_namespace, "force_conflicts", c->force_conflicts, "replace",
			      c->replace);
	json_t *ignore = c->ignore ? json_loads(c->ignore, 0, NULL) : NULL;
	if (ignore)
		json_object_set_new(o, "ignore", ignore);
	return o;
}

/* The checksum covers the canonical form of everything but itself. */
static void checksum(char out[72], json_t *doc)
{
	char hex[65];
	char *canonical = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	plumb_hash_sha256_hex(hex, canonical, strlen(canonical));
	free(canonical);
	snprintf(out, 72, "sha256:%s", hex);
}

char *plumb_planfile_format(const plumb_plan *plan)
{
	json_t *doc = json_object();
	json_t *summary = json_object();
	json_t *actions = json_array();
	char sum[72];

	json_object_set_new(doc, "format", json_string(PLUMB_PLAN_FORMAT));
	json_object_set_new(doc, "version", json_integer(PLUMB_PLAN_FORMAT_VERSION));
	json_object_set_new(doc, "plumb", json_string(PLUMB_VERSION));
	json_object_set_new(doc, "created_at", json_string(plan->created_at ? plan->created_at : ""));
	json_object_set_new(doc, "repo", json_string(plan->repo));
	json_object_set_new(doc, "revision", json_string(plan->revision));
	json_object_set_new(doc, "commit", json_string(plan->commit));
	json_object_set_new(doc, "path", json_string(plan->path));
	json_object_set_new(doc, "application", json_string(plan->application));
	/* What the renderer was told is part of what was planned: the apply renders the same. */
	if (plan->render)
		json_object_set_new(doc, "render", json_loads(plan->render, 0, NULL));
	json_object_set_new(doc, "destination", json_string(plan->destination));
	if (plan->cluster)
		json_object_set_new(doc, "kubernetes", cluster_to_json(plan->cluster));
	json_object_set_new(summary, "create", json_integer(plan->to_create));
	json_object_set_new(summary, "update", json_integer(plan->to_update));
	json_object_set_new(summary, "delete", json_integer(plan->to_delete));
	json_object_set_new(doc, "summary", summary);
	for (size_t i = 0; i < plan->count; i++)
		if (is_recorded(&plan->actions[i]))
			json_array_append_new(actions, action_to_json(&plan->actions[i]));
	json_object_set_new(doc, "actions", actions);
	checksum(sum, doc);
	json_object_set_new(doc, "checksum", json_string(sum));

	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	char *out = plumb_xprintf("%s\n", text);
	free(text);
	return out;
}

int plumb_planfile_write(const plumb_plan *plan, const char *path)
{
	char *text = plumb_planfile_format(plan);
	int error = plumb_fs_write_path(path, text, strlen(text), 0600);
	free(text);
	return error;
}

/* --- reading ------------------------------------------------------------------------------ */

static int field_error(const char *path, const char *where, const char *field, const char *what)
{
	return plumb_error_set(PLUMB_EINVALID, "%s: not a valid plan: %s%s%s %s", path, where, *where ? "." : "", field,
			       what);
}

static int get_string(char **out, json_t *object, const char *field, const char *path, const char *where)
{
	json_t *value = json_object_get(object, field);
	if (!json_is_string(value))
		return field_error(path, where, field, value ? "is not a string" : "is missing");
	*out = plumb_xstrndup(json_string_value(value), json_string_length(value));
	return 0;
}

static int get_bool(int *out, json_t *object, const char *field, const char *path, const char *where)
{
	json_t *value = json_object_get(object, field);
	if (!json_is_boolean(value))
		return field_error(path, where, field, value ? "is not true or false" : "is missing");
	*out = json_is_true(value);
	return 0;
}

static int read_action(plumb_action *a, json_t *o, const char *path, size_t index)
{
	char where[32];
	char *type = NULL, *provider = NULL, *reason = NULL, *diff = NULL;
	int error;

	snprintf(where, sizeof(where), "actions[%zu]", index);
	if (!json_is_object(o))
		return plumb_error_set(PLUMB_EINVALID, "%s: not a valid plan: %s is not an object", path, where);
	if ((error = get_string(&type, o, "action", path, where)) < 0 ||
	    (error = get_string(&provider, o, "provider", path, where)) < 0 ||
	    (error = get_string(&a->kind, o, "kind", path, where)) < 0 ||
	    (error = get_string(&a->key, o, "key", path, where)) < 0 ||
	    (error = get_string(&a->display, o, "path", path, where)) < 0 ||
	    (error = get_string(&a->resource, o, "resource", path, where)) < 0 ||
	    (error = get_string(&reason, o, "reason", path, where)) < 0 ||
	    (error = get_string(&a->fingerprint, o, "observed", path, where)) < 0 ||
	    (error = get_string(&diff, o, "diff", path, where)) < 0 ||
	    (error = get_bool(&a->created, o, "created", path, where)) < 0 ||
	    (error = get_bool(&a->in_inventory, o, "in_inventory", path, where)) < 0 ||
	    (error = get_bool(&a->forget, o, "forget", path, where)) < 0 ||
	    (error = get_bool(&a->sensitive, o, "sensitive", path, where)) < 0 ||
	    (json_object_get(o, "content") && (error = get_string(&a->content, o, "content", path, where)) < 0))
		goto done;
	error = field_error(path, where, "action", "is not none, create, update or delete");
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(action_names); i++) {
		if (!strcmp(type, action_names[i])) {
			a->type = a->change.type = (plumb_action_type)i;
			error = 0;
		}
	}
	if (error < 0)
		goto done;
	if (!(a->provider = plumb_provider_by_name(provider))) {
		error = field_error(path, where, "provider", "names no provider this plumb knows");
		goto done;
	}
	if (*reason)
		a->change.reason = plumb_xstrdup(reason);
	plumb_buf_puts(&a->change.diff, diff);
done:
	free(type);
	free(provider);
	free(reason);
	free(diff);
	return error;
}

/* The optional "kubernetes" of a cluster's plan: how its cluster was chosen ("" for what was not given). */
static int read_cluster(plumb_plan *out, json_t *doc, const char *path)
{
	json_t *o = json_object_get(doc, "kubernetes");
	plumb_plan_cluster c = { 0 };
	int error;

	if (!o)
		return 0;
	if (!json_is_object(o))
		return field_error(path, "", "kubernetes", "is not an object");
	if ((error = get_string(&c.context, o, "context", path, "kubernetes")) == 0 &&
	    (error = get_string(&c.kubeconfig, o, "kubeconfig", path, "kubernetes")) == 0 &&
	    (error = get_string(&c.namespace, o, "namespace", path, "kubernetes")) == 0 &&
	    (error = get_bool(&c.create_namespace, o, "create_namespace", path, "kubernetes")) == 0 &&
	    (error = get_bool(&c.force_conflicts, o, "force_conflicts", path, "kubernetes")) == 0 &&
	    (!json_object_get(o, "replace") || (error = get_bool(&c.replace, o, "replace", path, "kubernetes")) == 0)) {
		json_t *ignore = json_object_get(o, "ignore");
		if (ignore && !json_is_array(ignore))
			return field_error(path, "kubernetes", "ignore", "is not a list of rules");
		/* "" is what was not given; a plan without replace or ignore rules says neither. */
		plumb_plan_cluster given = c;
		given.kubeconfig = *c.kubeconfig ? c.kubeconfig : NULL;
		given.namespace = *c.namespace ? c.namespace : NULL;
		given.ignore = ignore ? json_dumps(ignore, JSON_COMPACT) : NULL;
		plumb_plan_set_cluster(out, &given);
		free(given.ignore);
	}
	free(c.context);
	free(c.kubeconfig);
	free(c.namespace);
	return error;
}

static int count_of(unsigned *out, json_t *summary, const char *field, const char *path)
{
	json_t *value = json_object_get(summary, field);
	if (!json_is_integer(value) || json_integer_value(value) < 0 || json_integer_value(value) > 0xffffffffLL)
		return field_error(path, "summary", field, "is not a count");
	*out = (unsigned)json_integer_value(value);
	return 0;
}

int plumb_planfile_read(plumb_plan *out, const char *path)
{
	plumb_buf text = PLUMB_BUF_INIT;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int error = 0;

	memset(out, 0, sizeof(*out));
	if (fd < 0)
		return plumb_error_set(PLUMB_ENOTFOUND, "cannot open plan %s: %s", path, strerror(errno));
	error = plumb_buf_read_fd(&text, fd, PLUMB_PLAN_FILE_MAX);
	close(fd);
	if (error < 0)
		error = plumb_error_wrap(error, "plan %s", path);
	else
		error = plumb_planfile_parse(out, text.ptr, text.len, path);
	plumb_buf_release(&text);
	return error;
}

int plumb_planfile_parse(plumb_plan *out, const char *text, size_t len, const char *path)
{
	json_error_t json_error;
	json_t *doc = NULL, *value;
	char expected[72];
	int error = 0;

	memset(out, 0, sizeof(*out));
	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &json_error);
	if (!doc) {
		error = plumb_error_set(PLUMB_EINVALID, "%s:%d:%d: not a plan file (truncated or not JSON): %s", path,
					json_error.line, json_error.column, json_error.text);
		goto done;
	}
	value = json_object_get(doc, "format");
	if (!json_is_string(value) || strcmp(json_string_value(value), PLUMB_PLAN_FORMAT) != 0) {
		error = plumb_error_set(PLUMB_EINVALID, "%s: not a plumb plan (no \"format\": \"%s\")", path,
					PLUMB_PLAN_FORMAT);
		goto done;
	}
	value = json_object_get(doc, "version");
	if (!json_is_integer(value) || json_integer_value(value) != PLUMB_PLAN_FORMAT_VERSION) {
		error = plumb_error_set(PLUMB_EINVALID,
					"%s: plan format version %lld is not supported (this plumb reads version %d)", path,
					json_is_integer(value) ? (long long)json_integer_value(value) : -1LL,
					PLUMB_PLAN_FORMAT_VERSION);
		goto done;
	}
	value = json_object_get(doc, "checksum");
	if (!json_is_string(value)) {
		error = plumb_error_set(PLUMB_EINVALID, "%s: the plan has no checksum", path);
		goto done;
	}
	char *found = plumb_xstrdup(json_string_value(value));
	json_object_del(doc, "checksum");
	checksum(expected, doc);
	int matches = !strcmp(found, expected);
	free(found);
	if (!matches) {
		error = plumb_error_set(PLUMB_EINVALID,
					"%s: checksum mismatch: the plan was changed after plumb wrote it; make a new plan",
					path);
		goto done;
	}

	if ((error = get_string(&out->created_at, doc, "created_at", path, "")) < 0 ||
	    (error = get_string(&out->repo, doc, "repo", path, "")) < 0 ||
	    (error = get_string(&out->revision, doc, "revision", path, "")) < 0 ||
	    (error = get_string(&out->commit, doc, "commit", path, "")) < 0 ||
	    (error = get_string(&out->path, doc, "path", path, "")) < 0 ||
	    (error = get_string(&out->application, doc, "application", path, "")) < 0 ||
	    (error = get_string(&out->destination, doc, "destination", path, "")) < 0 ||
	    (error = read_cluster(out, doc, path)) < 0)
		goto done;
	json_t *render = json_object_get(doc, "render");
	if (render && !json_is_object(render)) {
		error = field_error(path, "", "render", "is not an object");
		goto done;
	}
	if (render)
		out->render = json_dumps(render, JSON_COMPACT);
	json_t *summary = json_object_get(doc, "summary");
	if ((error = count_of(&out->to_create, summary, "create", path)) < 0 ||
	    (error = count_of(&out->to_update, summary, "update", path)) < 0 ||
	    (error = count_of(&out->to_delete, summary, "delete", path)) < 0)
		goto done;
	json_t *actions = json_object_get(doc, "actions");
	if (!json_is_array(actions)) {
		error = field_error(path, "", "actions", "is not a list");
		goto done;
	}
	for (size_t i = 0; i < json_array_size(actions); i++) {
		PLUMB_GROW(out->actions, out->count, out->capacity);
		plumb_action *a = &out->actions[out->count++];
		memset(a, 0, sizeof(*a));
		plumb_buf_init(&a->change.diff);
		if ((error = read_action(a, json_array_get(actions, i), path, i)) < 0)
			goto done;
	}
done:
	json_decref(doc);
	return error;
}

/* --- stale check -------------------------------------------------------------------------- */

static const plumb_action *find_recorded(const plumb_plan *plan, const char *key)
{
	for (size_t i = 0; i < plan->count; i++)
		if (is_recorded(&plan->actions[i]) && !strcmp(plan->actions[i].key, key))
			return &plan->actions[i];
	return NULL;
}

static const char *verb(plumb_action_type type)
{
	static const char *const verbs[] = { "leave it as it is", "create it", "update it", "delete it" };
	return verbs[type];
}

unsigned plumb_planfile_compare(const plumb_plan *saved, const plumb_plan *fresh, plumb_buf *stale)
{
	unsigned differences = 0;
	for (size_t i = 0; i < saved->count; i++) {
		const plumb_action *s = &saved->actions[i];
		const plumb_action *f = find_recorded(fresh, s->key);
		if (!is_recorded(s))
			continue;
		if (!f) {
			plumb_buf_printf(stale, "%s: the plan would %s, but it changed since and needs nothing now\n",
					 s->display, verb(s->type));
		} else if (f->type != s->type) {
			plumb_buf_printf(stale, "%s: the plan would %s, but now plumb would %s\n", s->display,
					 verb(s->type), verb(f->type));
		} else if (strcmp(f->fingerprint ? f->fingerprint : "", s->fingerprint) != 0) {
			plumb_buf_printf(stale, "%s: changed since the plan was made (observed \"%s\", now \"%s\")\n",
					 s->display, s->fingerprint, f->fingerprint ? f->fingerprint : "");
		} else if (strcmp(f->content ? f->content : "", s->content ? s->content : "") != 0) {
			plumb_buf_printf(stale, "%s: the value of its Secret is not the one planned\n", s->display);
		} else {
			continue;
		}
		differences++;
	}
	for (size_t i = 0; i < fresh->count; i++) {
		const plumb_action *f = &fresh->actions[i];
		if (is_recorded(f) && !find_recorded(saved, f->key)) {
			plumb_buf_printf(stale, "%s: not in the plan, but plumb would now %s\n", f->display, verb(f->type));
			differences++;
		}
	}
	return differences;
}
