/*
 * Flux's post-build substitution, as kustomize-controller runs it: drone's
 * envsubst over each document's text. The parser follows envsubst's
 * (parse/parse.go and parse/scan.go there) step for step, so that what it
 * takes, leaves and refuses is what Flux does; each function is evaluated
 * where it is parsed, as envsubst evaluates the tree it built.
 */
#include "util/common.h"
#include "load/substitute.h"

#include <jansson.h>
#include <stdlib.h>

/* One document being substituted. */
typedef struct {
	const char *text;
	size_t len;
	size_t pos;
	json_t *vars;
	int bad;           /* a bad substitution: Flux fails the build */
	size_t bad_at;     /* where the "${" it failed in starts */
	unsigned depth;    /* of nested functions */
} parser;

#define MAX_DEPTH 64

/* --- scanning --------------------------------------------------------------------------- */

static int peek(const parser *p)
{
	return p->pos < p->len ? (unsigned char)p->text[p->pos] : -1;
}

static int at_open(const parser *p)
{
	return p->pos + 1 < p->len && p->text[p->pos] == '$' && p->text[p->pos + 1] == '{';
}

/* "$$" is a "$", and "\\" and "\/" the second character, wherever escapes are read. */
static int at_escape(const parser *p)
{
	if (p->pos + 1 >= p->len)
		return 0;
	char c = p->text[p->pos], next = p->text[p->pos + 1];
	return (c == '$' && next == '$') || (c == '\\' && (next == '\\' || next == '/'));
}

typedef int (*accept_fn)(int c, size_t i);

/* envsubst's identifiers: letters, digits, "_" and "-" (any byte of a multi-byte character counts as a letter). */
static int accept_ident(int c, size_t i)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c >= 0x80;
}

static int accept_any(int c, size_t i)
{
	return 1;
}

static int accept_not_closing(int c, size_t i)
{
	return c != '}';
}

static int accept_not_slash(int c, size_t i)
{
	return c != '/';
}

static int reject_colon_close(int c, size_t i)
{
	return c != ':' && c != '}';
}

static int accept_colon(int c, size_t i)
{
	return c == ':';
}

static int accept_slash(int c, size_t i)
{
	return c == '/';
}

static int accept_one_colon(int c, size_t i)
{
	return i == 1 && c == ':';
}

static int accept_one_equal(int c, size_t i)
{
	return i == 1 && c == '=';
}

static int accept_one_hash(int c, size_t i)
{
	return i == 1 && c == '#';
}

static int accept_hash_func(int c, size_t i)
{
	return c == '#' && i < 3;
}

static int accept_percent_func(int c, size_t i)
{
	return c == '%' && i < 3;
}

static int accept_casing_func(int c, size_t i)
{
	return (c == ',' || c == '^') && i < 3;
}

static int accept_default_func(int c, size_t i)
{
	return (i == 1 && c == ':') || (i == 2 && (c == '=' || c == '-' || c == '?' || c == '+'));
}

static int accept_replace_func(int c, size_t i)
{
	return (i == 1 && c == '/') || (i == 2 && (c == '/' || c == '#' || c == '%'));
}

/*
 * A run of what accept takes (the first character too), into out: it stops
 * at the end, at "${" when lbrack, or at what accept refuses; an escape, when
 * escapes are read, takes its second character as it is. Returns whether
 * there was a first character.
 */
static int scan_ident(parser *p, plumb_buf *out, accept_fn accept, int lbrack, int escapes)
{
	size_t i = 0;
	while (p->pos < p->len) {
		if (lbrack && at_open(p))
			break;
		if (escapes && at_escape(p)) {
			plumb_buf_putc(out, p->text[p->pos + 1]);
			p->pos += 2;
			i += 1;
			continue;
		}
		if (!accept(peek(p), i + 1))
			break;
		plumb_buf_putc(out, p->text[p->pos++]);
		i++;
	}
	return i > 0;
}

/* A token that accept takes, which must be there: else a bad substitution. */
static int expect_token(parser *p, plumb_buf *out, accept_fn accept)
{
	if (!scan_ident(p, out, accept, 0, 0)) {
		p->bad = 1;
		return 0;
	}
	return 1;
}

static int consume_close(parser *p)
{
	if (peek(p) != '}') {
		p->bad = 1;
		return 0;
	}
	p->pos++;
	return 1;
}

/* --- what the functions do (envsubst's funcs.go) ------------------------------------------ */

static const char *value_of(const parser *p, const char *name)
{
	const char *value = json_string_value(json_object_get(p->vars, name));
	return value ? value : "";
}

