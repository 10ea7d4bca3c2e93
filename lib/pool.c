/* SPDX-License-Identifier: MIT */
/*
 * The Pool's public calls: life cycle (create, close, terminate, join,
 * destroy) and the blocking and async submit calls, which build a batch
 * and hand it to dispatch.c.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crash.h"
#include "pool.h"
#include "sys.h"

#define DEFAULT_RING_BYTES (256u * 1024)
#define MIN_RING_BYTES 4096u
#define MAX_RING_BYTES (1u << 30)
#define DEFAULT_GRACE_NS 1000000000
#define DEFAULT_FAILURES_PER_WORKER 10
#define DEFAULT_FAILURE_WINDOW_NS (10 * (int64_t)1000000000)

/* ---- create ------------------------------------------------------------- */

static int check_pool_opts(const struct rp_pool_opts *o)
{
	size_t rb = o->ring_bytes;

	if (rb && (rb < MIN_RING_BYTES || rb > MAX_RING_BYTES || (rb & (rb - 1))))
		return -EINVAL;
	if (o->initarg_len && !o->initarg)
		return -EINVAL;
	if (o->start_method != RP_START_DEFAULT &&
	    o->start_method != RP_START_FORKSERVER &&
	    o->start_method != RP_START_FORK)
		return -EINVAL;
	if (o->terminate_grace_ns < 0 || o->failure_window_ns < 0 ||
	    o->nworkers > 4096 || (unsigned)o->wait_policy > RP_WAIT_SLEEP ||
	    o->max_queued > RP_MAX_QUEUED)
		return -EINVAL;
	return 0;
}

/* RP_WAIT_AUTO resolved: yield when the caller shares a core (see header). */
static enum rp_wake_policy wake_policy(enum rp_wait_policy p, unsigned nworkers)
{
	switch (p) {
	case RP_WAIT_SPIN:
		return RP_WAKE_SPIN;
	case RP_WAIT_YIELD:
		return RP_WAKE_YIELD;
	case RP_WAIT_SLEEP:
		return RP_WAKE_SLEEP;
	default:
		return nworkers >= (unsigned)rp_cpu_count() ? RP_WAKE_YIELD :
							      RP_WAKE_SPIN;
	}
}

static int copy_opts(struct rp_pool *pool, const struct rp_pool_opts *o)
{
	pool->nworkers = o->nworkers ? o->nworkers : (unsigned)rp_cpu_count();
	pool->ring_capacity = o->ring_bytes ? o->ring_bytes : DEFAULT_RING_BYTES;
	pool->inline_max = rp__proto_inline_max(pool->ring_capacity);
	pool->max_tasks = o->max_tasks_per_worker;
	pool->max_queued = o->max_queued ? o->max_queued : RP_MAX_QUEUED;
	pool->grace_ns = o->terminate_grace_ns ? o->terminate_grace_ns :
						 DEFAULT_GRACE_NS;
	pool->method = o->start_method == RP_START_FORK ? RP_START_FORK :
							  RP_START_FORKSERVER;
	pool->pin = !o->no_pinning;
	rp__placement_init(pool);
	pool->wait_policy = wake_policy(o->wait_policy, pool->nworkers);
	pool->init_fn = o->initializer;
	pool->initarg_len = o->initarg_len;
	if (o->initarg_len) {
		pool->initarg = malloc(o->initarg_len);
		if (!pool->initarg)
			return -ENOMEM;
		memcpy(pool->initarg, o->initarg, o->initarg_len);
	}
	pool->max_failures = o->max_worker_failures == RP_NO_LIMIT ? 0 :
		o->max_worker_failures ? o->max_worker_failures :
		DEFAULT_FAILURES_PER_WORKER * pool->nworkers;
	pool->failure_window_ns = o->failure_window_ns ? o->failure_window_ns :
							 DEFAULT_FAILURE_WINDOW_NS;
	if (pool->max_failures) {
		pool->failure_times = calloc(pool->max_failures,
					     sizeof(*pool->failure_times));
		if (!pool->failure_times)
			return -ENOMEM;
	}
	pool->order = calloc(pool->nworkers, sizeof(*pool->order));
	return pool->order ? 0 : -ENOMEM;
}

