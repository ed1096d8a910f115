#include "util/common.h"
#include "serve/api_metrics.h"
#include "load/load.h"
#include "serve/internal.h"
#include "util/buf.h"

void plumb_api_healthz(plumb_response *response, const plumb_request *request, void *payload)
{
	plumb_response_json(response, 200, "{\"status\":\"ok\"}");
}

/* The HELP and TYPE lines of a metric family. */
static void metric(plumb_buf *out, const char *name, const char *type, const char *help)
{
	plumb_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void plumb_api_metrics(plumb_response *response, const plumb_request *request, void *payload)
{
	static const struct {
		const char *name, *type, *help;
	} families[] = {
		{ "plumb_syncs_total", "counter", "Syncs that applied changes, by result." },
		{ "plumb_sync_failures_total", "counter", "Syncs that failed." },
		{ "plumb_fetch_failures_total", "counter", "Fetches of the repository that failed." },
		{ "plumb_drift_events_total", "counter", "Times the live state was found drifted from git." },
		{ "plumb_sync_duration_seconds", "summary", "Time spent applying syncs." },
		{ "plumb_last_successful_sync_timestamp_seconds", "gauge", "When the last sync succeeded." },
		{ "plumb_application_synced", "gauge", "1 when the application is Synced." },
		{ "plumb_manifest_loads_total", "counter",
		  "Times the application's manifests were loaded (once a commit; unchanged files are not parsed again)." },
	};
	daemon_state *d = payload;
	plumb_buf *out = &response->body;
	pthread_mutex_lock(&d->mutex);
	for (size_t f = 0; f < PLUMB_ARRAY_SIZE(families); f++) {
		const char *family = families[f].name;
		metric(out, family, families[f].type, families[f].help);
		for (size_t i = 0; i < d->app_count; i++) {
			const app_state *a = d->apps[i];
			const char *n = a->name;
			switch (f) {
			case 0:
				plumb_buf_printf(out, "%s{application=\"%s\",result=\"succeeded\"} %lu\n", family, n,
						 a->syncs_succeeded);
				plumb_buf_printf(out, "%s{application=\"%s\",result=\"failed\"} %lu\n", family, n,
						 a->syncs_failed);
				break;
			case 1:
				plumb_buf_printf(out, "%s{application=\"%s\"} %lu\n", family, n, a->syncs_failed);
				break;
			case 2:
				plumb_buf_printf(out, "%s{application=\"%s\"} %lu\n", family, n, d->fetch_failures);
				break;
			case 3:
				plumb_buf_printf(out, "%s{application=\"%s\"} %lu\n", family, n, a->drift_events);
				break;
			case 4:
				plumb_buf_printf(out, "%s_sum{application=\"%s\"} %.6f\n", family, n, a->sync_seconds_sum);
				plumb_buf_printf(out, "%s_count{application=\"%s\"} %lu\n", family, n, a->sync_seconds_count);
				break;
			case 5:
				plumb_buf_printf(out, "%s{application=\"%s\"} %lld\n", family, n, (long long)a->last_success_at);
				break;
			case 6:
				plumb_buf_printf(out, "%s{application=\"%s\"} %d\n", family, n, !strcmp(a->sync_status, "Synced"));
				break;
			default:
				plumb_buf_printf(out, "%s{application=\"%s\"} %lu\n", family, n, a->manifest_loads);
				break;
			}
		}
	}
	pthread_mutex_unlock(&d->mutex);
	metric(out, "plumb_manifest_files_parsed_total", "counter",
	       "Manifest files parsed; a file whose blob and looked-up paths are unchanged is not parsed again.");
	plumb_buf_printf(out, "plumb_manifest_files_parsed_total %lu\n", plumb_load_files_parsed());
	response->status = 200;
	response->content_type = "text/plain; version=0.0.4";
}
