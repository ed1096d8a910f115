/*
 * The jq path expressions of ignoreDifferences (jqpath.h): parsed by
 * recursive descent into steps and conditions, then walked over an object,
 * each node carried with its JSON pointer.
 */
#include "util/common.h"
#include "providers/kubernetes/jqpath.h"
#include "util/buf.h"

#include <stdlib.h>

/* --- the expression ----------------------------------------------------------------------- */

typedef enum { STEP_FIELD, STEP_INDEX, STEP_ITERATE } step_kind;

typedef struct {
	step_kind kind;
	char *field;
	long index;
} step;

typedef struct {
	step *items;
	size_t count;
} path;

typedef enum { COND_OR, COND_AND, COND_EQUAL, COND_NOT_EQUAL, COND_TRUTHY } cond_kind;

typedef struct cond {
	cond_kind kind;
	struct cond *left, *right; /* OR, AND */
	path path;                 /* the others */
	json_t *literal;           /* EQUAL, NOT_EQUAL */
} cond;

typedef struct {
	path path;    /* a path, or */
	cond *select; /* select(...) */
} term;

typedef struct {
	term *items;
	size_t count;
} pipeline;

typedef struct {
	const char *text;
	size_t pos;
	const char *problem; /* the first thing not read, or NULL */
	size_t problem_at;
} parser;

#define MAX_NESTING 32

static void fail(parser *p, const char *problem)
{
	if (!p->problem) {
		p->problem = problem;
		p->problem_at = p->pos;
	}
}

static void skip_spaces(parser *p)
{
	while (p->text[p->pos] == ' ' || p->text[p->pos] == '\t' || p->text[p->pos] == '\n')
		p->pos++;
}

static int is_ident(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!first && c >= '0' && c <= '9');
}

/* A "..." string (\" and \\ escaped) at p, its text a new string; NULL on failure. */
static char *parse_string(parser *p)
{
	plumb_buf out = PLUMB_BUF_INIT;
	p->pos++; /* the opening quote */
	while (p->text[p->pos] && p->text[p->pos] != '"') {
		if (p->text[p->pos] == '\\' && p->text[p->pos + 1])
			p->pos++;
		plumb_buf_putc(&out, p->text[p->pos++]);
	}
	if (p->text[p->pos] != '"') {
		fail(p, "a string is not closed");
		plumb_buf_release(&out);
		return NULL;
	}
	p->pos++;
	return plumb_buf_detach(&out, NULL);
}

static void add_step(path *to, step s)
{
	to->items = plumb_xrealloc(to->items, (to->count + 1) * sizeof(step));
	to->items[to->count++] = s;
}

/* A path: "." and what follows it, each step optionally followed by "?". */
static void parse_path(parser *p, path *out)
{
	skip_spaces(p);
	if (p->text[p->pos] != '.') {
		fail(p, "a path starts with .");
		return;
	}
	p->pos++;
	int after_dot = 1;
	for (;;) {
		char c = p->text[p->pos];
		step s = { STEP_FIELD, NULL, 0 };
		if (after_dot && is_ident(c, 1)) {
			size_t start = p->pos;
			while (is_ident(p->text[p->pos], 0))
				p->pos++;
			s.field = plumb_xstrndup(p->text + start, p->pos - start);
		} else if (after_dot && c == '"') {
			if (!(s.field = parse_string(p)))
				return;
		} else if (c == '[') {
			p->pos++;
			skip_spaces(p);
			if (p->text[p->pos] == ']') {
				s.kind = STEP_ITERATE;
			} else if (p->text[p->pos] == '"') {
				if (!(s.field = parse_string(p)))
					return;
			} else {
				char *end;
				s.kind = STEP_INDEX;
				s.index = strtol(p->text + p->pos, &end, 10);
				if (end == p->text + p->pos) {
					fail(p, "[ holds an index, a \"key\", or nothing");
					return;
				}
				p->pos = (size_t)(end - p->text);
			}
			skip_spaces(p);
			if (p->text[p->pos] != ']') {
				free(s.field);
				fail(p, "[ is not closed");
				return;
			}
			p->pos++;
		} else if (c == '.' && !after_dot) {
			p->pos++;
			after_dot = 1;
			continue;
		} else if (c == '?') {
			p->pos++; /* what is not there is reached by nothing anyway */
			continue;
		} else {
			return; /* the path ends (".", the identity, when nothing followed it) */
		}
		add_step(out, s);
		after_dot = 0;
	}
}

