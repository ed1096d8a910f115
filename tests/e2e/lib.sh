# shellcheck shell=bash
# lib.sh - helpers for the end-to-end scripts in tests/e2e (sourced, not run).
#
# A script sources this file, then reports TAP lines ("ok - NAME" /
# "not ok - NAME") through ok, fail and check. Everything it makes lives in
# $T, a temporary directory removed on exit together with any git daemon
# started by start_git_daemon.
#
#   ok NAME                      report a pass
#   fail NAME [DETAIL...]        report a failure; DETAIL lines are printed as "# ..."
#   check NAME COMMAND...        pass when COMMAND exits 0, else fail with its output
#   capture COMMAND...           run COMMAND, keep stdout in $OUT, stderr in $ERR, status in $RC
#   make_repo DIR                a new repository (branch main) with deterministic commits
#   commit_all DIR MSG           stage everything in DIR and commit it; prints nothing
#   head_of DIR [REV]            the commit id of REV (default HEAD) in DIR
#   start_git_daemon BASE        a git daemon serving BASE on 127.0.0.1:$GIT_PORT
#   tree_listing DIR             an exact, sorted description of the tree under DIR
#   stat_listing DIR             path, inode and mtime (ns) of everything under DIR
#   same_listing NAME A B        compare two listings (files or strings) and report
#   kube_start WHAT              start an API server in $KUBE_STATE and export its env
#   kube_test_program NAME WHAT  run build/test/kube/NAME against a server started for WHAT
#   kube_cleanup                 an EXIT trap that also stops the API server in $KUBE_STATE

set -u
umask 022

# Debian's python3 (with python3-yaml from make test-deps), whatever else is first on PATH.
python3() { /usr/bin/python3 "$@"; }

: "${PLUMB:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/test/plumb}"
export PLUMB

T=$(mktemp -d "${TMPDIR:-/tmp}/plumb-e2e.XXXXXX")
export T
GIT_DAEMON_PID=
TAP_FAILED=0

