#include "util/common.h"
#include "plan/plan.h"
#include "util/clock.h"
#include "util/path.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <time.h>

void plumb_plan_init(plumb_plan *plan, const char *repo, const char *revision, const char *commit, const char *path,
		     const char *application, const char *destination)
{
	memset(plan, 0, sizeof(*plan));
	plan->repo = plumb_xstrdup(repo);
	plan->revision = plumb_xstrdup(revision ? revision : "");
	plan->commit = plumb_xstrdup(commit);
	plan->path = plumb_xstrdup(path);
	plan->application = plumb_xstrdup(application);
	plan->destination = plumb_xstrdup(destination);
	char when[32];
	plumb_format_time(when, (int64_t)time(NULL));
	plan->created_at = plumb_xstrdup(when);
}

plumb_provider_context plumb_plan_observe_context(const plumb_provider_context *ctx, const char *key, int sensitive)
{
	plumb_provider_context c = *ctx;
	if (sensitive && c.stat_cache) {
		plumb_stat_cache_forget(c.stat_cache, key);
		c.stat_cache = NULL;
	}
	return c;
}

char *plumb_plan_fingerprint(const plumb_plan *plan, const char *observed, int sensitive)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];

	if (!sensitive || !strcmp(observed, "absent"))
		return plumb_xstrdup(observed);
	HMAC(EVP_sha256(), plan->fingerprint_key, sizeof(plan->fingerprint_key), (const unsigned char *)observed,
	     strlen(observed), mac, &len);
	for (unsigned int i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return plumb_xprintf("sensitive %s", hex);
}

/* As plumb_plan_fingerprint, but the observed one itself when it is shown as it is (observed keeps none). */
static char *take_fingerprint(const plumb_plan *plan, plumb_observed *observed, int sensitive)
{
	char *fingerprint = observed->fingerprint;
	if (sensitive && strcmp(fingerprint, "absent") != 0)
		return plumb_plan_fingerprint(plan, fingerprint, sensitive);
	observed->fingerprint = NULL;
	return fingerprint;
}

static int compare_object_ptr(const void *a, const void *b)
{
	const plumb_object *oa = *(const plumb_object *const *)a, *ob = *(const plumb_object *const *)b;
	int c = strcmp(oa->provider->name, ob->provider->name);
	return c ? c : plumb_path_compare(oa->key, ob->key);
}

static int compare_entry_ptr(const void *a, const void *b)
{
	const plumb_inventory_entry *ea = *(const plumb_inventory_entry *const *)a;
	const plumb_inventory_entry *eb = *(const plumb_inventory_entry *const *)b;
	return strcmp(ea->key, eb->key);
}

/*
 * The entry of key in sorted (by key), or NULL. Objects come in path order
 * and entries mostly do too: the one after the last found (*next) is tried
 * first, and *next moves past the one found.
 */
