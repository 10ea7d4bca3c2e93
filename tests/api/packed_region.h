/* SPDX-License-Identifier: MIT */
/*
 * What the hostile items of test_pool_packed.c know of their worker's
 * shared region, all of it here.  The layout is lib/proto.h's: struct
 * rp_worker_ctl at the start (slot_state[], each_started), then the task
 * ring and the result ring, each rp__ring_bytes(capacity) long
 * (lib/ring.h).  A task finds the region as any task could, through
 * /proc/self/maps (the memfd "rp-worker"), as scribble_worker.c does.
 * Runs inside a worker: no cmocka, only return codes.
 */
#ifndef RP_TEST_PACKED_REGION_H
#define RP_TEST_PACKED_REGION_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "proto.h"
#include "ring.h"

struct pr_region {
	struct rp_worker_ctl *ctl;
	struct rp_ring_shared *tasks;   /* the ring the worker runs from */
	struct rp_ring_shared *results; /* the ring the worker reports in */
};

/* This process's one rp-worker mapping, checked against the layout. */
static inline int pr_find(struct pr_region *r)
{
	FILE *f = fopen("/proc/self/maps", "re");
	unsigned long base = 0, size = 0, ino0 = 0;
	struct rp_ring_shared *tasks;
	unsigned inodes = 0;
	char line[512];
	size_t ring;

	memset(r, 0, sizeof(*r));
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, ino;

		if (!strstr(line, "/memfd:rp-worker") ||
		    sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi,
			   &ino) != 3)
			continue;
		/* Another worker's region too: not one we can tell apart. */
		if (!inodes) {
			ino0 = ino;
			inodes = 1;
		} else if (ino != ino0) {
			inodes = 2;
		}
		if (!base || lo < base) {
			base = lo;
			size = hi - lo;
		}
	}
	fclose(f);
	if (inodes != 1 || size < RP_WORKER_CTL_BYTES + sizeof(*tasks))
		return -1;
	r->ctl = (struct rp_worker_ctl *)base;
	tasks = (struct rp_ring_shared *)(base + RP_WORKER_CTL_BYTES);
	if (r->ctl->magic != RP_WORKER_CTL_MAGIC ||
	    tasks->magic != RP_RING_MAGIC || tasks->capacity > UINT32_MAX)
		return -1;
	ring = rp__ring_bytes((uint32_t)tasks->capacity);
	if (size < RP_WORKER_CTL_BYTES + 2 * ring)
		return -1;
	r->tasks = tasks;
	r->results = (struct rp_ring_shared *)(base + RP_WORKER_CTL_BYTES +
					       ring);
	return r->results->magic == RP_RING_MAGIC &&
		       r->results->capacity == tasks->capacity ? 0 : -1;
}

/*
 * Whether the bytes at [at, at + len) lie in the task ring's data, and
 * then the record header word before them: its kind and length.
 */
static inline int pr_task_rec(const struct pr_region *r, uintptr_t at,
			      size_t len, uint16_t *kind, uint32_t *rlen)
{
	uintptr_t data = (uintptr_t)(r->tasks + 1);
	uint64_t hdr;

	if (at < data + RP_RING_HDR || at + len > data + r->tasks->capacity)
		return -1;
	memcpy(&hdr, (const void *)(at - RP_RING_HDR), sizeof(hdr));
	*kind = (uint16_t)(hdr >> 32);
	*rlen = (uint32_t)hdr;
	return 0;
}

/*
 * The slot of the packed run (RP_TASK_EACH) the running item, arg, is in
 * and its place there (0: first), from the worker's note (each_started =
 * slot << 32 | place + 1), or -1 if it is not in one.  The note is
 * checked against the run's own record, in the task ring right before the
 * run's inline items (a TASK, or a TASK_NEXT with the flags of the TASK
 * before it): one-item chunks are not packed and leave the note of an
 * earlier run in place, and its slot may even still read RUNNING.  For
 * the maps of chunksize 1 it is used with, a TASK_NEXT of two items or
 * more is a packed run.
 */
static inline int pr_running(const struct pr_region *r, const void *arg,
			     size_t item_size, int64_t index, uint32_t *slot,
			     uint32_t *place)
{
	uint64_t note = atomic_load(&r->ctl->each_started);
	uint32_t s = (uint32_t)(note >> 32), n = (uint32_t)note;
	uintptr_t items = (uintptr_t)arg - (uintptr_t)(n - 1) * item_size;
	struct rp_task_next_rec next;
	struct rp_task_rec t;
	uint32_t rlen, head;
	uint16_t kind;

	if (s >= RP_SLOTS || n == 0 || (uintptr_t)arg < items ||
	    atomic_load(&r->ctl->slot_state[s]) != RP_SLOT_RUNNING)
		return -1;
	if (pr_task_rec(r, items - sizeof(next), sizeof(next) + n * item_size,
			&kind, &rlen) == 0 &&
	    kind == RP_REC_TASK_NEXT) {
		memcpy(&next, (const void *)(items - sizeof(next)),
		       sizeof(next));
		t = (struct rp_task_rec){ .first_index = next.first_index,
					  .slot = next.slot,
					  .flags = RP_TASK_EACH,
					  .nitems = next.nitems,
					  .item_size = item_size };
		head = sizeof(next);
	} else if (pr_task_rec(r, items - sizeof(t), sizeof(t) + n * item_size,
			       &kind, &rlen) == 0 &&
		   kind == RP_REC_TASK) {
		memcpy(&t, (const void *)(items - sizeof(t)), sizeof(t));
		head = sizeof(t);
	} else {
		return -1;
	}
	if (t.slot != s || !(t.flags & RP_TASK_EACH) || t.nitems < 2 ||
	    n > t.nitems || t.item_size != item_size ||
	    rlen != head + (uint64_t)t.nitems * item_size ||
	    t.first_index + n - 1 != (uint64_t)index)
		return -1;
	*slot = s;
	*place = n - 1;
	return 0;
}

/* The lie: the running slot was never started (QUEUED). */
static inline void pr_say_queued(const struct pr_region *r, uint32_t slot)
{
	atomic_store(&r->ctl->slot_state[slot], RP_SLOT_QUEUED);
}

/*
 * Until the owner took all the worker published (the result ring's head
 * caught up with its tail): the items of the run before this one are
 * then reported.  0, or -1 after guard_s seconds.
 */
static inline int pr_wait_taken(const struct pr_region *r, int guard_s)
{
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (atomic_load(&r->results->head) !=
	       atomic_load(&r->results->tail)) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > guard_s)
			return -1;
		sched_yield();
	}
	return 0;
}

#endif
