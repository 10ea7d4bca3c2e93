/* SPDX-License-Identifier: MIT */
/* The bad-input table: the Pool life cycle and submitting work. */
#include "api_table.h"

/* ========================================================================== */
/* Pool                                                                       */
/* ========================================================================== */

static int pcreate_with(struct fx *f, const struct rp_pool_opts *o)
{
	rp_pool_t *pool = SENTINEL_POOL;
	int rc = rp_pool_create(o, &pool);

	KEEP(f, pool == SENTINEL_POOL);
	if (rc == 0 && pool != SENTINEL_POOL)
		rp_pool_destroy(pool);
	return rc;
}

ROWFN(r_create_null_opts, pcreate_with(f, NULL))

static int r_create_null_ret(struct fx *f)
{
	struct rp_pool_opts o = { .nworkers = 1 };

	return rp_pool_create(&o, NULL);
}

static int create_ring(struct fx *f, size_t bytes)
{
	struct rp_pool_opts o = { .nworkers = 1, .ring_bytes = bytes };

	return pcreate_with(f, &o);
}

ROWFN(r_create_ring_3000, create_ring(f, 3000))
ROWFN(r_create_ring_2k, create_ring(f, 2048))
ROWFN(r_create_ring_2g, create_ring(f, (size_t)1 << 31))
ROWFN(r_create_ring_max, create_ring(f, SIZE_MAX))

static int r_create_initarg_null(struct fx *f)
{
	struct rp_pool_opts o = { .nworkers = 1, .initializer = p_init,
				  .initarg_len = 4 };
	int rc = pcreate_with(f, &o);

	KEEP(f, p_sh->init_count == 0);
	return rc;
}

static int create_method(struct fx *f, int m)
{
	struct rp_pool_opts o = { .nworkers = 1,
				  .start_method = (enum rp_start_method)m };

	return pcreate_with(f, &o);
}

ROWFN(r_create_method_next, create_method(f, RP_START_FORK + 1))
ROWFN(r_create_method_neg, create_method(f, -1))

static int r_create_4097(struct fx *f)
{
	struct rp_pool_opts o = { .nworkers = 4097 };

	return pcreate_with(f, &o);
}

static int r_create_wait_policy(struct fx *f)
{
	struct rp_pool_opts o = { .nworkers = 1,
				  .wait_policy = RP_WAIT_SLEEP + 1 };

	return pcreate_with(f, &o);
}

/* A failing initializer: RP_EINIT, details in init_error, no pool. */
static int r_create_init_fails(struct fx *f)
{
	struct rp_error e;
	struct rp_pool_opts o = {
		.nworkers = 2,
		.initializer = p_init,
		.initarg = P_INIT_ARG,
		.initarg_len = sizeof(P_INIT_ARG),
		.init_error = &e,
	};
	int rc;

	memset(&e, 0, sizeof(e));
	p_sh->init_fail = 1;
	rc = pcreate_with(f, &o);
	p_sh->init_fail = 0;
	KEEP(f, e.code == RP_EINIT && e.task_code == 7);
	return rc;
}

ROWFN(r_size_null, rp_pool_size(NULL))
ROWFN(r_close_null, rp_pool_close(NULL))
ROWFN(r_close, rp_pool_close(f->pool))
ROWFN(r_terminate_pool_null, rp_pool_terminate(NULL))
ROWFN(r_terminate_pool, rp_pool_terminate(f->pool))
ROWFN(r_join_pool_null, rp_pool_join(NULL, 0))
ROWFN(r_join_pool_null_forever, rp_pool_join(NULL, RP_FOREVER))
ROWFN(r_join_pool_poll, rp_pool_join(f->pool, 0))
ROWFN(r_join_pool_forever, rp_pool_join(f->pool, RP_FOREVER))
ROWFN(r_join_pool_minus2, rp_pool_join(f->pool, -2))
ROWFN(r_join_pool_int64_min, rp_pool_join(f->pool, INT64_MIN))

/*
 * What a callback saw when it called back into its own pool.  Static, so
 * that a callback running late (a broken library) never writes to a
 * finished row's stack.
 */
static struct probe {
	rp_pool_t *pool;
	int rc;
	uint32_t done;
} probe;

static void probe_join(rp_result_t *res, void *user)
{
	probe.rc = rp_pool_join(probe.pool, 0);
	p_raise(&probe.done);
}

