# Real containers for the integration tests: a busybox image built from Debian's busybox-static,
# mounted as an overlay per container, runc's default spec plus the workload and a bind-mounted
# data dir.  stdio is /dev/null: CRIU cannot dump an fd to a host file outside the container.

CT_BASE=${STASIS_CT_BASE:-/tmp/stasis-ct}

build_image() {
	local img=$CT_BASE/image
	[ -x "$img/bin/workload" ] && cmp -s "$img/bin/workload" "$WORKLOAD" && [ -L "$img/bin/nc" ] && return 0
	rm -rf "$img"
	mkdir -p "$img"/{bin,etc,tmp,data,proc,sys,dev,run}
	cp /bin/busybox "$img/bin/busybox"
	for c in sh ls cat echo rm ln sleep mkdir chmod touch nc ip; do ln -sf busybox "$img/bin/$c"; done
	cp "$WORKLOAD" "$img/bin/workload"
	echo "to be deleted" >"$img/etc/tobedeleted"
	echo "base" >"$img/etc/base"
}

# ensure_crun_cgroups: crun refuses the hybrid layout until hugetlb has its own v1 hierarchy
ensure_crun_cgroups() {
	if ! grep -q ' /sys/fs/cgroup/hugetlb ' /proc/self/mountinfo; then
		mkdir -p /sys/fs/cgroup/hugetlb
		mount -t cgroup -o hugetlb none /sys/fs/cgroup/hugetlb
	fi
}

# start_container RUNTIME NAME [plain]: a running container with its bundle in $CT_BASE/NAME; its
# rootfs is an overlay on the image, or with "plain" a copy of the image
start_container() {
	local rt=$1 name=$2 dir=$CT_BASE/$2
	build_image
	[ "$rt" = crun ] && ensure_crun_cgroups
	mkdir -p "$dir"/{upper,work,rootfs,data,bundle}
	if [ "${3:-}" = plain ]; then
		cp -a "$CT_BASE/image/." "$dir/rootfs/"
	else
		mount -t overlay overlay -o "lowerdir=$CT_BASE/image,upperdir=$dir/upper,workdir=$dir/work" "$dir/rootfs"
	fi
	# CT_SHARED_ROOTFS: host mounts under the rootfs later reach the container (with rslave propagation)
	[ -n "${CT_SHARED_ROOTFS:-}" ] && mount --make-shared "$dir/rootfs"
	(cd "$dir/bundle" && runc spec)
	# CT_PRELUDE: shell run before the workload, whose background jobs stay the workload's children
	local args
	# CT_WORKLOAD_ARGS: more workload flags (-l: hold a flock); CT_STDOUT: the container's stdout;
	# CT_JQ: one more jq filter for config.json
	args=$(jq -cn --arg mib "${CT_WORKLOAD_MIB:-32}" --arg pre "${CT_PRELUDE:-}" --arg extra "${CT_WORKLOAD_ARGS:-}" \
		'(["/bin/workload","-m",$mib,"-d","/data"] + ($extra | split(" ") | map(select(. != "")))) as $w
		| if $pre == "" then $w else ["/bin/sh","-c",($pre + "\nexec " + ($w | join(" ")))] end')
	jq --arg root "$dir/rootfs" --arg data "$dir/data" --argjson args "$args" \
		'.root.path=$root | .root.readonly=false | .process.terminal=false
		| .process.args=$args
		| .mounts += [{"destination":"/data","type":"bind","source":$data,"options":["rbind","rw"]}]
		| '"${CT_JQ:-.}" \
		"$dir/bundle/config.json" >"$dir/bundle/config.json.new"
	mv "$dir/bundle/config.json.new" "$dir/bundle/config.json"
	(cd "$dir/bundle" && "$rt" run -d "$name" </dev/null >"${CT_STDOUT:-/dev/null}" 2>/dev/null) || {
		cat "$dir/run.err"
		return 1
	}
	wait_for 600 counter_above "$dir/data" 2
}

stop_container() {
	local name=$1 dir=$CT_BASE/$1
	for rt in runc crun; do
		"$rt" delete -f "$name" >/dev/null 2>&1 || true
	done
	umount "$dir/rootfs" 2>/dev/null || true
	rm -rf "$dir"
}

# assert_counting NAME STEPS: runc says the container runs, and its counter moves on by STEPS
assert_counting() {
	local dir=$CT_BASE/$1 c
	assert_equal "$(runc state "$1" | jq -r .status)" running
	c=$(read_counter "$dir/data")
	wait_for 50 counter_above "$dir/data" $((c + $2))
}

container_pid() {
	"$1" state "$2" | jq -r .pid
}

# stop_container_keep_data NAME: the container is gone, its data dir stays (a restore binds it again)
stop_container_keep_data() {
	local dir=$CT_BASE/$1
	runc delete -f "$1" >/dev/null 2>&1 || true
	crun delete -f "$1" >/dev/null 2>&1 || true
	umount "$dir/rootfs" 2>/dev/null || true
}

# restore_as ARCHIVE NAME DATA [flags]: `run` stasis restore --import with a fresh overlay on the
# image, the data dir bound at /data, state in $STATE/NAME
restore_as() {
	local archive=$1 name=$2 data=$3
	shift 3
	run "$STASIS" restore --import "$archive" --name "$name" --state-dir "$STATE/$name" \
		--rootfs-base "$CT_BASE/image" --mount "/data=$data" "$@"
}

# require_podman: root, CRIU and podman; OUT a fresh scratch dir, STATE the restores' state dirs,
# podman set up there (use_podman)
require_podman() {
	require_criu
	command -v podman >/dev/null || skip_or_fail "podman is not installed"
	OUT=$(mktemp -d /tmp/stasis-out-XXXXXX)
	STATE=$OUT/state
	use_podman "$OUT"
}

# use_podman DIR: podman as this host runs it (cgroupfs, file events, runc, modest ulimits: root
# lacks CAP_SYS_RESOURCE), its runc finding the CRIU that can dump on this kernel; IMAGE is the
# busybox image imported into podman
use_podman() {
	cat >"$1/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
	export CONTAINERS_CONF=$1/containers.conf
	export PATH=$(dirname "$STASIS_CRIU"):$PATH
	IMAGE=localhost/stasis-busybox:test
}