cleanup() {
	local rc=$?
	if [ -n "$GIT_DAEMON_PID" ]; then
		kill "$GIT_DAEMON_PID" 2>/dev/null
		wait "$GIT_DAEMON_PID" 2>/dev/null
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Isolate git from the user's and the system's configuration, and plumb from
# the user's state directory.
export HOME="$T/home"
export XDG_STATE_HOME="$T/home/.local/state"
export XDG_CONFIG_HOME="$T/home/.config"
mkdir -p "$HOME"
export GIT_CONFIG_NOSYSTEM=1
export GIT_CONFIG_GLOBAL=/dev/null
export GIT_TERMINAL_PROMPT=0
export NO_COLOR=1
export LC_ALL=C
unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY

# --- TAP ---------------------------------------------------------------------------------

ok() {
	echo "ok - $1"
}

fail() {
	local name=$1
	shift
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok - $name"
	local line
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/#   /'
	done
}

check() {
	local name=$1
	shift
	local log="$T/.check.log"
	if "$@" >"$log" 2>&1; then
		ok "$name"
	else
		fail "$name" "command failed (exit $?): $*" "$(cat "$log")"
	fi
}

# Run a command; $OUT, $ERR and $RC hold what it printed and its status.
# A sanitizer report on stderr is a failure of its own.
CAPTURE_COUNT=0
capture() {
	CAPTURE_COUNT=$((CAPTURE_COUNT + 1))
	"$@" >"$T/.out" 2>"$T/.err"
	RC=$?
	OUT=$(cat "$T/.out")
	ERR=$(cat "$T/.err")
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/.err"; then
		local cmd="$*"
		cmd=${cmd//"$T"/\$T}
		fail "no sanitizer report from: ${cmd//"$PLUMB"/plumb}" "$ERR"
	fi
	return 0
}

# run_plumb ARGS...: capture plumb, and keep what it printed in $ALL_OUT, for a script that greps
# everything it was shown for a secret at the end.
ALL_OUT="$T/all-output"
: >"$ALL_OUT"
run_plumb() {
	capture "$PLUMB" "$@"
	printf '%s\n%s\n' "$OUT" "$ERR" >>"$ALL_OUT"
}

# run_with_secret VALUE -- ARGS...: run_plumb ARGS with $ENVNAME=VALUE in its environment (none
# when VALUE is empty), for a script that hands plumb a Secret's value through the environment.
run_with_secret() {
	local value=$1
	shift 2
	if [ -n "$value" ]; then
		local -x "$ENVNAME=$value"
	fi
	run_plumb "$@"
}

# b64 TEXT: TEXT base64-encoded, on one line.
b64() { printf %s "$1" | base64 -w0; }

# secret_patterns VALUE...: grep arguments that find any VALUE, plain or base64, into the array PATTERNS.
secret_patterns() {
	PATTERNS=()
	local value
	for value in "$@"; do PATTERNS+=(-e "$value" -e "$(b64 "$value")"); done
}

# render_with FILE CONTENT ARGS...: FILE (a path in $REPO) written as CONTENT and committed, then
# run_plumb render ARGS, then FILE put back as it was (or removed) and committed.
render_with() {
	local name=$1 file="$REPO/$1" content=$2 saved="" existed=0
	shift 2
	if [ -f "$file" ]; then
		existed=1
		saved=$(cat "$file")
	fi
	printf '%s\n' "$content" >"$file"
	commit_all "$REPO" "with $name"
	run_plumb render "$@"
	if [ "$existed" = 1 ]; then printf '%s\n' "$saved" >"$file"; else rm -f "$file"; fi
	commit_all "$REPO" "without $name"
}

# expect_err NAME TEXT: the last capture failed and said TEXT.
expect_err() {
	if [ "$RC" -ne 0 ] && contains "$ERR" "$2"; then ok "$1"; else fail "$1" "expected a failure saying: $2" "$(show)"; fi
}

# Print what a failed expectation saw.
show() {
	printf 'exit %s\n--- stdout\n%s\n--- stderr\n%s\n' "$RC" "$OUT" "$ERR"
}

# expect_rc NAME CODE: the last capture exited with CODE.
expect_rc() {
	if [ "$RC" -eq "$2" ]; then
		ok "$1"
	else
		fail "$1" "expected exit $2" "$(show)"
	fi
}

# contains HAYSTACK NEEDLE: a fixed-string match.
contains() {
	case "$1" in *"$2"*) return 0 ;; esac
	return 1
}

# --- git ---------------------------------------------------------------------------------

export GIT_AUTHOR_NAME="plumb e2e"
export GIT_AUTHOR_EMAIL="e2e@plumb.invalid"
export GIT_COMMITTER_NAME="plumb e2e"
export GIT_COMMITTER_EMAIL="e2e@plumb.invalid"
COMMIT_CLOCK=1700000000

make_repo() {
	git init -q -b main "$1"
}

commit_all() {
	local dir=$1 msg=$2
	COMMIT_CLOCK=$((COMMIT_CLOCK + 60))
	git -C "$dir" add -A &&
		GIT_AUTHOR_DATE="@$COMMIT_CLOCK +0000" GIT_COMMITTER_DATE="@$COMMIT_CLOCK +0000" \
			git -C "$dir" commit -q --allow-empty --no-verify -m "$msg"
}

# make_motd_repo DIR: a repository whose one manifest declares /etc/motd holding "one".
make_motd_repo() {
	make_repo "$1"
	cat >"$1/m.yaml" <<'YAML'
apiVersion: host/v1
kind: File
metadata: {name: motd}
spec: {path: /etc/motd, content: "one\n"}
YAML
	commit_all "$1" "one"
}

head_of() {
	git -C "$1" rev-parse --verify -q "${2:-HEAD}^{commit}"
}

free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Each attempt waits up to a minute for the port to open (only a failure waits that long, however
# slow or busy the machine); a daemon that dies (its port taken since) is tried again on another.
start_git_daemon() {
	local base=$1 port deadline
	for _ in 1 2 3 4 5; do
		port=$(free_port) || port=$((20000 + RANDOM % 20000))
		git daemon --reuseaddr --export-all --enable=receive-pack --base-path="$base" \
			--listen=127.0.0.1 --port="$port" "$base" >"$T/git-daemon.log" 2>&1 &
		GIT_DAEMON_PID=$!
		deadline=$((SECONDS + 60))
		while [ $SECONDS -lt $deadline ]; do
			if ! kill -0 "$GIT_DAEMON_PID" 2>/dev/null; then
				break
			fi
			if port_open "$port"; then
				export GIT_PORT=$port
				return 0
			fi
			sleep 0.05
		done
		kill "$GIT_DAEMON_PID" 2>/dev/null
		wait "$GIT_DAEMON_PID" 2>/dev/null
		GIT_DAEMON_PID=
	done
	echo "cannot start git daemon: $(cat "$T/git-daemon.log")" >&2
	return 1
}

# --- trees -------------------------------------------------------------------------------

# One line per path below DIR, sorted bytewise:
#   PATH TYPE MODE UID:GID sha256=HASH   (a regular file)
#   PATH TYPE MODE UID:GID -> TARGET     (a symlink)
#   PATH TYPE MODE UID:GID               (a directory or anything else)
tree_listing() {
	local dir=$1 p type mode owner
	(
		cd "$dir" || exit 1
		find . -mindepth 1 -print0 | sort -z | while IFS= read -r -d '' p; do
			p=${p#./}
			read -r type mode owner < <(stat -c '%F %a %u:%g' -- "$p" | sed 's/^regular empty file/regular-file/; s/^regular file/regular-file/; s/^symbolic link/symlink/')
			mode=$(printf '%04o' "0$mode")
			if [ "$type" = symlink ]; then
				printf '%s %s %s %s -> %s\n' "$p" "$type" "$mode" "$owner" "$(readlink -- "$p")"
			elif [ "$type" = regular-file ]; then
				printf '%s %s %s %s sha256=%s\n' "$p" "$type" "$mode" "$owner" "$(sha256sum <"$p" | cut -d' ' -f1)"
			else
				printf '%s %s %s %s\n' "$p" "$type" "$mode" "$owner"
			fi
		done
	)
}

# One line per path below DIR: PATH INODE MTIME-NS (symlinks not followed).
stat_listing() {
	(
		cd "$1" || exit 1
		find . -mindepth 1 -printf '%P %i %T@\n' | sort
	)
}

# same_listing NAME EXPECTED ACTUAL: compare two listings given as strings.
same_listing() {
	local name=$1
	if [ "$2" = "$3" ]; then
		ok "$name"
	else
		fail "$name" "$(diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | sed '1,2d')"
	fi
}

# --- daemons -----------------------------------------------------------------------------
#
# For the scripts that run plumb serve: each keeps a daemon's pid in DPID[NAME] and its
# log (standard error) in DLOG[NAME], and sets "trap serve_cleanup EXIT".
#
#   now_ms                       milliseconds since the epoch
#   wait_for MS COMMAND...       run COMMAND every 50 ms until it succeeds or MS pass; ELAPSED
#   wait_until DEADLINE COMMAND  the same, until an absolute now_ms deadline
#   running PID                  alive and not a zombie
#   log_tail NAME [N]            the last N (15) lines of DLOG[NAME]
#   sanitizer_free LOG           no AddressSanitizer, LeakSanitizer or UBSan report in LOG
#   stop_serve NAME [SIG] [PID]  signal a daemon and reap it: STOP_RC, STOP_MS
#   stop_and_check NAME [PID]    SIGTERM stops it with exit 0, and its log is sanitizer-free

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# wait_for MS COMMAND...: run COMMAND every 50 ms until it succeeds (0) or MS pass (1).
# ELAPSED is how long it took, in ms.
wait_for() {
	local ms=$1 start
	shift
	start=$(now_ms)
	wait_until $((start + ms)) "$@"
	local rc=$?
	ELAPSED=$(($(now_ms) - start))
	return $rc
}

# wait_until DEADLINE_MS COMMAND...: as wait_for, with an absolute deadline (now_ms clock).
wait_until() {
	local deadline=$1
	shift
	while :; do
		"$@" && return 0
		[ "$(now_ms)" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

running() { # PID: alive and not a zombie
	[ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

log_tail() { tail -n "${2:-15}" "${DLOG[$1]}" 2>/dev/null; }

sanitizer_free() { ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1"; }

# stop_serve NAME [SIGNAL] [PID]: send SIGNAL (TERM) to PID (default DPID[NAME]; the daemon's own
# pid when DPID[NAME] is a wrapper such as strace, which exits with the daemon's status), then reap
# DPID[NAME]. STOP_RC is its exit status and STOP_MS how long it took (-1: still running after
# 2 * WAIT_MS, when it is killed: a sync in flight, of 2000 files under the sanitizers, finishes first).
stop_serve() {
	local name=$1 sig=${2:-TERM} pid=${3:-${DPID[$1]:-}}
	STOP_RC=-1
	STOP_MS=-1
	[ -n "$pid" ] || return 0
	local start
	start=$(now_ms)
	kill -s "$sig" "$pid" 2>/dev/null
	if wait_for $((2 * ${WAIT_MS:-60000})) eval '! running '"$pid"; then
		STOP_MS=$(($(now_ms) - start))
	else
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "${DPID[$name]}" 2>/dev/null
	local rc=$?
	[ "$STOP_MS" -ge 0 ] && STOP_RC=$rc
	DPID[$name]=
}

# stop_and_check NAME [PID]: SIGTERM (to PID, as stop_serve) ends it with exit 0 after it logs that
# it stops, and its log holds no sanitizer report.
stop_and_check() {
	stop_serve "$1" TERM "${2:-}"
	if [ "$STOP_RC" = 0 ] && grep -q 'msg=stopping' "${DLOG[$1]}"; then
		ok "plumb serve ($1) stops on SIGTERM with exit 0"
		echo "# $1 stopped in ${STOP_MS} ms"
	else
		fail "plumb serve ($1) stops on SIGTERM with exit 0" "exit $STOP_RC after ${STOP_MS} ms" "$(log_tail "$1")"
	fi
	if sanitizer_free "${DLOG[$1]}"; then
		ok "plumb serve ($1) logged no sanitizer report"
	else
		fail "plumb serve ($1) logged no sanitizer report" "$(grep -A 30 -E 'Sanitizer|runtime error' "${DLOG[$1]}" | head -n 60)"
	fi
}

# stop_daemons: stop the daemons of DPID still running (and what a wrapper of one runs). Nothing
# when the script keeps no DPID.
stop_daemons() {
	local name
	declare -p DPID >/dev/null 2>&1 || return 0
	for name in "${!DPID[@]}"; do
		if [ -n "${DPID[$name]}" ]; then
			pkill -TERM -P "${DPID[$name]}" 2>/dev/null
			kill -TERM "${DPID[$name]}" 2>/dev/null
			wait "${DPID[$name]}" 2>/dev/null
		fi
	done
}

# serve_cleanup: the EXIT trap of such a script: stop the daemons still running, then clean up
# as cleanup does.
serve_cleanup() {
	local rc=$?
	stop_daemons
	(exit "$rc")
	cleanup
}

# --- the Kubernetes API server (tests/kube) --------------------------------------------------------
#
# A script that starts one with tests/kube/start calls kube_script first (KUBE_STATE, "trap
# kube_cleanup EXIT"); KUBE_STARTED=1 while it runs, and kube_cleanup stops it before it
# cleans up as cleanup does, after the script's daemons (DPID), which talk to it.

KUBE_STARTED=0

# kube_script: what a script that starts a server sets first: KUBECTL (the one make test
# builds), KUBE_STATE in $T, the tables of its daemons (DPID, DLOG), kube_cleanup as its EXIT
# trap, and kc, kubectl as the server's admin (once kube_start has run).
kube_script() {
	KUBECTL="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/kube/bin/kubectl"
	KUBE_STATE="$T/kube"
	declare -gA DPID DLOG
	trap kube_cleanup EXIT
}
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

# kube_start WHAT: start a server in $KUBE_STATE (reported as "a kube-apiserver starts for WHAT";
# the script exits when it does not), then export what its env file says, without the machine's
# proxy variables, which would send loopback requests elsewhere.
kube_start() {
	if "$(dirname "${BASH_SOURCE[0]}")/../kube/start" "$KUBE_STATE" >"$T/kube-start.out" 2>"$T/kube-start.err"; then
		KUBE_STARTED=1
		ok "a kube-apiserver starts for $1"
	else
		fail "a kube-apiserver starts for $1" "$(tail -n 40 "$T/kube-start.err")"
		exit 1
	fi
	set -a
	# shellcheck source=/dev/null
	. "$KUBE_STATE/env"
	set +a
	unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy KUBECONFIG
}

# kube_test_program NAME WHAT: run build/test/kube/NAME (a C test program printing TAP lines)
# against a server started for WHAT, with its env and KUBE_TEST_DIR, then stop the server.
# Missing binaries fail the script rather than pass it with nothing tested. Returns the
# script's status.
kube_test_program() {
	local name=$1 program
	program="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/test/kube/$1"
	if [ ! -x "$program" ]; then
		fail "build/test/kube/$name is built" "run: make build/test/kube/$name"
		return 1
	fi
	kube_start "$2"
	mkdir -p "$T/$name"
	KUBE_TEST_DIR="$T/$name" "$program"
	local rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$name exits 0"
	else
		fail "$name exits 0" "exit $rc"
	fi
	check "stop ends the server" "$(dirname "${BASH_SOURCE[0]}")/../kube/stop" "$KUBE_STATE"
	KUBE_STARTED=0
	[ "$TAP_FAILED" -eq 0 ] && [ "$rc" -eq 0 ]
}

# --- renderers --------------------------------------------------------------------------------

# render_programs: HELM and KUSTOMIZE are the ones make test builds (the script fails without
# them), first in PATH; renderers' private copies and HOME go under $T.
render_programs() {
	HELM="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/helm/bin/helm"
	KUSTOMIZE="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/kustomize/bin/kustomize"
	local program
	for program in "$HELM" "$KUSTOMIZE"; do
		if [ ! -x "$program" ]; then
			fail "$program is built" "run: tests/helm/build and tests/kustomize/build"
			exit 1
		fi
	done
	export PATH="$(dirname "$HELM"):$(dirname "$KUSTOMIZE"):$PATH"
	export TMPDIR="$T/tmp" HOME="$T/home"
	mkdir -p "$TMPDIR" "$HOME"
}

# chart_repository DIR: a Helm chart repository as helm serves them (the chart "dep" 0.2.0,
# packaged, making a ConfigMap RELEASE-dep; and its index.yaml), over HTTP on loopback.
# CHART_REPO is its URL, DPID[chartrepo] the server, DIR/server.log what it served.
chart_repository() {
	local dir=$1 port
	mkdir -p "$dir/repo" "$dir/src/templates"
	printf 'apiVersion: v2\nname: dep\nversion: 0.2.0\n' >"$dir/src/Chart.yaml"
	printf 'size: 1\n' >"$dir/src/values.yaml"
	printf 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "{{ .Release.Name }}-dep"}\ndata: {from: repository, size: "{{ .Values.size | default 1 }}"}\n' \
		>"$dir/src/templates/cm.yaml"
	"$HELM" package "$dir/src" -d "$dir/repo" >/dev/null && "$HELM" repo index "$dir/repo" || return 1
	port=$(free_port)
	(cd "$dir/repo" && exec python3 -m http.server --bind 127.0.0.1 "$port") >/dev/null 2>"$dir/server.log" &
	DPID[chartrepo]=$!
	CHART_REPO="http://127.0.0.1:$port"
	wait_for 10000 port_open "$port"
}

# oci_registry DIR [CERTS [HTPASSWD]]: distribution's OCI registry (tests/registry/build) on
# loopback, storing under DIR: over TLS with CERTS/server.pem and CERTS/server.key (servers.sh
# make_server_cert) when given, else plain HTTP; letting in only the users of the file HTPASSWD
# (htpasswd -B) when given. OCI_HOST is its host:port, DPID[registry-NAME] the server (NAME is
# DIR's base name), DIR/registry.log what it said.
oci_registry() {
	local dir=$1 certs=${2-} htpasswd=${3-} port registry
	registry="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/registry/bin/registry"
	[ -x "$registry" ] || return 1
	port=$(free_port)
	mkdir -p "$dir/data"
	{
		printf 'version: 0.1\nlog: {level: error}\n'
		printf 'storage: {filesystem: {rootdirectory: %s}, delete: {enabled: true}}\n' "$dir/data"
		printf 'http:\n  addr: 127.0.0.1:%s\n' "$port"
		[ -z "$certs" ] || printf '  tls: {certificate: %s, key: %s}\n' "$certs/server.pem" "$certs/server.key"
		[ -z "$htpasswd" ] || printf 'auth: {htpasswd: {realm: plumb-e2e, path: %s}}\n' "$htpasswd"
	} >"$dir/config.yml"
	"$registry" serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
	DPID[registry-$(basename "$dir")]=$!
	OCI_HOST="127.0.0.1:$port"
	wait_for 10000 port_open "$port"
}

# Objects as sorted canonical JSON, one a line, from a YAML stream on stdin.
canonical() {
	python3 -c '
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(sys.stdin) if d is not None]
for line in sorted(json.dumps(d, sort_keys=True) for d in docs):
    print(line)'
}

kube_cleanup() {
	local rc=$?
	stop_daemons
	if [ "$KUBE_STARTED" -eq 1 ]; then
		"$(dirname "${BASH_SOURCE[0]}")/../kube/stop" "$KUBE_STATE" >/dev/null 2>&1
	fi
	(exit "$rc")
	cleanup
}
