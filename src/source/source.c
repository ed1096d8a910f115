#include "util/common.h"
#include "util/buf.h"
#include "util/path.h"
#include "source/source.h"
#include "source/internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>

#include <git2.h>

/* Trees nest at most this deep below the directory a walk starts from: input is never recursed without bound. */
#define MAX_TREE_DEPTH 256

/* Our code for a libgit2 error code. */
int plumb_source_code_from_git(int git_code)
{
	switch (git_code) {
	case GIT_ENOTFOUND:
		return PLUMB_ENOTFOUND;
	case GIT_EINVALIDSPEC:
	case GIT_EAMBIGUOUS:
	case GIT_EINVALID:
		return PLUMB_EINVALID;
	case GIT_ELOCKED:
		return PLUMB_ELOCKED;
	default:
		return PLUMB_ERROR;
	}
}

/*
 * Record "<prefix>: <libgit2's message>" with code and return code. Call it
 * right after the libgit2 call that failed: libgit2's message slot is
 * overwritten by the next call. The message is folded onto one line (remote
 * servers send multi-line text).
 */
int plumb_source_git_fail(int code, const char *fmt, ...)
{
	plumb_buf msg = PLUMB_BUF_INIT;
	const git_error *last = git_error_last();
	va_list ap;

	va_start(ap, fmt);
	plumb_buf_vprintf(&msg, fmt, ap);
	va_end(ap);
	if (last && last->message && *last->message) {
		plumb_buf_puts(&msg, ": ");
		size_t start = msg.len;
		plumb_buf_puts(&msg, last->message);
		for (size_t i = start; i < msg.len; i++)
			if (msg.ptr[i] == '\n' || msg.ptr[i] == '\r')
				msg.ptr[i] = ' ';
		while (msg.len > start && msg.ptr[msg.len - 1] == ' ')
			plumb_buf_truncate(&msg, msg.len - 1);
	}
	plumb_error_set(code, "%s", msg.ptr);
	plumb_buf_release(&msg);
	return code;
}

const char *plumb_source_name(const plumb_source *source)
{
	return source->url;
}

const char *plumb_source_git_dir(const plumb_source *source)
{
	return git_repository_path(source->repo);
}

/*
 * The object the reference prefix + revision points to, tags peeled; *out
 * stays NULL when there is no such reference (or it dangles).
 */
static int lookup_reference(git_object **out, plumb_source *source, const char *prefix, const char *revision)
{
	git_reference *ref = NULL;
	char *name = plumb_xprintf("%s%s", prefix, revision);
	int error;

	*out = NULL;
	error = git_reference_lookup(&ref, source->repo, name);
	if (error == 0)
		error = git_reference_peel(out, ref, GIT_OBJECT_ANY);
	if (error == GIT_ENOTFOUND || error == GIT_EINVALIDSPEC)
		error = 0;
	else if (error < 0)
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot read reference %s in %s", name, source->display);
	git_reference_free(ref);
	free(name);
	return error;
}

int plumb_source_resolve(char out[PLUMB_OID_HEXSZ + 1], plumb_source *source, const char *revision)
{
	static const char *const url_prefixes[] = { REMOTE_BRANCHES, "refs/tags/" };
	git_object *object = NULL;
	git_object *commit = NULL;
	int error;

	out[0] = '\0';
	if (!revision || !*revision)
		revision = "HEAD";
	/* A cache has no local branches: refs/heads/NAME is the remote's branch NAME. */
	if (source->is_url && !strncmp(revision, "refs/heads/", 11))
		revision += 11;
	/* A cache has no local branches: a branch name means the remote's branch, a tag name the fetched tag. */
	for (size_t i = 0; source->is_url && !object && i < PLUMB_ARRAY_SIZE(url_prefixes); i++)
		if ((error = lookup_reference(&object, source, url_prefixes[i], revision)) < 0)
			goto done;
	if (!object) {
		error = git_revparse_single(&object, source->repo, revision);
		if (error == GIT_ENOTFOUND || error == GIT_EINVALIDSPEC) {
			error = plumb_error_set(PLUMB_ENOTFOUND, "revision '%s' not found in %s", revision,
						source->display);
			goto done;
		}
		if (error == GIT_EAMBIGUOUS) {
			error = plumb_source_git_fail(PLUMB_EINVALID, "revision '%s' is ambiguous in %s", revision, source->display);
			goto done;
		}
		if (error < 0) {
			error = plumb_source_git_fail(PLUMB_ERROR, "cannot resolve revision '%s' in %s", revision, source->display);
			goto done;
		}
	}
	error = git_object_peel(&commit, object, GIT_OBJECT_COMMIT);
	if (error == GIT_EINVALIDSPEC || error == GIT_EPEEL || error == GIT_ENOTFOUND) {
		error = plumb_error_set(PLUMB_EINVALID, "revision '%s' in %s is a %s, not a commit", revision,
					source->display, git_object_type2string(git_object_type(object)));
		goto done;
	}
	if (error < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot resolve revision '%s' in %s", revision, source->display);
		goto done;
	}
	git_oid_tostr(out, PLUMB_OID_HEXSZ + 1, git_object_id(commit));
done:
	git_object_free(commit);
	git_object_free(object);
	return error;
}

