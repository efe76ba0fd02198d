#!/bin/bash
# make bench: checkpoint and restore of one container by runc, stasis and podman, side by side in
# one run (docs/benchmarks.md).  Nothing here passes or fails on time: the exit status is 0 unless
# a tool failed or a restored workload did not verify.
#
#   STASIS_BENCH_SIZES   the rows, MiB of workload memory; "c" after a size (256c) makes that
#                        memory compressible (workload -c)      default: "16 256 1024 256c"
#   STASIS_BENCH_RUNS    repetitions of each method per size    default: 3
#   STASIS_BENCH_TSV     also write every measurement there, tab-separated
#   STASIS_BENCH_METHODS a subset of the methods below, in order  default: all six
#
# Methods: runc (runc checkpoint --image-path / runc restore --detach, plain images), stasis-zstd
# (stasis checkpoint --export, zstd archive, the pages streamed in / restore --import --runtime none,
# the pages streamed out), stasis-none (the same with --compress none), stasis-lazy (the zstd
# archive restored with --lazy-pages: the restore row is until the container runs, all-pages-in
# until every page is in), stasis-staged (zstd, the
# archive written after the dump: --staged / restored by runc from unpacked images), podman (podman 4.3 container checkpoint --export --compress zstd / container
# restore --import, with plain runc as its runtime).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
STASIS=$BUILD/stasis
WORKLOAD=$BUILD/integration/workload
SIZES=${STASIS_BENCH_SIZES:-16 256 1024 256c}
RUNS=${STASIS_BENCH_RUNS:-3}
TSV=${STASIS_BENCH_TSV:-}
[ "$(id -u)" = 0 ] || { echo "bench: needs root" >&2; exit 1; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "bench: STASIS_BENCH_RUNS must be a positive number" >&2; exit 1; }
for s in $SIZES; do
	[[ $s =~ ^[1-9][0-9]*c?$ ]] || { echo "bench: bad size '$s' in STASIS_BENCH_SIZES (MiB, c: compressible)" >&2; exit 1; }
done
export STASIS_CRIU=${STASIS_CRIU:-$top/.deps/criu/bin/criu}
[ -x "$STASIS_CRIU" ] || { echo "bench: run 'make deps' first" >&2; exit 1; }
for c in runc podman jq crit; do
	command -v "$c" >/dev/null || { echo "bench: $c is not installed" >&2; exit 1; }
done
RUNC=$(command -v runc)
export STASIS_CT_BASE=${STASIS_CT_BASE:-/tmp/stasis-bench}
source "$top/integration/common.bash"
source "$top/integration/containers.bash"
out=$(mktemp -d /var/tmp/stasis-bench-XXXXXX)
# podman as the tests run it (integration/containers.bash): CRIU 4.2 first in PATH, runc
use_podman "$out"
IMAGE=localhost/stasis-bench:bench
read -r -a METHODS <<<"${STASIS_BENCH_METHODS:-runc stasis-zstd stasis-none stasis-lazy stasis-staged podman}"

# every container and restored container of ours is called bench-*
cleanup() {
	local n
	set +e
	for n in bench-runc bench-stasis-zstd bench-stasis-none bench-stasis-lazy bench-stasis-staged; do
		"$STASIS" delete --force "$n-r" >/dev/null 2>&1
		runc delete -f "$n-r" >/dev/null 2>&1
		umount "$CT_BASE/$n-r/rootfs" 2>/dev/null
		rm -rf "$CT_BASE/$n-r"
		stop_container "$n"
	done
	podman rm -f -t 0 bench-podman >/dev/null 2>&1
	podman rmi -f "$IMAGE" >/dev/null 2>&1
	rm -rf "$out"
}
trap cleanup EXIT

die() {
	echo "bench: $*" >&2
	exit 1
}
for m in "${METHODS[@]}"; do
	case $m in runc | stasis-zstd | stasis-none | stasis-lazy | stasis-staged | podman) ;;
	*) die "unknown method '$m' in STASIS_BENCH_METHODS" ;;
	esac
