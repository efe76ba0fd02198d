#!/usr/bin/env bats
# stasis restore: archives and images back as running containers, under new names.

load helpers
load containers

setup() {
	require_containers
}

teardown() {
	# the hugetlb hierarchy the cgroup test took away comes back (crun needs it)
	ensure_crun_cgroups
	for n in rs1 rs2 rs3 rs4 rs5 rs6 rs7 rs1-new rs1-again rs1-c1 rs1-c2 rs3-new rs5-runc rs5-none rs7-new rs8-s rs8-t rs8-z rs9-new rs10-new; do
		runc delete -f "$n" >/dev/null 2>&1 || true
		crun delete -f "$n" >/dev/null 2>&1 || true
		[ -f "/run/stasis/$n/state.json" ] && kill -9 "$(jq -r .pid "/run/stasis/$n/state.json")" 2>/dev/null
		rm -rf "/run/stasis/$n"
		umount "$STATE/$n/rootfs" 2>/dev/null || true
		umount "$STATE/$n/netns" 2>/dev/null || true
	done
	for n in rs1 rs2 rs3 rs4 rs5 rs6 rs7 rs8 rs9 rs10; do stop_container "$n"; done
	rm -rf "$OUT"
}

# restore_import ARCHIVE NAME DATA [args...]: stasis restore --import with a fresh overlay on the image
restore_import() {
	restore_as "$@"
	[ "$status" -eq 0 ] || show_criu_log "/run/stasis/@logs/$2.restore.log"
	assert_success
}

# pid of a restored container, whoever owns it
restored_pid() {
	if [ -f "/run/stasis/$1/state.json" ]; then
		jq -r .pid "/run/stasis/$1/state.json"
	elif crun state "$1" >/dev/null 2>&1; then
		crun state "$1" | jq -r .pid
	else
		runc state "$1" | jq -r .pid
	fi
}

@test "export, delete, import under a new name: counter goes on, memory verifies, rootfs and data are there; and again" {
	start_container runc rs1
	runc exec rs1 sh -c 'echo new > /etc/newfile; rm /etc/tobedeleted'
	data=$CT_BASE/rs1/data
	run "$STASIS" checkpoint --export "$OUT/rs1.tar.zst" rs1
	assert_success
	before=$(read_counter "$data")
	stop_container_keep_data rs1

	restore_import "$OUT/rs1.tar.zst" rs1-new "$data"
	assert_equal "$(runc state rs1-new | jq -r .status)" running
	# the unpacked page images are a scratch copy: CRIU punched out what it restored (32 MiB)
	[ "$(du -k "$STATE"/rs1-new/archive/checkpoint/pages-*.img | awk '{ s += $1 } END { print s }')" -lt 1024 ]
	wait_for 50 counter_above "$data" $((before + 3))
	pid=$(restored_pid rs1-new)
	run verify_workload "$data" "$pid"
	assert_output --regexp '^OK [0-9]+$'
	runc exec rs1-new cat /etc/newfile | grep -qx new
	run runc exec rs1-new cat /etc/tobedeleted
	assert_failure
	runc exec rs1-new cat /data/keep | grep -q "stays open"
	# its own pid namespace: the workload is pid 1 inside
	assert_equal "$(runc exec rs1-new cat /proc/1/cmdline | tr '\0' ' ')" "/bin/workload -m 32 -d /data "

	# the restored container checkpoints and restores again
	run "$STASIS" checkpoint --export "$OUT/rs1-2.tar.zst" rs1-new
	assert_success
	before=$(read_counter "$data")
	restore_import "$OUT/rs1-2.tar.zst" rs1-again "$data"
	wait_for 50 counter_above "$data" $((before + 3))
	run verify_workload "$data" "$(restored_pid rs1-again)"
	assert_output --regexp '^OK [0-9]+$'
	runc exec rs1-again cat /etc/newfile | grep -qx new
}

