/* SPDX-License-Identifier: MIT */
/*
 * Ring set-up and the slow paths: refreshing the cached peer index (with its
 * checks), wrap markers, corruption, and waiting.  See ring.h for the design.
 */
#include "ring.h"

/* Bytes of newly published records touched ahead of reading them. */
#define RP_RING_PREFETCH_MAX 4096u

static bool valid_capacity(uint64_t capacity)
{
	return capacity >= RP_RING_MIN_CAPACITY &&
	       capacity <= RP_RING_MAX_CAPACITY &&
	       (capacity & (capacity - 1)) == 0;
}

int rp__ring_init(void *mem, size_t bytes, uint32_t capacity)
{
	struct rp_ring_shared *sh = mem;

	if (!mem || ((uintptr_t)mem & 63) || !valid_capacity(capacity) ||
	    bytes < rp__ring_bytes(capacity))
		return -EINVAL;
	memset(sh, 0, sizeof(*sh));
	sh->magic = RP_RING_MAGIC;
	sh->version = RP_RING_VERSION;
	sh->capacity = capacity;
	return 0;
}

/*
 * Read and check line 0 and both indices once, at open.  The handles keep
 * what was read here; the shared copies of capacity are never read again.
 */
static int read_header(void *mem, size_t bytes, uint64_t *ret_cap,
		       uint64_t *ret_head, uint64_t *ret_tail)
{
	struct rp_ring_shared *sh = mem;
	uint64_t cap, head, tail;

	if (!mem || ((uintptr_t)mem & 63) || bytes < sizeof(*sh))
		return -EINVAL;
	cap = sh->capacity;
	if (sh->magic != RP_RING_MAGIC || sh->version != RP_RING_VERSION ||
	    !valid_capacity(cap) || bytes - sizeof(*sh) < cap)
		return -EBADMSG;
	/* acquire: pairs with the stores of the indices (release, or a seq_cst
	 * exchange: rp__wake_store_progress()) in publish/release. */
	head = atomic_load_explicit(&sh->head, memory_order_acquire);
	tail = atomic_load_explicit(&sh->tail, memory_order_acquire);
	if (((head | tail) & 7) || tail - head > cap)
		return -EBADMSG;
	*ret_cap = cap;
	*ret_head = head;
	*ret_tail = tail;
	return 0;
}

int rp__ring_producer_open(void *mem, size_t bytes,
			   struct rp_ring_producer *ret_prod)
{
	struct rp_ring_shared *sh = mem;
	uint64_t cap, head, tail;
	int ret = read_header(mem, bytes, &cap, &head, &tail);

	if (ret < 0)
		return ret;
	memset(ret_prod, 0, sizeof(*ret_prod));
	ret_prod->sh = sh;
	ret_prod->data = (unsigned char *)mem + sizeof(*sh);
	ret_prod->mask = cap - 1;
	ret_prod->tail = tail;
	ret_prod->tail_pub = tail;
	ret_prod->head_cache = head;
	ret_prod->max_len = RP_RING_MAX_PAYLOAD(cap);
	rp__wake_init(&ret_prod->wake, &sh->writable, &sh->readable);
	return 0;
}

int rp__ring_consumer_open(void *mem, size_t bytes, uint16_t kind_max,
			   struct rp_ring_consumer *ret_cons)
{
	struct rp_ring_shared *sh = mem;
	uint64_t cap, head, tail;
	int ret;

	if (kind_max == 0 || kind_max > RP_RING_KIND_MAX)
		return -EINVAL;
	ret = read_header(mem, bytes, &cap, &head, &tail);
	if (ret < 0)
		return ret;
	memset(ret_cons, 0, sizeof(*ret_cons));
	ret_cons->sh = sh;
	ret_cons->data = (const unsigned char *)mem + sizeof(*sh);
	ret_cons->mask = cap - 1;
	ret_cons->head = head;
	ret_cons->head_pub = head;
	ret_cons->tail_cache = tail;
	ret_cons->next = head;
	ret_cons->max_len = RP_RING_MAX_PAYLOAD(cap);
	ret_cons->kind_max = kind_max;
	rp__wake_init(&ret_cons->wake, &sh->readable, &sh->writable);
	return 0;
}

