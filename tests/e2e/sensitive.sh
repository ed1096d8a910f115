#!/usr/bin/env bash
# spec.sensitive: true keeps content out of everything plumb prints and
# keeps: check, render, plan (text, JSON, plan files), show, sync, apply of
# a saved plan, status and the state directory. Three ways in: a File with
# inline content, a File with a source in the repository, and a Tree. The
# live files still get the real content, with the declared modes.
. "$(dirname "$0")/lib.sh"

REPO="$T/repo"
ROOT="$T/root"
STATE="$T/state"
LOGS="$T/outputs" # every command's stdout and stderr, one file each
mkdir -p "$LOGS"

# The distinctive values: in git (first and second commit) and by hand on the host.
INLINE1=hunter2-S3CRET-e2e-7f3a
SOURCE1=srcblob-S3CRET-e2e-b4c9
TREE1=treeblob-S3CRET-e2e-d0e5
INLINE2=hunter3-S3CRET-e2e-91aa
SOURCE2=srcblob2-S3CRET-e2e-33f1
TREE2=treeblob2-S3CRET-e2e-6b07
LIVE=byhand-S3CRET-e2e-5c2d
SECRETS=("$INLINE1" "$SOURCE1" "$TREE1" "$INLINE2" "$SOURCE2" "$TREE2" "$LIVE")

# write_repo INLINE SOURCE TREE [WITH_SOURCE_FILE]: the three sensitive resources and one ordinary file.
write_repo() {
	mkdir -p "$REPO/files" "$REPO/secrets/tree/sub"
	printf 'password = %s\n' "$1" >"$T/inline.content"
	printf 'db_password: %s\n' "$2" >"$REPO/files/db-secret.yaml"
	printf 'token=%s\n' "$3" >"$REPO/secrets/tree/sub/token.env"
	printf 'public\n' >"$REPO/secrets/tree/README"
	cat >"$REPO/app.yaml" <<EOF
apiVersion: host/v1
kind: File
metadata: {name: inline-secret}
spec:
  path: /etc/app/inline.conf
  content: |
    password = $1
  mode: "0600"
  sensitive: true
---
apiVersion: host/v1
kind: Tree
metadata: {name: secret-tree}
spec: {source: secrets/tree, path: /etc/app/tree, sensitive: true}
---
apiVersion: host/v1
kind: File
metadata: {name: plain}
spec: {path: /etc/app/plain.conf, content: "plain\n"}
EOF
	if [ "${4:-1}" = 1 ]; then
		cat >>"$REPO/app.yaml" <<'EOF'
---
apiVersion: host/v1
kind: File
metadata: {name: source-secret}
spec:
  path: /etc/app/db.yaml
  source: files/db-secret.yaml
  mode: "0640"
  sensitive: true
EOF
	else
		rm -f "$REPO/files/db-secret.yaml"
	fi
}

expected_tree() { # DIR INLINE SOURCE TREE [WITH_SOURCE_FILE]
	local d=$1
	rm -rf "$d"
	mkdir -p "$d/etc/app/tree/sub"
	printf 'password = %s\n' "$2" >"$d/etc/app/inline.conf"
	chmod 600 "$d/etc/app/inline.conf"
	if [ "${5:-1}" = 1 ]; then
		printf 'db_password: %s\n' "$3" >"$d/etc/app/db.yaml"
		chmod 640 "$d/etc/app/db.yaml"
	fi
	printf 'token=%s\n' "$4" >"$d/etc/app/tree/sub/token.env"
	printf 'public\n' >"$d/etc/app/tree/README"
	printf 'plain\n' >"$d/etc/app/plain.conf"
}

# run NAME COMMAND...: capture, keeping stdout and stderr in $LOGS/NAME.
N=0
run() {
	local name=$1
	shift
	N=$((N + 1))
	capture "$@"
	printf '%s\n' "$OUT" >"$LOGS/$(printf %02d $N)-$name.out"
	printf '%s\n' "$ERR" >"$LOGS/$(printf %02d $N)-$name.err"
}

# not_shown NAME PATH: the last output has a line naming PATH that says its content is not shown.
not_shown() {
	if grep -E "$2" <<<"$OUT" | grep -q "not shown"; then
		ok "$1"
	else
		fail "$1" "$(show)"
	fi
}

SRC=(--repo "$REPO" --root "$ROOT" --state "$STATE")

# files_with STRING...: the files in $SEARCHED holding any STRING, one a line, sorted, with $T written as such.
files_with() {
	local s
	for s in "$@"; do
		grep -rlaF -e "$s" "${SEARCHED[@]}"
	done | sort -u | sed "s|^$T|\$T|"
}

# --- first commit: check, render, plan, show, sync ------------------------------------------------

make_repo "$REPO"
write_repo "$INLINE1" "$SOURCE1" "$TREE1"
commit_all "$REPO" "sensitive v1"

