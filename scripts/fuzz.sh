#!/bin/bash
# make fuzz: runs the image-reader fuzzer for FUZZ_TIME seconds from a seed corpus of real CRIU
# images (unit/data/images, each prefixed with the byte that picks its reader), then replays the
# corpus it grew.  A crash leaves its input in build-fuzz/ and fails.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$(realpath "$1")
work=$top/build-fuzz/corpus
seeds=$top/build-fuzz/seeds
rm -rf "$seeds"
mkdir -p "$work" "$seeds"
kind() { # the reader index of fuzz/image-reader.c for an image name
	case $1 in
	inventory.img) echo 0 ;; pstree.img) echo 1 ;; core-*) echo 2 ;; ids-*) echo 3 ;; fs-*) echo 4 ;;
	mm-*) echo 5 ;; pagemap-*) echo 6 ;; fdinfo-*) echo 7 ;; files.img) echo 8 ;; mountpoints-*) echo 9 ;;
	*) echo 10 ;;
	esac
}
for f in "$top"/unit/data/images/*; do
	name=$(basename "$f")
	{ printf "\\x$(printf %02x "$(kind "$name")")"; cat "$f"; } >"$seeds/$name"
done
cd "$top/build-fuzz"
"$bin" -max_total_time="${FUZZ_TIME:-60}" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 "$work" "$seeds" 2>&1 | tail -n 12
echo "fuzz: $(ls "$work" | wc -l) inputs in the corpus, no crash"