/* Parse a full object id; what ("commit", "blob") goes into the message. */
int plumb_source_parse_id(git_oid *out, const char *id, const char *what)
{
	size_t len = strlen(id);
	bool hex = len == PLUMB_OID_HEXSZ;
	for (size_t i = 0; hex && i < len; i++)
		hex = isxdigit((unsigned char)id[i]) != 0;
	if (!hex || git_oid_fromstr(out, id) < 0)
		return plumb_error_set(PLUMB_EINVALID, "'%s' is not a %s id (40 hex digits)", id, what);
	return 0;
}

int plumb_source_commit_subject(char **out, plumb_source *source, const char *commit)
{
	git_commit *object = NULL;
	git_oid oid;
	int error;

	*out = NULL;
	if ((error = plumb_source_parse_id(&oid, commit, "commit")) < 0)
		return error;
	if ((error = git_commit_lookup(&object, source->repo, &oid)) < 0) {
		error = plumb_source_git_fail(plumb_source_code_from_git(error), "commit %s not found in %s", commit, source->display);
		goto done;
	}
	const char *summary = git_commit_summary(object);
	if (!summary) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot read the message of commit %s in %s", commit, source->display);
		goto done;
	}
	*out = plumb_xstrdup(summary);
done:
	git_commit_free(object);
	return error;
}

/* The tree of commit, borrowed from source: valid until the next lookup of another commit. */
static int commit_tree(git_tree **out, plumb_source *source, const char *commit)
{
	git_commit *object = NULL;
	git_tree *tree = NULL;
	git_oid oid;
	int error;

	*out = NULL;
	if ((error = plumb_source_parse_id(&oid, commit, "commit")) < 0)
		return error;
	if (source->tree && git_oid_equal(&oid, &source->tree_commit)) {
		*out = source->tree;
		return 0;
	}
	if ((error = git_commit_lookup(&object, source->repo, &oid)) < 0) {
		error = plumb_source_git_fail(plumb_source_code_from_git(error), "commit %s not found in %s", commit, source->display);
		goto done;
	}
	if ((error = git_commit_tree(&tree, object)) < 0) {
		error = plumb_source_git_fail(plumb_source_code_from_git(error), "cannot read the tree of commit %s in %s", commit,
				 source->display);
		goto done;
	}
	git_tree_free(source->tree);
	source->tree = tree;
	git_oid_cpy(&source->tree_commit, &oid);
	*out = tree;
done:
	git_commit_free(object);
	return error;
}

static bool entry_type_from_mode(plumb_entry_type *out, git_filemode_t mode)
{
	switch (mode) {
	case GIT_FILEMODE_BLOB: /* libgit2 reads the 100664 of old trees as this */
		*out = PLUMB_ENTRY_FILE;
		return true;
	case GIT_FILEMODE_BLOB_EXECUTABLE:
		*out = PLUMB_ENTRY_EXECUTABLE;
		return true;
	case GIT_FILEMODE_LINK:
		*out = PLUMB_ENTRY_SYMLINK;
		return true;
	case GIT_FILEMODE_TREE:
		*out = PLUMB_ENTRY_TREE;
		return true;
	case GIT_FILEMODE_COMMIT:
		*out = PLUMB_ENTRY_SUBMODULE;
		return true;
	default:
		return false;
	}
}

