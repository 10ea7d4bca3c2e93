/* SPDX-License-Identifier: MIT */
/*
 * The Pool API, continued from test_pool_api.c (the same conventions):
 * lazy iteration, payloads and task results, and a worker's death.
 */
#include "pool_api.h"

/* ------------------------------------------------------------------------ */
/* imap, imap_unordered                                                     */
/* ------------------------------------------------------------------------ */

static rp_iter_t *new_imap(rp_pool_t *pool, bool ordered,
			   const struct rp_input *in, size_t chunksize)
{
	rp_iter_t *it = NULL;
	int rc = ordered ? rp_imap(pool, p_task, in, sizeof(struct p_rep),
				   chunksize, &it)
			 : rp_imap_unordered(pool, p_task, in,
					     sizeof(struct p_rep), chunksize,
					     &it);

	if (rc != 0)
		fail_msg("rp_imap%s: %d (%s)", ordered ? "" : "_unordered",
			 rc, rp_err_name(rc));
	return p_track_iter(it);
}

static const struct p_rep *next_ok(rp_iter_t *it, struct rp_item *item)
{
	int rc = rp_iter_next(it, H_GUARD_NS, item);

	if (rc != 0)
		fail_rc("rp_iter_next", rc, item->error);
	assert_null(item->error);
	assert_non_null(item->data);
	assert_int_equal(item->len, sizeof(struct p_rep));
	return item->data;
}

static void expect_end(rp_iter_t *it)
{
	struct rp_item item;

	assert_int_equal(rp_iter_next(it, H_GUARD_NS, &item), RP_EEND);
	assert_int_equal(rp_iter_next(it, 0, &item), RP_EEND);
}

/*
 * Item 0 is held at a gate while item 1 finishes on the other worker: imap
 * must not yield item 1 first, nor anything before item 0 is done.
 */
static void imap_array_input_order(void **state)
{
	enum { N = 6, BIG = 40 };
	struct p_arg items[BIG];
	struct rp_input in = { .items = items, .n = N,
			       .item_size = sizeof(items[0]) };
	rp_pool_t *pool = p_pool_n(2);
	struct rp_item item;
	rp_iter_t *it;

	for (int i = 0; i < N; i++) {
		items[i] = p_plain(10 + i);
		items[i].slot = i;
	}
	items[0].flags = P_GATE;
	it = new_imap(pool, true, &in, 1);
	p_wait_done(1);
	assert_int_equal(rp_iter_next(it, 0, &item), -ETIMEDOUT);
	assert_int_equal(rp_iter_next(it, 1000000, &item), -ETIMEDOUT);
	p_open(0);
	for (int i = 0; i < N; i++) {
		const struct p_rep *r = next_ok(it, &item);

		assert_int_equal(item.index, i);
		assert_int_equal(r->value, 10 + i);
		assert_int_equal(r->index, i);
	}
	expect_end(it);
	p_iter_free(it);

	for (int i = 0; i < BIG; i++)
		items[i] = p_plain(i * i);
	in.n = BIG;
	it = new_imap(pool, true, &in, 3);
	for (int i = 0; i < BIG; i++) {
		const struct p_rep *r = next_ok(it, &item);

		assert_int_equal(item.index, i);
		assert_int_equal(r->value, i * i);
	}
	expect_end(it);
	p_iter_free(it);
	p_destroy(pool);
}

struct prod {
	int64_t next;
	int64_t n;        /* items to produce; -1: unbounded */
	int64_t fail_at;  /* return -EIO instead of this item; -1: never */
	int calls;
	int wrong_thread;
	pthread_t thread;
};

static int producer(void *user, void *item, size_t item_size)
{
	struct prod *p = user;
	struct p_arg a;

	p->calls++;
	if (!pthread_equal(pthread_self(), p->thread))
		p->wrong_thread++;
	if (item_size != sizeof(a))
		return -EPROTO;
	if (p->next == p->fail_at)
		return -EIO;
	if (p->n >= 0 && p->next >= p->n)
		return 0;
	a = p_plain(p->next * 2);
	memcpy(item, &a, sizeof(a));
	p->next++;
	return 1;
}

