#!/usr/bin/env bash
# Crash safety: a sync killed with SIGKILL at any moment leaves every managed
# file whole, holding exactly its content (and mode) at one of the two
# commits involved, and the next sync finishes the job.
#
# Commit A: a Tree of 1,000 files (~200 bytes, 50 per folder, some
# executable) and a few File resources. Commit B: every file's content
# differs, executable bits move, a few files and a whole folder come and go.
# After a full sync of A, syncs alternate towards B and A and are killed
# after a random delay spread uniformly over the time one full sync takes.
# After each kill, every object under the root must be one of A's or B's.
# At least KILLS kills must land on a running process. Then an uninterrupted
# sync to B must give exactly B's tree, leave no temporary file, and be
# recorded as succeeded.
. "$(dirname "$0")/lib.sh"

KILLS=50
MAX_ROUNDS=$((KILLS * 4))

REPO="$T/repo"
ROOT="$T/root"
STATE="$T/state"
EXP_A="$T/expected-a"
EXP_B="$T/expected-b"

# --- the two commits --------------------------------------------------------------------------

# data_line VERSION DIR FILE: the ~200-byte content of one Tree file.
data_line() {
	local v=$1 d=$2 f=$3 pad
	printf -v pad '%0180d' 0
	printf '%s/%s at %s\n%s%s\n' "$d" "$f" "$v" "${pad//0/$v}" "$d$f"
}

# data_tree VERSION DIR: the Tree's files at VERSION, written below DIR.
data_tree() {
	local v=$1 out=$2 d f
	local -a dirs=(d00 d01 d02 d03 d04 d05 d06 d07 d08 d09 d10 d11 d12 d13 d14 d15 d16 d17 d18)
	if [ "$v" = A ]; then dirs+=(d19); else dirs+=(d20); fi # a folder leaves, one arrives
	for d in "${dirs[@]}"; do
		mkdir -p "$out/$d"
		for f in $(seq -f 'f%02g' 0 49); do
			case "$v:$d:$f" in
			B:d0[0-4]:f49) continue ;; # removed in B
			esac
			data_line "$v" "$d" "$f" >"$out/$d/$f.conf"
			chmod 0644 "$out/$d/$f.conf"
		done
		# the executable bit moves from f00 (A) to f01 (B)
		if [ "$v" = A ]; then chmod 0755 "$out/$d/f00.conf"; else chmod 0755 "$out/$d/f01.conf"; fi
	done
	if [ "$v" = B ]; then
		for d in d00 d01 d02 d03 d04; do data_line B "$d" g00 >"$out/$d/g00.conf"; done
	fi
}

# manifests VERSION: the manifests (a Tree and File resources) of VERSION in $REPO.
manifests() {
	local v=$1 mode only n
	cat >"$REPO/tree.yaml" <<'EOF'
apiVersion: host/v1
kind: Tree
metadata: {name: data}
spec: {source: data, path: /srv/data}
EOF
	{
		for n in 1 2 3 4; do
			mode=""
			[ "$n" = 1 ] && { if [ "$v" = A ]; then mode=', mode: "0600"'; else mode=', mode: "0640"'; fi; }
			printf -- '---\napiVersion: host/v1\nkind: File\nmetadata: {name: c%s}\n' "$n"
			printf 'spec: {path: /etc/app/c%s.conf, content: "c%s at %s\\n"%s}\n' "$n" "$n" "$v" "$mode"
		done
		if [ "$v" = A ]; then only="only-a"; else only="only-b"; fi
		printf -- '---\napiVersion: host/v1\nkind: File\nmetadata: {name: %s}\n' "$only"
		printf 'spec: {path: /etc/app/%s.conf, content: "%s\\n"}\n' "$only" "$only"
	} >"$REPO/files.yaml"
}

