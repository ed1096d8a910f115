#!/usr/bin/env bash
# A repository written for Flux is read as it is: a cluster folder of Flux
# Kustomizations (dependsOn, targetNamespace, postBuild.substitute and
# substituteFrom a ConfigMap) and a HelmRelease of a chart in the repository
# (values, valuesFrom a ConfigMap) renders what kustomize build and helm
# template give by hand with the same inputs, in dependency order; what plumb
# cannot honour is an error at its position; and the whole syncs to a real
# kube-apiserver.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

kube_script
render_programs

REPO="$T/repo"
STATE="$T/state"
URL=ssh://git@github.com/example/fleet
make_repo "$REPO"
cd "$REPO" || exit 1
mkdir -p clusters/prod/flux-system infrastructure apps/base apps/prod charts/podinfo/templates
printf 'resources: [gotk-sync.yaml]\n' >clusters/prod/flux-system/kustomization.yaml
cat >clusters/prod/flux-system/gotk-sync.yaml <<YAML
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 1m, ref: {branch: main}, url: $URL}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec: {interval: 10m, path: ./clusters/prod, prune: true, sourceRef: {kind: GitRepository, name: flux-system}}
YAML
cat >clusters/prod/infrastructure.yaml <<'YAML'
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: infra, namespace: flux-system}
spec:
  interval: 1h0m0s
  path: ./infrastructure
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
YAML
cat >clusters/prod/apps.yaml <<'YAML'
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: apps, namespace: flux-system}
spec:
  interval: 10m
  dependsOn: [{name: infra}]
  path: ./apps/prod
  prune: true
  targetNamespace: flux-shop
  sourceRef: {kind: GitRepository, name: flux-system}
  commonMetadata:
    labels: {team: blue, tier: shop}
    annotations: {owner: ops}
  postBuild:
    substitute: {greeting: hello}
    substituteFrom: [{kind: ConfigMap, name: cluster-vars}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cluster-vars, namespace: flux-system}
data: {cluster_name: prod-1, greeting: overridden}
YAML
cat >clusters/prod/podinfo.yaml <<'YAML'
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: flux-web}
spec:
  interval: 10m
  chart:
    spec:
      chart: ./charts/podinfo
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
  values: {replicaCount: 2}
  valuesFrom:
    - {kind: ConfigMap, name: podinfo-values}
    - {kind: ConfigMap, name: podinfo-values, valuesKey: enabled, targetPath: ui.enabled}
    - {kind: ConfigMap, name: podinfo-values, valuesKey: port, targetPath: "ports[1].number"}
    - {kind: ConfigMap, name: podinfo-values, valuesKey: quoted, targetPath: ui\.color}
  install: {createNamespace: true}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: podinfo-values, namespace: flux-web}
data:
  values.yaml: |
    replicaCount: 5
    ui: {message: from-configmap}
  enabled: "false"
  port: "8080"
  quoted: "'007'"
YAML
printf 'apiVersion: v1\nkind: Namespace\nmetadata: {name: flux-shop}\n' >infrastructure/ns.yaml
printf 'resources: [cm.yaml]\n' >apps/base/kustomization.yaml
cat >apps/base/cm.yaml <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  labels: {tier: web}
data:
  cluster: ${cluster_name}
  greeting: ${greeting}
  region: ${region:=eu-west}
  literal: $${not_a_var}
  short: ${cluster_name:0:4}
  shout: ${greeting^^}
YAML
printf 'resources: [../base]\nnamePrefix: prod-\n' >apps/prod/kustomization.yaml
cat >charts/podinfo/Chart.yaml <<'YAML'
apiVersion: v2
name: podinfo
version: 6.0.0
YAML
cat >charts/podinfo/values.yaml <<'YAML'
replicaCount: 1
ui: {message: ""}
YAML
cat >charts/podinfo/templates/deploy.yaml <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicaCount }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec:
      containers:
        - name: podinfo
          image: ghcr.io/stefanprodan/podinfo:6.0.0
          env:
            - {name: PODINFO_UI_MESSAGE, value: {{ .Values.ui.message | quote }}}
            - {name: PODINFO_UI_ENABLED, value: "{{ if .Values.ui.enabled }}on{{ else }}off{{ end }}"}
            - {name: PODINFO_PORT, value: "{{ (index .Values.ports 1).number }}"}
            - {name: PODINFO_COLOR, value: {{ index .Values "ui.color" | quote }}}
