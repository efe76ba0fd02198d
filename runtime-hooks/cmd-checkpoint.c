/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stasis checkpoint: runc's flag names, so podman or CRI-O can call stasis as their runtime helper. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "runtime-hooks/cli.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: stasis checkpoint [OPTIONS] ID\n"
		   "       stasis checkpoint [OPTIONS] --pid PID --bundle DIR [ID]\n"
		   "\n"
		   "Checkpoints a running runc or crun container into CRIU images and/or an archive that "
		   "podman,\n"
		   "CRI-O and checkpointctl read.\n"
		   "\n"
		   "  -e, --export FILE          write a checkpoint archive (tar; podman's layout)\n"
		   "  -c, --compress ALGO        zstd (default), gzip or none\n"
		   "      --staged               write CRIU's images to a directory first, then the\n"
		   "                             archive (default: the pages stream into it as CRIU\n"
		   "                             dumps; gzip and the cases in stasis(1) are staged)\n"
		   "      --image-path DIR       keep CRIU's images in DIR (what `runc restore` reads)\n"
		   "      --work-path DIR        dump.log and work files (default: the image directory)\n"
		   "      --leave-running        keep the container running after the checkpoint\n"
		   "      --tcp-established      checkpoint established TCP connections\n"
		   "      --tcp-skip-in-flight   skip in-flight TCP connections\n"
		   "      --ext-unix-sk          allow external unix sockets\n"
		   "      --shell-job            allow a shell job (tty/session from outside)\n"
		   "      --file-locks           checkpoint file locks\n"
		   "      --link-remap           allow link remapping of deleted-but-open files\n"
		   "      --manage-cgroups-mode MODE  soft (default), full, strict or ignore\n"
		   "      --network-lock METHOD  how CRIU keeps packets out while it dumps: nftables\n"
		   "                             (default when CRIU can here), iptables, or skip\n"
		   "      --pre-dump             pre-dump memory only (needs kernel memory tracking)\n"
		   "      --parent-path DIR      pre-dump parent images, relative to --image-path\n"
		   "      --ignore-rootfs        leave the rootfs diff out of the archive\n"
		   "      --print-stats          print what it took, as JSON (podman's shape, CRIU's\n"
		   "                             figures and stasis' own phases and sizes)\n"
		   "      --rootfs-base DIR      unchanged image of a plain-directory rootfs\n"
		   "      --ext-mount-keys runc|crun  key external mounts as that runtime does, so\n"
		   "                             that it can restore the images (default: crun's\n"
		   "                             for a crun container whose crun has C/R, else\n"
		   "                             runc's)\n"
		   "      --runtime NAME         runc, crun, none (a container stasis restored with\n"
		   "                             --runtime none: its record) or auto (default: such\n"
		   "                             a record, else runc, then crun)\n"
		   "      --pid PID --bundle DIR a container of any runtime, without state lookup\n"
		   "      --page-server ADDR:PORT  once the archive is written, serve it there to a\n"
		   "                             lazy restore on another host (`stasis restore\n"
		   "                             --page-server`) until it has every page; a token\n"
		   "                             it needs is printed (--page-server-token T sets it)\n"
		   "      --page-server-timeout S  stop serving after S idle seconds (default 600)\n"
		   "      --tls-cert F --tls-key F  serve over TLS with this certificate and key\n"
		   "      --tls-cacert F         and only to clients with a certificate of this CA\n"
		   "  -h, --help                 this text\n"
		   "accepted for runc compatibility, no effect:\n"
		   "      --auto-dedup, --empty-ns NS\n");
}

