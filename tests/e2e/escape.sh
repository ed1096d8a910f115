#!/usr/bin/env bash
# No path ever escapes the destination root. A sentinel directory outside
# the root ($T/outside) is recorded before anything runs; after every case
# it must be byte for byte, inode for inode and mtime for mtime what it was,
# and nothing new may appear anywhere in $T outside the root, the state
# directory and the repository.
#
# Cases: a File source that is a symlink in the repository; a Tree source
# that is a symlink to a folder outside; a Tree holding symlinks to files
# outside (mirrored as link text, never read); '..' in spec.path; a managed
# directory replaced by a symlink to outside (plan, sync, prune); Symlink
# resources pointing outside, later replaced by Files; Absent on a symlink
# to a directory outside; and the other kinds meeting a planted symlink.
#
# Whatever could be written through a link by a faulty plumb points into
# the sentinel, never at a real system file: the tests run as root.
. "$(dirname "$0")/lib.sh"

REPO="$T/repo"
ROOT="$T/box/root"
STATE="$T/state"
OUTSIDE="$T/outside"
EXP="$T/exp"
MARKER='outside-secret-5d1c0e77: never to be read by plumb'

make_repo "$REPO"
mkdir -p "$T/box" "$OUTSIDE/sub"
printf '%s\n' "$MARKER" >"$OUTSIDE/secret"
printf 'v1\n' >"$OUTSIDE/app.conf" # what plumb writes to /etc/app/app.conf below
printf 'deep\n' >"$OUTSIDE/sub/deep.txt"
chmod 0640 "$OUTSIDE/sub/deep.txt"
touch -d '2020-01-02 03:04:05' "$OUTSIDE/secret" "$OUTSIDE/app.conf" "$OUTSIDE/sub/deep.txt" "$OUTSIDE/sub" "$OUTSIDE"

PASSWD_LINE=$(head -n 1 /etc/passwd)
SHADOW_SHA=
if [ -r /etc/shadow ]; then
	SHADOW_SHA=$(sha256sum </etc/shadow | cut -d' ' -f1)
fi

# Everything about the sentinel: content, modes, owners, inodes, mtimes and
# ctimes, the directory itself included; and the system files named by links.
outside_snapshot() {
	tree_listing "$OUTSIDE"
	stat_listing "$OUTSIDE"
	(cd "$OUTSIDE" && find . -printf '%p %i %m %U:%G %T@ %C@\n' | sort)
	stat -c '%n %i %s %Y %Z' /etc/passwd
	[ -e /etc/shadow ] && stat -c '%n %i %s %Y %Z' /etc/shadow
	return 0
}

# What lies in $T besides the root, the state, the repository, the sentinel,
# the expected trees and the harness's own files.
stray_listing() {
	find "$T" -mindepth 1 \( -path "$ROOT" -o -path "$STATE" -o -path "$REPO" -o -path "$OUTSIDE" \
		-o -path "$T/home" -o -path "$EXP" -o -path "$T/.out" -o -path "$T/.err" -o -path "$T/.check.log" \) \
		-prune -o -printf '%P %y\n' | sort
}

OUTSIDE0=$(outside_snapshot)
STRAY0=$(stray_listing)

nothing_escaped() {
	same_listing "$1: the directory outside the root is untouched" "$OUTSIDE0" "$(outside_snapshot)"
	same_listing "$1: nothing appeared outside the root" "$STRAY0" "$(stray_listing)"
}

# No secret from outside in what plumb printed, nor in its state or the root.
no_leak() {
	local name=$1 where=""
	contains "$OUT$ERR" "$PASSWD_LINE" && where="$where output:/etc/passwd"
	contains "$OUT$ERR" "$MARKER" && where="$where output:sentinel"
	if [ -d "$STATE" ] && grep -rqaF -e "$PASSWD_LINE" -e "$MARKER" "$STATE"; then
		where="$where state"
	fi
	if [ -d "$ROOT" ] && grep -rqaF -e "$PASSWD_LINE" -e "$MARKER" "$ROOT"; then
		where="$where root"
	fi
	if [ -z "$where" ]; then
		ok "$name"
	else
		fail "$name" "content from outside the root found in:$where" # never print it
	fi
}

