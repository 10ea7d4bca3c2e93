/* SPDX-License-Identifier: MIT */
/*
 * The Process API: rp_process_t objects, the registry of started children
 * (for rp_active_children and the exit-time join), and the process-wide
 * zygote used by RP_START_FORKSERVER.
 *
 * Locks: the registry lock is taken before a process's own lock, never the
 * other way round.  A child starts single-threaded with copies of both, so
 * the trampoline re-creates them before user code can touch the library.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringpool.h"
#include "spawn.h"
#include "sys.h"
#include "zygote.h"

enum proc_state { PROC_CREATED, PROC_RUNNING, PROC_ENDED };

/* The payload a child receives: the target, then the argument bytes at a
 * 16-byte boundary so any argument struct is aligned as malloc would. */
struct child_payload_head {
	uint64_t target;
	uint64_t pad;
};

struct rp_process {
	pthread_mutex_t lock;
	enum proc_state state;
	_Atomic pid_t pid;
	int pidfd;      /* open from start until free: never reused under a waiter */
	int exitcode;
	bool status_lost;   /* another waiter reaped it, and the kernel kept
			     * no status for us (sys.h) */
	char *name;
	bool daemon;
	bool pin;
	cpu_set_t cpus;
	enum rp_start_method method;
	void *payload;  /* struct child_payload_head + argument bytes */
	size_t payload_len;
	struct rp_process *next, *prev; /* registry links while started */
};

/* Everything process-wide.  owner says which process these fields describe:
 * a child that inherited them from its parent starts afresh. */
static struct {
	pthread_mutex_t lock;        /* owner, started */
	pid_t owner;
	struct rp_process *started;
	pthread_mutex_t zygote_lock; /* zygote, zygote_owner */
	struct rp__zygote *zygote;
} g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.zygote_lock = PTHREAD_MUTEX_INITIALIZER,
};

static atomic_uint process_counter;
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

/* Children must not wait on locks another thread of the parent held. */
static void reset_locks_in_child(void)
{
	pthread_mutex_init(&g.lock, NULL);
	pthread_mutex_init(&g.zygote_lock, NULL);
}

static void registry_lock(void)
{
	pid_t self = getpid();

	pthread_mutex_lock(&g.lock);
	if (g.owner != self) {
		/* Entries inherited from a parent are its children, not ours. */
		g.owner = self;
		g.started = NULL;
	}
}

static void registry_add(struct rp_process *p)
{
	registry_lock();
	p->prev = NULL;
	p->next = g.started;
	if (g.started)
		g.started->prev = p;
	g.started = p;
	pthread_mutex_unlock(&g.lock);
}

static void registry_remove(struct rp_process *p)
{
	registry_lock();
	if (p->prev)
		p->prev->next = p->next;
	else if (g.started == p)
		g.started = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
	pthread_mutex_unlock(&g.lock);
}

/* With p->lock held: notice, without blocking, that the child ended. */
static void reap_locked(struct rp_process *p)
{
	int code;
	int r;

	if (p->state != PROC_RUNNING)
		return;
	r = rp__sys_pidfd_reap(p->pidfd, &code);
	if (r == 1) {
		p->exitcode = code;
		p->state = PROC_ENDED;
	} else if (r == -ECHILD) {
		p->status_lost = true;
		p->state = PROC_ENDED;
	}
}

static enum proc_state poll_state(struct rp_process *p)
{
	enum proc_state st;

	pthread_mutex_lock(&p->lock);
	reap_locked(p);
	st = p->state;
	pthread_mutex_unlock(&p->lock);
	return st;
}

/* Waits for the end of a started child; 0 or -ETIMEDOUT or -errno. */
static int wait_end(struct rp_process *p, int64_t timeout_ns)
{
	int r;

	if (poll_state(p) == PROC_ENDED)
		return 0;
	r = rp__sys_wait_readable(p->pidfd, timeout_ns);
	if (r < 0)
		return r;
	return poll_state(p) == PROC_ENDED ? 0 : -ETIMEDOUT;
}

static int send_signal(struct rp_process *p, int sig)
{
	int err = 0;

	if (!p)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	if (p->state == PROC_CREATED)
		err = -ECHILD;
	else if (p->state == PROC_RUNNING)
		err = rp__sys_pidfd_send_signal(p->pidfd, p->pid, sig);
	pthread_mutex_unlock(&p->lock);
	/* ESRCH: it exited and awaits reaping; there is nothing to signal. */
	return err == -ESRCH ? 0 : err;
}

/*
 * At a normal exit of the owner, as Python: daemon children are terminated
 * (and killed if they outlast a grace period), the others joined.
 */
#define DAEMON_EXIT_GRACE_NS 1000000000

