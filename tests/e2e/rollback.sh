#!/usr/bin/env bash
# plumb rollback against a real git daemon (receive-pack enabled): a repository
# with apps/web (v1, v2, v3) and apps/db. Rolling apps/web back to v1 pushes one
# fast-forward commit whose tree is the tip's with apps/web as in v1, whose
# message names v1 and the reverted commits, then syncs it (prune included).
# Then: --author, nothing to roll back, --revision naming a tag, an unknown
# --to, a remote that refuses the push, a remote that moves under the push,
# --no-commit (ahead of git until a sync catches up) and a local bare repository.
. "$(dirname "$0")/lib.sh"

BASE="$T/served"
BARE="$BASE/homelab.git"
WORK="$T/work"
ROOT="$T/root"
STATE="$T/state"
HOST=$(uname -n)

plumb() {
	capture "$PLUMB" "$@"
}

# --- the repository ----------------------------------------------------------------------

# write_web VERSION: apps/web as it is at v1, v2 or v3 (replacing what was there).
#   v1: web.conf (File, source:), motd (inline), legacy.yaml, the site Tree with old.txt
#   v2: edits; adds cache.yaml and site/new.txt
#   v3: edits; removes legacy.yaml and site/old.txt, adds site/assets/v3.css
write_web() {
	local v=$1 w="$WORK/apps/web"
	rm -rf "$w"
	mkdir -p "$w/files" "$w/site/bin"
	cat >"$w/web.yaml" <<EOF
apiVersion: host/v1
kind: File
metadata: {name: web-conf}
spec:
  path: /etc/web/web.conf
  source: apps/web/files/web.conf
  mode: "0640"
---
apiVersion: host/v1
kind: File
metadata: {name: web-motd}
spec: {path: /etc/web/motd, content: "web $v\n"}
---
apiVersion: host/v1
kind: Tree
metadata: {name: web-site}
spec: {source: apps/web/site, path: /srv/web}
EOF
	printf 'port = 808%s\n' "${v#v}" >"$w/files/web.conf"
	printf '<h1>%s</h1>\n' "$v" >"$w/site/index.html"
	printf '#!/bin/sh\nexec httpd\n' >"$w/site/bin/run.sh"
	chmod 755 "$w/site/bin/run.sh"
	if [ "$v" != v3 ]; then
		cat >"$w/legacy.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: web-legacy}
spec: {path: /etc/web/legacy.conf, content: "legacy\n"}
EOF
		printf 'old\n' >"$w/site/old.txt"
	fi
	if [ "$v" != v1 ]; then
		cat >"$w/cache.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: web-cache}
spec: {path: /etc/web/cache.conf, content: "cache = on\n"}
EOF
		printf 'new\n' >"$w/site/new.txt"
	fi
	if [ "$v" = v3 ]; then
		mkdir -p "$w/site/assets"
		printf 'body{}\n' >"$w/site/assets/v3.css"
	fi
}

write_db() {
	mkdir -p "$WORK/apps/db"
	cat >"$WORK/apps/db/db.yaml" <<EOF
apiVersion: host/v1
kind: File
metadata: {name: db-conf}
spec: {path: /etc/db/db.conf, content: "db $1\n"}
EOF
}

push() {
	git -C "$WORK" push -q origin HEAD:main --tags 2>&1
}

# --- the expected trees, built without plumb ---------------------------------------------

# expected_tree DIR VERSION: the root after syncing apps/web at VERSION and apps/db at db 2.
expected_tree() {
	local d=$1 v=$2
	rm -rf "$d"
	mkdir -p "$d/etc/web" "$d/etc/db" "$d/srv/web/bin"
	printf 'db 2\n' >"$d/etc/db/db.conf"
	printf 'port = 808%s\n' "${v#v}" >"$d/etc/web/web.conf"
	chmod 640 "$d/etc/web/web.conf"
	printf 'web %s\n' "$v" >"$d/etc/web/motd"
	printf '<h1>%s</h1>\n' "$v" >"$d/srv/web/index.html"
	printf '#!/bin/sh\nexec httpd\n' >"$d/srv/web/bin/run.sh"
	chmod 755 "$d/srv/web/bin/run.sh"
	if [ "$v" != v3 ]; then
		printf 'legacy\n' >"$d/etc/web/legacy.conf"
		printf 'old\n' >"$d/srv/web/old.txt"
	fi
	if [ "$v" != v1 ]; then
		printf 'cache = on\n' >"$d/etc/web/cache.conf"
		printf 'new\n' >"$d/srv/web/new.txt"
	fi
	if [ "$v" = v3 ]; then
		mkdir -p "$d/srv/web/assets"
		printf 'body{}\n' >"$d/srv/web/assets/v3.css"
	fi
}

