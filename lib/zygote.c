/* SPDX-License-Identifier: MIT */
/*
 * Zygote protocol, over a SOCK_STREAM socketpair:
 *   request: struct zygote_request, with the fd the child is to keep
 *            attached (SCM_RIGHTS) when has_fd, then payload_len bytes;
 *   reply:   struct zygote_reply, with the child's pidfd attached
 *            (SCM_RIGHTS) when result > 0.
 * One request is in flight at a time (the owner's mutex), so replies need
 * no tagging.  The zygote exits when the socket closes.
 */
#include "zygote.h"

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sys.h"

struct rp__zygote {
	pthread_mutex_t lock; /* serialises request + reply */
	pid_t owner;
	pid_t pid;
	int pidfd;
	int sock;
};

struct zygote_request {
	uint64_t main;        /* rp__child_main_fn, valid in the zygote's image */
	uint64_t payload_len;
	char name[RP_SPAWN_NAME_MAX];
	char comm[16];
	uint8_t pin;
	uint8_t has_fd;       /* an fd rides with the request (pass_fd) */
	cpu_set_t cpus;
};

struct zygote_reply {
	int64_t result;       /* the child's pid, or -errno */
};

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Returns 0, -EPIPE at end of stream, or -errno. */
static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Room for one fd in a message's control data. */
union one_fd_control {
	char buf[CMSG_SPACE(sizeof(int))];
	struct cmsghdr align;
};

/* Sends len bytes of buf (all, or -EPIPE) with fd attached if fd >= 0. */
static int send_with_fd(int sock, const void *buf, size_t len, int fd)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	union one_fd_control control;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* The fd went with the first byte; the rest needs none. */
	return write_all(sock, (const char *)buf + n, len - (size_t)n);
}

/*
 * Reads exactly len bytes into buf; an fd that came with them is kept in
 * *ret_fd (else -1), any further one closed.  0, -EPIPE at end of stream,
 * or -errno (*ret_fd is closed and -1 then).
 */
