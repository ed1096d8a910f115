#!/usr/bin/env bash
# Private repositories over HTTPS: git http-backend behind nginx (fcgiwrap) on loopback, over
# TLS with a certificate of a CA made here, with basic authentication. A good token syncs, a
# wrong one fails cleanly (said once by the daemon), an untrusted certificate is refused, a
# private CA is accepted in caFile and in the system's store (SSL_CERT_FILE),
# insecureSkipVerify warns, proxies are honoured, and a password in a URL is refused by plumb
# serve. The token shows nowhere: not in any output, the API, the logs or the state directory.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"
trap serve_cleanup EXIT

WAIT_MS=${WAIT_MS:-60000}
TOKEN="plumb-e2e-token-$RANDOM$RANDOM-x9Q"
WRONG="plumb-e2e-wrong-$RANDOM$RANDOM-k2Z"
USER_NAME=deploy
unset HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy NO_PROXY no_proxy

# --- the servers ---------------------------------------------------------------------------

make_ca "$T/ca" && make_ca "$T/other-ca" && make_server_cert "$T/certs" "$T/ca" ||
	{ fail "openssl makes a CA and a server certificate"; exit 1; }
mkdir -p "$T/srv"
make_motd_repo "$T/work"
git clone -q --bare "$T/work" "$T/srv/site.git"
if start_https_git "$T/srv" "$USER_NAME" "$TOKEN" "$T/certs"; then
	ok "nginx serves git http-backend over TLS on 127.0.0.1:$HTTPS_PORT"
else
	fail "nginx serves git http-backend over TLS"
	exit 1
fi
BASEURL="https://127.0.0.1:$HTTPS_PORT/"
URL="${BASEURL}site.git"
# The server itself: real basic authentication, a real certificate chain.
code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca/ca.pem" "$URL/info/refs?service=git-upload-pack")
code_ok=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$T/ca/ca.pem" -u "$USER_NAME:$TOKEN" \
	"$URL/info/refs?service=git-upload-pack")
if [ "$code" = 401 ] && [ "$code_ok" = 200 ]; then
	ok "the server asks for credentials (401) and takes the token (200)"
else
	fail "the server asks for credentials (401) and takes the token (200)" "got $code and $code_ok"
fi

printf '%s\n' "$TOKEN" >"$T/token"
chmod 600 "$T/token"
# credentials FILE KEY=VALUE lines...: a credentials file of one entry for the server.
credentials() {
	local file=$1
	shift
	{
		echo "credentials:"
		echo "  - url: $BASEURL"
		local line
		for line in "$@"; do echo "    $line"; done
	} >"$file"
}

# --- plumb plan, with --credentials ----------------------------------------------------------

credentials "$T/good.yaml" "username: $USER_NAME" "password: {file: $T/token}" "caFile: $T/ca/ca.pem"
run_plumb plan --repo "$URL" --credentials "$T/good.yaml" --root "$T/root" --state "$T/state"
if [ "$RC" = 0 ] && contains "$OUT" "commit $(head_of "$T/work")" && contains "$OUT" "+ File /etc/motd"; then
	ok "a good token from a file, with the private CA in caFile: the plan reads the repository"
else
	fail "a good token from a file, with the private CA in caFile: the plan reads the repository" "$(show)"
fi

export PLUMB_E2E_TOKEN="$TOKEN"
credentials "$T/env.yaml" "username: $USER_NAME" "password: {env: PLUMB_E2E_TOKEN}" "caFile: $T/ca/ca.pem"
run_plumb sync --repo "$URL" --credentials "$T/env.yaml" --root "$T/root" --state "$T/state"
if [ "$RC" = 0 ] && [ "$(cat "$T/root/etc/motd" 2>/dev/null)" = one ]; then
	ok "a good token from an environment variable: plumb sync writes /etc/motd"
else
	fail "a good token from an environment variable: plumb sync writes /etc/motd" "$(show)"
fi
unset PLUMB_E2E_TOKEN

