#!/usr/bin/env bash
# The kubernetes provider (src/providers/kubernetes/provider.h) against a
# real kube-apiserver: start one on loopback (tests/kube/start), run
# build/test/kube/test_provider with what the server's env file says, and
# stop the server. The program prints the TAP lines.
#
# The binaries come from tests/kube/build (make test builds them first);
# without them this script fails rather than pass with nothing tested.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

PROGRAM="$root/build/test/kube/test_provider"
KUBE_STATE="$T/kube"
trap kube_cleanup EXIT

if [ ! -x "$PROGRAM" ]; then
	fail "build/test/kube/test_provider is built" "run: make build/test/kube/test_provider"
	exit 1
fi
kube_start "the provider's tests"

mkdir -p "$T/provider"
KUBE_TEST_DIR="$T/provider" "$PROGRAM"
rc=$?
if [ "$rc" -eq 0 ]; then
	ok "test_provider exits 0"
else
	fail "test_provider exits 0" "exit $rc"
fi

check "stop ends the server" "$root/tests/kube/stop" "$KUBE_STATE"
KUBE_STARTED=0
[ "$TAP_FAILED" -eq 0 ] && [ "$rc" -eq 0 ]
