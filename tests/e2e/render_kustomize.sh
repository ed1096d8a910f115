#!/usr/bin/env bash
# plumb renders a folder with a kustomization through the real kustomize
# (tests/kustomize/build): the objects are those `kustomize build` prints
# by hand on the same folders, the output is cached by what determines it,
# what would leave the repository or reach the network is refused, a
# failure shows kustomize's stderr with the folder, and a rendered
# application syncs to a real kube-apiserver.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

KUSTOMIZE="$root/build/kustomize/bin/kustomize"
kube_script
DPID[served]=
if [ ! -x "$KUSTOMIZE" ]; then
	fail "build/kustomize/bin/kustomize is built" "run: tests/kustomize/build"
	exit 1
fi

# Every kustomize plumb runs goes through this wrapper, which counts the builds.
mkdir -p "$T/bin"
cat >"$T/bin/kustomize" <<SH
#!/bin/sh
[ "\$1" = build ] && echo "\$2" >>"$T/runs"
exec "$KUSTOMIZE" "\$@"
SH
chmod +x "$T/bin/kustomize"
export PATH="$T/bin:$PATH"
# The private copies go here, so that what is left behind is this script's.
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
runs() { [ -f "$T/runs" ] && wc -l <"$T/runs" | tr -d ' ' || echo 0; }

REPO="$T/repo"
STATE="$T/state"
make_repo "$REPO"
mkdir -p "$REPO/apps/shop/base" "$REPO/apps/shop/overlays/prod" "$REPO/apps/shop/overlays/dev" "$REPO/other"
cat >"$REPO/apps/shop/base/kustomization.yaml" <<'YAML'
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
commonLabels:
  app: shop
configMapGenerator:
  - name: conf
    literals:
      - LEVEL=info
      - COLOR=blue
YAML
cat >"$REPO/apps/shop/base/deployment.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      role: web
  template:
    metadata:
      labels:
        role: web
    spec:
      containers:
        - name: web
          image: nginx:1.25
          envFrom:
            - configMapRef:
                name: conf
YAML
cat >"$REPO/apps/shop/base/service.yaml" <<'YAML'
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    role: web
  ports:
    - port: 80
      targetPort: 8080
YAML
cat >"$REPO/apps/shop/overlays/prod/kustomization.yaml" <<'YAML'
namePrefix: prod-
namespace: shop-prod
resources:
  - ../../base
images:
  - name: nginx
    newTag: "1.27"
configMapGenerator:
  - name: conf
    behavior: merge
    literals:
      - LEVEL=warn
patches:
  - path: replicas.yaml
  - target: {kind: Service, name: web}
    patch: |-
      - op: replace
        path: /spec/ports/0/port
        value: 8443
YAML
cat >"$REPO/apps/shop/overlays/prod/replicas.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 3
YAML
cat >"$REPO/apps/shop/overlays/dev/kustomization.yml" <<'YAML'
namePrefix: dev-
resources:
  - ../../base
commonLabels:
  env: dev
images:
  - name: nginx
    newName: registry.example/nginx
    newTag: edge
YAML
echo "unrelated" >"$REPO/other/README"
commit_all "$REPO" "shop"


for overlay in prod dev; do
	path="apps/shop/overlays/$overlay"
	capture "$PLUMB" render --repo "$REPO" --path "$path" --state "$STATE" --namespace default -o json
	if [ "$RC" -ne 0 ]; then
		fail "plumb render $path" "$(show)"
		continue
	fi
	printf '%s\n' "$OUT" | python3 -c '
import json, sys
for line in sorted(json.dumps(o["object"], sort_keys=True) for a in json.load(sys.stdin)["applications"] for o in a["objects"]):
    print(line)' >"$T/plumb-$overlay"
	(cd "$REPO" && "$KUSTOMIZE" build "$path" 2>/dev/null) | canonical >"$T/kustomize-$overlay"
	if [ -s "$T/plumb-$overlay" ] && cmp -s "$T/plumb-$overlay" "$T/kustomize-$overlay"; then
		ok "plumb render $path gives the objects kustomize build gives by hand ($(wc -l <"$T/plumb-$overlay") objects)"
	else
		fail "plumb render $path gives the objects kustomize build gives by hand" \
			"$(diff "$T/kustomize-$overlay" "$T/plumb-$overlay")"
	fi
