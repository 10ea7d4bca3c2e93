/* SPDX-License-Identifier: MIT */
/*
 * A crash report names the function that faulted, from the symbol table,
 * in a program linked without -rdynamic: the fault is in a static function
 * of this program, which no dynamic symbol table lists.  With debug info
 * it also names this file and line.  Each frame of the backtrace appears
 * once.
 *
 * The build says what it has: RP_HAVE_LIBDW (the library names frames
 * with libdw; without it, only dladdr, which needs -rdynamic) and
 * RP_TEST_DEBUG_INFO (this file was built with -g), both from
 * tests/api/meson.build.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "pool_harness.h"
#include "ringpool.h"

/* What the message must name (the functions below). */
#define FAULT_FN "crash_names_fault"
#define THIS_FILE "test_pool_crash_names.c"

/* Page 0 is never mapped.  Read at run time (volatile), so that the
 * compiler neither turns the store into a trap nor makes a clone of the
 * function for a constant argument (crash_names_fault.constprop.0). */
static volatile uintptr_t bad_address = 16;

/*
 * Stores through a pointer that maps nothing.  noinline and the volatile
 * store keep the function and its fault: it must be its own frame, the
 * innermost one.
 */
__attribute__((noinline)) static int crash_names_fault(volatile int *p)
{
	*p = 1;
	return *p;
}

static int crash_names_task(const void *arg, size_t len, void *res,
			    size_t cap, rp_task_ctx_t *ctx)
{
	int r = crash_names_fault((volatile int *)bad_address);

	/* Not a tail call: this frame stays on the stack below the fault. */
	return r + 1;
}

static void crash(struct rp_error *e)
{
	rp_pool_t *pool = p_pool_n(1);

	memset(e, 0, sizeof(*e));
	assert_int_equal(rp_apply(pool, crash_names_task, NULL, 0, NULL, 0,
				  NULL, e),
			 RP_EWORKER_DIED);
	p_destroy(pool);
	print_message("# message: %s\n", e->message);
}

/* Whether pc lies in the code of the function at start (its first
 * bytes: these functions are small). */
static bool in_function(uint64_t pc, uintptr_t start)
{
	return pc >= start && pc < (uint64_t)start + 512;
}

/* The signal, and each frame once, innermost first: the fault, then the
 * task that called it. */
static void crash_frames_once(void **state)
{
	struct rp_error e;

	crash(&e);
	assert_int_equal(e.signal, SIGSEGV);
	assert_true(e.backtrace_len >= 2 &&
		    e.backtrace_len <= RP_BACKTRACE_MAX);
	if (e.backtrace[0] == e.backtrace[1])
		fail_msg("frames 0 and 1 are the same address, %#llx",
			 (unsigned long long)e.backtrace[0]);
	assert_true(in_function(e.backtrace[0], (uintptr_t)crash_names_fault));
	assert_true(in_function(e.backtrace[1], (uintptr_t)crash_names_task));
}

/* The static function's name, though this program exports no symbols. */
static void crash_names_static_function(void **state)
{
	char want[RP_ERROR_MESSAGE_MAX];
	struct rp_error e;

#if !RP_HAVE_LIBDW
	print_message("# skip: built without libdw, the library names frames "
		      "with dladdr, which needs -rdynamic\n");
	skip();
#endif
	crash(&e);
	/* The start users match is kept, the name follows. */
	snprintf(want, sizeof(want),
		 "worker %d killed by signal %d (%s) in " FAULT_FN "+0x",
		 (int)e.worker_pid, SIGSEGV, strsignal(SIGSEGV));
	if (strncmp(e.message, want, strlen(want)) != 0)
		fail_msg("message does not start \"%s\": \"%s\"", want,
			 e.message);
}

/* With -g: the file and line too. */
static void crash_names_file(void **state)
{
	struct rp_error e;

#if !RP_HAVE_LIBDW
	print_message("# skip: built without libdw, no line info\n");
	skip();
#endif
#if !RP_TEST_DEBUG_INFO
	print_message("# skip: this test was built without -g\n");
	skip();
#endif
	crash(&e);
	if (!strstr(e.message, "(" THIS_FILE ":"))
		fail_msg("message does not name " THIS_FILE ": \"%s\"",
			 e.message);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		P_T(crash_frames_once),
		P_T(crash_names_static_function),
		P_T(crash_names_file),
	};

	return cmocka_run_group_tests_name("pool_crash_names", tests,
					   p_group_setup, p_group_teardown);
}
