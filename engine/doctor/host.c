/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* `stasis doctor`: can this host checkpoint and restore at all? */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/parse.h"
#include "common/xalloc.h"
#include "engine/criu/criu-internal.h"
#include "engine/doctor/doctor-internal.h"
#include "engine/engine-internal.h"
#include "lsm/lsm.h"

#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif

/* a kernel version as one number, major * 100 + minor: 6.16 is 616 */
#define KV(major, minor) (100 * (major) + (minor))
#define KV_MAJOR(kv) ((kv) / 100)
#define KV_MINOR(kv) ((kv) % 100)
/* 4.3: PTRACE_O_SUSPEND_SECCOMP, without which CRIU cannot seize a task that has a seccomp filter */
#define KERNEL_SECCOMP_SUSPEND KV(4, 3)
/* 6.16: the first kernel whose inet sockets CRIU < 4.2 cannot dump */
#define KERNEL_INET_NEEDS_CRIU_42 KV(6, 16)
/* CRIU 4.2 (stasis_criu_info.version: major * 10000 + minor * 100 + sublevel): the first that dumps
 * inet sockets on kernels >= 6.16 */
#define CRIU_VERSION_INET_FIXED 40200
/* Yama's "no attach" level (security/yama/yama_lsm.c YAMA_SCOPE_NO_ATTACH): nobody may ptrace, and
 * it cannot be lowered without a reboot */
#define YAMA_SCOPE_NO_ATTACH 3
/* a sysctl's value ("1\n"): anything longer is not one */
#define SYSCTL_MAX 64
/* below this many MiB free, a checkpoint of a small container may not fit */
#define DOCTOR_MIN_FREE_MIB 64

static int kernel_version(void)
{
	struct utsname u;
	int maj = 0, min = 0;
	if (uname(&u) == 0 && sscanf(u.release, "%d.%d", &maj, &min) == 2)
		return KV(maj, min);
	return 0;
}

static void check_criu(struct stasis_ctx *ctx, struct stasis_report *r)
{
	struct stasis_criu_info info = { .size = sizeof(info) };
	struct stasis_error *e = NULL;
	if (stasis_criu_info(ctx, &info, &e) < 0) {
		report_add(r, "criu-missing", STASIS_SEVERITY_BLOCKER, "host",
			   "install CRIU >= 4.2 and give its path in opts.criu_path or $STASIS_CRIU",
			   stasis_error_message(e));
		stasis_error_free(e);
		return;
	}
	int kv = kernel_version();
	if (info.version < CRIU_VERSION_INET_FIXED && kv >= KERNEL_INET_NEEDS_CRIU_42)
		report_addf(r, "criu-version", STASIS_SEVERITY_BLOCKER, "host",
			    "use CRIU >= 4.2 (give its path in opts.criu_path or $STASIS_CRIU)",
			    "CRIU %d.%d.%d cannot dump inet sockets on kernels >= 6.16 (this is %d.%d)",
			    info.major, info.minor, info.sublevel, KV_MAJOR(kv), KV_MINOR(kv));
	else
		report_addf(r, "criu", STASIS_SEVERITY_INFO, "host", NULL, "CRIU %d.%d.%d at `%s`",
			    info.major, info.minor, info.sublevel, ctx->criu_path);
	char tmpl[] = "/tmp/stasis-doctor-XXXXXX";
	if (mkdtemp(tmpl)) {
		if (stasis_criu_check(ctx, tmpl, &e) < 0) {
			report_add(r, "criu-check", STASIS_SEVERITY_BLOCKER, "host",
				   "read CRIU's check.log; the kernel lacks something CRIU needs",
				   stasis_error_message(e));
			stasis_error_free(e);
			e = NULL;
		}
		rm_rf(tmpl);
	}
	if (!info.features_known)
		return;
	if (!info.mem_track)
		report_add(r, "memory-tracking", STASIS_SEVERITY_INFO, "host", NULL,
			   "the kernel has no soft-dirty memory tracking: no pre-dump, no incremental "
			   "checkpoints (full checkpoints work)");
	if (!info.lazy_pages)
		report_add(r, "lazy-pages", STASIS_SEVERITY_INFO, "host", NULL,
			   "no userfaultfd lazy pages: restores load all memory up front");
	if (!info.pidfd_store)
		report_add(r, "pidfd-store", STASIS_SEVERITY_INFO, "host", NULL,
			   "CRIU has no pidfd store: pid reuse between pre-dumps is not detected");
}

