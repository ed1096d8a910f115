#!/usr/bin/env bash
# Applications end to end: an app of apps (root/apps.yaml declaring db, web
# and cache), checked, synced in order into their own roots, one at a time,
# planned into a plan file, with an unknown name, with a failing dependency,
# in status and render, and the inventory keeping applications apart.
. "$(dirname "$0")/lib.sh"

plumb() {
	capture "$PLUMB" "$@"
}

REPO="$T/repo"
STATE="$T/state"
R="$T/root"

# The Applications are declared out of order: cache (wave 1), web (depends
# on db), db. The order to sync is db, web, cache.
write_apps() {
	mkdir -p "$REPO/root"
	cat >"$REPO/root/apps.yaml" <<'EOF'
apiVersion: plumb/v1
kind: Application
metadata: {name: cache}
spec:
  source: {path: apps/cache}
  wave: 1
---
apiVersion: plumb/v1
kind: Application
metadata: {name: web}
spec:
  source: {path: apps/web}
  destination: {host: {root: /srv/web}}
  dependsOn: [db]
---
apiVersion: plumb/v1
kind: Application
metadata: {name: db}
spec:
  source: {path: apps/db}
  wave: 0
EOF
}

write_db() { # PORT
	mkdir -p "$REPO/apps/db"
	cat >"$REPO/apps/db/db.yaml" <<EOF
apiVersion: host/v1
kind: File
metadata: {name: db-conf}
spec:
  path: /etc/db/db.conf
  content: |
    port = $1
  mode: "0600"
---
apiVersion: host/v1
kind: Directory
metadata: {name: db-data}
spec: {path: /var/lib/db}
EOF
}

write_web() { # INDEX
	mkdir -p "$REPO/apps/web/site"
	cat >"$REPO/apps/web/web.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: web-index}
spec: {path: /index.html, source: apps/web/site/index.html}
---
apiVersion: host/v1
kind: Symlink
metadata: {name: web-current}
spec: {path: /current, target: index.html}
---
apiVersion: host/v1
kind: Directory
metadata: {name: web-logs}
spec: {path: /logs, mode: "0700"}
EOF
	printf '%s\n' "$1" >"$REPO/apps/web/site/index.html"
}

write_cache() {
	mkdir -p "$REPO/apps/cache"
	cat >"$REPO/apps/cache/cache.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: cache-conf}
spec: {path: /etc/cache.conf, content: "size = 64m\n"}
EOF
}

# expected DIR DB_PORT WEB_INDEX [no-web] [no-db]
expected() {
	local d=$1
	rm -rf "$d" && mkdir -p "$d"
	if [ "${5:-}" != no-db ]; then
		mkdir -p "$d/etc/db" "$d/var/lib/db"
		printf 'port = %s\n' "$2" >"$d/etc/db/db.conf"
		chmod 600 "$d/etc/db/db.conf"
	fi
	mkdir -p "$d/etc"
	printf 'size = 64m\n' >"$d/etc/cache.conf"
	if [ "${4:-}" != no-web ]; then
		mkdir -p "$d/srv/web/logs"
		chmod 700 "$d/srv/web/logs"
		printf '%s\n' "$3" >"$d/srv/web/index.html"
		ln -s index.html "$d/srv/web/current"
	fi
}

make_repo "$REPO"
write_apps
write_db 5432
write_web '<h1>one</h1>'
write_cache
commit_all "$REPO" "app of apps"

# --- check -------------------------------------------------------------------------------------

plumb check --repo "$REPO" --path root
lines=$(printf '%s\n' "$OUT" | grep '^OK: ')
want="OK: db: 2 resources, 2 objects in apps/db
OK: web: 3 resources, 3 objects in apps/web
OK: cache: 1 resources, 1 objects in apps/cache
OK: no plaintext secrets in the revision"
if [ "$RC" = 0 ] && [ "$lines" = "$want" ]; then
	ok "check --path root: each application OK, in order"
else
	fail "check --path root: each application OK, in order" "$(show)"
fi

plumb check --repo "$REPO" --path root web
if [ "$RC" = 0 ] && [ "$(printf '%s\n' "$OUT" | grep '^OK: ' | head -n 1)" = "OK: web: 3 resources, 3 objects in apps/web" ]; then
	ok "check --path root web: only web"
else
	fail "check --path root web: only web" "$(show)"
fi

# --- sync everything ---------------------------------------------------------------------------

plumb sync --repo "$REPO" --path root --root "$R" --state "$STATE"
expect_rc "sync --path root exits 0" 0
headers=$(printf '%s\n' "$OUT" | grep '^== Application')
same_listing "sync --path root: applications in order db, web, cache, each into its root" \
	"== Application db: apps/db -> $R
