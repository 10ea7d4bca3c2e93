/* SPDX-License-Identifier: MIT */
/*
 * A multi-threaded owner (issue 4 §5): while 8 threads of this process
 * malloc and free in loops, a pool with max_tasks_per_worker = 1 respawns
 * its workers RP_STRESS_RESPAWNS times (default OWNER_DEFAULT, divided by
 * RP_TEST_SCALE), once per start method, and nothing deadlocks.
 *
 * The malloc threads (at nice 19, see churn_main) start in the group
 * setup, before the forkserver zygote is forked (h_group_setup warms it
 * up), so the zygote itself is forked from a busy multi-threaded process:
 * fork() runs glibc's atfork handlers, which is what makes the zygote
 * safe, and every worker is cloned from the single-threaded zygote.  The
 * FORKSERVER variants run the FORK variant's task and one that mallocs and
 * frees freely (skipped where a sanitizer's malloc defeats fork()'s
 * guarantee, see sanitizer_forks_unlocked_malloc).
 *
 * RP_START_FORK clones each worker straight from this process while the
 * malloc threads run, and no atfork handler runs: a worker may start with
 * malloc's lock held by a thread that does not exist in it.  That is the
 * documented hazard (include/ringpool.h, "Start methods"): FORK is unsafe
 * in a multi-threaded owner as soon as the worker (its task, its
 * initializer, or a library path that allocates) calls malloc, stdio or
 * any other lock another thread may hold.  The worker's own loop allocates
 * only for payloads or results too big for one ring record and for staged
 * task failures, so with small, malloc-free tasks that never fail (the
 * FORK variant's task below) it never takes such a lock and cannot
 * deadlock; that is what the FORK variant checks.
 *
 * Each worker runs one task, so respawns are counted by distinct worker
 * serials seen in results: every worker's initializer takes the next
 * serial from a counter in the shared page, unique by construction (pids
 * are not: other processes share the pid space, and it may wrap during a
 * run); a worker-local counter also shows that no worker ran two.  Every
 * get has a hang guard (OWNER_GUARD_NS) that fails the test instead of
 * hanging it.  The full run:
 *
 *	RP_STRESS_RESPAWNS=100000 meson test -C build threaded_owner \
 *		--timeout-multiplier 20 -v
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "pool_harness.h"

#define OWNER_DEFAULT 10000
#define OWNER_THREADS 8
#define OWNER_WORKERS 4
#define OWNER_WINDOW 64
#define OWNER_GUARD_NS (60 * (int64_t)1000000000)

/* ---- the malloc threads ---- */

static pthread_t churn_threads[OWNER_THREADS];
static _Atomic bool churn_stop;
static _Atomic uint64_t churn_ops;

static void *churn_main(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 2654435761u;
	void *held[16] = { 0 };
	uint64_t ops = 0;

	/* Lowest priority: on a small machine eight busy threads would
	 * otherwise starve the pool's own threads and make each respawn ten
	 * times slower.  They still run whenever a CPU is free, which is
	 * most of the time, and get preempted inside malloc at random
	 * points: all a deadlock needs. */
	setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	while (!atomic_load_explicit(&churn_stop, memory_order_relaxed)) {
		unsigned i = rand_r(&seed) % 16;
		/* Small and large: both malloc's arenas and its mmap path. */
		size_t len = (rand_r(&seed) % 8 == 0) ?
				     (size_t)(rand_r(&seed) % (512 * 1024)) :
				     (size_t)(rand_r(&seed) % 512);

		free(held[i]);
		held[i] = malloc(len + 1);
		if (held[i])
			((volatile char *)held[i])[0] = (char)len;
		if (++ops % 1024 == 0)
			atomic_fetch_add_explicit(&churn_ops, 1024,
						  memory_order_relaxed);
	}
	for (unsigned i = 0; i < 16; i++)
		free(held[i]);
	return NULL;
}

static int group_setup(void **state)
{
	atomic_store(&churn_stop, false);
	for (uintptr_t i = 0; i < OWNER_THREADS; i++)
		if (pthread_create(&churn_threads[i], NULL, churn_main,
				   (void *)(i + 1)) != 0)
			return -1;
	/* The page, then the zygote and the warm-up pool: all with the
	 * eight threads running. */
	return p_group_setup(state);
}

