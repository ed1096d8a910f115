#!/usr/bin/env bash
# One apply at a time per state directory. The holder is a real plumb: an
# 'apply' without --auto-approve on a pseudo-terminal, waiting at its
# "Only 'yes' will be accepted" prompt with the lock held. Against it: a
# sync and an apply of a saved plan turned away at once naming the holder's
# pid, --lock-timeout that waits for the holder to finish, --lock-timeout
# that gives up on time, a holder killed with SIGKILL leaving no stale lock,
# and another state directory that is not blocked at all.
. "$(dirname "$0")/lib.sh"

REPO="$T/repo"
STATE="$T/state"

make_repo "$REPO"
mkdir -p "$REPO/files"
printf 'lock test\n' >"$REPO/files/a.conf"
cat >"$REPO/lock.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: a}
spec: {path: /etc/a.conf, source: files/a.conf, mode: "0644"}
---
apiVersion: host/v1
kind: File
metadata: {name: b}
spec:
  path: /etc/b.conf
  content: |
    bee
  mode: "0600"
EOF
commit_all "$REPO" "two files"

mkdir -p "$T/expected/etc"
printf 'lock test\n' >"$T/expected/etc/a.conf"
printf 'bee\n' >"$T/expected/etc/b.conf"
chmod 600 "$T/expected/etc/b.conf"

# holder.py DIR ARGV...: run ARGV on a pseudo-terminal. Writes DIR/pid (the
# child's pid: the exec'd plumb), DIR/ready once the prompt is shown, and
# answers what DIR/go holds (when it appears). Exits as the child did, with
# its output in DIR/out. A safety deadline kills a child left waiting (only
# when the script went wrong: far beyond what a slow, busy machine takes).
cat >"$T/holder.py" <<'EOF'
import os, pty, select, sys, time
d, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
with open(d + "/pid.tmp", "w") as f:
    f.write(str(pid))
os.rename(d + "/pid.tmp", d + "/pid")
out = b""
asked = answered = False
deadline = time.time() + 300
while True:
    if time.time() > deadline:
        os.kill(pid, 9)
        deadline = float("inf")
    r, _, _ = select.select([fd], [], [], 0.02)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    if not asked and b"Only 'yes' will be accepted" in out:
        asked = True
        open(d + "/ready", "w").close()
    if asked and not answered and os.path.exists(d + "/go"):
        with open(d + "/go") as f:
            os.write(fd, f.read().encode())
        answered = True
_, status = os.waitpid(pid, 0)
with open(d + "/out", "wb") as f:
    f.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
EOF

HELPERS=()
kill_helpers() {
	local h
	for h in "${HELPERS[@]}"; do
		kill "$h" 2>/dev/null
	done
	[ -f "$T/h1/pid" ] && kill -9 "$(cat "$T/h1/pid")" 2>/dev/null
	[ -f "$T/h2/pid" ] && kill -9 "$(cat "$T/h2/pid")" 2>/dev/null
	return 0
}
# shellcheck disable=SC2154 # rc is assigned inside the trap
trap 'rc=$?; kill_helpers; (exit $rc); cleanup' EXIT

# start_holder NAME ROOT: a plumb apply into ROOT with $STATE, waiting at its prompt.
# Sets HOLDER_DIR, HOLDER_HELPER (the python process) and HOLDER_PID (plumb).
start_holder() {
	HOLDER_DIR="$T/$1"
	HOLDER_PID=
	mkdir -p "$HOLDER_DIR"
	/usr/bin/python3 "$T/holder.py" "$HOLDER_DIR" "$PLUMB" apply --repo "$REPO" --root "$2" --state "$STATE" \
		>"$HOLDER_DIR/log" 2>&1 &
	HOLDER_HELPER=$!
	HELPERS+=("$HOLDER_HELPER")
	local deadline=$((SECONDS + 60))
	while [ $SECONDS -lt $deadline ]; do
		[ -e "$HOLDER_DIR/ready" ] && break
		kill -0 "$HOLDER_HELPER" 2>/dev/null || break
		sleep 0.05
	done
	if [ -e "$HOLDER_DIR/ready" ]; then
		HOLDER_PID=$(cat "$HOLDER_DIR/pid")
		return 0
	fi
	wait "$HOLDER_HELPER"
	echo "holder $1 never reached the prompt (exit $?): $(cat "$HOLDER_DIR/out" "$HOLDER_DIR/log" 2>/dev/null)"
	return 1
}

