/* SPDX-License-Identifier: MIT */
/*
 * Seed 000 (a tutorial on Python's multiprocessing), its Process examples
 * ported: "addition" processes named Addition, Addition1 and Addition2,
 * start, current_process().name, cpu_count, active_children, join with and
 * without a timeout, terminate and kill.
 *
 * The seed's time.sleep(3) inside addition() becomes a futex gate the test
 * opens, and its sleeps in the main process become waits on the children's
 * "ready" reports: nothing here sleeps or looks at a clock.  The sum comes
 * back both as the exit code and through the shared page.  Every example
 * runs under both start methods (the seed's fork and spawn runs; forkserver
 * stands in for spawn).
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


/* Python: def addition(a, b): time.sleep(3); log(a + b) */
struct addition_args {
	int a, b;
	int slot;
};

static int addition(void *arg, size_t len)
{
	struct addition_args x;

	if (!arg || len != sizeof(x))
		return 98;
	memcpy(&x, arg, sizeof(x));
	/* ready also records current_process().name, pid and parent. */
	if (h_child_block(x.slot) < 0)
		return H_EXIT_GUARD;
	h_sh->val[x.slot] = x.a + x.b;
	return x.a + x.b;
}

/* Process(target=addition, args=(a, b), name=name) */
static rp_process_t *new_addition(enum rp_start_method m, int a, int b,
				  int slot, const char *name)
{
	struct addition_args x = { .a = a, .b = b, .slot = slot };
	struct rp_process_opts o = {
		.target = addition,
		.arg = &x,
		.arg_len = sizeof(x),
		.name = name,
		.start_method = m,
	};

	return h_new(&o);
}

/*
 * Example 1: one "Addition" process.  The main process logs its end time
 * before the sum is logged: start() returns while addition() still waits.
 */
static void seed_process_constructor(enum rp_start_method m)
{
	rp_process_t *p = new_addition(m, 10, 20, 0, "Addition");

	assert_int_equal(rp_process_start(p), 0);
	/* "End Time" is logged here: the child has not added yet. */
	h_wait_ready(0);
	assert_int_equal(h_sh->val[0], 0);
	assert_string_equal(h_sh->text[0], "Addition");

	h_open_gate(0);
	assert_int_equal(h_join_code(p), 30);
	assert_int_equal(h_sh->val[0], 30);
	h_free(p);
}
BOTH(seed_process_constructor)

/* Example 2: Addition(10, 20, "Addition1") and Addition(20, 20, ...2). */
static void seed_two_additions(enum rp_start_method m)
{
	rp_process_t *p1 = new_addition(m, 10, 20, 0, "Addition1");
	rp_process_t *p2 = new_addition(m, 20, 20, 1, "Addition2");

	/* Created, not started: nothing runs yet. */
	assert_int_equal(rp_process_is_alive(p1), 0);
	assert_int_equal(rp_active_children(NULL, 0), 0);

	assert_int_equal(rp_process_start(p1), 0);
	assert_int_equal(rp_process_start(p2), 0);
	h_wait_ready(0);
	h_wait_ready(1);
	assert_string_equal(h_sh->text[0], "Addition1");
	assert_string_equal(h_sh->text[1], "Addition2");

	h_open_gate(0);
	h_open_gate(1);
	assert_int_equal(h_join_code(p1), 30);
	assert_int_equal(h_join_code(p2), 40);
	assert_int_equal(h_sh->val[0], 30);
	assert_int_equal(h_sh->val[1], 40);
	h_free(p1);
	h_free(p2);
}
BOTH(seed_two_additions)

/*
 * Examples 3.1/3.2: cpu_count, the main process's name, each child's name,
 * pid and parent, and active_children listing both, alive.
 */
static void seed_attributes(enum rp_start_method m)
{
	rp_process_t *p1 = new_addition(m, 10, 20, 0, "Addition1");
	rp_process_t *p2 = new_addition(m, 20, 30, 1, "Addition2");
	rp_process_t *children[4] = { NULL };
	cpu_set_t set;
	int n;

	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	assert_int_equal(rp_cpu_count(), CPU_COUNT(&set));

	assert_int_equal(rp_process_start(p1), 0);
	assert_int_equal(rp_process_start(p2), 0);

	/* main_process = current_process() */
	assert_string_equal(rp_current_process_name(), "MainProcess");

	h_wait_ready(0);
	h_wait_ready(1);
	/* Inside addition(): current_process() and parent_process(). */
	assert_string_equal(h_sh->text[0], "Addition1");
	assert_string_equal(h_sh->text[1], "Addition2");
	assert_int_equal(h_sh->pid[0], rp_process_pid(p1));
	assert_int_equal(h_sh->pid[1], rp_process_pid(p2));
	assert_int_equal(h_sh->ppid[0], getpid());
	assert_int_equal(h_sh->ppid[1], getpid());
	assert_false(rp_process_daemon(p1));
	assert_false(rp_process_daemon(p2));

	/* children = active_children(); each is_alive() */
	n = rp_active_children(children, 4);
	assert_int_equal(n, 2);
	for (int i = 0; i < n; i++) {
		assert_true(children[i] == p1 || children[i] == p2);
		assert_int_equal(rp_process_is_alive(children[i]), 1);
	}
	assert_ptr_not_equal(children[0], children[1]);

	h_open_gate(0);
	h_open_gate(1);
	assert_int_equal(h_join_code(p1), 30);
	assert_int_equal(h_join_code(p2), 50);
	h_free(p1);
	h_free(p2);
}
BOTH(seed_attributes)

