/* SPDX-License-Identifier: MIT */
/*
 * The owner's side of a pool, shared by its modules:
 *   pool.c      life cycle and the public submit calls
 *   dispatch.c  turning calls into chunks and chunks into task records
 *   drain.c     reading result rings and completing chunks
 *   loop.c      the io_uring thread: wake-ups, worker deaths, respawns
 *   callback.c  the thread that runs user callbacks
 *   result.c    rp_result_t; iter.c rp_iter_t (both are "sinks")
 *
 * Locks, always taken in this order when nested:
 *   submit_lock   the task rings' producer side, slot allocation, the
 *                 pending queue, worker replacement;
 *   drain_lock    the result rings' consumer side and completing slots.
 * A thread blocked while holding submit_lock (a big payload waiting for
 * ring space) never needs drain_lock to make progress: the loop thread
 * drains without submit_lock.  Sinks have their own small locks, taken
 * last.
 */
#ifndef RP_POOL_H
#define RP_POOL_H

#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"
#include "ringpool.h"
#include "shm.h"
#include "zygote.h"

/*
 * Starts a group of fields on a line of its own.  The submitting thread
 * and a draining thread (often the loop thread) run at once on different
 * cores: fields one of them writes per chunk must not share a line with
 * fields the other writes or reads per chunk, or each access waits for a
 * cache-line transfer.  The structs holding such groups are allocated
 * with rp__zalloc_lines().
 */
#define RP_LINE_ALIGNED __attribute__((aligned(64)))

/*
 * The owner's per-thread state.  initial-exec: an access is one load off
 * the thread pointer, where the default model for position-independent
 * code calls __tls_get_addr each time (1% of a pipelined submit, by
 * perf).  The library's few bytes fit the static TLS space glibc keeps
 * for libraries opened later with dlopen.
 */
#define RP_THREAD_LOCAL _Thread_local __attribute__((tls_model("initial-exec")))

/*
 * memcpy, with the 8-byte case inline: a one-item chunk of a map of
 * 64-bit values copies 8 bytes in and 8 out, where a call to the general
 * memcpy cost the loop thread ~3% of its time (perf).
 */
static inline void rp__copy(void *dst, const void *src, size_t len)
{
	if (len == sizeof(uint64_t))
		memcpy(dst, src, sizeof(uint64_t));
	else
		memcpy(dst, src, len);
}

/* Zeroed, aligned to a cache line; freed with rp__free_lines(). */
void *rp__zalloc_lines(size_t n, size_t size);
void rp__free_lines(void *mem);

struct rp_pool;
struct rp__slot;
struct loop_state;

/* ---- sinks: where a chunk's results and errors go ------------------------ */

struct rp__sink;

/*
 * A result or an iterator.  The completion calls come under drain_lock, or
 * under submit_lock for chunks failed or cancelled before a worker ran
 * them: a sink must cope with both at once.
 */
struct rp__sink_ops {
	/* Where the results of items [first_index, +nitems) go. */
	unsigned char *(*dest)(struct rp__sink *s, uint64_t first_index,
			       uint32_t nitems);
	/* The chunk's results are in place at dest (result_len bytes); its
	 * failed items were reported with item_failed before. */
	void (*chunk_done)(struct rp__sink *s, uint64_t first_index,
			   uint32_t nitems, uint64_t result_len);
	/* Optional, for chunks not of an apply: n chunks done, as chunk_done
	 * says, told once per drain pass (drain.c) instead of once each.  A
	 * sink with it stays alive until they are told. */
	void (*chunks_done)(struct rp__sink *s, uint64_t n);
	/* One item of a chunk failed (code, message, worker, index). */
	void (*item_failed)(struct rp__sink *s, const struct rp_error *err);
	/* The whole chunk failed without results (worker died, terminated,
	 * cancelled); err->index is its first item's index. */
	void (*chunk_failed)(struct rp__sink *s, uint64_t first_index,
			     uint32_t nitems, const struct rp_error *err);
	/* References: one per pending batch and per chunk in flight. */
	void (*get)(struct rp__sink *s);
	void (*put)(struct rp__sink *s);
};

struct rp__sink {
	const struct rp__sink_ops *ops;
};

/* ---- batches and slots ------------------------------------------------- */

