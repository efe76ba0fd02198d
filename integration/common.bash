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
