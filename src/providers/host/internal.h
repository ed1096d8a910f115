/*
 * providers/host/internal.h - what the host provider's files share: the
 * desired state of an object, decoded from its spec by expand.c, and the
 * live state observed of it by host.c.
 */
#ifndef PLUMB_PROVIDERS_HOST_INTERNAL_H
#define PLUMB_PROVIDERS_HOST_INTERNAL_H

#include <sys/stat.h>

#include "providers/provider.h"

typedef enum { HOST_FILE, HOST_DIRECTORY, HOST_SYMLINK, HOST_ABSENT, HOST_OTHER } host_type;

typedef struct {
	host_type type;
	mode_t mode; /* PLUMB_FS_KEEP when not given */
	mode_t create_mode;
	char *owner; /* as written; NULL leaves the owner as it is */
	char *group;
	char *content; /* inline content, or NULL when it comes from the blob */
	size_t content_length;
	char blob[PLUMB_OID_HEXSZ + 1]; /* the id of the desired content */
	char *target;
	char *source_path; /* the repository file the content comes from; NULL for inline content */
	int sensitive;
} host_desired;

/* Decode the spec of set->resources[resource] (a host/v1 kind) into objects, as plumb_provider.expand. */
void plumb_host_expand(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
		       plumb_diags *diags);

/* Free a host_desired (NULL-safe), wiping sensitive content. */
void plumb_host_free_desired(void *desired);

#endif