static int recv_with_fd(int sock, void *buf, size_t len, int *ret_fd)
{
	char *p = buf;

	*ret_fd = -1;
	while (len > 0) {
		struct iovec iov = { .iov_base = p, .iov_len = len };
		union one_fd_control control;
		struct msghdr msg = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		struct cmsghdr *c;
		ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? -errno : -EPIPE;

			if (*ret_fd >= 0)
				close(*ret_fd);
			*ret_fd = -1;
			return err;
		}
		c = CMSG_FIRSTHDR(&msg);
		if (c && c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int))) {
			int fd;

			memcpy(&fd, CMSG_DATA(c), sizeof(int));
			if (*ret_fd < 0)
				*ret_fd = fd;
			else
				close(fd);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_reply(int sock, int64_t result, int pidfd)
{
	struct zygote_reply reply = { .result = result };

	return send_with_fd(sock, &reply, sizeof(reply), pidfd) < 0 ? -EPIPE : 0;
}

static int recv_reply(int sock, int64_t *ret_result, int *ret_pidfd)
{
	struct zygote_reply reply;
	int pidfd;
	int err = recv_with_fd(sock, &reply, sizeof(reply), &pidfd);

	if (err < 0)
		return err;
	if ((reply.result > 0) != (pidfd >= 0)) {
		if (pidfd >= 0)
			close(pidfd);
		return -EPIPE;
	}
	*ret_result = reply.result;
	*ret_pidfd = pidfd;
	return 0;
}

/* Zygote side: clone one child for a request; the pidfd goes back. */
static int serve_one(int sock, const struct rp__child_spec *base)
{
	struct rp__child_spec spec = *base;
	struct zygote_request req;
	int pidfd = -1;
	pid_t pid;
	int err;

	err = recv_with_fd(sock, &req, sizeof(req), &spec.pass_fd);
	if (err < 0)
		return err;
	if (!req.has_fd && spec.pass_fd >= 0) {
		close(spec.pass_fd);
		spec.pass_fd = -1;
	}
	spec.main = (rp__child_main_fn)(uintptr_t)req.main;
	spec.payload_len = req.payload_len;
	memcpy(spec.name, req.name, sizeof(spec.name));
	memcpy(spec.comm, req.comm, sizeof(spec.comm));
	spec.comm[sizeof(spec.comm) - 1] = '\0';
	spec.pin = req.pin;
	spec.cpus = req.cpus;
	spec.payload = req.payload_len ? malloc(req.payload_len) : NULL;
	err = req.payload_len && !spec.payload ? -ENOMEM : 0;
	if (err == 0)
		err = read_all(sock, spec.payload, req.payload_len);
	if (err < 0)
		goto out;

	pid = rp__sys_clone(CLONE_PARENT, 0, &pidfd);
	if (pid == 0)
		rp__child_run(&spec);
	err = send_reply(sock, pid, pid > 0 ? pidfd : -1);
	if (pid > 0)
		close(pidfd);
out:
	if (spec.pass_fd >= 0)
		close(spec.pass_fd);
	free(spec.payload);
	return err;
}

/*
 * The zygote's life: it lives as long as its owner's socket, and no longer
 * than its owner.  It takes no signal from the terminal's process group:
 * only its owner decides when it ends.
 */
__attribute__((noreturn)) static void zygote_main(int sock, pid_t owner,
						  const int *keep, int nkeep)
{
	struct rp__child_spec base;

	memset(&base, 0, sizeof(base));
	if (nkeep)
		memcpy(base.keep_fds, keep, sizeof(int) * (size_t)nkeep);
	base.nkeep = nkeep;
	base.parent = owner;
	base.pass_fd = -1;
	base.restore_int_quit = true;

	/* Its owner's end, not its creating thread's, ends it (spawn.h). */
	rp__child_watch_parent(owner);
	prctl(PR_SET_NAME, "rp-zygote", 0, 0, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	{
		int keep_all[RP_SPAWN_MAX_KEEP + 1];

		if (nkeep)
			memcpy(keep_all, keep, sizeof(int) * (size_t)nkeep);
		keep_all[nkeep] = sock;
		if (rp__sys_close_fds_except(3, keep_all, nkeep + 1) < 0)
			_exit(127);
	}
	while (serve_one(sock, &base) == 0)
		;
	_exit(0);
}

int rp__zygote_start(const int *keep_fds, int nkeep,
		     struct rp__zygote **ret_zygote)
{
	struct rp__zygote *z;
	int sv[2];
	int err;

	if (nkeep < 0 || nkeep > RP_SPAWN_MAX_KEEP || (nkeep && !keep_fds))
		return -EINVAL;
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		err = -errno;
		goto fail_free;
	}
	pthread_mutex_init(&z->lock, NULL);
	z->owner = getpid();
	z->sock = sv[0];

	/* fork(), not clone: its atfork handlers leave locks consistent.
	 * Flushed first, so no child of the zygote writes our output again. */
	fflush(NULL);
	z->pid = rp__sys_fork(&z->pidfd);
	if (z->pid < 0) {
		err = z->pid;
		goto fail_sock;
	}
	if (z->pid == 0) {
		close(sv[0]);
		zygote_main(sv[1], z->owner, keep_fds, nkeep);
	}
	close(sv[1]);
	*ret_zygote = z;
	return 0;

fail_sock:
	close(sv[1]);
	close(sv[0]);
	pthread_mutex_destroy(&z->lock);
fail_free:
	free(z);
	return err;
}

static int send_request(int sock, const struct rp__child_spec *spec)
{
	struct zygote_request req;
	int err;

	memset(&req, 0, sizeof(req));
	req.main = (uint64_t)(uintptr_t)spec->main;
	req.payload_len = spec->payload_len;
	memcpy(req.name, spec->name, sizeof(req.name));
	memcpy(req.comm, spec->comm, sizeof(req.comm));
	req.pin = spec->pin;
	req.has_fd = spec->pass_fd >= 0;
	req.cpus = spec->cpus;
	err = send_with_fd(sock, &req, sizeof(req), spec->pass_fd);
	if (err == 0 && spec->payload_len)
		err = write_all(sock, spec->payload, spec->payload_len);
	return err;
}

/* At most this many requests wait in the socket: each reply carries an
 * fd, and fds in flight count against the sender's limit. */
#define SPAWN_WINDOW 16u

int rp__zygote_spawn_many(struct rp__zygote *z,
			  const struct rp__child_spec *specs, unsigned n,
			  int *rets, pid_t *pids, int *pidfds)
{
	unsigned sent = 0, got = 0;
	int err = 0;

	for (unsigned i = 0; i < n; i++)
		rets[i] = -EPIPE;
	pthread_mutex_lock(&z->lock);
	while (got < n && err == 0) {
		/* A request that could not be sent ends the sending, not
		 * the reading: the ones before it may have made children,
		 * whose pidfds are in their replies. */
		while (sent < n && sent - got < SPAWN_WINDOW && err == 0)
			if ((err = send_request(z->sock, &specs[sent])) == 0)
				sent++;
		while (got < sent) {
			int64_t result = -EPIPE;
			int pidfd = -1;

			if (recv_reply(z->sock, &result, &pidfd) < 0) {
				err = -EPIPE;
				break;
			}
			if (result > 0) {
				rets[got] = 0;
				pids[got] = (pid_t)result;
				pidfds[got] = pidfd;
			} else {
				rets[got] = result < 0 ? (int)result : -EPIPE;
			}
			got++;
		}
	}
	pthread_mutex_unlock(&z->lock);
	return err < 0 ? -EPIPE : 0;
}

int rp__zygote_spawn(struct rp__zygote *z, const struct rp__child_spec *spec,
		     pid_t *ret_pid, int *ret_pidfd)
{
	int ret = -EPIPE;
	int err = rp__zygote_spawn_many(z, spec, 1, &ret, ret_pid, ret_pidfd);

	return err < 0 ? err : ret;
}


pid_t rp__zygote_owner(const struct rp__zygote *z)
{
	return z->owner;
}

pid_t rp__zygote_pid(const struct rp__zygote *z)
{
	/* pid is set before the record is shared and never changes. */
	return z ? z->pid : 0;
}

void rp__zygote_forget(struct rp__zygote *z)
{
	/* Its fds were closed when this child was set up; the mutex may be
	 * a copy of one held by another thread, so it is not touched. */
	free(z);
}

void rp__zygote_release(struct rp__zygote *z)
{
	if (!z || z->sock < 0)
		return;
	close(z->sock);
	z->sock = -1;
}

void rp__zygote_stop(struct rp__zygote *z)
{
	if (!z)
		return;
	rp__zygote_release(z);
	/* EOF on its socket ends it; the wait is bounded by that. */
	if (z->owner == getpid()) {
		int code;

		while (rp__sys_wait_readable(z->pidfd, -1) == 0)
			;
		rp__sys_pidfd_reap(z->pidfd, &code);
	}
	close(z->pidfd);
	pthread_mutex_destroy(&z->lock);
	free(z);
}