fresh() {
	rm -rf "$ROOT" "$STATE" "$EXP"
}

# clear_repo: empty the repository's work tree; the caller writes the new
# content to $REPO and commits it with commit_repo.
clear_repo() {
	find "$REPO" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
}

commit_repo() {
	commit_all "$REPO" "$1"
}

plumb() {
	capture "$PLUMB" "$@"
}

p() { # COMMAND [ARGS...]: run a command against $REPO, $ROOT and $STATE
	local cmd=$1
	shift
	case $cmd in
	check | render) plumb "$cmd" --repo "$REPO" "$@" ;;
	*) plumb "$cmd" --repo "$REPO" --root "$ROOT" --state "$STATE" "$@" ;;
	esac
}

root_empty() {
	[ ! -e "$ROOT" ] || [ -z "$(ls -A "$ROOT")" ]
}

# expect NAME RC NEEDLE...: the last capture exited RC and its stderr holds every NEEDLE.
expect() {
	local name=$1 rc=$2 needle
	shift 2
	if [ "$RC" -ne "$rc" ]; then
		fail "$name" "expected exit $rc" "$(show)"
		return
	fi
	for needle in "$@"; do
		if ! contains "$ERR" "$needle"; then
			fail "$name" "stderr lacks: $needle" "$(show)"
			return
		fi
	done
	ok "$name"
}

# --- 1. a File source that is a symlink in the repository ----------------------------------

fresh
clear_repo
mkdir -p "$REPO/files"
ln -s /etc/passwd "$REPO/files/passwd"
ln -s "$OUTSIDE/secret" "$REPO/files/secret"
ln -s ../../outside/secret "$REPO/files/rel" # relative: $T/repo/files/../../outside/secret
cat >"$REPO/links.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: passwd}
spec: {path: /etc/passwd-copy, source: files/passwd}
---
apiVersion: host/v1
kind: File
metadata: {name: secret}
spec:
  path: /etc/secret-copy
  source: files/secret
---
apiVersion: host/v1
kind: File
metadata: {name: rel}
spec:
  path: /etc/rel-copy
  source: files/rel
  mode: "0600"
EOF
commit_repo "file sources that are symlinks"

SRC_ERRORS=(
	"links.yaml:4:40: spec.source: 'files/passwd' is a symlink"
	"links.yaml:11:11: spec.source: 'files/secret' is a symlink"
	"links.yaml:18:11: spec.source: 'files/rel' is a symlink"
)
p check
expect "File source symlink: check exits 1 naming FILE:LINE:COL and the symlink" 1 "${SRC_ERRORS[@]}"
no_leak "File source symlink: check prints no content from outside"
p plan
expect "File source symlink: plan exits 1" 1 "${SRC_ERRORS[@]}"
p sync
expect "File source symlink: sync exits 1 naming FILE:LINE:COL and the symlink" 1 "${SRC_ERRORS[@]}"
no_leak "File source symlink: sync prints and stores no content from outside"
if root_empty; then ok "File source symlink: nothing applied"; else fail "File source symlink: nothing applied" "$(tree_listing "$ROOT")"; fi
p render -o json
if [ "$RC" = 1 ]; then ok "File source symlink: render exits 1"; else fail "File source symlink: render exits 1" "$(show)"; fi
no_leak "File source symlink: render prints no content from outside"

# A folder of the source path that is a symlink: the path does not exist in git.
clear_repo
ln -s /etc "$REPO/etc"
cat >"$REPO/via.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: via}
spec: {path: /etc/via, source: etc/passwd}
EOF
commit_repo "a source below a symlinked folder"
p sync
expect "source below a symlinked folder: sync exits 1 naming FILE:LINE:COL" 1 "via.yaml:4:32: spec.source: 'etc/passwd'"
no_leak "source below a symlinked folder: no content from outside"
if root_empty; then ok "source below a symlinked folder: nothing applied"; else fail "source below a symlinked folder: nothing applied" "$(tree_listing "$ROOT")"; fi
nothing_escaped "File source symlink"

# --- 2. a Tree source that is a symlink to a folder outside ---------------------------------