credentials "$T/command.yaml" "username: $USER_NAME" "password: {command: [cat, $T/token]}" "caFile: $T/ca/ca.pem"
run_plumb plan --repo "$URL" --credentials "$T/command.yaml" --root "$T/root" --state "$T/state-command"
if [ "$RC" = 0 ]; then ok "a good token from a command"; else fail "a good token from a command" "$(show)"; fi

# A token kept encrypted with age, opened with the host's identity.
age-keygen -o "$T/identity" 2>/dev/null
age -r "$(age-keygen -y "$T/identity")" -o "$T/token.age" "$T/token"
credentials "$T/age.yaml" "username: $USER_NAME" "password: {age: $T/token.age}" "caFile: $T/ca/ca.pem"
run_plumb plan --repo "$URL" --credentials "$T/age.yaml" --identity "$T/identity" --root "$T/root" \
	--state "$T/state-age"
if [ "$RC" = 0 ]; then ok "a good token from an age file of the host"; else fail "a good token from an age file of the host" "$(show)"; fi

printf '%s\n' "$WRONG" >"$T/wrong"
# The longest prefix wins: the repository's own entry over the server's.
cat >"$T/prefixes.yaml" <<YAML
credentials:
  - url: $BASEURL
    username: $USER_NAME
    password: {file: $T/wrong}
    caFile: $T/ca/ca.pem
  - url: $URL
    username: $USER_NAME
    password: {file: $T/token}
    caFile: $T/ca/ca.pem
YAML
run_plumb plan --repo "$URL" --credentials "$T/prefixes.yaml" --root "$T/root" --state "$T/state-prefixes"
if [ "$RC" = 0 ]; then ok "of two entries, the longest prefix of the URL is used"; else
	fail "of two entries, the longest prefix of the URL is used" "$(show)"; fi

credentials "$T/wrong.yaml" "username: $USER_NAME" "password: {file: $T/wrong}" "caFile: $T/ca/ca.pem"
run_plumb plan --repo "$URL" --credentials "$T/wrong.yaml" --root "$T/root" --state "$T/state-wrong"
expect_err "a wrong token: authentication failed for the URL, naming the user" \
	"authentication failed for $URL (user $USER_NAME)"
if [ "$(grep -c 'authentication failed' <<<"$ERR")" = 1 ]; then
	ok "a wrong token is reported on one line"
else
	fail "a wrong token is reported on one line" "$(show)"
fi

# A credential that cannot be read fails the fetch, naming it: it is not fetched without one.
unset PLUMB_E2E_UNSET
credentials "$T/unset.yaml" "username: $USER_NAME" "password: {env: PLUMB_E2E_UNSET}" "caFile: $T/ca/ca.pem"
run_plumb plan --repo "$URL" --credentials "$T/unset.yaml" --root "$T/root" --state "$T/state-unset"
expect_err "a credential that cannot be read fails the fetch, naming the entry and the variable" \
	"credentials for $BASEURL: Secret credentials[0].password: environment variable PLUMB_E2E_UNSET is not set"

credentials "$T/none.yaml" "caFile: $T/ca/ca.pem"
run_plumb plan --repo "$URL" --credentials "$T/none.yaml" --root "$T/root" --state "$T/state-none"
expect_err "no credentials: the server's question is answered with how to give them" \
	"asks for credentials, and none are given for it"

credentials "$T/no-ca.yaml" "username: $USER_NAME" "password: {file: $T/token}"
run_plumb plan --repo "$URL" --credentials "$T/no-ca.yaml" --root "$T/root" --state "$T/state-no-ca"
expect_err "a certificate of a CA the system does not trust is refused" \
	"the certificate of 127.0.0.1 is not trusted by the system's CAs"

# The system's store, as OpenSSL finds it: SSL_CERT_FILE names it in place of Debian's bundle
# (the certificate names the address 127.0.0.1, which libgit2's own check does not read).
cat /etc/ssl/certs/ca-certificates.crt "$T/ca/ca.pem" >"$T/system-store.pem" 2>/dev/null ||
	cp "$T/ca/ca.pem" "$T/system-store.pem"
