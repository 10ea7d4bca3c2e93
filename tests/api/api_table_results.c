/* SPDX-License-Identifier: MIT */
/* The bad-input table: results, lazy iteration and the task context. */
#include "api_table.h"

/* ========================================================================== */
/* Results                                                                    */
/* ========================================================================== */

static int get_with(struct fx *f, rp_result_t *res, int64_t timeout_ns)
{
	const void *data = SENTINEL_DATA;
	size_t len = SENTINEL_LEN;
	int rc = rp_result_get(res, timeout_ns, &data, &len);

	KEEP(f, data == SENTINEL_DATA);
	KEEP(f, len == SENTINEL_LEN);
	return rc;
}

ROWFN(r_get_null, get_with(f, NULL, 0))
ROWFN(r_get_poll, get_with(f, f->res, 0))
ROWFN(r_get_minus2, get_with(f, f->res, -2))
ROWFN(r_get_int64_min, get_with(f, f->res, INT64_MIN))
ROWFN(r_get_guard, get_with(f, f->res, H_GUARD_NS))
ROWFN(r_wait_null, rp_result_wait(NULL, 0))
ROWFN(r_wait_poll, rp_result_wait(f->res, 0))
ROWFN(r_wait_minus2, rp_result_wait(f->res, -2))
ROWFN(r_wait_int64_min, rp_result_wait(f->res, INT64_MIN))
ROWFN(r_ready_null, rp_result_ready(NULL))
ROWFN(r_ready, rp_result_ready(f->res))
ROWFN(r_successful_null, rp_result_successful(NULL))
ROWFN(r_successful, rp_result_successful(f->res))
ROWFN(r_error_null, rp_result_error(NULL) ? GOT_PTR : GOT_NULL)
ROWFN(r_error, rp_result_error(f->res) ? GOT_PTR : GOT_NULL)
ROWFN(r_cancel_null, rp_result_cancel(NULL, false))
ROWFN(r_cancel_null_force, rp_result_cancel(NULL, true))
ROWFN(r_cancel, rp_result_cancel(f->res, false))
ROWFN(r_cancel_force, rp_result_cancel(f->res, true))

static int r_rfree_null(struct fx *f)
{
	rp_result_free(NULL);
	return DONE;
}

/* Freed twice through the API: the second is a no-op, the result stays
 * recognisably freed. */
static int r_rfree_twice(struct fx *f)
{
	rp_result_free(f->res);
	rp_result_free(f->res);
	f->res_freed = true;
	return rp_result_ready(f->res);
}

/* An unfinished result freed: detached, its task still runs to the end. */
static int r_rfree_pending(struct fx *f)
{
	rp_result_free(f->res);
	f->res_freed = true;
	p_open(0);
	KEEP(f, p_wait_ge(&p_sh->done[0], 1, H_GUARD_S) == 0);
	return rp_result_ready(f->res);
}

