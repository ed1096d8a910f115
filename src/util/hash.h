/*
 * hash.h - git blob ids and other digests.
 *
 * plumb compares content by git blob id (SHA-1 of "blob SIZE\0" + bytes),
 * the same id the repository already stores, so an unchanged file is known
 * to be unchanged without reading the blob from git.
 */
#ifndef PLUMB_UTIL_HASH_H
#define PLUMB_UTIL_HASH_H

#include <stddef.h>

#include "util/common.h"

/* The blob id of an in-memory buffer, as 40 hex digits + NUL. */
void plumb_hash_blob_buf(char out[PLUMB_OID_HEXSZ + 1], const void *data, size_t len);

/*
 * The blob id of the size bytes read from fd (from its current offset).
 * Fails with PLUMB_ERROR if reading fails or the file does not hold size bytes.
 */
int plumb_hash_blob_fd(char out[PLUMB_OID_HEXSZ + 1], int fd, size_t size);

/* The value of one hex digit (either case), or -1. */
int plumb_hex_value(char c);

/* SHA-256 of a buffer as 64 hex digits + NUL. */
void plumb_hash_sha256_hex(char out[65], const void *data, size_t len);

#endif
