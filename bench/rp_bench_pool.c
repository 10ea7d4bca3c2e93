/* SPDX-License-Identifier: MIT */
/*
 * rp-bench-pool: ringpool on the workloads of ../shared/baselines/py_pool.py,
 * so that tools/compare can set the two side by side.
 *
 * Usage: rp-bench-pool TEST [N] [ARG]   (prints one JSON object)
 *
 *	map_cs1 N                   rp_map of N items x -> x + 1, chunksize 1
 *	map_default N               the same, RP_CHUNKSIZE_AUTO
 *	apply_async_pipelined N     N rp_apply_async, then every get (with
 *	                            the submit phase's time and the counters)
 *	apply_roundtrip N [W]       N sequential rp_apply on W workers (2):
 *	                            p50/p99/min in us
 *	imap_unordered N [CS]       rp_imap_unordered, chunksize CS (1000)
 *	map_skewed N                rp_map of N items at chunksize 1, each
 *	                            busy for 100 us but item 0 for 100 ms:
 *	                            the time against the best a perfect
 *	                            balance of the work could do
 *	pool_start_stop R [METHOD]  R times create(2) + close + join +
 *	                            destroy; METHOD default, fork or
 *	                            forkserver (the first run apart)
 *	idle_cpu S [MS]             after MS ms without work (10), the CPU
 *	                            the pool's processes use over S seconds
 *	                            (1), then the first round trip
 *	wake_after_idle R [MS]      R round trips, each after MS ms idle (100)
 *	rss_after_map N             each worker's RSS after an rp_map of N
 *	imap_rss N [CS]             the owner's RSS growth during rp_imap over
 *	                            a producer of N items, chunksize CS (1000)
 *
 * As in py_pool.py: 2 workers, the task is `def f(x): return x + 1` on a
 * 64-bit integer, and each measurement follows a warm-up (a map of 1000
 * items, or 200 round trips for the latency tests) so that the workers are
 * running and the rings are touched before the clock starts.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ringpool.h"

#define NPROC 2
#define MAX_WORKERS 64
#define MIB (1024.0 * 1024.0)
#define WARMUP_ITEMS 1000
#define WARMUP_ROUNDTRIPS 200

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "rp-bench-pool: %s: %s (%s)\n", what, rp_err_name(err),
		rp_strerror(err));
	exit(1);
}

/* f(x) = x + 1.  Ring bytes carry no alignment promise: copy in and out. */
static int add_one(const void *arg, size_t arg_len, void *res, size_t res_cap,
		   rp_task_ctx_t *ctx)
{
	int64_t x;

	if (arg_len != sizeof(x) || res_cap < sizeof(x))
		return rp_task_fail(ctx, EINVAL, "bad sizes %zu/%zu", arg_len,
				    res_cap);
	memcpy(&x, arg, sizeof(x));
	x++;
	memcpy(res, &x, sizeof(x));
	return 0;
}

static rp_pool_t *pool_start(enum rp_start_method method, unsigned nworkers)
{
	struct rp_pool_opts o = {
		.nworkers = nworkers, .start_method = method,
	};
	rp_pool_t *pool;
	int err = rp_pool_create(&o, &pool);

	if (err)
		die("rp_pool_create", err);
	return pool;
}

static int64_t *iota(size_t n)
{
	int64_t *v = malloc((n ? n : 1) * sizeof(*v));

	if (!v)
		die("malloc", -ENOMEM);
	for (size_t i = 0; i < n; i++)
		v[i] = (int64_t)i;
	return v;
}

static void map_or_die(rp_pool_t *pool, const int64_t *in, int64_t *out,
		       size_t n, size_t chunksize)
{
	struct rp_error e;
	int err = rp_map(pool, add_one, in, n, sizeof(*in), out, sizeof(*out),
			 chunksize, &e);

	if (err)
		die("rp_map", err);
}

/* Every result must be its input plus one: a fast wrong answer is no win. */
static void check_plus_one(const int64_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (out[i] != (int64_t)i + 1) {
			fprintf(stderr, "rp-bench-pool: item %zu gave %lld\n",
				i, (long long)out[i]);
			exit(1);
		}
}

