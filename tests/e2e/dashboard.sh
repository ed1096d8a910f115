#!/usr/bin/env bash
# The dashboard in a real browser: headless Chromium (Debian's
# /usr/bin/chromium) driven by Playwright (playwright-core from npm, which
# downloads no browser) against two real plumb serve daemons. The browser
# side is tests/e2e/dashboard.mjs; this script makes the repository, the
# tokens file (a viewer and an operator) and the daemons, runs it, and
# forwards its TAP lines.
#
# Two daemons on one local repository, each on its own state directory,
# destination root and port (127.0.0.1:0; the port is read from the
# "serving" log line), both of the implicit application "hosts/web"
# (--path hosts/web: a name with a "/"):
#   auto      approval auto: signing in, the list, the application page,
#             a commit subject made of HTML, the audit page
#   prompted  approval prompted: its first plan is approved here (curl),
#             then a hand edit waits as a plan, seen live by a viewer, and
#             an operator approves a new commit's plan from the page
# Both poll every 10 minutes: only the API or inotify explains a sync.
#
# playwright-core comes from $PLUMB_NODE_MODULES (default
# build/test/node/node_modules), a cache outside the source tree that the
# Makefile fills; when it is missing there it is installed with npm, and
# when that fails the test fails (it never skips). Screenshots of every page
# visited (of the viewport) go to build/test/output/screenshots/.
#
# Nothing is timed: every wait polls for what it waits for, with a bound
# (WAIT_MS) that only a failure reaches, however slow or busy the machine.
. "$(dirname "$0")/lib.sh"

TOP="$(cd "$(dirname "$0")/../.." && pwd)"
REPO="$T/repo"
VIEWER='tok-viewer-d41c07'
OPERATOR='tok-operator-e95a3b'
TOKENS="$T/tokens"
APP=hosts/web
# The HEAD commit's subject: HTML that would run script if the page parsed it.
SUBJECT='<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
PLAYWRIGHT_VERSION=1.60.0 # as in the Makefile: a version that runs on Debian 12's Node 18
NODE=/usr/bin/node
CHROMIUM=/usr/bin/chromium
SCREENSHOTS="$TOP/build/test/output/screenshots"

declare -A DPID DPORT DLOG DROOT DSTATE

# How long a daemon may take to do what it is waited for, on a slow and busy machine.
WAIT_MS=60000

sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
url() { echo "http://127.0.0.1:${DPORT[$1]}$2"; }
bearer() { echo "Authorization: Bearer $1"; }

# start_serve NAME [FLAGS...]: plumb serve of $REPO on a free loopback port, ready once /healthz answers.
start_serve() {
	local name=$1 port=
	shift
	DROOT[$name]="$T/root-$name"
	DSTATE[$name]="$T/state-$name"
	DLOG[$name]="$T/serve-$name.log"
	"$PLUMB" serve --repo "$REPO" --path "$APP" --root "${DROOT[$name]}" --state "${DSTATE[$name]}" \
		--listen 127.0.0.1:0 --tokens "$TOKENS" --interval 10m --self-heal-interval 10m "$@" 2>"${DLOG[$name]}" &
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
		ok "plumb serve ($name) answers /healthz"
	else
		fail "plumb serve ($name) answers /healthz" "$(log_tail "$name")"
		return 1
	fi
}

trap serve_cleanup EXIT

# app_field INSTANCE FIELD: one field of GET /api/v1/applications/hosts%2Fweb.
app_field() {
	curl -sf --max-time 30 -H "$(bearer "$VIEWER")" "$(url "$1" "/api/v1/applications/hosts%2Fweb")" |
		python3 -c 'import json, sys; v = json.load(sys.stdin)[sys.argv[1]]; print("" if v is None else v)' "$2" 2>/dev/null
}
app_is() { local v; v=$(app_field "$1" "$2") && [ "$v" = "$3" ]; }
app_set() { local v; v=$(app_field "$1" "$2") && [ -n "$v" ]; }

# --- the browser and Playwright ------------------------------------------------------------

if [ -x "$NODE" ] && "$NODE" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
	ok "node $("$NODE" --version) is installed"
else
	fail "node 18 or later is installed at $NODE" "apt-get install nodejs"
	exit 1
fi
if [ -x "$CHROMIUM" ]; then
	ok "chromium is installed ($("$CHROMIUM" --version 2>/dev/null | head -n 1))"
else
	fail "chromium is installed at $CHROMIUM" "apt-get install chromium"
	exit 1
fi

