/* SPDX-License-Identifier: MIT */
/*
 * Bad input to the Pool, result and iterator calls (SPEC.md §3 "Bad input
 * gets a clear error and changes nothing").  Every refused call must return
 * its documented code and change nothing: ret_* untouched, nothing created
 * (the teardown's leak check), no callback fired, and the pool still works
 * normally afterwards (pool_still_works).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool_harness.h"
#include "ringpool.h"

#define SENTINEL_LEN ((size_t)0x5eed)

/* Stand-ins for ret_* pointers' previous values; never dereferenced. */
static char sentinel_obj;
#define SENTINEL_POOL ((rp_pool_t *)&sentinel_obj)
#define SENTINEL_RES ((rp_result_t *)&sentinel_obj)
#define SENTINEL_IT ((rp_iter_t *)&sentinel_obj)
#define SENTINEL_DATA ((const void *)&sentinel_obj)

static struct p_cbrec rec;

/* After a refused call: the pool runs a task, no callback fired. */
static void pool_still_works(rp_pool_t *pool)
{
	struct p_arg a = p_plain(11);
	struct p_rep r = p_apply(pool, &a);

	assert_int_equal(r.value, 11);
	assert_int_equal(r.out, 34);
	assert_int_equal(p_cb.calls, 0);
}

static void create_refused(const struct rp_pool_opts *o, int want)
{
	rp_pool_t *pool = SENTINEL_POOL;

	assert_int_equal(rp_pool_create(o, &pool), want);
	assert_ptr_equal(pool, SENTINEL_POOL);
}

static void create_bad_input(void **state)
{
	struct rp_pool_opts good = { .nworkers = 1 }, o;
	rp_pool_t *pool;

	create_refused(NULL, -EINVAL);
	assert_int_equal(rp_pool_create(&good, NULL), -EINVAL);

	/* ring_bytes: a power of two in 4 KiB .. 1 GiB, or 0. */
	{
		static const size_t bad[] = {
			1, 3000, 4095, 4097, 6144, 2048, 1u << 30 | 1,
			(size_t)1 << 31, SIZE_MAX,
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			o = good;
			o.ring_bytes = bad[i];
			create_refused(&o, -EINVAL);
		}
	}

	o = good;
	o.initializer = p_init;
	o.initarg = NULL;
	o.initarg_len = 4;
	create_refused(&o, -EINVAL);
	assert_int_equal(p_sh->init_count, 0);

	o = good;
	o.start_method = (enum rp_start_method)(RP_START_FORK + 1);
	create_refused(&o, -EINVAL);
	o.start_method = (enum rp_start_method)-1;
	create_refused(&o, -EINVAL);

	/* The limits themselves are fine. */
	o = good;
	o.ring_bytes = 4096;
	pool = p_pool(&o);
	pool_still_works(pool);
	p_destroy(pool);
}

static void null_pool_everywhere(void **state)
{
	struct p_arg a = p_plain(1);
	struct p_rep r;
	struct rp_input in = { .items = &a, .n = 1, .item_size = sizeof(a) };
	rp_result_t *res = SENTINEL_RES;
	rp_iter_t *it = SENTINEL_IT;
	struct rp_item item;

	assert_int_equal(rp_pool_size(NULL), -EINVAL);
	assert_int_equal(rp_pool_close(NULL), -EINVAL);
	assert_int_equal(rp_pool_terminate(NULL), -EINVAL);
	assert_int_equal(rp_pool_join(NULL, 0), -EINVAL);
	assert_int_equal(rp_apply(NULL, p_task, &a, sizeof(a), &r, sizeof(r),
				  NULL, NULL),
			 -EINVAL);
	assert_int_equal(rp_apply_async(NULL, p_task, &a, sizeof(a), sizeof(r),
					NULL, &res),
			 -EINVAL);
	assert_ptr_equal(res, SENTINEL_RES);
	assert_int_equal(rp_map(NULL, p_task, &a, 1, sizeof(a), &r, sizeof(r),
				0, NULL),
			 -EINVAL);
	assert_int_equal(rp_map_async(NULL, p_task, &a, 1, sizeof(a),
				      sizeof(r), 0, NULL, &res),
			 -EINVAL);
	assert_ptr_equal(res, SENTINEL_RES);
	assert_int_equal(rp_imap(NULL, p_task, &in, sizeof(r), 0, &it),
			 -EINVAL);
	assert_int_equal(rp_imap_unordered(NULL, p_task, &in, sizeof(r), 0,
					   &it),
			 -EINVAL);
	assert_ptr_equal(it, SENTINEL_IT);

	assert_int_equal(rp_result_get(NULL, 0, NULL, NULL), -EINVAL);
	assert_int_equal(rp_result_wait(NULL, 0), -EINVAL);
	assert_int_equal(rp_result_ready(NULL), -EINVAL);
	assert_int_equal(rp_result_successful(NULL), -EINVAL);
	assert_null(rp_result_error(NULL));
	assert_int_equal(rp_result_cancel(NULL, false), -EINVAL);
	assert_int_equal(rp_iter_next(NULL, 0, &item), -EINVAL);

	/* NULL-safe releases. */
	rp_result_free(NULL);
	rp_iter_free(NULL);
	rp_pool_destroy(NULL);
}