static void warm_up(rp_pool_t *pool)
{
	int64_t *in = iota(WARMUP_ITEMS);
	int64_t out[WARMUP_ITEMS];

	map_or_die(pool, in, out, WARMUP_ITEMS, RP_CHUNKSIZE_AUTO);
	check_plus_one(out, WARMUP_ITEMS);
	free(in);
}

static void emit_rate(const char *test, size_t n, size_t chunksize,
		      uint64_t ns)
{
	double sec = (double)ns * 1e-9;

	printf("{\"test\": \"%s\", \"n\": %zu, \"chunksize\": %zu, "
	       "\"sec\": %.6f, \"tasks_per_s\": %.1f}\n",
	       test, n, chunksize, sec, (double)n / sec);
}

/* chunksize 0 is RP_CHUNKSIZE_AUTO, reported as the size it resolves to. */
static void bench_map(const char *test, size_t n, size_t chunksize)
{
	rp_pool_t *pool = pool_start(RP_START_DEFAULT, NPROC);
	int64_t *in = iota(n);
	int64_t *out = calloc(n ? n : 1, sizeof(*out));
	uint64_t t0;

	if (!out)
		die("calloc", -ENOMEM);
	warm_up(pool);
	t0 = now_ns();
	map_or_die(pool, in, out, n, chunksize);
	t0 = now_ns() - t0;
	check_plus_one(out, n);
	emit_rate(test, n, chunksize ? chunksize : (n + 4 * NPROC - 1) /
						       (4 * NPROC), t0);
	rp_pool_destroy(pool);
	free(in);
	free(out);
}

#define SKEW_ITEM_NS 100000
#define SKEW_FIRST_NS 100000000

/* Busy for as long as the item says: item 0 is the long one. */
static int skewed_task(const void *arg, size_t len, void *res, size_t cap,
		       rp_task_ctx_t *ctx)
{
	int64_t x;
	uint64_t until;

	memcpy(&x, arg, sizeof(x));
	until = now_ns() + (x == 0 ? SKEW_FIRST_NS : SKEW_ITEM_NS);
	while (now_ns() < until)
		;
	x++;
	memcpy(res, &x, sizeof(x));
	return 0;
}

/*
 * A chunk queued behind a long one waits for it: how close a map with one
 * long item comes to the work spread perfectly over the workers.
 */
static void bench_map_skewed(size_t n)
{
	rp_pool_t *pool = pool_start(RP_START_DEFAULT, NPROC);
	int64_t *in = iota(n);
	int64_t *out = calloc(n ? n : 1, sizeof(*out));
	double work = SKEW_FIRST_NS + (double)(n - 1) * SKEW_ITEM_NS;
	double best = work / NPROC > SKEW_FIRST_NS ? work / NPROC : SKEW_FIRST_NS;
	uint64_t t0;
	int err;

	if (!out || n < 1)
		die("map_skewed", -EINVAL);
	warm_up(pool);
	t0 = now_ns();
	err = rp_map(pool, skewed_task, in, n, sizeof(*in), out, sizeof(*out),
		     1, NULL);
	t0 = now_ns() - t0;
	if (err)
		die("rp_map", err);
	check_plus_one(out, n);
	printf("{\"test\": \"map_skewed\", \"n\": %zu, \"sec\": %.6f, "
	       "\"best_sec\": %.6f, \"over_best\": %.3f}\n", n, t0 * 1e-9,
	       best * 1e-9, (double)t0 / best);
	rp_pool_destroy(pool);
	free(in);
	free(out);
}

static int64_t get_int(rp_result_t *res)
{
	const void *data;
	size_t len;
	int64_t v;
	int err = rp_result_get(res, RP_FOREVER, &data, &len);

	if (err)
		die("rp_result_get", err);
	if (len != sizeof(v))
		die("rp_result_get: result length", -EPROTO);
	memcpy(&v, data, sizeof(v));
	return v;
}

/*
 * The pool's counters as JSON members (without the braces), to explain the
 * figure they follow: pool-wide counts since rp_pool_create (the warm-up
 * included), then one object per worker.
 */