/* A producer is called on the iterating thread, once per item and once for
 * the end, and its items come back in input order. */
static void imap_producer_input_order(void **state)
{
	enum { N = 30 };
	static const size_t chunks[] = { 0, 1, 4 };
	rp_pool_t *pool = p_pool_n(2);

	for (size_t c = 0; c < N_OF(chunks); c++) {
		struct prod pr = { .n = N, .fail_at = -1,
				   .thread = pthread_self() };
		struct rp_input in = { .producer = producer, .user = &pr,
				       .item_size = sizeof(struct p_arg) };
		struct rp_item item;
		rp_iter_t *it = new_imap(pool, true, &in, chunks[c]);

		for (int i = 0; i < N; i++) {
			const struct p_rep *r = next_ok(it, &item);

			assert_int_equal(item.index, i);
			assert_int_equal(r->value, 2 * i);
			assert_int_equal(r->index, i);
		}
		expect_end(it);
		assert_int_equal(pr.calls, N + 1);
		assert_int_equal(pr.wrong_thread, 0);
		p_iter_free(it);
	}
	p_destroy(pool);
}

/* A producer's error: reported once, as RP_ETASK at its index; the end. */
static void imap_producer_error(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct prod pr = { .n = -1, .fail_at = 5, .thread = pthread_self() };
	struct rp_input in = { .producer = producer, .user = &pr,
			       .item_size = sizeof(struct p_arg) };
	struct rp_item item;
	rp_iter_t *it = new_imap(pool, true, &in, 1);
	int rc;

	for (int i = 0; i < 5; i++) {
		next_ok(it, &item);
		assert_int_equal(item.index, i);
	}
	memset(&item, 0, sizeof(item));
	rc = rp_iter_next(it, H_GUARD_NS, &item);
	assert_int_equal(rc, RP_ETASK);
	assert_int_equal(item.index, 5);
	assert_non_null(item.error);
	assert_int_equal(item.error->code, RP_ETASK);
	assert_int_equal(item.error->index, 5);
	assert_int_equal(item.error->task_code, -EIO);
	expect_end(it);
	p_iter_free(it);
	/* The pool is fine. */
	p_destroy(pool);
}

/*
 * Completion order: item 0 is held at a gate, so item 1 (on the other
 * worker) is yielded first; item 0 comes once the gate opens.  Then a
 * larger run: every index exactly once, each with its own data.
 */
static void imap_unordered_completion_order(void **state)
{
	enum { N = 64 };
	struct p_arg items[N];
	struct rp_input in = { .items = items, .n = 2,
			       .item_size = sizeof(items[0]) };
	rp_pool_t *pool = p_pool_n(2);
	const struct p_rep *r;
	struct rp_item item;
	int seen[N] = { 0 };
	rp_iter_t *it;

	items[0] = p_gated(0, 100);
	items[1] = p_plain(101);
	it = new_imap(pool, false, &in, 1);
	r = next_ok(it, &item);
	assert_int_equal(item.index, 1);
	assert_int_equal(r->value, 101);
	assert_int_equal(rp_iter_next(it, 0, &item), -ETIMEDOUT);
	p_open(0);
	r = next_ok(it, &item);
	assert_int_equal(item.index, 0);
	assert_int_equal(r->value, 100);
	expect_end(it);
	p_iter_free(it);

	for (int i = 0; i < N; i++)
		items[i] = p_plain(7 * i);
	in.n = N;
	it = new_imap(pool, false, &in, 4);
	for (int k = 0; k < N; k++) {
		r = next_ok(it, &item);
		assert_true(item.index < N);
		seen[item.index]++;
		assert_int_equal(r->value, 7 * (int64_t)item.index);
		assert_int_equal(r->index, (int64_t)item.index);
	}
	expect_end(it);
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	p_iter_free(it);
	p_destroy(pool);
}

