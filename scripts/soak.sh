#!/bin/bash
# make soak: SOAK_CYCLES checkpoint/restore cycles of one self-verifying workload, then a count of
# what the cycles left behind.  Each cycle checkpoints the running container into an archive
# (`stasis checkpoint --export`), removes what is left of it (`stasis delete`), restores the archive
# (`stasis restore --import`) under a new name or under the name it had, asks the workload to verify
# itself (SIGUSR1: "OK <count>" or "CORRUPT <what>"; the count goes on, never back) and deletes the
# archive.  Restores rotate through SOAK_RUNTIMES: runc (`runc restore`), none and crun (stasis' own
# CRIU client); names go new for one round through them, then stay the same for the next.
#
# Any failed step, a CORRUPT answer or a counter that goes back stops the soak with the step, the
# cycle and the tail of CRIU's log: exit 1.  At the end, mounts, state dirs, processes, cgroups and
# temp files are counted against what was there before; any leftover is named, exit 1.  Timings are
# printed, never asserted.  Everything the soak makes is named soak-* under SOAK_BASE, and removed
# on the way out, failed or not.
#
#   SOAK_CYCLES=100  SOAK_MIB=64  SOAK_RUNTIMES="runc none crun"  SOAK_BASE=/tmp/soak-ct
#   STASIS_MUST_WORK=1: no root, CRIU or runc is a failure, not a skip
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
STASIS=$BUILD/stasis
WORKLOAD=$BUILD/integration/workload
CYCLES=${SOAK_CYCLES:-100}
MIB=${SOAK_MIB:-64}
# runc, then stasis' own CRIU client (none), then crun when it is here
read -r -a RUNTIMES <<<"${SOAK_RUNTIMES:-runc none$(command -v crun >/dev/null && echo " crun")}"
BASE=${SOAK_BASE:-/tmp/soak-ct}
NAME=soak-ct

say() { echo "soak: $*"; }
cannot_run() {
	if [ -n "${STASIS_MUST_WORK:-}" ]; then
		say "cannot run here: $* (STASIS_MUST_WORK=1)" >&2
		exit 1
	fi
	say "skipped: $*"
	exit 0
}
[[ $CYCLES =~ ^[1-9][0-9]*$ ]] || { say "SOAK_CYCLES must be a positive number, not '$CYCLES'" >&2; exit 2; }
[[ $MIB =~ ^[1-9][0-9]*$ ]] || { say "SOAK_MIB must be a positive number, not '$MIB'" >&2; exit 2; }
[[ $(basename "$BASE") == soak-* ]] || { say "SOAK_BASE must be named soak-*, not '$BASE'" >&2; exit 2; }
[ ${#RUNTIMES[@]} -gt 0 ] || { say "SOAK_RUNTIMES is empty" >&2; exit 2; }
for rt in "${RUNTIMES[@]}"; do
	case $rt in runc | crun | none) ;; *) say "SOAK_RUNTIMES: unknown runtime '$rt' (runc, crun, none)" >&2; exit 2 ;; esac
done
[ "$(id -u)" = 0 ] || cannot_run "containers and CRIU need root"
export STASIS_CRIU=${STASIS_CRIU:-$top/.deps/criu/bin/criu}
[ -x "$STASIS_CRIU" ] || cannot_run "no CRIU at $STASIS_CRIU (run make deps)"
for rt in runc "${RUNTIMES[@]}"; do
	[ "$rt" = none ] || command -v "$rt" >/dev/null || cannot_run "$rt is not installed"
done
[ -x "$STASIS" ] && [ -x "$WORKLOAD" ] || { say "build first: make all" >&2; exit 2; }

# one soak at a time on this base dir
lock=/run/lock/$(basename "$BASE").lock
exec 9>"$lock"
flock -n 9 || { say "another soak holds $lock" >&2; exit 1; }

