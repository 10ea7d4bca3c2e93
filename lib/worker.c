/* SPDX-License-Identifier: MIT */
/*
 * The worker's loop: pop a task, run it, push its result, and sleep when
 * there is nothing to do.
 *
 * Design: the worker is the consumer of its task ring and the producer of
 * its result ring, and nothing else writes either side's indices, so
 * neither needs a lock.  A task's arguments are read in place in the task
 * ring (released only after the task ran), and its results are written in
 * place into a reservation in the result ring: one copy in (by the owner)
 * and one out (by the owner), none here.  Payloads too big for one record
 * travel as FRAG records through a private buffer instead.
 *
 * Results are published after each task, so a task's result never waits
 * for the next one; the publish is one store, and a wake-up only when the
 * owner announced it sleeps.  Items packed into one record (RP_TASK_EACH)
 * are shown one by one, quietly, and the owner woken after the last.
 *
 * The worker trusts its task ring (the owner wrote it); a record it cannot
 * make sense of ends the worker with RP_WORKER_EXIT_PROTOCOL rather than
 * guessing.  slot_state is the one place it writes that the owner also
 * writes; see proto.h for the handshake.
 */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "crash.h"
#include "proto.h"
#include "ringpool.h"
#include "spawn.h"

struct rp_task_ctx {
	int64_t index;
	int worker;
	int code;
	uint32_t msg_len;
	bool len_set;
	uint64_t result_len;
	char msg[RP_ERROR_MESSAGE_MAX];
};

/* A failure staged while the result record is reserved. */
struct staged_fail {
	uint32_t item;
	int32_t code;
	uint32_t msg_len;
	char msg[RP_ERROR_MESSAGE_MAX];
};

struct worker {
	struct rp_worker_ctl *ctl;
	struct rp_ring_consumer tasks;
	struct rp_ring_producer results;
	uint64_t inline_max;
	uint64_t max_tasks;
	uint64_t done;
	int index;
	struct staged_fail *fails;
	uint32_t nfails, fails_cap;
	struct rp_task_rec last;  /* the last TASK record: TASK_NEXT repeats it */
	bool have_last;
	uint32_t last_slot;       /* of the chunk run last, < RP_SLOTS */
	uint32_t cpu_applied;     /* the last ctl->cpu_request acted on */
};

/* ---- the API a task calls ---------------------------------------------- */

RP_API int rp_task_fail(rp_task_ctx_t *ctx, int code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (code == 0)
		code = 1;
	if (!ctx)
		return code;
	ctx->code = code;
	va_start(ap, fmt);
	n = vsnprintf(ctx->msg, sizeof(ctx->msg), fmt, ap);
	va_end(ap);
	ctx->msg_len = n < 0 ? 0 : (uint32_t)n >= sizeof(ctx->msg) ?
					 sizeof(ctx->msg) - 1 : (uint32_t)n;
	return code;
}

RP_API void rp_task_set_result_len(rp_task_ctx_t *ctx, size_t len)
{
	if (ctx) {
		ctx->len_set = true;
		ctx->result_len = len;
	}
}

RP_API int64_t rp_task_index(const rp_task_ctx_t *ctx)
{
	return ctx ? ctx->index : -1;
}

RP_API int rp_task_worker(const rp_task_ctx_t *ctx)
{
	return ctx ? ctx->worker : -1;
}

/* ---- pushing results ----------------------------------------------------- */

/* ---- counters ---------------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* relaxed: single writer, and the reader only shows them. */
#define COUNTER_SET(w, field, v) \
	atomic_store_explicit(&(w)->ctl->counters.field, (v), memory_order_relaxed)
#define COUNTER_GET(w, field) \
	atomic_load_explicit(&(w)->ctl->counters.field, memory_order_relaxed)

/* Going to wait for work: close the busy stretch, publish the wake counts. */
static void note_idle(struct worker *w)
{
	uint64_t since = COUNTER_GET(w, busy_since);

	if (since)
		COUNTER_SET(w, busy_ns, COUNTER_GET(w, busy_ns) + mono_ns() - since);
	COUNTER_SET(w, busy_since, 0);
	COUNTER_SET(w, spins, w->tasks.wake.spins);
	COUNTER_SET(w, sleeps, w->tasks.wake.sleeps);
	COUNTER_SET(w, wakeups, w->results.wake.wakeups);
}

