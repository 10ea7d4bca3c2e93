/* SPDX-License-Identifier: MIT */
/*
 * The owner's handling of worker processes: their shared regions, starting
 * them (from the pool's zygote or straight from the caller), and replacing
 * one that ended.
 *
 * Regions are private to the pool: once the zygote holds them (or, for
 * RP_START_FORK, outside the moment a worker is cloned) they are marked
 * MADV_DONTFORK in the owner, so children of anything else the owner
 * starts, other pools' workers included, never see them.  A worker unmaps
 * every region but its own as it starts.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "crash.h"
#include "fallback.h"
#include "pool.h"
#include "spawn.h"
#include "sys.h"
#include "worker.h"

static size_t region_bytes(const struct rp_pool *pool)
{
	return RP_WORKER_CTL_BYTES + 2 * rp__ring_bytes((uint32_t)pool->ring_capacity);
}

/*
 * Lay out empty rings and a fresh control block, and open our ends.  A new
 * region is zero already: clearing its control block (the slot states
 * make 16 KiB) would only fault its pages in; a reused one was written by
 * the worker before.
 */
static int region_init(struct rp_pool *pool, struct rp__worker *w, bool reused)
{
	unsigned char *base = w->region.addr;
	int err;

	w->ring_bytes = rp__ring_bytes((uint32_t)pool->ring_capacity);
	w->have_last_sent = false; /* a fresh ring: the next chunk in full */
	w->ctl = (struct rp_worker_ctl *)base;
	w->task_mem = base + RP_WORKER_CTL_BYTES;
	w->result_mem = base + RP_WORKER_CTL_BYTES + w->ring_bytes;
	if (reused)
		memset(w->ctl, 0, sizeof(*w->ctl));
	w->ctl->magic = RP_WORKER_CTL_MAGIC;
	w->ctl->index = w->index;
	err = rp__ring_init(w->task_mem, w->ring_bytes, (uint32_t)pool->ring_capacity);
	if (err == 0)
		err = rp__ring_init(w->result_mem, w->ring_bytes,
				    (uint32_t)pool->ring_capacity);
	if (err == 0)
		err = rp__ring_producer_open(w->task_mem, w->ring_bytes, &w->tasks);
	if (err == 0)
		err = rp__ring_consumer_open(w->result_mem, w->ring_bytes,
					     RP_REC_KIND_MAX, &w->results);
	if (err == 0) {
		/*
		 * Both rings symmetric (wake.h): a full barrier per
		 * publication, no membarrier per sleep.  An asymmetric task
		 * ring made pipelined apply_async 5-10% faster on the 2-CPU
		 * machine, but each worker running out of work would then
		 * send an IPI to every CPU running a process registered for
		 * membarrier (the owner, and every worker of every pool:
		 * registration is inherited), under one kernel-wide lock: with
		 * many workers taking sporadic tasks, a storm of interrupts on
		 * the owner's cores.  An asymmetric result ring cost map at
		 * chunksize 1 a third of its rate: the loop thread sleeps
		 * between nearly every burst of results.
		 */
		rp__wake_set_symmetric(&w->tasks.wake);
		rp__wake_set_symmetric(&w->results.wake);
		rp__wake_set_policy(&w->tasks.wake, pool->wait_policy);
		rp__wake_set_policy(&w->results.wake, pool->wait_policy);
		if (w->wake_efd >= 0)
			rp__wake_set_eventfds(&w->results.wake, w->wake_efd, -1);
	}
	return err;
}

/*
 * Whether the loop thread must wait for results on eventfds: where the
 * kernel lacks IORING_OP_FUTEX_WAIT (before 6.7), or the fallback is
 * forced.  Then each worker gets one, and its wakes write it.
 */
static bool wake_by_eventfd(void)
{
	return rp__fallback_forced(RP_FALLBACK_URING_FUTEX) ||
	       rp__wake_uring_futex_supported() <= 0;
}

