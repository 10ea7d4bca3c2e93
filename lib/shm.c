/* SPDX-License-Identifier: MIT */
#include "shm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int round_to_pages(size_t size, size_t *ret_size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (size == 0)
		return -EINVAL;
	if (size > SIZE_MAX - (page - 1))
		return -EOVERFLOW;
	*ret_size = (size + page - 1) & ~(page - 1);
	/* off_t is signed: ftruncate would refuse what does not fit. */
	if (*ret_size > (size_t)INT64_MAX)
		return -EOVERFLOW;
	return 0;
}

static int map_fd(int fd, size_t size, void **ret_addr)
{
	void *addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (addr == MAP_FAILED)
		return -errno;
	*ret_addr = addr;
	return 0;
}

int rp__shm_create(const char *name, size_t size, unsigned int flags,
		   struct rp_shm *ret_shm)
{
	const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	size_t bytes;
	void *addr = NULL;
	int fd, ret;

	if (flags & ~RP_SHM_SEAL)
		return -EINVAL;
	ret = round_to_pages(size, &bytes);
	if (ret < 0)
		return ret;

	fd = memfd_create(name ? name : "rp-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)bytes) < 0)
		goto fail_errno;
	if ((flags & RP_SHM_SEAL) && fcntl(fd, F_ADD_SEALS, seals) < 0)
		goto fail_errno;
	ret = map_fd(fd, bytes, &addr);
	if (ret < 0)
		goto fail;

	ret_shm->addr = addr;
	ret_shm->size = bytes;
	ret_shm->fd = fd;
	return 0;

fail_errno:
	ret = -errno;
fail:
	close(fd);
	return ret;
}

int rp__shm_map(int fd, struct rp_shm *ret_shm)
{
	struct stat st;
	void *addr = NULL;
	int own, ret;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size <= 0)
		return -EINVAL;
	own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0)
		return -errno;
	ret = map_fd(own, (size_t)st.st_size, &addr);
	if (ret < 0) {
		close(own);
		return ret;
	}
	ret_shm->addr = addr;
	ret_shm->size = (size_t)st.st_size;
	ret_shm->fd = own;
	return 0;
}

void rp__shm_close_fd(struct rp_shm *shm)
{
	if (!shm || shm->fd < 0)
		return;
	close(shm->fd);
	shm->fd = -1;
}

void rp__shm_destroy(struct rp_shm *shm)
{
	if (!shm)
		return;
	if (shm->addr)
		munmap(shm->addr, shm->size);
	shm->addr = NULL;
	shm->size = 0;
	rp__shm_close_fd(shm);
}