static json_t *parse_literal(parser *p)
{
	skip_spaces(p);
	const char *at = p->text + p->pos;
	if (*at == '"') {
		char *text = parse_string(p);
		json_t *literal = text ? json_string(text) : NULL;
		free(text);
		return literal;
	}
	static const char *const words[] = { "true", "false", "null" };
	for (size_t i = 0; i < 3; i++)
		if (!strncmp(at, words[i], strlen(words[i])) && !is_ident(at[strlen(words[i])], 0)) {
			p->pos += strlen(words[i]);
			return i == 2 ? json_null() : json_boolean(i == 0);
		}
	char *end;
	double number = strtod(at, &end);
	if (end == at) {
		fail(p, "a comparison is with a \"string\", a number, true, false or null");
		return NULL;
	}
	p->pos += (size_t)(end - at);
	return number == (double)(json_int_t)number ? json_integer((json_int_t)number) : json_real(number);
}

static void free_path(path *target)
{
	for (size_t i = 0; i < target->count; i++)
		free(target->items[i].field);
	free(target->items);
}

static void free_cond(cond *c)
{
	if (!c)
		return;
	free_cond(c->left);
	free_cond(c->right);
	free_path(&c->path);
	json_decref(c->literal);
	free(c);
}

static int at_word(parser *p, const char *word)
{
	skip_spaces(p);
	size_t len = strlen(word);
	if (strncmp(p->text + p->pos, word, len) != 0 || is_ident(p->text[p->pos + len], 0))
		return 0;
	p->pos += len;
	return 1;
}

static cond *parse_or(parser *p, unsigned depth);

/* PATH, PATH == LITERAL or PATH != LITERAL, or ( CONDITION ). */
static cond *parse_comparison(parser *p, unsigned depth)
{
	skip_spaces(p);
	if (p->text[p->pos] == '(') {
		p->pos++;
		cond *inner = parse_or(p, depth + 1);
		skip_spaces(p);
		if (p->text[p->pos] != ')')
			fail(p, "( is not closed");
		else
			p->pos++;
		return inner;
	}
	cond *c = plumb_xcalloc(1, sizeof(*c));
	c->kind = COND_TRUTHY;
	parse_path(p, &c->path);
	skip_spaces(p);
	if (!strncmp(p->text + p->pos, "==", 2) || !strncmp(p->text + p->pos, "!=", 2)) {
		c->kind = p->text[p->pos] == '=' ? COND_EQUAL : COND_NOT_EQUAL;
		p->pos += 2;
		c->literal = parse_literal(p);
	}
	return c;
}

static cond *joined(cond_kind kind, cond *left, cond *right)
{
	cond *c = plumb_xcalloc(1, sizeof(*c));
	c->kind = kind;
	c->left = left;
	c->right = right;
	return c;
}

static cond *parse_and(parser *p, unsigned depth)
{
	cond *c = parse_comparison(p, depth);
	while (!p->problem && at_word(p, "and"))
		c = joined(COND_AND, c, parse_comparison(p, depth));
	return c;
}

static cond *parse_or(parser *p, unsigned depth)
{
	if (depth > MAX_NESTING) {
		fail(p, "it nests too deep");
		return NULL;
	}
	cond *c = parse_and(p, depth);
	while (!p->problem && at_word(p, "or"))
		c = joined(COND_OR, c, parse_and(p, depth));
	return c;
}

static void free_pipeline(pipeline *pipe)
{
	for (size_t i = 0; i < pipe->count; i++) {
		free_path(&pipe->items[i].path);
		free_cond(pipe->items[i].select);
	}
	free(pipe->items);
	memset(pipe, 0, sizeof(*pipe));
}

static int parse_pipeline(pipeline *out, const char *expression, parser *p)
{
	memset(p, 0, sizeof(*p));
	memset(out, 0, sizeof(*out));
	p->text = expression;
	do {
		term t = { { NULL, 0 }, NULL };
		if (at_word(p, "select")) {
			skip_spaces(p);
			if (p->text[p->pos] != '(') {
				fail(p, "select takes ( a condition )");
			} else {
				p->pos++;
				t.select = parse_or(p, 0);
				skip_spaces(p);
				if (p->text[p->pos] != ')')
					fail(p, "select( is not closed");
				else
					p->pos++;
			}
		} else {
			parse_path(p, &t.path);
		}
		out->items = plumb_xrealloc(out->items, (out->count + 1) * sizeof(term));
		out->items[out->count++] = t;
		skip_spaces(p);
	} while (!p->problem && p->text[p->pos] == '|' && ++p->pos);
	if (!p->problem && p->text[p->pos])
		fail(p, "not read: jq's paths, pipes and select(== / != / and / or) are");
	return p->problem ? -1 : 0;
}

int plumb_jqpath_check(const char *expression)
{
	pipeline pipe;
	parser p;
	int error = parse_pipeline(&pipe, expression, &p);
	if (error < 0)
		error = plumb_error_set(PLUMB_EINVALID, "\"%s\": at column %zu: %s", expression, p.problem_at + 1,
					p.problem);
	free_pipeline(&pipe);
	return error;
}

/* --- walking an object ---------------------------------------------------------------------- */

