/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Self-verifying workload for checkpoint/restore tests, in the manner of CRIU's zdtm tests.
 *
 *   workload [-m MIB] [-d DIR] [-p PIDFILE] [-l] [-u|-U SOCKET] [-z] [-s] [-c] [-f]
 *
 * Fills MIB MiB with a pattern derived from each page's index (incompressible; with -c
 * compressible, about 4:1 with zstd: half of each page holds 4 random bits a byte, half zeros), keeps DIR/keep open (known content),
 * and every 100 ms writes its counter into DIR/counter through an fd it keeps open (fixed-width
 * records, so the file's size never changes: CRIU checks open files' sizes on restore).  On SIGUSR1
 * it checks memory, the kept fd and the counter's continuity and writes "OK <count>" or
 * "CORRUPT <what>" to DIR/verify.  With -p it detaches into its own session first and writes its pid.
 * Memory also holds MARKER, for memory-search tests.  -z and -s add children in the task states
 * CRIU records apart from "alive": a zombie (comm "zombie", exited, never reaped) and a stopped task
 * (comm "stopped", holding DIR/stopped open, SIGSTOPped).  -f adds a child (comm "worker") with
 * memory of its own (MIB/2 MiB, other pages): SIGUSR1 to the parent reaches it too, and it writes
 * "OK" or "CORRUPT memory" to DIR/verify-worker.  A tree of two tasks with memory each.  On SIGUSR2
 * it forks a child then (comm "late") that checks the memory it inherited and writes "OK" or
 * "CORRUPT memory" to DIR/verify-late, then waits: a task born after a restore (a lazy one's pages
 * come in through a userfaultfd of the child's own).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define KEEP_TEXT "stasis workload: this file stays open across checkpoint and restore\n"

volatile char marker[64] = "STASIS-WORKLOAD-MARKER-7f3a9c";
static volatile sig_atomic_t verify_requested;
static volatile sig_atomic_t late_fork_requested;
/* -c: the pattern's words keep 4 bits of each byte, and a page's second half is zero */
static uint64_t word_mask = ~0ull;
static size_t random_words = PAGE / sizeof(uint64_t);

static void on_usr1(int sig)
{
	(void)sig;
	verify_requested = 1;
}

static uint64_t next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static uint64_t expected(uint64_t *s, size_t i)
{
	uint64_t v = next(s);
	return i < random_words ? v & word_mask : 0;
}

static void fill_page(uint64_t *p, size_t page)
{
	uint64_t s = 0x9e3779b97f4a7c15ull ^ (page + 1) * 0xbf58476d1ce4e5b9ull;
	for (size_t i = 0; i < PAGE / sizeof(uint64_t); i++)
		p[i] = expected(&s, i);
}

static int check_page(const uint64_t *p, size_t page)
{
	uint64_t s = 0x9e3779b97f4a7c15ull ^ (page + 1) * 0xbf58476d1ce4e5b9ull;
	for (size_t i = 0; i < PAGE / sizeof(uint64_t); i++)
		if (p[i] != expected(&s, i))
			return -1;
	return 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[4096], tmp[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0) {
		close(fd);
		return;
	}
	close(fd);
	rename(tmp, path);
}

/* connects to path (retrying while the listener comes up), or listens there and accepts one */
static int unix_link(const char *path, bool listener)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path))
		return -1;
	strcpy(a.sun_path, path);
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	if (s < 0)
		return -1;
	if (listener) {
		unlink(path);
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 1) < 0)
			return -1;
		return accept(s, NULL, NULL) < 0 ? -1 : 0;
	}
	for (int i = 0; i < 100; i++) {
		if (connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			return 0;
		struct timespec t = { 0, 50 * 1000 * 1000 };
		nanosleep(&t, NULL);
	}
	return -1;
}

/* a child named comm that exits at once (-z) or opens DIR/stopped and stops itself (-s) */
static int spawn(const char *comm, const char *dir)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid < 0 ? -1 : 0;
	prctl(PR_SET_NAME, comm);
	if (strcmp(comm, "zombie") == 0)
		_exit(0); /* the parent never waits: it stays a zombie */
	char path[4096];
	snprintf(path, sizeof(path), "%s/stopped", dir);
	if (open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644) < 0)
		_exit(1);
	raise(SIGSTOP);
	for (;;) /* if continued, it waits */
		pause();
}

static void on_usr2(int sig)
{
	(void)sig;
	late_fork_requested = 1;
}

/* SIGUSR2: a child that checks the parent's memory as it inherited it, once, then waits */
static void late_fork(const char *dir, const uint64_t *mem, size_t pages)
{
	if (fork() != 0)
		return;
	prctl(PR_SET_NAME, "late");
	const char *res = "OK\n";
	for (size_t i = 0; i < pages; i++)
		if (check_page(mem + i * (PAGE / sizeof(uint64_t)), i) < 0) {
			res = "CORRUPT memory\n";
			break;
		}
	write_file(dir, "verify-late", res);
	for (;;)
		pause();
}

/* -f's first page index: its pages are none of the parent's */
#define WORKER_PAGE_BASE (1u << 24)

