/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A connection of the archive server's protocol (remote.c), plain TCP or TLS: OpenSSL's libssl
 * lives in tls.c alone.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/cleanup.h"
#include "include/stasis.h"

/* NULL where a struct arc_tls is asked for: plain TCP */
struct arc_tls {
	const char *cert, *key; /* ours (the server's: required; a client's: when asked for one) */
	const char *cacert;	/* the peer's must chain to it (a client without: the system's CAs) */
	bool no_cn_verify;	/* a client: the server's certificate need not name the host */
};

struct arc_link;

/*
 * The client's end on the connected socket sk (taken: closed with the link, or on failure): with
 * tls, the handshake done (blocking) and the server's certificate checked against tls->cacert and
 * host (a name or an address) unless tls->no_cn_verify.  what names the server in errors.
 */
int arc_link_client(int sk, const char *host, const struct arc_tls *tls, const char *what,
		    struct arc_link **ret, struct stasis_error **err);

/* A server's TLS setup: its certificate and key, and with cacert, clients must present one. */
struct arc_tls_server;
int arc_tls_server_new(const struct arc_tls *tls, struct arc_tls_server **ret, struct stasis_error **err);
struct arc_tls_server *arc_tls_server_free(struct arc_tls_server *s);
DEFINE_CLEANUP(struct arc_tls_server *, arc_tls_server_free)

/*
 * The server's end of an accepted socket (taken), non-blocking until arc_link_trust: with s (NULL:
 * plain) the handshake goes on in arc_link_handshake as the client's bytes come.
 */
struct arc_link *arc_link_accept(int sk, struct arc_tls_server *s);
/* 1 the handshake is done (plain: at once), 0 call again when the socket is ready, < 0 failed */
int arc_link_handshake(struct arc_link *l);
/* what the handshake waits for: POLLIN or POLLOUT */
short arc_link_events(const struct arc_link *l);
/* up to len bytes without waiting: their count, -EAGAIN none yet, -ECONNRESET the end or a failure */
ssize_t arc_link_recv_some(struct arc_link *l, void *buf, size_t len);
/* blocking from now on, each read and write within timeout_s (a trusted client's) */
void arc_link_trust(struct arc_link *l, unsigned timeout_s);

/* len bytes, whole: 0, or -errno (-ENODATA: the peer closed first) */
int arc_link_read(struct arc_link *l, void *buf, size_t len);
int arc_link_send(struct arc_link *l, const void *buf, size_t len);
/* why TLS failed the last read ("": it did not, or not for a TLS reason) */
const char *arc_link_why(const struct arc_link *l);
/* bytes TLS has decrypted already, which poll(2) on the socket does not see */
bool arc_link_pending(const struct arc_link *l);
int arc_link_fd(const struct arc_link *l);
struct arc_link *arc_link_free(struct arc_link *l);
/* arc_link_free, the socket left open (it is the caller's) */
void arc_link_detach(struct arc_link *l);
DEFINE_CLEANUP(struct arc_link *, arc_link_free)
