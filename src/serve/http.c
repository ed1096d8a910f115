#include "util/common.h"
#include "util/buf.h"
#include "util/library.h"
#include "util/utf8.h"
#include "serve/http.h"
#include "serve/http_internal.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/*
 * The name is that of libmicrohttpd's ABI (the soname), which the
 * functions typed from its header are compiled against.
 */
#define MHD_LIBRARY "libmicrohttpd.so.12"

static plumb_mhd_functions mhd;
static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;
static char mhd_problem[512]; /* why it could not be loaded; "" once it is */

static void load_mhd(void)
{
	const plumb_library_symbol symbols[] = {
		{ "MHD_start_daemon", &mhd.start_daemon },
		{ "MHD_quiesce_daemon", &mhd.quiesce_daemon },
		{ "MHD_stop_daemon", &mhd.stop_daemon },
		{ "MHD_lookup_connection_value", &mhd.lookup_connection_value },
		{ "MHD_lookup_connection_value_n", &mhd.lookup_connection_value_n },
		{ "MHD_get_connection_values", &mhd.get_connection_values },
		{ "MHD_create_response_from_buffer", &mhd.create_response_from_buffer },
		{ "MHD_add_response_header", &mhd.add_response_header },
		{ "MHD_queue_response", &mhd.queue_response },
		{ "MHD_destroy_response", &mhd.destroy_response },
	};
	plumb_library_load(MHD_LIBRARY, symbols, PLUMB_ARRAY_SIZE(symbols), mhd_problem, sizeof(mhd_problem));
}

int plumb_http_load(void)
{
	/* Once per process; the library stays loaded (a daemon's threads may run in it until exit). */
	pthread_once(&mhd_once, load_mhd);
	if (!mhd.start_daemon)
		return plumb_error_set(PLUMB_ERROR, "cannot start the HTTP server: %s", mhd_problem);
	return 0;
}

const plumb_mhd_functions *plumb_http_library(void)
{
	return &mhd;
}

/* Append text as the inside of a JSON string; invalid UTF-8 becomes U+FFFD. */
static void json_escape(plumb_buf *out, const char *text)
{
	plumb_buf repaired = PLUMB_BUF_INIT;
	plumb_utf8_repair(&repaired, text, strlen(text));
	for (const char *p = repaired.ptr; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			plumb_buf_putc(out, '\\');
			plumb_buf_putc(out, (char)c);
		} else if (c == '\n') {
			plumb_buf_puts(out, "\\n");
		} else if (c == '\t') {
			plumb_buf_puts(out, "\\t");
		} else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
			/* Escaping <, > and & keeps a message safe even where JSON ends up inside HTML. */
			plumb_buf_printf(out, "\\u%04x", c);
		} else {
			plumb_buf_putc(out, (char)c);
		}
	}
	plumb_buf_release(&repaired);
}

static void error_body(plumb_buf *out, const char *fmt, va_list ap)
{
	plumb_buf message = PLUMB_BUF_INIT;
	plumb_buf_vprintf(&message, fmt, ap);
	plumb_buf_clear(out);
	plumb_buf_puts(out, "{\"error\": \"");
	json_escape(out, message.ptr);
	plumb_buf_puts(out, "\"}\n");
	plumb_buf_release(&message);
}

void plumb_response_header(plumb_response *response, const char *name, const char *value)
{
	response->headers = plumb_xrealloc(response->headers, (response->header_count + 1) * sizeof(*response->headers));
	response->headers[response->header_count].name = plumb_xstrdup(name);
	response->headers[response->header_count].value = plumb_xstrdup(value);
	response->header_count++;
}

static void release_headers(plumb_response *response)
{
	for (size_t i = 0; i < response->header_count; i++) {
		free(response->headers[i].name);
		/* A Set-Cookie value holds a session id: not left behind in freed memory. */
		OPENSSL_cleanse(response->headers[i].value, strlen(response->headers[i].value));
		free(response->headers[i].value);
	}
	free(response->headers);
	response->headers = NULL;
	response->header_count = 0;
}

void plumb_response_json(plumb_response *response, unsigned status, const char *json)
{
	response->status = status;
	response->content_type = "application/json";
	plumb_buf_clear(&response->body);
	plumb_buf_puts(&response->body, json);
}

void plumb_response_error(plumb_response *response, unsigned status, const char *fmt, ...)
{
	va_list ap;
	response->status = status;
	response->content_type = "application/json";
	va_start(ap, fmt);
	error_body(&response->body, fmt, ap);
	va_end(ap);
}

const char *plumb_server_header(const plumb_request *request, const char *name)
{
	return mhd.lookup_connection_value(request->connection, MHD_HEADER_KIND, name);
}

const char *plumb_server_query(const plumb_request *request, const char *name)
{
	const char *value = NULL;
	if (mhd.lookup_connection_value_n(request->connection, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
					  NULL) != MHD_YES)
		return NULL;
	/* "?force" without "=" is present, with an empty value. */
	return value ? value : "";
}

/*
 * Queue a response of body (taken over, left empty) with more header
 * fields. Every response says not to cache it (API answers hold live
 * state and are behind tokens) and not to guess its type.
 */
static enum MHD_Result queue(struct MHD_Connection *connection, unsigned status, const char *content_type,
			     plumb_buf *body, const plumb_header *headers, size_t header_count)
{
	size_t len = 0;
	char *data = plumb_buf_detach(body, &len);
	struct MHD_Response *response = mhd.create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
	if (!response) {
		free(data);
		return MHD_NO;
	}
	mhd.add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
				content_type ? content_type : "application/json");
	mhd.add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	mhd.add_response_header(response, "X-Content-Type-Options", "nosniff");
	for (size_t i = 0; i < header_count; i++)
		mhd.add_response_header(response, headers[i].name, headers[i].value);
	enum MHD_Result result = mhd.queue_response(connection, status, response);
	mhd.destroy_response(response);
	return result;
}

enum MHD_Result plumb_http_queue_error(struct MHD_Connection *connection, unsigned status, const char *extra_header,
				       const char *extra_value, const char *fmt, ...)
{
	plumb_buf body = PLUMB_BUF_INIT;
	/* Only read by queue: the casts let nothing write through them. */
	plumb_header extra = { (char *)extra_header, (char *)extra_value };
	va_list ap;
	va_start(ap, fmt);
	error_body(&body, fmt, ap);
	va_end(ap);
	return queue(connection, status, "application/json", &body, &extra, extra_header ? 1 : 0);
}

enum MHD_Result plumb_http_queue_response(struct MHD_Connection *connection, plumb_response *response)
{
	enum MHD_Result result;
	if (response->status < 200 || response->status > 599) {
		/* A handler bug: say so rather than send a status no client can read. */
		plumb_buf_release(&response->body);
		result = plumb_http_queue_error(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
						"the handler answered with status %u", response->status);
	} else {
		result = queue(connection, response->status, response->content_type, &response->body, response->headers,
			       response->header_count);
	}
	release_headers(response);
	return result;
}
