#!/usr/bin/env bash
# The dashboard's side of plumb serve, by real curl requests against a real
# daemon: the embedded assets (Content-Type, Content-Security-Policy and
# the other security headers, the bytes of web/), sessions (sign in for a
# cookie, its flags, the CSRF token a change needs, sign out, SIGHUP ending
# every session, a bearer token still working), and the read endpoints the
# pages use: applications with their commit's subject, objects, one sync
# with its actions, drift events with the content kept, the plan that
# waits, and the audit log by pages. The command line's -o json (and audit
# export) gives each of those records exactly as the API does. A sensitive
# File's content appears in no answer and no output.
#
# Two daemons on local repositories (loopback, port 0):
#   auto      approval auto: a hand edit repaired by inotify (content kept)
#   prompted  approval prompted: its first plan waits, approved by a session
. "$(dirname "$0")/lib.sh"

REPO="$T/repo"
VIEWER='tok-viewer-3f9a0c'
OPERATOR='tok-operator-b7e214'
TOKENS="$T/tokens"
APP=repo # the implicit application of the repository's top
WEB="$(cd "$(dirname "$0")/../.." && pwd)/web"
SECRET_VALUE='S3NSITIVE-dash-e2e-8c1f'
# A subject with what HTML would make something of: it must come back as the same text.
SUBJECT='motd: <b>bold</b> & "quoted" <script>x</script>'
CSP="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

declare -A DPID DPORT DLOG DROOT DSTATE

# How long a daemon may take to do what it is waited for, on a slow and busy machine: every wait
# polls for what it waits for, and only a failure waits this long.
WAIT_MS=60000

sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

# holds FILE TEXT: FILE holds exactly TEXT and a newline (binary content and all).
holds() { printf '%s\n' "$2" | cmp -s - "$1"; }

url() { echo "http://127.0.0.1:${DPORT[$1]}$2"; }

# api INSTANCE METHOD PATH [CURL ARGS...]: CODE, BODY and HEADERS of the response (CODE 000 when no answer).
api() {
	local name=$1 method=$2 path=$3
	shift 3
	CODE=$(curl -sS --max-time 30 -o "$T/.body" -D "$T/.headers" -w '%{http_code}' -X "$method" "$@" \
		"$(url "$name" "$path")" 2>"$T/.curl")
	BODY=$(cat "$T/.body" 2>/dev/null)
	HEADERS=$(tr -d '\r' <"$T/.headers" 2>/dev/null)
	# Every answer is kept: the sensitive content is looked for in all of them at the end.
	printf '%s %s\n%s\n%s\n' "$method" "$path" "$HEADERS" "$BODY" >>"$T/answers"
	return 0
}
bearer() { echo "Authorization: Bearer $1"; }

# header NAME: the value of one header of the last answer (case-insensitive name).
header() { printf '%s\n' "$HEADERS" | awk -v n="$(echo "$1" | tr 'A-Z' 'a-z')" 'BEGIN { FS = ": " } tolower($1) == n { sub(/^[^:]*: /, ""); print; exit }'; }

# json EXPRESSION: evaluate a Python expression over the last answer's body (as d); prints it, fails on an error.
json() { printf '%s' "$BODY" | python3 -c 'import json, sys; d = json.load(sys.stdin); v = eval(sys.argv[1]); print(v if not isinstance(v, bool) else str(v).lower())' "$1" 2>>"$T/.py"; }

