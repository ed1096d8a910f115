#!/usr/bin/env bash
# Waves against a real kube-apiserver (tests/kube/start): a wave starts only
# once every object of the wave before it is Healthy, a wave that stays
# Progressing fails the sync at the health timeout, and a Degraded one fails
# it at once; what was applied is recorded, the later waves are not applied,
# and the next sync goes on.
#
# No kubelet runs, so no container ever starts: the test writes the status
# that would say so, through the /status subresource. tests/kube/start runs
# no controller-manager either: the test then writes the Deployment's and the
# Job's status as their controllers would. Should one run (it overwrites a
# Deployment's status at once), the test plays the kubelet instead, writing
# the status of the pods the controllers made, and the controllers do the
# rest.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

kube_script

kube_start "plumb's waves"
NS=$KUBE_NAMESPACE

REPO="$T/repo"
STATE="$T/state"
make_repo "$REPO"
mkdir -p "$REPO/apps/waves" "$REPO/apps/timed" "$REPO/platform"
ARGS=(--repo "$REPO" --path apps/waves --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS")

# deployment NAME WAVE-ANNOTATION WAVE [IMAGE]: a Deployment of two replicas in a wave.
deployment() {
	cat <<EOF
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: $1
  annotations: {$2: "$3"}
spec:
  replicas: 2
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      containers: [{name: $1, image: "${4:-nginx:1.27}"}]
EOF
}
# config_map NAME WAVE
config_map() {
	printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  annotations: {plumb.dev/sync-wave: "%s"}\ndata: {a: b}\n' "$1" "$2"
}

# pods SELECTOR: the pods a controller made (none unless a controller-manager runs).
pods() { kc get pods -n "$NS" -l "$1" -o name 2>/dev/null; }

# deployment_available NAME: its controller has seen its spec, and both replicas are updated and available.
deployment_available() {
	[ "$(kc get deployment "$1" -n "$NS" -o 'jsonpath={.metadata.generation}/{.status.observedGeneration}:{.status.replicas}/{.status.updatedReplicas}/{.status.availableReplicas}')" = \
		"$(kc get deployment "$1" -n "$NS" -o 'jsonpath={.metadata.generation}'):2/2/2" ]
}

# ready_pods NAME: as a kubelet would, say that NAME's pods run and are ready, and drop those being
# deleted (a kubelet would confirm it); true once the Deployment is available.
ready_pods() {
	local pod now
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	for pod in $(kc get pods -n "$NS" -l "app=$1" -o 'jsonpath={range .items[?(@.metadata.deletionTimestamp)]}{.metadata.name}{" "}{end}'); do
		kc delete pod "$pod" -n "$NS" --grace-period=0 --force >/dev/null 2>&1
	done
	for pod in $(pods "app=$1"); do
		kc patch "$pod" -n "$NS" --subresource=status --type=merge -p '{"status":{"phase":"Running",
			"conditions":[{"type":"Ready","status":"True","lastTransitionTime":"'"$now"'"}],
			"containerStatuses":[{"name":"'"$1"'","ready":true,"started":true,"image":"nginx","imageID":"",
			"restartCount":0,"state":{"running":{"startedAt":"'"$now"'"}}}]}}' >/dev/null 2>&1
	done
	deployment_available "$1"
}

# available NAME: make Deployment NAME available, with the status its controller writes once both
# replicas are; or, when a controller made its pods, by making them ready.
available() {
	local generation now
	if [ -n "$(pods "app=$1")" ]; then
		echo "# a controller-manager runs: the test makes the pods of $1 ready, as a kubelet would"
		wait_for 60000 ready_pods "$1"
		return
	fi
	generation=$(kc get deployment "$1" -n "$NS" -o 'jsonpath={.metadata.generation}')
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	kc patch deployment "$1" -n "$NS" --subresource=status --type=merge -p '{"status":{
		"observedGeneration":'"$generation"',"replicas":2,"updatedReplicas":2,"readyReplicas":2,"availableReplicas":2,
		"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable","message":"ok",
		"lastUpdateTime":"'"$now"'","lastTransitionTime":"'"$now"'"}]}}' >/dev/null
}