/* A call's deadline and retries (rp_submit_opts), and the runs so far. */
struct rp__limits {
	int64_t timeout_ns;         /* 0: none */
	int64_t grace_ns;           /* SIGTERM to SIGKILL on expiry */
	uint32_t retries;           /* runs allowed after a worker death */
	uint32_t attempt;           /* runs that ended in a worker's death */
};

/*
 * A run of items [next_index, end_index) of one call, cut into chunks of
 * chunksize as workers take them.  items points at the item of base_index.
 */
struct rp__batch {
	struct rp__batch *next;     /* pending queue */
	struct rp__sink *sink;
	const struct rp__sink_ops *sink_ops; /* queued batches: sink->ops */
	rp_task_fn fn;
	const unsigned char *items;
	uint64_t base_index;
	uint64_t next_index;
	uint64_t end_index;
	uint64_t chunksize;
	uint64_t item_size;
	uint32_t flags;             /* RP_TASK_APPLY (never RP_TASK_EACH) */
	uint64_t result_size;       /* per item */
	struct rp__limits limits;
};

/* The owner's record of a chunk a worker holds. */
struct rp__slot {
	_Atomic bool busy;          /* release after the fields below are set */
	_Atomic bool canceled;      /* completed by rp_result_cancel already */
	_Atomic bool kill_canceled; /* its worker was killed to cancel it */
	bool got_result;            /* RESULT seen, FAIL records to come */
	bool each_stop_asked;       /* RP_TASK_EACH: the owner cancelled the
				     * items not begun (RUNNING -> CANCELED) */
	uint32_t fails_left;
	uint32_t each_done;         /* RP_TASK_EACH: items reported so far */
	uint32_t nitems;
	uint32_t flags;
	uint64_t first_index;
	uint64_t result_size;
	uint64_t big_received;      /* FRAG bytes received so far */
	uint64_t result_len;
	uint64_t item_size;
	rp_task_fn fn;
	struct rp__sink *sink;
	/* The sink's ops, read while it surely lived: a result sink may be
	 * gone once the chunk is reported (a cancelled chunk is reported
	 * before its slot settles), and put must then not touch it. */
	const struct rp__sink_ops *sink_ops;
	unsigned char *dest;
	/* Deadlines (deadline.c; the loop thread, under drain_lock). */
	struct rp__limits limits;
	int64_t sent_ns;            /* when it was written to the ring */
	int64_t started_ns;         /* 0 until seen RUNNING */
	int64_t term_ns;            /* SIGTERM sent at, 0 if not */
	bool killed;                /* SIGKILL sent */
	_Atomic bool timed_out;     /* its deadline passed while it ran */
};

struct rp__worker {
	/* Set when it is (re)started; read by everyone. */
	unsigned index;
	struct rp_shm region;
	struct rp_worker_ctl *ctl;
	void *task_mem, *result_mem;
	size_t ring_bytes;
	pid_t pid;
	int pidfd;                        /* -1 when none */
	/* Where IORING_OP_FUTEX_WAIT is missing: the eventfd the loop reads
	 * for this worker's result ring and the worker writes (passed to
	 * each process of this worker in turn); -1 otherwise. */
	int wake_efd;
	_Atomic int cpu;                  /* pinned to; -1 when not pinned */
	_Atomic bool dead;                /* set by the loop before replacing */
	_Atomic bool corrupt;             /* its result ring failed checks */
	_Atomic bool init_seen;
	_Atomic bool stopped;             /* the pool killed it on purpose
					   * (deadline, forced cancel) */
	_Atomic uint32_t timed;           /* its busy slots with a deadline */

	/* The submit side: written under submit_lock. */
	struct rp_ring_producer tasks RP_LINE_ALIGNED;
	/* Chunks sent (submit_lock) and settled (drain_lock): each has one
	 * writer at a time, so no locked instruction per chunk; their
	 * difference is the chunks it holds (rp__worker_load).  A packed run
	 * (RP_TASK_EACH) counts as its items, all held until it ends. */
	_Atomic uint32_t chunks_sent;
	uint32_t slot_cursor;             /* the word allocation looks at first */
	uint64_t dispatched;              /* tasks sent to this process */
	/* The last TASK record written into the task ring since it was
	 * (re)made; later chunks like it go as TASK_NEXT. */
	struct rp_task_rec last_sent;
	bool have_last_sent;
	bool retiring;                    /* max_tasks reached: no more */
	/* Slot s is free when bit s % 64 of word s / 64 is equal in both:
	 * the allocator flips it in slot_taken (submit_lock), whoever settles
	 * flips it back in slot_given (drain_lock).  One writer each: no
	 * locked instruction. */
	uint64_t slot_taken[RP_SLOTS / 64];
	/* slot_given as the allocator last read it: a slot free there is
	 * free (only its allocator takes it), so the drain side's line is
	 * read again only when a word looks full (slot_alloc). */
	uint64_t given_seen[RP_SLOTS / 64];