done
if grep -q '"prod-web"' "$T/plumb-prod" && grep -q '"replicas": 3' "$T/plumb-prod" &&
	grep -q 'nginx:1.27' "$T/plumb-prod" && grep -q '"LEVEL": "warn"' "$T/plumb-prod" &&
	grep -q '"port": 8443' "$T/plumb-prod" &&
	grep -q 'registry.example/nginx:edge' "$T/plumb-dev" && grep -q '"env": "dev"' "$T/plumb-dev"; then
	ok "the overlays' namePrefix, images, patches (strategic and JSON 6902), commonLabels and configMapGenerator merge are applied"
else
	fail "the overlays' namePrefix, images, patches (strategic and JSON 6902), commonLabels and configMapGenerator merge are applied" \
		"$(cat "$T/plumb-prod" "$T/plumb-dev")"
fi

capture "$PLUMB" render --repo "$REPO" --path apps/shop/overlays/prod --state "$STATE" --namespace default
if [ "$RC" -eq 0 ] && contains "$OUT" "# Source: apps/shop/overlays/prod (kustomize from apps/shop/base/deployment.yaml) Deployment/prod-web:" &&
	! contains "$OUT" "config.kubernetes.io/origin"; then
	ok "a rendered object's source names the folder, the renderer, the file it was written in and the object"
else
	fail "a rendered object's source names the folder, the renderer, the file it was written in and the object" "$(show)"
fi

# An Application whose source is a kustomize folder.
mkdir -p "$REPO/apps/root"
cat >"$REPO/apps/root/shop.yaml" <<'YAML'
apiVersion: plumb/v1
kind: Application
metadata: {name: shop-dev}
spec:
  source: {path: apps/shop/overlays/dev}
  destination: {kubernetes: {namespace: shop}}
YAML
commit_all "$REPO" "root"
capture "$PLUMB" check --repo "$REPO" --path apps/root --state "$STATE"
if [ "$RC" -eq 0 ] && contains "$OUT" "OK: shop-dev: 3 resources, 3 objects in apps/shop/overlays/dev"; then
	ok "an Application whose source path is a kustomize folder loads its rendered objects"
else
	fail "an Application whose source path is a kustomize folder loads its rendered objects" "$(show)"
fi

# Around them, the kustomize folders are input, not manifests: apps holds the Application and them.
capture "$PLUMB" check --repo "$REPO" --path apps --state "$STATE"
if [ "$RC" -eq 0 ] && contains "$OUT" "OK: shop-dev: 3 resources, 3 objects in apps/shop/overlays/dev" &&
	! contains "$OUT$ERR" "kustomization.yaml"; then
	ok "a folder holding an Application and kustomize folders reads the Application, not the kustomizations' files"
else
	fail "a folder holding an Application and kustomize folders reads the Application, not the kustomizations' files" "$(show)"
fi

# For a host destination, Kubernetes objects are errors: each at its rendered object.
capture "$PLUMB" check --repo "$REPO" --path apps/shop/overlays/prod --state "$STATE"
if [ "$RC" -ne 0 ] &&
	contains "$ERR" 'apps/shop/overlays/prod (kustomize from apps/shop/base/deployment.yaml) Deployment/prod-web:1:1: unknown apiVersion "apps/v1"' &&
	contains "$ERR" 'apps/shop/overlays/prod (kustomize from apps/shop/base/service.yaml) Service/prod-web:1:1: unknown apiVersion "v1"'; then
	ok "an error in a rendered object names the folder, the renderer and the object, at its own line"
else
	fail "an error in a rendered object names the folder, the renderer and the object, at its own line" "$(show)"
fi

# --- the cache ------------------------------------------------------------------------------

