/* SPDX-License-Identifier: MIT */
/*
 * Worker placement: a pinned worker moves off the CPU of an owner thread
 * that waits there, when the pool has a CPU without a worker, and only
 * then.  The test thread pins itself to a worker's CPU and waits on a task
 * held back by a gate in shared memory, for a timeout far beyond the
 * library's 10 us threshold: every such wait outlasts the threshold by
 * construction, however the scheduler treats the test.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <cmocka.h>

#include "leak.h"
#include "ringpool.h"

/* The gated wait's timeout: far beyond the waiter's 10 us threshold
 * (lib/placement.c); the task cannot finish before it. */
#define GATE_WAIT_NS 1000000
/* How often a gated task looks at the gate. */
#define GATE_POLL_NS 20000
/* Round trips that must not move a worker once it has moved. */
#define QUIET_ROUNDS 8
#define MAX_FULL_POOL 16

/* Shared with the workers: mapped before the first pool, so the zygote
 * and every worker inherit it.  0: tasks wait; 1: they go. */
static _Atomic uint32_t *gate;

/* Waits for the gate, then returns the CPU it runs on. */
static int where_after_gate(const void *arg, size_t len, void *res,
			    size_t cap, rp_task_ctx_t *ctx)
{
	struct timespec ts = { 0, GATE_POLL_NS };
	int32_t cpu;

	(void)arg, (void)len, (void)ctx;
	if (cap < sizeof(cpu))
		return EINVAL;
	while (!atomic_load(gate))
		nanosleep(&ts, NULL);
	cpu = sched_getcpu();
	memcpy(res, &cpu, sizeof(cpu));
	return 0;
}

/* Kills its worker. */
static int die(const void *arg, size_t len, void *res, size_t cap,
	       rp_task_ctx_t *ctx)
{
	(void)arg, (void)len, (void)res, (void)cap, (void)ctx;
	raise(SIGKILL);
	return 0;
}

/*
 * One task, waited for with the gate closed until the wait times out,
 * then with it open.  Returns the CPU the task ran on.
 */
static int32_t task_cpu(rp_pool_t *pool)
{
	rp_result_t *r = NULL;
	const void *data = NULL;
	size_t len = 0;
	int32_t cpu;

	atomic_store(gate, 0);
	assert_int_equal(rp_apply_async(pool, where_after_gate, NULL, 0,
					sizeof(cpu), NULL, &r),
			 0);
	assert_int_equal(rp_result_wait(r, GATE_WAIT_NS), -ETIMEDOUT);
	atomic_store(gate, 1);
	assert_int_equal(rp_result_get(r, RP_FOREVER, &data, &len), 0);
	assert_int_equal(len, sizeof(cpu));
	memcpy(&cpu, data, sizeof(cpu));
	rp_result_free(r);
	return cpu;
}

static void pin_self(int cpu, cpu_set_t *ret_old)
{
	cpu_set_t one;

	assert_int_equal(sched_getaffinity(0, sizeof(*ret_old), ret_old), 0);
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
}

static void unpin_self(const cpu_set_t *old)
{
	assert_int_equal(sched_setaffinity(0, sizeof(*old), old), 0);
}

static int worker_cpu(rp_pool_t *pool, unsigned i, uint64_t *ret_moves)
{
	struct rp_worker_stats ws[MAX_FULL_POOL];
	struct rp_pool_stats s;

	assert_true(i < MAX_FULL_POOL);
	assert_true(rp_pool_stats(pool, &s, ws, MAX_FULL_POOL) > (int)i);
	if (ret_moves)
		*ret_moves = s.worker_moves;
	return ws[i].cpu;
}

/* Runs after the move: the worker's own affinity is the one new CPU. */
static void assert_pinned(rp_pool_t *pool, int cpu)
{
	struct rp_worker_stats ws[1];
	cpu_set_t set;

	assert_int_equal(rp_pool_stats(pool, NULL, ws, 1), 1);
	assert_int_equal(sched_getaffinity(ws[0].pid, sizeof(set), &set), 0);
	assert_int_equal(CPU_COUNT(&set), 1);
	assert_true(CPU_ISSET(cpu, &set));
}

/* An allowed CPU other than cpu, or -1. */
static int other_cpu(int cpu)
{
	cpu_set_t set;

	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (c != cpu && CPU_ISSET(c, &set))
			return c;
	return -1;
}

/* A one-worker pool, and its worker's CPU; skips with one CPU. */
static rp_pool_t *one_worker_pool(int *ret_cpu)
{
	struct rp_pool_opts o = { .nworkers = 1 };
	rp_pool_t *pool = NULL;

	if (rp_cpu_count() < 2)
		skip(); /* one CPU: nowhere to move to */
	assert_int_equal(rp_pool_create(&o, &pool), 0);
	*ret_cpu = worker_cpu(pool, 0, NULL);
	assert_true(*ret_cpu >= 0);
	return pool;
}

