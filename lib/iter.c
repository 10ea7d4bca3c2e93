/* SPDX-License-Identifier: MIT */
/*
 * rp_iter_t: lazy map (Python's imap and imap_unordered).
 *
 * The iterator owns a window of `window` positions; input index i lives at
 * position i % window, for its input bytes (when a producer makes them),
 * its result and its state.  Items are pulled, in whole chunks, only while
 * the pulled indices stay within window of the lowest one not yet yielded,
 * so memory is bounded whatever the producer does.  window is a multiple of chunksize
 * and chunks start at multiples of chunksize, so a chunk's positions are
 * contiguous and its results land in place.
 *
 * Pulling happens on the caller's thread, in rp_imap and rp_iter_next.
 * Completions (chunk_done and friends) come from whichever thread drains;
 * they and rp_iter_next meet under `lock`, and `seq` is the futex the
 * caller sleeps on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "sys.h"

#define ITER_MIN_WINDOW 1024u
#define ITER_MAX_WINDOW_BYTES (64u << 20)
#define ITER_SPIN_NS 50000
/* Ready items taken per lock: handed out one by one without it. */
#define ITER_BATCH 256

enum item_state { ITEM_EMPTY, ITEM_PENDING, ITEM_DONE, ITEM_FAILED };

struct item {
	uint8_t state;
	uint64_t index;          /* the input index it holds, once pulled */
	struct rp_error *error;  /* ITEM_FAILED */
};

struct rp_iter {
	struct rp__sink sink;
	struct rp_pool *pool;
	bool ordered;
	bool freed;
	rp_task_fn fn;
	struct rp_input in;
	size_t result_size;
	uint64_t chunksize;
	uint64_t window;
	unsigned char *inputs;   /* window * item_size, for a producer */
	unsigned char *results;  /* window * result_size */
	struct item *items;
	uint32_t *done_fifo;     /* unordered: positions completed, in order */
	uint64_t fifo_mask;      /* its size, a power of two >= window, - 1 */
	uint64_t fifo_head, fifo_tail;
	uint64_t pulled;         /* items taken from the input */
	uint64_t yielded;        /* items handed to the caller */
	uint64_t next_ordered;   /* ordered: the index to yield next */
	uint64_t next_pos;       /* ... and its position */
	uint64_t low;            /* the lowest index not yet yielded: the
				  * window spans [low, low + window) */
	uint64_t low_pos;        /* ... and its position */
	bool input_done;
	int input_err;           /* the producer's error, reported once */
	struct rp_error returned_error;
	struct rp_error *held;   /* the error of the item returned last */
	uint32_t batch[ITER_BATCH]; /* positions of ready items taken under lock */
	unsigned batch_pos, batch_len;
	pthread_mutex_t lock;
	_Atomic uint32_t seq;    /* futex: bumped on every completion */
	_Atomic uint32_t waiters; /* the caller sleeps on seq */
	_Atomic int refs;
};

/* ---- sink operations (drain side) ------------------------------------------ */

/*
 * Positions are worked out once per chunk or kept up to date step by step:
 * window is rarely a power of two, and a division per item would cost more
 * than everything else an item takes.
 */
static uint64_t pos_of(const struct rp_iter *it, uint64_t index)
{
	return index % it->window;
}

static uint64_t pos_next(const struct rp_iter *it, uint64_t pos)
{
	return pos + 1 == it->window ? 0 : pos + 1;
}

static unsigned char *iter_dest(struct rp__sink *s, uint64_t first, uint32_t n)
{
	struct rp_iter *it = (struct rp_iter *)s;

	return it->results + pos_of(it, first) * it->result_size;
}

/* A chunk's positions are contiguous: chunks never straddle the end. */
static void mark(struct rp_iter *it, uint64_t first, uint32_t n, uint8_t state,
		 const struct rp_error *err)
{
	uint64_t pos0 = pos_of(it, first);

	pthread_mutex_lock(&it->lock);
	for (uint32_t i = 0; i < n; i++) {
		struct item *x = &it->items[pos0 + i];

		if (x->state != ITEM_PENDING)
			continue;
		if (state == ITEM_FAILED && !x->error &&
		    (x->error = malloc(sizeof(*x->error)))) {
			*x->error = *err;
			x->error->index = (int64_t)(first + i);
		}
		/* An item whose own failure came first stays failed. */
		x->state = (x->error || state == ITEM_FAILED) ? ITEM_FAILED :
								ITEM_DONE;
		if (!it->ordered)
			it->done_fifo[it->fifo_tail++ & it->fifo_mask] =
				(uint32_t)(pos0 + i);
	}
	pthread_mutex_unlock(&it->lock);
	/* seq_cst pair with rp_iter_next: waiters up, then seq re-read. */
	atomic_fetch_add(&it->seq, 1);
	if (atomic_load(&it->waiters))
		rp__sys_futex_wake_private(&it->seq);
}

