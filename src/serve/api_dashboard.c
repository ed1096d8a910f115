#include "util/common.h"
#include "serve/api_dashboard.h"
#include "serve/web.h"

/*
 * The dashboard's files. Besides the policy that keeps the page to its
 * own scripts and styles, it may not be framed (clickjacking its buttons)
 * nor tell other sites where it was.
 */
void plumb_api_dashboard(plumb_response *response, const plumb_request *request, void *payload)
{
	const plumb_web_asset *asset = plumb_web_asset_find(request->path);
	if (!asset) {
		plumb_response_error(response, 404, "not found");
		return;
	}
	response->status = 200;
	response->content_type = asset->content_type;
	plumb_buf_add(&response->body, asset->data, asset->size);
	plumb_response_header(response, "Content-Security-Policy", PLUMB_WEB_CSP);
	plumb_response_header(response, "Referrer-Policy", "no-referrer");
	plumb_response_header(response, "X-Frame-Options", "DENY");
}
