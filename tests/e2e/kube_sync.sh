#!/usr/bin/env bash
# plumb plan, sync and prune a Kubernetes application, from the command line,
# against a real kube-apiserver (tests/kube/start): what the cluster holds is
# checked with kubectl, Secret values are looked for in every output and the
# state directory, and bad manifests are errors at their file and line.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

kube_script

kube_start "plumb's Kubernetes syncs"
NS=$KUBE_NAMESPACE

SECRET_ONE=s3cr3t-value-4217
SECRET_TWO=an0ther-secret-9981
REPO="$T/repo"
STATE="$T/state"
make_repo "$REPO"
mkdir -p "$REPO/apps/shop"
write_app() { # SECRET CONFIG_VALUE [with-deployment]
	cat >"$REPO/apps/shop/app.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {greeting: "$2", size: "3"}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: $1}
EOF
	if [ "${3:-}" = with-deployment ]; then
		cat >>"$REPO/apps/shop/app.yaml" <<'EOF'
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
EOF
	fi
}
write_app "$SECRET_ONE" hello with-deployment
commit_all "$REPO" "shop"
ARGS=(--repo "$REPO" --path apps/shop --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS")
ALL_OUTPUT="$T/all-output"
: >"$ALL_OUTPUT"
run() { capture "$PLUMB" "$@"; printf '%s\n%s\n' "$OUT" "$ERR" >>"$ALL_OUTPUT"; }

# --- without a cluster: check and render read the manifests as Kubernetes objects -----------

run check --repo "$REPO" --path apps/shop --state "$STATE" --namespace "$NS"
if [ "$RC" = 0 ] && contains "$OUT" "3 objects"; then ok "check --namespace reads the folder as a cluster's"; else fail "check --namespace reads the folder as a cluster's" "$(show)"; fi
run render --repo "$REPO" --path apps/shop --state "$STATE" --namespace "$NS"
if [ "$RC" = 0 ] && contains "$OUT" "password: (sensitive)" && contains "$OUT" 'greeting: "hello"'; then
	ok "render shows the objects, a Secret's values masked"
else
	fail "render shows the objects, a Secret's values masked" "$(show)"
fi

# --- a first plan and sync -------------------------------------------------------------------

run plan "${ARGS[@]}" --detailed-exitcode
if [ "$RC" = 2 ] && contains "$OUT" "+ ConfigMap $NS/conf" && contains "$OUT" "+ Deployment $NS/web" &&
	contains "$OUT" "Plan: 3 to create, 0 to update, 0 to delete."; then
	ok "plan shows the three objects to create in the destination's namespace (exit 2)"
else
	fail "plan shows the three objects to create in the destination's namespace (exit 2)" "$(show)"
fi
if contains "$OUT" "+  greeting: hello" && contains "$OUT" "+  password: (sensitive "; then
	ok "the plan's diff shows the ConfigMap's data and the Secret's key, its value as a keyed hash"
else
	fail "the plan's diff shows the ConfigMap's data and the Secret's key, its value as a keyed hash" "$(show)"
fi
if kc get configmap conf -n "$NS" >/dev/null 2>&1; then fail "plan creates nothing"; else ok "plan creates nothing"; fi

run sync "${ARGS[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 3 created, 0 updated, 0 deleted."; then
	ok "sync creates them"
else
	fail "sync creates them" "$(show)"
fi
greeting=$(kc get configmap conf -n "$NS" -o 'jsonpath={.data.greeting}' 2>&1)
password=$(kc get secret db -n "$NS" -o 'jsonpath={.data.password}' 2>&1 | base64 -d 2>/dev/null)
replicas=$(kc get deployment web -n "$NS" -o 'jsonpath={.spec.replicas}' 2>&1)
managed=$(kc get configmap conf -n "$NS" -o 'jsonpath={.metadata.labels.app\.kubernetes\.io/managed-by}' 2>&1)
if [ "$greeting" = hello ] && [ "$password" = "$SECRET_ONE" ] && [ "$replicas" = 2 ] && [ "$managed" = plumb ]; then
	ok "the cluster holds what git declares, labelled managed by plumb"
else
	fail "the cluster holds what git declares, labelled managed by plumb" \
		"greeting=$greeting replicas=$replicas managed=$managed password matches: $([ "$password" = "$SECRET_ONE" ] && echo yes || echo no)"
fi
managers=$(kc get configmap conf -n "$NS" --show-managed-fields -o 'jsonpath={.metadata.managedFields[*].manager}')
if [ "$managers" = plumb ]; then ok "plumb applies server-side as field manager plumb"; else fail "plumb applies server-side as field manager plumb" "managers: $managers"; fi

# --- nothing to do: what the server defaults never shows as a change -------------------------

run plan "${ARGS[@]}" --detailed-exitcode
if [ "$RC" = 0 ] && contains "$OUT" "No changes."; then
	ok "a plan right after the sync finds no changes (the Deployment's defaults are not a diff)"
else
	fail "a plan right after the sync finds no changes (the Deployment's defaults are not a diff)" "$(show)"
fi

# --- a change in git, the Secret's value among them ------------------------------------------

write_app "$SECRET_TWO" "hello again" with-deployment
commit_all "$REPO" "change"
run plan "${ARGS[@]}" --detailed-exitcode
if [ "$RC" = 2 ] && contains "$OUT" "~ ConfigMap $NS/conf" && contains "$OUT" '-  greeting: hello' &&
	contains "$OUT" '+  greeting: hello again' && contains "$OUT" "~ Secret $NS/db" &&
	contains "$OUT" "Plan: 0 to create, 2 to update, 0 to delete."; then
	ok "a change shows as a YAML diff of what changed, and a Secret's new value as changed"
else
	fail "a change shows as a YAML diff of what changed, and a Secret's new value as changed" "$(show)"
fi
run sync "${ARGS[@]}"
greeting=$(kc get configmap conf -n "$NS" -o 'jsonpath={.data.greeting}' 2>&1)
password=$(kc get secret db -n "$NS" -o 'jsonpath={.data.password}' 2>&1 | base64 -d 2>/dev/null)
if [ "$RC" = 0 ] && [ "$greeting" = "hello again" ] && [ "$password" = "$SECRET_TWO" ]; then
	ok "sync applies the change"
else
	fail "sync applies the change" "$(show)" "greeting=$greeting"
fi

# --- prune: what plumb created and git dropped goes; what it did not create stays ------------

kc create configmap someone-elses -n "$NS" --from-literal=k=v >/dev/null 2>&1
write_app "$SECRET_TWO" "hello again"
commit_all "$REPO" "drop the deployment"
run plan "${ARGS[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "- Deployment $NS/web: no longer declared in git" &&
	contains "$OUT" "Plan: 0 to create, 0 to update, 1 to delete." &&
	! contains "$OUT" someone-elses; then
	ok "a Deployment dropped from git is planned for deletion, a ConfigMap plumb did not create is not"
else
	fail "a Deployment dropped from git is planned for deletion, a ConfigMap plumb did not create is not" "$(show)"
fi
run sync "${ARGS[@]}"
if [ "$RC" = 0 ] && ! kc get deployment web -n "$NS" >/dev/null 2>&1 && kc get configmap someone-elses -n "$NS" >/dev/null 2>&1; then
	ok "sync prunes it, and leaves the other alone"
else
	fail "sync prunes it, and leaves the other alone" "$(show)"
fi

# --- a saved plan is applied exactly, or refused once the cluster moved -----------------------

write_app "$SECRET_TWO" "planned"
commit_all "$REPO" "planned"
run plan "${ARGS[@]}" -o "$T/plan.json"
# Someone adds a key plumb does not manage: the live object is no longer what was planned against.
kc patch configmap conf -n "$NS" --type merge -p '{"data":{"added":"by hand"}}' >/dev/null 2>&1
# The plan names its cluster by its server; the kubeconfig and namespace are given again.
run apply "$T/plan.json" --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS"
greeting=$(kc get configmap conf -n "$NS" -o 'jsonpath={.data.greeting}' 2>&1)
if [ "$RC" = 1 ] && contains "$ERR" "stale" && [ "$greeting" = "hello again" ]; then
	ok "a saved plan is refused as stale once the object changed in the cluster, and nothing is applied"
else
	fail "a saved plan is refused as stale once the object changed in the cluster, and nothing is applied" "$(show)" "greeting=$greeting"
fi
run plan "${ARGS[@]}" -o "$T/plan.json"
run apply "$T/plan.json" --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS"
greeting=$(kc get configmap conf -n "$NS" -o 'jsonpath={.data.greeting}' 2>&1)
if [ "$RC" = 0 ] && [ "$greeting" = planned ]; then
	ok "a fresh saved plan is applied exactly"
else
	fail "a fresh saved plan is applied exactly" "$(show)" "greeting=$greeting"
fi

# --- a definition and its custom resource in one revision: the definition goes first --------

mkdir -p "$REPO/apps/crd"
cat >"$REPO/apps/crd/widgets.yaml" <<'EOF'
apiVersion: aaa.example.com/v1
kind: Widget
metadata: {name: first}
spec: {size: 3}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.aaa.example.com}
spec:
  group: aaa.example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