static void probe_submit(rp_result_t *res, void *user)
{
	struct p_arg a = p_plain(1);
	rp_result_t *r = NULL;

	probe.rc = rp_apply_async(probe.pool, p_task, &a, sizeof(a),
				  sizeof(struct p_rep), NULL, &r);
	if (probe.rc == 0)
		rp_result_free(r);
	p_raise(&probe.done);
}

/* A task gated on slot 1 whose callback runs cb once the pool is closed. */
static int in_callback_after_close(struct fx *f, rp_callback_fn cb)
{
	struct rp_submit_opts so = { .callback = cb, .error_callback = cb };
	struct p_arg a = p_gated(1, 1);
	rp_result_t *res = NULL;
	int rc;

	probe = (struct probe){ .pool = f->pool, .rc = SENTINEL };
	rc = rp_apply_async(f->pool, p_task, &a, sizeof(a),
			    sizeof(struct p_rep), &so, &res);
	if (rc != 0)
		return rc;
	KEEP(f, rp_pool_close(f->pool) == 0);
	f->closed = true;
	p_open(1);
	if (p_wait_ge(&probe.done, 1, H_GUARD_S) < 0) {
		note(f, "the callback never ran");
		rp_result_free(res);
		return GOT_HUNG;
	}
	rp_result_free(res);
	return probe.rc;
}

ROWFN(r_join_in_callback, in_callback_after_close(f, probe_join))
ROWFN(r_submit_in_callback, in_callback_after_close(f, probe_submit))

static int r_survivors_null(struct fx *f)
{
	pid_t pids[1] = { SENTINEL };
	int rc = rp_pool_survivors(NULL, pids, 1);

	KEEP(f, pids[0] == SENTINEL);
	return rc;
}

ROWFN(r_survivors_null_list, rp_pool_survivors(f->pool, NULL, 1))

static int r_survivors_after_terminate(struct fx *f)
{
	pid_t pids[1] = { SENTINEL };
	int rc = rp_pool_survivors(f->pool, pids, 1);

	KEEP(f, pids[0] == SENTINEL);
	return rc;
}

static int r_stats_null(struct fx *f)
{
	struct rp_pool_stats st = { .tasks_submitted = SENTINEL_LEN };
	struct rp_worker_stats ws[1] = { { .items = SENTINEL_LEN } };
	int rc = rp_pool_stats(NULL, &st, ws, 1);

	KEEP(f, st.tasks_submitted == SENTINEL_LEN && ws[0].items == SENTINEL_LEN);
	return rc;
}

static int r_stats_null_list(struct fx *f)
{
	struct rp_pool_stats st = { .tasks_submitted = SENTINEL_LEN };
	int rc = rp_pool_stats(f->pool, &st, NULL, 1);

	KEEP(f, st.tasks_submitted == SENTINEL_LEN);
	return rc;
}

/* Nothing asked for: the worker count, nothing written. */
ROWFN(r_stats_nothing, rp_pool_stats(f->pool, NULL, NULL, 0))

static int r_destroy_null(struct fx *f)
{
	rp_pool_destroy(NULL);
	return DONE;
}

/* Destroy a closed or terminated pool: its pending result still reads,
 * failed with RP_ETERMINATED. */
static int r_destroy_keeps_result(struct fx *f)
{
	const void *data = SENTINEL_DATA;
	int rc;

	p_destroy(f->pool);
	f->pool = NULL;
	rc = rp_result_get(f->res, 0, &data, NULL);
	KEEP(f, data == SENTINEL_DATA);
	KEEP(f, rp_result_ready(f->res) == 1);
	return rc;
}