export STASIS_CT_BASE=$BASE CT_WORKLOAD_MIB=$MIB
source "$top/integration/common.bash"
source "$top/integration/containers.bash"
STATE=$BASE/state
OUT=$BASE/out
DATA=$BASE/$NAME/data
names=("$NAME")
[[ " ${RUNTIMES[*]} " == *" crun "* ]] && ensure_crun_cgroups

ms() { date +%s%N | cut -b1-13; }

# ---- what the soak could leave behind: one line per thing, sorted, so that two snapshots diff ----
ours_re="$BASE(/| |$)|/run/stasis/soak-|/run/runc/soak-|/run/crun/soak-"
list_mounts() {
	# mountpoint, type and source of every mount of ours (overlays, netns bind mounts, ...)
	awk -v re="$ours_re|/soak-" '$0 ~ re { for (i = 7; $i != "-"; i++); print $5, $(i + 1), $(i + 2) }' \
		/proc/self/mountinfo | sort -u
}
list_state() {
	local d
	for d in /run/stasis/soak-* /run/runc/soak-* /run/crun/soak-* "$STATE"/*; do
		[ -e "$d" ] && echo "$d"
	done
	return 0
}
# processes: whose root, cwd or open files are ours, whose cgroup or command line has our names
list_procs() {
	local me=$BASHPID
	{
		find /proc/[0-9]*/root /proc/[0-9]*/cwd /proc/[0-9]*/fd -maxdepth 1 \( -lname "$BASE" -o \
			-lname "$BASE/*" -o -lname '/run/stasis/soak-*' -o -lname '/run/runc/soak-*' -o \
			-lname '/run/crun/soak-*' \) -printf '%p -> %l\n' 2>/dev/null
		grep -HoE ':/(.*/)?soak-[^/]*$' /proc/[0-9]*/cgroup 2>/dev/null | sed -E 's|^(/proc/[0-9]+/)cgroup::|\1 cgroup |'
		grep -lzaE '(^|/)soak-' /proc/[0-9]*/cmdline 2>/dev/null | sed 's/$/ (has soak-)/'
	} | sed -E 's|^/proc/([0-9]+)/|\1 |' | sort -n -s -k1,1 | awk -v main=$$ -v me="$me" '
		$1 != main && $1 != me && !seen[$1]++ { pid = $1; $1 = ""; print pid $0 }' |
		while read -r pid why; do
			[ -e "/proc/$pid" ] && echo "pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)): $why"
		done
	return 0
}
# cgroup v1 (and the unified hierarchy beside): one line per hierarchy
list_cgroups() {
	find /sys/fs/cgroup/ -mindepth 2 -maxdepth 5 -type d -name 'soak-*' 2>/dev/null | sort
}
# the same cgroup in N hierarchies is one cgroup: "PATH (N hierarchies: blkio cpu ...)"
group_cgroups() {
	sed -E 's|^/sys/fs/cgroup/([^/]+)/(.*)$|\2 \1|' | sort |
		awk '$1 != p { if (p != "") print p " (" n " hierarchies: " h ")"; p = $1; n = 0; h = "" }
		{ n++; h = h (h == "" ? "" : " ") $2 } END { if (p != "") print p " (" n " hierarchies: " h ")" }' | sort -V
}
list_temp() {
	local f
	for f in /tmp/.stasis-* "$OUT"/.stasis-* "$OUT"/.*.stasis-* "$OUT"/*.tar.zst "$OUT"/work-*; do
		[ -e "$f" ] && echo "$f"
	done
	return 0
}
kinds=(mounts state procs cgroups temp)
declare -A kind_name=([mounts]=mounts [state]="state dirs" [procs]=processes [cgroups]=cgroups [temp]="temp files")
declare -A kind_one=([mounts]=mount [state]="state dir" [procs]=process [cgroups]=cgroup [temp]="temp file")
# what happened to each container name, cycle by cycle, to tell where a leftover comes from
declare -A history=()
note() { history[$1]+="${history[$1]:+; }$2"; }
snapshot() {
	local dir=$1 k
	mkdir -p "$dir"
	for k in "${kinds[@]}"; do "list_$k" >"$dir/$k"; done
}
# new_lines KIND BEFORE NOW: the lines of NOW that BEFORE has not (processes: by pid)
new_lines() {
	if [ "$1" = procs ]; then
		awk 'NR == FNR { old[$2]; next } !($2 in old)' "$2" "$3"
	else
		comm -13 "$2" "$3"
	fi
}
# leftovers BEFORE_DIR: prints the counts and names every new thing; returns how many
leftovers() {
	local before=$1 now k n total=0 counts=()
	now=$(mktemp -d "$BASE.now-XXXXXX")
	snapshot "$now"
	for k in "${kinds[@]}"; do
		new_lines "$k" "$before/$k" "$now/$k" >"$now/$k.new"
		[ "$k" = cgroups ] && group_cgroups <"$now/$k.new" >"$now/$k.tmp" && mv "$now/$k.tmp" "$now/$k.new"
		n=$(wc -l <"$now/$k.new")
		total=$((total + n))
		counts+=("${kind_name[$k]} $n")
	done
	say "leftovers against before the soak: $(IFS=,; echo "${counts[*]}" | sed 's/,/, /g')"
	for k in "${kinds[@]}"; do
		sed "s|^|soak: leftover ${kind_one[$k]}: |" "$now/$k.new"
	done
	# where each one comes from: the story of the container names they carry
	for n in "${!history[@]}"; do
		grep -qE "(/|^| )$n([/ ]|$)" "$now"/*.new && echo "soak:   $n: ${history[$n]}"
	done | sort -V
	rm -rf "$now"
	return $((total > 0 ? 1 : 0))
}

# new_of KIND: what list_KIND finds now and did not before the soak
new_of() {
	new_lines "$1" <(cat "$BASE.before/$1" 2>/dev/null) <("list_$1")
}

no_new_procs() {
	[ -z "$(new_of procs)" ]
}

# ---- cleanup: everything of ours, whatever state a failure left it in ----
cleaned=0
cleanup() {
	[ $cleaned = 1 ] && return
	cleaned=1
	local n pid mp cg
	for n in "${names[@]}"; do
		runc delete -f "$n" >/dev/null 2>&1
		crun delete -f "$n" >/dev/null 2>&1
		if [ -f "/run/stasis/$n/state.json" ]; then
			pid=$(jq -r .pid "/run/stasis/$n/state.json" 2>/dev/null)
			[[ $pid =~ ^[0-9]+$ ]] && [ -e "/proc/$pid/root" ] &&
				[[ $(readlink "/proc/$pid/root") == "$BASE"/* ]] && kill -9 "$pid" 2>/dev/null
		fi
		[ -d "$STATE/$n" ] && "$STASIS" delete --force --state-dir "$STATE/$n" "$n" >/dev/null 2>&1
		rm -rf "/run/stasis/$n"
	done
	# runtime records of ours under any name
	while read -r n; do
		case $n in
		/run/runc/*) runc delete -f "${n##*/}" >/dev/null 2>&1 ;;
		/run/crun/*) crun delete -f "${n##*/}" >/dev/null 2>&1 ;;
		esac
	done < <(new_of state)
	# processes in a rootfs or a cgroup of ours (a half-done native restore); zombies wait for
	# whoever reaps them, and hold their cgroup until then
	for pid in $(new_of procs | sed -nE "s;^pid ([0-9]+) .*(root -> $BASE/|cgroup .*/soak-).*;\1;p"); do
		kill -9 "$pid" 2>/dev/null
	done
	wait_for 100 no_new_procs
	umount "$BASE/$NAME/rootfs" 2>/dev/null
	# deepest first
	while read -r mp; do umount -l "$mp" 2>/dev/null; done < <(new_of mounts | awk '{ print $1 }' | sort -r)
	while read -r cg; do rmdir "$cg" 2>/dev/null; done < <(new_of cgroups | sort -r)
	rm -rf "$BASE" "$BASE".now-*
}
# the snapshot of before the soak lives beside BASE, not in it, and goes last, with the lock
trap 'say "interrupted in cycle ${i:-0}/$CYCLES"; exit 130' INT TERM
trap 'rc=$?; cleanup; rm -rf "$BASE.before" "$lock"; exit $rc' EXIT