/*
 * Bounded memory.  The task reads the index from the head of an item of
 * any size (the rest is padding) and returns twice the index.
 */
static int blob_task(const void *arg, size_t arg_len, void *res,
		     size_t res_cap, rp_task_ctx_t *ctx)
{
	int64_t i;

	if (arg_len < sizeof(i) || res_cap != sizeof(int64_t))
		return rp_task_fail(ctx, P_CODE_BADARG, "blob_task sizes");
	memcpy(&i, arg, sizeof(i));
	i *= 2;
	memcpy(res, &i, sizeof(i));
	return 0;
}

static int blob_producer(void *user, void *item, size_t item_size)
{
	struct prod *p = user;
	int64_t i = p->next++;

	p->calls++;
	if (!pthread_equal(pthread_self(), p->thread))
		p->wrong_thread++;
	if (item_size < sizeof(i))
		return -EPROTO;
	memcpy(item, &i, sizeof(i));
	return 1;
}

/* The window the header documents for rp_imap. */
static size_t doc_window(size_t nworkers, size_t cs, size_t is, size_t rs)
{
	size_t w = 4 * nworkers * cs;

	if (w < 1024)
		w = 1024;
	w = (w + cs - 1) / cs * cs;
	if (w * (is + rs) > ((size_t)64 << 20))
		w = ((size_t)64 << 20) / (is + rs);
	if (w < nworkers * cs)
		w = nworkers * cs;
	return w;
}

/*
 * An unbounded producer, consumed well past the window, then freed: the
 * producer is never more than the documented window ahead of what was
 * yielded.  Small items (window 1024) and 128 KiB items (the 64 MiB cap
 * lowers the window to 511).
 */
static void unbounded_window(rp_pool_t *pool, size_t item_size,
			     size_t consume)
{
	size_t win = doc_window(2, 1, item_size, sizeof(int64_t));
	struct prod pr = { .n = -1, .fail_at = -1, .thread = pthread_self() };
	struct rp_input in = { .producer = blob_producer, .user = &pr,
			       .item_size = item_size };
	rp_iter_t *it = NULL;
	struct rp_item item;
	size_t ahead = 0;

	assert_true(consume > 2 * win);
	assert_int_equal(rp_imap(pool, blob_task, &in, sizeof(int64_t), 1,
				 &it),
			 0);
	p_track_iter(it);
	if ((size_t)pr.calls > win)
		fail_msg("rp_imap pulled %d items, window %zu", pr.calls, win);
	for (size_t i = 0; i < consume; i++) {
		int rc = rp_iter_next(it, H_GUARD_NS, &item);
		int64_t v;

		if (rc != 0)
			fail_rc("rp_iter_next", rc, item.error);
		assert_int_equal(item.index, i);
		assert_int_equal(item.len, sizeof(v));
		memcpy(&v, item.data, sizeof(v));
		assert_int_equal(v, 2 * (int64_t)i);
		if ((size_t)pr.calls - (i + 1) > ahead)
			ahead = (size_t)pr.calls - (i + 1);
		if ((size_t)pr.calls > i + 1 + win)
			fail_msg("producer called %d times after %zu items "
				 "were yielded: more than the window (%zu) "
				 "ahead",
				 pr.calls, i + 1, win);
	}
	print_message("# item %zu B: producer at most %zu items ahead "
		      "(window %zu)\n",
		      item_size, ahead, win);
	assert_int_equal(pr.wrong_thread, 0);
	p_iter_free(it);
}

static void imap_unbounded_producer_bounded_window(void **state)
{
	struct rp_pool_opts o = { .nworkers = 2 };
	rp_pool_t *pool = p_pool(&o);
	struct p_arg a = p_plain(9);

	unbounded_window(pool, 128, 2500);
	unbounded_window(pool, 128 << 10, 1100);
	/* Items still in flight ran and were dropped; the pool works. */
	assert_int_equal(p_apply(pool, &a).value, 9);
	p_destroy(pool);
}

/* ------------------------------------------------------------------------ */
/* Payloads and task results                                                */
/* ------------------------------------------------------------------------ */

