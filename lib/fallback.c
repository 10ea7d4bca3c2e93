/* SPDX-License-Identifier: MIT */
#include "fallback.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[RP_FALLBACK_COUNT_] = {
	[RP_FALLBACK_CLONE3] = "clone3",
	[RP_FALLBACK_URING_FUTEX] = "uring_futex",
	[RP_FALLBACK_PIDFD_EXIT] = "pidfd_exit",
	[RP_FALLBACK_MEMBARRIER] = "membarrier",
};

/* Written once under pthread_once; read-only after. */
static bool forced[RP_FALLBACK_COUNT_];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* "0", "" and unset leave a switch off; anything else turns it on. */
static bool switch_on(const char *var)
{
	const char *v = getenv(var);

	return v && *v && strcmp(v, "0") != 0;
}

/* Is name one of the comma-separated words of list? */
static bool listed(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; *p; ) {
		size_t word = strcspn(p, ",");

		if ((word == len && strncmp(p, name, len) == 0) ||
		    (word == 3 && strncmp(p, "all", 3) == 0))
			return true;
		p += word;
		if (*p == ',')
			p++;
	}
	return false;
}

static void read_environment(void)
{
	const char *list = getenv("RP_FALLBACK");

	for (int i = 0; i < RP_FALLBACK_COUNT_; i++)
		forced[i] = list && listed(list, names[i]);
	forced[RP_FALLBACK_CLONE3] |= switch_on("RP_NO_CLONE3");
	forced[RP_FALLBACK_MEMBARRIER] |= switch_on("RP_WAKE_SYMMETRIC");
}

bool rp__fallback_forced(enum rp__fallback f)
{
	pthread_once(&once, read_environment);
	return (unsigned)f < RP_FALLBACK_COUNT_ && forced[f];
}
