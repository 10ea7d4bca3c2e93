/* SPDX-License-Identifier: MIT */
/*
 * io_uring opcodes and SQE layouts newer than the liburing we build against.
 *
 * Debian 12 ships liburing 2.3, whose headers stop at IORING_OP_SENDMSG_ZC
 * (49).  The kernels we run on know more: IORING_OP_WAITID (50, 6.7),
 * IORING_OP_FUTEX_WAIT/WAKE (51/52, 6.7).  This header gives their numbers
 * and prep helpers that fill the raw SQE fields, as the kernel reads them in
 * io_uring/futex.c and io_uring/waitid.c:
 *
 *   FUTEX_WAIT/WAKE: fd = FUTEX2_* flags (size, private), addr = futex word,
 *                    addr2 (off) = value (wait: expected; wake: count),
 *                    addr3 = bitset mask; len, the op-flags word, buf_index
 *                    and file_index must be 0.
 *   WAITID:          fd = id, len = idtype, file_index = options,
 *                    addr2 = siginfo_t *, op-flags word = 0.
 *
 * The opcodes are enum constants in newer liburing headers, which #ifndef
 * cannot see, so ours carry an RP_ prefix and never collide with them.
 * Support is a runtime matter: probe before relying on them (see wake.c).
 * Never combine these helpers with IORING_SETUP_NO_SQARRAY: liburing 2.3
 * does not know that flag and completions come back with wrong user_data.
 */
#ifndef RP_URING_COMPAT_H
#define RP_URING_COMPAT_H

#include <stdint.h>
#include <string.h>
#include <liburing.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RP_IORING_OP_WAITID		50
#define RP_IORING_OP_FUTEX_WAIT		51
#define RP_IORING_OP_FUTEX_WAKE		52

/* futex2 flags (linux/futex.h since 6.7; absent from Debian 12's headers). */
#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32		0x02
#endif
#ifndef FUTEX2_PRIVATE
#define FUTEX2_PRIVATE		128
#endif
#define RP_FUTEX_BITSET_ANY	0xffffffffu

static inline void rp__uring_prep_futex(struct io_uring_sqe *sqe, uint8_t op,
					const uint32_t *uaddr, uint64_t val,
					uint64_t mask, uint32_t futex2_flags)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = op;
	sqe->fd = (int32_t)futex2_flags;
	sqe->addr = (uint64_t)(uintptr_t)uaddr;
	sqe->off = val;
	sqe->addr3 = mask;
}

/*
 * Wait while *uaddr == val.  Completes with 0 when woken, -EAGAIN when the
 * word did not hold val at submission, -ECANCELED when cancelled.
 * Pass FUTEX2_SIZE_U32, plus FUTEX2_PRIVATE only for process-private words.
 */
static inline void rp__uring_prep_futex_wait(struct io_uring_sqe *sqe,
					     const uint32_t *uaddr, uint32_t val,
					     uint32_t futex2_flags)
{
	rp__uring_prep_futex(sqe, RP_IORING_OP_FUTEX_WAIT, uaddr, val,
			     RP_FUTEX_BITSET_ANY, futex2_flags);
}

/* Wake up to nr waiters; completes with the number woken. */
static inline void rp__uring_prep_futex_wake(struct io_uring_sqe *sqe,
					     const uint32_t *uaddr, uint32_t nr,
					     uint32_t futex2_flags)
{
	rp__uring_prep_futex(sqe, RP_IORING_OP_FUTEX_WAKE, uaddr, nr,
			     RP_FUTEX_BITSET_ANY, futex2_flags);
}

/* waitid(idtype, id, infop, options) as an SQE; infop must outlive it. */
static inline void rp__uring_prep_waitid(struct io_uring_sqe *sqe,
					 int idtype, int id, siginfo_t *infop,
					 int options)
{
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = RP_IORING_OP_WAITID;
	sqe->fd = id;
	sqe->len = (uint32_t)idtype;
	sqe->file_index = (uint32_t)options;
	sqe->addr2 = (uint64_t)(uintptr_t)infop;
}

#ifdef __cplusplus
}
#endif

#endif
