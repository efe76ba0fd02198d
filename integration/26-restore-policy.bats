#!/usr/bin/env bats
# An archive never chooses what the container may do on the host (docs/guarantees.md, section 5):
# new namespaces, never the host's; no more capabilities or devices than container engines grant,
# unless --trust-archive.

load helpers
load containers

# every container and directory these tests make starts with pol-
NAMES="pol-hn pol-hn-r pol-hn-again pol-hn-ns pol-dev pol-dev-r"

setup() {
	require_criu
	command -v runc >/dev/null || skip_or_fail "runc is not installed"
	OUT=$(mktemp -d /tmp/pol-out-XXXXXX)
	STATE=$OUT/state
}

teardown() {
	for n in $NAMES; do
		"$STASIS" delete --force --state-dir "$STATE/$n" "$n" >/dev/null 2>&1 || true
		runc delete -f "$n" >/dev/null 2>&1 || true
		umount "$STATE/$n/rootfs" 2>/dev/null || true
		umount "$STATE/$n/netns" 2>/dev/null || true
	done
	for n in pol-hn pol-dev; do stop_container "$n"; done
	ip netns delete pol-given 2>/dev/null || true
	rm -rf "$OUT"
}

# host network (no network namespace in config.json) and CAP_SYS_ADMIN on top of runc's capabilities
HOST_NET_SYS_ADMIN='del(.linux.namespaces[] | select(.type == "network"))
	| .process.capabilities |= with_entries(if .key == "ambient" then . else .value += ["CAP_SYS_ADMIN"] end)'

ns_of() {
	readlink "/proc/$1/ns/$2"
}

# restored NAME [flags]: restore the pol-hn archive as NAME, showing CRIU's log on failure
restored() {
	local name=$1
	shift
	restore_as "$OUT/hn.tar" "$name" "$CT_BASE/pol-hn/data" "$@"
	[ "$status" -eq 0 ] || show_criu_log "/run/stasis/@logs/$name.restore.log"
	assert_success
}

# nothing of a refused restore is left: no record, state dir, runc container
nothing_left() {
	[ ! -e "/run/stasis/$1" ]
	[ ! -e "$STATE/$1" ]
	run runc state "$1"
	assert_failure
}

@test "a host-network container with CAP_SYS_ADMIN: refused without --trust-archive; with it, new pid and network namespaces" {
	CT_JQ=$HOST_NET_SYS_ADMIN start_container runc pol-hn
	data=$CT_BASE/pol-hn/data
	pid=$(container_pid runc pol-hn)
	assert_equal "$(ns_of "$pid" net)" "$(ns_of self net)"
	run "$STASIS" checkpoint --export "$OUT/hn.tar" pol-hn
	assert_success
	stop_container_keep_data pol-hn

	# refused, naming the capability and the way to allow it; nothing is left behind
	restore_as "$OUT/hn.tar" pol-hn-r "$data"
	assert_failure
	assert_output --partial "CAP_SYS_ADMIN (bounding, effective, permitted, the images' threads)"
	assert_output --partial "allow it with --trust-archive, or give --bundle"
	nothing_left pol-hn-r

	before=$(read_counter "$data")
	restored pol-hn-r --trust-archive
	assert_output --partial "warning: --trust-archive: the container gets what its archive asks: CAP_SYS_ADMIN"
	pid=$(container_pid runc pol-hn-r)
	# a network namespace of its own (stasis made it, loopback up), never the host's; its own pid namespace
	[ "$(ns_of "$pid" net)" != "$(ns_of self net)" ]
	assert_equal "$(ns_of "$pid" net)" "net:[$(stat -L -c %i "$STATE/pol-hn-r/netns")]"
	[ "$(ns_of "$pid" pid)" != "$(ns_of self pid)" ]
	[ "$(ns_of "$pid" ipc)" != "$(ns_of self ipc)" ]
	[ "$(ns_of "$pid" uts)" != "$(ns_of self uts)" ]
	nsenter -t "$pid" -n ip -br link show lo | grep -q UP
	jq -e '.linux.namespaces | map(.type) | sort == ["ipc","mount","network","pid","uts"]' \
		"$STATE/pol-hn-r/bundle/config.json"
	wait_for 50 counter_above "$data" $((before + 3))
	run verify_workload "$data" "$pid"
	assert_output --regexp '^OK [0-9]+$'

	# checkpointed again (its network namespace is now one from outside), restored natively
	run "$STASIS" checkpoint --export "$OUT/hn2.tar" pol-hn-r
	assert_success
	before=$(read_counter "$data")
	restore_as "$OUT/hn2.tar" pol-hn-again "$data" --runtime none --trust-archive
	[ "$status" -eq 0 ] || show_criu_log "/run/stasis/@logs/pol-hn-again.restore.log"
	assert_success
	pid=$(jq -r .pid /run/stasis/pol-hn-again/state.json)
	assert_equal "$(ns_of "$pid" net)" "net:[$(stat -L -c %i "$STATE/pol-hn-again/netns")]"
	[ "$(ns_of "$pid" pid)" != "$(ns_of self pid)" ]
	# restored without runc, it has runc's device rules all the same (not every device)
	run cat /sys/fs/cgroup/devices/stasis/pol-hn-again/devices.list
	assert_line "c 1:3 rwm"
	refute_line "a *:* rwm"
	wait_for 50 counter_above "$data" $((before + 3))
	run verify_workload "$data" "$pid"
	assert_output --regexp '^OK [0-9]+$'
}

@test "a host-network container joins the network namespace --netns names, and no other" {
	CT_JQ='del(.linux.namespaces[] | select(.type == "network"))' start_container runc pol-hn
	run "$STASIS" checkpoint --export "$OUT/hn.tar" pol-hn
	assert_success
	stop_container_keep_data pol-hn
	ip netns add pol-given
	ip -n pol-given link set lo up
	restored pol-hn-ns --netns /run/netns/pol-given
	pid=$(container_pid runc pol-hn-ns)
	assert_equal "$(ns_of "$pid" net)" "net:[$(stat -L -c %i /run/netns/pol-given)]"
	[ ! -e "$STATE/pol-hn-ns/netns" ]
	run verify_workload "$CT_BASE/pol-hn/data" "$pid"
	assert_output --regexp '^OK [0-9]+$'
}

@test "a device beyond runc's defaults, or a writable /proc/sys, is refused, naming it" {
	# /dev/kmsg (c 1:11): runc makes the node and allows it; no read-only paths: /proc/sys writable
	CT_JQ='.linux.devices = [{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 420}]
		| del(.linux.readonlyPaths)' start_container runc pol-dev
	run "$STASIS" checkpoint --export "$OUT/dev.tar" pol-dev
	assert_success
	stop_container_keep_data pol-dev
	restore_as "$OUT/dev.tar" pol-dev-r "$CT_BASE/pol-dev/data"
	assert_failure
	assert_output --partial "device \`/dev/kmsg\` (c 1:11, .linux.devices[0])"
	assert_output --partial "a writable /proc/sys"
	nothing_left pol-dev-r
}
