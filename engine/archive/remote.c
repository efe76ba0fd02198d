/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * An archive read over the network, for a lazy restore on another host (post-copy migration).  The
 * source serves its archive's bytes (stasis checkpoint --page-server); the destination keeps a
 * sparse replica of the same size, fetches the tail (the small members, the manifest, the index)
 * before the restore, and each chunk's frame when a page of it is first needed.  Every chunk is
 * still checked against the manifest before a page of it is used, so the network and the source are
 * trusted no more than a file would be.
 *
 * The protocol, little-endian, over one TCP connection a client:
 *   server, on accept:  "STASIS-SERVE 1\n\0" (16 bytes), u64 the archive's size
 *   client, first:      the token (REMOTE_TOKEN_LEN bytes); a wrong one ends the connection
 *   client, a request:  u64 offset, u32 length (<= REMOTE_READ_MAX), u32 kind (read, or bye)
 *   server, a reply:    u32 status (0, or an errno), then length bytes when 0
 * BYE says the destination has every page: the server ends when it hears it.
 * With TLS (tls.c) the same, inside it: the handshake first, then the hello.
 */
#include "engine/archive/archive.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"
#include "common/xalloc.h"
#include "engine/archive/archive-internal.h"
#include "engine/archive/tls.h"

#define REMOTE_HELLO "STASIS-SERVE 1\n"
#define REMOTE_HELLO_LEN 16
#define REMOTE_READ_MAX (64u << 20)
#define REMOTE_MAX_CLIENTS 8
/*
 * A client has this long from its connection to send the whole token: one that sends part of it,
 * or nothing, holds a slot no longer, and the server never waits on it meanwhile.
 */
#define REMOTE_AUTH_MS 5000
unsigned arc_remote_auth_ms = REMOTE_AUTH_MS;
/* a plain client waits this long for the hello (a TLS server sends none before the handshake) */
#define REMOTE_HELLO_TIMEOUT_S 10
/* a trusted client's request arrives whole within this, or the client is dropped */
#define REMOTE_REQUEST_TIMEOUT_S 30
enum { REMOTE_READ = 0, REMOTE_BYE = 1 };

struct remote_req {
	uint64_t off;
	uint32_t len;
	uint32_t kind;
};
_Static_assert(sizeof(struct remote_req) == 16, "the wire's request is 16 bytes");

struct arc_remote {
	struct arc_link *link;
	uint64_t size;
	char *where;
	pthread_mutex_t lock; /* one request and its reply at a time */
};

/*
 * "HOST:PORT" resolved for a stream socket.  A server's (passive, `--page-server ADDR:PORT`) may
 * leave the address out (every address); a client's names the host.
 */
static int resolve(const char *where, bool passive, struct addrinfo **ret, struct stasis_error **err)
{
	const char *what = passive ? "--page-server" : "page server";
	cleanup_free char *host = xstrdup(where);
	char *colon = strrchr(host, ':');
	if (!colon || (!passive && colon == host) || !colon[1])
		return error_setx(err, EINVAL, "%s `%s`: expected %s:PORT", what, where,
				  passive ? "ADDR" : "HOST");
	*colon = '\0';
	const struct addrinfo hints = { .ai_family = AF_UNSPEC,
					.ai_socktype = SOCK_STREAM,
					.ai_flags = passive ? AI_PASSIVE : 0 };
	int g = getaddrinfo(*host ? host : NULL, colon + 1, &hints, ret);
	if (g != 0)
		return error_setx(err, passive ? EINVAL : EHOSTUNREACH, "%s `%s`: %s", what, where,
				  gai_strerror(g));
	return 0;
}

