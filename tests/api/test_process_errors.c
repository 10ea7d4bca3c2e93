/* SPDX-License-Identifier: MIT */
/*
 * Bad input to the Process API, and the error-code names.  Every refused
 * call must return its documented code and change nothing: ret_* untouched,
 * nothing created (the teardown's leak check), and the object still works
 * normally afterwards.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "ringpool.h"



static int zero_fn(void *arg, size_t len)
{
	return 0;
}

/* A stand-in for ret_proc's previous value; never dereferenced. */
static char sentinel_obj;
#define SENTINEL_PROC ((rp_process_t *)&sentinel_obj)

static void create_refused(const struct rp_process_opts *o)
{
	rp_process_t *p = SENTINEL_PROC;

	assert_int_equal(rp_process_create(o, &p), -EINVAL);
	assert_ptr_equal(p, SENTINEL_PROC);
}

static void create_bad_input(void **state)
{
	static const char bytes[4] = "abc";
	struct rp_process_opts good = { .target = zero_fn };
	struct rp_process_opts o;
	cpu_set_t empty;
	rp_process_t *p;

	create_refused(NULL);

	o = good;
	o.target = NULL;
	create_refused(&o);

	assert_int_equal(rp_process_create(&good, NULL), -EINVAL);

	o = good;
	o.arg = NULL;
	o.arg_len = 4;
	create_refused(&o);

	o = good;
	o.start_method = (enum rp_start_method)(RP_START_FORK + 1);
	create_refused(&o);
	o.start_method = (enum rp_start_method)-1;
	create_refused(&o);
	o.start_method = (enum rp_start_method)INT_MAX;
	create_refused(&o);

	CPU_ZERO(&empty);
	o = good;
	o.cpus = &empty;
	create_refused(&o);

	/* Nothing was created: nothing runs, nothing is listed. */
	assert_int_equal(rp_active_children(NULL, 0), 0);

	/* The same opts, made valid, still work (the default method too). */
	o = good;
	o.arg = bytes;
	o.arg_len = sizeof(bytes);
	p = h_new(&o);
	assert_int_equal(rp_process_start(p), 0);
	assert_int_equal(h_join_code(p), 0);
	h_free(p);
}

/* NULL for every object argument: -EINVAL, and free(NULL) is a no-op. */
static void null_everywhere(void **state)
{
	rp_process_t *p;
	int code = SENTINEL;

	assert_int_equal(rp_process_start(NULL), -EINVAL);
	assert_int_equal(rp_process_join(NULL, 0), -EINVAL);
	assert_int_equal(rp_process_join(NULL, RP_FOREVER), -EINVAL);
	assert_int_equal(rp_process_is_alive(NULL), -EINVAL);
	assert_int_equal(rp_process_exitcode(NULL, &code), -EINVAL);
	assert_int_equal(code, SENTINEL);
	assert_int_equal(rp_process_terminate(NULL), -EINVAL);
	assert_int_equal(rp_process_kill(NULL), -EINVAL);
	assert_int_equal(rp_process_close(NULL), -EINVAL);
	rp_process_free(NULL);
	/* ret_list may be NULL only when cap is 0. */
	assert_int_equal(rp_active_children(NULL, 1), -EINVAL);

	/* exitcode's ret_code: refused before start and after the end. */
	p = h_new_blocker(RP_START_DEFAULT, 0, 4, NULL, false);
	assert_int_equal(rp_process_exitcode(p, NULL), -EINVAL);
	assert_int_equal(rp_process_start(p), 0);
	h_open_gate(0);
	assert_int_equal(rp_process_join(p, H_GUARD_NS), 0);
	assert_int_equal(rp_process_exitcode(p, NULL), -EINVAL);
	assert_int_equal(h_join_code(p), 4);
	h_free(p);
}

static void start_twice(enum rp_start_method m)
{
	rp_process_t *p = h_new_blocker(m, 0, 6, NULL, false);
	pid_t pid;

	assert_int_equal(rp_process_start(p), 0);
	h_wait_ready(0);
	pid = rp_process_pid(p);
	assert_int_equal(rp_process_start(p), -EALREADY);
	/* Still the one child, still running. */
	assert_int_equal(rp_process_pid(p), pid);
	assert_int_equal(rp_process_is_alive(p), 1);
	assert_int_equal(rp_active_children(NULL, 0), 1);

	h_open_gate(0);
	assert_int_equal(h_join_code(p), 6);
	/* Also refused once the child has ended. */
	assert_int_equal(rp_process_start(p), -EALREADY);
	assert_int_equal(rp_process_pid(p), pid);
	assert_int_equal(h_join_code(p), 6);
	h_free(p);
}
BOTH(start_twice)

