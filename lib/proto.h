/* SPDX-License-Identifier: MIT */
/*
 * What the owner and a worker say to each other: the layout of a worker's
 * shared region and the records of its two rings.
 *
 * Region of worker i (one memfd each, so no worker can reach another's):
 *   struct rp_worker_ctl | task ring (owner -> worker) | result ring
 *   (worker -> owner), each ring rp__ring_bytes(capacity) long, 64-aligned.
 *
 * Task ring records:
 *   RP_REC_TASK   struct rp_task_rec, then nitems * item_size item bytes
 *                 inline, unless RP_TASK_BIG: then FRAG records carry them.
 *   RP_REC_TASK_NEXT struct rp_task_next_rec, then the item bytes: a chunk
 *                 with the function, flags and sizes of the last TASK
 *                 record of this ring (never BIG).  Half a cache line
 *                 for a one-item chunk, where a TASK takes a whole one.
 *   RP_REC_FRAG   struct rp_frag_rec, then bytes (pieces of a big payload,
 *                 in order, right after the record they belong to).
 *   RP_REC_EXIT   no payload: finish what came before, then exit(0).
 * Result ring records:
 *   RP_REC_INIT   struct rp_fail_rec: the initializer's outcome, first.
 *   RP_REC_FRAG   pieces of a big result, before its RESULT.
 *   RP_REC_RESULT struct rp_result_rec, then the results inline unless
 *                 RP_RESULT_BIG; then nfail RP_REC_FAIL records follow.
 *   RP_REC_RESULT_FULL struct rp_result_full_rec, then all nitems *
 *                 result_size result bytes: a map chunk's (never apply's,
 *                 whose result may shrink, nor a big one's); then nfail
 *                 RP_REC_FAIL records follow.
 *   RP_REC_FAIL   struct rp_fail_rec, then msg_len message bytes.
 *   RP_REC_RESULT_ITEM struct rp_result_item_rec, then result_size bytes:
 *                 one item of an RP_TASK_EACH chunk.  Each item of such a
 *                 chunk, in order, sends either this or (failed) one FAIL.
 *
 * Trust: the owner trusts nothing a worker wrote.  Every field of a result
 * ring record is checked against what the owner itself recorded for the
 * slot (sizes, counts, offsets) before it is used.
 */
#ifndef RP_PROTO_H
#define RP_PROTO_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

#include "ring.h"

/* In-flight task slots per worker: a worker holds at most this many
 * (rp_pool_opts.max_queued may ask fewer). */
#define RP_SLOTS 4096u

enum rp_rec_kind {
	RP_REC_TASK = 1,
	RP_REC_FRAG,
	RP_REC_EXIT,
	RP_REC_INIT,
	RP_REC_RESULT,
	RP_REC_FAIL,
	RP_REC_TASK_NEXT,
	RP_REC_RESULT_FULL,
	RP_REC_RESULT_ITEM,
	RP_REC_KIND_MAX = RP_REC_RESULT_ITEM,
};

/* slot_state values: the owner queues and cancels, the worker starts.
 * QUEUED -> RUNNING (worker's CAS) or QUEUED -> CANCELED (owner's CAS):
 * exactly one of the two wins.  An RP_TASK_EACH chunk may also go
 * RUNNING -> CANCELED (owner's CAS): the worker then runs no further item
 * of it (it looks before each). */
enum rp_slot_state {
	RP_SLOT_IDLE = 0,
	RP_SLOT_QUEUED,
	RP_SLOT_RUNNING,
	RP_SLOT_CANCELED,
};

#define RP_CRASH_FRAMES 16

struct rp_worker_ctl {
	uint32_t magic;
	uint32_t index;                   /* the worker's number */
	/* 1 once the worker is about to call its initializer (relaxed),
	 * never set if it has none.  Read by the owner only once the worker
	 * died while the pool started, to tell a failed initializer
	 * (RP_EINIT) from a death before it (workers.c).  Untrusted: a false
	 * note can only change how that worker's own start failure is named. */
	RP_ATOMIC(uint32_t) init_begun;
	uint8_t pad0[52];
	RP_ATOMIC(uint32_t) slot_state[RP_SLOTS];
	/* Written by the worker's crash handler (crash.c); read by the owner
	 * only once the worker is dead, so never concurrently.  Untrusted
	 * like everything else here: only numbers, bounded on reading. */
	uint32_t crash_signal;
	uint32_t crash_frames;
	uint64_t crash_pc[RP_CRASH_FRAMES];
	/* Before it runs a chunk sent with RP_TASK_TIMED, the worker writes
	 * when it started (CLOCK_MONOTONIC), then which slot (release).  A
	 * hint for deadlines, untrusted: the owner clamps it (deadline.c). */
	RP_ATOMIC(uint64_t) run_start_ns;
	RP_ATOMIC(uint32_t) run_slot;
	uint32_t pad1;
	/* Items begun of the RP_TASK_EACH chunk in slot s: the worker writes
	 * s << 32 when it starts the chunk, s << 32 | (i + 1) before it runs
	 * item i (relaxed).  Read by the owner only once the worker is dead,
	 * to tell the item that was running from those never begun.
	 * Untrusted: a false note can only make the items of that chunk not
	 * yet reported fail rather than run again. */
	RP_ATOMIC(uint64_t) each_started;
	/* The worker's counters, for rp_pool_stats (stats.c): written by the
	 * worker alone, relaxed, each time it goes idle and wakes; untrusted
	 * numbers, shown as they are. */
	struct rp_worker_counters {
		RP_ATOMIC(uint64_t) items;      /* items run */
		RP_ATOMIC(uint64_t) chunks;     /* chunks run */
		RP_ATOMIC(uint64_t) busy_ns;    /* time not waiting for work */
		RP_ATOMIC(uint64_t) busy_since; /* CLOCK_MONOTONIC; 0: idle */
		RP_ATOMIC(uint64_t) spins;      /* waits for work ended spinning */
		RP_ATOMIC(uint64_t) sleeps;     /* waits for work that blocked */
		RP_ATOMIC(uint64_t) wakeups;    /* wake syscalls to the owner */
		RP_ATOMIC(uint64_t) stalls;     /* waits for result ring space */
	} counters;
	/* Written by the owner: 1 + the CPU the worker is to pin itself to
	 * before its next record (placement.c); 0: stay.  Read before every
	 * record, so it stays beside the worker's own counters, on a line
	 * only the worker writes otherwise. */
	RP_ATOMIC(uint32_t) cpu_request;
};

