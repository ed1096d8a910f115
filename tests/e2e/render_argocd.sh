#!/usr/bin/env bash
# A repository written for Argo CD is read as it is: an app of apps of Argo CD
# Applications (a Helm chart with value files and parameters, a kustomize base
# with two overlays and kustomize overrides, a plain folder) renders the
# objects that `helm template` and `kustomize edit` + `kustomize build` give
# by hand, as Argo CD's repo server runs them; directory options choose the
# files; sync waves order the applications; fields plumb does not read are
# warnings at their position; what it cannot honour is an error there; and
# the applications sync to a real kube-apiserver.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

kube_script
render_programs

REPO="$T/repo"
STATE="$T/state"
URL=https://github.com/example/gitops.git
make_repo "$REPO"
cd "$REPO" || exit 1
mkdir -p apps charts/podinfo/templates shop/base shop/overlays/dev shop/overlays/prod envs/prod plain/sub
cat >charts/podinfo/Chart.yaml <<'YAML'
apiVersion: v2
name: podinfo
version: 6.0.0
YAML
cat >charts/podinfo/values.yaml <<'YAML'
replicaCount: 1
image: {repository: ghcr.io/stefanprodan/podinfo, tag: 6.0.0}
ui: {color: "#34577c", message: ""}
YAML
cat >charts/podinfo/templates/deploy.yaml <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels: {app: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicaCount }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
        - name: podinfo
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          env:
            - {name: PODINFO_UI_COLOR, value: {{ .Values.ui.color | quote }}}
            - {name: PODINFO_UI_MESSAGE, value: {{ .Values.ui.message | quote }}}
YAML
cat >envs/prod/podinfo.yaml <<'YAML'
replicaCount: 3
YAML
cat >shop/base/kustomization.yaml <<'YAML'
resources: [deploy.yaml]
YAML
cat >shop/base/deploy.yaml <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: shop}
spec:
  replicas: 1
  selector: {matchLabels: {app: shop}}
  template:
    metadata: {labels: {app: shop}}
    spec: {containers: [{name: shop, image: "nginx:1.25"}]}
YAML
for env in dev prod; do
	printf 'resources: [../../base]\nnamePrefix: %s-\n' "$env" >"shop/overlays/$env/kustomization.yaml"
done
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: top}\ndata: {a: "1"}\n' >plain/cm.yaml
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: nested}\ndata: {a: "1"}\n' >plain/sub/cm.yaml
printf '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-json"}, "data": {"a": "1"}}\n' \
	>plain/extra.json
cat >apps/podinfo.yaml <<YAML
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: podinfo
  namespace: argocd
  annotations: {argocd.argoproj.io/sync-wave: "1"}
  finalizers: [resources-finalizer.argocd.argoproj.io]
spec:
  project: default
  source:
    repoURL: $URL
    targetRevision: HEAD
    path: charts/podinfo
    helm:
      releaseName: web
      valueFiles: [../../envs/prod/podinfo.yaml]
      valuesObject: {ui: {color: green}}
      parameters: [{name: ui.message, value: "hello, world"}]
  destination: {server: https://kubernetes.default.svc, namespace: argo-web}
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true]
    retry: {limit: 5}
YAML
for env in dev prod; do
	cat >"apps/shop-$env.yaml" <<YAML
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: shop-$env, namespace: argocd}
spec:
  source:
    repoURL: ${URL%.git}
    path: shop/overlays/$env
    kustomize:
      nameSuffix: -v2
      images: ["nginx=registry.local/nginx:1.27"]
      commonLabels: {team: shop}
      replicas: [{name: $env-shop, count: 4}]
  destination: {name: in-cluster, namespace: argo-shop-$env}
  syncPolicy: {syncOptions: [CreateNamespace=true]}
YAML
done
cat >apps/plain.yaml <<YAML
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: plain
  annotations: {argocd.argoproj.io/sync-wave: "-1"}
