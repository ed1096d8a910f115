#!/usr/bin/env bash
# plumb serve against a real git daemon on loopback, driven by real curl
# requests: the startup sync, API authentication and roles (tokens file of
# SHA-256 hashes), /healthz and /metrics, push webhooks of every forge (HMAC
# signatures made with openssl), refused webhooks (bad signature, 1 MiB+1
# body), a burst of 200 webhooks, self-heal through inotify with the
# overwritten content kept, --no-self-heal, prompted approval (API approve
# and reject, CLI approve), an unreachable git server and its return, an
# invalid commit, SIGTERM in the middle of a 2000-file sync, and SIGHUP
# reloading the tokens.
#
# Five daemons, each on its own repository, state directory, root and port
# (127.0.0.1:0; the port is read from the "serving" log line):
#   homelab    auto, poll 10m: only a webhook, the API or inotify can explain a sync
#   noheal     --no-self-heal
#   prompted   --approval prompted
#   resilient  poll 1s, to see it ride out the git server going away
#   bulk       a Tree of 2000 files, stopped with SIGTERM while syncing them
# Nothing waits blindly for an outcome, and nothing is timed: every wait
# polls for the expected state (a file's content, an API answer, a metric, a
# log line) with a bound (WAIT_MS) that only a failure reaches, however slow
# or busy the machine. What must NOT happen is checked once the daemon has
# shown that it had its chance (see settled), or, where nothing shows that,
# over a window that says so.
. "$(dirname "$0")/lib.sh"

BASE="$T/served"
SECRET='hook-s3cret-5d1e9a'
VIEWER='tok-viewer-0c5b7e3a'
OPERATOR='tok-operator-91d4f2'
NEWVIEWER='tok-carol-77ab10'
TOKENS="$T/tokens"
SECRET_FILE="$T/webhook-secret"
SCRIPT_START=$(date +%s)

declare -A DPID DPORT DLOG DROOT DSTATE

# How long a daemon may take to do what it is waited for, on a slow and busy machine.
WAIT_MS=60000

# --- helpers -------------------------------------------------------------------------------

# holds MS COMMAND...: COMMAND keeps succeeding for MS (checked every 100 ms); 1 at the first miss.
holds() {
	local deadline=$(($(now_ms) + $1))
	shift
	while :; do
		"$@" || return 1
		[ "$(now_ms)" -ge "$deadline" ] && return 0
		sleep 0.1
	done
}

sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }

# sign KEY BODY: HEX(HMAC-SHA256(KEY, BODY)).
sign() { printf %s "$2" | openssl dgst -sha256 -hmac "$1" | awk '{print $NF}'; }

url() { echo "http://127.0.0.1:${DPORT[$1]}$2"; }

# req METHOD URL TOKEN [CURL ARGS...]: CODE and BODY of the response (CODE 000 when no answer).
req() {
	local method=$1 target=$2 token=$3
	shift 3
	local auth=()
	[ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
	CODE=$(curl -sS --max-time 30 -o "$T/.body" -w '%{http_code}' -X "$method" "${auth[@]}" "$@" "$target" 2>"$T/.curl")
	BODY=$(cat "$T/.body" 2>/dev/null)
	return 0
}

# webhook INSTANCE KIND [BODY] [SIGNING KEY]: a push delivery signed as KIND does it.
webhook() {
	local name=$1 kind=$2 body=${3:-'{"ref":"refs/heads/main"}'} key=${4:-$SECRET} header
	case "$kind" in
	github) header="X-Hub-Signature-256: sha256=$(sign "$key" "$body")" ;;
	gitea) header="X-Gitea-Signature: $(sign "$key" "$body")" ;;
	gitlab) header="X-Gitlab-Token: $key" ;;
	generic) header="X-Plumb-Signature: sha256=$(sign "$key" "$body")" ;;
	*) header="X-Nothing: x" ;;
	esac
	req POST "$(url "$name" "/api/v1/webhooks/$kind")" "" -H "Content-Type: application/json" -H "$header" \
		--data-binary "$body"
}

# app_field INSTANCE KEY: one field of GET /api/v1/applications/INSTANCE (viewer); fails without an answer.
app_field() {
	curl -sf --max-time 30 -H "Authorization: Bearer $VIEWER" "$(url "$1" "/api/v1/applications/$1")" 2>/dev/null |
		python3 -c '
import json, sys
try:
    v = json.load(sys.stdin)[sys.argv[1]]
except Exception:
    sys.exit(1)
print("" if v is None else v)' "$2"
}
field_is() { [ "$(app_field "$1" "$2")" = "$3" ]; }
field_set() { local v; v=$(app_field "$1" "$2") && [ -n "$v" ]; }
app_dump() { curl -s --max-time 30 -H "Authorization: Bearer $VIEWER" "$(url "$1" "/api/v1/applications/$1")" 2>&1; }

# metric INSTANCE SERIES: the value of one series of /metrics (empty when absent).
metric() {
	curl -sf --max-time 30 "$(url "$1" /metrics)" 2>/dev/null | awk -v s="$2" '$1 == s { print $2 }'
}
metric_above() { local v; v=$(metric "$1" "$2") && [ -n "$v" ] && [ "${v%.*}" -gt "$3" ]; }

file_is() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }
file_not() { ! file_is "$1" "$2"; }

# note TEXT: a TAP comment (measurements; never part of a test's name).
note() { printf '# %s\n' "$*"; }

# took NAME START_MS: ok NAME, noting how long since START_MS.
took() {
	ok "$1"
	note "took $(($(now_ms) - $2)) ms"
}

# log_count INSTANCE PATTERN: how many lines of the daemon's log match PATTERN (grep -E).
log_count() { grep -cE "$2" "${DLOG[$1]}"; }

# watching INSTANCE DIR: the daemon has an inotify watch on DIR (its inode, in /proc/PID/fdinfo).
# After a sync the daemon sets its watches anew, a moment after the files are in place; an edit
# made before that is seen only at the next periodic check (10 minutes here).
watching() {
	local pid=${DPID[$1]} ino fd
	ino=$(printf '%x' "$(stat -c %i "$2")") || return 1
	for fd in /proc/"$pid"/fd/*; do
		[ "$(readlink "$fd" 2>/dev/null)" = anon_inode:inotify ] || continue
		grep -q " ino:$ino " "/proc/$pid/fdinfo/${fd##*/}" 2>/dev/null && return 0
	done
	return 1
}

# settled INSTANCE FILE CONTENT: the daemon's loop has acted on everything asked of it so far.
# FILE (a managed file holding CONTENT, with self-heal on) is edited by hand and waited for to be
# repaired: the loop repairs a drift only after the sync requests due before it (webhooks and the
# API are gathered for at most 600 ms), so a request made before the edit has been acted on by then.
# The repair is one more drift event and one more sync, with trigger drift.
settled() {
	local name=$1 file=$2 content=$3
	wait_for "$WAIT_MS" watching "$name" "$(dirname "$file")" || return 1
	printf 'settled? not yet\n' >"$file"
	wait_for "$WAIT_MS" file_is "$file" "$content"
}

# --- git: bare repositories served by a git daemon, pushed to from clones ------------------

GIT_LOG="$T/git-daemon.log"

