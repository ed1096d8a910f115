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
