#!/bin/sh
# Turn examples/homelab into a git repository under ./run and sync it into
# ./run/root: what `make run` does after building. Run it again to see a
# sync with nothing to do.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
plumb="$top/build/plumb"
run="$top/run"
repo="$run/homelab.git"
work="$run/homelab"

mkdir -p "$run"
if [ ! -d "$repo" ]; then
	git init -q --bare -b main "$repo"
fi
rm -rf "$work"
git clone -q "$repo" "$work" 2>/dev/null
cp -R "$top/examples/homelab/." "$work/"
if [ -n "$(git -C "$work" status --porcelain)" ]; then
	git -C "$work" add -A
	git -C "$work" -c user.name=plumb-example -c user.email=example@plumb.invalid \
		commit -q -m "homelab: example configuration"
	git -C "$work" push -q origin HEAD:main
fi

echo "== plumb check"
"$plumb" check --repo "$repo" --state "$run/state"
echo "== plumb sync into $run/root"
"$plumb" sync --repo "$repo" --root "$run/root" --state "$run/state"
echo "== plumb status"
"$plumb" status --root "$run/root" --state "$run/state"
