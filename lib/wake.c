/* SPDX-License-Identifier: MIT */
#include "wake.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

#include <liburing.h>

#include "fallback.h"
#include "uring_compat.h"

/* io_uring user_data tags of the self-contained wait. */
#define UD_WAIT		0x7270776169740001ull	/* "rpwait" | 1 */
#define UD_TIMEOUT	0x7270776169740002ull
#define UD_PROBE	0x7270776169740003ull

/* Clock reads are ~25 ns: look at the clock once per this many pauses. */
#define SPIN_CHECK_EVERY	32

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int futex_wait(RP_ATOMIC(uint32_t) *word, uint32_t val,
		      const struct timespec *rel)
{
	/* Shared futex (no FUTEX_PRIVATE_FLAG): the waker is another process. */
	if (syscall(SYS_futex, word, FUTEX_WAIT, val, rel, NULL, 0) < 0)
		return -errno;
	return 0;
}

static void futex_wake(RP_ATOMIC(uint32_t) *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static int membarrier(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0, 0) < 0 ? -errno : 0;
}

/*
 * Registration is per address space: inherited by fork and clone without
 * CLONE_VM, dropped by exec; hence the pid, so a new image registers again.
 */
static RP_ATOMIC(int) asym_pid;	/* pid that registered, or -pid: failed */

static bool asym_registered(void)
{
	int pid = getpid();
	/* relaxed: a cache of an idempotent, per-process syscall. */
	int state = atomic_load_explicit(&asym_pid, memory_order_relaxed);

	if (state == pid || state == -pid)
		return state == pid;
	state = membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0 ?
		pid : -pid;
	atomic_store_explicit(&asym_pid, state, memory_order_relaxed);
	return state == pid;
}

void rp__wake_init(struct rp_wake *w, struct rp_wake_word *mine,
		   struct rp_wake_word *peer)
{
	w->asym = !rp__fallback_forced(RP_FALLBACK_MEMBARRIER) &&
		  asym_registered();
	/*
	 * seq_cst: our mode is visible before any later load B of ours can
	 * run, so a waiter that still reads the old mode announced (A) early
	 * enough for B to see it.
	 */
	atomic_store_explicit(&peer->waker_asym, w->asym, memory_order_seq_cst);
	w->mine = mine;
	w->peer = peer;
	w->my_efd = -1;
	w->peer_efd = -1;
	/* Start low: a fresh waiter learns to spin longer only if it pays
	 * (spinning idle at start-up steals the CPU the others start on). */
	w->spin_ns = RP_WAKE_SPIN_MIN_NS;
	w->policy = RP_WAKE_SPIN;
	w->yield.skip = 0;
	w->efd_buf = 0;
	w->spins = 0;
	w->sleeps = 0;
	w->wakeups = 0;
}

/*
 * A yield that comes straight back found nobody else waiting for this CPU:
 * then the next RP_YIELD_BACKOFF calls skip it (its ~0.3 us syscall only
 * delays noticing our own work), and try again after.
 */
void rp__wake_yield(struct rp_yield *y)
{
	int64_t t;

	if (y->skip) {
		y->skip--;
		return;
	}
	t = now_ns();
	sched_yield();
	if (now_ns() - t < RP_YIELD_RAN_OTHER_NS)
		y->skip = RP_YIELD_BACKOFF;
}

void rp__wake_set_policy(struct rp_wake *w, enum rp_wake_policy policy)
{
	w->policy = (uint8_t)policy;
}

void rp__wake_set_symmetric(struct rp_wake *w)
{
	w->asym = false;
	/* seq_cst: as in rp__wake_init, before any later load B of ours. */
	atomic_store_explicit(&w->peer->waker_asym, 0, memory_order_seq_cst);
}

void rp__wake_set_eventfds(struct rp_wake *w, int my_efd, int peer_efd)
{
	w->my_efd = my_efd;
	w->peer_efd = peer_efd;
}

