#include "util/common.h"
#include "serve/server.h"
#include "serve/session.h"
#include "serve/tokens.h"
#include "util/hash.h"
#include "test.h"

#include <errno.h>
#include <ftw.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * Every request here is real HTTP over loopback, sent by the curl command
 * line (as a client of plumb serve would), so that what is tested is what
 * libmicrohttpd makes of the bytes on the wire, not a simulation of it.
 */

static char temp_root[] = "/tmp/plumb-test-server-XXXXXX";

#define VIEWER_TOKEN "viewer-secret-1"
#define OPERATOR_TOKEN "operator-secret-2"
#define ADMIN_TOKEN "admin-secret-3"
#define NEW_TOKEN "rotated-secret-4"

/* How many times the upload handler ran: an oversized body must never get there. */
static atomic_int upload_calls;
/*
 * The slow handler's progress: entered, then (once slow_release is set, or after a minute)
 * finished about SLOW_MS later.
 */
static atomic_int slow_entered, slow_release, slow_finished;
#define SLOW_MS 500

static char *temp_path(const char *name)
{
	return plumb_xprintf("%s/%s", temp_root, name);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path);
}

static int write_text(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs(content, f);
	return fclose(f);
}

/* Write a file of size bytes ("abc...z" repeated), ending in '!' so that a handler can tell it got the end. */
static char *write_body(const char *name, size_t size)
{
	char *path = temp_path(name);
	FILE *f = fopen(path, "w");
	for (size_t i = 0; f && i < size; i++)
		fputc(i + 1 == size ? '!' : 'a' + (int)(i % 26), f);
	if (f)
		fclose(f);
	return path;
}

static char *token_line(const char *name, const char *role, const char *token)
{
	char hex[65];
	plumb_hash_sha256_hex(hex, token, strlen(token));
	return plumb_xprintf("%s %s %s\n", name, role, hex);
}

