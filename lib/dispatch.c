/* SPDX-License-Identifier: MIT */
/*
 * Dispatch: calls become batches, batches are cut into chunks, and chunks
 * become task records in the least-loaded worker's ring.  At chunksize 1
 * a map's chunks may go several to a record (RP_TASK_EACH, proto.h): the
 * per-record work of both sides is then shared, while each item still
 * ends, fails and is cancelled as the chunk of one it is.
 *
 * What does not fit now (every ring full, every slot taken) waits in the
 * pending queue, in submission order, and new calls queue behind it, so
 * tasks start in the order they were submitted.  Whoever frees ring space
 * (a drain) asks for the queue to be worked through: rp__dispatch_kick()
 * sets dispatch_wanted and takes submit_lock only if it is free; whoever
 * holds submit_lock looks at dispatch_wanted again after unlocking.  With
 * both accesses seq_cst, one of the two always sees the request, and no
 * thread ever blocks on submit_lock to drain.
 *
 * A drainer asks only when the queue holds something (pending_nonempty),
 * so that a pass over the result rings does not touch submit_lock's line.
 * A submitter that queues a batch stores the flag, then (a seq_cst fence)
 * looks for free slots once more; a drainer frees slots, then (a fence)
 * reads the flag: one of the two sees the other, so a batch queued as the
 * last chunks in flight complete is not left waiting for a kick that no
 * longer comes.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "sys.h"

/* Chunks written from the pending queue between two publications. */
#define PUBLISH_EVERY 32

/* Polls of the workers' settled counts while another thread drains (each
 * poll a pause, ~40 ns here): about 10 us. */
#define ROOM_WAIT_POLLS 256

/* Workers considered per dispatch: the least loaded of the first this many. */
#define RP_DISPATCH_MAX_ORDER 4096

/*
 * Packing one-item chunks (RP_TASK_EACH, proto.h): at most EACH_MAX per
 * record, and no more than 1 / (EACH_SPREAD * nworkers) of the items
 * left, so that runs shorten towards the end of a call and its last
 * items go out one by one, to whichever worker is least loaded then.
 * A run is also at most half of max_queued: a worker allowed few chunks
 * is refilled as each ends, not once per run.
 */
#define EACH_MAX 16
#define EACH_SPREAD 2

/* How long a big payload waits for ring space before it checks the worker
 * is still alive; the worker's death also ends that wait. */
#define BIG_WAIT_SLICE_NS 1000000

uint64_t rp__batch_chunks(const struct rp__batch *b)
{
	uint64_t n = b->end_index - b->next_index;

	return (n + b->chunksize - 1) / b->chunksize;
}

uint64_t rp__chunk_size_auto(const struct rp_pool *pool, uint64_t n)
{
	uint64_t per = 4 * (uint64_t)pool->nworkers;
	uint64_t cs = (n + per - 1) / per;

	return cs ? cs : 1;
}

/*
 * The chunk size to use: CPython's default for RP_CHUNKSIZE_AUTO, and never
 * so large that a chunk's items or results overflow one ring record (unless
 * a single item does, which then travels alone through the big path).
 */
uint64_t rp__chunk_fit(const struct rp_pool *pool, uint64_t chunksize,
		       uint64_t n, uint64_t item_size, uint64_t result_size)
{
	uint64_t room_in = pool->inline_max - sizeof(struct rp_task_rec);
	uint64_t room_out = pool->inline_max - sizeof(struct rp_result_rec);

	if (chunksize == RP_CHUNKSIZE_AUTO)
		chunksize = rp__chunk_size_auto(pool, n);
	if (item_size && chunksize > room_in / item_size)
		chunksize = room_in / item_size;
	if (result_size && chunksize > room_out / result_size)
		chunksize = room_out / result_size;
	if (chunksize > UINT32_MAX)
		chunksize = UINT32_MAX;
	return chunksize ? chunksize : 1;
}

/*
 * Whether b's one-item chunks may travel packed: a call whose results all
 * come at once (a map's: chunks_done), with neither deadline nor retries
 * (each counts per chunk) nor recycling (it counts tasks sent), and items
 * and results small enough that a run and each result fit a record.
 */
