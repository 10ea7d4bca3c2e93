/* SPDX-License-Identifier: MIT */
/*
 * The Pool, AsyncResult and task API as include/ringpool.h documents it
 * (SPEC.md §1-3), through the public header only: one test per row.
 *
 * Tasks never assert: they report through their results (struct p_rep),
 * their failure codes and the shared page (pool_harness.h), and block on
 * futex gates only the test opens.  Orders are proved with gates and the
 * page's tick counter, never with time.
 */
#include <dirent.h>

#include "pool_api.h"

/* ------------------------------------------------------------------------ */
/* Pool(processes, initializer, initargs, maxtasksperchild)                 */
/* ------------------------------------------------------------------------ */

/*
 * More workers than the zygote takes requests at once (rp__zygote_spawn_many
 * sends them in windows of 16): all start, and all run at once, each task
 * holding until every one has started.
 */
static void many_workers_start_together(void **state)
{
	enum { N = 40 };
	static struct p_arg items[N];
	static struct p_rep reps[N];
	rp_pool_t *pool = p_pool_n(N);
	struct rp_error e;

	assert_int_equal(rp_pool_size(pool), N);
	for (int i = 0; i < N; i++) {
		items[i] = p_plain(i);
		items[i].flags = P_COUNT;
		items[i].target = N;
	}
	assert_int_equal(rp_map(pool, p_task, items, N, sizeof(items[0]), reps,
				sizeof(reps[0]), 1, &e),
			 0);
	for (int i = 0; i < N; i++)
		for (int j = 0; j < i; j++)
			assert_int_not_equal(reps[i].pid, reps[j].pid);
	p_destroy(pool);
}

static void create_nworkers_default(void **state)
{
	struct rp_pool_opts o = { 0 };
	struct p_arg a = p_plain(1);
	cpu_set_t set;
	rp_pool_t *pool;
	struct p_rep r;

	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	pool = p_pool(&o);
	assert_int_equal(rp_pool_size(pool), CPU_COUNT(&set));
	r = p_apply(pool, &a);
	assert_int_not_equal(r.pid, getpid());
	assert_true(r.worker >= 0 && r.worker < CPU_COUNT(&set));
	p_destroy(pool);

	o.nworkers = 3;
	pool = p_pool(&o);
	assert_int_equal(rp_pool_size(pool), 3);
	r = p_apply(pool, &a);
	assert_true(r.worker >= 0 && r.worker < 3);
	p_destroy(pool);
}

/*
 * The initializer has run in every worker by the time create returns, once
 * each, and before each worker's first task: every task finds its mark in
 * its own process.  Without an initializer the mark is absent, so the
 * check can fail.
 */
static void initializer_runs_before_any_task(void **state)
{
	enum { N = 3, ITEMS = 30 };
	struct p_arg items[ITEMS];
	struct p_rep reps[ITEMS];
	struct rp_pool_opts plain = { .nworkers = 2 };
	pid_t ipids[N], seen[ITEMS], distinct[ITEMS];
	rp_pool_t *pool = p_pool_n(N);
	struct rp_error e;
	struct p_rep r;

	assert_int_equal(p_sh->init_count, N);
	for (int i = 0; i < N; i++)
		ipids[i] = p_sh->init_pid[i];
	assert_int_equal(pids_distinct(ipids, N, distinct, N), N);

	for (int i = 0; i < ITEMS; i++)
		items[i] = p_plain(i);
	memset(reps, 0, sizeof(reps));
	assert_int_equal(rp_map(pool, p_task, items, ITEMS, sizeof(items[0]),
				reps, sizeof(reps[0]), 1, &e),
			 0);
	for (int i = 0; i < ITEMS; i++) {
		assert_int_equal(reps[i].init, P_INIT_MAGIC);
		assert_true(p_init_pid_known(reps[i].pid));
		seen[i] = reps[i].pid;
	}
	/* No worker ran its initializer twice. */
	assert_int_equal(p_sh->init_count, N);
	assert_true(pids_distinct(seen, ITEMS, distinct, ITEMS) <= N);
	p_destroy(pool);

	pool = p_pool(&plain);
	r = p_apply(pool, &items[0]);
	assert_int_equal(r.init, 0);
	p_destroy(pool);
}

/* An initializer that fails fails create with RP_EINIT: no respawn loop. */
static void initializer_failure_fails_create(void **state)
{
	struct rp_error ie;
	struct rp_pool_opts o = {
		.nworkers = 2,
		.initializer = p_init,
		.initarg = P_INIT_ARG,
		.initarg_len = sizeof(P_INIT_ARG),
		.init_error = &ie,
	};
	rp_pool_t *pool = (rp_pool_t *)&sentinel_obj;
	int rc;

	memset(&ie, 0, sizeof(ie));
	p_sh->init_fail = 1;
	rc = rp_pool_create(&o, &pool);
	assert_int_equal(rc, RP_EINIT);
	assert_ptr_equal(pool, (rp_pool_t *)&sentinel_obj);
	assert_int_equal(ie.code, RP_EINIT);
	assert_int_equal(ie.task_code, 7);
	assert_true(strncmp(ie.message, "p_init refuses", 14) == 0);
	assert_true(p_sh->init_count >= 1 && p_sh->init_count <= 2);
}

