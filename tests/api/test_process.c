/* SPDX-License-Identifier: MIT */
/*
 * The Process API as include/ringpool.h documents it, through the public
 * header only: start, join(timeout), is_alive, exitcode, terminate/kill,
 * active_children, names, pid, daemon flag, argument bytes, CPU pinning and
 * the child's fds.  Every behaviour runs under both start methods.
 *
 * Children never assert: they report through the shared page (harness.h)
 * or their exit code, and block on futex gates the test opens.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"
#include "ringpool.h"



/* A child that returns the int it was given. */
static int return_fn(void *arg, size_t len)
{
	int code;

	if (!arg || len != sizeof(code))
		return 98;
	memcpy(&code, arg, sizeof(code));
	return code;
}

static rp_process_t *new_returner(enum rp_start_method m, int code)
{
	struct rp_process_opts o = {
		.target = return_fn,
		.arg = &code,
		.arg_len = sizeof(code),
		.start_method = m,
	};

	return h_new(&o);
}

/* ---- start, join, is_alive, exitcode ---- */

/*
 * start returns while the child is held at a gate only the test can open:
 * were start to wait for the child, the child would hit its guard and exit
 * with H_EXIT_GUARD instead of its code.
 */
static void start_does_not_block(enum rp_start_method m)
{
	rp_process_t *p = h_new_blocker(m, 0, 5, NULL, false);
	int code = SENTINEL;

	assert_int_equal(rp_process_is_alive(p), 0);
	assert_int_equal(rp_process_exitcode(p, &code), 0);
	assert_int_equal(code, SENTINEL);

	assert_int_equal(rp_process_start(p), 0);
	assert_int_equal(rp_process_is_alive(p), 1);
	h_wait_ready(0);
	assert_int_equal(h_sh->done[0], 0);
	assert_int_equal(rp_process_is_alive(p), 1);

	h_open_gate(0);
	assert_int_equal(h_join_code(p), 5);
	assert_int_equal(h_sh->done[0], 1);
	assert_int_equal(rp_process_is_alive(p), 0);
	h_free(p);
}
BOTH(start_does_not_block)

static void join_timeout_leaves_child_running(enum rp_start_method m)
{
	rp_process_t *p = h_new_blocker(m, 0, 3, NULL, false);
	int code = SENTINEL;

	assert_int_equal(rp_process_start(p), 0);
	h_wait_ready(0);

	assert_int_equal(rp_process_join(p, 1000000), -ETIMEDOUT);
	assert_int_equal(rp_process_is_alive(p), 1);
	assert_int_equal(rp_process_exitcode(p, &code), 0);
	assert_int_equal(code, SENTINEL);
	/* 0 polls. */
	assert_int_equal(rp_process_join(p, 0), -ETIMEDOUT);
	assert_int_equal(rp_process_is_alive(p), 1);
	assert_int_equal(rp_process_exitcode(p, &code), 0);
	assert_int_equal(code, SENTINEL);

	h_open_gate(0);
	assert_int_equal(rp_process_join(p, RP_FOREVER), 0);
	assert_int_equal(rp_process_is_alive(p), 0);
	assert_int_equal(rp_process_exitcode(p, &code), 1);
	assert_int_equal(code, 3);
	/* Joining an ended child returns at once, whatever the timeout. */
	assert_int_equal(rp_process_join(p, 0), 0);
	assert_int_equal(rp_process_join(p, RP_FOREVER), 0);
	assert_int_equal(rp_process_exitcode(p, &code), 1);
	assert_int_equal(code, 3);
	h_free(p);
}
BOTH(join_timeout_leaves_child_running)

static void exitcode_of_normal_return(enum rp_start_method m)
{
	static const int codes[] = { 7, 0, 1, 255 };

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		rp_process_t *p = new_returner(m, codes[i]);

		assert_int_equal(rp_process_start(p), 0);
		assert_int_equal(h_join_code(p), codes[i]);
		h_free(p);
	}
}
BOTH(exitcode_of_normal_return)

/*
 * exitcode is known once the child has ended, without a join: the test
 * watches the child end (without reaping it), then asks.
 */
