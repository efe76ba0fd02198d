/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "engine/restore/netns.h"

#include <dirent.h>
#include <errno.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdint.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/namespaces.h"
#include "common/process.h"
#include "common/xalloc.h"
#include "include/stasis.h"
#include "oci/oci.h"

int restore_new_netns(const char *path, struct stasis_error **err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_set(err, errno, "create `%s`", path);
	pid_t pid = fork();
	if (pid < 0)
		return error_set(err, errno, "fork");
	if (pid == 0) {
		/* the child enters the new namespace; the bind mount keeps it after the child exits */
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		if (loopback_up() < 0)
			_exit(2);
		_exit(mount("/proc/self/ns/net", path, NULL, MS_BIND, NULL) < 0 ? 3 : 0);
	}
	int step = child_wait_exit_code(pid);
	if (step != 0) {
		unlink(path);
		static const char *const what[] = { "", "unshare", "set loopback up", "bind mount" };
		return error_setx(err, EPERM, "create a network namespace at `%s` (%s failed)", path,
				  step < 4 ? what[step] : "its child");
	}
	return 0;
}

int netns_loopback_up_pid(pid_t pid, struct stasis_error **err)
{
	cleanup_free char *ns = xasprintf("/proc/%d/ns/net", (int)pid);
	cleanup_close int fd = open(ns, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, errno, "open `%s`", ns);
	pid_t child = fork();
	if (child < 0)
		return error_set(err, errno, "fork");
	if (child == 0)
		_exit(setns(fd, CLONE_NEWNET) < 0 ? 1 : loopback_up() < 0 ? 2 : 0);
	int step = child_wait_exit_code(child);
	if (step != 0)
		return error_setx(err, EPERM, "set loopback up in the network namespace of %d (%s failed)",
				  (int)pid, step == 1 ? "setns" : "SIOCSIFFLAGS");
	return 0;
}

/* `ip route save`'s output is its 4-byte magic, then the routes: no more than that holds none */
#define IP_ROUTE_DUMP_HEADER 4

int netns_prune_empty_dumps(const char *images_dir)
{
	cleanup_closedir DIR *d = opendir(images_dir);
	struct dirent *e;
	int pruned = 0;
	while (d && (e = readdir(d))) {
		unsigned id;
		char tail[8];
		off_t empty;
		/* CRIU's names (images.h): route-N.img, route6-N.img; iptables-N.img, ip6tables-N.img */
		if ((sscanf(e->d_name, "route-%u%7s", &id, tail) == 2 ||
		     sscanf(e->d_name, "route6-%u%7s", &id, tail) == 2) &&
		    strcmp(tail, ".img") == 0)
			empty = IP_ROUTE_DUMP_HEADER;
		else if ((sscanf(e->d_name, "iptables-%u%7s", &id, tail) == 2 ||
			  sscanf(e->d_name, "ip6tables-%u%7s", &id, tail) == 2) &&
			 strcmp(tail, ".img") == 0)
			empty = 0;
		else
			continue;
		struct stat st;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
		    st.st_size <= empty && unlinkat(dirfd(d), e->d_name, 0) == 0)
			pruned++;
	}
	return pruned;
}
