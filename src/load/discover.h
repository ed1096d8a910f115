/*
 * discover.h - the applications a path declares: a path that holds
 * Applications is an app of apps.
 *
 * A path that holds no Application is one implicit application named
 * after it. A path that holds Applications holds nothing else; an
 * Application whose path holds Applications is an app of apps in turn
 * (nesting works; a cycle is an error naming it). The applications to sync
 * are the leaves, ordered by wave, then so that each comes after what it
 * depends on.
 */
#ifndef PLUMB_DISCOVER_H
#define PLUMB_DISCOVER_H

#include "load/application.h"
#include "source/source.h"
#include "util/diag.h"

/*
 * What only the configuration can tell of what Applications name: the
 * kubeconfig context of a cluster named another tool's way (an Argo CD
 * destination's name or server), and the URLs that mean the repository
 * being read (an Argo CD repoURL written for the forge, read here from a
 * clone or a mirror).
 */
typedef struct {
	const char *const *clusters; /* "NAME=CONTEXT" each */
	size_t cluster_count;
	const char *const *repo_aliases;
	size_t repo_alias_count;
} plumb_discover_names;

/* The leaves to sync, in order; each owned. */
typedef struct {
	plumb_application *items;
	size_t count;
	size_t capacity;
} plumb_applications;

/*
 * Find the applications that path of commit declares, names telling what
 * their clusters and repositories mean (NULL: nothing). An Application
 * whose repository is this one (its URL, as names or the source call it)
 * reads this commit: its revision too when it gives none, or HEAD. A
 * cluster names does not map is an error where it is written. An implicit
 * application is named implicit_name, and goes to a cluster when
 * implicit_kubernetes (the command line named one), else to a host root;
 * a chart it names is rendered in implicit_namespace (NULL: "default").
 * Problems (a cycle, an unknown dependency, a dependency cycle,
 * Applications mixed with other kinds, objects that do not go to their
 * application's destination, invalid manifests anywhere on the way) become
 * diagnostics: PLUMB_EINVALID. Other errors: the repository could not be
 * read.
 */
int plumb_applications_discover(plumb_applications *out, plumb_source *source, const char *commit, const char *path,
				const char *implicit_name, const char *implicit_namespace, int implicit_kubernetes,
				const plumb_discover_names *names, plumb_diags *diags);

void plumb_applications_release(plumb_applications *applications);

/* The application called name, or NULL. */
const plumb_application *plumb_applications_find(const plumb_applications *applications, const char *name);

#endif
