/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the ring and wake unit tests: a ring in a memfd region,
 * a seeded generator both sides of a transfer run in step, and self-checking
 * record payloads (sequence number + checksum).
 */
#ifndef RP_TEST_RING_UTIL_H
#define RP_TEST_RING_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "shm.h"

struct test_ring {
	struct rp_shm shm;
	struct rp_ring_producer prod;
	struct rp_ring_consumer cons;
};

/* A fresh ring of capacity bytes; returns 0 or -errno (nothing to free). */
static inline int test_ring_create(struct test_ring *t, uint32_t capacity,
				   uint16_t kind_max)
{
	int ret = rp__shm_create("rp-test-ring", rp__ring_bytes(capacity),
				 RP_SHM_SEAL, &t->shm);

	if (ret < 0)
		return ret;
	ret = rp__ring_init(t->shm.addr, t->shm.size, capacity);
	if (ret == 0)
		ret = rp__ring_producer_open(t->shm.addr, t->shm.size, &t->prod);
	if (ret == 0)
		ret = rp__ring_consumer_open(t->shm.addr, t->shm.size, kind_max,
					     &t->cons);
	if (ret < 0)
		rp__shm_destroy(&t->shm);
	return ret;
}

static inline void test_ring_destroy(struct test_ring *t)
{
	rp__shm_destroy(&t->shm);
}

/* RP_TEST_SCALE divides the big loop counts (sanitizer builds); default 1. */
static inline uint64_t test_scaled(uint64_t n)
{
	const char *s = getenv("RP_TEST_SCALE");
	unsigned long d = s ? strtoul(s, NULL, 10) : 1;

	return d > 1 ? (n / d ? n / d : 1) : n;
}

/* xorshift64*: the two sides of a transfer draw the same sequence. */
static inline uint64_t test_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Payload length for the next record: mostly small, sometimes large. */
static inline uint32_t test_rand_len(uint64_t *state, uint32_t max_len)
{
	uint64_t r = test_rand(state);
	uint32_t len = (r & 0xfff) == 0 ? 16 + (uint32_t)(r >> 16) % 4096 :
					  16 + (uint32_t)(r >> 16) % 49;

	return len > max_len ? max_len : len;
}

static inline uint64_t test_checksum(const unsigned char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a */

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

/*
 * Fill a payload of len >= 16: seq in the first 8 bytes, a pattern derived
 * from seq, the checksum of everything before it in the last 8.
 */
static inline void test_fill(unsigned char *p, uint32_t len, uint64_t seq)
{
	uint64_t sum;

	memcpy(p, &seq, 8);
	for (uint32_t i = 8; i < len - 8; i++)
		p[i] = (unsigned char)(seq * 31 + i);
	sum = test_checksum(p, len - 8);
	memcpy(p + len - 8, &sum, 8);
}

/* 0 when the payload is test_fill(seq)'s, else which check failed (1..3). */
static inline int test_check(const unsigned char *p, uint32_t len, uint64_t seq)
{
	uint64_t got_seq, sum;

	if (len < 16)
		return 1;
	memcpy(&got_seq, p, 8);
	if (got_seq != seq)
		return 2;
	memcpy(&sum, p + len - 8, 8);
	return sum == test_checksum(p, len - 8) ? 0 : 3;
}

#endif
