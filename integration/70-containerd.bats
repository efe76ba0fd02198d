#!/usr/bin/env bats
# containerd 1.6 (Debian 12) with its runc shim (io.containerd.runc.v2) running CTD_RUNTIME as
# the shim's BinaryName: stasis-runc (CTD_RUNTIME=runc runs the same tests with plain runc and
# CRIU 4.2, to tell containerd's flow from stasis').  Every call the shim makes goes through a
# tracer that logs its argv into CTD_DIR/runtime.log.

load helpers
load containers
load containerd

CTD_RUNTIME=${CTD_RUNTIME:-$BUILD/stasis-runc}

setup() {
	require_criu
	command -v containerd >/dev/null && command -v /usr/bin/ctr >/dev/null ||
		skip_or_fail "containerd is not installed (run make deps)"
	command -v runc >/dev/null || skip_or_fail "runc is not installed"
	[ "$CTD_RUNTIME" = runc ] && CTD_RUNTIME=$(command -v runc)
	[ -x "$CTD_RUNTIME" ] || fail "no runtime \`$CTD_RUNTIME\` (make all builds stasis-runc)"
	echo "# runtime: $CTD_RUNTIME" >&3
	start_containerd "$(mktemp -d /tmp/stasis-ctd-XXXXXX)" "$CTD_RUNTIME"
	build_ctd_image
}

teardown() {
	[ -n "${CTD_DIR:-}" ] && [ -f "$CTD_DIR/runtime.log" ] && {
		echo "--- runtime calls"
		grep '^argv:' "$CTD_DIR/runtime.log"
		show_criu_log "$(ctd_bundle)"/*/log.json "$(ctd_bundle)"/*/criu-dump.log
	}
	stop_containerd
}

# called VERB NAME: the runtime was run with VERB for container NAME (a later word of its argv)
called() {
	grep -Eq "^argv: .* $1( .*)? $2( |\$)" "$CTD_DIR/runtime.log"
}

# wait_stopped NAME: containerd reports the task stopped
wait_stopped() {
	wait_for 100 ctd_task_is "$1" STOPPED
}

@test "ctr run, exec, pause, resume, kill, delete go through the configured runtime" {
	data=$CTD_DIR/ctd-life/data
	run ctd_run ctd-life
	assert_success
	wait_for 100 counter_above "$data" 2
	assert_equal "$(ctd_task_status ctd-life)" RUNNING

	run ctr t exec --exec-id probe ctd-life cat /data/counter
	assert_success
	assert_output --regexp '^[0-9]{19}$'

	run ctr t pause ctd-life
	assert_success
	assert_equal "$(ctd_task_status ctd-life)" PAUSED
	run ctr t resume ctd-life
	assert_success
	assert_equal "$(ctd_task_status ctd-life)" RUNNING
	c=$(read_counter "$data")
	wait_for 50 counter_above "$data" $((c + 2))

	# the workload is its pid namespace's init: SIGTERM, unhandled, would not end it
	run ctr t kill -s SIGKILL ctd-life
	assert_success
	wait_stopped ctd-life
	run ctr t delete ctd-life
	assert_success
	run ctr c rm ctd-life
	assert_success
	assert_equal "$(ctr c ls -q | grep -cx ctd-life)" 0

	for verb in create start exec pause resume kill delete; do
		called "$verb" ctd-life || fail "the runtime never ran $verb"
	done
	# the runtime's own state is gone too
	assert_equal "$(runc --root "$CTD_DIR/runc/$CTD_NS" list -q | grep -cx ctd-life)" 0
}