done
now_us() { echo "${EPOCHREALTIME/./}"; }
# nap SECONDS: a sleep without a process.  What is timed here is CPU-bound on few cores: a sleep(1)
# and a grep(1) forked every 10-20 ms beside it took a share of them, and the timings with it.
# The fd is a pipe whose write end is our own: nothing ever comes, read times out.
exec {NAP_FD}<> <(:)
nap() { read -rt "$1" -u "$NAP_FD" || true; }

# proc_start PID: the process' start time (field 22 of /proc/PID/stat), empty once it is gone
proc_start() {
	local s f
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	read -r -a f <<<"$s"
	echo "${f[19]}"
}
# wait_gone PID START: the workload is reaped (PID 1 here reaps slowly); its memory is free again
wait_gone() {
	local n=600
	while [ -n "$2" ] && [ "$(proc_start "$1")" = "$2" ]; do
		n=$((n - 1))
		[ $n -gt 0 ] || die "pid $1 is still there after 60 s"
		sleep 0.1
	done
}

# timed FILE CMD...: runs the program CMD (not a function: its pid must be the program's) (stdout to FILE), sets T_MS to its wall time and RSS_MIB to the
# peak RSS (VmHWM) of the CMD process itself, sampled every 20 ms until it exits (its children,
# CRIU among them, are not counted).  Every method is sampled alike.
timed() {
	local file=$1 t0 pid spid rc=0
	shift
	t0=$(now_us)
	"$@" >"$file" &
	pid=$!
	(
		hwm=0
		while [ -e "/proc/$pid" ]; do
			while read -r k v _; do
				[ "$k" = VmHWM: ] && hwm=$v
			done <"/proc/$pid/status" 2>/dev/null || true
			nap 0.02
		done
		echo $((hwm / 1024)) >"$out/rss"
	) &
	spid=$!
	wait "$pid" || rc=$?
	T_MS=$((($(now_us) - t0) / 1000))
	wait "$spid"
	RSS_MIB=$(cat "$out/rss")
	[ "$rc" = 0 ] || die "failed ($rc): $*"
}

# settle: nothing of the previous step is still being written back when the next is timed
settle() {
	sync
}
# evict FILE...: the checkpoint's output leaves the page cache (written back first, then
# POSIX_FADV_DONTNEED), so that every restore reads its input from disk
evict() {
	sync
	find "$@" -type f -exec dd if={} iflag=nocache count=0 status=none \;
}

# crit_stat FILE KEY: one figure of CRIU's stats-dump / stats-restore, in ms
crit_stat() {
	crit show "$1" | jq -r ".entries[0][] | .$2 // empty | . / 1000 | floor"
}

# start_METHOD, checkpoint_METHOD, restore_METHOD, remove_METHOD: one container each; the
# checkpoint and restore steps set T_MS, RSS_MIB, CRIU_MS (CRIU's frozen_time, or its
# restore_time), FROZEN_MS (how long the container stayed frozen) and OUT_MIB (what was written)
# and PID/START (the workload the next step waits for)
# ct_pid NAME: the container's pid, whether runc or stasis (a native restore's record) has it
ct_pid() {
	if [ -f "/run/stasis/$1/state.json" ]; then
		PID=$(jq -r .pid "/run/stasis/$1/state.json")
	else
		PID=$(container_pid runc "$1")
	fi
	START=$(proc_start "$PID")
}