/* One character of a class at pattern[*k] (a "\" escapes it) into *c; -1 when the class is malformed. */
static int class_char(const char *pattern, size_t plen, size_t *k, unsigned char *c)
{
	if (*k >= plen || pattern[*k] == '-' || pattern[*k] == ']')
		return -1;
	if (pattern[*k] == '\\' && ++*k >= plen)
		return -1;
	*c = (unsigned char)pattern[(*k)++];
	return *k < plen ? 0 : -1;
}

/*
 * Whether name matches pattern as envsubst's copy of Go's path.Match does,
 * whose * and ? match a "/" too (bytes for characters); -1 when pattern is
 * malformed.
 */
static int glob(const char *pattern, size_t plen, const char *name, size_t nlen)
{
	size_t pi = 0, ni = 0;
	while (pi < plen) {
		char c = pattern[pi];
		if (c == '*') {
			while (pi < plen && pattern[pi] == '*')
				pi++;
			for (size_t k = ni;; k++) {
				int m = glob(pattern + pi, plen - pi, name + k, nlen - k);
				if (m != 0)
					return m;
				if (k >= nlen)
					return 0;
			}
		}
		if (c == '?') {
			if (ni >= nlen)
				return 0;
			pi++, ni++;
			continue;
		}
		if (c == '[') {
			size_t k = pi + 1;
			int negate = k < plen && pattern[k] == '^', matched = 0;
			unsigned ranges = 0;
			k += (size_t)negate;
			for (;;) {
				if (k < plen && pattern[k] == ']' && ranges) {
					k++;
					break;
				}
				unsigned char lo, hi;
				if (class_char(pattern, plen, &k, &lo) < 0)
					return -1;
				hi = lo;
				if (pattern[k] == '-' && (++k, class_char(pattern, plen, &k, &hi) < 0))
					return -1;
				if (ni < nlen && lo <= (unsigned char)name[ni] && (unsigned char)name[ni] <= hi)
					matched = 1;
				ranges++;
			}
			if (ni >= nlen || matched == negate)
				return 0;
			pi = k, ni++;
			continue;
		}
		if (c == '\\' && ++pi >= plen)
			return -1;
		if (ni >= nlen || name[ni] != pattern[pi])
			return 0;
		pi++, ni++;
	}
	return ni == nlen;
}

/* text reversed character by character (UTF-8 sequences kept whole), into out. */
static void reversed(plumb_buf *out, const char *text, size_t len)
{
	size_t end = len;
	while (end > 0) {
		size_t start = end - 1;
		while (start > 0 && ((unsigned char)text[start] & 0xC0) == 0x80)
			start--;
		plumb_buf_add(out, text + start, end - start);
		end = start;
	}
}

/* s with its shortest (or longest) prefix that matches pattern removed, as envsubst's trimShortest/trimLongest. */
static void trim_prefix(plumb_buf *out, const char *s, size_t len, const char *pattern, size_t plen, int longest)
{
	size_t match = 0;
	for (size_t i = 0; i < len; i++) {
		int m = glob(pattern, plen, s, len - i);
		if (m < 0) {
			plumb_buf_add(out, s, len);
			return;
		}
		if (m) {
			match = len - i;
			if (longest)
				break;
		}
	}
	plumb_buf_add(out, s + match, len - match);
}

static void trim(plumb_buf *out, const char *s, const char *pattern, int suffix, int longest)
{
	if (!suffix) {
		trim_prefix(out, s, strlen(s), pattern, strlen(pattern), longest);
		return;
	}
	plumb_buf rs = PLUMB_BUF_INIT, rp = PLUMB_BUF_INIT, trimmed = PLUMB_BUF_INIT;
	reversed(&rs, s, strlen(s));
	reversed(&rp, pattern, strlen(pattern));
	trim_prefix(&trimmed, rs.ptr, rs.len, rp.ptr, rp.len, longest);
	reversed(out, trimmed.ptr, trimmed.len);
	plumb_buf_release(&rs);
	plumb_buf_release(&rp);
	plumb_buf_release(&trimmed);
}

/* Go's strings.Replace(s, old, new, all ? -1 : 1). */
static void replace(plumb_buf *out, const char *s, const char *old, const char *new, int all)
{
	size_t old_len = strlen(old);
	int done = 0;
	while (*s) {
		if (!done && (old_len ? !strncmp(s, old, old_len) : 1)) {
			plumb_buf_puts(out, new);
			done = !all;
			if (old_len) {
				s += old_len;
				continue;
			}
		}
		plumb_buf_putc(out, *s++);
	}
	if (!old_len && !done)
		plumb_buf_puts(out, new);
}

/* Go's strconv.Atoi: an optional sign and digits only. */
static int atoi_go(const char *text, long *out)
{
	char *end;
	if (!*text || *text == ' ' || *text == '\t')
		return -1;
	*out = strtol(text, &end, 10);
	return *end ? -1 : 0;
}

