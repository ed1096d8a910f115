/*
 * host.h - the host provider: files, directories and symlinks beneath a
 * destination root (apiVersion host/v1).
 *
 * Kinds and their spec fields (paths are under the destination root; a
 * leading "/" is allowed and means the root; ".." never is):
 *
 *   File       path, content | source (a file in the repository), mode,
 *              owner, group, sensitive (content shown nowhere). Without mode, a new file gets 0644 (0755 when
 *              the source is executable in git) and an existing one keeps
 *              its mode; without owner/group they are left as they are.
 *   Directory  path, mode, owner, group.
 *   Symlink    path, target (written as given, resolved on the host).
 *   Absent     path: removed if present (a directory with all it holds).
 *   Tree       source (a folder in the repository), path, owner, group,
 *              sensitive:
 *              a directory, and below it one object per entry of the git
 *              tree: folders become directories, blobs files (git's
 *              executable bit gives 0755, else 0644), symlinks symlinks.
 *
 * Live objects are keyed by their normalised path ("etc/motd"). Content is
 * compared by git blob id. Writes are atomic (util/fs.h).
 *
 * Its destination is a root folder (which need not exist until an apply
 * makes it). For it the provider keeps the stat cache of the files below
 * (saved in the store), a cursor that holds the folders last looked in, so
 * that a pass of observation opens each folder once, and the batch an
 * apply stages its file writes and new folders in, made durable with one
 * flush.
 */
#ifndef PLUMB_PROVIDERS_HOST_H
#define PLUMB_PROVIDERS_HOST_H

#include "providers/provider.h"

#define PLUMB_HOST_API_VERSION "host/v1"

extern const plumb_provider plumb_host_provider;

#endif
