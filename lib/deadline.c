/* SPDX-License-Identifier: MIT */
/*
 * Per-task deadlines (rp_submit_opts.timeout_ns), enforced by the loop
 * thread: a chunk's clock starts when its worker starts it, and when it
 * runs out the worker and its process group get SIGTERM, then SIGKILL
 * after the grace.  The death itself goes the usual way (loop.c,
 * workers.c): the chunk fails, here with -ETIMEDOUT, the chunks queued
 * behind it run elsewhere, and a replacement starts.
 *
 * When a chunk started is read from its slot_state (RUNNING) and the
 * worker's hint in its control block (run_slot, run_start_ns).  Both are
 * the worker's memory, so untrusted: a hint is used only if it lies
 * between the chunk's sending and now, so a lying worker can gain at most
 * the time until the owner first sees the chunk RUNNING.  A chunk not yet
 * started is looked at again every start_poll_ns().
 *
 * Everything here runs under drain_lock, which is what keeps a slot from
 * being settled (and reused) while it is examined.  pool->deadline_next is
 * when the loop must look next; anyone who sends a timed chunk lowers it
 * and pokes the loop if that moves it earlier.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include "pool.h"
#include "sys.h"

/* Bounds for how often an unstarted timed chunk is looked at. */
#define START_POLL_MIN_NS 1000000     /* 1 ms */
#define START_POLL_MAX_NS 100000000   /* 100 ms */

static int64_t start_poll_ns(const struct rp__slot *sl)
{
	int64_t p = sl->limits.timeout_ns / 4;

	if (p < START_POLL_MIN_NS)
		return START_POLL_MIN_NS;
	return p > START_POLL_MAX_NS ? START_POLL_MAX_NS : p;
}

/* Move the loop's next look to `when` if that is earlier; true if moved. */
static bool lower_next(struct rp_pool *pool, int64_t when)
{
	int64_t cur = atomic_load(&pool->deadline_next);

	while (when < cur)
		if (atomic_compare_exchange_weak(&pool->deadline_next, &cur, when))
			return true;
	return false;
}

/*
 * A timed chunk is in w's ring now (sl busy, fields set).  Any thread that
 * sends work, under submit_lock.
 */
void rp__deadline_sent(struct rp_pool *pool, struct rp__worker *w,
		       struct rp__slot *sl)
{
	if (!sl->limits.timeout_ns)
		return;
	atomic_fetch_add(&w->timed, 1);
	/* seq_cst, after the increment: a loop that reset deadline_next
	 * before its scan either counted this slot or sees the lowered
	 * value; see rp__deadline_check(). */
	if (lower_next(pool, sl->sent_ns + start_poll_ns(sl)))
		rp__loop_poke(pool);
}

/* The slot is given back (under drain_lock). */
void rp__deadline_settled(struct rp__worker *w, struct rp__slot *sl)
{
	if (sl->limits.timeout_ns)
		atomic_fetch_sub(&w->timed, 1);
}

/* When the chunk in slot s started, from the worker's hint if credible. */
static int64_t start_time(const struct rp__worker *w, uint32_t s,
			  const struct rp__slot *sl, int64_t now)
{
	/* acquire: pairs with the worker's release in note_start(). */
	uint32_t slot = atomic_load_explicit(&w->ctl->run_slot,
					     memory_order_acquire);
	uint64_t hint = atomic_load_explicit(&w->ctl->run_start_ns,
					     memory_order_relaxed);

	if (slot != s || hint < (uint64_t)sl->sent_ns || hint > (uint64_t)now)
		return now;
	return (int64_t)hint;
}

/* Stop w for sl's deadline: TERM now, KILL at the end of the grace. */
static int64_t expire(struct rp_pool *pool, struct rp__worker *w,
		      struct rp__slot *sl, int64_t now)
{
	RP_COUNT(pool, deadline_kills);
	atomic_store(&sl->timed_out, true);
	atomic_store(&w->stopped, true);
	sl->term_ns = now;
	rp__worker_signal(w, SIGTERM);
	return now + sl->limits.grace_ns;
}

/* The next time slot s of w needs a look, acting on it if due. */
static int64_t check_slot(struct rp_pool *pool, struct rp__worker *w,
			  uint32_t s, struct rp__slot *sl, int64_t now)
{
	uint32_t st = atomic_load(&w->ctl->slot_state[s]);
	int64_t expiry;

	if (atomic_load(&sl->canceled) || st == RP_SLOT_CANCELED)
		return INT64_MAX;
	if (st == RP_SLOT_QUEUED)
		return now + start_poll_ns(sl);
	/* RUNNING, or a value the worker scribbled: the clock runs. */
	if (!sl->started_ns)
		sl->started_ns = start_time(w, s, sl, now);
	if (!sl->term_ns) {
		expiry = sl->started_ns + sl->limits.timeout_ns;
		return now < expiry ? expiry : expire(pool, w, sl, now);
	}
	if (!sl->killed) {
		if (now < sl->term_ns + sl->limits.grace_ns)
			return sl->term_ns + sl->limits.grace_ns;
		sl->killed = true;
		rp__worker_signal(w, SIGKILL);
	}
	return INT64_MAX; /* its death settles it */
}

/*
 * rp__deadline_check - the loop thread, under drain_lock, after draining:
 * act on every deadline due at now, and return when to look again
 * (INT64_MAX: no timed chunk is out).
 */
int64_t rp__deadline_check(struct rp_pool *pool, int64_t now)
{
	int64_t next = INT64_MAX;

	/* Reset before the scan: a chunk sent during it lowers this again. */
	atomic_store(&pool->deadline_next, INT64_MAX);
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct rp__worker *w = &pool->workers[i];

		if (!atomic_load(&w->timed) || w->pidfd < 0)
			continue;
		for (uint32_t s = 0; s < RP_SLOTS; s++) {
			struct rp__slot *sl = &w->slots[s];
			int64_t t;

			/* acquire: pairs with the release in write_chunk(). */
			if (!atomic_load_explicit(&sl->busy, memory_order_acquire) ||
			    !sl->limits.timeout_ns)
				continue;
			t = check_slot(pool, w, s, sl, now);
			if (t < next)
				next = t;
		}
	}
	lower_next(pool, next);
	return atomic_load(&pool->deadline_next);
}

/* The error of a chunk whose worker was stopped for its deadline. */
void rp__deadline_error(const struct rp__slot *sl, pid_t pid,
			struct rp_error *e)
{
	e->code = -ETIMEDOUT;
	e->attempts = sl->limits.attempt + 1;
	snprintf(e->message, sizeof(e->message),
		 "deadline of %.3f s passed: worker %d was stopped",
		 (double)sl->limits.timeout_ns / 1e9, (int)pid);
}
