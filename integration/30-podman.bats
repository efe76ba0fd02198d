#!/usr/bin/env bats
# Interoperability with podman 4.3 (Debian 12): its checkpoint archives come back under plain runc.

load helpers
load containers

setup() {
	require_podman
}

teardown() {
	for n in pm-zst pm-gz; do
		"$STASIS" delete --force --state-dir "$STATE/$n" "$n" >/dev/null 2>&1 || true
		runc delete -f "$n" >/dev/null 2>&1 || true
		umount "$STATE/$n/rootfs" 2>/dev/null || true
	done
	podman rm -f pm1 >/dev/null 2>&1 || true
	podman image unmount "$IMAGE" >/dev/null 2>&1 || true
	rm -rf "$OUT"
}

@test "podman checkpoint --export (zstd and gzip) restores under plain runc with stasis and verifies" {
	build_image
	podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
	tar -C "$CT_BASE/image" -c . | podman import - "$IMAGE" >/dev/null
	mkdir -p "$OUT/data"
	podman run -d --network none --name pm1 -v "$OUT/data:/data" "$IMAGE" /bin/workload -m 32 -d /data
	wait_for 100 counter_above "$OUT/data" 2
	podman exec pm1 sh -c 'echo podman > /etc/newfile; echo shared > /dev/shm/marker'

	run podman container checkpoint --leave-running --export "$OUT/pm.tar.zst" --compress zstd pm1
	[ "$status" -eq 0 ] || echo "$output"
	assert_success
	cp -a "$OUT/data" "$OUT/data-zst"
	run podman container checkpoint --export "$OUT/pm.tar.gz" --compress gzip pm1
	assert_success
	before=$(read_counter "$OUT/data")
	file "$OUT/pm.tar.zst" | grep -qi zstandard
	file "$OUT/pm.tar.gz" | grep -qi gzip

	# the image's rootfs, fresh, as podman itself would use it
	base=$(podman image mount "$IMAGE")
	for comp in zst gz; do
		data=$OUT/data
		[ "$comp" = zst ] && data=$OUT/data-zst
		run "$STASIS" restore --import "$OUT/pm.tar.$comp" --name "pm-$comp" --runtime runc \
			--state-dir "$STATE/pm-$comp" --rootfs-base "$base" --mount "/data=$data"
		[ "$status" -eq 0 ] || show_criu_log "/run/stasis/@logs/pm-$comp.restore.log"
		assert_success
		assert_output --partial "no stasis.manifest"
		# podman's runtime files came fresh from stasis, not from podman's storage
		runc exec "pm-$comp" cat /etc/hostname | grep -qx "pm-$comp"
		runc exec "pm-$comp" cat /etc/newfile | grep -qx podman
		# /dev/shm's contents come from podman's devshm-checkpoint.tar
		runc exec "pm-$comp" cat /dev/shm/marker | grep -qx shared
		c=$(read_counter "$data")
		wait_for 50 counter_above "$data" $((c + 3))
		run verify_workload "$data" "$(runc state "pm-$comp" | jq -r .pid)"
		echo "pm-$comp: $output"
		assert_output --regexp '^OK [0-9]+$'
	done
	[ "$(read_counter "$OUT/data")" -gt "$before" ]
}
