/* SPDX-License-Identifier: MIT */
/*
 * rp_result_t: the owner's handle on an async call (Python's AsyncResult).
 *
 * A result is a sink for its chunks: each completed or failed chunk counts
 * down chunks_left, and the last one completes the result.  References:
 * one for the caller (dropped by rp_result_free), one for completion
 * (dropped when the last chunk is in: chunks in flight or pending need no
 * reference of their own, a locked add and sub per chunk saved), one while
 * its callback is queued or running.  The memory goes back to a
 * process-wide free list (through a small per-thread cache), never to the
 * system, so a result freed through the API is still recognisable as
 * freed (-EINVAL) until that memory is reused for a newer result.
 *
 * `state` is the futex word, and says whether anyone sleeps on it: a
 * waiter about to sleep turns PENDING into WAITED with a compare-exchange,
 * and completion exchanges in DONE and wakes only if it took WAITED.  Both
 * are read-modify-writes of the one word, so one sees the other: no
 * wake-up is lost, and none is made unless a waiter went to sleep.
 */
#include <assert.h>
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pool.h"
#include "sys.h"

#define RESULT_LIVE  0x52534c54u /* "RSLT" */
#define RESULT_FREED 0x44454144u /* "DEAD" */
/* Results up to this size live inside the object: an apply's int. */
#define RESULT_SMALL 8
/* Result memory comes in blocks that double from this size up to the size
 * of a huge page, aligned to it (block_map says why no advice): one mmap
 * per 21,000 results, not a malloc each. */
#define BLOCK_MIN_BYTES (64u * 1024)
#define BLOCK_HUGE_BYTES (2u * 1024 * 1024)
/* How long a waiter polls (draining rings itself) before it sleeps. */
#define RESULT_SPIN_NS 50000

/* Polls of a spinning waiter between two reads of the clock. */
#define WAIT_CLOCK_EVERY 8

/*
 * A result is ready (DONE) as soon as its last chunk completed, before its
 * callback runs: unlike Python, where readiness waits for the callback and
 * so one slow callback holds back every later result (seed 004, 10.4).
 */
enum { RESULT_PENDING = 0, RESULT_DONE = 1, RESULT_WAITED = 2 };

/* rp_result.flags: set at creation, read-only after */
#define RESULT_MAP       0x1 /* a map's: per-item results, indexed errors */
#define RESULT_OWNS_DATA 0x2 /* data was allocated for it */
#define RESULT_INLINE    0x4 /* the result is in small, not at data */

/* rp_result.bits: set and cleared by any thread */
#define BIT_USER_FREED   0x1 /* rp_result_free was called */
#define BIT_IN_CALLBACK  0x2 /* its callback runs: usable even if freed */
#define BIT_ERROR_LOCK   0x4 /* a spin lock on the failure (failures only) */

/* What only some results need: callbacks, a map's item size, a failure's
 * record.  Made with the result when it has callbacks or item results,
 * else by the first failure (if memory allows). */
struct result_ext {
	rp_callback_fn callback, error_callback;
	void *user;
	uint64_t item_result_size; /* map: bytes per item; 0 for apply */
	struct rp_error *error;    /* under the error lock; the kept failure */
};

/*
 * One cache line, since a pipelined caller may hold millions, and fresh
 * memory is dear (on a virtual machine the first touch of a page costs
 * microseconds): the submitter, the drainer completing it and the getter
 * each touch one line per result (at 96 bytes, two), and 10^6 pending
 * applies fault in 64 MB.  Blocks are page-aligned and results carved at
 * this stride, so each sits on a line of its own.  What a result needs only
 * sometimes lives in the extension, and the fields of different phases
 * share words (the unions).
 */
