/* SPDX-License-Identifier: MIT */
/*
 * Per-task deadlines, retries and the workers a timed-out join leaves
 * behind (rp_submit_opts.timeout_ns, kill_grace_ns, retries;
 * rp_error.attempts; rp_pool_survivors).
 *
 * A deadline counts from the moment a worker starts the task: when it
 * passes, the worker and its process group get SIGTERM, then SIGKILL after
 * the grace; the task fails with -ETIMEDOUT, what was queued behind it runs
 * elsewhere, and the worker is replaced without touching the restart
 * budget.  A retried task runs again on a fresh worker when its worker dies
 * under it, and each of those deaths does count.
 *
 * Tasks that must outlive their deadline block on a futex gate that the
 * test never opens (or opens only once it has seen what it needed); the
 * test waits on results within the harness's guard, never on sleeps.  The
 * only timing asserts are lower bounds implied by the semantics (a task
 * cannot fail for its deadline before the deadline).
 *
 * A deadline that some real work must beat (a task that has to report its
 * start, run to a raise(SIGKILL), or finish) is ROOM_NS, which only a
 * stall of seconds on a loaded machine could overrun; what must be in
 * place before a clock starts (a worker that ignores SIGTERM, a child to
 * watch) is set up where no clock runs: in the initializer, or in an
 * earlier task without a deadline.  Short deadlines remain only where
 * nothing has to happen before them.
 */
#include <errno.h>
#include <limits.h>
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

#include "pool_harness.h"
#include "ringpool.h"

#define MS ((int64_t)1000000)
#define HOUR_NS ((int64_t)3600 * 1000000000)
#define DL_ITEMS 1024
/* A deadline that a task's few microseconds of work must beat: three
 * orders of magnitude of slack, and well inside the 30 s guard. */
#define ROOM_NS (2000 * MS)

/*
 * What tasks count, beside p_sh (which holds the gates, started words and
 * pids).  Mapped in the group setup before any pool exists, so every worker
 * shares it; reset before each test.
 */
struct dl_page {
	uint32_t runs[P_SLOTS];       /* runs of the task on the slot */
	uint32_t item_runs[DL_ITEMS]; /* runs of each map item */
	uint32_t grandchild;          /* pid of a task's own child */
	uint32_t ignterm_left;        /* workers dl_init_ignterm may still
				       * make ignore SIGTERM (set by the
				       * test before the pool exists) */
	int32_t ignterm_pid;          /* the last worker it did so in */
};

static struct dl_page *dl;

/* ---- the task (worker side: no cmocka) ---- */

enum dl_flags {
	F_HANG = 1u << 0,       /* block on gate[slot] (no guard of its own) */
	F_FORK = 1u << 2,       /* start a child that waits forever */
	F_KILL = 1u << 3,       /* raise(SIGKILL) on every run */
	F_KILL_FIRST = 1u << 4, /* raise(SIGKILL) on the first run only */
	F_HANG_LATER = 1u << 5, /* block like F_HANG from the second run on */
	F_ITEM = 1u << 6,       /* count the run in item_runs[index] */
};

struct dl_arg {
	int32_t slot;    /* -1: no records */
	uint32_t flags;  /* enum dl_flags */
	int64_t value;
};

struct dl_rep {
	int64_t value;
	int64_t out;     /* 3 * value + 1 */
	int32_t pid;
	int32_t pad;
};

static void block_on_gate(int slot)
{
	while (__atomic_load_n(&p_sh->gate[slot], __ATOMIC_ACQUIRE) == 0)
		p_wait_ge(&p_sh->gate[slot], 1, H_GUARD_S);
}

static void start_grandchild(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		for (;;)
			pause();
	}
	/* release: the test reads it after started[slot] (acquire). */
	if (pid > 0)
		__atomic_store_n(&dl->grandchild, (uint32_t)pid,
				 __ATOMIC_RELEASE);
}

static int dl_task(const void *arg, size_t arg_len, void *res, size_t res_cap,
		   rp_task_ctx_t *ctx)
{
	struct dl_arg a;
	struct dl_rep r = { 0 };
	uint32_t run = 0;
	int64_t index = rp_task_index(ctx);

	/* A longer argument is padding: it makes a payload big. */
	if (!arg || arg_len < sizeof(a) || !res || res_cap < sizeof(r))
		return rp_task_fail(ctx, P_CODE_BADARG, "dl_task: bad call");
	memcpy(&a, arg, sizeof(a));
	if (a.flags & F_FORK)
		start_grandchild();
	if ((a.flags & F_ITEM) && index >= 0 && index < DL_ITEMS)
		p_add(&dl->item_runs[index]);
	if (a.slot >= 0 && a.slot < P_SLOTS) {
		p_sh->pid[a.slot] = getpid();
		run = p_add(&dl->runs[a.slot]);
		p_raise(&p_sh->started[a.slot]);
	}
	if ((a.flags & F_KILL) || ((a.flags & F_KILL_FIRST) && run == 1))
		raise(SIGKILL);
	if ((a.flags & F_HANG) || ((a.flags & F_HANG_LATER) && run > 1))
		block_on_gate(a.slot);
	r.value = a.value;
	r.out = 3 * a.value + 1;
	r.pid = getpid();
	memcpy(res, &r, sizeof(r));
	return 0;
}

