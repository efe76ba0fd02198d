#!/usr/bin/env bats
# A checkpoint that fails or is killed at any moment leaves the container running or fully in a
# durable, verifying archive; never neither (docs/guarantees.md).

load helpers
load containers

OPS=/run/stasis/@checkpoints

setup() {
	require_containers
}

teardown() {
	for c in cf1 cf2 cf3; do stop_container "$c"; done
	umount "$OUT/small" 2>/dev/null || true
	rm -rf "$OUT"
	rm -f "$OPS"/cf?.record
}

# the container NAME counts on and verifies its memory
assert_alive_and_whole() {
	local dir=$CT_BASE/$1 c
	assert_equal "$(runc state "$1" | jq -r .status)" running
	c=$(read_counter "$dir/data")
	wait_for 100 counter_above "$dir/data" $((c + 2))
	run verify_workload "$dir/data" "$(container_pid runc "$1")"
	assert_output --regexp '^OK '
}

# nothing of a run is left: no temporary images or archives beside the export, no record
assert_no_leftovers() {
	run find "$1" -maxdepth 1 \( -name '.stasis-*' -o -name '.*.stasis-*' \)
	assert_output ""
	run ls "$OPS/$2.record"
	assert_failure
}

# waits until the run has the container frozen and is writing its archive's temporary file
archive_being_written() {
	compgen -G "$1/.*.stasis-*" >/dev/null
}

@test "two checkpoints of one container: the second is refused at once, naming the first; the first's archive restores" {
	CT_WORKLOAD_MIB=192 start_container runc cf1
	"$STASIS" checkpoint --export "$OUT/a.tar" --compress none --leave-running cf1 &
	first=$!
	wait_for 300 test -e "$OPS/cf1.record"
	run "$STASIS" checkpoint --export "$OUT/b.tar" cf1
	assert_failure
	assert_output --partial "a checkpoint of \`cf1\` is already running (stasis pid $first)"
	wait "$first"
	assert_alive_and_whole cf1
	run "$STASIS" verify "$OUT/a.tar"
	assert_success
	[ ! -e "$OUT/b.tar" ]
}

@test "two containers checkpointed to one path: one archive, never overwritten; the other container runs on" {
	CT_WORKLOAD_MIB=96 start_container runc cf1
	CT_WORKLOAD_MIB=96 start_container runc cf2
	"$STASIS" checkpoint --export "$OUT/same.tar" --compress none cf1 2>"$OUT/cf1.err" &
	p1=$!
	"$STASIS" checkpoint --export "$OUT/same.tar" --compress none cf2 2>"$OUT/cf2.err" &
	p2=$!
	s1=0 s2=0
	wait "$p1" || s1=$?
	wait "$p2" || s2=$?
	# exactly one won; the loser was refused and its container runs on, whole
	[ $((s1 == 0)) -ne $((s2 == 0)) ]
	if [ "$s1" -eq 0 ]; then winner=cf1 loser=cf2; else winner=cf2 loser=cf1; fi
	run cat "$OUT/$loser.err"
	assert_output --partial "never overwritten"
	assert_output --partial "runs again"
	assert_alive_and_whole "$loser"
	run runc state "$winner"
	assert_failure
	run "$STASIS" inspect --format json "$OUT/same.tar"
	assert_success
	assert_equal "$(jq -r .id <<<"$output")" "$winner"
	assert_no_leftovers "$OUT" "$winner"
	assert_no_leftovers "$OUT" "$loser"
}

@test "kill -9 of a checkpoint while it writes the archive: the guard thaws the container, nothing is left" {
	CT_WORKLOAD_MIB=256 start_container runc cf1
	"$STASIS" checkpoint --export "$OUT/k.tar" --compress gzip cf1 &
	ck=$!
	wait_for 600 archive_being_written "$OUT"
	kill -9 "$ck"
	wait "$ck" || true
	# the guard undoes the run: thawed, temporaries gone, record gone
	wait_for 100 test ! -e "$OPS/cf1.record"
	assert_alive_and_whole cf1
	assert_no_leftovers "$OUT" cf1
	[ ! -e "$OUT/k.tar" ]
	# and the container checkpoints again
	run "$STASIS" checkpoint --export "$OUT/k2.tar" cf1
	assert_success
	run "$STASIS" verify "$OUT/k2.tar"
	assert_success
}

@test "kill -9 of a checkpoint and of its guard: the next run (or stasis gc) thaws the container and says so" {
	CT_WORKLOAD_MIB=256 start_container runc cf1
	"$STASIS" checkpoint --export "$OUT/g.tar" --compress gzip cf1 &
	ck=$!
	wait_for 600 archive_being_written "$OUT"
	# the guard is the checkpoint's child in its own session
	guard=$(pgrep -P "$ck" -f stasis)
	[ -n "$guard" ]
	kill -9 "$guard" "$ck"
	wait "$ck" || true
	# nobody is left to thaw it
	assert_equal "$(runc state cf1 | jq -r .status)" paused
	[ -e "$OPS/cf1.record" ]
	# gc undoes it and says what it did
	run "$STASIS" gc
	assert_success
	assert_output --partial "a checkpoint of \`cf1\` was killed before it finished"
	assert_output --partial "the container runs again"
	assert_output --partial "removed"
	assert_alive_and_whole cf1
	assert_no_leftovers "$OUT" cf1
	run "$STASIS" gc
	assert_output "nothing left behind"
}

@test "no space for the archive: the error says so, the container runs on, the small disk is empty again" {
	CT_WORKLOAD_MIB=64 start_container runc cf3
	mkdir "$OUT/small"
	mount -t tmpfs -o size=8m tmpfs "$OUT/small"
	run "$STASIS" checkpoint --export "$OUT/small/full.tar" --compress none cf3
	assert_failure
	assert_output --partial "No space left on device"
	# streamed: the pages are what filled the disk, and CRIU's dump stopped there
	assert_output --partial "CRIU's pages into the archive: archive"
	assert_output --partial "write \`checkpoint/pages-65537.img\`"
	assert_output --partial "the container runs again (nothing was lost)"
	assert_alive_and_whole cf3
	run ls -A "$OUT/small"
	assert_output ""
}

@test "a stopped task: doctor names it, checkpoint refuses at once instead of hanging; continued, it checkpoints" {
	CT_WORKLOAD_ARGS=-s start_container runc cf1
	wait_for 100 sh -c "ps -eo stat,comm | grep -q '^T.* stopped$'"
	run "$STASIS" doctor cf1
	assert_output --partial "(stopped): it is stopped"
	start=$(date +%s)
	run "$STASIS" checkpoint --export "$OUT/st.tar" cf1
	assert_failure
	assert_output --partial "is stopped (SIGSTOP or a tracer's stop)"
	[ $(($(date +%s) - start)) -lt 30 ]
	assert_alive_and_whole cf1
	pkill -CONT -x stopped
	wait_for 100 sh -c "! ps -eo stat,comm | grep -q '^T.* stopped$'"
	run "$STASIS" checkpoint --export "$OUT/st.tar" cf1
	assert_success
	run "$STASIS" verify "$OUT/st.tar"
	assert_success
}
