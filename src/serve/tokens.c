#include "util/common.h"
#include "util/hash.h"
#include "util/buf.h"
#include "util/utf8.h"
#include "serve/tokens.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

/* A tokens file is a few lines per person; anything near this is not one. */
#define TOKENS_FILE_MAX (1u << 20)
/* Names end up in audit records and error messages: keep them short enough to read. */
#define TOKEN_NAME_MAX 128
#define DIGEST_LEN 32

typedef struct {
	char *name;
	plumb_role role;
	unsigned char digest[DIGEST_LEN]; /* SHA-256 of the token */
} token_entry;

struct plumb_tokens {
	token_entry *items;
	size_t count;
	size_t capacity;
};

static const char *const role_names[] = { "none", "viewer", "operator", "admin" };

const char *plumb_role_name(plumb_role role)
{
	if ((size_t)role >= PLUMB_ARRAY_SIZE(role_names))
		return "none";
	return role_names[role];
}

/* Decode exactly 2 * DIGEST_LEN hex digits; -1 for anything else. */
static int decode_digest(unsigned char out[DIGEST_LEN], const char *hex, size_t len)
{
	if (len != 2 * DIGEST_LEN)
		return -1;
	for (size_t i = 0; i < DIGEST_LEN; i++) {
		int high = plumb_hex_value(hex[2 * i]), low = plumb_hex_value(hex[2 * i + 1]);
		if (high < 0 || low < 0)
			return -1;
		out[i] = (unsigned char)(high << 4 | low);
	}
	return 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Split line (of len bytes) into at most max fields; returns how many there were (possibly more than max). */
static size_t split_fields(const char **starts, size_t *lens, size_t max, const char *line, size_t len)
{
	size_t count = 0, i = 0;
	while (i < len) {
		while (i < len && is_blank(line[i]))
			i++;
		if (i == len)
			break;
		size_t start = i;
		while (i < len && !is_blank(line[i]))
			i++;
		if (count < max) {
			starts[count] = line + start;
			lens[count] = i - start;
		}
		count++;
	}
	return count;
}

static int check_name(const char *name, size_t len)
{
	if (len > TOKEN_NAME_MAX || !plumb_utf8_valid(name, len))
		return -1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return -1;
	return 0;
}

static plumb_role parse_role(const char *text, size_t len)
{
	for (size_t i = PLUMB_ROLE_VIEWER; i < PLUMB_ARRAY_SIZE(role_names); i++)
		if (strlen(role_names[i]) == len && memcmp(role_names[i], text, len) == 0)
			return (plumb_role)i;
	return PLUMB_ROLE_NONE;
}

static void add_problem(plumb_buf *problems, const char *path, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add_problem(plumb_buf *problems, const char *path, unsigned line, const char *fmt, ...)
{
	va_list ap;
	if (problems->len)
		plumb_buf_puts(problems, "; ");
	plumb_buf_printf(problems, "%s:%u: ", path, line);
	va_start(ap, fmt);
	plumb_buf_vprintf(problems, fmt, ap);
	va_end(ap);
}

/* Parse one non-comment line into tokens, or describe what is wrong with it in problems. */
static void parse_line(plumb_tokens *tokens, plumb_buf *problems, const char *path, unsigned line_no,
		       const char *line, size_t len)
{
	const char *fields[3];
	size_t lens[3];
	unsigned char digest[DIGEST_LEN];

	if (memchr(line, '\0', len)) {
		add_problem(problems, path, line_no, "contains a NUL byte");
		return;
	}
	size_t count = split_fields(fields, lens, 3, line, len);
	if (count != 3) {
		add_problem(problems, path, line_no, "expected \"NAME ROLE SHA256HEX\", found %zu field%s", count,
			    count == 1 ? "" : "s");
		return;
	}
	if (check_name(fields[0], lens[0]) < 0) {
		add_problem(problems, path, line_no,
			    "the name must be UTF-8 without control characters, at most %d bytes", TOKEN_NAME_MAX);
		return;
	}
	plumb_role role = parse_role(fields[1], lens[1]);
	if (role == PLUMB_ROLE_NONE) {
		add_problem(problems, path, line_no, "unknown role \"%.*s\" (expected viewer, operator or admin)",
			    (int)(lens[1] > 32 ? 32 : lens[1]), fields[1]);
		return;
	}
	/* The hash is not quoted back: it is close enough to a secret not to end up in logs. */
	if (decode_digest(digest, fields[2], lens[2]) < 0) {
		add_problem(problems, path, line_no, "the third field must be a SHA-256 in 64 hex digits");
		return;
	}
	for (size_t i = 0; i < tokens->count; i++) {
		const char *name = tokens->items[i].name;
		if (strlen(name) == lens[0] && memcmp(name, fields[0], lens[0]) == 0) {
			add_problem(problems, path, line_no, "the name \"%.*s\" is already used", (int)lens[0],
				    fields[0]);
			return;
		}
		if (memcmp(tokens->items[i].digest, digest, DIGEST_LEN) == 0) {
			add_problem(problems, path, line_no, "the same token is already listed as \"%s\"",
				    tokens->items[i].name);
			return;
		}
	}
	PLUMB_GROW(tokens->items, tokens->count, tokens->capacity);
	token_entry *entry = &tokens->items[tokens->count++];
	entry->name = plumb_xstrndup(fields[0], lens[0]);
	entry->role = role;
	memcpy(entry->digest, digest, DIGEST_LEN);
}

static int read_file(plumb_buf *out, const char *path)
{
	struct stat st;
	int error = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return plumb_error_set(PLUMB_ERROR, "cannot open tokens file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		error = plumb_error_set(PLUMB_ERROR, "cannot stat tokens file %s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		error = plumb_error_set(PLUMB_EINVALID, "tokens file %s is not a regular file", path);
		goto done;
	}
	if ((error = plumb_buf_read_fd(out, fd, TOKENS_FILE_MAX)) < 0)
		plumb_error_wrap(error, "tokens file %s", path);

done:
	close(fd);
	return error;
}

int plumb_tokens_load(plumb_tokens **out, const char *path)
{
	plumb_buf content = PLUMB_BUF_INIT, problems = PLUMB_BUF_INIT;
	plumb_tokens *tokens = plumb_xcalloc(1, sizeof(*tokens));
	int error = 0;

	*out = NULL;
	if ((error = read_file(&content, path)) < 0)
		goto done;

	const char *p = content.ptr, *end = content.ptr + content.len;
	for (unsigned line_no = 1; p < end; line_no++) {
		const char *newline = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = newline ? newline : end;
		const char *next = newline ? newline + 1 : end;
		if (line_end > p && line_end[-1] == '\r')
			line_end--;
		const char *first = p;
		while (first < line_end && is_blank(*first))
			first++;
		if (first < line_end && *first != '#')
			parse_line(tokens, &problems, path, line_no, first, (size_t)(line_end - first));
		p = next;
	}
	if (problems.len) {
		error = plumb_error_set(PLUMB_EINVALID, "%s", problems.ptr);
		goto done;
	}
	*out = tokens;
	tokens = NULL;

done:
	plumb_tokens_free(tokens);
	plumb_buf_release(&content);
	plumb_buf_release(&problems);
	return error;
}

plumb_role plumb_tokens_lookup(const plumb_tokens *tokens, const char *token, size_t token_len,
			       const char **name_out)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	size_t found = SIZE_MAX;

	*name_out = NULL;
	if (!tokens || !token)
		return PLUMB_ROLE_NONE;
	if (!EVP_Digest(token, token_len, digest, &digest_len, EVP_sha256(), NULL) || digest_len != DIGEST_LEN)
		return PLUMB_ROLE_NONE;
	/* No early exit: every entry is compared, whichever matched. Hashes are unique, so at most one does. */
	for (size_t i = 0; i < tokens->count; i++) {
		size_t same = (size_t)(CRYPTO_memcmp(digest, tokens->items[i].digest, DIGEST_LEN) == 0);
		found = (found & (same - 1)) | (i & (0 - same));
	}
	if (found == SIZE_MAX)
		return PLUMB_ROLE_NONE;
	*name_out = tokens->items[found].name;
	return tokens->items[found].role;
}

size_t plumb_tokens_count(const plumb_tokens *tokens)
{
	return tokens ? tokens->count : 0;
}

void plumb_tokens_free(plumb_tokens *tokens)
{
	if (!tokens)
		return;
	for (size_t i = 0; i < tokens->count; i++)
		free(tokens->items[i].name);
	free(tokens->items);
	free(tokens);
}
