/* SPDX-License-Identifier: MIT */
/*
 * rp-bench-pool: ringpool on the workloads of ../shared/baselines/py_pool.py,
 * so that tools/compare can set the two side by side.
 *
 * Usage: rp-bench-pool TEST [N] [ARG]   (prints one JSON object)
 *
 *	map_cs1 N                   rp_map of N items x -> x + 1, chunksize 1
 *	map_default N               the same, RP_CHUNKSIZE_AUTO
 *	apply_async_pipelined N     N rp_apply_async, then every get
 *	apply_roundtrip N           N sequential rp_apply: p50/p99/min in us
 *	imap_unordered N [CS]       rp_imap_unordered, chunksize CS (1000)
 *	pool_start_stop R [METHOD]  R times create(2) + close + join +
 *	                            destroy; METHOD fork or forkserver
 *
 * As in py_pool.py: 2 workers, the task is `def f(x): return x + 1` on a
 * 64-bit integer, and each measurement follows a warm-up (a map of 1000
 * items, or 200 round trips for the latency test) so that the workers are
 * running and the rings are touched before the clock starts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ringpool.h"

#define NPROC 2
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

static rp_pool_t *pool_start(enum rp_start_method method)
{
	struct rp_pool_opts o = { .nworkers = NPROC, .start_method = method };
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
	rp_pool_t *pool = pool_start(RP_START_DEFAULT);
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

static void bench_apply_async(size_t n)
{
	rp_pool_t *pool = pool_start(RP_START_DEFAULT);
	rp_result_t **rs = calloc(n ? n : 1, sizeof(*rs));
	uint64_t t0;

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
	for (size_t i = 0; i < n; i++)
		if (get_int(rs[i]) != (int64_t)i + 1)
			die("rp_apply_async: wrong result", -EPROTO);
	t0 = now_ns() - t0;
	for (size_t i = 0; i < n; i++)
		rp_result_free(rs[i]);
	emit_rate("apply_async_pipelined", n, 1, t0);
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

static void bench_roundtrip(size_t n)
{
	rp_pool_t *pool = pool_start(RP_START_DEFAULT);
	uint64_t *lat = malloc((n ? n : 1) * sizeof(*lat));

	if (!lat || n == 0)
		die("apply_roundtrip", -EINVAL);
	for (int i = 0; i < WARMUP_ROUNDTRIPS; i++)
		apply_once(pool, i);
	for (size_t i = 0; i < n; i++)
		lat[i] = apply_once(pool, (int64_t)i);
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("{\"test\": \"apply_roundtrip\", \"n\": %zu, \"p50_us\": %.3f, "
	       "\"p99_us\": %.3f, \"min_us\": %.3f}\n", n,
	       pct(lat, n, 50) / 1e3, pct(lat, n, 99) / 1e3, lat[0] / 1e3);
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
	rp_pool_t *pool = pool_start(RP_START_DEFAULT);
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
	rp_pool_t *pool = pool_start(method);
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
	else if (strcmp(method_name, "forkserver") != 0)
		die("pool_start_stop: method is fork or forkserver", -EINVAL);
	if (!t || repeats == 0)
		die("pool_start_stop", -EINVAL);
	for (size_t i = 0; i < repeats; i++)
		t[i] = start_stop_once(method);
	printf("{\"test\": \"pool_start_stop\", \"method\": \"%s\", "
	       "\"repeats\": %zu, \"first_ms\": %.3f, ", method_name, repeats,
	       t[0] / 1e6);
	qsort(t, repeats, sizeof(*t), cmp_u64);
	printf("\"median_ms\": %.3f, \"min_ms\": %.3f}\n",
	       t[repeats / 2] / 1e6, t[0] / 1e6);
	free(t);
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
		bench_roundtrip(n);
	else if (strcmp(test, "imap_unordered") == 0)
		bench_imap_unordered(n, arg_size(argc, argv, 3, 1000));
	else if (startup)
		bench_start_stop(n, argc > 3 ? argv[3] : "forkserver");
	else {
		fprintf(stderr, "usage: rp-bench-pool map_cs1|map_default|"
			"apply_async_pipelined|apply_roundtrip|imap_unordered|"
			"pool_start_stop [N] [ARG]\n");
		return 2;
	}
	return 0;
}
