#!/usr/bin/env bash
# sync from local repositories: a work tree by path, a bare repository by
# path, and a file:// URL. Each goes through the same flow: first sync,
# no-change sync, an edit, a prune with unmanaged files left alone. Then
# --path naming a folder and a single file, YAML inside a Tree's source
# that must be mirrored as content, and a File source beside its manifest.
. "$(dirname "$0")/lib.sh"

INDEX='<h1>hello</h1>'

write_web() {
	local w=$1
	mkdir -p "$w/apps/web/site" "$w/apps/web/conf/sub"
	cat >"$w/apps/web/web.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: web-index}
spec: {path: /srv/web/index.html, source: apps/web/site/index.html, mode: "0644"}
---
apiVersion: host/v1
kind: Directory
metadata: {name: web-logs}
spec: {path: /var/log/web, mode: "0700"}
---
apiVersion: host/v1
kind: Tree
metadata: {name: web-conf}
spec: {source: apps/web/conf, path: /etc/web}
---
apiVersion: host/v1
kind: Symlink
metadata: {name: web-current}
spec: {path: /srv/current, target: web}
EOF
	printf '%s\n' "$INDEX" >"$w/apps/web/site/index.html"
	# Content, not manifests: a broken YAML file and two valid-looking ones.
	printf 'key: [unclosed\n  - : :\n\t"bad\n' >"$w/apps/web/conf/broken.yaml"
	cat >"$w/apps/web/conf/fake.yml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: not-a-manifest}
spec: {path: /etc/not-applied, content: "no\n"}
EOF
	cat >"$w/apps/web/conf/sub/inner.yaml" <<'EOF'
apiVersion: host/v1
kind: Directory
metadata: {name: inner}
spec: {path: /not-applied-either}
EOF
	printf '#!/bin/sh\nexec true\n' >"$w/apps/web/conf/run.sh"
	chmod 755 "$w/apps/web/conf/run.sh"
}

write_db() { # DIR WITH_EXTRA
	mkdir -p "$1/apps/db"
	cat >"$1/apps/db/db.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: db-conf}
spec:
  path: /srv/db/db.conf
  content: |
    port = 5432
  mode: "0600"
EOF
	if [ "$2" = 1 ]; then
		cat >>"$1/apps/db/db.yaml" <<'EOF'
---
apiVersion: host/v1
kind: File
metadata: {name: db-extra}
spec: {path: /srv/db/extra.conf, content: "extra\n"}
EOF
	fi
}

expected_web() {
	local d=$1
	mkdir -p "$d/srv/web" "$d/var/log/web" "$d/etc/web/sub"
	printf '%s\n' "$INDEX" >"$d/srv/web/index.html"
	chmod 700 "$d/var/log/web"
	cp "$SRC/apps/web/conf/broken.yaml" "$SRC/apps/web/conf/fake.yml" "$SRC/apps/web/conf/run.sh" "$d/etc/web/"
	cp "$SRC/apps/web/conf/sub/inner.yaml" "$d/etc/web/sub/"
	chmod 644 "$d/etc/web/broken.yaml" "$d/etc/web/fake.yml" "$d/etc/web/sub/inner.yaml"
	chmod 755 "$d/etc/web/run.sh"
	ln -s web "$d/srv/current"
}

expected_db() { # DIR WITH_EXTRA
	mkdir -p "$1/srv/db"
	printf 'port = 5432\n' >"$1/srv/db/db.conf"
	chmod 600 "$1/srv/db/db.conf"
	[ "$2" = 1 ] && printf 'extra\n' >"$1/srv/db/extra.conf"
	return 0
}

# The reference content, kept apart from the repositories the flows change.
SRC="$T/src"
write_web "$SRC"

plumb() {
	capture "$PLUMB" "$@"
}