/* Example 4.1: join() both, then no active children, then close(). */
static void seed_join_forever(enum rp_start_method m)
{
	rp_process_t *p1 = new_addition(m, 10, 20, 0, "Addition1");
	rp_process_t *p2 = new_addition(m, 20, 30, 1, "Addition2");
	int code;

	assert_int_equal(rp_process_start(p1), 0);
	assert_int_equal(rp_process_start(p2), 0);
	h_open_gate(0);
	h_open_gate(1);
	assert_int_equal(rp_process_join(p1, RP_FOREVER), 0);
	assert_int_equal(rp_process_join(p2, RP_FOREVER), 0);

	assert_int_equal(rp_active_children(NULL, 0), 0);
	assert_int_equal(rp_process_is_alive(p1), 0);
	assert_int_equal(rp_process_exitcode(p1, &code), 1);
	assert_int_equal(code, 30);
	assert_int_equal(rp_process_exitcode(p2, &code), 1);
	assert_int_equal(code, 50);
	assert_string_equal(h_sh->text[0], "Addition1");
	assert_string_equal(h_sh->text[1], "Addition2");

	assert_int_equal(rp_process_close(p1), 0);
	h_untrack(p1);
	assert_int_equal(rp_process_close(p2), 0);
	h_untrack(p2);
}
BOTH(seed_join_forever)

/*
 * Example 4.2: join(1) on both while addition() still runs: both alive,
 * both listed, exitcode None.
 */
static void seed_join_timeout(enum rp_start_method m)
{
	rp_process_t *p[2] = {
		new_addition(m, 10, 20, 0, "Addition1"),
		new_addition(m, 20, 30, 1, "Addition2"),
	};
	rp_process_t *children[4] = { NULL };
	int code = INT_MIN;

	assert_int_equal(rp_process_start(p[0]), 0);
	assert_int_equal(rp_process_start(p[1]), 0);
	h_wait_ready(0);
	h_wait_ready(1);
	assert_int_equal(rp_process_join(p[0], 10 * 1000000), -ETIMEDOUT);
	assert_int_equal(rp_process_join(p[1], 10 * 1000000), -ETIMEDOUT);

	assert_int_equal(rp_active_children(children, 4), 2);
	for (int i = 0; i < 2; i++) {
		assert_true(children[i] == p[0] || children[i] == p[1]);
		assert_int_equal(rp_process_is_alive(children[i]), 1);
		assert_int_equal(rp_process_exitcode(children[i], &code), 0);
		assert_int_equal(code, INT_MIN);
	}

	/* The seed's children then finish on their own. */
	h_open_gate(0);
	h_open_gate(1);
	assert_int_equal(h_join_code(p[0]), 30);
	assert_int_equal(h_join_code(p[1]), 50);
	h_free(p[0]);
	h_free(p[1]);
}
BOTH(seed_join_timeout)

/*
 * Examples 5.1/5.2: for each active child that is alive, terminate() (or
 * kill()); then every exitcode is -15 (or -9).
 */
static void seed_stop_active(enum rp_start_method m, bool kill)
{
	rp_process_t *p1 = new_addition(m, 10, 20, 0, "Addition1");
	rp_process_t *p2 = new_addition(m, 20, 30, 1, "Addition2");
	rp_process_t *children[4] = { NULL };
	int want = kill ? -9 : -15;
	int n;

	assert_int_equal(rp_process_start(p1), 0);
	assert_int_equal(rp_process_start(p2), 0);
	/* time.sleep(1) becomes: both children are inside addition(). */
	h_wait_ready(0);
	h_wait_ready(1);

	n = rp_active_children(children, 4);
	assert_int_equal(n, 2);
	for (int i = 0; i < n; i++) {
		assert_int_equal(rp_process_is_alive(children[i]), 1);
		assert_int_equal(kill ? rp_process_kill(children[i])
				      : rp_process_terminate(children[i]),
				 0);
	}
	/* time.sleep(1) becomes a join. */
	for (int i = 0; i < n; i++)
		assert_int_equal(h_join_code(children[i]), want);
	assert_int_equal(h_sh->done[0], 0);
	assert_int_equal(h_sh->done[1], 0);
	assert_int_equal(h_sh->val[0], 0);
	assert_int_equal(h_sh->val[1], 0);
	assert_int_equal(rp_active_children(NULL, 0), 0);
	h_free(p1);
	h_free(p2);
}

static void seed_terminate(enum rp_start_method m)
{
	seed_stop_active(m, false);
}
BOTH(seed_terminate)

static void seed_kill(enum rp_start_method m)
{
	seed_stop_active(m, true);
}
BOTH(seed_kill)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T2(seed_process_constructor),
		T2(seed_two_additions),
		T2(seed_attributes),
		T2(seed_join_forever),
		T2(seed_join_timeout),
		T2(seed_terminate),
		T2(seed_kill),
	};

	return cmocka_run_group_tests_name("seed000_process", tests,
					   h_group_setup, h_group_teardown);
}
