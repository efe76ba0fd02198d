/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/criu/explain.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"

/*
 * One signature: a POSIX extended regex on one line; cause and fix may use $1..$3, the match's
 * groups.  Patterns name CRIU's (or the runtime's) words for a failure, never lines a
 * successful run prints (unit/test-explain.c checks them against clean logs).
 */
struct signature {
	const char *id;
	const char *pattern;
	const char *cause;
	const char *fix;
	bool secondary;
};

static const struct signature catalog[] = {
	{ "lsm-transport-socket", "Unable to connect a transport socket: Permission denied",
	  "an LSM (typically SELinux enforcing) denies the socket CRIU's parasite code opens inside "
	  "the container's tasks",
	  "use a CRIU built with SELinux support and a container policy that allows it (container-selinux "
	  "with the checkpoint/restore rules); do not disable SELinux",
	  false },
	{ "seccomp-suspend", "(suspending seccomp failed|[Cc]an't suspend seccomp)",
	  "the kernel refused PTRACE_O_SUSPEND_SECCOMP, so CRIU cannot run its code in tasks that "
	  "have a seccomp filter (kernels before 4.3 lack it, or CONFIG_CHECKPOINT_RESTORE is off)",
	  "run on a kernel with CONFIG_CHECKPOINT_RESTORE=y and seccomp suspension (>= 4.3)", false },
	{ "detach-after-infection", "Unable to detach from ([0-9]+): No such process",
	  "task $1 went away while CRIU was detaching from it: its code injection failed earlier",
	  "look at the first error above this line: it names why the injection failed", true },
	{ "pid-taken", "Can't fork for ([0-9]+): File exists",
	  "pid $1 is already taken: the restore runs in a pid namespace where the checkpointed pids "
	  "are in use (typically the original container is still running, or the host's)",
	  "restore into a new pid namespace (a restore from opts.import_path makes one; with opts.bundle, "
	  "give "
	  "config.json a pid namespace without a path), or stop the original first",
	  false },
	{ "pid-mismatch", "Pid ([0-9]+) do not match expected ([0-9]+)",
	  "the restored task got pid $1 instead of $2: those pids are in use where it is restored",
	  "restore into a new pid namespace, or stop whatever holds pid $2", false },
	{ "mount-sharing", "Failed to copy sharing from (-1:)?([^ ]+) to",
	  "the container's root mount was a slave or shared mount (rootfsPropagation rslave or "
	  "rshared), and CRIU cannot give the new root the same propagation from $2",
	  "checkpoint containers with a private root (rootfsPropagation rprivate, runc's default); "
	  "mounts the host makes later do not reach such a container",
	  false },
	{ "mount-no-root", "mnt: ([0-9]+):(.*) doesn't have a proper root mount",
	  "mount $1 at `$2` comes from outside the container's mount tree and nobody declared it as an "
	  "external mount",
	  "declare it in config.json as a bind mount (stasis then declares it to CRIU), or unmount it: "
	  "a mount made inside the running container that config.json does not list cannot be "
	  "checkpointed",
	  false },
	{ "ext-mount-unmapped", "No mapping for ([0-9]+):.* mountpoint",
	  "mount $1 of the images is an external (bind) mount whose key this restore does not map to a "
	  "host source: config.json lacks a bind mount the checkpointed container had, or the images "
	  "were made by a runtime whose keys stasis does not know (stasis, runc and crun key a bind "
	  "mount by its destination in the container; CRIU's log does not name the key)",
	  "give every bind mount again at its destination: in config.json with opts.bundle, or "
	  "opts.mounts `DEST=SRC` with an archive; `stasis inspect --mounts` on the images names the "
	  "external mounts and their keys",
	  false },
	{ "unix-half-stream", "(Can't|Cannot) dump half of (a )?stream unix connection",
	  "a stream unix socket is connected to a peer outside the checkpointed tasks; CRIU cannot "
	  "save one end of a stream connection",
	  "close the connection before checkpointing and reconnect after restore (opts.ext_unix_sk covers "
	  "datagram sockets only)",
	  false },
	{ "unix-external", "External socket is used",
	  "a unix socket of the container is connected to a socket outside it (a host daemon reached "
	  "through a bind mount, for example)",
	  "for a datagram socket set opts.ext_unix_sk on checkpoint and restore; a stream connection must "
	  "be closed before checkpointing (CRIU cannot save one end of it)",
	  false },
	{ "unix-relative-path", "([Uu]nix|sk unix).*relative",
	  "a unix socket was bound to a relative path, which CRIU cannot resolve to a place in the "
	  "container",
	  "bind the socket to an absolute path in the application", false },
	{ "tcp-established", "Connected TCP socket, consider using --tcp-established",
	  "the container has an established TCP connection",
	  "checkpoint and restore with opts.tcp_established (the peer must keep the connection), or "
	  "opts.tcp_close on restore to drop it",
	  false },
	{ "tcp-unreachable", "Can't connect inet socket back: Network is unreachable",
	  "a TCP connection could not be restored: the container's network namespace has no route "
	  "to its address (loopback down, or the address is gone)",
	  "restore into a network namespace with the container's addresses (stasis brings loopback up "
	  "in namespaces it makes; check opts.netns_path)",
	  false },
	{ "sockopt-old-criu", "Can't get ([0-9]+):([0-9]+) opt: Operation not supported",
	  "this CRIU reads a socket option (level $1, option $2) that the kernel no longer supports: "
	  "CRIU older than 4.2 cannot dump inet sockets on kernels >= 6.16",
	  "use CRIU >= 4.2 (give its path in opts.criu_path)", false },
	{ "vdso-bounds", "vdso: Unexpected rt vDSO area bounds",
	  "this CRIU does not understand the vDSO layout of this kernel: it is too old for it",
	  "use a CRIU as new as the kernel (>= 4.2 here; opts.criu_path)", false },
	{ "lookup-mount", "Can't lookup mount=([0-9]+) for fd=([0-9]+)",
	  "fd $2 is a file on mount $1, which is not in the container's mount namespace (a "
	  "container whose stdio is a host file is the usual case)",
	  "give the container pipes or /dev/null as stdio (as conmon does), or close the fd", false },
	{ "file-bad-size", "File (.*) has bad size ([0-9]+) \\(expect ([0-9]+)\\)",
	  "`$1`, open in the container at checkpoint time, is $2 bytes now but was $3: CRIU restores "
	  "open files only as they were",
	  "restore with that file as it was at the checkpoint (a bind mount's data changed since), or "
	  "close it in the application before checkpointing",
	  false },
	{ "file-missing", "Can't open file (.*) on restore: No such file or directory",
	  "`$1` was open in the container at checkpoint time and is missing now",
	  "make it exist again at restore: the bind mount source (opts.mounts) or the rootfs must hold it",
	  false },
	{ "rootfs-bad-mode", "File \\. has bad mode 04([0-7]{4}) \\(expect 04([0-7]{4})\\)",
	  "the container's root directory is mode $1 now but was $2 at checkpoint: CRIU restores the "
	  "tasks' root (and working) directory only with the mode it had",
	  "give the rootfs' root directory mode $2 again (`chmod $2 DIR`): with opts.bundle the "
	  "bundle's rootfs is the caller's; stasis' own overlay (opts.rootfs_base) gets the mode the "
	  "images recorded, and a restore by stasis checks a bundle's before CRIU starts",
	  false },
	{ "file-bad-mode",
	  "File ([^.].*|\\..+) has bad mode 0[0-7]*([0-7]{4}) \\(expect 0[0-7]*([0-7]{4})\\)",
	  "`$1`, open in the container at checkpoint time, is mode $2 now but was $3: CRIU restores "
	  "open files only with the mode they had",
	  "give `$1` mode $3 again (a path in the container: a bind mount's files are the host's), or "
	  "close it in the application before checkpointing",
	  false },
	{ "file-locks", "Some file locks are hold by dumping tasks",
	  "tasks of the container hold file locks (flock/fcntl)",
	  "checkpoint and restore with opts.file_locks", false },
	{ "ptraced",
	  "(zombie ([0-9]+) \\(comm (.*)\\) found while seizing|[Cc]an't seize task|SEIZE [0-9]+: can't "
	  "interrupt task|[Ii]s being traced)",
	  "a task of the container could not be seized: it is being traced (a debugger or strace is "
	  "attached; CRIU then sees it as a zombie), and a task has only one tracer",
	  "detach the debugger or strace first (TracerPid in /proc/PID/status names it; `stasis doctor "
	  "ID` shows it)",
	  false },
	{ "unsupported-fd", "Can't dump file ([0-9]+) of that type \\[([0-7]+)\\] \\(([^)]*)\\)",
	  "fd $1 is a kind of file CRIU cannot save ($3)",
	  "close it before checkpointing; devices other than the null/zero/random/tty family have to "
	  "be given to the container again, not checkpointed",
	  false },
	{ "compat-32bit", "(32-bit|[Cc]ompat(ible)? (mode|task)).*(not|isn't|unsupported) supported",
	  "a 32-bit task: this CRIU was built without compat support",
	  "use a CRIU built with compat (32-bit) support, or run the 64-bit build of the program", false },
	{ "tty-inherit", "Don't have tty to inherit session from",
	  "the container shares a terminal or session with the caller (started from a shell, not "
	  "detached)",
	  "set opts.shell_job, or run the container detached with its own terminal or none", false },
	{ "freezer-timeout",
	  "([Tt]imeout reached|[Uu]nable to freeze|[Cc]an't freeze|[Ff]reez[a-z]* .*timed? ?out)",
	  "the cgroup freezer did not freeze every task in time (a task in uninterruptible sleep, "
	  "typically on NFS or FUSE)",
	  "retry when the I/O settles, or raise the freeze timeout (opts.timeout_ms)", false },
	{ "dirty-tracking", "Error .*([Dd]irty|[Mm]emory) track",
	  "the kernel has no soft-dirty memory tracking, so a pre-dump or incremental dump cannot "
	  "know which pages changed",
	  "make a full checkpoint (no opts.pre_dump / opts.parent_path), or use a kernel with "
	  "CONFIG_MEM_SOFT_DIRTY",
	  false },
	{ "network-lock",
	  "(iptables|ip6tables|nft)[a-z-]*.*(not found|No such file|[Ff]ailed)|"
	  "([Ll]ock(ing)? (the )?network|network lock).*([Ff]ailed|[Cc]an't|[Uu]nable)",
	  "CRIU could not lock the container's network while it dumps: its iptables/nftables helper "
	  "is missing or failed",
	  "install iptables (or nftables with a CRIU built for it)", false },
	{ "no-space", "No space left on device", "the disk where the images go is full",
	  "free space there, or checkpoint to another place (opts.image_path, opts.export_path, "
	  "opts.work_path)",
	  false },
	{ "runtime-leftover", "container (with id exists|.* already exists)",
	  "the runtime still has a container of that name (a leftover of an earlier run)",
	  "delete it first (`runc delete NAME`, `stasis delete NAME`) or restore under another name "
	  "(opts.id)",
	  false },
	{ "ghost-limit", "Can't dump ghost file (.*) of ([0-9]+) size, increase limit",
	  "`$1`, deleted but still open, is $2 bytes: more than CRIU keeps of deleted files by default",
	  "raise CRIU's ghost limit, or close the deleted file in the application", false },
	{ "link-remap", "(Can't (create|link) .*link.?remap|[Ll]ink remap)",
	  "an open file was unlinked and CRIU needs to make a temporary link to it",
	  "checkpoint with opts.link_remap", false },
	{ "io-uring", "io_uring", "a task uses io_uring, which this CRIU cannot checkpoint",
	  "stop the io_uring user before checkpointing, or use a CRIU with io_uring support", false },
	{ "btrfs", "btrfs", "a file is on btrfs, whose subvolume device numbers CRIU cannot match to mounts",
	  "keep the container's open files off btrfs, or use CRIU >= 3.15 with btrfs support", false },
	{ "nested-tracer", "(kerndat_breakpoints has failed|PTRACE_TRACEME\\): Operation not permitted)",
	  "CRIU itself runs under a tracer (strace, gdb), so its own ptrace calls fail",
	  "run stasis without strace/gdb around it", false },
	{ "missing-capability",
	  "(Operation not permitted).*(CAP_|capabilit)|[Nn]eed(s)? (to be run as )?root",
	  "CRIU lacks the capabilities it needs",
	  "run as root (CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE, and CAP_SYS_PTRACE)", false },
};

