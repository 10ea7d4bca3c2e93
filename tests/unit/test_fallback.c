/* SPDX-License-Identifier: MIT */
/*
 * RP_FALLBACK (lib/fallback.h): which spellings force which fallback, and
 * that the modules then take it.  meson runs this program once per
 * spelling, with RP_TEST_WANT naming the fallbacks that spelling must
 * force (lib/fallback.h's names, comma-separated; empty: none).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fallback.h"
#include "leak.h"
#include "ring.h"
#include "sys.h"

static const struct {
	enum rp__fallback f;
	const char *name;
} all[] = {
	{ RP_FALLBACK_CLONE3, "clone3" },
	{ RP_FALLBACK_URING_FUTEX, "uring_futex" },
	{ RP_FALLBACK_PIDFD_EXIT, "pidfd_exit" },
	{ RP_FALLBACK_MEMBARRIER, "membarrier" },
};

/* Whether RP_TEST_WANT names name as a whole word. */
static bool wanted(const char *name)
{
	const char *want = getenv("RP_TEST_WANT");
	size_t len = strlen(name);

	assert_non_null(want);
	for (const char *p = want; (p = strstr(p, name)); p += len)
		if ((p == want || p[-1] == ',') && (p[len] == ',' || !p[len]))
			return true;
	return false;
}

static void forced_as_spelled(void **state)
{
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (rp__fallback_forced(all[i].f) != wanted(all[i].name))
			fail_msg("%s: forced %d, want %d", all[i].name,
				 rp__fallback_forced(all[i].f),
				 wanted(all[i].name));
	assert_false(rp__fallback_forced(RP_FALLBACK_COUNT_));
}

/* The clone path follows, and still makes children with pidfds. */
static void clone_follows(void **state)
{
	int pidfd = -1, code = 0;
	pid_t pid = rp__sys_clone(0, 0, &pidfd);

	if (pid == 0)
		_exit(5);
	assert_true(pid > 0);
	assert_int_equal(rp__sys_clone_is_fallback(), wanted("clone3"));
	assert_int_equal(rp__sys_wait_readable(pidfd, -1), 1);
	assert_int_equal(rp__sys_pidfd_reap(pidfd, &code), 1);
	assert_int_equal(code, 5);
	close(pidfd);
}

/* A waker relies on membarrier only where its fallback is not forced. */
static void membarrier_follows(void **state)
{
	struct rp_wake_word mine = { 0 }, peer = { 0 };
	struct rp_wake w;

	rp__wake_init(&w, &mine, &peer);
	if (wanted("membarrier"))
		assert_false(w.asym);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(forced_as_spelled, leak_setup,
						leak_teardown),
		cmocka_unit_test_setup_teardown(clone_follows, leak_setup,
						leak_teardown),
		cmocka_unit_test_setup_teardown(membarrier_follows, leak_setup,
						leak_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
