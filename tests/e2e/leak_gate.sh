#!/usr/bin/env bash
# The leak gate: plumb check scans every file of a revision (not only the
# manifests) for plaintext secrets and prints each as FILE:LINE: RULE MASKED,
# never the secret; reviewed false positives are accepted by an annotation
# or by .plumb-allow-secrets; --staged checks the index of a work tree; and
# plumb hook install makes git run the gate before a commit and a push.
. "$(dirname "$0")/lib.sh"

STATE="$T/state"

plumb() {
	capture "$PLUMB" "$@" --state "$STATE"
}

# --- fake secrets, built from pieces so that no whole one sits in this file -----------------

ALNUM36="Zq8Xw7Cv6Bn5Mm4Lk3Jh2Gf1Ds0Ap9Oi8Uy7"
GH_TOKEN="gh""p_${ALNUM36:0:36}"
GH_TOKEN2="gh""p_${ALNUM36:1:35}R"
GH_TOKEN3="gh""p_Rx${ALNUM36:2:34}"
AWS_ID="AK""IA""Q7ZK3M2XW9RT4PLB"
API_VALUE="kR7vXq2Lm9PzT4wN8bYc"
JWT_HEAD="ey""JhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
JWT_BODY="ey""JzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6InBsdW1iIn0"
JWT_SIG="dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
JWT="$JWT_HEAD.$JWT_BODY.$JWT_SIG"
SLACK="xo""xb-""123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"

openssl genpkey -algorithm ed25519 -out "$T/id_ed25519" 2>/dev/null
KEY_BODY=$(sed -n 2p "$T/id_ed25519")
openssl pkey -in "$T/id_ed25519" -pubout -out "$T/id_ed25519.pub" 2>/dev/null
openssl req -x509 -new -key "$T/id_ed25519" -subj /CN=plumb-e2e -days 1 -out "$T/cert.pem" 2>/dev/null
if [ -n "$KEY_BODY" ] && [ "${#KEY_BODY}" -ge 40 ] && [ -s "$T/cert.pem" ] && [ -s "$T/id_ed25519.pub" ]; then
	ok "openssl made a private key, its public key and a certificate"
else
	fail "openssl made a private key, its public key and a certificate" "$(ls -la "$T")"
fi
if [ "${#GH_TOKEN}" = 40 ] && [ "${#GH_TOKEN2}" = 40 ] && [ "${#GH_TOKEN3}" = 40 ] && [ "${#AWS_ID}" = 20 ]; then
	ok "the fake tokens are well-formed"
else
	fail "the fake tokens are well-formed" "$GH_TOKEN $GH_TOKEN2 $GH_TOKEN3 $AWS_ID"
fi

# Every full value, and every part of one that the mask must hide.
SECRETS=("$GH_TOKEN" "$GH_TOKEN2" "$GH_TOKEN3" "${ALNUM36:2:34}" "${ALNUM36:0:20}" "$AWS_ID" "Q7ZK3M2XW9RT4PLB" "$API_VALUE" "$JWT"
	"$JWT_BODY" "$JWT_SIG" "$SLACK" "AbCdEfGhIjKlMnOpQrStUvWx" "$KEY_BODY")

# no_secret_in_output NAME: the last capture printed none of SECRETS.
no_secret_in_output() {
	local s seen=
	for s in "${SECRETS[@]}"; do
		if contains "$OUT$ERR" "$s"; then seen="$seen $s"; fi
	done
	if [ -z "$seen" ]; then ok "$1"; else fail "$1" "printed:$seen" "$(show)"; fi
}

# findings: the lines of the last capture's stderr shaped FILE:LINE: RULE MASKED.
findings() {
	grep -E '^[^ :]+:[0-9]+: [a-z0-9-]+ ([^ ].*)?[*]{4}$' <<<"$ERR"
}

# expect_findings NAME EXPECTED...: exit 1 and exactly these findings, in this order.
expect_findings() {
	local name=$1
	shift
	local expected
	expected=$(printf '%s\n' "$@")
	if [ "$RC" = 1 ] && [ "$(findings)" = "$expected" ]; then
		ok "$name"
	else
		fail "$name" "expected exit 1 and:" "$expected" "$(show)"
	fi
}