/* NULL fn, arg NULL with a length, res NULL with a capacity, NULL ret_res. */
static void apply_bad_input(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_plain(1);
	struct p_rep r;
	struct rp_error e, e0;
	rp_result_t *res = SENTINEL_RES;
	size_t len = SENTINEL_LEN;

	memset(&rec, 0, sizeof(rec));
	memset(&e, 0xab, sizeof(e));
	e0 = e;
	assert_int_equal(rp_apply(pool, NULL, &a, sizeof(a), &r, sizeof(r),
				  &len, &e),
			 -EINVAL);
	assert_int_equal(rp_apply(pool, p_task, NULL, sizeof(a), &r,
				  sizeof(r), &len, &e),
			 -EINVAL);
	assert_int_equal(rp_apply(pool, p_task, &a, sizeof(a), NULL,
				  sizeof(r), &len, &e),
			 -EINVAL);
	assert_int_equal(len, SENTINEL_LEN);
	assert_memory_equal(&e, &e0, sizeof(e));

	assert_int_equal(rp_apply_async(pool, NULL, &a, sizeof(a), sizeof(r),
					&so, &res),
			 -EINVAL);
	assert_int_equal(rp_apply_async(pool, p_task, NULL, sizeof(a),
					sizeof(r), &so, &res),
			 -EINVAL);
	assert_ptr_equal(res, SENTINEL_RES);
	assert_int_equal(rp_apply_async(pool, p_task, &a, sizeof(a), sizeof(r),
					&so, NULL),
			 -EINVAL);
	pool_still_works(pool);
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	/* No callback ran for any refused submit. */
	assert_int_equal(rec.ok + rec.err, 0);
	p_destroy(pool);
}

/*
 * map: NULL fn, items or results NULL with n > 0, item_size 0, products
 * that overflow (-EOVERFLOW; the small arrays are never read past their
 * end), NULL ret_res for map_async.  n = 0 with NULL arrays is an empty
 * map, no error.
 */
