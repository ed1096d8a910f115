#!/usr/bin/env bash
# Invalid revisions: every error of a commit is reported as FILE:LINE:COL:
# message, nothing is applied, and a bad revision, repository or URL gives
# a one-line error.
. "$(dirname "$0")/lib.sh"

REPO="$T/repo"
ROOT="$T/root"
STATE="$T/state"

plumb() {
	capture "$PLUMB" "$@" --state "$STATE"
}

# --- a good commit, synced --------------------------------------------------------------------

make_repo "$REPO"
mkdir -p "$REPO/manifests" "$REPO/files"
printf 'hello\n' >"$REPO/files/hello.txt"
cat >"$REPO/manifests/good.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: hello}
spec: {path: /etc/hello, source: files/hello.txt, mode: "0640"}
---
apiVersion: host/v1
kind: Directory
metadata: {name: data}
spec: {path: /srv/data, mode: "0700"}
EOF
commit_all "$REPO" "good"
GOOD=$(head_of "$REPO")
plumb sync --repo "$REPO" --root "$ROOT"
expect_rc "sync of the good commit exits 0" 0

# --- a commit with many errors in several files -----------------------------------------------

git -C "$REPO" rm -q manifests/good.yaml
mkdir -p "$REPO/manifests"
cat >"$REPO/manifests/a.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: fine}
spec: {path: /etc/fine, content: "fine\n"}
---
apiVersion: host/v1
kind: Widget
metadata: {name: w}
spec: {path: /etc/w}
---
apiVersion: nope/v9
kind: File
metadata: {name: x}
spec: {path: /etc/x, content: "x"}
---
apiVersion: host/v1
kind: File
metadata: {name: unknown-field}
spec:
  path: /etc/uf
  content: "uf"
  colour: blue
---
apiVersion: host/v1
kind: File
metadata: {name: bad-mode}
spec:
  path: /etc/bm
  content: "bm"
  mode: "abc"
---
apiVersion: host/v1
kind: Directory
metadata: {name: no-path}
spec:
  mode: "0755"
