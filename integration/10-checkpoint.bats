#!/usr/bin/env bats
# stasis checkpoint of real runc and crun containers.

bats_require_minimum_version 1.5.0

load helpers
load containers

setup() {
	require_containers
	CHECKPOINTCTL=$TOP/.deps/criu/bin/checkpointctl
}

teardown() {
	"$STASIS" delete --force --state-dir "$OUT/state" ck2-r >/dev/null 2>&1 || true
	"$STASIS" delete --force --state-dir "$OUT/state-s" ck2-s >/dev/null 2>&1 || true
	"$STASIS" delete --force ck1-r >/dev/null 2>&1 || true
	stop_container ck1
	stop_container ck2
	rm -rf "$OUT"
}

# runc restore of the images in $OUT/images, as runc's own C/R would do it
runc_restore_images() {
	(cd "$1" && runc --criu "$STASIS_CRIU" restore --detach --image-path "$OUT/images" \
		--work-path "$OUT/work" "$2" </dev/null >/dev/null 2>"$OUT/restore.err") || {
		cat "$OUT/restore.err"
		show_criu_log "$OUT/work/restore.log"
		return 1
	}
}

# the workload's changes to its rootfs before the checkpoint
change_rootfs() {
	"$1" exec "$2" sh -c 'echo new > /etc/newfile; rm /etc/tobedeleted; ln -s /etc/newfile /etc/link;
		echo secret > /etc/secret; chmod 600 /etc/secret; echo runtime > /etc/hosts'
}

@test "runc container: --export writes podman's layout, the exact rootfs diff and a verifying manifest" {
	start_container runc ck1
	change_rootfs runc ck1
	run "$STASIS" checkpoint --export "$OUT/ck1.tar.zst" ck1
	[ "$status" -eq 0 ] || show_criu_log "$OUT"/.stasis-images-*/dump.log
	assert_success
	# the container is gone, as after `runc checkpoint`
	run runc state ck1
	assert_failure
	[ "$(stat -c %a "$OUT/ck1.tar.zst")" = 600 ]

	mkdir "$OUT/x"
	tar -xf "$OUT/ck1.tar.zst" -C "$OUT/x"
	tar -tf "$OUT/ck1.tar.zst" >"$OUT/members"
	assert_equal "$(head -n1 "$OUT/members")" "checkpoint/"
	run grep -v '^checkpoint/' "$OUT/members"
	assert_output "config.dump
spec.dump
network.status
stats-dump
dump.log
rootfs-diff.tar
deleted.files
bind.mounts
stasis.manifest"
	for img in inventory.img pstree.img pages-1.img mountpoints-13.img descriptors.json; do
		grep -qx "checkpoint/$img" "$OUT/members" || grep -q "checkpoint/${img%%-*}" "$OUT/members"
	done
	# CRIU sends its pages in 1 MiB runs (its pipes cannot grow here); runs that continue each
	# other are one pagemap entry, as crit reads it: a lazy restore's daemon asks an entry at a time
	command -v crit >/dev/null || skip_or_fail "no crit (Debian's criu package)"
	crit show "$OUT/x/checkpoint/pagemap-1.img" >"$OUT/pagemap.json"
	pages=$(jq '[.entries[1:][].nr_pages] | add' "$OUT/pagemap.json")
	entries=$(jq '.entries | length - 1' "$OUT/pagemap.json")
	[ "$pages" -ge $((32 * 256)) ]
	[ "$entries" -lt $((pages / 256 / 4)) ] || fail "$entries pagemap entries for $pages pages"

	assert_equal "$(cat "$OUT/x/deleted.files")" '["/etc/tobedeleted"]'
	run tar -tvf "$OUT/x/rootfs-diff.tar"
	echo "$output"
	run sh -c "tar -tf '$OUT/x/rootfs-diff.tar' | sort"
	assert_output "etc/
etc/link
etc/newfile
etc/secret
tmp/"
	run tar -tvf "$OUT/x/rootfs-diff.tar" etc/secret
	assert_output --regexp '^-rw------- '
	run tar -tvf "$OUT/x/rootfs-diff.tar" etc/link
	assert_output --partial 'etc/link -> /etc/newfile'
	tar -xOf "$OUT/x/rootfs-diff.tar" etc/newfile | grep -qx new

	run jq -r '.[0].destination + " " + .[0].file_type' "$OUT/x/bind.mounts"
	assert_output "/data directory"
	run jq -r '.id + " " + .runtime' "$OUT/x/config.dump"
	assert_output "ck1 runc"
	cmp "$OUT/x/spec.dump" "$CT_BASE/ck1/bundle/config.json"

	# every member's digest matches the manifest; a member longer than 4 MiB (the pages) lists its
	# chunks' too, in order
	n=0
	while read -r name digest; do
		assert_equal "$(member_digest "$OUT/x/$name")" "$digest"
		n=$((n + 1))
	done < <(jq -r '.members | to_entries[] | "\(.key) \(.value)"' "$OUT/x/stasis.manifest")
	[ "$n" -gt 20 ]
	jq -e '.format == 2 and .chunkSize == 4194304 and (.criuVersion | startswith("4."))' "$OUT/x/stasis.manifest"
	assert_equal "$(jq -r '.chunks | keys[]' "$OUT/x/stasis.manifest")" checkpoint/pages-65537.img
	diff <(jq -r '.chunks["checkpoint/pages-65537.img"][]' "$OUT/x/stasis.manifest") \
		<(chunk_digests "$OUT/x/checkpoint/pages-65537.img")

	[ -x "$CHECKPOINTCTL" ] || skip_or_fail "no checkpointctl (make deps)"
	run "$CHECKPOINTCTL" show "$OUT/ck1.tar.zst"
	assert_success
	assert_output --partial "ck1"
	run "$CHECKPOINTCTL" inspect --all "$OUT/ck1.tar.zst"
	assert_success
	assert_output --partial "/data/counter"
}

