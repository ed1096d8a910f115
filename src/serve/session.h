/*
 * session.h - browser sessions: an API token exchanged once for a cookie.
 *
 * A person signs in to the dashboard with an API token; the server makes a
 * session of it: a random id (sent back as a cookie, never shown to the
 * page's script), a random CSRF token (which the page sends back in a
 * header with every request that changes something: a cookie alone rides
 * along with requests other sites make, a header does not), and the
 * token's name and role as they were at sign-in. A session lasts a fixed
 * lifetime from its creation, and ends sooner when it is removed (signing
 * out) or when every session is (the tokens were reloaded, so roles may
 * have changed). The table holds a bounded number of sessions: making one
 * more drops the expired ones, then the one used least recently.
 *
 * Ids are kept only as their SHA-256 and looked up by comparing every
 * entry in constant time, as tokens are: neither the table's memory nor a
 * lookup's timing gives away a usable id.
 *
 * Times are seconds on a clock that only moves forward, given by the
 * caller (the server reads CLOCK_BOOTTIME), so that a test can move it.
 * Every function takes the table's lock: safe from many threads at once.
 */
#ifndef PLUMB_SESSION_H
#define PLUMB_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "serve/tokens.h"
#include "util/common.h"

/* Ids and CSRF tokens: 32 random bytes in hex. */
#define PLUMB_SESSION_SECRET_LEN 64
#define PLUMB_SESSION_MAX 1024
#define PLUMB_SESSION_LIFETIME_S (12 * 60 * 60)
#define PLUMB_SESSION_COOKIE "plumb_session"

/* One session as a caller sees it; release with plumb_session_release. */
struct plumb_session {
	char id[PLUMB_SESSION_SECRET_LEN + 1];
	char csrf[PLUMB_SESSION_SECRET_LEN + 1];
	char *name; /* the token's NAME */
	plumb_role role;
	int64_t created_at;
};
typedef struct plumb_session plumb_session;

typedef struct plumb_sessions plumb_sessions;

/* A table of at most max sessions (at least one), each lasting lifetime seconds. */
plumb_sessions *plumb_sessions_new(size_t max, int64_t lifetime);

/*
 * Make a session for the token called name with role, at now; out gets
 * its id and CSRF token (new random ones) and a copy of name. PLUMB_ERROR
 * when the system has no randomness to give.
 */
int plumb_sessions_create(plumb_session *out, plumb_sessions *sessions, const char *name, plumb_role role,
			  int64_t now);

/*
 * The session whose id is the id_len bytes at id, as it is at now (which
 * counts as its last use), copied into out. PLUMB_ENOTFOUND when there is
 * none: never made, removed, or older than the lifetime.
 */
int plumb_sessions_lookup(plumb_session *out, plumb_sessions *sessions, const char *id, size_t id_len, int64_t now);

/* End the session with that id; PLUMB_ENOTFOUND when there is none. */
int plumb_sessions_remove(plumb_sessions *sessions, const char *id, size_t id_len);

/* End every session. */
void plumb_sessions_clear(plumb_sessions *sessions);

/* How many sessions are held (expired ones may still be among them until the next create). */
size_t plumb_sessions_count(plumb_sessions *sessions);

/* NULL-safe. */
void plumb_sessions_free(plumb_sessions *sessions);

/* Free what out holds (its name) and wipe its secrets. */
void plumb_session_release(plumb_session *session);

/*
 * The next cookie called name in the value of a Cookie header ("a=1;
 * b=2", RFC 6265), starting at *cursor (set it to the header first): 1
 * with its value in *value and *len (borrowed from the header, without the
 * double quotes a value may have around it) and *cursor moved past it, or
 * 0 when there is no more. A header may hold a name more than once (a
 * cookie set for another path or by a sibling domain): callers go through
 * them all.
 */
int plumb_cookie_next(const char **value, size_t *len, const char **cursor, const char *name);

#endif
