#!/usr/bin/env bash
# Plans that wait for a person: a sync creates the store, then plans are
# seeded straight into its approvals table with sqlite3 (as the daemon
# would leave them). 'approvals' lists them newest first, 'approvals show'
# prints one as 'plumb plan' would, 'approve' and 'reject' decide a pending
# one as user@host with a note and refuse anything else by id and state, and
# the audit log records each decision (without the plan) and stays intact.
. "$(dirname "$0")/lib.sh"

REPO="$T/repo"
ROOT="$T/root"
STATE="$T/state"
DB="$STATE/plumb.db"
ACTOR="$(id -un)@$(uname -n)"

plumb() {
	capture "$PLUMB" "$@"
}

sql() {
	sqlite3 -batch "$DB" "$@"
}

# --- a store, and a plan to wait --------------------------------------------------------------

make_repo "$REPO"
mkdir -p "$REPO/apps"
cat >"$REPO/apps/host.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: motd}
spec: {path: /etc/motd, content: "first\n"}
EOF
commit_all "$REPO" "first"
plumb sync --repo "$REPO" --root "$ROOT" --state "$STATE"
expect_rc "sync creates the store" 0

sed -i 's/first/second/' "$REPO/apps/host.yaml"
commit_all "$REPO" "second"
C2=$(head_of "$REPO")
plumb plan --repo "$REPO" --root "$ROOT" --state "$STATE" -o json
expect_rc "plan -o json exits 0" 0
printf '%s\n' "$OUT" >"$T/plan.json"
APP=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["application"])' "$T/plan.json")
DEST=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["destination"])' "$T/plan.json")
SUMMARY="Plan: 0 to create, 1 to update, 0 to delete."

seed() { # APPLICATION STATE CREATED_AT
	sql "INSERT INTO approvals (destination, application, commit_id, plan, summary, state, requested_by,
		decided_by, note, created_at, decided_at)
		VALUES ('$DEST', '$1', '$C2', CAST(readfile('$T/plan.json') AS TEXT), '$SUMMARY', '$2',
		'plumbd@test', '', '', $3, 0);"
}
seed "$APP" pending 1700000000
seed other pending 1700000060
seed "$APP" applied 1700000120
check "three plans seeded" test "$(sql 'SELECT count(*) FROM approvals')" = 3

# --- approvals ---------------------------------------------------------------------------------

plumb approvals --state "$STATE"
rows=$(grep -E '^ +[0-9]+ ' <<<"$OUT" | awk '{print $1, $5}' | tr '\n' ' ')
if [ "$RC" = 0 ] && [ "$rows" = "3 applied 2 pending 1 pending " ] && contains "$OUT" "${C2:0:7} " &&
	contains "$OUT" "$SUMMARY" && contains "$OUT" "DECIDED BY"; then
	ok "approvals lists the plans newest first with state, commit and summary"
else
	fail "approvals lists the plans newest first with state, commit and summary" "rows: $rows" "$(show)"
fi

plumb approvals --state "$STATE" --limit 1
if [ "$RC" = 0 ] && [ "$(grep -cE '^ +[0-9]+ ' <<<"$OUT")" = 1 ] && grep -qE '^ +3 ' <<<"$OUT"; then
	ok "approvals --limit 1 lists the newest only"
else
	fail "approvals --limit 1 lists the newest only" "$(show)"
fi

plumb approvals --state "$STATE" --root "$T/elsewhere"
if [ "$RC" = 0 ] && contains "$OUT" "No plans awaiting approval recorded"; then
	ok "approvals --root of another root lists none"
else
	fail "approvals --root of another root lists none" "$(show)"
fi

plumb approvals --state "$STATE" -o json
printf '%s\n' "$OUT" >"$T/list.json"
if [ "$RC" = 0 ] && python3 - "$T/list.json" "$APP" "$C2" <<'EOF'; then
import json, sys
doc = json.load(open(sys.argv[1]))
items = doc["approvals"]
assert [a["id"] for a in items] == [3, 2, 1], items
assert [a["state"] for a in items] == ["applied", "pending", "pending"], items
a = items[2]
assert a["application"] == sys.argv[2] and a["commit"] == sys.argv[3], a
assert a["created_at"] == "2023-11-14T22:13:20Z" and a["decided_at"] is None, a
assert a["requested_by"] == "plumbd@test" and a["decided_by"] == "", a
assert all("plan" not in a for a in items), "the list carries no plan bodies"
EOF
	ok "approvals -o json"
else
	fail "approvals -o json" "$(show)"
fi

# --- approvals show ----------------------------------------------------------------------------

plumb approvals show 1 --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "Plan 1: pending" && contains "$OUT" "Commit:       $C2" &&
	contains "$OUT" "~ File /etc/motd: content changed  (host/v1/File/motd)" &&
	contains "$OUT" "    -first" && contains "$OUT" "    +second" && [ "$(tail -n 1 <<<"$OUT")" = "$SUMMARY" ]; then
	ok "approvals show prints the plan's actions and diffs as plan does"
else
	fail "approvals show prints the plan's actions and diffs as plan does" "$(show)"
fi

