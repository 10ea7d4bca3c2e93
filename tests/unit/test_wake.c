/* SPDX-License-Identifier: MIT */
/*
 * Sleeping and waking: no wake syscall while the peer is awake; a sleeping
 * consumer (or a producer blocked on a full ring) is woken every time, in
 * threads and across processes; timeouts end waits.  The waker waits for the
 * sleeper's announcement (an event), never for a time.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "leak.h"
#include "ring_util.h"
#include "task_state.h"

#define GUARD_NS (120ll * 1000000000)	/* a hang guard, not a timing */
#define ROUNDS 3000

/* Spin until the word's waiter announced sleep; false if child ended. */
static bool await_announce(struct rp_wake_word *w, pid_t child)
{
	unsigned long i = 0;

	/* acquire: pairs with the seq_cst store of sleeping in wake.c. */
	while (!atomic_load_explicit(&w->sleeping, memory_order_acquire)) {
		__builtin_ia32_pause();
		if (child > 0 && ++i % (1ul << 20) == 0 &&
		    waitpid(child, NULL, WNOHANG) != 0)
			return false;
	}
	return true;
}

static void test_no_syscall_when_awake(void **state)
{
	struct test_ring t;
	struct rp_ring_rec rec;
	uint64_t x = 0;

	assert_int_equal(test_ring_create(&t, 4096, 1), 0);
	for (int i = 0; i < 10000; i++) {
		assert_int_equal(rp__ring_push(&t.prod, 1, &x, 8), 0);
		rp__ring_publish(&t.prod);
		assert_int_equal(rp__ring_wait_readable(&t.cons, GUARD_NS), 0);
		assert_int_equal(rp__ring_peek(&t.cons, &rec), 0);
		rp__ring_consume(&t.cons);
		rp__ring_release(&t.cons);
	}
	assert_int_equal(t.prod.wake.wakeups, 0);
	assert_int_equal(t.cons.wake.wakeups, 0);
	assert_int_equal(t.cons.wake.sleeps, 0);
	test_ring_destroy(&t);
}

static void test_timeout(void **state)
{
	struct test_ring t;
	void *p;

	assert_int_equal(test_ring_create(&t, 256, 1), 0);
	assert_int_equal(rp__ring_wait_readable(&t.cons, 1000000), -ETIMEDOUT);
	/* At most one sleep: none if a preemption ate the millisecond while
	 * it spun (timing must not decide the test). */
	assert_true(t.cons.wake.sleeps <= 1);
	assert_int_equal(((struct rp_ring_shared *)t.shm.addr)->readable.sleeping, 0);
	/* Full ring: the producer's wait times out the same way. */
	while (rp__ring_reserve(&t.prod, 1, 8, &p) == 0)
		assert_int_equal(rp__ring_commit(&t.prod, 8), 0);
	rp__ring_publish(&t.prod);
	assert_int_equal(rp__ring_wait_writable(&t.prod, 8, 0), -ETIMEDOUT);
	assert_int_equal(rp__ring_wait_readable(&t.cons, 0), 0);
	test_ring_destroy(&t);
}

struct sleeper {
	struct test_ring *t;
	int err;
	_Atomic pid_t tid;	/* the consumer thread, once it runs */
};

/*
 * ROUNDS times: wait (sleeping), then take one record and check it.  The
 * feeder sees this thread blocked in its first wait before it publishes
 * (feed_sleeper), so at least one wait really slept.
 */
static int consume_rounds(struct rp_ring_consumer *c)
{
	struct rp_ring_rec rec;
	uint64_t v;
	int ret;

	for (uint64_t i = 0; i < ROUNDS; i++) {
		ret = rp__ring_wait_readable(c, GUARD_NS);
		if (ret < 0)
			return ret;
		ret = rp__ring_peek(c, &rec);
		if (ret < 0)
			return ret;
		memcpy(&v, rec.data, 8);
		if (v != i)
			return 1;
		rp__ring_consume(c);
		rp__ring_release(c);
	}
	return c->wake.sleeps >= 1 ? 0 : 2;
}

static void *consumer_main(void *arg)
{
	struct sleeper *s = arg;

	/* release: the feeder reads it after our first announcement. */
	atomic_store_explicit(&s->tid, gettid(), memory_order_release);
	s->err = consume_rounds(&s->t->cons);
	return NULL;
}

