/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The archive server's connections, plain or TLS (OpenSSL's libssl).  The token still decides
 * who may read the archive; TLS keeps the memory it carries from the network's eyes, and with a
 * CA on both sides, who may even connect.  TLS 1.2 at least; the rest is OpenSSL's defaults.
 */
#include "engine/archive/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"

struct arc_link {
	int sk;
	SSL *ssl;	 /* NULL: plain */
	bool want_write; /* the handshake waits for room, not for bytes */
	char why[256];	 /* TLS's reason for the last failure ("" none) */
};

struct arc_tls_server {
	SSL_CTX *ctx;
};

/* OpenSSL's reason for the last failure, its error queue emptied */
static void tls_reason(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s", errno ? strerror(errno) : "the connection ended");
	ERR_clear_error();
}

/*
 * A write to a peer that is gone raises SIGPIPE, which would end the whole process: OpenSSL writes
 * to the socket itself, so the signal is held back around it and a pending one taken.
 */
struct sigpipe_guard {
	sigset_t old;
	bool taken;
};

static void sigpipe_hold(struct sigpipe_guard *g)
{
	sigset_t pipe_only;
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	sigset_t pending;
	sigpending(&pending);
	/* one already pending is not ours to take */
	g->taken = !sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_only, &g->old);
}

