#include "util/common.h"
#include "serve/session.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>

#define SECRET_BYTES (PLUMB_SESSION_SECRET_LEN / 2)
#define DIGEST_LEN 32

typedef struct {
	unsigned char digest[DIGEST_LEN]; /* SHA-256 of the id: the id itself is kept nowhere */
	char csrf[PLUMB_SESSION_SECRET_LEN + 1];
	char *name;
	plumb_role role;
	int64_t created_at;
	int64_t last_seen;
} session_entry;

struct plumb_sessions {
	pthread_mutex_t lock;
	session_entry *items;
	size_t count;
	size_t max;
	int64_t lifetime;
};

static void entry_release(session_entry *entry)
{
	free(entry->name);
	OPENSSL_cleanse(entry, sizeof(*entry));
}

/* Remove entry i, moving the last one into its place: order does not matter. */
static void remove_at(plumb_sessions *sessions, size_t i)
{
	entry_release(&sessions->items[i]);
	if (i != --sessions->count)
		sessions->items[i] = sessions->items[sessions->count];
}

static int expired(const plumb_sessions *sessions, const session_entry *entry, int64_t now)
{
	return now - entry->created_at >= sessions->lifetime;
}

static void hex(char out[PLUMB_SESSION_SECRET_LEN + 1], const unsigned char bytes[SECRET_BYTES])
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < SECRET_BYTES; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[PLUMB_SESSION_SECRET_LEN] = '\0';
}

static int random_secret(char out[PLUMB_SESSION_SECRET_LEN + 1])
{
	unsigned char bytes[SECRET_BYTES];
	if (RAND_bytes(bytes, sizeof(bytes)) != 1)
		return plumb_error_set(PLUMB_ERROR, "no random bytes for a session");
	hex(out, bytes);
	OPENSSL_cleanse(bytes, sizeof(bytes));
	return 0;
}

static int digest_of(unsigned char out[DIGEST_LEN], const char *id, size_t id_len)
{
	unsigned int len = 0;
	if (!EVP_Digest(id, id_len, out, &len, EVP_sha256(), NULL) || len != DIGEST_LEN)
		return plumb_error_set(PLUMB_ERROR, "cannot hash a session id");
	return 0;
}

/*
 * The index of the entry whose digest is digest, or SIZE_MAX. Every entry
 * is compared, whichever matched (digests are unique: at most one does).
 */
static size_t find(const plumb_sessions *sessions, const unsigned char digest[DIGEST_LEN])
{
	size_t found = SIZE_MAX;
	for (size_t i = 0; i < sessions->count; i++) {
		size_t same = (size_t)(CRYPTO_memcmp(digest, sessions->items[i].digest, DIGEST_LEN) == 0);
		found = (found & (same - 1)) | (i & (0 - same));
	}
	return found;
}

plumb_sessions *plumb_sessions_new(size_t max, int64_t lifetime)
{
	plumb_sessions *sessions = plumb_xcalloc(1, sizeof(*sessions));
	pthread_mutex_init(&sessions->lock, NULL);
	sessions->max = max ? max : 1;
	sessions->lifetime = lifetime;
	sessions->items = plumb_xcalloc(sessions->max, sizeof(*sessions->items));
	return sessions;
}

int plumb_sessions_create(plumb_session *out, plumb_sessions *sessions, const char *name, plumb_role role,
			  int64_t now)
{
	session_entry entry = { 0 };
	int error = 0;

	memset(out, 0, sizeof(*out));
	if ((error = random_secret(out->id)) < 0 || (error = random_secret(out->csrf)) < 0 ||
	    (error = digest_of(entry.digest, out->id, PLUMB_SESSION_SECRET_LEN)) < 0)
		goto done;
	memcpy(entry.csrf, out->csrf, sizeof(entry.csrf));
	entry.name = plumb_xstrdup(name);
	entry.role = role;
	entry.created_at = entry.last_seen = now;
	out->name = plumb_xstrdup(name);
	out->role = role;
	out->created_at = now;

	pthread_mutex_lock(&sessions->lock);
	for (size_t i = sessions->count; i-- > 0;)
		if (expired(sessions, &sessions->items[i], now))
			remove_at(sessions, i);
	if (sessions->count == sessions->max) {
		size_t oldest = 0;
		for (size_t i = 1; i < sessions->count; i++)
			if (sessions->items[i].last_seen < sessions->items[oldest].last_seen)
				oldest = i;
		remove_at(sessions, oldest);
	}
	sessions->items[sessions->count++] = entry;
	pthread_mutex_unlock(&sessions->lock);

done:
	/* The table has its own copy (and the name); this one is only wiped. */
	OPENSSL_cleanse(&entry, sizeof(entry));
	if (error < 0)
		plumb_session_release(out);
	return error;
}

