#!/usr/bin/env bash
# sync against a real git daemon: first sync, no-change syncs, an edit, a
# prune (unmanaged and adopted objects survive), --revision with a tag and a
# commit id, status, and the bare cache in the state directory.
. "$(dirname "$0")/lib.sh"

BASE="$T/served"
BARE="$BASE/homelab.git"
WORK="$T/work"
ROOT="$T/root"
STATE="$T/state"

# --- the repository ----------------------------------------------------------------------

MOTD='managed by plumb'
README='tool readme'

write_base() {
	mkdir -p "$WORK/manifests"
	cat >"$WORK/manifests/base.yaml" <<EOF
# Files, a directory, a symlink, a tree and an absent path.
apiVersion: host/v1
kind: File
metadata: {name: motd}
spec:
  path: /etc/motd
  content: |
    $MOTD
  mode: "0640"
---
apiVersion: host/v1
kind: File
metadata: {name: sshd}
spec:
  path: /etc/ssh/sshd_config.d/10-plumb.conf
  source: files/ssh/10-plumb.conf
  mode: "0600"
---
apiVersion: host/v1
kind: Directory
metadata: {name: app-dir}
spec: {path: /srv/app, mode: "0750"}
---
apiVersion: host/v1
kind: File
metadata: {name: app-conf}
spec:
  path: /srv/app/app.conf
  content: "listen = 127.0.0.1:8080\n"
---
apiVersion: host/v1
kind: Symlink
metadata: {name: app-conf-link}
spec: {path: /etc/app.conf, target: /srv/app/app.conf}
---
apiVersion: host/v1
kind: Tree
metadata: {name: tool}
spec: {source: files/tool, path: /opt/tool}
---
apiVersion: host/v1
kind: Absent
metadata: {name: no-default-site}
spec: {path: /etc/nginx/sites-enabled/default}
EOF
}

write_repo() {
	write_base
	cat >"$WORK/manifests/extra.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: extra}
spec: {path: /etc/extra.conf, content: "extra\n"}
EOF
	cat >"$WORK/manifests/adopted.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: adopted}
spec: {path: /etc/adopted.conf, content: "adopted by plumb\n"}
EOF
	mkdir -p "$WORK/files/ssh" "$WORK/files/tool/bin" "$WORK/files/tool/conf/nested" "$WORK/files/tool/doc"
	printf 'PasswordAuthentication no\n' >"$WORK/files/ssh/10-plumb.conf"
	printf '#!/bin/sh\necho run\n' >"$WORK/files/tool/bin/run.sh"
	chmod 755 "$WORK/files/tool/bin/run.sh"
	printf '%s\n' "$README" >"$WORK/files/tool/README"
	printf 'deep\n' >"$WORK/files/tool/conf/nested/deep.conf"
	printf 'guide\n' >"$WORK/files/tool/doc/guide.txt"
	ln -s bin/run.sh "$WORK/files/tool/latest"
}

push() {
	git -C "$WORK" push -q origin HEAD:main --tags 2>&1
}

# --- the expected trees, built without plumb ---------------------------------------------

# What the destination holds before plumb: a site to remove, a file plumb
# will adopt, and one it never manages.
seed_root() {
	mkdir -p "$1/etc/nginx/sites-enabled"
	printf 'default site\n' >"$1/etc/nginx/sites-enabled/default"
	printf 'old\n' >"$1/etc/adopted.conf"
	chmod 600 "$1/etc/adopted.conf"
	printf 'keep me\n' >"$1/etc/unrelated"
}

# expected_tree DIR: the destination after a sync of a commit with $MOTD,
# $README and PRUNED=0 (commit 1) or PRUNED=1 (extra, deep.conf, doc/ gone).
expected_tree() {
	local d=$1
	rm -rf "$d"
	mkdir -p "$d"
	seed_root "$d"
	rm "$d/etc/nginx/sites-enabled/default"
	printf 'adopted by plumb\n' >"$d/etc/adopted.conf" # mode 0600 kept
	printf '%s\n' "$MOTD" >"$d/etc/motd"
	chmod 640 "$d/etc/motd"
	mkdir -p "$d/etc/ssh/sshd_config.d"
	printf 'PasswordAuthentication no\n' >"$d/etc/ssh/sshd_config.d/10-plumb.conf"
	chmod 600 "$d/etc/ssh/sshd_config.d/10-plumb.conf"
	mkdir -p "$d/srv/app"
	chmod 750 "$d/srv/app"
	printf 'listen = 127.0.0.1:8080\n' >"$d/srv/app/app.conf"
	ln -s /srv/app/app.conf "$d/etc/app.conf"
	mkdir -p "$d/opt/tool/bin"
	printf '#!/bin/sh\necho run\n' >"$d/opt/tool/bin/run.sh"
	chmod 755 "$d/opt/tool/bin/run.sh"
	printf '%s\n' "$README" >"$d/opt/tool/README"
	ln -s bin/run.sh "$d/opt/tool/latest"
	if [ "${PRUNED:-0}" = 0 ]; then
		printf 'extra\n' >"$d/etc/extra.conf"
		mkdir -p "$d/opt/tool/conf/nested" "$d/opt/tool/doc"
		printf 'deep\n' >"$d/opt/tool/conf/nested/deep.conf"
		printf 'guide\n' >"$d/opt/tool/doc/guide.txt"
	fi
}

