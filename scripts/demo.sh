#!/bin/bash
# make demo: checkpoint a live, self-verifying process through stasis' own CRIU RPC client, restore
# it, and show that it carried on where it stopped.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build}
[ "$(id -u)" = 0 ] || { echo "demo: CRIU needs root" >&2; exit 1; }
if [ -z "${STASIS_CRIU:-}" ]; then
	[ -x "$top/.deps/criu/bin/criu" ] || { echo "demo: run 'make deps' first" >&2; exit 1; }
	export STASIS_CRIU=$top/.deps/criu/bin/criu
fi
work=$(mktemp -d /tmp/stasis-demo-XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
ms() { date +%s%3N; }
counter() { echo $((10#$(cat "$work/counter"))); }

"$build/stasis" check
"$build/integration/workload" -m 256 -d "$work" -p "$work/pid"
while [ ! -s "$work/pid" ]; do sleep 0.1; done
pid=$(cat "$work/pid")
sleep 1
echo "1. workload pid $pid fills 256 MiB with a pattern and counts every 100 ms: counter $(counter)"

t0=$(ms)
"$build/integration/stasis-proc" dump "$pid" "$work/images"
t1=$(ms)
while [ -e "/proc/$pid" ]; do sleep 0.05; done
before=$(counter)
echo "2. checkpointed in $((t1 - t0)) ms into $(du -sh "$work/images" | cut -f1) of images; the process is gone, counter stopped at $before"

sleep 1
t0=$(ms)
pid=$("$build/integration/stasis-proc" restore "$work/images")
t1=$(ms)
echo "3. restored as pid $pid in $((t1 - t0)) ms"
sleep 1
after=$(counter)
echo "4. one second later the counter is $after (it went on from $before)"

rm -f "$work/verify"
kill -USR1 "$pid"
while [ ! -s "$work/verify" ]; do sleep 0.05; done
echo "5. the workload checked its memory, its open file and its counter: $(cat "$work/verify")"
grep -q '^OK' "$work/verify"
