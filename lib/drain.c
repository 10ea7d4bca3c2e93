/* SPDX-License-Identifier: MIT */
/*
 * Draining result rings: the owner's consumer side, under drain_lock.
 *
 * Everything here reads memory a worker wrote, and a worker runs arbitrary
 * tasks that may scribble on it.  The ring layer checks record framing;
 * this file checks meaning: every slot number, length, offset, count and
 * kind is compared with what the owner itself recorded when it sent the
 * chunk (struct rp__slot, private memory), and bytes are copied only within
 * the destination the owner chose.  A worker that fails a check is marked
 * corrupt and killed; its death (loop.c) fails the chunks it held with
 * RP_ECORRUPT and replaces it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "pool.h"
#include "sys.h"

/*
 * progress is bumped each time the pool runs out of work, which for a
 * caller doing one rp_apply at a time is after every task: the system
 * call is made only when someone sleeps on it (a joiner, a starting
 * pool), by a Dekker handshake with rp__progress_wait.  Either the
 * waker's load of progress_waiters sees the waiter, or the waiter's
 * futex_wait sees progress moved from the value it read before checking.
 * All four accesses are seq_cst.
 */
void rp__progress_wake(struct rp_pool *pool)
{
	atomic_fetch_add(&pool->progress, 1);
	if (atomic_load(&pool->progress_waiters))
		rp__sys_futex_wake_private(&pool->progress);
}

/* Sleep while progress is seen, up to deadline (-1: none). */
void rp__progress_wait(struct rp_pool *pool, uint32_t seen, int64_t deadline)
{
	atomic_fetch_add(&pool->progress_waiters, 1);
	rp__sys_futex_wait_private(&pool->progress, seen, deadline);
	atomic_fetch_sub(&pool->progress_waiters, 1);
}

static void chunks_finished(struct rp_pool *pool, uint64_t n)
{
	if (n && atomic_fetch_sub(&pool->unfinished, n) == n)
		rp__progress_wake(pool);
}

void rp__chunk_finished(struct rp_pool *pool)
{
	chunks_finished(pool, 1);
}

/*
 * Under drain_lock: chunks settled since the last flush leave `unfinished`
 * in one locked subtraction per drain pass rather than one per chunk (the
 * submitting thread adds to the same line).  Flushed before drain_lock is
 * given up, so a joiner never waits on a stale count.
 */
static void settled_flush(struct rp_pool *pool)
{
	uint64_t n = pool->settled_unflushed;

	if (pool->done_unflushed) {
		pool->done_ops->chunks_done(pool->done_sink,
					    pool->done_unflushed);
		pool->done_unflushed = 0;
		pool->done_sink = NULL;
	}
	pool->settled_unflushed = 0;
	chunks_finished(pool, n);
}

/*
 * A map's chunks come back in runs for one sink, and telling it of each
 * is a locked subtraction per chunk (its count of chunks left): a run is
 * told at once, at the end of the drain pass or when another sink's chunk
 * comes between.
 */
static void chunk_done_later(struct rp_pool *pool, struct rp__sink *sink,
			     const struct rp__sink_ops *ops)
{
	if (pool->done_unflushed && pool->done_sink != sink) {
		pool->done_ops->chunks_done(pool->done_sink,
					    pool->done_unflushed);
		pool->done_unflushed = 0;
	}
	pool->done_sink = sink;
	pool->done_ops = ops;
	pool->done_unflushed++;
}

/* What a chunk that failed as a whole (why) reports, given how it ended. */
static void slot_error(const struct rp__worker *w, const struct rp__slot *sl,
		       const struct rp_error *why, struct rp_error *e)
{
	*e = *why;
	if (atomic_load(&sl->kill_canceled)) {
		e->code = RP_ECANCELED;
		snprintf(e->message, sizeof(e->message),
			 "cancelled while running: worker %d was killed",
			 (int)w->pid);
	} else if (why->code == RP_EWORKER_DIED && atomic_load(&sl->timed_out)) {
		rp__deadline_error(sl, w->pid, e);
	} else if (why->code == RP_EWORKER_DIED) {
		size_t n = strlen(e->message);

		e->attempts = sl->limits.attempt + 1;
		if (sl->limits.retries)
			snprintf(e->message + n, sizeof(e->message) - n,
				 " (run %u of %u)", e->attempts,
				 sl->limits.retries + 1);
	}
}

/* The next n items of an RP_TASK_EACH chunk fail with e, each told as the
 * one-item chunk it stands for.  The slot stays taken. */