static void exitcode_without_join(enum rp_start_method m)
{
	rp_process_t *p = h_new_blocker(m, 0, 42, NULL, false);
	int code = SENTINEL;

	assert_int_equal(rp_process_start(p), 0);
	h_wait_ready(0);
	h_open_gate(0);
	h_child_wait_end(rp_process_pid(p));

	assert_int_equal(rp_process_is_alive(p), 0);
	assert_int_equal(rp_process_exitcode(p, &code), 1);
	assert_int_equal(code, 42);
	assert_int_equal(rp_process_join(p, 0), 0);
	h_free(p);
}
BOTH(exitcode_without_join)

static void signal_gives_negative_exitcode(enum rp_start_method m, bool kill)
{
	rp_process_t *p = h_new_blocker(m, 0, 0, NULL, false);
	int want = kill ? -9 : -15;
	int code = SENTINEL;

	assert_int_equal(rp_process_start(p), 0);
	h_wait_ready(0);
	assert_int_equal(kill ? rp_process_kill(p) : rp_process_terminate(p),
			 0);
	assert_int_equal(h_join_code(p), want);
	assert_int_equal(rp_process_is_alive(p), 0);
	assert_int_equal(h_sh->done[0], 0);

	/* Signalling an ended child sends nothing and succeeds. */
	assert_int_equal(rp_process_terminate(p), 0);
	assert_int_equal(rp_process_kill(p), 0);
	assert_int_equal(rp_process_exitcode(p, &code), 1);
	assert_int_equal(code, want);
	h_free(p);
}

static void terminate_gives_minus_15(enum rp_start_method m)
{
	signal_gives_negative_exitcode(m, false);
}
BOTH(terminate_gives_minus_15)

static void kill_gives_minus_9(enum rp_start_method m)
{
	signal_gives_negative_exitcode(m, true);
}
BOTH(kill_gives_minus_9)

/* Freeing a running child kills and reaps it. */
static void free_kills_running_child(enum rp_start_method m)
{
	rp_process_t *p = h_new_blocker(m, 0, 0, NULL, false);
	pid_t pid;

	assert_int_equal(rp_process_start(p), 0);
	h_wait_ready(0);
	pid = rp_process_pid(p);
	assert_false(h_child_reaped(pid));
	h_free(p);
	/* Ended and reaped before free returned: no zombie, gate still shut. */
	assert_true(h_child_reaped(pid));
	assert_int_equal(h_sh->done[0], 0);
	assert_int_equal(h_sh->guard[0], 0);
}
BOTH(free_kills_running_child)

static void close_after_join_and_before_start(enum rp_start_method m)
{
	rp_process_t *never = new_returner(m, 0);
	rp_process_t *p = new_returner(m, 0);

	assert_int_equal(rp_process_close(never), 0);
	h_untrack(never);

	assert_int_equal(rp_process_start(p), 0);
	assert_int_equal(h_join_code(p), 0);
	assert_int_equal(rp_process_close(p), 0);
	h_untrack(p);
}
BOTH(close_after_join_and_before_start)

/* ---- active_children ---- */

static int count_in(rp_process_t *const *list, int n, const rp_process_t *p)
{
	int c = 0;

	for (int i = 0; i < n; i++)
		c += list[i] == p;
	return c;
}

