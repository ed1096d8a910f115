#include "util/common.h"
#include "source/known_hosts.h"
#include "util/buf.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ctype.h>
#include <stdio.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

/* A known_hosts file of thousands of hosts is still far below this. */
#define KNOWN_HOSTS_MAX (16u << 20)
#define KEY_MAX 16384

char *plumb_known_hosts_name(const char *host, int port)
{
	if (port == 0 || port == 22)
		return plumb_xstrdup(host);
	return plumb_xprintf("[%s]:%d", host, port);
}

/* The key type a raw key starts with (an SSH string), as a new string; NULL if malformed. */
static char *key_type(const unsigned char *key, size_t len)
{
	if (len < 4)
		return NULL;
	size_t n = (size_t)key[0] << 24 | (size_t)key[1] << 16 | (size_t)key[2] << 8 | key[3];
	if (n == 0 || n > 64 || n > len - 4)
		return NULL;
	return plumb_xprintf("%.*s", (int)n, (const char *)key + 4);
}

static char *base64(const unsigned char *data, size_t len)
{
	char *out = plumb_xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* Decode standard base64 into out (at most max bytes); the decoded length, or -1. */
static int unbase64(unsigned char *out, size_t max, const char *text, size_t len)
{
	if (len == 0 || len % 4 || len / 4 * 3 > max)
		return -1;
	int n = EVP_DecodeBlock(out, (const unsigned char *)text, (int)len);
	if (n < 0)
		return -1;
	if (text[len - 1] == '=')
		n--;
	if (text[len - 2] == '=')
		n--;
	return n;
}

char *plumb_known_hosts_fingerprint(const unsigned char *key, size_t key_len)
{
	unsigned char digest[SHA256_DIGEST_LENGTH];
	SHA256(key, key_len, digest);
	char *b64 = base64(digest, sizeof(digest));
	size_t n = strlen(b64);
	while (n && b64[n - 1] == '=')
		b64[--n] = '\0';
	char *out = plumb_xprintf("SHA256:%s", b64);
	free(b64);
	return out;
}

char *plumb_known_hosts_line(const char *name, const unsigned char *key, size_t key_len)
{
	char *type = key_type(key, key_len);
	char *b64 = base64(key, key_len);
	char *line = plumb_xprintf("%s %s %s", name, type ? type : "unknown", b64);
	free(type);
	free(b64);
	return line;
}

/* "|1|SALT|HASH": HMAC-SHA1 of name keyed with the salt, both base64. */
static bool hashed_match(const char *pattern, size_t len, const char *name)
{
	unsigned char salt[64], hash[64], mac[EVP_MAX_MD_SIZE];
	unsigned mac_len = 0;
	const char *salt_text = pattern + 3;
	const char *bar = memchr(salt_text, '|', len - 3);
	if (!bar)
		return false;
	int salt_len = unbase64(salt, sizeof(salt), salt_text, (size_t)(bar - salt_text));
	int hash_len = unbase64(hash, sizeof(hash), bar + 1, (size_t)(pattern + len - bar - 1));
	if (salt_len <= 0 || hash_len != 20)
		return false;
	if (!HMAC(EVP_sha1(), salt, salt_len, (const unsigned char *)name, strlen(name), mac, &mac_len))
		return false;
	return mac_len == 20 && CRYPTO_memcmp(mac, hash, 20) == 0;
}

/* OpenSSH's wildcards: '*' any run, '?' any one character, anything else (even '[') itself, case folded. */
static bool wildcard_match(const char *pattern, size_t len, const char *name)
{
	if (len == 0)
		return *name == '\0';
	if (*pattern == '*') {
		for (const char *p = name;; p++) {
			if (wildcard_match(pattern + 1, len - 1, p))
				return true;
			if (!*p)
				return false;
		}
	}
	if (!*name)
		return false;
	if (*pattern != '?' && tolower((unsigned char)*pattern) != tolower((unsigned char)*name))
		return false;
	return wildcard_match(pattern + 1, len - 1, name + 1);
}

/* Whether the comma-separated patterns name the host: one matches and no negated one does. */
static bool hosts_match(const char *patterns, size_t len, const char *name)
{
	bool matched = false;
	const char *end = patterns + len;
	for (const char *p = patterns; p < end;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
		bool negated = n && *p == '!';
		const char *pattern = negated ? p + 1 : p;
		size_t pattern_len = negated ? n - 1 : n;
		bool hit;
		if (pattern_len > 3 && strncmp(pattern, "|1|", 3) == 0) {
			hit = hashed_match(pattern, pattern_len, name);
		} else {
			hit = wildcard_match(pattern, pattern_len, name);
		}
		if (hit && negated)
			return false;
		matched = matched || hit;
		p = comma ? comma + 1 : end;
	}
	return matched;
}

typedef struct {
	bool found;   /* a line for the host */
	bool matched; /* with this key */
	bool changed; /* with another key of its type */
	bool revoked;
} lookup;

static void check_line(lookup *result, char *line, const char *name, const char *type, const unsigned char *key,
		       size_t key_len)
{
	unsigned char decoded[KEY_MAX];
	char *fields[4] = { NULL };
	size_t count = 0;
	bool revoked = false;

	for (char *p = line; *p && count < 4;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			break;
		fields[count++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	size_t first = 0;
	if (count && fields[0][0] == '@') {
		if (strcmp(fields[0], "@revoked") != 0)
			return; /* @cert-authority: plumb checks plain keys only */
		revoked = true;
		first = 1;
	}
	if (count < first + 3 || !hosts_match(fields[first], strlen(fields[first]), name))
		return;
	int n = unbase64(decoded, sizeof(decoded), fields[first + 2], strlen(fields[first + 2]));
	if (n < 0)
		return; /* not a key: skipped, as ssh does */
	bool same = (size_t)n == key_len && memcmp(decoded, key, key_len) == 0;
	if (revoked) {
		result->revoked = result->revoked || same;
		return;
	}
	result->found = true;
	if (same)
		result->matched = true;
	else if (type && strcmp(fields[first + 1], type) == 0)
		result->changed = true;
}

static int check_file(lookup *result, const char *file, const char *name, const char *type, const unsigned char *key,
		      size_t key_len)
{
	plumb_buf text = PLUMB_BUF_INIT;
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return plumb_error_set(PLUMB_ERROR, "cannot read %s: %s", file, strerror(errno));
	}
	int error = plumb_buf_read_fd(&text, fd, KNOWN_HOSTS_MAX);
	close(fd);
	if (error < 0) {
		error = plumb_error_wrap(error, "%s", file);
		goto done;
	}
	for (char *line = text.ptr; line && *line;) {
		char *next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		check_line(result, line, name, type, key, key_len);
		line = next;
	}
done:
	plumb_buf_release(&text);
	return error;
}

int plumb_known_hosts_check(plumb_known_host *out, const char *const *files, size_t count, const char *name,
			    const unsigned char *key, size_t key_len)
{
	char *type = key_type(key, key_len);
	plumb_known_host verdict = PLUMB_KNOWN_HOST_UNKNOWN;
	bool decided = false;
	int error = 0;

	for (size_t i = 0; i < count; i++) {
		lookup result = { false, false, false, false };
		if ((error = check_file(&result, files[i], name, type, key, key_len)) < 0)
			goto done;
		if (result.revoked || result.changed) {
			verdict = result.revoked ? PLUMB_KNOWN_HOST_REVOKED : PLUMB_KNOWN_HOST_CHANGED;
			break;
		}
		if (!decided && result.found) {
			verdict = result.matched ? PLUMB_KNOWN_HOST_MATCH : PLUMB_KNOWN_HOST_OTHER;
			decided = true;
		}
	}
	*out = verdict;
done:
	free(type);
	return error;
}

int plumb_known_hosts_add(const char *file, const char *line)
{
	char *dir = plumb_xstrdup(file);
	char *slash = strrchr(dir, '/');
	int error = 0;
	if (slash && slash != dir) {
		*slash = '\0';
		error = plumb_fs_make_directories(dir, 0700);
	}
	free(dir);
	if (error < 0)
		return error;
	int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return plumb_error_set(PLUMB_ERROR, "cannot write %s: %s", file, strerror(errno));
	char *text = plumb_xprintf("%s\n", line);
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	if (n != (ssize_t)len || fsync(fd) < 0)
		error = plumb_error_set(PLUMB_ERROR, "cannot write %s: %s", file, strerror(errno ? errno : EIO));
	close(fd);
	free(text);
	return error;
}
