#!/usr/bin/env bats
# stasis as the engines' OCI runtime (stasis-crun, stasis-runc): podman 4.3 checkpoints and
# restores through it, every other command is the delegate's own.

bats_require_minimum_version 1.5.0

load helpers
load containers

setup() {
	require_podman
	# our own image tag: other tests remove theirs
	IMAGE=localhost/stasis-shim:test
	ensure_crun_cgroups
}

teardown() {
	podman ps -a --format '{{.Names}}' | grep '^shim-' | xargs -r podman rm -f >/dev/null 2>&1 || true
	for n in shim-q-crun shim-q-runc; do
		runc delete -f "$n" >/dev/null 2>&1 || true
		crun delete -f "$n" >/dev/null 2>&1 || true
	done
	for n in shim-p-crun shim-p-runc; do
		stop_container "$n"
	done
	rm -rf "$OUT"
}

# runc's log lines carry the time: two runs a second apart differ only there
untimed() {
	sed -E 's/time="[^"]*"//'
}

import_image() {
	build_image
	podman image exists "$IMAGE" && podman rmi -f "$IMAGE" >/dev/null 2>&1
	tar -C "$CT_BASE/image" -c . | podman import - "$IMAGE" >/dev/null
}

# a container that counts in /tmp (its rootfs: the archive carries it) and prints a line every 0.2 s
# (its stdout is conmon's pipe: `podman logs` shows whether a restored container's output arrives)
shim_run() {
	local runtime=$1 name=$2
	shift 2
	podman --runtime "$runtime" run -d --name "$name" "$@" "$IMAGE" \
		sh -c '(while :; do echo tick; sleep 0.2; done) & exec /bin/workload -m 32 -d /tmp' >/dev/null
	wait_for 100 shim_counter_above "$name" 2
}

