/* SPDX-License-Identifier: MIT */
/*
 * The peer scribbles on the shared memory: every kind of garbage in headers
 * and indices must give -EBADMSG (and keep giving it), never a read outside
 * the ring, a crash or a hang.  The ring sits right before a PROT_NONE page,
 * so a read past its end faults even without ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "leak.h"
#include "ring_util.h"

#define CAP 256u
#define KINDS 4

struct guarded {
	unsigned char *base;
	size_t map_size;
	unsigned char *mem;	/* the ring: ends where the guard page starts */
	struct rp_ring_shared *sh;
	struct rp_ring_producer prod;
	struct rp_ring_consumer cons;
};

static void guarded_open(struct guarded *g, uint32_t cap)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t bytes = rp__ring_bytes(cap);
	size_t pages = (bytes + page - 1) / page * page;

	g->map_size = pages + page;
	g->base = mmap(NULL, g->map_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->base != MAP_FAILED);
	assert_int_equal(mprotect(g->base + pages, page, PROT_NONE), 0);
	g->mem = g->base + pages - bytes;
	g->sh = (struct rp_ring_shared *)(void *)g->mem;
	assert_int_equal(rp__ring_init(g->mem, bytes, cap), 0);
	assert_int_equal(rp__ring_producer_open(g->mem, bytes, &g->prod), 0);
	assert_int_equal(rp__ring_consumer_open(g->mem, bytes, KINDS, &g->cons), 0);
}

static void guarded_close(struct guarded *g)
{
	munmap(g->base, g->map_size);
}

static void push(struct guarded *g, uint16_t kind, uint32_t len)
{
	void *p;

	assert_int_equal(rp__ring_reserve(&g->prod, kind, len, &p), 0);
	memset(p, 0x5a, len);
	assert_int_equal(rp__ring_commit(&g->prod, len), 0);
}

static void drain(struct guarded *g)
{
	struct rp_ring_rec rec;

	while (rp__ring_peek(&g->cons, &rec) == 0)
		rp__ring_consume(&g->cons);
	rp__ring_release(&g->cons);
}

/* Move the empty ring to byte offset off. */
static void advance_to(struct guarded *g, uint32_t off)
{
	while ((g->prod.tail & g->prod.mask) != off) {
		push(g, 1, 0);
		rp__ring_publish(&g->prod);
		drain(g);
	}
}

static void set_hdr(struct guarded *g, uint64_t pos, uint64_t hdr)
{
	memcpy(g->prod.data + pos, &hdr, 8);
}

static uint64_t hdr_of(uint32_t len, uint16_t kind, uint16_t zero)
{
	return len | (uint64_t)kind << 32 | (uint64_t)zero << 48;
}

/* The consumer reports corruption now, again later, and waits don't block. */
static void expect_corrupt(struct guarded *g)
{
	struct rp_ring_rec rec;

	assert_int_equal(rp__ring_peek(&g->cons, &rec), -EBADMSG);
	assert_int_equal(rp__ring_peek(&g->cons, &rec), -EBADMSG);
	assert_int_equal(rp__ring_wait_readable(&g->cons, -1), 0);
	assert_int_equal(rp__ring_peek(&g->cons, &rec), -EBADMSG);
}

/* One published record at position 0 whose header then gets hdr. */
static void header_case(uint64_t hdr)
{
	struct guarded g;

	guarded_open(&g, CAP);
	push(&g, 1, 8);
	push(&g, 2, 8);
	rp__ring_publish(&g.prod);
	set_hdr(&g, 0, hdr);
	expect_corrupt(&g);
	guarded_close(&g);
}

static void test_bad_headers(void **state)
{
	uint32_t max = RP_RING_MAX_PAYLOAD(CAP);

	header_case(hdr_of(8, 0, 0));			/* kind 0 */
	header_case(hdr_of(8, KINDS + 1, 0));		/* unknown kind */
	header_case(hdr_of(8, RP_RING_KIND_MAX, 0));
	header_case(hdr_of(8, 1, 1));			/* reserved bits */
	header_case(hdr_of(8, 1, 0x8000));
	header_case(hdr_of(UINT32_MAX, 1, 0));		/* absurd length */
	header_case(hdr_of(max + 1, 1, 0));		/* over the limit */
	header_case(hdr_of(32, 1, 0));			/* past the tail */
	header_case(hdr_of(CAP - 8, RP_RING_KIND_WRAP, 0)); /* wrap at 0 */
	header_case(UINT64_MAX);
}

/* A header whose record would cross the end although the tail covers it. */
static void test_crosses_end(void **state)
{
	struct guarded g;

	guarded_open(&g, CAP);
	advance_to(&g, 192);
	push(&g, 1, 56);			/* [192, 256): exactly to the end */
	push(&g, 1, 112);			/* [0, 120) */
	rp__ring_publish(&g.prod);
	set_hdr(&g, 192, hdr_of(100, 1, 0));	/* 112 bytes from 192 */
	expect_corrupt(&g);
	guarded_close(&g);
}

/* Wrap markers: only with the exact length, only wholly published. */
static void wrap_case(uint64_t marker, int64_t tail_delta)
{
	struct guarded g;

	guarded_open(&g, CAP);
	advance_to(&g, 192);
	push(&g, 1, 112);			/* marker [192, 256), record at 0 */
	rp__ring_publish(&g.prod);
	if (marker)
		set_hdr(&g, 192, marker);
	if (tail_delta)
		atomic_store_explicit(&g.sh->tail, g.cons.head + (uint64_t)tail_delta,
				 memory_order_release);
	expect_corrupt(&g);
	guarded_close(&g);
}

