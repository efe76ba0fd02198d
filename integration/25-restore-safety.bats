#!/usr/bin/env bats
# Restore and delete never harm what stasis did not make, and a restore that fails, is killed or
# is cancelled leaves nothing that holds a mount or blocks the retry (issue 13, items 1, 3 and 6).
# Every container, directory and name here starts with rs2-.

: "${STASIS_CT_BASE:=/tmp/rs2-ct}"
export STASIS_CT_BASE

load helpers
load containers

# the originals (started by start_container) and the names restores use
ORIGINALS="rs2-own rs2-src rs2-img"
RESTORED="rs2-given rs2-noroot rs2-kill rs2-kill2 rs2-kill3 rs2-term rs2-term2 rs2-log rs2-hook1 rs2-hook2"

setup() {
	require_criu
	command -v runc >/dev/null || skip_or_fail "runc is not installed"
	OUT=$(mktemp -d /tmp/rs2-out-XXXXXX)
	STATE=$OUT/state
}

# mounts_under DIR: the mount points at or below DIR
mounts_under() {
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo
}

# cgroup_empty NAME: no process in the cgroups /stasis/NAME a native restore uses
cgroup_empty() {
	! cat /sys/fs/cgroup/*/stasis/"$1"/cgroup.procs 2>/dev/null | grep -q .
}

teardown() {
	for n in $RESTORED; do
		runc delete -f "$n" >/dev/null 2>&1 || true
		for f in /sys/fs/cgroup/*/stasis/"$n"/cgroup.procs; do
			[ -f "$f" ] && xargs -r kill -9 <"$f" 2>/dev/null
		done
		for m in $(mounts_under "/run/stasis/$n" | sort -r); do umount -l "$m"; done
		rm -rf "/run/stasis/$n" "/run/stasis/@logs/$n.restore.log"
	done
	for m in $(mounts_under "$OUT" | sort -r); do umount -l "$m"; done
	for n in $ORIGINALS; do stop_container "$n"; done
	rm -rf "$OUT"
}

# assert_gone NAME DIR: nothing of the restore of NAME (state dir DIR) is left: no mount, no
# directory, no record, no runtime container, no process in its cgroup
assert_gone() {
	assert_equal "$(mounts_under "$2")" ""
	assert_equal "$(mounts_under "/run/stasis/$1")" ""
	[ ! -e "$2" ] || fail "$2 is still there"
	[ ! -e "/run/stasis/$1" ] || fail "/run/stasis/$1 is still there"
	run runc state "$1"
	assert_failure
	wait_for 50 cgroup_empty "$1" || fail "processes are left in cgroup /stasis/$1"
}

# archive_of NAME: a running runc container NAME checkpointed (and stopped) into $OUT/NAME.tar;
# its data dir stays for the restores
archive_of() {
	start_container runc "$1"
	run "$STASIS" checkpoint --export "$OUT/$1.tar" --compress none "$1"
	assert_success
	stop_container_keep_data "$1"
}

# images_of NAME: a running runc container NAME checkpointed by runc into $OUT/images (its rootfs
# stays mounted and its bundle in $CT_BASE/NAME/bundle, for restores with --bundle)
images_of() {
	start_container runc "$1"
	runc --criu "$STASIS_CRIU" checkpoint --image-path "$OUT/images" --work-path "$OUT/work" "$1"
}

# bundle_with_hook KIND SCRIPT: $OUT/bundle-hook, the bundle of rs2-img with one KIND hook `sh -c SCRIPT`
bundle_with_hook() {
	mkdir -p "$OUT/bundle-hook"
	jq --arg kind "$1" --arg script "$2" '.hooks = {($kind): [{"path": "/bin/sh", "args": ["sh", "-c", $script]}]}' \
		"$CT_BASE/rs2-img/bundle/config.json" >"$OUT/bundle-hook/config.json"
}