size_t explain_catalog_size(void)
{
	return ARRAY_SIZE(catalog);
}

const char *explain_catalog_id(size_t index)
{
	return index < ARRAY_SIZE(catalog) ? catalog[index].id : NULL;
}

/* Fills $1..$3 in tmpl from the groups matched in line. */
static char *expand(const char *tmpl, const char *line, const regmatch_t *m)
{
	size_t cap = strlen(tmpl) + strlen(line) * 3 + 1, n = 0;
	char *out = xmalloc(cap);
	for (const char *p = tmpl; *p; p++) {
		if (p[0] == '$' && p[1] >= '1' && p[1] <= '3' && m[p[1] - '0'].rm_so >= 0) {
			const regmatch_t *g = &m[p[1] - '0'];
			size_t l = (size_t)(g->rm_eo - g->rm_so);
			memcpy(out + n, line + g->rm_so, l);
			n += l;
			p++;
			continue;
		}
		out[n++] = *p;
	}
	out[n] = '\0';
	return out;
}

void explain_text(const char *text, struct explain_finding **ret, size_t *ret_n)
{
	regex_t re[ARRAY_SIZE(catalog)];
	bool ok[ARRAY_SIZE(catalog)], seen[ARRAY_SIZE(catalog)] = { false };
	for (size_t i = 0; i < ARRAY_SIZE(catalog); i++)
		ok[i] = regcomp(&re[i], catalog[i].pattern, REG_EXTENDED) == 0;
	struct explain_finding *f = NULL;
	size_t n = 0;
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		cleanup_free char *line = xstrndup(p, len);
		/* of CRIU's log lines ("(00.012) ...") only errors count; other text (messages) is all ours */
		bool log_line = line[0] == '(';
		for (size_t i = 0; i < ARRAY_SIZE(catalog) && (!log_line || strstr(line, "Error")); i++) {
			regmatch_t m[4];
			if (!ok[i] || seen[i] || regexec(&re[i], line, 4, m, 0) != 0)
				continue;
			seen[i] = true;
			f = xgrow(f, n, sizeof(*f));
			f[n++] = (struct explain_finding){
				.id = catalog[i].id,
				.line = xstrdup(line),
				.cause = expand(catalog[i].cause, line, m),
				.fix = expand(catalog[i].fix, line, m),
				.secondary = catalog[i].secondary,
			};
		}
		p = nl ? nl + 1 : NULL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(catalog); i++)
		if (ok[i])
			regfree(&re[i]);
	*ret = f;
	*ret_n = n;
}