int rp__workers_setup(struct rp_pool *pool)
{
	bool efds = wake_by_eventfd();

	pool->workers = rp__zalloc_lines(pool->nworkers, sizeof(*pool->workers));
	if (!pool->workers)
		return -ENOMEM;
	for (unsigned i = 0; i < pool->nworkers; i++) {
		pool->workers[i].pidfd = -1;
		pool->workers[i].wake_efd = -1;
		pool->workers[i].region.fd = -1;
	}
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct rp__worker *w = &pool->workers[i];
		int err;

		w->index = i;
		atomic_init(&w->cpu, -1); /* placed at its first start */
		/* Blocking: io_uring fails reads of a non-blocking eventfd
		 * with -EAGAIN instead of waiting (wake.h). */
		if (efds && (w->wake_efd = eventfd(0, EFD_CLOEXEC)) < 0)
			return -errno;
		err = rp__shm_create("rp-worker", region_bytes(pool), RP_SHM_SEAL,
				     &w->region);
		if (err < 0)
			return err;
		/* The mapping is all we need; children inherit it. */
		rp__shm_close_fd(&w->region);
		err = region_init(pool, w, false);
		if (err < 0)
			return err;
	}
	return 0;
}

/* Let clones inherit the regions (advice DOFORK) or not (DONTFORK). */
void rp__workers_fork_advice(struct rp_pool *pool, int advice)
{
	for (unsigned i = 0; i < pool->nworkers; i++)
		if (pool->workers && pool->workers[i].region.addr)
			madvise(pool->workers[i].region.addr,
				pool->workers[i].region.size, advice);
}

static void *worker_payload(const struct rp_pool *pool, unsigned index,
			    size_t *ret_len)
{
	struct rp_worker_args a = {
		.ring_capacity = pool->ring_capacity,
		.max_tasks = pool->max_tasks,
		.init_fn = (uint64_t)(uintptr_t)pool->init_fn,
		.initarg_len = pool->initarg_len,
		.index = index,
		.nworkers = pool->nworkers,
		.wait_policy = pool->wait_policy,
		.wake_efd = pool->workers[index].wake_efd >= 0,
	};
	size_t regions = sizeof(struct rp_region_ref) * pool->nworkers;
	size_t len = sizeof(a) + regions + pool->initarg_len;
	unsigned char *p = malloc(len);

	if (!p)
		return NULL;
	memcpy(p, &a, sizeof(a));
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct rp_region_ref r = {
			.addr = (uint64_t)(uintptr_t)pool->workers[i].region.addr,
			.size = pool->workers[i].region.size,
		};

		memcpy(p + sizeof(a) + i * sizeof(r), &r, sizeof(r));
	}
	if (pool->initarg_len)
		memcpy(p + sizeof(a) + regions, pool->initarg, pool->initarg_len);
	*ret_len = len;
	return p;
}

/* What w's process is to run, and where; spec->payload is malloc'ed. */
static int worker_spec(struct rp_pool *pool, struct rp__worker *w,
		       struct rp__child_spec *spec)
{
	int cpu = -1;

	memset(spec, 0, sizeof(*spec));
	spec->payload = worker_payload(pool, w->index, &spec->payload_len);
	if (!spec->payload)
		return -ENOMEM;
	spec->main = rp__worker_main;
	spec->parent = pool->owner;
	spec->pass_fd = w->wake_efd;
	snprintf(spec->name, sizeof(spec->name), "PoolWorker-%u", w->index + 1);
	snprintf(spec->comm, sizeof(spec->comm), "rp-w%u", w->index);
	if (pool->pin)
		cpu = rp__placement_worker_cpu(pool, w);
	spec->pin = cpu >= 0;
	CPU_ZERO(&spec->cpus);
	if (spec->pin)
		CPU_SET(cpu, &spec->cpus);
	/* relaxed: a hint for placement (dispatch.c, result.c). */
	atomic_store_explicit(&w->cpu, cpu, memory_order_relaxed);
	return 0;
}

