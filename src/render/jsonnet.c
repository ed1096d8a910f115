#include "util/common.h"
#include "render/jsonnet.h"
#include "render/jsonnet_cache.h"
#include "render/jsonnet_child.h"
#include "render/render.h"
#include "render/yaml.h"
#include "util/hash.h"
#include "util/path.h"

#include <jansson.h>
#include <libfyaml.h>
#include <libjsonnet.h>

/* The largest .jsonnet or imported file read. */
#define JSONNET_FILE_MAX (16u << 20)
/* Everything one evaluation may import, together. */
#define JSONNET_IMPORTS_MAX (64u << 20)
/* libjsonnet's own default: deep enough for real programs, bounded for runaway recursion. */
#define JSONNET_STACK_MAX 500u
/* Symlinks followed from one import before it is refused. */
#define SYMLINK_HOPS_MAX 8
/* The part of libjsonnet's message kept in a diagnostic. */
#define MESSAGE_SHOWN 1500

int plumb_jsonnet_is_program(const char *path)
{
	size_t n = strlen(path);
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	return n > 8 && strlen(name) > 8 && !strcmp(path + n - 8, ".jsonnet");
}

/* A variable of Argo CD's build environment: its value, "" when unknown or not given. */
static const char *env_value(const plumb_jsonnet_env *env, const char *name, size_t n)
{
	const char *revision = env ? env->revision : NULL;
	const struct {
		const char *name;
		const char *value;
	} known[] = {
		{ "ARGOCD_APP_NAME", env ? env->app_name : NULL },
		{ "ARGOCD_APP_NAMESPACE", env ? env->app_namespace : NULL },
		{ "ARGOCD_APP_REVISION", revision },
		{ "ARGOCD_APP_REVISION_SHORT", revision },   /* the caller keeps 7 characters */
		{ "ARGOCD_APP_REVISION_SHORT_8", revision }, /* and 8 */
		{ "ARGOCD_APP_SOURCE_REPO_URL", env ? env->repo_url : NULL },
		{ "ARGOCD_APP_SOURCE_PATH", env ? env->source_path : NULL },
	};
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(known); i++)
		if (strlen(known[i].name) == n && !strncmp(known[i].name, name, n))
			return known[i].value ? known[i].value : "";
	return "";
}

/*
 * text with $NAME and ${NAME} replaced by env_value, "$$" by "$", as Go's
 * os.Expand does for Argo CD: a "$" followed by no name stays. A new string.
 */
static char *substitute(const char *text, const plumb_jsonnet_env *env)
{
	plumb_buf out = PLUMB_BUF_INIT;
	for (const char *c = text; *c; c++) {
		if (c[0] != '$' || !c[1]) {
			plumb_buf_putc(&out, *c);
			continue;
		}
		const char *name = c + 1;
		size_t n = 0, eaten = 0;
		if (name[0] == '{') {
			const char *close = strchr(name, '}');
			/* "${}" and an unclosed "${" are eaten, as Go does. */
			eaten = close ? (size_t)(close - name) + 1 : 1;
			name++;
			n = close ? (size_t)(close - name) : 0;
		} else if (strchr("*#$@!?-0123456789", name[0])) {
			n = eaten = 1;
		} else {
			while (name[n] == '_' || (name[n] >= 'a' && name[n] <= 'z') || (name[n] >= 'A' && name[n] <= 'Z') ||
			       (name[n] >= '0' && name[n] <= '9'))
				n++;
			eaten = n;
			if (!n) {
				plumb_buf_putc(&out, '$');
				continue;
			}
		}
		c += eaten;
		if (n == 1 && name[0] == '$') {
			plumb_buf_putc(&out, '$');
			continue;
		}
		const char *value = n ? env_value(env, name, n) : "";
		size_t shown = strlen(value);
		if (n == 25 && !strncmp(name, "ARGOCD_APP_REVISION_SHORT", n) && shown > 7)
			shown = 7;
		else if (n == 27 && !strncmp(name, "ARGOCD_APP_REVISION_SHORT_8", n) && shown > 8)
			shown = 8;
		plumb_buf_add(&out, value, shown);
	}
	return plumb_buf_detach(&out, NULL);
}