== Application web: apps/web -> $R/srv/web
== Application cache: apps/cache -> $R" "$headers"
if [ "$(printf '%s\n' "$OUT" | grep -c '^Apply complete: ')" = 3 ]; then
	ok "sync --path root: three applies"
else
	fail "sync --path root: three applies" "$(show)"
fi
expected "$T/exp" 5432 '<h1>one</h1>'
same_listing "sync --path root: exactly the expected tree" "$(tree_listing "$T/exp")" "$(tree_listing "$R")"

stats=$(stat_listing "$R")
plumb sync --repo "$REPO" --path root --root "$R" --state "$STATE"
if [ "$RC" = 0 ] && [ "$(printf '%s\n' "$OUT" | grep -c '^No changes')" = 3 ]; then
	ok "second sync: No changes for each application"
else
	fail "second sync: No changes for each application" "$(show)"
fi
same_listing "second sync touches nothing" "$stats" "$(stat_listing "$R")"

# --- status and render -------------------------------------------------------------------------

plumb status --root "$R" --state "$STATE"
managed=$(printf '%s\n' "$OUT" | grep -E '^  [A-Za-z]+ +/' | awk '{print $2, $3, $4}' | sort)
same_listing "status --root: db's and cache's objects, each with its application" \
	"/etc/cache.conf cache host/v1/File/cache-conf
/etc/db/db.conf db host/v1/File/db-conf
/var/lib/db db host/v1/Directory/db-data" "$managed"
plumb status --root "$R/srv/web" --state "$STATE"
managed=$(printf '%s\n' "$OUT" | grep -E '^  [A-Za-z]+ +/' | awk '{print $2, $3, $4}' | sort)
same_listing "status --root ROOT/srv/web: web's objects under its own root" \
	"/current web host/v1/Symlink/web-current
/index.html web host/v1/File/web-index
/logs web host/v1/Directory/web-logs" "$managed"
plumb status --root "$R" --state "$STATE" -o json
apps_json=$(printf '%s\n' "$OUT" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(sorted({o["application"] for o in d["objects"]})))' 2>&1)
if [ "$RC" = 0 ] && [ "$apps_json" = "cache db" ]; then
	ok "status -o json: every object names its application"
else
	fail "status -o json: every object names its application" "applications: $apps_json" "$(show)"
fi

plumb render --repo "$REPO" --path root -o json
names=$(printf '%s\n' "$OUT" | jq -r '[.applications[].objects[].object.metadata.name] | join(" ")' 2>&1)
if [ "$RC" = 0 ] && [ "$names" = "db-conf db-data web-index web-current web-logs cache-conf" ]; then
	ok "render --path root -o json: every application's resources, in order, and only JSON on stdout"
else
	fail "render --path root -o json: every application's resources, in order, and only JSON on stdout" "names: $names" "$(show)"
fi
if contains "$ERR" "== Application db" && contains "$ERR" "== Application cache"; then
	ok "render: the application headers go to stderr"
else
	fail "render: the application headers go to stderr" "$(show)"
fi
plumb render --repo "$REPO" --path root -o json cache
if [ "$RC" = 0 ] && [ "$(printf '%s\n' "$OUT" | jq -c '[.applications[].objects[].object]' 2>&1)" = '[{"apiVersion":"host/v1","kind":"File","metadata":{"name":"cache-conf"},"spec":{"path":"/etc/cache.conf","content":"size = 64m\n"}}]' ]; then
	ok "render --path root cache: only cache's resources"
else
	fail "render --path root cache: only cache's resources" "$(show)"
fi

# --- one application ---------------------------------------------------------------------------

write_db 6543
write_web '<h1>two</h1>'
commit_all "$REPO" "db and web change"
plumb sync --repo "$REPO" --path root --root "$R" --state "$STATE" web
headers=$(printf '%s\n' "$OUT" | grep '^== Application')
if [ "$RC" = 0 ] && [ "$headers" = "== Application web: apps/web -> $R/srv/web" ] &&
	contains "$OUT" "0 created, 1 updated, 0 deleted"; then
	ok "sync --path root web: only web is synced"
else
	fail "sync --path root web: only web is synced" "$(show)"
fi
expected "$T/exp" 5432 '<h1>two</h1>'
same_listing "sync --path root web: web changed, db did not" "$(tree_listing "$T/exp")" "$(tree_listing "$R")"