# Files nobody declares, placed next to managed ones before the prune.
add_unmanaged() {
	mkdir -p "$1/opt/tool/conf/nested"
	printf 'mine\n' >"$1/etc/extra.conf.local"
	printf 'mine\n' >"$1/opt/tool/conf/nested/mine.txt"
	printf 'mine\n' >"$1/opt/tool/unmanaged.txt"
}

# stat_listing without FILE, and with only the inode of FILE's folder.
stat_listing_except() {
	local file=$1 parent
	parent=$(dirname "$file")
	stat_listing "$ROOT" | awk -v f="$file" -v p="$parent" '$1 == f { next } $1 == p { print $1, $2; next } { print }'
}

plumb() {
	capture "$PLUMB" "$@" --state "$STATE"
}

commit_line_is() { # NAME TEXT COMMIT: TEXT's first line is "commit COMMIT ..."
	local first
	first=$(printf '%s\n' "$2" | head -n 1)
	if [[ "$first" =~ ^commit\ [0-9a-f]{40}( |$) ]] && [ "${first:7:40}" = "$3" ]; then
		ok "$1"
	else
		fail "$1" "expected 'commit $3', got: $first"
	fi
}

# --- set up: a bare repository served by git daemon, pushed to from a clone --------------

mkdir -p "$BASE"
git init -q --bare -b main "$BARE"
git clone -q "$BARE" "$WORK" 2>/dev/null
write_repo
commit_all "$WORK" "commit 1: everything"
C1=$(head_of "$WORK")
git -C "$WORK" tag -a v1 -m "version 1"
push >/dev/null
if ! start_git_daemon "$BASE"; then
	fail "git daemon starts"
	exit 1
fi
URL="git://127.0.0.1:$GIT_PORT/homelab.git"
check "the git daemon serves the repository" git ls-remote --exit-code "$URL" refs/heads/main

seed_root "$ROOT"

# --- first sync ---------------------------------------------------------------------------

before=$(tree_listing "$ROOT")
plumb plan --repo "$URL" --root "$ROOT" --detailed-exitcode
expect_rc "plan --detailed-exitcode exits 2 before the first sync" 2
commit_line_is "plan prints the commit it used" "$OUT" "$C1"
same_listing "plan changes nothing on disk" "$before" "$(tree_listing "$ROOT")"

plumb check --repo "$URL"
expect_rc "check of a valid commit exits 0" 0
commit_line_is "check prints the commit it used" "$OUT" "$C1"

plumb sync --repo "$URL" --root "$ROOT"
expect_rc "first sync exits 0" 0
commit_line_is "sync prints the commit it used" "$OUT" "$C1"
if contains "$OUT" "Apply complete" && contains "$OUT" "$C1"; then
	ok "sync reports completion with the commit id"
else
	fail "sync reports completion with the commit id" "$(show)"
fi
expected_tree "$T/expected"
same_listing "first sync creates exactly the expected tree" "$(tree_listing "$T/expected")" "$(tree_listing "$ROOT")"

# The state directory holds a bare cache of the URL, with the commit in it.
cache=$(find "$STATE/repos" -mindepth 1 -maxdepth 1 2>/dev/null)
digest=$(printf '%s' "$URL" | sha256sum | cut -d' ' -f1)
if [ "$(printf '%s\n' "$cache" | grep -c .)" = 1 ] &&
	[ "$(git --git-dir="$cache" rev-parse --is-bare-repository 2>/dev/null)" = true ] &&
	git --git-dir="$cache" cat-file -e "$C1^{commit}" 2>/dev/null; then
	ok "STATE/repos holds one bare cache with the synced commit"
else
	fail "STATE/repos holds one bare cache with the synced commit" "$(ls -la "$STATE" "$STATE/repos" 2>&1)"
