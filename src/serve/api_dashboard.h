/*
 * api_dashboard.h - the dashboard's files (web.h), with the headers that
 * keep the page to its own scripts and styles, unframed, and silent to
 * other sites about where it was. No payload; a plumb_handler (server.h).
 */
#ifndef PLUMB_SERVE_API_DASHBOARD_H
#define PLUMB_SERVE_API_DASHBOARD_H

#include "serve/server.h"

/* GET /, /index.html, /app.js, /style.css: the asset, or 404. */
void plumb_api_dashboard(plumb_response *response, const plumb_request *request, void *payload);

#endif
