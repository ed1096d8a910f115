#!/usr/bin/env bash
# plumb evaluates the *.jsonnet files of a plain folder through libjsonnet:
# the objects are those Debian's jsonnet command prints by hand on the same
# files (an object, an array, a List; imports from a sibling folder, a
# top-level function's defaults; an Argo CD Application's tlas, extVars and
# libs), imports are read from the commit, what
# would leave the repository is refused at the import, errors name
# FILE:LINE:COL, a jsonnet folder syncs like a YAML one, and plumb serve
# evaluates it again only when the file or something it imported changed.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

if ! command -v jsonnet >/dev/null 2>&1; then
	fail "the jsonnet command is installed" "run: make test-deps"
	exit 1
fi

declare -A DPID DLOG
DPID[served]=
trap serve_cleanup EXIT

REPO="$T/repo"
STATE="$T/state"
make_repo "$REPO"
mkdir -p "$REPO/apps/web" "$REPO/apps/lib" "$REPO/other"
cat >"$REPO/apps/lib/k.libsonnet" <<'JSONNET'
// Helpers imported from a sibling folder of the application.
{
  configMap(name, data):: {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: name, labels: { app: 'web' } },
    data: data,
  },
  service(name, port):: {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: name },
    spec: { ports: [{ port: port, targetPort: port + 8000 }], selector: { app: name } },
  },
}
JSONNET
cat >"$REPO/apps/web/params.libsonnet" <<'JSONNET'
{ replicas: 3, image: 'nginx:1.27', ratio: 0.25 }
JSONNET
echo "hello from the commit" >"$REPO/apps/web/motd.txt"
cat >"$REPO/apps/web/main.jsonnet" <<'JSONNET'
local k = import '../lib/k.libsonnet';
local params = import 'params.libsonnet';
[
  k.configMap('web-conf', { motd: importstr 'motd.txt', ratio: std.toString(params.ratio) }),
  k.service('web', 80),
  {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web' },
    spec: {
      replicas: params.replicas,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'web', image: params.image, ports: [{ containerPort: 8080 }] }] },
      },
    },
  },
]
JSONNET
cat >"$REPO/apps/web/list.jsonnet" <<'JSONNET'
local k = import '../lib/k.libsonnet';
{
  apiVersion: 'v1',
  kind: 'List',
  items: [k.configMap('listed-' + n, { n: n }) for n in ['a', 'b']],
}
JSONNET
cat >"$REPO/apps/web/single.jsonnet" <<'JSONNET'
function(name='single', size=2) {
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: name },
  data: { ['key' + i]: std.repeat('x', i) for i in std.range(1, size) },
}
JSONNET
echo "unrelated" >"$REPO/other/README"
commit_all "$REPO" "jsonnet"

# The jsonnet command's objects, expanded as Argo CD reads them, one sorted canonical JSON a line.
by_hand() {
	(cd "$REPO" && for f in "$@"; do jsonnet "$f" || echo "jsonnet $f failed" >&2; echo; done) | python3 -c '
import json, sys
text = sys.stdin.read()
decoder = json.JSONDecoder()
objects, i = [], 0
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    value, i = decoder.raw_decode(text, i)
    values = value if isinstance(value, list) else [value]
    for v in values:
        if str(v.get("kind", "")).endswith("List") and isinstance(v.get("items"), list):
            objects.extend(v["items"])
        else:
            objects.append(v)
for line in sorted(json.dumps(o, sort_keys=True) for o in objects):
    print(line)'
}
# plumb render -o json's objects (every application's), the same way.
sorted_json() {
	python3 -c '
import json, sys
for line in sorted(json.dumps(o["object"], sort_keys=True) for a in json.load(sys.stdin)["applications"] for o in a["objects"]):
    print(line)'
}

capture "$PLUMB" render --repo "$REPO" --path apps/web --state "$STATE" --namespace default -o json
printf '%s\n' "$OUT" | sorted_json >"$T/plumb-web"
by_hand apps/web/main.jsonnet apps/web/list.jsonnet apps/web/single.jsonnet >"$T/jsonnet-web"
if [ "$RC" -eq 0 ] && [ "$(wc -l <"$T/plumb-web")" -eq 6 ] && cmp -s "$T/plumb-web" "$T/jsonnet-web"; then
	ok "plumb render of a jsonnet folder gives the objects the jsonnet command gives by hand (6 objects)"
