#!/usr/bin/env bash
# Charts of OCI registries, pulled from distribution's registry on loopback: a Flux
# HelmRelease's chartRef to an OCIRepository (at a tag, at a semver range pinned to the release
# it resolves to, at a digest; insecure as plain HTTP), a Flux HelmRepository of type oci, and an
# Argo CD Application's chart of a registry written without a scheme, or its oci:// source
# (over TLS, its CA trusted through SSL_CERT_FILE) render, with --allow-chart-fetch, what helm
# template gives by hand; without it, and for what plumb cannot honour (a signature to verify,
# semverFilter, no ref, a tag that is no version, a HelmChart, a folder inside an artifact), the
# error is where it is written. A range of a registry's chart is planned, and applied to a real
# kube-apiserver as planned.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/servers.sh"
kube_script
render_programs
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy NO_PROXY no_proxy SSL_CERT_FILE SSL_CERT_DIR

# --- the registries and the chart ------------------------------------------------------------

make_ca "$T/ca" && make_server_cert "$T/certs" "$T/ca" || { fail "openssl makes a CA and a server certificate"; exit 1; }
if oci_registry "$T/plain" && PLAIN=$OCI_HOST && oci_registry "$T/tls" "$T/certs" && TLS=$OCI_HOST; then
	ok "distribution's registry serves on loopback, over plain HTTP and over TLS"
else
	fail "distribution's registry serves on loopback" "$(cat "$T/plain/registry.log" "$T/tls/registry.log" 2>&1)"
	exit 1
fi

