#include "util/common.h"
#include "serve/web.h"

#include <pthread.h>

/*
 * The files are assembled into .rodata by .incbin, which the assemblers
 * of gcc and clang both know: no generator, no xxd, nothing but the
 * compiler. Paths are relative to the repository's top, where make runs
 * the compiler. Each file's size is assembled beside it (end - start,
 * worked out by the assembler) rather than found by subtracting C
 * pointers to two different objects.
 */
#define PLUMB_WEB_EMBED(symbol, file)                                                                          \
	__asm__(".pushsection .rodata\n"                                                                        \
		".balign 16\n"                                                                                  \
		#symbol ":\n"                                                                                   \
		".incbin \"" file "\"\n"                                                                        \
		#symbol "_end:\n"                                                                               \
		".balign 4\n"                                                                                   \
		#symbol "_size:\n"                                                                              \
		".int " #symbol "_end - " #symbol "\n"                                                          \
		".popsection\n");                                                                               \
	extern const unsigned char symbol[] __attribute__((visibility("hidden")));                            \
	extern const unsigned int symbol##_size __attribute__((visibility("hidden")))

PLUMB_WEB_EMBED(plumb_web_index_html, "web/index.html");
PLUMB_WEB_EMBED(plumb_web_app_js, "web/app.js");
PLUMB_WEB_EMBED(plumb_web_style_css, "web/style.css");

static plumb_web_asset assets[3];
static pthread_once_t assets_once = PTHREAD_ONCE_INIT;

/*
 * The sizes are data the assembler wrote, not constants the compiler
 * knows, so the table cannot be a static initializer: it is filled once,
 * at first use, and only read after that.
 */
static void fill_assets(void)
{
	assets[0] = (plumb_web_asset){ "/index.html", "text/html; charset=utf-8", plumb_web_index_html,
				       plumb_web_index_html_size };
	assets[1] = (plumb_web_asset){ "/app.js", "text/javascript; charset=utf-8", plumb_web_app_js,
				       plumb_web_app_js_size };
	assets[2] = (plumb_web_asset){ "/style.css", "text/css; charset=utf-8", plumb_web_style_css,
				       plumb_web_style_css_size };
}

const plumb_web_asset *plumb_web_asset_find(const char *path)
{
	pthread_once(&assets_once, fill_assets);
	if (!strcmp(path, "/"))
		path = "/index.html";
	for (size_t i = 0; i < PLUMB_ARRAY_SIZE(assets); i++)
		if (!strcmp(path, assets[i].path))
			return &assets[i];
	return NULL;
}