@test "a tree of two tasks with memory each: their pages stream into the archive one after the other; restored, both verify" {
	CT_WORKLOAD_ARGS=-f start_container runc rs7
	data=$CT_BASE/rs7/data
	run "$STASIS" checkpoint --export "$OUT/rs7.tar" --compress none rs7
	assert_success
	# the page server's images, one per task in turn, before the pagemaps made from its runs
	tar -tf "$OUT/rs7.tar" | grep -E '/(pages|pagemap)-' >"$OUT/order"
	assert_equal "$(sed -n 1,2p "$OUT/order" | tr '\n' ' ')" "checkpoint/pages-65537.img checkpoint/pages-65538.img "
	assert_equal "$(sed -n '3,$p' "$OUT/order" | grep -c '^checkpoint/pagemap-[0-9]*\.img$')" 2
	# the parent's 32 MiB are in the first; the worker's own 16 MiB and the 32 it shares from its fork
	# (copy on write) in the second
	tar -tvf "$OUT/rs7.tar" checkpoint/pages-65537.img | awk '{ exit !($3 >= 33554432 && $3 < 50331648) }'
	tar -tvf "$OUT/rs7.tar" checkpoint/pages-65538.img | awk '{ exit !($3 >= 50331648) }'
	before=$(read_counter "$data")
	stop_container_keep_data rs7

	restore_import "$OUT/rs7.tar" rs7-new "$data"
	wait_for 50 counter_above "$data" $((before + 3))
	rm -f "$data/verify-worker"
	run verify_workload "$data" "$(restored_pid rs7-new)"
	assert_output --regexp '^OK [0-9]+$'
	wait_for 100 test -s "$data/verify-worker"
	assert_equal "$(cat "$data/verify-worker")" OK
}

@test "a native restore streams the pages from the archive: none unpacked, each chunk checked; a bad chunk never reaches CRIU" {
	CT_WORKLOAD_MIB=64 start_container runc rs8
	data=$CT_BASE/rs8/data
	run "$STASIS" checkpoint --export "$OUT/rs8.tar" --compress none rs8
	assert_success
	before=$(read_counter "$data")
	stop_container_keep_data rs8
	# one byte of the pages' fifth chunk changed (uncompressed: at a known place), the manifest kept
	off=$(tar -tvR -f "$OUT/rs8.tar" | awk '/pages-65537.img/ { sub(":", "", $2); print ($2 + 1) * 512 }')
	cp "$OUT/rs8.tar" "$OUT/bad.tar"
	printf 'X' | dd of="$OUT/bad.tar" bs=1 seek=$((off + 4 * 4194304 + 100)) conv=notrunc 2>/dev/null
	restore_as "$OUT/bad.tar" rs8-t "$data" --runtime none
	assert_failure
	assert_output --partial "member \`checkpoint/pages-65537.img\`: bytes 16777216 to 20971520 do not match their digest in the manifest"
	[ ! -e "/run/stasis/rs8-t" ] || [ ! -s "/run/stasis/rs8-t/state.json" ]
	! pgrep -f "workload -m 64 -d /data" | grep -q .

	restore_import "$OUT/rs8.tar" rs8-s "$data" --runtime none
	[ -z "$(ls "$STATE/rs8-s/archive/checkpoint/" | grep '^pages-')" ]
	wait_for 50 counter_above "$data" $((before + 3))
	run verify_workload "$data" "$(restored_pid rs8-s)"
	assert_output --regexp '^OK [0-9]+$'
	# the same from a zstd archive (its index: the pages' frames are read once, by CRIU's feed)
	run "$STASIS" checkpoint --export "$OUT/rs8.tar.zst" rs8-s
	assert_success
	restore_import "$OUT/rs8.tar.zst" rs8-z "$data" --runtime none
	[ -z "$(ls "$STATE/rs8-z/archive/checkpoint/" | grep '^pages-')" ]
	run verify_workload "$data" "$(restored_pid rs8-z)"
	assert_output --regexp '^OK [0-9]+$'
	# --staged unpacks them first, as before
	"$STASIS" delete --force rs8-z
	restore_import "$OUT/rs8.tar" rs8-t "$data" --runtime none --staged
	ls "$STATE/rs8-t/archive/checkpoint/" | grep -q '^pages-65537.img$'
	run verify_workload "$data" "$(restored_pid rs8-t)"
	assert_output --regexp '^OK [0-9]+$'
}