static int group_teardown(void **state)
{
	atomic_store(&churn_stop, true);
	for (int i = 0; i < OWNER_THREADS; i++)
		pthread_join(churn_threads[i], NULL);
	return p_group_teardown(state);
}

/* ---- tasks ---- */

struct own_rep {
	int64_t out;
	uint32_t serial; /* this worker's, from its initializer; 0: none ran */
	int32_t pid;
	int32_t seq;   /* tasks this worker has run, this one included */
};

/* Per worker; 0 in every snapshot, as the owner never runs a task or an
 * initializer. */
static int32_t here_tasks;
static uint32_t here_serial;

/*
 * Every worker, respawned ones included, runs this once before its task:
 * it takes the next serial (1, 2, ...) from p_sh->count, which p_setup
 * zeroes before each test.  An atomic add on the shared page, no malloc,
 * so it is safe in the FORK variant too.
 */
static int owner_init(const void *arg, size_t arg_len, rp_task_ctx_t *ctx)
{
	(void)arg;
	(void)arg_len;
	(void)ctx;
	here_serial = __atomic_add_fetch(&p_sh->count, 1, __ATOMIC_ACQ_REL);
	return 0;
}

/* FORK variant: no malloc, no stdio, no failure path. */
static int task_plain(const void *arg, size_t arg_len, void *res,
		      size_t res_cap, rp_task_ctx_t *ctx)
{
	struct own_rep r = { 0 };
	int64_t x;

	(void)ctx;
	(void)res_cap;
	memcpy(&x, arg, sizeof(x));
	r.out = x + 1;
	r.serial = here_serial;
	r.pid = getpid();
	r.seq = ++here_tasks;
	memcpy(res, &r, sizeof(r));
	return 0;
}

/* FORKSERVER variant: the worker is a clone of a single-threaded zygote,
 * so malloc is as safe as in any program. */
static int task_malloc(const void *arg, size_t arg_len, void *res,
		       size_t res_cap, rp_task_ctx_t *ctx)
{
	int64_t x;
	size_t len;
	unsigned char *p;

	memcpy(&x, arg, sizeof(x));
	len = 1 + (size_t)(x % 200000);
	p = malloc(len);
	if (!p)
		return rp_task_fail(ctx, 12, "task_malloc: no memory");
	memset(p, (int)(x & 0xff), len);
	if (p[len - 1] != (unsigned char)(x & 0xff)) {
		free(p);
		return rp_task_fail(ctx, 13, "task_malloc: bad memory");
	}
	free(p);
	return task_plain(arg, arg_len, res, res_cap, ctx);
}

/* ---- test side ---- */

