#!/usr/bin/env bash
# Secrets (docs/secrets.md) with real parts: one repository whose Files take
# their content from a Secret of every kind - age (sealed by plumb, binary
# and armored, and by the age tool), env, a host file, commands (trimNewline
# both ways) and pass with a throwaway GPG key - synced byte for byte with
# their modes; interop with Debian's age and age-keygen both ways; every
# way a Secret can fail to be read (wrong, missing or foreign identity,
# corrupted and truncated age files, unset variable, missing file, failing
# and hanging commands) and every load-time error of check, each named with
# its position and applying nothing; a rotation planned as an update whose
# content is not shown; and the leak search: every command of the pipeline
# (check, render, plan, show, apply, sync, status, history, audit, drift and
# plumb serve with its API) run with distinctive values, and none of them,
# nor their git blob ids, in any output, log, plan file or state directory.
. "$(dirname "$0")/lib.sh"

SCRIPT_START=$(date +%s)
REPO="$T/repo"
ROOT="$T/root"
STATE="$T/state"
LOGS="$T/outputs" # every command's stdout and stderr, one file each
V="$T/values"     # the bytes each live file must hold, one file per Secret
HOSTSEC="$T/host-secrets"
MARKER="$T/cmd-plain-ran"
mkdir -p "$LOGS" "$V" "$HOSTSEC" "$T/exp"

SERVE_PID=
secrets_cleanup() {
	local rc=$?
	if [ -n "$SERVE_PID" ]; then
		kill -TERM "$SERVE_PID" 2>/dev/null
		wait "$SERVE_PID" 2>/dev/null
	fi
	[ -d "${GNUPGHOME:-/nonexistent}" ] && gpgconf --kill gpg-agent >/dev/null 2>&1
	(exit "$rc")
	cleanup
}
trap secrets_cleanup EXIT

# --- the distinctive values ------------------------------------------------------------------

RND=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
V_AGE="SECRETVAL-e2e-age-$RND"         # sealed by plumb (binary); its bytes end in NUL, 0xff, newline
V_ARM="SECRETVAL-e2e-armored-$RND"     # sealed by plumb -a
V_TOOL="SECRETVAL-e2e-agetool-$RND"    # encrypted by the age tool
V_ENV="SECRETVAL-e2e-env-$RND"         # an environment variable of the plumb process
V_FILE="SECRETVAL-e2e-file-$RND"       # a host file, newline kept
V_FTRIM="SECRETVAL-e2e-filetrim-$RND"  # a host file, trimNewline: true
V_CMD="SECRETVAL-e2e-cmd-$RND"         # a command printing no newline
V_CMDNL="SECRETVAL-e2e-cmdnl-$RND"     # a command printing one (dropped by default)
V_RAW="SECRETVAL-e2e-cmdraw-$RND"      # a command printing one, trimNewline: false
V_PASS="SECRETVAL-e2e-pass-$RND"       # pass show
V_KEYGEN="SECRETVAL-e2e-agekeygen-$RND" # sealed to an age-keygen identity
V_AGE2="SECRETVAL-e2e-age2-$RND"       # the rotation of V_AGE
V_ENV2="SECRETVAL-e2e-env2-$RND"       # the rotation of V_ENV (a saved plan)
V_ENV3="SECRETVAL-e2e-env3-$RND"       # the rotation plumb serve sees
V_ENVX="SECRETVAL-e2e-envx-$RND"       # a value that arrives between plan and apply
V_HAND="SECRETVAL-e2e-byhand-$RND"     # written over a live secret file by hand
VALUES=("$V_AGE" "$V_ARM" "$V_TOOL" "$V_ENV" "$V_FILE" "$V_FTRIM" "$V_CMD" "$V_CMDNL" "$V_RAW" "$V_PASS"
	"$V_KEYGEN" "$V_AGE2" "$V_ENV2" "$V_ENV3" "$V_ENVX" "$V_HAND")
ENVNAME=PLUMB_E2E_DB_PASSWORD
ENVVAL=$V_ENV

# The exact bytes: what each source yields and what each live file must hold.
printf '%s\0\377\n' "$V_AGE" >"$V/db-age"
printf '%s' "$V_ARM" >"$V/api-armored"
printf '%s\n' "$V_TOOL" >"$V/tool-age"
printf '%s' "$V_ENV" >"$V/env-pass"
printf '%s\n' "$V_FILE" >"$HOSTSEC/api-key"
cp "$HOSTSEC/api-key" "$V/host-file"
printf '%s\n\n' "$V_FTRIM" >"$HOSTSEC/token"
printf '%s\n' "$V_FTRIM" >"$V/host-file-trim" # one line break dropped, not two
printf '%s' "$V_CMD" >"$V/cmd-plain"
printf '%s' "$V_CMDNL" >"$V/cmd-newline"
printf '%s\n' "$V_RAW" >"$V/cmd-raw"
printf '%s' "$V_PASS" >"$V/pass-db"

# oct VALUE: VALUE as printf octal escapes, so that a command prints it without the
# manifest (which render shows) holding it.
oct() { printf %s "$1" | od -An -v -to1 | tr -s ' \n' '  ' | sed 's/^ *//; s/ *$//; s/ /\\/g; s/^/\\/'; }

# run NAME COMMAND...: capture, keeping stdout and stderr in $LOGS/NAME.
N=0
run() {
	local name=$1
	shift
	N=$((N + 1))
	capture "$@"
	printf '%s\n' "$OUT" >"$LOGS/$(printf %02d $N)-$name.out"
	printf '%s\n' "$ERR" >"$LOGS/$(printf %02d $N)-$name.err"
}

# penv PLUMB-ARGS...: plumb with the environment variable of the env Secret set (only for it).
penv() { env "$ENVNAME=$ENVVAL" "$PLUMB" "$@"; }

SRC=(--repo "$REPO" --root "$ROOT" --state "$STATE")

# at DIR FILE NEEDLE [TOKEN]: FILE:LINE:COL of TOKEN (default NEEDLE) on the first line of DIR/FILE holding NEEDLE.
at() {
	awk -v n="$3" -v t="${4:-$3}" -v f="$2" 'index($0, n) { print f ":" NR ":" index($0, t); exit }' "$1/$2"
}

