#!/usr/bin/env bash
# Submodules of a private repository, over HTTPS (nginx, git http-backend, basic authentication,
# a CA made here): without asking, a submodule is not read; with --submodules, an Application's
# source.submodules: true, or submodules: true in serve.yaml, it is fetched with the same credentials (its relative
# URL taken against the repository's) and its files are synced like any folder's; a new commit
# of the submodule named by the repository is fetched and synced. The token shows nowhere.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"
trap serve_cleanup EXIT

TOKEN="plumb-e2e-submodule-token-$RANDOM$RANDOM"
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy NO_PROXY no_proxy

make_ca "$T/ca" && make_server_cert "$T/certs" "$T/ca" || { fail "openssl makes a CA and a certificate"; exit 1; }
mkdir -p "$T/srv"

# The submodule: a folder of files.
make_repo "$T/lib"
mkdir -p "$T/lib/conf"
printf 'lib v1\n' >"$T/lib/conf/lib.conf"
commit_all "$T/lib" "lib v1"
git clone -q --bare "$T/lib" "$T/srv/lib.git"

# The repository: a Tree of the submodule's folder, and an Application that asks for submodules.
make_repo "$T/site"
mkdir -p "$T/site/host" "$T/site/apps"
cat >"$T/site/host/tree.yaml" <<'YAML'
apiVersion: host/v1
kind: Tree
metadata: {name: lib}
spec: {source: vendor/lib/conf, path: /etc/lib}
YAML
cat >"$T/site/apps/app.yaml" <<'YAML'
apiVersion: plumb/v1
kind: Application
metadata: {name: lib}
spec:
  source: {path: host, submodules: true}
YAML
printf '[submodule "lib"]\n\tpath = vendor/lib\n\turl = ../lib.git\n' >"$T/site/.gitmodules"
# The gitlink goes into the index by hand (there is no checkout of the submodule), so commits
# take the index as it is rather than what "git add -A" would make of the work tree.
commit_index() { git -C "$T/site" commit -q --no-verify -m "$1"; }
link_lib() { git -C "$T/site" update-index --add --cacheinfo "160000,$(head_of "$T/lib"),vendor/lib"; }
git -C "$T/site" add -A
link_lib
commit_index "site with the lib submodule"
git clone -q --bare "$T/site" "$T/srv/site.git"

start_https_git "$T/srv" deploy "$TOKEN" "$T/certs" || { fail "nginx serves git over TLS"; exit 1; }
URL="https://127.0.0.1:$HTTPS_PORT/site.git"
printf '%s\n' "$TOKEN" >"$T/token"
cat >"$T/credentials.yaml" <<YAML
credentials:
  - url: https://127.0.0.1:$HTTPS_PORT/
    username: deploy
    password: {file: $T/token}
    caFile: $T/ca/ca.pem
YAML

run_plumb plan --repo "$URL" --credentials "$T/credentials.yaml" --path host --root "$T/root" --state "$T/state"
if [ "$RC" -ne 0 ] && contains "$ERR" "spec.source: 'vendor/lib/conf' lies in the submodule vendor/lib, which is read only when asked"; then
	ok "without --submodules a submodule is not read, and the error says which and how to ask"
else
	fail "without --submodules a submodule is not read, and the error says which and how to ask" "$(show)"
fi

run_plumb sync --repo "$URL" --credentials "$T/credentials.yaml" --submodules --path host --root "$T/root" \
	--state "$T/state"
if [ "$RC" = 0 ] && [ "$(cat "$T/root/etc/lib/lib.conf" 2>/dev/null)" = "lib v1" ]; then
	ok "--submodules: the submodule is fetched with the same credentials and its folder synced"
else
	fail "--submodules: the submodule is fetched with the same credentials and its folder synced" "$(show)"
fi
if [ "$(ls -d "$T"/state/repos/*.git | wc -l)" = 2 ]; then
	ok "the submodule has a fetch cache of its own"
else
	fail "the submodule has a fetch cache of its own" "$(ls "$T/state/repos")"
fi

# A new commit of the submodule, named by a new commit of the repository.
printf 'lib v2\n' >"$T/lib/conf/lib.conf"
commit_all "$T/lib" "lib v2"
git -C "$T/lib" push -q "$T/srv/lib.git" main
link_lib
commit_index "lib v2"
git -C "$T/site" push -q "$T/srv/site.git" main
run_plumb sync --repo "$URL" --credentials "$T/credentials.yaml" --submodules --path host --root "$T/root" \
	--state "$T/state"
if [ "$RC" = 0 ] && [ "$(cat "$T/root/etc/lib/lib.conf" 2>/dev/null)" = "lib v2" ]; then
	ok "a new submodule commit is fetched and synced"
else
	fail "a new submodule commit is fetched and synced" "$(show)"
fi

# A commit of the submodule that is on none of its branches cannot be fetched: said so.
git -C "$T/lib" commit -q --allow-empty -m "never pushed"
link_lib
commit_index "a commit the submodule's server lacks"
git -C "$T/site" push -q "$T/srv/site.git" main
run_plumb plan --repo "$URL" --credentials "$T/credentials.yaml" --submodules --path host --root "$T/root" \
	--state "$T/state"
if [ "$RC" -ne 0 ] && contains "$ERR" "submodule vendor/lib: commit $(head_of "$T/lib" | cut -c1-12) is on no branch or tag"; then
	ok "a submodule commit its server lacks: the plan fails and says which"
else
	fail "a submodule commit its server lacks: the plan fails and says which" "$(show)"
fi
git -C "$T/site" reset -q --hard HEAD~1
git -C "$T/site" push -q -f "$T/srv/site.git" main

# An Application that asks for its submodules.
run_plumb sync --repo "$URL" --credentials "$T/credentials.yaml" --path apps --root "$T/root-app" --state "$T/state-app"
if [ "$RC" = 0 ] && [ "$(cat "$T/root-app/etc/lib/lib.conf" 2>/dev/null)" = "lib v2" ]; then
	ok "an Application with source.submodules: true reads its submodules"
else
	fail "an Application with source.submodules: true reads its submodules" "$(show)"
fi

# plumb serve with submodules: true for its implicit application.
cat >"$T/serve.yaml" <<YAML
repo: $URL
path: host
root: $T/root-serve
state: $T/state-serve
interval: 10m
self-heal-interval: 10m
submodules: true
credentials:
  - url: https://127.0.0.1:$HTTPS_PORT/
    username: deploy
    password: {file: $T/token}
    caFile: $T/ca/ca.pem
YAML
DLOG[serve]="$T/serve.log"
"$PLUMB" serve --config "$T/serve.yaml" --listen 127.0.0.1:0 2>"${DLOG[serve]}" &
DPID[serve]=$!
synced() { [ "$(cat "$T/root-serve/etc/lib/lib.conf" 2>/dev/null)" = "lib v2" ]; }
if wait_for 60000 synced; then ok "plumb serve with submodules: true syncs the submodule's folder"; else
	fail "plumb serve with submodules: true syncs the submodule's folder" "$(log_tail serve)"; fi
stop_and_check serve

leaks=$(grep -rl -F -e "$TOKEN" "$ALL_OUT" "$T"/serve.log "$T"/state* 2>/dev/null)
if [ -z "$leaks" ]; then ok "the token shows in no output and no state directory"; else
	fail "the token shows in no output and no state directory" "$leaks"; fi

[ "$TAP_FAILED" -eq 0 ]