# serve_git PORT: a git daemon on 127.0.0.1:PORT (verbose: every fetch is a logged request).
serve_git() {
	local port=$1
	git daemon --verbose --reuseaddr --export-all --base-path="$BASE" --listen=127.0.0.1 --port="$port" "$BASE" \
		>>"$GIT_LOG" 2>&1 &
	GIT_DAEMON_PID=$!
	git_settled() { ! kill -0 "$GIT_DAEMON_PID" 2>/dev/null || port_open "$port"; } # up, or dead (port taken?)
	if wait_for "$WAIT_MS" git_settled && kill -0 "$GIT_DAEMON_PID" 2>/dev/null && port_open "$port"; then
		GIT_PORT=$port
		return 0
	fi
	kill "$GIT_DAEMON_PID" 2>/dev/null
	wait "$GIT_DAEMON_PID" 2>/dev/null
	GIT_DAEMON_PID=
	return 1
}

stop_git() {
	kill "$GIT_DAEMON_PID" 2>/dev/null
	wait "$GIT_DAEMON_PID" 2>/dev/null
	GIT_DAEMON_PID=
}

# fetches REPO: upload-pack requests the git daemon has logged for REPO so far.
fetches() { grep -c "Request upload-pack for '/$1.git'" "$GIT_LOG"; }

WORKS="$T/work"
new_repo() { # NAME
	git init -q --bare -b main "$BASE/$1.git"
	git clone -q "$BASE/$1.git" "$WORKS/$1" 2>/dev/null
}
push() { git -C "$WORKS/$1" push -q origin HEAD:main 2>&1; }

# The standard content: /etc/motd from files/motd and an inline /etc/app.conf.
write_app() { # NAME MOTD
	local w="$WORKS/$1"
	mkdir -p "$w/manifests" "$w/files"
	cat >"$w/manifests/app.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: motd}
spec: {path: /etc/motd, source: files/motd}
---
apiVersion: host/v1
kind: File
metadata: {name: app-conf}
spec:
  path: /etc/app.conf
  content: "port = 8080\n"
EOF
	printf '%s\n' "$2" >"$w/files/motd"
}

# set_motd NAME TEXT: commit and push a new motd; HEAD_C is the commit.
set_motd() {
	printf '%s\n' "$2" >"$WORKS/$1/files/motd"
	commit_all "$WORKS/$1" "motd: $2"
	HEAD_C=$(head_of "$WORKS/$1")
	push "$1" >/dev/null
}

# --- daemons -------------------------------------------------------------------------------

# start_serve NAME [FLAGS...]: plumb serve of repository NAME on a free loopback port,
# ready once /healthz answers 200.
start_serve() {
	local name=$1 port=
	shift
	DROOT[$name]="$T/root-$name"
	DSTATE[$name]="$T/state-$name"
	DLOG[$name]="$T/serve-$name.log"
	"$PLUMB" serve --repo "git://127.0.0.1:$GIT_PORT/$name.git" --root "${DROOT[$name]}" --state "${DSTATE[$name]}" \
		--listen 127.0.0.1:0 --tokens "$TOKENS" --webhook-secret "$SECRET_FILE" "$@" 2>"${DLOG[$name]}" &
	DPID[$name]=$!
	serving_port() {
		port=$(sed -n 's/.* msg=serving .* port=\([0-9][0-9]*\).*/\1/p' "${DLOG[$name]}" | head -n 1)
		[ -n "$port" ]
	}
	if ! wait_for "$WAIT_MS" serving_port; then
		fail "plumb serve ($name) starts and logs its port" "$(log_tail "$name")"
		return 1
	fi
	DPORT[$name]=$port
	healthy() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$(url "$name" /healthz)")" = 200 ]; }
	if wait_for "$WAIT_MS" healthy; then
		ok "plumb serve ($name) is ready: /healthz answers 200"
		note "$name listens on 127.0.0.1:$port"
	else
		fail "plumb serve ($name) is ready: /healthz answers 200" "$(log_tail "$name")"
		return 1
	fi
}

trap serve_cleanup EXIT

# --- set up --------------------------------------------------------------------------------

printf '%s\n' "$SECRET" >"$SECRET_FILE"
{
	echo "# name role sha256(token)"
	echo "alice viewer $(sha "$VIEWER")"
	echo "bob operator $(sha "$OPERATOR")"
} >"$TOKENS"

mkdir -p "$BASE" "$WORKS"
for name in homelab noheal prompted resilient; do
	new_repo "$name"
	write_app "$name" "$name v1"
	commit_all "$WORKS/$name" "$name: first"
	push "$name" >/dev/null
done
C1_homelab=$(head_of "$WORKS/homelab")
# shellcheck disable=SC2034 # read through ${!c} below
C1_noheal=$(head_of "$WORKS/noheal")
C1_prompted=$(head_of "$WORKS/prompted")
C1_resilient=$(head_of "$WORKS/resilient")

# bulk: a Tree of 2000 files.
new_repo bulk
mkdir -p "$WORKS/bulk/manifests" "$WORKS/bulk/files/big"
cat >"$WORKS/bulk/manifests/tree.yaml" <<'EOF'
apiVersion: host/v1
kind: Tree
metadata: {name: big}
spec: {source: files/big, path: /srv/big}
EOF
for i in $(seq -w 0 1999); do echo "old $i" >"$WORKS/bulk/files/big/f$i"; done
commit_all "$WORKS/bulk" "bulk: 2000 old files"
# shellcheck disable=SC2034 # read through ${!c} below
C1_bulk=$(head_of "$WORKS/bulk")
push bulk >/dev/null

started_git=
for _ in 1 2 3 4 5; do
	if serve_git "$(free_port)"; then
		started_git=1
		break
	fi
done
if [ -z "$started_git" ]; then
	fail "git daemon starts" "$(cat "$GIT_LOG")"
	exit 1
fi
check "the git daemon serves the repositories" git ls-remote --exit-code "git://127.0.0.1:$GIT_PORT/homelab.git" refs/heads/main

# prompted starts from a synced state, made by the CLI.
capture "$PLUMB" sync --repo "git://127.0.0.1:$GIT_PORT/prompted.git" --root "$T/root-prompted" --state "$T/state-prompted"
expect_rc "prompted: the first sync by the CLI exits 0" 0

start_serve homelab --interval 10m --self-heal-interval 10m || exit 1
start_serve noheal --interval 10m --self-heal-interval 10m --no-self-heal || exit 1
start_serve prompted --interval 10m --self-heal-interval 10m --approval prompted || exit 1
start_serve resilient --interval 1s --self-heal-interval 10m || exit 1
start_serve bulk --interval 10m --self-heal-interval 10m || exit 1

for name in homelab noheal prompted resilient bulk; do
	c=C1_$name
	if wait_for "$WAIT_MS" field_is "$name" synced_commit "${!c}" && field_is "$name" sync_status Synced; then
		ok "$name: the startup sync reaches Synced at the pushed commit"
	else
		fail "$name: the startup sync reaches Synced at the pushed commit" "$(app_dump "$name")" "$(log_tail "$name")"
	fi
done

# =========================================================================================
# homelab: startup, API, metrics, webhooks, self-heal, invalid commits, SIGHUP
# =========================================================================================
H=homelab
HR=${DROOT[$H]}

expected_tree() { # DIR MOTD
	rm -rf "$1"
	mkdir -p "$1/etc"
	printf '%s\n' "$2" >"$1/etc/motd"
	printf 'port = 8080\n' >"$1/etc/app.conf"
}
expected_tree "$T/expected" "homelab v1"
same_listing "homelab: the tree on disk after the startup sync is exactly the repository's" \
	"$(tree_listing "$T/expected")" "$(tree_listing "$HR")"

