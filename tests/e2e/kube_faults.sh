#!/usr/bin/env bash
# What plumb does when a real kube-apiserver (tests/kube/start) refuses or fails:
#
# - its validation errors are reported at FILE:LINE:COL of each field in the manifests,
#   every object is dry-run before the plan fails, and a sync then applies nothing;
# - stopped in the middle of a sync of 200 ConfigMaps, the sync fails naming the server,
#   what was applied so far is recorded, and once the server is back
#   (tests/kube/restart-apiserver: same port, same etcd) the next sync finishes the job
#   without creating again what was already there.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

kube_script

kube_start "plumb facing a failing server"
NS=$KUBE_NAMESPACE

REPO="$T/repo"
make_repo "$REPO"
mkdir -p "$REPO/apps/bad" "$REPO/apps/fresh" "$REPO/apps/many"

# line_starts TEXT PREFIX: some line of TEXT starts with PREFIX (a fixed string).
line_starts() {
	printf '%s\n' "$1" | awk -v p="$2" 'index($0, p) == 1 { found = 1 } END { exit !found }'
}

# applies_since LINE: the server-side applies (not dry runs) of ConfigMaps cm-* the audit log
# recorded after its line LINE.
applies_since() {
	tail -n "+$(($1 + 1))" "$KUBE_AUDIT_LOG" | grep '"verb":"patch"' | grep -v 'dryRun=' | grep -c '/configmaps/cm-'
}

# --- validation errors at the field's position ------------------------------------------------

cat >"$REPO/apps/bad/web.yaml" <<'EOF'
# the web tier
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: -1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: Web_1
          image: nginx:1.27
        - name: side
EOF
cat >"$REPO/apps/bad/conf.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: good}
data: {greeting: hello}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
data:
  ok: fine
  bad key!: value