before=$(runs)
capture "$PLUMB" check --repo "$REPO" --path apps/shop/overlays/prod --state "$STATE" --namespace default
if [ "$RC" -eq 0 ] && [ "$(runs)" = "$before" ]; then
	ok "a second command on the same commit renders nothing: the output comes from the state directory"
else
	fail "a second command on the same commit renders nothing" "runs: $before -> $(runs)" "$(show)"
fi
echo "changed" >"$REPO/other/README"
commit_all "$REPO" "unrelated"
capture "$PLUMB" render --repo "$REPO" --path apps/shop/overlays/prod --state "$STATE" --namespace default -o json
if [ "$RC" -eq 0 ] && [ "$(runs)" = "$before" ]; then
	ok "a commit that touches nothing the kustomization reaches does not run kustomize again"
else
	fail "a commit that touches nothing the kustomization reaches does not run kustomize again" \
		"runs: $before -> $(runs)" "$(show)"
fi
sed -i 's/COLOR=blue/COLOR=green/' "$REPO/apps/shop/base/kustomization.yaml"
commit_all "$REPO" "green"
capture "$PLUMB" render --repo "$REPO" --path apps/shop/overlays/prod --state "$STATE" --namespace default -o json
if [ "$RC" -eq 0 ] && [ "$(runs)" = "$((before + 1))" ] && contains "$OUT" '"COLOR": "green"'; then
	ok "a change in the base an overlay reaches through ../../base renders the overlay again"
else
	fail "a change in the base an overlay reaches through ../../base renders the overlay again" \
		"runs: $before -> $(runs)" "$(show)"
fi

# What kustomize reads is the commit, never the work tree.
sed -i 's/replicas: 1/replicas: 7/' "$REPO/apps/shop/base/deployment.yaml"
before=$(runs)
capture "$PLUMB" render --repo "$REPO" --path apps/shop/overlays/dev --state "$T/state-fresh" --namespace default -o json
if [ "$RC" -eq 0 ] && [ "$(runs)" = "$((before + 1))" ] && contains "$OUT" "registry.example/nginx:edge" &&
	contains "$OUT" '"replicas": 1' && ! contains "$OUT" '"replicas": 7'; then
	ok "kustomize renders the commit, not the work tree"
else
	fail "kustomize renders the commit, not the work tree" "$(show)"
fi
git -C "$REPO" checkout -q -- apps/shop/base/deployment.yaml

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

mkdir -p "$REPO/bad/link" "$REPO/bad/outside" "$REPO/bad/remote" "$REPO/bad/broken" "$REPO/bad/big"
printf 'resources:\n  - secret.yaml\n' >"$REPO/bad/link/kustomization.yaml"
ln -s ../../../etc/passwd "$REPO/bad/link/secret.yaml"
printf 'resources:\n  - ../../../outside\n' >"$REPO/bad/outside/kustomization.yaml"
printf 'resources:\n  - https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.8.2\n' \
	>"$REPO/bad/remote/kustomization.yaml"
printf 'resources:\n  - missing.yaml\n' >"$REPO/bad/broken/kustomization.yaml"
printf 'configMapGenerator:\n  - name: big\n    literals:\n      - A=%s\n' "$(head -c 4000 /dev/zero | tr '\0' x)" \
	>"$REPO/bad/big/kustomization.yaml"
# A file of the base named before the base itself: the copy holds the base once.
mkdir -p "$REPO/bad/reach"
printf 'configMapGenerator:\n  - name: extra\n    files:\n      - ../../apps/shop/base/service.yaml\nresources:\n  - ../../apps/shop/base\n' \
	>"$REPO/bad/reach/kustomization.yaml"
commit_all "$REPO" "bad"
runs_before_refusals=$(runs)
bad "a symlink out of the repository is refused, at its path" bad/link \
	"bad/link/secret.yaml: symlink to '../../../etc/passwd' leaves the repository"
bad "a kustomization naming ../../../outside beyond the repository root is refused at FILE:LINE:COL" bad/outside \
	"bad/outside/kustomization.yaml:2:5: path '../../../outside' leaves the repository"