static bool each_allowed(const struct rp_pool *pool, const struct rp__batch *b)
{
	return b->chunksize == 1 && !(b->flags & RP_TASK_APPLY) &&
	       b->sink->ops->chunks_done && !b->limits.timeout_ns &&
	       !b->limits.retries && !pool->max_tasks &&
	       b->result_size <= pool->inline_max -
				 sizeof(struct rp_result_item_rec) &&
	       (uint64_t)EACH_MAX * b->item_size <=
		       pool->inline_max - sizeof(struct rp_task_rec);
}

/* Items in b's next chunk: its chunksize, or a run of one-item chunks. */
static uint32_t next_chunk_items(const struct rp_pool *pool,
				 const struct rp__batch *b)
{
	uint64_t left = b->end_index - b->next_index;
	uint64_t run;

	if (left <= b->chunksize)
		return (uint32_t)left;
	if (!each_allowed(pool, b))
		return (uint32_t)b->chunksize;
	run = left / ((uint64_t)EACH_SPREAD * pool->nworkers);
	if (run > pool->max_queued / 2)
		run = pool->max_queued / 2;
	return run > EACH_MAX ? EACH_MAX : run ? (uint32_t)run : 1;
}

/* ---- slots and workers ----------------------------------------------------- */

/* A slot taken but not used after all. */
static void slot_unalloc(struct rp__worker *w, int slot)
{
	w->slot_taken[slot / 64] ^= 1ull << (slot % 64);
}

/* The lowest free slot of the first word that has one: a few loads. */
static int slot_alloc(struct rp__worker *w)
{
	const uint32_t words = RP_SLOTS / 64;

	for (uint32_t i = 0; i < words; i++) {
		uint32_t k = (w->slot_cursor + i) % words;
		uint64_t m = ~(w->slot_taken[k] ^ w->given_seen[k]);
		int b;

		if (!m) {
			/* acquire: pairs with rp__slot_mark_free's release,
			 * so the slot's last settlement is complete. */
			w->given_seen[k] = atomic_load_explicit(
				&w->slot_given[k], memory_order_acquire);
			m = ~(w->slot_taken[k] ^ w->given_seen[k]);
		}
		if (!m)
			continue;
		b = __builtin_ctzll(m);
		w->slot_taken[k] ^= 1ull << b;
		w->slot_cursor = k;
		return (int)(k * 64 + (uint32_t)b);
	}
	return -ENOBUFS;
}

/* A replacement still in its initializer may take work: it queues. */
static bool can_take(const struct rp__worker *w)
{
	return !atomic_load(&w->dead) && !w->retiring && w->pidfd >= 0 &&
	       !atomic_load_explicit(&w->corrupt, memory_order_relaxed);
}

static_assert(RP_MAX_QUEUED == RP_SLOTS, "max_queued's limit is the slots");

/* Whether a worker holding load chunks may take one more (rp_pool_opts). */
static bool has_room(const struct rp_pool *pool, uint32_t load)
{
	return load < pool->max_queued;
}

static bool on_cpu(const struct rp__worker *w, int cpu)
{
	int pinned = atomic_load_explicit(&w->cpu, memory_order_relaxed);

	return pinned >= 0 && pinned == cpu;
}

/*
 * Sort key: chunks outstanding first; on a tie, a worker pinned to the
 * caller's own CPU comes last, since it could only run once the caller
 * stops running there (a lone apply otherwise pays a scheduler round trip).
 */
static uint64_t load_key(const struct rp__worker *w, int my_cpu)
{
	uint64_t load = rp__worker_load(w);

	return load << 1 | on_cpu(w, my_cpu);
}

/* Workers that can take work, least loaded first. */
static unsigned order_workers(struct rp_pool *pool, struct rp__worker **out)
{
	int my_cpu = sched_getcpu();
	uint64_t keys[RP_DISPATCH_MAX_ORDER];
	unsigned n = 0;

	for (unsigned i = 0; i < pool->nworkers && n < RP_DISPATCH_MAX_ORDER; i++) {
		struct rp__worker *w = &pool->workers[i];
		uint64_t key;
		unsigned j;

		if (!can_take(w) || !has_room(pool, rp__worker_load(w)))
			continue;
		key = load_key(w, my_cpu);
		for (j = n; j > 0 && keys[j - 1] > key; j--) {
			out[j] = out[j - 1];
			keys[j] = keys[j - 1];
		}
		out[j] = w;
		keys[j] = key;
		n++;
	}
	return n;
}

/* ---- writing task records ---------------------------------------------- */

