# containerd 1.6 (Debian 12) for the integration tests: a private daemon (its own config.toml,
# root, state and socket under CTD_DIR), the busybox test image imported as an OCI archive, and
# a `ctr` bound to that daemon and the namespace `stasis-ctd`.  Nothing is shared with a system
# containerd but the fixed dir of the shims' sockets, /run/containerd/s (their names hash our
# address): runc's root is CTD_DIR/runc too.  Needs containers.bash (build_image).

CTD_NS=stasis-ctd
CTD_IMAGE=localhost/stasis-busybox:test

# ctr ARGS: ctr talking to the private daemon in the tests' namespace
ctr() {
	command ctr --address "$CTD_DIR/containerd.sock" --namespace "$CTD_NS" "$@"
}

# write_runtime_tracer PATH RUNTIME LOG: PATH becomes the shim's BinaryName; it appends what the
# shim gave it (argv, cwd, what fds 0-2 are, the environment) to LOG and execs RUNTIME
# under the same argv[0] base name, so a stasis-runc symlink keeps its personality
write_runtime_tracer() {
	local path=$1 rt=$2 log=$3
	cat >"$path" <<EOF
#!/bin/bash
fds="0=\$(readlink /proc/\$\$/fd/0) 1=\$(readlink /proc/\$\$/fd/1) 2=\$(readlink /proc/\$\$/fd/2)"
{
	printf 'argv:'
	printf ' %q' "\$@"
	printf '\n  env: PATH=%s\n  cwd: %s\n  fds: %s\n' "\$PATH" "\$PWD" "\$fds"
	printf '  env: GOMAXPROCS=%s TMPDIR=%s TTRPC_ADDRESS=%s LD_LIBRARY_PATH=%s STASIS_CRIU=%s\n' \
		"\$GOMAXPROCS" "\$TMPDIR" "\$TTRPC_ADDRESS" "\$LD_LIBRARY_PATH" "\$STASIS_CRIU"
	printf '  env names: %s\n' "\$(env | cut -d= -f1 | sort | tr '\n' ' ')"
} >>$(printf %q "$log")
exec -a $(printf %q "$(basename "$rt")") $(printf %q "$rt") "\$@"
EOF
	chmod +x "$path"
}

# start_containerd DIR RUNTIME: a private containerd in DIR whose runc shim runs RUNTIME (through
# the tracer DIR/bin/runtime, log DIR/runtime.log); CRIU is STASIS_CRIU, first in the daemon's
# PATH as `criu` (the shim passes its environment on: runc finds it there, stasis reads
# STASIS_CRIU).  Sets CTD_DIR, CTD_BINARY (what ctr run --runc-binary gets) and CTD_PID.
start_containerd() {
	CTD_DIR=$1
	local rt=$2
	mkdir -p "$CTD_DIR"/{bin,root,state,runc,tmp,opt}
	ln -sf "$STASIS_CRIU" "$CTD_DIR/bin/criu"
	CTD_BINARY=$CTD_DIR/bin/runtime
	write_runtime_tracer "$CTD_BINARY" "$rt" "$CTD_DIR/runtime.log"
	# The runc options below are what a CRI client (kubelet, crictl) gets; ctr ignores the CRI
	# section and sends its own options per container (ctr run --runc-binary/--runc-root), which
	# the checkpoint records and `ctr c restore` reuses.  The CRI plugin stays off here: it would
	# want CNI, and the tests use ctr.
	cat >"$CTD_DIR/config.toml" <<EOF
version = 2
root = "$CTD_DIR/root"
state = "$CTD_DIR/state"
temp = "$CTD_DIR/tmp"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
	"io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs",
	"io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp",
	"io.containerd.internal.v1.tracing"]

[grpc]
  address = "$CTD_DIR/containerd.sock"

[ttrpc]
  address = "$CTD_DIR/containerd.sock.ttrpc"

[debug]
  address = ""
  level = "debug"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$CTD_DIR/opt"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    BinaryName = "$CTD_BINARY"
    Root = "$CTD_DIR/runc"
    CriuPath = "$STASIS_CRIU"
EOF
	PATH=$CTD_DIR/bin:$PATH STASIS_CRIU=$STASIS_CRIU \
		setsid containerd --config "$CTD_DIR/config.toml" </dev/null >"$CTD_DIR/containerd.log" 2>&1 &
	CTD_PID=$!
	echo "$CTD_PID" >"$CTD_DIR/containerd.pid"
	wait_for 300 ctr version >/dev/null 2>&1 || {
		tail -n 30 "$CTD_DIR/containerd.log"
		return 1
	}
}

# ctd_run NAME [ctr run flags...]: a detached workload container named NAME from CTD_IMAGE with
# CTD_DIR/NAME/data bound at /data, run by CTD_BINARY; stdout and stderr go through the shim's
# pipes into CTD_DIR/NAME/out (a file logger that does not depend on ctr staying alive)
ctd_run() {
	local name=$1 data=$CTD_DIR/$1/data
	shift
	mkdir -p "$data"
	ctr run -d --runc-binary "$CTD_BINARY" --runc-root "$CTD_DIR/runc" \
		--log-uri "file://$CTD_DIR/$name/out" \
		--mount "type=bind,src=$data,dst=/data,options=rbind:rw" "$@" \
		"$CTD_IMAGE" "$name" /bin/workload -m "${CT_WORKLOAD_MIB:-32}" -d /data
}

# ctd_bundle [NAME]: the shim's bundle dir of task NAME, or the dir of all bundles
ctd_bundle() {
	echo "$CTD_DIR/state/io.containerd.runtime.v2.task/$CTD_NS${1:+/$1}"
}

# ctd_task_pid NAME: the pid of the task's init as containerd sees it
ctd_task_pid() {
	ctr t ls | awk -v n="$1" '$1 == n { print $2 }'
}