bad "a remote base is refused at FILE:LINE:COL: kustomize runs without the network" bad/remote \
	"bad/remote/kustomization.yaml:2:5: remote base 'https://github.com/"
if [ "$(runs)" = "$runs_before_refusals" ]; then
	ok "nothing refused before rendering ran kustomize"
else
	fail "nothing refused before rendering ran kustomize" "$(cat "$T/runs")"
fi
bad "a broken kustomization shows kustomize's stderr, naming the folder" bad/broken \
	"bad/broken (kustomize): kustomize build failed (exit 1): Error:" "missing.yaml"
bad "a file outside the kustomization's root is kustomize's to refuse, once the copy holds what it names" bad/reach \
	"bad/reach (kustomize): kustomize build failed (exit 1):" "is not in or below"
PLUMB_RENDER_OUTPUT_MAX=1000 bad "output over the limit is refused" bad/big \
	"bad/big (kustomize): kustomize build printed more than 1000 bytes"
PLUMB_RENDER_OUTPUT_MAX=100000000 bad "--render-output-max sets the limit, over the environment's" \
	"bad/big --render-output-max 2K" "bad/big (kustomize): kustomize build printed more than 2048 bytes"

PLUMB_KUSTOMIZE="$T/none/kustomize" bad "with no kustomize to run, the error names the folder" \
	apps/shop/overlays/dev "apps/shop/overlays/dev (kustomize): cannot run $T/none/kustomize"

# --- helmCharts: a chart vendored beside the kustomization, inflated as Argo CD's --enable-helm does ---------

HELM="$root/build/helm/bin/helm"
mkdir -p "$REPO/inflated/charts/web/templates" "$REPO/bad/chartrepo"
printf 'apiVersion: v2\nname: web\nversion: 1.2.0\n' >"$REPO/inflated/charts/web/Chart.yaml"
printf 'replicas: 1\n' >"$REPO/inflated/charts/web/values.yaml"
cat >"$REPO/inflated/charts/web/templates/cm.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: "{{ .Release.Name }}-web"}
data: {replicas: "{{ .Values.replicas }}", namespace: "{{ .Release.Namespace }}"}
YAML
cat >"$REPO/inflated/kustomization.yaml" <<'YAML'
helmCharts:
  - name: web
    releaseName: shop
    namespace: inflated
    valuesInline: {replicas: 3}
commonLabels: {team: blue}
YAML
printf 'helmCharts:\n  - name: web\n    repo: https://charts.example.com\n    version: 1.0.0\n' \
	>"$REPO/bad/chartrepo/kustomization.yaml"
commit_all "$REPO" "a kustomization that inflates a chart"
capture env PLUMB_HELM="$HELM" "$PLUMB" render --repo "$REPO" --path inflated --state "$STATE" --namespace default
printf '%s\n' "$OUT" | canonical >"$T/inflated-plumb"
(cd "$REPO" && "$KUSTOMIZE" build --enable-helm --helm-command "$HELM" inflated 2>/dev/null) | canonical >"$T/inflated-by-hand"
if [ "$RC" -eq 0 ] && [ -s "$T/inflated-by-hand" ] && cmp -s "$T/inflated-plumb" "$T/inflated-by-hand" &&
	grep -q '"replicas": "3"' "$T/inflated-plumb" && grep -q '"team": "blue"' "$T/inflated-plumb"; then
	ok "a kustomization's helmCharts of a vendored chart render as kustomize build --enable-helm by hand"
else
	fail "a kustomization's helmCharts of a vendored chart render as kustomize build --enable-helm by hand" \
		"$(show)" "by hand: $(cat "$T/inflated-by-hand")"
fi
PLUMB_HELM="$HELM" bad "a chart repository under helmCharts is refused at FILE:LINE:COL: kustomize runs without the network" \
	bad/chartrepo "bad/chartrepo/kustomization.yaml:3:11: chart repository 'https://charts.example.com' refused"