# disk_is NAME VERSION [ROOTDIR]: the root holds exactly apps/web at VERSION (and apps/db).
disk_is() {
	expected_tree "$T/expected" "$2"
	same_listing "$1" "$(tree_listing "$T/expected")" "$(tree_listing "${3:-$ROOT}")"
}

served_tip() {
	git -C "$BARE" rev-parse --verify -q refs/heads/main
}

# How many syncs the state directory records.
sync_count() {
	"$PLUMB" history --state "${1:-$STATE}" -o json 2>/dev/null |
		python3 -c 'import json, sys; print(len(json.load(sys.stdin)["syncs"]))' 2>/dev/null || echo "?"
}

# refused NAME: the last rollback failed and left the remote, the store and the disk alone.
refused() {
	local name=$1 tip=$2 syncs=$3 listing=$4
	if [ "$(served_tip)" = "$tip" ]; then ok "$name: nothing pushed"; else fail "$name: nothing pushed" "main: $(served_tip), was $tip"; fi
	if [ "$(sync_count)" = "$syncs" ]; then ok "$name: nothing synced"; else fail "$name: nothing synced" "syncs: $(sync_count), were $syncs"; fi
	same_listing "$name: the disk is unchanged" "$listing" "$(tree_listing "$ROOT")"
}

# --- set up: v1, v2, a change of apps/db, v3 -----------------------------------------------

mkdir -p "$BASE"
git init -q --bare -b main "$BARE"
git clone -q "$BARE" "$WORK" 2>/dev/null
printf 'homelab\n' >"$WORK/README.md"
write_web v1
write_db 1
commit_all "$WORK" "web v1 and db 1"
C1=$(head_of "$WORK")
git -C "$WORK" tag v1
write_web v2
commit_all "$WORK" "web v2: add the cache"
C2=$(head_of "$WORK")
git -C "$WORK" tag -a v2 -m "version 2"
write_db 2
commit_all "$WORK" "db 2: tune the database"
C3=$(head_of "$WORK")
write_web v3
commit_all "$WORK" "web v3: drop legacy"
C4=$(head_of "$WORK")
git -C "$WORK" tag v3
# Two tags off the main line: apps/web with a manifest plumb refuses, and no apps/web at all.
git -C "$WORK" checkout -q -b side
printf 'apiVersion: host/v1\nkind: File\nmetadata: {name: web-broken}\nspec: {content: "no path\\n"}\n' \
	>"$WORK/apps/web/broken.yaml"
commit_all "$WORK" "web: a broken manifest"
git -C "$WORK" tag broken
git -C "$WORK" rm -q -r apps/web
commit_all "$WORK" "no web at all"
git -C "$WORK" tag noweb
git -C "$WORK" checkout -q main
git -C "$WORK" branch -q -D side
push >/dev/null
if ! start_git_daemon "$BASE"; then
	fail "git daemon starts"
	exit 1
fi
URL="git://127.0.0.1:$GIT_PORT/homelab.git"
check "the git daemon serves the repository" git ls-remote --exit-code "$URL" refs/heads/main

plumb sync --repo "$URL" --path apps/db --root "$ROOT" --state "$STATE"
expect_rc "sync of apps/db exits 0" 0
plumb sync --repo "$URL" --path apps/web --root "$ROOT" --state "$STATE"
expect_rc "sync of apps/web at the tip (v3) exits 0" 0
disk_is "the root holds apps/web v3 and apps/db" v3

# --- roll apps/web back to v1 --------------------------------------------------------------

plumb rollback apps/web --to v1 --repo "$URL" --root "$ROOT" --state "$STATE"
expect_rc "rollback apps/web --to v1 exits 0" 0
R1=$(served_tip)
if [ "$R1" != "$C4" ] && [ "$(git -C "$BARE" rev-list --count "$C4..$R1" 2>&1)" = 1 ] &&
	[ "$(git -C "$BARE" rev-list --parents -n 1 "$R1")" = "$R1 $C4" ]; then
	ok "the remote branch gained exactly one commit, whose only parent is the old tip"
