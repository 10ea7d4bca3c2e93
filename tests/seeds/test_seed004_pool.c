/* SPDX-License-Identifier: MIT */
/*
 * Seed 004 (the multiprocessing.Pool guide), its Pool examples ported:
 * apply, starmap with a chunksize, map_async, imap, imap_unordered, the
 * initializer, results after close + join, and the usage patterns of its
 * §14: the first result via imap_unordered then terminate, follow-up tasks
 * issued from a callback, a progress callback per task, waiting for a
 * batch, and terminate killing running tasks.
 *
 * The seed's sleep(random()) calls become futex gates the test opens, so
 * every order below is forced, not hoped for; checks are on worker pids,
 * per-worker sequence numbers and the shared page's ticks, never on time.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool_harness.h"
#include "ringpool.h"

static rp_pool_t *pool_of(unsigned n)
{
	struct rp_pool_opts o = { .nworkers = n };

	return p_pool(&o);
}

/* "pool.apply(task)" three times: each blocks until its task is done. */
static void seed004_three_applies_in_sequence(void **state)
{
	rp_pool_t *pool = pool_of(4);
	struct p_rep r[3];

	for (int i = 0; i < 3; i++) {
		struct p_arg a = p_plain(i);

		r[i] = p_apply(pool, &a);
		assert_int_equal(r[i].value, i);
	}
	assert_true(r[0].tick_end < r[1].tick_start);
	assert_true(r[1].tick_end < r[2].tick_start);
	p_destroy(pool);
}

/*
 * starmap: a C "tuple of arguments" is a struct.  task(a, b) -> a * b, and
 * it reports its worker's pid and the worker's own task count.  Item 0
 * holds until item 2 has started: the two chunks must run at once, in two
 * workers.
 */
struct star_args {
	int64_t a, b;
	int32_t item;       /* its slot in the page */
	int32_t wait_for;   /* a slot whose start it waits for, or -1 */
};

struct star_rep {
	int64_t product;
	int32_t pid;
	int32_t seq;
	uint32_t tick_start, tick_end;
};

static int32_t star_seq; /* per worker */

static int star_task(const void *arg, size_t arg_len, void *res,
		     size_t res_cap, rp_task_ctx_t *ctx)
{
	struct star_args x;
	struct star_rep r = { 0 };

	if (arg_len != sizeof(x) || res_cap != sizeof(r))
		return rp_task_fail(ctx, P_CODE_BADARG, "star_task: sizes");
	memcpy(&x, arg, sizeof(x));
	r.tick_start = __atomic_fetch_add(&p_sh->clock, 1, __ATOMIC_ACQ_REL);
	r.pid = getpid();
	r.seq = ++star_seq;
	p_raise(&p_sh->started[x.item]);
	if (x.wait_for >= 0 &&
	    p_wait_ge(&p_sh->started[x.wait_for], 1, H_GUARD_S) < 0)
		return rp_task_fail(ctx, P_CODE_GUARD,
				    "item %d: item %d never started", x.item,
				    x.wait_for);
	r.product = x.a * x.b;
	r.tick_end = __atomic_fetch_add(&p_sh->clock, 1, __ATOMIC_ACQ_REL);
	memcpy(res, &r, sizeof(r));
	return 0;
}