/* The values of tlas or extVars substituted in place. */
static void substitute_values(json_t *list, const plumb_jsonnet_env *env)
{
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item) {
		json_t *value = json_object_get(item, "value");
		if (!json_is_string(value))
			continue;
		char *text = substitute(json_string_value(value), env);
		json_object_set_new(item, "value", json_string(text));
		free(text);
	}
}

int plumb_jsonnet_options_of(char **out, const char *source_options, const plumb_jsonnet_env *env)
{
	*out = NULL;
	if (!source_options || !*source_options)
		return 0;
	json_error_t parse_error;
	json_t *root = json_loads(source_options, JSON_REJECT_DUPLICATES, &parse_error);
	if (!json_is_object(root)) {
		json_decref(root);
		return plumb_error_set(PLUMB_EINVALID, "the source's render options are not a JSON object%s%s",
				       root ? "" : ": ", root ? "" : parse_error.text);
	}
	json_t *directory = json_object_get(root, "directory");
	if (directory && !json_is_null(directory) && !json_is_object(directory)) {
		json_decref(root);
		return plumb_error_set(PLUMB_EINVALID, "the source's render options: directory: expected an object");
	}
	json_t *jsonnet = json_is_object(directory) ? json_object_get(directory, "jsonnet") : NULL;
	if (jsonnet && !json_is_null(jsonnet)) {
		substitute_values(json_object_get(jsonnet, "tlas"), env);
		substitute_values(json_object_get(jsonnet, "extVars"), env);
		char *text = json_dumps(jsonnet, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		if (!text)
			abort(); /* jansson fails only when out of memory here */
		/* The caller frees what plumb allocated, not jansson. */
		*out = plumb_xstrdup(text);
		free(text);
	}
	json_decref(root);
	return 0;
}

void plumb_jsonnet_key(char out[PLUMB_OID_HEXSZ + 1], const char *blob, const char *app_path,
		       const char *jsonnet_options)
{
	char *text = plumb_xprintf("jsonnet\n%s\n%s\n%s\n%s\n", jsonnet_version(), blob, app_path ? app_path : "",
				   jsonnet_options ? jsonnet_options : "");
	char hex[65];
	plumb_hash_sha256_hex(hex, text, strlen(text));
	memcpy(out, hex, PLUMB_OID_HEXSZ);
	out[PLUMB_OID_HEXSZ] = '\0';
	free(text);
}

/* --- the options --------------------------------------------------------------------------- */

typedef struct {
	struct JsonnetVm *vm;
	char **search; /* where an import is looked for after the importing file's folder: libs last first, the app */
	size_t search_count;
	size_t search_capacity;
} settings;

/* tlas or extVars: each {name, value, code} bound in the VM; every problem a diagnostic at file. */
static void bind_variables(settings *s, json_t *list, const char *member, plumb_position pos, plumb_diags *diags)
{
	int tla = !strcmp(member, "tlas");
	if (!list || json_is_null(list))
		return;
	if (!json_is_array(list)) {
		plumb_diags_add(diags, pos, "directory.jsonnet.%s: expected a list of {name, value, code}", member);
		return;
	}
	size_t i;
	json_t *item;
	json_array_foreach(list, i, item) {
		json_t *name = json_object_get(item, "name"), *value = json_object_get(item, "value");
		json_t *code = json_object_get(item, "code");
		if (!json_is_object(item) || !json_is_string(name) || !*json_string_value(name)) {
			plumb_diags_add(diags, pos, "directory.jsonnet.%s[%zu]: expected a name", member, i);
			continue;
		}
		if (value && !json_is_string(value) && !json_is_null(value)) {
			plumb_diags_add(diags, pos, "directory.jsonnet.%s[%zu].value: expected a string", member, i);
			continue;
		}
		if (code && !json_is_boolean(code) && !json_is_null(code)) {
			plumb_diags_add(diags, pos, "directory.jsonnet.%s[%zu].code: expected true or false", member, i);
			continue;
		}
		const char *key = json_string_value(name), *text = json_is_string(value) ? json_string_value(value) : "";
		if (json_is_true(code))
			(tla ? jsonnet_tla_code : jsonnet_ext_code)(s->vm, key, text);
		else
			(tla ? jsonnet_tla_var : jsonnet_ext_var)(s->vm, key, text);
	}
}

/* Bind jsonnet_options (Argo CD's directory.jsonnet) in s; every problem a diagnostic at file. */
static void apply_options(settings *s, const char *jsonnet_options, const char *app_path, plumb_position pos,
			  plumb_diags *diags)
{
	json_t *root = NULL, *libs = NULL;
	if (jsonnet_options) {
		json_error_t parse_error;
		root = json_loads(jsonnet_options, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &parse_error);
		if (!json_is_object(root)) {
			plumb_diags_add(diags, pos, "directory.jsonnet: expected an object with tlas, extVars, libs");
			goto done;
		}
		const char *member;
		json_t *value;
		json_object_foreach(root, member, value) {
			if (strcmp(member, "tlas") != 0 && strcmp(member, "extVars") != 0 && strcmp(member, "libs") != 0)
				plumb_diags_add(diags, pos, "directory.jsonnet.%s: unknown field (tlas, extVars, libs)",
						member);
		}
		bind_variables(s, json_object_get(root, "tlas"), "tlas", pos, diags);
		bind_variables(s, json_object_get(root, "extVars"), "extVars", pos, diags);
		libs = json_object_get(root, "libs");
		if (libs && !json_is_null(libs) && !json_is_array(libs))
			plumb_diags_add(diags, pos, "directory.jsonnet.libs: expected a list of folders");
	}
	/* Searched last to first, as Argo CD's importer does: the libraries, then the application's folder. */
	for (size_t i = json_is_array(libs) ? json_array_size(libs) : 0; i-- > 0;) {
		json_t *lib = json_array_get(libs, i);
		const char *text = json_string_value(lib);
		if (!text) {
			plumb_diags_add(diags, pos, "directory.jsonnet.libs[%zu]: expected a string", i);
			continue;
		}
		/* A library is named from the repository's root, "/" or not. */
		while (*text == '/')
			text++;
		char *dir = plumb_path_resolve("", text);
		if (!dir) {
			plumb_diags_add(diags, pos, "directory.jsonnet.libs[%zu]: '%s' leaves the repository", i,
					json_string_value(lib));
			continue;
		}
		PLUMB_GROW(s->search, s->search_count, s->search_capacity);
		s->search[s->search_count++] = dir;
	}
	PLUMB_GROW(s->search, s->search_count, s->search_capacity);
	s->search[s->search_count++] = plumb_xstrdup(app_path ? app_path : "");
done:
	json_decref(root);
}

/* --- imports from the object database ---------------------------------------------------------- */

typedef struct {
	settings *settings;
	plumb_source *source;
	const char *commit;
	char **read; /* the repository paths of the file and what it imported, as libjsonnet names them */
	size_t read_count;
	size_t read_capacity;
	size_t imported; /* bytes */
	int error;       /* the repository could not be read: why in error_message */
	char *error_message;
	plumb_source_lookups *lookups; /* every path looked up, for STATE/render/ (render/jsonnet_cache.h) */
} evaluation;

/* A path looked up, and what it found (error: plumb_source_stat's). */
static void note_lookup(evaluation *e, const char *path, int error, const plumb_source_entry *entry)
{
	PLUMB_GROW(e->lookups->items, e->lookups->count, e->lookups->capacity);
	plumb_source_lookup *lookup = &e->lookups->items[e->lookups->count++];
	memset(lookup, 0, sizeof(*lookup));
	lookup->path = plumb_xstrdup(path);
	lookup->found = error == 0;
	lookup->type = error == 0 ? entry->type : PLUMB_ENTRY_FILE;
	if (error == 0)
		memcpy(lookup->id, entry->id, sizeof(lookup->id));
}

/* A copy of text in memory libjsonnet frees. */
static char *jsonnet_string(evaluation *e, const char *text)
{
	size_t n = strlen(text);
	char *copy = jsonnet_realloc(e->settings->vm, NULL, n + 1);
	memcpy(copy, text, n + 1);
	return copy;
}

/*
 * The file at path of the commit, its symlinks followed: 1 with its content
 * in *content and the path it was found at in *found; 0 when nothing (or a
 * folder) is there; PLUMB_EINVALID when refused, the reason in *why; another
 * code when the repository could not be read.
 */
static int read_import(evaluation *e, const char *path, char **found, plumb_buf *content, char **why)
{
	char *current = plumb_xstrdup(path);
	int error = 0;
	for (int hops = 0;; hops++) {
		plumb_source_entry entry;
		error = plumb_source_stat(&entry, e->source, e->commit, current);
		if (error == 0 || error == PLUMB_ENOTFOUND || error == PLUMB_EINVALID)
			note_lookup(e, current, error, &entry);
		if (error == PLUMB_ENOTFOUND || error == PLUMB_EINVALID ||
		    (error == 0 && (entry.type == PLUMB_ENTRY_TREE || entry.type == PLUMB_ENTRY_SUBMODULE))) {
			error = 0;
			break;
		}
		if (error < 0)
			break;
		size_t max = entry.type == PLUMB_ENTRY_SYMLINK ? 4096 : JSONNET_FILE_MAX;
		plumb_buf_clear(content);
		error = plumb_source_read_blob(content, e->source, entry.id, max);
		if (error == PLUMB_EINVALID) {
			*why = plumb_xprintf("%s is larger than %zu bytes", current, max);
			break;
		}
		if (error < 0)
			break;
		if (memchr(content->ptr, '\0', content->len)) {
			*why = plumb_xprintf("%s holds a NUL byte", current);
			error = PLUMB_EINVALID;
			break;
		}
		if (entry.type != PLUMB_ENTRY_SYMLINK) {
			*found = current;
			return 1;
		}
		char *dir = plumb_path_dirname(current);
		char *next = content->ptr[0] == '/' ? NULL : plumb_path_resolve(dir, content->ptr);
		free(dir);
		if (!next || hops >= SYMLINK_HOPS_MAX) {
			*why = next ? plumb_xprintf("%s: too many levels of symlinks", path)
				    : plumb_xprintf("symlink %s to '%s' leaves the repository", current, content->ptr);
			free(next);
			error = PLUMB_EINVALID;
			break;
		}
		free(current);
		current = next;
	}
	free(current);
	plumb_buf_clear(content);
	return error;
}

/*
 * libjsonnet's import callback: rel from the folder base of the importing
 * file (a repository path, as found_here named it), then from the search
 * folders. A failure's message becomes libjsonnet's error at the import.
 */
static char *import_callback(void *ctx, const char *base, const char *rel, char **found_here, int *success)
{
	evaluation *e = ctx;
	plumb_buf content = PLUMB_BUF_INIT, looked = PLUMB_BUF_INIT;
	char *dir = plumb_xstrndup(base, strlen(base) && base[strlen(base) - 1] == '/' ? strlen(base) - 1
											: strlen(base));
	char *why = NULL, *result = NULL;
	*success = 0;

	if (rel[0] == '/') {
		why = plumb_xstrdup("an absolute path is refused: imports are read from the repository");
		goto done;
	}
	for (size_t i = 0; i <= e->settings->search_count && !why; i++) {
		const char *from = i == 0 ? dir : e->settings->search[i - 1];
		int tried = i > 0 && !strcmp(from, dir);
		for (size_t j = 1; j < i && !tried; j++)
			tried = !strcmp(from, e->settings->search[j - 1]);
		if (tried)
			continue;
		char *path = plumb_path_resolve(from, rel);
		if (!path) {
			why = plumb_xprintf("it leaves the repository (from %s)", *from ? from : ".");
			break;
		}
		plumb_buf_printf(&looked, "%s%s", looked.len ? ", " : "", *from ? from : ".");
		char *found = NULL;
		int got = read_import(e, path, &found, &content, &why);
		free(path);
		if (got < 0 && got != PLUMB_EINVALID) {
			why = plumb_xstrdup(plumb_error_last());
			if (!e->error) {
				e->error = got;
				e->error_message = plumb_xstrdup(why);
			}
			break;
		}
		if (got == 1 && e->imported + content.len > JSONNET_IMPORTS_MAX) {
			why = plumb_xprintf("the imports are larger than %u bytes together", JSONNET_IMPORTS_MAX);
			free(found);
			break;
		}
		if (got == 1) {
			e->imported += content.len;
			*found_here = jsonnet_string(e, found);
			PLUMB_GROW(e->read, e->read_count, e->read_capacity);
			e->read[e->read_count++] = found;
			*success = 1;
			result = jsonnet_string(e, content.ptr);
			goto done;
		}
	}
	if (!why)
		why = plumb_xprintf("no such file in the commit (looked in %s)", looked.ptr);
done:
	if (!result)
		result = jsonnet_string(e, why);
	free(why);
	free(dir);
	plumb_buf_release(&content);
	plumb_buf_release(&looked);
	return result;
}

/* --- libjsonnet's errors -------------------------------------------------------------------------- */

/*
 * A location "FILE:L:C...", "FILE:(L:C)-(L:C)" at text, for a file this
 * evaluation read: the position (borrowing the name from e) and where the
 * location ends, or NULL.
 */
static const char *parse_location(const evaluation *e, const char *text, plumb_position *pos)
{
	for (size_t i = 0; i < e->read_count; i++) {
		size_t n = strlen(e->read[i]);
		if (strncmp(text, e->read[i], n) != 0 || text[n] != ':')
			continue;
		const char *c = text + n + 1;
		if (*c == '(')
			c++;
		char *end;
		unsigned long line = strtoul(c, &end, 10);
		if (end == c || *end != ':')
			continue;
		c = end + 1;
		unsigned long column = strtoul(c, &end, 10);
		if (end == c)
			continue;
		pos->file = e->read[i];
		pos->line = (unsigned)line;
		pos->column = (unsigned)column;
		while (*end && *end != ':' && *end != '\t' && *end != '\n' && *end != ' ')
			end++;
		return end;
	}
	return NULL;
}

/* libjsonnet's message as a diagnostic at the place it names (else the file), trimmed to its first part. */
static void report_error(const evaluation *e, const char *message, const char *file, plumb_diags *diags)
{
	static const char static_head[] = "STATIC ERROR: ", runtime_head[] = "RUNTIME ERROR: ";
	plumb_position pos = { file, 0, 0 };
	/* "runtime error:" is left out: a sanitizer's reports begin so, and the tests look for them. */
	const char *what = "jsonnet error", *text = message, *stop;
	if (!strncmp(text, static_head, sizeof(static_head) - 1)) {
		what = "jsonnet static error";
		text += sizeof(static_head) - 1;
		const char *after = parse_location(e, text, &pos);
		if (after && after[0] == ':' && after[1] == ' ')
			text = after + 2;
		stop = strchr(text, '\n');
	} else {
		if (!strncmp(text, runtime_head, sizeof(runtime_head) - 1))
			text += sizeof(runtime_head) - 1;
		/* The message runs to the stack trace, whose first place in a file of the program is the error's. */
		stop = strstr(text, "\n\t");
		for (const char *line = stop; line; line = strstr(line + 1, "\n\t"))
			if (parse_location(e, line + 2, &pos))
				break;
	}
	size_t n = stop ? (size_t)(stop - text) : strlen(text);
	while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
		n--;
	plumb_buf shown = PLUMB_BUF_INIT;
	for (size_t i = 0; i < n && i < MESSAGE_SHOWN; i++)
		plumb_buf_putc(&shown, text[i] == '\n' || text[i] == '\t' ? ' ' : text[i]);
	if (n > MESSAGE_SHOWN)
		plumb_buf_puts(&shown, " ...");
	plumb_diags_add(diags, pos, "%s: %s", what, shown.ptr);
	plumb_buf_release(&shown);
}

/* --- the output ---------------------------------------------------------------------------------- */

static const char *type_name(struct fy_node *node)
{
	if (fy_node_is_sequence(node))
		return "an array";
	if (fy_node_is_mapping(node))
		return "an object";
	const char *text = fy_node_get_scalar0(node);
	if (fy_node_get_style(node) == FYNS_DOUBLE_QUOTED)
		return "a string";
	if (text && (!strcmp(text, "true") || !strcmp(text, "false")))
		return "a boolean";
	if (text && !strcmp(text, "null"))
		return "null";
	return "a number";
}

/* True for a Kubernetes list (kind List, or FooList) with items: its items are the manifests. */
static struct fy_node *list_items(struct fy_node *object)
{
	struct fy_node *kind = fy_node_mapping_lookup_by_string(object, "kind", FY_NT);
	struct fy_node *items = fy_node_mapping_lookup_by_string(object, "items", FY_NT);
	const char *text = kind ? fy_node_get_scalar0(kind) : NULL;
	size_t n = text ? strlen(text) : 0;
	if (n >= 4 && !strcmp(text + n - 4, "List") && items && fy_node_is_sequence(items))
		return items;
	return NULL;
}

static void add_object(plumb_buf *out, struct fy_node *object)
{
	if (out->len)
		plumb_buf_puts(out, "---\n");
	plumb_render_yaml_write(out, object);
}

/* The manifests of node (an object, a list's items, an array's elements) appended to out. */
static void add_manifests(plumb_buf *out, struct fy_node *node, const char *where, plumb_position pos,
			  plumb_diags *diags)
{
	struct fy_node *items = fy_node_is_mapping(node) ? list_items(node) : NULL;
	if (fy_node_is_mapping(node) && !items) {
		add_object(out, node);
		return;
	}
	if (!items && !fy_node_is_sequence(node)) {
		plumb_diags_add(diags, pos, "jsonnet output%s is %s, not an object or an array of objects", where,
				type_name(node));
		return;
	}
	void *iter = NULL;
	struct fy_node *item;
	for (size_t i = 0; (item = fy_node_sequence_iterate(items ? items : node, &iter)) != NULL; i++) {
		if (fy_node_is_mapping(item) && !list_items(item)) {
			add_object(out, item);
			continue;
		}
		char *inner = plumb_xprintf("%s%s[%zu]", where, items ? ".items" : "", i);
		if (fy_node_is_mapping(item))
			add_manifests(out, item, inner, pos, diags);
		else
			plumb_diags_add(diags, pos, "jsonnet output%s is %s, not an object", inner, type_name(item));
		free(inner);
	}
}

/* --- evaluating -------------------------------------------------------------------------------- */

/* Evaluate in the calling thread: the manifests in *manifests, every path looked up in *lookups. */
static int evaluate_here(plumb_buf *manifests, plumb_source_lookups *lookups, plumb_source *source,
			 const char *commit, const char *file, const char *app_path, const char *jsonnet_options,
			 size_t limit, plumb_diags *diags)
{
	settings s = { jsonnet_make(), NULL, 0, 0 };
	evaluation e = { &s, source, commit, NULL, 0, 0, 0, 0, NULL, lookups };
	plumb_position pos = { file, 0, 0 };
	plumb_buf text = PLUMB_BUF_INIT;
	size_t diags_before = diags->count;
	char *result = NULL, *found = NULL, *why = NULL;
	struct fy_document *doc = NULL;
	int failed = 0, error;

	jsonnet_max_stack(s.vm, JSONNET_STACK_MAX);
	jsonnet_max_trace(s.vm, 20);
	jsonnet_import_callback(s.vm, import_callback, &e);
	apply_options(&s, jsonnet_options, app_path, pos, diags);
	if (diags->count > diags_before) {
		error = PLUMB_EINVALID;
		goto done;
	}
	error = read_import(&e, file, &found, &text, &why);
	if (error == 0)
		error = plumb_error_set(PLUMB_ENOTFOUND, "%s: no such file in commit %.12s", file, commit);
	if (error == PLUMB_EINVALID)
		plumb_diags_add(diags, pos, "%s", why);
	if (error < 0)
		goto done;
	PLUMB_GROW(e.read, e.read_count, e.read_capacity);
	e.read[e.read_count++] = plumb_xstrdup(file);

	result = jsonnet_evaluate_snippet(s.vm, file, text.ptr, &failed);
	if (e.error < 0) {
		/* Not the program's fault: the repository could not be read. */
		error = plumb_error_set(e.error, "%s", e.error_message);
		goto done;
	}
	if (failed) {
		report_error(&e, result, file, diags);
		goto finish;
	}
	if (strlen(result) > limit) {
		plumb_diags_add(diags, pos, "jsonnet output is larger than %zu bytes", limit);
		goto finish;
	}
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_JSON_FORCE };
	doc = fy_document_build_from_string(&cfg, result, strlen(result));
	if (!doc || !fy_document_root(doc)) {
		plumb_diags_add(diags, pos, "jsonnet output could not be read back as JSON");
		goto finish;
	}
	add_manifests(manifests, fy_document_root(doc), "", pos, diags);
finish:
	error = diags->count > diags_before ? PLUMB_EINVALID : 0;
done:
	fy_document_destroy(doc);
	if (result)
		jsonnet_realloc(s.vm, result, 0);
	jsonnet_destroy(s.vm);
	for (size_t i = 0; i < s.search_count; i++)
		free(s.search[i]);
	free(s.search);
	for (size_t i = 0; i < e.read_count; i++)
		free(e.read[i]);
	free(e.read);
	free(e.error_message);
	free(found);
	free(why);
	plumb_buf_release(&text);
	return error;
}