else
	fail "plumb render of a jsonnet folder gives the objects the jsonnet command gives by hand" \
		"$(diff "$T/jsonnet-web" "$T/plumb-web")" "$(show)"
fi
if grep -q '"motd": "hello from the commit\\n"' "$T/plumb-web" && grep -q '"targetPort": 8080' "$T/plumb-web" &&
	grep -q '"name": "listed-b"' "$T/plumb-web" && grep -q '"key2": "xx"' "$T/plumb-web" &&
	grep -q '"ratio": "0.25"' "$T/plumb-web"; then
	ok "imports from a sibling folder, importstr, a List's items and a top-level function's defaults are evaluated"
else
	fail "imports from a sibling folder, importstr, a List's items and a top-level function's defaults are evaluated" \
		"$(cat "$T/plumb-web")"
fi

capture "$PLUMB" render --repo "$REPO" --path apps/web --state "$STATE" --namespace default
if [ "$RC" -eq 0 ] && contains "$OUT" "# Source: apps/web/main.jsonnet (jsonnet) Deployment/web:" &&
	contains "$OUT" "# Source: apps/web/list.jsonnet (jsonnet) ConfigMap/listed-a:"; then
	ok "a jsonnet object's source names the file, jsonnet and the object"
else
	fail "a jsonnet object's source names the file, jsonnet and the object" "$(show)"
fi