static void worker_started(struct rp__worker *w)
{
	w->dispatched = 0;
	w->retiring = false;
	atomic_store(&w->dead, false);
}

/*
 * The pool's zygote, started anew: it must hold the regions, which other
 * children of ours never get (MADV_DONTFORK) but for the moment it forks.
 */
int rp__workers_start_zygote(struct rp_pool *pool)
{
	int err;

	rp__workers_fork_advice(pool, MADV_DOFORK);
	err = rp__zygote_start(NULL, 0, &pool->zygote);
	rp__workers_fork_advice(pool, MADV_DONTFORK);
	return err;
}

/*
 * The zygote is gone (killed from outside: the OOM killer picks such big,
 * idle processes): reap it and start another, as Python restarts its fork
 * server.  Under submit_lock, or before the loop thread runs.
 */
static int replace_zygote(struct rp_pool *pool)
{
	rp__zygote_stop(pool->zygote);
	pool->zygote = NULL;
	RP_COUNT(pool, zygote_restarts);
	return rp__workers_start_zygote(pool);
}

/* One worker from the zygote, a new zygote first if the last one is lost. */
static int spawn_by_zygote(struct rp_pool *pool, struct rp__worker *w,
			   const struct rp__child_spec *spec)
{
	int err = pool->zygote ? rp__zygote_spawn(pool->zygote, spec, &w->pid,
						  &w->pidfd) : -EPIPE;

	if (err != -EPIPE)
		return err;
	err = replace_zygote(pool);
	if (err == 0)
		err = rp__zygote_spawn(pool->zygote, spec, &w->pid, &w->pidfd);
	return err;
}

int rp__worker_spawn(struct rp_pool *pool, struct rp__worker *w)
{
	struct rp__child_spec spec;
	int err = worker_spec(pool, w, &spec);

	if (err < 0)
		return err;
	if (pool->method == RP_START_FORK) {
		rp__workers_fork_advice(pool, MADV_DOFORK);
		err = rp__spawn_direct(&spec, &w->pid, &w->pidfd);
		rp__workers_fork_advice(pool, MADV_DONTFORK);
	} else {
		err = spawn_by_zygote(pool, w, &spec);
	}
	free(spec.payload);
	if (err == 0)
		worker_started(w);
	return err;
}

/* All of them through the zygote at once (zygote.h says why). */
static int spawn_all_by_zygote(struct rp_pool *pool)
{
	unsigned n = pool->nworkers, made = 0;
	struct rp__child_spec *specs = calloc(n, sizeof(*specs));
	int *rets = calloc(n, sizeof(*rets));
	pid_t *pids = calloc(n, sizeof(*pids));
	int *pidfds = calloc(n, sizeof(*pidfds));
	int err = specs && rets && pids && pidfds ? 0 : -ENOMEM;

	while (err == 0 && made < n)
		if ((err = worker_spec(pool, &pool->workers[made], &specs[made])) == 0)
			made++;
	if (err == 0)
		err = rp__zygote_spawn_many(pool->zygote, specs, n, rets, pids,
					    pidfds);
	/* A lost zygote is replaced for the workers it did not make. */
	if (err == -EPIPE)
		err = 0;
	/* Every child made is kept, so that destroy ends and reaps it. */
	for (unsigned i = 0; made == n && i < n; i++) {
		struct rp__worker *w = &pool->workers[i];

		if (rets[i] == 0) {
			w->pid = pids[i];
			w->pidfd = pidfds[i];
		} else if (rets[i] == -EPIPE && err == 0) {
			rets[i] = spawn_by_zygote(pool, w, &specs[i]);
		}
		if (rets[i] < 0) {
			err = err < 0 ? err : rets[i];
			continue;
		}
		worker_started(w);
	}
	for (unsigned i = 0; i < made; i++)
		free(specs[i].payload);
	free(specs);
	free(rets);
	free(pids);
	free(pidfds);
	return err;
}

