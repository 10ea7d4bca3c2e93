/* SPDX-License-Identifier: MIT */
/*
 * Raw system calls the C library does not wrap (or wraps too late for
 * Debian 12), each returning -errno on failure and never touching errno for
 * the caller's benefit.
 */
#ifndef RP_SYS_H
#define RP_SYS_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * rp__sys_clone - fork-like clone: the child returns 0 on the caller's
 * stack; the parent gets the child's pid and a pidfd (O_CLOEXEC).
 * flags may hold CLONE_PARENT; exit_signal is the signal the parent gets
 * when the child ends (0 for none: then only __WALL waits see the child).
 * Uses clone3 with CLONE_PIDFD; where clone3 is missing (ENOSYS, as under
 * valgrind) or its fallback is forced (fallback.h), the legacy clone
 * syscall with CLONE_PIDFD.
 */
pid_t rp__sys_clone(uint64_t flags, int exit_signal, int *ret_pidfd);

/*
 * rp__sys_fork - fork() (atfork handlers run, so the child's malloc and
 * stdio locks are consistent) plus a pidfd for the child.  Where
 * pidfd_open is missing (valgrind) it is rp__sys_clone(0, SIGCHLD), which
 * runs no atfork handler.  Same returns as rp__sys_clone.
 */
pid_t rp__sys_fork(int *ret_pidfd);

/* 1 when rp__sys_clone uses the legacy fallback, 0 when it uses clone3. */
int rp__sys_clone_is_fallback(void);

int rp__sys_pidfd_open(pid_t pid);
/*
 * rp__sys_pidfd_send_signal - signal through the pidfd; pid serves only
 * where the kernel interface is missing, and must be an unreaped child's.
 */
int rp__sys_pidfd_send_signal(int pidfd, pid_t pid, int sig);

/*
 * rp__sys_pidfd_reap - reap the child behind pidfd if it has ended.
 * Returns 1 and *ret_code (exit status, or minus the killing signal),
 * 0 while it runs, -errno.  When another waiter of this process reaped it
 * first (waitpid(-1) in a SIGCHLD handler), the status still comes from
 * the pidfd where the kernel keeps it (PIDFD_INFO_EXIT, Linux 6.15);
 * elsewhere -ECHILD: the status is lost.
 */
int rp__sys_pidfd_reap(int pidfd, int *ret_code);

/* close every fd >= first except those in keep[] (any order). */
int rp__sys_close_fds_except(int first, const int *keep, int nkeep);

/*
 * rp__sys_wait_readable - wait until fd is readable, up to timeout_ns
 * (negative: forever).  Returns 1 when readable, 0 on timeout, -errno.
 * Restarts after signals with the time that is left.
 */
int rp__sys_wait_readable(int fd, int64_t timeout_ns);

/*
 * In-process futex on a 32-bit word: wait while *word == val, until the
 * absolute CLOCK_MONOTONIC deadline (negative: none).  Returns 0 (woken or
 * the value changed), -ETIMEDOUT, -EINTR.
 */
int rp__sys_futex_wait_private(_Atomic uint32_t *word, uint32_t val,
			       int64_t deadline);
void rp__sys_futex_wake_private(_Atomic uint32_t *word);

/*
 * rp__sys_under_valgrind - 1 when running on valgrind, whose scheduler keeps
 * its one big lock through system calls it does not know may block (such
 * as io_uring_enter), so such waits must be short there.
 */
int rp__sys_under_valgrind(void);

static inline int64_t rp__now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#ifdef __cplusplus
}
#endif

#endif