spec:
  source: {repoURL: $URL, path: plain}
  destination: {server: https://kubernetes.default.svc, namespace: argo-plain}
  syncPolicy: {syncOptions: [CreateNamespace=true]}
---
apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata: {name: shop, namespace: argocd}
spec: {destinations: [{namespace: '*', server: '*'}]}
YAML
cat >root.yaml <<YAML
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: root, namespace: argocd}
spec:
  source: {repoURL: $URL, path: apps, targetRevision: HEAD}
  destination: {server: https://kubernetes.default.svc, namespace: argocd}
YAML
commit_all "$REPO" "an Argo CD repository"
cd "$T" || exit 1

ARGS=(--repo "$REPO" --state "$STATE" --repo-alias "$URL")

# --- the app of apps, rendered -----------------------------------------------------------------

capture "$PLUMB" render "${ARGS[@]}" --path root.yaml
if [ "$RC" -eq 0 ]; then
	ok "plumb render reads an Argo CD app of apps"
else
	fail "plumb render reads an Argo CD app of apps" "$(show)"
fi
order=$(printf '%s\n' "$ERR" | sed -n 's/^== Application \([^:]*\):.*/\1/p' | tr '\n' ' ')
if [ "$order" = "plain shop-dev shop-prod podinfo " ]; then
	ok "applications go in sync-wave order (-1, 0, 0, 1)"
else
	fail "applications go in sync-wave order (-1, 0, 0, 1)" "order: $order" "$(show)"
fi
if contains "$ERR" "apps/podinfo.yaml:23:13: warning: spec.syncPolicy.retry: not read by plumb" &&
	contains "$ERR" "apps/plain.yaml:11:1: warning: AppProject shop is not read by plumb"; then
	ok "a field plumb does not read, and an AppProject, are warnings at their positions"
else
	fail "a field plumb does not read, and an AppProject, are warnings at their positions" "$(show)"
fi
printf '%s\n' "$OUT" >"$T/all.yaml"

# The chart as Argo CD's repo server renders it: helm template with the value files, values and parameters.
printf 'ui: {color: green}\n' >"$T/inline.yaml"
"$HELM" template web "$REPO/charts/podinfo" --namespace argo-web --values "$REPO/envs/prod/podinfo.yaml" \
	--values "$T/inline.yaml" --set 'ui.message=hello\, world' | canonical >"$T/helm-by-hand"
grep '"kind": "Deployment"' "$T/helm-by-hand" >/dev/null || fail "helm template by hand renders the chart"
plumb_podinfo=$(canonical <"$T/all.yaml" | grep '"name": "web"')
if [ -s "$T/helm-by-hand" ] && [ "$plumb_podinfo" = "$(cat "$T/helm-by-hand")" ] &&
	contains "$plumb_podinfo" '"replicas": 3' && contains "$plumb_podinfo" '"value": "hello, world"' &&
	contains "$plumb_podinfo" '"value": "green"'; then
	ok "the chart renders as helm template does with the value file, valuesObject and parameters"
else
	fail "the chart renders as helm template does with the value file, valuesObject and parameters" \
		"plumb: $plumb_podinfo" "by hand: $(cat "$T/helm-by-hand")"
fi

# Each overlay as Argo CD renders it: kustomize edit on a copy, then kustomize build.
same_overlays=1
for env in dev prod; do
	rm -rf "$T/edit" && cp -r "$REPO" "$T/edit"
	(cd "$T/edit/shop/overlays/$env" && "$KUSTOMIZE" edit set namesuffix -- -v2 &&
		"$KUSTOMIZE" edit set image nginx=registry.local/nginx:1.27 &&
		"$KUSTOMIZE" edit add label team:shop --force &&
		"$KUSTOMIZE" edit set replicas "$env-shop=4") >/dev/null 2>&1 || same_overlays=0
	"$KUSTOMIZE" build "$T/edit/shop/overlays/$env" | canonical >"$T/kustomize-$env"
	plumb_overlay=$(canonical <"$T/all.yaml" | grep "\"name\": \"$env-shop-v2\"")
	[ -s "$T/kustomize-$env" ] && [ "$plumb_overlay" = "$(cat "$T/kustomize-$env")" ] || same_overlays=0
	contains "$plumb_overlay" '"replicas": 4' && contains "$plumb_overlay" 'registry.local/nginx:1.27' || same_overlays=0
done
if [ "$same_overlays" = 1 ]; then
	ok "both overlays render as kustomize edit and kustomize build do with the application's overrides"
else
	fail "both overlays render as kustomize edit and kustomize build do with the application's overrides" \
		"plumb: $(canonical <"$T/all.yaml")" "by hand: $(cat "$T"/kustomize-*)"
fi
if [ "$(git -C "$REPO" status --porcelain)" = "" ]; then
	ok "the overrides edit a private copy, never the repository"
else
	fail "the overrides edit a private copy, never the repository" "$(git -C "$REPO" status --porcelain)"
fi

# A directory without its subfolders, as Argo CD reads it, and its *.json files.
plain=$(canonical <"$T/all.yaml" | grep '"kind": "ConfigMap"')
if contains "$plain" '"name": "top"' && contains "$plain" '"name": "from-json"' &&
	! contains "$plain" '"name": "nested"'; then
	ok "a directory is read without its subfolders, *.json included, unless directory.recurse"
else
	fail "a directory is read without its subfolders, *.json included, unless directory.recurse" "$plain"
fi

# --- directory options ---------------------------------------------------------------------

directory_app() { # OPTIONS: an Application of plain with these directory options
	cat >"$REPO/root.yaml" <<YAML
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: plain}
spec:
  source:
    repoURL: $URL
    path: plain
    directory: $1
  destination: {server: https://kubernetes.default.svc, namespace: argo-plain}
YAML
	commit_all "$REPO" "directory $1"
	capture "$PLUMB" render "${ARGS[@]}" --path root.yaml
	names=$(printf '%s\n' "$OUT" | python3 -c '
import sys, yaml
print(" ".join(sorted(d["metadata"]["name"] for d in yaml.safe_load_all(sys.stdin) if d)))')
}
directory_app '{recurse: true}'
if [ "$RC" -eq 0 ] && [ "$names" = "from-json nested top" ]; then
	ok "directory.recurse reads the subfolders"
else
	fail "directory.recurse reads the subfolders" "names: $names" "$(show)"
fi
directory_app "{recurse: true, include: '{*.yaml,sub/*}', exclude: 'sub/*.json'}"
if [ "$RC" -eq 0 ] && [ "$names" = "nested top" ]; then
	ok "directory.include and exclude choose the files by glob, with alternatives"
else
	fail "directory.include and exclude choose the files by glob, with alternatives" "names: $names" "$(show)"
fi

# --- what plumb refuses, where it is written ------------------------------------------------

bad_app() { # SOURCE DESTINATION: an Application with this source and destination, rendered
	cat >"$REPO/root.yaml" <<YAML
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: bad}
spec:
$1
  destination: ${2:-{server: https://kubernetes.default.svc, namespace: bad\}}
YAML
	commit_all "$REPO" "bad"
	capture "$PLUMB" render "${ARGS[@]}" --path root.yaml
}
refused() { # NAME EXPECTED: the last render failed, naming EXPECTED
	if [ "$RC" -ne 0 ] && contains "$ERR" "$2"; then
		ok "$1"
	else
		fail "$1" "expected: $2" "$(show)"
	fi
}
bad_app "  source: {repoURL: $URL, path: charts/podinfo, helm: {valueFiles: [../../../etc/passwd]}}"
refused "a value file out of the repository is refused where it is written (CVE-2022-24348)" \
	"root.yaml:5:102: spec.source.helm.valueFiles: '../../../etc/passwd' leaves the repository"
bad_app "  source: {repoURL: $URL, path: charts/podinfo, helm: {valueFiles: [https://evil.example/v.yaml]}}"
refused "a value file from a URL is refused" "is a URL; helm runs without the network"
bad_app "  source: {repoURL: $URL, path: charts/podinfo, helm: {valueFiles: [missing.yaml]}}"
refused "a value file that does not exist is an error where it is written" \
	"root.yaml:5:102: value file 'charts/podinfo/missing.yaml' is not a file in commit"
bad_app "  source: {repoURL: $URL, path: charts/podinfo, helm: {valueFiles: [missing.yaml], ignoreMissingValueFiles: true}}"
if [ "$RC" -eq 0 ]; then
	ok "ignoreMissingValueFiles lets a missing value file be"
else
	fail "ignoreMissingValueFiles lets a missing value file be" "$(show)"
fi
bad_app "  source: {repoURL: https://stefanprodan.github.io/podinfo, chart: podinfo, targetRevision: 6.5.0}"
refused "a chart from a Helm repository is an error naming it, unless fetching is allowed" \
	"root.yaml:5:68: the chart https://stefanprodan.github.io/podinfo podinfo@6.5.0 is fetched from a Helm repository over the network"
# With --allow-chart-fetch, helm fetches it, as Argo CD's repo server does.
chart_repository "$T/chartrepo" || fail "a chart repository serves on loopback" "$(cat "$T/chartrepo/server.log")"
bad_app "  source:
    repoURL: $CHART_REPO
    chart: dep
    targetRevision: 0.2.0
    helm: {valuesObject: {size: 3}}"
capture "$PLUMB" render "${ARGS[@]}" --path root.yaml --allow-chart-fetch
"$HELM" template bad dep --repo "$CHART_REPO" --version 0.2.0 --namespace bad --set size=3 2>/dev/null | canonical \
	>"$T/remote-by-hand"
if [ "$RC" -eq 0 ] && [ "$(printf '%s\n' "$OUT" | canonical)" = "$(cat "$T/remote-by-hand")" ] &&
	contains "$OUT" '"3"'; then
	ok "--allow-chart-fetch renders a chart of a Helm repository as helm template --repo does by hand"
else
	fail "--allow-chart-fetch renders a chart of a Helm repository as helm template --repo does by hand" "$(show)" \
		"by hand: $(cat "$T/remote-by-hand")"
fi
bad_app "  source: {repoURL: $CHART_REPO, chart: dep, targetRevision: 0.2.0, helm: {valueFiles: [values-prod.yaml]}}"
capture "$PLUMB" render "${ARGS[@]}" --path root.yaml --allow-chart-fetch
refused "a value file inside a chart of a Helm repository is an error" \
	"'values-prod.yaml' would be read from inside a chart of a Helm repository"
bad_app "  sources: [{repoURL: $URL, path: plain}, {repoURL: $URL, path: shop/base}]"
refused "two sources to render are an error" "spec.sources: 2 sources to render; plumb reads an application from one"
bad_app "  sources:
    - {repoURL: $URL, path: charts/podinfo, helm: {valueFiles: [\$values/envs/prod/podinfo.yaml]}}
    - {repoURL: ${URL%.git}, ref: values}"
if [ "$RC" -eq 0 ] && canonical <<<"$OUT" | grep -q '"replicas": 3'; then
	ok "a value file of another source that is this repository (\$values/...) is read from its root"
else
	fail "a value file of another source that is this repository (\$values/...) is read from its root" "$(show)"
fi
bad_app "  sources:
    - {repoURL: $URL, path: charts/podinfo, helm: {valueFiles: [\$values/prod.yaml]}}
    - {repoURL: https://git.example.com/other.git, ref: values}"
refused "a value file of another repository is an error" \
	"'\$values/prod.yaml' names a source that is not this repository"
bad_app "  source: {repoURL: $URL, path: plain}" "{name: homelab, namespace: bad}"
refused "a cluster the configuration does not map is an error where it is written" \
	"root.yaml:6:23: spec.destination: cluster 'homelab' is not one plumb knows"
capture "$PLUMB" render "${ARGS[@]}" --path root.yaml --cluster homelab=homelab-admin
if [ "$RC" -eq 0 ]; then
	ok "--cluster maps a cluster's name to a kubeconfig context"
else
	fail "--cluster maps a cluster's name to a kubeconfig context" "$(show)"
fi
bad_app "  source: {repoURL: $URL, path: charts/podinfo, kustomize: {images: ['=x']}, plugin: {name: cmp}}"
refused "a plugin is an error" "spec.source.plugin: config management plugins are not run by plumb"
refused "an image override that is not one is an error" "is not an image override"

# --- synced to a real API server -------------------------------------------------------------

cat >"$REPO/root.yaml" <<YAML
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: root, namespace: argocd}
spec:
  source: {repoURL: $URL, path: apps}
  destination: {server: https://kubernetes.default.svc, namespace: argocd}
YAML
commit_all "$REPO" "the root again"
kube_start "an Argo CD app of apps"
capture "$PLUMB" sync "${ARGS[@]}" --path root.yaml --kubeconfig "$KUBECONFIG_ADMIN"
replicas=$(kc get deployment web -n argo-web -o 'jsonpath={.spec.replicas}' 2>&1)
image=$(kc get deployment prod-shop-v2 -n argo-shop-prod -o 'jsonpath={.spec.template.spec.containers[0].image}' 2>&1)
top=$(kc get configmap top -n argo-plain -o 'jsonpath={.data.a}' 2>&1)
if [ "$RC" -eq 0 ] && [ "$replicas" = 3 ] && [ "$image" = registry.local/nginx:1.27 ] && [ "$top" = 1 ]; then
	ok "plumb sync applies the app of apps to the cluster, each in its destination namespace"
else
	fail "plumb sync applies the app of apps to the cluster, each in its destination namespace" \
		"replicas=$replicas image=$image top=$top" "$(show)"
fi
if ! kc get applications.argoproj.io -A >/dev/null 2>&1 && ! kc get namespace argocd >/dev/null 2>&1; then
	ok "the Applications themselves are read, not applied"
else
	fail "the Applications themselves are read, not applied" "$(kc get namespace argocd 2>&1)"
fi
capture "$PLUMB" sync "${ARGS[@]}" --path root.yaml --kubeconfig "$KUBECONFIG_ADMIN"
if [ "$RC" -eq 0 ] && ! printf '%s\n' "$OUT" | grep -qE '[1-9][0-9]* (created|updated|deleted)'; then
	ok "a second sync changes nothing"
else
	fail "a second sync changes nothing" "$(show)"
fi

# A plan file keeps what the Application asked of helm: applying it renders the same.
sed -i 's/replicaCount: 3/replicaCount: 4/' "$REPO/envs/prod/podinfo.yaml"
commit_all "$REPO" "four replicas"
capture "$PLUMB" plan podinfo "${ARGS[@]}" --path root.yaml --kubeconfig "$KUBECONFIG_ADMIN" -o "$T/podinfo.plan"
plan_rc=$RC
capture "$PLUMB" apply "$T/podinfo.plan" --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN"
replicas=$(kc get deployment web -n argo-web -o 'jsonpath={.spec.replicas}' 2>&1)
if [ "$plan_rc" -eq 0 ] && [ "$RC" -eq 0 ] && [ "$replicas" = 4 ] && grep -q '"valueFiles"' "$T/podinfo.plan"; then
	ok "a plan file of a chart with value files applies as planned"
else
	fail "a plan file of a chart with value files applies as planned" "replicas=$replicas" "$(show)"
fi

# --- plumb serve, with the clusters and repository aliases of serve.yaml -----------------------

SERVED="$T/served"
make_repo "$SERVED"
mkdir -p "$SERVED/apps" "$SERVED/plain"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: served}\ndata: {a: "1"}\n' >"$SERVED/plain/cm.yaml"
cat >"$SERVED/apps/served.yaml" <<YAML
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: served}
spec:
  source: {repoURL: https://git.example.com/homelab/served, path: plain}
  destination: {name: homelab, namespace: argo-served}
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    syncOptions: [CreateNamespace=true, Validate=false]
YAML
commit_all "$SERVED" "served"
cat >"$T/serve.yaml" <<YAML
clusters:
  homelab: plumb-admin
repo-aliases:
  - https://git.example.com/homelab/served.git
render-timeout: 2m
render-output-max: 16777216
YAML
printf 'repo: %s\nrender-timeout: soon\n' "$SERVED" >"$T/bad-serve.yaml"
capture "$PLUMB" serve --config "$T/bad-serve.yaml" --state "$T/bad-serve-state"
if [ "$RC" -ne 0 ] && contains "$ERR" "bad-serve.yaml:2:17: render-timeout: 'soon' is not a duration"; then
	ok "serve.yaml's render limits are checked at start, at their position"
else
	fail "serve.yaml's render limits are checked at start, at their position" "$(show)"
fi
WAIT_MS=60000
DLOG[served]="$T/serve.log"
"$PLUMB" serve --config "$T/serve.yaml" --repo "$SERVED" --path apps --state "$T/serve-state" \
	--kubeconfig "$KUBECONFIG_ADMIN" --listen 127.0.0.1:0 --interval 1s --self-heal-interval 10m \
	2>"${DLOG[served]}" &
DPID[served]=$!
served_is_there() { [ "$(kc get configmap served -n argo-served -o 'jsonpath={.data.a}' 2>/dev/null)" = 1 ]; }
if wait_for "$WAIT_MS" served_is_there; then
	ok "plumb serve syncs an Argo CD Application to the context serve.yaml maps its cluster to"
else
	fail "plumb serve syncs an Argo CD Application to the context serve.yaml maps its cluster to" \
		"$(tail -n 20 "${DLOG[served]}")"
fi
if grep -q 'the revision has warnings' "${DLOG[served]}" &&
	grep -q 'apps/served.yaml:9:41: warning: spec.syncPolicy.syncOptions: \\"Validate=false\\"' "${DLOG[served]}"; then
	ok "plumb serve logs what it reads past, with its position"
else
	fail "plumb serve logs what it reads past, with its position" "$(tail -n 20 "${DLOG[served]}")"
fi
stop_and_check served

[ "$TAP_FAILED" -eq 0 ]
