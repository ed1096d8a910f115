#include "util/common.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/utf8.h"
#include "serve/server.h"
#include "serve/session.h"
#include "serve/tokens.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * One thread per connection rather than a fixed pool: a handler that blocks
 * (a sync can take minutes) then holds up only its own client, never
 * /healthz or /metrics queued behind it on a shared thread. The connection
 * limit bounds the threads; the timeout reclaims clients that go quiet.
 */
#define CONNECTION_LIMIT 64
#define CONNECTION_TIMEOUT_S 30
/*
 * A body that grew past the cap without announcing its length (chunked) is
 * read and dropped so that the client can see the 413; past this much more
 * the connection is simply closed: the client is not listening.
 */
#define DISCARD_MAX (4 * (size_t)PLUMB_SERVER_BODY_MAX)
/* How long stopping waits for requests in flight to be answered before cutting their connections. */
#define STOP_GRACE_MS 10000

/*
 * libmicrohttpd is loaded when the first server starts, not with plumb: it
 * brings GnuTLS and a dozen libraries more, whose loading and set-up cost
 * every command about 2.5 ms and 2.6 MB of memory, and only serve answers
 * HTTP. Its functions are called through this table, typed from its header.
 * The name is that of its ABI (the soname), which the header's functions
 * are compiled against.
 */
#define MHD_LIBRARY "libmicrohttpd.so.12"

static struct {
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
} mhd;
static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;
static char mhd_problem[512]; /* why it could not be loaded; "" once it is */

/* Point *slot (a function pointer of the table) at symbol; 0 when lib has no such symbol. */
static int resolve(void *lib, const char *symbol, void *slot)
{
	void *address = dlsym(lib, symbol);
	_Static_assert(sizeof(address) == sizeof(mhd.stop_daemon), "POSIX: a function pointer fits in a void *");
	if (!address) {
		snprintf(mhd_problem, sizeof(mhd_problem), "%s has no %s", MHD_LIBRARY, symbol);
		return 0;
	}
	memcpy(slot, &address, sizeof(address));
	return 1;
}

/* Once per process; the library stays loaded (a daemon's threads may run in it until exit). */
static void load_mhd(void)
{
	void *lib = dlopen(MHD_LIBRARY, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		snprintf(mhd_problem, sizeof(mhd_problem), "%s", dlerror());
		return;
	}
	if (!resolve(lib, "MHD_start_daemon", &mhd.start_daemon) ||
	    !resolve(lib, "MHD_quiesce_daemon", &mhd.quiesce_daemon) ||
	    !resolve(lib, "MHD_stop_daemon", &mhd.stop_daemon) ||
	    !resolve(lib, "MHD_lookup_connection_value", &mhd.lookup_connection_value) ||
	    !resolve(lib, "MHD_lookup_connection_value_n", &mhd.lookup_connection_value_n) ||
	    !resolve(lib, "MHD_get_connection_values", &mhd.get_connection_values) ||
	    !resolve(lib, "MHD_create_response_from_buffer", &mhd.create_response_from_buffer) ||
	    !resolve(lib, "MHD_add_response_header", &mhd.add_response_header) ||
	    !resolve(lib, "MHD_queue_response", &mhd.queue_response) ||
	    !resolve(lib, "MHD_destroy_response", &mhd.destroy_response))
		memset(&mhd, 0, sizeof(mhd));
}

typedef struct {
	char *method;
	char *pattern;
	char **segments; /* the pattern split at "/"; "{name}" ones capture */
	size_t segment_count;
	plumb_role role;
	plumb_handler handler;
	void *payload;
} server_route;

struct plumb_server {
	struct MHD_Daemon *daemon;
	unsigned port;
	server_route *routes;
	size_t route_count;
	char *tokens_file;
	/*
	 * Held only to look a token up or to swap in reloaded ones: a request
	 * copies the name it needs. Making a session from a token holds it too,
	 * so that no session outlives the reload that ends them all.
	 */
	pthread_mutex_t tokens_lock;
	plumb_tokens *tokens;
	plumb_sessions *sessions;
	atomic_uint in_flight; /* requests presented to answer() and not yet completed */
};

