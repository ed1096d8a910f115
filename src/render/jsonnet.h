/*
 * jsonnet.h - a *.jsonnet file of a commit evaluated into manifests, as Argo
 * CD's `directory` source reads a plain folder: through libjsonnet, its
 * output an object that is a manifest, an array of them, or a Kubernetes
 * List (its items).
 *
 * The program never sees the repository on disk. Every import (import,
 * importstr) is read from the commit's tree in git's object database,
 * relative to the importing file, then in the library folders that the
 * options name (the last first), then in the application's folder, as Argo
 * CD's jsonnet importer searches. An absolute import, one that climbs above
 * the repository's root, and a symlink whose target leaves it are refused:
 * the evaluation fails there, and the diagnostic is at the FILE:LINE:COL of
 * the import. Native functions (std.native) are none.
 *
 * libjsonnet has no time or memory limit to set, so with a program to run
 * (options->self) the evaluation runs in a child process
 * (render/jsonnet_child.h) under the render time limit, the output cap and
 * an address space limit, as kustomize and helm run. Without one (NULL
 * options or self, as in the unit tests) it runs in the calling thread,
 * with no time or memory limit. Either way libjsonnet's stack depth is
 * bounded and its output capped at the render output maximum.
 *
 * Every path this module looks up goes through plumb_source_stat, so that
 * a caller recording lookups (source.h) holds the file and each import it
 * read, found or not: the evaluation holds for another commit where they
 * all resolve to the same entries.
 */
#ifndef PLUMB_RENDER_JSONNET_H
#define PLUMB_RENDER_JSONNET_H

#include <stddef.h>

#include "render/render.h"
#include "source/source.h"
#include "util/buf.h"
#include "util/diag.h"

/* True when the file name ends in .jsonnet: a program to evaluate (a .libsonnet is only imported). */
int plumb_jsonnet_is_program(const char *path);

/* The application as Argo CD's build environment names it; NULL members are "". */
typedef struct {
	const char *app_name;      /* $ARGOCD_APP_NAME */
	const char *app_namespace; /* $ARGOCD_APP_NAMESPACE */
	const char *revision;      /* $ARGOCD_APP_REVISION, _SHORT (7 characters), _SHORT_8 */
	const char *repo_url;      /* $ARGOCD_APP_SOURCE_REPO_URL */
	const char *source_path;   /* $ARGOCD_APP_SOURCE_PATH */
} plumb_jsonnet_env;

/*
 * The "directory"."jsonnet" member of an application's source render
 * options (render.h's plumb_render_target.options: Argo CD's spec.source,
 * as JSON), as a new JSON string in *out; NULL when there is none
 * (source_options NULL, or no such member). As Argo CD does, every value of
 * its tlas and extVars has $NAME and ${NAME} replaced by env's variables
 * ("" for any other name) and "$$" by "$". PLUMB_EINVALID with the message
 * in the error slot when source_options is not a JSON object, or its
 * directory not an object.
 */
int plumb_jsonnet_options_of(char **out, const char *source_options, const plumb_jsonnet_env *env);

/*
 * The key an evaluation is cached by, 40 hex digits: the file's blob id,
 * the folder imports fall back to, the options and libjsonnet's version.
 * What the file imports is not in it: the lookups recorded while it was
 * evaluated are (see above).
 */
void plumb_jsonnet_key(char out[PLUMB_OID_HEXSZ + 1], const char *blob, const char *app_path,
		       const char *jsonnet_options);

/*
 * Evaluate file (a repository path) of commit and append its manifests to
 * out as YAML documents (render/yaml.h), separated by "---" lines.
 *
 * app_path is the application's folder, searched for imports after the
 * libraries. jsonnet_options is Argo CD's spec.source.directory.jsonnet as
 * JSON, NULL for none:
 *
 *   {"tlas":    [{"name": N, "value": V, "code": false}, ...],
 *    "extVars": [{"name": N, "value": V, "code": true}, ...],
 *    "libs":    ["vendor", ...]}
 *
 * a value is a string unless code is true (then it is Jsonnet code); a lib
 * is a folder of the repository, relative to its root. Of options (NULL:
 * the defaults), output_max caps the output in bytes (0:
 * $PLUMB_RENDER_OUTPUT_MAX, else PLUMB_RENDER_OUTPUT_MAX), state_dir
 * keeps it in STATE/render/ (render/jsonnet_cache.h) for the commits where
 * the file and everything it looked up are the same, self and timeout_ms
 * run it in a child with that time limit (see above).
 *
 * Returns 0; PLUMB_EINVALID with diagnostics added (options malformed, a
 * syntax or runtime error at the FILE:LINE:COL libjsonnet reports, an
 * import refused, output too large or not manifests; in a child: "FILE
 * (jsonnet): jsonnet evaluation did not finish within N ms", out of
 * memory), out then unchanged;
 * or another code with the message in the error slot (the repository could
 * not be read).
 */
int plumb_jsonnet_evaluate(plumb_buf *out, plumb_source *source, const char *commit, const char *file,
			   const char *app_path, const char *jsonnet_options, const plumb_render_options *options,
			   plumb_diags *diags);

#endif
