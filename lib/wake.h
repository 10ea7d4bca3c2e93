/* SPDX-License-Identifier: MIT */
/*
 * Spin-then-sleep waiting and wake-only-if-sleeping signalling between two
 * processes sharing memory.
 *
 * One shared struct rp_wake_word per direction.  Its waiter (the side that
 * may block on it) and its waker (the side whose progress makes the waiter
 * ready) follow a Dekker-style handshake:
 *
 *   waiter                               waker
 *   s = load(seq)                        P: store progress (ring index)
 *   A: store(sleeping, 1)     seq_cst    B: load(sleeping)        seq_cst
 *   [M: membarrier, asym mode]           if 1 and exchange(sleeping, 0):
 *   R: re-check readiness     seq_cst       seq++, futex_wake(seq)
 *   if not ready: futex_wait(seq, s)
 *
 * Either R sees P (the waiter does not block) or B sees A (the waker wakes
 * it); the forbidden outcome is both missing, which needs P to be reordered
 * after B.  Two ways to forbid it:
 *
 * - Symmetric: P is a seq_cst exchange.  P, B, A and R are then all seq_cst
 *   and sit in one total order, which rules the outcome out in C11 terms.
 *   It costs the waker a full barrier on every publication.
 * - Asymmetric (when membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) works and
 *   the waker's process registered for it): P is a plain release store, and
 *   only a compiler barrier separates it from B.  The waiter pays instead,
 *   once per sleep, with M: the kernel runs a full barrier on every CPU that
 *   runs a registered process.  If the waker's B ran before that barrier,
 *   its P is visible by the time M returns, so R sees it; if after, B sees A
 *   (made visible by the barrier the syscall implies on the waiter's side).
 *   A waker not running at the time passed a barrier when it was switched
 *   out.  This keeps the hot path free of locked instructions.
 *
 * The waker records its mode in the word (waker_asym) when it opens; the
 * waiter reads it there.  If M fails the waiter falls back to sleeping in
 * short slices (RP_WAKE_SLICE_NS) so that nothing can stall for good.
 *
 * The waker's exchange reads the waiter's store A, so the waiter's load of
 * seq happens before the waker's increment: futex_wait then either blocks
 * before the wake arrives or fails at once with EAGAIN because seq moved.
 * In steady state (waiter never announces) the waker makes no syscall: one
 * load of a line that stays shared in both caches.
 *
 * Exactly one waiter per word.  The futex is a shared one (no
 * FUTEX_PRIVATE_FLAG): the two sides are different processes.
 *
 * Atomics in shared memory (here, ring.h, proto.h): a field is declared
 * RP_ATOMIC(T).  In C that is an _Atomic T, so that no plain access can slip
 * in, and C code uses <stdatomic.h> on it (atomic_load_explicit() and the
 * like), never GCC's __atomic builtins: clang rejects those on _Atomic
 * objects.  This header also compiles as C++17 for the benchmarks, where
 * RP_ATOMIC(T) is a plain T of the same size and <stdatomic.h> cannot be
 * used; so the inline functions below go through RP_ATOMIC_LOAD() and the
 * like, which are the <stdatomic.h> calls in C and the __atomic builtins
 * they are built on in C++.  Their orders are __ATOMIC_* constants, which
 * equal the memory_order_* ones in both.
 */
#ifndef RP_WAKE_H
#define RP_WAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#define RP_ATOMIC(T) T
#define RP_ATOMIC_LOAD(p, mo)		__atomic_load_n((p), (mo))
#define RP_ATOMIC_STORE(p, v, mo)	__atomic_store_n((p), (v), (mo))
#define RP_ATOMIC_EXCHANGE(p, v, mo)	__atomic_exchange_n((p), (v), (mo))
#else
#include <assert.h>
#include <stdatomic.h>
#define RP_ATOMIC(T) _Atomic T
#define RP_ATOMIC_LOAD(p, mo)		atomic_load_explicit((p), (mo))
#define RP_ATOMIC_STORE(p, v, mo)	atomic_store_explicit((p), (v), (mo))
#define RP_ATOMIC_EXCHANGE(p, v, mo)	atomic_exchange_explicit((p), (v), (mo))
#endif

struct io_uring;

