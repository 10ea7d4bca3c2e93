/* SPDX-License-Identifier: MIT */
/*
 * Failures and what they leave behind: a task's own children die with its
 * worker, whether the worker is killed, crashes, or the pool is
 * terminated, or the owner itself is killed; nothing a task started
 * outlives the pool.  And how each failure is named: a crash, the restart
 * budget, a death in a pool already broken.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "leak.h"
#include "pool_harness.h"
#include "ringpool.h"

#define GUARD_MS 30000

/* Shared with the workers: mapped before each pool is created. */
struct page {
	_Atomic uint32_t grandchild;  /* futex: the pid of the task's child */
	_Atomic uint32_t release;     /* futex: the test lets the task go */
	_Atomic uint32_t worker;      /* the pid of the worker running it */
	_Atomic uint32_t held;        /* futex: hold_task runs that began */
	_Atomic uint32_t held_pid[2]; /* the worker of each hold_task */
	_Atomic uint32_t init_runs;   /* initializers that began */
	int32_t start_rc;             /* rp_pool_create's, in another owner */
	struct rp_error start_error;  /* its init_error */
};

static struct page *page_new(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

static void futex_wait_shared(_Atomic uint32_t *w, uint32_t v,
			      const struct timespec *timeout)
{
	syscall(SYS_futex, w, FUTEX_WAIT, v, timeout, NULL, 0);
}

static void futex_wake_shared(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* The task: fork a child that waits forever, report its pid, then do as
 * told: block (for terminate) or die by SIGKILL. */
struct start_child_arg {
	struct page *page;
	int die;
};

static int start_child(const void *arg, size_t len, void *res, size_t cap,
		       rp_task_ctx_t *ctx)
{
	struct start_child_arg a;
	pid_t pid;

	memcpy(&a, arg, sizeof(a));
	pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	if (pid < 0)
		return rp_task_fail(ctx, errno, "fork failed");
	atomic_store(&a.page->worker, (uint32_t)getpid());
	atomic_store(&a.page->grandchild, (uint32_t)pid);
	futex_wake_shared(&a.page->grandchild);
	if (a.die)
		raise(SIGKILL);
	while (atomic_load(&a.page->release) == 0)
		futex_wait_shared(&a.page->release, 0, NULL);
	return 0;
}

/* The grandchild's pid, once the task reported it (a hang guard only). */
static pid_t wait_grandchild(struct page *page)
{
	struct timespec guard = { .tv_sec = GUARD_MS / 1000 };

	if (atomic_load(&page->grandchild) == 0)
		futex_wait_shared(&page->grandchild, 0, &guard);
	if (atomic_load(&page->grandchild) == 0)
		fail_msg("the task never reported its child");
	return (pid_t)atomic_load(&page->grandchild);
}

/* The process ends within the guard (it is not our child: a pidfd). */
static void assert_ends(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p;

	if (fd < 0) {
		assert_int_equal(errno, ESRCH); /* already gone */
		return;
	}
	p.fd = fd;
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, GUARD_MS), 1);
	close(fd);
}

static rp_pool_t *pool_new(void)
{
	struct rp_pool_opts o = { .nworkers = 2 };
	rp_pool_t *pool = NULL;

	assert_int_equal(rp_pool_create(&o, &pool), 0);
	return pool;
}

/* A worker killed mid-task takes the task's child with it. */
static void worker_death_ends_task_children(void **state)
{
	struct page *page = page_new();
	rp_pool_t *pool = pool_new();
	struct start_child_arg a = { .page = page, .die = 1 };
	struct rp_error e;

	assert_int_equal(rp_apply(pool, start_child, &a, sizeof(a), NULL, 0,
				  NULL, &e),
			 RP_EWORKER_DIED);
	assert_int_equal(e.signal, SIGKILL);
	assert_ends(wait_grandchild(page));
	rp_pool_destroy(pool);
	munmap(page, 4096);
}

/* terminate ends the running task and what it started. */
static void terminate_ends_task_children(void **state)
{
	struct page *page = page_new();
	rp_pool_t *pool = pool_new();
	struct start_child_arg a = { .page = page };
	rp_result_t *r;

	assert_int_equal(rp_apply_async(pool, start_child, &a, sizeof(a), 0,
					NULL, &r),
			 0);
	pid_t child = wait_grandchild(page);

	assert_int_equal(rp_pool_terminate(pool), 0);
	assert_int_equal(rp_result_get(r, RP_FOREVER, NULL, NULL),
			 RP_ETERMINATED);
	assert_ends(child);
	rp_result_free(r);
	rp_pool_destroy(pool);
	munmap(page, 4096);
}

