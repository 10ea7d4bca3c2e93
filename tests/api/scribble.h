/* SPDX-License-Identifier: MIT */
/*
 * The scribble test (test_pool_scribble.c): what the test's side and the
 * workers' side (scribble_worker.c, the tasks) share.
 */
#ifndef RP_TEST_SCRIBBLE_H
#define RP_TEST_SCRIBBLE_H

#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "leak.h"
#include "proto.h"
#include "ring.h"
#include "ringpool.h"

#define RING_BYTES 4096u
#define GUARD_S 30
#define GUARD_NS ((int64_t)GUARD_S * 1000000000)
#define NTASKS 8       /* the T tasks of a case */
#define NFLOOD 300     /* more task records than both task rings hold */
#define NBIG 2         /* big tasks: one lands on each worker */
#define BIG_ARG 3000u  /* more than one record holds: FRAG records */
#define NBEFORE 3      /* tasks on the victim before S ... */
#define NBEFORE_BIG 48 /* ... and before a big T: 1.5 KiB of its task ring
			* (32-byte TASK_NEXT records, lib/proto.h) */
#define MAP_N 1000
#define PAD_CAP 2000u  /* result room of the task that moves the ring */
#define CHUNK_N 20     /* items of the chunk that scribbles a ring head */

/* Failure codes of the tasks for their own problems. */
#define E_ARG 90       /* argument or result size not as expected */
#define E_REGION 91    /* no single rp-worker mapping with a sane layout */
#define E_GUARD 92     /* a wait ran out its hang guard */
#define E_PLACE 93     /* the result ring is not where the case needs it */
#define E_TASKFAIL 7   /* the code the chunk's items fail with */

/* Shared with the workers: mapped before each pool (and its zygote). */
struct page {
	_Atomic uint32_t gate_pid;   /* G reports its pid */
	_Atomic uint32_t gate_open;  /* the test lets G return */
	_Atomic uint32_t victim;     /* S reports its pid */
	_Atomic uint32_t armed;      /* the test holds a pidfd on S's worker */
	_Atomic uint32_t scribbled;  /* S damaged what the flood must meet */
	_Atomic uint32_t go;         /* the test queued the T tasks */
	_Atomic uint32_t nscribbled; /* queued slots S marked not QUEUED */
	_Atomic uint32_t barrier;    /* tasks arrived at the barrier */
	_Atomic uint32_t pad_left;   /* bytes the ring still has to move */
};

/* What value_task and friends return. */
struct val {
	uint64_t v;
	int32_t pid;
	int32_t worker;
};

static inline uint64_t val_of(uint64_t x)
{
	return x * 0x9e3779b97f4a7c15ull + 12345;
}

#define FORGED_VALUE 0x5c41bb1e0ddba11ull

/* ---- every scribble --------------------------------------------------- */

