/* SPDX-License-Identifier: MIT */
/*
 * Packed one-item chunks: at chunksize 1, map sends runs of consecutive
 * items in one task record, yet each item must behave as the one-item
 * chunk it stands for.  A death inside a run fails only the item that was
 * running and the rest of the run runs elsewhere; a failing item fails
 * only itself; a cancel stops what has not started and, with force, the
 * rest of a killed run; a run never makes a worker hold more chunks than
 * max_queued; in a pool already broken, a death fails the runs not begun
 * as broken, as the pending ones.  Every item counts its runs in a page
 * shared with the workers, so "ran once" is checked for each item, not
 * inferred.  Hostile items lie about their own slot in their worker's
 * region (packed_region.h) and the owner must still tell each item once.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "packed_region.h"
#include "pool_harness.h"
#include "ringpool.h"

/* Enough items for runs of the longest length on two workers. */
#define N_BIG 4096
#define N_MID 1024
#define N_SMALL 256
#define NWORKERS 2

/* Items that kill their worker or fail: inside a run, not at its start. */
#define IS_PICKED(i) ((i) % 7 == 3)
#define FIRST_PICKED 3
/* A failing item's code: tells which item it was. */
#define FAIL_CODE(i) (1000 + (i))

/* Item 0 of the max_queued case gave up waiting for the others. */
#define GAVE_UP 77
#define BADARG 98
/* A lying item found no running slot of its own to lie about. */
#define NO_SLOT 79

/*
 * Shared with the workers: mapped before the zygote and every pool
 * (pk_group_setup), so every worker of every test sees it.
 */
struct pk_page {
	uint32_t ran[N_BIG];   /* how many times item i started (PK_COUNT) */
	int32_t pid[N_BIG];    /* the process that last ran it */
	uint32_t started;      /* PK_HOLD items that began (futex) */
	int32_t held[2];       /* the two that wait for the gate */
	uint32_t gate;         /* futex: 1 lets the held items go */
	uint32_t done;         /* PK_DONE items that ended (futex) */
	uint32_t wrong_index;  /* items whose rp_task_index() was not theirs */
	uint32_t guard;        /* waits that ran out their hang guard */
	uint32_t lie_at[N_BIG]; /* 1 + its place in its run, if item i lied */
	uint32_t lied;         /* PK_LIE_* items that wrote QUEUED (futex) */
	uint32_t unpacked;     /* PK_LIE_KILL items not in a packed run */
	uint32_t no_slot;      /* PK_LIE_* items that could not lie */
	int32_t lie_worker;    /* the last liar's rp_task_worker() */
};

static struct pk_page *pg;

enum pk_flags {
	PK_COUNT = 1u << 0,  /* count the run in ran[index] */
	PK_KILL = 1u << 1,   /* raise(SIGKILL) after counting */
	PK_FAIL = 1u << 2,   /* fail with FAIL_CODE(index) and a message */
	PK_HOLD = 1u << 3,   /* the first two PK_HOLD items to start wait
			      * for the gate */
	PK_DONE = 1u << 4,   /* add to done once it ran */
	PK_WAIT = 1u << 5,   /* wait for done >= target first */
	/* The lies, told on the item's first run only (see lie()). */
	PK_LIE_KILL = 1u << 6, /* QUEUED, then on to PK_KILL; no lie if
				* not in a packed run */
	PK_LIE_RUN = 1u << 7,  /* QUEUED once the run's earlier items were
				* taken, then wait for the gate, then on */
};

struct pk_item {
	int32_t index;   /* its input index: ran[] and rp_task_index() */
	uint32_t flags;  /* enum pk_flags */
	int32_t target;  /* PK_WAIT's */
	int32_t pad;
	int64_t value;
};

struct pk_res {
	int64_t out;     /* 3 * value + 1 */
	int64_t index;   /* rp_task_index() */
	int32_t pid;
	int32_t pad;
};

static struct pk_item items[N_BIG];
static struct pk_res out[N_BIG];

/* ---- the task: no cmocka here, it reports through pg and its result ---- */

static int hold(const struct pk_item *it, rp_task_ctx_t *ctx)
{
	uint32_t n = p_add(&pg->started);

	if (n > 2)
		return 0;
	pg->held[n - 1] = it->index;
	if (p_wait_ge(&pg->gate, 1, H_GUARD_S) == 0)
		return 0;
	p_add(&pg->guard);
	return rp_task_fail(ctx, P_CODE_GUARD, "item %d: gate never opened",
			    it->index);
}