# STATE/render/ keeps each evaluation with what it looked up: a new command reads it (a value
# changed in the kept entry shows) until a commit changes the file or something it imported.
kept() { grep -l '^# plumb jsonnet evaluation' "$STATE"/render/*.yaml 2>/dev/null; }
if [ "$(kept | wc -l)" -eq 3 ]; then
	ok "each jsonnet file's evaluation is kept in STATE/render/"
else
	fail "each jsonnet file's evaluation is kept in STATE/render/" "$(ls -l "$STATE/render" 2>&1)"
fi
kept | xargs sed -i 's/key2: xx/key2: kept/'
capture "$PLUMB" render --repo "$REPO" --path apps/web --state "$STATE" --namespace default -o json
if [ "$RC" -eq 0 ] && contains "$OUT" '"key2": "kept"'; then
	ok "a new command reads the kept evaluation instead of evaluating again"
else
	fail "a new command reads the kept evaluation instead of evaluating again" "$(show)"
fi
echo "changed" >"$REPO/other/README"
commit_all "$REPO" "unrelated"
capture "$PLUMB" render --repo "$REPO" --path apps/web --state "$STATE" --namespace default -o json
if [ "$RC" -eq 0 ] && contains "$OUT" '"key2": "kept"'; then
	ok "a commit that touches nothing a jsonnet file looked up evaluates nothing"
else
	fail "a commit that touches nothing a jsonnet file looked up evaluates nothing" "$(show)"
fi
kept | xargs sed -i 's/motd: "hello from the commit\\n"/motd: "kept"/'
sed -i 's/ratio: 0.25/ratio: 0.5/' "$REPO/apps/web/params.libsonnet"
commit_all "$REPO" "ratio"
capture "$PLUMB" render --repo "$REPO" --path apps/web --state "$STATE" --namespace default -o json
if [ "$RC" -eq 0 ] && contains "$OUT" '"ratio": "0.5"' && contains "$OUT" 'hello from the commit' &&
	contains "$OUT" '"key2": "kept"'; then
	ok "a commit that changes an import evaluates again the file that imported it, and only it"
else
	fail "a commit that changes an import evaluates again the file that imported it, and only it" "$(show)"
fi
sed -i 's/ratio: 0.5/ratio: 0.25/' "$REPO/apps/web/params.libsonnet"
commit_all "$REPO" "ratio back"
rm -rf "$STATE/render"

# A .libsonnet is never evaluated on its own, even where it would fail.
echo "this is not jsonnet" >"$REPO/apps/web/broken.libsonnet"
commit_all "$REPO" "a broken library nobody imports"
capture "$PLUMB" render --repo "$REPO" --path apps/web --state "$STATE" --namespace default -o json
printf '%s\n' "$OUT" | sorted_json >"$T/plumb-web-2"
if [ "$RC" -eq 0 ] && cmp -s "$T/plumb-web-2" "$T/jsonnet-web"; then
	ok "a .libsonnet file is only imported, never evaluated"
else
	fail "a .libsonnet file is only imported, never evaluated" "$(show)"
fi

# What is evaluated is the commit, never the work tree.
echo "changed on disk" >"$REPO/apps/web/motd.txt"
sed -i 's/replicas: 3/replicas: 9/' "$REPO/apps/web/params.libsonnet"
capture "$PLUMB" render --repo "$REPO" --path apps/web --state "$STATE" --namespace default -o json
printf '%s\n' "$OUT" | sorted_json >"$T/plumb-web-3"
if [ "$RC" -eq 0 ] && cmp -s "$T/plumb-web-3" "$T/jsonnet-web" && ! contains "$OUT" "changed on disk"; then
	ok "imports are read from the commit, not the work tree"
else
	fail "imports are read from the commit, not the work tree" "$(show)"
fi
git -C "$REPO" checkout -q -- apps/web

# --- an Argo CD Application's directory.jsonnet -------------------------------------------------
# Top-level arguments, external variables (strings and code, with Argo CD's build environment) and
# a library folder, as the Application gives them and as the jsonnet command takes them by hand.
URL=https://git.example/gitops.git
mkdir -p "$REPO/argo" "$REPO/jsonnet/app" "$REPO/jsonnet/vendor"
cat >"$REPO/jsonnet/vendor/labels.libsonnet" <<'JSONNET'
{ labels(env):: { env: env, team: 'web' } }
JSONNET
cat >"$REPO/jsonnet/app/main.jsonnet" <<'JSONNET'
local labels = import 'labels.libsonnet';
function(name, replicas=1) [{
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: name, labels: labels.labels(std.extVar('env')) },
  data: {
    replicas: std.toString(replicas),
    region: std.extVar('cluster').region,
    app: std.extVar('app'),
  },
}]
JSONNET
cat >"$REPO/argo/web.yaml" <<'YAML'
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  source:
    repoURL: https://git.example/gitops.git
    path: jsonnet/app
    directory:
      jsonnet:
        tlas:
          - {name: name, value: web-conf}
          - {name: replicas, value: "2 + 1", code: true}
        extVars:
          - {name: env, value: prod}
          - {name: cluster, value: "{region: 'eu-1'}", code: true}
          - {name: app, value: "$ARGOCD_APP_NAME in ${ARGOCD_APP_NAMESPACE}"}
        libs: [jsonnet/vendor]
  destination: {server: https://kubernetes.default.svc, namespace: web-ns}
YAML
commit_all "$REPO" "argo"
capture "$PLUMB" render --repo "$REPO" --path argo/web.yaml --state "$STATE" --repo-alias "$URL" -o json
printf '%s\n' "$OUT" | sorted_json >"$T/plumb-argo"
(cd "$REPO" && jsonnet -J jsonnet/vendor --tla-str name=web-conf --tla-code 'replicas=2 + 1' --ext-str env=prod \
	--ext-code "cluster={region: 'eu-1'}" --ext-str 'app=web in web-ns' jsonnet/app/main.jsonnet) >"$T/argo.json"
by_hand_file() { python3 -c '
import json, sys
for line in sorted(json.dumps(o, sort_keys=True) for o in json.load(open(sys.argv[1]))):
    print(line)' "$1"; }
by_hand_file "$T/argo.json" >"$T/jsonnet-argo"
if [ "$RC" -eq 0 ] && [ -s "$T/plumb-argo" ] && cmp -s "$T/plumb-argo" "$T/jsonnet-argo" &&
	grep -q '"replicas": "3"' "$T/plumb-argo" && grep -q '"region": "eu-1"' "$T/plumb-argo" &&
	grep -q '"app": "web in web-ns"' "$T/plumb-argo" && grep -q '"team": "web"' "$T/plumb-argo"; then
	ok "an Argo CD Application's tlas, extVars (with \$ARGOCD_APP_NAME) and libs give what the jsonnet command gives by hand"
else
	fail "an Argo CD Application's tlas, extVars (with \$ARGOCD_APP_NAME) and libs give what the jsonnet command gives by hand" \
		"$(diff "$T/jsonnet-argo" "$T/plumb-argo")" "$(show)"
fi

# --- refusals and errors -----------------------------------------------------------------------

bad() { # NAME PATH NEEDLE...: plumb check of PATH fails, its stderr holding every NEEDLE
	local name=$1 path=$2 needle missing=""
	shift 2
	capture "$PLUMB" check --repo "$REPO" --path "$path" --state "$STATE" --namespace default
	for needle in "$@"; do
		contains "$ERR" "$needle" || missing="$missing [$needle]"
	done
	if [ "$RC" -ne 0 ] && [ -z "$missing" ]; then
		ok "$name"
	else
		fail "$name" "missing:$missing" "$(show)"
	fi
}

mkdir -p "$REPO/bad/outside" "$REPO/bad/absolute" "$REPO/bad/link" "$REPO/bad/syntax" "$REPO/bad/runtime" \
	"$REPO/bad/string" "$REPO/bad/elements" "$REPO/bad/extvar"
printf '{\n  secret: importstr "../../../etc/passwd",\n}\n' >"$REPO/bad/outside/main.jsonnet"
printf '{ secret: importstr "/etc/passwd" }\n' >"$REPO/bad/absolute/main.jsonnet"
ln -s ../../../../../etc/passwd "$REPO/bad/link/passwd.txt"
printf '{ kind: "ConfigMap", secret: importstr "passwd.txt" }\n' >"$REPO/bad/link/main.jsonnet"
printf '{\n  apiVersion: "v1"\n  kind: "ConfigMap",\n}\n' >"$REPO/bad/syntax/main.jsonnet"
printf 'local check(n) = if n > 2 then error "too many replicas: " + n else n;\n{ replicas: check(5) }\n' \
	>"$REPO/bad/runtime/main.jsonnet"
printf '"just a string"\n' >"$REPO/bad/string/main.jsonnet"
printf '[{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "a" } }, 42]\n' >"$REPO/bad/elements/main.jsonnet"
printf '{ env: std.extVar("env") }\n' >"$REPO/bad/extvar/main.jsonnet"
commit_all "$REPO" "bad"

bad "an import that climbs out of the repository is refused at FILE:LINE:COL of the import" bad/outside \
	"bad/outside/main.jsonnet:2:11: jsonnet error: couldn't open import \"../../../etc/passwd\": it leaves the repository"
bad "an absolute import is refused at FILE:LINE:COL" bad/absolute \
	"bad/absolute/main.jsonnet:1:11: jsonnet error: couldn't open import \"/etc/passwd\": an absolute path is refused"
bad "an import through a symlink out of the repository is refused" bad/link \
	"bad/link/main.jsonnet:1:30: jsonnet error: couldn't open import \"passwd.txt\": symlink bad/link/passwd.txt to '../../../../../etc/passwd' leaves the repository"
if contains "$ERR" "root:"; then
	fail "nothing of /etc/passwd is shown" "$ERR"
else
	ok "nothing of /etc/passwd is shown"
fi
bad "a syntax error is at FILE:LINE:COL with libjsonnet's message" bad/syntax \
	"bad/syntax/main.jsonnet:3:3: jsonnet static error: expected a comma before next field."
bad "error() is a runtime error at FILE:LINE:COL of the error" bad/runtime \
	"bad/runtime/main.jsonnet:1:32: jsonnet error: too many replicas: 5"
bad "output that is not an object is refused, naming the file" bad/string \
	"bad/string/main.jsonnet: jsonnet output is a string, not an object or an array of objects"
bad "an array element that is not an object is refused, naming the file and the element" bad/elements \
	"bad/elements/main.jsonnet: jsonnet output[1] is a number, not an object"
bad "an external variable that is not given is an error at its place" bad/extvar \
	"bad/extvar/main.jsonnet:1:8: jsonnet error: undefined external variable: env"

# The same refusals are the jsonnet command's errors too, where it reads the disk: plumb's differ on purpose.
(cd "$REPO" && jsonnet bad/syntax/main.jsonnet) >/dev/null 2>"$T/syntax.err"
if grep -q "bad/syntax/main.jsonnet:3:3" "$T/syntax.err"; then
	ok "the jsonnet command places the syntax error where plumb does"
else
	fail "the jsonnet command places the syntax error where plumb does" "$(cat "$T/syntax.err")"
fi

# --- limits -----------------------------------------------------------------------------------
# An evaluation runs in a process of its own, under the render time limit, killed with it when it
# runs over, with none of plumb's environment.
mkdir -p "$REPO/bad/loop"
printf 'local spin(n) = spin(n + 1) tailstrict;\n{ replicas: spin(0) }\n' >"$REPO/bad/loop/main.jsonnet"
commit_all "$REPO" "a loop"
evaluating() { pgrep -f "__jsonnet-evaluate .* bad/loop/main.jsonnet" >/dev/null; }
started=$(now_ms)
# The outer timeout only keeps a plumb that would never stop from holding the suite up.
capture timeout -s KILL 30 "$PLUMB" render --repo "$REPO" --path bad/loop --state "$STATE" --namespace default \
	--render-timeout 1s
elapsed=$(($(now_ms) - started))
if [ "$RC" -ne 0 ] && [ "$elapsed" -lt 10000 ] &&
	contains "$ERR" "bad/loop/main.jsonnet (jsonnet): jsonnet evaluation did not finish within 1000 ms"; then
	ok "a jsonnet program that never ends is stopped at --render-timeout, naming the file (${elapsed} ms)"
else
	fail "a jsonnet program that never ends is stopped at --render-timeout, naming the file" \
		"elapsed: ${elapsed} ms" "$(show)"
fi
if evaluating; then
	fail "the evaluation stopped at the time limit is killed" "$(pgrep -af __jsonnet-evaluate)"
else
	ok "the evaluation stopped at the time limit is killed"
fi
PLUMB_TEST_TOKEN=do-not-pass-on timeout -s KILL 30 "$PLUMB" render --repo "$REPO" --path bad/loop --state "$STATE" \
	--namespace default --render-timeout 5s >/dev/null 2>"$T/loop.err" &
looping=$!
if wait_for 5000 evaluating; then
	child=$(pgrep -f "__jsonnet-evaluate .* bad/loop/main.jsonnet" | head -n 1)
	tr '\0' '\n' <"/proc/$child/environ" >"$T/child.env" 2>/dev/null
fi
wait "$looping"
if [ -s "$T/child.env" ] && ! grep -q PLUMB_TEST_TOKEN "$T/child.env" && grep -qx 'PATH=/nonexistent' "$T/child.env"; then
	ok "the evaluation runs with none of plumb's environment"
else
	fail "the evaluation runs with none of plumb's environment" "$(cat "$T/child.env" 2>&1)" "$(cat "$T/loop.err")"
fi
git -C "$REPO" rm -rq bad/loop
commit_all "$REPO" "no loop"

# --- a jsonnet folder synced ------------------------------------------------------------------

mkdir -p "$REPO/host"
cat >"$REPO/host/files.jsonnet" <<'JSONNET'
local greeting = importstr '../apps/web/motd.txt';
[
  { apiVersion: 'host/v1', kind: 'Directory', metadata: { name: 'etc' }, spec: { path: '/etc/app' } },
  { apiVersion: 'host/v1', kind: 'File', metadata: { name: 'motd' }, spec: { path: '/etc/app/motd', content: greeting } },
]
JSONNET
commit_all "$REPO" "host"
capture "$PLUMB" sync --repo "$REPO" --path host --root "$T/root" --state "$STATE"
if [ "$RC" -eq 0 ] && [ "$(cat "$T/root/etc/app/motd" 2>/dev/null)" = "hello from the commit" ]; then
	ok "plumb sync of a jsonnet folder applies its objects"
else
	fail "plumb sync of a jsonnet folder applies its objects" "$(show)"
fi
capture "$PLUMB" plan --repo "$REPO" --path host --root "$T/root" --state "$STATE" --detailed-exitcode
expect_rc "a plan after the sync finds nothing to change" 0

# --- plumb serve ------------------------------------------------------------------------------
# The daemon keeps an evaluation for as long as neither the file nor what it imported changes:
# plumb_manifest_files_parsed_total counts evaluations with the manifest files parsed.
SERVED="$T/served"
make_repo "$SERVED"
mkdir -p "$SERVED/app" "$SERVED/lib"
cat >"$SERVED/lib/files.libsonnet" <<'JSONNET'
{ file(name, text):: { apiVersion: 'host/v1', kind: 'File', metadata: { name: name },
                       spec: { path: '/etc/' + name, content: text } } }
JSONNET
cat >"$SERVED/app/main.jsonnet" <<'JSONNET'
local files = import '../lib/files.libsonnet';
[files.file('greeting', 'hello')]
JSONNET
commit_all "$SERVED" "served"
WAIT_MS=60000
DLOG[served]="$T/serve.log"
"$PLUMB" serve --repo "$SERVED" --root "$T/served-root" --state "$T/serve-state" --listen 127.0.0.1:0 \
	--interval 1s --self-heal-interval 10m 2>"${DLOG[served]}" &
DPID[served]=$!
logged() { grep -qE "$1" "${DLOG[served]}"; }
greeting_is() { [ "$(cat "$T/served-root/etc/greeting" 2>/dev/null)" = "$1" ]; }
parsed() {
	local port
	port=$(sed -n 's/.* msg=serving .* port=\([0-9][0-9]*\).*/\1/p' "${DLOG[served]}" | head -n 1)
	curl -sf --max-time 30 "http://127.0.0.1:$port/metrics" | awk '$1 == "plumb_manifest_files_parsed_total" { print $2 }'
}
if wait_for "$WAIT_MS" greeting_is hello; then
	ok "plumb serve syncs a jsonnet folder"
