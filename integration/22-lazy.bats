#!/usr/bin/env bats
# stasis restore --lazy-pages: the container runs before its memory is back; every page comes in,
# and nothing runs on memory that never came.

load helpers
load containers

setup() {
	require_containers
}

teardown() {
	for n in lz1-r lz2-r lz3-r lz4-r; do
		"$STASIS" delete --force "$n" >/dev/null 2>&1 || true
		rm -rf "/run/stasis/$n"
		umount "$STATE/$n/rootfs" 2>/dev/null || true
	done
	for n in lz1 lz2 lz3 lz4; do stop_container "$n"; done
	rm -rf "$OUT"
}

# lazy_status NAME: the guard's line about the restore of NAME
lazy_status() {
	cat "/run/stasis/$1/lazy-pages"
}

lazy_status_is() {
	lazy_status "$1" | grep -q "^$2"
}

# no process of the lazy restore of NAME is left (guard, watchdog, criu lazy-pages)
lazy_helpers_gone() {
	! pgrep -f "stasis restore .*--name $1 " >/dev/null && ! pgrep -f "criu lazy-pages .*$STATE/$1" >/dev/null
}

@test "a lazy restore runs the container, brings every page in, and its memory verifies" {
	start_container runc lz1
	data=$CT_BASE/lz1/data
	run "$STASIS" checkpoint --export "$OUT/lz1.tar.zst" lz1
	assert_success
	before=$(read_counter "$data")
	stop_container_keep_data lz1

	restore_as "$OUT/lz1.tar.zst" lz1-r "$data" --runtime none --lazy-pages
	assert_success
	# the guard has said how it stands before the restore returned
	run lazy_status lz1-r
	assert_output --regexp '^(fetching: guard [0-9]+, watchdog [0-9]+, criu lazy-pages [0-9]+|complete)$'
	wait_for 100 lazy_status_is lz1-r complete
	wait_for 50 lazy_helpers_gone lz1-r
	wait_for 50 counter_above "$data" $((before + 3))
	run verify_workload "$data" "$(jq -r .pid /run/stasis/lz1-r/state.json)"
	assert_output --regexp '^OK [0-9]+$'
	# the daemon's log shows it copied pages in, all of them
	grep -q "UFFD transferred pages" "$STATE/lz1-r/lazy-pages.log"
	run "$STASIS" delete lz1-r --force
	assert_success
	[ ! -e /run/stasis/lz1-r ]
}

@test "a lazy restore through runc is refused, and nothing is left" {
	start_container runc lz2
	run "$STASIS" checkpoint --export "$OUT/lz2.tar.zst" lz2
	assert_success
	stop_container_keep_data lz2
	restore_as "$OUT/lz2.tar.zst" lz2-r "$CT_BASE/lz2/data" --runtime runc --lazy-pages
	assert_failure
	assert_output --partial "a lazy restore runs CRIU itself: give --runtime none or crun, not runc"
	[ ! -e /run/stasis/lz2-r ]
	! pgrep -f "criu lazy-pages" >/dev/null
}
