#!/usr/bin/env bats
# stasis inspect and verify on real checkpoints: a stasis archive, runc's image directory, podman 4.3
# archives (zstd, gzip, none) and a CRI-O-layout archive, each read by stasis and compared value for
# value with checkpointctl (Debian's, from make deps) and crit (Debian 12's criu package).

load helpers
load containers

CHECKPOINTCTL=$TOP/.deps/criu/bin/checkpointctl
MARKER=STASIS-WORKLOAD-MARKER-7f3a9c

# One container for the tests that need no podman: a workload (pid 1) with children, a sleep and a
# listening nc, plus a shell that starts a second nc once /data/spawn exists; it is checkpointed
# into a stasis archive and a runc image directory, and its rootfs gets a new file and loses one
# first.  (`runc exec -d` would not do for a new process: it is not under the container's init.)
setup_file() {
	[ "$(id -u)" = 0 ] && [ -x "${STASIS_CRIU:-}" ] || return 0
	export FX=$(mktemp -d /tmp/stasis-fx-XXXXXX)
	CT_PRELUDE="sleep 100000 | nc -l -p 8080 &
(while [ ! -e /data/spawn ]; do sleep 1; done; sleep 100000 | nc -l -p 9090) &" start_container runc in1
	runc exec in1 sh -c 'echo inspected > /etc/newfile; rm /etc/tobedeleted'
	"$STASIS" checkpoint --leave-running --export "$FX/in1.tar.zst" in1 >/dev/null
	PATH=$(dirname "$STASIS_CRIU"):$PATH runc checkpoint --leave-running --image-path "$FX/runc-dir" in1
	# the second checkpoint of --diff: one more process and one more file
	runc exec in1 sh -c 'echo later > /etc/later; touch /data/spawn'
	sleep 3
	"$STASIS" checkpoint --export "$FX/in1-later.tar.zst" in1 >/dev/null
	stop_container in1
}

teardown_file() {
	[ -n "${FX:-}" ] && rm -rf "$FX"
	stop_container in1
}

setup() {
	require_containers
	[ -x "$CHECKPOINTCTL" ] || skip_or_fail "no checkpointctl (run make deps)"
	command -v crit >/dev/null || skip_or_fail "no crit (Debian's criu package)"
	[ -s "$FX/in1.tar.zst" ] || fail "setup_file made no fixtures"
}

teardown() {
	podman rm -f pm-in >/dev/null 2>&1 || true
	rm -rf "$OUT"
}

# The same facts from both tools, one line each, sorted: processes, regular files, sockets, mounts.
ours() {
	"$STASIS" inspect --all --format json "$1" | jq -r '
		(.processes[] | "ps \(.pid) \(.comm)"),
		(.processes[] | .pid as $p | .files[] | select(.type == "REG") | "fd \($p) \(.fd) \(.path)"),
		(.processes[] | .pid as $p | .files[] | select(.type == "cwd" or .type == "root") | "\(.type) \($p) \(.path)"),
		(.processes[] | .pid as $p | .sockets[] | "sk \($p) \(.protocol | ascii_upcase) \(.state) \(.src_port)"),
		(.statistics | "stats \(.freezing_time) \(.frozen_time) \(.memdump_time) \(.memwrite_time) \(.pages_scanned) \(.pages_written)"),
		(.checkpoint_size | "size \(.total_size) \(.memory_pages_size) \(.root_fs_diff_size)"),
		"id \(.id) \(.runtime)"' | sort
}

