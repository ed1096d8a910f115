#!/usr/bin/env bash
# A Kubernetes Secret whose values come from plumb Secrets (docs/secrets.md,
# "Kubernetes Secrets"), against a real kube-apiserver (tests/kube/start):
# env and age sources applied by server-side apply (kubectl shows the base64
# of each value); check and render read no value; a value changed at its
# source is planned as an update of its key, without the value; a saved plan
# is refused once a value moved; a Secret that cannot be read applies
# nothing; a reference to no Secret is an error at FILE:LINE:COL; plumb serve
# syncs such a Secret and puts back a value edited by hand; and every output,
# the plan files, drift and history, the daemon's log and API answers, and
# the state directories (their databases dumped too) hold none of the
# values, plain or base64.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

kube_script

kube_start "Secrets from plumb Secrets"
NS=$KUBE_NAMESPACE

# --- the distinctive values --------------------------------------------------------------------

RND=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
V_ENV1="KSECRET-env1-$RND"   # the environment variable at first
V_ENV2="KSECRET-env2-$RND"   # the same variable, rotated
V_ENV3="KSECRET-env3-$RND"   # a value that arrives between a plan and its apply
V_AGE="KSECRET-age-$RND"     # sealed with age; the value ends in a line break, kept
V_HAND="KSECRET-byhand-$RND" # written into the cluster's Secret by hand
V_SERVE="KSECRET-serve-$RND" # the variable plumb serve reads
V_HAND2="KSECRET-byhand2-$RND" # written by hand into the Secret plumb serve keeps
VALUES=("$V_ENV1" "$V_ENV2" "$V_ENV3" "$V_AGE" "$V_HAND" "$V_SERVE" "$V_HAND2")
ENVNAME=PLUMB_E2E_KUBE_DB
unset "$ENVNAME"

REPO="$T/repo"
STATE="$T/state"
make_repo "$REPO"
mkdir -p "$REPO/apps/shop" "$REPO/secrets"
run_with_secret "" -- secret keygen --state "$STATE"
RECIP=$OUT
printf '%s\n' "$V_AGE" >"$T/age-value"
"$PLUMB" secret seal -r "$RECIP" -a <"$T/age-value" >"$REPO/secrets/api-token.age"
"$PLUMB" secret keygen --state "$T/state-other" >/dev/null 2>&1

