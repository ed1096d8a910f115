#!/usr/bin/env bash
# plumb render over an app of apps: -o json is one document listing the
# applications (name, commit, path, destination, renderer) and their
# objects, each naming its application and where it was read, a Secret's
# values masked; an application that fails leaves stdout empty; the YAML
# output heads each application with a comment naming it.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

KUSTOMIZE="$root/build/kustomize/bin/kustomize"
if [ ! -x "$KUSTOMIZE" ]; then
	fail "build/kustomize/bin/kustomize is built" "run: tests/kustomize/build"
	exit 1
fi
# Every kustomize plumb runs goes through this wrapper, which notes what it was asked.
mkdir -p "$T/bin"
cat >"$T/bin/kustomize" <<SH
#!/bin/sh
echo "\$1" >>"$T/calls"
exec "$KUSTOMIZE" "\$@"
SH
chmod +x "$T/bin/kustomize"
export PLUMB_KUSTOMIZE="$T/bin/kustomize"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
calls() { cat "$T/calls" 2>/dev/null | grep -c "^$1\$" || true; }

REPO="$T/repo"
STATE="$T/state"
make_repo "$REPO"
mkdir -p "$REPO/apps/root" "$REPO/apps/shop" "$REPO/apps/web"
cat >"$REPO/apps/root/apps.yaml" <<'YAML'
apiVersion: plumb/v1
kind: Application
metadata: {name: shop}
spec:
  source: {path: apps/shop}
  destination: {kubernetes: {namespace: shop}}
---
apiVersion: plumb/v1
kind: Application
metadata: {name: web}
spec:
  source: {path: apps/web}
  destination: {host: {root: srv/web}}
YAML
cat >"$REPO/apps/shop/kustomization.yaml" <<'YAML'
namePrefix: shop-
resources: [conf.yaml, password.yaml]
YAML
cat >"$REPO/apps/shop/conf.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {LEVEL: info}
YAML
cat >"$REPO/apps/shop/password.yaml" <<'YAML'
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: hunter2-in-git}
YAML
cat >"$REPO/apps/web/index.yaml" <<'YAML'
apiVersion: host/v1
kind: File
metadata: {name: index}
spec: {path: /index.html, content: "hello\n"}
---
apiVersion: host/v1
kind: Directory
metadata: {name: logs}
spec: {path: /logs}
YAML
commit_all "$REPO" "two applications"
HEAD=$(head_of "$REPO")

# jq NAME FILTER: the filter, run with -e over the last output, is true.
jq_true() {
	local name=$1 filter=$2
	if printf '%s\n' "$OUT" | jq -e "$filter" >"$T/jq.out" 2>&1; then
		ok "$name"
	else
		fail "$name" "jq -e '$filter': $(cat "$T/jq.out")" "$(show)"
	fi
}

capture "$PLUMB" render --repo "$REPO" --path apps/root --state "$STATE" -o json
expect_rc "render -o json of an app of apps exits 0" 0
if [ "$(calls build)" = 1 ] && [ "$(calls version)" = 1 ]; then
	ok "one render asks kustomize its version once, though discovery and the application both load the folder"
else
	fail "one render asks kustomize its version once, though discovery and the application both load the folder" \
		"$(cat "$T/calls")"
fi
if [ "$(printf '%s\n' "$OUT" | jq -s length 2>&1)" = 1 ]; then
	ok "render -o json prints one JSON document"
else
	fail "render -o json prints one JSON document" "$(show)"
fi
jq_true "the document lists the applications, in order" '[.applications[].name] == ["shop", "web"]'
jq_true "every object names its application" \
	'[.applications[] | .name as $app | .objects[] | select(.application != $app)] == [] and
	 ([.applications[].objects | length] == [2, 2])'
jq_true "each application gives the commit it was rendered from" \
	"[.applications[].commit] == [\"$HEAD\", \"$HEAD\"]"
jq_true "each application gives its path, and its renderer when the path was rendered" \
	'[.applications[] | [.path, .renderer]] == [["apps/shop", "kustomize"], ["apps/web", null]]'