SSL_CERT_FILE="$T/system-store.pem" run_plumb plan --repo "$URL" --credentials "$T/no-ca.yaml" --root "$T/root" \
	--state "$T/state-system-ca"
if [ "$RC" -eq 0 ]; then
	ok "without caFile, a certificate of a CA the system's store holds is accepted"
else
	fail "without caFile, a certificate of a CA the system's store holds is accepted" "$(show)"
fi

credentials "$T/other-ca.yaml" "username: $USER_NAME" "password: {file: $T/token}" "caFile: $T/other-ca/ca.pem"
run_plumb plan --repo "$URL" --credentials "$T/other-ca.yaml" --root "$T/root" --state "$T/state-other-ca"
expect_err "a certificate of another CA than caFile's is refused" \
	"the certificate of 127.0.0.1 is not trusted by the CAs of $T/other-ca/ca.pem (caFile)"

# A certificate for another name, signed by the right CA: refused for the name.
make_server_cert "$T/certs-elsewhere" "$T/ca"
credentials "$T/localhost.yaml" "username: $USER_NAME" "password: {file: $T/token}" "caFile: $T/ca/ca.pem"
sed -i "s|127.0.0.1|localhost|" "$T/localhost.yaml"
run_plumb plan --repo "https://localhost:$HTTPS_PORT/site.git" --credentials "$T/localhost.yaml" --root "$T/root" \
	--state "$T/state-localhost"
if [ "$RC" = 0 ]; then
	ok "the certificate is checked against the host name (localhost is in it)"
else
	fail "the certificate is checked against the host name (localhost is in it)" "$(show)"
fi

credentials "$T/insecure.yaml" "username: $USER_NAME" "password: {file: $T/token}" "insecureSkipVerify: true"
run_plumb plan --repo "$URL" --credentials "$T/insecure.yaml" --root "$T/root" --state "$T/state-insecure"
if [ "$RC" = 0 ] && contains "$ERR" "warning: the certificate of $URL is not verified (insecureSkipVerify"; then
	ok "insecureSkipVerify fetches, with a warning"
else
	fail "insecureSkipVerify fetches, with a warning" "$(show)"
fi

# Proxies: HTTPS_PROXY is used (through a real tunnelling proxy, the certificate still checked
# end to end; a closed port fails the fetch), NO_PROXY bypasses it.
if start_connect_proxy; then
	HTTPS_PROXY="http://127.0.0.1:$PROXY_PORT" run_plumb plan --repo "$URL" --credentials "$T/good.yaml" \
		--root "$T/root" --state "$T/state-via-proxy"
	if [ "$RC" = 0 ] && grep -q "^CONNECT 127.0.0.1:$HTTPS_PORT " "$T/proxy.log" 2>/dev/null; then
		ok "HTTPS_PROXY: the fetch goes through the proxy's tunnel"
	else
		fail "HTTPS_PROXY: the fetch goes through the proxy's tunnel" "$(show)" "$(cat "$T/proxy.log" "${DLOG[proxy]}" 2>&1)"
	fi
	HTTPS_PROXY="http://127.0.0.1:$PROXY_PORT" run_plumb plan --repo "$URL" --credentials "$T/no-ca.yaml" \
		--root "$T/root" --state "$T/state-via-proxy-no-ca"
	expect_err "through the proxy, an untrusted certificate is still refused" "is not trusted by the system's CAs"
else
	fail "a tunnelling proxy starts" "$(cat "${DLOG[proxy]}")"
fi
closed=$(free_port)
HTTPS_PROXY="http://127.0.0.1:$closed" run_plumb plan --repo "$URL" --credentials "$T/good.yaml" --root "$T/root" \
	--state "$T/state-proxy"
