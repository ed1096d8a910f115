/*
 * directory.h - which files of a plain folder an application reads, as
 * Argo CD's directory source options say (render.h's target options,
 * "directory"): its subfolders only with recurse: true, and of the files,
 * those include matches and exclude does not. Patterns are globs matched
 * against the path below the folder, as Argo CD matches them: "*" and "?"
 * match "/" too, "[...]" a class, "{a,b}" either. Such a folder reads
 * *.json files as manifests too, as Argo CD does.
 *
 * Without the options (a plumb/v1 Application that gives no directory, an
 * implicit application), every *.yaml and *.yml below the folder is read.
 * Either way, a *.jsonnet file is a program to evaluate (render/jsonnet.h).
 */
#ifndef PLUMB_LOAD_DIRECTORY_H
#define PLUMB_LOAD_DIRECTORY_H

typedef struct {
	int given; /* the options say how to read the folder */
	int recurse;
	char *include; /* NULL: every file */
	char *exclude; /* NULL: none */
} plumb_directory_filter;

/* The filter target options (JSON, or NULL) give. */
void plumb_directory_filter_init(plumb_directory_filter *filter, const char *options);

/* Whether the file at path (below the folder) is one of its manifests, by its name and the options. */
int plumb_directory_filter_keeps(const plumb_directory_filter *filter, const char *path);

void plumb_directory_filter_release(plumb_directory_filter *filter);

#endif