static int xor_task(const void *arg, size_t arg_len, void *res,
		    size_t res_cap, rp_task_ctx_t *ctx)
{
	const unsigned char *in = arg;
	unsigned char *out = res;

	if (arg_len != res_cap)
		return rp_task_fail(ctx, P_CODE_BADARG, "xor: %zu != %zu",
				    arg_len, res_cap);
	for (size_t i = 0; i < arg_len; i++)
		out[i] = in[i] ^ 0xa5;
	return 0;
}

static void fill(unsigned char *buf, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (unsigned char)(seed >> 16);
	}
}

static void check_xor(const unsigned char *in, const unsigned char *out,
		      size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (out[i] != (in[i] ^ 0xa5))
			fail_msg("byte %zu of %zu: %#x, want %#x", i, n, out[i],
				 in[i] ^ 0xa5);
}

/* 4 MiB in and out (the default ring is 256 KiB), byte-exact; 1 MiB through
 * a 4 KiB ring; map items of 300 KiB. */
static void large_payloads_round_trip(void **state)
{
	enum { BIG = 4 << 20, MID = 1 << 20, ITEM = 300 << 10, NI = 6 };
	unsigned char *in = malloc(BIG), *out = malloc(BIG);
	unsigned char *items = malloc((size_t)NI * ITEM);
	unsigned char *outs = malloc((size_t)NI * ITEM);
	struct rp_pool_opts small = { .nworkers = 2, .ring_bytes = 4096 };
	rp_pool_t *pool = p_pool_n(2);
	const void *data = NULL;
	rp_result_t *res = NULL;
	struct rp_error e;
	size_t len = 0;
	int rc;

	assert_non_null(in);
	assert_non_null(out);
	assert_non_null(items);
	assert_non_null(outs);
	fill(in, BIG, 1);
	memset(out, 0, BIG);
	rc = rp_apply(pool, xor_task, in, BIG, out, BIG, &len, &e);
	if (rc != 0)
		fail_rc("rp_apply 4 MiB", rc, &e);
	assert_int_equal(len, BIG);
	check_xor(in, out, BIG);

	assert_int_equal(rp_apply_async(pool, xor_task, in, BIG, BIG, NULL,
					&res),
			 0);
	assert_int_equal(rp_result_get(res, H_GUARD_NS, &data, &len), 0);
	assert_int_equal(len, BIG);
	check_xor(in, data, BIG);
	rp_result_free(res);

	fill(items, (size_t)NI * ITEM, 2);
	rc = rp_map(pool, xor_task, items, NI, ITEM, outs, ITEM, 1, &e);
	if (rc != 0)
		fail_rc("rp_map 300 KiB items", rc, &e);
	check_xor(items, outs, (size_t)NI * ITEM);
	p_destroy(pool);

	pool = p_pool(&small);
	memset(out, 0, MID);
	rc = rp_apply(pool, xor_task, in, MID, out, MID, &len, &e);
	if (rc != 0)
		fail_rc("rp_apply 1 MiB, 4 KiB ring", rc, &e);
	assert_int_equal(len, MID);
	check_xor(in, out, MID);
	p_destroy(pool);
	free(in);
	free(out);
	free(items);
	free(outs);
}