static void note_busy(struct worker *w)
{
	COUNTER_SET(w, busy_since, mono_ns());
}

/* ---- pushing results ----------------------------------------------------- */

/* Reserve room for a record, waiting (after publishing) while it is full. */
static void *reserve(struct worker *w, uint16_t kind, uint32_t len)
{
	void *p;
	int err;

	while ((err = rp__ring_reserve(&w->results, kind, len, &p)) == -ENOBUFS) {
		COUNTER_SET(w, stalls, COUNTER_GET(w, stalls) + 1);
		rp__ring_publish(&w->results);
		rp__ring_wait_writable(&w->results, len, -1);
	}
	if (err < 0)
		_exit(RP_WORKER_EXIT_PROTOCOL);
	return p;
}

static void push(struct worker *w, uint16_t kind, const void *head,
		 uint32_t head_len, const void *body, uint32_t body_len)
{
	unsigned char *p = reserve(w, kind, head_len + body_len);

	memcpy(p, head, head_len);
	if (body_len)
		memcpy(p + head_len, body, body_len);
	rp__ring_commit(&w->results, head_len + body_len);
}

static void push_fail(struct worker *w, uint16_t kind, uint32_t slot,
		      uint32_t item, int32_t code, const char *msg,
		      uint32_t msg_len)
{
	struct rp_fail_rec f = {
		.slot = slot, .item = item, .code = code, .msg_len = msg_len,
	};

	push(w, kind, &f, sizeof(f), msg, msg_len);
}

/* Big results go out in FRAG records, each as large as a record may be. */
static void push_frags(struct worker *w, uint32_t slot, const unsigned char *buf,
		       uint64_t len)
{
	uint64_t piece = w->inline_max - sizeof(struct rp_frag_rec);

	for (uint64_t off = 0; off < len; off += piece) {
		struct rp_frag_rec f = { .slot = slot, .offset = off };
		uint64_t n = len - off < piece ? len - off : piece;

		push(w, RP_REC_FRAG, &f, sizeof(f), buf + off, (uint32_t)n);
	}
}

static void stage_fail(struct worker *w, uint32_t item, const rp_task_ctx_t *ctx)
{
	struct staged_fail *f;

	if (w->nfails == w->fails_cap) {
		uint32_t cap = w->fails_cap ? w->fails_cap * 2 : 4;
		void *p = realloc(w->fails, cap * sizeof(*w->fails));

		if (!p)
			_exit(RP_WORKER_EXIT_NOMEM);
		w->fails = p;
		w->fails_cap = cap;
	}
	f = &w->fails[w->nfails++];
	f->item = item;
	f->code = ctx->code;
	f->msg_len = ctx->msg_len;
	memcpy(f->msg, ctx->msg, ctx->msg_len);
}

/* ---- taking tasks ---------------------------------------------------------- */

/*
 * The owner asked us to run on another CPU (placement.c): pin ourselves
 * there, between two records.  A CPU we may not use leaves us where we are.
 */
