#include "util/common.h"
#include "providers/kubernetes/client.h"
#include "util/buf.h"
#include "util/library.h"

/* The functions are called through pointers, which curl's type-checking macros would not let through. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>

/*
 * The soname of Debian's libcurl4 (OpenSSL flavour), the ABI of the header
 * the pointers below are typed from. libcurl3-gnutls's is another name.
 */
#define CURL_LIBRARY "libcurl.so.4"

#define CONNECT_TIMEOUT_MS 10000L
#define REQUEST_TIMEOUT_MS 60000L

/* libcurl's functions that plumb calls, typed from its header. */
typedef struct {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_header) *easy_header;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_duphandle) *easy_duphandle;
	__typeof__(curl_multi_init) *multi_init;
	__typeof__(curl_multi_setopt) *multi_setopt;
	__typeof__(curl_multi_add_handle) *multi_add_handle;
	__typeof__(curl_multi_remove_handle) *multi_remove_handle;
	__typeof__(curl_multi_perform) *multi_perform;
	__typeof__(curl_multi_poll) *multi_poll;
	__typeof__(curl_multi_info_read) *multi_info_read;
	__typeof__(curl_multi_cleanup) *multi_cleanup;
} curl_functions;

/* A transfer stopped on purpose (a stream's line or stopped said so): not a failure. */
#define STREAM_STOPPED(rc) ((rc) == CURLE_WRITE_ERROR || (rc) == CURLE_ABORTED_BY_CALLBACK)

static curl_functions curl;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static char curl_problem[512]; /* why it could not be loaded */

static void load_curl(void)
{
	const plumb_library_symbol symbols[] = {
		{ "curl_global_init", &curl.global_init },   { "curl_easy_init", &curl.easy_init },
		{ "curl_easy_setopt", &curl.easy_setopt },   { "curl_easy_perform", &curl.easy_perform },
		{ "curl_easy_getinfo", &curl.easy_getinfo }, { "curl_easy_header", &curl.easy_header },
		{ "curl_easy_strerror", &curl.easy_strerror }, { "curl_easy_cleanup", &curl.easy_cleanup },
		{ "curl_easy_duphandle", &curl.easy_duphandle }, { "curl_multi_init", &curl.multi_init },
		{ "curl_multi_setopt", &curl.multi_setopt }, { "curl_multi_add_handle", &curl.multi_add_handle },
		{ "curl_multi_remove_handle", &curl.multi_remove_handle },
		{ "curl_multi_perform", &curl.multi_perform }, { "curl_multi_poll", &curl.multi_poll },
		{ "curl_multi_info_read", &curl.multi_info_read }, { "curl_multi_cleanup", &curl.multi_cleanup },
	};
	if (plumb_library_load(CURL_LIBRARY, symbols, PLUMB_ARRAY_SIZE(symbols), curl_problem, sizeof(curl_problem)) < 0)
		return;
	/* Once per process, before any handle; the library then stays loaded. */
	if (curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(curl_problem, sizeof(curl_problem), "curl_global_init failed");
		memset(&curl, 0, sizeof(curl));
	}
}

struct plumb_kube_client {
	plumb_kubeconfig *config;
	size_t response_max;
	long timeout_ms; /* of a request that is not a stream */
	CURL *handle;
	char *base_url;          /* the server, or its tls-server-name in the server's place (connect_to) */
	char *connect_to;        /* "NAME:PORT:HOST:PORT": where base_url's name really is */
	struct curl_slist connect_to_list;
	unsigned certificate_set; /* config->credentials_changed when the handle got its certificate, plus one */
	plumb_kube_stats stats;
	/* The answer being read. */
	plumb_buf *receiving;
	const plumb_kube_stream *stream; /* its lines go there (a 2xx answer of a watch) */
	int stream_stopped;
	int overflowed;
	char error_text[CURL_ERROR_SIZE];
};

/* Hand the complete lines received so far to the stream, keeping the unfinished one. */
static int stream_lines(plumb_kube_client *client)
{
	plumb_buf *b = client->receiving;
	size_t start = 0;
	for (char *end; (end = memchr(b->ptr + start, '\n', b->len - start)) != NULL;) {
		size_t length = (size_t)(end - (b->ptr + start));
		if (length && client->stream->line(client->stream->payload, b->ptr + start, length) != 0) {
			client->stream_stopped = 1;
			return -1;
		}
		start += length + 1;
	}
	if (start) {
		memmove(b->ptr, b->ptr + start, b->len - start);
		plumb_buf_truncate(b, b->len - start);
	}
	return 0;
}

