/*
 * webhook.h - verifying push webhooks from git forges.
 *
 * Each forge proves a delivery with the shared secret its own way; all
 * comparisons are constant-time:
 *   github   X-Hub-Signature-256: sha256=HEX(HMAC-SHA256(secret, body))
 *   gitea    X-Gitea-Signature:   HEX(HMAC-SHA256(secret, body))
 *   gitlab   X-Gitlab-Token:      the secret itself
 *   generic  X-Plumb-Signature:   sha256=HEX(HMAC-SHA256(secret, body))
 */
#ifndef PLUMB_WEBHOOK_H
#define PLUMB_WEBHOOK_H

#include <stddef.h>

typedef enum {
	PLUMB_WEBHOOK_GITHUB,
	PLUMB_WEBHOOK_GITEA,
	PLUMB_WEBHOOK_GITLAB,
	PLUMB_WEBHOOK_GENERIC,
} plumb_webhook_kind;

/* The kind named by the last segment of /api/v1/webhooks/KIND; -1 for none. */
int plumb_webhook_kind_from_name(const char *name);

/* The header that carries the proof for kind. */
const char *plumb_webhook_header(plumb_webhook_kind kind);

/*
 * True when header_value proves body with secret for kind. A missing
 * header (NULL), an empty secret, or a malformed value is false.
 */
int plumb_webhook_verify(plumb_webhook_kind kind, const char *secret, size_t secret_len, const char *header_value,
			 const char *body, size_t body_len);

/*
 * The branch a push delivery names ("main" from "refs/heads/main" in the
 * JSON body's "ref"), as a new string, or NULL when the body names none:
 * a push to another branch need not wake anything.
 */
char *plumb_webhook_pushed_branch(const char *body, size_t body_len);

#endif