if [ "$RC" -ne 0 ]; then ok "HTTPS_PROXY is honoured (a proxy that is down fails the fetch)"; else
	fail "HTTPS_PROXY is honoured (a proxy that is down fails the fetch)" "$(show)"; fi
HTTPS_PROXY="http://127.0.0.1:$closed" NO_PROXY=127.0.0.1 run_plumb plan --repo "$URL" --credentials "$T/good.yaml" \
	--root "$T/root" --state "$T/state-proxy"
if [ "$RC" = 0 ]; then ok "NO_PROXY bypasses the proxy"; else fail "NO_PROXY bypasses the proxy" "$(show)"; fi

# A password in the URL: the CLI takes it with a warning (and an entry for the CA alone).
credentials "$T/ca-only.yaml" "caFile: $T/ca/ca.pem"
run_plumb plan --repo "https://$USER_NAME:$TOKEN@127.0.0.1:$HTTPS_PORT/site.git" --credentials "$T/ca-only.yaml" \
	--root "$T/root" --state "$T/state-url" -o "$T/state-url/site.plan"
if [ "$RC" = 0 ] && contains "$ERR" "warning: --repo holds a password" && [ -s "$T/state-url/site.plan" ]; then
	ok "the CLI takes a password in --repo, with a warning that says where it belongs"
else
	fail "the CLI takes a password in --repo, with a warning that says where it belongs" "$(show)"
fi

printf 'credentials:\n  - url: %s\n    password: {file: relative/token}\n    passphrase: {env: X}\n' "$BASEURL" \
	>"$T/bad.yaml"
run_plumb plan --repo "$URL" --credentials "$T/bad.yaml" --root "$T/root" --state "$T/state-bad"
if [ "$RC" -ne 0 ] && contains "$ERR" "$T/bad.yaml:3:" && contains "$ERR" "is not an absolute path" &&
	contains "$ERR" "there is no sshKey for it"; then
	ok "a credentials file with mistakes: every one, with its position"
else
	fail "a credentials file with mistakes: every one, with its position" "$(show)"
fi

# --- only what the revision names is fetched ------------------------------------------------

git -C "$T/work" branch -q big-branch
git -C "$T/work" tag -a -m "v1" v1
git -C "$T/work" push -q "$T/srv/site.git" big-branch v1
refs_of() { git --git-dir="$(ls -d "$1"/repos/*.git)" for-each-ref --format='%(refname)' | sort | tr '\n' ' '; }
run_plumb plan --repo "$URL" --credentials "$T/good.yaml" --root "$T/root" --state "$T/state-narrow"
got=$(refs_of "$T/state-narrow")
if [ "$RC" = 0 ] && [ "$got" = "refs/remotes/origin/HEAD refs/remotes/origin/main " ]; then
	ok "the default branch alone is fetched when no revision is given"
else
	fail "the default branch alone is fetched when no revision is given" "refs: $got" "$(show)"
fi
run_plumb plan --repo "$URL" --credentials "$T/good.yaml" --revision v1 --root "$T/root" --state "$T/state-narrow"
got=$(refs_of "$T/state-narrow")
if [ "$RC" = 0 ] && contains "$got" "refs/tags/v1" && ! contains "$got" "big-branch"; then
	ok "a tag alone is fetched for --revision TAG"
else
	fail "a tag alone is fetched for --revision TAG" "refs: $got" "$(show)"
fi
run_plumb plan --repo "$URL" --credentials "$T/good.yaml" --revision "$(head_of "$T/work")" --root "$T/root" \
	--state "$T/state-narrow-all"
got=$(refs_of "$T/state-narrow-all")
if [ "$RC" = 0 ] && contains "$got" "big-branch" && contains "$got" "refs/tags/v1"; then
	ok "a commit id fetches every branch and tag"
else
	fail "a commit id fetches every branch and tag" "refs: $got" "$(show)"
fi

# --- plumb serve ---------------------------------------------------------------------------

VIEWER="viewer-token-$RANDOM$RANDOM"
printf 'v viewer %s\n' "$(printf '%s' "$VIEWER" | sha256sum | cut -d' ' -f1)" >"$T/tokens"