@test "restore under a name runc already has is refused; the container keeps running, verifies, and delete --force leaves it too" {
	start_container runc rs2-own
	data=$CT_BASE/rs2-own/data
	run "$STASIS" checkpoint --leave-running --export "$OUT/own.tar" --compress none rs2-own
	assert_success
	pid=$(container_pid runc rs2-own)
	for rt in runc none; do
		restore_as "$OUT/own.tar" rs2-own "$data" --runtime "$rt"
		assert_failure
		assert_output --partial "runc has a container \`rs2-own\`"
		assert_output --partial "that stasis did not make"
		[ ! -e "$STATE/rs2-own" ] && [ ! -e /run/stasis/rs2-own ]
	done
	# the same process, counting on, its memory intact
	assert_equal "$(container_pid runc rs2-own)" "$pid"
	assert_counting rs2-own 3
	run verify_workload "$data" "$pid"
	assert_output --regexp '^OK [0-9]+$'

	# stasis delete --force neither kills nor removes a container stasis did not restore
	run "$STASIS" delete --force rs2-own
	assert_failure
	assert_output --partial "runc has a container \`rs2-own\` that stasis did not restore"
	assert_equal "$(container_pid runc rs2-own)" "$pid"
	assert_counting rs2-own 3
	run verify_workload "$data" "$pid"
	assert_output --regexp '^OK [0-9]+$'
}

@test "delete touches only a state dir stasis marked; a state dir the caller made is emptied, never removed" {
	mkdir -p "$OUT/thesis/archive"
	echo "years of work" >"$OUT/thesis/archive/thesis.txt"
	for force in "" --force; do
		run "$STASIS" delete $force --state-dir "$OUT/thesis" rs2-given
		assert_failure
		assert_output --partial "\`$OUT/thesis\` is not a state directory stasis made for \`rs2-given\`"
	done
	assert_equal "$(cat "$OUT/thesis/archive/thesis.txt")" "years of work"

	# a real restore into a directory the caller made
	archive_of rs2-src
	mkdir "$OUT/given"
	run "$STASIS" restore --import "$OUT/rs2-src.tar" --name rs2-given --state-dir "$OUT/given" \
		--rootfs-base "$CT_BASE/image" --mount "/data=$CT_BASE/rs2-src/data"
	assert_success
	assert_equal "$(head -n1 "$OUT/given/.stasis-state-dir")" rs2-given
	assert_equal "$(mounts_under "$OUT/given")" "$OUT/given/rootfs"
	# the record says which state dir is the container's: another one is refused, and left alone
	run "$STASIS" delete --force --state-dir "$OUT/thesis" rs2-given
	assert_failure
	assert_output --partial "its state directory is \`$OUT/given\`"
	assert_equal "$(runc state rs2-given | jq -r .status)" running
	assert_equal "$(cat "$OUT/thesis/archive/thesis.txt")" "years of work"

	run "$STASIS" delete --force --state-dir "$OUT/given" rs2-given
	assert_success
	[ -d "$OUT/given" ]
	assert_equal "$(ls -A "$OUT/given")" ""
	assert_equal "$(mounts_under "$OUT/given")" ""
	[ ! -e /run/stasis/rs2-given ]
	run runc state rs2-given
	assert_failure
}

@test "an archive whose spec.dump has no .root fails, and leaves no mount and nothing to delete" {
	archive_of rs2-src
	mkdir "$OUT/x"
	tar -xf "$OUT/rs2-src.tar" -C "$OUT/x"
	jq 'del(.root)' "$OUT/x/spec.dump" >"$OUT/spec" && mv "$OUT/spec" "$OUT/x/spec.dump"
	# without stasis.manifest, as podman writes them: the edited member is not a digest mismatch
	rm "$OUT/x/stasis.manifest"
	(cd "$OUT/x" && tar -cf "$OUT/noroot.tar" *)
	restore_as "$OUT/noroot.tar" rs2-noroot "$CT_BASE/rs2-src/data"
	assert_failure
	assert_output --partial ".root.path: missing"
	assert_gone rs2-noroot "$STATE/rs2-noroot"
	run "$STASIS" delete --force rs2-noroot
	assert_failure
	assert_output --partial "no such container restored by stasis"
}