const struct row pool_rows[] = {
	{ "rp_pool_create", "NULL opts", r_create_null_opts, -EINVAL, F_NONE },
	{ "rp_pool_create", "NULL ret_pool", r_create_null_ret, -EINVAL,
	  F_NONE },
	{ "rp_pool_create", "ring_bytes 3000", r_create_ring_3000, -EINVAL,
	  F_NONE },
	{ "rp_pool_create", "ring_bytes 2 KiB", r_create_ring_2k, -EINVAL,
	  F_NONE },
	{ "rp_pool_create", "ring_bytes 2 GiB", r_create_ring_2g, -EINVAL,
	  F_NONE },
	{ "rp_pool_create", "ring_bytes SIZE_MAX", r_create_ring_max, -EINVAL,
	  F_NONE },
	{ "rp_pool_create", "initarg NULL with initarg_len 4",
	  r_create_initarg_null, -EINVAL, F_NONE },
	{ "rp_pool_create", "start method RP_START_FORK + 1",
	  r_create_method_next, -EINVAL, F_NONE },
	{ "rp_pool_create", "start method -1", r_create_method_neg, -EINVAL,
	  F_NONE },
	{ "rp_pool_create", "nworkers 4097", r_create_4097, -EINVAL, F_NONE },
	{ "rp_pool_create", "wait_policy out of range", r_create_wait_policy,
	  -EINVAL, F_NONE },
	{ "rp_pool_create", "the initializer fails", r_create_init_fails,
	  RP_EINIT, F_NONE },
	{ "rp_pool_size", "NULL", r_size_null, -EINVAL, F_NONE },
	{ "rp_pool_close", "NULL", r_close_null, -EINVAL, F_NONE },
	{ "rp_pool_close", "twice", r_close, -EALREADY, F_POOL_CLOSED },
	{ "rp_pool_close", "after terminate", r_close, -EALREADY,
	  F_POOL_TERMINATED },
	{ "rp_pool_terminate", "NULL", r_terminate_pool_null, -EINVAL,
	  F_NONE },
	{ "rp_pool_terminate", "twice", r_terminate_pool, -EALREADY,
	  F_POOL_TERMINATED },
	{ "rp_pool_join", "NULL", r_join_pool_null, -EINVAL, F_NONE },
	{ "rp_pool_join", "NULL, RP_FOREVER", r_join_pool_null_forever,
	  -EINVAL, F_NONE },
	{ "rp_pool_join", "before close, timeout 0", r_join_pool_poll,
	  -EINVAL, F_POOL },
	{ "rp_pool_join", "before close, RP_FOREVER", r_join_pool_forever,
	  -EINVAL, F_POOL },
	{ "rp_pool_join", "closed, timeout -2", r_join_pool_minus2, -EINVAL,
	  F_POOL_CLOSED },
	{ "rp_pool_join", "closed, timeout INT64_MIN", r_join_pool_int64_min,
	  -EINVAL, F_POOL_CLOSED },
	{ "rp_pool_join", "closed, a task still running, timeout 0",
	  r_join_pool_poll, -ETIMEDOUT, F_POOL_CLOSED },
	{ "rp_pool_join", "from one of the pool's callbacks",
	  r_join_in_callback, -EDEADLK, F_POOL },
	{ "rp_pool_survivors", "NULL pool", r_survivors_null, -EINVAL,
	  F_NONE },
	{ "rp_pool_survivors", "NULL ret_pids, cap 1", r_survivors_null_list,
	  -EINVAL, F_POOL_CLOSED },
	{ "rp_pool_survivors", "after terminate: none, nothing written",
	  r_survivors_after_terminate, 0, F_POOL_TERMINATED },
	{ "rp_pool_stats", "NULL pool", r_stats_null, -EINVAL, F_NONE },
	{ "rp_pool_stats", "NULL workers, cap 1", r_stats_null_list, -EINVAL,
	  F_POOL },
	{ "rp_pool_stats", "NULL ret, cap 0: the worker count",
	  r_stats_nothing, 2, F_POOL },
	{ "rp_pool_destroy", "NULL", r_destroy_null, DONE, F_NONE },
	{ "rp_pool_destroy", "terminated: its result stays readable",
	  r_destroy_keeps_result, RP_ETERMINATED, F_POOL_TERMINATED },
	{ "rp_pool_destroy", "closed, a task running: it ends terminated",
	  r_destroy_keeps_result, RP_ETERMINATED, F_POOL_CLOSED },
};
const size_t pool_nrows = N_OF(pool_rows);

/* ========================================================================== */
/* Submitting work                                                            */
/* ========================================================================== */

/*
 * rp_apply with its outputs pre-filled: ret_len and *ret_error must be
 * untouched by a refused call (a task failure would fill them, but none of
 * these rows runs a task).
 */
static int apply_with(struct fx *f, rp_pool_t *pool, rp_task_fn fn,
		      const void *arg, size_t arg_len, void *res,
		      size_t res_cap)
{
	struct rp_error e, e0;
	size_t len = SENTINEL_LEN;
	int rc;

	memset(&e, 0xab, sizeof(e));
	e0 = e;
	rc = rp_apply(pool, fn, arg, arg_len, res, res_cap, &len, &e);
	KEEP(f, len == SENTINEL_LEN);
	KEEP(f, memcmp(&e, &e0, sizeof(e)) == 0);
	return rc;
}

