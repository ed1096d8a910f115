/*
 * http_internal.h - libmicrohttpd as the server (server.c) and its
 * authentication (auth.c) reach it: the library, loaded on first use, and
 * the queueing of responses. Nothing outside src/serve/ includes this.
 */
#ifndef PLUMB_HTTP_INTERNAL_H
#define PLUMB_HTTP_INTERNAL_H

#include <microhttpd.h>

#include "serve/http.h"

/*
 * libmicrohttpd's functions that plumb calls, typed from its header.
 * libmicrohttpd is loaded when the first server starts, not with plumb: it
 * brings GnuTLS and a dozen libraries more, whose loading and set-up cost
 * every command about 2.5 ms and 2.6 MB of memory, and only serve answers
 * HTTP.
 */
typedef struct {
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_quiesce_daemon) *quiesce_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
	__typeof__(MHD_lookup_connection_value_n) *lookup_connection_value_n;
	__typeof__(MHD_get_connection_values) *get_connection_values;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
} plumb_mhd_functions;

/*
 * Load libmicrohttpd, once per process (it stays loaded: a server's
 * threads may run in it until exit). 0, or PLUMB_ERROR "cannot start the
 * HTTP server: WHY" when it cannot be loaded.
 */
int plumb_http_load(void);

/* Its functions: every one set once plumb_http_load has succeeded, none before. */
const plumb_mhd_functions *plumb_http_library(void);

/*
 * Queue what a handler answered: its body (taken over, left empty) with
 * its header fields, which are freed. A status outside 200 to 599 is a
 * handler's bug, answered 500 instead. Returns what libmicrohttpd said.
 */
enum MHD_Result plumb_http_queue_response(struct MHD_Connection *connection, plumb_response *response);

/*
 * Queue {"error": message} with status, and one more header field when
 * extra_header is not NULL. Returns what libmicrohttpd said.
 */
enum MHD_Result plumb_http_queue_error(struct MHD_Connection *connection, unsigned status, const char *extra_header,
				       const char *extra_value, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

#endif
