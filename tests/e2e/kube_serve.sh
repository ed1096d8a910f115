#!/usr/bin/env bash
# plumb serve keeps a Kubernetes application in sync against a real kube-apiserver
# (tests/kube/start): it syncs at start, watches what it manages, and repairs a manual
# edit or delete from the watch alone (both its git poll and its periodic drift check are
# 10 minutes away), keeping what the edit wrote first; a no-change reconcile sends the
# server nothing beyond the open watches (counted in the API server's audit log, by
# plumb's user agent); a plan that would delete most of what it manages waits for
# approval even though the application syncs automatically.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

kube_script

kube_start "plumb serve"
NS=$KUBE_NAMESPACE
WAIT_MS=60000
VIEWER='tok-viewer-51c3a9'
OPERATOR='tok-operator-e07d42'
sha() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
printf '# name role sha256(token)\nalice viewer %s\nbob operator %s\n' "$(sha "$VIEWER")" "$(sha "$OPERATOR")" \
	>"$T/tokens"

REPO="$T/repo"
STATE="$T/state"
make_repo "$REPO"
mkdir -p "$REPO/apps/shop"
cat >"$REPO/app.yaml" <<EOF
apiVersion: plumb/v1
kind: Application
metadata: {name: shop}
spec:
  source: {path: apps/shop}
  destination: {kubernetes: {namespace: $NS}}
  syncPolicy: {automated: true, prune: true, selfHeal: true}
EOF
for i in 1 2 3 4 5; do
	cat >"$REPO/apps/shop/conf-$i.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: conf-$i}
data: {greeting: hello-$i}
EOF
done
# A kind no controller runs: its status is what the test writes (through /status), as a
# controller would.
cat >"$REPO/apps/shop/gadget.yaml" <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.serve.example.com}
spec:
  group: serve.example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
          status: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: serve.example.com/v1
kind: Gadget
metadata: {name: main}
spec: {size: 2}
EOF
commit_all "$REPO" "shop"

