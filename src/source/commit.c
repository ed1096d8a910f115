#include "util/common.h"
#include "source/source.h"
#include "source/internal.h"
#include "source/remote.h"
#include "source/transport.h"

#include <stdlib.h>

#define ROLLBACK_REF "refs/plumb/rollback"

int plumb_source_branch(char **out, plumb_source *source, const char *revision)
{
	git_reference *head = NULL;
	int error = 0;

	*out = NULL;
	if (revision && *revision) {
		const char *branch = strncmp(revision, "refs/heads/", 11) == 0 ? revision + 11 : revision;
		char *ref = plumb_xprintf("%s%s", source->is_url ? REMOTE_BRANCHES : "refs/heads/", branch);
		git_reference *found = NULL;
		error = git_reference_lookup(&found, source->repo, ref);
		git_reference_free(found);
		free(ref);
		if (error == 0) {
			*out = plumb_xstrdup(branch);
			return 0;
		}
		return plumb_error_set(PLUMB_EINVALID,
				       "'%s' is not a branch of %s: a rollback commits onto a branch, not a tag or a commit",
				       revision, source->display);
	}
	/* The default branch: what the remote's HEAD (a URL) or HEAD (a local repository) points at. */
	error = git_reference_lookup(&head, source->repo, source->is_url ? REMOTE_BRANCHES "HEAD" : "HEAD");
	if (error < 0 || git_reference_type(head) != GIT_REFERENCE_SYMBOLIC) {
		error = plumb_error_set(PLUMB_EINVALID, "%s has no default branch; name one with --revision",
					source->display);
		goto done;
	}
	const char *target = git_reference_symbolic_target(head);
	const char *prefix = source->is_url ? REMOTE_BRANCHES : "refs/heads/";
	if (strncmp(target, prefix, strlen(prefix)) != 0) {
		error = plumb_error_set(PLUMB_EINVALID, "%s: HEAD does not name a branch", source->display);
		goto done;
	}
	*out = plumb_xstrdup(target + strlen(prefix));
done:
	git_reference_free(head);
	return error;
}

/* The id of path's entry in commit's tree; *found 0 when there is none. */
static int path_entry(git_oid *out, git_filemode_t *mode, int *found, git_commit *commit, const char *path)
{
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	int error = git_commit_tree(&tree, commit);
	*found = 0;
	if (error < 0)
		return plumb_source_git_fail(PLUMB_ERROR, "cannot read the tree of a commit");
	if (!*path) {
		git_oid_cpy(out, git_tree_id(tree));
		*mode = GIT_FILEMODE_TREE;
		*found = 1;
	} else if ((error = git_tree_entry_bypath(&entry, tree, path)) == 0) {
		git_oid_cpy(out, git_tree_entry_id(entry));
		*mode = git_tree_entry_filemode(entry);
		*found = 1;
	} else if (error == GIT_ENOTFOUND) {
		error = 0;
	} else {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot look up %s", path);
	}
	git_tree_entry_free(entry);
	git_tree_free(tree);
	return error < 0 ? error : 0;
}

static int lookup_commit(git_commit **out, plumb_source *source, const char *id)
{
	git_oid oid;
	int error = plumb_source_parse_id(&oid, id, "commit");
	if (error < 0)
		return error;
	if ((error = git_commit_lookup(out, source->repo, &oid)) < 0)
		return plumb_source_git_fail(plumb_source_code_from_git(error), "commit %s not found in %s", id,
					     source->display);
	return 0;
}