static uint64_t owner_respawns(void)
{
	const char *s = getenv("RP_STRESS_RESPAWNS");
	const char *sc = getenv("RP_TEST_SCALE");
	unsigned long n = s && *s ? strtoul(s, NULL, 10) : OWNER_DEFAULT;
	unsigned long scale = sc && *sc ? strtoul(sc, NULL, 10) : 1;

	if (n == 0)
		n = OWNER_DEFAULT;
	if (scale > 1)
		n /= scale;
	return n < 100 ? 100 : n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_serial(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* Check one result; record its worker's serial. */
static void owner_collect(rp_result_t *res, int64_t x, uint32_t *serials)
{
	const struct own_rep *r = NULL;
	size_t len = 0;
	int rc = rp_result_get(res, OWNER_GUARD_NS, (const void **)&r, &len);

	if (rc != 0) {
		const struct rp_error *e = rp_result_error(res);

		fail_msg("task %" PRId64 ": %d (%s) \"%s\"%s", x, rc,
			 rp_err_name(rc), e ? e->message : "",
			 rc == -ETIMEDOUT ? " (hang guard: deadlock?)" : "");
	}
	assert_int_equal(len, sizeof(*r));
	assert_int_equal(r->out, x + 1);
	if (r->seq != 1)
		fail_msg("task %" PRId64 ": worker %d ran %d tasks", x,
			 (int)r->pid, (int)r->seq);
	if (r->serial == 0)
		fail_msg("task %" PRId64 ": worker %d ran it before its "
			 "initializer", x, (int)r->pid);
	serials[x] = r->serial;
	rp_result_free(res);
}

static void owner_run(enum rp_start_method m, rp_task_fn fn)
{
	struct rp_pool_opts o = {
		.nworkers = OWNER_WORKERS,
		.max_tasks_per_worker = 1,
		.start_method = m,
		.initializer = owner_init,
	};
	uint64_t n = owner_respawns();
	rp_result_t *win[OWNER_WINDOW];
	uint32_t *serials = calloc(n, sizeof(*serials));
	uint64_t sub = 0, got = 0, distinct = 0, ops0, inits;
	rp_pool_t *pool;
	double t0;

	assert_non_null(serials);
	ops0 = atomic_load(&churn_ops);
	t0 = now_s();
	pool = p_pool(&o);
	while (got < n) {
		while (sub < n && sub - got < OWNER_WINDOW) {
			int64_t x = (int64_t)sub;
			int rc = rp_apply_async(pool, fn, &x, sizeof(x),
						sizeof(struct own_rep), NULL,
						&win[sub % OWNER_WINDOW]);

			if (rc != 0)
				fail_msg("rp_apply_async: %d (%s)", rc,
					 rp_err_name(rc));
			sub++;
		}
		owner_collect(win[got % OWNER_WINDOW], (int64_t)got, serials);
		got++;
	}
	p_destroy(pool);
	inits = __atomic_load_n(&p_sh->count, __ATOMIC_ACQUIRE);

	qsort(serials, n, sizeof(*serials), cmp_serial);
	for (uint64_t i = 0; i < n; i++)
		if (i == 0 || serials[i] != serials[i - 1])
			distinct++;
	print_message("# threaded_owner %s: tasks %" PRIu64
		      ", distinct workers %" PRIu64 " (initializer runs %"
		      PRIu64 "), malloc threads' ops %" PRIu64 ", %.2f s\n",
		      h_method_name(m), n, distinct, inits,
		      atomic_load(&churn_ops) - ops0, now_s() - t0);
	/* One task per worker (seq == 1 above), and n workers: each serial
	 * names one worker process (one initializer run), whatever pids the
	 * kernel hands out, so two tasks of one worker share a serial and
	 * fewer than n distinct ones means a worker ran more than one. */
	assert_int_equal(distinct, n);
	assert_true(inits >= n);
	/* The threads really ran alongside (they hold no lock we wait on). */
	assert_true(atomic_load(&churn_ops) > ops0);
	free(serials);
}

/*
 * glibc's fork() makes its malloc consistent in the child through atfork
 * handlers, but AddressSanitizer replaces malloc, and a runtime without a
 * fork() interceptor (GCC 12's libasan 8 has none) forks its allocator's
 * per-size-class locks as the malloc threads held them.  The zygote and
 * every worker cloned from it then hang in the first malloc of a class
 * whose lock was held, in ASan's code, not ours.  A runtime that
 * intercepts fork() locks its allocator around it, and the test runs.
 */
static bool sanitizer_forks_unlocked_malloc(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return dlsym(RTLD_DEFAULT, "__interceptor_fork") == NULL;
#else
	return false;
#endif
}

static void test_respawn_forkserver(void **state)
{
	(void)state;
	owner_run(RP_START_FORKSERVER, task_plain);
}

static void test_respawn_forkserver_malloc(void **state)
{
	(void)state;
	if (sanitizer_forks_unlocked_malloc()) {
		print_message("# skip: this AddressSanitizer runtime does not "
			      "lock its allocator around fork(), so a zygote "
			      "forked from a malloc-busy process can inherit "
			      "its locks held\n");
		skip();
	}
	owner_run(RP_START_FORKSERVER, task_malloc);
}

static void test_respawn_fork(void **state)
{
	(void)state;
	owner_run(RP_START_FORK, task_plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		P_T(test_respawn_forkserver),
		P_T(test_respawn_forkserver_malloc),
		P_T(test_respawn_fork),
	};

	return cmocka_run_group_tests_name("threaded_owner", tests,
					   group_setup, group_teardown);
}