port=
api() { # METHOD PATH [TOKEN]: BODY and CODE of a request to the daemon
	local out
	out=$(curl -s --max-time 30 -X "$1" -H "Authorization: Bearer ${3:-$VIEWER}" -w '\n%{http_code}' \
		"http://127.0.0.1:$port$2")
	CODE=${out##*$'\n'}
	BODY=${out%$'\n'*}
}
app_field() { # EXPR on the application's JSON (python, as d)
	api GET /api/v1/applications/shop
	printf '%s' "$BODY" | python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1" 2>/dev/null
}
logged() { grep -qE "$1" "${DLOG[shop]}"; }
greeting() { kc get configmap "$1" -n "$NS" -o jsonpath='{.data.greeting}' 2>/dev/null; }
greeting_is() { [ "$(greeting "$1")" = "$2" ]; }
# Requests plumb sent the API server that are not watches.
plumb_requests() {
	grep '"userAgent":"plumb/' "$KUBE_AUDIT_LOG" | grep -vc '"verb":"watch"'
}

DLOG[shop]="$T/serve.log"
"$PLUMB" serve --repo "$REPO" --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --listen 127.0.0.1:0 \
	--tokens "$T/tokens" --interval 10m --self-heal-interval 10m 2>"${DLOG[shop]}" &
DPID[shop]=$!
serving_port() {
	port=$(sed -n 's/.* msg=serving .* port=\([0-9][0-9]*\).*/\1/p' "${DLOG[shop]}" | head -n 1)
	[ -n "$port" ]
}
if wait_for "$WAIT_MS" serving_port; then
	ok "plumb serve starts and logs its port"
else
	fail "plumb serve starts and logs its port" "$(tail -n 20 "${DLOG[shop]}")"
	exit 1
fi

# --- the first sync ------------------------------------------------------------------------------
if wait_for "$WAIT_MS" logged ' msg=synced .*app=shop' && greeting_is conf-1 hello-1 && greeting_is conf-5 hello-5; then
	ok "serve syncs the Kubernetes application at start: the cluster holds its ConfigMaps"
else
	fail "serve syncs the Kubernetes application at start: the cluster holds its ConfigMaps" "$(tail -n 20 "${DLOG[shop]}")"
fi
check "the application is named by its cluster and Synced" \
	test "$(app_field 'd["destination"] + " " + d["sync_status"]')" = "kubernetes $KUBE_SERVER Synced"

# --- a no-change reconcile asks the server nothing -----------------------------------------------
# A commit that changes nothing of the application, synced through the API: a fetch, a plan
# and no apply. Every object is observed from the watches and found as plumb applied it, so
# no GET, list or dry run is needed.
# First the daemon settles: the look it takes right after its first apply (to assess the
# objects' health) lists and starts watching the custom resources' collection, which the
# first plan could not, before their definition existed.
settled() { local n; n=$(plumb_requests); sleep 1.5; [ "$(plumb_requests)" = "$n" ]; }
wait_for "$WAIT_MS" settled || echo "# plumb kept sending requests for a minute"
echo "# the shop" >"$REPO/README.md"
commit_all "$REPO" "readme"
NOCHANGE=$(head_of "$REPO")
before=$(plumb_requests)
api POST /api/v1/applications/shop/sync "$OPERATOR"
if wait_for "$WAIT_MS" logged " msg=\"in sync\" .*commit=$NOCHANGE"; then
	after=$(plumb_requests)
	if [ "$after" -eq "$before" ]; then
		ok "a no-change reconcile sends the API server nothing beyond the watches ($after requests so far)"
	else
		fail "a no-change reconcile sends the API server nothing beyond the watches" "$before requests before, $after after" \
			"$(grep '"userAgent":"plumb/' "$KUBE_AUDIT_LOG" | grep -v '"verb":"watch"' | tail -n 5 | cut -c1-400)"
	fi
else
	fail "a synced commit that changes nothing of the application is in sync" "sync: HTTP $CODE $BODY" \
		"$(tail -n 20 "${DLOG[shop]}")"
fi
watched_by_label() {
	python3 - "$KUBE_AUDIT_LOG" <<'PY'
import json, sys, urllib.parse
uris = [e["requestURI"] for e in map(json.loads, open(sys.argv[1]))
        if e.get("userAgent", "").startswith("plumb/") and e.get("verb") == "watch"]
query = [urllib.parse.parse_qs(urllib.parse.urlsplit(u).query) for u in uris]
sys.exit(0 if any(q.get("labelSelector") == ["app.kubernetes.io/managed-by=plumb"] for q in query) else 1)
PY
}
check "serve watches the collection it manages, filtered by plumb's label" watched_by_label

# --- health follows the watched status ----------------------------------------------------------
object_health() { # PATH: health and message of one object of the API's list
	api GET /api/v1/applications/shop/objects
	printf '%s' "$BODY" | python3 -c '
import json, sys
o = [o for o in json.load(sys.stdin)["objects"] if o["path"] == sys.argv[1]][0]
print(o.get("health", "") + " " + o.get("health_message", ""))' "$1" 2>/dev/null
}
app_health_is() { [ "$(app_field 'd["health"]')" = "$1" ]; }
healthy_at_start() { [ "$(object_health "$NS/conf-1")" = "Healthy " ] && [ "$(object_health "$NS/main")" = "Healthy " ] && app_health_is Healthy; }
if wait_for "$WAIT_MS" healthy_at_start; then
	ok "each object has its health in the API, and the application is Healthy"
else
	fail "each object has its health in the API, and the application is Healthy" "$(object_health "$NS/conf-1")" "$(app_field 'd["health"]')"
fi
set_ready() { # STATUS MESSAGE: the Gadget's Ready condition, written as its controller would
	kc patch gadgets.serve.example.com main -n "$NS" --subresource=status --type merge \
		-p "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"$1\",\"reason\":\"Test\",\"message\":\"$2\"}]}}" >/dev/null
}
set_ready False "out of gears"
start=$(now_ms)
degraded() { app_health_is Degraded && [ "$(object_health "$NS/main")" = "Degraded out of gears" ]; }
if wait_for "$WAIT_MS" degraded; then
	ok "a status that says Ready=False makes the object and the application Degraded in $(($(now_ms) - start)) ms, with its message"
else
	fail "a status that says Ready=False makes the object and the application Degraded" "$(object_health "$NS/main")" "$(app_field 'd["health"]')"
fi
set_ready True "all gears turn"
healthy_again() { app_health_is Healthy && [ "$(object_health "$NS/main")" = "Healthy " ]; }
if wait_for "$WAIT_MS" healthy_again; then
	ok "Ready=True makes them Healthy again"
else
	fail "Ready=True makes them Healthy again" "$(object_health "$NS/main")" "$(app_field 'd["health"]')"
fi
check "a status change is not drift: nothing was applied for it" test "$(grep -c ' msg=drift ' "${DLOG[shop]}")" = 0

# --- a manual edit is repaired from the watch, and what it wrote is kept ------------------------
kc patch configmap conf-2 -n "$NS" --type merge -p '{"data":{"greeting":"tampered-by-hand"}}' >/dev/null
start=$(now_ms)
if wait_for 15000 greeting_is conf-2 hello-2; then
	ok "a manual edit is repaired from the watch in $(($(now_ms) - start)) ms (periodic checks are 10 minutes away)"
else
	fail "a manual edit is repaired from the watch" "conf-2 holds $(greeting conf-2)" "$(tail -n 20 "${DLOG[shop]}")"
fi
check "the daemon logs the drift with self-heal on" grep -qE ' msg=drift .*app=shop.*self_heal=on' "${DLOG[shop]}"
api GET /api/v1/applications/shop/drift
if printf '%s' "$BODY" | python3 -c '
import json, sys
events = json.load(sys.stdin)["events"]
assert any(e["key"] == "/ConfigMap/'"$NS"'/conf-2" and "tampered-by-hand" in e["content"] for e in events), events
' 2>"$T/.py"; then
	ok "what the manual edit wrote is kept before the repair (the API's drift events show it)"
else
	fail "what the manual edit wrote is kept before the repair (the API's drift events show it)" "$BODY" "$(cat "$T/.py")"
fi

# --- a manual delete is repaired too ---------------------------------------------------------------
kc delete configmap conf-3 -n "$NS" >/dev/null
start=$(now_ms)
if wait_for 15000 greeting_is conf-3 hello-3; then
	ok "a deleted object is created again from the watch in $(($(now_ms) - start)) ms"
else
	fail "a deleted object is created again from the watch" "$(tail -n 20 "${DLOG[shop]}")"
fi

# --- a plan that deletes most of what the application manages waits for approval -------------------
rm "$REPO"/apps/shop/conf-[2345].yaml
commit_all "$REPO" "shop: keep conf-1 only"
api POST /api/v1/applications/shop/sync "$OPERATOR"
waits() { [ "$(app_field 'd["pending_approval"] is not None and d["pending_approval"] != 0')" = True ]; }
if wait_for "$WAIT_MS" waits && greeting_is conf-4 hello-4; then
	ok "a plan deleting 4 of 7 objects waits for approval, although the application syncs automatically"
else
	fail "a plan deleting 4 of 7 objects waits for approval" "$(app_field 'd')" "$(tail -n 20 "${DLOG[shop]}")"
fi
check "its status says why" test "$(app_field 'd["message"]')" = \
	"the plan deletes 4 of the 7 objects it manages: it waits for approval"
api POST /api/v1/applications/shop/approve "$OPERATOR"
gone() { ! kc get configmap conf-4 -n "$NS" >/dev/null 2>&1; }
if wait_for "$WAIT_MS" gone && greeting_is conf-1 hello-1; then
	ok "once approved, the prune is applied: conf-4 is gone, conf-1 stays"
else
	fail "once approved, the prune is applied" "approve: HTTP $CODE $BODY" "$(tail -n 20 "${DLOG[shop]}")"
fi

# --- a kind installed by someone else after the daemon started ----------------------------------
kc apply -f - >/dev/null <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: sprockets.serve.example.com}
spec:
  group: serve.example.com
  scope: Namespaced
  names: {plural: sprockets, singular: sprocket, kind: Sprocket}
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
EOF
kc wait --for=condition=Established crd/sprockets.serve.example.com --timeout=60s >/dev/null
printf 'apiVersion: serve.example.com/v1\nkind: Sprocket\nmetadata: {name: first}\nspec: {teeth: 12}\n' >"$REPO/apps/shop/sprocket.yaml"
commit_all "$REPO" "shop: a sprocket"
api POST /api/v1/applications/shop/sync "$OPERATOR"
sprocket() { kc get sprockets.serve.example.com first -n "$NS" >/dev/null 2>&1; }
if wait_for "$WAIT_MS" sprocket; then
	ok "a kind served since the daemon started is asked of discovery again, and its object applied"
