/* SPDX-License-Identifier: MIT */
/*
 * ringpool — Python's multiprocessing rebuilt as a Linux-native C library.
 *
 * Conventions for every call in this header:
 * - Success returns >= 0; failure returns a negative errno (-EINVAL, ...) or
 *   one of the library's own codes below (RP_E*), all under -4095.  errno is
 *   never set for the caller and the library never prints.
 * - A call that fails creates nothing and leaves its ret_* outputs untouched.
 * - Inputs are borrowed for the duration of the call; bytes that must outlive
 *   it (task and process arguments) are copied.
 * - Timeouts are in nanoseconds: RP_FOREVER waits without limit, 0 polls, and
 *   any other negative value is -EINVAL.
 */
#ifndef RINGPOOL_H
#define RINGPOOL_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RP_API __attribute__((visibility("default")))
#else
#define RP_API
#endif

#define RP_FOREVER ((int64_t)-1)

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * The library's own codes.  X(name, text): RP_E<name> is the code,
 * rp_err_name() gives "RP_E<name>" and rp_strerror() the text.
 */
#define RP_ERRORS(X)                                                           \
	X(WORKER_DIED, "worker process died while holding the task")           \
	X(TASK, "the task reported a failure")                                 \
	X(CLOSED, "the pool is closed to new tasks")                           \
	X(TERMINATED, "the pool was terminated before the task finished")      \
	X(CANCELED, "the task was cancelled")                                  \
	X(BROKEN, "the pool is broken: too many worker failures")              \
	X(CORRUPT, "shared memory failed validation")                          \
	X(END, "the iteration has no more items")

/* Positions in RP_ERRORS, from which the codes count down from -4096. */
enum rp_error_index_ {
#define RP_ERROR_INDEX_(name, text) RP_ERRIDX_##name,
	RP_ERRORS(RP_ERROR_INDEX_)
#undef RP_ERROR_INDEX_
	RP_NERRORS_
};

enum rp_error_code {
#define RP_ERROR_ENUM_(name, text) RP_E##name = -4096 - RP_ERRIDX_##name,
	RP_ERRORS(RP_ERROR_ENUM_)
#undef RP_ERROR_ENUM_
};

/*
 * rp_strerror - a description of a code returned by this library.
 * Accepts the library's codes and negative errnos; never returns NULL.
 * The string is static.  Thread-safe.
 */
RP_API const char *rp_strerror(int code);

/*
 * rp_err_name - the symbolic name of a code ("EINVAL", "RP_ECLOSED").
 * Unknown codes give "UNKNOWN".  The string is static.  Thread-safe.
 */
RP_API const char *rp_err_name(int code);

/* ------------------------------------------------------------------------ */
/* Processes (Python multiprocessing.Process)                               */
/* ------------------------------------------------------------------------ */

/*
 * Start methods (Python's contexts).
 *
 * RP_START_FORKSERVER (the default): a single-threaded zygote, made with
 *   fork() the first time it is needed, clones every child with clone3.  The
 *   zygote's memory is a snapshot of the caller at that moment: a child sees
 *   globals as they were then, and its argument bytes are sent to it.  Safe in
 *   a multi-threaded caller.
 * RP_START_FORK: clone3 straight from the calling thread.  Fastest, and the
 *   child sees the caller's memory as it is now; but no atfork handler runs,
 *   so it is only safe while the caller has one thread: a child of a
 *   multi-threaded caller can inherit a lock (malloc's, stdio's) that another
 *   thread held and deadlock on it.
 *
 * Both track the child with a pidfd and make the caller its parent, which
 * reaps it: the caller must not reap children it did not start (waitpid(-1),
 * SIGCHLD set to SIG_IGN).
 */
enum rp_start_method {
	RP_START_DEFAULT = 0,
	RP_START_FORKSERVER,
	RP_START_FORK,
};

typedef struct rp_process rp_process_t;

/*
 * The body of a child process.  arg points to a private copy of the argument
 * bytes given at creation (NULL when there were none).  The return value is
 * the exit status (0..255), as Python's exit code after a normal return or
 * sys.exit(n).
 */
typedef int (*rp_process_fn)(void *arg, size_t arg_len);

struct rp_process_opts {
	rp_process_fn target;     /* required */
	const void *arg;          /* copied; may be NULL when arg_len is 0 */
	size_t arg_len;
	const char *name;         /* NULL: "Process-<N>"; copied */
	bool daemon;              /* see rp_process_create() */
	const cpu_set_t *cpus;    /* NULL: inherit the caller's affinity */
	enum rp_start_method start_method;
};