static char *read_text(const char *path)
{
	plumb_buf buf = PLUMB_BUF_INIT;
	FILE *f = fopen(path, "r");
	char chunk[4096];
	size_t n;
	while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		plumb_buf_add(&buf, chunk, n);
	if (f)
		fclose(f);
	return plumb_buf_detach(&buf, NULL);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int contains(const char *haystack, const char *needle)
{
	if (!haystack || !strstr(haystack, needle)) {
		fprintf(stderr, "  \"%s\" does not contain \"%s\"\n", haystack ? haystack : "(null)", needle);
		return 0;
	}
	return 1;
}

/* ---- handlers ---- */

static void healthz(plumb_response *response, const plumb_request *request, void *payload)
{
	plumb_response_json(response, 200, "{\"ok\": true}");
}

/* Says who called and with what, so that tests can see what the handler was given. */
static void echo(plumb_response *response, const plumb_request *request, void *payload)
{
	plumb_buf_printf(&response->body, "route=%s method=%s path=%s token=%s role=%d params=%zu",
			 (const char *)payload, request->method, request->path,
			 request->token_name ? request->token_name : "(none)", (int)request->role,
			 request->param_count);
	for (size_t i = 0; i < request->param_count; i++)
		plumb_buf_printf(&response->body, " [%s]", request->params[i]);
	response->content_type = "text/plain";
}

static void upload(plumb_response *response, const plumb_request *request, void *payload)
{
	atomic_fetch_add(&upload_calls, 1);
	char last = request->body_len ? request->body[request->body_len - 1] : '-';
	plumb_buf_printf(&response->body, "{\"len\": %zu, \"last\": \"%c\", \"nul\": %d}", request->body_len, last,
			 request->body[request->body_len] == '\0');
}

static void query(plumb_response *response, const plumb_request *request, void *payload)
{
	const char *a = plumb_server_query(request, "a");
	const char *flag = plumb_server_query(request, "flag");
	const char *missing = plumb_server_query(request, "missing");
	const char *header = plumb_server_header(request, "x-plumb-test");
	plumb_buf_printf(&response->body, "a=%s flag=%s missing=%s header=%s", a ? a : "(null)",
			 flag ? flag : "(null)", missing ? missing : "(null)", header ? header : "(null)");
	response->content_type = "text/plain";
}

static void fail(plumb_response *response, const plumb_request *request, void *payload)
{
	plumb_response_error(response, 409, "application \"%s\" is busy <now>", request->params[0]);
}

static void slow(plumb_response *response, const plumb_request *request, void *payload)
{
	atomic_store(&slow_entered, 1);
	for (int i = 0; i < 6000 && !atomic_load(&slow_release); i++)
		sleep_ms(10);
	sleep_ms(SLOW_MS);
	atomic_store(&slow_finished, 1);
	plumb_response_json(response, 200, "{\"slow\": true}");
}

static void bad_status(plumb_response *response, const plumb_request *request, void *payload)
{
	response->status = 42;
}

/* Who the server says called: the token's name and role, and whether a session cookie did it. */
static void whoami(plumb_response *response, const plumb_request *request, void *payload)
{
	plumb_buf_printf(&response->body, "token=%s role=%d session=%d", request->token_name, (int)request->role,
			 request->session != NULL);
	response->content_type = "text/plain";
}

static void with_headers(plumb_response *response, const plumb_request *request, void *payload)
{
	plumb_response_header(response, "X-Frame-Options", "DENY");
	plumb_response_header(response, "Set-Cookie", "a=1; Path=/");
	plumb_response_header(response, "Set-Cookie", "b=2; Path=/");
	plumb_response_json(response, 200, "{}");
}

static const plumb_route routes[] = {
	{ "GET", "/healthz", PLUMB_ROLE_NONE, healthz, NULL },
	{ "GET", "/api/v1/applications", PLUMB_ROLE_VIEWER, echo, "list" },
	{ "POST", "/api/v1/applications/{name}/sync", PLUMB_ROLE_OPERATOR, echo, "sync" },
	{ "GET", "/api/v1/applications/{name}/resources/{kind}", PLUMB_ROLE_VIEWER, echo, "resources" },
	{ "DELETE", "/api/v1/applications/{name}", PLUMB_ROLE_ADMIN, echo, "delete" },
	{ "PUT", "/api/v1/applications/{name}", PLUMB_ROLE_OPERATOR, echo, "put" },
	{ "POST", "/upload", PLUMB_ROLE_NONE, upload, NULL },
	{ "GET", "/query", PLUMB_ROLE_NONE, query, NULL },
	{ "GET", "/busy/{name}", PLUMB_ROLE_NONE, fail, NULL },
	{ "GET", "/bad", PLUMB_ROLE_NONE, bad_status, NULL },
	{ "GET", "/slow", PLUMB_ROLE_NONE, slow, NULL },
	{ "GET", "/whoami", PLUMB_ROLE_VIEWER, whoami, NULL },
	{ "POST", "/whoami", PLUMB_ROLE_VIEWER, whoami, NULL },
	{ "DELETE", "/whoami", PLUMB_ROLE_VIEWER, whoami, NULL },
	{ "POST", "/operate", PLUMB_ROLE_OPERATOR, whoami, NULL },
	{ "GET", "/headers", PLUMB_ROLE_NONE, with_headers, NULL },
};

/* ---- the client ---- */

typedef struct {
	int status; /* 0 when curl got no answer */
	long uploaded; /* body bytes curl sent */
	char *body;
	char *headers;
} http_result;

static void http_release(http_result *result)
{
	free(result->body);
	free(result->headers);
	memset(result, 0, sizeof(*result));
}

/*
 * One request with curl. token may be NULL; extra is more curl arguments,
 * already quoted (constants of these tests); data_file, when set, is sent
 * as the body. host defaults to 127.0.0.1.
 */
static void http_at(http_result *out, const char *host, unsigned port, const char *method, const char *path,
		    const char *token, const char *extra, const char *data_file)
{
	char *body_path = temp_path("response.body");
	char *headers_path = temp_path("response.headers");
	plumb_buf command = PLUMB_BUF_INIT;
	char code[64] = "";

	memset(out, 0, sizeof(*out));
	remove(body_path);
	remove(headers_path);
	plumb_buf_printf(&command,
			 "curl -q -s -g --noproxy '*' --max-time 20 -o '%s' -D '%s' -w '%%{http_code} %%{size_upload}' "
			 "-X %s",
			 body_path, headers_path, method);
	if (token)
		plumb_buf_printf(&command, " -H 'Authorization: Bearer %s'", token);
	if (data_file)
		plumb_buf_printf(&command, " --data-binary '@%s'", data_file);
	if (extra)
		plumb_buf_printf(&command, " %s", extra);
	plumb_buf_printf(&command, " 'http://%s:%u%s' 2>/dev/null", host ? host : "127.0.0.1", port, path);

	FILE *p = popen(command.ptr, "r");
	if (p) {
		size_t n = fread(code, 1, sizeof(code) - 1, p);
		code[n] = '\0';
		pclose(p);
	}
	if (sscanf(code, "%d %ld", &out->status, &out->uploaded) != 2)
		out->status = 0;
	out->body = read_text(body_path);
	out->headers = read_text(headers_path);
	plumb_buf_release(&command);
	free(body_path);
	free(headers_path);
}

static void http(http_result *out, unsigned port, const char *method, const char *path, const char *token)
{
	http_at(out, NULL, port, method, path, token, NULL, NULL);
}

/* ---- fixtures ---- */

static char *write_tokens(const char *name, const char *extra_lines)
{
	char *path = temp_path(name);
	char *viewer = token_line("alice", "viewer", VIEWER_TOKEN);
	char *op = token_line("bob", "operator", OPERATOR_TOKEN);
	char *admin = token_line("root", "admin", ADMIN_TOKEN);
	char *content = plumb_xprintf("# plumb API tokens\n\n%s  %s\t%s%s", viewer, op, admin,
				      extra_lines ? extra_lines : "");
	write_text(path, content);
	chmod(path, 0600);
	free(viewer);
	free(op);
	free(admin);
	free(content);
	return path;
}

static plumb_server *start(const char *tokens_file)
{
	plumb_server *server = NULL;
	int rc = plumb_server_start(&server, "127.0.0.1:0", tokens_file, routes, PLUMB_ARRAY_SIZE(routes));
	if (rc < 0)
		fprintf(stderr, "  cannot start the server: %s\n", plumb_error_last());
	CHECK_INT(rc, 0);
	if (server)
		CHECK(plumb_server_port(server) > 0);
	return server;
}

/* ---- tests ---- */

static void test_open_route(void)
{
	http_result r;
	plumb_server *server = start(NULL);
	if (!server)
		return;
	http(&r, plumb_server_port(server), "GET", "/healthz", NULL);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "{\"ok\": true}");
	CHECK(contains(r.headers, "Content-Type: application/json"));
	CHECK(contains(r.headers, "Cache-Control: no-store"));
	CHECK(contains(r.headers, "X-Content-Type-Options: nosniff"));
	http_release(&r);

	/* A token on an open route is neither needed nor looked at. */
	http(&r, plumb_server_port(server), "GET", "/healthz", "nonsense");
	CHECK_INT(r.status, 200);
	http_release(&r);
	plumb_server_stop(server);
}