/*
 * A hostile item's lie: its own slot, found through each_started, set
 * back to QUEUED, as if the run had never started, after items of it were
 * reported.  PK_LIE_RUN first waits for the owner to take those items, so
 * that they are reported when the caller cancels, and then stays running
 * until the test opens the gate.
 *
 * Runs shorten towards the end of a map (and of a requeued rest), down
 * to one-item chunks, which are not packed: a PK_LIE_KILL item in one
 * tells no lie (pr_running() tells) and only dies.
 */
static int lie(const struct pk_item *it, const void *arg,
	       rp_task_ctx_t *ctx)
{
	struct pr_region r;
	uint32_t slot, place;

	if (pr_find(&r) < 0) {
		p_add(&pg->no_slot);
		return rp_task_fail(ctx, NO_SLOT, "item %d: no region",
				    it->index);
	}
	if (pr_running(&r, arg, sizeof(*it), it->index, &slot, &place) < 0) {
		if (it->flags & PK_LIE_RUN) {
			p_add(&pg->no_slot);
			return rp_task_fail(ctx, NO_SLOT, "item %d: no run",
					    it->index);
		}
		p_add(&pg->unpacked);
		return 0;
	}
	if ((it->flags & PK_LIE_RUN) && pr_wait_taken(&r, H_GUARD_S) < 0) {
		p_add(&pg->guard);
		return rp_task_fail(ctx, P_CODE_GUARD,
				    "item %d: results never taken", it->index);
	}
	pr_say_queued(&r, slot);
	pg->lie_at[it->index] = place + 1;
	pg->lie_worker = rp_task_worker(ctx);
	p_add(&pg->lied);
	if (!(it->flags & PK_LIE_RUN) ||
	    p_wait_ge(&pg->gate, 1, H_GUARD_S) == 0)
		return 0;
	p_add(&pg->guard);
	return rp_task_fail(ctx, P_CODE_GUARD, "item %d: gate never opened",
			    it->index);
}

static int wait_rest(const struct pk_item *it, rp_task_ctx_t *ctx)
{
	if (p_wait_ge(&pg->done, (uint32_t)it->target, H_GUARD_S) == 0)
		return 0;
	return rp_task_fail(ctx, GAVE_UP, "item %d: %u items ended, not %d",
			    it->index,
			    __atomic_load_n(&pg->done, __ATOMIC_ACQUIRE),
			    it->target);
}

static int pk_task(const void *arg, size_t len, void *res, size_t cap,
		   rp_task_ctx_t *ctx)
{
	struct pk_item it;
	struct pk_res r = { 0 };
	int rc;

	if (!arg || len != sizeof(it) || !res || cap != sizeof(r))
		return rp_task_fail(ctx, BADARG, "len %zu, cap %zu", len, cap);
	memcpy(&it, arg, sizeof(it));
	if (it.index < 0 || it.index >= N_BIG)
		return rp_task_fail(ctx, BADARG, "index %d", it.index);
	if (rp_task_index(ctx) != it.index)
		p_add(&pg->wrong_index);
	if (it.flags & PK_COUNT) {
		pg->pid[it.index] = getpid();
		/* release: pairs with the acquire loads in assert_ran() and
		 * ran_at_most_once(), made once the map completed. */
		__atomic_add_fetch(&pg->ran[it.index], 1, __ATOMIC_RELEASE);
	}
	/* The first run only: ran[] counts them (PK_COUNT). */
	if ((it.flags & (PK_LIE_KILL | PK_LIE_RUN)) &&
	    __atomic_load_n(&pg->ran[it.index], __ATOMIC_ACQUIRE) == 1 &&
	    (rc = lie(&it, arg, ctx)) != 0)
		return rc;
	if ((it.flags & PK_HOLD) && (rc = hold(&it, ctx)) != 0)
		return rc;
	if ((it.flags & PK_WAIT) && (rc = wait_rest(&it, ctx)) != 0)
		return rc;
	r.out = 3 * it.value + 1;
	r.index = rp_task_index(ctx);
	r.pid = getpid();
	memcpy(res, &r, sizeof(r));
	if (it.flags & PK_DONE)
		p_add(&pg->done);
	if (it.flags & PK_KILL)
		raise(SIGKILL);
	if (it.flags & PK_FAIL)
		return rp_task_fail(ctx, FAIL_CODE(it.index), "item %d failed",
				    it.index);
	return 0;
}

/* ---- test side ---- */

/* items[0 .. n) with index = value = i and the given flags. */
static void fill(size_t n, uint32_t flags)
{
	for (size_t i = 0; i < n; i++)
		items[i] = (struct pk_item){ .index = (int32_t)i,
					     .flags = flags,
					     .value = (int64_t)i };
}

static rp_pool_t *pool_new(unsigned max_queued, unsigned max_failures)
{
	struct rp_pool_opts o = { .nworkers = NWORKERS,
				  .max_queued = max_queued,
				  .max_worker_failures = max_failures };

	return p_pool(&o);
}