static void fail_items(struct rp_pool *pool, struct rp__slot *sl,
		       struct rp_error *e, uint32_t n)
{
	for (uint32_t i = 0; i < n && sl->each_done < sl->nitems; i++) {
		e->index = (int64_t)(sl->first_index + sl->each_done++);
		RP_COUNT(pool, chunks_failed);
		sl->sink_ops->chunk_failed(sl->sink, (uint64_t)e->index, 1, e);
		pool->settled_unflushed++;
	}
}

/* The next n items of an RP_TASK_EACH chunk end as a chunk failed whole
 * with why would (slot_error): they had begun, or the worker is gone. */
static void slot_fail_items(struct rp_pool *pool, struct rp__worker *w,
			    struct rp__slot *sl, const struct rp_error *why,
			    uint32_t n)
{
	struct rp_error e;

	slot_error(w, sl, why, &e);
	fail_items(pool, sl, &e, n);
}

/* The items of an RP_TASK_EACH chunk not reported never began, and the
 * owner cancelled them: told so, and the slot goes back. */
static void slot_cancel_rest(struct rp_pool *pool, struct rp__worker *w,
			     struct rp__slot *sl)
{
	struct rp_error e;

	rp__error_set(&e, RP_ECANCELED, -1, 0, "cancelled before it started");
	fail_items(pool, sl, &e, sl->nitems - sl->each_done);
	rp__slot_release(w, sl);
}

/*
 * Items of the dead worker's RP_TASK_EACH chunk in sl that it began and
 * did not report, from its note (proto.h): one, the item it was running,
 * unless its ring broke off earlier (corrupt).  None if it never started
 * the chunk: the note is then from the slot's last use.
 */
static uint32_t each_begun(struct rp__worker *w, const struct rp__slot *sl)
{
	uint32_t s = (uint32_t)(sl - w->slots);
	/* relaxed: the worker is dead, and its stores were all made. */
	uint64_t note = atomic_load_explicit(&w->ctl->each_started,
					     memory_order_relaxed);
	uint32_t begun = (uint32_t)note;

	if (atomic_load(&w->ctl->slot_state[s]) == RP_SLOT_QUEUED ||
	    note >> 32 != s || begun <= sl->each_done)
		return 0;
	return begun - sl->each_done < sl->nitems - sl->each_done ?
		       begun - sl->each_done : sl->nitems - sl->each_done;
}

/*
 * The dead worker w's RP_TASK_EACH chunk in sl: the items it began and did
 * not report fail as a running chunk would (why).  Returns true when the
 * call had cancelled the rest: they are told so and the slot goes back.
 * Otherwise false: the items from sl->each_done on never began, and are
 * the caller's to run again or fail.
 */
bool rp__slot_each_died(struct rp_pool *pool, struct rp__worker *w,
			struct rp__slot *sl, const struct rp_error *why)
{
	slot_fail_items(pool, w, sl, why, each_begun(w, sl));
	if (atomic_load(&sl->kill_canceled) || sl->each_stop_asked) {
		slot_cancel_rest(pool, w, sl);
		return true;
	}
	return false;
}

/*
 * Give the slot back, then tell the sink: the worker counts as less loaded
 * before anyone can see the chunk complete, so a caller that submits next
 * finds it idle.  The slot's fields are copied first, since the slot may be
 * reused the moment it is marked free.  A packed run's items that had not
 * ended fail one by one instead (its worker is gone).
 */
static void settle_slot(struct rp_pool *pool, struct rp__worker *w,
			struct rp__slot *sl, const struct rp_error *why)
{
	struct rp__sink *sink = sl->sink;
	const struct rp__sink_ops *ops = sl->sink_ops;
	uint64_t first = sl->first_index, len = sl->result_len;
	uint32_t n = sl->nitems;
	bool apply = sl->flags & RP_TASK_APPLY;
	bool report = !atomic_load(&sl->canceled);

	struct rp_error e;