# fail STEP CYCLE WHAT LOG...: the step, the cycle, what went wrong, the tails of the logs; exit 1
fail() {
	local step=$1 cycle=$2 what=$3 f
	shift 3
	say "FAILED at cycle $cycle/$CYCLES, step $step: $what"
	for f in "$@"; do
		[ -s "$f" ] && { echo "--- tail of $f"; tail -n 25 "$f"; }
	done
	cleanup
	# what even the cleanup could not remove
	local out
	out=$(leftovers "$BASE.before") || { say "after the cleanup, still there:"; grep 'leftover ' <<<"$out"; }
	exit 1
}

# restored_pid NAME RUNTIME
restored_pid() {
	case $2 in
	none) jq -r .pid "/run/stasis/$1/state.json" ;;
	*) "$2" state "$1" | jq -r .pid ;;
	esac
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# ---- before ----
rm -rf "$BASE" "$BASE.before"
snapshot "$BASE.before"
mkdir -p "$OUT" "$STATE"
for k in "${kinds[@]}"; do
	n=$(wc -l <"$BASE.before/$k")
	[ "$n" = 0 ] || say "before the soak, already there: ${kind_name[$k]} $n (not counted)"
done

say "$CYCLES cycles of a runc container with a $MIB MiB workload, restores through ${RUNTIMES[*]}, in $BASE"
start_container runc "$NAME" >"$OUT/start.log" 2>&1 || fail start 0 "runc run $NAME" "$OUT/start.log"
cur=$NAME cur_rt=runc
note "$NAME" "started with runc run"
pid=$(runc state "$NAME" | jq -r .pid)
last=0
ckpt_ms=() rest_ms=()