/*
 * The worker wrote nonsense into its task ring's consumer index (the ring
 * refuses it, for good): it is treated as a corrupt worker, killed, and
 * its death fails or requeues its chunks.
 */
static int task_ring_broken(struct rp__worker *w, int err)
{
	rp__worker_mark_corrupt(w);
	return err;
}

static int reserve_waiting(struct rp__worker *w, uint16_t kind, uint32_t len,
			   void **ret)
{
	int err;

	while ((err = rp__ring_reserve(&w->tasks, kind, len, ret)) == -ENOBUFS) {
		if (atomic_load(&w->dead))
			return -EPIPE;
		rp__ring_publish(&w->tasks);
		rp__ring_wait_writable(&w->tasks, len, BIG_WAIT_SLICE_NS);
	}
	return err < 0 ? task_ring_broken(w, err) : 0;
}

/* A payload larger than a record: the task header, then FRAG pieces. */
static void write_big(struct rp_pool *pool, struct rp__worker *w,
		      const struct rp_task_rec *t, const unsigned char *items,
		      uint64_t len)
{
	uint64_t piece = pool->inline_max - sizeof(struct rp_frag_rec);
	void *p;

	if (reserve_waiting(w, RP_REC_TASK, sizeof(*t), &p) < 0)
		return;
	memcpy(p, t, sizeof(*t));
	rp__ring_commit(&w->tasks, sizeof(*t));
	for (uint64_t off = 0; off < len; off += piece) {
		struct rp_frag_rec f = { .slot = t->slot, .offset = off };
		uint32_t n = (uint32_t)(len - off < piece ? len - off : piece);

		/* A dead worker: its death fails the slot; stop here. */
		if (reserve_waiting(w, RP_REC_FRAG, sizeof(f) + n, &p) < 0)
			return;
		memcpy(p, &f, sizeof(f));
		memcpy((unsigned char *)p + sizeof(f), items + off, n);
		rp__ring_commit(&w->tasks, sizeof(f) + n);
	}
}

static void fill_slot(struct rp__slot *sl, const struct rp__batch *b,
		      uint64_t first, uint32_t nitems)
{
	/* relaxed (and below): published by the release of busy. */
	atomic_store_explicit(&sl->canceled, false, memory_order_relaxed);
	atomic_store_explicit(&sl->kill_canceled, false, memory_order_relaxed);
	sl->got_result = false;
	sl->fails_left = 0;
	sl->each_done = 0;
	sl->each_stop_asked = false;
	sl->big_received = 0;
	sl->result_len = 0;
	sl->nitems = nitems;
	sl->flags = b->flags;
	sl->first_index = first;
	sl->result_size = b->result_size;
	sl->item_size = b->item_size;
	sl->fn = b->fn;
	sl->sink = b->sink;
	sl->sink_ops = b->sink->ops;
	sl->dest = b->sink->ops->dest(b->sink, first, nitems);
	sl->limits = b->limits;
	sl->sent_ns = b->limits.timeout_ns ? rp__now_ns() : 0;
	sl->started_ns = 0;
	sl->term_ns = 0;
	sl->killed = false;
	atomic_store_explicit(&sl->timed_out, false, memory_order_relaxed);
}

/* Whether t has the function, flags and sizes of the last TASK sent. */
static bool repeats_last(const struct rp__worker *w, const struct rp_task_rec *t)
{
	const struct rp_task_rec *l = &w->last_sent;

	return w->have_last_sent && l->fn == t->fn && l->flags == t->flags &&
	       l->item_size == t->item_size && l->result_size == t->result_size;
}

/* The record's head: all of t, or what a TASK_NEXT needs (proto.h). */
static void write_task_head(void *p, const struct rp_task_rec *t, bool next)
{
	struct rp_task_next_rec n = {
		.first_index = t->first_index, .slot = t->slot,
		.nitems = t->nitems,
	};

	if (next)
		memcpy(p, &n, sizeof(n));
	else
		memcpy(p, t, sizeof(*t));
}

/*
 * Put one chunk of b (nitems from next_index) into w's task ring; more
 * items than b's chunksize are that many one-item chunks, packed.
 * Returns 0, or -ENOBUFS when w has no free slot or ring space now.
 */