# flow LABEL REPO_ARG WORK PUBLISH: WORK is where commits are made, PUBLISH
# (a command, or "true") makes them visible at REPO_ARG.
flow() {
	local label=$1 repo=$2 work=$3 publish=$4
	local root="$T/run-$label/root" state="$T/run-$label/state" exp="$T/run-$label/expected" stats c1 c2 c3
	mkdir -p "$T/run-$label"
	INDEX='<h1>hello</h1>'
	write_web "$work"
	write_db "$work" 1
	commit_all "$work" "$label: first"
	c1=$(head_of "$work")
	$publish

	plumb sync --repo "$repo" --root "$root" --state "$state"
	expect_rc "$label: first sync exits 0" 0
	if contains "$OUT" "commit $c1"; then ok "$label: sync prints the commit"; else fail "$label: sync prints the commit" "$(show)"; fi
	mkdir -p "$exp"
	expected_web "$exp"
	expected_db "$exp" 1
	same_listing "$label: first sync creates exactly the expected tree" "$(tree_listing "$exp")" "$(tree_listing "$root")"
	if [ ! -e "$root/etc/not-applied" ] && [ ! -e "$root/not-applied-either" ]; then
		ok "$label: YAML inside a Tree's source is not read as manifests"
	else
		fail "$label: YAML inside a Tree's source is not read as manifests" "$(tree_listing "$root")"
	fi

	plumb plan --repo "$repo" --root "$root" --state "$state" --detailed-exitcode
	expect_rc "$label: plan --detailed-exitcode exits 0 after the sync" 0

	stats=$(stat_listing "$root")
	plumb sync --repo "$repo" --root "$root" --state "$state"
	if [ "$RC" = 0 ] && contains "$OUT" "No changes"; then
		ok "$label: second sync reports No changes"
	else
		fail "$label: second sync reports No changes" "$(show)"
	fi
	same_listing "$label: second sync touches nothing" "$stats" "$(stat_listing "$root")"

	# An edit of one file.
	INDEX='<h1>hello again</h1>'
	printf '%s\n' "$INDEX" >"$work/apps/web/site/index.html"
	commit_all "$work" "$label: edit index.html"
	c2=$(head_of "$work")
	$publish
	stats=$(stat_listing "$root" | grep -vE '^srv/web(/index.html)? ')
	plumb sync --repo "$repo" --root "$root" --state "$state"
	if [ "$RC" = 0 ] && contains "$OUT" "commit $c2" && contains "$OUT" "0 created, 1 updated, 0 deleted"; then
		ok "$label: sync of an edit updates one file"
	else
		fail "$label: sync of an edit updates one file" "$(show)"
	fi
	rm -rf "$exp" && mkdir -p "$exp"
	expected_web "$exp"
	expected_db "$exp" 1
	same_listing "$label: after the edit the tree is exactly the expected one" "$(tree_listing "$exp")" "$(tree_listing "$root")"
	same_listing "$label: every other object keeps its inode and mtime" "$stats" \
		"$(stat_listing "$root" | grep -vE '^srv/web(/index.html)? ')"

	# A prune, with unmanaged files next to the pruned one and inside the Tree.
	printf 'mine\n' >"$root/srv/db/local.conf"
	printf 'mine\n' >"$root/etc/web/local.yaml"
	write_db "$work" 0
	commit_all "$work" "$label: drop db-extra"
	c3=$(head_of "$work")
	$publish
	plumb sync --repo "$repo" --root "$root" --state "$state"
	if [ "$RC" = 0 ] && contains "$OUT" "commit $c3" && contains "$OUT" "0 created, 0 updated, 1 deleted"; then
		ok "$label: sync of a removal prunes one file"
	else
		fail "$label: sync of a removal prunes one file" "$(show)"
	fi
	rm -rf "$exp" && mkdir -p "$exp"
	expected_web "$exp"
	expected_db "$exp" 0
	printf 'mine\n' >"$exp/srv/db/local.conf"
	printf 'mine\n' >"$exp/etc/web/local.yaml"
	same_listing "$label: the prune removes exactly the dropped file" "$(tree_listing "$exp")" "$(tree_listing "$root")"

	# What is not committed does not count.
	if [ "$work" = "$repo" ] || [ "file://$work" = "$repo" ]; then
		printf 'uncommitted\n' >"$work/apps/web/site/index.html"
		printf 'not: [valid\n' >"$work/apps/untracked.yaml"
		plumb plan --repo "$repo" --root "$root" --state "$state" --detailed-exitcode
		expect_rc "$label: uncommitted changes in the work tree are ignored" 0
		git -C "$work" checkout -q -- apps/web/site/index.html
		rm -f "$work/apps/untracked.yaml"
	fi
	LAST_STATE=$state
}

# 1. A work tree, by path: the state directory is not used for a cache.
make_repo "$T/worktree"
flow worktree "$T/worktree" "$T/worktree" true
if [ ! -e "$LAST_STATE/repos" ]; then
	ok "worktree: a local path is read in place, without a cache"
else
	fail "worktree: a local path is read in place, without a cache" "$(ls -la "$LAST_STATE/repos")"
fi