static size_t on_data(char *data, size_t size, size_t count, void *user)
{
	plumb_kube_client *client = user;
	size_t n = size * count;
	if (client->receiving->len + n > client->response_max) {
		client->overflowed = 1;
		return 0; /* curl stops the transfer */
	}
	plumb_buf_add(client->receiving, data, n);
	if (client->stream) {
		long status = 0;
		curl.easy_getinfo(client->handle, CURLINFO_RESPONSE_CODE, &status);
		if (status >= 200 && status < 300 && stream_lines(client) < 0)
			return 0;
	}
	return n;
}

/* curl asks about once a second, data or not: a stream's owner may want it to end. */
static int on_progress(void *user, curl_off_t download_total, curl_off_t downloaded, curl_off_t upload_total,
		       curl_off_t uploaded)
{
	plumb_kube_client *client = user;
	if (client->stream && client->stream->stopped && client->stream->stopped(client->stream->payload)) {
		client->stream_stopped = 1;
		return 1;
	}
	return 0;
}

/*
 * With tls-server-name, the URL names that host (so curl sends it as SNI
 * and checks the certificate against it) and CONNECT_TO sends the
 * connection to the server's real host and port.
 */
static void set_base_url(plumb_kube_client *client)
{
	const plumb_kubeconfig *config = client->config;
	const char *host = config->server + strlen("https://");
	const char *host_end = host[0] == '[' ? strchr(host, ']') : NULL;
	host_end = host_end ? host_end + 1 : host + strcspn(host, ":/");
	const char *port = *host_end == ':' ? host_end + 1 : NULL;
	const char *rest = host_end + strcspn(host_end, "/");
	int port_length = port ? (int)(rest - port) : 3;

	if (!config->tls_server_name) {
		client->base_url = plumb_xstrdup(config->server);
		return;
	}
	client->base_url = plumb_xprintf("https://%s:%.*s%s", config->tls_server_name, port_length,
					 port ? port : "443", rest);
	client->connect_to = plumb_xprintf("%s:%.*s:%.*s:%.*s", config->tls_server_name, port_length,
					   port ? port : "443", (int)(host_end - host), host, port_length,
					   port ? port : "443");
	client->connect_to_list = (struct curl_slist){ client->connect_to, NULL };
}

/* Hand the client certificate and key to the handle again when they changed (an exec plugin's renewal). */
static void set_client_certificate(plumb_kube_client *client)
{
	plumb_kubeconfig *config = client->config;
	/* Counted, not compared by address: a new key may be allocated where the wiped one was. */
	if (client->certificate_set == config->credentials_changed + 1)
		return;
	client->certificate_set = config->credentials_changed + 1;
	if (!config->client_certificate.len) {
		curl.easy_setopt(client->handle, CURLOPT_SSLCERT_BLOB, NULL);
		curl.easy_setopt(client->handle, CURLOPT_SSLKEY_BLOB, NULL);
		return;
	}
	struct curl_blob certificate = { config->client_certificate.ptr, config->client_certificate.len,
					 CURL_BLOB_COPY };
	/* Not copied: curl reads the key where the kubeconfig keeps it, which is wiped when it is freed. */
	struct curl_blob key = { config->client_key.ptr, config->client_key.len, CURL_BLOB_NOCOPY };
	curl.easy_setopt(client->handle, CURLOPT_SSLCERTTYPE, "PEM");
	curl.easy_setopt(client->handle, CURLOPT_SSLCERT_BLOB, &certificate);
	curl.easy_setopt(client->handle, CURLOPT_SSLKEYTYPE, "PEM");
	curl.easy_setopt(client->handle, CURLOPT_SSLKEY_BLOB, &key);
}