# expect NAME CODE [PYTHON CODE [ARGS...]]: the last answer had status CODE and the code's assertions
# about its body (d) hold; ARGS are sys.argv[2:].
expect() {
	local name=$1 code=$2 check=${3:-pass}
	shift $(($# < 3 ? $# : 3))
	if [ "$CODE" = "$code" ] && printf '%s' "$BODY" | python3 -c '
import json, sys
d = json.loads(sys.stdin.read() or "null")
exec(sys.argv[1])' "$check" "$@" 2>"$T/.py"; then
		ok "$name"
	else
		fail "$name" "got $CODE: $BODY" "$(cat "$T/.py")"
	fi
}

# start_serve NAME [FLAGS...]: plumb serve of $REPO on a free loopback port, ready once /healthz answers.
start_serve() {
	local name=$1 port=
	shift
	DROOT[$name]="$T/root-$name"
	DSTATE[$name]="$T/state-$name"
	DLOG[$name]="$T/serve-$name.log"
	"$PLUMB" serve --repo "$REPO" --root "${DROOT[$name]}" --state "${DSTATE[$name]}" --listen 127.0.0.1:0 \
		--tokens "$TOKENS" --interval 10m --self-heal-interval 10m "$@" 2>"${DLOG[$name]}" &
	DPID[$name]=$!
	serving_port() {
		port=$(sed -n 's/.* msg=serving .* port=\([0-9][0-9]*\).*/\1/p' "${DLOG[$name]}" | head -n 1)
		[ -n "$port" ]
	}
	if ! wait_for "$WAIT_MS" serving_port; then
		fail "plumb serve ($name) starts" "$(log_tail "$name")"
		return 1
	fi
	DPORT[$name]=$port
	healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$(url "$name" /healthz)")" = 200 ]; }
	if wait_for "$WAIT_MS" healthy; then
		ok "plumb serve ($name) is ready"
	else
		fail "plumb serve ($name) is ready" "$(log_tail "$name")"
		return 1
	fi
}

trap serve_cleanup EXIT

# app_field INSTANCE FIELD: one field of GET /api/v1/applications/repo; fails without an answer.
app_field() {
	curl -sf --max-time 30 -H "$(bearer "$VIEWER")" "$(url "$1" "/api/v1/applications/$APP")" |
		python3 -c 'import json, sys; v = json.load(sys.stdin)[sys.argv[1]]; print("" if v is None else v)' "$2" 2>/dev/null
}
app_is() { local v; v=$(app_field "$1" "$2") && [ "$v" = "$3" ]; }
app_set() { local v; v=$(app_field "$1" "$2") && [ -n "$v" ]; }

# agree NAME API_EXPRESSION CLI_EXPRESSION: what the Python expressions pick (from d) of the last
# answer and of the last capture's output is equal JSON. For a list, each of the API's records
# must be the command line's record of the same id (the command line may list more: others'
# records, newer ones). Every output goes to $T/cli-outputs, where the sensitive content is
# looked for at the end.
agree() {
	printf '%s' "$BODY" >"$T/api.json"
	printf '%s' "$OUT" >"$T/cli.json"
	printf '%s\n' "$OUT" >>"$T/cli-outputs"
	if [ "$RC" = 0 ] && python3 - "$2" "$3" "$T/api.json" "$T/cli.json" >"$T/.agree" 2>&1 <<'EOF'
import json, sys
def pick(expression, path):
    d = json.load(open(path))
    return eval(expression)
api, cli = pick(sys.argv[1], sys.argv[3]), pick(sys.argv[2], sys.argv[4])
show = lambda r: json.dumps(r, sort_keys=True)
if isinstance(api, list):
    assert api, "the API gave no record"
    by_id = {r["id"]: r for r in cli}
    for r in api:
        assert r == by_id.get(r["id"]), "record %s\nAPI: %s\nCLI: %s" % (r["id"], show(r), show(by_id.get(r["id"])))
else:
    assert api == cli, "API: %s\nCLI: %s" % (show(api), show(cli))
EOF
	then
		ok "$1"
	else
		fail "$1" "exit $RC" "$(cat "$T/.agree")"
	fi
}

# --- set up --------------------------------------------------------------------------------

{
	echo "# name role sha256(token)"
	echo "alice viewer $(sha "$VIEWER")"
	echo "bob operator $(sha "$OPERATOR")"
} >"$TOKENS"

make_repo "$REPO"
cat >"$REPO/app.yaml" <<EOF
apiVersion: host/v1
kind: File
metadata: {name: motd}
spec: {path: /etc/motd, content: "hello\n"}
---
apiVersion: host/v1
kind: File
metadata: {name: app-conf}
spec: {path: /etc/app.conf, content: "port = 8080\n"}
---
apiVersion: host/v1
kind: File
metadata: {name: secret-conf}
spec:
  path: /etc/secret.conf
  content: "key = $SECRET_VALUE\n"
  mode: "0600"
  sensitive: true