/*
 * p_init, and in the first dl->ignterm_left workers of the pool also
 * SIGTERM ignored: before the worker's first task, so before any deadline
 * clock can start (a task that did it itself could be stopped first).
 * Later workers (the replacements) keep the default, so destroying the
 * pool does not wait out its grace.
 */
static int dl_init_ignterm(const void *arg, size_t arg_len,
			   rp_task_ctx_t *ctx)
{
	uint32_t left = __atomic_load_n(&dl->ignterm_left, __ATOMIC_ACQUIRE);

	while (left > 0 &&
	       !__atomic_compare_exchange_n(&dl->ignterm_left, &left, left - 1,
					    false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE))
		;
	if (left > 0) {
		struct sigaction sa = { .sa_handler = SIG_IGN };

		if (sigaction(SIGTERM, &sa, NULL) < 0)
			return rp_task_fail(ctx, 3, "sigaction: SIGTERM");
		/* release: the test reads it once the task's result came */
		__atomic_store_n(&dl->ignterm_pid, getpid(), __ATOMIC_RELEASE);
	}
	return p_init(arg, arg_len, ctx);
}

/* ---- test side ---- */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static struct dl_arg arg_of(int slot, uint32_t flags, int64_t value)
{
	return (struct dl_arg){ .slot = slot, .flags = flags, .value = value };
}

/* A tracked pool of n workers running p_init (init_count counts spawns). */
static rp_pool_t *pool_of(unsigned n, enum rp_start_method m, int64_t grace,
			  unsigned max_failures)
{
	struct rp_pool_opts o = {
		.nworkers = n,
		.initializer = p_init,
		.initarg = P_INIT_ARG,
		.initarg_len = sizeof(P_INIT_ARG),
		.start_method = m,
		.terminate_grace_ns = grace,
		.max_worker_failures = max_failures,
		.failure_window_ns = HOUR_NS,
	};

	return p_pool(&o);
}

static rp_pool_t *pool_n(unsigned n)
{
	return pool_of(n, RP_START_DEFAULT, 0, RP_NO_LIMIT);
}

/* One worker with the pool's grace whose first incarnation ignores
 * SIGTERM (dl_init_ignterm); its replacements do not. */
static rp_pool_t *pool_ignterm(int64_t grace)
{
	struct rp_pool_opts o = {
		.nworkers = 1,
		.initializer = dl_init_ignterm,
		.initarg = P_INIT_ARG,
		.initarg_len = sizeof(P_INIT_ARG),
		.terminate_grace_ns = grace,
		.max_worker_failures = RP_NO_LIMIT,
		.failure_window_ns = HOUR_NS,
	};

	__atomic_store_n(&dl->ignterm_left, 1, __ATOMIC_RELEASE);
	return p_pool(&o);
}

static rp_result_t *submit(rp_pool_t *pool, struct dl_arg a,
			   const struct rp_submit_opts *o)
{
	rp_result_t *res = NULL;
	int rc = rp_apply_async(pool, dl_task, &a, sizeof(a),
				sizeof(struct dl_rep), o, &res);

	if (rc != 0)
		fail_msg("rp_apply_async: %d (%s)", rc, rp_err_name(rc));
	assert_non_null(res);
	return res;
}

static struct rp_submit_opts timed(int64_t timeout_ns)
{
	return (struct rp_submit_opts){ .timeout_ns = timeout_ns };
}

/* The value of a successful task, within the guard. */
static struct dl_rep rep_of(rp_result_t *res)
{
	const void *data = NULL;
	size_t len = 0;
	int rc = rp_result_get(res, H_GUARD_NS, &data, &len);
	struct dl_rep r;

	if (rc != 0) {
		const struct rp_error *e = rp_result_error(res);

		fail_msg("rp_result_get: %d (%s), \"%s\"", rc, rp_err_name(rc),
			 e ? e->message : "");
	}
	assert_int_equal(len, sizeof(r));
	memcpy(&r, data, sizeof(r));
	return r;
}