else
	fail "the remote branch gained exactly one commit, whose only parent is the old tip" \
		"old tip $C4, main $R1" "$(git -C "$BARE" log --format='%H %P %s' -n 3 main 2>&1)"
fi
if contains "$OUT" "$R1"; then ok "rollback prints the commit it made"; else fail "rollback prints the commit it made" "main: $R1" "$(show)"; fi
if [ "$(git -C "$BARE" rev-parse "$R1:apps/web")" = "$(git -C "$BARE" rev-parse "$C1:apps/web")" ] &&
	[ -z "$(git -C "$BARE" diff --stat "$C1" "$R1" -- apps/web)" ]; then
	ok "the commit's apps/web is v1's"
else
	fail "the commit's apps/web is v1's" "$(git -C "$BARE" diff --stat "$C1" "$R1" -- apps/web)"
fi
if [ "$(git -C "$BARE" rev-parse "$R1:apps/db")" = "$(git -C "$BARE" rev-parse "$C4:apps/db")" ] &&
	[ -z "$(git -C "$BARE" diff --name-only "$C4" "$R1" -- . ':(exclude)apps/web')" ] &&
	[ -n "$(git -C "$BARE" diff --name-only "$C4" "$R1" -- apps/web)" ]; then
	ok "everything outside apps/web (apps/db at db 2, README) is the old tip's"
else
	fail "everything outside apps/web (apps/db at db 2, README) is the old tip's" \
		"$(git -C "$BARE" diff --stat "$C4" "$R1" 2>&1)"
fi

msg=$(git -C "$BARE" log -1 --format=%B "$R1")
subject=$(git -C "$BARE" log -1 --format=%s "$R1")
if contains "$subject" "v1" && contains "$subject" "apps/web" && contains "$msg" "$C1"; then
	ok "the message names v1, apps/web and the full target commit id"
else
	fail "the message names v1, apps/web and the full target commit id" "target $C1" "$msg"
fi
line_c4=$(grep -n "^${C4:0:7}[0-9a-f]* web v3: drop legacy\$" <<<"$msg" | cut -d: -f1)
line_c2=$(grep -n "^${C2:0:7}[0-9a-f]* web v2: add the cache\$" <<<"$msg" | cut -d: -f1)
if [ -n "$line_c4" ] && [ -n "$line_c2" ] && [ "$line_c4" -lt "$line_c2" ]; then
	ok "the message lists the reverted commits that touched apps/web, newest first"
else
	fail "the message lists the reverted commits that touched apps/web, newest first" "v3 $C4" "v2 $C2" "$msg"
fi
if ! contains "$msg" "${C3:0:7}" && ! contains "$msg" "db 2: tune" && ! contains "$msg" "${C1:0:7} "; then
	ok "the message does not list the apps/db commit nor the target itself"
else
	fail "the message does not list the apps/db commit nor the target itself" "db commit $C3" "$msg"
fi
author=$(git -C "$BARE" log -1 --format='%an <%ae>' "$R1")
if [ "$author" = "plumb <plumb@$HOST>" ]; then
	ok "the default author is plumb <plumb@HOST>"
else
	fail "the default author is plumb <plumb@HOST>" "author: $author" "host: $HOST"
fi

disk_is "the root holds apps/web v1: v2/v3 additions pruned, v3 removals restored" v1

# The record: history newest first, its actions, the audit log.
plumb history --state "$STATE"
first=$(sed -n 2p <<<"$OUT")
if [ "$RC" = 0 ] && grep -qw rollback <<<"$first" && contains "$first" "${R1:0:7}" &&
	[ "$(grep -c "${R1:0:7}" <<<"$OUT")" = 1 ]; then
	ok "history lists the rollback sync first, with the new commit"
else
	fail "history lists the rollback sync first, with the new commit" "rollback commit $R1" "$(show)"