plumb sync --repo "$REPO" --path root --root "$R" --state "$STATE" web db
if [ "$RC" = 1 ] && contains "$ERR" "one application at most"; then
	ok "sync with two application names is refused"
else
	fail "sync with two application names is refused" "$(show)"
fi

# --- plan files --------------------------------------------------------------------------------

plumb plan --repo "$REPO" --path root --root "$R" --state "$STATE" -o "$T/all.plan"
if [ "$RC" = 1 ] && contains "$ERR" "a plan file holds one application's plan" && [ ! -e "$T/all.plan" ]; then
	ok "plan -o FILE with several applications is refused and writes nothing"
else
	fail "plan -o FILE with several applications is refused and writes nothing" "$(show)" "$(ls -la "$T")"
fi

plumb plan --repo "$REPO" --path root --root "$R" --state "$STATE" -o "$T/db.plan" db
fields=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["application"], d["path"], d["destination"])' "$T/db.plan" 2>&1)
if [ "$RC" = 0 ] && [ "$fields" = "db apps/db $R" ] && contains "$OUT" "0 to create, 1 to update, 0 to delete"; then
	ok "plan --path root db -o FILE: db's plan is saved"
else
	fail "plan --path root db -o FILE: db's plan is saved" "fields: $fields" "$(show)"
fi
expected "$T/exp" 5432 '<h1>two</h1>'
same_listing "plan changes nothing" "$(tree_listing "$T/exp")" "$(tree_listing "$R")"

# The saved plan belongs to application db: applying it must act as db.
plumb apply "$T/db.plan" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "0 created, 1 updated, 0 deleted"; then
	ok "apply of db's saved plan applies it"
else
	fail "apply of db's saved plan applies it" "$(show)"
fi
expected "$T/exp" 6543 '<h1>two</h1>'
same_listing "apply of db's saved plan: db changed" "$(tree_listing "$T/exp")" "$(tree_listing "$R")"
plumb status --root "$R" --state "$STATE"
if contains "$OUT" "/etc/db/db.conf  db  host/v1/File/db-conf" && ! contains "$OUT" "apps/db"; then
	ok "after the saved plan, db's objects still belong to application db"
else
	fail "after the saved plan, db's objects still belong to application db" "$(show)"
fi
# Whatever the plan file did, bring db up to date for what follows.
plumb sync --repo "$REPO" --path root --root "$R" --state "$STATE" db

# --- unknown names -----------------------------------------------------------------------------

for cmd in check render plan sync; do
	if [ "$cmd" = plan ] || [ "$cmd" = sync ]; then
		plumb "$cmd" --repo "$REPO" --path root --root "$R" --state "$STATE" nope
	else
		plumb "$cmd" --repo "$REPO" --path root nope
	fi
	if [ "$RC" = 1 ] && contains "$ERR" "no application 'nope'" && contains "$ERR" "(there are: db web cache)"; then
		ok "$cmd of an unknown application exits 1 naming the known ones"
	else
		fail "$cmd of an unknown application exits 1 naming the known ones" "$(show)"
	fi
done
expected "$T/exp" 6543 '<h1>two</h1>'
same_listing "an unknown application changes nothing" "$(tree_listing "$T/exp")" "$(tree_listing "$R")"

# --- a failing dependency ----------------------------------------------------------------------

# A directory where db's File goes: db fails, web (which depends on it) is
# not synced, cache (independent) still is.
R2="$T/root2"
mkdir -p "$R2/etc/db/db.conf"
plumb sync --repo "$REPO" --path root --root "$R2" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "/etc/db/db.conf" &&
	contains "$ERR" "application web not synced: it depends on db, which failed"; then
	ok "failing dependency: exit 1, db's error and why web was not synced"
else
	fail "failing dependency: exit 1, db's error and why web was not synced" "$(show)"
fi
headers=$(printf '%s\n' "$OUT" | grep '^== Application')
same_listing "failing dependency: db is tried, web is not, cache is" \
	"== Application db: apps/db -> $R2
== Application cache: apps/cache -> $R2" "$headers"
if [ ! -e "$R2/srv" ] && [ -d "$R2/etc/db/db.conf" ] && [ ! -e "$R2/var/lib/db" ] &&
	[ "$(cat "$R2/etc/cache.conf" 2>/dev/null)" = "size = 64m" ]; then
	ok "failing dependency: nothing of db or web, cache synced"
else
	fail "failing dependency: nothing of db or web, cache synced" "$(tree_listing "$R2")"
fi

# --- the inventory keeps applications apart ----------------------------------------------------