YAML
commit_all "$REPO" "a Flux repository"
cd "$T" || exit 1

ARGS=(--repo "$REPO" --state "$STATE")

capture "$PLUMB" render "${ARGS[@]}" --path clusters/prod
order=$(printf '%s\n' "$ERR" | sed -n 's/^== Application \([^:]*\):.*/\1/p' | tr '\n' ' ')
if [ "$RC" -eq 0 ] && [ "$order" = "infra apps podinfo " ]; then
	ok "plumb render reads a Flux cluster folder, each Kustomization after what it depends on"
else
	fail "plumb render reads a Flux cluster folder, each Kustomization after what it depends on" \
		"order: $order" "$(show)"
fi
if ! contains "$ERR" "warning:"; then
	ok "the fields every Flux object carries (interval, sourceRef) are read without a warning"
else
	fail "the fields every Flux object carries (interval, sourceRef) are read without a warning" "$ERR"
fi
printf '%s\n' "$OUT" >"$T/all.yaml"

# The Kustomization as Flux builds it: kustomize with its targetNamespace, then the variables.
rm -rf "$T/edit" && cp -r "$REPO" "$T/edit"
(cd "$T/edit/apps/prod" && "$KUSTOMIZE" edit set namespace flux-shop &&
	"$KUSTOMIZE" edit add label team:blue --without-selector &&
	"$KUSTOMIZE" edit add label tier:shop --without-selector &&
	"$KUSTOMIZE" edit add annotation owner:ops) >/dev/null 2>&1
"$KUSTOMIZE" build "$T/edit/apps/prod" | sed -e 's/\${cluster_name}/prod-1/' -e 's/\${greeting}/hello/' \
	-e 's/\${region:=eu-west}/eu-west/' -e 's/\$\${not_a_var}/${not_a_var}/' -e 's/\${cluster_name:0:4}/prod/' \
	-e 's/\${greeting^^}/HELLO/' | canonical >"$T/by-hand-apps"
plumb_apps=$(canonical <"$T/all.yaml" | grep '"name": "prod-web-config"')
if [ -s "$T/by-hand-apps" ] && [ "$plumb_apps" = "$(cat "$T/by-hand-apps")" ] &&
	contains "$plumb_apps" '"greeting": "hello"' && contains "$plumb_apps" '"namespace": "flux-shop"' &&
	contains "$plumb_apps" '"tier": "shop"' && contains "$plumb_apps" '"owner": "ops"'; then
	ok "a Kustomization renders as kustomize build with its targetNamespace and commonMetadata, then postBuild's variables"
else
	fail "a Kustomization renders as kustomize build with its targetNamespace and commonMetadata, then postBuild's variables" \
		"plumb: $plumb_apps" "by hand: $(cat "$T/by-hand-apps")"
fi

# The HelmRelease as helm-controller renders it: valuesFrom, then values over them.
# valuesFrom's targetPath values typed as helm-controller types them: false a boolean, 8080 a number,
# '007' (quoted) the string 007; "ports[1]" an item of a list, "ui\.color" one key.
printf 'replicaCount: 5\nui: {message: from-configmap, enabled: false}\nports: [null, {number: 8080}]\n"ui.color": "007"\n' \
	>"$T/values-from.yaml"
printf 'replicaCount: 2\n' >"$T/values.yaml"
"$HELM" template podinfo "$REPO/charts/podinfo" --namespace flux-web --values "$T/values-from.yaml" \
	--values "$T/values.yaml" | canonical >"$T/by-hand-helm"
plumb_helm=$(canonical <"$T/all.yaml" | grep '"kind": "Deployment"')
if [ -s "$T/by-hand-helm" ] && [ "$plumb_helm" = "$(cat "$T/by-hand-helm")" ] &&
	contains "$plumb_helm" '"replicas": 2' && contains "$plumb_helm" '"value": "from-configmap"' &&
	contains "$plumb_helm" '"value": "off"' && contains "$plumb_helm" '"value": "007"'; then
	ok "a HelmRelease renders as helm template with valuesFrom a ConfigMap and values over them"
else
	fail "a HelmRelease renders as helm template with valuesFrom a ConfigMap and values over them" \
		"plumb: $plumb_helm" "by hand: $(cat "$T/by-hand-helm")"
fi
if ! canonical <"$T/all.yaml" | grep -q '"name": "cluster-vars"\|"name": "podinfo-values"'; then
	ok "the ConfigMaps the applications read their variables and values from are read, not applied"