/* podman's --print-stats shape, with stasis' own phases and sizes beside CRIU's figures */
static void print_stats(const char *id, const struct stasis_checkpoint_stats *s)
{
	printf("{\n  \"stasis_checkpoint_duration\": %llu,\n  \"container_statistics\": [\n    {\n"
	       "      \"Id\": ",
	       (unsigned long long)s->total_us);
	cli_json_string(stdout, id ? id : "");
	printf(",\n      \"runtime_checkpoint_duration\": %llu,\n", (unsigned long long)s->dump_us);
	if (s->has_criu_stats)
		printf("      \"criu_statistics\": {\n        \"freezing_time\": %u,\n"
		       "        \"frozen_time\": %u,\n        \"memdump_time\": %u,\n"
		       "        \"memwrite_time\": %u,\n        \"pages_scanned\": %llu,\n"
		       "        \"pages_written\": %llu\n      },\n",
		       s->freezing_time, s->frozen_time, s->memdump_time, s->memwrite_time,
		       (unsigned long long)s->pages_scanned, (unsigned long long)s->pages_written);
	printf("      \"stasis_statistics\": {\n        \"frozen_duration\": %llu,\n"
	       "        \"write_duration\": %llu,\n        \"images_bytes\": %llu,\n"
	       "        \"archive_bytes\": %llu\n      }\n    }\n  ]\n}\n",
	       (unsigned long long)s->frozen_us, (unsigned long long)s->write_us,
	       (unsigned long long)s->images_bytes, (unsigned long long)s->archive_bytes);
}

static void serving(const char *address, const char *token, void *data);

