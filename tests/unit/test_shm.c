/* SPDX-License-Identifier: MIT */
/* memfd-backed shared regions: sizes, seals, sharing, failure rules. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "leak.h"
#include "shm.h"

static void test_sizes(void **state)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct rp_shm shm, untouched = { (void *)0x1, 7, 42 };
	unsigned char *p;

	assert_int_equal(rp__shm_create("t", 1, 0, &shm), 0);
	assert_int_equal(shm.size, page);
	p = shm.addr;
	for (size_t i = 0; i < page; i++)
		assert_int_equal(p[i], 0);
	assert_true(fcntl(shm.fd, F_GETFD) & FD_CLOEXEC);
	rp__shm_destroy(&shm);
	assert_null(shm.addr);
	assert_int_equal(shm.fd, -1);

	assert_int_equal(rp__shm_create(NULL, page + 1, 0, &shm), 0);
	assert_int_equal(shm.size, 2 * page);
	rp__shm_destroy(&shm);

	/* Failures leave the output alone. */
	shm = untouched;
	assert_int_equal(rp__shm_create("t", 0, 0, &shm), -EINVAL);
	assert_int_equal(rp__shm_create("t", SIZE_MAX, 0, &shm), -EOVERFLOW);
	assert_int_equal(rp__shm_create("t", SIZE_MAX - page * 2, 0, &shm),
			 -EOVERFLOW);
	assert_int_equal(rp__shm_create("t", 64, 0x80, &shm), -EINVAL);
	assert_memory_equal(&shm, &untouched, sizeof(shm));
}

static void test_seal(void **state)
{
	struct rp_shm sealed, open;

	assert_int_equal(rp__shm_create("t", 4096, RP_SHM_SEAL, &sealed), 0);
	assert_int_equal(ftruncate(sealed.fd, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(sealed.fd, 1 << 20), -1);
	assert_int_equal(fcntl(sealed.fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	assert_int_equal(rp__shm_create("t", 4096, 0, &open), 0);
	assert_int_equal(ftruncate(open.fd, 8192), 0);
	rp__shm_destroy(&sealed);
	rp__shm_destroy(&open);
}

static void test_shared_with_child(void **state)
{
	struct rp_shm shm;
	int status;
	pid_t pid;

	assert_int_equal(rp__shm_create("t", 4096, RP_SHM_SEAL, &shm), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		memset(shm.addr, 0xab, shm.size);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(((unsigned char *)shm.addr)[4095], 0xab);
	rp__shm_destroy(&shm);
}

static void test_map_fd(void **state)
{
	struct rp_shm a, b, untouched = { NULL, 0, -1 };
	int empty;

	assert_int_equal(rp__shm_create("t", 8192, RP_SHM_SEAL, &a), 0);
	assert_int_equal(rp__shm_map(a.fd, &b), 0);
	assert_int_equal(b.size, a.size);
	assert_int_not_equal(b.fd, a.fd);
	assert_ptr_not_equal(b.addr, a.addr);
	((unsigned char *)a.addr)[100] = 77;
	assert_int_equal(((unsigned char *)b.addr)[100], 77);
	/* The second mapping does not need its fd once mapped. */
	rp__shm_close_fd(&b);
	assert_int_equal(b.fd, -1);
	((unsigned char *)b.addr)[8191] = 5;
	assert_int_equal(((unsigned char *)a.addr)[8191], 5);
	rp__shm_destroy(&b);
	rp__shm_destroy(&a);

	empty = memfd_create("empty", MFD_CLOEXEC);
	assert_true(empty >= 0);
	b = untouched;
	assert_int_equal(rp__shm_map(empty, &b), -EINVAL);
	assert_int_equal(rp__shm_map(-1, &b), -EBADF);
	assert_memory_equal(&b, &untouched, sizeof(b));
	close(empty);
}

static void test_destroy_tolerant(void **state)
{
	struct rp_shm half = { NULL, 0, -1 };

	rp__shm_destroy(NULL);
	rp__shm_destroy(&half);
	rp__shm_close_fd(NULL);
	rp__shm_close_fd(&half);
	assert_int_equal(half.fd, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sizes, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_seal, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_shared_with_child, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_map_fd, leak_setup, leak_teardown),
		cmocka_unit_test_setup_teardown(test_destroy_tolerant, leak_setup, leak_teardown),
	};

	return cmocka_run_group_tests_name("shm", tests, NULL, NULL);
}
