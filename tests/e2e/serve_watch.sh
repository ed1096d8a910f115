#!/usr/bin/env bash
# plumb serve's inotify watches follow what is managed after every
# reconcile, whatever it changed:
#   restart   restarted on a destination already in sync (so it applies
#             nothing), it repairs a manual edit made the moment it says
#             "in sync", long before its periodic drift check (10 minutes);
#   dedup     a round costs one inotify_add_watch per distinct managed
#             directory, not one per object: a Tree of 300 files in one
#             folder is one call a round (counted with strace).
# Both daemons poll git and check drift every 10 minutes, so only inotify
# (or the look it takes after setting new watches) can explain a repair.
# Every wait polls for the expected state with a deadline.
. "$(dirname "$0")/lib.sh"

declare -A DPID DLOG DROOT DSTATE DREPO

logged() { grep -qE "$2" "${DLOG[$1]}"; }
file_is() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

# start_serve NAME [WRAPPER...]: plumb serve of DREPO[NAME] into DROOT[NAME], run by WRAPPER if given
# (strace); its log goes to a new DLOG[NAME]. Ready once it logs that it serves.
start_serve() {
	local name=$1
	shift
	DLOG[$name]="$T/serve-$name.$(date +%s%N).log"
	"$@" "$PLUMB" serve --repo "${DREPO[$name]}" --root "${DROOT[$name]}" --state "${DSTATE[$name]}" \
		--listen 127.0.0.1:0 --interval 10m --self-heal-interval 10m 2>"${DLOG[$name]}" &
	DPID[$name]=$!
	if wait_for 15000 logged "$name" ' msg=serving '; then
		ok "plumb serve ($name) starts"
	else
		fail "plumb serve ($name) starts" "$(log_tail "$name")"
		return 1
	fi
}

trap serve_cleanup EXIT

# =========================================================================================
# restart: a destination already in sync is watched from the first round
# =========================================================================================

DREPO[restart]="$T/repo-restart"
DROOT[restart]="$T/root-restart"
DSTATE[restart]="$T/state-restart"
make_motd_repo "${DREPO[restart]}"
MOTD="${DROOT[restart]}/etc/motd"

start_serve restart || exit 1
if wait_for 20000 logged restart ' msg=synced '; then
	ok "restart: the first daemon syncs the destination"
else
	fail "restart: the first daemon syncs the destination" "$(log_tail restart)"
fi
stop_and_check restart

start_serve restart || exit 1
if wait_for 20000 logged restart ' msg="in sync" '; then
	ok "restart: the second daemon finds the destination in sync"
else
	fail "restart: the second daemon finds the destination in sync" "$(log_tail restart)"
fi
# At once: no wait for the watches to be set.
printf 'edited by hand\n' >"$MOTD"
if wait_for 20000 file_is "$MOTD" one; then
	ok "restart: a manual edit right after 'in sync' is repaired within 20 s (drift checks every 10 min)"
	echo "# repaired in $ELAPSED ms"
else
	fail "restart: a manual edit right after 'in sync' is repaired within 20 s (drift checks every 10 min)" \
		"motd: $(cat "$MOTD")" "$(log_tail restart)"
fi
if logged restart ' msg=synced .*trigger=drift'; then
	ok "restart: the repair is logged as a sync triggered by drift"
else
	fail "restart: the repair is logged as a sync triggered by drift" "$(log_tail restart)"
fi
printf 'edited again\n' >"$MOTD"
if wait_for 20000 file_is "$MOTD" one; then
	ok "restart: a second manual edit is repaired as well"
else
	fail "restart: a second manual edit is repaired as well" "motd: $(cat "$MOTD")" "$(log_tail restart)"
fi
stop_and_check restart

# =========================================================================================
# dedup: one inotify_add_watch per distinct directory a round
# =========================================================================================

DREPO[dedup]="$T/repo-dedup"
DROOT[dedup]="$T/root-dedup"
DSTATE[dedup]="$T/state-dedup"
make_motd_repo "${DREPO[dedup]}"
mkdir -p "${DREPO[dedup]}/files/many"
for i in $(seq -w 0 299); do echo "file $i" >"${DREPO[dedup]}/files/many/f$i"; done
cat >"${DREPO[dedup]}/tree.yaml" <<'EOF'
apiVersion: host/v1
kind: Tree
metadata: {name: many}
spec: {source: files/many, path: /srv/many}
EOF
commit_all "${DREPO[dedup]}" "300 files in one folder"
TRACE="$T/dedup.trace"

start_serve dedup env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=inotify_add_watch -o "$TRACE" || exit 1
if wait_for 30000 logged dedup ' msg=synced '; then
	ok "dedup: the daemon syncs 300 files and /etc/motd"
else
	fail "dedup: the daemon syncs 300 files and /etc/motd" "$(log_tail dedup)"
fi
printf 'edited by hand\n' >"${DROOT[dedup]}/srv/many/f123"
if wait_for 20000 file_is "${DROOT[dedup]}/srv/many/f123" "file 123"; then
	ok "dedup: a manual edit in the Tree is repaired"
else
	fail "dedup: a manual edit in the Tree is repaired" "$(log_tail dedup)"
fi
# The daemon is strace's child.
stop_and_check dedup "$(pgrep -P "${DPID[dedup]}" | head -n 1)"

counts=$(python3 - "$TRACE" "${DROOT[dedup]}" <<'EOF'
import collections, re, sys
calls = collections.Counter(m.group(1) for m in re.finditer(r'inotify_add_watch\(\d+, "([^"]*)"', open(sys.argv[1]).read()))
root = sys.argv[2]
print(" ".join("%s=%d" % (path.replace(root, "ROOT", 1), n) for path, n in sorted(calls.items())))
EOF
)
# Each round watches each directory once: every directory is asked for as often as any other.
if [ -n "$counts" ] && [ "$(tr ' ' '\n' <<<"$counts" | cut -d= -f2 | sort -u | wc -l)" = 1 ] &&
	contains " $counts" " ROOT/srv/many=" && contains " $counts" " ROOT/etc="; then
	ok "dedup: each round costs one inotify_add_watch per distinct directory, not one per file"
	echo "# inotify_add_watch calls by directory: $counts"
else
	fail "dedup: each round costs one inotify_add_watch per distinct directory, not one per file" \
		"calls by directory: $counts" "$(log_tail dedup)"
fi

[ "$TAP_FAILED" -eq 0 ]