else
	fail "the ConfigMaps the applications read their variables and values from are read, not applied"
fi

# --- what plumb refuses, where it is written ------------------------------------------------

# bad FILE CONTENT: the cluster folder's FILE written so, rendered, then put back.
bad() { render_with "clusters/prod/$1" "$2" "${ARGS[@]}" --path clusters/prod; }
bad remote.yaml 'apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: remote, namespace: x}
spec:
  chart: {spec: {chart: podinfo, sourceRef: {kind: HelmRepository, name: podinfo}}}'
expect_err "a HelmRepository the folder does not hold is an error where it is named" \
	"clusters/prod/remote.yaml:5:74: HelmRepository podinfo is not in the folder that declares this application"
chart_repository "$T/chartrepo" || fail "a chart repository serves on loopback" "$(cat "$T/chartrepo/server.log")"
fetched_release="apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: local, namespace: flux-system}
spec: {interval: 1h, url: $CHART_REPO}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: fetched, namespace: flux-web}
spec:
  chart: {spec: {chart: dep, version: 0.2.x, sourceRef: {kind: HelmRepository, name: local}}}
  values: {size: 4}"
bad fetched.yaml "$fetched_release"
expect_err "a chart of a HelmRepository is refused without --allow-chart-fetch" \
	"is fetched from a Helm repository over the network"
printf '%s\n' "$fetched_release" >"$REPO/clusters/prod/fetched.yaml"
commit_all "$REPO" "a release of a HelmRepository's chart"
capture "$PLUMB" render "${ARGS[@]}" --path clusters/prod --allow-chart-fetch
"$HELM" template fetched dep --repo "$CHART_REPO" --version 0.2.x --namespace flux-web --set size=4 2>/dev/null |
	canonical >"$T/remote-by-hand"
if [ "$RC" -eq 0 ] && [ -s "$T/remote-by-hand" ] &&
	[ "$(printf '%s\n' "$OUT" | canonical | grep '"fetched-dep"')" = "$(cat "$T/remote-by-hand")" ]; then
	ok "a HelmRelease of a HelmRepository's chart renders, with --allow-chart-fetch, as helm template --repo"
else
	fail "a HelmRelease of a HelmRepository's chart renders, with --allow-chart-fetch, as helm template --repo" \
		"$(show)" "by hand: $(cat "$T/remote-by-hand")"
fi
# A range is pinned to the release it resolves to now: one published since renders anew.
publish() { # VERSION: the chart dep at VERSION, its ConfigMap saying so, in the repository's index
	sed -i "s/^version: .*/version: $1/" "$T/chartrepo/src/Chart.yaml"
	sed -i "s/from: repository.*,/from: repository-$1,/" "$T/chartrepo/src/templates/cm.yaml"
	"$HELM" package "$T/chartrepo/src" -d "$T/chartrepo/repo" >/dev/null && "$HELM" repo index "$T/chartrepo/repo"
}
publish 0.2.5
capture "$PLUMB" render "${ARGS[@]}" --path clusters/prod --allow-chart-fetch
if [ "$RC" -eq 0 ] && contains "$OUT" "from: repository-0.2.5" && contains "$OUT" "dep@0.2.5 (helm)"; then
	ok "a chart version range renders the release published since, though the earlier one is cached"
else
	fail "a chart version range renders the release published since, though the earlier one is cached" "$(show)"
fi
rm -f "$REPO/clusters/prod/fetched.yaml"
commit_all "$REPO" "without the fetched release"
bad missing.yaml 'apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: missing}
spec:
  path: ./infrastructure
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild: {substituteFrom: [{kind: ConfigMap, name: nowhere}]}'
expect_err "a ConfigMap substituteFrom names that the folder does not hold is an error where it is named" \
	"clusters/prod/missing.yaml:8:56: ConfigMap nowhere is not in the folder that declares this application"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\ndata: {text: "${kept}"}\n' >"$REPO/infrastructure/kept.yaml"
printf '%s\n' 'apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: nothing}
spec:
  path: ./infrastructure
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild: {substituteFrom: [{kind: ConfigMap, name: nowhere, optional: true}]}' >"$REPO/clusters/prod/nothing.yaml"
commit_all "$REPO" "no variable to substitute"
capture "$PLUMB" render "${ARGS[@]}" --path clusters/prod
nothing=$(awk '/^# Application: /{on = ($3 == "nothing")} on' <<<"$OUT")
if [ "$RC" -eq 0 ] && contains "$nothing" 'text: "${kept}"'; then
	ok "without any variable, nothing is substituted: \${var} stays as written, as Flux leaves it"
