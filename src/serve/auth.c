#include "util/common.h"
#include "serve/auth.h"
#include "serve/http.h"
#include "serve/http_internal.h"
#include "serve/session.h"
#include "serve/tokens.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

struct plumb_auth {
	char *tokens_file; /* NULL: no tokens */
	/*
	 * Held only to look a token up or to swap in reloaded ones: a request
	 * copies the name it needs. Making a session from a token holds it too,
	 * so that no session outlives the reload that ends them all.
	 */
	pthread_mutex_t tokens_lock;
	plumb_tokens *tokens;
	plumb_sessions *sessions;
};

plumb_auth *plumb_auth_new(void)
{
	plumb_auth *auth = plumb_xcalloc(1, sizeof(*auth));
	pthread_mutex_init(&auth->tokens_lock, NULL);
	auth->sessions = plumb_sessions_new(PLUMB_SESSION_MAX, PLUMB_SESSION_LIFETIME_S);
	return auth;
}

int plumb_auth_load_tokens(plumb_auth *auth, const char *path)
{
	auth->tokens_file = plumb_xstrdup(path);
	return plumb_tokens_load(&auth->tokens, path);
}

int plumb_auth_reload_tokens(plumb_auth *auth)
{
	plumb_tokens *tokens = NULL, *old = NULL;
	int error = 0;

	if (!auth->tokens_file)
		return 0;
	if ((error = plumb_tokens_load(&tokens, auth->tokens_file)) < 0)
		return error;
	pthread_mutex_lock(&auth->tokens_lock);
	old = auth->tokens;
	auth->tokens = tokens;
	/* A session carries the name and role its token had: either may have changed. */
	plumb_sessions_clear(auth->sessions);
	pthread_mutex_unlock(&auth->tokens_lock);
	/* No request holds on to old: lookups copy the name while the lock is held. */
	plumb_tokens_free(old);
	return 0;
}

void plumb_auth_free(plumb_auth *auth)
{
	if (!auth)
		return;
	plumb_tokens_free(auth->tokens);
	plumb_sessions_free(auth->sessions);
	free(auth->tokens_file);
	pthread_mutex_destroy(&auth->tokens_lock);
	free(auth);
}

/*
 * The token of "Authorization: Bearer TOKEN" (the scheme is
 * case-insensitive, RFC 9110), or NULL.
 */
static const char *bearer_token(struct MHD_Connection *connection)
{
	const char *value =
		plumb_http_library()->lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!value || strncasecmp(value, "Bearer ", 7) != 0)
		return NULL;
	value += 7;
	while (*value == ' ')
		value++;
	return *value ? value : NULL;
}

/* Sessions age on a clock that neither jumps with the wall clock nor stops while the machine sleeps. */
static int64_t session_clock(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (int64_t)ts.tv_sec;
}

typedef struct {
	plumb_auth *auth;
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
		search->found = plumb_sessions_lookup(search->out, search->auth->sessions, id, len, search->now) == 0;
	}
	return search->found ? MHD_NO : MHD_YES;
}

/* Does the request carry the session's CSRF token? Compared in constant time. */
static int csrf_matches(struct MHD_Connection *connection, const plumb_session *session)
{
	const char *value =
		plumb_http_library()->lookup_connection_value(connection, MHD_HEADER_KIND, "X-CSRF-Token");
	return value && strlen(value) == PLUMB_SESSION_SECRET_LEN &&
	       CRYPTO_memcmp(value, session->csrf, PLUMB_SESSION_SECRET_LEN) == 0;
}

int plumb_auth_request(plumb_auth_identity *identity, enum MHD_Result *refusal, plumb_auth *auth,
		       struct MHD_Connection *connection, const char *method, plumb_role needed)
{
	const char *token = bearer_token(connection);
	session_search search = { .auth = auth, .out = &identity->session, .now = session_clock() };
	plumb_role role = PLUMB_ROLE_NONE;

	if (token) {
		const char *name = NULL;
		pthread_mutex_lock(&auth->tokens_lock);
		role = plumb_tokens_lookup(auth->tokens, token, strlen(token), &name);
		if (name)
			identity->token_name = plumb_xstrdup(name);
		pthread_mutex_unlock(&auth->tokens_lock);
	} else {
		plumb_http_library()->get_connection_values(connection, MHD_HEADER_KIND, search_cookie, &search);
		if (search.found) {
			identity->has_session = 1;
			identity->token_name = plumb_xstrdup(identity->session.name);
			role = identity->session.role;
		}
	}
	if (role == PLUMB_ROLE_NONE) {
		*refusal = plumb_http_queue_error(connection, MHD_HTTP_UNAUTHORIZED, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
						  "Bearer realm=\"plumb\"", "%s",
						  token		     ? "unknown token"
						  : search.presented ? "the session has ended: sign in again"
								     : "this needs \"Authorization: Bearer TOKEN\"");
		return -1;
	}
	/* A cookie rides along with requests that other sites make; the header, which only the page can read, does not. */
	if (identity->has_session && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	    !csrf_matches(connection, &identity->session)) {
		*refusal = plumb_http_queue_error(connection, MHD_HTTP_FORBIDDEN, NULL, NULL, "missing or wrong CSRF token");
		return -1;
	}
	if (role < needed) {
		*refusal = plumb_http_queue_error(connection, MHD_HTTP_FORBIDDEN, NULL, NULL,
						  "token %s has role %s; this needs %s", identity->token_name,
						  plumb_role_name(role), plumb_role_name(needed));
		return -1;
	}
	identity->role = role;
	return 0;
}

void plumb_auth_identity_release(plumb_auth_identity *identity)
{
	free(identity->token_name);
	identity->token_name = NULL;
	plumb_session_release(&identity->session);
	identity->has_session = 0;
	identity->role = PLUMB_ROLE_NONE;
}

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
	plumb_auth *auth = payload;
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
	pthread_mutex_lock(&auth->tokens_lock);
	plumb_role role = plumb_tokens_lookup(auth->tokens, json_string_value(token), json_string_length(token), &name);
	if (role != PLUMB_ROLE_NONE)
		error = plumb_sessions_create(&session, auth->sessions, name, role, session_clock());
	pthread_mutex_unlock(&auth->tokens_lock);
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
	plumb_auth *auth = payload;
	int ended = request->session &&
		    plumb_sessions_remove(auth->sessions, request->session->id, PLUMB_SESSION_SECRET_LEN) == 0;
	plumb_response_header(response, MHD_HTTP_HEADER_SET_COOKIE, PLUMB_SESSION_COOKIE "=" SESSION_COOKIE_FLAGS "0");
	plumb_response_json(response, 200, ended ? "{\"signed_out\":true}" : "{\"signed_out\":false}");
}

void plumb_auth_routes(plumb_route routes[PLUMB_AUTH_ROUTE_COUNT], plumb_auth *auth)
{
	const plumb_route session_routes[PLUMB_AUTH_ROUTE_COUNT] = {
		{ "POST", SESSION_PATH, PLUMB_ROLE_NONE, session_create, auth },
		{ "GET", SESSION_PATH, PLUMB_ROLE_VIEWER, session_show, auth },
		{ "DELETE", SESSION_PATH, PLUMB_ROLE_VIEWER, session_end, auth },
	};
	memcpy(routes, session_routes, sizeof(session_routes));
}
