/* SPDX-License-Identifier: MIT */
/*
 * The ring between two threads (ThreadSanitizer sees both sides here, which
 * it cannot across processes): random sizes, sequence numbers and checksums;
 * batched and per-record publication; a tiny ring that wraps constantly.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "leak.h"
#include "transfer.h"

static void *producer_main(void *arg)
{
	struct transfer *s = arg;

	s->err = transfer_produce(s);
	return NULL;
}

static void run(uint32_t capacity, uint64_t n, unsigned int batch)
{
	struct test_ring t;
	struct transfer prod, cons;
	struct rp_ring_rec rec;
	pthread_t th;

	assert_int_equal(test_ring_create(&t, capacity, KINDS), 0);
	prod = (struct transfer){ &t, n, batch, 0x1234567 + n, 0 };
	cons = prod;
	assert_int_equal(pthread_create(&th, NULL, producer_main, &prod), 0);
	cons.err = transfer_consume(&cons);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(prod.err, 0);
	assert_int_equal(cons.err, 0);
	/* Nothing more than what was sent. */
	assert_int_equal(rp__ring_peek(&t.cons, &rec), -EAGAIN);
	test_ring_destroy(&t);
}

static void test_batched(void **state)
{
	run(1 << 16, test_scaled(4000000), 64);
}

static void test_per_record(void **state)
{
	run(1 << 12, test_scaled(1000000), 1);
}

static void test_tiny_ring(void **state)
{
	/* 256 bytes: most records wrap or fill to the end; max payload 120. */
	run(256, test_scaled(1000000), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batched, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_per_record, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_tiny_ring, leak_setup, leak_teardown),
	};

	return cmocka_run_group_tests_name("ring_threads", tests, NULL, NULL);
}