EOF
commit_all "$REPO" "widgets"
run sync --repo "$REPO" --path apps/crd --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS"
size=$(kc get widgets.aaa.example.com first -n "$NS" -o 'jsonpath={.spec.size}' 2>&1)
crd_line=$(grep -n '^created CustomResourceDefinition' <<<"$OUT" | cut -d: -f1)
widget_line=$(grep -n '^created Widget' <<<"$OUT" | cut -d: -f1)
if [ "$RC" = 0 ] && [ "$size" = 3 ] && [ -n "$crd_line" ] && [ -n "$widget_line" ] && [ "$crd_line" -lt "$widget_line" ]; then
	ok "a CustomResourceDefinition is applied before the custom resource it defines, in one sync"
else
	fail "a CustomResourceDefinition is applied before the custom resource it defines, in one sync" "$(show)" "size=$size"
fi

# --- a field another manager took: the conflict names the field and the manager -------------

kc patch configmap conf -n "$NS" --type merge -p '{"data":{"size":"5"}}' >/dev/null 2>&1
run plan "${ARGS[@]}"
if [ "$RC" = 1 ] && contains "$ERR" ".data.size" && contains "$ERR" "kubectl-patch"; then
	ok "a field another field manager took is a conflict naming the field and the manager"
else
	fail "a field another field manager took is a conflict naming the field and the manager" "$(show)"
