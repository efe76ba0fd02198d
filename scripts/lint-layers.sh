#!/bin/bash
# The include rules of design.md: each layer includes only what sits below it, and each third-party
# library stays in its one module.
set -u
cd "$(dirname "$0")/.."
bad=0
check() { # folder, forbidden include pattern, why
	local hits
	hits=$(grep -nE "#include [<\"]($2)" $1/*.[ch] 2>/dev/null)
	if [ -n "$hits" ]; then
		echo "lint-layers: $3:"
		echo "$hits"
		bad=1
	fi
}
check common 'oci/|mounts/|lsm/|engine/|runtime-hooks/|yajl|protobuf|archive|zstd|openssl|selinux|sys/apparmor|netlink|sys/capability' "common/ uses libc only"
check oci 'mounts/|lsm/|engine/|runtime-hooks/|protobuf|archive|zstd|openssl|selinux|sys/apparmor|netlink' "oci/ may use common/ and yajl"
check mounts 'lsm/|engine/|runtime-hooks/|yajl|protobuf|archive|zstd|openssl|selinux|sys/apparmor|netlink' "mounts/ may use common/ and oci/ types"
check lsm 'mounts/|engine/|runtime-hooks/|yajl|protobuf|archive|zstd|openssl|netlink' "lsm/ may use common/, oci/ types, libselinux, libapparmor"
check runtime-hooks 'common/(error|xalloc|fs|parse)|oci/|mounts/|lsm/|engine/|yajl|protobuf|archive|zstd|openssl|selinux|sys/apparmor|netlink' "runtime-hooks/ sees include/stasis.h and common/cleanup.h only"
# only the RPC client and the image reader see generated protobuf-c code
pb=$(grep -lE '#include ".*\.pb-c\.h"' common/*.[ch] oci/*.[ch] mounts/*.[ch] lsm/*.[ch] engine/*.[ch] runtime-hooks/*.[ch] 2>/dev/null |
	grep -vE '^engine/(rpc-client|image-reader)\.c$')
if [ -n "$pb" ]; then
	echo "lint-layers: only engine/rpc-client.c and engine/image-reader.c include *.pb-c.h: $pb"
	bad=1
fi
# design.md: no sprintf, no unchecked atoi
raw=$(grep -nE '\b(sprintf|atoi|usleep)\(' common/*.c oci/*.c mounts/*.c lsm/*.c engine/*.c runtime-hooks/*.c 2>/dev/null)
if [ -n "$raw" ]; then
	echo "lint-layers: sprintf/atoi/usleep are not used in stasis: $raw"
	bad=1
fi
[ $bad = 0 ] && echo "lint-layers: ok"
exit $bad
