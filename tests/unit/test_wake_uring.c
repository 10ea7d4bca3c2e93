/* SPDX-License-Identifier: MIT */
/*
 * The owner's side waits through io_uring: the compat SQE layouts against
 * the running kernel, the FUTEX_WAIT path and the eventfd fallback with a
 * producer in another process, and timeouts that leave nothing in flight.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <liburing.h>

#include "leak.h"
#include "ring_util.h"
#include "task_state.h"
#include "uring_compat.h"

#define GUARD_NS (120ll * 1000000000)	/* a hang guard, not a timing */
#define ROUNDS 2000

static int futex_op_or_skip(void)
{
	int ret = rp__wake_uring_futex_supported();

	if (ret < 0) {
		print_message("io_uring unavailable (%d): skipped\n", ret);
		skip();
	}
	return ret;
}

static void submit_futex(struct io_uring *ring, bool wake, uint32_t *word,
			 uint32_t val, uint64_t user_data)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	assert_non_null(sqe);
	if (wake)
		rp__uring_prep_futex_wake(sqe, word, val, FUTEX2_SIZE_U32);
	else
		rp__uring_prep_futex_wait(sqe, word, val, FUTEX2_SIZE_U32);
	io_uring_sqe_set_data64(sqe, user_data);
	assert_int_equal(io_uring_submit(ring), 1);
}

/* Our raw SQEs as the kernel reads them: wait, mismatch, wake. */
static void test_compat_futex_sqes(void **state)
{
	uint32_t word = 5;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	int res[3] = { 1, 1, 1 };

	if (!futex_op_or_skip()) {
		print_message("no IORING_OP_FUTEX_WAIT here: skipped\n");
		skip();
	}
	assert_int_equal(io_uring_queue_init(8, &ring, 0), 0);
	submit_futex(&ring, false, &word, 4, 0);
	submit_futex(&ring, false, &word, 5, 1);
	submit_futex(&ring, true, &word, 1, 2);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
		assert_true(cqe->user_data < 3);
		res[cqe->user_data] = cqe->res;
		io_uring_cqe_seen(&ring, cqe);
	}
	assert_int_equal(res[0], -EAGAIN);	/* word != 4 */
	assert_int_equal(res[1], 0);		/* woken */
	assert_int_equal(res[2], 1);		/* woke one */
	io_uring_queue_exit(&ring);
}

/*
 * Child: ROUNDS times, wait for the parent's announcement, then publish.
 * The first record only once the parent (its main thread, the test's) is
 * seen blocked as well: an announced waiter still re-checks and may find
 * the record without sleeping, so only this round makes a sleep certain.
 */
static int feed(struct test_ring *t, pid_t parent)
{
	struct rp_ring_shared *sh = t->shm.addr;

	for (uint64_t i = 0; i < ROUNDS; i++) {
		/* acquire: pairs with the seq_cst store of sleeping in wake.c. */
		while (!atomic_load_explicit(&sh->readable.sleeping, memory_order_acquire))
			__builtin_ia32_pause();
		if (i == 0 && !test_await_blocked(parent, parent, GUARD_NS))
			return 3;
		if (rp__ring_push(&t->prod, 1, &i, 8) < 0)
			return 1;
		rp__ring_publish(&t->prod);
	}
	/*
	 * At most one wake per announcement; fewer when the parent found the
	 * record on its re-check just after announcing (a narrow race).
	 */
	return t->prod.wake.wakeups >= 1 && t->prod.wake.wakeups <= ROUNDS ?
	       0 : 2;
}