int plumb_kube_client_open(plumb_kube_client **out, plumb_kubeconfig *config, const plumb_kube_client_options *options)
{
	*out = NULL;
	pthread_once(&curl_once, load_curl);
	if (!curl.easy_init) {
		plumb_kubeconfig_free(config);
		return plumb_error_set(PLUMB_ERROR, "cannot connect to a Kubernetes API server: %s", curl_problem);
	}
	plumb_kube_client *client = plumb_xcalloc(1, sizeof(*client));
	client->config = config;
	client->response_max = options && options->response_max ? options->response_max : PLUMB_KUBE_RESPONSE_MAX;
	client->timeout_ms = options && options->timeout_ms ? options->timeout_ms : REQUEST_TIMEOUT_MS;
	client->handle = curl.easy_init();
	if (!client->handle)
		abort(); /* curl_easy_init only fails when memory runs out */
	set_base_url(client);

	CURL *h = client->handle;
	curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl.easy_setopt(h, CURLOPT_ERRORBUFFER, client->error_text);
	curl.easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
	curl.easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl.easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl.easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl.easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl.easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl.easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl.easy_setopt(h, CURLOPT_USERAGENT, "plumb/" PLUMB_VERSION);
	curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 options && options->connect_timeout_ms ? options->connect_timeout_ms : CONNECT_TIMEOUT_MS);
	curl.easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)client->response_max);
	curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl.easy_setopt(h, CURLOPT_WRITEDATA, client);
	curl.easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl.easy_setopt(h, CURLOPT_XFERINFODATA, client);
	if (client->connect_to)
		curl.easy_setopt(h, CURLOPT_CONNECT_TO, &client->connect_to_list);
	if (config->certificate_authority.len) {
		/* This CA alone: not the system's bundle besides, which curl would otherwise also trust. */
		struct curl_blob ca = { config->certificate_authority.ptr, config->certificate_authority.len,
					CURL_BLOB_COPY };
		curl.easy_setopt(h, CURLOPT_CAINFO, NULL);
		curl.easy_setopt(h, CURLOPT_CAPATH, NULL);
		curl.easy_setopt(h, CURLOPT_CAINFO_BLOB, &ca);
	}
	set_client_certificate(client);
	*out = client;
	return 0;
}

const plumb_kubeconfig *plumb_kube_client_config(const plumb_kube_client *client)
{
	return client->config;
}

plumb_kube_stats plumb_kube_client_stats(const plumb_kube_client *client)
{
	return client->stats;
}

void plumb_kube_answer_release(plumb_kube_answer *answer)
{
	plumb_buf_wipe(&answer->body);
	free(answer->etag);
	free(answer->content_type);
	answer->etag = answer->content_type = NULL;
	answer->status = 0;
}

/* --- what a refusal says ------------------------------------------------------------- */

/* What a request's path names: /api/v1/... or /apis/GROUP/VERSION/..., [namespaces/NS/]RESOURCE[/NAME[/SUB]]. */
typedef struct {
	char group[256];
	char namespace[256];
	char resource[256];
	char name[256];
	char subresource[64];
} request_target;

static void copy_segment(char *out, size_t size, const char *segment, size_t length)
{
	snprintf(out, size, "%.*s", (int)length, segment);
}

static void parse_target(request_target *target, const char *path)
{
	const char *segments[8];
	size_t lengths[8], count = 0;

	memset(target, 0, sizeof(*target));
	for (const char *p = path; *p == '/' && count < PLUMB_ARRAY_SIZE(segments);) {
		p++;
		size_t n = strcspn(p, "/?");
		segments[count] = p;
		lengths[count++] = n;
		p += n;
	}
	size_t first;
	if (count >= 2 && lengths[0] == 3 && !memcmp(segments[0], "api", 3)) {
		first = 2;
	} else if (count >= 3 && lengths[0] == 4 && !memcmp(segments[0], "apis", 4)) {
		copy_segment(target->group, sizeof(target->group), segments[1], lengths[1]);
		first = 3;
	} else {
		return;
	}
	if (count >= first + 3 && lengths[first] == 10 && !memcmp(segments[first], "namespaces", 10)) {
		copy_segment(target->namespace, sizeof(target->namespace), segments[first + 1], lengths[first + 1]);
		first += 2;
	}
	if (count > first)
		copy_segment(target->resource, sizeof(target->resource), segments[first], lengths[first]);
	if (count > first + 1)
		copy_segment(target->name, sizeof(target->name), segments[first + 1], lengths[first + 1]);
	if (count > first + 2)
		copy_segment(target->subresource, sizeof(target->subresource), segments[first + 2], lengths[first + 2]);
}