/*
 * Publish each record only once the consumer announced it sleeps.  The
 * first one only once the consumer (thread *tid of process pid) is seen
 * blocked, too: an announced consumer still re-checks and may find the
 * record without sleeping, so in later rounds a sleep is likely but not
 * certain; in this one it is.
 */
static bool feed_sleeper(struct test_ring *t, pid_t child, pid_t pid,
			 _Atomic pid_t *tid)
{
	struct rp_ring_shared *sh = t->shm.addr;

	for (uint64_t i = 0; i < ROUNDS; i++) {
		if (!await_announce(&sh->readable, child))
			return false;
		/* acquire: pairs with consumer_main's release. */
		if (i == 0 &&
		    !test_await_blocked(pid, atomic_load_explicit(
						     tid, memory_order_acquire),
					GUARD_NS))
			return false;
		if (rp__ring_push(&t->prod, 1, &i, 8) < 0)
			return false;
		rp__ring_publish(&t->prod);
	}
	return true;
}

static void test_wake_sleeping_thread(void **state)
{
	struct test_ring t;
	struct sleeper s = { &t, 0, 0 };
	pthread_t th;

	assert_int_equal(test_ring_create(&t, 4096, 1), 0);
	assert_int_equal(pthread_create(&th, NULL, consumer_main, &s), 0);
	assert_true(feed_sleeper(&t, 0, getpid(), &s.tid));
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(s.err, 0);
	/*
	 * At most one wake per announcement; fewer only when the consumer
	 * found the record on its re-check right after announcing.
	 */
	assert_true(t.prod.wake.wakeups >= 1 && t.prod.wake.wakeups <= ROUNDS);
	test_ring_destroy(&t);
}

