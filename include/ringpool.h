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

/*
 * The version of this header.  MAJOR changes with any incompatible change
 * of the ABI (the library's SONAME is libringpool.so.MAJOR), MINOR with
 * additions, PATCH with fixes.  RP_VERSION_HEX packs them as libuv does.
 */
#define RP_VERSION_MAJOR 0
#define RP_VERSION_MINOR 1
#define RP_VERSION_PATCH 0
#define RP_VERSION_HEX                                                         \
	((RP_VERSION_MAJOR << 16) | (RP_VERSION_MINOR << 8) | RP_VERSION_PATCH)

/*
 * rp_version - the version of the library in use at run time, packed as
 * RP_VERSION_HEX: compare the two to tell a program built against one
 * release from the library it runs with.  Never fails.  Thread-safe.
 * Python: none (multiprocessing is versioned with Python itself).
 */
RP_API unsigned rp_version(void);

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
	X(END, "the iteration has no more items")                              \
	X(INIT, "the pool's initializer failed")

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
 * Thread safety: every rp_process_* call may be made from any thread, on
 * the same object too, except rp_process_close and rp_process_free, which
 * must not run while another thread uses that object.
 */

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
 * Both track the child with a pidfd and make the caller's process its
 * parent, which reaps it.  Another waiter in the caller's process (an
 * application's SIGCHLD handler looping on waitpid(-1, ..., WNOHANG), a
 * thread blocked in wait() or waitid(P_ALL)) never sees RP_START_FORK
 * children: they have no exit signal.  RP_START_FORKSERVER children are
 * cloned by the zygote with CLONE_PARENT, which gives them the zygote's
 * exit signal, SIGCHLD (the zygote must come from fork(), whose atfork
 * handlers make it safe): such a waiter can reap them first.  From Linux
 * 6.15 the library then still reads the true status from the pidfd
 * (PIDFD_INFO_EXIT).  On older kernels the status is lost: a worker's
 * death is reported with exit_status -1 (the signal only where the worker
 * recorded a crash), and rp_process_exitcode() returns -ECHILD.  Use
 * RP_START_FORK, or waitpid() on your own children's pids, where both
 * must meet on such a kernel.
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
 * joined, as in Python.  Every child, daemon or not, is killed (SIGKILL)
 * when the caller's process ends otherwise: none outlives an owner killed
 * outright.  It outlives the thread that started it, though: Linux sends
 * a child its parent-death signal when that *thread* ends, so the signal
 * is SIGRTMAX, whose handler (in place before the target runs) ends the
 * child only if the parent process is gone.  A target that takes SIGRTMAX
 * over, ignores or blocks it can outlive an owner killed outright; a
 * thread of the owner ending interrupts, at most, a sleep of the child's
 * that no signal restarts (nanosleep: EINTR).
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
 * running; ret_code untouched), -EINVAL for NULL arguments, -ECHILD when
 * the child ended but another waiter of this process reaped it on a kernel
 * that keeps no status for us (see enum rp_start_method).
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


/* ------------------------------------------------------------------------ */
/* Tasks                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct rp_pool rp_pool_t;
typedef struct rp_result rp_result_t;
typedef struct rp_iter rp_iter_t;
typedef struct rp_task_ctx rp_task_ctx_t;

#define RP_ERROR_MESSAGE_MAX 256
#define RP_BACKTRACE_MAX 16

/*
 * Why a task or call failed: plain data, never code (Python's exception and
 * RemoteTraceback).
 */