/*
 * The tree of the commit a gitlink names, when the source has fetched its
 * submodules and has that commit: true with *tree set.
 */
static bool submodule_tree(git_oid *tree, plumb_source *source, const git_oid *commit_id)
{
	git_commit *commit = NULL;
	if (!source->submodule_count || git_commit_lookup(&commit, source->repo, commit_id) < 0) {
		git_error_clear();
		return false;
	}
	git_oid_cpy(tree, git_commit_tree_id(commit));
	git_commit_free(commit);
	return true;
}

/*
 * Look up path below tree one name at a time, going into the gitlinks of
 * fetched submodules, which git_tree_entry_bypath does not. *out is a copy
 * of the last entry, a submodule's as a tree of its commit's tree.
 */
static int bypath_through_submodules(git_tree_entry **out, plumb_source *source, const git_tree *top, const char *path)
{
	git_tree *owned = NULL;
	const git_tree *tree = top;
	int error = 0;

	*out = NULL;
	for (const char *name = path;;) {
		size_t len = strcspn(name, "/");
		char *component = plumb_xprintf("%.*s", (int)len, name);
		const git_tree_entry *entry = git_tree_entry_byname(tree, component);
		free(component);
		if (!entry) {
			error = GIT_ENOTFOUND;
			break;
		}
		git_oid tree_id;
		bool last = name[len] == '\0';
		bool into_submodule = git_tree_entry_filemode(entry) == GIT_FILEMODE_COMMIT &&
				      submodule_tree(&tree_id, source, git_tree_entry_id(entry));
		if (last) {
			if ((error = git_tree_entry_dup(out, entry)) == 0 && into_submodule) {
				/* Seen as the directory it holds: a tree entry of the same name. */
				git_treebuilder *builder = NULL;
				const git_tree_entry *made = NULL;
				error = git_treebuilder_new(&builder, source->repo, NULL);
				if (error == 0)
					error = git_treebuilder_insert(&made, builder, git_tree_entry_name(entry), &tree_id,
								       GIT_FILEMODE_TREE);
				git_tree_entry_free(*out);
				*out = NULL;
				if (error == 0)
					error = git_tree_entry_dup(out, made);
				git_treebuilder_free(builder);
			}
			break;
		}
		if (git_tree_entry_filemode(entry) == GIT_FILEMODE_TREE)
			git_oid_cpy(&tree_id, git_tree_entry_id(entry));
		else if (!into_submodule) {
			error = GIT_ENOTFOUND;
			break;
		}
		git_tree *next = NULL;
		if ((error = git_tree_lookup(&next, source->repo, &tree_id)) < 0)
			break;
		git_tree_free(owned);
		owned = next;
		tree = next;
		name += len + 1;
	}
	git_tree_free(owned);
	return error;
}

/* The gitlink path lies below in tree, as a new string; NULL if none. */
static char *gitlink_above(const git_tree *tree, const char *path)
{
	for (const char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
		char *prefix = plumb_xprintf("%.*s", (int)(slash - path), path);
		git_tree_entry *entry = NULL;
		bool gitlink = git_tree_entry_bypath(&entry, tree, prefix) == 0 &&
			       git_tree_entry_filemode(entry) == GIT_FILEMODE_COMMIT;
		git_tree_entry_free(entry);
		if (gitlink)
			return prefix;
		free(prefix);
	}
	git_error_clear();
	return NULL;
}

/* path does not exist in commit: said so, and where it lies in a submodule not read, which one. */
static int not_found(plumb_source *source, const git_tree *tree, const char *commit, const char *path)
{
	char *submodule = gitlink_above(tree, path);
	if (submodule)
		plumb_error_set(PLUMB_ENOTFOUND,
				"'%s' lies in the submodule %s of commit %.12s of %s, which is read only when asked "
				"(--submodules, or source.submodules: true in its Application)",
				path, submodule, commit, source->display);
	else
		plumb_error_set(PLUMB_ENOTFOUND, "'%s' does not exist in commit %.12s of %s", path, commit,
				source->display);
	free(submodule);
	return PLUMB_ENOTFOUND;
}

