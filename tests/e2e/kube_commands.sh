#!/usr/bin/env bash
# status, history, drift (check, log, show, export), rollback and saved plans
# for an application whose destination is a cluster, against a real
# kube-apiserver (tests/kube/start). The kubeconfig has three contexts: main
# (the server at 127.0.0.1), alias (the same cluster) and elsewhere (the same
# server as https://localhost:PORT: another destination by name), the current
# one; a fourth, via-plugin, reaches main through an exec plugin that cannot
# run. The Application names context main and its namespace, so the commands
# that read it (sync, rollback) go there whatever the current context is.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

kube_script

kube_start "plumb status, history, drift, rollback and plan files on a cluster"
NS=$KUBE_NAMESPACE
greeting() { kc get configmap conf -n "$NS" -o 'jsonpath={.data.greeting}' 2>&1; }
run() { capture "$PLUMB" "$@"; }
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)" <<<"$OUT" 2>&1; }

PORT=${KUBE_SERVER##*:}
ELSEWHERE="https://localhost:$PORT"
KC="$T/kubeconfig"
cat >"$KC" <<EOF
apiVersion: v1
kind: Config
current-context: elsewhere
clusters:
- name: main
  cluster: {server: "$KUBE_SERVER", certificate-authority: "$KUBE_CA"}
- name: by-name
  cluster: {server: "$ELSEWHERE", certificate-authority: "$KUBE_CA"}
users:
- name: admin
  user: {client-certificate: "$KUBE_ADMIN_CERT", client-key: "$KUBE_ADMIN_KEY"}
- name: plugin
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: "$T/no-such-plugin", interactiveMode: Never}
contexts:
- name: main
  context: {cluster: main, user: admin}
- name: alias
  context: {cluster: main, user: admin}
- name: elsewhere
  context: {cluster: by-name, user: admin}
- name: via-plugin
  context: {cluster: main, user: plugin}
EOF

WORK="$T/work"
BARE="$T/shop.git"
STATE="$T/state"
make_repo "$WORK"
mkdir -p "$WORK/root" "$WORK/apps/shop"
cat >"$WORK/root/shop.yaml" <<EOF
apiVersion: plumb/v1
kind: Application
metadata: {name: shop}
spec:
  source: {path: apps/shop}
  destination: {kubernetes: {context: main, namespace: $NS}}
  syncPolicy: {prune: true}