# 2. A bare repository, by path, pushed to from a clone.
git init -q --bare -b main "$T/bare.git"
git clone -q "$T/bare.git" "$T/bare-work" 2>/dev/null
publish_bare() { git -C "$T/bare-work" push -q origin HEAD:main 2>/dev/null; }
flow bare "$T/bare.git" "$T/bare-work" publish_bare

# 3. A file:// URL of a work tree: fetched into a cache.
make_repo "$T/urlrepo"
flow url "file://$T/urlrepo" "$T/urlrepo" true
if [ -d "$LAST_STATE/repos" ] && [ -n "$(ls -A "$LAST_STATE/repos")" ]; then
	ok "url: a file:// URL is fetched into STATE/repos"
else
	fail "url: a file:// URL is fetched into STATE/repos" "$(ls -la "$LAST_STATE" 2>&1)"
fi

# --- --path ----------------------------------------------------------------------------------

REPO="$T/worktree"
INDEX='<h1>hello again</h1>'
write_web "$SRC"

plumb sync --repo "$REPO" --path apps/web --root "$T/p1" --state "$T/pstate"
expect_rc "--path FOLDER: sync exits 0" 0
rm -rf "$T/exp" && mkdir -p "$T/exp"
expected_web "$T/exp"
same_listing "--path FOLDER: only that folder's resources are synced" "$(tree_listing "$T/exp")" "$(tree_listing "$T/p1")"

plumb sync --repo "$REPO" --path apps/db/db.yaml --root "$T/p2" --state "$T/pstate"
expect_rc "--path FILE: sync exits 0" 0
rm -rf "$T/exp" && mkdir -p "$T/exp"
expected_db "$T/exp" 0
same_listing "--path FILE: only that file's resources are synced" "$(tree_listing "$T/exp")" "$(tree_listing "$T/p2")"

plumb render --repo "$REPO" --path apps/web/conf/broken.yaml -o json
if [ "$RC" = 1 ] && contains "$ERR" "apps/web/conf/broken.yaml:"; then
	ok "--path naming the broken content file reads it as a manifest and fails"
else
	fail "--path naming the broken content file reads it as a manifest and fails" "$(show)"
fi

plumb render --repo "$REPO" -o json
names=$(printf '%s\n' "$OUT" | jq -r '[.applications[].objects[].object.metadata.name] | sort | join(" ")')
if [ "$RC" = 0 ] && [ "$names" = "db-conf web-conf web-current web-index web-logs" ]; then
	ok "render reads every manifest and no content file"
else
	fail "render reads every manifest and no content file" "names: $names" "$(show)"
fi

# --- a File whose source lies beside its manifest ------------------------------------------
# apps/cache/cache.yaml declares a File with source apps/cache/cache.conf. The
# manifest is not content just because its folder holds a source file: it
# must stay loaded when a second, unrelated manifest appears.
make_repo "$T/beside"
mkdir -p "$T/beside/apps/cache" "$T/beside/apps/web"
cat >"$T/beside/apps/cache/cache.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: cache-conf}
spec: {path: /etc/cache.conf, source: apps/cache/cache.conf}
EOF
printf 'size = 64m\n' >"$T/beside/apps/cache/cache.conf"
commit_all "$T/beside" "a source beside its manifest"
plumb sync --repo "$T/beside" --root "$T/beside-root" --state "$T/beside-state"
mkdir -p "$T/beside-exp/etc"
printf 'size = 64m\n' >"$T/beside-exp/etc/cache.conf"
expect_rc "source beside its manifest: first sync exits 0" 0
same_listing "source beside its manifest: first sync creates the file" \
	"$(tree_listing "$T/beside-exp")" "$(tree_listing "$T/beside-root")"

cat >"$T/beside/apps/web/web.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: web}
spec: {path: /etc/web.conf, content: "web\n"}
EOF
commit_all "$T/beside" "an unrelated second manifest"
plumb sync --repo "$T/beside" --root "$T/beside-root" --state "$T/beside-state"
printf 'web\n' >"$T/beside-exp/etc/web.conf"
expect_rc "source beside its manifest: second sync exits 0" 0
if contains "$OUT" "1 created, 0 updated, 0 deleted"; then
	ok "source beside its manifest: adding an unrelated manifest creates it and prunes nothing"
else
	fail "source beside its manifest: adding an unrelated manifest creates it and prunes nothing" "$(show)"
fi
same_listing "source beside its manifest: the manifest stays loaded when another is added" \
	"$(tree_listing "$T/beside-exp")" "$(tree_listing "$T/beside-root")"
