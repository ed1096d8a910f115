/*
 * key.h - the state directory's key: what keys the fingerprints and hashes
 * of sensitive content (a sensitive file's, a Kubernetes Secret's values),
 * so that plans, diffs and the store cannot be used to guess a secret.
 *
 * 32 random bytes in STATE/fingerprint.key (0600, never overwritten), made
 * on first use; every plumb that uses the state directory reads the same.
 */
#ifndef PLUMB_STORE_KEY_H
#define PLUMB_STORE_KEY_H

#define PLUMB_STATE_KEY_SIZE 32

/* Read (or make, then read) the key of state_dir, which exists. PLUMB_ERROR naming the file when it cannot. */
int plumb_state_key_load(unsigned char key[PLUMB_STATE_KEY_SIZE], const char *state_dir);

#endif