/*
 * max_tasks_per_worker = 3: no process runs more than 3 tasks, workers are
 * replaced (each replacement runs the initializer first), nothing is lost.
 */
static void max_tasks_per_worker_recycles(void **state)
{
	enum { MAX = 3, APPLIES = 12, ITEMS = 40 };
	struct rp_pool_opts o = {
		.nworkers = 2,
		.initializer = p_init,
		.initarg = P_INIT_ARG,
		.initarg_len = sizeof(P_INIT_ARG),
		.max_tasks_per_worker = MAX,
	};
	pid_t pids[APPLIES + ITEMS], distinct[APPLIES + ITEMS];
	struct p_arg items[ITEMS];
	struct p_rep reps[ITEMS];
	rp_pool_t *pool = p_pool(&o);
	struct rp_error e;
	int nd;

	for (int i = 0; i < APPLIES; i++) {
		struct p_arg a = p_plain(i);
		struct p_rep r = p_apply(pool, &a);

		assert_int_equal(r.value, i);
		assert_true(r.seq >= 1 && r.seq <= MAX);
		assert_int_equal(r.init, P_INIT_MAGIC);
		assert_true(p_init_pid_known(r.pid));
		pids[i] = r.pid;
	}
	nd = pids_distinct(pids, APPLIES, distinct, APPLIES);
	assert_true(nd >= APPLIES / MAX);
	for (int k = 0; k < nd; k++) {
		int n = 0;

		for (int i = 0; i < APPLIES; i++)
			n += pids[i] == distinct[k];
		assert_true(n <= MAX);
	}

	for (int i = 0; i < ITEMS; i++)
		items[i] = p_plain(100 + i);
	memset(reps, 0, sizeof(reps));
	if (rp_map(pool, p_task, items, ITEMS, sizeof(items[0]), reps,
		   sizeof(reps[0]), 1, &e) != 0)
		fail_rc("rp_map", e.code, &e);
	for (int i = 0; i < ITEMS; i++) {
		assert_int_equal(reps[i].value, 100 + i);
		assert_true(reps[i].seq >= 1 && reps[i].seq <= MAX);
		assert_int_equal(reps[i].init, P_INIT_MAGIC);
		pids[APPLIES + i] = reps[i].pid;
	}
	nd = pids_distinct(pids, APPLIES + ITEMS, distinct,
			   APPLIES + ITEMS);
	assert_true(nd >= (APPLIES + ITEMS) / MAX);
	/* Every worker that ever ran, replacements included, ran p_init. */
	assert_true(p_sh->init_count >= (uint32_t)nd);
	assert_int_equal(rp_pool_size(pool), 2);
	p_destroy(pool);
}

/* ------------------------------------------------------------------------ */
/* apply, apply_async and AsyncResult                                       */
/* ------------------------------------------------------------------------ */

static int noarg_task(const void *arg, size_t arg_len, void *res,
		      size_t res_cap, rp_task_ctx_t *ctx)
{
	if (arg_len != 0 || res_cap != sizeof(int32_t))
		return rp_task_fail(ctx, P_CODE_BADARG, "arg_len %zu cap %zu",
				    arg_len, res_cap);
	*(int32_t *)res = 7;
	return 0;
}

static void apply_returns_result(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_plain(41);
	struct p_rep r = p_apply(pool, &a);
	int32_t seven = 0;
	size_t len = SENTINEL_LEN;

	assert_int_equal(r.value, 41);
	assert_int_equal(r.out, 124);
	assert_int_equal(r.index, -1);
	assert_true(r.worker >= 0 && r.worker < 2);
	assert_int_not_equal(r.pid, getpid());

	/* No argument at all, and the optional outputs left out. */
	assert_int_equal(rp_apply(pool, noarg_task, NULL, 0, &seven,
				  sizeof(seven), NULL, NULL),
			 0);
	assert_int_equal(seven, 7);
	seven = 0;
	assert_int_equal(rp_apply(pool, noarg_task, NULL, 0, &seven,
				  sizeof(seven), &len, NULL),
			 0);
	assert_int_equal(seven, 7);
	assert_int_equal(len, sizeof(seven));
	p_destroy(pool);
}

/* apply blocks: three applies in a row never overlap (ticks). */
static void apply_blocks_until_done(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_rep r[3];

	for (int i = 0; i < 3; i++) {
		struct p_arg a = p_plain(i);

		r[i] = p_apply(pool, &a);
	}
	assert_true(r[0].tick_end < r[1].tick_start);
	assert_true(r[1].tick_end < r[2].tick_start);
	p_destroy(pool);
}