@test "two restores of one --leave-running archive next to the original: three containers counting" {
	start_container runc rs1
	data=$CT_BASE/rs1/data
	run "$STASIS" checkpoint --leave-running --export "$OUT/rs1.tar" rs1
	assert_success
	# each clone gets a copy of the data dir as it was (same file sizes: CRIU checks them)
	cp -a "$data" "$OUT/data1"
	cp -a "$data" "$OUT/data2"
	restore_import "$OUT/rs1.tar" rs1-c1 "$OUT/data1"
	restore_import "$OUT/rs1.tar" rs1-c2 "$OUT/data2" --runtime none
	for d in "$data" "$OUT/data1" "$OUT/data2"; do
		c=$(read_counter "$d")
		wait_for 50 counter_above "$d" $((c + 3))
	done
	run verify_workload "$OUT/data1" "$(restored_pid rs1-c1)"
	assert_output --regexp '^OK'
	run verify_workload "$OUT/data2" "$(restored_pid rs1-c2)"
	assert_output --regexp '^OK'
	run verify_workload "$data" "$(container_pid runc rs1)"
	assert_output --regexp '^OK'
	# the runtime-less clone is known to stasis: it checkpoints again
	run "$STASIS" checkpoint --leave-running --export "$OUT/c2.tar" rs1-c2
	assert_success
}

@test "images from runc checkpoint restore natively under stasis (runtime none)" {
	start_container runc rs2
	dir=$CT_BASE/rs2
	runc --criu "$STASIS_CRIU" checkpoint --image-path "$OUT/images" --work-path "$OUT/work" rs2
	before=$(read_counter "$dir/data")
	wait_for 50 pid_gone "$(pgrep -f 'workload -m 32 -d /data' | head -n1)" || true
	pages_before=$(du -k "$OUT"/images/pages-*.img | awk '{ s += $1 } END { print s }')
	# hooks as runc runs them on restore: prestart, then createRuntime, with the restored pid
	jq --arg out "$OUT" '.hooks = {
		"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > \($out)/prestart.json"]}],
		"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > \($out)/create.json; echo $HOOKVAR > \($out)/hook.env"],
			"env": ["HOOKVAR=from-the-hook-env"], "timeout": 10}]}' \
		"$dir/bundle/config.json" >"$OUT/config.json"
	cp "$dir/bundle/config.json" "$OUT/config.json.orig"
	cp "$OUT/config.json" "$dir/bundle/config.json"
	run "$STASIS" restore --image-path "$OUT/images" --bundle "$dir/bundle" --runtime none \
		--state-dir "$STATE/rs2" --pid-file "$OUT/pid" rs2
	[ "$status" -eq 0 ] || show_criu_log "$STATE/rs2/restore.log"
	assert_success
	assert_equal "$(jq -r .pid "$OUT/prestart.json")" "$(cat "$OUT/pid")"
	assert_equal "$(jq -r '.status + " " + .id' "$OUT/prestart.json")" "creating rs2"
	assert_equal "$(jq -r .pid "$OUT/create.json")" "$(cat "$OUT/pid")"
	assert_equal "$(cat "$OUT/hook.env")" from-the-hook-env
	# the caller's images are theirs: no hole punched (only our own unpacked copies are)
	assert_equal "$(du -k "$OUT"/images/pages-*.img | awk '{ s += $1 } END { print s }')" "$pages_before"
	wait_for 50 counter_above "$dir/data" $((before + 3))
	run verify_workload "$dir/data" "$(cat "$OUT/pid")"
	assert_output --regexp '^OK'
	kill -9 "$(cat "$OUT/pid")"
	wait_for 50 pid_gone "$(cat "$OUT/pid")"
	rm -rf "/run/stasis/rs2" "$STATE/rs2"

	# a failing hook fails the restore, names the hook and leaves no process
	jq '.hooks = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", "echo no network for you >&2; exit 3"]}]}' \
		"$OUT/config.json.orig" >"$dir/bundle/config.json"
	run "$STASIS" restore --image-path "$OUT/images" --bundle "$dir/bundle" --runtime none \
		--state-dir "$STATE/rs2" rs2
	assert_failure
	assert_output --partial "prestart hook 0 \`/bin/sh\` failed (exit 3): no network for you"
	run pgrep -f 'workload -m 32 -d /data'
	assert_failure
	[ ! -e "$STATE/rs2" ]
}

