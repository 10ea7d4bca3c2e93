/* SPDX-License-Identifier: MIT */
/*
 * The worker process: its start-up arguments and its main function.
 */
#ifndef RP_WORKER_H
#define RP_WORKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Where one worker's region is mapped (the same address in every process
 * cloned from the owner or its zygote). */
struct rp_region_ref {
	uint64_t addr;
	uint64_t size;
};

/*
 * The payload of a worker child: this header, then nworkers region refs
 * (the worker keeps its own and unmaps the others), then initarg_len bytes.
 */
struct rp_worker_args {
	uint64_t ring_capacity;
	uint64_t max_tasks;       /* 0: no limit */
	uint64_t init_fn;         /* rp_init_fn or 0 */
	uint64_t initarg_len;
	uint32_t index;
	uint32_t nworkers;
	uint32_t wait_policy;     /* enum rp_wake_policy */
	uint32_t wake_efd;        /* 1: wake the owner through the eventfd
				   * passed to the child (rp__spawn_passed_fd)
				   * as well as its futex */
};

/* rp__worker_main - a worker's whole life (an rp__child_main_fn). */
int rp__worker_main(void *payload, size_t len);

#endif