static void substring(plumb_buf *out, const char *s, char **args, size_t count)
{
	long len = (long)strlen(s), pos, length;
	if (atoi_go(args[0], &pos) < 0) {
		plumb_buf_puts(out, s);
		return;
	}
	if (pos < 0 && (pos += len) < 0)
		pos = 0;
	if (count == 1) {
		if (pos < len)
			plumb_buf_puts(out, s + pos);
		return;
	}
	if (atoi_go(args[1], &length) < 0) {
		plumb_buf_puts(out, s);
		return;
	}
	if (pos > len || length < 0)
		return; /* envsubst itself fails here: nothing is the closest */
	if (pos + length >= len)
		plumb_buf_puts(out, s + pos);
	else
		plumb_buf_add(out, s + pos, (size_t)length);
}

static void apply_casing(plumb_buf *out, const char *s, const char *name)
{
	size_t start = out->len;
	plumb_buf_puts(out, s);
	int upper = name[0] == '^', all = name[1] == name[0];
	if (name[1] && !all)
		return; /* ",^" and "^,": no such function, the value as it is */
	for (size_t i = start; i < out->len && (all || i == start); i++) {
		char c = out->ptr[i];
		if (upper && c >= 'a' && c <= 'z')
			out->ptr[i] = (char)(c - 'a' + 'A');
		else if (!upper && c >= 'A' && c <= 'Z')
			out->ptr[i] = (char)(c - 'A' + 'a');
	}
}

/* envsubst's lookupFunc, applied: the function named name of value with args, into out. */
static void evaluate(plumb_buf *out, const char *name, const char *value, char **args, size_t count)
{
	if (!strcmp(name, ",") || !strcmp(name, ",,") || !strcmp(name, "^") || !strcmp(name, "^^") ||
	    !strcmp(name, ",^") || !strcmp(name, "^,")) {
		apply_casing(out, value, name);
	} else if (!strcmp(name, "#") && !count) {
		plumb_buf_printf(out, "%zu", strlen(value));
	} else if ((!strcmp(name, "#") || !strcmp(name, "##") || !strcmp(name, "%") || !strcmp(name, "%%")) && count) {
		trim(out, value, args[0], name[0] == '%', name[1] != '\0');
	} else if (!strcmp(name, ":")) {
		substring(out, value, args, count);
	} else if (!strcmp(name, "/#") || !strcmp(name, "/%")) {
		size_t vlen = strlen(value), alen = count == 2 ? strlen(args[0]) : 0;
		if (count == 2 && name[1] == '#' && !strncmp(value, args[0], alen)) {
			plumb_buf_puts(out, args[1]);
			plumb_buf_puts(out, value + alen);
		} else if (count == 2 && name[1] == '%' && vlen >= alen && !strcmp(value + vlen - alen, args[0])) {
			plumb_buf_add(out, value, vlen - alen);
			plumb_buf_puts(out, args[1]);
		} else {
			plumb_buf_puts(out, value);
		}
	} else if (!strcmp(name, "/") || !strcmp(name, "//")) {
		if (count)
			replace(out, value, args[0], count > 1 ? args[1] : "", name[1] == '/');
		else
			plumb_buf_puts(out, value);
	} else if (!*value && count) {
		/* ":=", ":-", ":?", ":+", "=": each the arguments when the value is empty, as envsubst has it. */
		for (size_t i = 0; i < count; i++)
			plumb_buf_puts(out, args[i]);
	} else {
		plumb_buf_puts(out, value);
	}
}

/* --- parsing (envsubst's parse.go) ---------------------------------------------------------- */

static void parse_func(parser *p, plumb_buf *out);

typedef struct {
	char **items;
	size_t count;
} arguments;

static void arguments_release(arguments *args)
{
	for (size_t i = 0; i < args->count; i++)
		free(args->items[i]);
	free(args->items);
}

/* One argument: a function ("${...}"), or a run of text accept takes. */
static void parse_param(parser *p, arguments *args, accept_fn accept, int escapes)
{
	plumb_buf arg = PLUMB_BUF_INIT;
	if (at_open(p)) {
		p->pos += 2;
		parse_func(p, &arg);
	} else if (!scan_ident(p, &arg, accept, 1, escapes)) {
		p->bad = 1;
	}
	args->items = plumb_xrealloc(args->items, (args->count + 1) * sizeof(char *));
	args->items[args->count++] = plumb_buf_detach(&arg, NULL);
}

