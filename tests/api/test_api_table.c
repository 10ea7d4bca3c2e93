/* SPDX-License-Identifier: MIT */
/*
 * Every public call of include/ringpool.h under bad input, as one table per
 * group of calls (SPEC.md §3: "bad input gets a clear error and changes
 * nothing").  A row is {function, case, call, documented code, fixture}:
 * the fixture builds the objects the row needs (a pool, a pending result, a
 * running process, ...), the call makes the one refused call and returns
 * its code, and then the runner checks that nothing changed: the call left
 * its ret_* sentinels alone (checked inside the call), the fixture's
 * objects still behave as before (a pool runs a task, a pending result
 * completes with its value, an iterator yields every item, a process exits
 * with its code), no callback fired, and no child, fd or shared mapping was
 * left behind once the fixture is gone.
 *
 * Calls that return no code report a test-local value instead: GOT_NULL or
 * GOT_PTR for pointers, GOT_MATCH when a string or value is the documented
 * one, DONE when a void call returned.  Rows marked UNDOC test a case the
 * header does not pin down (a NULL the function's block does not mention,
 * a code its list leaves out); they assert the only harmless answer or the
 * code a sibling call documents for the same input, and are header gaps.
 *
 * A table does not stop at its first failing row: every mismatch is printed
 * ("MISMATCH function: case: got .., want ..") and the test fails at the
 * end with their count.  The last test checks that the rows cover every
 * RP_API function of the header, from a list written by hand.
 *
 * Nothing sleeps: tasks block on the pool harness's futex gates, children
 * on the process harness's, and every wait is bounded by H_GUARD_S.
 */
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

/*
 * Rows that ask for SIZE_MAX bytes expect -ENOMEM from the library's own
 * malloc; AddressSanitizer aborts on such a request unless told to return
 * NULL as malloc does without it.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

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
static char sentinel_obj;
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

static void note(struct fx *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(struct fx *f, const char *fmt, ...)
{
	size_t used = strlen(f->note);
	va_list ap;

	if (used + 3 >= sizeof(f->note))
		return;
	if (used) {
		memcpy(f->note + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(f->note + used, sizeof(f->note) - used, fmt, ap);
	va_end(ap);
}

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

static void imap_items(struct fx *f, int n, bool gate)
{
	for (int i = 0; i < n; i++)
		f->items[i] = gate ? p_gated(0, 7) : p_plain(i);
	f->in = (struct rp_input){ .items = f->items, .n = (size_t)n,
				   .item_size = sizeof(f->items[0]) };
	assert_int_equal(rp_imap(f->pool, p_task, &f->in,
				 sizeof(struct p_rep), 1, &f->it),
			 0);
	p_track_iter(f->it);
}

static void fx_setup(struct fx *f, enum fixture fix)
{
	struct p_arg a;
	struct rp_item item;

	memset(f, 0, sizeof(*f));
	switch (fix) {
	case F_NONE:
		return;
	case F_PROC_NEW:
	case F_PROC_RUNNING:
	case F_PROC_ENDED:
		f->proc = h_new_blocker(RP_START_DEFAULT, 0, PROC_CODE,
					PROC_NAME, false);
		if (fix == F_PROC_NEW)
			return;
		assert_int_equal(rp_process_start(f->proc), 0);
		h_wait_ready(0);
		if (fix == F_PROC_ENDED) {
			h_open_gate(0);
			assert_int_equal(h_join_code(f->proc), PROC_CODE);
		}
		return;
	default:
		break;
	}
	f->pool = p_pool_n(2);
	switch (fix) {
	case F_POOL_CLOSED:
	case F_POOL_TERMINATED:
	case F_RES_PENDING:
		a = p_gated(0, fix == F_RES_PENDING ? 2 : 4);
		f->res = p_submit(f->pool, &a, NULL);
		p_wait_started(0);
		if (fix == F_POOL_CLOSED)
			assert_int_equal(rp_pool_close(f->pool), 0);
		if (fix == F_POOL_TERMINATED)
			assert_int_equal(rp_pool_terminate(f->pool), 0);
		break;
	case F_RES_DONE:
	case F_RES_FREED:
		a = p_plain(3);
		f->res = p_submit(f->pool, &a, NULL);
		assert_int_equal(p_get(f->res)->value, 3);
		if (fix == F_RES_FREED) {
			rp_result_free(f->res);
			f->res_freed = true;
		}
		break;
	case F_RES_FAILED:
		a = (struct p_arg){ .slot = -1, .flags = P_FAIL, .code = 5,
				    .value = 6 };
		f->res = p_submit(f->pool, &a, NULL);
		assert_int_equal(rp_result_wait(f->res, H_GUARD_NS), 0);
		break;
	case F_ITER:
	case F_ITER_END:
		imap_items(f, 2, false);
		if (fix == F_ITER_END) {
			for (int i = 0; i < 2; i++)
				assert_int_equal(rp_iter_next(f->it,
							      H_GUARD_NS,
							      &item),
						 0);
			assert_int_equal(rp_iter_next(f->it, H_GUARD_NS,
						      &item),
					 RP_EEND);
		}
		break;
	case F_ITER_PENDING:
		imap_items(f, 1, true);
		p_wait_started(0);
		break;
	default:
		break;
	}
}

/* ---- "nothing changed": each fixture's objects still behave ------------- */

static void pool_runs_a_task(struct fx *f)
{
	struct p_arg a = p_plain(11);
	struct p_rep r;
	size_t len = 0;
	int rc;

	memset(&r, 0, sizeof(r));
	rc = rp_apply(f->pool, p_task, &a, sizeof(a), &r, sizeof(r), &len,
		      NULL);
	KEEP(f, rc == 0);
	KEEP(f, r.value == 11 && r.out == 34 && len == sizeof(r));
	KEEP(f, rp_pool_size(f->pool) == 2);
}

/* A pending result, gated on slot 0, completes with its value. */
static void res_completes(struct fx *f, int64_t value)
{
	const void *data = NULL;
	size_t len = 0;

	KEEP(f, rp_result_ready(f->res) == 0);
	p_open(0);
	KEEP(f, rp_result_get(f->res, H_GUARD_NS, &data, &len) == 0);
	KEEP(f, data && len == sizeof(struct p_rep) &&
		     ((const struct p_rep *)data)->value == value);
	KEEP(f, rp_result_successful(f->res) == 1);
}

static void res_still_done(struct fx *f)
{
	const void *data = NULL;
	size_t len = 0;

	KEEP(f, rp_result_get(f->res, 0, &data, &len) == 0);
	KEEP(f, data && len == sizeof(struct p_rep) &&
		     ((const struct p_rep *)data)->value == 3);
	KEEP(f, rp_result_successful(f->res) == 1);
	KEEP(f, rp_result_error(f->res) == NULL);
}

static void res_still_failed(struct fx *f)
{
	const void *data = SENTINEL_DATA;
	const struct rp_error *e;

	KEEP(f, rp_result_get(f->res, 0, &data, NULL) == RP_ETASK);
	KEEP(f, data == SENTINEL_DATA);
	KEEP(f, rp_result_successful(f->res) == 0);
	e = rp_result_error(f->res);
	KEEP(f, e && e->code == RP_ETASK && e->task_code == 5);
}

/* The iterator yields items first .. n - 1 with values base + i, then
 * RP_EEND. */
static void iter_yields(struct fx *f, int first, int n, int64_t base)
{
	struct rp_item item;

	for (int i = first; i < n; i++) {
		int rc = rp_iter_next(f->it, H_GUARD_NS, &item);

		KEEP(f, rc == 0);
		if (rc != 0)
			return;
		KEEP(f, item.index == (size_t)i && item.data &&
			     ((const struct p_rep *)item.data)->value ==
				     base + i);
	}
	KEEP(f, rp_iter_next(f->it, H_GUARD_NS, &item) == RP_EEND);
}

static void proc_behaves(struct fx *f, enum fixture fix)
{
	const char *name = rp_process_name(f->proc);
	int code = SENTINEL;

	KEEP(f, name && strcmp(name, PROC_NAME) == 0);
	if (fix == F_PROC_NEW) {
		KEEP(f, rp_process_pid(f->proc) == 0);
		KEEP(f, rp_process_is_alive(f->proc) == 0);
		KEEP(f, rp_process_start(f->proc) == 0);
		h_wait_ready(0);
	}
	if (fix != F_PROC_ENDED) {
		KEEP(f, rp_process_is_alive(f->proc) == 1);
		KEEP(f, rp_process_pid(f->proc) == h_sh->pid[0]);
		KEEP(f, rp_process_exitcode(f->proc, &code) == 0);
		KEEP(f, code == SENTINEL);
		h_open_gate(0);
		KEEP(f, rp_process_join(f->proc, H_GUARD_NS) == 0);
	}
	KEEP(f, rp_process_is_alive(f->proc) == 0);
	KEEP(f, rp_process_exitcode(f->proc, &code) == 1);
	KEEP(f, code == PROC_CODE);
	KEEP(f, rp_process_pid(f->proc) == h_sh->pid[0]);
}

