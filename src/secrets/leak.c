#include "util/common.h"
#include "secrets/leak.h"
#include "util/buf.h"

#include <fnmatch.h>

/* git's own test for binary content: a NUL among the first bytes. */
#define BINARY_PROBE 8000
/* The allow file is a short list of globs; anything bigger is a mistake. */
#define ALLOW_FILE_MAX (1u << 20)
/* A private key's body starts this close to its "-----BEGIN" line (PEM and PGP headers come first). */
#define KEY_BODY_WINDOW 512
/* generic-secret: how long, how random and how varied a value must be to count. */
#define GENERIC_MIN_LENGTH 12
#define GENERIC_MIN_ENTROPY 3.5
#define GENERIC_MIN_CLASSES 2

enum {
	RULE_PRIVATE_KEY,
	RULE_AGE_SECRET_KEY,
	RULE_AWS_ACCESS_KEY_ID,
	RULE_AWS_SECRET_ACCESS_KEY,
	RULE_GCP_API_KEY,
	RULE_GITHUB_TOKEN,
	RULE_GITLAB_TOKEN,
	RULE_SLACK_TOKEN,
	RULE_SLACK_WEBHOOK,
	RULE_TELEGRAM_BOT_TOKEN,
	RULE_STRIPE_KEY,
	RULE_JWT,
	RULE_GENERIC_SECRET,
	RULE_COUNT
};

/* One line each, so that plumb check can list them. */
static const plumb_leak_rule rules[RULE_COUNT] = {
	[RULE_PRIVATE_KEY] = { "private-key", "a PEM or PGP private key: \"-----BEGIN ... PRIVATE KEY-----\", a body" },
	[RULE_AGE_SECRET_KEY] = { "age-secret-key", "an age identity: \"AGE-SECRET-KEY-1\", 58 bech32 characters" },
	[RULE_AWS_ACCESS_KEY_ID] = { "aws-access-key-id", "an AWS access key id: \"AKIA\" or \"ASIA\", 16 more" },
	[RULE_AWS_SECRET_ACCESS_KEY] = { "aws-secret-access-key", "40 characters under aws_secret_access_key" },
	[RULE_GCP_API_KEY] = { "gcp-api-key", "a Google API key: \"AIza\", 35 more" },
	[RULE_GITHUB_TOKEN] = { "github-token", "a GitHub token: \"gh[pousr]_\", 36 more; \"github_pat_\", 82 more" },
	[RULE_GITLAB_TOKEN] = { "gitlab-token", "a GitLab access token: \"glpat-\", 20 or more" },
	[RULE_SLACK_TOKEN] = { "slack-token", "a Slack token: \"xox[baprs]-\", 10 or more" },
	[RULE_SLACK_WEBHOOK] = { "slack-webhook", "a Slack webhook: https://hooks.slack.com/services/T.../B.../..." },
	[RULE_TELEGRAM_BOT_TOKEN] = { "telegram-bot-token", "a Telegram bot token: 8 to 10 digits, \":AA\", 33 more" },
	[RULE_STRIPE_KEY] = { "stripe-key", "a live Stripe key: \"sk_live_\" or \"rk_live_\", 24 or more" },
	[RULE_JWT] = { "jwt", "a JSON Web Token: three base64url segments, the first two starting \"eyJ\"" },
	[RULE_GENERIC_SECRET] = { "generic-secret", "a random-looking value of a key like password, secret or token" },
};

const plumb_leak_rule *plumb_leak_rules(size_t *count)
{
	*count = RULE_COUNT;
	return rules;
}

static int rule_by_name(const char *name, size_t len)
{
	for (int i = 0; i < RULE_COUNT; i++)
		if (strlen(rules[i].name) == len && !memcmp(rules[i].name, name, len))
			return i;
	return -1;
}

/* --- characters ---------------------------------------------------------------------------- */

