#!/usr/bin/env bash
# Flux's substituteFrom and valuesFrom of a Secret (docs/rendering.md, "Flux"):
# the Secret beside the Kustomization names plumb Secrets (KEY: {secretFrom:
# NAME}); check and render read no value and show the placeholders; a sync to
# a real kube-apiserver puts each value where the variable was, in a
# ConfigMap's text, in a Secret's stringData, and through a chart's b64enc
# into a Secret's data; a value changed at its source is an update shown
# masked; a value that cannot be read applies nothing; a value the server
# quotes in a refusal is masked; what plumb cannot bind is an error at its
# position; and no output, plan file, drift capture or state holds a value.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

kube_script
render_programs

RND=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
V_DB1="FLUXSECRET-db1-$RND"      # the environment variable at first
V_DB2="FLUXSECRET-db2-$RND"      # the same variable, rotated
V_AGE="FLUXSECRET-age-$RND"      # sealed with age, in the repository
V_HAND="FLUXSECRET-byhand-$RND"  # written into the cluster by hand
VALUES=("$V_DB1" "$V_DB2" "$V_AGE" "$V_HAND")
ENVNAME=PLUMB_E2E_FLUX_DB
unset "$ENVNAME"

REPO="$T/repo"
STATE="$T/state"
make_repo "$REPO"
cd "$REPO" || exit 1
mkdir -p clusters/prod apps/shop charts/admin/templates secrets
run_with_secret "" -- secret keygen --state "$STATE"
printf %s "$V_AGE" | "$PLUMB" secret seal -r "$OUT" -a >secrets/api-token.age
cat >clusters/prod/apps.yaml <<'YAML'
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: shop, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps/shop
  prune: true
  targetNamespace: flux-secrets
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild:
    substitute: {cluster_name: prod-1}
    substituteFrom:
      - {kind: ConfigMap, name: cluster-vars}
      - {kind: Secret, name: cluster-secrets}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: admin, namespace: flux-secrets}
spec:
  interval: 10m
  dependsOn: [{name: shop}]
  chart: {spec: {chart: ./charts/admin, sourceRef: {kind: GitRepository, name: flux-system}}}
  values: {admin: {user: root}}
  valuesFrom:
    - {kind: Secret, name: cluster-secrets, valuesKey: DB_PASSWORD, targetPath: admin.password}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cluster-vars, namespace: flux-system}
data: {region: eu-west}
YAML
cat >clusters/prod/cluster-secrets.yaml <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: cluster-secrets, namespace: flux-system}
stringData:
  DB_PASSWORD: {secretFrom: db-password}
data:
  API_TOKEN: {secretFrom: api-token}
YAML
cat >clusters/prod/plumb-secrets.yaml <<YAML
apiVersion: plumb/v1
kind: Secret
metadata: {name: db-password}
spec: {env: $ENVNAME}
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: api-token}
spec: {age: secrets/api-token.age}
YAML
printf 'resources: [ns.yaml, config.yaml, token.yaml]\n' >apps/shop/kustomization.yaml
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-secrets}\n' >apps/shop/ns.yaml
write_config() { # LABEL
	cat >"$REPO/apps/shop/config.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
  labels:
    tier: "$1"
data:
  url: postgres://app:\${DB_PASSWORD}@db.\${region}/\${cluster_name}
  cluster: \${cluster_name}
YAML
}
write_config web
cat >apps/shop/token.yaml <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: api}
stringData: {token: "${API_TOKEN}", note: "for ${cluster_name}"}
YAML
printf 'apiVersion: v2\nname: admin\nversion: 1.0.0\n' >charts/admin/Chart.yaml
cat >charts/admin/templates/admin.yaml <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: admin}
data:
  user: {{ .Values.admin.user | b64enc | quote }}
  password: {{ .Values.admin.password | b64enc | quote }}
YAML
commit_all "$REPO" "a Flux repository whose variables come from a Secret"
cd "$T" || exit 1

ARGS=(--repo "$REPO" --path clusters/prod --state "$STATE")

# --- check and render read no value ---------------------------------------------------------

run_with_secret "" -- check "${ARGS[@]}"
if [ "$RC" -eq 0 ]; then
	ok "check passes with the variable unset: it reads no value"
else
	fail "check passes with the variable unset: it reads no value" "$(show)"
fi
run_with_secret "" -- render "${ARGS[@]}"
if [ "$RC" -eq 0 ] && contains "$OUT" 'url: postgres://app:${secret:db-password}@db.eu-west/prod-1' &&
	contains "$OUT" 'cluster: prod-1' && ! contains "$OUT" "cluster-secrets"; then
	ok "render shows the placeholder of the plumb Secret where the variable was, and the other variables' values"
