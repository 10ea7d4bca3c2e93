/* SPDX-License-Identifier: MIT */
/*
 * A worker's crash report: the worker records its stack in its control
 * block as it dies of a fault, and the owner puts it in the error of the
 * tasks that worker held.
 */
#ifndef RP_CRASH_H
#define RP_CRASH_H

#include "proto.h"
#include "ringpool.h"

/* In the owner, before any worker is cloned: load the unwinder once, so
 * that workers inherit it loaded (see crash.c). */
void rp__crash_preload(void);

/* In the worker: catch fault signals to record the stack, then die of
 * the same signal (the exit status the owner sees is unchanged). */
void rp__crash_handler_install(struct rp_worker_ctl *ctl);

/* In the owner, after reaping: add the recorded stack, if it is of the
 * signal the worker died of, to why (frames and a message naming the
 * innermost one). */
void rp__crash_describe(const struct rp_worker_ctl *ctl, int signal,
			struct rp_error *why);

#endif
