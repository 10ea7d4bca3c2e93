/* SPDX-License-Identifier: MIT */
/*
 * The callback thread: runs the user's callbacks one at a time, in the
 * order their results completed.  Completion only queues (result.c), so a
 * slow callback holds up other callbacks but never the draining of results,
 * and a callback may submit new work to the pool.  It is started by the
 * first submit that asks for a callback: most pools never need it, and
 * starting and ending a thread is a tenth of a pool's start and stop.
 */
#include <errno.h>
#include <time.h>

#include "pool.h"
#include "sys.h"

static void *callback_main(void *arg)
{
	struct rp_pool *pool = arg;

	pthread_mutex_lock(&pool->cb_lock);
	for (;;) {
		struct rp_result *r = pool->cb_head;

		if (!r) {
			if (pool->cb_stop)
				break;
			pthread_cond_wait(&pool->cb_cond, &pool->cb_lock);
			continue;
		}
		pool->cb_head = rp__result_chain_next(r);
		if (!pool->cb_head)
			pool->cb_tail = NULL;
		pool->cb_busy = true;
		pthread_mutex_unlock(&pool->cb_lock);
		rp__result_run_callback(r);
		pthread_mutex_lock(&pool->cb_lock);
		pool->cb_busy = false;
		pthread_cond_broadcast(&pool->cb_cond);
	}
	pthread_mutex_unlock(&pool->cb_lock);
	return NULL;
}

void rp__callbacks_init(struct rp_pool *pool)
{
	pthread_condattr_t attr;

	pthread_mutex_init(&pool->cb_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->cb_cond, &attr);
	pthread_condattr_destroy(&attr);
	pool->cb_inited = true;
}

int rp__callbacks_need(struct rp_pool *pool)
{
	int err = 0;

	/* acquire: pairs with the release below; cb_thread is then set. */
	if (atomic_load_explicit(&pool->cb_running, memory_order_acquire))
		return 0;
	pthread_mutex_lock(&pool->cb_lock);
	if (!atomic_load_explicit(&pool->cb_running, memory_order_relaxed)) {
		err = -pthread_create(&pool->cb_thread, NULL, callback_main,
				      pool);
		if (err == 0)
			atomic_store_explicit(&pool->cb_running, true,
					      memory_order_release);
	}
	pthread_mutex_unlock(&pool->cb_lock);
	return err;
}

void rp__callbacks_queue(struct rp_pool *pool, struct rp_result *r)
{
	rp__result_chain_set(r, NULL);
	pthread_mutex_lock(&pool->cb_lock);
	if (pool->cb_tail)
		rp__result_chain_set(pool->cb_tail, r);
	else
		pool->cb_head = r;
	pool->cb_tail = r;
	pthread_cond_broadcast(&pool->cb_cond);
	pthread_mutex_unlock(&pool->cb_lock);
}

/* Until no callback is queued or running; deadline < 0: no limit. */
int rp__callbacks_idle_wait(struct rp_pool *pool, int64_t deadline)
{
	int err = 0;

	if (!atomic_load_explicit(&pool->cb_running, memory_order_acquire))
		return 0; /* and no callback was ever asked for */
	pthread_mutex_lock(&pool->cb_lock);
	while ((pool->cb_head || pool->cb_busy) && err == 0) {
		if (deadline < 0) {
			pthread_cond_wait(&pool->cb_cond, &pool->cb_lock);
		} else {
			struct timespec ts = {
				.tv_sec = deadline / 1000000000,
				.tv_nsec = deadline % 1000000000,
			};

			if (pthread_cond_timedwait(&pool->cb_cond, &pool->cb_lock,
						   &ts) == ETIMEDOUT)
				err = -ETIMEDOUT;
		}
	}
	pthread_mutex_unlock(&pool->cb_lock);
	return err;
}

/* Run what is queued, then end the thread, if it was started. */
void rp__callbacks_stop(struct rp_pool *pool)
{
	bool running;

	if (!pool->cb_inited)
		return;
	pthread_mutex_lock(&pool->cb_lock);
	pool->cb_stop = true;
	running = atomic_load_explicit(&pool->cb_running, memory_order_relaxed);
	pthread_cond_broadcast(&pool->cb_cond);
	pthread_mutex_unlock(&pool->cb_lock);
	if (running)
		pthread_join(pool->cb_thread, NULL);
	atomic_store_explicit(&pool->cb_running, false, memory_order_relaxed);
	pthread_cond_destroy(&pool->cb_cond);
	pthread_mutex_destroy(&pool->cb_lock);
	pool->cb_inited = false;
}
