/*
 * application.h - the Application kind: where an application's manifests
 * come from, where they go, and how it is synced.
 *
 *   apiVersion: plumb/v1
 *   kind: Application
 *   metadata: {name: web}
 *   spec:
 *     source: {path: apps/web, repo: URL, revision: REV}   # repo, revision: optional
 *       # and what the renderer of path is told, as Argo CD says it (load/render_options.h):
 *       # helm: {valueFiles, values, parameters, ...}, kustomize: {namePrefix, images, ...},
 *       # directory: {recurse, include, exclude, jsonnet}
 *     destination: {host: {root: /}}                        # below the destination root
 *     # or a cluster: {kubernetes: {context: homelab, namespace: shop}}
 *     syncPolicy: {automated: true, prune: true, selfHeal: true, approval: auto,
 *                  createNamespace: false, healthTimeout: 5m}   # a wave waits up to 5m for the one before
 *     dependsOn: [db]
 *     wave: 0
 *
 * discover.h finds the applications a path declares (app of apps).
 */
#ifndef PLUMB_APPLICATION_H
#define PLUMB_APPLICATION_H

#include "resource/resource.h"
#include "resource/spec.h"
#include "util/diag.h"

#define PLUMB_ENGINE_API_VERSION "plumb/v1"

/* Decode an Application's spec (set->resources[resource]) into set->applications. */
void plumb_application_decode(plumb_manifest_set *set, size_t resource, const plumb_spec *spec,
			      plumb_diags *diags);

/*
 * spec.ignoreDifferences (rules) into a->ignore: what no diff shows and no
 * apply takes back, by JSON pointer or by the field manager that owns it.
 * lenient: jqPathExpressions, which plumb cannot follow, is a warning (an
 * Argo CD Application), not an error.
 */
void plumb_application_decode_ignore(plumb_application *a, const plumb_value *rules, int lenient, plumb_diags *diags);

/*
 * Add a to set's applications when it decoded cleanly (diags->count still
 * before), else release it. Its manifests are its own: the folder that
 * declares it does not read them as well.
 */
void plumb_application_keep(plumb_manifest_set *set, plumb_application *a, size_t before, plumb_diags *diags);

void plumb_application_release(plumb_application *application);

/* A copy of from with strings of its own (released with plumb_application_release). */
plumb_application plumb_application_copy(const plumb_application *from);

/* The provider whose objects an application's destination takes: "kubernetes" for a cluster, else "host". */
const char *plumb_application_provider(int kubernetes);

#endif
