/* SPDX-License-Identifier: MIT */
/*
 * rp_pool_stats: the counters add up to the work done, follow a worker's
 * replacement, and name the workers' processes.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "leak.h"
#include "ringpool.h"

#define N_ITEMS 1000
/* A join this long is one that waits on a worker never told to exit. */
#define JOIN_GUARD_NS ((int64_t)30 * 1000000000)

static int add_one(const void *arg, size_t len, void *res, size_t cap,
		   rp_task_ctx_t *ctx)
{
	int64_t x;

	memcpy(&x, arg, sizeof(x));
	x++;
	memcpy(res, &x, sizeof(x));
	return 0;
}

static int die_task(const void *arg, size_t len, void *res, size_t cap,
		    rp_task_ctx_t *ctx)
{
	raise(SIGKILL);
	return 0;
}

static int my_pid(const void *arg, size_t len, void *res, size_t cap,
		  rp_task_ctx_t *ctx)
{
	pid_t pid = getpid();

	memcpy(res, &pid, sizeof(pid));
	return 0;
}

static rp_pool_t *pool_new(unsigned n)
{
	struct rp_pool_opts o = { .nworkers = n };
	rp_pool_t *pool = NULL;

	assert_int_equal(rp_pool_create(&o, &pool), 0);
	return pool;
}

/* A map's items and chunks are all counted, once, on both sides. */
static void counts_add_up(void **state)
{
	rp_pool_t *pool = pool_new(2);
	int64_t in[N_ITEMS], out[N_ITEMS];
	struct rp_worker_stats ws[2];
	struct rp_pool_stats st;
	uint64_t items = 0, chunks = 0;

	for (int i = 0; i < N_ITEMS; i++)
		in[i] = i;
	assert_int_equal(rp_map(pool, add_one, in, N_ITEMS, sizeof(in[0]), out,
				sizeof(out[0]), 10, NULL),
			 0);
	assert_int_equal(rp_pool_stats(pool, &st, ws, 2), 2);
	assert_int_equal(st.nworkers, 2);
	assert_int_equal(st.tasks_submitted, N_ITEMS);
	assert_int_equal(st.chunks_sent, N_ITEMS / 10);
	assert_int_equal(st.chunks_completed, N_ITEMS / 10);
	assert_int_equal(st.chunks_failed, 0);
	assert_int_equal(st.respawns, 0);
	for (int i = 0; i < 2; i++) {
		assert_true(ws[i].pid > 0);
		assert_int_equal(ws[i].outstanding, 0);
		assert_true(ws[i].rss_bytes > 0);
		assert_true(ws[i].busy_ns > 0);
		items += ws[i].items;
		chunks += ws[i].chunks;
	}
	assert_int_equal(items, N_ITEMS);
	assert_int_equal(chunks, N_ITEMS / 10);
	rp_pool_destroy(pool);
}

/* A death is a failed chunk and a respawn; the new process starts at 0. */
static void replacement_counted(void **state)
{
	rp_pool_t *pool = pool_new(1);
	struct rp_worker_stats before, after;
	struct rp_pool_stats st;
	pid_t pid = 0;

	assert_int_equal(rp_apply(pool, my_pid, NULL, 0, &pid, sizeof(pid), NULL,
				  NULL),
			 0);
	assert_int_equal(rp_pool_stats(pool, NULL, &before, 1), 1);
	assert_int_equal(before.pid, pid);
	assert_int_equal(before.items, 1);
	assert_int_equal(rp_apply(pool, die_task, NULL, 0, NULL, 0, NULL, NULL),
			 RP_EWORKER_DIED);
	assert_int_equal(rp_apply(pool, my_pid, NULL, 0, &pid, sizeof(pid), NULL,
				  NULL),
			 0);
	assert_int_equal(rp_pool_stats(pool, &st, &after, 1), 1);
	assert_int_equal(st.chunks_failed, 1);
	assert_int_equal(st.respawns, 1);
	assert_int_equal(st.chunks_completed, 2);
	assert_int_equal(after.pid, pid);
	assert_int_not_equal(after.pid, before.pid);
	assert_int_equal(after.items, 1);
	rp_pool_destroy(pool);
}

/*
 * Join tells the workers to exit while the loop thread, which replaces
 * workers that end, still runs: none of them may be replaced (join would
 * then wait forever on a worker never told to exit).  The loop thread sees
 * an exit only when it gets there before it is stopped, so the check is
 * repeated.
 */
static void join_replaces_nothing(void **state)
{
	for (int round = 0; round < 50; round++) {
		rp_pool_t *pool = pool_new(2);
		struct rp_pool_stats st;
		pid_t pid = 0;

		assert_int_equal(rp_apply(pool, my_pid, NULL, 0, &pid,
					  sizeof(pid), NULL, NULL),
				 0);
		assert_int_equal(rp_pool_close(pool), 0);
		assert_int_equal(rp_pool_join(pool, JOIN_GUARD_NS), 0);
		assert_int_equal(rp_pool_stats(pool, &st, NULL, 0), 2);
		assert_int_equal(st.respawns, 0);
		assert_int_equal(st.chunks_failed, 0);
		rp_pool_destroy(pool);
	}
}

/* Bad input changes nothing; a short array gets the first workers. */
static void bad_input(void **state)
{
	rp_pool_t *pool = pool_new(2);
	struct rp_worker_stats one = { .items = 77 };
	struct rp_pool_stats st = { .tasks_submitted = 77 };

	assert_int_equal(rp_pool_stats(NULL, &st, NULL, 0), -EINVAL);
	assert_int_equal(rp_pool_stats(pool, &st, NULL, 1), -EINVAL);
	assert_int_equal(st.tasks_submitted, 77);
	assert_int_equal(rp_pool_stats(pool, NULL, &one, 1), 2);
	assert_true(one.pid > 0);
	assert_int_equal(one.items, 0);
	rp_pool_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(counts_add_up, leak_setup,
						leak_teardown),
		cmocka_unit_test_setup_teardown(replacement_counted, leak_setup,
						leak_teardown),
		cmocka_unit_test_setup_teardown(join_replaces_nothing, leak_setup,
						leak_teardown),
		cmocka_unit_test_setup_teardown(bad_input, leak_setup,
						leak_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