/* ---- producer ---- */

static int producer_corrupt(struct rp_ring_producer *p)
{
	p->err = -EBADMSG;
	return p->err;
}

/*
 * Read the consumer's head and check it: 8-aligned, not behind what we saw
 * before, not past what we published.  order: acquire on the fast path,
 * seq_cst from a wait's readiness test (wake.h handshake).
 */
static int refresh_head(struct rp_ring_producer *p, memory_order order)
{
	/* Pairs with the store of head (release, or a seq_cst exchange) in
	 * rp__ring_release(). */
	uint64_t h = atomic_load_explicit(&p->sh->head, order);

	if ((h & 7) || h - p->head_cache > p->tail_pub - p->head_cache)
		return producer_corrupt(p);
	p->head_cache = h;
	return 0;
}

/* Bytes needed at tail for a record of size: with a wrap marker if need be. */
static uint64_t space_needed(const struct rp_ring_producer *p, uint64_t size)
{
	uint64_t to_end = p->mask + 1 - (p->tail & p->mask);

	return size <= to_end ? size : to_end + size;
}

static bool has_room(const struct rp_ring_producer *p, uint64_t need)
{
	return p->tail + need - p->head_cache <= p->mask + 1;
}

/* Fill the rest of the data area with a wrap marker; tail moves to 0. */
static void write_wrap(struct rp_ring_producer *p)
{
	uint64_t pos = p->tail & p->mask;
	uint64_t to_end = p->mask + 1 - pos;
	uint64_t hdr = rp__ring_header(RP_RING_KIND_WRAP,
				       (uint32_t)(to_end - RP_RING_HDR));

	memcpy(p->data + pos, &hdr, sizeof(hdr));
	p->tail += to_end;
}

int rp__ring_reserve_slow(struct rp_ring_producer *p, uint16_t kind,
			  uint32_t len, void **ret_ptr)
{
	uint64_t size = rp__ring_record_size(len), need;
	int ret;

	if (p->err)
		return p->err;
	if (kind == 0 || kind > RP_RING_KIND_MAX)
		return -EINVAL;
	if (len > p->max_len)
		return -EMSGSIZE;
	need = space_needed(p, size);
	if (!has_room(p, need)) {
		ret = refresh_head(p, memory_order_acquire);
		if (ret < 0)
			return ret;
		if (!has_room(p, need))
			return -ENOBUFS;
	}
	if (need != size)
		write_wrap(p);
	p->resv_hdr = rp__ring_header(kind, len);
	*ret_ptr = p->data + (p->tail & p->mask) + RP_RING_HDR;
	return 0;
}

int rp__ring_push_slow(struct rp_ring_producer *p, uint16_t kind,
		       const void *buf, uint32_t len)
{
	void *dst = NULL;
	int ret;

	if (p->resv_hdr)
		return -EINVAL;
	ret = rp__ring_reserve_slow(p, kind, len, &dst);
	if (ret < 0)
		return ret;
	if (len)
		memcpy(dst, buf, len);
	return rp__ring_commit(p, len);
}

/* ---- consumer ---- */

static int consumer_corrupt(struct rp_ring_consumer *c)
{
	c->err = -EBADMSG;
	/* An empty cache routes every later peek to the slow path, to err. */
	c->tail_cache = c->head;
	return c->err;
}

/*
 * Read the producer's tail and check it: 8-aligned, not behind what we saw
 * before, at most one capacity ahead of our head.
 */
static int refresh_tail(struct rp_ring_consumer *c, memory_order order)
{
	/* Pairs with the store of tail (release, or a seq_cst exchange) in
	 * rp__ring_publish(). */
	uint64_t t = atomic_load_explicit(&c->sh->tail, order);
	uint64_t ahead = t - c->head;

	if ((t & 7) || ahead > c->mask + 1 || ahead < c->tail_cache - c->head)
		return consumer_corrupt(c);
	c->tail_cache = t;
	return 0;
}

/*
 * A wrap marker must sit where a record did not fit (not at position 0),
 * cover exactly the rest of the data area, and be wholly published.
 */
