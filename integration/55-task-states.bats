#!/usr/bin/env bats
# Task states on real checkpoints: a process tree with a zombie and a stopped child (the recipe of
# unit/data/task-states, dumped by stasis-proc), and a runc container with a zombie child (stasis
# checkpoint).  stasis inspect must show the zombie without files and the stopped task with its own;
# crit (Debian 12's criu package) must agree on the processes, their files and CRIU's raw states.

load helpers
load containers

setup() {
	require_criu
	command -v crit >/dev/null || skip_or_fail "no crit (Debian's criu package)"
	OUT=$(mktemp -d /tmp/stasis-ts-XXXXXX)
}

teardown() {
	stop_container ts-zombie
	# a dump that did not happen leaves the tree running (make-task-states.sh kills it on its own
	# failures; this is for an interrupted run)
	local pid
	pid=$(cat "$OUT/tree/pid" 2>/dev/null) || pid=
	if [ -n "$pid" ] && [ -e "/proc/$pid" ]; then
		for k in $(cat "/proc/$pid/task/$pid/children" 2>/dev/null); do kill -9 "$k" 2>/dev/null || true; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$OUT"
}

# CRIU's number for a state stasis names: core.img's tc.task_state (TASK_DEAD for a zombie)
criu_state() {
	case $1 in
	alive) echo 1 ;;
	zombie) echo 2 ;;
	stopped) echo 3 ;;
	*) echo "?" ;;
	esac
}

# tc.task_state of core-PID.img as crit decodes it, back to CRIU's number: crit prints 2 as it is
# but names 1 "Alive", 3 "Zombie" and 6 "Stopped" (pycriu's pb2dict table; 3 is TASK_STOPPED)
crit_state() {
	crit show "$1/core-$2.img" |
		jq -r '.entries[0].tc.task_state | if type == "number" then . else {"Alive": 1, "Zombie": 3, "Stopped": 6}[.] end'
}

# stasis inspect and crit on image dir $1: pid, pgid, sid and comm of every task, and the raw state
assert_crit_ps_agrees() {
	local dir=$1 ours theirs pid state
	ours=$("$STASIS" inspect --format json "$dir" | jq -r '.processes[] | "\(.pid) \(.pgid) \(.sid) \(.comm)"')
	theirs=$(crit x "$dir" ps | awk 'NR > 1 { print $1, $2, $3, $4 }')
	[ "$ours" = "$theirs" ] || fail "ps: stasis [$ours] crit [$theirs]"
	while read -r pid state; do
		[ "$(crit_state "$dir" "$pid")" = "$(criu_state "$state")" ] ||
			fail "pid $pid: stasis says $state, core-$pid.img holds $(crit_state "$dir" "$pid")"
	done < <("$STASIS" inspect --format json "$dir" | jq -r '.processes[] | "\(.pid) \(.state)"')
}

@test "task states: a zombie shows without files, a stopped task with its own; crit agrees" {
	run "$TOP/unit/data/make-task-states.sh" "$OUT/tree"
	assert_success
	dir=$OUT/tree/images
	json=$("$STASIS" inspect --ps-tree --files --format json "$dir")
	root=$(jq -r '.processes[0].pid' <<<"$json")
	[ "$(jq -r '.processes | map("\(.comm) \(.state)") | join(", ")' <<<"$json")" = \
		"workload alive, zombie zombie, stopped stopped" ]
	[ "$(jq -r ".processes[1:][] | .ppid == $root" <<<"$json" | sort -u)" = true ]
	# the zombie: CRIU dumped its core image only
	[ "$(jq -r '.processes[] | select(.comm == "zombie") | .files | length' <<<"$json")" = 0 ]
	[ ! -e "$dir/ids-$(jq -r '.processes[] | select(.comm == "zombie") | .pid' <<<"$json").img" ]
	# the stopped task: dumped whole, with the file only it holds
	[ "$(jq -r '.processes[] | select(.comm == "stopped") | .files[] | select(.fd == 5) | .path' <<<"$json")" = \
		"$OUT/tree/stopped" ]
	[ "$(jq -r '.processes[] | select(.comm == "stopped") | .files[] | select(.type == "cwd") | .path' <<<"$json")" = \
		"$OUT/tree" ]
	jq -e '.processes[] | select(.comm == "workload") | .files | map(.path) | index("'"$OUT/tree/keep"'")' <<<"$json"
	# the human form marks both
	run "$STASIS" inspect --ps-tree "$dir"
	assert_success
	assert_output --partial "zombie [zombie]"
	assert_output --partial "stopped [stopped]"
	run "$STASIS" verify "$dir"
	assert_success

	assert_crit_ps_agrees "$dir"
	# crit x fds reads ids-<pid>.img of every task, which a zombie has none of: it is given the
	# same images with the zombie left out of pstree.img
	mkdir "$OUT/crit"
	ln -s "$dir"/*.img "$OUT/crit/"
	rm "$OUT/crit/pstree.img"
	crit decode -i "$dir/pstree.img" | jq '.entries |= map(select(.pid != '"$(jq -r '.processes[] | select(.comm == "zombie") | .pid' <<<"$json")"'))' |
		crit encode -o "$OUT/crit/pstree.img"
	ours=$(jq -r '.processes[] | .pid as $p | .files[] | select(.type == "REG" or .type == "cwd" or .type == "root") |
		"\($p) \(.fd // .type) \(.path)"' <<<"$json" | sort)
	theirs=$(crit x "$OUT/crit" fds | awk '/^[0-9]+$/ { pid = $1; next } { sub(":", "", $1); print pid, $1, $2 }' |
		grep -v -e 'pipe' -e 'socket' | sort)
	[ "$ours" = "$theirs" ] || fail "fds: stasis [$ours] crit [$theirs]"
}

@test "task states: a container's zombie child is checkpointed and shown as a zombie" {
	command -v runc >/dev/null || skip_or_fail "runc is not installed"
	CT_WORKLOAD_MIB=1 CT_WORKLOAD_ARGS="-z" start_container runc ts-zombie
	run "$STASIS" checkpoint --image-path "$OUT/img" ts-zombie
	[ "$status" -eq 0 ] || show_criu_log "$OUT/img/dump.log"
	assert_success
	json=$("$STASIS" inspect --ps-tree --files --format json "$OUT/img")
	[ "$(jq -r '.processes | map("\(.pid) \(.comm) \(.state)") | .[0]' <<<"$json")" = "1 workload alive" ]
	[ "$(jq -r '.processes[] | select(.comm == "zombie") | "\(.ppid) \(.state) \(.files | length)"' <<<"$json")" = \
		"1 zombie 0" ]
	jq -e '.processes[] | select(.pid == 1) | .files | map(.path) | index("/data/counter")' <<<"$json"
	assert_crit_ps_agrees "$OUT/img"
}
