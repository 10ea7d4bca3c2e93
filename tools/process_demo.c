/* SPDX-License-Identifier: MIT */
/*
 * rp-process-demo: seed 000's first example in C.  Two named processes add
 * numbers; each returns its sum modulo 256 as its exit code, which the
 * parent reads back after join.  Run with "fork" to use RP_START_FORK.
 */
#include <stdio.h>
#include <string.h>

#include "ringpool.h"

struct range {
	int from, to;
};

static int add_range(void *arg, size_t len)
{
	const struct range *r = arg;
	int sum = 0;

	for (int i = r->from; i <= r->to; i++)
		sum += i;
	printf("%s: sum of %d..%d = %d\n", rp_current_process_name(), r->from,
	       r->to, sum);
	return sum & 0xff;
}

int main(int argc, char **argv)
{
	enum rp_start_method method = RP_START_FORKSERVER;
	struct range ranges[2] = { { 1, 10 }, { 11, 20 } };
	const char *names[2] = { "Addition1", "Addition2" };
	rp_process_t *procs[2] = { NULL, NULL };
	int err = 0;

	if (argc > 1 && strcmp(argv[1], "fork") == 0)
		method = RP_START_FORK;
	printf("%s: %d CPUs usable, start method %s\n",
	       rp_current_process_name(), rp_cpu_count(),
	       method == RP_START_FORK ? "fork" : "forkserver");
	for (int i = 0; i < 2 && err == 0; i++) {
		struct rp_process_opts o = {
			.target = add_range,
			.arg = &ranges[i],
			.arg_len = sizeof(ranges[i]),
			.name = names[i],
			.start_method = method,
		};

		err = rp_process_create(&o, &procs[i]);
		if (err == 0)
			err = rp_process_start(procs[i]);
	}
	for (int i = 0; i < 2 && procs[i]; i++) {
		int code = -1;

		if (rp_process_join(procs[i], RP_FOREVER) == 0 &&
		    rp_process_exitcode(procs[i], &code) == 1)
			printf("%s (pid %d) exited with %d\n",
			       rp_process_name(procs[i]),
			       (int)rp_process_pid(procs[i]), code);
		rp_process_free(procs[i]);
	}
	if (err < 0) {
		fprintf(stderr, "rp-process-demo: %s\n", rp_strerror(err));
		return 1;
	}
	return 0;
}
