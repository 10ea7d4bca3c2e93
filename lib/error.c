/* SPDX-License-Identifier: MIT */
/*
 * Error names and descriptions, for negative errnos and the library's own
 * codes, both generated from tables so a new code cannot be half-added.
 */
#include <errno.h>
#include <string.h>

#include "ringpool.h"

struct rp_code_text {
	const char *name;
	const char *text;
};

static const struct rp_code_text rp_codes[] = {
#define RP_ERROR_TEXT_(name, text) { "RP_E" #name, text },
	RP_ERRORS(RP_ERROR_TEXT_)
#undef RP_ERROR_TEXT_
};

#define RP_NCODES ((int)(sizeof(rp_codes) / sizeof(rp_codes[0])))

/* The table entry for one of the library's codes, or NULL. */
static const struct rp_code_text *library_code(int code)
{
	/* 64-bit: -4096 - code overflows an int for codes near INT_MIN. */
	int64_t i = -4096 - (int64_t)code;

	if (code > -4096 || i >= RP_NCODES)
		return NULL;
	return &rp_codes[i];
}

RP_API const char *rp_strerror(int code)
{
	const struct rp_code_text *c = library_code(code);
	const char *s;

	if (c)
		return c->text;
	if (code == 0)
		return "success";
	if (code < 0 && code > -4096) {
		/* strerrordesc_np returns static text and is thread-safe. */
		s = strerrordesc_np(-code);
		if (s)
			return s;
	}
	return "unknown error code";
}

RP_API const char *rp_err_name(int code)
{
	const struct rp_code_text *c = library_code(code);
	const char *s;

	if (c)
		return c->name;
	if (code == 0)
		return "OK";
	if (code < 0 && code > -4096) {
		s = strerrorname_np(-code);
		if (s)
			return s;
	}
	return "UNKNOWN";
}
