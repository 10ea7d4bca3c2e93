/* SPDX-License-Identifier: MIT */
/*
 * For the wake tests: see a waiter really blocked.  A waiter that announced
 * it sleeps (rp_wake_word.sleeping) still re-checks readiness and may find
 * its record without blocking, so a test that must count a sleep first
 * waits, with nothing published, until the waiting thread is in state 'S'
 * (/proc/PID/task/TID/stat): past its announcement the only interruptible
 * sleep on its path is the futex (or io_uring) wait, counted in
 * rp_wake.sleeps before it is entered.
 */
#ifndef RP_TEST_TASK_STATE_H
#define RP_TEST_TASK_STATE_H

#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/*
 * The state letter of thread tid of process pid, or 0 when it is gone.
 * open and read, no stdio: a forked child of the test calls it too.
 */
static inline char test_task_state(pid_t pid, pid_t tid)
{
	char path[64], buf[512], *close_paren;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid,
		 (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* "tid (comm) S ...": comm may hold spaces and parentheses. */
	close_paren = strrchr(buf, ')');
	return close_paren && close_paren[1] == ' ' ? close_paren[2] : 0;
}

/*
 * Until thread tid of pid is in state 'S': true.  false once it ended
 * (gone, 'Z' or 'X') or after guard_ns, a hang guard only.
 */
static inline bool test_await_blocked(pid_t pid, pid_t tid, int64_t guard_ns)
{
	struct timespec ts;
	int64_t now, end;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec + guard_ns;
	for (;;) {
		char c = test_task_state(pid, tid);

		if (c == 'S')
			return true;
		if (c == 0 || c == 'Z' || c == 'X')
			return false;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
		if (now >= end)
			return false;
		sched_yield();
	}
}

#endif
