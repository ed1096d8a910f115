/*
 * client.h - one connection to one Kubernetes API server.
 *
 * Requests go through libcurl, which is loaded (dlopen) when the first
 * connection opens and not linked into plumb: it brings a dozen libraries
 * (nghttp2, libssh2, LDAP, Kerberos...) whose loading every command would
 * otherwise pay, and only a cluster connection needs it. One easy handle
 * serves every request of a connection, so the TCP and TLS connection is
 * kept and reused; HTTP/2 is used when the server offers it (ALPN).
 *
 * TLS is always verified, against the kubeconfig's CA (or the system's
 * trust store when it gives none), with its tls-server-name when set.
 * Credentials: a client certificate and key, a bearer token (a token file
 * is read again when it changes, an exec plugin asked again when its
 * credentials expire or are refused). A proxy is used only when the
 * environment names one (HTTPS_PROXY, NO_PROXY), as curl reads them.
 *
 * Errors never hold a request or response body (either may hold a Secret):
 * only the method, the path, and what the server's Status says.
 */
#ifndef PLUMB_KUBE_CLIENT_H
#define PLUMB_KUBE_CLIENT_H

#include <stddef.h>

#include "providers/kubernetes/kubeconfig.h"
#include "util/buf.h"

typedef struct plumb_kube_client plumb_kube_client;

/* Limits; 0 takes the default. */
typedef struct {
	long connect_timeout_ms; /* to connect and finish the TLS handshake: 10 s */
	long timeout_ms;         /* a whole request, answer included: 60 s */
	size_t response_max;     /* the largest answer read: PLUMB_KUBE_RESPONSE_MAX */
} plumb_kube_client_options;

#define PLUMB_KUBE_RESPONSE_MAX ((size_t)256 << 20)

/* One request. */
typedef struct {
	const char *method;        /* GET, POST, PUT, PATCH, DELETE */
	const char *path;          /* path and query below the server URL: "/api/v1/namespaces/x/configmaps?limit=500" */
	const char *accept;        /* NULL: application/json */
	const char *content_type;  /* of body; NULL without one */
	const void *body;
	size_t length;
	const char *if_none_match; /* an ETag from an earlier answer: the server answers 304 when nothing changed */
	const struct plumb_kube_stream *stream; /* a watch: the answer is read line by line as it comes */
} plumb_kube_call;

/*
 * A streamed answer (a watch): each complete line of a 2xx answer goes to
 * line as it arrives, and is not kept in the answer's body; an answer of
 * any other status is read whole, as any other. The request has no time
 * limit of its own (the server's timeoutSeconds ends it); it ends early
 * when line returns nonzero or stopped does (asked about once a second),
 * and is then a success: the caller knows why it stopped.
 */
typedef struct plumb_kube_stream {
	int (*line)(void *payload, const char *text, size_t length);
	int (*stopped)(void *payload);
	void *payload;
} plumb_kube_stream;

/* What the server answered. */
typedef struct {
	long status;        /* HTTP status */
	plumb_buf body;
	char *etag;         /* its ETag header, or NULL */
	char *content_type; /* its Content-Type, or NULL */
} plumb_kube_answer;

#define PLUMB_KUBE_ANSWER_INIT { 0, PLUMB_BUF_INIT, NULL, NULL }

/* Free what an answer holds; the body is wiped (it may be a Secret). The answer can be used again. */
void plumb_kube_answer_release(plumb_kube_answer *answer);

/* What a connection did so far: for tests and for the cost of a run. */
typedef struct {
	unsigned long requests;    /* requests sent (a retry after a refreshed credential counts) */
	unsigned long connections; /* TCP connections opened */
	unsigned long long received; /* bytes of the answers' bodies (decompressed) */
	long http_version;         /* of the last answer: 2 for HTTP/2, 1 for HTTP/1.x, 0 before any */
} plumb_kube_stats;

/*
 * Open a connection to the server config names; config is taken (freed
 * with the client, or at once when opening fails). Nothing is sent yet.
 * PLUMB_ERROR when libcurl cannot be loaded.
 */
int plumb_kube_client_open(plumb_kube_client **out, plumb_kubeconfig *config, const plumb_kube_client_options *options);

/* The kubeconfig it was opened with. Borrowed. */
const plumb_kubeconfig *plumb_kube_client_config(const plumb_kube_client *client);

/*
 * Send call and read the answer into out (released by the caller, filled
 * for any status). Returns 0 for a 2xx or 304 answer; for any other status
 * a negative code with a message of the server's Status (never a body):
 *   401  PLUMB_ERROR     "authentication failed for SERVER (user U from context C)..."
 *   403  PLUMB_ERROR     "forbidden: user U (context C) may not VERB RESOURCE[.GROUP] in namespace NS: ..."
 *   404  PLUMB_ENOTFOUND the server's message
 *   409  PLUMB_ECONFLICT the server's message
 *   422  PLUMB_EINVALID  the server's message and each field cause
 *   5xx  PLUMB_ERROR     "METHOD PATH: SERVER answered N REASON: message"
 *   else PLUMB_ERROR     "METHOD PATH: N REASON: message"
 * PLUMB_ERROR also when the server cannot be reached or its certificate is
 * not trusted ("cannot reach SERVER"), or the connection is lost before the
 * answer ("lost the connection to SERVER": a change may or may not have
 * been made), both with out->status 0, or when the answer is larger than
 * the client's cap. A 401 with credentials from an exec plugin asks it
 * again and sends once more.
 */
int plumb_kube_send(plumb_kube_answer *out, plumb_kube_client *client, const plumb_kube_call *call);

/* Requests plumb_kube_send_all keeps in flight at once, and the connections it opens for them at most. */
#define PLUMB_KUBE_PARALLEL 32
#define PLUMB_KUBE_PARALLEL_CONNECTIONS 4

/*
 * Send calls[0..count) at once: over one connection as streams of it when
 * the server speaks HTTP/2 (a few connections when it does not), at most
 * PLUMB_KUBE_PARALLEL in flight. For each: answers[i] (released first),
 * errors[i] as plumb_kube_send would return it, and messages[i] its
 * message (a new string), or NULL. The error slot is left clear. Returns
 * 0, each call's outcome its own; or an error renewing the credentials,
 * and then none was sent. A 401 is not asked again of an exec plugin: the
 * caller sends that one again with plumb_kube_send. Not for streams.
 */
int plumb_kube_send_all(plumb_kube_client *client, const plumb_kube_call *calls, plumb_kube_answer *answers,
			int *errors, char **messages, size_t count);

/*
 * The same for the common case: *out_status and out_body (appended to)
 * of method on path_and_query, with an optional body of content_type.
 */
int plumb_kube_request(long *out_status, plumb_buf *out_body, plumb_kube_client *client, const char *method,
		       const char *path_and_query, const char *content_type, const void *body, size_t length);

plumb_kube_stats plumb_kube_client_stats(const plumb_kube_client *client);

/* Close the connection and wipe the credentials. NULL-safe. */
void plumb_kube_client_close(plumb_kube_client *client);

#endif
