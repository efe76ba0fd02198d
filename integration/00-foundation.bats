#!/usr/bin/env bats
# The foundation: our RPC client drives a real CRIU.

load helpers

setup() {
	WORK=$(mktemp -d /tmp/stasis-it-XXXXXX)
}

teardown() {
	[ -f "$WORK/pid" ] && kill -9 "$(cat "$WORK/pid")" 2>/dev/null
	[ -n "${RESTORED:-}" ] && kill -9 "$RESTORED" 2>/dev/null
	rm -rf "$WORK"
}

@test "stasis check says CRIU 4.x looks good" {
	require_criu
	run "$STASIS" check
	assert_success
	assert_output --regexp "CRIU 4\.[0-9]+\.[0-9]+ .*: looks good"
}

@test "stasis version names stasis, kernel and CRIU features" {
	require_criu
	run "$STASIS" version
	assert_success
	assert_line --regexp '^stasis: +[0-9]'
	assert_line --regexp '^kernel: '
	assert_line --regexp '^criu: +4\.'
	assert_line --regexp '^features: mem_track=(yes|no) lazy_pages=(yes|no) pidfd_store=(yes|no)'
}

@test "a missing CRIU fails with one line saying what to install" {
	STASIS_CRIU=/nonexistent run "$STASIS" check
	assert_failure
	assert_equal "${#lines[@]}" 1
	assert_output --partial "CRIU \`/nonexistent\` (from STASIS_CRIU)"
	assert_output --partial "make deps"
	assert_output --partial "4.2"
}

@test "a CRIU older than 4.2 is refused naming the version needed" {
	[ -x /usr/sbin/criu ] || skip_or_fail "Debian 12's criu package is not installed"
	/usr/sbin/criu --version | grep -q 'Version: 3\.' || skip "system criu is not 3.x"
	STASIS_CRIU=/usr/sbin/criu run "$STASIS" check
	assert_failure
	assert_output --partial "is too old"
	assert_output --partial "stasis needs CRIU >= 4.2"
}

@test "CRIU's version is kept for the boot, keyed by the binary: a cached one is used, a changed binary is asked again" {
	require_criu
	# a copy of this CRIU's launcher: a binary of its own, so that the cache of the real one stays
	criu_dir=$(mktemp -d)
	cp "$STASIS_CRIU" "$criu_dir/criu"
	STASIS_CRIU="$criu_dir/criu" run "$STASIS" check
	assert_success
	key=$(sed -n 1p /run/stasis/@criu/version)
	[[ $key == "criu $criu_dir/criu dev "*" boot $(cat /proc/sys/kernel/random/boot_id)" ]]
	assert_equal "$(sed -n 2p /run/stasis/@criu/version)" "$("$STASIS_CRIU" --version | sed -n 's/^Version: //p')"
	# what the file says is what stasis goes by: a version too old there is refused without asking
	printf '%s\n3.17.0\n' "$key" >/run/stasis/@criu/version
	STASIS_CRIU="$criu_dir/criu" run "$STASIS" check
	assert_failure
	assert_output --partial "is too old"
	# the binary changed (its ctime): CRIU is asked again
	sleep 0.01
	touch "$criu_dir/criu"
	STASIS_CRIU="$criu_dir/criu" run "$STASIS" check
	rm -rf "$criu_dir"
	assert_success
}

@test "dump and restore the workload through our RPC client: counter goes on, memory verifies" {
	require_criu
	start_workload 64
	wait_for 50 counter_above "$WORK" 3

	mkdir "$WORK/images"
	run "$BUILD/integration/stasis-proc" dump "$pid" "$WORK/images"
	[ "$status" -eq 0 ] || show_criu_log "$WORK/images/dump.log"
	assert_success
	wait_for 100 pid_gone "$pid"
	before=$(read_counter "$WORK")
	echo "# counter at checkpoint: $before" >&3
	[ -s "$WORK/images/pages-1.img" ]
	[ -s "$WORK/images/inventory.img" ]

	run "$BUILD/integration/stasis-proc" restore "$WORK/images"
	[ "$status" -eq 0 ] || show_criu_log "$WORK/images/restore.log"
	assert_success
	RESTORED=$output
	assert_equal "$RESTORED" "$pid"

	wait_for 50 counter_above "$WORK" $((before + 5))
	after=$(read_counter "$WORK")
	echo "# counter after restore: $after" >&3
	[ "$after" -gt "$before" ]
	run verify_workload "$WORK" "$RESTORED"
	echo "# workload says: $output" >&3
	assert_output --regexp '^OK [0-9]+$'
}

@test "leave-running dump keeps the workload counting" {
	require_criu
	start_workload 8
	mkdir "$WORK/images"
	run "$BUILD/integration/stasis-proc" dump "$pid" "$WORK/images" leave-running
	assert_success
	c=$(read_counter "$WORK")
	wait_for 50 counter_above "$WORK" $((c + 3))
	run verify_workload "$WORK" "$pid"
	assert_output --regexp '^OK'
}

@test "pre-dump is refused with a clear reason when the kernel has no memory tracking" {
	require_criu
	"$STASIS" version | grep -q 'mem_track=no' || skip "this kernel tracks memory: pre-dump is possible here"
	start_workload 8
	mkdir "$WORK/images"
	run "$BUILD/integration/stasis-proc" pre-dump "$(cat "$WORK/pid")" "$WORK/images"
	assert_failure
	assert_output --partial "memory tracking is off"
	kill -0 "$(cat "$WORK/pid")"
}

@test "a failed dump names the cause and the log, and leaves other processes alone" {
	require_criu
	start_workload 8
	mkdir "$WORK/images"
	run "$BUILD/integration/stasis-proc" dump 999999 "$WORK/images"
	assert_failure
	assert_output --partial "dump pid 999999: CRIU:"
	assert_output --partial "dump.log"
	kill -0 "$pid"
}
