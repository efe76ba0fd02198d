# Helpers shared by the bats tests and the benchmarks (no bats needed).

# waits until a command succeeds, at most $1 tenths of a second
wait_for() {
	local n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

pid_gone() {
	[ ! -e "/proc/$1" ]
}

read_counter() {
	local v
	v=$(cat "$1/counter" 2>/dev/null) || return 1
	echo $((10#$v))
}

counter_above() {
	local c
	c=$(read_counter "$1") || return 1
	[ "$c" -gt "$2" ]
}


# asks the workload in dir $1 (pid $2) to verify itself; prints its answer
verify_workload() {
	rm -f "$1/verify"
	kill -USR1 "$2"
	wait_for 100 test -s "$1/verify" || { echo "no answer"; return 1; }
	cat "$1/verify"
}

# chunk_digests FILE: the sha256 of each 4 MiB chunk, one a line (what the manifest's .chunks lists)
chunk_digests() {
	split -b 4194304 --filter='sha256sum' "$1" | cut -d' ' -f1
}

# member_digest FILE: the digest stasis.manifest (format 2) records for a member with FILE's bytes:
# its sha256 up to one chunk (4 MiB), else the sha256 of its chunks' binary sha256s in order
# (docs/archive-format.md), with coreutils alone
member_digest() {
	if [ "$(stat -c %s "$1")" -le 4194304 ]; then
		sha256sum <"$1" | cut -d' ' -f1
	else
		chunk_digests "$1" | tr -d '\n' | tr 'a-f' 'A-F' | basenc --base16 -d | sha256sum | cut -d' ' -f1
	fi
}