static void active_children_lists_running(enum rp_start_method m)
{
	rp_process_t *a = h_new_blocker(m, 0, 0, "a", false);
	rp_process_t *b = h_new_blocker(m, 1, 0, "b", false);
	rp_process_t *c = h_new_blocker(m, 2, 0, "c", false);
	rp_process_t *unstarted = h_new_blocker(m, 3, 0, "d", false);
	rp_process_t *list[8];

	assert_int_equal(rp_active_children(NULL, 0), 0);
	assert_int_equal(rp_process_start(a), 0);
	assert_int_equal(rp_process_start(b), 0);
	assert_int_equal(rp_process_start(c), 0);
	for (int i = 0; i < 3; i++)
		h_wait_ready(i);

	assert_int_equal(rp_active_children(NULL, 0), 3);
	memset(list, 0, sizeof(list));
	assert_int_equal(rp_active_children(list, 8), 3);
	assert_int_equal(count_in(list, 3, a), 1);
	assert_int_equal(count_in(list, 3, b), 1);
	assert_int_equal(count_in(list, 3, c), 1);
	assert_int_equal(count_in(list, 8, unstarted), 0);
	assert_null(list[3]);

	/* A short list: the count is still the whole. */
	memset(list, 0, sizeof(list));
	assert_int_equal(rp_active_children(list, 1), 3);
	assert_true(list[0] == a || list[0] == b || list[0] == c);
	assert_null(list[1]);

	/* A joined child leaves the list. */
	h_open_gate(1);
	assert_int_equal(h_join_code(b), 0);
	memset(list, 0, sizeof(list));
	assert_int_equal(rp_active_children(list, 8), 2);
	assert_int_equal(count_in(list, 2, a), 1);
	assert_int_equal(count_in(list, 2, c), 1);

	/* An ended, unjoined child leaves it too, and is reaped on the way. */
	h_open_gate(2);
	h_child_wait_end(rp_process_pid(c));
	memset(list, 0, sizeof(list));
	assert_int_equal(rp_active_children(list, 8), 1);
	assert_ptr_equal(list[0], a);
	assert_int_equal(h_join_code(c), 0);

	h_open_gate(0);
	assert_int_equal(h_join_code(a), 0);
	assert_int_equal(rp_active_children(NULL, 0), 0);
	assert_int_equal(rp_active_children(list, 8), 0);
	h_free(a);
	h_free(b);
	h_free(c);
	h_free(unstarted);
}
BOTH(active_children_lists_running)

/* ---- names, pid, daemon ---- */

static void read_comm(pid_t pid, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, buf, size - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
}

static void given_name(enum rp_start_method m)
{
	char name[] = "Addition1";
	char comm[32];
	rp_process_t *p = h_new_blocker(m, 0, 0, name, false);

	/* The name was copied at creation. */
	name[0] = 'X';
	assert_string_equal(rp_process_name(p), "Addition1");

	assert_int_equal(rp_process_start(p), 0);
	h_wait_ready(0);
	assert_string_equal(h_sh->text[0], "Addition1");
	read_comm(rp_process_pid(p), comm, sizeof(comm));
	if (strncmp(comm, "rp-", 3) != 0)
		fail_msg("child comm is \"%s\", want \"rp-...\"", comm);
	assert_string_equal(rp_current_process_name(), "MainProcess");

	h_open_gate(0);
	assert_int_equal(h_join_code(p), 0);
	assert_string_equal(rp_process_name(p), "Addition1");
	h_free(p);
}
BOTH(given_name)

/* "Process-<N>" with N a positive decimal and nothing after it. */
static long default_name_number(const char *name)
{
	char *end;
	long n;

	assert_non_null(name);
	if (strncmp(name, "Process-", 8) != 0)
		fail_msg("default name is \"%s\", want \"Process-<N>\"", name);
	errno = 0;
	n = strtol(name + 8, &end, 10);
	if (errno || end == name + 8 || *end || n < 1)
		fail_msg("default name is \"%s\", want \"Process-<N>\"", name);
	return n;
}

static void default_names(enum rp_start_method m)
{
	rp_process_t *p = h_new_blocker(m, 0, 0, NULL, false);
	rp_process_t *q = h_new_blocker(m, 1, 0, NULL, false);

	assert_int_not_equal(default_name_number(rp_process_name(p)),
			     default_name_number(rp_process_name(q)));
	assert_int_equal(rp_process_start(p), 0);
	h_wait_ready(0);
	assert_string_equal(h_sh->text[0], rp_process_name(p));
	h_open_gate(0);
	assert_int_equal(h_join_code(p), 0);
	h_free(p);
	h_free(q);
}
BOTH(default_names)

