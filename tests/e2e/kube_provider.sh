#!/usr/bin/env bash
# The kubernetes provider (src/providers/kubernetes/provider.h) against a
# real kube-apiserver: start one on loopback (tests/kube/start), run
# build/test/kube/test_provider with what the server's env file says, and
# stop the server. The program prints the TAP lines.
#
# The binaries come from tests/kube/build (make test builds them first);
# without them this script fails rather than pass with nothing tested.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

kube_script
kube_test_program test_provider "the provider's tests"