/* A failure's code and message come back from get and from apply. */
static void task_failure_code_and_message(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_plain(5);
	struct p_rep r;
	struct rp_error e;
	const struct rp_error *re;
	size_t len = SENTINEL_LEN;
	rp_result_t *res;

	a.slot = 0;
	a.flags = P_FAIL;
	a.code = 12;
	memset(&e, 0, sizeof(e));
	assert_int_equal(rp_apply(pool, p_task, &a, sizeof(a), &r, sizeof(r),
				  &len, &e),
			 RP_ETASK);
	assert_int_equal(len, SENTINEL_LEN);
	assert_int_equal(e.code, RP_ETASK);
	assert_int_equal(e.task_code, 12);
	assert_string_equal(e.message, "task 5 failed");
	assert_int_equal(e.index, -1);
	assert_int_equal(e.worker_pid, p_sh->pid[0]);
	assert_int_not_equal(e.worker_pid, getpid());
	assert_int_equal(e.signal, 0);

	a.slot = 1;
	res = p_submit(pool, &a, NULL);
	assert_int_equal(rp_result_get(res, H_GUARD_NS, NULL, NULL), RP_ETASK);
	assert_int_equal(rp_result_ready(res), 1);
	assert_int_equal(rp_result_successful(res), 0);
	re = rp_result_error(res);
	assert_non_null(re);
	assert_int_equal(re->code, RP_ETASK);
	assert_int_equal(re->task_code, 12);
	assert_string_equal(re->message, "task 5 failed");
	assert_int_equal(re->index, -1);
	assert_int_equal(re->worker_pid, p_sh->pid[1]);
	assert_int_equal(rp_result_wait(res, 0), 0);
	rp_result_free(res);

	/* The pool goes on. */
	a = p_plain(6);
	assert_int_equal(p_apply(pool, &a).value, 6);
	p_destroy(pool);
}

static int apply_code(rp_pool_t *pool, const struct p_arg *a,
		      struct rp_error *e)
{
	struct p_rep r;

	memset(e, 0, sizeof(*e));
	return rp_apply(pool, p_task, a, sizeof(*a), &r, sizeof(r), NULL, e);
}

/* rp_task_fail(0) is a failure with code 1; plain returns are their own
 * codes; a long message is cut at RP_ERROR_MESSAGE_MAX - 1. */
static void task_fail_codes_and_long_message(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_plain(0);
	struct rp_error e;

	a.flags = P_FAIL;
	a.code = 0;
	assert_int_equal(apply_code(pool, &a, &e), RP_ETASK);
	assert_int_equal(e.task_code, 1);
	assert_string_equal(e.message, "task 0 failed");

	a.flags = P_FAIL_RAW;
	a.code = 9;
	assert_int_equal(apply_code(pool, &a, &e), RP_ETASK);
	assert_int_equal(e.task_code, 9);
	a.code = -5;
	assert_int_equal(apply_code(pool, &a, &e), RP_ETASK);
	assert_int_equal(e.task_code, -5);

	a.flags = P_LONGMSG;
	a.code = 2;
	assert_int_equal(apply_code(pool, &a, &e), RP_ETASK);
	assert_int_equal(e.task_code, 2);
	assert_int_equal(strlen(e.message), RP_ERROR_MESSAGE_MAX - 1);
	for (int i = 0; i < RP_ERROR_MESSAGE_MAX - 1; i++)
		assert_int_equal(e.message[i], 'm');
	p_destroy(pool);
}

static void set_result_len_shortens(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_plain(77);
	struct p_rep r;
	const void *data = NULL;
	size_t len = 0;
	rp_result_t *res;

	a.flags = P_SHORT;
	a.target = 8;
	memset(&r, 0, sizeof(r));
	assert_int_equal(rp_apply(pool, p_task, &a, sizeof(a), &r, sizeof(r),
				  &len, NULL),
			 0);
	assert_int_equal(len, 8);
	assert_int_equal(r.value, 77);
	res = p_submit(pool, &a, NULL);
	assert_int_equal(rp_result_get(res, H_GUARD_NS, &data, &len), 0);
	assert_int_equal(len, 8);
	assert_int_equal(*(const int64_t *)data, 77);
	rp_result_free(res);

	a.target = 0;
	assert_int_equal(rp_apply(pool, p_task, &a, sizeof(a), &r, sizeof(r),
				  &len, NULL),
			 0);
	assert_int_equal(len, 0);

	/* More than res_cap is ignored. */
	a.target = 1000;
	assert_int_equal(rp_apply(pool, p_task, &a, sizeof(a), &r, sizeof(r),
				  &len, NULL),
			 0);
	assert_int_equal(len, sizeof(r));
	p_destroy(pool);
}

/* rp_task_index: the input index in map and imap items, -1 in apply;
 * rp_task_worker: 0 .. nworkers - 1. */
