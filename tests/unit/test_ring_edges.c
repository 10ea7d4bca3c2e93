/* SPDX-License-Identifier: MIT */
/*
 * Ring edges in one thread: set-up checks, empty and full, exact fits, the
 * size limit, reservations, batch visibility, and wrap-around at every
 * offset of the data area.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "leak.h"
#include "ring_util.h"

#define CAP 256u

static void push_ok(struct test_ring *t, uint16_t kind, uint32_t len,
		    unsigned char fill)
{
	void *p;

	assert_int_equal(rp__ring_reserve(&t->prod, kind, len, &p), 0);
	memset(p, fill, len);
	assert_int_equal(rp__ring_commit(&t->prod, len), 0);
}

static void pop_ok(struct test_ring *t, uint16_t kind, uint32_t len,
		   unsigned char fill)
{
	struct rp_ring_rec rec;
	const unsigned char *b;

	assert_int_equal(rp__ring_peek(&t->cons, &rec), 0);
	assert_int_equal(rec.kind, kind);
	assert_int_equal(rec.len, len);
	b = rec.data;
	for (uint32_t i = 0; i < len; i++)
		assert_int_equal(b[i], fill);
	rp__ring_consume(&t->cons);
}

static void test_init_checks(void **state)
{
	struct rp_shm shm;
	struct rp_ring_producer p;
	struct rp_ring_consumer c;
	unsigned char *mem;

	assert_int_equal(rp__shm_create("t", rp__ring_bytes(4096), 0, &shm), 0);
	mem = shm.addr;
	assert_int_equal(rp__ring_init(mem, shm.size, 100), -EINVAL);
	assert_int_equal(rp__ring_init(mem, shm.size, 32), -EINVAL);
	assert_int_equal(rp__ring_init(mem, shm.size, 8192), -EINVAL);
	assert_int_equal(rp__ring_init(mem + 8, shm.size - 8, 64), -EINVAL);
	assert_int_equal(rp__ring_init(mem, rp__ring_bytes(64) - 1, 64), -EINVAL);
	/* Never initialised: not a ring. */
	assert_int_equal(rp__ring_producer_open(mem, shm.size, &p), -EBADMSG);
	assert_int_equal(rp__ring_init(mem, shm.size, 4096), 0);
	/* Our own mapping is too small for what the header claims. */
	assert_int_equal(rp__ring_consumer_open(mem, rp__ring_bytes(2048), 1, &c),
			 -EBADMSG);
	assert_int_equal(rp__ring_consumer_open(mem, shm.size, 0, &c), -EINVAL);
	assert_int_equal(rp__ring_consumer_open(mem, shm.size, RP_RING_KIND_WRAP,
						&c), -EINVAL);
	assert_int_equal(rp__ring_consumer_open(mem, shm.size, 3, &c), 0);
	assert_int_equal(rp__ring_producer_open(mem, shm.size, &p), 0);
	assert_int_equal(p.max_len, 4096 / 2 - 8);
	rp__shm_destroy(&shm);
}

static void test_empty(void **state)
{
	struct test_ring t;
	struct rp_ring_rec rec;

	assert_int_equal(test_ring_create(&t, CAP, 4), 0);
	assert_int_equal(rp__ring_peek(&t.cons, &rec), -EAGAIN);
	/* Committed but unpublished records are invisible. */
	push_ok(&t, 1, 5, 0xaa);
	assert_int_equal(rp__ring_peek(&t.cons, &rec), -EAGAIN);
	rp__ring_publish(&t.prod);
	pop_ok(&t, 1, 5, 0xaa);
	assert_int_equal(rp__ring_peek(&t.cons, &rec), -EAGAIN);
	rp__ring_release(&t.cons);
	assert_int_equal(rp__ring_peek(&t.cons, &rec), -EAGAIN);
	test_ring_destroy(&t);
}