static void map_bad_input(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg items[2] = { p_plain(1), p_plain(2) };
	struct p_rep reps[2];
	const size_t is = sizeof(items[0]), rs = sizeof(reps[0]);
	const size_t huge = SIZE_MAX / 8 + 1;
	rp_result_t *res = SENTINEL_RES;
	struct rp_error e, e0;

	memset(&rec, 0, sizeof(rec));
	memset(&e, 0xab, sizeof(e));
	e0 = e;
	assert_int_equal(rp_map(pool, NULL, items, 2, is, reps, rs, 0, &e),
			 -EINVAL);
	assert_int_equal(rp_map(pool, p_task, NULL, 2, is, reps, rs, 0, &e),
			 -EINVAL);
	assert_int_equal(rp_map(pool, p_task, items, 2, is, NULL, rs, 0, &e),
			 -EINVAL);
	assert_int_equal(rp_map(pool, p_task, items, 2, 0, reps, rs, 0, &e),
			 -EINVAL);
	/* n * item_size and n * result_size overflow size_t. */
	assert_int_equal(rp_map(pool, p_task, items, huge, is, reps, rs, 0,
				&e),
			 -EOVERFLOW);
	assert_int_equal(rp_map(pool, p_task, items, SIZE_MAX, 2, reps, rs, 0,
				&e),
			 -EOVERFLOW);
	assert_int_equal(rp_map(pool, p_task, items, huge, 8, reps, 16, 0,
				&e),
			 -EOVERFLOW);
	assert_memory_equal(&e, &e0, sizeof(e));

	assert_int_equal(rp_map_async(pool, NULL, items, 2, is, rs, 0, &so,
				      &res),
			 -EINVAL);
	assert_int_equal(rp_map_async(pool, p_task, NULL, 2, is, rs, 0, &so,
				      &res),
			 -EINVAL);
	assert_int_equal(rp_map_async(pool, p_task, items, 2, 0, rs, 0, &so,
				      &res),
			 -EINVAL);
	assert_int_equal(rp_map_async(pool, p_task, items, huge, is, rs, 0,
				      &so, &res),
			 -EOVERFLOW);
	assert_int_equal(rp_map_async(pool, p_task, items, huge, 8, 16, 0,
				      &so, &res),
			 -EOVERFLOW);
	assert_ptr_equal(res, SENTINEL_RES);
	assert_int_equal(rp_map_async(pool, p_task, items, 2, is, rs, 0, &so,
				      NULL),
			 -EINVAL);

	/* Empty is fine, and so are NULL arrays with it. */
	assert_int_equal(rp_map(pool, p_task, NULL, 0, is, NULL, rs, 0, &e),
			 0);
	pool_still_works(pool);
	assert_int_equal(rp_map(pool, p_task, items, 2, is, reps, rs, 0, &e),
			 0);
	assert_int_equal(reps[0].value, 1);
	assert_int_equal(reps[1].value, 2);
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	assert_int_equal(rec.ok + rec.err, 0);
	p_destroy(pool);
}

static int never_producer(void *user, void *item, size_t item_size)
{
	(*(int *)user)++;
	return 0;
}

static void imap_bad_input(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg items[2] = { p_plain(1), p_plain(2) };
	const size_t rs = sizeof(struct p_rep);
	int calls = 0;
	struct rp_input good = { .items = items, .n = 2,
				 .item_size = sizeof(items[0]) };
	struct rp_input in;
	rp_iter_t *it = SENTINEL_IT;

	for (int u = 0; u < 2; u++) {
		int (*imap)(rp_pool_t *, rp_task_fn, const struct rp_input *,
			    size_t, size_t, rp_iter_t **) =
			u ? rp_imap_unordered : rp_imap;

		assert_int_equal(imap(pool, NULL, &good, rs, 0, &it), -EINVAL);
		assert_int_equal(imap(pool, p_task, NULL, rs, 0, &it), -EINVAL);
		in = good;
		in.items = NULL; /* and no producer */
		assert_int_equal(imap(pool, p_task, &in, rs, 0, &it), -EINVAL);
		in = good;
		in.item_size = 0;
		assert_int_equal(imap(pool, p_task, &in, rs, 0, &it), -EINVAL);
		/* A producer with item_size 0. */
		in = (struct rp_input){ .producer = never_producer,
					.user = &calls };
		assert_int_equal(imap(pool, p_task, &in, rs, 0, &it), -EINVAL);
		/*
		 * A window whose byte size, window * (item_size +
		 * result_size), overflows though each size and their sum do
		 * not: the window holds nworkers items at least (2 here),
		 * and each item costs 2^63 bytes.  The array is never read.
		 */
		for (int k = 0; k < 2; k++) {
			const size_t half = SIZE_MAX / 4 + 1, odd = SIZE_MAX / 2;

			in = k ? good : (struct rp_input){
				.producer = never_producer, .user = &calls };
			in.item_size = half;
			assert_int_equal(imap(pool, p_task, &in, half, 0, &it),
					 -EOVERFLOW);
			in.item_size = 8;
			assert_int_equal(imap(pool, p_task, &in, odd, 0, &it),
					 -EOVERFLOW);
		}
		assert_ptr_equal(it, SENTINEL_IT);
		assert_int_equal(imap(pool, p_task, &good, rs, 0, NULL),
				 -EINVAL);
	}
	/* A refused imap never called the producer. */
	assert_int_equal(calls, 0);
	pool_still_works(pool);
	p_destroy(pool);
}