char *plumb_source_submodule_of(plumb_source *source, const char *commit, const char *path)
{
	git_tree *tree = NULL;
	if (commit_tree(&tree, source, commit) < 0)
		return NULL;
	return gitlink_above(tree, path);
}

/*
 * Look up a normalised path in the tree of commit. For "" the top tree
 * itself is described and *tree_entry stays NULL; otherwise the caller
 * frees *tree_entry.
 */
static int find_path(plumb_source_entry *entry, git_tree_entry **tree_entry, plumb_source *source,
		     const char *commit, const char *path)
{
	git_tree *tree = NULL;
	int error;

	*tree_entry = NULL;
	if ((error = commit_tree(&tree, source, commit)) < 0)
		return error;
	if (!*path) {
		entry->type = PLUMB_ENTRY_TREE;
		git_oid_tostr(entry->id, sizeof(entry->id), git_tree_id(tree));
		return 0;
	}
	error = source->submodule_count ? bypath_through_submodules(tree_entry, source, tree, path)
					: git_tree_entry_bypath(tree_entry, tree, path);
	if (error == GIT_ENOTFOUND)
		return not_found(source, tree, commit, path);
	if (error < 0)
		return plumb_source_git_fail(plumb_source_code_from_git(error), "cannot look up '%s' in commit %.12s of %s", path, commit,
				source->display);
	if (!entry_type_from_mode(&entry->type, git_tree_entry_filemode(*tree_entry)))
		return plumb_error_set(PLUMB_EINVALID, "'%s' in commit %.12s of %s has unknown mode %06o", path, commit,
				       source->display, (unsigned)git_tree_entry_filemode_raw(*tree_entry));
	git_oid_tostr(entry->id, sizeof(entry->id), git_tree_entry_id(*tree_entry));
	return 0;
}

/* Where this thread records the paths it looks up (plumb_source_record_lookups), or NULL. */
static _Thread_local plumb_source_lookups *recording;

void plumb_source_record_lookups(plumb_source_lookups *lookups)
{
	recording = lookups;
}

void plumb_source_lookups_release(plumb_source_lookups *lookups)
{
	for (size_t i = 0; i < lookups->count; i++)
		free(lookups->items[i].path);
	free(lookups->items);
	memset(lookups, 0, sizeof(*lookups));
}

/* find_path, recorded when this thread records: a missing path is as much a fact as a found one. */
static int lookup_path(plumb_source_entry *entry, git_tree_entry **tree_entry, plumb_source *source,
		       const char *commit, const char *path)
{
	int error = find_path(entry, tree_entry, source, commit, path);
	if (recording && (error == 0 || error == PLUMB_ENOTFOUND)) {
		PLUMB_GROW(recording->items, recording->count, recording->capacity);
		plumb_source_lookup *lookup = &recording->items[recording->count++];
		memset(lookup, 0, sizeof(*lookup));
		lookup->path = plumb_xstrdup(path);
		lookup->found = error == 0;
		lookup->type = entry->type;
		if (lookup->found)
			memcpy(lookup->id, entry->id, sizeof(lookup->id));
	}
	return error;
}

int plumb_source_lookups_hold(plumb_source *source, const char *commit, const plumb_source_lookups *lookups)
{
	for (size_t i = 0; i < lookups->count; i++) {
		const plumb_source_lookup *lookup = &lookups->items[i];
		plumb_source_entry entry;
		git_tree_entry *tree_entry = NULL;
		memset(&entry, 0, sizeof(entry));
		int error = find_path(&entry, &tree_entry, source, commit, lookup->path);
		git_tree_entry_free(tree_entry);
		if (error == PLUMB_ENOTFOUND ? lookup->found
					     : error < 0 || !lookup->found || entry.type != lookup->type ||
						       strcmp(entry.id, lookup->id) != 0)
			return 0;
	}
	return 1;
}

/* "" stays the top; anything else is normalised, so "./a//b/" finds "a/b". */
static int normalize_path(char **out, const char *path)
{
	if (!*path) {
		*out = plumb_xstrdup("");
		return 0;
	}
	return plumb_path_normalize(out, path, 0);
}