static rp_result_t *map_async(rp_pool_t *pool, size_t n)
{
	rp_result_t *res = NULL;
	int rc = rp_map_async(pool, pk_task, items, n, sizeof(items[0]),
			      sizeof(struct pk_res), 1, NULL, &res);

	if (rc != 0)
		fail_msg("rp_map_async: %d (%s)", rc, rp_err_name(rc));
	assert_non_null(res);
	return res;
}

/* A map's outcome within the guard: its code, *ret_e its error if any. */
static int map_get(rp_result_t *res, const struct rp_error **ret_e)
{
	int rc = rp_result_get(res, H_GUARD_NS, NULL, NULL);

	assert_int_not_equal(rc, -ETIMEDOUT);
	*ret_e = rp_result_error(res);
	return rc;
}

/*
 * rp_map, but bounded by the guard: 0 with the results in out[], or the
 * failure's code with its error in *e.
 */
static int map_run(rp_pool_t *pool, size_t n, struct rp_error *e)
{
	rp_result_t *res = map_async(pool, n);
	const struct rp_error *err;
	const void *data = NULL;
	size_t len = 0;
	int rc = rp_result_get(res, H_GUARD_NS, &data, &len);

	memset(e, 0, sizeof(*e));
	if (rc == 0 && len == n * sizeof(out[0]))
		memcpy(out, data, len);
	else if (rc == 0)
		fail_msg("map: %zu bytes of results, not %zu", len,
			 n * sizeof(out[0]));
	else if ((err = rp_result_error(res)))
		*e = *err;
	rp_result_free(res);
	assert_int_not_equal(rc, -ETIMEDOUT);
	return rc;
}

/* map_run, which must succeed. */
static void map_ok(rp_pool_t *pool, size_t n)
{
	struct rp_error e;
	int rc = map_run(pool, n, &e);

	if (rc != 0)
		fail_msg("map: %d (%s), index %lld, task_code %d, \"%s\"", rc,
			 rp_err_name(rc), (long long)e.index, e.task_code,
			 e.message);
}

static void check_results(const struct pk_res *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (r[i].out != 3 * (int64_t)i + 1 || r[i].index != (int64_t)i)
			fail_msg("item %zu: out %lld, index %lld", i,
				 (long long)r[i].out, (long long)r[i].index);
	}
}

/* A plain map (nothing counted) succeeds with the right results. */
static void map_works(rp_pool_t *pool, size_t n)
{
	fill(n, 0);
	memset(out, 0, sizeof(out));
	map_ok(pool, n);
	check_results(out, n);
}

/* Every item of [0, n) started exactly `times` times. */
static void assert_ran(size_t n, uint32_t times)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t v = __atomic_load_n(&pg->ran[i], __ATOMIC_ACQUIRE);

		if (v != times)
			fail_msg("item %zu ran %u times, not %u", i, v, times);
	}
}

/* How many items of [0, n) started; fails if one started twice. */
static uint32_t ran_at_most_once(size_t n)
{
	uint32_t total = 0;

	for (size_t i = 0; i < n; i++) {
		uint32_t v = __atomic_load_n(&pg->ran[i], __ATOMIC_ACQUIRE);

		if (v > 1)
			fail_msg("item %zu ran %u times", i, v);
		total += v;
	}
	return total;
}

/* Items and packed records run, summed over workers; every worker idle. */
static void worker_totals(rp_pool_t *pool, uint64_t *items_run,
			  uint64_t *chunks_run)
{
	struct rp_worker_stats ws[NWORKERS];

	memset(ws, 0, sizeof(ws));
	assert_int_equal(rp_pool_stats(pool, NULL, ws, NWORKERS), NWORKERS);
	*items_run = *chunks_run = 0;
	for (int i = 0; i < NWORKERS; i++) {
		/* A map completes only once its chunks gave their slots
		 * back: a run's held items must all be released too. */
		if (ws[i].outstanding != 0)
			fail_msg("worker %d still holds %u chunks", i,
				 ws[i].outstanding);
		*items_run += ws[i].items;
		*chunks_run += ws[i].chunks;
	}
}

/* Wait for the two held items to be running, as a hang guard. */
static void wait_held(void)
{
	if (p_wait_ge(&pg->started, 2, H_GUARD_S) < 0)
		fail_msg("the held items never started (%u did)",
			 __atomic_load_n(&pg->started, __ATOMIC_ACQUIRE));
}

/* Items the workers ran, checked to have come in fewer records: some
 * were packed. */
static uint64_t packed_items_run(rp_pool_t *pool)
{
	uint64_t items_run, chunks_run;

	worker_totals(pool, &items_run, &chunks_run);
	print_message("# %llu items in %llu records\n",
		      (unsigned long long)items_run,
		      (unsigned long long)chunks_run);
	assert_true(chunks_run < items_run);
	return items_run;
}