static void task_index_and_worker(void **state)
{
	enum { N = 20 };
	struct p_arg items[N];
	struct p_rep reps[N];
	struct rp_input in = { .items = items, .n = N,
			       .item_size = sizeof(items[0]) };
	rp_pool_t *pool = p_pool_n(3);
	struct rp_item item;
	struct rp_error e;
	rp_iter_t *it;

	for (int i = 0; i < N; i++)
		items[i] = p_plain(0);
	assert_int_equal(rp_map(pool, p_task, items, N, sizeof(items[0]), reps,
				sizeof(reps[0]), 3, &e),
			 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(reps[i].index, i);
		assert_true(reps[i].worker >= 0 && reps[i].worker < 3);
	}
	it = new_imap(pool, false, &in, 2);
	for (int i = 0; i < N; i++) {
		const struct p_rep *r = next_ok(it, &item);

		assert_int_equal(r->index, (int64_t)item.index);
	}
	p_iter_free(it);
	assert_int_equal(p_apply(pool, &items[0]).index, -1);
	p_destroy(pool);
}

/*
 * A map with two failing items fails as a whole with the lower index,
 * whatever the chunking; the same through map_async.
 */
static void map_failure_first_index(void **state)
{
	enum { N = 20 };
	static const size_t chunks[] = { 1, 4, RP_CHUNKSIZE_AUTO };
	struct p_arg items[N];
	struct p_rep reps[N];
	rp_pool_t *pool = p_pool_n(2);
	const struct rp_error *re;
	rp_result_t *res = NULL;
	struct rp_error e;

	for (int i = 0; i < N; i++)
		items[i] = p_plain(i);
	items[13].flags = items[5].flags = P_FAIL;
	items[13].code = 113;
	items[5].code = 105;
	for (size_t c = 0; c < N_OF(chunks); c++) {
		memset(&e, 0, sizeof(e));
		assert_int_equal(rp_map(pool, p_task, items, N,
					sizeof(items[0]), reps,
					sizeof(reps[0]), chunks[c], &e),
				 RP_ETASK);
		assert_int_equal(e.code, RP_ETASK);
		assert_int_equal(e.index, 5);
		assert_int_equal(e.task_code, 105);
		assert_string_equal(e.message, "task 5 failed");
	}
	assert_int_equal(rp_map_async(pool, p_task, items, N, sizeof(items[0]),
				      sizeof(reps[0]), 2, NULL, &res),
			 0);
	assert_int_equal(rp_result_get(res, H_GUARD_NS, NULL, NULL), RP_ETASK);
	assert_int_equal(rp_result_successful(res), 0);
	re = rp_result_error(res);
	assert_non_null(re);
	assert_int_equal(re->index, 5);
	assert_int_equal(re->task_code, 105);
	rp_result_free(res);
	p_destroy(pool);
}

static void iterate_with_failure(rp_pool_t *pool, bool ordered)
{
	enum { N = 10, BAD = 3 };
	struct p_arg items[N];
	struct rp_input in = { .items = items, .n = N,
			       .item_size = sizeof(items[0]) };
	struct rp_item item;
	int seen[N] = { 0 }, failures = 0;
	rp_iter_t *it;

	for (int i = 0; i < N; i++)
		items[i] = p_plain(i);
	items[BAD].flags = P_FAIL;
	items[BAD].code = 33;
	it = new_imap(pool, ordered, &in, 1);
	for (int k = 0; k < N; k++) {
		int rc;

		memset(&item, 0, sizeof(item));
		rc = rp_iter_next(it, H_GUARD_NS, &item);
		assert_true(item.index < N);
		if (ordered)
			assert_int_equal(item.index, k);
		seen[item.index]++;
		if (item.index == BAD) {
			failures++;
			assert_int_equal(rc, RP_ETASK);
			assert_non_null(item.error);
			assert_null(item.data);
			assert_int_equal(item.error->code, RP_ETASK);
			assert_int_equal(item.error->task_code, 33);
			assert_int_equal(item.error->index, BAD);
			assert_string_equal(item.error->message,
					    "task 3 failed");
		} else {
			if (rc != 0)
				fail_rc("rp_iter_next", rc, item.error);
			assert_null(item.error);
			assert_int_equal(((const struct p_rep *)item.data)->value,
					 (int64_t)item.index);
		}
	}
	expect_end(it);
	assert_int_equal(failures, 1);
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	p_iter_free(it);
}

