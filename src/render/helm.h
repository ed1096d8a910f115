/*
 * helm.h - what an application asks of `helm template`, as Argo CD's helm
 * source options say it (render.h's target options, "helm"): the release
 * name and namespace, value files (from the repository), inline values,
 * parameters (--set, --set-string, --set-file) and the switches
 * (--skip-crds, --skip-schema-validation, --skip-tests, --kube-version,
 * --api-versions).
 *
 * The arguments are built in one place, for the key of the output and for
 * the run: a key made with the copy's root "." names the same arguments the
 * run passes.
 */
#ifndef PLUMB_RENDER_HELM_H
#define PLUMB_RENDER_HELM_H

#include "render/job.h"
#include "source/source.h"
#include "util/diag.h"
#include "util/buf.h"

/*
 * Take job->options' release name and namespace over job's, keep its
 * inline values (values, or valuesObject as JSON) in job->values, and add the
 * repository files they read (value files, file parameters) to job's
 * inputs. A value file that does not exist in commit is a diagnostic where
 * it was written (unless ignoreMissingValueFiles), and left out. Returns 0,
 * PLUMB_EINVALID with diagnostics, or another code (the repository could
 * not be read).
 */
int plumb_helm_prepare(plumb_render_job *job, plumb_source *source, const char *commit, plumb_diags *diags);

/*
 * The arguments after `helm`: template RELEASE FOLDER --namespace NS and
 * what the options add, with repository paths under root (the copy's; "."
 * for the key) and the inline values in values_file (NULL: none written).
 */
void plumb_helm_arguments(plumb_render_args *args, const plumb_render_job *job, const char *root,
			  const char *values_file);

/*
 * The chart of a Helm repository that options (render.h's target options)
 * name in "helm"."remote" ({repo, chart, version, file, line, column}: an
 * Argo CD source's chart, a Flux HelmRepository's or OCIRepository's;
 * "digest" for a chart of an OCI registry at one digest, "plainHttp" true
 * for a registry served without TLS): "REPO CHART@VERSION" (or @DIGEST; a
 * new string), or NULL when they name none. Such a chart is fetched by
 * helm itself (`helm template --repo`, or its oci:// reference), only when
 * fetching is allowed.
 */
char *plumb_helm_remote(const char *options);

/* Whether a chart repository's URL is an OCI registry's (oci://HOST/PATH), whose charts helm pulls by reference. */
int plumb_helm_is_oci(const char *repo);

/* Whether version names one release ("1.2.3", "v1.2.3-rc.1+build.5"), not a range. */
int plumb_helm_is_release(const char *version);

/*
 * Whether job's chart of a Helm repository names no release but a range
 * ("6.x", ">=1.2 <2", none: the latest), which names another release when
 * one is published: it is pinned to the release it resolves to now before
 * it is keyed and rendered, so that a new release renders anew.
 */
int plumb_helm_remote_unpinned(const plumb_render_job *job);

/* The arguments after `helm` that show the Chart.yaml of job's remote chart as its version resolves now. */
void plumb_helm_show_arguments(plumb_render_args *args, const plumb_render_job *job);

/* The release `helm show chart` printed (its version: line) into *out (a new string); PLUMB_EINVALID when none. */
int plumb_helm_shown_version(char **out, const char *chart_yaml);

/* options (render.h's target options) with their remote chart's version set to version: a new string. */
char *plumb_helm_options_pinned(const char *options, const char *version);

/* Pin job's remote chart to version: in its options (what the run and the key read), its name and job->pinned. */
void plumb_helm_pin_remote(plumb_render_job *job, const char *version);

/* Whether options name a chart of a Helm repository (plumb_helm_remote would give one). */
int plumb_helm_is_remote(const char *options);

/* Where the options write the remote chart, for a diagnostic (file borrowed from job->options' parse: copied). */
plumb_position plumb_helm_remote_position(const plumb_render_job *job, char **file);

/*
 * What reaching job's chart of a registry or repository takes, from
 * credentials (the entry for its URL, a registry's chart "oci://HOST/
 * PATH/CHART"; NULL: none), appended to args: a registry's username and
 * password, written for helm in home's registry configuration (0600;
 * --registry-config; wiped by plumb_helm_access_wipe), a CA file
 * (--ca-file) and insecureSkipVerify (--insecure-skip-tls-verify, told to
 * the credentials' notice). A password for a Helm repository over HTTP is
 * refused: helm takes one only on its command line, which every user of
 * the machine can read. One run of helm takes one CA file and
 * insecureSkipVerify for all it fetches: entries that disagree are
 * refused. Returns 0, or a code with the message in the error slot (those
 * refusals, a Secret that cannot be read).
 */
int plumb_helm_access(plumb_render_args *args, const plumb_render_job *job, const char *home,
		      const plumb_source_credentials *credentials);

/* Overwrite and remove the registry login plumb_helm_access wrote in home, if any. */
void plumb_helm_access_wipe(const char *home);

/*
 * The environment of a helm that reaches the network: no PATH, HOME in the
 * copy, no kubeconfig, and the proxies and CA store (SSL_CERT_FILE,
 * SSL_CERT_DIR) plumb itself runs with. NULL-ended,
 * each string owned; free with plumb_helm_environment_release.
 */
char **plumb_helm_network_environment(const char *home);
void plumb_helm_environment_release(char **envp);

/*
 * Run `helm dependency build FOLDER` on the copy (folder absolute, home the
 * copy's HOME) when job->fetch_dependencies: the one time a renderer may
 * reach the network, through the proxies plumb's own environment names,
 * with the access credentials give to each of job->dependency_sources (as
 * plumb_helm_access gives it to a chart).
 * Returns 0, PLUMB_EINVALID with a diagnostic at pos (it failed, timed
 * out), or another code with the message in the error slot.
 */
int plumb_helm_fetch_dependencies(const plumb_render_job *job, const char *folder, const char *home,
				  const plumb_source_credentials *credentials, unsigned timeout_ms, plumb_position pos,
				  plumb_diags *diags);

#endif
