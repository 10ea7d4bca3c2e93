/* SPDX-License-Identifier: MIT */
#include "harness.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <linux/futex.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "leak.h"

struct h_shared *h_sh;

const enum rp_start_method h_methods[2] = {
	RP_START_FORKSERVER,
	RP_START_FORK,
};

const char *h_method_name(enum rp_start_method m)
{
	switch (m) {
	case RP_START_DEFAULT: return "default";
	case RP_START_FORKSERVER: return "forkserver";
	case RP_START_FORK: return "fork";
	}
	return "?";
}

/* ---- futex words ---- */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Wait until *word is non-zero, at most guard_s seconds.  Shared (not
 * PRIVATE) futex ops: the waker is another process.  Returns 0 or -1.
 */
static int word_wait(uint32_t *word, int guard_s)
{
	int64_t deadline = now_ns() + (int64_t)guard_s * 1000000000;

	/* acquire: pairs with the release store in word_raise() */
	while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == 0) {
		int64_t left = deadline - now_ns();
		struct timespec ts;

		if (left <= 0)
			return -1;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		syscall(SYS_futex, word, FUTEX_WAIT, 0, &ts, NULL, 0);
	}
	return 0;
}

static void word_raise(uint32_t *word)
{
	/* release: pairs with the acquire load in word_wait() */
	__atomic_store_n(word, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* ---- child side ---- */

void h_child_ready(int slot)
{
	const char *name = rp_current_process_name();

	h_sh->pid[slot] = getpid();
	h_sh->ppid[slot] = getppid();
	if (name) {
		strncpy(h_sh->text[slot], name, H_TEXT - 1);
		h_sh->text[slot][H_TEXT - 1] = '\0';
	}
	word_raise(&h_sh->ready[slot]);
}

int h_child_wait_gate(int slot, int guard_s)
{
	return word_wait(&h_sh->gate[slot], guard_s);
}

int h_child_wait_ready(int slot, int guard_s)
{
	return word_wait(&h_sh->ready[slot], guard_s);
}

int h_child_block(int slot)
{
	h_child_ready(slot);
	if (h_child_wait_gate(slot, H_GUARD_S) < 0) {
		__atomic_store_n(&h_sh->guard[slot], 1, __ATOMIC_RELEASE);
		return -1;
	}
	__atomic_store_n(&h_sh->done[slot], 1, __ATOMIC_RELEASE);
	return 0;
}

int h_block_fn(void *arg, size_t len)
{
	struct h_block_arg a;

	if (!arg || len != sizeof(a))
		return 98;
	memcpy(&a, arg, sizeof(a));
	if (h_child_block(a.slot) < 0)
		return H_EXIT_GUARD;
	return a.code;
}

/* ---- test side ---- */

void h_wait_ready(int slot)
{
	if (word_wait(&h_sh->ready[slot], H_GUARD_S) < 0)
		fail_msg("child in slot %d never reported ready", slot);
}

void h_open_gate(int slot)
{
	word_raise(&h_sh->gate[slot]);
}

#define H_TRACK 64
static rp_process_t *tracked[H_TRACK];

static void track(rp_process_t *p)
{
	for (int i = 0; i < H_TRACK; i++) {
		if (!tracked[i]) {
			tracked[i] = p;
			return;
		}
	}
	fail_msg("harness: too many live processes");
}

void h_untrack(rp_process_t *p)
{
	for (int i = 0; i < H_TRACK; i++)
		if (tracked[i] == p)
			tracked[i] = NULL;
}

rp_process_t *h_track(rp_process_t *p)
{
	assert_non_null(p);
	track(p);
	return p;
}

rp_process_t *h_new(const struct rp_process_opts *opts)
{
	rp_process_t *p = NULL;

	assert_int_equal(rp_process_create(opts, &p), 0);
	assert_non_null(p);
	track(p);
	return p;
}

rp_process_t *h_new_blocker(enum rp_start_method m, int slot, int code,
			    const char *name, bool daemon)
{
	struct h_block_arg a = { .slot = slot, .code = code };
	struct rp_process_opts o = {
		.target = h_block_fn,
		.arg = &a,
		.arg_len = sizeof(a),
		.name = name,
		.daemon = daemon,
		.start_method = m,
	};

	return h_new(&o);
}

void h_free(rp_process_t *p)
{
	h_untrack(p);
	rp_process_free(p);
}

int h_join_code(rp_process_t *p)
{
	int code = INT_MIN;

	assert_int_equal(rp_process_join(p, H_GUARD_NS), 0);
	assert_int_equal(rp_process_exitcode(p, &code), 1);
	return code;
}

/* __WALL: a child may have been made with no exit signal at all. */
void h_child_wait_end(pid_t pid)
{
	siginfo_t si;
	int r;

	do
		r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT | __WALL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		fail_msg("waitid(%d): %s", (int)pid, strerror(errno));
}

bool h_child_reaped(pid_t pid)
{
	siginfo_t si;

	return waitid(P_PID, (id_t)pid, &si,
		      WEXITED | WNOHANG | WNOWAIT | __WALL) < 0 &&
	       errno == ECHILD;
}

static int pidfds[H_TRACK];
static int npidfds;

int h_pidfd(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd < 0 && errno == ENOSYS) {
		print_message("pidfd_open is missing here (valgrind?): cannot "
			      "watch a process that is not our child\n");
		skip();
	}
	if (fd < 0)
		fail_msg("pidfd_open(%d): %s", (int)pid, strerror(errno));
	if (npidfds == H_TRACK)
		fail_msg("harness: too many pidfds");
	pidfds[npidfds++] = fd;
	return fd;
}

void h_pidfd_close(int pidfd)
{
	for (int i = 0; i < npidfds; i++) {
		if (pidfds[i] == pidfd) {
			pidfds[i] = pidfds[--npidfds];
			break;
		}
	}
	close(pidfd);
}

void h_pidfd_wait(int pidfd)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int r;

	do
		r = poll(&pfd, 1, H_GUARD_S * 1000);
	while (r < 0 && errno == EINTR);
	if (r != 1)
		fail_msg("process did not end within the %d s guard",
			 H_GUARD_S);
}