static void apply_async_get_wait_ready_successful(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_gated(0, 5);
	rp_result_t *res = p_submit(pool, &a, NULL);
	const void *data = &sentinel_obj;
	size_t len = SENTINEL_LEN;
	const struct p_rep *r;

	/* It returned at once: the task is held at a gate only we open. */
	p_wait_started(0);
	assert_int_equal(rp_result_ready(res), 0);
	assert_int_equal(rp_result_successful(res), -EINVAL);
	assert_null(rp_result_error(res));
	assert_int_equal(rp_result_wait(res, 1000000), -ETIMEDOUT);
	assert_int_equal(rp_result_wait(res, 0), -ETIMEDOUT);
	assert_int_equal(rp_result_get(res, 1000000, &data, &len), -ETIMEDOUT);
	assert_int_equal(rp_result_get(res, 0, &data, &len), -ETIMEDOUT);
	assert_ptr_equal(data, &sentinel_obj);
	assert_int_equal(len, SENTINEL_LEN);
	/* A timed-out get leaves the task running. */
	assert_int_equal(p_sh->done[0], 0);
	assert_int_equal(p_sh->guard[0], 0);

	p_open(0);
	assert_int_equal(rp_result_wait(res, H_GUARD_NS), 0);
	assert_int_equal(rp_result_ready(res), 1);
	assert_int_equal(rp_result_successful(res), 1);
	assert_null(rp_result_error(res));
	r = p_get(res);
	assert_int_equal(r->value, 5);
	assert_int_equal(r->out, 16);
	/* Again, with the other timeouts, and with no outputs. */
	assert_int_equal(rp_result_get(res, 0, &data, &len), 0);
	assert_int_equal(len, sizeof(*r));
	assert_int_equal(((const struct p_rep *)data)->value, 5);
	/* The first pointer is still valid. */
	assert_int_equal(r->value, 5);
	assert_int_equal(rp_result_get(res, RP_FOREVER, NULL, NULL), 0);
	assert_int_equal(rp_result_wait(res, 0), 0);
	assert_int_equal(rp_result_wait(res, RP_FOREVER), 0);
	rp_result_free(res);
	p_destroy(pool);
}

/* ------------------------------------------------------------------------ */
/* Callbacks                                                                */
/* ------------------------------------------------------------------------ */

/*
 * Exactly once each (callback on success, error_callback on failure,
 * neither when that one is NULL), in the test's process, one at a time,
 * all done by the time join returns.
 */
static void callbacks_once_in_owner_never_concurrent(void **state)
{
	enum { N = 24 };
	/* static: a callback may still run after a failed test has left */
	static struct p_cbrec recs[N], lone[2];
	rp_result_t *res[N], *lres[2], *quiet;
	rp_pool_t *pool = p_pool_n(2);
	struct rp_submit_opts so;
	struct p_arg a;

	memset(recs, 0, sizeof(recs));
	memset(lone, 0, sizeof(lone));
	for (int i = 0; i < N; i++) {
		a = p_plain(i);
		if (i % 2) {
			a.flags = P_FAIL;
			a.code = 40 + i;
		}
		so = p_cb_opts(&recs[i]);
		res[i] = p_submit(pool, &a, &so);
	}
	/* Only a callback, and the task fails: nothing runs. */
	a = p_plain(100);
	a.flags = P_FAIL;
	a.code = 3;
	so = p_cb_opts(&lone[0]);
	so.error_callback = NULL;
	lres[0] = p_submit(pool, &a, &so);
	/* Only an error callback, and the task succeeds: nothing runs. */
	a = p_plain(101);
	so = p_cb_opts(&lone[1]);
	so.callback = NULL;
	lres[1] = p_submit(pool, &a, &so);
	a = p_plain(102);
	quiet = p_submit(pool, &a, NULL);

	for (int i = 0; i < N; i++) {
		if (i % 2)
			assert_int_equal(rp_result_get(res[i], H_GUARD_NS,
						       NULL, NULL),
					 RP_ETASK);
		else
			assert_int_equal(p_get(res[i])->value, i);
	}
	close_join(pool);

	for (int i = 0; i < N; i++) {
		bool ok = !(i % 2);

		assert_int_equal(recs[i].ok, ok ? 1 : 0);
		assert_int_equal(recs[i].err, ok ? 0 : 1);
		assert_int_equal(recs[i].ready, 1);
		assert_int_equal(recs[i].successful, ok ? 1 : 0);
		assert_int_equal(recs[i].get_rc, ok ? 0 : RP_ETASK);
		assert_int_equal(recs[i].err_code, ok ? 0 : RP_ETASK);
		if (ok)
			assert_int_equal(recs[i].value, i);
		rp_result_free(res[i]);
	}
	assert_int_equal(lone[0].ok + lone[0].err, 0);
	assert_int_equal(lone[1].ok + lone[1].err, 0);
	assert_int_equal(p_cb.calls, N);
	assert_int_equal(p_cb.wrong_pid, 0);
	assert_int_equal(p_cb.no_user, 0);
	assert_int_equal(p_cb.max_in_flight, 1);
	rp_result_free(lres[0]);
	rp_result_free(lres[1]);
	rp_result_free(quiet);
	p_destroy(pool);
}