# write_manifest DIR: one valid manifest.
write_manifest() {
	mkdir -p "$1/manifests"
	cat >"$1/manifests/app.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: motd}
spec: {path: /etc/motd, content: "managed by plumb\n"}
EOF
}

# ============================================================================================
# 1. plaintext secrets in files that are not manifests, in several places
# ============================================================================================

LEAKY="$T/leaky"
make_repo "$LEAKY"
write_manifest "$LEAKY"
mkdir -p "$LEAKY/scripts" "$LEAKY/config" "$LEAKY/keys" "$LEAKY/docs/x"
cat >"$LEAKY/scripts/deploy.sh" <<EOF
#!/bin/sh
set -eu
curl -H "Authorization: token $GH_TOKEN" https://api.github.com/user
EOF
chmod +x "$LEAKY/scripts/deploy.sh"
cat >"$LEAKY/config/app.env" <<EOF
APP_NAME=shop
API_TOKEN=$API_VALUE
SESSION=$JWT
EOF
cp "$T/id_ed25519" "$LEAKY/keys/id_ed25519"
cat >"$LEAKY/docs/x/y.md" <<EOF
# Backups

The bucket is written with

    aws configure set aws_access_key_id $AWS_ID
EOF
cat >"$LEAKY/scripts/notify.py" <<EOF
import urllib.request
SLACK = "$SLACK"
EOF
commit_all "$LEAKY" "leaky"
LEAKY_HEAD=$(head_of "$LEAKY")

plumb check --repo "$LEAKY"
expect_findings "check reports every plaintext secret outside the manifests, sorted, as FILE:LINE: RULE MASKED" \
	"config/app.env:2: generic-secret ****" \
	"config/app.env:3: jwt eyJ****" \
	"docs/x/y.md:5: aws-access-key-id AKIA****" \
	"keys/id_ed25519:1: private-key -----BEGIN PRIVATE KEY-----****" \
	"scripts/deploy.sh:3: github-token ghp_****" \
	"scripts/notify.py:2: slack-token xoxb-****"
no_secret_in_output "check prints no secret, only masks"
if contains "$ERR" "plumb: 6 plaintext secrets in commit ${LEAKY_HEAD:0:12}"; then
	ok "check's summary counts 6 plaintext secrets in the commit"
else
	fail "check's summary counts 6 plaintext secrets in the commit" "$(show)"
fi
stray=$(grep -vE '^[^ :]+:[0-9]+: [a-z0-9-]+ ([^ ].*)?[*]{4}$|^plumb: ' <<<"$ERR" | grep -v '^$')
if [ -z "$stray" ]; then
	ok "check prints nothing but findings and its summary on stderr"
else
	fail "check prints nothing but findings and its summary on stderr" "stray lines:" "$stray"
fi
if contains "$OUT" "OK: " && contains "$OUT" "1 resources" && ! contains "$OUT" "no plaintext secrets"; then
	ok "the manifests are valid, and check does not claim the revision is clean"
else
	fail "the manifests are valid, and check does not claim the revision is clean" "$(show)"
fi

# ============================================================================================
# 2. a clean repository, with what must not be flagged
# ============================================================================================

CLEAN="$T/clean"
make_repo "$CLEAN"
write_manifest "$CLEAN"
commit_all "$CLEAN" "first"
FIRST=$(head_of "$CLEAN")
"$PLUMB" secret keygen -o "$T/identity" >/dev/null 2>&1
RECIPIENT=$("$PLUMB" secret recipient --identity "$T/identity")
mkdir -p "$CLEAN/secrets" "$CLEAN/config" "$CLEAN/certs"
printf 'Tr0ub4dor&3-%s\n' "$API_VALUE" | "$PLUMB" secret seal -r "$RECIPIENT" -a >"$CLEAN/secrets/db-password.age"
if grep -q '^-----BEGIN AGE ENCRYPTED FILE-----$' "$CLEAN/secrets/db-password.age"; then
	ok "plumb secret seal -a makes an armored age file"
else
	fail "plumb secret seal -a makes an armored age file" "$(cat "$CLEAN/secrets/db-password.age")"
