#include "util/common.h"
#include "load/argocd_repository.h"
#include "load/argocd.h"
#include "load/located.h"
#include "render/helm.h"
#include "util/url.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <strings.h>

#define SECRET_TYPE_LABEL "argocd.argoproj.io/secret-type"

/* What a key of a repository Secret is to plumb. */
typedef enum { KEY_READ, KEY_CREDENTIAL, KEY_INSECURE, KEY_PROXY } key_use;
static const struct {
	const char *key;
	key_use use;
} repository_keys[] = {
	{ "type", KEY_READ },
	{ "name", KEY_READ },
	{ "url", KEY_READ },
	{ "project", KEY_READ },
	{ "enableOCI", KEY_READ },
	{ "insecureOCIForceHttp", KEY_READ },
	{ "username", KEY_CREDENTIAL },
	{ "password", KEY_CREDENTIAL },
	{ "bearerToken", KEY_CREDENTIAL },
	{ "forceHttpBasicAuth", KEY_CREDENTIAL },
	{ "sshPrivateKey", KEY_CREDENTIAL },
	{ "tlsClientCertData", KEY_CREDENTIAL },
	{ "tlsClientCertKey", KEY_CREDENTIAL },
	{ "githubAppID", KEY_CREDENTIAL },
	{ "githubAppInstallationID", KEY_CREDENTIAL },
	{ "githubAppPrivateKey", KEY_CREDENTIAL },
	{ "githubAppEnterpriseBaseUrl", KEY_CREDENTIAL },
	{ "gcpServiceAccountKey", KEY_CREDENTIAL },
	{ "useAzureWorkloadIdentity", KEY_CREDENTIAL },
	{ "insecure", KEY_INSECURE },
	{ "proxy", KEY_PROXY },
	{ "noProxy", KEY_PROXY },
};

/* Why plumb does not read a key of this use, for a chart helm fetches or (chart 0) a git repository. */
static const char *unread_because(key_use use, int chart)
{
	switch (use) {
	case KEY_CREDENTIAL:
		return chart ? "helm fetches the chart with the credentials plumb is given: --credentials"
			     : "plumb reaches a repository with the credentials it is given: --credentials";
	case KEY_INSECURE:
		return "TLS is verified, against the CA store plumb runs with (SSL_CERT_FILE)";
	case KEY_PROXY:
		return "plumb and helm go through the proxies plumb runs with (HTTPS_PROXY, NO_PROXY)";
	case KEY_READ:
		break;
	}
	return NULL;
}

/* The type label of a Secret document, borrowed from it; NULL when none. */
static const char *secret_type(json_t *document)
{
	return json_string_value(
		json_object_get(json_object_get(json_object_get(document, "metadata"), "labels"), SECRET_TYPE_LABEL));
}

int plumb_argocd_repository_secret(const plumb_resource *r)
{
	if (strcmp(r->api_version, "v1") != 0 || strcmp(r->kind, "Secret") != 0)
		return 0;
	json_t *document = json_loads(r->json, 0, NULL);
	const char *type = secret_type(document);
	int repository = type && (!strcmp(type, "repository") || !strcmp(type, "repo-creds"));
	json_decref(document);
	return repository;
}

/*
 * The value of key in a Secret as its manifest writes it (load masks a
 * Secret's values): stringData's, else data's decoded. A new string, or
 * NULL.
 */
static char *secret_value(plumb_located *secret, const char *key)
{
	char *field = plumb_xprintf("stringData[%s]", key);
	char *text = plumb_located_scalar(secret, field);
	free(field);
	if (text)
		return text;
	field = plumb_xprintf("data[%s]", key);
	char *encoded = plumb_located_scalar(secret, field);
	free(field);
	if (!encoded)
		return NULL;
	size_t length = strlen(encoded);
	unsigned char *decoded = plumb_xmalloc(length / 4 * 3 + 4);
	int n = EVP_DecodeBlock(decoded, (const unsigned char *)encoded, (int)length);
	/* EVP_DecodeBlock counts the padding as zero bytes. */
	for (size_t i = length; n > 0 && i > 0 && encoded[i - 1] == '='; i--)
		n--;
	free(encoded);
	if (n < 0) {
		free(decoded);
		return NULL;
	}
	decoded[n] = '\0';
	return (char *)decoded;
}

static int secret_true(plumb_located *secret, const char *key)
{
	char *value = secret_value(secret, key);
	int yes = value && !strcmp(value, "true");
	free(value);
	return yes;
}

/* Whether repo starts with prefix at a path boundary (repo-creds match by prefix, as Argo CD's do). */
static int url_starts(const char *repo, const char *prefix)
{
	size_t n = strlen(prefix);
	while (n && prefix[n - 1] == '/')
		n--;
	return !strncasecmp(repo, prefix, n) && (repo[n] == '\0' || repo[n] == '/');
}

/*
 * Whether a repository Secret's url names target, or (creds) starts it:
 * written without a scheme it is also an OCI registry's, as Argo CD writes
 * one with enableOCI (a git URL without one, git@host:path, is itself).
 */