enum {
	UPPER = 1,
	LOWER = 2,
	DIGIT = 4,
	UNDERSCORE = 8,
	DASH = 16,
	PLUS_SLASH = 32,
	BECH32 = 64, /* the upper-case bech32 alphabet, without 1, B, I and O */
	ALNUM = UPPER | LOWER | DIGIT,
	BASE64 = ALNUM | PLUS_SLASH,
	BASE64URL = ALNUM | UNDERSCORE | DASH,
};

static int in_class(unsigned cls, unsigned char c)
{
	if (cls & BECH32)
		return c && strchr("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", c) != NULL;
	return ((cls & UPPER) && c >= 'A' && c <= 'Z') || ((cls & LOWER) && c >= 'a' && c <= 'z') ||
	       ((cls & DIGIT) && c >= '0' && c <= '9') || ((cls & UNDERSCORE) && c == '_') ||
	       ((cls & DASH) && c == '-') || ((cls & PLUS_SLASH) && (c == '+' || c == '/'));
}

static int is_alnum(unsigned char c)
{
	return in_class(ALNUM, c);
}

static int is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* How many characters of cls follow from at; stops counting at limit so a hostile run costs little. */
static size_t run_length(const char *text, size_t len, size_t at, unsigned cls, size_t limit)
{
	size_t n = 0;
	while (at + n < len && n < limit && in_class(cls, (unsigned char)text[at + n]))
		n++;
	return n;
}

static int starts_with(const char *text, size_t len, size_t at, const char *literal)
{
	size_t n = strlen(literal);
	return at <= len && len - at >= n && !memcmp(text + at, literal, n);
}

/* --- token formats -------------------------------------------------------------------------- */

typedef struct {
	size_t start, end; /* the secret's bytes in the text */
	size_t keep;       /* how many of its first bytes are the format's public prefix, shown by the mask */
	int rule;
} span;

typedef struct {
	span *items;
	size_t count;
	size_t capacity;
} spans;

typedef struct {
	int rule;
	const char *literal; /* every match holds it: found with memmem, then checked */
	/* A plain token: literal, then min to max (0: no limit) characters of cls, a word of its own. */
	unsigned cls;
	size_t min, max;
	/* Any other format: whether literal at at belongs to a match, and where the match lies. */
	int (*check)(span *out, const char *text, size_t len, size_t at);
} matcher;

static int check_token(span *out, const matcher *m, const char *text, size_t len, size_t at)
{
	size_t body = at + strlen(m->literal);
	size_t n = run_length(text, len, body, m->cls, m->max ? m->max + 1 : SIZE_MAX);

	if (at > 0 && is_alnum((unsigned char)text[at - 1]))
		return 0;
	if (n < m->min || (m->max && n > m->max) || (body + n < len && is_alnum((unsigned char)text[body + n])))
		return 0;
	*out = (span){ at, body + n, strlen(m->literal), m->rule };
	return 1;
}


/* At *p: lead, then at least min characters of cls; moves *p past them. */
static int take(const char *text, size_t len, size_t *p, const char *lead, unsigned cls, size_t min)
{
	size_t n;
	if (!starts_with(text, len, *p, lead) || (n = run_length(text, len, *p + strlen(lead), cls, SIZE_MAX)) < min)
		return 0;
	*p += strlen(lead) + n;
	return 1;
}

/*
 * "-----BEGIN [WORDS ]PRIVATE KEY[ BLOCK]-----" ending its line (or an
 * escaped "\n", as in a JSON service account file), with a base64 body
 * close below: a bare header in code or prose is no key.
 */
static int check_private_key(span *out, const char *text, size_t len, size_t at)
{
	size_t words = at + strlen("-----BEGIN "), n = 0, end, body, limit, run = 0;

	while (words + n < len && n < 64 &&
	       (in_class(UPPER | DIGIT, (unsigned char)text[words + n]) || text[words + n] == ' '))
		n++;
	if (!((n >= 11 && !memcmp(text + words + n - 11, "PRIVATE KEY", 11)) ||
	      (n >= 17 && !memcmp(text + words + n - 17, "PRIVATE KEY BLOCK", 17))) ||
	    !starts_with(text, len, words + n, "-----"))
		return 0;
	end = body = words + n + 5;
	if (starts_with(text, len, body, "\r"))
		body++;
	if (starts_with(text, len, body, "\n"))
		body++;
	else if (starts_with(text, len, body, "\\n"))
		body += 2;
	else
		return 0;
	limit = len - body > KEY_BODY_WINDOW ? body + KEY_BODY_WINDOW : len;
	for (; body < limit && run < 40; body++)
		run = in_class(BASE64, (unsigned char)text[body]) ? run + 1 : 0;
	if (run < 40)
		return 0;
	*out = (span){ at, end, end - at, RULE_PRIVATE_KEY };
	return 1;
}

