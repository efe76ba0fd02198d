/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "common/namespaces.h"

#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* The kernel gives lo 127.0.0.1/8 and ::1 as it comes up: setting the flag is all it takes. */
int loopback_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	struct ifreq ifr = { .ifr_name = "lo" };
	int r = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (r == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	r = r < 0 ? -errno : 0;
	close(s);
	return r;
}

int child_namespaces_enter(const struct child_namespaces *ns)
{
	if (ns->join_net_fd >= 0 && setns(ns->join_net_fd, CLONE_NEWNET) < 0)
		return -errno;
	if (ns->unshare_flags && unshare(ns->unshare_flags) < 0)
		return -errno;
	if (ns->bind_src &&
	    (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	     mount(ns->bind_src, ns->bind_dst, NULL, MS_BIND, NULL) < 0))
		return -errno;
	/* lo in a new network namespace is down, and CRIU's start-up checks connect over it */
	return ns->unshare_flags & CLONE_NEWNET ? loopback_up() : 0;
}