/* A graceful close + join also leaves nothing behind. */
static void join_ends_task_children(void **state)
{
	struct page *page = page_new();
	rp_pool_t *pool = pool_new();
	struct start_child_arg a = { .page = page };
	rp_result_t *r;

	assert_int_equal(rp_apply_async(pool, start_child, &a, sizeof(a), 0,
					NULL, &r),
			 0);
	pid_t child = wait_grandchild(page);

	atomic_store(&page->release, 1);
	futex_wake_shared(&page->release);
	assert_int_equal(rp_result_get(r, RP_FOREVER, NULL, NULL), 0);
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, RP_FOREVER), 0);
	assert_ends(child);
	rp_result_free(r);
	rp_pool_destroy(pool);
	munmap(page, 4096);
}

static int die_task(const void *arg, size_t len, void *res, size_t cap,
		    rp_task_ctx_t *ctx)
{
	raise(SIGKILL);
	return 0;
}

static int ok_task(const void *arg, size_t len, void *res, size_t cap,
		   rp_task_ctx_t *ctx)
{
	return 0;
}

/* Faults on purpose: a store through a NULL pointer. */
__attribute__((noinline)) static int segv_task(const void *arg, size_t len,
						void *res, size_t cap,
						rp_task_ctx_t *ctx)
{
	*(volatile int *)(uintptr_t)(len - len) = 1;
	return 0;
}

static int abort_task(const void *arg, size_t len, void *res, size_t cap,
		      rp_task_ctx_t *ctx)
{
	abort();
}

/*
 * A crash comes back with the signal and the worker's stack at the fault:
 * its innermost frame is in the faulting task.
 */
static void crash_reports_backtrace(void **state)
{
	rp_pool_t *pool;
	uint64_t fn = (uint64_t)(uintptr_t)segv_task;
	struct rp_error e;

#if defined(__SANITIZE_ADDRESS__)
	/* Its runtime takes over fault signals and null stores first. */
	print_message("# skip: AddressSanitizer handles fault signals itself\n");
	skip();
#endif
	pool = pool_new();
	memset(&e, 0, sizeof(e));
	assert_int_equal(rp_apply(pool, segv_task, NULL, 0, NULL, 0, NULL, &e),
			 RP_EWORKER_DIED);
	assert_int_equal(e.signal, SIGSEGV);
	assert_true(e.backtrace_len > 0 && e.backtrace_len <= RP_BACKTRACE_MAX);
	assert_true(e.backtrace[0] >= fn && e.backtrace[0] < fn + 256);

	memset(&e, 0, sizeof(e));
	assert_int_equal(rp_apply(pool, abort_task, NULL, 0, NULL, 0, NULL, &e),
			 RP_EWORKER_DIED);
	assert_int_equal(e.signal, SIGABRT);
	assert_true(e.backtrace_len > 0);

	/* A plain kill is no crash: no stack. */
	memset(&e, 0, sizeof(e));
	assert_int_equal(rp_apply(pool, die_task, NULL, 0, NULL, 0, NULL, &e),
			 RP_EWORKER_DIED);
	assert_int_equal(e.signal, SIGKILL);
	assert_int_equal(e.backtrace_len, 0);
	rp_pool_destroy(pool);
}

/* Reports that it started, then holds until the test releases it. */
static int gate_task(const void *arg, size_t len, void *res, size_t cap,
		     rp_task_ctx_t *ctx)
{
	struct page *page;

	memcpy(&page, arg, sizeof(page));
	atomic_store(&page->grandchild, (uint32_t)getpid());
	futex_wake_shared(&page->grandchild);
	while (atomic_load(&page->release) == 0)
		futex_wait_shared(&page->release, 0, NULL);
	return 0;
}

/*
 * Cancelling a running task needs force: its worker is killed and
 * replaced, the task completes with RP_ECANCELED, and the task queued
 * behind it on that worker runs on the replacement.
 */
static void cancel_running_with_force(void **state)
{
	struct page *page = page_new();
	struct rp_pool_opts o = { .nworkers = 1 };
	rp_pool_t *pool = NULL;
	rp_result_t *held, *next;
	const struct rp_error *e;

	assert_int_equal(rp_pool_create(&o, &pool), 0);
	assert_int_equal(rp_apply_async(pool, gate_task, &page, sizeof(page), 0,
					NULL, &held),
			 0);
	assert_int_equal(rp_apply_async(pool, ok_task, NULL, 0, 0, NULL, &next),
			 0);
	wait_grandchild(page); /* the gate task runs: next is queued */
	assert_int_equal(rp_result_cancel(held, false), -EBUSY);
	assert_int_equal(rp_result_cancel(held, true), 0);
	assert_int_equal(rp_result_get(held, RP_FOREVER, NULL, NULL),
			 RP_ECANCELED);
	e = rp_result_error(held);
	assert_non_null(e);
	assert_int_equal(e->code, RP_ECANCELED);
	assert_int_equal(rp_result_get(next, RP_FOREVER, NULL, NULL), 0);
	rp_result_free(held);
	rp_result_free(next);
	rp_pool_destroy(pool);
	munmap(page, 4096);
}