fi
plumb history --state "$STATE" -o json
summary=$(python3 -c 'import json, sys
s = json.load(sys.stdin)["syncs"]
print(len(s), s[0]["id"], s[0]["operation"], s[0]["commit"], s[0]["application"], s[0]["result"],
      "%d/%d/%d" % (s[0]["created"], s[0]["updated"], s[0]["deleted"]))' <<<"$OUT" 2>&1)
ROLLBACK_ID=$(cut -d' ' -f2 <<<"$summary")
# v1 from v3: legacy.conf and old.txt created; web.conf, motd, index.html
# updated; cache.conf, new.txt, assets/v3.css and assets/ deleted.
if [ "$summary" = "3 $ROLLBACK_ID rollback $R1 apps/web succeeded 2/3/4" ]; then
	ok "history -o json: operation rollback, the new commit, application apps/web, 2/3/4"
else
	fail "history -o json: operation rollback, the new commit, application apps/web, 2/3/4" "summary: $summary" "$(show)"
fi
plumb history show "$ROLLBACK_ID" --state "$STATE"
missing=
for want in "Operation:   rollback" "Commit:      $R1" "etc/web/legacy.conf" "srv/web/old.txt" "etc/web/cache.conf" \
	"srv/web/new.txt" "srv/web/assets/v3.css" "etc/web/web.conf" "Actions: 9"; do
	contains "$OUT" "$want" || missing="$missing [$want]"
done
if [ "$RC" = 0 ] && [ -z "$missing" ]; then
	ok "history show ID lists the rollback and each of its actions"
else
	fail "history show ID lists the rollback and each of its actions" "missing:$missing" "$(show)"
fi
plumb audit verify --state "$STATE"
if [ "$RC" = 0 ] && [[ "$OUT" =~ ^audit\ log\ intact:\ [0-9]+\ entries$ ]]; then
	ok "audit verify finds the log intact after the rollback"
else
	fail "audit verify finds the log intact after the rollback" "$(show)"
fi

# The push was a plain fast-forward: a work clone pulls it.
capture git -C "$WORK" pull -q --ff-only origin main
if [ "$RC" = 0 ] && [ "$(head_of "$WORK")" = "$R1" ] && [ -z "$(git -C "$WORK" status --porcelain)" ] &&
	[ -z "$(git -C "$WORK" diff "$C1" HEAD -- apps/web)" ] && [ "$(cat "$WORK/apps/db/db.yaml" | grep -c 'db 2')" = 1 ]; then
	ok "a work clone fast-forwards to the rollback commit"
else
	fail "a work clone fast-forwards to the rollback commit" "$(show)" "$(git -C "$WORK" log --oneline -3)"
fi

# --- a second rollback, forward to v3, with --author ---------------------------------------

plumb rollback apps/web --to v3 --author 'Jane Ops <jane@example.org>' --repo "$URL" --root "$ROOT" --state "$STATE"
expect_rc "rollback --to v3 --author exits 0" 0
R2=$(served_tip)
author=$(git -C "$BARE" log -1 --format='%an <%ae>' "$R2")
if [ "$author" = "Jane Ops <jane@example.org>" ] && [ "$(git -C "$BARE" rev-list --parents -n 1 "$R2")" = "$R2 $R1" ]; then
	ok "--author sets the author of the next rollback commit, on top of the first"
else
	fail "--author sets the author of the next rollback commit, on top of the first" "author: $author" \
		"$(git -C "$BARE" log --format='%H %P %an <%ae>' -n 2 main)"
fi
msg=$(git -C "$BARE" log -1 --format=%B "$R2")
if [ "$(git -C "$BARE" rev-parse "$R2^{tree}")" = "$(git -C "$BARE" rev-parse "$C4^{tree}")" ] &&
	grep -q "^${R1:0:7}[0-9a-f]* Roll back apps/web to v1\$" <<<"$msg" && contains "$msg" "$C4" &&
	! contains "$msg" "${C2:0:7}"; then
	ok "the second commit restores v3's tree and lists the first rollback as reverted"
else
	fail "the second commit restores v3's tree and lists the first rollback as reverted" "$msg"
fi
disk_is "the root holds apps/web v3 again" v3

# --- refusals: nothing pushed, nothing synced ----------------------------------------------

tip=$(served_tip)
syncs=$(sync_count)
listing=$(tree_listing "$ROOT")

plumb rollback apps/web --to v3 --repo "$URL" --root "$ROOT" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "nothing to roll back"; then
	ok "rollback to the current content exits 1: nothing to roll back"
else
	fail "rollback to the current content exits 1: nothing to roll back" "$(show)"
fi
refused "nothing to roll back" "$tip" "$syncs" "$listing"

plumb rollback apps/web --to v2 --revision v1 --repo "$URL" --root "$ROOT" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "'v1'" && contains "$ERR" "not a branch" && contains "$ERR" "tag"; then
	ok "rollback --revision TAG exits 1 naming it: only a branch takes a commit"
else
	fail "rollback --revision TAG exits 1 naming it: only a branch takes a commit" "$(show)"
fi
refused "--revision TAG" "$tip" "$syncs" "$listing"

plumb rollback apps/web --to "$C2" --revision "$C4" --repo "$URL" --root "$ROOT" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "$C4" && contains "$ERR" "not a branch"; then
	ok "rollback --revision COMMIT exits 1 naming it"
else
	fail "rollback --revision COMMIT exits 1 naming it" "$(show)"
fi
refused "--revision COMMIT" "$tip" "$syncs" "$listing"

# plumb_source_branch takes "refs/heads/NAME" as well as NAME: with the tip's
# content as --to, the branch is accepted and there is nothing to roll back.
plumb rollback apps/web --to v3 --revision refs/heads/main --repo "$URL" --root "$ROOT" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "nothing to roll back"; then
	ok "rollback --revision refs/heads/BRANCH names the branch (nothing to roll back here)"
else
	fail "rollback --revision refs/heads/BRANCH names the branch (nothing to roll back here)" "$(show)"
fi
refused "--revision refs/heads/BRANCH" "$tip" "$syncs" "$listing"

plumb rollback apps/web --to no-such-release --repo "$URL" --root "$ROOT" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "no-such-release"; then
	ok "rollback to an unknown revision exits 1 naming it"
else
	fail "rollback to an unknown revision exits 1 naming it" "$(show)"
fi
refused "unknown --to" "$tip" "$syncs" "$listing"

# The remote refuses the push (a pre-receive hook).
cat >"$BARE/hooks/pre-receive" <<'EOF'
#!/bin/sh
echo "rollbacks need a review" >&2
exit 1
EOF
chmod 755 "$BARE/hooks/pre-receive"
plumb rollback apps/web --to v1 --repo "$URL" --root "$ROOT" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "refused" && contains "$ERR" "pre-receive hook declined"; then
	ok "a push the remote refuses: exit 1, the refusal named"
else
	fail "a push the remote refuses: exit 1, the refusal named" "$(show)"
fi
refused "refused push" "$tip" "$syncs" "$listing"
rm "$BARE/hooks/pre-receive"
plumb plan --repo "$URL" --path apps/web --root "$ROOT" --state "$STATE" --detailed-exitcode
if [ "$RC" = 0 ] && contains "$OUT" "$tip"; then
	ok "after the refused push the cache still follows the remote branch"
else
	fail "after the refused push the cache still follows the remote branch" "remote main $tip" "$(show)"
fi

# The remote branch moves after plumb fetched: a pre-receive hook moves main
# to a commit of someone else's (already in the repository under another ref)
# just before receive-pack updates it, as a concurrent push would.
git -C "$WORK" pull -q --ff-only origin main
printf 'homelab, edited elsewhere\n' >"$WORK/README.md"
commit_all "$WORK" "edit the README elsewhere"
OTHER=$(head_of "$WORK")
git -C "$WORK" push -q origin "HEAD:refs/concurrent/readme"
cat >"$BARE/hooks/pre-receive" <<EOF
#!/bin/sh
unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
git update-ref refs/heads/main $OTHER $tip
EOF
chmod 755 "$BARE/hooks/pre-receive"
plumb rollback apps/web --to v1 --repo "$URL" --root "$ROOT" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "refused" && [ "$(served_tip)" = "$OTHER" ]; then
	ok "a remote that moved under the push: exit 1, the refusal named"
else
	fail "a remote that moved under the push: exit 1, the refusal named" "main $(served_tip), other $OTHER" "$(show)"
fi
refused "remote moved" "$OTHER" "$syncs" "$listing"
rm "$BARE/hooks/pre-receive"

# --- a rollback that cannot be synced must not be pushed ------------------------------------
#
# Once pushed, a rollback cannot be taken back, and running it again finds
# nothing to roll back: so exit 1 must mean nothing was pushed, and exit 0
# that the commit was pushed and synced. After each case the served branch
# and the root are put back, so that a failure here does not cascade.

# unsynced NAME TIP SYNCS LISTING: the last rollback left no pushed-but-unsynced commit.
unsynced() {
	local name=$1 tip=$2 syncs=$3 listing=$4
	if [ "$RC" = 1 ] && [ "$(served_tip)" = "$tip" ] && [ "$(sync_count)" = "$syncs" ] &&
		[ "$listing" = "$(tree_listing "$ROOT")" ]; then
		ok "$name: exit 1, nothing pushed, nothing synced"
	elif [ "$RC" = 0 ] && [ "$(served_tip)" != "$tip" ] && [ "$(sync_count)" = $((syncs + 1)) ]; then
		ok "$name: exit 0, pushed and synced"
	else
		fail "$name: never a pushed commit left unsynced" "main $(served_tip), was $tip; syncs $(sync_count), were $syncs" \
			"$(show)"
	fi
	git -C "$BARE" update-ref refs/heads/main "$tip"
	"$PLUMB" sync --repo "$URL" --path apps/web --root "$ROOT" --state "$STATE" >/dev/null 2>&1
	syncs=$(sync_count)
}

tip=$(served_tip)
syncs=$(sync_count)
listing=$(tree_listing "$ROOT")

# Another apply holds the state lock (flock on STATE/lock) all along: until it is ended below,
# or for 5 minutes should the script not get there. (Not lib.sh's python3 function: $! must be the
# holder itself, to end it.) It is waited for to hold the lock, for up to a minute.
/usr/bin/python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(300)' "$STATE/lock" "$T/locked" &
holder=$!
deadline=$((SECONDS + 60))
until [ -e "$T/locked" ] || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
plumb rollback apps/web --to v1 --repo "$URL" --root "$ROOT" --state "$STATE"
if contains "$ERR" "locked"; then ok "a rollback while the state is locked says so"; else fail "a rollback while the state is locked says so" "$(show)"; fi
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
unsynced "rollback while another apply holds the lock" "$tip" "$syncs" "$listing"
syncs=$(sync_count)

# The target's apps/web holds a manifest plumb refuses.
plumb rollback apps/web --to broken --repo "$URL" --root "$ROOT" --state "$STATE"
unsynced "rollback to a revision with an invalid manifest" "$tip" "$syncs" "$listing"
syncs=$(sync_count)

# The target has no apps/web at all.
plumb rollback apps/web --to noweb --repo "$URL" --root "$ROOT" --state "$STATE"
unsynced "rollback to a revision without the application's path" "$tip" "$syncs" "$listing"
syncs=$(sync_count)
disk_is "the root holds apps/web v3 after the cases above" v3

# --- --no-commit: ahead of git until a sync catches up ---------------------------------------

tip=$(served_tip)
plumb rollback apps/web --to v2 --no-commit --repo "$URL" --root "$ROOT" --state "$STATE"
expect_rc "rollback --no-commit exits 0" 0
if [ "$(served_tip)" = "$tip" ] && [ -z "$(git -C "$BARE" for-each-ref refs/plumb)" ]; then
	ok "--no-commit leaves the remote branch alone"
else
	fail "--no-commit leaves the remote branch alone" "main $(served_tip), was $tip" "$(git -C "$BARE" for-each-ref)"
fi
disk_is "--no-commit syncs v2's apps/web" v2
plumb history --state "$STATE" -o json
last=$(python3 -c 'import json, sys
s = json.load(sys.stdin)["syncs"][0]
print(s["operation"], s["commit"], s["result"])' <<<"$OUT" 2>&1)
if [ "$last" = "rollback-no-commit $C2 succeeded" ]; then
	ok "history records the --no-commit sync of v2's commit"
else
	fail "history records the --no-commit sync of v2's commit" "last: $last"
fi
plumb status --root "$ROOT" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "Ahead of git" && contains "$OUT" "${C2:0:12}"; then
	ok "status says Ahead of git, naming the commit"
else
	fail "status says Ahead of git, naming the commit" "$(show)"
fi
plumb status --root "$ROOT" --state "$STATE" -o json
ahead=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["ahead_of_git"])' <<<"$OUT" 2>&1)
if [ "$ahead" = True ]; then ok 'status -o json has "ahead_of_git": true'; else fail 'status -o json has "ahead_of_git": true' "$(show)"; fi

# Another application synced into the same root does not catch apps/web up.
plumb sync --repo "$URL" --path apps/db --root "$ROOT" --state "$STATE"
expect_rc "a sync of apps/db meanwhile exits 0" 0
plumb status --root "$ROOT" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "Ahead of git" && grep -q '^<h1>v2</h1>$' "$ROOT/srv/web/index.html"; then
	ok "status still says Ahead of git after another application's sync"
else
	fail "status still says Ahead of git after another application's sync" "$(show)"
fi
plumb status --root "$ROOT" --state "$STATE" -o json
ahead=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["ahead_of_git"])' <<<"$OUT" 2>&1)
if [ "$ahead" = True ]; then
	ok "status -o json still has \"ahead_of_git\": true after another application's sync"