static int check_slack_webhook(span *out, const char *text, size_t len, size_t at)
{
	size_t keep = strlen("https://hooks.slack.com/services/"), p = at + keep;

	if (!take(text, len, &p, "T", UPPER | DIGIT, 8) || !take(text, len, &p, "/B", UPPER | DIGIT, 8) ||
	    !take(text, len, &p, "/", ALNUM, 16))
		return 0;
	*out = (span){ at, p, keep, RULE_SLACK_WEBHOOK };
	return 1;
}

/* "123456789:AA" and 33 more: the literal is the ":AA", the digits before it belong to the match. */
static int check_telegram(span *out, const char *text, size_t len, size_t at)
{
	size_t digits = 0;

	while (digits < 11 && digits < at && in_class(DIGIT, (unsigned char)text[at - digits - 1]))
		digits++;
	if (digits < 8 || digits > 10 || (at > digits && is_alnum((unsigned char)text[at - digits - 1])))
		return 0;
	if (run_length(text, len, at + 3, BASE64URL, 34) != 33)
		return 0;
	*out = (span){ at - digits, at + 3 + 33, 0, RULE_TELEGRAM_BOT_TOKEN };
	return 1;
}

static int check_jwt(span *out, const char *text, size_t len, size_t at)
{
	size_t p = at;

	if (at > 0 && in_class(BASE64URL, (unsigned char)text[at - 1]))
		return 0;
	if (!take(text, len, &p, "", BASE64URL, 10) || !take(text, len, &p, ".eyJ", BASE64URL, 7) ||
	    !take(text, len, &p, ".", BASE64URL, 10))
		return 0;
	*out = (span){ at, p, strlen("eyJ"), RULE_JWT };
	return 1;
}

static const matcher matchers[] = {
	{ RULE_PRIVATE_KEY, "-----BEGIN ", 0, 0, 0, check_private_key },
	{ RULE_AGE_SECRET_KEY, "AGE-SECRET-KEY-1", BECH32, 58, 58, NULL },
	{ RULE_AWS_ACCESS_KEY_ID, "AKIA", UPPER | DIGIT, 16, 16, NULL },
	{ RULE_AWS_ACCESS_KEY_ID, "ASIA", UPPER | DIGIT, 16, 16, NULL },
	{ RULE_GCP_API_KEY, "AIza", BASE64URL, 35, 35, NULL },
	{ RULE_GITHUB_TOKEN, "ghp_", ALNUM, 36, 36, NULL },
	{ RULE_GITHUB_TOKEN, "gho_", ALNUM, 36, 36, NULL },
	{ RULE_GITHUB_TOKEN, "ghu_", ALNUM, 36, 36, NULL },
	{ RULE_GITHUB_TOKEN, "ghs_", ALNUM, 36, 36, NULL },
	{ RULE_GITHUB_TOKEN, "ghr_", ALNUM, 36, 36, NULL },
	{ RULE_GITHUB_TOKEN, "github_pat_", ALNUM | UNDERSCORE, 82, 82, NULL },
	/* 20 characters is the classic format; newer GitLab versions make them longer. */
	{ RULE_GITLAB_TOKEN, "glpat-", BASE64URL, 20, 0, NULL },
	{ RULE_SLACK_TOKEN, "xoxb-", ALNUM | DASH, 10, 0, NULL },
	{ RULE_SLACK_TOKEN, "xoxa-", ALNUM | DASH, 10, 0, NULL },
	{ RULE_SLACK_TOKEN, "xoxp-", ALNUM | DASH, 10, 0, NULL },
	{ RULE_SLACK_TOKEN, "xoxr-", ALNUM | DASH, 10, 0, NULL },
	{ RULE_SLACK_TOKEN, "xoxs-", ALNUM | DASH, 10, 0, NULL },
	{ RULE_SLACK_WEBHOOK, "https://hooks.slack.com/services/", 0, 0, 0, check_slack_webhook },
	{ RULE_TELEGRAM_BOT_TOKEN, ":AA", 0, 0, 0, check_telegram },
	{ RULE_STRIPE_KEY, "sk_live_", ALNUM, 24, 0, NULL },
	{ RULE_STRIPE_KEY, "rk_live_", ALNUM, 24, 0, NULL },
	{ RULE_JWT, "eyJ", 0, 0, 0, check_jwt },
};