/* The error of a task that must fail with code, within the guard. */
static const struct rp_error *fails_with(rp_result_t *res, int code)
{
	const void *data = NULL;
	int rc = rp_result_get(res, H_GUARD_NS, &data, NULL);
	const struct rp_error *e = rp_result_error(res);

	if (rc != code)
		fail_msg("rp_result_get: %d (%s), want %d (%s): \"%s\"", rc,
			 rp_err_name(rc), code, rp_err_name(code),
			 e ? e->message : "");
	assert_null(data);
	assert_non_null(e);
	assert_int_equal(e->code, code);
	return e;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The pool is broken: a submit is refused and leaves nothing behind. */
static void assert_broken(rp_pool_t *pool)
{
	struct dl_arg quick = arg_of(-1, 0, 0);
	rp_result_t *res = NULL;

	assert_int_equal(rp_apply_async(pool, dl_task, &quick, sizeof(quick),
					sizeof(struct dl_rep), NULL, &res),
			 RP_EBROKEN);
	assert_null(res);
}

/* The pool runs a 1000-item map correctly. */
static void pool_works(rp_pool_t *pool)
{
	static struct dl_arg items[1000];
	static struct dl_rep reps[1000];
	struct rp_error e;
	int rc;

	for (int i = 0; i < 1000; i++)
		items[i] = arg_of(-1, 0, i);
	memset(reps, 0, sizeof(reps));
	memset(&e, 0, sizeof(e));
	rc = rp_map(pool, dl_task, items, 1000, sizeof(items[0]), reps,
		    sizeof(reps[0]), RP_CHUNKSIZE_AUTO, &e);
	if (rc != 0)
		fail_msg("rp_map: %d (%s) \"%s\"", rc, rp_err_name(rc),
			 e.message);
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(reps[i].value, i);
		assert_int_equal(reps[i].out, 3 * i + 1);
	}
}

/* Wait for the pool's initializer to have run `n` times in all. */
static void wait_spawns(uint32_t n)
{
	uint32_t *count = &p_sh->init_count;

	if (p_wait_ge(count, n, H_GUARD_S) < 0)
		fail_msg("only %u of %u workers started",
			 __atomic_load_n(count, __ATOMIC_ACQUIRE), n);
	assert_int_equal(__atomic_load_n(count, __ATOMIC_ACQUIRE), n);
}

/* ---- 1. a hung task is stopped at its deadline ---- */

static void deadline_stops_hung_task(enum rp_start_method m)
{
	rp_pool_t *pool = pool_of(1, m, 0, RP_NO_LIMIT);
	/* The task must report its start (and count its run) before the
	 * deadline; only the lower bound below depends on its length. */
	struct rp_submit_opts o = timed(ROOM_NS);
	const struct rp_error *e;
	rp_result_t *res;
	int64_t t0 = now_ns(), elapsed;
	pid_t hung;

	res = submit(pool, arg_of(0, F_HANG, 1), &o);
	p_wait_started(0);
	hung = p_sh->pid[0];
	e = fails_with(res, -ETIMEDOUT);
	elapsed = now_ns() - t0;
	assert_true(elapsed >= ROOM_NS);
	assert_int_equal(e->attempts, 1);
	assert_int_equal(e->worker_pid, hung);
	assert_int_equal(e->index, -1);
	assert_int_equal(e->signal, SIGTERM);
	assert_non_null(strstr(e->message, "deadline"));
	assert_int_equal(dl->runs[0], 1);
	rp_result_free(res);

	/* Replaced: same size, a new pid, and it works. */
	assert_int_equal(rp_pool_size(pool), 1);
	pool_works(pool);
	res = submit(pool, arg_of(1, 0, 2), NULL);
	assert_int_not_equal(rep_of(res).pid, hung);
	rp_result_free(res);
	wait_spawns(2);
	p_destroy(pool);
}
BOTH(deadline_stops_hung_task)

/*
 * What a task started dies with its worker at the deadline.  A first task,
 * without a deadline, starts the child and returns; the child stays in the
 * worker's process group, alive until something kills that group, so the
 * test's pidfd is certain to name it (a child started under a running
 * clock could be killed, reaped and its pid reused before pidfd_open).
 * Only then does a second task on the same worker hang past its deadline;
 * nothing has to happen before that one, so it is short.
 */
static void deadline_ends_task_children(void **state)
{
	rp_pool_t *pool = pool_n(1);
	struct rp_submit_opts o = timed(50 * MS);
	const struct rp_error *e;
	rp_result_t *res;
	pid_t worker;
	int fd;

	res = submit(pool, arg_of(-1, F_FORK, 1), NULL);
	worker = rep_of(res).pid;
	rp_result_free(res);
	/* acquire: pairs with the task's release; its result came after. */
	assert_int_not_equal(__atomic_load_n(&dl->grandchild,
					     __ATOMIC_ACQUIRE), 0);
	fd = h_pidfd((pid_t)dl->grandchild);
	res = submit(pool, arg_of(0, F_HANG, 2), &o);
	e = fails_with(res, -ETIMEDOUT);
	assert_int_equal(e->worker_pid, worker);
	h_pidfd_wait(fd);
	h_pidfd_close(fd);
	rp_result_free(res);
	pool_works(pool);
	p_destroy(pool);
}