	/* Packed items: each told as the chunk it stands for, then the slot
	 * goes back (the worker is gone: no one to see it less loaded). */
	if (report && why && (sl->flags & RP_TASK_EACH)) {
		slot_fail_items(pool, w, sl, why, n);
		rp__slot_release(w, sl);
		return;
	}
	if (report && why)
		slot_error(w, sl, why, &e);
	rp__deadline_settled(w, sl);
	atomic_store_explicit(&sl->busy, false, memory_order_release);
	rp__slot_mark_free(w, sl);
	if (report && why) {
		RP_COUNT(pool, chunks_failed);
		e.index = apply ? -1 : (int64_t)first;
		ops->chunk_failed(sink, first, n, &e);
	} else if (report) {
		pool->counters.chunks_completed++;
		if (ops->chunks_done && !apply)
			chunk_done_later(pool, sink, ops);
		else
			ops->chunk_done(sink, first, n, len);
	}
	if (report)
		pool->settled_unflushed++;
	ops->put(sink);
}

/* Give a slot back without reporting its chunk (it was queued again, or
 * each of its items was told on its own). */
void rp__slot_release(struct rp__worker *w, struct rp__slot *sl)
{
	struct rp__sink *sink = sl->sink;
	const struct rp__sink_ops *ops = sl->sink_ops;

	/* Both read first: a drain holds only drain_lock, and the slot may
	 * be taken again the moment it is marked free. */
	rp__deadline_settled(w, sl);
	atomic_store_explicit(&sl->busy, false, memory_order_release);
	rp__slot_mark_free(w, sl);
	ops->put(sink);
}

static void finish_slot(struct rp_pool *pool, struct rp__worker *w,
			struct rp__slot *sl)
{
	settle_slot(pool, w, sl, NULL);
}

/* Its shared memory broke a check: kill it; its death settles the rest. */
void rp__worker_mark_corrupt(struct rp__worker *w)
{
	if (!atomic_exchange(&w->corrupt, true) && w->pidfd >= 0)
		rp__sys_pidfd_send_signal(w->pidfd, w->pid, SIGKILL);
}

static int corrupt(struct rp__worker *w)
{
	rp__worker_mark_corrupt(w);
	return -EBADMSG;
}

/* The slot a record names, if it is one the owner has out. */
static struct rp__slot *slot_of(struct rp__worker *w, uint32_t slot)
{
	struct rp__slot *sl;

	if (slot >= RP_SLOTS)
		return NULL;
	sl = &w->slots[slot];
	/* acquire: pairs with the release in write_chunk(). */
	return atomic_load_explicit(&sl->busy, memory_order_acquire) ? sl : NULL;
}

static int on_frag(struct rp__worker *w, const struct rp_ring_rec *rec)
{
	struct rp_frag_rec f;
	struct rp__slot *sl;
	uint64_t n, cap;

	if (rec->len < sizeof(f))
		return corrupt(w);
	memcpy(&f, rec->data, sizeof(f));
	n = rec->len - sizeof(f);
	sl = slot_of(w, f.slot);
	if (!sl || sl->got_result || atomic_load(&sl->canceled) ||
	    (sl->flags & RP_TASK_EACH))
		return corrupt(w);
	cap = (uint64_t)sl->nitems * sl->result_size;
	if (f.offset != sl->big_received || n > cap - sl->big_received)
		return corrupt(w);
	memcpy(sl->dest + f.offset, (const unsigned char *)rec->data + sizeof(f),
	       n);
	sl->big_received += n;
	return 0;
}

/* The result length a RESULT record may claim for this slot. */
static bool length_ok(const struct rp__slot *sl, uint64_t len)
{
	uint64_t full = (uint64_t)sl->nitems * sl->result_size;

	return (sl->flags & RP_TASK_APPLY) ? len <= full : len == full;
}

/*
 * A checked RESULT: its bytes (NULL when FRAG records brought them) into
 * the owner's destination; the chunk is done unless FAIL records follow.
 */
static void accept_result(struct rp_pool *pool, struct rp__worker *w,
			  struct rp__slot *sl, const unsigned char *bytes,
			  uint64_t len, uint32_t nfail)
{
	if (bytes)
		rp__copy(sl->dest, bytes, len);
	sl->result_len = len;
	sl->got_result = true;
	sl->fails_left = nfail;
	if (nfail == 0)
		finish_slot(pool, w, sl);
}

/*
 * A CANCELED RESULT: only a chunk the owner cancelled comes back unrun.
 * Cancelled before it started, it was reported then; the rest of an
 * RP_TASK_EACH chunk cancelled while it ran is reported now, from the
 * first item the worker did not run, which must be the next one due.
 */