# line_starts TEXT PREFIX: a line of TEXT starts with PREFIX (fixed string).
line_starts() { awk -v p="$2" 'index($0, p) == 1 { found = 1 } END { exit !found }' <<<"$1"; }

# holds_value TEXT: TEXT holds one of the values.
holds_value() {
	local v
	for v in "${VALUES[@]}"; do contains "$1" "$v" && return 0; done
	return 1
}

# same_bytes NAME EXPECTED_FILE ACTUAL_FILE: cmp, with both as od -c when they differ.
same_bytes() {
	if [ -f "$3" ] && cmp -s "$2" "$3"; then
		ok "$1"
	else
		fail "$1" "expected:" "$(od -c "$2")" "actual:" "$(od -c "$3" 2>&1)"
	fi
}

# --- GPG and pass: a throwaway key without passphrase -----------------------------------------

export GNUPGHOME="$T/gnupg"
export PASSWORD_STORE_DIR="$T/store"
mkdir -m 700 "$GNUPGHOME"
if gpg --batch --passphrase '' --quick-gen-key 'plumb test <t@example.invalid>' default default never >"$T/gpg.log" 2>&1; then
	KEYID=$(gpg --list-keys --with-colons 2>/dev/null | awk -F: '/^fpr/ { print $10; exit }')
	pass init "$KEYID" >>"$T/gpg.log" 2>&1 &&
		printf '%s\n' "$V_PASS" | pass insert -m db/password >>"$T/gpg.log" 2>&1
fi
capture pass show db/password
if [ "$RC" = 0 ] && [ "$OUT" = "$V_PASS" ]; then
	ok "pass show db/password prints the value (a real GPG key and password store)"
else
	fail "pass show db/password prints the value (a real GPG key and password store)" "$(show)" "$(cat "$T/gpg.log")"
fi

# --- identities --------------------------------------------------------------------------------

run keygen "$PLUMB" secret keygen --state "$STATE"
RECIP=$OUT
if [ "$RC" = 0 ] && [[ "$RECIP" =~ ^age1[02-9ac-hj-np-z]{58}$ ]] && [ "$(stat -c %a "$STATE/identity")" = 600 ]; then
	ok "secret keygen writes STATE/identity 0600 and prints its age1 recipient"
else
	fail "secret keygen writes STATE/identity 0600 and prints its age1 recipient" "$(show)" "$(ls -l "$STATE" 2>&1)"
fi
cp "$STATE/identity" "$T/identity.before"
run keygen-again "$PLUMB" secret keygen --state "$STATE"
if [ "$RC" = 1 ] && cmp -s "$T/identity.before" "$STATE/identity"; then
	ok "a second keygen refuses to replace the identity"
else
	fail "a second keygen refuses to replace the identity" "$(show)"
fi
run recipient "$PLUMB" secret recipient --state "$STATE"
if [ "$RC" = 0 ] && [ "$OUT" = "$RECIP" ] && [ "$(age-keygen -y "$STATE/identity" 2>&1)" = "$RECIP" ]; then
	ok "secret recipient and age-keygen -y both read plumb's identity as the recipient keygen printed"
else
	fail "secret recipient and age-keygen -y both read plumb's identity as the recipient keygen printed" "$(show)" \
		"age-keygen -y: $(age-keygen -y "$STATE/identity" 2>&1)"
fi
age-keygen -o "$T/agekey.txt" 2>/dev/null
run recipient-agekeygen "$PLUMB" secret recipient --identity "$T/agekey.txt"
AGEKEY_RECIP=$(age-keygen -y "$T/agekey.txt")
if [ "$RC" = 0 ] && [ -n "$AGEKEY_RECIP" ] && [ "$OUT" = "$AGEKEY_RECIP" ]; then
	ok "secret recipient --identity FILE of an age-keygen identity equals age-keygen -y FILE"
else
	fail "secret recipient --identity FILE of an age-keygen identity equals age-keygen -y FILE" "$(show)" "age-keygen -y: $AGEKEY_RECIP"
fi
"$PLUMB" secret keygen --state "$T/state-other" >/dev/null 2>&1

# --- the repository ----------------------------------------------------------------------------

make_repo "$REPO"
mkdir -p "$REPO/secrets"

# seal_db VALUE_FILE: secrets/db.age, binary, sealed by plumb.
seal_db() { "$PLUMB" secret seal -r "$RECIP" <"$1" >"$REPO/secrets/db.age"; }
seal_db "$V/db-age"
"$PLUMB" secret seal -r "$RECIP" -a "$V/api-armored" >"$REPO/secrets/api.age"
age -r "$RECIP" -o "$REPO/secrets/tool.age" "$V/tool-age"

if [ "$(head -c 22 "$REPO/secrets/db.age")" = "age-encryption.org/v1" ] && ! grep -q -- '-----BEGIN' "$REPO/secrets/db.age"; then
	ok "secret seal writes a binary age file"
else
	fail "secret seal writes a binary age file" "$(head -c 200 "$REPO/secrets/db.age" | od -c | head)"
fi
if [ "$(head -n 1 "$REPO/secrets/api.age")" = "-----BEGIN AGE ENCRYPTED FILE-----" ] &&
	[ "$(tail -n 1 "$REPO/secrets/api.age")" = "-----END AGE ENCRYPTED FILE-----" ]; then
	ok "secret seal -a writes an armored age file"
else
	fail "secret seal -a writes an armored age file" "$(cat "$REPO/secrets/api.age")"
fi
for f in db api; do
	if age -d -i "$STATE/identity" "$REPO/secrets/$f.age" >"$T/age-d.out" 2>"$T/age-d.err" &&
		cmp -s "$T/age-d.out" "$V/$([ $f = db ] && echo db-age || echo api-armored)"; then
		ok "age -d -i STATE/identity opens secrets/$f.age sealed by plumb"
	else
		fail "age -d -i STATE/identity opens secrets/$f.age sealed by plumb" "$(cat "$T/age-d.err")" "$(od -c "$T/age-d.out" | head)"
	fi
done

CMD_PLAIN_SPEC="  command: [sh, -c, ': > \"\$0\"; printf \"$(oct "$V_CMD")\"', $MARKER]"
PLAIN="plain v1"

