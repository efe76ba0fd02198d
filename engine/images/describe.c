/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What the values read from CRIU's images mean, apart from reading them (reader.c): the names of
 * fd and file system types, and where a page lies in pages-N.img by its pagemap.
 */
#include "engine/images/reader.h"

#include <stdbool.h>

int pagemap_locate(const struct img_pagemap *pm, uint64_t vaddr, uint64_t *ret_off)
{
	uint64_t off = 0;
	for (size_t i = 0; i < pm->n; i++) {
		const struct img_page_run *run = &pm->runs[i];
		uint64_t len = run->nr_pages * IMAGE_PAGE_SIZE;
		bool present = run->flags & IMG_PE_PRESENT;
		if (vaddr >= run->vaddr && vaddr - run->vaddr < len) {
			if (!present)
				return 0;
			*ret_off = off + (vaddr - run->vaddr);
			return 1;
		}
		if (present)
			off += len;
	}
	return 0;
}

uint64_t pagemap_pages_bytes(const struct img_pagemap *pm)
{
	uint64_t total = 0;
	for (size_t i = 0; i < pm->n; i++)
		if (pm->runs[i].flags & IMG_PE_PRESENT)
			total += pm->runs[i].nr_pages * IMAGE_PAGE_SIZE;
	return total;
}

const char *image_fd_type_name(unsigned type)
{
	static const char *const names[] = {
		[IMG_FD_UND] = "UND",
		[IMG_FD_REG] = "REG",
		[IMG_FD_PIPE] = "PIPE",
		[IMG_FD_FIFO] = "FIFO",
		[IMG_FD_INETSK] = "INETSK",
		[IMG_FD_UNIXSK] = "UNIXSK",
		[IMG_FD_EVENTFD] = "EVENTFD",
		[IMG_FD_EVENTPOLL] = "EVENTPOLL",
		[IMG_FD_INOTIFY] = "INOTIFY",
		[IMG_FD_SIGNALFD] = "SIGNALFD",
		[IMG_FD_PACKETSK] = "PACKETSK",
		[IMG_FD_TTY] = "TTY",
		[IMG_FD_FANOTIFY] = "FANOTIFY",
		[IMG_FD_NETLINKSK] = "NETLINKSK",
		[IMG_FD_NS] = "NS",
		[IMG_FD_TUNF] = "TUNF",
		[IMG_FD_EXT] = "EXT",
		[IMG_FD_TIMERFD] = "TIMERFD",
		[IMG_FD_MEMFD] = "MEMFD",
		[IMG_FD_BPFMAP] = "BPFMAP",
		[IMG_FD_PIDFD] = "PIDFD",
	};
	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "UNKNOWN";
}

const char *image_fstype_name(unsigned fstype)
{
	static const char *const names[] = {
		[IMG_FS_UNSUPPORTED] = "unsupported",
		[IMG_FS_PROC] = "proc",
		[IMG_FS_SYSFS] = "sysfs",
		[IMG_FS_DEVTMPFS] = "devtmpfs",
		[IMG_FS_BINFMT_MISC] = "binfmt_misc",
		[IMG_FS_TMPFS] = "tmpfs",
		[IMG_FS_DEVPTS] = "devpts",
		[IMG_FS_SIMFS] = "simfs",
		[IMG_FS_PSTORE] = "pstore",
		[IMG_FS_SECURITYFS] = "securityfs",
		[IMG_FS_FUSECTL] = "fusectl",
		[IMG_FS_DEBUGFS] = "debugfs",
		[IMG_FS_CGROUP] = "cgroup",
		[IMG_FS_AUFS] = "aufs",
		[IMG_FS_MQUEUE] = "mqueue",
		[IMG_FS_FUSE] = "fuse",
		[IMG_FS_AUTO] = "auto",
		[IMG_FS_OVERLAYFS] = "overlay",
		[IMG_FS_AUTOFS] = "autofs",
		[IMG_FS_TRACEFS] = "tracefs",
		[IMG_FS_CGROUP2] = "cgroup2",
	};
	const char *s = fstype < sizeof(names) / sizeof(names[0]) ? names[fstype] : NULL;
	return s ? s : "unknown";
}