# start_daemon NAME CONFIG: plumb serve with CONFIG on a free port; DPORT is its port.
DNAME=
serving_port() {
	DPORT=$(sed -n 's/.* msg=serving .* port=\([0-9][0-9]*\).*/\1/p' "${DLOG[$DNAME]}" | head -n 1)
	[ -n "$DPORT" ]
}
start_daemon() {
	DNAME=$1
	DLOG[$1]="$T/serve-$1.log"
	"$PLUMB" serve --config "$2" --listen 127.0.0.1:0 --tokens "$T/tokens" 2>"${DLOG[$1]}" &
	DPID[$1]=$!
	wait_for "$WAIT_MS" serving_port
}

serve_config() { # FILE NAME PASSWORD-SOURCE
	cat >"$1" <<YAML
repo: $URL
root: $T/root-$2
state: $T/state-$2
interval: 300ms
self-heal-interval: 10m
credentials:
  - url: $BASEURL
    username: $USER_NAME
    password: $3
    caFile: $T/ca/ca.pem
YAML
}

serve_config "$T/serve-good.yaml" good "{file: $T/token}"
if start_daemon good "$T/serve-good.yaml"; then
	ok "plumb serve with credentials: in serve.yaml starts"
else
	fail "plumb serve with credentials: in serve.yaml starts" "$(log_tail good)"
fi
synced() { [ "$(cat "$T/root-good/etc/motd" 2>/dev/null)" = one ]; }
if wait_for "$WAIT_MS" synced; then
	ok "plumb serve fetches the private repository and syncs /etc/motd"
else
	fail "plumb serve fetches the private repository and syncs /etc/motd" "$(log_tail good)"
fi
curl -s --max-time 30 -H "Authorization: Bearer $VIEWER" "http://127.0.0.1:$DPORT/api/v1/applications" >"$T/api-apps.json"
app=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["applications"][0]["name"])' "$T/api-apps.json" 2>/dev/null)
curl -s --max-time 30 -H "Authorization: Bearer $VIEWER" "http://127.0.0.1:$DPORT/api/v1/applications/$app" \
	>"$T/api-app.json"
curl -s --max-time 30 -H "Authorization: Bearer $VIEWER" "http://127.0.0.1:$DPORT/api/v1/audit" >"$T/api-audit.json"
if grep -q "$URL" "$T/api-app.json"; then
	ok "the API names the repository"
else
	fail "the API names the repository" "$(cat "$T/api-app.json")"
fi
stop_and_check good

# One entry serves every repository under its prefix: an Application of another repository of
# the server that names its own repository (the site) is fetched with it too.
make_repo "$T/apps-work"
printf 'apiVersion: plumb/v1\nkind: Application\nmetadata: {name: ext}\nspec:\n  source: {repo: %s, path: .}\n' \
	"$URL" >"$T/apps-work/app.yaml"
commit_all "$T/apps-work" "an Application of the site"
git clone -q --bare "$T/apps-work" "$T/srv/apps.git"
serve_config "$T/serve-apps.yaml" apps "{file: $T/token}"
sed -i "s|^repo: .*|repo: ${BASEURL}apps.git|" "$T/serve-apps.yaml"
if start_daemon apps "$T/serve-apps.yaml"; then ok "plumb serve (apps) starts"; else fail "plumb serve (apps) starts" "$(log_tail apps)"; fi
synced_apps() { [ "$(cat "$T/root-apps/etc/motd" 2>/dev/null)" = one ]; }
if wait_for "$WAIT_MS" synced_apps; then
	ok "an Application naming its own repository under the entry's prefix is fetched with the entry"
else
	fail "an Application naming its own repository under the entry's prefix is fetched with the entry" \
		"$(log_tail apps)" "$(find "$T/root-apps" 2>&1 | head)"
fi
stop_and_check apps

