#include "util/common.h"
#include "secrets/secret.h"
#include "providers/provider.h"
#include "secrets/age.h"
#include "util/duration.h"
#include "util/hash.h"
#include "util/path.h"
#include "util/process.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

/* An identity file holds a few keys and comments; anything bigger is not one. */
#define IDENTITY_MAX (64u << 10)
/* Armor makes an age file about 4/3 of the value, plus its header. */
#define AGE_FILE_MAX (PLUMB_SECRET_MAX / 3 * 4 + (64u << 10))

static const char age_binary_magic[] = "age-encryption.org/v1\n";
static const char age_armor_begin[] = "-----BEGIN AGE ENCRYPTED FILE-----";

enum { S_AGE, S_ENV, S_FILE, S_COMMAND, S_TIMEOUT, S_TRIM_NEWLINE, S_COUNT };

static const plumb_field secret_fields[] = {
	{ "age", PLUMB_FIELD_STRING, 0 },     { "env", PLUMB_FIELD_STRING, 0 },
	{ "file", PLUMB_FIELD_STRING, 0 },    { "command", PLUMB_FIELD_LIST, 0 },
	{ "timeout", PLUMB_FIELD_STRING, 0 }, { "trimNewline", PLUMB_FIELD_BOOL, 0 },
};

void plumb_secret_release(plumb_secret *secret)
{
	free(secret->name);
	free(secret->reference);
	for (size_t i = 0; i < secret->argc; i++)
		free(secret->argv[i]);
	free(secret->argv);
	memset(secret, 0, sizeof(*secret));
}

static const char *const source_names[] = { "age", "env", "file", "command" };

json_t *plumb_secret_to_json(const plumb_secret *secret)
{
	json_t *argv = json_array();
	for (size_t i = 0; i < secret->argc; i++)
		json_array_append_new(argv, json_string(secret->argv[i]));
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:b, s:s, s:I, s:I}", "name", secret->name, "source",
			 source_names[secret->source], "reference", secret->reference ? secret->reference : "", "blob",
			 secret->blob, "argv", argv, "timeoutMs", (json_int_t)secret->timeout_ms, "trimNewline",
			 secret->trim_newline, "file", secret->position.file ? secret->position.file : "", "line",
			 (json_int_t)secret->position.line, "column", (json_int_t)secret->position.column);
}

int plumb_secret_from_json(plumb_secret *out, char **file, const json_t *json)
{
	const char *name = json_string_value(json_object_get(json, "name"));
	const char *source = json_string_value(json_object_get(json, "source"));
	const char *reference = json_string_value(json_object_get(json, "reference"));
	const char *blob = json_string_value(json_object_get(json, "blob"));
	const char *at = json_string_value(json_object_get(json, "file"));
	json_t *argv = json_object_get(json, "argv");
	size_t kind;
	memset(out, 0, sizeof(*out));
	*file = NULL;
	for (kind = 0; source && kind < PLUMB_ARRAY_SIZE(source_names) && strcmp(source, source_names[kind]); kind++)
		;
	if (!name || !source || kind == PLUMB_ARRAY_SIZE(source_names) || !reference || !blob ||
	    strlen(blob) > PLUMB_OID_HEXSZ || !json_is_array(argv) || !at)
		return plumb_error_set(PLUMB_EINVALID, "not a Secret's reference");
	out->name = plumb_xstrdup(name);
	out->source = (plumb_secret_source)kind;
	out->reference = plumb_xstrdup(reference);
	memcpy(out->blob, blob, strlen(blob) + 1);
	out->argc = json_array_size(argv);
	out->argv = plumb_xcalloc(out->argc + 1, sizeof(*out->argv));
	for (size_t i = 0; i < out->argc; i++) {
		const char *arg = json_string_value(json_array_get(argv, i));
		out->argv[i] = plumb_xstrdup(arg ? arg : "");
	}
	out->timeout_ms = (unsigned)json_integer_value(json_object_get(json, "timeoutMs"));
	out->trim_newline = json_is_true(json_object_get(json, "trimNewline"));
	*file = plumb_xstrdup(at);
	out->position.file = *file;
	out->position.line = (unsigned)json_integer_value(json_object_get(json, "line"));
	out->position.column = (unsigned)json_integer_value(json_object_get(json, "column"));
	return 0;
}

static int valid_variable(const char *name)
{
	if (!*name || (*name >= '0' && *name <= '9'))
		return 0;
	for (const char *p = name; *p; p++)
		if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
			return 0;
	return 1;
}