/* The first match of m at or after from. */
static int find_next(span *out, const matcher *m, const char *text, size_t len, size_t from)
{
	size_t literal_len = strlen(m->literal);

	while (from < len) {
		const char *hit = memmem(text + from, len - from, m->literal, literal_len);
		if (!hit)
			return 0;
		size_t at = (size_t)(hit - text);
		if (m->check ? m->check(out, text, len, at) : check_token(out, m, text, len, at)) {
			out->rule = m->rule;
			return 1;
		}
		from = at + 1;
	}
	return 0;
}

static void add_span(spans *found, span s)
{
	PLUMB_GROW(found->items, found->count, found->capacity);
	found->items[found->count++] = s;
}

/* --- assignments: generic-secret and aws-secret-access-key ------------------------------------ */

/* Key names whose values are secrets, matched against the end of a key lower-cased without "_", "-" and ".". */
static const char *const secret_names[] = {
	"password", "passwd",     "pass",      "pwd",          "secret",    "token",       "apikey",
	"accesskey", "secretkey", "privatekey", "clientsecret", "authtoken", "credentials",
};

/* Values that refer to a secret kept elsewhere, or stand in for one. */
static const char *const reference_prefixes[] = {
	"$", "{{", "<", "%(", "ENC[", "vault:", "!vault", "age1", "/", "file:", "env:",
};

typedef struct {
	size_t key_start, key_end;
	size_t value_start, value_end; /* without its quotes */
	size_t next;                   /* where to look for the next separator, set even when there is no assignment */
} assignment;

/*
 * Whether the ":" or "=" at i of the line [start, end) assigns a value to a
 * key: KEY: VALUE (YAML), "KEY": "VALUE" (JSON), KEY=VALUE (env, shell,
 * INI), KEY = "VALUE" (TOML), KEY := "VALUE" (Go).
 */
static int parse_assignment(assignment *out, const char *text, size_t start, size_t end, size_t i)
{
	size_t k = i, v = i + 1;
	char quote = 0;

	out->next = i + 1;
	if (text[i] == ':' && v < end && text[v] == '=') {
		v++;
	} else if (text[i] == ':' && v < end && !is_blank((unsigned char)text[v]) && !strchr("\"'", text[v])) {
		return 0; /* "https://", "12:30": YAML wants a blank after the colon of a mapping */
	} else if (text[i] == '=' && v < end && text[v] == '=') {
		out->next = v + 1; /* "==" compares */
		return 0;
	} else if (text[i] == '=' && i > start && strchr("!<>", text[i - 1]) && text[i - 1]) {
		return 0;
	}

	while (k > start && (text[k - 1] == ' ' || text[k - 1] == '\t'))
		k--;
	if (k > start && (text[k - 1] == '"' || text[k - 1] == '\''))
		quote = text[--k];
	out->key_end = k;
	while (k > start && (in_class(BASE64URL, (unsigned char)text[k - 1]) || text[k - 1] == '.'))
		k--;
	out->key_start = k;
	if (k == out->key_end || (quote && (k == start || text[k - 1] != quote)))
		return 0;

	while (v < end && (text[v] == ' ' || text[v] == '\t'))
		v++;
	if (v < end && (text[v] == '"' || text[v] == '\'')) {
		quote = text[v];
		out->value_start = ++v;
		while (v < end && text[v] != quote)
			v += text[v] == '\\' && quote == '"' ? 2 : 1;
		if (v >= end) {
			out->next = end; /* an unterminated quote: nothing more to trust on this line */
			return 0;
		}
		out->value_end = v;
		out->next = v + 1;
	} else if (v < end && (text[v] == '{' || text[v] == '[')) {
		out->next = v + 1; /* a flow mapping or list: its own keys follow */
		return 0;
	} else {
		out->value_start = v;
		while (v < end && !is_blank((unsigned char)text[v]) && !strchr(",;)}]\"'", text[v]))
			v++;
		out->value_end = out->next = v;
	}
	return 1;
}