/* -f: a child with pages of its own, checked on SIGUSR1 */
static pid_t spawn_worker(const char *dir, size_t pages)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_NAME, "worker");
	uint64_t *mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		_exit(1);
	for (size_t i = 0; i < pages; i++)
		fill_page(mem + i * (PAGE / sizeof(uint64_t)), WORKER_PAGE_BASE + i);
	for (;;) {
		pause();
		if (!verify_requested)
			continue;
		verify_requested = 0;
		const char *res = "OK\n";
		for (size_t i = 0; i < pages; i++)
			if (check_page(mem + i * (PAGE / sizeof(uint64_t)), WORKER_PAGE_BASE + i) < 0)
				res = "CORRUPT memory\n";
		write_file(dir, "verify-worker", res);
	}
}

int main(int argc, char **argv)
{
	size_t mib = 16;
	const char *dir = ".", *pidfile = NULL;
	bool lock = false;
	const char *connect_to = NULL, *listen_on = NULL;
	bool zombie = false, stopped = false, worker = false;
	int c;
	while ((c = getopt(argc, argv, "m:d:p:lu:U:zscf")) != -1) {
		switch (c) {
		case 'm':
			mib = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'p':
			pidfile = optarg;
			break;
		case 'l':
			lock = true; /* hold a flock on DIR/keep: what --file-locks is for */
			break;
		case 'u':
			connect_to = optarg; /* keep a unix stream connection to a listener there */
			break;
		case 'U':
			listen_on = optarg; /* be that listener (outside the container) */
			break;
		case 'z':
			zombie = true; /* a child that exits and is never reaped */
			break;
		case 's':
			stopped = true; /* a child that stops itself with SIGSTOP */
			break;
		case 'f':
			worker = true; /* a child with memory of its own */
			break;
		case 'c':
			word_mask = 0x0f0f0f0f0f0f0f0full; /* compressible memory, for the benchmarks */
			random_words = PAGE / sizeof(uint64_t) / 2;
			break;
		default:
			fprintf(stderr, "usage: workload [-m MIB] [-d DIR] [-p PIDFILE] [-l] [-u|-U SOCKET] "
					"[-z] [-s] [-c] [-f]\n");
			return 2;
		}
	}

	if (pidfile) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid > 0)
			return 0;
		setsid();
		/* a detached workload must not hold the caller's stdio: CRIU cannot restore an fd
		 * to a host file that changed size meanwhile */
		int null = open("/dev/null", O_RDWR);
		if (null < 0)
			return 1;
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		close(null);
		char buf[32];
		snprintf(buf, sizeof(buf), "%d\n", getpid());
		int fd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, buf, strlen(buf)) < 0)
			return 1;
		close(fd);
	}

	size_t pages = mib * 1024 * 1024 / PAGE;
	uint64_t *mem =
		mmap(NULL, pages * PAGE + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return 1;
	for (size_t i = 0; i < pages; i++)
		fill_page(mem + i * (PAGE / sizeof(uint64_t)), i);

	char path[4096];
	snprintf(path, sizeof(path), "%s/keep", dir);
	int keep = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	snprintf(path, sizeof(path), "%s/counter", dir);
	int counter = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (keep < 0 || counter < 0 || write(keep, KEEP_TEXT, strlen(KEEP_TEXT)) < 0)
		return 1;
	if (lock && flock(keep, LOCK_EX) < 0)
		return 1;
	if ((zombie && spawn("zombie", dir) < 0) || (stopped && spawn("stopped", dir) < 0))
		return 1;
	if ((connect_to || listen_on) && unix_link(connect_to ? connect_to : listen_on, !!listen_on) < 0)
		return 1;

	struct sigaction sa = { .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &sa, NULL);
	struct sigaction sa2 = { .sa_handler = on_usr2 };
	sigaction(SIGUSR2, &sa2, NULL);
	pid_t worker_pid = worker ? spawn_worker(dir, pages / 2) : 0;
	if (worker_pid < 0)
		return 1;

	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	unsigned long count = 0, last_written = 0;
	for (;;) {
		char rec[24];
		snprintf(rec, sizeof(rec), "%019lu\n", ++count);
		if (pwrite(counter, rec, 20, 0) == 20)
			last_written = count;

		if (late_fork_requested) {
			late_fork_requested = 0;
			late_fork(dir, mem, pages);
		}
		if (verify_requested) {
			verify_requested = 0;
			if (worker_pid > 0)
				kill(worker_pid, SIGUSR1);
			const char *bad = NULL;
			for (size_t i = 0; i < pages && !bad; i++)
				if (check_page(mem + i * (PAGE / sizeof(uint64_t)), i) < 0)
					bad = "memory";
			char buf[128] = { 0 };
			if (!bad && (pread(keep, buf, sizeof(buf) - 1, 0) < 0 || strcmp(buf, KEEP_TEXT)))
				bad = "kept fd";
			char onfile[24] = { 0 };
			if (!bad && (pread(counter, onfile, 20, 0) != 20 ||
				     strtoul(onfile, NULL, 10) != last_written))
				bad = "counter";
			if (!bad && strncmp((const char *)marker, "STASIS-WORKLOAD-MARKER", 22))
				bad = "marker";
			char res[128];
			if (bad)
				snprintf(res, sizeof(res), "CORRUPT %s\n", bad);
			else
				snprintf(res, sizeof(res), "OK %lu\n", count);
			write_file(dir, "verify", res);
		}

		t.tv_nsec += 100 * 1000 * 1000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_nsec -= 1000000000;
			t.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
			if (verify_requested || late_fork_requested)
				break;
	}
}