/* An age file must exist in the commit and look like one: caught by check, before any identity is needed. */
static void check_age_file(plumb_secret *secret, const plumb_value *value, const char *commit, plumb_source *source,
			   plumb_diags *diags)
{
	plumb_source_entry entry;
	plumb_buf text = PLUMB_BUF_INIT;
	char *path = NULL;
	int error;

	if (plumb_path_normalize(&path, value->string, 0) < 0) {
		plumb_diags_add(diags, value->position, "spec.age: %s", plumb_error_last());
		return;
	}
	error = plumb_source_stat(&entry, source, commit, path);
	if (error == PLUMB_ENOTFOUND) {
		plumb_diags_add(diags, value->position, "spec.age: '%s' does not exist in the repository", path);
	} else if (error < 0) {
		plumb_diags_add(diags, value->position, "spec.age: %s", plumb_error_last());
	} else if (entry.type != PLUMB_ENTRY_FILE && entry.type != PLUMB_ENTRY_EXECUTABLE) {
		plumb_diags_add(diags, value->position, "spec.age: '%s' is not a file", path);
	} else if ((error = plumb_source_read_blob(&text, source, entry.id, AGE_FILE_MAX)) < 0) {
		plumb_diags_add(diags, value->position, "spec.age: '%s': %s", path,
				error == PLUMB_EINVALID ? "larger than a secret can be" : plumb_error_last());
	} else {
		const char *start = text.ptr;
		while (*start == ' ' || *start == '\t' || *start == '\r' || *start == '\n')
			start++;
		if (strncmp(text.ptr, age_binary_magic, strlen(age_binary_magic)) != 0 &&
		    strncmp(start, age_armor_begin, strlen(age_armor_begin)) != 0) {
			plumb_diags_add(diags, value->position, "spec.age: '%s' is not an age-encrypted file", path);
		} else {
			memcpy(secret->blob, entry.id, sizeof(secret->blob));
			secret->reference = path;
			path = NULL;
		}
	}
	plumb_buf_release(&text);
	free(path);
}

void plumb_secret_decode(plumb_manifest_set *set, size_t resource, const plumb_spec *spec, plumb_source *source,
			 plumb_diags *diags)
{
	plumb_value v[S_COUNT];
	plumb_secret secret;
	size_t before = diags->count;
	int sources;

	memset(&secret, 0, sizeof(secret));
	secret.name = plumb_xstrdup(set->resources[resource].name);
	secret.resource = resource;
	secret.position = plumb_spec_position(spec);
	secret.timeout_ms = PLUMB_SECRET_TIMEOUT_MS;

	plumb_spec_decode(v, spec, secret_fields, PLUMB_ARRAY_SIZE(secret_fields), diags);
	sources = v[S_AGE].present + v[S_ENV].present + v[S_FILE].present + v[S_COMMAND].present;
	if (sources != 1)
		plumb_diags_add(diags, secret.position,
				"spec: exactly one of \"age\", \"env\", \"file\" and \"command\" is required%s",
				sources ? "" : " (where the value comes from)");
	if (v[S_TIMEOUT].present && !v[S_COMMAND].present)
		plumb_diags_add(diags, v[S_TIMEOUT].position, "spec.timeout: only a command has a timeout");
	if (v[S_TIMEOUT].present && plumb_duration_parse(&secret.timeout_ms, v[S_TIMEOUT].string) < 0)
		plumb_diags_add(diags, v[S_TIMEOUT].position, "spec.timeout: %s", plumb_error_last());
	else if (v[S_TIMEOUT].present && secret.timeout_ms == 0)
		plumb_diags_add(diags, v[S_TIMEOUT].position, "spec.timeout: must be longer than 0");
	secret.trim_newline = v[S_TRIM_NEWLINE].present ? v[S_TRIM_NEWLINE].boolean : v[S_COMMAND].present;

	/* Errors reading the value point at its source. */
	for (int i = S_AGE; i <= S_COMMAND; i++)
		if (sources == 1 && v[i].present)
			secret.position = v[i].position;
	if (sources != 1) {
		/* Already reported. */
	} else if (v[S_AGE].present) {
		secret.source = PLUMB_SECRET_AGE;
		check_age_file(&secret, &v[S_AGE], set->commit, source, diags);
	} else if (v[S_ENV].present) {
		secret.source = PLUMB_SECRET_ENV;
		if (!valid_variable(v[S_ENV].string))
			plumb_diags_add(diags, v[S_ENV].position,
					"spec.env: \"%s\" is not an environment variable name (letters, digits, _)",
					v[S_ENV].string);
		secret.reference = plumb_xstrdup(v[S_ENV].string);
	} else if (v[S_FILE].present) {
		secret.source = PLUMB_SECRET_FILE;
		if (v[S_FILE].string[0] != '/')
			plumb_diags_add(diags, v[S_FILE].position,
					"spec.file: must be an absolute path on the host (a file of the repository "
					"would be plain text in git: use age)");
		secret.reference = plumb_xstrdup(v[S_FILE].string);
	} else {
		secret.source = PLUMB_SECRET_COMMAND;
		if (!v[S_COMMAND].list_count || !*v[S_COMMAND].list[0])
			plumb_diags_add(diags, v[S_COMMAND].position, "spec.command: the program to run is missing");
		secret.argc = v[S_COMMAND].list_count;
		secret.argv = plumb_xcalloc(secret.argc + 1, sizeof(*secret.argv));
		for (size_t i = 0; i < secret.argc; i++)
			secret.argv[i] = plumb_xstrdup(v[S_COMMAND].list[i]);
		secret.reference = plumb_xstrdup(secret.argc ? secret.argv[0] : "");
	}

	if (diags->count == before) {
		PLUMB_GROW(set->secrets, set->secret_count, set->secret_capacity);
		set->secrets[set->secret_count++] = secret;
	} else {
		plumb_secret_release(&secret);
	}
	plumb_values_release(v, PLUMB_ARRAY_SIZE(secret_fields));
}