else
	fail "render shows the placeholder of the plumb Secret where the variable was, and the other variables' values" \
		"$(show)"
fi

# --- synced to a real API server ----------------------------------------------------------------

kube_start "Flux variables from a Secret"
KARGS=("${ARGS[@]}" --kubeconfig "$KUBECONFIG_ADMIN")
url() { kc get configmap web -n flux-secrets -o 'jsonpath={.data.url}' 2>/dev/null; }
secret_key() { kc get secret "$1" -n flux-secrets -o "jsonpath={.data.$2}" 2>/dev/null | base64 -d; }

run_with_secret "" -- sync "${KARGS[@]}"
if [ "$RC" -ne 0 ] && contains "$ERR" "Secret db-password" && contains "$ERR" "$ENVNAME" &&
	! kc get namespace flux-secrets >/dev/null 2>&1; then
	ok "a value that cannot be read is an error naming its Secret, and nothing is applied"
else
	fail "a value that cannot be read is an error naming its Secret, and nothing is applied" "$(show)"
fi

run_with_secret "$V_DB1" -- sync "${KARGS[@]}"
if [ "$RC" -eq 0 ] && [ "$(url)" = "postgres://app:$V_DB1@db.eu-west/prod-1" ]; then
	ok "a variable from a Secret is the plumb Secret's value in the text of a field"
else
	fail "a variable from a Secret is the plumb Secret's value in the text of a field" "url=$(url)" "$(show)"
fi
if [ "$(secret_key api token)" = "$V_AGE" ] && [ "$(secret_key api note)" = "for prod-1" ]; then
	ok "a variable in a Secret's stringData takes the value of an age-sealed plumb Secret"
else
	fail "a variable in a Secret's stringData takes the value of an age-sealed plumb Secret" \
		"token=$(secret_key api token)"
fi
if [ "$(secret_key admin password)" = "$V_DB1" ] && [ "$(secret_key admin user)" = root ]; then
	ok "valuesFrom a Secret at a targetPath reaches the chart, through its b64enc"
else
	fail "valuesFrom a Secret at a targetPath reaches the chart, through its b64enc" \
		"password=$(secret_key admin password)" "$(show)"
fi
if ! kc get secret cluster-secrets -n flux-system >/dev/null 2>&1; then
	ok "the Secret the variables come from is read, not applied"
else
	fail "the Secret the variables come from is read, not applied"
fi

run_with_secret "$V_DB1" -- plan "${KARGS[@]}"
if [ "$RC" -eq 0 ] && [ "$(grep -c "No changes" <<<"$OUT")" = 2 ]; then
	ok "a second plan with the same values changes nothing"
else
	fail "a second plan with the same values changes nothing" "$(show)"
fi
run_with_secret "$V_DB2" -- plan "${KARGS[@]}"
if [ "$RC" -eq 0 ] && contains "$OUT" "~ ConfigMap flux-secrets/web" && contains "$OUT" "-  url: (sensitive " &&
	contains "$OUT" "+  url: (sensitive " && contains "$OUT" "~ Secret flux-secrets/admin" &&
	contains "$OUT" "cluster: prod-1"; then
	ok "a value rotated at its source is an update of the fields it fills, shown masked"
else
	fail "a value rotated at its source is an update of the fields it fills, shown masked" "$(show)"
fi
run_with_secret "$V_DB2" -- plan shop "${KARGS[@]}" --out "$T/plan-rotated.json"
run_with_secret "$V_DB2" -- apply "$T/plan-rotated.json" --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN"
if [ "$RC" -eq 0 ] && [ "$(url)" = "postgres://app:$V_DB2@db.eu-west/prod-1" ]; then
	ok "a saved plan applies the rotated value"
else
	fail "a saved plan applies the rotated value" "url=$(url)" "$(show)"
fi
run_with_secret "$V_DB1" -- apply "$T/plan-rotated.json" --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN"
if [ "$RC" -ne 0 ] && [ "$(url)" = "postgres://app:$V_DB2@db.eu-west/prod-1" ]; then
	ok "a saved plan is refused once the value it was planned with moved"
else
	fail "a saved plan is refused once the value it was planned with moved" "url=$(url)" "$(show)"
fi
run_with_secret "$V_DB2" -- sync "${KARGS[@]}"
if [ "$RC" -eq 0 ] && [ "$(secret_key admin password)" = "$V_DB2" ]; then
	ok "the chart's Secret takes the rotated value"
else
	fail "the chart's Secret takes the rotated value" "$(show)"
fi