fi
case "$(basename "$cache")" in
"$digest"*) ok "the cache is named after the SHA-256 of the URL" ;;
*) fail "the cache is named after the SHA-256 of the URL" "cache: $cache" "sha256: $digest" ;;
esac
if [ ! -e "$cache/index" ] && [ ! -e "$cache/.git" ]; then
	ok "the cache has no work tree"
else
	fail "the cache has no work tree" "$(ls -la "$cache")"
fi

plumb plan --repo "$URL" --root "$ROOT" --detailed-exitcode
expect_rc "plan --detailed-exitcode exits 0 after the sync" 0
if contains "$OUT" "No changes"; then ok "plan after the sync says No changes"; else fail "plan after the sync says No changes" "$(show)"; fi

stats=$(stat_listing "$ROOT")
plumb sync --repo "$URL" --root "$ROOT"
expect_rc "second sync exits 0" 0
if contains "$OUT" "No changes"; then ok "second sync reports No changes"; else fail "second sync reports No changes" "$(show)"; fi
commit_line_is "second sync prints the commit it used" "$OUT" "$C1"
same_listing "second sync touches nothing (inodes and mtimes)" "$stats" "$(stat_listing "$ROOT")"

# --- status --------------------------------------------------------------------------------

plumb status --root "$ROOT"
expect_rc "status exits 0" 0
missing=
for p in /etc/motd /etc/ssh/sshd_config.d/10-plumb.conf /srv/app /srv/app/app.conf /etc/app.conf /opt/tool \
	/opt/tool/bin /opt/tool/bin/run.sh /opt/tool/README /opt/tool/latest /opt/tool/conf/nested/deep.conf \
	/opt/tool/doc/guide.txt /etc/extra.conf /etc/adopted.conf; do
	grep -qE "(^|[[:space:]])$p([[:space:]]|$)" <<<"$OUT" || missing="$missing $p"
done
if [ -z "$missing" ]; then ok "status lists every managed object"; else fail "status lists every managed object" "missing:$missing" "$(show)"; fi
if grep -qE "(^|[[:space:]])/etc/(unrelated|nginx/sites-enabled/default)([[:space:]]|$)" <<<"$OUT"; then
	fail "status does not list unmanaged or absent paths" "$(show)"
else
	ok "status does not list unmanaged or absent paths"
fi
if contains "$OUT" "$C1"; then ok "status shows the last commit"; else fail "status shows the last commit" "$(show)"; fi
if grep -E '(^|[[:space:]])/etc/adopted.conf([[:space:]]|$)' <<<"$OUT" | grep -q adopted &&
	grep -E '(^|[[:space:]])/etc/motd([[:space:]]|$)' <<<"$OUT" | grep -q created; then
	ok "status tells adopted objects from created ones"
else
	fail "status tells adopted objects from created ones" "$(show)"
fi

# --- a commit editing one file of the Tree ------------------------------------------------

README='tool readme, second edition'
printf '%s\n' "$README" >"$WORK/files/tool/README"
commit_all "$WORK" "commit 2: edit the tool's README"
C2=$(head_of "$WORK")
push >/dev/null
stats=$(stat_listing_except opt/tool/README)
plumb sync --repo "$URL" --root "$ROOT"
expect_rc "sync of an edit exits 0" 0
commit_line_is "sync of an edit prints the new commit" "$OUT" "$C2"
if contains "$OUT" "updated File /opt/tool/README" && contains "$OUT" "0 created, 1 updated, 0 deleted"; then
	ok "sync of an edit updates one file"
else
	fail "sync of an edit updates one file" "$(show)"
fi
expected_tree "$T/expected"
same_listing "after the edit the tree is exactly the expected one" "$(tree_listing "$T/expected")" "$(tree_listing "$ROOT")"
same_listing "every other object keeps its inode and mtime (Tree edit)" "$stats" "$(stat_listing_except opt/tool/README)"

# --- a commit editing inline content in a manifest ----------------------------------------

MOTD='managed by plumb, edited'
write_base
commit_all "$WORK" "commit 3: edit the motd"
C3=$(head_of "$WORK")
push >/dev/null
stats=$(stat_listing_except etc/motd)
plumb sync --repo "$URL" --root "$ROOT"
expect_rc "sync of an inline edit exits 0" 0
commit_line_is "sync of an inline edit prints the new commit" "$OUT" "$C3"
if contains "$OUT" "0 created, 1 updated, 0 deleted"; then
	ok "sync of an inline edit updates one object"
else
	fail "sync of an inline edit updates one object" "$(show)"