EOF
commit_all "$REPO" "$SUBJECT"
C1=$(head_of "$REPO")

start_serve auto || exit 1
start_serve prompted --approval prompted || exit 1

if wait_for "$WAIT_MS" app_is auto synced_commit "$C1"; then
	ok "auto: the startup sync reaches the commit"
else
	fail "auto: the startup sync reaches the commit" "$(log_tail auto)"
fi
if wait_for "$WAIT_MS" app_set prompted pending_approval; then
	ok "prompted: a plan waits after startup"
else
	fail "prompted: a plan waits after startup" "$(log_tail prompted)"
fi

# =========================================================================================
# the dashboard's files
# =========================================================================================

for asset in /:index.html:text/html /index.html:index.html:text/html /app.js:app.js:text/javascript /style.css:style.css:text/css; do
	IFS=: read -r path file type <<<"$asset"
	api auto GET "$path"
	if [ "$CODE" = 200 ] && [ "$(header Content-Type)" = "$type; charset=utf-8" ] && cmp -s "$T/.body" "$WEB/$file"; then
		ok "GET $path without a token: 200, $type; charset=utf-8, the bytes of web/$file"
	else
		fail "GET $path without a token: 200, $type; charset=utf-8, the bytes of web/$file" "got $CODE" "$HEADERS"
	fi
	if [ "$(header Content-Security-Policy)" = "$CSP" ] && [ "$(header X-Content-Type-Options)" = nosniff ] &&
		[ "$(header Referrer-Policy)" = no-referrer ] && [ "$(header X-Frame-Options)" = DENY ] &&
		[ "$(header Cache-Control)" = no-store ]; then
		ok "GET $path: Content-Security-Policy, nosniff, no-referrer, X-Frame-Options DENY"
	else
		fail "GET $path: Content-Security-Policy, nosniff, no-referrer, X-Frame-Options DENY" "$HEADERS"
	fi
done
api auto GET /nothing.js
expect "GET /nothing.js: 404" 404
api auto GET /api/v1/applications -H "$(bearer "$VIEWER")"
if [ "$(header X-Content-Type-Options)" = nosniff ] && [ "$(header Content-Type)" = application/json ]; then
	ok "API answers are application/json with X-Content-Type-Options: nosniff"
else
	fail "API answers are application/json with X-Content-Type-Options: nosniff" "$HEADERS"
fi

# =========================================================================================
# sessions
# =========================================================================================

JAR="$T/jar"
api auto POST /api/v1/session --data-binary "{\"token\":\"$OPERATOR\"}"
expect "POST /api/v1/session without Content-Type: application/json: 415" 415
api auto POST /api/v1/session -H 'Content-Type: application/json' --data-binary '{"token":"tok-nobody"}'
expect "POST /api/v1/session with an unknown token: 401" 401 'assert "error" in d'
api auto POST /api/v1/session -H 'Content-Type: application/json' --data-binary '{"tok":1}'
expect "POST /api/v1/session without a token: 400" 400
api auto POST /api/v1/session -H 'Content-Type: application/json' --data-binary "{\"token\":\"$OPERATOR\"}" -c "$JAR"
expect "POST /api/v1/session with an operator token: 201 {name, role, csrf}" 201 \
	'assert d["name"] == "bob" and d["role"] == "operator" and len(d["csrf"]) == 64'
CSRF=$(json 'd["csrf"]')
cookie=$(header Set-Cookie)
SESSION_ID=$(sed -n 's/^plumb_session=\([0-9a-f]*\);.*/\1/p' <<<"$cookie")
if [[ "$SESSION_ID" =~ ^[0-9a-f]{64}$ ]] && [ "$cookie" = "plumb_session=$SESSION_ID; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200" ]; then
	ok "the session cookie: plumb_session, 32 random bytes in hex; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200"
else
	fail "the session cookie: plumb_session, 32 random bytes in hex; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200" "$cookie"
fi
[ "$SESSION_ID" != "$CSRF" ] || fail "the CSRF token is not the session id"

