/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Finding the container to checkpoint: its state from the runtime (or our record, or a pid) and its config.json. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/xalloc.h"
#include "engine/checkpoint/checkpoint-internal.h"
#include "engine/engine-internal.h"
#include "engine/runtime/runtime-internal.h"

/*
 * A container a lazy restore is still bringing back: CRIU would read memory that is not there yet
 * (its page faults wait on a daemon whose tasks the freeze holds too), and the archive would lack it.
 */
static int refuse_lazy(const struct ckpt *c, struct stasis_error **err)
{
	cleanup_free char *path = NULL;
	if (!c->o.id || !runtime_lazy_fetching(c->o.id, c->state->pid, &path))
		return 0;
	return error_setx(err, EBUSY,
			  "container `%s`: its memory is still coming back from a lazy restore (`%s` says "
			  "fetching): checkpoint it once that says complete",
			  c->o.id, path);
}

int ckpt_find_container(struct ckpt *c, struct stasis_error **err)
{
	if (c->o.pid > 0 && c->o.bundle) {
		c->state = xzalloc(sizeof(*c->state));
		c->state->id = xstrdup(c->o.id ? c->o.id : "container");
		c->state->pid = c->o.pid;
		c->state->status = xstrdup("running");
		c->state->bundle = xstrdup(c->o.bundle);
		return 0;
	}
	if (!c->o.id)
		return error_setx(err, EINVAL, "no container given (opts.id, or opts.pid with opts.bundle)");
	/* restored by stasis with no runtime: its state record is ours */
	int r = runtime_own_state(c->o.runtime, c->o.id, &c->state, err);
	if (r != -ENOENT)
		return r < 0 ? r : refuse_lazy(c, err);
	r = runtime_state(c->ctx, c->o.runtime, c->o.runtime_root, c->o.id, &c->state, &c->runtime, err);
	if (r < 0)
		return r;
	/* a paused container is frozen, not gone: what the runtime paused stays paused */
	c->paused = strcmp(c->state->status, "paused") == 0;
	if ((!c->paused && strcmp(c->state->status, "running") != 0) || c->state->pid <= 0)
		return error_setx(err, EINVAL, "container `%s` is %s, not running", c->o.id,
				  c->state->status);
	return refuse_lazy(c, err);
}

int ckpt_load_config(struct ckpt *c, struct stasis_error **err)
{
	cleanup_free char *path = xasprintf("%s/config.json", c->state->bundle);
	int r = read_file_capped(path, OCI_MAX_JSON, &c->config_json, &c->config_len, err);
	if (r < 0)
		return r;
	r = oci_config_parse(c->config_json, c->config_len, "config.json", &c->config, err);
	if (r < 0)
		return r;
	if (!c->state->rootfs && c->config->root_path) {
		c->state->rootfs = c->config->root_path[0] == '/'
					   ? xstrdup(c->config->root_path)
					   : xasprintf("%s/%s", c->state->bundle, c->config->root_path);
	}
	if (!c->state->rootfs)
		return error_setx(err, EINVAL, "config.json: .root.path: missing");
	return 0;
}