# push VERSION [REGISTRY [HELM ARGS]]: the chart "web" at VERSION, its ConfigMap saying so, pushed
# to REGISTRY/charts (the plain one by default); PUSHED_DIGEST is the digest of what was pushed.
mkdir -p "$T/chart/templates"
printf 'size: 1\n' >"$T/chart/values.yaml"
printf '%s\n' 'apiVersion: v1
kind: ConfigMap
metadata: {name: "{{ .Release.Name }}-web"}
data: {version: "{{ .Chart.Version }}", size: "{{ .Values.size }}"}' >"$T/chart/templates/cm.yaml"
push() {
	local version=$1 registry=${2:-$PLAIN}
	shift $(($# < 2 ? $# : 2))
	[ $# -gt 0 ] || set -- --plain-http
	printf 'apiVersion: v2\nname: web\nversion: %s\n' "$version" >"$T/chart/Chart.yaml"
	"$HELM" package "$T/chart" -d "$T/packages" >/dev/null &&
		"$HELM" push "$T/packages/web-$version.tgz" "oci://$registry/charts" "$@" >"$T/push.out" 2>&1 &&
		PUSHED_DIGEST=$(sed -n 's/^Digest: //p' "$T/push.out") && [ -n "$PUSHED_DIGEST" ]
}
if push 0.1.0 && FIRST_DIGEST=$PUSHED_DIGEST && push 0.1.0 "$TLS" --ca-file "$T/ca/ca.pem" &&
	TLS_DIGEST=$PUSHED_DIGEST; then
	ok "helm pushes the chart web 0.1.0 to both registries"
else
	fail "helm pushes the chart web 0.1.0 to both registries" "$(cat "$T/push.out")"
	exit 1
fi

REPO="$T/repo"
STATE="$T/state"
make_repo "$REPO"
mkdir -p "$REPO/clusters/prod"
commit_all "$REPO" "an empty cluster folder"
ARGS=(--repo "$REPO" --state "$STATE")

# by_hand FILE HELM-ARGS...: what helm template prints, as canonical objects, into FILE.
by_hand() {
	local file=$1
	shift
	"$HELM" template "$@" 2>"$file.err" | canonical >"$file"
	[ -s "$file" ]
}

# same_as NAME FILE: the last render succeeded and its objects are FILE's, object for object.
same_as() {
	if [ "$RC" -eq 0 ] && [ "$(printf '%s\n' "$OUT" | canonical)" = "$(cat "$2")" ]; then
		ok "$1"
	else
		fail "$1" "$(show)" "by hand: $(cat "$2" "$2.err")"
	fi
}

# --- Flux: a HelmRelease's chartRef to an OCIRepository ---------------------------------------

# flux_release REF [SOURCE-LINES]: an OCIRepository of the plain registry's chart at REF (a flow
# mapping; "" for none) and the HelmRelease "web" of it, with the size 3.
flux_release() {
	printf '%s\n' "apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: web, namespace: flux-system}
spec:
  interval: 10m
  url: oci://$PLAIN/charts/web
  insecure: true${1:+
  ref: $1}${2:+
$2}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  interval: 10m
  chartRef: {kind: OCIRepository, name: web, namespace: flux-system}
  values: {size: 3}"
}
flux() { render_with clusters/prod/web.yaml "$@" "${ARGS[@]}" --path clusters/prod; }

flux "$(flux_release '{tag: 0.1.0}')"
expect_err "a chartRef's chart of an OCI registry is refused without --allow-chart-fetch, where it is named" \
	"clusters/prod/web.yaml:15:41: the chart oci://$PLAIN/charts web@0.1.0 is fetched from an OCI registry over the network"

by_hand "$T/tag" web "oci://$PLAIN/charts/web" --version 0.1.0 --plain-http --namespace apps --set size=3
flux "$(flux_release '{tag: 0.1.0}')" --allow-chart-fetch
same_as "with --allow-chart-fetch, an OCIRepository's tag renders as helm template oci://... --version does by hand" "$T/tag"
if contains "$OUT" "web@0.1.0 (helm)" && contains "$OUT" 'size: "3"'; then
	ok "the rendered objects name the chart and version they came from, with the release's values"
else
	fail "the rendered objects name the chart and version they came from, with the release's values" "$(show)"
fi

# A range is pinned to the release it resolves to now: one pushed since renders anew.
flux "$(flux_release "{semver: '>=0.1.0 <1.0.0'}")" --allow-chart-fetch
first=$OUT
push 0.2.0 || fail "helm pushes web 0.2.0" "$(cat "$T/push.out")"
flux "$(flux_release "{semver: '>=0.1.0 <1.0.0'}")" --allow-chart-fetch
if contains "$first" 'version: "0.1.0"' && [ "$RC" -eq 0 ] && contains "$OUT" 'version: "0.2.0"' &&
	contains "$OUT" "web@0.2.0 (helm)"; then
	ok "ref.semver is pinned to the release it resolves to: one pushed since renders anew"
else
	fail "ref.semver is pinned to the release it resolves to: one pushed since renders anew" "$first" "$(show)"
fi

# A digest names one content for good, over a tag and a range, as Flux takes them.
by_hand "$T/digest" web "oci://$PLAIN/charts/web@$FIRST_DIGEST" --plain-http --namespace apps --set size=3
flux "$(flux_release "{digest: '$FIRST_DIGEST', semver: '>=0.2.0', tag: 0.2.0}")" --allow-chart-fetch
same_as "ref.digest renders the chart at that digest, over ref.semver and ref.tag" "$T/digest"
if contains "$OUT" 'version: "0.1.0"' && contains "$OUT" "web@$FIRST_DIGEST (helm)"; then
	ok "a chart at a digest is the one pushed first, named by its digest, though a later release is there"
else
	fail "a chart at a digest is the one pushed first, named by its digest, though a later release is there" "$(show)"
fi

# A tag spells a version's "+" as "_", as helm pushes it.
push 0.3.0+build.7 || fail "helm pushes web 0.3.0+build.7" "$(cat "$T/push.out")"
flux "$(flux_release '{tag: 0.3.0_build.7}')" --allow-chart-fetch
if [ "$RC" -eq 0 ] && contains "$OUT" 'version: "0.3.0+build.7"'; then
	ok "ref.tag 0.3.0_build.7 pulls the chart version 0.3.0+build.7"
else
	fail "ref.tag 0.3.0_build.7 pulls the chart version 0.3.0+build.7" "$(show)"
fi

# What is fetched without credentials is said, and fetched.
flux "$(flux_release '{tag: 0.1.0}' '  secretRef: {name: registry-login}
  provider: aws')" --allow-chart-fetch
if [ "$RC" -eq 0 ] && contains "$ERR" \
	"clusters/prod/web.yaml:9:3: warning: OCIRepository web: spec.secretRef: not read by plumb (helm fetches the chart with the credentials plumb is given: --credentials)" &&
	contains "$ERR" "clusters/prod/web.yaml:10:3: warning: OCIRepository web: spec.provider: aws: not read by plumb"; then
	ok "an OCIRepository's secretRef and cloud provider are warnings where they are written, and the chart renders"
else
	fail "an OCIRepository's secretRef and cloud provider are warnings where they are written, and the chart renders" "$(show)"
fi

# A registry served without TLS, not said insecure: helm's own refusal, with the chart it was pulling.
flux "$(flux_release '{tag: 0.1.0}' | sed '/insecure: true/d')" --allow-chart-fetch
expect_err "a registry without TLS, not said insecure, fails with helm's reason and the chart" \
	"server gave HTTP response to HTTPS client"
contains "$ERR" "oci://$PLAIN/charts web@0.1.0 (helm)" && ok "the failure names the chart it was rendering" ||
	fail "the failure names the chart it was rendering" "$(show)"

# --- Flux: what plumb cannot honour -----------------------------------------------------------

flux "$(flux_release '{tag: 0.1.0}' '  verify: {provider: cosign}')" --allow-chart-fetch
expect_err "an OCIRepository's verify is an error where it is written: plumb checks no signature" \
	"clusters/prod/web.yaml:9:3: OCIRepository web: spec.verify: plumb does not verify a chart's signature"
flux "$(flux_release '{tag: 0.1.0}' '  verify: {provider: cosign}')
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: other, namespace: apps}
spec: {chartRef: {kind: OCIRepository, name: web}}" --allow-chart-fetch
if [ "$RC" -ne 0 ] && [ "$(printf '%s\n' "$ERR" | grep -c 'spec.verify: plumb does not verify')" = 1 ] &&
	contains "$ERR" "is invalid: 1 error;"; then
	ok "a source two releases name is told at fault once"
else
	fail "a source two releases name is told at fault once" "$(show)"
fi
flux "$(flux_release "{semver: '>=0.1.0', semverFilter: '.*-rc'}")" --allow-chart-fetch
expect_err "ref.semverFilter is an error where it is written" \
	"clusters/prod/web.yaml:8:28: OCIRepository web: spec.ref.semverFilter: not read by plumb"
flux "$(flux_release '')" --allow-chart-fetch
expect_err "an OCIRepository without ref is an error: Flux would pull the tag latest" \
	"OCIRepository web: no spec.ref: Flux pulls the tag latest, which is no chart's version"
flux "$(flux_release '{tag: stable}')" --allow-chart-fetch
expect_err "a tag that is no version is an error where it is written" \
	"clusters/prod/web.yaml:8:9: OCIRepository web: spec.ref.tag 'stable' is not a chart's version"
flux "$(flux_release '{tag: 0.1.0}' | sed "s|url: .*|url: oci://$PLAIN|")" --allow-chart-fetch
expect_err "an OCIRepository's url that names no chart is an error where it is written" \
	"clusters/prod/web.yaml:6:3: OCIRepository web: spec.url 'oci://$PLAIN' is not a chart's: oci://HOST/PATH/CHART"
flux "$(flux_release '{tag: 0.1.0}' | sed 's/OCIRepository, name: web/OCIRepository, name: elsewhere/')" --allow-chart-fetch
expect_err "an OCIRepository the folder does not hold is an error where it is named" \
	"clusters/prod/web.yaml:15:41: OCIRepository elsewhere is not in the folder that declares this application"
flux "$(flux_release '{tag: 0.1.0}' | sed 's/kind: OCIRepository, name: web/kind: HelmChart, name: web/')" \
	--allow-chart-fetch
expect_err "a chartRef to a HelmChart is an error at its kind: a Flux controller makes it" \
	"clusters/prod/web.yaml:15:20: spec.chartRef.kind: a HelmChart is made by a Flux controller"
flux "$(flux_release '{tag: 0.1.0}' | sed 's/^  values: {size: 3}$/  chart: {spec: {chart: web, sourceRef: {kind: HelmRepository, name: web}}}/')" \
	--allow-chart-fetch
expect_err "chartRef and chart both given is an error" "clusters/prod/web.yaml:15:14: spec.chartRef: spec.chart is given too; give one"

flux "$(flux_release '{tag: 0.1.0}')
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: manifests, namespace: flux-system}
spec: {interval: 10m, path: ./, prune: true, sourceRef: {kind: OCIRepository, name: web}}" --allow-chart-fetch
expect_err "a Kustomization's manifests from an OCIRepository are an error at its kind, even when fetching is allowed" \
	"clusters/prod/web.yaml:21:64: spec.sourceRef.kind: OCIRepository is not read by plumb: manifests come from a GitRepository"

# --- Flux: a HelmRepository of type oci ---------------------------------------------------------

helm_repository() { # TYPE-LINE: a HelmRepository of the plain registry and a release of its chart web
	printf '%s\n' "apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts, namespace: flux-system}
spec:
  interval: 1h
  url: oci://$PLAIN/charts
  insecure: true$1
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web, namespace: apps}
spec:
  chart: {spec: {chart: web, version: 0.1.0, sourceRef: {kind: HelmRepository, name: charts}}}
  values: {size: 3}"
}
flux "$(helm_repository '
  type: oci')" --allow-chart-fetch
