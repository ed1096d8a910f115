/*
 * known_hosts.h - the SSH host keys plumb trusts, in OpenSSH's known_hosts
 * format: plain and hashed ("|1|salt|hash") host names, "[host]:port" for
 * a port other than 22, patterns with '*', '?' and '!', @revoked keys.
 *
 * A host key is the raw public key blob the server shows (the base64 part
 * of a known_hosts line, decoded). Nothing outside src/source/ includes this.
 */
#ifndef PLUMB_SOURCE_KNOWN_HOSTS_H
#define PLUMB_SOURCE_KNOWN_HOSTS_H

#include <stddef.h>

typedef enum {
	PLUMB_KNOWN_HOST_MATCH,   /* a line names the host with this very key */
	PLUMB_KNOWN_HOST_UNKNOWN, /* no line names the host */
	PLUMB_KNOWN_HOST_OTHER,   /* lines name the host, with keys of other types only */
	PLUMB_KNOWN_HOST_CHANGED, /* a line names the host with another key of the same type */
	PLUMB_KNOWN_HOST_REVOKED, /* an @revoked line names this key */
} plumb_known_host;

/*
 * The name a host goes by in known_hosts: "host" for port 22 (or 0),
 * "[host]:port" otherwise. A new string.
 */
char *plumb_known_hosts_name(const char *host, int port);

/*
 * Look name up with key in each of files (count of them, in order; a file
 * that does not exist is skipped): the first file with a line for the
 * host decides, except that a revoked or changed key anywhere wins.
 * Returns 0 with *out set, or PLUMB_ERROR when a file cannot be read.
 */
int plumb_known_hosts_check(plumb_known_host *out, const char *const *files, size_t count, const char *name,
			    const unsigned char *key, size_t key_len);

/* The known_hosts line for name and key: "name TYPE BASE64". A new string. */
char *plumb_known_hosts_line(const char *name, const unsigned char *key, size_t key_len);

/* The key's fingerprint as ssh-keygen -l shows it: "SHA256:..." (unpadded base64). A new string. */
char *plumb_known_hosts_fingerprint(const unsigned char *key, size_t key_len);

/* Append line to file (made 0600 if missing, its folder too). */
int plumb_known_hosts_add(const char *file, const char *line);

#endif
