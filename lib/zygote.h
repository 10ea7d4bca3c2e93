/* SPDX-License-Identifier: MIT */
/*
 * The zygote: a single-threaded process made with fork() (so atfork handlers
 * leave malloc and stdio consistent) from which children are cloned on
 * request.  Children are made with CLONE_PARENT, so the zygote's creator is
 * their parent and reaps them through the pidfds the zygote hands back.
 */
#ifndef RP_ZYGOTE_H
#define RP_ZYGOTE_H

#include <pthread.h>
#include <sys/types.h>

#include "spawn.h"

struct rp__zygote;

/*
 * rp__zygote_start - fork a zygote that keeps keep_fds (besides 0, 1, 2 and
 * its socket) open for the children it will clone.
 * Returns 0 and *ret_zygote, or -errno.
 */
int rp__zygote_start(const int *keep_fds, int nkeep,
		     struct rp__zygote **ret_zygote);

/*
 * rp__zygote_spawn - have the zygote clone a child that runs
 * rp__child_run(spec).  spec->main must be code that was loaded when the
 * zygote was forked; spec->payload is sent by value.  Thread-safe.
 * Returns 0 with *ret_pid and *ret_pidfd, or -errno: -EPIPE when the zygote
 * is gone, or the clone's own errno.
 */
int rp__zygote_spawn(struct rp__zygote *z, const struct rp__child_spec *spec,
		     pid_t *ret_pid, int *ret_pidfd);

/*
 * rp__zygote_spawn_many - rp__zygote_spawn for n specs, their requests
 * sent before the first reply is read, so the zygote wakes once and clones
 * them back to back, and the two sides' wake-ups (tens of microseconds on
 * a virtual machine) are not paid per child.  rets[i] is 0 with pids[i]
 * and pidfds[i], or -errno as rp__zygote_spawn.  Returns 0, or -EPIPE when
 * the zygote is gone (rets of the specs that got no reply are -EPIPE).
 */
int rp__zygote_spawn_many(struct rp__zygote *z,
			  const struct rp__child_spec *specs, unsigned n,
			  int *rets, pid_t *pids, int *pidfds);

/* The pid that created the zygote (its children's parent). */
pid_t rp__zygote_owner(const struct rp__zygote *z);

/* The zygote's own pid (it may have ended since), 0 for NULL. */
pid_t rp__zygote_pid(const struct rp__zygote *z);

/*
 * rp__zygote_release - close the zygote's socket, which makes it exit, and
 * return without waiting: its address space is torn down while the caller
 * goes on.  No spawn may follow.  NULL-safe, idempotent.
 */
void rp__zygote_release(struct rp__zygote *z);

/*
 * rp__zygote_stop - release the zygote and reap it.  NULL-safe.  Children
 * it made are not affected.
 */
void rp__zygote_stop(struct rp__zygote *z);

/*
 * rp__zygote_forget - in a child that inherited its parent's zygote record:
 * release the memory only (the zygote is the parent's).  NULL-safe.
 */
void rp__zygote_forget(struct rp__zygote *z);

#endif