@test "crun container: archive restored natively, crun owns it (state, kill, delete)" {
	command -v crun >/dev/null || skip_or_fail "crun is not installed"
	start_container crun rs3
	data=$CT_BASE/rs3/data
	run "$STASIS" checkpoint --runtime crun --export "$OUT/rs3.tar" rs3
	assert_success
	before=$(read_counter "$data")
	restore_import "$OUT/rs3.tar" rs3-new "$data"
	assert_equal "$(crun state rs3-new | jq -r .status)" running
	wait_for 50 counter_above "$data" $((before + 3))
	run verify_workload "$data" "$(crun state rs3-new | jq -r .pid)"
	assert_output --regexp '^OK'
	crun kill rs3-new KILL
	wait_for 50 sh -c '[ "$(crun state rs3-new | jq -r .status)" = stopped ]'
	crun delete rs3-new
}

@test "a tampered archive, a traversal entry and a symlink escape are refused, nothing started or written" {
	start_container runc rs4
	run "$STASIS" checkpoint --leave-running --export "$OUT/good.tar" --compress none rs4
	assert_success
	mkdir "$OUT/x"
	tar -xf "$OUT/good.tar" -C "$OUT/x"
	page=$(cd "$OUT/x" && ls checkpoint/pages-*.img | head -n1)
	printf '\xff' | dd of="$OUT/x/$page" bs=1 seek=100 conv=notrunc status=none
	(cd "$OUT/x" && tar -cf "$OUT/tampered.tar" checkpoint/ $(ls | grep -v checkpoint))
	run "$STASIS" restore --import "$OUT/tampered.tar" --name rs4-t --state-dir "$STATE/t" \
		--rootfs-base "$CT_BASE/image" --mount "/data=$OUT"
	assert_failure
	assert_output --partial "member \`$page\` does not match its sha256"
	[ ! -e "$STATE/t" ]

	# an entry that climbs out
	mkdir -p "$OUT/evil/checkpoint"
	echo pwned >"$OUT/evil/pwned"
	tar -cf "$OUT/traversal.tar" -C "$OUT/evil" --transform 's|^pwned|../../pwned-by-stasis-test|' checkpoint pwned
	run "$STASIS" restore --import "$OUT/traversal.tar" --name rs4-t --state-dir "$STATE/t" --rootfs-base "$CT_BASE/image"
	assert_failure
	assert_output --partial "member \`../../pwned-by-stasis-test\`: an absolute path or one with \"..\": refused"
	[ ! -e "$STATE/pwned-by-stasis-test" ] && [ ! -e "$OUT/pwned-by-stasis-test" ] && [ ! -e /tmp/pwned-by-stasis-test ]

	# a rootfs diff whose symlink leads out, then writes through it (no manifest: podman-like)
	rm -rf "$OUT/y" && mkdir -p "$OUT/y/d/etc"
	ln -s "$OUT/outside" "$OUT/y/d/etc/escape"
	mkdir -p "$OUT/outside"
	(cd "$OUT/y/d" && tar -cf ../diff1.tar etc/escape)
	mkdir -p "$OUT/y/d2/etc/escape" && echo pwned >"$OUT/y/d2/etc/escape/file"
	(cd "$OUT/y/d2" && tar -cf ../diff2.tar etc/escape/file)
	(cd "$OUT/y" && tar -Af diff1.tar diff2.tar)
	cp -a "$OUT/x/checkpoint" "$OUT/y/"
	cp "$OUT/x/config.dump" "$OUT/x/spec.dump" "$OUT/y/"
	cp "$OUT/y/diff1.tar" "$OUT/y/rootfs-diff.tar"
	(cd "$OUT/y" && tar -cf "$OUT/escape.tar" checkpoint/ config.dump spec.dump rootfs-diff.tar)
	run "$STASIS" restore --import "$OUT/escape.tar" --name rs4-t --state-dir "$STATE/t" \
		--rootfs-base "$CT_BASE/image" --mount "/data=$OUT"
	assert_failure
	assert_output --partial "entry \`etc/escape/file\`"
	[ ! -e "$OUT/outside/file" ]
	[ ! -e "$STATE/t" ]
	run runc state rs4-t
	assert_failure
	assert_counting rs4 2
}