/* What one request carries between the calls libmicrohttpd makes for it. */
typedef struct {
	const server_route *route;
	char **params;
	size_t param_count;
	char *token_name;
	plumb_role role;
	plumb_session session; /* a copy of the session that authenticated it, when has_session */
	int has_session;
	plumb_buf body;
	size_t discarded; /* bytes dropped once the body passed the cap */
	int too_large;
	int answered; /* a response was queued before the body was read */
} request_state;

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

static enum MHD_Result queue_error(struct MHD_Connection *connection, unsigned status, const char *extra_header,
				   const char *extra_value, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum MHD_Result queue_error(struct MHD_Connection *connection, unsigned status, const char *extra_header,
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

static int is_capture(const char *segment)
{
	size_t len = strlen(segment);
	return len >= 2 && segment[0] == '{' && segment[len - 1] == '}';
}

/*
 * Does path match route's pattern? Literal segments compare exactly; a
 * capture takes one non-empty segment. Only counts the captures, allocates
 * nothing: params are copied once the route is chosen.
 */
static int route_matches(const server_route *route, const char *path)
{
	if (path[0] != '/')
		return 0;
	const char *p = path + 1;
	for (size_t i = 0; i < route->segment_count; i++) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		const char *segment = route->segments[i];
		if (is_capture(segment)) {
			if (len == 0)
				return 0;
		} else if (strlen(segment) != len || memcmp(segment, p, len) != 0) {
			return 0;
		}
		if (i + 1 == route->segment_count)
			return slash == NULL;
		if (!slash)
			return 0;
		p = slash + 1;
	}
	return 0;
}

/* A "%XX" at p: its byte value, or -1. */
static int escaped_byte(const char *p)
{
	int high = p[0] == '%' ? plumb_hex_value(p[1]) : -1, low = high >= 0 ? plumb_hex_value(p[2]) : -1;
	return low >= 0 ? high * 16 + low : -1;
}

/*
 * libmicrohttpd decodes the path before it is routed, which would cut an
 * application named "hosts/web" (sent as hosts%2Fweb) into two segments.
 * This decoder leaves "%2F", "%25" and "%00" as they are; each captured
 * segment is decoded in full once the route is chosen.
 */
static size_t decode_keeping_separators(void *cls, struct MHD_Connection *connection, char *s)
{
	char *out = s;
	(void)cls;
	(void)connection;
	for (const char *p = s; *p;) {
		int byte = escaped_byte(p);
		if (byte < 0 || byte == '/' || byte == '%' || byte == 0) {
			*out++ = *p++;
		} else {
			*out++ = (char)byte;
			p += 3;
		}
	}
	*out = '\0';
	return (size_t)(out - s);
}

/* A captured segment, with what decode_keeping_separators kept decoded too ("%00" stays: no NUL in names). */
static char *decode_segment(const char *p, size_t len)
{
	char *out = plumb_xstrndup(p, len), *w = out;
	for (const char *r = out; *r;) {
		int byte = escaped_byte(r);
		if (byte > 0) {
			*w++ = (char)byte;
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return out;
}

static void copy_params(request_state *state, const server_route *route, const char *path)
{
	const char *p = path + 1;
	for (size_t i = 0; i < route->segment_count; i++) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		if (is_capture(route->segments[i])) {
			state->params = plumb_xrealloc(state->params, (state->param_count + 1) * sizeof(char *));
			state->params[state->param_count++] = decode_segment(p, len);
		}
		p = slash ? slash + 1 : p + len;
	}
}

/*
 * The token of "Authorization: Bearer TOKEN" (the scheme is
 * case-insensitive, RFC 9110), or NULL.
 */
static const char *bearer_token(struct MHD_Connection *connection)
{
	const char *value = mhd.lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!value || strncasecmp(value, "Bearer ", 7) != 0)
		return NULL;
	value += 7;
	while (*value == ' ')
		value++;
	return *value ? value : NULL;
}

/* Is word one of the items of the ", "-separated list? */
static int list_has(const char *list, const char *word)
{
	size_t len = strlen(word);
	for (const char *p = list; *p;) {
		const char *comma = strchr(p, ',');
		size_t item = comma ? (size_t)(comma - p) : strlen(p);
		if (item == len && memcmp(p, word, len) == 0)
			return 1;
		if (!comma)
			break;
		p = comma + 2;
	}
	return 0;
}

/* Sessions age on a clock that neither jumps with the wall clock nor stops while the machine sleeps. */
static int64_t session_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec;
}

