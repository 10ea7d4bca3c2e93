/* SPDX-License-Identifier: MIT */
/*
 * Shared harness for the Pool API tests (tests/api/test_pool_*.c and the
 * Pool seeds in tests/seeds).
 *
 * Tasks run in worker processes, which are cloned from a snapshot of the
 * test process.  They report through one MAP_SHARED|MAP_ANONYMOUS page,
 * p_sh, mapped in the group setup before any zygote or pool exists, so every
 * worker of every start method shares it; globals are NOT shared (each
 * worker has its own copy).  Besides the page, a task reports through its
 * result (struct p_rep) and its failure code and message.
 *
 * Synchronisation is event-driven: a task raises started[slot] and may then
 * wait for gate[slot], which only the test opens, or for the page's counter
 * to reach a target.  Every wait is bounded (H_GUARD_S) as a hang guard; a
 * task whose wait ran out sets guard[slot] and fails with P_CODE_GUARD, so
 * a broken library fails the test instead of hanging it.  Nothing here
 * sleeps or asserts on elapsed time.
 *
 * Tasks never assert: only the test process calls cmocka.  Callbacks run
 * in the test process (on the pool's callback thread) and only record what
 * they saw in p_cb; the test asserts on it afterwards.
 */
#ifndef RP_TEST_POOL_HARNESS_H
#define RP_TEST_POOL_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "ringpool.h"

#define P_SLOTS 256
#define P_PIDS 256

/* What the initializer stores in its worker's globals, and its argument. */
#define P_INIT_MAGIC 0x1417
#define P_INIT_ARG "p_init argument"

/* Failure codes of the generic task for its own problems. */
#define P_CODE_BADARG 98  /* arg or res_cap not what the task expects */
#define P_CODE_GUARD 99   /* a wait ran out its hang guard */

struct p_shared {
	uint32_t gate[P_SLOTS];    /* 0 closed, 1 open: written by the test */
	uint32_t started[P_SLOTS]; /* raised when a task on the slot began */
	uint32_t done[P_SLOTS];    /* raised when it got past its waits */
	uint32_t guard[P_SLOTS];   /* raised when one of its waits ran out */
	int32_t pid[P_SLOTS];      /* getpid() of the task on the slot */
	uint32_t count;            /* a counter tasks add to (P_COUNT) */
	uint32_t clock;            /* ticks, to order task starts and ends */
	uint32_t init_count;       /* initializer runs, all workers */
	int32_t init_pid[P_PIDS];  /* their pids, in order */
	uint32_t init_fail;        /* non-zero: the initializer fails */
};

extern struct p_shared *p_sh;

/* ---- the generic task ---- */

enum p_flags {
	P_GATE = 1u << 0,       /* wait for gate[slot] */
	P_COUNT = 1u << 1,      /* add 1 to count, wait for count >= target */
	P_FAIL = 1u << 2,       /* rp_task_fail(code, "task <value> failed") */
	P_FAIL_RAW = 1u << 3,   /* return code, no message */
	P_EXIT = 1u << 4,       /* _exit(code) */
	P_KILL = 1u << 5,       /* raise(SIGKILL) */
	P_SHORT = 1u << 6,      /* rp_task_set_result_len(target) */
	P_WAIT_DONE = 1u << 7,  /* wait for done[target] */
	P_LONGMSG = 1u << 8,    /* fail with a 400-character message */
};

/* The argument (or map item) of p_task. */
struct p_arg {
	int32_t slot;     /* -1: no slot (no started/done/pid records) */
	uint32_t flags;   /* enum p_flags */
	int32_t code;     /* the failure or exit code */
	int32_t target;   /* P_COUNT's target, P_SHORT's length, P_WAIT_DONE's
			   * slot */
	int64_t value;    /* echoed in the report */
};

/* What p_task writes to its result. */
struct p_rep {
	int64_t value;    /* the argument's value */
	int64_t out;      /* 3 * value + 1 */
	int64_t index;    /* rp_task_index() */
	int32_t pid;      /* getpid() */
	int32_t worker;   /* rp_task_worker() */
	int32_t init;     /* P_INIT_MAGIC when the initializer ran here */
	int32_t seq;      /* 1 for this process's first task, then 2, ... */
	uint32_t tick_start, tick_end; /* from p_sh->clock */
};

int p_task(const void *arg, size_t arg_len, void *res, size_t res_cap,
	   rp_task_ctx_t *ctx);