EOF
# write_shop GREETING [added]: apps/shop's manifest; "added" adds a third ConfigMap.
write_shop() {
	cat >"$WORK/apps/shop/shop.yaml" <<EOF
# the shop's settings
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {greeting: "$1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: keep}
data: {k: v}
EOF
	if [ "${2:-}" = added ]; then
		printf -- '---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: added}\ndata: {k: v2}\n' >>"$WORK/apps/shop/shop.yaml"
	fi
}
publish() { git -C "$WORK" push -q "$BARE" main 2>/dev/null; }
write_shop one
commit_all "$WORK" "shop one"
C1=$(head_of "$WORK")
git clone -q --bare "$WORK" "$BARE"
ARGS=(--repo "$BARE" --path root --state "$STATE" --kubeconfig "$KC")
MAIN=(--state "$STATE" --kubeconfig "$KC" --context main)

run sync "${ARGS[@]}"
if [ "$RC" = 0 ] && [ "$(greeting)" = one ]; then
	ok "sync of the Application goes to its context, not the kubeconfig's current one"
else
	fail "sync of the Application goes to its context, not the kubeconfig's current one" "$(show)"
fi
write_shop two added
commit_all "$WORK" "shop two"
C2=$(head_of "$WORK")
publish
run sync "${ARGS[@]}"
if [ "$RC" = 0 ] && [ "$(greeting)" = two ] && kc get configmap added -n "$NS" >/dev/null 2>&1; then
	ok "a second sync applies the second commit"
else
	fail "a second sync applies the second commit" "$(show)"
fi

# --- status -------------------------------------------------------------------------------------

run status "${MAIN[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Destination: kubernetes $KUBE_SERVER (context main)" &&
	grep -qE "^  shop +synced +[0-9TZ:-]+ +sync +${C2:0:12} +1 created, 1 updated, 0 deleted$" <<<"$OUT" &&
	contains "$OUT" "Managed:     3 objects" && contains "$OUT" "  ConfigMap $NS/conf  shop  v1/ConfigMap/conf  created"; then
	ok "status --context main: the cluster by its server, shop synced at the second commit, its objects by namespace and name"
else
	fail "status --context main: the cluster by its server, shop synced at the second commit, its objects by namespace and name" "$(show)"
fi
run status "${MAIN[@]}" -o json
got=$(json '[d["destination"], d["context"], d["applications"][0]["application"], d["applications"][0]["state"], d["applications"][0]["last_sync"]["commit"], sorted(o["path"] for o in d["objects"])]')
if [ "$RC" = 0 ] && [ "$got" = "['kubernetes $KUBE_SERVER', 'main', 'shop', 'synced', '$C2', ['$NS/added', '$NS/conf', '$NS/keep']]" ]; then
	ok "status -o json: destination, context, the application's state and last sync, the objects"
else
	fail "status -o json: destination, context, the application's state and last sync, the objects" "got: $got" "$(show)"
fi
run status --state "$STATE" --kubeconfig "$KC"
if [ "$RC" = 0 ] && contains "$OUT" "Destination: kubernetes $ELSEWHERE (context elsewhere)" &&
	contains "$OUT" "Last sync:   never" && contains "$OUT" "Managed:     0 objects"; then
	ok "status without --context names the current context's server: nothing was synced there"
else
	fail "status without --context names the current context's server: nothing was synced there" "$(show)"
fi
run status --state "$STATE" --kubeconfig "$KC" --context via-plugin
if [ "$RC" = 0 ] && contains "$OUT" "Destination: kubernetes $KUBE_SERVER (context via-plugin)" &&
	contains "$OUT" "Managed:     3 objects"; then
	ok "status reads only the kubeconfig's names: a context whose exec plugin cannot run finds the same records"
else
	fail "status reads only the kubeconfig's names: a context whose exec plugin cannot run finds the same records" "$(show)"
fi
run status --state "$STATE" --kubeconfig "$KC" --context nowhere
if [ "$RC" = 1 ] && contains "$ERR" 'context "nowhere" is not in'; then
	ok "status --context naming no context fails saying so"
else
	fail "status --context naming no context fails saying so" "$(show)"
fi

# --- history ------------------------------------------------------------------------------------

run history "${MAIN[@]}"
rows=$(grep -cE "^ +[0-9]+ .* shop +sync +cli " <<<"$OUT")
if [ "$RC" = 0 ] && [ "$rows" = 2 ] && contains "$OUT" "${C2:0:7}" && contains "$OUT" "${C1:0:7}"; then
	ok "history --context main lists the two syncs of shop"
else
	fail "history --context main lists the two syncs of shop" "rows: $rows" "$(show)"
fi
run history shop "${MAIN[@]}" -o json
got=$(json '[s["commit"] for s in d["syncs"]]')
if [ "$RC" = 0 ] && [ "$got" = "['$C2', '$C1']" ]; then
	ok "history APP -o json: the two syncs, newest first"
else
	fail "history APP -o json: the two syncs, newest first" "got: $got" "$(show)"
fi
run history --state "$STATE" --kubeconfig "$KC" --context elsewhere
if [ "$RC" = 0 ] && contains "$OUT" "No syncs recorded into kubernetes $ELSEWHERE."; then
	ok "history of another server lists none"
else
	fail "history of another server lists none" "$(show)"
fi
run history "${MAIN[@]}" -o json
SYNC=$(json 'd["syncs"][0]["id"]')
run history show "$SYNC" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "Destination: kubernetes $KUBE_SERVER" && contains "$OUT" "ConfigMap  $NS/added  changed"; then
	ok "history show names the cluster and each object by namespace and name"
else
	fail "history show names the cluster and each object by namespace and name" "$(show)"
fi

# --- drift check --------------------------------------------------------------------------------

DRIFT=("${MAIN[@]}" --namespace "$NS")
run drift check "${DRIFT[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "No drift: every object in kubernetes $KUBE_SERVER is as plumb last applied it."; then
	ok "drift check right after a sync finds none (exit 0)"
else
	fail "drift check right after a sync finds none (exit 0)" "$(show)"
fi
kc patch configmap conf -n "$NS" --type merge -p '{"data":{"greeting":"by hand"}}' >/dev/null 2>&1
run drift check "${DRIFT[@]}"
if [ "$RC" = 2 ] && contains "$OUT" "~ ConfigMap $NS/conf" && contains "$OUT" "-  greeting: by hand" &&
	contains "$OUT" "+  greeting: two" && contains "$OUT" "Drift: 1 object in kubernetes $KUBE_SERVER differs" &&
	! contains "$OUT" "$NS/keep"; then
	ok "drift check finds the object changed with kubectl, with the diff a sync would apply (exit 2)"
else
	fail "drift check finds the object changed with kubectl, with the diff a sync would apply (exit 2)" "$(show)"
fi
if [ "$(greeting)" = "by hand" ]; then ok "drift check changes nothing"; else fail "drift check changes nothing" "greeting: $(greeting)"; fi
run drift "${DRIFT[@]}" -o json
got=$(json '[d["destination"]] + [[o["application"], o["path"], o["commit"]] for o in d["drifted"]]')
if [ "$RC" = 2 ] && [ "$got" = "['kubernetes $KUBE_SERVER', ['shop', '$NS/conf', '$C2']]" ]; then
	ok "drift -o json: the drifted object, its application and the commit it is compared with"
else
	fail "drift -o json: the drifted object, its application and the commit it is compared with" "got: $got" "$(show)"
fi
run drift check "${MAIN[@]}"
if [ "$RC" != 1 ] && contains "$ERR" "is this the destination (--namespace, --context) the sync used?"; then
	ok "drift check in the context's namespace, not the sync's, says that it looks elsewhere"
else
	fail "drift check in the context's namespace, not the sync's, says that it looks elsewhere" "$(show)"
fi

# --- a sync overwrites the drift and keeps it: drift log, show, export ---------------------------

run sync "${ARGS[@]}" --force-conflicts
if [ "$RC" = 0 ] && [ "$(greeting)" = two ]; then
	ok "sync --force-conflicts takes the field back"
else
	fail "sync --force-conflicts takes the field back" "$(show)" "greeting: $(greeting)"
fi
run drift log "${MAIN[@]}"
ID=$(sed -n "s/^\([0-9]*\) .*  shop  ConfigMap $NS\/conf  .*content kept.*/\1/p" <<<"$OUT")
if [ "$RC" = 0 ] && [ -n "$ID" ] && [ "$(grep -c . <<<"$OUT")" = 1 ]; then
	ok "drift log --context main: one event, for ConfigMap $NS/conf, its content kept"
else
	fail "drift log --context main: one event, for ConfigMap $NS/conf, its content kept" "$(show)"
fi
run drift log --state "$STATE" --kubeconfig "$KC"
if [ "$RC" = 0 ] && contains "$OUT" "No drift has been recorded."; then
	ok "drift log of the current context's server: none"
else
	fail "drift log of the current context's server: none" "$(show)"
fi
run drift show "$ID" --state "$STATE"
kept=$(awk '/^--- kept content ---$/ { k = 1; next } /^--- from git / { k = 0 } k' <<<"$OUT")
if [ "$RC" = 0 ] && contains "$OUT" "Drift $ID: ConfigMap $NS/conf, application shop" &&
	grep -qx '  greeting: by hand' <<<"$kept" && contains "$OUT" "--- from git (commit ${C2:0:12}) to the kept content ---" &&
	contains "$OUT" "-  greeting: two" && contains "$OUT" "+  greeting: by hand"; then
	ok "drift show: the object as kubectl left it, and its diff from git"
else
	fail "drift show: the object as kubectl left it, and its diff from git" "$(show)"
fi
run drift export "$ID" --state "$STATE" --out "$T/drift.patch"
if [ "$RC" = 0 ] && grep -q '^--- a/apps/shop/shop.yaml$' "$T/drift.patch" && git -C "$WORK" apply --check "$T/drift.patch" 2>/dev/null; then
	ok "drift export: a patch of the manifest that git apply takes"
else
	fail "drift export: a patch of the manifest that git apply takes" "$(show)" "$(cat "$T/drift.patch" 2>&1)"
fi
git -C "$WORK" checkout -q -b from-drift
git -C "$WORK" apply "$T/drift.patch" 2>/dev/null && commit_all "$WORK" "the manual change"
git -C "$WORK" push -q "$BARE" from-drift 2>/dev/null
run render --repo "$BARE" --revision from-drift --path apps/shop --namespace "$NS"
if [ "$RC" = 0 ] && grep -qx '  greeting: by hand' <<<"$OUT" && contains "$OUT" "name: keep" && contains "$OUT" "name: added" &&
	head -n 1 "$WORK/apps/shop/shop.yaml" | grep -qx '# the shop.s settings'; then
	ok "the exported patch replaces only that object's document: the manifest still loads, with the manual change"
else
	fail "the exported patch replaces only that object's document: the manifest still loads, with the manual change" "$(show)"
fi
git -C "$WORK" checkout -q main

# --- rollback -----------------------------------------------------------------------------------

run rollback shop --to "$C1" "${ARGS[@]}"
if [ "$RC" = 0 ] && [ "$(greeting)" = one ] && ! kc get configmap added -n "$NS" >/dev/null 2>&1 &&
	kc get configmap keep -n "$NS" >/dev/null 2>&1; then
	ok "rollback to the first commit restores its version on the cluster and prunes what it did not have"
else
	fail "rollback to the first commit restores its version on the cluster and prunes what it did not have" "$(show)" "greeting: $(greeting)"
fi
tip=$(git -C "$BARE" rev-parse main)
if [ "$tip" != "$C2" ] && [ "$(git -C "$BARE" rev-parse "$tip^")" = "$C2" ] &&
	git -C "$BARE" diff --quiet "$C1" "$tip" -- apps/shop; then
	ok "rollback commits apps/shop as in the first commit on top of the branch"
else
	fail "rollback commits apps/shop as in the first commit on top of the branch" "tip $tip"
fi
run history shop "${MAIN[@]}" -o json
got=$(json '[[s["operation"], s["commit"], s["deleted"]] for s in d["syncs"][:1]]')
if [ "$got" = "[['rollback', '$tip', 1]]" ]; then
	ok "history records the rollback: its commit, the prune"
else
	fail "history records the rollback: its commit, the prune" "got: $got" "$(show)"
fi
run status "${MAIN[@]}"
if [ "$RC" = 0 ] && grep -qE "^  shop +synced +[0-9TZ:-]+ +rollback +${tip:0:12} " <<<"$OUT" && contains "$OUT" "Managed:     2 objects"; then
	ok "status after the rollback: shop synced by it, two objects"
else
	fail "status after the rollback: shop synced by it, two objects" "$(show)"
fi
git -C "$WORK" pull -q "$BARE" main 2>/dev/null

# --- a saved plan names its context, and goes nowhere else --------------------------------------

write_shop three
commit_all "$WORK" "shop three"
publish
run plan shop "${ARGS[@]}" -o "$T/plan.json"
got=$(python3 -c 'import json, sys; k = json.load(open(sys.argv[1]))["kubernetes"]; print([k["context"], k["kubeconfig"], k["namespace"]])' "$T/plan.json" 2>&1)
if [ "$RC" = 0 ] && [ "$got" = "['main', '$KC', '$NS']" ]; then
	ok "the plan file names its context, kubeconfig and namespace"
else
	fail "the plan file names its context, kubeconfig and namespace" "got: $got" "$(show)"
fi
run show "$T/plan.json"
if [ "$RC" = 0 ] && contains "$OUT" "Context main of $KC, namespace $NS"; then ok "show prints them"; else fail "show prints them" "$(show)"; fi
run apply "$T/plan.json" --state "$STATE" --context alias
if [ "$RC" = 1 ] && contains "$ERR" "the plan was made for context \"main\" (kubernetes $KUBE_SERVER), not context \"alias\" (kubernetes $KUBE_SERVER); nothing was applied" &&
	[ "$(greeting)" = one ]; then
	ok "apply of the plan to another context of the same server is refused, naming both"
else
	fail "apply of the plan to another context of the same server is refused, naming both" "$(show)" "greeting: $(greeting)"
fi
run apply "$T/plan.json" --state "$STATE" --context elsewhere
if [ "$RC" = 1 ] && contains "$ERR" "the plan was made for context \"main\" (kubernetes $KUBE_SERVER), not context \"elsewhere\" (kubernetes $ELSEWHERE)" &&
	[ "$(greeting)" = one ]; then
	ok "apply of the plan to another server is refused, naming both"
else
	fail "apply of the plan to another server is refused, naming both" "$(show)" "greeting: $(greeting)"
fi
sed 's/^current-context: elsewhere/current-context: main/; s|server: "https://127.0.0.1:[0-9]*"|server: "'"$ELSEWHERE"'"|' "$KC" >"$T/moved.kubeconfig"
run apply "$T/plan.json" --state "$STATE" --kubeconfig "$T/moved.kubeconfig"
if [ "$RC" = 1 ] && contains "$ERR" "not context \"main\" (kubernetes $ELSEWHERE)" && [ "$(greeting)" = one ]; then
	ok "apply with a kubeconfig whose context main is another server is refused"
else
	fail "apply with a kubeconfig whose context main is another server is refused" "$(show)"
fi
run apply "$T/plan.json" --state "$STATE" --namespace default
if [ "$RC" = 1 ] && contains "$ERR" "the plan was made for namespace $NS, not default" && [ "$(greeting)" = one ]; then
	ok "apply of the plan into another namespace is refused"
else
	fail "apply of the plan into another namespace is refused" "$(show)"
fi
run audit export --state "$STATE"
if grep -q '"event":"refusal".*another cluster' <<<"$OUT"; then ok "a refused plan is in the audit log"; else fail "a refused plan is in the audit log" "$(show)"; fi
run apply "$T/plan.json" --state "$STATE"
if [ "$RC" = 0 ] && [ "$(greeting)" = three ]; then
	ok "apply of the plan with no cluster options goes to the kubeconfig and context it names"
else
	fail "apply of the plan with no cluster options goes to the kubeconfig and context it names" "$(show)" "greeting: $(greeting)"
fi

[ "$TAP_FAILED" -eq 0 ]