struct rp_result {
	struct rp__sink sink;
	/* RESULT_LIVE or RESULT_FREED; read by any thread, even after a free
	 * (-EINVAL), while another may release it: relaxed, a hint like the
	 * BIT_USER_FREED it goes with. */
	_Atomic uint32_t magic;
	_Atomic uint32_t state;   /* futex word: RESULT_* */
	/* 0, or the kept failure's: written under the error lock while
	 * pending, read without it once complete (see complete()). */
	int code;
	/* The caller's, completion's and a queued callback's: at most 3. */
	_Atomic uint16_t refs;
	_Atomic uint8_t bits;     /* BIT_* */
	uint8_t flags;            /* RESULT_* flags */
	union {
		_Atomic uint64_t chunks_left; /* until the last is in */
		/* Complete: the callback queue.  Freed: the free list. */
		struct rp_result *next;
	};
	struct rp_pool *pool;     /* valid while pending */
	union {
		unsigned char *data;
		unsigned char small[RESULT_SMALL]; /* RESULT_INLINE */
	};
	uint64_t len;
	union {
		/* NULL until something needs it (result_ext).  Set once,
		 * maybe after others see the result (by a failure). */
		struct result_ext *_Atomic ext;
		/* Freed, and the first of a chain in the shared free list:
		 * the next chain (its length is in len). */
		struct rp_result *next_chain;
	};
};

static_assert(sizeof(struct rp_result) == 64, "a result is one line");

/* What rp_result_error gives when the record itself could not be kept. */
static const struct rp_error lost_error = {
	.code = -ENOMEM,
	.index = -1,
	.message = "the failure's details were lost: out of memory",
};

/* Acquire: pairs with the release that installs a failure's extension,
 * which another thread may do while the result is pending. */
static struct result_ext *ext_of(struct rp_result *r)
{
	return atomic_load_explicit(&r->ext, memory_order_acquire);
}

static unsigned char *result_data(struct rp_result *r)
{
	return r->flags & RESULT_INLINE ? r->small : r->data;
}

/* ---- allocation ---------------------------------------------------------- */

/*
 * The shared free list is a queue of chains of up to CACHE_MOVE results
 * each, so that a thread's cache gives or takes a chain in one step:
 * walking one result at a time through memory another thread freed long
 * ago cost a cache miss per result, one after the other (~70% of
 * allocating, by perf).  Results come back out in the order they were
 * freed (a chain holds them oldest first, chains queue in order), so a
 * caller that frees a million results in order and submits a million
 * more walks memory forwards, as the hardware prefetcher likes; results
 * never used yet are carved forwards from the newest block.
 */
static struct {
	pthread_mutex_t lock;
	struct rp_result *chains, *chains_tail; /* linked by next_chain */
	struct rp_result *fresh, *fresh_end;
	size_t next_block;               /* bytes of the next block */
} free_list = { .lock = PTHREAD_MUTEX_INITIALIZER,
		.next_block = BLOCK_MIN_BYTES };

