/* SPDX-License-Identifier: MIT */
/*
 * Children do not outlive their owner.  An "owner" child, started through
 * the library, starts a daemon and a non-daemon grandchild through the
 * library in turn:
 *
 * - killed outright (SIGKILL), the owner takes both grandchildren with it
 *   (the parent-death signal);
 * - at its normal exit (exit()), the owner terminates (SIGTERM) the daemon
 *   grandchild and waits for the non-daemon one, as Python does.
 *
 * Slots: 0 the owner, 1 the daemon grandchild, 2 the non-daemon one.  The
 * grandchildren's own gate guard (GC_GUARD_S) is longer than the test's wait
 * for them, and a grandchild that reaches it says so in guard[]: a
 * grandchild that merely timed out can never pass for one that was killed.
 * Every owner/grandchild pair of start methods is covered.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "ringpool.h"

#define S_OWNER 0
#define S_DAEMON 1
#define S_PLAIN 2

#define GC_GUARD_S (2 * H_GUARD_S)

/* Exit status of an owner whose atexit work the test checks. */
#define OWNER_EXIT 3

struct owner_arg {
	enum rp_start_method gc_method;
	bool exit_after_gate;
};

/* ---- child side ---- */

static volatile sig_atomic_t term_slot = -1;

static void on_sigterm(int sig)
{
	if (term_slot >= 0)
		__atomic_store_n(&h_sh->sigterm[term_slot], 1,
				 __ATOMIC_RELEASE);
	_exit(128 + sig);
}

/* A grandchild: blocks on its gate for GC_GUARD_S. */
static int grandchild_fn(void *arg, size_t len)
{
	int slot;

	if (!arg || len != sizeof(slot))
		return 98;
	memcpy(&slot, arg, sizeof(slot));
	if (slot == S_DAEMON) {
		struct sigaction sa = { .sa_handler = on_sigterm };

		term_slot = slot;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGTERM, &sa, NULL) < 0)
			return 97;
	}
	h_child_ready(slot);
	if (h_child_wait_gate(slot, GC_GUARD_S) < 0) {
		__atomic_store_n(&h_sh->guard[slot], 1, __ATOMIC_RELEASE);
		return H_EXIT_GUARD;
	}
	__atomic_store_n(&h_sh->done[slot], 1, __ATOMIC_RELEASE);
	return 0;
}

static int start_grandchild(enum rp_start_method m, int slot, bool daemon)
{
	struct rp_process_opts o = {
		.target = grandchild_fn,
		.arg = &slot,
		.arg_len = sizeof(slot),
		.daemon = daemon,
		.start_method = m,
	};
	rp_process_t *p;
	int r;

	r = rp_process_create(&o, &p);
	if (r < 0)
		return r;
	r = rp_process_start(p);
	if (r < 0)
		return r;
	return h_child_wait_ready(slot, H_GUARD_S) < 0 ? -ETIMEDOUT : 0;
}

/*
 * The owner reports failure through val[S_OWNER] (the failing step) and
 * val2[S_OWNER] (its code), still raising ready, so the test never waits
 * for a guard to learn about it.
 */
static int owner_fn(void *arg, size_t len)
{
	struct owner_arg a;
	int r;

	if (!arg || len != sizeof(a))
		return 98;
	memcpy(&a, arg, sizeof(a));
	r = start_grandchild(a.gc_method, S_DAEMON, true);
	if (r < 0) {
		h_sh->val[S_OWNER] = 1;
		h_sh->val2[S_OWNER] = r;
		h_child_ready(S_OWNER);
		return 90;
	}
	r = start_grandchild(a.gc_method, S_PLAIN, false);
	if (r < 0) {
		h_sh->val[S_OWNER] = 2;
		h_sh->val2[S_OWNER] = r;
		h_child_ready(S_OWNER);
		return 91;
	}
	h_child_ready(S_OWNER);
	if (h_child_wait_gate(S_OWNER, GC_GUARD_S) < 0)
		return H_EXIT_GUARD;
	if (a.exit_after_gate)
		exit(OWNER_EXIT); /* not _exit(): the atexit work must run */
	return 0;
}

/* ---- test side ---- */