const struct row result_rows[] = {
	{ "rp_result_get", "NULL", r_get_null, -EINVAL, F_NONE },
	{ "rp_result_get", "pending, timeout 0", r_get_poll, -ETIMEDOUT,
	  F_RES_PENDING },
	{ "rp_result_get", "pending, timeout -2", r_get_minus2, -EINVAL,
	  F_RES_PENDING },
	{ "rp_result_get", "complete, timeout INT64_MIN", r_get_int64_min,
	  -EINVAL, F_RES_DONE },
	{ "rp_result_get", "failed: its code, outputs untouched", r_get_guard,
	  RP_ETASK, F_RES_FAILED },
	{ "rp_result_get", "freed", r_get_poll, -EINVAL, F_RES_FREED },
	{ "rp_result_get", "freed, with a timeout", r_get_guard, -EINVAL,
	  F_RES_FREED },
	{ "rp_result_wait", "NULL", r_wait_null, -EINVAL, F_NONE },
	{ "rp_result_wait", "pending, timeout 0", r_wait_poll, -ETIMEDOUT,
	  F_RES_PENDING },
	{ "rp_result_wait", "pending, timeout -2", r_wait_minus2, -EINVAL,
	  F_RES_PENDING },
	{ "rp_result_wait", "complete, timeout INT64_MIN", r_wait_int64_min,
	  -EINVAL, F_RES_DONE },
	{ "rp_result_wait", "freed", r_wait_poll, -EINVAL, F_RES_FREED },
	{ "rp_result_ready", "NULL", r_ready_null, -EINVAL, F_NONE },
	{ "rp_result_ready", "pending", r_ready, 0, F_RES_PENDING },
	{ "rp_result_ready", "freed", r_ready, -EINVAL, F_RES_FREED },
	{ "rp_result_successful", "NULL", r_successful_null, -EINVAL, F_NONE },
	{ "rp_result_successful", "before ready", r_successful, -EINVAL,
	  F_RES_PENDING },
	{ "rp_result_successful", "failed: 0", r_successful, 0, F_RES_FAILED },
	{ "rp_result_successful", "freed", r_successful, -EINVAL,
	  F_RES_FREED },
	{ "rp_result_error", "NULL", r_error_null, GOT_NULL, F_NONE },
	{ "rp_result_error", "pending", r_error, GOT_NULL, F_RES_PENDING },
	{ "rp_result_error", "succeeded", r_error, GOT_NULL, F_RES_DONE },
	/* "any rp_result_ call is -EINVAL": NULL is this call's refusal. */
	{ "rp_result_error", "freed", r_error, GOT_NULL, F_RES_FREED },
	{ "rp_result_cancel", "NULL", r_cancel_null, -EINVAL, F_NONE },
	{ "rp_result_cancel", "NULL, force", r_cancel_null_force, -EINVAL,
	  F_NONE },
	{ "rp_result_cancel", "running, no force", r_cancel, -EBUSY,
	  F_RES_PENDING },
	{ "rp_result_cancel", "complete", r_cancel, -EALREADY, F_RES_DONE },
	{ "rp_result_cancel", "complete, force", r_cancel_force, -EALREADY,
	  F_RES_DONE },
	{ "rp_result_cancel", "failed", r_cancel, -EALREADY, F_RES_FAILED },
	{ "rp_result_cancel", "freed", r_cancel, -EINVAL, F_RES_FREED },
	{ "rp_result_free", "NULL", r_rfree_null, DONE, F_NONE },
	{ "rp_result_free", "twice: then still freed", r_rfree_twice, -EINVAL,
	  F_RES_DONE },
	{ "rp_result_free", "pending: detached, freed, the task runs on",
	  r_rfree_pending, -EINVAL, F_RES_PENDING },
};
const size_t result_nrows = N_OF(result_rows);

/* ========================================================================== */
/* Lazy iteration                                                             */
/* ========================================================================== */

typedef int (*imap_fn)(rp_pool_t *, rp_task_fn, const struct rp_input *,
		       size_t, size_t, rp_iter_t **);

static int producer_calls;

/* Counts its calls and ends the input at once: never writes the item. */
static int end_producer(void *user, void *item, size_t item_size)
{
	producer_calls++;
	return 0;
}

static int imap_with(struct fx *f, imap_fn fn, rp_pool_t *pool,
		     rp_task_fn task, const struct rp_input *in,
		     size_t result_size)
{
	rp_iter_t *it = SENTINEL_IT;
	int rc;

	producer_calls = 0;
	rc = fn(pool, task, in, result_size, 0, &it);
	KEEP(f, it == SENTINEL_IT);
	KEEP(f, producer_calls == 0);
	if (rc == 0 && it != SENTINEL_IT)
		rp_iter_free(it);
	return rc;
}

static const struct rp_input two_in = { .items = two_items, .n = 2,
					.item_size = IS };

