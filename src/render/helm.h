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
 * The URL the access to job's remote chart is found by (credentials
 * entries match it by prefix): a registry's chart "oci://HOST/PATH/CHART",
 * a Helm repository's URL; NULL when job renders a folder. A new string.
 */
char *plumb_helm_remote_url(const plumb_render_job *job);

/*
 * A run of helm that fetches: the URLs it fetches from (as
 * plumb_helm_remote_url gives one), the HOME it runs with, the credentials
 * that reach them (NULL: none), and what a refusal names, where.
 */
typedef struct {
	const char *const *urls;
	size_t count;
	const char *home;
	const plumb_source_credentials *credentials;
	plumb_position at;
	const char *what;
} plumb_helm_fetch;

/*
 * Run args (a command line, NULL-terminated here) with envp, limited to
 * timeout_ms and max bytes printed (plumb_process_run_env), with the access
 * fetch's credentials give to its URLs: a registry's username and password
 * written for helm in fetch->home's registry configuration (0600,
 * --registry-config) for that run alone, overwritten and removed when it
 * ends; a CA file (--ca-file); insecureSkipVerify
 * (--insecure-skip-tls-verify, told to the credentials' notice). One run
 * takes one CA file and one insecureSkipVerify for all it fetches: entries
 * that disagree are refused, as is a password for a Helm repository over
 * HTTP (helm takes one only on its command line, which every user of the
 * machine can read). A refusal, or a Secret that cannot be read, is a
 * diagnostic at fetch->at naming fetch->what: PLUMB_EINVALID. Else what
 * plumb_process_run_env returns.
 */
int plumb_helm_run(plumb_process_result *result, plumb_buf *out, plumb_render_args *args, char *const *envp,
		   unsigned timeout_ms, size_t max, const plumb_helm_fetch *fetch, plumb_diags *diags);

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
 * with the access credentials give to each of job->dependency_sources
 * (plumb_helm_run).
 * Returns 0, PLUMB_EINVALID with a diagnostic at pos (it failed, timed
 * out), or another code with the message in the error slot.
 */
int plumb_helm_fetch_dependencies(const plumb_render_job *job, const char *folder, const char *home,
				  const plumb_source_credentials *credentials, unsigned timeout_ms, plumb_position pos,
				  plumb_diags *diags);

#endif
