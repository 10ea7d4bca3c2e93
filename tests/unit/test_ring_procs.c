/* SPDX-License-Identifier: MIT */
/*
 * The ring between two processes over a memfd mapping: 10^8 records of
 * random sizes (divided by RP_TEST_SCALE in sanitizer builds), each checked
 * for order, length and checksum: nothing lost, duplicated or reordered.
 * The child produces and reports through its exit code; the parent consumes
 * and asserts.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "leak.h"
#include "transfer.h"

static void run(uint32_t capacity, uint64_t n, unsigned int batch)
{
	struct test_ring t;
	struct transfer tr;
	int status, err;
	pid_t pid;

	assert_int_equal(test_ring_create(&t, capacity, KINDS), 0);
	tr = (struct transfer){ &t, n, batch, 0xfeedface ^ n, 0 };
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(transfer_produce(&tr) == 0 ? 0 : 1);
	err = transfer_consume(&tr);
	if (err)
		kill(pid, SIGKILL);	/* it may be blocked on a full ring */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(err, 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	test_ring_destroy(&t);
}

static void test_1e8_records(void **state)
{
	run(1 << 16, test_scaled(100000000), 64);
}

static void test_per_record_small_ring(void **state)
{
	run(1 << 10, test_scaled(2000000), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_1e8_records, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_per_record_small_ring, leak_setup, leak_teardown),
	};

	return cmocka_run_group_tests_name("ring_procs", tests, NULL, NULL);
}