fi
cat >"$CLEAN/manifests/secrets.yaml" <<'EOF'
apiVersion: plumb/v1
kind: Secret
metadata: {name: db-password}
spec:
  age: secrets/db-password.age
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: api-token}
spec:
  env: DB_PASSWORD
---
apiVersion: host/v1
kind: File
metadata: {name: db-password-file}
spec:
  path: /etc/app/db-password
  contentFrom: {secret: db-password}
  mode: "0600"
---
apiVersion: host/v1
kind: File
metadata: {name: api-token-file}
spec:
  path: /etc/app/api-token
  contentFrom:
    secret: api-token
---
apiVersion: host/v1
kind: File
metadata: {name: app-conf}
spec:
  path: /etc/app/app.conf
  content: "password: ${DB_PASSWORD}\n"
EOF
cat >"$CLEAN/config/app.yml.tmpl" <<EOF
database:
  password: \${DB_PASSWORD}
  admin_password: changeme
  token: "{{ .Values.token }}"
  recipient: $RECIPIENT
EOF
cat >"$CLEAN/config/app.env" <<EOF
DB_PASSWORD=changeme
API_TOKEN=\${API_TOKEN}
PINNED_COMMIT=$FIRST
EOF
printf 'Built from commit %s (%s).\n' "$FIRST" "${FIRST:0:12}" >"$CLEAN/RELEASE.md"
cp "$T/id_ed25519.pub" "$CLEAN/certs/signing.pub"
cp "$T/cert.pem" "$CLEAN/certs/server.crt"
commit_all "$CLEAN" "clean"
CLEAN_HEAD=$(head_of "$CLEAN")

plumb check --repo "$CLEAN"
if [ "$RC" = 0 ] && contains "$OUT" "commit $CLEAN_HEAD" && contains "$OUT" "OK: no plaintext secrets in the revision" &&
	[ -z "$ERR" ]; then
	ok "check of a clean repository (references, placeholders, age file, public key, certificate, commit id) exits 0"
else
	fail "check of a clean repository (references, placeholders, age file, public key, certificate, commit id) exits 0" "$(show)"
fi

# A Secret's name is a reference, not a value, even one that mixes letters and digits.
cat >"$CLEAN/manifests/grafana.yaml" <<'EOF'
apiVersion: plumb/v1
kind: Secret
metadata: {name: grafana-admin-token-2024}
spec: {env: GRAFANA_TOKEN}
---
apiVersion: host/v1
kind: File
metadata: {name: grafana-token}
spec:
  path: /etc/grafana/token
  contentFrom: {secret: grafana-admin-token-2024}
---
apiVersion: host/v1
kind: File
metadata: {name: grafana-token-copy}
spec:
  path: /etc/grafana/token.copy
  contentFrom:
    secret: grafana-admin-token-2024
EOF
commit_all "$CLEAN" "a Secret named with digits"
plumb check --repo "$CLEAN"
if [ "$RC" = 0 ] && contains "$OUT" "OK: no plaintext secrets in the revision" && [ -z "$(findings)" ]; then
	ok "contentFrom naming a Secret with letters and digits (grafana-admin-token-2024) is not a plaintext secret"
else
	fail "contentFrom naming a Secret with letters and digits (grafana-admin-token-2024) is not a plaintext secret" "$(show)"
fi
git -C "$CLEAN" rm -q manifests/grafana.yaml
commit_all "$CLEAN" "no grafana"

# ============================================================================================
# 3. reviewed false positives
# ============================================================================================

