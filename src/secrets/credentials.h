/*
 * credentials.h - how plumb reaches private repositories (and the charts
 * of private registries helm fetches, oci://HOST/PATH/: render/helm.h):
 * the entries of credentials: (serve.yaml, or the file --credentials
 * names), each for every repository whose URL starts with its url (the
 * longest match wins):
 *
 *   - url: https://git.example.com/team/       a URL prefix
 *     username: plumb
 *     password: {env: GIT_TOKEN}               a password or token, from a Secret source
 *     caFile: /etc/plumb/ca.pem                a private CA (HTTPS)
 *     insecureSkipVerify: false                accept any certificate (warned on every fetch)
 *   - url: ssh://git@git.example.com:2222/
 *     sshKey: {file: /etc/plumb/deploy_key}    a private key, from a Secret source
 *     passphrase: {command: [pass, show, k]}   the key's passphrase, the same way
 *     acceptNewHostKeys: true                  trust an unknown host's key on first use
 *
 * A Secret source is what a Secret's spec holds: env, file, command (with
 * timeout) or age (a host file, opened with the identity), and
 * trimNewline (default true, false for sshKey). Values are read for each
 * fetch, handed to the source module, and wiped after it.
 */
#ifndef PLUMB_CREDENTIALS_H
#define PLUMB_CREDENTIALS_H

#include "resource/spec.h"
#include "source/source.h"
#include "util/diag.h"

typedef struct plumb_credentials plumb_credentials;

/* The field a configuration file lists its entries in. */
#define PLUMB_CREDENTIALS_FIELD "credentials"

/*
 * Decode a credentials: list (its mappings, borrowed while their document
 * lives) into *out; every problem becomes a diagnostic with its position,
 * and then *out is NULL and PLUMB_EINVALID is returned.
 */
int plumb_credentials_decode(plumb_credentials **out, plumb_spec *const *entries, size_t count, plumb_diags *diags);

/*
 * Where age sources find their identity (a new copy is kept), and who
 * hears what a fetch reports (the notice of plumb_source_credentials).
 */
void plumb_credentials_set_context(plumb_credentials *credentials, const char *identity_file,
				   void (*notice)(plumb_source_notice kind, const char *url, const char *message,
						  void *payload),
				   void *payload);

/* The table a source fetches with (plumb_source_set_credentials); lives as long as credentials. */
const plumb_source_credentials *plumb_credentials_table(plumb_credentials *credentials);

/* One more owner; plumb_credentials_free drops one, and the last frees. NULL is fine for both. */
plumb_credentials *plumb_credentials_ref(plumb_credentials *credentials);
void plumb_credentials_free(plumb_credentials *credentials);

#endif