else
	fail "a kind served since the daemon started is asked of discovery again, and its object applied" "$(tail -n 20 "${DLOG[shop]}")"
fi

# --- a wave waits for the one before it from the watches, without a request --------------------
# No controller runs: the test writes the Deployment's status, as its controller would.
cat >"$REPO/apps/shop/gate.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: gate}
spec:
  replicas: 1
  selector: {matchLabels: {app: gate}}
  template:
    metadata: {labels: {app: gate}}
    spec:
      containers: [{name: gate, image: "nginx:1.27"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: after-gate, annotations: {plumb.dev/sync-wave: "1"}}
data: {a: "1"}
EOF
commit_all "$REPO" "shop: a gate, and what waits for it"
waited_from=$(wc -l <"$KUBE_AUDIT_LOG")
api POST /api/v1/applications/shop/sync "$OPERATOR"
gate_exists() { kc get deployment gate -n "$NS" >/dev/null 2>&1; }
after_gate() { kc get configmap after-gate -n "$NS" >/dev/null 2>&1; }
if wait_for "$WAIT_MS" gate_exists && sleep 2 && ! after_gate; then
	ok "wave 1 waits while wave 0's Deployment is not available"
else
	fail "wave 1 waits while wave 0's Deployment is not available" "$(tail -n 20 "${DLOG[shop]}")"
fi
generation=$(kc get deployment gate -n "$NS" -o 'jsonpath={.metadata.generation}')
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
kc patch deployment gate -n "$NS" --subresource=status --type=merge -p '{"status":{
	"observedGeneration":'"$generation"',"replicas":1,"updatedReplicas":1,"readyReplicas":1,"availableReplicas":1,
	"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable","message":"ok",
	"lastUpdateTime":"'"$now"'","lastTransitionTime":"'"$now"'"}]}}' >/dev/null
gate_gets() { # plumb's GETs of the gate once it was applied: what the wait would read
	tail -n "+$((waited_from + 1))" "$KUBE_AUDIT_LOG" | grep '"userAgent":"plumb/' | grep '/deployments/gate' |
		awk '/"verb":"patch"/ && !/dryRun/ { applied = 1; next } applied && /"verb":"get"/ { n++ } END { print n + 0 }'
}
if wait_for "$WAIT_MS" after_gate && gets=$(gate_gets) && [ "$gets" = 0 ]; then
	ok "once it is available wave 1 is applied; the wait read its health from the watch ($gets GETs of it)"
else
	fail "once it is available wave 1 is applied; the wait read its health from the watch" "GETs of the gate: $gets" \
		"$(tail -n 20 "${DLOG[shop]}")"
fi

kill -TERM "${DPID[shop]}"
wait "${DPID[shop]}"
rc=$?
DPID[shop]=
check "plumb serve stops on SIGTERM with exit 0" test "$rc" = 0
check "plumb serve logged no sanitizer report" sanitizer_free "${DLOG[shop]}"