/* The pool's counters, shown in the test's output. */
static void read_counters(rp_pool_t *pool, struct rp_pool_stats *st)
{
	assert_int_equal(rp_pool_stats(pool, st, NULL, 0), NWORKERS);
	print_message("# submitted %llu, sent %llu, completed %llu, "
		      "failed %llu, requeued %llu, respawns %llu\n",
		      (unsigned long long)st->tasks_submitted,
		      (unsigned long long)st->chunks_sent,
		      (unsigned long long)st->chunks_completed,
		      (unsigned long long)st->chunks_failed,
		      (unsigned long long)st->chunks_requeued,
		      (unsigned long long)st->respawns);
}

/*
 * Every item the pool took was told once, completed or failed: a double
 * report makes the sum exceed what was submitted, a lost one fall short.
 * (These counters count packed items one chunk each: case 7.)
 */
static void assert_told_once(rp_pool_t *pool, uint64_t submitted)
{
	struct rp_pool_stats st;

	read_counters(pool, &st);
	assert_int_equal(st.tasks_submitted, submitted);
	assert_int_equal(st.chunks_completed + st.chunks_failed, submitted);
}

/*
 * rp_pool_close and rp_pool_join within the guard (a count that went
 * past zero leaves join waiting), then the counters, final now, still
 * add up; then the pool goes.
 */
static void close_join(rp_pool_t *pool, uint64_t submitted)
{
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	assert_told_once(pool, submitted);
	p_destroy(pool);
}

/*
 * Until the PK_LIE_RUN item lied.  Meanwhile this thread waits on res,
 * and so drains the result rings: the items before the liar were shown
 * quietly (nothing wakes the owner for them), and the liar waits until
 * they were taken.
 */
static void wait_lied(rp_result_t *res)
{
	for (int i = 0; !__atomic_load_n(&pg->lied, __ATOMIC_ACQUIRE); i++) {
		int rc = rp_result_wait(res, 1000000);

		if (rc != -ETIMEDOUT)
			fail_msg("map ended (%d) before the lie: no_slot %u, "
				 "guard %u", rc, pg->no_slot, pg->guard);
		if (i >= H_GUARD_S * 1000)
			fail_msg("the liar never lied");
	}
}

/*
 * Until the owner has seen what the liar's worker did after the lie: its
 * slots all given back, or the worker replaced (its pid changed), found
 * corrupt.  Work that the worker got before then may fail with it, as
 * the running chunk of a corrupt worker does (the owner cannot tell
 * which of its chunks broke the rules).
 */
static void wait_liar_settled(rp_pool_t *pool, int worker, pid_t pid)
{
	const struct timespec ms = { .tv_nsec = 1000000 };
	struct rp_worker_stats ws[NWORKERS];

	assert_in_range(worker, 0, NWORKERS - 1);
	for (int i = 0;; i++) {
		memset(ws, 0, sizeof(ws));
		assert_int_equal(rp_pool_stats(pool, NULL, ws, NWORKERS),
				 NWORKERS);
		if (ws[worker].pid != pid || ws[worker].outstanding == 0)
			return;
		if (i >= H_GUARD_S * 1000)
			fail_msg("worker %d still holds %u chunks", worker,
				 ws[worker].outstanding);
		nanosleep(&ms, NULL);
	}
}

/*
 * 1. A map at chunksize 1 is right, and it was packed: the workers ran
 * fewer records than items.  Without packing the other cases test
 * nothing new.  rp_map writes into the caller's array, rp_map_async into
 * its result: both are checked.  (rp_map has no timeout, but nothing here
 * waits; every other map below is map_run's rp_map_async and a bounded
 * get.)
 */
static void packed_map_is_right(void **state)
{
	rp_pool_t *pool = pool_new(0, 0);
	struct rp_pool_stats st;
	uint64_t items_run, chunks_run;
	struct rp_error e;
	int rc;

	fill(N_BIG, PK_COUNT);
	memset(&e, 0, sizeof(e));
	rc = rp_map(pool, pk_task, items, N_BIG, sizeof(items[0]), out,
		    sizeof(out[0]), 1, &e);
	if (rc != 0)
		fail_msg("map: %d (%s), index %lld, \"%s\"", rc,
			 rp_err_name(rc), (long long)e.index, e.message);
	check_results(out, N_BIG);
	assert_ran(N_BIG, 1);
	assert_int_equal(pg->wrong_index, 0);

	assert_int_equal(packed_items_run(pool), N_BIG);

	map_works(pool, N_BIG);
	worker_totals(pool, &items_run, &chunks_run);
	assert_int_equal(items_run, 2 * N_BIG);
	assert_true(chunks_run < N_BIG);
	assert_int_equal(rp_pool_stats(pool, &st, NULL, 0), NWORKERS);
	assert_int_equal(st.tasks_submitted, 2 * N_BIG);
	assert_int_equal(st.chunks_failed, 0);
	assert_int_equal(st.chunks_requeued, 0);
	assert_int_equal(st.respawns, 0);
	assert_int_equal(st.chunks_completed, st.chunks_sent);
	p_destroy(pool);
}