@test "restore --help exits 0; --lsm-mount-context without a value says 'requires an argument'" {
	run "$STASIS" restore --help
	assert_success
	assert_output --partial "--import"
	run "$STASIS" restore --lsm-mount-context
	assert_failure
	assert_output --partial "requires an argument"
	run "$STASIS" restore --no-pivot --no-new-keyring --image-path /nonexistent --bundle /nonexistent x
	assert_failure
	refute_output --partial "unrecognized option"
}

# lines_in FILE: how many lines the in-container TCP server has received
lines_in() {
	wc -l <"$1"
}

@test "owned netns: loopback is up and an established TCP connection survives --tcp-established, under runc and natively" {
	# a server and a client inside the container, children of its init, talking over loopback
	CT_PRELUDE='(sleep 100000 | nc -l -p 5000 > /data/received) & sleep 0.3
(i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done | nc 127.0.0.1 5000) &' \
		start_container runc rs5
	data=$CT_BASE/rs5/data
	wait_for 50 sh -c "[ \$(wc -l < $data/received) -ge 5 ]"
	old=$(runc state rs5 | jq -r .pid)
	run "$STASIS" checkpoint --tcp-established --export "$OUT/rs5.tar.zst" rs5
	assert_success
	stop_container_keep_data rs5
	wait_for 50 pid_gone "$old"
	# CRIU wants the server's output file as it was at the checkpoint: kept for the second restore
	cp -p "$data/received" "$OUT/received"
	at=$(lines_in "$OUT/received")

	for rt in runc none; do
		cp -p "$OUT/received" "$data/received"
		restore_import "$OUT/rs5.tar.zst" "rs5-$rt" "$data" --runtime "$rt" --tcp-established
		pid=$(restored_pid "rs5-$rt")
		run nsenter -t "$pid" -n ip -o link show lo
		assert_output --partial "UP"
		# the client goes on sending through the restored connection, the server goes on writing
		wait_for 50 sh -c "[ \$(wc -l < $data/received) -ge $((at + 5)) ]"
		assert_equal "$(sed -n "$((at + 1))p" "$data/received")" "line$at"
		run verify_workload "$data" "$pid"
		assert_output --regexp '^OK'
		# stasis delete: refused while running, then --force leaves nothing behind
		run "$STASIS" delete --state-dir "$STATE/rs5-$rt" "rs5-$rt"
		assert_failure
		run "$STASIS" delete --force --state-dir "$STATE/rs5-$rt" "rs5-$rt"
		assert_success
		wait_for 50 pid_gone "$pid"
		[ ! -e "$STATE/rs5-$rt" ] && [ ! -e "/run/stasis/rs5-$rt" ]
		run grep -c "$STATE/rs5-$rt" /proc/self/mountinfo
		assert_output 0
		run runc state "rs5-$rt"
		assert_failure
	done
	run "$STASIS" delete rs5-none
	assert_failure
	assert_output --partial "no such container restored by stasis"
}

@test "a cgroup hierarchy the images name but this host lacks: the restore maps it to an empty directory and says so" {
	ensure_crun_cgroups
	start_container runc rs6
	data=$CT_BASE/rs6/data
	run "$STASIS" checkpoint --image-path "$OUT/rs6.img" rs6
	assert_success
	before=$(read_counter "$data")
	# the host as another one would be: no v1 hugetlb hierarchy (it sits in cgroup v2 there)
	umount /sys/fs/cgroup/hugetlb
	run "$STASIS" restore --image-path "$OUT/rs6.img" --bundle "$CT_BASE/rs6/bundle" --runtime none \
		--state-dir "$STATE/rs6" rs6
	mount -t cgroup -o hugetlb none /sys/fs/cgroup/hugetlb
	[ "$status" -eq 0 ] || show_criu_log /run/stasis/@logs/rs6.restore.log
	assert_success
	assert_output --partial "the images' cgroup hierarchy \`/sys/fs/cgroup/hugetlb\` is not mounted on this host"
	pid=$(jq -r .pid /run/stasis/rs6/state.json)
	wait_for 50 counter_above "$data" $((before + 3))
	run verify_workload "$data" "$pid"
	assert_output --regexp '^OK'
	run "$STASIS" delete --force --state-dir "$STATE/rs6" rs6
	assert_success
}