/* Start an owner, wait until both grandchildren run, open their pidfds. */
static rp_process_t *start_owner(enum rp_start_method om,
				 enum rp_start_method gm, bool exit_after_gate,
				 int *ret_dfd, int *ret_pfd)
{
	struct owner_arg a;
	struct rp_process_opts o = {
		.target = owner_fn,
		.arg = &a,
		.arg_len = sizeof(a),
		.name = "owner",
		.start_method = om,
	};
	rp_process_t *owner;
	pid_t opid;

	/* No uninitialised padding in the bytes the library copies. */
	memset(&a, 0, sizeof(a));
	a.gc_method = gm;
	a.exit_after_gate = exit_after_gate;
	owner = h_new(&o);
	/* The owner may exit(): nothing of ours may be left in stdio. */
	fflush(NULL);
	assert_int_equal(rp_process_start(owner), 0);
	h_wait_ready(S_OWNER);
	if (h_sh->val[S_OWNER] != 0)
		fail_msg("owner could not start grandchild %d: %s",
			 h_sh->val[S_OWNER], rp_err_name(h_sh->val2[S_OWNER]));
	opid = rp_process_pid(owner);
	assert_int_equal(h_sh->pid[S_OWNER], opid);
	/* The owner is the grandchildren's parent, whatever the method. */
	assert_int_equal(h_sh->ppid[S_DAEMON], opid);
	assert_int_equal(h_sh->ppid[S_PLAIN], opid);
	/*
	 * Both grandchildren are blocked on gates only we open and their
	 * parent is blocked too, so neither can have been reaped: these
	 * pidfds name exactly them.
	 */
	*ret_dfd = h_pidfd(h_sh->pid[S_DAEMON]);
	*ret_pfd = h_pidfd(h_sh->pid[S_PLAIN]);
	return owner;
}

static void owner_killed(enum rp_start_method om, enum rp_start_method gm)
{
	int dfd, pfd;
	rp_process_t *owner = start_owner(om, gm, false, &dfd, &pfd);

	assert_int_equal(rp_process_kill(owner), 0);
	assert_int_equal(h_join_code(owner), -9);

	h_pidfd_wait(dfd);
	h_pidfd_wait(pfd);
	h_pidfd_close(dfd);
	h_pidfd_close(pfd);
	/* Killed, not timed out and not released. */
	assert_int_equal(h_sh->guard[S_DAEMON], 0);
	assert_int_equal(h_sh->guard[S_PLAIN], 0);
	assert_int_equal(h_sh->done[S_DAEMON], 0);
	assert_int_equal(h_sh->done[S_PLAIN], 0);
	h_free(owner);
}

static void owner_exits(enum rp_start_method om, enum rp_start_method gm)
{
	int dfd, pfd, code;
	rp_process_t *owner = start_owner(om, gm, true, &dfd, &pfd);

	/* Let the owner call exit(). */
	h_open_gate(S_OWNER);
	/*
	 * Its exit must wait for the non-daemon grandchild, which only we can
	 * release: the owner cannot have ended yet.
	 */
	assert_int_equal(rp_process_join(owner, 200 * 1000000), -ETIMEDOUT);
	assert_int_equal(rp_process_is_alive(owner), 1);

	h_open_gate(S_PLAIN);
	code = h_join_code(owner);
	if (code != OWNER_EXIT)
		fail_msg("owner's exit code is %d, want %d (its exit() work "
			 "failed; under ASan, 1 is LeakSanitizer's verdict on "
			 "what the owner still held at exit)",
			 code, OWNER_EXIT);

	h_pidfd_wait(pfd);
	h_pidfd_wait(dfd);
	h_pidfd_close(dfd);
	h_pidfd_close(pfd);
	/* The non-daemon grandchild ran to its end. */
	assert_int_equal(h_sh->done[S_PLAIN], 1);
	assert_int_equal(h_sh->guard[S_PLAIN], 0);
	assert_int_equal(h_sh->sigterm[S_PLAIN], 0);
	/* The daemon got SIGTERM: not the parent-death SIGKILL, no guard. */
	if (h_sh->sigterm[S_DAEMON] != 1)
		fail_msg("the daemon grandchild did not get SIGTERM at the "
			 "owner's exit (guard %u, done %u)",
			 h_sh->guard[S_DAEMON], h_sh->done[S_DAEMON]);
	assert_int_equal(h_sh->done[S_DAEMON], 0);
	h_free(owner);
}

#define PAIR(fn, om, gm, suffix)                                               \
	static void fn##_##suffix(void **state)                                \
	{                                                                      \
		fn(om, gm);                                                    \
	}
#define ALL4(fn)                                                               \
	PAIR(fn, RP_START_FORK, RP_START_FORK, fork_fork)                      \
	PAIR(fn, RP_START_FORK, RP_START_FORKSERVER, fork_forkserver)          \
	PAIR(fn, RP_START_FORKSERVER, RP_START_FORK, forkserver_fork)          \
	PAIR(fn, RP_START_FORKSERVER, RP_START_FORKSERVER,                     \
	     forkserver_forkserver)
ALL4(owner_killed)
ALL4(owner_exits)

#define T4(fn)                                                                 \
	T(fn##_fork_fork), T(fn##_fork_forkserver),                           \
		T(fn##_forkserver_fork), T(fn##_forkserver_forkserver)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T4(owner_killed),
		T4(owner_exits),
	};

	return cmocka_run_group_tests_name("process_owner", tests,
					   h_group_setup, h_group_teardown);
}