int plumb_jsonnet_evaluate(plumb_buf *out, plumb_source *source, const char *commit, const char *file,
			   const char *app_path, const char *jsonnet_options, const plumb_render_options *options,
			   plumb_diags *diags)
{
	plumb_source_lookups lookups = { NULL, 0, 0 };
	plumb_buf manifests = PLUMB_BUF_INIT;
	size_t limit = plumb_render_output_max(options);
	const char *state_dir = options ? options->state_dir : NULL;
	char key[65];
	int error;

	/* What the output depends on besides what it looks up, which the entry keeps. */
	char *what = plumb_xprintf("jsonnet evaluation\n%s\n%s\n%s\n%s\n", jsonnet_version(), file,
				   app_path ? app_path : "", jsonnet_options ? jsonnet_options : "");
	plumb_hash_sha256_hex(key, what, strlen(what));
	free(what);
	if (state_dir && plumb_jsonnet_cache_read(out, state_dir, key, source, commit, limit) == 0)
		return 0;

	if (options && options->self)
		error = plumb_jsonnet_child_run(&manifests, &lookups, source, commit, file, app_path, jsonnet_options,
						options, diags);
	else
		error = evaluate_here(&manifests, &lookups, source, commit, file, app_path, jsonnet_options, limit,
				      diags);
	if (error == 0)
		plumb_buf_add(out, manifests.ptr, manifests.len);
	if (error == 0 && state_dir)
		plumb_jsonnet_cache_write(state_dir, key, &lookups, &manifests);
	plumb_source_lookups_release(&lookups);
	plumb_buf_release(&manifests);
	return error;
}
