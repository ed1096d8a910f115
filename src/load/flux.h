/*
 * flux.h - Flux's Kustomization (kustomize.toolkit.fluxcd.io) and
 * HelmRelease (helm.toolkit.fluxcd.io) read as plumb applications, so that
 * a repository written for Flux is synced as it is, and its GitRepository
 * (source.toolkit.fluxcd.io) read as where they come from.
 *
 *   Kustomization: path, sourceRef (a GitRepository), prune, suspend,
 *     dependsOn, targetNamespace, postBuild.substitute and substituteFrom
 *     (ConfigMaps and Secrets beside it), force (Replace), timeout, kubeConfig (a
 *     cluster, mapped as an Argo CD destination's), namePrefix, nameSuffix,
 *     images, patches, components (kustomize options, on a kustomization),
 *     commonMetadata (set by the loader on every object: load.h), interval
 *   HelmRelease: chart.spec.chart (a chart folder of a GitRepository, or
 *     a chart of a HelmRepository), chartRef (an OCIRepository's chart),
 *     chart.spec.valuesFiles, releaseName (else [targetNamespace-]name),
 *     targetNamespace (else its own namespace), values, valuesFrom
 *     (ConfigMaps beside it, or one value of a Secret at a targetPath), install.createNamespace, dependsOn, suspend,
 *     timeout, kubeConfig, interval
 *
 * A Secret beside it gives each of its keys as KEY: {secretFrom: NAME}, a
 * plumb Secret of the same folder: the variable (or value) is its
 * placeholder (PLUMB_SECRET_PLACEHOLDER_OPEN), and the plumb Secret goes
 * with the application (render.secrets) to be read when it plans, never
 * before. A value written in the Secret, or a Secret encrypted with SOPS,
 * is refused; so is a whole values document from a Secret (no targetPath).
 *
 * An interval is how often plumb serve looks at the repository when it is
 * shorter than serve's own.
 *
 * A GitRepository whose URL is the repository being read (discover.h's
 * names), or one the path read does not hold (as Flux's own flux-system,
 * which lives in the folder Flux applies itself), is this commit; another
 * is fetched at its ref. A HelmRelease's HelmRepository (in the folder),
 * or the OCIRepository its chartRef names, gives a chart helm fetches when
 * allowed (render/helm.h); a Kustomization's OCIRepository or Bucket
 * source is an error. A field plumb does not read is a warning at its
 * position; a chart's signature to verify is an error.
 */
#ifndef PLUMB_LOAD_FLUX_H
#define PLUMB_LOAD_FLUX_H

#include "resource/resource.h"
#include "resource/spec.h"
#include "source/source.h"
#include "util/diag.h"

/* True for a document plumb reads as Flux's: a Kustomization, a HelmRelease, or a source (GitRepository, ...). */
int plumb_flux_claims(const char *api_version, const char *kind);

/* Decode set->resources[resource], whole, into set->applications (a source adds nothing). */
void plumb_flux_decode(plumb_manifest_set *set, size_t resource, const plumb_spec *document, plumb_diags *diags);

/*
 * Resolve what a Flux application a names in set, the folder that declares
 * it: its GitRepository (a->repo and a->revision, or this commit), the
 * HelmRepository or OCIRepository its chart comes from (a->render's
 * helm.remote), and the ConfigMaps and Secrets its substituteFrom or
 * valuesFrom read (into a->render, a Secret's plumb Secrets into its
 * "secrets"). One it needs that set does not hold is a diagnostic where it
 * is named, unless optional; a source's field at fault is one where it is
 * written (its manifest read again from source; NULL: at its document).
 * Does nothing for an application not Flux's.
 */
void plumb_flux_resolve(plumb_application *a, const plumb_manifest_set *set, plumb_source *source,
			int (*own)(const char *url, void *payload), void *payload, plumb_diags *diags);

/* Whether set->resources[resource] is a ConfigMap or Secret a Flux application of set reads: read, not applied. */
int plumb_flux_consumed(const plumb_manifest_set *set, size_t resource);

#endif