static void test_full(void **state)
{
	struct test_ring t;
	void *p;
	unsigned int n = 0;

	assert_int_equal(test_ring_create(&t, CAP, 4), 0);
	/* 8-byte payloads take 16 bytes: exactly CAP / 16 fit. */
	while (rp__ring_reserve(&t.prod, 2, 8, &p) == 0) {
		memset(p, (int)n, 8);
		assert_int_equal(rp__ring_commit(&t.prod, 8), 0);
		n++;
	}
	assert_int_equal(n, CAP / 16);
	assert_int_equal(rp__ring_reserve(&t.prod, 2, 0, &p), -ENOBUFS);
	rp__ring_publish(&t.prod);
	/* Consumed but not released: the space is not back yet. */
	pop_ok(&t, 2, 8, 0);
	assert_int_equal(rp__ring_reserve(&t.prod, 2, 8, &p), -ENOBUFS);
	rp__ring_release(&t.cons);
	/* Exactly one record's worth came back: an exact fit. */
	push_ok(&t, 2, 8, 0x55);
	assert_int_equal(rp__ring_reserve(&t.prod, 2, 0, &p), -ENOBUFS);
	rp__ring_publish(&t.prod);
	for (unsigned int i = 1; i < n; i++)
		pop_ok(&t, 2, 8, (unsigned char)i);
	pop_ok(&t, 2, 8, 0x55);
	rp__ring_release(&t.cons);
	test_ring_destroy(&t);
}

static void test_sizes(void **state)
{
	struct test_ring t;
	void *p;
	uint32_t max = RP_RING_MAX_PAYLOAD(CAP);

	assert_int_equal(test_ring_create(&t, CAP, 4), 0);
	assert_int_equal(rp__ring_reserve(&t.prod, 1, max + 1, &p), -EMSGSIZE);
	assert_int_equal(rp__ring_reserve(&t.prod, 1, UINT32_MAX, &p), -EMSGSIZE);
	assert_int_equal(rp__ring_reserve(&t.prod, 0, 8, &p), -EINVAL);
	assert_int_equal(rp__ring_reserve(&t.prod, RP_RING_KIND_WRAP, 8, &p),
			 -EINVAL);
	/* The largest record fits wherever the empty ring stands. */
	for (int i = 0; i < 8; i++) {
		push_ok(&t, 3, max - (uint32_t)i, (unsigned char)i);
		rp__ring_publish(&t.prod);
		pop_ok(&t, 3, max - (uint32_t)i, (unsigned char)i);
		rp__ring_release(&t.cons);
	}
	test_ring_destroy(&t);
}

static void test_reserve_commit(void **state)
{
	struct test_ring t;
	void *p;

	assert_int_equal(test_ring_create(&t, CAP, 4), 0);
	assert_int_equal(rp__ring_commit(&t.prod, 0), -EINVAL);
	assert_int_equal(rp__ring_reserve(&t.prod, 4, 40, &p), 0);
	assert_int_equal(rp__ring_commit(&t.prod, 41), -EINVAL);
	memset(p, 7, 3);
	/* A record may shrink at commit; it then takes only what it uses. */
	assert_int_equal(rp__ring_commit(&t.prod, 3), 0);
	assert_int_equal(rp__ring_commit(&t.prod, 3), -EINVAL);
	assert_int_equal(t.prod.tail, 16);
	assert_int_equal(rp__ring_push(&t.prod, 4, "abcdefghij", 10), 0);
	rp__ring_publish(&t.prod);
	pop_ok(&t, 4, 3, 7);
	{
		struct rp_ring_rec rec;

		assert_int_equal(rp__ring_peek(&t.cons, &rec), 0);
		assert_int_equal(rec.len, 10);
		assert_memory_equal(rec.data, "abcdefghij", 10);
	}
	test_ring_destroy(&t);
}

/* Move an empty ring's head and tail to byte offset off. */
static void advance_to(struct test_ring *t, uint32_t off)
{
	while ((t->prod.tail & t->prod.mask) != off) {
		push_ok(t, 1, 0, 0);
		rp__ring_publish(&t->prod);
		pop_ok(t, 1, 0, 0);
		rp__ring_release(&t->cons);
	}
}