int cmd_checkpoint(int argc, char **argv)
{
	enum {
		O_IMAGE = 256,
		O_WORK,
		O_LEAVE,
		O_TCP,
		O_TCP_SKIP,
		O_EXT_UNIX,
		O_SHELL,
		O_LOCKS,
		O_LINK_REMAP,
		O_CG_MODE,
		O_PRE_DUMP,
		O_PARENT,
		O_IGNORE_ROOTFS,
		O_ROOTFS_BASE,
		O_RUNTIME,
		O_PID,
		O_BUNDLE,
		O_IGNORED,
		O_IGNORED_ARG,
		O_UNSUPPORTED,
		O_UNSUPPORTED_ARG,
		O_PRINT_STATS,
		O_EXT_MOUNT_KEYS,
		O_STAGED,
		O_PAGE_SERVER,
		O_PAGE_SERVER_TOKEN,
		O_PAGE_SERVER_TIMEOUT,
		O_NETWORK_LOCK,
		O_TLS,
		O_TLS_CERT,
		O_TLS_KEY,
		O_TLS_CACERT,
	};
	static const struct option opts[] = {
		{ "export", required_argument, NULL, 'e' },
		{ "compress", required_argument, NULL, 'c' },
		{ "image-path", required_argument, NULL, O_IMAGE },
		{ "work-path", required_argument, NULL, O_WORK },
		{ "leave-running", no_argument, NULL, O_LEAVE },
		{ "tcp-established", no_argument, NULL, O_TCP },
		{ "tcp-skip-in-flight", no_argument, NULL, O_TCP_SKIP },
		{ "ext-unix-sk", no_argument, NULL, O_EXT_UNIX },
		{ "shell-job", no_argument, NULL, O_SHELL },
		{ "file-locks", no_argument, NULL, O_LOCKS },
		{ "link-remap", no_argument, NULL, O_LINK_REMAP },
		{ "manage-cgroups-mode", required_argument, NULL, O_CG_MODE },
		{ "network-lock", required_argument, NULL, O_NETWORK_LOCK },
		{ "pre-dump", no_argument, NULL, O_PRE_DUMP },
		{ "parent-path", required_argument, NULL, O_PARENT },
		{ "ignore-rootfs", no_argument, NULL, O_IGNORE_ROOTFS },
		{ "print-stats", no_argument, NULL, O_PRINT_STATS },
		{ "ext-mount-keys", required_argument, NULL, O_EXT_MOUNT_KEYS },
		{ "staged", no_argument, NULL, O_STAGED },
		{ "rootfs-base", required_argument, NULL, O_ROOTFS_BASE },
		{ "runtime", required_argument, NULL, O_RUNTIME },
		{ "pid", required_argument, NULL, O_PID },
		{ "bundle", required_argument, NULL, O_BUNDLE },
		/* runc flags podman may pass that need nothing from us */
		{ "auto-dedup", no_argument, NULL, O_IGNORED },
		{ "empty-ns", required_argument, NULL, O_IGNORED_ARG },
		{ "page-server", required_argument, NULL, O_PAGE_SERVER },
		{ "page-server-token", required_argument, NULL, O_PAGE_SERVER_TOKEN },
		{ "page-server-timeout", required_argument, NULL, O_PAGE_SERVER_TIMEOUT },
		/* CRIU's names for its own TLS */
		{ "tls", no_argument, NULL, O_TLS },
		{ "tls-cert", required_argument, NULL, O_TLS_CERT },
		{ "tls-key", required_argument, NULL, O_TLS_KEY },
		{ "tls-cacert", required_argument, NULL, O_TLS_CACERT },
		/* runc's: CRIU itself serving the pages from the frozen container; stasis serves the archive */
		{ "lazy-pages", no_argument, NULL, O_UNSUPPORTED },
		{ "status-fd", required_argument, NULL, O_UNSUPPORTED_ARG },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct stasis_checkpoint_opts o = { .size = sizeof(o),
					    .warn = cli_warn,
					    .warn_data = (void *)"checkpoint",
					    .progress = cli_progress,
					    .progress_data = (void *)"checkpoint" };
	o.runtime_root = cli_globals.root;
	struct stasis_checkpoint_stats stats = { .size = sizeof(stats) };
	struct stasis_serve_opts serve = { .size = sizeof(serve), .ready = serving };
	serve.ready_data = &serve;
	bool tls = false;
	int c;
	/* ':' first: a missing value is told apart from an unknown flag */
	int idx = 0;
	while ((c = getopt_long(argc, argv, ":e:c:h", opts, &idx)) != -1) {
		switch (c) {
		case 'e':
			o.export_path = optarg;
			break;
		case 'c':
			o.compress = optarg;
			break;
		case O_IMAGE:
			o.image_path = optarg;
			break;
		case O_WORK:
			o.work_path = optarg;
			break;
		case O_LEAVE:
			o.leave_running = true;
			break;
		case O_TCP:
			o.tcp_established = true;
			break;
		case O_TCP_SKIP:
			o.tcp_skip_in_flight = true;
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
		case O_LINK_REMAP:
			o.link_remap = true;
			break;
		case O_CG_MODE:
			o.manage_cgroups_mode = optarg;
			break;
		case O_NETWORK_LOCK:
			o.network_lock = optarg;
			break;
		case O_PRE_DUMP:
			o.pre_dump = true;
			break;
		case O_PARENT:
			o.parent_path = optarg;
			break;
		case O_IGNORE_ROOTFS:
			o.ignore_rootfs = true;
			break;
		case O_PRINT_STATS:
			o.stats = &stats;
			break;
		case O_EXT_MOUNT_KEYS:
			o.ext_mount_keys = optarg;
			break;
		case O_STAGED:
			o.staged = true;
			break;
		case O_ROOTFS_BASE:
			o.rootfs_base = optarg;
			break;
		case O_RUNTIME:
			o.runtime = optarg;
			break;
		case O_PID: {
			char *end = NULL;
			long v = strtol(optarg, &end, 10);
			if (!end || *end || v <= 0 || v > (1 << 22))
				return cli_usage_error("checkpoint", "--pid: expected a pid, got `%s`",
						       optarg);
			o.pid = (pid_t)v;
			break;
		}
		case O_BUNDLE:
			o.bundle = optarg;
			break;
		case O_IGNORED:
		case O_IGNORED_ARG:
			break;
		case O_PAGE_SERVER:
			serve.address = optarg;
			break;
		case O_PAGE_SERVER_TOKEN:
			serve.token = optarg;
			break;
		case O_TLS:
			tls = true;
			break;
		case O_TLS_CERT:
			serve.tls_cert = optarg;
			break;
		case O_TLS_KEY:
			serve.tls_key = optarg;
			break;
		case O_TLS_CACERT:
			serve.tls_cacert = optarg;
			break;
		case O_PAGE_SERVER_TIMEOUT: {
			char *end = NULL;
			errno = 0;
			unsigned long timeout = strtoul(optarg, &end, 10);
			if (errno || !*optarg || *end || *optarg == '-' || timeout == 0 || timeout > UINT_MAX)
				return cli_usage_error("checkpoint",
						       "--page-server-timeout `%s`: seconds, 1 or more",
						       optarg);
			serve.idle_timeout_s = (unsigned)timeout;
			break;
		}
		case O_UNSUPPORTED:
		case O_UNSUPPORTED_ARG:
			return cli_usage_error(
				"checkpoint",
				"--%s is not supported: stasis writes the images itself (a "
				"migration serves the archive: --export with --page-server; no "
				"status fd)",
				opts[idx].name);
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return cli_missing_value("checkpoint", argv[optind - 1]);
		default:
			cli_usage_error("checkpoint", "unknown flag `%s`", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	/* runc's --page-server sends CRIU's pages to a CRIU page server during the dump: not ours */
	if (serve.address && cli_globals.shim_flavour)
		return cli_usage_error(
			"checkpoint", "--page-server is not supported as runc's flag (CRIU's pages to a page "
				      "server during the dump): `stasis checkpoint --export F --page-server` "
				      "serves a finished archive");
	if ((tls || serve.tls_cert || serve.tls_key || serve.tls_cacert) && !serve.address)
		return cli_usage_error("checkpoint", "--tls and --tls-* go with --page-server");
	if ((tls || serve.tls_key || serve.tls_cacert) && !(serve.tls_cert && serve.tls_key))
		return cli_usage_error("checkpoint",
				       "serving over TLS needs its certificate and key: --tls-cert F "
				       "--tls-key F");
	if (serve.address && !o.export_path)
		return cli_usage_error("checkpoint",
				       "--page-server serves the archive: give --export FILE too");
	if (cli_globals.shim_flavour) {
		/* the engine's runtime: the container is its delegate's; refuse before freezing */
		o.runtime = cli_globals.shim_flavour;
		o.preflight = true;
	}
	if (optind < argc)
		o.id = argv[optind++];
	if (optind < argc)
		return cli_usage_error("checkpoint", "unexpected argument `%s`", argv[optind]);
	if (!o.id && !(o.pid && o.bundle))
		return cli_usage_error("checkpoint", "which container? give its ID (or --pid and --bundle)");
	if ((o.pid != 0) != (o.bundle != NULL))
		return cli_usage_error("checkpoint", "--pid and --bundle go together");

	struct stasis_ctx *ctx = NULL;
	int r = cli_ctx("checkpoint", &ctx);
	if (r)
		return r;
	struct stasis_error *err = NULL;
	r = stasis_checkpoint(ctx, &o, &err);
	cli_progress_end();
	if (r < 0) {
		stasis_ctx_free(ctx);
		return cli_fail("checkpoint", err);
	}
	if (o.stats)
		print_stats(o.id, &stats);
	if (serve.address) {
		/* the archive is whole and durable: the destination's lazy restore reads it from here */
		serve.archive_path = o.export_path;
		r = stasis_archive_serve(ctx, &serve, &err);
	}
	stasis_ctx_free(ctx);
	return r < 0 ? cli_fail("checkpoint", err) : 0;
}

/* where the archive is served, and the token a restore needs: one line, on stderr */
static void serving(const char *address, const char *token, void *data)
{
	const struct stasis_serve_opts *serve = data;
	fprintf(stderr,
		"stasis: checkpoint: serving the archive on %s%s: stasis restore --page-server HOST:PORT "
		"--page-server-token %s%s --lazy-pages ...\n",
		address, serve->tls_cert ? " over TLS" : "", token,
		serve->tls_cert ? serve->tls_cacert ? " --tls --tls-cacert CA --tls-cert F --tls-key F"
						    : " --tls --tls-cacert CA"
				: "");
	fflush(stderr);
}