static void pool_behaves(struct fx *f, enum fixture fix)
{
	bool res_live = f->res && !f->res_freed;
	struct rp_item item;

	switch (fix) {
	case F_POOL_CLOSED:
		if (res_live)
			res_completes(f, 4);
		p_open(0);
		KEEP(f, rp_pool_join(f->pool, H_GUARD_NS) == 0);
		return;
	case F_POOL_TERMINATED:
		if (res_live)
			KEEP(f, rp_result_get(f->res, H_GUARD_NS, NULL,
					      NULL) == RP_ETERMINATED);
		KEEP(f, rp_pool_join(f->pool, H_GUARD_NS) == 0);
		return;
	case F_RES_PENDING:
		if (res_live)
			res_completes(f, 2);
		break;
	case F_RES_DONE:
		if (res_live)
			res_still_done(f);
		break;
	case F_RES_FAILED:
		if (res_live)
			res_still_failed(f);
		break;
	case F_ITER:
		if (f->it)
			iter_yields(f, 0, 2, 0);
		break;
	case F_ITER_PENDING:
		p_open(0);
		if (f->it)
			iter_yields(f, 0, 1, 7);
		break;
	case F_ITER_END:
		if (f->it)
			KEEP(f, rp_iter_next(f->it, 0, &item) == RP_EEND);
		break;
	default:
		break;
	}
	if (f->closed)
		KEEP(f, rp_pool_join(f->pool, H_GUARD_NS) == 0);
	else
		pool_runs_a_task(f);
}

static void fx_check(struct fx *f, enum fixture fix)
{
	/* No callback of the harness's recorders ran for a refused call. */
	KEEP(f, p_cb.calls == 0);
	if (f->proc)
		proc_behaves(f, fix);
	if (f->pool)
		pool_behaves(f, fix);
	if (fix == F_NONE)
		KEEP(f, rp_active_children(NULL, 0) == 0);
}

static void fx_teardown(struct fx *f)
{
	for (int i = 0; i < P_SLOTS; i++)
		p_open(i);
	for (int i = 0; i < H_SLOTS; i++)
		h_open_gate(i);
	if (f->it)
		p_iter_free(f->it);
	if (f->res && !f->res_freed)
		rp_result_free(f->res);
	if (f->pool)
		p_destroy(f->pool);
	if (f->proc)
		h_free(f->proc);
	/* Every worker and child is gone: the pages can be reused. */
	memset(p_sh, 0, sizeof(*p_sh));
	memset(h_sh, 0, sizeof(*h_sh));
	memset(&p_cb, 0, sizeof(p_cb));
	p_cb.owner_pid = getpid();
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

static const char *code_name(int code)
{
	switch (code) {
	case GOT_NULL: return "GOT_NULL";
	case GOT_PTR: return "GOT_PTR";
	case GOT_MATCH: return "GOT_MATCH";
	case GOT_OTHER: return "GOT_OTHER";
	case GOT_HUNG: return "GOT_HUNG";
	}
	return rp_err_name(code);
}

static void run_table(const char *table, const struct row *rows, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		struct leak_snapshot before, after;
		struct fx f;
		bool leaked;
		int got;

		leak_snapshot_take(&before);
		fx_setup(&f, FIX(r));
		got = r->call(&f);
		fx_check(&f, FIX(r));
		fx_teardown(&f);
		leak_snapshot_take(&after);
		leaked = memcmp(&before, &after, sizeof(before)) != 0;
		if (leaked)
			note(&f, "left behind: fds %d -> %d, children %d -> "
				 "%d, shared maps %d -> %d",
			     before.fds, after.fds, before.children,
			     after.children, before.shared_maps,
			     after.shared_maps);
		if (got == r->want && !f.changed && !leaked)
			continue;
		bad++;
		print_error("MISMATCH %s: %s%s: got %d (%s), want %d "
			    "(%s)%s%s\n",
			    r->func, r->name,
			    (r->fix & UNDOC) ? " [undocumented]" : "",
			    got, code_name(got), r->want, code_name(r->want),
			    f.note[0] ? "; " : "", f.note);
	}
	if (bad)
		fail_msg("%s: %d of %zu rows failed", table, bad, n);
}

/* ========================================================================== */
/* Errors                                                                     */
/* ========================================================================== */

static int str_is(struct fx *f, const char *s, const char *want)
{
	if (s && strcmp(s, want) == 0)
		return GOT_MATCH;
	note(f, "got \"%s\"", s ? s : "(null)");
	return GOT_OTHER;
}

static int some_text(const char *s)
{
	return s && s[0] ? GOT_PTR : GOT_NULL;
}

ROWFN(r_strerror_unknown, some_text(rp_strerror(-4096 - RP_NERRORS_)))
ROWFN(r_strerror_int_min, some_text(rp_strerror(INT_MIN)))
ROWFN(r_strerror_positive, some_text(rp_strerror(12345)))
ROWFN(r_err_name_unknown,
	str_is(f, rp_err_name(-4096 - RP_NERRORS_), "UNKNOWN"))
ROWFN(r_err_name_int_min, str_is(f, rp_err_name(INT_MIN), "UNKNOWN"))
ROWFN(r_err_name_int_max, str_is(f, rp_err_name(INT_MAX), "UNKNOWN"))

static const struct row error_rows[] = {
	{ "rp_strerror", "one past the last library code", r_strerror_unknown,
	  GOT_PTR, F_NONE },
	{ "rp_strerror", "INT_MIN", r_strerror_int_min, GOT_PTR, F_NONE },
	{ "rp_strerror", "a positive code", r_strerror_positive, GOT_PTR,
	  F_NONE },
	{ "rp_err_name", "one past the last library code: \"UNKNOWN\"",
	  r_err_name_unknown, GOT_MATCH, F_NONE },
	{ "rp_err_name", "INT_MIN: \"UNKNOWN\"", r_err_name_int_min,
	  GOT_MATCH, F_NONE },
	{ "rp_err_name", "INT_MAX: \"UNKNOWN\"", r_err_name_int_max,
	  GOT_MATCH, F_NONE },
};

/* ========================================================================== */
/* Processes                                                                  */
/* ========================================================================== */

static int zero_fn(void *arg, size_t len)
{
	return 0;
}

static int create_with(struct fx *f, const struct rp_process_opts *o)
{
	rp_process_t *p = SENTINEL_PROC;
	int rc = rp_process_create(o, &p);

	KEEP(f, p == SENTINEL_PROC);
	if (rc == 0 && p != SENTINEL_PROC)
		rp_process_free(p);
	return rc;
}

ROWFN(r_pcreate_null_opts, create_with(f, NULL))

static int r_pcreate_null_target(struct fx *f)
{
	struct rp_process_opts o = { .target = NULL };

	return create_with(f, &o);
}

static int r_pcreate_null_ret(struct fx *f)
{
	struct rp_process_opts o = { .target = zero_fn };

	return rp_process_create(&o, NULL);
}

static int r_pcreate_arg_null_len(struct fx *f)
{
	struct rp_process_opts o = { .target = zero_fn, .arg_len = 4 };

	return create_with(f, &o);
}

static int pcreate_method(struct fx *f, int m)
{
	struct rp_process_opts o = { .target = zero_fn,
				     .start_method = (enum rp_start_method)m };

	return create_with(f, &o);
}

ROWFN(r_pcreate_method_next, pcreate_method(f, RP_START_FORK + 1))
ROWFN(r_pcreate_method_neg, pcreate_method(f, -1))
ROWFN(r_pcreate_method_max, pcreate_method(f, INT_MAX))

static int r_pcreate_empty_cpus(struct fx *f)
{
	cpu_set_t empty;
	struct rp_process_opts o = { .target = zero_fn, .cpus = &empty };

	CPU_ZERO(&empty);
	return create_with(f, &o);
}

ROWFN(r_pstart_null, rp_process_start(NULL))

static int r_pstart_running(struct fx *f)
{
	pid_t pid = rp_process_pid(f->proc);
	int rc = rp_process_start(f->proc);

	KEEP(f, rp_process_pid(f->proc) == pid);
	KEEP(f, rp_active_children(NULL, 0) == 1);
	return rc;
}

ROWFN(r_pstart_ended, rp_process_start(f->proc))
ROWFN(r_pjoin_null, rp_process_join(NULL, 0))
ROWFN(r_pjoin_null_forever, rp_process_join(NULL, RP_FOREVER))
ROWFN(r_pjoin_new, rp_process_join(f->proc, 0))
ROWFN(r_pjoin_new_forever, rp_process_join(f->proc, RP_FOREVER))
ROWFN(r_pjoin_minus2, rp_process_join(f->proc, -2))
ROWFN(r_pjoin_int64_min, rp_process_join(f->proc, INT64_MIN))
ROWFN(r_pjoin_running_poll, rp_process_join(f->proc, 0))
ROWFN(r_alive_null, rp_process_is_alive(NULL))
ROWFN(r_alive, rp_process_is_alive(f->proc))

static int r_exitcode_null(struct fx *f)
{
	int code = SENTINEL;
	int rc = rp_process_exitcode(NULL, &code);

	KEEP(f, code == SENTINEL);
	return rc;
}

ROWFN(r_exitcode_null_ret, rp_process_exitcode(f->proc, NULL))

static int r_exitcode_none_yet(struct fx *f)
{
	int code = SENTINEL;
	int rc = rp_process_exitcode(f->proc, &code);

	KEEP(f, code == SENTINEL);
	return rc;
}

ROWFN(r_terminate_null, rp_process_terminate(NULL))
ROWFN(r_terminate, rp_process_terminate(f->proc))
ROWFN(r_kill_null, rp_process_kill(NULL))
ROWFN(r_kill, rp_process_kill(f->proc))
ROWFN(r_pid_null, (int)rp_process_pid(NULL))
ROWFN(r_pid, (int)rp_process_pid(f->proc))
ROWFN(r_pname_null, rp_process_name(NULL) ? GOT_PTR : GOT_NULL)

static int r_pname_default(struct fx *f)
{
	struct rp_process_opts o = { .target = zero_fn };
	rp_process_t *p = h_new(&o);
	const char *name = rp_process_name(p);
	int rc = name && strncmp(name, "Process-", 8) == 0 ? GOT_MATCH :
							      GOT_OTHER;

	if (rc != GOT_MATCH)
		note(f, "got \"%s\"", name ? name : "(null)");
	h_free(p);
	return rc;
}

