/* SPDX-License-Identifier: MIT */
/*
 * SPSC byte ring over shared memory: one producer process, one consumer
 * process, variable-length records.
 *
 * Design and invariants
 *
 * - Layout: struct rp_ring_shared (five cache lines) followed by a data area
 *   of `capacity` bytes, a power of two.  The shared part holds fixed-width
 *   integers only, never pointers: each process maps it where it likes.
 * - head and tail are free-running 64-bit byte counters (they do not wrap in
 *   practice); a byte's position is index & (capacity - 1).  Always:
 *   head <= tail, tail - head <= capacity, both multiples of 8.
 * - Who writes what: the producer writes tail (its own line) and the bytes in
 *   [tail, head + capacity); the consumer writes head (its own line) and
 *   nothing in the data area.  Line 0 is written once by rp__ring_init().
 *   Each side keeps a private cached copy of the other's index and reads the
 *   shared one only when the cache says full (producer) or empty (consumer).
 * - A record is an 8-byte header {u32 len, u16 kind, u16 zero} and len
 *   payload bytes, padded to a multiple of 8.  A record never crosses the
 *   end of the data area: where it would, the producer fills the rest with a
 *   wrap marker (kind RP_RING_KIND_WRAP, len = bytes to the end - 8) and
 *   starts the record at position 0.  A record that exactly reaches the end
 *   needs no marker.
 * - Batching: records written since the last publish are private to the
 *   producer; rp__ring_publish() makes all of them visible with one store of
 *   tail.  The consumer reads as many as it likes and gives their space
 *   back with one store of head: in rp__ring_release(), or when a peek has
 *   used up the batch it knew of and looks for more (so a consumer that
 *   never runs dry still hands space back once per batch).
 *   rp__ring_publish_quiet() stores tail without the wake handshake, for
 *   records that must be in shared memory now but not seen at once; the
 *   next publish then owes the handshake (wake_owed) even if it has
 *   nothing new to show.
 * - Ordering: the tail store is a release store (a seq_cst exchange in the
 *   symmetric wake mode, see wake.h) and pairs with the consumer's acquire
 *   load of tail; likewise the head store pairs with the producer's acquire
 *   load of head before it reuses the space.
 * - Speed: reading records is a chain of dependent loads (each header gives
 *   the next address) from lines the producer has just written; the
 *   consumer prefetches published lines ahead so that their transfers
 *   overlap.  rp__ring_push() writes a small record with one 16-byte store:
 *   the producer's store buffer bounds how many lines it can win back from
 *   the consumer at once, so fewer stores per record is faster.
 * - Trust: each side treats the shared memory as input from an untrusted
 *   process.  Capacity and limits are copied into the private handle at
 *   open and never re-read; every index read from the peer is checked
 *   (alignment, range, monotonic); every header is read once, with one
 *   64-bit load, into a local and checked (kind, length, bounds, the wrap
 *   marker's exact length) before anything else is read.  A violation is
 *   -EBADMSG, and sticky: the handle refuses all later work.  Payload bytes
 *   stay in shared memory and may change under the reader; parse a copy.
 * - Size rule: a record (header + payload, padded) may take at most half the
 *   ring, so it always fits once the ring drains, wrap marker included:
 *   payload <= capacity / 2 - 8 (RP_RING_MAX_PAYLOAD); more is -EMSGSIZE.
 *
 * The hot path is inline here; open, wrap, refresh and error paths are in
 * ring.c.  head and tail are RP_ATOMIC (see wake.h): _Atomic in C, read and
 * written with <stdatomic.h>.  Record headers in the data area are plain
 * bytes, read with GCC's __atomic builtin (one 64-bit load).
 */
#ifndef RP_RING_H
#define RP_RING_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wake.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RP_RING_MAGIC		0x47525052u	/* "RPRG" */
#define RP_RING_VERSION		1u
#define RP_RING_MIN_CAPACITY	64u
#define RP_RING_MAX_CAPACITY	(1u << 30)
#define RP_RING_HDR		8u		/* record header bytes */
#define RP_RING_KIND_WRAP	0xffffu		/* reserved: wrap marker */
#define RP_RING_KIND_MAX	0xfffeu		/* largest user kind */
#define RP_RING_MAX_PAYLOAD(cap) ((uint32_t)((cap) / 2 - RP_RING_HDR))
/* The consumer touches published lines this far ahead of the one it reads. */
#define RP_RING_PREFETCH_AHEAD	1024u