static int write_chunk(struct rp_pool *pool, struct rp__worker *w,
		       const struct rp__batch *b, uint32_t nitems)
{
	uint64_t first = b->next_index;
	const unsigned char *items = b->items +
		(first - b->base_index) * b->item_size;
	uint64_t in_len = (uint64_t)nitems * b->item_size;
	bool big = sizeof(struct rp_task_rec) + in_len > pool->inline_max;
	/* More than a chunk's items: one-item chunks, packed. */
	uint32_t each = nitems > b->chunksize ? RP_TASK_EACH : 0;
	struct rp_task_rec t = {
		.fn = (uint64_t)(uintptr_t)b->fn, .first_index = first,
		.flags = b->flags | each | (big ? RP_TASK_BIG : 0) |
			 (b->limits.timeout_ns ? RP_TASK_TIMED : 0),
		.nitems = nitems,
		.item_size = b->item_size, .result_size = b->result_size,
	};
	int slot = slot_alloc(w);
	bool next = !big && repeats_last(w, &t);
	uint32_t head = next ? sizeof(struct rp_task_next_rec) : sizeof(t);
	void *p = NULL;
	int err;

	if (slot < 0)
		return slot;
	t.slot = (uint32_t)slot;
	if (!big && (err = rp__ring_reserve(&w->tasks, next ? RP_REC_TASK_NEXT :
								RP_REC_TASK,
					    (uint32_t)(head + in_len), &p)) < 0) {
		slot_unalloc(w, slot);
		return err == -ENOBUFS ? err : task_ring_broken(w, -ENOBUFS);
	}

	fill_slot(&w->slots[slot], b, first, nitems);
	w->slots[slot].flags |= each;
	b->sink->ops->get(b->sink);
	/* relaxed load and store: the one writer, under submit_lock.
	 * Packed one-item chunks count one each (rp__slot_mark_free). */
	atomic_store_explicit(&w->chunks_sent,
			      atomic_load_explicit(&w->chunks_sent,
						   memory_order_relaxed) +
			      (each ? nitems : 1),
			      memory_order_relaxed);
	/* release: the drainer's acquire of busy sees the fields above. */
	atomic_store_explicit(&w->slots[slot].busy, true, memory_order_release);
	/* Before the record is visible: the worker's CAS expects QUEUED.
	 * relaxed: the ring's release publication orders it before. */
	atomic_store_explicit(&w->ctl->slot_state[slot], RP_SLOT_QUEUED,
			      memory_order_relaxed);
	rp__deadline_sent(pool, w, &w->slots[slot]);
	if (big) {
		write_big(pool, w, &t, items, in_len);
	} else {
		write_task_head(p, &t, next);
		if (in_len) /* an apply without argument has items NULL */
			rp__copy((unsigned char *)p + head, items, in_len);
		rp__ring_commit(&w->tasks, (uint32_t)(head + in_len));
	}
	if (!next) {
		w->last_sent = t;
		w->have_last_sent = true;
	}
	if (pool->max_tasks && ++w->dispatched >= pool->max_tasks)
		w->retiring = true;
	pool->counters.chunks_sent += each ? nitems : 1;
	return 0;
}

/* One chunk of b to the least-loaded worker that has room. */
/*
 * The worker order_workers() would put first, found in one pass: the CPU
 * is looked up only to break a tie (most chunks go to the first choice;
 * the full order is needed only when it has no room).
 */
static struct rp__worker *least_loaded(struct rp_pool *pool)
{
	struct rp__worker *best = NULL;
	uint64_t best_load = UINT64_MAX;
	int my_cpu = -2; /* not looked up yet */

	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct rp__worker *w = &pool->workers[i];
		uint64_t load;

		if (!can_take(w))
			continue;
		/* Exact, a read of the drain side's line per worker.  A
		 * count kept from earlier dispatches (tried: pipelined
		 * applies 20% faster once result memory is warm, no faster
		 * in a fresh process) can show an idle worker busy: two
		 * tasks submitted to an idle pool, waiting for each other,
		 * then land on one worker and never end. */
		load = rp__worker_load(w);
		if (!has_room(pool, (uint32_t)load))
			continue;
		if (load == best_load) {
			if (my_cpu == -2)
				my_cpu = sched_getcpu();
			if (on_cpu(best, my_cpu) && !on_cpu(w, my_cpu))
				best = w;
		} else if (load < best_load) {
			best = w;
			best_load = load;
		}
	}
	return best;
}

/*
 * b's next chunk to w, if it has room: a run of packed one-item chunks
 * is cut to what w may still hold (max_queued counts each of them).
 */