theirs() {
	"$CHECKPOINTCTL" inspect --all --format json "$1" | jq -r '.[0] |
		(.process_tree | .. | objects | select(has("command")) | "ps \(.pid) \(.command)"),
		(.file_descriptors[] | .pid as $p | .open_files[] | select(.type == "REG") | "fd \($p) \(.fd | split(" ")[1]) \(.path)"),
		(.file_descriptors[] | .pid as $p | .open_files[] | select(.type == "") | "\(.fd) \($p) \(.path)"),
		((.sockets // [])[] | .pid as $p | .open_sockets[] | "sk \($p) \(.protocol) \(.data.state) \(.data.src_port)"),
		(.statistics | "stats \(.freezing_time) \(.frozen_time) \(.memdump_time) \(.memwrite_time) \(.pages_scanned) \(.pages_written)"),
		(.checkpoint_size | "size \(.total_size) \(.memory_pages_size) \(.root_fs_diff_size)"),
		"id \(.id) \(.runtime)"' | sort
}

# every mount checkpointctl lists (from spec.dump) is one of ours; bind mounts with the same source
assert_mounts_agree() {
	local o t
	o=$("$STASIS" inspect --mounts --format json "$1" | jq -r '.mounts[] | "\(.destination) \(.type) \(.source)"')
	t=$("$CHECKPOINTCTL" inspect --mounts --format json "$1" | jq -r '.[0].mounts[] | "\(.destination) \(.type) \(.source)"')
	while read -r dest type src; do
		echo "$o" | grep -q "^$dest " || fail "checkpointctl's mount $dest is missing from stasis inspect"
		if [ "$type" = bind ]; then
			echo "$o" | grep -qx "$dest bind $src" || fail "bind mount $dest: stasis says $(echo "$o" | grep "^$dest ")"
		fi
	done <<<"$t"
}

assert_agree() {
	diff <(ours "$1") <(theirs "$1") || fail "stasis inspect and checkpointctl disagree on $1"
	assert_mounts_agree "$1"
}

# crit x DIR ps and fds against stasis inspect of the same images: pid, pgid, sid, comm; REG, cwd and
# root paths by fd.  An archive is unpacked for crit, stasis reads it as it is.
assert_crit_agrees() {
	local input=$1 dir=$1 ours_ps crit_ps ours_fds crit_fds
	if [ -f "$input" ]; then
		dir=$(mktemp -d "$OUT/crit-XXXXXX")
		tar -C "$dir" -xf "$input"
		dir=$dir/checkpoint
	fi
	ours_ps=$("$STASIS" inspect --format json "$input" | jq -r '.processes[] | "\(.pid) \(.pgid) \(.sid) \(.comm)"')
	crit_ps=$(crit x "$dir" ps | awk 'NR > 1 { print $1, $2, $3, $4 }')
	[ "$ours_ps" = "$crit_ps" ] || fail "ps: stasis [$ours_ps] crit [$crit_ps]"
	ours_fds=$("$STASIS" inspect --files --format json "$input" |
		jq -r '.processes[] | .pid as $p | .files[] | select(.type == "REG" or .type == "cwd" or .type == "root") |
			"\($p) \(.fd // .type) \(.path)"' | sort)
	crit_fds=$(crit x "$dir" fds | awk '/^[0-9]+$/ { pid = $1; next } { sub(":", "", $1); print pid, $1, $2 }' |
		grep -v -e 'pipe' -e 'socket' -e 'INETSK' | sort)
	[ "$ours_fds" = "$crit_fds" ] || fail "fds differ on $input: stasis [$ours_fds] crit [$crit_fds]"
}

@test "inspect: a stasis archive agrees with checkpointctl; argv, env and the rootfs diff read right" {
	assert_agree "$FX/in1.tar.zst"
	assert_crit_agrees "$FX/in1.tar.zst"
	json=$("$STASIS" inspect --all --format json "$FX/in1.tar.zst")
	[ "$(jq -r .format <<<"$json")" = stasis ]
	[ "$(jq -r .manifest <<<"$json")" = true ]
	# argv and the environment from the pages (checkpointctl 1.4 reads CRIU 4.2's pagemaps as empty)
	[ "$(jq -r '.processes[] | select(.pid == 1) | .cmdline | join(" ")' <<<"$json")" = "/bin/workload -m 32 -d /data" ]
	[ "$(jq -r '.processes[] | select(.comm == "nc") | .cmdline | join(" ")' <<<"$json")" = "nc -l -p 8080" ]
	jq -e '.processes[0].env | index("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")' <<<"$json"
	jq -e '.rootfs_diff.changed | index("/etc/newfile")' <<<"$json"
	[ "$(jq -r '.rootfs_diff.deleted | join(",")' <<<"$json")" = /etc/tobedeleted ]
	[ "$(jq -r '.mounts[] | select(.destination == "/data") | .source' <<<"$json")" = "$CT_BASE/in1/data" ]
	# the human form names the same things
	run "$STASIS" inspect --ps-tree --cmdline "$FX/in1.tar.zst"
	assert_success
	assert_output --partial "cmdline: /bin/workload -m 32 -d /data"
	assert_output --partial "engine stasis"
}

@test "inspect: runc's image directory agrees with crit x ps and fds; --memory finds the marker" {
	dir=$FX/runc-dir
	assert_crit_agrees "$dir"
	[ "$("$STASIS" inspect --format json "$dir" | jq -r .format)" = criu-dir ]

	run "$STASIS" inspect --memory --pid 1 --search "$MARKER" "$dir"
	assert_success
	assert_output --partial "$MARKER"
	assert_output --partial "1 match"
	run "$STASIS" inspect --memory --pid 1 --search-regex 'WORKLOAD-MARKER-[0-9a-f]{6}' --format json "$dir"
	assert_success
	[ "$(jq -r '.matches | length' <<<"$output")" = 1 ]
	# --dump-memory writes the pages in address order: the regions say where each one landed
	run "$STASIS" inspect --memory --pid 1 --dump-memory "$OUT/mem" --format json "$dir"
	assert_success
	[ "$(stat -c %s "$OUT/mem")" = "$(jq -r .dumped_bytes <<<"$output")" ]
	grep -c "$MARKER" "$OUT/mem"
	# a file that is there is never overwritten
	cp "$OUT/mem" "$OUT/mem.before"
	run "$STASIS" inspect --memory --pid 1 --dump-memory "$OUT/mem" "$dir"
	assert_failure
	assert_output --partial "--dump-memory \`$OUT/mem\` exists: not overwritten"
	cmp "$OUT/mem" "$OUT/mem.before"
	run "$STASIS" inspect --memory --pid 1 --search "not-in-memory-$RANDOM$RANDOM" "$dir"
	assert_failure 1
	run "$STASIS" inspect --memory --pid 4242 --search x "$dir"
	assert_failure
	assert_output --partial "no pid 4242"
}

@test "inspect: podman 4.3 archives (zstd, gzip, none) agree with checkpointctl; the marker is in memory" {
	command -v podman >/dev/null || skip_or_fail "podman is not installed"
	use_podman "$OUT"
	build_image
	podman image exists "$IMAGE" || tar -C "$CT_BASE/image" -c . | podman import - "$IMAGE" >/dev/null
	mkdir -p "$OUT/data"
	podman run -d --network none --name pm-in -v "$OUT/data:/data" "$IMAGE" /bin/workload -m 8 -d /data
	wait_for 100 counter_above "$OUT/data" 2
	podman exec pm-in sh -c 'echo podman > /etc/pm-file'
	for comp in zstd gzip none; do
		podman container checkpoint --leave-running --export "$OUT/pm.$comp" --compress "$comp" pm-in
		assert_agree "$OUT/pm.$comp"
		assert_crit_agrees "$OUT/pm.$comp"
		json=$("$STASIS" inspect --all --format json "$OUT/pm.$comp")
		[ "$(jq -r .engine <<<"$json")" = podman ]
		[ "$(jq -r .name <<<"$json")" = pm-in ]
		jq -e '.rootfs_diff.changed | index("/etc/pm-file")' <<<"$json"
		[ "$(jq -r '.processes[0].cmdline | join(" ")' <<<"$json")" = "/bin/workload -m 8 -d /data" ]
		run "$STASIS" inspect --memory --pid 1 --search "$MARKER" "$OUT/pm.$comp"
		assert_success
		run "$STASIS" verify "$OUT/pm.$comp"
		assert_success
		assert_output --partial "no stasis.manifest"
	done
}

@test "inspect: a CRI-O-layout archive (uncompressed, bind.mounts, log member, cri-o annotations)" {
	mkdir "$OUT/crio"
	tar -C "$OUT/crio" -xf "$FX/in1.tar.zst"
	rm "$OUT/crio/stasis.manifest"
	jq '.annotations += {"io.container.manager": "cri-o", "io.kubernetes.cri-o.Metadata": "{\"name\":\"counter\"}",
		"io.kubernetes.cri-o.Created": "2026-01-02T03:04:05Z", "io.kubernetes.pod.name": "pod-a"}' \
		"$OUT/crio/spec.dump" >"$OUT/spec" && mv "$OUT/spec" "$OUT/crio/spec.dump"
	echo "2026-01-02T03:04:06Z stdout F counting" >"$OUT/crio/io.kubernetes.cri-o.LogPath"
	tar -C "$OUT/crio" -cf "$OUT/crio.tar" .
	file "$OUT/crio.tar" | grep -q "tar archive"
	assert_agree "$OUT/crio.tar"
	assert_crit_agrees "$OUT/crio.tar"
	json=$("$STASIS" inspect --all --format json "$OUT/crio.tar")
	[ "$(jq -r .engine <<<"$json")" = cri-o ]
	[ "$(jq -r .format <<<"$json")" = cri-o ]
	[ "$(jq -r .manifest <<<"$json")" = false ]
	[ "$("$CHECKPOINTCTL" inspect --format json "$OUT/crio.tar" | jq -r '.[0].engine')" = CRI-O ]
	run "$STASIS" inspect --memory --pid 1 --search "$MARKER" "$OUT/crio.tar"
	assert_success
	run "$STASIS" verify "$OUT/crio.tar"
	assert_success
}

@test "verify: a good archive passes; an altered, an added or a missing member and a truncated archive fail naming it" {
	run "$STASIS" verify "$FX/in1.tar.zst"
	assert_success
	assert_output --partial "match stasis.manifest"
	mkdir "$OUT/x"
	tar -C "$OUT/x" -xf "$FX/in1.tar.zst"
	# one byte of the biggest page image changed, the manifest left as it was (streamed: numbered
	# as CRIU's page server numbers them)
	pages=$(cd "$OUT/x" && ls -S checkpoint/pages-*.img | head -n1)
	[[ $pages =~ ^checkpoint/pages-655[0-9][0-9]\.img$ ]]
	printf 'X' | dd of="$OUT/x/$pages" bs=1 seek=4096 conv=notrunc 2>/dev/null
	tar -C "$OUT/x" -cf "$OUT/altered.tar" checkpoint config.dump spec.dump stats-dump stasis.manifest \
		network.status dump.log rootfs-diff.tar deleted.files bind.mounts
	run "$STASIS" verify "$OUT/altered.tar"
	assert_failure
	assert_output --partial "member \`$pages\` does not match its sha256"
	tar -C "$OUT/x" -xf "$FX/in1.tar.zst" "$pages"
	echo extra >"$OUT/x/extra"
	tar -C "$OUT/x" -cf "$OUT/added.tar" checkpoint config.dump spec.dump stats-dump stasis.manifest \
		network.status dump.log rootfs-diff.tar deleted.files bind.mounts extra
	run "$STASIS" verify "$OUT/added.tar"
	assert_failure
	assert_output --partial "member \`extra\` is not in the manifest"
	tar -C "$OUT/x" -cf "$OUT/missing.tar" checkpoint config.dump spec.dump stats-dump stasis.manifest \
		network.status dump.log rootfs-diff.tar bind.mounts
	run "$STASIS" verify "$OUT/missing.tar"
	assert_failure
	assert_output --partial "member \`deleted.files\` of the manifest is missing"
	head -c 3000000 "$FX/in1.tar.zst" >"$OUT/truncated.tar.zst"
	run "$STASIS" verify "$OUT/truncated.tar.zst"
	assert_failure
	assert_output --partial "truncated.tar.zst"
}

@test "inspect: a damaged image is an error naming the file and the offset, never a crash" {
	cp -a "$FX/runc-dir" "$OUT/bad"
	truncate -s 100 "$OUT/bad/core-1.img"
	run "$STASIS" inspect "$OUT/bad"
	assert_failure
	assert_output --partial "core-1.img"
	assert_output --partial "offset"
	cp "$FX/runc-dir/core-1.img" "$OUT/bad/"
	printf '\xff\xff\xff\x7f' | dd of="$OUT/bad/pstree.img" bs=1 seek=8 conv=notrunc 2>/dev/null
	run "$STASIS" verify "$OUT/bad"
	assert_failure
	assert_output --partial "pstree.img\`: offset 8: entry of 2147483647 bytes is over the"
}

@test "inspect --diff: the second checkpoint of a container shows its new process and files" {
	run "$STASIS" inspect --diff "$FX/in1.tar.zst" "$FX/in1-later.tar.zst"
	assert_failure 1
	assert_output --regexp '\+ process +pid [0-9]+ \(nc\)'
	assert_output --regexp '\+ socket +pid [0-9]+ fd 3: inet6 tcp LISTEN :::9090'
	assert_output --regexp '\+ rootfs +/etc/later'
	run "$STASIS" inspect --diff --format json "$FX/in1.tar.zst" "$FX/in1.tar.zst"
	assert_success
	[ "$(jq -r '.differences | length' <<<"$output")" = 0 ]
}