static int r_apply_null_pool(struct fx *f)
{
	struct p_arg a = p_plain(1);
	struct p_rep r;

	return apply_with(f, NULL, p_task, &a, sizeof(a), &r, sizeof(r));
}

static int r_apply_null_fn(struct fx *f)
{
	struct p_arg a = p_plain(1);
	struct p_rep r;

	return apply_with(f, f->pool, NULL, &a, sizeof(a), &r, sizeof(r));
}

static int r_apply_null_arg(struct fx *f)
{
	struct p_rep r;

	return apply_with(f, f->pool, p_task, NULL, sizeof(struct p_arg), &r,
			  sizeof(r));
}

static int r_apply_null_res(struct fx *f)
{
	struct p_arg a = p_plain(1);

	return apply_with(f, f->pool, p_task, &a, sizeof(a), NULL,
			  sizeof(struct p_rep));
}

static int r_apply_refused(struct fx *f)
{
	struct p_arg a = p_plain(1);
	struct p_rep r;

	return apply_with(f, f->pool, p_task, &a, sizeof(a), &r, sizeof(r));
}


/*
 * rp_apply blocks without a timeout, so the huge-res_cap call runs on a
 * thread: if it has not returned within the hang guard, the pool is
 * terminated (allowed concurrently), which must complete the call.
 */
static struct apply_job {
	rp_pool_t *pool;
	char buf[16];
	size_t len;
	int rc;
	uint32_t done;
} job;

static void *apply_huge_main(void *arg)
{
	job.rc = rp_apply(job.pool, empty_task, NULL, 0, job.buf, SIZE_MAX,
			  &job.len, NULL);
	p_raise(&job.done);
	return NULL;
}

static int r_apply_huge_res_cap(struct fx *f)
{
	pthread_t t;

	job = (struct apply_job){ .pool = f->pool, .len = SENTINEL_LEN };
	assert_int_equal(pthread_create(&t, NULL, apply_huge_main, NULL), 0);
	if (p_wait_ge(&job.done, 1, H_GUARD_S) < 0) {
		note(f, "rp_apply(res_cap SIZE_MAX) still blocked after "
			"%d s; terminated the pool to end it", H_GUARD_S);
		rp_pool_terminate(f->pool);
		pthread_join(t, NULL);
		note(f, "it then returned %d (%s)", job.rc,
		     rp_err_name(job.rc));
		f->closed = true;
		return GOT_HUNG;
	}
	pthread_join(t, NULL);
	KEEP(f, job.len == SENTINEL_LEN);
	return job.rc;
}

static struct p_cbrec rec;

/* rp_apply_async with callbacks that must not run: ret_res untouched. */
static int apply_async_with(struct fx *f, rp_pool_t *pool, rp_task_fn fn,
			    const void *arg, size_t arg_len, size_t res_cap,
			    const struct rp_submit_opts *so)
{
	rp_result_t *res = SENTINEL_RES;
	int rc;

	rc = rp_apply_async(pool, fn, arg, arg_len, res_cap, so, &res);
	KEEP(f, res == SENTINEL_RES);
	if (rc == 0 && res != SENTINEL_RES)
		rp_result_free(res);
	return rc;
}

static int r_async_null_pool(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_plain(1);

	return apply_async_with(f, NULL, p_task, &a, sizeof(a),
				sizeof(struct p_rep), &so);
}

static int r_async_null_fn(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_plain(1);

	return apply_async_with(f, f->pool, NULL, &a, sizeof(a),
				sizeof(struct p_rep), &so);
}

static int r_async_null_arg(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return apply_async_with(f, f->pool, p_task, NULL, sizeof(struct p_arg),
				sizeof(struct p_rep), &so);
}

static int r_async_null_ret(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_plain(1);

	return rp_apply_async(f->pool, p_task, &a, sizeof(a),
			      sizeof(struct p_rep), &so, NULL);
}

static int r_async_refused(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_plain(1);

	return apply_async_with(f, f->pool, p_task, &a, sizeof(a),
				sizeof(struct p_rep), &so);
}

static int r_async_huge_res_cap(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return apply_async_with(f, f->pool, empty_task, NULL, 0, SIZE_MAX,
				&so);
}

static int r_async_neg_timeout(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_plain(1);

	so.timeout_ns = -1;
	return apply_async_with(f, f->pool, p_task, &a, sizeof(a),
				sizeof(struct p_rep), &so);
}

