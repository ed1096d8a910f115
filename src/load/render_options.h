/*
 * render_options.h - what an application asks of the program that renders
 * its path, written as Argo CD writes it under spec.source (a plumb/v1
 * Application says it the same way):
 *
 *   helm:      {releaseName, namespace, valueFiles, ignoreMissingValueFiles, values, valuesObject,
 *               parameters: [{name, value, forceString}], fileParameters: [{name, path}],
 *               skipCrds, skipSchemaValidation, skipTests, kubeVersion, apiVersions}
 *   kustomize: {namePrefix, nameSuffix, namespace, images, commonLabels, commonAnnotations,
 *               replicas: [{name, count}], components, patches}
 *   directory: {recurse, include, exclude, jsonnet: {tlas, extVars, libs}}
 *
 * Decoded into one JSON text that render/ reads (render.h). Paths are
 * resolved here, against the application's path, into repository paths: a
 * value file or file parameter that climbs out of the repository, or that
 * is a URL, is refused at its FILE:LINE:COL (CVE-2022-24348). Each path
 * keeps where it was written ({"path", "file", "line", "column"}), for an
 * error once the commit is read (a value file that does not exist).
 */
#ifndef PLUMB_LOAD_RENDER_OPTIONS_H
#define PLUMB_LOAD_RENDER_OPTIONS_H

#include "resource/spec.h"
#include "util/diag.h"

/*
 * The options helm, kustomize and directory give (any may be absent), for
 * an application whose path is path, as JSON text (NULL when none is
 * given). lenient: a field plumb does not read is a warning (an Argo CD
 * Application), not an error (plumb's own kind). refs (ref_count of them)
 * name the other sources of an Argo CD Application that are its own
 * repository: a value file "$NAME/PATH" of one is PATH from the
 * repository's root. path NULL: the application renders a chart of a
 * Helm repository, whose other value files plumb cannot read.
 */
char *plumb_render_options_decode(const plumb_value *helm, const plumb_value *kustomize, const plumb_value *directory,
				  const char *path, int lenient, const char *const *refs, size_t ref_count,
				  plumb_diags *diags);

#endif