write_repo() {
	cat >"$REPO/secrets.yaml" <<EOF
apiVersion: plumb/v1
kind: Secret
metadata: {name: db-age}
spec:
  age: secrets/db.age
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: api-armored}
spec:
  age: secrets/api.age
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: tool-age}
spec:
  age: secrets/tool.age
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: env-pass}
spec:
  env: $ENVNAME
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: host-file}
spec:
  file: $HOSTSEC/api-key
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: host-file-trim}
spec:
  file: $HOSTSEC/token
  trimNewline: true
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: cmd-plain}
spec:
$CMD_PLAIN_SPEC
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: cmd-newline}
spec:
  command: [sh, -c, 'printf "$(oct "$V_CMDNL")\n"']
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: cmd-raw}
spec:
  command: [sh, -c, 'printf "$(oct "$V_RAW")\n"']
  trimNewline: false
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: pass-db}
spec:
  command: [pass, show, db/password]
EOF
	: >"$REPO/files.yaml"
	local spec name path secret mode
	for spec in "db-bin /etc/app/db.bin db-age 0600" "api-key /etc/app/api.key api-armored 0640" \
		"tool-key /etc/app/tool.key tool-age 0600" "env-conf /etc/app/env.conf env-pass 0600" \
		"host-key /etc/app/host.key host-file 0400" "host-trim /etc/app/host-trim.key host-file-trim 0644" \
		"cmd-txt /etc/app/cmd.txt cmd-plain 0600" "cmd-nl /etc/app/cmd-nl.txt cmd-newline 0640" \
		"cmd-raw /etc/app/cmd-raw.txt cmd-raw 0600" "pass-txt /etc/app/pass.txt pass-db 0600"; do
		read -r name path secret mode <<<"$spec"
		cat >>"$REPO/files.yaml" <<EOF
---
apiVersion: host/v1
kind: File
metadata: {name: $name}
spec: {path: $path, contentFrom: {secret: $secret}, mode: "$mode"}
EOF
	done
	cat >"$REPO/plain.yaml" <<EOF
apiVersion: host/v1
kind: File
metadata: {name: plain}
spec: {path: /etc/app/plain.conf, content: "$PLAIN\n", mode: "0644"}
EOF
}

# expected_tree: what the live tree must be, from the value files.
expected_tree() {
	local d="$T/exp" spec file secret mode
	rm -rf "$d"
	mkdir -p "$d/etc/app"
	for spec in "db.bin db-age 600" "api.key api-armored 640" "tool.key tool-age 600" "env.conf env-pass 600" \
		"host.key host-file 400" "host-trim.key host-file-trim 644" "cmd.txt cmd-plain 600" \
		"cmd-nl.txt cmd-newline 640" "cmd-raw.txt cmd-raw 600" "pass.txt pass-db 600"; do
		read -r file secret mode <<<"$spec"
		cp "$V/$secret" "$d/etc/app/$file"
		chmod "$mode" "$d/etc/app/$file"
	done
	printf '%s\n' "$PLAIN" >"$d/etc/app/plain.conf"
	tree_listing "$d"
}

write_repo
commit_all "$REPO" "secrets v1"
if ! grep -rqaF "SECRETVAL" "$REPO/secrets.yaml" "$REPO/files.yaml" "$REPO/secrets"; then
	ok "no value is written in the repository (the commands print octal escapes)"
else
	fail "no value is written in the repository (the commands print octal escapes)" "$(grep -raF SECRETVAL "$REPO")"
fi

# --- check and render read no value ---------------------------------------------------------------

run check "$PLUMB" check --repo "$REPO" --state "$T/state-empty"
if [ "$RC" = 0 ] && contains "$OUT" "OK: repo: 21 resources, 11 objects" && contains "$OUT" "OK: no plaintext secrets"; then
	ok "check passes with no identity, the variable unset (it reads no value)"
else
	fail "check passes with no identity, the variable unset (it reads no value)" "$(show)"
fi
run render-yaml "$PLUMB" render --repo "$REPO" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "secret: db-age" && contains "$OUT" "env: $ENVNAME"; then
	ok "render (YAML) shows the Secrets and the Files (references only)"
else
	fail "render (YAML) shows the Secrets and the Files (references only)" "$(show)"
fi
run render-json "$PLUMB" render --repo "$REPO" --state "$STATE" -o json
if [ "$RC" = 0 ] && [ "$(jq '[.applications[].objects[].object | select(.kind == "Secret")] | length' <<<"$OUT")" = 10 ]; then
	ok "render -o json prints the 10 Secrets"
else
	fail "render -o json prints the 10 Secrets" "$(show)"
fi
if [ ! -e "$MARKER" ]; then
	ok "check and render ran no command"
else
	fail "check and render ran no command"
fi

# --- plan, plan files, show -----------------------------------------------------------------------

run plan-text penv plan "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 11 to create, 0 to update, 0 to delete."; then
	ok "plan: 11 to create"
else
	fail "plan: 11 to create" "$(show)"
fi
n=$(grep -c '^    Sensitive content of /etc/app/[a-z.-]* is written (not shown)$' <<<"$OUT")
if [ "$n" = 10 ]; then
	ok "plan: each of the 10 secret files says its content is written, not shown"
else
	fail "plan: each of the 10 secret files says its content is written, not shown" "$n lines" "$(show)"
fi
if [ -e "$MARKER" ]; then ok "plan runs the commands of the Secrets"; else fail "plan runs the commands of the Secrets"; fi
run plan-json penv plan "${SRC[@]}" -o json
expect_rc "plan -o json exits 0" 0
run plan-file penv plan "${SRC[@]}" -o "$T/plan1.json"
expect_rc "plan -o FILE exits 0" 0
run show "$PLUMB" show "$T/plan1.json"
if [ "$RC" = 0 ] && contains "$OUT" "Sensitive content of /etc/app/db.bin is written (not shown)"; then
	ok "show of the plan file: the secret file's content is not shown"
else
	fail "show of the plan file: the secret file's content is not shown" "$(show)"