cat >"$REPO/apps/shop/secrets.yaml" <<EOF
apiVersion: plumb/v1
kind: Secret
metadata: {name: db-password}
spec: {env: $ENVNAME}
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: api-token}
spec: {age: secrets/api-token.age}
EOF
write_app() { # GREETING
	cat >"$REPO/apps/shop/app.yaml" <<EOF
apiVersion: v1
kind: Secret
metadata: {name: db}
type: Opaque
stringData:
  username: app
  password: {secretFrom: db-password}
data:
  api-token: {secretFrom: api-token}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {greeting: $1}
EOF
}
write_app hello
commit_all "$REPO" "shop"
ARGS=(--repo "$REPO" --path apps/shop --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS")

# secret_value KEY: the base64 the cluster's Secret db holds at data.KEY.
secret_value() { kc get secret db -n "$NS" -o "jsonpath={.data.$1}" 2>/dev/null; }
greeting() { kc get configmap conf -n "$NS" -o 'jsonpath={.data.greeting}' 2>/dev/null; }

# --- check and render read no value --------------------------------------------------------------

run_with_secret "" -- check --repo "$REPO" --path apps/shop --state "$T/state-check" --namespace "$NS"
if [ "$RC" = 0 ] && contains "$OUT" "2 objects"; then
	ok "check passes with the variable unset and no identity: it reads no value"
else
	fail "check passes with the variable unset and no identity: it reads no value" "$(show)"
fi
run_with_secret "" -- render --repo "$REPO" --path apps/shop --state "$T/state-check" --namespace "$NS"
if [ "$RC" = 0 ] && contains "$OUT" "secretFrom: db-password" && contains "$OUT" "secretFrom: api-token" &&
	contains "$OUT" "username: (sensitive)"; then
	ok "render shows the references as written and masks the value git holds"
else
	fail "render shows the references as written and masks the value git holds" "$(show)"
fi

# --- a Secret that cannot be read: nothing is applied ----------------------------------------------

run_with_secret "" -- sync "${ARGS[@]}"
if [ "$RC" = 1 ] &&
	contains "$ERR" "apps/shop/secrets.yaml:4:13: Secret db-password: environment variable $ENVNAME is not set" &&
	contains "$ERR" "nothing was applied"; then
	ok "an unset variable is an error naming the plumb Secret at its position"
else
	fail "an unset variable is an error naming the plumb Secret at its position" "$(show)"
fi
if ! kc get secret db -n "$NS" >/dev/null 2>&1 && ! kc get configmap conf -n "$NS" >/dev/null 2>&1; then
	ok "nothing is applied, not even the objects that need no Secret"
else
	fail "nothing is applied, not even the objects that need no Secret"
fi

# --- plan and sync with the values ----------------------------------------------------------------

run_with_secret "$V_ENV1" -- plan "${ARGS[@]}" --detailed-exitcode -o "$T/plan-first.json"
if [ "$RC" = 2 ] && contains "$OUT" "+ Secret $NS/db" && contains "$OUT" "+  password: (sensitive " &&
	contains "$OUT" "+  api-token: (sensitive " && contains "$OUT" "+  username: (sensitive " &&
	contains "$OUT" "Plan: 2 to create, 0 to update, 0 to delete."; then
	ok "plan shows the Secret to create, each key's value as a keyed hash"
else
	fail "plan shows the Secret to create, each key's value as a keyed hash" "$(show)"
fi
run_with_secret "" -- show "$T/plan-first.json"
run_with_secret "$V_ENV1" -- sync "${ARGS[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 2 created, 0 updated, 0 deleted."; then
	ok "sync creates the Secret and the ConfigMap"
else
	fail "sync creates the Secret and the ConfigMap" "$(show)"
fi
password=$(secret_value password)
token=$(secret_value api-token)
username=$(secret_value username | base64 -d 2>/dev/null)
if [ "$password" = "$(b64 "$V_ENV1")" ] && [ "$token" = "$(base64 -w0 <"$T/age-value")" ] && [ "$username" = app ]; then
	ok "kubectl get secret shows the base64 of each value: the variable's, the age file's (its line break kept), git's"
else
	fail "kubectl get secret shows the base64 of each value: the variable's, the age file's (its line break kept), git's" \
		"password matches: $([ "$password" = "$(b64 "$V_ENV1")" ] && echo yes || echo no)" \
		"api-token matches: $([ "$token" = "$(base64 -w0 <"$T/age-value")" ] && echo yes || echo no)" "username=$username"
fi
managers=$(kc get secret db -n "$NS" --show-managed-fields -o 'jsonpath={.metadata.managedFields[*].manager}')
string_data=$(kc get secret db -n "$NS" --show-managed-fields -o 'jsonpath={.metadata.managedFields[*].fieldsV1}')
if [ "$managers" = plumb ] && contains "$string_data" '"f:password"' && contains "$string_data" '"f:api-token"'; then
	ok "the values are applied server-side by field manager plumb, which owns their keys"
else
	fail "the values are applied server-side by field manager plumb, which owns their keys" "managers: $managers"
fi
run_with_secret "$V_ENV1" -- plan "${ARGS[@]}" --detailed-exitcode
if [ "$RC" = 0 ] && contains "$OUT" "No changes."; then
	ok "a plan with the same values finds no changes"
else
	fail "a plan with the same values finds no changes" "$(show)"
fi

# --- a value that changes at its source ------------------------------------------------------------

run_with_secret "$V_ENV2" -- plan "${ARGS[@]}" --detailed-exitcode -o "$T/plan-rotated.json"
if [ "$RC" = 2 ] && contains "$OUT" "~ Secret $NS/db: fields changed: data" &&
	contains "$OUT" "-  password: (sensitive " && contains "$OUT" "+  password: (sensitive " &&
	grep -qE '^ +api-token: \(sensitive [0-9a-f]+\)$' <<<"$OUT" && ! grep -qE '^ *[-+] *(api-token|username):' <<<"$OUT" &&
	contains "$OUT" "Plan: 0 to create, 1 to update, 0 to delete."; then
	ok "a variable that changed is an update whose key shows as changed and the others as unchanged"
else
	fail "a variable that changed is an update whose key shows as changed and the others as unchanged" "$(show)"
fi
run_with_secret "" -- show "$T/plan-rotated.json"
if [ "$RC" = 0 ] && contains "$OUT" "~ Secret $NS/db"; then ok "show prints the saved plan"; else fail "show prints the saved plan" "$(show)"; fi

# A value that moves between the plan and its apply: the saved plan is refused.
run_with_secret "$V_ENV3" -- apply "$T/plan-rotated.json" --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS"
if [ "$RC" = 1 ] && contains "$ERR" "the value of its Secret is not the one planned" &&
	[ "$(secret_value password)" = "$(b64 "$V_ENV1")" ]; then
	ok "a saved plan is refused as stale once a Secret's value moved, and nothing is applied"
else
	fail "a saved plan is refused as stale once a Secret's value moved, and nothing is applied" "$(show)"
fi
run_with_secret "$V_ENV2" -- apply "$T/plan-rotated.json" --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS"
if [ "$RC" = 0 ] && contains "$OUT" "1 updated" && [ "$(secret_value password)" = "$(b64 "$V_ENV2")" ] &&
	[ "$(secret_value api-token)" = "$(base64 -w0 <"$T/age-value")" ]; then
	ok "with the value it was planned with, the saved plan applies it"
else
	fail "with the value it was planned with, the saved plan applies it" "$(show)"
fi

# --- a value written into the cluster by hand --------------------------------------------------------

kc patch secret db -n "$NS" --type merge -p "{\"data\":{\"password\":\"$(b64 "$V_HAND")\"}}" >/dev/null 2>&1
run_with_secret "$V_ENV2" -- plan "${ARGS[@]}"
if [ "$RC" = 1 ] && contains "$ERR" ".data.password" && contains "$ERR" "kubectl-patch"; then
	ok "a key another manager wrote is a conflict naming the key and the manager"
else
	fail "a key another manager wrote is a conflict naming the key and the manager" "$(show)"
fi
run_with_secret "$V_ENV2" -- plan "${ARGS[@]}" --force-conflicts
if [ "$RC" = 0 ] && contains "$OUT" "-  password: (sensitive " && contains "$OUT" "+  password: (sensitive "; then
	ok "with --force-conflicts the plan shows the key taken back, without either value"
else
	fail "with --force-conflicts the plan shows the key taken back, without either value" "$(show)"
fi
run_with_secret "$V_ENV2" -- sync "${ARGS[@]}" --force-conflicts
if [ "$RC" = 0 ] && [ "$(secret_value password)" = "$(b64 "$V_ENV2")" ]; then
	ok "sync --force-conflicts puts the plumb Secret's value back"
else
	fail "sync --force-conflicts puts the plumb Secret's value back" "$(show)"
fi
run_with_secret "" -- drift log --state "$STATE"
drift_id=$(awk '$0 ~ /Secret/ && $1 ~ /^[0-9]+$/ { print $1; exit }' <<<"$OUT")
if [ "$RC" = 0 ] && [ -n "$drift_id" ]; then
	ok "the change by hand is recorded as drift"
else
	fail "the change by hand is recorded as drift" "$(show)"
fi
run_with_secret "" -- drift log --state "$STATE" -o json
[ -n "$drift_id" ] && run_with_secret "" -- drift show "$drift_id" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "sensitive"; then
	ok "drift show says the Secret is sensitive and keeps none of it"
else
	fail "drift show says the Secret is sensitive and keeps none of it" "$(show)"
fi

# --- an age file that cannot be opened: nothing is applied ---------------------------------------------

write_app "hello again"
commit_all "$REPO" "a new greeting"
run_with_secret "$V_ENV2" -- sync "${ARGS[@]}" --identity "$T/state-other/identity"
if [ "$RC" = 1 ] && contains "$ERR" "Secret api-token: secrets/api-token.age" && contains "$ERR" "nothing was applied" &&
	[ "$(greeting)" = hello ]; then
	ok "an age file no identity opens is an error naming the plumb Secret, and nothing is applied"
else
	fail "an age file no identity opens is an error naming the plumb Secret, and nothing is applied" "$(show)" "greeting=$(greeting)"
fi
run_with_secret "$V_ENV2" -- plan "${ARGS[@]}" --identity "$T/no-identity"
if [ "$RC" = 1 ] && contains "$ERR" "Secret api-token: no age identity at $T/no-identity"; then
	ok "a missing identity is an error naming the plumb Secret"
else
	fail "a missing identity is an error naming the plumb Secret" "$(show)"
fi

# --- a reference to no Secret of the application --------------------------------------------------------

cat >"$REPO/apps/shop/extra.yaml" <<'EOF'
apiVersion: v1
kind: Secret
metadata: {name: extra}
stringData:
  token: {secretFrom: no-such-secret}
EOF
commit_all "$REPO" "a reference to no Secret"
want='apps/shop/extra.yaml:5:23: stringData.token.secretFrom: no Secret named "no-such-secret" here (known: '
run_with_secret "" -- check --repo "$REPO" --path apps/shop --state "$T/state-check" --namespace "$NS"
if [ "$RC" = 1 ] && contains "$ERR" "$want" && contains "$ERR" "db-password" && contains "$ERR" "api-token"; then
	ok "check reports a reference to no Secret at FILE:LINE:COL, naming the known ones, without reading a value"
else
	fail "check reports a reference to no Secret at FILE:LINE:COL, naming the known ones, without reading a value" "$(show)"
fi
run_with_secret "$V_ENV2" -- sync "${ARGS[@]}"
if [ "$RC" = 1 ] && contains "$ERR" "$want" && [ "$(greeting)" = hello ] && ! kc get secret extra -n "$NS" >/dev/null 2>&1; then
	ok "sync refuses it the same way, and nothing is applied"
else
	fail "sync refuses it the same way, and nothing is applied" "$(show)" "greeting=$(greeting)"
fi
git -C "$REPO" rm -q apps/shop/extra.yaml
commit_all "$REPO" "no extra"
run_with_secret "$V_ENV2" -- sync "${ARGS[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "1 updated" && [ "$(greeting)" = "hello again" ] &&
	[ "$(secret_value password)" = "$(b64 "$V_ENV2")" ]; then
	ok "with every Secret readable the next sync applies what git says"
else
	fail "with every Secret readable the next sync applies what git says" "$(show)"
fi

# --- drift check: the values are read as a plan reads them ---------------------------------------------

DRIFT=(--state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS")
run_with_secret "$V_ENV2" -- drift "${DRIFT[@]}"
if [ "$RC" = 0 ]; then ok "drift finds the Secret as plumb applied it"; else fail "drift finds the Secret as plumb applied it" "$(show)"; fi
run_with_secret "" -- drift "${DRIFT[@]}"
if [ "$RC" = 1 ] && contains "$ERR" "Secret db-password: environment variable $ENVNAME is not set"; then
	ok "drift without the variable is an error naming the plumb Secret"
else
	fail "drift without the variable is an error naming the plumb Secret" "$(show)"
fi
kc patch secret db -n "$NS" --type merge -p "{\"data\":{\"password\":\"$(b64 "$V_HAND")\"}}" >/dev/null 2>&1
run_with_secret "$V_ENV2" -- drift "${DRIFT[@]}"
if [ "$RC" = 2 ] && contains "$OUT" "Secret $NS/db" && contains "$OUT" "password: (sensitive "; then
	ok "drift lists a value edited by hand, as a keyed hash"
else
	fail "drift lists a value edited by hand, as a keyed hash" "$(show)"
fi
run_with_secret "$V_ENV2" -- drift "${DRIFT[@]}" -o json
run_with_secret "$V_ENV2" -- sync "${ARGS[@]}" --force-conflicts
if [ "$RC" = 0 ] && [ "$(secret_value password)" = "$(b64 "$V_ENV2")" ]; then
	ok "and the next sync puts the value back"
else
	fail "and the next sync puts the value back" "$(show)"
fi
run_with_secret "" -- drift log --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN"
for id in $(awk '$1 ~ /^[0-9]+$/ { print $1 }' <<<"$OUT"); do
	run_with_secret "" -- drift show "$id" --state "$STATE"
	run_with_secret "" -- drift export "$id" --state "$STATE"
done

# --- what plumb says and keeps afterwards ----------------------------------------------------------------

run_with_secret "" -- history --state "$STATE"
syncs=$(awk '$1 ~ /^[0-9]+$/ { print $1 }' <<<"$OUT")
if [ "$RC" = 0 ] && [ -n "$syncs" ]; then ok "history lists the syncs"; else fail "history lists the syncs" "$(show)"; fi
for id in $syncs; do
	run_with_secret "" -- history show "$id" --state "$STATE"
	run_with_secret "" -- history show "$id" --state "$STATE" -o json
done
run_with_secret "" -- history --state "$STATE" -o json
run_with_secret "" -- audit export --state "$STATE"
run_with_secret "" -- audit verify --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "audit log intact"; then ok "the audit log is intact"; else fail "the audit log is intact" "$(show)"; fi

# --- plumb serve ------------------------------------------------------------------------------------------

SERVE_REPO="$T/serve-repo"
SERVE_STATE="$T/state-serve"
SERVE_LOG="$T/serve.log"
TOKEN='tok-operator-7c41e2'
printf '# name role sha256(token)\nbob operator %s\n' "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" >"$T/tokens"
make_repo "$SERVE_REPO"
mkdir -p "$SERVE_REPO/apps/vault"
cat >"$SERVE_REPO/app.yaml" <<EOF
apiVersion: plumb/v1
kind: Application
metadata: {name: vault}
spec:
  source: {path: apps/vault}
  destination: {kubernetes: {namespace: $NS}}
  syncPolicy: {automated: true, prune: true, selfHeal: true}
EOF
cat >"$SERVE_REPO/apps/vault/vault.yaml" <<EOF
apiVersion: plumb/v1
kind: Secret
metadata: {name: served-password}
spec: {env: $ENVNAME}
---
apiVersion: v1
kind: Secret
metadata: {name: served}
stringData:
  password: {secretFrom: served-password}
EOF
commit_all "$SERVE_REPO" "vault"
env "$ENVNAME=$V_SERVE" "$PLUMB" serve --repo "$SERVE_REPO" --state "$SERVE_STATE" --kubeconfig "$KUBECONFIG_ADMIN" \
	--listen 127.0.0.1:0 --tokens "$T/tokens" --interval 10m --self-heal-interval 10m 2>"$SERVE_LOG" &
DPID[serve]=$!
port=
serving_port() {
	port=$(sed -n 's/.* msg=serving .* port=\([0-9][0-9]*\).*/\1/p' "$SERVE_LOG" | head -n 1)
	[ -n "$port" ]
}
api() { # METHOD PATH: the daemon's answer in BODY, kept with every output
	BODY=$(curl -s --max-time 30 -X "$1" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$port$2")
	printf '%s\n' "$BODY" >>"$ALL_OUT"
}
served_is() { [ "$(kc get secret served -n "$NS" -o 'jsonpath={.data.password}' 2>/dev/null)" = "$(b64 "$1")" ]; }
if wait_for 60000 serving_port && wait_for 60000 served_is "$V_SERVE"; then
	ok "plumb serve syncs a Secret whose value its environment gives"
else
	fail "plumb serve syncs a Secret whose value its environment gives" "$(tail -n 20 "$SERVE_LOG")"
fi
kc patch secret served -n "$NS" --type merge -p "{\"data\":{\"password\":\"$(b64 "$V_HAND2")\"}}" >/dev/null 2>&1
if wait_for 15000 served_is "$V_SERVE"; then
	ok "a value edited by hand is put back from the watch"
else
	fail "a value edited by hand is put back from the watch" "$(tail -n 20 "$SERVE_LOG")"
fi
api GET /api/v1/applications
api GET /api/v1/applications/vault
api GET /api/v1/applications/vault/objects
api GET /api/v1/applications/vault/drift
drift_events=$BODY
api GET /api/v1/applications/vault/history
ids=$(printf '%s' "$BODY" | python3 -c 'import json, sys; print(" ".join(str(s["id"]) for s in json.load(sys.stdin)["syncs"]))')
for id in $ids; do api GET "/api/v1/applications/vault/history/$id"; done
api GET /api/v1/audit
if contains "$drift_events" "/Secret/$NS/served" && [ -n "$ids" ]; then
	ok "the API lists the syncs, and the edit as drift"
else
	fail "the API lists the syncs, and the edit as drift" "$drift_events" "syncs: $ids"
fi
kill -TERM "${DPID[serve]}"
wait "${DPID[serve]}"
rc=$?
DPID[serve]=
check "plumb serve stops on SIGTERM with exit 0" test "$rc" = 0
check "plumb serve logged no sanitizer report" sanitizer_free "$SERVE_LOG"

# --- no value anywhere ------------------------------------------------------------------------------------

sqlite3 "$STATE/plumb.db" .dump >"$T/state-dump.sql" 2>&1
sqlite3 "$SERVE_STATE/plumb.db" .dump >"$T/state-serve-dump.sql" 2>&1
secret_patterns "${VALUES[@]}"
PATTERNS+=(-e "$(base64 -w0 <"$T/age-value")")
leaks=$(grep -rlaF "${PATTERNS[@]}" "$ALL_OUT" "$T"/plan-*.json "$T"/state-*.sql "$STATE" "$T/state-check" \
	"$SERVE_STATE" "$SERVE_LOG" 2>/dev/null)
if [ -z "$leaks" ] && grep -q "CREATE TABLE" "$T/state-dump.sql" && grep -q "CREATE TABLE" "$T/state-serve-dump.sql"; then
	ok "no value, plain or base64, in any output, plan file, API answer, log, state directory or database dump"
else
	fail "no value, plain or base64, in any output, plan file, API answer, log, state directory or database dump" "$leaks"
fi

check "stop ends the server" "$root/tests/kube/stop" "$KUBE_STATE"
KUBE_STARTED=0
[ "$TAP_FAILED" -eq 0 ]