ROWFN(r_daemon_null, rp_process_daemon(NULL))
ROWFN(r_daemon, rp_process_daemon(f->proc))
ROWFN(r_pclose_null, rp_process_close(NULL))

static int r_pclose_running(struct fx *f)
{
	int rc = rp_process_close(f->proc);

	if (rc == 0) { /* released after all: nothing left to check */
		h_untrack(f->proc);
		f->proc = NULL;
	}
	return rc;
}

static int r_pfree_null(struct fx *f)
{
	rp_process_free(NULL);
	return DONE;
}

ROWFN(r_children_null_cap, rp_active_children(NULL, 1))
ROWFN(r_children_null_huge_cap, rp_active_children(NULL, SIZE_MAX))

/* cap 0 with a list: the count, and no entry written. */
static int r_children_cap0(struct fx *f)
{
	rp_process_t *list[1] = { SENTINEL_PROC };
	int rc = rp_active_children(list, 0);

	KEEP(f, list[0] == SENTINEL_PROC);
	return rc;
}

static int r_children_ended(struct fx *f)
{
	rp_process_t *list[1] = { SENTINEL_PROC };
	int rc = rp_active_children(list, 1);

	KEEP(f, list[0] == SENTINEL_PROC);
	return rc;
}

static int r_cpu_count(struct fx *f)
{
	cpu_set_t set;
	int n = rp_cpu_count();

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && n >= 1 &&
	    n == CPU_COUNT(&set))
		return GOT_MATCH;
	note(f, "rp_cpu_count() = %d", n);
	return GOT_OTHER;
}

ROWFN(r_current_name, str_is(f, rp_current_process_name(), "MainProcess"))

static const struct row process_rows[] = {
	{ "rp_process_create", "NULL opts", r_pcreate_null_opts, -EINVAL,
	  F_NONE },
	{ "rp_process_create", "NULL target", r_pcreate_null_target, -EINVAL,
	  F_NONE },
	{ "rp_process_create", "NULL ret_proc", r_pcreate_null_ret, -EINVAL,
	  F_NONE },
	{ "rp_process_create", "arg NULL with arg_len 4",
	  r_pcreate_arg_null_len, -EINVAL, F_NONE },
	{ "rp_process_create", "start method RP_START_FORK + 1",
	  r_pcreate_method_next, -EINVAL, F_NONE },
	{ "rp_process_create", "start method -1", r_pcreate_method_neg,
	  -EINVAL, F_NONE },
	{ "rp_process_create", "start method INT_MAX", r_pcreate_method_max,
	  -EINVAL, F_NONE },
	{ "rp_process_create", "empty cpu set", r_pcreate_empty_cpus, -EINVAL,
	  F_NONE },
	{ "rp_process_start", "NULL", r_pstart_null, -EINVAL, F_NONE },
	{ "rp_process_start", "twice, while running", r_pstart_running,
	  -EALREADY, F_PROC_RUNNING },
	{ "rp_process_start", "after the child ended", r_pstart_ended,
	  -EALREADY, F_PROC_ENDED },
	{ "rp_process_join", "NULL", r_pjoin_null, -EINVAL, F_NONE },
	{ "rp_process_join", "NULL, RP_FOREVER", r_pjoin_null_forever,
	  -EINVAL, F_NONE },
	{ "rp_process_join", "never started", r_pjoin_new, -ECHILD,
	  F_PROC_NEW },
	{ "rp_process_join", "never started, RP_FOREVER", r_pjoin_new_forever,
	  -ECHILD, F_PROC_NEW },
	{ "rp_process_join", "running, timeout -2", r_pjoin_minus2, -EINVAL,
	  F_PROC_RUNNING },
	{ "rp_process_join", "running, timeout INT64_MIN", r_pjoin_int64_min,
	  -EINVAL, F_PROC_RUNNING },
	{ "rp_process_join", "ended, timeout -2", r_pjoin_minus2, -EINVAL,
	  F_PROC_ENDED },
	{ "rp_process_join", "running, timeout 0", r_pjoin_running_poll,
	  -ETIMEDOUT, F_PROC_RUNNING },
	{ "rp_process_is_alive", "NULL", r_alive_null, -EINVAL, F_NONE },
	{ "rp_process_is_alive", "never started", r_alive, 0, F_PROC_NEW },
	{ "rp_process_is_alive", "ended", r_alive, 0, F_PROC_ENDED },
	{ "rp_process_exitcode", "NULL proc", r_exitcode_null, -EINVAL,
	  F_NONE },
	{ "rp_process_exitcode", "NULL ret_code, never started",
	  r_exitcode_null_ret, -EINVAL, F_PROC_NEW },
	{ "rp_process_exitcode", "NULL ret_code, ended", r_exitcode_null_ret,
	  -EINVAL, F_PROC_ENDED },
	{ "rp_process_exitcode", "never started", r_exitcode_none_yet, 0,
	  F_PROC_NEW },
	{ "rp_process_exitcode", "still running", r_exitcode_none_yet, 0,
	  F_PROC_RUNNING },
	{ "rp_process_terminate", "NULL", r_terminate_null, -EINVAL, F_NONE },
	{ "rp_process_terminate", "never started", r_terminate, -ECHILD,
	  F_PROC_NEW },
	{ "rp_process_terminate", "ended: nothing sent, exit code kept",
	  r_terminate, 0, F_PROC_ENDED },
	{ "rp_process_kill", "NULL", r_kill_null, -EINVAL, F_NONE },
	{ "rp_process_kill", "never started", r_kill, -ECHILD, F_PROC_NEW },
	{ "rp_process_kill", "ended: nothing sent, exit code kept", r_kill, 0,
	  F_PROC_ENDED },
	{ "rp_process_pid", "NULL", r_pid_null, 0, F_NONE | UNDOC },
	{ "rp_process_pid", "never started: 0", r_pid, 0, F_PROC_NEW },
	{ "rp_process_name", "NULL", r_pname_null, GOT_NULL, F_NONE | UNDOC },
	{ "rp_process_name", "no name given: \"Process-<N>\"", r_pname_default,
	  GOT_MATCH, F_NONE },
	{ "rp_process_daemon", "NULL", r_daemon_null, false, F_NONE | UNDOC },
	{ "rp_process_daemon", "created non-daemon, never started", r_daemon,
	  false, F_PROC_NEW },
	{ "rp_process_close", "NULL", r_pclose_null, -EINVAL, F_NONE },
	{ "rp_process_close", "while the child runs", r_pclose_running,
	  -EBUSY, F_PROC_RUNNING },
	{ "rp_process_free", "NULL", r_pfree_null, DONE, F_NONE },
	{ "rp_active_children", "NULL list, cap 1", r_children_null_cap,
	  -EINVAL, F_NONE },
	{ "rp_active_children", "NULL list, cap SIZE_MAX",
	  r_children_null_huge_cap, -EINVAL, F_NONE },
	{ "rp_active_children", "cap 0 with one running: 1, nothing written",
	  r_children_cap0, 1, F_PROC_RUNNING },
	{ "rp_active_children", "the only child ended: 0",
	  r_children_ended, 0, F_PROC_ENDED },
	{ "rp_cpu_count", "equals the affinity mask's count, >= 1",
	  r_cpu_count, GOT_MATCH, F_NONE },
	{ "rp_current_process_name", "in the owner while a child runs",
	  r_current_name, GOT_MATCH, F_PROC_RUNNING },
};

/* ========================================================================== */
/* Pool                                                                       */
/* ========================================================================== */

static int pcreate_with(struct fx *f, const struct rp_pool_opts *o)
{
	rp_pool_t *pool = SENTINEL_POOL;
	int rc = rp_pool_create(o, &pool);

	KEEP(f, pool == SENTINEL_POOL);
	if (rc == 0 && pool != SENTINEL_POOL)
		rp_pool_destroy(pool);
	return rc;
}

ROWFN(r_create_null_opts, pcreate_with(f, NULL))

static int r_create_null_ret(struct fx *f)
{
	struct rp_pool_opts o = { .nworkers = 1 };

	return rp_pool_create(&o, NULL);
}

static int create_ring(struct fx *f, size_t bytes)
{
	struct rp_pool_opts o = { .nworkers = 1, .ring_bytes = bytes };

	return pcreate_with(f, &o);
}

ROWFN(r_create_ring_3000, create_ring(f, 3000))
ROWFN(r_create_ring_2k, create_ring(f, 2048))
ROWFN(r_create_ring_2g, create_ring(f, (size_t)1 << 31))
ROWFN(r_create_ring_max, create_ring(f, SIZE_MAX))

static int r_create_initarg_null(struct fx *f)
{
	struct rp_pool_opts o = { .nworkers = 1, .initializer = p_init,
				  .initarg_len = 4 };
	int rc = pcreate_with(f, &o);

	KEEP(f, p_sh->init_count == 0);
	return rc;
}

static int create_method(struct fx *f, int m)
{
	struct rp_pool_opts o = { .nworkers = 1,
				  .start_method = (enum rp_start_method)m };

	return pcreate_with(f, &o);
}

ROWFN(r_create_method_next, create_method(f, RP_START_FORK + 1))
ROWFN(r_create_method_neg, create_method(f, -1))

static int r_create_4097(struct fx *f)
{
	struct rp_pool_opts o = { .nworkers = 4097 };

	return pcreate_with(f, &o);
}

static int r_create_wait_policy(struct fx *f)
{
	struct rp_pool_opts o = { .nworkers = 1,
				  .wait_policy = RP_WAIT_SLEEP + 1 };

	return pcreate_with(f, &o);
}