int rp__workers_spawn_all(struct rp_pool *pool)
{
	int err = 0;

	if (pool->method != RP_START_FORK)
		return spawn_all_by_zygote(pool);
	for (unsigned i = 0; i < pool->nworkers && err == 0; i++)
		err = rp__worker_spawn(pool, &pool->workers[i]);
	return err;
}

/*
 * Signal a worker and its process group (the processes its tasks started).
 * Only while it is unreaped: until then no other group can have its id.
 * A worker that has not made its group yet gets the signal alone.
 */
void rp__worker_signal(struct rp__worker *w, int sig)
{
	if (w->pidfd < 0)
		return;
	rp__sys_pidfd_send_signal(w->pidfd, w->pid, sig);
	kill(-w->pid, sig);
}

/*
 * The status of w's process was taken by another waiter of this process
 * (an application's waitpid(-1)) on a kernel that keeps none for us
 * (sys.h).  What the worker itself recorded of a crash still names the
 * signal; otherwise nothing is known, and why says so rather than guess.
 */
static void status_lost(struct rp__worker *w, struct rp_error *why)
{
	int sig = (int)w->ctl->crash_signal;

	rp__error_set(why, RP_EWORKER_DIED, -1, w->pid,
		      "worker %d ended, and another waiter in this process "
		      "(waitpid(-1), wait() or a SIGCHLD handler) took its exit "
		      "status", (int)w->pid);
	why->exit_status = -1;
	if (w->ctl->crash_frames && sig > 0 && sig < NSIG) {
		why->signal = sig;
		rp__crash_describe(w->ctl, sig, why);
	}
}

/* Reap w's ended process; fill why with what the user will see. */
static void reap(struct rp_pool *pool, struct rp__worker *w,
		 struct rp_error *why)
{
	int code = 0;
	int r;

	/* What its tasks started dies with it, before the group id is free. */
	kill(-w->pid, SIGKILL);
	while ((r = rp__sys_pidfd_reap(w->pidfd, &code)) == 0)
		rp__sys_wait_readable(w->pidfd, -1);
	if (atomic_load(&w->corrupt)) {
		rp__error_set(why, RP_ECORRUPT, -1, w->pid,
			      "worker %d corrupted its shared rings (an invalid "
			      "record or index) and was replaced", (int)w->pid);
	} else if (atomic_load(&pool->state) == RP_POOL_TERMINATED) {
		rp__error_set(why, RP_ETERMINATED, -1, w->pid,
			      "the pool was terminated");
	} else if (r < 0) {
		status_lost(w, why);
	} else if (code < 0) {
		rp__error_set(why, RP_EWORKER_DIED, -1, w->pid,
			      "worker %d killed by signal %d", (int)w->pid, -code);
		why->signal = -code;
		rp__crash_describe(w->ctl, -code, why);
	} else {
		rp__error_set(why, RP_EWORKER_DIED, -1, w->pid,
			      "worker %d exited with status %d", (int)w->pid, code);
		why->exit_status = code;
	}
	close(w->pidfd);
	w->pidfd = -1;
}

/*
 * While the pool starts, a worker that ends before its initializer
 * reported fails the start, rather than being respawned forever: with
 * RP_EINIT if its initializer had begun (it crashed, or exited), else
 * with its death as it was (RP_EWORKER_DIED: killed before it got so
 * far, or there is no initializer).  Its note says which (proto.h): read
 * only now that it is dead, and only about its own start.  Later, such a
 * death is an ordinary failure (say a kill right after a respawn), for
 * the budget.
 */
static void note_start_failure(struct rp_pool *pool, struct rp__worker *w,
			       const struct rp_error *why)
{
	if (!pool->starting || atomic_load(&w->init_seen) ||
	    atomic_load(&pool->init_failed))
		return;
	/* Under drain_lock, as in on_init (drain.c): the record first, then
	 * the flag that lets rp_pool_create read it.  relaxed: the worker
	 * is dead, and its stores were all made. */
	pool->init_error = *why;
	pool->init_error.code = atomic_load_explicit(&w->ctl->init_begun,
						     memory_order_relaxed) ?
					RP_EINIT : RP_EWORKER_DIED;
	atomic_store(&pool->init_failed, 1);
	rp__progress_wake(pool);
}