# The Application's own repository refuses its token (an entry of its own, with the wrong one):
# said once, while the daemon's repository is fetched at every poll.
serve_config "$T/serve-apps-wrong.yaml" apps-wrong "{file: $T/token}"
sed -i "s|^repo: .*|repo: ${BASEURL}apps.git|" "$T/serve-apps-wrong.yaml"
cat >>"$T/serve-apps-wrong.yaml" <<YAML
  - url: $URL
    username: $USER_NAME
    password: {file: $T/wrong}
    caFile: $T/ca/ca.pem
YAML
start_daemon apps-wrong "$T/serve-apps-wrong.yaml" || fail "plumb serve (apps-wrong) starts" "$(log_tail apps-wrong)"
polls() { [ "$(grep -c '"GET /apps.git/info/refs?service=git-upload-pack HTTP/1.1" 200' "$T/nginx/access.log")" -ge "$1" ]; }
refusals() { grep -c '"GET /site.git/info/refs?service=git-upload-pack HTTP/1.1" 401' "$T/nginx/access.log"; }
before=$(grep -c '"GET /apps.git/info/refs?service=git-upload-pack HTTP/1.1" 200' "$T/nginx/access.log")
refused_before=$(refusals)
if wait_for "$WAIT_MS" polls $((before + 5)); then
	said=$(grep -c "authentication failed for $URL (user $USER_NAME)" "${DLOG[apps-wrong]}")
	# Two 401s an attempt (without credentials, then with the wrong ones): tried again and again.
	if [ "$said" = 1 ] && [ $(($(refusals) - refused_before)) -ge 6 ]; then
		ok "an Application's own repository refusing its token is logged once over polls"
	else
		fail "an Application's own repository refusing its token is logged once over polls" "said $said times" \
			"401s: $(($(refusals) - refused_before))" \
			"$(log_tail apps-wrong)"
	fi
else
	fail "plumb serve (apps-wrong) polls" "$(log_tail apps-wrong)"
fi
stop_and_check apps-wrong

# An Application whose repository URL holds a password is refused, and said once over polls.
make_repo "$T/apps-pw-work"
printf 'apiVersion: plumb/v1\nkind: Application\nmetadata: {name: pw}\nspec:\n  source: {repo: %s, path: .}\n' \
	"https://someone:not-a-real-password@127.0.0.1:$HTTPS_PORT/site.git" >"$T/apps-pw-work/app.yaml"
commit_all "$T/apps-pw-work" "an Application with a password in its URL"
git clone -q --bare "$T/apps-pw-work" "$T/srv/apps-pw.git"
serve_config "$T/serve-apps-pw.yaml" apps-pw "{file: $T/token}"
sed -i "s|^repo: .*|repo: ${BASEURL}apps-pw.git|" "$T/serve-apps-pw.yaml"
start_daemon apps-pw "$T/serve-apps-pw.yaml" || fail "plumb serve (apps-pw) starts" "$(log_tail apps-pw)"
polls_pw() { [ "$(grep -c '"GET /apps-pw.git/info/refs?service=git-upload-pack HTTP/1.1" 200' "$T/nginx/access.log")" -ge "$1" ]; }
if wait_for "$WAIT_MS" polls_pw 5; then
	said=$(grep -c "holds a password in its URL" "${DLOG[apps-pw]}")
	if [ "$said" = 1 ] && ! grep -q "not-a-real-password" "${DLOG[apps-pw]}"; then
		ok "an Application's repository URL with a password is refused, said once over polls, without it"
	else
		fail "an Application's repository URL with a password is refused, said once over polls, without it" \
			"said $said times" "$(log_tail apps-pw)"
	fi
else
	fail "plumb serve (apps-pw) polls" "$(log_tail apps-pw)"
fi
stop_and_check apps-pw

