#include "util/common.h"
#include "util/buf.h"
#include "util/hash.h"
#include "serve/server.h"
#include "serve/auth.h"
#include "serve/http.h"
#include "serve/http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
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
	plumb_auth *auth;
	atomic_uint in_flight; /* requests presented to answer() and not yet completed */
};

/* What one request carries between the calls libmicrohttpd makes for it. */
typedef struct {
	const server_route *route;
	char **params;
	size_t param_count;
	plumb_auth_identity identity; /* who sent it, on a route that needs a role */
	plumb_buf body;
	size_t discarded; /* bytes dropped once the body passed the cap */
	int too_large;
	int answered; /* a response was queued before the body was read */
} request_state;

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
			result = plumb_http_queue_error(connection, MHD_HTTP_METHOD_NOT_ALLOWED, MHD_HTTP_HEADER_ALLOW,
							allowed.ptr, "method %s is not allowed here", method);
		else
			result = plumb_http_queue_error(connection, MHD_HTTP_NOT_FOUND, NULL, NULL, "not found");
		goto done;
	}

	if (state->route->role != PLUMB_ROLE_NONE &&
	    plumb_auth_request(&state->identity, &result, server->auth, connection, method, state->route->role) < 0) {
		state->answered = 1;
		goto done;
	}

	/* A length announced too long is refused before a byte of the body is read (nor "100 Continue" sent). */
	const char *length =
		plumb_http_library()->lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (length) {
		char *end = NULL;
		errno = 0;
		unsigned long long announced = strtoull(length, &end, 10);
		if (errno == ERANGE || (end != length && announced > PLUMB_SERVER_BODY_MAX)) {
			state->answered = 1;
			result = plumb_http_queue_error(connection, MHD_HTTP_CONTENT_TOO_LARGE, NULL, NULL,
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
		return plumb_http_queue_error(connection, MHD_HTTP_CONTENT_TOO_LARGE, NULL, NULL,
					      "the request body is larger than %u bytes", PLUMB_SERVER_BODY_MAX);

	plumb_request request = {
		.method = method,
		.path = url,
		.params = (const char *const *)state->params,
		.param_count = state->param_count,
		.body = state->body.ptr,
		.body_len = state->body.len,
		.token_name = state->identity.token_name,
		.role = state->identity.role,
		.session = state->identity.has_session ? &state->identity.session : NULL,
		.connection = connection,
	};
	plumb_response response = { .status = MHD_HTTP_OK, .content_type = NULL, .body = PLUMB_BUF_INIT };

	state->route->handler(&response, &request, state->route->payload);
	return plumb_http_queue_response(connection, &response);
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
	plumb_auth_identity_release(&state->identity);
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

static void server_free(plumb_server *server)
{
	for (size_t i = 0; i < server->route_count; i++)
		release_route(&server->routes[i]);
	free(server->routes);
	plumb_auth_free(server->auth);
	free(server);
}

int plumb_server_start(plumb_server **out, const char *listen_address, const char *tokens_file,
		       const plumb_route *routes, size_t route_count)
{
	plumb_server *server = plumb_xcalloc(1, sizeof(*server));
	plumb_route session_routes[PLUMB_AUTH_ROUTE_COUNT];
	int error = 0;
	int fd = -1;

	*out = NULL;
	server->auth = plumb_auth_new();
	plumb_auth_routes(session_routes, server->auth);
	server->routes = plumb_xcalloc(route_count + PLUMB_ARRAY_SIZE(session_routes), sizeof(*server->routes));
	for (size_t i = 0; i < route_count + PLUMB_ARRAY_SIZE(session_routes); i++) {
		const plumb_route *route = i < route_count ? &routes[i] : &session_routes[i - route_count];
		server->route_count++;
		if ((error = copy_route(&server->routes[i], route)) < 0)
			goto done;
	}
	if (tokens_file && (error = plumb_auth_load_tokens(server->auth, tokens_file)) < 0)
		goto done;
	if ((error = plumb_http_load()) < 0)
		goto done;
	if ((error = open_listener(&fd, &server->port, listen_address)) < 0)
		goto done;

	const plumb_mhd_functions *mhd = plumb_http_library();
	server->daemon = mhd->start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
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
	return plumb_auth_reload_tokens(server->auth);
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
	MHD_socket listener = plumb_http_library()->quiesce_daemon(server->daemon);
	if (listener != MHD_INVALID_SOCKET)
		for (long waited = 0; atomic_load(&server->in_flight) && waited < STOP_GRACE_MS; waited += 10)
			sleep_ms(10);
	/* Joins every connection thread, so no handler runs once this returns. */
	plumb_http_library()->stop_daemon(server->daemon);
	/* Quiescing handed the listening socket back to us; it may only be closed now. */
	if (listener != MHD_INVALID_SOCKET)
		close(listener);
	server_free(server);
}