else
	fail "status -o json still has \"ahead_of_git\": true after another application's sync" "$(show)"
fi

plumb sync --repo "$URL" --path apps/web --root "$ROOT" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "$tip"; then
	ok "a normal sync brings apps/web back to the branch tip"
else
	fail "a normal sync brings apps/web back to the branch tip" "tip $tip" "$(show)"
fi
disk_is "after the sync the root holds the tip's apps/web (v3)" v3
plumb status --root "$ROOT" --state "$STATE"
if [ "$RC" = 0 ] && ! contains "$OUT" "Ahead of git" && contains "$OUT" "$tip"; then
	ok "status no longer says Ahead of git"
else
	fail "status no longer says Ahead of git" "$(show)"
fi
plumb status --root "$ROOT" --state "$STATE" -o json
ahead=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["ahead_of_git"])' <<<"$OUT" 2>&1)
if [ "$ahead" = False ]; then ok 'status -o json has "ahead_of_git": false'; else fail 'status -o json has "ahead_of_git": false' "$(show)"; fi

# --no-commit to the branch tip itself: the branch holds that commit, so the
# root is not ahead of git.
plumb rollback apps/web --to main --no-commit --repo "$URL" --root "$ROOT" --state "$STATE"
expect_rc "rollback --no-commit --to the tip exits 0" 0
plumb status --root "$ROOT" --state "$STATE"
if [ "$RC" = 0 ] && ! contains "$OUT" "Ahead of git"; then
	ok "--no-commit of the branch tip is not reported as ahead of git"
