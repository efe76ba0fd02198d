/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stasis_archive_serve: a checkpoint's archive served to a lazy restore on another host (the
 * source's end of a post-copy migration; engine/archive/remote.c has the protocol).
 */
#include <errno.h>
#include <string.h>

#include "common/error.h"
#include "common/fs.h"
#include "engine/archive/archive.h"
#include "engine/archive/tls.h"
#include "engine/engine-internal.h"
#include "include/stasis.h"

/* how long the server waits for a destination that says nothing, unless told */
#define SERVE_IDLE_DEFAULT_S 600

struct ready_call {
	const struct stasis_serve_opts *o;
	const char *token;
};

static void on_ready(const char *where, void *data)
{
	const struct ready_call *c = data;
	if (c->o->ready)
		c->o->ready(where, c->token, c->o->ready_data);
}

int stasis_archive_serve(struct stasis_ctx *ctx, const struct stasis_serve_opts *opts,
			 struct stasis_error **err)
{
	struct stasis_serve_opts o = { 0 };
	if (!opts)
		return error_setx(err, EINVAL, "serve: no options given");
	int r = opts_copy(&o, sizeof(o), opts, "serve", err);
	if (r < 0)
		return r;
	if (!o.archive_path || !o.address)
		return error_setx(err, EINVAL, "serve: opts.archive_path and opts.address are needed");
	char token[ARC_REMOTE_TOKEN_LEN + 1];
	if (o.token && strlen(o.token) != ARC_REMOTE_TOKEN_LEN)
		return error_setx(err, EINVAL, "serve: opts.token must be %d characters",
				  ARC_REMOTE_TOKEN_LEN);
	if (o.token)
		memcpy(token, o.token, sizeof(token));
	else
		random_suffix(token, sizeof(token));
	ctx_log(ctx, STASIS_LOG_INFO, "serving `%s` on %s", o.archive_path, o.address);
	struct ready_call call = { &o, token };
	const struct arc_tls tls = { .cert = o.tls_cert, .key = o.tls_key, .cacert = o.tls_cacert };
	if ((o.tls_key || o.tls_cacert) && !o.tls_cert)
		return error_setx(err, EINVAL, "serve: opts.tls_key and tls_cacert need tls_cert");
	r = arc_remote_serve(o.archive_path, o.address, token,
			     o.idle_timeout_s ? o.idle_timeout_s : SERVE_IDLE_DEFAULT_S,
			     o.tls_cert ? &tls : NULL, on_ready, &call, err);
	explicit_bzero(token, sizeof(token));
	return r < 0 ? error_wrap(err, r, "serve `%s`", o.archive_path) : 0;
}
