#include "util/common.h"
#include "resource/resource.h"

#include <stdlib.h>

plumb_object *plumb_manifest_add_object(plumb_manifest_set *set, size_t resource, const char *kind, const char *key,
					void *desired, plumb_position position)
{
	const plumb_provider *provider = set->resources[resource].provider;
	PLUMB_GROW(set->objects, set->object_count, set->object_capacity);
	plumb_object *object = &set->objects[set->object_count++];
	memset(object, 0, sizeof(*object));
	object->provider = provider;
	/* One allocation for both names: there is one object per managed file. */
	object->display = plumb_xprintf("/%s", key);
	object->key = object->display + 1;
	object->kind = kind;
	object->resource = resource;
	object->position = position;
	object->inventoried = 1;
	object->desired = desired;
	return object;
}

plumb_object *plumb_manifest_add_object_named(plumb_manifest_set *set, size_t resource, const char *kind,
					      const char *key, const char *display, void *desired,
					      plumb_position position)
{
	plumb_object *object = plumb_manifest_add_object(set, resource, kind, "", desired, position);
	size_t display_length = strlen(display), key_length = strlen(key);
	/* Still one allocation, freed with display: "DISPLAY\0KEY\0". */
	free(object->display);
	object->display = plumb_xmalloc(display_length + key_length + 2);
	memcpy(object->display, display, display_length + 1);
	object->key = object->display + display_length + 1;
	memcpy(object->key, key, key_length + 1);
	return object;
}

plumb_object_secret *plumb_object_add_secret(plumb_object *object, const char *name, const char *field,
					     plumb_position position)
{
	object->secrets = plumb_xrealloc(object->secrets, (object->secret_count + 1) * sizeof(*object->secrets));
	plumb_object_secret *secret = &object->secrets[object->secret_count++];
	memset(secret, 0, sizeof(*secret));
	secret->name = plumb_xstrdup(name);
	secret->field = plumb_xstrdup(field);
	secret->position = position;
	return secret;
}

void plumb_object_release_secrets(plumb_object *object)
{
	for (size_t i = 0; i < object->secret_count; i++) {
		free(object->secrets[i].name);
		free(object->secrets[i].field);
	}
	free(object->secrets);
	object->secrets = NULL;
	object->secret_count = 0;
}

void plumb_manifest_add_content_path(plumb_manifest_set *set, const char *path)
{
	PLUMB_GROW(set->content_paths, set->content_path_count, set->content_path_capacity);
	set->content_paths[set->content_path_count++] = plumb_xstrdup(path);
}

void plumb_resource_release(plumb_resource *r)
{
	free(r->api_version);
	free(r->kind);
	free(r->name);
	free(r->identity);
	free(r->file);
	free(r->json);
	free(r->yaml);
}