# With --allow-chart-fetch, a chart of a repository is pulled, as Argo CD's repo server pulls it.
chart_repository "$T/chartrepo" || fail "a chart repository serves on loopback" "$(cat "$T/chartrepo/server.log")"
mkdir -p "$REPO/fetched"
fetched_chart() { # VERSION
	printf 'helmCharts:\n  - name: dep\n    repo: %s\n    version: %s\n    releaseName: got\n    valuesInline: {size: 7}\n' \
		"$CHART_REPO" "$1" >"$REPO/fetched/kustomization.yaml"
	commit_all "$REPO" "a chart of a repository at $1"
}
fetched_chart 0.2.0
capture env PLUMB_HELM="$HELM" "$PLUMB" render --repo "$REPO" --path fetched --state "$STATE" --namespace default \
	--allow-chart-fetch
rm -rf "$T/fetched-by-hand" && cp -r "$REPO/fetched" "$T/fetched-by-hand"
"$KUSTOMIZE" build --enable-helm --helm-command "$HELM" "$T/fetched-by-hand" 2>/dev/null | canonical >"$T/fetched-hand"
if [ "$RC" -eq 0 ] && [ -s "$T/fetched-hand" ] && [ "$(printf '%s\n' "$OUT" | canonical)" = "$(cat "$T/fetched-hand")" ] &&
	grep -q '"size": "7"' "$T/fetched-hand"; then
	ok "with --allow-chart-fetch, helmCharts of a repository are pulled and render as kustomize build --enable-helm"
else
	fail "with --allow-chart-fetch, helmCharts of a repository are pulled and render as kustomize build --enable-helm" \
		"$(show)" "by hand: $(cat "$T/fetched-hand")"
fi
fetched_chart 0.2.x
PLUMB_HELM="$HELM" bad "a chart of a repository whose version is a range is refused: it is cached by its version" \
	"fetched --allow-chart-fetch" "fetched/kustomization.yaml:4:14: helmCharts: the chart of $CHART_REPO is fetched and cached by its version"
PLUMB_HELM=no-such-helm bad "a kustomization that inflates helmCharts with no helm to run names the folder" \
	inflated "inflated: the kustomization inflates helmCharts, with helm, and there is no helm 'no-such-helm'"

# The timeout case alone uses a simulator: a kustomize that never finishes a build.
mkdir -p "$T/slow"
cat >"$T/slow/kustomize" <<SH
#!/bin/sh
# A simulator of a kustomize that hangs: it tells its version, then sleeps.
[ "\$1" = version ] && { echo v0-slow-simulator; exit 0; }
exec /bin/sleep 30
SH
chmod +x "$T/slow/kustomize"
start=$(now_ms)
PLUMB_RENDER_TIMEOUT_MS=1000 bad "a renderer past its time limit is killed (the program named by --kustomize)" \
	"apps/shop/overlays/dev --kustomize $T/slow/kustomize" \
	"apps/shop/overlays/dev (kustomize): kustomize build did not finish within 1000 ms"
elapsed=$(($(now_ms) - start))
if [ "$elapsed" -lt 10000 ]; then ok "the time limit holds ($elapsed ms)"; else fail "the time limit holds" "$elapsed ms"; fi
bad "--render-timeout sets the time limit" \
	"apps/shop/overlays/dev --kustomize $T/slow/kustomize --render-timeout 500ms" \
	"apps/shop/overlays/dev (kustomize): kustomize build did not finish within 500 ms"
if ls -d "$TMPDIR"/plumb-render-* >/dev/null 2>&1; then
	fail "no private copy is left behind" "$(ls -d "$TMPDIR"/plumb-render-*)"
else
	ok "no private copy is left behind"
fi

# --- a rendered application against a real API server ---------------------------------------

kube_start "a rendered application"
NS=$KUBE_NAMESPACE
ARGS=(--repo "$REPO" --path apps/shop/overlays/dev --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --namespace "$NS")
capture "$PLUMB" sync "${ARGS[@]}"
image=$(kc get deployment dev-web -n "$NS" -o 'jsonpath={.spec.template.spec.containers[0].image}' 2>&1)
if [ "$RC" -eq 0 ] && contains "$OUT" "3 created" && [ "$image" = registry.example/nginx:edge ]; then
	ok "sync of a kustomize folder creates its rendered objects in the cluster"