now_ms() {
	local t=${EPOCHREALTIME/./}
	echo $((10#$t / 1000))
}

# What plumb promises of its waits is checked with lower bounds (it waited as long as told); upper
# bounds only tell a wait that ends from one that does not (plumb waiting for the holder, which
# waits minutes), and are generous for a slow, busy machine: "at once" is within AT_ONCE_MS.
AT_ONCE_MS=20000

# timed COMMAND...: capture, with the wall time in $MS.
timed() {
	local start
	start=$(now_ms)
	capture "$@"
	MS=$(($(now_ms) - start))
}

# A saved plan for the destination the first holder will hold.
capture "$PLUMB" plan --repo "$REPO" --root "$T/root" --state "$STATE" -o "$T/plan.json"
expect_rc "setup: plan -o saves a plan" 0

# --- a holder waiting at its prompt ---------------------------------------------------------------

if start_holder h1 "$T/root"; then
	ok "holder: apply without --auto-approve on a terminal waits at the prompt"
else
	fail "holder: apply without --auto-approve on a terminal waits at the prompt" "$(cat "$T/h1/out" 2>/dev/null)"
	exit 1
fi
if [ "$(readlink -f "/proc/$HOLDER_PID/exe")" = "$(readlink -f "$PLUMB")" ]; then
	ok "holder: the process holding the prompt is plumb itself (pid $HOLDER_PID)"
else
	fail "holder: the process holding the prompt is plumb itself" "pid $HOLDER_PID: $(readlink "/proc/$HOLDER_PID/exe")"
fi

timed "$PLUMB" sync --repo "$REPO" --root "$T/root" --state "$STATE"
if [ "$RC" = 1 ] && [ "$MS" -lt "$AT_ONCE_MS" ]; then
	ok "a second sync while the lock is held exits 1 at once (${MS} ms)"
else
	fail "a second sync while the lock is held exits 1 at once" "took ${MS} ms" "$(show)"
fi
if contains "$ERR" "pid $HOLDER_PID" && contains "$ERR" "--lock-timeout"; then
	ok "the refusal names the holder's pid and --lock-timeout"
else
	fail "the refusal names the holder's pid and --lock-timeout" "holder pid $HOLDER_PID" "$(show)"
fi
if ! grep -qE "pid $HOLDER_PID([^0-9]|$)" <<<"$ERR"; then
	fail "the pid named is exactly the holder's" "$(show)"
else
	ok "the pid named is exactly the holder's"
fi
if [ ! -e "$T/root" ]; then
	ok "the refused sync changed nothing (the root was not even created)"
else
	fail "the refused sync changed nothing (the root was not even created)" "$(tree_listing "$T/root")"
fi

timed "$PLUMB" apply "$T/plan.json" --state "$STATE"
if [ "$RC" = 1 ] && [ "$MS" -lt "$AT_ONCE_MS" ] && contains "$ERR" "pid $HOLDER_PID" && contains "$ERR" "--lock-timeout"; then
	ok "apply of a saved plan is turned away too, naming the holder"
else
	fail "apply of a saved plan is turned away too, naming the holder" "took ${MS} ms" "$(show)"
fi
if [ ! -e "$T/root" ]; then
	ok "the refused apply of a saved plan changed nothing"
else
	fail "the refused apply of a saved plan changed nothing" "$(tree_listing "$T/root")"
fi

# Another state directory is another lock.
timed "$PLUMB" sync --repo "$REPO" --root "$T/other-root" --state "$T/other-state"
if [ "$RC" = 0 ] && [ "$MS" -lt 60000 ] && contains "$OUT" "Apply complete: 2 created"; then
	ok "a sync with another --state is not blocked (${MS} ms)"
else
	fail "a sync with another --state is not blocked" "took ${MS} ms" "$(show)"
fi
same_listing "the sync with another --state applies its tree" "$(tree_listing "$T/expected")" "$(tree_listing "$T/other-root")"

# A timeout that runs out.
timed "$PLUMB" sync --repo "$REPO" --root "$T/root" --state "$STATE" --lock-timeout 1s
if [ "$RC" = 1 ] && [ "$MS" -ge 900 ] && [ "$MS" -lt 60000 ]; then
	ok "--lock-timeout 1s against a holder that stays: exit 1 after about 1 s (${MS} ms)"
else
	fail "--lock-timeout 1s against a holder that stays: exit 1 after about 1 s" "took ${MS} ms" "$(show)"
fi
if contains "$ERR" "pid $HOLDER_PID" && contains "$ERR" "--lock-timeout"; then
	ok "the timed-out sync names the holder's pid and --lock-timeout"
else
	fail "the timed-out sync names the holder's pid and --lock-timeout" "holder pid $HOLDER_PID" "$(show)"
fi
if [ ! -e "$T/root" ]; then
	ok "the timed-out sync changed nothing"
else
	fail "the timed-out sync changed nothing" "$(tree_listing "$T/root")"
fi

# A timeout long enough: the holder is answered 'yes' once the sync waits for the lock (it has
# STATE/lock open), and a second later (deliberately: the sync has then waited at least that long).
lock_waiter() { # a plumb with --lock-timeout 120s that has STATE/lock open
	local pid fd lock
	lock=$(readlink -f "$STATE/lock")
	for pid in $(pgrep -f -- '--lock-timeout 120s$'); do
		for fd in /proc/"$pid"/fd/*; do
			[ "$(readlink "$fd" 2>/dev/null)" = "$lock" ] && return 0
		done
	done
	return 1
}
(
	deadline=$((SECONDS + 60))
	until lock_waiter || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
	sleep 1
	printf 'yes\n' >"$HOLDER_DIR/go.tmp" && mv "$HOLDER_DIR/go.tmp" "$HOLDER_DIR/go"
) &
HELPERS+=("$!")
timed "$PLUMB" sync --repo "$REPO" --root "$T/root" --state "$STATE" --lock-timeout 120s
if [ "$RC" = 0 ] && [ "$MS" -ge 800 ]; then
	ok "--lock-timeout 120s waits for the holder to finish, then succeeds (${MS} ms)"
else
	fail "--lock-timeout 120s waits for the holder to finish, then succeeds" "took ${MS} ms" "$(show)"
fi
if contains "$OUT" "No changes"; then
	ok "the waiting sync planned after the holder applied: No changes"
else
	fail "the waiting sync planned after the holder applied: No changes" "$(show)"
fi
wait "$HOLDER_HELPER"
holder_rc=$?
if [ "$holder_rc" = 0 ] && grep -q "Apply complete: 2 created" "$HOLDER_DIR/out"; then
	ok "the holder, answered 'yes', applied"
else
	fail "the holder, answered 'yes', applied" "exit $holder_rc" "$(cat "$HOLDER_DIR/out")"
fi
same_listing "after both, the tree is exactly the expected one" "$(tree_listing "$T/expected")" "$(tree_listing "$T/root")"

# --- a holder killed with SIGKILL ---------------------------------------------------------------

if start_holder h2 "$T/root2"; then
	ok "second holder waits at the prompt"
else
	fail "second holder waits at the prompt" "$(cat "$T/h2/out" 2>/dev/null)"
	exit 1
fi
capture "$PLUMB" sync --repo "$REPO" --root "$T/root2" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "pid $HOLDER_PID"; then
	ok "the second holder holds the lock"
else
	fail "the second holder holds the lock" "holder pid $HOLDER_PID" "$(show)"
fi
kill -9 "$HOLDER_PID"
wait "$HOLDER_HELPER"
holder_rc=$?
# holder.py exits as the child did: -9 from waitstatus_to_exitcode, i.e. 247.
if [ "$holder_rc" = 247 ] && [ ! -e "/proc/$HOLDER_PID" ]; then
	ok "the second holder died of SIGKILL"
else
	fail "the second holder died of SIGKILL" "exit $holder_rc"
fi
timed "$PLUMB" sync --repo "$REPO" --root "$T/root2" --state "$STATE"
if [ "$RC" = 0 ] && [ "$MS" -lt "$AT_ONCE_MS" ] && contains "$OUT" "Apply complete: 2 created"; then
	ok "after the holder was killed, the next sync takes the lock at once (${MS} ms)"
else
	fail "after the holder was killed, the next sync takes the lock at once" "took ${MS} ms" "$(show)"
fi
same_listing "the sync after the killed holder applies the tree" "$(tree_listing "$T/expected")" "$(tree_listing "$T/root2")"