static void test_authentication(void)
{
	http_result r;
	char *tokens = write_tokens("tokens", NULL);
	plumb_server *server = start(tokens);
	if (!server)
		goto done;
	unsigned port = plumb_server_port(server);

	http(&r, port, "GET", "/api/v1/applications", NULL);
	CHECK_INT(r.status, 401);
	CHECK(contains(r.headers, "WWW-Authenticate: Bearer"));
	CHECK(contains(r.headers, "Cache-Control: no-store"));
	CHECK(contains(r.headers, "X-Content-Type-Options: nosniff"));
	CHECK(contains(r.body, "\"error\""));
	http_release(&r);

	http(&r, port, "GET", "/api/v1/applications", "not-a-token");
	CHECK_INT(r.status, 401);
	CHECK(contains(r.body, "unknown token"));
	http_release(&r);

	/* A prefix of a real token is just another unknown token. */
	http(&r, port, "GET", "/api/v1/applications", "viewer-secret");
	CHECK_INT(r.status, 401);
	http_release(&r);

	/* Basic authentication is not a bearer token. */
	http_at(&r, NULL, port, "GET", "/api/v1/applications", NULL, "-u 'alice:" VIEWER_TOKEN "'", NULL);
	CHECK_INT(r.status, 401);
	http_release(&r);

	http(&r, port, "GET", "/api/v1/applications", VIEWER_TOKEN);
	CHECK_INT(r.status, 200);
	CHECK(contains(r.body, "route=list method=GET path=/api/v1/applications token=alice role=1 params=0"));
	CHECK(contains(r.headers, "Content-Type: text/plain"));
	CHECK(contains(r.headers, "Cache-Control: no-store"));
	http_release(&r);

	/* The scheme is case-insensitive. */
	http_at(&r, NULL, port, "GET", "/api/v1/applications", NULL, "-H 'Authorization: bearer " ADMIN_TOKEN "'",
		NULL);
	CHECK_INT(r.status, 200);
	CHECK(contains(r.body, "token=root role=3"));
	http_release(&r);

	http(&r, port, "POST", "/api/v1/applications/web/sync", VIEWER_TOKEN);
	CHECK_INT(r.status, 403);
	CHECK(contains(r.body, "alice"));
	CHECK(contains(r.body, "operator"));
	CHECK(contains(r.headers, "X-Content-Type-Options: nosniff"));
	http_release(&r);

	http(&r, port, "POST", "/api/v1/applications/web/sync", OPERATOR_TOKEN);
	CHECK_INT(r.status, 200);
	CHECK(contains(r.body, "route=sync method=POST path=/api/v1/applications/web/sync token=bob role=2 "
			       "params=1 [web]"));
	http_release(&r);

	/* A higher role than needed is enough. */
	http(&r, port, "POST", "/api/v1/applications/web/sync", ADMIN_TOKEN);
	CHECK_INT(r.status, 200);
	CHECK(contains(r.body, "token=root role=3"));
	http_release(&r);

	http(&r, port, "DELETE", "/api/v1/applications/web", OPERATOR_TOKEN);
	CHECK_INT(r.status, 403);
	http_release(&r);
	http(&r, port, "DELETE", "/api/v1/applications/web", ADMIN_TOKEN);
	CHECK_INT(r.status, 200);
	http_release(&r);

	plumb_server_stop(server);
done:
	free(tokens);
}

static void test_no_tokens_file(void)
{
	http_result r;
	plumb_server *server = start(NULL);
	if (!server)
		return;
	http(&r, plumb_server_port(server), "GET", "/api/v1/applications", VIEWER_TOKEN);
	CHECK_INT(r.status, 401);
	http_release(&r);
	CHECK_INT(plumb_server_reload_tokens(server), 0);
	plumb_server_stop(server);
}

static void test_routing(void)
{
	http_result r;
	char *tokens = write_tokens("tokens", NULL);
	plumb_server *server = start(tokens);
	if (!server)
		goto done;
	unsigned port = plumb_server_port(server);

	http(&r, port, "GET", "/api/v1/applications/web/resources/deployment", VIEWER_TOKEN);
	CHECK_INT(r.status, 200);
	CHECK(contains(r.body, "route=resources"));
	CHECK(contains(r.body, "params=2 [web] [deployment]"));
	http_release(&r);

	/* Percent-escapes are decoded before matching. */
	http(&r, port, "GET", "/api/v1/applications/my%20app/resources/x", VIEWER_TOKEN);
	CHECK_INT(r.status, 200);
	CHECK(contains(r.body, "[my app] [x]"));
	http_release(&r);

	/* An escaped "/" (an application named after its path) stays inside its segment; so does "%25". */
	http(&r, port, "GET", "/api/v1/applications/hosts%2Fweb/resources/100%25", VIEWER_TOKEN);
	CHECK_INT(r.status, 200);
	CHECK(contains(r.body, "params=2 [hosts/web] [100%]"));
	http_release(&r);
	http(&r, port, "GET", "/api/v1/applications/hosts%252Fweb/resources/x", VIEWER_TOKEN);
	CHECK_INT(r.status, 200);
	CHECK(contains(r.body, "[hosts%2Fweb] [x]"));
	http_release(&r);

	const char *not_found[] = {
		"/nope",
		"/healthz/",
		"/healthz/more",
		"/api/v1/applications/web/resources/",
		"/api/v1/applications/web/resources",
		"/api/v1/applications//sync",
		"/api/v1/applications/web/sync/again",
		"/",
	};
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(not_found); i++) {
		http(&r, port, "GET", not_found[i], ADMIN_TOKEN);
		if (r.status != 404)
			fprintf(stderr, "  GET %s\n", not_found[i]);
		CHECK_INT(r.status, 404);
		CHECK(contains(r.headers, "Cache-Control: no-store"));
		CHECK(contains(r.body, "\"error\""));
		http_release(&r);
	}

	/* The path exists with other methods: 405, and Allow lists them, before any token is asked for. */
	http(&r, port, "GET", "/api/v1/applications/web/sync", NULL);
	CHECK_INT(r.status, 405);
	CHECK(contains(r.headers, "Allow: POST"));
	http_release(&r);
	http(&r, port, "GET", "/api/v1/applications/web", NULL);
	CHECK_INT(r.status, 405);
	CHECK(contains(r.headers, "Allow: DELETE, PUT"));
	http_release(&r);
	http(&r, port, "POST", "/healthz", NULL);
	CHECK_INT(r.status, 405);
	CHECK(contains(r.headers, "Allow: GET"));
	CHECK(contains(r.headers, "X-Content-Type-Options: nosniff"));
	http_release(&r);

	/* Errors from handlers are JSON, escaped. */
	http(&r, port, "GET", "/busy/web", NULL);
	CHECK_INT(r.status, 409);
	CHECK_STR(r.body, "{\"error\": \"application \\\"web\\\" is busy \\u003cnow\\u003e\"}\n");
	CHECK(contains(r.headers, "Content-Type: application/json"));
	http_release(&r);

	http(&r, port, "GET", "/bad", NULL);
	CHECK_INT(r.status, 500);
	http_release(&r);

	plumb_server_stop(server);
