/* SPDX-License-Identifier: MIT */
#include "sys.h"
#include "rp_config.h"

#include <assert.h>
#include <errno.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if RP_HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#endif

#include "fallback.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

enum clone_mode { CLONE_MODE_UNKNOWN, CLONE_MODE_CLONE3, CLONE_MODE_LEGACY };

/* Decided once; a relaxed atomic is enough since every thread decides alike. */
static _Atomic int clone_mode = CLONE_MODE_UNKNOWN;

static int clone_mode_get(void)
{
	int mode = atomic_load_explicit(&clone_mode, memory_order_relaxed);

	if (mode != CLONE_MODE_UNKNOWN)
		return mode;
	mode = rp__fallback_forced(RP_FALLBACK_CLONE3) ? CLONE_MODE_LEGACY :
							 CLONE_MODE_CLONE3;
	atomic_store_explicit(&clone_mode, mode, memory_order_relaxed);
	return mode;
}

int rp__sys_clone_is_fallback(void)
{
	return clone_mode_get() == CLONE_MODE_LEGACY;
}

int rp__sys_pidfd_open(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : (int)fd;
}

/*
 * The legacy clone takes CLONE_PIDFD too (the pidfd lands in parent_tid),
 * and valgrind passes it through, while it knows neither clone3 nor
 * pidfd_open.  A NULL stack makes the child continue on a copy of ours.
 */
static pid_t clone_legacy(uint64_t flags, int exit_signal, int *ret_pidfd)
{
	int pidfd = -1;
	long pid = syscall(SYS_clone,
			   (unsigned long)(flags | CLONE_PIDFD) | (unsigned)exit_signal,
			   NULL, &pidfd, NULL, 0);

	if (pid < 0)
		return -errno;
	if (pid > 0)
		*ret_pidfd = pidfd;
	return (pid_t)pid;
}

pid_t rp__sys_clone(uint64_t flags, int exit_signal, int *ret_pidfd)
{
	struct clone_args args;
	int pidfd = -1;
	long pid;

	if (clone_mode_get() == CLONE_MODE_LEGACY)
		return clone_legacy(flags, exit_signal, ret_pidfd);

	memset(&args, 0, sizeof(args));
	args.flags = flags | CLONE_PIDFD;
	args.pidfd = (uint64_t)(uintptr_t)&pidfd;
	args.exit_signal = (flags & CLONE_PARENT) ? 0 : (uint64_t)exit_signal;
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0 && errno == ENOSYS) {
		atomic_store_explicit(&clone_mode, CLONE_MODE_LEGACY,
				      memory_order_relaxed);
		return clone_legacy(flags, exit_signal, ret_pidfd);
	}
	if (pid < 0)
		return -errno;
	if (pid > 0)
		*ret_pidfd = pidfd;
	return (pid_t)pid;
}

static int have_pidfd_open(void)
{
	static _Atomic int known = -1;
	int have = atomic_load_explicit(&known, memory_order_relaxed);
	int fd;

	if (have >= 0)
		return have;
	fd = rp__sys_pidfd_open(getpid());
	have = fd != -ENOSYS;
	if (fd >= 0)
		close(fd);
	atomic_store_explicit(&known, have, memory_order_relaxed);
	return have;
}

pid_t rp__sys_fork(int *ret_pidfd)
{
	pid_t pid;
	int pidfd;

	if (!have_pidfd_open())
		return rp__sys_clone(0, SIGCHLD, ret_pidfd);
	pid = fork();
	if (pid <= 0)
		return pid < 0 ? -errno : 0;
	/* Race-free: only we can reap it, and we have not. */
	pidfd = rp__sys_pidfd_open(pid);
	if (pidfd < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return pidfd;
	}
	*ret_pidfd = pidfd;
	return pid;
}

int rp__sys_pidfd_send_signal(int pidfd, pid_t pid, int sig)
{
	static _Atomic bool missing;

	if (!atomic_load_explicit(&missing, memory_order_relaxed)) {
		if (syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) == 0)
			return 0;
		if (errno != ENOSYS)
			return -errno;
		atomic_store_explicit(&missing, true, memory_order_relaxed);
	}
	/* Where pidfd_send_signal is unknown (valgrind), kill() is as safe
	 * for a child we have not reaped: its pid cannot be reused yet. */
	return kill(pid, sig) < 0 ? -errno : 0;
}

