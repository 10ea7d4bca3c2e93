/* SPDX-License-Identifier: MIT */
/*
 * The ABI's shape: the version the header says is the library's (and the
 * project's, as meson builds it), the SONAME follows its major number, and
 * the shared library exports exactly the header's calls, each under the
 * version node lib/ringpool.map names, and none of its internal rp__
 * functions.  The program links the shared library (ringpool_dep).
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "harness.h"
#include "ringpool.h"

#define MAX_API 128
#define NODE "RINGPOOL_0.1"

static void version_agrees(void **state)
{
	char text[32];

	assert_int_equal(rp_version(), RP_VERSION_HEX);
	snprintf(text, sizeof(text), "%d.%d.%d", RP_VERSION_MAJOR,
		 RP_VERSION_MINOR, RP_VERSION_PATCH);
	/* meson's project version, passed in by tests/api/meson.build */
	assert_string_equal(text, RP_PROJECT_VERSION);
}

/* The shared library this program runs with, and a handle on it. */
static void *the_library(Dl_info *info)
{
	void *lib;

	assert_true(dladdr((void *)rp_version, info) != 0);
	lib = dlopen(info->dli_fname, RTLD_LAZY | RTLD_NOLOAD);
	assert_non_null(lib);
	return lib;
}

static void soname_follows_major(void **state)
{
	char suffix[32];
	Dl_info info;
	void *lib = the_library(&info);

	snprintf(suffix, sizeof(suffix), ".so.%d", RP_VERSION_MAJOR);
	if (!strstr(info.dli_fname, suffix))
		fail_msg("running with %s, not a %s", info.dli_fname, suffix);
	dlclose(lib);
}

static void exports_the_header(void **state)
{
	static char names[MAX_API][64];
	size_t n = h_header_functions(RP_PUBLIC_HEADER, names, MAX_API);
	Dl_info info;
	void *lib = the_library(&info);
	int missing = 0;

	assert_true(n > 40);
	for (size_t i = 0; i < n; i++) {
		if (dlvsym(lib, names[i], NODE))
			continue;
		print_error("%s is not exported under %s\n", names[i], NODE);
		missing++;
	}
	assert_int_equal(missing, 0);
	dlclose(lib);
}

static void hides_internals(void **state)
{
	static const char *const internals[] = {
		"rp__zygote_start", "rp__sys_clone", "rp__fallback_forced",
		"rp__worker_main", "rp__ring_consumer_open", "rp__error_set",
	};
	Dl_info info;
	void *lib = the_library(&info);

	for (size_t i = 0; i < sizeof(internals) / sizeof(internals[0]); i++)
		if (dlsym(lib, internals[i]))
			fail_msg("%s is exported", internals[i]);
	dlclose(lib);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(version_agrees),
		cmocka_unit_test(soname_follows_major),
		cmocka_unit_test(exports_the_header),
		cmocka_unit_test(hides_internals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