/* An end the pool did not ask for: a kill, a crash, an unexpected exit
 * (not a deadline's or a forced cancel's kill). */
static bool is_failure(const struct rp_pool *pool, const struct rp__worker *w,
		       const struct rp_error *why)
{
	/* An exit we asked for whose status another waiter took (-1) is
	 * not held against the budget either. */
	bool clean = why->code == RP_EWORKER_DIED && why->signal == 0 &&
		     (why->exit_status == 0 || why->exit_status == -1) &&
		     (w->retiring || pool->stopping);

	return why->code != RP_ETERMINATED && !clean &&
	       !atomic_load(&w->stopped);
}

/*
 * The restart budget: more than max_failures failures within the window
 * break the pool instead of respawning workers in a storm.  Returns true
 * when this failure spends the budget.
 */
static bool budget_spent(struct rp_pool *pool)
{
	int64_t now = rp__now_ns();
	uint32_t n = pool->max_failures;
	int64_t oldest;

	if (n == 0)
		return false; /* no limit */
	pool->failure_times[pool->failure_pos] = now;
	pool->failure_pos = (pool->failure_pos + 1) % n;
	/* The slot written next holds the oldest of the last n failures. */
	oldest = pool->failure_times[pool->failure_pos];
	if (++pool->failures < n || now - oldest > pool->failure_window_ns)
		return false;
	rp__error_set(&pool->broken_error, RP_EBROKEN, -1, 0,
		      "%u worker failures within %.3f s: the pool is broken",
		      n, (double)pool->failure_window_ns / 1e9);
	return true;
}

static bool may_respawn(struct rp_pool *pool)
{
	int st = atomic_load(&pool->state);

	return !pool->stopping && !atomic_load(&pool->init_failed) &&
	       (st == RP_POOL_OPEN || st == RP_POOL_CLOSED);
}

/*
 * What a dead worker's chunks that it never began fail with once none may
 * run again because the pool is broken: the reason its pending queue
 * failed with (mark_broken), as they would have had they waited there;
 * they never ran, so not as killed by this death.  NULL otherwise: they
 * run again (requeue), or fail as the worker's other chunks do (the pool
 * terminated, or joined without being broken).
 */
static const struct rp_error *broken_why(struct rp_pool *pool)
{
	int st = atomic_load(&pool->state);

	if (st == RP_POOL_TERMINATED)
		return NULL;
	if (atomic_load(&pool->init_failed))
		return &pool->init_error;
	return st == RP_POOL_BROKEN ? &pool->broken_error : NULL;
}

/* The pool cannot start workers any more: fail what waits for them. */
static void mark_broken(struct rp_pool *pool, const struct rp_error *why)
{
	atomic_store(&pool->state, RP_POOL_BROKEN);
	rp__dispatch_fail_pending(pool, why);
}

static void respawn(struct rp_pool *pool, struct rp__worker *w)
{
	RP_COUNT(pool, respawns);
	atomic_store(&w->corrupt, false);
	atomic_store(&w->init_seen, false);
	atomic_store(&w->stopped, false);
	if (region_init(pool, w, true) < 0 || rp__worker_spawn(pool, w) < 0) {
		rp__error_set(&pool->broken_error, RP_EBROKEN, -1, 0,
			      "could not start a replacement worker");
		mark_broken(pool, &pool->broken_error);
	}
}

/*
 * Whether the chunk in slot s, at its worker's death (why), runs again:
 * always if it never started; if it was running, only when its caller
 * allowed retries, has some left, and the death was not the pool's doing
 * (deadline, cancel) or a corrupt ring.  Packed one-item chunks
 * (RP_TASK_EACH) are taken back in any state: requeue_each() sorts out
 * which of their items run again.
 */