same_as "a HelmRepository of type oci renders its chart as helm template oci://... does by hand" "$T/tag"
flux "$(helm_repository '')" --allow-chart-fetch
expect_err "a HelmRepository of an oci:// url without type oci is an error where the url is written" \
	"clusters/prod/web.yaml:6:3: HelmRepository charts: spec.url 'oci://$PLAIN/charts' is an OCI registry's: say type: oci"
flux "$(helm_repository '
  type: oci' | sed 's/version: 0.1.0, /version: 0.1.0, verify: {provider: cosign}, /')" --allow-chart-fetch
expect_err "a HelmRelease chart's verify is an error where it is written" \
	"clusters/prod/web.yaml:14:55: spec.chart.spec.verify: plumb does not verify a chart's signature"

# --- Flux: a registry's chart synced to a real API server, from a reviewed plan --------------

kube_start "a chart of an OCI registry"
printf '%s\n' "$(flux_release "{semver: '>=0.1.0 <0.5.0'}")
  install: {createNamespace: true}" >"$REPO/clusters/prod/web.yaml"
commit_all "$REPO" "web from its OCI registry, the latest 0.x release"
capture "$PLUMB" plan web "${ARGS[@]}" --path clusters/prod --kubeconfig "$KUBECONFIG_ADMIN" \
	--allow-chart-fetch --out "$T/web.plan"