	/* The drain side: written under drain_lock. */
	struct rp_ring_consumer results RP_LINE_ALIGNED;
	_Atomic uint32_t chunks_settled;
	_Atomic uint64_t slot_given[RP_SLOTS / 64];

	struct rp__slot slots[RP_SLOTS] RP_LINE_ALIGNED;
};

enum rp__pool_state {
	RP_POOL_OPEN,
	RP_POOL_CLOSED,
	RP_POOL_TERMINATED,
	RP_POOL_BROKEN,     /* the restart budget was spent, a respawned
			     * worker's initializer failed, or no
			     * replacement could be started */
};

struct rp_pool {
	unsigned nworkers;
	struct rp__worker *workers;
	uint64_t ring_capacity;
	uint64_t inline_max;
	uint64_t max_tasks;
	uint32_t max_queued;              /* chunks a worker may hold */
	int64_t grace_ns;
	enum rp_start_method method;
	enum rp_wake_policy wait_policy;  /* resolved from the options */
	bool pin;
	cpu_set_t cpus;                   /* where workers go (placement.c) */
	unsigned ncpus;                   /* how many CPUs cpus holds */
	_Atomic int64_t last_move_ns;     /* a worker was last moved then */
	_Atomic int64_t move_interval_ns; /* until the next move may be */
	rp_init_fn init_fn;
	void *initarg;
	size_t initarg_len;
	struct rp__zygote *zygote;        /* replaced under submit_lock */
	pid_t owner;

	_Atomic int state;                /* enum rp__pool_state */

	/* The submit side (see RP_LINE_ALIGNED). */
	pthread_mutex_t submit_lock RP_LINE_ALIGNED;
	struct rp__batch *pending_head, *pending_tail; /* submit_lock */
	struct rp__worker **order;        /* submit_lock: dispatch scratch */

	/* The drain side. */
	pthread_mutex_t drain_lock RP_LINE_ALIGNED;
	uint64_t settled_unflushed;       /* drain_lock: settled, not yet
					   * taken off unfinished (drain.c) */
	/* drain_lock: chunks done for one sink, not yet told (chunks_done) */
	struct rp__sink *done_sink;
	const struct rp__sink_ops *done_ops;
	uint64_t done_unflushed;

	/* Written by both sides. */
	_Atomic int dispatch_wanted RP_LINE_ALIGNED;
	_Atomic bool pending_nonempty;    /* the pending queue holds a batch
					   * (set under submit_lock) */
	_Atomic uint64_t unfinished;      /* chunks not yet completed */
	_Atomic uint32_t progress;        /* futex: bumped when unfinished hits 0
					   * and when workers finish starting */
	_Atomic uint32_t progress_waiters; /* threads in rp__progress_wait */
	/* The first initializer failure, or while the pool starts, the first
	 * worker death before its initializer reported (workers.c). */
	struct rp_error init_error;
	_Atomic int init_failed;          /* init_error is set */
	_Atomic bool starting;            /* rp_pool_create has not returned */
	struct rp_error broken_error;     /* why the pool broke, if it did */
	/* The restart budget (loop thread only): the times of the last
	 * max_failures failures, oldest at failure_pos. */
	uint32_t max_failures;            /* 0: no limit */
	int64_t failure_window_ns;
	int64_t *failure_times;
	uint32_t failure_pos;
	uint64_t failures;

	struct rp__counters {
		/* under submit_lock */
		uint64_t tasks_submitted RP_LINE_ALIGNED;
		uint64_t chunks_sent, pending_stalls;
		/* under drain_lock */
		uint64_t chunks_completed RP_LINE_ALIGNED;
		/* from anywhere, and rare: relaxed atomics */
		_Atomic uint64_t chunks_failed RP_LINE_ALIGNED;
		_Atomic uint64_t chunks_requeued, respawns, deadline_kills,
			loop_wakeups, worker_moves, zygote_restarts;
	} counters;