/*
 * PIDFD_GET_INFO (Linux 6.13) with PIDFD_INFO_EXIT (6.15): the exit status
 * of a process behind a pidfd, kept by the kernel even after another
 * waiter reaped it.  Debian 12's headers predate both; the layout is the
 * first version of struct pidfd_info (64 bytes), which every later kernel
 * accepts.
 */
struct pidfd_info_v0 {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid;
	uint32_t fsuid, fsgid;
	int32_t exit_code;          /* a wait status, as waitpid() gives */
};

#define RP_PIDFD_GET_INFO _IOWR(0xFF, 11, struct pidfd_info_v0)
#define RP_PIDFD_INFO_EXIT (1ull << 3)

static_assert(sizeof(struct pidfd_info_v0) == 64, "PIDFD_INFO_SIZE_VER0");

/* The status of a child that somebody else reaped: 1 and *ret_code, or
 * -ECHILD where the kernel keeps none (or the fallback is forced). */
static int reaped_elsewhere(int pidfd, int *ret_code)
{
	struct pidfd_info_v0 info;

	if (rp__fallback_forced(RP_FALLBACK_PIDFD_EXIT))
		return -ECHILD;
	memset(&info, 0, sizeof(info));
	info.mask = RP_PIDFD_INFO_EXIT;
	if (ioctl(pidfd, RP_PIDFD_GET_INFO, &info) < 0 ||
	    !(info.mask & RP_PIDFD_INFO_EXIT))
		return -ECHILD;
	*ret_code = WIFEXITED(info.exit_code) ? WEXITSTATUS(info.exit_code) :
		    WIFSIGNALED(info.exit_code) ? -WTERMSIG(info.exit_code) :
		    -ECHILD;
	return *ret_code == -ECHILD ? -ECHILD : 1;
}

int rp__sys_pidfd_reap(int pidfd, int *ret_code)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	/* __WALL: children made with exit_signal 0 are invisible otherwise. */
	if (waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si,
		   WEXITED | WNOHANG | __WALL) < 0)
		return errno == ECHILD ? reaped_elsewhere(pidfd, ret_code) :
					 -errno;
	if (si.si_pid == 0)
		return 0;
	*ret_code = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
	return 1;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

int rp__sys_close_fds_except(int first, const int *keep, int nkeep)
{
	int sorted[64];
	int lo = first;

	if (nkeep < 0 || nkeep > 64)
		return -EINVAL;
	memcpy(sorted, keep, sizeof(int) * (size_t)nkeep);
	qsort(sorted, (size_t)nkeep, sizeof(int), cmp_int);
	for (int i = 0; i < nkeep; i++) {
		if (sorted[i] < lo)
			continue;
		if (sorted[i] > lo &&
		    syscall(SYS_close_range, lo, sorted[i] - 1, 0) < 0)
			return -errno;
		lo = sorted[i] + 1;
	}
	return syscall(SYS_close_range, lo, ~0U, 0) < 0 ? -errno : 0;
}

int rp__sys_wait_readable(int fd, int64_t timeout_ns)
{
	int64_t deadline = timeout_ns < 0 ? -1 : rp__now_ns() + timeout_ns;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	for (;;) {
		struct timespec ts, *tsp = NULL;
		int64_t left;
		int n;

		if (deadline >= 0) {
			left = deadline - rp__now_ns();
			if (left < 0)
				left = 0;
			ts.tv_sec = left / 1000000000;
			ts.tv_nsec = left % 1000000000;
			tsp = &ts;
		}
		n = ppoll(&pfd, 1, tsp, NULL);
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -errno;
	}
}

int rp__sys_futex_wait_private(_Atomic uint32_t *word, uint32_t val,
			       int64_t deadline)
{
	struct timespec ts, *tsp = NULL;

	if (deadline >= 0) {
		ts.tv_sec = deadline / 1000000000;
		ts.tv_nsec = deadline % 1000000000;
		tsp = &ts;
	}
	/* FUTEX_WAIT_BITSET takes an absolute time, unlike FUTEX_WAIT. */
	if (syscall(SYS_futex, word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
		    val, tsp, NULL, FUTEX_BITSET_MATCH_ANY) == 0)
		return 0;
	if (errno == EAGAIN)
		return 0;
	return -errno;
}

void rp__sys_futex_wake_private(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, INT32_MAX,
		NULL, NULL, 0);
}

int rp__sys_under_valgrind(void)
{
#if RP_HAVE_VALGRIND_H
	return RUNNING_ON_VALGRIND ? 1 : 0;
#else
	return 0;
#endif
}
