#!/usr/bin/env bash
# The command line: version, help, unknown commands and options, render in
# YAML and JSON, apply's confirmation.
. "$(dirname "$0")/lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
REPO="$T/repo"
STATE="$T/state"

# --- version and help ---------------------------------------------------------------------------

capture "$PLUMB" version
if [ "$RC" = 0 ] && [ "$OUT" = "plumb $(cat "$TOP/VERSION")" ]; then
	ok "version prints 'plumb VERSION'"
else
	fail "version prints 'plumb VERSION'" "VERSION file: $(cat "$TOP/VERSION")" "$(show)"
fi

capture "$PLUMB" help
missing=
for c in check render plan apply sync status version help; do
	grep -qE "^  $c " <<<"$OUT" || missing="$missing $c"
done
if [ "$RC" = 0 ] && [ -z "$missing" ] && contains "$OUT" "usage: plumb"; then
	ok "help lists every command"
else
	fail "help lists every command" "missing:$missing" "$(show)"
fi

capture "$PLUMB" help sync
missing=
for o in --repo --revision --path --root --state; do
	contains "$OUT" "$o" || missing="$missing $o"
done
if [ "$RC" = 0 ] && [ -z "$missing" ] && contains "$OUT" "usage: plumb sync"; then
	ok "help sync shows sync's usage and options"
else
	fail "help sync shows sync's usage and options" "missing:$missing" "$(show)"
fi

capture "$PLUMB" sync --help
if [ "$RC" = 0 ] && contains "$OUT" "usage: plumb sync"; then ok "sync --help shows sync's usage"; else fail "sync --help shows sync's usage" "$(show)"; fi

capture "$PLUMB"
if [ "$RC" = 1 ] && contains "$OUT$ERR" "usage: plumb"; then ok "no command prints the usage and exits 1"; else fail "no command prints the usage and exits 1" "$(show)"; fi

capture "$PLUMB" frobnicate --repo x
if [ "$RC" = 1 ] && contains "$ERR" "frobnicate" && [ -z "$OUT" ]; then
	ok "an unknown command exits 1 naming it on stderr"
else
	fail "an unknown command exits 1 naming it on stderr" "$(show)"
fi

capture "$PLUMB" help frobnicate
if [ "$RC" = 1 ] && contains "$ERR" "frobnicate"; then ok "help of an unknown command exits 1 naming it"; else fail "help of an unknown command exits 1 naming it" "$(show)"; fi

capture "$PLUMB" sync --repo "$REPO" --root "$T/root" --frobnicate
if [ "$RC" = 1 ] && contains "$ERR" "--frobnicate" && [ ! -e "$T/root" ]; then
	ok "an unknown option exits 1 naming it, before doing anything"
else
	fail "an unknown option exits 1 naming it, before doing anything" "$(show)"
fi

capture "$PLUMB" check --root "$T/root" --repo "$REPO"
if [ "$RC" = 1 ] && contains "$ERR" "--root"; then ok "an option the command does not take exits 1 naming it"; else fail "an option the command does not take exits 1 naming it" "$(show)"; fi

capture "$PLUMB" sync --repo
if [ "$RC" = 1 ] && contains "$ERR" "--repo" && ! contains "$ERR" "unknown option"; then
	ok "an option without its value says so, not 'unknown option'"
else
	fail "an option without its value says so, not 'unknown option'" "$(show)"
fi

capture "$PLUMB" sync --root "$T/root" --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "--repo" && [ ! -e "$T/root" ]; then ok "sync without --repo exits 1 asking for it"; else fail "sync without --repo exits 1 asking for it" "$(show)"; fi

# --- render ---------------------------------------------------------------------------------------

make_repo "$REPO"
mkdir -p "$REPO/manifests"
cat >"$REPO/manifests/app.yaml" <<'EOF'
# comment before the first document
apiVersion: host/v1
kind: File
metadata:
  name: motd
  labels: {tier: base}
spec:
  path: /etc/motd
  content: |
    hello "world"
    tab	and unicode é
  mode: "0640"
---
apiVersion: host/v1
kind: Directory
metadata: {name: app-dir}
spec: {path: /srv/app, mode: 0750}
EOF
cat >"$REPO/manifests/link.yml" <<'EOF'
apiVersion: host/v1
kind: Symlink
metadata: {name: app-link, annotations: {note: "a: colon"}}
spec: {path: /etc/app, target: /srv/app}
EOF
commit_all "$REPO" "three resources"
HEAD=$(head_of "$REPO")

