/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stasis restore: runc's restore contract (podman and CRI-O call runtimes with these flags) plus
 * podman's --import of an archive under a new --name.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "runtime-hooks/cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: stasis restore --import FILE [--name NAME] [OPTIONS] [ID]\n"
		"       stasis restore --image-path DIR [--bundle DIR] [OPTIONS] ID\n"
		"\n"
		"Restores a container from a checkpoint archive (stasis, podman, CRI-O) or from CRIU "
		"images,\n"
		"and hands it to its runtime.\n"
		"\n"
		"  -i, --import FILE          the checkpoint archive (any compression)\n"
		"  -n, --name NAME            the restored container's id (default: ID)\n"
		"      --image-path DIR       CRIU images instead of an archive (as runc restore); the\n"
		"                             bundle is --bundle, else the current directory\n"
		"  -b, --bundle DIR           the new container's bundle (config.json and its rootfs)\n"
		"      --rootfs-base DIR      without --bundle: the image of the rootfs (an overlay on it\n"
		"                             gets the archive's changes)\n"
		"      --mount DEST=SRC       without --bundle: the host source of bind mount DEST\n"
		"      --netns PATH           join this network namespace (when the container had none\n"
		"                             of its own: the host's or one from outside; default: a\n"
		"                             new one)\n"
		"      --trust-archive        without --bundle: give the container the capabilities,\n"
		"                             devices, host pid/mount namespace and writable /proc/sys\n"
		"                             its archive asks for (default: refuse more than\n"
		"                             container engines grant)\n"
		"      --state-dir DIR        stasis' files for the container (default /run/stasis/NAME)\n"
		"      --runtime NAME         runc, crun or none (default, or auto: the checkpointed\n"
		"                             container's when it was runc or crun, else none)\n"
		"      --work-path DIR        restore.log (default: the state directory)\n"
		"      --pid-file FILE        write the restored init's pid\n"
		"  -d, --detach               detach (always: the container runs on its own)\n"
		"      --console-socket PATH  for containers with a terminal (runc)\n"
		"      --tcp-established      restore established TCP connections\n"
		"      --tcp-close            restore TCP connections closed\n"
		"      --ext-unix-sk          allow external unix sockets\n"
		"      --shell-job            allow a shell job\n"
		"      --file-locks           restore file locks\n"
		"      --manage-cgroups-mode MODE  soft (default), full, strict or ignore\n"
		"      --lsm-profile TYPE:NAME     selinux:LABEL or apparmor:PROFILE (default: config.json)\n"
		"      --lsm-mount-context CTX     SELinux mount context (default: linux.mountLabel)\n"
		"      --print-stats          print what it took, as JSON (podman's shape, CRIU's\n"
		"                             figures and stasis' own phases), instead of the id\n"
		"      --staged               unpack the page images before CRIU reads them (by\n"
		"                             default, with --runtime none or crun, CRIU reads them\n"
		"                             from the archive, each 4 MiB checked first)\n"
		"      --lazy-pages           run the container before its memory is back: pages come\n"
		"                             in on first touch and in the background (any runtime);\n"
		"                             STATE_DIR/lazy-pages says when all are in\n"
		"      --page-server HOST:PORT  with --lazy-pages, instead of --import: the archive\n"
		"                             `stasis checkpoint --page-server` serves on another host\n"
		"      --page-server-token T  the token that checkpoint printed\n"
		"      --tls                  reach the page server over TLS (any --tls-* too)\n"
		"      --tls-cacert F         its certificate's CA (default: the system's)\n"
		"      --tls-cert F --tls-key F  ours, for a server that asks for one\n"
		"      --tls-no-cn-verify     its certificate need not name the host\n"
		"  -h, --help                 this text\n"
		"accepted for runc compatibility, no effect:\n"
		"      --no-pivot, --no-new-keyring, --no-subreaper\n");
}

#define MAX_MOUNTS 256

/* The restore a SIGTERM or SIGINT cancels, and which signal came. */
static struct stasis_ctx *volatile cancel_ctx;
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
	/* async-signal-safe: the library rolls back and returns -ECANCELED */
	stasis_ctx_cancel(cancel_ctx);
}

