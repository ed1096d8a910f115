#!/usr/bin/env bash
# The cluster connection (src/providers/kubernetes/: kubeconfig, client,
# discovery) against a real kube-apiserver: start one on loopback
# (tests/kube/start), run build/test/kube/test_client with what the server's
# env file says, and stop the server. The program prints the TAP lines.
#
# The binaries come from tests/kube/build (make test builds them first);
# without them this script fails rather than pass with nothing tested.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

kube_script
kube_test_program test_client "the cluster connection's tests"