api auto GET /api/v1/applications -b "$JAR"
expect "GET /api/v1/applications with the session cookie: 200" 200 'assert d["applications"][0]["name"] == "repo"'
api auto GET /api/v1/session -b "$JAR"
expect "GET /api/v1/session with the cookie: the name, role and the same CSRF token" 200 \
	"assert d == {'name': 'bob', 'role': 'operator', 'csrf': '$CSRF'}"
api auto GET /api/v1/session -H "$(bearer "$VIEWER")"
expect "GET /api/v1/session with a bearer token: its name and role, no CSRF token" 200 \
	"assert d == {'name': 'alice', 'role': 'viewer', 'csrf': ''}"
api auto GET /api/v1/session
expect "GET /api/v1/session with neither: 401" 401
api auto GET /api/v1/applications -H "Cookie: plumb_session=$(printf '%064d' 0)"
expect "a made-up session id: 401" 401

api auto POST "/api/v1/applications/$APP/sync" -b "$JAR"
expect "POST sync with the cookie and no X-CSRF-Token: 403, missing or wrong CSRF token" 403 \
	'assert d["error"] == "missing or wrong CSRF token"'
# The token with its last character changed: "0" unless it already ends in one.
WRONG_CSRF="${CSRF%?}0"
[ "$WRONG_CSRF" != "$CSRF" ] || WRONG_CSRF="${CSRF%?}1"
api auto POST "/api/v1/applications/$APP/sync" -b "$JAR" -H "X-CSRF-Token: $WRONG_CSRF"
expect "POST sync with the cookie and a wrong X-CSRF-Token: 403" 403 'assert d["error"] == "missing or wrong CSRF token"'
api auto POST "/api/v1/applications/$APP/sync" -b "$JAR" -H "X-CSRF-Token: $SESSION_ID"
expect "POST sync with the session id as the CSRF token: 403" 403
api auto POST "/api/v1/applications/$APP/sync" -b "$JAR" -H "X-CSRF-Token: $CSRF"
expect "POST sync with the cookie and the CSRF token (operator): 202" 202 'assert d["queued"] is True'
if wait_for "$WAIT_MS" grep -qE 'msg="sync requested" .*actor=bob' "${DLOG[auto]}"; then
	ok "the session's sync is logged with the token's name"
else
	fail "the session's sync is logged with the token's name" "$(log_tail auto)"
fi
api auto POST "/api/v1/applications/$APP/sync" -H "$(bearer "$OPERATOR")"
expect "POST sync with a bearer token needs no CSRF token: 202" 202
api auto POST "/api/v1/applications/$APP/sync" -H "$(bearer "$VIEWER")"
expect "POST sync with a viewer's bearer token: 403" 403
api auto POST "/api/v1/applications/$APP/sync" -H "$(bearer "tok-nobody")" -b "$JAR" -H "X-CSRF-Token: $CSRF"
expect "an unknown bearer token is refused even beside a good cookie: 401" 401

VJAR="$T/viewer-jar"
api auto POST /api/v1/session -H 'Content-Type: application/json; charset=utf-8' --data-binary "{\"token\":\"$VIEWER\"}" -c "$VJAR"
expect "POST /api/v1/session with a viewer token: 201" 201 'assert d["role"] == "viewer"'
VCSRF=$(json 'd["csrf"]')
api auto POST "/api/v1/applications/$APP/sync" -b "$VJAR" -H "X-CSRF-Token: $VCSRF"
expect "POST sync with a viewer's session and its CSRF token: 403 (the role)" 403 'assert "viewer" in d["error"]'

# Sign out: the cookie is cleared and the session is gone on the server, whoever still holds the id.
api auto DELETE /api/v1/session -b "$JAR"
expect "DELETE /api/v1/session without the CSRF token: 403" 403
api auto DELETE /api/v1/session -b "$JAR" -c "$JAR" -H "X-CSRF-Token: $CSRF"
expect "DELETE /api/v1/session: 200" 200 'assert d["signed_out"] is True'
if [ "$(header Set-Cookie)" = "plumb_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0" ]; then
	ok "signing out clears the cookie (Max-Age=0)"