/* ---- 2. SIGTERM ignored: SIGKILL after the grace ---- */

static void deadline_kills_after_grace(void **state)
{
	/* The pool's grace outlasts the guard: only kill_grace_ns can end
	 * this task in time. */
	rp_pool_t *pool = pool_ignterm(120 * (int64_t)1000 * MS);
	/* The worker ignores SIGTERM from its initializer on, and the task
	 * has nothing to do before the deadline: the clock may be short. */
	struct rp_submit_opts o = { .timeout_ns = 50 * MS,
				    .kill_grace_ns = 20 * MS };
	const struct rp_error *e;
	rp_result_t *res;
	int64_t t0 = now_ns();
	pid_t hung;

	res = submit(pool, arg_of(0, F_HANG, 1), &o);
	e = fails_with(res, -ETIMEDOUT);
	assert_true(now_ns() - t0 >= 70 * MS);
	hung = __atomic_load_n(&dl->ignterm_pid, __ATOMIC_ACQUIRE);
	assert_int_not_equal(hung, 0);
	assert_int_equal(e->signal, SIGKILL);
	assert_int_equal(e->exit_status, 0);
	assert_int_equal(e->attempts, 1);
	assert_int_equal(e->worker_pid, hung);
	assert_non_null(strstr(e->message, "deadline"));
	rp_result_free(res);
	pool_works(pool);
	wait_spawns(2);
	p_destroy(pool);
}

/* kill_grace_ns 0: the pool's terminate_grace_ns applies. */
static void deadline_grace_defaults_to_pool(void **state)
{
	rp_pool_t *pool = pool_ignterm(30 * MS);
	struct rp_submit_opts o = timed(40 * MS);
	const struct rp_error *e;
	rp_result_t *res;
	int64_t t0 = now_ns();

	res = submit(pool, arg_of(0, F_HANG, 1), &o);
	e = fails_with(res, -ETIMEDOUT);
	assert_true(now_ns() - t0 >= 70 * MS);
	assert_int_equal(e->signal, SIGKILL);
	assert_int_equal(e->attempts, 1);
	assert_int_equal(e->worker_pid,
			 __atomic_load_n(&dl->ignterm_pid, __ATOMIC_ACQUIRE));
	rp_result_free(res);
	pool_works(pool);
	p_destroy(pool);
}

/* ---- 3. tasks that beat their deadline are unaffected ---- */

static void quick_timed_tasks_succeed(void **state)
{
	enum { N = 1000 };
	rp_pool_t *pool = pool_n(4);
	/* Generous: these tasks take microseconds. */
	struct rp_submit_opts o = timed(20 * (int64_t)1000 * MS);
	static rp_result_t *res[N];
	static struct dl_arg items[N];
	const struct dl_rep *reps;
	rp_result_t *one, *map;
	struct dl_rep r;
	size_t len = 0;

	one = submit(pool, arg_of(-1, 0, 7), &o);
	r = rep_of(one);
	assert_int_equal(r.value, 7);
	assert_int_equal(r.out, 22);
	assert_true(p_init_pid_known(r.pid));
	rp_result_free(one);

	for (int i = 0; i < N; i++)
		res[i] = submit(pool, arg_of(-1, 0, i), &o);
	for (int i = 0; i < N; i++) {
		r = rep_of(res[i]);
		assert_int_equal(r.value, i);
		assert_int_equal(r.out, 3 * i + 1);
		assert_true(p_init_pid_known(r.pid));
		rp_result_free(res[i]);
	}

	/* And per chunk, for map. */
	for (int i = 0; i < N; i++)
		items[i] = arg_of(-1, F_ITEM, i);
	assert_int_equal(rp_map_async(pool, dl_task, items, N, sizeof(items[0]),
				      sizeof(struct dl_rep), 10, &o, &map),
			 0);
	assert_int_equal(rp_result_get(map, H_GUARD_NS, (const void **)&reps,
				       &len),
			 0);
	assert_int_equal(len, N * sizeof(struct dl_rep));
	for (int i = 0; i < N; i++) {
		assert_int_equal(reps[i].out, 3 * i + 1);
		assert_int_equal(dl->item_runs[i], 1);
	}
	rp_result_free(map);
	/* No worker was stopped or replaced. */
	assert_int_equal(p_sh->init_count, 4);
	p_destroy(pool);
}

/* ---- 4. a queued task's clock waits for its start ---- */

