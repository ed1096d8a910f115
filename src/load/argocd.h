/*
 * argocd.h - an Argo CD Application (argoproj.io/v1alpha1), read as a
 * plumb application, so that a repository written for Argo CD is synced as
 * it is: an app of apps of Argo CD Applications works unchanged.
 *
 *   spec.source (or spec.sources: one to render, and refs of the same
 *     repository whose $NAME/ value files it reads): repoURL, path,
 *     targetRevision, helm, kustomize, directory (load/render_options.h);
 *     a directory is read without its subfolders unless directory.recurse
 *   spec.destination: server or name (a cluster: the one plumb is given for
 *     https://kubernetes.default.svc and in-cluster, else the context the
 *     clusters configuration names, resolved by discover.h), namespace
 *   spec.syncPolicy: automated {prune, selfHeal}, syncOptions
 *     (CreateNamespace=true, Replace=true, ServerSideApply.ForceConflicts,
 *     and those plumb does anyway: ServerSideApply=true, ApplyOutOfSyncOnly,
 *     RespectIgnoreDifferences, FailOnSharedResource)
 *   spec.ignoreDifferences: jsonPointers and managedFieldsManagers
 *   metadata.annotations argocd.argoproj.io/sync-wave: the wave
 *
 * As Argo CD: without automated, an application is synced only when asked;
 * automated without prune keeps what left the repository; without selfHeal
 * a change by hand is reported, not repaired. A field plumb does not read
 * is a warning at its FILE:LINE:COL, never dropped silently; one it cannot
 * honour without changing what is applied (a plugin, two sources to
 * render) is an error. A chart of a Helm repository (chart:; a repoURL
 * without a scheme is an OCI registry's) or an oci:// source (a chart
 * pushed as an OCI artifact, pulled whole) is named in the render options
 * (render/helm.h), fetched by helm when allowed; the repository Secrets
 * beside the Applications say how (argocd_repository.h).
 */
#ifndef PLUMB_LOAD_ARGOCD_H
#define PLUMB_LOAD_ARGOCD_H

#include "resource/resource.h"
#include "resource/spec.h"
#include "util/diag.h"

#define PLUMB_ARGOCD_API_VERSION "argoproj.io/v1alpha1"

/* True for a document plumb reads as Argo CD's: an Application, or an AppProject (read past with a warning). */
int plumb_argocd_claims(const char *api_version, const char *kind);

/*
 * Decode the Application set->resources[resource], whole (its metadata and
 * spec), into set->applications. An AppProject adds only a warning.
 */
void plumb_argocd_decode(plumb_manifest_set *set, size_t resource, const plumb_spec *document, plumb_diags *diags);

#endif