serve_config "$T/serve-wrong.yaml" wrong "{file: $T/wrong}"
start_daemon wrong "$T/serve-wrong.yaml" || fail "plumb serve (wrong) starts" "$(log_tail wrong)"
# Fetches go on (backed off); the refusal is logged once.
attempts() { [ "$(grep -c '"GET /site.git/info/refs?service=git-upload-pack HTTP/1.1" 401' "$T/nginx/access.log")" -ge "$1" ]; }
before=$(grep -c '"GET /site.git/info/refs?service=git-upload-pack HTTP/1.1" 401' "$T/nginx/access.log")
if wait_for "$WAIT_MS" attempts $((before + 6)); then
	said=$(grep -c "authentication failed for $URL (user $USER_NAME)" "${DLOG[wrong]}")
	if [ "$said" = 1 ]; then
		ok "plumb serve with a wrong token: 'authentication failed for URL (user NAME)' logged once over retries"
	else
		fail "plumb serve with a wrong token: 'authentication failed for URL (user NAME)' logged once over retries" \
			"said $said times" "$(log_tail wrong)"
	fi
else
	fail "plumb serve with a wrong token retries the fetch" "$(log_tail wrong)"
fi
if [ ! -e "$T/root-wrong/etc/motd" ]; then ok "nothing is synced with a refused token"; else
	fail "nothing is synced with a refused token"; fi
# The token fixed in serve.yaml: SIGHUP takes the new credentials, and the next fetch syncs.
serve_config "$T/serve-wrong.yaml" wrong "{file: $T/token}"
kill -HUP "${DPID[wrong]}"
synced_wrong() { [ "$(cat "$T/root-wrong/etc/motd" 2>/dev/null)" = one ]; }
if wait_for "$WAIT_MS" synced_wrong; then
	ok "SIGHUP reloads credentials: the fixed token syncs"
else
	fail "SIGHUP reloads credentials: the fixed token syncs" "$(log_tail wrong)"
fi
stop_and_check wrong

# A password in the repository URL: refused at start, with how to move it into credentials:.
cat >"$T/serve-url.yaml" <<YAML
repo: https://$USER_NAME:$TOKEN@127.0.0.1:$HTTPS_PORT/site.git
root: $T/root-url
state: $T/state-url-serve
YAML
capture "$PLUMB" serve --config "$T/serve-url.yaml" --listen 127.0.0.1:0
printf '%s\n%s\n' "$OUT" "$ERR" >>"$ALL_OUT"
if [ "$RC" -ne 0 ] && contains "$ERR" "credentials:" && contains "$ERR" "- url: https://$USER_NAME@127.0.0.1:$HTTPS_PORT/site.git" &&
	contains "$ERR" "password: {file:"; then
	ok "plumb serve refuses a password in the repository URL, showing how to move it into credentials:"
else
	fail "plumb serve refuses a password in the repository URL, showing how to move it into credentials:" "$(show)"
fi
capture "$PLUMB" serve --repo "https://$USER_NAME:$TOKEN@127.0.0.1:$HTTPS_PORT/site.git" --root "$T/root-url" \
	--state "$T/state-url-serve" --listen 127.0.0.1:0
printf '%s\n%s\n' "$OUT" "$ERR" >>"$ALL_OUT"
expect_err "plumb serve refuses a password in --repo too" "holds a password"

# --- the token shows nowhere ----------------------------------------------------------------

leaks=$(grep -rl -F -e "$TOKEN" -e "$WRONG" "$ALL_OUT" "$T"/serve-*.log "$T"/api-*.json "$T"/state* 2>/dev/null)
if [ -z "$leaks" ]; then
	ok "neither token shows in any output, log, API answer or state directory"
else
	fail "neither token shows in any output, log, API answer or state directory" "$leaks"
fi
if [ -n "$(ls "$T"/state/repos/*.git/config 2>/dev/null)" ] &&
	! grep -q -e "$USER_NAME:" "$T"/state*/repos/*.git/config; then
	ok "the fetch cache's config holds the URL without credentials"
else
	fail "the fetch cache's config holds the URL without credentials" "$(cat "$T"/state*/repos/*.git/config 2>&1)"
fi

[ "$TAP_FAILED" -eq 0 ]