fresh
clear_repo
mkdir -p "$REPO/files"
ln -s /etc "$REPO/files/etc"
ln -s ../../outside "$REPO/files/out"
cat >"$REPO/trees.yaml" <<'EOF'
apiVersion: host/v1
kind: Tree
metadata: {name: etc}
spec: {source: files/etc, path: /etc/copy}
---
apiVersion: host/v1
kind: Tree
metadata: {name: out}
spec: {source: files/out, path: /srv/out}
EOF
commit_repo "tree sources that are symlinks"
# The error must say why: from a checkout, files/etc looks like a folder.
TREE_ERRORS=(
	"trees.yaml:4:16: spec.source: 'files/etc' is a symlink"
	"trees.yaml:9:16: spec.source: 'files/out' is a symlink"
)
p check
expect "Tree source symlink: check exits 1 naming FILE:LINE:COL and the symlink" 1 "${TREE_ERRORS[@]}"
p sync
expect "Tree source symlink: sync exits 1 naming FILE:LINE:COL and the symlink" 1 "${TREE_ERRORS[@]}"
no_leak "Tree source symlink: no content from outside"
if root_empty; then ok "Tree source symlink: nothing applied"; else fail "Tree source symlink: nothing applied" "$(tree_listing "$ROOT")"; fi
nothing_escaped "Tree source symlink"

# --- 3. a Tree holding symlinks to files outside ----------------------------------------------

fresh
clear_repo
mkdir -p "$REPO/conf/sub"
printf 'plain\n' >"$REPO/conf/plain.conf"
ln -s /etc/shadow "$REPO/conf/link"
ln -s "$OUTSIDE/secret" "$REPO/conf/sub/secret-link"
ln -s ../../../../outside "$REPO/conf/sub/dir-link"
cat >"$REPO/tree.yaml" <<'EOF'
apiVersion: host/v1
kind: Tree
metadata: {name: conf}
spec: {source: conf, path: /etc/conf}
EOF
commit_repo "a tree with symlinks out"

expected_links_tree() {
	mkdir -p "$EXP/etc/conf/sub"
	printf 'plain\n' >"$EXP/etc/conf/plain.conf"
	ln -s /etc/shadow "$EXP/etc/conf/link"
	ln -s "$OUTSIDE/secret" "$EXP/etc/conf/sub/secret-link"
	ln -s ../../../../outside "$EXP/etc/conf/sub/dir-link"
}
p sync
expect "Tree with symlinks out: sync exits 0" 0
expected_links_tree
same_listing "Tree with symlinks out: mirrored as symlinks with the exact targets" \
	"$(tree_listing "$EXP")" "$(tree_listing "$ROOT")"
if [ "$(readlink "$ROOT/etc/conf/link")" = /etc/shadow ] && [ -L "$ROOT/etc/conf/link" ]; then
	ok "Tree with symlinks out: the live link reads /etc/shadow"
else
	fail "Tree with symlinks out: the live link reads /etc/shadow" "$(ls -la "$ROOT/etc/conf")"