static bool runs_again(struct rp__worker *w, uint32_t s,
		       const struct rp__slot *sl, const struct rp_error *why)
{
	uint32_t st = atomic_load(&w->ctl->slot_state[s]);

	if (st == RP_SLOT_QUEUED || (sl->flags & RP_TASK_EACH))
		return true;
	return st == RP_SLOT_RUNNING && why->code == RP_EWORKER_DIED &&
	       sl->limits.attempt < sl->limits.retries &&
	       !atomic_load(&sl->timed_out) && !atomic_load(&sl->kill_canceled);
}

/*
 * A task record read back from the dead worker's ring: a TASK in full,
 * or a TASK_NEXT, whose function and sizes are taken from the owner's own
 * record of its slot (they are checked against it for a TASK).  Sets *t
 * and *items; false for anything else or a slot out of range.
 */
static bool parse_task_back(struct rp__worker *w, const struct rp_ring_rec *rec,
			    struct rp_task_rec *t, const unsigned char **items)
{
	const unsigned char *data = rec->data;
	struct rp_task_next_rec n;
	const struct rp__slot *sl;

	if (rec->kind == RP_REC_TASK && rec->len >= sizeof(*t)) {
		memcpy(t, data, sizeof(*t));
		*items = data + sizeof(*t);
		return t->slot < RP_SLOTS;
	}
	if (rec->kind != RP_REC_TASK_NEXT || rec->len < sizeof(n))
		return false;
	memcpy(&n, data, sizeof(n));
	if (n.slot >= RP_SLOTS)
		return false;
	sl = &w->slots[n.slot];
	*t = (struct rp_task_rec){
		.fn = (uint64_t)(uintptr_t)sl->fn, .first_index = n.first_index,
		.slot = n.slot, .flags = sl->flags, .nitems = n.nitems,
		.item_size = sl->item_size, .result_size = sl->result_size,
	};
	*items = data + sizeof(n);
	return true;
}

/* A task record of the dead worker's ring whose chunk is to run again,
 * checked against the owner's record of that slot. */
static struct rp__slot *rerun_slot(struct rp__worker *w,
				   const struct rp_ring_rec *rec,
				   struct rp_task_rec *t, const unsigned char **items,
				   const struct rp_error *why)
{
	struct rp__slot *sl;

	if (!parse_task_back(w, rec, t, items) || (t->flags & RP_TASK_BIG))
		return NULL;
	sl = &w->slots[t->slot];
	if (!atomic_load_explicit(&sl->busy, memory_order_acquire) ||
	    atomic_load(&sl->canceled) || !runs_again(w, t->slot, sl, why) ||
	    t->fn != (uint64_t)(uintptr_t)sl->fn ||
	    t->first_index != sl->first_index || t->nitems != sl->nitems ||
	    t->item_size != sl->item_size || t->result_size != sl->result_size ||
	    rec->len - (uint64_t)(*items - (const unsigned char *)rec->data) !=
		    (uint64_t)t->nitems * t->item_size)
		return NULL;
	return sl;
}

/*
 * The dead worker's RP_TASK_EACH chunk in sl, its record read back as t
 * and items: what it began and did not report fails as a running chunk
 * would (why); the items it never began run again, queued at *at, unless
 * the call cancelled them.  Items already reported stay so, whatever the
 * worker left in slot_state.  Returns the link after what was queued, or
 * NULL without memory (the slot then stays, for rp__fail_slots).
 */
static struct rp__batch **requeue_each(struct rp_pool *pool,
				       struct rp__worker *w,
				       const struct rp_task_rec *t,
				       const unsigned char *items,
				       struct rp__slot *sl,
				       const struct rp_error *why,
				       struct rp__batch **at)
{
	uint32_t from;