done:
	free(tokens);
}

static void test_query_and_headers(void)
{
	http_result r;
	plumb_server *server = start(NULL);
	if (!server)
		return;
	http_at(&r, NULL, plumb_server_port(server), "GET", "/query?a=one%20two&flag", NULL,
		"-H 'X-Plumb-Test: hello'", NULL);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "a=one two flag= missing=(null) header=hello");
	http_release(&r);

	http(&r, plumb_server_port(server), "GET", "/query", NULL);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "a=(null) flag=(null) missing=(null) header=(null)");
	http_release(&r);
	plumb_server_stop(server);
}

static void test_body_limit(void)
{
	http_result r;
	char *exact = write_body("exact", PLUMB_SERVER_BODY_MAX);
	char *over = write_body("over", PLUMB_SERVER_BODY_MAX + 1);
	char *small = write_body("small", 10);
	plumb_server *server = start(NULL);
	if (!server)
		goto done;
	unsigned port = plumb_server_port(server);
	char *expected = plumb_xprintf("{\"len\": %u, \"last\": \"!\", \"nul\": 1}", PLUMB_SERVER_BODY_MAX);

	atomic_store(&upload_calls, 0);
	http_at(&r, NULL, port, "POST", "/upload", NULL, NULL, small);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "{\"len\": 10, \"last\": \"!\", \"nul\": 1}");
	http_release(&r);

	http_at(&r, NULL, port, "POST", "/upload", NULL, NULL, exact);
	CHECK_INT(r.status, 200);
	CHECK_INT(r.uploaded, PLUMB_SERVER_BODY_MAX);
	CHECK_STR(r.body, expected);
	http_release(&r);

	/* The same mebibyte, chunked: no length announced, counted as it comes. */
	http_at(&r, NULL, port, "POST", "/upload", NULL, "-H 'Transfer-Encoding: chunked'", exact);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, expected);
	http_release(&r);
	CHECK_INT(atomic_load(&upload_calls), 3);

	/* One byte more: refused on the announced length, before a byte is sent when the client waits to be told. */
	http_at(&r, NULL, port, "POST", "/upload", NULL, "-H 'Expect: 100-continue'", over);
	CHECK_INT(r.status, 413);
	CHECK_INT(r.uploaded, 0);
	CHECK(contains(r.body, "\"error\""));
	CHECK(contains(r.headers, "Cache-Control: no-store"));
	http_release(&r);
	http_at(&r, NULL, port, "POST", "/upload", NULL, "-H 'Expect:'", over);
	CHECK_INT(r.status, 413);
	http_release(&r);

	/* Chunked: refused once the count passes the cap. */
	http_at(&r, NULL, port, "POST", "/upload", NULL, "-H 'Transfer-Encoding: chunked' -H 'Expect:'", over);
	CHECK_INT(r.status, 413);
	CHECK(contains(r.body, "\"error\""));
	http_release(&r);
	CHECK_INT(atomic_load(&upload_calls), 3);

	/* The server is still fine afterwards. */
	http(&r, port, "GET", "/healthz", NULL);
	CHECK_INT(r.status, 200);
	http_release(&r);

	free(expected);
	plumb_server_stop(server);
done:
	free(exact);
	free(over);
	free(small);
}

static void test_tokens_file_errors(void)
{
	plumb_tokens *tokens = NULL;
	plumb_server *server = NULL;
	char *path = temp_path("bad-tokens");
	char *good = token_line("carol", "viewer", "carol-secret");
	char hex[65], carol_hex[65];
	plumb_hash_sha256_hex(hex, VIEWER_TOKEN, strlen(VIEWER_TOKEN));
	plumb_hash_sha256_hex(carol_hex, "carol-secret", strlen("carol-secret"));
	char *content = plumb_xprintf("# comment\n"
				      "%s"                    /* 2: fine */
				      "dave superuser %s\n"   /* 3: unknown role */
				      "erin viewer 1234\n"    /* 4: short hash */
				      "frank viewer\n"        /* 5: two fields */
				      "\n"                    /* 6 */
				      "carol admin %s\n"      /* 7: the name again */
				      "   # indented comment\n" /* 8 */
				      "gina operator %s\n"    /* 9: the same hash as carol's */
				      "hank viewer %s extra\n", /* 10: four fields */
				      good, hex, hex, carol_hex, hex);
	write_text(path, content);

	CHECK_INT(plumb_tokens_load(&tokens, path), PLUMB_EINVALID);
	CHECK(tokens == NULL);
	const char *message = plumb_error_last();
	char *expect;
	for (unsigned line = 3; line <= 10; line++) {
		expect = plumb_xprintf("%s:%u: ", path, line);
		if (line == 6 || line == 8)
			CHECK(strstr(message, expect) == NULL);
		else
			CHECK(contains(message, expect));
		free(expect);
	}
	expect = plumb_xprintf("%s:2: ", path);
	CHECK(strstr(message, expect) == NULL);
	free(expect);
	CHECK(contains(message, "superuser"));
	/* The hash itself is never quoted back. */
	CHECK(strstr(message, hex) == NULL);

	/* The server refuses to start on it, naming the file and line. */
	CHECK_INT(plumb_server_start(&server, "127.0.0.1:0", path, routes, PLUMB_ARRAY_SIZE(routes)), PLUMB_EINVALID);
	CHECK(server == NULL);
	expect = plumb_xprintf("%s:3: ", path);
	CHECK(contains(plumb_error_last(), expect));
	free(expect);

	char *missing = temp_path("no-such-tokens");
	CHECK_INT(plumb_tokens_load(&tokens, missing), PLUMB_ERROR);
	CHECK(contains(plumb_error_last(), missing));
	free(missing);

	/* Comments, blank lines, CRLF and tabs are fine; an empty file holds no tokens. */
	free(content);
	content = plumb_xprintf("# only a comment\r\n\r\n\t%.*s\r\n", (int)strlen(good) - 1, good);
	write_text(path, content);
	CHECK_INT(plumb_tokens_load(&tokens, path), 0);
	CHECK_INT(plumb_tokens_count(tokens), 1);
	const char *name = NULL;
	CHECK_INT(plumb_tokens_lookup(tokens, "carol-secret", strlen("carol-secret"), &name), PLUMB_ROLE_VIEWER);
	CHECK_STR(name, "carol");
	CHECK_INT(plumb_tokens_lookup(tokens, "carol-secreT", strlen("carol-secret"), &name), PLUMB_ROLE_NONE);
	CHECK(name == NULL);
	CHECK_INT(plumb_tokens_lookup(tokens, "", 0, &name), PLUMB_ROLE_NONE);
	plumb_tokens_free(tokens);
	tokens = NULL;

	write_text(path, "");
	CHECK_INT(plumb_tokens_load(&tokens, path), 0);
	CHECK_INT(plumb_tokens_count(tokens), 0);
	CHECK_INT(plumb_tokens_lookup(tokens, "x", 1, &name), PLUMB_ROLE_NONE);
	plumb_tokens_free(tokens);

	free(content);
	free(good);
	free(path);
}