static void imap_failure_reported_at_item(void **state)
{
	rp_pool_t *pool = p_pool_n(2);

	iterate_with_failure(pool, true);
	iterate_with_failure(pool, false);
	p_destroy(pool);
}

/* ------------------------------------------------------------------------ */
/* A worker that dies                                                       */
/* ------------------------------------------------------------------------ */

static void died_apply(rp_pool_t *pool, int slot, uint32_t how, int code)
{
	struct p_arg a = p_plain(slot);
	struct rp_error e;

	a.slot = slot;
	a.flags = how;
	a.code = code;
	assert_int_equal(apply_code(pool, &a, &e), RP_EWORKER_DIED);
	assert_int_equal(e.code, RP_EWORKER_DIED);
	assert_int_equal(e.worker_pid, p_sh->pid[slot]);
	if (how == P_EXIT) {
		assert_int_equal(e.signal, 0);
		assert_int_equal(e.exit_status, code);
	} else {
		assert_int_equal(e.signal, SIGKILL);
	}
}

/*
 * After a burst of pipelined work has drained, the pool is idle and two
 * tasks that each hold until both have started must land on its two
 * workers: the dispatcher may judge busy workers on loads a few
 * dispatches old, never an idle pool.
 */
static void idle_pool_spreads_two_tasks_after_burst(void **state)
{
	enum { BURST = 5000 };
	static rp_result_t *burst[BURST];
	rp_pool_t *pool = p_pool_n(2);
	rp_result_t *res[2];
	pid_t pids[2];

	for (int i = 0; i < BURST; i++) {
		struct p_arg a = p_plain(i);

		burst[i] = p_submit(pool, &a, NULL);
	}
	for (int i = 0; i < BURST; i++) {
		assert_int_equal(p_get(burst[i])->value, i);
		rp_result_free(burst[i]);
	}
	for (int i = 0; i < 2; i++) {
		struct p_arg c = p_plain(100 + i);

		c.flags = P_COUNT;
		c.target = 2;
		res[i] = p_submit(pool, &c, NULL);
	}
	for (int i = 0; i < 2; i++) {
		pids[i] = p_get(res[i])->pid;
		rp_result_free(res[i]);
	}
	assert_int_not_equal(pids[0], pids[1]);
	p_destroy(pool);
}

/*
 * _exit(3) and SIGKILL in a task fail that task only with RP_EWORKER_DIED;
 * a task running on the other worker meanwhile finishes; the dead worker is
 * replaced (its replacement runs the initializer) and later work succeeds.
 */