const plumb_secret *plumb_secret_find(const plumb_manifest_set *set, const char *name)
{
	for (size_t i = 0; i < set->secret_count; i++)
		if (!strcmp(set->secrets[i].name, name))
			return &set->secrets[i];
	return NULL;
}

/* A Secret resource of that name, valid or not (an invalid one has its own diagnostics). */
static int declared(const plumb_manifest_set *set, const char *name)
{
	for (size_t i = 0; i < set->resource_count; i++) {
		const plumb_resource *r = &set->resources[i];
		if (!r->provider && !strcmp(r->kind, "Secret") && !strcmp(r->name, name))
			return 1;
	}
	/* Or one a Flux application carries from the folder that declares it. */
	return plumb_secret_find(set, name) != NULL;
}

void plumb_secret_check_references(const plumb_manifest_set *set, plumb_diags *diags)
{
	for (size_t i = 0; i < set->object_count; i++) {
		const plumb_object *o = &set->objects[i];
		for (size_t k = 0; k < o->secret_count; k++) {
			const plumb_object_secret *reference = &o->secrets[k];
			if (declared(set, reference->name))
				continue;
			plumb_buf known = PLUMB_BUF_INIT;
			for (size_t j = 0; j < set->secret_count; j++)
				plumb_buf_printf(&known, "%s%s", j ? ", " : "", set->secrets[j].name);
			plumb_diags_add(diags, reference->position, "%s: no Secret named \"%s\" here (%s%s)",
					reference->field, reference->name,
					set->secret_count ? "known: " : "none is declared", known.ptr);
			plumb_buf_release(&known);
		}
	}
}

/* --- reading values ------------------------------------------------------------------- */

static int read_env(plumb_buf *out, const plumb_secret *secret)
{
	const char *value = getenv(secret->reference);
	if (!value)
		return plumb_error_set(PLUMB_ENOTFOUND, "environment variable %s is not set", secret->reference);
	if (strlen(value) > PLUMB_SECRET_MAX)
		return plumb_error_set(PLUMB_EINVALID, "environment variable %s is larger than %u bytes",
				       secret->reference, PLUMB_SECRET_MAX);
	plumb_buf_puts(out, value);
	return 0;
}

static int read_host_file(plumb_buf *out, const char *path, size_t max, const char *what)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return plumb_error_set(errno == ENOENT ? PLUMB_ENOTFOUND : PLUMB_ERROR, "cannot read %s %s: %s", what,
				       path, strerror(errno));
	int error = plumb_buf_read_fd(out, fd, max);
	close(fd);
	if (error == PLUMB_EINVALID)
		return plumb_error_set(error, "%s %s is larger than %zu bytes", what, path, max);
	return error < 0 ? plumb_error_wrap(error, "cannot read %s %s", what, path) : 0;
}

/* The first line of what a failed command said, made printable: enough to act on, never its output. */
static void first_line(plumb_buf *out, const plumb_buf *text)
{
	for (size_t i = 0; i < text->len && i < 200 && text->ptr[i] != '\n'; i++) {
		unsigned char c = (unsigned char)text->ptr[i];
		plumb_buf_putc(out, c >= 0x20 && c != 0x7f ? (char)c : '?');
	}
}

