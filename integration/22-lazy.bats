#!/usr/bin/env bats
# stasis restore --lazy-pages: the container runs before its memory is back; every page comes in,
# and nothing runs on memory that never came: whatever fails, the container is killed and the
# reason is written in /run/stasis/NAME/lazy-pages.

load helpers
load containers

NAMES="lz-all lz-daemon lz-fork lz-guard lz-trunc lz-bad lz-exit lz-gz lz-runc lz-shim lz-shimr lz-mig lz-tls"

# One 512 MiB workload, checkpointed three times (it runs on between them): a streamed zstd archive
# (a frame a chunk), an uncompressed one, and a gzip one (no random access: the pages are unpacked).
# 512 MiB takes about a second to come in: the failure tests act well inside that.
setup_file() {
	[ "$(id -u)" = 0 ] && [ -x "${STASIS_CRIU:-}" ] || return 0
	export FX=$(mktemp -d /tmp/stasis-lazy-XXXXXX)
	CT_WORKLOAD_MIB=512 start_container runc lz0
	"$STASIS" checkpoint --leave-running --export "$FX/lz0.tar.gz" --compress gzip lz0 >/dev/null 2>&1
	"$STASIS" checkpoint --leave-running --export "$FX/lz0.tar" --compress none lz0 >/dev/null
	"$STASIS" checkpoint --export "$FX/lz0.tar.zst" lz0 >/dev/null
	stop_container_keep_data lz0
}

teardown_file() {
	[ -n "${FX:-}" ] && rm -rf "$FX"
	stop_container lz0
}

setup() {
	require_containers
	[ -s "$FX/lz0.tar.zst" ] && [ -s "$FX/lz0.tar" ] && [ -s "$FX/lz0.tar.gz" ] || fail "setup_file made no archives"
	DATA=$CT_BASE/lz0/data
}

teardown() {
	crun delete -f lz-shim >/dev/null 2>&1 || true
	[ -n "${SERVER:-}" ] && kill "$SERVER" 2>/dev/null
	ip netns del stasis-mig-src 2>/dev/null || true
	ip netns del stasis-mig-dst 2>/dev/null || true
	stop_container lz-mig
	stop_container lz-tls
	stop_container lz-shim
	stop_container lz-shimr
	rm -f /run/stasis/@lazy/lz-shim /run/stasis/@lazy/lz-shimr
	for n in $NAMES; do
		"$STASIS" delete --force "$n" >/dev/null 2>&1 || true
		rm -rf "/run/stasis/$n"
		umount "$STATE/$n/rootfs" 2>/dev/null || true
	done
	rm -rf "$OUT"
}

lazy_status() {
	cat "/run/stasis/$1/lazy-pages"
}

lazy_status_is() {
	lazy_status "$1" 2>/dev/null | grep -q "^$2"
}

# the pid the status line gives to one of the helpers ("guard", "criu lazy-pages")
helper_pid() {
	lazy_status "$1" | sed -n "s/.*$2 \([0-9]*\).*/\1/p"
}

# no process of NAME's lazy restore is left: guard, watchdog, criu lazy-pages
lazy_helpers_gone() {
	! pgrep -f "stasis restore .*--name $1 " >/dev/null && ! pgrep -f "criu lazy-pages .*$STATE/$1/" >/dev/null
}

counter_moved() {
	[ "$(read_counter "$1")" != "$2" ]
}

ct_pid() {
	jq -r .pid "/run/stasis/$1/state.json"
}

# lazy_restore ARCHIVE NAME [flags]: restored lazily, and still fetching when it returns
lazy_restore() {
	local archive=$1 name=$2
	shift 2
	restore_as "$archive" "$name" "$DATA" --runtime none --lazy-pages "$@"
	[ "$status" -eq 0 ] || show_criu_log "/run/stasis/@logs/$name.restore.log"
	assert_success
	run lazy_status "$name"
	assert_output --regexp '^fetching: container [0-9]+, guard [0-9]+, watchdog [0-9]+, criu lazy-pages [0-9]+$'
}