/*
 * A map of N_MID items whose picked ones (inside runs) do what flag says:
 * it fails with code, at the lowest picked item, from the worker that ran
 * it.  The result stays the caller's, for more checks.
 */
static const struct rp_error *map_with_picked(rp_pool_t *pool, uint32_t flag,
					      int code, rp_result_t **ret_res)
{
	const struct rp_error *e;

	fill(N_MID, PK_COUNT);
	for (int i = 0; i < N_MID; i++)
		if (IS_PICKED(i))
			items[i].flags |= flag;
	*ret_res = map_async(pool, N_MID);
	assert_int_equal(map_get(*ret_res, &e), code);
	assert_non_null(e);
	assert_int_equal(e->code, code);
	assert_int_equal(e->index, FIRST_PICKED);
	assert_int_equal(e->worker_pid, pg->pid[FIRST_PICKED]);
	return e;
}

/* After map_with_picked: every item ran once, and the pool still works. */
static void each_ran_once_and_pool_works(rp_pool_t *pool)
{
	uint64_t items_run, chunks_run;

	assert_ran(N_MID, 1);
	assert_int_equal(pg->wrong_index, 0);
	map_works(pool, N_MID);
	worker_totals(pool, &items_run, &chunks_run);
}

/*
 * 2. Items that kill their worker inside runs: only the running item
 * fails, the rest of its run runs elsewhere, nothing runs twice (a killer
 * run again would also be counted twice), and the map reports the lowest
 * killer.
 */
static void death_fails_only_the_running_item(void **state)
{
	rp_pool_t *pool = pool_new(0, RP_NO_LIMIT);
	struct rp_pool_stats st;
	const struct rp_error *e;
	rp_result_t *res;

	e = map_with_picked(pool, PK_KILL, RP_EWORKER_DIED, &res);
	assert_int_equal(e->signal, SIGKILL);
	assert_int_equal(e->attempts, 1);
	rp_result_free(res);

	each_ran_once_and_pool_works(pool);
	assert_int_equal(rp_pool_stats(pool, &st, NULL, 0), NWORKERS);
	print_message("# %llu respawns, %llu chunks requeued\n",
		      (unsigned long long)st.respawns,
		      (unsigned long long)st.chunks_requeued);
	p_destroy(pool);
}

/*
 * 3. Items that fail inside runs fail only themselves: every item ran
 * once, and the map reports the lowest failing item, its code and its
 * message.
 */
static void failure_fails_only_its_item(void **state)
{
	rp_pool_t *pool = pool_new(0, 0);
	const struct rp_error *e;
	rp_result_t *res;

	e = map_with_picked(pool, PK_FAIL, RP_ETASK, &res);
	assert_int_equal(e->task_code, FAIL_CODE(FIRST_PICKED));
	assert_string_equal(e->message, "item 3 failed");
	rp_result_free(res);

	each_ran_once_and_pool_works(pool);
	p_destroy(pool);
}

/*
 * Cancel while each worker is held in the first item of its first run.
 * Only the two held items ever begin: nothing not yet begun starts,
 * neither the queued runs nor the rest of the two running ones, as if
 * each item were a queued chunk of its own (any item that started later,
 * say on a replacement worker, would be counted at once); the pool's
 * slots all come back.  Without force the held items end; with force
 * their workers are killed.
 */
static void cancel_while_held(bool force)
{
	rp_pool_t *pool = pool_new(0, 0);
	uint64_t items_run, chunks_run;
	const struct rp_error *e;
	rp_result_t *res;
	int rc;

	fill(N_SMALL, PK_COUNT | PK_HOLD);
	res = map_async(pool, N_SMALL);
	wait_held();
	assert_int_equal(rp_result_cancel(res, force), 0);
	if (!force)
		p_raise(&pg->gate);
	rc = map_get(res, &e);
	p_raise(&pg->gate);
	assert_int_equal(rc, RP_ECANCELED);
	assert_non_null(e);
	assert_int_equal(e->code, RP_ECANCELED);
	/* Item 0 was running: cancelled as the one-item chunk it is. */
	if (force)
		assert_int_equal(e->index, 0);
	rp_result_free(res);

	/* The next map runs behind whatever the first left on each worker. */
	map_works(pool, N_BIG);
	assert_int_equal(ran_at_most_once(N_SMALL), 2);
	assert_int_equal(pg->held[0] == 0 || pg->held[1] == 0, 1);
	assert_int_not_equal(pg->pid[pg->held[0]], pg->pid[pg->held[1]]);
	assert_int_equal(pg->ran[pg->held[0]], 1);
	assert_int_equal(pg->ran[pg->held[1]], 1);
	assert_int_equal(pg->started, 2);
	assert_int_equal(pg->guard, 0);
	assert_int_equal(pg->wrong_index, 0);
	worker_totals(pool, &items_run, &chunks_run);
	p_destroy(pool);
}