fi
run show-json "$PLUMB" show "$T/plan1.json" -o json
if [ "$RC" = 0 ] && python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
s = {a["path"]: a.get("sensitive") for a in doc["actions"]}
bad = {p: v for p, v in s.items() if v is not (p != "/etc/app/plain.conf")}
sys.exit("wrong sensitive flags: %r" % bad if bad or len(s) != 11 else 0)' "$T/plan1.json" >"$T/py.out" 2>&1; then
	ok "the plan file marks exactly the 10 secret files sensitive"
else
	fail "the plan file marks exactly the 10 secret files sensitive" "$(cat "$T/py.out")" "$(show)"
fi

# --- the sync --------------------------------------------------------------------------------------

run sync1 penv sync "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 11 created, 0 updated, 0 deleted"; then
	ok "sync: 11 created"
else
	fail "sync: 11 created" "$(show)"
fi
for spec in "db.bin db-age age, binary, sealed by plumb (NUL, 0xff and newline kept)" \
	"api.key api-armored age, armored, sealed by plumb -a" "tool.key tool-age age, encrypted by the age tool" \
	"env.conf env-pass env" "host.key host-file file (its newline kept)" \
	"host-trim.key host-file-trim file with trimNewline: true (one of two newlines dropped)" \
	"cmd.txt cmd-plain command" "cmd-nl.txt cmd-newline command (its newline dropped by default)" \
	"cmd-raw.txt cmd-raw command with trimNewline: false (its newline kept)" "pass.txt pass-db pass show (its newline dropped)"; do
	read -r f s what <<<"$spec"
	same_bytes "/etc/app/$f holds exactly the value of Secret $s: $what" "$V/$s" "$ROOT/etc/app/$f"
done
same_listing "the live tree is exactly the declared files, with their modes" "$(expected_tree)" "$(tree_listing "$ROOT")"
cp -a "$ROOT" "$T/snap-v1"

run sync2 penv sync "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "No changes"; then ok "a second sync: No changes"; else fail "a second sync: No changes" "$(show)"; fi

# --- an age-keygen identity and a file age -e sealed to it ------------------------------------------

REPO2="$T/repo2"
make_repo "$REPO2"
mkdir -p "$REPO2/secrets"
printf '%s' "$V_KEYGEN" | age -e -r "$AGEKEY_RECIP" -o "$REPO2/secrets/k.age"
cat >"$REPO2/k.yaml" <<'EOF'
apiVersion: plumb/v1
kind: Secret
metadata: {name: keygen-secret}
spec: {age: secrets/k.age}
---
apiVersion: host/v1
kind: File
metadata: {name: k}
spec: {path: /etc/k, contentFrom: {secret: keygen-secret}, mode: "0600"}
EOF
commit_all "$REPO2" "age-keygen secret"
run sync-agekeygen "$PLUMB" sync --repo "$REPO2" --root "$T/root2" --state "$T/state2" --identity "$T/agekey.txt"
if [ "$RC" = 0 ] && [ "$(cat "$T/root2/etc/k" 2>/dev/null)" = "$V_KEYGEN" ] && [ "$(stat -c %a "$T/root2/etc/k")" = 600 ]; then
	ok "sync --identity FILE (made by age-keygen) opens a file age -e -r sealed to it"
else
	fail "sync --identity FILE (made by age-keygen) opens a file age -e -r sealed to it" "$(show)"
fi
cat "$T/agekey.txt" "$STATE/identity" >"$T/identities.txt"
run plan-multi-identity penv plan "${SRC[@]}" --identity "$T/identities.txt"
if [ "$RC" = 0 ] && contains "$OUT" "No changes"; then
	ok "an identity file holding two identities (age-keygen's comments included) opens the repository"
else
	fail "an identity file holding two identities (age-keygen's comments included) opens the repository" "$(show)"
fi

# ====================================================================================================
# Failures: each names the Secret and its position, exits 1 and applies nothing.
# ====================================================================================================

# A pending change, so that "nothing applied" means something.
PLAIN="plain v2"
write_repo
commit_all "$REPO" "plain v2"
BEFORE=$(tree_listing "$ROOT")

POS_DB=$(at "$REPO" secrets.yaml "age: secrets/db.age" secrets/db.age)
POS_API=$(at "$REPO" secrets.yaml "age: secrets/api.age" secrets/api.age)
POS_TOOL=$(at "$REPO" secrets.yaml "age: secrets/tool.age" secrets/tool.age)
POS_ENV=$(at "$REPO" secrets.yaml "env: $ENVNAME" "$ENVNAME")
POS_FILE=$(at "$REPO" secrets.yaml "file: $HOSTSEC/api-key" "$HOSTSEC/api-key")

# secret_fails NAME PREFIX TEXT: the last capture exited 1 with a line of stderr starting with
# PREFIX ("FILE:LINE:COL: Secret NAME: ") that holds TEXT, said nothing was applied, showed no
# value; and the live tree is as it was.
secret_fails() {
	local name=$1 prefix=$2 text=$3
	if [ "$RC" = 1 ] && line_starts "$ERR" "$prefix" && awk -v p="$prefix" 'index($0, p) == 1' <<<"$ERR" | grep -qF -- "$text" &&
		contains "$ERR" "nothing was applied" && ! holds_value "$OUT$ERR"; then
		ok "$name: exit 1, '$prefix... $text', no value shown"
	else
		fail "$name: exit 1, '$prefix... $text', no value shown" "$(show)"
	fi
	same_listing "$name: nothing was applied" "$BEFORE" "$(tree_listing "$ROOT")"
}

run fail-wrong-identity penv sync "${SRC[@]}" --identity "$T/state-other/identity"
secret_fails "another keygen's identity" "$POS_DB: Secret db-age: secrets/db.age: " "no identity matches"
if line_starts "$ERR" "$POS_API: Secret api-armored: " && line_starts "$ERR" "$POS_TOOL: Secret tool-age: " &&
	contains "$ERR" "3 errors"; then
	ok "another keygen's identity: the three age Secrets are each named, at their positions"
else
	fail "another keygen's identity: the three age Secrets are each named, at their positions" "$(show)"
fi

run fail-no-identity penv sync --repo "$REPO" --root "$ROOT" --state "$T/state-empty"
secret_fails "no identity (a fresh state directory)" "$POS_DB: Secret db-age: " "plumb secret keygen"