static const plumb_inventory_entry *find_entry(const plumb_inventory_entry **sorted, size_t count, const char *key,
					       size_t *next)
{
	size_t lo = 0, hi = count;
	if (*next < count && !strcmp(sorted[*next]->key, key))
		return sorted[(*next)++];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(sorted[mid]->key, key);
		if (c == 0) {
			*next = mid + 1;
			return sorted[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* qsort, unless the array is in order already: a Tree's walk and the store's reads mostly are. */
static void sort_unless_sorted(void *base, size_t count, size_t size, int (*compare)(const void *, const void *))
{
	for (size_t i = 1; i < count; i++) {
		if (compare((const char *)base + (i - 1) * size, (const char *)base + i * size) > 0) {
			qsort(base, count, size, compare);
			return;
		}
	}
}

static plumb_action *add_action(plumb_plan *plan)
{
	PLUMB_GROW(plan->actions, plan->count, plan->capacity);
	plumb_action *action = &plan->actions[plan->count++];
	memset(action, 0, sizeof(*action));
	plumb_buf_init(&action->change.diff);
	return action;
}

static void count_action(plumb_plan *plan, const plumb_action *action)
{
	switch (action->change.type) {
	case PLUMB_ACTION_CREATE:
		plan->to_create++;
		break;
	case PLUMB_ACTION_UPDATE:
		plan->to_update++;
		break;
	case PLUMB_ACTION_DELETE:
		plan->to_delete++;
		break;
	case PLUMB_ACTION_NONE:
		break;
	}
}

/* True when an action already planned makes a directory of a proper ancestor of key. */
static int replaces_ancestor(const plumb_plan *plan, const char *key)
{
	for (size_t i = 0; i < plan->count; i++) {
		const plumb_action *a = &plan->actions[i];
		if ((a->type == PLUMB_ACTION_CREATE || a->type == PLUMB_ACTION_UPDATE) && !strcmp(a->kind, "Directory") &&
		    strcmp(a->key, key) != 0 && plumb_path_is_within(key, a->key))
			return 1;
	}
	return 0;
}

static int plan_declared(plumb_plan *plan, const plumb_manifest_set *set, const plumb_object *object,
			 const plumb_inventory_entry *entry, const plumb_provider_context *ctx)
{
	plumb_observed observed = { 0 };
	plumb_action *action;
	int error;

	if (entry && strcmp(entry->destination, plan->destination) != 0)
		return plumb_error_set(PLUMB_ECONFLICT, "%s is managed by application '%s' under %s, not by '%s'",
				       object->display, entry->application, entry->destination, plan->application);
	if (entry && strcmp(entry->application, plan->application) != 0)
		return plumb_error_set(PLUMB_ECONFLICT, "%s is managed by application '%s', not '%s'", object->display,
				       entry->application, plan->application);
	int was_sensitive = entry && !strncmp(entry->fingerprint, "sensitive ", 10);
	plumb_provider_context observe_ctx =
		plumb_plan_observe_context(ctx, object->key, object->sensitive || was_sensitive);
	error = object->provider->observe(&observed, &observe_ctx, object->key, object->kind);
	if (error == PLUMB_EUNSAFE && replaces_ancestor(plan, object->key)) {
		/*
		 * A symlink on the way that this plan turns into a directory first: below it there is
		 * nothing yet. Observe as under a root that does not exist (every object absent).
		 */
		plumb_provider_context nothing = *ctx;
		nothing.root_fd = -1;
		nothing.cursor = NULL;
		plumb_observed_release(object->provider, &observed);
		error = object->provider->observe(&observed, &nothing, object->key, object->kind);
	}
	if (error < 0)
		goto done;
	action = add_action(plan);
	action->provider = object->provider;
	action->object = object;
	/* The set outlives the plan's use of it (plumb_pipeline_detach_set): thousands of copies spared. */
	action->borrows_names = 1;
	action->key = object->key;
	action->display = object->display;
	action->kind = (char *)object->kind;
	action->resource = set->resources[object->resource].identity;
	/*
	 * Sensitive now, or when plumb last wrote it (its inventory fingerprint is
	 * keyed): either way its content is shown nowhere in this plan, and both
	 * fingerprints are compared keyed.
	 */
	action->sensitive = object->sensitive || was_sensitive;
	if (object->secret) {
		char *content = plumb_xprintf("content %s", object->secret->blob);
		action->content = plumb_plan_fingerprint(plan, content, 1);
		free(content);
	}
	action->in_inventory = entry != NULL;
	if (entry)
		action->expected = was_sensitive || !*entry->fingerprint
					   ? plumb_xstrdup(entry->fingerprint)
					   : plumb_plan_fingerprint(plan, entry->fingerprint, action->sensitive);
	if ((error = object->provider->compare(&action->change, ctx, object, &observed, object->kind)) < 0)
		goto done;
	action->fingerprint = take_fingerprint(plan, &observed, action->sensitive);
	if (action->sensitive && !object->sensitive && action->change.diff.len) {
		plumb_buf_clear(&action->change.diff);
		plumb_buf_printf(&action->change.diff, "Sensitive content of %s changes (not shown)\n", object->display);
	}
	action->type = action->change.type;
	action->created = entry ? entry->created : (action->type == PLUMB_ACTION_CREATE);
	action->forget = !object->inventoried;
	count_action(plan, action);
done:
	plumb_observed_release(object->provider, &observed);
	return error;
}

static int plan_prune(plumb_plan *plan, const plumb_inventory_entry *entry, const plumb_provider_context *ctx)
{
	const plumb_provider *provider = plumb_provider_by_name(entry->provider);
	plumb_observed observed = { 0 };
	plumb_action *action;
	int error = 0;

	if (!provider)
		return plumb_error_set(PLUMB_EINVALID, "the inventory names an unknown provider '%s' for %s",
				       entry->provider, entry->key);
	action = add_action(plan);
	action->provider = provider;
	action->key = plumb_xstrdup(entry->key);
	action->display = plumb_xprintf("/%s", entry->key);
	action->kind = plumb_xstrdup(entry->kind);
	action->resource = plumb_xstrdup(entry->resource);
	action->created = entry->created;
	action->in_inventory = 1;
	action->expected = plumb_xstrdup(entry->fingerprint);
	action->forget = 1;
	/* The inventory keeps a sensitive object's fingerprint keyed: that is how it is known to be one. */
	action->sensitive = !strncmp(entry->fingerprint, "sensitive ", 10);
	plumb_provider_context observe_ctx = plumb_plan_observe_context(ctx, entry->key, action->sensitive);
	if ((error = provider->observe(&observed, &observe_ctx, entry->key, entry->kind)) < 0)
		goto done;
	if (entry->created) {
		if ((error = provider->compare(&action->change, ctx, NULL, &observed, entry->kind)) < 0)
			goto done;
	} else {
		action->change.reason = plumb_xstrdup("no longer declared in git; left in place (plumb did not create it)");
	}
	action->fingerprint = take_fingerprint(plan, &observed, action->sensitive);
	action->type = action->change.type;
	count_action(plan, action);
done:
	plumb_observed_release(provider, &observed);
	return error;
}

static int compare_action_deepest_first(const void *a, const void *b)
{
	return plumb_path_compare(((const plumb_action *)b)->key, ((const plumb_action *)a)->key);
}

int plumb_plan_build(plumb_plan *plan, const plumb_manifest_set *set, const plumb_inventory *inventory,
		     const plumb_provider_context *ctx)
{
	const plumb_object **objects = plumb_xcalloc(set->object_count, sizeof(*objects));
	const plumb_inventory_entry **entries = plumb_xcalloc(inventory->count, sizeof(*entries));
	char *declared = plumb_xcalloc(inventory->count, 1);
	int error = 0;

	/* At most one action an object and one a row: thousands of them are not grown by doubling. */
	PLUMB_RESERVE(plan->actions, plan->count, plan->capacity, set->object_count + inventory->count);

	for (size_t i = 0; i < set->object_count; i++)
		objects[i] = &set->objects[i];
	sort_unless_sorted(objects, set->object_count, sizeof(*objects), compare_object_ptr);
	for (size_t i = 0; i < inventory->count; i++)
		entries[i] = &inventory->items[i];
	sort_unless_sorted(entries, inventory->count, sizeof(*entries), compare_entry_ptr);

	size_t next_entry = 0;
	for (size_t i = 0; i < set->object_count; i++) {
		const plumb_inventory_entry *entry = find_entry(entries, inventory->count, objects[i]->key, &next_entry);
		if (entry)
			declared[entry - inventory->items] = 1;
		if ((error = plan_declared(plan, set, objects[i], entry, ctx)) < 0)
			goto done;
	}
	size_t first_prune = plan->count;
	for (size_t i = 0; i < inventory->count; i++) {
		const plumb_inventory_entry *entry = &inventory->items[i];
		/* Only this application's objects in this destination are its to prune. */
		if (declared[i] || strcmp(entry->application, plan->application) != 0 ||
		    strcmp(entry->destination, plan->destination) != 0)
			continue;
		if ((error = plan_prune(plan, entry, ctx)) < 0)
			goto done;
	}
	if (plan->count > first_prune)
		qsort(plan->actions + first_prune, plan->count - first_prune, sizeof(*plan->actions),
		      compare_action_deepest_first);
done:
	free(objects);
	free(entries);
	free(declared);
	return error;
}

static void action_release(plumb_action *a)
{
	if (!a->borrows_names) {
		free(a->key);
		free(a->display);
		free(a->kind);
		free(a->resource);
	}
	free(a->fingerprint);
	free(a->content);
	free(a->expected);
	plumb_change_release(&a->change);
}

unsigned plumb_plan_drop_prunes(plumb_plan *plan)
{
	size_t kept = 0;
	unsigned dropped = 0;
	for (size_t i = 0; i < plan->count; i++) {
		plumb_action *a = &plan->actions[i];
		/* A prune: no declared object, leaving the inventory. */
		if (!a->object && a->forget) {
			dropped += a->type == PLUMB_ACTION_DELETE;
			plan->to_delete -= a->type == PLUMB_ACTION_DELETE;
			action_release(a);
			continue;
		}
		plan->actions[kept++] = *a;
	}
	plan->count = kept;
	return dropped;
}

int plumb_plan_has_changes(const plumb_plan *plan)
{
	return plan->to_create + plan->to_update + plan->to_delete > 0;
}

#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define RED "\033[31m"
#define CYAN "\033[36m"
#define BOLD "\033[1m"
#define RESET "\033[0m"

static void print_diff(const char *diff, FILE *out, int color)
{
	const char *line = diff;
	while (*line) {
		const char *end = strchrnul(line, '\n');
		const char *c = "";
		if (color && !strncmp(line, "@@", 2))
			c = CYAN;
		else if (color && *line == '+' && strncmp(line, "+++ ", 4) != 0)
			c = GREEN;
		else if (color && *line == '-' && strncmp(line, "--- ", 4) != 0)
			c = RED;
		fprintf(out, "    %s%.*s%s\n", c, (int)(end - line), line, *c ? RESET : "");
		line = *end ? end + 1 : end;
	}
}

void plumb_plan_print(const plumb_plan *plan, FILE *out, int color)
{
	for (size_t i = 0; i < plan->count; i++) {
		const plumb_action *a = &plan->actions[i];
		const char *marker, *c;
		switch (a->type) {
		case PLUMB_ACTION_CREATE:
			marker = "+", c = GREEN;
			break;
		case PLUMB_ACTION_UPDATE:
			marker = "~", c = YELLOW;
			break;
		case PLUMB_ACTION_DELETE:
			marker = "-", c = RED;
			break;
		default:
			if (a->forget && a->in_inventory && a->change.reason)
				fprintf(out, "  %s %s: %s\n", a->kind, a->display, a->change.reason);
			continue;
		}
		fprintf(out, "%s%s %s %s%s", color ? c : "", marker, a->kind, a->display, color ? RESET : "");
		if (a->change.reason)
			fprintf(out, ": %s", a->change.reason);
		fprintf(out, "  (%s)\n", a->resource);
		if (a->change.diff.len)
			print_diff(a->change.diff.ptr, out, color);
	}
	if (plumb_plan_has_changes(plan))
		fprintf(out, "%sPlan:%s %u to create, %u to update, %u to delete.\n", color ? BOLD : "",
			color ? RESET : "", plan->to_create, plan->to_update, plan->to_delete);
	else
		fprintf(out, "No changes. The live state matches commit %.12s.\n", plan->commit);
}

void plumb_plan_release(plumb_plan *plan)
{
	for (size_t i = 0; i < plan->count; i++)
		action_release(&plan->actions[i]);
	free(plan->actions);
	free(plan->repo);
	free(plan->revision);
	free(plan->commit);
	free(plan->path);
	free(plan->application);
	free(plan->destination);
	free(plan->created_at);
	memset(plan, 0, sizeof(*plan));
}