@test "a restore killed with SIGKILL while it reads the archive blocks nothing: the retry cleans up, says so, restores" {
	# a big archive (gzip: slow to unpack), and the restore stopped as soon as its state dir is
	# marked: it is killed while it reads the archive (a fifo would be refused at once)
	CT_WORKLOAD_MIB=256 start_container runc rs2-src
	run "$STASIS" checkpoint --export "$OUT/rs2-big.tar" --compress gzip rs2-src
	assert_success
	stop_container_keep_data rs2-src
	data=$CT_BASE/rs2-src/data
	"$STASIS" restore --import "$OUT/rs2-big.tar" --name rs2-kill --state-dir "$STATE/rs2-kill" \
		--rootfs-base "$CT_BASE/image" --mount "/data=$data" >"$OUT/killed.out" 2>&1 &
	spid=$!
	wait_for 100 test -e "$STATE/rs2-kill/.stasis-state-dir"
	kill -STOP "$spid"
	[ -d "$STATE/rs2-kill/archive" ]
	kill -9 "$spid"
	st=0
	wait "$spid" || st=$?
	assert_equal "$st" 137
	[ -e /run/stasis/rs2-kill/owner.json ]

	restore_as "$OUT/rs2-big.tar" rs2-kill "$data"
	assert_success
	assert_output --partial "a restore of \`rs2-kill\` that was killed (pid $spid) left \`$STATE/rs2-kill\`: unmounted and removed"
	c=$(read_counter "$data")
	wait_for 50 counter_above "$data" $((c + 3))
	run verify_workload "$data" "$(container_pid runc rs2-kill)"
	assert_output --regexp '^OK [0-9]+$'
	run "$STASIS" delete --force --state-dir "$STATE/rs2-kill" rs2-kill
	assert_success
	assert_gone rs2-kill "$STATE/rs2-kill"
}

@test "a restore killed with SIGKILL while CRIU restores (a mount held) blocks nothing: the retry cleans up and restores" {
	images_of rs2-img
	data=$CT_BASE/rs2-img/data
	# the hook's parent is stasis: it dies at CRIU's setup-namespaces, with CRIU's root mounted
	bundle_with_hook prestart 'kill -9 $PPID'
	run "$STASIS" restore --image-path "$OUT/images" --bundle "$OUT/bundle-hook" --runtime none \
		--state-dir "$STATE/rs2-kill2" rs2-kill2
	assert_equal "$status" 137
	# CRIU lost its peer: it undoes its restore (and unmounts its own cgroup yard there)
	wait_for 100 cgroup_empty rs2-kill2
	mounts_under "$STATE/rs2-kill2" | grep -qx "$STATE/rs2-kill2/criu-root"

	run "$STASIS" restore --image-path "$OUT/images" --bundle "$CT_BASE/rs2-img/bundle" --runtime none \
		--state-dir "$STATE/rs2-kill2" --pid-file "$OUT/pid" rs2-kill2
	[ "$status" -eq 0 ] || show_criu_log "/run/stasis/@logs/rs2-kill2.restore.log"
	assert_success
	assert_output --partial "a restore of \`rs2-kill2\` that was killed"
	assert_equal "$(mounts_under "$STATE/rs2-kill2")" ""
	c=$(read_counter "$data")
	wait_for 50 counter_above "$data" $((c + 3))
	run verify_workload "$data" "$(cat "$OUT/pid")"
	assert_output --regexp '^OK [0-9]+$'
	run "$STASIS" delete --force --state-dir "$STATE/rs2-kill2" rs2-kill2
	assert_success
	assert_gone rs2-kill2 "$STATE/rs2-kill2"
}