static void print_stats(rp_pool_t *pool)
{
	struct rp_pool_stats st;
	struct rp_worker_stats ws[MAX_WORKERS];
	int n = rp_pool_stats(pool, &st, ws, MAX_WORKERS);

	if (n < 0)
		die("rp_pool_stats", n);
	printf("\"tasks_submitted\": %" PRIu64 ", \"chunks_sent\": %" PRIu64
	       ", \"chunks_completed\": %" PRIu64 ", \"pending_stalls\": %"
	       PRIu64 ", \"wakeups_sent\": %" PRIu64 ", \"loop_wakeups\": %"
	       PRIu64 ", \"respawns\": %" PRIu64 ", \"workers\": [",
	       st.tasks_submitted, st.chunks_sent, st.chunks_completed,
	       st.pending_stalls, st.wakeups_sent, st.loop_wakeups,
	       st.respawns);
	for (int i = 0; i < n && i < MAX_WORKERS; i++)
		printf("%s{\"pid\": %d, \"cpu\": %d, \"items\": %" PRIu64
		       ", \"chunks\": %" PRIu64 ", \"busy_s\": %.6f, "
		       "\"spins\": %" PRIu64 ", \"sleeps\": %" PRIu64
		       ", \"wakeups_sent\": %" PRIu64 ", \"result_stalls\": %"
		       PRIu64 ", \"rss_mib\": %.2f}", i ? ", " : "",
		       (int)ws[i].pid, ws[i].cpu, ws[i].items, ws[i].chunks,
		       (double)ws[i].busy_ns * 1e-9, ws[i].spins, ws[i].sleeps,
		       ws[i].wakeups_sent, ws[i].result_stalls,
		       (double)ws[i].rss_bytes / MIB);
	printf("]");
}

static void bench_apply_async(size_t n)
{
	rp_pool_t *pool = pool_start(RP_START_DEFAULT, NPROC);
	rp_result_t **rs = calloc(n ? n : 1, sizeof(*rs));
	uint64_t t0, t_submit;

	if (!rs)
		die("calloc", -ENOMEM);
	warm_up(pool);
	t0 = now_ns();
	for (size_t i = 0; i < n; i++) {
		int64_t x = (int64_t)i;
		int err = rp_apply_async(pool, add_one, &x, sizeof(x),
					 sizeof(x), NULL, &rs[i]);

		if (err)
			die("rp_apply_async", err);
	}
	t_submit = now_ns() - t0;
	for (size_t i = 0; i < n; i++)
		if (get_int(rs[i]) != (int64_t)i + 1)
			die("rp_apply_async: wrong result", -EPROTO);
	t0 = now_ns() - t0;
	for (size_t i = 0; i < n; i++)
		rp_result_free(rs[i]);
	printf("{\"test\": \"apply_async_pipelined\", \"n\": %zu, "
	       "\"sec\": %.6f, \"tasks_per_s\": %.1f, \"submit_sec\": %.6f, ",
	       n, (double)t0 * 1e-9, (double)n / ((double)t0 * 1e-9),
	       (double)t_submit * 1e-9);
	print_stats(pool);
	printf("}\n");
	rp_pool_destroy(pool);
	free(rs);
}

