/* SPDX-License-Identifier: MIT */
/*
 * A lost zygote is replaced when it is next needed.  The zygote is a big,
 * idle process, the kind the OOM killer picks; losing it must not break a
 * pool at its next worker replacement, nor stop rp_process starts (Python
 * restarts its fork server too).
 *
 * Each case kills the zygote with SIGKILL and waits for its end through a
 * pidfd, then makes the library need it: a task that kills its worker
 * (a replacement comes from the zygote), or a process start.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool_harness.h"

#define NWORKERS 2

static void kill_and_wait(pid_t pid)
{
	int fd = h_pidfd(pid);

	assert_int_equal(kill(pid, SIGKILL), 0);
	h_pidfd_wait(fd);
	h_pidfd_close(fd);
}

static struct rp_pool_stats stats_of(rp_pool_t *pool)
{
	struct rp_pool_stats st;

	assert_int_equal(rp_pool_stats(pool, &st, NULL, 0), NWORKERS);
	return st;
}

/* A task that ends its worker (SIGKILL), and the replacement's first work:
 * every worker at once, so the replacement must have started. */
static void lose_a_worker(rp_pool_t *pool)
{
	struct p_arg die = { .slot = -1, .flags = P_KILL };
	rp_result_t *res = p_submit(pool, &die, NULL);

	assert_int_equal(rp_result_get(res, H_GUARD_NS, NULL, NULL),
			 RP_EWORKER_DIED);
	rp_result_free(res);
	p_on_every_worker(pool, NWORKERS, NULL);
}

/*
 * Twice over: the zygote killed, then a worker lost.  Each replacement
 * worker comes from a new zygote, counted, and the pool never breaks.
 */
static void pool_replaces_lost_zygote(void **state)
{
	struct rp_pool_opts o = { .nworkers = NWORKERS,
				  .start_method = RP_START_FORKSERVER };
	rp_pool_t *pool = p_pool(&o);

	for (unsigned round = 1; round <= 2; round++) {
		struct rp_pool_stats before = stats_of(pool), after;

		assert_true(before.zygote_pid > 0);
		kill_and_wait(before.zygote_pid);
		lose_a_worker(pool);
		after = stats_of(pool);
		assert_int_equal(after.zygote_restarts, round);
		assert_int_equal(after.respawns, round);
		assert_true(after.zygote_pid > 0);
		assert_int_not_equal(after.zygote_pid, before.zygote_pid);
	}
	for (int i = 0; i < 50; i++) {
		struct p_arg a = p_plain(i);

		assert_int_equal(p_apply(pool, &a).out, 3 * i + 1);
	}
	p_destroy(pool);
}

/* A pool of the other method has no zygote to lose. */
static void fork_pool_has_no_zygote(void **state)
{
	struct rp_pool_opts o = { .nworkers = NWORKERS,
				  .start_method = RP_START_FORK };
	rp_pool_t *pool = p_pool(&o);

	assert_int_equal(stats_of(pool).zygote_pid, 0);
	p_destroy(pool);
}

/* The process-wide zygote of rp_process: the next start replaces it. */
static void process_replaces_lost_zygote(void **state)
{
	pid_t old = h_find_child("rp-zygote");
	rp_process_t *p;

	assert_true(old > 0);
	kill_and_wait(old);
	p = h_new_blocker(RP_START_FORKSERVER, 0, 42, NULL, false);
	assert_int_equal(rp_process_start(p), 0);
	h_open_gate(0);
	assert_int_equal(h_join_code(p), 42);
	h_free(p);
	assert_true(h_find_child("rp-zygote") > 0);
	assert_int_not_equal(h_find_child("rp-zygote"), old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		P_T(pool_replaces_lost_zygote),
		P_T(fork_pool_has_no_zygote),
		P_T(process_replaces_lost_zygote),
	};

	return cmocka_run_group_tests(tests, p_group_setup, p_group_teardown);
}
