/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer target for the archive server of a migration (engine/archive/remote.c): the input is
 * what a client on the network sends (a token, then 16-byte requests), served from a small
 * archive.  Whatever it sends, the server must answer within the archive or drop it: never read
 * or write out of bounds, crash, leak or hang.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/archive/archive-internal.h"
#include "engine/archive/archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the token the seeds use (fuzz/seeds/archive-serve) */
static const char TOKEN[] = "0123456789abcdefghijklmnopqrstuv";
#define ARCHIVE_BYTES 8192

static int archive_fd(void)
{
	static int fd = -1;
	if (fd < 0) {
		fd = memfd_create("archive", MFD_CLOEXEC);
		unsigned char b[ARCHIVE_BYTES];
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(i * 131);
		if (fd < 0 || write(fd, b, sizeof(b)) != (ssize_t)sizeof(b))
			abort();
	}
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	/* all of the input fits the socket's buffer: written first, then served, replies dropped */
	if (size > 65536 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	const int big = 1 << 20;
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (size && write(sv[0], data, size) != (ssize_t)size)
		abort();
	close(sv[0]);
	(void)arc_remote_serve_client(sv[1], archive_fd(), ARCHIVE_BYTES, TOKEN);
	close(sv[1]);
	return 0;
}
