# shellcheck shell=bash
# servers.sh - what tests/kube/start and tests/kube/restart-apiserver share
# (sourced, not run): starting a server in a session of its own, waiting until
# it is ready, and the kube-apiserver's command line, so that a restarted
# server is the one start started.
#
# The caller sets state (STATE_DIR, absolute), bin, timeout, and for the
# kube-apiserver ca, pki, etcd_port, api_port and server, and defines say.

# launch NAME COMMAND...: run COMMAND in a new session (so a process group of
# its own), stdin from /dev/null, output to STATE_DIR/NAME.log; its pid goes
# to STATE_DIR/NAME.pid. Non-interactive bash runs "&" jobs without job
# control, so setsid is not a group leader and execs in place: $! is the
# server's own pid, and its process group id.
launch() {
	local name=$1
	shift
	setsid "$@" </dev/null >"$state/$name.log" 2>&1 &
	echo $! >"$state/$name.pid"
}

alive() {
	local pid state_char
	pid=$(cat "$state/$1.pid" 2>/dev/null) || return 1
	state_char=$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
	[ "$state_char" != Z ]
}

# wait_ready NAME CHECK-COMMAND...: poll CHECK until it succeeds, NAME dies, or
# the timeout passes. Returns 0 ready, 1 died, 2 timed out.
wait_ready() {
	local name=$1 deadline=$((SECONDS + timeout))
	shift
	while [ "$SECONDS" -lt "$deadline" ]; do
		"$@" && return 0
		alive "$name" || return 1
		sleep 0.2
	done
	return 2
}

# A server that died because another process took its port is started again
# with new ports.
lost_port_race() {
	grep -qiE 'address already in use' "$state/$1.log"
}

apiserver_ready() {
	[ "$(curl -s --max-time 5 --cacert "$ca" "https://127.0.0.1:$api_port/readyz" 2>/dev/null)" = ok ]
}

# launch_apiserver: start kube-apiserver on api_port, backed by the etcd on etcd_port.
launch_apiserver() {
	# Every request's verb, path and user agent (never a body: Secrets pass
	# through), so that a test can count what a client asked.
	cat >"$state/audit-policy.yaml" <<'EOF_POLICY'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
EOF_POLICY
	# --advertise-address: with no default route the server finds no address to
	#   advertise and exits; 127.0.0.1 is the only one it serves on anyway.
	# --authorization-mode=RBAC: the restricted identity is held to its Role.
	# --client-ca-file: client certificates (admin.kubeconfig) authenticate.
	# --service-account-*: TokenRequest mints the restricted identity's token,
	#   signed with sa.key and checked with sa.pub.
	# --disable-admission-plugins=ServiceAccount: no controller-manager creates
	#   each namespace's "default" ServiceAccount, which that plugin would
	#   require before admitting any Pod.
	# --endpoint-reconciler-type=none: the default (lease) reconciler refuses a
	#   loopback advertise address ("may not be in the loopback range"); with
	#   none, the "kubernetes" Service simply has no endpoints.
	# --service-cluster-ip-range: Services need one; no network is behind it.
	launch kube-apiserver "$bin/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$etcd_port" \
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
		--endpoint-reconciler-type=none \
		--secure-port="$api_port" --cert-dir="$state/apiserver-certs" \
		--tls-cert-file="$pki/server.crt" --tls-private-key-file="$pki/server.key" \
		--client-ca-file="$pki/client-ca.crt" \
		--authorization-mode=RBAC \
		--service-account-issuer="$server" \
		--service-account-key-file="$pki/sa.pub" \
		--service-account-signing-key-file="$pki/sa.key" \
		--service-cluster-ip-range=10.0.0.0/24 \
		--disable-admission-plugins=ServiceAccount \
		--audit-policy-file="$state/audit-policy.yaml" \
		--audit-log-path="$state/audit.log" --audit-log-format=json --audit-log-mode=blocking \
		--allow-privileged=true
}
