/*
 * common.h - what every plumb source file includes first.
 *
 * Feature macros for POSIX.1-2008 interfaces (openat, fstatat, ...), the
 * allocation helpers, the error slot and the banned-function list.
 */
#ifndef PLUMB_UTIL_COMMON_H
#define PLUMB_UTIL_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
/* Every header banned.h's macros could break comes before it (fortified builds define these as macros). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"
#include "util/error.h"
#include "util/banned.h"

#define PLUMB_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A git object id in hex (SHA-1), with its terminating NUL. */
#define PLUMB_OID_HEXSZ 40

#endif