static int r_async_neg_grace(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_plain(1);

	so.timeout_ns = H_GUARD_NS;
	so.kill_grace_ns = -1;
	return apply_async_with(f, f->pool, p_task, &a, sizeof(a),
				sizeof(struct p_rep), &so);
}

/* rp_map with results[] and *ret_error pre-filled: both untouched. */
static int map_with(struct fx *f, rp_pool_t *pool, rp_task_fn fn,
		    const void *items, size_t n, size_t item_size,
		    bool results, size_t result_size)
{
	struct p_rep reps[2], reps0[2];
	struct rp_error e, e0;
	int rc;

	memset(reps, 0xcd, sizeof(reps));
	memcpy(reps0, reps, sizeof(reps));
	memset(&e, 0xab, sizeof(e));
	e0 = e;
	rc = rp_map(pool, fn, items, n, item_size, results ? reps : NULL,
		    result_size, 0, &e);
	KEEP(f, memcmp(reps, reps0, sizeof(reps)) == 0);
	KEEP(f, memcmp(&e, &e0, sizeof(e)) == 0);
	return rc;
}


ROWFN(r_map_null_pool, map_with(f, NULL, p_task, two_items, 2, IS, true, RS))
ROWFN(r_map_null_fn, map_with(f, f->pool, NULL, two_items, 2, IS, true, RS))
ROWFN(r_map_null_items, map_with(f, f->pool, p_task, NULL, 2, IS, true, RS))
ROWFN(r_map_null_results,
	map_with(f, f->pool, p_task, two_items, 2, IS, false, RS))
ROWFN(r_map_item_size_0,
	map_with(f, f->pool, p_task, two_items, 2, 0, true, RS))
ROWFN(r_map_items_overflow,
	map_with(f, f->pool, p_task, two_items, HUGE_N, IS, true, RS))
ROWFN(r_map_results_overflow,
	map_with(f, f->pool, p_task, two_items, HUGE_N, 8, true, 16))
ROWFN(r_map_n_max,
	map_with(f, f->pool, p_task, two_items, SIZE_MAX, 2, true, RS))
ROWFN(r_map_refused, map_with(f, f->pool, p_task, two_items, 2, IS, true, RS))

static int map_async_with(struct fx *f, rp_pool_t *pool, rp_task_fn fn,
			  const void *items, size_t n, size_t item_size,
			  size_t result_size, const struct rp_submit_opts *so)
{
	rp_result_t *res = SENTINEL_RES;
	int rc = rp_map_async(pool, fn, items, n, item_size, result_size, 0,
			      so, &res);

	KEEP(f, res == SENTINEL_RES);
	if (rc == 0 && res != SENTINEL_RES)
		rp_result_free(res);
	return rc;
}

static int r_mapa_null_pool(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, NULL, p_task, two_items, 2, IS, RS, &so);
}

static int r_mapa_null_fn(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, NULL, two_items, 2, IS, RS, &so);
}

static int r_mapa_null_items(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, p_task, NULL, 2, IS, RS, &so);
}

static int r_mapa_item_size_0(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, p_task, two_items, 2, 0, RS, &so);
}

static int r_mapa_items_overflow(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, p_task, two_items, HUGE_N, IS, RS,
			      &so);
}

static int r_mapa_results_overflow(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, p_task, two_items, HUGE_N, 8, 16,
			      &so);
}

static int r_mapa_null_ret(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return rp_map_async(f->pool, p_task, two_items, 2, IS, RS, 0, &so,
			    NULL);
}

static int r_mapa_refused(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, p_task, two_items, 2, IS, RS, &so);
}

/* One item whose result would be SIZE_MAX bytes: nothing overflows, but
 * no such array can be allocated. */
static int r_mapa_huge_result(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, empty_task, two_items, 1, IS,
			      SIZE_MAX, &so);
}

static int r_mapa_neg_timeout(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	so.timeout_ns = -5;
	return map_async_with(f, f->pool, p_task, two_items, 2, IS, RS, &so);
}

