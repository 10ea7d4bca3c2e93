/* SPDX-License-Identifier: MIT */
/*
 * rp_iter_t: lazy map (Python's imap and imap_unordered).
 *
 * The iterator owns a window of `window` positions; input index i lives at
 * position i % window, for its input bytes (when a producer makes them) and
 * its result.  Input is pulled in chunks of chunksize items; chunk k holds
 * indices [k * chunksize, ...) and its bookkeeping lives in chunk slot
 * k % nchunks (window = nchunks * chunksize), so a chunk's positions are
 * contiguous and its results land in place.  Chunks are pulled only while
 * they stay within window of the oldest chunk not yet handed out in full,
 * so memory is bounded whatever the producer does.
 *
 * Everything is tracked per chunk, not per item: an item costs the caller
 * a pointer and a comparison.  A chunk's failed items are listed in item
 * order (the worker reports them so), or the whole chunk failed at once.
 *
 * Pulling and handing out happen on the caller's thread, in rp_imap and
 * rp_iter_next.  Completions (chunk_done and friends) come from whichever
 * thread drains; the two meet under `lock`, and `seq` is the futex the
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

enum chunk_state { CHUNK_EMPTY, CHUNK_PENDING, CHUNK_DONE };

struct failure {
	uint64_t index;
	struct rp_error *error;
};

struct chunk {
	uint8_t state;
	bool whole_failed;       /* every item failed with `whole` */
	uint32_t n;              /* its items */
	uint64_t first;          /* the input index of its first item */
	struct rp_error *whole;  /* may be NULL if there was no memory */
	struct failure *fails;   /* single items that failed, in order */
	uint32_t nfails, fails_cap;
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
	uint64_t window;         /* nchunks * chunksize */
	uint64_t nchunks;
	unsigned char *inputs;   /* window * item_size, for a producer */
	unsigned char *results;  /* window * result_size */
	struct chunk *chunks;
	uint32_t *done_fifo;     /* unordered: chunk slots completed, in order */
	uint64_t fifo_mask;      /* its size, a power of two >= nchunks, - 1 */
	uint64_t fifo_head, fifo_tail;
	uint64_t pulled;         /* items taken from the input */
	uint64_t yielded;        /* items handed to the caller */
	uint64_t pull_slot;      /* slot of the next chunk to pull */
	uint64_t next_slot;      /* ordered: slot of the next chunk to hand out */
	uint64_t low_first;      /* first index of the oldest chunk in use */
	uint64_t low_slot;       /* ... and its slot */
	struct chunk *cur;       /* the chunk being handed out, item by item */
	uint32_t cur_item, cur_fail;
	bool input_done;
	int input_err;           /* the producer's error, reported once */
	struct rp_error returned_error;
	struct rp_error *held;   /* the error of the item returned last */
	pthread_mutex_t lock;
	_Atomic uint32_t seq;    /* futex: bumped on every completion */
	_Atomic uint32_t waiters; /* the caller sleeps on seq */
	_Atomic int refs;
};

/* ---- sink operations (drain side) ------------------------------------------ */

static struct chunk *chunk_of(struct rp_iter *it, uint64_t index)
{
	return &it->chunks[index / it->chunksize % it->nchunks];
}

static uint64_t slot_next(const struct rp_iter *it, uint64_t slot)
{
	return slot + 1 == it->nchunks ? 0 : slot + 1;
}

static unsigned char *iter_dest(struct rp__sink *s, uint64_t first, uint32_t n)
{
	struct rp_iter *it = (struct rp_iter *)s;

	return it->results + (first % it->window) * it->result_size;
}

static struct rp_error *error_copy(const struct rp_error *err, uint64_t index)
{
	struct rp_error *e = malloc(sizeof(*e));

	if (e) {
		*e = *err;
		e->index = (int64_t)index;
	}
	return e;
}

/* Under lock: the chunk is complete; wake the caller. */
static void finish_chunk(struct rp_iter *it, struct chunk *c)
{
	c->state = CHUNK_DONE;
	if (!it->ordered)
		it->done_fifo[it->fifo_tail++ & it->fifo_mask] =
			(uint32_t)(c - it->chunks);
	pthread_mutex_unlock(&it->lock);
	/* seq_cst pair with rp_iter_next: waiters up, then seq re-read. */
	atomic_fetch_add(&it->seq, 1);
	if (atomic_load(&it->waiters))
		rp__sys_futex_wake_private(&it->seq);
}

