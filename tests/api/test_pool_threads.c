/* SPDX-License-Identifier: MIT */
/*
 * The Pool's thread-safety contract (include/ringpool.h): submits and
 * blocking calls from any thread, several threads waiting on one result, a
 * result read by a thread other than its submitter, close racing submits,
 * and callbacks still one at a time.  Also built with ThreadSanitizer
 * (suite 'threads').
 *
 * cmocka's asserts are not thread-safe: a thread records its first problem
 * in its own struct and the test thread asserts after joining it.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool_harness.h"
#include "ringpool.h"

#define NT 4

struct worker_thread {
	pthread_t thread;
	int id;
	rp_pool_t *pool;
	rp_result_t *res;          /* shared result to wait on, or NULL */
	pthread_barrier_t *start;  /* all threads begin together */
	uint32_t *arrived;         /* raised count before blocking */
	int fails;
	char why[200];
	/* outputs */
	int rc;
	int64_t value;
	int submitted, refused;
	struct p_cbrec recs[16];
};

#define CHECK(t, cond, ...)                                                    \
	do {                                                                   \
		if (!(cond) && (t)->fails++ == 0)                              \
			snprintf((t)->why, sizeof((t)->why), __VA_ARGS__);     \
	} while (0)

static void start_threads(struct worker_thread *t, int n,
			  void *(*fn)(void *))
{
	for (int i = 0; i < n; i++)
		assert_int_equal(pthread_create(&t[i].thread, NULL, fn, &t[i]),
				 0);
}

static void join_threads(struct worker_thread *t, int n)
{
	for (int i = 0; i < n; i++) {
		assert_int_equal(pthread_join(t[i].thread, NULL), 0);
		if (t[i].fails)
			fail_msg("thread %d: %d problem(s), first: %s", i,
				 t[i].fails, t[i].why);
	}
}

/* ---- several threads submitting every kind of work ---- */

static void *submitter(void *arg)
{
	enum { K = 40, M = 16, CB = 16 };
	struct worker_thread *t = arg;
	rp_result_t *res[K], *cbres[CB];
	struct p_arg items[M];
	struct p_rep reps[M];
	struct rp_error e;

	pthread_barrier_wait(t->start);
	for (int i = 0; i < K; i++) {
		struct p_arg a = p_plain(t->id * 1000 + i);
		int rc = rp_apply_async(t->pool, p_task, &a, sizeof(a),
					sizeof(struct p_rep), NULL, &res[i]);

		CHECK(t, rc == 0, "apply_async %d: %s", i, rp_err_name(rc));
		if (rc)
			res[i] = NULL;
	}
	for (int i = 0; i < CB; i++) {
		struct p_arg a = p_plain(t->id * 1000 + 500 + i);
		struct rp_submit_opts so = p_cb_opts(&t->recs[i]);
		int rc;

		if (i % 4 == 3) {
			a.flags = P_FAIL;
			a.code = 5;
		}
		rc = rp_apply_async(t->pool, p_task, &a, sizeof(a),
				    sizeof(struct p_rep), &so, &cbres[i]);
		CHECK(t, rc == 0, "apply_async cb %d: %s", i, rp_err_name(rc));
		if (rc)
			cbres[i] = NULL;
	}
	for (int i = 0; i < M; i++)
		items[i] = p_plain(t->id * 100 + i);
	for (int round = 0; round < 3; round++) {
		int rc = rp_map(t->pool, p_task, items, M, sizeof(items[0]),
				reps, sizeof(reps[0]), round, &e);

		CHECK(t, rc == 0, "map: %s", rp_err_name(rc));
		for (int i = 0; rc == 0 && i < M; i++)
			CHECK(t, reps[i].value == t->id * 100 + i,
			      "map item %d: %lld", i, (long long)reps[i].value);
	}
	for (int i = 0; i < 5; i++) {
		struct p_arg a = p_plain(t->id * 10 + i);
		struct p_rep r;
		int rc = rp_apply(t->pool, p_task, &a, sizeof(a), &r,
				  sizeof(r), NULL, NULL);

		CHECK(t, rc == 0 && r.value == t->id * 10 + i, "apply: %s",
		      rp_err_name(rc));
	}
	for (int i = 0; i < K; i++) {
		const void *data = NULL;
		size_t len = 0;
		int rc;

		if (!res[i])
			continue;
		rc = rp_result_get(res[i], H_GUARD_NS, &data, &len);
		CHECK(t, rc == 0 && len == sizeof(struct p_rep) &&
				 ((const struct p_rep *)data)->value ==
					 t->id * 1000 + i,
		      "get %d: %s", i, rp_err_name(rc));
		rp_result_free(res[i]);
	}
	for (int i = 0; i < CB; i++) {
		int rc;

		if (!cbres[i])
			continue;
		rc = rp_result_get(cbres[i], H_GUARD_NS, NULL, NULL);
		CHECK(t, rc == (i % 4 == 3 ? RP_ETASK : 0), "get cb %d: %s", i,
		      rp_err_name(rc));
		rp_result_free(cbres[i]);
	}
	return NULL;
}

