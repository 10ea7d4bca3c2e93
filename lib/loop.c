/* SPDX-License-Identifier: MIT */
/*
 * The pool's loop thread: one io_uring that waits at once on every
 * worker's result-ring wake word (IORING_OP_FUTEX_WAIT, or an eventfd read
 * where the kernel lacks it), every worker's pidfd (POLL_ADD) and a control
 * eventfd.  When a worker publishes results while the loop sleeps, the loop
 * drains them; when a worker's pidfd fires, the loop replaces the worker.
 *
 * Threads blocked in rp_result_get poll and drain the rings themselves for
 * a while first (result.c), so under load a result usually reaches its
 * waiter without passing through this thread at all.
 *
 * user_data: the tag in the top byte, the worker index below, and for
 * pidfd polls the worker's generation, so a completion for a pidfd that
 * was closed since (the worker was replaced) is recognised and ignored.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <linux/futex.h>
#include <unistd.h>

#include "pool.h"
#include "sys.h"

enum {
	TAG_RESULT = 1,
	TAG_PIDFD = 2,
	TAG_CTL = 3,
};

#define UD(tag, index, gen) \
	((uint64_t)(tag) << 56 | (uint64_t)(gen) << 24 | (uint64_t)(index))
#define UD_TAG(ud) ((unsigned)((ud) >> 56))
#define UD_INDEX(ud) ((unsigned)((ud) & 0xffffff))
#define UD_GEN(ud) ((uint32_t)(((ud) >> 24) & 0xffffffff))

struct loop_state {
	struct rp_pool *pool;
	uint64_t ctl_buf;
	uint32_t *gen;        /* per worker: bumped at each replacement */
	bool *result_armed;   /* a FUTEX_WAIT is in flight for the worker */
	bool *pid_armed;
	bool *died;
};

static struct io_uring_sqe *get_sqe(struct rp_pool *pool)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&pool->uring);

	if (!sqe) {
		io_uring_submit(&pool->uring);
		sqe = io_uring_get_sqe(&pool->uring);
	}
	return sqe;
}

static void arm_ctl(struct loop_state *ls)
{
	struct io_uring_sqe *sqe = get_sqe(ls->pool);

	if (!sqe)
		return;
	io_uring_prep_read(sqe, ls->pool->ctl_efd, &ls->ctl_buf,
			   sizeof(ls->ctl_buf), 0);
	io_uring_sqe_set_data64(sqe, UD(TAG_CTL, 0, 0));
}

static void arm_pidfd(struct loop_state *ls, unsigned i)
{
	struct rp__worker *w = &ls->pool->workers[i];
	struct io_uring_sqe *sqe;

	if (w->pidfd < 0 || ls->pid_armed[i] || !(sqe = get_sqe(ls->pool)))
		return;
	io_uring_prep_poll_add(sqe, w->pidfd, POLLIN);
	io_uring_sqe_set_data64(sqe, UD(TAG_PIDFD, i, ls->gen[i]));
	ls->pid_armed[i] = true;
}

/*
 * Announce that we sleep on worker i's result ring, unless it already has
 * something for us (then drain and try again).  Under drain_lock: the
 * readiness test reads the consumer's state.
 */
static void arm_results(struct loop_state *ls, unsigned i)
{
	struct rp_pool *pool = ls->pool;
	struct rp__worker *w = &pool->workers[i];

	while (!ls->result_armed[i] && !atomic_load(&w->corrupt)) {
		int r = rp__wake_uring_arm(&w->results.wake, &pool->uring,
					   UD(TAG_RESULT, i, 0),
					   rp__ring_readable, &w->results);
		if (r == 0) {
			ls->result_armed[i] = true;
		} else if (r == 1) {
			rp__drain_worker(pool, w);
		} else {
			io_uring_submit(&pool->uring); /* -EBUSY: no SQE */
			break;
		}
	}
}

static void on_cqe(struct loop_state *ls, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	unsigned i = UD_INDEX(ud);

	switch (UD_TAG(ud)) {
	case TAG_RESULT:
		ls->result_armed[i] = false;
		rp__wake_uring_done(&ls->pool->workers[i].results.wake, cqe->res);
		break;
	case TAG_PIDFD:
		if (UD_GEN(ud) != ls->gen[i])
			break; /* an old worker's pidfd */
		ls->pid_armed[i] = false;
		if (cqe->res >= 0 && (cqe->res & POLLIN))
			ls->died[i] = true;
		break;
	case TAG_CTL:
		arm_ctl(ls);
		break;
	}
}

/*
 * The replacement reset the ring and its wake word under the wait we may
 * have in flight: end that wait so it completes and is re-armed on the
 * new word.  A FUTEX_WAIT is woken (a shared futex: the word lives in
 * shared memory); an eventfd read is given a count.
 */
static void release_old_wait(struct loop_state *ls, unsigned i)
{
	struct rp__worker *w = &ls->pool->workers[i];
	uint64_t one = 1;

	if (w->wake_efd >= 0) {
		while (write(w->wake_efd, &one, sizeof(one)) < 0 &&
		       errno == EINTR)
			;
		return;
	}
	syscall(SYS_futex, &w->results.wake.mine->seq, FUTEX_WAKE, INT32_MAX,
		NULL, NULL, 0);
}

static void replace_dead(struct loop_state *ls)
{
	struct rp_pool *pool = ls->pool;

	for (unsigned i = 0; i < pool->nworkers; i++) {
		if (!ls->died[i])
			continue;
		ls->died[i] = false;
		rp__worker_replace(pool, &pool->workers[i]);
		ls->gen[i]++;
		release_old_wait(ls, i);
	}
}