void rp__wake_peer_slow(struct rp_wake *w)
{
	struct rp_wake_word *word = w->peer;
	uint64_t one = 1;

	/*
	 * seq_cst exchange: reads the waiter's store (A), so its earlier load
	 * of seq happens before our increment below; clearing the flag makes
	 * one announcement cost at most one wake.
	 */
	if (!atomic_exchange_explicit(&word->sleeping, 0, memory_order_seq_cst))
		return;
	/* seq_cst: makes futex_wait(seq, s) in the waiter fail or be woken. */
	atomic_fetch_add_explicit(&word->seq, 1, memory_order_seq_cst);
	futex_wake(&word->seq);
	if (w->peer_efd >= 0 && write(w->peer_efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the reader wakes anyway. */
	}
	w->wakeups++;
}

/* Adapt the budget: spinning that pays grows it, spinning in vain halves it. */
static void spin_feedback(struct rp_wake *w, bool paid)
{
	if (paid)
		w->spin_ns = w->spin_ns >= RP_WAKE_SPIN_MAX_NS / 2 ?
			     RP_WAKE_SPIN_MAX_NS : w->spin_ns * 2;
	else
		w->spin_ns = w->spin_ns <= RP_WAKE_SPIN_MIN_NS * 2 ?
			     RP_WAKE_SPIN_MIN_NS : w->spin_ns / 2;
}

/* Returns true when ready() held within the spin budget. */
static bool spin(struct rp_wake *w, rp_wake_ready_fn ready, void *arg)
{
	int64_t end;
	unsigned int i = 0;

	if (w->policy == RP_WAKE_SLEEP)
		return false;
	end = now_ns() + w->spin_ns;
	for (;;) {
		if (ready(arg))
			return true;
		__builtin_ia32_pause();
		if (++i % SPIN_CHECK_EVERY != 0)
			continue;
		if (now_ns() >= end)
			return false;
		if (w->policy == RP_WAKE_YIELD)
			rp__wake_yield(&w->yield);
	}
}

/*
 * Announce sleep and re-check.  Returns true (announcement withdrawn) when
 * ready after all; false with *ret_seq set when the caller must block, and
 * *ret_sliced when it must block in short slices only (see wake.h).
 */
static bool announce(struct rp_wake *w, rp_wake_ready_fn ready, void *arg,
		     uint32_t *ret_seq, bool *ret_sliced)
{
	struct rp_wake_word *word = w->mine;
	/* acquire: pairs with the waker's seq_cst increment of seq. */
	uint32_t s = atomic_load_explicit(&word->seq, memory_order_acquire);

	/* seq_cst: A; pairs with the waker's load B in rp__wake_peer(). */
	atomic_store_explicit(&word->sleeping, 1, memory_order_seq_cst);
	/* M: for a waker that published with a plain store (wake.h). */
	*ret_sliced = false;
	if (atomic_load_explicit(&word->waker_asym, memory_order_seq_cst) &&
	    membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) < 0)
		*ret_sliced = true;
	if (ready(arg)) {
		/* relaxed: only spares the waker a needless syscall. */
		atomic_store_explicit(&word->sleeping, 0, memory_order_relaxed);
		return true;
	}
	*ret_seq = s;
	return false;
}

/* Spin, then announce; true when ready without blocking. */
static bool try_avoid_sleep(struct rp_wake *w, rp_wake_ready_fn ready,
			    void *arg, uint32_t *ret_seq, bool *ret_sliced)
{
	if (ready(arg))
		return true;
	if (spin(w, ready, arg)) {
		w->spins++;
		spin_feedback(w, true);
		return true;
	}
	spin_feedback(w, false);
	return announce(w, ready, arg, ret_seq, ret_sliced);
}

static void withdraw(struct rp_wake *w)
{
	/* relaxed: the waker may have cleared it already; either is fine. */
	atomic_store_explicit(&w->mine->sleeping, 0, memory_order_relaxed);
}