static void join_children_at_exit(void)
{
	struct rp_process *p;

	registry_lock();
	for (p = g.started; p; p = p->next)
		if (p->daemon)
			send_signal(p, SIGTERM);
	for (p = g.started; p; p = p->next) {
		if (p->daemon && wait_end(p, DAEMON_EXIT_GRACE_NS) == -ETIMEDOUT)
			send_signal(p, SIGKILL);
		wait_end(p, RP_FOREVER);
	}
	pthread_mutex_unlock(&g.lock);

	pthread_mutex_lock(&g.zygote_lock);
	if (g.zygote && rp__zygote_owner(g.zygote) == getpid())
		rp__zygote_stop(g.zygote);
	else
		rp__zygote_forget(g.zygote);
	g.zygote = NULL;
	pthread_mutex_unlock(&g.zygote_lock);
}

static void install_hooks(void)
{
	pthread_atfork(NULL, NULL, reset_locks_in_child);
	atexit(join_children_at_exit);
}

/* The child's main: the library's locks first, then the user's target. */
static int process_trampoline(void *payload, size_t len)
{
	struct child_payload_head head;
	rp_process_fn target;
	size_t arg_len = len - sizeof(head);

	int status;

	reset_locks_in_child();
	memcpy(&head, payload, sizeof(head));
	target = (rp_process_fn)(uintptr_t)head.target;
	status = target(arg_len ? (char *)payload + sizeof(head) : NULL, arg_len);
	/* As Python after run(): this child's own children are dealt with. */
	join_children_at_exit();
	return status;
}

static int spawn_with_zygote(const struct rp__child_spec *spec, pid_t *ret_pid,
			     int *ret_pidfd)
{
	int err = 0;

	pthread_mutex_lock(&g.zygote_lock);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (g.zygote && rp__zygote_owner(g.zygote) != getpid()) {
			rp__zygote_forget(g.zygote); /* our parent's, inherited */
			g.zygote = NULL;
		}
		if (!g.zygote)
			err = rp__zygote_start(NULL, 0, &g.zygote);
		if (err < 0)
			break;
		err = rp__zygote_spawn(g.zygote, spec, ret_pid, ret_pidfd);
		if (err != -EPIPE)
			break;
		/* The zygote died (killed from outside): replace it once. */
		rp__zygote_stop(g.zygote);
		g.zygote = NULL;
	}
	pthread_mutex_unlock(&g.zygote_lock);
	return err;
}

static int check_cpus(const cpu_set_t *cpus)
{
	cpu_set_t allowed, both;

	if (CPU_COUNT(cpus) == 0)
		return -EINVAL;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		return -errno;
	CPU_AND(&both, &allowed, cpus);
	return CPU_COUNT(&both) ? 0 : -EINVAL;
}

static int check_opts(const struct rp_process_opts *o)
{
	if (!o->target || (o->arg_len && !o->arg))
		return -EINVAL;
	if (o->start_method != RP_START_DEFAULT &&
	    o->start_method != RP_START_FORKSERVER &&
	    o->start_method != RP_START_FORK)
		return -EINVAL;
	if (o->arg_len > SIZE_MAX - sizeof(struct child_payload_head))
		return -EOVERFLOW;
	return o->cpus ? check_cpus(o->cpus) : 0;
}

static char *default_name(void)
{
	unsigned n = atomic_fetch_add(&process_counter, 1) + 1;
	char buf[32];

	snprintf(buf, sizeof(buf), "Process-%u", n);
	return strdup(buf);
}

RP_API int rp_process_create(const struct rp_process_opts *opts,
			     rp_process_t **ret_proc)
{
	struct child_payload_head head = { 0 };
	struct rp_process *p;
	int err;

	if (!opts || !ret_proc)
		return -EINVAL;
	err = check_opts(opts);
	if (err < 0)
		return err;
	pthread_once(&hooks_once, install_hooks);

	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->payload_len = sizeof(head) + opts->arg_len;
	p->payload = malloc(p->payload_len);
	p->name = opts->name ? strdup(opts->name) : default_name();
	if (!p->payload || !p->name) {
		free(p->payload);
		free(p->name);
		free(p);
		return -ENOMEM;
	}
	head.target = (uint64_t)(uintptr_t)opts->target;
	memcpy(p->payload, &head, sizeof(head));
	if (opts->arg_len)
		memcpy((char *)p->payload + sizeof(head), opts->arg, opts->arg_len);
	pthread_mutex_init(&p->lock, NULL);
	p->state = PROC_CREATED;
	p->pidfd = -1;
	p->daemon = opts->daemon;
	p->pin = opts->cpus != NULL;
	if (opts->cpus)
		p->cpus = *opts->cpus;
	p->method = opts->start_method == RP_START_DEFAULT ?
		RP_START_FORKSERVER : opts->start_method;
	*ret_proc = p;
	return 0;
}