static void before_start(enum rp_start_method m)
{
	rp_process_t *p = h_new_blocker(m, 0, 8, NULL, false);
	int code = SENTINEL;

	assert_int_equal(rp_process_join(p, 0), -ECHILD);
	assert_int_equal(rp_process_join(p, RP_FOREVER), -ECHILD);
	assert_int_equal(rp_process_terminate(p), -ECHILD);
	assert_int_equal(rp_process_kill(p), -ECHILD);
	assert_int_equal(rp_process_is_alive(p), 0);
	assert_int_equal(rp_process_exitcode(p, &code), 0);
	assert_int_equal(code, SENTINEL);
	assert_int_equal(rp_process_pid(p), 0);

	/* None of that left a signal pending or a state behind. */
	assert_int_equal(rp_process_start(p), 0);
	h_wait_ready(0);
	h_open_gate(0);
	assert_int_equal(h_join_code(p), 8);
	h_free(p);
}
BOTH(before_start)

static void bad_timeout(enum rp_start_method m)
{
	static const int64_t bad[] = { -2, -1000000000, INT64_MIN };
	rp_process_t *p = h_new_blocker(m, 0, 9, NULL, false);
	int code = SENTINEL;

	/* Before start the timeout is still checked or -ECHILD: not 0. */
	assert_true(rp_process_join(p, -2) < 0);
	assert_int_equal(rp_process_start(p), 0);
	h_wait_ready(0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(rp_process_join(p, bad[i]), -EINVAL);
		assert_int_equal(rp_process_is_alive(p), 1);
		assert_int_equal(rp_process_exitcode(p, &code), 0);
		assert_int_equal(code, SENTINEL);
	}
	h_open_gate(0);
	assert_int_equal(rp_process_join(p, RP_FOREVER), 0);
	/* Refused after the end too: the argument is checked first. */
	assert_int_equal(rp_process_join(p, -2), -EINVAL);
	assert_int_equal(rp_process_exitcode(p, &code), 1);
	assert_int_equal(code, 9);
	h_free(p);
}
BOTH(bad_timeout)

static void close_while_running(enum rp_start_method m)
{
	rp_process_t *p = h_new_blocker(m, 0, 11, "busy", false);
	rp_process_t *list[2] = { NULL, NULL };

	assert_int_equal(rp_process_start(p), 0);
	h_wait_ready(0);
	assert_int_equal(rp_process_close(p), -EBUSY);

	/* Nothing changed: the object and its child work as before. */
	assert_int_equal(rp_process_is_alive(p), 1);
	assert_string_equal(rp_process_name(p), "busy");
	assert_int_equal(rp_process_pid(p), h_sh->pid[0]);
	assert_int_equal(rp_active_children(list, 2), 1);
	assert_ptr_equal(list[0], p);
	assert_int_equal(rp_process_join(p, 0), -ETIMEDOUT);
	h_open_gate(0);
	assert_int_equal(h_join_code(p), 11);
	assert_int_equal(h_sh->done[0], 1);

	assert_int_equal(rp_process_close(p), 0);
	h_untrack(p);
}
BOTH(close_while_running)

/* ---- error names ---- */

static void error_names(void **state)
{
	assert_string_equal(rp_err_name(RP_ECLOSED), "RP_ECLOSED");
	assert_string_equal(rp_strerror(RP_ECLOSED),
			    "the pool is closed to new tasks");
	assert_string_equal(rp_err_name(-EINVAL), "EINVAL");
	assert_string_equal(rp_err_name(-ETIMEDOUT), "ETIMEDOUT");
	assert_string_equal(rp_err_name(-ECHILD), "ECHILD");
	assert_non_null(rp_strerror(-EINVAL));
	assert_true(rp_strerror(-EINVAL)[0] != '\0');
	assert_string_not_equal(rp_strerror(-EINVAL), rp_strerror(-EBUSY));

	/* Every library code, from the same table the header declares. */
#define CHECK_CODE(name, text)                                                 \
	assert_string_equal(rp_err_name(RP_E##name), "RP_E" #name);            \
	assert_string_equal(rp_strerror(RP_E##name), text);
	RP_ERRORS(CHECK_CODE)
#undef CHECK_CODE

	/* Unknown codes: "UNKNOWN", and a description that is never NULL. */
	assert_string_equal(rp_err_name(-4096 - RP_NERRORS_), "UNKNOWN");
	assert_string_equal(rp_err_name(-100000), "UNKNOWN");
	assert_string_equal(rp_err_name(12345), "UNKNOWN");
	assert_non_null(rp_strerror(-4096 - RP_NERRORS_));
	assert_non_null(rp_strerror(-100000));
	assert_non_null(rp_strerror(12345));
}

/*
 * The header: the library's codes are "all under -4095", outside the errno
 * range (-1 .. -4095), so no errno can ever be mistaken for one.
 */
static void library_codes_below_errno_range(void **state)
{
#define CHECK_RANGE(name, text)                                                \
	if (RP_E##name >= -4095)                                               \
		fail_msg("RP_E" #name " is %d, not under -4095", RP_E##name);
	RP_ERRORS(CHECK_RANGE)
#undef CHECK_RANGE
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(create_bad_input),
		T(null_everywhere),
		T2(start_twice),
		T2(before_start),
		T2(bad_timeout),
		T2(close_while_running),
		T(error_names),
		T(library_codes_below_errno_range),
	};

	return cmocka_run_group_tests_name("process_errors", tests,
					   h_group_setup, h_group_teardown);
}