planned=$RC
push 0.4.0 || fail "helm pushes web 0.4.0" "$(cat "$T/push.out")"
capture "$PLUMB" apply "$T/web.plan" --state "$STATE" --kubeconfig "$KUBECONFIG_ADMIN" --allow-chart-fetch
version=$(kc get configmap web-web -n apps -o 'jsonpath={.data.version}' 2>&1)
if [ "$planned" -eq 0 ] && [ "$RC" -eq 0 ] && [ "$version" = 0.3.0+build.7 ]; then
	ok "a plan of a registry's chart range applies the release it pinned, though a later one was pushed since"
else
	fail "a plan of a registry's chart range applies the release it pinned, though a later one was pushed since" \
		"version=$version" "$(show)"
fi
capture "$PLUMB" sync "${ARGS[@]}" --path clusters/prod --kubeconfig "$KUBECONFIG_ADMIN" --allow-chart-fetch
version=$(kc get configmap web-web -n apps -o 'jsonpath={.data.version}' 2>&1)
if [ "$RC" -eq 0 ] && [ "$version" = 0.4.0 ]; then
	ok "the next sync resolves the range again and applies the release pushed since"
else
	fail "the next sync resolves the range again and applies the release pushed since" "version=$version" "$(show)"
fi
rm -f "$REPO/clusters/prod/web.yaml"
commit_all "$REPO" "without web"