/* The RBAC verb a request asks for. */
static const char *verb_of(const char *method, const char *path, const request_target *target)
{
	const char *query = strchr(path, '?');
	if (!strcmp(method, "GET"))
		return query && (strstr(query, "watch=1") || strstr(query, "watch=true")) ? "watch"
		       : target->name[0]						 ? "get"
											 : "list";
	if (!strcmp(method, "POST"))
		return "create";
	if (!strcmp(method, "PUT"))
		return "update";
	if (!strcmp(method, "PATCH"))
		return "patch";
	if (!strcmp(method, "DELETE"))
		return target->name[0] ? "delete" : "deletecollection";
	return method;
}

static int refused(plumb_kube_client *client, const plumb_kube_call *call, long status, json_t *answer)
{
	const plumb_kubeconfig *config = client->config;
	const char *message = json_string_value(json_object_get(answer, "message"));
	const char *reason = json_string_value(json_object_get(answer, "reason"));
	json_t *details = json_object_get(answer, "details");
	request_target target;

	parse_target(&target, call->path);
	if (status == 401)
		return plumb_error_set(PLUMB_ERROR,
				       "authentication failed for %s (user %s from context %s): the server refused "
				       "the credentials%s%s",
				       config->server, config->user, config->context, message ? ": " : "",
				       message ? message : "");
	if (status == 403) {
		/* details name what the server checked; the path fills in what they leave out. */
		const char *group = json_string_value(json_object_get(details, "group"));
		const char *resource = json_string_value(json_object_get(details, "kind"));
		group = group ? group : target.group;
		resource = resource && *resource ? resource : target.resource;
		return plumb_error_set(PLUMB_ERROR,
				       "forbidden: user %s (context %s) may not %s %s%s%s%s%s %s%s%s: %s",
				       config->user, config->context, verb_of(call->method, call->path, &target),
				       *resource ? resource : call->path, *group ? "." : "", group,
				       target.subresource[0] ? "/" : "", target.subresource,
				       target.namespace[0] ? "in namespace" : "cluster-wide",
				       target.namespace[0] ? " " : "", target.namespace,
				       message ? message : "no message from the server");
	}
	plumb_buf text = PLUMB_BUF_INIT;
	plumb_buf_printf(&text, "%s %s: ", call->method, call->path);
	/* The server's own trouble (shutting down, its etcd gone): which server it is matters. */
	if (status >= 500)
		plumb_buf_printf(&text, "%s answered ", config->server);
	plumb_buf_printf(&text, "%ld %s: %s", status, reason ? reason : "error",
			 message ? message : "no message from the server");
	json_t *causes = json_object_get(details, "causes");
	for (size_t i = 0; i < json_array_size(causes) && i < 20; i++) {
		const char *field = json_string_value(json_object_get(json_array_get(causes, i), "field"));
		const char *cause = json_string_value(json_object_get(json_array_get(causes, i), "message"));
		plumb_buf_printf(&text, "\n  %s: %s", field ? field : "(object)", cause ? cause : "invalid");
	}
	int code = status == 404   ? PLUMB_ENOTFOUND
		   : status == 409 ? PLUMB_ECONFLICT
		   : status == 422 ? PLUMB_EINVALID
				   : PLUMB_ERROR;
	plumb_error_set(code, "%s", text.ptr);
	plumb_buf_release(&text);
	return code;
}

/* A message for an answer that is not 2xx, from its Status and never from anything else in it. */
static int answer_error(plumb_kube_client *client, const plumb_kube_call *call, const plumb_kube_answer *answer)
{
	json_t *status = json_loadb(answer->body.ptr, answer->body.len, 0, NULL);
	const char *kind = json_string_value(json_object_get(status, "kind"));
	int error;
	if (kind && !strcmp(kind, "Status"))
		error = refused(client, call, answer->status, status);
	else if (answer->status == 401 || answer->status == 403)
		error = refused(client, call, answer->status, NULL);
	else
		error = plumb_error_set(answer->status == 404 ? PLUMB_ENOTFOUND : PLUMB_ERROR,
					"%s %s: %s answered HTTP %ld (the answer is not a Kubernetes Status)",
					call->method, call->path, client->config->server, answer->status);
	json_decref(status);
	return error;
}