/*
 * This process's threads, each named by its tid and start time (field 22
 * of /proc/self/task/TID/stat, in clock ticks since boot): a tid alone
 * could be a reused one.
 */
#define THREADS_MAX 256

struct thread_set {
	int n;
	struct {
		pid_t tid;
		unsigned long long start;
	} t[THREADS_MAX];
};

/* Thread tid's start time; false when it is gone. */
static bool thread_start(const char *tid, unsigned long long *ret_start)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%s/stat", tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After "tid (comm) ": state is field 3, starttime field 22. */
	p = strrchr(buf, ')');
	if (!p)
		return false;
	p++;
	for (int field = 3; field <= 22; field++) {
		p += strspn(p, " ");
		if (field == 22)
			return sscanf(p, "%llu", ret_start) == 1;
		p += strcspn(p, " ");
	}
	return false;
}

static void thread_set_read(struct thread_set *s)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	assert_non_null(d);
	s->n = 0;
	while ((e = readdir(d))) {
		unsigned long long start;

		if (e->d_name[0] == '.' || !thread_start(e->d_name, &start))
			continue;
		if (s->n == THREADS_MAX)
			fail_msg("more than %d threads", THREADS_MAX);
		s->t[s->n].tid = (pid_t)atoi(e->d_name);
		s->t[s->n].start = start;
		s->n++;
	}
	closedir(d);
}

/*
 * Threads running now that were not in base.  Threads of base that ended
 * since (say, a previous test's pool thread, joined but still on its way
 * out of the kernel when base was read) are no matter: they only leave.
 */
static int threads_new_since(const struct thread_set *base)
{
	static struct thread_set now;
	int n = 0;

	thread_set_read(&now);
	for (int i = 0; i < now.n; i++) {
		bool old = false;

		for (int j = 0; j < base->n && !old; j++)
			old = now.t[i].tid == base->t[j].tid &&
			      now.t[i].start == base->t[j].start;
		n += !old;
	}
	return n;
}

/*
 * A pool runs one thread of its own (the loop) until a submit asks for a
 * callback, which starts the callback thread; later ones reuse it.  Only
 * the pool starts threads here, so the threads that are new since the
 * start of the test are its own.
 */
static void callback_thread_only_when_asked(void **state)
{
	/* static: a callback may still run after a failed test has left */
	static struct p_cbrec rec[2];
	static struct thread_set before;
	rp_pool_t *pool;
	struct p_arg a = p_plain(7);
	struct rp_submit_opts so;
	rp_result_t *res;

	thread_set_read(&before);
	pool = p_pool_n(2);
	memset(rec, 0, sizeof(rec));
	assert_int_equal(threads_new_since(&before), 1);
	assert_int_equal(p_apply(pool, &a).value, 7);
	assert_int_equal(threads_new_since(&before), 1);
	for (int i = 0; i < 2; i++) {
		so = p_cb_opts(&rec[i]);
		res = p_submit(pool, &a, &so);
		assert_int_equal(p_get(res)->value, 7);
		rp_result_free(res);
		assert_int_equal(threads_new_since(&before), 2);
	}
	close_join(pool);
	assert_int_equal(rec[0].ok + rec[1].ok, 2);
	p_destroy(pool);
}

/* Follow-up: a callback submits a new task from the callback thread. */
static struct {
	rp_pool_t *pool;
	rp_result_t *res;
	int rc;
	uint32_t issued;
} fu;

static void followup_cb(rp_result_t *res, void *user)
{
	const void *data = NULL;
	struct p_arg a = p_plain(-1);

	if (rp_result_get(res, 0, &data, NULL) == 0 && data)
		a.value = ((const struct p_rep *)data)->value + 100;
	fu.rc = rp_apply_async(fu.pool, p_task, &a, sizeof(a),
			       sizeof(struct p_rep), NULL, &fu.res);
	p_raise(&fu.issued);
}

static void callback_submits_followup(void **state)
{
	struct rp_submit_opts so = { .callback = followup_cb };
	struct p_arg a = p_plain(7);
	rp_result_t *first;

	memset(&fu, 0, sizeof(fu));
	fu.pool = p_pool_n(2);
	fu.rc = INT_MIN;
	first = p_submit(fu.pool, &a, &so);
	assert_int_equal(p_get(first)->value, 7);
	if (p_wait_ge(&fu.issued, 1, H_GUARD_S) < 0)
		fail_msg("the callback never ran");
	assert_int_equal(fu.rc, 0);
	assert_int_equal(p_get(fu.res)->value, 107);
	rp_result_free(fu.res);
	rp_result_free(first);
	p_destroy(fu.pool);
}

/* A callback held at a gate delays other callbacks, never results. */
static struct {
	uint32_t in, gate, guard, calls;
} slow;

