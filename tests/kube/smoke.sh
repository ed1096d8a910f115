#!/usr/bin/env bash
# The test Kubernetes API server itself, checked with real HTTP (curl): it
# builds (a no-op when build/kube/stamp matches), starts in a temporary
# directory, and then:
#   /version reports the k8s.io/kubernetes version that apiserver/go.mod pins;
#   the admin creates a ConfigMap by server-side apply (fieldManager
#     plumb-smoke) and reads it back, with its managedFields entry;
#   a server-side dry run (dryRun=All) of a Deployment answers with the
#     defaulted object, and the object does not exist afterwards;
#   the restricted token creates a ConfigMap in plumb-test, and gets 403 when
#     listing Secrets there or writing a ConfigMap in namespace default;
#   a watch with allowWatchBookmarks, started before a ConfigMap is created,
#     sees its ADDED event;
#   stop ends both servers: their processes are gone and their ports closed.
#
# KUBE_BIN (a directory with etcd and kube-apiserver) skips the build.
here=$(cd "$(dirname "$0")" && pwd)

# Build before lib.sh points HOME and XDG_CONFIG_HOME into a temporary
# directory: go keeps its module and build caches, and reads its go env
# file, under the real ones.
build_rc=
if [ -z "${KUBE_BIN-}" ]; then
	build_log=$(mktemp)
	"$here/build" >"$build_log" 2>&1
	build_rc=$?
	build_out=$(tail -n 40 "$build_log")
	rm -f "$build_log"
fi

# shellcheck source=../e2e/lib.sh
. "$here/../e2e/lib.sh"

STATE="$T/kube"
KUBE_STATE=$STATE
trap kube_cleanup EXIT

note() { echo "# $*"; }

# The value of a dotted path (a.b.0.c) in a JSON file, printed as JSON text
# for objects and as-is for strings and numbers; nothing when it is absent.
jget() {
	python3 - "$1" "$2" <<'PY'
import json, sys
try:
    v = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit(1)
for k in sys.argv[2].split("."):
    if isinstance(v, list) and k.isdigit() and int(k) < len(v):
        v = v[int(k)]
    elif isinstance(v, dict) and k in v:
        v = v[k]
    else:
        sys.exit(1)
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))
PY
}

# req WHO METHOD PATH [CURL-ARGS...]: an HTTPS request as "admin" or
# "restricted"; the body lands in $T/body, the status in $CODE. The user
# agent is not curl's, for which the server would indent its JSON.
req() {
	local who=$1 method=$2 path=$3
	shift 3
	local auth
	if [ "$who" = admin ]; then
		auth=(--cert "$KUBE_ADMIN_CERT" --key "$KUBE_ADMIN_KEY")
	else
		auth=(-H "Authorization: Bearer $(cat "$KUBE_RESTRICTED_TOKEN")")
	fi
	CODE=$(curl -sS -A plumb-smoke --max-time 30 --cacert "$KUBE_CA" "${auth[@]}" -X "$method" \
		-o "$T/body" -w '%{http_code}' "$@" "$KUBE_SERVER$path" 2>"$T/curl.err") || CODE="curl-failed: $(cat "$T/curl.err")"
}

# expect_code NAME CODE: the last req answered CODE.
expect_code() {
	if [ "$CODE" = "$2" ]; then
		ok "$1"
	else
		fail "$1" "expected HTTP $2, got $CODE" "$(head -c 2000 "$T/body" 2>/dev/null)"
	fi
}

# expect_json NAME PATH VALUE: the last answer's PATH is VALUE.
expect_json() {
	local got
	got=$(jget "$T/body" "$2")
	if [ "$got" = "$3" ]; then
		ok "$1"
	else
		fail "$1" "expected $2 = $3, got '${got}'" "$(head -c 2000 "$T/body" 2>/dev/null)"
	fi
}

# --- build and start ---------------------------------------------------------------

if [ -n "$build_rc" ]; then
	if [ "$build_rc" -eq 0 ]; then
		ok "tests/kube/build builds or finds the binaries"
	else
		fail "tests/kube/build builds or finds the binaries" "exit $build_rc" "$build_out"
		exit 1
	fi
fi

START=$(date +%s)
if "$here/start" "$STATE" >"$T/start.out" 2>"$T/start.err"; then
	ok "start brings up etcd and kube-apiserver"
	KUBE_STARTED=1