int plumb_sessions_lookup(plumb_session *out, plumb_sessions *sessions, const char *id, size_t id_len, int64_t now)
{
	unsigned char digest[DIGEST_LEN];
	int error = 0;

	memset(out, 0, sizeof(*out));
	/* Not an id plumb makes: no need to look, and nothing longer than one is copied below. */
	if (id_len != PLUMB_SESSION_SECRET_LEN)
		return plumb_error_set(PLUMB_ENOTFOUND, "no such session");
	if ((error = digest_of(digest, id, id_len)) < 0)
		return error;
	pthread_mutex_lock(&sessions->lock);
	size_t i = find(sessions, digest);
	if (i == SIZE_MAX || expired(sessions, &sessions->items[i], now)) {
		error = plumb_error_set(PLUMB_ENOTFOUND, "no such session");
	} else {
		session_entry *entry = &sessions->items[i];
		entry->last_seen = now;
		memcpy(out->id, id, id_len);
		memcpy(out->csrf, entry->csrf, sizeof(out->csrf));
		out->name = plumb_xstrdup(entry->name);
		out->role = entry->role;
		out->created_at = entry->created_at;
	}
	pthread_mutex_unlock(&sessions->lock);
	return error;
}

int plumb_sessions_remove(plumb_sessions *sessions, const char *id, size_t id_len)
{
	unsigned char digest[DIGEST_LEN];
	int error = 0;

	if ((error = digest_of(digest, id, id_len)) < 0)
		return error;
	pthread_mutex_lock(&sessions->lock);
	size_t i = find(sessions, digest);
	if (i == SIZE_MAX)
		error = plumb_error_set(PLUMB_ENOTFOUND, "no such session");
	else
		remove_at(sessions, i);
	pthread_mutex_unlock(&sessions->lock);
	return error;
}

void plumb_sessions_clear(plumb_sessions *sessions)
{
	pthread_mutex_lock(&sessions->lock);
	while (sessions->count)
		remove_at(sessions, sessions->count - 1);
	pthread_mutex_unlock(&sessions->lock);
}

size_t plumb_sessions_count(plumb_sessions *sessions)
{
	pthread_mutex_lock(&sessions->lock);
	size_t count = sessions->count;
	pthread_mutex_unlock(&sessions->lock);
	return count;
}

void plumb_sessions_free(plumb_sessions *sessions)
{
	if (!sessions)
		return;
	plumb_sessions_clear(sessions);
	free(sessions->items);
	pthread_mutex_destroy(&sessions->lock);
	free(sessions);
}

void plumb_session_release(plumb_session *session)
{
	free(session->name);
	OPENSSL_cleanse(session, sizeof(*session));
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

int plumb_cookie_next(const char **value, size_t *len, const char **cursor, const char *name)
{
	size_t name_len = strlen(name);
	const char *p = *cursor;

	while (*p) {
		const char *end = strchrnul(p, ';');
		const char *start = p;
		p = *end ? end + 1 : end;
		while (start < end && is_space(*start))
			start++;
		const char *equals = memchr(start, '=', (size_t)(end - start));
		if (!equals)
			continue;
		const char *name_end = equals;
		while (name_end > start && is_space(name_end[-1]))
			name_end--;
		if ((size_t)(name_end - start) != name_len || memcmp(start, name, name_len) != 0)
			continue;
		const char *v = equals + 1, *v_end = end;
		while (v < v_end && is_space(*v))
			v++;
		while (v_end > v && is_space(v_end[-1]))
			v_end--;
		if (v_end - v >= 2 && *v == '"' && v_end[-1] == '"') {
			v++;
			v_end--;
		}
		*value = v;
		*len = (size_t)(v_end - v);
		*cursor = p;
		return 1;
	}
	*cursor = p;
	return 0;
}