/* log2 without libm, which plumb does not link: x = m * 2^e with m in [1, 2), ln m = 2 atanh((m - 1) / (m + 1)). */
static double log2_of(double x)
{
	int e = 0;
	while (x >= 2) {
		x /= 2;
		e++;
	}
	while (x < 1) {
		x *= 2;
		e--;
	}
	double y = (x - 1) / (x + 1), term = y, sum = 0;
	for (int k = 1; k < 30; k += 2) {
		sum += term / k;
		term *= y * y;
	}
	return e + 2 * sum / 0.69314718055994530942;
}

/* Shannon entropy, in bits per character. */
static double entropy(const char *s, size_t n)
{
	size_t counts[256] = { 0 };
	double bits = 0;

	for (size_t i = 0; i < n; i++)
		counts[(unsigned char)s[i]]++;
	for (int c = 0; c < 256; c++)
		if (counts[c])
			bits -= (double)counts[c] / n * log2_of((double)counts[c] / n);
	return bits;
}

/*
 * How many of lower case, upper case, digit and symbol s mixes. "-", "_"
 * and "." join the words of names (db-password): they are no symbol.
 */
static int character_classes(const char *s, size_t n)
{
	unsigned seen = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (in_class(LOWER, c))
			seen |= 1;
		else if (in_class(UPPER, c))
			seen |= 2;
		else if (in_class(DIGIT, c))
			seen |= 4;
		else if (c != '-' && c != '_' && c != '.')
			seen |= 8;
	}
	return (seen & 1) + !!(seen & 2) + !!(seen & 4) + !!(seen & 8);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static int is_secret_name(const char *name)
{
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(secret_names); i++)
		if (ends_with(name, secret_names[i]))
			return 1;
	return 0;
}

/*
 * A name in the style of Kubernetes and DNS (grafana-admin-token-2024): lower
 * case words joined by "-", one of them a word of letters. It names a
 * thing, such as the Secret a File takes its content from; generated values
 * in this alphabet (x9fk-2kd9-sl3k) have no such word.
 */
static int is_kebab_name(const char *value, size_t n)
{
	size_t letters = 0;
	int has_word = 0, has_dash = 0, word_is_letters = 1;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = i < n ? (unsigned char)value[i] : '-';
		if (c == '-') {
			has_dash |= i < n;
			has_word |= word_is_letters && letters >= 3;
			letters = 0;
			word_is_letters = 1;
		} else if (in_class(LOWER, c)) {
			letters++;
		} else if (in_class(DIGIT, c)) {
			word_is_letters = 0;
		} else {
			return 0;
		}
	}
	return has_dash && has_word;
}

static int is_generic_secret(const char *value, size_t n)
{
	if (n < GENERIC_MIN_LENGTH || is_kebab_name(value, n))
		return 0;
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(reference_prefixes); i++)
		if (starts_with(value, n, 0, reference_prefixes[i]))
			return 0;
	for (size_t i = 0; i < n; i++)
		if (is_blank((unsigned char)value[i]))
			return 0;
	return character_classes(value, n) >= GENERIC_MIN_CLASSES && entropy(value, n) >= GENERIC_MIN_ENTROPY;
}