# --- authentication and roles ----------------------------------------------------------------

req GET "$(url $H /api/v1/applications)" ""
if [ "$CODE" = 401 ]; then ok "GET /api/v1/applications without a token: 401"; else fail "GET /api/v1/applications without a token: 401" "got $CODE: $BODY"; fi
req GET "$(url $H /api/v1/applications)" "tok-nobody-knows-this"
if [ "$CODE" = 401 ]; then ok "GET /api/v1/applications with an unknown token: 401"; else fail "GET /api/v1/applications with an unknown token: 401" "got $CODE: $BODY"; fi
req GET "$(url $H /api/v1/applications)" "$(sha "$VIEWER")"
if [ "$CODE" = 401 ]; then ok "the hash of a token is not a token: 401"; else fail "the hash of a token is not a token: 401" "got $CODE: $BODY"; fi
req GET "$(url $H /api/v1/applications)" "$VIEWER"
if [ "$CODE" = 200 ] && printf '%s' "$BODY" | python3 -c '
import json, sys
apps = json.load(sys.stdin)["applications"]
assert len(apps) == 1, apps
a = apps[0]
assert a["name"] == "homelab", a
assert a["sync_status"] == "Synced" and a["health"] == "Healthy", a
assert a["synced_commit"] == sys.argv[1] and a["revision_commit"] == sys.argv[1], a
assert a["repo"].endswith("/homelab.git"), a
' "$C1_homelab" 2>"$T/.py"; then
	ok "GET /api/v1/applications with a viewer token: 200, homelab Synced/Healthy at the commit"
else
	fail "GET /api/v1/applications with a viewer token: 200, homelab Synced/Healthy at the commit" "got $CODE: $BODY" "$(cat "$T/.py")"
fi
req GET "$(url $H /api/v1/applications/homelab)" "$VIEWER"
if [ "$CODE" = 200 ] && contains "$BODY" "\"synced_commit\":\"$C1_homelab\""; then
	ok "GET /api/v1/applications/homelab with a viewer token: 200"
else
	fail "GET /api/v1/applications/homelab with a viewer token: 200" "got $CODE: $BODY"
fi
req GET "$(url $H /api/v1/applications/nosuchapp)" "$VIEWER"
if [ "$CODE" = 404 ]; then ok "GET an unknown application: 404"; else fail "GET an unknown application: 404" "got $CODE: $BODY"; fi

req POST "$(url $H /api/v1/applications/homelab/sync)" "$VIEWER"
if [ "$CODE" = 403 ]; then ok "POST .../sync with a viewer token: 403"; else fail "POST .../sync with a viewer token: 403" "got $CODE: $BODY"; fi
req POST "$(url $H /api/v1/applications/homelab/sync)" ""
if [ "$CODE" = 401 ]; then ok "POST .../sync without a token: 401"; else fail "POST .../sync without a token: 401" "got $CODE: $BODY"; fi
req POST "$(url $H /api/v1/applications/homelab/sync)" "$OPERATOR"
if [ "$CODE" = 202 ]; then ok "POST .../sync with an operator token: 202"; else fail "POST .../sync with an operator token: 202" "got $CODE: $BODY"; fi
if wait_for "$WAIT_MS" grep -qE 'msg="sync requested" .*actor=bob' "${DLOG[$H]}"; then
	ok "the API sync is logged with the token's name"
else
	fail "the API sync is logged with the token's name" "$(log_tail $H)"
fi

# --- /healthz and /metrics -----------------------------------------------------------------------

req GET "$(url $H /healthz)" ""
if [ "$CODE" = 200 ]; then ok "/healthz: 200 without a token"; else fail "/healthz: 200 without a token" "got $CODE: $BODY"; fi

ctype=$(curl -s -o "$T/metrics" -w '%{http_code} %{content_type}' "$(url $H /metrics)")
METRICS=$(cat "$T/metrics")
succeeded=$(awk '$1 == "plumb_syncs_total{application=\"homelab\",result=\"succeeded\"}" { print $2 }' "$T/metrics")
stamp=$(awk '$1 == "plumb_last_successful_sync_timestamp_seconds{application=\"homelab\"}" { print $2 }' "$T/metrics")
if [[ "$ctype" == "200 text/plain"* ]]; then ok "/metrics: 200, text/plain"; else fail "/metrics: 200, text/plain" "got: $ctype"; fi
if grep -qx '# TYPE plumb_syncs_total counter' "$T/metrics" && [[ "$succeeded" =~ ^[0-9]+$ ]] && [ "$succeeded" -ge 1 ]; then
	ok "/metrics: plumb_syncs_total{application=\"homelab\",result=\"succeeded\"} counts the startup sync ($succeeded)"
else
	fail "/metrics: plumb_syncs_total counts the startup sync" "$METRICS"
fi
if grep -qx '# TYPE plumb_last_successful_sync_timestamp_seconds gauge' "$T/metrics" && [[ "$stamp" =~ ^[0-9]+$ ]] &&
	[ "$stamp" -ge $((SCRIPT_START - 5)) ] && [ "$stamp" -le $(($(date +%s) + 5)) ]; then
	ok "/metrics: plumb_last_successful_sync_timestamp_seconds of homelab is the startup sync's time"
else
	fail "/metrics: plumb_last_successful_sync_timestamp_seconds of homelab is the startup sync's time" "script start $SCRIPT_START" "$METRICS"
fi
bad=$(grep -vE '^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* |^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? -?[0-9.e+]+$' "$T/metrics")
if [ -z "$bad" ] && [ -s "$T/metrics" ]; then
	ok "/metrics: every line is Prometheus text exposition"
else
	fail "/metrics: every line is Prometheus text exposition" "$bad"
fi

# --- push webhooks -------------------------------------------------------------------------------
# homelab polls and checks for drift every 10 minutes: only the webhook explains a sync seen here.

# The sync asked for through the API above must be over before the push, or it would be the one to
# apply the pushed commit (trigger api, not webhook).
if ! settled $H "$HR/etc/app.conf" "port = 8080"; then
	fail "after the API's sync a hand edit of /etc/app.conf is repaired" "$(cat "$HR/etc/app.conf")" "$(log_tail $H)"
fi
set_motd $H "homelab v2"
C2=$HEAD_C
f0=$(fetches homelab)
t0=$(now_ms)
webhook $H github
code=$CODE
if wait_for "$WAIT_MS" file_is "$HR/etc/motd" "homelab v2"; then
	took "github webhook (X-Hub-Signature-256): 202, the new commit is on disk" "$t0"
else
	fail "github webhook (X-Hub-Signature-256): 202, the new commit is on disk" "webhook: $code $BODY" \
		"motd: $(cat "$HR/etc/motd")" "$(log_tail $H)"
fi
[ "$code" = 202 ] || fail "the github webhook is answered 202" "got $code"
note "one webhook made $(($(fetches homelab) - f0)) upload-pack request(s) at the git daemon"
if wait_for "$WAIT_MS" field_is $H synced_commit "$C2" && field_is $H last_trigger webhook; then
	ok "the API shows the webhook's commit as synced, triggered by the webhook"
else
	fail "the API shows the webhook's commit as synced, triggered by the webhook" "$(app_dump $H)"
fi

n=3
for kind in gitea gitlab generic; do
	set_motd $H "homelab v$n ($kind)"
	t0=$(now_ms)
	webhook $H "$kind"
	code=$CODE
	if [ "$code" = 202 ] && wait_for "$WAIT_MS" file_is "$HR/etc/motd" "homelab v$n ($kind)"; then
		took "$kind webhook: 202, the new commit is on disk" "$t0"
	else
		fail "$kind webhook: 202, the new commit is on disk" "webhook: $code $BODY" "$(log_tail $H)"
	fi
	n=$((n + 1))
