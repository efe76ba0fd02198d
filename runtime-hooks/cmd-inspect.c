/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* stasis inspect: what a checkpoint holds, its processes' memory, or what differs between two. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "runtime-hooks/cli.h"

static void size_text(char *buf, size_t len, uint64_t v)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double d = (double)v;
	size_t u = 0;
	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)v);
	else
		snprintf(buf, len, "%.1f %s", d, unit[u]);
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

static void print_strv(const char *label, const char *prefix, const char *const *v, size_t n)
{
	printf("%s%s:", prefix, label);
	for (size_t i = 0; i < n; i++)
		printf(" %s", v[i]);
	printf("\n");
}

static void print_process(const struct stasis_inspect *in, const struct stasis_inspect_process *p, int depth)
{
	char indent[64];
	int w = depth * 2 < 60 ? depth * 2 : 60;
	snprintf(indent, sizeof(indent), "%*s", w + 2, "");
	printf("%s%u %s", indent, p->pid, p->comm);
	if (strcmp(p->state, "alive") != 0)
		printf(" [%s]", p->state);
	if (p->has_creds)
		printf(" (uid %u gid %u)", p->uid, p->gid);
	if (p->n_threads > 1)
		printf(" %zu threads", p->n_threads);
	printf("\n");
	char sub[80];
	snprintf(sub, sizeof(sub), "%s    ", indent);
	if (p->argv)
		print_strv("cmdline", sub, p->argv, p->argc);
	if (p->env)
		for (size_t i = 0; i < p->n_env; i++)
			printf("%s%s %s\n", sub, i ? "   " : "env:", p->env[i]);
	if (in->what & STASIS_INSPECT_FILES)
		for (size_t i = 0; i < p->n_fds; i++) {
			const struct stasis_inspect_fd *f = &p->fds[i];
			if (f->fd >= 0)
				printf("%sfd %-4d %-8s %s\n", sub, f->fd, f->type, or_dash(f->path));
			else
				printf("%s%-7s %-8s %s\n", sub, f->type, "", or_dash(f->path));
		}
	if (in->what & STASIS_INSPECT_SOCKETS)
		for (size_t i = 0; i < p->n_sockets; i++) {
			const struct stasis_inspect_socket *s = &p->sockets[i];
			if (strcmp(s->family, "unix") == 0)
				printf("%ssocket fd %d: unix %s %s %s -> %s\n", sub, s->fd, s->type, s->state,
				       or_dash(s->src), or_dash(s->dst));
			else
				printf("%ssocket fd %d: %s %s %s %s:%u -> %s:%u\n", sub, s->fd, s->family,
				       s->protocol ? s->protocol : s->type, s->state, s->src, s->src_port,
				       s->dst, s->dst_port);
		}
}

static bool has_parent(const struct stasis_inspect *in, const struct stasis_inspect_process *p)
{
	for (size_t i = 0; i < in->n_processes; i++)
		if (in->processes[i].pid == p->ppid && p->ppid != p->pid)
			return true;
	return false;
}

/*
 * The tree, depth first, children in the checkpoint's order.  A loop, not recursion: the tree
 * comes from the archive, and each process is printed once even if it were not a tree.
 */
static void print_tree(const struct stasis_inspect *in)
{
	size_t n = in->n_processes;
	if (!n)
		return;
	cleanup_free size_t *stack = calloc(n, sizeof(*stack));
	cleanup_free int *depth = calloc(n, sizeof(*depth));
	cleanup_free bool *seen = calloc(n, sizeof(*seen));
	if (!stack || !depth || !seen)
		abort();
	for (size_t root = 0; root < n; root++) {
		if (has_parent(in, &in->processes[root]))
			continue;
		size_t sp = 0;
		stack[sp] = root;
		depth[sp++] = 0;
		while (sp) {
			size_t i = stack[--sp];
			int d = depth[sp];
			if (seen[i])
				continue;
			seen[i] = true;
			const struct stasis_inspect_process *p = &in->processes[i];
			print_process(in, p, d);
			for (size_t c = n; c-- > 0 && sp < n;)
				if (!seen[c] && in->processes[c].ppid == p->pid &&
				    in->processes[c].pid != p->pid) {
					stack[sp] = c;
					depth[sp++] = d + 1;
				}
		}
	}
}

