#!/usr/bin/env bash
# The record of what plumb did: after two syncs, 'history' lists them newest
# first and 'history show' one with its actions; 'audit verify' finds the
# hash chain intact and 'audit export' prints it as JSON lines whose hashes
# chain and can be computed again from the documented form. Then the log is
# tampered with through sqlite3: the triggers refuse, and once they are
# dropped an edited entry and a removed one are each reported by id.
. "$(dirname "$0")/lib.sh"

REPO="$T/repo"
ROOT="$T/root"
STATE="$T/state"
DB="$STATE/plumb.db"

plumb() {
	capture "$PLUMB" "$@"
}

# --- two syncs ---------------------------------------------------------------------------------

make_repo "$REPO"
mkdir -p "$REPO/apps"
cat >"$REPO/apps/host.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: motd}
spec: {path: /etc/motd, content: "first\n"}
---
apiVersion: host/v1
kind: Directory
metadata: {name: app}
spec: {path: /srv/app}
EOF
commit_all "$REPO" "first"
C1=$(head_of "$REPO")
plumb sync --repo "$REPO" --root "$ROOT" --state "$STATE"
expect_rc "first sync exits 0" 0

sed -i 's/first/second/' "$REPO/apps/host.yaml"
cat >>"$REPO/apps/host.yaml" <<'EOF'
---
apiVersion: host/v1
kind: File
metadata: {name: app-conf}
spec: {path: /srv/app/app.conf, content: "port = 80\n"}
EOF
commit_all "$REPO" "second"
C2=$(head_of "$REPO")
plumb sync --repo "$REPO" --root "$ROOT" --state "$STATE"
expect_rc "second sync exits 0" 0

# --- history -----------------------------------------------------------------------------------

plumb history --state "$STATE"
line_c2=$(grep -n " ${C2:0:7} " <<<"$OUT" | cut -d: -f1)
line_c1=$(grep -n " ${C1:0:7} " <<<"$OUT" | cut -d: -f1)
if [ "$RC" = 0 ] && [ -n "$line_c2" ] && [ -n "$line_c1" ] && [ "$line_c2" -lt "$line_c1" ] &&
	[ "$(grep -c ' succeeded$' <<<"$OUT")" = 2 ]; then
	ok "history lists both syncs, newest first, with their commits"
else
	fail "history lists both syncs, newest first, with their commits" "c1 $C1" "c2 $C2" "$(show)"
fi