static int skip_wrap(struct rp_ring_consumer *c, uint64_t hdr)
{
	uint64_t pos = c->head & c->mask;
	uint64_t to_end = c->mask + 1 - pos;

	if (pos == 0 || (uint32_t)hdr != to_end - RP_RING_HDR ||
	    c->tail_cache - c->head < to_end)
		return consumer_corrupt(c);
	c->head += to_end;
	c->next = c->head;
	return 0;
}

/*
 * Each header gives the next one's address, so reading records is a chain of
 * dependent loads, and each line comes from the producer's cache.  Touching
 * every newly published line first lets those transfers overlap.  Only
 * published lines: earlier ones would be pulled away from the producer
 * while it still writes them.
 */
static void prefetch_published(const struct rp_ring_consumer *c)
{
	uint64_t ahead = c->tail_cache - c->head;
	uint64_t line = c->head & ~(uint64_t)63;

	if (ahead > RP_RING_PREFETCH_MAX)
		ahead = RP_RING_PREFETCH_MAX;
	/* Counted as distances from head, which survive the counters
	 * wrapping at 2^64; positions compared directly would not. */
	for (uint64_t off = 0; off < ahead + (c->head - line); off += 64)
		__builtin_prefetch(c->data + ((line + off) & c->mask));
}

int rp__ring_peek_refill(struct rp_ring_consumer *c,
			 struct rp_ring_rec *ret_rec)
{
	int ret;

	if (c->err)
		return c->err;
	/*
	 * The cached batch is used up: give its space back before looking
	 * for more, so the producer never waits for a consumer that keeps
	 * finding new records (it would otherwise release only when idle).
	 */
	rp__ring_release(c);
	ret = refresh_tail(c, memory_order_acquire);
	if (ret < 0)
		return ret;
	if (c->tail_cache == c->head)
		return -EAGAIN;
	prefetch_published(c);
	return rp__ring_peek(c, ret_rec);
}

int rp__ring_peek_odd(struct rp_ring_consumer *c, uint64_t hdr,
		      struct rp_ring_rec *ret_rec)
{
	int ret;

	/* hdr is the fast path's one copy: kind and the zero field at once. */
	if (hdr >> 32 != RP_RING_KIND_WRAP)
		return consumer_corrupt(c);
	ret = skip_wrap(c, hdr);
	if (ret < 0)
		return ret;
	return rp__ring_peek(c, ret_rec);
}

/* ---- waiting ---- */

bool rp__ring_readable(void *consumer)
{
	struct rp_ring_consumer *c = consumer;

	if (c->err || c->tail_cache != c->head)
		return true;
	/* seq_cst: the re-check of the wake.h handshake, after store (A). */
	return refresh_tail(c, memory_order_seq_cst) < 0 ||
	       c->tail_cache != c->head;
}

struct writable_arg {
	struct rp_ring_producer *p;
	uint64_t need;
};

static bool writable(void *arg)
{
	struct writable_arg *a = arg;

	if (a->p->err || has_room(a->p, a->need))
		return true;
	/* seq_cst: the re-check of the wake.h handshake, after store (A). */
	return refresh_head(a->p, memory_order_seq_cst) < 0 ||
	       has_room(a->p, a->need);
}

int rp__ring_wait_readable(struct rp_ring_consumer *c, int64_t timeout_ns)
{
	return rp__wake_wait(&c->wake, rp__ring_readable, c, timeout_ns);
}

int rp__ring_wait_readable_uring(struct rp_ring_consumer *c,
				 struct io_uring *ring, int64_t timeout_ns)
{
	return rp__wake_wait_uring(&c->wake, ring, rp__ring_readable, c,
				   timeout_ns);
}

int rp__ring_wait_writable(struct rp_ring_producer *p, uint32_t len,
			   int64_t timeout_ns)
{
	struct writable_arg a = { p, 0 };

	if (len > p->max_len)
		return -EMSGSIZE;
	a.need = space_needed(p, rp__ring_record_size(len));
	return rp__wake_wait(&p->wake, writable, &a, timeout_ns);
}