static void seed004_starmap_chunksize_2(void **state)
{
	struct star_args args[4] = {
		{ 2, 10, 0, 2 }, { 3, 2, 1, -1 },
		{ 10, 3, 2, -1 }, { 7, 7, 3, -1 },
	};
	struct star_rep out[4];
	rp_pool_t *pool = pool_of(4);
	struct rp_error e;
	int rc;

	memset(out, 0, sizeof(out));
	rc = rp_map(pool, star_task, args, 4, sizeof(args[0]), out,
		    sizeof(out[0]), 2, &e);
	if (rc != 0)
		fail_msg("starmap: %s: %s", rp_err_name(rc), e.message);
	for (int i = 0; i < 4; i++)
		assert_int_equal(out[i].product, args[i].a * args[i].b);
	/* Exactly two workers, one per chunk ... */
	assert_int_equal(out[0].pid, out[1].pid);
	assert_int_equal(out[2].pid, out[3].pid);
	assert_int_not_equal(out[0].pid, out[2].pid);
	/* ... each running its two items in order, back to back. */
	assert_int_equal(out[1].seq, out[0].seq + 1);
	assert_int_equal(out[3].seq, out[2].seq + 1);
	assert_true(out[0].tick_end < out[1].tick_start);
	assert_true(out[2].tick_end < out[3].tick_start);
	p_destroy(pool);
}

/* map_async: a batch result whose get gives the list in input order. */
static void seed004_map_async_batch(void **state)
{
	enum { N = 10 };
	struct p_arg items[N];
	rp_pool_t *pool = pool_of(4);
	const struct p_rep *reps;
	rp_result_t *res = NULL;
	const void *data = NULL;
	size_t len = 0;

	for (int i = 0; i < N; i++)
		items[i] = p_plain(i);
	assert_int_equal(rp_map_async(pool, p_task, items, N, sizeof(items[0]),
				      sizeof(struct p_rep), RP_CHUNKSIZE_AUTO,
				      NULL, &res),
			 0);
	assert_int_equal(rp_result_get(res, H_GUARD_NS, &data, &len), 0);
	assert_int_equal(len, N * sizeof(struct p_rep));
	reps = data;
	for (int i = 0; i < N; i++) {
		assert_int_equal(reps[i].value, i);
		assert_int_equal(reps[i].out, 3 * i + 1);
	}
	rp_result_free(res);
	p_destroy(pool);
}

/* imap yields in input order even when item 1 finishes before item 0. */
static void seed004_imap_input_order(void **state)
{
	enum { N = 8 };
	struct p_arg items[N];
	struct rp_input in = { .items = items, .n = N,
			       .item_size = sizeof(items[0]) };
	rp_pool_t *pool = pool_of(4);
	struct rp_item item;
	rp_iter_t *it = NULL;

	for (int i = 0; i < N; i++) {
		items[i] = p_plain(i);
		items[i].slot = i;
	}
	items[0].flags = P_GATE;
	assert_int_equal(rp_imap(pool, p_task, &in, sizeof(struct p_rep), 1,
				 &it),
			 0);
	p_track_iter(it);
	p_wait_done(1);
	assert_int_equal(rp_iter_next(it, 0, &item), -ETIMEDOUT);
	p_open(0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(rp_iter_next(it, H_GUARD_NS, &item), 0);
		assert_int_equal(item.index, i);
		assert_int_equal(((const struct p_rep *)item.data)->value, i);
	}
	assert_int_equal(rp_iter_next(it, H_GUARD_NS, &item), RP_EEND);
	p_iter_free(it);
	p_destroy(pool);
}

/*
 * imap_unordered yields in completion order: item 0 waits for a gate the
 * test opens only after items 1..3 (one per other worker) were yielded.
 */
static void seed004_imap_unordered_completion_order(void **state)
{
	enum { N = 4 };
	struct p_arg items[N];
	struct rp_input in = { .items = items, .n = N,
			       .item_size = sizeof(items[0]) };
	rp_pool_t *pool = pool_of(4);
	int seen[N] = { 0 };
	struct rp_item item;
	rp_iter_t *it = NULL;

	for (int i = 0; i < N; i++)
		items[i] = p_plain(i);
	items[0] = p_gated(0, 0);
	assert_int_equal(rp_imap_unordered(pool, p_task, &in,
					   sizeof(struct p_rep), 1, &it),
			 0);
	p_track_iter(it);
	for (int k = 0; k < N - 1; k++) {
		assert_int_equal(rp_iter_next(it, H_GUARD_NS, &item), 0);
		assert_true(item.index >= 1 && item.index < N);
		seen[item.index]++;
		assert_int_equal(((const struct p_rep *)item.data)->value,
				 (int64_t)item.index);
	}
	assert_int_equal(p_sh->done[0], 0);
	p_open(0);
	assert_int_equal(rp_iter_next(it, H_GUARD_NS, &item), 0);
	assert_int_equal(item.index, 0);
	assert_int_equal(rp_iter_next(it, H_GUARD_NS, &item), RP_EEND);
	for (int i = 1; i < N; i++)
		assert_int_equal(seen[i], 1);
	p_iter_free(it);
	p_destroy(pool);
}

