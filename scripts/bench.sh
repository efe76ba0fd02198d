#!/bin/bash
# make bench: stasis next to runc on identical containers, side by side in one run.  Prints the
# figures and ratios; nothing here passes or fails on time.
#   checkpoint: `stasis checkpoint --export` (zstd archive) vs `runc checkpoint` (images only)
#   restore:    `stasis restore --import` of that archive vs `runc restore` of the images
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
STASIS=$BUILD/stasis
WORKLOAD=$BUILD/integration/workload
MIB=${STASIS_BENCH_MIB:-1024}
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 1; }
export STASIS_CRIU=${STASIS_CRIU:-$top/.deps/criu/bin/criu}
[ -x "$STASIS_CRIU" ] || { echo "bench: run 'make deps' first" >&2; exit 1; }
export STASIS_CT_BASE=${STASIS_CT_BASE:-/tmp/stasis-bench}
export CT_WORKLOAD_MIB=$MIB
source "$top/integration/common.bash"
source "$top/integration/containers.bash"
out=$(mktemp -d /var/tmp/stasis-bench-XXXXXX)
cleanup() {
	"$STASIS" delete --force bench-stasis-r >/dev/null 2>&1 || true
	for n in bench-runc bench-stasis bench-stasis-r; do stop_container "$n"; done
	rm -rf "$out"
}
trap cleanup EXIT

ms() { date +%s%N | cut -b1-13; }
# peak_rss_kib PID: the process' VmHWM, read until it exits (the last reading is its peak)
peak_rss_kib() {
	local pid=$1 hwm=0 v
	while [ -e "/proc/$pid" ]; do
		v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null) && [ -n "$v" ] && hwm=$v
		sleep 0.02
	done
	echo "$hwm"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

echo "bench: two runc containers, each with $MIB MiB of incompressible workload memory"
start_container runc bench-runc
start_container runc bench-stasis

t0=$(ms)
runc --criu "$STASIS_CRIU" checkpoint --image-path "$out/runc-images" --work-path "$out/runc-work" bench-runc
t_runc=$(($(ms) - t0))

t0=$(ms)
"$STASIS" checkpoint --export "$out/stasis.tar.zst" bench-stasis &
spid=$!
rss=$(peak_rss_kib "$spid")
wait "$spid"
t_stasis=$(($(ms) - t0))

images=$(du -sm "$out/runc-images" | cut -f1)
archive=$(($(stat -c %s "$out/stasis.tar.zst") / 1048576))
echo "checkpoint  runc checkpoint (images):  ${t_runc} ms, ${images} MiB of images"
echo "checkpoint  stasis --export (zstd):    ${t_stasis} ms, ${archive} MiB archive, stasis peak RSS $((rss / 1024)) MiB"
echo "checkpoint  ratio stasis/runc:         $(ratio "$t_stasis" "$t_runc") (goal <= 1.5), peak RSS goal < 64 MiB"

# restore_runc / restore_stasis: one timed restore each, in ms on stdout
restore_runc() {
	local t0
	t0=$(ms)
	(cd "$CT_BASE/bench-runc/bundle" && runc --criu "$STASIS_CRIU" restore --detach \
		--image-path "$out/runc-images" --work-path "$out/runc-work" bench-runc </dev/null >/dev/null)
	echo $(($(ms) - t0))
}
restore_stasis() {
	local t0 spid
	rm -rf "$CT_BASE/bench-stasis-r"
	mkdir -p "$CT_BASE/bench-stasis-r"
	t0=$(ms)
	"$STASIS" restore --import "$out/stasis.tar.zst" --name bench-stasis-r \
		--rootfs-base "$CT_BASE/image" --mount "/data=$CT_BASE/bench-stasis/data" \
		--state-dir "$CT_BASE/bench-stasis-r" >/dev/null &
	spid=$!
	peak_rss_kib "$spid" >"$out/rss"
	wait "$spid"
	echo $(($(ms) - t0))
}
remove_restored() {
	runc delete -f bench-runc >/dev/null 2>&1 || true
	# stasis' own delete: the restore's record, overlay and state dir go with the container
	"$STASIS" delete --force bench-stasis-r >/dev/null 2>&1 || true
	runc delete -f bench-stasis-r >/dev/null 2>&1 || true
	umount "$CT_BASE/bench-stasis-r/rootfs" 2>/dev/null || true
	rm -rf "$CT_BASE/bench-stasis-r" "$STASIS_STATE_ROOT/bench-stasis-r"
	while pgrep -f "workload -m $MIB" >/dev/null; do sleep 0.1; done
}

if "$STASIS" restore --help >/dev/null 2>&1; then
	# Freshly freed memory is cheaper to fault in again than memory the VM has not touched for a
	# while, so whoever goes first after the workloads die has an edge: run runc-stasis, then
	# stasis-runc, and compare the sums.
	STASIS_STATE_ROOT=/run/stasis
	remove_restored
	r1=$(restore_runc)
	s1=$(restore_stasis)
	rss=$(cat "$out/rss")
	remove_restored
	s2=$(restore_stasis)
	r2=$(restore_runc)
	echo "restore     runc restore (images):     ${r1} ms, then ${r2} ms"
	echo "restore     stasis --import (zstd):    ${s1} ms, then ${s2} ms, stasis peak RSS $((rss / 1024)) MiB"
	echo "restore     ratio stasis/runc:         $(ratio $((s1 + s2)) $((r1 + r2))) (goal <= 1.5)"
fi