static void worker_death_fails_only_its_task(void **state)
{
	enum { N = 8 };
	/* static: a callback may still run after a failed test has left */
	static struct p_cbrec rec;
	struct rp_submit_opts so = p_cb_opts(&rec);
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg g = p_gated(2, 2), k = p_plain(3), items[N];
	struct p_rep reps[N];
	rp_result_t *rg, *rk;
	const struct rp_error *re;
	struct rp_error e;

	memset(&rec, 0, sizeof(rec));
	died_apply(pool, 0, P_EXIT, 3);
	died_apply(pool, 1, P_KILL, 0);

	/*
	 * Both replacements are up: two tasks that each hold until both have
	 * started.  Then the gated task and the killed one surely run on two
	 * different workers.
	 */
	for (int i = 0; i < 2; i++) {
		struct p_arg c = p_plain(i);

		c.flags = P_COUNT;
		c.target = 2;
		items[i] = c;
	}
	assert_int_equal(rp_map(pool, p_task, items, 2, sizeof(items[0]), reps,
				sizeof(reps[0]), 1, &e),
			 0);
	assert_int_not_equal(reps[0].pid, reps[1].pid);

	rg = p_submit(pool, &g, NULL);
	p_wait_started(2);
	k.slot = 3;
	k.flags = P_KILL;
	rk = p_submit(pool, &k, &so);
	assert_int_equal(rp_result_get(rk, H_GUARD_NS, NULL, NULL),
			 RP_EWORKER_DIED);
	re = rp_result_error(rk);
	assert_non_null(re);
	assert_int_equal(re->signal, SIGKILL);
	assert_int_equal(re->worker_pid, p_sh->pid[3]);
	assert_int_equal(rp_result_ready(rg), 0);
	p_open(2);
	assert_int_equal(p_get(rg)->value, 2);

	for (int i = 0; i < 10; i++) {
		struct p_arg a = p_plain(i);
		struct p_rep r = p_apply(pool, &a);

		assert_int_equal(r.value, i);
		assert_int_equal(r.init, P_INIT_MAGIC);
		assert_int_not_equal(r.pid, p_sh->pid[0]);
		assert_int_not_equal(r.pid, p_sh->pid[1]);
		assert_int_not_equal(r.pid, p_sh->pid[3]);
	}
	assert_int_equal(rp_pool_size(pool), 2);

	/* In a map, the failure carries the dead item's index. */
	for (int i = 0; i < N; i++)
		items[i] = p_plain(i);
	items[4].flags = P_KILL;
	memset(&e, 0, sizeof(e));
	assert_int_equal(rp_map(pool, p_task, items, N, sizeof(items[0]), reps,
				sizeof(reps[0]), 1, &e),
			 RP_EWORKER_DIED);
	assert_int_equal(e.index, 4);
	assert_int_equal(e.signal, SIGKILL);
	items[4].flags = 0;
	assert_int_equal(rp_map(pool, p_task, items, N, sizeof(items[0]), reps,
				sizeof(reps[0]), 1, &e),
			 0);
	assert_int_equal(reps[N - 1].value, N - 1);

	close_join(pool);
	assert_int_equal(rec.err, 1);
	assert_int_equal(rec.ok, 0);
	assert_int_equal(rec.err_code, RP_EWORKER_DIED);
	rp_result_free(rg);
	rp_result_free(rk);
	p_destroy(pool);
}

/* The fork start method runs the same pool. */
static void fork_start_method(void **state)
{
	enum { N = 10 };
	struct rp_pool_opts o = {
		.nworkers = 2,
		.start_method = RP_START_FORK,
		.initializer = p_init,
		.initarg = P_INIT_ARG,
		.initarg_len = sizeof(P_INIT_ARG),
	};
	rp_pool_t *pool = p_pool(&o);
	struct p_arg items[N];
	struct p_rep reps[N];
	struct rp_error e;

	assert_int_equal(p_sh->init_count, 2);
	for (int i = 0; i < N; i++)
		items[i] = p_plain(i);
	assert_int_equal(rp_map(pool, p_task, items, N, sizeof(items[0]), reps,
				sizeof(reps[0]), 1, &e),
			 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(reps[i].value, i);
		assert_int_equal(reps[i].init, P_INIT_MAGIC);
	}
	p_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		P_T(imap_array_input_order),
		P_T(imap_producer_input_order),
		P_T(imap_producer_error),
		P_T(imap_unordered_completion_order),
		P_T(imap_unbounded_producer_bounded_window),
		P_T(large_payloads_round_trip),
		P_T(task_failure_code_and_message),
		P_T(task_fail_codes_and_long_message),
		P_T(set_result_len_shortens),
		P_T(task_index_and_worker),
		P_T(map_failure_first_index),
		P_T(imap_failure_reported_at_item),
		P_T(idle_pool_spreads_two_tasks_after_burst),
		P_T(worker_death_fails_only_its_task),
		P_T(fork_start_method),
	};

	return cmocka_run_group_tests_name("pool_results", tests, p_group_setup,
					   p_group_teardown);
}