/* A value that a format rule recognises is that rule's finding, not a generic one. */
static int holds_token(const char *value, size_t n)
{
	span s;
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(matchers); i++)
		if (find_next(&s, &matchers[i], value, n, 0))
			return 1;
	return 0;
}

static void check_assignment(spans *found, const char *text, const assignment *a)
{
	const char *value = text + a->value_start;
	size_t n = a->value_end - a->value_start;
	char key[64];
	size_t k = sizeof(key) - 1;

	/* The key's last characters are what count: "DB_PASSWORD" is "dbpassword". */
	key[k] = '\0';
	for (size_t i = a->key_end; i > a->key_start && k > 0; i--) {
		char c = text[i - 1];
		if (c != '_' && c != '-' && c != '.')
			key[--k] = in_class(UPPER, (unsigned char)c) ? (char)(c - 'A' + 'a') : c;
	}
	if (ends_with(key + k, "secretaccesskey") && n == 40 && run_length(value, n, 0, BASE64, n) == n)
		add_span(found, (span){ a->value_start, a->value_end, 0, RULE_AWS_SECRET_ACCESS_KEY });
	else if (is_secret_name(key + k) && is_generic_secret(value, n) && !holds_token(value, n))
		add_span(found, (span){ a->value_start, a->value_end, 0, RULE_GENERIC_SECRET });
}

static void scan_assignments(spans *found, const char *text, size_t len)
{
	for (size_t start = 0; start < len;) {
		const char *newline = memchr(text + start, '\n', len - start);
		size_t end = newline ? (size_t)(newline - text) : len;
		for (size_t i = start; i < end;) {
			assignment a;
			if (text[i] != ':' && text[i] != '=') {
				i++;
				continue;
			}
			if (parse_assignment(&a, text, start, end, i))
				check_assignment(found, text, &a);
			i = a.next;
		}
		start = end + 1;
	}
}

/* --- findings ----------------------------------------------------------------------------------- */

static int compare_spans(const void *a, const void *b)
{
	const span *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->rule - y->rule;
}

/* Append a finding for each span (sorted by start) whose line lacks the annotation. */
static void report(plumb_leaks *out, const char *path, const char *text, size_t len, const spans *found)
{
	size_t counted = 0, line_start = 0, line_end = 0;
	unsigned line = 1;
	int allowed = 0;

	for (size_t i = 0; i < found->count; i++) {
		const span *s = &found->items[i];
		if (i == 0 || s->start >= line_end) {
			const char *newline;
			while ((newline = memchr(text + counted, '\n', s->start - counted)) != NULL) {
				line++;
				counted = (size_t)(newline - text) + 1;
			}
			line_start = counted;
			newline = memchr(text + s->start, '\n', len - s->start);
			line_end = newline ? (size_t)(newline - text) : len;
			allowed = memmem(text + line_start, line_end - line_start, PLUMB_LEAK_ANNOTATION,
					 strlen(PLUMB_LEAK_ANNOTATION)) != NULL;
		}
		if (allowed)
			continue;
		PLUMB_GROW(out->items, out->count, out->capacity);
		plumb_leak *leak = &out->items[out->count++];
		leak->path = plumb_xstrdup(path);
		leak->line = line;
		leak->column = (unsigned)(s->start - line_start + 1);
		leak->rule = rules[s->rule].name;
		leak->masked = plumb_xprintf("%.*s****", (int)s->keep, text + s->start);
	}
}

void plumb_leak_scan_text(plumb_leaks *out, const char *path, const char *text, size_t len)
{
	spans found = { NULL, 0, 0 };
	span s;

	if (!len || memchr(text, '\0', len < BINARY_PROBE ? len : BINARY_PROBE))
		return;
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(matchers); i++)
		for (size_t from = 0; find_next(&s, &matchers[i], text, len, from); from = s.end)
			add_span(&found, s);
	scan_assignments(&found, text, len);
	if (found.count > 1)
		qsort(found.items, found.count, sizeof(*found.items), compare_spans);
	report(out, path, text, len, &found);
	free(found.items);
}