# Syncing one application never prunes another's objects.
plumb sync --repo "$REPO" --path root --root "$R" --state "$STATE" cache
if [ "$RC" = 0 ] && contains "$OUT" "No changes"; then
	ok "sync of cache alone: No changes (db's objects are not cache's to prune)"
else
	fail "sync of cache alone: No changes (db's objects are not cache's to prune)" "$(show)"
fi
write_db_without_data() {
	cat >"$REPO/apps/db/db.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: db-conf}
spec:
  path: /etc/db/db.conf
  content: |
    port = 6543
  mode: "0600"
EOF
}
write_db_without_data
commit_all "$REPO" "db drops its data directory"
plumb sync --repo "$REPO" --path root --root "$R" --state "$STATE"
if [ "$RC" = 0 ] && [ "$(printf '%s\n' "$OUT" | grep -c 'deleted Directory /var/lib/db')" = 1 ] &&
	[ "$(printf '%s\n' "$OUT" | grep -c '^deleted ')" = 1 ]; then
	ok "a resource leaving db is pruned once, by db, and nothing else is"
else
	fail "a resource leaving db is pruned once, by db, and nothing else is" "$(show)"
fi
expected "$T/exp" 6543 '<h1>two</h1>'
rm -rf "$T/exp/var/lib/db"
rmdir "$T/exp/var/lib" "$T/exp/var" 2>/dev/null
# The parents plumb created for /var/lib/db may stay or go; compare the rest.
same_listing "after db's prune: db, web and cache are otherwise intact" \
	"$(tree_listing "$T/exp")" "$(tree_listing "$R" | grep -vE '^var(/lib)? ')"

# Two applications claiming the same path in one root: the second one's plan fails naming the first.
cat >>"$REPO/apps/cache/cache.yaml" <<'EOF'
---
apiVersion: host/v1
kind: File
metadata: {name: cache-steals}
spec: {path: /etc/db/db.conf, content: "stolen\n"}
EOF
commit_all "$REPO" "cache claims db's file"
plumb sync --repo "$REPO" --path root --root "$R" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "/etc/db/db.conf is managed by application 'db', not 'cache'"; then
	ok "two applications, one path, one root: the second one's plan fails naming the first"
else
	fail "two applications, one path, one root: the second one's plan fails naming the first" "$(show)"
fi
if [ "$(cat "$R/etc/db/db.conf")" = "port = 6543" ]; then
	ok "two applications, one path: the first one's file is left as it is"
else
	fail "two applications, one path: the first one's file is left as it is" "$(cat "$R/etc/db/db.conf")"
fi
write_cache
commit_all "$REPO" "cache gives db's file back"

# The same across roots: db (root /) claiming web's /srv/web/index.html
# (web's root is /srv/web). One live file, two applications: the second
# one's plan must fail naming the other, not take the file back and forth
# on every sync.
R3="$T/root3"
cat >>"$REPO/apps/db/db.yaml" <<'EOF'
---
apiVersion: host/v1
kind: File
metadata: {name: db-steals}
spec: {path: /srv/web/index.html, content: "db\n"}
EOF
commit_all "$REPO" "db claims web's index through the parent root"
plumb sync --repo "$REPO" --path root --root "$R3" --state "$STATE"
plumb sync --repo "$REPO" --path root --root "$R3" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "index.html" && contains "$ERR" "application 'db'"; then
	ok "nested roots, one live file: the second application's plan fails naming the first"
else
	fail "nested roots, one live file: the second application's plan fails naming the first" "$(show)"
fi
write_db_without_data
commit_all "$REPO" "db gives web's index back"

# --- syncPolicy --------------------------------------------------------------------------------

# syncPolicy.prune: false (docs/manifests.md: "delete what plumb created and
# git no longer declares", default true): plumb sync keeps what left git.
R4="$T/root4"
cat >"$REPO/root/apps.yaml" <<'EOF'
apiVersion: plumb/v1
kind: Application
metadata: {name: cache}
spec:
  source: {path: apps/cache}
  syncPolicy: {prune: false}
EOF
commit_all "$REPO" "cache alone, without prune"
plumb sync --repo "$REPO" --path root --root "$R4" --state "$STATE"
expect_rc "prune false: first sync exits 0" 0
printf 'apiVersion: host/v1\nkind: Directory\nmetadata: {name: other}\nspec: {path: /etc/other}\n' >"$REPO/apps/cache/cache.yaml"
commit_all "$REPO" "cache.conf leaves git"
plumb sync --repo "$REPO" --path root --root "$R4" --state "$STATE"
if [ "$RC" = 0 ] && [ -f "$R4/etc/cache.conf" ] && [ -d "$R4/etc/other" ]; then
	ok "syncPolicy prune false: plumb sync keeps what left git"
