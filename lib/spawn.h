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
 * rp__spawn_direct - clone the child straight from the calling thread.
 * Returns 0 with *ret_pid and *ret_pidfd, or -errno (nothing started).
 */
int rp__spawn_direct(const struct rp__child_spec *spec, pid_t *ret_pid,
		     int *ret_pidfd);

/* The name this process was given by rp__child_run ("MainProcess" else). */
const char *rp__spawn_current_name(void);

#endif