static int on_cancelled(struct rp_pool *pool, struct rp__worker *w,
			struct rp__slot *sl, const struct rp_result_rec *r,
			uint64_t body)
{
	if (body != 0)
		return corrupt(w);
	if (atomic_load(&sl->canceled)) {
		settle_slot(pool, w, sl, NULL);
		return 0;
	}
	if (!(sl->flags & RP_TASK_EACH) || !sl->each_stop_asked ||
	    r->result_len != sl->each_done || sl->each_done >= sl->nitems)
		return corrupt(w);
	slot_cancel_rest(pool, w, sl);
	return 0;
}

static int on_result(struct rp_pool *pool, struct rp__worker *w,
		     const struct rp_ring_rec *rec)
{
	struct rp_result_rec r;
	struct rp__slot *sl;
	uint64_t body;

	if (rec->len < sizeof(r))
		return corrupt(w);
	memcpy(&r, rec->data, sizeof(r));
	body = rec->len - sizeof(r);
	sl = slot_of(w, r.slot);
	if (!sl || sl->got_result)
		return corrupt(w);
	if (r.flags & RP_RESULT_CANCELED)
		return on_cancelled(pool, w, sl, &r, body);
	if (atomic_load(&sl->canceled) || (sl->flags & RP_TASK_EACH) ||
	    !length_ok(sl, r.result_len) ||
	    r.nfail > sl->nitems ||
	    ((r.flags & RP_RESULT_BIG) ? body != 0 ||
					 sl->big_received != r.result_len :
					 body != r.result_len))
		return corrupt(w);
	accept_result(pool, w, sl, (r.flags & RP_RESULT_BIG) ? NULL :
			(const unsigned char *)rec->data + sizeof(r),
		      r.result_len, r.nfail);
	return 0;
}

/*
 * One item of an RP_TASK_EACH chunk ended (its result in place, or its
 * failure told): told as the one-item chunk it stands for, and the slot
 * goes back after the last.
 */
static void each_item_done(struct rp_pool *pool, struct rp__worker *w,
			   struct rp__slot *sl)
{
	pool->counters.chunks_completed++;
	if (sl->sink_ops->chunks_done)
		chunk_done_later(pool, sl->sink, sl->sink_ops);
	else
		sl->sink_ops->chunk_done(sl->sink,
					 sl->first_index + sl->each_done, 1,
					 sl->result_size);
	pool->settled_unflushed++;
	if (++sl->each_done == sl->nitems)
		rp__slot_release(w, sl);
}

/* The slot of an RP_TASK_EACH chunk whose next item is `item`. */
static struct rp__slot *each_slot_of(struct rp__worker *w, uint32_t slot,
				     uint32_t item)
{
	struct rp__slot *sl = slot_of(w, slot);

	if (!sl || !(sl->flags & RP_TASK_EACH) || atomic_load(&sl->canceled) ||
	    item != sl->each_done)
		return NULL;
	return sl;
}

static int on_result_item(struct rp_pool *pool, struct rp__worker *w,
			  const struct rp_ring_rec *rec)
{
	struct rp_result_item_rec r;
	struct rp__slot *sl;

	if (rec->len < sizeof(r))
		return corrupt(w);
	memcpy(&r, rec->data, sizeof(r));
	sl = each_slot_of(w, r.slot, r.item);
	if (!sl || rec->len - sizeof(r) != sl->result_size)
		return corrupt(w);
	rp__copy(sl->dest + (uint64_t)r.item * sl->result_size,
		 (const unsigned char *)rec->data + sizeof(r), sl->result_size);
	each_item_done(pool, w, sl);
	return 0;
}

/* A map chunk's results in full, with the short header (proto.h). */
static int on_result_full(struct rp_pool *pool, struct rp__worker *w,
			  const struct rp_ring_rec *rec)
{
	struct rp_result_full_rec r;
	struct rp__slot *sl;
	uint64_t full;

	if (rec->len < sizeof(r))
		return corrupt(w);
	memcpy(&r, rec->data, sizeof(r));
	sl = slot_of(w, r.slot);
	if (!sl || sl->got_result || atomic_load(&sl->canceled) ||
	    (sl->flags & (RP_TASK_APPLY | RP_TASK_EACH)) || r.nfail > sl->nitems)
		return corrupt(w);
	full = (uint64_t)sl->nitems * sl->result_size;
	if (rec->len - sizeof(r) != full)
		return corrupt(w);
	accept_result(pool, w, sl, (const unsigned char *)rec->data + sizeof(r),
		      full, r.nfail);
	return 0;
}