plumb approvals show 1 --state "$STATE" -o json
printf '%s\n' "$OUT" >"$T/show.json"
if [ "$RC" = 0 ] && python3 - "$T/show.json" <<'EOF'; then
import json, sys
doc = json.load(open(sys.argv[1]))
assert doc["id"] == 1 and doc["state"] == "pending", doc
assert doc["plan"]["format"] == "plumb-plan", doc["plan"]
assert doc["plan"]["actions"][0]["path"] == "/etc/motd", doc["plan"]
EOF
	ok "approvals show -o json embeds the plan document"
else
	fail "approvals show -o json embeds the plan document" "$(show)"
fi

plumb approvals show 99 --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "no plan 99"; then
	ok "approvals show of a missing plan exits 1 naming it"
else
	fail "approvals show of a missing plan exits 1 naming it" "$(show)"
fi

# --- approve and reject ------------------------------------------------------------------------

plumb approve 1 --state "$STATE" --note "ticket 42"
if [ "$RC" = 0 ] && contains "$OUT" "Plan 1 of $APP (commit ${C2:0:7}) approved by $ACTOR." &&
	[ "$(sql "SELECT state || '|' || decided_by || '|' || note || '|' || (decided_at > 0) FROM approvals WHERE id = 1")" = "approved|$ACTOR|ticket 42|1" ]; then
	ok "approve records the plan approved by user@host with the note"
else
	fail "approve records the plan approved by user@host with the note" "$(show)" "$(sql 'SELECT * FROM approvals WHERE id = 1')"
fi

plumb approvals show 1 --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "Plan 1: approved" && contains "$OUT" "Decided by:   $ACTOR" &&
	contains "$OUT" "Note:         ticket 42"; then
	ok "approvals show says who approved it and why"
else
	fail "approvals show says who approved it and why" "$(show)"
fi

plumb approve 1 --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "plan 1 is approved, not pending"; then
	ok "approving an approved plan exits 1 naming its id and state"
else
	fail "approving an approved plan exits 1 naming its id and state" "$(show)"
fi

plumb reject 1 --state "$STATE" --note "too late"
if [ "$RC" = 1 ] && contains "$ERR" "plan 1 is approved, not pending" &&
	[ "$(sql 'SELECT state || note FROM approvals WHERE id = 1')" = "approvedticket 42" ]; then
	ok "rejecting an approved plan exits 1 and changes nothing"
else
	fail "rejecting an approved plan exits 1 and changes nothing" "$(show)"
fi

plumb reject --note="not on a Friday" 2 --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "Plan 2 of other (commit ${C2:0:7}) rejected by $ACTOR." &&
	[ "$(sql "SELECT state || '|' || decided_by || '|' || note FROM approvals WHERE id = 2")" = "rejected|$ACTOR|not on a Friday" ]; then
	ok "reject --note=TEXT records the plan rejected with the reason"
else
	fail "reject --note=TEXT records the plan rejected with the reason" "$(show)"
fi

plumb approvals --state "$STATE"
if [ "$RC" = 0 ] && grep -qE "^ +2 .* rejected .*$ACTOR\$" <<<"$OUT" && contains "$OUT" "note: not on a Friday"; then
	ok "approvals shows who decided and the note"
else
	fail "approvals shows who decided and the note" "$(show)"
fi

plumb approve 3 --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "plan 3 is applied, not pending"; then
	ok "approving an applied plan exits 1 naming its id and state"
else
	fail "approving an applied plan exits 1 naming its id and state" "$(show)"
fi

plumb approve 99 --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "no plan 99"; then
	ok "approving a missing plan exits 1 naming it"
else
	fail "approving a missing plan exits 1 naming it" "$(show)"
fi

plumb approve abc --state "$STATE"
expect_rc "approve of something that is not an id exits 1" 1
plumb reject 2 --state "$STATE" --note
if [ "$RC" = 1 ] && contains "$ERR" "--note needs a value"; then
	ok "--note without a value exits 1"
else
	fail "--note without a value exits 1" "$(show)"
fi
plumb approve --state "$STATE"
expect_rc "approve without an id exits 1" 1
plumb approve 1 2 --state "$STATE"
expect_rc "approve of two ids exits 1" 1

# --- the audit log -----------------------------------------------------------------------------

plumb audit verify --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "audit log intact"; then
	ok "audit verify: the chain is intact after the decisions"
else
	fail "audit verify: the chain is intact after the decisions" "$(show)"
fi

plumb audit export --state "$STATE"
printf '%s\n' "$OUT" >"$T/audit.jsonl"
if [ "$RC" = 0 ] && python3 - "$T/audit.jsonl" "$ACTOR" "$APP" <<'EOF'; then
import json, sys
entries = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
decisions = [e for e in entries if e["event"].startswith("approval.")]
assert [e["event"] for e in decisions] == ["approval.approve", "approval.reject"], decisions
approve, reject = decisions
assert approve["actor"] == sys.argv[2] and approve["subject"] == sys.argv[3], approve
assert approve["detail"] == {"id": 1, "actor": sys.argv[2], "note": "ticket 42"}, approve
assert reject["detail"] == {"id": 2, "actor": sys.argv[2], "note": "not on a Friday"}, reject
for e in decisions:
    assert "plumb-plan" not in json.dumps(e) and "+second" not in json.dumps(e), e
EOF
	ok "audit export records each decision, without the plan"
else
	fail "audit export records each decision, without the plan" "$(show)"
fi

[ "$TAP_FAILED" -eq 0 ]