else
	fail "start brings up etcd and kube-apiserver" "$(cat "$T/start.err")"
	exit 1
fi
note "start took $(($(date +%s) - START)) s"
# shellcheck source=/dev/null
. "$STATE/env"
NS=$KUBE_NAMESPACE

for f in admin.kubeconfig restricted.kubeconfig restricted.token env; do
	check "start writes $f" test -s "$STATE/$f"
done
if grep -q "server: $KUBE_SERVER\$" "$STATE/restricted.kubeconfig" &&
	grep -q "token: $(cat "$KUBE_RESTRICTED_TOKEN")\$" "$STATE/restricted.kubeconfig" &&
	grep -q 'certificate-authority-data: ' "$STATE/restricted.kubeconfig"; then
	ok "restricted.kubeconfig holds the server, the CA and the token"
else
	fail "restricted.kubeconfig holds the server, the CA and the token" "$(cat "$STATE/restricted.kubeconfig")"
fi

# --- /version ----------------------------------------------------------------------

PINNED=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2}' "$here/apiserver/go.mod")
req admin GET /version
expect_code "/version answers" 200
expect_json "/version reports the pinned $PINNED" gitVersion "$PINNED"

# --- server-side apply ------------------------------------------------------------

CM_YAML='apiVersion: v1
kind: ConfigMap
metadata:
  name: smoke
  labels: {app: plumb-smoke}
data:
  greeting: hello
'
req admin PATCH "/api/v1/namespaces/$NS/configmaps/smoke?fieldManager=plumb-smoke" \
	-H 'Content-Type: application/apply-patch+yaml' --data-binary "$CM_YAML"
expect_code "server-side apply creates the ConfigMap (201)" 201
req admin GET "/api/v1/namespaces/$NS/configmaps/smoke"
expect_code "the applied ConfigMap reads back" 200
expect_json "it holds the applied data" data.greeting hello
expect_json "it holds the applied label" metadata.labels.app plumb-smoke
expect_json "managedFields names plumb-smoke" metadata.managedFields.0.manager plumb-smoke
expect_json "managedFields records an Apply" metadata.managedFields.0.operation Apply

# Applying the same thing again changes nothing: same resourceVersion.
RV1=$(jget "$T/body" metadata.resourceVersion)
req admin PATCH "/api/v1/namespaces/$NS/configmaps/smoke?fieldManager=plumb-smoke" \
	-H 'Content-Type: application/apply-patch+yaml' --data-binary "$CM_YAML"
expect_code "a second identical apply succeeds (200)" 200
expect_json "a second identical apply keeps the resourceVersion" metadata.resourceVersion "$RV1"

# --- server-side dry run ----------------------------------------------------------

DEPLOY_YAML='apiVersion: apps/v1
kind: Deployment
metadata:
  name: smoke-dry
spec:
  selector:
    matchLabels: {app: smoke-dry}
  template:
    metadata:
      labels: {app: smoke-dry}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
'
req admin PATCH "/apis/apps/v1/namespaces/$NS/deployments/smoke-dry?fieldManager=plumb-smoke&dryRun=All" \
	-H 'Content-Type: application/apply-patch+yaml' --data-binary "$DEPLOY_YAML"
expect_code "a dry-run apply of a new Deployment answers 201" 201
expect_json "the dry run answers with defaults: replicas" spec.replicas 1
expect_json "the dry run answers with defaults: strategy" spec.strategy.type RollingUpdate
expect_json "the dry run answers with defaults: revisionHistoryLimit" spec.revisionHistoryLimit 10
expect_json "the dry run answers with defaults: imagePullPolicy" \
	spec.template.spec.containers.0.imagePullPolicy IfNotPresent
expect_json "the dry run answers with defaults: restartPolicy" spec.template.spec.restartPolicy Always
req admin GET "/apis/apps/v1/namespaces/$NS/deployments/smoke-dry"
expect_code "the dry-run Deployment was not persisted (404)" 404

# --- the restricted identity --------------------------------------------------------

req restricted POST "/api/v1/namespaces/$NS/configmaps" -H 'Content-Type: application/json' \
	--data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"by-restricted"},"data":{"k":"v"}}'