/* --- sending ------------------------------------------------------------------------- */

static char *header_value(CURL *handle, const char *name)
{
	struct curl_header *header = NULL;
	if (curl.easy_header(handle, name, 0, CURLH_HEADER, -1, &header) != CURLHE_OK || !header)
		return NULL;
	return plumb_xstrdup(header->value);
}

/* What one request holds while it runs: its URL and headers, the token's wiped once it is done. */
typedef struct {
	char *url;
	char *accept;
	char *content_type;
	char *if_none_match;
	plumb_buf authorization;
	struct curl_slist headers[5];
} request;

/* Set h up for call: URL, method, headers (credentials included), body, time limit. */
static void request_start(request *r, plumb_kube_client *client, CURL *h, const plumb_kube_call *call)
{
	plumb_kubeconfig *config = client->config;
	size_t count = 0;
	memset(r, 0, sizeof(*r));
	plumb_buf_init(&r->authorization);
	r->url = plumb_xprintf("%s%s", client->base_url, call->path);
	r->accept = plumb_xprintf("Accept: %s", call->accept ? call->accept : "application/json");
	r->content_type = call->content_type ? plumb_xprintf("Content-Type: %s", call->content_type) : NULL;
	r->if_none_match = call->if_none_match ? plumb_xprintf("If-None-Match: %s", call->if_none_match) : NULL;
	/* Built here rather than with curl_slist_append, so that curl never holds a copy of the token. */
	if (config->token.len)
		plumb_buf_printf(&r->authorization, "Authorization: Bearer %s", config->token.ptr);
	r->headers[count++] = (struct curl_slist){ r->accept, NULL };
	r->headers[count++] = (struct curl_slist){ (char *)"Expect:", NULL }; /* no 100-continue round trip */
	if (r->content_type)
		r->headers[count++] = (struct curl_slist){ r->content_type, NULL };
	if (r->if_none_match)
		r->headers[count++] = (struct curl_slist){ r->if_none_match, NULL };
	if (r->authorization.len)
		r->headers[count++] = (struct curl_slist){ r->authorization.ptr, NULL };
	for (size_t i = 0; i + 1 < count; i++)
		r->headers[i].next = &r->headers[i + 1];

	curl.easy_setopt(h, CURLOPT_URL, r->url);
	curl.easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
	curl.easy_setopt(h, CURLOPT_HTTPGET, 1L); /* a clean slate: the handle is reused */
	if (call->body) {
		curl.easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
		curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->length);
	}
	curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, strcmp(call->method, "GET") ? call->method : NULL);
	/* A stream has no time limit of its own, and is asked now and then whether to go on. */
	curl.easy_setopt(h, CURLOPT_TIMEOUT_MS, call->stream ? 0L : client->timeout_ms);
	curl.easy_setopt(h, CURLOPT_NOPROGRESS, call->stream ? 0L : 1L);
	client->stats.requests++;
}

static void request_end(request *r, CURL *h)
{
	curl.easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl.easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
	curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)-1);
	plumb_buf_wipe(&r->authorization);
	free(r->url);
	free(r->accept);
	free(r->content_type);
	free(r->if_none_match);
}

/*
 * What a finished transfer of call on h says: 0 when the server answered
 * (whatever it answered: out's status, type and ETag filled), else
 * PLUMB_ERROR with the message (overflowed: the answer passed the cap).
 */
