/* SPDX-License-Identifier: MIT */
/*
 * Shared regions: an anonymous memfd, sized once and mapped MAP_SHARED.
 *
 * A region is shared with a child either by inheriting the mapping across
 * fork/clone, or by handing the fd over and mapping it there with
 * rp__shm_map().  With RP_SHM_SEAL the size is sealed (no grow, no shrink,
 * no further seals), so a peer holding the fd cannot truncate the file under
 * our mapping and turn our next access into SIGBUS.
 */
#ifndef RP_SHM_H
#define RP_SHM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Seal the size after creation (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL). */
#define RP_SHM_SEAL 0x1u

struct rp_shm {
	void *addr;	/* MAP_SHARED, page aligned, zero filled at creation */
	size_t size;	/* bytes mapped: the request rounded up to pages */
	int fd;		/* the memfd, O_CLOEXEC; -1 once closed */
};

/*
 * rp__shm_create - create a memfd named name (visible in /proc, may be NULL),
 * size it to size rounded up to whole pages and map it.
 * flags: 0 or RP_SHM_SEAL.
 * Returns 0, -EINVAL (size 0, unknown flag), -EOVERFLOW (rounding
 * overflows), or the -errno of memfd_create/ftruncate/fcntl/mmap.
 * ret_shm is written only on success; free it with rp__shm_destroy().
 */
int rp__shm_create(const char *name, size_t size, unsigned int flags,
		   struct rp_shm *ret_shm);

/*
 * rp__shm_map - map the whole of an existing memfd (for example one received
 * from the owner).  The fd is duplicated (O_CLOEXEC); the caller keeps its own.
 * Returns 0, -EINVAL (empty file), -errno of fstat/dup/mmap.
 */
int rp__shm_map(int fd, struct rp_shm *ret_shm);

/*
 * rp__shm_close_fd - close the fd but keep the mapping: for a process that
 * must not hold the fd any longer.  NULL-safe.
 */
void rp__shm_close_fd(struct rp_shm *shm);

/*
 * rp__shm_destroy - unmap and close.  NULL-safe; accepts a region whose addr
 * is NULL or whose fd is -1 (closed, or never opened).
 */
void rp__shm_destroy(struct rp_shm *shm);

#ifdef __cplusplus
}
#endif

#endif