ctd_task_status() {
	ctr t ls | awk -v n="$1" '$1 == n { print $3 }'
}

# ctd_task_is NAME STATUS: containerd reports the task in STATUS (RUNNING, PAUSED, STOPPED)
ctd_task_is() {
	[ "$(ctd_task_status "$1")" = "$2" ]
}

# ctd_shim_pids [NAME]: the pids of the shims (1.6 writes no pid file) of this daemon's bundles,
# or of NAME's: a shim's cwd is its bundle
ctd_shim_pids() {
	local bundles p cwd
	bundles=$(ctd_bundle)
	for p in /proc/[0-9]*; do
		[ "$(cat "$p/comm" 2>/dev/null)" = containerd-shim ] || continue
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		if [ -n "${1:-}" ]; then
			[ "$cwd" = "$bundles/$1" ] && echo "${p#/proc/}"
		else
			case $cwd in "$bundles"/*) echo "${p#/proc/}" ;; esac
		fi
	done
}

# build_ctd_image: the busybox test image (build_image) as a one-layer OCI archive, imported
build_ctd_image() {
	build_image
	local oci=$CTD_DIR/oci blobs=$CTD_DIR/oci/blobs/sha256 layer config manifest
	mkdir -p "$blobs"
	tar -C "$CT_BASE/image" --numeric-owner --owner=0 --group=0 -cf "$CTD_DIR/layer.tar" .
	layer=$(sha256sum "$CTD_DIR/layer.tar" | cut -d' ' -f1)
	mv "$CTD_DIR/layer.tar" "$blobs/$layer"
	jq -cn --arg l "sha256:$layer" \
		'{architecture:"amd64",os:"linux",config:{Env:["PATH=/bin"],WorkingDir:"/"},
		rootfs:{type:"layers",diff_ids:[$l]}}' >"$CTD_DIR/config.json"
	config=$(sha256sum "$CTD_DIR/config.json" | cut -d' ' -f1)
	jq -cn --arg c "sha256:$config" --argjson cs "$(stat -c %s "$CTD_DIR/config.json")" \
		--arg l "sha256:$layer" --argjson ls "$(stat -c %s "$blobs/$layer")" \
		'{schemaVersion:2,mediaType:"application/vnd.oci.image.manifest.v1+json",
		config:{mediaType:"application/vnd.oci.image.config.v1+json",digest:$c,size:$cs},
		layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar",digest:$l,size:$ls}]}' \
		>"$CTD_DIR/manifest.json"
	mv "$CTD_DIR/config.json" "$blobs/$config"
	manifest=$(sha256sum "$CTD_DIR/manifest.json" | cut -d' ' -f1)
	jq -cn --arg m "sha256:$manifest" --argjson ms "$(stat -c %s "$CTD_DIR/manifest.json")" \
		--arg name "$CTD_IMAGE" \
		'{schemaVersion:2,manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json",
		digest:$m,size:$ms,annotations:{"io.containerd.image.name":$name},
		platform:{architecture:"amd64",os:"linux"}}]}' >"$oci/index.json"
	mv "$CTD_DIR/manifest.json" "$blobs/$manifest"
	echo '{"imageLayoutVersion":"1.0.0"}' >"$oci/oci-layout"
	tar -C "$oci" -cf "$CTD_DIR/image.tar" .
	rm -rf "$oci"
	ctr image import "$CTD_DIR/image.tar" >/dev/null
	ctr image ls -q | grep -qx "$CTD_IMAGE"
}

# stop_containerd: every task and container of the tests' namespace removed through the daemon,
# then the daemon and its shims killed, its mounts undone and CTD_DIR removed
stop_containerd() {
	[ -n "${CTD_DIR:-}" ] && [ -d "$CTD_DIR" ] || return 0
	local pid n
	if [ -n "${CTD_PID:-}" ] && kill -0 "$CTD_PID" 2>/dev/null; then
		# delete -f kills the task with SIGKILL and waits for its exit
		for n in $(ctr t ls -q 2>/dev/null); do
			ctr t delete -f "$n" >/dev/null 2>&1 || true
		done
		for n in $(ctr c ls -q 2>/dev/null); do
			ctr c rm "$n" >/dev/null 2>&1 || true
		done
		kill "$CTD_PID" 2>/dev/null || true
		wait_for 100 pid_gone "$CTD_PID" || kill -KILL "$CTD_PID" 2>/dev/null || true
	fi
	# shims outlive the daemon by design; ours are those working in one of our bundles.  A killed
	# shim leaves its socket, named in the bundle's `address`, in containerd's fixed
	# /run/containerd/s
	for pid in $(ctd_shim_pids); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for f in "$(ctd_bundle)"/*/address; do
		[ -s "$f" ] && rm -f "$(sed 's|^unix://||' "$f")"
	done
	# runc state of containers whose shim died first
	for n in $(runc --root "$CTD_DIR/runc/$CTD_NS" list -q 2>/dev/null); do
		runc --root "$CTD_DIR/runc/$CTD_NS" delete -f "$n" >/dev/null 2>&1 || true
	done
	# overlay rootfs and snapshot mounts, deepest first
	awk -v d="$CTD_DIR/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
	rm -rf "$CTD_DIR"
	CTD_DIR=
	# ctr's containers live in cgroup NAMESPACE/NAME; runc removed those, the parents stay
	rmdir /sys/fs/cgroup/*/"$CTD_NS" 2>/dev/null || true
	# the shims' socket dir and ctr's FIFO dir are fixed paths: removed when empty and no system
	# containerd uses them
	[ -e /run/containerd/containerd.sock ] ||
		rmdir /run/containerd/s /run/containerd/fifo /run/containerd 2>/dev/null || true
}
