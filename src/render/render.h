/*
 * render.h - a folder of a commit rendered into manifests by the program
 * its kind asks for, as Argo CD's repo server does: kustomize for a folder
 * holding kustomization.yaml, kustomization.yml or Kustomization, run as
 * `kustomize build`; helm for a folder holding Chart.yaml, run as
 * `helm template RELEASE FOLDER --namespace NS`.
 *
 * The program never sees the repository. It runs on a private read-only
 * copy, written from the object database into a temporary directory, of
 * only what it can reach: a kustomization's folder, and the paths outside
 * it that a kustomization below it names; a chart's folder alone. A path
 * that leaves the repository, a remote base, a chart dependency not
 * vendored under charts/ and a symlink out of the repository are refused
 * before anything runs, each a diagnostic at its FILE:LINE:COL or path. The
 * program runs with no proxy that works, no git on its PATH, a time limit
 * and a cap on its output; on failure its standard error, trimmed, is the
 * diagnostic, naming the folder.
 *
 * The output is cached under STATE/render/ by the key of what determines
 * it: the ids of the inputs above, the program's version and its arguments.
 * A commit that changes nothing the folder reaches renders nothing. An
 * entry not used for PLUMB_RENDER_CACHE_DAYS days is pruned (cache.h).
 */
#ifndef PLUMB_RENDER_H
#define PLUMB_RENDER_H

#include <stddef.h>

#include "render/job.h"
#include "render/versions.h"
#include "source/source.h"
#include "util/buf.h"
#include "util/diag.h"

#define PLUMB_RENDER_TIMEOUT_MS 60000u
#define PLUMB_RENDER_OUTPUT_MAX (64u << 20)

typedef struct {
	int allow_chart_fetch; /* a chart dependency not vendored under charts/ is fetched (helm dependency build), not refused */
	const char *kustomize; /* the program, looked up in PATH; NULL: $PLUMB_KUSTOMIZE, else "kustomize" */
	const char *helm;      /* the program, looked up in PATH; NULL: $PLUMB_HELM, else "helm" */
	const char *state_dir; /* where the cache lives; NULL: no cache on disk */
	unsigned timeout_ms;   /* 0: $PLUMB_RENDER_TIMEOUT_MS, else PLUMB_RENDER_TIMEOUT_MS */
	size_t output_max;     /* 0: $PLUMB_RENDER_OUTPUT_MAX (bytes), else PLUMB_RENDER_OUTPUT_MAX */
	plumb_render_versions *versions; /* borrowed; NULL: each folder asks its program's version */
	/* How a chart of a registry or repository is reached (render/helm.h plumb_helm_run); NULL: anonymously. */
	const plumb_source_credentials *credentials;
	/*
	 * This program, run as `SELF __jsonnet-evaluate ...` to evaluate a
	 * *.jsonnet file in a process of its own under the time limit, the
	 * output cap and a memory limit (render/jsonnet_child.h); NULL: the
	 * file is evaluated in the calling thread, with no time or memory limit.
	 */
	const char *self;
} plumb_render_options;

/* The time limit a program (or a jsonnet evaluation) has: options' (NULL: none), else the defaults above. */
unsigned plumb_render_timeout(const plumb_render_options *options);

/* The cap on what it prints, in bytes, the same way. */
size_t plumb_render_output_max(const plumb_render_options *options);

/* The application a folder is rendered for: helm's release name and namespace, and what it asks of the renderer. */
typedef struct {
	const char *name;      /* NULL: the folder's last component (the repository root: "release") */
	const char *namespace; /* NULL: "default" */
	const char *options;   /* JSON in the shape of Argo CD's spec.source: {helm, kustomize, directory, substitute}; NULL: none */
} plumb_render_target;


/* True when a file of this name makes its folder a Helm chart (Chart.yaml). */
int plumb_render_is_chart(const char *name);

/* The renderer for folder path of commit ("kustomize", "helm"), or NULL for a plain folder. */
const char *plumb_render_kind(plumb_source *source, const char *commit, const char *path);

/*
 * Find what the folder reaches and compute its key (out zeroed by the
 * caller), for the application target names (NULL: the defaults above).
 * Returns 0; PLUMB_EINVALID with diagnostics added (a path out of the
 * repository, a remote base, a chart dependency not vendored); or another
 * code with the message in the error slot (the program could not tell its
 * version, the repository could not be read).
 */
int plumb_render_prepare(plumb_render_job *out, plumb_source *source, const char *commit, const char *path,
			 const plumb_render_target *target, const plumb_render_options *options, plumb_diags *diags);

/*
 * The rendered YAML of job, appended to out: from the cache, else by running
 * the program on a private copy. Returns 0, or PLUMB_EINVALID with a
 * diagnostic (a symlink out of the repository, the program failed, timed
 * out or printed too much), or another code with the message in the error
 * slot.
 */
int plumb_render_output(plumb_buf *out, const plumb_render_job *job, plumb_source *source, const char *commit,
			const plumb_render_options *options, plumb_diags *diags);


#endif
