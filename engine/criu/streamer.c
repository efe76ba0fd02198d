/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A restore whose images CRIU reads from us rather than from a directory: `criu restore --stream`
 * connects to the image streamer socket in its images dir, asks for each image by name, and reads
 * it from a pipe it hands us (../shared/criu-stream.md A).  CRIU 4.2 takes --stream only on its
 * command line (over RPC it aborts: A.5), so this is the one CRIU run stasis makes without RPC.
 * Every image is fed by a thread of its own: CRIU asks for pages-N.img before it has read all of
 * pagemap-N.img, and for the next task's images while the last one's pages still flow (A.4).
 */
#include "engine/criu/streamer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/process.h"
#include "common/xalloc.h"
#include "engine/criu/criu-internal.h"
#include "engine/criu/rpc.h"

#define STREAMER_SOCKET "streamer-serve.sock" /* CRIU's IMG_STREAMER_SERVE_SOCKET_NAME */
/* a request is an image's name: bigger is not CRIU */
#define STREAMER_REQUEST_MAX 4096
/* what a pipe may hold without CAP_SYS_RESOURCE (fs.pipe-max-size); 64 KiB pipes cost 2.5x */
#define STREAMER_PIPE_SIZE (1 << 20)
/* how long CRIU may take to connect after it started */
#define STREAMER_CONNECT_MS 60000
/* how long CRIU may take to undo a restore the streamer broke off */
#define STREAMER_GIVE_UP_MS 30000

struct feeder {
	pthread_t thread;
	struct streamer *s;
	char *name;
	int fd;
};

struct streamer {
	const struct cr_stream_source *src;
	pthread_mutex_t lock;
	int r; /* the first feeder's failure */
	struct stasis_error *err;
	int control; /* the connection from CRIU */
	struct feeder **feeders;
	size_t n_feeders;
};

static void *feed_main(void *arg)
{
	struct feeder *f = arg;
	/* a reader that went away is EPIPE here */
	thread_block_sigpipe();
	struct stasis_error *e = NULL;
	int r = f->s->src->feed(f->name, f->fd, f->s->src->data, &e);
	/* the end of the image: CRIU reads up to EOF */
	close(f->fd);
	f->fd = -1;
	if (r == -EPIPE)
		r = 0; /* CRIU read what it wanted, or failed on its own: its log says which */
	pthread_mutex_lock(&f->s->lock);
	if (r < 0 && f->s->r == 0) {
		f->s->r = r;
		f->s->err = e;
		e = NULL;
		/* the restore cannot succeed: CRIU hears it at its next request and gives up */
		shutdown(f->s->control, SHUT_RDWR);
	}
	pthread_mutex_unlock(&f->s->lock);
	stasis_error_free(e);
	return NULL;
}

/* a read of CRIU's connection: its end is ECONNRESET */
static int read_full(int fd, void *buf, size_t len)
{
	int r = read_exact(fd, buf, len);
	return r == -ENODATA ? -ECONNRESET : r;
}

/* an image name as CRIU makes them: one path component */
static bool name_is_plain(const char *name)
{
	return name[0] && name[0] != '.' && !strchr(name, '/') && strlen(name) < 256;
}

/* Answers CRIU's requests until it closes the connection (0) or breaks the protocol. */
static int serve(struct streamer *s, struct stasis_error **err)
{
	for (;;) {
		uint32_t len;
		int r = read_full(s->control, &len, sizeof(len));
		if (r == -ECONNRESET)
			return 0; /* CRIU is done (or died: its exit status says) */
		if (r < 0)
			return error_set(err, -r, "CRIU's image streamer: read a request");
		if (len == 0 || len > STREAMER_REQUEST_MAX)
			return error_setx(err, EPROTO, "CRIU's image streamer: a request of %u bytes", len);
		cleanup_free unsigned char *body = xmalloc(len);
		cleanup_free char *name = NULL;
		if ((r = read_full(s->control, body, len)) < 0 ||
		    (r = rpc_streamer_request_decode(body, len, &name)) < 0)
			return error_set(err, r == -ECONNRESET ? EPROTO : -r,
					 "CRIU's image streamer: a request");
		bool exists = name_is_plain(name) && s->src->exists(name, s->src->data);
		unsigned char reply[RPC_STREAMER_REPLY_MAX];
		size_t n = rpc_streamer_reply_encode(exists, reply);
		if ((r = send_all(s->control, reply, n)) < 0)
			return error_set(err, -r, "CRIU's image streamer: reply for `%s`", name);
		if (!exists)
			continue;
		int fd = -1;
		if ((r = recv_fd(s->control, &fd)) < 0)
			return error_set(err, -r, "CRIU's image streamer: the pipe for `%s`", name);
		(void)fcntl(fd, F_SETPIPE_SZ, STREAMER_PIPE_SIZE);
		struct feeder *f = xzalloc(sizeof(*f));
		*f = (struct feeder){ .s = s, .name = TAKE_PTR(name), .fd = fd };
		int e = pthread_create(&f->thread, NULL, feed_main, f);
		if (e) {
			close(fd);
			free(f->name);
			free(f);
			return error_set(err, e, "CRIU's image streamer: a thread to feed an image");
		}
		s->feeders = xgrow(s->feeders, s->n_feeders, sizeof(*s->feeders));
		s->feeders[s->n_feeders++] = f;
	}
}