struct rp_ring_shared {
	/* Line 0: written once by rp__ring_init(), checked at open. */
	uint32_t magic;
	uint32_t version;
	uint64_t capacity;
	uint8_t pad0[48];
	/* Line 1: written by the producer only. */
	RP_ATOMIC(uint64_t) tail;
	uint8_t pad1[56];
	/* Line 2: written by the consumer only. */
	RP_ATOMIC(uint64_t) head;
	uint8_t pad2[56];
	/* Line 3: the consumer sleeps here, the producer wakes it. */
	struct rp_wake_word readable;
	/* Line 4: the producer sleeps here (ring full), the consumer wakes it. */
	struct rp_wake_word writable;
	/* The data area follows, 64-byte aligned. */
};

static_assert(sizeof(struct rp_ring_shared) == 320, "ring header size");
static_assert(offsetof(struct rp_ring_shared, tail) == 64, "tail line");
static_assert(offsetof(struct rp_ring_shared, head) == 128, "head line");
static_assert(offsetof(struct rp_ring_shared, readable) == 192, "wake line");
static_assert(offsetof(struct rp_ring_shared, writable) == 256, "wake line");
static_assert(sizeof(RP_ATOMIC(uint64_t)) == 8, "atomic u64 is plain size");

/* Private producer handle: plain fields, touched by one thread only. */
struct rp_ring_producer {
	struct rp_ring_shared *sh;
	unsigned char *data;
	uint64_t mask;		/* capacity - 1 */
	uint64_t tail;		/* end of what was written (committed) */
	uint64_t tail_pub;	/* what the consumer was last shown */
	uint64_t head_cache;	/* last checked value of the consumer's head */
	uint64_t resv_hdr;	/* header of the reservation at tail, 0: none */
	uint32_t max_len;	/* largest payload, RP_RING_MAX_PAYLOAD */
	int err;		/* 0, or the sticky -EBADMSG */
	bool wake_owed;		/* shown quietly, handshake still to do */
	struct rp_wake wake;	/* waits on writable, wakes readable */
};

/* Private consumer handle. */
struct rp_ring_consumer {
	struct rp_ring_shared *sh;
	const unsigned char *data;
	uint64_t mask;
	uint64_t head;		/* start of the first unconsumed record */
	uint64_t head_pub;	/* what the producer was last shown */
	uint64_t tail_cache;	/* last checked value of the producer's tail */
	uint64_t next;		/* head after the record peeked last */
	uint32_t max_len;
	uint16_t kind_max;	/* valid kinds: 1 .. kind_max */
	int err;
	struct rp_wake wake;	/* waits on readable, wakes writable */
};

/* A record seen by the consumer; data valid as rp__ring_peek() says. */
struct rp_ring_rec {
	const void *data;
	uint32_t len;
	uint16_t kind;
};

/* Bytes to map for a ring of capacity data bytes. */
static inline size_t rp__ring_bytes(uint32_t capacity)
{
	return sizeof(struct rp_ring_shared) + capacity;
}

/* Bytes a record takes in the ring: header plus payload, padded to 8. */
static inline uint64_t rp__ring_record_size(uint32_t len)
{
	return ((uint64_t)len + RP_RING_HDR + 7) & ~(uint64_t)7;
}

/* A header as stored: one little 64-bit word, {len, kind, 0}. */
static inline uint64_t rp__ring_header(uint16_t kind, uint32_t len)
{
	return (uint64_t)len | (uint64_t)kind << 32;
}

/*
 * rp__ring_init - lay out an empty ring in mem (64-byte aligned, bytes long).
 * Only before either side opens it, or after both closed it.
 * Returns 0 or -EINVAL (capacity not a power of two within
 * [RP_RING_MIN_CAPACITY, RP_RING_MAX_CAPACITY], bytes too small, mem not
 * aligned).
 */