# expected VERSION DIR: the tree plumb must leave at VERSION.
expected() {
	local v=$1 out=$2 n
	mkdir -p "$out/srv/data" "$out/etc/app"
	data_tree "$v" "$out/srv/data"
	for n in 1 2 3 4; do printf 'c%s at %s\n' "$n" "$v" >"$out/etc/app/c$n.conf"; done
	if [ "$v" = A ]; then chmod 0600 "$out/etc/app/c1.conf"; else chmod 0640 "$out/etc/app/c1.conf"; fi
	if [ "$v" = A ]; then printf 'only-a\n' >"$out/etc/app/only-a.conf"; else printf 'only-b\n' >"$out/etc/app/only-b.conf"; fi
}

make_repo "$REPO"
data_tree A "$REPO/data"
manifests A
commit_all "$REPO" "A"
A=$(head_of "$REPO")
rm -rf "$REPO/data"
data_tree B "$REPO/data"
manifests B
commit_all "$REPO" "B"
B=$(head_of "$REPO")
expected A "$EXP_A"
expected B "$EXP_B"

n_a=$(find "$EXP_A/srv/data" -type f | wc -l)
if [ "$n_a" -eq 1000 ]; then ok "commit A holds a Tree of 1000 files"; else fail "commit A holds a Tree of 1000 files" "$n_a"; fi

# The checker: every object under the root is A's or B's (content and mode
# together), what both commits hold is there, nothing else is, save
# temporaries. Prints "a=N b=N both=N tmp=N" and then every problem.
cat >"$T/check.py" <<'EOF'
import hashlib, os, stat, sys

def scan(top):
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, top)
            st = os.lstat(p)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                out[rel] = ("directory", "%04o" % mode)
            elif stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                out[rel] = ("file", "%04o" % mode, digest)
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink", os.readlink(p))
            else:
                out[rel] = ("other",)
    return out

if sys.argv[1] == "--same":
    # --same ROOT EXPECTED: the two trees are identical.
    live, want = scan(sys.argv[2]), scan(sys.argv[3])
    diff = ["%s: live %s, expected %s" % (k, live.get(k), want.get(k))
            for k in sorted(set(live) | set(want)) if live.get(k) != want.get(k)]
    print("\n".join(diff[:20]))
    sys.exit(1 if diff else 0)

root, exp_a, exp_b = sys.argv[1:4]
live, a, b = scan(root), scan(exp_a), scan(exp_b)
problems = []
counts = {"a": 0, "b": 0, "both": 0, "tmp": 0}
for rel, got in sorted(live.items()):
    if os.path.basename(rel).startswith(".plumb-tmp."):
        counts["tmp"] += 1
        if got[0] != "file":
            problems.append("%s: a temporary that is a %s" % (rel, got[0]))
        continue
    in_a, in_b = a.get(rel) == got, b.get(rel) == got
    if got[0] == "file":
        if in_a and in_b:
            counts["both"] += 1
        elif in_a:
            counts["a"] += 1
        elif in_b:
            counts["b"] += 1
    if in_a or in_b:
        continue
    if rel not in a and rel not in b:
        problems.append("%s: not declared at A or B: %s" % (rel, got))
    else:
        problems.append("%s: live %s; at A %s; at B %s" % (rel, got, a.get(rel), b.get(rel)))
for rel in sorted(set(a) & set(b)):
    if rel not in live:
        problems.append("%s: missing, though both commits hold it" % rel)
print("a=%(a)d b=%(b)d both=%(both)d tmp=%(tmp)d" % counts)
for p in problems[:20]:
    print(p)
if len(problems) > 20:
    print("... %d problems in all" % len(problems))
sys.exit(1 if problems else 0)
EOF

sync_to() { # REV: an uninterrupted sync, timed in ms into $MS
	local t0 t1
	t0=$(date +%s%N)
	capture "$PLUMB" sync --repo "$REPO" --revision "$1" --root "$ROOT" --state "$STATE"
	t1=$(date +%s%N)
	MS=$(((t1 - t0) / 1000000))
}

