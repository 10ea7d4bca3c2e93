/* SPDX-License-Identifier: MIT */
/*
 * The forced fallbacks (RP_FALLBACK, lib/fallback.h) really take the older
 * kernels' paths.  meson runs this program twice: as it is, where the
 * cases that need a forced fallback skip, and with RP_FALLBACK=all.
 * tools/test also runs the api and seeds suites with RP_FALLBACK=all, so
 * every behaviour is checked on those paths; here is only the proof that
 * they are the paths taken.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool_harness.h"

#define NWORKERS 2

static bool forced(const char *name)
{
	const char *f = getenv("RP_FALLBACK");

	return f && (strstr(f, "all") || strstr(f, name));
}

static void need_forced(const char *name)
{
	if (!forced(name)) {
		print_message("RP_FALLBACK does not force %s here\n", name);
		skip();
	}
}

/* The eventfds among pid's open fds. */
static int eventfds_of(pid_t pid)
{
	char path[64], target[64];
	int n = 0;

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		len = readlink(path, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		n += strcmp(target, "anon_inode:[eventfd]") == 0;
	}
	return n;
}

/*
 * "uring_futex": the loop thread waits for results on an eventfd per
 * worker, which each worker holds (its only one), and results still flow,
 * a replacement worker included.
 */
static void uring_futex_eventfds(enum rp_start_method m)
{
	struct rp_pool_opts o = { .nworkers = NWORKERS, .start_method = m };
	struct p_arg die = { .slot = -1, .flags = P_KILL };
	pid_t pids[NWORKERS];
	rp_result_t *res;
	rp_pool_t *pool;

	need_forced("uring_futex");
	pool = p_pool(&o);
	for (int round = 0; round < 2; round++) {
		/* Workers that ran a task are past their set-up (which
		 * closes the fds they inherited but do not keep). */
		p_on_every_worker(pool, NWORKERS, pids);
		for (int i = 0; i < NWORKERS; i++)
			assert_int_equal(eventfds_of(pids[i]), 1);
		for (int i = 0; i < 200; i++) {
			struct p_arg a = p_plain(i);

			assert_int_equal(p_apply(pool, &a).out, 3 * i + 1);
		}
		/* A replacement gets the same worker's eventfd. */
		res = p_submit(pool, &die, NULL);
		assert_int_equal(rp_result_get(res, H_GUARD_NS, NULL, NULL),
				 RP_EWORKER_DIED);
		rp_result_free(res);
	}
	p_destroy(pool);
}
BOTH(uring_futex_eventfds)

/*
 * "pidfd_exit": a child's status is lost once another waiter reaped it.
 * A forkserver child is ours with SIGCHLD (enum rp_start_method), so this
 * test reaps it itself, first, and then asks the library: unknown, said
 * as -ECHILD, never a made-up code.  (Unforced, on Linux 6.15 and later,
 * the library reads the true code from the pidfd: test_foreign_reaper.)
 */
static void pidfd_exit_lost(void **state)
{
	rp_process_t *p;
	int status, code = SENTINEL;

	need_forced("pidfd_exit");
	p = h_new_blocker(RP_START_FORKSERVER, 0, 42, NULL, false);
	assert_int_equal(rp_process_start(p), 0);
	h_open_gate(0);
	assert_int_equal(waitpid(rp_process_pid(p), &status, 0),
			 rp_process_pid(p));
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 42);
	assert_int_equal(rp_process_join(p, H_GUARD_NS), 0);
	assert_int_equal(rp_process_exitcode(p, &code), -ECHILD);
	assert_int_equal(code, SENTINEL);
	h_free(p);
}

/* The same, unforced: the true code, where the kernel keeps it. */
static void pidfd_exit_kept(void **state)
{
	rp_process_t *p;
	int status, code = SENTINEL;

	if (forced("pidfd_exit"))
		skip();
	p = h_new_blocker(RP_START_FORKSERVER, 0, 42, NULL, false);
	assert_int_equal(rp_process_start(p), 0);
	h_open_gate(0);
	assert_int_equal(waitpid(rp_process_pid(p), &status, 0),
			 rp_process_pid(p));
	assert_int_equal(rp_process_join(p, H_GUARD_NS), 0);
	switch (rp_process_exitcode(p, &code)) {
	case 1:
		assert_int_equal(code, 42);
		break;
	case -ECHILD:
		print_message("this kernel keeps no status after another "
			      "waiter's reap (PIDFD_INFO_EXIT: Linux 6.15)\n");
		h_free(p);
		skip();
		break;
	default:
		fail_msg("rp_process_exitcode gave neither the code nor "
			 "-ECHILD");
	}
	h_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		P_T(uring_futex_eventfds_forkserver),
		P_T(uring_futex_eventfds_fork),
		P_T(pidfd_exit_lost),
		P_T(pidfd_exit_kept),
	};

	return cmocka_run_group_tests(tests, p_group_setup, p_group_teardown);
}
