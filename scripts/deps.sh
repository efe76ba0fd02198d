#!/bin/bash
# make deps: every Debian package the build, the tests and the demo need, plus a private CRIU >= 4.2.
#
# Debian 12's criu (3.17) cannot dump on kernels with the new vDSO layout and 4.1 cannot dump inet
# sockets on kernels >= 6.16.  Installing unstable's criu would upgrade the system libc, so its .debs
# (libc included) are fetched with a private apt state and unpacked into .deps/criu, and a wrapper
# runs the binary through that prefix's own dynamic loader.  checkpointctl (absent from Debian 12)
# comes the same way.  Debian 12's crun (1.8.1) is built without CRIU: the tests' second producer,
# crun with CRIU, comes from the same release into .deps/crun, with its own closure (libcriu
# included), and its wrapper puts .deps/criu/bin first in PATH: crun dlopen()s libcriu.so.2, which
# runs `criu swrk` found in PATH.  The mirror is taken from the system's apt sources at run time.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
prefix=$top/.deps/criu
stamp=$prefix/.complete
crun_prefix=$top/.deps/crun
suite=${STASIS_CRIU_SUITE:-unstable}

packages=(
	build-essential pkg-config protobuf-c-compiler libprotobuf-c-dev libyajl-dev
	libselinux1-dev libapparmor-dev libnl-3-dev libnl-route-3-dev libcap-dev libarchive-dev
	libzstd-dev libssl-dev libcmocka-dev bats bats-support bats-assert runc crun busybox-static
	jq clang libclang-rt-14-dev cppcheck clang-format criu podman containerd iproute2 zstd gzip tar
	python3 man-db groff-base binutils openssl
)
# criu (3.17) is installed for crit, which reads 4.x images, and for /usr/include/criu/rpc.proto,
# which the unit tests compare our field numbers with; the 3.17 binary itself is never run.

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	# The containerd package enables and, under systemd, starts containerd.service.  The tests
	# run their own daemon (integration/containerd.bash); one installed only for them is stopped.
	if [[ " ${missing[*]} " == *" containerd "* ]] && [ -d /run/systemd/system ]; then
		systemctl disable --now containerd.service >/dev/null 2>&1 || true
	fi
fi

mirror_uri() {
	local uri=""
	if [ -r /etc/apt/sources.list.d/debian.sources ]; then
		uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
			/etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$uri" ]; then
		uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }')
	fi
	[ -n "$uri" ] || { echo "deps: no Debian mirror found in the system's apt sources" >&2; exit 1; }
	echo "$uri"
}

# fetch_private PREFIX PACKAGES...: PACKAGES and their closure (libc included) from $suite,
# unpacked into PREFIX/root with a private apt state in PREFIX/apt; PREFIX is removed first
fetch_private() {
	local pfx=$1
	shift
	local state=$pfx/apt
	rm -rf "$pfx"
	mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/debs" "$pfx/root"
	: >"$state/status"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(mirror_uri) $suite main" \
		>"$state/sources.list"
	local apt_opts=(
		-o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache"
		-o "Dir::State::status=$state/status" -o Debug::NoLocking=1
		-o APT::Sandbox::User=root -o "APT::Architecture=$(dpkg --print-architecture)"
	)
	echo "deps: fetching $* from Debian $suite into $pfx"
	apt-get "${apt_opts[@]}" -qq update
	local closure
	closure=$(apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests \
		--no-conflicts --no-breaks --no-replaces --no-enhances "$@" |
		grep -v '^ ' | grep -v '^<' | sort -u)
	(cd "$state/debs" && apt-get "${apt_opts[@]}" -qq download $closure)
	for deb in "$state/debs"/*.deb; do
		dpkg-deb -x "$deb" "$pfx/root"
	done
	rm -rf "$state/debs" "$state/cache"
}

# the prefix's dynamic loader, relative to PREFIX/root
loader_of() {
	(cd "$1/root" && find . -name 'ld-linux-*.so.*' | head -n1 | sed 's|^\./||')
}

# fetch_unpacked PREFIX PACKAGES...: fetch_private, then the prefix's loader in ld and its library
# directory in libdir (relative to PREFIX/root) for the wrappers, and PREFIX/bin for them
fetch_unpacked() {
	fetch_private "$@"
	ld=$(loader_of "$1")
	libdir=$(dirname "$ld")
	mkdir -p "$1/bin"
}

fetch_criu() {
	local ld libdir
	fetch_unpacked "$prefix" criu checkpointctl
	for tool in usr/sbin/criu usr/bin/checkpointctl; do
		cat >"$prefix/bin/$(basename "$tool")" <<WRAP
#!/bin/sh
# runs $tool from $suite through that release's own loader and libraries (see scripts/deps.sh)
exec "$prefix/root/$ld" --library-path "$prefix/root/$libdir" "$prefix/root/$tool" "\$@"
WRAP
		chmod 0755 "$prefix/bin/$(basename "$tool")"
	done
	touch "$stamp"
}

# crun and libcriu2 from $suite.  The wrapper finds its prefix from its own path (.deps may be a
# symlink shared by work trees) and the CRIU beside it, ../../criu/bin, first in PATH; --library-path
# (not LD_LIBRARY_PATH) reaches crun's dlopen() of libcriu.so.2 and not the programs crun runs.
fetch_crun() {
	local ld libdir
	fetch_unpacked "$crun_prefix" crun libcriu2
	cat >"$crun_prefix/bin/crun" <<WRAP
#!/bin/sh
# runs usr/bin/crun from $suite through that release's own loader and libraries, with libcriu
# from the same release running the CRIU in .deps/criu (see scripts/deps.sh)
p=\$(dirname "\$(dirname "\$(readlink -f "\$0")")")
PATH=\$(dirname "\$p")/criu/bin:\$PATH exec "\$p/root/$ld" --library-path "\$p/root/$libdir" "\$p/root/usr/bin/crun" "\$@"
WRAP
	chmod 0755 "$crun_prefix/bin/crun"
	touch "$crun_prefix/.complete"
}

system_criu_ok() {
	command -v criu >/dev/null || return 1
	local v
	v=$(criu --version 2>/dev/null | awk '/^Version:/ { print $2 }')
	[ -n "$v" ] || return 1
	dpkg --compare-versions "$v" ge 4.2 || return 1
	criu check >/dev/null 2>&1
}

if [ ! -e "$stamp" ]; then
	fetch_criu
fi
if [ ! -e "$crun_prefix/.complete" ]; then
	fetch_crun
fi

if system_criu_ok; then
	criu=$(command -v criu)
else
	criu=$prefix/bin/criu
fi
echo "deps: CRIU: $criu ($("$criu" --version | awk '/^Version:/ { print $2 }'))"
printf 'deps: criu check: %s\n' "$("$criu" check 2>&1 | grep -v 'kdat cache' | tail -n1)"
echo "deps: checkpointctl: $prefix/bin/checkpointctl"
echo "deps: crun with CRIU: $crun_prefix/bin/crun ($("$crun_prefix/bin/crun" --version | awk '/^crun version/ { print $3 }'))"
echo "deps: use it with: export STASIS_CRIU=$criu"
