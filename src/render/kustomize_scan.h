/*
 * kustomize_scan.h - what a kustomization reaches, for the private copy
 * kustomize builds from (render.h): its folder, each value of a
 * kustomization file below it that climbs out with ".." and exists in the
 * commit, and the kustomizations there in turn, and the components the
 * application adds.
 *
 * Refused, each a diagnostic at the value: a remote base or resource
 * (https://, github.com/, git@, git::, ssh:, oci:) under resources, bases or
 * components, a chart repository under helmCharts unless fetching is
 * allowed (then its version must name one release: the chart is cached by
 * it), an absolute path under those, and a path that climbs above the
 * repository's root.
 */
#ifndef PLUMB_RENDER_KUSTOMIZE_SCAN_H
#define PLUMB_RENDER_KUSTOMIZE_SCAN_H

#include "render/job.h"
#include "source/source.h"
#include "util/diag.h"

/* The names a kustomization file may have, in the order kustomize looks for them. */
#define PLUMB_KUSTOMIZATION_NAME_COUNT 3
extern const char *const plumb_kustomization_names[PLUMB_KUSTOMIZATION_NAME_COUNT];

/* True when a file of this name makes its folder kustomize's (kustomization.yaml, .yml, Kustomization). */
int plumb_render_is_kustomization(const char *name);

/*
 * Add to job's inputs what the kustomization in path reaches (and the
 * components job's options add); *helm_charts is set when a kustomization
 * inflates charts (helmCharts), which kustomize needs helm for, and
 * job->chart_homes lists where charts of a repository are pulled to when
 * allow_fetch lets them be. Returns 0, or a code when the repository could
 * not be read; refusals are diagnostics.
 */
int plumb_kustomize_scan(plumb_render_job *job, plumb_source *source, const char *commit, const char *path,
			 int allow_fetch, int *helm_charts, plumb_diags *diags);

#endif