static int send_chunk(struct rp_pool *pool, struct rp__worker *w,
		      struct rp__batch *b, uint32_t nitems, uint64_t *touched)
{
	if (nitems > b->chunksize) {
		uint32_t room = pool->max_queued - rp__worker_load(w);

		if (nitems > room)
			nitems = room > b->chunksize ? room :
						       (uint32_t)b->chunksize;
	}
	if (write_chunk(pool, w, b, nitems) < 0)
		return -ENOBUFS;
	b->next_index += nitems;
	*touched |= 1ull << (w->index % 64);
	return 0;
}

static int dispatch_one(struct rp_pool *pool, struct rp__batch *b,
			uint64_t *touched)
{
	struct rp__worker **order = pool->order;
	uint32_t nitems = next_chunk_items(pool, b);
	struct rp__worker *first = least_loaded(pool);
	unsigned n;

	if (!first)
		return -ENOBUFS;
	if (send_chunk(pool, first, b, nitems, touched) == 0)
		return 0;
	n = order_workers(pool, order);
	for (unsigned i = 0; i < n; i++)
		if (order[i] != first &&
		    send_chunk(pool, order[i], b, nitems, touched) == 0)
			return 0;
	return -ENOBUFS;
}

static void publish_touched(struct rp_pool *pool, uint64_t touched)
{
	for (unsigned i = 0; i < pool->nworkers && touched; i++)
		if (touched & (1ull << (i % 64)))
			rp__ring_publish(&pool->workers[i].tasks);
}

static void batch_free(struct rp__batch *b)
{
	/* Its chunks may all be done and a result sink gone: the ops were
	 * read when the batch was queued. */
	b->sink_ops->put(b->sink);
	free(b); /* its items copy, if any, is in the same block */
}

/* With submit_lock, after the pending queue changed (see the top). */
static void note_pending(struct rp_pool *pool)
{
	bool now = pool->pending_head != NULL;

	/* relaxed: the fences order it (the top); stored only on a change,
	 * so that drainers reading it do not miss on it per submit. */
	if (atomic_load_explicit(&pool->pending_nonempty, memory_order_relaxed) != now)
		atomic_store_explicit(&pool->pending_nonempty, now,
				      memory_order_relaxed);
}

/* With submit_lock: move pending chunks into rings while there is room. */
static void dispatch_pending(struct rp_pool *pool)
{
	uint64_t touched = 0;
	unsigned unpublished = 0;
	struct rp__batch *b;

	while ((b = pool->pending_head)) {
		if (b->next_index == b->end_index) {
			pool->pending_head = b->next;
			if (!pool->pending_head)
				pool->pending_tail = NULL;
			batch_free(b);
			continue;
		}
		if (dispatch_one(pool, b, &touched) < 0)
			break;
		/* Show the workers what is written every so often, not only
		 * once the rings are full: an idle worker starts sooner, and
		 * is less likely to have gone to sleep meanwhile. */
		if (++unpublished == PUBLISH_EVERY) {
			publish_touched(pool, touched);
			touched = 0;
			unpublished = 0;
		}
	}
	note_pending(pool);
	publish_touched(pool, touched);
}

void rp__submit_unlock(struct rp_pool *pool)
{
	pthread_mutex_unlock(&pool->submit_lock);
	/* seq_cst: pairs with rp__dispatch_kick's store (see the top). */
	while (atomic_load(&pool->dispatch_wanted) &&
	       pthread_mutex_trylock(&pool->submit_lock) == 0) {
		atomic_store(&pool->dispatch_wanted, 0);
		dispatch_pending(pool);
		pthread_mutex_unlock(&pool->submit_lock);
	}
}

void rp__dispatch_kick(struct rp_pool *pool)
{
	/* The slots this drainer freed, before the flag is read (the top). */
	rp__fence_seq_cst();
	if (!atomic_load_explicit(&pool->pending_nonempty, memory_order_relaxed) &&
	    !atomic_load(&pool->dispatch_wanted))
		return;
	atomic_store(&pool->dispatch_wanted, 1);
	if (pthread_mutex_trylock(&pool->submit_lock) == 0) {
		atomic_store(&pool->dispatch_wanted, 0);
		dispatch_pending(pool);
		rp__submit_unlock(pool);
	}
}

/* ---- submitting --------------------------------------------------------- */