/* A zeroed block of bytes; a huge one aligned to its size, as THP wants. */
static void *block_map(size_t bytes)
{
	size_t span = bytes == BLOCK_HUGE_BYTES ? 2 * bytes : bytes;
	unsigned char *p = mmap(NULL, span, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uintptr_t lead;

	if (p == MAP_FAILED)
		return NULL;
	if (span == bytes)
		return p;
	lead = (BLOCK_HUGE_BYTES - (uintptr_t)p % BLOCK_HUGE_BYTES) %
	       BLOCK_HUGE_BYTES;
	if (lead)
		munmap(p, lead);
	munmap(p + lead + bytes, span - lead - bytes);
	/*
	 * No MADV_HUGEPAGE: under the usual defrag setting ("madvise") it
	 * makes the first touch compact memory synchronously whenever no
	 * huge page is free, a stall of milliseconds at random in the
	 * caller's submit.  Measured here (a fresh process submitting 10^6
	 * applies): 1.9-3.3 M/s with the advice, 3.0-3.2 M/s without.
	 * Aligned, the block still gets a huge page where the system hands
	 * them out without compacting (THP "always").
	 */
	return p + lead;
}

/* Under the free list's lock.  Blocks are never unmapped: results are
 * recycled, and a freed one must stay readable as freed (see the top);
 * one never used reads as zero, which is not live either. */
static int grow_fresh(void)
{
	size_t bytes = free_list.next_block;
	struct rp_result *block = block_map(bytes);

	if (!block)
		return -ENOMEM;
	free_list.fresh = block;
	free_list.fresh_end = block + bytes / sizeof(struct rp_result);
	if (bytes < BLOCK_HUGE_BYTES)
		free_list.next_block = 2 * bytes;
	return 0;
}

/*
 * Each thread keeps a few free results of its own, so that allocating and
 * releasing take the shared list's lock once per CACHE_MOVE results rather
 * than twice per result.  A thread's cache goes back to the shared list
 * when the thread ends.
 */
#define CACHE_MAX 64
#define CACHE_MOVE 32

struct result_cache {
	struct rp_result *head;   /* LIFO, linked by next */
	unsigned n;
	bool registered;          /* the key's destructor will flush it */
};

static RP_THREAD_LOCAL struct result_cache cache;
static pthread_key_t cache_key;
static pthread_once_t cache_key_once = PTHREAD_ONCE_INIT;

/* Under the lock, with the cache empty: a chain, or fresh results. */
static void cache_fill(struct result_cache *c)
{
	struct rp_result *h = free_list.chains;
	size_t n;

	if (h) {
		free_list.chains = h->next_chain;
		if (!free_list.chains)
			free_list.chains_tail = NULL;
		c->head = h;
		c->n = (unsigned)h->len;
		return;
	}
	if (free_list.fresh == free_list.fresh_end && grow_fresh() < 0)
		return;
	n = (size_t)(free_list.fresh_end - free_list.fresh);
	n = n < CACHE_MOVE ? n : CACHE_MOVE;
	for (size_t i = n; i-- > 0;) { /* pushed last first: popped in order */
		struct rp_result *r = free_list.fresh + i;

		atomic_store_explicit(&r->magic, RESULT_FREED,
				      memory_order_relaxed);
		r->next = c->head;
		c->head = r;
	}
	free_list.fresh += n;
	c->n = (unsigned)n;
}

/*
 * The cache's n oldest results to the shared list's tail as one chain,
 * oldest first.  The cache is ours: the chain is cut and turned round
 * before the lock is taken, on lines this thread wrote last.
 */
static void cache_spill(struct result_cache *c, unsigned n)
{
	struct rp_result **link = &c->head, *r, *chain = NULL;
	unsigned k = 0;

	if (n == 0 || n > c->n)
		return;
	for (unsigned i = 0; i < c->n - n; i++)
		link = &(*link)->next;
	r = *link;
	*link = NULL;
	while (r) { /* newest first in the cache: reverse */
		struct rp_result *older = r->next;

		r->next = chain;
		chain = r;
		r = older;
		k++;
	}
	c->n -= k;
	chain->len = k;
	chain->next_chain = NULL;
	pthread_mutex_lock(&free_list.lock);
	if (free_list.chains_tail)
		free_list.chains_tail->next_chain = chain;
	else
		free_list.chains = chain;
	free_list.chains_tail = chain;
	pthread_mutex_unlock(&free_list.lock);
}

static void cache_flush(void *arg)
{
	struct result_cache *c = arg;

	while (c->n)
		cache_spill(c, c->n < CACHE_MOVE ? c->n : CACHE_MOVE);
}

static void cache_key_make(void)
{
	pthread_key_create(&cache_key, cache_flush);
}

/* This thread's cache, its flush at thread exit arranged on first use. */
static struct result_cache *my_cache(void)
{
	if (!cache.registered) {
		pthread_once(&cache_key_once, cache_key_make);
		cache.registered = pthread_setspecific(cache_key, &cache) == 0;
	}
	return &cache;
}

static struct rp_result *result_alloc(void)
{
	struct result_cache *c = my_cache();
	struct rp_result *r;

	if (!c->head) {
		pthread_mutex_lock(&free_list.lock);
		cache_fill(c);
		pthread_mutex_unlock(&free_list.lock);
	}
	r = c->head;
	if (r) {
		c->head = r->next;
		c->n--;
		/* The next allocation's line, fetched while this one is used:
		 * a recycled chain is in no useful order. */
		if (c->head)
			__builtin_prefetch(c->head, 1);
	}
	return r;
}

static void result_release(struct rp_result *r)
{
	struct result_cache *c = my_cache();
	struct result_ext *ext = ext_of(r);

	if (r->flags & RESULT_OWNS_DATA)
		free(r->data);
	if (ext) {
		if (ext->error != &lost_error)
			free(ext->error);
		free(ext);
	}
	atomic_store_explicit(&r->magic, RESULT_FREED, memory_order_relaxed);
	r->next = c->head;
	c->head = r;
	if (++c->n > CACHE_MAX)
		cache_spill(c, CACHE_MOVE);
}

void rp__result_put(struct rp_result *r)
{
	/* acq_rel: the last owner sees every write made under other refs. */
	if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
		result_release(r);
}

/* A chunk's reference: the completion reference covers every chunk. */
static void result_chunk_ref(struct rp__sink *s)
{
	(void)s;
}

/* ---- completion ----------------------------------------------------------- */

static void mark_done(struct rp_result *r)
{
	/* release: the result's data and failure, for is_done's acquire;
	 * taking WAITED means a waiter sleeps, or is about to (the top). */
	if (atomic_exchange_explicit(&r->state, RESULT_DONE,
				     memory_order_release) == RESULT_WAITED)
		rp__sys_futex_wake_private(&r->state);
}

/* One item whose result may come back shorter than asked for. */
static bool is_apply(const struct rp_result *r)
{
	return !(r->flags & RESULT_MAP);
}

static void error_lock(struct rp_result *r)
{
	/* acquire: pairs with error_unlock's release. */
	while (atomic_fetch_or_explicit(&r->bits, BIT_ERROR_LOCK,
					memory_order_acquire) & BIT_ERROR_LOCK)
		__builtin_ia32_pause();
}

static void error_unlock(struct rp_result *r)
{
	atomic_fetch_and_explicit(&r->bits, (uint8_t)~BIT_ERROR_LOCK,
				  memory_order_release);
}

/*
 * On the thread whose count reached zero.  No lock for the failure: every
 * record_failure came before its chunk's count down, and the counts are
 * one chain of acq_rel read-modify-writes ending here.
 */
static void complete(struct rp_result *r)
{
	struct result_ext *ext = ext_of(r);
	bool has_cb = ext && (r->code ? ext->error_callback : ext->callback);
	/* The queue's reference, taken before anyone may free the result. */
	if (has_cb)
		atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	mark_done(r);
	if (has_cb)
		rp__callbacks_queue(r->pool, r);
	rp__result_put(r); /* the completion reference */
}

static void count_down_n(struct rp_result *r, uint64_t n)
{
	if (atomic_fetch_sub_explicit(&r->chunks_left, n,
				      memory_order_acq_rel) == n)
		complete(r);
}

static void count_down(struct rp_result *r)
{
	count_down_n(r, 1);
}

/* Under the error lock: the extension, made now if the result had none. */
static struct result_ext *ext_for_failure(struct rp_result *r,
					  struct result_ext **fresh)
{
	struct result_ext *ext = ext_of(r);

	if (!ext && *fresh) {
		ext = *fresh;
		*fresh = NULL;
		/* release: its zeroed fields before the pointer (ext_of). */
		atomic_store_explicit(&r->ext, ext, memory_order_release);
	}
	return ext;
}

/*
 * Keep the failure with the lowest input index: map's "first error".  Its
 * record (and an apply's extension) is allocated outside the lock; without
 * memory, the code is still kept and rp_result_error says the details were
 * lost, and later failures no longer compete (their index is unknown).
 * A failure's code is never 0: it is an RP_E* code or a -errno (a task's
 * own code travels in task_code), and 0 would read as success.
 */
static void record_failure(struct rp_result *r, const struct rp_error *err)
{
	struct rp_error *fresh = malloc(sizeof(*fresh));
	struct result_ext *fresh_ext = ext_of(r) ? NULL :
				       calloc(1, sizeof(*fresh_ext));
	struct result_ext *ext;
	struct rp_error *kept;

	assert(err->code != 0);
	error_lock(r);
	ext = ext_for_failure(r, &fresh_ext);
	kept = ext ? ext->error : NULL;
	if (!r->code || (kept && kept != &lost_error && err->index < kept->index)) {
		r->code = err->code;
		if (ext && !kept) {
			kept = fresh ? fresh : (struct rp_error *)&lost_error;
			ext->error = kept;
			fresh = NULL;
		}
		if (kept && kept != &lost_error) {
			*kept = *err;
			if (is_apply(r))
				kept->index = -1;
		}
	}
	error_unlock(r);
	free(fresh);
	free(fresh_ext);
}

static void result_chunk_done(struct rp__sink *s, uint64_t first_index,
			      uint32_t nitems, uint64_t result_len)
{
	struct rp_result *r = (struct rp_result *)s;

	/* Only an apply task may return fewer bytes than it was given. */
	if (is_apply(r) && result_len < r->len)
		r->len = result_len;
	count_down(r);
}

/* A map's chunks: its results are in place (dest), nothing to adjust. */
static void result_chunks_done(struct rp__sink *s, uint64_t n)
{
	count_down_n((struct rp_result *)s, n);
}

static void result_item_failed(struct rp__sink *s, const struct rp_error *err)
{
	record_failure((struct rp_result *)s, err);
}

static void result_chunk_failed(struct rp__sink *s, uint64_t first_index,
				uint32_t nitems, const struct rp_error *err)
{
	struct rp_result *r = (struct rp_result *)s;

	record_failure(r, err);
	count_down(r);
}

static unsigned char *result_dest(struct rp__sink *s, uint64_t first_index,
				  uint32_t nitems)
{
	struct rp_result *r = (struct rp_result *)s;
	struct result_ext *ext = ext_of(r);

	return ext ? result_data(r) + first_index * ext->item_result_size :
		     result_data(r);
}

static const struct rp__sink_ops result_ops = {
	.dest = result_dest,
	.chunk_done = result_chunk_done,
	.chunks_done = result_chunks_done,
	.item_failed = result_item_failed,
	.chunk_failed = result_chunk_failed,
	.get = result_chunk_ref,
	.put = result_chunk_ref,
};

/* ---- internal API ---------------------------------------------------------- */

struct rp_result *rp__result_new(struct rp_pool *pool, size_t cap, bool map,
				 uint64_t item_size, unsigned char *external,
				 const struct rp_submit_opts *opts,
				 uint64_t nchunks)
{
	struct rp_result *r = result_alloc();

	if (!r)
		return NULL;
	memset(r, 0, sizeof(*r));
	if (external) {
		r->data = external;
	} else if (cap <= RESULT_SMALL) {
		r->flags |= RESULT_INLINE;
	} else {
		r->data = malloc(cap);
		if (!r->data) {
			result_release(r);
			return NULL;
		}
		r->flags |= RESULT_OWNS_DATA;
	}
	if (map)
		r->flags |= RESULT_MAP;
	if (item_size || (opts && (opts->callback || opts->error_callback))) {
		struct result_ext *ext = calloc(1, sizeof(*ext));

		if (!ext) {
			result_release(r);
			return NULL;
		}
		ext->item_result_size = item_size;
		if (opts) {
			ext->callback = opts->callback;
			ext->error_callback = opts->error_callback;
			ext->user = opts->user;
		}
		/* relaxed: nobody else sees the result yet. */
		atomic_store_explicit(&r->ext, ext, memory_order_relaxed);
	}
	r->sink.ops = &result_ops;
	atomic_store_explicit(&r->magic, RESULT_LIVE, memory_order_relaxed);
	r->pool = pool;
	r->len = cap;
	/* The caller's, and completion's unless it is complete already. */
	atomic_init(&r->refs, nchunks ? 2 : 1);
	atomic_init(&r->chunks_left, nchunks);
	atomic_init(&r->state, nchunks ? RESULT_PENDING : RESULT_DONE);
	return r;
}

/* A result whose submit failed: nobody else saw it. */
void rp__result_discard(struct rp_result *r)
{
	result_release(r);
}

struct rp__sink *rp__result_sink(struct rp_result *r)
{
	return &r->sink;
}

bool rp__result_is_live(struct rp_result *r)
{
	uint8_t bits;

	if (!r || atomic_load_explicit(&r->magic, memory_order_relaxed) !=
			  RESULT_LIVE)
		return false;
	bits = atomic_load_explicit(&r->bits, memory_order_relaxed);
	return !(bits & BIT_USER_FREED) || (bits & BIT_IN_CALLBACK);
}

void rp__result_chain_set(struct rp_result *r, struct rp_result *next)
{
	r->next = next;
}

struct rp_result *rp__result_chain_next(struct rp_result *r)
{
	return r->next;
}

/* On the callback thread: exactly once, then the queue's reference goes. */
void rp__result_run_callback(struct rp_result *r)
{
	struct result_ext *ext = ext_of(r);
	rp_callback_fn fn = !ext ? NULL :
			    r->code ? ext->error_callback : ext->callback;

	if (fn) {
		atomic_fetch_or(&r->bits, BIT_IN_CALLBACK);
		fn(r, ext->user);
		atomic_fetch_and(&r->bits, (uint8_t)~BIT_IN_CALLBACK);
	}
	rp__result_put(r);
}

/* ---- waiting ------------------------------------------------------------------ */

static bool is_done(struct rp_result *r)
{
	return atomic_load_explicit(&r->state, memory_order_acquire) ==
	       RESULT_DONE;
}

/*
 * Mark the word WAITED (unless done) and sleep on it: completion's
 * exchange then takes WAITED and wakes us, or we see DONE and do not
 * sleep.  A wait that times out leaves WAITED behind: completion then
 * makes one wake-up nobody needed, no harm.
 */
static void announce_and_sleep(struct rp_result *r, int64_t deadline)
{
	uint32_t seen = RESULT_PENDING;

	/* relaxed: the word alone carries the handshake; is_done acquires. */
	if (atomic_compare_exchange_strong_explicit(&r->state, &seen,
						    RESULT_WAITED,
						    memory_order_relaxed,
						    memory_order_relaxed) ||
	    seen == RESULT_WAITED)
		rp__sys_futex_wait_private(&r->state, RESULT_WAITED, deadline);
}

/* Each waiting thread's yield back-off (wake.h). */
static RP_THREAD_LOCAL struct rp_yield waiter_yield;

/*
 * Poll for a while, draining the result rings ourselves when nobody else
 * is: a result then reaches this thread with no hand-over from the loop
 * thread.  Only then sleep, and let the loop thread wake us.  The pool is
 * looked at only while the result is pending: a done result outlives it.
 */
static int wait_done(struct rp_result *r, int64_t timeout_ns)
{
	int64_t start, deadline, spin_end, now, place_at;
	struct rp_pool *pool;
	unsigned int spins = 0;
	bool handed_over;

	if (is_done(r))
		return 0;
	pool = r->pool;
	start = rp__now_ns();
	deadline = timeout_ns < 0 ? -1 : start + timeout_ns;
	spin_end = pool->wait_policy == RP_WAKE_SLEEP ? start :
		   start + RESULT_SPIN_NS;
	handed_over = spin_end == start; /* no spin: nothing to hand over */
	/* A waiter that never spins competes with no worker for its CPU. */
	place_at = handed_over ? INT64_MAX : start + RP_PLACEMENT_WAIT_NS;
	now = start;
	while (!is_done(r)) {
		/* The clock costs as much as a poll: read it every few polls,
		 * so a result that arrives is seen sooner. */
		if (spins++ % WAIT_CLOCK_EVERY == 0)
			now = rp__now_ns();
		/* Before the deadline test: a wait preempted past its spin or
		 * its deadline has still waited here, and still asks. */
		if (now >= place_at)
			place_at = rp__placement_check(pool, now);
		if (deadline >= 0 && now >= deadline)
			return -ETIMEDOUT;
		if (now < spin_end) {
			rp__drain_help(pool, now);
			__builtin_ia32_pause();
			/* The policy (ringpool.h): let a worker on our core run. */
			if (pool->wait_policy == RP_WAKE_YIELD && spins % 32 == 0)
				rp__wake_yield(&waiter_yield);
			continue;
		}
		spins = 0; /* a wake: read the clock at once */
		if (!handed_over) {
			handed_over = true;
			rp__drain_help_done(pool);
		}
		announce_and_sleep(r, deadline);
	}
	return 0;
}

static int check_live(rp_result_t *r)
{
	return rp__result_is_live(r) ? 0 : -EINVAL;
}

RP_API int rp_result_wait(rp_result_t *r, int64_t timeout_ns)
{
	if (check_live(r) < 0 || (timeout_ns < 0 && timeout_ns != RP_FOREVER))
		return -EINVAL;
	return wait_done(r, timeout_ns);
}

RP_API int rp_result_get(rp_result_t *r, int64_t timeout_ns,
			 const void **ret_data, size_t *ret_len)
{
	int err = rp_result_wait(r, timeout_ns);

	if (err < 0)
		return err;
	if (r->code)
		return r->code;
	if (ret_data)
		*ret_data = result_data(r);
	if (ret_len)
		*ret_len = r->len;
	return 0;
}

RP_API int rp_result_ready(rp_result_t *r)
{
	if (check_live(r) < 0)
		return -EINVAL;
	return is_done(r);
}

RP_API int rp_result_successful(rp_result_t *r)
{
	if (check_live(r) < 0 || !is_done(r))
		return -EINVAL;
	return r->code == 0;
}

RP_API const struct rp_error *rp_result_error(rp_result_t *r)
{
	struct result_ext *ext;

	if (check_live(r) < 0 || !is_done(r) || r->code == 0)
		return NULL;
	ext = ext_of(r);
	return ext && ext->error ? ext->error : &lost_error;
}

RP_API int rp_result_cancel(rp_result_t *r, bool force)
{
	uint32_t n;

	if (check_live(r) < 0)
		return -EINVAL;
	if (is_done(r))
		return -EALREADY;
	n = rp__dispatch_cancel(r->pool, &r->sink, force);
	return n ? 0 : is_done(r) ? -EALREADY : -EBUSY;
}

RP_API void rp_result_free(rp_result_t *r)
{
	/* Only the first free drops the caller's reference. */
	if (!r ||
	    atomic_load_explicit(&r->magic, memory_order_relaxed) != RESULT_LIVE ||
	    (atomic_fetch_or_explicit(&r->bits, BIT_USER_FREED,
				      memory_order_relaxed) & BIT_USER_FREED))
		return;
	rp__result_put(r);
}

/* ---- shared helpers ---------------------------------------------------------- */

void rp__error_set(struct rp_error *e, int code, int64_t index, pid_t pid,
		   const char *fmt, ...)
{
	va_list ap;

	memset(e, 0, sizeof(*e));
	e->code = code;
	e->index = index;
	e->worker_pid = pid;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(e->message, sizeof(e->message), fmt, ap);
		va_end(ap);
	}
}