static int read_command(plumb_buf *out, const plumb_secret *secret)
{
	plumb_process_result result;
	plumb_buf said = PLUMB_BUF_INIT;
	int error = plumb_process_run(&result, out, secret->argv, secret->timeout_ms, PLUMB_SECRET_MAX);

	if (error < 0)
		goto done;
	first_line(&said, &result.error);
	if (result.timed_out)
		error = plumb_error_set(PLUMB_ERROR, "command %s timed out after %u ms and was killed", secret->argv[0],
					secret->timeout_ms);
	else if (result.overflowed)
		error = plumb_error_set(PLUMB_EINVALID, "command %s printed more than %u bytes", secret->argv[0],
					PLUMB_SECRET_MAX);
	else if (!result.exited)
		error = plumb_error_set(PLUMB_ERROR, "command %s was killed by signal %d", secret->argv[0],
					result.status);
	else if (result.status != 0)
		error = plumb_error_set(PLUMB_ERROR, "command %s exited with status %d%s%s", secret->argv[0],
					result.status, said.len ? ": " : "", said.ptr);
done:
	plumb_buf_release(&said);
	plumb_process_result_release(&result);
	return error;
}

static int read_age(plumb_buf *out, const plumb_secret *secret, const plumb_secret_context *ctx)
{
	plumb_buf identities = PLUMB_BUF_INIT, sealed = PLUMB_BUF_INIT;
	int error = read_host_file(&identities, ctx->identity_file, IDENTITY_MAX, "age identity file");

	if (error == PLUMB_ENOTFOUND)
		error = plumb_error_set(error,
					"no age identity at %s (make one with 'plumb secret keygen', or name one with "
					"--identity)",
					ctx->identity_file);
	if (error < 0)
		goto done;
	/* No repository (a credential of the daemon's): the age file is a file of the host. */
	if (!ctx->source)
		error = read_host_file(&sealed, secret->reference, AGE_FILE_MAX, "age file");
	else
		error = plumb_source_read_blob(&sealed, ctx->source, secret->blob, AGE_FILE_MAX);
	if (error < 0 ||
	    (error = plumb_age_decrypt(out, identities.ptr, identities.len, sealed.ptr, sealed.len,
				       PLUMB_SECRET_MAX)) < 0)
		error = plumb_error_wrap(error, "%s", secret->reference);
done:
	plumb_buf_wipe(&identities);
	plumb_buf_release(&sealed);
	return error;
}

int plumb_secret_read(plumb_buf *out, const plumb_secret *secret, const plumb_secret_context *ctx)
{
	size_t start = out->len;
	int error;

	switch (secret->source) {
	case PLUMB_SECRET_AGE:
		error = read_age(out, secret, ctx);
		break;
	case PLUMB_SECRET_ENV:
		error = read_env(out, secret);
		break;
	case PLUMB_SECRET_FILE:
		error = read_host_file(out, secret->reference, PLUMB_SECRET_MAX, "file");
		break;
	default:
		error = read_command(out, secret);
		break;
	}
	if (error < 0)
		return plumb_error_wrap(error, "Secret %s", secret->name);
	if (secret->trim_newline && out->len > start && out->ptr[out->len - 1] == '\n') {
		size_t cut = out->len > start + 1 && out->ptr[out->len - 2] == '\r' ? 2 : 1;
		explicit_bzero(out->ptr + out->len - cut, cut);
		plumb_buf_truncate(out, out->len - cut);
	}
	return 0;
}

static int used(const plumb_manifest_set *set, const char *name)
{
	for (size_t i = 0; i < set->object_count; i++)
		for (size_t k = 0; k < set->objects[i].secret_count; k++)
			if (!strcmp(set->objects[i].secrets[k].name, name))
				return 1;
	return 0;
}

int plumb_secret_bind(plumb_manifest_set *set, const plumb_secret_context *ctx, plumb_diags *diags)
{
	plumb_buf *values = plumb_xcalloc(set->secret_count ? set->secret_count : 1, sizeof(*values));
	size_t before = diags->count;

	for (size_t i = 0; i < set->secret_count; i++) {
		plumb_buf_init(&values[i]);
		/* A Secret no object uses is not read: a command or an identity it needs may be missing here. */
		if (used(set, set->secrets[i].name) && plumb_secret_read(&values[i], &set->secrets[i], ctx) < 0)
			plumb_diags_add(diags, set->secrets[i].position, "%s", plumb_error_last());
	}
	if (diags->count == before) {
		for (size_t i = 0; i < set->object_count; i++) {
			plumb_object *o = &set->objects[i];
			for (size_t k = 0; k < o->secret_count; k++) {
				const plumb_secret *secret = plumb_secret_find(set, o->secrets[k].name);
				if (!secret)
					continue;
				const plumb_buf *value = &values[secret - set->secrets];
				o->provider->bind_secret(o, k, value->ptr, value->len);
				plumb_hash_blob_buf(o->secrets[k].blob, value->ptr, value->len);
			}
		}
	}
	for (size_t i = 0; i < set->secret_count; i++)
		plumb_buf_wipe(&values[i]);
	free(values);
	return diags->count == before ? 0 : PLUMB_EINVALID;
}