size_t h_header_functions(const char *path, char names[][64], size_t cap)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *open = strchr(line, '('), *name;

		if (strncmp(line, "RP_API ", 7) != 0 || !open)
			continue;
		name = open;
		while (name > line && (name[-1] == '_' ||
				       isalnum((unsigned char)name[-1])))
			name--;
		assert_true(n < cap && open - name < 64);
		memcpy(names[n], name, (size_t)(open - name));
		names[n][open - name] = '\0';
		n++;
	}
	fclose(f);
	return n;
}

/* Whether /proc/<pid>/comm reads comm. */
static bool comm_is(pid_t pid, const char *comm)
{
	char path[64], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return strcmp(buf, comm) == 0;
}

pid_t h_find_child(const char *comm)
{
	DIR *tasks = opendir("/proc/self/task");
	struct dirent *t;
	pid_t found = 0;

	assert_non_null(tasks);
	while ((t = readdir(tasks))) {
		char path[300];
		FILE *f;
		int pid;

		if (t->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children",
			 t->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fscanf(f, "%d", &pid) == 1) {
			if (!comm_is(pid, comm))
				continue;
			if (found && found != pid)
				fail_msg("two children named %s: %d and %d",
					 comm, (int)found, pid);
			found = pid;
		}
		fclose(f);
	}
	closedir(tasks);
	return found;
}

void h_join_thread_gone(pthread_t t, const pid_t *tid)
{
	int64_t end = now_ns() + H_GUARD_NS;
	char path[64];

	assert_int_equal(pthread_join(t, NULL), 0);
	snprintf(path, sizeof(path), "/proc/self/task/%d", (int)*tid);
	while (access(path, F_OK) == 0) {
		if (now_ns() > end)
			fail_msg("thread %d still in /proc/self/task after %d s",
				 (int)*tid, H_GUARD_S);
		sched_yield();
	}
}

/* ---- fixtures ---- */

static int trivial_fn(void *arg, size_t len)
{
	return 0;
}

static int warm_up(enum rp_start_method m)
{
	struct rp_process_opts o = { .target = trivial_fn, .start_method = m };
	rp_process_t *p = NULL;
	int code = -1;

	if (rp_process_create(&o, &p) < 0)
		return -1;
	if (rp_process_start(p) < 0 || rp_process_join(p, H_GUARD_NS) < 0 ||
	    rp_process_exitcode(p, &code) != 1 || code != 0) {
		rp_process_free(p);
		return -1;
	}
	rp_process_free(p);
	return 0;
}

int h_group_setup(void **state)
{
	void *page = mmap(NULL, sizeof(struct h_shared), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (page == MAP_FAILED)
		return -1;
	h_sh = page;
	/*
	 * Flush stdio before any child exists: a FORK child that calls exit()
	 * would otherwise write our buffered TAP lines a second time.
	 */
	fflush(NULL);
	/*
	 * The forkserver zygote (a long-lived child holding one fd) and any
	 * lazily built process-global state are made here, after the page is
	 * mapped and before the per-test leak snapshots.
	 */
	if (warm_up(RP_START_FORKSERVER) < 0 || warm_up(RP_START_FORK) < 0) {
		print_error("warm-up of the start methods failed\n");
		return -1;
	}
	return 0;
}

int h_group_teardown(void **state)
{
	/* The page stays mapped: the zygote (and its snapshot) outlive us. */
	return 0;
}

int h_setup(void **state)
{
	memset(h_sh, 0, sizeof(*h_sh));
	fflush(NULL);
	return leak_setup(state);
}

int h_teardown(void **state)
{
	for (int i = 0; i < H_SLOTS; i++)
		h_open_gate(i);
	for (int i = 0; i < H_TRACK; i++) {
		if (tracked[i]) {
			rp_process_free(tracked[i]);
			tracked[i] = NULL;
		}
	}
	while (npidfds > 0)
		close(pidfds[--npidfds]);
	return leak_teardown(state);
}