else
	fail "without any variable, nothing is substituted: \${var} stays as written, as Flux leaves it" "$(show)"
fi
rm -f "$REPO/clusters/prod/nothing.yaml" "$REPO/infrastructure/kept.yaml"
commit_all "$REPO" "without the Kustomization with no variable"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: oops}\ndata: {run: "echo ${@}"}\n' >"$REPO/apps/base/oops.yaml"
printf 'resources: [cm.yaml, oops.yaml]\n' >"$REPO/apps/base/kustomization.yaml"
commit_all "$REPO" "a \${ that is no variable"
capture "$PLUMB" render "${ARGS[@]}" --path clusters/prod
if [ "$RC" -ne 0 ] && contains "$ERR" "apps/prod (kustomize from apps/base/oops.yaml) ConfigMap/prod-oops:3:1: " &&
	contains "$ERR" "variable substitution failed: bad substitution at '\${@}'"; then
	ok "a \${ that is no variable fails the Kustomization, as it fails Flux's build, saying where"
else
	fail "a \${ that is no variable fails the Kustomization, as it fails Flux's build, saying where" "$(show)"
fi
rm "$REPO/apps/base/oops.yaml"
printf 'resources: [cm.yaml]\n' >"$REPO/apps/base/kustomization.yaml"
commit_all "$REPO" "without it"
bad sops.yaml 'apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: sops}
spec:
  path: ./infrastructure
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  decryption: {provider: sops}'
expect_err "SOPS decryption is an error naming what to use" "spec.decryption: SOPS is not read by plumb"
printf '%s\n' 'apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: checked}
spec:
  path: ./infrastructure
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  healthChecks: [{apiVersion: apps/v1, kind: Deployment, name: web, namespace: x}]' >"$REPO/clusters/prod/checked.yaml"
commit_all "$REPO" "health checks"
capture "$PLUMB" render "${ARGS[@]}" --path clusters/prod
if [ "$RC" -eq 0 ] && contains "$ERR" \
	"clusters/prod/checked.yaml:8:19: warning: spec.healthChecks: not read by plumb (plumb waits for the health of every object it applies"; then
	ok "healthChecks are a warning that says how plumb waits instead"
else
	fail "healthChecks are a warning that says how plumb waits instead" "$(show)"
fi
rm -f "$REPO/clusters/prod/checked.yaml"
commit_all "$REPO" "without health checks"
bad names.yaml 'apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: names}
spec:
  path: ./infrastructure
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  postBuild: {substitute: {my.var: x}}'
expect_err "a variable whose name Flux refuses is an error where it is written" \
	"clusters/prod/names.yaml:8:28: spec.postBuild.substitute.my.var: not a variable name"
bad interval.yaml 'apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: often}
spec:
  interval: soon
  path: ./infrastructure
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}'
expect_err "an interval that is no duration is an error where it is written" \
	"clusters/prod/interval.yaml:5:13: spec.interval: 'soon' is not a duration such as 10m or 1m30s"
bad remote-cluster.yaml 'apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: edge}
spec:
  path: ./infrastructure
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  kubeConfig: {secretRef: {name: edge-kubeconfig}}'
expect_err "a kubeConfig the configuration does not map is an error where it is written" \
	"cluster 'edge-kubeconfig' is not one plumb knows"

# --- synced to a real API server -------------------------------------------------------------

kube_start "a Flux cluster folder"
capture "$PLUMB" sync "${ARGS[@]}" --path clusters/prod --kubeconfig "$KUBECONFIG_ADMIN"
greeting=$(kc get configmap prod-web-config -n flux-shop -o 'jsonpath={.data.greeting}' 2>&1)
replicas=$(kc get deployment podinfo -n flux-web -o 'jsonpath={.spec.replicas}' 2>&1)
team=$(kc get configmap prod-web-config -n flux-shop -o 'jsonpath={.metadata.labels.team}' 2>&1)
if [ "$RC" -eq 0 ] && [ "$greeting" = hello ] && [ "$replicas" = 2 ] && [ "$team" = blue ]; then
	ok "plumb sync applies the Flux folder: the namespace first, then the app into it, and the release"
