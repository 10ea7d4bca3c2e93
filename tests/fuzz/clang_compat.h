/* SPDX-License-Identifier: MIT */
/*
 * Lets clang build lib/ for the fuzz target, without changing what it does.
 * Included ahead of every file of the fuzz build (-include).
 *
 * lib/ is written for GCC, and clang 14 rejects two of its constructs:
 * - GCC's __atomic builtins applied to _Atomic objects (wake.h, ring.h,
 *   ring.c).  Each builtin is redefined to take a pointer to the same type
 *   without _Atomic (the comma drops it), which is what GCC does anyway; a
 *   macro is not expanded inside itself, so the inner name is the builtin.
 * - The address of a vector element, &v[0], in rp__ring_push() (ring.h).
 *   ring_clang.h is ring.h with that one expression spelled (void *)&v,
 *   the same first 8 bytes; its include guard keeps lib/ring.h out.
 *   ring_clang.py makes it at build time and fails if the text it fixes
 *   is no longer there.
 * Remove this file when lib/ builds with clang as it is.
 */
#ifndef RP_FUZZ_CLANG_COMPAT_H
#define RP_FUZZ_CLANG_COMPAT_H

#define RP__NOATOMIC(p) (__typeof__((void)0, *(p)) *)(p)
#define __atomic_load_n(p, o) __atomic_load_n(RP__NOATOMIC(p), (o))
#define __atomic_store_n(p, v, o) __atomic_store_n(RP__NOATOMIC(p), (v), (o))
#define __atomic_exchange_n(p, v, o) \
	__atomic_exchange_n(RP__NOATOMIC(p), (v), (o))
#define __atomic_compare_exchange_n(p, e, d, w, s, f) \
	__atomic_compare_exchange_n(RP__NOATOMIC(p), (e), (d), (w), (s), (f))
#define __atomic_fetch_add(p, v, o) __atomic_fetch_add(RP__NOATOMIC(p), (v), (o))
#define __atomic_fetch_sub(p, v, o) __atomic_fetch_sub(RP__NOATOMIC(p), (v), (o))

#include "ring_clang.h"

#endif