---
apiVersion: v1
kind: ConfigMap
metadata: {name: typo}
datas: {a: b}
EOF
commit_all "$REPO" "invalid objects"
BAD=(--repo "$REPO" --path apps/bad --state "$T/state-bad" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS")

base=$(wc -l <"$KUBE_AUDIT_LOG")
capture "$PLUMB" plan "${BAD[@]}"
refusals=$(printf '%s\n' "$ERR" | grep -c '^apps/bad/')
if [ "$RC" = 1 ] && [ "$refusals" = 5 ] &&
	line_starts "$ERR" "apps/bad/web.yaml:7:3: Deployment $NS/web: spec.replicas: Invalid value: -1: must be greater than or equal to 0" &&
	line_starts "$ERR" "apps/bad/web.yaml:15:11: Deployment $NS/web: spec.template.spec.containers[0].name: Invalid value: \"Web_1\": " &&
	line_starts "$ERR" "apps/bad/conf.yaml:12:3: ConfigMap $NS/conf: data[bad key!]: Invalid value: \"bad key!\": "; then
	ok "plan exits 1 naming FILE:LINE:COL of each field the server's validation refuses"
else
	fail "plan exits 1 naming FILE:LINE:COL of each field the server's validation refuses" "$(show)"
fi
if line_starts "$ERR" "apps/bad/conf.yaml:17:1: ConfigMap $NS/typo: datas: field not declared in schema"; then
	ok "a field server-side apply's schema does not know is reported where it is written"
else
	fail "a field server-side apply's schema does not know is reported where it is written" "$(show)"
fi
if line_starts "$ERR" "apps/bad/web.yaml:2:1: Deployment $NS/web: spec.template.spec.containers[1].image: Required value"; then
	ok "a required field the manifest does not write is reported at the document"
else
	fail "a required field the manifest does not write is reported at the document" "$(show)"
fi
if line_starts "$ERR" "plumb: commit " && contains "$ERR" "declares objects the destination cannot take: 5 errors; nothing was applied"; then
	ok "the plan fails once, counting every refusal"
else
	fail "the plan fails once, counting every refusal" "$(show)"
fi
# Distinct objects: one the server refused is asked again on its own, for its message.
dry_runs=$(tail -n "+$((base + 1))" "$KUBE_AUDIT_LOG" | grep '"verb":"patch"' | grep 'dryRun=All' |
	grep -o '"requestURI":"[^"?]*' | sort -u | wc -l)
if [ "$dry_runs" = 4 ]; then
	ok "every object was dry-run, not only those before the first refusal"
else
	fail "every object was dry-run, not only those before the first refusal" "dry runs: $dry_runs"
fi

base=$(wc -l <"$KUBE_AUDIT_LOG")
capture "$PLUMB" sync "${BAD[@]}"
applies=$(tail -n "+$((base + 1))" "$KUBE_AUDIT_LOG" | grep '"verb":"patch"' | grep -vc 'dryRun=')
live=$(kc get configmaps,deployments -n "$NS" -o name 2>/dev/null)
if [ "$RC" = 1 ] && line_starts "$ERR" "apps/bad/web.yaml:7:3: " && [ "$applies" = 0 ] && [ -z "$live" ]; then
	ok "sync refuses the same way and applies nothing, not even the valid ConfigMap"
else
	fail "sync refuses the same way and applies nothing, not even the valid ConfigMap" "$(show)" \
		"applies: $applies" "live: $live"
fi
capture "$PLUMB" history --state "$T/state-bad"
if contains "$OUT" "No syncs recorded."; then ok "no sync was begun"; else fail "no sync was begun" "$(show)"; fi

# An object plumb cannot dry-run first (its namespace is created by the sync) is refused at its
# apply, at the same position, and the sync's record says where.
cat >"$REPO/apps/fresh/conf.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data:
  bad key!: value
EOF
commit_all "$REPO" "invalid in a new namespace"
FRESH=(--repo "$REPO" --path apps/fresh --state "$T/state-fresh" --kubeconfig "$KUBECONFIG_ADMIN" --namespace plumb-fresh)
capture "$PLUMB" sync "${FRESH[@]}" --create-namespace
if [ "$RC" = 1 ] && line_starts "$ERR" "plumb: apply failed: apps/fresh/conf.yaml:5:3: ConfigMap plumb-fresh/conf: data[bad key!]: Invalid value"; then
	ok "an apply the server refuses names FILE:LINE:COL of the field"
else
	fail "an apply the server refuses names FILE:LINE:COL of the field" "$(show)"
fi
capture "$PLUMB" history show 1 --state "$T/state-fresh"
if contains "$OUT" "Sync 1: failed" && contains "$OUT" "Error:       apps/fresh/conf.yaml:5:3: ConfigMap plumb-fresh/conf: data[bad key!]"; then
	ok "the failed sync records the position"
else
	fail "the failed sync records the position" "$(show)"
fi

# --- the server stopped in the middle of a sync --------------------------------------------------

for i in $(seq -w 1 200); do
	printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%s}\ndata: {n: "%s"}\n' "$i" "$i"
done >"$REPO/apps/many/configmaps.yaml"
commit_all "$REPO" "200 ConfigMaps"
MANY_STATE="$T/state-many"
MANY=(--repo "$REPO" --path apps/many --state "$MANY_STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS")

base=$(wc -l <"$KUBE_AUDIT_LOG")
"$PLUMB" sync "${MANY[@]}" >"$T/many-1.out" 2>"$T/many-1.err" &
sync_pid=$!
some_applied() { [ "$(applies_since "$base")" -ge 20 ] || ! running "$sync_pid"; }
wait_for 120000 some_applied
# Held still while the server goes (a loaded machine could otherwise finish the sync first),
# then let go: its next request finds no server.
kill -STOP "$sync_pid" 2>/dev/null
midway=$(running "$sync_pid" && echo yes)
"$root/tests/kube/stop" "$KUBE_STATE" kube-apiserver 2>"$T/stop.err"
stopped=$?
if [ "$midway" = yes ] && [ "$stopped" = 0 ] && ! running "$KUBE_APISERVER_PID" && running "$KUBE_ETCD_PID"; then
	ok "the kube-apiserver stops mid-sync ($(applies_since "$base") of 200 applied), etcd stays"