/* 4. Cancel without force. */
static void cancel_stops_what_has_not_started(void **state)
{
	cancel_while_held(false);
}

/* 5. Cancel with force: both workers are killed in the first item of their
 * runs, and the rest of those runs never starts. */
static void forced_cancel_ends_running_runs(void **state)
{
	cancel_while_held(true);
}

/*
 * 6. max_queued = 5, so runs of at most two (half of it), and an odd
 * limit: a worker holding four may take one more, a run cut to one.
 * Item 0 waits until every other item but four has ended.  Its worker
 * holds it and at most four chunks more, so all the others run on the
 * second worker; a run not cut would put a fifth behind item 0, and
 * item 0 gives up.
 */
static void runs_respect_max_queued(void **state)
{
	rp_pool_t *pool = pool_new(5, 0);

	fill(N_SMALL, PK_COUNT | PK_DONE);
	items[0].flags = PK_COUNT | PK_WAIT;
	items[0].target = N_SMALL - 5;
	map_ok(pool, N_SMALL);
	check_results(out, N_SMALL);
	assert_ran(N_SMALL, 1);
	assert_int_equal(pg->wrong_index, 0);
	/* Not vacuous: runs (of two) were sent. */
	packed_items_run(pool);
	p_destroy(pool);
}

/*
 * 7. The pool's counters count one-item chunks, packed or not: after one
 * death inside a run, every chunk is completed or failed once, and every
 * chunk sent twice was requeued once (chunks_sent counts each packed
 * item, so chunks_requeued must too).
 */
static void stats_count_each_requeued_item(void **state)
{
	rp_pool_t *pool = pool_new(0, 0);
	struct rp_pool_stats st;
	const struct rp_error *e;
	rp_result_t *res;

	fill(N_MID, PK_COUNT);
	items[FIRST_PICKED].flags |= PK_KILL;
	res = map_async(pool, N_MID);
	assert_int_equal(map_get(res, &e), RP_EWORKER_DIED);
	assert_non_null(e);
	assert_int_equal(e->index, FIRST_PICKED);
	rp_result_free(res);
	assert_ran(N_MID, 1);

	read_counters(pool, &st);
	assert_int_equal(st.tasks_submitted, N_MID);
	assert_int_equal(st.chunks_failed, 1);
	assert_int_equal(st.chunks_completed, N_MID - 1);
	/* Items 4 .. 15 at least, the rest of the killer's run. */
	assert_true(st.chunks_sent > N_MID);
	assert_int_equal(st.chunks_sent, N_MID + st.chunks_requeued);
	p_destroy(pool);
}

/*
 * 8. Liars that die: each picked item, on its first run, sets its own
 * slot (found through each_started) back to QUEUED, as if its run had
 * never started though items of it were reported, and kills its worker.
 * Only the liar and the items after it may run again (the liar says it
 * never began); the items before it were told already, and a requeue of
 * the whole run would tell them twice (the map's count would go past
 * zero).  A liar's second run only kills: it fails with RP_EWORKER_DIED,
 * and the lowest, FIRST_PICKED, is the map's error.  Every other item ran
 * once and completed, and each item was told once.
 */