static void concurrent_submitters(void **state)
{
	static struct worker_thread t[NT];
	pthread_barrier_t start;
	rp_pool_t *pool = p_pool_n(2);

	memset(t, 0, sizeof(t));
	assert_int_equal(pthread_barrier_init(&start, NULL, NT), 0);
	for (int i = 0; i < NT; i++) {
		t[i].id = i + 1;
		t[i].pool = pool;
		t[i].start = &start;
	}
	start_threads(t, NT, submitter);
	join_threads(t, NT);
	pthread_barrier_destroy(&start);

	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	for (int i = 0; i < NT; i++) {
		for (int k = 0; k < 16; k++) {
			bool bad = k % 4 == 3;

			assert_int_equal(t[i].recs[k].ok, bad ? 0 : 1);
			assert_int_equal(t[i].recs[k].err, bad ? 1 : 0);
		}
	}
	assert_int_equal(p_cb.calls, NT * 16);
	assert_int_equal(p_cb.max_in_flight, 1);
	assert_int_equal(p_cb.wrong_pid, 0);
	p_destroy(pool);
}

/* ---- several threads waiting on one result ---- */

static void *waiter(void *arg)
{
	struct worker_thread *t = arg;
	const void *data = NULL;
	size_t len = 0;

	p_add(t->arrived);
	if (t->id % 2) {
		t->rc = rp_result_wait(t->res, H_GUARD_NS);
		if (t->rc == 0)
			t->rc = rp_result_get(t->res, 0, &data, &len);
	} else {
		t->rc = rp_result_get(t->res, H_GUARD_NS, &data, &len);
	}
	CHECK(t, t->rc == 0, "wait/get: %s", rp_err_name(t->rc));
	CHECK(t, t->rc != 0 || (data && len == sizeof(struct p_rep)),
	      "get gave %p, %zu bytes", data, len);
	t->value = t->rc == 0 && data ? ((const struct p_rep *)data)->value
				      : -1;
	return NULL;
}

static void many_waiters_one_result(void **state)
{
	static struct worker_thread t[NT];
	uint32_t arrived = 0;
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_gated(0, 99);
	rp_result_t *res = p_submit(pool, &a, NULL);

	p_wait_started(0);
	memset(t, 0, sizeof(t));
	for (int i = 0; i < NT; i++) {
		t[i].id = i;
		t[i].res = res;
		t[i].arrived = &arrived;
	}
	start_threads(t, NT, waiter);
	if (p_wait_ge(&arrived, NT, H_GUARD_S) < 0)
		fail_msg("waiter threads never started");
	/* Nobody can have got it yet: the task waits for us. */
	assert_int_equal(rp_result_ready(res), 0);
	p_open(0);
	join_threads(t, NT);
	for (int i = 0; i < NT; i++)
		assert_int_equal(t[i].value, 99);
	/* And the submitter gets it too. */
	assert_int_equal(p_get(res)->value, 99);
	rp_result_free(res);
	p_destroy(pool);
}

/* ---- a joiner asleep when the last task ends ---- */

struct joiner {
	rp_pool_t *pool;
	_Atomic pid_t tid;
	_Atomic bool returned;
	int rc;
};

static void *join_pool(void *arg)
{
	struct joiner *j = arg;

	atomic_store(&j->tid, gettid());
	j->rc = rp_pool_join(j->pool, H_GUARD_NS);
	atomic_store(&j->returned, true);
	return NULL;
}