shim_counter() {
	local v
	v=$(podman exec "$1" cat /tmp/counter 2>/dev/null) || return 1
	echo $((10#$v))
}

shim_counter_above() {
	local c
	c=$(shim_counter "$1") || return 1
	[ "$c" -gt "$2" ]
}

# the workload checks its memory pattern (SIGUSR1) and answers in /tmp/verify
shim_verify() {
	podman exec "$1" rm -f /tmp/verify
	podman kill -s USR1 "$1" >/dev/null
	wait_for 100 sh -c "podman exec $1 cat /tmp/verify 2>/dev/null | grep -q ." || return 1
	# podman exec itself may complain on stderr ("write child: broken pipe"): the answer is stdout
	podman exec "$1" cat /tmp/verify 2>/dev/null
}

# shim_assert_restored NAME COUNTER: it runs again where it stopped (not from 0), its memory is
# intact, its output reaches conmon, conmon is its parent, exec works
shim_assert_restored() {
	local name=$1 before=$2 now pid parent lines
	assert_equal "$(podman inspect -f '{{.State.Status}}' "$name")" running
	now=$(shim_counter "$name")
	[ "$now" -ge "$before" ] || fail "$name counts from $now, it had reached $before"
	wait_for 50 shim_counter_above "$name" $((now + 2))
	run shim_verify "$name"
	assert_output --regexp '^OK'
	pid=$(podman inspect -f '{{.State.Pid}}' "$name")
	parent=$(ps -o comm= -p "$(ps -o ppid= -p "$pid" | tr -d ' ')")
	assert_equal "$parent" conmon
	lines=$(podman logs "$name" 2>/dev/null | wc -l)
	wait_for 50 sh -c "[ \$(podman logs $name 2>/dev/null | wc -l) -gt $((lines + 2)) ]" ||
		fail "$name's output does not reach conmon after the restore"
	run podman exec "$name" cat /etc/hostname
	assert_success
}

# export, rm, import (same name); then exec, stop and rm of the restored container
shim_export_import() {
	local runtime=$1 name=$2
	import_image
	shim_run "$runtime" "$name" --network none
	before=$(shim_counter "$name")
	run podman container checkpoint --export "$OUT/$name.tar.zst" --print-stats "$name"
	assert_success
	# podman's --print-stats reads CRIU's stats-dump from the work path stasis gave CRIU
	echo "$output" | jq -e '.container_statistics[0].criu_statistics.pages_written > 0'
	assert_equal "$(podman inspect -f '{{.State.Status}}' "$name")" exited
	podman rm "$name" >/dev/null
	run podman container restore --import "$OUT/$name.tar.zst" --print-stats
	assert_success
	echo "$output" | jq -e '.container_statistics[0].criu_statistics.pages_restored > 0'
	shim_assert_restored "$name" "$before"
	# stasis keeps nothing of a container the delegate owns
	[ ! -e "/run/stasis/$(podman inspect -f '{{.Id}}' "$name")" ]
	run podman stop -t 1 "$name"
	assert_success
	assert_equal "$(podman inspect -f '{{.State.Status}}' "$name")" exited
	run podman rm "$name"
	assert_success
}

@test "shim: every command but checkpoint and restore is the delegate's own (exit status, output, process)" {
	build_image
	for rt in crun runc; do
		shim=$BUILD/stasis-$rt
		run "$shim" --version
		expected=$("$rt" --version)
		assert_success
		assert_output "$expected"
		run "$shim" state shim-nosuch
		expected_status=$("$rt" state shim-nosuch >/dev/null 2>&1 || echo $?)
		assert_equal "$status" "$expected_status"
		assert_equal "$(echo "$output" | untimed)" "$("$rt" state shim-nosuch 2>&1 | untimed)"
		start_container "$shim" "shim-p-$rt"
		assert_equal "$("$shim" state "shim-p-$rt" | jq -c 'del(.created)')" \
			"$("$rt" state "shim-p-$rt" | jq -c 'del(.created)')"
		run "$shim" exec "shim-p-$rt" cat /etc/base
		assert_success
		assert_output base
		run "$shim" exec "shim-p-$rt" sh -c 'exit 7'
		assert_equal "$status" 7
		run "$shim" pause "shim-p-$rt"
		assert_success
		assert_equal "$("$rt" state "shim-p-$rt" | jq -r .status)" paused
		run "$shim" resume "shim-p-$rt"
		assert_success
		run "$shim" kill "shim-p-$rt" KILL
		assert_success
		wait_for 50 sh -c "$rt state shim-p-$rt | jq -e '.status == \"stopped\"' >/dev/null"
		run "$shim" delete "shim-p-$rt"
		assert_success
		run "$rt" state "shim-p-$rt"
		assert_failure
		# create and start apart, as conmon and containerd's shim run them
		run sh -c 'exec "$0" create --bundle "$1" "$2" </dev/null >/dev/null 2>&1' \
			"$shim" "$CT_BASE/shim-p-$rt/bundle" "shim-q-$rt"
		assert_success
		assert_equal "$("$rt" state "shim-q-$rt" | jq -r .status)" created
		run "$shim" start "shim-q-$rt"
		assert_success
		wait_for 50 sh -c "$rt state shim-q-$rt | jq -e '.status == \"running\"' >/dev/null"
		run "$shim" delete --force "shim-q-$rt"
		assert_success
		# a failing command fails alike: the delegate's exit status and words
		expected=$("$rt" create --bundle /nonexistent "shim-q-$rt" 2>&1 | untimed)
		expected_status=$("$rt" create --bundle /nonexistent "shim-q-$rt" >/dev/null 2>&1 || echo $?)
		run sh -c '"$0" create --bundle /nonexistent "$1" 2>&1' "$shim" "shim-q-$rt"
		assert_equal "$status" "$expected_status"
		assert_equal "$(echo "$output" | untimed)" "$expected"
	done
	# exec, not a child: the delegate runs as the very process the engine started, without
	# stasis' own flags; a delegate that is stasis itself is refused rather than looping
	printf '#!/bin/sh\necho "pid $$ args $*"\n' >"$OUT/fake-runc"
	chmod +x "$OUT/fake-runc"
	run sh -c 'echo "pid $$"; STASIS_DELEGATE=$1 exec "$0" --stasis-criu=/x --root /r --debug list' \
		"$BUILD/stasis-runc" "$OUT/fake-runc"
	assert_success
	shell=$(echo "$output" | head -n1)
	assert_equal "$(echo "$output" | tail -n1)" "$shell args --root /r --debug list"
	run -127 env STASIS_DELEGATE="$BUILD/stasis" "$BUILD/stasis-runc" list
	assert_output --partial "is stasis itself"
	# podman's capability probes
	run "$BUILD/stasis-crun" checkpoint --help
	assert_success
	run "$BUILD/stasis-crun" restore --lsm-mount-context
	assert_failure
	assert_output --partial "flag needs an argument"
	assert_output --partial "requires an argument"
	# runc's migration flags are refused by name, not silently dropped
	run "$BUILD/stasis-runc" checkpoint --page-server 127.0.0.1:1 shim-nosuch
	assert_failure
	assert_output --partial "--page-server is not supported"
}

@test "podman + stasis-crun (crun 1.8.1 has no CRIU): checkpoint --export --print-stats, rm, restore --import; exec, stop, rm" {
	run crun checkpoint --help
	assert_failure
	shim_export_import "$BUILD/stasis-crun" shim-c1
}

@test "podman + stasis-runc: checkpoint --export --print-stats, rm, restore --import; exec, stop, rm" {
	shim_export_import "$BUILD/stasis-runc" shim-r1
}

# checkpoint --leave-running, a clone from its archive next to the original; then checkpoint and
# restore in place with --keep
shim_clone_and_in_place() {
	local runtime=$1 name=$2
	import_image
	shim_run "$runtime" "$name" --network none
	run podman container checkpoint --leave-running --export "$OUT/$name.tar" "$name"
	assert_success
	before=$(shim_counter "$name")
	assert_equal "$(podman inspect -f '{{.State.Status}}' "$name")" running
	run podman container restore --import "$OUT/$name.tar" --name "$name-clone"
	assert_success
	shim_assert_restored "$name-clone" 1
	# the original runs on, untouched
	shim_assert_restored "$name" "$before"

	before=$(shim_counter "$name")
	run podman container checkpoint "$name"
	assert_success
	assert_equal "$(podman inspect -f '{{.State.Status}}' "$name")" exited
	run podman container restore --keep "$name"
	assert_success
	shim_assert_restored "$name" "$before"
	# --keep: the images and CRIU's log stay where podman keeps them
	dir=$(podman inspect -f '{{.StaticDir}}' "$name")
	[ -s "$dir/checkpoint/inventory.img" ]
	[ -s "$dir/restore.log" ]
	grep -q 'Restore finished successfully' "$dir/restore.log"
	shim_assert_restored "$name-clone" 1
}

@test "podman + stasis-crun: --leave-running, a clone with --name while the original runs, checkpoint and restore in place, --keep" {
	shim_clone_and_in_place "$BUILD/stasis-crun" shim-c2
}

@test "podman + stasis-runc: --leave-running, a clone with --name while the original runs, checkpoint and restore in place, --keep" {
	shim_clone_and_in_place "$BUILD/stasis-runc" shim-r2
}

@test "podman + stasis-crun and stasis-runc: an established TCP connection on podman's bridge network survives --tcp-established" {
	import_image
	for rt in crun runc; do
		name=shim-t-$rt
		podman --runtime "$BUILD/stasis-$rt" run -d --name "$name" "$IMAGE" sh -c \
			'(sleep 100000 | nc -l -p 5000 > /tmp/received) & sleep 0.3
			(while true; do echo x; sleep 0.2; done | nc 127.0.0.1 5000) &
			exec /bin/workload -m 32 -d /tmp' >/dev/null
		wait_for 100 sh -c "podman exec $name cat /tmp/received 2>/dev/null | grep -q x"
		podman exec "$name" ip -4 addr show eth0 | grep -q 'inet '
		run podman container checkpoint --tcp-established --export "$OUT/$name.tar" "$name"
		assert_success
		podman rm "$name" >/dev/null
		run podman container restore --tcp-established --import "$OUT/$name.tar"
		assert_success
		got=$(podman exec "$name" sh -c 'wc -c < /tmp/received')
		wait_for 50 sh -c "[ \$(podman exec $name sh -c 'wc -c < /tmp/received') -gt $((got + 4)) ]" ||
			fail "$name: the connection carries nothing after the restore"
		run shim_verify "$name"
		assert_output --regexp '^OK'
	done
}

@test "podman + stasis-crun: a doctor blocker (a flock without --file-locks) stops the checkpoint before anything is frozen; podman shows why" {
	import_image
	podman --runtime "$BUILD/stasis-crun" run -d --name shim-l --network none "$IMAGE" \
		/bin/workload -m 32 -d /tmp -l >/dev/null
	wait_for 100 shim_counter_above shim-l 2
	run podman container checkpoint shim-l
	assert_failure
	assert_output --partial "preflight (nothing was frozen)"
	assert_output --partial "holds a FLOCK lock"
	assert_output --partial "fix: checkpoint and restore with --file-locks"
	# never frozen, never dumped: it runs on, counting, with no images written
	assert_equal "$(podman inspect -f '{{.State.Status}}' shim-l)" running
	freezer=$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$(podman inspect -f '{{.State.Pid}}' shim-l)/cgroup")
	assert_equal "$(cat "/sys/fs/cgroup/freezer$freezer/freezer.state")" THAWED
	[ ! -e "$(podman inspect -f '{{.StaticDir}}' shim-l)/checkpoint/inventory.img" ]
	c=$(shim_counter shim-l)
	wait_for 50 shim_counter_above shim-l $((c + 2))
	run podman container checkpoint --file-locks --export "$OUT/l.tar" shim-l
	assert_success
	podman rm shim-l >/dev/null
	run podman container restore --file-locks --import "$OUT/l.tar"
	assert_success
	run shim_verify shim-l
	assert_output --regexp '^OK'
}

@test "podman: archives cross between plain runc and stasis-runc when both record the runtime name runc" {
	import_image
	# the stasis side: the name runc, the binary stasis-runc
	sed 's|^runtime = "runc"|runtime = "runc"\n[engine.runtimes]\nrunc = ["'"$BUILD"'/stasis-runc"]|' \
		"$CONTAINERS_CONF" >"$OUT/stasis.conf"
	stasis_side() { CONTAINERS_CONF=$OUT/stasis.conf podman --runtime-flag debug "$@"; }
	shim_run runc shim-x --network none
	# checkpointed by stasis (its debug log on podman's stderr says so), restored by plain runc
	run stasis_side container checkpoint --export "$OUT/x1.tar" shim-x
	assert_success
	assert_output --partial "checkpoint \`$(podman inspect -f '{{.Id}}' shim-x)\`: pid"
	podman rm shim-x >/dev/null
	run podman container restore --import "$OUT/x1.tar"
	assert_success
	assert_equal "$(podman inspect -f '{{.OCIRuntime}}' shim-x)" runc
	run shim_verify shim-x
	assert_output --regexp '^OK'
	# checkpointed by plain runc, restored by stasis
	run podman container checkpoint --export "$OUT/x2.tar" shim-x
	assert_success
	refute_output --partial "checkpoint \`"
	podman rm shim-x >/dev/null
	run stasis_side container restore --import "$OUT/x2.tar"
	assert_success
	shim_assert_restored shim-x 1
	# the name runc is in runtime_supports_json: conmon gave the runtime --log, where --debug goes
	id=$(podman inspect -f '{{.Id}}' shim-x)
	grep -q "restore \`$id\`: running as pid" \
		"$(podman info -f '{{.Store.RunRoot}}')/overlay-containers/$id/userdata/oci-log" ||
		fail "the restore was not stasis'"
	# a runtime recorded under another name is refused by podman itself
	run stasis_side container checkpoint --export "$OUT/x3.tar" shim-x
	assert_success
	podman rm shim-x >/dev/null
	run podman container restore --import "$OUT/x3.tar" --runtime "$BUILD/stasis-runc"
	assert_failure
	assert_output --partial "cannot be restored with runtime"
}
