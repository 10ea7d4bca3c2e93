/* SPDX-License-Identifier: MIT */
/*
 * A pool, and a process, outlive the thread that created them: a service
 * makes its pool in a start-up thread that then ends, and uses it from
 * others.  Linux sends a child its parent-death signal when the *thread*
 * that made it ends (or, for a zygote's CLONE_PARENT children, the thread
 * that made the zygote), so this is the library telling that apart from
 * the owner's own death (lib/spawn.c, on_parent_gone).
 *
 * Each case lets the creating thread end for good (h_join_thread_gone:
 * by then the kernel has sent the signals), and only then asks the
 * children for work: a child returns to user mode, and so handles a
 * pending signal, before it can run anything.  The pool has a restart
 * budget of one failure, so a single death it did not ask for would break
 * it; it must keep its very workers (same pids, no respawn).
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool_harness.h"

#define NWORKERS 2

struct maker {
	enum rp_start_method method;
	pid_t tid;
	int rc;
	rp_pool_t *pool;
	rp_process_t *proc;
};

/* Runs in the short-lived thread: no cmocka here. */
static void *make_pool(void *arg)
{
	struct maker *mk = arg;
	struct rp_pool_opts o = {
		.nworkers = NWORKERS,
		.start_method = mk->method,
		.max_worker_failures = 1,
	};

	mk->tid = gettid();
	mk->rc = rp_pool_create(&o, &mk->pool);
	return NULL;
}

/* In a thread, then gone, and its pool tracked. */
static rp_pool_t *pool_from_ended_thread(enum rp_start_method m)
{
	struct maker mk = { .method = m };
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, make_pool, &mk), 0);
	h_join_thread_gone(t, &mk.tid);
	if (mk.rc != 0)
		fail_msg("rp_pool_create in a thread: %s", rp_err_name(mk.rc));
	return p_track(mk.pool);
}

static bool known_pid(const struct rp_worker_stats *ws, pid_t pid)
{
	for (int i = 0; i < NWORKERS; i++)
		if (ws[i].pid == pid)
			return true;
	return false;
}

static void pool_outlives_creator(enum rp_start_method m)
{
	rp_pool_t *pool = pool_from_ended_thread(m);
	struct rp_worker_stats ws[NWORKERS];
	struct rp_pool_stats st;
	pid_t pids[NWORKERS];

	/* The workers the ended thread started. */
	assert_int_equal(rp_pool_stats(pool, NULL, ws, NWORKERS), NWORKERS);
	p_on_every_worker(pool, NWORKERS, pids);
	for (int i = 0; i < NWORKERS; i++)
		if (!known_pid(ws, pids[i]))
			fail_msg("a task ran in %d, not in a worker the creating "
				 "thread started: the workers died with it",
				 (int)pids[i]);
	for (int i = 0; i < 100; i++) {
		struct p_arg a = p_plain(i);

		assert_int_equal(p_apply(pool, &a).out, 3 * i + 1);
	}
	assert_int_equal(rp_pool_stats(pool, &st, NULL, 0), NWORKERS);
	assert_int_equal(st.respawns, 0);
	assert_int_equal(st.zygote_restarts, 0);
	assert_int_equal(rp_pool_survivors(pool, NULL, 0), NWORKERS);
	p_destroy(pool);
}
BOTH(pool_outlives_creator)

/* Runs in the short-lived thread: no cmocka here. */
static void *start_process(void *arg)
{
	struct maker *mk = arg;
	struct h_block_arg a = { .slot = 0, .code = 42 };
	struct rp_process_opts o = {
		.target = h_block_fn,
		.arg = &a,
		.arg_len = sizeof(a),
		.start_method = mk->method,
	};

	mk->tid = gettid();
	mk->rc = rp_process_create(&o, &mk->proc);
	if (mk->rc == 0 && (mk->rc = rp_process_start(mk->proc)) != 0) {
		rp_process_free(mk->proc);
		mk->proc = NULL;
	}
	/* Not before the child armed its parent-death signal (it does so
	 * before it reports ready): a thread that ended earlier would send
	 * it nothing. */
	if (mk->rc == 0 && h_child_wait_ready(0, H_GUARD_S) < 0)
		mk->rc = -ETIMEDOUT;
	return NULL;
}

/*
 * The forkserver's children are the zygote's CLONE_PARENT clones: the
 * thread that counts is the one that made the zygote.  The warm-up made
 * it on this thread, so it is killed first, and the ending thread's start
 * makes the next one (lib/process.c replaces a lost zygote).
 */
static pid_t zygote_made_by_next_start(enum rp_start_method m)
{
	pid_t z;
	int fd;

	if (m != RP_START_FORKSERVER)
		return 0;
	z = h_find_child("rp-zygote");
	assert_true(z > 0);
	fd = h_pidfd(z);
	assert_int_equal(kill(z, SIGKILL), 0);
	h_pidfd_wait(fd);
	h_pidfd_close(fd);
	return z;
}

static void process_outlives_creator(enum rp_start_method m)
{
	pid_t old_zygote = zygote_made_by_next_start(m);
	struct maker mk = { .method = m };
	rp_process_t *again;
	pthread_t t;
	pid_t zygote;

	assert_int_equal(pthread_create(&t, NULL, start_process, &mk), 0);
	h_join_thread_gone(t, &mk.tid);
	assert_int_equal(mk.rc, 0);
	h_track(mk.proc);

	/* Alive after its creator: it gets past its gate and exits 42. */
	h_open_gate(0);
	assert_int_equal(h_join_code(mk.proc), 42);
	assert_int_equal(h_sh->done[0], 1);
	h_free(mk.proc);
	if (m != RP_START_FORKSERVER)
		return;

	/* The zygote the ended thread made lives on and serves the next. */
	zygote = h_find_child("rp-zygote");
	assert_true(zygote > 0 && zygote != old_zygote);
	again = h_new_blocker(m, 1, 7, NULL, false);
	assert_int_equal(rp_process_start(again), 0);
	h_open_gate(1);
	assert_int_equal(h_join_code(again), 7);
	assert_int_equal(h_find_child("rp-zygote"), zygote);
	h_free(again);
}
BOTH(process_outlives_creator)

int main(void)
{
	const struct CMUnitTest tests[] = {
		P_T(pool_outlives_creator_forkserver),
		P_T(pool_outlives_creator_fork),
		P_T(process_outlives_creator_forkserver),
		P_T(process_outlives_creator_fork),
	};

	return cmocka_run_group_tests(tests, p_group_setup, p_group_teardown);
}
