#!/usr/bin/env bash
# STATE/render/ is pruned by use: reading an entry touches it, and a render
# that writes an entry sweeps, at most once a day, the entries and leftover
# temporary files not used for PLUMB_RENDER_CACHE_DAYS days (default 7);
# what was used, what is being written and what is not the cache's stays.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

KUSTOMIZE="$root/build/kustomize/bin/kustomize"
if [ ! -x "$KUSTOMIZE" ]; then
	fail "build/kustomize/bin/kustomize is built" "run: tests/kustomize/build"
	exit 1
fi
export PLUMB_KUSTOMIZE="$KUSTOMIZE"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
unset PLUMB_RENDER_CACHE_DAYS

REPO="$T/repo"
STATE="$T/state"
CACHE="$STATE/render"
make_repo "$REPO"
for app in one two three; do
	mkdir -p "$REPO/apps/$app"
	printf 'resources: [conf.yaml]\n' >"$REPO/apps/$app/kustomization.yaml"
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {v: "1"}\n' "$app" >"$REPO/apps/$app/conf.yaml"
done
commit_all "$REPO" "three kustomizations"

render() { # APP...: plumb render of each, in one process per app
	local app
	for app in "$@"; do
		capture "$PLUMB" render --repo "$REPO" --path "apps/$app" --state "$STATE" --namespace default
		[ "$RC" = 0 ] || fail "plumb render apps/$app" "$(show)"
	done
}
entries() { find "$CACHE" -maxdepth 1 -regextype posix-extended -regex '.*/[0-9a-f]{64}\.yaml' | sort; }
# The entry that holds APP's object: the cache is keyed by a hash, so find it by content.
entry_of() { grep -l "name: $1\$" "$CACHE"/*.yaml 2>/dev/null | head -n1; }
# The entries that are not in the listing $1.
new_entries() { comm -13 <(printf '%s\n' "$1") <(entries); }
age_days() { echo $((($(date +%s) - $(stat -c %Y "$1")) / 86400)); }

render one two three
if [ "$(entries | wc -l)" = 3 ] && [ -f "$CACHE/.swept" ]; then
	ok "three renders leave three entries and the time of the first sweep"
else
	fail "three renders leave three entries and the time of the first sweep" "$(ls -la "$CACHE")"
fi
ONE=$(entry_of one) TWO=$(entry_of two) THREE=$(entry_of three)

# Reading an entry touches it.
touch -d '10 days ago' "$ONE" "$TWO" "$THREE"
render one
if [ "$(age_days "$ONE")" = 0 ] && [ "$(age_days "$TWO")" = 10 ]; then
	ok "a render read from the cache touches its entry, and no other"
else
	fail "a render read from the cache touches its entry, and no other" "one: $(age_days "$ONE") days, two: $(age_days "$TWO") days"
fi

# A sweep ran today: a render that writes an entry does not sweep again.
sed -i 's/"1"/"2"/' "$REPO/apps/three/conf.yaml"
commit_all "$REPO" "three v2"
before=$(entries)
render three
THREE2=$(new_entries "$before")
if [ -n "$THREE2" ] && [ -f "$TWO" ] && [ -f "$THREE" ]; then
	ok "no second sweep within a day of the last"
else
	fail "no second sweep within a day of the last" "$(ls -la "$CACHE")"
fi

# A day later, the next render that writes an entry sweeps what was not used for 7 days.
printf 'partial' >"$CACHE/.plumb-tmp.999.0.$(basename "$TWO")"
printf 'left by a crash' >"$CACHE/.plumb-tmp.998.0.old.yaml"
touch -d '10 days ago' "$CACHE/.plumb-tmp.998.0.old.yaml"
printf 'not the cache' >"$CACHE/notes.yaml"
touch -d '10 days ago' "$CACHE/notes.yaml"
touch -d '6 days ago' "$THREE2"
touch -d '2 days ago' "$CACHE/.swept"
sed -i 's/"1"/"2"/' "$REPO/apps/one/conf.yaml"
commit_all "$REPO" "one v2"
render one
if [ ! -e "$TWO" ] && [ ! -e "$THREE" ] && [ ! -e "$CACHE/.plumb-tmp.998.0.old.yaml" ]; then
	ok "the sweep removes the entries and the temporary files not used for 7 days"
else
	fail "the sweep removes the entries and the temporary files not used for 7 days" "$(ls -la --time-style=+%F "$CACHE")"
fi
if [ -f "$ONE" ] && [ -f "$THREE2" ] && [ -f "$CACHE/.plumb-tmp.999.0.$(basename "$TWO")" ] &&
	[ -f "$CACHE/notes.yaml" ] && [ "$(entries | wc -l)" = 3 ]; then
	ok "the sweep keeps the entries used within 7 days, a file being written and what is not the cache's"
else
	fail "the sweep keeps the entries used within 7 days, a file being written and what is not the cache's" \
		"$(ls -la --time-style=+%F "$CACHE")"
fi
if [ "$(age_days "$CACHE/.swept")" = 0 ]; then
	ok "the sweep records when it ran"
else
	fail "the sweep records when it ran" "$(ls -la --time-style=+%F "$CACHE")"
fi
render two
if [ "$RC" = 0 ] && [ -n "$(entry_of two)" ]; then
	ok "an application whose entry was swept renders again"
else
	fail "an application whose entry was swept renders again" "$(show)"
fi

# PLUMB_RENDER_CACHE_DAYS sets how long an unused entry is kept; 0 keeps every one.
touch -d '10 days ago' "$ONE"
touch -d '2 days ago' "$CACHE/.swept"
sed -i 's/"2"/"3"/' "$REPO/apps/three/conf.yaml"
commit_all "$REPO" "three v3"
PLUMB_RENDER_CACHE_DAYS=30 render three
if [ -f "$ONE" ]; then
	ok "PLUMB_RENDER_CACHE_DAYS=30 keeps an entry unused for 10 days"
else
	fail "PLUMB_RENDER_CACHE_DAYS=30 keeps an entry unused for 10 days" "$(ls -la --time-style=+%F "$CACHE")"
fi
touch -d '40 days ago' "$ONE"
touch -d '2 days ago' "$CACHE/.swept"
sed -i 's/"3"/"4"/' "$REPO/apps/three/conf.yaml"
commit_all "$REPO" "three v4"
PLUMB_RENDER_CACHE_DAYS=0 render three
if [ -f "$ONE" ]; then
	ok "PLUMB_RENDER_CACHE_DAYS=0 keeps every entry"
else
	fail "PLUMB_RENDER_CACHE_DAYS=0 keeps every entry" "$(ls -la --time-style=+%F "$CACHE")"
fi
sed -i 's/"4"/"5"/' "$REPO/apps/three/conf.yaml"
commit_all "$REPO" "three v5"
before=$(entries)
PLUMB_RENDER_CACHE_DAYS=1 render three
if [ ! -e "$ONE" ] && [ -n "$(new_entries "$before")" ]; then
	ok "PLUMB_RENDER_CACHE_DAYS=1 removes an entry unused for 40 days"
else
	fail "PLUMB_RENDER_CACHE_DAYS=1 removes an entry unused for 40 days" "$(ls -la --time-style=+%F "$CACHE")"
fi

[ "$TAP_FAILED" -eq 0 ]