# The checks above and below compare with python (tree_listing takes
# seconds for a thousand files); the final comparison uses tree_listing.
# --- a full sync of A, and how long a full sync takes --------------------------------------------

sync_to "$A"
expect_rc "a full sync of A exits 0" 0
check "the first sync leaves exactly A's tree" python3 "$T/check.py" --same "$ROOT" "$EXP_A"
sync_to "$B"
expect_rc "a full sync from A to B exits 0" 0
ms_b=$MS
check "a full sync to B leaves exactly B's tree" python3 "$T/check.py" --same "$ROOT" "$EXP_B"
sync_to "$A"
expect_rc "a full sync from B back to A exits 0" 0
ms_a=$MS
check "a full sync back to A leaves exactly A's tree" python3 "$T/check.py" --same "$ROOT" "$EXP_A"
DURATION=$(((ms_a + ms_b) / 2))
[ "$DURATION" -lt 1 ] && DURATION=1
echo "# a full sync takes ${ms_b} ms (A to B) and ${ms_a} ms (B to A): kill delays in [0, ${DURATION}] ms"

# --- kill, check, repeat ---------------------------------------------------------------------------

landed=0 finished=0 rounds=0 mixed=0 with_tmp=0 bad=0
target=$B
declare -a unexpected=()
start=$(date +%s)
while [ "$landed" -lt "$KILLS" ] && [ "$rounds" -lt "$MAX_ROUNDS" ]; do
	rounds=$((rounds + 1))
	delay=$(((RANDOM * 32768 + RANDOM) % (DURATION + 1)))
	log="$T/kill-$rounds.log"
	"$PLUMB" sync --repo "$REPO" --revision "$target" --root "$ROOT" --state "$STATE" >"$log" 2>&1 &
	pid=$!
	sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
	kill -KILL "$pid" 2>/dev/null
	{ wait "$pid"; } 2>/dev/null # without bash's "Killed" line
	rc=$?
	if [ "$rc" -eq 137 ]; then
		landed=$((landed + 1))
	elif [ "$rc" -eq 0 ]; then
		finished=$((finished + 1))
		# Not killed: the sync finished the job, crashes before it included.
		if [ "$target" = "$B" ]; then want=$EXP_B; else want=$EXP_A; fi
		if ! diff=$(python3 "$T/check.py" --same "$ROOT" "$want"); then
			unexpected+=("round $rounds (to ${target:0:12}): exit 0 but the tree is not the target's: $diff")
		fi
	else
		# Not killed, and failed: a sync after a crash must succeed.
		unexpected+=("round $rounds (to ${target:0:12}, delay $delay ms): exit $rc: $(tail -n 5 "$log")")
	fi
	if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$log"; then
		unexpected+=("round $rounds: sanitizer report: $(cat "$log")")
	fi
	if result=$(python3 "$T/check.py" "$ROOT" "$EXP_A" "$EXP_B"); then
		:
	else
		bad=$((bad + 1))
		[ "$bad" -le 3 ] && fail "round $rounds (to ${target:0:12}, killed after $delay ms, exit $rc): every file is whole, at A or at B" "$result"
	fi
	counts=${result%%$'\n'*}
	a=${counts#a=} a=${a%% *}
	b=${counts#*b=} b=${b%% *}
	if [ "$rc" -eq 137 ]; then
		[ "$a" -gt 0 ] && [ "$b" -gt 0 ] && mixed=$((mixed + 1))
		contains "$counts" "tmp=0" || with_tmp=$((with_tmp + 1))
	fi
	if [ "$target" = "$B" ]; then target=$A; else target=$B; fi
done
elapsed=$(($(date +%s) - start))
echo "# $rounds rounds in ${elapsed}s: $landed killed while running, $finished finished first; $mixed kills left a tree half A, half B; $with_tmp left temporaries"

if [ "$landed" -ge "$KILLS" ]; then
	ok "$landed syncs were killed with SIGKILL while running"
else
	fail "at least $KILLS syncs were killed with SIGKILL while running" "only $landed in $rounds rounds"
fi
if [ "$bad" -eq 0 ]; then
	ok "after every kill every managed file holds its content and mode at A or at B"
else
	fail "after every kill every managed file holds its content and mode at A or at B" "$bad rounds had problems"
fi
if [ "${#unexpected[@]}" -eq 0 ]; then
	ok "every sync that was not killed exited 0, even right after a crash"
else
	fail "every sync that was not killed exited 0, even right after a crash" "${unexpected[@]:0:5}"
fi
# A kill that lands mid-apply leaves a tree with files of both commits (while
# renames put a batch in place) or temporary files (while a batch is written):
# the run must have caught plumb at work, not only before or after it.
if [ $((mixed + with_tmp)) -ge $((KILLS / 10)) ]; then
	ok "kills landed in the middle of applying ($mixed left both commits' files, $with_tmp temporaries)"
else
	fail "kills landed in the middle of applying" \
		"only $mixed of $landed kills left files of both commits and $with_tmp left temporaries"
fi

# --- the final, uninterrupted sync ------------------------------------------------------------------

sync_to "$B"
expect_rc "the final sync to B exits 0" 0
same_listing "the final sync leaves exactly B's tree" "$(tree_listing "$EXP_B")" "$(tree_listing "$ROOT")"
temps=$(find "$ROOT" -name '.plumb-tmp.*')
if [ -z "$temps" ]; then
	ok "no .plumb-tmp.* file remains under the root"
else
	fail "no .plumb-tmp.* file remains under the root" "$temps"
fi
capture "$PLUMB" plan --repo "$REPO" --revision "$B" --root "$ROOT" --state "$STATE" --detailed-exitcode
expect_rc "a plan after the final sync has no changes" 0

capture "$PLUMB" status --root "$ROOT" --state "$STATE"
if [ "$RC" = 0 ] && contains "$OUT" "succeeded" && contains "$OUT" "commit $B"; then
	ok "status shows the final sync succeeded at B"
else
	fail "status shows the final sync succeeded at B" "$(show)"
fi
capture "$PLUMB" status --root "$ROOT" --state "$STATE" -o json
verdict=$(printf '%s' "$OUT" | python3 -c '
import json, os, sys
exp_b = sys.argv[1]
s = json.load(sys.stdin)
want = {"/srv/data"}
for dirpath, dirnames, filenames in os.walk(os.path.join(exp_b, "srv/data")):
    for n in dirnames + filenames:
        want.add("/" + os.path.relpath(os.path.join(dirpath, n), exp_b))
want |= {"/etc/app/c%d.conf" % n for n in (1, 2, 3, 4)} | {"/etc/app/only-b.conf"}
got = {o["path"] for o in s["objects"]}
last = s["last_sync"]
problems = []
for o in s["objects"]:
    if not o["created"]:
        problems.append("recorded as adopted, though plumb created it: " + o["path"])
if last["result"] != "succeeded" or last["commit"] != sys.argv[2]:
    problems.append("last sync: %s at %s" % (last["result"], last["commit"]))
for p in sorted(want - got)[:10]:
    problems.append("not in the inventory: " + p)
for p in sorted(got - want)[:10]:
    problems.append("in the inventory, not in B: " + p)
print("\n".join(problems) if problems else "ok")
' "$EXP_B" "$B")
if [ "$RC" = 0 ] && [ "$verdict" = ok ]; then
	ok "the inventory holds exactly B's objects, all created by plumb"
else
	fail "the inventory holds exactly B's objects, all created by plumb" "$verdict"
fi

# The inventory survived the crashes: a sync back to A prunes all B added.
sync_to "$A"
expect_rc "a sync back to A after it all exits 0" 0
check "a sync back to A after it all leaves exactly A's tree" python3 "$T/check.py" --same "$ROOT" "$EXP_A"

[ "$TAP_FAILED" -eq 0 ]