/*
 * Block until something happens.  On valgrind, in slices: it would keep its
 * big lock through io_uring_enter and stop the pool's other threads.  While
 * a waiter drains (helped), in short slices.
 */
static void wait_events(struct rp_pool *pool, bool helped, int64_t deadline)
{
	int64_t wait = helped ? RP_HELP_SLICE_NS :
		       pool->loop_sliced ? 1000000 : INT64_MAX;
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;

	if (deadline != INT64_MAX && deadline - rp__now_ns() < wait)
		wait = deadline - rp__now_ns();
	if (wait == INT64_MAX) {
		io_uring_submit_and_wait(&pool->uring, 1);
		return;
	}
	if (wait < 0)
		wait = 0;
	ts.tv_sec = wait / 1000000000;
	ts.tv_nsec = wait % 1000000000;
	io_uring_submit_and_wait_timeout(&pool->uring, &cqe, 1, &ts, NULL);
}

/*
 * A thread blocked in get or next drains the rings itself while it polls.
 * Then the loop does not announce sleep on the result rings (workers would
 * wake it for every publication, and it would fight the waiter for the
 * CPU); a waiter that stops pokes it (rp__drain_help_done), or it looks
 * again after RP_HELP_SLICE_NS, and arms once the waiters
 * stopped polling.
 */
static bool helper_active(struct rp_pool *pool)
{
	int64_t last = atomic_load_explicit(&pool->last_help_ns,
					    memory_order_relaxed);

	return last && rp__now_ns() - last < RP_HELP_ACTIVE_NS;
}

static void *loop_main(void *arg)
{
	struct loop_state *ls = arg;
	struct rp_pool *pool = ls->pool;

	arm_ctl(ls);
	while (!atomic_load(&pool->loop_stop)) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		bool helped = helper_active(pool);
		int64_t deadline;

		pthread_mutex_lock(&pool->drain_lock);
		rp__drain_all(pool);
		deadline = rp__deadline_check(pool, rp__now_ns());
		for (unsigned i = 0; i < pool->nworkers && !helped; i++)
			arm_results(ls, i);
		pthread_mutex_unlock(&pool->drain_lock);
		rp__dispatch_kick(pool);
		for (unsigned i = 0; i < pool->nworkers; i++)
			arm_pidfd(ls, i);

		wait_events(pool, helped, deadline);
		RP_COUNT(pool, loop_wakeups);
		io_uring_for_each_cqe(&pool->uring, head, cqe) {
			on_cqe(ls, cqe);
			seen++;
		}
		io_uring_cq_advance(&pool->uring, seen);
		replace_dead(ls);
	}
	return NULL;
}

static struct loop_state *loop_state_new(struct rp_pool *pool)
{
	struct loop_state *ls = calloc(1, sizeof(*ls));
	unsigned n = pool->nworkers;

	if (!ls)
		return NULL;
	ls->pool = pool;
	ls->gen = calloc(n, sizeof(*ls->gen));
	ls->result_armed = calloc(n, sizeof(bool));
	ls->pid_armed = calloc(n, sizeof(bool));
	ls->died = calloc(n, sizeof(bool));
	if (!ls->gen || !ls->result_armed || !ls->pid_armed || !ls->died) {
		free(ls->gen);
		free(ls->result_armed);
		free(ls->pid_armed);
		free(ls->died);
		free(ls);
		return NULL;
	}
	return ls;
}

static void loop_state_free(struct loop_state *ls)
{
	free(ls->gen);
	free(ls->result_armed);
	free(ls->pid_armed);
	free(ls->died);
	free(ls);
}

int rp__loop_start(struct rp_pool *pool)
{
	struct loop_state *ls;
	int err;

	pool->ctl_efd = eventfd(0, EFD_CLOEXEC);
	if (pool->ctl_efd < 0)
		return -errno;
	/* Room for a futex wait and a pidfd poll per worker, plus control. */
	err = io_uring_queue_init(2 * pool->nworkers + 8, &pool->uring, 0);
	if (err < 0)
		goto fail_efd;
	ls = loop_state_new(pool);
	if (!ls) {
		err = -ENOMEM;
		goto fail_uring;
	}
	pool->loop_state = ls;
	pool->loop_sliced = rp__sys_under_valgrind();
	err = -pthread_create(&pool->loop_thread, NULL, loop_main, ls);
	if (err < 0)
		goto fail_state;
	pool->loop_running = true;
	return 0;

fail_state:
	loop_state_free(ls);
	pool->loop_state = NULL;
fail_uring:
	io_uring_queue_exit(&pool->uring);
fail_efd:
	close(pool->ctl_efd);
	pool->ctl_efd = -1;
	return err;
}

/* Make the loop look around now (a deadline moved earlier, or stop). */
void rp__loop_poke(struct rp_pool *pool)
{
	uint64_t one = 1;

	if (pool->ctl_efd < 0)
		return;
	while (write(pool->ctl_efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

void rp__loop_stop(struct rp_pool *pool)
{
	if (!pool->loop_running)
		return;
	atomic_store(&pool->loop_stop, true);
	rp__loop_poke(pool);
	pthread_join(pool->loop_thread, NULL);
	pool->loop_running = false;
	io_uring_queue_exit(&pool->uring);
	/* ctl_efd stays open until rp__loop_free: a submitter that got in
	 * before the pool closed may still poke it. */
	loop_state_free(pool->loop_state);
	pool->loop_state = NULL;
}

/* After the loop stopped and no submitter can run: the control eventfd. */
void rp__loop_free(struct rp_pool *pool)
{
	if (pool->ctl_efd >= 0)
		close(pool->ctl_efd);
	pool->ctl_efd = -1;
}