static void queued_task_clock_waits(void **state)
{
	rp_pool_t *pool = pool_n(1);
	/* B must finish within it once it runs. */
	struct rp_submit_opts o = timed(ROOM_NS);
	rp_result_t *a, *b;
	struct dl_rep ra, rb;

	a = submit(pool, arg_of(0, F_HANG, 1), NULL);
	b = submit(pool, arg_of(1, 0, 2), &o);
	p_wait_started(0);
	/* Longer than B's deadline, all of it spent behind A: B cannot be
	 * ready (A holds the only worker) unless its clock ran while it
	 * was queued. */
	assert_int_equal(rp_result_wait(b, ROOM_NS + ROOM_NS / 4), -ETIMEDOUT);
	assert_int_equal(rp_result_ready(a), 0);
	assert_int_equal(dl->runs[1], 0);
	p_open(0);
	ra = rep_of(a);
	rb = rep_of(b);
	assert_int_equal(ra.value, 1);
	assert_int_equal(rb.value, 2);
	assert_int_equal(rb.out, 7);
	/* Both ran on the one original worker: nobody was stopped. */
	assert_int_equal(rb.pid, ra.pid);
	assert_int_equal(p_sh->init_count, 1);
	rp_result_free(a);
	rp_result_free(b);
	p_destroy(pool);
}

/* ---- 5. map: each chunk has its own deadline ---- */

static void map_chunk_deadline(void **state)
{
	enum { N = 40, CHUNK = 4, HUNG = 13, FIRST = 12 };
	rp_pool_t *pool = pool_n(2);
	/* Every other chunk, and the hung one's items up to item HUNG, must
	 * run within it. */
	struct rp_submit_opts o = timed(ROOM_NS);
	struct dl_arg items[N];
	const struct rp_error *e;
	rp_result_t *map;

	for (int i = 0; i < N; i++)
		items[i] = arg_of(-1, F_ITEM, i);
	items[HUNG] = arg_of(0, F_ITEM | F_HANG, HUNG);
	assert_int_equal(rp_map_async(pool, dl_task, items, N, sizeof(items[0]),
				      sizeof(struct dl_rep), CHUNK, &o, &map),
			 0);
	p_wait_started(0);
	e = fails_with(map, -ETIMEDOUT);
	assert_int_equal(e->index, FIRST);
	assert_int_equal(e->attempts, 1);
	assert_int_equal(e->worker_pid, p_sh->pid[0]);
	/* The result completes after every chunk did: each item but those
	 * after the hung one in its chunk ran exactly once. */
	for (int i = 0; i < N; i++) {
		uint32_t want = (i > HUNG && i < FIRST + CHUNK) ? 0 : 1;

		if (dl->item_runs[i] != want)
			fail_msg("item %d ran %u times, want %u", i,
				 dl->item_runs[i], want);
	}
	rp_result_free(map);
	pool_works(pool);
	wait_spawns(3);
	p_destroy(pool);
}

/* ---- 6. deadline kills spare the restart budget ---- */

static void deadline_kills_spare_budget(void **state)
{
	rp_pool_t *pool = pool_of(1, RP_START_DEFAULT, 0, 2);
	struct rp_submit_opts o = timed(20 * MS);
	const struct rp_error *e;
	rp_result_t *res = NULL;

	for (int i = 0; i < 5; i++) {
		res = submit(pool, arg_of(i, F_HANG, i), &o);
		fails_with(res, -ETIMEDOUT);
		rp_result_free(res);
		res = submit(pool, arg_of(-1, 0, i), NULL);
		assert_int_equal(rep_of(res).value, i);
		rp_result_free(res);
	}
	wait_spawns(6);
	pool_works(pool);

	/* The budget of 2 is whole: one death is absorbed... */
	res = submit(pool, arg_of(10, F_KILL, 0), NULL);
	e = fails_with(res, RP_EWORKER_DIED);
	assert_int_equal(e->signal, SIGKILL);
	rp_result_free(res);
	pool_works(pool);
	/* ... and the second spends it. */
	res = submit(pool, arg_of(11, F_KILL, 0), NULL);
	fails_with(res, RP_EWORKER_DIED);
	rp_result_free(res);
	assert_broken(pool);
	p_destroy(pool);
}

/* ---- 7. retries ---- */