/* Chunks settled by all workers so far: grows as a drainer frees room. */
static uint64_t settled_sum(const struct rp_pool *pool)
{
	uint64_t sum = 0;

	for (unsigned i = 0; i < pool->nworkers; i++)
		/* relaxed: a hint; slot_alloc's acquire orders the reuse. */
		sum += atomic_load_explicit(&pool->workers[i].chunks_settled,
					    memory_order_relaxed);
	return sum;
}

/*
 * Another thread is draining, and the room it makes comes within its
 * pass: wait for the first of it a little rather than queue the chunk.
 * Queueing costs a malloc now and a dispatch later on the draining thread,
 * which everything waits on; a caller submitting faster than the workers
 * finish would otherwise queue half its chunks (measured: 10^6 pipelined
 * applies, 480,000 queued, 20% slower).  Bounded, so a drainer that waits
 * for submit_lock (a respawn) is not waited for in turn.
 */
static bool wait_for_room(const struct rp_pool *pool)
{
	static RP_THREAD_LOCAL struct rp_yield room_yield;
	uint64_t before = settled_sum(pool);

	for (unsigned i = 1; i <= ROOM_WAIT_POLLS; i++) {
		__builtin_ia32_pause();
		if (settled_sum(pool) != before)
			return true;
		/* The policy (ringpool.h): the worker that is to make room
		 * may be waiting for this very CPU. */
		if (pool->wait_policy == RP_WAKE_YIELD && i % 32 == 0)
			rp__wake_yield(&room_yield);
	}
	return false;
}

/*
 * Every worker's slots are taken: most of them are usually done, their
 * results waiting in the result rings for a drainer.  With submit_lock,
 * drain them here if nobody else is (lock order allows it), rather than
 * queue the chunk and leave its dispatch to another thread.  True when
 * something was drained.
 */
static bool make_room(struct rp_pool *pool)
{
	uint64_t before;
	bool got;

	if (pthread_mutex_trylock(&pool->drain_lock) != 0)
		return wait_for_room(pool);
	/* Settled, not completed: packed items complete before their slot
	 * is given back. */
	before = settled_sum(pool);
	rp__drain_all(pool);
	got = settled_sum(pool) != before;
	pthread_mutex_unlock(&pool->drain_lock);
	return got;
}

/*
 * With submit_lock: dispatch what is queued, making room while that
 * helps.  True when the queue is empty: a new call may then go straight
 * to a ring without passing anything queued.  Without this, once a queue
 * formed every later call joined it (a malloc each, and a dispatch later)
 * for as long as the rings stayed full.
 */
static bool empty_queue(struct rp_pool *pool)
{
	dispatch_pending(pool);
	while (pool->pending_head && make_room(pool))
		dispatch_pending(pool);
	return !pool->pending_head;
}

/* Fail b's chunks that were not sent, each as a whole. */
static uint32_t fail_batch_rest(struct rp_pool *pool, struct rp__batch *b,
				const struct rp_error *why_in)
{
	struct rp_error why = *why_in;
	uint32_t n = 0;

	while (b->next_index < b->end_index) {
		uint64_t left = b->end_index - b->next_index;
		uint32_t k = (uint32_t)(left < b->chunksize ? left : b->chunksize);

		why.index = (int64_t)b->next_index;
		RP_COUNT(pool, chunks_failed);
		b->sink->ops->chunk_failed(b->sink, b->next_index, k, &why);
		b->next_index += k;
		rp__chunk_finished(pool);
		n++;
	}
	return n;
}


static int closed_code(int state)
{
	switch (state) {
	case RP_POOL_OPEN:
		return 0;
	case RP_POOL_BROKEN:
		return RP_EBROKEN;
	default:
		return RP_ECLOSED;
	}
}

/* A pending copy of what is left of b, holding a sink reference; borrowed
 * items are copied, since the call returns before they are sent. */
static struct rp__batch *batch_dup(const struct rp__batch *b, bool borrowed)
{
	size_t len = borrowed ? (b->end_index - b->next_index) * b->item_size : 0;
	/* One block: the batch, then its copy of the items (a malloc and a
	 * free per queued apply, not two). */
	struct rp__batch *q = malloc(sizeof(*q) + len);

	if (!q)
		return NULL;
	*q = *b;
	q->next = NULL;
	if (borrowed) {
		/* An apply without argument bytes has no items pointer. */
		if (len)
			memcpy(q + 1, b->items + (b->next_index - b->base_index) *
					       b->item_size, len);
		q->items = (const unsigned char *)(q + 1);
		q->base_index = b->next_index;
	}
	b->sink->ops->get(b->sink);
	q->sink_ops = b->sink->ops;
	return q;
}

