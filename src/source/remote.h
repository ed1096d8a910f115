/*
 * remote.h - repositories named by a URL: the credentials a URL carries,
 * and the remotes that fetch into its bare cache and push from it.
 *
 * remote.c also opens every repository (plumb_source_open,
 * plumb_source_open_cached and plumb_source_refresh in source.h): a local
 * path in place, a URL by way of its bare cache under STATE/repos/, into
 * which every branch and tag is fetched, or only the one a revision names
 * (plumb_source_open_for). commit.c pushes with what is
 * declared here. Nothing outside src/source/ includes this.
 */
#ifndef PLUMB_SOURCE_REMOTE_H
#define PLUMB_SOURCE_REMOTE_H

#include <git2.h>
#include <stdbool.h>

#include "source/source.h"

/*
 * A remote for the source's URL (name NULL: in memory), without
 * url.*.insteadOf rewrites; the caller frees *out. Returns libgit2's code:
 * report a failure with plumb_source_git_fail at once.
 */
int plumb_source_create_remote(git_remote **out, plumb_source *source, const char *name, const char *fetchspec);

#endif
