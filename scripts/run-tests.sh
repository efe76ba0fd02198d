#!/bin/bash
# Runs the unit tests (cmocka binaries) and/or the integration tests (bats) and ends with one
# summary line: "<kind>: N passed, N failed, N skipped".
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${STASIS_BUILD:-$top/build}
pass=0 failed=0 skipped=0 label=$(IFS=+; echo "$*")
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for kind in "$@"; do
	case $kind in
	unit)
		for t in "$build"/unit/test-*; do
			[ -x "$t" ] || continue
			echo "== $(basename "$t")"
			"$t" 2>&1 | tee "$log"
			rc=${PIPESTATUS[0]}
			p=$(grep -c '^\[       OK \]' "$log")
			f=$(grep -c '^\[  FAILED  \] [a-z_]' "$log")
			s=$(grep -c '^\[  SKIPPED \] [a-z_]' "$log")
			[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
			pass=$((pass + p)) failed=$((failed + f)) skipped=$((skipped + s))
		done
		;;
	integration)
		STASIS_BUILD=$build bats --tap --print-output-on-failure "$top/integration/" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
		p=$(grep -E '^ok [0-9]+' "$log" | grep -vc '# skip')
		s=$(grep -E '^ok [0-9]+' "$log" | grep -c '# skip')
		f=$(grep -cE '^not ok [0-9]+' "$log")
		[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
		pass=$((pass + p)) failed=$((failed + f)) skipped=$((skipped + s))
		;;
	*)
		echo "run-tests: unknown kind $kind" >&2
		exit 2
		;;
	esac
done
echo
echo "${label//+/-}: $pass passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