/* A failing initializer: RP_EINIT, details in init_error, no pool. */
static int r_create_init_fails(struct fx *f)
{
	struct rp_error e;
	struct rp_pool_opts o = {
		.nworkers = 2,
		.initializer = p_init,
		.initarg = P_INIT_ARG,
		.initarg_len = sizeof(P_INIT_ARG),
		.init_error = &e,
	};
	int rc;

	memset(&e, 0, sizeof(e));
	p_sh->init_fail = 1;
	rc = pcreate_with(f, &o);
	p_sh->init_fail = 0;
	KEEP(f, e.code == RP_EINIT && e.task_code == 7);
	return rc;
}

ROWFN(r_size_null, rp_pool_size(NULL))
ROWFN(r_close_null, rp_pool_close(NULL))
ROWFN(r_close, rp_pool_close(f->pool))
ROWFN(r_terminate_pool_null, rp_pool_terminate(NULL))
ROWFN(r_terminate_pool, rp_pool_terminate(f->pool))
ROWFN(r_join_pool_null, rp_pool_join(NULL, 0))
ROWFN(r_join_pool_null_forever, rp_pool_join(NULL, RP_FOREVER))
ROWFN(r_join_pool_poll, rp_pool_join(f->pool, 0))
ROWFN(r_join_pool_forever, rp_pool_join(f->pool, RP_FOREVER))
ROWFN(r_join_pool_minus2, rp_pool_join(f->pool, -2))
ROWFN(r_join_pool_int64_min, rp_pool_join(f->pool, INT64_MIN))

/*
 * What a callback saw when it called back into its own pool.  Static, so
 * that a callback running late (a broken library) never writes to a
 * finished row's stack.
 */
static struct probe {
	rp_pool_t *pool;
	int rc;
	uint32_t done;
} probe;

static void probe_join(rp_result_t *res, void *user)
{
	probe.rc = rp_pool_join(probe.pool, 0);
	p_raise(&probe.done);
}

static void probe_submit(rp_result_t *res, void *user)
{
	struct p_arg a = p_plain(1);
	rp_result_t *r = NULL;

	probe.rc = rp_apply_async(probe.pool, p_task, &a, sizeof(a),
				  sizeof(struct p_rep), NULL, &r);
	if (probe.rc == 0)
		rp_result_free(r);
	p_raise(&probe.done);
}

/* A task gated on slot 1 whose callback runs cb once the pool is closed. */
static int in_callback_after_close(struct fx *f, rp_callback_fn cb)
{
	struct rp_submit_opts so = { .callback = cb, .error_callback = cb };
	struct p_arg a = p_gated(1, 1);
	rp_result_t *res = NULL;
	int rc;

	probe = (struct probe){ .pool = f->pool, .rc = SENTINEL };
	rc = rp_apply_async(f->pool, p_task, &a, sizeof(a),
			    sizeof(struct p_rep), &so, &res);
	if (rc != 0)
		return rc;
	KEEP(f, rp_pool_close(f->pool) == 0);
	f->closed = true;
	p_open(1);
	if (p_wait_ge(&probe.done, 1, H_GUARD_S) < 0) {
		note(f, "the callback never ran");
		rp_result_free(res);
		return GOT_HUNG;
	}
	rp_result_free(res);
	return probe.rc;
}

ROWFN(r_join_in_callback, in_callback_after_close(f, probe_join))
ROWFN(r_submit_in_callback, in_callback_after_close(f, probe_submit))

static int r_survivors_null(struct fx *f)
{
	pid_t pids[1] = { SENTINEL };
	int rc = rp_pool_survivors(NULL, pids, 1);

	KEEP(f, pids[0] == SENTINEL);
	return rc;
}

ROWFN(r_survivors_null_list, rp_pool_survivors(f->pool, NULL, 1))

static int r_survivors_after_terminate(struct fx *f)
{
	pid_t pids[1] = { SENTINEL };
	int rc = rp_pool_survivors(f->pool, pids, 1);

	KEEP(f, pids[0] == SENTINEL);
	return rc;
}

static int r_stats_null(struct fx *f)
{
	struct rp_pool_stats st = { .tasks_submitted = SENTINEL_LEN };
	struct rp_worker_stats ws[1] = { { .items = SENTINEL_LEN } };
	int rc = rp_pool_stats(NULL, &st, ws, 1);

	KEEP(f, st.tasks_submitted == SENTINEL_LEN && ws[0].items == SENTINEL_LEN);
	return rc;
}

static int r_stats_null_list(struct fx *f)
{
	struct rp_pool_stats st = { .tasks_submitted = SENTINEL_LEN };
	int rc = rp_pool_stats(f->pool, &st, NULL, 1);

	KEEP(f, st.tasks_submitted == SENTINEL_LEN);
	return rc;
}

/* Nothing asked for: the worker count, nothing written. */
ROWFN(r_stats_nothing, rp_pool_stats(f->pool, NULL, NULL, 0))

static int r_destroy_null(struct fx *f)
{
	rp_pool_destroy(NULL);
	return DONE;
}

/* Destroy a closed or terminated pool: its pending result still reads,
 * failed with RP_ETERMINATED. */
static int r_destroy_keeps_result(struct fx *f)
{
	const void *data = SENTINEL_DATA;
	int rc;

	p_destroy(f->pool);
	f->pool = NULL;
	rc = rp_result_get(f->res, 0, &data, NULL);
	KEEP(f, data == SENTINEL_DATA);
	KEEP(f, rp_result_ready(f->res) == 1);
	return rc;
}

static const struct row pool_rows[] = {
	{ "rp_pool_create", "NULL opts", r_create_null_opts, -EINVAL, F_NONE },
	{ "rp_pool_create", "NULL ret_pool", r_create_null_ret, -EINVAL,
	  F_NONE },
	{ "rp_pool_create", "ring_bytes 3000", r_create_ring_3000, -EINVAL,
	  F_NONE },
	{ "rp_pool_create", "ring_bytes 2 KiB", r_create_ring_2k, -EINVAL,
	  F_NONE },
	{ "rp_pool_create", "ring_bytes 2 GiB", r_create_ring_2g, -EINVAL,
	  F_NONE },
	{ "rp_pool_create", "ring_bytes SIZE_MAX", r_create_ring_max, -EINVAL,
	  F_NONE },
	{ "rp_pool_create", "initarg NULL with initarg_len 4",
	  r_create_initarg_null, -EINVAL, F_NONE },
	{ "rp_pool_create", "start method RP_START_FORK + 1",
	  r_create_method_next, -EINVAL, F_NONE },
	{ "rp_pool_create", "start method -1", r_create_method_neg, -EINVAL,
	  F_NONE },
	{ "rp_pool_create", "nworkers 4097", r_create_4097, -EINVAL, F_NONE },
	{ "rp_pool_create", "wait_policy out of range", r_create_wait_policy,
	  -EINVAL, F_NONE },
	{ "rp_pool_create", "the initializer fails", r_create_init_fails,
	  RP_EINIT, F_NONE },
	{ "rp_pool_size", "NULL", r_size_null, -EINVAL, F_NONE },
	{ "rp_pool_close", "NULL", r_close_null, -EINVAL, F_NONE },
	{ "rp_pool_close", "twice", r_close, -EALREADY, F_POOL_CLOSED },
	{ "rp_pool_close", "after terminate", r_close, -EALREADY,
	  F_POOL_TERMINATED },
	{ "rp_pool_terminate", "NULL", r_terminate_pool_null, -EINVAL,
	  F_NONE },
	{ "rp_pool_terminate", "twice", r_terminate_pool, -EALREADY,
	  F_POOL_TERMINATED },
	{ "rp_pool_join", "NULL", r_join_pool_null, -EINVAL, F_NONE },
	{ "rp_pool_join", "NULL, RP_FOREVER", r_join_pool_null_forever,
	  -EINVAL, F_NONE },
	{ "rp_pool_join", "before close, timeout 0", r_join_pool_poll,
	  -EINVAL, F_POOL },
	{ "rp_pool_join", "before close, RP_FOREVER", r_join_pool_forever,
	  -EINVAL, F_POOL },
	{ "rp_pool_join", "closed, timeout -2", r_join_pool_minus2, -EINVAL,
	  F_POOL_CLOSED },
	{ "rp_pool_join", "closed, timeout INT64_MIN", r_join_pool_int64_min,
	  -EINVAL, F_POOL_CLOSED },
	{ "rp_pool_join", "closed, a task still running, timeout 0",
	  r_join_pool_poll, -ETIMEDOUT, F_POOL_CLOSED },
	{ "rp_pool_join", "from one of the pool's callbacks",
	  r_join_in_callback, -EDEADLK, F_POOL },
	{ "rp_pool_survivors", "NULL pool", r_survivors_null, -EINVAL,
	  F_NONE },
	{ "rp_pool_survivors", "NULL ret_pids, cap 1", r_survivors_null_list,
	  -EINVAL, F_POOL_CLOSED },
	{ "rp_pool_survivors", "after terminate: none, nothing written",
	  r_survivors_after_terminate, 0, F_POOL_TERMINATED },
	{ "rp_pool_stats", "NULL pool", r_stats_null, -EINVAL, F_NONE },
	{ "rp_pool_stats", "NULL workers, cap 1", r_stats_null_list, -EINVAL,
	  F_POOL },
	{ "rp_pool_stats", "NULL ret, cap 0: the worker count",
	  r_stats_nothing, 2, F_POOL },
	{ "rp_pool_destroy", "NULL", r_destroy_null, DONE, F_NONE },
	{ "rp_pool_destroy", "terminated: its result stays readable",
	  r_destroy_keeps_result, RP_ETERMINATED, F_POOL_TERMINATED },
	{ "rp_pool_destroy", "closed, a task running: it ends terminated",
	  r_destroy_keeps_result, RP_ETERMINATED, F_POOL_CLOSED },
};

/* ========================================================================== */
/* Submitting work                                                            */
/* ========================================================================== */

/*
 * rp_apply with its outputs pre-filled: ret_len and *ret_error must be
 * untouched by a refused call (a task failure would fill them, but none of
 * these rows runs a task).
 */