static void iter_item_failed(struct rp__sink *s, const struct rp_error *err)
{
	struct rp_iter *it = (struct rp_iter *)s;
	struct chunk *c;

	pthread_mutex_lock(&it->lock);
	c = chunk_of(it, (uint64_t)err->index);
	if (c->nfails == c->fails_cap) {
		uint32_t cap = c->fails_cap ? 2 * c->fails_cap : 4;
		void *p = realloc(c->fails, cap * sizeof(*c->fails));

		if (p) {
			c->fails = p;
			c->fails_cap = cap;
		}
	}
	if (c->nfails < c->fails_cap) {
		c->fails[c->nfails].index = (uint64_t)err->index;
		c->fails[c->nfails++].error = error_copy(err, (uint64_t)err->index);
	}
	pthread_mutex_unlock(&it->lock);
}

static void iter_chunk_done(struct rp__sink *s, uint64_t first, uint32_t n,
			    uint64_t result_len)
{
	struct rp_iter *it = (struct rp_iter *)s;

	pthread_mutex_lock(&it->lock);
	finish_chunk(it, chunk_of(it, first));
}

static void iter_chunk_failed(struct rp__sink *s, uint64_t first, uint32_t n,
			      const struct rp_error *err)
{
	struct rp_iter *it = (struct rp_iter *)s;
	struct chunk *c;

	pthread_mutex_lock(&it->lock);
	c = chunk_of(it, first);
	c->whole_failed = true;
	c->whole = error_copy(err, first);
	finish_chunk(it, c);
}

/* Drop what a chunk still owns (failures not handed out). */
static void chunk_clear(struct chunk *c)
{
	for (uint32_t i = 0; i < c->nfails; i++)
		free(c->fails[i].error);
	free(c->fails);
	free(c->whole);
	memset(c, 0, sizeof(*c));
}

static void iter_release(struct rp_iter *it)
{
	for (uint64_t i = 0; it->chunks && i < it->nchunks; i++)
		chunk_clear(&it->chunks[i]);
	free(it->held);
	free(it->inputs);
	free(it->results);
	free(it->chunks);
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
	unsigned char *at = it->inputs + (first % it->window) * it->in.item_size;
	uint64_t got = 0;

	while (got < n) {
		int r = it->in.producer(it->in.user, at + got * it->in.item_size,
					it->in.item_size);

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
	while (!it->input_done &&
	       it->pulled + it->chunksize - it->low_first <= it->window) {
		uint64_t first = it->pulled, n = it->chunksize;
		struct chunk *c = &it->chunks[it->pull_slot];
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
			b.items = it->inputs + (first % it->window) * it->in.item_size;
		}
		if (n == 0)
			break;
		b.end_index = first + n;
		/* No lock: the drain side touches only pending chunks. */
		c->state = CHUNK_PENDING;
		c->first = first;
		c->n = (uint32_t)n;
		err = rp__dispatch_submit(it->pool, &b, false);
		if (err < 0) {
			c->state = CHUNK_EMPTY;
			return err;
		}
		it->pulled += n;
		it->pull_slot = slot_next(it, it->pull_slot);
	}
	return 0;
}

/* ---- handing out ---------------------------------------------------------------- */

/* Under lock: the chunk handed out in full goes back to the window. */
static void retire_current(struct rp_iter *it)
{
	if (!it->cur)
		return;
	chunk_clear(it->cur);
	it->cur = NULL;
	while (it->low_first < it->pulled &&
	       it->chunks[it->low_slot].state == CHUNK_EMPTY) {
		it->low_first += it->chunksize;
		it->low_slot = slot_next(it, it->low_slot);
	}
	if (it->low_first > it->pulled)
		it->low_first = it->pulled;
}

/* Under lock: the next complete chunk, in the order chunks are yielded. */
static struct chunk *next_ready(struct rp_iter *it)
{
	struct chunk *c;

