#!/bin/bash
# make lint: the Makefile's promises that need no build.
#  - `make help` lists every .PHONY target, and only those;
#  - a missing library stops the build with its pkg-config name and `make deps`, while help, clean,
#    deps, uninstall and format still work;
#  - the test runner fails when it finds no test.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
top=$PWD
# a make of its own, not the caller's jobserver or -n
unset MAKEFLAGS MFLAGS MAKELEVEL
make=(make --no-print-directory -C "$top")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
fail() {
	echo "lint-make: $*"
	bad=1
}

# help_misses PHONY LISTED: the targets of one list missing from the other; returns 1 when there are
help_misses() {
	local t ok=0
	for t in $1; do
		grep -qxF "$t" <<<"$2" || { echo "make help does not list the target $t"; ok=1; }
	done
	for t in $2; do
		grep -qxF "$t" <<<"$1" || { echo "make help lists $t, which is no .PHONY target"; ok=1; }
	done
	return $ok
}
phony=$("${make[@]}" -p -n help 2>/dev/null | sed -n 's/^\.PHONY: //p' | tr ' ' '\n' | grep . | sort -u)
listed=$("${make[@]}" -s help 2>/dev/null | awk '$1 == "make" { print $2 }' | sort -u)
[ -n "$phony" ] || fail "make -p shows no .PHONY targets"
if ! out=$(help_misses "$phony" "$listed"); then
	fail "$out"
fi
# the comparison itself must catch a target that help leaves out
if help_misses "$phony"$'\nnot-in-help' "$listed" >/dev/null; then
	fail "the help check missed a .PHONY target absent from make help"
fi

# pkg-config: a missing package is named, and make deps is the way out
out=$("${make[@]}" -n all BUILD="$tmp/b" PKGS="libzstd stasis-no-such-package" 2>&1) &&
	fail "make all went on without the package stasis-no-such-package"
grep -q 'stasis-no-such-package.*make deps' <<<"$out" || fail "make all without a package says: $(tail -n1 <<<"$out")"
grep -q 'finds no.*libzstd' <<<"$out" && fail "make all names libzstd as missing: $(tail -n1 <<<"$out")"
out=$("${make[@]}" -n all BUILD="$tmp/b" PKG_CONFIG="$tmp/no-pkg-config" 2>&1) &&
	fail "make all went on without pkg-config"
grep -q 'no-pkg-config.*not installed.*make deps' <<<"$out" || fail "make all without pkg-config says: $(tail -n1 <<<"$out")"
for t in help clean deps uninstall format; do
	"${make[@]}" -n "$t" PKGS=stasis-no-such-package PKG_CONFIG="$tmp/no-pkg-config" >/dev/null 2>&1 ||
		fail "make $t needs the libraries"
done

# the test runner: no unit binary, no .bats file: a failure
mkdir -p "$tmp/tree/scripts" "$tmp/tree/integration" "$tmp/tree/build/unit"
cp scripts/run-tests.sh "$tmp/tree/scripts/"
for kind in unit integration; do
	STASIS_BUILD=$tmp/tree/build "$tmp/tree/scripts/run-tests.sh" "$kind" >"$tmp/out" 2>&1
	rc=$?
	[ $rc = 1 ] || fail "run-tests.sh $kind exits $rc when it finds no test: $(tail -n1 "$tmp/out")"
done

[ $bad = 0 ] && echo "lint-make: ok"
exit $bad