static void owner_rounds(bool use_eventfd)
{
	struct test_ring t;
	struct io_uring ring;
	struct rp_ring_rec rec;
	int status, efd = -1;
	pid_t pid, self = getpid();
	uint64_t v;

	assert_int_equal(test_ring_create(&t, 4096, 1), 0);
	assert_int_equal(io_uring_queue_init(8, &ring, 0), 0);
	if (use_eventfd) {
		efd = eventfd(0, EFD_CLOEXEC);
		assert_true(efd >= 0);
		rp__wake_set_eventfds(&t.cons.wake, efd, -1);
		rp__wake_set_eventfds(&t.prod.wake, -1, efd);
	}
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(feed(&t, self));
	for (uint64_t i = 0; i < ROUNDS; i++) {
		int ret = rp__ring_wait_readable_uring(&t.cons, &ring, GUARD_NS);

		if (ret == 0)
			ret = rp__ring_peek(&t.cons, &rec);
		if (ret < 0)
			kill(pid, SIGKILL);
		assert_int_equal(ret, 0);
		memcpy(&v, rec.data, 8);
		assert_int_equal(v, i);
		rp__ring_consume(&t.cons);
		rp__ring_release(&t.cons);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Certain: the child saw us blocked before it published record 0. */
	assert_true(t.cons.wake.sleeps >= 1);
	assert_int_equal(io_uring_cq_ready(&ring), 0);
	io_uring_queue_exit(&ring);
	if (efd >= 0)
		close(efd);
	test_ring_destroy(&t);
}

static void test_owner_wait_futex(void **state)
{
	if (!futex_op_or_skip()) {
		print_message("no IORING_OP_FUTEX_WAIT here: skipped\n");
		skip();
	}
	owner_rounds(false);
}

static void test_owner_wait_eventfd(void **state)
{
	futex_op_or_skip();
	owner_rounds(true);
}

/* A timed-out wait leaves no request behind and the ring reusable. */
static void test_owner_timeout(void **state)
{
	struct test_ring t;
	struct io_uring ring;
	int efd;

	assert_int_equal(test_ring_create(&t, 256, 1), 0);
	assert_int_equal(io_uring_queue_init(4, &ring, 0), 0);
	if (futex_op_or_skip()) {
		assert_int_equal(rp__ring_wait_readable_uring(&t.cons, &ring, 1000000),
				 -ETIMEDOUT);
		assert_int_equal(io_uring_cq_ready(&ring), 0);
	}
	efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	rp__wake_set_eventfds(&t.cons.wake, efd, -1);
	assert_int_equal(rp__ring_wait_readable_uring(&t.cons, &ring, 0),
			 -ETIMEDOUT);
	assert_int_equal(rp__ring_wait_readable_uring(&t.cons, &ring, 1000000),
			 -ETIMEDOUT);
	assert_int_equal(io_uring_cq_ready(&ring), 0);
	assert_int_equal(((struct rp_ring_shared *)t.shm.addr)->readable.sleeping, 0);
	/* Data already there: no sleep, no SQE. */
	assert_int_equal(rp__ring_push(&t.prod, 1, "x", 1), 0);
	rp__ring_publish(&t.prod);
	assert_int_equal(rp__ring_wait_readable_uring(&t.cons, &ring, -1), 0);
	assert_int_equal(io_uring_sq_ready(&ring), 0);
	close(efd);
	io_uring_queue_exit(&ring);
	test_ring_destroy(&t);
}

/* Without the futex opcode and without an eventfd, the wait says so. */
static void test_arm_reports(void **state)
{
	struct test_ring t;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	int ret;

	assert_int_equal(test_ring_create(&t, 256, 1), 0);
	assert_int_equal(io_uring_queue_init(4, &ring, 0), 0);
	t.cons.wake.spin_ns = RP_WAKE_SPIN_MIN_NS;
	ret = rp__wake_uring_arm(&t.cons.wake, &ring, 77, rp__ring_readable,
				 &t.cons);
	if (futex_op_or_skip()) {
		assert_int_equal(ret, 0);
		assert_int_equal(io_uring_submit(&ring), 1);
		assert_int_equal(rp__ring_push(&t.prod, 1, "y", 1), 0);
		rp__ring_publish(&t.prod);
		assert_int_equal(io_uring_wait_cqe(&ring, &cqe), 0);
		assert_int_equal(cqe->user_data, 77);
		rp__wake_uring_done(&t.cons.wake, cqe->res);
		io_uring_cqe_seen(&ring, cqe);
		assert_true(rp__ring_readable(&t.cons));
		assert_int_equal(t.prod.wake.wakeups, 1);
	} else {
		assert_int_equal(ret, -EOPNOTSUPP);
	}
	/* Ready already: nothing is queued. */
	assert_int_equal(rp__wake_uring_arm(&t.cons.wake, &ring, 78,
					    rp__ring_readable, &t.cons), 1);
	assert_int_equal(io_uring_sq_ready(&ring), 0);
	io_uring_queue_exit(&ring);
	test_ring_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_compat_futex_sqes, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_owner_wait_futex, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_owner_wait_eventfd, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_owner_timeout, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_arm_reports, leak_setup, leak_teardown),
	};

	return cmocka_run_group_tests_name("wake_uring", tests, NULL, NULL);
}