typedef struct {
	plumb_server *server;
	plumb_session *out;
	int64_t now;
	int presented; /* a plumb_session cookie was there, whether or not it is a session */
	int found;
} session_search;

/* For each Cookie header (a client may send several): the first of its plumb_session cookies that is a session. */
static enum MHD_Result search_cookie(void *payload, enum MHD_ValueKind kind, const char *key, const char *value)
{
	session_search *search = payload;
	const char *cursor = value, *id = NULL;
	size_t len = 0;

	if (strcasecmp(key, MHD_HTTP_HEADER_COOKIE) != 0 || !value)
		return MHD_YES;
	while (!search->found && plumb_cookie_next(&id, &len, &cursor, PLUMB_SESSION_COOKIE)) {
		search->presented = 1;
		search->found = plumb_sessions_lookup(search->out, search->server->sessions, id, len, search->now) == 0;
	}
	return search->found ? MHD_NO : MHD_YES;
}

/* Does the request carry the session's CSRF token? Compared in constant time. */
static int csrf_matches(struct MHD_Connection *connection, const plumb_session *session)
{
	const char *value = mhd.lookup_connection_value(connection, MHD_HEADER_KIND, "X-CSRF-Token");
	return value && strlen(value) == PLUMB_SESSION_SECRET_LEN &&
	       CRYPTO_memcmp(value, session->csrf, PLUMB_SESSION_SECRET_LEN) == 0;
}

/*
 * Who sent the request to a route that needs a role: a bearer token,
 * else a session cookie. Fills in state's role, token_name and session and
 * returns 0, or queues the refusal in *result and returns -1.
 */
static int authenticate(enum MHD_Result *result, plumb_server *server, request_state *state,
			struct MHD_Connection *connection, const char *method)
{
	const char *token = bearer_token(connection);
	session_search search = { .server = server, .out = &state->session, .now = session_clock() };
	plumb_role role = PLUMB_ROLE_NONE;

	if (token) {
		const char *name = NULL;
		pthread_mutex_lock(&server->tokens_lock);
		role = plumb_tokens_lookup(server->tokens, token, strlen(token), &name);
		if (name)
			state->token_name = plumb_xstrdup(name);
		pthread_mutex_unlock(&server->tokens_lock);
	} else {
		mhd.get_connection_values(connection, MHD_HEADER_KIND, search_cookie, &search);
		if (search.found) {
			state->has_session = 1;
			state->token_name = plumb_xstrdup(state->session.name);
			role = state->session.role;
		}
	}
	if (role == PLUMB_ROLE_NONE) {
		*result = queue_error(connection, MHD_HTTP_UNAUTHORIZED, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				      "Bearer realm=\"plumb\"", "%s",
				      token		   ? "unknown token"
				      : search.presented ? "the session has ended: sign in again"
							 : "this needs \"Authorization: Bearer TOKEN\"");
		return -1;
	}
	/* A cookie rides along with requests that other sites make; the header, which only the page can read, does not. */
	if (state->has_session && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	    !csrf_matches(connection, &state->session)) {
		*result = queue_error(connection, MHD_HTTP_FORBIDDEN, NULL, NULL, "missing or wrong CSRF token");
		return -1;
	}
	if (role < state->route->role) {
		*result = queue_error(connection, MHD_HTTP_FORBIDDEN, NULL, NULL, "token %s has role %s; this needs %s",
				      state->token_name, plumb_role_name(role), plumb_role_name(state->route->role));
		return -1;
	}
	state->role = role;
	return 0;
}