start_runc() { start_container runc bench-runc; }
checkpoint_runc() {
	ct_pid bench-runc
	rm -rf "$out/runc-images" "$out/runc-work"
	timed "$out/stdout" runc --criu "$STASIS_CRIU" checkpoint --image-path "$out/runc-images" \
		--work-path "$out/runc-work" bench-runc
	CRIU_MS=$(crit_stat "$out/runc-work/stats-dump" frozen_time)
	FROZEN_MS=$CRIU_MS
	OUT_MIB=$(du -sm "$out/runc-images" | cut -f1)
	evict "$out/runc-images"
}
restore_runc() {
	# runc restore runs in the bundle, its rootfs still mounted from the start
	cd "$CT_BASE/bench-runc/bundle"
	timed "$out/stdout" runc --criu "$STASIS_CRIU" restore --detach --image-path "$out/runc-images" \
		--work-path "$out/runc-work" bench-runc
	cd "$top"
	CRIU_MS=$(crit_stat "$out/runc-work/stats-restore" restore_time)
	FROZEN_MS=
	ct_pid bench-runc
	verify bench-runc
}
remove_runc() {
	runc delete -f bench-runc >/dev/null
	wait_gone "$PID" "$START"
	stop_container bench-runc
}

# stasis_checkpoint NAME COMPRESSION EXT [FLAG...]
stasis_checkpoint() {
	ct_pid "$1"
	rm -f "$out/$1.$3"
	timed "$out/stats.json" "$STASIS" checkpoint --export "$out/$1.$3" --compress "$2" --print-stats "${@:4}" "$1"
	CRIU_MS=$(jq '.container_statistics[0].criu_statistics.frozen_time / 1000 | floor' "$out/stats.json")
	FROZEN_MS=$(jq '.container_statistics[0].stasis_statistics.frozen_duration / 1000 | floor' "$out/stats.json")
	OUT_MIB=$(($(stat -c %s "$out/$1.$3") / 1048576))
	evict "$out/$1.$3"
}
# stasis_restore NAME EXT [FLAG...]: the restored container is NAME-r, its rootfs a fresh overlay on
# the image
stasis_restore() {
	rm -rf "$CT_BASE/$1-r"
	mkdir -p "$CT_BASE/$1-r"
	local flags=("${@:3}")
	[ "${flags[-1]}" = --skip-verify ] && unset 'flags[-1]'
	timed "$out/stats.json" "$STASIS" restore --import "$out/$1.$2" --name "$1-r" --print-stats \
		--rootfs-base "$CT_BASE/image" --mount "/data=$CT_BASE/$1/data" --state-dir "$CT_BASE/$1-r" "${flags[@]}"
	CRIU_MS=$(jq '.container_statistics[0].criu_statistics.restore_time / 1000 | floor' "$out/stats.json")
	FROZEN_MS=
	ct_pid "$1-r"
	[ "${*: -1}" = --skip-verify ] || verify "$1"
}
stasis_remove() {
	# stasis' own delete: the restore's record, overlay and state dir go with the container
	"$STASIS" delete --force "$1-r" >/dev/null
	runc delete -f "$1-r" >/dev/null 2>&1 || true
	wait_gone "$PID" "$START"
	rm -rf "$CT_BASE/$1-r"
	stop_container "$1"
}
start_stasis-zstd() { start_container runc bench-stasis-zstd; }
checkpoint_stasis-zstd() { stasis_checkpoint bench-stasis-zstd zstd tar.zst; }
# stasis runs CRIU itself (--runtime none): the pages stream from the archive into CRIU
restore_stasis-zstd() { stasis_restore bench-stasis-zstd tar.zst --runtime none; }
remove_stasis-zstd() { stasis_remove bench-stasis-zstd; }
# the same archive restored lazily: the restore step's wall time is until the container runs, and
# an all-pages-in row measures from the same start until the guard says every page is in
start_stasis-lazy() { start_container runc bench-stasis-lazy; }
checkpoint_stasis-lazy() { stasis_checkpoint bench-stasis-lazy zstd tar.zst; }
restore_stasis-lazy() {
	local t0 restore_ms
	t0=$(now_us)
	stasis_restore bench-stasis-lazy tar.zst --runtime none --lazy-pages --skip-verify
	restore_ms=$T_MS
	local line=
	# read with a builtin: a grep forked every 10 ms would take CPU from what is measured
	until [[ $line == complete* ]]; do
		[[ $line == failed* || $line == stopped* ]] && die "lazy restore: $line"
		nap 0.005
		line=
		{ read -r line </run/stasis/bench-stasis-lazy-r/lazy-pages; } 2>/dev/null || true
	done
	T_MS=$((($(now_us) - t0) / 1000))
	record "$size" all-pages-in stasis-lazy "$run"
	T_MS=$restore_ms
	verify bench-stasis-lazy
}
remove_stasis-lazy() { stasis_remove bench-stasis-lazy; }
# the same archive written after the dump from a directory of images (--staged: before streaming),
# restored by runc from the unpacked images (the default for a runc container)
start_stasis-staged() { start_container runc bench-stasis-staged; }
checkpoint_stasis-staged() { stasis_checkpoint bench-stasis-staged zstd tar.zst --staged; }
restore_stasis-staged() { stasis_restore bench-stasis-staged tar.zst; }
remove_stasis-staged() { stasis_remove bench-stasis-staged; }
start_stasis-none() { start_container runc bench-stasis-none; }
checkpoint_stasis-none() { stasis_checkpoint bench-stasis-none none tar; }
restore_stasis-none() { stasis_restore bench-stasis-none tar --runtime none; }
remove_stasis-none() { stasis_remove bench-stasis-none; }