#define RP_LIKELY(x)	__builtin_expect(!!(x), 1)
#define RP_UNLIKELY(x)	__builtin_expect(!!(x), 0)

/* Adaptive spin budget before announcing sleep, in nanoseconds. */
#define RP_WAKE_SPIN_MIN_NS	1000u
#define RP_WAKE_SPIN_MAX_NS	40000u

/* Sleep slice when the waiter cannot run membarrier for an asym waker. */
#define RP_WAKE_SLICE_NS	1000000

/* Shared: one cache line, written by both sides (rarely: only around sleeps). */
struct rp_wake_word {
	RP_ATOMIC(uint32_t) seq;	/* futex word, bumped by each wake */
	RP_ATOMIC(uint32_t) sleeping;	/* 1: the waiter announced it blocks */
	RP_ATOMIC(uint32_t) waker_asym;	/* 1: the waker relies on membarrier */
	uint8_t pad[52];
};

static_assert(sizeof(struct rp_wake_word) == 64, "rp_wake_word is one line");
static_assert(offsetof(struct rp_wake_word, sleeping) == 4, "layout");

/*
 * How a wait spends its spin budget before it announces sleep:
 *   SPIN   pause instructions, checking readiness (own core: fastest);
 *   YIELD  the same, plus sched_yield() at every clock check, so that a
 *          thread waiting for this CPU (the peer that is to make us ready,
 *          when there are more busy threads than cores) runs at once; a
 *          yield that finds nobody waiting stops yielding for a while
 *          (rp__wake_yield);
 *   SLEEP  no spinning at all: announce and block.
 */
enum rp_wake_policy {
	RP_WAKE_SPIN = 0,
	RP_WAKE_YIELD,
	RP_WAKE_SLEEP,
};

/* A sched_yield() that took less than this gave the CPU to nobody. */
#define RP_YIELD_RAN_OTHER_NS	2000
#define RP_YIELD_BACKOFF	256

/* Adaptive yielding state (rp__wake_yield): one per waiting thread. */
struct rp_yield {
	uint32_t skip;		/* yields still to skip */
};

void rp__wake_yield(struct rp_yield *y);

/* Private to one side: it sleeps on mine and wakes its peer on peer. */
struct rp_wake {
	struct rp_wake_word *mine;
	struct rp_wake_word *peer;
	int my_efd;		/* >= 0: io_uring waits read this eventfd */
	int peer_efd;		/* >= 0: wakes also write this eventfd */
	uint32_t spin_ns;	/* current adaptive spin budget */
	uint8_t policy;		/* enum rp_wake_policy */
	struct rp_yield yield;
	bool asym;		/* our wakes rely on the peer's membarrier */
	uint64_t efd_buf;	/* target of the io_uring eventfd read */
	/* Counters (plain: only this side touches them). */
	uint64_t spins;		/* waits that ended while spinning */
	uint64_t sleeps;	/* waits that blocked */
	uint64_t wakeups;	/* wake syscalls sent to the peer */
};

/* Readiness test for a wait; must read the peer's progress seq_cst. */
typedef bool (*rp_wake_ready_fn)(void *arg);

/*
 * rp__wake_init - set up a private handle; no eventfds.  Registers this
 * process for global expedited membarriers (once) and records in peer's
 * word whether our wakes rely on them.
 */
void rp__wake_init(struct rp_wake *w, struct rp_wake_word *mine,
		   struct rp_wake_word *peer);

/*
 * rp__wake_set_eventfds - wire the eventfd fallback for io_uring waits on
 * kernels without IORING_OP_FUTEX_WAIT: my_efd is read by this side's
 * io_uring waits, peer_efd is written by this side's wakes (the same eventfd
 * as the peer's my_efd).  -1 leaves a direction on the futex.  my_efd must
 * be blocking (no EFD_NONBLOCK): io_uring fails reads of non-blocking files
 * with -EAGAIN instead of waiting.  Borrowed: the caller keeps and closes
 * the fds.
 */
void rp__wake_set_eventfds(struct rp_wake *w, int my_efd, int peer_efd);

void rp__wake_peer_slow(struct rp_wake *w);

