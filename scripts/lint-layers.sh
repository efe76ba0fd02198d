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
pb=$(grep -lE '#include ".*\.pb-c\.h"' common/*.[ch] oci/*.[ch] mounts/*.[ch] lsm/*.[ch] engine/*.[ch] engine/*/*.[ch] runtime-hooks/*.[ch] 2>/dev/null |
	grep -vE '^engine/(criu/rpc|images/reader)\.c$')
if [ -n "$pb" ]; then
	echo "lint-layers: only engine/criu/rpc.c and engine/images/reader.c include *.pb-c.h: $pb"
	bad=1
fi
# design.md: no sprintf, no unchecked atoi
raw=$(grep -nE '\b(sprintf|atoi|usleep)\(' common/*.c oci/*.c mounts/*.c lsm/*.c engine/*.c engine/*/*.c runtime-hooks/*.c 2>/dev/null)
if [ -n "$raw" ]; then
	echo "lint-layers: sprintf/atoi/usleep are not used in stasis: $raw"
	bad=1
fi
# engine/'s sub-folders include each other only downwards: a folder-level include cycle fails
folder_cycles() { # root dir of a tree: prints the cycle and returns 1 when there is one
	local edges
	edges=$(cd "$1" && grep -oE '#include "engine/[^"]+"' engine/*.[ch] engine/*/*.[ch] 2>/dev/null |
		sed -E 's#^(engine(/[a-z-]+)?)/[^/:]+:\#include "(engine(/[a-z-]+)?)/[^/"]+"#\1 \3#' |
		awk '$1 != $2' | sort -u)
	[ -z "$edges" ] && return 0
	local out
	out=$(echo "$edges" | tsort 2>&1 >/dev/null)
	if [ -n "$out" ]; then
		echo "$out"
		return 1
	fi
	return 0
}
if ! cycle=$(folder_cycles .); then
	echo "lint-layers: engine/ folders include each other in a cycle (arrows go only downwards):"
	echo "$cycle"
	bad=1
fi
# the check itself must catch a cycle: two folders that include each other
selftest=$(mktemp -d)
mkdir -p "$selftest/engine/a" "$selftest/engine/b"
echo '#include "engine/b/b.h"' >"$selftest/engine/a/a.c"
echo '#include "engine/a/a.h"' >"$selftest/engine/b/b.c"
if folder_cycles "$selftest" >/dev/null; then
	echo "lint-layers: the folder cycle check missed engine/a <-> engine/b"
	bad=1
fi
rm -rf "$selftest"
[ $bad = 0 ] && echo "lint-layers: ok"
exit $bad