fi
expected_tree "$T/expected"
same_listing "after the inline edit the tree is exactly the expected one" "$(tree_listing "$T/expected")" "$(tree_listing "$ROOT")"
same_listing "every other object keeps its inode and mtime (inline edit)" "$stats" "$(stat_listing_except etc/motd)"

# --- a commit removing resources: prune ----------------------------------------------------

add_unmanaged "$ROOT"
git -C "$WORK" rm -q -r manifests/extra.yaml manifests/adopted.yaml files/tool/conf files/tool/doc
commit_all "$WORK" "commit 4: remove extra, adopted, conf/ and doc/"
C4=$(head_of "$WORK")
push >/dev/null
plumb plan --repo "$URL" --root "$ROOT"
expect_rc "plan of the prune exits 0" 0
if grep -qE '^- File /etc/extra.conf' <<<"$OUT" && grep -qE '^- File /opt/tool/doc/guide.txt' <<<"$OUT" &&
	! grep -qE '^- [A-Za-z]+ /etc/adopted.conf' <<<"$OUT"; then
	ok "plan shows the prune of created objects only"
else
	fail "plan shows the prune of created objects only" "$(show)"
fi
if grep -E '/etc/adopted.conf' <<<"$OUT" | grep -q 'left in place'; then
	ok "plan says the adopted file is left in place"
else
	fail "plan says the adopted file is left in place" "$(show)"
fi
plumb sync --repo "$URL" --root "$ROOT"
expect_rc "sync of the prune exits 0" 0
commit_line_is "sync of the prune prints the new commit" "$OUT" "$C4"
PRUNED=1 expected_tree "$T/expected"
add_unmanaged "$T/expected"
same_listing "prune removes exactly what plumb created and git dropped" "$(tree_listing "$T/expected")" "$(tree_listing "$ROOT")"
if [ -f "$ROOT/etc/adopted.conf" ] && [ ! -e "$ROOT/etc/extra.conf" ] && [ -f "$ROOT/etc/extra.conf.local" ] &&
	[ -f "$ROOT/opt/tool/conf/nested/mine.txt" ] && [ -f "$ROOT/opt/tool/unmanaged.txt" ] && [ ! -e "$ROOT/opt/tool/doc" ]; then
	ok "adopted and unmanaged files survive the prune, emptied folders go"
else
	fail "adopted and unmanaged files survive the prune, emptied folders go" "$(tree_listing "$ROOT")"
fi
plumb plan --repo "$URL" --root "$ROOT" --detailed-exitcode
expect_rc "plan after the prune exits 0" 0

plumb status --root "$ROOT"
if contains "$OUT" "$C4" && ! grep -qE '(^|[[:space:]])/etc/extra.conf([[:space:]]|$)' <<<"$OUT"; then
	ok "status after the prune shows the new commit and not the pruned file"
else
	fail "status after the prune shows the new commit and not the pruned file" "$(show)"
fi

# --- --revision ----------------------------------------------------------------------------

plumb sync --repo "$URL" --root "$ROOT" --revision v1
expect_rc "sync --revision TAG exits 0" 0
commit_line_is "sync --revision TAG prints the tagged commit" "$OUT" "$C1"
MOTD='managed by plumb' README='tool readme' expected_tree "$T/expected"
add_unmanaged "$T/expected"
same_listing "sync --revision TAG gives the tree of that commit" "$(tree_listing "$T/expected")" "$(tree_listing "$ROOT")"

plumb sync --repo "$URL" --root "$ROOT" --revision "$C2"
expect_rc "sync --revision COMMIT exits 0" 0
commit_line_is "sync --revision COMMIT prints that commit" "$OUT" "$C2"
MOTD='managed by plumb' expected_tree "$T/expected"
add_unmanaged "$T/expected"
same_listing "sync --revision COMMIT gives the tree of that commit" "$(tree_listing "$T/expected")" "$(tree_listing "$ROOT")"

plumb sync --repo "$URL" --root "$ROOT" --revision main
expect_rc "sync --revision BRANCH exits 0" 0
commit_line_is "sync --revision BRANCH prints the branch head" "$OUT" "$C4"
PRUNED=1 expected_tree "$T/expected"
add_unmanaged "$T/expected"
same_listing "sync --revision BRANCH gives the tree of its head" "$(tree_listing "$T/expected")" "$(tree_listing "$ROOT")"

plumb render --repo "$URL" --revision v1
expect_rc "render --revision TAG exits 0" 0
commit_line_is "render prints the commit it used on stderr" "$ERR" "$C1"
