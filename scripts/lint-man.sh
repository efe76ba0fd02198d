#!/bin/bash
# The man pages in docs/man/ must render without a single warning, through man-db (as a reader
# sees them, 80 columns) and through groff with every warning on.  Exit status 1 on any warning.
# Without man or groff the check is skipped, unless STASIS_MUST_WORK=1 (CI), where that fails.
set -u
cd "$(dirname "$0")/.." || exit 1

missing=
for tool in man groff; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	if [ "${STASIS_MUST_WORK:-}" = 1 ]; then
		echo "lint-man: not installed:$missing (apt-get install man-db groff-base); STASIS_MUST_WORK=1"
		exit 1
	fi
	echo "lint-man: skipped, not installed:$missing (apt-get install man-db groff-base)"
	exit 0
fi

shopt -s nullglob
pages=(docs/man/*.[0-9])
if [ ${#pages[@]} -eq 0 ]; then
	echo "lint-man: no pages in docs/man/"
	exit 1
fi

bad=0
for page in "${pages[@]}"; do
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
	rc=$?
	if [ -n "$out" ] || [ $rc -ne 0 ]; then
		echo "lint-man: $page: man --warnings (exit $rc):"
		echo "$out"
		bad=1
	fi
	out=$(groff -man -ww -z "$page" 2>&1)
	rc=$?
	if [ -n "$out" ] || [ $rc -ne 0 ]; then
		echo "lint-man: $page: groff -man -ww -z (exit $rc):"
		echo "$out"
		bad=1
	fi
done
if [ $bad -ne 0 ]; then
	exit 1
fi
echo "lint-man: ok"