else
	fail "syncPolicy prune false: plumb sync keeps what left git" "$(show)" "$(tree_listing "$R4")"
fi

# --- rollback names an Application ------------------------------------------------------------
# "plumb rollback web" restores web's path and syncs web into its own root, under web's name.

RB="$T/rollback.git"
RB_ROOT="$T/root-rollback"
RB_STATE="$T/state-rollback"
make_repo "$T/rollback-work"
mkdir -p "$T/rollback-work/root" "$T/rollback-work/apps/web"
cat >"$T/rollback-work/root/apps.yaml" <<'YAML'
apiVersion: plumb/v1
kind: Application
metadata: {name: web}
spec:
  source: {path: apps/web}
  destination: {host: {root: /srv/web}}
YAML
printf 'apiVersion: host/v1\nkind: File\nmetadata: {name: page}\nspec: {path: /index.html, content: "one\\n"}\n' \
	>"$T/rollback-work/apps/web/page.yaml"
commit_all "$T/rollback-work" "web one"
git -C "$T/rollback-work" tag v1
sed -i 's/one/two/' "$T/rollback-work/apps/web/page.yaml"
commit_all "$T/rollback-work" "web two"
git clone -q --bare "$T/rollback-work" "$RB"
plumb sync --repo "$RB" --path root --root "$RB_ROOT" --state "$RB_STATE"
expect_rc "rollback by name: the first sync exits 0" 0
plumb rollback web --to v1 --repo "$RB" --path root --root "$RB_ROOT" --state "$RB_STATE"
if [ "$RC" = 0 ] && [ "$(cat "$RB_ROOT/srv/web/index.html")" = one ] &&
	[ "$(git -C "$RB" log -1 --format=%s main)" = "Roll back apps/web to v1" ]; then
	ok "rollback by name: web's path is restored by a commit and synced into web's root"
else
	fail "rollback by name: web's path is restored by a commit and synced into web's root" "$(show)" \
		"$(git -C "$RB" log --oneline -3 main)"
fi
plumb status --root "$RB_ROOT/srv/web" --state "$RB_STATE"
if contains "$OUT" "/index.html  web  host/v1/File/page"; then
	ok "rollback by name: the object stays web's in the inventory"
else
	fail "rollback by name: the object stays web's in the inventory" "$(show)"
fi

# --- an Application of another repository -----------------------------------------------------
# plumb sync takes it from its own repository; plumb serve fetches that repository and follows it.

OTHER="$T/other"
MAIN="$T/main"
make_repo "$OTHER"
printf 'apiVersion: host/v1\nkind: File\nmetadata: {name: o}\nspec: {path: /other.txt, content: "other one\\n"}\n' \
	>"$OTHER/o.yaml"
commit_all "$OTHER" "other one"
make_repo "$MAIN"
mkdir -p "$MAIN/root"
printf 'apiVersion: plumb/v1\nkind: Application\nmetadata: {name: ext}\nspec:\n  source: {repo: %s, path: .}\n' \
	"$OTHER" >"$MAIN/root/apps.yaml"
commit_all "$MAIN" "an application of another repository"
plumb sync --repo "$MAIN" --path root --root "$T/root-ext" --state "$T/state-ext"
if [ "$RC" = 0 ] && [ "$(cat "$T/root-ext/other.txt")" = "other one" ]; then
	ok "another repository: plumb sync takes the Application from it"
else
	fail "another repository: plumb sync takes the Application from it" "$(show)"
fi

"$PLUMB" serve --repo "$MAIN" --path root --root "$T/root-ext" --state "$T/state-ext" --listen 127.0.0.1:0 \
	--interval 300ms 2>"$T/serve-ext.log" &
SERVE_EXT=$!
sed -i 's/other one/other two/' "$OTHER/o.yaml"
commit_all "$OTHER" "other two"
deadline=$((SECONDS + 60)) # only a failure waits this long, however slow or busy the machine
while [ "$(cat "$T/root-ext/other.txt")" != "other two" ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
kill -TERM "$SERVE_EXT"
wait "$SERVE_EXT"
serve_rc=$?
if [ "$(cat "$T/root-ext/other.txt")" = "other two" ] && [ "$serve_rc" = 0 ] &&
	grep -q 'msg=synced app=ext' "$T/serve-ext.log"; then
	ok "another repository: plumb serve follows the Application's own repository"
else
	fail "another repository: plumb serve follows the Application's own repository" "$(cat "$T/serve-ext.log")"
fi
