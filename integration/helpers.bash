# Shared setup for the bats integration tests.
TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
BUILD=${STASIS_BUILD:-$TOP/build}
STASIS=$BUILD/stasis
WORKLOAD=$BUILD/integration/workload
load /usr/lib/bats/bats-support/load
load /usr/lib/bats/bats-assert/load
source "$TOP/integration/common.bash"

if [ -z "${STASIS_CRIU:-}" ] && [ -x "$TOP/.deps/criu/bin/criu" ]; then
	export STASIS_CRIU=$TOP/.deps/criu/bin/criu
fi

# A skip is honest locally; in CI (STASIS_MUST_WORK=1) it is a failure.
skip_or_fail() {
	if [ -n "${STASIS_MUST_WORK:-}" ]; then
		fail "cannot run here: $*"
	fi
	skip "$*"
}

require_root() {
	[ "$(id -u)" = 0 ] || skip_or_fail "needs root"
}

require_criu() {
	require_root
	[ -n "${STASIS_CRIU:-}" ] && [ -x "$STASIS_CRIU" ] || skip_or_fail "no CRIU >= 4.2 (run make deps)"
}

# require_containers: root, CRIU and runc; OUT is a fresh scratch dir, STATE the restores' state dirs
require_containers() {
	require_criu
	command -v runc >/dev/null || skip_or_fail "runc is not installed"
	OUT=$(mktemp -d /tmp/stasis-out-XXXXXX)
	STATE=$OUT/state
}

# start_workload MIB: a detached workload in $WORK; sets pid
start_workload() {
	"$WORKLOAD" -m "$1" -d "$WORK" -p "$WORK/pid"
	wait_for 50 test -s "$WORK/pid"
	pid=$(cat "$WORK/pid")
}

show_criu_log() {
	for f in "$@"; do
		[ -f "$f" ] && { echo "--- tail of $f"; tail -n 30 "$f"; }
	done
	return 0
}
