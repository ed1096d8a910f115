#!/usr/bin/env python3
"""The source tree's layering, checked: prints TAP lines, one a rule.

Folders under src/ are ranked from util (the bottom) to cmd (the top); a file
may include a header of its own folder or of a folder ranked below it, never
above or beside it, and the same holds for the functions an object file
calls (read with nm from the built objects, so that a header cannot declare
what a folder above it defines). Modules (a .c and its .h) depend on each
other without a cycle; a header without a .c (types, a folder's private
internal.h, util/common.h) is not a module: what it includes passes
through it. No file is longer than LINE_LIMIT lines unless its
first comment says it reads best whole.
"""
import os
import re
import sys

import subprocess

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SRC = os.path.join(TOP, "src")
LINE_LIMIT = 800
WHOLE_MARK = "reads best whole"

# Lowest first. A folder may use the folders ranked below it.
RANKS = {
    "util": 0,
    "source": 1,
    "render": 2,
    "resource": 2,
    "store": 2,
    "providers": 3,
    "secrets": 4,
    "load": 5,
    "plan": 5,
    "apply": 6,
    "pipeline": 7,
    "serve": 8,
    "cmd": 9,
    "": 10,  # main.c
}

failures = 0
count = 0


def report(ok, what, detail=""):
    global failures, count
    count += 1
    if ok:
        print(f"ok - {what}")
    else:
        failures += 1
        print(f"not ok - {what}")
        for line in detail.splitlines():
            print(f"#   {line}")


def folder(path):
    """The top folder under src/ of a path relative to src/ ("" for src/ itself)."""
    parts = path.split("/")
    return parts[0] if len(parts) > 1 else ""


# What every file includes first (feature macros, the allocator, the error slot): not a module.
PRELUDE = "util/common.h"


def module(path):
    """A .c file and the .h of the same name are one module, named without the ending."""
    return re.sub(r"\.[ch]$", "", path)


def header_only(path):
    """A header with no .c of its own (types, a folder's internal.h): not a module; what it includes passes through."""
    return path.endswith(".h") and not os.path.exists(os.path.join(SRC, path[:-2] + ".c"))


files = []
for root, _, names in os.walk(SRC):
    for name in names:
        if name.endswith((".c", ".h")):
            files.append(os.path.relpath(os.path.join(root, name), SRC))
files.sort()

includes = {}
for f in files:
    with open(os.path.join(SRC, f), encoding="utf-8") as handle:
        includes[f] = re.findall(r'^#include "([^"]+)"', handle.read(), re.M)

unknown = sorted({folder(f) for f in files} - set(RANKS))
report(not unknown, "every folder under src/ has a rank in the layering", "unranked: " + " ".join(unknown))

upward = []
for f, headers in includes.items():
    for h in headers:
        if not os.path.exists(os.path.join(SRC, h)):
            upward.append(f"{f} includes {h}, which is not a path under src/")
            continue
        a, b = folder(f), folder(h)
        if a != b and RANKS.get(b, 99) >= RANKS.get(a, -1):
            upward.append(f"{f} ({a or 'src'}) includes {h} ({b}): not below it")
report(not upward, "every include points down the layers (util, source, resource and store, providers, secrets, "
       "load and plan, apply, pipeline, serve, cmd)", "\n".join(upward))

# Calls between object files: who defines each symbol, who uses it.
objects_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "build", "test", "src")
defined, used = {}, {}
for f in files:
    if not f.endswith(".c"):
        continue
    obj = os.path.join(objects_dir, f[:-2] + ".o")
    if not os.path.exists(obj):
        continue
    for line in subprocess.run(["nm", "-P", obj], capture_output=True, text=True, check=True).stdout.splitlines():
        name, kind = line.split()[:2]
        if kind == "U":
            used.setdefault(f, set()).add(name)
        elif kind.isupper():
            defined[name] = f
objects_found = sum(1 for f in files if f.endswith(".c") and os.path.exists(os.path.join(objects_dir, f[:-2] + ".o")))
report(objects_found == sum(1 for f in files if f.endswith(".c")),
       f"every source file has its object in {os.path.relpath(objects_dir, TOP)} to read calls from",
       f"{objects_found} objects for {sum(1 for f in files if f.endswith('.c'))} source files")
calls = {}
upward_calls = []
for f, names in used.items():
    for name in sorted(names):
        g = defined.get(name)
        if not g or g == f:
            continue
        calls.setdefault(f, set()).add(g)
        a, b = folder(f), folder(g)
        if a != b and RANKS.get(b, 99) >= RANKS.get(a, -1):
            upward_calls.append(f"{f} ({a or 'src'}) calls {name}, defined in {g} ({b}): not below it")
report(not upward_calls, "every call between object files points down the layers", "\n".join(upward_calls))

graph = {}
for f, targets in calls.items():
    graph.setdefault(module(f), set()).update(module(g) for g in targets if module(g) != module(f))


def modules_included(path, seen):
    """The modules path includes, through any header-only files on the way (the prelude aside)."""
    found = set()
    for h in includes.get(path, ()):
        if h == PRELUDE or h in seen:
            continue
        seen.add(h)
        if header_only(h):
            found |= modules_included(h, seen)
        else:
            found.add(module(h))
    return found


for f in includes:
    if not header_only(f):
        graph.setdefault(module(f), set()).update(m for m in modules_included(f, set()) if m != module(f))
cycles = []
state = {}


def visit(node, stack):
    state[node] = 1
    stack.append(node)
    for nxt in sorted(graph.get(node, ())):
        if state.get(nxt) == 1:
            cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
        elif nxt not in state:
            visit(nxt, stack)
    stack.pop()
    state[node] = 2


for node in sorted(graph):
    if node not in state:
        visit(node, [])
report(not cycles, "no two modules include or call each other, directly or through others", "\n".join(cycles))

long_files = []
for f in files:
    with open(os.path.join(SRC, f), encoding="utf-8") as handle:
        text = handle.read()
    lines = text.count("\n")
    head = text.split("*/", 1)[0] if text.lstrip().startswith("/*") else ""
    if lines > LINE_LIMIT and WHOLE_MARK not in head:
        long_files.append(f"{f}: {lines} lines")
report(not long_files, f"no file over {LINE_LIMIT} lines but one whose top comment says it {WHOLE_MARK}",
       "\n".join(long_files))

readmes = [d for d in sorted({folder(f) for f in files}) if d and
           not os.path.exists(os.path.join(SRC, d, "README.md"))]
report(not readmes, "every folder under src/ has a README.md that says what it owns and what it may call",
       "missing: " + " ".join(readmes))

sys.exit(1 if failures else 0)