/*
 * The restart budget: with room for 3 failures, two crashes are replaced
 * and the pool still works; the third breaks it, and submits say so.
 */
static void restart_budget_breaks_pool(void **state)
{
	struct rp_pool_opts o = { .nworkers = 2, .max_worker_failures = 3,
				  .failure_window_ns = 3600 * (int64_t)1000000000 };
	rp_pool_t *pool = NULL;
	rp_result_t *r = NULL;
	struct rp_error e;

	assert_int_equal(rp_pool_create(&o, &pool), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(rp_apply(pool, die_task, NULL, 0, NULL, 0, NULL,
					  &e),
				 RP_EWORKER_DIED);
	assert_int_equal(rp_apply(pool, ok_task, NULL, 0, NULL, 0, NULL, &e), 0);
	assert_int_equal(rp_apply(pool, die_task, NULL, 0, NULL, 0, NULL, &e),
			 RP_EWORKER_DIED);
	/* The loop fails the third task and breaks the pool under the lock
	 * every submit takes: the next call cannot slip in between. */
	assert_int_equal(rp_apply_async(pool, ok_task, NULL, 0, 0, NULL, &r),
			 RP_EBROKEN);
	assert_null(r);
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, RP_FOREVER), 0);
	rp_pool_destroy(pool);
}

/* Notes its worker as the which-th held, then holds until released. */
struct hold_arg {
	struct page *page;
	int which;
};

static int hold_task(const void *arg, size_t len, void *res, size_t cap,
		     rp_task_ctx_t *ctx)
{
	struct hold_arg a;

	memcpy(&a, arg, sizeof(a));
	atomic_store(&a.page->held_pid[a.which], (uint32_t)getpid());
	atomic_fetch_add(&a.page->held, 1);
	futex_wake_shared(&a.page->held);
	while (atomic_load(&a.page->release) == 0)
		futex_wait_shared(&a.page->release, 0, NULL);
	return 0;
}

/* Until n hold_task runs began (a hang guard only). */
static void wait_held(struct page *page, uint32_t n)
{
	struct timespec guard = { .tv_sec = GUARD_MS / 1000 };
	uint32_t seen;

	while ((seen = atomic_load(&page->held)) < n) {
		futex_wait_shared(&page->held, seen, &guard);
		if (atomic_load(&page->held) == seen)
			fail_msg("%u of %u held tasks began", seen, n);
	}
}

/* A task killed with its worker: the signal, one run, that worker. */
static void assert_killed(rp_result_t *r, pid_t worker)
{
	const struct rp_error *e;

	assert_int_equal(rp_result_get(r, RP_FOREVER, NULL, NULL),
			 RP_EWORKER_DIED);
	e = rp_result_error(r);
	assert_non_null(e);
	assert_int_equal(e->signal, SIGKILL);
	assert_int_equal(e->attempts, 1);
	assert_int_equal(e->worker_pid, worker);
}

/*
 * In a pool already broken, a worker's death fails the tasks it had
 * queued and never started as the pending ones failed when the pool
 * broke: RP_EBROKEN, attempts 0, the pool's reason; the task it was
 * running fails with RP_EWORKER_DIED, one run.  max_queued = 2: each
 * worker holds a running task and one queued behind it, and two wait in
 * the owner.  The first kill breaks the pool (a budget of one failure):
 * its queued task goes back to the pending queue, which then fails.  The
 * second kill is the case: its worker's queued task never ran.
 */