static int url_matches(const char *url, const char *target, int creds)
{
	if (creds ? url_starts(target, url) : plumb_url_same(url, target))
		return 1;
	if (strstr(url, "://"))
		return 0;
	char *oci = plumb_xprintf("oci://%s", url);
	int matches = creds ? url_starts(target, oci) : plumb_url_same(oci, target);
	free(oci);
	return matches;
}

/*
 * The repository Secret of set for the chart at repo/chart (*found, its
 * manifest read from source; 0, or -1 when there is none): the one of
 * repo (a chart: source's repoURL), or of repo/chart (an oci:// source's,
 * the artifact), else the repo-creds with the longest url it starts.
 */
static int find_secret(plumb_located *found, const plumb_manifest_set *set, plumb_source *source, const char *repo,
		       const char *chart, plumb_diags *diags)
{
	char *artifact = chart ? plumb_xprintf("%s/%s", repo, chart) : plumb_xstrdup(repo);
	size_t found_length = 0;
	int found_own = 0, any = 0;
	for (size_t i = 0; i < set->resource_count && !found_own; i++) {
		const plumb_resource *r = &set->resources[i];
		if (!plumb_argocd_repository_secret(r))
			continue;
		plumb_located candidate;
		plumb_located_init(&candidate, r, source);
		if (!plumb_located_readable(&candidate)) {
			plumb_position at = { r->file, r->line, r->column };
			plumb_diags_warn(diags, at,
					 "Secret %s: a repository Secret a renderer made is not read by plumb (its values "
					 "are not kept): write it in the folder",
					 r->name);
		}
		json_t *document = json_loads(r->json, 0, NULL);
		const char *type = secret_type(document);
		char *url = secret_value(&candidate, "url");
		int own = url && !strcmp(type, "repository") &&
			  (url_matches(url, repo, 0) || url_matches(url, artifact, 0));
		int creds = url && !strcmp(type, "repo-creds") && url_matches(url, artifact, 1);
		size_t length = url ? strlen(url) : 0;
		if (own || (creds && length > found_length)) {
			if (any)
				plumb_located_release(found);
			*found = candidate;
			any = 1;
			found_length = length;
			found_own = own;
		} else {
			plumb_located_release(&candidate);
		}
		free(url);
		json_decref(document);
	}
	free(artifact);
	return any ? 0 : -1;
}

/*
 * Each key of secret's stringData or data that plumb does not read, for a
 * chart (or, chart 0, a git repository): a warning where it is written.
 */
static void warn_unread(plumb_located *secret, int chart, plumb_diags *diags)
{
	static const char *const maps[] = { "stringData", "data" };
	const plumb_resource *r = secret->resource;
	json_t *document = json_loads(r->json, 0, NULL); /* its keys; the values masked */
	for (size_t m = 0; m < PLUMB_ARRAY_SIZE(maps); m++) {
		const char *key;
		json_t *value;
		json_object_foreach(json_object_get(document, maps[m]), key, value) {
			size_t i = 0;
			while (i < PLUMB_ARRAY_SIZE(repository_keys) && strcmp(repository_keys[i].key, key) != 0)
				i++;
			if (i < PLUMB_ARRAY_SIZE(repository_keys) && repository_keys[i].use == KEY_READ)
				continue;
			char *field = plumb_xprintf("%s[%s]", maps[m], key);
			if (i < PLUMB_ARRAY_SIZE(repository_keys))
				plumb_diags_warn(diags, plumb_located_field(secret, field),
						 "Secret %s: %s.%s: not read by plumb (%s)", r->name, maps[m], key,
						 unread_because(repository_keys[i].use, chart));
			else
				plumb_diags_warn(diags, plumb_located_field(secret, field), "Secret %s: %s.%s: not read by plumb",
						 r->name, maps[m], key);
			free(field);
		}
	}
	json_decref(document);
}

void plumb_argocd_repository_resolve(plumb_application *a, const plumb_manifest_set *set, plumb_source *source,
				     plumb_diags *diags)
{
	const plumb_resource *declaring = a->resource < set->resource_count ? &set->resources[a->resource] : NULL;
	if (!declaring || strcmp(declaring->api_version, PLUMB_ARGOCD_API_VERSION) != 0)
		return;
	json_t *render = a->render ? json_loads(a->render, 0, NULL) : NULL;
	json_t *remote = json_object_get(json_object_get(render, "helm"), "remote");
	const char *chart = json_string_value(json_object_get(remote, "chart"));
	const char *repo = chart ? json_string_value(json_object_get(remote, "repo")) : a->repo;
	plumb_located secret;
	if (repo && find_secret(&secret, set, source, repo, chart, diags) == 0) {
		warn_unread(&secret, chart != NULL, diags);
		if (chart && plumb_helm_is_oci(repo) && secret_true(&secret, "insecureOCIForceHttp")) {
			json_object_set_new(remote, "plainHttp", json_true());
			free(a->render);
			a->render = json_dumps(render, JSON_COMPACT);
		}
		plumb_located_release(&secret);
	}
	json_decref(render);
}
