#!/bin/bash
# make check (before the tests) and make check-install: what `make install` puts in place is what a
# distribution ships.  Installs into a scratch DESTDIR with PREFIX=/usr and checks that
#  - libstasis.so.VERSION, libstasis.so.0 -> it, libstasis.so -> libstasis.so.0, soname libstasis.so.0;
#  - the shared library and the static archive define stasis_* as their only global symbols, the same set;
#  - docs/man/*.1 and *.3 land in share/man/man1 and man3;
#  - a program built with `pkg-config --static --cflags --libs stasis` links the installed archive
#    (and one built with `pkg-config --cflags --libs stasis` the shared library) and runs stasis_version();
#  - bin/stasis-runc and stasis-crun (the engines' runtime) are links to stasis;
#  - make uninstall leaves no file behind.
# STASIS_BUILD is the build directory (default build/); it must have been built (make all).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${STASIS_BUILD:-$top/build}
cd "$top"
# a make of its own, not the caller's jobserver or -n
unset MAKEFLAGS MFLAGS MAKELEVEL
tmp=$(mktemp -d /tmp/stasis-check-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
lib=$root/usr/lib
bad=0
fail() {
	echo "check-install: $*" >&2
	bad=1
}
mk() {
	make --no-print-directory -C "$top" BUILD="$build" DESTDIR="$root" PREFIX=/usr "$@" >"$tmp/make.log" 2>&1 ||
		{ cat "$tmp/make.log" >&2; echo "check-install: make $* failed" >&2; exit 1; }
}

version=$(sed -n 's/^VERSION := //p' Makefile)
major=${version%%.*}
[ -n "$version" ] || { echo "check-install: no VERSION in the Makefile" >&2; exit 1; }
mk install

for f in usr/bin/stasis usr/include/stasis.h usr/lib/libstasis.a usr/lib/pkgconfig/stasis.pc \
	"usr/lib/libstasis.so.$version"; do
	if [ ! -f "$root/$f" ] || [ -L "$root/$f" ]; then
		fail "make install put no file at /$f"
	fi
done
[ "$(readlink "$lib/libstasis.so.$major" || true)" = "libstasis.so.$version" ] ||
	fail "/usr/lib/libstasis.so.$major is not a link to libstasis.so.$version"
[ "$(readlink "$lib/libstasis.so" || true)" = "libstasis.so.$major" ] ||
	fail "/usr/lib/libstasis.so is not a link to libstasis.so.$major"
for shim in stasis-runc stasis-crun; do
	[ "$(readlink "$root/usr/bin/$shim" || true)" = stasis ] ||
		fail "/usr/bin/$shim (the engines' runtime) is not a link to stasis"
done
soname=$(readelf -d "$lib/libstasis.so.$version" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = "libstasis.so.$major" ] || fail "soname is '$soname', not libstasis.so.$major"

# global symbols: stasis_* and the version node(s) of libstasis.sym, nothing else
nodes=$(sed -n 's/^\([A-Za-z_][A-Za-z0-9_.]*\)[[:space:]]*{.*/\1/p' libstasis.sym)
globals() { # nm options and file: the defined global symbol names, version suffixes cut
	nm "$@" | awk 'NF >= 3 { sub(/@.*/, "", $3); print $3 }' | sort -u | { grep -vxF "$nodes" || true; }
}
globals -D --defined-only "$lib/libstasis.so.$version" >"$tmp/so-dynamic"
globals -g --defined-only "$lib/libstasis.so.$version" >"$tmp/so-symtab"
globals -g --defined-only "$lib/libstasis.a" >"$tmp/archive"
for what in so-dynamic so-symtab archive; do
	extra=$(grep -v '^stasis_' "$tmp/$what" || true)
	[ -z "$extra" ] || fail "$what: global symbols outside stasis_*: $(tr '\n' ' ' <<<"$extra" | cut -c1-300)"
	grep -qx stasis_version "$tmp/$what" || fail "$what: does not define stasis_version"
done
cmp -s "$tmp/so-dynamic" "$tmp/archive" ||
	fail "libstasis.so and libstasis.a export different symbols: $(diff "$tmp/so-dynamic" "$tmp/archive" | grep '^[<>]' | head -n5 | tr '\n' ' ')"
[ "$(ar t "$lib/libstasis.a" | wc -l)" -eq 1 ] || fail "libstasis.a holds more than its one relocatable object"

# man pages: whatever docs/man has when make runs
for page in docs/man/*.1 docs/man/*.3; do
	[ -f "$page" ] || continue
	dest=$root/usr/share/man/man${page##*.}/$(basename "$page")
	cmp -s "$page" "$dest" || fail "$page is not installed as ${dest#"$root"}"
done

# a consumer that knows only pkg-config, against the installed tree
grep -q '^prefix=/usr$' "$lib/pkgconfig/stasis.pc" || fail "stasis.pc does not say prefix=/usr"
grep -q '^Libs.private: .*-l' "$lib/pkgconfig/stasis.pc" || fail "stasis.pc has no Libs.private"
cat >"$tmp/use-stasis.c" <<'EOF'
#include <stdio.h>
#include <stasis.h>

int main(void)
{
	printf("%s\n", stasis_version());
	return 0;
}
EOF
export PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
# pkgconf drops -I/usr/include and -L/usr/lib as system paths before it prepends the sysroot
export PKG_CONFIG_ALLOW_SYSTEM_CFLAGS=1 PKG_CONFIG_ALLOW_SYSTEM_LIBS=1
cc=${CC:-cc}
# the archive, not the shared library beside it: -lstasis becomes -l:libstasis.a
static_flags=$(pkg-config --static --cflags --libs stasis)
read -ra flags <<<"${static_flags/-lstasis/-l:libstasis.a}"
if $cc -o "$tmp/use-static" "$tmp/use-stasis.c" "${flags[@]}" 2>"$tmp/cc.log"; then
	readelf -d "$tmp/use-static" | grep -q 'NEEDED.*libstasis' && fail "the static program needs libstasis.so"
	out=$("$tmp/use-static") || fail "the static program failed"
	[ "$out" = "$version" ] || fail "the static program printed '$out', not $version"
else
	cat "$tmp/cc.log" >&2
	fail "cannot link with the installed libstasis.a: $cc ... $static_flags"
fi
dynamic_flags=$(pkg-config --cflags --libs stasis)
read -ra flags <<<"$dynamic_flags"
if $cc -o "$tmp/use-shared" "$tmp/use-stasis.c" "${flags[@]}" 2>"$tmp/cc.log"; then
	readelf -d "$tmp/use-shared" | grep -q "NEEDED.*\[libstasis.so.$major\]" ||
		fail "the shared program does not need libstasis.so.$major"
	out=$(LD_LIBRARY_PATH=$lib "$tmp/use-shared") || fail "the shared program failed"
	[ "$out" = "$version" ] || fail "the shared program printed '$out', not $version"
else
	cat "$tmp/cc.log" >&2
	fail "cannot link with the installed libstasis.so: $cc ... $dynamic_flags"
fi

mk uninstall
left=$(cd "$root" && find . ! -type d)
[ -z "$left" ] || fail "make uninstall left $(tr '\n' ' ' <<<"$left")"

[ $bad = 0 ] && echo "check-install: ok (libstasis $version: $(wc -l <"$tmp/archive") stasis_* symbols, .so links, pkg-config, man pages, uninstall)"
exit $bad