static void print_human(const struct stasis_inspect *in)
{
	char total[32], pages[32], diff[32];
	size_text(total, sizeof(total), in->total_size);
	size_text(pages, sizeof(pages), in->pages_size);
	size_text(diff, sizeof(diff), in->rootfs_diff_size);
	printf("checkpoint    %s (%s%s)\n", in->path, in->format,
	       in->verified_manifest ? ", with manifest" : "");
	printf("container     %s  name %s\n", or_dash(in->id), or_dash(in->name));
	printf("image         %s\n", or_dash(in->image));
	printf("runtime       %s  engine %s\n", or_dash(in->runtime), or_dash(in->engine));
	printf("created       %s  checkpointed %s\n", or_dash(in->created), or_dash(in->checkpointed));
	printf("CRIU          %s (image format %u, network lock %s)\n", or_dash(in->criu_version),
	       in->img_version, in->network_lock ? in->network_lock : "iptables");
	printf("size          %s of images, %s of them memory pages; rootfs diff %s\n", total, pages, diff);
	printf("processes     %zu\n", in->n_processes);
	if (in->what & STASIS_INSPECT_STATS) {
		const struct stasis_inspect_stats *s = &in->stats;
		if (s->present)
			printf("statistics    freezing %u us, frozen %u us, memdump %u us, memwrite %u us; "
			       "pages scanned %llu, written %llu, skipped (parent) %llu, lazy %llu\n",
			       s->freezing_time, s->frozen_time, s->memdump_time, s->memwrite_time,
			       (unsigned long long)s->pages_scanned, (unsigned long long)s->pages_written,
			       (unsigned long long)s->pages_skipped_parent,
			       (unsigned long long)s->pages_lazy);
		else
			printf("statistics    none in this checkpoint\n");
	}
	if (in->what & (STASIS_INSPECT_PS_TREE | STASIS_INSPECT_FILES | STASIS_INSPECT_SOCKETS)) {
		printf("\nprocess tree:\n");
		print_tree(in);
	}
	if (in->what & STASIS_INSPECT_MOUNTS) {
		printf("\nmounts:\n");
		for (size_t i = 0; i < in->n_mounts; i++) {
			const struct stasis_inspect_mount *m = &in->mounts[i];
			char type[64];
			if (strcmp(m->type, m->fstype) != 0)
				snprintf(type, sizeof(type), "%s (%s)", m->type, m->fstype);
			else
				snprintf(type, sizeof(type), "%s", m->type);
			printf("  %-28s %-16s %s%s%s\n", m->destination, type, m->source,
			       m->external_key ? "  key " : "", m->external_key ? m->external_key : "");
		}
	}
	if (in->what & STASIS_INSPECT_ROOTFS_DIFF) {
		printf("\nrootfs diff:%s\n", in->has_rootfs_diff ? "" : " none in this checkpoint");
		for (size_t i = 0; i < in->n_rootfs_changed; i++)
			printf("  changed  %s\n", in->rootfs_changed[i]);
		for (size_t i = 0; i < in->n_rootfs_deleted; i++)
			printf("  deleted  %s\n", in->rootfs_deleted[i]);
	}
}

static int print_json(char *text)
{
	fputs(text, stdout);
	fputc('\n', stdout);
	free(text);
	return 0;
}

static int do_memory(const char *path, const struct stasis_memory_opts *o, bool json)
{
	struct stasis_memory_result *r = NULL;
	struct stasis_error *err = NULL;
	if (stasis_inspect_memory(path, o, &r, &err) < 0)
		return cli_fail("inspect", err);
	char *text = NULL;
	if (json) {
		if (stasis_memory_result_json(r, &text, &err) < 0) {
			stasis_memory_result_free(r);
			return cli_fail("inspect", err);
		}
		print_json(text);
	} else {
		char size[32];
		size_text(size, sizeof(size), r->dumped_bytes);
		printf("pid %u: %s of memory in %zu regions\n", r->pid, size, r->regions_n);
		if (o->dump_path) {
			printf("written to %s; its regions (address, length, offset in the file):\n",
			       o->dump_path);
			for (size_t i = 0; i < r->regions_n; i++)
				printf("  0x%llx %llu 0x%llx\n", (unsigned long long)r->regions[i].addr,
				       (unsigned long long)r->regions[i].len,
				       (unsigned long long)r->regions[i].offset);
		}
		for (size_t i = 0; i < r->n_matches; i++)
			printf("0x%016llx  %s\n", (unsigned long long)r->matches[i].addr, r->matches[i].text);
		if (o->search || o->search_regex)
			printf("%zu match%s%s\n", r->n_matches, r->n_matches == 1 ? "" : "es",
			       r->truncated ? " (more not shown: --max-matches)" : "");
	}
	int ret = (o->search || o->search_regex) && r->n_matches == 0 ? 1 : 0;
	stasis_memory_result_free(r);
	return ret;
}