@test "a restore killed with SIGKILL while runc restores: runc's container is stasis' to delete, then the retry restores" {
	images_of rs2-img
	data=$CT_BASE/rs2-img/data
	# runc runs this hook in the middle of its restore; stasis dies, runc goes on
	bundle_with_hook createRuntime "while [ ! -s $OUT/stasis.pid ]; do sleep 0.1; done; kill -9 \$(cat $OUT/stasis.pid)"
	"$STASIS" restore --image-path "$OUT/images" --bundle "$OUT/bundle-hook" --runtime runc \
		--state-dir "$STATE/rs2-kill3" rs2-kill3 >"$OUT/killed.out" 2>&1 &
	spid=$!
	echo "$spid" >"$OUT/stasis.pid"
	st=0
	wait "$spid" || st=$?
	assert_equal "$st" 137
	wait_for 100 sh -c '[ "$(runc state rs2-kill3 | jq -r .status)" = running ]'

	# the retry neither harms nor takes over that container: it says how to remove it
	run "$STASIS" restore --image-path "$OUT/images" --bundle "$CT_BASE/rs2-img/bundle" --runtime runc \
		--state-dir "$STATE/rs2-kill3" rs2-kill3
	assert_failure
	assert_output --partial "a container \`rs2-kill3\` that stasis restored exists (runc has it"
	assert_equal "$(runc state rs2-kill3 | jq -r .status)" running
	# stasis made it, so stasis deletes it, with everything the killed restore left
	run "$STASIS" delete --force rs2-kill3
	assert_success
	assert_gone rs2-kill3 "$STATE/rs2-kill3"

	run "$STASIS" restore --image-path "$OUT/images" --bundle "$CT_BASE/rs2-img/bundle" --runtime runc \
		--state-dir "$STATE/rs2-kill3" rs2-kill3
	assert_success
	c=$(read_counter "$data")
	wait_for 50 counter_above "$data" $((c + 3))
	run verify_workload "$data" "$(container_pid runc rs2-kill3)"
	assert_output --regexp '^OK [0-9]+$'
	run "$STASIS" delete --force rs2-kill3
	assert_success
	assert_gone rs2-kill3 "$STATE/rs2-kill3"
}

# stop_during_hook NAME RUNTIME KIND SIGNAL STATUS: SIGNAL to a restore of $OUT/images while a KIND
# hook of its bundle runs; asserts that stasis rolled back everything and then ended by the signal
stop_during_hook() {
	bundle_with_hook "$3" "touch $OUT/in-hook; sleep 2"
	"$STASIS" restore --image-path "$OUT/images" --bundle "$OUT/bundle-hook" --runtime "$2" \
		--state-dir "$STATE/$1" "$1" >"$OUT/stop.out" 2>&1 &
	spid=$!
	wait_for 100 test -e "$OUT/in-hook"
	kill -"$4" "$spid"
	st=0
	wait "$spid" || st=$?
	cat "$OUT/stop.out"
	assert_equal "$st" "$5"
	grep -q "restore \`$1\`: .*cancelled" "$OUT/stop.out"
	assert_gone "$1" "$STATE/$1"
	rm -f "$OUT/in-hook"
}

@test "SIGTERM or SIGINT during a restore: stasis rolls back (no mount, no state dir, no process) and ends by the signal" {
	images_of rs2-img
	# natively: the cancel refuses CRIU's next notification, CRIU undoes its restore
	stop_during_hook rs2-term none prestart TERM 143
	# under runc: runc finishes its restore, then stasis deletes what it made
	stop_during_hook rs2-term2 runc createRuntime INT 130
}

