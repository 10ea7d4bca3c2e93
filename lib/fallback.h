/* SPDX-License-Identifier: MIT */
/*
 * Forcing fallbacks.  Every kernel feature the library probes for has a
 * fallback that older kernels take (README, "Kernels").  A fallback that no
 * test runs does not work, so each one can be forced on a kernel that has
 * the feature: RP_FALLBACK in the environment is a comma-separated list of
 * the names below, or "all".  The probes stay in their own modules; this
 * one only answers whether the environment forbids the feature.
 */
#ifndef RP_FALLBACK_H
#define RP_FALLBACK_H

#include <stdbool.h>

enum rp__fallback {
	/* "clone3": the legacy clone syscall with CLONE_PIDFD (sys.c). */
	RP_FALLBACK_CLONE3,
	/* "uring_futex": the loop thread waits on an eventfd per worker
	 * instead of IORING_OP_FUTEX_WAIT on its result ring (workers.c). */
	RP_FALLBACK_URING_FUTEX,
	/* "pidfd_exit": no PIDFD_INFO_EXIT, so a child's status taken by
	 * another waiter in the process is lost (sys.c). */
	RP_FALLBACK_PIDFD_EXIT,
	/* "membarrier": the symmetric wake handshake only (wake.c). */
	RP_FALLBACK_MEMBARRIER,
	RP_FALLBACK_COUNT_,
};

/*
 * rp__fallback_forced - true when the environment forces fallback f.
 * RP_FALLBACK is read once per process; the older switches RP_NO_CLONE3=1
 * and RP_WAKE_SYMMETRIC=1 still force their single fallback.
 * Thread-safe and async-signal-safe once called in the parent.
 */
bool rp__fallback_forced(enum rp__fallback f);

#endif
