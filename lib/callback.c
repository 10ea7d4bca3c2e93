/* SPDX-License-Identifier: MIT */
/*
 * The callback thread: runs the user's callbacks one at a time, in the
 * order their results completed.  Completion only queues (result.c), so a
 * slow callback holds up other callbacks but never the draining of results,
 * and a callback may submit new work to the pool.
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

int rp__callbacks_start(struct rp_pool *pool)
{
	pthread_condattr_t attr;
	int err;

	pthread_mutex_init(&pool->cb_lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->cb_cond, &attr);
	pthread_condattr_destroy(&attr);
	err = pthread_create(&pool->cb_thread, NULL, callback_main, pool);
	if (err)
		return -err;
	pool->cb_running = true;
	return 0;
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

	if (!pool->cb_running)
		return 0;
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

/* Run what is queued, then end the thread. */
void rp__callbacks_stop(struct rp_pool *pool)
{
	if (!pool->cb_running)
		return;
	pthread_mutex_lock(&pool->cb_lock);
	pool->cb_stop = true;
	pthread_cond_broadcast(&pool->cb_cond);
	pthread_mutex_unlock(&pool->cb_lock);
	pthread_join(pool->cb_thread, NULL);
	pool->cb_running = false;
	pthread_cond_destroy(&pool->cb_cond);
	pthread_mutex_destroy(&pool->cb_lock);
}