/*
 * rp_process_create - describe a child process; nothing runs until start.
 * Python: Process(target, args, name, daemon).
 *
 * At the caller's normal exit (exit() or return from main) daemon children
 * still running are terminated (SIGTERM) and reaped, and other children are
 * joined, as in Python.  Every child, daemon or not, gets SIGKILL if its
 * parent thread dies: none outlives an owner killed outright.
 *
 * Returns 0 and *ret_proc, or -EINVAL (NULL opts, target or ret_proc; arg
 * NULL with arg_len > 0; unknown start method; empty cpu set), -ENOMEM.
 * Thread-safe.
 */
RP_API int rp_process_create(const struct rp_process_opts *opts,
			     rp_process_t **ret_proc);

/*
 * rp_process_start - start the child.  Returns at once; the child runs
 * concurrently.  Python: Process.start().
 * Returns 0, -EINVAL (NULL), -EALREADY (already started), or the errno of a
 * failed clone (-EAGAIN, -ENOMEM, ...), in which case nothing was started.
 */
RP_API int rp_process_start(rp_process_t *proc);

/*
 * rp_process_join - wait up to timeout_ns for the child to end and reap it.
 * Python: Process.join(timeout).
 * Returns 0 once the child has ended (its exit code is then known),
 * -ETIMEDOUT if it is still running, -EINVAL (NULL, bad timeout),
 * -ECHILD (never started).  A timeout leaves the child running and its exit
 * code unset.
 */
RP_API int rp_process_join(rp_process_t *proc, int64_t timeout_ns);

/*
 * rp_process_is_alive - 1 while started and not yet ended, 0 otherwise
 * (never started, or ended), -EINVAL for NULL.  Python: is_alive().
 */
RP_API int rp_process_is_alive(rp_process_t *proc);

/*
 * rp_process_exitcode - the child's exit code, once it has ended.
 * Python: Process.exitcode.  Returns 1 and *ret_code: the exit status
 * (0..255), or minus the signal number that killed it (-15 after terminate,
 * -9 after kill).  Returns 0 when there is none yet (not started, or still
 * running; ret_code untouched), -EINVAL for NULL arguments.
 */
RP_API int rp_process_exitcode(rp_process_t *proc, int *ret_code);

/*
 * rp_process_terminate - send SIGTERM.  rp_process_kill - send SIGKILL.
 * Python: terminate(), kill().  Signals go through the child's pidfd, so a
 * recycled pid can never be hit.  Returns 0 (also when the child has already
 * ended: nothing is sent), -EINVAL (NULL), -ECHILD (never started).
 */
RP_API int rp_process_terminate(rp_process_t *proc);
RP_API int rp_process_kill(rp_process_t *proc);

/*
 * rp_process_pid - the child's pid, or 0 before start.  Python: pid.
 * rp_process_name - the name; valid until the process is freed.
 * rp_process_daemon - the daemon flag.
 */
RP_API pid_t rp_process_pid(const rp_process_t *proc);
RP_API const char *rp_process_name(const rp_process_t *proc);
RP_API bool rp_process_daemon(const rp_process_t *proc);

/*
 * rp_process_close - release the object.  Python: close(): refused with
 * -EBUSY while the child runs (nothing changes).  Returns 0, -EINVAL (NULL).
 */
RP_API int rp_process_close(rp_process_t *proc);

/*
 * rp_process_free - release the object whatever its state: a child still
 * running is killed (SIGKILL) and reaped first, so nothing leaks.
 * NULL-safe.  Not to be called while another thread uses proc.
 */
RP_API void rp_process_free(rp_process_t *proc);

/*
 * rp_active_children - the started children of this process that are still
 * running.  Python: multiprocessing.active_children(); as there, children
 * that have ended are reaped as a side effect.  Fills up to cap entries of
 * ret_list (which may be NULL when cap is 0) and returns how many are
 * running (which may exceed cap), or -EINVAL.  The pointers are the caller's
 * own rp_process_t objects.  Thread-safe.
 */
RP_API int rp_active_children(rp_process_t **ret_list, size_t cap);

/*
 * rp_cpu_count - the number of CPUs this process may run on
 * (sched_getaffinity), at least 1.  Python: len(os.sched_getaffinity(0)).
 */
RP_API int rp_cpu_count(void);

/*
 * rp_current_process_name - "MainProcess" in a program, the child's name
 * inside a child started by this library.  Python:
 * current_process().name.  Static storage; thread-safe.
 */
RP_API const char *rp_current_process_name(void);

#ifdef __cplusplus
}
#endif

#endif /* RINGPOOL_H */