/* Find the route, check the token and the announced length: everything that can be refused before the body. */
static enum MHD_Result begin_request(plumb_server *server, request_state *state, struct MHD_Connection *connection,
				     const char *url, const char *method)
{
	plumb_buf allowed = PLUMB_BUF_INIT;
	enum MHD_Result result = MHD_YES;

	for (size_t i = 0; i < server->route_count && !state->route; i++) {
		const server_route *route = &server->routes[i];
		if (!route_matches(route, url))
			continue;
		if (strcmp(route->method, method) == 0) {
			state->route = route;
		} else if (!list_has(allowed.ptr, route->method)) {
			if (allowed.len)
				plumb_buf_puts(&allowed, ", ");
			plumb_buf_puts(&allowed, route->method);
		}
	}
	if (!state->route) {
		state->answered = 1;
		if (allowed.len)
			result = queue_error(connection, MHD_HTTP_METHOD_NOT_ALLOWED, MHD_HTTP_HEADER_ALLOW,
					     allowed.ptr, "method %s is not allowed here", method);
		else
			result = queue_error(connection, MHD_HTTP_NOT_FOUND, NULL, NULL, "not found");
		goto done;
	}

	if (state->route->role != PLUMB_ROLE_NONE && authenticate(&result, server, state, connection, method) < 0) {
		state->answered = 1;
		goto done;
	}

	/* A length announced too long is refused before a byte of the body is read (nor "100 Continue" sent). */
	const char *length = mhd.lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (length) {
		char *end = NULL;
		errno = 0;
		unsigned long long announced = strtoull(length, &end, 10);
		if (errno == ERANGE || (end != length && announced > PLUMB_SERVER_BODY_MAX)) {
			state->answered = 1;
			result = queue_error(connection, MHD_HTTP_CONTENT_TOO_LARGE, NULL, NULL,
					     "the request body is larger than %u bytes", PLUMB_SERVER_BODY_MAX);
			goto done;
		}
	}
	copy_params(state, state->route, url);

done:
	plumb_buf_release(&allowed);
	return result;
}

static enum MHD_Result receive_body(request_state *state, const char *data, size_t len)
{
	if (!state->too_large && len > PLUMB_SERVER_BODY_MAX - state->body.len) {
		/* Past the cap: what was kept is useless now; drop it rather than hold a mebibyte per client. */
		state->too_large = 1;
		state->discarded = state->body.len;
		plumb_buf_release(&state->body);
	}
	if (state->too_large) {
		state->discarded += len;
		return state->discarded > DISCARD_MAX ? MHD_NO : MHD_YES;
	}
	plumb_buf_add(&state->body, data, len);
	return MHD_YES;
}

static enum MHD_Result finish_request(request_state *state, struct MHD_Connection *connection, const char *url,
				      const char *method)
{
	if (state->too_large)
		return queue_error(connection, MHD_HTTP_CONTENT_TOO_LARGE, NULL, NULL,
				   "the request body is larger than %u bytes", PLUMB_SERVER_BODY_MAX);

	plumb_request request = {
		.method = method,
		.path = url,
		.params = (const char *const *)state->params,
		.param_count = state->param_count,
		.body = state->body.ptr,
		.body_len = state->body.len,
		.token_name = state->token_name,
		.role = state->role,
		.session = state->has_session ? &state->session : NULL,
		.connection = connection,
	};
	plumb_response response = { .status = MHD_HTTP_OK, .content_type = NULL, .body = PLUMB_BUF_INIT };
	enum MHD_Result result;

	state->route->handler(&response, &request, state->route->payload);
	if (response.status < 200 || response.status > 599) {
		/* A handler bug: say so rather than send a status no client can read. */
		plumb_buf_release(&response.body);
		result = queue_error(connection, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL, NULL,
				     "the handler answered with status %u", response.status);
	} else {
		result = queue(connection, response.status, response.content_type, &response.body, response.headers,
			       response.header_count);
	}
	release_headers(&response);
	return result;
}

