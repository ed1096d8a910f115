#!/usr/bin/env bash
# plumb renders a folder holding Chart.yaml through the real helm
# (tests/helm/build): the objects are those `helm template` prints by hand
# on the same folder, a vendored subchart is rendered with its parent, the
# output is cached by what determines it, a dependency that would need the
# network is refused naming it, a broken template shows helm's stderr with
# the folder, and a rendered chart syncs to a real kube-apiserver, by a
# command and by plumb serve.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

HELM="$root/build/helm/bin/helm"
kube_script
DPID[served]=
if [ ! -x "$HELM" ]; then
	fail "build/helm/bin/helm is built" "run: tests/helm/build"
	exit 1
fi

# Every helm plumb runs goes through this wrapper, which counts the templates rendered.
mkdir -p "$T/bin"
cat >"$T/bin/helm" <<SH
#!/bin/sh
[ "\$1" = template ] && echo "\$2 \$5" >>"$T/runs"
exec "$HELM" "\$@"
SH
chmod +x "$T/bin/helm"
export PATH="$T/bin:$PATH"
# The private copies go here, so that what is left behind is this script's; helm by hand keeps its
# own files here too.
export TMPDIR="$T/tmp"
export HOME="$T/home"
mkdir -p "$TMPDIR" "$HOME"
runs() { [ -f "$T/runs" ] && wc -l <"$T/runs" | tr -d ' ' || echo 0; }

REPO="$T/repo"
STATE="$T/state"
make_repo "$REPO"
CHART="$REPO/charts/web"
mkdir -p "$CHART/templates" "$CHART/charts/cache/templates" "$REPO/other"
cat >"$CHART/Chart.yaml" <<'YAML'
apiVersion: v2
name: web
description: a web server and its cache
version: 0.3.0
appVersion: "1.27"
dependencies:
  - name: cache
    version: 0.1.0
    repository: https://charts.example.com/stable
YAML
cat >"$CHART/values.yaml" <<'YAML'
replicas: 2
image:
  repository: nginx
  tag: "1.27"
greeting: hello
cache:
  size: 64