/* One round trip: the library call, its wake-ups and both ring passes. */
static uint64_t apply_once(rp_pool_t *pool, int64_t x)
{
	struct rp_error e;
	int64_t y = 0;
	uint64_t t0 = now_ns();
	int err = rp_apply(pool, add_one, &x, sizeof(x), &y, sizeof(y), NULL,
			   &e);

	t0 = now_ns() - t0;
	if (err)
		die("rp_apply", err);
	if (y != x + 1)
		die("rp_apply: wrong result", -EPROTO);
	return t0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* py_pool.py's pct(): the nearest rank, rounded. */
static uint64_t pct(const uint64_t *sorted, size_t n, double p)
{
	double k = p / 100.0 * (double)(n - 1) + 0.5;

	return sorted[(size_t)k < n ? (size_t)k : n - 1];
}

static void bench_roundtrip(size_t n, unsigned nworkers)
{
	rp_pool_t *pool = pool_start(RP_START_DEFAULT, nworkers);
	uint64_t *lat = malloc((n ? n : 1) * sizeof(*lat));

	if (!lat || n == 0)
		die("apply_roundtrip", -EINVAL);
	for (int i = 0; i < WARMUP_ROUNDTRIPS; i++)
		apply_once(pool, i);
	for (size_t i = 0; i < n; i++)
		lat[i] = apply_once(pool, (int64_t)i);
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("{\"test\": \"apply_roundtrip\", \"n\": %zu, \"nworkers\": %u, "
	       "\"p50_us\": %.3f, \"p99_us\": %.3f, \"min_us\": %.3f}\n", n,
	       nworkers, pct(lat, n, 50) / 1e3, pct(lat, n, 99) / 1e3,
	       lat[0] / 1e3);
	rp_pool_destroy(pool);
	free(lat);
}

static size_t drain(rp_iter_t *it, size_t n)
{
	struct rp_item item;
	size_t count = 0;
	int err;

	while ((err = rp_iter_next(it, RP_FOREVER, &item)) == 0) {
		int64_t v;

		memcpy(&v, item.data, sizeof(v));
		if (item.index >= n || v != (int64_t)item.index + 1)
			die("rp_iter_next: wrong result", -EPROTO);
		count++;
	}
	if (err != RP_EEND)
		die("rp_iter_next", err);
	return count;
}

static void bench_imap_unordered(size_t n, size_t chunksize)
{
	rp_pool_t *pool = pool_start(RP_START_DEFAULT, NPROC);
	int64_t *in = iota(n);
	struct rp_input input = {
		.items = in, .n = n, .item_size = sizeof(*in),
	};
	rp_iter_t *it;
	uint64_t t0;
	int err;

	warm_up(pool);
	t0 = now_ns();
	err = rp_imap_unordered(pool, add_one, &input, sizeof(int64_t),
				chunksize, &it);
	if (err)
		die("rp_imap_unordered", err);
	if (drain(it, n) != n)
		die("rp_imap_unordered: items missing", -EPROTO);
	t0 = now_ns() - t0;
	rp_iter_free(it);
	emit_rate("imap_unordered", n, chunksize, t0);
	rp_pool_destroy(pool);
	free(in);
}

/* Python's pool_startup_empty: Pool(2), close(), join(). */
static uint64_t start_stop_once(enum rp_start_method method)
{
	uint64_t t0 = now_ns();
	rp_pool_t *pool = pool_start(method, NPROC);
	int err = rp_pool_close(pool);

	if (!err)
		err = rp_pool_join(pool, RP_FOREVER);
	if (err)
		die("rp_pool_close/join", err);
	rp_pool_destroy(pool);
	return now_ns() - t0;
}

/*
 * The first run is reported apart: with forkserver it also starts the
 * zygote, a cost paid once per program.
 */
static void bench_start_stop(size_t repeats, const char *method_name)
{
	enum rp_start_method method = RP_START_FORKSERVER;
	uint64_t *t = malloc((repeats ? repeats : 1) * sizeof(*t));

	if (strcmp(method_name, "fork") == 0)
		method = RP_START_FORK;
	else if (strcmp(method_name, "default") == 0)
		method = RP_START_DEFAULT;
	else if (strcmp(method_name, "forkserver") != 0)
		die("pool_start_stop: method is default, fork or forkserver",
		    -EINVAL);
	if (!t || repeats == 0)
		die("pool_start_stop", -EINVAL);
	for (size_t i = 0; i < repeats; i++)
		t[i] = start_stop_once(method);
	printf("{\"test\": \"pool_start_stop\", \"method\": \"%s\", "
	       "\"repeats\": %zu, \"first_ms\": %.3f, ", method_name, repeats,
	       t[0] / 1e6);
	/* The later ones alone: what every pool but a program's first costs. */
	if (repeats > 1) {
		qsort(t + 1, repeats - 1, sizeof(*t), cmp_u64);
		printf("\"later_median_ms\": %.3f, ",
		       t[1 + (repeats - 1) / 2] / 1e6);
	}
	qsort(t, repeats, sizeof(*t), cmp_u64);
	printf("\"median_ms\": %.3f, \"min_ms\": %.3f}\n",
	       t[repeats / 2] / 1e6, t[0] / 1e6);
	free(t);
}

/* ---------------------------------------------------------------------- */
/* Idle and memory                                                        */
/* ---------------------------------------------------------------------- */

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
			       .tv_nsec = (long)(ns % 1000000000u) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * The CPU time a process has used, all its threads, in ns ("self": this
 * one).  /proc/PID/task/TID/schedstat counts nanoseconds on the CPU,
 * where /proc/PID/stat counts 10 ms ticks: as coarse as the 1% of a core
 * being measured over a second.  (Another process's POSIX CPU clock,
 * clock_getcpuclockid, reads 0 on these VMs.)
 */
static uint64_t cpu_ns(const char *pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	uint64_t sum = 0;

	snprintf(path, sizeof(path), "/proc/%s/task", pid);
	d = opendir(path);
	if (!d)
		die(path, -errno);
	while ((e = readdir(d))) {
		unsigned long long ns;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task/%.16s/schedstat",
			 pid, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue; /* a thread that has just ended */
		if (fscanf(f, "%llu", &ns) == 1)
			sum += ns;
		fclose(f);
	}
	closedir(d);
	return sum;
}

/* CPU time used so far by the owner (every thread) and by the workers. */
struct cpu_sample {
	uint64_t wall, owner, workers, respawns;
};

static void sample_cpu(rp_pool_t *pool, struct cpu_sample *s)
{
	struct rp_pool_stats st;
	struct rp_worker_stats ws[MAX_WORKERS];
	int n = rp_pool_stats(pool, &st, ws, MAX_WORKERS);

	if (n < 0)
		die("rp_pool_stats", n);
	s->workers = 0;
	for (int i = 0; i < n && i < MAX_WORKERS; i++) {
		char pid[16];

		snprintf(pid, sizeof(pid), "%d", (int)ws[i].pid);
		s->workers += cpu_ns(pid);
	}
	s->owner = cpu_ns("self");
	s->respawns = st.respawns;
	s->wall = now_ns();
}

/* CPU used between two samples, in percent of one core. */
static double cpu_pct(uint64_t used, const struct cpu_sample *a,
		      const struct cpu_sample *b)
{
	return 100.0 * (double)used / (double)(b->wall - a->wall);
}

static void warm_up_roundtrips(rp_pool_t *pool)
{
	warm_up(pool);
	for (int i = 0; i < WARMUP_ROUNDTRIPS; i++)
		apply_once(pool, i);
}

/*
 * Busy, then idle: settle_cpu_pct covers the first idle_ms after the last
 * task (spinning may go on there), cpu_pct the window after it, where the
 * pool should have stopped spinning.  Then the first round trip, which
 * has to wake whoever sleeps.  The worker pids must not change on the way
 * (a respawn would reset their clocks).
 */
static void bench_idle_cpu(double window_s, unsigned idle_ms)
{
	rp_pool_t *pool = pool_start(RP_START_DEFAULT, NPROC);
	struct cpu_sample a, b, c;
	uint64_t first;

	warm_up_roundtrips(pool);
	sample_cpu(pool, &a);
	sleep_ns((uint64_t)idle_ms * 1000000u);
	sample_cpu(pool, &b);
	sleep_ns((uint64_t)(window_s * 1e9));
	sample_cpu(pool, &c);
	first = apply_once(pool, 1);
	if (c.respawns != a.respawns)
		die("idle_cpu: a worker was replaced", -ECHILD);
	printf("{\"test\": \"idle_cpu\", \"nworkers\": %d, \"idle_ms\": %u, "
	       "\"window_s\": %.3f, \"cpu_pct\": %.3f, "
	       "\"owner_cpu_pct\": %.3f, \"workers_cpu_pct\": %.3f, "
	       "\"settle_cpu_pct\": %.3f, \"first_roundtrip_us\": %.3f, ",
	       NPROC, idle_ms, (double)(c.wall - b.wall) * 1e-9,
	       cpu_pct(c.owner - b.owner + c.workers - b.workers, &b, &c),
	       cpu_pct(c.owner - b.owner, &b, &c),
	       cpu_pct(c.workers - b.workers, &b, &c),
	       cpu_pct(b.owner - a.owner + b.workers - a.workers, &a, &b),
	       first / 1e3);
	print_stats(pool);
	printf("}\n");
	rp_pool_destroy(pool);
}

/* rounds round trips, each after idle_ms without work. */
static void bench_wake_after_idle(size_t rounds, unsigned idle_ms)
{
	rp_pool_t *pool = pool_start(RP_START_DEFAULT, NPROC);
	uint64_t *lat = malloc((rounds ? rounds : 1) * sizeof(*lat));

	if (!lat || rounds == 0)
		die("wake_after_idle", -EINVAL);
	warm_up_roundtrips(pool);
	for (size_t i = 0; i < rounds; i++) {
		sleep_ns((uint64_t)idle_ms * 1000000u);
		lat[i] = apply_once(pool, (int64_t)i);
	}
	qsort(lat, rounds, sizeof(*lat), cmp_u64);
	printf("{\"test\": \"wake_after_idle\", \"rounds\": %zu, \"nworkers\": "
	       "%d, \"idle_ms\": %u, \"p50_us\": %.3f, \"min_us\": %.3f, "
	       "\"max_us\": %.3f, ", rounds, NPROC, idle_ms,
	       pct(lat, rounds, 50) / 1e3, lat[0] / 1e3,
	       lat[rounds - 1] / 1e3);
	print_stats(pool);
	printf("}\n");
	rp_pool_destroy(pool);
	free(lat);
}

/* This process's resident memory (/proc/self/statm), in bytes. */
static uint64_t self_rss(void)
{
	unsigned long long size, resident = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f || fscanf(f, "%llu %llu", &size, &resident) != 2)
		die("/proc/self/statm", -EIO);
	fclose(f);
	return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The largest and the mean resident size of the workers, in bytes. */
static void worker_rss(rp_pool_t *pool, double *ret_max, double *ret_mean)
{
	struct rp_worker_stats ws[MAX_WORKERS];
	int n = rp_pool_stats(pool, NULL, ws, MAX_WORKERS);
	double max = 0, sum = 0;

	if (n <= 0)
		die("rp_pool_stats", n ? n : -ECHILD);
	for (int i = 0; i < n && i < MAX_WORKERS; i++) {
		double r = (double)ws[i].rss_bytes;

		sum += r;
		max = r > max ? r : max;
	}
	*ret_max = max;
	*ret_mean = sum / n;
}

static void bench_rss_after_map(size_t n)
{
	rp_pool_t *pool = pool_start(RP_START_DEFAULT, NPROC);
	int64_t *in = iota(n);
	int64_t *out = calloc(n ? n : 1, sizeof(*out));
	double max0, mean0, max1, mean1;

	if (!out)
		die("calloc", -ENOMEM);
	warm_up(pool);
	worker_rss(pool, &max0, &mean0);
	map_or_die(pool, in, out, n, RP_CHUNKSIZE_AUTO);
	check_plus_one(out, n);
	worker_rss(pool, &max1, &mean1);
	printf("{\"test\": \"rss_after_map\", \"n\": %zu, \"nworkers\": %d, "
	       "\"rss_per_worker_mib\": %.3f, \"rss_per_worker_mean_mib\": "
	       "%.3f, \"rss_per_worker_before_mib\": %.3f, "
	       "\"owner_rss_mib\": %.3f}\n", n, NPROC, max1 / MIB, mean1 / MIB,
	       max0 / MIB, (double)self_rss() / MIB);
	rp_pool_destroy(pool);
	free(in);
	free(out);
}

/* A producer that does not know its length in advance: 0, 1, 2, ... */
struct counter {
	uint64_t next, n;
};

static int count_up(void *user, void *item, size_t item_size)
{
	struct counter *c = user;
	int64_t v = (int64_t)c->next;

	if (c->next == c->n || item_size != sizeof(v))
		return 0;
	c->next++;
	memcpy(item, &v, sizeof(v));
	return 1;
}

/* rp_imap's window, as include/ringpool.h states it, in items. */
static size_t imap_window(size_t nworkers, size_t cs, size_t item_bytes)
{
	size_t cap = (size_t)64 << 20, w = 4 * nworkers * cs;

	w = w > 1024 ? w : 1024;
	w = (w + cs - 1) / cs * cs;
	if (w * item_bytes > cap)
		w = cap / item_bytes / cs * cs;
	return w > nworkers * cs ? w : nworkers * cs;
}

/*
 * The owner's resident memory while rp_imap pulls n items from a producer
 * that could go on for ever: sampled every RSS_EVERY items, the peak
 * against the level before the iterator existed.
 */
#define RSS_EVERY 65536

static void bench_imap_rss(size_t n, size_t chunksize)
{
	rp_pool_t *pool = pool_start(RP_START_DEFAULT, NPROC);
	struct counter c = { .n = n };
	struct rp_input input = {
		.producer = count_up, .user = &c, .item_size = sizeof(int64_t),
	};
	size_t cs = chunksize ? chunksize : 1, count = 0, window;
	uint64_t before, peak, t0;
	struct rp_item item;
	rp_iter_t *it;
	int err;

	warm_up(pool);
	before = peak = self_rss();
	t0 = now_ns();
	err = rp_imap(pool, add_one, &input, sizeof(int64_t), chunksize, &it);
	if (err)
		die("rp_imap", err);
	while ((err = rp_iter_next(it, RP_FOREVER, &item)) == 0) {
		int64_t v;

		memcpy(&v, item.data, sizeof(v));
		if (item.index != count || v != (int64_t)count + 1)
			die("rp_imap: wrong result", -EPROTO);
		if (++count % RSS_EVERY == 0) {
			uint64_t r = self_rss();

			peak = r > peak ? r : peak;
		}
	}
	if (err != RP_EEND || count != n)
		die("rp_imap", err == RP_EEND ? -EPROTO : err);
	t0 = now_ns() - t0;
	rp_iter_free(it);
	window = imap_window(NPROC, cs, 2 * sizeof(int64_t));
	printf("{\"test\": \"imap_rss\", \"n\": %zu, \"chunksize\": %zu, "
	       "\"rss_before_mib\": %.3f, \"rss_peak_mib\": %.3f, "
	       "\"rss_growth_mib\": %.3f, \"window_items\": %zu, "
	       "\"window_mib\": %.3f, \"cap_mib\": 64, "
	       "\"unbounded_mib\": %.3f, \"tasks_per_s\": %.1f}\n", n, cs,
	       before / MIB, peak / MIB, (double)(peak - before) / MIB,
	       window, window * 2.0 * sizeof(int64_t) / MIB,
	       n * 2.0 * sizeof(int64_t) / MIB,
	       (double)n / ((double)t0 * 1e-9));
	rp_pool_destroy(pool);
}

static size_t arg_size(int argc, char **argv, int i, size_t def)
{
	return argc > i ? (size_t)strtod(argv[i], NULL) : def;
}

int main(int argc, char **argv)
{
	const char *test = argc > 1 ? argv[1] : "";
	bool startup = strcmp(test, "pool_start_stop") == 0;
	size_t n = arg_size(argc, argv, 2, startup ? 20 : 100000);

	if (strcmp(test, "map_cs1") == 0)
		bench_map(test, n, 1);
	else if (strcmp(test, "map_default") == 0)
		bench_map(test, n, RP_CHUNKSIZE_AUTO);
	else if (strcmp(test, "apply_async_pipelined") == 0)
		bench_apply_async(n);
	else if (strcmp(test, "apply_roundtrip") == 0)
		bench_roundtrip(n, (unsigned)arg_size(argc, argv, 3, NPROC));
	else if (strcmp(test, "imap_unordered") == 0)
		bench_imap_unordered(n, arg_size(argc, argv, 3, 1000));
	else if (strcmp(test, "map_skewed") == 0)
		bench_map_skewed(n);
	else if (startup)
		bench_start_stop(n, argc > 3 ? argv[3] : "forkserver");
	else if (strcmp(test, "idle_cpu") == 0)
		bench_idle_cpu(argc > 2 ? strtod(argv[2], NULL) : 1.0,
			       (unsigned)arg_size(argc, argv, 3, 10));
	else if (strcmp(test, "wake_after_idle") == 0)
		bench_wake_after_idle(arg_size(argc, argv, 2, 10),
				      (unsigned)arg_size(argc, argv, 3, 100));
	else if (strcmp(test, "rss_after_map") == 0)
		bench_rss_after_map(n);
	else if (strcmp(test, "imap_rss") == 0)
		bench_imap_rss(n, arg_size(argc, argv, 3, 1000));
	else {
		fprintf(stderr, "usage: rp-bench-pool map_cs1|map_default|"
			"apply_async_pipelined|apply_roundtrip|imap_unordered|"
			"map_skewed|"
			"pool_start_stop|idle_cpu|wake_after_idle|"
			"rss_after_map|imap_rss [N] [ARG]\n");
		return 2;
	}
	return 0;
}