/*
 * libmicrohttpd calls this once when the headers are in (*con_cls still
 * NULL), once per piece of body, and once more when the body is complete.
 */
static enum MHD_Result answer(void *cls, struct MHD_Connection *connection, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	plumb_server *server = cls;
	request_state *state = *con_cls;

	if (!state) {
		state = plumb_xcalloc(1, sizeof(*state));
		plumb_buf_init(&state->body);
		*con_cls = state;
		atomic_fetch_add(&server->in_flight, 1);
		return begin_request(server, state, connection, url, method);
	}
	if (*upload_data_size) {
		size_t len = *upload_data_size;
		*upload_data_size = 0;
		if (state->answered)
			return MHD_YES;
		return receive_body(state, upload_data, len);
	}
	if (state->answered)
		return MHD_YES;
	state->answered = 1;
	return finish_request(state, connection, url, method);
}

static void request_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	plumb_server *server = cls;
	request_state *state = *con_cls;
	if (!state)
		return;
	atomic_fetch_sub(&server->in_flight, 1);
	for (size_t i = 0; i < state->param_count; i++)
		free(state->params[i]);
	free(state->params);
	free(state->token_name);
	plumb_session_release(&state->session);
	plumb_buf_release(&state->body);
	free(state);
	*con_cls = NULL;
}

static int parse_port(unsigned *port, const char *text)
{
	unsigned value = 0;
	if (!*text || strlen(text) > 5)
		return -1;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		value = value * 10 + (unsigned)(*p - '0');
	}
	if (value > 65535)
		return -1;
	*port = value;
	return 0;
}

/* "127.0.0.1:8080", "[::1]:8080", or ":8080" for every IPv4 address. */
static int parse_listen(struct sockaddr_storage *addr, socklen_t *addr_len, const char *listen_address)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_text = NULL;
	unsigned port = 0;

	memset(addr, 0, sizeof(*addr));
	if (!listen_address || !*listen_address)
		return plumb_error_set(PLUMB_EINVALID,
				       "no listen address given (expected HOST:PORT, e.g. 127.0.0.1:8080)");
	if (listen_address[0] == '[') {
		const char *close = strchr(listen_address, ']');
		size_t len = close ? (size_t)(close - listen_address - 1) : 0;
		if (!close || close[1] != ':' || len == 0 || len >= sizeof(host))
			goto bad;
		memcpy(host, listen_address + 1, len);
		host[len] = '\0';
		port_text = close + 2;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad;
		if (parse_port(&port, port_text) < 0)
			goto bad_port;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*addr_len = sizeof(*in6);
		return 0;
	}

	const char *colon = strrchr(listen_address, ':');
	if (!colon)
		goto bad;
	size_t len = (size_t)(colon - listen_address);
	if (len >= sizeof(host) || memchr(listen_address, ':', len))
		goto bad; /* a bare IPv6 address: its port would be ambiguous */
	memcpy(host, listen_address, len);
	host[len] = '\0';
	port_text = colon + 1;
	struct sockaddr_in *in4 = (struct sockaddr_in *)addr;
	if (len == 0)
		in4->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
		goto bad;
	if (parse_port(&port, port_text) < 0)
		goto bad_port;
	in4->sin_family = AF_INET;
	in4->sin_port = htons((uint16_t)port);
	*addr_len = sizeof(*in4);
	return 0;

bad:
	return plumb_error_set(PLUMB_EINVALID,
			       "bad listen address \"%s\" (expected IPV4:PORT, [IPV6]:PORT or :PORT, "
			       "e.g. 127.0.0.1:8080)",
			       listen_address);
bad_port:
	return plumb_error_set(PLUMB_EINVALID, "bad port in listen address \"%s\" (expected 0 to 65535)",
			       listen_address);
}

/*
 * Bind the listening socket ourselves rather than through MHD_OPTION_SOCK_ADDR:
 * libmicrohttpd, with its log off, fails without saying why, and "address
 * already in use" is the one thing an operator needs to read here.
 */