# failed NAME: make Job NAME fail for good, with the status its controller writes then; or, when the
# controller made its pod, by saying the pod failed (backoffLimit 0: the controller gives up).
failed() {
	local pod now
	now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	if [ -n "$(pods "job-name=$1")" ]; then
		for pod in $(pods "job-name=$1"); do
			kc patch "$pod" -n "$NS" --subresource=status --type=merge -p '{"status":{"phase":"Failed",
				"containerStatuses":[{"name":"'"$1"'","ready":false,"image":"busybox","imageID":"","restartCount":0,
				"state":{"terminated":{"exitCode":1,"reason":"Error","startedAt":"'"$now"'","finishedAt":"'"$now"'"}}}]}}' >/dev/null
		done
		return
	fi
	local condition='"status":"True","reason":"BackoffLimitExceeded","message":"Job has reached the specified backoff limit","lastProbeTime":"'"$now"'","lastTransitionTime":"'"$now"'"'
	kc patch job "$1" -n "$NS" --subresource=status --type=merge -p '{"status":{"startTime":"'"$now"'","failed":1,
		"conditions":[{"type":"FailureTarget",'"$condition"'},{"type":"Failed",'"$condition"'}]}}' >/dev/null
}

exists() { kc get "$1" "$2" -n "$NS" >/dev/null 2>&1; }
job_failed() { [ -n "$(kc get job "$1" -n "$NS" -o 'jsonpath={.status.conditions[?(@.type=="Failed")].status}')" ]; }

# in_background NAME ARGS...: run plumb ARGS in the background, its output in $T/NAME.out and .err; BG_PID.
in_background() {
	local name=$1
	shift
	"$PLUMB" "$@" >"$T/$name.out" 2>"$T/$name.err" &
	BG_PID=$!
}
# finished NAME [MS]: wait up to MS (60 s) for the background plumb to end; RC, OUT and ERR as capture sets them.
finished() {
	wait_for "${2:-60000}" eval '! running '"$BG_PID"
	if running "$BG_PID"; then
		kill "$BG_PID" 2>/dev/null
	fi
	wait "$BG_PID"
	RC=$?
	OUT=$(cat "$T/$1.out")
	ERR=$(cat "$T/$1.err")
	sanitizer_free "$T/$1.err" || fail "no sanitizer report from the sync in the background ($1)" "$ERR"
}

# --- wave 1 waits until wave 0 is available -----------------------------------------------------

{
	deployment db plumb.dev/sync-wave 0
	deployment web argocd.argoproj.io/sync-wave 1
} >"$REPO/apps/waves/app.yaml"
commit_all "$REPO" "two waves"

in_background first sync "${ARGS[@]}"
if wait_for 60000 grep -q "waiting for wave 0 to be healthy (1 object, up to 5m)" "$T/first.out"; then
	ok "the sync applies wave 0 and waits for it to be healthy"
else
	fail "the sync applies wave 0 and waits for it to be healthy" "$(cat "$T/first.out" "$T/first.err")"
fi
if grep -q "created Deployment $NS/db (Progressing: 0 of 2 replicas are updated)" "$T/first.out"; then
	ok "the apply's progress says how the Deployment it created is doing"
else
	fail "the apply's progress says how the Deployment it created is doing" "$(cat "$T/first.out")"
fi
sleep 2
if exists deployment db && ! deployment_available db; then
	ok "wave 0's Deployment is not available (no pod runs)"
else
	fail "wave 0's Deployment is not available (no pod runs)" "$(kc get deployment db -n "$NS" -o 'jsonpath={.status}' 2>&1)"
fi
if running "$BG_PID" && ! exists deployment web; then
	ok "wave 1 is not applied while wave 0's Deployment is not available"
else
	fail "wave 1 is not applied while wave 0's Deployment is not available" "$(cat "$T/first.out" "$T/first.err")"
fi
available db
finished first
if [ "$RC" = 0 ] && contains "$OUT" "wave 0 is healthy (" && contains "$OUT" "created Deployment $NS/web" &&
	contains "$OUT" "Apply complete: 2 created, 0 updated, 0 deleted." && exists deployment web; then
	ok "once wave 0's Deployment is available, the sync applies wave 1 and completes"
else
	fail "once wave 0's Deployment is available, the sync applies wave 1 and completes" "$(show)"
fi
# Nothing waits for the last wave: the sync is done while web is still Progressing.
if ! contains "$OUT" "waiting for wave 1"; then ok "nothing waits for the last wave"; else fail "nothing waits for the last wave" "$(show)"; fi

# --- a wave that stays Progressing: the health timeout -------------------------------------------

{
	deployment db plumb.dev/sync-wave 0
	deployment web argocd.argoproj.io/sync-wave 1 nginx:1.28
	config_map after 2
} >"$REPO/apps/waves/app.yaml"
commit_all "$REPO" "a new image for web, and a wave after it"
start=$(now_ms)
capture "$PLUMB" sync "${ARGS[@]}" --health-timeout 3s
took=$(($(now_ms) - start))
# Its status is the one web had when created (0 of 2 replicas updated), or, should a controller run, one of 0 available.
want="plumb: apply failed: wave 1 did not become healthy, so wave 2 and what follows were not applied: after 3s, Deployment $NS/web is Progressing ("
if [ "$RC" = 1 ] && contains "$ERR" "$want" && [ "$took" -ge 3000 ] && [ "$took" -lt 30000 ]; then
	ok "a wave not healthy within --health-timeout fails the sync, naming the object and its health"
