#!/usr/bin/env bash
# What every command pays before it does anything: the libraries it loads.
# The HTTP server's library (libmicrohttpd, and GnuTLS with it) is loaded by
# the server when it starts, and libcurl by a cluster connection when it
# opens, so that a sync or a plan of a host loads neither; that serve still
# loads its library and answers is what serve.sh and test_server check, that
# a cluster connection loads curl what kube_client.sh checks.
. "$(dirname "$0")/lib.sh"

REPO="$T/repo"
ROOT="$T/root"
STATE="$T/state"
SRC=(--repo "$REPO" --root "$ROOT" --state "$STATE")

make_motd_repo "$REPO"

# libraries NAME COMMAND...: run COMMAND under strace; the shared libraries it opened go to $T/NAME.libs.
libraries() {
	local name=$1
	shift
	capture env ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=openat,open -o "$T/$name.trace" "$@"
	grep -v ENOENT "$T/$name.trace" | grep -oE '"[^"]*\.so[.0-9]*"' | tr -d '"' | xargs -rn1 basename | sort -u >"$T/$name.libs"
}

for command in sync plan; do
	libraries "$command" "$PLUMB" "$command" "${SRC[@]}"
	if [ "$RC" = 0 ] && grep -q '^libgit2' "$T/$command.libs" && ! grep -qE '^lib(microhttpd|gnutls|curl)' "$T/$command.libs"; then
		ok "plumb $command loads neither libmicrohttpd, GnuTLS nor libcurl"
	else
		fail "plumb $command loads neither libmicrohttpd, GnuTLS nor libcurl" "$(show)" "$(cat "$T/$command.libs")"
	fi
done

exit 0
