/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the owner's parser of a worker's result ring:
 * rp__drain_worker() (drain.c) over the ring layer's consumer (ring.c).
 *
 * A worker may write anything into its result ring, so the fuzz input is
 * what a hostile worker controls, plus a few bytes choosing the owner's
 * state (ring capacity, where the ring's counters start, which slots the
 * owner has out).  Whatever the input, the owner must not crash, hang,
 * touch memory outside what it owns (ASan, UBSan) or leak (LSan), and the
 * sink must see a consistent story (checked below; a violation traps).
 *
 * Input layout (little-endian; a short input reads as zeros):
 *
 *   0   u8   capacity: 64 << (v % 7), so 64 .. 4096 bytes
 *   1   u8   steps: 1 + v % 4 publications, each followed by a drain
 *   2   u8   bit i: the producer's "sleeping" flag (writable line) is set
 *            before drain i, so the consumer's release wakes it
 *   3   u8   the sinks: bit 0 set, they have chunks_done, as a map's result
 *            has (drain.c then tells the chunks done of a map, and every
 *            packed item, as deferred counts per sink, without an index);
 *            clear, chunk_done for each, with its index.  Bits 1-7 reserved
 *   4   u32  reserved
 *   8   u64  head0: where both counters start (& ~7, below 2^63), as if
 *            earlier laps had gone by; exercises wrap markers at any
 *            position, and counters wrapping at 2^64 (which once hung
 *            the consumer's prefetch: corpus/counter-wrap keeps it fixed).
 *   16  u64  tail[4]: the tail the worker publishes at step i, as an
 *            offset from head0 (any value: the tail is worker-written)
 *   48  4 x {u8 flags, u8 nitems, u16 result_size}: slots 0..3 as the
 *            owner filled them (dispatch.c fill_slot): flags bit 0 busy,
 *            bit 1 RP_TASK_APPLY (one item), bit 2 already cancelled by
 *            the owner, bit 3 RP_TASK_EACH (packed one-item chunks; ignored
 *            with bit 1, as dispatch never packs an apply's); nitems
 *            1 + v % 16 (dispatch packs 2 .. 16: a lone packed item is
 *            the owner's to handle all the same); result_size v % 2048
 *   64   the worker's byte stream: byte j is what the worker wrote at ring
 *        position head0 + j.  Before drain i the bytes up to tail[i] are
 *        stored, so a stream that runs over several laps overwrites the
 *        ring as a real producer would.  A well-formed stream is simply
 *        the records in order (see make_seeds.py).
 *
 * After each drain the harness checks that the sinks' story agrees with
 * the slots still out, the worker's load and the pool's count of chunks
 * unfinished.  After the last drain it fails every slot still held, as
 * loop.c does when the worker dies (rp__fail_slots), and checks that every
 * chunk (every packed item) was completed exactly once and every sink
 * reference given back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR_BYTES	64u
#define NSLOTS		4u
#define MAX_STEPS	4u

/* A violated expectation: a bug in drain.c, not in the input. */
#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

struct fake_sink {
	struct rp__sink base;
	unsigned slot;
	uint32_t nitems;
	uint32_t units;		/* chunks it stands for: nitems if packed, 1 */
	uint64_t first, full;	/* first index, nitems * result_size */
	uint64_t result_size;
	bool apply, each, batched, canceled;
	unsigned char *buf;	/* exactly full bytes: ASan guards the rest */
	unsigned gets, puts, done, chunk_failed, item_failed;
	uint32_t named;		/* packed: one past the last item named */
};

/*
 * A packed item's item_failed, without chunks_done: its chunk_done must be
 * the very next call to any sink (drain.c each_item_done).
 */
static struct fake_sink *failed_pending;

static struct fake_sink *fs_of(struct rp__sink *s)
{
	return (struct fake_sink *)s;
}

/* Chunks (packed items) the sink has counted as ended, either way. */
static uint32_t told(const struct fake_sink *f)
{
	return f->done + f->chunk_failed;
}

static unsigned char *fs_dest(struct rp__sink *s, uint64_t first, uint32_t n)
{
	struct fake_sink *f = fs_of(s);

	CHECK(first == f->first && n == f->nitems);
	return f->buf;
}

/*
 * Packed item j, told as the one-item chunk it stands for: the next in
 * order, after its item_failed if it failed.  Only without chunks_done.
 */
static void each_chunk_done(struct fake_sink *f, uint64_t first, uint32_t n,
			    uint64_t len)
{
	uint64_t j = first - f->first;
	unsigned sum = 0;

	CHECK(!f->batched);
	CHECK(first >= f->first && j == told(f) && n == 1);
	/* Not another sink's: its failed item's chunk_done comes first. */
	CHECK(!failed_pending || failed_pending == f);
	CHECK(failed_pending == f ? j + 1 == f->named : j >= f->named);
	CHECK(len == f->result_size);
	for (uint64_t i = 0; i < len; i++)
		sum += f->buf[j * f->result_size + i];
	(void)sum;
	failed_pending = NULL;
	f->named = (uint32_t)j + 1;
	f->done++;
}

static void fs_chunk_done(struct rp__sink *s, uint64_t first, uint32_t n,
			  uint64_t len)
{
	struct fake_sink *f = fs_of(s);
	unsigned sum = 0;

	if (f->each) {
		each_chunk_done(f, first, n, len);
		return;
	}
	CHECK(!failed_pending);
	/* A map's chunks go to chunks_done when the sink has it. */
	CHECK(f->apply || !f->batched);
	CHECK(first == f->first && n == f->nitems);
	CHECK(f->apply ? len <= f->full : len == f->full);
	/* The result reads what it was given: ASan checks the bound. */
	for (uint64_t i = 0; i < len; i++)
		sum += f->buf[i];
	(void)sum;
	f->done++;
}

/* No index: only the totals can be checked (here and check_told()). */
static void fs_chunks_done(struct rp__sink *s, uint64_t n)
{
	struct fake_sink *f = fs_of(s);

	CHECK(!failed_pending);
	CHECK(f->batched && !f->apply);
	CHECK(n >= 1 && n <= f->units - told(f));
	f->done += (unsigned)n;
}

/*
 * Packed item j failed: items end in order, and this one's chunk is still
 * to be counted.  Without chunks_done the count is exact, so j is the
 * next item, and its chunk_done must follow at once; with it, counts of
 * items done before j may still be deferred.
 */
static void each_item_failed(struct fake_sink *f, uint32_t j)
{
	CHECK(j >= f->named && j >= told(f));
	if (!f->batched) {
		CHECK(j == told(f));
		failed_pending = f;
	}
	f->named = j + 1;
}

static void fs_item_failed(struct rp__sink *s, const struct rp_error *err)
{
	struct fake_sink *f = fs_of(s);

	CHECK(!failed_pending);
	CHECK(err->code == RP_ETASK && err->task_code != 0);
	CHECK(memchr(err->message, '\0', sizeof(err->message)) != NULL);
	if (f->apply)
		CHECK(err->index == -1);
	else
		CHECK(err->index >= (int64_t)f->first &&
		      err->index < (int64_t)(f->first + f->nitems));
	f->item_failed++;
	CHECK(f->item_failed <= f->nitems);
	if (f->each) {
		each_item_failed(f, (uint32_t)(err->index - (int64_t)f->first));
		return;
	}
	/* Failed items come before the chunk completes, never after. */
	CHECK(f->done == 0 && f->chunk_failed == 0);
}

/*
 * The worker is gone: a packed chunk's items not yet ended fail, in order,
 * each a one-item chunk.  That is never in a drain pass, so every count
 * the pass deferred has been told: j is exactly the next item.
 */
static void fs_chunk_failed(struct rp__sink *s, uint64_t first, uint32_t n,
			    const struct rp_error *err)
{
	struct fake_sink *f = fs_of(s);

	CHECK(!failed_pending);
	CHECK(err->code == RP_ECORRUPT);
	CHECK(err->index == (f->apply ? -1 : (int64_t)first));
	if (f->each) {
		CHECK(first - f->first == told(f) && n == 1);
		CHECK(told(f) >= f->named && told(f) < f->nitems);
		f->named = told(f) + 1;
	} else {
		CHECK(first == f->first && n == f->nitems);
	}
	f->chunk_failed++;
}

static void fs_get(struct rp__sink *s)
{
	fs_of(s)->gets++;
}

static void fs_put(struct rp__sink *s)
{
	struct fake_sink *f = fs_of(s);

	CHECK(!failed_pending);
	CHECK(f->puts < f->gets);
	f->puts++;
}

#define FS_OPS \
	.dest = fs_dest, \
	.chunk_done = fs_chunk_done, \
	.item_failed = fs_item_failed, \
	.chunk_failed = fs_chunk_failed, \
	.get = fs_get, \
	.put = fs_put

static const struct rp__sink_ops fs_ops = { FS_OPS };

/* As a map's result (result.c): its counts told once per drain pass. */
static const struct rp__sink_ops fs_ops_batched = {
	FS_OPS,
	.chunks_done = fs_chunks_done,
};

/* Reads n <= 8 bytes at off as little-endian; zeros past the input. */
static uint64_t rd(const uint8_t *d, size_t size, size_t off, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		if (off + i < size)
			v |= (uint64_t)d[off + i] << (8 * i);
	return v;
}

/*
 * As dispatch.c's fill_slot() and write_chunk() leave a slot.  Returns
 * what it adds to the pool's count of chunks unfinished.
 */
static uint32_t fill(struct rp__worker *w, struct fake_sink *f, unsigned s,
		     uint8_t flags, uint8_t nitems, uint16_t result_size,
		     bool batched)
{
	struct rp__slot *sl = &w->slots[s];

	f->base.ops = batched ? &fs_ops_batched : &fs_ops;
	f->slot = s;
	f->batched = batched;
	f->apply = flags & 2;
	/* Never both: dispatch packs only a map's one-item chunks. */
	f->each = (flags & 8) && !f->apply;
	f->nitems = f->apply ? 1 : 1 + nitems % 16u;
	f->units = f->each ? f->nitems : 1;
	f->first = f->apply ? 0 : 1000 * (uint64_t)s;
	f->result_size = result_size % 2048u;
	f->full = (uint64_t)f->nitems * f->result_size;
	f->buf = malloc(f->full);	/* malloc(0) is a valid, empty block */
	CHECK(f->buf);

	sl->canceled = false;
	sl->got_result = false;
	sl->fails_left = 0;
	sl->each_done = 0;
	sl->big_received = 0;
	sl->result_len = 0;
	sl->nitems = f->nitems;
	sl->flags = f->apply ? RP_TASK_APPLY : f->each ? RP_TASK_EACH : 0;
	sl->first_index = f->first;
	sl->result_size = f->result_size;
	sl->sink = &f->base;
	sl->sink_ops = f->base.ops;
	sl->dest = fs_dest(&f->base, f->first, f->nitems);
	fs_get(&f->base);
	/* Taken as dispatch.c's write_chunk takes it; packed one-item
	 * chunks count one each in the worker's load. */
	w->slot_taken[s / 64] ^= 1ull << (s % 64);
	atomic_store(&w->chunks_sent, atomic_load(&w->chunks_sent) + f->units);
	atomic_store(&sl->busy, true);
	/* Cancelled by rp_result_cancel: completed then, one chunk_failed
	 * per chunk (dispatch.c cancel_chunks), the slot still out until the
	 * worker's CANCELED record. */
	if (flags & 4) {
		atomic_store(&sl->canceled, true);
		f->canceled = true;
		f->chunk_failed = f->units;
		f->named = f->each ? f->nitems : 0;
		return 0;
	}
	return f->units;
}

/*
 * Between drain passes (drain_lock free): every deferred count was told,
 * and what the sinks were told agrees with the slots still out, the
 * worker's load and the pool's count of chunks unfinished.
 */
static void check_told(const struct rp_pool *pool, const struct rp__worker *w,
		       const struct fake_sink *sinks)
{
	uint32_t load = 0;
	uint64_t unfinished = 0;

	CHECK(!failed_pending);
	CHECK(pool->done_unflushed == 0 && pool->settled_unflushed == 0);
	for (unsigned s = 0; s < NSLOTS; s++) {
		const struct fake_sink *f = &sinks[s];
		bool busy = atomic_load(&w->slots[s].busy);

		if (!f->gets) {
			CHECK(!busy);
			continue;
		}
		CHECK(f->named <= told(f) && told(f) <= f->units);
		/* Back once all its chunks are told, not before; a cancelled
		 * one when the worker says so. */
		if (!f->canceled)
			CHECK(busy == (told(f) < f->units));
		CHECK(f->puts + busy == f->gets);
		if (busy)
			load += f->units;	/* settled at release only */
		unfinished += f->units - told(f);
	}
	CHECK(rp__worker_load(w) == load);
	CHECK(atomic_load(&pool->unfinished) == unfinished);
}

/* Stores stream bytes [*written, upto) at their ring positions. */
static void produce(unsigned char *ring_data, uint64_t mask, uint64_t head0,
		    const uint8_t *stream, size_t len, uint64_t *written,
		    uint64_t upto)
{
	if (upto > len)
		upto = len;
	for (uint64_t j = *written; j < upto; j++)
		ring_data[(head0 + j) & mask] = stream[j];
	if (upto > *written)
		*written = upto;
}

/* Starting counters: any multiple of 8, near 2^64 included. */
static uint64_t head_mask(void)
{
	return UINT64_MAX & ~(uint64_t)7;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t cap = 64u << (rd(data, size, 0, 1) % 7);
	unsigned steps = 1 + rd(data, size, 1, 1) % MAX_STEPS;
	unsigned sleeping = (unsigned)rd(data, size, 2, 1);
	bool batched = rd(data, size, 3, 1) & 1;
	uint64_t head0 = rd(data, size, 8, 8) & head_mask();
	const uint8_t *stream = size > HDR_BYTES ? data + HDR_BYTES : NULL;
	size_t stream_len = size > HDR_BYTES ? size - HDR_BYTES : 0;
	size_t ring_bytes = rp__ring_bytes(cap);
	struct fake_sink sinks[NSLOTS];
	struct rp_ring_shared *sh;
	struct rp__worker *w;
	struct rp_pool *pool;
	unsigned char *ring_data;
	uint64_t written = 0, unfinished = 0;
	struct rp_error why;

	pool = calloc(1, sizeof(*pool));
	w = calloc(1, sizeof(*w));
	sh = aligned_alloc(64, ring_bytes);
	CHECK(pool && w && sh);
	memset(sh, 0, ring_bytes);
	CHECK(rp__ring_init(sh, ring_bytes, cap) == 0);
	ring_data = (unsigned char *)sh + sizeof(*sh);
	/* Earlier laps went by: both counters at head0, the ring empty. */
	atomic_store(&sh->head, head0);
	atomic_store(&sh->tail, head0);

	pool->nworkers = 1;
	pool->workers = w;
	pool->ring_capacity = cap;
	pool->inline_max = rp__proto_inline_max(cap);
	w->result_mem = sh;
	w->ring_bytes = ring_bytes;
	w->pid = 4242;		/* a pid for the error records; never signalled */
	w->pidfd = -1;		/* corrupt() sends no signal */
	w->cpu = -1;
	CHECK(rp__ring_consumer_open(sh, ring_bytes, RP_REC_KIND_MAX,
				     &w->results) == 0);
	rp__wake_set_symmetric(&w->results.wake);	/* as region_init() */

	memset(sinks, 0, sizeof(sinks));
	failed_pending = NULL;
	for (unsigned s = 0; s < NSLOTS; s++) {
		size_t off = 48 + 4 * s;
		uint8_t flags = (uint8_t)rd(data, size, off, 1);

		if (!(flags & 1))
			continue;
		unfinished += fill(w, &sinks[s], s, flags,
				   (uint8_t)rd(data, size, off + 1, 1),
				   (uint16_t)rd(data, size, off + 2, 2), batched);
	}
	atomic_store(&pool->unfinished, unfinished);

	for (unsigned i = 0; i < steps; i++) {
		uint64_t tail_off = rd(data, size, 16 + 8 * i, 8);

		produce(ring_data, cap - 1, head0, stream, stream_len, &written,
			tail_off);
		if (sleeping & (1u << i))
			atomic_store(&sh->writable.sleeping, 1);
		/* release: as the worker's rp__ring_publish() */
		atomic_store_explicit(&sh->tail, head0 + tail_off,
				      memory_order_release);
		rp__drain_worker(pool, w);
		/* A ring the consumer found corrupt marks the worker so. */
		CHECK(!w->results.err || atomic_load(&w->corrupt));
		check_told(pool, w, sinks);
	}

	/* The worker dies (killed, if corrupt): loop.c fails what it held. */
	rp__error_set(&why, RP_ECORRUPT, -1, w->pid, "fuzz: worker gone");
	rp__fail_slots(pool, w, &why, NULL);
	check_told(pool, w, sinks);

	/* Every chunk completed exactly once; every reference given back. */
	for (unsigned s = 0; s < NSLOTS; s++) {
		struct fake_sink *f = &sinks[s];

		CHECK(!atomic_load(&w->slots[s].busy));
		CHECK(f->gets == f->puts);
		if (f->gets)
			CHECK(told(f) == f->units && f->named <= f->units);
		free(f->buf);
	}
	CHECK(atomic_load(&pool->unfinished) == 0);
	CHECK(rp__worker_load(w) == 0);
	for (unsigned k = 0; k < RP_SLOTS / 64; k++)
		CHECK(w->slot_taken[k] == atomic_load(&w->slot_given[k]));
	free(sh);
	free(w);
	free(pool);
	return 0;
}