/* Submit after close: RP_ECLOSED and nothing else changes; results from
 * before close are unaffected. */
static void submit_after_close(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_gated(0, 4);
	struct p_rep r;
	struct rp_input in = { .items = &a, .n = 1, .item_size = sizeof(a) };
	struct rp_error e, e0;
	rp_result_t *before, *res = SENTINEL_RES;
	rp_iter_t *it = SENTINEL_IT;
	size_t len = SENTINEL_LEN;

	memset(&rec, 0, sizeof(rec));
	before = p_submit(pool, &a, NULL);
	p_wait_started(0);
	assert_int_equal(rp_pool_close(pool), 0);

	memset(&e, 0xab, sizeof(e));
	e0 = e;
	a = p_plain(5);
	assert_int_equal(rp_apply(pool, p_task, &a, sizeof(a), &r, sizeof(r),
				  &len, &e),
			 RP_ECLOSED);
	assert_int_equal(len, SENTINEL_LEN);
	assert_int_equal(rp_apply_async(pool, p_task, &a, sizeof(a), sizeof(r),
					&so, &res),
			 RP_ECLOSED);
	assert_int_equal(rp_map(pool, p_task, &a, 1, sizeof(a), &r, sizeof(r),
				0, &e),
			 RP_ECLOSED);
	assert_int_equal(rp_map_async(pool, p_task, &a, 1, sizeof(a),
				      sizeof(r), 0, &so, &res),
			 RP_ECLOSED);
	assert_ptr_equal(res, SENTINEL_RES);
	assert_int_equal(rp_imap(pool, p_task, &in, sizeof(r), 0, &it),
			 RP_ECLOSED);
	assert_int_equal(rp_imap_unordered(pool, p_task, &in, sizeof(r), 0,
					   &it),
			 RP_ECLOSED);
	assert_ptr_equal(it, SENTINEL_IT);
	/* rp_error is filled by task failures, not by refused calls. */
	assert_memory_equal(&e, &e0, sizeof(e));

	p_open(0);
	assert_int_equal(p_get(before)->value, 4);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	assert_int_equal(rec.ok + rec.err, 0);
	assert_int_equal(p_sh->started[0], 1);
	rp_result_free(before);
	p_destroy(pool);
}

/* join before close: -EINVAL at once (even with RP_FOREVER); bad timeouts
 * after close too. */
static void join_before_close(void **state)
{
	rp_pool_t *pool = p_pool_n(2);

	assert_int_equal(rp_pool_join(pool, 0), -EINVAL);
	assert_int_equal(rp_pool_join(pool, RP_FOREVER), -EINVAL);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), -EINVAL);
	pool_still_works(pool);
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, -2), -EINVAL);
	assert_int_equal(rp_pool_join(pool, INT64_MIN), -EINVAL);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	p_destroy(pool);
}

static void double_close(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_gated(0, 1);
	rp_result_t *res = p_submit(pool, &a, NULL);

	p_wait_started(0);
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_close(pool), -EALREADY);
	/* The second close changed nothing: the running task finishes. */
	p_open(0);
	assert_int_equal(p_get(res)->value, 1);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	assert_int_equal(rp_pool_close(pool), -EALREADY);
	/* terminate after close is allowed, once. */
	assert_int_equal(rp_pool_terminate(pool), 0);
	assert_int_equal(rp_pool_terminate(pool), -EALREADY);
	assert_int_equal(rp_pool_close(pool), -EALREADY);
	rp_result_free(res);
	p_destroy(pool);
}

/* successful before ready is -EINVAL (Python's ValueError), changes
 * nothing. */
static void successful_before_ready(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_gated(0, 2);
	rp_result_t *res = p_submit(pool, &a, NULL);

	p_wait_started(0);
	assert_int_equal(rp_result_successful(res), -EINVAL);
	assert_int_equal(rp_result_successful(res), -EINVAL);
	assert_int_equal(rp_result_ready(res), 0);
	assert_null(rp_result_error(res));
	p_open(0);
	assert_int_equal(p_get(res)->value, 2);
	assert_int_equal(rp_result_successful(res), 1);
	rp_result_free(res);
	pool_still_works(pool);
	p_destroy(pool);
}