static int open_listener(int *fd_out, unsigned *port_out, const char *listen_address)
{
	struct sockaddr_storage addr;
	socklen_t addr_len = 0;
	int error = 0, one = 1;
	int fd = -1;

	if ((error = parse_listen(&addr, &addr_len, listen_address)) < 0)
		return error;
	fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		error = plumb_error_set(PLUMB_ERROR, "cannot listen on %s: %s", listen_address, strerror(errno));
		goto done;
	}
	/* Restarting must not wait for the old connections' TIME_WAIT. */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "[::]:8080" means IPv6 only: ":8080" is the way to ask for IPv4. */
	if (addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&addr, addr_len) < 0 || listen(fd, SOMAXCONN) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "cannot listen on %s: %s", listen_address, strerror(errno));
		goto done;
	}
	addr_len = sizeof(addr);
	if (getsockname(fd, (struct sockaddr *)&addr, &addr_len) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "cannot read the port bound for %s: %s", listen_address,
					strerror(errno));
		goto done;
	}
	*port_out = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
						     : ((struct sockaddr_in *)&addr)->sin_port);
	*fd_out = fd;
	fd = -1;

done:
	if (fd >= 0)
		close(fd);
	return error;
}

static int is_method(const char *method)
{
	if (!method || !*method)
		return 0;
	for (const char *p = method; *p; p++)
		if (*p < 'A' || *p > 'Z')
			return 0;
	return 1;
}

static int copy_route(server_route *out, const plumb_route *route)
{
	if (!is_method(route->method))
		return plumb_error_set(PLUMB_EINVALID, "route %s: the method must be upper-case letters",
				       route->pattern ? route->pattern : "(null)");
	if (!route->pattern || route->pattern[0] != '/')
		return plumb_error_set(PLUMB_EINVALID, "route %s: the pattern must start with \"/\"",
				       route->pattern ? route->pattern : "(null)");
	if (!route->handler)
		return plumb_error_set(PLUMB_EINVALID, "route %s %s has no handler", route->method, route->pattern);
	if (route->role > PLUMB_ROLE_ADMIN)
		return plumb_error_set(PLUMB_EINVALID, "route %s %s: unknown role %d", route->method, route->pattern,
				       (int)route->role);

	out->method = plumb_xstrdup(route->method);
	out->pattern = plumb_xstrdup(route->pattern);
	out->role = route->role;
	out->handler = route->handler;
	out->payload = route->payload;
	const char *p = route->pattern + 1;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		char *segment = plumb_xstrndup(p, len);
		out->segments = plumb_xrealloc(out->segments, (out->segment_count + 1) * sizeof(char *));
		out->segments[out->segment_count++] = segment;
		/* A brace anywhere but around a whole segment is a typo, not a literal to match. */
		if ((strchr(segment, '{') || strchr(segment, '}')) && (!is_capture(segment) || len < 3))
			return plumb_error_set(PLUMB_EINVALID, "route %s %s: \"{name}\" must be a whole segment",
					       route->method, route->pattern);
		if (!slash)
			break;
		p = slash + 1;
	}
	return 0;
}

static void release_route(server_route *route)
{
	free(route->method);
	free(route->pattern);
	for (size_t i = 0; i < route->segment_count; i++)
		free(route->segments[i]);
	free(route->segments);
}

/* --- the session routes -------------------------------------------------------------------- */

#define SESSION_PATH "/api/v1/session"
#define SESSION_COOKIE_FLAGS "; Path=/; HttpOnly; SameSite=Strict; Max-Age="

/* {"name", "role", "csrf"}: who is signed in, and the CSRF token the page sends back. */
static void session_answer(plumb_response *response, unsigned status, const char *name, plumb_role role,
			   const char *csrf)
{
	json_t *doc = json_pack("{s:s, s:s, s:s}", "name", name, "role", plumb_role_name(role), "csrf", csrf);
	char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	plumb_response_json(response, status, text);
	free(text);
	json_decref(doc);
}

/* "application/json", with parameters or not: what a form on another site cannot send without asking first. */
static int is_json_type(const char *type)
{
	static const char json[] = "application/json";
	size_t len = sizeof(json) - 1;
	return type && strncasecmp(type, json, len) == 0 && (type[len] == '\0' || type[len] == ';' || type[len] == ' ');
}