else
	fail "plumb serve syncs a jsonnet folder" "$(log_tail served)"
fi
before=$(parsed)
echo "# served" >"$SERVED/README.md"
echo "{}" >"$SERVED/lib/unused.libsonnet"
commit_all "$SERVED" "readme"
NOCHANGE=$(head_of "$SERVED")
if wait_for "$WAIT_MS" logged " msg=\"in sync\" .*commit=$NOCHANGE" && [[ "$before" =~ ^[0-9]+$ ]] &&
	[ "$(parsed)" = "$before" ]; then
	ok "serve reconciles a commit that touches neither the file nor its imports without evaluating it"
else
	fail "serve reconciles a commit that touches neither the file nor its imports without evaluating it" \
		"parsed: ${before:-?} -> $(parsed)" "$(log_tail served)"
fi
sed -i "s/spec: {/spec: { mode: '0600',/" "$SERVED/lib/files.libsonnet"
sed -i "s/'hello'/'bonjour'/" "$SERVED/app/main.jsonnet"
commit_all "$SERVED" "bonjour"
if wait_for "$WAIT_MS" greeting_is bonjour; then
	ok "serve evaluates again when the file changes, and syncs the result"
else
	fail "serve evaluates again when the file changes, and syncs the result" "$(log_tail served)"
fi
before=$(parsed)
sed -i "s/mode: '0600',/mode: '0640',/" "$SERVED/lib/files.libsonnet"
commit_all "$SERVED" "mode"
mode_is() { [ "$(stat -c %a "$T/served-root/etc/greeting" 2>/dev/null)" = "$1" ]; }
if wait_for "$WAIT_MS" mode_is 640 && [[ "$before" =~ ^[0-9]+$ ]] && [ "$(parsed)" -gt "$before" ]; then
	ok "serve evaluates again when an imported file changes, and syncs the result"
else
	fail "serve evaluates again when an imported file changes, and syncs the result" \
		"parsed: ${before:-?} -> $(parsed)" "mode $(stat -c %a "$T/served-root/etc/greeting" 2>&1)" "$(log_tail served)"
fi
stop_and_check served

[ "$TAP_FAILED" -eq 0 ]