run fail-env-unset "$PLUMB" sync "${SRC[@]}"
secret_fails "the variable unset" "$POS_ENV: Secret env-pass: " "$ENVNAME is not set"
run fail-env-unset-plan "$PLUMB" plan "${SRC[@]}"
if [ "$RC" = 1 ] && line_starts "$ERR" "$POS_ENV: Secret env-pass: "; then
	ok "plan fails the same way when the variable is unset"
else
	fail "plan fails the same way when the variable is unset" "$(show)"
fi

mv "$HOSTSEC/api-key" "$HOSTSEC/api-key.away"
run fail-missing-file penv sync "${SRC[@]}"
secret_fails "the host file missing" "$POS_FILE: Secret host-file: " "$HOSTSEC/api-key"
mv "$HOSTSEC/api-key.away" "$HOSTSEC/api-key"

# The age file corrupted in a new commit: a byte flipped in the middle of the payload (the ciphertext).
GOOD_DB="$T/db.age.good"
cp "$REPO/secrets/db.age" "$GOOD_DB"
DB_SIZE=$(stat -c %s "$GOOD_DB")
DB_HEADER=$(python3 -c 'import sys
b = open(sys.argv[1], "rb").read()
i = b.index(b"\n--- ")
print(b.index(b"\n", i + 1) + 1)' "$GOOD_DB")
flip() { # OFFSET [b64]: secrets/db.age is the good one with the byte at OFFSET changed (b64: to another base64 letter)
	python3 -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read())
i = int(sys.argv[3])
if sys.argv[4] == "b64":
    b[i] = ord("A") if b[i] != ord("A") else ord("B")
else:
    b[i] ^= 0x20
open(sys.argv[2], "wb").write(b)' "$GOOD_DB" "$REPO/secrets/db.age" "$1" "${2:-}"
}
flip $((DB_HEADER + (DB_SIZE - DB_HEADER) / 2))
commit_all "$REPO" "db.age: a byte of the ciphertext flipped"
run fail-corrupt penv sync "${SRC[@]}"
secret_fails "a byte of the ciphertext flipped" "$POS_DB: Secret db-age: secrets/db.age: " "corrupted"

flip $((DB_SIZE / 2))
commit_all "$REPO" "db.age: the byte in the middle of the file flipped"
run fail-corrupt-middle penv sync "${SRC[@]}"
secret_fails "the byte in the middle of the file (a recipient stanza) flipped" "$POS_DB: Secret db-age: secrets/db.age: " ""

flip $((DB_HEADER - 5)) b64
commit_all "$REPO" "db.age: the header MAC altered"
run fail-corrupt-mac penv sync "${SRC[@]}"
secret_fails "the header MAC altered" "$POS_DB: Secret db-age: secrets/db.age: " "MAC"

head -c $((DB_HEADER + 20)) "$GOOD_DB" >"$REPO/secrets/db.age"
commit_all "$REPO" "db.age: truncated in the payload"
run fail-truncated penv sync "${SRC[@]}"
secret_fails "truncated in the payload" "$POS_DB: Secret db-age: secrets/db.age: " "truncated"

head -c $((DB_SIZE / 2)) "$GOOD_DB" >"$REPO/secrets/db.age"
commit_all "$REPO" "db.age: truncated in half"
run fail-truncated-half penv sync "${SRC[@]}"
secret_fails "truncated in half" "$POS_DB: Secret db-age: secrets/db.age: " "truncated"
cp "$GOOD_DB" "$REPO/secrets/db.age"

# A command that fails: the first line of its stderr, not the rest.
CMD_PLAIN_SPEC="  command: [sh, -c, 'echo cmd-stderr-first-line >&2; echo cmd-stderr-second-line >&2; printf \"$(oct "$V_CMD")\"; exit 3']"
write_repo
commit_all "$REPO" "cmd-plain fails"
POS_CMD=$(at "$REPO" secrets.yaml "command: [sh, -c, 'echo cmd-stderr" sh)
run fail-command penv sync "${SRC[@]}"
secret_fails "a command exiting 3" "$POS_CMD: Secret cmd-plain: " "cmd-stderr-first-line"
if contains "$ERR" "status 3" && ! contains "$ERR" "cmd-stderr-second-line"; then
	ok "a command exiting 3: its status and only the first line of its stderr"
else
	fail "a command exiting 3: its status and only the first line of its stderr" "$(show)"
fi

# A command that hangs: killed after its timeout, with what it started. It would run for 300 s:
# plumb's return well before that (within a minute, however busy the machine) is its timeout's doing.
SLEEP_TAG="$((16#${RND:0:6}))"
CMD_PLAIN_SPEC="  command: [sh, -c, 'sleep 301.$SLEEP_TAG & sleep 300.$SLEEP_TAG']
  timeout: 1s"
write_repo
commit_all "$REPO" "cmd-plain hangs"
POS_CMD=$(at "$REPO" secrets.yaml "command: [sh, -c, 'sleep" sh)
t0=$(date +%s)
run fail-timeout penv sync "${SRC[@]}"
took=$(($(date +%s) - t0))
secret_fails "a command hanging past timeout: 1s" "$POS_CMD: Secret cmd-plain: " "timed out"
if [ "$took" -lt 60 ]; then
	ok "a command hanging past timeout: 1s: plumb returns in ${took}s (< 60 s, the command would run 300 s)"
else
	fail "a command hanging past timeout: 1s: plumb returns in ${took}s (< 60 s, the command would run 300 s)"
fi
# Killed processes may take a moment to be gone from the process table.
sleeps_gone() { ! pgrep -f "sleep 30[01]\.$SLEEP_TAG\$" >/dev/null; }
deadline=$((SECONDS + 60))
until sleeps_gone || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
if sleeps_gone; then
	ok "a command hanging past timeout: it and the process it started are killed"
else
	fail "a command hanging past timeout: it and the process it started are killed" "$(pgrep -af "sleep 30[01]\.$SLEEP_TAG")"
	kill $(pgrep -f "sleep 30[01]\.$SLEEP_TAG\$") 2>/dev/null
fi

# Back to good: the pending change applies.
CMD_PLAIN_SPEC="  command: [sh, -c, ': > \"\$0\"; printf \"$(oct "$V_CMD")\"', $MARKER]"
write_repo
commit_all "$REPO" "plain v2, secrets restored"
run sync-restored penv sync "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 0 created, 1 updated, 0 deleted"; then
	ok "with every Secret readable again, the pending change applies (1 updated)"