/*
 * Pool(initializer=worker_init): it ran in every worker before any task.
 * Four tasks held until all four have started run in four distinct
 * workers, and each finds the initializer's mark in its own process.
 */
static void seed004_initializer_every_worker(void **state)
{
	enum { N = 4 };
	rp_pool_t *pool = p_pool_n(N);
	rp_result_t *res[N];
	pid_t pids[N];

	assert_int_equal(p_sh->init_count, N);
	for (int i = 0; i < N; i++) {
		struct p_arg a = p_plain(i);

		a.flags = P_COUNT;
		a.target = N;
		res[i] = p_submit(pool, &a, NULL);
	}
	for (int i = 0; i < N; i++) {
		const struct p_rep *r = p_get(res[i]);

		assert_int_equal(r->init, P_INIT_MAGIC);
		assert_int_equal(r->seq, 1);
		assert_true(p_init_pid_known(r->pid));
		pids[i] = r->pid;
		for (int j = 0; j < i; j++)
			assert_int_not_equal(pids[j], pids[i]);
		rp_result_free(res[i]);
	}
	assert_int_equal(p_sh->init_count, N);
	p_destroy(pool);
}

/* close(); join(); then the results are still there. */
static void seed004_results_after_close_join(void **state)
{
	enum { N = 6 };
	struct p_arg items[N], a = p_plain(50);
	rp_pool_t *pool = pool_of(4);
	rp_result_t *batch = NULL, *one;
	const struct p_rep *reps;
	const void *data = NULL;
	size_t len = 0;

	for (int i = 0; i < N; i++)
		items[i] = p_plain(i);
	assert_int_equal(rp_map_async(pool, p_task, items, N, sizeof(items[0]),
				      sizeof(struct p_rep), 1, NULL, &batch),
			 0);
	one = p_submit(pool, &a, NULL);
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	assert_int_equal(rp_result_ready(batch), 1);
	assert_int_equal(rp_result_ready(one), 1);
	assert_int_equal(rp_result_get(batch, 0, &data, &len), 0);
	assert_int_equal(len, N * sizeof(struct p_rep));
	reps = data;
	for (int i = 0; i < N; i++)
		assert_int_equal(reps[i].value, i);
	assert_int_equal(p_get(one)->value, 50);
	rp_result_free(batch);
	rp_result_free(one);
	p_destroy(pool);
}

/*
 * §14.4: "it = pool.imap_unordered(task, range(30)); first = next(it)"
 * then terminate.  Every task but item 2 is held at a gate that never
 * opens: the first result is item 2's, and after terminate none of the
 * others ever reports done; the iterator ends without hanging.
 */