/* What a step reaches: nodes of the object, each with its JSON pointer. */
typedef struct {
	const json_t **nodes;
	char **pointers;
	size_t count;
} reached;

static void reach(reached *r, const json_t *node, char *pointer)
{
	r->nodes = plumb_xrealloc(r->nodes, (r->count + 1) * sizeof(*r->nodes));
	r->pointers = plumb_xrealloc(r->pointers, (r->count + 1) * sizeof(*r->pointers));
	r->nodes[r->count] = node;
	r->pointers[r->count++] = pointer;
}

static void release(reached *r)
{
	for (size_t i = 0; i < r->count; i++)
		free(r->pointers[i]);
	free(r->nodes);
	free(r->pointers);
	memset(r, 0, sizeof(*r));
}

/* pointer and one reference token more ("~" as "~0", "/" as "~1"): a new string. */
static char *pointer_to(const char *pointer, const char *token)
{
	plumb_buf out = PLUMB_BUF_INIT;
	plumb_buf_printf(&out, "%s/", pointer);
	for (const char *c = token; *c; c++)
		plumb_buf_puts(&out, *c == '~' ? "~0" : *c == '/' ? "~1" : (char[]){ *c, 0 });
	return plumb_buf_detach(&out, NULL);
}

static void walk_path(reached *out, const json_t *node, const char *pointer, const path *steps, size_t from)
{
	if (from == steps->count) {
		reach(out, node, plumb_xstrdup(pointer));
		return;
	}
	const step *s = &steps->items[from];
	if (s->kind == STEP_FIELD) {
		const json_t *child = json_is_object(node) ? json_object_get(node, s->field) : NULL;
		if (child) {
			char *next = pointer_to(pointer, s->field);
			walk_path(out, child, next, steps, from + 1);
			free(next);
		}
	} else if (s->kind == STEP_INDEX) {
		long size = json_is_array(node) ? (long)json_array_size(node) : 0;
		long index = s->index < 0 ? size + s->index : s->index;
		if (index >= 0 && index < size) {
			char *next = plumb_xprintf("%s/%ld", pointer, index);
			walk_path(out, json_array_get(node, (size_t)index), next, steps, from + 1);
			free(next);
		}
	} else if (json_is_array(node)) {
		size_t i;
		const json_t *item;
		json_array_foreach(node, i, item) {
			char *next = plumb_xprintf("%s/%zu", pointer, i);
			walk_path(out, item, next, steps, from + 1);
			free(next);
		}
	} else if (json_is_object(node)) {
		const char *key;
		json_t *value;
		json_object_foreach((json_t *)node, key, value) {
			char *next = pointer_to(pointer, key);
			walk_path(out, value, next, steps, from + 1);
			free(next);
		}
	}
}

/* The first value path reaches from node: what == compares (null when none). */
static const json_t *first_value(const json_t *node, const path *steps)
{
	reached r = { 0 };
	walk_path(&r, node, "", steps, 0);
	const json_t *value = r.count ? r.nodes[0] : NULL;
	release(&r);
	return value;
}

static int holds(const cond *c, const json_t *node)
{
	if (!c)
		return 0;
	switch (c->kind) {
	case COND_OR:
		return holds(c->left, node) || holds(c->right, node);
	case COND_AND:
		return holds(c->left, node) && holds(c->right, node);
	default:
		break;
	}
	const json_t *value = first_value(node, &c->path);
	json_t *null = json_null();
	int equal = c->literal && json_equal(value ? (json_t *)value : null, c->literal);
	json_decref(null);
	if (c->kind == COND_EQUAL)
		return equal;
	if (c->kind == COND_NOT_EQUAL)
		return !equal;
	return value && !json_is_null(value) && !json_is_false(value);
}

void plumb_jqpath_pointers(json_t *pointers, const char *expression, const json_t *object)
{
	pipeline pipe;
	parser p;
	if (parse_pipeline(&pipe, expression, &p) < 0) {
		free_pipeline(&pipe);
		return;
	}
	reached current = { 0 };
	reach(&current, object, plumb_xstrdup(""));
	for (size_t t = 0; t < pipe.count; t++) {
		reached next = { 0 };
		for (size_t i = 0; i < current.count; i++) {
			if (pipe.items[t].select) {
				if (holds(pipe.items[t].select, current.nodes[i]))
					reach(&next, current.nodes[i], plumb_xstrdup(current.pointers[i]));
			} else {
				walk_path(&next, current.nodes[i], current.pointers[i], &pipe.items[t].path, 0);
			}
		}
		release(&current);
		current = next;
	}
	for (size_t i = 0; i < current.count; i++)
		if (*current.pointers[i]) /* the whole object is no field to leave alone */
			json_array_append_new(pointers, json_string(current.pointers[i]));
	release(&current);
	free_pipeline(&pipe);
}
