/* SPDX-License-Identifier: MIT */
/*
 * Seed 002 (a notebook on Python's multiprocessing), its Pool example
 * ported (In [11]):
 *
 *	with Pool(processes=5) as pool:
 *	    print(pool.map(cube, range(1, 5)))            # [1, 8, 27, 64]
 *	    print(list(pool.imap_unordered(cube, range(1, 6))))
 *	    res = pool.apply_async(cube, (10,)); print(res.get(timeout=1))
 *	    results = [pool.apply_async(os.getpid, ()) for i in range(8)]
 *	    print([res.get(timeout=1) for res in results])
 *	    result = pool.apply_async(display_title, ('Title Testing',))
 *	    result.get(timeout=...)  -> multiprocessing.TimeoutError
 *
 * The seed's "may use more processes" becomes a check that cannot be
 * defeated by one fast worker: each getpid task holds until two tasks have
 * started, so two workers must run at once.  The timeout example holds its
 * task at a gate instead of sleeping.  Seed 002's Value/Array example
 * belongs to the shared-state API (SPEC §5), not here.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool_harness.h"
#include "ringpool.h"

/* def cube(x): return pow(x, 3) */
static int cube(const void *arg, size_t arg_len, void *res, size_t res_cap,
		rp_task_ctx_t *ctx)
{
	int64_t x;

	if (arg_len != sizeof(x) || res_cap != sizeof(x))
		return rp_task_fail(ctx, P_CODE_BADARG, "cube: sizes");
	memcpy(&x, arg, sizeof(x));
	x = x * x * x;
	memcpy(res, &x, sizeof(x));
	return 0;
}

static rp_pool_t *pool5(void)
{
	struct rp_pool_opts o = { .nworkers = 5 };

	return p_pool(&o);
}

static void seed002_map_cube(void **state)
{
	static const int64_t want[4] = { 1, 8, 27, 64 };
	int64_t xs[4] = { 1, 2, 3, 4 }, out[4] = { 0 };
	rp_pool_t *pool = pool5();
	struct rp_error e;

	assert_int_equal(rp_map(pool, cube, xs, 4, sizeof(xs[0]), out,
				sizeof(out[0]), RP_CHUNKSIZE_AUTO, &e),
			 0);
	assert_memory_equal(out, want, sizeof(want));
	p_destroy(pool);
}

static void seed002_imap_unordered_cubes(void **state)
{
	int64_t xs[5] = { 1, 2, 3, 4, 5 };
	struct rp_input in = { .items = xs, .n = 5, .item_size = sizeof(xs[0]) };
	rp_pool_t *pool = pool5();
	int seen[5] = { 0 };
	struct rp_item item;
	int64_t sum = 0;
	rp_iter_t *it = NULL;

	assert_int_equal(rp_imap_unordered(pool, cube, &in, sizeof(int64_t),
					   RP_CHUNKSIZE_AUTO, &it),
			 0);
	p_track_iter(it);
	for (int k = 0; k < 5; k++) {
		int64_t v;

		assert_int_equal(rp_iter_next(it, H_GUARD_NS, &item), 0);
		assert_true(item.index < 5);
		assert_int_equal(item.len, sizeof(v));
		memcpy(&v, item.data, sizeof(v));
		assert_int_equal(v, xs[item.index] * xs[item.index] *
					    xs[item.index]);
		seen[item.index]++;
		sum += v;
	}
	assert_int_equal(rp_iter_next(it, H_GUARD_NS, &item), RP_EEND);
	for (int i = 0; i < 5; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(sum, 1 + 8 + 27 + 64 + 125);
	p_iter_free(it);
	p_destroy(pool);
}

static void seed002_apply_async_cube(void **state)
{
	int64_t x = 10;
	rp_pool_t *pool = pool5();
	rp_result_t *res = NULL;
	const void *data = NULL;
	size_t len = 0;

	assert_int_equal(rp_apply_async(pool, cube, &x, sizeof(x), sizeof(x),
					NULL, &res),
			 0);
	assert_int_equal(rp_result_get(res, H_GUARD_NS, &data, &len), 0);
	assert_int_equal(len, sizeof(int64_t));
	assert_int_equal(*(const int64_t *)data, 1000);
	rp_result_free(res);
	p_destroy(pool);
}

/*
 * [pool.apply_async(os.getpid, ()) for i in range(8)]: more than one
 * worker.  Each task adds to the page's counter and holds until it reaches
 * 2, so the first two tasks must run at once, in two workers; a pool that
 * ran everything in one worker fails them at their hang guard.
 */
static void seed002_getpid_uses_several_workers(void **state)
{
	enum { N = 8 };
	rp_pool_t *pool = pool5();
	rp_result_t *res[N];
	pid_t pids[N];
	int distinct = 0;

	for (int i = 0; i < N; i++) {
		struct p_arg a = p_plain(i);

		a.flags = P_COUNT;
		a.target = 2;
		res[i] = p_submit(pool, &a, NULL);
	}
	for (int i = 0; i < N; i++) {
		pids[i] = p_get(res[i])->pid;
		assert_int_not_equal(pids[i], getpid());
		rp_result_free(res[i]);
	}
	for (int i = 0; i < N; i++) {
		int j;

		for (j = 0; j < i; j++)
			if (pids[j] == pids[i])
				break;
		distinct += j == i;
	}
	assert_true(distinct > 1);
	assert_true(distinct <= 5);
	p_destroy(pool);
}

/* def display_title(title): ... (returns None), got with a timeout. */
static int display_title(const void *arg, size_t arg_len, void *res,
			 size_t res_cap, rp_task_ctx_t *ctx)
{
	if (arg_len != sizeof("Title Testing") || res_cap != 0)
		return rp_task_fail(ctx, P_CODE_BADARG, "display_title");
	if (p_wait_ge(&p_sh->gate[0], 1, H_GUARD_S) < 0)
		return rp_task_fail(ctx, P_CODE_GUARD, "gate never opened");
	return 0;
}

static void seed002_get_timeout(void **state)
{
	rp_pool_t *pool = pool5();
	rp_result_t *res = NULL;
	size_t len = 123;

	assert_int_equal(rp_apply_async(pool, display_title, "Title Testing",
					sizeof("Title Testing"), 0, NULL,
					&res),
			 0);
	/* "Timed out. Not able to get result in time." */
	assert_int_equal(rp_result_get(res, 1000000, NULL, &len), -ETIMEDOUT);
	assert_int_equal(len, 123);
	p_open(0);
	/* The task kept running and now returns None: no bytes. */
	assert_int_equal(rp_result_get(res, H_GUARD_NS, NULL, &len), 0);
	assert_int_equal(len, 0);
	rp_result_free(res);
	p_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		P_T(seed002_map_cube),
		P_T(seed002_imap_unordered_cubes),
		P_T(seed002_apply_async_cube),
		P_T(seed002_getpid_uses_several_workers),
		P_T(seed002_get_timeout),
	};

	return cmocka_run_group_tests_name("seed002", tests, p_group_setup,
					   p_group_teardown);
}
