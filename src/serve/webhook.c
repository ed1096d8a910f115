#include "util/common.h"
#include "util/hash.h"
#include "serve/webhook.h"

#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define DIGEST_LEN 32 /* SHA-256 */
#define HEAD_PREFIX "refs/heads/"

static const char *const kind_names[] = {
	[PLUMB_WEBHOOK_GITHUB] = "github",
	[PLUMB_WEBHOOK_GITEA] = "gitea",
	[PLUMB_WEBHOOK_GITLAB] = "gitlab",
	[PLUMB_WEBHOOK_GENERIC] = "generic",
};

static const char *const kind_headers[] = {
	[PLUMB_WEBHOOK_GITHUB] = "X-Hub-Signature-256",
	[PLUMB_WEBHOOK_GITEA] = "X-Gitea-Signature",
	[PLUMB_WEBHOOK_GITLAB] = "X-Gitlab-Token",
	[PLUMB_WEBHOOK_GENERIC] = "X-Plumb-Signature",
};

int plumb_webhook_kind_from_name(const char *name)
{
	if (!name)
		return -1;
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(kind_names); i++)
		if (strcmp(name, kind_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *plumb_webhook_header(plumb_webhook_kind kind)
{
	if ((size_t)kind >= PLUMB_ARRAY_SIZE(kind_headers))
		return NULL;
	return kind_headers[kind];
}

/*
 * Decode exactly 2 * DIGEST_LEN hex digits and nothing after. The length is
 * public (every signature has it), so checking it first leaks nothing.
 */
static int decode_digest(unsigned char out[DIGEST_LEN], const char *hex)
{
	if (strlen(hex) != 2 * DIGEST_LEN)
		return -1;
	for (size_t i = 0; i < DIGEST_LEN; i++) {
		int high = plumb_hex_value(hex[2 * i]), low = plumb_hex_value(hex[2 * i + 1]);
		if (high < 0 || low < 0)
			return -1;
		out[i] = (unsigned char)(high << 4 | low);
	}
	return 0;
}

static int sha256(unsigned char out[DIGEST_LEN], const void *data, size_t len)
{
	unsigned int out_len = 0;
	return EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL) && out_len == DIGEST_LEN ? 0 : -1;
}

/* The claimed HEX(HMAC-SHA256(secret, body)) compared, as bytes, with the real one. */
static int verify_hmac(const char *secret, size_t secret_len, const char *hex, const char *body, size_t body_len)
{
	unsigned char claimed[DIGEST_LEN], actual[EVP_MAX_MD_SIZE];
	unsigned int actual_len = 0;

	if (decode_digest(claimed, hex) < 0 || secret_len > INT_MAX)
		return 0;
	/* HMAC() wants a non-NULL data pointer even for an empty body. */
	if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)(body ? body : ""), body_len, actual,
		  &actual_len) ||
	    actual_len != DIGEST_LEN)
		return 0;
	return CRYPTO_memcmp(claimed, actual, DIGEST_LEN) == 0;
}

/*
 * GitLab sends the secret itself. Comparing the SHA-256 of each side makes
 * the comparison fixed-length, so neither the secret's length nor how much
 * of it a guess got right shows in the timing.
 */
static int verify_token(const char *secret, size_t secret_len, const char *token)
{
	unsigned char expected[DIGEST_LEN], presented[DIGEST_LEN];

	if (sha256(expected, secret, secret_len) < 0 || sha256(presented, token, strlen(token)) < 0)
		return 0;
	return CRYPTO_memcmp(expected, presented, DIGEST_LEN) == 0;
}

int plumb_webhook_verify(plumb_webhook_kind kind, const char *secret, size_t secret_len, const char *header_value,
			 const char *body, size_t body_len)
{
	static const char prefix[] = "sha256=";

	/* An empty secret would make every delivery's proof computable by anyone. */
	if (!header_value || !secret || secret_len == 0)
		return 0;
	switch (kind) {
	case PLUMB_WEBHOOK_GITHUB:
	case PLUMB_WEBHOOK_GENERIC:
		if (strncmp(header_value, prefix, sizeof(prefix) - 1) != 0)
			return 0;
		return verify_hmac(secret, secret_len, header_value + sizeof(prefix) - 1, body, body_len);
	case PLUMB_WEBHOOK_GITEA:
		return verify_hmac(secret, secret_len, header_value, body, body_len);
	case PLUMB_WEBHOOK_GITLAB:
		return verify_token(secret, secret_len, header_value);
	}
	return 0;
}

char *plumb_webhook_pushed_branch(const char *body, size_t body_len)
{
	json_error_t json_error;
	char *branch = NULL;

	if (!body)
		return NULL;
	json_t *root = json_loadb(body, body_len, 0, &json_error);
	if (!root)
		return NULL;
	const char *ref = json_string_value(json_object_get(root, "ref"));
	if (ref && strncmp(ref, HEAD_PREFIX, sizeof(HEAD_PREFIX) - 1) == 0 && ref[sizeof(HEAD_PREFIX) - 1])
		branch = plumb_xstrdup(ref + sizeof(HEAD_PREFIX) - 1);
	json_decref(root);
	return branch;
}