else
	fail "signing out clears the cookie (Max-Age=0)" "$HEADERS"
fi
api auto GET /api/v1/applications -H "Cookie: plumb_session=$SESSION_ID"
expect "after signing out the old session id is refused: 401" 401
api auto GET /api/v1/applications -b "$JAR"
expect "after signing out the cookie jar holds no session: 401" 401

# SIGHUP reloads the tokens and ends every session.
api auto GET /api/v1/applications -b "$VJAR"
expect "the viewer's session works before SIGHUP" 200
kill -HUP "${DPID[auto]}"
if wait_for "$WAIT_MS" grep -q 'msg="configuration reloaded"' "${DLOG[auto]}"; then ok "SIGHUP reloads"; else fail "SIGHUP reloads" "$(log_tail auto)"; fi
api auto GET /api/v1/applications -b "$VJAR"
expect "after SIGHUP the session is gone: 401" 401 'assert "sign in again" in d["error"]'
api auto GET /api/v1/applications -H "$(bearer "$VIEWER")"
expect "after SIGHUP the bearer token still works" 200
if ! grep -qE "$SESSION_ID|$CSRF|$VCSRF" "${DLOG[auto]}"; then
	ok "no session id or CSRF token in the log"
else
	fail "no session id or CSRF token in the log" "$(grep -E "$SESSION_ID|$CSRF" "${DLOG[auto]}")"
fi

# =========================================================================================
# the read endpoints
# =========================================================================================

api auto GET /api/v1/applications -H "$(bearer "$VIEWER")"
expect "GET /api/v1/applications: commit_subject is the commit's subject, as text" 200 \
	"assert d['applications'][0]['commit_subject'] == sys.argv[2] and d['applications'][0]['revision_commit'] == '$C1'" \
	"$SUBJECT"
api auto GET "/api/v1/applications/$APP" -H "$(bearer "$VIEWER")"
expect "GET /api/v1/applications/NAME: commit_subject too" 200 'assert d["commit_subject"] == sys.argv[2]' "$SUBJECT"

api auto GET "/api/v1/applications/$APP/objects" -H "$(bearer "$VIEWER")"
expect "GET .../objects: the three Files, Synced, the sensitive one marked" 200 '
assert sorted((o["path"], o["kind"], o["status"], o["action"], o["sensitive"]) for o in d["objects"]) == [
  ("/etc/app.conf", "File", "Synced", "none", False),
  ("/etc/motd", "File", "Synced", "none", False),
  ("/etc/secret.conf", "File", "Synced", "none", True)]
assert all(o["resource"].startswith("host/v1/File/") for o in d["objects"])'
api prompted GET "/api/v1/applications/$APP/objects" -H "$(bearer "$VIEWER")"
expect "GET .../objects of the prompted application: each File Missing, to create" 200 '
assert len(d["objects"]) == 3
assert all(o["status"] == "Missing" and o["action"] == "create" for o in d["objects"])'
api auto GET /api/v1/applications/nosuch/objects -H "$(bearer "$VIEWER")"
expect "GET .../objects of an unknown application: 404" 404
api auto GET "/api/v1/applications/$APP/objects"
expect "GET .../objects without a token: 401" 401

# --- history ------------------------------------------------------------------------------------

api auto GET "/api/v1/applications/$APP/history" -H "$(bearer "$VIEWER")"
expect "GET .../history lists the syncs" 200 'assert len(d["syncs"]) >= 1'
SYNC_ID=$(json '[s["id"] for s in d["syncs"] if s["created"] == 3][0]')
api auto GET "/api/v1/applications/$APP/history/$SYNC_ID" -H "$(bearer "$VIEWER")"
expect "GET .../history/ID: the sync and its three actions" 200 "
assert d['id'] == $SYNC_ID and d['result'] == 'succeeded' and d['commit'] == '$C1'
assert sorted((a['key'], a['action'], a['outcome']) for a in d['actions']) == [
  ('etc/app.conf', 'create', 'changed'), ('etc/motd', 'create', 'changed'), ('etc/secret.conf', 'create', 'changed')]
