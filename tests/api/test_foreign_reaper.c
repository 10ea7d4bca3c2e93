/* SPDX-License-Identifier: MIT */
/*
 * Exit statuses survive an application's own reaper: the common SIGCHLD
 * handler that loops on waitpid(-1, ..., WNOHANG), or a thread blocked in
 * waitpid(-1).  Such a waiter can reap the library's children before the
 * library does (enum rp_start_method in ringpool.h says which ones); every
 * worker death and every process exit must still be reported with its
 * true status.  Where the kernel keeps no status for a child another
 * waiter reaped (before Linux 6.15, or with RP_FALLBACK=pidfd_exit), the
 * report must say the status is unknown (exit_status -1, exitcode
 * -ECHILD), never give a wrong one; the test allows that only for a pid
 * the reaper is seen to have taken.
 *
 * Which side reaps first is a race, so each case ends many children; it
 * prints how many the reaper took.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool_harness.h"

#define NWORKERS 2
#define ROUNDS 8
#define MAX_REAPED 256

/* What the application's reaper took: pids and statuses, in order. */
static struct {
	_Atomic int n;
	pid_t pid[MAX_REAPED];
	int status[MAX_REAPED];
} reaped;

static void record(pid_t pid, int status)
{
	int i = atomic_fetch_add(&reaped.n, 1);

	if (i < MAX_REAPED) {
		reaped.pid[i] = pid;
		reaped.status[i] = status;
	}
}

static int64_t rp_test_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool reaper_has(pid_t pid)
{
	int n = atomic_load(&reaped.n);

	for (int i = 0; i < n && i < MAX_REAPED; i++)
		if (reaped.pid[i] == pid)
			return true;
	return false;
}

/*
 * Whether the reaper took pid, asked only where the library says another
 * waiter did: the reaper is then at most between its waitpid and its
 * record, so wait that out (bounded by the guard).
 */
static bool reaper_took(pid_t pid)
{
	int64_t end = rp_test_now_ns() + H_GUARD_NS;

	while (!reaper_has(pid)) {
		if (rp_test_now_ns() > end)
			return false;
		sched_yield();
	}
	return true;
}

/* The common handler: reap whatever has ended. */
static void on_sigchld(int sig)
{
	int saved = errno, status;
	pid_t pid;

	(void)sig;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		record(pid, status);
	errno = saved;
}

/* ---- the two kinds of reaper ---------------------------------------------- */

enum reaper { HANDLER, THREAD };

static pthread_t reaper_thread;
static atomic_bool reaper_stop;
static int reaper_running = -1;   /* enum reaper, or -1 */

static void *reap_forever(void *arg)
{
	(void)arg;
	while (!atomic_load(&reaper_stop)) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);

		if (pid > 0)
			record(pid, status);
		else if (errno == ECHILD)
			sched_yield(); /* nothing to wait for right now */
	}
	return NULL;
}

static void reaper_start(enum reaper kind)
{
	atomic_store(&reaped.n, 0);
	reaper_running = (int)kind;
	if (kind == HANDLER) {
		struct sigaction sa = { .sa_handler = on_sigchld,
					.sa_flags = SA_RESTART | SA_NOCLDSTOP };

		sigemptyset(&sa.sa_mask);
		assert_int_equal(sigaction(SIGCHLD, &sa, NULL), 0);
		return;
	}
	atomic_store(&reaper_stop, false);
	assert_int_equal(pthread_create(&reaper_thread, NULL, reap_forever,
					NULL), 0);
}

/* A child of our own that ends at once wakes a thread blocked in waitpid. */
static void reaper_stop_now(enum reaper kind)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	pid_t pid;

	reaper_running = -1;
	if (kind == HANDLER) {
		assert_int_equal(sigaction(SIGCHLD, &dfl, NULL), 0);
		return;
	}
	atomic_store(&reaper_stop, true);
	pid = fork();
	if (pid == 0)
		_exit(0);
	assert_true(pid > 0);
	assert_int_equal(pthread_join(reaper_thread, NULL), 0);
	/* Unless the thread took it before it stopped. */
	waitpid(pid, NULL, 0);
}

static void reaper_report(void)
{
	print_message("the application's reaper took %d children\n",
		      atomic_load(&reaped.n));
}