static int apply_with(struct fx *f, rp_pool_t *pool, rp_task_fn fn,
		      const void *arg, size_t arg_len, void *res,
		      size_t res_cap)
{
	struct rp_error e, e0;
	size_t len = SENTINEL_LEN;
	int rc;

	memset(&e, 0xab, sizeof(e));
	e0 = e;
	rc = rp_apply(pool, fn, arg, arg_len, res, res_cap, &len, &e);
	KEEP(f, len == SENTINEL_LEN);
	KEEP(f, memcmp(&e, &e0, sizeof(e)) == 0);
	return rc;
}

static int r_apply_null_pool(struct fx *f)
{
	struct p_arg a = p_plain(1);
	struct p_rep r;

	return apply_with(f, NULL, p_task, &a, sizeof(a), &r, sizeof(r));
}

static int r_apply_null_fn(struct fx *f)
{
	struct p_arg a = p_plain(1);
	struct p_rep r;

	return apply_with(f, f->pool, NULL, &a, sizeof(a), &r, sizeof(r));
}

static int r_apply_null_arg(struct fx *f)
{
	struct p_rep r;

	return apply_with(f, f->pool, p_task, NULL, sizeof(struct p_arg), &r,
			  sizeof(r));
}

static int r_apply_null_res(struct fx *f)
{
	struct p_arg a = p_plain(1);

	return apply_with(f, f->pool, p_task, &a, sizeof(a), NULL,
			  sizeof(struct p_rep));
}

static int r_apply_refused(struct fx *f)
{
	struct p_arg a = p_plain(1);
	struct p_rep r;

	return apply_with(f, f->pool, p_task, &a, sizeof(a), &r, sizeof(r));
}

/* Writes nothing and says so: safe whatever res_cap the call claimed. */
static int empty_task(const void *arg, size_t arg_len, void *res,
		      size_t res_cap, rp_task_ctx_t *ctx)
{
	rp_task_set_result_len(ctx, 0);
	return 0;
}

/*
 * rp_apply blocks without a timeout, so the huge-res_cap call runs on a
 * thread: if it has not returned within the hang guard, the pool is
 * terminated (allowed concurrently), which must complete the call.
 */
static struct apply_job {
	rp_pool_t *pool;
	char buf[16];
	size_t len;
	int rc;
	uint32_t done;
} job;

static void *apply_huge_main(void *arg)
{
	job.rc = rp_apply(job.pool, empty_task, NULL, 0, job.buf, SIZE_MAX,
			  &job.len, NULL);
	p_raise(&job.done);
	return NULL;
}

static int r_apply_huge_res_cap(struct fx *f)
{
	pthread_t t;

	job = (struct apply_job){ .pool = f->pool, .len = SENTINEL_LEN };
	assert_int_equal(pthread_create(&t, NULL, apply_huge_main, NULL), 0);
	if (p_wait_ge(&job.done, 1, H_GUARD_S) < 0) {
		note(f, "rp_apply(res_cap SIZE_MAX) still blocked after "
			"%d s; terminated the pool to end it", H_GUARD_S);
		rp_pool_terminate(f->pool);
		pthread_join(t, NULL);
		note(f, "it then returned %d (%s)", job.rc,
		     rp_err_name(job.rc));
		f->closed = true;
		return GOT_HUNG;
	}
	pthread_join(t, NULL);
	KEEP(f, job.len == SENTINEL_LEN);
	return job.rc;
}

static struct p_cbrec rec;

/* rp_apply_async with callbacks that must not run: ret_res untouched. */
static int apply_async_with(struct fx *f, rp_pool_t *pool, rp_task_fn fn,
			    const void *arg, size_t arg_len, size_t res_cap,
			    const struct rp_submit_opts *so)
{
	rp_result_t *res = SENTINEL_RES;
	int rc;

	rc = rp_apply_async(pool, fn, arg, arg_len, res_cap, so, &res);
	KEEP(f, res == SENTINEL_RES);
	if (rc == 0 && res != SENTINEL_RES)
		rp_result_free(res);
	return rc;
}

static int r_async_null_pool(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_plain(1);

	return apply_async_with(f, NULL, p_task, &a, sizeof(a),
				sizeof(struct p_rep), &so);
}

static int r_async_null_fn(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_plain(1);

	return apply_async_with(f, f->pool, NULL, &a, sizeof(a),
				sizeof(struct p_rep), &so);
}

static int r_async_null_arg(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return apply_async_with(f, f->pool, p_task, NULL, sizeof(struct p_arg),
				sizeof(struct p_rep), &so);
}

static int r_async_null_ret(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_plain(1);

	return rp_apply_async(f->pool, p_task, &a, sizeof(a),
			      sizeof(struct p_rep), &so, NULL);
}

static int r_async_refused(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_plain(1);

	return apply_async_with(f, f->pool, p_task, &a, sizeof(a),
				sizeof(struct p_rep), &so);
}

static int r_async_huge_res_cap(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return apply_async_with(f, f->pool, empty_task, NULL, 0, SIZE_MAX,
				&so);
}

static int r_async_neg_timeout(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_plain(1);

	so.timeout_ns = -1;
	return apply_async_with(f, f->pool, p_task, &a, sizeof(a),
				sizeof(struct p_rep), &so);
}

static int r_async_neg_grace(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);
	struct p_arg a = p_plain(1);

	so.timeout_ns = H_GUARD_NS;
	so.kill_grace_ns = -1;
	return apply_async_with(f, f->pool, p_task, &a, sizeof(a),
				sizeof(struct p_rep), &so);
}

/* rp_map with results[] and *ret_error pre-filled: both untouched. */
static int map_with(struct fx *f, rp_pool_t *pool, rp_task_fn fn,
		    const void *items, size_t n, size_t item_size,
		    bool results, size_t result_size)
{
	struct p_rep reps[2], reps0[2];
	struct rp_error e, e0;
	int rc;

	memset(reps, 0xcd, sizeof(reps));
	memcpy(reps0, reps, sizeof(reps));
	memset(&e, 0xab, sizeof(e));
	e0 = e;
	rc = rp_map(pool, fn, items, n, item_size, results ? reps : NULL,
		    result_size, 0, &e);
	KEEP(f, memcmp(reps, reps0, sizeof(reps)) == 0);
	KEEP(f, memcmp(&e, &e0, sizeof(e)) == 0);
	return rc;
}

static const struct p_arg two_items[2] = {
	{ .slot = -1, .value = 1 },
	{ .slot = -1, .value = 2 },
};
#define IS sizeof(struct p_arg)
#define RS sizeof(struct p_rep)

ROWFN(r_map_null_pool, map_with(f, NULL, p_task, two_items, 2, IS, true, RS))
ROWFN(r_map_null_fn, map_with(f, f->pool, NULL, two_items, 2, IS, true, RS))
ROWFN(r_map_null_items, map_with(f, f->pool, p_task, NULL, 2, IS, true, RS))
ROWFN(r_map_null_results,
	map_with(f, f->pool, p_task, two_items, 2, IS, false, RS))
ROWFN(r_map_item_size_0,
	map_with(f, f->pool, p_task, two_items, 2, 0, true, RS))
ROWFN(r_map_items_overflow,
	map_with(f, f->pool, p_task, two_items, HUGE_N, IS, true, RS))
ROWFN(r_map_results_overflow,
	map_with(f, f->pool, p_task, two_items, HUGE_N, 8, true, 16))
ROWFN(r_map_n_max,
	map_with(f, f->pool, p_task, two_items, SIZE_MAX, 2, true, RS))
ROWFN(r_map_refused, map_with(f, f->pool, p_task, two_items, 2, IS, true, RS))

static int map_async_with(struct fx *f, rp_pool_t *pool, rp_task_fn fn,
			  const void *items, size_t n, size_t item_size,
			  size_t result_size, const struct rp_submit_opts *so)
{
	rp_result_t *res = SENTINEL_RES;
	int rc = rp_map_async(pool, fn, items, n, item_size, result_size, 0,
			      so, &res);

	KEEP(f, res == SENTINEL_RES);
	if (rc == 0 && res != SENTINEL_RES)
		rp_result_free(res);
	return rc;
}

static int r_mapa_null_pool(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, NULL, p_task, two_items, 2, IS, RS, &so);
}

static int r_mapa_null_fn(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, NULL, two_items, 2, IS, RS, &so);
}

static int r_mapa_null_items(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, p_task, NULL, 2, IS, RS, &so);
}

static int r_mapa_item_size_0(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, p_task, two_items, 2, 0, RS, &so);
}

static int r_mapa_items_overflow(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, p_task, two_items, HUGE_N, IS, RS,
			      &so);
}

static int r_mapa_results_overflow(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, p_task, two_items, HUGE_N, 8, 16,
			      &so);
}

static int r_mapa_null_ret(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return rp_map_async(f->pool, p_task, two_items, 2, IS, RS, 0, &so,
			    NULL);
}

static int r_mapa_refused(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, p_task, two_items, 2, IS, RS, &so);
}

/* One item whose result would be SIZE_MAX bytes: nothing overflows, but
 * no such array can be allocated. */
static int r_mapa_huge_result(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	return map_async_with(f, f->pool, empty_task, two_items, 1, IS,
			      SIZE_MAX, &so);
}

static int r_mapa_neg_timeout(struct fx *f)
{
	struct rp_submit_opts so = p_cb_opts(&rec);

	so.timeout_ns = -5;
	return map_async_with(f, f->pool, p_task, two_items, 2, IS, RS, &so);
}

