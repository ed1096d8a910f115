#!/usr/bin/env bash
# Speed by construction, checked by what plumb asks of the kernel (strace),
# not by the clock: a converge of many files is made durable with a flush
# before its renames and one after, not a flush a file or a folder (and a
# destination that spans two file systems gets both flushed); it records
# what it wrote without reading any of it back; a drift repair records the
# drift of many files in one commit of the store, not one a file; a
# no-change plan of settled files reads none of them
# (the stat cache answers); and a file changed behind the cache's back (same
# size, mtime set back) is still seen, because its ctime moved.
. "$(dirname "$0")/lib.sh"

REPO="$T/repo"
ROOT="$T/root"
STATE="$T/state"
FILES=240
SRC=(--repo "$REPO" --root "$ROOT" --state "$STATE")

make_repo "$REPO"
for i in $(seq 1 $FILES); do
	d="$REPO/files/d$((i / 50))"
	mkdir -p "$d"
	printf 'file %d of the tree, some text to make it ~200 bytes %0150d\n' "$i" 0 >"$d/f$i.txt"
done
cat >"$REPO/app.yaml" <<'EOF'
apiVersion: host/v1
kind: Tree
metadata: {name: files}
spec: {source: files, path: /srv/files}
EOF
commit_all "$REPO" "a tree"

# trace NAME SYSCALLS COMMAND...: run COMMAND under strace; its trace goes to $T/NAME.trace,
# with the path of every descriptor (-y). (LeakSanitizer cannot run under ptrace: the rest of
# the suite checks leaks.)
trace() {
	local name=$1 calls=$2
	shift 2
	capture env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -y -e trace="$calls" -o "$T/$name.trace" "$@"
}

# --- a converge: two flushes for the batch ---------------------------------------------------------
trace converge fsync,fdatasync,syncfs,openat,open "$PLUMB" sync "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 246 created"; then
	ok "the first sync creates every file and folder"
else
	fail "the first sync creates every file and folder" "$(show)"
fi
syncfs=$(grep -c 'syncfs(' "$T/converge.trace")
fsyncs=$(grep -E '(fsync|fdatasync)\(' "$T/converge.trace" | grep -cE "<$ROOT[/>]")
if [ "$syncfs" -eq 2 ] && [ "$fsyncs" -eq 0 ]; then
	ok "the $FILES files and their folders are made durable with two syncfs, no fsync"
else
	fail "the $FILES files and their folders are made durable with two syncfs, no fsync" \
		"syncfs: $syncfs, fsync/fdatasync beneath the root: $fsyncs"
fi
if [ -z "$(find "$ROOT" -name '.plumb-tmp.*')" ] && [ "$(find "$ROOT/srv/files" -type f | wc -l)" -eq $FILES ]; then
	ok "every file is in place and no temporary file is left"
else
	fail "every file is in place and no temporary file is left" "$(find "$ROOT" | head)"
fi
# A file is opened under its own name only to be read: the converge writes temporary files.
opened=$(grep -E 'open(at)?\(' "$T/converge.trace" | grep -cE '"f[0-9]+\.txt"')
written=$(grep -E 'open(at)?\(' "$T/converge.trace" | grep -E 'O_CREAT' | grep -cE '\.plumb-tmp\.[^"]*f[0-9]+\.txt"')
if [ "$opened" -eq 0 ] && [ "$written" -eq $FILES ]; then
	ok "the converge writes each file once and reads none of them back"
else
	fail "the converge writes each file once and reads none of them back" "opened: $opened, written: $written" \
		"$(grep -E '"f[0-9]+\.txt"' "$T/converge.trace" | head -5)"
fi
# What it recorded instead is what is there: mode, owner and the content's blob id, as a plan observes them.
mismatched=$(cd "$ROOT" && find srv/files -type f -printf '%P\n' | sort | while IFS= read -r f; do
	printf 'srv/files/%s|file %04o %s %s\n' "$f" "0$(stat -c %a "srv/files/$f")" "$(stat -c %u:%g "srv/files/$f")" \
		"$(git hash-object "srv/files/$f")"
done | diff - <(sqlite3 "$STATE/plumb.db" "SELECT key, fingerprint FROM inventory WHERE kind = 'File' ORDER BY key" |
	LC_ALL=C sort) | head -5)
if [ -z "$mismatched" ]; then
	ok "the inventory holds each file's live fingerprint"
else
	fail "the inventory holds each file's live fingerprint" "$mismatched"
fi

# --- no change: one lstat a file, nothing read ---------------------------------------------------
sleep 2.1 # what was written settles (statcache.h): from now on the stat data is trusted
capture "$PLUMB" plan "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "No changes"; then ok "a plan after the sync: No changes"; else fail "a plan after the sync: No changes" "$(show)"; fi
rows=$(sqlite3 "$STATE/plumb.db" "SELECT count(*) FROM stat_cache")
if [ "$rows" -eq $FILES ]; then
	ok "the stat cache holds one row a file ($rows)"
else
	fail "the stat cache holds one row a file" "rows: $rows"
fi

trace nochange openat,open,newfstatat,lstat,statx "$PLUMB" plan "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "No changes"; then ok "a second plan: No changes"; else fail "a second plan: No changes" "$(show)"; fi
opened=$(grep -E 'open(at)?\(' "$T/nochange.trace" | grep -cE 'f[0-9]+\.txt"')
statted=$(grep -E '(newfstatat|lstat|statx)\(' "$T/nochange.trace" | grep -cE 'f[0-9]+\.txt"')
if [ "$opened" -eq 0 ] && [ "$statted" -eq $FILES ]; then
	ok "a no-change plan stats each managed file once and opens none"