	if (!it->ordered) {
		if (it->fifo_head == it->fifo_tail)
			return NULL;
		return &it->chunks[it->done_fifo[it->fifo_head++ & it->fifo_mask]];
	}
	c = &it->chunks[it->next_slot];
	if (c->state != CHUNK_DONE)
		return NULL;
	it->next_slot = slot_next(it, it->next_slot);
	return c;
}

/* The current chunk's next item.  No lock: a complete chunk is ours. */
static int take(struct rp_iter *it, struct rp_item *out)
{
	struct chunk *c = it->cur;
	uint64_t index = c->first + it->cur_item++;
	struct failure *f = it->cur_fail < c->nfails ? &c->fails[it->cur_fail] :
						       NULL;

	if (it->held) {
		free(it->held);
		it->held = NULL;
	}
	it->yielded++;
	out->index = index;
	out->data = NULL;
	out->len = 0;
	out->error = NULL;
	if (c->whole_failed) {
		if (c->whole)
			it->returned_error = *c->whole;
		else
			rp__error_set(&it->returned_error, -ENOMEM, 0, 0,
				      "the item failed; no memory for details");
		it->returned_error.index = (int64_t)index;
		out->error = &it->returned_error;
		return it->returned_error.code;
	}
	if (f && f->index == index) {
		it->cur_fail++;
		if (f->error) {
			it->held = f->error; /* ours until the next call */
			f->error = NULL;
			out->error = it->held;
			return it->held->code;
		}
		rp__error_set(&it->returned_error, -ENOMEM, (int64_t)index, 0,
			      "the item failed; no memory for details");
		out->error = &it->returned_error;
		return -ENOMEM;
	}
	out->data = it->results + (index % it->window) * it->result_size;
	out->len = it->result_size;
	return 0;
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
	if (it->cur && it->cur_item < it->cur->n)
		return take(it, out);
	pthread_mutex_lock(&it->lock);
	retire_current(it);
	it->cur = next_ready(it);
	it->cur_item = it->cur_fail = 0;
	if (it->cur)
		code = take(it, out);
	else if (it->input_done && it->yielded == it->pulled)
		code = it->input_err < 0 ? report_input_error(it, out) : RP_EEND;
	else
		*got = false;
	pthread_mutex_unlock(&it->lock);
	return code;
}

RP_API int rp_iter_next(rp_iter_t *it, int64_t timeout_ns, struct rp_item *ret_item)
{
	int64_t start = -1, deadline = -1, place_at = INT64_MAX;
	bool handed_over = false;
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
			place_at = now + RP_PLACEMENT_WAIT_NS;
		}
		/* Before the deadline test, as in result.c's wait_done. */
		if (now >= place_at)
			place_at = rp__placement_check(it->pool, now);
		if (deadline >= 0 && now >= deadline)
			return -ETIMEDOUT;
		if (now - start < ITER_SPIN_NS) {
			rp__drain_help(it->pool, now);
			__builtin_ia32_pause();
		} else {
			if (!handed_over) {
				handed_over = true;
				rp__drain_help_done(it->pool);
			}
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
	uint64_t bytes;

	/*
	 * The window's buffers: sizes a caller may make absurd.  Its byte
	 * size is window * (item_size + result_size) (the sum was checked in
	 * imap()), which may overflow though each product alone does not;
	 * below it, neither buffer's size nor its + 1 wraps.
	 */
	if (__builtin_mul_overflow(it->window,
				   it->in.item_size + it->result_size, &bytes) ||
	    bytes == UINT64_MAX)
		return -EOVERFLOW;
	it->nchunks = it->window / it->chunksize;
	it->results = malloc(it->window * it->result_size + 1);
	it->chunks = calloc(it->nchunks, sizeof(*it->chunks));
	if (!it->in.items)
		it->inputs = malloc(it->window * it->in.item_size + 1);
	if (!it->ordered) {
		uint64_t size = 1;

		while (size < it->nchunks)
			size <<= 1;
		it->fifo_mask = size - 1;
		it->done_fifo = malloc(size * sizeof(*it->done_fifo));
	}
	if (!it->results || !it->chunks || (!it->in.items && !it->inputs) ||
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
	if (__builtin_add_overflow(in->item_size, result_size, &total) ||
	    (in->items && (__builtin_mul_overflow(in->n, in->item_size, &total) ||
			   __builtin_mul_overflow(in->n, result_size, &total))))
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