else
	fail "with every Secret readable again, the pending change applies (1 updated)" "$(show)"
fi
same_listing "the live tree after the failures: the declared files, with their modes" "$(expected_tree)" "$(tree_listing "$ROOT")"

# --- load-time errors: check, with no identity and no variable -------------------------------------

BAD="$T/bad"
make_repo "$BAD"
mkdir -p "$BAD/secrets"
printf 'this is not an age file\n' >"$BAD/secrets/plain.age"
cat >"$BAD/bad.yaml" <<'EOF'
apiVersion: plumb/v1
kind: Secret
metadata: {name: two-sources}
spec:
  env: A_VARIABLE
  file: /etc/plumb/x
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: no-such-age}
spec:
  age: secrets/missing.age
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: not-age}
spec:
  age: secrets/plain.age
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: relative-file}
spec:
  file: etc/plumb/x
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: bad-env}
spec:
  env: 1-NOT A NAME
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: env-timeout}
spec:
  env: GOOD_NAME
  timeout: 5s
---
apiVersion: plumb/v1
kind: Secret
metadata: {name: fine}
spec:
  env: GOOD_NAME
---
apiVersion: host/v1
kind: File
metadata: {name: orphan}
spec:
  path: /etc/orphan
  contentFrom: {secret: nosuch}
---
apiVersion: host/v1
kind: File
metadata: {name: uses-not-age}
spec:
  path: /etc/uses-not-age
  contentFrom: {secret: not-age}
EOF
commit_all "$BAD" "bad secrets"
run check-bad "$PLUMB" check --repo "$BAD" --state "$T/state-empty"
if [ "$RC" = 1 ] && contains "$ERR" "is invalid"; then
	ok "check of the bad Secrets exits 1"
else
	fail "check of the bad Secrets exits 1" "$(show)"
fi
for spec in "spec:|spec:|exactly one of" \
	"age: secrets/missing.age|secrets/missing.age|does not exist" \
	"age: secrets/plain.age|secrets/plain.age|is not an age-encrypted file" \
	"file: etc/plumb/x|etc/plumb/x|absolute path" \
	"env: 1-NOT A NAME|1-NOT A NAME|is not an environment variable name" \
	"timeout: 5s|5s|only a command has a timeout" \
	"secret: nosuch|nosuch|no Secret named \"nosuch\""; do
	IFS='|' read -r needle token text <<<"$spec"
	pos=$(at "$BAD" bad.yaml "$needle" "$token")
	if awk -v p="$pos: " 'index($0, p) == 1' <<<"$ERR" | grep -qF -- "$text"; then
		ok "check: $pos: ... $text"
	else
		fail "check: $pos: ... $text" "$(show)"
	fi
done
# (the File using the invalid Secret "not-age" is the subject of the next test)
if [ "$(grep '^bad.yaml:[0-9]*:[0-9]*: ' <<<"$ERR" | grep -vc '"not-age"')" = 7 ]; then
	ok "check: the seven errors and no other"
else
	fail "check: the seven errors and no other" "$(show)"
fi
if ! grep -q 'no Secret named "not-age"' <<<"$ERR"; then
	ok "check: a File using an invalid Secret is not told that the Secret is not declared"
else
	fail "check: a File using an invalid Secret is not told that the Secret is not declared" "$(grep 'not-age' <<<"$ERR")"
fi
if [ ! -e "$T/state-empty/identity" ]; then
	ok "check made no identity"
else
	fail "check made no identity"
fi

# ====================================================================================================
# A rotation: the age value re-sealed in a new commit.
# ====================================================================================================

printf '%s\0\377\n' "$V_AGE2" >"$V/db-age"
seal_db "$V/db-age"
commit_all "$REPO" "rotate db-age"
run plan-rotate penv plan "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 0 to create, 1 to update, 0 to delete." &&
	grep -q '^~ File /etc/app/db.bin' <<<"$OUT" && grep -F '/etc/app/db.bin' <<<"$OUT" | grep -F 'not shown' | grep -q 'changes'; then
	ok "the re-sealed value is planned as one update whose content changes, not shown"
else
	fail "the re-sealed value is planned as one update whose content changes, not shown" "$(show)"
fi
run sync-rotate penv sync "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "0 created, 1 updated, 0 deleted"; then ok "sync of the rotation: 1 updated"; else fail "sync of the rotation: 1 updated" "$(show)"; fi
same_bytes "/etc/app/db.bin holds the new value" "$V/db-age" "$ROOT/etc/app/db.bin"

# The env value rotated, through a saved plan; a value that changes between plan and apply is refused.
ENVVAL=$V_ENV2
printf '%s' "$V_ENV2" >"$V/env-pass"
run plan-env2-file penv plan "${SRC[@]}" -o "$T/plan2.json"
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 0 to create, 1 to update, 0 to delete." &&
	grep -F '/etc/app/env.conf' <<<"$OUT" | grep -q 'not shown'; then
	ok "the rotated variable is planned as one update, not shown (saved to a plan file)"
else
	fail "the rotated variable is planned as one update, not shown (saved to a plan file)" "$(show)"
fi
run show2 "$PLUMB" show "$T/plan2.json"
expect_rc "show of the rotation's plan file exits 0" 0
run show2-json "$PLUMB" show "$T/plan2.json" -o json
expect_rc "show -o json of the rotation's plan file exits 0" 0
BEFORE=$(tree_listing "$ROOT")
ENVVAL=$V_ENVX
run apply2-moved-value penv apply "$T/plan2.json" --state "$STATE"
if [ "$RC" = 1 ] && [ "$(tree_listing "$ROOT")" = "$BEFORE" ]; then
	ok "apply of the saved plan with another value than planned is refused, nothing applied"
else
	fail "apply of the saved plan with another value than planned is refused, nothing applied" "$(show)" \
		"env.conf now holds: $(if cmp -s <(printf %s "$V_ENVX") "$ROOT/etc/app/env.conf"; then echo "the value that arrived after the plan"; else echo "another value"; fi)"
	printf '%s' "$V_ENV" >"$ROOT/etc/app/env.conf" # as before, for the apply below