#define IMAP_ROWS(fn)                                                   \
	static int r_##fn##_null_pool(struct fx *f)                            \
	{                                                                      \
		return imap_with(f, fn, NULL, p_task, &two_in, RS);            \
	}                                                                      \
	static int r_##fn##_null_fn(struct fx *f)                              \
	{                                                                      \
		return imap_with(f, fn, f->pool, NULL, &two_in, RS);           \
	}                                                                      \
	static int r_##fn##_null_in(struct fx *f)                              \
	{                                                                      \
		return imap_with(f, fn, f->pool, p_task, NULL, RS);            \
	}                                                                      \
	static int r_##fn##_no_input(struct fx *f)                             \
	{                                                                      \
		struct rp_input in = { .item_size = IS };                      \
		return imap_with(f, fn, f->pool, p_task, &in, RS);             \
	}                                                                      \
	static int r_##fn##_item_size_0(struct fx *f)                          \
	{                                                                      \
		struct rp_input in = two_in;                                   \
		in.item_size = 0;                                              \
		return imap_with(f, fn, f->pool, p_task, &in, RS);             \
	}                                                                      \
	static int r_##fn##_producer_item_size_0(struct fx *f)                 \
	{                                                                      \
		struct rp_input in = { .producer = end_producer };             \
		return imap_with(f, fn, f->pool, p_task, &in, RS);             \
	}                                                                      \
	static int r_##fn##_null_ret(struct fx *f)                             \
	{                                                                      \
		return fn(f->pool, p_task, &two_in, RS, 0, NULL);              \
	}                                                                      \
	static int r_##fn##_items_overflow(struct fx *f)                       \
	{                                                                      \
		struct rp_input in = two_in;                                   \
		in.n = HUGE_N;                                                 \
		return imap_with(f, fn, f->pool, p_task, &in, RS);             \
	}                                                                      \
	static int r_##fn##_results_overflow(struct fx *f)                     \
	{                                                                      \
		struct rp_input in = two_in;                                   \
		in.n = HUGE_N;                                                 \
		in.item_size = 8;                                              \
		return imap_with(f, fn, f->pool, p_task, &in, 16);             \
	}                                                                      \
	static int r_##fn##_producer_huge_item(struct fx *f)                   \
	{                                                                      \
		struct rp_input in = { .producer = end_producer,               \
				       .item_size = HALF_MAX };                \
		return imap_with(f, fn, f->pool, empty_task, &in, 8);          \
	}                                                                      \
	static int r_##fn##_producer_huge_result(struct fx *f)                 \
	{                                                                      \
		struct rp_input in = { .producer = end_producer,               \
				       .item_size = 8 };                       \
		return imap_with(f, fn, f->pool, empty_task, &in, HALF_MAX);   \
	}                                                                      \
	static int r_##fn##_refused(struct fx *f)                              \
	{                                                                      \
		return imap_with(f, fn, f->pool, p_task, &two_in, RS);         \
	}

IMAP_ROWS(rp_imap)
IMAP_ROWS(rp_imap_unordered)

/*
 * The header names -EOVERFLOW for sizes whose product overflows, as for
 * rp_map.  A producer's item and result sizes are multiplied by the
 * window: when that overflows, nothing can hold the window.
 */