fi
run plan "${ARGS[@]}" --force-conflicts
if [ "$RC" = 0 ] && contains "$OUT" '-  size: "5"' && contains "$OUT" '+  size: "3"'; then
	ok "with --force-conflicts the plan shows the field taken back"
else
	fail "with --force-conflicts the plan shows the field taken back" "$(show)"
fi
if contains "$OUT" "# .data.size: managed by kubectl-patch" && ! contains "$OUT" "# .data.greeting"; then
	ok "the plan names the field manager of each field it changes, and only of those"
else
	fail "the plan names the field manager of each field it changes, and only of those" "$(show)"
fi
run sync "${ARGS[@]}" --force-conflicts
size=$(kc get configmap conf -n "$NS" -o 'jsonpath={.data.size}' 2>&1)
run plan "${ARGS[@]}"
if [ "$size" = 3 ] && [ "$RC" = 0 ] && contains "$OUT" "No changes."; then
	ok "sync --force-conflicts takes the field over: git's value, and no conflict after"
else
	fail "sync --force-conflicts takes the field over: git's value, and no conflict after" "$(show)" "size=$size"
fi

# --- plumb.dev/prune: "false" keeps an object git no longer declares ---------------------------

cat >>"$REPO/apps/shop/app.yaml" <<'EOF'
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: keep-me
  annotations: {plumb.dev/prune: "false"}
data: {k: v}
EOF
commit_all "$REPO" "keep-me"
run sync "${ARGS[@]}"
head -n -7 "$REPO/apps/shop/app.yaml" >"$T/app.yaml" && mv "$T/app.yaml" "$REPO/apps/shop/app.yaml"
commit_all "$REPO" "drop keep-me"
run sync "${ARGS[@]}"
if [ "$RC" = 0 ] && contains "$OUT" 'kept (plumb.dev/prune: "false")' && kc get configmap keep-me -n "$NS" >/dev/null 2>&1; then
	ok "an object annotated plumb.dev/prune: \"false\" stays when git drops it"
else
	fail "an object annotated plumb.dev/prune: \"false\" stays when git drops it" "$(show)"
fi
run plan "${ARGS[@]}"
if [ "$RC" = 0 ] && ! contains "$OUT" keep-me; then ok "and plumb no longer manages it"; else fail "and plumb no longer manages it" "$(show)"; fi

# --- createNamespace: the destination's namespace is made first, and never pruned ------------