static void check_kernel(struct stasis_report *r)
{
	int kv = kernel_version();
	if (kv && kv < KERNEL_SECCOMP_SUSPEND)
		report_addf(r, "seccomp-suspend", STASIS_SEVERITY_BLOCKER, "host",
			    "use a kernel >= 4.3 with CONFIG_CHECKPOINT_RESTORE",
			    "kernel %d.%d has no PTRACE_O_SUSPEND_SECCOMP: tasks with a seccomp filter "
			    "cannot be checkpointed",
			    KV_MAJOR(kv), KV_MINOR(kv));
	cleanup_free char *scope = NULL;
	int level = 0;
	if (read_file_capped("/proc/sys/kernel/yama/ptrace_scope", SYSCTL_MAX, &scope, NULL, NULL) == 0) {
		scope[strcspn(scope, "\n")] = '\0';
		(void)parse_int(scope, &level);
	}
	if (level == YAMA_SCOPE_NO_ATTACH)
		report_add(r, "ptrace-scope", STASIS_SEVERITY_BLOCKER, "host",
			   "set kernel.yama.ptrace_scope to 1 or less (3 needs a reboot to lower)",
			   "kernel.yama.ptrace_scope is 3: nobody may ptrace, CRIU included");
}

static void check_cgroups(struct stasis_report *r)
{
	struct stat st;
	bool v2 = stat("/sys/fs/cgroup/cgroup.controllers", &st) == 0;
	bool hybrid = !v2 && stat("/sys/fs/cgroup/unified", &st) == 0;
	bool freezer = v2 ? true : stat("/sys/fs/cgroup/freezer", &st) == 0;
	report_addf(r, "cgroups", freezer ? STASIS_SEVERITY_INFO : STASIS_SEVERITY_BLOCKER, "host",
		    freezer ? NULL : "mount the v1 freezer controller (/sys/fs/cgroup/freezer)",
		    "cgroup %s, freezer %s",
		    v2	     ? "v2"
		    : hybrid ? "v1 (hybrid)"
			     : "v1",
		    freezer ? "available" : "missing: containers cannot be frozen consistently");
}

static void check_lsm(struct stasis_report *r)
{
	struct lsm_host h;
	lsm_host_detect(&h);
	if (h.selinux_enforcing)
		report_add(r, "selinux-enforcing", STASIS_SEVERITY_NEEDS_FLAG, "host",
			   "use a CRIU built with SELinux support and container-selinux's checkpoint rules",
			   "SELinux is enforcing: CRIU's parasite must be allowed to talk to the container's "
			   "domain, or dumps fail with \"Unable to connect a transport socket: Permission "
			   "denied\"");
	else
		report_addf(r, "lsm", STASIS_SEVERITY_INFO, "host", NULL, "SELinux %s, AppArmor %s",
			    h.selinux ? "permissive" : "off", h.apparmor ? "enabled" : "off");
}

static void check_caps(struct stasis_report *r)
{
	cap_t caps = cap_get_proc();
	if (!caps)
		return;
	cap_flag_value_t admin = CAP_CLEAR, cr = CAP_CLEAR, ptrace = CAP_CLEAR;
	cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &admin);
	if (CAP_IS_SUPPORTED(CAP_CHECKPOINT_RESTORE))
		cap_get_flag(caps, CAP_CHECKPOINT_RESTORE, CAP_EFFECTIVE, &cr);
	cap_get_flag(caps, CAP_SYS_PTRACE, CAP_EFFECTIVE, &ptrace);
	cap_free(caps);
	if ((admin != CAP_SET && cr != CAP_SET) || ptrace != CAP_SET)
		report_add(
			r, "capabilities", STASIS_SEVERITY_BLOCKER, "host", "run as root",
			"stasis runs without CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE) and CAP_SYS_PTRACE");
}