struct rp_error {
	int code;          /* RP_ETASK (the task returned non-zero),
			    * RP_EWORKER_DIED, RP_ETERMINATED, RP_ECANCELED,
			    * RP_ECORRUPT, RP_EINIT, ... */
	int task_code;     /* RP_ETASK, RP_EINIT: what the task returned */
	int64_t index;     /* map and imap: the failing item's input index;
			    * -1 otherwise */
	pid_t worker_pid;  /* the worker involved, 0 if none */
	int signal;        /* RP_EWORKER_DIED: the signal that killed it */
	int exit_status;   /* RP_EWORKER_DIED: its exit status if it exited;
			    * -1 when another waiter took it (see enum
			    * rp_start_method) */
	unsigned attempts; /* RP_EWORKER_DIED, -ETIMEDOUT: the runs the task
			    * had, retries included; 0 for other codes */
	char message[RP_ERROR_MESSAGE_MAX]; /* the task's message, or ours */
	/* RP_EWORKER_DIED by a crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE,
	 * SIGABRT, SIGTRAP): the worker's stack at the crash, innermost
	 * first, each frame once, as code addresses valid in the owner too
	 * (the worker is a clone of its image).  0 frames otherwise.
	 * message then names the innermost frame: "worker N killed by
	 * signal S (NAME) in FUNC+0xOFF (FILE:LINE)", or "(MODULE)" without
	 * line info.  Names need the binary or library unstripped (a symbol
	 * table: the default of gcc and clang builds; no -rdynamic needed),
	 * FILE:LINE needs -g in that file (separate debug files are not
	 * read; in a stripped library only exported functions are named).
	 * Where ringpool was built without libdw (meson option `libdw`),
	 * dladdr() names frames: it sees only exported symbols, so link
	 * the program with -rdynamic, and static functions stay unnamed.
	 * Unnamed, the message ends after the signal number. */
	unsigned backtrace_len;
	uint64_t backtrace[RP_BACKTRACE_MAX];
};

/*
 * A task, run in a worker process.  arg holds arg_len argument bytes (for
 * map and imap: one item), copied from the caller; res is where the result
 * goes, res_cap bytes that the caller declared, in shared memory (no further
 * copy in the worker).  Return 0 for success.  Any other value fails the
 * task with that value as rp_error.task_code (Python's raise);
 * rp_task_fail() adds a message.
 */
typedef int (*rp_task_fn)(const void *arg, size_t arg_len, void *res,
			  size_t res_cap, rp_task_ctx_t *ctx);

/*
 * An initializer, run once in every worker (respawned ones included) before
 * its first task.  Non-zero fails it; rp_task_fail() adds a message.
 */
typedef int (*rp_init_fn)(const void *arg, size_t arg_len,
			  rp_task_ctx_t *ctx);

/*
 * rp_task_fail - inside a task or initializer: record a message for the
 * failure and return code, so that `return rp_task_fail(ctx, 2, "...");`
 * fails the task with code 2.  code 0 is turned into 1: a failure is never
 * mistaken for success.  The message is cut at RP_ERROR_MESSAGE_MAX - 1.
 */