static void fill_spec(const struct rp_process *p, struct rp__child_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->main = process_trampoline;
	spec->payload = p->payload;
	spec->payload_len = p->payload_len;
	snprintf(spec->name, sizeof(spec->name), "%s", p->name);
	spec->pin = p->pin;
	spec->cpus = p->cpus;
	spec->parent = getpid();
	spec->pass_fd = -1;
}

RP_API int rp_process_start(rp_process_t *p)
{
	struct rp__child_spec spec;
	pid_t pid = 0;
	int pidfd = -1;
	int err;

	if (!p)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	if (p->state != PROC_CREATED) {
		pthread_mutex_unlock(&p->lock);
		return -EALREADY;
	}
	fill_spec(p, &spec);
	if (p->method == RP_START_FORK)
		err = rp__spawn_direct(&spec, &pid, &pidfd);
	else
		err = spawn_with_zygote(&spec, &pid, &pidfd);
	if (err == 0) {
		p->pidfd = pidfd;
		atomic_store_explicit(&p->pid, pid, memory_order_relaxed);
		p->state = PROC_RUNNING;
	}
	pthread_mutex_unlock(&p->lock);
	if (err == 0)
		registry_add(p);
	return err;
}

RP_API int rp_process_join(rp_process_t *p, int64_t timeout_ns)
{
	enum proc_state st;

	if (!p || (timeout_ns < 0 && timeout_ns != RP_FOREVER))
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	st = p->state;
	pthread_mutex_unlock(&p->lock);
	if (st == PROC_CREATED)
		return -ECHILD;
	return wait_end(p, timeout_ns);
}

RP_API int rp_process_is_alive(rp_process_t *p)
{
	if (!p)
		return -EINVAL;
	return poll_state(p) == PROC_RUNNING;
}

RP_API int rp_process_exitcode(rp_process_t *p, int *ret_code)
{
	int known;

	if (!p || !ret_code)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	reap_locked(p);
	known = p->state == PROC_ENDED;
	if (known && p->status_lost)
		known = -ECHILD;
	else if (known)
		*ret_code = p->exitcode;
	pthread_mutex_unlock(&p->lock);
	return known;
}

RP_API int rp_process_terminate(rp_process_t *p)
{
	return send_signal(p, SIGTERM);
}

RP_API int rp_process_kill(rp_process_t *p)
{
	return send_signal(p, SIGKILL);
}

RP_API pid_t rp_process_pid(const rp_process_t *p)
{
	return p ? atomic_load_explicit(&p->pid, memory_order_relaxed) : 0;
}

RP_API const char *rp_process_name(const rp_process_t *p)
{
	return p ? p->name : NULL;
}

RP_API bool rp_process_daemon(const rp_process_t *p)
{
	return p ? p->daemon : false;
}

static void destroy(struct rp_process *p)
{
	if (p->state != PROC_CREATED) {
		registry_remove(p);
		close(p->pidfd);
	}
	pthread_mutex_destroy(&p->lock);
	free(p->payload);
	free(p->name);
	free(p);
}

RP_API int rp_process_close(rp_process_t *p)
{
	if (!p)
		return -EINVAL;
	if (poll_state(p) == PROC_RUNNING)
		return -EBUSY;
	destroy(p);
	return 0;
}

RP_API void rp_process_free(rp_process_t *p)
{
	if (!p)
		return;
	if (poll_state(p) == PROC_RUNNING) {
		send_signal(p, SIGKILL);
		wait_end(p, RP_FOREVER);
	}
	destroy(p);
}

RP_API int rp_active_children(rp_process_t **ret_list, size_t cap)
{
	struct rp_process *p;
	size_t n = 0;

	if (cap && !ret_list)
		return -EINVAL;
	registry_lock();
	for (p = g.started; p; p = p->next) {
		if (poll_state(p) != PROC_RUNNING)
			continue;
		if (n < cap)
			ret_list[n] = p;
		n++;
	}
	pthread_mutex_unlock(&g.lock);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

RP_API int rp_cpu_count(void)
{
	for (size_t ncpu = 1024; ncpu <= (1u << 20); ncpu *= 2) {
		size_t size = CPU_ALLOC_SIZE(ncpu);
		cpu_set_t *set = CPU_ALLOC(ncpu);
		int count;

		if (!set)
			return 1;
		if (sched_getaffinity(0, size, set) == 0) {
			count = CPU_COUNT_S(size, set);
			CPU_FREE(set);
			return count > 0 ? count : 1;
		}
		CPU_FREE(set);
		if (errno != EINVAL)
			break;
	}
	return 1;
}

RP_API const char *rp_current_process_name(void)
{
	return rp__spawn_current_name();
}
