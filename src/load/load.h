/*
 * load.h - manifests at a path of a commit → a set of resources and the
 * live objects they declare.
 *
 * path names one YAML file, or a folder: then every *.yaml and *.yml file
 * below it is read, except below a name that starts with "." and inside
 * the repository paths that resources use as content (a Tree's source
 * folder, a File's source file). A file holds one or more documents
 * separated by "---".
 *
 * Validation collects every problem before failing: YAML syntax, unknown
 * apiVersion or kind, unknown, mistyped and missing fields, duplicate
 * identities, two objects claiming one live path or one path beneath
 * another that is not a directory. Each is a diagnostic "FILE:LINE:COL:
 * message" with FILE the manifest's path in the repository.
 *
 * Below a folder, a folder that holds a kustomization or a Chart.yaml is
 * kustomize's or helm's input, not manifests: its files are not read. Named
 * by path itself, such a folder is rendered instead (render/render.h): its
 * objects are what `kustomize build` or `helm template` printed, each
 * placed at "FOLDER (RENDERER) Kind/name:LINE:COL", the line in the
 * rendered output.
 *
 * A *.jsonnet file (a .libsonnet is only imported) is evaluated
 * (render/jsonnet.h) with the jsonnet options that target->options holds
 * (Argo CD's spec.source: directory.jsonnet), its imports looked for last
 * in the folder loaded; its objects are placed at
 * "FILE (jsonnet) Kind/name:LINE:COL", the line in the object's JSON, and
 * its errors at the FILE:LINE:COL libjsonnet names. It is kept like a YAML
 * file, by its blob and the options, for as long as each file it imported
 * resolves to the same blob.
 *
 * For a Flux Kustomization (target->options: load/flux.h), its variables
 * are substituted in each file's text, and its commonMetadata's labels and
 * annotations set in the metadata of each Kubernetes object, before the
 * object is read.
 *
 * A source keeps the files it parsed, by path and blob id: a later load
 * (the same commit, or a new one) parses again only the files whose blob
 * changed, or whose resources looked up a path that now resolves to
 * something else (a Tree's folder, a File's source, an age file). Files
 * with problems, and files with content from a Secret, are parsed every
 * time. A loaded set is a view of those files: it stays valid after the
 * source is freed.
 */
#ifndef PLUMB_LOAD_H
#define PLUMB_LOAD_H

#include "render/render.h"
#include "resource/resource.h"
#include "source/source.h"
#include "util/diag.h"

/*
 * Fill out (zeroed by the caller) from path of commit, a rendered folder
 * rendered for the application target names (NULL: render.h's defaults).
 * Returns 0, or PLUMB_EINVALID when diagnostics were added (out then holds
 * nothing usable but must still be released), or another code when the
 * repository could not be read (message in the error slot).
 */
int plumb_load(plumb_manifest_set *out, plumb_source *source, const char *commit, const char *path,
	       const plumb_render_target *target, plumb_diags *diags);

/*
 * Forget the parsed manifest files that no load of source used since the
 * last sweep (and that no loaded set still holds). A daemon sweeps once a
 * round, so that what it keeps follows what its applications declare now.
 */
void plumb_load_sweep(plumb_source *source);

/*
 * How source's loads render a folder that a renderer renders (a
 * kustomization, a chart): the programs, the cache's state directory, the
 * limits.
 * Copied; a load before any call renders with the defaults and no cache.
 */
void plumb_load_set_render(plumb_source *source, const plumb_render_options *options);

/* Free what set owns, or let go of the parsed files a loaded set is a view of. */
void plumb_manifest_set_release(plumb_manifest_set *set);

/* How many manifest files this process has parsed: each load parses only what its source's cache could not give. */
unsigned long plumb_load_files_parsed(void);

#endif