static void slow_cb(rp_result_t *res, void *user)
{
	p_raise(&slow.in);
	if (p_wait_ge(&slow.gate, 1, H_GUARD_S) < 0)
		p_raise(&slow.guard);
	__atomic_add_fetch(&slow.calls, 1, __ATOMIC_ACQ_REL);
}

static void slow_callback_does_not_block_results(void **state)
{
	enum { ITEMS = 16 };
	struct rp_submit_opts so = { .callback = slow_cb };
	struct p_arg a = p_plain(1), items[ITEMS];
	struct p_rep reps[ITEMS];
	/* static: a callback may still run after a failed test has left */
	static struct p_cbrec rec;
	rp_pool_t *pool = p_pool_n(2);
	rp_result_t *ra, *rb, *rc;
	struct rp_error e;
	struct p_rep r;

	memset(&slow, 0, sizeof(slow));
	memset(&rec, 0, sizeof(rec));
	ra = p_submit(pool, &a, &so);
	if (p_wait_ge(&slow.in, 1, H_GUARD_S) < 0)
		fail_msg("the slow callback never started");

	/* Results with and without callbacks, apply and map complete. */
	a = p_plain(2);
	so = p_cb_opts(&rec);
	rb = p_submit(pool, &a, &so);
	a = p_plain(3);
	rc = p_submit(pool, &a, NULL);
	assert_int_equal(p_get(rb)->value, 2);
	assert_int_equal(p_get(rc)->value, 3);
	a = p_plain(4);
	r = p_apply(pool, &a);
	assert_int_equal(r.value, 4);
	for (int i = 0; i < ITEMS; i++)
		items[i] = p_plain(i);
	assert_int_equal(rp_map(pool, p_task, items, ITEMS, sizeof(items[0]),
				reps, sizeof(reps[0]), 1, &e),
			 0);
	assert_int_equal(reps[ITEMS - 1].value, ITEMS - 1);
	/* Callbacks run one at a time: b's waits for the slow one. */
	assert_int_equal(__atomic_load_n(&rec.ok, __ATOMIC_ACQUIRE), 0);
	assert_int_equal(slow.calls, 0);

	p_raise(&slow.gate);
	close_join(pool);
	assert_int_equal(slow.calls, 1);
	assert_int_equal(slow.guard, 0);
	assert_int_equal(rec.ok, 1);
	rp_result_free(ra);
	rp_result_free(rb);
	rp_result_free(rc);
	p_destroy(pool);
}

/* ------------------------------------------------------------------------ */
/* map, map_async                                                           */
/* ------------------------------------------------------------------------ */

/*
 * Input order for chunksize 1, auto, 7 and larger than n; a chunk runs in
 * one worker in order, so within a chunk of 7 (and the single chunk of
 * 1000) the items share a pid and have consecutive sequence numbers.
 */
static void map_input_order(void **state)
{
	enum { N = 100 };
	static const size_t chunks[] = { 1, RP_CHUNKSIZE_AUTO, 7, 1000 };
	struct p_arg items[N];
	struct p_rep reps[N];
	rp_pool_t *pool = p_pool_n(2);
	struct rp_error e;

	for (int i = 0; i < N; i++)
		items[i] = p_plain(5 * i);
	for (size_t c = 0; c < N_OF(chunks); c++) {
		size_t cs = chunks[c];
		int rc;

		memset(reps, 0, sizeof(reps));
		rc = rp_map(pool, p_task, items, N, sizeof(items[0]), reps,
			    sizeof(reps[0]), cs, &e);
		if (rc != 0)
			fail_rc("rp_map", rc, &e);
		for (int i = 0; i < N; i++) {
			assert_int_equal(reps[i].value, 5 * i);
			assert_int_equal(reps[i].out, 15 * i + 1);
			assert_int_equal(reps[i].index, i);
			assert_true(reps[i].worker >= 0 && reps[i].worker < 2);
			if (cs > 1 && i % cs != 0) {
				assert_int_equal(reps[i].pid,
						 reps[i - 1].pid);
				assert_int_equal(reps[i].seq,
						 reps[i - 1].seq + 1);
			}
		}
	}
	/* An empty map is no error. */
	assert_int_equal(rp_map(pool, p_task, NULL, 0, sizeof(items[0]), NULL,
				sizeof(reps[0]), 0, &e),
			 0);
	p_destroy(pool);
}