for ((i = 1; i <= CYCLES; i++)); do
	rt=${RUNTIMES[$(((i - 1) % ${#RUNTIMES[@]}))]}
	# a new name for one round through the runtimes, then the same name for the next round
	if (((i - 1) / ${#RUNTIMES[@]} % 2 == 0)); then new=$NAME-$i; else new=$cur; fi
	archive=$OUT/$NAME-$i.tar.zst
	work=$OUT/work-$i
	log=$OUT/cycle-$i
	label="$cur ($cur_rt) -> $new ($rt)"

	# checkpoint: the container is dumped into an archive and is gone
	t0=$(ms)
	"$STASIS" checkpoint --work-path "$work" --export "$archive" "$cur" >"$log.checkpoint" 2>&1 ||
		fail checkpoint "$i" "stasis checkpoint --export of $label failed" "$log.checkpoint" "$work/dump.log"
	ckpt_ms+=($(($(ms) - t0)))
	[ -s "$archive" ] || fail checkpoint "$i" "no archive $archive" "$log.checkpoint"
	wait_for 50 pid_gone "$pid" || fail checkpoint "$i" "$label: workload pid $pid still runs after the checkpoint" "$log.checkpoint"
	before=$(read_counter "$DATA") || fail checkpoint "$i" "no counter in $DATA"
	[ "$before" -ge "$last" ] || fail checkpoint "$i" "$label: counter went back from $last to $before"
	hidden=$(find "$OUT" -maxdepth 1 -name '.*stasis*')
	[ -z "$hidden" ] || fail checkpoint "$i" "$label: left beside the archive: $hidden" "$log.checkpoint"
	note "$cur" "checkpointed in cycle $i"

	# what is left of the checkpointed container goes: its state dir, its overlay
	if [ "$cur" = "$NAME" ] && [ "$i" = 1 ]; then
		stop_container_keep_data "$NAME"
	else
		"$STASIS" delete --state-dir "$STATE/$cur" "$cur" >"$log.delete" 2>&1 ||
			fail delete "$i" "stasis delete $cur after its checkpoint failed" "$log.delete"
	fi
	for what in /run/stasis/$cur "$STATE/$cur" /run/runc/$cur /run/crun/$cur; do
		[ ! -e "$what" ] || fail delete "$i" "$label: $what is still there after the checkpoint and stasis delete"
	done
	# cgroups are counted at the end (a later restore under this name may reuse them); noted here
	cgs=$(find /sys/fs/cgroup/ -mindepth 2 -maxdepth 5 -type d -name "$cur" 2>/dev/null | group_cgroups |
		sed 's/ (\([0-9]*\) hierarchies: .*/ in \1 hierarchies/' | paste -sd, | sed 's/,/, /g')
	note "$cur" "deleted${cgs:+, its cgroup $cgs stays}"

	# restore, under the new or the old name
	[[ " ${names[*]} " == *" $new "* ]] || names+=("$new")
	t0=$(ms)
	"$STASIS" restore --import "$archive" --name "$new" --runtime "$rt" --state-dir "$STATE/$new" \
		--rootfs-base "$BASE/image" --mount "/data=$DATA" >"$log.restore" 2>&1 ||
		fail restore "$i" "stasis restore --import --runtime $rt of $label failed" "$log.restore" \
			"$STATE/$new.restore.log" "$STATE/$new/restore.log"
	rest_ms+=($(($(ms) - t0)))
	cur=$new cur_rt=$rt
	note "$cur" "restored --runtime $rt in cycle $i"
	pid=$(restored_pid "$cur" "$rt" 2>>"$log.restore")
	[[ $pid =~ ^[0-9]+$ ]] && [ -e "/proc/$pid" ] ||
		fail restore "$i" "$label: restored, but no running workload (pid '$pid')" "$log.restore" "$STATE/$cur/restore.log"

	# verify: the counter goes on from where it was, memory, kept fd and counter check out
	now=$(read_counter "$DATA") || fail verify "$i" "$label: no counter in $DATA after the restore"
	[ "$now" -ge "$before" ] || fail verify "$i" "$label: counter went back from $before to $now"
	wait_for 100 counter_above "$DATA" "$before" ||
		fail verify "$i" "$label: counter stays at $before after the restore" "$STATE/$cur/restore.log"
	answer=$(verify_workload "$DATA" "$pid")
	[[ $answer =~ ^OK\ ([0-9]+)$ ]] || fail verify "$i" "$label: the workload says '$answer'" "$STATE/$cur/restore.log"
	count=${BASH_REMATCH[1]}
	[ "$count" -gt "$before" ] || fail verify "$i" "$label: the workload counts $count, it was at $before at the checkpoint"
	last=$count

	rm -rf "$archive" "$work" "$log".*
	[ $((i % 10)) = 0 ] || [ "$i" = "$CYCLES" ] &&
		say "cycle $i/$CYCLES: $label, counter $before -> $count, checkpoint ${ckpt_ms[-1]} ms, restore ${rest_ms[-1]} ms"
done

# the last container goes the way every restored one does; the first one's dirs with it
"$STASIS" delete --force --state-dir "$STATE/$cur" "$cur" >"$OUT/final-delete.log" 2>&1 ||
	fail delete "$CYCLES" "stasis delete --force $cur at the end failed" "$OUT/final-delete.log"
wait_for 50 pid_gone "$pid" || fail delete "$CYCLES" "workload pid $pid still runs after stasis delete --force"
note "$cur" "deleted with --force at the end"
stop_container "$NAME"
rm -f "$OUT"/*.log

ck=$(printf '%s\n' "${ckpt_ms[@]}" | median)
rs=$(printf '%s\n' "${rest_ms[@]}" | median)
# what is left in BASE now is the image and empty dirs: anything else of ours is a leftover
if out=$(leftovers "$BASE.before"); then
	echo "$out"
	say "$CYCLES cycles, all verified, checkpoint median $ck ms, restore median $rs ms, leftovers: none"
	exit 0
fi
echo "$out"
say "$CYCLES cycles, all verified, checkpoint median $ck ms, restore median $rs ms, leftovers: $(grep -c 'leftover ' <<<"$out")"
exit 1