static void iter_item_failed(struct rp__sink *s, const struct rp_error *err)
{
	struct rp_iter *it = (struct rp_iter *)s;
	struct item *x;

	pthread_mutex_lock(&it->lock);
	x = &it->items[pos_of(it, (uint64_t)err->index)];
	if (x->state == ITEM_PENDING && !x->error &&
	    (x->error = malloc(sizeof(*x->error))))
		*x->error = *err;
	pthread_mutex_unlock(&it->lock);
}

static void iter_chunk_done(struct rp__sink *s, uint64_t first, uint32_t n,
			    uint64_t result_len)
{
	/* Items whose failure came first keep it (mark sees error set). */
	mark((struct rp_iter *)s, first, n, ITEM_DONE, NULL);
}

static void iter_chunk_failed(struct rp__sink *s, uint64_t first, uint32_t n,
			      const struct rp_error *err)
{
	mark((struct rp_iter *)s, first, n, ITEM_FAILED, err);
}

static void iter_release(struct rp_iter *it)
{
	for (uint64_t i = 0; i < it->window; i++)
		free(it->items[i].error);
	free(it->inputs);
	free(it->results);
	free(it->items);
	free(it->done_fifo);
	pthread_mutex_destroy(&it->lock);
	free(it);
}

static void iter_get(struct rp__sink *s)
{
	atomic_fetch_add(&((struct rp_iter *)s)->refs, 1);
}

static void iter_put(struct rp__sink *s)
{
	struct rp_iter *it = (struct rp_iter *)s;

	if (atomic_fetch_sub(&it->refs, 1) == 1)
		iter_release(it);
}

static const struct rp__sink_ops iter_ops = {
	.dest = iter_dest,
	.chunk_done = iter_chunk_done,
	.item_failed = iter_item_failed,
	.chunk_failed = iter_chunk_failed,
	.get = iter_get,
	.put = iter_put,
};

/* ---- pulling input ----------------------------------------------------------- */

/* Fill up to n inputs from the producer; returns how many it gave. */
static uint64_t produce(struct rp_iter *it, uint64_t first, uint64_t n)
{
	uint64_t got = 0;

	while (got < n) {
		unsigned char *slot = it->inputs +
			(pos_of(it, first) + got) * it->in.item_size;
		int r = it->in.producer(it->in.user, slot, it->in.item_size);

		if (r <= 0) {
			it->input_done = true;
			it->input_err = r;
			break;
		}
		got++;
	}
	return got;
}

/* Pull and submit whole chunks while the window has room. */
static int pull(struct rp_iter *it)
{
	/* Positions are reused by index, so the bound is on the index span,
	 * not on the count: unordered, an old item may still be unread. */
	while (!it->input_done && it->pulled + it->chunksize - it->low <= it->window) {
		uint64_t first = it->pulled, n = it->chunksize;
		struct rp__batch b = {
			.sink = &it->sink, .fn = it->fn, .base_index = first,
			.next_index = first, .chunksize = it->chunksize,
			.item_size = it->in.item_size, .result_size = it->result_size,
		};
		int err;

		if (it->in.items) {
			if (n > it->in.n - first)
				n = it->in.n - first;
			b.items = (const unsigned char *)it->in.items +
				  first * it->in.item_size;
			if (first + n == it->in.n)
				it->input_done = true;
		} else {
			n = produce(it, first, n);
			b.items = it->inputs + pos_of(it, first) * it->in.item_size;
		}
		if (n == 0)
			break;
		b.end_index = first + n;
		for (uint64_t i = 0, pos = pos_of(it, first); i < n; i++) {
			it->items[pos + i].state = ITEM_PENDING;
			it->items[pos + i].index = first + i;
		}
		err = rp__dispatch_submit(it->pool, &b, false);
		if (err < 0) {
			for (uint64_t i = 0, pos = pos_of(it, first); i < n; i++)
				it->items[pos + i].state = ITEM_EMPTY;
			return err;
		}
		it->pulled += n;
	}
	return 0;
}