static void map_async_batch_callback_once(void **state)
{
	enum { N = 50 };
	struct p_arg items[N];
	/* static: a callback may still run after a failed test has left */
	static struct p_cbrec rec;
	struct rp_submit_opts so = p_cb_opts(&rec);
	rp_pool_t *pool = p_pool_n(2);
	const struct p_rep *reps;
	const void *data = NULL;
	rp_result_t *res = NULL;
	size_t len = 0;

	memset(&rec, 0, sizeof(rec));
	for (int i = 0; i < N; i++)
		items[i] = p_plain(1000 + i);
	assert_int_equal(rp_map_async(pool, p_task, items, N, sizeof(items[0]),
				      sizeof(struct p_rep), 3, &so, &res),
			 0);
	assert_non_null(res);
	assert_int_equal(rp_result_get(res, H_GUARD_NS, &data, &len), 0);
	assert_int_equal(len, N * sizeof(struct p_rep));
	reps = data;
	for (int i = 0; i < N; i++) {
		assert_int_equal(reps[i].value, 1000 + i);
		assert_int_equal(reps[i].index, i);
	}
	assert_int_equal(rp_result_successful(res), 1);
	close_join(pool);
	assert_int_equal(rec.ok, 1);
	assert_int_equal(rec.err, 0);
	assert_int_equal(p_cb.calls, 1);
	assert_int_equal(rec.get_rc, 0);
	assert_int_equal(rec.len, N * sizeof(struct p_rep));
	assert_int_equal(rec.value, 1000);
	rp_result_free(res);
	p_destroy(pool);
}

/* ------------------------------------------------------------------------ */
/* close, terminate, join, destroy                                          */
/* ------------------------------------------------------------------------ */

static void submits_refused(rp_pool_t *pool, int want)
{
	struct p_arg a = p_plain(1);
	struct p_rep r;
	struct rp_input in = { .items = &a, .n = 1, .item_size = sizeof(a) };
	rp_result_t *res = SENTINEL_RES;
	rp_iter_t *it = SENTINEL_IT;

	assert_int_equal(rp_apply_async(pool, p_task, &a, sizeof(a),
					sizeof(r), NULL, &res),
			 want);
	assert_ptr_equal(res, SENTINEL_RES);
	assert_int_equal(rp_apply(pool, p_task, &a, sizeof(a), &r, sizeof(r),
				  NULL, NULL),
			 want);
	assert_int_equal(rp_map(pool, p_task, &a, 1, sizeof(a), &r, sizeof(r),
				0, NULL),
			 want);
	assert_int_equal(rp_map_async(pool, p_task, &a, 1, sizeof(a),
				      sizeof(r), 0, NULL, &res),
			 want);
	assert_ptr_equal(res, SENTINEL_RES);
	assert_int_equal(rp_imap(pool, p_task, &in, sizeof(r), 0, &it), want);
	assert_ptr_equal(it, SENTINEL_IT);
	assert_int_equal(rp_imap_unordered(pool, p_task, &in, sizeof(r), 0,
					   &it),
			 want);
	assert_ptr_equal(it, SENTINEL_IT);
}

/* close refuses new work at once; queued and running tasks finish. */
static void close_refuses_new_finishes_queued(void **state)
{
	enum { N = 6 };
	rp_pool_t *pool = p_pool_n(2);
	rp_result_t *res[N];

	for (int i = 0; i < N; i++) {
		struct p_arg a = i < 2 ? p_gated(i, i) : p_plain(i);

		a.slot = i;
		res[i] = p_submit(pool, &a, NULL);
		if (i == 1) {
			p_wait_started(0);
			p_wait_started(1);
		}
	}
	/* Returns at once: the two running tasks wait for us. */
	assert_int_equal(rp_pool_close(pool), 0);
	submits_refused(pool, RP_ECLOSED);
	assert_int_equal(p_sh->done[0] + p_sh->done[1], 0);
	p_open(0);
	p_open(1);
	for (int i = 0; i < N; i++) {
		assert_int_equal(p_get(res[i])->value, i);
		assert_int_equal(p_sh->done[i], 1);
		rp_result_free(res[i]);
	}
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	assert_int_equal(rp_pool_join(pool, 0), 0);
	p_destroy(pool);
}

/*
 * terminate: two running tasks held at gates and three queued complete with
 * RP_ETERMINATED (error callbacks once each); none ever reports done.
 */
static void terminate_completes_unfinished(void **state)
{
	enum { N = 5 };
	/* static: a callback may still run after a failed test has left */
	static struct p_cbrec recs[N];
	rp_result_t *res[N];
	rp_pool_t *pool = p_pool_n(2);

	memset(recs, 0, sizeof(recs));
	for (int i = 0; i < N; i++) {
		struct p_arg a = p_gated(i, i);
		struct rp_submit_opts so = p_cb_opts(&recs[i]);

		res[i] = p_submit(pool, &a, &so);
		if (i == 1) {
			p_wait_started(0);
			p_wait_started(1);
		}
	}
	assert_int_equal(rp_pool_terminate(pool), 0);
	for (int i = 0; i < N; i++) {
		const struct rp_error *e;

		assert_int_equal(rp_result_get(res[i], H_GUARD_NS, NULL, NULL),
				 RP_ETERMINATED);
		assert_int_equal(rp_result_ready(res[i]), 1);
		assert_int_equal(rp_result_successful(res[i]), 0);
		e = rp_result_error(res[i]);
		assert_non_null(e);
		assert_int_equal(e->code, RP_ETERMINATED);
	}
	for (int i = 2; i < N; i++)
		assert_int_equal(p_sh->started[i], 0);
	assert_int_equal(rp_pool_terminate(pool), -EALREADY);
	assert_int_equal(rp_pool_close(pool), -EALREADY);
	submits_refused(pool, RP_ECLOSED);
	/* Opening the gates now reaches no one: the workers are gone. */
	for (int i = 0; i < N; i++)
		p_open(i);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(p_sh->done[i], 0);
		assert_int_equal(p_sh->guard[i], 0);
		assert_int_equal(recs[i].ok, 0);
		assert_int_equal(recs[i].err, 1);
		assert_int_equal(recs[i].err_code, RP_ETERMINATED);
		rp_result_free(res[i]);
	}
	assert_int_equal(p_cb.max_in_flight, 1);
	p_destroy(pool);
}

