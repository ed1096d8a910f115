#include "util/common.h"
#include "source/transport.h"
#include "source/internal.h"
#include "source/known_hosts.h"
#include "util/buf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

void plumb_source_access_release(plumb_source_access *access)
{
	free(access->username);
	plumb_buf_wipe(&access->password);
	plumb_buf_wipe(&access->ssh_key);
	plumb_buf_wipe(&access->passphrase);
	free(access->ca_file);
	free(access->entry);
	memset(access, 0, sizeof(*access));
}

void plumb_source_set_credentials(plumb_source *source, const plumb_source_credentials *credentials)
{
	source->credentials = credentials;
	/* Its submodules are fetched with the same table. */
	for (size_t i = 0; i < source->submodule_count; i++)
		plumb_source_set_credentials(source->submodules[i], credentials);
}

int plumb_source_refused(const plumb_source *source)
{
	return source->refused;
}

static const char *local_user(void)
{
	const struct passwd *pw = getpwuid(geteuid());
	return pw && pw->pw_name ? pw->pw_name : "git";
}

static const char *home_directory(void)
{
	const char *home = getenv("HOME");
	if (home && *home)
		return home;
	const struct passwd *pw = getpwuid(geteuid());
	return pw && pw->pw_dir ? pw->pw_dir : NULL;
}

static int refused(plumb_transport *t, const char *user, const char *detail)
{
	t->source->refused = true;
	char *message = plumb_xprintf("authentication failed for %s (user %s)%s%s", t->source->display, user,
				      detail ? ": " : "", detail ? detail : "");
	git_error_set_str(GIT_ERROR_NET, message);
	free(message);
	return GIT_EAUTH;
}

/* The key named in credentials, offered once. */
static int offer_key(git_credential **out, plumb_transport *t, const char *user)
{
	if (t->key_tried)
		return refused(t, user, "the server refused the key of its credentials entry");
	t->key_tried = true;
	/* libssh2 wants NUL-terminated text; a plumb_buf always is. */
	return git_credential_ssh_key_memory_new(out, user, NULL, t->access.ssh_key.ptr,
						 t->access.passphrase.len ? t->access.passphrase.ptr : NULL);
}

/* With no key in credentials: the agent, then ~/.ssh/id_ed25519 and ~/.ssh/id_rsa, each offered once. */
static int offer_default_keys(git_credential **out, plumb_transport *t, const char *user)
{
	static const char *const keys[] = { "id_ed25519", "id_rsa" };
	const char *home = home_directory();
	while (t->ssh_attempt < 1 + (int)PLUMB_ARRAY_SIZE(keys)) {
		int attempt = t->ssh_attempt++;
		if (attempt == 0) {
			if (getenv("SSH_AUTH_SOCK"))
				return git_credential_ssh_key_from_agent(out, user);
			continue;
		}
		if (!home)
			continue;
		char private_key[PATH_MAX], public_key[PATH_MAX];
		int n = snprintf(private_key, sizeof(private_key), "%s/.ssh/%s", home, keys[attempt - 1]);
		if (n < 0 || n >= (int)sizeof(private_key) || access(private_key, R_OK) != 0)
			continue;
		n = snprintf(public_key, sizeof(public_key), "%s.pub", private_key);
		bool have_public = n > 0 && n < (int)sizeof(public_key) && access(public_key, R_OK) == 0;
		return git_credential_ssh_key_new(out, user, have_public ? public_key : NULL, private_key, NULL);
	}
	return refused(t, user,
		       "no key was accepted (tried the ssh agent, ~/.ssh/id_ed25519 and ~/.ssh/id_rsa; "
		       "give one with sshKey in a credentials entry)");
}

/*
 * libgit2 calls this again after each refused credential, so every call
 * moves on to the next method and the last one ends with an error instead
 * of offering the same credential forever.
 */
