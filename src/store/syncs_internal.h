/*
 * syncs_internal.h - what the logs written on behalf of a sync (its
 * actions, the drift it repaired) read from it. syncs.c implements it;
 * nothing outside src/store/ includes this.
 */
#ifndef PLUMB_STORE_SYNCS_INTERNAL_H
#define PLUMB_STORE_SYNCS_INTERNAL_H

#include <stdint.h>

#include "store/internal.h"

/*
 * The application and actor of sync id (new strings, the caller's to
 * free), for the audit entries of what follows it. PLUMB_ENOTFOUND with a
 * message when there is no such sync; both are NULL on failure.
 */
int plumb_store_sync_owner(char **application, char **actor, plumb_store *store, int64_t id, const char *what);

#endif