int rp__ring_init(void *mem, size_t bytes, uint32_t capacity);

/*
 * rp__ring_producer_open / rp__ring_consumer_open - attach a private handle
 * to the ring in mem, bytes long (the caller's own, trusted, mapping size).
 * The consumer accepts kinds 1 .. kind_max (kind_max <= RP_RING_KIND_MAX).
 * Returns 0, -EINVAL (bad arguments), -EBADMSG (the shared header or the
 * indices are not a valid ring).  ret_* written only on success; handles
 * own nothing and need no close.
 */
int rp__ring_producer_open(void *mem, size_t bytes,
			   struct rp_ring_producer *ret_prod);
int rp__ring_consumer_open(void *mem, size_t bytes, uint16_t kind_max,
			   struct rp_ring_consumer *ret_cons);

int rp__ring_reserve_slow(struct rp_ring_producer *p, uint16_t kind,
			  uint32_t len, void **ret_ptr);
int rp__ring_push_slow(struct rp_ring_producer *p, uint16_t kind,
		       const void *buf, uint32_t len);

/* True when a record of size fits at tail without a wrap or a head refresh. */
static inline bool rp__ring_fits(const struct rp_ring_producer *p,
				 uint64_t size)
{
	uint64_t pos = p->tail & p->mask;

	return size <= p->mask + 1 - pos &&
	       p->tail + size - p->head_cache <= p->mask + 1;
}
int rp__ring_peek_refill(struct rp_ring_consumer *c,
			 struct rp_ring_rec *ret_rec);
int rp__ring_peek_odd(struct rp_ring_consumer *c, uint64_t hdr,
		      struct rp_ring_rec *ret_rec);

/*
 * rp__ring_reserve - room for one record of kind (1 .. RP_RING_KIND_MAX)
 * with up to len payload bytes; *ret_ptr is where to write the payload, in
 * place.  Finish with rp__ring_commit(); one reservation at a time.
 * Returns 0, -ENOBUFS (full now: publish, let the consumer drain, retry),
 * -EMSGSIZE (len > RP_RING_MAX_PAYLOAD: never fits), -EINVAL (bad kind),
 * -EBADMSG (the consumer's head is corrupt).
 */
static inline int rp__ring_reserve(struct rp_ring_producer *p, uint16_t kind,
				   uint32_t len, void **ret_ptr)
{
	/* Fast path: fits before the end and within the cached free space. */
	if (RP_UNLIKELY(len > p->max_len ||
			!rp__ring_fits(p, rp__ring_record_size(len)) ||
			(uint16_t)(kind - 1) >= RP_RING_KIND_MAX))
		return rp__ring_reserve_slow(p, kind, len, ret_ptr);
	p->resv_hdr = rp__ring_header(kind, len);
	*ret_ptr = p->data + (p->tail & p->mask) + RP_RING_HDR;
	return 0;
}

/*
 * rp__ring_commit - finish the reservation with len <= the reserved length
 * (a record may shrink); the record is written but not yet visible.
 * Returns 0 or -EINVAL (no reservation, or len too long).
 */
static inline int rp__ring_commit(struct rp_ring_producer *p, uint32_t len)
{
	uint64_t hdr = p->resv_hdr;

	if (RP_UNLIKELY(!hdr || len > (uint32_t)hdr))
		return -EINVAL;
	/* Plain store: published by the tail store in rp__ring_publish(). */
	hdr = (hdr & ~(uint64_t)UINT32_MAX) | len;
	memcpy(p->data + (p->tail & p->mask), &hdr, sizeof(hdr));
	p->tail += rp__ring_record_size(len);
	p->resv_hdr = 0;
	return 0;
}

/*
 * rp__ring_publish - make every committed record visible with one store,
 * then wake the consumer if (and only if) it announced sleep.
 */
static inline void rp__ring_publish(struct rp_ring_producer *p)
{
	if (p->tail == p->tail_pub && !p->wake_owed)
		return;
	p->tail_pub = p->tail;
	p->wake_owed = false;
	/*
	 * Release: pairs with the acquire load of tail in refresh_tail()
	 * (ring.c), so the records are written before the consumer reads
	 * them.  The store is P of the wake.h handshake, B follows.
	 */
	rp__wake_store_progress(&p->wake, &p->sh->tail, p->tail);
	rp__wake_peer(&p->wake);

}

