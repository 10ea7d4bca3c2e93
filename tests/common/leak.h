/* SPDX-License-Identifier: MIT */
/*
 * Leak checks for test teardowns: a snapshot of this process's open fds,
 * live children (zombies included) and shared mappings, compared after the
 * test.  A group's setup takes the snapshot; its teardown asserts nothing
 * grew.
 */
#ifndef RP_TEST_LEAK_H
#define RP_TEST_LEAK_H

#include <stddef.h>

struct leak_snapshot {
	int fds;       /* entries in /proc/self/fd */
	int children;  /* children of any thread, from /proc/self/task/x/children */
	int shared_maps; /* lines of /proc/self/maps for memfd or shared anon */
};

void leak_snapshot_take(struct leak_snapshot *snap);

/* cmocka-asserts that fds, children and shared mappings are back to *before. */
void leak_assert_none(const struct leak_snapshot *before);

/*
 * cmocka setup/teardown pair doing the two above; use them per test
 * (cmocka_unit_test_setup_teardown) so a leak fails that test.
 */
int leak_setup(void **state);
int leak_teardown(void **state);

#endif