static int do_diff(const char *a_path, const char *b_path, unsigned what, bool json)
{
	struct stasis_inspect_opts o = { .size = sizeof(o), .what = what };
	struct stasis_inspect *a = NULL, *b = NULL;
	struct stasis_diff *d = NULL;
	struct stasis_error *err = NULL;
	int ret = 0;
	if (stasis_inspect(a_path, &o, &a, &err) < 0 || stasis_inspect(b_path, &o, &b, &err) < 0 ||
	    stasis_inspect_diff(a, b, &d, &err) < 0) {
		ret = cli_fail("inspect", err);
		goto out;
	}
	if (json) {
		char *text = NULL;
		if (stasis_diff_json(d, &text, &err) < 0) {
			ret = cli_fail("inspect", err);
			goto out;
		}
		print_json(text);
	} else {
		printf("--- %s\n+++ %s\n", a_path, b_path);
		for (size_t i = 0; i < d->n; i++)
			printf("%c %-14s %s%s%s\n", d->items[i].change, d->items[i].section,
			       d->items[i].subject, d->items[i].detail ? ": " : "",
			       d->items[i].detail ? d->items[i].detail : "");
		if (!d->n)
			printf("no differences\n");
	}
	ret = d->n ? 1 : 0;
out:
	stasis_diff_free(d);
	stasis_inspect_free(a);
	stasis_inspect_free(b);
	return ret;
}

static const char usage[] =
	"usage: stasis inspect [what...] [--format text|json] ARCHIVE|DIR\n"
	"       stasis inspect --memory --pid N [--search STR | --search-regex RE] [--context N]\n"
	"                      [--max-matches N] [--dump-memory FILE] [--format text|json] ARCHIVE|DIR\n"
	"       stasis inspect --diff [what...] [--format text|json] A B\n\n"
	"Reads a checkpoint without restoring it: a stasis, podman or CRI-O archive (streamed, nothing\n"
	"extracted), an extracted archive, or a CRIU image directory (runc checkpoint --image-path).\n"
	"what: --ps-tree --cmdline --env --files --sockets --mounts --stats --rootfs-diff --all\n"
	"(--ps-tree-cmd and --ps-tree-env, checkpointctl's names, are --cmdline and --env)\n"
	"--memory: searches one process' memory for a byte string or a POSIX extended regex (inside\n"
	"runs of non-NUL bytes); exit status 1 when nothing matched.  --dump-memory writes its pages.\n"
	"--diff: what differs between two checkpoints; exit status 1 when something does.\n";