void plumb_leaks_release(plumb_leaks *leaks)
{
	for (size_t i = 0; i < leaks->count; i++) {
		free(leaks->items[i].path);
		free(leaks->items[i].masked);
	}
	free(leaks->items);
	memset(leaks, 0, sizeof(*leaks));
}

void plumb_leaks_print(const plumb_leaks *leaks, FILE *to)
{
	for (size_t i = 0; i < leaks->count; i++)
		fprintf(to, "%s:%u: %s %s\n", leaks->items[i].path, leaks->items[i].line, leaks->items[i].rule,
			leaks->items[i].masked);
}

/* --- a whole commit, and the allow file ---------------------------------------------------------- */

typedef struct {
	char *pattern; /* a glob, for a folder without its trailing "/" */
	int folder;    /* the entry ended in "/": it covers everything below a folder that matches */
	int rule;      /* the one rule allowed, or -1 for every rule */
} allow_entry;

typedef struct {
	allow_entry *items;
	size_t count;
	size_t capacity;
} allow_list;

static int entry_covers(const allow_entry *entry, const char *path)
{
	if (!entry->folder)
		return fnmatch(entry->pattern, path, FNM_PATHNAME) == 0;
	char *prefix = plumb_xstrdup(path);
	int covered = 0;
	for (char *slash = strchr(prefix, '/'); slash && !covered; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		covered = fnmatch(entry->pattern, prefix, FNM_PATHNAME) == 0;
		*slash = '/';
	}
	free(prefix);
	return covered;
}

/* Whether the allow list accepts rule's findings in path; rule -1 asks for an entry that accepts them all. */
static int is_allowed(const allow_list *allow, const char *path, int rule)
{
	for (size_t i = 0; i < allow->count; i++)
		if ((allow->items[i].rule < 0 || allow->items[i].rule == rule) && entry_covers(&allow->items[i], path))
			return 1;
	return 0;
}

static size_t skip_blanks(const char *s, size_t n, size_t i)
{
	while (i < n && is_blank((unsigned char)s[i]))
		i++;
	return i;
}

static size_t skip_word(const char *s, size_t n, size_t i)
{
	while (i < n && !is_blank((unsigned char)s[i]))
		i++;
	return i;
}

/* One line of the allow file: "PATTERN [RULE] [# comment]". */
static void parse_allow_line(allow_list *out, const char *s, size_t n, unsigned line, plumb_diags *diags)
{
	plumb_position pos = { PLUMB_LEAK_ALLOW_FILE, line, 0 };
	size_t pattern = skip_blanks(s, n, 0), pattern_end = skip_word(s, n, pattern);
	size_t rule_at = skip_blanks(s, n, pattern_end), rule_end = skip_word(s, n, rule_at);
	size_t rest = skip_blanks(s, n, rule_end);
	int rule = -1;

	if (pattern == n || s[pattern] == '#')
		return;
	if (rule_at < n && s[rule_at] != '#') {
		if (rest < n && s[rest] != '#') {
			pos.column = (unsigned)rest + 1;
			plumb_diags_add(diags, pos, "unexpected \"%.*s\": an entry is PATTERN or PATTERN RULE",
					(int)(skip_word(s, n, rest) - rest), s + rest);
			return;
		}
		if ((rule = rule_by_name(s + rule_at, rule_end - rule_at)) < 0) {
			plumb_buf known = PLUMB_BUF_INIT;
			for (int i = 0; i < RULE_COUNT; i++)
				plumb_buf_printf(&known, "%s%s", i ? ", " : "", rules[i].name);
			pos.column = (unsigned)rule_at + 1;
			plumb_diags_add(diags, pos, "unknown rule \"%.*s\" (known: %s)", (int)(rule_end - rule_at),
					s + rule_at, known.ptr);
			plumb_buf_release(&known);
			return;
		}
	}
	PLUMB_GROW(out->items, out->count, out->capacity);
	allow_entry *entry = &out->items[out->count++];
	entry->folder = s[pattern_end - 1] == '/';
	while (pattern_end > pattern && s[pattern_end - 1] == '/')
		pattern_end--;
	if (s[pattern] == '/' && pattern_end > pattern + 1)
		pattern++; /* "/vendor/" as in .gitignore: every pattern is from the top anyway */
	entry->pattern = plumb_xstrndup(s + pattern, pattern_end - pattern);
	entry->rule = rule;
}