else
	fail "a wave not healthy within --health-timeout fails the sync, naming the object and its health" "took ${took} ms" "$(show)"
fi
image=$(kc get deployment web -n "$NS" -o 'jsonpath={.spec.template.spec.containers[0].image}')
if [ "$image" = nginx:1.28 ] && ! exists configmap after; then
	ok "what was applied before the wait stays, the wave after it is not applied"
else
	fail "what was applied before the wait stays, the wave after it is not applied" "image=$image" "$(show)"
fi
if contains "$OUT" "waiting for wave 0 to be healthy" && contains "$OUT" "wave 0 is healthy"; then
	ok "an unchanged wave before a changed one is waited for too"
else
	fail "an unchanged wave before a changed one is waited for too" "$(show)"
fi
capture "$PLUMB" history --state "$STATE" -o json
result=$(python3 -c 'import json,sys; s=json.load(sys.stdin)["syncs"][0]; print(s["result"], s["updated"], s["created"])' <<<"$OUT" 2>&1)
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["syncs"][0]["id"])' <<<"$OUT" 2>&1)
capture "$PLUMB" history show "$id" --state "$STATE"
if [ "$result" = "failed 1 0" ] && contains "$OUT" "wave 1 did not become healthy" && contains "$OUT" "skipped"; then
	ok "history shows the sync failed, what it applied, and the wave it skipped"
else
	fail "history shows the sync failed, what it applied, and the wave it skipped" "result=$result" "$(show)"
fi

available web
capture "$PLUMB" sync "${ARGS[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "wave 1 is healthy" && contains "$OUT" "created ConfigMap $NS/after" && exists configmap after; then
	ok "the next sync goes on once the wave is healthy"
else
	fail "the next sync goes on once the wave is healthy" "$(show)"
fi

# --- a Degraded object fails the wait at once ----------------------------------------------------

{
	deployment db plumb.dev/sync-wave 0
	deployment web argocd.argoproj.io/sync-wave 1 nginx:1.28
	config_map after 2
	cat <<'EOF'
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
  annotations: {plumb.dev/sync-wave: "3"}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: "busybox:1.36", command: ["false"]}]
EOF
	config_map last 4
} >"$REPO/apps/waves/app.yaml"
commit_all "$REPO" "a migration job, and a wave after it"
in_background degraded sync "${ARGS[@]}"
if wait_for 60000 grep -q "waiting for wave 3 to be healthy" "$T/degraded.out" && ! job_failed migrate; then
	ok "the sync waits for the Job, which has not failed yet"
else
	fail "the sync waits for the Job, which has not failed yet" "$(cat "$T/degraded.out" "$T/degraded.err")"
fi
failed migrate
start=$(now_ms)
finished degraded
took=$(($(now_ms) - start))
want="plumb: apply failed: wave 3 did not become healthy, so wave 4 and what follows were not applied: Job $NS/migrate is Degraded (Job has reached the specified backoff limit)"
if [ "$RC" = 1 ] && contains "$ERR" "$want" && [ "$took" -lt 15000 ] && ! exists configmap last; then
	ok "a Degraded object fails the sync at once (5m timeout), naming it; the next wave is not applied"
else
	fail "a Degraded object fails the sync at once (5m timeout), naming it; the next wave is not applied" "took ${took} ms" "$(show)"
fi

# --- an Application's syncPolicy.healthTimeout ---------------------------------------------------

cat >"$REPO/platform/apps.yaml" <<EOF
apiVersion: plumb/v1
kind: Application
metadata: {name: timed}
spec:
  source: {path: apps/timed}
  destination: {kubernetes: {namespace: $NS}}
  syncPolicy: {healthTimeout: 2s}
EOF
{
	deployment slow plumb.dev/sync-wave 0
	config_map later 1
} >"$REPO/apps/timed/app.yaml"
commit_all "$REPO" "an application that waits 2s"
capture "$PLUMB" sync --repo "$REPO" --path platform --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN"
if [ "$RC" = 1 ] && contains "$OUT" "waiting for wave 0 to be healthy (1 object, up to 2s)" &&
	contains "$ERR" "after 2s, Deployment $NS/slow is Progressing (" && ! exists configmap later; then
	ok "an Application's syncPolicy.healthTimeout bounds its waits"
else
	fail "an Application's syncPolicy.healthTimeout bounds its waits" "$(show)"
fi

check "stop ends the server" "$root/tests/kube/stop" "$KUBE_STATE"
KUBE_STARTED=0
[ "$TAP_FAILED" -eq 0 ]