@test "ctr c checkpoint --task and ctr c restore --live: the counter continues and memory verifies" {
	data=$CTD_DIR/ctd-src/data
	run ctd_run ctd-src
	assert_success
	wait_for 100 counter_above "$data" 10
	# tmpfs contents travel in the CRIU images: proof that the restored task is this one
	ctr t exec --exec-id mark ctd-src sh -c 'echo ctd > /dev/shm/marker'
	before=$(read_counter "$data")

	# ctr pauses the running task itself (and refuses a paused one), the runtime checkpoints it
	# frozen and leaves it so, ctr resumes it
	run ctr c checkpoint --task ctd-src localhost/ctd-src:checkpoint
	[ "$status" -eq 0 ] || show_criu_log "$(ctd_bundle ctd-src)/criu-dump.log"
	assert_success
	run grep -E '^argv: .* (pause|checkpoint|resume) .*ctd-src$' "$CTD_DIR/runtime.log"
	assert_line --index 0 --regexp ' pause ctd-src$'
	assert_line --index 1 --regexp ' checkpoint .*--leave-running ctd-src$'
	assert_line --index 2 --regexp ' resume ctd-src$'
	assert_equal "$(ctd_task_status ctd-src)" RUNNING

	ctr t kill -s SIGKILL ctd-src
	wait_stopped ctd-src
	ctr t delete ctd-src
	ctr c rm ctd-src

	# a new container from the checkpoint; its spec binds the same data dir
	run ctr c restore --live ctd-dst localhost/ctd-src:checkpoint
	[ "$status" -eq 0 ] || show_criu_log "$(ctd_bundle ctd-dst)/work/restore.log"
	assert_success
	called restore ctd-dst
	run called create ctd-dst
	assert_failure
	assert_equal "$(ctd_task_status ctd-dst)" RUNNING
	# the shim (a subreaper) is the restored init's parent: it reaps it and reports its exit
	pid=$(ctd_task_pid ctd-dst)
	assert_equal "$(awk '$1 == "PPid:" { print $2 }' "/proc/$pid/status")" "$(ctd_shim_pids ctd-dst)"
	wait_for 100 counter_above "$data" $((before + 3))
	run ctr t exec --exec-id mark ctd-dst cat /dev/shm/marker
	assert_output ctd
	run verify_workload "$data" "$pid"
	echo "ctd-dst: $output"
	assert_output --regexp '^OK [0-9]+$'
	[ "${output#OK }" -gt "$before" ]

	# the restored task is an ordinary one for containerd and the runtime
	run ctr t kill -s SIGKILL ctd-dst
	assert_success
	wait_stopped ctd-dst
	run ctr t delete ctd-dst
	assert_success
	called kill ctd-dst
	called delete ctd-dst
}

@test "ctr t checkpoint: the client pauses, the runtime leaves the task running or, with --exit, ends it" {
	data=$CTD_DIR/ctd-tc/data
	run ctd_run ctd-tc
	assert_success
	wait_for 100 counter_above "$data" 2

	run ctr t checkpoint ctd-tc
	assert_success
	assert_output --regexp '^containerd.io/checkpoint/ctd-tc:'
	assert_equal "$(ctd_task_status ctd-tc)" RUNNING
	c=$(read_counter "$data")
	wait_for 50 counter_above "$data" $((c + 2))

	# images into a directory of ours; without --leave-running the runtime ends the task, the
	# client's resume afterwards fails and is ignored
	run ctr t checkpoint --exit --image-path "$CTD_DIR/images" --work-path "$CTD_DIR/criu-work" ctd-tc
	[ "$status" -eq 0 ] || show_criu_log "$CTD_DIR/criu-work/dump.log"
	assert_success
	test -s "$CTD_DIR/images/inventory.img"
	wait_stopped ctd-tc
	run grep -E '^argv: .* (pause|checkpoint|resume) .*ctd-tc$' "$CTD_DIR/runtime.log"
	assert_equal "${#lines[@]}" 6
	assert_line --index 1 --partial \
		" checkpoint --image-path $CTD_DIR/tmp/ctd-checkpoint"
	assert_line --index 1 --regexp " --work-path $(ctd_bundle ctd-tc)/work/criu-work --leave-running ctd-tc\$"
	assert_line --index 4 --partial \
		" checkpoint --image-path $CTD_DIR/images --work-path $CTD_DIR/criu-work ctd-tc"
	run ctr t delete ctd-tc
	assert_success
}