# shellcheck disable=SC2089,SC2090 # a JSON literal, exported for python
EXPECTED_JSON='[
 {"apiVersion": "host/v1", "kind": "File", "metadata": {"name": "motd", "labels": {"tier": "base"}},
  "spec": {"path": "/etc/motd", "content": "hello \"world\"\ntab\tand unicode \u00e9\n", "mode": "0640"}},
 {"apiVersion": "host/v1", "kind": "Directory", "metadata": {"name": "app-dir"}, "spec": {"path": "/srv/app", "mode": "0750"}},
 {"apiVersion": "host/v1", "kind": "Symlink", "metadata": {"name": "app-link", "annotations": {"note": "a: colon"}},
  "spec": {"path": "/etc/app", "target": "/srv/app"}}
]'
# shellcheck disable=SC2090
export EXPECTED_JSON

capture "$PLUMB" render --repo "$REPO" -o json --state "$STATE"
expect_rc "render -o json exits 0" 0
if printf '%s\n' "$OUT" | python3 -c 'import json,sys; json.load(sys.stdin)' 2>"$T/py.err"; then
	ok "render -o json prints one JSON document"
else
	fail "render -o json prints one JSON document" "$(cat "$T/py.err")" "$(show)"
fi
if [ "$(printf '%s\n' "$OUT" | jq '[.applications[].objects[]] | length' 2>&1)" = 3 ]; then
	ok "render -o json lists one object per resource"
else
	fail "render -o json lists one object per resource" "$(show)"
fi
if printf '%s\n' "$OUT" | python3 -c '
import json, os, sys
got = [o["object"] for a in json.load(sys.stdin)["applications"] for o in a["objects"]]
assert all(isinstance(o, dict) for o in got), "not all objects"
want = json.loads(os.environ["EXPECTED_JSON"])
key = lambda o: o["metadata"]["name"]
if sorted(got, key=key) != sorted(want, key=key):
    print("got:  ", json.dumps(sorted(got, key=key), sort_keys=True))
    print("want: ", json.dumps(sorted(want, key=key), sort_keys=True))
    sys.exit(1)
' >"$T/py.out" 2>&1; then
	ok "render -o json gives each resource as written (modes stay strings)"
else
	fail "render -o json gives each resource as written (modes stay strings)" "$(cat "$T/py.out")"
fi
if contains "$ERR" "commit $HEAD" && ! contains "$OUT" "commit $HEAD"; then
	ok "render prints the commit on stderr, not among the documents"
else
	fail "render prints the commit on stderr, not among the documents" "$(show)"
fi

capture "$PLUMB" render --repo "$REPO" --state "$STATE"
expect_rc "render (yaml) exits 0" 0
if [ "$(grep -c '^---$' <<<"$OUT")" = 3 ]; then ok "render prints one YAML document per resource"; else fail "render prints one YAML document per resource" "$(show)"; fi
sources=$(grep '^# Source: ' <<<"$OUT" | sort)
same_listing "render names each document's file and line" \
	"$(printf '# Source: manifests/app.yaml:14\n# Source: manifests/app.yaml:2\n# Source: manifests/link.yml:1')" "$sources"
if printf '%s\n' "$OUT" | python3 -c '
import json, os, sys, yaml
got = [d for d in yaml.safe_load_all(sys.stdin) if d is not None]
want = json.loads(os.environ["EXPECTED_JSON"])
# YAML 1.1 (PyYAML) reads an unquoted 0750 as a number; plumb reads modes as octal strings.
for d in got:
    m = d.get("spec", {}).get("mode")
    if isinstance(m, int):
        d["spec"]["mode"] = "0%o" % m
key = lambda o: o["metadata"]["name"]
if sorted(got, key=key) != sorted(want, key=key):
    print("got:  ", json.dumps(sorted(got, key=key), sort_keys=True))
    print("want: ", json.dumps(sorted(want, key=key), sort_keys=True))
    sys.exit(1)
' >"$T/py.out" 2>&1; then
	ok "render (yaml) documents parse back to the resources"
else
	fail "render (yaml) documents parse back to the resources" "$(cat "$T/py.out")" "$(show)"
fi

capture "$PLUMB" render --repo "$REPO" -o xml --state "$STATE"
if [ "$RC" = 1 ] && contains "$ERR" "xml"; then ok "render -o with an unknown format exits 1 naming it"; else fail "render -o with an unknown format exits 1 naming it" "$(show)"; fi

# The example repository renders as documented.
EX="$T/example"
mkdir -p "$EX"
cp -R "$TOP/examples/homelab/." "$EX/"
make_repo "$EX"
commit_all "$EX" "homelab"
capture "$PLUMB" render --repo "$EX" -o json --state "$STATE"
n=$(printf '%s\n' "$OUT" | jq '[.applications[].objects[]] | length' 2>&1)
if [ "$RC" = 0 ] && [ "$n" = 7 ]; then ok "examples/homelab renders 7 resources"; else fail "examples/homelab renders 7 resources" "count: $n" "$(show)"; fi

# --- apply ------------------------------------------------------------------------------------------