# --- Argo CD: a chart of a registry written without a scheme, over TLS ------------------------

app="apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  project: default
  source:
    repoURL: $TLS/charts
    chart: web
    targetRevision: 0.1.x
    helm: {parameters: [{name: size, value: '5'}]}
  destination: {server: https://kubernetes.default.svc, namespace: argo}"
argo() { render_with apps/web.yaml "$app" "${ARGS[@]}" --path apps "$@"; }
mkdir -p "$REPO/apps"
argo
expect_err "an Argo CD chart of a registry is refused without --allow-chart-fetch, where it is named" \
	"apps/web.yaml:8:12: the chart oci://$TLS/charts web@0.1.x is fetched from an OCI registry over the network"
argo --allow-chart-fetch
expect_err "a registry whose CA the system does not trust is refused, with helm's reason" \
	"certificate signed by unknown authority"
by_hand "$T/argo" web "oci://$TLS/charts/web" --version 0.1.x --ca-file "$T/ca/ca.pem" --namespace argo --set size=5
SSL_CERT_FILE="$T/ca/ca.pem" argo --allow-chart-fetch
same_as "its CA in the store plumb runs with (SSL_CERT_FILE), the chart renders as helm template does by hand" "$T/argo"
if contains "$OUT" "web@0.1.0 (helm)" && contains "$OUT" 'size: "5"'; then
	ok "an Argo CD range of a registry's chart is pinned to the release it resolves to"
else
	fail "an Argo CD range of a registry's chart is pinned to the release it resolves to" "$(show)"
fi

# An oci:// source (Argo CD's OCI artifact) of a chart helm pushed: the chart, pulled whole.
app=$(printf '%s\n' "$app" | sed "s|repoURL: .*|repoURL: oci://$TLS/charts/web|; s|chart: web|path: .|; s|0.1.x|0.1.0|")
by_hand "$T/artifact" web "oci://$TLS/charts/web" --version 0.1.0 --ca-file "$T/ca/ca.pem" --namespace argo --set size=5
SSL_CERT_FILE="$T/ca/ca.pem" argo --allow-chart-fetch
same_as "an oci:// source of a chart renders as helm template oci://... does by hand" "$T/artifact"
argo
expect_err "an oci:// source is refused without --allow-chart-fetch, at its repoURL" \
	"apps/web.yaml:7:14: the chart oci://$TLS/charts web@0.1.0 is fetched from an OCI registry over the network"
app=$(printf '%s\n' "$app" | sed "s|0.1.0|$TLS_DIGEST|")
SSL_CERT_FILE="$T/ca/ca.pem" argo --allow-chart-fetch
same_as "an oci:// source at a digest (targetRevision sha256:...) renders the chart of that digest" "$T/artifact"
contains "$OUT" "web@$TLS_DIGEST (helm)" && ok "the rendered objects name the digest they came from" ||
	fail "the rendered objects name the digest they came from" "$(show)"
app=$(printf '%s\n' "$app" | sed "s|path: .|path: manifests|")
SSL_CERT_FILE="$T/ca/ca.pem" argo --allow-chart-fetch
expect_err "a folder inside an OCI artifact is an error where it is written" \
	"apps/web.yaml:8:11: spec.source.path: 'manifests': plumb reads an OCI artifact as a Helm chart, whole: give path: ."

# --- Argo CD: repository Secrets beside the Applications ------------------------------------

# A registry served without TLS, as Argo CD's repository Secret says it (insecureOCIForceHttp).
PASSWORD="plumb-e2e-registry-$RANDOM$RANDOM"
plain_app="apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  project: default
  source: {repoURL: $PLAIN/charts, chart: web, targetRevision: 0.1.0, helm: {parameters: [{name: size, value: '5'}]}}
  destination: {server: https://kubernetes.default.svc, namespace: argo}"
repository="---
apiVersion: v1
kind: Secret
metadata:
  name: registry
  namespace: argocd
  labels: {argocd.argoproj.io/secret-type: repository}
stringData:
  type: helm
  url: $PLAIN/charts
  enableOCI: 'true'
  insecureOCIForceHttp: 'true'
  username: deploy
  password: $PASSWORD"
by_hand "$T/plain-argo" web "oci://$PLAIN/charts/web" --version 0.1.0 --plain-http --namespace argo --set size=5
app=$plain_app
argo --allow-chart-fetch
expect_err "an Argo CD chart of a registry without TLS fails, with helm's reason, when nothing says so" \
	"server gave HTTP response to HTTPS client"
app="$plain_app
$repository"
argo --allow-chart-fetch
same_as "a repository Secret beside the Application with insecureOCIForceHttp pulls the chart over plain HTTP" \
	"$T/plain-argo"
if contains "$ERR" "apps/web.yaml:20:3: warning: Secret registry: stringData.username: not read by plumb (helm fetches the chart with the credentials plumb is given: --credentials)" &&
	contains "$ERR" "apps/web.yaml:21:3: warning: Secret registry: stringData.password: not read by plumb" &&
	! contains "$OUT$ERR" "$PASSWORD" && ! contains "$OUT" "kind: Secret"; then
	ok "the Secret is read, not applied; its credentials are warnings where they are written, their values shown nowhere"
else
	fail "the Secret is read, not applied; its credentials are warnings where they are written, their values shown nowhere" \
		"$(show)"
fi
# One a renderer made (the Applications' folder a kustomization) holds its values masked: said.
printf 'resources: [web.yaml]\n' >"$REPO/apps/kustomization.yaml"
argo --allow-chart-fetch
rm "$REPO/apps/kustomization.yaml"
commit_all "$REPO" "the Applications' folder is no kustomization"
expect_err "a repository Secret a kustomization renders is not read, and that is said" \
	"warning: Secret registry: a repository Secret a renderer made is not read by plumb"
# Credentials for every repository under a url (repo-creds), written as data (base64).
app="$plain_app
---
apiVersion: v1
kind: Secret
metadata:
  name: registry-creds
  namespace: argocd
  labels: {argocd.argoproj.io/secret-type: repo-creds}
data: {url: $(b64 "$PLAIN"), insecureOCIForceHttp: $(b64 true)}"
argo --allow-chart-fetch
same_as "repo-creds whose url the chart's repository starts with, written base64, is read as Argo CD reads it" \
	"$T/plain-argo"
# A git repository's Secret: its credentials are not how plumb reaches a repository; said so.
mkdir -p "$REPO/manifests"
printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: local, namespace: argo}\ndata: {a: b}\n' \
	>"$REPO/manifests/cm.yaml"
app="apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: local, namespace: argocd}
spec:
  project: default
  source: {repoURL: $REPO, path: manifests}
  destination: {server: https://kubernetes.default.svc, namespace: argo}
---
apiVersion: v1
kind: Secret
metadata:
  name: gitops
  namespace: argocd
  labels: {argocd.argoproj.io/secret-type: repository}
stringData: {type: git, url: $REPO, sshPrivateKey: not-a-key-$PASSWORD}"
argo
# The key's column on line 15 follows the repository's path, written before it.
key_column=$(($(printf '%s\n' "$app" | sed -n 15p | grep -bo sshPrivateKey | cut -d: -f1) + 1))
if [ "$RC" -eq 0 ] && contains "$OUT" "name: local" && contains "$ERR" \
	"apps/web.yaml:15:$key_column: warning: Secret gitops: stringData.sshPrivateKey: not read by plumb (plumb reaches a repository with the credentials it is given: --credentials)" &&
	! contains "$OUT$ERR" "$PASSWORD"; then
	ok "a git repository's Secret is read, not applied, its credentials a warning: plumb is given its own"
else
	fail "a git repository's Secret is read, not applied, its credentials a warning: plumb is given its own" "$(show)"
fi

# --- a private registry: plumb's credentials -------------------------------------------------

REG_USER=deploy
REG_PASSWORD="plumb-e2e-login-$RANDOM$RANDOM-Qz"
REG_AUTH=$(b64 "$REG_USER:$REG_PASSWORD")
htpasswd -Bbc "$T/htpasswd" "$REG_USER" "$REG_PASSWORD" >/dev/null 2>&1 ||
	{ fail "htpasswd makes a bcrypt login"; exit 1; }
if oci_registry "$T/private" "$T/certs" "$T/htpasswd" && PRIVATE=$OCI_HOST &&
	printf '%s' "$REG_PASSWORD" | "$HELM" registry login "$PRIVATE" --username "$REG_USER" --password-stdin \
		--ca-file "$T/ca/ca.pem" >/dev/null 2>&1 && push 0.1.0 "$PRIVATE" --ca-file "$T/ca/ca.pem"; then
	ok "a registry that lets in one user, over TLS, holds the chart"
else
	fail "a registry that lets in one user, over TLS, holds the chart" "$(cat "$T/push.out" "$T/private/registry.log")"
	exit 1
fi
by_hand "$T/private-by-hand" web "oci://$PRIVATE/charts/web" --version 0.1.0 --ca-file "$T/ca/ca.pem" \
	--namespace apps --set size=3
"$HELM" registry logout "$PRIVATE" >/dev/null 2>&1
private_release() {
	flux_release '{tag: 0.1.0}' | sed "s|url: oci://$PLAIN/charts/web|url: oci://$PRIVATE/charts/web|; /insecure: true/d"
}
SSL_CERT_FILE="$T/ca/ca.pem" flux "$(private_release)" --allow-chart-fetch
expect_err "a chart of a private registry is refused to plumb without credentials, with helm's reason" \
	"basic credential not found"
printf 'credentials:\n  - url: oci://%s/charts/\n    username: %s\n    password: {env: REG_PASSWORD}\n    caFile: %s\n' \
	"$PRIVATE" "$REG_USER" "$T/ca/ca.pem" >"$T/credentials.yaml"
REG_PASSWORD=wrong-$REG_PASSWORD flux "$(private_release)" --allow-chart-fetch --credentials "$T/credentials.yaml"
wrong_err=$ERR
expect_err "a wrong password fails with the registry's refusal" "401"
REG_PASSWORD=$REG_PASSWORD flux "$(private_release)" --allow-chart-fetch --credentials "$T/credentials.yaml"
same_as "with --credentials (a username, a password from the environment, a caFile) the chart renders as by hand" \
	"$T/private-by-hand"
REG_PASSWORD=$REG_PASSWORD flux "$(private_release | sed "s|ref: {tag: 0.1.0}|ref: {semver: '0.1.x'}|")" \
	--allow-chart-fetch --credentials "$T/credentials.yaml"
if [ "$RC" -eq 0 ] && contains "$OUT" "web@0.1.0 (helm)"; then
	ok "a range of a private registry's chart is resolved (helm show chart) with the credentials too"
else
	fail "a range of a private registry's chart is resolved (helm show chart) with the credentials too" "$(show)"
fi
# A chart in git whose dependency is a private registry's: helm dependency build logs in too.
mkdir -p "$REPO/charts/umbrella"
printf 'apiVersion: v2\nname: umbrella\nversion: 1.0.0\ndependencies:\n  - {name: web, version: 0.1.0, repository: "oci://%s/charts"}\n' \
	"$PRIVATE" >"$REPO/charts/umbrella/Chart.yaml"
umbrella="apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: umbrella, namespace: apps}
spec:
  chart: {spec: {chart: ./charts/umbrella, sourceRef: {kind: GitRepository, name: flux-system}}}
  values: {web: {size: 7}}"
SSL_CERT_FILE="$T/ca/ca.pem" flux "$umbrella" --allow-chart-fetch
expect_err "a chart's dependency of a private registry is refused to plumb without credentials" \
	"basic credential not found"
REG_PASSWORD=$REG_PASSWORD flux "$umbrella" --allow-chart-fetch --credentials "$T/credentials.yaml"
if [ "$RC" -eq 0 ] && contains "$OUT" 'name: "umbrella-web"' && contains "$OUT" 'size: "7"'; then
	ok "with --credentials, helm dependency build fetches the dependency of the private registry, and it renders"
else
	fail "with --credentials, helm dependency build fetches the dependency of the private registry, and it renders" \
		"$(show)"
fi
# One run of helm takes one CA file and one insecureSkipVerify for all it fetches.
printf '  - {name: web, alias: plain, version: 0.1.0, repository: "oci://%s/charts"}\n' "$PLAIN" \
	>>"$REPO/charts/umbrella/Chart.yaml"
cp "$T/ca/ca.pem" "$T/ca-copy.pem"
cp "$T/credentials.yaml" "$T/two-cas.yaml"
printf '  - url: oci://%s/\n    caFile: %s\n' "$PLAIN" "$T/ca-copy.pem" >>"$T/two-cas.yaml"
REG_PASSWORD=$REG_PASSWORD flux "$umbrella" --allow-chart-fetch --credentials "$T/two-cas.yaml"
expect_err "dependencies whose credentials name two CA files are refused: one run of helm takes one" \
	"its caFile is not the one of the chart's other sources"
printf 'credentials:\n  - url: oci://%s/\n    insecureSkipVerify: true\n' "$PRIVATE" >"$T/insecure.yaml"
flux "$umbrella" --allow-chart-fetch --credentials "$T/insecure.yaml"
expect_err "insecureSkipVerify for one dependency is refused when it would reach another" \
	"insecureSkipVerify would reach every source of the chart"
rm -rf "$REPO/charts/umbrella"
commit_all "$REPO" "without the umbrella chart"
leaks=$(grep -rlaF -e "$REG_PASSWORD" -e "$REG_AUTH" "$STATE" "$TMPDIR" 2>/dev/null)
if ! contains "$OUT$ERR$wrong_err" "$REG_PASSWORD" && ! contains "$OUT$ERR$wrong_err" "$REG_AUTH" && [ -z "$leaks" ] &&
	[ -z "$(find "$TMPDIR" -name config.json 2>/dev/null)" ]; then
	ok "the password shows nowhere: not in any output, the state directory, or a login left behind"
else
	fail "the password shows nowhere: not in any output, the state directory, or a login left behind" "$leaks" \
		"$(find "$TMPDIR" -name config.json)" "$(show)"
fi
# A Helm repository over HTTP takes a password only on helm's command line: refused.
chart_repository "$T/chartrepo" || fail "a chart repository serves on loopback" "$(cat "$T/chartrepo/server.log")"
printf 'credentials:\n  - url: %s\n    username: %s\n    password: {env: REG_PASSWORD}\n' "$CHART_REPO" "$REG_USER" \
	>"$T/http-credentials.yaml"
REG_PASSWORD=$REG_PASSWORD flux "apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts, namespace: flux-system}
spec: {interval: 1h, url: $CHART_REPO}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: dep, namespace: apps}
spec:
  chart: {spec: {chart: dep, version: 0.2.0, sourceRef: {kind: HelmRepository, name: charts}}}" \
	--allow-chart-fetch --credentials "$T/http-credentials.yaml"
expect_err "a password for a Helm repository over HTTP is refused: helm takes it only on its command line" \
	"helm takes a Helm repository's password only on its command line"
contains "$OUT$ERR" "$REG_PASSWORD" && fail "the refusal does not show the password" "$(show)" ||
	ok "the refusal does not show the password"

[ "$TAP_FAILED" -eq 0 ]