mkdir -p "$REPO/nsroot" "$REPO/apps/nsapp"
write_ns_app() { # CREATE_NAMESPACE
	cat >"$REPO/nsroot/ns-app.yaml" <<EOF
apiVersion: plumb/v1
kind: Application
metadata: {name: nsapp}
spec:
  source: {path: apps/nsapp}
  destination: {kubernetes: {namespace: fresh-ns}}
  syncPolicy: {prune: true, createNamespace: $1}
EOF
}
write_ns_app false
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one}\ndata: {k: v}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\ndata: {k: v}\n' >"$REPO/apps/nsapp/conf.yaml"
commit_all "$REPO" "an application in a namespace that does not exist"
NS_ARGS=(--repo "$REPO" --path nsroot --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN")
run plan "${NS_ARGS[@]}"
if [ "$RC" = 1 ] && contains "$ERR" "namespace fresh-ns does not exist" && contains "$ERR" "syncPolicy.createNamespace" &&
	contains "$ERR" "--create-namespace" && [ "$(grep -c 'fresh-ns does not exist' <<<"$ERR")" = 1 ]; then
	ok "without createNamespace, a missing namespace is one error naming it and the option"
else
	fail "without createNamespace, a missing namespace is one error naming it and the option" "$(show)"
fi
write_ns_app true
commit_all "$REPO" "createNamespace"
run plan "${NS_ARGS[@]}" --detailed-exitcode
if [ "$RC" = 2 ] && contains "$OUT" "+ ConfigMap fresh-ns/one: namespace fresh-ns will be created" &&
	contains "$OUT" "+ ConfigMap fresh-ns/two" && contains "$OUT" "Plan: 2 to create, 0 to update, 0 to delete."; then
	ok "with createNamespace, the plan shows its objects to create, the namespace to be created (no dry run)"
else
	fail "with createNamespace, the plan shows its objects to create, the namespace to be created (no dry run)" "$(show)"
fi
if kc get namespace fresh-ns >/dev/null 2>&1; then fail "the plan makes no namespace"; else ok "the plan makes no namespace"; fi
run sync "${NS_ARGS[@]}"
managed=$(kc get namespace fresh-ns -o 'jsonpath={.metadata.labels.app\.kubernetes\.io/managed-by}' 2>&1)
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 2 created" && [ "$managed" = plumb ] &&
	kc get configmap one -n fresh-ns >/dev/null 2>&1 && kc get configmap two -n fresh-ns >/dev/null 2>&1; then
	ok "sync makes the namespace, labelled managed by plumb, then its objects"
else
	fail "sync makes the namespace, labelled managed by plumb, then its objects" "$(show)" "managed=$managed"
fi
run plan "${NS_ARGS[@]}" --detailed-exitcode
if [ "$RC" = 0 ] && contains "$OUT" "No changes."; then ok "a plan after it finds no changes"; else fail "a plan after it finds no changes" "$(show)"; fi
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\ndata: {k: v}\n' >"$REPO/apps/nsapp/conf.yaml"
commit_all "$REPO" "drop one"
run sync "${NS_ARGS[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "1 deleted" && ! contains "$OUT" "Namespace" &&
	! kc get configmap one -n fresh-ns >/dev/null 2>&1 && kc get namespace fresh-ns >/dev/null 2>&1; then
	ok "a prune deletes the object and leaves the namespace plumb made"
else
	fail "a prune deletes the object and leaves the namespace plumb made" "$(show)"
fi

# The implicit application: --create-namespace.
IMPLICIT_NS=(--repo "$REPO" --path apps/nsapp --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace fresh-two)
run sync "${IMPLICIT_NS[@]}"
if [ "$RC" = 1 ] && contains "$ERR" "namespace fresh-two does not exist" && ! kc get namespace fresh-two >/dev/null 2>&1; then
	ok "without --create-namespace, sync into a missing namespace fails and makes nothing"
else
	fail "without --create-namespace, sync into a missing namespace fails and makes nothing" "$(show)"
fi
run plan "${IMPLICIT_NS[@]}" --create-namespace
if [ "$RC" = 0 ] && contains "$OUT" "+ ConfigMap fresh-two/two: namespace fresh-two will be created"; then
	ok "plan --create-namespace shows the namespace to be created"
else
	fail "plan --create-namespace shows the namespace to be created" "$(show)"
fi
run sync "${IMPLICIT_NS[@]}" --create-namespace
if [ "$RC" = 0 ] && kc get configmap two -n fresh-two >/dev/null 2>&1; then
	ok "sync --create-namespace makes the namespace and its objects"
else
	fail "sync --create-namespace makes the namespace and its objects" "$(show)"
fi
# A namespace that exists is left as it is, never labelled. (Moving the application's one object
# to another namespace deletes all it managed: a mass prune, allowed here.)
run sync --repo "$REPO" --path apps/nsapp --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS" --create-namespace \
	--allow-mass-prune
managed=$(kc get namespace "$NS" -o 'jsonpath={.metadata.labels.app\.kubernetes\.io/managed-by}' 2>&1)
if [ "$RC" = 0 ] && contains "$OUT" "1 created" && [ -z "$managed" ]; then
	ok "--create-namespace leaves a namespace that exists alone"
else
	fail "--create-namespace leaves a namespace that exists alone" "$(show)" "managed=$managed"
fi

# A Namespace git declares is applied first, as any object: no option is needed.
mkdir -p "$REPO/apps/nsdecl"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: inside}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: declared-ns}\n' >"$REPO/apps/nsdecl/all.yaml"
commit_all "$REPO" "a declared namespace"
run sync --repo "$REPO" --path apps/nsdecl --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace declared-ns
if [ "$RC" = 0 ] && contains "$OUT" "2 created" && ! contains "$OUT" "will be created" &&
	kc get configmap inside -n declared-ns >/dev/null 2>&1; then
	ok "a Namespace declared in git is applied before the objects in it, without createNamespace"
else
	fail "a Namespace declared in git is applied before the objects in it, without createNamespace" "$(show)"
fi

# --- bad manifests: errors at their file and line, nothing applied ----------------------------