static void test_wake_sleeping_process(void **state)
{
	struct test_ring t;
	_Atomic pid_t tid;
	int status;
	bool fed;
	pid_t pid;

	assert_int_equal(test_ring_create(&t, 4096, 1), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(consume_rounds(&t.cons) == 0 ? 0 : 1);
	/* The child is single-threaded: its one thread's id is its pid. */
	atomic_init(&tid, pid);
	fed = feed_sleeper(&t, pid, pid, &tid);
	if (!fed)
		kill(pid, SIGKILL);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(fed);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(t.prod.wake.wakeups >= 1 && t.prod.wake.wakeups <= ROUNDS);
	test_ring_destroy(&t);
}

/* The producer blocks on a full ring; each release wakes it. */
static void *fill_main(void *arg)
{
	struct sleeper *s = arg;
	struct rp_ring_producer *p = &s->t->prod;
	int ret;

	for (uint64_t i = 0; i < ROUNDS + 16; i++) {
		while ((ret = rp__ring_push(p, 1, &i, 8)) == -ENOBUFS) {
			rp__ring_publish(p);
			ret = rp__ring_wait_writable(p, 8, GUARD_NS);
			if (ret < 0)
				break;
		}
		if (ret < 0) {
			s->err = ret;
			return NULL;
		}
	}
	rp__ring_publish(p);
	return NULL;
}

static void test_wake_full_producer(void **state)
{
	struct test_ring t;
	struct sleeper s = { &t, 0, 0 };
	struct rp_ring_shared *sh;
	struct rp_ring_rec rec;
	pthread_t th;
	uint64_t v;

	/* 256 bytes hold 16 records of 16 bytes. */
	assert_int_equal(test_ring_create(&t, 256, 1), 0);
	sh = t.shm.addr;
	assert_int_equal(pthread_create(&th, NULL, fill_main, &s), 0);
	for (uint64_t i = 0; i < ROUNDS; i++) {
		assert_true(await_announce(&sh->writable, 0));
		assert_int_equal(rp__ring_wait_readable(&t.cons, GUARD_NS), 0);
		assert_int_equal(rp__ring_peek(&t.cons, &rec), 0);
		memcpy(&v, rec.data, 8);
		assert_int_equal(v, i);
		rp__ring_consume(&t.cons);
		rp__ring_release(&t.cons);
	}
	for (uint64_t i = ROUNDS; i < ROUNDS + 16; i++) {
		assert_int_equal(rp__ring_wait_readable(&t.cons, GUARD_NS), 0);
		assert_int_equal(rp__ring_peek(&t.cons, &rec), 0);
		memcpy(&v, rec.data, 8);
		assert_int_equal(v, i);
		rp__ring_consume(&t.cons);
		rp__ring_release(&t.cons);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(s.err, 0);
	assert_true(t.cons.wake.wakeups >= 1 && t.cons.wake.wakeups <= ROUNDS);
	test_ring_destroy(&t);
}

/*
 * Free-running ping-pong, both sides waiting: races between announce and
 * publish happen naturally here; a lost wakeup would hit the guard.
 */
struct pong {
	struct test_ring *ab, *ba;
	uint64_t n;
	bool combined;	/* the echo side as a worker: rp__ring_release_publish */
	int err;
};

static int echo(struct rp_ring_consumer *in, struct rp_ring_producer *out,
		uint64_t n, bool combined)
{
	struct rp_ring_rec rec;
	int ret;

	for (uint64_t i = 0; i < n; i++) {
		ret = rp__ring_wait_readable(in, GUARD_NS);
		if (ret == 0)
			ret = rp__ring_peek(in, &rec);
		if (ret == 0)
			ret = rp__ring_push(out, 1, rec.data, rec.len);
		if (ret < 0)
			return ret;
		rp__ring_consume(in);
		if (combined) {
			rp__ring_release_publish(in, out);
			continue;
		}
		rp__ring_release(in);
		rp__ring_publish(out);
	}
	return 0;
}

static void *echo_main(void *arg)
{
	struct pong *p = arg;

	p->err = echo(&p->ab->cons, &p->ba->prod, p->n, p->combined);
	return NULL;
}

/* symmetric: every wake as the pool sets its rings (workers.c). */
static void pingpong(bool combined, bool symmetric)
{
	struct test_ring ab, ba;
	struct pong pg = { &ab, &ba, test_scaled(200000), combined, 0 };
	struct rp_ring_rec rec;
	pthread_t th;
	uint64_t v;

	assert_int_equal(test_ring_create(&ab, 4096, 1), 0);
	assert_int_equal(test_ring_create(&ba, 4096, 1), 0);
	if (symmetric) {
		rp__wake_set_symmetric(&ab.prod.wake);
		rp__wake_set_symmetric(&ab.cons.wake);
		rp__wake_set_symmetric(&ba.prod.wake);
		rp__wake_set_symmetric(&ba.cons.wake);
	}
	/* Short spins make both sides sleep often. */
	ab.cons.wake.spin_ns = ba.cons.wake.spin_ns = RP_WAKE_SPIN_MIN_NS;
	assert_int_equal(pthread_create(&th, NULL, echo_main, &pg), 0);
	for (uint64_t i = 0; i < pg.n; i++) {
		assert_int_equal(rp__ring_push(&ab.prod, 1, &i, 8), 0);
		rp__ring_publish(&ab.prod);
		assert_int_equal(rp__ring_wait_readable(&ba.cons, GUARD_NS), 0);
		assert_int_equal(rp__ring_peek(&ba.cons, &rec), 0);
		memcpy(&v, rec.data, 8);
		assert_int_equal(v, i);
		rp__ring_consume(&ba.cons);
		rp__ring_release(&ba.cons);
	}
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(pg.err, 0);
	test_ring_destroy(&ab);
	test_ring_destroy(&ba);
}

static void test_pingpong_both_wait(void **state)
{
	pingpong(false, false);
}

static void test_pingpong_symmetric(void **state)
{
	pingpong(false, true);
}

/* One fence for the release and the publication (a worker's way). */
static void test_pingpong_release_publish(void **state)
{
	pingpong(true, false);
}

static void test_pingpong_release_publish_symmetric(void **state)
{
	pingpong(true, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_syscall_when_awake, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_timeout, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_wake_sleeping_thread, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_wake_sleeping_process, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_wake_full_producer, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_pingpong_both_wait, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_pingpong_symmetric, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_pingpong_release_publish, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_pingpong_release_publish_symmetric, leak_setup, leak_teardown),
	};

	return cmocka_run_group_tests_name("wake", tests, NULL, NULL);
}