/*
 * rp__ring_publish_quiet - make every committed record visible, without
 * the wake handshake: a consumer asleep stays asleep.  For records that
 * must be in shared memory (an owner reads them after the producer's
 * death) but need not be seen at once.  A later rp__ring_publish() or
 * rp__ring_release_publish() must follow; it does the handshake owed
 * even if nothing was committed since.
 */
static inline void rp__ring_publish_quiet(struct rp_ring_producer *p)
{
	p->tail_pub = p->tail;
	p->wake_owed = true;
	/* Release: the records before the index, as in rp__ring_publish. */
	RP_ATOMIC_STORE(&p->sh->tail, p->tail, __ATOMIC_RELEASE);
}

/* rp__ring_abort - forget the open reservation: nothing of it is seen. */
static inline void rp__ring_abort(struct rp_ring_producer *p)
{
	p->resv_hdr = 0;
}

/*
 * rp__ring_prefetch_write - start taking the line the next record goes to
 * back from the consumer, ahead of writing it, so that the transfer
 * overlaps other work.  Only a hint: it changes nothing.
 */
static inline void rp__ring_prefetch_write(const struct rp_ring_producer *p)
{
	__builtin_prefetch(p->data + (p->tail & p->mask), 1, 3);
}

/* Header and up to 8 payload bytes, written with one 16-byte store. */
typedef uint64_t rp_ring_pair __attribute__((vector_size(16), aligned(8)));

/*
 * rp__ring_push - copy a record of len bytes from buf into the ring (commit
 * included, publish not).  Returns as rp__ring_reserve(), and -EINVAL
 * while a reservation is open.  The fast path
 * keeps stores per record to a minimum: the producer's store buffer is what
 * limits the rate at which it can take lines back from the consumer.
 */
static inline int rp__ring_push(struct rp_ring_producer *p, uint16_t kind,
				const void *buf, uint32_t len)
{
	uint64_t size = rp__ring_record_size(len);
	unsigned char *rec = p->data + (p->tail & p->mask);
	rp_ring_pair v = { rp__ring_header(kind, len), 0 };

	if (RP_UNLIKELY(len > p->max_len || !rp__ring_fits(p, size) ||
			(uint16_t)(kind - 1) >= RP_RING_KIND_MAX || p->resv_hdr))
		return rp__ring_push_slow(p, kind, buf, len);
	if (len - 1 < 8) {
		uint64_t word = 0;

		memcpy(&word, buf, len);
		v[1] = word;
		memcpy(rec, &v, sizeof(v));
	} else {
		/* The header alone: v's first 8 bytes, v[0] (a vector element
		 * has no address in clang). */
		memcpy(rec, &v, RP_RING_HDR);
		if (len) /* an empty record may come with a NULL buf */
			memcpy(rec + RP_RING_HDR, buf, len);
	}
	p->tail += size;
	return 0;
}

/*
 * rp__ring_peek - the oldest unconsumed record, checked, into *ret_rec.
 * Returns 0, -EAGAIN (empty), -EBADMSG (corrupt ring; sticky).
 * rp__ring_consume() then moves past it.  A record's bytes stay readable
 * until it is consumed and its space handed back: by rp__ring_release(), or
 * by a later peek that has used up the cached batch and looks for more.
 */
static inline int rp__ring_peek(struct rp_ring_consumer *c,
				struct rp_ring_rec *ret_rec)
{
	uint64_t pos = c->head & c->mask;
	uint64_t avail = c->tail_cache - c->head;
	uint64_t hdr, size;
	uint32_t len;
	uint16_t kind;

