#!/usr/bin/env bash
# Reviewed plans: plan -o FILE / --out FILE writes a plan file, show prints
# it, apply FILE carries out exactly it. A plan is refused as stale when its
# revision moved (unless --allow-moved-revision, which applies the planned
# commit) or when any object is not as it was observed, and refused when it
# was tampered with, truncated, of another version or not a plan at all.
# Also: --detailed-exitcode with -o, plan files of content and names that
# are not UTF-8, and colours only on a terminal.
. "$(dirname "$0")/lib.sh"

REPO="$T/repo"
WORK="$T/work" # the current directory for the commands that use relative paths
mkdir -p "$WORK"

plumb() {
	capture "$PLUMB" "$@"
}

# The repository's content: V[a] ... V[f] are the contents of /etc/a.conf ...
# /etc/f.conf (an empty one leaves the file out), B_MODE the mode of b.conf.
# a.conf comes from a file in the repository, the others are inline.
declare -A V=([a]='' [b]='' [c]='' [d]='' [e]='' [f]='')
B_MODE=''

write_repo() {
	mkdir -p "$REPO/files"
	rm -f "$REPO/files/a.conf"
	[ -n "${V[a]}" ] && printf '%s\n' "${V[a]}" >"$REPO/files/a.conf"
	{
		cat <<'EOF'
apiVersion: host/v1
kind: Directory
metadata: {name: app}
spec: {path: /srv/app, mode: "0750"}
EOF
		if [ -n "${V[a]}" ]; then
			printf -- '---\napiVersion: host/v1\nkind: File\nmetadata: {name: a}\n'
			printf 'spec: {path: /etc/a.conf, source: files/a.conf, mode: "0644"}\n'
		fi
		local n v mode
		for n in b c d e f; do
			v=${V[$n]}
			[ -n "$v" ] || continue
			mode=0644
			[ "$n" = b ] && mode=$B_MODE
			printf -- '---\napiVersion: host/v1\nkind: File\nmetadata: {name: %s}\n' "$n"
			printf 'spec: {path: /etc/%s.conf, content: "%s\\n", mode: "%s"}\n' "$n" "$v" "$mode"
		done
	} >"$REPO/plumb.yaml"
}