/*
 * Blocks from this size on are mapped straight from the kernel, as fresh
 * zero pages faulted in only where used: a worker's slots make ~580 KiB,
 * of which a pool with little work touches a few lines.  calloc alone
 * does not ensure it: once such a block is freed, glibc raises its mmap
 * threshold above it, and the next pool's calloc comes from the heap and
 * is memset, all of it at once (after a fork, a write fault per page):
 * ~70 us of a 2-worker pool's start, with 1024 slots per worker.
 */
#define ZALLOC_MAP_MIN ((size_t)64 * 1024)

/*
 * The line before the returned address holds how the block was got: the
 * calloc'ed pointer, or the mapping's length (the mapping starts there).
 */
struct zalloc_header {
	void *block;        /* from calloc, or NULL */
	size_t mapped;      /* the mapping's length, or 0 */
};

void *rp__zalloc_lines(size_t n, size_t size)
{
	struct zalloc_header h = { NULL, 0 };
	size_t bytes;
	unsigned char *p;
	uintptr_t at;

	if (__builtin_mul_overflow(n, size, &bytes) ||
	    bytes > SIZE_MAX - 2 * 64 - sizeof(h))
		return NULL;
	if (bytes >= ZALLOC_MAP_MIN) {
		h.mapped = bytes + 64;
		p = mmap(NULL, h.mapped, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			return NULL;
		at = (uintptr_t)p + 64;
	} else {
		p = calloc(1, bytes + 64 + sizeof(h));
		if (!p)
			return NULL;
		h.block = p;
		at = ((uintptr_t)p + sizeof(h) + 63) & ~(uintptr_t)63;
	}
	memcpy((void *)(at - sizeof(h)), &h, sizeof(h));
	return (void *)at;
}

void rp__free_lines(void *mem)
{
	struct zalloc_header h;

	if (!mem)
		return;
	memcpy(&h, (unsigned char *)mem - sizeof(h), sizeof(h));
	if (h.mapped)
		munmap((unsigned char *)mem - 64, h.mapped);
	else
		free(h.block);
}

static struct rp_pool *pool_alloc(void)
{
	struct rp_pool *pool = rp__zalloc_lines(1, sizeof(*pool));

	if (!pool)
		return NULL;
	pthread_mutex_init(&pool->submit_lock, NULL);
	pthread_mutex_init(&pool->drain_lock, NULL);
	pool->owner = getpid();
	pool->ctl_efd = -1;
	atomic_init(&pool->deadline_next, INT64_MAX);
	atomic_init(&pool->state, RP_POOL_OPEN);
	atomic_init(&pool->starting, true);
	return pool;
}

static int start_zygote(struct rp_pool *pool)
{
	if (pool->method != RP_START_FORKSERVER)
		return 0;
	return rp__workers_start_zygote(pool);
}

static int start_workers(struct rp_pool *pool)
{
	if (pool->method == RP_START_FORK)
		rp__workers_fork_advice(pool, MADV_DONTFORK);
	return rp__workers_spawn_all(pool);
}

/*
 * The loop thread, which alone respawns, is stopped: the zygote is no
 * longer needed, and its exit overlaps the workers' instead of following
 * it in destroy.
 */
static void stop_respawning(struct rp_pool *pool)
{
	rp__loop_stop(pool);
	rp__zygote_release(pool->zygote);
}

RP_API int rp_pool_create(const struct rp_pool_opts *opts, rp_pool_t **ret_pool)
{
	struct rp_pool *pool;
	int err;

	if (!opts || !ret_pool)
		return -EINVAL;
	err = check_pool_opts(opts);
	if (err < 0)
		return err;
	pool = pool_alloc();
	if (!pool)
		return -ENOMEM;
	err = copy_opts(pool, opts);
	rp__crash_preload();
	if (err == 0)
		err = rp__workers_setup(pool);
	if (err == 0)
		err = start_zygote(pool);
	if (err == 0)
		rp__callbacks_init(pool);
	if (err == 0)
		err = start_workers(pool);
	if (err == 0)
		err = rp__loop_start(pool);
	if (err == 0)
		err = rp__workers_wait_started(pool);
	atomic_store(&pool->starting, false);
	if (err < 0) {
		if ((err == RP_EINIT || err == RP_EWORKER_DIED) &&
		    opts->init_error)
			*opts->init_error = pool->init_error;
		rp_pool_destroy(pool);
		return err;
	}
	*ret_pool = pool;
	return 0;
}

RP_API int rp_pool_size(const rp_pool_t *pool)
{
	return pool ? (int)pool->nworkers : -EINVAL;
}

/* ---- close, terminate, join, destroy ------------------------------------- */

RP_API int rp_pool_close(rp_pool_t *pool)
{
	int open = RP_POOL_OPEN;

	if (!pool)
		return -EINVAL;
	if (atomic_compare_exchange_strong(&pool->state, &open, RP_POOL_CLOSED))
		return 0;
	/* A broken pool may still be closed, once. */
	if (open == RP_POOL_BROKEN && !pool->closed_broken) {
		pool->closed_broken = true;
		return 0;
	}
	return -EALREADY;
}

static void signal_workers(struct rp_pool *pool, int sig)
{
	for (unsigned i = 0; i < pool->nworkers; i++)
		rp__worker_signal(&pool->workers[i], sig);
}

/* Wait for every worker's end (until deadline, < 0: none); 0 or -ETIMEDOUT. */
static int wait_workers_gone(struct rp_pool *pool, int64_t deadline)
{
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct rp__worker *w = &pool->workers[i];
		int64_t left = deadline < 0 ? -1 : deadline - rp__now_ns();

		if (w->pidfd < 0)
			continue;
		if (deadline >= 0 && left < 0)
			left = 0;
		if (rp__sys_wait_readable(w->pidfd, left) == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

static void reap_all(struct rp_pool *pool)
{
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct rp__worker *w = &pool->workers[i];
		int code;

		if (w->pidfd < 0)
			continue;
		/* Its tasks' children, before the group id can be reused. */
		kill(-w->pid, SIGKILL);
		while (rp__sys_pidfd_reap(w->pidfd, &code) == 0)
			rp__sys_wait_readable(w->pidfd, -1);
		close(w->pidfd);
		w->pidfd = -1;
	}
}

/*
 * With both locks and no loop thread: take what the workers finished, and
 * fail the rest with why.
 */
static void settle_everything(struct rp_pool *pool, const struct rp_error *why)
{
	rp__drain_all(pool);
	for (unsigned i = 0; i < pool->nworkers; i++)
		rp__fail_slots(pool, &pool->workers[i], why, NULL);
	rp__dispatch_fail_pending(pool, why);
}

RP_API int rp_pool_terminate(rp_pool_t *pool)
{
	struct rp_error why;

	if (!pool)
		return -EINVAL;
	if (atomic_exchange(&pool->state, RP_POOL_TERMINATED) == RP_POOL_TERMINATED)
		return -EALREADY;
	stop_respawning(pool);
	pthread_mutex_lock(&pool->submit_lock);
	pthread_mutex_lock(&pool->drain_lock);
	if (pool->workers) {
		signal_workers(pool, SIGTERM);
		if (wait_workers_gone(pool, rp__now_ns() + pool->grace_ns) < 0)
			signal_workers(pool, SIGKILL);
		reap_all(pool);
		rp__error_set(&why, RP_ETERMINATED, -1, 0, "the pool was terminated");
		settle_everything(pool, &why);
	}
	pthread_mutex_unlock(&pool->drain_lock);
	rp__submit_unlock(pool);
	return 0;
}

/* Until every chunk completed (or failed), or the deadline. */
static int wait_unfinished(struct rp_pool *pool, int64_t deadline)
{
	for (;;) {
		uint32_t seen = atomic_load(&pool->progress);

		if (atomic_load(&pool->unfinished) == 0)
			return 0;
		if (deadline >= 0 && rp__now_ns() >= deadline)
			return -ETIMEDOUT;
		rp__progress_wait(pool, seen, deadline);
	}
}

/*
 * Tell every worker to exit once its ring is empty.  stopping is set under
 * submit_lock, where the loop thread decides on a replacement: a worker it
 * replaced before gets the record too; one that ends after is not replaced.
 */
static void send_exit(struct rp_pool *pool)
{
	pthread_mutex_lock(&pool->submit_lock);
	pool->stopping = true;
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct rp__worker *w = &pool->workers[i];

		if (w->pidfd >= 0 && rp__ring_push(&w->tasks, RP_REC_EXIT, NULL, 0) == 0)
			rp__ring_publish(&w->tasks);
		else if (w->pidfd >= 0)
			rp__sys_pidfd_send_signal(w->pidfd, w->pid, SIGTERM);
	}
	pthread_mutex_unlock(&pool->submit_lock);
}

/* After close: let the work finish, then let the workers go. */
static int join_closed(struct rp_pool *pool, int64_t deadline)
{
	int err;

	err = wait_unfinished(pool, deadline);
	if (err < 0)
		return err;
	/*
	 * The workers go first, and the ends of the zygote (an address space
	 * as big as ours to tear down) and of the loop thread (a wake-up and
	 * a thread's exit) overlap theirs.  Once stopping is set no respawn
	 * can start, so nothing uses the zygote any more.  Until the loop
	 * thread is joined it may reap workers itself, so their pidfds are
	 * not read before.
	 */
	if (!pool->stopping) {
		send_exit(pool);
		rp__zygote_release(pool->zygote);
		rp__loop_stop(pool);
	}
	err = wait_workers_gone(pool, deadline);
	if (err < 0)
		return err;
	reap_all(pool);
	return 0;
}

RP_API int rp_pool_join(rp_pool_t *pool, int64_t timeout_ns)
{
	int64_t deadline;
	int state, err = 0;

	if (!pool || (timeout_ns < 0 && timeout_ns != RP_FOREVER))
		return -EINVAL;
	state = atomic_load(&pool->state);
	if (state == RP_POOL_OPEN ||
	    (state == RP_POOL_BROKEN && !pool->closed_broken))
		return -EINVAL;
	if (atomic_load_explicit(&pool->cb_running, memory_order_acquire) &&
	    pthread_equal(pthread_self(), pool->cb_thread))
		return -EDEADLK;
	if (pool->joined)
		return 0;
	deadline = timeout_ns < 0 ? -1 : rp__now_ns() + timeout_ns;
	if (state != RP_POOL_TERMINATED && pool->workers)
		err = join_closed(pool, deadline);
	if (err == 0)
		err = rp__callbacks_idle_wait(pool, deadline);
	if (err == 0)
		pool->joined = true;
	return err;
}

RP_API int rp_pool_survivors(rp_pool_t *pool, pid_t *ret_pids, size_t cap)
{
	int n = 0;

	if (!pool || (cap && !ret_pids))
		return -EINVAL;
	/* submit_lock: the loop thread replaces workers under it. */
	pthread_mutex_lock(&pool->submit_lock);
	for (unsigned i = 0; pool->workers && i < pool->nworkers; i++) {
		struct rp__worker *w = &pool->workers[i];

		if (w->pidfd < 0 || rp__sys_wait_readable(w->pidfd, 0) != 0)
			continue; /* reaped, or ended and waiting to be */
		if ((size_t)n < cap)
			ret_pids[n] = w->pid;
		n++;
	}
	rp__submit_unlock(pool);
	return n;
}

RP_API void rp_pool_destroy(rp_pool_t *pool)
{
	if (!pool)
		return;
	if (!pool->joined) {
		rp_pool_terminate(pool);
		rp_pool_join(pool, RP_FOREVER);
	}
	rp__loop_stop(pool);
	rp__loop_free(pool);
	rp__callbacks_stop(pool);
	rp__workers_teardown(pool);
	rp__zygote_stop(pool->zygote);
	pthread_mutex_destroy(&pool->submit_lock);
	pthread_mutex_destroy(&pool->drain_lock);
	free(pool->initarg);
	free(pool->order);
	free(pool->failure_times);
	rp__free_lines(pool);
}

/* ---- submitting --------------------------------------------------------- */

/*
 * The most bytes one task's argument or result may claim: more than any
 * machine can allocate, and far from overflowing the sums made of it.
 */
#define TASK_BYTES_MAX ((uint64_t)1 << 46)

/* A submit asking for a callback needs the callback thread. */
static int callbacks_ready(struct rp_pool *pool,
			  const struct rp_submit_opts *o)
{
	if (!o || (!o->callback && !o->error_callback))
		return 0;
	return rp__callbacks_need(pool);
}

/* The deadline and retries opts ask for; -EINVAL for negative times. */
static int limits_of(const struct rp_pool *pool,
		     const struct rp_submit_opts *o, struct rp__limits *l)
{
	*l = (struct rp__limits){ 0 };
	if (!o)
		return 0;
	if (o->timeout_ns < 0 || o->kill_grace_ns < 0)
		return -EINVAL;
	l->timeout_ns = o->timeout_ns;
	l->grace_ns = o->kill_grace_ns ? o->kill_grace_ns : pool->grace_ns;
	l->retries = o->retries;
	return 0;
}

static int submit_apply(rp_pool_t *pool, rp_task_fn fn, const void *arg,
			size_t arg_len, size_t res_cap, unsigned char *dest,
			const struct rp_submit_opts *opts, rp_result_t **ret_res)
{
	struct rp_result *r;
	struct rp__batch b = {
		.fn = fn, .items = arg, .end_index = 1, .chunksize = 1,
		.item_size = arg_len, .flags = RP_TASK_APPLY,
		.result_size = res_cap,
	};
	int err;

	if (!pool || !fn || (arg_len && !arg) ||
	    limits_of(pool, opts, &b.limits) < 0)
		return -EINVAL;
	if (arg_len > TASK_BYTES_MAX || res_cap > TASK_BYTES_MAX)
		return -ENOMEM;
	err = callbacks_ready(pool, opts);
	if (err < 0)
		return err;
	r = rp__result_new(pool, res_cap, false, 0, dest, opts, 1);
	if (!r)
		return -ENOMEM;
	b.sink = rp__result_sink(r);
	err = rp__dispatch_submit(pool, &b, true);
	if (err < 0) {
		rp__result_discard(r);
		return err;
	}
	*ret_res = r;
	return 0;
}

RP_API int rp_apply_async(rp_pool_t *pool, rp_task_fn fn, const void *arg,
			  size_t arg_len, size_t res_cap,
			  const struct rp_submit_opts *opts, rp_result_t **ret_res)
{
	if (!ret_res)
		return -EINVAL;
	return submit_apply(pool, fn, arg, arg_len, res_cap, NULL, opts, ret_res);
}

/* Wait for r, copy its outcome out, and release it. */
static int finish_blocking(rp_result_t *r, size_t *ret_len,
			   struct rp_error *ret_error)
{
	size_t len = 0;
	int err = rp_result_get(r, RP_FOREVER, NULL, &len);

	if (err == 0 && ret_len)
		*ret_len = len;
	if (err != 0 && ret_error && rp_result_error(r))
		*ret_error = *rp_result_error(r);
	rp_result_free(r);
	return err;
}

RP_API int rp_apply(rp_pool_t *pool, rp_task_fn fn, const void *arg,
		    size_t arg_len, void *res, size_t res_cap, size_t *ret_len,
		    struct rp_error *ret_error)
{
	rp_result_t *r;
	int err;

	if (res_cap && !res)
		return -EINVAL;
	/* The result lands straight in the caller's buffer. */
	err = submit_apply(pool, fn, arg, arg_len, res_cap, res, NULL, &r);
	if (err < 0)
		return err;
	return finish_blocking(r, ret_len, ret_error);
}

static int check_map(rp_pool_t *pool, rp_task_fn fn, const void *items,
		     size_t n, size_t item_size, size_t result_size)
{
	size_t total;

	if (!pool || !fn || item_size == 0 || (n && !items))
		return -EINVAL;
	if (__builtin_mul_overflow(n, item_size, &total) ||
	    __builtin_mul_overflow(n, result_size, &total))
		return -EOVERFLOW;
	if (item_size > TASK_BYTES_MAX || result_size > TASK_BYTES_MAX)
		return -ENOMEM;
	return 0;
}

static int submit_map(rp_pool_t *pool, rp_task_fn fn, const void *items,
		      size_t n, size_t item_size, size_t result_size,
		      size_t chunksize, unsigned char *dest,
		      const struct rp_submit_opts *opts, bool borrowed,
		      rp_result_t **ret_res)
{
	struct rp__batch b = {
		.fn = fn, .items = items, .end_index = n,
		.chunksize = rp__chunk_fit(pool, chunksize, n, item_size, result_size),
		.item_size = item_size, .result_size = result_size,
	};
	uint64_t nchunks = rp__batch_chunks(&b);
	struct rp_result *r;
	int err;

	if (limits_of(pool, opts, &b.limits) < 0)
		return -EINVAL;
	err = callbacks_ready(pool, opts);
	if (err < 0)
		return err;
	r = rp__result_new(pool, n * result_size, true, result_size, dest, opts,
			   nchunks ? nchunks : 1);
	if (!r)
		return -ENOMEM;
	b.sink = rp__result_sink(r);
	err = n ? rp__dispatch_submit(pool, &b, borrowed) :
		  (atomic_load(&pool->state) == RP_POOL_OPEN ? 0 : RP_ECLOSED);
	if (err < 0) {
		rp__result_discard(r);
		return err;
	}
	if (n == 0) /* nothing to run: complete it, callbacks included */
		b.sink->ops->chunk_done(b.sink, 0, 0, 0);
	*ret_res = r;
	return 0;
}

RP_API int rp_map(rp_pool_t *pool, rp_task_fn fn, const void *items, size_t n,
		  size_t item_size, void *results, size_t result_size,
		  size_t chunksize, struct rp_error *ret_error)
{
	rp_result_t *r;
	int err = check_map(pool, fn, items, n, item_size, result_size);

	if (err == 0 && n && result_size && !results)
		err = -EINVAL;
	if (err < 0)
		return err;
	/* Items stay the caller's (it waits), results land in its array. */
	err = submit_map(pool, fn, items, n, item_size, result_size, chunksize,
			 results, NULL, false, &r);
	if (err < 0)
		return err;
	return finish_blocking(r, NULL, ret_error);
}

RP_API int rp_map_async(rp_pool_t *pool, rp_task_fn fn, const void *items,
			size_t n, size_t item_size, size_t result_size,
			size_t chunksize, const struct rp_submit_opts *opts,
			rp_result_t **ret_res)
{
	int err = check_map(pool, fn, items, n, item_size, result_size);

	if (err == 0 && !ret_res)
		err = -EINVAL;
	if (err < 0)
		return err;
	return submit_map(pool, fn, items, n, item_size, result_size, chunksize,
			  NULL, opts, true, ret_res);
}