assert all(set(a) >= {'key', 'kind', 'action', 'reason', 'outcome', 'error', 'before', 'after'} for a in d['actions'])"
api auto GET "/api/v1/applications/$APP/history/999999" -H "$(bearer "$VIEWER")"
expect "GET .../history/ID of no sync: 404" 404
api auto GET "/api/v1/applications/$APP/history/abc" -H "$(bearer "$VIEWER")"
expect "GET .../history/abc: 404" 404

# --- drift -----------------------------------------------------------------------------------------

AR=${DROOT[auto]}
# Each hand edit is followed by a sync through the API: inotify would see to it as well, but an edit
# made while the daemon renews its watches after a repair waits for the periodic check.
repair() { curl -s -o /dev/null --max-time 30 -X POST -H "$(bearer "$OPERATOR")" "$(url auto "/api/v1/applications/$APP/sync")"; }
printf 'edited by hand\n<b>not html</b>\n' >"$T/hand"
cp "$T/hand" "$AR/etc/motd"
repair
if wait_for "$WAIT_MS" holds "$AR/etc/motd" hello; then ok "a hand edit of /etc/motd is repaired"; else fail "a hand edit of /etc/motd is repaired" "$(log_tail auto)"; fi
printf 'key = by-hand-%s\n' "$SECRET_VALUE" >"$AR/etc/secret.conf"
repair
if wait_for "$WAIT_MS" holds "$AR/etc/secret.conf" "key = $SECRET_VALUE"; then
	ok "a hand edit of the sensitive file is repaired"
else
	fail "a hand edit of the sensitive file is repaired" "$(log_tail auto)"
fi
printf '\000\001\377binary' >"$AR/etc/app.conf"
repair
if wait_for "$WAIT_MS" holds "$AR/etc/app.conf" "port = 8080"; then ok "a binary hand edit is repaired"; else fail "a binary hand edit is repaired" "$(log_tail auto)"; fi

drift_count() { curl -sf --max-time 30 -H "$(bearer "$VIEWER")" "$(url auto "/api/v1/applications/$APP/drift")" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)["events"]))'; }
wait_for "$WAIT_MS" eval '[ "$(drift_count)" -ge 3 ]'
api auto GET "/api/v1/applications/$APP/drift" -H "$(bearer "$VIEWER")"
expect "GET .../drift: newest first, the text kept, the binary flagged, the sensitive one without content" 200 '
e = d["events"]
ids = [x["id"] for x in e]
motd = [x for x in e if x["key"] == "etc/motd"][0]
conf = [x for x in e if x["key"] == "etc/app.conf"][0]
secret = [x for x in e if x["key"] == "etc/secret.conf"][0]
assert ids == sorted(ids, reverse=True)
assert motd["content"] == open(sys.argv[2]).read() and not motd["content_binary"] and not motd["content_truncated"]
assert motd["kept"] and motd["path"] == "/etc/motd" and motd["kind"] == "File" and not motd["sensitive"]
assert conf["content"] == "" and conf["content_binary"] and conf["kept"]
assert secret["sensitive"] and secret["content"] == "" and not secret["kept"] and not secret["content_binary"]
assert all(set(x) >= {"id", "at", "key", "kind", "commit", "note", "expected", "observed", "sensitive", "content",
                      "content_binary", "content_truncated"} for x in e)' "$T/hand"

# A capture larger than what is shown: the start of it, cut at a whole character.
# Put in place whole (a rename), as an editor saves: a copy's truncation could be captured first.
python3 -c 'import sys; sys.stdout.write("a" + "é" * 40000)' >"$AR/etc/.motd.new"
mv "$AR/etc/.motd.new" "$AR/etc/motd"
repair
wait_for "$WAIT_MS" holds "$AR/etc/motd" hello
wait_for "$WAIT_MS" eval '[ "$(drift_count)" -ge 4 ]'
api auto GET "/api/v1/applications/$APP/drift" -H "$(bearer "$VIEWER")"
expect "GET .../drift: a capture over 64 KiB is shown truncated, at a character boundary" 200 '
x = d["events"][0]
assert x["key"] == "etc/motd" and x["content_truncated"] and not x["content_binary"] and x["size"] == 80001
assert x["content"] == "a" + "é" * 32767, len(x["content"])'