static int enqueue(struct rp_pool *pool, const struct rp__batch *b,
		   bool borrowed)
{
	struct rp__batch *q = batch_dup(b, borrowed);

	if (!q)
		return -ENOMEM;
	if (pool->pending_tail)
		pool->pending_tail->next = q;
	else
		pool->pending_head = q;
	pool->pending_tail = q;
	note_pending(pool);
	/* Before the caller looks for free slots again (the top). */
	rp__fence_seq_cst();
	return 0;
}

/*
 * rp__dispatch_requeue - with submit_lock: queue a copy of b (items are
 * copied) at *at in the pending queue, a link of that queue, and return
 * the link after it for the next one, so that a run of chunks keeps its
 * order ahead of newer work.  Its chunks stay counted as unfinished.
 * Returns NULL when out of memory (nothing queued).
 */
struct rp__batch **rp__dispatch_requeue(struct rp_pool *pool,
					const struct rp__batch *b,
					struct rp__batch **at)
{
	struct rp__batch *q = batch_dup(b, true);

	if (!q)
		return NULL;
	/* Each of its chunks: a packed run went out as several. */
	atomic_fetch_add_explicit(&pool->counters.chunks_requeued,
				  rp__batch_chunks(q), memory_order_relaxed);
	q->next = *at;
	*at = q;
	if (!q->next)
		pool->pending_tail = q;
	note_pending(pool);
	return &q->next;
}

/*
 * rp__dispatch_submit - accept all of b's chunks or none.  The caller set
 * the sink up to expect rp__batch_chunks(b) chunks.  borrowed: b->items is
 * the caller's memory, valid only during this call.
 */
int rp__dispatch_submit(struct rp_pool *pool, const struct rp__batch *b_in,
			bool borrowed)
{
	struct rp__batch b = *b_in;
	uint64_t touched = 0;
	int err;

	pthread_mutex_lock(&pool->submit_lock);
	err = closed_code(atomic_load(&pool->state));
	if (err) {
		rp__submit_unlock(pool);
		return err;
	}
	atomic_fetch_add(&pool->unfinished, rp__batch_chunks(&b));
	pool->counters.tasks_submitted += b.end_index - b.next_index;
	if (!pool->pending_head || empty_queue(pool))
		while (b.next_index < b.end_index &&
		       (dispatch_one(pool, &b, &touched) == 0 ||
			(make_room(pool) && dispatch_one(pool, &b, &touched) == 0)))
			;
	publish_touched(pool, touched);
	if (b.next_index < b.end_index)
		pool->counters.pending_stalls++;
	err = b.next_index < b.end_index ? enqueue(pool, &b, borrowed) : 0;
	if (err < 0) {
		/* Too late to refuse: chunks went out.  Fail the rest. */
		struct rp_error why;

		rp__error_set(&why, err, -1, 0, "out of memory queueing the task");
		fail_batch_rest(pool, &b, &why);
	}
	dispatch_pending(pool);
	rp__submit_unlock(pool);
	return 0;
}

/* ---- cancelling and failing ------------------------------------------------- */

static uint32_t cancel_pending(struct rp_pool *pool, struct rp__sink *sink,
			       const struct rp_error *why)
{
	uint32_t n = 0;

	for (struct rp__batch *b = pool->pending_head; b; b = b->next)
		if (b->sink == sink)
			n += fail_batch_rest(pool, b, why);
	return n;
}

/*
 * A queued slot's chunks, now cancelled: one, or each packed one not yet
 * reported (none should be: a worker that reports items of a chunk it
 * left QUEUED lies, and they are not told twice).
 */
static uint32_t cancel_chunks(struct rp_pool *pool, struct rp__sink *sink,
			      const struct rp__slot *sl, struct rp_error *why)
{
	bool each = sl->flags & RP_TASK_EACH;
	uint32_t from = each ? sl->each_done : 0, n = each ? sl->nitems : 1;

	for (uint32_t i = from; i < n; i++) {
		why->index = (int64_t)(sl->first_index + i);
		RP_COUNT(pool, chunks_failed);
		sink->ops->chunk_failed(sink, sl->first_index + i,
					each ? 1 : sl->nitems, why);
		rp__chunk_finished(pool);
	}
	return n - from;
}