/* waits for CRIU to connect to the socket, or to exit first (then its log says why) */
static int accept_criu(int listener, int pidfd, int *ret, struct stasis_error **err)
{
	struct pollfd p[2] = { { listener, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
	int n;
	do
		n = poll(p, pidfd >= 0 ? 2 : 1, STREAMER_CONNECT_MS);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return error_set(err, errno, "CRIU's image streamer: wait for CRIU");
	if (n == 0)
		return error_setx(err, ETIMEDOUT, "CRIU did not connect to the image streamer in %d s",
				  STREAMER_CONNECT_MS / 1000);
	if (!(p[0].revents & POLLIN))
		return -ECHILD;
	int c = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return error_set(err, errno, "CRIU's image streamer: accept");
	*ret = c;
	return 0;
}

static int wait_exit(pid_t pid, int *status)
{
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int cr_restore_streamed(struct stasis_ctx *ctx, const struct rpc_opts *o, const char *images_dir,
			const char *work_dir, const struct cr_stream_source *src, pid_t *ret_pid,
			struct stasis_error **err)
{
	cleanup_free char *pidfile = xasprintf("%s/restore.pid", work_dir);
	cleanup_strv char **argv = NULL;
	int r = rpc_restore_argv(o, ctx->criu_path, images_dir, work_dir, pidfile, &argv, err);
	if (r < 0)
		return r;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if ((size_t)snprintf(a.sun_path, sizeof(a.sun_path), "%s/" STREAMER_SOCKET, images_dir) >=
	    sizeof(a.sun_path))
		return error_setx(err, ENAMETOOLONG, "`%s/" STREAMER_SOCKET "`: too long for a socket",
				  images_dir);
	cleanup_close int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	unlink(a.sun_path);
	(void)unlink(pidfile);
	if (listener < 0 || bind(listener, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(listener, 1) < 0)
		return error_set(err, errno, "image streamer socket `%s`", a.sun_path);

	size_t n_keep = o->n_inherit_fd;
	cleanup_free int *keep = xreallocarray(NULL, n_keep + 1, sizeof(int));
	for (size_t i = 0; i < n_keep; i++)
		keep[i] = o->inherit_fd[i].fd;
	pid_t pid;
	cleanup_close int pidfd = -1;
	ctx_log(ctx, STASIS_LOG_DEBUG, "CRIU restore --stream: images from `%s`", a.sun_path);
	if ((r = rpc_cli_spawn(ctx->criu_path, argv, keep, n_keep, o->criu_namespaces, &pid, &pidfd, err)) <
	    0)
		return r;

	struct streamer s = { .src = src, .control = -1, .lock = PTHREAD_MUTEX_INITIALIZER };
	r = accept_criu(listener, pidfd, &s.control, err);
	if (r == 0)
		r = serve(&s, err);
	/* a feeder that failed ended the connection: the restore is broken off all the same */
	pthread_mutex_lock(&s.lock);
	bool broken = r < 0 ? r != -ECHILD : s.r < 0;
	pthread_mutex_unlock(&s.lock);
	if (broken) {
		/*
		 * CRIU hears the end at its next request and undoes what it made; one that does not
		 * leave in time is killed (what it made is then the rollback's to kill)
		 */
		if (s.control >= 0)
			shutdown(s.control, SHUT_RDWR);
		struct pollfd p = { pidfd, POLLIN, 0 };
		if (pidfd < 0 || poll(&p, 1, STREAMER_GIVE_UP_MS) <= 0) {
			kill(pid, SIGKILL);
			/* its tasks may hold the pipes' read ends: a feeder would wait on them forever */
			if (src->abandon)
				src->abandon(src->data);
		}
	}
	int status = 0;
	int w = wait_exit(pid, &status);
	/* CRIU has exited: every pipe's reader is gone, no feeder can block any more */
	if (s.control >= 0)
		shutdown(s.control, SHUT_RDWR);
	for (size_t i = 0; i < s.n_feeders; i++) {
		pthread_join(s.feeders[i]->thread, NULL);
		free(s.feeders[i]->name);
		free(s.feeders[i]);
	}
	free(s.feeders);
	closep(&s.control);
	unlink(a.sun_path);
	if (s.r < 0) {
		/* what stopped feeding CRIU explains its failure better than what CRIU saw */
		if (err && *err)
			*err = stasis_error_free(*err);
		return error_adopt(err, &s.err, s.r);
	}
	if (r < 0 && r != -ECHILD)
		return r;
	if (w < 0)
		return error_set(err, -w, "wait for CRIU");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		struct rpc_result res = { 0 };
		cleanup_free char *log =
			xasprintf("%s/%s", work_dir, o->log_file ? o->log_file : "restore.log");
		return cr_fail(err, "CRIU restore", &res, log);
	}
	cleanup_free char *text = NULL;
	size_t len = 0;
	if ((r = read_file_capped(pidfile, 64, &text, &len, err)) < 0)
		return error_wrap(err, r, "CRIU restored the tree");
	char *end;
	long v = strtol(text, &end, 10);
	if (v <= 0 || (*end && *end != '\n'))
		return error_setx(err, EPROTO, "CRIU's pidfile `%s`: `%s` is not a pid", pidfile, text);
	*ret_pid = (pid_t)v;
	return 0;
}