# no cgroup /stasis/NAME is left in any hierarchy
cgroups_gone() {
	! ls -d /sys/fs/cgroup/stasis/"$1" /sys/fs/cgroup/*/stasis/"$1" 2>/dev/null | grep -q .
}

# the container NAME was killed for what failed, and nothing of its restore is left: not its
# cgroups either, which the helpers had joined and left before they killed it
assert_killed_for() {
	local name=$1 pid=$2 why=$3
	wait_for 100 lazy_status_is "$name" failed
	run lazy_status "$name"
	assert_output --partial "$why"
	assert_output --partial "the container was killed"
	wait_for 50 pid_gone "$pid"
	wait_for 50 lazy_helpers_gone "$name"
	wait_for 50 cgroups_gone "$name"
}

# processes A and B are in the same memory cgroup
same_memory_cgroup() {
	[ "$(grep -E '^[0-9]+:memory:' "/proc/$1/cgroup")" = "$(grep -E '^[0-9]+:memory:' "/proc/$2/cgroup")" ]
}

# process PID is in the cgroup /stasis/NAME of hierarchy CONTROLLER
in_cgroup() {
	grep -Eq "^[0-9]+:([^:]*,)?$3(,[^:]*)?:/stasis/$2\$" "/proc/$1/cgroup"
}

@test "a lazy restore runs at once, brings every page in from the archive, and its memory verifies" {
	before=$(read_counter "$DATA")
	# the archive may go once the restore returned: the guard reads it through its own descriptor
	cp "$FX/lz0.tar.zst" "$OUT/gone.tar.zst"
	lazy_restore "$OUT/gone.tar.zst" lz-all
	rm "$OUT/gone.tar.zst"
	# the helpers are accounted to the container (its memory and cpu cgroups), but take none of
	# its pids (the daemon stopped meanwhile, so that none of them leaves before it is looked at);
	# they join once the restore has returned
	line=$(lazy_status lz-all)
	daemon=$(echo "$line" | sed -n 's/.*criu lazy-pages \([0-9]*\).*/\1/p')
	kill -STOP "$daemon"
	for helper in guard watchdog "criu lazy-pages"; do
		hpid=$(echo "$line" | sed -n "s/.*$helper \([0-9]*\).*/\1/p")
		wait_for 50 in_cgroup "$hpid" lz-all memory
		in_cgroup "$hpid" lz-all cpu
		! in_cgroup "$hpid" lz-all pids
	done
	kill -CONT "$daemon"
	# its memory is not all back: a checkpoint now would dump what is not there
	run "$STASIS" checkpoint --export "$OUT/again.tar.zst" lz-all
	assert_failure
	assert_output --partial "its memory is still coming back from a lazy restore"
	[ ! -e "$OUT/again.tar.zst" ]
	run "$STASIS" doctor lz-all
	assert_failure
	assert_output --partial "BLOCKER     the container: a lazy restore is still bringing its memory back"
	# only the pages CRIU restores itself were written: the page image is sparse
	[ "$(du -k "$STATE"/lz-all/archive/checkpoint/pages-*.img | awk '{ s += $1 } END { print s }')" -lt 4096 ]
	wait_for 50 counter_above "$DATA" $((before + 3))
	wait_for 200 lazy_status_is lz-all complete
	wait_for 50 lazy_helpers_gone lz-all
	run verify_workload "$DATA" "$(ct_pid lz-all)"
	assert_output --regexp '^OK [0-9]+$'
	# criu lazy-pages had its pages from the guard's page server over the inherited socketpair,
	# every one of them
	grep -q "Reusing ps socket" "$STATE/lz-all/lazy-pages.log"
	grep -Eq "UFFD transferred pages: \(([0-9]+)/\1\)" "$STATE/lz-all/lazy-pages.log"
	# every page in: it checkpoints again
	run "$STASIS" checkpoint --export "$OUT/again.tar.zst" lz-all
	assert_success
	run "$STASIS" delete lz-all --force
	assert_success
	[ ! -e /run/stasis/lz-all ]
}

@test "criu lazy-pages killed before every page is in: the container is killed, and the status says why" {
	lazy_restore "$FX/lz0.tar.zst" lz-daemon
	pid=$(ct_pid lz-daemon)
	kill -9 "$(helper_pid lz-daemon "criu lazy-pages")"
	assert_killed_for lz-daemon "$pid" "criu lazy-pages was killed by signal 9 before every page was in"
}

