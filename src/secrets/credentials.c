#include "util/common.h"
#include "secrets/credentials.h"
#include "secrets/secret.h"
#include "util/buf.h"
#include "util/duration.h"

#include <stdio.h>

enum { E_URL, E_USERNAME, E_PASSWORD, E_SSH_KEY, E_PASSPHRASE, E_CA_FILE, E_INSECURE, E_ACCEPT_NEW, E_COUNT };

static const plumb_field entry_fields[E_COUNT] = {
	{ "url", PLUMB_FIELD_STRING, PLUMB_FIELD_REQUIRED },
	{ "username", PLUMB_FIELD_STRING, 0 },
	{ "password", PLUMB_FIELD_MAP, 0 },
	{ "sshKey", PLUMB_FIELD_MAP, 0 },
	{ "passphrase", PLUMB_FIELD_MAP, 0 },
	{ "caFile", PLUMB_FIELD_STRING, 0 },
	{ "insecureSkipVerify", PLUMB_FIELD_BOOL, 0 },
	{ "acceptNewHostKeys", PLUMB_FIELD_BOOL, 0 },
};

enum { S_AGE, S_ENV, S_FILE, S_COMMAND, S_TIMEOUT, S_TRIM_NEWLINE, S_COUNT };

static const plumb_field source_fields[S_COUNT] = {
	{ "age", PLUMB_FIELD_STRING, 0 },     { "env", PLUMB_FIELD_STRING, 0 },
	{ "file", PLUMB_FIELD_STRING, 0 },    { "command", PLUMB_FIELD_LIST, 0 },
	{ "timeout", PLUMB_FIELD_STRING, 0 }, { "trimNewline", PLUMB_FIELD_BOOL, 0 },
};

typedef struct {
	char *url;
	char *username;
	plumb_secret password, ssh_key, passphrase; /* name NULL: not given */
	char *ca_file;
	int insecure_skip_verify;
	int accept_new_host_keys;
} entry;

struct plumb_credentials {
	entry *entries;
	size_t count;
	char *identity_file;
	plumb_source_credentials table;
	void (*notice)(plumb_source_notice kind, const char *url, const char *message, void *payload);
	void *notice_payload;
	int refs;
};

/* Decode a Secret source mapping (name: "credentials[0].password", for messages) into secret. */
static void decode_source(plumb_secret *secret, const plumb_value *value, const char *name, int trim_default,
			  plumb_diags *diags)
{
	plumb_value values[S_COUNT];
	plumb_spec_decode(values, value->map, source_fields, S_COUNT, diags);
	int given = values[S_AGE].present + values[S_ENV].present + values[S_FILE].present + values[S_COMMAND].present;

	memset(secret, 0, sizeof(*secret));
	if (given != 1) {
		plumb_diags_add(diags, value->position, "%s: name exactly one of age, env, file and command", name);
		goto done;
	}
	secret->name = plumb_xstrdup(name);
	secret->trim_newline = values[S_TRIM_NEWLINE].present ? values[S_TRIM_NEWLINE].boolean : trim_default;
	secret->timeout_ms = PLUMB_SECRET_TIMEOUT_MS;
	if (values[S_TIMEOUT].present && plumb_duration_parse(&secret->timeout_ms, values[S_TIMEOUT].string) < 0)
		plumb_diags_add(diags, values[S_TIMEOUT].position, "%s.timeout: '%s' is not a duration", name,
				values[S_TIMEOUT].string);
	if (values[S_COMMAND].present) {
		secret->source = PLUMB_SECRET_COMMAND;
		if (!values[S_COMMAND].list_count) {
			plumb_diags_add(diags, values[S_COMMAND].position, "%s.command: the program is missing", name);
			goto done;
		}
		secret->argc = values[S_COMMAND].list_count;
		secret->argv = plumb_xcalloc(secret->argc + 1, sizeof(*secret->argv));
		for (size_t i = 0; i < secret->argc; i++)
			secret->argv[i] = plumb_xstrdup(values[S_COMMAND].list[i]);
		goto done;
	}
	int k = values[S_AGE].present ? S_AGE : values[S_ENV].present ? S_ENV : S_FILE;
	secret->source = k == S_AGE ? PLUMB_SECRET_AGE : k == S_ENV ? PLUMB_SECRET_ENV : PLUMB_SECRET_FILE;
	secret->reference = plumb_xstrdup(values[k].string);
	if (k != S_ENV && secret->reference[0] != '/')
		plumb_diags_add(diags, values[k].position, "%s.%s: '%s' is not an absolute path", name,
				source_fields[k].name, secret->reference);
done:
	plumb_values_release(values, S_COUNT);
}

static void entry_release(entry *e)
{
	free(e->url);
	free(e->username);
	plumb_secret_release(&e->password);
	plumb_secret_release(&e->ssh_key);
	plumb_secret_release(&e->passphrase);
	free(e->ca_file);
}

static char *copy_or_null(const plumb_value *value)
{
	return value->present ? plumb_xstrdup(value->string) : NULL;
}

