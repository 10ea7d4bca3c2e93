/* SPDX-License-Identifier: MIT */
/*
 * What the Pool API tests (test_pool_api.c, test_pool_results.c) share:
 * the headers they use and a few small helpers.
 */
#ifndef RP_TEST_POOL_API_H
#define RP_TEST_POOL_API_H

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pool_harness.h"
#include "ringpool.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
#define SENTINEL_LEN ((size_t)0x5eed)

/* A stand-in for ret_* pointers' previous values; never dereferenced
 * (one per program: not every program uses it). */
static char sentinel_obj __attribute__((unused));
#define SENTINEL_RES ((rp_result_t *)&sentinel_obj)
#define SENTINEL_IT ((rp_iter_t *)&sentinel_obj)

static inline void fail_rc(const char *what, int rc, const struct rp_error *e)
{
	fail_msg("%s: %d (%s), task_code %d, index %lld, \"%s\"", what, rc,
		 rp_err_name(rc), e ? e->task_code : 0,
		 e ? (long long)e->index : -2LL, e ? e->message : "");
}

static inline int pids_distinct(const pid_t *pids, size_t n, pid_t *out,
				size_t cap)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < k; j++)
			if (out[j] == pids[i])
				break;
		if (j == k && k < cap)
			out[k++] = pids[i];
	}
	return (int)k;
}

static inline void close_join(rp_pool_t *pool)
{
	assert_int_equal(rp_pool_close(pool), 0);
	assert_int_equal(rp_pool_join(pool, H_GUARD_NS), 0);
}

#endif