/* SIGTERM and SIGINT cancel the restore; a second one (SA_RESETHAND) ends stasis at once. */
static void catch_stop_signals(struct stasis_ctx *ctx)
{
	cancel_ctx = ctx;
	struct sigaction sa = { .sa_handler = on_stop_signal, .sa_flags = SA_RESETHAND };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

/* podman's --print-stats shape, with stasis' own phases beside CRIU's figures */
static void print_stats(const char *id, const struct stasis_restore_stats *s)
{
	printf("{\n  \"stasis_restore_duration\": %llu,\n  \"container_statistics\": [\n    {\n"
	       "      \"Id\": ",
	       (unsigned long long)s->total_us);
	cli_json_string(stdout, id);
	printf(",\n      \"runtime_restore_duration\": %llu,\n", (unsigned long long)s->criu_us);
	if (s->has_criu_stats)
		printf("      \"criu_statistics\": {\n        \"forking_time\": %u,\n"
		       "        \"restore_time\": %u,\n        \"pages_restored\": %llu\n      },\n",
		       s->forking_time, s->restore_time, (unsigned long long)s->pages_restored);
	printf("      \"stasis_statistics\": {\n        \"unpack_duration\": %llu,\n"
	       "        \"archive_bytes\": %llu\n      }\n    }\n  ]\n}\n",
	       (unsigned long long)s->unpack_us, (unsigned long long)s->archive_bytes);
}

int cmd_restore(int argc, char **argv)
{
	enum {
		O_IMAGE = 256,
		O_WORK,
		O_PID_FILE,
		O_CONSOLE,
		O_TCP,
		O_TCP_CLOSE,
		O_EXT_UNIX,
		O_SHELL,
		O_LOCKS,
		O_CG_MODE,
		O_LSM_PROFILE,
		O_LSM_MOUNT,
		O_ROOTFS_BASE,
		O_MOUNT,
		O_NETNS,
		O_STATE_DIR,
		O_RUNTIME,
		O_TRUST_ARCHIVE,
		O_PRINT_STATS,
		O_STAGED,
		O_LAZY,
		O_PAGE_SERVER,
		O_PAGE_SERVER_TOKEN,
		O_TLS,
		O_TLS_CACERT,
		O_TLS_CERT,
		O_TLS_KEY,
		O_TLS_NO_CN_VERIFY,
		O_IGNORED,
	};
	static const struct option opts[] = {
		{ "import", required_argument, NULL, 'i' },
		{ "name", required_argument, NULL, 'n' },
		{ "bundle", required_argument, NULL, 'b' },
		{ "detach", no_argument, NULL, 'd' },
		{ "image-path", required_argument, NULL, O_IMAGE },
		{ "work-path", required_argument, NULL, O_WORK },
		{ "pid-file", required_argument, NULL, O_PID_FILE },
		{ "console-socket", required_argument, NULL, O_CONSOLE },
		{ "tcp-established", no_argument, NULL, O_TCP },
		{ "tcp-close", no_argument, NULL, O_TCP_CLOSE },
		{ "ext-unix-sk", no_argument, NULL, O_EXT_UNIX },
		{ "shell-job", no_argument, NULL, O_SHELL },
		{ "file-locks", no_argument, NULL, O_LOCKS },
		{ "manage-cgroups-mode", required_argument, NULL, O_CG_MODE },
		{ "lsm-profile", required_argument, NULL, O_LSM_PROFILE },
		{ "lsm-mount-context", required_argument, NULL, O_LSM_MOUNT },
		{ "rootfs-base", required_argument, NULL, O_ROOTFS_BASE },
		{ "mount", required_argument, NULL, O_MOUNT },
		{ "netns", required_argument, NULL, O_NETNS },
		{ "state-dir", required_argument, NULL, O_STATE_DIR },
		{ "runtime", required_argument, NULL, O_RUNTIME },
		{ "trust-archive", no_argument, NULL, O_TRUST_ARCHIVE },
		{ "print-stats", no_argument, NULL, O_PRINT_STATS },
		{ "staged", no_argument, NULL, O_STAGED },
		{ "lazy-pages", no_argument, NULL, O_LAZY },
		{ "page-server", required_argument, NULL, O_PAGE_SERVER },
		{ "page-server-token", required_argument, NULL, O_PAGE_SERVER_TOKEN },
		/* CRIU's names for its own TLS */
		{ "tls", no_argument, NULL, O_TLS },
		{ "tls-cacert", required_argument, NULL, O_TLS_CACERT },
		{ "tls-cert", required_argument, NULL, O_TLS_CERT },
		{ "tls-key", required_argument, NULL, O_TLS_KEY },
		{ "tls-no-cn-verify", no_argument, NULL, O_TLS_NO_CN_VERIFY },
		/* runc flags podman and conmon send that need nothing from us */
		{ "no-pivot", no_argument, NULL, O_IGNORED },
		{ "no-new-keyring", no_argument, NULL, O_IGNORED },
		{ "no-subreaper", no_argument, NULL, O_IGNORED },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct stasis_restore_opts o = { .size = sizeof(o),
					 .warn = cli_warn,
					 .warn_data = (void *)"restore",
					 .progress = cli_progress,
					 .progress_data = (void *)"restore" };
	o.runtime_root = cli_globals.root;
	/* runc runs this very program as the loopback hook of bundles we build */
	cleanup_free char *self = realpath("/proc/self/exe", NULL);
	o.hook_path = self;
	const char *mounts[MAX_MOUNTS];
	struct stasis_restore_stats stats = { .size = sizeof(stats) };
	const char *name = NULL;
	int c;
	/* ':' first: a missing value is told apart from an unknown flag */
	while ((c = getopt_long(argc, argv, ":i:n:b:dh", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o.import_path = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'b':
			o.bundle = optarg;
			break;
		case 'd':
		case O_IGNORED:
			break;
		case O_IMAGE:
			o.image_path = optarg;
			break;
		case O_WORK:
			o.work_path = optarg;
			break;
		case O_PID_FILE:
			o.pid_file = optarg;
			break;
		case O_CONSOLE:
			o.console_socket = optarg;
			break;
		case O_TCP:
			o.tcp_established = true;
			break;
		case O_TCP_CLOSE:
			o.tcp_close = true;
			break;
		case O_EXT_UNIX:
			o.ext_unix_sk = true;
			break;
		case O_SHELL:
			o.shell_job = true;
			break;
		case O_LOCKS:
			o.file_locks = true;
			break;
		case O_CG_MODE:
			o.manage_cgroups_mode = optarg;
			break;
		case O_LSM_PROFILE:
			o.lsm_profile = optarg;
			break;
		case O_LSM_MOUNT:
			o.lsm_mount_context = optarg;
			break;
		case O_ROOTFS_BASE:
			o.rootfs_base = optarg;
			break;
		case O_MOUNT:
			if (o.n_mounts == MAX_MOUNTS)
				return cli_usage_error("restore", "more than %d --mount", MAX_MOUNTS);
			mounts[o.n_mounts++] = optarg;
			break;
		case O_NETNS:
			o.netns_path = optarg;
			break;
		case O_STATE_DIR:
			o.state_dir = optarg;
			break;
		case O_RUNTIME:
			o.runtime = optarg;
			break;
		case O_TRUST_ARCHIVE:
			o.trust_archive = true;
			break;
		case O_STAGED:
			o.staged = true;
			break;
		case O_LAZY:
			o.lazy_pages = true;
			break;
		case O_PAGE_SERVER:
			o.page_server = optarg;
			break;
		case O_TLS:
			o.page_server_tls = true;
			break;
		case O_TLS_CACERT:
			o.tls_cacert = optarg;
			break;
		case O_TLS_CERT:
			o.tls_cert = optarg;
			break;
		case O_TLS_KEY:
			o.tls_key = optarg;
			break;
		case O_TLS_NO_CN_VERIFY:
			o.tls_no_cn_verify = o.page_server_tls = true;
			break;
		case O_PAGE_SERVER_TOKEN:
			o.page_server_token = optarg;
			break;
		case O_PRINT_STATS:
			o.stats = &stats;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return cli_missing_value("restore", argv[optind - 1]);
		default:
			cli_usage_error("restore", "unknown flag `%s`", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	o.mounts = mounts;
	if (cli_globals.shim_flavour) {
		/* the engine's runtime: its delegate gets the container, stdio is the engine's pipes */
		o.runtime = cli_globals.shim_flavour;
		o.inherit_stdio = true;
		o.runtime_owns = o.bundle || o.image_path;
		o.hook_path = NULL;
	}
	const char *id = optind < argc ? argv[optind++] : NULL;
	if (optind < argc)
		return cli_usage_error("restore", "unexpected argument `%s`", argv[optind]);
	o.id = name ? name : id;
	if (!o.id)
		return cli_usage_error("restore", "which container? give its ID (or --name)");
	if (!o.import_path && !o.image_path && !o.page_server)
		return cli_usage_error(
			"restore", "restore from what? give --import FILE, --image-path DIR or --page-server "
				   "HOST:PORT");
	if (o.image_path && !o.bundle)
		o.bundle = ".";

	struct stasis_ctx *ctx = NULL;
	int r = cli_ctx("restore", &ctx);
	if (r)
		return r;
	struct stasis_error *err = NULL;
	pid_t pid = 0;
	catch_stop_signals(ctx);
	r = stasis_restore(ctx, &o, &pid, &err);
	cli_progress_end();
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	cancel_ctx = NULL;
	stasis_ctx_free(ctx);
	if (r < 0)
		r = cli_fail("restore", err);
	if (stop_signal) {
		/* rolled back: now end as the signal asked, so that the caller sees it */
		fflush(stdout);
		raise(stop_signal);
	}
	if (r)
		return r;
	/* as the engine's runtime, stdout is the container's: runc and crun print nothing either */
	if (o.stats)
		print_stats(o.id, &stats);
	else if (!cli_globals.shim_flavour)
		printf("%s\n", o.id);
	return 0;
}