@test "runc container: --image-path images restore with runc restore; counter goes on, memory verifies" {
	start_container runc ck1
	dir=$CT_BASE/ck1
	run "$STASIS" checkpoint --image-path "$OUT/images" --work-path "$OUT/work" ck1
	[ "$status" -eq 0 ] || show_criu_log "$OUT/work/dump.log"
	assert_success
	before=$(read_counter "$dir/data")
	echo "counter at checkpoint: $before"
	sleep 0.5
	assert_equal "$(read_counter "$dir/data")" "$before"

	runc_restore_images "$dir/bundle" ck1
	wait_for 50 counter_above "$dir/data" $((before + 3))
	echo "counter after runc restore: $(read_counter "$dir/data")"
	run verify_workload "$dir/data" "$(container_pid runc ck1)"
	echo "workload says: $output"
	assert_output --regexp '^OK [0-9]+$'
}

@test "crun container: stasis checkpoints it (crun has no C/R here) with runc's keys, and runc restores the images" {
	command -v crun >/dev/null || skip_or_fail "crun is not installed"
	start_container crun ck2
	dir=$CT_BASE/ck2
	run "$STASIS" checkpoint --runtime crun --ext-mount-keys runc --image-path "$OUT/images" \
		--work-path "$OUT/work" --export "$OUT/ck2.tar" --compress none ck2
	[ "$status" -eq 0 ] || show_criu_log "$OUT/work/dump.log"
	assert_success
	run crun state ck2
	assert_failure
	run jq -r .runtime <(tar -xOf "$OUT/ck2.tar" config.dump)
	assert_output crun
	before=$(read_counter "$dir/data")

	runc_restore_images "$dir/bundle" ck2
	wait_for 50 counter_above "$dir/data" $((before + 3))
	run verify_workload "$dir/data" "$(container_pid runc ck2)"
	assert_output --regexp '^OK [0-9]+$'
}

@test "--leave-running keeps the container running and counting" {
	start_container runc ck1
	dir=$CT_BASE/ck1
	run "$STASIS" checkpoint --leave-running --export "$OUT/ck1.tar" ck1
	assert_success
	[ -s "$OUT/ck1.tar" ]
	assert_counting ck1 3
	run verify_workload "$dir/data" "$(container_pid runc ck1)"
	assert_output --regexp '^OK'
}