static int transfer_result(plumb_kube_client *client, CURL *h, const plumb_kube_call *call, plumb_kube_answer *out,
			   CURLcode rc, int overflowed, const char *error_text)
{
	plumb_kubeconfig *config = client->config;
	long connects = 0, version = 0;
	int error = 0;
	curl.easy_getinfo(h, CURLINFO_NUM_CONNECTS, &connects);
	curl.easy_getinfo(h, CURLINFO_HTTP_VERSION, &version);
	client->stats.connections += (unsigned long)connects;
	curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	/*
	 * kube-apiserver answers a failed authentication with 401 and a GOAWAY
	 * that may cut the answer short: the status is what counts there.
	 */
	if (rc != CURLE_OK && out->status == 401 && !overflowed)
		rc = CURLE_OK;
	if (rc == CURLE_OK) {
		const char *type = NULL;
		curl.easy_getinfo(h, CURLINFO_CONTENT_TYPE, &type);
		out->content_type = type ? plumb_xstrdup(type) : NULL;
		out->etag = header_value(h, "ETag");
		client->stats.received += out->body.len;
		client->stats.http_version = version == CURL_HTTP_VERSION_2_0 ? 2 : version == CURL_HTTP_VERSION_3 ? 3 : 1;
	} else if (overflowed || rc == CURLE_FILESIZE_EXCEEDED) {
		error = plumb_error_set(PLUMB_ERROR, "%s %s: the answer from %s is larger than %zu bytes", call->method,
					call->path, config->server, client->response_max);
	} else {
		/*
		 * Lost after the request went out (the server stopped, the network
		 * broke): a change it asked for may or may not have been made.
		 */
		int lost = rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
			   rc == CURLE_PARTIAL_FILE || rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM;
		error = plumb_error_set(PLUMB_ERROR, "%s %s: %s %s (context %s): %s%s", call->method, call->path,
					lost ? "lost the connection to" : "cannot reach", config->server,
					config->context, error_text[0] ? error_text : curl.easy_strerror(rc),
					lost && strcmp(call->method, "GET") != 0
						? " (the server may or may not have carried the request out)"
						: "");
	}
	if (error < 0) {
		plumb_buf_wipe(&out->body);
		out->status = 0;
	}
	return error;
}

/* One transfer: 0 when the server answered (whatever it answered), else PLUMB_ERROR. */
static int perform(plumb_kube_client *client, const plumb_kube_call *call, plumb_kube_answer *out)
{
	CURL *h = client->handle;
	request r;

	set_client_certificate(client);
	request_start(&r, client, h, call);
	client->receiving = &out->body;
	client->stream = call->stream;
	client->stream_stopped = 0;
	client->overflowed = 0;
	client->error_text[0] = '\0';
	CURLcode rc = curl.easy_perform(h);
	if (client->stream_stopped && STREAM_STOPPED(rc))
		rc = CURLE_OK;
	int error = transfer_result(client, h, call, out, rc, client->overflowed, client->error_text);
	request_end(&r, h);
	client->receiving = NULL;
	client->stream = NULL;
	return error;
}

int plumb_kube_send(plumb_kube_answer *out, plumb_kube_client *client, const plumb_kube_call *call)
{
	int error;

	plumb_kube_answer_release(out);
	if ((error = plumb_kubeconfig_renew(client->config)) < 0)
		return error;
	if ((error = perform(client, call, out)) < 0)
		return error;
	if (out->status == 401 && client->config->exec) {
		/* The plugin's credential was revoked or expired early: ask once more, as client-go does. */
		if ((error = plumb_kubeconfig_refresh(client->config)) < 0)
			return error;
		plumb_kube_answer_release(out);
		if ((error = perform(client, call, out)) < 0)
			return error;
	}
	if ((out->status >= 200 && out->status < 300) || out->status == 304)
		return 0;
	return answer_error(client, call, out);
}

/* One transfer of plumb_kube_send_all: where its answer goes. */
typedef struct {
	size_t index;
	CURL *handle;
	request r;
	plumb_buf *receiving;
	size_t response_max;
	int overflowed;
	char error_text[CURL_ERROR_SIZE];
} transfer;

static size_t on_transfer_data(char *data, size_t size, size_t count, void *user)
{
	transfer *t = user;
	size_t n = size * count;
	if (t->receiving->len + n > t->response_max) {
		t->overflowed = 1;
		return 0;
	}
	plumb_buf_add(t->receiving, data, n);
	return n;
}