@test "a task forked while pages come in is held too: with the daemon gone it waits, and is killed with the container" {
	rm -f "$DATA/verify-late"
	lazy_restore "$FX/lz0.tar.zst" lz-fork
	pid=$(ct_pid lz-fork)
	# the workload forks a child that checks all the memory it inherited, most of it not in yet
	kill -USR2 "$pid"
	wait_for 50 pgrep -P "$pid" -x late
	late=$(pgrep -P "$pid" -x late)
	# the guard looks for new userfaultfds every 20 ms: well past that, it and its watchdog are
	# stopped, so that nothing kills the container when the daemon goes
	sleep 0.2
	guard=$(helper_pid lz-fork guard)
	watchdog=$(helper_pid lz-fork watchdog)
	kill -STOP "$guard" "$watchdog"
	kill -9 "$(helper_pid lz-fork "criu lazy-pages")"
	sleep 1
	# the child did not read the pages that never came as zeros: it waits for them (a child that
	# did would say so in /data, or in / when its copy of the path read as zeros too)
	kill -CONT "$guard" "$watchdog"
	[ ! -e "$DATA/verify-late" ] || ! grep -q CORRUPT "$DATA/verify-late"
	[ ! -e "$STATE/lz-fork/upper/verify-late" ]
	assert_killed_for lz-fork "$pid" "criu lazy-pages was killed by signal 9 before every page was in"
	pid_gone "$late"
	[ ! -e "$DATA/verify-late" ] || ! grep -q CORRUPT "$DATA/verify-late"
	[ ! -e "$STATE/lz-fork/upper/verify-late" ]
}

@test "the guard killed before every page is in: its watchdog kills the container, and says why" {
	lazy_restore "$FX/lz0.tar.zst" lz-guard
	pid=$(ct_pid lz-guard)
	guard=$(helper_pid lz-guard guard)
	kill -9 "$guard"
	assert_killed_for lz-guard "$pid" "the lazy-pages guard (pid $guard) ended before every page was in"
}

@test "the archive truncated while its pages come in: the container is killed, the archive named" {
	cp "$FX/lz0.tar.zst" "$OUT/cut.tar.zst"
	lazy_restore "$OUT/cut.tar.zst" lz-trunc
	pid=$(ct_pid lz-trunc)
	# half of it: the background pull, in order, is far from there yet
	truncate -s 256M "$OUT/cut.tar.zst"
	assert_killed_for lz-trunc "$pid" "archive \`$OUT/cut.tar.zst\`: member \`checkpoint/pages-65537.img\`"
}

@test "a damaged chunk is never handed to the kernel: the container is killed, the bytes named" {
	# one byte of the pages' 100th chunk changed (uncompressed: at a known place), the manifest kept
	off=$(tar -tvR -f "$FX/lz0.tar" | awk '/pages-65537.img/ { sub(":", "", $2); print ($2 + 1) * 512 }')
	cp "$FX/lz0.tar" "$OUT/bad.tar"
	printf 'X' | dd of="$OUT/bad.tar" bs=1 seek=$((off + 99 * 4194304 + 100)) conv=notrunc 2>/dev/null
	lazy_restore "$OUT/bad.tar" lz-bad
	pid=$(ct_pid lz-bad)
	assert_killed_for lz-bad "$pid" "bytes 415236096 to 419430400 do not match their digest in the manifest"
}

@test "the container exits before every page is in: the helpers stop, and the status says so" {
	lazy_restore "$FX/lz0.tar.zst" lz-exit
	kill -9 "$(ct_pid lz-exit)"
	wait_for 100 lazy_status_is lz-exit stopped
	run lazy_status lz-exit
	assert_output "stopped: the container exited before every page was in"
	wait_for 50 lazy_helpers_gone lz-exit
}

@test "an archive without random access (gzip): the pages are unpacked first, and lazily restored" {
	before=$(read_counter "$DATA")
	restore_as "$FX/lz0.tar.gz" lz-gz "$DATA" --runtime none --lazy-pages
	assert_success
	assert_output --partial "warning: the pages are unpacked before CRIU reads them: criu lazy-pages reads them from files"
	wait_for 200 lazy_status_is lz-gz complete
	# the first checkpoint: its counter starts below the one the later ones left in the data dir
	wait_for 50 counter_moved "$DATA" "$before"
	now=$(read_counter "$DATA")
	wait_for 50 counter_above "$DATA" $((now + 3))
	run verify_workload "$DATA" "$(ct_pid lz-gz)"
	assert_output --regexp '^OK [0-9]+$'
	! grep -q "Connecting to server" "$STATE/lz-gz/lazy-pages.log"
}

