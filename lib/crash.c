/* SPDX-License-Identifier: MIT */
/*
 * Crash reports.  The worker's handler runs on its own stack (the faulting
 * one may be what overflowed) and calls only async-signal-safe code:
 * backtrace() is made safe by a first call at start-up, which loads the
 * unwinder before any fault can happen.  SA_RESETHAND then lets the
 * re-raised signal kill the worker as it would have without us.
 */
#include "crash.h"

#include <stdbool.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "symbol.h"

#define ALT_STACK_BYTES (64 * 1024)

static const int fault_signals[] = {
	SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP,
};

static struct rp_worker_ctl *crash_ctl;

/* The faulting instruction, where the machine context tells it. */
static uint64_t fault_pc(const void *ucontext)
{
#if defined(__x86_64__)
	return (uint64_t)((const ucontext_t *)ucontext)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
	return (uint64_t)((const ucontext_t *)ucontext)->uc_mcontext.pc;
#else
	(void)ucontext;
	return 0;
#endif
}

/*
 * Where the interrupted frames start in frames[]: after the handler's own
 * (this handler, the signal trampoline __restore_rt, and under a
 * sanitizer its backtrace() interceptor).  The unwinder steps through
 * the trampoline into the interrupted frame and reports its PC as the
 * context holds it, not as a return address, so that frame is the
 * context's PC itself (so on x86-64): the first frame equal to it, as the
 * handler's frames lie in other code and the frames further out come
 * after it.  An unwinder that cannot cross the signal frame leaves only
 * the handler's frames: skip two.
 */
static int first_interrupted(void *const *frames, int n, uint64_t pc)
{
	for (int i = 0; pc && i < n; i++)
		if ((uint64_t)(uintptr_t)frames[i] == pc)
			return i + 1;
	return 2;
}

static void on_fault(int sig, siginfo_t *info, void *ucontext)
{
	void *frames[RP_CRASH_FRAMES + 4];
	int n = backtrace(frames, RP_CRASH_FRAMES + 4);
	uint32_t k = 0;
	uint64_t pc = fault_pc(ucontext);

	(void)info;
	/* The context's PC stands for the faulting frame, first. */
	if (pc)
		crash_ctl->crash_pc[k++] = pc;
	for (int i = first_interrupted(frames, n, pc);
	     i < n && k < RP_CRASH_FRAMES; i++)
		crash_ctl->crash_pc[k++] = (uint64_t)(uintptr_t)frames[i];
	crash_ctl->crash_frames = k;
	crash_ctl->crash_signal = (uint32_t)sig;
	raise(sig);
}

static void preload(void)
{
	void *warm[2];

	backtrace(warm, 2);
}

/*
 * backtrace() dlopens libgcc_s the first time, running its constructors,
 * whose cpuid instructions trap to the hypervisor on a virtual machine:
 * about a hundred microseconds.  Done once in the owner, every worker
 * (a clone of the owner or of its zygote) starts with it loaded.
 */
void rp__crash_preload(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, preload);
}

void rp__crash_handler_install(struct rp_worker_ctl *ctl)
{
	stack_t ss = { .ss_size = ALT_STACK_BYTES };
	struct sigaction sa;

	crash_ctl = ctl;
	ctl->crash_signal = 0;
	ctl->crash_frames = 0;
	/*
	 * Neither malloc nor the unwinder's loading here (the owner loaded
	 * it, rp__crash_preload): a worker cloned straight from a threaded
	 * owner (RP_START_FORK) may have inherited the allocator's or the
	 * loader's lock held by another thread, and must not take them on
	 * its own account.
	 */
	ss.ss_sp = mmap(NULL, ALT_STACK_BYTES, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (ss.ss_sp == MAP_FAILED)
		ss.ss_sp = NULL;
	if (ss.ss_sp)
		sigaltstack(&ss, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | (ss.ss_sp ? SA_ONSTACK : 0);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
		sigaction(fault_signals[i], &sa, NULL);
}

static bool is_fault_signal(int signal)
{
	for (size_t i = 0; i < sizeof(fault_signals) / sizeof(fault_signals[0]); i++)
		if (fault_signals[i] == signal)
			return true;
	return false;
}

/*
 * "worker N killed by signal S (NAME) in FUNC+0xOFF (FILE:LINE)", or
 * "(MODULE)" without line info, for the innermost frame; the message reap()
 * wrote stays where nothing names it.  Too long for the message, the
 * location goes first, then the function's name is cut.
 */
static void name_frame(struct rp_error *why, int signal)
{
	struct rp__symbol sym;
	int len;

	if (rp__symbol_lookup(why->backtrace[0], &sym) != 0)
		return;
	len = snprintf(why->message, sizeof(why->message),
		       "worker %d killed by signal %d (%s) in %s+0x%llx (%s)",
		       (int)why->worker_pid, signal, strsignal(signal),
		       sym.name, (unsigned long long)sym.offset, sym.where);
	if (len >= 0 && (size_t)len < sizeof(why->message))
		return;
	snprintf(why->message, sizeof(why->message),
		 "worker %d killed by signal %d (%s) in %s+0x%llx",
		 (int)why->worker_pid, signal, strsignal(signal), sym.name,
		 (unsigned long long)sym.offset);
}

void rp__crash_describe(const struct rp_worker_ctl *ctl, int signal,
			struct rp_error *why)
{
	uint32_t n = ctl->crash_frames;

	/* Only a crash signal, the one that killed it: the fields are the
	 * worker's to scribble on, and a plain kill has no stack. */
	if (!is_fault_signal(signal) || ctl->crash_signal != (uint32_t)signal ||
	    n == 0)
		return;
	if (n > RP_BACKTRACE_MAX)
		n = RP_BACKTRACE_MAX;
	for (uint32_t i = 0; i < n; i++)
		why->backtrace[i] = ctl->crash_pc[i];
	why->backtrace_len = n;
	name_frame(why, signal);
}