static int on_fail(struct rp_pool *pool, struct rp__worker *w,
		   const struct rp_ring_rec *rec)
{
	struct rp_fail_rec f;
	struct rp__slot *sl;
	struct rp_error err;

	if (rec->len < sizeof(f))
		return corrupt(w);
	memcpy(&f, rec->data, sizeof(f));
	if (f.msg_len >= RP_ERROR_MESSAGE_MAX ||
	    f.msg_len > rec->len - sizeof(f) || f.code == 0)
		return corrupt(w);
	sl = slot_of(w, f.slot);
	/* An RP_TASK_EACH item's failure is its only record; any other
	 * chunk's follow its RESULT. */
	if (sl && (sl->flags & RP_TASK_EACH))
		sl = each_slot_of(w, f.slot, f.item);
	else if (sl && (!sl->got_result || sl->fails_left == 0 ||
			f.item >= sl->nitems))
		sl = NULL;
	if (!sl)
		return corrupt(w);
	rp__error_set(&err, RP_ETASK,
		      (sl->flags & RP_TASK_APPLY) ? -1 :
						    (int64_t)(sl->first_index + f.item),
		      w->pid, NULL);
	err.task_code = f.code;
	memcpy(err.message, (const unsigned char *)rec->data + sizeof(f),
	       f.msg_len);
	err.message[f.msg_len] = '\0';
	sl->sink_ops->item_failed(sl->sink, &err);
	if (sl->flags & RP_TASK_EACH)
		each_item_done(pool, w, sl);
	else if (--sl->fails_left == 0)
		finish_slot(pool, w, sl);
	return 0;
}

/* The initializer's outcome: the first record a worker writes. */
static int on_init(struct rp_pool *pool, struct rp__worker *w,
		   const struct rp_ring_rec *rec)
{
	struct rp_fail_rec f;

	if (rec->len < sizeof(f) || atomic_load(&w->init_seen))
		return corrupt(w);
	memcpy(&f, rec->data, sizeof(f));
	if (f.msg_len >= RP_ERROR_MESSAGE_MAX || f.msg_len > rec->len - sizeof(f))
		return corrupt(w);
	/* drain_lock makes us the only writer: the record is filled, then
	 * the flag set (seq_cst store, so a release), as rp_pool_create
	 * reads the record as soon as it sees the flag. */
	if (f.code != 0 && !atomic_load(&pool->init_failed)) {
		struct rp_error *e = &pool->init_error;

		rp__error_set(e, RP_EINIT, -1, w->pid, NULL);
		e->task_code = f.code;
		memcpy(e->message, (const unsigned char *)rec->data + sizeof(f),
		       f.msg_len);
		e->message[f.msg_len] = '\0';
		atomic_store(&pool->init_failed, 1);
	}
	atomic_store(&w->init_seen, true);
	rp__progress_wake(pool);
	return 0;
}

static int on_record(struct rp_pool *pool, struct rp__worker *w,
		     const struct rp_ring_rec *rec)
{
	switch (rec->kind) {
	case RP_REC_RESULT:
		return on_result(pool, w, rec);
	case RP_REC_RESULT_FULL:
		return on_result_full(pool, w, rec);
	case RP_REC_RESULT_ITEM:
		return on_result_item(pool, w, rec);
	case RP_REC_FAIL:
		return on_fail(pool, w, rec);
	case RP_REC_FRAG:
		return on_frag(w, rec);
	case RP_REC_INIT:
		return on_init(pool, w, rec);
	default:
		return corrupt(w);
	}
}

void rp__drain_worker(struct rp_pool *pool, struct rp__worker *w)
{
	struct rp_ring_rec rec;
	int err;

	if (atomic_load(&w->corrupt))
		return;
	while ((err = rp__ring_peek(&w->results, &rec)) == 0) {
		if (on_record(pool, w, &rec) < 0)
			break;
		rp__ring_consume(&w->results);
	}
	if (err == -EBADMSG)
		corrupt(w);
	if (err != 0)
		rp__ring_release(&w->results);
	settled_flush(pool);
}

void rp__drain_all(struct rp_pool *pool)
{
	for (unsigned i = 0; i < pool->nworkers; i++)
		rp__drain_worker(pool, &pool->workers[i]);
}

/*
 * A thread waiting for a result lends a hand: if nobody is draining, it
 * drains, so the result reaches it without a hand-over.  Never blocks.
 * It also notes the time, so the loop thread keeps out of its way (loop.c).
 */