/* rp__wake_set_policy - how this side's waits spin (enum rp_wake_policy). */
void rp__wake_set_policy(struct rp_wake *w, enum rp_wake_policy policy);

/*
 * rp__wake_set_symmetric - make this waker pay a full barrier per
 * publication instead of its peer a membarrier per sleep.  The pool's rings
 * use it: a worker that sleeps between chunks would otherwise send an IPI
 * to every CPU each time.  Call before either side waits.
 */
void rp__wake_set_symmetric(struct rp_wake *w);

/*
 * rp__wake_store_progress - P above: store the index the peer waits on.
 * Release either way: pairs with the peer's acquire load of the index.
 */
static inline void rp__wake_store_progress(const struct rp_wake *w,
					   RP_ATOMIC(uint64_t) *index,
					   uint64_t value)
{
	if (RP_LIKELY(w->asym))
		RP_ATOMIC_STORE(index, value, __ATOMIC_RELEASE);
	else
		RP_ATOMIC_EXCHANGE(index, value, __ATOMIC_SEQ_CST);
}

/*
 * rp__fence_seq_cst - a full barrier, for a handshake whose P is a release
 * store (rp__ring_release_publish, the pool's pending queue).
 * ThreadSanitizer does not model fences (GCC warns: -Wtsan); under it a
 * seq_cst read-modify-write of a word of the thread's own stands in, which
 * is a full barrier on the CPU all the same.
 */
static inline void rp__fence_seq_cst(void)
{
#if defined(__SANITIZE_THREAD__)
	static __thread int own;

	__atomic_fetch_add(&own, 0, __ATOMIC_SEQ_CST);
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/*
 * rp__wake_peer - B above: call after rp__wake_store_progress().  Makes a
 * syscall only if the peer announced sleep.
 */
static inline void rp__wake_peer(struct rp_wake *w)
{
	/* Compiler barrier: B stays after P; the CPU side is M's job. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	/* seq_cst: pairs with the store A in announce() (wake.c). */
	if (RP_UNLIKELY(RP_ATOMIC_LOAD(&w->peer->sleeping, __ATOMIC_SEQ_CST)))
		rp__wake_peer_slow(w);
}

/*
 * rp__wake_wait - wait until ready(arg), spinning up to the adaptive budget
 * then blocking on the futex.  timeout_ns < 0 waits forever.
 * Returns 0 when ready, -ETIMEDOUT, or -errno of the futex.
 */
int rp__wake_wait(struct rp_wake *w, rp_wake_ready_fn ready, void *arg,
		  int64_t timeout_ns);

/*
 * rp__wake_wait_uring - the same, blocking through io_uring (a FUTEX_WAIT
 * SQE, or a read of my_efd when one is set) with a linked timeout.  The ring
 * must have no other requests in flight: this call reaps its completions.
 * Returns 0, -ETIMEDOUT, -EOPNOTSUPP (no futex opcode and no eventfd set),
 * -EBUSY (no free SQE), or -errno of io_uring.
 */
int rp__wake_wait_uring(struct rp_wake *w, struct io_uring *ring,
			rp_wake_ready_fn ready, void *arg, int64_t timeout_ns);

/*
 * For an event loop multiplexing many waits on one ring:
 * rp__wake_uring_arm - spin, announce sleep and re-check; returns 1 when
 * ready (nothing queued), 0 when one SQE tagged user_data is queued (not
 * submitted), 2 when queued but the wait must not outlast RP_WAKE_SLICE_NS
 * (membarrier failed, see above), or -EOPNOTSUPP/-EBUSY as above.
 * rp__wake_uring_done - call with that SQE's completion result; withdraws
 * the announcement.  Then test readiness again: wakes may be spurious.
 */
int rp__wake_uring_arm(struct rp_wake *w, struct io_uring *ring,
		       uint64_t user_data, rp_wake_ready_fn ready, void *arg);
void rp__wake_uring_done(struct rp_wake *w, int res);

/*
 * rp__wake_uring_futex_supported - 1 when this kernel runs
 * IORING_OP_FUTEX_WAIT with our SQE layout, 0 when not, -errno when
 * io_uring itself is unavailable.  Probed once per process, then cached.
 */
int rp__wake_uring_futex_supported(void);

#ifdef __cplusplus
}
#endif

#endif
