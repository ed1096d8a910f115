/*
 * argocd_repository.h - Argo CD's repository Secrets, kept beside the
 * Applications as its declarative setup keeps them: a v1 Secret labelled
 * argocd.argoproj.io/secret-type: repository (one repository, by url) or
 * repo-creds (every repository its url starts). In a folder of
 * Applications one is read, never applied, for how a chart of its url is
 * fetched: insecureOCIForceHttp: "true" is plain HTTP to an OCI registry.
 * Its credentials, TLS client certificate, insecure (no TLS verification)
 * and proxy are warnings where they are written: helm fetches a chart,
 * and plumb a git repository, with the credentials plumb is given
 * (--credentials), verifying TLS against the CA store plumb runs with,
 * through the proxies plumb runs with. One a renderer made (a
 * kustomization of Applications) is read only as far as load keeps it,
 * its values masked: a warning, and nothing of it honoured.
 */
#ifndef PLUMB_LOAD_ARGOCD_REPOSITORY_H
#define PLUMB_LOAD_ARGOCD_REPOSITORY_H

#include "resource/resource.h"
#include "source/source.h"
#include "util/diag.h"

/* Whether r is an Argo CD repository Secret (repository or repo-creds). */
int plumb_argocd_repository_secret(const plumb_resource *r);

/*
 * For an Argo CD Application a of set: what the repository Secret of set
 * for the url it fetches from (the chart's repository, render options'
 * helm.remote, else its git repository) says (the repository's own, else
 * the longest repo-creds url it starts with), into a->render; its fields
 * plumb does not read are warnings where they are written (the manifest
 * read from source). Does nothing for another application, or when no
 * Secret matches.
 */
void plumb_argocd_repository_resolve(plumb_application *a, const plumb_manifest_set *set, plumb_source *source,
				     plumb_diags *diags);

#endif