# podman: plain runc (an absolute path) runs the container, podman's own checkpoint code drives CRIU
pm() { podman --runtime "$RUNC" "$@"; }
pm_pid() {
	PID=$(pm inspect -f '{{.State.Pid}}' bench-podman)
	START=$(proc_start "$PID")
}
start_podman() {
	local args
	read -r -a args <<<"${CT_WORKLOAD_ARGS:-}"
	mkdir -p "$CT_BASE/bench-podman/data"
	pm run -d --network none --name bench-podman -v "$CT_BASE/bench-podman/data:/data" "$IMAGE" \
		/bin/workload -m "$CT_WORKLOAD_MIB" -d /data "${args[@]}" >/dev/null
	wait_for 600 counter_above "$CT_BASE/bench-podman/data" 2 || die "podman's workload does not count"
}
checkpoint_podman() {
	pm_pid
	rm -f "$out/podman.tar.zst"
	timed "$out/stats.json" podman --runtime "$RUNC" container checkpoint --export "$out/podman.tar.zst" --compress zstd \
		--print-stats bench-podman
	# podman reads CRIU's stats-dump from its work dir
	CRIU_MS=$(jq '.container_statistics[0].criu_statistics.frozen_time / 1000 | floor' "$out/stats.json")
	FROZEN_MS=$CRIU_MS
	OUT_MIB=$(($(stat -c %s "$out/podman.tar.zst") / 1048576))
	# the restore brings it back under its own name
	pm rm bench-podman >/dev/null
	evict "$out/podman.tar.zst"
}
restore_podman() {
	timed "$out/stats.json" podman --runtime "$RUNC" container restore --import "$out/podman.tar.zst" --print-stats
	CRIU_MS=$(jq '.container_statistics[0].criu_statistics.restore_time / 1000 | floor' "$out/stats.json")
	FROZEN_MS=
	pm_pid
	verify bench-podman
}
remove_podman() {
	pm rm -f -t 0 bench-podman >/dev/null
	wait_gone "$PID" "$START"
	rm -rf "$CT_BASE/bench-podman"
}

# verify NAME: the restored workload (data dir $CT_BASE/NAME/data, pid $PID) checks its memory
verify() {
	local v
	v=$(verify_workload "$CT_BASE/$1/data" "$PID") || die "$1: the restored workload does not answer"
	[[ $v == OK* ]] || die "$1: the restored workload says: $v"
}

# results: one line per measurement in $out/results: size op method run ms rss criu frozen out
record() {
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$T_MS" "$RSS_MIB" \
		"${CRIU_MS:--}" "${FROZEN_MS:--}" "${OUT_MIB:--}" >>"$out/results"
}

