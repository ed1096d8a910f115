/*
 * json.h - each record the store keeps, as JSON: the one shape that the
 * API of plumb serve and the command line (-o json, audit export) both
 * print, so that they agree field for field. docs/api.md ("Records")
 * documents every shape.
 *
 * Each function returns a new JSON value (the caller owns its reference:
 * json_decref). Text that came from outside plumb is repaired to UTF-8
 * (util/json.h); times are "2026-11-21T22:24:41Z", or null for never. No
 * record holds a secret value: the store keeps none, and a sensitive
 * object's content is never kept nor shown.
 */
#ifndef PLUMB_STORE_JSON_H
#define PLUMB_STORE_JSON_H

#include <jansson.h>

#include "store/store.h"

/* The kept content of a drift event is shown up to this size: the start of it, at a whole character. */
#define PLUMB_DRIFT_CONTENT_SHOWN_MAX (64u << 10)

/* SYNC: one sync; with actions (NULL: none given), also "actions": [ACTION]. */
json_t *plumb_sync_record_json(const plumb_sync_record *sync, const plumb_action_records *actions);

/* [SYNC], in the records' order. */
json_t *plumb_sync_records_json(const plumb_sync_records *syncs);

/* ACTION: what became of one action of a sync. */
json_t *plumb_action_record_json(const plumb_action_record *action);

/*
 * DRIFT: one drift event, with the content its repair overwrote when that
 * was kept and is text, read beneath the state directory open at state_fd
 * (-1: none is read; "content" is then ""). The store names the file,
 * never a request; it is not read through a symlink.
 */
json_t *plumb_drift_record_json(const plumb_drift_record *event, int state_fd);

/* [DRIFT], in the records' order; state_fd as above. */
json_t *plumb_drift_records_json(const plumb_drift_records *events, int state_fd);

/*
 * APPROVAL: a plan that waited for a person, and what became of it; with
 * with_plan, also "plan": the plan file document (docs/plan-format.md), or
 * a string if an edit broke it.
 */
json_t *plumb_approval_record_json(const plumb_approval_record *approval, int with_plan);

/* [APPROVAL] without their plans, in the records' order. */
json_t *plumb_approval_records_json(const plumb_approval_records *approvals);

/* AUDIT: one entry of the audit log, its hashes included. */
json_t *plumb_audit_entry_json(const plumb_audit_entry *entry);

/* [AUDIT], in the entries' order. */
json_t *plumb_audit_entries_json(const plumb_audit_entries *entries);

#endif