/* fn(method, reaper) as four cases: each reaper, each start method. */
#define REAPERS(fn)                                                            \
	static void fn##_handler(enum rp_start_method m)                       \
	{                                                                      \
		fn(m, HANDLER);                                                \
	}                                                                      \
	BOTH(fn##_handler)                                                     \
	static void fn##_thread(enum rp_start_method m)                        \
	{                                                                      \
		fn(m, THREAD);                                                 \
	}                                                                      \
	BOTH(fn##_thread)

/* ---- can the kernel tell us a status another waiter took? ---------------- */

struct pidfd_info_v0 {
	uint64_t mask, cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid;
	uint32_t fsuid, fsgid;
	int32_t exit_code;
};

#define PIDFD_GET_INFO_V0 _IOWR(0xFF, 11, struct pidfd_info_v0)
#define PIDFD_INFO_EXIT_BIT (1ull << 3)

/* PIDFD_INFO_EXIT (Linux 6.15), unless RP_FALLBACK forbids its use. */
static bool statuses_kept(void)
{
	const char *f = getenv("RP_FALLBACK");
	struct pidfd_info_v0 info = { .mask = PIDFD_INFO_EXIT_BIT };
	pid_t pid;
	int fd, st;
	bool kept;

	if (f && (strstr(f, "all") || strstr(f, "pidfd_exit")))
		return false;
	pid = fork();
	if (pid == 0)
		_exit(3);
	assert_true(pid > 0);
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	kept = fd >= 0 && ioctl(fd, PIDFD_GET_INFO_V0, &info) == 0 &&
	       (info.mask & PIDFD_INFO_EXIT_BIT) && WIFEXITED(info.exit_code) &&
	       WEXITSTATUS(info.exit_code) == 3;
	if (fd >= 0)
		close(fd);
	return kept;
}

/* ---- pool workers ---------------------------------------------------------- */

static int segv_task(const void *arg, size_t arg_len, void *res,
		     size_t res_cap, rp_task_ctx_t *ctx)
{
	raise(SIGSEGV);
	return 0;
}

enum death { EXIT_7, SEGV, KILLED };

static rp_result_t *submit_death(rp_pool_t *pool, enum death d)
{
	struct p_arg a = { .slot = -1, .flags = d == EXIT_7 ? P_EXIT : P_KILL,
			   .code = 7 };
	rp_result_t *res = NULL;

	if (d != SEGV)
		return p_submit(pool, &a, NULL);
	assert_int_equal(rp_apply_async(pool, segv_task, NULL, 0, 0, NULL,
					&res), 0);
	return res;
}

/* The error of one worker death: true, or (if allowed) plainly unknown. */
static void check_death(enum death d, const struct rp_error *e, bool kept)
{
	int want_sig = d == SEGV ? SIGSEGV : d == KILLED ? SIGKILL : 0;

	assert_int_equal(e->code, RP_EWORKER_DIED);
	if (!kept && e->exit_status == -1 && reaper_took(e->worker_pid)) {
		/* Lost: only what the worker itself recorded of a crash. */
		assert_true(e->signal == 0 || e->signal == want_sig);
		assert_non_null(strstr(e->message, "took its exit status"));
		return;
	}
	if (e->signal != want_sig || e->exit_status != (d == EXIT_7 ? 7 : 0))
		fail_msg("worker %d: signal %d, exit status %d (want %d, %d)"
			 "%s: %s", (int)e->worker_pid, e->signal,
			 e->exit_status, want_sig, d == EXIT_7 ? 7 : 0,
			 reaper_has(e->worker_pid) ? ", reaped by the "
			 "application" : "", e->message);
}

static void worker_deaths(enum rp_start_method m, enum reaper kind)
{
	struct rp_pool_opts o = { .nworkers = NWORKERS, .start_method = m,
				  .max_worker_failures = RP_NO_LIMIT };
	bool kept = statuses_kept();
	rp_pool_t *pool;

	reaper_start(kind);
	pool = p_pool(&o);
	for (int i = 0; i < 3 * ROUNDS; i++) {
		enum death d = (enum death)(i % 3);
		rp_result_t *res = submit_death(pool, d);

		assert_int_equal(rp_result_get(res, H_GUARD_NS, NULL, NULL),
				 RP_EWORKER_DIED);
		check_death(d, rp_result_error(res), kept);
		if (m == RP_START_FORK && reaper_has(rp_result_error(res)->worker_pid))
			fail_msg("the application reaped a RP_START_FORK worker");
		rp_result_free(res);
	}
	reaper_report();
	p_destroy(pool);
	reaper_stop_now(kind);
}

REAPERS(worker_deaths)

/* ---- processes -------------------------------------------------------------- */

/* An exit code: true, or (if allowed) plainly unknown. */
static void check_exit(rp_process_t *p, int want, bool kept)
{
	int code = INT32_MIN;
	int rc;

	assert_int_equal(rp_process_join(p, H_GUARD_NS), 0);
	rc = rp_process_exitcode(p, &code);
	if (rc == -ECHILD && !kept && reaper_took(rp_process_pid(p)))
		return;
	if (rc != 1 || code != want)
		fail_msg("process %d: exitcode returned %d with %d, want 1 "
			 "with %d%s", (int)rp_process_pid(p), rc, code, want,
			 reaper_has(rp_process_pid(p)) ?
			 " (reaped by the application)" : "");
}

static void process_exits(enum rp_start_method m, enum reaper kind)
{
	bool kept = statuses_kept();

	reaper_start(kind);
	for (int i = 0; i < ROUNDS; i++) {
		rp_process_t *p = h_new_blocker(m, 0, 42, NULL, false);
		rp_process_t *k = h_new_blocker(m, 1, 0, NULL, false);

		h_sh->gate[0] = 0;
		h_sh->ready[1] = 0;
		assert_int_equal(rp_process_start(p), 0);
		assert_int_equal(rp_process_start(k), 0);
		h_open_gate(0);
		check_exit(p, 42, kept);
		h_wait_ready(1);
		assert_int_equal(rp_process_kill(k), 0);
		check_exit(k, -9, kept);
		if (m == RP_START_FORK &&
		    (reaper_has(rp_process_pid(p)) || reaper_has(rp_process_pid(k))))
			fail_msg("the application reaped a RP_START_FORK child");
		h_free(p);
		h_free(k);
	}
	reaper_report();
	reaper_stop_now(kind);
}

REAPERS(process_exits)

/* A failed case leaves no reaper behind for the next one. */
static int teardown(void **state)
{
	if (reaper_running >= 0)
		reaper_stop_now((enum reaper)reaper_running);
	return p_teardown(state);
}

#define R_T(fn) cmocka_unit_test_setup_teardown(fn, p_setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		R_T(worker_deaths_handler_forkserver),
		R_T(worker_deaths_handler_fork),
		R_T(worker_deaths_thread_forkserver),
		R_T(worker_deaths_thread_fork),
		R_T(process_exits_handler_forkserver),
		R_T(process_exits_handler_fork),
		R_T(process_exits_thread_forkserver),
		R_T(process_exits_thread_fork),
	};

	return cmocka_run_group_tests(tests, p_group_setup, p_group_teardown);
}
