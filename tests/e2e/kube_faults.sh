#!/usr/bin/env bash
# What plumb does when a real kube-apiserver (tests/kube/start) refuses: its validation
# errors are reported at FILE:LINE:COL of each field in the manifests, every object is
# dry-run before the plan fails, and a sync then applies nothing.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

KUBECTL="$root/build/kube/bin/kubectl"
KUBE_STATE="$T/kube"
trap kube_cleanup EXIT

kube_start "plumb facing a refusing server"
NS=$KUBE_NAMESPACE
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

REPO="$T/repo"
make_repo "$REPO"
mkdir -p "$REPO/apps/bad" "$REPO/apps/fresh"

# line_starts TEXT PREFIX: some line of TEXT starts with PREFIX (a fixed string).
line_starts() {
	printf '%s\n' "$1" | awk -v p="$2" 'index($0, p) == 1 { found = 1 } END { exit !found }'
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
dry_runs=$(tail -n "+$((base + 1))" "$KUBE_AUDIT_LOG" | grep '"verb":"patch"' | grep -c 'dryRun=All')
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

check "stop ends the server" "$root/tests/kube/stop" "$KUBE_STATE"
KUBE_STARTED=0
[ "$TAP_FAILED" -eq 0 ]