int plumb_source_log(plumb_buf *out, plumb_source *source, const char *from, const char *to, const char *path,
		     unsigned max)
{
	git_revwalk *walk = NULL;
	git_oid from_oid, to_oid, oid;
	unsigned listed = 0;
	int error;

	if ((error = plumb_source_parse_id(&from_oid, from, "commit")) < 0 ||
	    (error = plumb_source_parse_id(&to_oid, to, "commit")) < 0)
		return error;
	if (git_revwalk_new(&walk, source->repo) < 0 || git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL) < 0 ||
	    git_revwalk_push(walk, &to_oid) < 0 || git_revwalk_hide(walk, &from_oid) < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot walk the history of %s", source->display);
		goto done;
	}
	while (listed < max && (error = git_revwalk_next(&oid, walk)) == 0) {
		git_commit *commit = NULL, *parent = NULL;
		git_oid mine, theirs;
		git_filemode_t mode;
		int have_mine = 0, have_theirs = 0;
		if ((error = git_commit_lookup(&commit, source->repo, &oid)) < 0) {
			error = plumb_source_git_fail(PLUMB_ERROR, "cannot read a commit of %s", source->display);
			goto done;
		}
		/* A commit changed path when its entry there differs from its first parent's. */
		error = path_entry(&mine, &mode, &have_mine, commit, path);
		if (error == 0 && git_commit_parentcount(commit) > 0 && git_commit_parent(&parent, commit, 0) == 0)
			error = path_entry(&theirs, &mode, &have_theirs, parent, path);
		if (error == 0 && (have_mine != have_theirs || (have_mine && !git_oid_equal(&mine, &theirs)))) {
			char short_id[13];
			git_oid_tostr(short_id, sizeof(short_id), &oid);
			plumb_buf_printf(out, "%s %s\n", short_id, git_commit_summary(commit));
			listed++;
		}
		git_commit_free(parent);
		git_commit_free(commit);
		if (error < 0)
			goto done;
	}
	if (error == GIT_ITEROVER || listed == max)
		error = 0;
	else if (error < 0)
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot walk the history of %s", source->display);
done:
	git_revwalk_free(walk);
	return error;
}

/* Report a push status per reference: a rejected update fails the push. */
static int push_status(const char *refname, const char *status, void *payload)
{
	/* libgit2 hands every callback the same payload: the transfer's state, which keeps the rejection too. */
	plumb_transport *state = payload;
	if (status && !*state->rejection)
		*state->rejection = plumb_xprintf("%s: %s", refname, status);
	return 0;
}

static int push(plumb_source *source, const git_oid *commit, const char *branch)
{
	git_remote *remote = NULL;
	git_reference *ref = NULL;
	plumb_transport transport;
	git_push_options options;
	char *rejection = NULL;
	/* Not forced: the remote branch must fast-forward to the new commit. */
	char *refspec = plumb_xprintf("%s:refs/heads/%s", ROLLBACK_REF, branch);
	char *refspecs_list[] = { refspec };
	git_strarray refspecs = { refspecs_list, 1 };
	int error;

	git_push_options_init(&options, GIT_PUSH_OPTIONS_VERSION);
	if ((error = plumb_transport_begin(&transport, source, &options.callbacks)) < 0)
		goto done;
	if (git_reference_create(&ref, source->repo, ROLLBACK_REF, commit, 1, "plumb: rollback") < 0 ||
	    plumb_source_create_remote(&remote, source, NULL, NULL) < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot prepare the push to %s", source->display);
		goto done;
	}
	options.callbacks.push_update_reference = push_status;
	options.proxy_opts.type = GIT_PROXY_AUTO;
	transport.rejection = &rejection;
	if (git_remote_push(remote, &refspecs, &options) < 0) {
		char *what = plumb_xprintf("cannot push the rollback to %s", source->display);
		error = plumb_transport_fail(&transport, PLUMB_ECONFLICT, what);
		free(what);
		goto done;
	}
	if (rejection) {
		error = plumb_error_set(PLUMB_ECONFLICT, "%s refused the rollback commit (%s); fetch and try again",
					source->display, rejection);
		goto done;
	}
	/* The cache follows the remote branch it just moved. */
	char *tracking = plumb_xprintf("%s%s", REMOTE_BRANCHES, branch);
	git_reference *updated = NULL;
	error = git_reference_create(&updated, source->repo, tracking, commit, 1, "plumb: rollback pushed");
	git_reference_free(updated);
	free(tracking);
	if (error < 0)
		error = plumb_source_git_fail(PLUMB_ERROR, "pushed, but cannot update the cache of %s", source->display);
done:
	if (ref)
		git_reference_delete(ref);
	git_reference_free(ref);
	git_remote_free(remote);
	plumb_transport_end(&transport);
	free(rejection);
	free(refspec);
	return error;
}