static void test_listen_addresses(void)
{
	plumb_server *server = NULL;
	const char *bad[] = { "", "8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:80x",
			      "localhost:8080", "::1:8080", "[::1]", "[::1]8080", "[nope]:80", "127.0.0.1:-1",
			      "1.2.3:80" };
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(bad); i++) {
		int rc = plumb_server_start(&server, bad[i], NULL, routes, PLUMB_ARRAY_SIZE(routes));
		if (rc != PLUMB_EINVALID)
			fprintf(stderr, "  listen address \"%s\"\n", bad[i]);
		CHECK_INT(rc, PLUMB_EINVALID);
		CHECK(server == NULL);
		plumb_server_stop(server);
		server = NULL;
	}
	CHECK_INT(plumb_server_start(&server, NULL, NULL, routes, 1), PLUMB_EINVALID);

	/* A bad route is refused too. */
	plumb_route broken[] = { { "GET", "/a/x{name}", PLUMB_ROLE_NONE, healthz, NULL } };
	CHECK_INT(plumb_server_start(&server, "127.0.0.1:0", NULL, broken, 1), PLUMB_EINVALID);
	broken[0].pattern = "relative";
	CHECK_INT(plumb_server_start(&server, "127.0.0.1:0", NULL, broken, 1), PLUMB_EINVALID);
	broken[0].pattern = "/ok";
	broken[0].method = "get";
	CHECK_INT(plumb_server_start(&server, "127.0.0.1:0", NULL, broken, 1), PLUMB_EINVALID);

	/* A port in use: PLUMB_ERROR, saying why. */
	plumb_server *first = start(NULL);
	if (first) {
		char *taken = plumb_xprintf("127.0.0.1:%u", plumb_server_port(first));
		CHECK_INT(plumb_server_start(&server, taken, NULL, routes, PLUMB_ARRAY_SIZE(routes)), PLUMB_ERROR);
		CHECK(server == NULL);
		CHECK(contains(plumb_error_last(), taken));
		CHECK(contains(plumb_error_last(), "in use"));
		free(taken);
		plumb_server_stop(first);
	}

	/* Every address, then IPv6 loopback where the host has it. */
	CHECK_INT(plumb_server_start(&server, ":0", NULL, routes, PLUMB_ARRAY_SIZE(routes)), 0);
	if (server) {
		http_result r;
		http(&r, plumb_server_port(server), "GET", "/healthz", NULL);
		CHECK_INT(r.status, 200);
		http_release(&r);
		plumb_server_stop(server);
		server = NULL;
	}
	if (plumb_server_start(&server, "[::1]:0", NULL, routes, PLUMB_ARRAY_SIZE(routes)) == 0) {
		http_result r;
		http_at(&r, "[::1]", plumb_server_port(server), "GET", "/healthz", NULL, NULL, NULL);
		CHECK_INT(r.status, 200);
		http_release(&r);
		plumb_server_stop(server);
	} else {
		fprintf(stderr, "  (no IPv6 loopback here: %s)\n", plumb_error_last());
	}
}

static void test_reload_tokens(void)
{
	http_result r;
	char *tokens = write_tokens("tokens", NULL);
	plumb_server *server = start(tokens);
	if (!server)
		goto done;
	unsigned port = plumb_server_port(server);

	http(&r, port, "GET", "/api/v1/applications", OPERATOR_TOKEN);
	CHECK_INT(r.status, 200);
	http_release(&r);
	http(&r, port, "GET", "/api/v1/applications", NEW_TOKEN);
	CHECK_INT(r.status, 401);
	http_release(&r);

	/* bob's token is rotated: the old one stops working, the new one starts, the others stay. */
	char *hex_line = token_line("bob", "operator", NEW_TOKEN);
	char *viewer = token_line("alice", "viewer", VIEWER_TOKEN);
	char *content = plumb_xprintf("%s%s", viewer, hex_line);
	write_text(tokens, content);
	CHECK_INT(plumb_server_reload_tokens(server), 0);

	http(&r, port, "GET", "/api/v1/applications", OPERATOR_TOKEN);
	CHECK_INT(r.status, 401);
	http_release(&r);
	http(&r, port, "POST", "/api/v1/applications/web/sync", NEW_TOKEN);
	CHECK_INT(r.status, 200);
	CHECK(contains(r.body, "token=bob role=2"));
	http_release(&r);
	http(&r, port, "GET", "/api/v1/applications", VIEWER_TOKEN);
	CHECK_INT(r.status, 200);
	http_release(&r);
	http(&r, port, "GET", "/api/v1/applications", ADMIN_TOKEN);
	CHECK_INT(r.status, 401);
	http_release(&r);

	/* A broken file is refused and the tokens in force stay. */
	write_text(tokens, "bob operator nothex\n");
	CHECK_INT(plumb_server_reload_tokens(server), PLUMB_EINVALID);
	char *expect = plumb_xprintf("%s:1: ", tokens);
	CHECK(contains(plumb_error_last(), expect));
	free(expect);
	http(&r, port, "POST", "/api/v1/applications/web/sync", NEW_TOKEN);
	CHECK_INT(r.status, 200);
	http_release(&r);

	free(hex_line);
	free(viewer);
	free(content);
	plumb_server_stop(server);
done:
	free(tokens);
}

