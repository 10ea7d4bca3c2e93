/* SPDX-License-Identifier: MIT */
/*
 * Starting a child: what every child does between clone and its main
 * function, and the direct (RP_START_FORK) start.  The zygote (zygote.c)
 * runs the same child set-up from its own single-threaded image.
 */
#ifndef RP_SPAWN_H
#define RP_SPAWN_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define RP_SPAWN_MAX_KEEP 32
#define RP_SPAWN_NAME_MAX 64

/*
 * A child's parent-death signal.  Linux sends it when the *thread* that
 * made the child ends, not only when the parent process does; its handler
 * (spawn.c) tells the two apart, so a pool or process outlives the thread
 * that created it.  SIGKILL could not tell them apart.
 */
#define RP_PARENT_GONE_SIGNAL (SIGRTMAX)

/* A child's main function: its return value is the exit status. */
typedef int (*rp__child_main_fn)(void *payload, size_t len);

struct rp__child_spec {
	rp__child_main_fn main;
	void *payload;              /* the child's own copy */
	size_t payload_len;
	char name[RP_SPAWN_NAME_MAX]; /* rp_current_process_name() in the child */
	char comm[16];              /* the name in ps; "" for "rp-" + name */
	bool pin;
	cpu_set_t cpus;
	int keep_fds[RP_SPAWN_MAX_KEEP]; /* besides 0, 1 and 2 */
	int nkeep;
	int pass_fd;                /* one more fd the child keeps and finds
				     * with rp__spawn_passed_fd(); -1: none.
				     * The zygote sends it along (SCM_RIGHTS) */
	pid_t parent;               /* the pid the child must see as parent */
	bool restore_int_quit;      /* SIGINT/SIGQUIT back to default: the
				     * zygote ignores them for itself only */
};

/*
 * rp__child_run - in a freshly cloned child: tie its life to the parent's,
 * reset signals, close fds it does not keep, take its name and CPUs, run
 * spec->main and exit with its status.  Never returns.
 */
__attribute__((noreturn)) void rp__child_run(const struct rp__child_spec *spec);

/*
 * rp__child_watch_group - in a child that leads its own process group:
 * from now on the parent's end kills the whole group (what its tasks
 * started too), not only this process.
 */
void rp__child_watch_group(void);

/*
 * rp__child_watch_parent - in a child: end this process (SIGKILL) when
 * its parent process ends, with no window: the signal is armed first,
 * then the parent looked for.  Uses RP_PARENT_GONE_SIGNAL and its
 * handler; a child that takes that signal over, ignores or blocks it
 * outlives its parent.  Where the signal cannot be taken (valgrind keeps
 * SIGRTMAX), SIGKILL: the child then dies with the thread that made it.
 * Async-signal-safe.
 */
void rp__child_watch_parent(pid_t parent);

/* The fd the child was passed (spec->pass_fd, renumbered by the zygote),
 * or -1. */
int rp__spawn_passed_fd(void);

/*
 * rp__spawn_direct - clone the child straight from the calling thread.
 * Returns 0 with *ret_pid and *ret_pidfd, or -errno (nothing started).
 */
int rp__spawn_direct(const struct rp__child_spec *spec, pid_t *ret_pid,
		     int *ret_pidfd);

/* The name this process was given by rp__child_run ("MainProcess" else). */
const char *rp__spawn_current_name(void);

#endif