static const struct row submit_rows[] = {
	{ "rp_apply", "NULL pool", r_apply_null_pool, -EINVAL, F_NONE },
	{ "rp_apply", "NULL fn", r_apply_null_fn, -EINVAL, F_POOL },
	{ "rp_apply", "arg NULL with arg_len", r_apply_null_arg, -EINVAL,
	  F_POOL },
	{ "rp_apply", "res NULL with res_cap", r_apply_null_res, -EINVAL,
	  F_POOL },
	{ "rp_apply", "after close", r_apply_refused, RP_ECLOSED,
	  F_POOL_CLOSED },
	/* terminate implies closed: RP_ECLOSED is the only refusal listed. */
	{ "rp_apply", "after terminate", r_apply_refused, RP_ECLOSED,
	  F_POOL_TERMINATED },
	{ "rp_apply", "res_cap SIZE_MAX", r_apply_huge_res_cap, -ENOMEM,
	  F_POOL },
	{ "rp_apply_async", "NULL pool", r_async_null_pool, -EINVAL, F_NONE },
	{ "rp_apply_async", "NULL fn", r_async_null_fn, -EINVAL, F_POOL },
	{ "rp_apply_async", "arg NULL with arg_len", r_async_null_arg,
	  -EINVAL, F_POOL },
	{ "rp_apply_async", "NULL ret_res", r_async_null_ret, -EINVAL,
	  F_POOL },
	{ "rp_apply_async", "after close", r_async_refused, RP_ECLOSED,
	  F_POOL_CLOSED },
	{ "rp_apply_async", "after terminate", r_async_refused, RP_ECLOSED,
	  F_POOL_TERMINATED },
	{ "rp_apply_async", "res_cap SIZE_MAX", r_async_huge_res_cap, -ENOMEM,
	  F_POOL },
	{ "rp_apply_async", "opts.timeout_ns -1", r_async_neg_timeout,
	  -EINVAL, F_POOL },
	{ "rp_apply_async", "opts.kill_grace_ns -1", r_async_neg_grace,
	  -EINVAL, F_POOL },
	{ "rp_apply_async", "from a callback after close",
	  r_submit_in_callback, RP_ECLOSED, F_POOL },
	{ "rp_map", "NULL pool", r_map_null_pool, -EINVAL, F_NONE },
	{ "rp_map", "NULL fn", r_map_null_fn, -EINVAL, F_POOL },
	{ "rp_map", "items NULL, n 2", r_map_null_items, -EINVAL, F_POOL },
	{ "rp_map", "results NULL, n 2", r_map_null_results, -EINVAL, F_POOL },
	{ "rp_map", "item_size 0", r_map_item_size_0, -EINVAL, F_POOL },
	{ "rp_map", "n * item_size overflows", r_map_items_overflow,
	  -EOVERFLOW, F_POOL },
	{ "rp_map", "n * result_size overflows", r_map_results_overflow,
	  -EOVERFLOW, F_POOL },
	{ "rp_map", "n SIZE_MAX, item_size 2", r_map_n_max, -EOVERFLOW,
	  F_POOL },
	{ "rp_map", "after close", r_map_refused, RP_ECLOSED, F_POOL_CLOSED },
	{ "rp_map", "after terminate", r_map_refused, RP_ECLOSED,
	  F_POOL_TERMINATED },
	{ "rp_map_async", "NULL pool", r_mapa_null_pool, -EINVAL, F_NONE },
	{ "rp_map_async", "NULL fn", r_mapa_null_fn, -EINVAL, F_POOL },
	{ "rp_map_async", "items NULL, n 2", r_mapa_null_items, -EINVAL,
	  F_POOL },
	{ "rp_map_async", "item_size 0", r_mapa_item_size_0, -EINVAL, F_POOL },
	{ "rp_map_async", "n * item_size overflows", r_mapa_items_overflow,
	  -EOVERFLOW, F_POOL },
	{ "rp_map_async", "n * result_size overflows",
	  r_mapa_results_overflow, -EOVERFLOW, F_POOL },
	{ "rp_map_async", "NULL ret_res", r_mapa_null_ret, -EINVAL, F_POOL },
	{ "rp_map_async", "after close", r_mapa_refused, RP_ECLOSED,
	  F_POOL_CLOSED },
	{ "rp_map_async", "after terminate", r_mapa_refused, RP_ECLOSED,
	  F_POOL_TERMINATED },
	{ "rp_map_async", "one result of SIZE_MAX bytes", r_mapa_huge_result,
	  -ENOMEM, F_POOL },
	{ "rp_map_async", "opts.timeout_ns -5", r_mapa_neg_timeout, -EINVAL,
	  F_POOL },
};

/* ========================================================================== */
/* Results                                                                    */
/* ========================================================================== */

static int get_with(struct fx *f, rp_result_t *res, int64_t timeout_ns)
{
	const void *data = SENTINEL_DATA;
	size_t len = SENTINEL_LEN;
	int rc = rp_result_get(res, timeout_ns, &data, &len);

	KEEP(f, data == SENTINEL_DATA);
	KEEP(f, len == SENTINEL_LEN);
	return rc;
}

ROWFN(r_get_null, get_with(f, NULL, 0))
ROWFN(r_get_poll, get_with(f, f->res, 0))
ROWFN(r_get_minus2, get_with(f, f->res, -2))
ROWFN(r_get_int64_min, get_with(f, f->res, INT64_MIN))
ROWFN(r_get_guard, get_with(f, f->res, H_GUARD_NS))
ROWFN(r_wait_null, rp_result_wait(NULL, 0))
ROWFN(r_wait_poll, rp_result_wait(f->res, 0))
ROWFN(r_wait_minus2, rp_result_wait(f->res, -2))
ROWFN(r_wait_int64_min, rp_result_wait(f->res, INT64_MIN))
ROWFN(r_ready_null, rp_result_ready(NULL))
ROWFN(r_ready, rp_result_ready(f->res))
ROWFN(r_successful_null, rp_result_successful(NULL))
ROWFN(r_successful, rp_result_successful(f->res))
ROWFN(r_error_null, rp_result_error(NULL) ? GOT_PTR : GOT_NULL)
ROWFN(r_error, rp_result_error(f->res) ? GOT_PTR : GOT_NULL)
ROWFN(r_cancel_null, rp_result_cancel(NULL, false))
ROWFN(r_cancel_null_force, rp_result_cancel(NULL, true))
ROWFN(r_cancel, rp_result_cancel(f->res, false))
ROWFN(r_cancel_force, rp_result_cancel(f->res, true))

static int r_rfree_null(struct fx *f)
{
	rp_result_free(NULL);
	return DONE;
}

/* Freed twice through the API: the second is a no-op, the result stays
 * recognisably freed. */
static int r_rfree_twice(struct fx *f)
{
	rp_result_free(f->res);
	rp_result_free(f->res);
	f->res_freed = true;
	return rp_result_ready(f->res);
}

/* An unfinished result freed: detached, its task still runs to the end. */
static int r_rfree_pending(struct fx *f)
{
	rp_result_free(f->res);
	f->res_freed = true;
	p_open(0);
	KEEP(f, p_wait_ge(&p_sh->done[0], 1, H_GUARD_S) == 0);
	return rp_result_ready(f->res);
}

static const struct row result_rows[] = {
	{ "rp_result_get", "NULL", r_get_null, -EINVAL, F_NONE },
	{ "rp_result_get", "pending, timeout 0", r_get_poll, -ETIMEDOUT,
	  F_RES_PENDING },
	{ "rp_result_get", "pending, timeout -2", r_get_minus2, -EINVAL,
	  F_RES_PENDING },
	{ "rp_result_get", "complete, timeout INT64_MIN", r_get_int64_min,
	  -EINVAL, F_RES_DONE },
	{ "rp_result_get", "failed: its code, outputs untouched", r_get_guard,
	  RP_ETASK, F_RES_FAILED },
	{ "rp_result_get", "freed", r_get_poll, -EINVAL, F_RES_FREED },
	{ "rp_result_get", "freed, with a timeout", r_get_guard, -EINVAL,
	  F_RES_FREED },
	{ "rp_result_wait", "NULL", r_wait_null, -EINVAL, F_NONE },
	{ "rp_result_wait", "pending, timeout 0", r_wait_poll, -ETIMEDOUT,
	  F_RES_PENDING },
	{ "rp_result_wait", "pending, timeout -2", r_wait_minus2, -EINVAL,
	  F_RES_PENDING },
	{ "rp_result_wait", "complete, timeout INT64_MIN", r_wait_int64_min,
	  -EINVAL, F_RES_DONE },
	{ "rp_result_wait", "freed", r_wait_poll, -EINVAL, F_RES_FREED },
	{ "rp_result_ready", "NULL", r_ready_null, -EINVAL, F_NONE },
	{ "rp_result_ready", "pending", r_ready, 0, F_RES_PENDING },
	{ "rp_result_ready", "freed", r_ready, -EINVAL, F_RES_FREED },
	{ "rp_result_successful", "NULL", r_successful_null, -EINVAL, F_NONE },
	{ "rp_result_successful", "before ready", r_successful, -EINVAL,
	  F_RES_PENDING },
	{ "rp_result_successful", "failed: 0", r_successful, 0, F_RES_FAILED },
	{ "rp_result_successful", "freed", r_successful, -EINVAL,
	  F_RES_FREED },
	{ "rp_result_error", "NULL", r_error_null, GOT_NULL, F_NONE },
	{ "rp_result_error", "pending", r_error, GOT_NULL, F_RES_PENDING },
	{ "rp_result_error", "succeeded", r_error, GOT_NULL, F_RES_DONE },
	/* "any rp_result_ call is -EINVAL": NULL is this call's refusal. */
	{ "rp_result_error", "freed", r_error, GOT_NULL, F_RES_FREED },
	{ "rp_result_cancel", "NULL", r_cancel_null, -EINVAL, F_NONE },
	{ "rp_result_cancel", "NULL, force", r_cancel_null_force, -EINVAL,
	  F_NONE },
	{ "rp_result_cancel", "running, no force", r_cancel, -EBUSY,
	  F_RES_PENDING },
	{ "rp_result_cancel", "complete", r_cancel, -EALREADY, F_RES_DONE },
	{ "rp_result_cancel", "complete, force", r_cancel_force, -EALREADY,
	  F_RES_DONE },
	{ "rp_result_cancel", "failed", r_cancel, -EALREADY, F_RES_FAILED },
	{ "rp_result_cancel", "freed", r_cancel, -EINVAL, F_RES_FREED },
	{ "rp_result_free", "NULL", r_rfree_null, DONE, F_NONE },
	{ "rp_result_free", "twice: then still freed", r_rfree_twice, -EINVAL,
	  F_RES_DONE },
	{ "rp_result_free", "pending: detached, freed, the task runs on",
	  r_rfree_pending, -EINVAL, F_RES_PENDING },
};