/* The state letter of thread tid (/proc/self/task/TID/stat), or 0. */
static char thread_state(pid_t tid)
{
	char path[64], buf[512], *close_paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	close_paren = strrchr(buf, ')');
	return close_paren && close_paren[1] == ' ' ? close_paren[2] : 0;
}

/*
 * The drainer wakes a joiner only when one sleeps (drain.c): here the
 * joiner is seen blocked (state S) before the task it waits for may end,
 * so a lost wake-up shows as a join that times out.
 */
static void sleeping_joiner_woken(void **state)
{
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_gated(0, 5);
	rp_result_t *res = p_submit(pool, &a, NULL);
	struct joiner j = { .pool = pool };
	pthread_t thread;

	p_wait_started(0);
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(pthread_create(&thread, NULL, join_pool, &j), 0);
	while (!atomic_load(&j.tid))
		sched_yield();
	while (!atomic_load(&j.returned) &&
	       thread_state(atomic_load(&j.tid)) != 'S')
		sched_yield();
	/* The task still waits for us: join cannot have returned. */
	assert_false(atomic_load(&j.returned));
	assert_int_equal(rp_result_ready(res), 0);
	p_open(0);
	assert_int_equal(pthread_join(thread, NULL), 0);
	assert_int_equal(j.rc, 0);
	assert_int_equal(p_get(res)->value, 5);
	rp_result_free(res);
	p_destroy(pool);
}

/* ---- a result read by another thread than its submitter ---- */

static void *get_other(void *arg)
{
	struct worker_thread *t = arg;
	const void *data = NULL;
	size_t len = 0;

	t->rc = rp_result_get(t->res, H_GUARD_NS, &data, &len);
	CHECK(t, t->rc == 0, "get: %s", rp_err_name(t->rc));
	CHECK(t, rp_result_ready(t->res) == 1, "not ready after get");
	CHECK(t, rp_result_successful(t->res) == 1, "not successful");
	CHECK(t, rp_result_error(t->res) == NULL, "has an error");
	t->value = t->rc == 0 && data ? ((const struct p_rep *)data)->value
				      : -1;
	return NULL;
}

static void *submit_other(void *arg)
{
	struct worker_thread *t = arg;
	struct p_arg a = p_plain(t->id);

	t->rc = rp_apply_async(t->pool, p_task, &a, sizeof(a),
			       sizeof(struct p_rep), NULL, &t->res);
	CHECK(t, t->rc == 0, "apply_async: %s", rp_err_name(t->rc));
	return NULL;
}

static void get_from_other_thread(void **state)
{
	static struct worker_thread t;
	rp_pool_t *pool = p_pool_n(2);
	struct p_arg a = p_gated(0, 42);

	/* Submitted here, got there (while still running). */
	memset(&t, 0, sizeof(t));
	t.res = p_submit(pool, &a, NULL);
	p_wait_started(0);
	start_threads(&t, 1, get_other);
	p_open(0);
	join_threads(&t, 1);
	assert_int_equal(t.value, 42);
	rp_result_free(t.res);

	/* Submitted there (the thread has ended), got and freed here. */
	memset(&t, 0, sizeof(t));
	t.pool = pool;
	t.id = 43;
	start_threads(&t, 1, submit_other);
	join_threads(&t, 1);
	assert_int_equal(p_get(t.res)->value, 43);
	rp_result_free(t.res);
	p_destroy(pool);
}

/* ---- iterators and maps on different threads at once ---- */