	if (rp__slot_each_died(pool, w, sl, why))
		return at;
	from = sl->each_done;
	if (from < t->nitems) {
		struct rp__batch b = {
			.sink = sl->sink, .fn = sl->fn,
			.items = items + (uint64_t)from * t->item_size,
			.base_index = t->first_index + from,
			.next_index = t->first_index + from,
			.end_index = t->first_index + t->nitems,
			.chunksize = 1, /* one-item chunks, as they were */
			.item_size = t->item_size,
			.flags = sl->flags & ~RP_TASK_EACH,
			.result_size = sl->result_size,
			.limits = sl->limits,
		};

		at = rp__dispatch_requeue(pool, &b, at);
		if (!at)
			return NULL;
	}
	rp__slot_release(w, sl);
	return at;
}

/*
 * Chunks the dead worker never started (their slot is still QUEUED: the
 * worker's CAS to RUNNING never happened, so they never ran) go back to
 * the head of the pending queue, in their order, to run elsewhere, and so
 * does the chunk it was running if it may be retried (runs_again), and
 * the items of a packed run it had not begun (requeue_each); the rest
 * fail.  Their bytes are read back from its task ring, between the
 * head it had released and our tail: a running chunk's record is released
 * only after it ran, and finished chunks are released before the next one
 * starts, so each slot appears there once at most.  A head that went
 * backwards means a scribbled ring: nothing is taken back then.  (What a
 * task scribbled on the records of its own queue it could as well have
 * done to those chunks' arguments while they waited for it.)
 */
static bool requeue(struct rp_pool *pool, struct rp__worker *w,
		    const struct rp_error *why)
{
	struct rp__batch **at = &pool->pending_head;
	struct rp_ring_consumer c;
	struct rp_ring_rec rec;
	struct rp_task_rec t;
	int err;

	if (!may_respawn(pool))
		return true;
	/* slot_state lives in the control block: trusted no further than
	 * its magic, which no worker of ours ever writes. */
	if (w->ctl->magic != RP_WORKER_CTL_MAGIC ||
	    w->ctl->index != w->index ||
	    rp__ring_consumer_open(w->task_mem, w->ring_bytes, RP_REC_KIND_MAX,
				   &c) < 0 ||
	    c.head < w->tasks.head_cache)
		return false;
	while ((err = rp__ring_peek(&c, &rec)) == 0) {
		const unsigned char *items = NULL;
		struct rp__slot *sl = rerun_slot(w, &rec, &t, &items, why);

		if (sl && (sl->flags & RP_TASK_EACH)) {
			at = requeue_each(pool, w, &t, items, sl, why, at);
			if (!at)
				return true; /* no memory: the rest fail as held */
		} else if (sl) {
			struct rp__batch b = {
				.sink = sl->sink, .fn = sl->fn,
				.items = items,
				.base_index = t.first_index,
				.next_index = t.first_index,
				.end_index = t.first_index + t.nitems,
				.chunksize = t.nitems, .item_size = t.item_size,
				.flags = sl->flags, .result_size = sl->result_size,
				.limits = sl->limits,
			};

			if (atomic_load(&w->ctl->slot_state[t.slot]) !=
			    RP_SLOT_QUEUED)
				b.limits.attempt++; /* it ran: a retry */

			at = rp__dispatch_requeue(pool, &b, at);
			if (!at)
				return true; /* no memory: the rest fail as held */
			rp__slot_release(w, sl);
		}
		rp__ring_consume(&c);
	}
	return err == -EAGAIN;
}

/*
 * What w held could not be read back from its shared memory, which one of
 * its tasks overwrote: those chunks are victims of that corruption, not of
 * an ordinary death, and fail saying so (the signal or status stays).
 */
static void corrupt_victims(struct rp__worker *w, struct rp_error *why)
{
	if (why->code != RP_EWORKER_DIED)
		return;
	why->code = RP_ECORRUPT;
	snprintf(why->message, sizeof(why->message),
		 "worker %d's shared memory was overwritten (its task ring no "
		 "longer parsed), and the chunks it held were lost with it",
		 (int)w->pid);
}