	if (RP_UNLIKELY(avail == 0))
		return rp__ring_peek_refill(c, ret_rec);
	/* One load of the header: what we check is what we use. */
	hdr = __atomic_load_n((const uint64_t *)(const void *)(c->data + pos),
			      __ATOMIC_RELAXED);
	len = (uint32_t)hdr;
	kind = (uint16_t)(hdr >> 32);
	size = rp__ring_record_size(len);
	/* Wrap markers and every anomaly go the slow way. */
	if (RP_UNLIKELY((hdr >> 48) != 0 || (uint16_t)(kind - 1) >= c->kind_max ||
			len > c->max_len || size > avail ||
			size > c->mask + 1 - pos))
		return rp__ring_peek_odd(c, hdr, ret_rec);
	/* Overlap the next lines' transfers (see prefetch_published()). */
	if (avail > RP_RING_PREFETCH_AHEAD)
		__builtin_prefetch(c->data + ((pos + RP_RING_PREFETCH_AHEAD) &
					      c->mask));
	ret_rec->data = c->data + pos + RP_RING_HDR;
	ret_rec->len = len;
	ret_rec->kind = kind;
	c->next = c->head + size;
	return 0;
}

/* rp__ring_consume - move past the record rp__ring_peek() returned last. */
static inline void rp__ring_consume(struct rp_ring_consumer *c)
{
	c->head = c->next;
}

/*
 * rp__ring_release - give the consumed space back to the producer with one
 * store, and wake the producer if it sleeps waiting for space.
 */
static inline void rp__ring_release(struct rp_ring_consumer *c)
{
	if (c->head == c->head_pub)
		return;
	c->head_pub = c->head;
	/*
	 * Release: pairs with the acquire load of head in refresh_head()
	 * (ring.c), so our reads of the records happen before the producer
	 * overwrites them.  P of the wake.h handshake, B follows.
	 */
	rp__wake_store_progress(&c->wake, &c->sh->head, c->head);
	rp__wake_peer(&c->wake);
}

/*
 * rp__ring_release_publish - rp__ring_release(c), then rp__ring_publish(p),
 * for a side that consumes one ring and produces into another: a worker
 * gives its task records back before their results become visible.  In
 * the symmetric mode each of the two would be a full barrier (a locked
 * exchange that waits for every store before it, the result record's
 * lines included); here both indices are plain release stores, in that
 * order (stores stay in order on the way out, and release keeps the
 * record writes before them), then one seq_cst fence stands for P's
 * barrier in both handshakes before the two sleep checks (B).  A seq_cst
 * fence between P and B forbids the same outcome as a seq_cst P does.
 */
static inline void rp__ring_release_publish(struct rp_ring_consumer *c,
					    struct rp_ring_producer *p)
{
	bool released = c->head != c->head_pub;
	bool published = p->tail != p->tail_pub || p->wake_owed;

	if (released) {
		c->head_pub = c->head;
		RP_ATOMIC_STORE(&c->sh->head, c->head, __ATOMIC_RELEASE);
	}
	if (published) {
		p->tail_pub = p->tail;
		p->wake_owed = false;
		RP_ATOMIC_STORE(&p->sh->tail, p->tail, __ATOMIC_RELEASE);
	}
	if ((released && !c->wake.asym) || (published && !p->wake.asym))
		rp__fence_seq_cst();
	if (released)
		rp__wake_peer(&c->wake);
	if (published)
		rp__wake_peer(&p->wake);
}

/*
 * Blocking helpers (spin, then sleep; see wake.h).  timeout_ns < 0: forever.
 * Return 0 when the condition holds (or the ring is found corrupt: the next
 * peek/reserve reports it), -ETIMEDOUT, or -errno.
 */
int rp__ring_wait_readable(struct rp_ring_consumer *c, int64_t timeout_ns);
int rp__ring_wait_writable(struct rp_ring_producer *p, uint32_t len,
			   int64_t timeout_ns);
/* The same through an io_uring with nothing else in flight (owner side). */
int rp__ring_wait_readable_uring(struct rp_ring_consumer *c,
				 struct io_uring *ring, int64_t timeout_ns);

/*
 * rp__ring_readable - readiness test (rp_wake_ready_fn) for event loops that
 * arm their own waits with rp__wake_uring_arm(): refreshes the cached tail;
 * true when a record (or corruption) awaits.  arg: the consumer handle.
 */
bool rp__ring_readable(void *consumer);

#ifdef __cplusplus
}
#endif

#endif