/* After "${": the function, evaluated into out. */
static void parse_func(parser *p, plumb_buf *out)
{
	plumb_buf name = PLUMB_BUF_INIT, func = PLUMB_BUF_INIT, delimiter = PLUMB_BUF_INIT;
	arguments args = { 0 };
	if (++p->depth > MAX_DEPTH) {
		p->bad = 1;
		goto done;
	}
	if (peek(p) == '#') {
		if (expect_token(p, &func, accept_one_hash) && expect_token(p, &name, accept_ident) && consume_close(p))
			evaluate(out, func.ptr, value_of(p, name.ptr), NULL, 0);
		goto done;
	}
	if (!expect_token(p, &name, accept_ident))
		goto done;
	switch (peek(p)) {
	case ':': {
		int next = p->pos + 1 < p->len ? (unsigned char)p->text[p->pos + 1] : -1;
		if (next == '=' || next == '-' || next == '?' || next == '+')
			goto defaults;
		if (!expect_token(p, &func, accept_one_colon))
			goto done;
		parse_param(p, &args, reject_colon_close, 0);
		if (p->bad)
			goto done;
		if (peek(p) != '}') {
			if (!expect_token(p, &delimiter, accept_colon))
				goto done;
			parse_param(p, &args, accept_not_closing, 0);
		}
		break;
	}
	case '=':
	defaults:
		if (!expect_token(p, &func, peek(p) == '=' ? accept_one_equal : accept_default_func))
			goto done;
		while (!p->bad && peek(p) != '}') {
			if (peek(p) < 0) {
				p->bad = 1;
				break;
			}
			parse_param(p, &args, accept_not_closing, 0);
		}
		break;
	case ',':
	case '^':
		expect_token(p, &func, accept_casing_func);
		break;
	case '/':
		if (!expect_token(p, &func, accept_replace_func))
			goto done;
		parse_param(p, &args, accept_not_slash, 1);
		if (p->bad || !expect_token(p, &delimiter, accept_slash))
			goto done;
		if (peek(p) != '}')
			parse_param(p, &args, accept_not_closing, 1);
		break;
	case '#':
	case '%':
		if (expect_token(p, &func, peek(p) == '#' ? accept_hash_func : accept_percent_func))
			parse_param(p, &args, accept_not_closing, 0);
		break;
	default:
		break;
	}
	if (!p->bad && consume_close(p))
		evaluate(out, func.len ? func.ptr : "", value_of(p, name.ptr), args.items, args.count);
done:
	p->depth--;
	arguments_release(&args);
	plumb_buf_release(&name);
	plumb_buf_release(&func);
	plumb_buf_release(&delimiter);
}

/* One document: text with its escapes read, and each "${...}" evaluated. Returns 0, or -1 at a bad substitution. */
static int substitute_document(plumb_buf *out, const char *text, size_t len, json_t *vars, size_t *bad_at)
{
	parser p = { text, len, 0, vars, 0, 0, 0 };
	while (p.pos < p.len && !p.bad) {
		if (at_open(&p)) {
			p.bad_at = p.pos;
			p.pos += 2;
			parse_func(&p, out);
		} else {
			scan_ident(&p, out, accept_any, 1, 1);
		}
	}
	*bad_at = p.bad_at;
	return p.bad ? -1 : 0;
}

/* One document of text: from start to the next line that is "---", or the end. */
static size_t document_length(const char *text, size_t len)
{
	size_t at = 0;
	while (at < len) {
		const char *line_end = memchr(text + at, '\n', len - at);
		size_t next = line_end ? (size_t)(line_end - text) + 1 : len;
		if (at && next - at >= 3 && !memcmp(text + at, "---", 3) &&
		    (next - at == 3 || text[at + 3] == '\n' || text[at + 3] == ' ' || text[at + 3] == '\r'))
			return at;
		at = next;
	}
	return len;
}

static unsigned line_of(const char *text, size_t at)
{
	unsigned line = 1;
	for (size_t i = 0; i < at; i++)
		line += text[i] == '\n';
	return line;
}

int plumb_substitute_valid_name(const char *name)
{
	if (!*name || (*name >= '0' && *name <= '9'))
		return 0;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return 0;
	return 1;
}

int plumb_substitute(plumb_buf *out, const char *text, size_t len, const char *vars, plumb_substitute_failure *failure)
{
	json_t *json = vars ? json_loads(vars, 0, NULL) : NULL;
	size_t at = 0;
	int error = 0;
	while (at < len && error == 0) {
		size_t n = document_length(text + at, len - at), bad_at;
		char *document = plumb_xstrndup(text + at, n);
		if (strstr(document, PLUMB_SUBSTITUTE_DISABLED)) {
			plumb_buf_add(out, text + at, n);
		} else if (substitute_document(out, text + at, n, json, &bad_at) < 0) {
			size_t shown = strcspn(text + at + bad_at, "\n");
			failure->line = line_of(text, at + bad_at);
			snprintf(failure->near, sizeof(failure->near), "%.*s",
				 (int)(shown < sizeof(failure->near) - 1 ? shown : sizeof(failure->near) - 1),
				 text + at + bad_at);
			error = PLUMB_EINVALID;
		}
		free(document);
		at += n;
	}
	json_decref(json);
	return error;
}