/* POST /api/v1/session {"token": "..."}: sign in. */
static void session_create(plumb_response *response, const plumb_request *request, void *payload)
{
	plumb_server *server = payload;
	plumb_session session = { 0 };
	json_error_t json_error;
	json_t *body = NULL;
	char *cookie = NULL;
	int error = 0;

	/*
	 * Only JSON: a form on another site could otherwise sign a browser in
	 * with the form's author's token, without any preflight to stop it.
	 */
	if (!is_json_type(plumb_server_header(request, MHD_HTTP_HEADER_CONTENT_TYPE))) {
		plumb_response_error(response, 415, "the body must be JSON (Content-Type: application/json)");
		goto done;
	}
	body = json_loadb(request->body, request->body_len, 0, &json_error);
	json_t *token = json_object_get(body, "token");
	if (!json_is_string(token)) {
		plumb_response_error(response, 400, "the body must be {\"token\": \"TOKEN\"}");
		goto done;
	}
	const char *name = NULL;
	pthread_mutex_lock(&server->tokens_lock);
	plumb_role role = plumb_tokens_lookup(server->tokens, json_string_value(token), json_string_length(token), &name);
	if (role != PLUMB_ROLE_NONE)
		error = plumb_sessions_create(&session, server->sessions, name, role, session_clock());
	pthread_mutex_unlock(&server->tokens_lock);
	if (role == PLUMB_ROLE_NONE) {
		plumb_response_error(response, 401, "unknown token");
		goto done;
	}
	if (error < 0) {
		plumb_response_error(response, 500, "%s", plumb_error_last());
		goto done;
	}
	cookie = plumb_xprintf(PLUMB_SESSION_COOKIE "=%s" SESSION_COOKIE_FLAGS "%d", session.id,
			       PLUMB_SESSION_LIFETIME_S);
	plumb_response_header(response, MHD_HTTP_HEADER_SET_COOKIE, cookie);
	session_answer(response, 201, session.name, session.role, session.csrf);

done:
	if (cookie) {
		OPENSSL_cleanse(cookie, strlen(cookie));
		free(cookie);
	}
	plumb_session_release(&session);
	json_decref(body);
}

/* GET /api/v1/session: who is signed in; a bearer token has no CSRF token (it needs none). */
static void session_show(plumb_response *response, const plumb_request *request, void *payload)
{
	if (request->session)
		session_answer(response, 200, request->session->name, request->session->role, request->session->csrf);
	else
		session_answer(response, 200, request->token_name, request->role, "");
}

/* DELETE /api/v1/session: sign out; the browser is told to drop the cookie either way. */
static void session_end(plumb_response *response, const plumb_request *request, void *payload)
{
	plumb_server *server = payload;
	int ended = request->session &&
		    plumb_sessions_remove(server->sessions, request->session->id, PLUMB_SESSION_SECRET_LEN) == 0;
	plumb_response_header(response, MHD_HTTP_HEADER_SET_COOKIE, PLUMB_SESSION_COOKIE "=" SESSION_COOKIE_FLAGS "0");
	plumb_response_json(response, 200, ended ? "{\"signed_out\":true}" : "{\"signed_out\":false}");
}

static void server_free(plumb_server *server)
{
	for (size_t i = 0; i < server->route_count; i++)
		release_route(&server->routes[i]);
	free(server->routes);
	plumb_tokens_free(server->tokens);
	plumb_sessions_free(server->sessions);
	free(server->tokens_file);
	pthread_mutex_destroy(&server->tokens_lock);
	free(server);
}

