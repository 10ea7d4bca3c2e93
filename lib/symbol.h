/* SPDX-License-Identifier: MIT */
/*
 * Naming a code address of this process for a crash report: the function,
 * the offset into it, and the source line or the module.  Only the owner
 * calls it, when it describes a crash; never on a task's path.
 */
#ifndef RP_SYMBOL_H
#define RP_SYMBOL_H

#include <stdint.h>

#include "ringpool.h"

struct rp__symbol {
	char name[128];                   /* the function (symbol), cut to
					   * leave room in a message */
	uint64_t offset;                  /* pc - the symbol's start */
	char where[RP_ERROR_MESSAGE_MAX]; /* "FILE:LINE" with debug info,
					   * else the module's path */
};

/*
 * Fills *ret_sym for pc, an address in this process (a worker's crash
 * address is one: the worker is a clone of the owner's image).  With libdw
 * (RP_HAVE_LIBDW) from the symbol table (.symtab, else .dynsym) and the
 * line table; else, or where libdw finds no symbol, from dladdr, which
 * knows only the dynamic symbol table.  Returns 0, or -ENOENT where
 * nothing names pc (*ret_sym untouched).  Thread-safe.
 */
int rp__symbol_lookup(uint64_t pc, struct rp__symbol *ret_sym);

#endif