RP_API int rp_task_fail(rp_task_ctx_t *ctx, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * rp_task_set_result_len - inside an apply task: the result is len bytes,
 * fewer than res_cap.  len > res_cap is ignored (the result stays res_cap).
 */
RP_API void rp_task_set_result_len(rp_task_ctx_t *ctx, size_t len);

/* rp_task_index - the item's input index (map, imap), or -1 (apply). */
RP_API int64_t rp_task_index(const rp_task_ctx_t *ctx);

/* rp_task_worker - the worker's number, 0 .. nworkers - 1. */
RP_API int rp_task_worker(const rp_task_ctx_t *ctx);

/* ------------------------------------------------------------------------ */
/* Pool (Python multiprocessing.Pool)                                       */
/* ------------------------------------------------------------------------ */

/*
 * Thread safety: every call on a pool, a result or an iterator may be made
 * from any thread, concurrently, with three exceptions: rp_pool_destroy
 * must not race with any other call on that pool; rp_result_free must not
 * race with other calls on that result; an iterator is used by one thread
 * at a time.  Callbacks may call anything but rp_pool_join and
 * rp_pool_destroy on their own pool.  rp_task_* calls are for the task's
 * own worker process, inside the task or initializer.
 */

/*
 * How the pool waits: a worker for tasks, the owner's threads for results.
 * Every wait first spins for an adaptive budget (1 to 40 us: it grows when
 * spinning pays, halves when it does not), then announces that it sleeps
 * and blocks on a futex; the other side makes a wake syscall only for a
 * waiter that announced it.
 *   RP_WAIT_YIELD  spin, but sched_yield() every ~1 us of it, so that a
 *                  thread queued for the same core (the one that is about
 *                  to hand us work: the caller shares cores with the
 *                  workers whenever nworkers >= CPUs, and the scheduler may
 *                  put it on a worker's core even when not) runs at once;
 *                  a yield that returns at once found nobody waiting, and
 *                  the next 256 are skipped, so a thread alone on its core
 *                  spins almost as under SPIN.  The default (AUTO).
 *   RP_WAIT_SPIN   spin with pause instructions only: for a caller sure
 *                  that every busy thread has a core of its own (say, a
 *                  pinned owner thread and nworkers < CPUs);
 *   RP_WAIT_SLEEP  no spinning: the least CPU, a wake syscall per hand-over.
 * A wait that blocked yet ended within 40 us grows the spin budget, so the
 * budget follows the gaps between hand-overs.  An idle pool sleeps in any
 * case: spinning ends within 40 us.
 */
enum rp_wait_policy {
	RP_WAIT_AUTO = 0,
	RP_WAIT_SPIN,
	RP_WAIT_YIELD,
	RP_WAIT_SLEEP,
};

struct rp_pool_opts {
	unsigned nworkers;           /* 0: rp_cpu_count(); at most 4096 */
	rp_init_fn initializer;      /* optional */
	const void *initarg;         /* copied */
	size_t initarg_len;
	unsigned max_tasks_per_worker; /* 0: no limit (maxtasksperchild) */
	enum rp_start_method start_method; /* default: forkserver */
	bool no_pinning;             /* default: worker i on the i-th CPU
				      * from the last (see rp_pool_create) */
	size_t ring_bytes;           /* each task and result ring: a power of
				      * two, 4 KiB .. 1 GiB; 0: 256 KiB */
	int64_t terminate_grace_ns;  /* SIGTERM to SIGKILL; 0: 1 s */
	struct rp_error *init_error; /* optional: filled if the start fails,
				      * RP_EINIT or RP_EWORKER_DIED (see
				      * rp_pool_create) */
	unsigned max_worker_failures; /* restart budget: this many failures
				      * (deaths the pool did not ask for)
				      * within failure_window_ns break the
				      * pool; 0: 10 per worker; RP_NO_LIMIT:
				      * never */
	int64_t failure_window_ns;   /* 0: 10 s */
	enum rp_wait_policy wait_policy; /* see below; default RP_WAIT_AUTO */
	unsigned max_queued;         /* chunks one worker may hold at once,
				      * running and queued behind: 1 ..
				      * RP_MAX_QUEUED; 0: RP_MAX_QUEUED.
				      * See below. */
};

#define RP_NO_LIMIT ((unsigned)-1)

/*
 * Chunks are dealt to the least-loaded worker and wait in its own queue,
 * not in one that all workers take from as in Python's Pool.  A deep
 * queue keeps a worker fed while the owner is slow to deal (its loop
 * thread asleep, a CPU it shares with a worker): with trivial tasks, map
 * at chunksize 1 runs ~20% faster with 4096 than with 1024.  But a chunk
 * queued behind a long one waits for it, even while another worker is
 * idle.  For tasks of a millisecond or more, and uneven, set max_queued
 * to 2 (one running, one ready) or 1 (one at a time, as Python's
 * workers take them; needed when a task waits for tasks submitted after
 * it).
 */
#define RP_MAX_QUEUED 4096u

/*
 * rp_pool_create - start a pool of worker processes.
 * A worker that ends unasked (killed, crashed, exited inside a task) fails
 * the chunks it held with RP_EWORKER_DIED and is replaced at once, unless
 * the restart budget is spent: then the pool is broken, every pending
 * result fails with RP_EBROKEN, and later submits return RP_EBROKEN.  A
 * worker that dies in a broken pool fails the task it was running with
 * RP_EWORKER_DIED, and those queued behind it, which never started, as
 * the pending ones failed (RP_EBROKEN, attempts 0).
 * Python: Pool(processes, initializer, initargs, maxtasksperchild).
 * Each worker gets a private pair of shared-memory rings (tasks in,
 * results out) and, unless no_pinning, worker i is pinned to the i-th CPU
 * this process may use counted from the last (modulo their number), so
 * that with fewer workers than CPUs the first CPU, where a program's main
 * thread usually runs, is left to the caller.  Should a thread of the
 * caller's wait 10 us or more for a result on a pinned worker's CPU while
 * another of those CPUs has no worker, that worker re-pins itself there
 * before its next task, and its replacements start there (the caller's
 * own affinity is never changed):
 * both spinning on one CPU, each hand-over would wait for a time slice.
 * The call returns once every
 * worker ran its initializer: an initializer that fails (returns non-zero,
 * or its worker dies while it runs) makes the call fail with RP_EINIT,
 * never a respawn loop; a worker that dies while the pool starts before
 * its initializer began, or with none, makes it fail with
 * RP_EWORKER_DIED.  Either way opts->init_error, if given, says which
 * worker and why (the initializer's code and message, or the signal or
 * exit status).
 * Any thread may create the pool, and it may end at once: the pool, its
 * workers and its zygote live on until rp_pool_destroy or the end of the
 * caller's process (see rp_process_create for how children tell the two
 * apart).  A lost zygote (RP_START_FORKSERVER; killed from outside) is
 * started again when a worker must next be replaced, and counted in
 * rp_pool_stats().zygote_restarts.
 * Returns 0 and *ret_pool, -EINVAL (NULL, ring_bytes not a power of two in
 * range, initarg NULL with a length, bad start method or wait policy,
 * nworkers over 4096, max_queued over RP_MAX_QUEUED, a negative time),
 * RP_EINIT, RP_EWORKER_DIED, -ENOMEM, or the errno of
 * a failed clone.
 */
RP_API int rp_pool_create(const struct rp_pool_opts *opts,
			  rp_pool_t **ret_pool);

/* rp_pool_size - the number of workers, or -EINVAL. */
RP_API int rp_pool_size(const rp_pool_t *pool);

/*
 * rp_pool_close - accept no new task (later submits fail with RP_ECLOSED);
 * queued and running tasks finish.  Returns at once.  Python: close().
 * Returns 0, -EINVAL (NULL), -EALREADY (already closed or terminated).
 */
RP_API int rp_pool_close(rp_pool_t *pool);

/*
 * rp_pool_terminate - stop every worker now: SIGTERM, then SIGKILL after the
 * grace period.  Every unfinished result completes with RP_ETERMINATED
 * (callbacks still run once).  Python: terminate().  Returns 0, -EINVAL,
 * -EALREADY (already terminated).  Blocks until the workers are gone.
 */
RP_API int rp_pool_terminate(rp_pool_t *pool);

/*
 * rp_pool_join - wait until every worker has exited and been reaped, and
 * every result and callback is done.  Only after close or terminate.
 * Python: join().  Returns 0, -ETIMEDOUT, -EINVAL (NULL, bad timeout, pool
 * neither closed nor terminated), -EDEADLK (called from one of the pool's
 * callbacks).
 */
RP_API int rp_pool_join(rp_pool_t *pool, int64_t timeout_ns);

/*
 * rp_pool_survivors - the workers still running.  After rp_pool_join
 * returned -ETIMEDOUT: the workers not yet exited, that is the ones stuck
 * in a task and, while work remains, the idle ones too, which are told to
 * exit only once every task has finished (as in Python).  Fills up to
 * cap pids into ret_pids (which may be NULL when cap is 0) and returns how
 * many there are (which may exceed cap), or -EINVAL.  A pid is that of a
 * process not yet reaped, so it cannot have been recycled.  rp_pool_destroy
 * or rp_pool_terminate ends them.  Any thread, but not while another
 * thread is in rp_pool_join or rp_pool_destroy on the pool.
 */
RP_API int rp_pool_survivors(rp_pool_t *pool, pid_t *ret_pids, size_t cap);

/*
 * rp_pool_destroy - terminate, join and free: the `with Pool() as p:` exit.
 * NULL-safe; safe on a closed, terminated or joined pool.  Leaves no child,
 * fd or mapping.  Results not yet freed stay readable until rp_result_free.
 * Must not race with other calls on the pool.
 */
RP_API void rp_pool_destroy(rp_pool_t *pool);

/*
 * Counters, to explain a pool's performance.  Pool-wide ones count since
 * rp_pool_create; a worker's count since its current process started (a
 * replacement starts from zero).  A worker's numbers come from its own
 * shared memory and are shown as it wrote them.
 */
struct rp_pool_stats {
	uint64_t tasks_submitted;  /* items accepted (an apply is one item) */
	uint64_t chunks_sent;      /* chunks written into a worker's ring */
	uint64_t chunks_completed; /* chunks that came back with results */
	uint64_t chunks_failed;    /* chunks failed whole: death, deadline,
				    * cancel, terminate */
	uint64_t chunks_requeued;  /* chunks sent again after a death */
	uint64_t pending_stalls;   /* submits that found every ring or slot
				    * full and queued in the owner */
	uint64_t wakeups_sent;     /* wake syscalls the owner made to workers */
	uint64_t loop_wakeups;     /* times the owner's loop thread woke */
	uint64_t respawns;         /* workers replaced */
	uint64_t deadline_kills;   /* workers stopped for a task's deadline */
	uint64_t worker_moves;     /* workers moved off a waiting owner
				    * thread's CPU (see rp_pool_create) */
	uint64_t zygote_restarts;  /* RP_START_FORKSERVER: zygotes started
				    * again after the last one was lost
				    * (killed from outside) */
	pid_t zygote_pid;          /* RP_START_FORKSERVER: the zygote now;
				    * 0 when there is none */
	unsigned nworkers;
};

struct rp_worker_stats {
	pid_t pid;                 /* 0 while there is none */
	int cpu;                   /* pinned to; -1 if not */
	uint32_t outstanding;      /* chunks it holds now */
	uint64_t items;            /* items it ran */
	uint64_t chunks;           /* chunks it ran; a packed run of
				    * one-item chunks (rp_map) counts once */
	uint64_t busy_ns;          /* time spent other than waiting for work */
	uint64_t spins;            /* waits for work that ended spinning */
	uint64_t sleeps;           /* waits for work that blocked */
	uint64_t wakeups_sent;     /* wake syscalls it made to the owner */
	uint64_t result_stalls;    /* waits for room in its result ring */
	uint64_t rss_bytes;        /* resident memory (/proc/PID/statm) */
};

/*
 * rp_pool_stats - the counters above: *ret (optional) for the pool, and
 * up to cap workers' in workers[] (which may be NULL when cap is 0).
 * Returns the number of workers, or -EINVAL.  Any thread; it takes the
 * pool's locks briefly, so it is not for a hot path.
 */
RP_API int rp_pool_stats(rp_pool_t *pool, struct rp_pool_stats *ret,
			 struct rp_worker_stats *workers, size_t cap);

/* ------------------------------------------------------------------------ */
/* Submitting work                                                          */
/* ------------------------------------------------------------------------ */

/*
 * Callbacks run in the owner's process on the pool's callback thread (the
 * first submit with a callback starts it, and fails with its -errno if the
 * thread cannot be created): one at a time for a pool, exactly once per async call (callback on success,
 * error_callback on failure; neither if both are NULL).  res is ready when
 * its callback runs, and readable inside it even if its owner freed it.
 * Unlike Python, a result is ready before its callback has run, so a slow
 * callback delays other callbacks only, never the readiness of any result;
 * rp_pool_join waits for every callback.  A callback may submit new tasks
 * (after rp_pool_close they are refused with RP_ECLOSED: to chain work,
 * close once the follow-ups are in).  A callback must not join or destroy
 * its pool (-EDEADLK).
 */
typedef void (*rp_callback_fn)(rp_result_t *res, void *user);

struct rp_submit_opts {
	rp_callback_fn callback;
	rp_callback_fn error_callback;
	void *user;
	/*
	 * A hard deadline, counted from the moment a worker starts the task
	 * (for map: each chunk has its own, from its start).  When it passes,
	 * the worker and its process group get SIGTERM, then SIGKILL after
	 * kill_grace_ns unless they are gone; the task completes with
	 * -ETIMEDOUT (rp_error.attempts says how many runs it had), the
	 * chunks queued behind it run on other workers, and the worker is
	 * replaced.  Such a kill does not count against the restart budget.
	 * The loop thread enforces it to within about a millisecond of
	 * timer slack.  0: none.
	 */
	int64_t timeout_ns;
	int64_t kill_grace_ns;   /* 0: the pool's terminate_grace_ns */
	/*
	 * For idempotent tasks: when the worker running the task dies (a
	 * kill, a crash, an exit; not a deadline, a cancel or a corrupt
	 * ring), run it again on a fresh worker, up to this many more times.
	 * A task that keeps killing workers then fails with RP_EWORKER_DIED
	 * and rp_error.attempts = retries + 1.  Each death still counts
	 * against the restart budget.  Payloads larger than one ring record
	 * are not kept for a retry: they fail at the first death.
	 */
	unsigned retries;
};

/* chunksize 0: CPython's default, ceil(n / (4 * nworkers)). */
#define RP_CHUNKSIZE_AUTO 0

/*
 * rp_apply - run fn(arg) in a worker and wait.  Python: apply().
 * The result (at most res_cap bytes) is copied to res and its length to
 * *ret_len (optional).  Returns 0, the failure's code (RP_ETASK,
 * RP_EWORKER_DIED, RP_ETERMINATED; *ret_error filled if non-NULL),
 * RP_ECLOSED, -EINVAL (NULL pool or fn, arg NULL with arg_len, res NULL with
 * res_cap), -ENOMEM (also for an argument or result over 64 TiB).  Any
 * thread.
 */
RP_API int rp_apply(rp_pool_t *pool, rp_task_fn fn, const void *arg,
		    size_t arg_len, void *res, size_t res_cap, size_t *ret_len,
		    struct rp_error *ret_error);

/*
 * rp_apply_async - submit fn(arg) and return at once.  Python:
 * apply_async().  The result holds up to res_cap bytes.  opts may be NULL.
 * When every worker's ring is full and another thread is draining
 * results, it waits for that room for at most ~10 us before queueing the
 * task in the owner; it never waits for a task to finish.
 * Returns 0 and *ret_res (free it with rp_result_free), RP_ECLOSED,
 * -EINVAL (also for a negative timeout_ns or kill_grace_ns in opts),
 * -ENOMEM, or the -errno of starting the callback thread (the first
 * submit that asks for a callback starts it).  Any thread, callbacks
 * included.
 */
RP_API int rp_apply_async(rp_pool_t *pool, rp_task_fn fn, const void *arg,
			  size_t arg_len, size_t res_cap,
			  const struct rp_submit_opts *opts,
			  rp_result_t **ret_res);

/*
 * rp_map - fn over n items of item_size bytes each, results (result_size
 * bytes each) written to results[] in input order; blocks until all are
 * done.  Python: map().  Items travel in chunks of chunksize (see
 * RP_CHUNKSIZE_AUTO).  If any item fails the call fails with the first
 * failure by input index (*ret_error), and results[] holds no promise.
 * At chunksize 1, while many items are left, up to 16 consecutive items
 * travel packed to one worker in one record; each is still a chunk of its
 * own: it fails alone, a worker's death fails only the item it was
 * running (the items after it run elsewhere), and each counts against
 * max_queued.  Not packed: calls with a deadline or retries
 * (rp_map_async), pools with max_tasks_per_worker, and the lazy maps.
 * The owner writes results[] as chunks come back: memory written before
 * rp_pool_create is shared copy-on-write with the workers (forked then),
 * and the first write of each of its pages costs a page copy; allocate
 * big result arrays after creating the pool, or madvise(MADV_DONTFORK)
 * them (rp-hashwords does: 25 ms of 0.17 s).
 *
 * starmap: a C "tuple of arguments" is a struct; map over an array of them:
 *
 *	struct pair { double base; int exp; };
 *	static int power(const void *a, size_t n, void *r, size_t rn,
 *			 rp_task_ctx_t *ctx)
 *	{
 *		const struct pair *p = a;
 *		*(double *)r = pow(p->base, p->exp);
 *		return 0;
 *	}
 *	struct pair args[3] = { { 2, 10 }, { 3, 2 }, { 10, 3 } };
 *	double out[3];
 *	rp_map(pool, power, args, 3, sizeof(args[0]), out, sizeof(out[0]),
 *	       RP_CHUNKSIZE_AUTO, NULL);          // out = 1024, 9, 1000
 *
 * Returns 0, a failure's code, RP_ECLOSED, -EINVAL (NULL pool or fn, items
 * or results NULL with n > 0, item_size 0), -EOVERFLOW (n * size overflows),
 * -ENOMEM.
 */
RP_API int rp_map(rp_pool_t *pool, rp_task_fn fn, const void *items, size_t n,
		  size_t item_size, void *results, size_t result_size,
		  size_t chunksize, struct rp_error *ret_error);

/*
 * rp_map_async - rp_map without waiting.  Python: map_async().  The result's
 * value is the whole array of n results in input order; its callback runs
 * once, for the whole batch.  opts' deadline and retries apply to each
 * chunk (rp_map has no options: use this and rp_result_get for them; the
 * lazy maps below have none).  Returns as rp_apply_async.
 */
RP_API int rp_map_async(rp_pool_t *pool, rp_task_fn fn, const void *items,
			size_t n, size_t item_size, size_t result_size,
			size_t chunksize, const struct rp_submit_opts *opts,
			rp_result_t **ret_res);

/* ------------------------------------------------------------------------ */
/* Results (Python AsyncResult)                                             */
/* ------------------------------------------------------------------------ */

/*
 * rp_result_get - wait up to timeout_ns for the result.  Python: get().
 * Returns 0 with *ret_data and *ret_len (both optional; the bytes stay
 * valid until rp_result_free), -ETIMEDOUT (the task keeps running), the
 * failure's code (details: rp_result_error), -EINVAL (NULL, bad timeout,
 * freed result).  Any thread; several may wait on one result.
 */
RP_API int rp_result_get(rp_result_t *res, int64_t timeout_ns,
			 const void **ret_data, size_t *ret_len);

/*
 * rp_result_wait - wait up to timeout_ns for completion, success or not.
 * Python: wait().  Returns 0, -ETIMEDOUT, -EINVAL.
 */
RP_API int rp_result_wait(rp_result_t *res, int64_t timeout_ns);

/* rp_result_ready - 1 when complete (either way), 0 if not, -EINVAL. */
RP_API int rp_result_ready(rp_result_t *res);

/*
 * rp_result_successful - 1 if it completed successfully, 0 if it failed,
 * -EINVAL when not complete yet (Python's ValueError) or NULL.
 */
RP_API int rp_result_successful(rp_result_t *res);

/*
 * rp_result_error - why it failed, or NULL (not complete, or succeeded).
 * Valid until rp_result_free.  Should the owner have run out of memory
 * while keeping the record, it has code -ENOMEM and says so (the result's
 * own code, from rp_result_get, is still the failure's).
 */
RP_API const struct rp_error *rp_result_error(rp_result_t *res);

/*
 * rp_result_cancel - cancel a task that has not started: it never runs and
 * completes with RP_ECANCELED (its error callback runs).  With force, a
 * task that is running is cancelled too: its worker is killed (with the
 * processes its tasks started) and replaced, the tasks queued behind it run
 * on other workers, and the result completes with RP_ECANCELED once the
 * pool has seen the worker die (wait for it); a task that finishes before
 * the kill lands keeps its result.  Python cannot do this.
 * Returns 0 (something was cancelled), -EBUSY (running, and no force),
 * -EALREADY (complete), -EINVAL.  For map results, cancels every chunk it
 * can; the result fails with RP_ECANCELED.  Items packed together at
 * chunksize 1 (see rp_map) count as chunks of their own: those not begun
 * never run, even when their worker is running others of their record.
 */
RP_API int rp_result_cancel(rp_result_t *res, bool force);

/*
 * rp_result_free - release the caller's reference.  NULL-safe.  An
 * unfinished result is detached: the task still runs, its callback still
 * runs, its value is dropped.  A freed result given to any rp_result_ call
 * is -EINVAL as long as its memory has not been reused for a newer result.
 */
RP_API void rp_result_free(rp_result_t *res);

/* ------------------------------------------------------------------------ */
/* Lazy iteration (Python imap, imap_unordered)                             */
/* ------------------------------------------------------------------------ */

/*
 * A producer writes the next item (item_size bytes) and returns 1, returns
 * 0 at the end of the input, or a negative code to stop with an error.  It
 * is called on the thread that calls rp_iter_next (and once in rp_imap),
 * never concurrently, and only when there is room for another item.
 */
typedef int (*rp_producer_fn)(void *user, void *item, size_t item_size);

struct rp_input {
	const void *items;        /* an array of n items ... */
	size_t n;
	rp_producer_fn producer;  /* ... or, if items is NULL, a producer */
	void *user;
	size_t item_size;
};

/* One yielded item; pointers valid until the next rp_iter_next/free. */
struct rp_item {
	size_t index;                 /* its input index */
	const void *data;             /* result_size bytes; NULL if failed */
	size_t len;
	const struct rp_error *error;  /* NULL unless the item failed */
};

/*
 * rp_imap - lazy map: items are pulled from in only as room frees up, so an
 * unbounded producer runs in bounded memory: at most `window` items are
 * pulled and not yet yielded, where window = max(1024, 4 * nworkers *
 * chunksize) rounded up to a multiple of chunksize, lowered so that window
 * * (item_size + result_size) stays within 64 MiB, but never below
 * nworkers * chunksize.  rp_iter_next yields results in input order.
 * Python: imap().  chunksize as rp_map (for a producer, 0 means 1).  An
 * items array is read during the whole iteration: keep it until
 * rp_iter_free.
 * rp_imap_unordered - the same, yielding in completion order.
 * Returns 0 and *ret_it, RP_ECLOSED, -EINVAL, -EOVERFLOW (sizes whose
 * products or sum overflow, for the array or for the window), -ENOMEM.
 */
RP_API int rp_imap(rp_pool_t *pool, rp_task_fn fn, const struct rp_input *in,
		   size_t result_size, size_t chunksize, rp_iter_t **ret_it);
RP_API int rp_imap_unordered(rp_pool_t *pool, rp_task_fn fn,
			     const struct rp_input *in, size_t result_size,
			     size_t chunksize, rp_iter_t **ret_it);

/*
 * rp_iter_next - the next item.  Returns 0 (*ret_item holds it), the item's
 * failure code (*ret_item has its index and error; iteration can go on),
 * RP_EEND (no more items), -ETIMEDOUT, -EINVAL.  An error from the producer
 * is reported once, as RP_ETASK with index = the item it failed to produce,
 * and ends the input.  One thread at a time per iterator.
 */
RP_API int rp_iter_next(rp_iter_t *it, int64_t timeout_ns,
			struct rp_item *ret_item);

/*
 * rp_iter_free - stop iterating and release.  Items in flight still run;
 * their results are dropped.  NULL-safe.
 */
RP_API void rp_iter_free(rp_iter_t *it);

#ifdef __cplusplus
}
#endif

#endif /* RINGPOOL_H */