static void retries_rerun_after_death(void **state)
{
	enum { SIDE = 40 };
	rp_pool_t *pool = pool_n(2);
	struct rp_submit_opts r2 = { .retries = 2 }, r1 = { .retries = 1 };
	rp_result_t *side[SIDE], *always, *once, *none;
	const struct rp_error *e;
	struct dl_rep r;

	for (int i = 0; i < SIDE / 2; i++)
		side[i] = submit(pool, arg_of(-1, 0, 100 + i), NULL);
	always = submit(pool, arg_of(0, F_KILL, 1), &r2);
	once = submit(pool, arg_of(1, F_KILL_FIRST, 5), &r1);
	none = submit(pool, arg_of(2, F_KILL_FIRST, 6), NULL);
	for (int i = SIDE / 2; i < SIDE; i++)
		side[i] = submit(pool, arg_of(-1, 0, 100 + i), NULL);

	e = fails_with(always, RP_EWORKER_DIED);
	assert_int_equal(e->attempts, 3);
	assert_int_equal(e->signal, SIGKILL);
	assert_int_equal(dl->runs[0], 3);
	if (!ends_with(e->message, "(run 3 of 3)"))
		fail_msg("message \"%s\"", e->message);

	r = rep_of(once);
	assert_int_equal(r.value, 5);
	assert_int_equal(r.out, 16);
	assert_int_equal(dl->runs[1], 2);

	e = fails_with(none, RP_EWORKER_DIED);
	assert_int_equal(e->attempts, 1);
	assert_int_equal(e->signal, SIGKILL);
	assert_int_equal(dl->runs[2], 1);
	assert_null(strstr(e->message, "(run"));

	for (int i = 0; i < SIDE; i++) {
		r = rep_of(side[i]);
		assert_int_equal(r.value, 100 + i);
		rp_result_free(side[i]);
	}
	rp_result_free(always);
	rp_result_free(once);
	rp_result_free(none);
	/* Five deaths, five replacements. */
	wait_spawns(2 + 5);
	pool_works(pool);
	p_destroy(pool);
}

/* A deadline is no death: never retried.  attempts counts every run. */
static void retries_and_deadlines(void **state)
{
	rp_pool_t *pool = pool_n(2);
	/* Each run must count itself (and late's first must reach its
	 * raise(SIGKILL)) within the deadline: only the hanging runs need
	 * it to pass. */
	struct rp_submit_opts r3 = { .timeout_ns = ROOM_NS, .retries = 3 };
	struct rp_submit_opts r1 = { .timeout_ns = ROOM_NS, .retries = 1 };
	const struct rp_error *e;
	rp_result_t *hung, *late;

	hung = submit(pool, arg_of(0, F_HANG, 1), &r3);
	late = submit(pool, arg_of(1, F_KILL_FIRST | F_HANG_LATER, 2), &r1);

	e = fails_with(hung, -ETIMEDOUT);
	assert_int_equal(e->attempts, 1);
	assert_int_equal(dl->runs[0], 1);

	e = fails_with(late, -ETIMEDOUT);
	assert_int_equal(e->attempts, 2);
	assert_int_equal(dl->runs[1], 2);
	assert_non_null(strstr(e->message, "deadline"));

	rp_result_free(hung);
	rp_result_free(late);
	pool_works(pool);
	p_destroy(pool);
}

/* Each retried death counts: a budget of 3 breaks on the third. */
static void retry_deaths_spend_budget(void **state)
{
	rp_pool_t *pool = pool_of(1, RP_START_DEFAULT, 0, 3);
	struct rp_submit_opts r5 = { .retries = 5 };
	const struct rp_error *e;
	rp_result_t *res;

	res = submit(pool, arg_of(0, F_KILL, 1), &r5);
	e = fails_with(res, RP_EBROKEN);
	assert_int_equal(e->attempts, 0);
	assert_int_equal(dl->runs[0], 3);
	rp_result_free(res);
	assert_broken(pool);
	p_destroy(pool);
}

/* A map chunk is retried whole: its items all run again, and succeed. */
static void map_chunk_retried(void **state)
{
	enum { N = 40, CHUNK = 4, KILLER = 5 };
	rp_pool_t *pool = pool_n(2);
	struct rp_submit_opts r1 = { .retries = 1 };
	struct dl_arg items[N];
	const struct dl_rep *reps;
	rp_result_t *map;
	size_t len = 0;

	for (int i = 0; i < N; i++)
		items[i] = arg_of(-1, F_ITEM, i);
	items[KILLER] = arg_of(0, F_ITEM | F_KILL_FIRST, KILLER);
	assert_int_equal(rp_map_async(pool, dl_task, items, N, sizeof(items[0]),
				      sizeof(struct dl_rep), CHUNK, &r1, &map),
			 0);
	assert_int_equal(rp_result_get(map, H_GUARD_NS, (const void **)&reps,
				       &len),
			 0);
	assert_int_equal(len, N * sizeof(struct dl_rep));
	for (int i = 0; i < N; i++) {
		/* The killer's chunk is items 4..7: 4 and 5 ran twice. */
		uint32_t want = (i == 4 || i == KILLER) ? 2 : 1;

		assert_int_equal(reps[i].out, 3 * i + 1);
		if (dl->item_runs[i] != want)
			fail_msg("item %d ran %u times, want %u", i,
				 dl->item_runs[i], want);
	}
	assert_int_equal(dl->runs[0], 2);
	rp_result_free(map);
	p_destroy(pool);
}