/* Time left until deadline, at most RP_WAKE_SLICE_NS when sliced. */
static int rel_timeout(int64_t deadline, bool sliced, struct timespec *ts)
{
	int64_t left = deadline - now_ns();

	if (left <= 0)
		return -ETIMEDOUT;
	if (sliced && left > RP_WAKE_SLICE_NS)
		left = RP_WAKE_SLICE_NS;
	ts->tv_sec = left / 1000000000;
	ts->tv_nsec = left % 1000000000;
	return 0;
}

/*
 * A wait that blocked but ended within the longest spin budget would have
 * been cheaper spun: grow the budget (the halving at the sleep undone,
 * and doubled).  Without this, a budget that starts or falls below the
 * typical gap between hand-overs never succeeds, so never grows, and
 * every hand-over pays two syscalls.
 */
static void slept_briefly(struct rp_wake *w, int64_t start)
{
	if (now_ns() - start > RP_WAKE_SPIN_MAX_NS)
		return;
	spin_feedback(w, true);
	spin_feedback(w, true);
}

int rp__wake_wait(struct rp_wake *w, rp_wake_ready_fn ready, void *arg,
		  int64_t timeout_ns)
{
	int64_t start = now_ns();
	int64_t deadline = timeout_ns < 0 ? INT64_MAX : start + timeout_ns;
	bool forever, sliced, slept = false;
	struct timespec ts;
	uint32_t s;
	int ret;

	while (!try_avoid_sleep(w, ready, arg, &s, &sliced)) {
		forever = deadline == INT64_MAX && !sliced;
		ret = forever ? 0 : rel_timeout(deadline, sliced, &ts);
		if (ret == 0) {
			w->sleeps++;
			slept = true;
			ret = futex_wait(&w->mine->seq, s, forever ? NULL : &ts);
		}
		withdraw(w);
		if (ret == -ETIMEDOUT && now_ns() >= deadline)
			return ready(arg) ? 0 : -ETIMEDOUT;
		if (ret < 0 && ret != -ETIMEDOUT && ret != -EAGAIN &&
		    ret != -EINTR)
			return ret;
	}
	if (slept)
		slept_briefly(w, start);
	return 0;
}

/* ---- io_uring side ---- */

static RP_ATOMIC(int) futex_op_state;	/* 0 unknown, 1 yes, 2 no */

static int probe_futex_op(void)
{
	uint32_t word = 0;
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_queue_init(2, &ring, 0);
	if (ret < 0)
		return ret;
	/* Expect -EAGAIN: the word holds 0, not 1.  Old kernels: -EINVAL. */
	sqe = io_uring_get_sqe(&ring);
	if (!sqe) {
		io_uring_queue_exit(&ring);
		return -EBUSY;
	}
	rp__uring_prep_futex_wait(sqe, &word, 1, FUTEX2_SIZE_U32);
	io_uring_sqe_set_data64(sqe, UD_PROBE);
	ret = io_uring_submit_and_wait(&ring, 1);
	if (ret >= 0)
		ret = io_uring_peek_cqe(&ring, &cqe);
	if (ret >= 0)
		ret = cqe->res == -EAGAIN ? 1 : 0;
	io_uring_queue_exit(&ring);
	return ret;
}

int rp__wake_uring_futex_supported(void)
{
	/* relaxed: the cached answer is the same whoever computed it. */
	int state = atomic_load_explicit(&futex_op_state, memory_order_relaxed);
	int ret;

	if (state)
		return state == 1;
	ret = probe_futex_op();
	if (ret < 0)
		return ret;
	atomic_store_explicit(&futex_op_state, ret ? 1 : 2, memory_order_relaxed);
	return ret;
}

/* Queue the blocking SQE: a FUTEX_WAIT on seq, or a read of my_efd. */
static int queue_sleep(struct rp_wake *w, struct io_uring *ring, uint32_t s,
		       uint64_t user_data, struct io_uring_sqe **ret_sqe)
{
	struct io_uring_sqe *sqe;
	int ret;

	if (w->my_efd < 0) {
		ret = rp__wake_uring_futex_supported();
		if (ret <= 0)
			return ret < 0 ? ret : -EOPNOTSUPP;
	}
	sqe = io_uring_get_sqe(ring);
	if (!sqe)
		return -EBUSY;
	if (w->my_efd >= 0)
		io_uring_prep_read(sqe, w->my_efd, &w->efd_buf,
				   sizeof(w->efd_buf), 0);
	else
		rp__uring_prep_futex_wait(sqe, (const uint32_t *)&w->mine->seq,
					  s, FUTEX2_SIZE_U32);
	io_uring_sqe_set_data64(sqe, user_data);
	*ret_sqe = sqe;
	return 0;
}