enum scribble {
	/* The result ring's producer index (tail), then S waits to be killed. */
	SC_TAIL_FAR_AHEAD,
	SC_TAIL_CAP_PLUS_8,
	SC_TAIL_REPLAY,      /* exactly one capacity ahead: stale bytes */
	SC_TAIL_BACK_8,
	SC_TAIL_ZERO,
	SC_TAIL_ODD,
	SC_TAIL_PLUS_4,
	SC_TAIL_ALL_ONES,
	/* The result ring's consumer index (head), owned by the owner. */
	SC_HEAD_AHEAD,
	SC_HEAD_ODD,
	/* Record headers. */
	SC_KIND_ZERO,
	SC_KIND_PAST_MAX,
	SC_KIND_USER_MAX,
	SC_KIND_TASK,
	SC_KIND_EXIT,
	SC_KIND_INIT_AGAIN,
	SC_HDR_HIGH_BITS,
	SC_WRAP_SHORT,
	SC_LEN_HUGE,
	SC_LEN_PAST_MAX,
	SC_LEN_PAST_TAIL,
	SC_LEN_PAST_END,
	/* RESULT records. */
	SC_SLOT_OUT_OF_RANGE,
	SC_SLOT_ALL_ONES,
	SC_SLOT_NEVER_SENT,
	SC_SLOT_TWICE_PENDING,
	SC_SLOT_TWICE_DONE,
	SC_RLEN_LONG,
	SC_RLEN_BODY,
	SC_RLEN_HUGE,
	SC_RREC_SHORT,
	SC_RESULT_CANCELED,
	SC_NFAIL_2,
	SC_NFAIL_ALL_ONES,
	/* FAIL records. */
	SC_FAIL_MSG_MAX,
	SC_FAIL_MSG_HUGE,
	SC_FAIL_MSG_PAST_BODY,
	SC_FAIL_NO_RESULT,
	SC_FAIL_ITEM,
	SC_FAIL_CODE_0,
	/* FRAG records. */
	SC_FRAG_OFFSET,
	SC_FRAG_OFFSET_HUGE,
	SC_FRAG_TOO_LONG,
	SC_FRAG_SHORT,
	SC_FRAG_NEVER_SENT,
	SC_BIG_MISMATCH,
	/* The control block. */
	SC_CTL,
	SC_CRASH_FORGED,     /* forged fields, then death by SIGILL unhandled */
	SC_CRASH_SIGKILL,    /* forged fields claim SIGKILL, then SIGKILL */
	SC_CRASH_MISMATCH,   /* forged fields claim SIGILL, death by SIGTRAP */
	SC_CRASH_HANDLED,    /* garbage, then a crash the worker's handler sees */
	/* Everything at once. */
	SC_MEMSET,
	SC_MEMSET_GO,
	/* The task ring's indices. */
	SC_TASK_TAIL,
	SC_TASK_HEAD,
};

/* S's argument; its inline copy in the task ring also tells S its slot. */
struct sarg {
	struct page *page;
	uint32_t sc;
	uint32_t pad;
	uint64_t x;
};

/* ---- waits (both sides) ----------------------------------------------- */

static inline int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void futex_wake_all(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

static inline void set_word(_Atomic uint32_t *w, uint32_t v)
{
	atomic_store(w, v);
	futex_wake_all(w);
}

/* Wait until *w >= min; 0, or -1 after the guard.  Safe in a worker. */
static inline int wait_word(_Atomic uint32_t *w, uint32_t min)
{
	int64_t end = now_ns() + GUARD_NS;

	for (;;) {
		uint32_t v = atomic_load(w);
		int64_t left = end - now_ns();
		struct timespec ts;

		if (v >= min)
			return 0;
		if (left <= 0)
			return -1;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		syscall(SYS_futex, w, FUTEX_WAIT, v, &ts, NULL, 0);
	}
}


/* ---- the tasks (scribble_worker.c) ----------------------------------------- */

struct garg {
	struct page *page;
	uint64_t x;
};

/* What a task sees of the rp-worker mappings. */
struct mrep {
	uint32_t lines, inodes;
	uint32_t layout_ok;    /* magic and capacities as configured */
	uint32_t index_ok;     /* ctl->index is this worker's number */
	uint32_t in_region;    /* arg and res point into the region */
	uint32_t mapped[2];    /* whether the addresses asked about are mapped */
	int32_t pid;
	uint64_t base;
};

struct marg {
	struct page *page;
	uint64_t ask[2];       /* addresses to look up; 0: none */
	uint32_t meet;         /* wait at the barrier for a second task */
	uint32_t pad;
};

int scribble_task(const void *arg, size_t len, void *res, size_t cap,
		  rp_task_ctx_t *ctx);
int chunk_task(const void *arg, size_t len, void *res, size_t cap,
	       rp_task_ctx_t *ctx);
int value_task(const void *arg, size_t len, void *res, size_t cap,
	       rp_task_ctx_t *ctx);
int gate_task(const void *arg, size_t len, void *res, size_t cap,
	      rp_task_ctx_t *ctx);
int barrier_task(const void *arg, size_t len, void *res, size_t cap,
		 rp_task_ctx_t *ctx);
int pad_task(const void *arg, size_t len, void *res, size_t cap,
	     rp_task_ctx_t *ctx);
int maps_task(const void *arg, size_t len, void *res, size_t cap,
	      rp_task_ctx_t *ctx);

#endif