static void sigpipe_release(struct sigpipe_guard *g)
{
	sigset_t pipe_only;
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	const struct timespec none = { 0 };
	if (g->taken)
		while (sigtimedwait(&pipe_only, NULL, &none) == SIGPIPE)
			;
	pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

static int ctx_new(const SSL_METHOD *method, const struct arc_tls *tls, const char *what, SSL_CTX **ret,
		   struct stasis_error **err)
{
	char why[256];
	SSL_CTX *ctx = SSL_CTX_new(method);
	if (!ctx) {
		tls_reason(why, sizeof(why));
		return error_setx(err, ENOMEM, "%s: TLS: %s", what, why);
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	const char *failed = NULL;
	if (tls->cert && SSL_CTX_use_certificate_chain_file(ctx, tls->cert) != 1)
		failed = tls->cert;
	else if (tls->key && SSL_CTX_use_PrivateKey_file(ctx, tls->key, SSL_FILETYPE_PEM) != 1)
		failed = tls->key;
	else if (tls->cert && SSL_CTX_check_private_key(ctx) != 1)
		failed = tls->key;
	else if (tls->cacert && SSL_CTX_load_verify_locations(ctx, tls->cacert, NULL) != 1)
		failed = tls->cacert;
	if (failed) {
		tls_reason(why, sizeof(why));
		SSL_CTX_free(ctx);
		return error_setx(err, EINVAL, "%s: TLS: `%s`: %s", what, failed, why);
	}
	*ret = ctx;
	return 0;
}

int arc_tls_server_new(const struct arc_tls *tls, struct arc_tls_server **ret, struct stasis_error **err)
{
	if (!tls->cert || !tls->key)
		return error_setx(err, EINVAL,
				  "the archive server's TLS needs its certificate and its key (tls_cert, "
				  "tls_key)");
	SSL_CTX *ctx = NULL;
	int r = ctx_new(TLS_server_method(), tls, "the archive server", &ctx, err);
	if (r < 0)
		return r;
	/* with a CA: a client without a certificate it signed does not get past the handshake */
	if (tls->cacert)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	struct arc_tls_server *s = xzalloc(sizeof(*s));
	s->ctx = ctx;
	*ret = s;
	return 0;
}

struct arc_tls_server *arc_tls_server_free(struct arc_tls_server *s)
{
	if (!s)
		return NULL;
	SSL_CTX_free(s->ctx);
	free(s);
	return NULL;
}

/* why the server's certificate was refused, when that was the reason */
static void verify_reason(SSL *ssl, char *buf, size_t len)
{
	long v = SSL_get_verify_result(ssl);
	if (v != X509_V_OK)
		snprintf(buf, len, "its certificate: %s", X509_verify_cert_error_string(v));
}

int arc_link_client(int sk, const char *host, const struct arc_tls *tls, const char *what,
		    struct arc_link **ret, struct stasis_error **err)
{
	struct arc_link *l = xzalloc(sizeof(*l));
	l->sk = sk;
	if (!tls) {
		*ret = l;
		return 0;
	}
	SSL_CTX *ctx = NULL;
	int r = ctx_new(TLS_client_method(), tls, what, &ctx, err);
	if (r < 0) {
		arc_link_free(l);
		return r;
	}
	if (!tls->cacert)
		SSL_CTX_set_default_verify_paths(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	l->ssl = SSL_new(ctx);
	SSL_CTX_free(ctx); /* the SSL holds its own reference */
	char why[320] = "";
	unsigned char addr[sizeof(struct in6_addr)];
	bool literal = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
	int ok = l->ssl && SSL_set_fd(l->ssl, sk) == 1;
	if (ok && !tls->no_cn_verify)
		ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(l->ssl), host) == 1
			     : SSL_set1_host(l->ssl, host) == 1;
	if (ok && !literal)
		ok = SSL_set_tlsext_host_name(l->ssl, host) == 1;
	struct sigpipe_guard g;
	sigpipe_hold(&g);
	errno = 0;
	ok = ok && SSL_connect(l->ssl) == 1;
	sigpipe_release(&g);
	if (!ok) {
		tls_reason(why, sizeof(why));
		if (l->ssl)
			verify_reason(l->ssl, why, sizeof(why));
		arc_link_free(l);
		return error_setx(err, ECONNREFUSED,
				  "%s: TLS handshake: %s (a server without TLS, or a certificate "
				  "of another CA?)",
				  what, why);
	}
	*ret = l;
	return 0;
}

struct arc_link *arc_link_accept(int sk, struct arc_tls_server *s)
{
	struct arc_link *l = xzalloc(sizeof(*l));
	l->sk = sk;
	/* never a wait on a client that has not shown it may read: each step as its bytes come */
	(void)fcntl(sk, F_SETFL, fcntl(sk, F_GETFL) | O_NONBLOCK);
	if (s) {
		l->ssl = SSL_new(s->ctx);
		if (!l->ssl || SSL_set_fd(l->ssl, sk) != 1) {
			ERR_clear_error();
			SSL_free(l->ssl);
			l->ssl = NULL;
			/* the handshake fails at once */
			l->sk = -1;
			close(sk);
		}
	}
	return l;
}

int arc_link_handshake(struct arc_link *l)
{
	if (l->sk < 0)
		return -ECONNRESET;
	if (!l->ssl || SSL_is_init_finished(l->ssl))
		return 1;
	struct sigpipe_guard g;
	sigpipe_hold(&g);
	int r = SSL_accept(l->ssl);
	int e = r == 1 ? SSL_ERROR_NONE : SSL_get_error(l->ssl, r);
	sigpipe_release(&g);
	l->want_write = e == SSL_ERROR_WANT_WRITE;
	if (r == 1)
		return 1;
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return 0;
	ERR_clear_error();
	return -ECONNREFUSED;
}

short arc_link_events(const struct arc_link *l)
{
	return l->want_write ? POLLOUT : POLLIN;
}

ssize_t arc_link_recv_some(struct arc_link *l, void *buf, size_t len)
{
	if (!l->ssl) {
		ssize_t k = recv(l->sk, buf, len, MSG_DONTWAIT);
		if (k < 0 && (errno == EAGAIN || errno == EINTR))
			return -EAGAIN;
		return k <= 0 ? -ECONNRESET : k;
	}
	size_t got = 0;
	int r = SSL_read_ex(l->ssl, buf, len, &got);
	if (r == 1)
		return (ssize_t)got;
	int e = SSL_get_error(l->ssl, r);
	ERR_clear_error();
	return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? -EAGAIN : -ECONNRESET;
}

void arc_link_trust(struct arc_link *l, unsigned timeout_s)
{
	(void)fcntl(l->sk, F_SETFL, fcntl(l->sk, F_GETFL) & ~O_NONBLOCK);
	const struct timeval tv = { .tv_sec = timeout_s };
	(void)setsockopt(l->sk, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(l->sk, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/*
 * An SSL_read_ex or SSL_write_ex that returned r, not 1: -errno, -ENODATA when the peer closed
 * first; TLS's own reason kept in l->why
 */
static int io_failure(struct arc_link *l, int r)
{
	int saved = errno;
	int e = SSL_get_error(l->ssl, r);
	if (e == SSL_ERROR_SSL)
		tls_reason(l->why, sizeof(l->why));
	ERR_clear_error();
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && saved == 0))
		return -ENODATA;
	return e == SSL_ERROR_SYSCALL ? -saved : -ECONNRESET;
}

int arc_link_read(struct arc_link *l, void *buf, size_t len)
{
	if (!l->ssl)
		return read_exact(l->sk, buf, len);
	unsigned char *p = buf;
	while (len > 0) {
		size_t got = 0;
		errno = 0;
		int r = SSL_read_ex(l->ssl, p, len, &got);
		if (r != 1)
			return io_failure(l, r);
		p += got;
		len -= got;
	}
	return 0;
}

int arc_link_send(struct arc_link *l, const void *buf, size_t len)
{
	if (!l->ssl)
		return send_all(l->sk, buf, len);
	struct sigpipe_guard g;
	sigpipe_hold(&g);
	const unsigned char *p = buf;
	int ret = 0;
	while (len > 0) {
		size_t put = 0;
		errno = 0;
		int r = SSL_write_ex(l->ssl, p, len, &put);
		if (r != 1) {
			ret = io_failure(l, r);
			/* a peer gone before what we sent is one that reset the connection */
			if (ret == -ENODATA)
				ret = -ECONNRESET;
			break;
		}
		p += put;
		len -= put;
	}
	sigpipe_release(&g);
	return ret;
}

const char *arc_link_why(const struct arc_link *l)
{
	return l->why;
}

bool arc_link_pending(const struct arc_link *l)
{
	return l->ssl && SSL_pending(l->ssl) > 0;
}

int arc_link_fd(const struct arc_link *l)
{
	return l->sk;
}

void arc_link_detach(struct arc_link *l)
{
	l->sk = -1;
	arc_link_free(l);
}

struct arc_link *arc_link_free(struct arc_link *l)
{
	if (!l)
		return NULL;
	if (l->ssl) {
		/* a close_notify when the handshake was done; never a wait for the peer's */
		if (SSL_is_init_finished(l->ssl)) {
			struct sigpipe_guard g;
			sigpipe_hold(&g);
			(void)fcntl(l->sk, F_SETFL, fcntl(l->sk, F_GETFL) | O_NONBLOCK);
			(void)SSL_shutdown(l->ssl);
			sigpipe_release(&g);
		}
		ERR_clear_error();
		SSL_free(l->ssl);
	}
	if (l->sk >= 0)
		close(l->sk);
	free(l);
	return NULL;
}