YAML
cat >"$CHART/templates/_helpers.tpl" <<'TPL'
{{- define "web.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
TPL
cat >"$CHART/templates/deployment.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "web.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicas }}
  selector:
    matchLabels:
      {{- include "web.labels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "web.labels" . | nindent 8 }}
    spec:
      containers:
        - name: web
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
YAML
cat >"$CHART/templates/configmap.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-conf
  labels:
    {{- include "web.labels" . | nindent 4 }}
data:
  greeting: {{ .Values.greeting | quote }}
YAML
cat >"$CHART/charts/cache/Chart.yaml" <<'YAML'
apiVersion: v2
name: cache
version: 0.1.0
YAML
cat >"$CHART/charts/cache/values.yaml" <<'YAML'
size: 16
YAML
cat >"$CHART/charts/cache/templates/configmap.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cache
data:
  size: {{ .Values.size | quote }}
YAML
echo "unrelated" >"$REPO/other/README"
commit_all "$REPO" "chart"


capture "$PLUMB" render --repo "$REPO" --path charts/web --state "$STATE" --namespace shop -o json
if [ "$RC" -eq 0 ]; then
	printf '%s\n' "$OUT" | python3 -c '
import json, sys
for line in sorted(json.dumps(o["object"], sort_keys=True) for a in json.load(sys.stdin)["applications"] for o in a["objects"]):
    print(line)' >"$T/plumb-web"
else
	fail "plumb render charts/web" "$(show)"
fi
(cd "$REPO" && "$HELM" template web charts/web --namespace shop 2>/dev/null) | canonical >"$T/helm-web"
if [ -s "$T/plumb-web" ] && cmp -s "$T/plumb-web" "$T/helm-web"; then
	ok "plumb render charts/web gives the objects helm template gives by hand ($(wc -l <"$T/plumb-web") objects)"
else
	fail "plumb render charts/web gives the objects helm template gives by hand" \
		"$(diff "$T/helm-web" "$T/plumb-web")"
fi
if grep -q '"name": "web-web"' "$T/plumb-web" && grep -q '"namespace": "shop"' "$T/plumb-web" &&
	grep -q '"replicas": 2' "$T/plumb-web" && grep -q 'nginx:1.27' "$T/plumb-web" &&
	grep -q '"size": "64"' "$T/plumb-web" && grep -q '"name": "web-cache"' "$T/plumb-web"; then
	ok "the release is named after the path, in the namespace given, with values.yaml and the vendored subchart"
else
	fail "the release is named after the path, in the namespace given, with values.yaml and the vendored subchart" \
		"$(cat "$T/plumb-web")"
fi

capture "$PLUMB" render --repo "$REPO" --path charts/web --state "$STATE" --namespace shop
if [ "$RC" -eq 0 ] && contains "$OUT" "# Source: charts/web (helm from charts/web/templates/deployment.yaml) Deployment/web-web:"; then
	ok "a rendered object's source names the folder, the renderer, the template it came from and the object"
else
	fail "a rendered object's source names the folder, the renderer, the template it came from and the object" "$(show)"
fi

# An Application whose source is the chart: its name is the release's.
mkdir -p "$REPO/apps"
cat >"$REPO/apps/shop.yaml" <<'YAML'
apiVersion: plumb/v1
kind: Application
metadata: {name: shop}
spec:
  source: {path: charts/web}
  destination: {kubernetes: {namespace: store}}
YAML
commit_all "$REPO" "apps"
capture "$PLUMB" check --repo "$REPO" --path apps --state "$STATE"
if [ "$RC" -eq 0 ] && contains "$OUT" "OK: shop: 3 resources, 3 objects in charts/web" &&
	grep -qx "shop store" "$T/runs"; then
	ok "an Application whose source path is a chart renders it as a release named after the Application"
else
	fail "an Application whose source path is a chart renders it as a release named after the Application" \
		"$(cat "$T/runs")" "$(show)"
fi

# Around it, the chart is helm's input, not manifests: its templates are not read.
capture "$PLUMB" check --repo "$REPO" --path . --state "$STATE"
if [ "$RC" -eq 0 ] && contains "$OUT" "OK: shop: 3 resources, 3 objects in charts/web" && ! contains "$OUT$ERR" "templates/"; then
	ok "a folder holding an Application and a chart reads the Application, not the chart's templates"
else
	fail "a folder holding an Application and a chart reads the Application, not the chart's templates" "$(show)"
fi

# --- the cache ------------------------------------------------------------------------------

before=$(runs)
capture "$PLUMB" check --repo "$REPO" --path charts/web --state "$STATE" --namespace shop
if [ "$RC" -eq 0 ] && [ "$(runs)" = "$before" ]; then
	ok "a second command on the same commit renders nothing: the output comes from the state directory"
else
	fail "a second command on the same commit renders nothing" "runs: $before -> $(runs)" "$(show)"
fi
echo "changed" >"$REPO/other/README"
commit_all "$REPO" "unrelated"
capture "$PLUMB" render --repo "$REPO" --path charts/web --state "$STATE" --namespace shop -o json
if [ "$RC" -eq 0 ] && [ "$(runs)" = "$before" ]; then
	ok "a commit that does not touch the chart does not run helm again"
else
	fail "a commit that does not touch the chart does not run helm again" "runs: $before -> $(runs)" "$(show)"
fi
capture "$PLUMB" render --repo "$REPO" --path charts/web --state "$STATE" --namespace other -o json
if [ "$RC" -eq 0 ] && [ "$(runs)" = "$((before + 1))" ] && printf '%s\n' "$OUT" | jq -e '[.applications[].objects[].object.metadata.namespace // empty] | length > 0 and all(. == "other")' >/dev/null; then
	ok "another namespace is another key: helm runs again"
else
	fail "another namespace is another key: helm runs again" "runs: $before -> $(runs)" "$(show)"
fi
sed -i 's/greeting: hello/greeting: bonjour/' "$CHART/values.yaml"
commit_all "$REPO" "bonjour"
capture "$PLUMB" render --repo "$REPO" --path charts/web --state "$STATE" --namespace shop -o json
if [ "$RC" -eq 0 ] && [ "$(runs)" = "$((before + 2))" ] && contains "$OUT" '"greeting": "bonjour"'; then
	ok "a change in values.yaml renders the chart again"
else
	fail "a change in values.yaml renders the chart again" "runs: $before -> $(runs)" "$(show)"
fi

# --- refusals --------------------------------------------------------------------------------

bad() { # NAME PATH NEEDLE...: plumb check of PATH fails, its stderr holding every NEEDLE
	local name=$1 path=$2 needle missing=""
	shift 2
	# shellcheck disable=SC2086 # PATH may carry more options
	capture "$PLUMB" check --repo "$REPO" --path $path --state "$STATE" --namespace default
	for needle in "$@"; do
		contains "$ERR" "$needle" || missing="$missing [$needle]"
	done
	if [ "$RC" -ne 0 ] && [ -z "$missing" ]; then
		ok "$name"
	else
		fail "$name" "missing:$missing" "$(show)"
	fi
}

mkdir -p "$REPO/bad/needy/templates" "$REPO/bad/broken/templates" "$REPO/bad/link/templates"
cat >"$REPO/bad/needy/Chart.yaml" <<'YAML'
apiVersion: v2
name: needy
version: 0.1.0
dependencies:
  - name: redis
    version: 20.0.0
    repository: https://charts.bitnami.com/bitnami
YAML
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: needy}\n' >"$REPO/bad/needy/templates/cm.yaml"
printf 'apiVersion: v2\nname: broken\nversion: 0.1.0\n' >"$REPO/bad/broken/Chart.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: broken}\ndata:\n  greeting: {{ required "greeting is required" .Values.greeting }}\n' \
	>"$REPO/bad/broken/templates/cm.yaml"
printf 'apiVersion: v2\nname: link\nversion: 0.1.0\n' >"$REPO/bad/link/Chart.yaml"
ln -s ../../../../etc/passwd "$REPO/bad/link/templates/secret.yaml"
commit_all "$REPO" "bad"
runs_before_refusals=$(runs)
bad "a chart dependency not vendored under charts/ is refused at FILE:LINE:COL, naming it" bad/needy \
	"bad/needy/Chart.yaml:5:11: chart dependency 'redis' (https://charts.bitnami.com/bitnami) is not vendored under charts/"
bad "a symlink out of the repository in a chart is refused, at its path" bad/link \
	"bad/link/templates/secret.yaml: symlink to '../../../../etc/passwd' leaves the repository"
if [ "$(runs)" = "$runs_before_refusals" ]; then
	ok "nothing refused before rendering ran helm"
else
	fail "nothing refused before rendering ran helm" "$(cat "$T/runs")"
fi
bad "a broken template shows helm's stderr, naming the folder" bad/broken \
	"bad/broken (helm): helm template failed (exit 1): Error:" "greeting is required"
PLUMB_HELM="$T/none/helm" PATH="/usr/bin:/bin" bad "with no helm to run, the error names the folder" \
	charts/web "charts/web (helm): cannot run $T/none/helm"
if ls -d "$TMPDIR"/plumb-render-* >/dev/null 2>&1; then
	fail "no private copy is left behind" "$(ls -d "$TMPDIR"/plumb-render-*)"
else
	ok "no private copy is left behind"
fi

# --- a dependency fetched from a chart repository, when allowed -----------------------------

chart_repository "$T/chartrepo" || fail "a chart repository serves on loopback" "$(cat "$T/chartrepo/server.log")"
CHART_PORT=${CHART_REPO##*:}
mkdir -p "$REPO/charts/fetched/templates"
printf 'apiVersion: v2\nname: fetched\nversion: 0.1.0\ndependencies:\n  - name: dep\n    version: 0.2.0\n    repository: http://127.0.0.1:%s\n' \
	"$CHART_PORT" >"$REPO/charts/fetched/Chart.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "{{ .Release.Name }}-own"}\n' \
	>"$REPO/charts/fetched/templates/cm.yaml"
commit_all "$REPO" "a chart with a dependency in a chart repository"
capture "$PLUMB" render --repo "$REPO" --path charts/fetched --state "$STATE" --namespace shop
if [ "$RC" -ne 0 ] && contains "$ERR" "charts/fetched/Chart.yaml:5:11: chart dependency 'dep' (http://127.0.0.1:$CHART_PORT) is not vendored" &&
	contains "$ERR" "--allow-chart-fetch" && ! grep -q "dep-0.2.0.tgz" "$T/chartrepo/server.log"; then
	ok "a dependency in a chart repository is refused without --allow-chart-fetch, and nothing is fetched"
else
	fail "a dependency in a chart repository is refused without --allow-chart-fetch, and nothing is fetched" "$(show)"
fi
capture "$PLUMB" render --repo "$REPO" --path charts/fetched --state "$STATE" --namespace shop --allow-chart-fetch
rm -rf "$T/fetched-by-hand" && cp -r "$REPO/charts/fetched" "$T/fetched-by-hand"
"$HELM" dependency build "$T/fetched-by-hand" >/dev/null 2>&1
"$HELM" template fetched "$T/fetched-by-hand" --namespace shop 2>/dev/null | canonical >"$T/fetched-helm"
if [ "$RC" -eq 0 ] && [ "$(printf '%s\n' "$OUT" | canonical)" = "$(cat "$T/fetched-helm")" ] &&
	contains "$OUT" "fetched-dep" && [ -z "$(git -C "$REPO" status --porcelain)" ]; then
	ok "--allow-chart-fetch runs helm dependency build on the copy: the objects helm gives by hand"
else
	fail "--allow-chart-fetch runs helm dependency build on the copy: the objects helm gives by hand" "$(show)" \
		"by hand: $(cat "$T/fetched-helm")"
fi
fetches=$(grep -c "GET /dep-0.2.0.tgz" "$T/chartrepo/server.log")
capture "$PLUMB" render --repo "$REPO" --path charts/fetched --state "$STATE" --namespace shop --allow-chart-fetch
if [ "$RC" -eq 0 ] && [ "$(grep -c "GET /dep-0.2.0.tgz" "$T/chartrepo/server.log")" = "$fetches" ]; then
	ok "a fetched chart's output is cached: the same commit fetches nothing again"
else
	fail "a fetched chart's output is cached: the same commit fetches nothing again" "$(show)"
fi
kill "${DPID[chartrepo]}" 2>/dev/null
wait "${DPID[chartrepo]}" 2>/dev/null
DPID[chartrepo]=
git -C "$REPO" rm -rq charts/fetched && commit_all "$REPO" "without the fetched chart"

# --- a rendered chart against a real API server ---------------------------------------------

kube_start "a rendered chart"
NS=$KUBE_NAMESPACE
# The program --helm names, not the one on PATH.
cat >"$T/named-helm" <<SH
#!/bin/sh
: >"$T/named-helm.used" # a builtin: the renderer runs with no PATH
exec "$HELM" "\$@"
SH
chmod +x "$T/named-helm"
ARGS=(--repo "$REPO" --path charts/web --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS"
	--helm "$T/named-helm")
capture "$PLUMB" sync "${ARGS[@]}"
image=$(kc get deployment web-web -n "$NS" -o 'jsonpath={.spec.template.spec.containers[0].image}' 2>&1)
size=$(kc get configmap web-cache -n "$NS" -o 'jsonpath={.data.size}' 2>&1)
if [ "$RC" -eq 0 ] && contains "$OUT" "3 created" && [ "$image" = nginx:1.27 ] && [ "$size" = 64 ]; then
	ok "sync of a chart creates its rendered objects, the subchart's too, in the cluster"
else
	fail "sync of a chart creates its rendered objects, the subchart's too, in the cluster" \
		"image=$image size=$size" "$(show)"
fi
check "with the program --helm names" test -e "$T/named-helm.used"
capture "$PLUMB" plan "${ARGS[@]}" --detailed-exitcode
expect_rc "a plan after the sync finds nothing to change" 0

# --- plumb serve ------------------------------------------------------------------------------
# An Application whose source is a chart, kept in sync by the daemon with the helm that serve.yaml
# names: a commit that does not touch the chart is reconciled without running helm.
SERVED="$T/served"
make_repo "$SERVED"
mkdir -p "$SERVED/deploy/hello/templates"
printf 'apiVersion: v2\nname: hello\nversion: 0.1.0\n' >"$SERVED/deploy/hello/Chart.yaml"
printf 'greeting: hello\n' >"$SERVED/deploy/hello/values.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: {{ .Release.Name }}-conf}\ndata: {greeting: {{ .Values.greeting }}}\n' \
	>"$SERVED/deploy/hello/templates/cm.yaml"
cat >"$SERVED/app.yaml" <<YAML
apiVersion: plumb/v1
kind: Application
metadata: {name: served}
spec:
  source: {path: deploy/hello}
  destination: {kubernetes: {namespace: $NS}}
  syncPolicy: {automated: true}
YAML
commit_all "$SERVED" "served"
cat >"$T/served-helm" <<SH
#!/bin/sh
: >"$T/served-helm.used" # a builtin: the renderer runs with no PATH
[ "\$1" = template ] && echo "\$2 \$5" >>"$T/runs"
exec "$HELM" "\$@"
SH
chmod +x "$T/served-helm"
printf 'helm: %s\n' "$T/served-helm" >"$T/serve.yaml"
WAIT_MS=60000
DLOG[served]="$T/serve.log"
"$PLUMB" serve --config "$T/serve.yaml" --repo "$SERVED" --state "$T/serve-state" --kubeconfig "$KUBECONFIG_ADMIN" \
	--listen 127.0.0.1:0 --interval 1s --self-heal-interval 10m 2>"${DLOG[served]}" &
DPID[served]=$!
logged() { grep -qE "$1" "${DLOG[served]}"; }
served_greeting_is() { [ "$(kc get configmap served-conf -n "$NS" -o 'jsonpath={.data.greeting}' 2>/dev/null)" = "$1" ]; }
if wait_for "$WAIT_MS" served_greeting_is hello; then
	ok "plumb serve syncs an Application whose source is a chart, as the release of the Application's name"
	check "with the program helm: in serve.yaml names" test -e "$T/served-helm.used"
else
	fail "plumb serve syncs an Application whose source is a chart" "$(tail -n 20 "${DLOG[served]}")"
fi
before=$(runs)
echo "# served" >"$SERVED/README.md"
commit_all "$SERVED" "readme"
NOCHANGE=$(head_of "$SERVED")
if wait_for "$WAIT_MS" logged " msg=\"in sync\" .*commit=$NOCHANGE" && [ "$(runs)" = "$before" ]; then
	ok "serve reconciles a commit that does not touch the chart without running helm"
else
	fail "serve reconciles a commit that does not touch the chart without running helm" \
		"runs: $before -> $(runs)" "$(tail -n 20 "${DLOG[served]}")"
fi
sed -i 's/hello/bonjour/' "$SERVED/deploy/hello/values.yaml"
commit_all "$SERVED" "bonjour"
if wait_for "$WAIT_MS" served_greeting_is bonjour && [ "$(runs)" = "$((before + 1))" ]; then
	ok "serve renders the chart again, once, when its values change, and syncs the result"
else
	fail "serve renders the chart again, once, when its values change, and syncs the result" \
		"runs: $before -> $(runs)" "$(tail -n 20 "${DLOG[served]}")"
fi
stop_and_check served

[ "$TAP_FAILED" -eq 0 ]