# no lock of CRIU's is left in the network namespace of process PID: packets flow there (a lock
# drops every packet without CRIU's mark, on loopback too)
network_unlocked() {
	nsenter -t "$1" -n busybox ping -c 1 -W 2 127.0.0.1 >/dev/null
}

@test "--network-lock: nftables by default where CRIU can, iptables or skip when asked, a wrong name refused first; restored unlocked" {
	start_container runc ck1
	dir=$CT_BASE/ck1
	"$STASIS" checkpoint --leave-running --export "$OUT/nft.tar.zst" ck1
	run "$STASIS" inspect "$OUT/nft.tar.zst"
	assert_output --partial "network lock nftables"
	# the images hold the lock as it was: nftables' table of CRIU's in the network namespace
	tar -xOf "$OUT/nft.tar.zst" --wildcards 'checkpoint/nftables-*.img' | grep -q "^table inet CRIU"
	"$STASIS" checkpoint --leave-running --network-lock skip --export "$OUT/skip.tar.zst" ck1
	run "$STASIS" inspect --format json "$OUT/skip.tar.zst"
	assert_output --partial '"network_lock": "skip"'
	run "$STASIS" checkpoint --network-lock pf --export "$OUT/bad.tar.zst" ck1
	assert_failure
	assert_output --partial "opts.network_lock \`pf\`: expected iptables, nftables, skip or auto"
	[ ! -e "$OUT/bad.tar.zst" ]
	assert_counting ck1 2
	network_unlocked "$(container_pid runc ck1)"
	"$STASIS" checkpoint --network-lock iptables --export "$OUT/ipt.tar.zst" ck1
	run "$STASIS" inspect "$OUT/ipt.tar.zst"
	assert_output --partial "network lock iptables"
	stop_container_keep_data ck1
	before=$(read_counter "$dir/data")
	restore_as "$OUT/ipt.tar.zst" ck1-r "$dir/data" --runtime none
	assert_success
	pid=$(jq -r .pid /run/stasis/ck1-r/state.json)
	wait_for 50 counter_above "$dir/data" $((before + 3))
	run verify_workload "$dir/data" "$pid"
	assert_output --regexp '^OK'
	network_unlocked "$pid"
}

@test "--print-stats: checkpoint and restore print podman's JSON shape with CRIU's figures and stasis' phases and sizes" {
	start_container runc ck2
	data=$CT_BASE/ck2/data
	run --separate-stderr "$STASIS" checkpoint --export "$OUT/ck2.tar.zst" --print-stats ck2
	assert_success
	echo "$output" | jq -e '.container_statistics[0].criu_statistics.pages_written > 8000'
	echo "$output" | jq -e '.container_statistics[0].Id == "ck2"'
	echo "$output" | jq -e --argjson size "$(stat -c %s "$OUT/ck2.tar.zst")" \
		'.container_statistics[0].stasis_statistics.archive_bytes == $size'
	# the images hold the 32 MiB of pages; the hold lasts at least as long as CRIU's dump
	echo "$output" | jq -e '.container_statistics[0].stasis_statistics.images_bytes > 32 * 1048576'
	echo "$output" | jq -e '.container_statistics[0] | .stasis_statistics.frozen_duration >= .runtime_checkpoint_duration'
	echo "$output" | jq -e '.stasis_checkpoint_duration >= .container_statistics[0].runtime_checkpoint_duration'
	stop_container_keep_data ck2
	run --separate-stderr "$STASIS" restore --import "$OUT/ck2.tar.zst" --name ck2-r --state-dir "$OUT/state" \
		--rootfs-base "$CT_BASE/image" --mount "/data=$data" --print-stats
	assert_success
	echo "$output" | jq -e '.container_statistics[0].criu_statistics.pages_restored > 8000'
	echo "$output" | jq -e '.container_statistics[0].stasis_statistics.unpack_duration > 0'
	echo "$output" | jq -e --argjson size "$(stat -c %s "$OUT/ck2.tar.zst")" \
		'.container_statistics[0].stasis_statistics.archive_bytes == $size'
	run verify_workload "$data" "$(container_pid runc ck2-r)"
	assert_output --regexp '^OK'
	run "$STASIS" delete --force --state-dir "$OUT/state" ck2-r
	assert_success
}