int cmd_inspect(int argc, char **argv)
{
	enum { O_MEMORY = 256, O_PID, O_SEARCH, O_REGEX, O_CONTEXT, O_DUMP, O_DIFF, O_FORMAT, O_MAX, O_WHAT };
	static const struct option opts[] = {
		{ "ps-tree", no_argument, NULL, O_WHAT + 0 },
		{ "cmdline", no_argument, NULL, O_WHAT + 1 },
		{ "ps-tree-cmd", no_argument, NULL, O_WHAT + 1 },
		{ "env", no_argument, NULL, O_WHAT + 2 },
		{ "ps-tree-env", no_argument, NULL, O_WHAT + 2 },
		{ "files", no_argument, NULL, O_WHAT + 3 },
		{ "sockets", no_argument, NULL, O_WHAT + 4 },
		{ "mounts", no_argument, NULL, O_WHAT + 5 },
		{ "stats", no_argument, NULL, O_WHAT + 6 },
		{ "rootfs-diff", no_argument, NULL, O_WHAT + 7 },
		{ "all", no_argument, NULL, O_WHAT + 8 },
		{ "memory", no_argument, NULL, O_MEMORY },
		{ "pid", required_argument, NULL, O_PID },
		{ "search", required_argument, NULL, O_SEARCH },
		{ "search-regex", required_argument, NULL, O_REGEX },
		{ "context", required_argument, NULL, O_CONTEXT },
		{ "max-matches", required_argument, NULL, O_MAX },
		{ "dump-memory", required_argument, NULL, O_DUMP },
		{ "diff", no_argument, NULL, O_DIFF },
		{ "format", required_argument, NULL, O_FORMAT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct stasis_memory_opts mem = { .size = sizeof(mem) };
	unsigned what = 0;
	bool memory = false, diff = false;
	const char *format = "text";
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *end = NULL;
		unsigned long v = 0;
		if (c == O_PID || c == O_CONTEXT || c == O_MAX) {
			v = strtoul(optarg, &end, 10);
			if (!*optarg || *end || v > 0x7fffffffUL)
				return cli_usage_error("inspect", "--%s: `%s` is not a number",
						       c == O_PID	? "pid"
						       : c == O_CONTEXT ? "context"
									: "max-matches",
						       optarg);
		}
		if (c >= O_WHAT && c <= O_WHAT + 8) {
			what |= c == O_WHAT + 8 ? (unsigned)STASIS_INSPECT_ALL : 1u << (c - O_WHAT);
			continue;
		}
		switch (c) {
		case O_MEMORY:
			memory = true;
			break;
		case O_PID:
			mem.pid = (unsigned)v;
			break;
		case O_SEARCH:
			mem.search = optarg;
			break;
		case O_REGEX:
			mem.search_regex = optarg;
			break;
		case O_CONTEXT:
			mem.context = (unsigned)v;
			break;
		case O_MAX:
			mem.max_matches = v;
			break;
		case O_DUMP:
			mem.dump_path = optarg;
			break;
		case O_DIFF:
			diff = true;
			break;
		case O_FORMAT:
			format = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0)
		return cli_usage_error("inspect", "--format: expected text or json");
	bool json = strcmp(format, "json") == 0;
	if (memory || mem.search || mem.search_regex || mem.dump_path) {
		if (diff || optind + 1 != argc)
			return cli_usage_error("inspect", "--memory reads one checkpoint");
		if (!mem.pid)
			return cli_usage_error("inspect", "--memory needs --pid N (see --ps-tree)");
		return do_memory(argv[optind], &mem, json);
	}
	if (diff) {
		if (optind + 2 != argc)
			return cli_usage_error("inspect", "--diff compares two checkpoints: A B");
		return do_diff(argv[optind], argv[optind + 1], what ? what : (unsigned)STASIS_INSPECT_ALL,
			       json);
	}
	if (optind + 1 != argc)
		return cli_usage_error("inspect", "give one archive or image directory (--help)");
	struct stasis_inspect_opts o = { .size = sizeof(o), .what = what };
	struct stasis_inspect *in = NULL;
	struct stasis_error *err = NULL;
	if (stasis_inspect(argv[optind], &o, &in, &err) < 0)
		return cli_fail("inspect", err);
	int ret = 0;
	if (json) {
		char *text = NULL;
		if (stasis_inspect_json(in, &text, &err) < 0)
			ret = cli_fail("inspect", err);
		else
			print_json(text);
	} else {
		print_human(in);
	}
	stasis_inspect_free(in);
	return ret;
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c != 'h')
			return 2;
		printf("usage: stasis verify ARCHIVE|DIR\n\n"
		       "Checks a checkpoint without extracting it: every member against the sha256 of\n"
		       "stasis.manifest (none missing, none added) or, for podman and CRI-O archives, their\n"
		       "structure; then every CRIU image stasis can read is parsed.  Exit status 1 names\n"
		       "the first bad member.\n");
		return 0;
	}
	if (optind + 1 != argc)
		return cli_usage_error("verify", "give one archive or image directory");
	struct stasis_verify_result r = { .size = sizeof(r) };
	struct stasis_error *err = NULL;
	if (stasis_verify(argv[optind], &r, &err) < 0)
		return cli_fail("verify", err);
	char size[32];
	size_text(size, sizeof(size), r.bytes);
	if (r.has_manifest)
		printf("%s: OK: %zu members (%s) match stasis.manifest; every CRIU image parses\n",
		       argv[optind], r.members, size);
	else if (r.members)
		printf("%s: OK: no stasis.manifest (podman/CRI-O): %zu members (%s), the layout is complete "
		       "and "
		       "every CRIU image parses\n",
		       argv[optind], r.members, size);
	else
		printf("%s: OK: every CRIU image parses\n", argv[optind]);
	return 0;
}