expect_code "the restricted token creates a ConfigMap in $NS" 201
req restricted POST /apis/authentication.k8s.io/v1/selfsubjectreviews -H 'Content-Type: application/json' \
	--data-binary '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}'
expect_json "the restricted token authenticates as the ServiceAccount" \
	status.userInfo.username "system:serviceaccount:$NS:plumb-restricted"
req restricted GET "/api/v1/namespaces/$NS/secrets"
expect_code "the restricted token may not list Secrets in $NS (403)" 403
req restricted POST /api/v1/namespaces/default/configmaps -H 'Content-Type: application/json' \
	--data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"by-restricted"}}'
expect_code "the restricted token may not write in namespace default (403)" 403
req restricted GET /api/v1/namespaces/default/configmaps/by-restricted
expect_code "the restricted token may not read in namespace default (403)" 403
req admin GET /api/v1/namespaces/default/configmaps/by-restricted
expect_code "nothing was written in namespace default" 404
req admin POST /apis/authentication.k8s.io/v1/selfsubjectreviews -H 'Content-Type: application/json' \
	--data-binary '{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}'
expect_json "the admin is in group system:masters" status.userInfo.groups.0 system:masters

# --- watch -------------------------------------------------------------------------

req restricted GET "/api/v1/namespaces/$NS/configmaps"
expect_code "the restricted token lists ConfigMaps in $NS" 200
LIST_RV=$(jget "$T/body" metadata.resourceVersion)
# Watching from the list's resourceVersion: every change after the list is
# delivered, however late the watch connects.
curl -sS -N -A plumb-smoke --max-time 60 --cacert "$KUBE_CA" -H "Authorization: Bearer $(cat "$KUBE_RESTRICTED_TOKEN")" \
	"$KUBE_SERVER/api/v1/namespaces/$NS/configmaps?watch=1&allowWatchBookmarks=true&resourceVersion=$LIST_RV" \
	>"$T/watch.out" 2>"$T/watch.err" &
WATCH_PID=$!
req admin POST "/api/v1/namespaces/$NS/configmaps" -H 'Content-Type: application/json' \
	--data-binary '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"watched"}}'
expect_code "a ConfigMap is created while the watch runs" 201
seen=0
deadline=$((SECONDS + 30))
while [ "$SECONDS" -lt "$deadline" ]; do
	if python3 - "$T/watch.out" <<'PY'; then
import json, sys
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if e.get("type") == "ADDED" and e["object"]["metadata"]["name"] == "watched":
        sys.exit(0)
sys.exit(1)
PY
		seen=1
		break
	fi
	kill -0 "$WATCH_PID" 2>/dev/null || break
	sleep 0.2
done
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null
if [ "$seen" -eq 1 ]; then
	ok "the watch sees ADDED for the ConfigMap created after it started"
else
	fail "the watch sees ADDED for the ConfigMap created after it started" \
		"$(head -c 2000 "$T/watch.out")" "$(cat "$T/watch.err")"
fi
if grep -q '"name":"by-restricted"' "$T/watch.out" || grep -q '"name":"smoke"' "$T/watch.out"; then
	fail "the watch from the list's resourceVersion replays nothing older" "$(head -c 2000 "$T/watch.out")"
else
	ok "the watch from the list's resourceVersion replays nothing older"
fi

# --- stop --------------------------------------------------------------------------

API_PORT=${KUBE_SERVER##*:}
ETCD_PORT=${KUBE_ETCD##*:}
check "stop ends the servers" "$here/stop" "$STATE"
KUBE_STARTED=0
gone=1
for pid in $KUBE_PIDS; do
	if [ -e "/proc/$pid" ] && ! grep -qE '^[0-9]+ \(.*\) Z' "/proc/$pid/stat" 2>/dev/null; then
		gone=0
	fi
done
if [ "$gone" -eq 1 ]; then
	ok "no server process is left ($KUBE_PIDS)"
else
	fail "no server process is left ($KUBE_PIDS)" "$(ps -o pid,stat,args -p "${KUBE_PIDS// /,}")"
fi
if port_open "$API_PORT" || port_open "$ETCD_PORT"; then
	fail "the servers' ports are closed after stop" "$API_PORT $ETCD_PORT"
else
	ok "the servers' ports are closed after stop"
fi
check "stop again is a no-op" "$here/stop" "$STATE"

[ "$TAP_FAILED" -eq 0 ]