/*
 * Whether some result ring holds records nobody took yet, from the shared
 * indices alone (no lock): a drainer releases what it consumed before it
 * lets go of drain_lock, so tail != head means work, or a drain under way.
 * The region's address and the ring size never change, unlike the
 * consumer handles, which a replacement reopens under the locks.
 */
static bool results_waiting(const struct rp_pool *pool)
{
	size_t off = RP_WORKER_CTL_BYTES +
		     rp__ring_bytes((uint32_t)pool->ring_capacity);

	for (unsigned i = 0; i < pool->nworkers; i++) {
		const struct rp_ring_shared *sh = (const struct rp_ring_shared *)
			((const unsigned char *)pool->workers[i].region.addr + off);

		/* acquire: a record seen here is drained with its bytes. */
		uint64_t head = atomic_load_explicit(&sh->head,
						     memory_order_relaxed);

		if (atomic_load_explicit(&sh->tail, memory_order_acquire) != head) {
			/* Its first record's line, on its way while we take
			 * the lock: only a hint, so the head need not be
			 * exact (it is ours, released after each drain). */
			__builtin_prefetch((const unsigned char *)(sh + 1) +
					   (head & (pool->ring_capacity - 1)));
			return true;
		}
	}
	return false;
}

void rp__drain_help(struct rp_pool *pool, int64_t now)
{
	/* relaxed: a hint; one store per RP_HELP_NOTE_NS keeps the line quiet. */
	if (now - atomic_load_explicit(&pool->last_help_ns, memory_order_relaxed) >
	    RP_HELP_NOTE_NS)
		atomic_store_explicit(&pool->last_help_ns, now, memory_order_relaxed);
	/* Cheap polling: the lock and a pass over every ring only when a
	 * ring has something (a spinning waiter comes here every ~20 ns). */
	if ((!results_waiting(pool) && !atomic_load_explicit(&pool->dispatch_wanted,
							     memory_order_relaxed)) ||
	    pthread_mutex_trylock(&pool->drain_lock) != 0)
		return;
	rp__drain_all(pool);
	pthread_mutex_unlock(&pool->drain_lock);
	rp__dispatch_kick(pool);
}

/*
 * A waiter stops draining (it is about to sleep): the loop thread must
 * take over at once rather than at the end of its slice.
 */
void rp__drain_help_done(struct rp_pool *pool)
{
	atomic_store_explicit(&pool->last_help_ns, 0, memory_order_relaxed);
	rp__loop_poke(pool);
}

/*
 * A chunk of the dead worker w that runs no more: it fails with why, but
 * with unstarted, if given, where w never began it: a chunk whose slot is
 * still QUEUED, the items of a packed run after the one it was running.
 * The slot states are w's to write: a lie changes only how w's own chunks
 * fail.
 */
static void fail_slot(struct rp_pool *pool, struct rp__worker *w,
		      struct rp__slot *sl, const struct rp_error *why,
		      const struct rp_error *unstarted)
{
	uint32_t s = (uint32_t)(sl - w->slots);

	if (!unstarted || atomic_load(&sl->canceled))
		settle_slot(pool, w, sl, why);
	else if (!(sl->flags & RP_TASK_EACH))
		settle_slot(pool, w, sl,
			    atomic_load(&w->ctl->slot_state[s]) == RP_SLOT_QUEUED ?
				    unstarted : why);
	else if (!rp__slot_each_died(pool, w, sl, why))
		settle_slot(pool, w, sl, unstarted); /* the items not begun */
}

/*
 * With both locks: every chunk w still holds fails, as fail_slot() says.
 * Only the slots taken are looked at (neither bitmap changes under both
 * locks): a pass over all of them would fault in every page of a mostly
 * unused array, at each worker's end.
 */
void rp__fail_slots(struct rp_pool *pool, struct rp__worker *w,
		    const struct rp_error *why, const struct rp_error *unstarted)
{
	for (uint32_t k = 0; k < RP_SLOTS / 64; k++) {
		/* A copy: settling flips bits of slot_given. */
		uint64_t out = w->slot_taken[k] ^
			       atomic_load_explicit(&w->slot_given[k],
						    memory_order_relaxed);

		for (; out; out &= out - 1) {
			struct rp__slot *sl =
				&w->slots[k * 64 + (uint32_t)__builtin_ctzll(out)];

			if (atomic_load_explicit(&sl->busy, memory_order_acquire))
				fail_slot(pool, w, sl, why, unstarted);
		}
	}
	settled_flush(pool);
}