# expected_tree DIR: what a sync of the current variables makes (plus unmanaged.conf, kept by hand).
expected_tree() {
	local d=$1 n v mode
	rm -rf "$d"
	mkdir -p "$d/etc" "$d/srv/app"
	chmod 750 "$d/srv/app"
	printf 'not managed\n' >"$d/etc/unmanaged.conf"
	for n in a b c d e f; do
		v=${V[$n]}
		[ -n "$v" ] || continue
		printf '%s\n' "$v" >"$d/etc/$n.conf"
		mode=644
		[ "$n" = b ] && mode=${B_MODE#0}
		chmod "$mode" "$d/etc/$n.conf"
	done
}

# new_root ROOT STATE: sync the current commit into a fresh ROOT that also holds an unmanaged file.
new_root() {
	mkdir -p "$1/etc"
	printf 'not managed\n' >"$1/etc/unmanaged.conf"
	plumb sync --repo "$REPO" --root "$1" --state "$2"
	[ "$RC" = 0 ] || fail "setup: sync into $1" "$(show)"
}

# The body of a human plan: the action lines, diffs and the summary line.
plan_body() {
	grep -vE '^(commit [0-9a-f]{40} |Plan of commit |Application |Saved the plan to )' <<<"$1"
}

make_repo "$REPO"

# --- a plan file: its format ---------------------------------------------------------------------

V=([a]=alpha [b]=bravo [c]=charlie [d]=delta [e]='' [f]='')
B_MODE=0640
write_repo
commit_all "$REPO" "v1"
R1="$T/r1" S1="$T/s1"
new_root "$R1" "$S1"

# v2: update a (content) and b (mode), prune d, create e.
V[a]=alpha2 V[d]='' V[e]=echo
B_MODE=0600
write_repo
commit_all "$REPO" "v2"
C2=$(head_of "$REPO")

plumb plan --repo "$REPO" --root "$R1" --state "$S1"
PLAN_TEXT=$OUT
if [ "$RC" = 0 ] && grep -qx 'Plan: 1 to create, 2 to update, 1 to delete.' <<<"$OUT"; then
	ok "plan: 1 to create, 2 to update, 1 to delete"
else
	fail "plan: 1 to create, 2 to update, 1 to delete" "$(show)"
fi

# Relative --repo, --root and --state, and a relative plan file, from another directory.
stats=$(stat_listing "$R1")
(cd "$WORK" && capture "$PLUMB" plan --repo ../repo --root ../r1 --state ../s1 -o plan.json &&
	declare -p OUT ERR RC >"$T/sub.vars")
# shellcheck source=/dev/null
. "$T/sub.vars"
PLAN="$WORK/plan.json"
if [ "$RC" = 0 ] && [ -f "$PLAN" ] && contains "$OUT" "Saved the plan to plan.json"; then
	ok "plan -o plan.json writes the file and says so"
else
	fail "plan -o plan.json writes the file and says so" "$(show)"
fi
if [ "$(plan_body "$OUT")" = "$(plan_body "$PLAN_TEXT")" ]; then
	ok "plan -o FILE still prints the plan"
else
	fail "plan -o FILE still prints the plan" "$(diff <(plan_body "$PLAN_TEXT") <(plan_body "$OUT"))"
fi
same_listing "plan -o FILE changes nothing in the destination" "$stats" "$(stat_listing "$R1")"
mode=$(stat -c %a "$PLAN" 2>&1)
if [ "$mode" = 600 ]; then ok "the plan file has mode 0600"; else fail "the plan file has mode 0600" "mode $mode"; fi

summary=$(grep -E '^Plan: ' <<<"$PLAN_TEXT")
if python3 - "$PLAN" "$(cd "$REPO" && pwd -P)" "$C2" "$(cd "$R1" && pwd -P)" "$summary" >"$T/py.out" 2>&1 <<'EOF'; then
import json, re, sys
path, repo, commit, dest, summary = sys.argv[1:]
doc = json.load(open(path))
problems = []
def expect(cond, what):
    if not cond:
        problems.append(what)
expect(doc.get("format") == "plumb-plan", "format is %r" % doc.get("format"))
expect(type(doc.get("version")) is int and doc.get("version") == 1, "version is %r" % doc.get("version"))
expect(doc.get("repo") == repo, "repo is %r, not %r" % (doc.get("repo"), repo))
expect(isinstance(doc.get("commit"), str) and re.fullmatch(r"[0-9a-f]{40}", doc["commit"]) is not None, "commit %r is not 40 hex" % doc.get("commit"))
expect(doc.get("commit") == commit, "commit is %r, not %r" % (doc.get("commit"), commit))
expect("path" in doc and isinstance(doc["path"], str), "no path")
expect(doc.get("destination") == dest, "destination is %r, not %r" % (doc.get("destination"), dest))
m = re.fullmatch(r"Plan: (\d+) to create, (\d+) to update, (\d+) to delete\.", summary)
expect(m is not None, "summary line %r" % summary)
s = doc.get("summary", {})
if m:
    for key, n in zip(("create", "update", "delete"), m.groups()):
        expect(s.get(key) == int(n), "summary.%s is %r, the human plan says %s" % (key, s.get(key), n))
actions = doc.get("actions")
expect(isinstance(actions, list), "actions is not a list")
counts = {"create": 0, "update": 0, "delete": 0}
for i, a in enumerate(actions or []):
    for field in ("action", "kind", "path", "observed"):
        expect(isinstance(a.get(field), str) and a.get(field) != "", "actions[%d].%s is %r" % (i, field, a.get(field)))
    if a.get("action") in counts:
        counts[a["action"]] += 1
for key in counts:
    expect(counts[key] == s.get(key), "%d %s actions, summary says %r" % (counts[key], key, s.get(key)))
paths = sorted((a.get("action"), a.get("path")) for a in actions or [] if a.get("action") != "none")
want = [("create", "/etc/e.conf"), ("delete", "/etc/d.conf"), ("update", "/etc/a.conf"), ("update", "/etc/b.conf")]
expect(paths == want, "actions %r, expected %r" % (paths, want))
expect(isinstance(doc.get("checksum"), str) and re.fullmatch(r"sha256:[0-9a-f]{64}", doc["checksum"]) is not None, "checksum %r" % doc.get("checksum"))
if problems:
    print("\n".join(problems))
    sys.exit(1)
EOF
	ok "the plan file is a plumb-plan v1 bound to repo, commit, path and destination, with summary, actions and checksum"
else
	fail "the plan file is a plumb-plan v1 bound to repo, commit, path and destination, with summary, actions and checksum" "$(cat "$T/py.out")"
fi

# -o json: the same document on stdout, the commit line on stderr.
plumb plan --repo "$REPO" --root "$R1" --state "$S1" -o json
if [ "$RC" = 0 ] && contains "$ERR" "commit $C2" && ! contains "$OUT" "commit $C2 "; then
	ok "plan -o json: the commit line goes to stderr"
else
	fail "plan -o json: the commit line goes to stderr" "$(show)"
fi
same_doc() { # A B: the same plan document but for created_at and the checksum
	python3 - "$1" "$2" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
for d in (a, b):
    d.pop("created_at", None)
    d.pop("checksum", None)
if a != b:
    print(json.dumps(a, indent=1, sort_keys=True))
    print(json.dumps(b, indent=1, sort_keys=True))
    sys.exit(1)
EOF
}
printf '%s\n' "$OUT" >"$T/stdout.json"
if same_doc "$PLAN" "$T/stdout.json" >"$T/py.out" 2>&1; then
	ok "plan -o json prints the plan file's document (alone) on stdout"
else
	fail "plan -o json prints the plan file's document (alone) on stdout" "$(cat "$T/py.out")"
fi

# --out FILE, and a plan file written over an existing, readable file.
printf 'old\n' >"$T/out.json"
chmod 644 "$T/out.json"
plumb plan --repo "$REPO" --root "$R1" --state "$S1" --out "$T/out.json"
if [ "$RC" = 0 ] && [ "$(stat -c %a "$T/out.json")" = 600 ] && same_doc "$PLAN" "$T/out.json" >"$T/py.out" 2>&1; then
	ok "--out FILE writes the plan over an existing file, mode 0600"
else
	fail "--out FILE writes the plan over an existing file, mode 0600" "mode $(stat -c %a "$T/out.json")" "$(cat "$T/py.out")" "$(show)"
fi

plumb plan --repo "$REPO" --root "$R1" --state "$S1" -o "$T/no/such/dir/plan.json"
if [ "$RC" = 1 ] && contains "$ERR" "$T/no/such/dir" && [ ! -e "$T/no" ]; then
	ok "plan -o into a missing directory exits 1 naming it"
else
	fail "plan -o into a missing directory exits 1 naming it" "$(show)"
fi

# show
plumb show "$PLAN"
SHOW_TEXT=$OUT
if [ "$RC" = 0 ] && [ "$(plan_body "$OUT")" = "$(plan_body "$PLAN_TEXT")" ]; then
	ok "show prints the same action lines, diffs and summary as plan"
else
	fail "show prints the same action lines, diffs and summary as plan" \
		"$(diff <(plan_body "$PLAN_TEXT") <(plan_body "$OUT"))" "$(show)"
fi
if contains "$SHOW_TEXT" "$C2"; then ok "show names the planned commit"; else fail "show names the planned commit" "$(show)"; fi
plumb show "$PLAN" -o json
printf '%s\n' "$OUT" >"$T/show.json"
if [ "$RC" = 0 ] && python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(a != b)' "$PLAN" "$T/show.json"; then
	ok "show -o json prints the plan file's JSON"
else
	fail "show -o json prints the plan file's JSON" "$(show)"
fi
same_listing "show changes nothing" "$stats" "$(stat_listing "$R1")"
# show takes -o text|json; anything else is an error, not silently text.
plumb show "$PLAN" -o yaml
if [ "$RC" = 1 ] && contains "$ERR" "yaml" && [ -z "$OUT" ]; then
	ok "show -o yaml is refused (show prints text or json)"
else
	fail "show -o yaml is refused (show prints text or json)" "$(show)"
fi

# apply FILE: exactly the plan.
plumb apply "$PLAN" --state "$S1"
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 1 created, 2 updated, 1 deleted" && contains "$OUT" "$C2"; then
	ok "apply FILE applies the plan and prints the summary"
else
	fail "apply FILE applies the plan and prints the summary" "$(show)"
fi
expected_tree "$T/exp"
same_listing "apply FILE gives exactly the planned tree" "$(tree_listing "$T/exp")" "$(tree_listing "$R1")"

stats=$(stat_listing "$R1")
plumb apply "$PLAN" --state "$S1"
if [ "$RC" = 1 ] && contains "$ERR" "stale"; then
	ok "applying the same plan file again is refused as stale"
else
	fail "applying the same plan file again is refused as stale" "$(show)"
fi
if contains "$ERR" "/etc/e.conf"; then
	ok "the second apply names an object that no longer needs the planned change"
else
	fail "the second apply names an object that no longer needs the planned change" "$(show)"
fi
same_listing "the refused second apply touches nothing" "$stats" "$(stat_listing "$R1")"

# --- stale: the revision moved ---------------------------------------------------------------------

R2="$T/r2" S2="$T/s2"
new_root "$R2" "$S2"
V[a]=alpha3
write_repo
commit_all "$REPO" "v3"
C3=$(head_of "$REPO")
plumb plan --repo "$REPO" --root "$R2" --state "$S2" -o "$T/moved.json"
expect_rc "moved: plan of v3 saved" 0
V[a]=alpha4 V[c]=charlie4
write_repo
commit_all "$REPO" "v4"
C4=$(head_of "$REPO")

before=$(tree_listing "$R2")
stats=$(stat_listing "$R2")
plumb apply "$T/moved.json" --state "$S2"
if [ "$RC" = 1 ] && contains "$ERR" "$C3" && contains "$ERR" "$C4" && contains "$ERR" "--allow-moved-revision"; then
	ok "a plan whose revision moved is refused, naming both commits and --allow-moved-revision"
else
	fail "a plan whose revision moved is refused, naming both commits and --allow-moved-revision" "planned $C3, now $C4" "$(show)"
fi
same_listing "the refused apply changes nothing" "$before" "$(tree_listing "$R2")"
same_listing "the refused apply touches nothing" "$stats" "$(stat_listing "$R2")"

plumb apply "$T/moved.json" --state "$S2" --allow-moved-revision
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 0 created, 1 updated, 0 deleted"; then
	ok "--allow-moved-revision applies the plan"
else
	fail "--allow-moved-revision applies the plan" "$(show)"
fi
V[a]=alpha3 V[c]=charlie
expected_tree "$T/exp"
same_listing "--allow-moved-revision applies the planned commit's content, not the new commit's" \
	"$(tree_listing "$T/exp")" "$(tree_listing "$R2")"
plumb status --root "$R2" --state "$S2"
if contains "$OUT" "$C3" && ! contains "$OUT" "$C4"; then
	ok "status records the planned commit as the one applied"
else
	fail "status records the planned commit as the one applied" "planned $C3, head $C4" "$(show)"
fi
V[a]=alpha4 V[c]=charlie4

# --- stale: the live state changed ---------------------------------------------------------------

R3="$T/r3" S3="$T/s3"
new_root "$R3" "$S3"
# v5: update a and c, create f.
V[a]=alpha5 V[c]=charlie5 V[f]=foxtrot
write_repo
commit_all "$REPO" "v5"
plumb plan --repo "$REPO" --root "$R3" --state "$S3" -o "$T/live.json"
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 1 to create, 2 to update, 0 to delete."; then
	ok "live: plan of v5 updates 2 files and creates 1"
else
	fail "live: plan of v5 updates 2 files and creates 1" "$(show)"
fi
cp -p "$R3/etc/a.conf" "$T/a.conf.saved"
printf 'edited by hand\n' >"$R3/etc/a.conf"
printf 'made by hand\n' >"$R3/etc/f.conf"
cp -p "$R3/etc/a.conf" "$T/a.conf.hand"
cp -p "$R3/etc/f.conf" "$T/f.conf.hand"
before=$(tree_listing "$R3")
stats=$(stat_listing "$R3")
plumb apply "$T/live.json" --state "$S3"
if [ "$RC" = 1 ] && contains "$ERR" "stale"; then
	ok "a plan whose objects changed by hand is refused as stale"
else
	fail "a plan whose objects changed by hand is refused as stale" "$(show)"
fi
if contains "$ERR" "/etc/a.conf" && contains "$ERR" "/etc/f.conf"; then
	ok "the refusal names each changed object (/etc/a.conf and /etc/f.conf)"
else
	fail "the refusal names each changed object (/etc/a.conf and /etc/f.conf)" "$(show)"
fi
if ! contains "$ERR" "/etc/c.conf"; then
	ok "the refusal does not name an object that is still as observed"
else
	fail "the refusal does not name an object that is still as observed" "$(show)"
fi
if cmp -s "$T/a.conf.hand" "$R3/etc/a.conf" && cmp -s "$T/f.conf.hand" "$R3/etc/f.conf"; then
	ok "the manual edits are still there byte for byte"
else
	fail "the manual edits are still there byte for byte" "$(cat "$R3/etc/a.conf" "$R3/etc/f.conf")"
fi
same_listing "the stale apply changes nothing" "$before" "$(tree_listing "$R3")"
same_listing "the stale apply touches nothing" "$stats" "$(stat_listing "$R3")"

# Put things back as observed, then let a file outside the plan drift.
cp -p "$T/a.conf.saved" "$R3/etc/a.conf"
rm "$R3/etc/f.conf"
printf 'drifted\n' >"$R3/etc/b.conf"
stats=$(stat_listing "$R3")
plumb apply "$T/live.json" --state "$S3"
if [ "$RC" = 1 ] && contains "$ERR" "/etc/b.conf" && ! contains "$ERR" "/etc/a.conf" && ! contains "$ERR" "/etc/f.conf"; then
	ok "an object that newly needs a change (drift outside the plan) makes the plan stale, named"
else
	fail "an object that newly needs a change (drift outside the plan) makes the plan stale, named" "$(show)"
fi
same_listing "the apply refused for drift touches nothing" "$stats" "$(stat_listing "$R3")"
if [ "$(cat "$R3/etc/b.conf")" = drifted ]; then ok "the drifted file is left as it is"; else fail "the drifted file is left as it is" "$(cat "$R3/etc/b.conf")"; fi

printf '%s\n' "${V[b]}" >"$R3/etc/b.conf"
plumb apply "$T/live.json" --state "$S3"
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 1 created, 2 updated, 0 deleted"; then
	ok "once everything is as observed again, the same plan applies"
else
	fail "once everything is as observed again, the same plan applies" "$(show)"
fi
expected_tree "$T/exp"
same_listing "... giving exactly the planned tree" "$(tree_listing "$T/exp")" "$(tree_listing "$R3")"

# --- damaged and foreign plan files ----------------------------------------------------------------

R4="$T/r4" S4="$T/s4"
plumb plan --repo "$REPO" --root "$R4" --state "$S4" -o "$T/good.json"
expect_rc "damaged: a plan into a new root" 0

# tamper FIELD OUT: change one character in actions[0].FIELD, keeping the JSON valid.
tamper() {
	python3 - "$T/good.json" "$1" "$2" <<'EOF'
import json, sys
src, field, out = sys.argv[1:]
doc = json.load(open(src))
for a in doc["actions"]:
    v = a.get(field, "")
    i = v.find("o")
    if i >= 0:
        a[field] = v[:i] + "0" + v[i + 1:]
        break
else:
    sys.exit("nothing to tamper with in " + field)
json.dump(doc, open(out, "w"), indent=2)
EOF
}
tamper diff "$T/diff.json"
tamper path "$T/path.json"
for f in diff path; do
	plumb show "$T/$f.json"
	if [ "$RC" = 1 ] && contains "$ERR" "checksum mismatch" && contains "$ERR" "$T/$f.json"; then
		ok "show refuses a plan with one character changed in a $f: checksum mismatch"
	else
		fail "show refuses a plan with one character changed in a $f: checksum mismatch" "$(show)"
	fi
	plumb apply "$T/$f.json" --state "$S4"
	if [ "$RC" = 1 ] && contains "$ERR" "checksum mismatch" && [ ! -e "$R4" ]; then
		ok "apply refuses a plan with one character changed in a $f, changing nothing"
	else
		fail "apply refuses a plan with one character changed in a $f, changing nothing" "$(show)"
	fi
done

head -c "$(($(wc -c <"$T/good.json") / 2))" "$T/good.json" >"$T/truncated.json"
sed 's/"version": 1,/"version": 2,/' "$T/good.json" >"$T/v2.json"
grep -q '"version": 2,' "$T/v2.json" || fail "setup: version 2 plan" "$(head -5 "$T/v2.json")"
printf '{}\n' >"$T/empty.json"
for f in truncated v2 empty missing; do
	for cmd in show apply; do
		if [ "$cmd" = apply ]; then plumb apply "$T/$f.json" --state "$S4"; else plumb show "$T/$f.json"; fi
		if [ "$RC" = 1 ] && contains "$ERR" "$T/$f.json" && [ ! -e "$R4" ]; then
			ok "$cmd refuses the $f plan file, naming it"
		else
			fail "$cmd refuses the $f plan file, naming it" "$(show)"
		fi
	done
done
plumb show "$T/v2.json"
if contains "$ERR" "version" || contains "$ERR" "checksum"; then
	ok "a version 2 plan is refused for its version (or its checksum)"
else
	fail "a version 2 plan is refused for its version (or its checksum)" "$(show)"
fi
plumb show "$T/empty.json"
if [ -z "$OUT" ]; then ok "nothing is shown of a plan that is not one"; else fail "nothing is shown of a plan that is not one" "$(show)"; fi

# A plan names its repository and destination: nothing may override them.
plumb apply "$T/good.json" --state "$S4" --repo "$REPO"
if [ "$RC" = 1 ] && [ ! -e "$R4" ]; then ok "apply FILE --repo is refused"; else fail "apply FILE --repo is refused" "$(show)"; fi
plumb apply "$T/good.json" --state "$S4" --root "$T/elsewhere"
if [ "$RC" = 1 ] && [ ! -e "$R4" ] && [ ! -e "$T/elsewhere" ]; then ok "apply FILE --root is refused"; else fail "apply FILE --root is refused" "$(show)"; fi

plumb apply "$T/good.json" --state "$S4"
if [ "$RC" = 0 ] && contains "$OUT" "Apply complete: 6 created, 0 updated, 0 deleted"; then
	ok "the untouched plan file still applies into a new root"
else
	fail "the untouched plan file still applies into a new root" "$(show)"
fi

# --- --detailed-exitcode with -o -------------------------------------------------------------------

plumb plan --repo "$REPO" --root "$T/r5" --state "$T/s5" --detailed-exitcode -o "$T/de.json"
if [ "$RC" = 2 ] && [ -f "$T/de.json" ]; then
	ok "plan --detailed-exitcode -o FILE exits 2 with changes and writes the file"
else
	fail "plan --detailed-exitcode -o FILE exits 2 with changes and writes the file" "$(show)"
fi
plumb show "$T/de.json"
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 6 to create"; then ok "... a valid plan"; else fail "... a valid plan" "$(show)"; fi
plumb plan --repo "$REPO" --root "$R4" --state "$S4" --detailed-exitcode -o "$T/nochange.json"
if [ "$RC" = 0 ] && [ -f "$T/nochange.json" ]; then
	ok "plan --detailed-exitcode -o FILE exits 0 without changes and writes the file"
else
	fail "plan --detailed-exitcode -o FILE exits 0 without changes and writes the file" "$(show)"
fi

# --- content and names that are not UTF-8 ----------------------------------------------------------
# A Latin-1 config file is ordinary on a host: JSON strings must be UTF-8,
# so its diff is carried with U+FFFD in place of each invalid byte, and the
# live file is still written byte for byte. A file name plumb manages must
# be UTF-8: a Tree holding another one is refused at load, naming it.

L1="$T/latin1"
make_repo "$L1"
mkdir -p "$L1/files" "$L1/tree"
printf 'caf\351 = cr\350me br\373l\351e\n' >"$L1/files/latin1.conf"
cat >"$L1/plumb.yaml" <<'EOF'
apiVersion: host/v1
kind: File
metadata: {name: latin1}
spec: {path: /etc/latin1.conf, source: files/latin1.conf}
EOF
commit_all "$L1" "latin-1 content"
plumb plan --repo "$L1" --root "$T/r6" --state "$T/s6" -o "$T/latin1.json"
expect_rc "latin-1: plan -o FILE exits 0" 0
if python3 -c '
import json, sys
doc = json.load(open(sys.argv[1]))
fields = ("action", "kind", "key", "path", "observed", "diff")
bad = [(i, f) for i, a in enumerate(doc["actions"]) for f in fields if not isinstance(a.get(f), str)]
diffs = "".join(a["diff"] for a in doc["actions"])
if bad:
    sys.exit("fields missing: %r" % bad)
if "+caf\ufffd = cr\ufffdme br\ufffdl\ufffde" not in diffs:
    sys.exit("the diff does not show the content with U+FFFD: %r" % diffs)' "$T/latin1.json" >"$T/py.out" 2>&1; then
	ok "latin-1: the plan file carries the diff as UTF-8, each invalid byte as U+FFFD"
else
	fail "latin-1: the plan file carries the diff as UTF-8, each invalid byte as U+FFFD" "$(cat "$T/py.out")"
fi
plumb show "$T/latin1.json"
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 1 to create"; then
	ok "latin-1: show accepts the plan plumb saved"
else
	fail "latin-1: show accepts the plan plumb saved" "$(show)"
fi
plumb apply "$T/latin1.json" --state "$T/s6"
if [ "$RC" = 0 ] && cmp -s "$L1/files/latin1.conf" "$T/r6/etc/latin1.conf"; then
	ok "latin-1: apply carries out the plan plumb saved, byte for byte"
else
	fail "latin-1: apply carries out the plan plumb saved, byte for byte" "$(show)"
fi

printf 'x\n' >"$L1/tree/caf$(printf '\351').txt"
cat >>"$L1/plumb.yaml" <<'EOF'
---
apiVersion: host/v1
kind: Tree
metadata: {name: latin1-names}
spec: {path: /etc/names, source: tree}
EOF
commit_all "$L1" "latin-1 name"
plumb plan --repo "$L1" --root "$T/r6" --state "$T/s6"
if [ "$RC" = 1 ] && contains "$ERR" "plumb.yaml:9:14: spec.source: tree/caf" && contains "$ERR" "must be UTF-8"; then
	ok "latin-1: a file name that is not UTF-8 is refused at load, naming it"
else
	fail "latin-1: a file name that is not UTF-8 is refused at load, naming it" "$(show)"
fi

# --- colours ---------------------------------------------------------------------------------------

# on_pty COMMAND...: run COMMAND on a pseudo-terminal; its output on stdout, its status.
on_pty() {
	python3 - "$@" <<'EOF'
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(status))
EOF
}
ESC=$'\033'
PLAN_ARGS=(plan --repo "$REPO" --root "$T/r5" --state "$T/s5")