const struct row submit_rows[] = {
	{ "rp_apply", "NULL pool", r_apply_null_pool, -EINVAL, F_NONE },
	{ "rp_apply", "NULL fn", r_apply_null_fn, -EINVAL, F_POOL },
	{ "rp_apply", "arg NULL with arg_len", r_apply_null_arg, -EINVAL,
	  F_POOL },
	{ "rp_apply", "res NULL with res_cap", r_apply_null_res, -EINVAL,
	  F_POOL },
	{ "rp_apply", "after close", r_apply_refused, RP_ECLOSED,
	  F_POOL_CLOSED },
	/* terminate implies closed: RP_ECLOSED is the only refusal listed. */
	{ "rp_apply", "after terminate", r_apply_refused, RP_ECLOSED,
	  F_POOL_TERMINATED },
	{ "rp_apply", "res_cap SIZE_MAX", r_apply_huge_res_cap, -ENOMEM,
	  F_POOL },
	{ "rp_apply_async", "NULL pool", r_async_null_pool, -EINVAL, F_NONE },
	{ "rp_apply_async", "NULL fn", r_async_null_fn, -EINVAL, F_POOL },
	{ "rp_apply_async", "arg NULL with arg_len", r_async_null_arg,
	  -EINVAL, F_POOL },
	{ "rp_apply_async", "NULL ret_res", r_async_null_ret, -EINVAL,
	  F_POOL },
	{ "rp_apply_async", "after close", r_async_refused, RP_ECLOSED,
	  F_POOL_CLOSED },
	{ "rp_apply_async", "after terminate", r_async_refused, RP_ECLOSED,
	  F_POOL_TERMINATED },
	{ "rp_apply_async", "res_cap SIZE_MAX", r_async_huge_res_cap, -ENOMEM,
	  F_POOL },
	{ "rp_apply_async", "opts.timeout_ns -1", r_async_neg_timeout,
	  -EINVAL, F_POOL },
	{ "rp_apply_async", "opts.kill_grace_ns -1", r_async_neg_grace,
	  -EINVAL, F_POOL },
	{ "rp_apply_async", "from a callback after close",
	  r_submit_in_callback, RP_ECLOSED, F_POOL },
	{ "rp_map", "NULL pool", r_map_null_pool, -EINVAL, F_NONE },
	{ "rp_map", "NULL fn", r_map_null_fn, -EINVAL, F_POOL },
	{ "rp_map", "items NULL, n 2", r_map_null_items, -EINVAL, F_POOL },
	{ "rp_map", "results NULL, n 2", r_map_null_results, -EINVAL, F_POOL },
	{ "rp_map", "item_size 0", r_map_item_size_0, -EINVAL, F_POOL },
	{ "rp_map", "n * item_size overflows", r_map_items_overflow,
	  -EOVERFLOW, F_POOL },
	{ "rp_map", "n * result_size overflows", r_map_results_overflow,
	  -EOVERFLOW, F_POOL },
	{ "rp_map", "n SIZE_MAX, item_size 2", r_map_n_max, -EOVERFLOW,
	  F_POOL },
	{ "rp_map", "after close", r_map_refused, RP_ECLOSED, F_POOL_CLOSED },
	{ "rp_map", "after terminate", r_map_refused, RP_ECLOSED,
	  F_POOL_TERMINATED },
	{ "rp_map_async", "NULL pool", r_mapa_null_pool, -EINVAL, F_NONE },
	{ "rp_map_async", "NULL fn", r_mapa_null_fn, -EINVAL, F_POOL },
	{ "rp_map_async", "items NULL, n 2", r_mapa_null_items, -EINVAL,
	  F_POOL },
	{ "rp_map_async", "item_size 0", r_mapa_item_size_0, -EINVAL, F_POOL },
	{ "rp_map_async", "n * item_size overflows", r_mapa_items_overflow,
	  -EOVERFLOW, F_POOL },
	{ "rp_map_async", "n * result_size overflows",
	  r_mapa_results_overflow, -EOVERFLOW, F_POOL },
	{ "rp_map_async", "NULL ret_res", r_mapa_null_ret, -EINVAL, F_POOL },
	{ "rp_map_async", "after close", r_mapa_refused, RP_ECLOSED,
	  F_POOL_CLOSED },
	{ "rp_map_async", "after terminate", r_mapa_refused, RP_ECLOSED,
	  F_POOL_TERMINATED },
	{ "rp_map_async", "one result of SIZE_MAX bytes", r_mapa_huge_result,
	  -ENOMEM, F_POOL },
	{ "rp_map_async", "opts.timeout_ns -5", r_mapa_neg_timeout, -EINVAL,
	  F_POOL },
};
const size_t submit_nrows = N_OF(submit_rows);