/* ========================================================================== */
/* Lazy iteration                                                             */
/* ========================================================================== */

typedef int (*imap_fn)(rp_pool_t *, rp_task_fn, const struct rp_input *,
		       size_t, size_t, rp_iter_t **);

static int producer_calls;

/* Counts its calls and ends the input at once: never writes the item. */
static int end_producer(void *user, void *item, size_t item_size)
{
	producer_calls++;
	return 0;
}

static int imap_with(struct fx *f, imap_fn fn, rp_pool_t *pool,
		     rp_task_fn task, const struct rp_input *in,
		     size_t result_size)
{
	rp_iter_t *it = SENTINEL_IT;
	int rc;

	producer_calls = 0;
	rc = fn(pool, task, in, result_size, 0, &it);
	KEEP(f, it == SENTINEL_IT);
	KEEP(f, producer_calls == 0);
	if (rc == 0 && it != SENTINEL_IT)
		rp_iter_free(it);
	return rc;
}

static const struct rp_input two_in = { .items = two_items, .n = 2,
					.item_size = IS };

#define IMAP_ROWS(fn)                                                   \
	static int r_##fn##_null_pool(struct fx *f)                            \
	{                                                                      \
		return imap_with(f, fn, NULL, p_task, &two_in, RS);            \
	}                                                                      \
	static int r_##fn##_null_fn(struct fx *f)                              \
	{                                                                      \
		return imap_with(f, fn, f->pool, NULL, &two_in, RS);           \
	}                                                                      \
	static int r_##fn##_null_in(struct fx *f)                              \
	{                                                                      \
		return imap_with(f, fn, f->pool, p_task, NULL, RS);            \
	}                                                                      \
	static int r_##fn##_no_input(struct fx *f)                             \
	{                                                                      \
		struct rp_input in = { .item_size = IS };                      \
		return imap_with(f, fn, f->pool, p_task, &in, RS);             \
	}                                                                      \
	static int r_##fn##_item_size_0(struct fx *f)                          \
	{                                                                      \
		struct rp_input in = two_in;                                   \
		in.item_size = 0;                                              \
		return imap_with(f, fn, f->pool, p_task, &in, RS);             \
	}                                                                      \
	static int r_##fn##_producer_item_size_0(struct fx *f)                 \
	{                                                                      \
		struct rp_input in = { .producer = end_producer };             \
		return imap_with(f, fn, f->pool, p_task, &in, RS);             \
	}                                                                      \
	static int r_##fn##_null_ret(struct fx *f)                             \
	{                                                                      \
		return fn(f->pool, p_task, &two_in, RS, 0, NULL);              \
	}                                                                      \
	static int r_##fn##_items_overflow(struct fx *f)                       \
	{                                                                      \
		struct rp_input in = two_in;                                   \
		in.n = HUGE_N;                                                 \
		return imap_with(f, fn, f->pool, p_task, &in, RS);             \
	}                                                                      \
	static int r_##fn##_results_overflow(struct fx *f)                     \
	{                                                                      \
		struct rp_input in = two_in;                                   \
		in.n = HUGE_N;                                                 \
		in.item_size = 8;                                              \
		return imap_with(f, fn, f->pool, p_task, &in, 16);             \
	}                                                                      \
	static int r_##fn##_producer_huge_item(struct fx *f)                   \
	{                                                                      \
		struct rp_input in = { .producer = end_producer,               \
				       .item_size = HALF_MAX };                \
		return imap_with(f, fn, f->pool, empty_task, &in, 8);          \
	}                                                                      \
	static int r_##fn##_producer_huge_result(struct fx *f)                 \
	{                                                                      \
		struct rp_input in = { .producer = end_producer,               \
				       .item_size = 8 };                       \
		return imap_with(f, fn, f->pool, empty_task, &in, HALF_MAX);   \
	}                                                                      \
	static int r_##fn##_refused(struct fx *f)                              \
	{                                                                      \
		return imap_with(f, fn, f->pool, p_task, &two_in, RS);         \
	}

IMAP_ROWS(rp_imap)
IMAP_ROWS(rp_imap_unordered)

/*
 * The header lists RP_ECLOSED, -EINVAL, -ENOMEM for imap; -EOVERFLOW is
 * rp_map's code for the same sizes (and what the brief of this test asks
 * for).  A producer's item and result sizes are multiplied by the window:
 * when that overflows, nothing can hold the window.
 */