/*
 * A handler that takes its time holds up only its own client, and stopping
 * the server waits for it to finish rather than pulling its memory away.
 */
static void test_slow_handler_and_stop(void)
{
	http_result r;
	plumb_server *server = start(NULL);
	if (!server)
		return;
	atomic_store(&slow_entered, 0);
	atomic_store(&slow_release, 0);
	atomic_store(&slow_finished, 0);
	char *command = plumb_xprintf("curl -q -s --noproxy '*' --max-time 120 -o /dev/null -w '%%{http_code}' "
				      "'http://127.0.0.1:%u/slow' 2>/dev/null",
				      plumb_server_port(server));
	FILE *client = popen(command, "r");
	CHECK(client != NULL);
	for (int i = 0; i < 6000 && !atomic_load(&slow_entered); i++)
		sleep_ms(10);
	CHECK(atomic_load(&slow_entered));

	/* Answered while the slow handler is held up (it is, until released below). */
	http(&r, plumb_server_port(server), "GET", "/healthz", NULL);
	CHECK_INT(r.status, 200);
	CHECK(!atomic_load(&slow_finished));
	http_release(&r);

	/* Released, it takes SLOW_MS more: stopping at once must wait for it. */
	atomic_store(&slow_release, 1);
	plumb_server_stop(server);
	CHECK(atomic_load(&slow_finished));
	if (client) {
		char code[16] = "";
		size_t n = fread(code, 1, sizeof(code) - 1, client);
		code[n] = '\0';
		pclose(client);
		CHECK_STR(code, "200");
	}
	free(command);
}

/* Reloading while requests run: every request sees the old set or the new one, whole. */
static void test_reload_under_load(void)
{
	char *tokens = write_tokens("tokens", NULL);
	plumb_server *server = start(tokens);
	if (!server)
		goto done;
	char *command = plumb_xprintf("for i in $(seq 40); do curl -q -s --noproxy '*' --max-time 20 -o /dev/null "
				      "-w '%%{http_code}\\n' -H 'Authorization: Bearer %s' "
				      "'http://127.0.0.1:%u/api/v1/applications'; done 2>/dev/null",
				      VIEWER_TOKEN, plumb_server_port(server));
	FILE *client = popen(command, "r");
	CHECK(client != NULL);
	for (int i = 0; i < 40; i++) {
		CHECK_INT(plumb_server_reload_tokens(server), 0);
		sleep_ms(5);
	}
	if (client) {
		char line[32];
		int ok = 0, other = 0;
		while (fgets(line, sizeof(line), client))
			strcmp(line, "200\n") == 0 ? ok++ : other++;
		pclose(client);
		CHECK_INT(ok, 40);
		CHECK_INT(other, 0);
	}
	free(command);
	plumb_server_stop(server);
done:
	free(tokens);
}

static void test_response_headers(void)
{
	http_result r;
	plumb_server *server = start(NULL);
	if (!server)
		return;
	http(&r, plumb_server_port(server), "GET", "/headers", NULL);
	CHECK_INT(r.status, 200);
	CHECK(contains(r.headers, "X-Frame-Options: DENY"));
	CHECK(contains(r.headers, "Set-Cookie: a=1; Path=/"));
	CHECK(contains(r.headers, "Set-Cookie: b=2; Path=/"));
	/* Besides those every response carries. */
	CHECK(contains(r.headers, "X-Content-Type-Options: nosniff"));
	CHECK(contains(r.headers, "Cache-Control: no-store"));
	http_release(&r);
	plumb_server_stop(server);
}

static int is_hex64(const char *text)
{
	for (int i = 0; i < 64; i++)
		if (!text[i] || !strchr("0123456789abcdef", text[i]))
			return 0;
	return 1;
}

static void test_session_table(void)
{
	plumb_sessions *sessions = plumb_sessions_new(3, 100);
	plumb_session a, b, c, d, found;

	CHECK_INT(plumb_sessions_create(&a, sessions, "alice", PLUMB_ROLE_VIEWER, 1000), 0);
	CHECK(is_hex64(a.id) && a.id[64] == '\0');
	CHECK(is_hex64(a.csrf) && a.csrf[64] == '\0');
	CHECK(strcmp(a.id, a.csrf) != 0);
	CHECK_STR(a.name, "alice");
	CHECK_INT(a.role, PLUMB_ROLE_VIEWER);

	CHECK_INT(plumb_sessions_lookup(&found, sessions, a.id, 64, 1050), 0);
	CHECK_STR(found.name, "alice");
	CHECK_STR(found.csrf, a.csrf);
	CHECK_STR(found.id, a.id);
	CHECK_INT(found.role, PLUMB_ROLE_VIEWER);
	CHECK_INT(found.created_at, 1000);
	plumb_session_release(&found);

	/* A session lasts its lifetime from its creation, however often it is used. */
	CHECK_INT(plumb_sessions_lookup(&found, sessions, a.id, 64, 1099), 0);
	plumb_session_release(&found);
	CHECK_INT(plumb_sessions_lookup(&found, sessions, a.id, 64, 1100), PLUMB_ENOTFOUND);
	CHECK(found.name == NULL);

	/* Another id, a prefix of it, or the CSRF token: none is the session. */
	CHECK_INT(plumb_sessions_create(&b, sessions, "bob", PLUMB_ROLE_OPERATOR, 1100), 0);
	CHECK(strcmp(a.id, b.id) != 0);
	CHECK_INT(plumb_sessions_lookup(&found, sessions, b.id, 63, 1100), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_sessions_lookup(&found, sessions, b.csrf, 64, 1100), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_sessions_lookup(&found, sessions, "", 0, 1100), PLUMB_ENOTFOUND);

	/* Making one drops the expired ones (a went when b was made), then, at the bound, the one used least recently. */
	CHECK_INT(plumb_sessions_count(sessions), 1);
	CHECK_INT(plumb_sessions_create(&c, sessions, "carol", PLUMB_ROLE_ADMIN, 1101), 0);
	CHECK_INT(plumb_sessions_create(&d, sessions, "dave", PLUMB_ROLE_VIEWER, 1102), 0);
	CHECK_INT(plumb_sessions_count(sessions), 3);
	CHECK_INT(plumb_sessions_lookup(&found, sessions, b.id, 64, 1103), 0); /* b is now the most recent */
	plumb_session_release(&found);
	plumb_session e;
	CHECK_INT(plumb_sessions_create(&e, sessions, "erin", PLUMB_ROLE_VIEWER, 1104), 0);
	CHECK_INT(plumb_sessions_count(sessions), 3);
	CHECK_INT(plumb_sessions_lookup(&found, sessions, c.id, 64, 1105), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_sessions_lookup(&found, sessions, b.id, 64, 1105), 0);
	plumb_session_release(&found);
	CHECK_INT(plumb_sessions_lookup(&found, sessions, d.id, 64, 1105), 0);
	plumb_session_release(&found);

	/* Removing ends one; clearing ends them all. */
	CHECK_INT(plumb_sessions_remove(sessions, b.id, 64), 0);
	CHECK_INT(plumb_sessions_remove(sessions, b.id, 64), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_sessions_lookup(&found, sessions, b.id, 64, 1106), PLUMB_ENOTFOUND);
	CHECK_INT(plumb_sessions_lookup(&found, sessions, e.id, 64, 1106), 0);
	plumb_session_release(&found);
	plumb_sessions_clear(sessions);
	CHECK_INT(plumb_sessions_count(sessions), 0);
	CHECK_INT(plumb_sessions_lookup(&found, sessions, e.id, 64, 1106), PLUMB_ENOTFOUND);

	plumb_session_release(&a);
	plumb_session_release(&b);
	plumb_session_release(&c);
	plumb_session_release(&d);
	plumb_session_release(&e);
	plumb_sessions_free(sessions);
	plumb_sessions_free(NULL);
}