else
	fail "a no-change plan stats each managed file once and opens none" "opened: $opened, statted: $statted" \
		"$(grep -E 'f[0-9]+\.txt"' "$T/nochange.trace" | head -5)"
fi

# Going from a folder to those it holds and back, each folder is opened once, from the one above it.
folders=$(grep -cE 'open(at)?\(.*"(srv|files|d[0-9]+)"' "$T/nochange.trace")
dirs=$(find "$ROOT/srv" -type d | wc -l)
if [ "$folders" -le "$dirs" ]; then
	ok "a no-change plan opens each of the $dirs folders of the tree at most once ($folders opens)"
else
	fail "a no-change plan opens each of the $dirs folders of the tree at most once" "opens: $folders" \
		"$(grep -E 'open(at)?\(' "$T/nochange.trace" | head -20)"
fi

# --- a change the stat data nearly hides ---------------------------------------------------------
target="$ROOT/srv/files/d1/f60.txt"
touch -r "$target" "$T/stamp"
printf 'FILE %d of the tree, some text to make it ~200 bytes %0150d\n' 60 0 >"$target" # same size
touch -r "$T/stamp" "$target"                                                          # same mtime
capture "$PLUMB" plan "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 0 to create, 1 to update, 0 to delete." && contains "$OUT" "-FILE 60 of the tree"; then
	ok "a file rewritten with its size and mtime kept is seen as changed (its ctime moved)"
else
	fail "a file rewritten with its size and mtime kept is seen as changed (its ctime moved)" "$(show)"
fi
capture "$PLUMB" sync "${SRC[@]}"
if [ "$RC" = 0 ] && grep -q "^file 60 of the tree" "$target"; then ok "sync repairs it"; else fail "sync repairs it" "$(show)"; fi

# A file swapped for another inode with the same size, mtime and mode: a new inode, so hashed again.
sleep 2.1 # as above: the stat data of what the sync wrote is trusted once its ctime is 2 s old (a rule, not a guess)
capture "$PLUMB" plan "${SRC[@]}"
target="$ROOT/srv/files/d2/f120.txt"
cp -p "$target" "$T/copy"
sed -i 's/^file/FILE/' "$T/copy"
touch -r "$target" "$T/copy"
mv "$T/copy" "$target"
capture "$PLUMB" plan "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 0 to create, 1 to update, 0 to delete." && contains "$OUT" "/srv/files/d2/f120.txt"; then
	ok "a file replaced by another inode of the same size and mtime is seen as changed"
else
	fail "a file replaced by another inode of the same size and mtime is seen as changed" "$(show)"
fi

# --- a drift repair: the drift found is recorded in one commit, not one a file ---------------------
capture "$PLUMB" sync "${SRC[@]}" # the file swapped above is put back first
EDITED=60
for i in $(seq 1 $EDITED); do
	printf 'edited by hand\n' >"$(echo "$ROOT"/srv/files/d*/"f$i.txt")"
done
trace repair pwrite64 "$PLUMB" sync "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 0 created, $EDITED updated, 0 deleted."; then
	ok "a sync repairs the $EDITED files edited by hand"
else
	fail "a sync repairs the $EDITED files edited by hand" "$(show)"
fi
recorded=$(sqlite3 "$STATE/plumb.db" "SELECT count(*) FROM drift WHERE sync_id = (SELECT max(id) FROM syncs)")
kept=$(grep -lx 'edited by hand' "$STATE"/drift/* 2>/dev/null | wc -l)
if [ "$recorded" -eq $EDITED ] && [ "$kept" -eq $EDITED ]; then
	ok "each of them is recorded as drift, its content kept"
else
	fail "each of them is recorded as drift, its content kept" "recorded: $recorded, kept: $kept"
fi
# A commit of the store writes each page it changed to the log: a commit a drifted file costs ~10 writes a file.
logged=$(grep -c 'plumb\.db-wal>' "$T/repair.trace")
if [ "$logged" -lt $((3 * EDITED)) ]; then
	ok "the drift of $EDITED files costs the store's log fewer than $((3 * EDITED)) writes ($logged)"
else
	fail "the drift of $EDITED files costs the store's log fewer than $((3 * EDITED)) writes" "writes: $logged"
fi

# --- a destination on two file systems: each is flushed ---------------------------------------------
ROOT2="$T/root2"
mkdir -p "$ROOT2/srv/files/d3"
if mount -t tmpfs -o size=4m plumb-e2e "$ROOT2/srv/files/d3" 2>"$T/mount.err"; then
	trap 'umount "$ROOT2/srv/files/d3" 2>/dev/null; cleanup' EXIT
	trace split syncfs "$PLUMB" sync --repo "$REPO" --root "$ROOT2" --state "$T/state2"
	on_disk=$(grep 'syncfs(' "$T/split.trace" | grep -vc "<$ROOT2/srv/files/d3")
	on_tmpfs=$(grep 'syncfs(' "$T/split.trace" | grep -c "<$ROOT2/srv/files/d3")
	if [ "$RC" = 0 ] && [ "$on_disk" -eq 2 ] && [ "$on_tmpfs" -eq 2 ] &&
		[ "$(find "$ROOT2/srv/files/d3" -type f | wc -l)" -eq 50 ]; then
		ok "a converge into two file systems flushes both, before and after its renames"
	else
		fail "a converge into two file systems flushes both, before and after its renames" "$(show)" \
			"$(cat "$T/split.trace")"
	fi
elif grep -qi "permission denied\|not permitted" "$T/mount.err"; then
	# A container without the right to mount: this case cannot be set up here, and is not counted.
	echo "# not run: no permission to mount a tmpfs ($(cat "$T/mount.err"))"
else
	fail "a tmpfs can be mounted inside a destination" "$(cat "$T/mount.err")"
fi

exit 0
