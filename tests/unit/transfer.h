/* SPDX-License-Identifier: MIT */
/*
 * A checked transfer through a ring: the producer sends n records of
 * pseudo-random sizes, each carrying its sequence number and a checksum;
 * the consumer regenerates the sizes from the same seed and checks order,
 * length, kind and contents.  Both block through the wake path when the
 * ring is full or empty.  Failures are returned, not asserted, so either
 * side may run in a thread or a child process.
 */
#ifndef RP_TEST_TRANSFER_H
#define RP_TEST_TRANSFER_H

#include "ring_util.h"

#define WAIT_GUARD_NS (120ll * 1000000000)	/* a hang guard, not a timing */
#define KINDS 4

struct transfer {
	struct test_ring *t;
	uint64_t n;
	unsigned int batch;	/* publish (release) every batch records */
	uint64_t seed;
	int err;		/* first failure, reported to the main thread */
};

static inline int transfer_produce(struct transfer *s)
{
	struct rp_ring_producer *p = &s->t->prod;
	uint64_t rs = s->seed;
	void *dst;
	int ret;

	for (uint64_t seq = 0; seq < s->n; seq++) {
		uint32_t len = test_rand_len(&rs, p->max_len);

		while ((ret = rp__ring_reserve(p, 1 + seq % KINDS, len, &dst)) ==
		       -ENOBUFS) {
			rp__ring_publish(p);
			ret = rp__ring_wait_writable(p, len, WAIT_GUARD_NS);
			if (ret < 0)
				return ret;
		}
		if (ret < 0)
			return ret;
		test_fill(dst, len, seq);
		ret = rp__ring_commit(p, len);
		if (ret < 0)
			return ret;
		if ((seq + 1) % s->batch == 0)
			rp__ring_publish(p);
	}
	rp__ring_publish(p);
	return 0;
}

/* Returns 0, a -errno from the ring, or 1..3 from test_check, or 4 (len). */
static inline int transfer_consume(struct transfer *s)
{
	struct rp_ring_consumer *c = &s->t->cons;
	struct rp_ring_rec rec;
	uint64_t rs = s->seed, seq = 0;
	int ret;

	while (seq < s->n) {
		ret = rp__ring_peek(c, &rec);
		if (ret == -EAGAIN) {
			rp__ring_release(c);
			ret = rp__ring_wait_readable(c, WAIT_GUARD_NS);
			if (ret < 0)
				return ret;
			continue;
		}
		if (ret < 0)
			return ret;
		if (rec.len != test_rand_len(&rs, c->max_len) ||
		    rec.kind != 1 + seq % KINDS)
			return 4;
		ret = test_check(rec.data, rec.len, seq);
		if (ret)
			return ret;
		rp__ring_consume(c);
		if (++seq % s->batch == 0)
			rp__ring_release(c);
	}
	rp__ring_release(c);
	return 0;
}

#endif
