# shellcheck shell=bash
# servers.sh - real git servers on loopback for the private repository tests (sourced after
# lib.sh, not run): git http-backend behind nginx (with fcgiwrap) over TLS with basic
# authentication, and OpenSSH's sshd. Each keeps its pid in DPID (the script sets
# "trap serve_cleanup EXIT", which stops them) and its log in $T.
#
#   make_ca DIR                  a CA (DIR/ca.pem, DIR/ca.key) made for the test
#   make_server_cert DIR CA      a certificate for 127.0.0.1 and localhost signed by CA (DIR/server.pem, .key)
#   start_https_git BASE USER PASSWORD CERTDIR
#                                serve the repositories under BASE on https://127.0.0.1:$HTTPS_PORT/,
#                                to USER with PASSWORD only, with CERTDIR's certificate
#   start_sshd BASE HOSTKEY AUTHORIZED
#                                sshd on 127.0.0.1:$SSH_PORT with host key HOSTKEY, letting in the keys
#                                of the file AUTHORIZED as the current user
#   start_connect_proxy          an HTTP proxy tunnelling CONNECT on 127.0.0.1:$PROXY_PORT, logging each
#                                tunnel to $T/proxy.log

declare -A DPID DLOG

make_ca() {
	mkdir -p "$1"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=plumb test CA $(basename "$1")" \
		-keyout "$1/ca.key" -out "$1/ca.pem" >/dev/null 2>&1
}

make_server_cert() {
	local dir=$1 ca=$2
	mkdir -p "$dir"
	openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$dir/server.key" \
		-out "$dir/server.csr" >/dev/null 2>&1 &&
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$dir/ext" &&
		openssl x509 -req -in "$dir/server.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" -CAcreateserial \
			-days 2 -extfile "$dir/ext" -out "$dir/server.pem" >/dev/null 2>&1
}

# wait_port NAME PORT: the daemon DPID[NAME] listens on PORT within a minute.
wait_port() {
	local deadline=$((SECONDS + 60))
	while [ $SECONDS -lt $deadline ]; do
		running "${DPID[$1]}" || return 1
		port_open "$2" && return 0
		sleep 0.05
	done
	return 1
}

start_https_git() {
	local base=$1 user=$2 password=$3 certs=$4 dir="$T/nginx"
	mkdir -p "$dir/tmp"
	printf '%s:%s\n' "$user" "$(openssl passwd -apr1 "$password")" >"$dir/htpasswd"
	DLOG[fcgiwrap]="$dir/fcgiwrap.log"
	/usr/sbin/fcgiwrap -c 2 -s "unix:$dir/fcgi.sock" >"${DLOG[fcgiwrap]}" 2>&1 &
	DPID[fcgiwrap]=$!
	HTTPS_PORT=$(free_port)
	cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 64; }
http {
	access_log $dir/access.log;
	client_body_temp_path $dir/tmp/body;
	fastcgi_temp_path $dir/tmp/fastcgi;
	proxy_temp_path $dir/tmp/proxy;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;
	server {
		listen 127.0.0.1:$HTTPS_PORT ssl;
		ssl_certificate $certs/server.pem;
		ssl_certificate_key $certs/server.key;
		client_max_body_size 0;
		location / {
			auth_basic "git";
			auth_basic_user_file $dir/htpasswd;
			include /etc/nginx/fastcgi_params;
			fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
			fastcgi_param GIT_PROJECT_ROOT $base;
			fastcgi_param GIT_HTTP_EXPORT_ALL 1;
			fastcgi_param REMOTE_USER \$remote_user;
			fastcgi_param PATH_INFO \$uri;
			fastcgi_pass unix:$dir/fcgi.sock;
		}
	}
}
CONF
	DLOG[nginx]="$dir/nginx.out"
	/usr/sbin/nginx -e "$dir/error.log" -c "$dir/nginx.conf" >"${DLOG[nginx]}" 2>&1 &
	DPID[nginx]=$!
	wait_port nginx "$HTTPS_PORT" || {
		echo "nginx did not start: $(cat "${DLOG[nginx]}" "$dir/error.log" 2>/dev/null)" >&2
		return 1
	}
}

start_sshd() {
	local base=$1 hostkey=$2 authorized=$3 dir="$T/sshd"
	mkdir -p "$dir" /run/sshd
	SSH_PORT=$(free_port)
	cat >"$dir/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $SSH_PORT
HostKey $hostkey
PidFile $dir/sshd.pid
AuthorizedKeysFile $authorized
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
LogLevel VERBOSE
SetEnv GIT_CONFIG_NOSYSTEM=1
CONF
	DLOG[sshd]="$dir/sshd.log"
	/usr/sbin/sshd -D -e -f "$dir/sshd_config" >"${DLOG[sshd]}" 2>&1 &
	DPID[sshd]=$!
	wait_port sshd "$SSH_PORT" || {
		echo "sshd did not start: $(cat "${DLOG[sshd]}")" >&2
		return 1
	}
}

# start_connect_proxy: an HTTP proxy on 127.0.0.1:$PROXY_PORT that tunnels CONNECT requests (as a
# forward proxy does HTTPS) and logs each "CONNECT HOST:PORT" to $T/proxy.log.
start_connect_proxy() {
	PROXY_PORT=$(free_port)
	DLOG[proxy]="$T/proxy.err"
	python3 - "$PROXY_PORT" "$T/proxy.log" >"${DLOG[proxy]}" 2>&1 <<'PY' &
import select, socket, socketserver, sys

port, log = int(sys.argv[1]), sys.argv[2]

class Tunnel(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline().decode("latin-1").strip()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        method, target = (line.split(" ") + ["", ""])[:2]
        if method != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        with open(log, "a") as f:
            f.write(line + "\n")
        host, _, p = target.rpartition(":")
        upstream = socket.create_connection((host, int(p)))
        self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        self.wfile.flush()
        ends = [self.connection, upstream]
        while True:
            ready, _, _ = select.select(ends, [], [], 60)
            if not ready:
                break
            for s in ready:
                data = s.recv(65536)
                if not data:
                    upstream.close()
                    return
                (upstream if s is self.connection else self.connection).sendall(data)

class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

Server(("127.0.0.1", port), Tunnel).serve_forever()
PY
	DPID[proxy]=$!
	wait_port proxy "$PROXY_PORT"
}
