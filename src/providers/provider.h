/*
 * provider.h - the contract between the engine and a family of live objects.
 *
 * A provider owns the objects of one apiVersion (host/v1: files,
 * directories, symlinks). The engine never touches live state itself; it
 * asks the provider to:
 *
 *   expand   turn a resource's spec into live objects (at load; bad input
 *            becomes diagnostics with positions),
 *   observe  read the live object and a fingerprint of it,
 *   compare  decide what would make it match what is desired (an action,
 *            a one-line reason, a human diff),
 *   apply    make one planned change true, atomically,
 *   remove   delete an object plumb created and git no longer declares.
 *
 * Adding a provider is adding a folder with one of these tables and listing
 * it in providers/registry.c.
 */
#ifndef PLUMB_PROVIDER_H
#define PLUMB_PROVIDER_H

#include "resource/resource.h"
#include "source/source.h"
#include "resource/spec.h"
#include "store/statcache.h"
#include "util/buf.h"
#include "util/fs.h"

typedef enum {
	PLUMB_ACTION_NONE,
	PLUMB_ACTION_CREATE,
	PLUMB_ACTION_UPDATE,
	PLUMB_ACTION_DELETE,
} plumb_action_type;

/* What the live side looks like to providers. */
typedef struct {
	int root_fd;         /* the destination root, open */
	const char *root;    /* its absolute path, for messages */
	plumb_source *source; /* to read blobs the desired state names */
	/* For a pass of observation only (NULL otherwise): keeps the folder last looked in open. */
	plumb_fs_cursor *cursor;
	/* What live files' stat data said their content was (NULL: hash every file). */
	plumb_stat_cache *stat_cache;
	/*
	 * While applying (NULL otherwise): apply may stage a file write here
	 * instead of making it durable at once, and leave the durability of a
	 * directory it makes to the batch; the engine commits the batch before
	 * it observes the object again or runs any removal.
	 */
	plumb_fs_batch *batch;
} plumb_provider_context;

/* An observed live object; providers put their own state in detail. */
typedef struct {
	int exists;
	char *fingerprint; /* "absent", or type, mode, owner and content id: changes when the object does */
	void *detail;      /* provider-owned, freed by free_observed */
} plumb_observed;

/* The outcome of compare: what to do and why. */
typedef struct {
	plumb_action_type type;
	char *reason;   /* one line, e.g. "content changed", "mode 0600 -> 0644"; NULL for NONE */
	plumb_buf diff; /* unified diff for text content, a one-line note otherwise; may be empty */
} plumb_change;

struct plumb_provider {
	const char *name;          /* "host" */
	const char *api_version;   /* "host/v1" */
	const char *const *kinds;  /* NULL-terminated */

	/*
	 * Decode spec of set->resources[resource] and append its objects (and
	 * content paths) to set. Problems become diagnostics; nothing is added
	 * for a resource that has any.
	 */
	void (*expand)(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
		       plumb_diags *diags);
	void (*free_desired)(void *desired);

	/* Read the live object named key (kind is the object's kind). Errors are real I/O trouble, not absence. */
	int (*observe)(plumb_observed *out, const plumb_provider_context *ctx, const char *key, const char *kind);
	void (*free_observed)(plumb_observed *observed);

	/*
	 * What would make observed match object; object NULL means the object
	 * is no longer declared and plumb created it (a prune): DELETE if it is
	 * still there and still the kind plumb made (inventory_kind), else NONE.
	 */
	int (*compare)(plumb_change *out, const plumb_provider_context *ctx, const plumb_object *object,
		       const plumb_observed *observed, const char *inventory_kind);

	/* Carry out a CREATE or UPDATE of object, atomically. */
	int (*apply)(const plumb_provider_context *ctx, const plumb_object *object, const plumb_change *change);

	/*
	 * Observe object right after apply carried out a CREATE or UPDATE of
	 * it (and the engine committed what apply staged): the same result, to
	 * the byte of its fingerprint, as observe(ctx, object->key,
	 * object->kind), derived from what apply wrote instead of read back.
	 * A content id comes from the content apply wrote; what apply does not
	 * decide alone (a file's mode kept from the file it replaced, its owner
	 * when left as is) is still looked at, through ctx->cursor when there
	 * is one. When the object is no longer the kind apply made, it is
	 * observed. Never consults or fills ctx->stat_cache: a file just written
	 * has not settled. NULL: the engine calls observe.
	 */
	int (*observe_applied)(plumb_observed *out, const plumb_provider_context *ctx, const plumb_object *object);

	/*
	 * Whether apply stages its write of object in ctx->batch (when there is
	 * one) rather than changing the live object at once: the engine makes
	 * what it kept of the object durable before either happens.
	 */
	int (*stages)(const plumb_object *object);

	/* Delete the live object key of kind (a prune, or an Absent object). */
	int (*remove)(const plumb_provider_context *ctx, const char *key, const char *kind);

	/*
	 * Append what the live object holds, to keep it before plumb overwrites
	 * or removes it: a file's bytes, a symlink's target. *has_content is 0
	 * for an object that holds none (a directory). PLUMB_EINVALID when it
	 * holds more than max bytes (out unchanged).
	 */
	int (*capture)(plumb_buf *out, int *has_content, const plumb_provider_context *ctx, const char *key,
		       const char *kind, size_t max);

	/* Append the content object declares (for diffs against a capture); *has_content as for capture. */
	int (*desired_content)(plumb_buf *out, int *has_content, const plumb_provider_context *ctx,
			       const plumb_object *object);

	/* The repository file object's content comes from, or NULL (inline content, none). Borrowed. */
	const char *(*content_path)(const plumb_object *object);

	/*
	 * Take value as the content of an object whose content comes from a
	 * Secret (object->secret): copied, and wiped when the object is freed.
	 * Called before the object is observed or compared.
	 */
	void (*bind_secret)(plumb_object *object, const char *value, size_t length);
};

/* Every provider plumb knows, NULL-terminated. */
const plumb_provider *const *plumb_providers(void);

/* The provider of apiVersion that handles kind, or NULL. */
const plumb_provider *plumb_provider_find(const char *api_version, const char *kind);

/* The provider called name ("host"), or NULL. */
const plumb_provider *plumb_provider_by_name(const char *name);

void plumb_observed_release(const plumb_provider *provider, plumb_observed *observed);
void plumb_change_release(plumb_change *change);

#endif