capture env -u NO_COLOR "$PLUMB" "${PLAN_ARGS[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 6 to create" && ! contains "$OUT$ERR" "$ESC"; then
	ok "plan to a pipe prints no escape sequences"
else
	fail "plan to a pipe prints no escape sequences" "$(show | cat -v)"
fi
capture on_pty env -u NO_COLOR "$PLUMB" "${PLAN_ARGS[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "${ESC}[" && contains "$OUT" "6 to create"; then
	ok "plan on a terminal prints ANSI colours"
else
	fail "plan on a terminal prints ANSI colours" "$(show | cat -v)"
fi
capture on_pty env NO_COLOR=1 "$PLUMB" "${PLAN_ARGS[@]}"
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 6 to create" && ! contains "$OUT" "$ESC"; then
	ok "plan on a terminal with NO_COLOR=1 prints no colours"
else
	fail "plan on a terminal with NO_COLOR=1 prints no colours" "$(show | cat -v)"
fi
capture on_pty env -u NO_COLOR "$PLUMB" "${PLAN_ARGS[@]}" --no-color
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 6 to create" && ! contains "$OUT" "$ESC"; then
	ok "plan on a terminal with --no-color prints no colours"
else
	fail "plan on a terminal with --no-color prints no colours" "$(show | cat -v)"
fi
capture on_pty env -u NO_COLOR "$PLUMB" show "$T/de.json"
if [ "$RC" = 0 ] && contains "$OUT" "${ESC}["; then ok "show on a terminal prints ANSI colours"; else fail "show on a terminal prints ANSI colours" "$(show | cat -v)"; fi
capture on_pty env -u NO_COLOR "$PLUMB" show "$T/de.json" --no-color
if [ "$RC" = 0 ] && contains "$OUT" "Plan: 6 to create" && ! contains "$OUT" "$ESC"; then
	ok "show on a terminal with --no-color prints no colours"
else
	fail "show on a terminal with --no-color prints no colours" "$(show | cat -v)"
fi