int plumb_source_restore_commit(char out[PLUMB_OID_HEXSZ + 1], plumb_source *source,
				const plumb_restore_options *options)
{
	git_commit *tip = NULL, *target = NULL;
	git_tree *tip_tree = NULL, *new_tree = NULL;
	git_signature *author = NULL;
	git_oid tree_oid, commit_oid, entry_oid, tip_entry_oid;
	git_filemode_t mode, tip_mode;
	int in_target = 0, in_tip = 0;
	char tip_id[PLUMB_OID_HEXSZ + 1];
	char *branch_ref = plumb_xprintf("%s%s", source->is_url ? REMOTE_BRANCHES : "refs/heads/", options->branch);
	int error;

	out[0] = '\0';
	if ((error = plumb_source_resolve(tip_id, source, branch_ref)) < 0 ||
	    (error = lookup_commit(&tip, source, tip_id)) < 0 ||
	    (error = lookup_commit(&target, source, options->target)) < 0 ||
	    (error = path_entry(&entry_oid, &mode, &in_target, target, options->path)) < 0 ||
	    (error = path_entry(&tip_entry_oid, &tip_mode, &in_tip, tip, options->path)) < 0)
		goto done;
	if (in_target == in_tip && (!in_tip || (git_oid_equal(&entry_oid, &tip_entry_oid) && mode == tip_mode))) {
		error = plumb_error_set(PLUMB_EINVALID, "%s is already as it was in %.12s on branch %s: nothing to roll back",
					*options->path ? options->path : "the tree", options->target, options->branch);
		goto done;
	}
	if (git_commit_tree(&tip_tree, tip) < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot read the tree of %s", tip_id);
		goto done;
	}
	if (!*options->path) {
		git_oid_cpy(&tree_oid, &entry_oid);
	} else {
		git_tree_update update = { in_target ? GIT_TREE_UPDATE_UPSERT : GIT_TREE_UPDATE_REMOVE, entry_oid, mode,
					   options->path };
		if (git_tree_create_updated(&tree_oid, source->repo, tip_tree, 1, &update) < 0) {
			error = plumb_source_git_fail(PLUMB_ERROR, "cannot build the rolled-back tree");
			goto done;
		}
	}
	if (git_tree_lookup(&new_tree, source->repo, &tree_oid) < 0 ||
	    git_signature_now(&author, options->author_name, options->author_email) < 0) {
		error = plumb_source_git_fail(PLUMB_EINVALID, "cannot make the rollback commit");
		goto done;
	}
	const git_commit *parents[] = { tip };
	if (git_commit_create(&commit_oid, source->repo, NULL, author, author, "UTF-8", options->message, new_tree, 1,
			      parents) < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot make the rollback commit");
		goto done;
	}
	if (error == 0)
		git_oid_tostr(out, PLUMB_OID_HEXSZ + 1, &commit_oid);
done:
	git_signature_free(author);
	git_tree_free(new_tree);
	git_tree_free(tip_tree);
	git_commit_free(target);
	git_commit_free(tip);
	free(branch_ref);
	return error;
}

int plumb_source_hooks_dir(char **out, plumb_source *source)
{
	git_config *config = NULL;
	git_buf path = GIT_BUF_INIT;
	int error = 0;

	*out = NULL;
	if (source->is_url || git_repository_is_bare(source->repo))
		return plumb_error_set(PLUMB_EINVALID, "%s has no work tree to install hooks in", source->display);
	if (git_repository_config_snapshot(&config, source->repo) < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot read the configuration of %s", source->display);
		goto done;
	}
	/* core.hooksPath moves the hooks (relative to the work tree); git runs only those then. */
	if (git_config_get_path(&path, config, "core.hooksPath") == 0) {
		const char *workdir = git_repository_workdir(source->repo);
		*out = path.ptr[0] == '/' ? plumb_xstrdup(path.ptr) : plumb_xprintf("%s%s", workdir, path.ptr);
	} else if (git_repository_item_path(&path, source->repo, GIT_REPOSITORY_ITEM_HOOKS) == 0) {
		*out = plumb_xstrdup(path.ptr);
	} else {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot find the hooks folder of %s", source->display);
		goto done;
	}
	/* libgit2 ends folder paths with "/"; the hooks' paths are made by adding "/NAME". */
	for (size_t n = strlen(*out); n > 1 && (*out)[n - 1] == '/'; n--)
		(*out)[n - 1] = '\0';
done:
	git_buf_dispose(&path);
	git_config_free(config);
	return error;
}