# Drift: a value written by hand is shown masked, put back, and kept nowhere.
kc patch configmap web -n flux-secrets --type merge -p "{\"data\":{\"url\":\"$V_HAND\"}}" >/dev/null
run_with_secret "$V_DB2" -- plan "${KARGS[@]}" --force-conflicts
if [ "$RC" -eq 0 ] && contains "$OUT" "-  url: (sensitive " && contains "$OUT" "+  url: (sensitive "; then
	ok "a field a Secret fills, changed by hand, shows as changed without either value"
else
	fail "a field a Secret fills, changed by hand, shows as changed without either value" "$(show)"
fi
run_with_secret "$V_DB2" -- sync "${KARGS[@]}" --force-conflicts
run_with_secret "" -- drift log --state "$STATE"
if [ "$(url)" = "postgres://app:$V_DB2@db.eu-west/prod-1" ] && contains "$OUT" "ConfigMap" &&
	contains "$OUT" "sensitive"; then
	ok "the sync puts it back, and records the drift without its content"
else
	fail "the sync puts it back, and records the drift without its content" "url=$(url)" "$(show)"
fi

# plumb serve reads the values at each sync, and takes a rotated one.
DLOG[served]="$T/serve.log"
env "$ENVNAME=$V_DB1" "$PLUMB" serve "${KARGS[@]}" --listen 127.0.0.1:0 --interval 10m --self-heal-interval 10m \
	2>"${DLOG[served]}" &
DPID[served]=$!
url_is() { [ "$(url)" = "$1" ]; }
if wait_for 60000 url_is "postgres://app:$V_DB1@db.eu-west/prod-1"; then
	ok "plumb serve syncs the Flux folder with the value of its environment"
else
	fail "plumb serve syncs the Flux folder with the value of its environment" "url=$(url)" \
		"$(tail -n 20 "${DLOG[served]}")"
fi
stop_and_check served
cat "${DLOG[served]}" >>"$ALL_OUT"

# A value the server quotes in its refusal is masked there.
write_config "\${DB_PASSWORD}"
commit_all "$REPO" "a label from a Secret"
run_with_secret "not a label!" -- plan "${KARGS[@]}"
if [ "$RC" -ne 0 ] && contains "$ERR" "metadata.labels" && contains "$ERR" "(sensitive)" &&
	! contains "$ERR" "not a label!"; then
	ok "a value the API server quotes in a refusal is masked"
else
	fail "a value the API server quotes in a refusal is masked" "$(show)"
fi
write_config web
commit_all "$REPO" "the label as it was"

# A value the server quotes in another error (an immutable field) is masked there too.
mkdir -p "$REPO/apps/selected"
cat >"$REPO/apps/selected/deploy.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: selected, namespace: flux-secrets}
spec:
  selector: {matchLabels: {pw: "${DB_PASSWORD}"}}
  template:
    metadata: {labels: {pw: "${DB_PASSWORD}"}}
    spec: {containers: [{name: c, image: registry.invalid/c:1}]}
YAML
cat >"$REPO/clusters/prod/selected.yaml" <<'YAML'
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: selected, namespace: flux-system}
spec:
  path: ./apps/selected
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild: {substituteFrom: [{kind: Secret, name: cluster-secrets}]}
YAML
commit_all "$REPO" "a selector from a Secret"
run_with_secret "$V_DB2" -- sync selected "${KARGS[@]}"
run_with_secret "$V_DB1" -- plan selected "${KARGS[@]}"
if [ "$RC" -ne 0 ] && contains "$ERR" "immutable" && ! contains "$ERR" "$V_DB1" && ! contains "$ERR" "$V_DB2"; then
	ok "a value the API server quotes in an immutable field's error is masked"
else
	fail "a value the API server quotes in an immutable field's error is masked" "$(show)"
fi
rm -r "$REPO/apps/selected" "$REPO/clusters/prod/selected.yaml"
commit_all "$REPO" "without the selector"

# --- what plumb refuses, where it is written ----------------------------------------------------

# bad FILE CONTENT: the cluster folder's FILE written so, rendered, then put back.
bad() { render_with "clusters/prod/$1" "$2" "${ARGS[@]}"; }
bad cluster-secrets.yaml 'apiVersion: v1
kind: Secret
metadata: {name: cluster-secrets, namespace: flux-system}
stringData: {DB_PASSWORD: hunter2}'
expect_err "a value written in the Secret itself is refused: it is plain text in git" \
	"clusters/prod/cluster-secrets.yaml:1:1: Secret cluster-secrets: stringData.DB_PASSWORD is written in git, in plain text"