/* The outcome of calls[t->index], whose transfer ended with rc. */
static void transfer_done(plumb_kube_client *client, transfer *t, CURLcode rc, const plumb_kube_call *calls,
			  plumb_kube_answer *answers, int *errors, char **messages)
{
	size_t i = t->index;
	int error = transfer_result(client, t->handle, &calls[i], &answers[i], rc, t->overflowed, t->error_text);
	if (error == 0 && !((answers[i].status >= 200 && answers[i].status < 300) || answers[i].status == 304))
		error = answer_error(client, &calls[i], &answers[i]);
	errors[i] = error;
	messages[i] = error < 0 ? plumb_xstrdup(plumb_error_last()) : NULL;
	plumb_error_clear();
	request_end(&t->r, t->handle);
	curl.easy_cleanup(t->handle);
	t->handle = NULL;
}

int plumb_kube_send_all(plumb_kube_client *client, const plumb_kube_call *calls, plumb_kube_answer *answers,
			int *errors, char **messages, size_t count)
{
	int error;
	if ((error = plumb_kubeconfig_renew(client->config)) < 0)
		return error;
	set_client_certificate(client);
	CURLM *multi = curl.multi_init();
	if (!multi)
		abort(); /* curl_multi_init only fails when memory runs out */
	/* One connection, many streams over it (HTTP/2); a server that speaks only HTTP/1.1 gets a few connections. */
	curl.multi_setopt(multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl.multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)PLUMB_KUBE_PARALLEL_CONNECTIONS);
	transfer *transfers = plumb_xcalloc(PLUMB_KUBE_PARALLEL, sizeof(*transfers));
	size_t next = 0, active = 0;

	for (size_t i = 0; i < count; i++) {
		plumb_kube_answer_release(&answers[i]);
		errors[i] = 0;
		messages[i] = NULL;
	}
	while (next < count || active) {
		for (size_t slot = 0; slot < PLUMB_KUBE_PARALLEL && next < count; slot++) {
			transfer *t = &transfers[slot];
			if (t->handle)
				continue;
			/* Everything the connection's handle was set up with: TLS, credentials, limits. */
			memset(t, 0, sizeof(*t));
			t->index = next++;
			t->handle = curl.easy_duphandle(client->handle);
			if (!t->handle)
				abort();
			t->receiving = &answers[t->index].body;
			t->response_max = client->response_max;
			request_start(&t->r, client, t->handle, &calls[t->index]);
			curl.easy_setopt(t->handle, CURLOPT_WRITEFUNCTION, on_transfer_data);
			curl.easy_setopt(t->handle, CURLOPT_WRITEDATA, t);
			curl.easy_setopt(t->handle, CURLOPT_ERRORBUFFER, t->error_text);
			curl.easy_setopt(t->handle, CURLOPT_PRIVATE, t);
			curl.easy_setopt(t->handle, CURLOPT_PIPEWAIT, 1L);
			curl.multi_add_handle(multi, t->handle);
			active++;
		}
		int running = 0;
		curl.multi_perform(multi, &running);
		CURLMsg *message;
		int left;
		while ((message = curl.multi_info_read(multi, &left)) != NULL) {
			if (message->msg != CURLMSG_DONE)
				continue;
			transfer *t = NULL;
			curl.easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&t);
			CURLcode rc = message->data.result;
			curl.multi_remove_handle(multi, t->handle);
			transfer_done(client, t, rc, calls, answers, errors, messages);
			active--;
		}
		if (active)
			curl.multi_poll(multi, NULL, 0, 1000, NULL);
	}
	free(transfers);
	curl.multi_cleanup(multi);
	return 0;
}

int plumb_kube_request(long *out_status, plumb_buf *out_body, plumb_kube_client *client, const char *method,
		       const char *path_and_query, const char *content_type, const void *body, size_t length)
{
	plumb_kube_call call = { method, path_and_query, NULL, content_type, body, length, NULL, NULL };
	plumb_kube_answer answer = PLUMB_KUBE_ANSWER_INIT;
	int error = plumb_kube_send(&answer, client, &call);
	*out_status = answer.status;
	plumb_buf_add(out_body, answer.body.ptr, answer.body.len);
	plumb_kube_answer_release(&answer);
	return error;
}

void plumb_kube_client_close(plumb_kube_client *client)
{
	if (!client)
		return;
	if (client->handle)
		curl.easy_cleanup(client->handle);
	plumb_kubeconfig_free(client->config);
	free(client->base_url);
	free(client->connect_to);
	free(client);
}