EOF
cat >"$REPO/manifests/b-syntax.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: broken}
spec: {path: /etc/broken, content: "unterminated}
EOF
cat >"$REPO/manifests/c.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: motd}
spec: {path: /etc/motd, content: "one\n"}
---
apiVersion: host/v1
kind: Directory
metadata: {name: same-dir}
spec: {path: /srv/same}
---
apiVersion: host/v1
kind: File
metadata: {name: escape}
spec: {path: /etc/../../outside, content: "x"}
EOF
cat >"$REPO/manifests/d.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: motd}
spec: {path: /etc/motd2, content: "two\n"}
---
apiVersion: host/v1
kind: File
metadata: {name: same-file}
spec: {path: /srv/same, content: "x"}
---
apiVersion: host/v1
kind: File
metadata: {name: both}
spec:
  path: /etc/both
  content: "x"
  source: files/hello.txt
---
apiVersion: host/v1
kind: File
metadata: {name: missing-source}
spec:
  path: /etc/missing
  source: files/nope.txt
EOF
commit_all "$REPO" "bad: many errors"
BAD=$(head_of "$REPO")

plumb check --repo "$REPO"
expect_rc "check of an invalid commit exits 1" 1
if contains "$OUT" "commit $BAD"; then ok "check prints the commit it used"; else fail "check prints the commit it used" "$(show)"; fi

# expect_diag NAME FILE LINE COLUMNS WORDS: a diagnostic FILE:LINE:COL: with
# COL one of COLUMNS (an extended regex) and a message matching WORDS.
expect_diag() {
	local name=$1 file=$2 line=$3 cols=$4 words=$5
	if grep -qE "^${file//./\\.}:$line:($cols): .*($words)" <<<"$ERR"; then
		ok "check reports $name at $file:$line"
	else
		fail "check reports $name at $file:$line" "expected $file:$line:($cols): ...($words)" "$(show)"
	fi
}
expect_diag "an unknown kind" manifests/a.yaml 7 '1|7' 'Widget'
expect_diag "an unknown apiVersion" manifests/a.yaml 11 '1|13' 'nope/v9'
expect_diag "an unknown field in spec" manifests/a.yaml 22 3 'colour'
expect_diag "mode \"abc\"" manifests/a.yaml 30 '9|10' 'mode.*abc|abc.*mode'
expect_diag "a missing path" manifests/a.yaml 35 1 'path'
expect_diag "a YAML syntax error" manifests/b-syntax.yaml 4 37 '[Ss]yntax'
expect_diag "a path with .." manifests/c.yaml 14 14 '\.\.'
expect_diag "a duplicate identity, naming both files" manifests/d.yaml 1 1 'host/v1/File/motd.*manifests/c\.yaml:1'
expect_diag "two resources claiming one path, naming both" manifests/d.yaml 9 '1|14' '/srv/same.*manifests/c\.yaml:9'
expect_diag "content and source together" manifests/d.yaml 14 1 'content.*source'
expect_diag "a source that does not exist" manifests/d.yaml 24 11 'files/nope\.txt'

diags=$(grep -cE '^[^ :]+:[0-9]+:[0-9]+: ' <<<"$ERR")
if [ "$diags" = 11 ]; then
	ok "check reports each error once (11 diagnostics)"
else
	fail "check reports each error once (11 diagnostics)" "got $diags" "$(show)"
fi
if contains "$ERR" "11 errors"; then ok "check's summary counts 11 errors"; else fail "check's summary counts 11 errors" "$(show)"; fi
stray=$(grep -vE '^[^ :]+:[0-9]+:[0-9]+: |^plumb: ' <<<"$ERR" | grep -v '^$')
if [ -z "$stray" ]; then
	ok "check prints nothing but diagnostics and plumb's own lines on stderr"
else
	fail "check prints nothing but diagnostics and plumb's own lines on stderr" "stray lines:" "$stray"
fi
if ! grep -qE '^manifests/a\.yaml:[0-9]+:[0-9]+: .*(fine|/etc/fine)' <<<"$ERR"; then
	ok "check does not blame the valid resource"
else
	fail "check does not blame the valid resource" "$(show)"
fi

# --- sync and plan of the invalid commit change nothing ----------------------------------------

before=$(tree_listing "$ROOT")
stats=$(stat_listing "$ROOT")
plumb sync --repo "$REPO" --root "$ROOT"
expect_rc "sync of an invalid commit exits 1" 1
if contains "$ERR" "manifests/d.yaml:24:11:" && contains "$ERR" "manifests/a.yaml:22:3:"; then
	ok "sync of an invalid commit prints the diagnostics"
else
	fail "sync of an invalid commit prints the diagnostics" "$(show)"
fi
same_listing "sync of an invalid commit changes nothing (tree)" "$before" "$(tree_listing "$ROOT")"
same_listing "sync of an invalid commit changes nothing (inodes and mtimes)" "$stats" "$(stat_listing "$ROOT")"

plumb sync --repo "$REPO" --root "$T/fresh"
if [ "$RC" = 1 ] && [ ! -e "$T/fresh" ]; then
	ok "sync of an invalid commit into a new root does not create it"
else
	fail "sync of an invalid commit into a new root does not create it" "$(show)" "$(ls -la "$T/fresh" 2>&1)"
fi

plumb plan --repo "$REPO" --root "$ROOT" --detailed-exitcode
expect_rc "plan --detailed-exitcode of an invalid commit exits 1" 1

plumb apply --repo "$REPO" --root "$ROOT" --auto-approve
expect_rc "apply --auto-approve of an invalid commit exits 1" 1
same_listing "apply of an invalid commit changes nothing" "$before" "$(tree_listing "$ROOT")"

plumb status --root "$ROOT"
if [ "$RC" = 0 ] && contains "$OUT" "$GOOD" && ! contains "$OUT" "$BAD"; then
	ok "status still shows the good commit as the last sync"
else
	fail "status still shows the good commit as the last sync" "$(show)"
fi

plumb sync --repo "$REPO" --root "$ROOT" --revision "$GOOD"
if [ "$RC" = 0 ] && contains "$OUT" "No changes"; then
	ok "the good commit still syncs with no changes"
else
	fail "the good commit still syncs with no changes" "$(show)"
fi

# --- one-line errors: revision, repository, URL -------------------------------------------------

# one_line_error NAME WORD: exit 1, and stderr is one line that contains WORD.
one_line_error() {
	local lines
	lines=$(printf '%s' "$ERR" | grep -c .)
	if [ "$RC" = 1 ] && [ "$lines" = 1 ] && contains "$ERR" "$2"; then
		ok "$1"
	else
		fail "$1" "expected exit 1 and one line naming '$2'" "$(show)"
	fi
}

for cmd in check render plan sync; do
	case $cmd in
	check | render) plumb $cmd --repo "$REPO" --revision no-such-branch ;;
	*) plumb $cmd --repo "$REPO" --root "$ROOT" --revision no-such-branch ;;
	esac
	one_line_error "$cmd: an unknown revision is one line naming it" no-such-branch
done
plumb sync --repo "$REPO" --root "$ROOT" --revision 0123456789abcdef0123456789abcdef01234567
one_line_error "an unknown commit id is one line naming it" 0123456789abcdef0123456789abcdef01234567

plumb sync --repo "$T/no-such-repo" --root "$ROOT"
one_line_error "a non-existent repository path is one line naming it" "$T/no-such-repo"
mkdir -p "$T/not-a-repo"
plumb check --repo "$T/not-a-repo"
one_line_error "a folder that is not a repository is one line naming it" "$T/not-a-repo"

port=$(free_port)
URL="git://127.0.0.1:$port/nothing.git"
capture timeout 60 "$PLUMB" sync --repo "$URL" --root "$ROOT" --state "$STATE"
one_line_error "an unreachable git:// URL is one line naming it" "$URL"
capture timeout 60 "$PLUMB" plan --repo "$URL" --root "$ROOT" --state "$STATE" --detailed-exitcode
expect_rc "plan --detailed-exitcode with an unreachable URL exits 1" 1

plumb check --repo "$REPO" --revision "$GOOD" --path no/such/folder
one_line_error "a --path that does not exist is one line naming it" no/such/folder

same_listing "none of the failures changed the destination" "$before" "$(tree_listing "$ROOT")"