int plumb_source_stat(plumb_source_entry *entry, plumb_source *source, const char *commit, const char *path)
{
	git_tree_entry *tree_entry = NULL;
	char *normalized = NULL;
	int error;

	memset(entry, 0, sizeof(*entry));
	entry->path = path;
	if ((error = normalize_path(&normalized, path)) < 0)
		goto done;
	error = lookup_path(entry, &tree_entry, source, commit, normalized);
done:
	git_tree_entry_free(tree_entry);
	free(normalized);
	return error;
}

struct walk {
	plumb_source *source;
	const char *commit;
	const char *dir;
	plumb_buf path; /* relative to dir */
	plumb_source_walk_cb cb;
	void *payload;
};

/* Entries of tree lie depth levels below the walk's directory. */
static int walk_tree(struct walk *walk, const git_tree *tree, unsigned depth)
{
	if (depth > MAX_TREE_DEPTH)
		return plumb_error_set(PLUMB_EINVALID,
				       "directories below '%s' in commit %.12s of %s nest more than %d deep",
				       *walk->dir ? walk->dir : ".", walk->commit, walk->source->display,
				       MAX_TREE_DEPTH);

	size_t count = git_tree_entrycount(tree);
	for (size_t i = 0; i < count; i++) {
		const git_tree_entry *tree_entry = git_tree_entry_byindex(tree, i);
		size_t mark = walk->path.len;
		plumb_source_entry entry;
		int error;

		const char *name = git_tree_entry_name(tree_entry);
		/* git never writes such names, but a crafted tree can hold them: a path must not climb out. */
		if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
			return plumb_error_set(PLUMB_EINVALID,
					       "a tree below '%s%s%s' in commit %.12s of %s has an entry named '%s', "
					       "which is not a valid file name",
					       *walk->dir ? walk->dir : ".", mark ? "/" : "", mark ? walk->path.ptr : "",
					       walk->commit, walk->source->display, name);
		if (mark)
			plumb_buf_putc(&walk->path, '/');
		plumb_buf_puts(&walk->path, name);
		if (!entry_type_from_mode(&entry.type, git_tree_entry_filemode(tree_entry)))
			return plumb_error_set(PLUMB_EINVALID,
					       "'%s' below '%s' in commit %.12s of %s has unknown mode %06o",
					       walk->path.ptr, *walk->dir ? walk->dir : ".", walk->commit,
					       walk->source->display,
					       (unsigned)git_tree_entry_filemode_raw(tree_entry));
		git_oid tree_id;
		git_oid_cpy(&tree_id, git_tree_entry_id(tree_entry));
		/* A fetched submodule is the directory its commit holds. */
		if (entry.type == PLUMB_ENTRY_SUBMODULE && submodule_tree(&tree_id, walk->source, git_tree_entry_id(tree_entry)))
			entry.type = PLUMB_ENTRY_TREE;
		git_oid_tostr(entry.id, sizeof(entry.id), &tree_id);
		entry.path = walk->path.ptr;
		if ((error = walk->cb(&entry, walk->payload)) != 0)
			return error;

		if (entry.type == PLUMB_ENTRY_TREE) {
			git_tree *subtree = NULL;
			if (git_tree_lookup(&subtree, walk->source->repo, &tree_id) < 0)
				return plumb_source_git_fail(PLUMB_ERROR, "cannot read tree '%s' below '%s' in commit %.12s of %s",
						walk->path.ptr, *walk->dir ? walk->dir : ".", walk->commit,
						walk->source->display);
			error = walk_tree(walk, subtree, depth + 1);
			git_tree_free(subtree);
			if (error != 0)
				return error;
		}
		plumb_buf_truncate(&walk->path, mark);
	}
	return 0;
}