/*
 * Packed one-item chunks (RP_TASK_EACH) the worker is running: the items
 * it has not begun are as queued ones.  seq_cst CAS RUNNING -> CANCELED:
 * the worker looks before each item; those it runs first are reported as
 * usual, and its CANCELED record then names where it stopped (drain.c).
 */
static uint32_t cancel_each_rest(struct rp__worker *w, uint32_t s,
				 struct rp__slot *sl)
{
	uint32_t expected = RP_SLOT_RUNNING;

	if (!(sl->flags & RP_TASK_EACH) || sl->each_stop_asked ||
	    !atomic_compare_exchange_strong(&w->ctl->slot_state[s], &expected,
					    RP_SLOT_CANCELED))
		return 0;
	sl->each_stop_asked = true;
	return 1;
}

static uint32_t cancel_queued(struct rp_pool *pool, struct rp__sink *sink,
			      const struct rp_error *why_in)
{
	struct rp_error why = *why_in;
	uint32_t n = 0;

	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct rp__worker *w = &pool->workers[i];

		for (uint32_t s = 0; s < RP_SLOTS; s++) {
			struct rp__slot *sl = &w->slots[s];
			uint32_t expected = RP_SLOT_QUEUED;

			if (!atomic_load_explicit(&sl->busy, memory_order_acquire) ||
			    sl->sink != sink || atomic_load(&sl->canceled))
				continue;
			/* seq_cst CAS: pairs with the worker's QUEUED ->
			 * RUNNING in start_slot(); one of the two wins. */
			if (!atomic_compare_exchange_strong(&w->ctl->slot_state[s],
							    &expected,
							    RP_SLOT_CANCELED)) {
				n += cancel_each_rest(w, s, sl);
				continue;
			}
			/* Completed now; the worker's CANCELED record then
			 * only frees the slot (drain.c). */
			atomic_store(&sl->canceled, true);
			n += cancel_chunks(pool, sink, sl, &why);
		}
	}
	return n;
}

/*
 * Chunks of sink that a worker is running: kill that worker (its process
 * group too).  Its death, handled by the loop, fails them with
 * RP_ECANCELED, runs its unstarted chunks elsewhere and replaces it.
 */
static uint32_t cancel_running(struct rp_pool *pool, struct rp__sink *sink)
{
	uint32_t n = 0;

	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct rp__worker *w = &pool->workers[i];
		bool kill = false;

		for (uint32_t s = 0; s < RP_SLOTS; s++) {
			struct rp__slot *sl = &w->slots[s];

			/* A packed run whose rest was cancelled runs still. */
			if (!atomic_load_explicit(&sl->busy, memory_order_acquire) ||
			    sl->sink != sink || atomic_load(&sl->canceled) ||
			    (atomic_load(&w->ctl->slot_state[s]) != RP_SLOT_RUNNING &&
			     !sl->each_stop_asked))
				continue;
			atomic_store(&sl->kill_canceled, true);
			kill = true;
			n++;
		}
		if (kill) {
			atomic_store(&w->stopped, true);
			rp__worker_signal(w, SIGKILL);
		}
	}
	return n;
}

uint32_t rp__dispatch_cancel(struct rp_pool *pool, struct rp__sink *sink,
			     bool force)
{
	struct rp_error why;
	uint32_t n;

	rp__error_set(&why, RP_ECANCELED, -1, 0, "cancelled before it started");
	pthread_mutex_lock(&pool->submit_lock);
	/* drain_lock too (the order of rp__worker_replace): a drain changes
	 * what a packed run has reported, and reads each_stop_asked. */
	pthread_mutex_lock(&pool->drain_lock);
	n = cancel_pending(pool, sink, &why) + cancel_queued(pool, sink, &why);
	if (force)
		n += cancel_running(pool, sink);
	pthread_mutex_unlock(&pool->drain_lock);
	dispatch_pending(pool);
	rp__submit_unlock(pool);
	return n;
}

/* With submit_lock: fail everything still pending (terminate, broken). */
void rp__dispatch_fail_pending(struct rp_pool *pool, const struct rp_error *why)
{
	struct rp__batch *b;

	while ((b = pool->pending_head)) {
		pool->pending_head = b->next;
		fail_batch_rest(pool, b, why);
		batch_free(b);
	}
	pool->pending_tail = NULL;
	note_pending(pool);
}