static void pid_and_daemon(enum rp_start_method m)
{
	rp_process_t *d = h_new_blocker(m, 0, 0, NULL, true);
	rp_process_t *n = h_new_blocker(m, 1, 0, NULL, false);
	pid_t dpid;

	assert_true(rp_process_daemon(d));
	assert_false(rp_process_daemon(n));
	assert_int_equal(rp_process_pid(d), 0);
	assert_int_equal(rp_process_pid(n), 0);

	assert_int_equal(rp_process_start(d), 0);
	assert_int_equal(rp_process_start(n), 0);
	h_wait_ready(0);
	h_wait_ready(1);
	dpid = rp_process_pid(d);
	assert_true(dpid > 0);
	assert_int_equal(dpid, h_sh->pid[0]);
	assert_int_equal(rp_process_pid(n), h_sh->pid[1]);
	assert_int_not_equal(dpid, rp_process_pid(n));
	/* Both start methods make the caller the child's parent. */
	assert_int_equal(h_sh->ppid[0], getpid());
	assert_int_equal(h_sh->ppid[1], getpid());

	h_open_gate(0);
	h_open_gate(1);
	assert_int_equal(h_join_code(d), 0);
	assert_int_equal(h_join_code(n), 0);
	assert_int_equal(rp_process_pid(d), dpid);
	assert_true(rp_process_daemon(d));
	h_free(d);
	h_free(n);
}
BOTH(pid_and_daemon)

/* ---- argument bytes ---- */

static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 7) ^ (i >> 8) ^ 0x5a);
}

/* 0: the bytes match; 1: wrong length; 2: wrong bytes; 3: NULL. */
static int check_arg_fn(void *arg, size_t len)
{
	const unsigned char *b = arg;

	if (!arg)
		return 3;
	if (len != (size_t)h_sh->val[0])
		return 1;
	for (size_t i = 0; i < len; i++)
		if (b[i] != pattern(i))
			return 2;
	return 0;
}

