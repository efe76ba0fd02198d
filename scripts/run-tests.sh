#!/bin/bash
# Runs the unit tests (cmocka binaries) and/or the integration tests (bats) and ends with one
# summary line: "<kind>: N passed, N failed, N skipped".  Finding no test (no unit binary in
# $STASIS_BUILD/unit, no .bats file, or no test case in them) is a failure, not a pass.
set -uo pipefail
[ $# -gt 0 ] || { echo "usage: run-tests.sh unit|integration..." >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
build=${STASIS_BUILD:-$top/build}
pass=0 failed=0 skipped=0 label=$(IFS=+; echo "$*")
log=$(mktemp)
trap 'rm -f "$log"' EXIT

for kind in "$@"; do
	before=$((pass + failed + skipped))
	case $kind in
	unit)
		tests=()
		for t in "$build"/unit/test-*; do
			[ -f "$t" ] && [ -x "$t" ] && tests+=("$t")
		done
		# a runner that finds nothing to run has not tested anything: that is a failure, not a pass
		if [ ${#tests[@]} -eq 0 ]; then
			echo "run-tests: no unit test binaries in $build/unit (build them with make unit BUILD=...)" >&2
			exit 1
		fi
		for t in "${tests[@]}"; do
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
		if ! compgen -G "$top/integration/*.bats" >/dev/null; then
			echo "run-tests: no .bats files in $top/integration" >&2
			exit 1
		fi
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
	if [ $((pass + failed + skipped)) -eq "$before" ]; then
		echo "run-tests: $kind: no test ran" >&2
		failed=$((failed + 1))
	fi
done
echo
echo "${label//+/-}: $pass passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
