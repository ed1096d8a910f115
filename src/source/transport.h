/*
 * transport.h - what a fetch or a push hands libgit2 to reach a URL: the
 * credentials of its entry (read when the transfer starts, wiped when it
 * ends), the check of the server's certificate (the system's CAs, an
 * entry's caFile, or none when it says insecureSkipVerify) and of an SSH
 * server's host key (known_hosts, trust on first use when allowed).
 *
 * remote.c fetches and commit.c pushes with it. Nothing outside
 * src/source/ includes this.
 */
#ifndef PLUMB_SOURCE_TRANSPORT_H
#define PLUMB_SOURCE_TRANSPORT_H

#include <git2.h>
#include <stdbool.h>

#include "source/source.h"

/* One transfer's state: libgit2's callbacks all get it as their payload. */
typedef struct {
	plumb_source *source;
	plumb_source_access access; /* empty when no credentials entry applies */
	int ssh_attempt;            /* with no key given: the next of agent, id_ed25519, id_rsa */
	bool password_tried;        /* a password is offered once; a refusal is final */
	bool key_tried;             /* the same for a key given in credentials */
	char **rejection;           /* for a push: where the first refused reference is reported */
	char *refusal;              /* why the server's certificate or host key was refused, or NULL */
} plumb_transport;

/*
 * Start a transfer of source: read its credentials, warn about an
 * unverified certificate, and set callbacks (credentials, certificate
 * check, payload = transport). Returns 0, or an error with a message (a
 * credential that cannot be read); end the transfer either way.
 */
int plumb_transport_begin(plumb_transport *transport, plumb_source *source, git_remote_callbacks *callbacks);

/*
 * Record "<what>: <why>" with code and return code, for a transfer libgit2
 * failed: why is the refusal of the server's certificate or host key when
 * there was one, else libgit2's message. Call it right after the failure.
 */
int plumb_transport_fail(plumb_transport *transport, int code, const char *what);

/* Wipe what the transfer read; a failure with a refused credential is remembered (plumb_source_refused). */
void plumb_transport_end(plumb_transport *transport);

#endif