@test "through runc: runc owns the container, CRIU's action script has the guard hold every userfaultfd first; a killed daemon kills it" {
	before=$(read_counter "$DATA")
	restore_as "$FX/lz0.tar.zst" lz-runc "$DATA" --runtime runc --lazy-pages
	[ "$status" -eq 0 ] || show_criu_log "/run/stasis/@logs/lz-runc.restore.log"
	assert_success
	run lazy_status lz-runc
	assert_output --regexp '^fetching: container [0-9]+, guard [0-9]+, watchdog [0-9]+, criu lazy-pages [0-9]+$'
	assert_equal "$(runc state lz-runc | jq -r .status)" running
	# runc answered CRIU's notifications: the hold came from CRIU's own action script, at post-restore
	grep -A2 "Running post-restore scripts" "$STATE/lz-runc/restore.log" | grep -q lazy-hold.sh
	wait_for 200 lazy_status_is lz-runc complete
	wait_for 50 counter_above "$DATA" $((before + 3))
	run verify_workload "$DATA" "$(container_pid runc lz-runc)"
	assert_output --regexp '^OK [0-9]+$'
	run "$STASIS" delete --force lz-runc
	assert_success
	# again, and the daemon killed: the guard kills runc's container through its init (its
	# cgroups are runc's, and go with runc's delete)
	restore_as "$FX/lz0.tar.zst" lz-runc "$DATA" --runtime runc --lazy-pages
	assert_success
	pid=$(container_pid runc lz-runc)
	kill -9 "$(helper_pid lz-runc "criu lazy-pages")"
	wait_for 100 lazy_status_is lz-runc failed
	run lazy_status lz-runc
	assert_output --partial "criu lazy-pages was killed by signal 9 before every page was in"
	assert_output --partial "the container was killed"
	wait_for 50 pid_gone "$pid"
	wait_for 50 lazy_helpers_gone lz-runc
	assert_equal "$(runc state lz-runc | jq -r .status)" stopped
	run "$STASIS" delete lz-runc
	assert_success
	cgroups_gone lz-runc
}

# shim_lazy_restore SHIM NAME MIB: a container that stasis-SHIM (crun or runc) runs with MIB MiB,
# checkpointed through the shim to images and restored lazily through it (runc's flags): the
# runtime owns it again and stasis keeps no state dir of it.  The daemon is stopped at once (from
# local images the pages come in quickly, and the helpers leave when they are in): SHIM_LINE is
# the guard's line then, SHIM_DAEMON its daemon, SHIM_DATA the data dir, SHIM_BEFORE its counter
# before the restore.
shim_lazy_restore() {
	local shim=$1 name=$2
	CT_WORKLOAD_MIB=$3 start_container "$BUILD/stasis-$shim" "$name"
	SHIM_DATA=$CT_BASE/$name/data
	run "$BUILD/stasis-$shim" checkpoint --image-path "$OUT/img-$name" "$name"
	assert_success
	SHIM_BEFORE=$(read_counter "$SHIM_DATA")
	cd "$CT_BASE/$name/bundle"
	run "$BUILD/stasis-$shim" restore --image-path "$OUT/img-$name" --bundle . --lazy-pages -d "$name"
	SHIM_LINE=$(cat "/run/stasis/@lazy/$name")
	SHIM_DAEMON=$(echo "$SHIM_LINE" | sed -n 's/.*criu lazy-pages \([0-9]*\).*/\1/p')
	kill -STOP "$SHIM_DAEMON"
	cd - >/dev/null
	assert_success
	assert_equal "$("$shim" state "$name" | jq -r .status)" running
	[ ! -e "/run/stasis/$name" ]
}

@test "stasis-crun restore --lazy-pages (runc's flag): crun owns the container, the guard's line is in /run/stasis/@lazy" {
	ensure_crun_cgroups
	shim_lazy_restore crun lz-shim 512
	data=$SHIM_DATA
	# the guard joins crun's memory cgroup of the container, whatever crun named it
	guard=$(echo "$SHIM_LINE" | sed -n 's/.*guard \([0-9]*\).*/\1/p')
	wait_for 50 same_memory_cgroup "$guard" "$(crun state lz-shim | jq -r .pid)"
	kill -CONT "$SHIM_DAEMON"
	wait_for 200 grep -q '^complete$' /run/stasis/@lazy/lz-shim
	wait_for 50 counter_above "$data" $((SHIM_BEFORE + 3))
	run verify_workload "$data" "$(crun state lz-shim | jq -r .pid)"
	assert_output --regexp '^OK [0-9]+$'
	# crun's container, crun's delete: the line stays while crun knows it, then stasis gc removes it
	run "$STASIS" gc
	assert_success
	[ -e /run/stasis/@lazy/lz-shim ]
	crun delete -f lz-shim
	run "$STASIS" gc
	assert_success
	assert_output --partial "removed \`/run/stasis/@lazy/lz-shim\`: the lazy restore's line of a container that is gone"
	[ ! -e /run/stasis/@lazy/lz-shim ]
}