	/* The loop thread. */
	pthread_t loop_thread;
	bool loop_running;
	struct io_uring uring;
	int ctl_efd;                      /* wakes the loop: stop or re-arm */
	struct loop_state *loop_state;
	_Atomic int64_t last_help_ns;     /* a waiter drained at this time */
	_Atomic int64_t deadline_next;    /* the loop looks at deadlines then;
					   * INT64_MAX: none pending */
	bool loop_sliced;                 /* waits in slices (valgrind) */
	_Atomic bool loop_stop;

	/* The callback thread. */
	pthread_t cb_thread;
	bool cb_inited;                   /* cb_lock and cb_cond exist */
	_Atomic bool cb_running;          /* the thread was started */
	pthread_mutex_t cb_lock;
	pthread_cond_t cb_cond;
	struct rp_result *cb_head, *cb_tail;
	bool cb_busy;
	bool cb_stop;

	bool stopping;                    /* join: workers told to exit (submit_lock) */
	bool closed_broken;               /* close() was called on a broken pool */
	bool joined;
};

/* Under drain_lock: the slot's chunk is settled, the slot free for reuse. */
static inline void rp__slot_mark_free(struct rp__worker *w,
				      const struct rp__slot *sl)
{
	uint32_t s = (uint32_t)(sl - w->slots);
	_Atomic uint64_t *word = &w->slot_given[s / 64];
	uint32_t settled = atomic_load_explicit(&w->chunks_settled,
						memory_order_relaxed);
	/* Packed one-item chunks (RP_TASK_EACH) count one each, as sent.
	 * Read before the slot is given back: it may be refilled then. */
	uint32_t chunks = (sl->flags & RP_TASK_EACH) ? sl->nitems : 1;

	/* relaxed load, release store: this thread is the only writer; the
	 * allocator's acquire then sees the settlement complete. */
	atomic_store_explicit(word, atomic_load_explicit(word, memory_order_relaxed) ^
			      (1ull << (s % 64)), memory_order_release);
	atomic_store_explicit(&w->chunks_settled, settled + chunks,
			      memory_order_relaxed);
}

/* Chunks w holds: sent and not settled (a snapshot, for balancing). */
static inline uint32_t rp__worker_load(const struct rp__worker *w)
{
	return atomic_load_explicit(&w->chunks_sent, memory_order_relaxed) -
	       atomic_load_explicit(&w->chunks_settled, memory_order_relaxed);
}

/* A rare event's counter (struct rp__counters, the atomic ones). */
#define RP_COUNT(pool, field) \
	atomic_fetch_add_explicit(&(pool)->counters.field, 1, memory_order_relaxed)

/* placement.c */
/* A waiter this long on a worker's CPU asks the worker to move. */
#define RP_PLACEMENT_WAIT_NS 10000
/* ... and asks again this much later if the pool's lock was busy. */
#define RP_PLACEMENT_RETRY_NS 2000
/* Moves of a pool's workers are this far apart at least, twice as far
 * after each move that follows the last within the longest. */
#define RP_PLACEMENT_INTERVAL_NS 1000000
#define RP_PLACEMENT_INTERVAL_MAX_NS 1000000000
void rp__placement_init(struct rp_pool *pool);
int rp__placement_cpu(const struct rp_pool *pool, unsigned index);
int rp__placement_worker_cpu(const struct rp_pool *pool,
			     const struct rp__worker *w);
int64_t rp__placement_check(struct rp_pool *pool, int64_t now);

/* dispatch.c */
uint64_t rp__batch_chunks(const struct rp__batch *b);
uint64_t rp__chunk_size_auto(const struct rp_pool *pool, uint64_t n);
uint64_t rp__chunk_fit(const struct rp_pool *pool, uint64_t chunksize,
		       uint64_t n, uint64_t item_size, uint64_t result_size);
int rp__dispatch_submit(struct rp_pool *pool, const struct rp__batch *b,
			bool borrowed);
void rp__dispatch_kick(struct rp_pool *pool);
void rp__submit_unlock(struct rp_pool *pool);
uint32_t rp__dispatch_cancel(struct rp_pool *pool, struct rp__sink *sink,
			     bool force);
