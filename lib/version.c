/* SPDX-License-Identifier: MIT */
#include "ringpool.h"
#include "rp_config.h"

/* The header's version is the one compiled in: the library answers for
 * the header it was built with. */
RP_API unsigned rp_version(void)
{
	return RP_VERSION_HEX;
}
