/* SPDX-License-Identifier: MIT */
/*
 * The bad-input table test (test_api_table.c): what its parts share.  The
 * fixtures and the runner are in api_table_core.c, the rows by group of
 * calls in api_table_*.c.
 */
#ifndef RP_TEST_API_TABLE_H
#define RP_TEST_API_TABLE_H

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "leak.h"
#include "pool_harness.h"
#include "ringpool.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Test-local results of rows whose call returns no code. */
#define DONE 0          /* a void call returned */
#define GOT_NULL 90001  /* the call returned NULL */
#define GOT_PTR 90002   /* the call returned a pointer (a non-empty string) */
#define GOT_MATCH 90003 /* the string or value is the documented one */
#define GOT_OTHER 90004 /* it is not (the row's note says what it was) */
#define GOT_HUNG 90005  /* the call did not return within the hang guard */

/* ret_* sentinels; the pointers stand in for previous values and are
 * never dereferenced. */
#define SENTINEL_LEN ((size_t)0x5eed)
extern char sentinel_obj;
#define SENTINEL_POOL ((rp_pool_t *)&sentinel_obj)
#define SENTINEL_PROC ((rp_process_t *)&sentinel_obj)
#define SENTINEL_RES ((rp_result_t *)&sentinel_obj)
#define SENTINEL_IT ((rp_iter_t *)&sentinel_obj)
#define SENTINEL_DATA ((const void *)&sentinel_obj)

/* Sizes whose products with 2, 8 or 16 overflow size_t. */
#define HUGE_N (SIZE_MAX / 8 + 1)
#define HALF_MAX (SIZE_MAX / 2 + 1)

/* The code of the fixtures' blocking child, and its name. */
#define PROC_CODE 8
#define PROC_NAME "row"

/* ---- fixtures ------------------------------------------------------------ */

enum fixture {
	F_NONE,           /* no object */
	F_PROC_NEW,       /* a blocking child, created, never started */
	F_PROC_RUNNING,   /* ... started, blocked on gate 0 */
	F_PROC_ENDED,     /* ... exited with PROC_CODE and joined */
	F_POOL,           /* an open pool of two workers */
	F_POOL_CLOSED,    /* closed while res runs, gated on slot 0 */
	F_POOL_TERMINATED, /* terminated while res ran, gated on slot 0 */
	F_RES_PENDING,    /* res runs, gated on slot 0 (value 2) */
	F_RES_DONE,       /* res complete (value 3) */
	F_RES_FAILED,     /* res failed with task code 5 */
	F_RES_FREED,      /* res complete, then freed */
	F_ITER,           /* imap over two items (values 0 and 1), not read */
	F_ITER_PENDING,   /* imap over one item gated on slot 0 (value 7) */
	F_ITER_END,       /* imap over two items, read to RP_EEND */
};

/* The objects a row works on; a row that consumes one clears its field. */
struct fx {
	rp_pool_t *pool;
	rp_process_t *proc;
	rp_result_t *res;
	rp_iter_t *it;
	struct p_arg items[2];
	struct rp_input in;
	bool res_freed;   /* res was freed by the fixture or the row */
	bool closed;      /* the row closed the (open) pool */
	bool changed;     /* something a refused call must not change did */
	char note[512];   /* what the row and the checks saw */
};

void note(struct fx *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Non-fatal: record what changed, so that every row still runs. */
#define KEEP(f, cond)                                                          \
	do {                                                                   \
		if (!(cond)) {                                                 \
			(f)->changed = true;                                   \
			note((f), "not so: %s", #cond);                        \
		}                                                              \
	} while (0)

/* A row's call that is one expression. */
#define ROWFN(name, expr)                                                      \
	static int name(struct fx *f)                                          \
	{                                                                      \
		return (expr);                                                 \
	}

/* ---- the runner --------------------------------------------------------- */

struct row {
	const char *func;  /* the RP_API function under test */
	const char *name;  /* the case */
	int (*call)(struct fx *f);
	int want;          /* the code the header documents */
	unsigned fix;      /* enum fixture, | UNDOC */
};

/* In a row's fix: the header does not document this case. */
#define UNDOC 0x100u
#define FIX(r) ((enum fixture)((r)->fix & ~UNDOC))

void run_table(const char *table, const struct row *rows, size_t n);

/* Shared by the submit, result and iterator rows: two plain items of the
 * pool harness's task, their item and result sizes, and a task that
 * writes nothing (safe whatever res_cap a call claims). */
extern const struct p_arg two_items[2];
#define IS sizeof(struct p_arg)
#define RS sizeof(struct p_rep)
int empty_task(const void *arg, size_t arg_len, void *res, size_t res_cap,
	       rp_task_ctx_t *ctx);

/* The tables, by group of calls. */
#define TABLE(name) \
	extern const struct row name##_rows[]; \
	extern const size_t name##_nrows
TABLE(error);
TABLE(process);
TABLE(pool);
TABLE(submit);
TABLE(result);
TABLE(iter);
TABLE(task);
#undef TABLE

#endif