static void broken_pool_fails_queued_as_broken(void **state)
{
	struct page *page = page_new();
	struct rp_pool_opts o = { .nworkers = 2, .max_queued = 2,
				  .max_worker_failures = 1,
				  .failure_window_ns = 3600 * (int64_t)1000000000 };
	struct rp_worker_stats ws[2];
	rp_result_t *held[2], *queued[4], *r = NULL;
	struct rp_error e[4];
	rp_pool_t *pool = NULL;
	int rc[4];

	memset(e, 0, sizeof(e));
	assert_int_equal(rp_pool_create(&o, &pool), 0);
	for (int i = 0; i < 2; i++) {
		struct hold_arg a = { .page = page, .which = i };

		assert_int_equal(rp_apply_async(pool, hold_task, &a, sizeof(a),
						0, NULL, &held[i]),
				 0);
	}
	wait_held(page, 2);
	for (int i = 0; i < 4; i++)
		assert_int_equal(rp_apply_async(pool, ok_task, NULL, 0, 0, NULL,
						&queued[i]),
				 0);
	/* Not vacuous: each worker holds a queued task behind its held one. */
	assert_int_equal(rp_pool_stats(pool, NULL, ws, 2), 2);
	assert_int_equal(ws[0].outstanding, 2);
	assert_int_equal(ws[1].outstanding, 2);

	assert_int_equal(kill((pid_t)page->held_pid[0], SIGKILL), 0);
	assert_killed(held[0], (pid_t)page->held_pid[0]);
	/* The death broke the pool under the lock every submit takes. */
	assert_int_equal(rp_apply_async(pool, ok_task, NULL, 0, 0, NULL, &r),
			 RP_EBROKEN);
	assert_null(r);

	assert_int_equal(kill((pid_t)page->held_pid[1], SIGKILL), 0);
	assert_killed(held[1], (pid_t)page->held_pid[1]);
	for (int i = 0; i < 4; i++) {
		rc[i] = rp_result_get(queued[i], RP_FOREVER, NULL, NULL);
		if (rp_result_error(queued[i]))
			e[i] = *rp_result_error(queued[i]);
		rp_result_free(queued[i]);
	}
	for (int i = 0; i < 2; i++)
		rp_result_free(held[i]);
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, RP_FOREVER), 0);
	rp_pool_destroy(pool);
	munmap(page, 4096);
	/* Checked once the pool is gone: a failure leaves nothing behind. */
	for (int i = 0; i < 4; i++)
		print_message("# queued %d: %s, attempts %u, \"%s\"\n", i,
			      rp_err_name(rc[i]), e[i].attempts, e[i].message);
	for (int i = 0; i < 4; i++)
		p_assert_broken_unstarted(rc[i], &e[i]);
}

/* ---- a start that fails -------------------------------------------------- */

/* Notes that it began (page->init_runs), then kills its own worker. */
static int dying_init(const void *arg, size_t len, rp_task_ctx_t *ctx)
{
	struct page *page;

	memcpy(&page, arg, sizeof(page));
	atomic_fetch_add(&page->init_runs, 1);
	raise(SIGKILL);
	return 0;
}

/* Notes that it began, and succeeds. */
static int noting_init(const void *arg, size_t len, rp_task_ctx_t *ctx)
{
	struct page *page;

	memcpy(&page, arg, sizeof(page));
	atomic_fetch_add(&page->init_runs, 1);
	return 0;
}

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

/*
 * From here on, any process of this one's (itself, and every process it
 * starts) that calls setpgid() is killed by SIGSYS.  0, or -1 where
 * seccomp filters cannot be had.
 */
static int deny_setpgid(void)
{
#ifdef TEST_AUDIT_ARCH
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TEST_AUDIT_ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
			 offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_setpgid, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]),
				   .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
#else
	return -1;
#endif
}

/* What a failed start left, copied out of the page before it goes, so
 * that a failed check leaks nothing. */
struct start_outcome {
	int rc;
	struct rp_error e;
	uint32_t init_runs;
};

/*
 * rp_pool_create where every worker dies at its very start, before it
 * reports and before its initializer (init, if any) could begin: the
 * first thing a worker does is setpgid() (its own process group), which a
 * seccomp filter answers with SIGSYS.  Nothing else of the pool calls
 * setpgid().  A filter cannot be taken back, so the pool's owner is a
 * child of the test, which reports through the page; it asserts nothing.
 */
static struct start_outcome create_where_workers_die_first(rp_init_fn init)
{
	struct page *page = page_new();
	struct start_outcome out;
	pid_t owner;
	int status;

	owner = fork();
	assert_true(owner >= 0);
	if (owner == 0) {
		struct rp_pool_opts o = { .nworkers = 2, .initializer = init,
					  .initarg = &page,
					  .initarg_len = sizeof(page),
					  .init_error = &page->start_error };
		rp_pool_t *pool = NULL;

		if (deny_setpgid() < 0)
			_exit(2);
		page->start_rc = rp_pool_create(&o, &pool);
		rp_pool_destroy(pool);
		_exit(0);
	}
	assert_int_equal(waitpid(owner, &status, 0), owner);
	out.rc = page->start_rc;
	out.e = page->start_error;
	out.init_runs = atomic_load(&page->init_runs);
	munmap(page, 4096);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 2) {
		print_message("# skip: no seccomp filter here\n");
		skip();
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("the owner ended with status %#x", status);
	print_message("# create: %s, \"%s\"\n", rp_err_name(out.rc),
		      out.e.message);
	return out;
}

