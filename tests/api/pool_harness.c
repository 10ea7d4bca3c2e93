/* SPDX-License-Identifier: MIT */
#include "pool_harness.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

struct p_shared *p_sh;
struct p_cbstats p_cb;

/*
 * Per worker process, never written by the test process: they are 0 in
 * every snapshot a worker is cloned from, and count only that worker's own
 * initializer run and tasks.
 */
static int32_t here_init;
static int32_t here_tasks;

/* ---- futex words ---- */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Shared (not PRIVATE) futex ops: the waker may be another process.  The
 * page is the only memory both sides see, but the same words work within
 * the test process too (callback gates).
 */
int p_wait_ge(uint32_t *word, uint32_t target, int guard_s)
{
	int64_t deadline = now_ns() + (int64_t)guard_s * 1000000000;

	for (;;) {
		/* acquire: pairs with the release in p_raise() / p_add() */
		uint32_t v = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		int64_t left = deadline - now_ns();
		struct timespec ts;

		if (v >= target)
			return 0;
		if (left <= 0)
			return -1;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		syscall(SYS_futex, word, FUTEX_WAIT, v, &ts, NULL, 0);
	}
}

void p_raise(uint32_t *word)
{
	/* release: pairs with the acquire in p_wait_ge() */
	__atomic_store_n(word, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

uint32_t p_add(uint32_t *word)
{
	/* release: pairs with the acquire in p_wait_ge() */
	uint32_t v = __atomic_add_fetch(word, 1, __ATOMIC_ACQ_REL);

	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	return v;
}

/* ---- worker side: no cmocka here ---- */

static uint32_t tick(void)
{
	return __atomic_fetch_add(&p_sh->clock, 1, __ATOMIC_ACQ_REL);
}

static bool slot_ok(int slot)
{
	return slot >= 0 && slot < P_SLOTS;
}

static int guard_hit(const struct p_arg *a)
{
	if (slot_ok(a->slot))
		p_raise(&p_sh->guard[a->slot]);
	return P_CODE_GUARD;
}

/* The waits a task was asked for; 0, or P_CODE_GUARD. */
static int task_waits(const struct p_arg *a)
{
	if ((a->flags & P_GATE) && slot_ok(a->slot) &&
	    p_wait_ge(&p_sh->gate[a->slot], 1, H_GUARD_S) < 0)
		return guard_hit(a);
	if (a->flags & P_COUNT) {
		p_add(&p_sh->count);
		if (p_wait_ge(&p_sh->count, (uint32_t)a->target,
			      H_GUARD_S) < 0)
			return guard_hit(a);
	}
	if ((a->flags & P_WAIT_DONE) && slot_ok(a->target) &&
	    p_wait_ge(&p_sh->done[a->target], 1, H_GUARD_S) < 0)
		return guard_hit(a);
	return 0;
}

static int task_fails(const struct p_arg *a, rp_task_ctx_t *ctx)
{
	char msg[401];

	if (a->flags & P_EXIT)
		_exit(a->code);
	if (a->flags & P_KILL)
		raise(SIGKILL);
	if (a->flags & P_LONGMSG) {
		memset(msg, 'm', sizeof(msg) - 1);
		msg[sizeof(msg) - 1] = '\0';
		return rp_task_fail(ctx, a->code, "%s", msg);
	}
	if (a->flags & P_FAIL)
		return rp_task_fail(ctx, a->code, "task %lld failed",
				    (long long)a->value);
	if (a->flags & P_FAIL_RAW)
		return a->code;
	return 0;
}

int p_task(const void *arg, size_t arg_len, void *res, size_t res_cap,
	   rp_task_ctx_t *ctx)
{
	struct p_arg a;
	struct p_rep r = { 0 };
	int rc;

	if (!arg || arg_len != sizeof(a) || !res || res_cap < sizeof(r))
		return rp_task_fail(ctx, P_CODE_BADARG,
				    "p_task: arg_len %zu, res_cap %zu",
				    arg_len, res_cap);
	memcpy(&a, arg, sizeof(a));
	r.seq = ++here_tasks;
	r.tick_start = tick();
	r.pid = getpid();
	if (slot_ok(a.slot)) {
		p_sh->pid[a.slot] = r.pid;
		p_raise(&p_sh->started[a.slot]);
	}
	rc = task_waits(&a);
	if (rc)
		return rp_task_fail(ctx, rc, "p_task: a wait ran out");
	r.value = a.value;
	r.out = 3 * a.value + 1;
	r.index = rp_task_index(ctx);
	r.worker = rp_task_worker(ctx);
	r.init = here_init;
	r.tick_end = tick();
	memcpy(res, &r, sizeof(r));
	if (a.flags & P_SHORT)
		rp_task_set_result_len(ctx, (size_t)a.target);
	if (slot_ok(a.slot))
		p_raise(&p_sh->done[a.slot]);
	return task_fails(&a, ctx);
}

int p_init(const void *arg, size_t arg_len, rp_task_ctx_t *ctx)
{
	uint32_t n;

	if (!arg || arg_len != sizeof(P_INIT_ARG) ||
	    memcmp(arg, P_INIT_ARG, sizeof(P_INIT_ARG)) != 0)
		return rp_task_fail(ctx, P_CODE_BADARG,
				    "p_init: wrong argument (%zu bytes)",
				    arg_len);
	n = __atomic_fetch_add(&p_sh->init_count, 1, __ATOMIC_ACQ_REL);
	if (n < P_PIDS)
		p_sh->init_pid[n] = getpid();
	if (__atomic_load_n(&p_sh->init_fail, __ATOMIC_ACQUIRE))
		return rp_task_fail(ctx, 7, "p_init refuses (worker %d)",
				    rp_task_worker(ctx));
	here_init = P_INIT_MAGIC;
	return 0;
}

/* ---- test side ---- */

void p_wait_started(int slot)
{
	if (p_wait_ge(&p_sh->started[slot], 1, H_GUARD_S) < 0)
		fail_msg("the task on slot %d never started", slot);
}

void p_wait_done(int slot)
{
	if (p_wait_ge(&p_sh->done[slot], 1, H_GUARD_S) < 0)
		fail_msg("the task on slot %d never finished", slot);
}

void p_open(int slot)
{
	p_raise(&p_sh->gate[slot]);
}

#define P_TRACK 32
static rp_pool_t *pools[P_TRACK];
static rp_iter_t *iters[P_TRACK];

static void track(void **arr, void *p)
{
	for (int i = 0; i < P_TRACK; i++) {
		if (!arr[i]) {
			arr[i] = p;
			return;
		}
	}
	fail_msg("pool harness: too many live objects");
}

static void untrack(void **arr, void *p)
{
	for (int i = 0; i < P_TRACK; i++)
		if (arr[i] == p)
			arr[i] = NULL;
}

rp_pool_t *p_pool(const struct rp_pool_opts *opts)
{
	rp_pool_t *pool = NULL;
	int rc = rp_pool_create(opts, &pool);

	if (rc != 0)
		fail_msg("rp_pool_create: %d (%s)", rc, rp_err_name(rc));
	assert_non_null(pool);
	track((void **)pools, pool);
	return pool;
}

rp_pool_t *p_track(rp_pool_t *pool)
{
	assert_non_null(pool);
	track((void **)pools, pool);
	return pool;
}

rp_pool_t *p_pool_n(unsigned n)
{
	struct rp_pool_opts o = {
		.nworkers = n,
		.initializer = p_init,
		.initarg = P_INIT_ARG,
		.initarg_len = sizeof(P_INIT_ARG),
	};

	return p_pool(&o);
}

void p_destroy(rp_pool_t *pool)
{
	untrack((void **)pools, pool);
	rp_pool_destroy(pool);
}

rp_iter_t *p_track_iter(rp_iter_t *it)
{
	assert_non_null(it);
	track((void **)iters, it);
	return it;
}

void p_iter_free(rp_iter_t *it)
{
	untrack((void **)iters, it);
	rp_iter_free(it);
}

rp_result_t *p_submit(rp_pool_t *pool, const struct p_arg *a,
		      const struct rp_submit_opts *opts)
{
	rp_result_t *res = NULL;
	int rc = rp_apply_async(pool, p_task, a, sizeof(*a),
				sizeof(struct p_rep), opts, &res);

	if (rc != 0)
		fail_msg("rp_apply_async: %d (%s)", rc, rp_err_name(rc));
	assert_non_null(res);
	return res;
}

const struct p_rep *p_get(rp_result_t *res)
{
	const void *data = NULL;
	size_t len = 0;
	int rc = rp_result_get(res, H_GUARD_NS, &data, &len);

	if (rc != 0) {
		const struct rp_error *e = rp_result_error(res);

		fail_msg("rp_result_get: %d (%s), task_code %d, \"%s\"", rc,
			 rp_err_name(rc), e ? e->task_code : 0,
			 e ? e->message : "");
	}
	assert_non_null(data);
	assert_int_equal(len, sizeof(struct p_rep));
	return data;
}

void p_on_every_worker(rp_pool_t *pool, unsigned n, pid_t *ret_pids)
{
	rp_result_t *r[P_SLOTS];

	assert_true(n <= P_SLOTS);
	p_sh->count = 0;
	for (unsigned i = 0; i < n; i++) {
		struct p_arg a = { .slot = -1, .flags = P_COUNT,
				   .target = (int32_t)n, .value = i };

		r[i] = p_submit(pool, &a, NULL);
	}
	for (unsigned i = 0; i < n; i++) {
		const struct p_rep *rep = p_get(r[i]);

		assert_int_equal(rep->value, i);
		if (ret_pids)
			ret_pids[i] = rep->pid;
		rp_result_free(r[i]);
	}
}

struct p_rep p_apply(rp_pool_t *pool, const struct p_arg *a)
{
	struct p_rep r;
	struct rp_error e;
	size_t len = 0;
	int rc;

	memset(&r, 0, sizeof(r));
	memset(&e, 0, sizeof(e));
	rc = rp_apply(pool, p_task, a, sizeof(*a), &r, sizeof(r), &len, &e);
	if (rc != 0)
		fail_msg("rp_apply: %d (%s), task_code %d, \"%s\"", rc,
			 rp_err_name(rc), e.task_code, e.message);
	assert_int_equal(len, sizeof(r));
	return r;
}

bool p_init_pid_known(pid_t pid)
{
	uint32_t n = __atomic_load_n(&p_sh->init_count, __ATOMIC_ACQUIRE);

	for (uint32_t i = 0; i < n && i < P_PIDS; i++)
		if (p_sh->init_pid[i] == pid)
			return true;
	return false;
}

void p_assert_broken_unstarted(int rc, const struct rp_error *e)
{
	assert_int_equal(rc, RP_EBROKEN);
	assert_int_equal(e->code, RP_EBROKEN);
	assert_int_equal(e->attempts, 0);
	assert_int_equal(e->signal, 0);
	assert_non_null(strstr(e->message, "the pool is broken"));
}

/* ---- callbacks ---- */

static void cb_record(rp_result_t *res, void *user, bool ok)
{
	struct p_cbrec *rec = user;
	int f = __atomic_add_fetch(&p_cb.in_flight, 1, __ATOMIC_ACQ_REL);
	int m = __atomic_load_n(&p_cb.max_in_flight, __ATOMIC_RELAXED);
	const struct rp_error *e;
	const void *data = NULL;
	size_t len = 0;

	while (f > m && !__atomic_compare_exchange_n(&p_cb.max_in_flight, &m,
						     f, false, __ATOMIC_ACQ_REL,
						     __ATOMIC_RELAXED))
		;
	__atomic_add_fetch(&p_cb.calls, 1, __ATOMIC_ACQ_REL);
	if (getpid() != p_cb.owner_pid)
		__atomic_add_fetch(&p_cb.wrong_pid, 1, __ATOMIC_ACQ_REL);
	if (!rec) {
		__atomic_add_fetch(&p_cb.no_user, 1, __ATOMIC_ACQ_REL);
	} else {
		rec->ready = rp_result_ready(res);
		rec->successful = rp_result_successful(res);
		rec->get_rc = rp_result_get(res, 0, &data, &len);
		e = rp_result_error(res);
		rec->err_code = e ? e->code : 0;
		rec->len = len;
		rec->value = (rec->get_rc == 0 && data &&
			      len >= sizeof(struct p_rep))
				     ? ((const struct p_rep *)data)->value
				     : -1;
		/* A few yields widen the window in which an overlapping
		 * callback would be seen. */
		for (int i = 0; i < 3; i++)
			sched_yield();
		__atomic_add_fetch(ok ? &rec->ok : &rec->err, 1,
				   __ATOMIC_ACQ_REL);
	}
	__atomic_sub_fetch(&p_cb.in_flight, 1, __ATOMIC_ACQ_REL);
}

void p_cb_ok(rp_result_t *res, void *user)
{
	cb_record(res, user, true);
}

void p_cb_err(rp_result_t *res, void *user)
{
	cb_record(res, user, false);
}

struct rp_submit_opts p_cb_opts(struct p_cbrec *rec)
{
	return (struct rp_submit_opts){
		.callback = p_cb_ok,
		.error_callback = p_cb_err,
		.user = rec,
	};
}

/* ---- fixtures ---- */

int p_group_setup(void **state)
{
	void *page = mmap(NULL, sizeof(struct p_shared),
			  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			  -1, 0);
	struct rp_pool_opts o = { .nworkers = 1 };
	struct p_arg a = p_plain(1);
	struct p_rep r;
	rp_pool_t *pool = NULL;
	int rc;

	if (page == MAP_FAILED)
		return -1;
	p_sh = page;
	if (h_group_setup(state) < 0)
		return -1;
	/*
	 * One pool made and destroyed before the per-test leak snapshots, so
	 * that process-global state built lazily by the first pool (as the
	 * forkserver zygote is) is not taken for a leak.
	 */
	rc = rp_pool_create(&o, &pool);
	if (rc < 0) {
		print_error("warm-up: rp_pool_create: %s\n", rp_err_name(rc));
		return -1;
	}
	rc = rp_apply(pool, p_task, &a, sizeof(a), &r, sizeof(r), NULL, NULL);
	rp_pool_destroy(pool);
	if (rc < 0) {
		print_error("warm-up: rp_apply: %s\n", rp_err_name(rc));
		return -1;
	}
	return 0;
}

int p_group_teardown(void **state)
{
	/* The page stays mapped: a zygote's snapshot may outlive us. */
	return h_group_teardown(state);
}

int p_setup(void **state)
{
	memset(p_sh, 0, sizeof(*p_sh));
	memset(&p_cb, 0, sizeof(p_cb));
	p_cb.owner_pid = getpid();
	return h_setup(state);
}

int p_teardown(void **state)
{
	for (int i = 0; i < P_SLOTS; i++)
		p_open(i);
	for (int i = 0; i < P_TRACK; i++) {
		if (iters[i]) {
			rp_iter_free(iters[i]);
			iters[i] = NULL;
		}
	}
	for (int i = 0; i < P_TRACK; i++) {
		if (pools[i]) {
			rp_pool_destroy(pools[i]);
			pools[i] = NULL;
		}
	}
	return h_teardown(state);
}