static void join_before_close_einval(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_plain(3);

	assert_int_equal(rp_pool_join(pool, 0), -EINVAL);
	/* Refused at once, whatever the timeout. */
	assert_int_equal(rp_pool_join(pool, RP_FOREVER), -EINVAL);
	assert_int_equal(p_apply(pool, &a).value, 3);
	close_join(pool);
	p_destroy(pool);
}

/* join after close waits for the running task, and times out meanwhile. */
static void join_after_close(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_gated(0, 8);
	rp_result_t *res = p_submit(pool, &a, NULL);

	p_wait_started(0);
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, 0), -ETIMEDOUT);
	assert_int_equal(rp_pool_join(pool, 1000000), -ETIMEDOUT);
	assert_int_equal(p_sh->done[0], 0);
	p_open(0);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	assert_int_equal(p_sh->done[0], 1);
	assert_int_equal(rp_result_ready(res), 1);
	assert_int_equal(p_get(res)->value, 8);
	rp_result_free(res);
	p_destroy(pool);
}

enum destroy_state { D_FRESH, D_CLOSED, D_JOINED, D_TERMINATED, D_BUSY };

static void destroy_in(enum destroy_state s)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_gated(0, 1);
	rp_result_t *res = NULL;

	if (s == D_BUSY) {
		res = p_submit(pool, &a, NULL);
		p_wait_started(0);
	}
	if (s == D_CLOSED || s == D_JOINED)
		assert_int_equal(rp_pool_close(pool), 0);
	if (s == D_JOINED)
		assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	if (s == D_TERMINATED)
		assert_int_equal(rp_pool_terminate(pool), 0);
	p_destroy(pool);
	if (res) {
		assert_int_equal(rp_result_get(res, H_GUARD_NS, NULL, NULL),
				 RP_ETERMINATED);
		assert_int_equal(p_sh->done[0], 0);
		rp_result_free(res);
	}
	/* The teardown's leak check: no child, fd or mapping left. */
}

static void destroy_fresh(void **state) { destroy_in(D_FRESH); }
static void destroy_closed(void **state) { destroy_in(D_CLOSED); }
static void destroy_joined(void **state) { destroy_in(D_JOINED); }
static void destroy_terminated(void **state) { destroy_in(D_TERMINATED); }
static void destroy_busy(void **state) { destroy_in(D_BUSY); }

static void destroy_null(void **state)
{
	rp_pool_destroy(NULL);
	rp_result_free(NULL);
	rp_iter_free(NULL);
}

/* Results stay readable after close + join, and after destroy, until
 * freed. */
static void results_readable_after_close_join_destroy(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_plain(21), b = p_plain(22);
	const struct p_rep *r1, *r2;
	const struct rp_error *e;
	rp_result_t *ra, *rb;

	b.flags = P_FAIL;
	b.code = 4;
	ra = p_submit(pool, &a, NULL);
	rb = p_submit(pool, &b, NULL);
	close_join(pool);
	r1 = p_get(ra);
	assert_int_equal(r1->value, 21);
	assert_int_equal(rp_result_get(rb, 0, NULL, NULL), RP_ETASK);
	p_destroy(pool);

	/* The bytes from before destroy are still valid, and get again. */
	assert_int_equal(r1->value, 21);
	r2 = p_get(ra);
	assert_int_equal(r2->value, 21);
	assert_int_equal(rp_result_ready(ra), 1);
	assert_int_equal(rp_result_successful(ra), 1);
	assert_int_equal(rp_result_wait(ra, 0), 0);
	assert_int_equal(rp_result_get(rb, RP_FOREVER, NULL, NULL), RP_ETASK);
	assert_int_equal(rp_result_successful(rb), 0);
	e = rp_result_error(rb);
	assert_non_null(e);
	assert_int_equal(e->code, RP_ETASK);
	assert_int_equal(e->task_code, 4);
	assert_string_equal(e->message, "task 22 failed");
	rp_result_free(ra);
	rp_result_free(rb);
}

/* Freeing an unfinished result detaches it: the task runs, its callback
 * runs once. */