@test "on a terminal, checkpoint and restore show one progress line (phase, MiB, rate); piped, none" {
	start_container runc ck2
	data=$CT_BASE/ck2/data
	# script(1) gives stasis a terminal; its output is what the terminal got
	run script -qec "$STASIS checkpoint --leave-running --export $OUT/ck2.tar.zst ck2" /dev/null
	assert_success
	assert_output --partial "stasis: checkpoint: CRIU dumps the container"
	assert_output --regexp "stasis: checkpoint: writing the archive  [0-9]+ / [0-9]+ MiB"
	# the line is erased when the command ends
	[[ "$output" == *$'\r\e[K' ]]
	run "$STASIS" checkpoint --export "$OUT/ck2b.tar.zst" ck2
	assert_success
	refute_output --partial "writing the archive"
	stop_container_keep_data ck2
	run script -qec "$STASIS restore --import $OUT/ck2b.tar.zst --name ck2-r --state-dir $OUT/state --rootfs-base $CT_BASE/image --mount /data=$data" /dev/null
	assert_success
	assert_output --regexp "stasis: restore: reading and verifying the archive  [0-9]+ / [0-9]+ MiB"
	assert_output --partial "stasis: restore: CRIU restores the container"
	run verify_workload "$data" "$(container_pid runc ck2-r)"
	assert_output --regexp '^OK'
	# natively the pages stream from the archive into CRIU: the CRIU phase counts them
	runc delete -f ck2-r
	run script -qec "$STASIS restore --runtime none --import $OUT/ck2b.tar.zst --name ck2-s --state-dir $OUT/state-s --rootfs-base $CT_BASE/image --mount /data=$data" /dev/null
	assert_success
	assert_output --regexp "stasis: restore: CRIU restores the container  [0-9]+ / 3[0-9] MiB"
	run verify_workload "$data" "$(jq -r .pid /run/stasis/ck2-s/state.json)"
	assert_output --regexp '^OK'
}

@test "a mount config.json does not explain is named before CRIU runs; the container keeps counting, no archive" {
	start_container runc ck1
	dir=$CT_BASE/ck1
	mkdir -p "$dir/rootfs/mnt/x"
	pid=$(container_pid runc ck1)
	nsenter -t "$pid" -m /bin/busybox mount --bind /tmp /mnt/x
	run "$STASIS" checkpoint --export "$OUT/ck1.tar" ck1
	assert_failure
	assert_output --partial "mounted in the container but not in config.json: \`/mnt/x\`"
	[ ! -e "$OUT/ck1.tar" ]
	run sh -c "ls -A '$OUT'"
	assert_output ""
	assert_counting ck1 2
}

@test "a killed CRIU leaves the container running and counting, and no archive" {
	start_container runc ck1
	# a CRIU that answers VERSION (all a checkpoint asks first, with the network lock named), then
	# is killed when the dump starts; `criu check` (the kernel probe stasis has CRIU keep, when it
	# is not kept yet) is not counted
	cat >"$OUT/criu-dies" <<SH
#!/bin/sh
[ "\$1" = check ] && exec "$STASIS_CRIU" "\$@"
n=\$(cat "$OUT/calls" 2>/dev/null || echo 0)
echo \$((n + 1)) >"$OUT/calls"
[ "\$n" -ge 1 ] && kill -9 \$\$
exec "$STASIS_CRIU" "\$@"
SH
	chmod +x "$OUT/criu-dies"
	run env STASIS_CRIU="$OUT/criu-dies" "$STASIS" checkpoint --network-lock iptables --export "$OUT/ck1.tar" ck1
	assert_failure
	assert_output --partial "CRIU exited without answering"
	assert_equal "$(cat "$OUT/calls")" 2
	echo "$output"
	[ ! -e "$OUT/ck1.tar" ]
	run sh -c "ls -A '$OUT' | grep -v -e criu-dies -e calls"
	assert_output ""
	assert_counting ck1 2
}