fi
held=""
if [ -n "$SHADOW_SHA" ]; then
	while IFS= read -r -d '' f; do
		[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$SHADOW_SHA" ] && held="$held ${f#"$ROOT"}"
	done < <(find "$ROOT" -type f -print0)
fi
if [ -z "$held" ]; then
	ok "Tree with symlinks out: no file in the root holds /etc/shadow's content"
else
	fail "Tree with symlinks out: no file in the root holds /etc/shadow's content" "held by:$held"
fi
no_leak "Tree with symlinks out: no content from outside"
p plan --detailed-exitcode
expect "Tree with symlinks out: a second plan has no changes" 0
nothing_escaped "Tree with symlinks out"

# The next commit turns a link into a regular file: the link is replaced,
# nothing is written through it.
rm "$REPO/conf/sub/secret-link"
printf 'now a file\n' >"$REPO/conf/sub/secret-link"
commit_repo "a link becomes a file"
p sync
expect "a mirrored link becomes a file: sync exits 0" 0
rm -rf "$EXP"
expected_links_tree
rm "$EXP/etc/conf/sub/secret-link"
printf 'now a file\n' >"$EXP/etc/conf/sub/secret-link"
same_listing "a mirrored link becomes a file: the link is replaced in the root" \
	"$(tree_listing "$EXP")" "$(tree_listing "$ROOT")"
nothing_escaped "a mirrored link becomes a file"

# A link to the outside directory becomes a folder holding a file. plumb
# may replace its own link or refuse; it must never write through it.
rm "$REPO/conf/sub/dir-link"
mkdir -p "$REPO/conf/sub/dir-link"
printf 'inside\n' >"$REPO/conf/sub/dir-link/app.conf"
commit_repo "a link becomes a folder"
p sync
if [ "$RC" -eq 0 ] && [ -d "$ROOT/etc/conf/sub/dir-link" ] && [ ! -L "$ROOT/etc/conf/sub/dir-link" ] &&
	[ "$(cat "$ROOT/etc/conf/sub/dir-link/app.conf")" = inside ]; then
	ok "a mirrored link becomes a folder: replaced (exit 0)"
elif [ "$RC" -eq 1 ] && contains "$ERR" "/etc/conf/sub/dir-link is a Symlink" &&
	[ "$(readlink "$ROOT/etc/conf/sub/dir-link")" = ../../../../outside ]; then
	ok "a mirrored link becomes a folder: refused, naming the symlink (exit 1)"
else
	fail "a mirrored link becomes a folder: replaced, or refused naming the symlink" "$(show)" "$(tree_listing "$ROOT")"
fi
nothing_escaped "a mirrored link becomes a folder"

# --- 4. '..' in spec.path -------------------------------------------------------------------

fresh
clear_repo
cat >"$REPO/dots.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: up-abs}
spec: {path: /../../outside/x, content: "escaped\n"}
---
apiVersion: host/v1
kind: File
metadata: {name: up-rel}
spec: {path: a/../../b, content: "escaped\n"}
---
apiVersion: host/v1
kind: Directory
metadata: {name: up-dir}
spec:
  path: /etc/../../outside/sub
  mode: "0777"
---
apiVersion: host/v1
kind: Symlink
metadata: {name: up-link}
spec: {path: /srv/.., target: /}
---
apiVersion: host/v1
kind: Absent
metadata: {name: up-absent}
spec: {path: ../outside/secret}
---
apiVersion: host/v1
kind: File
metadata: {name: fine}
spec: {path: /etc/fine, content: "fine\n"}
EOF
commit_repo "paths with .."
DOT_ERRORS=(
	"dots.yaml:4:14: spec.path: path '/../../outside/x' has a '..' component"
	"dots.yaml:9:14: spec.path: path 'a/../../b' has a '..' component"
	"dots.yaml:15:9: spec.path: path '/etc/../../outside/sub' has a '..' component"
	"dots.yaml:21:14: spec.path: path '/srv/..' has a '..' component"
	"dots.yaml:26:14: spec.path: path '../outside/secret' has a '..' component"
)
p check
expect "'..' in spec.path: check exits 1 naming FILE:LINE:COL, spec.path and '..'" 1 "${DOT_ERRORS[@]}"
p plan
expect "'..' in spec.path: plan exits 1" 1 "${DOT_ERRORS[@]}"
p sync
expect "'..' in spec.path: sync exits 1 naming FILE:LINE:COL, spec.path and '..'" 1 "${DOT_ERRORS[@]}"
if root_empty; then ok "'..' in spec.path: nothing applied, not even the valid resource"; else fail "'..' in spec.path: nothing applied, not even the valid resource" "$(tree_listing "$ROOT")"; fi
if [ ! -e "$OUTSIDE/x" ] && [ ! -e "$T/box/b" ] && [ ! -e "$T/b" ]; then
	ok "'..' in spec.path: neither escaped path exists"
else
	fail "'..' in spec.path: neither escaped path exists" "$(ls -la "$OUTSIDE" "$T/box")"
fi
nothing_escaped "'..' in spec.path"

# --- 5. a managed directory replaced by a symlink to outside ----------------------------------

fresh
clear_repo
cat >"$REPO/app.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: app}
spec: {path: /etc/app/app.conf, content: "v1\n"}
EOF
commit_repo "app v1"
p sync
expect "managed dir replaced by a symlink: first sync exits 0" 0
mkdir -p "$EXP/etc/app"
printf 'v1\n' >"$EXP/etc/app/app.conf"
same_listing "managed dir replaced by a symlink: first sync creates /etc/app/app.conf" \
	"$(tree_listing "$EXP")" "$(tree_listing "$ROOT")"

rm -rf "$ROOT/etc/app"
ln -s "$OUTSIDE" "$ROOT/etc/app"
# Same content: outside/app.conf even holds exactly what plumb wrote (v1).
p plan
expect "managed dir replaced by a symlink: plan exits 1, /etc/app is a symlink plumb won't follow" 1 \
	"/etc/app is a symlink" "never follows"
p sync
expect "managed dir replaced by a symlink: sync exits 1, /etc/app is a symlink plumb won't follow" 1 \
	"/etc/app is a symlink" "never follows"
nothing_escaped "managed dir replaced by a symlink, no change in git"

cat >"$REPO/app.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: app}
spec: {path: /etc/app/app.conf, content: "v2\n", mode: "0600"}
EOF
commit_repo "app v2"
p plan
expect "managed dir replaced by a symlink, new content: plan exits 1" 1 "/etc/app is a symlink" "never follows"
p sync
expect "managed dir replaced by a symlink, new content: sync exits 1" 1 "/etc/app is a symlink" "never follows"
nothing_escaped "managed dir replaced by a symlink, new content"

# A prune while /etc/app is a symlink: the resource leaves git.
clear_repo
cat >"$REPO/other.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: other}
spec: {path: /etc/other, content: "other\n"}
EOF
commit_repo "app removed"
p plan
plan_rc=$RC
p sync
if [ -e "$OUTSIDE/app.conf" ]; then
	ok "prune through a symlinked directory: the file outside is not deleted (plan exit $plan_rc, sync exit $RC)"
else
	fail "prune through a symlinked directory: the file outside is not deleted" "$(show)"
fi
if [ "$RC" -eq 0 ] || contains "$ERR" "/etc/app is a symlink"; then
	ok "prune through a symlinked directory: succeeds or names the symlink"
else
	fail "prune through a symlinked directory: succeeds or names the symlink" "$(show)"
fi
if [ -L "$ROOT/etc/app" ] || [ ! -e "$ROOT/etc/app" ]; then
	ok "prune through a symlinked directory: /etc/app is the link or gone, never a directory made through it"
else
	fail "prune through a symlinked directory: /etc/app is the link or gone" "$(ls -la "$ROOT/etc")"
fi
nothing_escaped "prune through a symlinked directory"

# A symlink higher up: /etc itself.
fresh
clear_repo
cat >"$REPO/app.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: app}
spec: {path: /etc/app/app.conf, content: "v1\n"}
EOF
commit_repo "app v1 again"
mkdir -p "$ROOT"
ln -s "$OUTSIDE" "$ROOT/etc"
p sync
expect "a planted /etc symlink: sync exits 1 naming it" 1 "/etc is a symlink"
nothing_escaped "a planted /etc symlink"

# --- 6. Symlink resources pointing outside; a File replacing them -----------------------------

fresh
clear_repo
cat >"$REPO/links.yaml" <<EOF
apiVersion: host/v1
kind: Symlink
metadata: {name: passwd-link}
spec: {path: /etc/passwd-link, target: /etc/passwd}
---
apiVersion: host/v1
kind: Symlink
metadata: {name: secret-link}
spec: {path: /etc/secret-link, target: $OUTSIDE/secret}
---
apiVersion: host/v1
kind: Symlink
metadata: {name: dir-link}
spec: {path: /etc/dir-link, target: $OUTSIDE}
EOF
commit_repo "symlinks out"
p sync
expect "Symlink pointing outside: sync exits 0" 0
mkdir -p "$EXP/etc"
ln -s /etc/passwd "$EXP/etc/passwd-link"
ln -s "$OUTSIDE/secret" "$EXP/etc/secret-link"
ln -s "$OUTSIDE" "$EXP/etc/dir-link"
same_listing "Symlink pointing outside: links created with the exact targets" \
	"$(tree_listing "$EXP")" "$(tree_listing "$ROOT")"
no_leak "Symlink pointing outside: no content from outside"
p plan --detailed-exitcode
expect "Symlink pointing outside: a second plan has no changes" 0
nothing_escaped "Symlink pointing outside"

# The same paths become a File, a File with a mode, and a Directory... of
# which the Directory may not replace a link: only the Files are declared.
clear_repo
cat >"$REPO/links.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: secret-link}
spec: {path: /etc/secret-link, content: "replaced\n", mode: "0600"}
---
apiVersion: host/v1
kind: File
metadata: {name: dir-link}
spec: {path: /etc/dir-link, content: "replaced dir link\n"}
EOF
commit_repo "files replace the links"
p sync
expect "File replacing a Symlink: sync exits 0" 0
rm -rf "$EXP" && mkdir -p "$EXP/etc"
printf 'replaced\n' >"$EXP/etc/secret-link"
chmod 600 "$EXP/etc/secret-link"
printf 'replaced dir link\n' >"$EXP/etc/dir-link"
same_listing "File replacing a Symlink: the links are replaced by files, the pruned link is gone" \
	"$(tree_listing "$EXP")" "$(tree_listing "$ROOT")"
nothing_escaped "File replacing a Symlink"

# A symlink plumb did not create, planted where a File is declared.
fresh
clear_repo
mkdir -p "$ROOT/etc"
ln -s "$OUTSIDE/secret" "$ROOT/etc/planted"
ln -s "$OUTSIDE" "$ROOT/etc/planted-dir"
ln -s "$OUTSIDE" "$ROOT/etc/planted-tree"
cat >"$REPO/planted.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: planted}
spec: {path: /etc/planted, content: "mine\n", mode: "0640"}
---
apiVersion: host/v1
kind: File
metadata: {name: planted-dir}
spec: {path: /etc/planted-dir, content: "mine too\n"}
EOF
commit_repo "files over planted links"
p sync
expect "File over a planted symlink: sync exits 0" 0
mkdir -p "$EXP/etc"
printf 'mine\n' >"$EXP/etc/planted"
chmod 640 "$EXP/etc/planted"
printf 'mine too\n' >"$EXP/etc/planted-dir"
ln -s "$OUTSIDE" "$EXP/etc/planted-tree"
same_listing "File over a planted symlink: the links are replaced, not their targets" \
	"$(tree_listing "$EXP")" "$(tree_listing "$ROOT")"
nothing_escaped "File over a planted symlink"

# A Directory and a Tree declared where a symlink to the outside directory is.
mkdir -p "$REPO/tree"
printf 'tree file\n' >"$REPO/tree/app.conf"
cat >"$REPO/dirs.yaml" <<'EOF'
apiVersion: host/v1
kind: Directory
metadata: {name: dir}
spec: {path: /etc/planted-dir2, mode: "0700"}
---
apiVersion: host/v1
kind: Tree
metadata: {name: tree}
spec: {source: tree, path: /etc/planted-tree}
EOF
ln -s "$OUTSIDE" "$ROOT/etc/planted-dir2"
commit_repo "a directory and a tree over planted links"
p sync
# A symlink holds no data of its own: like a File, a Directory or a Tree replaces the link, never
# its target, and nothing is written through it.
expect "Directory and Tree over a planted symlink: sync exits 0" 0
if [ -d "$ROOT/etc/planted-dir2" ] && [ ! -L "$ROOT/etc/planted-dir2" ] &&
	[ "$(stat -c %a "$ROOT/etc/planted-dir2")" = 700 ] && [ ! -L "$ROOT/etc/planted-tree" ] &&
	[ "$(cat "$ROOT/etc/planted-tree/app.conf")" = "tree file" ]; then
	ok "Directory and Tree over a planted symlink: the links are replaced by directories"
else
	fail "Directory and Tree over a planted symlink: the links are replaced by directories" "$(tree_listing "$ROOT")"
fi
nothing_escaped "Directory and Tree over a planted symlink"

# --- 7. Absent --------------------------------------------------------------------------------

fresh
clear_repo
mkdir -p "$ROOT/etc"
ln -s "$OUTSIDE" "$ROOT/etc/gone-dir"
ln -s "$OUTSIDE/secret" "$ROOT/etc/gone-file"
ln -s "$OUTSIDE" "$ROOT/etc/via"
cat >"$REPO/absent.yaml" <<'EOF'
apiVersion: host/v1
kind: Absent
metadata: {name: gone-dir}
spec: {path: /etc/gone-dir}
---
apiVersion: host/v1
kind: Absent
metadata: {name: gone-file}
spec: {path: /etc/gone-file}
EOF
commit_repo "absent symlinks"
p sync
expect "Absent on a symlink to a directory outside: sync exits 0" 0
mkdir -p "$EXP/etc"
ln -s "$OUTSIDE" "$EXP/etc/via"
same_listing "Absent on a symlink to a directory outside: only the links are removed" \
	"$(tree_listing "$EXP")" "$(tree_listing "$ROOT")"
nothing_escaped "Absent on a symlink to a directory outside"

cat >"$REPO/absent.yaml" <<'EOF'
apiVersion: host/v1
kind: Absent
metadata: {name: through}
spec: {path: /etc/via/secret}
---
apiVersion: host/v1
kind: Absent
metadata: {name: through-dir}
spec: {path: /etc/via/sub}
EOF
commit_repo "absent below a symlink"
p sync
expect "Absent below a symlink: sync exits 1 naming the symlink" 1 "/etc/via is a symlink"
same_listing "Absent below a symlink: the root is unchanged" "$(tree_listing "$EXP")" "$(tree_listing "$ROOT")"
nothing_escaped "Absent below a symlink"

# --- 8. a File or Symlink below a planted symlink ------------------------------------------

clear_repo
cat >"$REPO/below.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: below}
spec: {path: /etc/via/secret, content: "overwritten\n"}
---
apiVersion: host/v1
kind: Symlink
metadata: {name: below-link}
spec: {path: /etc/via/sub/deep.txt, target: /etc/passwd}
EOF
commit_repo "a file and a link below a symlink"
p plan
expect "File and Symlink below a planted symlink: plan exits 1 naming it" 1 "/etc/via is a symlink"
p sync
expect "File and Symlink below a planted symlink: sync exits 1 naming it" 1 "/etc/via is a symlink"
same_listing "File and Symlink below a planted symlink: the root is unchanged" "$(tree_listing "$EXP")" "$(tree_listing "$ROOT")"
nothing_escaped "File and Symlink below a planted symlink"

# --- 9. the root's own parent ----------------------------------------------------------------
# A root given through a path with '..' or a symlink is the user's choice and
# is resolved as given; a File declared at '/' itself is not a file below it.
fresh
clear_repo
cat >"$REPO/top.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: top}
spec: {path: /, content: "the root itself\n"}
EOF
commit_repo "a file at the root itself"
p sync
if [ "$RC" -eq 1 ] && contains "$ERR" "top.yaml:4:"; then
	ok "a File at '/': sync exits 1 naming FILE:LINE:COL"
else
	fail "a File at '/': sync exits 1 naming FILE:LINE:COL" "$(show)"
fi
nothing_escaped "a File at '/'"

# --- 10. a crafted git tree: entry names with '..' or '/' ---------------------------------
# git itself never writes such a tree (git fsck: hasDotdot, fullPathname),
# but a hostile or broken repository can hold one, and neither a local
# repository nor a fetch checks. The names of a Tree's entries become live
# paths: they must be refused like a '..' in spec.path.
EVIL="$T/repo/.evil" # inside the repository folder: not "outside the root"
mkdir -p "$EVIL"
git init -q --bare "$EVIL"

# git_tree "MODE NAME ID"...: write a tree object with exactly these entries.
git_tree() {
	python3 -c '
import sys
out = b""
for e in sys.argv[1:]:
    mode, name, oid = e.split(" ", 2)
    out += mode.encode() + b" " + name.encode() + b"\0" + bytes.fromhex(oid)
sys.stdout.buffer.write(out)' "$@" | git --git-dir="$EVIL" hash-object -w -t tree --literally --stdin
}
git_blob() { printf '%s' "$1" | git --git-dir="$EVIL" hash-object -w --stdin; }

# evil_commit TREE_OF_CONF: a commit whose tree.yaml mirrors conf onto /etc/conf.
evil_commit() {
	local manifest top c
	manifest=$(git_blob 'apiVersion: host/v1
kind: Tree
metadata: {name: conf}
spec: {source: conf, path: /etc/conf}
')
	top=$(git_tree "40000 conf $1" "100644 tree.yaml $manifest")
	COMMIT_CLOCK=$((COMMIT_CLOCK + 60))
	c=$(GIT_AUTHOR_DATE="@$COMMIT_CLOCK +0000" GIT_COMMITTER_DATE="@$COMMIT_CLOCK +0000" \
		git --git-dir="$EVIL" commit-tree "$top" -m crafted) &&
		git --git-dir="$EVIL" update-ref "refs/heads/crafted-$1" "$c" && # reachable: a fetch gets it
		echo "$c"
}

# ROOT/etc/conf/../../../.. is $T: "outside" four levels up reaches the sentinel.
pwned=$(git_blob 'written outside the root
')
inner=$(git_tree "100644 pwned $pwned" "100644 app.conf $pwned")
inner=$(git_tree "40000 outside $inner")
dotdot=$inner
for _ in 1 2 3 4; do dotdot=$(git_tree "40000 .. $dotdot"); done
slash=$(git_tree "40000 ../../../.. $inner")

crafted() { # LABEL CONF_TREE REPO_ARG [NEEDLE...]: the errors also hold every NEEDLE
	local label=$1 repo_arg=$3 c
	c=$(evil_commit "$2")
	shift 3
	fresh
	rm -f "$OUTSIDE/pwned"
	OUTSIDE0=$(outside_snapshot)
	STRAY0=$(stray_listing)
	plumb check --repo "$repo_arg" --revision "$c"
	# The whole revision is malformed (git itself never writes such a tree): refused, naming the entry.
	expect "$label: check exits 1 naming the invalid entry" 1 "has an entry named" "not a valid file name" "$@"
	plumb sync --repo "$repo_arg" --revision "$c" --root "$ROOT" --state "$STATE"
	expect "$label: sync exits 1 naming the invalid entry" 1 "has an entry named" "not a valid file name" "$@"
	if [ ! -e "$OUTSIDE/pwned" ]; then
		ok "$label: no file written outside the root"
	else
		fail "$label: no file written outside the root" "$OUTSIDE/pwned: $(cat "$OUTSIDE/pwned")" "$(show)"
	fi
	if root_empty; then ok "$label: nothing applied"; else fail "$label: nothing applied" "$(tree_listing "$ROOT")"; fi
	nothing_escaped "$label"
	# Whatever that sync recorded, an innocent next commit prunes nothing outside.
	plumb sync --repo "$repo_arg" --revision "$INNOCENT" --root "$ROOT" --state "$STATE"
	if [ -f "$OUTSIDE/app.conf" ] && [ -f "$OUTSIDE/secret" ] && [ -f "$OUTSIDE/sub/deep.txt" ]; then
		ok "$label: a later innocent commit deletes nothing outside the root"
	else
		fail "$label: a later innocent commit deletes nothing outside the root" "$(show)" "$(ls -la "$OUTSIDE" 2>&1)"
	fi
}
innocent=$(git_blob 'apiVersion: host/v1
kind: File
metadata: {name: innocent}
spec: {path: /etc/innocent, content: "innocent\n"}
')
INNOCENT=$(git --git-dir="$EVIL" commit-tree "$(git_tree "100644 files.yaml $innocent")" -m innocent)
git --git-dir="$EVIL" update-ref refs/heads/innocent "$INNOCENT"
crafted "Tree entries named '..'" "$dotdot" "$EVIL" "'..'"
crafted "a Tree entry named '../../../..'" "$slash" "$EVIL"
crafted "Tree entries named '..', fetched from a file:// URL" "$dotdot" "file://$EVIL"

[ "$TAP_FAILED" -eq 0 ]