done
LAST_MOTD="homelab v$((n - 1)) (generic)"
LAST_C=$HEAD_C

for kind in github gitea gitlab generic; do
	webhook $H "$kind" '{"ref":"refs/heads/main"}' "not-the-secret"
	if [ "$CODE" = 401 ]; then ok "$kind webhook with a wrong secret: 401"; else fail "$kind webhook with a wrong secret: 401" "got $CODE: $BODY"; fi
done
webhook $H bitbucket
if [ "$CODE" = 404 ]; then ok "a webhook of an unknown kind: 404"; else fail "a webhook of an unknown kind: 404" "got $CODE: $BODY"; fi
req POST "$(url $H /api/v1/webhooks/github)" "" --data-binary '{"ref":"refs/heads/main"}'
if [ "$CODE" = 401 ]; then ok "a webhook without a signature: 401"; else fail "a webhook without a signature: 401" "got $CODE: $BODY"; fi

# --- refused webhooks change nothing ------------------------------------------------------------

set_motd $H "homelab refused"
C_REFUSED=$HEAD_C
body='{"ref":"refs/heads/main"}'
# A valid signature of another body, then a wrong key.
req POST "$(url $H /api/v1/webhooks/github)" "" -H "X-Hub-Signature-256: sha256=$(sign "$SECRET" '{"ref":"refs/heads/other"}')" \
	--data-binary "$body"
code1=$CODE
webhook $H github "$body" "wrong-$SECRET"
code2=$CODE
if [ "$code1" = 401 ] && [ "$code2" = 401 ]; then
	ok "webhooks with a bad signature (another body's, another key's): 401"
else
	fail "webhooks with a bad signature (another body's, another key's): 401" "got $code1 and $code2"
fi
# Over the cap by one byte, validly signed: only the size can refuse it.
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$T/big.json"
bigsig=$(openssl dgst -sha256 -hmac "$SECRET" <"$T/big.json" | awk '{print $NF}')
req POST "$(url $H /api/v1/webhooks/github)" "" -H "X-Hub-Signature-256: sha256=$bigsig" --data-binary @"$T/big.json"
if [ "$CODE" = 413 ]; then ok "a webhook body of 1 MiB + 1 byte: 413"; else fail "a webhook body of 1 MiB + 1 byte: 413" "got $CODE: $BODY"; fi
req POST "$(url $H /api/v1/webhooks/github)" "" -H "X-Hub-Signature-256: sha256=$bigsig" -H 'Transfer-Encoding: chunked' \
	--data-binary @"$T/big.json"
if [ "$CODE" = 413 ]; then ok "a chunked webhook body of 1 MiB + 1 byte: 413"; else fail "a chunked webhook body of 1 MiB + 1 byte: 413" "got $CODE: $BODY"; fi
head -c $((1024 * 1024)) /dev/zero | tr '\0' ' ' >"$T/max.json"
maxsig=$(openssl dgst -sha256 -hmac "$SECRET" <"$T/max.json" | awk '{print $NF}')
req POST "$(url $H /api/v1/webhooks/github)" "" -H "X-Hub-Signature-256: sha256=wrong$maxsig" --data-binary @"$T/max.json"
if [ "$CODE" = 401 ]; then ok "a webhook body of exactly 1 MiB reaches the signature check (401)"; else fail "a webhook body of exactly 1 MiB reaches the signature check (401)" "got $CODE: $BODY"; fi
# Had a refused webhook asked for a sync, the loop would have acted on it by the time it repairs a
# hand edit made after them.
if ! settled $H "$HR/etc/app.conf" "port = 8080"; then
	fail "after refused webhooks a hand edit of /etc/app.conf is repaired" "$(cat "$HR/etc/app.conf")" "$(log_tail $H)"
fi
if file_is "$HR/etc/motd" "$LAST_MOTD"; then
	ok "after refused webhooks the disk keeps the old content"
else
	fail "after refused webhooks the disk keeps the old content" "motd: $(cat "$HR/etc/motd")" "$(log_tail $H)"
fi
if field_is $H synced_commit "$LAST_C" && ! field_is $H revision_commit "$C_REFUSED"; then
	ok "after refused webhooks the API still shows the old commit, the pushed one not even fetched"
else
	fail "after refused webhooks the API still shows the old commit, the pushed one not even fetched" "$(app_dump $H)"
fi

# A push to another branch is acknowledged but wakes nothing.
webhook $H github '{"ref":"refs/heads/feature"}'
if [ "$CODE" = 202 ] && contains "$BODY" '"queued":false'; then
	ok "a webhook for another branch: 202, not queued"
else
	fail "a webhook for another branch: 202, not queued" "got $CODE: $BODY"
fi

# --- a burst of 200 webhooks ------------------------------------------------------------------------

hist_max_id() { # the newest sync id of homelab in the history API
	curl -sf --max-time 30 -H "Authorization: Bearer $VIEWER" "$(url $H /api/v1/applications/homelab/history)" |
		python3 -c 'import json, sys; s = json.load(sys.stdin)["syncs"]; print(max([x["id"] for x in s] or [0]))'
}
syncs_total() { # the syncs of homelab but the repairs of drift (settled makes one)
	local s f d
	s=$(metric $H 'plumb_syncs_total{application="homelab",result="succeeded"}')
	f=$(metric $H 'plumb_syncs_total{application="homelab",result="failed"}')
	d=$(metric $H 'plumb_drift_events_total{application="homelab"}')
	echo $((s + f - d))
}
id_before=$(hist_max_id)
syncs_before=$(syncs_total)
set_motd $H "homelab burst"
C_BURST=$HEAD_C
fetches_before=$(fetches homelab)
body='{"ref":"refs/heads/main","after":"'"$C_BURST"'"}'
sig=$(sign "$SECRET" "$body")
tb=$(now_ms)
seq 1 200 | xargs -P 20 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 -X POST \
	-H "X-Hub-Signature-256: sha256=$sig" -H 'Content-Type: application/json' --data-binary "$body" \
	"$(url $H /api/v1/webhooks/github)" >"$T/burst.codes"
note "the burst of 200 webhooks took $(($(now_ms) - tb)) ms"
codes=$(sort "$T/burst.codes" | uniq -c | sed 's/^ *//')
if [ "$codes" = "200 202" ]; then ok "200 valid webhooks in a burst: all 202"; else fail "200 valid webhooks in a burst: all 202" "$codes"; fi
if wait_for "$WAIT_MS" file_is "$HR/etc/motd" "homelab burst"; then
	ok "after the burst the new commit is on disk"
else
	fail "after the burst the new commit is on disk" "$(log_tail $H)"
fi
# Any trailing sync the burst asked for has happened once a later hand edit is repaired.
if ! settled $H "$HR/etc/app.conf" "port = 8080"; then
	fail "after the burst a hand edit of /etc/app.conf is repaired" "$(cat "$HR/etc/app.conf")" "$(log_tail $H)"
