/*
 * plan.h - what would make the live state match a revision.
 *
 * A plan pairs every declared object with the action that would make it
 * true (create, update, delete for Absent, or nothing), and every object
 * plumb manages for the application that git no longer declares with a
 * prune: deleted when plumb created it, forgotten (left in place) when it
 * only adopted it. Each action carries the fingerprint of what was
 * observed, a one-line reason and, for content, a diff.
 *
 * Order: declared objects parents first (by path), then prunes children
 * first, so that directories exist before what goes in them and are empty
 * before they go.
 */
#ifndef PLUMB_PLAN_H
#define PLUMB_PLAN_H

#include <stdio.h>

#include "providers/provider.h"
#include "store/store.h"

typedef struct {
	plumb_action_type type;
	const plumb_provider *provider;
	const plumb_object *object; /* the declared object (borrowed from the manifest set); NULL for a prune */
	/*
	 * key, display, kind and resource: the action's own strings, or, with
	 * borrows_names, the declared object's and its resource's (borrowed
	 * from the manifest set, as object is).
	 */
	char *key;
	char *display;
	char *kind;
	char *resource;    /* identity of the declaring resource (for a prune: the one that declared it last) */
	int borrows_names;
	char *fingerprint; /* of the live object when it was observed */
	char *expected;    /* what plumb last left there, from the inventory; NULL when plumb never wrote it */
	int created;       /* for the inventory: plumb created (or will create) the object */
	int in_inventory;  /* the object has an inventory row */
	int forget;        /* the object leaves the inventory after this action */
	int sensitive;     /* the object's content is shown nowhere */
	/*
	 * For content from a Secret (which git does not pin): the keyed id of
	 * the value planned, so that a saved plan applies that value or none.
	 * NULL otherwise.
	 */
	char *content;
	plumb_change change;
	plumb_health health;   /* of the live object when it was observed (NONE: its provider does not say) */
	char *health_message;  /* why it is not Healthy, or NULL */
} plumb_action;

/*
 * How a plan's cluster was chosen, so that its saved plan is applied to the
 * same cluster the same way. Strings owned.
 */
typedef struct {
	char *context;    /* the kubeconfig context: the one asked for, else the current one */
	char *kubeconfig; /* the kubeconfig file named (--kubeconfig), absolute; NULL: $KUBECONFIG, else the default */
	char *namespace;  /* the namespace asked for (an Application's, --namespace); NULL: the context's */
	int create_namespace;
	int force_conflicts;
	int replace;      /* Replace=true */
	char *ignore;     /* the Application's ignoreDifferences, as JSON (resource.h); NULL: none */
} plumb_plan_cluster;

typedef struct {
	char *repo;
	char *revision; /* as asked for; "" for the default */
	char *commit;
	char *path;
	char *application;
	char *render; /* what the application asked of the renderer of path (render.h's target options); NULL: nothing */
	char *destination;
	plumb_plan_cluster *cluster; /* a cluster's plan: how it was chosen; NULL for a host root */
	char *created_at; /* when the plan was made, UTC, ISO 8601 */
	plumb_action *actions;
	size_t count;
	size_t capacity;
	unsigned to_create;
	unsigned to_update;
	unsigned to_delete;
	/*
	 * Keys the fingerprints of sensitive objects (an HMAC instead of their
	 * content id), so that plans and the store cannot be used to guess a
	 * secret. Local to a state directory; all zero until set.
	 */
	unsigned char fingerprint_key[32];
} plumb_plan;

/* Start an empty plan; every string is copied. */
void plumb_plan_init(plumb_plan *plan, const char *repo, const char *revision, const char *commit, const char *path,
		     const char *application, const char *destination);

/*
 * Observe and compare every object of set, and every row of inventory (the
 * whole destination's) that belongs to plan->application and is no longer
 * declared: each provider observes its objects in one pass through its
 * destination (opened in destinations on first use). Where a destination
 * places an object (plumb_provider.resolve) is asked first: every object
 * it cannot take is a diagnostic in diags, and then PLUMB_EINVALID. Every
 * object is compared even when the destination refuses some as declared
 * (a cluster's validation): each problem a diagnostic in diags at its
 * field, then PLUMB_EINVALID. Fails (PLUMB_ECONFLICT) when a declared
 * object is managed by another application, or with the provider's error
 * when one cannot be observed or compared; the message names the object.
 */
int plumb_plan_build(plumb_plan *plan, const plumb_manifest_set *set, const plumb_inventory *inventory,
		     plumb_destinations *destinations, plumb_diags *diags);

/* Note how the plan's cluster was chosen (every string copied; NULL ones stay NULL). */
void plumb_plan_set_cluster(plumb_plan *plan, const plumb_plan_cluster *cluster);

/* The fingerprint plumb shows and stores for an observed one: keyed for a sensitive object. New string. */
char *plumb_plan_fingerprint(const plumb_plan *plan, const char *observed, int sensitive);

/*
 * Without prune: keep what git no longer declares. Prune actions leave the
 * plan (and its counts); the objects stay managed, and in the inventory,
 * until pruning is allowed. Returns how many deletions were dropped.
 */
unsigned plumb_plan_drop_prunes(plumb_plan *plan);

/* True when some action changes something. */
int plumb_plan_has_changes(const plumb_plan *plan);

/*
 * Print the plan for people: one line per change ("+", "~", "-"), diffs
 * indented below, and the summary line "Plan: N to create, N to update, N
 * to delete." (or that there is nothing to do). color adds ANSI colours.
 */
void plumb_plan_print(const plumb_plan *plan, FILE *out, int color);

void plumb_plan_release(plumb_plan *plan);

#endif
