#include "util/common.h"
#include "render/kustomize_edit.h"
#include "util/buf.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libfyaml.h>
#include <stdlib.h>
#include <unistd.h>

/* The largest kustomization edited. */
#define KUSTOMIZATION_EDIT_MAX (1u << 20)

static json_t *kustomize_options(const plumb_render_job *job)
{
	json_t *options = job->options ? json_loads(job->options, 0, NULL) : NULL;
	json_t *kustomize = json_incref(json_object_get(options, "kustomize"));
	json_decref(options);
	return kustomize;
}

void plumb_kustomize_components(plumb_render_args *args, const plumb_render_job *job)
{
	json_t *kustomize = kustomize_options(job), *item;
	size_t i;
	json_array_foreach(json_object_get(kustomize, "components"), i, item)
		plumb_render_args_add(args, json_string_value(item));
	json_decref(kustomize);
}

/* The list field name of kustomization, made when it is not one. */
static json_t *list_of(json_t *kustomization, const char *name)
{
	json_t *list = json_object_get(kustomization, name);
	if (!json_is_array(list)) {
		list = json_array();
		json_object_set_new(kustomization, name, list);
	}
	return list;
}

/* The entry of list whose "name" is name, or NULL. */
static json_t *entry_named(json_t *list, const char *name)
{
	size_t i;
	json_t *entry;
	json_array_foreach(list, i, entry) {
		const char *n = json_string_value(json_object_get(entry, "name"));
		if (n && !strcmp(n, name))
			return entry;
	}
	return NULL;
}

/*
 * An image override as `kustomize edit set image` reads it:
 * NAME[=NEWNAME][:TAG][@DIGEST], where a ":" before the last "/" belongs
 * to a registry's port, not a tag.
 */
static void set_image(json_t *images, const char *override)
{
	char *text = plumb_xstrdup(override);
	char *equals = strchr(text, '=');
	char *reference = equals ? equals + 1 : text;
	if (equals)
		*equals = '\0';
	char *digest = strchr(reference, '@');
	if (digest)
		*digest++ = '\0';
	char *slash = strrchr(reference, '/');
	char *colon = strrchr(reference, ':');
	char *tag = colon && (!slash || colon > slash) ? colon : NULL;
	if (tag)
		*tag++ = '\0';
	const char *name = equals ? text : reference;
	json_t *entry = entry_named(images, name);
	if (!entry) {
		entry = json_pack("{s:s}", "name", name);
		json_array_append_new(images, entry);
	}
	if (equals && *reference)
		json_object_set_new(entry, "newName", json_string(reference));
	if (tag) {
		json_object_set_new(entry, "newTag", json_string(tag));
		json_object_del(entry, "digest");
	}
	if (digest) {
		json_object_set_new(entry, "digest", json_string(digest));
		json_object_del(entry, "newTag");
	}
	free(text);
}

static void edit(json_t *kustomization, json_t *kustomize)
{
	static const char *const replaced[] = { "namePrefix", "nameSuffix", "namespace" };
	for (size_t i = 0; i < sizeof(replaced) / sizeof(replaced[0]); i++) {
		json_t *value = json_object_get(kustomize, replaced[i]);
		if (value)
			json_object_set(kustomization, replaced[i], value);
	}
	size_t i;
	json_t *item;
	json_array_foreach(json_object_get(kustomize, "images"), i, item)
		set_image(list_of(kustomization, "images"), json_string_value(item));
	static const char *const merged[] = { "commonLabels", "commonAnnotations" };
	for (size_t k = 0; k < 2; k++) {
		json_t *values = json_object_get(kustomize, merged[k]);
		if (!json_object_size(values))
			continue;
		json_t *into = json_object_get(kustomization, merged[k]);
		if (!json_is_object(into)) {
			into = json_object();
			json_object_set_new(kustomization, merged[k], into);
		}
		json_object_update(into, values);
	}
	json_array_foreach(json_object_get(kustomize, "replicas"), i, item) {
		json_t *replicas = list_of(kustomization, "replicas");
		json_t *entry = entry_named(replicas, json_string_value(json_object_get(item, "name")));
		if (entry)
			json_object_set(entry, "count", json_object_get(item, "count"));
		else
			json_array_append(replicas, item);
	}
	json_array_foreach(json_object_get(kustomize, "components"), i, item) {
		json_t *components = list_of(kustomization, "components"), *written;
		size_t k;
		int present = 0;
		json_array_foreach(components, k, written)
			present |= json_equal(written, item);
		if (!present)
			json_array_append(components, item);
	}
	json_array_foreach(json_object_get(kustomize, "patches"), i, item)
		json_array_append(list_of(kustomization, "patches"), item);
}

int plumb_kustomize_edit(const plumb_render_job *job, const char *folder, plumb_position where, plumb_diags *diags)
{
	static const char *const names[] = { "kustomization.yaml", "kustomization.yml", "Kustomization" };
	json_t *kustomize = kustomize_options(job), *kustomization = NULL;
	plumb_buf text = PLUMB_BUF_INIT;
	char *file = NULL, *json = NULL, *emitted = NULL;
	struct fy_document *doc = NULL;
	int error = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !file; i++) {
		char *candidate = plumb_xprintf("%s/%s", folder, names[i]);
		if (access(candidate, F_OK) == 0)
			file = candidate;
		else
			free(candidate);
	}
	if (!file)
		goto done; /* render_kind found one: the copy holds it */
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		error = plumb_error_set(PLUMB_ERROR, "reading %s: %s", file, strerror(errno));
		goto done;
	}
	error = plumb_buf_read_fd(&text, fd, KUSTOMIZATION_EDIT_MAX);
	close(fd);
	if (error < 0)
		goto done;
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 };
	doc = fy_document_build_from_string(&cfg, text.ptr, text.len);
	emitted = doc ? fy_emit_document_to_string(doc, FYECF_MODE_JSON_ONELINE) : NULL;
	kustomization = emitted ? json_loads(emitted, 0, NULL) : NULL;
	if (!json_is_object(kustomization)) {
		/* kustomize reports what it cannot read, unless options were to be made on it. */
		if (json_object_size(kustomize)) {
			plumb_diags_add(diags, where, "the kustomization does not parse as a mapping, so the "
					"application's kustomize options cannot be applied to it");
			error = PLUMB_EINVALID;
		}
		goto done;
	}
	edit(kustomization, kustomize);
	/* Where each object was written, for the loader to place it (and take out). */
	json_t *build_metadata = list_of(kustomization, "buildMetadata"), *item;
	size_t k;
	int asked = 0;
	json_array_foreach(build_metadata, k, item)
		asked |= json_is_string(item) && !strcmp(json_string_value(item), "originAnnotations");
	if (!asked)
		json_array_append_new(build_metadata, json_string("originAnnotations"));
	/* JSON is YAML: kustomize reads it as the kustomization it edited would read. */
	json = json_dumps(kustomization, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (unlink(file) < 0 || (error = plumb_fs_write_path(file, json, strlen(json), 0444)) < 0)
		error = error < 0 ? error : plumb_error_set(PLUMB_ERROR, "editing %s: %s", file, strerror(errno));
done:
	json_decref(kustomize);
	json_decref(kustomization);
	fy_document_destroy(doc);
	free(emitted);
	free(json);
	free(file);
	plumb_buf_release(&text);
	return error;
}