static int read_allow_file(allow_list *out, plumb_source *source, const char *commit, plumb_diags *diags)
{
	plumb_source_entry entry;
	plumb_buf text = PLUMB_BUF_INIT;
	unsigned line = 0;
	int error;

	if ((error = plumb_source_stat(&entry, source, commit, PLUMB_LEAK_ALLOW_FILE)) == PLUMB_ENOTFOUND) {
		plumb_error_clear();
		return 0;
	}
	if (error < 0)
		return error;
	if (entry.type != PLUMB_ENTRY_FILE && entry.type != PLUMB_ENTRY_EXECUTABLE) {
		plumb_diags_add(diags, (plumb_position){ PLUMB_LEAK_ALLOW_FILE, 0, 0 }, "not a regular file: ignored");
		return 0;
	}
	if ((error = plumb_source_read_blob(&text, source, entry.id, ALLOW_FILE_MAX)) < 0)
		goto done;
	for (size_t start = 0; start < text.len;) {
		const char *newline = memchr(text.ptr + start, '\n', text.len - start);
		size_t end = newline ? (size_t)(newline - text.ptr) : text.len;
		parse_allow_line(out, text.ptr + start, end - start, ++line, diags);
		start = end + 1;
	}
done:
	plumb_buf_release(&text);
	return error;
}

typedef struct {
	plumb_source *source;
	plumb_leaks *out;
	const allow_list *allow;
	plumb_buf blob; /* reused from one file to the next */
} commit_scan;

static int scan_entry(const plumb_source_entry *entry, void *payload)
{
	commit_scan *scan = payload;
	size_t size, first = scan->out->count, kept = first;
	int error;

	if (entry->type != PLUMB_ENTRY_FILE && entry->type != PLUMB_ENTRY_EXECUTABLE)
		return 0;
	if (is_allowed(scan->allow, entry->path, -1))
		return 0;
	if ((error = plumb_source_blob_size(&size, scan->source, entry->id)) < 0)
		return error;
	if (size > PLUMB_LEAK_MAX_BLOB)
		return 0;
	plumb_buf_clear(&scan->blob);
	if ((error = plumb_source_read_blob(&scan->blob, scan->source, entry->id, PLUMB_LEAK_MAX_BLOB)) < 0)
		return error;
	plumb_leak_scan_text(scan->out, entry->path, scan->blob.ptr, scan->blob.len);

	/* Drop what a rule-specific entry accepts. */
	for (size_t i = first; i < scan->out->count; i++) {
		plumb_leak *leak = &scan->out->items[i];
		if (is_allowed(scan->allow, leak->path, rule_by_name(leak->rule, strlen(leak->rule)))) {
			free(leak->path);
			free(leak->masked);
		} else {
			scan->out->items[kept++] = *leak;
		}
	}
	scan->out->count = kept;
	return 0;
}

static int compare_leaks(const void *a, const void *b)
{
	const plumb_leak *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	if (c)
		return c;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return strcmp(x->rule, y->rule);
}

int plumb_leak_scan_commit(plumb_leaks *out, plumb_source *source, const char *commit, plumb_diags *diags)
{
	allow_list allow = { NULL, 0, 0 };
	commit_scan scan = { source, out, &allow, PLUMB_BUF_INIT };
	int error;

	if ((error = read_allow_file(&allow, source, commit, diags)) < 0)
		goto done;
	if ((error = plumb_source_walk(source, commit, "", scan_entry, &scan)) < 0)
		goto done;
	if (out->count > 1)
		qsort(out->items, out->count, sizeof(*out->items), compare_leaks);
done:
	for (size_t i = 0; i < allow.count; i++)
		free(allow.items[i].pattern);
	free(allow.items);
	plumb_buf_release(&scan.blob);
	return error;
}