/* One record of len at offset off: where it lands, and what comes back. */
static void check_at(struct test_ring *t, uint32_t off, uint32_t len)
{
	uint64_t cap = t->prod.mask + 1, to_end = cap - off;
	uint64_t size = rp__ring_record_size(len), hdr;
	unsigned char *data = t->prod.data;
	void *p;

	assert_int_equal(rp__ring_reserve(&t->prod, 2, len, &p), 0);
	if (size <= to_end) {
		/* In place, possibly exactly up to the end: no marker. */
		assert_ptr_equal(p, data + off + 8);
	} else {
		assert_ptr_equal(p, data + 8);
		memcpy(&hdr, data + off, 8);
		assert_int_equal(hdr, (to_end - 8) | (uint64_t)RP_RING_KIND_WRAP << 32);
	}
	memset(p, (int)(off + len), len);
	assert_int_equal(rp__ring_commit(&t->prod, len), 0);
	rp__ring_publish(&t->prod);
	pop_ok(t, 2, len, (unsigned char)(off + len));
	rp__ring_release(&t->cons);
	assert_int_equal(t->cons.head, t->prod.tail);
	assert_int_equal((t->prod.tail & t->prod.mask), (off + size) % cap == 0 ?
			 0 : size <= to_end ? off + size : size);
}

static void wrap_all(uint32_t cap)
{
	uint32_t max = RP_RING_MAX_PAYLOAD(cap);
	struct test_ring t;

	assert_int_equal(test_ring_create(&t, cap, 4), 0);
	for (uint32_t off = 0; off < cap; off += 8) {
		for (uint32_t len = 0; len <= max; len++) {
			advance_to(&t, off);
			check_at(&t, off, len);
		}
	}
	test_ring_destroy(&t);
}

static void test_wrap_every_offset(void **state)
{
	wrap_all(64);
	wrap_all(CAP);
}

/* A record that needs a wrap waits for the space the marker takes too. */
static void test_wrap_needs_room(void **state)
{
	struct test_ring t;
	void *p;

	assert_int_equal(test_ring_create(&t, CAP, 4), 0);
	advance_to(&t, 64);
	push_ok(&t, 1, 120, 1);			/* [64, 192) */
	rp__ring_publish(&t.prod);
	/*
	 * 72 bytes would fit in the 128 free, but not before the end: with
	 * the 64-byte marker it needs 136.
	 */
	assert_int_equal(rp__ring_reserve(&t.prod, 1, 64, &p), -ENOBUFS);
	assert_int_equal(t.prod.tail & t.prod.mask, 192);
	pop_ok(&t, 1, 120, 1);
	rp__ring_release(&t.cons);
	assert_int_equal(rp__ring_reserve(&t.prod, 1, 64, &p), 0);
	assert_ptr_equal(p, t.prod.data + 8);
	memset(p, 9, 64);
	assert_int_equal(rp__ring_commit(&t.prod, 64), 0);
	rp__ring_publish(&t.prod);
	pop_ok(&t, 1, 64, 9);
	test_ring_destroy(&t);
}

/* Batches: many records published at once come back in order. */
static void test_batches(void **state)
{
	struct test_ring t;
	uint64_t rs = 42, rc = 42, seq = 0, got = 0;

	assert_int_equal(test_ring_create(&t, 4096, 4), 0);
	for (int round = 0; round < 2000; round++) {
		void *p;
		uint32_t len;
		struct rp_ring_rec rec;
		uint64_t ps = rs;

		/* Batches of 1 to 40 records, cut short when the ring is full. */
		for (int k = 0; k <= round % 40; k++) {
			len = test_rand_len(&ps, t.prod.max_len);
			if (rp__ring_reserve(&t.prod, 1, len, &p) < 0)
				break;
			test_fill(p, len, seq++);
			assert_int_equal(rp__ring_commit(&t.prod, len), 0);
			rs = ps;
		}
		rp__ring_publish(&t.prod);
		while (rp__ring_peek(&t.cons, &rec) == 0) {
			assert_int_equal(rec.len, test_rand_len(&rc, t.cons.max_len));
			assert_int_equal(test_check(rec.data, rec.len, got++), 0);
			rp__ring_consume(&t.cons);
		}
		rp__ring_release(&t.cons);
	}
	assert_int_equal(got, seq);
	assert_true(seq > 10000);
	test_ring_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_checks, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_empty, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_full, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_sizes, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_reserve_commit, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_wrap_every_offset, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_wrap_needs_room, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_batches, leak_setup, leak_teardown),
	};

	return cmocka_run_group_tests_name("ring_edges", tests, NULL, NULL);
}
