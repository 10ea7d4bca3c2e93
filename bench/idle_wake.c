/* SPDX-License-Identifier: MIT */
/*
 * idle-wake: the floor for waking an idle pool.  Two processes pinned to
 * CPUs 0 and 1 play futex ping-pong, but each round starts after MS ms in
 * which neither runs, as a pool's first task after a pause does; a
 * continuous ping-pong (../shared/baselines/wake_pingpong.c) never lets
 * the CPUs go idle, and on a virtual machine an idle vCPU takes far longer
 * to wake.  The parent times each round trip: its futex wake to the child,
 * the child's wake back.
 *
 * Usage: idle-wake ROUNDS [MS]   (prints one JSON object; MS default 100)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct shared {
	_Atomic uint32_t to_child;   /* round number the child may answer */
	_Atomic uint32_t to_parent;  /* round number the child answered */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *w, uint32_t v)
{
	syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}

static void futex_wake(_Atomic uint32_t *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Block until *w != v (no spinning: the floor of a blocking wake). */
static void wait_change(_Atomic uint32_t *w, uint32_t v)
{
	while (atomic_load(w) == v)
		futex_wait(w, v);
}

static void child(struct shared *s, uint32_t rounds)
{
	pin(1);
	for (uint32_t r = 1; r <= rounds; r++) {
		wait_change(&s->to_child, r - 1);
		atomic_store(&s->to_parent, r);
		futex_wake(&s->to_parent);
	}
	_exit(0);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	uint32_t rounds = argc > 1 ? (uint32_t)atoi(argv[1]) : 10;
	unsigned ms = argc > 2 ? (unsigned)atoi(argv[2]) : 100;
	struct timespec idle = { .tv_sec = ms / 1000,
				 .tv_nsec = (long)(ms % 1000) * 1000000 };
	struct shared *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
				MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t *lat = malloc((rounds ? rounds : 1) * sizeof(*lat));
	pid_t pid;

	if (s == MAP_FAILED || !lat || rounds == 0) {
		fprintf(stderr, "usage: idle-wake ROUNDS [MS]\n");
		return 2;
	}
	pid = fork();
	if (pid == 0)
		child(s, rounds);
	pin(0);
	for (uint32_t r = 1; r <= rounds; r++) {
		uint64_t t0;

		nanosleep(&idle, NULL);
		t0 = now_ns();
		atomic_store(&s->to_child, r);
		futex_wake(&s->to_child);
		wait_change(&s->to_parent, r - 1);
		lat[r - 1] = now_ns() - t0;
	}
	waitpid(pid, NULL, 0);
	qsort(lat, rounds, sizeof(*lat), cmp_u64);
	printf("{\"test\": \"idle_wake\", \"rounds\": %u, \"idle_ms\": %u, "
	       "\"p50_ns\": %llu, \"min_ns\": %llu, \"max_ns\": %llu}\n",
	       rounds, ms, (unsigned long long)lat[rounds / 2],
	       (unsigned long long)lat[0],
	       (unsigned long long)lat[rounds - 1]);
	return 0;
}
