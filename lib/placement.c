/* SPDX-License-Identifier: MIT */
/*
 * Where workers run: the CPU each is pinned to, and moving one off the
 * CPU of a waiting owner thread.
 *
 * Worker i is pinned to the i-th of the pool's CPUs counted from the last,
 * so that with fewer workers than CPUs the first ones stay free for the
 * program.  The scheduler may still put an owner thread on a worker's CPU
 * (it wakes on the CPU of whoever woke it), and if both then spin, every
 * hand-over between them waits for a time slice: round trips of 20-130 us
 * instead of under 1 us, for hundreds to thousands in a row, until the
 * load balancer moves the owner thread (measured here: 1 run in 2 of
 * 20,000 one-worker round trips).  The library does not touch the affinity
 * of its caller's threads.  It moves its own worker instead: a waiter that
 * has waited RP_PLACEMENT_WAIT_NS on a worker's CPU, when some CPU of the
 * pool has no worker, asks that worker to pin itself there.  The worker
 * does so before its next record (worker.c), so a move never interrupts a
 * task.  Moves are spaced out (note_move), so that two owner
 * threads on two CPUs cannot make a worker hop back and forth at a cost
 * worth measuring.
 */
#include <errno.h>
#include <sched.h>
#include <stdint.h>

#include "pool.h"

void rp__placement_init(struct rp_pool *pool)
{
	CPU_ZERO(&pool->cpus);
	if (sched_getaffinity(0, sizeof(pool->cpus), &pool->cpus) < 0)
		CPU_ZERO(&pool->cpus);
	pool->ncpus = (unsigned)CPU_COUNT(&pool->cpus);
	atomic_init(&pool->last_move_ns, 0);
	atomic_init(&pool->move_interval_ns, RP_PLACEMENT_INTERVAL_NS);
}

/*
 * Worker index's CPU: the index-th of the pool's counting from the last,
 * modulo their number; -1 if the pool's set could not be read.
 */
int rp__placement_cpu(const struct rp_pool *pool, unsigned index)
{
	int count = CPU_COUNT(&pool->cpus), seen = 0;
	unsigned want;

	if (count <= 0)
		return -1;
	want = (unsigned)count - 1 - index % (unsigned)count;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &pool->cpus) && (unsigned)seen++ == want)
			return cpu;
	return -1;
}

/*
 * Where w's process is to be pinned when it (re)starts: where its last
 * process was, so that a replacement keeps a move (placement sets w->cpu
 * under submit_lock, which replacing holds too), else the plan above.
 */
int rp__placement_worker_cpu(const struct rp_pool *pool,
			     const struct rp__worker *w)
{
	/* relaxed: written under submit_lock, which the caller holds or
	 * needs not (the first start, before anyone else sees w). */
	int cpu = atomic_load_explicit(&w->cpu, memory_order_relaxed);

	if (cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &pool->cpus))
		return cpu;
	return rp__placement_cpu(pool, w->index);
}

/* The worker pinned to cpu, or NULL. */
static struct rp__worker *worker_on(struct rp_pool *pool, int cpu)
{
	for (unsigned i = 0; i < pool->nworkers; i++)
		/* relaxed: a hint, checked again under submit_lock. */
		if (atomic_load_explicit(&pool->workers[i].cpu,
					 memory_order_relaxed) == cpu)
			return &pool->workers[i];
	return NULL;
}

/* A CPU of the pool with no worker pinned to it, or -1. */
static int free_cpu(struct rp_pool *pool)
{
	for (int cpu = CPU_SETSIZE - 1; cpu >= 0; cpu--)
		if (CPU_ISSET(cpu, &pool->cpus) && !worker_on(pool, cpu))
			return cpu;
	return -1;
}

/*
 * Under submit_lock.  Two owner threads waiting on two CPUs could make a
 * worker hop between them: each move soon after the last doubles the
 * time to the next, up to a second; a quiet second resets it.
 */
static void note_move(struct rp_pool *pool, int64_t now)
{
	int64_t since = now - atomic_load_explicit(&pool->last_move_ns,
						   memory_order_relaxed);
	int64_t interval = atomic_load_explicit(&pool->move_interval_ns,
						memory_order_relaxed);

	if (since >= RP_PLACEMENT_INTERVAL_MAX_NS)
		interval = RP_PLACEMENT_INTERVAL_NS;
	else if (interval < RP_PLACEMENT_INTERVAL_MAX_NS)
		interval *= 2;
	/* relaxed, both: read by the unlocked check, which is made again
	 * under the lock (rp__placement_check). */
	atomic_store_explicit(&pool->move_interval_ns, interval,
			      memory_order_relaxed);
	atomic_store_explicit(&pool->last_move_ns, now, memory_order_relaxed);
}

/*
 * Under submit_lock, which replacing a worker also holds (workers.c): a
 * replacement is pinned by rp__placement_cpu and its control block
 * cleared, so a request here is never half applied to a new process.
 */
static void move_worker(struct rp_pool *pool, struct rp__worker *w,
			int from, int64_t now)
{
	int to;

	if (pool->stopping || atomic_load(&w->dead) ||
	    atomic_load_explicit(&w->cpu, memory_order_relaxed) != from)
		return;
	to = free_cpu(pool);
	if (to < 0)
		return;
	atomic_store_explicit(&w->cpu, to, memory_order_relaxed);
	/* relaxed: the worker only needs to see it eventually; it reads
	 * nothing else of ours along with it. */
	atomic_store_explicit(&w->ctl->cpu_request, (uint32_t)to + 1,
			      memory_order_relaxed);
	note_move(pool, now);
	RP_COUNT(pool, worker_moves);
}

/*
 * Whether the pool may move a worker at now (see note_move).  With a
 * worker on every CPU no CPU is free: then a waiter only pays this test.
 */
static bool may_move(struct rp_pool *pool, int64_t now)
{
	return pool->pin && pool->nworkers < pool->ncpus &&
	       now - atomic_load_explicit(&pool->last_move_ns,
					  memory_order_relaxed) >=
		       atomic_load_explicit(&pool->move_interval_ns,
					    memory_order_relaxed);
}

/*
 * Returns when the waiter is to ask again: never (INT64_MAX) once the
 * question was settled, RP_PLACEMENT_RETRY_NS on if submit_lock was busy,
 * so that a waiter neither gives up on a busy lock nor takes its line at
 * every poll while another thread holds it.
 */
int64_t rp__placement_check(struct rp_pool *pool, int64_t now)
{
	struct rp__worker *w;
	int here;

	if (!may_move(pool, now))
		return INT64_MAX;
	here = sched_getcpu();
	w = here < 0 ? NULL : worker_on(pool, here);
	if (!w)
		return INT64_MAX;
	/* trylock: a waiter never queues behind a submitter for this. */
	if (pthread_mutex_trylock(&pool->submit_lock) != 0)
		return now + RP_PLACEMENT_RETRY_NS;
	if (may_move(pool, now))
		move_worker(pool, w, here, now);
	rp__submit_unlock(pool);
	return INT64_MAX;
}
