#!/usr/bin/env bash
# A state directory on a read-only or full disk: plumb fails loudly before
# it changes anything live. The state directory lives on a small tmpfs
# mounted by the test (it runs as root, as make test does).
. "$(dirname "$0")/lib.sh"

REPO="$T/repo"
ROOT="$T/root"
DISK="$T/disk"
STATE="$DISK/state"

make_motd_repo "$REPO"

mkdir -p "$DISK"
if ! mount -t tmpfs -o size=512k plumb-e2e "$DISK" 2>"$T/mount.err"; then
	fail "a small disk for the state directory can be mounted" "$(cat "$T/mount.err")"
	exit 1
fi
trap 'umount "$DISK" 2>/dev/null; cleanup' EXIT

capture "$PLUMB" sync --repo "$REPO" --root "$ROOT" --state "$STATE"
if [ "$RC" = 0 ] && [ "$(cat "$ROOT/etc/motd")" = one ]; then ok "first sync with the state on the small disk"; else fail "first sync with the state on the small disk" "$(show)"; fi

sed -i 's/one/two/' "$REPO/m.yaml"
commit_all "$REPO" "two"
before=$(tree_listing "$ROOT"; stat_listing "$ROOT")

mount -o remount,ro "$DISK"
capture "$PLUMB" sync --repo "$REPO" --root "$ROOT" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "Read-only file system"; then
	ok "read-only state: sync exits 1 saying so"
else
	fail "read-only state: sync exits 1 saying so" "$(show)"
fi
same_listing "read-only state: nothing live changed" "$before" "$(tree_listing "$ROOT"; stat_listing "$ROOT")"

mount -o remount,rw "$DISK"
dd if=/dev/zero of="$DISK/filler" bs=4k count=1000 2>/dev/null
capture "$PLUMB" sync --repo "$REPO" --root "$ROOT" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "No space left on device"; then
	ok "full state disk: sync exits 1 saying so"
else
	fail "full state disk: sync exits 1 saying so" "$(show)"
fi
same_listing "full state disk: nothing live changed" "$before" "$(tree_listing "$ROOT"; stat_listing "$ROOT")"

rm -f "$DISK/filler"
capture "$PLUMB" sync --repo "$REPO" --root "$ROOT" --state "$STATE"
if [ "$RC" = 0 ] && [ "$(cat "$ROOT/etc/motd")" = two ]; then ok "with room again, the sync goes through"; else fail "with room again, the sync goes through" "$(show)"; fi
capture "$PLUMB" audit verify --state "$STATE"
if [ "$RC" = 0 ]; then ok "the audit log is intact after the failures"; else fail "the audit log is intact after the failures" "$(show)"; fi
