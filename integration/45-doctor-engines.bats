#!/usr/bin/env bats
# stasis doctor on the host says whether podman, containerd and CRI-O are configured to run stasis
# (stasis-crun, stasis-runc), from configuration files written here: $CONTAINERS_CONF for podman,
# --config-root for all three.  No container runs.

load helpers

setup() {
	# the host report needs a CRIU (doctor asks it for its version)
	require_criu
	OUT=$(mktemp -d /tmp/stasis-engines-XXXXXX)
	mkdir -p "$OUT/bin"
	ln -s "$STASIS" "$OUT/bin/stasis-crun"
	ln -s "$STASIS" "$OUT/bin/stasis-runc"
	unset CONTAINERS_CONF
}

teardown() {
	rm -rf "$OUT"
}

# engine_findings ARGS...: the engine-* findings of stasis doctor --format json as "id: cause" lines
engine_findings() {
	"$STASIS" doctor --format json "$@" |
		jq -r '.findings[] | select(.id | startswith("engine-")) | .id + ": " + .cause'
}

@test "doctor engines: a containers.conf without stasis says that no runtime uses stasis and how to use it" {
	printf '[engine]\nruntime = "crun"\n' >"$OUT/containers.conf"
	CONTAINERS_CONF=$OUT/containers.conf run "$STASIS" doctor
	assert_success
	assert_output --partial "podman: default runtime crun; no runtime uses stasis (to use it: podman --runtime /usr/local/bin/stasis-crun"
	assert_output --partial "read \`$OUT/containers.conf\`"
	# an empty root: no file at all, podman's default runtime
	mkdir "$OUT/root"
	run engine_findings --config-root "$OUT/root"
	assert_success
	assert_output --partial "engine-podman: default runtime crun (podman's default); no runtime uses stasis"
	assert_output --partial "engine-containerd: no BinaryName names stasis"
	assert_output --partial "engine-crio: no runtime handler uses stasis"
	refute_output --partial "engine-podman-json"
}

@test "doctor engines: a stasis runtime in containers.conf is found; missing from runtime_supports_json, doctor says what that costs" {
	cat >"$OUT/containers.conf" <<-EOF
		[engine]
		runtime = "stasis-crun"
		[engine.runtimes]
		stasis-crun = [
		  "/nowhere/stasis-crun",  # podman takes the first that exists
		  "$OUT/bin/stasis-crun",
		]
	EOF
	CONTAINERS_CONF=$OUT/containers.conf run engine_findings
	assert_success
	assert_output --partial "engine-podman: default runtime stasis-crun (stasis); runtimes that use stasis: stasis-crun (\`$OUT/bin/stasis-crun\`)"
	assert_output --partial "engine-podman-json: stasis-crun is not in runtime_supports_json"
	CONTAINERS_CONF=$OUT/containers.conf run "$STASIS" doctor
	assert_success
	assert_output --partial 'fix: add "stasis-crun" to runtime_supports_json'
	# with the name in runtime_supports_json, nothing to fix
	sed -i 's/^runtime = "stasis-crun"$/&\nruntime_supports_json = ["crun", "runc", "stasis-crun"]/' "$OUT/containers.conf"
	CONTAINERS_CONF=$OUT/containers.conf run engine_findings
	assert_success
	assert_output --partial "engine-podman: default runtime stasis-crun (stasis)"
	refute_output --partial "engine-podman-json"
}

@test "doctor engines: containerd's BinaryName and a CRI-O runtime handler under --config-root" {
	root=$OUT/root
	mkdir -p "$root/etc/containerd" "$root/etc/crio/crio.conf.d" "$root/usr/local/bin"
	ln -s "$STASIS" "$root/usr/local/bin/stasis-runc"
	cat >"$root/etc/containerd/config.toml" <<-'EOF'
		version = 2
		[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
		  BinaryName = "/usr/local/bin/stasis-runc"
	EOF
	cat >"$root/etc/crio/crio.conf.d/50-stasis.conf" <<-'EOF'
		[crio.runtime.runtimes.stasis]
		runtime_path = "/usr/local/bin/stasis-runc"
		runtime_type = "oci"
		runtime_root = "/run/runc"
	EOF
	run engine_findings --config-root "$root"
	assert_success
	assert_output --partial 'engine-containerd: runtimes that use stasis (BinaryName): runc runs `/usr/local/bin/stasis-runc`'
	assert_output --partial 'engine-crio: runtime handlers that use stasis: stasis (`/usr/local/bin/stasis-runc`)'
	assert_output --partial "engine-crio-criu: enable_criu_support is not set"
	# a malformed file is named with its line, and the rest is still read
	printf '[crio.runtime]\nenable_criu_support = true\n[broken\n' >"$root/etc/crio/crio.conf"
	run engine_findings --config-root "$root"
	assert_success
	assert_output --partial 'not read: `/etc/crio/crio.conf`: line 3: a table header is not closed'
	assert_output --partial 'engine-crio: runtime handlers that use stasis: stasis'
}

@test "doctor engines: --config-root is for the host's report only" {
	run "$STASIS" doctor --config-root "$OUT" some-container
	assert_failure 2
	assert_output --partial "--config-root is for the host's report"
}