mkdir -p "$REPO/apps/bad"
cat >"$REPO/apps/bad/bad.yaml" <<'EOF'
apiVersion: v1
kind: Namespace
metadata: {name: extra, namespace: shop}
---
apiVersion: apps/v1
kind: Deploymnet
metadata: {name: typo}
spec: {}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: fine}
EOF
commit_all "$REPO" "bad"
BAD_ARGS=(--repo "$REPO" --path apps/bad --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS")
run sync "${BAD_ARGS[@]}"
if [ "$RC" = 1 ] && contains "$ERR" "apps/bad/bad.yaml:1:1: Namespace shop/extra: Namespace is cluster-scoped" &&
	contains "$ERR" "apps/bad/bad.yaml:5:1: Deploymnet typo:" && contains "$ERR" "did you mean apps/v1 Deployment?"; then
	ok "a cluster-scoped kind with a namespace and an unknown kind are errors at FILE:LINE:COL, naming what the server serves"
else
	fail "a cluster-scoped kind with a namespace and an unknown kind are errors at FILE:LINE:COL, naming what the server serves" "$(show)"
fi
if ! kc get configmap fine -n "$NS" >/dev/null 2>&1; then ok "one bad object applies nothing"; else fail "one bad object applies nothing"; fi

cat >"$REPO/apps/bad/bad.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: motd}
spec: {path: /etc/motd, content: "hi\n"}
EOF
commit_all "$REPO" "host object"
run check --repo "$REPO" --path apps/bad --state "$STATE"
run sync "${BAD_ARGS[@]}"
if [ "$RC" = 1 ] && contains "$ERR" "apps/bad/bad.yaml:1:1: File motd is a host object; its application's destination is a cluster"; then
	ok "a host object in an application bound for a cluster is an error at its document"
else
	fail "a host object in an application bound for a cluster is an error at its document" "$(show)"
fi
cat >"$REPO/apps/bad/bad.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: lost}
EOF
commit_all "$REPO" "kubernetes object for a host"
run sync --repo "$REPO" --path apps/bad --state "$STATE" --root "$T/root"
if [ "$RC" = 1 ] && contains "$ERR" 'apps/bad/bad.yaml:1:1: unknown apiVersion "v1" for a host destination'; then
	ok "a Kubernetes object in an application bound for a host root is an error at its document"
else
	fail "a Kubernetes object in an application bound for a host root is an error at its document" "$(show)"
fi

# --- one name in two namespaces is two objects; one object declared twice is an error ----------

mkdir -p "$REPO/apps/twice"
cat >"$REPO/apps/twice/a.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: same, namespace: default}
data: {where: default}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: same}
data: {where: destination}
EOF
commit_all "$REPO" "one name, two namespaces"
TWICE=(--repo "$REPO" --path apps/twice --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS")
run sync "${TWICE[@]}"
if [ "$RC" = 0 ] && [ "$(kc get configmap same -n default -o 'jsonpath={.data.where}')" = default ] &&
	[ "$(kc get configmap same -n "$NS" -o 'jsonpath={.data.where}')" = destination ]; then
	ok "one name in two namespaces is two objects"
else
	fail "one name in two namespaces is two objects" "$(show)"
fi
cat >>"$REPO/apps/twice/a.yaml" <<EOF
---
apiVersion: v1
kind: ConfigMap
metadata: {name: same, namespace: $NS}
data: {where: again}
EOF
commit_all "$REPO" "one object twice"
run plan "${TWICE[@]}"
if [ "$RC" = 1 ] && contains "$ERR" "apps/twice/a.yaml:" && contains "$ERR" "is also declared at apps/twice/a.yaml:"; then
	ok "one object declared twice (once by its namespace, once by the destination's) is an error naming both"
else
	fail "one object declared twice (once by its namespace, once by the destination's) is an error naming both" "$(show)"
fi

# --- a mass prune is refused unless it is meant ------------------------------------------------

mkdir -p "$REPO/apps/mass"
for n in one two three; do
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: mass-%s}\ndata: {n: %s}\n' "$n" "$n" >"$REPO/apps/mass/$n.yaml"
done
commit_all "$REPO" "mass"
MASS=(--repo "$REPO" --path apps/mass --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS")
run sync "${MASS[@]}"
git -C "$REPO" rm -q apps/mass/two.yaml apps/mass/three.yaml
commit_all "$REPO" "two of three gone"
run sync "${MASS[@]}"
if [ "$RC" = 1 ] && contains "$ERR" "would delete 2 of the 3 objects application apps/mass manages" &&
	kc get configmap mass-two -n "$NS" >/dev/null 2>&1 && kc get configmap mass-three -n "$NS" >/dev/null 2>&1; then
	ok "a sync that would delete more than half of an application's objects is refused, nothing deleted"
else
	fail "a sync that would delete more than half of an application's objects is refused, nothing deleted" "$(show)"
fi
run sync "${MASS[@]}" --allow-mass-prune
if [ "$RC" = 0 ] && ! kc get configmap mass-two -n "$NS" >/dev/null 2>&1 && kc get configmap mass-one -n "$NS" >/dev/null 2>&1; then
	ok "with --allow-mass-prune it goes ahead"
else
	fail "with --allow-mass-prune it goes ahead" "$(show)"
fi

# --- RBAC: what the credentials may not do is named ----------------------------------------

RESTRICTED=(--repo "$REPO" --path apps/shop --state "$T/state-restricted" --kubeconfig "$KUBECONFIG_RESTRICTED" --namespace "$NS")
run sync "${RESTRICTED[@]}"
if [ "$RC" = 1 ] && contains "$ERR" "secrets" && contains "$ERR" "$NS" && ! contains "$ERR" "$SECRET_TWO"; then
	ok "a ServiceAccount that may only touch ConfigMaps is refused, naming the resource and namespace"
else
	fail "a ServiceAccount that may only touch ConfigMaps is refused, naming the resource and namespace" "$(show)"
fi

# --- an immutable field: named, with what lets it through; Replace=true deletes and creates ---

mkdir -p "$REPO/apps/frozen"
write_frozen() { # SELECTOR [ANNOTATIONS]
	cat >"$REPO/apps/frozen/deployment.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: frozen${2:+, annotations: $2}}
spec:
  selector: {matchLabels: {app: $1}}
  template:
    metadata: {labels: {app: $1}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
EOF
}
write_frozen frozen
commit_all "$REPO" "frozen"
FROZEN=(--repo "$REPO" --path apps/frozen --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS")
run sync "${FROZEN[@]}"
uid_before=$(kc get deployment frozen -n "$NS" -o 'jsonpath={.metadata.uid}' 2>&1)
write_frozen thawed
commit_all "$REPO" "frozen: another selector"
run plan "${FROZEN[@]}"
if [ "$RC" = 1 ] && contains "$ERR" "spec.selector" && contains "$ERR" "immutable" && contains "$ERR" "Replace=true"; then
	ok "a change to an immutable field is refused by the plan, naming the field and what lets it through"
else
	fail "a change to an immutable field is refused by the plan, naming the field and what lets it through" "$(show)"
fi
write_frozen thawed '{argocd.argoproj.io/sync-options: "Replace=true"}'
commit_all "$REPO" "frozen: replaced"
run plan "${FROZEN[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "replaced (deleted, then created: an immutable field changes)"; then
	ok "with Replace=true (Argo CD's sync-options annotation) the plan shows the object replaced"
else
	fail "with Replace=true (Argo CD's sync-options annotation) the plan shows the object replaced" "$(show)"
fi
run sync "${FROZEN[@]}"
uid_after=$(kc get deployment frozen -n "$NS" -o 'jsonpath={.metadata.uid}' 2>&1)
selector=$(kc get deployment frozen -n "$NS" -o 'jsonpath={.spec.selector.matchLabels.app}' 2>&1)
if [ "$RC" = 0 ] && [ "$selector" = thawed ] && [ -n "$uid_before" ] && [ "$uid_after" != "$uid_before" ]; then
	ok "and the sync deletes and creates it: a new object with the new selector"
else
	fail "and the sync deletes and creates it" "$(show)" "uid $uid_before -> $uid_after, selector $selector"
fi

# --- ignoreDifferences: what the application leaves alone, in the diff and in the apply -------

mkdir -p "$REPO/apps/scaled" "$REPO/apps/scaled-app"
cat >"$REPO/apps/scaled-app/app.yaml" <<EOF
apiVersion: plumb/v1
kind: Application
metadata: {name: scaled}
spec:
  source: {path: apps/scaled}
  destination: {kubernetes: {namespace: $NS}}
  ignoreDifferences:
  - group: apps
    kind: Deployment
    jsonPointers: [/spec/replicas]
    jqPathExpressions: ['.spec.template.spec.containers[] | select(.name == "web") | .image']
  - kind: ConfigMap
    name: tuned
    managedFieldsManagers: [tuner]
EOF
write_scaled() { # REPLICAS A
	cat >"$REPO/apps/scaled/objects.yaml" <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: scaled}
spec:
  replicas: $1
  selector: {matchLabels: {app: scaled}}
  template:
    metadata: {labels: {app: scaled}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: tuned}
data: {a: "$2", b: "2"}
EOF
}
write_scaled 2 1
commit_all "$REPO" "scaled"
SCALED=(--repo "$REPO" --path apps/scaled-app --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN")
run sync "${SCALED[@]}"
check "an Application with ignore rules syncs" test "$RC" = 0
check "an object it creates has the fields its rules ignore as git declares them (replicas 2)" \
	test "$(kc get deployment scaled -n "$NS" -o 'jsonpath={.spec.replicas}' 2>&1)" = 2
kc scale deployment scaled -n "$NS" --replicas=5 >/dev/null
kc set image deployment/scaled -n "$NS" web=nginx:1.28 >/dev/null
kc patch configmap tuned -n "$NS" --field-manager=tuner --type merge -p '{"data":{"b":"20"}}' >/dev/null
run plan "${SCALED[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "No changes" && ! contains "$OUT" "replicas"; then
	ok "a field ignored by JSON pointer, one by a jq path, and one a listed field manager owns, show in no diff"
else
	fail "a field ignored by JSON pointer, one by a jq path, and one a listed field manager owns, show in no diff" \
		"$(show)"
fi
write_scaled 3 one
commit_all "$REPO" "scaled: 3 replicas, another a"
run sync "${SCALED[@]}"
replicas=$(kc get deployment scaled -n "$NS" -o 'jsonpath={.spec.replicas}' 2>&1)
image=$(kc get deployment scaled -n "$NS" -o 'jsonpath={.spec.template.spec.containers[0].image}' 2>&1)
tuned=$(kc get configmap tuned -n "$NS" -o 'jsonpath={.data.a} {.data.b}' 2>&1)
if [ "$RC" = 0 ] && [ "$replicas" = 5 ] && [ "$image" = nginx:1.28 ] && [ "$tuned" = "one 20" ] &&
	! contains "$OUT" "replicas"; then
	ok "and no apply takes them back, while the fields git still owns change (replicas 5, image 1.28, a=one, b=20)"
else
	fail "and no apply takes them back, while the fields git still owns change" "$(show)" \
		"replicas=$replicas image=$image tuned=$tuned"
fi
cat >"$REPO/apps/scaled-app/app.yaml" <<EOF
apiVersion: plumb/v1
kind: Application
metadata: {name: scaled}
spec:
  source: {path: apps/scaled}
  destination: {kubernetes: {namespace: $NS}}
  ignoreDifferences:
  - kind: Deployment
    jsonPointers: [spec/replicas]
  - kind: ConfigMap
    jqPathExpressions: [.data.b, '.data | keys']
EOF
commit_all "$REPO" "scaled: bad rules"
run plan "${SCALED[@]}"
if [ "$RC" = 1 ] && contains "$ERR" "apps/scaled-app/app.yaml:9:20:" && contains "$ERR" '"spec/replicas" is not a JSON pointer' &&
	contains "$ERR" "apps/scaled-app/app.yaml:11:35:" && contains "$ERR" 'jqPathExpressions: ".data | keys": at column 9' &&
	! contains "$ERR" ".data.b"; then
	ok "a rule that is not a JSON pointer, and a jq path plumb does not read, are errors at FILE:LINE:COL"
else
	fail "a rule that is not a JSON pointer, and a jq path plumb does not read, are errors at FILE:LINE:COL" "$(show)"
fi

# --- a pruned object that waits for its finalizers stays in the inventory until it is gone -----

mkdir -p "$REPO/apps/held"
cat >"$REPO/apps/held/objects.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: held, finalizers: [example.com/hold]}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: stays}
data: {a: "1"}
EOF
commit_all "$REPO" "held"
HELD=(--repo "$REPO" --path apps/held --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS")
run sync "${HELD[@]}"
undeclare_held() { # the file without its first document (held)
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stays}\ndata: {a: "1"}\n' >"$REPO/apps/held/objects.yaml"
}
undeclare_held
commit_all "$REPO" "held: no longer declared"
run sync "${HELD[@]}"
deleting=$(kc get configmap held -n "$NS" -o 'jsonpath={.metadata.deletionTimestamp}' 2>&1)
run plan "${HELD[@]}"
if [ -n "$deleting" ] && [ "$RC" = 0 ] && contains "$OUT" "ConfigMap $NS/held: being deleted: waiting for its finalizers"; then
	ok "a pruned object held by a finalizer stays in the inventory: the next plan deletes it again, saying why"
else
	fail "a pruned object held by a finalizer stays in the inventory" "deletionTimestamp=$deleting" "$(show)"
fi
kc patch configmap held -n "$NS" --type merge -p '{"metadata":{"finalizers":null}}' >/dev/null
gone() { ! kc get configmap held -n "$NS" >/dev/null 2>&1; }
wait_for 20000 gone
run sync "${HELD[@]}"
inventory=$(sqlite3 "$STATE/plumb.db" "SELECT count(*) FROM inventory WHERE key LIKE '%/held'" 2>&1)
if gone && [ "$RC" = 0 ] && [ "$inventory" = 0 ]; then
	ok "once its finalizer is gone, the next sync finds it gone and forgets it"
else
	fail "once its finalizer is gone, the next sync finds it gone and forgets it" "inventory rows: $inventory" "$(show)"
fi

# --- a sync that finds the objects as plumb applied them sends no dry run and no GET --------

mkdir -p "$REPO/apps/quiet"
for i in 1 2 3 4 5; do
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: quiet-%d}\ndata: {a: "1"}\n' "$i" >"$REPO/apps/quiet/c$i.yaml"
done
commit_all "$REPO" "quiet"
QUIET=(--repo "$REPO" --path apps/quiet --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS")
run sync "${QUIET[@]}"
seen=$(wc -l <"$KUBE_AUDIT_LOG")
run sync "${QUIET[@]}"
asked=$(tail -n +$((seen + 1)) "$KUBE_AUDIT_LOG" | python3 -c '
import json, sys
print(" ".join(sorted(e["verb"] + " " + e["requestURI"].split("?")[0] for e in map(json.loads, sys.stdin)
                      if e.get("userAgent", "").startswith("plumb/"))))')
if [ "$RC" = 0 ] && [ "$asked" = "get /api get /apis list /api/v1/namespaces/$NS/configmaps" ]; then
	ok "a sync of objects as plumb applied them asks discovery (ETags) and one list, no GET, no dry run"
else
	fail "a sync of objects as plumb applied them asks discovery (ETags) and one list, no GET, no dry run" "$asked" "$(show)"
fi

# --- an Application may be held to namespaces, and kept from cluster-scoped kinds -------------

mkdir -p "$REPO/apps/fenced" "$REPO/apps/fenced-app"
cat >"$REPO/apps/fenced-app/app.yaml" <<EOF
apiVersion: plumb/v1
kind: Application
metadata: {name: fenced}
spec:
  source: {path: apps/fenced}
  destination: {kubernetes: {namespace: $NS, namespaces: [$NS], clusterResources: false}}
EOF
cat >"$REPO/apps/fenced/objects.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: inside}
data: {a: "1"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: outside, namespace: default}
data: {a: "1"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: fenced-reader}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get]}]
EOF
commit_all "$REPO" "fenced"
FENCED=(--repo "$REPO" --path apps/fenced-app --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN")
run sync "${FENCED[@]}"
if [ "$RC" = 1 ] && contains "$ERR" "apps/fenced/objects.yaml:6:1: ConfigMap default/outside: namespace default is not one application fenced may write to (destination.kubernetes.namespaces: $NS)" &&
	contains "$ERR" "apps/fenced/objects.yaml:11:1: ClusterRole fenced-reader is cluster-scoped; application fenced may not write cluster-scoped objects" &&
	! kc get configmap inside -n "$NS" >/dev/null 2>&1 && ! kc get clusterrole fenced-reader >/dev/null 2>&1; then
	ok "an object outside the Application's namespaces, and a cluster-scoped one, are refused at FILE:LINE:COL; nothing is applied"
else
	fail "an object outside the Application's namespaces, and a cluster-scoped one, are refused at FILE:LINE:COL" "$(show)"
fi
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: inside}\ndata: {a: "1"}\n' >"$REPO/apps/fenced/objects.yaml"
commit_all "$REPO" "fenced: inside only"
run sync "${FENCED[@]}"
check "what stays inside is synced" kc get configmap inside -n "$NS"

# --- credentials that may get objects but not list them: plumb reads them one by one ----------

kc create serviceaccount getter -n "$NS" >/dev/null
kc create role getter -n "$NS" --verb=get,patch,create --resource=configmaps >/dev/null
kc create rolebinding getter -n "$NS" --role=getter --serviceaccount="$NS:getter" >/dev/null
GETTER_KC="$T/getter.kubeconfig"
"$KUBECTL" --kubeconfig "$GETTER_KC" config set-cluster c --server="$KUBE_SERVER" --certificate-authority="$KUBE_CA" \
	--embed-certs >/dev/null
"$KUBECTL" --kubeconfig "$GETTER_KC" config set-credentials u --token="$(kc create token getter -n "$NS")" >/dev/null
"$KUBECTL" --kubeconfig "$GETTER_KC" config set-context c --cluster=c --user=u --namespace="$NS" >/dev/null
"$KUBECTL" --kubeconfig "$GETTER_KC" config use-context c >/dev/null
seen=$(wc -l <"$KUBE_AUDIT_LOG")
run plan --repo "$REPO" --path apps/quiet --state "$T/state-getter" --kubeconfig "$GETTER_KC" --namespace "$NS"
refused_list=$(tail -n +$((seen + 1)) "$KUBE_AUDIT_LOG" | grep '"verb":"list"' | grep -c '"code":403')
if [ "$RC" = 0 ] && contains "$OUT" "No changes" && [ "$refused_list" -ge 1 ]; then
	ok "a list the credentials may not make costs only speed: the objects are read one by one"
else
	fail "a list the credentials may not make costs only speed: the objects are read one by one" "lists refused: $refused_list" "$(show)"
fi

# --- one object, one application --------------------------------------------------------------

mkdir -p "$REPO/apps/one" "$REPO/apps/two"
for app in one two; do
	cat >"$REPO/apps/$app/shared.yaml" <<EOF
apiVersion: v1
kind: ConfigMap
metadata: {name: shared}
data: {owner: $app}
EOF
done
commit_all "$REPO" "two applications, one ConfigMap"
run sync --repo "$REPO" --path apps/one --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS"
tracking=$(kc get configmap shared -n "$NS" -o 'jsonpath={.metadata.annotations.plumb\.dev/tracking-id}' 2>&1)
check "the tracking id names the application: $tracking" test "$tracking" = "apps/one:/ConfigMap:$NS/shared"
run sync --repo "$REPO" --path apps/two --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS"
if [ "$RC" = 1 ] && contains "$ERR" "is managed by application 'apps/one', not 'apps/two'"; then
	ok "a second application of the same state that declares the same object is refused by the inventory"
else
	fail "a second application of the same state that declares the same object is refused by the inventory" "$(show)"
fi
# Another state directory (another machine, another daemon) knows nothing of apps/one: the
# cluster's tracking id says it.
run sync --repo "$REPO" --path apps/two --state "$T/state-other" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS"
owner=$(kc get configmap shared -n "$NS" -o 'jsonpath={.data.owner}' 2>&1)
if [ "$RC" = 1 ] && contains "$ERR" "ConfigMap $NS/shared is managed by application apps/one" &&
	contains "$ERR" "application apps/two cannot manage it too" && [ "$owner" = one ]; then
	ok "so is one of another state directory, by the object's tracking id, naming both; nothing changes"
else
	fail "so is one of another state directory, by the object's tracking id, naming both" "$(show)" "owner=$owner"
fi

# --- no Secret value anywhere -----------------------------------------------------------------

leaks=$(grep -rlaF -e "$SECRET_ONE" -e "$SECRET_TWO" "$ALL_OUTPUT" "$STATE" "$T/state-restricted" 2>/dev/null)
encoded_one=$(printf %s "$SECRET_ONE" | base64)
encoded_two=$(printf %s "$SECRET_TWO" | base64)
leaks="$leaks$(grep -rlaF -e "$encoded_one" -e "$encoded_two" "$ALL_OUTPUT" "$STATE" "$T/state-restricted" 2>/dev/null)"
if [ -z "$leaks" ]; then
	ok "no Secret value, plain or base64, in any output or the state directory"
else
	fail "no Secret value, plain or base64, in any output or the state directory" "$leaks"
fi

check "stop ends the server" "$root/tests/kube/stop" "$KUBE_STATE"
KUBE_STARTED=0
[ "$TAP_FAILED" -eq 0 ]