void explain_findings_free(struct explain_finding *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(f[i].line);
		free(f[i].cause);
		free(f[i].fix);
	}
	free(f);
}

const struct explain_finding *explain_primary(const struct explain_finding *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!f[i].secondary)
			return &f[i];
	return n ? &f[0] : NULL;
}

char *explain_hint(const char *text)
{
	struct explain_finding *f = NULL;
	size_t n = 0;
	explain_text(text, &f, &n);
	const struct explain_finding *p = explain_primary(f, n);
	char *hint = p ? xasprintf("%s. Fix: %s.", p->cause, p->fix) : NULL;
	explain_findings_free(f, n);
	return hint;
}

/*
 * CRIU's verdict lines (criu/cr-dump.c cr_dump_finish and cr_pre_dump_finish, criu/cr-restore.c
 * restore_root_task, CRIU 4.2).  A restore that fails before restore_root_task (reading the
 * images, the mount tree: `No mapping for ...`) returns without printing one.
 */
static const char *const verdict_failed[] = {
	"Restoring FAILED.",
	"Dumping FAILED.",
	"Pre-dumping FAILED.",
	"Lazy pages transfer FAILED.",
};
static const char *const verdict_succeeded[] = {
	"Restore finished successfully.",
	"Dumping finished successfully",
	"Pre-dumping finished successfully",
	"Lazy pages transfer finished successfully",
};