#define IMAP_TABLE(fname, fn)                                                  \
	{ fname, "NULL pool", r_##fn##_null_pool, -EINVAL, F_NONE },           \
	{ fname, "NULL fn", r_##fn##_null_fn, -EINVAL, F_POOL },               \
	{ fname, "NULL in", r_##fn##_null_in, -EINVAL, F_POOL },               \
	{ fname, "neither items nor producer", r_##fn##_no_input, -EINVAL,     \
	  F_POOL },                                                            \
	{ fname, "item_size 0", r_##fn##_item_size_0, -EINVAL, F_POOL },       \
	{ fname, "producer, item_size 0", r_##fn##_producer_item_size_0,       \
	  -EINVAL, F_POOL },                                                   \
	{ fname, "NULL ret_it", r_##fn##_null_ret, -EINVAL, F_POOL },          \
	{ fname, "n * item_size overflows", r_##fn##_items_overflow,           \
	  -EOVERFLOW, F_POOL },                                                \
	{ fname, "n * result_size overflows", r_##fn##_results_overflow,       \
	  -EOVERFLOW, F_POOL },                                                \
	{ fname, "producer, item_size SIZE_MAX / 2 + 1",                       \
	  r_##fn##_producer_huge_item, -EOVERFLOW, F_POOL },                   \
	{ fname, "producer, result_size SIZE_MAX / 2 + 1",                     \
	  r_##fn##_producer_huge_result, -EOVERFLOW, F_POOL },                 \
	{ fname, "after close", r_##fn##_refused, RP_ECLOSED, F_POOL_CLOSED }, \
	{ fname, "after terminate", r_##fn##_refused, RP_ECLOSED,              \
	  F_POOL_TERMINATED }

static int next_with(struct fx *f, rp_iter_t *it, int64_t timeout_ns)
{
	struct rp_item item, item0;
	int rc;

	memset(&item, 0xab, sizeof(item));
	item0 = item;
	rc = rp_iter_next(it, timeout_ns, &item);
	KEEP(f, memcmp(&item, &item0, sizeof(item)) == 0);
	return rc;
}

ROWFN(r_next_null, next_with(f, NULL, 0))
ROWFN(r_next_null_item, rp_iter_next(f->it, 0, NULL))
ROWFN(r_next_minus2, next_with(f, f->it, -2))
ROWFN(r_next_int64_min, next_with(f, f->it, INT64_MIN))
ROWFN(r_next_poll, next_with(f, f->it, 0))
ROWFN(r_next_guard, next_with(f, f->it, H_GUARD_NS))

/* Yields item 0, then fails. */
static int failing_producer(void *user, void *item, size_t item_size)
{
	int *n = user;

	if ((*n)++ > 0)
		return -EIO;
	memcpy(item, &two_items[0], sizeof(two_items[0]));
	return 1;
}

/* A producer's error: RP_ETASK once, at the index it failed to produce,
 * then RP_EEND. */
static int r_next_producer_error(struct fx *f)
{
	int calls = 0;
	struct rp_input in = { .producer = failing_producer, .user = &calls,
			       .item_size = IS };
	struct rp_item item;
	int rc;

	assert_int_equal(rp_imap(f->pool, p_task, &in, RS, 1, &f->it), 0);
	p_track_iter(f->it);
	KEEP(f, rp_iter_next(f->it, H_GUARD_NS, &item) == 0 &&
		     item.index == 0);
	rc = rp_iter_next(f->it, H_GUARD_NS, &item);
	KEEP(f, item.index == 1 && item.error && item.error->code == RP_ETASK);
	KEEP(f, rp_iter_next(f->it, H_GUARD_NS, &item) == RP_EEND);
	p_iter_free(f->it);
	f->it = NULL;
	return rc;
}

static int r_ifree_null(struct fx *f)
{
	rp_iter_free(NULL);
	return DONE;
}

/* Freed with its item in flight: the item runs to the end, dropped. */
static int r_ifree_in_flight(struct fx *f)
{
	p_iter_free(f->it);
	f->it = NULL;
	p_open(0);
	KEEP(f, p_wait_ge(&p_sh->done[0], 1, H_GUARD_S) == 0);
	return DONE;
}

const struct row iter_rows[] = {
	IMAP_TABLE("rp_imap", rp_imap),
	IMAP_TABLE("rp_imap_unordered", rp_imap_unordered),
	{ "rp_iter_next", "NULL", r_next_null, -EINVAL, F_NONE },
	{ "rp_iter_next", "NULL ret_item", r_next_null_item, -EINVAL, F_ITER },
	{ "rp_iter_next", "timeout -2", r_next_minus2, -EINVAL, F_ITER },
	{ "rp_iter_next", "timeout INT64_MIN", r_next_int64_min, -EINVAL,
	  F_ITER },
	{ "rp_iter_next", "item pending, timeout 0", r_next_poll, -ETIMEDOUT,
	  F_ITER_PENDING },
	{ "rp_iter_next", "after the end", r_next_poll, RP_EEND, F_ITER_END },
	{ "rp_iter_next", "after the end, with a timeout", r_next_guard,
	  RP_EEND, F_ITER_END },
	{ "rp_iter_next", "the producer fails at item 1",
	  r_next_producer_error, RP_ETASK, F_POOL },
	{ "rp_iter_free", "NULL", r_ifree_null, DONE, F_NONE },
	{ "rp_iter_free", "an item in flight", r_ifree_in_flight, DONE,
	  F_ITER_PENDING },
};
const size_t iter_nrows = N_OF(iter_rows);

/* ========================================================================== */
/* Task context                                                               */
/* ========================================================================== */

enum probe_q { Q_INDEX, Q_WORKER, Q_LEN_OVER, Q_FAIL0, Q_LONGMSG };

/* Runs in a worker: answers through its result or its failure. */
static int probe_task(const void *arg, size_t arg_len, void *res,
		      size_t res_cap, rp_task_ctx_t *ctx)
{
	char msg[2 * RP_ERROR_MESSAGE_MAX];
	int64_t v = 0;
	int q;

	if (!arg || arg_len != sizeof(q) || !res || res_cap < sizeof(v))
		return 98;
	memcpy(&q, arg, sizeof(q));
	switch (q) {
	case Q_INDEX:
		v = rp_task_index(ctx);
		break;
	case Q_WORKER:
		v = rp_task_worker(ctx);
		break;
	case Q_LEN_OVER:
		rp_task_set_result_len(ctx, res_cap + 100);
		break;
	case Q_FAIL0:
		return rp_task_fail(ctx, 0, "code zero");
	case Q_LONGMSG:
		memset(msg, 'm', sizeof(msg) - 1);
		msg[sizeof(msg) - 1] = '\0';
		return rp_task_fail(ctx, 3, "%s", msg);
	}
	memcpy(res, &v, sizeof(v));
	return 0;
}

/* rp_apply of probe_task(q) into a 16-byte result. */
static int ask(struct fx *f, int q, int64_t *v, size_t *len,
	       struct rp_error *e)
{
	unsigned char buf[16] = { 0 };
	int rc;

	memset(e, 0, sizeof(*e));
	rc = rp_apply(f->pool, probe_task, &q, sizeof(q), buf, sizeof(buf),
		      len, e);
	memcpy(v, buf, sizeof(*v));
	return rc;
}

ROWFN(r_tfail_null_0, rp_task_fail(NULL, 0, "x"))
ROWFN(r_tfail_null_7, rp_task_fail(NULL, 7, "%s", "x"))

static int r_tlen_null(struct fx *f)
{
	rp_task_set_result_len(NULL, 5);
	return DONE;
}

ROWFN(r_tindex_null, (int)rp_task_index(NULL))
ROWFN(r_tworker_null, rp_task_worker(NULL))

/* The code the task failed with, or the call's code if it did not. */
static int r_tfail_0_in_task(struct fx *f)
{
	struct rp_error e;
	size_t len = SENTINEL_LEN;
	int64_t v;
	int rc = ask(f, Q_FAIL0, &v, &len, &e);

	KEEP(f, len == SENTINEL_LEN);
	if (rc != RP_ETASK)
		return rc;
	return e.task_code;
}

static int r_tfail_long_message(struct fx *f)
{
	struct rp_error e;
	size_t len;
	int64_t v;
	int rc = ask(f, Q_LONGMSG, &v, &len, &e);

	if (rc != RP_ETASK)
		return rc;
	return (int)strnlen(e.message, sizeof(e.message));
}

static int r_tlen_over_cap(struct fx *f)
{
	struct rp_error e;
	size_t len = SENTINEL_LEN;
	int64_t v;
	int rc = ask(f, Q_LEN_OVER, &v, &len, &e);

	return rc ? rc : (int)len;
}

static int r_tindex_apply(struct fx *f)
{
	struct rp_error e;
	size_t len;
	int64_t v = SENTINEL;
	int rc = ask(f, Q_INDEX, &v, &len, &e);

	return rc ? rc : (int)v;
}

static int r_tworker_apply(struct fx *f)
{
	struct rp_error e;
	size_t len;
	int64_t v = SENTINEL;
	int rc = ask(f, Q_WORKER, &v, &len, &e);

	if (rc)
		return rc;
	if (v >= 0 && v < 2)
		return GOT_MATCH;
	note(f, "worker %lld", (long long)v);
	return GOT_OTHER;
}

const struct row task_rows[] = {
	{ "rp_task_fail", "NULL ctx, code 0: turned into 1", r_tfail_null_0, 1,
	  F_NONE | UNDOC },
	{ "rp_task_fail", "NULL ctx, code 7", r_tfail_null_7, 7,
	  F_NONE | UNDOC },
	{ "rp_task_fail", "code 0 in a task: task_code 1", r_tfail_0_in_task,
	  1, F_POOL },
	{ "rp_task_fail", "a 511-character message: cut at 255",
	  r_tfail_long_message, RP_ERROR_MESSAGE_MAX - 1, F_POOL },
	{ "rp_task_set_result_len", "NULL ctx", r_tlen_null, DONE,
	  F_NONE | UNDOC },
	{ "rp_task_set_result_len", "len > res_cap: ignored, len = res_cap",
	  r_tlen_over_cap, 16, F_POOL },
	{ "rp_task_index", "NULL ctx", r_tindex_null, -1, F_NONE | UNDOC },
	{ "rp_task_index", "in an apply task: -1", r_tindex_apply, -1,
	  F_POOL },
	{ "rp_task_worker", "NULL ctx", r_tworker_null, -1, F_NONE | UNDOC },
	{ "rp_task_worker", "in a task: 0 .. nworkers - 1", r_tworker_apply,
	  GOT_MATCH, F_POOL },
};
const size_t task_nrows = N_OF(task_rows);