/* "HOST:PORT" into a connected TCP socket; *ret_host: HOST (malloc'ed) */
static int dial(const char *where, char **ret_host, struct stasis_error **err)
{
	struct addrinfo *res = NULL;
	int r = resolve(where, false, &res, err);
	if (r < 0)
		return r;
	int sk = -1, e = 0;
	for (struct addrinfo *a = res; a && sk < 0; a = a->ai_next) {
		sk = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (sk >= 0 && connect(sk, a->ai_addr, a->ai_addrlen) < 0) {
			e = errno;
			close(sk);
			sk = -1;
		}
	}
	freeaddrinfo(res);
	if (sk < 0)
		return error_set(err, e ? e : EHOSTUNREACH, "page server `%s`", where);
	const int one = 1;
	(void)setsockopt(sk, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*ret_host = xstrndup(where, (size_t)(strrchr(where, ':') - where));
	return sk;
}

int arc_remote_connect(const char *where, const char *token, const struct arc_tls *tls,
		       struct arc_remote **ret, struct stasis_error **err)
{
	if (!token || strlen(token) != ARC_REMOTE_TOKEN_LEN)
		return error_setx(err, EINVAL, "page server `%s`: the token is %d characters", where,
				  ARC_REMOTE_TOKEN_LEN);
	cleanup_free char *host = NULL;
	int sk = dial(where, &host, err);
	if (sk < 0)
		return sk;
	/* a TLS server says nothing until the client's hello: a plain client would wait for ever */
	if (!tls) {
		const struct timeval tv = { .tv_sec = REMOTE_HELLO_TIMEOUT_S };
		(void)setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	cleanup_free char *what = xasprintf("page server `%s`", where);
	cleanup_with(arc_link_free) struct arc_link *link = NULL;
	int r = arc_link_client(sk, host, tls, what, &link, err);
	if (r < 0)
		return r;
	char hello[REMOTE_HELLO_LEN];
	uint64_t size;
	r = arc_link_read(link, hello, sizeof(hello));
	if (r == 0)
		r = arc_link_read(link, &size, sizeof(size));
	/* TLS 1.3: a server that refuses our certificate says so after the handshake */
	if (r < 0 && tls && *arc_link_why(link))
		return error_setx(err, EACCES,
				  "page server `%s`: TLS: %s (does it want a certificate of ours: "
				  "--tls-cert, --tls-key?)",
				  where, arc_link_why(link));
	if (r < 0 || memcmp(hello, REMOTE_HELLO, sizeof(REMOTE_HELLO)) != 0)
		return error_setx(err, EPROTO, "page server `%s`: not a stasis archive server%s", where,
				  tls ? "" : " (or one with TLS: --tls, and its CA: --tls-cacert)");
	if (!tls) {
		const struct timeval none = { 0 };
		(void)setsockopt(sk, SOL_SOCKET, SO_RCVTIMEO, &none, sizeof(none));
	}
	if ((r = arc_link_send(link, token, ARC_REMOTE_TOKEN_LEN)) < 0)
		return error_set(err, -r, "page server `%s`", where);
	struct arc_remote *rm = xzalloc(sizeof(*rm));
	rm->link = TAKE_PTR(link);
	rm->size = le64toh(size);
	rm->where = xstrdup(where);
	pthread_mutex_init(&rm->lock, NULL);
	*ret = rm;
	return 0;
}

uint64_t arc_remote_size(const struct arc_remote *rm)
{
	return rm->size;
}

struct arc_remote *arc_remote_free(struct arc_remote *rm)
{
	if (!rm)
		return NULL;
	arc_link_free(rm->link);
	pthread_mutex_destroy(&rm->lock);
	free(rm->where);
	free(rm);
	return NULL;
}

static int request(struct arc_remote *rm, uint64_t off, uint32_t len, uint32_t kind, void *dst,
		   struct stasis_error **err)
{
	const struct remote_req q = { htole64(off), htole32(len), htole32(kind) };
	uint32_t status = 0;
	pthread_mutex_lock(&rm->lock);
	int r = arc_link_send(rm->link, &q, sizeof(q));
	if (r == 0 && kind == REMOTE_READ && (r = arc_link_read(rm->link, &status, sizeof(status))) == 0 &&
	    (status = le32toh(status)) == 0)
		r = arc_link_read(rm->link, dst, len);
	pthread_mutex_unlock(&rm->lock);
	if (r < 0)
		return error_set(err, r == -ENODATA ? ECONNRESET : -r, "page server `%s`: bytes %llu to %llu",
				 rm->where, (unsigned long long)off, (unsigned long long)off + len);
	if (status)
		return error_set(err, (int)status, "page server `%s`: bytes %llu to %llu", rm->where,
				 (unsigned long long)off, (unsigned long long)off + len);
	return 0;
}

int arc_remote_fetch(struct arc_remote *rm, int replica, uint64_t off, uint64_t len,
		     struct stasis_error **err)
{
	cleanup_free unsigned char *buf = xmalloc(len < REMOTE_READ_MAX ? (size_t)len : REMOTE_READ_MAX);
	while (len > 0) {
		uint32_t n = len < REMOTE_READ_MAX ? (uint32_t)len : REMOTE_READ_MAX;
		int r = request(rm, off, n, REMOTE_READ, buf, err);
		if (r < 0)
			return r;
		if ((r = pwrite_all(replica, buf, n, (off_t)off)) < 0)
			return error_set(err, -r, "the replica of the archive of `%s`", rm->where);
		off += n;
		len -= n;
	}
	return 0;
}

int arc_remote_replicate(struct arc_remote *rm, const char *replica_path, struct stasis_error **err)
{
	cleanup_close int fd = open(replica_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_set(err, errno, "create `%s`", replica_path);
	/* sparse: only what is fetched takes room */
	if (ftruncate(fd, (off_t)rm->size) < 0)
		return error_set(err, errno, "size `%s`", replica_path);
	/* the index's footer, the rest of its frame, then the tail it names */
	unsigned char foot[ARC_INDEX_FOOTER];
	uint64_t index_at = 0;
	int r = rm->size < 16 ? error_setx(err, EBADMSG, "page server `%s`: an archive of %llu bytes",
					   rm->where, (unsigned long long)rm->size)
			      : arc_remote_fetch(rm, fd, rm->size - ARC_INDEX_FOOTER, ARC_INDEX_FOOTER, err);
	if (r < 0)
		return r;
	if (pread(fd, foot, sizeof(foot), (off_t)(rm->size - ARC_INDEX_FOOTER)) != (ssize_t)sizeof(foot))
		return error_set(err, errno ? errno : EIO, "read `%s`", replica_path);
	r = arc_index_footer(foot, rm->size, &index_at);
	if (r == -ENOENT)
		return error_setx(
			err, EOPNOTSUPP,
			"page server `%s`: its archive has no index (only a streamed zstd archive can be "
			"restored from another host)",
			rm->where);
	if (r < 0)
		return error_setx(err, EBADMSG, "page server `%s`: an index of a length no index has",
				  rm->where);
	if ((r = arc_remote_fetch(rm, fd, index_at, rm->size - ARC_INDEX_FOOTER - index_at, err)) < 0)
		return r;
	cleanup_with(arc_index_clear) struct arc_index idx = { 0 };
	cleanup_free char *what = xasprintf("the archive page server `%s` serves", rm->where);
	if ((r = arc_index_read(fd, what, &idx, err)) < 0)
		return r;
	return arc_remote_fetch(rm, fd, (uint64_t)idx.tail, index_at - (uint64_t)idx.tail, err);
}

void arc_remote_bye(struct arc_remote *rm)
{
	(void)request(rm, 0, 0, REMOTE_BYE, NULL, NULL);
}

/* ---- the serving side ---- */

struct client {
	struct arc_link *link;
	bool greeted; /* the handshake done, the hello sent */
	bool trusted; /* its token matched */
	/* the token as it comes, in any pieces, until auth_deadline (monotonic_us) */
	char got[ARC_REMOTE_TOKEN_LEN];
	size_t n_got;
	uint64_t auth_deadline;
};

static bool token_matches(const char *a, const char *b)
{
	/* every byte compared, whatever the first difference: no timing tells how much matched */
	unsigned char diff = 0;
	for (size_t i = 0; i < ARC_REMOTE_TOKEN_LEN; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

/* the hello and the archive's size, once the handshake is done: 0, or < 0 drop the client */
static int greet(struct client *c, uint64_t size)
{
	unsigned char hello[REMOTE_HELLO_LEN + sizeof(uint64_t)] = REMOTE_HELLO;
	uint64_t wire = htole64(size);
	memcpy(hello + REMOTE_HELLO_LEN, &wire, sizeof(wire));
	/* a few bytes into a fresh connection's buffer: they go at once, or the client goes */
	c->greeted = true;
	return arc_link_send(c->link, hello, sizeof(hello)) < 0 ? -ECONNRESET : 0;
}

/* one message of a client's: 0 go on, 1 it said bye, < 0 drop it */
static int serve_one(struct client *c, int archive, uint64_t size, const char *token, unsigned char *buf)
{
	if (!c->greeted) {
		int h = arc_link_handshake(c->link);
		return h <= 0 ? h : greet(c, size);
	}
	if (!c->trusted) {
		/* what has come: never a wait for the rest, which may never come */
		ssize_t k = arc_link_recv_some(c->link, c->got + c->n_got, sizeof(c->got) - c->n_got);
		if (k == -EAGAIN)
			return 0;
		if (k < 0)
			return -ECONNRESET;
		c->n_got += (size_t)k;
		if (c->n_got < sizeof(c->got))
			return 0;
		if (!token_matches(c->got, token))
			return -EACCES;
		c->trusted = true;
		/* its requests come whole or it goes: a stalled one must not hold the server forever */
		arc_link_trust(c->link, REMOTE_REQUEST_TIMEOUT_S);
		return 0;
	}
	struct remote_req q;
	if (arc_link_read(c->link, &q, sizeof(q)) < 0)
		return -ECONNRESET;
	uint64_t off = le64toh(q.off);
	uint32_t len = le32toh(q.len);
	if (le32toh(q.kind) == REMOTE_BYE)
		return 1;
	uint32_t status = 0;
	if (len > REMOTE_READ_MAX || off > size || len > size - off)
		status = ERANGE;
	else if (pread(archive, buf, len, (off_t)off) != (ssize_t)len)
		status = EIO;
	uint32_t wire = htole32(status);
	if (arc_link_send(c->link, &wire, sizeof(wire)) < 0 ||
	    (!status && arc_link_send(c->link, buf, len) < 0))
		return -ECONNRESET;
	return 0;
}

/* serve_one, and again while TLS holds more of the client's bytes than the socket shows */
static int serve_client(struct client *c, int archive, uint64_t size, const char *token, unsigned char *buf)
{
	int r;
	do
		r = serve_one(c, archive, size, token, buf);
	while (r == 0 && c->greeted && arc_link_pending(c->link));
	return r;
}

static void close_clients(struct client *clients, size_t n)
{
	for (size_t i = 0; i < n; i++)
		arc_link_free(clients[i].link);
}

int arc_remote_serve_client(int sk, int archive, uint64_t size, const char *token)
{
	cleanup_free unsigned char *buf = xmalloc(REMOTE_READ_MAX);
	struct client c = { .link = arc_link_accept(sk, NULL) };
	int r = greet(&c, size);
	while (r == 0) {
		struct pollfd p = { .fd = sk, .events = arc_link_events(c.link) };
		if (poll(&p, 1, -1) < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		r = serve_client(&c, archive, size, token, buf);
	}
	/* the socket is the caller's */
	arc_link_detach(c.link);
	return r;
}

int arc_remote_serve(const char *archive_path, const char *where, const char *token, unsigned idle_s,
		     const struct arc_tls *tls, void (*ready)(const char *where, void *data), void *data,
		     struct stasis_error **err)
{
	cleanup_free char *what = xasprintf("archive `%s`", archive_path);
	cleanup_close int archive = open_regular(archive_path, 0, what, err);
	if (archive < 0)
		return archive;
	struct stat st;
	if (fstat(archive, &st) < 0)
		return error_set(err, errno, "%s", what);
	cleanup_with(arc_tls_server_free) struct arc_tls_server *tls_server = NULL;
	int r = tls ? arc_tls_server_new(tls, &tls_server, err) : 0;
	if (r < 0)
		return r;
	struct addrinfo *res = NULL;
	int resolved = resolve(where, true, &res, err);
	if (resolved < 0)
		return resolved;
	cleanup_close int lsk = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	const int one = 1;
	if (lsk >= 0)
		(void)setsockopt(lsk, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int e = lsk < 0 || bind(lsk, res->ai_addr, res->ai_addrlen) < 0 || listen(lsk, 4) < 0 ? errno : 0;
	freeaddrinfo(res);
	if (e)
		return error_set(err, e, "--page-server `%s`", where);
	if (ready)
		ready(where, data);
	struct client clients[REMOTE_MAX_CLIENTS] = { 0 };
	size_t n = 0;
	cleanup_free unsigned char *buf = xmalloc(REMOTE_READ_MAX);
	/* idle: no trusted client asked anything; others (a wrong token, junk) never count as activity */
	uint64_t idle_until = idle_s ? monotonic_us() + idle_s * 1000000ull : UINT64_MAX;
	for (;;) {
		struct pollfd p[REMOTE_MAX_CLIENTS + 1] = { { .fd = lsk, .events = POLLIN } };
		uint64_t now = monotonic_us(), wake = idle_until;
		for (size_t i = 0; i < n; i++) {
			p[i + 1] = (struct pollfd){ .fd = arc_link_fd(clients[i].link),
						    .events = arc_link_events(clients[i].link) };
			if (!clients[i].trusted && clients[i].auth_deadline < wake)
				wake = clients[i].auth_deadline;
		}
		int timeout = wake == UINT64_MAX ? -1 : wake <= now ? 0 : (int)((wake - now + 999) / 1000);
		int k = poll(p, n + 1, timeout);
		if (k < 0 && errno == EINTR)
			continue;
		now = monotonic_us();
		/* the clients that did not send their token in time go, freeing their slots */
		for (size_t i = n; k >= 0 && i-- > 0;)
			if (!clients[i].trusted && clients[i].auth_deadline <= now) {
				arc_link_free(clients[i].link);
				clients[i] = clients[--n];
				p[i + 1] = p[n + 1];
			}
		if (k == 0 && now < idle_until)
			continue;
		if (k <= 0) {
			close_clients(clients, n);
			return k == 0 ? error_setx(err, ETIMEDOUT,
						   "page server `%s`: nobody asked for %u s, and the "
						   "destination "
						   "never said it had every page",
						   where, idle_s)
				      : error_set(err, errno, "page server `%s`", where);
		}
		for (size_t i = n; i-- > 0;) {
			if (!p[i + 1].revents)
				continue;
			bool was_trusted = clients[i].trusted;
			r = serve_client(&clients[i], archive, (uint64_t)st.st_size, token, buf);
			if (was_trusted && r >= 0 && idle_s)
				idle_until = monotonic_us() + idle_s * 1000000ull;
			if (r == 1) {
				close_clients(clients, n);
				return 0;
			}
			if (r < 0) {
				arc_link_free(clients[i].link);
				clients[i] = clients[--n];
			}
		}
		if (p[0].revents) {
			int c = accept4(lsk, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0 && n == REMOTE_MAX_CLIENTS) {
				close(c);
				c = -1;
			}
			if (c >= 0) {
				(void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				/* the handshake and the token both within the deadline */
				struct client *cl = &clients[n++];
				*cl = (struct client){ .link = arc_link_accept(c, tls_server),
						       .auth_deadline = monotonic_us() +
									arc_remote_auth_ms * 1000ull };
				/* plain: the hello at once; TLS: the handshake's first step */
				if (serve_one(cl, archive, (uint64_t)st.st_size, token, buf) < 0) {
					arc_link_free(cl->link);
					n--;
				}
			}
		}
	}
}
