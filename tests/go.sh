# Go for the test tools that tests/kube/build and tests/kustomize/build make
# from pinned modules, sourced by both. The caller defines say and die.
#
# plumb_go_setup MODULE_DIR finds go (on PATH, /usr/local/go, Debian's
# /usr/lib/go-1.NN), installs Debian's golang from bookworm-backports when
# there is none (Debian 12, as root), and exports GOTOOLCHAIN so that the
# go command builds MODULE_DIR with the version its go.mod names (fetched
# through the module proxy when the local go is older). Sets GO to the go
# command.

# The version the modules ask for: go.mod's toolchain line, else its go line.
go_wanted() {
	local v
	v=$(sed -n 's/^toolchain go//p' "$1/go.mod")
	[ -n "$v" ] || v=$(sed -n 's/^go //p' "$1/go.mod")
	echo "$v"
}

# 0 when version $1 >= version $2 (dotted numbers).
version_ge() {
	[ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" = "$2" ]
}

find_go() {
	local g
	if command -v go >/dev/null 2>&1; then
		command -v go
		return 0
	fi
	for g in /usr/local/go/bin/go $(ls -d /usr/lib/go-1.*/bin/go 2>/dev/null | sort -V -r); do
		if [ -x "$g" ]; then
			echo "$g"
			return 0
		fi
	done
	return 1
}

# Debian 12's own golang is 1.19, too old to fetch a toolchain (that needs
# 1.21); bookworm-backports has a newer one. Add that suite, from the same
# mirror as the machine's bookworm entry, if apt does not know it yet.
install_go_debian() {
	local mirror list pkg
	[ -r /etc/os-release ] && grep -q '^VERSION_CODENAME=bookworm' /etc/os-release ||
		die "no go on PATH and this is not Debian 12; install Go >= 1.21"
	[ "$(id -u)" -eq 0 ] || die "no go on PATH; run as root to install Debian's golang, or install Go >= 1.21"
	if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
		mirror=$(cat /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null |
			grep -E '^(URIs:|deb) ' | grep -v security |
			sed -E 's/^URIs: *//; s/^deb (\[[^]]*\] )?//' | awk '{print $1; exit}') || true
		[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list*"
		list=/etc/apt/sources.list.d/bookworm-backports.list
		say "adding bookworm-backports ($mirror) to $list"
		echo "deb $mirror bookworm-backports main" >"$list"
	fi
	say "apt-get update"
	apt-get update -qq >&2
	# The newest golang-1.NN-go that backports has (it installs /usr/lib/go-1.NN/bin/go).
	pkg=$(apt-cache search --names-only '^golang-1\.[0-9]+-go$' | cut -d' ' -f1 | sort -V | tail -n1)
	[ -n "$pkg" ] || die "no golang-1.NN-go package in apt's lists"
	# ca-certificates: go reaches the module proxy over HTTPS, and golang's
	# packages do not pull it in.
	say "installing $pkg"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"$pkg" ca-certificates >&2 || die "apt-get install $pkg failed"
}

plumb_go_setup() {
	local module=$1 have need version
	GO=$(find_go) || {
		install_go_debian
		GO=$(find_go) || die "golang installed but no go binary found"
	}
	have=$("$GO" env GOVERSION | sed 's/^go//; s/[^0-9.].*//')
	need=$(go_wanted "$module")
	version_ge "$have" 1.21 || die "$GO is go$have; fetching a toolchain needs >= 1.21"
	# A local go at least as new as go.mod asks for builds as it is; an older one
	# fetches go$need (golang.org/toolchain) through the module proxy. The
	# variable is set either way, whatever the machine's go.env or go env -w say
	# (GOTOOLCHAIN=local would make an old go refuse the modules).
	if version_ge "$have" "$need"; then
		export GOTOOLCHAIN=local
	else
		export GOTOOLCHAIN="go$need"
		say "go$have is older than go.mod's go$need: the go command fetches go$need"
	fi
	# The first go command run from the module fetches the toolchain if it must.
	version=$(cd "$module" && "$GO" version) ||
		die "cannot run go (GOTOOLCHAIN=$GOTOOLCHAIN); is the module proxy reachable over HTTPS?"
	say "using $GO: $version, GOPROXY=$(cd "$module" && "$GO" env GOPROXY)"
}