/* Every value of the cookie called name in header, joined by "|". */
static char *cookie_values(const char *header, const char *name)
{
	plumb_buf out = PLUMB_BUF_INIT;
	const char *cursor = header, *value = NULL;
	size_t len = 0;
	while (plumb_cookie_next(&value, &len, &cursor, name))
		plumb_buf_printf(&out, "%s%.*s", out.len ? "|" : "", (int)len, value);
	return plumb_buf_detach(&out, NULL);
}

static void test_cookie_header(void)
{
	static const struct {
		const char *header, *expected;
	} cases[] = {
		{ "plumb_session=abc", "abc" },
		{ "a=1; plumb_session=abc; b=2", "abc" },
		{ "a=1;plumb_session=abc;b=2", "abc" },
		{ "  plumb_session = abc  ;", "abc" },
		{ "plumb_session=\"abc\"", "abc" },
		{ "plumb_session=", "" },
		{ "plumb_session=one; other=x; plumb_session=two", "one|two" },
		{ "xplumb_session=abc; plumb_sessionx=def; plumb_session", "" },
		{ "a=plumb_session=abc", "" },
		{ "", "" },
		{ ";;; ;", "" },
	};
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(cases); i++) {
		char *values = cookie_values(cases[i].header, "plumb_session");
		if (strcmp(values, cases[i].expected) != 0)
			fprintf(stderr, "  Cookie: %s\n", cases[i].header);
		CHECK_STR(values, cases[i].expected);
		free(values);
	}
}

/* The 64 hex digits that follow marker in text, or "" (a static buffer: one at a time). */
static const char *after(const char *text, const char *marker)
{
	static char value[65];
	const char *at = text ? strstr(text, marker) : NULL;
	value[0] = '\0';
	if (at && is_hex64(at + strlen(marker))) {
		memcpy(value, at + strlen(marker), 64);
		value[64] = '\0';
	}
	return value;
}

