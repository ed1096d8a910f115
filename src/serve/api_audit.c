#include "util/common.h"
#include "serve/api_audit.h"
#include "serve/api_common.h"
#include "store/json.h"

/* Audit entries in one answer: by default, and at most. */
#define AUDIT_PAGE 100
#define AUDIT_PAGE_MAX 1000

/* A page of the audit log, newest first, and whether its hash chain holds. */
void plumb_api_audit_list(plumb_response *response, const plumb_request *request, void *payload)
{
	plumb_audit_entries entries = { 0 };
	plumb_audit_verification verification = { 0 };
	plumb_store *store = NULL;
	const char *limit_text = plumb_server_query(request, "limit");
	const char *before_text = plumb_server_query(request, "before");
	int64_t limit = limit_text ? plumb_api_parse_id(limit_text) : AUDIT_PAGE;
	int64_t before = before_text ? plumb_api_parse_id(before_text) : 0;

	if (!limit || (before_text && !before)) {
		plumb_response_error(response, 400, "limit and before must be positive numbers");
		goto done;
	}
	if (!(store = plumb_api_open_store(response, payload)))
		goto done;
	if (plumb_store_audit_list(&entries, store, before, limit > AUDIT_PAGE_MAX ? AUDIT_PAGE_MAX : (unsigned)limit) < 0 ||
	    plumb_store_audit_verify(&verification, store) < 0) {
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
		goto done;
	}
	plumb_api_respond(response, 200,
		json_pack("{s:o, s:b, s:I, s:s}", "entries", plumb_audit_entries_json(&entries), "intact",
			  verification.first_bad_id == 0, "first_bad_id", (json_int_t)verification.first_bad_id, "problem",
			  verification.problem ? verification.problem : ""));
done:
	plumb_audit_verification_release(&verification);
	plumb_audit_entries_release(&entries);
	plumb_store_free(store);
}

void plumb_api_audit_verify(plumb_response *response, const plumb_request *request, void *payload)
{
	plumb_audit_verification verification = { 0 };
	plumb_store *store = plumb_api_open_store(response, payload);
	if (!store)
		return;
	if (plumb_store_audit_verify(&verification, store) < 0)
		plumb_response_error(response, 500, "store: %s", plumb_error_last());
	else
		plumb_api_respond(response, 200,
			json_pack("{s:b, s:I, s:I, s:s}", "intact", verification.first_bad_id == 0, "entries",
				  (json_int_t)verification.entries, "first_bad_id", (json_int_t)verification.first_bad_id,
				  "problem", verification.problem ? verification.problem : ""));
	plumb_audit_verification_release(&verification);
	plumb_store_free(store);
}
