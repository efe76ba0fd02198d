#!/bin/bash
# make demo: a runc container with a self-verifying workload is checkpointed into an archive,
# restored under a new name, and checks itself.  A short timeline at the end.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$top/build}
STASIS=$BUILD/stasis
WORKLOAD=$BUILD/integration/workload
[ "$(id -u)" = 0 ] || { echo "demo: containers and CRIU need root" >&2; exit 1; }
if [ -z "${STASIS_CRIU:-}" ]; then
	[ -x "$top/.deps/criu/bin/criu" ] || { echo "demo: run 'make deps' first" >&2; exit 1; }
	export STASIS_CRIU=$top/.deps/criu/bin/criu
fi
export STASIS_CT_BASE=${STASIS_CT_BASE:-/tmp/stasis-demo}
source "$top/integration/common.bash"
source "$top/integration/containers.bash"
out=$(mktemp -d /tmp/stasis-demo-out-XXXXXX)
cleanup() {
	runc delete -f demo-restored >/dev/null 2>&1 || true
	umount "$out/state/rootfs" 2>/dev/null || true
	stop_container demo
	rm -rf "$out"
}
trap cleanup EXIT
ms() { date +%s%N | cut -b1-13; }
timeline=()
step() { timeline+=("$(printf '%-44s %6s ms' "$1" "$2")"); }

t0=$(ms)
start_container runc demo
data=$CT_BASE/demo/data
step "start runc container 'demo' (32 MiB workload)" $(($(ms) - t0))
runc exec demo sh -c 'echo "written before the checkpoint" > /etc/demo-note'
echo "1. container 'demo' runs: its workload fills 32 MiB with a pattern and counts: $(read_counter "$data")"

t0=$(ms)
"$STASIS" checkpoint --export "$out/demo.tar.zst" demo
step "stasis checkpoint --export (zstd)" $(($(ms) - t0))
before=$(read_counter "$data")
size=$(du -h "$out/demo.tar.zst" | cut -f1)
echo "2. checkpointed into $out/demo.tar.zst ($size); 'demo' is gone, its counter stopped at $before"
if "$STASIS" inspect --help >/dev/null 2>&1; then
	"$STASIS" inspect "$out/demo.tar.zst"
else
	echo "   archive members: $(tar -tf "$out/demo.tar.zst" | grep -v '^checkpoint/.' | tr '\n' ' ')"
fi
stop_container_keep_data demo

t0=$(ms)
"$STASIS" restore --import "$out/demo.tar.zst" --name demo-restored --state-dir "$out/state" \
	--rootfs-base "$CT_BASE/image" --mount "/data=$data" >/dev/null
step "stasis restore --import --name demo-restored" $(($(ms) - t0))
pid=$(runc state demo-restored | jq -r .pid)
echo "3. restored as 'demo-restored' (runc owns it: $(runc state demo-restored | jq -r .status), pid $pid)"
wait_for 50 counter_above "$data" $((before + 5))
echo "4. its counter went on from $before to $(read_counter "$data"); /etc/demo-note: $(runc exec demo-restored cat /etc/demo-note)"

t0=$(ms)
answer=$(verify_workload "$data" "$pid")
step "workload self-check" $(($(ms) - t0))
echo "5. the workload checked its memory, its open file and its counter: $answer"
echo
echo "timeline (archive $size):"
printf '  %s\n' "${timeline[@]}"
[[ $answer == OK* ]]