# sensitive: true keeps plaintext out of what plumb prints, but the plaintext is in git: the leak gate says so.
run check "$PLUMB" check --repo "$REPO" --state "$STATE"
want='app.yaml:7: generic-secret ****
files/db-secret.yaml:1: generic-secret ****
secrets/tree/sub/token.env:1: generic-secret ****'
if [ "$RC" = 1 ] && contains "$OUT" "OK: repo: 4 resources, 7 objects" && [ "$(grep ': generic-secret ' <<<"$ERR")" = "$want" ]; then
	ok "check loads the manifests, then fails naming each plaintext value in git, masked"
else
	fail "check loads the manifests, then fails naming each plaintext value in git, masked" "$(show)"
fi
run render-yaml "$PLUMB" render --repo "$REPO" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "name: inline-secret" && contains "$OUT" "/etc/app/inline.conf"; then
	ok "render (YAML) still shows the sensitive resources"
else
	fail "render (YAML) still shows the sensitive resources" "$(show)"
fi
run render-json "$PLUMB" render --repo "$REPO" --state "$STATE" -o json
expect_rc "render -o json exits 0" 0

run plan-text "$PLUMB" plan "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 7 to create, 0 to update, 0 to delete."; then
	ok "plan of v1: 7 to create"
else
	fail "plan of v1: 7 to create" "$(show)"
fi
not_shown "plan: the inline sensitive File has a line saying its content is not shown" '/etc/app/inline\.conf'
not_shown "plan: the sensitive File from a source has a line saying its content is not shown" '/etc/app/db\.yaml'
not_shown "plan: the sensitive Tree's file has a line saying its content is not shown" '/etc/app/tree/sub/token\.env'
if grep -A3 '/etc/app/plain.conf' <<<"$OUT" | grep -q '^    +plain$'; then
	ok "plan: an ordinary file still has its diff"
else
	fail "plan: an ordinary file still has its diff" "$(show)"
fi
run plan-json "$PLUMB" plan "${SRC[@]}" -o json
expect_rc "plan -o json exits 0" 0
run plan-file "$PLUMB" plan "${SRC[@]}" -o "$T/plan1.json"
expect_rc "plan -o FILE exits 0" 0
run show "$PLUMB" show "$T/plan1.json"
expect_rc "show exits 0" 0
not_shown "show: the sensitive File has a line saying its content is not shown" '/etc/app/inline\.conf'
run show-json "$PLUMB" show "$T/plan1.json" -o json
expect_rc "show -o json exits 0" 0
if python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
s = {a["path"]: a.get("sensitive") for a in doc["actions"]}
want = {"/etc/app/inline.conf": True, "/etc/app/db.yaml": True, "/etc/app/tree/sub/token.env": True,
        "/etc/app/tree/README": True, "/etc/app/plain.conf": False}
bad = {p: s.get(p) for p in want if s.get(p) is not want[p]}
sys.exit("wrong sensitive flags: %r" % bad if bad else 0)' "$T/plan1.json" >"$T/py.out" 2>&1; then
	ok "the plan file marks the sensitive objects (every file of a sensitive Tree) and only them"
else
	fail "the plan file marks the sensitive objects (every file of a sensitive Tree) and only them" "$(cat "$T/py.out")"
fi

run sync "$PLUMB" sync "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 7 created"; then ok "sync of v1 exits 0"; else fail "sync of v1 exits 0" "$(show)"; fi
expected_tree "$T/exp" "$INLINE1" "$SOURCE1" "$TREE1"
same_listing "the live files hold the real values, with the declared modes" "$(tree_listing "$T/exp")" "$(tree_listing "$ROOT")"

run sync-again "$PLUMB" sync "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "No changes"; then ok "a second sync: No changes"; else fail "a second sync: No changes" "$(show)"; fi

# --- second commit: the sensitive content changes; one file was also edited by hand ---------------------

write_repo "$INLINE2" "$SOURCE2" "$TREE2"
commit_all "$REPO" "sensitive v2"
printf 'password = %s\n' "$LIVE" >"$ROOT/etc/app/inline.conf"

run plan2-text "$PLUMB" plan "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 0 to create, 3 to update, 0 to delete."; then
	ok "plan of v2: three sensitive files to update"
else
	fail "plan of v2: three sensitive files to update" "$(show)"
fi
for p in /etc/app/inline.conf /etc/app/db.yaml /etc/app/tree/sub/token.env; do
	if grep -F "$p" <<<"$OUT" | grep -F "not shown" | grep -q "changes"; then
		ok "plan of v2 says the sensitive content of $p changes, not shown"
	else
		fail "plan of v2 says the sensitive content of $p changes, not shown" "$(show)"
	fi
done
run plan2-json "$PLUMB" plan "${SRC[@]}" -o json
expect_rc "plan -o json of v2 exits 0" 0
run plan2-file "$PLUMB" plan "${SRC[@]}" -o "$T/plan2.json"
expect_rc "plan -o FILE of v2 exits 0" 0
run show2 "$PLUMB" show "$T/plan2.json"
expect_rc "show of the v2 plan exits 0" 0
run show2-json "$PLUMB" show "$T/plan2.json" -o json
expect_rc "show -o json of the v2 plan exits 0" 0
run apply2 "$PLUMB" apply "$T/plan2.json" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 0 created, 3 updated"; then
	ok "apply of the saved v2 plan (sensitive objects observed by keyed fingerprints) succeeds"
