/* SPDX-License-Identifier: MIT */
/*
 * Shared harness for the Process API tests (tests/api, tests/seeds).
 *
 * Children report through one MAP_SHARED|MAP_ANONYMOUS page, never through
 * fds: a child keeps only fds 0, 1 and 2.  The page is mapped in the group
 * setup *before* the forkserver zygote is warmed up, so it is part of the
 * zygote's snapshot and is shared with every later child of either start
 * method; being mapped before the per-test snapshots, it is no leak either.
 * Per-test data reaches a child only through its argument bytes (a
 * forkserver child sees the caller's globals as they were at warm-up).
 *
 * Synchronisation is event-driven: each slot has a futex "ready" word the
 * child raises and a futex "gate" word the test opens.  Every wait is
 * bounded as a hang guard only; nothing asserts on elapsed time.
 */
#ifndef RP_TEST_HARNESS_H
#define RP_TEST_HARNESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ringpool.h"

#define H_SLOTS 16
#define H_TEXT 64

/* A test's hang guard: a wait this long means something is broken. */
#define H_GUARD_S 30
#define H_GUARD_NS ((int64_t)H_GUARD_S * 1000000000)

/* Exit code of a child whose gate never opened within its own guard. */
#define H_EXIT_GUARD 99

struct h_shared {
	uint32_t gate[H_SLOTS];   /* 0 closed, 1 open: written by the test */
	uint32_t ready[H_SLOTS];  /* 0, then 1 once the child reported */
	uint32_t done[H_SLOTS];   /* set by a child that got past its gate */
	uint32_t guard[H_SLOTS];  /* set by a child whose gate timed out */
	uint32_t sigterm[H_SLOTS]; /* set by a child's SIGTERM handler */
	int32_t pid[H_SLOTS];     /* getpid() of the child in the slot */
	int32_t ppid[H_SLOTS];    /* getppid() of the child at report time */
	int32_t val[H_SLOTS];     /* free-form values */
	int32_t val2[H_SLOTS];
	char text[H_SLOTS][H_TEXT];
};

extern struct h_shared *h_sh;

/* The start method of a parametrised test, and its printable name. */
extern const enum rp_start_method h_methods[2];
const char *h_method_name(enum rp_start_method m);

/* Group fixtures: map the page, warm up both start methods. */
int h_group_setup(void **state);
int h_group_teardown(void **state);

/* Per-test fixtures: reset the page and leak_setup(); release every gate,
 * free every tracked process, then leak_teardown(). */
int h_setup(void **state);
int h_teardown(void **state);

/* ---- child side (no cmocka, no assertions) ---- */

/* Record pid, ppid and rp_current_process_name(), then raise ready. */
void h_child_ready(int slot);
/* Wait for the slot's gate; 0 once open, -1 after guard_s seconds. */
int h_child_wait_gate(int slot, int guard_s);
/* Wait for another child's ready word; 0, or -1 after guard_s seconds. */
int h_child_wait_ready(int slot, int guard_s);
/* h_child_ready + h_child_wait_gate(H_GUARD_S); sets done or guard. */
int h_child_block(int slot);

/* The usual child: blocks on its slot, then returns code. */
struct h_block_arg {
	int slot;
	int code;
};
int h_block_fn(void *arg, size_t len);

/* ---- test side ---- */

/* Bounded wait (H_GUARD_S) for the slot's ready word; fails the test. */
void h_wait_ready(int slot);
void h_open_gate(int slot);

/* Create (asserting success) and track, so a failed test leaks nothing. */
rp_process_t *h_new(const struct rp_process_opts *opts);
/* A tracked h_block_fn child on slot with the given code, name, daemon. */
rp_process_t *h_new_blocker(enum rp_start_method m, int slot, int code,
			    const char *name, bool daemon);
/* Track a process made elsewhere (by another thread), as h_new does. */
rp_process_t *h_track(rp_process_t *p);
/* Untrack and rp_process_free(). */
void h_free(rp_process_t *p);
/* Untrack only (after a successful rp_process_close()). */
void h_untrack(rp_process_t *p);

/* Join within the guard (asserting 0) and return the exit code. */
int h_join_code(rp_process_t *p);

/*
 * Wait, without reaping it, until our own child pid has ended
 * (waitid(WNOWAIT): no pidfd needed, so it works under valgrind too).  The
 * child's own gate guard bounds it.
 */
void h_child_wait_end(pid_t pid);
/* Whether our child pid has been reaped (by the library). */
bool h_child_reaped(pid_t pid);

/*
 * For processes that are not our children: pidfd_open(pid), tracked like
 * processes; skip()s the test where pidfd_open is missing (valgrind).
 * h_pidfd_wait asserts it becomes readable (the process ended) within the
 * guard.
 */
int h_pidfd(pid_t pid);
void h_pidfd_wait(int pidfd);
void h_pidfd_close(int pidfd);

/*
 * The functions declared RP_API in the header at path (the tests get the
 * public header's path from meson as RP_PUBLIC_HEADER), at most cap of
 * them, into names[]; returns how many.
 */
size_t h_header_functions(const char *path, char names[][64], size_t cap);

/*
 * The one child of this process (of any of its threads) whose comm is
 * comm, or 0 when there is none; fails the test when there are several.
 * For the library's helpers, such as "rp-zygote".
 */
pid_t h_find_child(const char *comm);

/*
 * pthread_join(t), then wait (bounded by the guard) until the kernel is
 * done with the thread, whose id it wrote to *tid: it leaves
 * /proc/self/task only after it has sent the parent-death signals of the
 * children it made, which pthread_join alone does not wait for.
 */
void h_join_thread_gone(pthread_t t, const pid_t *tid);

/* Per-test fixtures as cmocka entries: T(fn), and T2 for BOTH's pair. */
#define T(fn) cmocka_unit_test_setup_teardown(fn, h_setup, h_teardown)
#define T2(fn) T(fn##_forkserver), T(fn##_fork)

/* One test entry per start method for a behaviour taking the method. */
#define BOTH(fn)                                                               \
	static void fn##_forkserver(void **state)                              \
	{                                                                      \
		fn(RP_START_FORKSERVER);                                       \
	}                                                                      \
	static void fn##_fork(void **state)                                    \
	{                                                                      \
		fn(RP_START_FORK);                                             \
	}

/* A value no call would write: "untouched" checks compare with it. */
#define SENTINEL 0x5eed

#endif