static void *iterate(void *arg)
{
	enum { N = 50 };
	struct worker_thread *t = arg;
	struct p_arg items[N];
	struct rp_input in = { .items = items, .n = N,
			       .item_size = sizeof(items[0]) };
	struct rp_item item;
	rp_iter_t *it = NULL;
	int rc;

	for (int i = 0; i < N; i++)
		items[i] = p_plain(t->id * 100 + i);
	pthread_barrier_wait(t->start);
	rc = t->id % 2 ? rp_imap(t->pool, p_task, &in, sizeof(struct p_rep),
				 1, &it)
		       : rp_imap_unordered(t->pool, p_task, &in,
					   sizeof(struct p_rep), 2, &it);
	CHECK(t, rc == 0, "imap: %s", rp_err_name(rc));
	if (rc)
		return NULL;
	for (int i = 0; i < N; i++) {
		rc = rp_iter_next(it, H_GUARD_NS, &item);
		CHECK(t, rc == 0, "next %d: %s", i, rp_err_name(rc));
		if (rc)
			break;
		CHECK(t, t->id % 2 == 0 || item.index == (size_t)i,
		      "imap yielded %zu at %d", item.index, i);
		CHECK(t, ((const struct p_rep *)item.data)->value ==
				 t->id * 100 + (int64_t)item.index,
		      "item %zu has the wrong value", item.index);
		t->value++;
	}
	rc = rp_iter_next(it, H_GUARD_NS, &item);
	CHECK(t, rc == RP_EEND, "end: %s", rp_err_name(rc));
	rp_iter_free(it);
	return NULL;
}

static void iterators_on_threads(void **state)
{
	static struct worker_thread t[NT];
	pthread_barrier_t start;
	rp_pool_t *pool = p_pool_n(2);

	memset(t, 0, sizeof(t));
	assert_int_equal(pthread_barrier_init(&start, NULL, NT), 0);
	for (int i = 0; i < NT; i++) {
		t[i].id = i + 1;
		t[i].pool = pool;
		t[i].start = &start;
	}
	start_threads(t, NT, iterate);
	join_threads(t, NT);
	pthread_barrier_destroy(&start);
	for (int i = 0; i < NT; i++)
		assert_int_equal(t[i].value, 50);
	p_destroy(pool);
}

/* ---- close racing submits ---- */

static void *submit_until_closed(void *arg)
{
	struct worker_thread *t = arg;
	rp_result_t *res[200];
	int n = 0;

	pthread_barrier_wait(t->start);
	while (n < 200) {
		struct p_arg a = p_plain(n);
		int rc = rp_apply_async(t->pool, p_task, &a, sizeof(a),
					sizeof(struct p_rep), NULL, &res[n]);

		if (rc == RP_ECLOSED) {
			t->refused++;
			break;
		}
		CHECK(t, rc == 0, "apply_async: %s", rp_err_name(rc));
		if (rc)
			break;
		if (++n == 20)
			p_add(t->arrived);
	}
	t->submitted = n;
	/* Everything accepted before the close completes. */
	for (int i = 0; i < n; i++) {
		const void *data = NULL;
		int rc = rp_result_get(res[i], H_GUARD_NS, &data, NULL);

		CHECK(t, rc == 0 && ((const struct p_rep *)data)->value == i,
		      "get %d: %s", i, rp_err_name(rc));
		rp_result_free(res[i]);
	}
	return NULL;
}

static void close_races_submitters(void **state)
{
	static struct worker_thread t[NT];
	pthread_barrier_t start;
	uint32_t arrived = 0;
	rp_pool_t *pool = p_pool_n(2);

	memset(t, 0, sizeof(t));
	assert_int_equal(pthread_barrier_init(&start, NULL, NT + 1), 0);
	for (int i = 0; i < NT; i++) {
		t[i].id = i;
		t[i].pool = pool;
		t[i].start = &start;
		t[i].arrived = &arrived;
	}
	start_threads(t, NT, submit_until_closed);
	pthread_barrier_wait(&start);
	/* Close once every thread has had some work accepted. */
	if (p_wait_ge(&arrived, NT, H_GUARD_S) < 0)
		fail_msg("submitter threads never got going");
	assert_int_equal(rp_pool_close(pool), 0);
	join_threads(t, NT);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
	for (int i = 0; i < NT; i++) {
		assert_true(t[i].submitted >= 20);
		/* A thread that did not reach 200 stopped on RP_ECLOSED. */
		assert_true(t[i].submitted == 200 || t[i].refused == 1);
	}
	pthread_barrier_destroy(&start);
	p_destroy(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		P_T(concurrent_submitters),
		P_T(many_waiters_one_result),
		P_T(sleeping_joiner_woken),
		P_T(get_from_other_thread),
		P_T(iterators_on_threads),
		P_T(close_races_submitters),
	};

	return cmocka_run_group_tests_name("pool_threads", tests,
					   p_group_setup, p_group_teardown);
}