NODE_MODULES=${PLUMB_NODE_MODULES:-$TOP/build/test/node/node_modules}
case "$NODE_MODULES" in /*) ;; *) NODE_MODULES="$TOP/$NODE_MODULES" ;; esac
has_playwright() { [ -f "$NODE_MODULES/playwright-core/package.json" ]; }
if ! has_playwright; then
	# The prefix whose node_modules is $NODE_MODULES: build/test/node by default.
	prefix=$(dirname "$NODE_MODULES")
	echo "# installing playwright-core@$PLAYWRIGHT_VERSION into $prefix"
	if ! mkdir -p "$prefix" ||
		! npm install --no-audit --no-fund --prefix "$prefix" "playwright-core@$PLAYWRIGHT_VERSION" >"$T/npm.log" 2>&1; then
		fail "npm installs playwright-core@$PLAYWRIGHT_VERSION into $prefix" "$(tail -n 30 "$T/npm.log")"
		exit 1
	fi
fi
if has_playwright; then
	ok "playwright-core $(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["version"])' \
		"$NODE_MODULES/playwright-core/package.json") is in $NODE_MODULES"
else
	fail "playwright-core is in $NODE_MODULES" "$(tail -n 30 "$T/npm.log" 2>/dev/null)"
	exit 1
fi
# playwright-core exits at once on a node older than its "engines" (1.62 and later: node 20).
if why=$("$NODE" -e '
const p = require(process.argv[1]);
const m = /^>=\s*(\d+)/.exec((p.engines || {}).node || "");
if (m && Number(process.versions.node.split(".")[0]) < Number(m[1])) {
  console.log(`node ${process.version} is older than playwright-core ${p.version} needs (engines: ${p.engines.node})`);
  process.exit(1);
}' "$NODE_MODULES/playwright-core/package.json" 2>&1); then
	ok "node $("$NODE" --version) satisfies playwright-core's engines"
else
	fail "node $("$NODE" --version) satisfies playwright-core's engines" "$why"
	exit 1
fi

mkdir -p "$SCREENSHOTS"
rm -f "$SCREENSHOTS"/*.png

# --- the repository, the tokens, the daemons -------------------------------------------------

{
	echo "# name role sha256(token)"
	echo "alice viewer $(sha "$VIEWER")"
	echo "bob operator $(sha "$OPERATOR")"
} >"$TOKENS"

make_repo "$REPO"
mkdir -p "$REPO/hosts/web" "$REPO/hosts/db"
cat >"$REPO/hosts/web/app.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: motd}
spec: {path: /etc/motd, content: "hello from web\n"}
---
apiVersion: host/v1
kind: File
metadata: {name: app-conf}
spec: {path: /etc/app.conf, content: "port = 8080\n"}
EOF
# Another folder: not the application's.
cat >"$REPO/hosts/db/app.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: db-conf}
spec: {path: /etc/db.conf, content: "db\n"}
EOF
commit_all "$REPO" "hosts: web and db"
echo "# hosts/web: worker count" >>"$REPO/hosts/web/app.yaml"
commit_all "$REPO" "$SUBJECT"

start_serve auto || exit 1
start_serve prompted --approval prompted || exit 1

# The prompted daemon's first plan (create both files) waits: approve it here, so that the
# browser starts from a synced application.
if wait_for "$WAIT_MS" app_set prompted pending_approval; then
	first=$(app_field prompted pending_approval)
	code=$(curl -s -o "$T/.body" -w '%{http_code}' --max-time 30 -X POST -H "$(bearer "$OPERATOR")" \
		-H 'Content-Type: application/json' --data-binary "{\"id\":$first}" \
		"$(url prompted "/api/v1/applications/hosts%2Fweb/approve")")
	if [ "$code" = 200 ] && wait_for "$WAIT_MS" app_is prompted sync_status Synced; then
		ok "prompted: the first plan is approved (curl) and applied"
	else
		fail "prompted: the first plan is approved (curl) and applied" "approve: $code $(cat "$T/.body")" "$(log_tail prompted)"
	fi
else
	fail "prompted: a plan waits after startup" "$(log_tail prompted)"
fi

# --- the browser ---------------------------------------------------------------------------

CSP="default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
started=$(now_ms)
# timeout: only for a browser that hangs, far beyond what a run takes on a busy machine (each step
# of dashboard.mjs waits at most a minute for what it waits for).
PLUMB_NODE_MODULES="$NODE_MODULES" \
	DASH_CHROMIUM="$CHROMIUM" \
	DASH_AUTO_URL="$(url auto '')" \
	DASH_PROMPTED_URL="$(url prompted '')" \
	DASH_AUTO_ROOT="${DROOT[auto]}" \
	DASH_PROMPTED_ROOT="${DROOT[prompted]}" \
	DASH_REPO="$REPO" \
	DASH_APP="$APP" \
	DASH_VIEWER_TOKEN="$VIEWER" \
	DASH_OPERATOR_TOKEN="$OPERATOR" \
	DASH_SUBJECT="$SUBJECT" \
	DASH_CSP="$CSP" \
	PLUMB_SCREENSHOTS="$SCREENSHOTS" \
	timeout 900 "$NODE" "$(dirname "$0")/dashboard.mjs" 2>"$T/node.err" | tee "$T/node.out"
rc=${PIPESTATUS[0]}
TAP_FAILED=$((TAP_FAILED + $(grep -c '^not ok ' "$T/node.out")))
if [ "$rc" = 0 ]; then
	ok "the browser script ran to its end ($(($(now_ms) - started)) ms)"
else
	fail "the browser script ran to its end" "exit $rc" "$(tail -n 40 "$T/node.err")"
fi
if [ -s "$T/node.err" ]; then
	sed 's/^/# stderr: /' "$T/node.err" | head -n 40
fi

stop_and_check auto
stop_and_check prompted
[ "$TAP_FAILED" -eq 0 ]