@test "stasis-runc restore --lazy-pages (runc's flag): runc owns the container, the guard's line is in /run/stasis/@lazy" {
	shim_lazy_restore runc lz-shimr 256
	data=$SHIM_DATA
	re='^fetching: container [0-9]+, guard [0-9]+, watchdog [0-9]+, criu lazy-pages [0-9]+$'
	[[ $SHIM_LINE =~ $re ]]
	kill -CONT "$SHIM_DAEMON"
	wait_for 200 grep -q '^complete$' /run/stasis/@lazy/lz-shimr
	wait_for 50 counter_above "$data" $((SHIM_BEFORE + 3))
	run verify_workload "$data" "$(runc state lz-shimr | jq -r .pid)"
	assert_output --regexp '^OK [0-9]+$'
	runc delete -f lz-shimr
	run "$STASIS" gc
	assert_output --partial "removed \`/run/stasis/@lazy/lz-shimr\`"
}

# two hosts, as far as the network goes: a namespace each, joined by a veth pair (entered with
# nsenter: `ip netns exec` would also remount /sys, and the cgroup hierarchies under it with it)
two_hosts() {
	ip netns add stasis-mig-src
	ip netns add stasis-mig-dst
	ip link add stasis-mig-a netns stasis-mig-src type veth peer name stasis-mig-b netns stasis-mig-dst
	ip -n stasis-mig-src addr add 10.251.7.1/24 dev stasis-mig-a
	ip -n stasis-mig-dst addr add 10.251.7.2/24 dev stasis-mig-b
	for ns in stasis-mig-src stasis-mig-dst; do
		ip -n "$ns" link set lo up
	done
	ip -n stasis-mig-src link set stasis-mig-a up
	ip -n stasis-mig-dst link set stasis-mig-b up
}

@test "migration: checkpoint --page-server on one host, restore --page-server --lazy-pages on the other: it runs, every page comes over, checked, and the server ends" {
	two_hosts
	CT_WORKLOAD_MIB=256 start_container runc lz-mig
	data=$CT_BASE/lz-mig/data
	before=$(read_counter "$data")
	token=abcdefghijklmnopqrstuvwxyz012345
	nsenter --net=/run/netns/stasis-mig-src "$STASIS" checkpoint --export "$OUT/mig.tar.zst" \
		--page-server 10.251.7.1:7771 --page-server-token "$token" lz-mig 2>"$OUT/server.err" &
	SERVER=$!
	wait_for 300 grep -q "serving the archive on 10.251.7.1:7771" "$OUT/server.err"
	# a wrong token gets nothing
	run nsenter --net=/run/netns/stasis-mig-dst "$STASIS" restore --page-server 10.251.7.1:7771 \
		--page-server-token "${token%?}X" --name lz-mig --runtime none --lazy-pages \
		--rootfs-base "$CT_BASE/image" --mount "/data=$data" --state-dir "$STATE/lz-mig"
	assert_failure
	assert_output --partial "page server \`10.251.7.1:7771\`"
	[ ! -e /run/stasis/lz-mig ]
	run nsenter --net=/run/netns/stasis-mig-dst "$STASIS" restore --page-server 10.251.7.1:7771 \
		--page-server-token "$token" --name lz-mig --runtime none --lazy-pages \
		--rootfs-base "$CT_BASE/image" --mount "/data=$data" --state-dir "$STATE/lz-mig"
	assert_success
	wait_for 300 lazy_status_is lz-mig complete
	# the server heard that every page is in, and ended
	wait_for 50 pid_gone "$SERVER"
	wait "$SERVER"
	wait_for 50 counter_above "$data" $((before + 3))
	run verify_workload "$data" "$(ct_pid lz-mig)"
	assert_output --regexp '^OK [0-9]+$'
	# the replica is as long as the archive, but holds only what was fetched: every chunk once
	[ "$(stat -c %s "$STATE/lz-mig/archive-replica")" = "$(stat -c %s "$OUT/mig.tar.zst")" ]
	echo "replica: $(du -k "$STATE/lz-mig/archive-replica"), archive: $(du -k "$OUT/mig.tar.zst")"
	[ "$(du -k "$STATE/lz-mig/archive-replica" | cut -f1)" -le $(($(du -k "$OUT/mig.tar.zst" | cut -f1) + 64)) ]
}