expected_tree() {
	mkdir -p "$1/etc" "$1/srv/app"
	printf 'hello "world"\ntab\tand unicode \303\251\n' >"$1/etc/motd"
	chmod 640 "$1/etc/motd"
	chmod 750 "$1/srv/app"
	ln -s /srv/app "$1/etc/app"
}
expected_tree "$T/expected"

# Refused: stdin is not a terminal, and no --auto-approve.
capture "$PLUMB" apply --repo "$REPO" --root "$T/root" --state "$STATE" </dev/null
if [ "$RC" = 1 ] && contains "$ERR" "--auto-approve"; then
	ok "apply without --auto-approve on a non-terminal refuses with exit 1"
else
	fail "apply without --auto-approve on a non-terminal refuses with exit 1" "$(show)"
fi
if contains "$OUT" "+ File /etc/motd"; then ok "a refused apply still shows the plan"; else fail "a refused apply still shows the plan" "$(show)"; fi
if [ ! -e "$T/root" ]; then
	ok "a refused apply does not even create the root"
else
	fail "a refused apply does not even create the root" "it was created: $(ls -ld "$T/root")"
fi
mkdir -p "$T/root/etc"
printf 'mine\n' >"$T/root/etc/motd"
before=$(tree_listing "$T/root")
stats=$(stat_listing "$T/root")
capture "$PLUMB" apply --repo "$REPO" --root "$T/root" --state "$STATE" </dev/null
expect_rc "apply without --auto-approve refuses again with an existing root" 1
same_listing "a refused apply changes nothing" "$before" "$(tree_listing "$T/root")"
same_listing "a refused apply touches nothing" "$stats" "$(stat_listing "$T/root")"
capture "$PLUMB" status --root "$T/root" --state "$STATE"
if ! grep -qE '(^|[[:space:]])/etc/motd([[:space:]]|$)' <<<"$OUT"; then
	ok "a refused apply records nothing as managed"
else
	fail "a refused apply records nothing as managed" "$(show)"
fi

# On a terminal: anything but "yes" cancels; "yes" applies.
pty_apply() { # ANSWER
	python3 - "$1" "$PLUMB" apply --repo "$REPO" --root "$T/root" --state "$STATE" <<'EOF'
import os, pty, select, sys, time
answer, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out = b""
sent = False
deadline = time.time() + 60
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    if not sent and b"Only 'yes' will be accepted" in out:
        os.write(fd, answer.encode() + b"\n")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
EOF
}
capture pty_apply no
if [ "$RC" != 0 ] && contains "$OUT" "cancelled"; then ok "apply on a terminal: 'no' cancels"; else fail "apply on a terminal: 'no' cancels" "$(show)"; fi
same_listing "a cancelled apply changes nothing" "$before" "$(tree_listing "$T/root")"
capture pty_apply yes
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete"; then ok "apply on a terminal: 'yes' applies"; else fail "apply on a terminal: 'yes' applies" "$(show)"; fi
same_listing "apply after 'yes' gives exactly the expected tree" "$(tree_listing "$T/expected")" "$(tree_listing "$T/root")"

# --auto-approve applies without asking.
rm -rf "$T/root2"
capture "$PLUMB" apply --repo "$REPO" --root "$T/root2" --state "$STATE" --auto-approve </dev/null
if [ "$RC" = 0 ] && contains "$OUT" "commit $HEAD" && contains "$OUT" "Apply complete: 3 created"; then
	ok "apply --auto-approve applies"
else
	fail "apply --auto-approve applies" "$(show)"
fi
same_listing "apply --auto-approve gives exactly the expected tree" "$(tree_listing "$T/expected")" "$(tree_listing "$T/root2")"

# Nothing to do: no question asked, even without a terminal.
capture "$PLUMB" apply --repo "$REPO" --root "$T/root2" --state "$STATE" </dev/null
if [ "$RC" = 0 ] && contains "$OUT" "No changes"; then
	ok "apply with nothing to do succeeds without asking"
else
	fail "apply with nothing to do succeeds without asking" "$(show)"
fi

# --- an empty repository --------------------------------------------------------------------------------

make_repo "$T/empty"
printf 'no manifests here\n' >"$T/empty/README"
commit_all "$T/empty" "no manifests"
capture "$PLUMB" plan --repo "$T/empty" --root "$T/empty-root" --state "$T/empty-state" --detailed-exitcode
if [ "$RC" = 0 ] && contains "$OUT" "No changes"; then ok "plan of a commit without manifests: No changes"; else fail "plan of a commit without manifests: No changes" "$(show)"; fi
capture "$PLUMB" sync --repo "$T/empty" --root "$T/empty-root" --state "$T/empty-state"
if [ "$RC" = 0 ] && contains "$OUT" "No changes"; then ok "sync of a commit without manifests: No changes"; else fail "sync of a commit without manifests: No changes" "$(show)"; fi