bad cluster-secrets.yaml 'apiVersion: v1
kind: Secret
metadata: {name: cluster-secrets, namespace: flux-system}
stringData:
  DB_PASSWORD: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]
sops: {version: 3.8.1}'
expect_err "a Secret encrypted with SOPS is refused, naming what to write instead" \
	"Secret cluster-secrets is encrypted with SOPS, which plumb does not read"
bad cluster-secrets.yaml 'apiVersion: v1
kind: Secret
metadata: {name: cluster-secrets, namespace: flux-system}
stringData: {DB_PASSWORD: {secretFrom: db-pasword}, API_TOKEN: {secretFrom: api-token}}'
expect_err "a plumb Secret the Secret names that is not declared is an error at the name" \
	'clusters/prod/cluster-secrets.yaml:4:40: stringData.DB_PASSWORD.secretFrom: no Secret named "db-pasword" here'
bad values.yaml 'apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: whole, namespace: flux-secrets}
spec:
  chart: {spec: {chart: ./charts/admin, sourceRef: {kind: GitRepository, name: flux-system}}}
  valuesFrom: [{kind: Secret, name: cluster-secrets, valuesKey: DB_PASSWORD}]'
expect_err "a whole values document from a Secret is refused: it would be read before plumb plans" \
	"clusters/prod/values.yaml:6:37: Secret cluster-secrets: its DB_PASSWORD would be a whole document of values"
bad missing.yaml 'apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: missing}
spec:
  path: ./apps/shop
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild: {substituteFrom: [{kind: Secret, name: nowhere}]}'
expect_err "a Secret substituteFrom names that the folder does not hold is an error where it is named" \
	"clusters/prod/missing.yaml:7:53: Secret nowhere is not in the folder that declares this application"
mkdir -p "$REPO/apps/plain"
printf 'apiVersion: plumb/v1\nkind: Secret\nmetadata: {name: db-password}\nspec: {env: OTHER}\n' \
	>"$REPO/apps/plain/secret.yaml"
bad clash.yaml 'apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: clash}
spec:
  path: ./apps/plain
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild: {substituteFrom: [{kind: Secret, name: cluster-secrets}]}'
expect_err "a plumb Secret of the application's folder may not take the name of one its Flux application carries" \
	"apps/plain/secret.yaml:4:13: Secret db-password: the Flux application reading this folder takes a Secret of this name from clusters/prod/plumb-secrets.yaml:4"
rm -r "$REPO/apps/plain"
printf 'apiVersion: plumb/v1\nkind: Secret\nmetadata: {name: shop-only}\nspec: {env: OTHER}\n' >"$REPO/apps/shop/own.yaml"
printf 'resources: [ns.yaml, config.yaml, token.yaml, own.yaml]\n' >"$REPO/apps/shop/kustomization.yaml"
commit_all "$REPO" "a plumb Secret of the kustomization itself"
run_with_secret "" -- render "${ARGS[@]}"
if [ "$RC" -eq 0 ]; then
	ok "a plumb Secret in a kustomization with a namespace loads: the namespace kustomize gives it is ignored"
else
	fail "a plumb Secret in a kustomization with a namespace loads: the namespace kustomize gives it is ignored" \
		"$(show)"
fi
rm "$REPO/apps/shop/own.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "x-${DB_PASSWORD}"}\n' >"$REPO/apps/shop/named.yaml"
printf 'resources: [ns.yaml, config.yaml, token.yaml, named.yaml]\n' >"$REPO/apps/shop/kustomization.yaml"
commit_all "$REPO" "a name from a Secret"
run_with_secret "" -- render "${ARGS[@]}"
expect_err "a value of a Secret that would name an object is an error" \
	"metadata.name: the value of a Secret cannot name an object"

# --- no value anywhere -----------------------------------------------------------------------------

sqlite3 "$STATE/plumb.db" .dump >"$T/state-dump.sql" 2>&1
secret_patterns "${VALUES[@]}"
leaks=$(grep -rlaF "${PATTERNS[@]}" "$ALL_OUT" "$T"/plan-*.json "$T/state-dump.sql" "$STATE" 2>/dev/null)
if [ -z "$leaks" ] && grep -q "CREATE TABLE" "$T/state-dump.sql"; then
	ok "no value, plain or base64, in any output, plan file, drift capture, state directory or database dump"
else
	fail "no value, plain or base64, in any output, plan file, drift capture, state directory or database dump" \
		"$leaks"
fi

check "stop ends the server" "$root/tests/kube/stop" "$KUBE_STATE"
KUBE_STARTED=0
[ "$TAP_FAILED" -eq 0 ]