/* ---- yielding ---------------------------------------------------------------- */

/*
 * Under lock: the items handed out from the last batch become free
 * positions, and the window's low end moves past them.  Their data stayed
 * valid until now: the caller's next call is what retires them.
 */
static void retire_batch(struct rp_iter *it)
{
	for (unsigned i = 0; i < it->batch_len; i++)
		it->items[it->batch[i]].state = ITEM_EMPTY;
	it->batch_pos = it->batch_len = 0;
	while (it->low < it->pulled && it->items[it->low_pos].state == ITEM_EMPTY) {
		it->low++;
		it->low_pos = pos_next(it, it->low_pos);
	}
}

static bool is_ready(const struct item *x)
{
	return x->state == ITEM_DONE || x->state == ITEM_FAILED;
}

/* Under lock: the next ready positions, in the order they are yielded. */
static void collect_batch(struct rp_iter *it)
{
	unsigned n = 0;

	if (it->ordered) {
		while (n < ITER_BATCH && it->next_ordered < it->pulled &&
		       is_ready(&it->items[it->next_pos])) {
			it->batch[n++] = (uint32_t)it->next_pos;
			it->next_ordered++;
			it->next_pos = pos_next(it, it->next_pos);
		}
	} else {
		while (n < ITER_BATCH && it->fifo_head != it->fifo_tail)
			it->batch[n++] = it->done_fifo[it->fifo_head++ & it->fifo_mask];
	}
	it->batch_len = n;
}

/*
 * Hand one ready item over.  No lock: the drain side touches only pending
 * items, and this one is done or failed.
 */
static int take(struct rp_iter *it, uint32_t pos, struct rp_item *out)
{
	struct item *x = &it->items[pos];
	int code = 0;

	if (it->held) {
		free(it->held);
		it->held = NULL;
	}
	out->index = x->index;
	out->data = NULL;
	out->len = 0;
	out->error = NULL;
	if (x->state == ITEM_DONE) {
		out->data = it->results + (uint64_t)pos * it->result_size;
		out->len = it->result_size;
	} else if (x->error) {
		it->held = x->error; /* ours until the next call */
		x->error = NULL;
		out->error = it->held;
		code = it->held->code;
	} else {
		rp__error_set(&it->returned_error, -ENOMEM, (int64_t)x->index, 0,
			      "the item failed; no memory was left for details");
		out->error = &it->returned_error;
		code = -ENOMEM;
	}
	it->yielded++;
	return code;
}

/* The input ended with an error: reported once, after every item. */
static int report_input_error(struct rp_iter *it, struct rp_item *out)
{
	free(it->held);
	it->held = NULL;
	rp__error_set(&it->returned_error, RP_ETASK, (int64_t)it->pulled, 0,
		      "the producer failed with %d", it->input_err);
	it->returned_error.task_code = it->input_err;
	it->input_err = 0;
	out->index = it->pulled;
	out->data = NULL;
	out->len = 0;
	out->error = &it->returned_error;
	return RP_ETASK;
}

static int try_next(struct rp_iter *it, struct rp_item *out, bool *got)
{
	int code = 0;

	*got = true;
	if (it->batch_pos < it->batch_len)
		return take(it, it->batch[it->batch_pos++], out);
	pthread_mutex_lock(&it->lock);
	retire_batch(it);
	collect_batch(it);
	if (it->batch_len)
		code = take(it, it->batch[it->batch_pos++], out);
	else if (it->input_done && it->yielded == it->pulled)
		code = it->input_err < 0 ? report_input_error(it, out) : RP_EEND;
	else
		*got = false;
	pthread_mutex_unlock(&it->lock);
	return code;
}

RP_API int rp_iter_next(rp_iter_t *it, int64_t timeout_ns, struct rp_item *ret_item)
{
	int64_t start = -1, deadline = -1;
	bool got;
	int code;

	if (!it || it->freed || !ret_item ||
	    (timeout_ns < 0 && timeout_ns != RP_FOREVER))
		return -EINVAL;
	for (;;) {
		uint32_t seen = atomic_load(&it->seq);
		int64_t now;

		code = pull(it);
		if (code < 0 && it->pulled == it->yielded)
			return code;
		code = try_next(it, ret_item, &got);
		if (got)
			return code;
		/* The clock only once we have to wait: items already done
		 * are handed over without it. */
		now = rp__now_ns();
		if (start < 0) {
			start = now;
			deadline = timeout_ns < 0 ? -1 : now + timeout_ns;
		}
		if (deadline >= 0 && now >= deadline)
			return -ETIMEDOUT;
		if (now - start < ITER_SPIN_NS) {
			rp__drain_help(it->pool, now);
			__builtin_ia32_pause();
		} else {
			atomic_fetch_add(&it->waiters, 1);
			if (atomic_load(&it->seq) == seen)
				rp__sys_futex_wait_private(&it->seq, seen, deadline);
			atomic_fetch_sub(&it->waiters, 1);
		}
	}
}