int plumb_source_walk(plumb_source *source, const char *commit, const char *dir, plumb_source_walk_cb cb,
		      void *payload)
{
	struct walk walk = { .source = source, .commit = commit, .dir = dir, .path = PLUMB_BUF_INIT, .cb = cb,
			     .payload = payload };
	plumb_source_entry entry = { 0 };
	git_tree_entry *tree_entry = NULL;
	git_tree *tree = NULL;
	char *normalized = NULL;
	git_oid oid;
	int error;

	if ((error = normalize_path(&normalized, dir)) < 0)
		goto done;
	if ((error = lookup_path(&entry, &tree_entry, source, commit, normalized)) < 0)
		goto done;
	if (entry.type != PLUMB_ENTRY_TREE) {
		error = plumb_error_set(PLUMB_EINVALID, "'%s' in commit %.12s of %s is not a directory", dir, commit,
					source->display);
		goto done;
	}
	/*
	 * A tree of our own rather than the cached one: cb may stat another
	 * commit, which replaces the cache while this walk still reads it.
	 */
	git_oid_fromstr(&oid, entry.id);
	if (git_tree_lookup(&tree, source->repo, &oid) < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot read tree '%s' in commit %.12s of %s", dir, commit,
				 source->display);
		goto done;
	}
	error = walk_tree(&walk, tree, 1);
done:
	git_tree_free(tree);
	git_tree_entry_free(tree_entry);
	free(normalized);
	plumb_buf_release(&walk.path);
	return error;
}

/* The size of blob id from the object header alone: a huge blob is refused before it is loaded. */
static int blob_header(size_t *size, git_oid *oid, plumb_source *source, const char *id)
{
	git_odb *odb = NULL;
	git_object_t type;
	int error;

	if ((error = plumb_source_parse_id(oid, id, "blob")) < 0)
		return error;
	if (git_repository_odb(&odb, source->repo) < 0)
		return plumb_source_git_fail(PLUMB_ERROR, "cannot open the object database of %s", source->display);
	error = git_odb_read_header(size, &type, odb, oid);
	if (error == GIT_ENOTFOUND) {
		error = plumb_error_set(PLUMB_ENOTFOUND, "blob %s not found in %s", id, source->display);
		goto done;
	}
	if (error < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot read blob %s in %s", id, source->display);
		goto done;
	}
	if (type != GIT_OBJECT_BLOB)
		error = plumb_error_set(PLUMB_ENOTFOUND, "%s in %s is a %s, not a blob", id, source->display,
					git_object_type2string(type));
done:
	git_odb_free(odb);
	return error;
}

int plumb_source_read_blob(plumb_buf *out, plumb_source *source, const char *id, size_t max)
{
	git_blob *blob = NULL;
	git_oid oid;
	size_t size;
	int error;

	if ((error = blob_header(&size, &oid, source, id)) < 0)
		return error;
	if (size > max)
		return plumb_error_set(PLUMB_EINVALID, "blob %s in %s is %zu bytes, more than the limit of %zu", id,
				       source->display, size, max);
	if (git_blob_lookup(&blob, source->repo, &oid) < 0)
		return plumb_source_git_fail(PLUMB_ERROR, "cannot read blob %s in %s", id, source->display);
	if (size)
		plumb_buf_add(out, git_blob_rawcontent(blob), size);
	git_blob_free(blob);
	return 0;
}

int plumb_source_blob_size(size_t *out, plumb_source *source, const char *id)
{
	git_oid oid;
	size_t size = 0;
	int error = blob_header(&size, &oid, source, id);
	*out = error < 0 ? 0 : size;
	return error;
}

void plumb_source_attach(plumb_source *source, void *data, void (*release)(void *data))
{
	if (source->attached && source->release_attached)
		source->release_attached(source->attached);
	source->attached = data;
	source->release_attached = release;
}

void *plumb_source_attached(const plumb_source *source)
{
	return source->attached;
}

void plumb_source_free(plumb_source *source)
{
	if (!source)
		return;
	plumb_source_attach(source, NULL, NULL);
	git_tree_free(source->tree);
	git_repository_free(source->repo);
	if (source->password)
		explicit_bzero(source->password, strlen(source->password));
	free(source->password);
	for (size_t i = 0; i < source->submodule_count; i++)
		plumb_source_free(source->submodules[i]);
	free(source->submodules);
	free(source->user);
	free(source->revision);
	free(source->state_dir);
	free(source->url);
	free(source->display);
	free(source->name);
	free(source);
}

int plumb_source_global_init(void)
{
	if (git_libgit2_init() < 0)
		return plumb_source_git_fail(PLUMB_ERROR, "cannot initialise libgit2");
	return 0;
}

void plumb_source_global_shutdown(void)
{
	git_libgit2_shutdown();
}
