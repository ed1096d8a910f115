/*
 * load/internal.h - what the loader's files share: a manifest file as
 * parsed (load.c keeps them in a cache and merges them into sets;
 * document.c parses one).
 */
#ifndef PLUMB_LOAD_INTERNAL_H
#define PLUMB_LOAD_INTERNAL_H

#include <stdatomic.h>

#include "resource/resource.h"
#include "source/source.h"
#include "util/buf.h"
#include "util/diag.h"

/*
 * One manifest file as parsed: what it declares, and the paths its
 * resources looked up in the commit (a Tree's folder, a File's source).
 * Loaded sets are views of parts; the cache of a source keeps parts by path
 * and blob id, so that a file is parsed again only when its blob or
 * something it looked up changed. A part in the cache is never changed.
 */
struct plumb_manifest_part {
	atomic_uint references;
	char *path;
	char blob[PLUMB_OID_HEXSZ + 1];
	plumb_manifest_set set; /* owns what the file declares */
	plumb_diags diags;
	plumb_source_lookups lookups;
	const plumb_buf *rendered; /* while parsing: the text a renderer printed, read instead of the blob */
	const char *substitute;    /* while parsing: variables to substitute in the text (substitute.h), JSON; NULL: none */
	const char *common_metadata; /* while parsing: labels and annotations set on every Kubernetes object, JSON */
	const char *render_folder; /* while parsing rendered text: the folder rendered */
	const char *renderer;      /* while parsing rendered text: "kustomize", "helm"; NULL: a jsonnet file's output */
	char **names;              /* a rendered file's "FOLDER (RENDERER) Kind/name", one a document */
	size_t name_count;
	size_t name_capacity;
	int used;                         /* by a load since the last sweep */
	struct plumb_manifest_part *next; /* in its bucket of the cache */
};
typedef struct plumb_manifest_part manifest_part;

/* The largest manifest file plumb reads. */
#define PLUMB_MANIFEST_MAX (16u << 20)

/*
 * Parse file->path (blob file->blob) of source into file->set, every
 * problem a diagnostic in file->diags. Errors: the repository could not be
 * read, or the parser could not be set up (message in the error slot).
 */
int plumb_load_file(manifest_part *file, plumb_source *source);

#endif