int rp__wake_uring_arm(struct rp_wake *w, struct io_uring *ring,
		       uint64_t user_data, rp_wake_ready_fn ready, void *arg)
{
	struct io_uring_sqe *sqe;
	bool sliced;
	uint32_t s;
	int ret;

	if (try_avoid_sleep(w, ready, arg, &s, &sliced))
		return 1;
	ret = queue_sleep(w, ring, s, user_data, &sqe);
	if (ret < 0) {
		withdraw(w);
		return ret;
	}
	w->sleeps++;
	return sliced ? 2 : 0;
}

void rp__wake_uring_done(struct rp_wake *w, int res)
{
	withdraw(w);
}

/* Reap n completions of ours; returns the wait SQE's result. */
static int reap(struct io_uring *ring, unsigned int n)
{
	struct io_uring_cqe *cqe;
	int res = 0, ret;

	while (n) {
		ret = io_uring_wait_cqe(ring, &cqe);
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			return ret;
		if (cqe->user_data == UD_WAIT)
			res = cqe->res;
		io_uring_cqe_seen(ring, cqe);
		n--;
	}
	return res;
}

/*
 * Block once through the ring.  With a deadline the wait SQE is linked to a
 * timeout, so both complete (one of them -ECANCELED) and nothing stays in
 * flight after we return.
 */
static int sleep_uring(struct rp_wake *w, struct io_uring *ring, uint32_t s,
		       int64_t deadline, bool sliced)
{
	struct __kernel_timespec ts;
	struct io_uring_sqe *sqe;
	int64_t left = 0;
	unsigned int n = 1;
	int ret;

	if (deadline != INT64_MAX || sliced) {
		left = deadline - now_ns();
		if (left <= 0)
			return -ETIMEDOUT;
		if (sliced && left > RP_WAKE_SLICE_NS)
			left = RP_WAKE_SLICE_NS;
	}
	if (io_uring_sq_space_left(ring) < 2)
		return -EBUSY;
	ret = queue_sleep(w, ring, s, UD_WAIT, &sqe);
	if (ret < 0)
		return ret;
	if (left) {
		io_uring_sqe_set_flags(sqe, IOSQE_IO_LINK);
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		sqe = io_uring_get_sqe(ring);
		io_uring_prep_link_timeout(sqe, &ts, 0);
		io_uring_sqe_set_data64(sqe, UD_TIMEOUT);
		n = 2;
	}
	w->sleeps++;
	ret = io_uring_submit(ring);
	if (ret < 0)
		return ret;
	ret = reap(ring, n);
	return ret == -ECANCELED ? -ETIMEDOUT : ret;
}

int rp__wake_wait_uring(struct rp_wake *w, struct io_uring *ring,
			rp_wake_ready_fn ready, void *arg, int64_t timeout_ns)
{
	int64_t deadline = timeout_ns < 0 ? INT64_MAX : now_ns() + timeout_ns;
	bool sliced;
	uint32_t s;
	int ret;

	while (!try_avoid_sleep(w, ready, arg, &s, &sliced)) {
		ret = sleep_uring(w, ring, s, deadline, sliced);
		withdraw(w);
		if (ret == -ETIMEDOUT && now_ns() >= deadline)
			return ready(arg) ? 0 : -ETIMEDOUT;
		/* 0 or 8: woken or eventfd read; -EAGAIN: seq moved already. */
		if (ret < 0 && ret != -ETIMEDOUT && ret != -EAGAIN &&
		    ret != -EINTR)
			return ret;
	}
	return 0;
}
