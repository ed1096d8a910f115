#!/usr/bin/env bash
# What the store makes durable, checked by what plumb asks of the kernel
# (strace): a sync that changed something syncs the store's WAL after its
# last record; a sync that changed nothing syncs nothing; the WAL is kept
# between runs and checkpointed into the database once it has grown, so that
# reading it back stays cheap.
. "$(dirname "$0")/lib.sh"

REPO="$T/repo"
ROOT="$T/root"
STATE="$T/state"
DB="$STATE/plumb.db"
SRC=(--repo "$REPO" --root "$ROOT" --state "$STATE")

make_motd_repo "$REPO"

# trace NAME COMMAND...: run COMMAND under strace, descriptors shown with their paths (-y).
# (LeakSanitizer cannot run under ptrace: the rest of the suite checks leaks.)
trace() {
	local name=$1
	shift
	capture env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -y -e trace=pwrite64,write,fsync,fdatasync,unlink \
		-o "$T/$name.trace" "$@"
}

# The line numbers, in the trace, of the last write to the WAL and of the last sync of it.
last_wal_write() { grep -nE '^[0-9]+ +p?write(64)?\([0-9]+<[^>]*plumb\.db-wal>' "$1" | tail -1 | cut -d: -f1; }
last_wal_sync() { grep -nE '^[0-9]+ +f(data)?sync\([0-9]+<[^>]*plumb\.db-wal>' "$1" | tail -1 | cut -d: -f1; }
wal_size() { stat -c %s "$DB-wal" 2>/dev/null || echo none; }

# --- a sync that changes something ---------------------------------------------------------------
trace create "$PLUMB" sync "${SRC[@]}"
written=$(last_wal_write "$T/create.trace")
synced=$(last_wal_sync "$T/create.trace")
if [ "$RC" = 0 ] && [ -n "$written" ] && [ -n "$synced" ] && [ "$synced" -gt "$written" ]; then
	ok "a sync that creates a file syncs the WAL after its last record"
else
	fail "a sync that creates a file syncs the WAL after its last record" "$(show)" \
		"last write to the WAL: line ${written:-none}, last sync of it: line ${synced:-none}"
fi
finish=$(sqlite3 "$DB" "SELECT result || ' ' || created FROM syncs ORDER BY id DESC LIMIT 1")
if [ "$finish" = "succeeded 1" ]; then ok "its record says what it did"; else fail "its record says what it did" "$finish"; fi

# --- syncs that change nothing -------------------------------------------------------------------
capture "$PLUMB" sync "${SRC[@]}" # the first may start the WAL afresh, which syncs its header
trace nochange "$PLUMB" sync "${SRC[@]}"
syncs=$(grep -cE 'f(data)?sync\(' "$T/nochange.trace")
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 0 created, 0 updated, 0 deleted" && [ "$syncs" -eq 0 ]; then
	ok "a sync that changes nothing calls no fsync"
else
	fail "a sync that changes nothing calls no fsync" "$(show)" "$(grep -E 'f(data)?sync\(' "$T/nochange.trace")"
fi
if [ -f "$DB-wal" ] && ! grep -q 'unlink(' "$T/nochange.trace"; then
	ok "the WAL is kept between runs"
else
	fail "the WAL is kept between runs" "$(ls -la "$STATE")" "$(grep 'unlink(' "$T/nochange.trace")"
fi
count=$(sqlite3 "$DB" "SELECT count(*) FROM syncs WHERE result = 'succeeded'")
if [ "$count" = 3 ]; then ok "its record is kept all the same"; else fail "its record is kept all the same" "syncs: $count"; fi

# Many runs that change nothing: the WAL grows by a few pages each, and is checkpointed
# (emptied) before it passes 256 KiB, so each open reads back little.
largest=0
emptied=0
for i in $(seq 1 30); do
	capture "$PLUMB" sync "${SRC[@]}"
	[ "$RC" = 0 ] || break
	size=$(wal_size)
	[ "$size" = none ] && break
	[ "$size" -gt "$largest" ] && largest=$size
	[ "$size" -eq 0 ] && emptied=$((emptied + 1))
done
if [ "$RC" = 0 ] && [ "$size" != none ] && [ "$emptied" -ge 1 ] && [ "$largest" -le $((320 * 1024)) ]; then
	ok "over 30 runs the WAL is checkpointed ($emptied times) and stays small (at most $largest bytes)"
else
	fail "over 30 runs the WAL is checkpointed and stays small" "rc $RC, size $size, emptied $emptied times, largest $largest"
fi
count=$(sqlite3 "$DB" "SELECT count(*) FROM syncs WHERE result = 'succeeded'")
capture "$PLUMB" audit verify --state "$STATE"
if [ "$count" = 33 ] && [ "$RC" = 0 ]; then
	ok "every run is recorded, and the audit log verifies"
else
	fail "every run is recorded, and the audit log verifies" "syncs: $count" "$(show)"
fi

# --- any other record is made durable when the store closes ---------------------------------------
trace plan "$PLUMB" plan "${SRC[@]}"
written=$(last_wal_write "$T/plan.trace")
synced=$(last_wal_sync "$T/plan.trace")
event=$(sqlite3 "$DB" "SELECT event FROM audit ORDER BY id DESC LIMIT 1")
if [ "$RC" = 0 ] && [ "$event" = plan ] && [ -n "$written" ] && [ -n "$synced" ] && [ "$synced" -gt "$written" ]; then
	ok "a plan's audit entry is synced before plumb exits"
else
	fail "a plan's audit entry is synced before plumb exits" "$(show)" "last event: $event" \
		"last write to the WAL: line ${written:-none}, last sync of it: line ${synced:-none}"
fi

# --- a sync that fails is made durable too --------------------------------------------------------
sed -i 's/one/two/' "$REPO/m.yaml"
commit_all "$REPO" "two"
rm -rf "$ROOT/etc"
echo "a file where /etc should be a folder" >"$ROOT/etc"
trace failed "$PLUMB" sync "${SRC[@]}"
written=$(last_wal_write "$T/failed.trace")
synced=$(last_wal_sync "$T/failed.trace")
if [ "$RC" = 1 ] && [ -n "$written" ] && [ -n "$synced" ] && [ "$synced" -gt "$written" ]; then
	ok "a sync that fails syncs the WAL after recording the failure"
else
	fail "a sync that fails syncs the WAL after recording the failure" "$(show)" \
		"last write to the WAL: line ${written:-none}, last sync of it: line ${synced:-none}"
fi

exit 0