build_image
pm image exists "$IMAGE" && pm rmi -f "$IMAGE" >/dev/null
tar -C "$CT_BASE/image" -c . | pm import -q - "$IMAGE" >/dev/null
: >"$out/results"

echo "bench: sizes ${SIZES}, ${RUNS} run(s) each; methods ${METHODS[*]}" >&2
for size in $SIZES; do
	export CT_WORKLOAD_MIB=${size%c}
	CT_WORKLOAD_ARGS=
	[ "$size" = "${size%c}" ] || CT_WORKLOAD_ARGS=-c
	export CT_WORKLOAD_ARGS
	for run in $(seq 1 "$RUNS"); do
		# odd runs in the order of METHODS, even runs in the reverse order
		order=("${METHODS[@]}")
		if [ $((run % 2)) = 0 ]; then
			order=()
			for ((i = ${#METHODS[@]} - 1; i >= 0; i--)); do order+=("${METHODS[i]}"); done
		fi
		for m in "${order[@]}"; do
			echo "bench: ${size} MiB, run ${run}: ${m}" >&2
			"start_$m"
			settle
			"checkpoint_$m"
			record "$size" checkpoint "$m" "$run"
			wait_gone "$PID" "$START"
			OUT_MIB=
			"restore_$m"
			record "$size" restore "$m" "$run"
			"remove_$m"
		done
	done
done

if [ -n "$TSV" ]; then
	printf 'size\tstep\tmethod\trun\tms\tpeak_rss_mib\tcriu_ms\tfrozen_ms\toutput_mib\n' >"$TSV"
	cat "$out/results" >>"$TSV"
fi

# the table: medians per size, step and method; ratio: median / runc's median
echo
echo "$(nproc) cores, $(awk '/^MemTotal:/ {printf "%d", $2 / 1048576}' /proc/meminfo) GiB, kernel $(uname -r)," \
	"$("$STASIS_CRIU" --version | awk '/^Version/ {print "CRIU " $2}'), $(runc --version | head -n1)," \
	"$(podman --version); ${RUNS} run(s), median"
awk -F '\t' -v methods="${METHODS[*]}" '
function median(list,    a, n, i, j, t) {
	n = split(list, a, " ")
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	if (a[1] == "-") return "-"
	return n % 2 ? a[(n + 1) / 2] : int((a[n / 2] + a[n / 2 + 1]) / 2)
}
{
	k = $1 SUBSEP $2 SUBSEP $3
	if (!(($1 SUBSEP $2) in seen)) { seen[$1 SUBSEP $2] = 1; keys[++nk] = $1 SUBSEP $2 }
	ms[k] = ms[k] " " $5; rss[k] = rss[k] " " $6; criu[k] = criu[k] " " $7
	frz[k] = frz[k] " " $8; outm[k] = outm[k] " " $9
}
END {
	nm = split(methods, m, " ")
	printf "%-6s %-10s %-12s %8s %6s %15s %9s %8s %9s %8s\n", "MiB", "step", "method", "wall ms",
		"/runc", "runs (ms)", "peak RSS", "CRIU ms", "frozen ms", "out MiB"
	for (i = 1; i <= nk; i++) {
		split(keys[i], sk, SUBSEP)
		# every page in after a lazy restore: against the eager restore by runc
		base = median(ms[sk[1] SUBSEP (sk[2] == "all-pages-in" ? "restore" : sk[2]) SUBSEP "runc"])
		for (j = 1; j <= nm; j++) {
			k = keys[i] SUBSEP m[j]
			if (!(k in ms)) continue
			med = median(ms[k])
			r = m[j] == "runc" || base == 0 ? "-" : sprintf("%.2f", med / base)
			runs = substr(ms[k], 2)
			gsub(/ /, ",", runs)
			printf "%-6s %-10s %-12s %8s %6s %15s %9s %8s %9s %8s\n", sk[1], sk[2], m[j], med, r, runs,
				median(rss[k]), median(criu[k]), median(frz[k]), median(outm[k])
		}
	}
}' "$out/results"