plumb history --state "$STATE" -o json
summary=$(python3 -c 'import json, sys
syncs = json.load(sys.stdin)["syncs"]
print(" ".join("%d:%s:%s:%d/%d/%d:%s" % (s["id"], s["commit"], s["result"], s["created"], s["updated"],
	s["deleted"], s["application"]) for s in syncs))' <<<"$OUT")
APP=${summary##*:}
if [ "$RC" = 0 ] && [ "$summary" = "2:$C2:succeeded:1/1/0:$APP 1:$C1:succeeded:2/0/0:$APP" ]; then
	ok "history -o json gives ids, commits, results and counts, newest first"
else
	fail "history -o json gives ids, commits, results and counts, newest first" "summary: $summary" "$(show)"
fi

plumb history --state "$STATE" --limit 1
if [ "$RC" = 0 ] && contains "$OUT" " ${C2:0:7} " && ! contains "$OUT" " ${C1:0:7} "; then
	ok "history --limit 1 shows only the newest sync"
else
	fail "history --limit 1 shows only the newest sync" "$(show)"
fi

plumb history "$APP" --limit=5 --root "$ROOT" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" " ${C2:0:7} " && contains "$OUT" " ${C1:0:7} "; then
	ok "history APP --root DIR lists that application's syncs into DIR"
else
	fail "history APP --root DIR lists that application's syncs into DIR" "$(show)"
fi

plumb history no-such-app --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "No syncs recorded" && ! contains "$OUT" "${C1:0:7}"; then
	ok "history of an application never synced lists nothing"
else
	fail "history of an application never synced lists nothing" "$(show)"
fi

plumb history --state "$STATE" --limit nine
if [ "$RC" = 1 ] && contains "$ERR" "--limit"; then
	ok "history --limit refuses what is not a number"
else
	fail "history --limit refuses what is not a number" "$(show)"
fi

plumb history show 2 --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "Sync 2: succeeded" && contains "$OUT" "$C2" &&
	contains "$OUT" "1 created, 1 updated, 0 deleted" && contains "$OUT" "etc/motd" &&
	contains "$OUT" "srv/app/app.conf"; then
	ok "history show ID prints the sync and its actions"
else
	fail "history show ID prints the sync and its actions" "$(show)"
fi

plumb history show 2 --state "$STATE" -o json
actions=$(python3 -c 'import json, sys
doc = json.load(sys.stdin)
print(doc["commit"], " ".join(sorted("%s:%s:%s" % (a["action"], a["key"], a["outcome"]) for a in doc["actions"])))' <<<"$OUT")
if [ "$RC" = 0 ] && contains "$actions" "$C2 " && contains "$actions" "update:etc/motd:changed" &&
	contains "$actions" "create:srv/app/app.conf:changed"; then
	ok "history show ID -o json gives the sync and its actions"
else
	fail "history show ID -o json gives the sync and its actions" "actions: $actions" "$(show)"
fi

plumb history show 999 --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "no sync 999"; then
	ok "history show of an unknown id exits 1 saying so"
else
	fail "history show of an unknown id exits 1 saying so" "$(show)"
fi

# --- audit verify and export -------------------------------------------------------------------

plumb audit verify --state "$STATE"
if [ "$RC" = 0 ] && [[ "$OUT" =~ ^audit\ log\ intact:\ [0-9]+\ entries$ ]]; then
	ok "audit verify finds the log intact after two syncs"
else
	fail "audit verify finds the log intact after two syncs" "$(show)"
fi
ENTRIES=$(sed -n 's/^audit log intact: \([0-9]*\) entries$/\1/p' <<<"$OUT")

plumb audit export --state "$STATE"
printf '%s\n' "$OUT" >"$T/export.jsonl"
# Every line a JSON object; ids 1..N; each previous_hash the hash of the line
# before; each hash the SHA-256 of the form 'plumb help audit' documents.
check_export='import calendar, hashlib, json, sys, time
lines = [l for l in open(sys.argv[1]) if l.strip()]
previous = "0" * 64
events = []
for n, line in enumerate(lines, 1):
    e = json.loads(line)
    assert set(e) == {"id", "at", "actor", "event", "subject", "detail", "previous_hash", "hash"}, e
    assert e["id"] == n, "line %d has id %d" % (n, e["id"])
    assert e["previous_hash"] == previous, "entry %d does not chain" % n
    assert isinstance(e["detail"], dict), e
    at = calendar.timegm(time.strptime(e["at"], "%Y-%m-%dT%H:%M:%SZ"))
    detail = json.dumps(e["detail"], separators=(",", ":"), ensure_ascii=False)
    text = "\n".join([e["previous_hash"], str(e["id"]), str(at), e["actor"], e["event"], e["subject"], detail])
    assert hashlib.sha256(text.encode()).hexdigest() == e["hash"], "entry %d: hash differs" % n
    previous = e["hash"]
    events.append(e["event"])
print(len(lines), " ".join(events))'
result=$(python3 -c "$check_export" "$T/export.jsonl" 2>&1)
count=${result%% *}
if [ "$RC" = 0 ] && [ "$count" = "$ENTRIES" ] && [ "$count" -ge 4 ]; then
	ok "audit export prints JSON lines whose hashes chain and recompute"
else
	fail "audit export prints JSON lines whose hashes chain and recompute" "check: $result" "$(show)"
fi
# Each sync: its begin, its actions, its finish.
events=${result#* }
if [[ "$events" =~ ^sync\.begin(\ action)+\ sync\.finish\ sync\.begin(\ action)+\ sync\.finish$ ]]; then
	ok "the log holds each sync's begin, actions and finish in order"
else
	fail "the log holds each sync's begin, actions and finish in order" "events: $events"
fi

# --- tampering ---------------------------------------------------------------------------------

# A copy of the intact store to delete from, later.
sqlite3 "$DB" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
cp -a "$STATE" "$T/state-delete"

capture sqlite3 "$DB" "UPDATE audit SET detail = '{}' WHERE id = 3;"
if [ "$RC" != 0 ] && contains "$ERR" "the audit log is append-only"; then
	ok "the store refuses an UPDATE of the audit log"
else
	fail "the store refuses an UPDATE of the audit log" "$(show)"
fi
capture sqlite3 "$DB" "DELETE FROM audit WHERE id = 3;"
if [ "$RC" != 0 ] && contains "$ERR" "the audit log is append-only"; then
	ok "the store refuses a DELETE from the audit log"
else
	fail "the store refuses a DELETE from the audit log" "$(show)"
fi
plumb audit verify --state "$STATE"
expect_rc "the refused edits leave the log intact" 0

check "drop the trigger and edit entry 3" sqlite3 "$DB" \
	"DROP TRIGGER audit_no_update; UPDATE audit SET detail = '{\"forged\":true}' WHERE id = 3;"
plumb audit verify --state "$STATE"
if [ "$RC" = 1 ] && contains "$OUT" "audit log broken at entry 3: " && contains "$OUT" "entry 3's hash"; then
	ok "audit verify exits 1 naming the edited entry 3"
else
	fail "audit verify exits 1 naming the edited entry 3" "$(show)"
fi

check "drop the trigger and delete entry 2" sqlite3 "$T/state-delete/plumb.db" \
	"DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE id = 2;"
plumb audit verify --state "$T/state-delete"
if [ "$RC" = 1 ] && contains "$OUT" "audit log broken at entry 2: entry 2 is missing: the chain jumps from 1 to 3"; then
	ok "audit verify exits 1 naming the deleted entry 2"
else
	fail "audit verify exits 1 naming the deleted entry 2" "$(show)"
fi

# --- an empty log, and usage -------------------------------------------------------------------

plumb audit verify --state "$T/empty-state"
if [ "$RC" = 0 ] && [ "$OUT" = "audit log intact: 0 entries" ]; then
	ok "an empty audit log is intact"
else
	fail "an empty audit log is intact" "$(show)"
fi

plumb audit --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "usage: plumb audit"; then
	ok "audit without verify or export prints its usage and exits 1"
else
	fail "audit without verify or export prints its usage and exits 1" "$(show)"
fi