jq_true "a cluster destination gives its context and namespace, a host one its root" \
	'.applications[0].destination == {"kubernetes": {"context": null, "namespace": "shop"}} and
	 .applications[1].destination == {"host": {"root": "/srv/web"}}'
jq_true "a rendered object's source names the folder, the renderer and the object" \
	'[.applications[0].objects[].source] == ["apps/shop (kustomize from apps/shop/conf.yaml) ConfigMap/shop-conf:1",
	  "apps/shop (kustomize from apps/shop/password.yaml) Secret/shop-db:1"]'
jq_true "a plain object's source is its file and line" \
	'[.applications[1].objects[].source] == ["apps/web/index.yaml:1", "apps/web/index.yaml:6"]'
jq_true "each object is the resource as loaded" \
	'.applications[1].objects[0].object == {"apiVersion": "host/v1", "kind": "File",
	  "metadata": {"name": "index"}, "spec": {"path": "/index.html", "content": "hello\n"}}'
if ! contains "$OUT" "hunter2-in-git" &&
	printf '%s\n' "$OUT" | jq -e '.applications[0].objects[1].object.stringData.password | type == "string"' >/dev/null; then
	ok "a Secret's values stay masked in the JSON document"
else
	fail "a Secret's values stay masked in the JSON document" "$(show)"
fi
if contains "$ERR" "commit $HEAD" && contains "$ERR" "== Application shop"; then
	ok "the commit and application lines go to stderr"
else
	fail "the commit and application lines go to stderr" "$(show)"
fi

capture "$PLUMB" render --repo "$REPO" --path apps/root --state "$STATE" -o json web
jq_true "render -o json APP lists that application alone" '[.applications[].name] == ["web"]'

# A path without Applications is one implicit application, named by the path.
capture "$PLUMB" render --repo "$REPO" --path apps/web --state "$STATE" -o json
jq_true "an implicit application is listed under its name, its host root /" \
	'[.applications[] | [.name, .destination.host.root, (.objects | length)]] == [["apps/web", "/", 2]]'

# --- YAML ------------------------------------------------------------------------------------

capture "$PLUMB" render --repo "$REPO" --path apps/root --state "$STATE"
expect_rc "render (yaml) of an app of apps exits 0" 0
headings=$(grep -E '^# (Application|Source):' <<<"$OUT")
same_listing "render (yaml) heads each application with a comment naming it, before its documents" \
	"$(printf '%s\n' "# Application: shop" "# Source: apps/shop (kustomize from apps/shop/conf.yaml) ConfigMap/shop-conf:1" \
		"# Source: apps/shop (kustomize from apps/shop/password.yaml) Secret/shop-db:1" "# Application: web" \
		"# Source: apps/web/index.yaml:1" "# Source: apps/web/index.yaml:6")" "$headings"
if ! contains "$OUT" "hunter2-in-git" && [ "$(printf '%s\n' "$OUT" | python3 -c '
import sys, yaml
print(len([d for d in yaml.safe_load_all(sys.stdin) if d is not None]))' 2>&1)" = 4 ]; then
	ok "render (yaml) is four documents, the Secret masked"
else
	fail "render (yaml) is four documents, the Secret masked" "$(show)"
fi

# --- an application that fails -----------------------------------------------------------------

cat >"$REPO/apps/web/broken.yaml" <<'YAML'
apiVersion: host/v1
kind: File
metadata: {name: broken}
spec: {path: /broken, colour: red}
YAML
commit_all "$REPO" "broken"
capture "$PLUMB" render --repo "$REPO" --path apps/root --state "$STATE" -o json
if [ "$RC" = 1 ] && [ -z "$OUT" ] && contains "$ERR" "apps/web/broken.yaml:"; then
	ok "render -o json with an application that fails exits 1 and prints no document"
else
	fail "render -o json with an application that fails exits 1 and prints no document" "$(show)"
fi

[ "$TAP_FAILED" -eq 0 ]
