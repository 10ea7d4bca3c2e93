/* SPDX-License-Identifier: MIT */
/*
 * rp_pool_stats: the pool's counters (struct rp__counters, kept where the
 * events happen, under the lock already held there) and each worker's
 * (its control block's counters, which only it writes).  Plain counters are
 * read under the lock that guards them, so reading is never a data race;
 * a worker's are read with relaxed loads and shown as they are.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"
#include "sys.h"

#define LOAD(p) atomic_load_explicit(&(p), memory_order_relaxed)

/* Resident bytes of pid, from the second field of /proc/PID/statm. */
static uint64_t rss_bytes(pid_t pid)
{
	char path[64], buf[128];
	unsigned long long size, resident;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return 0;
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* The busy time, counting a stretch still going on. */
static uint64_t busy_ns(const struct rp_worker_counters *c)
{
	uint64_t busy = LOAD(c->busy_ns), since = LOAD(c->busy_since);
	uint64_t now = (uint64_t)rp__now_ns();

	return since && since <= now ? busy + (now - since) : busy;
}

/* Under submit_lock: the worker's process does not change meanwhile. */
static void worker_stats(const struct rp__worker *w, struct rp_worker_stats *out)
{
	const struct rp_worker_counters *c = &w->ctl->counters;

	memset(out, 0, sizeof(*out));
	out->pid = w->pidfd >= 0 ? w->pid : 0;
	out->cpu = atomic_load_explicit(&w->cpu, memory_order_relaxed);
	out->outstanding = rp__worker_load(w);
	if (!out->pid)
		return;
	out->items = LOAD(c->items);
	out->chunks = LOAD(c->chunks);
	out->busy_ns = busy_ns(c);
	out->spins = LOAD(c->spins);
	out->sleeps = LOAD(c->sleeps);
	out->wakeups_sent = LOAD(c->wakeups);
	out->result_stalls = LOAD(c->stalls);
	out->rss_bytes = rss_bytes(w->pid);
}

RP_API int rp_pool_stats(rp_pool_t *pool, struct rp_pool_stats *ret,
			 struct rp_worker_stats *workers, size_t cap)
{
	struct rp_pool_stats s = { 0 };

	if (!pool || (cap && !workers))
		return -EINVAL;
	pthread_mutex_lock(&pool->submit_lock);
	s.tasks_submitted = pool->counters.tasks_submitted;
	s.chunks_sent = pool->counters.chunks_sent;
	s.pending_stalls = pool->counters.pending_stalls;
	for (unsigned i = 0; pool->workers && i < pool->nworkers; i++) {
		/* The task rings' producer side is ours under submit_lock. */
		s.wakeups_sent += pool->workers[i].tasks.wake.wakeups;
		if (i < cap)
			worker_stats(&pool->workers[i], &workers[i]);
	}
	/* The loop thread replaces the zygote under submit_lock. */
	s.zygote_pid = rp__zygote_pid(pool->zygote);
	pthread_mutex_lock(&pool->drain_lock);
	s.chunks_completed = pool->counters.chunks_completed;
	pthread_mutex_unlock(&pool->drain_lock);
	rp__submit_unlock(pool);
	s.chunks_failed = LOAD(pool->counters.chunks_failed);
	s.chunks_requeued = LOAD(pool->counters.chunks_requeued);
	s.respawns = LOAD(pool->counters.respawns);
	s.deadline_kills = LOAD(pool->counters.deadline_kills);
	s.worker_moves = LOAD(pool->counters.worker_moves);
	s.loop_wakeups = LOAD(pool->counters.loop_wakeups);
	s.zygote_restarts = LOAD(pool->counters.zygote_restarts);
	s.nworkers = pool->nworkers;
	if (ret)
		*ret = s;
	return (int)pool->nworkers;
}