else
	fail "--no-commit of the branch tip is not reported as ahead of git" "tip $tip" "$(show)"
fi

# --- a local bare repository ---------------------------------------------------------------

LOCAL="$T/local.git"
ROOT2="$T/root2"
STATE2="$T/state2"
git clone -q --bare "$BARE" "$LOCAL"
ltip=$(git -C "$LOCAL" rev-parse main)
plumb sync --repo "$LOCAL" --path apps/db --root "$ROOT2" --state "$STATE2"
expect_rc "sync of apps/db from a local bare repository exits 0" 0
plumb sync --repo "$LOCAL" --path apps/web --root "$ROOT2" --state "$STATE2"
expect_rc "sync of apps/web from a local bare repository exits 0" 0
plumb rollback apps/web --to v1 --repo "$LOCAL" --root "$ROOT2" --state "$STATE2"
expect_rc "rollback in a local bare repository exits 0" 0
lnew=$(git -C "$LOCAL" rev-parse main)
if [ "$(git -C "$LOCAL" rev-list --parents -n 1 main)" = "$lnew $ltip" ] &&
	[ "$(git -C "$LOCAL" log -1 --format=%s main)" = "Roll back apps/web to v1" ] &&
	[ "$(git -C "$LOCAL" rev-parse "main:apps/web")" = "$(git -C "$LOCAL" rev-parse "$C1:apps/web")" ] &&
	[ "$(git -C "$LOCAL" rev-parse "main:apps/db")" = "$(git -C "$LOCAL" rev-parse "$ltip:apps/db")" ] &&
	[ -z "$(git -C "$LOCAL" for-each-ref refs/plumb)" ]; then
	ok "the local repository's branch moved to the rollback commit"
else
	fail "the local repository's branch moved to the rollback commit" "$(git -C "$LOCAL" log --format='%H %P %s' -n 2 main)"
fi
if [ "$(served_tip)" = "$tip" ]; then ok "the served repository is untouched"; else fail "the served repository is untouched"; fi
disk_is "the local rollback syncs apps/web v1" v1 "$ROOT2"
plumb status --root "$ROOT2" --state "$STATE2"
if [ "$RC" = 0 ] && contains "$OUT" "$lnew" && ! contains "$OUT" "Ahead of git"; then
	ok "status after the local rollback shows its commit, not ahead of git"
else
	fail "status after the local rollback shows its commit, not ahead of git" "$(show)"
fi