else
	fail "sync of a kustomize folder creates its rendered objects in the cluster" "image=$image" "$(show)"
fi
capture "$PLUMB" plan "${ARGS[@]}" --detailed-exitcode
expect_rc "a plan after the sync finds nothing to change" 0

# --- plumb serve ------------------------------------------------------------------------------
# An Application whose source is a kustomize folder, kept in sync by the daemon: a commit that
# touches nothing the kustomization reaches is reconciled without running kustomize.
SERVED="$T/served"
make_repo "$SERVED"
mkdir -p "$SERVED/deploy/base" "$SERVED/deploy/live"
printf 'resources:\n  - conf.yaml\n' >"$SERVED/deploy/base/kustomization.yaml"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: conf}\ndata: {greeting: hello}\n' >"$SERVED/deploy/base/conf.yaml"
printf 'namePrefix: served-\nresources:\n  - ../base\n' >"$SERVED/deploy/live/kustomization.yaml"
cat >"$SERVED/app.yaml" <<YAML
apiVersion: plumb/v1
kind: Application
metadata: {name: served}
spec:
  source: {path: deploy/live}
  destination: {kubernetes: {namespace: $NS}}
  syncPolicy: {automated: true}
YAML
commit_all "$SERVED" "served"
WAIT_MS=60000
DLOG[served]="$T/serve.log"
# The program the daemon is told of (--kustomize, kustomize: in serve.yaml), not the one on PATH.
cat >"$T/served-kustomize" <<SH
#!/bin/sh
: >"$T/served-kustomize.used" # a builtin: the renderer runs with no PATH
exec "$T/bin/kustomize" "\$@"
SH
chmod +x "$T/served-kustomize"
"$PLUMB" serve --repo "$SERVED" --state "$T/serve-state" --kubeconfig "$KUBECONFIG_ADMIN" --listen 127.0.0.1:0 \
	--interval 1s --self-heal-interval 10m --kustomize "$T/served-kustomize" 2>"${DLOG[served]}" &
DPID[served]=$!
logged() { grep -qE "$1" "${DLOG[served]}"; }
served_greeting_is() { [ "$(kc get configmap served-conf -n "$NS" -o 'jsonpath={.data.greeting}' 2>/dev/null)" = "$1" ]; }
if wait_for "$WAIT_MS" served_greeting_is hello; then
	ok "plumb serve syncs an Application whose source is a kustomize folder"
	check "with the program --kustomize names" test -e "$T/served-kustomize.used"
else
	fail "plumb serve syncs an Application whose source is a kustomize folder" "$(tail -n 20 "${DLOG[served]}")"
fi
before=$(runs)
echo "# served" >"$SERVED/README.md"
commit_all "$SERVED" "readme"
NOCHANGE=$(head_of "$SERVED")
if wait_for "$WAIT_MS" logged " msg=\"in sync\" .*commit=$NOCHANGE" && [ "$(runs)" = "$before" ]; then
	ok "serve reconciles a commit that touches nothing the kustomization reaches without running kustomize"
else
	fail "serve reconciles a commit that touches nothing the kustomization reaches without running kustomize" \
		"runs: $before -> $(runs)" "$(tail -n 20 "${DLOG[served]}")"
fi
sed -i 's/hello/bonjour/' "$SERVED/deploy/base/conf.yaml"
commit_all "$SERVED" "bonjour"
if wait_for "$WAIT_MS" served_greeting_is bonjour && [ "$(runs)" = "$((before + 1))" ]; then
	ok "serve renders again, once, when the base changes, and syncs the result"
else
	fail "serve renders again, once, when the base changes, and syncs the result" \
		"runs: $before -> $(runs)" "$(tail -n 20 "${DLOG[served]}")"
fi
stop_and_check served

[ "$TAP_FAILED" -eq 0 ]