else
	fail "plumb sync applies the Flux folder: the namespace first, then the app into it, and the release" \
		"greeting=$greeting replicas=$replicas team=$team" "$(show)"
fi
if ! kc get configmap cluster-vars -n flux-system >/dev/null 2>&1 &&
	! kc get kustomizations.kustomize.toolkit.fluxcd.io -A >/dev/null 2>&1; then
	ok "the Kustomizations and the ConfigMaps they read are not applied"
else
	fail "the Kustomizations and the ConfigMaps they read are not applied"
fi
sed -i 's/greeting: hello/greeting: bonjour/' "$REPO/clusters/prod/apps.yaml"
commit_all "$REPO" "bonjour"
capture "$PLUMB" sync "${ARGS[@]}" --path clusters/prod --kubeconfig "$KUBECONFIG_ADMIN"
greeting=$(kc get configmap prod-web-config -n flux-shop -o 'jsonpath={.data.greeting}' 2>&1)
if [ "$RC" -eq 0 ] && [ "$greeting" = bonjour ] && contains "$OUT" "1 updated"; then
	ok "a changed variable is a change of what the Kustomization applies"
else
	fail "a changed variable is a change of what the Kustomization applies" "greeting=$greeting" "$(show)"
fi

# A plan of a chart version range keeps the release it pinned: its apply renders that one.
printf '%s\n' "$fetched_release" >"$REPO/clusters/prod/fetched.yaml"
commit_all "$REPO" "the fetched release again"
capture "$PLUMB" plan fetched "${ARGS[@]}" --path clusters/prod --kubeconfig "$KUBECONFIG_ADMIN" \
	--allow-chart-fetch --out "$T/plan-fetched.json"
publish 0.2.6
capture "$PLUMB" apply "$T/plan-fetched.json" --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --allow-chart-fetch
from=$(kc get configmap fetched-dep -n flux-web -o 'jsonpath={.data.from}' 2>&1)
if [ "$RC" -eq 0 ] && [ "$from" = repository-0.2.5 ] && grep -q '"version": *"0.2.5"' "$T/plan-fetched.json"; then
	ok "a plan keeps the release a chart version range resolved to, and its apply renders that release"
else
	fail "a plan keeps the release a chart version range resolved to, and its apply renders that release" \
		"from=$from" "$(show)"
fi
capture "$PLUMB" plan fetched "${ARGS[@]}" --path clusters/prod --kubeconfig "$KUBECONFIG_ADMIN" --allow-chart-fetch
if [ "$RC" -eq 0 ] && contains "$OUT" "repository-0.2.6"; then
	ok "the next plan resolves the range again, to the release published since"
else
	fail "the next plan resolves the range again, to the release published since" "$(show)"
fi
rm -f "$REPO/clusters/prod/fetched.yaml"
commit_all "$REPO" "without the fetched release"

# --- plumb serve looks as often as the shortest interval asks ---------------------------------

sed -i 's/interval: 10m$/interval: 1s/' "$REPO/clusters/prod/apps.yaml"
commit_all "$REPO" "look every second"
WAIT_MS=60000
DLOG[served]="$T/serve.log"
"$PLUMB" serve --repo "$REPO" --path clusters/prod --state "$T/serve-state" --kubeconfig "$KUBECONFIG_ADMIN" \
	--listen 127.0.0.1:0 --interval 10m --self-heal-interval 10m 2>"${DLOG[served]}" &
DPID[served]=$!
greeting_is() { [ "$(kc get configmap prod-web-config -n flux-shop -o 'jsonpath={.data.greeting}' 2>/dev/null)" = "$1" ]; }
logged() { grep -qE "$1" "${DLOG[served]}"; }
if wait_for "$WAIT_MS" logged 'msg=(synced|"in sync") app=apps'; then
	sed -i 's/greeting: bonjour/greeting: hallo/' "$REPO/clusters/prod/apps.yaml"
	commit_all "$REPO" "hallo"
	if wait_for 20000 greeting_is hallo; then
		ok "plumb serve looks at the repository as often as a Flux interval asks, under its own ($ELAPSED ms)"
	else
		fail "plumb serve looks at the repository as often as a Flux interval asks, under its own" \
			"$(tail -n 20 "${DLOG[served]}")"
	fi
else
	fail "plumb serve syncs the Flux folder" "$(tail -n 20 "${DLOG[served]}")"
fi
stop_and_check served

[ "$TAP_FAILED" -eq 0 ]
