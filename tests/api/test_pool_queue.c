/* SPDX-License-Identifier: MIT */
/*
 * rp_pool_opts.max_queued: how many chunks one worker may hold at once.
 * A task that waits for every later item of its map ends only if none of
 * them is queued behind it on its own worker.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <cmocka.h>

#include "leak.h"
#include "ringpool.h"

#define N_ITEMS 64
/* Item 0 gives up waiting after this long: the others never came. */
#define WAIT_GUARD_NS ((int64_t)30 * 1000000000)
#define GAVE_UP 7

/* Shared with the workers: mapped before the pool, so they inherit it. */
static _Atomic uint32_t *done;

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Item 0 waits for all the others; they only count themselves done. */
static int wait_for_the_rest(const void *arg, size_t len, void *res,
			     size_t cap, rp_task_ctx_t *ctx)
{
	int64_t x, until = now_ns() + WAIT_GUARD_NS;

	memcpy(&x, arg, sizeof(x));
	if (x != 0) {
		atomic_fetch_add(done, 1);
	} else {
		while (atomic_load(done) < N_ITEMS - 1)
			if (now_ns() > until)
				return GAVE_UP;
			else
				sched_yield();
	}
	memcpy(res, &x, sizeof(x));
	return 0;
}

static int map_waiting_first(unsigned max_queued)
{
	struct rp_pool_opts o = { .nworkers = 2, .max_queued = max_queued };
	int64_t in[N_ITEMS], out[N_ITEMS];
	rp_pool_t *pool = NULL;
	int err;

	for (int i = 0; i < N_ITEMS; i++)
		in[i] = i;
	atomic_store(done, 0);
	assert_int_equal(rp_pool_create(&o, &pool), 0);
	err = rp_map(pool, wait_for_the_rest, in, N_ITEMS, sizeof(in[0]), out,
		     sizeof(out[0]), 1, NULL);
	rp_pool_destroy(pool);
	return err;
}

/* One chunk per worker: item 0 holds its worker, the other takes the rest. */
static void one_at_a_time_never_queues_behind(void **state)
{
	assert_int_equal(map_waiting_first(1), 0);
	assert_int_equal(atomic_load(done), N_ITEMS - 1);
}

static void bad_max_queued(void **state)
{
	struct rp_pool_opts o = { .nworkers = 1, .max_queued = RP_MAX_QUEUED + 1 };
	rp_pool_t *pool = NULL;

	assert_int_equal(rp_pool_create(&o, &pool), -EINVAL);
	assert_null(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(one_at_a_time_never_queues_behind,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(bad_max_queued, leak_setup,
						leak_teardown),
	};
	int failed;

	done = mmap(NULL, sizeof(*done), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (done == MAP_FAILED)
		return 1;
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	munmap(done, sizeof(*done));
	return failed;
}