fi
file_is "$HR/etc/motd" "homelab burst" || fail "the burst's content stays on disk" "$(cat "$HR/etc/motd")"
id_after=$(hist_max_id)
syncs_after=$(syncs_total)
fetches_after=$(fetches homelab)
new_syncs=$(curl -sf --max-time 30 -H "Authorization: Bearer $VIEWER" "$(url $H /api/v1/applications/homelab/history)" |
	python3 -c 'import json, sys; print(len([x for x in json.load(sys.stdin)["syncs"] if x["id"] > int(sys.argv[1]) and x["trigger"] != "drift"]))' "$id_before")
if [[ "$new_syncs" =~ ^[0-9]+$ ]] && [ "$new_syncs" -ge 1 ] && [ "$new_syncs" -le 2 ]; then
	ok "the burst caused at most 2 syncs in the history"
	note "syncs recorded after the burst: $new_syncs"
else
	fail "the burst caused at most 2 syncs in the history" "new syncs: $new_syncs (ids $id_before -> $id_after)"
fi
if [ $((syncs_after - syncs_before)) -ge 1 ] && [ $((syncs_after - syncs_before)) -le 2 ]; then
	ok "the burst raised plumb_syncs_total by at most 2"
else
	fail "the burst raised plumb_syncs_total by at most 2" "before $syncs_before, after $syncs_after"
fi
note "the burst caused $((fetches_after - fetches_before)) upload-pack requests at the git daemon"
if field_is $H synced_commit "$C_BURST"; then ok "after the burst the API shows the new commit synced"; else fail "after the burst the API shows the new commit synced" "$(app_dump $H)"; fi

# --- self-heal through inotify -----------------------------------------------------------------------

printf 'edited by hand\nsecond line\n' >"$T/hand-motd"
drift_before=$(metric $H 'plumb_drift_events_total{application="homelab"}')
loads_before=$(metric $H 'plumb_manifest_loads_total{application="homelab"}')
parsed_before_heal=$(metric $H plumb_manifest_files_parsed_total)
wait_for "$WAIT_MS" watching $H "$HR/etc" || fail "homelab watches /etc after the last repair" "$(log_tail $H)"
t0=$(now_ms)
cp "$T/hand-motd" "$HR/etc/motd"
if wait_for "$WAIT_MS" file_is "$HR/etc/motd" "homelab burst"; then
	took "self-heal: a manual edit of /etc/motd is repaired (inotify: the periodic check is 10 minutes away)" "$t0"
else
	fail "self-heal: a manual edit of /etc/motd is repaired" "motd: $(cat "$HR/etc/motd")" "$(log_tail $H)"
fi
if wait_for "$WAIT_MS" metric_above $H 'plumb_drift_events_total{application="homelab"}' "${drift_before:-0}"; then
	ok "self-heal: plumb_drift_events_total grows"
else
	fail "self-heal: plumb_drift_events_total grows" "before ${drift_before:-?}, now $(metric $H 'plumb_drift_events_total{application="homelab"}')"
fi
loads_after=$(metric $H 'plumb_manifest_loads_total{application="homelab"}')
parsed_after_heal=$(metric $H plumb_manifest_files_parsed_total)
# At least the startup commit and the pushed one were parsed; the repair of this one parses nothing.
if [[ "$loads_before" =~ ^[0-9]+$ ]] && [ "$loads_before" -ge 2 ] && [ "$loads_after" = "$loads_before" ]; then
	ok "self-heal of an unchanged commit parses no manifest again (plumb_manifest_loads_total stays $loads_before)"
else
	fail "self-heal of an unchanged commit parses no manifest again" "loads before: ${loads_before:-?}, after: ${loads_after:-?}"
fi
if [[ "$parsed_before_heal" =~ ^[0-9]+$ ]] && [ "$parsed_before_heal" -ge 1 ] && [ "$parsed_after_heal" = "$parsed_before_heal" ]; then
	ok "self-heal of an unchanged commit parses no manifest file (plumb_manifest_files_parsed_total stays $parsed_before_heal)"
else
	fail "self-heal of an unchanged commit parses no manifest file" "before: ${parsed_before_heal:-?}, after: ${parsed_after_heal:-?}"