fi
ENVVAL=$V_ENV2
run apply2 penv apply "$T/plan2.json" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 0 created, 1 updated"; then
	ok "apply of the saved plan writes the rotated variable"
else
	fail "apply of the saved plan writes the rotated variable" "$(show)"
fi
same_bytes "/etc/app/env.conf holds the rotated value" "$V/env-pass" "$ROOT/etc/app/env.conf"
same_listing "the live tree after the rotations" "$(expected_tree)" "$(tree_listing "$ROOT")"
cp -a "$ROOT" "$T/snap-v2"

# ====================================================================================================
# Drift of a secret file, repaired; status, history, audit.
# ====================================================================================================

printf '%s\n' "$V_HAND" >"$ROOT/etc/app/host.key"
cp -a "$ROOT" "$T/snap-hand"
run drift penv drift --root "$ROOT" --state "$STATE"
if [ "$RC" = 2 ] && contains "$OUT" "/etc/app/host.key"; then
	ok "drift exits 2 and names the secret file changed by hand"
else
	fail "drift exits 2 and names the secret file changed by hand" "$(show)"
fi
run drift-json penv drift --root "$ROOT" --state "$STATE" -o json
run sync-repair penv sync "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "0 created, 1 updated"; then ok "sync repairs the secret file"; else fail "sync repairs the secret file" "$(show)"; fi
same_bytes "/etc/app/host.key holds the value again" "$V/host-file" "$ROOT/etc/app/host.key"
run drift-log "$PLUMB" drift log --root "$ROOT" --state "$STATE"
run drift-log-json "$PLUMB" drift log --root "$ROOT" --state "$STATE" -o json
DRIFT_ID=$(python3 -c '
import json, sys
hits = [e for e in json.loads(sys.argv[1])["events"] if e["path"] == "/etc/app/host.key"]
print(hits[0]["id"] if len(hits) == 1 else "")' "$OUT" 2>/dev/null)
if [ -n "$DRIFT_ID" ]; then ok "drift log holds one event for the secret file"; else fail "drift log holds one event for the secret file" "$(show)"; fi
run drift-show "$PLUMB" drift show "${DRIFT_ID:-1}" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "No content was kept."; then
	ok "drift show of the secret file: no content kept"
else
	fail "drift show of the secret file: no content kept" "$(show)"
fi
run drift-export "$PLUMB" drift export "${DRIFT_ID:-1}" --state "$STATE"

run status "$PLUMB" status --root "$ROOT" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "/etc/app/db.bin"; then ok "status lists the secret files"; else fail "status lists the secret files" "$(show)"; fi
run status-json "$PLUMB" status --root "$ROOT" --state "$STATE" -o json
expect_rc "status -o json exits 0" 0
run history "$PLUMB" history --state "$STATE"
run history-json "$PLUMB" history --state "$STATE" -o json
SYNC_ID=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["syncs"][-1]["id"])' "$OUT" 2>/dev/null)
if [ -n "$SYNC_ID" ]; then ok "history -o json lists the syncs"; else fail "history -o json lists the syncs" "$(show)"; fi
run history-show "$PLUMB" history show "${SYNC_ID:-1}" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "etc/app/db.bin" && contains "$OUT" "sensitive "; then
	ok "history show of the first sync lists the secret files with keyed fingerprints"
else
	fail "history show of the first sync lists the secret files with keyed fingerprints" "$(show)"
fi
run audit-export "$PLUMB" audit export --state "$STATE"
expect_rc "audit export exits 0" 0
run audit-verify "$PLUMB" audit verify --state "$STATE"
expect_rc "audit verify: the chain is intact" 0

# ====================================================================================================
# plumb serve, with its API: the variable rotated again, approval manual (it plans, shows the diff).
# ====================================================================================================

TOKEN="tok-viewer-$RND"
printf 'viewer viewer %s\n' "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" >"$T/tokens"
SERVE_LOG="$T/serve.log"
ENVVAL=$V_ENV3
BEFORE=$(tree_listing "$ROOT")
env "$ENVNAME=$ENVVAL" "$PLUMB" serve --repo "$REPO" --root "$ROOT" --state "$STATE" --listen 127.0.0.1:0 --interval 1s \
	--self-heal-interval 1s --approval manual --tokens "$T/tokens" 2>"$SERVE_LOG" &
SERVE_PID=$!
PORT=
# Every wait of plumb serve polls for what it waits for, for at most a minute: only a failure waits
# that long, however slow or busy the machine.
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
	PORT=$(sed -n 's/.* msg=serving .* port=\([0-9][0-9]*\).*/\1/p' "$SERVE_LOG" | head -n 1)
	[ -n "$PORT" ] && [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$PORT/healthz")" = 200 ] && break
	PORT=
	sleep 0.05
done
api() { # NAME PATH: GET PATH with the viewer token into $LOGS; BODY, CODE
	CODE=$(curl -sS --max-time 30 -o "$LOGS/api-$1.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
		"http://127.0.0.1:$PORT$2" 2>"$LOGS/api-$1.err")
	BODY=$(cat "$LOGS/api-$1.json")
}
if [ -n "$PORT" ]; then
	ok "plumb serve answers /healthz"
	APP=
	deadline=$((SECONDS + 60))
	while [ $SECONDS -lt $deadline ]; do
		api apps /api/v1/applications
		APP=$(python3 -c 'import json, sys
a = json.loads(sys.argv[1])["applications"][0]
print(a["name"] if a["sync_status"] == "OutOfSync" else "")' "$BODY" 2>/dev/null)
		[ -n "$APP" ] && break
		sleep 0.05
	done
	if [ -n "$APP" ]; then ok "serve: the rotated variable shows the application OutOfSync"; else fail "serve: the rotated variable shows the application OutOfSync" "$CODE $BODY" "$(tail -n 20 "$SERVE_LOG")"; fi
	api app "/api/v1/applications/${APP:-repo}"
	DIFF=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["diff"])' "$BODY" 2>/dev/null)
	if [ "$CODE" = 200 ] && grep -F /etc/app/env.conf <<<"$DIFF" | grep -q "not shown"; then
		ok "serve: the API's diff has the secret file's update, not shown"
	else
		fail "serve: the API's diff has the secret file's update, not shown" "$CODE $BODY"
	fi
	api history "/api/v1/applications/${APP:-repo}/history"
	if [ "$CODE" = 200 ]; then ok "serve: GET .../history answers 200"; else fail "serve: GET .../history answers 200" "$CODE $BODY"; fi
	api audit /api/v1/audit/verify
	if [ "$CODE" = 200 ] && contains "$BODY" '"intact":true'; then
		ok "serve: GET /api/v1/audit/verify: intact"
	else
		fail "serve: GET /api/v1/audit/verify: intact" "$CODE $BODY"
	fi
	api metrics /metrics
	if [ "$CODE" = 200 ] && contains "$BODY" plumb_application_synced; then
		ok "serve: GET /metrics answers"
	else
		fail "serve: GET /metrics answers" "$CODE $BODY"
	fi
	# A poll and a drift check more, with the value: each plan runs cmd-plain, which empties $MARKER.
	for _ in 1 2; do
		rm -f "$MARKER"
		deadline=$((SECONDS + 60))
		until [ -e "$MARKER" ] || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
		[ -e "$MARKER" ] || fail "serve: plans again (cmd-plain runs)" "$(tail -n 20 "$SERVE_LOG")"
	done