static void lie_then_die_tells_once(void **state)
{
	rp_pool_t *pool = pool_new(0, RP_NO_LIMIT);
	struct rp_pool_stats st;
	const struct rp_error *e;
	rp_result_t *res;
	uint32_t liars = 0;
	int rc;

	fill(N_SMALL, PK_COUNT);
	for (int i = 0; i < N_SMALL; i++) {
		if (IS_PICKED(i)) {
			items[i].flags |= PK_LIE_KILL | PK_KILL;
			liars++;
		}
	}
	res = map_async(pool, N_SMALL);
	rc = map_get(res, &e);
	print_message("# map: %s; %u lies (the first by item %u of its "
		      "run), %u liars not in a packed run\n", rp_err_name(rc),
		      pg->lied, pg->lie_at[FIRST_PICKED] - 1, pg->unpacked);
	assert_int_equal(rc, RP_EWORKER_DIED);
	assert_non_null(e);
	assert_int_equal(e->code, RP_EWORKER_DIED);
	assert_int_equal(e->index, FIRST_PICKED);
	assert_int_equal(e->signal, SIGKILL);
	assert_int_equal(e->worker_pid, pg->pid[FIRST_PICKED]);
	rp_result_free(res);
	assert_told_once(pool, N_SMALL);

	assert_int_equal(pg->no_slot, 0);
	assert_int_equal(pg->lied + pg->unpacked, liars);
	/* Not vacuous: the first liar lied inside the map's first run. */
	assert_true(pg->lie_at[FIRST_PICKED] > 1);
	/* A liar ran again (it said it never started), no one else did. */
	for (int i = 0; i < N_SMALL; i++) {
		uint32_t want = pg->lie_at[i] ? 2 : 1;

		if (pg->ran[i] != want)
			fail_msg("item %d ran %u times, not %u", i, pg->ran[i],
				 want);
	}
	assert_int_equal(pg->wrong_index, 0);
	assert_int_equal(rp_pool_stats(pool, &st, NULL, 0), NWORKERS);
	assert_int_equal(st.chunks_failed, liars);
	assert_int_equal(st.chunks_sent, N_SMALL + st.chunks_requeued);

	map_works(pool, N_SMALL);
	close_join(pool, 2 * N_SMALL);
}

/*
 * 9. A liar that lives: FIRST_PICKED, inside the first run, waits until
 * the owner took the items before it, sets its own slot back to QUEUED
 * and stays running; the caller then cancels (no force).  The owner's CAS
 * QUEUED -> CANCELED on that slot succeeds, but only the items not yet
 * told may be cancelled, the liar and those after it: the ones before it
 * completed.  The liar then returns, and reports a result for a cancelled
 * chunk: the owner may kill its worker as corrupt.  So the map fails with
 * RP_ECANCELED, the liar (the lowest item not completed) as its index, or
 * with RP_ECORRUPT should the corrupt worker's death be what settles the
 * map's items; never succeeds (the liar runs until after the cancel).
 * The next map waits until that worker's end is seen.
 */
static void lie_then_cancel_tells_once(void **state)
{
	rp_pool_t *pool = pool_new(0, 0);
	const struct rp_error *e;
	rp_result_t *res;
	int rc;

	fill(N_SMALL, PK_COUNT);
	items[FIRST_PICKED].flags |= PK_LIE_RUN;
	res = map_async(pool, N_SMALL);
	wait_lied(res);
	assert_int_equal(rp_result_cancel(res, false), 0);
	p_raise(&pg->gate);
	rc = map_get(res, &e);
	print_message("# map: %s, index %lld; the liar was item %u of its "
		      "run\n", rp_err_name(rc), e ? (long long)e->index : -1LL,
		      pg->lie_at[FIRST_PICKED] - 1);
	if (rc != RP_ECANCELED && rc != RP_ECORRUPT)
		fail_msg("map: %d (%s)", rc, rp_err_name(rc));
	assert_told_once(pool, N_SMALL);
	assert_non_null(e);
	assert_int_equal(e->code, rc);
	if (rc == RP_ECANCELED)
		assert_int_equal(e->index, FIRST_PICKED);
	rp_result_free(res);

	assert_int_equal(pg->no_slot, 0);
	assert_int_equal(pg->lied, 1);
	/* Not vacuous: items of its run came before it. */
	assert_true(pg->lie_at[FIRST_PICKED] > 1);
	assert_true(ran_at_most_once(N_SMALL) < N_SMALL);
	assert_int_equal(pg->ran[FIRST_PICKED], 1);
	assert_int_equal(pg->guard, 0);
	assert_int_equal(pg->wrong_index, 0);

	wait_liar_settled(pool, pg->lie_worker, pg->pid[FIRST_PICKED]);
	map_works(pool, N_BIG);
	close_join(pool, N_SMALL + N_BIG);
}

/* rp_apply_async of one pk_item, the result the caller's. */
static rp_result_t *apply_item(rp_pool_t *pool, const struct pk_item *it)
{
	rp_result_t *res = NULL;

	assert_int_equal(rp_apply_async(pool, pk_task, it, sizeof(*it),
					sizeof(struct pk_res), NULL, &res),
			 0);
	return res;
}

/* The outcome of a result within the guard, its error copied out (zero
 * if none), and the result freed. */
static int take(rp_result_t *res, struct rp_error *e)
{
	const struct rp_error *err;
	int rc = map_get(res, &err);

	memset(e, 0, sizeof(*e));
	if (err)
		*e = *err;
	rp_result_free(res);
	return rc;
}