#define IMAP_TABLE(fname, fn)                                                  \
	{ fname, "NULL pool", r_##fn##_null_pool, -EINVAL, F_NONE },           \
	{ fname, "NULL fn", r_##fn##_null_fn, -EINVAL, F_POOL },               \
	{ fname, "NULL in", r_##fn##_null_in, -EINVAL, F_POOL },               \
	{ fname, "neither items nor producer", r_##fn##_no_input, -EINVAL,     \
	  F_POOL },                                                            \
	{ fname, "item_size 0", r_##fn##_item_size_0, -EINVAL, F_POOL },       \
	{ fname, "producer, item_size 0", r_##fn##_producer_item_size_0,       \
	  -EINVAL, F_POOL },                                                   \
	{ fname, "NULL ret_it", r_##fn##_null_ret, -EINVAL, F_POOL },          \
	{ fname, "n * item_size overflows", r_##fn##_items_overflow,           \
	  -EOVERFLOW, F_POOL | UNDOC },                                        \
	{ fname, "n * result_size overflows", r_##fn##_results_overflow,       \
	  -EOVERFLOW, F_POOL | UNDOC },                                        \
	{ fname, "producer, item_size SIZE_MAX / 2 + 1",                       \
	  r_##fn##_producer_huge_item, -EOVERFLOW, F_POOL | UNDOC },           \
	{ fname, "producer, result_size SIZE_MAX / 2 + 1",                     \
	  r_##fn##_producer_huge_result, -EOVERFLOW, F_POOL | UNDOC },         \
	{ fname, "after close", r_##fn##_refused, RP_ECLOSED, F_POOL_CLOSED }, \
	{ fname, "after terminate", r_##fn##_refused, RP_ECLOSED,              \
	  F_POOL_TERMINATED }

static int next_with(struct fx *f, rp_iter_t *it, int64_t timeout_ns)
{
	struct rp_item item, item0;
	int rc;

	memset(&item, 0xab, sizeof(item));
	item0 = item;
	rc = rp_iter_next(it, timeout_ns, &item);
	KEEP(f, memcmp(&item, &item0, sizeof(item)) == 0);
	return rc;
}

ROWFN(r_next_null, next_with(f, NULL, 0))
ROWFN(r_next_null_item, rp_iter_next(f->it, 0, NULL))
ROWFN(r_next_minus2, next_with(f, f->it, -2))
ROWFN(r_next_int64_min, next_with(f, f->it, INT64_MIN))
ROWFN(r_next_poll, next_with(f, f->it, 0))
ROWFN(r_next_guard, next_with(f, f->it, H_GUARD_NS))

/* Yields item 0, then fails. */
static int failing_producer(void *user, void *item, size_t item_size)
{
	int *n = user;

	if ((*n)++ > 0)
		return -EIO;
	memcpy(item, &two_items[0], sizeof(two_items[0]));
	return 1;
}

/* A producer's error: RP_ETASK once, at the index it failed to produce,
 * then RP_EEND. */
static int r_next_producer_error(struct fx *f)
{
	int calls = 0;
	struct rp_input in = { .producer = failing_producer, .user = &calls,
			       .item_size = IS };
	struct rp_item item;
	int rc;

	assert_int_equal(rp_imap(f->pool, p_task, &in, RS, 1, &f->it), 0);
	p_track_iter(f->it);
	KEEP(f, rp_iter_next(f->it, H_GUARD_NS, &item) == 0 &&
		     item.index == 0);
	rc = rp_iter_next(f->it, H_GUARD_NS, &item);
	KEEP(f, item.index == 1 && item.error && item.error->code == RP_ETASK);
	KEEP(f, rp_iter_next(f->it, H_GUARD_NS, &item) == RP_EEND);
	p_iter_free(f->it);
	f->it = NULL;
	return rc;
}

static int r_ifree_null(struct fx *f)
{
	rp_iter_free(NULL);
	return DONE;
}

/* Freed with its item in flight: the item runs to the end, dropped. */
static int r_ifree_in_flight(struct fx *f)
{
	p_iter_free(f->it);
	f->it = NULL;
	p_open(0);
	KEEP(f, p_wait_ge(&p_sh->done[0], 1, H_GUARD_S) == 0);
	return DONE;
}

static const struct row iter_rows[] = {
	IMAP_TABLE("rp_imap", rp_imap),
	IMAP_TABLE("rp_imap_unordered", rp_imap_unordered),
	{ "rp_iter_next", "NULL", r_next_null, -EINVAL, F_NONE },
	{ "rp_iter_next", "NULL ret_item", r_next_null_item, -EINVAL, F_ITER },
	{ "rp_iter_next", "timeout -2", r_next_minus2, -EINVAL, F_ITER },
	{ "rp_iter_next", "timeout INT64_MIN", r_next_int64_min, -EINVAL,
	  F_ITER },
	{ "rp_iter_next", "item pending, timeout 0", r_next_poll, -ETIMEDOUT,
	  F_ITER_PENDING },
	{ "rp_iter_next", "after the end", r_next_poll, RP_EEND, F_ITER_END },
	{ "rp_iter_next", "after the end, with a timeout", r_next_guard,
	  RP_EEND, F_ITER_END },
	{ "rp_iter_next", "the producer fails at item 1",
	  r_next_producer_error, RP_ETASK, F_POOL },
	{ "rp_iter_free", "NULL", r_ifree_null, DONE, F_NONE },
	{ "rp_iter_free", "an item in flight", r_ifree_in_flight, DONE,
	  F_ITER_PENDING },
};

/* ========================================================================== */
/* Task context                                                               */
/* ========================================================================== */

enum probe_q { Q_INDEX, Q_WORKER, Q_LEN_OVER, Q_FAIL0, Q_LONGMSG };

/* Runs in a worker: answers through its result or its failure. */
static int probe_task(const void *arg, size_t arg_len, void *res,
		      size_t res_cap, rp_task_ctx_t *ctx)
{
	char msg[2 * RP_ERROR_MESSAGE_MAX];
	int64_t v = 0;
	int q;

	if (!arg || arg_len != sizeof(q) || !res || res_cap < sizeof(v))
		return 98;
	memcpy(&q, arg, sizeof(q));
	switch (q) {
	case Q_INDEX:
		v = rp_task_index(ctx);
		break;
	case Q_WORKER:
		v = rp_task_worker(ctx);
		break;
	case Q_LEN_OVER:
		rp_task_set_result_len(ctx, res_cap + 100);
		break;
	case Q_FAIL0:
		return rp_task_fail(ctx, 0, "code zero");
	case Q_LONGMSG:
		memset(msg, 'm', sizeof(msg) - 1);
		msg[sizeof(msg) - 1] = '\0';
		return rp_task_fail(ctx, 3, "%s", msg);
	}
	memcpy(res, &v, sizeof(v));
	return 0;
}

/* rp_apply of probe_task(q) into a 16-byte result. */
static int ask(struct fx *f, int q, int64_t *v, size_t *len,
	       struct rp_error *e)
{
	unsigned char buf[16] = { 0 };
	int rc;

	memset(e, 0, sizeof(*e));
	rc = rp_apply(f->pool, probe_task, &q, sizeof(q), buf, sizeof(buf),
		      len, e);
	memcpy(v, buf, sizeof(*v));
	return rc;
}

ROWFN(r_tfail_null_0, rp_task_fail(NULL, 0, "x"))
ROWFN(r_tfail_null_7, rp_task_fail(NULL, 7, "%s", "x"))

static int r_tlen_null(struct fx *f)
{
	rp_task_set_result_len(NULL, 5);
	return DONE;
}

ROWFN(r_tindex_null, (int)rp_task_index(NULL))
ROWFN(r_tworker_null, rp_task_worker(NULL))

/* The code the task failed with, or the call's code if it did not. */
static int r_tfail_0_in_task(struct fx *f)
{
	struct rp_error e;
	size_t len = SENTINEL_LEN;
	int64_t v;
	int rc = ask(f, Q_FAIL0, &v, &len, &e);

	KEEP(f, len == SENTINEL_LEN);
	if (rc != RP_ETASK)
		return rc;
	return e.task_code;
}

static int r_tfail_long_message(struct fx *f)
{
	struct rp_error e;
	size_t len;
	int64_t v;
	int rc = ask(f, Q_LONGMSG, &v, &len, &e);

	if (rc != RP_ETASK)
		return rc;
	return (int)strnlen(e.message, sizeof(e.message));
}

static int r_tlen_over_cap(struct fx *f)
{
	struct rp_error e;
	size_t len = SENTINEL_LEN;
	int64_t v;
	int rc = ask(f, Q_LEN_OVER, &v, &len, &e);

	return rc ? rc : (int)len;
}

static int r_tindex_apply(struct fx *f)
{
	struct rp_error e;
	size_t len;
	int64_t v = SENTINEL;
	int rc = ask(f, Q_INDEX, &v, &len, &e);

	return rc ? rc : (int)v;
}

static int r_tworker_apply(struct fx *f)
{
	struct rp_error e;
	size_t len;
	int64_t v = SENTINEL;
	int rc = ask(f, Q_WORKER, &v, &len, &e);

	if (rc)
		return rc;
	if (v >= 0 && v < 2)
		return GOT_MATCH;
	note(f, "worker %lld", (long long)v);
	return GOT_OTHER;
}

static const struct row task_rows[] = {
	{ "rp_task_fail", "NULL ctx, code 0: turned into 1", r_tfail_null_0, 1,
	  F_NONE | UNDOC },
	{ "rp_task_fail", "NULL ctx, code 7", r_tfail_null_7, 7,
	  F_NONE | UNDOC },
	{ "rp_task_fail", "code 0 in a task: task_code 1", r_tfail_0_in_task,
	  1, F_POOL },
	{ "rp_task_fail", "a 511-character message: cut at 255",
	  r_tfail_long_message, RP_ERROR_MESSAGE_MAX - 1, F_POOL },
	{ "rp_task_set_result_len", "NULL ctx", r_tlen_null, DONE,
	  F_NONE | UNDOC },
	{ "rp_task_set_result_len", "len > res_cap: ignored, len = res_cap",
	  r_tlen_over_cap, 16, F_POOL },
	{ "rp_task_index", "NULL ctx", r_tindex_null, -1, F_NONE | UNDOC },
	{ "rp_task_index", "in an apply task: -1", r_tindex_apply, -1,
	  F_POOL },
	{ "rp_task_worker", "NULL ctx", r_tworker_null, -1, F_NONE | UNDOC },
	{ "rp_task_worker", "in a task: 0 .. nworkers - 1", r_tworker_apply,
	  GOT_MATCH, F_POOL },
};

/* ========================================================================== */
/* Coverage                                                                   */
/* ========================================================================== */

static const struct {
	const struct row *rows;
	size_t n;
} tables[] = {
	{ error_rows, N_OF(error_rows) },
	{ process_rows, N_OF(process_rows) },
	{ pool_rows, N_OF(pool_rows) },
	{ submit_rows, N_OF(submit_rows) },
	{ result_rows, N_OF(result_rows) },
	{ iter_rows, N_OF(iter_rows) },
	{ task_rows, N_OF(task_rows) },
};

/*
 * The RP_API functions of the public header, read from it (its path comes
 * from meson as RP_PUBLIC_HEADER): a function added there without rows
 * here fails the coverage test.
 */
#define MAX_API 128

static size_t header_functions(char names[][64], size_t cap)
{
	FILE *f = fopen(RP_PUBLIC_HEADER, "r");
	char line[256];
	size_t n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *open = strchr(line, '('), *name;

		if (strncmp(line, "RP_API ", 7) != 0 || !open)
			continue;
		name = open;
		while (name > line && (name[-1] == '_' || isalnum((unsigned char)name[-1])))
			name--;
		assert_true(n < cap && open - name < 64);
		memcpy(names[n], name, (size_t)(open - name));
		names[n][open - name] = '\0';
		n++;
	}
	fclose(f);
	return n;
}

static bool in_header(char names[][64], size_t n, const char *func)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], func) == 0)
			return true;
	return false;
}

static int rows_for(const char *func)
{
	int n = 0;

	for (size_t t = 0; t < N_OF(tables); t++)
		for (size_t i = 0; i < tables[t].n; i++)
			n += strcmp(tables[t].rows[i].func, func) == 0;
	return n;
}

static void coverage(void **state)
{
	static char names[MAX_API][64];
	size_t n = header_functions(names, MAX_API), total = 0;
	int missing = 0;

	assert_true(n > 40); /* the parse found the API */
	for (size_t i = 0; i < n; i++) {
		if (rows_for(names[i]) == 0) {
			print_error("no row for %s\n", names[i]);
			missing++;
		}
	}
	for (size_t t = 0; t < N_OF(tables); t++) {
		for (size_t i = 0; i < tables[t].n; i++) {
			if (!in_header(names, n, tables[t].rows[i].func)) {
				print_error("row for %s, not in the header\n",
					    tables[t].rows[i].func);
				missing++;
			}
		}
		total += tables[t].n;
	}
	print_message("%zu rows over %zu functions\n", total, n);
	assert_int_equal(missing, 0);
}

/* ---- tests -------------------------------------------------------------- */

static void errors_table(void **state)
{
	run_table("errors", error_rows, N_OF(error_rows));
}

static void process_table(void **state)
{
	run_table("process", process_rows, N_OF(process_rows));
}

static void pool_table(void **state)
{
	run_table("pool", pool_rows, N_OF(pool_rows));
}

static void submit_table(void **state)
{
	run_table("submit", submit_rows, N_OF(submit_rows));
}

static void result_table(void **state)
{
	run_table("result", result_rows, N_OF(result_rows));
}

static void iter_table(void **state)
{
	run_table("iter", iter_rows, N_OF(iter_rows));
}

static void task_table(void **state)
{
	run_table("task", task_rows, N_OF(task_rows));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		P_T(process_table),
		P_T(pool_table),
		P_T(submit_table),
		P_T(result_table),
		P_T(iter_table),
		P_T(task_table),
		/* Last but one: under UBSan's halt_on_error a fault in the
		 * error-name table stops the program, after the rest ran. */
		P_T(errors_table),
		P_T(coverage),
	};

	return cmocka_run_group_tests_name("api_table", tests, p_group_setup,
					   p_group_teardown);
}