static void seed004_first_result_then_terminate(void **state)
{
	enum { N = 12, FAST = 2 };
	struct p_arg items[N];
	struct rp_input in = { .items = items, .n = N,
			       .item_size = sizeof(items[0]) };
	rp_pool_t *pool = pool_of(4);
	struct rp_item item;
	rp_iter_t *it = NULL;
	int k;

	for (int i = 0; i < N; i++)
		items[i] = p_gated(i, i);
	items[FAST].flags = 0;
	assert_int_equal(rp_imap_unordered(pool, p_task, &in,
					   sizeof(struct p_rep), 1, &it),
			 0);
	p_track_iter(it);
	assert_int_equal(rp_iter_next(it, H_GUARD_NS, &item), 0);
	assert_int_equal(item.index, FAST);
	assert_int_equal(((const struct p_rep *)item.data)->value, FAST);

	assert_int_equal(rp_pool_terminate(pool), 0);
	for (k = 0; k <= N; k++) {
		int rc = rp_iter_next(it, H_GUARD_NS, &item);

		if (rc == RP_EEND)
			break;
		if (rc != RP_ETERMINATED && rc != RP_ECLOSED)
			fail_msg("after terminate, next gave %s",
				 rp_err_name(rc));
		assert_true(item.index != FAST);
	}
	assert_true(k <= N);
	p_iter_free(it);
	for (int i = 0; i < N; i++) {
		p_open(i);
		if (i != FAST)
			assert_int_equal(p_sh->done[i], 0);
	}
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	for (int i = 0; i < N; i++)
		if (i != FAST)
			assert_int_equal(p_sh->done[i], 0);
	p_destroy(pool);
}

/*
 * §14.9: map_async(task1, range(10), callback=result_callback), where the
 * callback issues task2 for every result above a threshold (here: odd
 * values, instead of random() > 0.5).
 */
static struct {
	rp_pool_t *pool;
	rp_result_t *res[10];
	int64_t from[10];
	int n, rc, bad;
	uint32_t issued;
} fu;

static void result_callback(rp_result_t *res, void *user)
{
	const struct p_rep *reps;
	const void *data = NULL;
	size_t len = 0;

	if (rp_result_get(res, 0, &data, &len) != 0 ||
	    len != 10 * sizeof(struct p_rep)) {
		fu.bad++;
		p_raise(&fu.issued);
		return;
	}
	reps = data;
	for (int i = 0; i < 10; i++) {
		struct p_arg a;

		if (reps[i].value % 2 == 0)
			continue;
		a = p_plain(reps[i].out);
		fu.from[fu.n] = reps[i].value;
		fu.rc |= rp_apply_async(fu.pool, p_task, &a, sizeof(a),
					sizeof(struct p_rep), NULL,
					&fu.res[fu.n]);
		fu.n++;
	}
	p_raise(&fu.issued);
}

static void seed004_followup_from_callback(void **state)
{
	struct rp_submit_opts so = { .callback = result_callback };
	struct p_arg items[10];
	rp_result_t *res = NULL;

	memset(&fu, 0, sizeof(fu));
	fu.pool = pool_of(4);
	for (int i = 0; i < 10; i++)
		items[i] = p_plain(i);
	assert_int_equal(rp_map_async(fu.pool, p_task, items, 10,
				      sizeof(items[0]), sizeof(struct p_rep),
				      RP_CHUNKSIZE_AUTO, &so, &res),
			 0);
	/* result.wait() */
	assert_int_equal(rp_result_wait(res, H_GUARD_NS), 0);
	/*
	 * The callback runs after completion (it must not delay results), so
	 * wait for it before closing: follow-ups submitted after close would
	 * be refused.
	 */
	if (p_wait_ge(&fu.issued, 1, H_GUARD_S) < 0)
		fail_msg("result_callback never ran");
	assert_int_equal(fu.bad, 0);
	assert_int_equal(fu.rc, 0);
	assert_int_equal(fu.n, 5);
	assert_int_equal(rp_pool_close(fu.pool), 0);
	assert_int_equal(rp_pool_join(fu.pool, H_GUARD_NS), 0);
	for (int k = 0; k < fu.n; k++) {
		const struct p_rep *r = p_get(fu.res[k]);

		assert_int_equal(fu.from[k] % 2, 1);
		assert_int_equal(r->value, 3 * fu.from[k] + 1);
		rp_result_free(fu.res[k]);
	}
	rp_result_free(res);
	p_destroy(fu.pool);
}