# --- the command line prints the same records ---------------------------------------------------

api auto GET "/api/v1/applications/$APP/history" -H "$(bearer "$VIEWER")"
SYNC_IDS=$(json '" ".join(str(s["id"]) for s in d["syncs"])')
capture "$PLUMB" history "$APP" --state "${DSTATE[auto]}" -o json
agree "history -o json lists the syncs GET .../history does, field for field" 'd["syncs"]' 'd["syncs"]'
for id in $SYNC_IDS; do
	api auto GET "/api/v1/applications/$APP/history/$id" -H "$(bearer "$VIEWER")"
	capture "$PLUMB" history show "$id" --state "${DSTATE[auto]}" -o json
	agree "history show $id -o json is GET .../history/$id: the sync and its actions" d d
done
api auto GET "/api/v1/applications/$APP/drift" -H "$(bearer "$VIEWER")"
capture "$PLUMB" drift log --state "${DSTATE[auto]}" -o json
agree "drift log -o json lists the events GET .../drift does, the content kept included" 'd["events"]' 'd["events"]'

# --- the plan that waits ------------------------------------------------------------------------

api auto GET "/api/v1/applications/$APP/approval" -H "$(bearer "$VIEWER")"
expect "GET .../approval when no plan waits: 404 no plan waits" 404 'assert d["error"] == "no plan waits"'
api prompted GET "/api/v1/applications/$APP/approval" -H "$(bearer "$VIEWER")"
expect "GET .../approval: the plan that waits, as the plan file holds it" 200 "
assert d['summary'] == 'Plan: 3 to create, 0 to update, 0 to delete.' and d['commit'] == '$C1' and d['id'] > 0
assert d['created_at'] and d['requested_by'] and d['plan']['format'] == 'plumb-plan' and d['plan']['commit'] == '$C1'
assert sorted(a['path'] for a in d['plan']['actions']) == ['/etc/app.conf', '/etc/motd', '/etc/secret.conf']
assert [a['sensitive'] for a in d['plan']['actions'] if a['path'] == '/etc/secret.conf'] == [True]"
PLAN_ID=$(json 'd["id"]')
capture "$PLUMB" approvals show "$PLAN_ID" --state "${DSTATE[prompted]}" -o json
agree "approvals show ID -o json is GET .../approval: the plan that waits, and its document" d d

PJAR="$T/prompted-jar"
api prompted POST /api/v1/session -H 'Content-Type: application/json' --data-binary "{\"token\":\"$OPERATOR\"}" -c "$PJAR"
PCSRF=$(json 'd["csrf"]')
api prompted POST "/api/v1/applications/$APP/approve" -b "$PJAR" -H 'Content-Type: application/json' --data-binary "{\"id\":$PLAN_ID}"
expect "approve with the session and no CSRF token: 403" 403
api prompted POST "/api/v1/applications/$APP/approve" -b "$PJAR" -H "X-CSRF-Token: $PCSRF" -H 'Content-Type: application/json' \
	--data-binary "{\"id\":$PLAN_ID}"
expect "approve with the session and its CSRF token: 200, approved" 200 "assert d == {'id': $PLAN_ID, 'state': 'approved'}"
if wait_for "$WAIT_MS" eval '[ -f "${DROOT[prompted]}/etc/motd" ]'; then ok "the approved plan is applied"; else fail "the approved plan is applied" "$(log_tail prompted)"; fi
if wait_for "$WAIT_MS" app_is prompted pending_approval ""; then
	api prompted GET "/api/v1/applications/$APP/approval" -H "$(bearer "$VIEWER")"
	expect "GET .../approval once it is applied: 404" 404
else
	fail "the applied plan no longer waits" "$(log_tail prompted)"
fi
api prompted GET "/api/v1/applications/$APP/objects" -H "$(bearer "$VIEWER")"
expect "after the apply every object is Synced" 200 'assert len(d["objects"]) == 3 and all(o["status"] == "Synced" for o in d["objects"])'

# --- the audit log -----------------------------------------------------------------------------