/* Pins the test thread to from, the worker's CPU, and waits there once:
 * the worker is asked to move.  Returns where to. */
static int wait_on_worker_cpu(rp_pool_t *pool, int from, cpu_set_t *ret_old)
{
	uint64_t moves;
	int to;

	pin_self(from, ret_old);
	(void)task_cpu(pool);
	to = worker_cpu(pool, 0, &moves);
	assert_int_equal(moves, 1);
	assert_true(to >= 0);
	assert_int_not_equal(to, from);
	return to;
}

static void worker_leaves_a_waiting_thread(void **state)
{
	rp_pool_t *pool;
	cpu_set_t old;
	uint64_t moves;
	int from, to;

	(void)state;
	pool = one_worker_pool(&from);

	/* Waiting on another CPU moves nothing. */
	pin_self(other_cpu(from), &old);
	assert_int_equal(task_cpu(pool), from);
	assert_int_equal(worker_cpu(pool, 0, &moves), from);
	assert_int_equal(moves, 0);
	unpin_self(&old);

	to = wait_on_worker_cpu(pool, from, &old);
	/* The worker follows as it publishes that task's result, before
	 * it can see the next task: the next one runs there. */
	assert_int_equal(task_cpu(pool), to);
	assert_pinned(pool, to);

	/* Apart now: more waits here move nothing. */
	for (int i = 0; i < QUIET_ROUNDS; i++)
		assert_int_equal(task_cpu(pool), to);
	assert_int_equal(worker_cpu(pool, 0, &moves), to);
	assert_int_equal(moves, 1);
	unpin_self(&old);
	rp_pool_destroy(pool);
}

/* A worker that died after a move is replaced where it had moved to. */
static void replacement_keeps_the_move(void **state)
{
	struct rp_worker_stats ws[1];
	rp_pool_t *pool;
	cpu_set_t old;
	uint64_t moves;
	pid_t first;
	int from, to;

	(void)state;
	pool = one_worker_pool(&from);
	to = wait_on_worker_cpu(pool, from, &old);
	assert_int_equal(rp_pool_stats(pool, NULL, ws, 1), 1);
	first = ws[0].pid;

	assert_int_equal(rp_apply(pool, die, NULL, 0, NULL, 0, NULL, NULL),
			 RP_EWORKER_DIED);
	/* The next task runs on the replacement, pinned where the first
	 * had moved; this wait, still on `from`, moves nothing. */
	assert_int_equal(task_cpu(pool), to);
	assert_int_equal(rp_pool_stats(pool, NULL, ws, 1), 1);
	assert_int_not_equal(ws[0].pid, first);
	assert_pinned(pool, to);
	assert_int_equal(worker_cpu(pool, 0, &moves), to);
	assert_int_equal(moves, 1);
	unpin_self(&old);
	rp_pool_destroy(pool);
}

/* As many workers as CPUs: no CPU is free, so no worker moves. */
static void full_pool_stays(void **state)
{
	struct rp_pool_opts o = { .nworkers = (unsigned)rp_cpu_count() };
	rp_pool_t *pool = NULL;
	cpu_set_t old;
	uint64_t moves;
	int cpu;

	(void)state;
	if (o.nworkers > MAX_FULL_POOL)
		skip(); /* a worker per CPU would be too many for a test */
	assert_int_equal(rp_pool_create(&o, &pool), 0);
	cpu = worker_cpu(pool, 0, NULL);
	assert_true(cpu >= 0);
	pin_self(cpu, &old);
	for (int i = 0; i < QUIET_ROUNDS; i++)
		(void)task_cpu(pool);
	unpin_self(&old);
	assert_int_equal(worker_cpu(pool, 0, &moves), cpu);
	assert_int_equal(moves, 0);
	rp_pool_destroy(pool);
}

/* no_pinning: workers run anywhere, and placement leaves them alone. */
static void unpinned_pool_stays(void **state)
{
	struct rp_pool_opts o = { .nworkers = 1, .no_pinning = true };
	rp_pool_t *pool = NULL;
	uint64_t moves;

	(void)state;
	assert_int_equal(rp_pool_create(&o, &pool), 0);
	for (int i = 0; i < QUIET_ROUNDS; i++)
		(void)task_cpu(pool);
	assert_int_equal(worker_cpu(pool, 0, &moves), -1);
	assert_int_equal(moves, 0);
	rp_pool_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(worker_leaves_a_waiting_thread,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(replacement_keeps_the_move,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(full_pool_stays, leak_setup,
						leak_teardown),
		cmocka_unit_test_setup_teardown(unpinned_pool_stays,
						leak_setup, leak_teardown),
	};
	void *page = mmap(NULL, sizeof(*gate), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (page == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	gate = page;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