/* §14.10: apply_async(task, callback=progress) twenty times. */
static void seed004_progress_callback(void **state)
{
	enum { N = 20 };
	/* static: a callback may still run after a failed test has left */
	static struct p_cbrec recs[N];
	rp_result_t *res[N];
	rp_pool_t *pool = pool_of(4);

	memset(recs, 0, sizeof(recs));
	for (int i = 0; i < N; i++) {
		struct p_arg a = p_plain(i);
		struct rp_submit_opts so = p_cb_opts(&recs[i]);

		res[i] = p_submit(pool, &a, &so);
	}
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	assert_int_equal(p_cb.calls, N);
	assert_int_equal(p_cb.max_in_flight, 1);
	assert_int_equal(p_cb.wrong_pid, 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(recs[i].ok, 1);
		assert_int_equal(recs[i].err, 0);
		assert_int_equal(recs[i].value, i);
		rp_result_free(res[i]);
	}
	p_destroy(pool);
}

/*
 * result.wait(timeout=10); if result.ready(): 'All Done' else 'Not Done
 * Yet': first with one item held (not done), then released.
 */
static void seed004_wait_for_batch(void **state)
{
	enum { N = 8 };
	struct p_arg items[N];
	rp_pool_t *pool = pool_of(4);
	rp_result_t *res = NULL;

	for (int i = 0; i < N; i++)
		items[i] = p_plain(i);
	items[3] = p_gated(0, 3);
	assert_int_equal(rp_map_async(pool, p_task, items, N, sizeof(items[0]),
				      sizeof(struct p_rep), 1, NULL, &res),
			 0);
	p_wait_started(0);
	assert_int_equal(rp_result_wait(res, 1000000), -ETIMEDOUT);
	assert_int_equal(rp_result_ready(res), 0); /* Not Done Yet */
	p_open(0);
	assert_int_equal(rp_result_wait(res, H_GUARD_NS), 0);
	assert_int_equal(rp_result_ready(res), 1); /* All Done */
	assert_int_equal(rp_result_successful(res), 1);
	rp_result_free(res);
	p_destroy(pool);
}

/*
 * pool.terminate() kills running tasks: four tasks held at gates, their
 * workers watched through pidfds; after terminate the workers are gone,
 * the results say RP_ETERMINATED, and no task ever reports done.
 */
static void seed004_terminate_kills_running(void **state)
{
	enum { N = 4 };
	rp_pool_t *pool = pool_of(N);
	rp_result_t *res[N];
	int fds[N];

	for (int i = 0; i < N; i++) {
		struct p_arg a = p_gated(i, i);

		res[i] = p_submit(pool, &a, NULL);
	}
	for (int i = 0; i < N; i++) {
		p_wait_started(i);
		fds[i] = h_pidfd(p_sh->pid[i]);
	}
	assert_int_equal(rp_pool_terminate(pool), 0);
	for (int i = 0; i < N; i++) {
		h_pidfd_wait(fds[i]);
		h_pidfd_close(fds[i]);
		assert_int_equal(rp_result_get(res[i], H_GUARD_NS, NULL, NULL),
				 RP_ETERMINATED);
		p_open(i);
	}
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(p_sh->done[i], 0);
		assert_int_equal(p_sh->guard[i], 0);
		rp_result_free(res[i]);
	}
	p_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		P_T(seed004_three_applies_in_sequence),
		P_T(seed004_starmap_chunksize_2),
		P_T(seed004_map_async_batch),
		P_T(seed004_imap_input_order),
		P_T(seed004_imap_unordered_completion_order),
		P_T(seed004_initializer_every_worker),
		P_T(seed004_results_after_close_join),
		P_T(seed004_first_result_then_terminate),
		P_T(seed004_followup_from_callback),
		P_T(seed004_progress_callback),
		P_T(seed004_wait_for_batch),
		P_T(seed004_terminate_kills_running),
	};

	return cmocka_run_group_tests_name("seed004_pool", tests,
					   p_group_setup, p_group_teardown);
}