RP_API void rp_iter_free(rp_iter_t *it)
{
	if (!it || it->freed)
		return;
	it->freed = true;
	pthread_mutex_lock(&it->lock);
	free(it->held);
	it->held = NULL;
	pthread_mutex_unlock(&it->lock);
	iter_put(&it->sink);
}

/* ---- creating ------------------------------------------------------------------ */

static uint64_t pick_window(const struct rp_pool *pool, uint64_t chunksize,
			    size_t per_item)
{
	uint64_t w = 4 * (uint64_t)pool->nworkers * chunksize;
	uint64_t cap = per_item ? ITER_MAX_WINDOW_BYTES / per_item : UINT64_MAX;

	if (w < ITER_MIN_WINDOW)
		w = ITER_MIN_WINDOW;
	if (w > cap)
		w = cap;
	if (w < (uint64_t)pool->nworkers * chunksize)
		w = (uint64_t)pool->nworkers * chunksize;
	return (w + chunksize - 1) / chunksize * chunksize;
}

static int iter_alloc(struct rp_iter *it)
{
	it->results = malloc(it->window * it->result_size + 1);
	it->items = calloc(it->window, sizeof(*it->items));
	if (!it->in.items)
		it->inputs = malloc(it->window * it->in.item_size + 1);
	if (!it->ordered) {
		uint64_t size = 1;

		while (size < it->window)
			size <<= 1;
		it->fifo_mask = size - 1;
		it->done_fifo = malloc(size * sizeof(*it->done_fifo));
	}
	if (!it->results || !it->items || (!it->in.items && !it->inputs) ||
	    (!it->ordered && !it->done_fifo))
		return -ENOMEM;
	return 0;
}

static int imap(rp_pool_t *pool, rp_task_fn fn, const struct rp_input *in,
		size_t result_size, size_t chunksize, bool ordered,
		rp_iter_t **ret_it)
{
	struct rp_iter *it;
	size_t total;
	int err;

	if (!pool || !fn || !in || !ret_it || in->item_size == 0 ||
	    (!in->items && !in->producer) || (in->items == NULL && in->n))
		return -EINVAL;
	if (in->items && (__builtin_mul_overflow(in->n, in->item_size, &total) ||
			  __builtin_mul_overflow(in->n, result_size, &total)))
		return -EOVERFLOW;
	if (atomic_load(&pool->state) != RP_POOL_OPEN)
		return RP_ECLOSED;
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->sink.ops = &iter_ops;
	it->pool = pool;
	it->ordered = ordered;
	it->fn = fn;
	it->in = *in;
	it->result_size = result_size;
	if (chunksize == RP_CHUNKSIZE_AUTO && !in->items)
		chunksize = 1;
	it->chunksize = rp__chunk_fit(pool, chunksize, in->n, in->item_size,
				      result_size);
	it->window = pick_window(pool, it->chunksize, in->item_size + result_size);
	pthread_mutex_init(&it->lock, NULL);
	atomic_init(&it->refs, 1);
	it->input_done = in->items && in->n == 0;
	err = iter_alloc(it);
	if (err == 0)
		err = pull(it);
	if (err < 0 && it->pulled == 0) {
		iter_release(it);
		return err;
	}
	*ret_it = it;
	return 0;
}

RP_API int rp_imap(rp_pool_t *pool, rp_task_fn fn, const struct rp_input *in,
		   size_t result_size, size_t chunksize, rp_iter_t **ret_it)
{
	return imap(pool, fn, in, result_size, chunksize, true, ret_it);
}

RP_API int rp_imap_unordered(rp_pool_t *pool, rp_task_fn fn,
			     const struct rp_input *in, size_t result_size,
			     size_t chunksize, rp_iter_t **ret_it)
{
	return imap(pool, fn, in, result_size, chunksize, false, ret_it);
}