static void follow_cpu_request(struct worker *w)
{
	/* relaxed: a request, with no other data to go with it. */
	uint32_t req = atomic_load_explicit(&w->ctl->cpu_request,
					    memory_order_relaxed);
	cpu_set_t set;

	if (req == w->cpu_applied)
		return;
	w->cpu_applied = req;
	if (req == 0 || req > CPU_SETSIZE)
		return;
	CPU_ZERO(&set);
	CPU_SET(req - 1, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

/* The next task-ring record, waiting for one if needed. */
static void next_record(struct worker *w, struct rp_ring_rec *rec)
{
	int err;

	while ((err = rp__ring_peek(&w->tasks, rec)) == -EAGAIN) {
		rp__ring_release_publish(&w->tasks, &w->results);
		note_idle(w);
		rp__ring_wait_readable(&w->tasks, -1);
		/* The lines this chunk will write, fetched while its record
		 * is: the slot_state the owner set to QUEUED before
		 * publishing (likely on the line of the slot we ran last),
		 * and where its result goes.  Otherwise each is one more
		 * transfer from the owner's core after the record's. */
		__builtin_prefetch(&w->ctl->slot_state[w->last_slot], 1, 3);
		rp__ring_prefetch_write(&w->results);
		note_busy(w);
	}
	if (err < 0)
		_exit(RP_WORKER_EXIT_PROTOCOL);
	/* Before each record, not only when idle: a worker kept busy by a
	 * waiter on its CPU would otherwise not move until the work ran out.
	 * The request shares a line with our own counters, so this load
	 * mostly hits our cache. */
	follow_cpu_request(w);
}

/* Collect a big payload from the FRAG records that follow its task. */
static unsigned char *gather_frags(struct worker *w, uint32_t slot, uint64_t len)
{
	unsigned char *buf = malloc(len ? len : 1);
	uint64_t got = 0;

	if (!buf)
		_exit(RP_WORKER_EXIT_NOMEM);
	while (got < len) {
		struct rp_ring_rec rec;
		struct rp_frag_rec f;
		uint64_t n;

		next_record(w, &rec);
		if (rec.kind != RP_REC_FRAG || rec.len < sizeof(f))
			_exit(RP_WORKER_EXIT_PROTOCOL);
		memcpy(&f, rec.data, sizeof(f));
		n = rec.len - sizeof(f);
		if (f.slot != slot || f.offset != got || n > len - got)
			_exit(RP_WORKER_EXIT_PROTOCOL);
		memcpy(buf + got, (const unsigned char *)rec.data + sizeof(f), n);
		got += n;
		rp__ring_consume(&w->tasks);
		rp__ring_release(&w->tasks);
	}
	return buf;
}

static void ctx_reset(rp_task_ctx_t *ctx, const struct worker *w,
		      const struct rp_task_rec *t, uint32_t i)
{
	ctx->index = (t->flags & RP_TASK_APPLY) ? -1 :
		(int64_t)(t->first_index + i);
	ctx->worker = w->index;
	ctx->code = 0;
	ctx->msg_len = 0;
	ctx->len_set = false;
}

/* The task's return value is what counts: a code it set and then did
 * not return is dropped with its message. */
static void ctx_settle_code(rp_task_ctx_t *ctx, int rc)
{
	if (ctx->code != rc) {
		ctx->code = rc;
		ctx->msg_len = 0;
	}
}

/* Run every item; failures are staged, results land in out. */
static void run_items(struct worker *w, const struct rp_task_rec *t,
		      const unsigned char *items, unsigned char *out,
		      uint64_t *ret_len)
{
	rp_task_fn fn = (rp_task_fn)(uintptr_t)t->fn;
	rp_task_ctx_t ctx;

	*ret_len = (uint64_t)t->nitems * t->result_size;
	for (uint32_t i = 0; i < t->nitems; i++) {
		int rc;

		ctx_reset(&ctx, w, t, i);
		rc = fn(items + (uint64_t)i * t->item_size, t->item_size,
			out + (uint64_t)i * t->result_size, t->result_size, &ctx);
		if (rc != 0) {
			ctx_settle_code(&ctx, rc);
			stage_fail(w, i, &ctx);
		}
		if ((t->flags & RP_TASK_APPLY) && ctx.len_set &&
		    ctx.result_len < t->result_size)
			*ret_len = ctx.result_len;
	}
}

static void finish_fails(struct worker *w, uint32_t slot)
{
	for (uint32_t i = 0; i < w->nfails; i++) {
		struct staged_fail *f = &w->fails[i];

		push_fail(w, RP_REC_FAIL, slot, f->item, f->code, f->msg,
			  f->msg_len);
	}
	w->nfails = 0;
}

/* Results fit one record: written in place, no copy. */
static void run_inline(struct worker *w, const struct rp_task_rec *t,
		       const unsigned char *items, uint64_t out_len)
{
	struct rp_result_rec r = { .slot = t->slot };
	unsigned char *p = reserve(w, RP_REC_RESULT, sizeof(r) + out_len);

	run_items(w, t, items, p + sizeof(r), &r.result_len);
	r.nfail = w->nfails;
	memcpy(p, &r, sizeof(r));
	rp__ring_commit(&w->results, (uint32_t)(sizeof(r) + r.result_len));
	finish_fails(w, t->slot);
}

/* A map chunk's results, all of them: the short header (proto.h). */
static void run_full(struct worker *w, const struct rp_task_rec *t,
		     const unsigned char *items, uint64_t out_len)
{
	struct rp_result_full_rec r = { .slot = t->slot };
	unsigned char *p = reserve(w, RP_REC_RESULT_FULL, sizeof(r) + out_len);
	uint64_t len;

	run_items(w, t, items, p + sizeof(r), &len);
	r.nfail = w->nfails;
	memcpy(p, &r, sizeof(r));
	rp__ring_commit(&w->results, (uint32_t)(sizeof(r) + out_len));
	finish_fails(w, t->slot);
}

static void run_big(struct worker *w, const struct rp_task_rec *t,
		    const unsigned char *items, uint64_t out_len)
{
	struct rp_result_rec r = { .slot = t->slot, .flags = RP_RESULT_BIG };
	unsigned char *out = malloc(out_len ? out_len : 1);

	if (!out)
		_exit(RP_WORKER_EXIT_NOMEM);
	run_items(w, t, items, out, &r.result_len);
	push_frags(w, t->slot, out, r.result_len);
	free(out);
	r.nfail = w->nfails;
	push(w, RP_REC_RESULT, &r, sizeof(r), NULL, 0);
	finish_fails(w, t->slot);
}

/* relaxed: the owner reads it only after our death (proto.h). */
static void note_each_started(struct worker *w, uint32_t slot, uint32_t n)
{
	atomic_store_explicit(&w->ctl->each_started, (uint64_t)slot << 32 | n,
			      memory_order_relaxed);
}

/*
 * The owner cancelled the rest of the RP_TASK_EACH chunk we run (its
 * slot moved from RUNNING to CANCELED).  relaxed: a request, with no
 * data to go with it; an item begun before we see it runs to its end.
 */
static bool each_cancelled(const struct worker *w, uint32_t slot)
{
	return atomic_load_explicit(&w->ctl->slot_state[slot],
				    memory_order_relaxed) == RP_SLOT_CANCELED;
}

/*
 * An RP_TASK_EACH chunk: every item a task of its own (proto.h).  Its
 * result is written in place and shown before the next item starts, so
 * that what a death leaves in the ring is exactly the items that ended.
 * Shown quietly: the owner, if asleep, is woken once, by the publication
 * after the last item (run_task), as for any chunk.  Items not begun when
 * the owner cancels the rest never run: a CANCELED RESULT says where we
 * stopped.
 */
static void run_each(struct worker *w, const struct rp_task_rec *t,
		     const unsigned char *items)
{
	rp_task_fn fn = (rp_task_fn)(uintptr_t)t->fn;
	uint32_t len = (uint32_t)(sizeof(struct rp_result_item_rec) +
				  t->result_size);
	rp_task_ctx_t ctx;

	/* No item begun yet: the note may be left from this slot's last use. */
	note_each_started(w, t->slot, 0);
	for (uint32_t i = 0; i < t->nitems; i++) {
		struct rp_result_item_rec r = { .slot = t->slot, .item = i };
		unsigned char *p;
		int rc;

		if (i && each_cancelled(w, t->slot)) {
			struct rp_result_rec stop = {
				.slot = t->slot, .flags = RP_RESULT_CANCELED,
				.result_len = i,
			};

			push(w, RP_REC_RESULT, &stop, sizeof(stop), NULL, 0);
			return;
		}
		p = reserve(w, RP_REC_RESULT_ITEM, len);
		if (i)
			rp__ring_publish_quiet(&w->results);
		ctx_reset(&ctx, w, t, i);
		note_each_started(w, t->slot, i + 1);
		rc = fn(items + (uint64_t)i * t->item_size, t->item_size,
			p + sizeof(r), t->result_size, &ctx);
		if (rc == 0) {
			memcpy(p, &r, sizeof(r));
			rp__ring_commit(&w->results, len);
			continue;
		}
		rp__ring_abort(&w->results);
		ctx_settle_code(&ctx, rc);
		push_fail(w, RP_REC_FAIL, t->slot, i, ctx.code, ctx.msg,
			  ctx.msg_len);
	}
}

static bool start_slot(struct worker *w, uint32_t slot)
{
	uint32_t expected = RP_SLOT_QUEUED;

	/* seq_cst CAS: pairs with the owner's CAS QUEUED -> CANCELED in
	 * rp_result_cancel; exactly one of them succeeds. */
	return atomic_compare_exchange_strong_explicit(
		&w->ctl->slot_state[slot], &expected, RP_SLOT_RUNNING,
		memory_order_seq_cst, memory_order_seq_cst);
}

/* For the owner's deadline: written before the slot shows RUNNING, so the
 * owner that sees RUNNING and run_slot == slot (acquire) sees the time. */
static void note_start(struct worker *w, uint32_t slot)
{
	atomic_store_explicit(&w->ctl->run_start_ns, mono_ns(),
			      memory_order_relaxed);
	atomic_store_explicit(&w->ctl->run_slot, slot, memory_order_release);
}

/*
 * The chunk a task record describes, and where its inline items start: a
 * TASK in full, or a TASK_NEXT on top of the last TASK.
 */
static void parse_task(struct worker *w, const struct rp_ring_rec *rec,
		       struct rp_task_rec *t, const unsigned char **items,
		       uint64_t *inline_len)
{
	const unsigned char *data = rec->data;
	struct rp_task_next_rec n;

	if (rec->kind == RP_REC_TASK) {
		if (rec->len < sizeof(*t))
			_exit(RP_WORKER_EXIT_PROTOCOL);
		memcpy(t, data, sizeof(*t));
		w->last = *t;
		w->have_last = true;
		*items = data + sizeof(*t);
		*inline_len = rec->len - sizeof(*t);
		return;
	}
	if (!w->have_last || rec->len < sizeof(n) ||
	    (w->last.flags & RP_TASK_BIG))
		_exit(RP_WORKER_EXIT_PROTOCOL);
	memcpy(&n, data, sizeof(n));
	*t = w->last;
	t->first_index = n.first_index;
	t->slot = n.slot;
	t->nitems = n.nitems;
	*items = data + sizeof(n);
	*inline_len = rec->len - sizeof(n);
}

static void run_task(struct worker *w, const struct rp_ring_rec *rec)
{
	const unsigned char *items;
	unsigned char *big_items = NULL;
	struct rp_task_rec t;
	uint64_t in_len, out_len, inline_len;

	parse_task(w, rec, &t, &items, &inline_len);
	in_len = (uint64_t)t.nitems * t.item_size;
	out_len = (uint64_t)t.nitems * t.result_size;
	if (t.slot >= RP_SLOTS || t.nitems == 0 ||
	    (!(t.flags & RP_TASK_BIG) && inline_len < in_len))
		_exit(RP_WORKER_EXIT_PROTOCOL);
	rp__ring_consume(&w->tasks);
	w->last_slot = t.slot;
	if (t.flags & RP_TASK_BIG)
		items = big_items = gather_frags(w, t.slot, in_len);

	if (t.flags & RP_TASK_TIMED)
		note_start(w, t.slot);
	COUNTER_SET(w, chunks, COUNTER_GET(w, chunks) + 1);
	COUNTER_SET(w, items, COUNTER_GET(w, items) + t.nitems);
	if (!start_slot(w, t.slot)) {
		struct rp_result_rec r = { .slot = t.slot,
					   .flags = RP_RESULT_CANCELED };

		push(w, RP_REC_RESULT, &r, sizeof(r), NULL, 0);
	} else if (t.flags & RP_TASK_EACH) {
		run_each(w, &t, items);
	} else if (!(t.flags & RP_TASK_APPLY) &&
		   out_len <= w->inline_max - sizeof(struct rp_result_full_rec)) {
		run_full(w, &t, items, out_len);
	} else if (out_len <= w->inline_max - sizeof(struct rp_result_rec)) {
		run_inline(w, &t, items, out_len);
	} else {
		run_big(w, &t, items, out_len);
	}
	free(big_items);
	/* Give the task's record back before its result is visible: once the
	 * owner has the result it may reuse the slot, and a record still in
	 * the ring could then be mistaken for the new chunk of that slot if
	 * we died (workers.c, requeue). */
	rp__ring_release_publish(&w->tasks, &w->results);
}

/* ---- life ----------------------------------------------------------------- */

static void unmap_others(const struct rp_worker_args *a,
			 const struct rp_region_ref *regions)
{
	for (uint32_t i = 0; i < a->nworkers; i++)
		if (i != a->index)
			munmap((void *)(uintptr_t)regions[i].addr,
			       regions[i].size);
}

static int open_rings(struct worker *w, const struct rp_worker_args *a,
		      const struct rp_region_ref *mine)
{
	unsigned char *base = (unsigned char *)(uintptr_t)mine->addr;
	size_t ring_bytes = rp__ring_bytes((uint32_t)a->ring_capacity);

	w->ctl = (struct rp_worker_ctl *)base;
	w->index = (int)a->index;
	w->max_tasks = a->max_tasks;
	w->inline_max = rp__proto_inline_max(a->ring_capacity);
	if (rp__ring_consumer_open(base + RP_WORKER_CTL_BYTES, ring_bytes,
				   RP_REC_KIND_MAX, &w->tasks) < 0 ||
	    rp__ring_producer_open(base + RP_WORKER_CTL_BYTES + ring_bytes,
				   ring_bytes, &w->results) < 0)
		return -EBADMSG;
	rp__wake_set_symmetric(&w->tasks.wake);
	rp__wake_set_symmetric(&w->results.wake);
	rp__wake_set_policy(&w->tasks.wake, a->wait_policy);
	rp__wake_set_policy(&w->results.wake, a->wait_policy);
	if (a->wake_efd) {
		/* Without it the owner's loop would never hear of results. */
		if (rp__spawn_passed_fd() < 0)
			return -EBADF;
		rp__wake_set_eventfds(&w->results.wake, -1,
				      rp__spawn_passed_fd());
	}
	return 0;
}

static int run_initializer(struct worker *w, const struct rp_worker_args *a,
			   const void *initarg)
{
	rp_init_fn init = (rp_init_fn)(uintptr_t)a->init_fn;
	rp_task_ctx_t ctx = { .index = -1, .worker = w->index };
	int rc = 0;

	if (init) {
		/* relaxed: the owner reads it only once we are dead, should
		 * we die before we report (proto.h). */
		atomic_store_explicit(&w->ctl->init_begun, 1,
				      memory_order_relaxed);
		rc = init(a->initarg_len ? initarg : NULL, a->initarg_len, &ctx);
		if (rc != 0 && ctx.code != rc) {
			ctx.code = rc;
			ctx.msg_len = 0;
		}
	}
	push_fail(w, RP_REC_INIT, 0, 0, rc, ctx.msg, rc ? ctx.msg_len : 0);
	rp__ring_publish(&w->results);
	return rc;
}

int rp__worker_main(void *payload, size_t len)
{
	struct rp_worker_args a;
	const struct rp_region_ref *regions;
	struct worker w = { 0 };

	memcpy(&a, payload, sizeof(a));
	regions = (const struct rp_region_ref *)((char *)payload + sizeof(a));
	/* A process group of its own: the owner can end whatever a task
	 * started with the worker, and so does the owner's death (spawn.c);
	 * a terminal's Ctrl-C (sent to the foreground group) reaches the
	 * owner only, which decides.  A task that moves a child to another
	 * group (setsid, setpgid) takes it out of both. */
	if (setpgid(0, 0) == 0)
		rp__child_watch_group();
	if (open_rings(&w, &a, &regions[a.index]) < 0)
		return RP_WORKER_EXIT_PROTOCOL;
	/* Before the others' regions go: its stack mapping must not land
	 * where one of them was (that address stays unmapped in us). */
	rp__crash_handler_install(w.ctl);
	unmap_others(&a, regions);
	note_busy(&w);
	if (run_initializer(&w, &a, regions + a.nworkers) != 0)
		return RP_WORKER_EXIT_INIT;

	for (;;) {
		struct rp_ring_rec rec;

		next_record(&w, &rec);
		if (rec.kind == RP_REC_EXIT)
			break;
		if (rec.kind != RP_REC_TASK && rec.kind != RP_REC_TASK_NEXT)
			_exit(RP_WORKER_EXIT_PROTOCOL);
		run_task(&w, &rec);
		if (w.max_tasks && ++w.done >= w.max_tasks)
			break;
	}
	rp__ring_publish(&w.results);
	free(w.fails);
	return RP_WORKER_EXIT_OK;
}