/* A negative timeout other than RP_FOREVER: -EINVAL, outputs untouched,
 * the result unaffected. */
static void negative_timeouts(void **state)
{
	static const int64_t bad[] = { -2, -1000000000, INT64_MIN };
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_gated(0, 3);
	struct p_arg items[2] = { p_plain(0), p_plain(1) };
	struct rp_input in = { .items = items, .n = 2,
			       .item_size = sizeof(items[0]) };
	rp_result_t *res = p_submit(pool, &a, NULL);
	const void *data = SENTINEL_DATA;
	size_t len = SENTINEL_LEN;
	struct rp_item item, item0;
	rp_iter_t *it = NULL;

	assert_int_equal(rp_imap(pool, p_task, &in, sizeof(struct p_rep), 1,
				 &it),
			 0);
	p_track_iter(it);
	memset(&item, 0xab, sizeof(item));
	item0 = item;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(rp_result_get(res, bad[i], &data, &len),
				 -EINVAL);
		assert_int_equal(rp_result_wait(res, bad[i]), -EINVAL);
		assert_int_equal(rp_iter_next(it, bad[i], &item), -EINVAL);
	}
	assert_ptr_equal(data, SENTINEL_DATA);
	assert_int_equal(len, SENTINEL_LEN);
	assert_memory_equal(&item, &item0, sizeof(item));
	assert_int_equal(rp_result_ready(res), 0);

	p_open(0);
	assert_int_equal(p_get(res)->value, 3);
	/* Also once complete: still refused. */
	assert_int_equal(rp_result_get(res, -2, &data, &len), -EINVAL);
	assert_int_equal(rp_result_wait(res, -2), -EINVAL);
	/* The iterator lost nothing. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rp_iter_next(it, H_GUARD_NS, &item), 0);
		assert_int_equal(item.index, i);
	}
	assert_int_equal(rp_iter_next(it, H_GUARD_NS, &item), RP_EEND);
	p_iter_free(it);
	rp_result_free(res);
	pool_still_works(pool);
	p_destroy(pool);
}

/*
 * A freed result given back to the API: -EINVAL, as long as no newer
 * result was made in between (so its memory cannot have been reused).
 * Both a complete and an unfinished (detached) one.
 */
static void freed_result(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_plain(1), g = p_gated(0, 2);
	rp_result_t *res = p_submit(pool, &a, NULL);
	const void *data = SENTINEL_DATA;
	size_t len = SENTINEL_LEN;

	assert_int_equal(p_get(res)->value, 1);
	rp_result_free(res);
	assert_int_equal(rp_result_get(res, 0, &data, &len), -EINVAL);
	assert_int_equal(rp_result_get(res, H_GUARD_NS, &data, &len),
			 -EINVAL);
	assert_int_equal(rp_result_wait(res, 0), -EINVAL);
	assert_int_equal(rp_result_ready(res), -EINVAL);
	assert_int_equal(rp_result_successful(res), -EINVAL);
	assert_null(rp_result_error(res));
	assert_int_equal(rp_result_cancel(res, false), -EINVAL);
	assert_ptr_equal(data, SENTINEL_DATA);
	assert_int_equal(len, SENTINEL_LEN);

	res = p_submit(pool, &g, NULL);
	p_wait_started(0);
	rp_result_free(res);
	assert_int_equal(rp_result_get(res, 0, &data, &len), -EINVAL);
	assert_int_equal(rp_result_ready(res), -EINVAL);
	assert_int_equal(rp_result_cancel(res, false), -EINVAL);
	p_open(0);
	p_wait_done(0);
	pool_still_works(pool);
	p_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		P_T(create_bad_input),
		P_T(null_pool_everywhere),
		P_T(apply_bad_input),
		P_T(map_bad_input),
		P_T(imap_bad_input),
		P_T(submit_after_close),
		P_T(join_before_close),
		P_T(double_close),
		P_T(successful_before_ready),
		P_T(negative_timeouts),
		P_T(freed_result),
	};

	return cmocka_run_group_tests_name("pool_errors", tests,
					   p_group_setup, p_group_teardown);
}