@test "gzip, zstd and none archives hold the same members with the same contents" {
	start_container runc ck1
	for comp in zstd gzip none; do
		run "$STASIS" checkpoint --leave-running --compress "$comp" --export "$OUT/ck1.$comp" ck1
		assert_success
		echo "$output" >"$OUT/says.$comp"
	done
	# zstd and none stream CRIU's pages into the archive; gzip cannot, and says so in one line
	[ ! -s "$OUT/says.zstd" ] && [ ! -s "$OUT/says.none" ]
	assert_equal "$(grep -c "written after the dump" "$OUT/says.gzip")" 1
	grep -q "gzip archive cannot take a member before its size is known" "$OUT/says.gzip"
	file "$OUT/ck1.zstd" | grep -qi zstandard
	file "$OUT/ck1.gzip" | grep -qi gzip
	file "$OUT/ck1.none" | grep -qi tar
	for comp in zstd gzip none; do
		# the pages' image numbers are the page server's when streamed (CRIU's own scheme)
		tar -tf "$OUT/ck1.$comp" | sed 's/pages-[0-9]*\.img/pages-N.img/' | sort >"$OUT/list.$comp"
		mkdir "$OUT/x.$comp"
		tar -xf "$OUT/ck1.$comp" -C "$OUT/x.$comp"
	done
	grep -q "checkpoint/pages-N.img" "$OUT/list.zstd"
	cmp "$OUT/list.zstd" "$OUT/list.gzip"
	cmp "$OUT/list.zstd" "$OUT/list.none"
	# each archive verifies against its own manifest
	for comp in zstd gzip none; do
		while read -r name digest; do
			assert_equal "$(member_digest "$OUT/x.$comp/$name")" "$digest"
		done < <(jq -r '.members | to_entries[] | "\(.key) \(.value)"' "$OUT/x.$comp/stasis.manifest")
	done
}

@test "checkpoint --help exits 0; a missing container is one clear error" {
	run "$STASIS" checkpoint --help
	assert_success
	assert_output --partial "--export"
	run "$STASIS" checkpoint --export "$OUT/x.tar" no-such-container
	assert_failure
	assert_output --partial "no-such-container"
	[ ! -e "$OUT/x.tar" ]
}

@test "plain-directory rootfs: --rootfs-base gives the exact diff; without it a warning says why none" {
	start_container runc ck1 plain
	change_rootfs runc ck1
	run "$STASIS" checkpoint --leave-running --rootfs-base "$CT_BASE/image" --export "$OUT/base.tar" ck1
	assert_success
	mkdir "$OUT/x"
	tar -xf "$OUT/base.tar" -C "$OUT/x"
	assert_equal "$(cat "$OUT/x/deleted.files")" '["/etc/tobedeleted"]'
	run sh -c "tar -tf '$OUT/x/rootfs-diff.tar' | sort"
	assert_output "etc/link
etc/newfile
etc/secret"
	run tar -tvf "$OUT/x/rootfs-diff.tar" etc/secret
	assert_output --regexp '^-rw------- '

	run "$STASIS" checkpoint --leave-running --export "$OUT/nobase.tar" ck1
	assert_success
	assert_output --partial "not an overlay and no --rootfs-base"
	run tar -tf "$OUT/nobase.tar" rootfs-diff.tar
	assert_failure
	assert_counting ck1 2
}

@test "--pre-dump is refused with the reason when the kernel cannot track memory" {
	start_container runc ck1
	run "$STASIS" checkpoint --pre-dump --image-path "$OUT/pre" ck1
	if "$STASIS_CRIU" check --feature mem_dirty_track >/dev/null 2>&1; then
		assert_success
	else
		assert_failure
		assert_output --partial "memory tracking is off"
		assert_counting ck1 2
	fi
}