/* Error lines CRIU prints on runs that go on to succeed. */
static const char *const benign[] = {
	/* criu/util.c: raising the fd limit fails without CAP_SYS_RESOURCE; CRIU goes on */
	"Can't setup RLIMIT_NOFILE for self",
};

/*
 * Error lines that follow the error naming the cause (seen in real restore.logs, unit/data):
 * the caller of the failed step, or another process seeing the restore end.
 */
static const char *const consequence[] = {
	"Killing processes because of failure on restore", /* cr-restore.c, after the cause */
	" exited, status=",				   /* a restored task exited; it logged why */
	"Restorer fail ",				   /* pie/restorer.c, after its own error */
	"Can't open root",				   /* files.c restore_fs, after open_reg_fd */
	"Can't open cwd",
	"Unable to open fd=",	   /* files.c, after the file's own open error */
	"cgroupd: recv req error", /* cgroup.c: the cgroup daemon sees the restore end */
	"Unable to detach from",   /* the injection failed before (detach-after-infection) */
};

static bool line_has_any(const char *line, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strstr(line, v[i]))
			return true;
	return false;
}

enum explain_verdict explain_log_verdict(const char *text)
{
	enum explain_verdict v = EXPLAIN_VERDICT_NONE;
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		/* only CRIU's own log lines ("(00.012) ..."); the last verdict is the run's */
		if (p[0] == '(') {
			cleanup_free char *line = xstrndup(p, len);
			if (line_has_any(line, verdict_failed, ARRAY_SIZE(verdict_failed)))
				v = EXPLAIN_VERDICT_FAILED;
			else if (line_has_any(line, verdict_succeeded, ARRAY_SIZE(verdict_succeeded)))
				v = EXPLAIN_VERDICT_SUCCEEDED;
		}
		p = nl ? nl + 1 : NULL;
	}
	return v;
}

bool explain_line_benign(const char *line)
{
	return line_has_any(line, benign, ARRAY_SIZE(benign));
}

bool explain_line_consequence(const char *line)
{
	return line_has_any(line, verdict_failed, ARRAY_SIZE(verdict_failed)) ||
	       line_has_any(line, consequence, ARRAY_SIZE(consequence));
}

const char *explain_decisive_line(const char *const *lines, size_t n)
{
	const char *fallback = NULL;
	for (size_t i = 0; i < n; i++) {
		if (explain_line_benign(lines[i]))
			continue;
		if (!explain_line_consequence(lines[i]))
			return lines[i];
		if (!fallback && !line_has_any(lines[i], verdict_failed, ARRAY_SIZE(verdict_failed)))
			fallback = lines[i];
	}
	return fallback;
}