/* Records its run in p_sh; fails when p_sh->init_fail is set. */
int p_init(const void *arg, size_t arg_len, rp_task_ctx_t *ctx);

static inline struct p_arg p_plain(int64_t value)
{
	return (struct p_arg){ .slot = -1, .value = value };
}

static inline struct p_arg p_gated(int slot, int64_t value)
{
	return (struct p_arg){ .slot = slot, .flags = P_GATE, .value = value };
}

/* ---- futex words, both sides ---- */

/* Wait until *word >= target, at most guard_s seconds: 0, or -1. */
int p_wait_ge(uint32_t *word, uint32_t target, int guard_s);
/* Store 1 (release) and wake every waiter. */
void p_raise(uint32_t *word);
/* Add 1 (release), wake every waiter, return the new value. */
uint32_t p_add(uint32_t *word);

/* ---- test side ---- */

/* Bounded wait for started[slot] / done[slot]; fails the test. */
void p_wait_started(int slot);
void p_wait_done(int slot);
void p_open(int slot);

/* Create (asserting success) and track, so a failed test leaks nothing. */
rp_pool_t *p_pool(const struct rp_pool_opts *opts);
/* Track a pool made elsewhere (by another thread), as p_pool does. */
rp_pool_t *p_track(rp_pool_t *pool);
/* A pool of n workers with p_init as initializer. */
rp_pool_t *p_pool_n(unsigned n);
/* Untrack and rp_pool_destroy(). */
void p_destroy(rp_pool_t *pool);

/* Track iterators the same way (freed before the pools at teardown). */
rp_iter_t *p_track_iter(rp_iter_t *it);
void p_iter_free(rp_iter_t *it);

/* rp_apply_async (asserting 0) of p_task with *a. */
rp_result_t *p_submit(rp_pool_t *pool, const struct p_arg *a,
		      const struct rp_submit_opts *opts);
/* n tasks at once, one on each of the pool's n workers (they meet at
 * p_sh->count, which this resets); their pids in ret_pids (may be NULL). */
void p_on_every_worker(rp_pool_t *pool, unsigned n, pid_t *ret_pids);
/* rp_result_get within the guard, asserting 0 and a whole p_rep. */
const struct p_rep *p_get(rp_result_t *res);
/* rp_apply of p_task, asserting 0. */
struct p_rep p_apply(rp_pool_t *pool, const struct p_arg *a);

/* Whether pid is one the initializer recorded. */
bool p_init_pid_known(pid_t pid);

/* A task that never started, failed by a worker's death in a pool the
 * restart budget broke: as the pool's pending ones (rc, and *e). */
void p_assert_broken_unstarted(int rc, const struct rp_error *e);

/* ---- callbacks, test side ---- */

/* One per async call that has callbacks: what its callbacks saw. */
struct p_cbrec {
	int ok;           /* callback runs */
	int err;          /* error_callback runs */
	int ready;        /* rp_result_ready() inside the last run */
	int successful;   /* rp_result_successful() inside the last run */
	int get_rc;       /* rp_result_get(res, 0) inside the last run */
	int err_code;     /* rp_result_error()->code, or 0 */
	size_t len;       /* the length get gave inside the last run */
	int64_t value;    /* the (first) p_rep.value read inside the
			   * callback, or -1 */
};

/* Totals over every callback of the test (reset by p_setup). */
struct p_cbstats {
	int calls;
	int in_flight;
	int max_in_flight;
	int wrong_pid;    /* runs in a process other than the test's */
	int no_user;      /* runs with a NULL user pointer */
	pid_t owner_pid;  /* the test process */
};
extern struct p_cbstats p_cb;

/* Record into (struct p_cbrec *)user. */
void p_cb_ok(rp_result_t *res, void *user);
void p_cb_err(rp_result_t *res, void *user);
/* Submit options using the two above with rec as user. */
struct rp_submit_opts p_cb_opts(struct p_cbrec *rec);

/* ---- fixtures ---- */

/* Map p_sh, run h_group_setup, warm up one pool. */
int p_group_setup(void **state);
int p_group_teardown(void **state);
/* Reset p_sh and p_cb, h_setup(); open gates, free iterators, destroy
 * pools, h_teardown() (which checks for leaks). */
int p_setup(void **state);
int p_teardown(void **state);

#define P_T(fn) cmocka_unit_test_setup_teardown(fn, p_setup, p_teardown)

#endif