void rp__dispatch_fail_pending(struct rp_pool *pool, const struct rp_error *why);
struct rp__batch **rp__dispatch_requeue(struct rp_pool *pool,
					const struct rp__batch *b,
					struct rp__batch **at);

/* A waiter that drained within this long counts as draining now. */
#define RP_HELP_ACTIVE_NS 100000
#define RP_HELP_NOTE_NS 10000
/* How long the loop sleeps while waiters drain: they poke it when they
 * stop (rp__drain_help_done), so this only bounds a missed poke.  Short
 * slices would wake it into the waiter's and the worker's cores. */
#define RP_HELP_SLICE_NS 10000000

/* drain.c */
void rp__drain_all(struct rp_pool *pool);
void rp__drain_help(struct rp_pool *pool, int64_t now);
void rp__drain_help_done(struct rp_pool *pool);
void rp__progress_wake(struct rp_pool *pool);
void rp__progress_wait(struct rp_pool *pool, uint32_t seen, int64_t deadline);
void rp__drain_worker(struct rp_pool *pool, struct rp__worker *w);
void rp__fail_slots(struct rp_pool *pool, struct rp__worker *w,
		    const struct rp_error *why, const struct rp_error *unstarted);
void rp__chunk_finished(struct rp_pool *pool);
void rp__slot_release(struct rp__worker *w, struct rp__slot *sl);
bool rp__slot_each_died(struct rp_pool *pool, struct rp__worker *w,
			struct rp__slot *sl, const struct rp_error *why);
void rp__worker_mark_corrupt(struct rp__worker *w);

/* loop.c */
int rp__loop_start(struct rp_pool *pool);
void rp__loop_stop(struct rp_pool *pool);
void rp__loop_poke(struct rp_pool *pool);
void rp__loop_free(struct rp_pool *pool);

/* deadline.c */
void rp__deadline_sent(struct rp_pool *pool, struct rp__worker *w,
		       struct rp__slot *sl);
void rp__deadline_settled(struct rp__worker *w, struct rp__slot *sl);
int64_t rp__deadline_check(struct rp_pool *pool, int64_t now);
void rp__deadline_error(const struct rp__slot *sl, pid_t pid,
			struct rp_error *e);

/* workers.c */
int rp__workers_setup(struct rp_pool *pool);
int rp__workers_start_zygote(struct rp_pool *pool);
int rp__worker_spawn(struct rp_pool *pool, struct rp__worker *w);
int rp__workers_spawn_all(struct rp_pool *pool);
void rp__worker_replace(struct rp_pool *pool, struct rp__worker *w);
void rp__workers_fork_advice(struct rp_pool *pool, int advice);
void rp__worker_signal(struct rp__worker *w, int sig);
int rp__workers_wait_started(struct rp_pool *pool);
void rp__workers_teardown(struct rp_pool *pool);

/* callback.c */
void rp__callbacks_init(struct rp_pool *pool);
/* Starts the callback thread if it is not running: 0 or -errno. */
int rp__callbacks_need(struct rp_pool *pool);
void rp__callbacks_queue(struct rp_pool *pool, struct rp_result *res);
int rp__callbacks_idle_wait(struct rp_pool *pool, int64_t deadline);
void rp__callbacks_stop(struct rp_pool *pool);

/* result.c */
/* map: item_size bytes per item's result; else apply (one result, which
 * may come back shorter than cap), item_size 0. */
struct rp_result *rp__result_new(struct rp_pool *pool, size_t cap, bool map,
				 uint64_t item_size, unsigned char *external,
				 const struct rp_submit_opts *opts,
				 uint64_t nchunks);
void rp__result_run_callback(struct rp_result *res);
void rp__result_put(struct rp_result *res);
void rp__result_discard(struct rp_result *res);
struct rp__sink *rp__result_sink(struct rp_result *res);
bool rp__result_is_live(struct rp_result *res);
/* The callback queue's link: only once the result is complete (it shares
 * a word with the count of chunks still out). */
void rp__result_chain_set(struct rp_result *res, struct rp_result *next);
struct rp_result *rp__result_chain_next(struct rp_result *res);

/* An error record with code and optional printf message. */
void rp__error_set(struct rp_error *e, int code, int64_t index, pid_t pid,
		   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