# a CA, and certificates it signed: NAME.pem and NAME.key, the subject's IP address in the name
tls_cert() {
	local name=$1 ip=$2 ca=${3:-ca}
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$OUT/$name.key" \
		-out "$OUT/$name.csr" -subj "/CN=$name" 2>/dev/null
	printf 'subjectAltName=IP:%s\n' "$ip" >"$OUT/$name.ext"
	openssl x509 -req -in "$OUT/$name.csr" -CA "$OUT/$ca.pem" -CAkey "$OUT/$ca.key" -CAcreateserial \
		-days 2 -extfile "$OUT/$name.ext" -out "$OUT/$name.pem" 2>/dev/null
}
tls_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-keyout "$OUT/$1.key" -out "$OUT/$1.pem" -subj "/CN=stasis test $1" 2>/dev/null
}
# mig_restore FLAG...: the destination's lazy restore of lz-tls from the source's server
mig_restore() {
	run nsenter --net=/run/netns/stasis-mig-dst "$STASIS" restore --page-server 10.251.7.1:7772 \
		--page-server-token "$TLS_TOKEN" --name lz-tls --runtime none --lazy-pages \
		--rootfs-base "$CT_BASE/image" --mount "/data=$CT_BASE/lz-tls/data" --state-dir "$STATE/lz-tls" "$@"
}

@test "migration over TLS: only a client that trusts the server's CA, and has a certificate of the one the server names, gets the pages" {
	command -v openssl >/dev/null || fail "openssl (the CLI) makes the test's certificates"
	two_hosts
	tls_ca ca
	tls_ca other
	tls_cert server 10.251.7.1
	tls_cert client 10.251.7.2
	tls_cert stranger 10.251.7.2 other
	CT_WORKLOAD_MIB=128 start_container runc lz-tls
	data=$CT_BASE/lz-tls/data
	before=$(read_counter "$data")
	TLS_TOKEN=abcdefghijklmnopqrstuvwxyz012345
	nsenter --net=/run/netns/stasis-mig-src "$STASIS" checkpoint --export "$OUT/tls.tar.zst" \
		--page-server 10.251.7.1:7772 --page-server-token "$TLS_TOKEN" --tls-cert "$OUT/server.pem" \
		--tls-key "$OUT/server.key" --tls-cacert "$OUT/ca.pem" lz-tls 2>"$OUT/server.err" &
	SERVER=$!
	wait_for 300 grep -q "serving the archive on 10.251.7.1:7772 over TLS" "$OUT/server.err"
	# plain TCP to a TLS server: refused, and told why it may be
	mig_restore
	assert_failure
	assert_output --partial "not a stasis archive server (or one with TLS"
	# a server whose certificate is not of the CA the client trusts: not even the hello
	mig_restore --tls-cacert "$OUT/other.pem" --tls-cert "$OUT/client.pem" --tls-key "$OUT/client.key"
	assert_failure
	assert_output --partial "TLS handshake: its certificate: self-signed certificate in certificate chain"
	# no certificate of ours, or one of another CA: the server says no
	mig_restore --tls-cacert "$OUT/ca.pem"
	assert_failure
	assert_output --partial "certificate required (does it want a certificate of ours"
	mig_restore --tls-cacert "$OUT/ca.pem" --tls-cert "$OUT/stranger.pem" --tls-key "$OUT/stranger.key"
	assert_failure
	assert_output --partial "unknown ca"
	[ ! -e /run/stasis/lz-tls ]
	kill -0 "$SERVER"
	# the right CA both ways: it runs, every page comes over TLS, checked, and the server ends
	mig_restore --tls-cacert "$OUT/ca.pem" --tls-cert "$OUT/client.pem" --tls-key "$OUT/client.key"
	assert_success
	wait_for 300 lazy_status_is lz-tls complete
	wait_for 50 pid_gone "$SERVER"
	wait "$SERVER"
	wait_for 50 counter_above "$data" $((before + 3))
	run verify_workload "$data" "$(ct_pid lz-tls)"
	assert_output --regexp '^OK [0-9]+$'
}
