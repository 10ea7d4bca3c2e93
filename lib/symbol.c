/* SPDX-License-Identifier: MIT */
/*
 * Names for code addresses, for crash reports.  dladdr() reads only the
 * dynamic symbol table, which in an executable linked without -rdynamic
 * lists none of its own functions, and no static function anywhere; so
 * where libdw is there, its libdwfl reads the symbol table (.symtab) and
 * the DWARF line table of each module mapped in this process.
 *
 * Cost: one Dwfl session per process, built on the first lookup (the
 * first crash described), never at pool creation.  It is kept for the
 * process's life and never freed, with the symbol and line tables it
 * loaded (once per module), so that the next crash costs a lookup.  A
 * library dlopen'ed after the session was built is not in it: an address
 * in no module refreshes the session (the process's maps reported again)
 * once and is looked up again.
 */
#include "symbol.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rp_config.h"

#if RP_HAVE_LIBDW
#include <elfutils/libdwfl.h>
#include <libelf.h>
#include <pthread.h>
#include <unistd.h>

/* What follows the last '/': the message has room for a file's name, not
 * for the build's directories. */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* libdwfl keeps no lock of its own: every use of the session under this
 * one (several pools' loop threads may describe crashes at once).  A
 * leaf: nothing else is locked while it is held. */
static pthread_mutex_t session_lock = PTHREAD_MUTEX_INITIALIZER;
/* Kept for the process's life (see the top of this file); never freed. */
static Dwfl *session;

/*
 * libdwfl keeps the fd of each file it opens for as long as the module
 * is reported, and opens it without O_CLOEXEC.  A session kept for the
 * process's life would hold one fd per module read, for a fork+exec to
 * leak and a caller's fd count to see.  So the file is read into an Elf
 * of its own (mapped privately, like the loader's mapping) and its fd
 * closed at once: libdwfl works from the Elf alone.
 */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name,
		    Dwarf_Addr base, char **file_name, Elf **elfp)
{
	int fd = dwfl_linux_proc_find_elf(mod, userdata, name, base,
					  file_name, elfp);
	Elf *elf;

	if (fd < 0 || *elfp)
		return fd;
	elf = elf_begin(fd, ELF_C_READ_MMAP_PRIVATE, NULL);
	/* FDREAD reads what is not mapped and lets go of the fd. */
	if (!elf || elf_cntl(elf, ELF_C_FDREAD) != 0) {
		elf_end(elf);
		return fd; /* libdwfl opens it its own way */
	}
	close(fd);
	*elfp = elf;
	return -1;
}

/*
 * Each module's own file only, no separate debug file: the standard
 * search ends in a debuginfo server query when DEBUGINFOD_URLS is set (a
 * download inside a pool's loop thread), and libdwfl keeps the fd of a
 * debug file it opens (see find_elf).  Without .symtab, names come from
 * .dynsym, as dladdr's would.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata,
			  const char *modname, Dwarf_Addr base,
			  const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	return -1;
}

static const Dwfl_Callbacks session_callbacks = {
	.find_elf = find_elf,
	.find_debuginfo = find_debuginfo,
};

/* (Re)reads this process's mappings into d: 0, or non-zero. */
static int session_report(Dwfl *d)
{
	int rc;

	dwfl_report_begin(d);
	rc = dwfl_linux_proc_report(d, getpid());
	if (dwfl_report_end(d, NULL, NULL) != 0)
		rc = -1;
	return rc;
}

/*
 * The session's module that holds pc, or NULL.  dwfl_addrmodule alone is
 * not enough: libdwfl 0.188 answers for an address past the end of a
 * module too (a library dlopen'ed after the session was built, mapped
 * above libc, came back as libc).
 */
static Dwfl_Module *module_at(Dwarf_Addr pc)
{
	Dwfl_Module *mod = dwfl_addrmodule(session, pc);
	Dwarf_Addr start, end;

	if (mod && dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL,
				    NULL) && pc >= start && pc < end)
		return mod;
	return NULL;
}

/* The module mapped at pc, building or refreshing the session as needed. */
static Dwfl_Module *session_module(Dwarf_Addr pc)
{
	Dwfl_Module *mod;

	if (!session) {
		session = dwfl_begin(&session_callbacks);
		if (session && session_report(session) != 0) {
			dwfl_end(session);
			session = NULL;
		}
		return session ? module_at(pc) : NULL;
	}
	mod = module_at(pc);
	if (mod || session_report(session) != 0)
		return mod;
	return module_at(pc);
}

static int module_lookup(Dwfl_Module *mod, Dwarf_Addr pc,
			 struct rp__symbol *sym)
{
	GElf_Off offset;
	GElf_Sym elf_sym;
	const char *name, *file = NULL;
	Dwfl_Line *line;
	int lineno = 0;

	name = dwfl_module_addrinfo(mod, pc, &offset, &elf_sym, NULL, NULL,
				    NULL);
	if (!name)
		return -ENOENT;
	snprintf(sym->name, sizeof(sym->name), "%s", name);
	sym->offset = offset;
	/* pc is the faulting instruction itself, not a return address:
	 * its own line, no adjustment. */
	line = dwfl_module_getsrc(mod, pc);
	if (line)
		file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
	if (file && lineno > 0) {
		snprintf(sym->where, sizeof(sym->where), "%s:%d",
			 base_name(file), lineno);
	} else {
		name = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL,
					NULL, NULL);
		snprintf(sym->where, sizeof(sym->where), "%s",
			 name ? name : "?");
	}
	return 0;
}

static int dwfl_lookup(uint64_t pc, struct rp__symbol *sym)
{
	Dwfl_Module *mod;
	int rc = -ENOENT;

	pthread_mutex_lock(&session_lock);
	mod = session_module((Dwarf_Addr)pc);
	if (mod)
		rc = module_lookup(mod, (Dwarf_Addr)pc, sym);
	pthread_mutex_unlock(&session_lock);
	return rc;
}
#endif

/* dladdr only looks the number up: harmless whatever it is. */
static int dladdr_lookup(uint64_t pc, struct rp__symbol *sym)
{
	Dl_info info;

	if (!dladdr((void *)(uintptr_t)pc, &info) || !info.dli_sname)
		return -ENOENT;
	snprintf(sym->name, sizeof(sym->name), "%s", info.dli_sname);
	sym->offset = pc - (uint64_t)(uintptr_t)info.dli_saddr;
	snprintf(sym->where, sizeof(sym->where), "%s",
		 info.dli_fname ? info.dli_fname : "?");
	return 0;
}

int rp__symbol_lookup(uint64_t pc, struct rp__symbol *ret_sym)
{
	struct rp__symbol sym;

#if RP_HAVE_LIBDW
	/* Where libdw names nothing (say /proc is not mounted), dladdr may
	 * still name an exported function. */
	if (dwfl_lookup(pc, &sym) == 0) {
		*ret_sym = sym;
		return 0;
	}
#endif
	if (dladdr_lookup(pc, &sym) != 0)
		return -ENOENT;
	*ret_sym = sym;
	return 0;
}