fi
capture "$PLUMB" drift log --state "${DSTATE[$H]}" -o json
printf '%s\n' "$OUT" >"$T/drift.json"
drift_id=$(python3 -c '
import json, sys
hits = [e for e in json.load(open(sys.argv[1]))["events"] if e["path"] == "/etc/motd" and e["kept"]]
print(hits[0]["id"] if len(hits) == 1 else "")' "$T/drift.json" 2>/dev/null)
if [ "$RC" = 0 ] && [ -n "$drift_id" ]; then
	ok "plumb drift log --state lists the overwritten /etc/motd, content kept"
else
	fail "plumb drift log --state lists the overwritten /etc/motd, content kept" "$(show)"
fi
capture "$PLUMB" drift log --state "${DSTATE[$H]}"
if [ "$RC" = 0 ] && contains "$OUT" /etc/motd; then ok "plumb drift log (text) names /etc/motd"; else fail "plumb drift log (text) names /etc/motd" "$(show)"; fi
capture "$PLUMB" drift show "${drift_id:-0}" --state "${DSTATE[$H]}"
kept=$(printf '%s\n' "$OUT" | sed -n 's|^Kept: \(drift/[^ ]*\) (.*|\1|p')
if [ -n "$kept" ] && [ -f "${DSTATE[$H]}/$kept" ] && cmp -s "$T/hand-motd" "${DSTATE[$H]}/$kept"; then
	ok "STATE/drift holds exactly the bytes written by hand"
else
	fail "STATE/drift holds exactly the bytes written by hand" "kept: $kept" "$(show)" "$(ls -laR "${DSTATE[$H]}/drift" 2>&1)"
fi
same_listing "self-heal restores exactly the repository's tree" "$(expected_tree "$T/expected" "homelab burst"; tree_listing "$T/expected")" \
	"$(tree_listing "$HR")"

# --- an invalid commit, then its fix ------------------------------------------------------------------

cat >"$WORKS/$H/manifests/bad.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: fine}
spec: {path: /etc/fine.conf, content: "fine\n"}
---
apiVersion: host/v1
kind: Nonsense
metadata: {name: broken}
spec: {path: /etc/broken}
EOF
set_motd $H "homelab invalid"
C_BAD=$HEAD_C
webhook $H github
[ "$CODE" = 202 ] || fail "the webhook of the invalid commit is answered 202" "got $CODE: $BODY"
if wait_for "$WAIT_MS" field_set $H errors; then
	errors=$(app_field $H errors)
	if [[ "$errors" =~ manifests/bad\.yaml:[0-9]+:[0-9]+ ]]; then
		ok "invalid commit: the API shows its errors with FILE:LINE:COL"
	else
		fail "invalid commit: the API shows its errors with FILE:LINE:COL" "errors: $errors"
	fi
else
	fail "invalid commit: the API shows its errors" "$(app_dump $H)" "$(log_tail $H)"
fi
if file_is "$HR/etc/motd" "homelab burst" && [ ! -e "$HR/etc/fine.conf" ] && field_is $H synced_commit "$C_BURST"; then
	ok "invalid commit: nothing of it is applied, the last good commit stays"
else
	fail "invalid commit: nothing of it is applied, the last good commit stays" "$(tree_listing "$HR")" "$(app_dump $H)"
fi
if field_set $H message && field_is $H revision_commit "$C_BAD"; then
	ok "invalid commit: the API message says so, naming the fetched revision"
else
	fail "invalid commit: the API message says so, naming the fetched revision" "$(app_dump $H)"
fi
git -C "$WORKS/$H" rm -q manifests/bad.yaml
set_motd $H "homelab fixed"
C_FIXED=$HEAD_C
t0=$(now_ms)
webhook $H generic
if wait_for "$WAIT_MS" file_is "$HR/etc/motd" "homelab fixed"; then
	took "a fixing commit is applied after the invalid one" "$t0"
else
	fail "a fixing commit is applied after the invalid one" "$(app_dump $H)" "$(log_tail $H)"
fi
if wait_for "$WAIT_MS" field_is $H synced_commit "$C_FIXED" && field_is $H errors "" && field_is $H sync_status Synced &&
	field_is $H message ""; then
	ok "after the fix the API shows Synced, no errors, no message"
else
	fail "after the fix the API shows Synced, no errors, no message" "$(app_dump $H)"
fi

# --- a new commit parses only the manifest files that changed ---------------------------------------

# Discovery and the application's load both read the new commit; unchanged files come from the cache.
parsed_before=$(metric $H plumb_manifest_files_parsed_total)
cat >"$WORKS/$H/manifests/extra.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: extra}
spec: {path: /etc/extra.conf, content: "extra\n"}
EOF
commit_all "$WORKS/$H" "extra: one more manifest"
C_EXTRA=$(head_of "$WORKS/$H")
push $H >/dev/null
webhook $H generic
if wait_for "$WAIT_MS" field_is $H synced_commit "$C_EXTRA" && file_is "$HR/etc/extra.conf" "extra" && file_is "$HR/etc/motd" "homelab fixed"; then
	parsed_after=$(metric $H plumb_manifest_files_parsed_total)
	if [[ "$parsed_before" =~ ^[0-9]+$ ]] && [ $((parsed_after - parsed_before)) = 1 ]; then
		ok "a commit that adds one manifest file parses that file only (plumb_manifest_files_parsed_total +1)"
	else
		fail "a commit that adds one manifest file parses that file only" "parsed before: ${parsed_before:-?}, after: ${parsed_after:-?}"
	fi
else
	fail "a commit that adds one manifest file is synced" "$(app_dump $H)" "$(log_tail $H)"
fi

# --- SIGHUP reloads the tokens ---------------------------------------------------------------------

req GET "$(url $H /api/v1/applications)" "$NEWVIEWER"
[ "$CODE" = 401 ] || fail "before SIGHUP the new token is unknown (401)" "got $CODE"
# A broken tokens file first: the reload is refused and the old tokens stay.
{
	echo "alice viewer $(sha "$VIEWER")"
	echo "carol superuser $(sha "$NEWVIEWER")"
} >"$TOKENS"
kill -HUP "${DPID[$H]}"
if wait_for "$WAIT_MS" grep -q 'msg="cannot reload the tokens"' "${DLOG[$H]}"; then
	ok "SIGHUP with a broken tokens file logs why it keeps the old tokens"
else
	fail "SIGHUP with a broken tokens file logs why it keeps the old tokens" "$(log_tail $H)"
fi
# The reload goes on with the rest, and says it took only part: never "configuration reloaded".
if wait_for "$WAIT_MS" grep -q 'msg="configuration reloaded in part; ' "${DLOG[$H]}" &&
	! grep -q 'msg="configuration reloaded"' "${DLOG[$H]}"; then
	ok "SIGHUP with a broken tokens file is logged as a reload in part, not as a reload"
else
	fail "SIGHUP with a broken tokens file is logged as a reload in part, not as a reload" "$(log_tail $H)"
fi
req GET "$(url $H /api/v1/applications)" "$NEWVIEWER"
code1=$CODE
req POST "$(url $H /api/v1/applications/homelab/sync)" "$OPERATOR"
code2=$CODE
if [ "$code1" = 401 ] && [ "$code2" = 202 ]; then
	ok "after a refused reload the old tokens stay (new one 401, old operator 202)"
else
	fail "after a refused reload the old tokens stay (new one 401, old operator 202)" "new token: $code1, operator: $code2"
fi
{
	echo "bob operator $(sha "$OPERATOR")"
	echo "carol viewer $(sha "$NEWVIEWER")"
} >"$TOKENS"
reloads=$(log_count $H 'msg="configuration reloaded"')
kill -HUP "${DPID[$H]}"
new_token_works() {
	req GET "$(url $H /api/v1/applications)" "$NEWVIEWER"
	[ "$CODE" = 200 ]
}
if wait_for "$WAIT_MS" new_token_works; then ok "after SIGHUP a token added to the file works (200)"; else fail "after SIGHUP a token added to the file works (200)" "got $CODE: $BODY" "$(log_tail $H)"; fi
req GET "$(url $H /api/v1/applications)" "$VIEWER"
if [ "$CODE" = 401 ]; then ok "after SIGHUP a token removed from the file gets 401"; else fail "after SIGHUP a token removed from the file gets 401" "got $CODE: $BODY"; fi
req POST "$(url $H /api/v1/applications/homelab/sync)" "$OPERATOR"
if [ "$CODE" = 202 ]; then ok "after SIGHUP a kept operator token still works (202)"; else fail "after SIGHUP a kept operator token still works (202)" "got $CODE: $BODY"; fi
# The tokens are in force a moment before the reload is logged: wait for the line of this SIGHUP.
if wait_for "$WAIT_MS" eval '[ "$(log_count $H "msg=\"configuration reloaded\"")" -gt "$reloads" ]'; then
	ok "SIGHUP is logged as a reload"
else
	fail "SIGHUP is logged as a reload" "$(log_tail $H)"
fi
# Later checks use the viewer token of the other daemons' files; put the old file back.
{
	echo "alice viewer $(sha "$VIEWER")"
	echo "bob operator $(sha "$OPERATOR")"
} >"$TOKENS"

stop_and_check $H

# =========================================================================================
# noheal: drift is reported, not repaired
# =========================================================================================
N=noheal
NR=${DROOT[$N]}
wait_for "$WAIT_MS" watching $N "$NR/etc" || fail "noheal watches /etc" "$(log_tail $N)"
printf 'edited by hand\n' >"$NR/etc/motd"
if wait_for "$WAIT_MS" field_is $N sync_status OutOfSync; then
	ok "--no-self-heal: a manual edit shows the application OutOfSync in the API"
	note "OutOfSync after $ELAPSED ms"
else
	fail "--no-self-heal: a manual edit shows the application OutOfSync in the API" "$(app_dump $N)" "$(log_tail $N)"
fi
# OutOfSync is what the drift check that found the edit says instead of repairing it: it had its chance.
if file_is "$NR/etc/motd" "edited by hand"; then
	ok "--no-self-heal: the manual edit is not repaired by the drift check that found it"
else
	fail "--no-self-heal: the manual edit is not repaired by the drift check that found it" "motd: $(cat "$NR/etc/motd")" "$(log_tail $N)"
fi
if field_set $N message && [ "$(app_field $N drift_events)" -ge 1 ] 2>/dev/null; then
	ok "--no-self-heal: the API reports the drift (message, drift_events)"
else
	fail "--no-self-heal: the API reports the drift (message, drift_events)" "$(app_dump $N)"
fi
capture "$PLUMB" drift --root "$NR" --state "${DSTATE[$N]}"
if [ "$RC" = 2 ] && contains "$OUT" /etc/motd; then ok "--no-self-heal: plumb drift lists the edited file"; else fail "--no-self-heal: plumb drift lists the edited file" "$(show)"; fi
stop_and_check $N

# =========================================================================================
# prompted: nothing applies before someone approves
# =========================================================================================
P=prompted
PR=${DROOT[$P]}

approval_state() { # ID: its state in plumb approvals -o json
	"$PLUMB" approvals --state "${DSTATE[$P]}" -o json 2>/dev/null |
		python3 -c '
import json, sys
hits = [a for a in json.load(sys.stdin)["approvals"] if str(a["id"]) == sys.argv[1]]
print(hits[0]["state"] if hits else "")' "$1"
}
approval_is() { [ "$(approval_state "$1")" = "$2" ]; }

set_motd $P "prompted v2"
C2_P=$HEAD_C
webhook $P github
[ "$CODE" = 202 ] || fail "prompted: the webhook is answered 202" "got $CODE: $BODY"
if wait_for "$WAIT_MS" field_set $P pending_approval; then
	ID1=$(app_field $P pending_approval)
	ok "prompted: after a push and a webhook the application shows pending_approval"
	note "pending plan $ID1"
else
	ID1=
	fail "prompted: after a push and a webhook the application shows pending_approval" "$(app_dump $P)" "$(log_tail $P)"
fi
if file_is "$PR/etc/motd" "prompted v1" && field_is $P synced_commit "$C1_prompted"; then
	ok "prompted: the change is not applied while the plan waits"
else
	fail "prompted: the change is not applied while the plan waits" "motd: $(cat "$PR/etc/motd")" "$(app_dump $P)"
fi
if approval_is "${ID1:-0}" pending; then ok "prompted: plumb approvals shows the plan pending"; else fail "prompted: plumb approvals shows the plan pending" "$("$PLUMB" approvals --state "${DSTATE[$P]}" 2>&1)"; fi

req POST "$(url $P /api/v1/applications/prompted/approve)" "$VIEWER" -H 'Content-Type: application/json' --data-binary "{\"id\": ${ID1:-0}}"
if [ "$CODE" = 403 ]; then ok "prompted: approve with a viewer token: 403"; else fail "prompted: approve with a viewer token: 403" "got $CODE: $BODY"; fi
req POST "$(url $P /api/v1/applications/prompted/approve)" "$OPERATOR" --data-binary "{\"id\": $((${ID1:-0} + 1000))}"
if [ "$CODE" = 409 ]; then ok "prompted: approve of another plan's id: 409"; else fail "prompted: approve of another plan's id: 409" "got $CODE: $BODY"; fi
if approval_is "${ID1:-0}" pending; then
	ok "prompted: after refused approvals the plan is still pending in the store"
else
	fail "prompted: after refused approvals the plan is still pending in the store" "$("$PLUMB" approvals --state "${DSTATE[$P]}" 2>&1)"
fi
# The loop applies what the store says is approved, at least every second; nothing it does
# between two of those looks shows outside, so this is a window (the check above is the proof).
if holds 1200 file_is "$PR/etc/motd" "prompted v1"; then ok "prompted: refused approvals apply nothing"; else fail "prompted: refused approvals apply nothing" "motd: $(cat "$PR/etc/motd")"; fi
t0=$(now_ms)
req POST "$(url $P /api/v1/applications/prompted/approve)" "$OPERATOR" -H 'Content-Type: application/json' --data-binary "{\"id\": ${ID1:-0}}"
if [ "$CODE" = 200 ]; then ok "prompted: approve with an operator token and {\"id\": $ID1}: 200"; else fail "prompted: approve with an operator token and the id: 200" "got $CODE: $BODY"; fi
if wait_for "$WAIT_MS" file_is "$PR/etc/motd" "prompted v2"; then
	took "prompted: the approved change is on disk" "$t0"
else
	fail "prompted: the approved change is on disk" "motd: $(cat "$PR/etc/motd")" "$(log_tail $P)"
fi
if wait_for "$WAIT_MS" approval_is "${ID1:-0}" applied; then
	ok "prompted: plumb approvals shows the API-approved plan applied"
else
	fail "prompted: plumb approvals shows the API-approved plan applied" "$("$PLUMB" approvals --state "${DSTATE[$P]}" 2>&1)"
fi
if wait_for "$WAIT_MS" field_is $P pending_approval "" && field_is $P synced_commit "$C2_P"; then
	ok "prompted: the API shows the approved commit synced, nothing pending"
else
	fail "prompted: the API shows the approved commit synced, nothing pending" "$(app_dump $P)"
fi

# Reject through the API.
set_motd $P "prompted v3"
C3_P=$HEAD_C
req POST "$(url $P /api/v1/applications/prompted/sync)" "$OPERATOR"
[ "$CODE" = 202 ] || fail "prompted: POST sync answered 202" "got $CODE: $BODY"
ID2=
pending_new() { ID2=$(app_field $P pending_approval) && [ -n "$ID2" ] && [ "$ID2" != "$ID1" ]; }
if wait_for "$WAIT_MS" pending_new; then ok "prompted: a second push waits as a new plan"; else fail "prompted: a second push waits as a new plan" "$(app_dump $P)"; fi
req POST "$(url $P /api/v1/applications/prompted/reject)" "$VIEWER" --data-binary "{\"id\": ${ID2:-0}}"
if [ "$CODE" = 403 ]; then ok "prompted: reject with a viewer token: 403"; else fail "prompted: reject with a viewer token: 403" "got $CODE: $BODY"; fi
req POST "$(url $P /api/v1/applications/prompted/reject)" "$OPERATOR" --data-binary "{\"id\": ${ID2:-0}}"
if [ "$CODE" = 200 ]; then ok "prompted: reject with an operator token: 200"; else fail "prompted: reject with an operator token: 200" "got $CODE: $BODY"; fi
if wait_for "$WAIT_MS" approval_is "${ID2:-0}" rejected; then ok "prompted: plumb approvals shows the plan rejected"; else fail "prompted: plumb approvals shows the plan rejected" "$("$PLUMB" approvals --state "${DSTATE[$P]}" 2>&1)"; fi
if field_is $P pending_approval "" && field_is $P synced_commit "$C2_P"; then
	ok "prompted: after the rejection nothing is pending and the old commit stays"
else
	fail "prompted: after the rejection nothing is pending and the old commit stays" "$(app_dump $P)"
fi

# Approve from the command line: the daemon looks at the store every second.
req POST "$(url $P /api/v1/applications/prompted/sync)" "$OPERATOR"
ID3=
pending_third() { ID3=$(app_field $P pending_approval) && [ -n "$ID3" ] && [ "$ID3" != "$ID1" ] && [ "$ID3" != "$ID2" ]; }
if wait_for "$WAIT_MS" pending_third; then ok "prompted: asking again after a rejection makes a new plan"; else fail "prompted: asking again after a rejection makes a new plan" "$(app_dump $P)"; fi
# The daemon has planned again since the rejection: the rejected change had its chance to be applied.
if file_is "$PR/etc/motd" "prompted v2"; then
	ok "prompted: the rejected change is not applied"
else
	fail "prompted: the rejected change is not applied" "motd: $(cat "$PR/etc/motd")" "$(log_tail $P)"
fi
t0=$(now_ms)
capture "$PLUMB" approve "${ID3:-0}" --state "${DSTATE[$P]}" --note "e2e"
expect_rc "prompted: plumb approve ID exits 0" 0
if wait_for "$WAIT_MS" file_is "$PR/etc/motd" "prompted v3"; then
	took "prompted: a plan approved with the CLI is applied" "$t0"
else
	fail "prompted: a plan approved with the CLI is applied" "motd: $(cat "$PR/etc/motd")" "$(log_tail $P)"
fi
if wait_for "$WAIT_MS" approval_is "${ID3:-0}" applied; then ok "prompted: plumb approvals shows the CLI-approved plan applied"; else fail "prompted: plumb approvals shows the CLI-approved plan applied" "$("$PLUMB" approvals --state "${DSTATE[$P]}" 2>&1)"; fi
if wait_for "$WAIT_MS" field_is $P synced_commit "$C3_P"; then ok "prompted: the API shows the CLI-approved commit synced"; else fail "prompted: the API shows the CLI-approved commit synced" "$(app_dump $P)"; fi
req POST "$(url $P /api/v1/applications/prompted/approve)" "$OPERATOR"
if [ "$CODE" = 409 ]; then ok "prompted: approve with nothing pending: 409"; else fail "prompted: approve with nothing pending: 409" "got $CODE: $BODY"; fi
stop_and_check $P

# =========================================================================================
# resilient: the git server goes away and comes back
# =========================================================================================
R=resilient
RR=${DROOT[$R]}
FF='plumb_fetch_failures_total{application="resilient"}'
ff0=$(metric $R "$FF")
stop_git
if ! port_open "$GIT_PORT"; then ok "the git daemon is stopped"; else fail "the git daemon is stopped"; fi
if wait_for "$WAIT_MS" field_set $R message; then
	ok "git unreachable: the API message reports the error"
	note "after $ELAPSED ms: $(app_field $R message | head -c 160)"
else
	fail "git unreachable: the API message reports the error" "$(app_dump $R)" "$(log_tail $R)"
fi
ff1=$(metric $R "$FF")
if [[ "$ff1" =~ ^[0-9]+$ ]] && [ "$ff1" -gt "${ff0:-0}" ] && wait_for "$WAIT_MS" metric_above $R "$FF" "$ff1"; then
	ok "git unreachable: plumb_fetch_failures_total keeps growing"
	note "fetch failures: ${ff0:-?} -> $ff1 -> $(metric $R "$FF")"
else
	fail "git unreachable: plumb_fetch_failures_total keeps growing" "${ff0:-?} -> ${ff1:-?} -> $(metric $R "$FF")"
fi
if field_is $R synced_commit "$C1_resilient" && file_is "$RR/etc/motd" "resilient v1"; then
	ok "git unreachable: the last good revision stays"
else
	fail "git unreachable: the last good revision stays" "$(app_dump $R)"
fi
if grep -q 'msg="fetch failed; keeping the last good revision"' "${DLOG[$R]}"; then
	ok "git unreachable: the failed fetch is logged"
else
	fail "git unreachable: the failed fetch is logged" "$(log_tail $R)"
fi
if serve_git "$GIT_PORT"; then ok "the git daemon restarts on the same port"; else fail "the git daemon restarts on the same port" "$(tail "$GIT_LOG")"; fi
set_motd $R "resilient v2"
C2_R=$HEAD_C
if wait_for "$WAIT_MS" file_is "$RR/etc/motd" "resilient v2"; then
	ok "git back: the new commit is picked up by the poll alone"
	note "picked up after $ELAPSED ms"
else
	fail "git back: the new commit is picked up by the poll alone" "$(app_dump $R)" "$(log_tail $R)"
fi
if wait_for "$WAIT_MS" field_is $R synced_commit "$C2_R" && field_is $R message "" && field_is $R sync_status Synced; then
	ok "git back: the API shows the new commit synced and no error"
else
	fail "git back: the API shows the new commit synced and no error" "$(app_dump $R)"
fi
stop_and_check $R

# =========================================================================================
# bulk: SIGTERM in the middle of a 2000-file sync
# =========================================================================================
B=bulk
BIG="${DROOT[$B]}/srv/big"
count=$(find "$BIG" -type f | wc -l)
if [ "$count" = 2000 ] && file_is "$BIG/f0000" "old 0000" && file_is "$BIG/f1999" "old 1999"; then
	ok "bulk: the startup sync wrote the 2000 files"
else
	fail "bulk: the startup sync wrote the 2000 files" "count $count"
fi
for i in $(seq -w 0 1999); do echo "new $i" >"$WORKS/bulk/files/big/f$i"; done
commit_all "$WORKS/bulk" "bulk: 2000 new files"
push bulk >/dev/null
webhook $B github
[ "$CODE" = 202 ] || fail "bulk: the webhook is answered 202" "got $CODE: $BODY"
# The sync has begun once a file holds new content or a temporary file exists.
sync_begun() {
	file_is "$BIG/f0000" "new 0000" || file_is "$BIG/f1999" "new 1999" ||
		compgen -G "$BIG/.plumb-tmp.*" >/dev/null
}
if wait_for "$WAIT_MS" sync_begun; then
	t0=$(now_ms)
	stop_serve $B TERM
	if [ "$STOP_RC" = 0 ]; then
		ok "bulk: SIGTERM during the sync exits 0 once the sync in flight is done"
		note "SIGTERM to exit: ${STOP_MS} ms (the sync in flight finishes first)"
	else
		fail "bulk: SIGTERM during the sync exits 0 once the sync in flight is done" "exit $STOP_RC after $STOP_MS ms" "$(log_tail $B)"
	fi
else
	fail "bulk: the sync of 2000 files begins after the webhook" "$(log_tail $B)"
	stop_serve $B TERM
fi
temps=$(find "${DROOT[$B]}" -name '.plumb-tmp.*' | head)
if [ -z "$temps" ]; then ok "bulk: no .plumb-tmp.* file is left"; else fail "bulk: no .plumb-tmp.* file is left" "$temps"; fi
summary=$(python3 - "$BIG" <<'EOF'
import os, sys
d = sys.argv[1]
old = new = 0
bad = []
for i in range(2000):
    p = os.path.join(d, "f%04d" % i)
    try:
        text = open(p).read()
    except OSError as e:
        bad.append("%s: %s" % (p, e))
        continue
    if text == "old %04d\n" % i:
        old += 1
    elif text == "new %04d\n" % i:
        new += 1
    else:
        bad.append("%s: %r" % (p, text[:40]))
extra = sorted(set(os.listdir(d)) - {"f%04d" % i for i in range(2000)})
print("old=%d new=%d bad=%d extra=%d" % (old, new, len(bad), len(extra)))
for b in bad[:5] + extra[:5]:
    print(b)
EOF
)
first=$(printf '%s\n' "$summary" | head -n 1)
if [[ "$first" =~ ^old=[0-9]+\ new=[0-9]+\ bad=0\ extra=0$ ]]; then
	ok "bulk: every file holds either its old or its new content, nothing else"
	note "$first"
else
	fail "bulk: every file holds either its old or its new content, nothing else" "$summary"
fi
if [ "$first" = "old=0 new=2000 bad=0 extra=0" ] && grep -q 'msg=synced app=bulk .*create/update/delete=0/2000/0' "${DLOG[$B]}"; then
	ok "bulk: SIGTERM let the sync in flight finish (all 2000 files new, logged synced before stopping)"
else
	fail "bulk: SIGTERM let the sync in flight finish" "$first" "$(log_tail $B)"
fi
if grep -q 'msg=stopping' "${DLOG[$B]}" && sanitizer_free "${DLOG[$B]}"; then
	ok "bulk: the stop is logged, no sanitizer report"
else
	fail "bulk: the stop is logged, no sanitizer report" "$(log_tail $B 40)"
fi

note "serve.sh took $(($(date +%s) - SCRIPT_START)) s"
[ "$TAP_FAILED" -eq 0 ]