int plumb_credentials_decode(plumb_credentials **out, plumb_spec *const *entries, size_t count, plumb_diags *diags)
{
	plumb_credentials *c = plumb_xcalloc(1, sizeof(*c));
	size_t before = diags->count;

	*out = NULL;
	c->refs = 1;
	c->entries = plumb_xcalloc(count ? count : 1, sizeof(*c->entries));
	for (size_t i = 0; i < count; i++) {
		plumb_value values[E_COUNT];
		entry *e = &c->entries[c->count++];
		plumb_spec_decode(values, entries[i], entry_fields, E_COUNT, diags);
		e->url = copy_or_null(&values[E_URL]);
		e->username = copy_or_null(&values[E_USERNAME]);
		e->ca_file = copy_or_null(&values[E_CA_FILE]);
		e->insecure_skip_verify = values[E_INSECURE].present && values[E_INSECURE].boolean;
		e->accept_new_host_keys = values[E_ACCEPT_NEW].present && values[E_ACCEPT_NEW].boolean;
		static const int secrets[] = { E_PASSWORD, E_SSH_KEY, E_PASSPHRASE };
		plumb_secret *slots[] = { &e->password, &e->ssh_key, &e->passphrase };
		for (size_t k = 0; k < PLUMB_ARRAY_SIZE(secrets); k++) {
			if (!values[secrets[k]].present)
				continue;
			char *name = plumb_xprintf("credentials[%zu].%s", i, entry_fields[secrets[k]].name);
			decode_source(slots[k], &values[secrets[k]], name, secrets[k] != E_SSH_KEY, diags);
			free(name);
		}
		if (e->url && !*e->url)
			plumb_diags_add(diags, values[E_URL].position, "credentials[%zu].url is empty", i);
		if (e->url && plumb_source_url_has_password(NULL, e->url))
			plumb_diags_add(diags, values[E_URL].position,
					"credentials[%zu].url holds a password: give it with password instead", i);
		if (values[E_PASSPHRASE].present && !values[E_SSH_KEY].present)
			plumb_diags_add(diags, values[E_PASSPHRASE].position,
					"credentials[%zu].passphrase: there is no sshKey for it", i);
		if (e->ca_file && e->ca_file[0] != '/')
			plumb_diags_add(diags, values[E_CA_FILE].position,
					"credentials[%zu].caFile: '%s' is not an absolute path", i, e->ca_file);
		plumb_values_release(values, E_COUNT);
	}
	if (diags->count > before) {
		plumb_credentials_free(c);
		return PLUMB_EINVALID;
	}
	*out = c;
	return 0;
}

/* The entry whose url is the longest prefix of url; NULL if none. */
static const entry *longest_prefix(const plumb_credentials *c, const char *url)
{
	const entry *best = NULL;
	for (size_t i = 0; i < c->count; i++) {
		size_t n = strlen(c->entries[i].url);
		if (strncmp(url, c->entries[i].url, n) == 0 && (!best || n > strlen(best->url)))
			best = &c->entries[i];
	}
	return best;
}

/*
 * The entry for url, as written, or else for url without the user it
 * names ("https://deploy@host/x" matches an entry for "https://host/").
 */
static const entry *match(const plumb_credentials *c, const char *url)
{
	const entry *best = longest_prefix(c, url);
	const char *authority = strstr(url, "://");
	if (best || !authority)
		return best;
	authority += 3;
	size_t authority_len = strcspn(authority, "/?#");
	const char *at = memchr(authority, '@', authority_len);
	if (!at)
		return NULL;
	char *bare = plumb_xprintf("%.*s%s", (int)(authority - url), url, at + 1);
	best = longest_prefix(c, bare);
	free(bare);
	return best;
}

static int resolve(plumb_source_access *out, const char *url, void *payload)
{
	plumb_credentials *c = payload;
	const entry *e = match(c, url);
	plumb_secret_context context = { NULL, c->identity_file };
	int error = 0;

	if (!e)
		return 0; /* no entry: the URL is fetched without credentials */
	out->entry = plumb_xstrdup(e->url);
	out->username = e->username ? plumb_xstrdup(e->username) : NULL;
	out->ca_file = e->ca_file ? plumb_xstrdup(e->ca_file) : NULL;
	out->insecure_skip_verify = e->insecure_skip_verify;
	out->accept_new_host_keys = e->accept_new_host_keys;
	if ((e->password.name && (error = plumb_secret_read(&out->password, &e->password, &context)) < 0) ||
	    (e->ssh_key.name && (error = plumb_secret_read(&out->ssh_key, &e->ssh_key, &context)) < 0) ||
	    (e->passphrase.name && (error = plumb_secret_read(&out->passphrase, &e->passphrase, &context)) < 0))
		return plumb_error_wrap(error, "credentials for %s", e->url);
	return 0;
}

static void notice(plumb_source_notice kind, const char *url, const char *message, void *payload)
{
	plumb_credentials *c = payload;
	if (c->notice)
		c->notice(kind, url, message, c->notice_payload);
	else if (kind == PLUMB_SOURCE_NOTICE_WARNING)
		fprintf(stderr, "plumb: warning: %s\n", message);
	else
		fprintf(stderr, "plumb: added the host key of %s to known_hosts: %s\n", url, message);
}

void plumb_credentials_set_context(plumb_credentials *c, const char *identity_file,
				   void (*notice_cb)(plumb_source_notice kind, const char *url, const char *message,
						     void *payload),
				   void *payload)
{
	free(c->identity_file);
	c->identity_file = identity_file ? plumb_xstrdup(identity_file) : NULL;
	c->notice = notice_cb;
	c->notice_payload = payload;
}

const plumb_source_credentials *plumb_credentials_table(plumb_credentials *c)
{
	c->table.resolve = resolve;
	c->table.notice = notice;
	c->table.payload = c;
	return &c->table;
}

plumb_credentials *plumb_credentials_ref(plumb_credentials *c)
{
	if (c)
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_ACQ_REL);
	return c;
}

void plumb_credentials_free(plumb_credentials *c)
{
	if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	for (size_t i = 0; i < c->count; i++)
		entry_release(&c->entries[i]);
	free(c->entries);
	free(c->identity_file);
	free(c);
}