# the directory CRIU gives a hierarchy in a cgroup yard: its controllers as /proc/PID/cgroup lists
# them, a named one without "name=", the unified one "unified"
yard_dir() {
	local d=${1//name=/}
	echo "${d:-unified}"
}

@test "CRIU's cgroup yard is kept for the boot: every hierarchy mounted once, used by dump and restore, a lost mount made again, and after a reboot the whole yard" {
	yard=/run/stasis/@cgyard
	# as after a reboot: the tmpfs and its mounts gone, the directory left
	umount -R "$yard" 2>/dev/null || true
	start_container runc rs9
	data=$CT_BASE/rs9/data
	run "$STASIS" --debug --log "$OUT/rs9.log" checkpoint --export "$OUT/rs9.tar.zst" rs9
	assert_success
	# CRIU's dump opened the hierarchies there (it says nothing of it in its log)
	grep -Eq "cgroup yard .$yard.: [0-9]+ hierarchies" "$OUT/rs9.log"
	# a tmpfs of stasis', root's alone, with every hierarchy of this host mounted on it
	[ "$(stat -f -c %T "$yard")" = tmpfs ]
	[ "$(stat -c %a:%u "$yard")" = 700:0 ]
	while IFS=: read -r _ controllers _; do
		mountpoint -q "$yard/$(yard_dir "$controllers")"
	done </proc/self/cgroup
	[ "$(stat -f -c %T "$yard/unified")" = cgroup2fs ]
	before=$(read_counter "$data")
	stop_container_keep_data rs9
	# one mount lost, its directory left (a CRIU killed between mkdir and mount): mounted again
	umount "$yard/pids"
	! mountpoint -q "$yard/pids"
	restore_import "$OUT/rs9.tar.zst" rs9-new "$data" --runtime none
	mountpoint -q "$yard/pids"
	# CRIU opened the hierarchies there: it mounted none of its own
	grep -q "Opening $yard as cg yard" "$STATE/rs9-new/restore.log"
	! grep -q "Making controller dir" "$STATE/rs9-new/restore.log"
	wait_for 50 counter_above "$data" $((before + 3))
	run verify_workload "$data" "$(restored_pid rs9-new)"
	assert_output --regexp '^OK [0-9]+$'
	# the restored container is in its cgroups, made through the yard's hierarchies
	grep -Eq '^[0-9]+:memory:/stasis/rs9-new$' "/proc/$(restored_pid rs9-new)/cgroup"
}

@test "network dumps that hold nothing are not fed to CRIU's tools: no ip route or iptables restore for them, the archive keeps them, loopback is as it was" {
	start_container runc rs10
	data=$CT_BASE/rs10/data
	run "$STASIS" checkpoint --export "$OUT/rs10.tar.zst" rs10
	assert_success
	before=$(read_counter "$data")
	stop_container_keep_data rs10
	# what the container's loopback-only namespace dumped: route dumps that are only their header,
	# empty iptables dumps
	run sh -c "tar -tvf '$OUT/rs10.tar.zst' | grep -E ' checkpoint/(route6?|ip6?tables)-[0-9]+\\.img\$'"
	assert_success
	assert_line --regexp ' 4 .* checkpoint/route-[0-9]+\.img$'
	assert_line --regexp ' 0 .* checkpoint/iptables-[0-9]+\.img$'
	restore_import "$OUT/rs10.tar.zst" rs10-new "$data" --runtime none
	run sh -c "ls '$STATE/rs10-new/archive/checkpoint' | grep -E '^(route6?|ip6?tables)-'"
	assert_failure
	log=$STATE/rs10-new/restore.log
	! grep -q "Running ip route restore" "$log"
	! grep -q "tables-legacy-restore" "$log"
	# the rest of the namespace was restored as before: addresses and rules by their tools
	grep -q "Running ip addr restore" "$log"
	pid=$(restored_pid rs10-new)
	nsenter -t "$pid" -n ip -o addr show dev lo | grep -q "inet 127.0.0.1/8"
	nsenter -t "$pid" -n ip route show table local | grep -q "^local 127.0.0.0/8 dev lo"
	wait_for 50 counter_above "$data" $((before + 3))
	run verify_workload "$data" "$pid"
	assert_output --regexp '^OK [0-9]+$'
}
