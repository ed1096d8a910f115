#include "util/common.h"
#include "plan/plan.h"
#include "providers/registry.h"
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

static char *copy_or_null(const char *text)
{
	return text ? plumb_xstrdup(text) : NULL;
}

static void cluster_free(plumb_plan_cluster *cluster)
{
	if (!cluster)
		return;
	free(cluster->context);
	free(cluster->kubeconfig);
	free(cluster->namespace);
	free(cluster->ignore);
	free(cluster);
}

void plumb_plan_set_cluster(plumb_plan *plan, const plumb_plan_cluster *cluster)
{
	cluster_free(plan->cluster);
	plan->cluster = plumb_xcalloc(1, sizeof(*plan->cluster));
	plan->cluster->context = copy_or_null(cluster->context);
	plan->cluster->kubeconfig = copy_or_null(cluster->kubeconfig);
	plan->cluster->namespace = copy_or_null(cluster->namespace);
	plan->cluster->create_namespace = cluster->create_namespace;
	plan->cluster->force_conflicts = cluster->force_conflicts;
	plan->cluster->replace = cluster->replace;
	plan->cluster->ignore = copy_or_null(cluster->ignore);
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

/* Whether the inventory keeps a keyed fingerprint for entry: that is how a sensitive object is known to be one. */
static int was_sensitive(const plumb_inventory_entry *entry)
{
	return entry && !strncmp(entry->fingerprint, "sensitive ", 10);
}

/*
 * The action for a declared object, from what was observed of it (taken
 * over), its inventory row (NULL when plumb does not manage it yet) and
 * where its destination places it (*key and *display taken over, or NULL:
 * where the object says). A destination that refuses the object as
 * declared says why in diags (compare).
 */
static int plan_declared(plumb_plan *plan, const plumb_manifest_set *set, const plumb_object *object,
			 const plumb_inventory_entry *entry, char **key, char **display, plumb_observed *observed,
			 plumb_destination *destination, plumb_diags *diags)
{
	plumb_action *action = add_action(plan);
	int error;

	action->provider = object->provider;
	action->object = object;
	if (*key) {
		/* Where the destination places it: the action's own names, taken over. */
		action->key = *key;
		action->display = *display;
		action->kind = plumb_xstrdup(object->kind);
		action->resource = plumb_xstrdup(set->resources[object->resource].identity);
		*key = *display = NULL;
	} else {
		/* The set outlives the plan's use of it (plumb_pipeline_detach_set): thousands of copies spared. */
		action->borrows_names = 1;
		action->key = object->key;
		action->display = object->display;
		action->kind = (char *)object->kind;
		action->resource = set->resources[object->resource].identity;
	}
	/*
	 * Sensitive now, or when plumb last wrote it (its inventory fingerprint is
	 * keyed): either way its content is shown nowhere in this plan, and both
	 * fingerprints are compared keyed.
	 */
	action->sensitive = object->sensitive || was_sensitive(entry);
	if (object->secret_count) {
		/* "content BLOB", a blob id a Secret it uses (a File's one, a Kubernetes Secret's one a key). */
		plumb_buf content = PLUMB_BUF_INIT;
		plumb_buf_puts(&content, "content");
		for (size_t i = 0; i < object->secret_count; i++)
			plumb_buf_printf(&content, " %s", object->secrets[i].blob);
		action->content = plumb_plan_fingerprint(plan, content.ptr, 1);
		plumb_buf_release(&content);
	}
	action->in_inventory = entry != NULL;
	if (entry)
		action->expected = was_sensitive(entry) || !*entry->fingerprint
					   ? plumb_xstrdup(entry->fingerprint)
					   : plumb_plan_fingerprint(plan, entry->fingerprint, action->sensitive);
	int untouched = 0;
	if (observed->exists && action->expected && *action->expected) {
		char *now = plumb_plan_fingerprint(plan, observed->fingerprint, action->sensitive);
		untouched = !strcmp(action->expected, now);
		free(now);
	}
	if ((error = object->provider->compare(&action->change, destination, object, observed, object->kind,
					       untouched, diags)) < 0)
		return error;
	if (object->provider->health)
		action->health = object->provider->health(observed, &action->health_message);
	action->fingerprint = take_fingerprint(plan, observed, action->sensitive);
	if (action->sensitive && !object->sensitive && action->change.diff.len) {
		plumb_buf_clear(&action->change.diff);
		plumb_buf_printf(&action->change.diff, "Sensitive content of %s changes (not shown)\n", object->display);
	}
	action->type = action->change.type;
	action->created = entry ? entry->created : (action->type == PLUMB_ACTION_CREATE);
	action->forget = !object->inventoried;
	count_action(plan, action);
	return 0;
}

/* The action for an object of the inventory that git no longer declares, from what was observed of it (taken over). */
static int plan_prune(plumb_plan *plan, const plumb_provider *provider, const plumb_inventory_entry *entry,
		      plumb_observed *observed, plumb_destination *destination)
{
	plumb_action *action = add_action(plan);
	int error;

	action->provider = provider;
	action->key = plumb_xstrdup(entry->key);
	action->display = plumb_provider_display(provider, entry->key);
	action->kind = plumb_xstrdup(entry->kind);
	action->resource = plumb_xstrdup(entry->resource);
	action->created = entry->created;
	action->in_inventory = 1;
	action->expected = plumb_xstrdup(entry->fingerprint);
	action->forget = 1;
	action->sensitive = was_sensitive(entry);
	if (entry->created) {
		if ((error = provider->compare(&action->change, destination, NULL, observed, entry->kind, 0, NULL)) < 0)
			return error;
	} else {
		action->change.reason = plumb_xstrdup("no longer declared in git; left in place (plumb did not create it)");
	}
	action->fingerprint = take_fingerprint(plan, observed, action->sensitive);
	action->type = action->change.type;
	count_action(plan, action);
	return 0;
}

/* Prunes: by provider, then as the provider orders removals (the deepest key first unless it says). */
static int compare_removals(const void *a, const void *b)
{
	const plumb_action *x = a, *y = b;
	int c = strcmp(x->provider->name, y->provider->name);
	if (c)
		return c;
	if (x->provider->order_removal)
		return x->provider->order_removal(x->key, y->key);
	return plumb_path_compare(y->key, x->key);
}

/*
 * Objects are observed this many at a time: a provider reads each batch in
 * one pass (and what it keeps for its destination, a cursor or a list,
 * serves the next), and what was observed is let go once compared, so that
 * a plan holds one batch of observations, not every object's.
 */
#define OBSERVE_BATCH 256

/* One object the plan observes: declared (object), or known only to the inventory (a prune). */
typedef struct {
	const plumb_object *object;
	const plumb_inventory_entry *entry; /* its inventory row; NULL for a declared object plumb does not manage yet */
	const plumb_provider *provider;
	char *key;     /* where its destination places a declared object, when not object->key (resolve); owned */
	char *display;
} planned;

/* Where w's object is: where its destination placed it, else where its manifest or inventory row says. */
static const char *planned_key(const planned *w)
{
	return w->key ? w->key : w->object ? w->object->key : w->entry->key;
}

/* By provider, then by where they are. */
static int compare_provider_and_key(const planned *a, const planned *b)
{
	int c = strcmp(a->provider->name, b->provider->name);
	return c ? c : strcmp(planned_key(a), planned_key(b));
}

/*
 * Observe planned[0..count) in batches of one provider's neighbours, and
 * make each one's action from what was observed. An object its
 * destination refuses (diagnostics in diags) does not stop the others from
 * being compared: every refusal is reported, then PLUMB_EINVALID.
 */
static int observe_and_compare(plumb_plan *plan, const plumb_manifest_set *set, planned *work, size_t count,
			       plumb_destinations *destinations, plumb_diags *diags)
{
	plumb_observation items[OBSERVE_BATCH];
	size_t refused = 0;
	int error = 0;

	for (size_t start = 0, end; start < count && error == 0; start = end) {
		const plumb_provider *provider = work[start].provider;
		for (end = start + 1; end < count && end - start < OBSERVE_BATCH && work[end].provider == provider; end++)
			;
		plumb_destination *destination;
		if ((error = plumb_destinations_get(&destination, destinations, provider)) < 0)
			break;
		for (size_t i = start; i < end; i++) {
			const planned *w = &work[i];
			items[i - start] = (plumb_observation){
				w->object, planned_key(w),
				w->object ? w->object->kind : w->entry->kind,
				(w->object && w->object->sensitive) || was_sensitive(w->entry), { 0 }
			};
		}
		error = provider->observe(destination, items, end - start);
		for (size_t i = start; i < end && error == 0; i++) {
			planned *w = &work[i];
			size_t before = diags->count;
			error = w->object ? plan_declared(plan, set, w->object, w->entry, &w->key, &w->display,
							  &items[i - start].observed, destination, diags)
					  : plan_prune(plan, provider, w->entry, &items[i - start].observed, destination);
			if (error == PLUMB_EINVALID && diags->count > before) {
				refused++;
				error = 0;
			}
		}
		for (size_t i = start; i < end; i++)
			plumb_observed_release(provider, &items[i - start].observed);
	}
	if (error == 0 && refused)
		error = plumb_error_set(PLUMB_EINVALID, "the destination refuses %zu object%s as declared", refused,
					refused == 1 ? "" : "s");
	return error;
}

/*
 * Where each object's destination places it (work[i].key and .display),
 * for the providers that say (resolve). Every object one cannot take is a
 * diagnostic; then PLUMB_EINVALID, once all were asked.
 */
static int place(planned *work, size_t count, plumb_destinations *destinations, plumb_diags *diags)
{
	plumb_diags first = PLUMB_DIAGS_INIT;
	char *again = plumb_xcalloc(count ? count : 1, 1);
	int error = 0;

	/*
	 * Two rounds: an object may be placeable only once another of the set is
	 * (a custom resource once the definition of its kind was resolved), so
	 * what the first round cannot place is asked again, and only the second
	 * round's diagnostics count.
	 */
	for (int round = 0; round < 2 && error == 0; round++) {
		for (size_t i = 0; i < count; i++) {
			const plumb_provider *provider = work[i].provider;
			plumb_destination *destination;
			if (!provider->resolve || (round == 1 && !again[i]))
				continue;
			int e = plumb_destinations_get(&destination, destinations, provider);
			if (e == 0)
				e = provider->resolve(&work[i].key, &work[i].display, destination, work[i].object,
						      round == 0 ? &first : diags);
			if (e == PLUMB_EINVALID) {
				again[i] = 1;
				if (round == 1)
					error = e;
			} else if (e < 0) {
				error = e;
				break;
			}
		}
	}
	plumb_diags_release(&first);
	free(again);
	return error;
}

static int compare_placed_key(const void *a, const void *b)
{
	return compare_provider_and_key(*(const planned *const *)a, *(const planned *const *)b);
}

/*
 * Two objects placed at one live object (a Kubernetes object that names its
 * namespace, and one of the same name that takes it from the destination)
 * are a diagnostic at the second, naming the first: PLUMB_EINVALID.
 */
static int check_placed_once(planned *work, size_t count, plumb_diags *diags)
{
	const planned **sorted = plumb_xcalloc(count ? count : 1, sizeof(*sorted));
	int error = 0;
	for (size_t i = 0; i < count; i++)
		sorted[i] = &work[i];
	qsort(sorted, count, sizeof(*sorted), compare_placed_key);
	for (size_t i = 1; i < count; i++) {
		if (compare_placed_key(&sorted[i - 1], &sorted[i]) != 0)
			continue;
		const plumb_object *a = sorted[i - 1]->object, *b = sorted[i]->object;
		plumb_diags_add(diags, b->position, "%s %s is also declared at %s:%u:%u: one object, two declarations",
				b->kind, sorted[i]->display ? sorted[i]->display : b->display, a->position.file,
				a->position.line, a->position.column);
		error = PLUMB_EINVALID;
	}
	free(sorted);
	return error;
}

/* The order a sync applies declared objects in: each provider's, else by where they are. */
static int compare_planned(const void *a, const void *b)
{
	const planned *pa = a, *pb = b;
	if (pa->provider == pb->provider && pa->provider->order) {
		int c = pa->provider->order(pa->object, pb->object);
		if (c)
			return c;
	}
	return compare_provider_and_key(pa, pb);
}

int plumb_plan_build(plumb_plan *plan, const plumb_manifest_set *set, const plumb_inventory *inventory,
		     plumb_destinations *destinations, plumb_diags *diags)
{
	const plumb_object **objects = plumb_xcalloc(set->object_count, sizeof(*objects));
	const plumb_inventory_entry **entries = plumb_xcalloc(inventory->count, sizeof(*entries));
	char *declared = plumb_xcalloc(inventory->count, 1);
	size_t capacity = set->object_count + inventory->count;
	planned *work = plumb_xcalloc(capacity ? capacity : 1, sizeof(*work));
	size_t count = 0, base = plan->count;
	int error = 0;

	/* At most one action an object and one a row: thousands of them are not grown by doubling. */
	PLUMB_RESERVE(plan->actions, plan->count, plan->capacity, capacity);

	for (size_t i = 0; i < set->object_count; i++)
		objects[i] = &set->objects[i];
	sort_unless_sorted(objects, set->object_count, sizeof(*objects), compare_object_ptr);
	for (size_t i = 0; i < inventory->count; i++)
		entries[i] = &inventory->items[i];
	sort_unless_sorted(entries, inventory->count, sizeof(*entries), compare_entry_ptr);

	for (size_t i = 0; i < set->object_count; i++)
		work[count++] = (planned){ objects[i], NULL, objects[i]->provider, NULL, NULL };
	if ((error = place(work, count, destinations, diags)) < 0)
		goto done;
	/* Only a destination that places objects can place two at one (load saw to the rest). */
	for (size_t i = 0; i < count; i++) {
		if (work[i].key) {
			if ((error = check_placed_once(work, count, diags)) < 0)
				goto done;
			break;
		}
	}
	/* Placed elsewhere than their manifests say, or ordered by their provider: sorted again. */
	for (size_t i = 0; i < count; i++) {
		if (work[i].key || work[i].provider->order) {
			qsort(work, count, sizeof(*work), compare_planned);
			break;
		}
	}

	/* Each declared object, with its inventory row: one that another application manages is not this plan's. */
	size_t next_entry = 0;
	for (size_t i = 0; i < count; i++) {
		const plumb_object *object = work[i].object;
		const char *key = planned_key(&work[i]);
		const char *display = work[i].display ? work[i].display : object->display;
		const plumb_inventory_entry *entry = find_entry(entries, inventory->count, key, &next_entry);
		if (entry && strcmp(entry->destination, plan->destination) != 0) {
			error = plumb_error_set(PLUMB_ECONFLICT, "%s is managed by application '%s' under %s, not by '%s'",
						display, entry->application, entry->destination, plan->application);
			goto done;
		}
		if (entry && strcmp(entry->application, plan->application) != 0) {
			error = plumb_error_set(PLUMB_ECONFLICT, "%s is managed by application '%s', not '%s'", display,
						entry->application, plan->application);
			goto done;
		}
		if (entry)
			declared[entry - inventory->items] = 1;
		work[i].entry = entry;
	}
	size_t first_prune = count;
	for (size_t i = 0; i < inventory->count; i++) {
		const plumb_inventory_entry *entry = &inventory->items[i];
		/* Only this application's objects in this destination are its to prune. */
		if (declared[i] || strcmp(entry->application, plan->application) != 0 ||
		    strcmp(entry->destination, plan->destination) != 0)
			continue;
		const plumb_provider *provider = plumb_provider_by_name(entry->provider);
		if (!provider) {
			error = plumb_error_set(PLUMB_EINVALID, "the inventory names an unknown provider '%s' for %s",
						entry->provider, entry->key);
			goto done;
		}
		work[count++] = (planned){ NULL, entry, provider, NULL, NULL };
	}

	if ((error = observe_and_compare(plan, set, work, count, destinations, diags)) < 0)
		goto done;
	if (plan->count > base + first_prune)
		qsort(plan->actions + base + first_prune, plan->count - base - first_prune, sizeof(*plan->actions),
		      compare_removals);
done:
	for (size_t i = 0; i < count; i++) {
		free(work[i].key);
		free(work[i].display);
	}
	free(work);
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
	free(a->health_message);
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
	free(plan->render);
	free(plan->destination);
	cluster_free(plan->cluster);
	free(plan->created_at);
	memset(plan, 0, sizeof(*plan));
}