else
	fail "plumb serve answers /healthz" "$(tail -n 20 "$SERVE_LOG")"
fi
kill -TERM "$SERVE_PID" 2>/dev/null
wait "$SERVE_PID"
SERVE_RC=$?
SERVE_PID=
if [ "$SERVE_RC" = 0 ] && ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$SERVE_LOG"; then
	ok "plumb serve stops on SIGTERM with exit 0, no sanitizer report"
else
	fail "plumb serve stops on SIGTERM with exit 0, no sanitizer report" "exit $SERVE_RC" "$(tail -n 30 "$SERVE_LOG")"
fi
same_listing "serve with approval manual applied nothing" "$BEFORE" "$(tree_listing "$ROOT")"
printf '%s' "$V_ENV3" >"$V/env-pass"
run sync-env3 penv sync "${SRC[@]}"
same_bytes "a sync after serve writes the value serve saw" "$V/env-pass" "$ROOT/etc/app/env.conf"
cp -a "$ROOT" "$T/snap-v3"

# ====================================================================================================
# The search: no value, nor its git blob id, in any output, log, plan file, API answer or state.
# ====================================================================================================

SEARCHED=("$LOGS" "$T"/plan*.json "$SERVE_LOG" "$STATE" "$T/state2" "$T/state-empty" "$T/state-other")
files_with() {
	local s
	for s in "$@"; do
		grep -rlaF -e "$s" "${SEARCHED[@]}"
	done | sort -u | sed "s|^$T|\$T|"
}
for v in "${VALUES[@]}"; do
	found=$(files_with "$v")
	if [ -z "$found" ]; then
		ok "$v appears in no output, log, plan file, API answer or state file"
	else
		fail "$v appears in no output, log, plan file, API answer or state file" "found in:" "$found" \
			"$(grep -rahF -e "$v" "${SEARCHED[@]}" | head -5)"
	fi
done

# The same grep finds every value where it belongs: in the live files (all but V_ENVX,
# which arrived between a plan and its apply and must never be written).
SNAPS=("$T/snap-v1" "$T/snap-v2" "$T/snap-hand" "$T/snap-v3" "$T/root2")
missing=
for v in "${VALUES[@]}"; do
	[ "$v" = "$V_ENVX" ] && continue
	grep -rqaF -e "$v" "${SNAPS[@]}" || missing="$missing $v"
done
if [ -z "$missing" ]; then
	ok "the same search finds each value in the live files it was written to"
else
	fail "the same search finds each value in the live files it was written to" "missing:$missing"
fi

# Git blob ids of every value, as printed and as the exact live bytes. (The stat cache
# of the store keeps a live file's blob id once the file has settled for 2 s: a last
# plan, after that, gives it every chance to.)
settle_for=$(python3 -c 'import os, sys, time; print(max(0.0, 2.2 - (time.time() - os.stat(sys.argv[1]).st_ctime)))' "$ROOT/etc/app/env.conf")
sleep "$settle_for"
run plan-settled penv plan "${SRC[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "No changes"; then ok "a last plan: No changes"; else fail "a last plan: No changes" "$(show)"; fi
BLOBS=()
declare -A BLOB_OF
for v in "${VALUES[@]}"; do
	b=$(printf %s "$v" | git hash-object --stdin)
	BLOBS+=("$b")
	[ -n "${BLOB_OF[$b]:-}" ] || BLOB_OF[$b]="printf %s $v"
	b=$(printf '%s\n' "$v" | git hash-object --stdin)
	BLOBS+=("$b")
	[ -n "${BLOB_OF[$b]:-}" ] || BLOB_OF[$b]="printf '%s\\n' $v"
done
for f in "$V"/* "$T"/snap-*/etc/app/* "$T/root2/etc/k"; do
	[ "${f##*/}" = plain.conf ] && continue
	b=$(git hash-object "$f")
	BLOBS+=("$b")
	[ -n "${BLOB_OF[$b]:-}" ] || BLOB_OF[$b]="the bytes of ${f#"$T"/}"
done
found=$(files_with "${BLOBS[@]}")
if [ -z "$found" ]; then
	ok "no git blob id of a value appears in any output, log, plan file, API answer or state file"
else
	fail "no git blob id of a value appears in any output, log, plan file, API answer or state file" "found in:" "$found" \
		"$(for b in "${!BLOB_OF[@]}"; do grep -rqaF -e "$b" "${SEARCHED[@]}" && echo "$b = blob id of ${BLOB_OF[$b]}"; done | sort)"
fi
# ... while the blob id of the ordinary file is there (the search would find one).
PLAIN_BLOB=$(git hash-object "$ROOT/etc/app/plain.conf")
if [ -n "$(files_with "$PLAIN_BLOB")" ]; then
	ok "the same search finds the blob id of the ordinary file plain.conf"
else
	fail "the same search finds the blob id of the ordinary file plain.conf"
fi

gpgconf --kill gpg-agent >/dev/null 2>&1
echo "# took $(($(date +%s) - SCRIPT_START)) s"
