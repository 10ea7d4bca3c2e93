/* SPDX-License-Identifier: MIT */
/*
 * Child set-up.  rp__child_run executes in a child made by a fork-like clone
 * of a possibly multi-threaded parent, so until spec->main runs it calls
 * only async-signal-safe functions (prctl, sigaction, close_range, ...):
 * no malloc, no stdio, no locks.
 */
#include "spawn.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sys.h"

static char current_name[RP_SPAWN_NAME_MAX] = "MainProcess";

const char *rp__spawn_current_name(void)
{
	return current_name;
}

static int passed_fd = -1;

int rp__spawn_passed_fd(void)
{
	return passed_fd;
}

/*
 * A thread of the parent ending must not fail the child's system calls
 * with EINTR where they can be restarted.  Except under ThreadSanitizer:
 * it runs a handler only at the thread's next intercepted call, which a
 * restarted raw futex wait (a worker waiting for work) never reaches, so
 * the owner's death would never be acted on.
 */
#if defined(__SANITIZE_THREAD__)
#define RESTART_FLAG 0
#else
#define RESTART_FLAG SA_RESTART
#endif

/* What on_parent_gone compares and kills; set before it is armed. */
static volatile sig_atomic_t watched_parent;
static volatile sig_atomic_t watch_group;

/*
 * The thread that made us ended.  If the parent process lives on, the
 * kernel gave us to another of its threads and getppid() still names it:
 * nothing to do.  Otherwise we were given to a reaper, and we end.
 */
static void on_parent_gone(int sig)
{
	(void)sig;
	if (getppid() == (pid_t)watched_parent)
		return;
	kill(watch_group ? 0 : getpid(), SIGKILL);
}

void rp__child_watch_parent(pid_t parent)
{
	struct sigaction sa = {
		.sa_handler = on_parent_gone,
		.sa_flags = RESTART_FLAG,
	};
	sigset_t one;

	watched_parent = parent;
	sigfillset(&sa.sa_mask);
	sigemptyset(&one);
	sigaddset(&one, RP_PARENT_GONE_SIGNAL);
	if (sigaction(RP_PARENT_GONE_SIGNAL, &sa, NULL) == 0) {
		if (sigprocmask(SIG_UNBLOCK, &one, NULL) < 0 ||
		    prctl(PR_SET_PDEATHSIG, RP_PARENT_GONE_SIGNAL) < 0)
			_exit(127);
	} else if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
		/* The signal is not ours to take (valgrind keeps SIGRTMAX
		 * for itself): SIGKILL, which ties the child to the thread
		 * that made it, is the best left. */
		_exit(127);
	}
	/* Had the parent died before prctl, nobody would signal us. */
	on_parent_gone(RP_PARENT_GONE_SIGNAL);
}

void rp__child_watch_group(void)
{
	watch_group = 1;
}

/*
 * Handlers the parent installed make no sense in the child (terminate()
 * must end it with -15), so caught signals go back to their defaults, as
 * across exec; ignored ones stay ignored.  Nothing stays blocked.
 */
static void reset_signals(bool restore_int_quit)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++) {
		struct sigaction sa;

		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (sigaction(sig, NULL, &sa) < 0 || sa.sa_handler == SIG_IGN ||
		    sa.sa_handler == SIG_DFL)
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigaction(sig, &sa, NULL);
	}
	if (restore_int_quit) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* "rp-" and as much of the name as fits in the 15 bytes of comm. */
static void set_comm(const char *name)
{
	char comm[16] = "rp-";
	size_t i;

	for (i = 3; i < sizeof(comm) - 1 && name[i - 3]; i++)
		comm[i] = name[i - 3];
	comm[i] = '\0';
	prctl(PR_SET_NAME, comm, 0, 0, 0);
}

void rp__child_run(const struct rp__child_spec *spec)
{
	int keep[RP_SPAWN_MAX_KEEP + 1];
	int nkeep = spec->nkeep;
	int status;

	/* Signals first: the parent's handler of our parent-death signal
	 * (if it had one) must not be the one that runs. */
	reset_signals(spec->restore_int_quit);
	rp__child_watch_parent(spec->parent);
	memcpy(keep, spec->keep_fds, sizeof(int) * (size_t)nkeep);
	if (spec->pass_fd >= 0)
		keep[nkeep++] = spec->pass_fd;
	if (rp__sys_close_fds_except(3, keep, nkeep) < 0)
		_exit(127);
	passed_fd = spec->pass_fd;
	memcpy(current_name, spec->name, sizeof(current_name));
	current_name[sizeof(current_name) - 1] = '\0';
	if (spec->comm[0])
		prctl(PR_SET_NAME, spec->comm, 0, 0, 0);
	else
		set_comm(current_name);
	if (spec->pin && sched_setaffinity(0, sizeof(spec->cpus), &spec->cpus) < 0)
		_exit(127);

	status = spec->main(spec->payload, spec->payload_len);

	/* The child's own buffered output; the parent's was flushed before
	 * the clone, so nothing is written twice.  _exit: the parent's atexit
	 * handlers are not the child's. */
	fflush(NULL);
	_exit(status & 0xff);
}

int rp__spawn_direct(const struct rp__child_spec *spec, pid_t *ret_pid,
		     int *ret_pidfd)
{
	int pidfd = -1;
	pid_t pid;

	fflush(NULL);
	pid = rp__sys_clone(0, 0, &pidfd);
	if (pid < 0)
		return pid;
	if (pid == 0)
		rp__child_run(spec);
	*ret_pid = pid;
	*ret_pidfd = pidfd;
	return 0;
}