/*
 * 10. In a pool already broken, a worker's death fails the packed runs it
 * had queued and never begun as the pending queue failed when the pool
 * broke: RP_EBROKEN, attempts 0; the task it was running fails with
 * RP_EWORKER_DIED.  Two held applies keep both workers busy, a third
 * waits behind one of them (A); the map's first run, item 0 on, then goes
 * to the other (B), the least loaded, and its runs stay queued.  Killing
 * A breaks the pool (a budget of one failure): its runs go back to the
 * pending queue, which then fails.  Killing B is the case: the map's
 * first error, item 0's, is from B's death.  Nothing of the map ran.
 */
static void broken_pool_fails_unbegun_runs_as_broken(void **state)
{
	rp_pool_t *pool = pool_new(0, 1);
	const int hold_a = N_BIG - 1, hold_b = N_BIG - 2;
	struct pk_item held[2] = {
		{ .index = hold_a, .flags = PK_COUNT | PK_HOLD },
		{ .index = hold_b, .flags = PK_COUNT | PK_HOLD },
	}, behind = { .index = N_BIG - 3 };
	rp_result_t *held_res[2], *behind_res, *res, *r = NULL;
	struct rp_worker_stats ws[NWORKERS];
	struct rp_error e[4];
	int rc[4], a;

	for (int i = 0; i < 2; i++)
		held_res[i] = apply_item(pool, &held[i]);
	wait_held();
	behind_res = apply_item(pool, &behind);
	memset(ws, 0, sizeof(ws));
	assert_int_equal(rp_pool_stats(pool, NULL, ws, NWORKERS), NWORKERS);
	a = ws[0].outstanding == 2 ? 0 : 1;
	assert_int_equal(ws[a].outstanding, 2);
	assert_int_equal(ws[!a].outstanding, 1);
	/* Which held apply runs on A: swap so that held[0] is A's. */
	if (pg->pid[hold_a] != ws[a].pid) {
		rp_result_t *t = held_res[0];

		held_res[0] = held_res[1];
		held_res[1] = t;
	}
	fill(N_SMALL, PK_COUNT);
	res = map_async(pool, N_SMALL);

	assert_int_equal(kill(ws[a].pid, SIGKILL), 0);
	rc[0] = take(held_res[0], &e[0]);
	/* The death broke the pool under the lock every submit takes. */
	assert_int_equal(rp_apply_async(pool, pk_task, &behind, sizeof(behind),
					sizeof(struct pk_res), NULL, &r),
			 RP_EBROKEN);
	assert_null(r);
	assert_int_equal(kill(ws[!a].pid, SIGKILL), 0);
	rc[1] = take(held_res[1], &e[1]);
	rc[2] = take(res, &e[2]);
	rc[3] = take(behind_res, &e[3]);
	print_message("# map: %s, index %lld, attempts %u, \"%s\"\n",
		      rp_err_name(rc[2]), (long long)e[2].index, e[2].attempts,
		      e[2].message);
	close_join(pool, N_SMALL + 3);

	for (int i = 0; i < 2; i++) {
		assert_int_equal(rc[i], RP_EWORKER_DIED);
		assert_int_equal(e[i].signal, SIGKILL);
		assert_int_equal(e[i].attempts, 1);
		assert_int_equal(e[i].worker_pid, ws[i ? !a : a].pid);
	}
	for (int i = 2; i < 4; i++)
		p_assert_broken_unstarted(rc[i], &e[i]);
	assert_int_equal(e[2].index, 0);
	assert_int_equal(ran_at_most_once(N_SMALL), 0);
}

/* ---- fixtures ---- */

static int pk_group_setup(void **state)
{
	void *p = mmap(NULL, sizeof(struct pk_page), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	pg = p;
	/* After the page: the zygote and the warm-up pool inherit it. */
	return p_group_setup(state);
}

static int pk_setup(void **state)
{
	memset(pg, 0, sizeof(*pg));
	return p_setup(state);
}

static int pk_teardown(void **state)
{
	/* Let any held item go, so that its pool can be destroyed. */
	p_raise(&pg->gate);
	return p_teardown(state);
}

#define PK_T(fn) cmocka_unit_test_setup_teardown(fn, pk_setup, pk_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		PK_T(packed_map_is_right),
		PK_T(death_fails_only_the_running_item),
		PK_T(failure_fails_only_its_item),
		PK_T(cancel_stops_what_has_not_started),
		PK_T(forced_cancel_ends_running_runs),
		PK_T(runs_respect_max_queued),
		PK_T(stats_count_each_requeued_item),
		PK_T(lie_then_die_tells_once),
		PK_T(lie_then_cancel_tells_once),
		PK_T(broken_pool_fails_unbegun_runs_as_broken),
	};

	/* The page stays mapped: the zygote's snapshot outlives the group. */
	return cmocka_run_group_tests(tests, pk_group_setup, p_group_teardown);
}