/* A worker that died before it began (or without) an initializer. */
static void assert_start_death(const struct start_outcome *out)
{
	assert_int_equal(out->rc, RP_EWORKER_DIED);
	assert_int_equal(out->e.code, RP_EWORKER_DIED);
	assert_int_equal(out->e.signal, SIGSYS);
	assert_int_not_equal(out->e.worker_pid, 0);
	assert_int_equal(out->init_runs, 0);
}

/*
 * No initializer, and a worker dies while the pool starts: create says
 * the worker died (RP_EWORKER_DIED, its signal in init_error), not that an
 * initializer failed.
 */
static void start_death_without_initializer(void **state)
{
	struct start_outcome out = create_where_workers_die_first(NULL);

	assert_start_death(&out);
}

/*
 * An initializer that never began: the worker died before it (the
 * initializer would have counted its run).  RP_EWORKER_DIED as well.
 */
static void start_death_before_initializer(void **state)
{
	struct start_outcome out = create_where_workers_die_first(noting_init);

	assert_start_death(&out);
}

/*
 * A worker killed while its initializer ran (the initializer kills it,
 * after counting its run) fails create with RP_EINIT, as an initializer
 * that returns non-zero does (test_pool_api.c), with the signal.
 */
static void start_death_in_initializer(void **state)
{
	struct page *page = page_new();
	struct rp_error ie;
	struct rp_pool_opts o = { .nworkers = 2, .initializer = dying_init,
				  .initarg = &page, .initarg_len = sizeof(page),
				  .init_error = &ie };
	rp_pool_t *pool = NULL;
	uint32_t runs;
	int rc;

	memset(&ie, 0, sizeof(ie));
	rc = rp_pool_create(&o, &pool);
	runs = atomic_load(&page->init_runs);
	munmap(page, 4096);
	print_message("# create: %s, \"%s\"\n", rp_err_name(rc), ie.message);
	assert_int_equal(rc, RP_EINIT);
	assert_null(pool);
	assert_int_equal(ie.code, RP_EINIT);
	assert_int_equal(ie.signal, SIGKILL);
	assert_int_not_equal(ie.worker_pid, 0);
	assert_true(runs >= 1);
}

/*
 * The owner killed with SIGKILL leaves nothing running: its workers get
 * their parent-death signal and take their process groups, the processes
 * their tasks started, with them.  The owner is a fork of this test; the
 * test becomes a subreaper so that the orphans come to it to be reaped.
 */
static void owner_killed(enum rp_start_method method)
{
	struct page *page = page_new();
	pid_t owner, child, worker;
	int status;

	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	owner = fork();
	assert_true(owner >= 0);
	if (owner == 0) {
		struct rp_pool_opts o = { .nworkers = 2, .start_method = method };
		struct start_child_arg a = { .page = page };
		rp_pool_t *pool = NULL;
		rp_result_t *r;

		if (rp_pool_create(&o, &pool) != 0 ||
		    rp_apply_async(pool, start_child, &a, sizeof(a), 0, NULL,
				   &r) != 0)
			_exit(1);
		for (;;)
			pause(); /* until the test kills us */
	}
	child = wait_grandchild(page);
	worker = (pid_t)atomic_load(&page->worker);
	assert_int_equal(kill(owner, SIGKILL), 0);
	assert_int_equal(waitpid(owner, &status, 0), owner);
	assert_true(WIFSIGNALED(status));
	assert_ends(worker);
	assert_ends(child);
	/* Reap every orphan that came to us: workers, zygote, the child. */
	while (waitpid(-1, &status, 0) > 0 || errno == EINTR)
		;
	assert_int_equal(errno, ECHILD);
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
	munmap(page, 4096);
}

static void owner_killed_forkserver(void **state)
{
	owner_killed(RP_START_FORKSERVER);
}

static void owner_killed_fork(void **state)
{
	owner_killed(RP_START_FORK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(worker_death_ends_task_children,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(terminate_ends_task_children,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(join_ends_task_children,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(restart_budget_breaks_pool,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(broken_pool_fails_queued_as_broken,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(start_death_without_initializer,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(start_death_before_initializer,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(start_death_in_initializer,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(crash_reports_backtrace,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(cancel_running_with_force,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(owner_killed_forkserver,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(owner_killed_fork,
						leak_setup, leak_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