#define RP_WORKER_CTL_MAGIC 0x4c544352u /* "RCTL" */
#define RP_WORKER_CTL_BYTES 32768u

static_assert(sizeof(struct rp_worker_ctl) <= RP_WORKER_CTL_BYTES,
	      "control block fits its space");
static_assert(offsetof(struct rp_worker_ctl, slot_state) == 64,
	      "slot states start on a line of their own");

/* rp_task_rec.flags */
#define RP_TASK_APPLY 0x1u   /* one item, result length may shrink, index -1 */
#define RP_TASK_BIG   0x2u   /* item bytes follow in FRAG records */
#define RP_TASK_TIMED 0x4u   /* has a deadline: report the start in ctl */
/* Each item is a task of its own, as if sent as a chunk of one: several
 * one-item chunks of a call share one record and one slot.  The worker
 * publishes each item's outcome as it ends (RESULT_ITEM or FAIL) and notes
 * each start (each_started), so a death fails the one item it was running
 * and the items after it run elsewhere, as separate chunks would. */
#define RP_TASK_EACH  0x8u

struct rp_task_rec {
	uint64_t fn;          /* rp_task_fn, valid in the workers' image */
	uint64_t first_index; /* input index of item 0 */
	uint32_t slot;
	uint32_t flags;
	uint32_t nitems;
	uint32_t pad;
	uint64_t item_size;
	uint64_t result_size; /* per item */
};

static_assert(sizeof(struct rp_task_rec) == 48, "task record layout");

struct rp_task_next_rec {
	uint64_t first_index;
	uint32_t slot;
	uint32_t nitems;
};

static_assert(sizeof(struct rp_task_next_rec) == 16, "task-next record layout");

struct rp_frag_rec {
	uint32_t slot;
	uint32_t pad;
	uint64_t offset;      /* of the first byte in the whole payload */
};

static_assert(sizeof(struct rp_frag_rec) == 16, "frag record layout");

/* rp_result_rec.flags */
#define RP_RESULT_BIG      0x1u /* the results came in FRAG records */
/* The task never ran: it was cancelled.  For an RP_TASK_EACH chunk the
 * owner cancelled while it ran, result_len is the first item not run (the
 * items before it were reported); the rest never ran. */
#define RP_RESULT_CANCELED 0x2u

struct rp_result_rec {
	uint32_t slot;
	uint32_t flags;
	uint64_t result_len;  /* bytes of results: nitems * result_size, or
			       * less for an apply task */
	uint32_t nfail;       /* FAIL records that follow */
	uint32_t pad;
};

static_assert(sizeof(struct rp_result_rec) == 24, "result record layout");

struct rp_result_full_rec {
	uint32_t slot;
	uint32_t nfail;       /* FAIL records that follow */
};

static_assert(sizeof(struct rp_result_full_rec) == 8, "full result layout");

struct rp_result_item_rec {
	uint32_t slot;
	uint32_t item;        /* which item of the chunk (0 .. nitems - 1) */
};

static_assert(sizeof(struct rp_result_item_rec) == 8, "item result layout");

struct rp_fail_rec {
	uint32_t slot;
	uint32_t item;        /* which item of the task (0 .. nitems - 1) */
	int32_t code;         /* the task's return value */
	uint32_t msg_len;     /* message bytes that follow, < RP_ERROR_MESSAGE_MAX */
};

static_assert(sizeof(struct rp_fail_rec) == 16, "fail record layout");

/* Exit statuses of a worker that stops on its own for a reason of ours. */
#define RP_WORKER_EXIT_OK       0   /* EXIT record or max_tasks reached */
#define RP_WORKER_EXIT_INIT     121 /* its initializer failed */
#define RP_WORKER_EXIT_PROTOCOL 122 /* its task ring made no sense */
#define RP_WORKER_EXIT_NOMEM    123 /* could not allocate a big payload */

/* Largest payload of one record in a ring of capacity bytes. */
static inline uint64_t rp__proto_inline_max(uint64_t capacity)
{
	return RP_RING_MAX_PAYLOAD(capacity);
}

#endif
