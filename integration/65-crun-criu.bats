#!/usr/bin/env bats
# A second producer and judge: crun with CRIU (Debian unstable's, fetched by scripts/deps.sh into
# .deps/crun, running the CRIU in .deps/criu).  crun's images restore under stasis, stasis' images
# restore under crun, and podman 4.3 running that crun writes archives that stasis restores.

load helpers
# our own containers' base: the other tests' containers and images are not ours to touch
export STASIS_CT_BASE=/tmp/stasis-ct-cc
load containers

NAMES=(cc-base cc-nat cc-rev cc-pm-mnt cc-pm-dir cc-pmr-dir cc-key)

setup() {
	require_criu
	CRUN=$TOP/.deps/crun/bin/crun
	[ -x "$CRUN" ] || skip_or_fail "no crun with CRIU in .deps/crun (run make deps)"
	"$CRUN" --version | grep -q '+CRIU' || skip_or_fail "$CRUN is built without CRIU"
	OUT=$(mktemp -d /tmp/stasis-out-cc-XXXXXX)
	STATE=$OUT/state
	ensure_crun_cgroups
}

teardown() {
	[ -n "${OUT:-}" ] || return 0
	for n in "${NAMES[@]}"; do
		"$STASIS" delete --force --state-dir "$STATE/$n" "$n" >/dev/null 2>&1 || true
		"$CRUN" delete -f "$n" >/dev/null 2>&1 || true
		umount "$STATE/$n/rootfs" 2>/dev/null || true
		stop_container "$n"
		# a failed `crun restore` leaves its cgroups (NAME/.proxy-crun) behind, and the next
		# `crun run` of NAME then fails on devices.deny
		find /sys/fs/cgroup/*/"$n" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
	if [ -n "${IMAGE:-}" ]; then
		podman ps -a --format '{{.Names}}' | grep '^cc-' | xargs -r podman rm -f >/dev/null 2>&1 || true
		podman image unmount "$IMAGE" >/dev/null 2>&1 || true
	fi
	rm -rf "$OUT"
}

# crun_checkpoint NAME: crun's own checkpoint of container NAME into $OUT/NAME.img (its dump.log
# beside the images); the container is gone after it
crun_checkpoint() {
	local name=$1
	run "$CRUN" checkpoint --image-path "$OUT/$name.img" --work-path "$OUT/$name.img" "$name"
	[ "$status" -eq 0 ] || show_criu_log "$OUT/$name.img/dump.log"
	assert_success
	run "$CRUN" state "$name"
	assert_failure
}

# crun_restore NAME: crun's own restore of $OUT/NAME.img into the container's bundle
crun_restore() {
	local name=$1
	mkdir -p "$OUT/$name.work"
	run sh -c 'cd "$1" && exec "$2" restore -d --image-path "$3" --work-path "$4" "$5" </dev/null' \
		sh "$CT_BASE/$name/bundle" "$CRUN" "$OUT/$name.img" "$OUT/$name.work" "$name"
	[ "$status" -eq 0 ] || show_criu_log "$OUT/$name.work/restore.log"
	assert_success
}

# assert_restored NAME DATA BEFORE: crun says NAME runs; its counter goes on from where it was
# (not from 0: a fresh workload truncates it) and its memory verifies
assert_restored() {
	local name=$1 data=$2 before=$3 now pid
	assert_equal "$("$CRUN" state "$name" | jq -r .status)" running
	now=$(read_counter "$data")
	[ "$now" -ge "$before" ] || fail "$name counts from $now, it had reached $before"
	wait_for 50 counter_above "$data" $((now + 3)) || fail "$name's counter stays at $now"
	pid=$("$CRUN" state "$name" | jq -r .pid)
	run verify_workload "$data" "$pid"
	echo "$name: $output"
	assert_output --regexp '^OK [0-9]+$'
	[ "${output#OK }" -ge "$before" ] || fail "$name's memory says ${output#OK }, it had reached $before"
}

@test "crun restores its own checkpoint (the baseline): counter goes on, memory verifies" {
	start_container "$CRUN" cc-base
	crun_checkpoint cc-base
	before=$(read_counter "$CT_BASE/cc-base/data")
	crun_restore cc-base
	assert_restored cc-base "$CT_BASE/cc-base/data" "$before"
}

@test "crun checkpoint images restore under stasis (native, --runtime crun): counter goes on, memory verifies" {
	start_container "$CRUN" cc-nat
	crun_checkpoint cc-nat
	before=$(read_counter "$CT_BASE/cc-nat/data")
	run "$STASIS" restore --image-path "$OUT/cc-nat.img" --bundle "$CT_BASE/cc-nat/bundle" \
		--runtime crun --state-dir "$STATE/cc-nat" cc-nat
	[ "$status" -eq 0 ] || show_criu_log /run/stasis/@logs/cc-nat.restore.log
	assert_success
	assert_restored cc-nat "$CT_BASE/cc-nat/data" "$before"
	# crun keeps the container it did not restore: exec, kill, delete
	run "$CRUN" exec cc-nat cat /etc/base
	assert_success
	assert_output base
	run "$STASIS" delete --force --state-dir "$STATE/cc-nat" cc-nat
	assert_success
	run "$CRUN" state cc-nat
	assert_failure
}

@test "images naming an external mount stasis cannot map are refused before CRIU starts, naming the key" {
	start_container "$CRUN" cc-key
	crun_checkpoint cc-key
	# a bundle without the /data bind the images hold
	mkdir -p "$OUT/nodata"
	jq 'del(.mounts[] | select(.destination == "/data"))' "$CT_BASE/cc-key/bundle/config.json" \
		>"$OUT/nodata/config.json"
	run "$STASIS" restore --image-path "$OUT/cc-key.img" --bundle "$OUT/nodata" --runtime crun \
		--work-path "$OUT/cc-key.work" --state-dir "$STATE/cc-key" cc-key
	assert_failure
	assert_output --partial "the images name the external mount \`/data\` (mounted at \`/data\`), which stasis cannot map"
	# CRIU never ran: no restore.log, no container
	[ ! -e "$OUT/cc-key.work/restore.log" ]
	run "$CRUN" state cc-key
	assert_failure
	# runc maps only runc's keys: crun's own masked-path keys are named before runc runs
	run "$STASIS" restore --image-path "$OUT/cc-key.img" --bundle "$CT_BASE/cc-key/bundle" \
		--runtime runc --work-path "$OUT/cc-key.work" --state-dir "$STATE/cc-key" cc-key
	assert_failure
	assert_output --regexp "external mount \`(/proc/[a-z_]+|/run/crun/.empty-directory)\`.*which runc cannot map"
	[ ! -e "$OUT/cc-key.work/restore.log" ]
	# the right bundle, natively: it restores
	run "$STASIS" restore --image-path "$OUT/cc-key.img" --bundle "$CT_BASE/cc-key/bundle" \
		--runtime crun --state-dir "$STATE/cc-key" cc-key
	assert_success
}

@test "stasis checkpoint images of a crun container restore with crun restore: counter goes on, memory verifies" {
	start_container "$CRUN" cc-rev
	# crun in PATH is Debian's, without C/R: crun's keys are asked for
	run "$STASIS" checkpoint --runtime crun --ext-mount-keys crun --image-path "$OUT/cc-rev.img" cc-rev
	[ "$status" -eq 0 ] || show_criu_log "$OUT/cc-rev.img/dump.log"
	assert_success
	run "$CRUN" state cc-rev
	assert_failure
	before=$(read_counter "$CT_BASE/cc-rev/data")
	crun_restore cc-rev
	assert_restored cc-rev "$CT_BASE/cc-rev/data" "$before"
}

# podman_archive RUNTIME NAME: podman 4.3 runs NAME under RUNTIME (its containers.conf names it)
# with $OUT/NAME.data at /data and a change in its rootfs, and exports a zstd archive to
# $OUT/NAME.tar.zst; the container stops.  IMAGE is also unpacked, as a plain directory, into
# $OUT/plain: its root is 0755 as in the tarball, podman's image mount has a 0555 root
podman_archive() {
	local runtime=$1 name=$2
	command -v podman >/dev/null || skip_or_fail "podman is not installed"
	use_podman "$OUT"
	sed -i "s|^runtime = .*|runtime = \"$runtime\"|" "$OUT/containers.conf"
	# our own tag: other tests remove theirs
	IMAGE=localhost/stasis-cc:test
	build_image
	tar -C "$CT_BASE/image" -c . >"$OUT/image.tar"
	podman image exists "$IMAGE" && podman rmi -f "$IMAGE" >/dev/null 2>&1
	podman import "$OUT/image.tar" "$IMAGE" >/dev/null
	mkdir -p "$OUT/plain" "$OUT/$name.data"
	tar -C "$OUT/plain" -xf "$OUT/image.tar"
	podman --runtime "$runtime" run -d --network none --name "$name" -v "$OUT/$name.data:/data" \
		"$IMAGE" /bin/workload -m 32 -d /data >/dev/null
	wait_for 100 counter_above "$OUT/$name.data" 2
	assert_equal "$(podman inspect -f '{{.OCIRuntime}}' "$name")" "$runtime"
	podman exec "$name" sh -c 'echo podman > /etc/newfile'
	run podman container checkpoint --export "$OUT/$name.tar.zst" --compress zstd "$name"
	[ "$status" -eq 0 ] || show_criu_log "$(podman inspect -f '{{.StaticDir}}' "$name")/dump.log"
	assert_success
	assert_equal "$(podman inspect -f '{{.State.Status}}' "$name")" exited
}

# restore_pm_archive NAME BASE: stasis restores podman's archive of NAME (as NAME) on an overlay on
# BASE; it runs under crun and goes on from where it was
restore_pm_archive() {
	local name=$1 base=$2 before
	before=$(read_counter "$OUT/$name.data")
	podman rm -f "$name" >/dev/null
	run "$STASIS" restore --import "$OUT/$name.tar.zst" --name "$name" --runtime crun \
		--state-dir "$STATE/$name" --rootfs-base "$base" --mount "/data=$OUT/$name.data"
	[ "$status" -eq 0 ] || show_criu_log "/run/stasis/@logs/$name.restore.log"
	assert_success
	assert_output --partial "no stasis.manifest"
	assert_restored "$name" "$OUT/$name.data" "$before"
	run "$CRUN" exec "$name" cat /etc/newfile
	assert_success
	assert_output podman
}

@test "podman + crun with CRIU: its checkpoint --export archive restores under stasis on podman's image mount" {
	podman_archive "$CRUN" cc-pm-mnt
	base=$(podman image mount "$IMAGE")
	restore_pm_archive cc-pm-mnt "$base"
}

@test "podman + crun with CRIU: its checkpoint --export archive restores under stasis on a plain directory image" {
	podman_archive "$CRUN" cc-pm-dir
	restore_pm_archive cc-pm-dir "$OUT/plain"
}

@test "podman + runc: its checkpoint --export archive restores under stasis on a plain directory image (0755 root, the image says 0555)" {
	podman_archive runc cc-pmr-dir
	restore_pm_archive cc-pmr-dir "$OUT/plain"
}
