/*
 * versions.h - what the renderers said their versions were, each believed
 * for a minute: a command asks each program once, not once a folder (nor
 * once for discovery and again for the application), and a daemon notices
 * an upgraded program within a minute. The version is part of every cache
 * key (render.h), so asking it is what a warm render would otherwise spend
 * its time on. Not thread-safe: one set a source, as the parse cache is.
 */
#ifndef PLUMB_RENDER_VERSIONS_H
#define PLUMB_RENDER_VERSIONS_H

typedef struct plumb_render_versions plumb_render_versions;

plumb_render_versions *plumb_render_versions_new(void);
void plumb_render_versions_free(plumb_render_versions *versions);

/*
 * The version program said it was (asked with option, NULL for none) less
 * than a minute ago, borrowed from versions until the next put; NULL when
 * it was not asked, or longer ago, or versions is NULL.
 */
const char *plumb_render_versions_find(plumb_render_versions *versions, const char *program, const char *option);

/* Remember version (copied) as program's, asked now. Nothing when versions is NULL. */
void plumb_render_versions_put(plumb_render_versions *versions, const char *program, const char *option,
			       const char *version);

#endif