int plumb_source_index_commit(char out[PLUMB_OID_HEXSZ + 1], plumb_source *source)
{
	const char *index_file = getenv("GIT_INDEX_FILE");
	git_index *index = NULL;
	git_tree *tree = NULL;
	git_object *head = NULL;
	git_signature *author = NULL;
	git_oid tree_oid, commit_oid;
	int error = 0;

	out[0] = '\0';
	if (source->is_url || git_repository_is_bare(source->repo))
		return plumb_error_set(PLUMB_EINVALID, "%s has no work tree: --staged checks the index of one",
				       source->display);
	/* In a pre-commit hook git names the index being committed (e.g. for commit -a) in GIT_INDEX_FILE. */
	if ((index_file && *index_file ? git_index_open(&index, index_file) : git_repository_index(&index, source->repo)) <
	    0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot read the index of %s", source->display);
		goto done;
	}
	if (git_index_has_conflicts(index)) {
		error = plumb_error_set(PLUMB_EINVALID, "the index of %s has unresolved conflicts", source->display);
		goto done;
	}
	if (git_index_write_tree_to(&tree_oid, index, source->repo) < 0 ||
	    git_tree_lookup(&tree, source->repo, &tree_oid) < 0 ||
	    git_signature_now(&author, "plumb", "plumb@localhost") < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot write the tree of the index of %s", source->display);
		goto done;
	}
	/* A repository without a commit yet has a first commit staged: no parent. */
	int has_head = git_revparse_single(&head, source->repo, "HEAD^{commit}") == 0;
	const git_commit *parents[] = { (const git_commit *)head };
	if (git_commit_create(&commit_oid, source->repo, NULL, author, author, "UTF-8", "the staged changes\n", tree,
			      has_head ? 1 : 0, parents) < 0) {
		error = plumb_source_git_fail(PLUMB_ERROR, "cannot record the staged changes of %s", source->display);
		goto done;
	}
	git_oid_tostr(out, PLUMB_OID_HEXSZ + 1, &commit_oid);
done:
	git_signature_free(author);
	git_object_free(head);
	git_tree_free(tree);
	git_index_free(index);
	return error;
}

int plumb_source_publish(plumb_source *source, const char *branch, const char *commit, const char *tip)
{
	git_reference *moved = NULL, *head = NULL;
	git_oid commit_oid, tip_oid;
	char *branch_ref = plumb_xprintf("refs/heads/%s", branch);
	int error;

	if ((error = plumb_source_parse_id(&commit_oid, commit, "commit")) < 0 ||
	    (error = plumb_source_parse_id(&tip_oid, tip, "commit")) < 0)
		goto done;
	if (source->is_url) {
		error = push(source, &commit_oid, branch);
		goto done;
	}
	/* As git's receive.denyCurrentBranch: a checked-out branch would leave its work tree behind. */
	if (!git_repository_is_bare(source->repo) && git_reference_lookup(&head, source->repo, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
	    !strcmp(git_reference_symbolic_target(head), branch_ref)) {
		error = plumb_error_set(PLUMB_EINVALID,
					"branch %s is checked out in the work tree of %s; plumb will not move it under "
					"the work tree (roll back through a bare repository or a remote)",
					branch, source->display);
		goto done;
	}
	if (git_reference_create_matching(&moved, source->repo, branch_ref, &commit_oid, 1, &tip_oid,
					  "plumb: rollback") < 0)
		error = plumb_source_git_fail(PLUMB_ECONFLICT, "cannot move branch %s of %s", branch, source->display);
done:
	git_reference_free(head);
	git_reference_free(moved);
	free(branch_ref);
	return error;
}