else
	fail "apply of the saved v2 plan (sensitive objects observed by keyed fingerprints) succeeds" "$(show)"
fi
expected_tree "$T/exp" "$INLINE2" "$SOURCE2" "$TREE2"
same_listing "after v2 the live files hold the new real values, with the declared modes" \
	"$(tree_listing "$T/exp")" "$(tree_listing "$ROOT")"

run status "$PLUMB" status --root "$ROOT" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "/etc/app/inline.conf"; then ok "status lists the sensitive file"; else fail "status lists the sensitive file" "$(show)"; fi
run status-json "$PLUMB" status --root "$ROOT" --state "$STATE" -o json
expect_rc "status -o json exits 0" 0

if [ ! -e "$STATE/repos" ]; then
	ok "a local repository leaves no cache in the state directory (so all of it is searched)"
else
	fail "a local repository leaves no cache in the state directory (so all of it is searched)" "$(ls -la "$STATE/repos")"
fi

# --- the search ----------------------------------------------------------------------------------------

# Every output so far, both plan files and everything in the state directory.
SEARCHED=("$LOGS" "$T/plan1.json" "$T/plan2.json" "$STATE")
for v in "${SECRETS[@]}"; do
	found=$(files_with "$v")
	if [ -z "$found" ]; then
		ok "$v appears in no output, plan file or state file"
	else
		fail "$v appears in no output, plan file or state file" "found in:" "$found" \
			"$(grep -rahF -e "$v" "${SEARCHED[@]}" | head -5)"
	fi
done
[ -f "$STATE/plumb.db" ] || fail "the state directory holds the store" "$(ls -la "$STATE")"

# Nor the content ids (git blob ids) of the sensitive files, which would let anyone
# holding a plan or the store test guesses of a secret offline.
BLOBS=()
for c in "password = $INLINE1" "db_password: $SOURCE1" "token=$TREE1" "password = $INLINE2" \
	"db_password: $SOURCE2" "token=$TREE2" "password = $LIVE"; do
	BLOBS+=("$(printf '%s\n' "$c" | git hash-object --stdin)")
done
found=$(files_with "${BLOBS[@]}")
if [ -z "$found" ]; then
	ok "no content id of a sensitive file appears in any output, plan file or state file"
else
	fail "no content id of a sensitive file appears in any output, plan file or state file" "found in:" "$found"
fi

# --- third commit: the sensitive File from a source leaves git (a prune) -------------------------------

write_repo "$INLINE2" "$SOURCE2" "$TREE2" 0
commit_all "$REPO" "drop source-secret"
PRUNE_OUTS="$T/prune-outputs"
LOGS=$PRUNE_OUTS
mkdir -p "$LOGS"
run plan3-text "$PLUMB" plan "${SRC[@]}"
if [ "$RC" = 0 ] && grep -q '^- File /etc/app/db.yaml' <<<"$OUT" && contains "$OUT" "Plan: 0 to create, 0 to update, 1 to delete."; then
	ok "plan of v3 prunes the sensitive file that left git"
else
	fail "plan of v3 prunes the sensitive file that left git" "$(show)"
fi
run plan3-json "$PLUMB" plan "${SRC[@]}" -o json
run plan3-file "$PLUMB" plan "${SRC[@]}" -o "$T/plan3.json"
run show3-json "$PLUMB" show "$T/plan3.json" -o json
# Make it stale: the stale message names what was observed.
printf 'db_password: %s\n' "$SOURCE2" >"$ROOT/etc/app/db.yaml.new" && chmod 600 "$ROOT/etc/app/db.yaml.new" &&
	mv "$ROOT/etc/app/db.yaml.new" "$ROOT/etc/app/db.yaml"
run apply3-stale "$PLUMB" apply "$T/plan3.json" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "/etc/app/db.yaml"; then ok "the changed pruned file makes the v3 plan stale"; else fail "the changed pruned file makes the v3 plan stale" "$(show)"; fi
run sync3 "$PLUMB" sync "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "0 created, 0 updated, 1 deleted" && [ ! -e "$ROOT/etc/app/db.yaml" ]; then
	ok "sync of v3 prunes the sensitive file"
else
	fail "sync of v3 prunes the sensitive file" "$(show)"
fi

SEARCHED=("$PRUNE_OUTS" "$T/plan3.json" "$STATE")
found=$(files_with "${SECRETS[@]}")
if [ -z "$found" ]; then
	ok "pruning a sensitive file shows no secret value"
else
	fail "pruning a sensitive file shows no secret value" "found in:" "$found"
fi
found=$(files_with "${BLOBS[@]}")
if [ -z "$found" ]; then
	ok "pruning a sensitive file shows no content id of it (plans and stale messages hold keyed fingerprints)"
else
	fail "pruning a sensitive file shows no content id of it (plans and stale messages hold keyed fingerprints)" \
		"found in:" "$found" "$(grep -rhaF -e "${BLOBS[4]}" "${SEARCHED[@]}" | sort -u | head -5)"
fi