static void check_space(struct stasis_report *r)
{
	static const char *const places[] = { STASIS_STATE_ROOT, "/run", "/var/tmp" };
	for (size_t i = 0; i < ARRAY_SIZE(places); i++) {
		struct statvfs v;
		if (statvfs(places[i], &v) < 0)
			continue;
		unsigned long long mib = (unsigned long long)v.f_bavail * v.f_frsize >> 20;
		report_addf(r, "free-space",
			    mib < DOCTOR_MIN_FREE_MIB ? STASIS_SEVERITY_BLOCKER : STASIS_SEVERITY_INFO,
			    places[i],
			    mib < DOCTOR_MIN_FREE_MIB
				    ? "free space, or put images and state elsewhere (opts.image_path, "
				      "opts.export_path, opts.state_dir)"
				    : NULL,
			    "%llu MiB free where restores unpack and checkpoints write (`%s`); images take "
			    "about the container's memory",
			    mib, places[i]);
		return;
	}
}

/* CRIU keeps its kernel probe only on a tmpfs /run (kerndat.c); elsewhere stasis keeps it for CRIU */
static void check_kdat_cache(struct stasis_report *r)
{
	switch (cr_kdat_state()) {
	case CR_KDAT_CRIU_KEEPS:
		/* kerndat.c opens the .tmp with O_EXCL, and gives up quietly when it is there */
		if (access(CRIU_KDAT_FILE, F_OK) < 0 && access(CRIU_KDAT_FILE ".tmp", F_OK) == 0)
			report_add(r, "criu-kdat-cache", STASIS_SEVERITY_INFO, CRIU_KDAT_FILE ".tmp",
				   "remove it",
				   "left by a CRIU killed while it wrote its kernel probe: until it goes, "
				   "no CRIU keeps the probe, and every run probes the kernel again "
				   "(some 30-60 ms)");
		return;
	case CR_KDAT_STASIS_KEEPS:
		report_add(r, "criu-kdat-cache", STASIS_SEVERITY_INFO, CRIU_KDAT_FILE, NULL,
			   "/run is not a tmpfs, so CRIU does not keep its kernel probe there itself: "
			   "stasis keeps it in " STASIS_KDAT_FILE " (a tmpfs of its own, gone at reboot) "
			   "and links " CRIU_KDAT_FILE " to it");
		return;
	case CR_KDAT_NONE:
		if (cr_kdat_dir_trusted()) {
			report_add(r, "criu-kdat-cache", STASIS_SEVERITY_INFO, CRIU_KDAT_FILE, NULL,
				   "/run is not a tmpfs, so CRIU does not keep its kernel probe there "
				   "itself: stasis' next CRIU run keeps it in " STASIS_KDAT_FILE);
			return;
		}
		report_add(r, "criu-kdat-cache", STASIS_SEVERITY_INFO, STASIS_KDAT_DIR,
			   "make it root's alone (chmod 0700, and " STASIS_STATE_ROOT
			   " writable by root only): stasis keeps nothing there before",
			   "not a root-only directory, so stasis keeps no CRIU kernel probe there, and "
			   "/run is not a tmpfs: every CRIU run probes the kernel again (some 30-60 ms)");
		return;
	case CR_KDAT_FOREIGN:
		report_add(r, "criu-kdat-cache", STASIS_SEVERITY_INFO, CRIU_KDAT_FILE,
			   "remove it, or mount a tmpfs on /run as systemd does",
			   "CRIU's kernel probe on a /run that is not a tmpfs, and not stasis' link: "
			   "it outlives a reboot, and CRIU trusts it after a kernel change");
		return;
	}
}

int stasis_doctor_host(struct stasis_ctx *ctx, struct stasis_report **ret, struct stasis_error **err)
{
	(void)err;
	struct stasis_report *r = xzalloc(sizeof(*r));
	check_criu(ctx, r);
	check_kernel(r);
	check_cgroups(r);
	check_lsm(r);
	check_caps(r);
	check_space(r);
	check_kdat_cache(r);
	*ret = r;
	return 0;
}