static int acquire_credential(git_credential **out, const char *url, const char *username_from_url,
			      unsigned int allowed_types, void *payload)
{
	plumb_transport *t = payload;
	const char *from_url = username_from_url && *username_from_url ? username_from_url : t->source->user;
	const char *user = t->access.username && *t->access.username ? t->access.username : from_url;
	if (allowed_types & (GIT_CREDENTIAL_SSH_KEY | GIT_CREDENTIAL_SSH_MEMORY | GIT_CREDENTIAL_USERNAME)) {
		/* SSH asks once for the user and then for keys of that user: the URL's ("git@") comes first. */
		user = from_url && *from_url ? from_url : user;
		if (!user || !*user)
			user = local_user();
		if (allowed_types & GIT_CREDENTIAL_USERNAME)
			return git_credential_username_new(out, user);
		if (t->access.ssh_key.len)
			return offer_key(out, t, user);
		return offer_default_keys(out, t, user);
	}

	const plumb_buf *given = &t->access.password;
	const char *password = given->len ? given->ptr : t->source->password;
	if ((allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && password) {
		if (t->password_tried)
			return refused(t, user && *user ? user : "-", NULL);
		t->password_tried = true;
		return git_credential_userpass_plaintext_new(out, user ? user : "", password);
	}
	char *message = plumb_xprintf("%s asks for credentials, and none are given for it (add an entry for it "
				      "to credentials)",
				      t->source->display);
	git_error_set_str(GIT_ERROR_NET, message);
	free(message);
	return GIT_EAUTH;
}

static int certificate_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int certificate_error(const char *fmt, ...)
{
	plumb_buf message = PLUMB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	plumb_buf_vprintf(&message, fmt, ap);
	va_end(ap);
	git_error_set_str(GIT_ERROR_SSL, message.ptr);
	plumb_buf_release(&message);
	return GIT_ECERTIFICATE;
}

/*
 * Whether the DER certificate chains to a CA of ca_file (NULL: of the
 * system's store, as OpenSSL finds it: SSL_CERT_FILE and SSL_CERT_DIR, else
 * Debian's /etc/ssl/certs) and names host, a name or an address.
 */
static int check_against_cas(const git_cert_x509 *cert, const char *host, const char *ca_file)
{
	const unsigned char *p = cert->data;
	X509 *leaf = d2i_X509(NULL, &p, (long)cert->len);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	unsigned char address[16];
	int error = 0;

	if (!leaf) {
		error = certificate_error("the certificate of %s cannot be read", host);
		goto done;
	}
	int loaded = store && ctx &&
		     (ca_file ? X509_STORE_load_file(store, ca_file) : X509_STORE_set_default_paths(store)) == 1;
	if (!loaded) {
		ERR_clear_error();
		error = ca_file ? certificate_error("cannot read the CA certificates of %s (caFile)", ca_file)
				: certificate_error("cannot read the system's CA certificates");
		goto done;
	}
	if (X509_STORE_CTX_init(ctx, store, leaf, NULL) != 1) {
		error = certificate_error("cannot check the certificate of %s", host);
		goto done;
	}
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	bool is_address = inet_pton(AF_INET, host, address) == 1 || inet_pton(AF_INET6, host, address) == 1;
	if (is_address)
		X509_VERIFY_PARAM_set1_ip_asc(param, host);
	else
		X509_VERIFY_PARAM_set1_host(param, host, 0);
	if (X509_verify_cert(ctx) != 1) {
		const char *why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
		error = ca_file ? certificate_error("the certificate of %s is not trusted by the CAs of %s (caFile): %s",
						    host, ca_file, why)
				: certificate_error("the certificate of %s is not trusted by the system's CAs: %s; name "
						    "the CA that signed it with caFile in a credentials entry",
						    host, why);
	}
done:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(leaf);
	return error;
}

/* The host and port of an SSH URL: "ssh://[user@]host[:port]/path" or scp-like "user@host:path". */
static char *ssh_host(int *port, const char *url)
{
	const char *p = strstr(url, "://");
	*port = 22;
	if (!p) {
		const char *at = strchr(url, '@');
		const char *start = at ? at + 1 : url;
		return plumb_xprintf("%.*s", (int)strcspn(start, ":"), start);
	}
	p += 3;
	size_t authority_len = strcspn(p, "/");
	const char *at = memchr(p, '@', authority_len);
	if (at) {
		authority_len -= (size_t)(at + 1 - p);
		p = at + 1;
	}
	const char *end = p + authority_len;
	const char *host_end;
	char *host;
	if (*p == '[') {
		host_end = memchr(p, ']', authority_len);
		if (!host_end)
			return plumb_xprintf("%.*s", (int)authority_len, p);
		host = plumb_xprintf("%.*s", (int)(host_end - p - 1), p + 1);
		host_end++;
	} else {
		host_end = memchr(p, ':', authority_len);
		if (!host_end)
			host_end = end;
		host = plumb_xprintf("%.*s", (int)(host_end - p), p);
	}
	if (host_end < end && *host_end == ':')
		*port = atoi(host_end + 1);
	return host;
}

static int check_host_key(plumb_transport *t, const git_cert_hostkey *cert)
{
	plumb_source *source = t->source;
	if (!(cert->type & GIT_CERT_SSH_RAW))
		return certificate_error("the SSH server of %s showed no host key to check", source->display);
	int port;
	char *host = ssh_host(&port, source->url);
	char *name = plumb_known_hosts_name(host, port);
	char *state_file = source->state_dir ? plumb_xprintf("%s/known_hosts", source->state_dir) : NULL;
	const char *home = home_directory();
	char *user_file = home ? plumb_xprintf("%s/.ssh/known_hosts", home) : NULL;
	const char *files[2];
	size_t count = 0;
	if (state_file)
		files[count++] = state_file;
	if (user_file)
		files[count++] = user_file;
	const unsigned char *key = (const unsigned char *)cert->hostkey;
	char *fingerprint = plumb_known_hosts_fingerprint(key, cert->hostkey_len);
	char *line = plumb_known_hosts_line(name, key, cert->hostkey_len);
	const char *where = state_file ? state_file : "~/.ssh/known_hosts";
	plumb_known_host verdict;
	int error = plumb_known_hosts_check(&verdict, files, count, name, key, cert->hostkey_len);

	if (error < 0) {
		error = certificate_error("%s", plumb_error_last());
		goto done;
	}
	switch (verdict) {
	case PLUMB_KNOWN_HOST_MATCH:
		break;
	case PLUMB_KNOWN_HOST_CHANGED:
		error = certificate_error("the host key of %s has changed (it showed %s): someone may be "
					  "intercepting the connection; if the key was replaced on purpose, remove "
					  "the host's old line from %s%s%s",
					  name, fingerprint, where, user_file ? " and " : "", user_file ? user_file : "");
		break;
	case PLUMB_KNOWN_HOST_REVOKED:
		error = certificate_error("the host key of %s (%s) is revoked in known_hosts", name, fingerprint);
		break;
	case PLUMB_KNOWN_HOST_OTHER:
		error = certificate_error("known_hosts has keys of other types for %s, not the one it showed (%s); "
					  "if that is its key, add this line to %s: %s",
					  name, fingerprint, where, line);
		break;
	case PLUMB_KNOWN_HOST_UNKNOWN:
		if (!t->access.accept_new_host_keys || !state_file) {
			error = certificate_error("the host %s is not known (its key: %s); if that is its key, add "
						  "this line to %s: %s (or set acceptNewHostKeys: true in its "
						  "credentials entry)",
						  name, fingerprint, where, line);
			break;
		}
		if (plumb_known_hosts_add(state_file, line) < 0) {
			error = certificate_error("%s", plumb_error_last());
			break;
		}
		if (source->credentials && source->credentials->notice)
			source->credentials->notice(PLUMB_SOURCE_NOTICE_HOST_KEY_ADDED, source->display, line,
						    source->credentials->payload);
		break;
	}
done:
	free(host);
	free(name);
	free(state_file);
	free(user_file);
	free(fingerprint);
	free(line);
	return error;
}

static int verify_certificate(plumb_transport *t, git_cert *cert, int valid, const char *host)
{
	if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2)
		return check_host_key(t, (const git_cert_hostkey *)cert);
	if (cert->cert_type != GIT_CERT_X509)
		return valid ? 0 : certificate_error("the certificate of %s is not trusted", host);
	if (t->access.insecure_skip_verify)
		return 0;
	if (t->access.ca_file)
		return check_against_cas((const git_cert_x509 *)cert, host, t->access.ca_file);
	/*
	 * The TLS library's own check is the first word; a refusal is checked
	 * again as OpenSSL checks it, which also reads SSL_CERT_FILE and an
	 * address the certificate names (libgit2's mbedTLS reads neither).
	 */
	if (valid)
		return 0;
	return check_against_cas((const git_cert_x509 *)cert, host, NULL);
}

