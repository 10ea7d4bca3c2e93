/* SPDX-License-Identifier: MIT */
/*
 * A failure the owner has no memory to record: the failure's code still
 * reaches the caller, and rp_result_error says the details were lost.
 *
 * This program replaces malloc and calloc (the library's calls resolve to
 * them) with versions that fail requests of one chosen size while a case
 * asks for it, and otherwise pass on to glibc.  Each case also checks that
 * a request did fail, so it cannot pass without taking the path it tests.
 * The sanitizer runtimes own malloc themselves: there the cases skip.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "leak.h"
#include "ringpool.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define OWN_MALLOC 0
#else
#define OWN_MALLOC 1
#endif

#define GUARD_NS (30 * 1000000000LL)

/* malloc: requests of exactly this many bytes fail while it is non-zero.
 * calloc: every request fails while fail_calloc is set. */
static _Atomic size_t fail_malloc_size;
static _Atomic bool fail_calloc;
static _Atomic unsigned failed; /* requests failed so far */

#if OWN_MALLOC
void *__libc_malloc(size_t n);
void *__libc_calloc(size_t nmemb, size_t n);

void *malloc(size_t n)
{
	if (n && n == atomic_load(&fail_malloc_size)) {
		atomic_fetch_add(&failed, 1);
		return NULL;
	}
	return __libc_malloc(n);
}

void *calloc(size_t nmemb, size_t n)
{
	if (atomic_load(&fail_calloc)) {
		atomic_fetch_add(&failed, 1);
		return NULL;
	}
	return __libc_calloc(nmemb, n);
}
#endif

static void own_malloc_or_skip(void)
{
#if !OWN_MALLOC
	print_message("# skip: the sanitizer runtime owns malloc\n");
	skip();
#endif
}

/* Fails with task code 7; as a map item, only item 2 fails. */
static int fails_task(const void *arg, size_t arg_len, void *res,
		      size_t res_cap, rp_task_ctx_t *ctx)
{
	int64_t x = 0;

	(void)res;
	(void)res_cap;
	(void)ctx;
	memcpy(&x, arg, arg_len < sizeof(x) ? arg_len : sizeof(x));
	return x == 2 ? 7 : 0;
}

static rp_pool_t *pool_one(void)
{
	struct rp_pool_opts o = { .nworkers = 1 };
	rp_pool_t *pool = NULL;

	assert_int_equal(rp_pool_create(&o, &pool), 0);
	return pool;
}

static void pool_end(rp_pool_t *pool)
{
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, RP_FOREVER), 0);
	rp_pool_destroy(pool);
}

static void assert_details_lost(rp_result_t *res, int code)
{
	const struct rp_error *e;

	assert_int_equal(rp_result_get(res, GUARD_NS, NULL, NULL), code);
	assert_int_equal(rp_result_successful(res), 0);
	e = rp_result_error(res);
	assert_non_null(e);
	assert_int_equal(e->code, -ENOMEM);
	assert_non_null(strstr(e->message, "lost"));
}

/* What a case leaves the owner no memory for. */
enum starve { STARVE_RECORD, STARVE_EXTENSION };

/*
 * The error record: every malloc of its size fails.  The extension: every
 * calloc fails, whatever its size (the extension is private).  Submitting
 * an apply without callbacks makes no calloc, nor does an idle pool; if
 * either did, a case would fail, not pass.
 */
static void starve(enum starve what, bool on)
{
	if (what == STARVE_RECORD)
		atomic_store(&fail_malloc_size, on ? sizeof(struct rp_error) : 0);
	else
		atomic_store(&fail_calloc, on);
}

/* A failing apply, from before its submit until its result is in. */
static void apply_fails_starved(enum starve what)
{
	int64_t two = 2;
	rp_pool_t *pool;
	rp_result_t *res;

	own_malloc_or_skip();
	pool = pool_one();
	atomic_store(&failed, 0);
	starve(what, true);
	assert_int_equal(rp_apply_async(pool, fails_task, &two, sizeof(two),
					0, NULL, &res), 0);
	assert_int_equal(rp_result_wait(res, GUARD_NS), 0);
	starve(what, false);
	assert_true(atomic_load(&failed) >= 1);
	assert_details_lost(res, RP_ETASK);
	rp_result_free(res);
	pool_end(pool);
}

/* An apply's failure, with no memory for its record. */
static void apply_record_lost(void **state)
{
	(void)state;
	apply_fails_starved(STARVE_RECORD);
}

/* An apply without callbacks has no extension until it fails; here none
 * can be made. */
static void apply_extension_lost(void **state)
{
	(void)state;
	apply_fails_starved(STARVE_EXTENSION);
}

/* A map's first failure by index, with no memory for its record. */
static void map_record_lost(void **state)
{
	int64_t items[4] = { 0, 1, 2, 3 };
	int64_t out[4];
	struct rp_error e;
	rp_pool_t *pool;

	(void)state;
	own_malloc_or_skip();
	pool = pool_one();
	memset(&e, 0, sizeof(e));
	atomic_store(&failed, 0);
	starve(STARVE_RECORD, true);
	assert_int_equal(rp_map(pool, fails_task, items, 4, sizeof(items[0]),
				out, sizeof(out[0]), 1, &e), RP_ETASK);
	starve(STARVE_RECORD, false);
	assert_true(atomic_load(&failed) >= 1);
	assert_int_equal(e.code, -ENOMEM);
	assert_non_null(strstr(e.message, "lost"));
	pool_end(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(apply_record_lost, leak_setup,
						leak_teardown),
		cmocka_unit_test_setup_teardown(apply_extension_lost,
						leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(map_record_lost, leak_setup,
						leak_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