static void test_sessions_over_http(void)
{
	http_result r;
	char *tokens = write_tokens("tokens", NULL);
	char *jar = temp_path("cookies");
	char *sign_in = temp_path("sign-in.json");
	char *bad = temp_path("bad-sign-in.json");
	plumb_server *server = start(tokens);
	char id[65] = "", csrf[65] = "";
	if (!server)
		goto done;
	unsigned port = plumb_server_port(server);
	char *with_jar = plumb_xprintf("-b '%s' -c '%s'", jar, jar);
	char *json_jar = plumb_xprintf("-H 'Content-Type: application/json' %s", with_jar);

	/* Signing in: only JSON, only a known token. */
	write_text(sign_in, "{\"token\": \"" OPERATOR_TOKEN "\"}");
	http_at(&r, NULL, port, "POST", "/api/v1/session", NULL, "-H 'Content-Type: text/plain'", sign_in);
	CHECK_INT(r.status, 415);
	http_release(&r);
	write_text(bad, "{\"token\": \"" OPERATOR_TOKEN "x\"}");
	http_at(&r, NULL, port, "POST", "/api/v1/session", NULL, json_jar, bad);
	CHECK_INT(r.status, 401);
	CHECK(contains(r.body, "unknown token"));
	CHECK(strstr(r.headers, "Set-Cookie") == NULL);
	http_release(&r);
	write_text(bad, "[\"" OPERATOR_TOKEN "\"]");
	http_at(&r, NULL, port, "POST", "/api/v1/session", NULL, json_jar, bad);
	CHECK_INT(r.status, 400);
	http_release(&r);

	http_at(&r, NULL, port, "POST", "/api/v1/session", NULL, json_jar, sign_in);
	CHECK_INT(r.status, 201);
	snprintf(id, sizeof(id), "%s", after(r.headers, "Set-Cookie: plumb_session="));
	snprintf(csrf, sizeof(csrf), "%s", after(r.body, "\"csrf\":\""));
	CHECK(is_hex64(id));
	CHECK(is_hex64(csrf));
	char *cookie = plumb_xprintf("Set-Cookie: plumb_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200\r\n", id);
	CHECK(contains(r.headers, cookie));
	free(cookie);
	CHECK(contains(r.body, "\"name\":\"bob\""));
	CHECK(contains(r.body, "\"role\":\"operator\""));
	http_release(&r);

	/* The cookie authenticates as the token; reading needs no CSRF token. */
	http_at(&r, NULL, port, "GET", "/whoami", NULL, with_jar, NULL);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "token=bob role=2 session=1");
	http_release(&r);
	http_at(&r, NULL, port, "GET", "/api/v1/session", NULL, with_jar, NULL);
	CHECK_INT(r.status, 200);
	char *expect = plumb_xprintf("{\"name\":\"bob\",\"role\":\"operator\",\"csrf\":\"%s\"}", csrf);
	CHECK_STR(r.body, expect);
	free(expect);
	http_release(&r);

	/* Anything else needs the CSRF token as well: missing, wrong, or the session id instead, it is refused. */
	char *header = NULL;
	http_at(&r, NULL, port, "POST", "/whoami", NULL, with_jar, NULL);
	CHECK_INT(r.status, 403);
	CHECK_STR(r.body, "{\"error\": \"missing or wrong CSRF token\"}\n");
	http_release(&r);
	char wrong[65];
	memcpy(wrong, csrf, sizeof(wrong));
	wrong[63] = wrong[63] == '0' ? '1' : '0';
	header = plumb_xprintf("%s -H 'X-CSRF-Token: %s'", with_jar, wrong);
	http_at(&r, NULL, port, "POST", "/whoami", NULL, header, NULL);
	CHECK_INT(r.status, 403);
	http_release(&r);
	free(header);
	header = plumb_xprintf("%s -H 'X-CSRF-Token: %s'", with_jar, id);
	http_at(&r, NULL, port, "POST", "/whoami", NULL, header, NULL);
	CHECK_INT(r.status, 403);
	http_release(&r);
	free(header);
	header = plumb_xprintf("%s -H 'X-CSRF-Token: %sx'", with_jar, csrf);
	http_at(&r, NULL, port, "POST", "/whoami", NULL, header, NULL);
	CHECK_INT(r.status, 403);
	http_release(&r);
	free(header);
	header = plumb_xprintf("%s -H 'X-CSRF-Token: %s'", with_jar, csrf);
	http_at(&r, NULL, port, "POST", "/operate", NULL, header, NULL);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "token=bob role=2 session=1");
	http_release(&r);

	/* A bearer token goes first, and needs no CSRF token; an unknown one is not saved by a good cookie. */
	http_at(&r, NULL, port, "POST", "/whoami", VIEWER_TOKEN, with_jar, NULL);
	CHECK_INT(r.status, 200);
	CHECK_STR(r.body, "token=alice role=1 session=0");
	http_release(&r);
	http_at(&r, NULL, port, "POST", "/operate", VIEWER_TOKEN, header, NULL);
	CHECK_INT(r.status, 403);
	http_release(&r);
	http_at(&r, NULL, port, "GET", "/whoami", "nonsense", with_jar, NULL);
	CHECK_INT(r.status, 401);
	http_release(&r);
	http(&r, port, "GET", "/api/v1/session", VIEWER_TOKEN);
	CHECK_STR(r.body, "{\"name\":\"alice\",\"role\":\"viewer\",\"csrf\":\"\"}");
	http_release(&r);

	/* Among several plumb_session cookies (one planted for another path, say), the one that is a session counts. */
	char *planted = plumb_xprintf("-H 'Cookie: plumb_session=%064d; plumb_session=%s'", 7, id);
	http_at(&r, NULL, port, "GET", "/whoami", NULL, planted, NULL);
	CHECK_INT(r.status, 200);
	http_release(&r);
	free(planted);

	/* Signing out needs the CSRF token too, ends the session on the server, and clears the cookie. */
	http_at(&r, NULL, port, "DELETE", "/api/v1/session", NULL, with_jar, NULL);
	CHECK_INT(r.status, 403);
	http_release(&r);
	http_at(&r, NULL, port, "DELETE", "/api/v1/session", NULL, header, NULL);
	CHECK_INT(r.status, 200);
	CHECK(contains(r.headers, "Set-Cookie: plumb_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0\r\n"));
	CHECK(contains(r.body, "\"signed_out\":true"));
	http_release(&r);
	char *old = plumb_xprintf("-H 'Cookie: plumb_session=%s' -H 'X-CSRF-Token: %s'", id, csrf);
	http_at(&r, NULL, port, "GET", "/whoami", NULL, old, NULL);
	CHECK_INT(r.status, 401);
	CHECK(contains(r.body, "sign in again"));
	http_release(&r);
	free(old);

	/* Reloading the tokens ends every session. */
	http_at(&r, NULL, port, "POST", "/api/v1/session", NULL, json_jar, sign_in);
	CHECK_INT(r.status, 201);
	http_release(&r);
	http_at(&r, NULL, port, "GET", "/whoami", NULL, with_jar, NULL);
	CHECK_INT(r.status, 200);
	http_release(&r);
	CHECK_INT(plumb_server_reload_tokens(server), 0);
	http_at(&r, NULL, port, "GET", "/whoami", NULL, with_jar, NULL);
	CHECK_INT(r.status, 401);
	http_release(&r);
	http(&r, port, "GET", "/whoami", OPERATOR_TOKEN);
	CHECK_INT(r.status, 200);
	http_release(&r);

	free(header);
	free(with_jar);
	free(json_jar);
	plumb_server_stop(server);
done:
	free(tokens);
	free(jar);
	free(sign_in);
	free(bad);
}

int main(void)
{
	if (!mkdtemp(temp_root)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_open_route);
	RUN(test_authentication);
	RUN(test_no_tokens_file);
	RUN(test_routing);
	RUN(test_query_and_headers);
	RUN(test_body_limit);
	RUN(test_tokens_file_errors);
	RUN(test_listen_addresses);
	RUN(test_reload_tokens);
	RUN(test_slow_handler_and_stop);
	RUN(test_reload_under_load);
	RUN(test_response_headers);
	RUN(test_session_table);
	RUN(test_cookie_header);
	RUN(test_sessions_over_http);
	nftw(temp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	TEST_EXIT();
}