static void test_bad_wrap(void **state)
{
	wrap_case(hdr_of(48, RP_RING_KIND_WRAP, 0), 0);	/* short */
	wrap_case(hdr_of(64, RP_RING_KIND_WRAP, 0), 0);	/* long */
	wrap_case(hdr_of(0, RP_RING_KIND_WRAP, 0), 0);
	wrap_case(hdr_of(56, RP_RING_KIND_WRAP, 1), 0);	/* reserved bits */
	wrap_case(0, 32);				/* half published */
}

static void tail_case(int64_t delta_from_head)
{
	struct guarded g;

	guarded_open(&g, CAP);
	advance_to(&g, 64);
	atomic_store_explicit(&g.sh->tail, g.cons.head + (uint64_t)delta_from_head,
			 memory_order_release);
	expect_corrupt(&g);
	guarded_close(&g);
}

static void test_bad_tail(void **state)
{
	tail_case(12);				/* misaligned */
	tail_case(4);
	tail_case(CAP + 8);			/* more than a ring ahead */
	tail_case(-8);				/* backwards */
	tail_case(-(int64_t)CAP);
	tail_case(INT64_MAX - 7);
}

static void head_case(int64_t delta_from_tail)
{
	struct guarded g;
	void *p;
	int ret = 0;

	guarded_open(&g, CAP);
	advance_to(&g, 64);
	push(&g, 1, 8);
	rp__ring_publish(&g.prod);
	/* As if the producer had read the true head (64) already. */
	g.prod.head_cache = atomic_load_explicit(&g.sh->head, memory_order_acquire);
	atomic_store_explicit(&g.sh->head, g.prod.tail_pub + (uint64_t)delta_from_tail,
			 memory_order_release);
	/* The producer reads head when it runs out of cached room. */
	for (int i = 0; i < 64 && ret == 0; i++) {
		ret = rp__ring_reserve(&g.prod, 1, 8, &p);
		if (ret == 0)
			assert_int_equal(rp__ring_commit(&g.prod, 8), 0);
	}
	assert_int_equal(ret, -EBADMSG);
	assert_int_equal(rp__ring_reserve(&g.prod, 1, 0, &p), -EBADMSG);
	assert_int_equal(rp__ring_wait_writable(&g.prod, 8, -1), 0);
	guarded_close(&g);
}

static void test_bad_head(void **state)
{
	head_case(4);				/* misaligned */
	head_case(8);				/* past the published tail */
	head_case(-24);				/* behind what was seen */
	head_case(INT64_MIN);
}

static void test_bad_open(void **state)
{
	struct guarded g;
	struct rp_ring_producer p;
	struct rp_ring_consumer c;
	size_t bytes = rp__ring_bytes(CAP);

	guarded_open(&g, CAP);
	g.sh->capacity = CAP * 2;		/* larger than our mapping */
	assert_int_equal(rp__ring_producer_open(g.mem, bytes, &p), -EBADMSG);
	g.sh->capacity = CAP + 8;		/* not a power of two */
	assert_int_equal(rp__ring_consumer_open(g.mem, bytes, 1, &c), -EBADMSG);
	g.sh->capacity = CAP;
	g.sh->version = 2;
	assert_int_equal(rp__ring_consumer_open(g.mem, bytes, 1, &c), -EBADMSG);
	g.sh->version = RP_RING_VERSION;
	atomic_store_explicit(&g.sh->tail, CAP + 8, memory_order_relaxed);
	assert_int_equal(rp__ring_consumer_open(g.mem, bytes, 1, &c), -EBADMSG);
	atomic_store_explicit(&g.sh->tail, 0, memory_order_relaxed);
	assert_int_equal(rp__ring_consumer_open(g.mem, bytes, 1, &c), 0);
	guarded_close(&g);
}

/* Random bytes everywhere: any outcome but a fault or an endless loop. */
static void fuzz_once(uint64_t *rs)
{
	struct guarded g;
	struct rp_ring_rec rec;
	const unsigned char *lo, *hi;
	int ret = 0, n = 0;

	guarded_open(&g, CAP);
	lo = g.cons.data;
	hi = lo + CAP;
	for (uint32_t i = 0; i < CAP; i += 8) {
		uint64_t r = test_rand(rs);

		/* Half plausible headers, half noise. */
		if (r & 1)
			r = hdr_of((uint32_t)(r >> 8) % 160, (uint16_t)(r >> 40) % 6,
				   (r & 0x700) ? 0 : 1);
		memcpy(g.prod.data + i, &r, 8);
	}
	atomic_store_explicit(&g.sh->tail, test_rand(rs) % (2 * CAP), memory_order_release);
	while ((ret = rp__ring_peek(&g.cons, &rec)) == 0) {
		const unsigned char *d = rec.data;

		assert_true(d >= lo + 8 && d + rec.len <= hi);
		rp__ring_consume(&g.cons);
		assert_true(++n <= (int)(CAP / 8));
	}
	assert_true(ret == -EAGAIN || ret == -EBADMSG);
	guarded_close(&g);
}

static void test_fuzz(void **state)
{
	uint64_t rs = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 20000; i++)
		fuzz_once(&rs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bad_headers, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_crosses_end, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_bad_wrap, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_bad_tail, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_bad_head, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_bad_open, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_fuzz, leak_setup, leak_teardown),
	};

	return cmocka_run_group_tests_name("ring_corrupt", tests, NULL, NULL);
}