@test "a failed restore's log is /run/stasis/@logs/NAME.restore.log: replaced by the next failure, removed by a success" {
	images_of rs2-img
	log=/run/stasis/@logs/rs2-log.restore.log
	bundle_with_hook prestart 'echo first failure >&2; exit 3'
	run "$STASIS" restore --image-path "$OUT/images" --bundle "$OUT/bundle-hook" --runtime none rs2-log
	assert_failure
	assert_output --partial "restore.log kept as \`$log\`"
	assert_output --partial "first failure"
	grep -q "setup-namespaces" "$log"
	[ ! -e /run/stasis/rs2-log ] && [ ! -e /run/stasis/rs2-log.restore.log ]
	echo "the first failure's log" >>"$log"

	bundle_with_hook prestart 'echo second failure >&2; exit 4'
	run "$STASIS" restore --image-path "$OUT/images" --bundle "$OUT/bundle-hook" --runtime none rs2-log
	assert_failure
	assert_output --partial "restore.log kept as \`$log\`"
	run grep -c "the first failure's log" "$log"
	assert_output 0
	assert_equal "$(ls /run/stasis/@logs | grep -c '^rs2-log')" 1

	run "$STASIS" restore --image-path "$OUT/images" --bundle "$CT_BASE/rs2-img/bundle" --runtime none rs2-log
	assert_success
	[ ! -e "$log" ]
	run "$STASIS" delete --force rs2-log
	assert_success
	assert_gone rs2-log /run/stasis/rs2-log
}

@test "clear messages: --import of a directory, an id that reads as a flag, and no warning for stasis' own hook" {
	run "$STASIS" restore --import "$OUT" --name rs2-msg --rootfs-base "$CT_BASE"
	assert_failure
	assert_output --partial "--import \`$OUT\` is a directory"
	refute_output --partial "open"
	[ ! -e /run/stasis/rs2-msg ]

	run "$STASIS" restore --import "$OUT/none.tar" --name --help
	assert_failure
	assert_output --partial "--name \`--help\`: a container id is 1 to 240 letters, digits and \`_+-.\`"
	run "$STASIS" delete -- -rs2-x
	assert_failure
	assert_output --partial "\`-rs2-x\`: a container id is"

	# restored under runc, a container carries stasis' loopback-up hook into its next checkpoint
	archive_of rs2-src
	data=$CT_BASE/rs2-src/data
	restore_as "$OUT/rs2-src.tar" rs2-hook1 "$data" --runtime runc
	assert_success
	jq -e '.hooks.createRuntime[0].args == ["stasis", "hook", "loopback-up"]' "$STATE/rs2-hook1/bundle/config.json"
	run "$STASIS" checkpoint --export "$OUT/again.tar" --compress none rs2-hook1
	assert_success
	restore_as "$OUT/again.tar" rs2-hook2 "$data" --runtime runc
	assert_success
	refute_output --partial "are not run"
	c=$(read_counter "$data")
	wait_for 50 counter_above "$data" $((c + 3))
	run verify_workload "$data" "$(container_pid runc rs2-hook2)"
	assert_output --regexp '^OK [0-9]+$'
	# a hook of anyone else in spec.dump is still refused with its warning
	mkdir "$OUT/y"
	tar -xf "$OUT/again.tar" -C "$OUT/y"
	jq '.hooks.poststop = [{"path": "/bin/true"}]' "$OUT/y/spec.dump" >"$OUT/spec" && mv "$OUT/spec" "$OUT/y/spec.dump"
	rm "$OUT/y/stasis.manifest"
	(cd "$OUT/y" && tar -cf "$OUT/foreign-hook.tar" *)
	run "$STASIS" delete --force --state-dir "$STATE/rs2-hook2" rs2-hook2
	assert_success
	restore_as "$OUT/foreign-hook.tar" rs2-hook2 "$data" --runtime runc
	assert_success
	assert_output --partial "the hooks in spec.dump are not run"
	run "$STASIS" delete --force --state-dir "$STATE/rs2-hook2" rs2-hook2
	assert_success
	assert_gone rs2-hook2 "$STATE/rs2-hook2"
}
