/* SPDX-License-Identifier: MIT */
/*
 * Every public call of include/ringpool.h under bad input, as one table per
 * group of calls (the tables in api_table_*.c, the fixtures and the runner
 * in api_table_core.c) (SPEC.md §3: "bad input gets a clear error and changes
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
#include "api_table.h"

/* ========================================================================== */
/* Coverage                                                                   */
/* ========================================================================== */

static const struct {
	const struct row *rows;
	const size_t *n;
} tables[] = {
	{ error_rows, &error_nrows },
	{ process_rows, &process_nrows },
	{ pool_rows, &pool_nrows },
	{ submit_rows, &submit_nrows },
	{ result_rows, &result_nrows },
	{ iter_rows, &iter_nrows },
	{ task_rows, &task_nrows },
};

/*
 * The RP_API functions of the public header, read from it (its path comes
 * from meson as RP_PUBLIC_HEADER): a function added there without rows
 * here fails the coverage test.
 */
#define MAX_API 128

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
		for (size_t i = 0; i < *tables[t].n; i++)
			n += strcmp(tables[t].rows[i].func, func) == 0;
	return n;
}

static void coverage(void **state)
{
	static char names[MAX_API][64];
	size_t n = h_header_functions(RP_PUBLIC_HEADER, names, MAX_API), total = 0;
	int missing = 0;

	assert_true(n > 40); /* the parse found the API */
	for (size_t i = 0; i < n; i++) {
		if (rows_for(names[i]) == 0) {
			print_error("no row for %s\n", names[i]);
			missing++;
		}
	}
	for (size_t t = 0; t < N_OF(tables); t++) {
		for (size_t i = 0; i < *tables[t].n; i++) {
			if (!in_header(names, n, tables[t].rows[i].func)) {
				print_error("row for %s, not in the header\n",
					    tables[t].rows[i].func);
				missing++;
			}
		}
		total += *tables[t].n;
	}
	print_message("%zu rows over %zu functions\n", total, n);
	assert_int_equal(missing, 0);
}

/* ---- tests -------------------------------------------------------------- */

static void errors_table(void **state)
{
	run_table("errors", error_rows, error_nrows);
}

static void process_table(void **state)
{
	run_table("process", process_rows, process_nrows);
}

static void pool_table(void **state)
{
	run_table("pool", pool_rows, pool_nrows);
}

static void submit_table(void **state)
{
	run_table("submit", submit_rows, submit_nrows);
}

static void result_table(void **state)
{
	run_table("result", result_rows, result_nrows);
}

static void iter_table(void **state)
{
	run_table("iter", iter_rows, iter_nrows);
}

static void task_table(void **state)
{
	run_table("task", task_rows, task_nrows);
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