/*
 * libgit2's certificate check. A refusal is kept: through a proxy, libgit2
 * 1.5 reports "SSL error: Generic error" in place of the callback's message.
 */
static int check_certificate(git_cert *cert, int valid, const char *host, void *payload)
{
	plumb_transport *t = payload;
	int error = verify_certificate(t, cert, valid, host);
	if (error < 0 && !t->refusal) {
		const git_error *last = git_error_last();
		t->refusal = plumb_xstrdup(last && last->message ? last->message : "the server's certificate was refused");
	}
	return error;
}

int plumb_transport_fail(plumb_transport *t, int code, const char *what)
{
	if (t->refusal)
		return plumb_error_set(code, "%s: %s", what, t->refusal);
	return plumb_source_git_fail(code, "%s", what);
}

int plumb_transport_begin(plumb_transport *t, plumb_source *source, git_remote_callbacks *callbacks)
{
	const plumb_source_credentials *credentials = source->credentials;
	memset(t, 0, sizeof(*t));
	t->source = source;
	source->refused = false;
	callbacks->credentials = acquire_credential;
	callbacks->certificate_check = check_certificate;
	callbacks->payload = t;
	if (!credentials || !credentials->resolve)
		return 0;
	int error = credentials->resolve(&t->access, source->url, credentials->payload);
	if (error < 0)
		return plumb_error_wrap(error, "cannot fetch %s", source->display);
	if (t->access.insecure_skip_verify && strncmp(source->url, "https://", 8) == 0 && credentials->notice) {
		char *message = plumb_xprintf("the certificate of %s is not verified (insecureSkipVerify in the "
					      "credentials entry %s)",
					      source->display, t->access.entry ? t->access.entry : source->display);
		credentials->notice(PLUMB_SOURCE_NOTICE_WARNING, source->display, message, credentials->payload);
		free(message);
	}
	return 0;
}

void plumb_transport_end(plumb_transport *t)
{
	plumb_source_access_release(&t->access);
	free(t->refusal);
	t->refusal = NULL;
}
