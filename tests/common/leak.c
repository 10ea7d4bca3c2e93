/* SPDX-License-Identifier: MIT */
#include "leak.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static int count_dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	/* opendir's own fd is in the listing of /proc/self/fd. */
	return n;
}

static int count_children(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300];
		FILE *f;
		int pid;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children",
			 e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fscanf(f, "%d", &pid) == 1)
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

static int count_shared_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char perms[8] = "";

		if (sscanf(line, "%*s %7s", perms) != 1)
			continue;
		/* A shared mapping has 's' as the fourth permission letter. */
		if (perms[3] == 's')
			n++;
	}
	fclose(f);
	return n;
}

void leak_snapshot_take(struct leak_snapshot *snap)
{
	snap->fds = count_dir_entries("/proc/self/fd");
	snap->children = count_children();
	snap->shared_maps = count_shared_maps();
}

void leak_assert_none(const struct leak_snapshot *before)
{
	struct leak_snapshot now;

	leak_snapshot_take(&now);
	if (now.fds != before->fds || now.children != before->children ||
	    now.shared_maps != before->shared_maps)
		print_error("leak: fds %d -> %d, children %d -> %d, "
			    "shared maps %d -> %d\n",
			    before->fds, now.fds, before->children,
			    now.children, before->shared_maps,
			    now.shared_maps);
	assert_int_equal(now.fds, before->fds);
	assert_int_equal(now.children, before->children);
	assert_int_equal(now.shared_maps, before->shared_maps);
}

int leak_setup(void **state)
{
	struct leak_snapshot *snap = malloc(sizeof(*snap));

	if (!snap)
		return -1;
	leak_snapshot_take(snap);
	*state = snap;
	return 0;
}

int leak_teardown(void **state)
{
	struct leak_snapshot *snap = *state;

	leak_assert_none(snap);
	free(snap);
	return 0;
}