/* A payload too big for one ring record is not kept: no retry. */
static void big_payload_not_retried(void **state)
{
	struct rp_pool_opts o = {
		.nworkers = 1,
		.ring_bytes = 4096,
		.max_worker_failures = RP_NO_LIMIT,
	};
	rp_pool_t *pool = p_pool(&o);
	struct rp_submit_opts r2 = { .retries = 2 };
	static unsigned char big[16384];
	struct dl_arg a = arg_of(0, F_KILL_FIRST, 9);
	const struct rp_error *e;
	rp_result_t *res = NULL;

	memcpy(big, &a, sizeof(a));
	assert_int_equal(rp_apply_async(pool, dl_task, big, sizeof(big),
					sizeof(struct dl_rep), &r2, &res),
			 0);
	e = fails_with(res, RP_EWORKER_DIED);
	assert_int_equal(e->attempts, 1);
	assert_int_equal(dl->runs[0], 1);
	rp_result_free(res);

	/* The same task with a small payload is retried. */
	memset(dl, 0, sizeof(*dl));
	res = submit(pool, a, &r2);
	assert_int_equal(rep_of(res).out, 28);
	assert_int_equal(dl->runs[0], 2);
	rp_result_free(res);
	p_destroy(pool);
}

/* ---- 8. rp_pool_survivors ---- */

static void survivors_bad_input_and_clean_join(void **state)
{
	rp_pool_t *pool = pool_n(2);
	pid_t pids[4] = { SENTINEL, SENTINEL, SENTINEL, SENTINEL };
	rp_result_t *res;

	assert_int_equal(rp_pool_survivors(NULL, pids, 4), -EINVAL);
	assert_int_equal(rp_pool_survivors(NULL, NULL, 0), -EINVAL);
	assert_int_equal(rp_pool_survivors(pool, NULL, 1), -EINVAL);
	assert_int_equal(pids[0], SENTINEL);

	/* An open pool: both workers run. */
	assert_int_equal(rp_pool_survivors(pool, NULL, 0), 2);
	assert_int_equal(rp_pool_survivors(pool, pids, 1), 2);
	assert_true(p_init_pid_known(pids[0]));
	assert_int_equal(pids[1], SENTINEL);
	assert_int_equal(rp_pool_survivors(pool, pids, 4), 2);
	assert_true(p_init_pid_known(pids[0]) && p_init_pid_known(pids[1]));
	assert_int_not_equal(pids[0], pids[1]);
	assert_int_equal(pids[2], SENTINEL);

	res = submit(pool, arg_of(-1, 0, 3), NULL);
	assert_int_equal(rep_of(res).out, 10);
	rp_result_free(res);
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	pids[0] = SENTINEL;
	assert_int_equal(rp_pool_survivors(pool, pids, 4), 0);
	assert_int_equal(pids[0], SENTINEL);
	assert_int_equal(rp_pool_survivors(pool, NULL, 0), 0);
	p_destroy(pool);
}

/*
 * A closed one-worker pool whose task hangs: join times out, and survivors
 * names the hung worker.
 */
static rp_result_t *hung_pool_survivors(rp_pool_t *pool, pid_t *ret_hung)
{
	pid_t pids[4] = { SENTINEL, SENTINEL, SENTINEL, SENTINEL };
	rp_result_t *res = submit(pool, arg_of(0, F_HANG, 1), NULL);

	p_wait_started(0);
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, 50 * MS), -ETIMEDOUT);
	assert_int_equal(rp_result_ready(res), 0);
	assert_int_equal(rp_pool_survivors(pool, pids, 4), 1);
	assert_int_equal(pids[0], p_sh->pid[0]);
	assert_int_equal(pids[1], SENTINEL);
	assert_int_equal(rp_pool_survivors(pool, NULL, 0), 1);
	*ret_hung = pids[0];
	return res;
}

static void survivors_after_join_timeout_destroy(void **state)
{
	rp_pool_t *pool = pool_n(1);
	pid_t hung;
	rp_result_t *res = hung_pool_survivors(pool, &hung);
	int fd = h_pidfd(hung);

	p_destroy(pool);
	h_pidfd_wait(fd);
	h_pidfd_close(fd);
	fails_with(res, RP_ETERMINATED);
	rp_result_free(res);
}

static void survivors_after_join_timeout_terminate(void **state)
{
	rp_pool_t *pool = pool_n(1);
	pid_t hung;
	rp_result_t *res = hung_pool_survivors(pool, &hung);

	assert_int_equal(rp_pool_terminate(pool), 0);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	assert_int_equal(rp_pool_survivors(pool, NULL, 0), 0);
	fails_with(res, RP_ETERMINATED);
	rp_result_free(res);
	p_destroy(pool);
}

