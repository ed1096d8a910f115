/*
 * web.h - the dashboard's files, embedded in the binary at build time.
 *
 * web/index.html, web/app.js and web/style.css are assembled into
 * read-only data by the compiler itself (.incbin, see web.c), so that
 * plumb serve needs no file beside it and serves exactly the dashboard it
 * was built with. The Makefile rebuilds web.o when any of them changes.
 */
#ifndef PLUMB_WEB_H
#define PLUMB_WEB_H

#include <stddef.h>

/*
 * The Content-Security-Policy every dashboard response carries: scripts,
 * styles and calls to the API from the dashboard itself only, no inline
 * script or style, no plugins, no framing. The assets are written to it.
 */
#define PLUMB_WEB_CSP                                                                                          \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "  \
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

typedef struct {
	const char *path;         /* as requested: "/index.html" */
	const char *content_type; /* "text/html; charset=utf-8", ... */
	const unsigned char *data; /* size bytes, not NUL-terminated */
	size_t size;
} plumb_web_asset;

/*
 * The asset served at path ("/" is "/index.html"), or NULL. Static data:
 * nothing to free, safe from any thread.
 */
const plumb_web_asset *plumb_web_asset_find(const char *path);

#endif
