#!/bin/bash
# make fuzz: runs each libFuzzer target given (build-fuzz/fuzz-<target>) for FUZZ_TIME seconds, from
# its seed corpus of real inputs, then on to the corpus it grew in earlier runs
# (build-fuzz/corpus/<target>).  A crash, a leak or a timeout leaves its input in
# build-fuzz/<target>-crash-... and fails.
#   image-reader  CRIU images of unit/data/images, each prefixed with the byte that picks its reader
#   archive-walk  fuzz/seeds/archive-walk: archives our writer wrote (plain, zstd, a sparse page image)
#   oci-json      fuzz/seeds/oci-json: config.json, runc's state, the archive's JSON members
#   mountinfo     fuzz/seeds/mountinfo: a real /proc/PID/mountinfo
#   toml          fuzz/seeds/toml: Debian's containers.conf, `containerd config default`, a crio.conf
#                 with a stasis handler, TOML's string and table forms
#   archive-serve fuzz/seeds/archive-serve: a migration client's token and requests (read, out of
#                 range, bye, a wrong token)
# fuzz/seeds is written by fuzz/make-seeds.c (its header says how) from unit/data.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
[ $# -gt 0 ] || { echo "usage: fuzz.sh build-fuzz/fuzz-<target>..." >&2; exit 2; }

kind() { # the reader index of fuzz/image-reader.c for an image name
	case $1 in
	inventory.img) echo 0 ;; pstree.img) echo 1 ;; core-*) echo 2 ;; ids-*) echo 3 ;; fs-*) echo 4 ;;
	mm-*) echo 5 ;; pagemap-*) echo 6 ;; fdinfo-*) echo 7 ;; files.img) echo 8 ;; mountpoints-*) echo 9 ;;
	*) echo 10 ;;
	esac
}

# the seed directory of a target
seeds_of() {
	local target=$1 dir
	if [ "$target" = image-reader ]; then
		dir=$top/build-fuzz/seeds/image-reader
		rm -rf "$dir"
		mkdir -p "$dir"
		for f in "$top"/unit/data/images/*; do
			name=$(basename "$f")
			{ printf "\\x$(printf %02x "$(kind "$name")")"; cat "$f"; } >"$dir/$name"
		done
	else
		dir=$top/fuzz/seeds/$target
	fi
	[ -n "$(ls -A "$dir" 2>/dev/null)" ] || { echo "fuzz: no seeds for $target in $dir" >&2; exit 1; }
	echo "$dir"
}

bins=()
for b in "$@"; do
	bins+=("$(realpath "$b")")
done
cd "$top/build-fuzz"
for bin in "${bins[@]}"; do
	target=$(basename "$bin")
	target=${target#fuzz-}
	seeds=$(seeds_of "$target")
	work=$top/build-fuzz/corpus/$target
	mkdir -p "$work"
	echo "== fuzz $target for ${FUZZ_TIME:-60} s"
	log=$top/build-fuzz/$target.log
	# the seeds are read, never written: new inputs go to the corpus dir, the first one given
	if ! "$bin" -max_total_time="${FUZZ_TIME:-60}" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$top/build-fuzz/$target-" -print_final_stats=1 "$work" "$seeds" >"$log" 2>&1; then
		tail -n 80 "$log"
		echo "fuzz $target: FAILED (the whole log: $log; the input: build-fuzz/$target-*)" >&2
		exit 1
	fi
	grep -E '^(Done|stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb))' "$log"
	echo "fuzz $target: $(ls "$work" | wc -l) inputs in the corpus, no crash"
done