static void arg_copied_len(enum rp_start_method m, size_t len)
{
	unsigned char *buf = malloc(len);
	struct rp_process_opts o = {
		.target = check_arg_fn,
		.arg = buf,
		.arg_len = len,
		.start_method = m,
	};
	rp_process_t *p;

	assert_non_null(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = pattern(i);
	h_sh->val[0] = (int32_t)len;
	p = h_new(&o);
	/* The caller's buffer changes (and goes away) before the start. */
	memset(buf, 0xee, len);
	free(buf);

	assert_int_equal(rp_process_start(p), 0);
	assert_int_equal(h_join_code(p), 0);
	h_free(p);
}

static void arg_bytes_are_copied(enum rp_start_method m)
{
	arg_copied_len(m, 1);
	arg_copied_len(m, 256);
	/* Larger than a page and a typical socket buffer. */
	arg_copied_len(m, 300000);
}
BOTH(arg_bytes_are_copied)

/* 0 when the child got no argument: arg NULL and arg_len 0. */
static int no_arg_fn(void *arg, size_t len)
{
	return (arg == NULL && len == 0) ? 0 : 1;
}

static void no_arg_is_null(enum rp_start_method m)
{
	static const char unused[] = "x";
	struct rp_process_opts o = { .target = no_arg_fn, .start_method = m };
	rp_process_t *p = h_new(&o);

	assert_int_equal(rp_process_start(p), 0);
	assert_int_equal(h_join_code(p), 0);
	h_free(p);

	/* A pointer with no bytes is no argument either. */
	o.arg = unused;
	o.arg_len = 0;
	p = h_new(&o);
	assert_int_equal(rp_process_start(p), 0);
	assert_int_equal(h_join_code(p), 0);
	h_free(p);
}
BOTH(no_arg_is_null)

/* ---- CPU pinning ---- */

/* 0 when the child may run on exactly the one CPU it was given. */
static int pinned_fn(void *arg, size_t len)
{
	cpu_set_t set;
	int cpu;

	if (!arg || len != sizeof(cpu))
		return 98;
	memcpy(&cpu, arg, sizeof(cpu));
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 2;
	h_sh->val[0] = CPU_COUNT(&set);
	return (CPU_COUNT(&set) == 1 && CPU_ISSET(cpu, &set)) ? 0 : 1;
}

static void cpu_set_pins_child(enum rp_start_method m)
{
	cpu_set_t mine, one, after;
	struct rp_process_opts o = {
		.target = pinned_fn,
		.arg_len = sizeof(int),
		.cpus = &one,
		.start_method = m,
	};
	rp_process_t *p;
	int cpu = -1;

	assert_int_equal(sched_getaffinity(0, sizeof(mine), &mine), 0);
	if (CPU_COUNT(&mine) < 2) {
		print_message("only one CPU here: pinning cannot be told from "
			      "inheriting\n");
		skip();
	}
	/* The highest allowed CPU: the one least likely to be the default. */
	for (int i = 0; i < CPU_SETSIZE; i++)
		if (CPU_ISSET(i, &mine))
			cpu = i;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	o.arg = &cpu;
	p = h_new(&o);
	assert_int_equal(rp_process_start(p), 0);
	if (h_join_code(p) != 0)
		fail_msg("child pinned to CPU %d saw %d CPUs", cpu,
			 h_sh->val[0]);
	h_free(p);

	/* The caller's own affinity is untouched. */
	assert_int_equal(sched_getaffinity(0, sizeof(after), &after), 0);
	assert_true(CPU_EQUAL(&mine, &after));
}
BOTH(cpu_set_pins_child)

/* ---- fds ---- */

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * Count the child's fds above 2, apart from the one it lists /proc/self/fd
 * through; raw getdents64 so nothing allocates.  0 when there are none.
 * Fds at or above the soft RLIMIT_NOFILE are not the program's: valgrind
 * keeps its own there.
 */
static int fds_fn(void *arg, size_t len)
{
	char buf[4096];
	int dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int extra = 0, first = -1;
	struct rlimit lim;
	long n;

	if (dfd < 0 || getrlimit(RLIMIT_NOFILE, &lim) < 0)
		return 2;
	while ((n = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct linux_dirent64 *e = (void *)(buf + off);
			int fd = atoi(e->d_name);

			off += e->d_reclen;
			if (e->d_name[0] < '0' || e->d_name[0] > '9')
				continue;
			if (fd > 2 && fd != dfd && (rlim_t)fd < lim.rlim_cur) {
				extra++;
				if (first < 0)
					first = fd;
			}
		}
	}
	close(dfd);
	h_sh->val[0] = extra;
	h_sh->val2[0] = first;
	return n < 0 ? 2 : extra ? 1 : 0;
}

static void child_keeps_only_stdio(enum rp_start_method m)
{
	struct rp_process_opts o = { .target = fds_fn, .start_method = m };
	rp_process_t *p = h_new(&o);
	int pipefd[2], high, r, code = -1;

	/* Inheritable fds, low and high, that the child must not keep. */
	assert_int_equal(pipe(pipefd), 0);
	high = fcntl(pipefd[0], F_DUPFD, 200);
	assert_true(high >= 200);

	r = rp_process_start(p);
	if (r == 0)
		r = rp_process_join(p, H_GUARD_NS);
	close(pipefd[0]);
	close(pipefd[1]);
	close(high);
	assert_int_equal(r, 0);
	assert_int_equal(rp_process_exitcode(p, &code), 1);
	if (code != 0)
		fail_msg("child had %d fds above 2 open (first: %d)",
			 h_sh->val[0], h_sh->val2[0]);
	h_free(p);
}
BOTH(child_keeps_only_stdio)

/* ---- rp_cpu_count ---- */

static void cpu_count_is_affinity(void **state)
{
	cpu_set_t set;

	assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
	assert_true(rp_cpu_count() >= 1);
	assert_int_equal(rp_cpu_count(), CPU_COUNT(&set));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		T2(start_does_not_block),
		T2(join_timeout_leaves_child_running),
		T2(exitcode_of_normal_return),
		T2(exitcode_without_join),
		T2(terminate_gives_minus_15),
		T2(kill_gives_minus_9),
		T2(free_kills_running_child),
		T2(close_after_join_and_before_start),
		T2(active_children_lists_running),
		T2(given_name),
		T2(default_names),
		T2(pid_and_daemon),
		T2(arg_bytes_are_copied),
		T2(no_arg_is_null),
		T2(cpu_set_pins_child),
		T2(child_keeps_only_stdio),
		T(cpu_count_is_affinity),
	};

	return cmocka_run_group_tests_name("process_api", tests, h_group_setup,
					   h_group_teardown);
}