else
	fail "the kube-apiserver stops mid-sync ($(applies_since "$base") of 200 applied), etcd stays" \
		"sync still running: ${midway:-no}; stop: exit $stopped $(cat "$T/stop.err")" \
		"apiserver pid $KUBE_APISERVER_PID alive: $(running "$KUBE_APISERVER_PID" && echo yes || echo no)" \
		"etcd pid $KUBE_ETCD_PID alive: $(running "$KUBE_ETCD_PID" && echo yes || echo no)"
fi
kill -CONT "$sync_pid" 2>/dev/null
wait "$sync_pid"
RC=$?
OUT=$(cat "$T/many-1.out")
ERR=$(cat "$T/many-1.err")
if [ "$RC" = 1 ] && line_starts "$ERR" "plumb: apply failed: ConfigMap $NS/cm-" && contains "$ERR" "$KUBE_SERVER" &&
	sanitizer_free "$T/many-1.err"; then
	ok "the sync fails with an error naming the object and the server"
else
	fail "the sync fails with an error naming the object and the server" "$(show)"
fi

check "the kube-apiserver starts again on its port, with its etcd" "$root/tests/kube/restart-apiserver" "$KUBE_STATE"
set -a
. "$KUBE_STATE/env"
set +a
uids() { kc get configmaps -n "$NS" -o 'jsonpath={range .items[*]}{.metadata.name} {.metadata.uid} {.metadata.creationTimestamp}{"\n"}{end}' | grep '^cm-' | sort; }
uids >"$T/uids-before"
live=$(wc -l <"$T/uids-before")

# What the store kept of that sync: failed, each object applied as changed, the next one failed,
# the rest skipped.
capture "$PLUMB" history show 1 --state "$MANY_STATE" -o json
recorded=$(printf '%s' "$OUT" | python3 -c '
import collections, json, sys
sync = json.load(sys.stdin)
outcomes = collections.Counter(a["outcome"] for a in sync["actions"])
print(sync["result"], sync["created"], outcomes["changed"], outcomes["failed"], outcomes["skipped"])' 2>&1)
read -r result created changed failed skipped <<<"$recorded"
# A request cut off by the stop may have been carried out without an answer: the error says so.
if [ "${result:-}" = failed ] && [ "${created:-0}" -ge 20 ] && [ "$changed" = "$created" ] && [ "$failed" = 1 ] &&
	[ $((created + failed + skipped)) = 200 ] &&
	{ [ "$live" = "$created" ] || { [ "$live" = $((created + 1)) ] && contains "$ERR" "may or may not"; }; }; then
	ok "history records the sync failed with the $created objects applied so far (the cluster holds $live)"
else
	fail "history records the sync failed with the objects applied so far" "recorded: $recorded" "live: $live" "$(show)"
fi

base=$(wc -l <"$KUBE_AUDIT_LOG")
capture "$PLUMB" sync "${MANY[@]}"
uids >"$T/uids-after"
kept=$(grep -cFxf "$T/uids-before" "$T/uids-after")
applies=$(applies_since "$base")
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: $((200 - live)) created, 0 updated, 0 deleted." &&
	[ "$(wc -l <"$T/uids-after")" = 200 ]; then
	ok "the next sync finishes the job: all 200 exist"
else
	fail "the next sync finishes the job: all 200 exist" "$(show)" "live: $(wc -l <"$T/uids-after")"
fi
if [ "$kept" = "$live" ] && [ "$applies" = $((200 - live)) ]; then
	ok "what the failed sync applied is neither created again nor applied again (uid, creationTimestamp kept)"
else
	fail "what the failed sync applied is neither created again nor applied again (uid, creationTimestamp kept)" \
		"kept $kept of $live; applies: $applies"
fi
capture "$PLUMB" history --state "$MANY_STATE"
newest=$(printf '%s\n' "$OUT" | sed -n 2p)
if contains "$newest" "succeeded" && contains "$newest" " $((200 - live)) "; then
	ok "history shows the second sync succeeded"
else
	fail "history shows the second sync succeeded" "$(show)"
fi
capture "$PLUMB" plan "${MANY[@]}" --detailed-exitcode
expect_rc "a plan then finds nothing to do" 0

check "stop ends the server" "$root/tests/kube/stop" "$KUBE_STATE"
KUBE_STARTED=0
[ "$TAP_FAILED" -eq 0 ]