/*
 * With two workers the hung one is among the survivors.  Its idle sibling
 * may be too: as in Python, where workers are told to exit only once every
 * task is done, join releases the workers only after the work finished, so
 * while a task hangs the idle worker still runs (and is reported: survivors
 * lists every worker still running).  Every pid reported is the pool's.
 */
static void survivors_include_hung_worker(void **state)
{
	rp_pool_t *pool = pool_n(2);
	pid_t pids[4] = { SENTINEL, SENTINEL, SENTINEL, SENTINEL };
	rp_result_t *res = submit(pool, arg_of(0, F_HANG, 1), NULL);
	bool seen = false;
	pid_t hung;
	int n;

	p_wait_started(0);
	hung = p_sh->pid[0];
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, 50 * MS), -ETIMEDOUT);
	n = rp_pool_survivors(pool, pids, 4);
	assert_true(n >= 1 && n <= 2);
	for (int i = 0; i < n; i++) {
		assert_true(p_init_pid_known(pids[i]));
		seen = seen || pids[i] == hung;
	}
	assert_true(seen);
	assert_int_equal(pids[n], SENTINEL);
	p_destroy(pool);
	fails_with(res, RP_ETERMINATED);
	rp_result_free(res);
}

/* ---- 9. bad options ---- */

static void bad_opts_refused(void **state)
{
	static const int64_t bad[] = { -1, -2, INT64_MIN };
	static struct p_cbrec rec;
	rp_pool_t *pool = pool_n(2);
	struct dl_arg a = arg_of(0, 0, 1), items[4];
	rp_result_t *res;
	char sentinel;

	for (int i = 0; i < 4; i++)
		items[i] = arg_of(0, F_ITEM, i);
	memset(&rec, 0, sizeof(rec));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int which = 0; which < 2; which++) {
			struct rp_submit_opts o = p_cb_opts(&rec);

			o.retries = 2;
			if (which == 0) {
				o.timeout_ns = bad[i];
			} else {
				o.timeout_ns = 50 * MS;
				o.kill_grace_ns = bad[i];
			}
			res = (rp_result_t *)&sentinel;
			assert_int_equal(rp_apply_async(pool, dl_task, &a,
							sizeof(a),
							sizeof(struct dl_rep),
							&o, &res),
					 -EINVAL);
			assert_ptr_equal(res, (rp_result_t *)&sentinel);
			assert_int_equal(rp_map_async(pool, dl_task, items, 4,
						      sizeof(items[0]),
						      sizeof(struct dl_rep), 1,
						      &o, &res),
					 -EINVAL);
			assert_ptr_equal(res, (rp_result_t *)&sentinel);
		}
	}

	/* All zero is no limit at all. */
	{
		struct rp_submit_opts o = { 0 };

		res = submit(pool, arg_of(1, 0, 4), &o);
		assert_int_equal(rep_of(res).out, 13);
		rp_result_free(res);
	}
	pool_works(pool);
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	/* Nothing refused ever ran or called back. */
	assert_int_equal(dl->runs[0], 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(dl->item_runs[i], 0);
	assert_int_equal(rec.ok + rec.err, 0);
	assert_int_equal(p_cb.calls, 0);
	assert_int_equal(p_sh->init_count, 2);
	p_destroy(pool);
}

/* ---- fixtures ---- */

static int dl_group_setup(void **state)
{
	void *page = mmap(NULL, sizeof(struct dl_page), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (page == MAP_FAILED)
		return -1;
	dl = page;
	return p_group_setup(state);
}

static int dl_setup(void **state)
{
	memset(dl, 0, sizeof(*dl));
	return p_setup(state);
}

#define DL_T(fn) cmocka_unit_test_setup_teardown(fn, dl_setup, p_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		DL_T(deadline_stops_hung_task_forkserver),
		DL_T(deadline_stops_hung_task_fork),
		DL_T(deadline_ends_task_children),
		DL_T(deadline_kills_after_grace),
		DL_T(deadline_grace_defaults_to_pool),
		DL_T(quick_timed_tasks_succeed),
		DL_T(queued_task_clock_waits),
		DL_T(map_chunk_deadline),
		DL_T(deadline_kills_spare_budget),
		DL_T(retries_rerun_after_death),
		DL_T(retries_and_deadlines),
		DL_T(retry_deaths_spend_budget),
		DL_T(map_chunk_retried),
		DL_T(big_payload_not_retried),
		DL_T(survivors_bad_input_and_clean_join),
		DL_T(survivors_after_join_timeout_destroy),
		DL_T(survivors_after_join_timeout_terminate),
		DL_T(survivors_include_hung_worker),
		DL_T(bad_opts_refused),
	};

	return cmocka_run_group_tests_name("pool_deadlines", tests,
					   dl_group_setup, p_group_teardown);
}