static void result_free_unfinished_detaches(void **state)
{
	/* static: a callback may still run after a failed test has left */
	static struct p_cbrec rec;
	struct rp_submit_opts so = p_cb_opts(&rec);
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_gated(0, 6);
	rp_result_t *res;

	memset(&rec, 0, sizeof(rec));
	res = p_submit(pool, &a, &so);
	p_wait_started(0);
	rp_result_free(res);
	p_open(0);
	close_join(pool);
	assert_int_equal(p_sh->done[0], 1);
	assert_int_equal(rec.ok, 1);
	assert_int_equal(rec.err, 0);
	assert_int_equal(p_cb.calls, 1);
	p_destroy(pool);
}

/*
 * cancel: with both workers held at gates, the next task is surely queued;
 * cancelled, it completes with RP_ECANCELED and never runs (it would raise
 * started[2]).  A running task cannot be cancelled (-EBUSY), a complete
 * one neither (-EALREADY).  The same for a queued map.
 */
static void cancel_queued_task(void **state)
{
	enum { M = 4 };
	/* static: a callback may still run after a failed test has left */
	static struct p_cbrec rec, mrec;
	struct rp_submit_opts so = p_cb_opts(&rec), mso = p_cb_opts(&mrec);
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a0 = p_gated(0, 0), a1 = p_gated(1, 1), q = p_plain(2);
	struct p_arg items[M];
	rp_result_t *r0, *r1, *rq, *rm = NULL;
	const struct rp_error *e;

	memset(&rec, 0, sizeof(rec));
	memset(&mrec, 0, sizeof(mrec));
	r0 = p_submit(pool, &a0, NULL);
	r1 = p_submit(pool, &a1, NULL);
	p_wait_started(0);
	p_wait_started(1);
	q.slot = 2;
	rq = p_submit(pool, &q, &so);
	for (int i = 0; i < M; i++) {
		items[i] = p_plain(i);
		items[i].slot = 10 + i;
	}
	assert_int_equal(rp_map_async(pool, p_task, items, M, sizeof(items[0]),
				      sizeof(struct p_rep), 1, &mso, &rm),
			 0);

	assert_int_equal(rp_result_cancel(rq, false), 0);
	assert_int_equal(rp_result_get(rq, H_GUARD_NS, NULL, NULL),
			 RP_ECANCELED);
	assert_int_equal(rp_result_ready(rq), 1);
	assert_int_equal(rp_result_successful(rq), 0);
	e = rp_result_error(rq);
	assert_non_null(e);
	assert_int_equal(e->code, RP_ECANCELED);
	assert_int_equal(rp_result_cancel(rq, false), -EALREADY);

	assert_int_equal(rp_result_cancel(rm, false), 0);
	assert_int_equal(rp_result_get(rm, H_GUARD_NS, NULL, NULL),
			 RP_ECANCELED);
	assert_int_equal(rp_result_error(rm)->code, RP_ECANCELED);

	assert_int_equal(rp_result_cancel(r0, false), -EBUSY);
	p_open(0);
	p_open(1);
	assert_int_equal(p_get(r0)->value, 0);
	assert_int_equal(p_get(r1)->value, 1);
	assert_int_equal(rp_result_cancel(r0, false), -EALREADY);
	close_join(pool);

	assert_int_equal(p_sh->started[2], 0);
	for (int i = 0; i < M; i++)
		assert_int_equal(p_sh->started[10 + i], 0);
	assert_int_equal(rec.ok, 0);
	assert_int_equal(rec.err, 1);
	assert_int_equal(rec.err_code, RP_ECANCELED);
	assert_int_equal(mrec.ok, 0);
	assert_int_equal(mrec.err, 1);
	rp_result_free(r0);
	rp_result_free(r1);
	rp_result_free(rq);
	rp_result_free(rm);
	p_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		P_T(create_nworkers_default),
		P_T(many_workers_start_together),
		P_T(initializer_runs_before_any_task),
		P_T(initializer_failure_fails_create),
		P_T(max_tasks_per_worker_recycles),
		P_T(apply_returns_result),
		P_T(apply_blocks_until_done),
		P_T(apply_async_get_wait_ready_successful),
		P_T(callbacks_once_in_owner_never_concurrent),
		P_T(callback_thread_only_when_asked),
		P_T(callback_submits_followup),
		P_T(slow_callback_does_not_block_results),
		P_T(map_input_order),
		P_T(map_async_batch_callback_once),
		P_T(close_refuses_new_finishes_queued),
		P_T(terminate_completes_unfinished),
		P_T(join_before_close_einval),
		P_T(join_after_close),
		P_T(destroy_fresh),
		P_T(destroy_closed),
		P_T(destroy_joined),
		P_T(destroy_terminated),
		P_T(destroy_busy),
		P_T(destroy_null),
		P_T(results_readable_after_close_join_destroy),
		P_T(result_free_unfinished_detaches),
		P_T(cancel_queued_task),
	};

	return cmocka_run_group_tests_name("pool_api", tests, p_group_setup,
					   p_group_teardown);
}