int plumb_server_start(plumb_server **out, const char *listen_address, const char *tokens_file,
		       const plumb_route *routes, size_t route_count)
{
	plumb_server *server = plumb_xcalloc(1, sizeof(*server));
	int error = 0;
	int fd = -1;

	const plumb_route session_routes[] = {
		{ "POST", SESSION_PATH, PLUMB_ROLE_NONE, session_create, server },
		{ "GET", SESSION_PATH, PLUMB_ROLE_VIEWER, session_show, server },
		{ "DELETE", SESSION_PATH, PLUMB_ROLE_VIEWER, session_end, server },
	};

	*out = NULL;
	pthread_mutex_init(&server->tokens_lock, NULL);
	server->sessions = plumb_sessions_new(PLUMB_SESSION_MAX, PLUMB_SESSION_LIFETIME_S);
	server->routes = plumb_xcalloc(route_count + PLUMB_ARRAY_SIZE(session_routes), sizeof(*server->routes));
	for (size_t i = 0; i < route_count + PLUMB_ARRAY_SIZE(session_routes); i++) {
		const plumb_route *route = i < route_count ? &routes[i] : &session_routes[i - route_count];
		server->route_count++;
		if ((error = copy_route(&server->routes[i], route)) < 0)
			goto done;
	}
	if (tokens_file) {
		server->tokens_file = plumb_xstrdup(tokens_file);
		if ((error = plumb_tokens_load(&server->tokens, tokens_file)) < 0)
			goto done;
	}
	pthread_once(&mhd_once, load_mhd);
	if (!mhd.start_daemon) {
		error = plumb_error_set(PLUMB_ERROR, "cannot start the HTTP server: %s", mhd_problem);
		goto done;
	}
	if ((error = open_listener(&fd, &server->port, listen_address)) < 0)
		goto done;

	server->daemon = mhd.start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
						  MHD_USE_AUTO | MHD_USE_ITC,
					  0, NULL, NULL, answer, server, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
					  MHD_OPTION_NOTIFY_COMPLETED, request_completed, server,
					  MHD_OPTION_UNESCAPE_CALLBACK, decode_keeping_separators, NULL,
					  MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
					  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
					  MHD_OPTION_END);
	if (!server->daemon) {
		/*
		 * Some of libmicrohttpd's failure paths close the socket it was
		 * given and some do not: leak it rather than risk closing a
		 * descriptor another thread has opened since.
		 */
		fd = -1;
		error = plumb_error_set(PLUMB_ERROR, "cannot start the HTTP server on %s", listen_address);
		goto done;
	}
	fd = -1; /* the daemon's now: MHD_stop_daemon closes it (or, once quiesced, plumb_server_stop) */
	*out = server;
	server = NULL;

done:
	if (fd >= 0)
		close(fd);
	if (server)
		server_free(server);
	return error;
}

unsigned plumb_server_port(const plumb_server *server)
{
	return server->port;
}

int plumb_server_reload_tokens(plumb_server *server)
{
	plumb_tokens *tokens = NULL, *old = NULL;
	int error = 0;

	if (!server->tokens_file)
		return 0;
	if ((error = plumb_tokens_load(&tokens, server->tokens_file)) < 0)
		return error;
	pthread_mutex_lock(&server->tokens_lock);
	old = server->tokens;
	server->tokens = tokens;
	/* A session carries the name and role its token had: either may have changed. */
	plumb_sessions_clear(server->sessions);
	pthread_mutex_unlock(&server->tokens_lock);
	/* No request holds on to old: lookups copy the name while the lock is held. */
	plumb_tokens_free(old);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

void plumb_server_stop(plumb_server *server)
{
	if (!server)
		return;
	/*
	 * Stop accepting first and give the requests in flight a moment to be
	 * answered: a client whose sync completes should hear so. Idle
	 * keep-alive connections hold no request, so they do not hold this up.
	 */
	MHD_socket listener = mhd.quiesce_daemon(server->daemon);
	if (listener != MHD_INVALID_SOCKET)
		for (long waited = 0; atomic_load(&server->in_flight) && waited < STOP_GRACE_MS; waited += 10)
			sleep_ms(10);
	/* Joins every connection thread, so no handler runs once this returns. */
	mhd.stop_daemon(server->daemon);
	/* Quiescing handed the listening socket back to us; it may only be closed now. */
	if (listener != MHD_INVALID_SOCKET)
		close(listener);
	server_free(server);
}