mkdir -p "$LEAKY/fixtures/a/b" "$LEAKY/docs"
cat >"$LEAKY/scripts/deploy.sh" <<EOF
#!/bin/sh
set -eu
curl -H "Authorization: token $GH_TOKEN" https://api.github.com/user # plumb:allow-secret (a revoked test token)
curl -H "Authorization: token $GH_TOKEN2" https://api.github.com/user
EOF
cat >>"$LEAKY/config/app.env" <<EOF
GITHUB=$GH_TOKEN3
EOF
printf 'token: %s\n' "$GH_TOKEN2" >"$LEAKY/fixtures/a/b/token.txt"
printf 'aws_access_key_id = %s\n' "$AWS_ID" >"$LEAKY/docs/readme.md"
cat >"$LEAKY/.plumb-allow-secrets" <<'EOF'
# reviewed false positives
fixtures/
docs/*.md
config/app.env jwt   # the session fixture
EOF
commit_all "$LEAKY" "allowed"

plumb check --repo "$LEAKY"
expect_findings "the annotation, a folder, a glob and a rule-specific entry silence just what they name" \
	"config/app.env:2: generic-secret ****" \
	"config/app.env:4: github-token ghp_****" \
	"docs/x/y.md:5: aws-access-key-id AKIA****" \
	"keys/id_ed25519:1: private-key -----BEGIN PRIVATE KEY-----****" \
	"scripts/deploy.sh:4: github-token ghp_****" \
	"scripts/notify.py:2: slack-token xoxb-****"
no_secret_in_output "check with an allow file prints no secret"
if contains "$ERR" "6 plaintext secrets"; then ok "the summary counts only what is not allowed"; else fail "the summary counts only what is not allowed" "$(show)"; fi

# An unknown rule in the allow file fails the check, even when nothing else is found.
printf '# reviewed\nconfig/*.env jwt\nscripts/ no-such-rule\n' >"$CLEAN/.plumb-allow-secrets"
commit_all "$CLEAN" "allow file with an unknown rule"
plumb check --repo "$CLEAN"
if [ "$RC" = 1 ] && grep -q '^\.plumb-allow-secrets:3:10: unknown rule "no-such-rule"' <<<"$ERR" &&
	! contains "$OUT" "OK: no plaintext secrets"; then
	ok "an unknown rule in the allow file is reported at .plumb-allow-secrets:LINE:COL and fails the check"
else
	fail "an unknown rule in the allow file is reported at .plumb-allow-secrets:LINE:COL and fails the check" "$(show)"
fi
git -C "$CLEAN" rm -q .plumb-allow-secrets
commit_all "$CLEAN" "no allow file"

# ============================================================================================
# 4. only the revision is scanned; binary files are not
# ============================================================================================

printf 'GITHUB_TOKEN=%s\n' "$GH_TOKEN" >"$CLEAN/config/ci.env"
commit_all "$CLEAN" "oops"
OLD=$(head_of "$CLEAN")
git -C "$CLEAN" rm -q config/ci.env
printf 'bin\0\0\0%s\n\0' "$GH_TOKEN" >"$CLEAN/config/blob.bin"
commit_all "$CLEAN" "remove the token, add a binary file"

plumb check --repo "$CLEAN"
if [ "$RC" = 0 ] && contains "$OUT" "OK: no plaintext secrets"; then
	ok "a secret removed at HEAD, and one in a binary file, pass check at HEAD"
else
	fail "a secret removed at HEAD, and one in a binary file, pass check at HEAD" "$(show)"
fi
plumb check --repo "$CLEAN" --revision "$OLD"
expect_findings "the older commit that held the secret fails check --revision" "config/ci.env:1: github-token ghp_****"
no_secret_in_output "check --revision of the older commit prints no secret"

# ============================================================================================
# 5. plumb check --staged
# ============================================================================================

WT="$T/wt"
make_repo "$WT"
write_manifest "$WT"
printf 'APP_NAME=shop\n' >"$WT/app.env"
commit_all "$WT" "first"
WT_HEAD=$(head_of "$WT")

# git_state DIR: what --staged must not change: the status, every ref and the index file.
git_state() {
	git -C "$1" status --porcelain >/dev/null # let git refresh the index first
	git -C "$1" status --porcelain --untracked-files=all
	git -C "$1" for-each-ref --format='%(refname) %(objectname)'
	git -C "$1" log --all --format=%H
	sha256sum <"$1/.git/index"
}

printf 'APP_NAME=shop\nGITHUB_TOKEN=%s\n' "$GH_TOKEN" >"$WT/app.env"
git -C "$WT" add app.env
before=$(git_state "$WT")
plumb check --repo "$WT" --staged
expect_findings "check --staged --repo: a staged secret fails" "app.env:2: github-token ghp_****"
no_secret_in_output "check --staged prints no secret"
same_listing "check --staged makes no commit on any branch and leaves the index and status alone" "$before" "$(git_state "$WT")"

# The same from inside the work tree, without --repo; the work tree is cleaned, the index still holds the secret.
printf 'APP_NAME=shop\n' >"$WT/app.env"
before=$(git_state "$WT")
capture env -C "$WT" "$PLUMB" check --staged --state "$STATE"
expect_findings "check --staged run in the work tree checks the index, not the work tree" "app.env:2: github-token ghp_****"
same_listing "check --staged run in the work tree changes nothing" "$before" "$(git_state "$WT")"

# Unstaged: the secret only in the work tree (a modified tracked file and an untracked one).
git -C "$WT" reset -q
printf 'APP_NAME=shop\nGITHUB_TOKEN=%s\n' "$GH_TOKEN" >"$WT/app.env"
printf 'SLACK=%s\n' "$SLACK" >"$WT/notes.txt"
before=$(git_state "$WT")
capture env -C "$WT" "$PLUMB" check --staged --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "OK: no plaintext secrets in the staged changes" && [ -z "$(findings)" ]; then
	ok "a secret only in the work tree, not staged, passes check --staged"
else
	fail "a secret only in the work tree, not staged, passes check --staged" "$(show)"
fi
same_listing "a passing check --staged changes nothing" "$before" "$(git_state "$WT")"
plumb check --repo "$WT" --staged
expect_rc "check --staged --repo passes too" 0
git -C "$WT" checkout -q -- app.env
rm -f "$WT/notes.txt"

# A staged invalid manifest.
cat >"$WT/manifests/bad.yaml" <<'EOF'
apiVersion: host/v1
kind: Widget
metadata: {name: w}
spec: {path: /etc/w}
EOF
git -C "$WT" add manifests/bad.yaml
plumb check --repo "$WT" --staged
if [ "$RC" = 1 ] && grep -qE '^manifests/bad\.yaml:2:[0-9]+: .*Widget' <<<"$ERR"; then
	ok "a staged invalid manifest fails check --staged with FILE:LINE:COL"
else
	fail "a staged invalid manifest fails check --staged with FILE:LINE:COL" "$(show)"
fi
git -C "$WT" rm -q --cached manifests/bad.yaml
rm -f "$WT/manifests/bad.yaml"

plumb check --repo "$WT" --staged --revision HEAD
if [ "$RC" = 1 ] && contains "$ERR" "--staged" && contains "$ERR" "revision"; then
	ok "--staged with --revision is refused"
else
	fail "--staged with --revision is refused" "$(show)"
fi

git clone -q --bare "$WT" "$T/bare.git"
plumb check --repo "$T/bare.git" --staged
if [ "$RC" = 1 ] && [ "$(printf '%s' "$ERR" | grep -c .)" = 1 ] && contains "$ERR" "no work tree"; then
	ok "--staged on a bare repository is refused in one line"
else
	fail "--staged on a bare repository is refused in one line" "$(show)"
fi
if [ "$(head_of "$WT")" = "$WT_HEAD" ] && [ "$(git -C "$WT" rev-list --all | wc -l)" = 1 ]; then
	ok "after every check --staged the work tree's repository still has its one commit"
else
	fail "after every check --staged the work tree's repository still has its one commit" "$(git -C "$WT" log --all --oneline)"
fi

# ============================================================================================
# 6. plumb hook install, and git running the hooks
# ============================================================================================

H="$T/hooked"
make_repo "$H"
write_manifest "$H"
printf 'APP_NAME=shop\n' >"$H/app.env"
commit_all "$H" "first"

# git_commit ARGS...: a real git commit in $H, hooks and all.
git_commit() {
	COMMIT_CLOCK=$((COMMIT_CLOCK + 60))
	capture env GIT_AUTHOR_DATE="@$COMMIT_CLOCK +0000" GIT_COMMITTER_DATE="@$COMMIT_CLOCK +0000" \
		git -C "$H" commit -q "$@"
}

capture "$PLUMB" hook install --repo "$H"
if [ "$RC" = 0 ] && [ -x "$H/.git/hooks/pre-commit" ] && [ -x "$H/.git/hooks/pre-push" ] &&
	grep -q 'installed by plumb' "$H/.git/hooks/pre-commit" && grep -q 'installed by plumb' "$H/.git/hooks/pre-push"; then
	ok "hook install creates executable pre-commit and pre-push hooks"
else
	fail "hook install creates executable pre-commit and pre-push hooks" "$(show)" "$(ls -la "$H/.git/hooks")"
fi
expected=$(printf 'installed %s\ninstalled %s' "$H/.git/hooks/pre-commit" "$H/.git/hooks/pre-push")
if [ "$OUT" = "$expected" ]; then
	ok "hook install names each hook it installed by its path"
else
	fail "hook install names each hook it installed by its path" "expected:" "$expected" "$(show)"
fi

before=$(head_of "$H")
printf 'APP_NAME=shop\nGITHUB_TOKEN=%s\n' "$GH_TOKEN" >"$H/app.env"
git -C "$H" add app.env
git_commit -m "add a token"
if [ "$RC" != 0 ] && grep -qx 'app.env:2: github-token ghp_\*\*\*\*' <<<"$ERR" && [ "$(head_of "$H")" = "$before" ]; then
	ok "git commit of a staged secret is refused by the pre-commit hook"
else
	fail "git commit of a staged secret is refused by the pre-commit hook" "$(show)"
fi
no_secret_in_output "the refused commit prints no secret"

git -C "$H" checkout -q HEAD -- app.env
printf 'hello\n' >"$H/README.md"
git -C "$H" add README.md
git_commit -m "a clean change"
if [ "$RC" = 0 ] && [ "$(head_of "$H")" != "$before" ] && [ -z "$(git -C "$H" status --porcelain)" ]; then
	ok "a clean git commit goes through the pre-commit hook"
else
	fail "a clean git commit goes through the pre-commit hook" "$(show)"
fi

before=$(head_of "$H")
printf 'APP_NAME=shop\nGITHUB_TOKEN=%s\n' "$GH_TOKEN" >"$H/app.env"
git_commit -a -m "commit -a with a token"
if [ "$RC" != 0 ] && contains "$ERR" "app.env:2: github-token" && [ "$(head_of "$H")" = "$before" ]; then
	ok "git commit -a of a modified file holding a secret is refused (the hook reads GIT_INDEX_FILE)"
else
	fail "git commit -a of a modified file holding a secret is refused (the hook reads GIT_INDEX_FILE)" "$(show)"
fi

git_commit -m "commit of a path with a token" -- app.env
if [ "$RC" != 0 ] && contains "$ERR" "app.env:2: github-token" && [ "$(head_of "$H")" = "$before" ]; then
	ok "git commit PATH of a file holding a secret is refused"
else
	fail "git commit PATH of a file holding a secret is refused" "$(show)"
fi
git -C "$H" checkout -q HEAD -- app.env

# --- pre-push, through a git daemon ---

mkdir -p "$T/daemon"
git init -q --bare -b main "$T/daemon/x.git"
start_git_daemon "$T/daemon"
URL="git://127.0.0.1:$GIT_PORT/x.git"
remote_main() {
	git --git-dir="$T/daemon/x.git" rev-parse -q --verify refs/heads/main
}

capture git -C "$H" push -q "$URL" main
if [ "$RC" = 0 ] && [ "$(remote_main)" = "$(head_of "$H")" ]; then
	ok "a clean push goes through the pre-push hook"
else
	fail "a clean push goes through the pre-push hook" "$(show)"
fi
CLEAN_TIP=$(head_of "$H")

printf 'APP_NAME=shop\nGITHUB_TOKEN=%s\n' "$GH_TOKEN" >"$H/app.env"
commit_all "$H" "a token, past the pre-commit hook"
capture git -C "$H" push -q "$URL" main
if [ "$RC" != 0 ] && contains "$ERR" "app.env:2: github-token ghp_****" && [ "$(remote_main)" = "$CLEAN_TIP" ]; then
	ok "a push whose tip holds a secret is refused by the pre-push hook, the remote unchanged"
else
	fail "a push whose tip holds a secret is refused by the pre-push hook, the remote unchanged" "$(show)" "remote: $(remote_main)"
fi
no_secret_in_output "the refused push prints no secret"

# The docs: the pre-push hook checks "every pushed commit", so a secret in the middle of the pushed commits
# must not reach the remote either.
printf 'APP_NAME=shop\n' >"$H/app.env"
commit_all "$H" "remove the token again"
capture git -C "$H" push -q "$URL" main
if [ "$RC" != 0 ] && [ "$(remote_main)" = "$CLEAN_TIP" ]; then
	ok "a push with a secret in a commit before the tip is refused by the pre-push hook"
else
	fail "a push with a secret in a commit before the tip is refused by the pre-push hook" "$(show)" \
		"remote: $(remote_main), holds the token commit: $(git --git-dir="$T/daemon/x.git" rev-list main | wc -l) commits"
fi

git -C "$H" push -q "$URL" "$CLEAN_TIP:refs/heads/side" >/dev/null 2>&1
capture git -C "$H" push -q "$URL" :side
if [ "$RC" = 0 ] && ! git --git-dir="$T/daemon/x.git" rev-parse -q --verify refs/heads/side >/dev/null; then
	ok "the pre-push hook lets a branch deletion through"
else
	fail "the pre-push hook lets a branch deletion through" "$(show)"
fi

git -C "$H" reset -q --hard "$CLEAN_TIP"
printf 'more\n' >>"$H/README.md"
git -C "$H" add README.md
git_commit -m "another clean change"
capture git -C "$H" push -q -f "$URL" main
if [ "$RC" = 0 ] && [ "$(remote_main)" = "$(head_of "$H")" ]; then
	ok "a clean push after the refused ones goes through"
else
	fail "a clean push after the refused ones goes through" "$(show)"
fi

# --- installing again, a foreign hook, --force, core.hooksPath ---

capture "$PLUMB" hook install --repo "$H"
if [ "$RC" = 0 ] && [ -z "$ERR" ]; then
	ok "installing again replaces plumb's own hooks silently"
else
	fail "installing again replaces plumb's own hooks silently" "$(show)"
fi

printf '#!/bin/sh\n# my own hook\nexit 0\n' >"$H/.git/hooks/pre-commit"
chmod +x "$H/.git/hooks/pre-commit"
foreign=$(cat "$H/.git/hooks/pre-commit")
capture "$PLUMB" hook install --repo "$H"
if [ "$RC" = 1 ] && grep -qE "$H/\.git/hooks/+pre-commit exists" <<<"$ERR" && [ "$(cat "$H/.git/hooks/pre-commit")" = "$foreign" ]; then
	ok "a foreign pre-commit hook is left alone, exit 1 and a message naming it"
else
	fail "a foreign pre-commit hook is left alone, exit 1 and a message naming it" "$(show)"
fi
capture "$PLUMB" hook install --repo "$H" --force
if [ "$RC" = 0 ] && grep -q 'installed by plumb' "$H/.git/hooks/pre-commit" && grep -q -- '--staged' "$H/.git/hooks/pre-commit"; then
	ok "--force replaces a foreign hook"
else
	fail "--force replaces a foreign hook" "$(show)" "$(cat "$H/.git/hooks/pre-commit")"
fi

git -C "$H" config core.hooksPath .githooks
capture "$PLUMB" hook install --repo "$H"
if [ "$RC" = 0 ] && [ -x "$H/.githooks/pre-commit" ] && [ -x "$H/.githooks/pre-push" ]; then
	ok "with core.hooksPath the hooks go to that folder"
else
	fail "with core.hooksPath the hooks go to that folder" "$(show)" "$(ls -la "$H" "$H/.githooks" 2>&1)"
fi
rm -f "$H/.git/hooks/pre-commit" "$H/.git/hooks/pre-push"
before=$(head_of "$H")
printf 'SLACK=%s\n' "$SLACK" >"$H/notify.env"
git -C "$H" add notify.env
git_commit -m "a slack token"
if [ "$RC" != 0 ] && contains "$ERR" "notify.env:1: slack-token xoxb-****" && [ "$(head_of "$H")" = "$before" ]; then
	ok "git runs the hook from core.hooksPath and refuses the commit"
else
	fail "git runs the hook from core.hooksPath and refuses the commit" "$(show)"
fi

capture "$PLUMB" hook install --repo "$T/bare.git"
if [ "$RC" = 1 ] && contains "$ERR" "no work tree"; then
	ok "hook install in a bare repository is refused"
else
	fail "hook install in a bare repository is refused" "$(show)"
fi

[ "$TAP_FAILED" -eq 0 ]