/*
 * rp__worker_replace - w's process ended (its pidfd is readable).  Keeps
 * the results it published, fails the chunks it still held, and starts a
 * replacement unless the pool is stopping or broken.  Takes both locks.
 */
void rp__worker_replace(struct rp_pool *pool, struct rp__worker *w)
{
	struct rp_error why;

	atomic_store(&w->dead, true);
	pthread_mutex_lock(&pool->submit_lock);
	pthread_mutex_lock(&pool->drain_lock);
	/* Its last records, its initializer's report among them maybe. */
	rp__drain_worker(pool, w);
	reap(pool, w, &why);
	if (!requeue(pool, w, &why))
		corrupt_victims(w, &why);
	rp__fail_slots(pool, w, &why, broken_why(pool));
	note_start_failure(pool, w, &why);
	if (atomic_load(&pool->init_failed)) {
		if (atomic_load(&pool->state) != RP_POOL_TERMINATED)
			mark_broken(pool, &pool->init_error);
	} else if (is_failure(pool, w, &why) && budget_spent(pool)) {
		mark_broken(pool, &pool->broken_error);
	} else if (may_respawn(pool)) {
		respawn(pool, w);
	}
	pthread_mutex_unlock(&pool->drain_lock);
	rp__submit_unlock(pool);
	rp__progress_wake(pool);
}

/*
 * How long the creating thread reads the workers' start reports itself
 * before it sleeps until the loop thread has them.  The loop thread's
 * hand-over costs it a wake-up (an idle vCPU's here).  It yields between
 * looks, so a worker starting on its CPU runs.  Pool create + destroy, 8
 * alternating runs: 0.74 -> 0.71 ms median, 8 of 8 faster.
 */
#define START_POLL_NS 200000

/* Every worker reported its initializer (0), or one failed to start
 * (RP_EINIT or RP_EWORKER_DIED, init_error's code), or neither yet
 * (-EAGAIN). */
static int start_state(struct rp_pool *pool)
{
	unsigned ready = 0;

	/* seq_cst: the record was written before the flag was set. */
	if (atomic_load(&pool->init_failed))
		return pool->init_error.code;
	for (unsigned i = 0; i < pool->nworkers; i++)
		ready += atomic_load(&pool->workers[i].init_seen);
	return ready == pool->nworkers ? 0 : -EAGAIN;
}

/* Until every worker reported its initializer, or one failed to start. */
int rp__workers_wait_started(struct rp_pool *pool)
{
	int64_t poll_end = rp__now_ns() + START_POLL_NS;
	bool polling = true;
	int state;

	for (;;) {
		uint32_t seen = atomic_load(&pool->progress);
		int64_t now;

		if ((state = start_state(pool)) != -EAGAIN)
			break;
		now = rp__now_ns();
		if (polling && now < poll_end) {
			rp__drain_help(pool, now);
			sched_yield();
			continue;
		}
		if (polling) {
			polling = false;
			rp__drain_help_done(pool);
		}
		rp__progress_wait(pool, seen, -1);
	}
	if (polling)
		rp__drain_help_done(pool);
	return state;
}

/* Kill whatever still runs, reap it, and unmap every region. */
void rp__workers_teardown(struct rp_pool *pool)
{
	if (!pool->workers)
		return;
	for (unsigned i = 0; i < pool->nworkers; i++) {
		struct rp__worker *w = &pool->workers[i];
		int code;

		if (w->pidfd >= 0) {
			rp__worker_signal(w, SIGKILL);
			while (rp__sys_pidfd_reap(w->pidfd, &code) == 0)
				rp__sys_wait_readable(w->pidfd, -1);
			close(w->pidfd);
			w->pidfd = -1;
		}
		rp__shm_destroy(&w->region);
		if (w->wake_efd >= 0)
			close(w->wake_efd);
	}
	rp__free_lines(pool->workers);
	pool->workers = NULL;
}
