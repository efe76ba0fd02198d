#!/bin/bash
# A real CRIU checkpoint of a process tree in the three task states CRIU records: the workload
# (alive) with two children, a zombie (`workload -z`: exited, never reaped) and a stopped task
# (`workload -s`: SIGSTOPped, holding DIR/stopped open), dumped by CRIU through stasis-proc.
#
#   make-task-states.sh DIR       a fresh checkpoint in DIR/images (the workload's files in DIR)
#   make-task-states.sh --fixture regenerates unit/data/task-states: the images
#                                 test-inspect-task-states.c reads, without memory pages or logs
#
# Needs root, a built tree (STASIS_BUILD, default build/) and CRIU >= 4.2 (STASIS_CRIU, default
# .deps/criu/bin/criu).  The tree is dumped as a bare process tree, not as a container: CRIU hangs
# seizing a stopped task in a frozen cgroup (its zdtm "stopped" tests fail with --freeze-cgroup), and
# every container checkpoint freezes the container's cgroup.  The dump kills the tree; a failure
# kills it too.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${STASIS_BUILD:-$top/build}
export STASIS_CRIU=${STASIS_CRIU:-$top/.deps/criu/bin/criu}

# the state letter of /proc/PID/stat ("R", "S", "T", "Z", ...)
state_of() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	echo "${stat%% *}"
}

# both children exist, one a zombie and one stopped
children_ready() {
	local kids k states=""
	kids=$(cat "/proc/$1/task/$1/children" 2>/dev/null) || return 1
	for k in $kids; do
		states+=$(state_of "$k") || return 1
	done
	[ "$states" = ZT ] || [ "$states" = TZ ]
}

checkpoint() {
	local out=$1 pid k
	mkdir -p "$out/images"
	# stdio only: fds of whoever runs this (bats' fd 3, a job runner's pipes) would be dumped too
	(
		cd "$out"
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec "$build/integration/workload" -m 1 -d "$out" -p "$out/pid" -z -s </dev/null >/dev/null 2>&1
	)
	for _ in $(seq 50); do
		[ -s "$out/pid" ] && break
		sleep 0.1
	done
	pid=$(cat "$out/pid")
	for _ in $(seq 50); do
		children_ready "$pid" && break
		sleep 0.1
	done
	if ! children_ready "$pid" || ! "$build/integration/stasis-proc" dump "$pid" "$out/images"; then
		echo "make-task-states: no checkpoint of pid $pid; tail of dump.log:" >&2
		tail -n 30 "$out/images/dump.log" >&2 2>/dev/null || true
		for k in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do kill -9 "$k" 2>/dev/null || true; done
		kill -9 "$pid" 2>/dev/null || true
		return 1
	fi
}

case ${1:-} in
--fixture)
	tmp=$(mktemp -d /tmp/stasis-task-states-XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	checkpoint "$tmp"
	dst=$top/unit/data/task-states
	rm -rf "$dst"
	mkdir -p "$dst"
	(cd "$tmp/images" && cp inventory.img pstree.img files.img core-*.img ids-*.img fs-*.img mm-*.img \
		fdinfo-*.img "$dst/")
	ls -l "$dst"
	du -sh --apparent-size "$dst"
	;;
"" | -*)
	echo "usage: make-task-states.sh DIR | --fixture" >&2
	exit 2
	;;
*)
	checkpoint "$1"
	;;
esac