api auto GET /api/v1/audit -H "$(bearer "$VIEWER")"
expect "GET /api/v1/audit: entries newest first, the chain intact" 200 '
ids = [e["id"] for e in d["entries"]]
assert d["intact"] is True and d["first_bad_id"] == 0 and len(ids) >= 5 and ids == sorted(ids, reverse=True)
assert all(set(e) >= {"id", "at", "actor", "event", "subject", "detail"} for e in d["entries"])
assert isinstance(d["entries"][0]["detail"], dict)'
NEWEST=$(json 'd["entries"][0]["id"]')
api auto GET "/api/v1/audit?limit=2" -H "$(bearer "$VIEWER")"
expect "GET /api/v1/audit?limit=2: the two newest" 200 "assert [e['id'] for e in d['entries']] == [$NEWEST, $NEWEST - 1]"
api auto GET "/api/v1/audit?limit=2&before=$((NEWEST - 1))" -H "$(bearer "$VIEWER")"
expect "GET /api/v1/audit?limit=2&before=ID: the page before ID" 200 "assert [e['id'] for e in d['entries']] == [$NEWEST - 2, $NEWEST - 3]"
api auto GET "/api/v1/audit?limit=5000" -H "$(bearer "$VIEWER")"
expect "GET /api/v1/audit?limit=5000: capped at 1000" 200 "assert len(d['entries']) == min(d['entries'][0]['id'], 1000)"
api auto GET "/api/v1/audit?limit=abc" -H "$(bearer "$VIEWER")"
expect "GET /api/v1/audit?limit=abc: 400" 400
api auto GET "/api/v1/audit?before=0" -H "$(bearer "$VIEWER")"
expect "GET /api/v1/audit?before=0: 400" 400
api auto GET /api/v1/audit
expect "GET /api/v1/audit without a token: 401" 401

for name in auto prompted; do
	api "$name" GET "/api/v1/audit?limit=1000" -H "$(bearer "$VIEWER")"
	capture "$PLUMB" audit export --state "${DSTATE[$name]}"
	OUT=$(printf '%s\n' "$OUT" | python3 -c 'import json, sys; print(json.dumps([json.loads(l) for l in sys.stdin if l.strip()]))')
	agree "$name: audit export prints the entries GET /api/v1/audit does, hashes and all" 'd["entries"]' d
done

# --- a sensitive File's content reaches no answer -------------------------------------------------

for name in auto prompted; do
	for path in /api/v1/applications "/api/v1/applications/$APP" "/api/v1/applications/$APP/objects" \
		"/api/v1/applications/$APP/history" "/api/v1/applications/$APP/drift" "/api/v1/applications/$APP/approval" \
		"/api/v1/audit?limit=1000"; do
		api "$name" GET "$path" -H "$(bearer "$VIEWER")"
	done
	api "$name" GET "/api/v1/applications/$APP/history" -H "$(bearer "$VIEWER")"
	for id in $(json '" ".join(str(s["id"]) for s in d["syncs"])'); do
		api "$name" GET "/api/v1/applications/$APP/history/$id" -H "$(bearer "$VIEWER")"
	done
done
if [ -s "$T/answers" ] && ! grep -q "$SECRET_VALUE" "$T/answers"; then
	ok "the sensitive content is in none of the $(grep -c '^GET \|^POST \|^DELETE ' "$T/answers") answers"
else
	fail "the sensitive content is in none of the answers" "$(grep -B3 "$SECRET_VALUE" "$T/answers" | head -20)"
fi
if [ -s "$T/cli-outputs" ] && ! grep -q "$SECRET_VALUE" "$T/cli-outputs"; then
	ok "the sensitive content is in none of the command line's outputs"
else
	fail "the sensitive content is in none of the command line's outputs" "$(grep -B3 "$SECRET_VALUE" "$T/cli-outputs" | head -20)"
fi
if grep -q "$SECRET_VALUE" "${DROOT[auto]}/etc/secret.conf"; then ok "(the sensitive file itself holds it)"; else fail "(the sensitive file itself holds it)"; fi

stop_and_check auto
stop_and_check prompted
[ "$TAP_FAILED" -eq 0 ]
